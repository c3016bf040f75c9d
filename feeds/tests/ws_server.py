"""Independent RFC 6455 server (the `websockets` package) for polyarb-feeds client tests.

Listens on 127.0.0.1 at an OS-chosen port, prints "PORT <n>" once ready, and serves until its
stdin closes (the Rust test holds the other end). One behaviour per request path:

  /echo        echo every message back with its type
  /fragmented  send a text message in 3 fragments and a binary one in 5, then echo
  /ping        ping with payload b"are you there", wait up to 5 s for the matching pong,
               send "pong ok" (or "no pong"), then echo
  /large       send binary messages of 70_000 and 5_000_000 bytes (byte i = i % 251), then echo
  /close       send "bye soon", then close with status 4001 reason "going away"
"""

import asyncio
import sys

from websockets.asyncio.server import serve


def pattern(n: int) -> bytes:
    return (bytes(range(251)) * (n // 251 + 1))[:n]


async def echo(ws) -> None:
    async for msg in ws:
        await ws.send(msg)


async def handler(ws) -> None:
    path = ws.request.path
    if path == "/fragmented":
        await ws.send(["frag", "mented ", "text"])
        await ws.send([bytes([i]) * 1000 for i in range(5)])
    elif path == "/ping":
        waiter = await ws.ping(b"are you there")
        try:
            await asyncio.wait_for(waiter, 5)
            await ws.send("pong ok")
        except asyncio.TimeoutError:
            await ws.send("no pong")
    elif path == "/large":
        await ws.send(pattern(70_000))
        await ws.send(pattern(5_000_000))
    elif path == "/close":
        await ws.send("bye soon")
        await ws.close(4001, "going away")
        return
    await echo(ws)


async def main() -> None:
    async with serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


asyncio.run(main())
