"""Independent RFC 6455 server (the `websockets` package) for polyarb-feeds client tests.

Listens on 127.0.0.1 at an OS-chosen port, prints "PORT <n>" once ready, and serves until its
stdin closes (the Rust test holds the other end). One behaviour per request path (its first
segment; the rest only tells connections apart for /received-close):

  /echo         echo every message back with its type
  /fragmented   send a text message in 3 fragments and a binary one in 5, then echo
  /interleaved  send the text message "fragments between controls" as a text fragment, a ping
                b"between fragments", a continuation, an unsolicited pong, and a final
                continuation; wait up to 5 s for the matching pong, send "pong ok" (or "no pong"),
                then echo
  /ping         ping with payload b"are you there", wait up to 5 s for the matching pong,
                send "pong ok" (or "no pong"), then echo
  /large        send binary messages of 70_000 and 5_000_000 bytes (byte i = i % 251), then echo
  /close/<n>    send "bye soon", then close with status <n> reason "going away"
  /violation/<name>
                send "before", then raw bytes that break RFC 6455 (VIOLATIONS), then wait for the
                client to close
  /received-close/<path>
                send the close frame the server received on the last connection to /<path>, as
                "<code> <reason>" or "<code>" ("none" if the connection ended without one, "timeout" if there
                was no such connection or it is still open after 5 s)
"""

import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

# Written on the transport behind the library's back, so it cannot refuse them.
VIOLATIONS = {
    # A text frame "hi" with RSV1 set: no extension was negotiated.
    "rsv1": b"\xc1\x02hi",
    # A close frame whose payload is 1 byte: a code needs 2.
    "close-1-byte": b"\x88\x01\x03",
    # A close frame with status 1005, which no endpoint may send.
    "close-1005": b"\x88\x02\x03\xed",
}

# The last connection per request path, for /received-close.
connections = {}


def pattern(n: int) -> bytes:
    return (bytes(range(251)) * (n // 251 + 1))[:n]


async def echo(ws) -> None:
    async for msg in ws:
        await ws.send(msg)


async def send_fragment(ws, send, data: bytes, fin: bool) -> None:
    """One data frame through the library's sans-IO protocol, which can leave a message open."""
    async with ws.send_context():
        send(data, fin=fin)


async def received_close(path: str) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while loop.time() < deadline:
        conn = connections.get(path)
        if conn is not None:
            rcvd = conn.protocol.close_rcvd
            if rcvd is not None:
                return f"{rcvd.code} {rcvd.reason}".rstrip()
            if conn.protocol.state is State.CLOSED:
                return "none"
        await asyncio.sleep(0.01)
    return "timeout"


async def handler(ws) -> None:
    path = ws.request.path
    connections[path] = ws
    try:
        await route(ws, path)
    except ConnectionClosed:
        pass


async def route(ws, path: str) -> None:
    first, _, rest = path[1:].partition("/")
    if first == "received-close":
        await ws.send(await received_close("/" + rest))
    elif first == "fragmented":
        await ws.send(["frag", "mented ", "text"])
        await ws.send([bytes([i]) * 1000 for i in range(5)])
    elif first == "interleaved":
        await send_fragment(ws, ws.protocol.send_text, b"fragments ", fin=False)
        waiter = await ws.ping(b"between fragments")
        await send_fragment(ws, ws.protocol.send_continuation, b"between ", fin=False)
        await ws.pong(b"unsolicited")
        await send_fragment(ws, ws.protocol.send_continuation, b"controls", fin=True)
        try:
            await asyncio.wait_for(waiter, 5)
            await ws.send("pong ok")
        except asyncio.TimeoutError:
            await ws.send("no pong")
    elif first == "ping":
        waiter = await ws.ping(b"are you there")
        try:
            await asyncio.wait_for(waiter, 5)
            await ws.send("pong ok")
        except asyncio.TimeoutError:
            await ws.send("no pong")
    elif first == "large":
        await ws.send(pattern(70_000))
        await ws.send(pattern(5_000_000))
    elif first == "close":
        await ws.send("bye soon")
        await ws.close(int(rest), "going away")
        return
    elif first == "violation":
        await ws.send("before")
        ws.transport.write(VIOLATIONS[rest])
        await ws.wait_closed()
        return
    await echo(ws)


async def main() -> None:
    async with serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
