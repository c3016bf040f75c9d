//! Decoding one `Sync` log notification: `polyarb_feeds::decode` against the baseline named in
//! shared/REFERENCE.md (serde_json into a borrowed struct), in the same run on the same bytes.
//!
//! `cargo bench -p polyarb-feeds --bench decode`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use polyarb_feeds::{Decoded, decode};
use serde::Deserialize;

fn payload(anvil_order: bool) -> String {
    let data = format!(
        "0x{:064x}{:064x}",
        0x3a1c_5c4f_8d1e_u128, 0x00b1_a2bc_2ec5_0000_u128
    );
    let h = "ab".repeat(32);
    let topic = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1";
    let log = if anvil_order {
        format!(
            r#"{{"address":"0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827","topics":["{topic}"],"data":"{data}","blockHash":"0x{h}","blockNumber":"0x3a2b1c0","blockTimestamp":"0x6b026ba0","transactionHash":"0x{h}","transactionIndex":"0x1f","logIndex":"0x7b","removed":false}}"#
        )
    } else {
        format!(
            r#"{{"address":"0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827","topics":["{topic}"],"data":"{data}","blockNumber":"0x3a2b1c0","transactionHash":"0x{h}","transactionIndex":"0x1f","blockHash":"0x{h}","logIndex":"0x7b","removed":false}}"#
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
    for (name, anvil) in [("geth_order", false), ("anvil_order", true)] {
        let p = payload(anvil);
        assert!(matches!(decode(p.as_bytes(), 1), Ok(Decoded::Frame(_))));
        let mut g = c.benchmark_group(format!("sync_log/{name}"));
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
