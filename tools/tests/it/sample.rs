//! `make_sample` end to end with a stand-in `polyarb`: a Python script (the toolchain venv's
//! `websockets`, an independent client) that snapshots the factories over the config's ws_url and
//! records every log it is sent until SIGINT.

use std::{os::unix::fs::PermissionsExt, path::Path, time::Duration};

use polyarb_tools::{SampleOpts, Toolchain, make_sample};

use crate::{scratch, stand_in_executor};

const STUB: &str = r#"
import json, signal, sys, tomllib
from websockets.sync.client import connect

cmd, args = sys.argv[1], dict(zip(sys.argv[2::2], sys.argv[3::2]))
with open(args["--config"], "rb") as f:
    cfg = tomllib.load(f)
for table in ("node", "signer", "replay", "gas", "search", "dexes", "tokens", "cores"):
    assert table in cfg, table

ws = connect(cfg["node"]["ws_url"])
ids = iter(range(1, 1 << 30))

def rpc(method, params):
    i = next(ids)
    ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
    while True:
        msg = json.loads(ws.recv())
        if msg.get("id") == i:
            return msg["result"]

if cmd == "snapshot":
    pairs = {}
    for dex in cfg["dexes"]:
        if dex["kind"] != "uniswap-v2":
            continue
        # allPairsLength()
        n = rpc("eth_call", [{"to": dex["factory"], "data": "0x574f2ba3"}, "latest"])
        pairs[dex["name"]] = int(n, 16)
    with open(args["--out"], "w") as f:
        json.dump({"block": int(rpc("eth_blockNumber", []), 16), "pairs": pairs}, f)
elif cmd == "record":
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sub = rpc("eth_subscribe", ["logs", {}])
    print("starting up", flush=True)
    print("recording: subscribed", flush=True)
    logs = []
    while not stop:
        try:
            msg = json.loads(ws.recv(timeout=0.1))
        except TimeoutError:
            continue
        if msg.get("params", {}).get("subscription") == sub:
            logs.append(msg["params"]["result"])
    with open(args["--out"], "w") as f:
        for log in logs:
            f.write(json.dumps(log) + "\n")
else:
    sys.exit(2)
"#;

fn write_stub(dir: &Path) -> std::path::PathBuf {
    let python = Toolchain::locate()
        .python()
        .unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("polyarb-stub");
    std::fs::write(&path, format!("#!{}\n{STUB}", python.display())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

const SYNC_TOPIC: &str = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1";
/// `Swap`, `Mint` and `Burn` of Uniswap V3 and Algebra (the same topics in both).
const CL_SWAP_TOPIC: &str = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67";
const CL_MINT_TOPIC: &str = "0x7a53080ba414158be7ec69b987b5fb7d07dee101fe85488f0853ae16239d0bde";
const CL_BURN_TOPIC: &str = "0x0c396cd989a39f4459b5fa1aed6a9a8dcdbc45908acfd67e028cd568da98982c";

#[test]
fn make_sample_records_every_swap() {
    let dir = scratch("sample");
    let mut opts = SampleOpts::new(write_stub(&dir), dir.join("data"));
    opts.swaps = 30;
    opts.swaps_per_block = 4;
    opts.executor_artifact = Some(stand_in_executor(&dir));
    opts.settle = Duration::from_millis(500);
    opts.lp_rate = 1.0;
    let report = make_sample(&Toolchain::locate(), &opts).unwrap_or_else(|e| panic!("{e}"));

    assert!(
        report.tokens >= 8 && report.pairs >= 20 && report.pairs + report.clmm_pools >= 40,
        "{report:?}"
    );
    assert_eq!((report.trading.swaps, report.trading.blocks), (30, 8));
    assert_eq!(report.trading.lp_actions, 8, "one liquidity action a block");
    assert!(report.trading.pool_swaps > 0, "{report:?}");
    assert_eq!(report.config, dir.join("data/sample.toml"));

    let cfg: toml::Table = std::fs::read_to_string(&report.config)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(cfg["replay"]["chain_id"].as_integer(), Some(137));
    assert_eq!(cfg["search"]["native"].as_str(), Some("WMATIC"));
    assert_eq!(cfg["tokens"].as_array().unwrap().len(), report.tokens);

    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report.snapshot).unwrap()).unwrap();
    let listed: u64 = snapshot["pairs"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v.as_u64())
        .sum();
    assert_eq!(listed as usize, report.pairs);

    // Every V2 swap's Sync and every concentrated swap's Swap reached the recorder, in 8 distinct
    // blocks, and nothing else synced or swapped; every liquidity action's Mint or Burn too.
    let text = std::fs::read_to_string(&report.recording).unwrap();
    let logs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let with = |topic: &str| -> Vec<&serde_json::Value> {
        logs.iter().filter(|l| l["topics"][0] == topic).collect()
    };
    let syncs = with(SYNC_TOPIC);
    let cl_swaps = with(CL_SWAP_TOPIC);
    assert_eq!(syncs.len(), 30 - report.trading.pool_swaps);
    assert_eq!(cl_swaps.len(), report.trading.pool_swaps);
    let blocks: std::collections::BTreeSet<&str> = syncs
        .iter()
        .chain(&cl_swaps)
        .filter_map(|l| l["blockNumber"].as_str())
        .collect();
    assert_eq!(blocks.len(), 8);
    assert_eq!(
        with(CL_MINT_TOPIC).len() + with(CL_BURN_TOPIC).len(),
        report.trading.lp_actions
    );
}

#[test]
fn make_sample_fails_clearly_when_the_recorder_never_subscribes() {
    let dir = scratch("sample-silent");
    let stub = dir.join("polyarb-silent");
    // Snapshots fine, then records without ever saying it is subscribed.
    std::fs::write(
        &stub,
        "#!/bin/sh\nif [ \"$1\" = snapshot ]; then echo '{}' > \"$5\"; exit 0; fi\nexec sleep 30\n",
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut opts = SampleOpts::new(stub, dir.join("data"));
    opts.executor_artifact = Some(stand_in_executor(&dir));
    opts.subscribe_timeout = Duration::from_millis(500);
    let err = make_sample(&Toolchain::locate(), &opts)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "recorder printed no `recording: subscribed` within 500 ms".replace("500", &err_ms(&err))
    );
}

/// The milliseconds actually waited, as printed (at least the timeout).
fn err_ms(err: &str) -> String {
    let ms: String = err
        .split("within ")
        .nth(1)
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(ms.parse::<u64>().is_ok_and(|ms| ms >= 500), "{err}");
    ms
}
