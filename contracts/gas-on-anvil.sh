#!/usr/bin/env bash
# Sends the 2-, 3- and 4-hop routes of test/ExecutorGas.t.sol as real transactions to a private
# anvil (script/GasOnAnvil.s.sol) and prints each receipt's gasUsed: an independent check of the
# gas test's arithmetic. Needs tools/toolchain/install.sh to have run. PORT overrides 18545.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
bin=../tools/toolchain/node_modules/@foundry-rs
rpc="http://127.0.0.1:${PORT:-18545}"
# anvil's first dev account, unlocked by anvil itself (no key involved).
sender=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266

call() {
  curl -sf -o /dev/null -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$rpc"
}

"$bin/anvil-linux-amd64/bin/anvil" --port "${PORT:-18545}" --chain-id 137 --silent &
anvil_pid=$!
trap 'kill "$anvil_pid" 2>/dev/null || true; rm -rf broadcast cache/GasOnAnvil.s.sol' EXIT
for _ in $(seq 100); do call eth_chainId '[]' && break; sleep 0.1; done

# Each block 2 s after the last, so every route's swaps are their pairs' first in a new block
# and write the price accumulators, as in the gas test.
call anvil_setBlockTimestampInterval '[2]'
# forge estimates gas in a one-block simulation where no accumulator is written; the real blocks
# cost more, hence the generous multiplier (it sets gas limits only, not gasUsed).
"$bin/forge-linux-amd64/bin/forge" script script/GasOnAnvil.s.sol:GasOnAnvil --rpc-url "$rpc" \
  --broadcast --unlocked --sender "$sender" --slow --gas-estimate-multiplier 400 >/dev/null

node -e '
const d = require(process.argv[1]);
const used = new Map(d.receipts.map((r) => [r.transactionHash, r]));
const runs = d.transactions.filter((t) => (t.function || "").startsWith("execute("));
runs.forEach((t, i) => {
  const r = used.get(t.hash);
  console.log(`${i + 2}-hop execute: gasUsed ${parseInt(r.gasUsed, 16)} (status ${r.status})`);
});
' "$here/broadcast/GasOnAnvil.s.sol/137/run-latest.json"
