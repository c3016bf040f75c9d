#!/usr/bin/env python3
"""Writes seed inputs for the cargo-fuzz targets (fuzz/) from data/sample.rec.

Usage: tools/fuzz_seeds.py SAMPLE.rec OUT_DIR
Writes OUT_DIR/<target>/seed-NNN for decode, decode_paths, rpc_response, ws_codec and
record_reader (a few dozen small files each, about a hundred for decode_paths). Reads the recording format independently of the Rust reader
(docs/recording.md): header, then records of marker, recv_ns u64, len u32, crc u32, payload.
Standard library only.
"""

import json
import os
import struct
import sys

MARKER = b"\xff\xa5\x52\x43"


def records(path):
    """Header bytes and the list of (recv_ns, payload) of a recording."""
    data = open(path, "rb").read()
    header_len = struct.unpack_from("<H", data, 10)[0]
    out, off = [], header_len
    while off + 20 <= len(data):
        assert data[off:off + 4] == MARKER, f"bad marker at {off}"
        recv_ns, length, _crc = struct.unpack_from("<QII", data, off + 4)
        out.append((recv_ns, data[off + 20:off + 20 + length], data[off:off + 20 + length]))
        off += 20 + length
    return data[:header_len], out


def kind(payload):
    """A label per message kind: new head, or the log's topic0."""
    if b'"parentHash"' in payload:
        return "head"
    at = payload.find(b'"topics":["')
    return payload[at + 11:at + 21].decode() if at >= 0 else "other"


def server_frame(opcode, payload, fin=True):
    """An unmasked server frame (RFC 6455 §5.2)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


def write(out_dir, target, seeds):
    d = os.path.join(out_dir, target)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, f"seed-{i:03}"), "wb") as f:
            f.write(s)
    return len(seeds)


GETH_ORDER = ["address", "topics", "data", "blockNumber", "transactionHash", "transactionIndex",
              "blockHash", "blockTimestamp", "logIndex", "removed"]


def geth_order(payload):
    """A recorded log notification with its members in geth's order (None for other payloads)."""
    msg = json.loads(payload)
    log = msg.get("params", {}).get("result")
    if not isinstance(log, dict) or "topics" not in log:
        return None
    msg["params"]["result"] = {k: log[k] for k in GETH_ORDER if k in log}
    return json.dumps(msg, separators=(",", ":")).encode()


def main():
    sample, out_dir = sys.argv[1], sys.argv[2]
    header, recs = records(sample)
    by_kind = {}
    for _, p, _ in recs:
        by_kind.setdefault(kind(p), []).append(p)
    # Up to 8 of each kind, spread over the recording.
    picks = []
    for ps in by_kind.values():
        step = max(1, len(ps) // 8)
        picks += ps[::step][:8]

    heads = by_kind.get("head", [])
    head_result = json.loads(heads[0])["params"]["result"] if heads else {}
    log = json.loads(picks[-1])["params"]["result"]
    responses = [
        {"jsonrpc": "2.0", "id": 1, "result": "0x1a"},
        {"jsonrpc": "2.0", "id": 2, "result": "0x0"},
        {"jsonrpc": "2.0", "id": 3, "result": "0xffffffffffffffff"},
        {"jsonrpc": "2.0", "id": 4, "result": None},
        {"jsonrpc": "2.0", "id": 5, "result": True},
        {"jsonrpc": "2.0", "id": 6, "result": "0x" + "00" * 31 + "01"},
        {"jsonrpc": "2.0", "id": 7, "result": head_result},
        {"jsonrpc": "2.0", "id": 8, "result": [log, log]},
        {"jsonrpc": "2.0", "id": 9, "error": {"code": -32000, "message": "nonce too low"}},
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}},
        {"jsonrpc": "2.0", "id": 10, "result": "0x4a817c800", "extra": [1, {"a": "\\u0041"}]},
    ]
    rpc = [json.dumps(r, separators=(",", ":")).encode() for r in responses]
    rpc.append(b'{"id":11,"jsonrpc":"2.0","result":"0x10"}')
    rpc.append(b' {"result":"0x1","id":12} ')

    # ws_codec: [max_message/8 (255 = default), read_chunk, split] + server bytes.
    ws = []
    for i, p in enumerate(picks[:16]):
        ws.append(bytes([255, 64, i]) + server_frame(0x1, p))
    for i, p in enumerate(picks[16:24]):
        half = len(p) // 2
        frames = (server_frame(0x1, p[:half], fin=False) + server_frame(0x9, b"ping")
                  + server_frame(0x0, p[half:]))
        ws.append(bytes([255 if i % 2 else 250, 7 + i, 3]) + frames)
    ws += [
        bytes([255, 16, 1]) + server_frame(0x9, b"") + server_frame(0xA, b"x"),
        bytes([255, 16, 2]) + server_frame(0x8, struct.pack(">H", 1000) + b"bye"),
        bytes([255, 16, 2]) + server_frame(0x8, b""),
        bytes([255, 16, 5]) + server_frame(0x2, bytes(range(256)) * 300),
        bytes([2, 1, 0]) + server_frame(0x1, b"too long for sixteen bytes"),
        bytes([255, 0, 9]) + server_frame(0x1, b"a", fin=False) + server_frame(0x0, b"b"),
    ]

    # record_reader: [mode, split] + mode data (see fuzz/fuzz_targets/record_reader.rs).
    body = b"".join(r[2] for r in recs[:4])
    rr = [
        bytes([0, 0]) + header + body,
        bytes([0, 5]) + header + body[:-7],
        bytes([0, 1]) + header[:20],
        bytes([1, 0]) + body,
        bytes([1, 3]) + body[:100] + body[150:],
        bytes([1, 2]) + recs[0][2] + b"\x00" * 9 + recs[1][2],
    ]
    for mode in (2, 3, 4):
        specs = bytes([6]) + b"".join(bytes([lo, hi, (0x41 + lo) % 256, lo]) for lo, hi in
                                       [(10, 0), (0, 64), (3, 0), (255, 1), (0, 0), (0, 80)])
        flips = struct.pack("<IB", 70000, 0x10) + struct.pack("<IB", 5, 0xFF)
        rr.append(bytes([mode, mode * 7]) + specs + flips)

    # decode_paths: [mode] + mode data (see fuzz/fuzz_targets/decode_paths.rs). Mode 0: the
    # picks as recorded (anvil's key order) and in geth's; mode 1: its templates, a few edited.
    paths = [b"\x00" + p for p in picks] + [b"\x00" + g for g in map(geth_order, picks) if g]
    paths += [bytes([1, t]) for t in range(6)]
    paths += [bytes([1, t, 4 * b, 0, 40 + 9 * t]) for t in range(6) for b in (1, 2, 8)]

    counts = [write(out_dir, "decode", picks), write(out_dir, "rpc_response", rpc),
              write(out_dir, "ws_codec", ws), write(out_dir, "record_reader", rr),
              write(out_dir, "decode_paths", paths)]
    print(f"fuzz_seeds: {sum(counts)} seeds in {out_dir} "
          f"(decode {counts[0]}, rpc_response {counts[1]}, ws_codec {counts[2]}, "
          f"record_reader {counts[3]}, decode_paths {counts[4]})")


if __name__ == "__main__":
    main()
