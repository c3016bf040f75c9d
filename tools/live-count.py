#!/usr/bin/env python3
"""Counts what a live run landed, from the node alone (docs/live.md, "Counting a live run").

Usage: tools/live-count.py RPC_URL OPPORTUNITIES FIRST_BLOCK SENDER EXECUTOR

Every transaction SENDER put in blocks FIRST_BLOCK.. (receipts: succeeded, reverted); for each
one that succeeded, the executor's `Executed` event against the opportunity polyarb predicted
with the same token and amount in (`polyarb run --opportunities` file): the profit equal to the
wei? Then, per (block, token), the executor's `balanceOf` change against the sum of the events'
profits in that block. Standard library only; the node's HTTP JSON-RPC (anvil serves it on the
websocket's port)."""
import json, sys, urllib.request
from collections import defaultdict

if len(sys.argv) != 6:
    sys.exit(__doc__.split("\n\n")[1])
url, opps_path, first_block = sys.argv[1], sys.argv[2], int(sys.argv[3])
SENDER, EXECUTOR = sys.argv[4].lower(), sys.argv[5].lower()
# keccak256("Executed(address,uint256,uint256,uint256,uint8)"), contracts/src/Executor.sol.
TOPIC = "0x118ec4e811d6658f573c57429975d1dce52927fc7d6e56b701a8cf254a8c363b"

def rpc(method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    r = json.load(urllib.request.urlopen(req))
    if "error" in r:
        raise RuntimeError(r["error"])
    return r["result"]

def balance(token, block):
    data = "0x70a08231" + EXECUTOR[2:].rjust(64, "0")
    return int(rpc("eth_call", {"to": token, "data": data}, hex(block)), 16)

predicted = defaultdict(list)
for line in open(opps_path):
    o = json.loads(line)
    predicted[(o["token_in"].lower(), int(o["amount_in"]))].append(int(o["profit"]))

head = int(rpc("eth_blockNumber"), 16)
sent = mined_ok = reverted = matched = exact = 0
per_block = defaultdict(int)
blocks_tokens = set()
for b in range(first_block, head + 1):
    blk = rpc("eth_getBlockByNumber", hex(b), True)
    for tx in blk["transactions"]:
        if tx["from"].lower() != SENDER:
            continue
        sent += 1
        rc = rpc("eth_getTransactionReceipt", tx["hash"])
        if rc["status"] != "0x1":
            reverted += 1
            continue
        mined_ok += 1
        for log in rc["logs"]:
            if log["address"].lower() != EXECUTOR or log["topics"][0] != TOPIC:
                continue
            token = "0x" + log["topics"][1][-40:]
            d = log["data"][2:]
            amount_in, profit = int(d[0:64], 16), int(d[64:128], 16)
            per_block[(b, token)] += profit
            blocks_tokens.add((b, token))
            cands = predicted.get((token, amount_in), [])
            if cands:
                matched += 1
                if profit in cands:
                    exact += 1
balance_ok = sum(1 for (b, t) in blocks_tokens
                 if balance(t, b) - balance(t, b - 1) == per_block[(b, t)])
print(f"blocks {first_block}..{head}: {sent} sent by the sender, {mined_ok} succeeded, {reverted} reverted; "
      f"{matched} Executed events matched to a prediction, {exact} of them with the predicted profit to the wei; "
      f"{balance_ok} of {len(blocks_tokens)} (block, token) balance changes equal to the events' profits")
