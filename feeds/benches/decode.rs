//! Decoding one log notification (a V2 `Sync`, a Uniswap V3 / Algebra `Swap`):
//! `polyarb_feeds::decode` against the baseline named in shared/REFERENCE.md (serde_json into a
//! borrowed struct), in the same run on the same bytes.
//!
//! `cargo bench -p polyarb-feeds --bench decode`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use polyarb_core::FrameKind;
use polyarb_feeds::decode;
use serde::Deserialize;

/// `Sync(reserve0, reserve1)`: topic0 only, two data words.
fn sync_log() -> (String, String) {
    let data = format!(
        "0x{:064x}{:064x}",
        0x3a1c_5c4f_8d1e_u128, 0x00b1_a2bc_2ec5_0000_u128
    );
    let topics =
        r#"["0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"]"#.to_owned();
    (topics, data)
}

/// `Swap(sender, recipient, amount0, amount1, sqrtPriceX96, liquidity, tick)`: three topics,
/// five data words, negative amount0 and tick (sign-extended words).
fn swap_log() -> (String, String) {
    let addr = format!("0x{:0>64}", "5757371414417b8c6caad45baef941abc7d3ab32");
    let topics = format!(
        r#"["0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67","{addr}","{addr}"]"#
    );
    let neg = |v: i64| format!("{}{v:016x}", "f".repeat(48));
    let data = format!(
        "0x{}{:064x}{:064x}{:064x}{}",
        neg(-1_234_567_890_123),
        987_654_321_987_u128,
        // A Q64.96 price of a WMATIC/USDC-like pair, and its active liquidity.
        4_175_236_045_437_541_212_893_u128,
        31_622_776_601_683_793_u128,
        neg(-197_340),
    );
    (topics, data)
}

fn payload((topics, data): (String, String), anvil_order: bool) -> String {
    let h = "ab".repeat(32);
    let log = if anvil_order {
        format!(
            r#"{{"address":"0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827","topics":{topics},"data":"{data}","blockHash":"0x{h}","blockNumber":"0x3a2b1c0","blockTimestamp":"0x6b026ba0","transactionHash":"0x{h}","transactionIndex":"0x1f","logIndex":"0x7b","removed":false}}"#
        )
    } else {
        format!(
            r#"{{"address":"0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827","topics":{topics},"data":"{data}","blockNumber":"0x3a2b1c0","transactionHash":"0x{h}","transactionIndex":"0x1f","blockHash":"0x{h}","logIndex":"0x7b","removed":false}}"#
        )
    };
    format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0xcd0c3e8af590364c09d0fa6a1210faf5","result":{log}}}}}"#
    )
}

/// The baseline: the same fields, borrowed, via serde's derive.
#[derive(Deserialize)]
#[allow(
    dead_code,
    reason = "fields exist to be parsed, the bench only times the parse"
)]
struct Note<'a> {
    #[serde(borrow)]
    method: &'a str,
    #[serde(borrow)]
    params: Params<'a>,
}

#[derive(Deserialize)]
#[allow(
    dead_code,
    reason = "fields exist to be parsed, the bench only times the parse"
)]
struct Params<'a> {
    #[serde(borrow)]
    subscription: &'a str,
    #[serde(borrow)]
    result: Log<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "fields exist to be parsed, the bench only times the parse"
)]
struct Log<'a> {
    address: &'a str,
    #[serde(borrow)]
    topics: Vec<&'a str>,
    data: &'a str,
    block_number: &'a str,
    transaction_index: &'a str,
    log_index: &'a str,
    removed: bool,
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("sync_log", sync_log(), FrameKind::V2Sync),
        ("swap_log", swap_log(), FrameKind::ClSwap),
    ]
    .into_iter()
    .flat_map(|(event, log, kind)| {
        [("geth_order", false), ("anvil_order", true)].map(|(order, anvil)| {
            (
                format!("{event}/{order}"),
                payload(log.clone(), anvil),
                kind,
            )
        })
    });
    for (group, p, kind) in cases {
        let decoded = decode(p.as_bytes(), 1).map(|d| d.frame().map(|f| f.kind));
        assert_eq!(decoded, Ok(Some(kind)), "{p}");
        let mut g = c.benchmark_group(group);
        g.bench_function("polyarb_decode", |b| {
            b.iter(|| decode(black_box(p.as_bytes()), 1).map(|d| d.frame().map(|f| f.block_number)))
        });
        g.bench_function("serde_json_borrowed_baseline", |b| {
            b.iter(|| {
                serde_json::from_slice::<Note<'_>>(black_box(p.as_bytes()))
                    .map(|n| n.params.result.block_number.len())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
