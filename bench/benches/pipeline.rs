//! The hot path over the shipped sample (data/sample.*), decode → update → search → sign, and
//! each stage alone, every group with the established crate REFERENCE.md measured beside it.
//!
//! `cargo bench -p polyarb-bench --bench pipeline` (one group: append a filter, e.g. `-- sign/`)
//!
//! - `sample_pass/*`: every payload in recorded order through a fresh engine (state is reset
//!   per iteration; rebuilding it is outside the timing). Throughput is payloads.
//! - `decode/*`: `polyarb_feeds::decode` (its known-shape path where the payload has one) and its
//!   general parser alone, vs serde_json into a borrowed struct and into `Value`; the sample as
//!   recorded (anvil's key order) and converted to geth's.
//! - `engine/*`: `Engine::on_frame` over the decoded sample vs the bare loop.
//! - `sign/*`: `TxBuilder::build` (calldata + EIP-1559 sign + envelope) vs alloy, and the
//!   ECDSA alone vs k256.

use std::{hint::black_box, time::Duration};

use alloy_primitives::{B256, U256};
use alloy_signer_local::PrivateKeySigner;
use criterion::{BatchSize, BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use polyarb_bench::{
    Sample,
    baselines::{TxFields, alloy_build_sign, geth_order, parse_head, parse_log},
    replay_pass,
};
use polyarb_core::{CALLDATA_MAX, TxFrame, encode_run};
use polyarb_core::{Engine, FLAG_MORE_IN_BATCH, FrameKind};
use polyarb_engine::clock::MonoClock;
use polyarb_feeds::{decode, decode_general, decode_known_shape};
use polyarb_signer::{Eip1559Tx, coupon_ring};

/// Keeps one `cargo bench` of both bench files near two minutes on a 2-vCPU VM.
fn quick(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

// ---- decode (the serde_json baselines: `polyarb_bench::baselines`) ----

/// Which path `decode` must take on every payload of a group (checked before timing).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// The known-shape reader (`decode_known_shape` gives the frame).
    Known,
    /// The general parser (the known-shape reader steps aside).
    General,
}

fn decode_group(
    c: &mut Criterion,
    name: &str,
    payloads: &[&[u8]],
    path: Path,
    borrowed_baseline: impl Fn(&[u8]) -> bool,
) {
    for p in payloads {
        assert!(decode(p, 0).is_ok_and(|d| d.frame().is_some()), "{name}");
        assert_eq!(
            decode(p, 0),
            decode_general(p, 0),
            "{name}: the paths differ"
        );
        let known = decode_known_shape(p, 0).is_some();
        assert_eq!(known, path == Path::Known, "{name}: not the expected path");
        assert!(borrowed_baseline(p), "{name}: baseline struct does not fit");
    }
    let mut g = c.benchmark_group(name);
    quick(&mut g);
    g.throughput(Throughput::Elements(payloads.len() as u64));
    g.bench_function("polyarb_decode", |b| {
        b.iter(|| {
            for p in payloads {
                black_box(decode(black_box(p), 1).ok());
            }
        })
    });
    // The general parser alone: what `decode` costs on a payload without a known shape, and
    // (beside `polyarb_decode`) what the known-shape path saves on one that has it.
    g.bench_function("polyarb_decode_general", |b| {
        b.iter(|| {
            for p in payloads {
                black_box(decode_general(black_box(p), 1).ok());
            }
        })
    });
    g.bench_function("serde_json_borrowed_baseline", |b| {
        b.iter(|| {
            for p in payloads {
                black_box(borrowed_baseline(black_box(p)));
            }
        })
    });
    g.bench_function("serde_json_value_baseline", |b| {
        b.iter(|| {
            for p in payloads {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(p)).ok());
            }
        })
    });
    g.finish();
}

fn decode_benches(c: &mut Criterion, s: &Sample) {
    let syncs = s.payloads_of(FrameKind::V2Sync);
    let heads = s.payloads_of(FrameKind::NewHead);
    let cl: Vec<&[u8]> = [
        FrameKind::ClSwap,
        FrameKind::ClMint,
        FrameKind::ClBurn,
        FrameKind::AlgebraFee,
    ]
    .into_iter()
    .flat_map(|k| s.payloads_of(k))
    .collect();
    let geth = |p: &&[u8]| geth_order(p).expect("a sample log notification");
    let geth_syncs: Vec<Vec<u8>> = syncs.iter().map(geth).collect();
    let geth_syncs: Vec<&[u8]> = geth_syncs.iter().map(Vec::as_slice).collect();
    let geth_cl: Vec<Vec<u8>> = cl.iter().map(geth).collect();
    let geth_cl: Vec<&[u8]> = geth_cl.iter().map(Vec::as_slice).collect();
    // One payload over and over: REFERENCE.md's "parse one log notification" setting.
    decode_group(
        c,
        "decode/one_sync_log",
        &syncs[..1],
        Path::Known,
        parse_log,
    );
    decode_group(c, "decode/sample_sync_logs", &syncs, Path::Known, parse_log);
    decode_group(
        c,
        "decode/sample_new_heads",
        &heads,
        Path::General,
        parse_head,
    );
    // The same logs as geth (and Bor, less `blockTimestamp`) send them: the setting.
    let one = &geth_syncs[..1];
    decode_group(c, "decode/geth_one_sync_log", one, Path::Known, parse_log);
    decode_group(
        c,
        "decode/geth_sync_logs",
        &geth_syncs,
        Path::Known,
        parse_log,
    );
    decode_group(c, "decode/geth_cl_logs", &geth_cl, Path::Known, parse_log);
}

// ---- engine ----

fn engine_benches(c: &mut Criterion, s: &Sample) {
    let frames = s.frames();
    let mut g = c.benchmark_group("engine/sample");
    quick(&mut g);
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("on_frame", |b| {
        b.iter_batched_ref(
            || s.engine().expect("engine builds"),
            |engine| {
                for f in &frames {
                    black_box(engine.on_frame(black_box(f)));
                }
            },
            BatchSize::SmallInput,
        )
    });
    // The same loop and frame reads with no engine: what the harness itself costs.
    g.bench_function("loop_overhead_baseline", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(black_box(f).block_number);
            }
        })
    });
    g.finish();
}

/// What the undo journal (docs/engine.md, "Reorgs") adds to applying a log: every frame of the
/// sample applied with no search (all flagged as one batch), journal at the default depth
/// against the same engine with the journal off.
fn journal_benches(c: &mut Criterion, s: &Sample) {
    let mut frames = s.frames();
    for f in &mut frames {
        f.flags |= FLAG_MORE_IN_BATCH;
    }
    let build = |depth: u64| {
        let mut p = s.config.search_params();
        p.reorg_depth = depth;
        Engine::new(&s.market, p).expect("engine builds")
    };
    let mut g = c.benchmark_group("engine/journal");
    quick(&mut g);
    g.throughput(Throughput::Elements(frames.len() as u64));
    for (name, depth) in [
        ("apply_journal_64", polyarb_core::DEFAULT_REORG_DEPTH),
        ("apply_journal_off_baseline", 0),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || build(depth),
                |engine| {
                    for f in &frames {
                        black_box(engine.on_frame(black_box(f)));
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

// ---- sign ----

fn sign_benches(c: &mut Criterion, s: &Sample) {
    let opps = s.opportunities().expect("engine builds");
    // A 3-hop route: the longest calldata, the common case in the sample.
    let opp = *opps
        .iter()
        .find(|o| o.hop_count == 3)
        .or(opps.first())
        .expect("the sample has opportunities");
    let fields = TxFields {
        chain_id: s.chain_id,
        executor: s.executor,
        fees: s.config.fee_bid(),
    };
    let mut calldata = [0u8; CALLDATA_MAX];
    let n = encode_run(&opp, opp.profit, &mut calldata).expect("route encodes");
    let calldata = &calldata[..n];
    let key = s.signer().expect("key");
    // Export the raw key for the baselines; this is anvil's public dev key from [replay].
    let alloy = PrivateKeySigner::from_slice(&s.key_bytes().expect("[replay].key")).expect("key");
    let k256_key =
        k256::ecdsa::SigningKey::from_slice(&s.key_bytes().expect("[replay].key")).expect("key");
    let clock = MonoClock::new();

    // Same work check: alloy's bytes equal ours for the same nonce.
    let mut frame = TxFrame::EMPTY;
    s.tx_builder(coupon_ring(0).1)
        .expect("builder")
        .build(&opp, &clock, &mut frame)
        .expect("signs");
    assert_eq!(
        frame.raw(),
        alloy_build_sign(&alloy, &opp, calldata, &fields, s.first_nonce).as_slice(),
        "baseline must sign the same transaction"
    );

    let tx = Eip1559Tx {
        chain_id: fields.chain_id,
        nonce: s.first_nonce,
        max_priority_fee_per_gas: fields.fees.tip_wei,
        max_fee_per_gas: fields.max_fee(&opp),
        gas_limit: fields.fees.gas_limit(opp.gas_budget),
        to: fields.executor,
        value: U256::ZERO,
        input: calldata,
    };
    let hash: B256 = tx.signing_hash();

    let mut g = c.benchmark_group("sign/one_3hop_tx");
    quick(&mut g);
    let mut builder = s.tx_builder(coupon_ring(0).1).expect("builder");
    g.bench_function("polyarb_txbuilder_build", |b| {
        // The nonce advances on every call, as it does live.
        b.iter(|| {
            builder
                .build(black_box(&opp), &clock, &mut frame)
                .expect("signs");
            black_box(frame.len)
        })
    });
    let mut nonce = s.first_nonce;
    g.bench_function("alloy_build_sign_encode_baseline", |b| {
        b.iter(|| {
            nonce += 1;
            black_box(alloy_build_sign(
                &alloy,
                black_box(&opp),
                calldata,
                &fields,
                nonce,
            ))
        })
    });
    g.bench_function("polyarb_sign_hash", |b| {
        b.iter(|| black_box(key.sign_hash(black_box(&hash)).expect("signs")))
    });
    g.bench_function("k256_sign_prehash_recoverable_baseline", |b| {
        b.iter(|| {
            black_box(
                k256_key
                    .sign_prehash_recoverable(black_box(hash.as_slice()))
                    .expect("signs"),
            )
        })
    });
    g.finish();
}

// ---- the whole pass ----

fn pass_benches(c: &mut Criterion, s: &Sample) {
    let clock = MonoClock::new();
    let alloy = PrivateKeySigner::from_slice(&s.key_bytes().expect("[replay].key")).expect("key");
    let fields = TxFields {
        chain_id: s.chain_id,
        executor: s.executor,
        fees: s.config.fee_bid(),
    };
    let opp_count = s.opportunities().expect("engine builds").len();
    let mut g = c.benchmark_group("sample_pass");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .sample_size(10);
    g.throughput(Throughput::Elements(s.payloads.len() as u64));

    g.bench_function("decode_update_search_sign", |b| {
        b.iter_batched_ref(
            || {
                // One coupon per opportunity of the pass, minted outside the timing, as the
                // mint thread has them ready live.
                let (mut mint, coupons) = coupon_ring(opp_count);
                mint.fill().expect("entropy");
                (
                    s.engine().expect("engine"),
                    s.tx_builder(coupons).expect("builder"),
                    Box::new(TxFrame::EMPTY),
                )
            },
            |(engine, builder, frame)| {
                replay_pass(
                    &s.payloads,
                    s.config.node.batch_quiet_ns(),
                    engine,
                    &clock,
                    |opp| {
                        black_box(builder.build(opp, &clock, frame).is_ok());
                    },
                )
            },
            BatchSize::PerIteration,
        )
    });
    // The established signer in the same seat: calldata + alloy build/sign/encode.
    g.bench_function("decode_update_search_alloy_sign_baseline", |b| {
        b.iter_batched_ref(
            || (s.engine().expect("engine"), s.first_nonce),
            |(engine, nonce)| {
                let mut calldata = [0u8; CALLDATA_MAX];
                replay_pass(
                    &s.payloads,
                    s.config.node.batch_quiet_ns(),
                    engine,
                    &clock,
                    |opp| {
                        if let Ok(n) = encode_run(opp, opp.profit, &mut calldata) {
                            black_box(alloy_build_sign(
                                &alloy,
                                opp,
                                &calldata[..n],
                                &fields,
                                *nonce,
                            ));
                            *nonce += 1;
                        }
                    },
                )
            },
            BatchSize::PerIteration,
        )
    });
    // Without the signer: what decode + update + search cost on their own.
    g.bench_function("decode_update_search_no_sign", |b| {
        b.iter_batched_ref(
            || s.engine().expect("engine"),
            |engine| {
                replay_pass(
                    &s.payloads,
                    s.config.node.batch_quiet_ns(),
                    engine,
                    &clock,
                    |opp| {
                        black_box(opp);
                    },
                )
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// One line of context for the report: what a pass over the sample does.
fn describe(s: &Sample) {
    let mut engine = s.engine().expect("engine");
    let n = replay_pass(
        &s.payloads,
        s.config.node.batch_quiet_ns(),
        &mut engine,
        &MonoClock::new(),
        |_| {},
    );
    let e = engine.stats();
    println!(
        "sample: {} payloads ({} Sync logs, {} newHeads); {} pools, {} cycles; per pass: {} \
         opportunities, {} cycles screened, {} sized",
        n.payloads,
        e.syncs,
        e.heads,
        engine.pool_count(),
        engine.cycle_count(),
        n.opportunities,
        e.screened,
        e.sized,
    );
}

/// `POLYARB_BENCH_SAMPLE=DIR/STEM` runs the benches on `DIR/STEM.{rec,snapshot.json,toml}`
/// instead of the shipped sample (`bench/compare-previous.sh` uses it for the V2-only sample).
fn load_sample() -> Sample {
    let loaded = match std::env::var_os("POLYARB_BENCH_SAMPLE") {
        Some(stem) => {
            let stem = std::path::PathBuf::from(stem);
            let dir = stem.parent().unwrap_or(std::path::Path::new("."));
            let name = stem
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("sample");
            Sample::load_from(dir, name)
        }
        None => Sample::load(),
    };
    loaded.unwrap_or_else(|e| panic!("{e}"))
}

fn main() {
    let sample = load_sample();
    describe(&sample);
    let mut c = Criterion::default().configure_from_args();
    pass_benches(&mut c, &sample);
    decode_benches(&mut c, &sample);
    engine_benches(&mut c, &sample);
    journal_benches(&mut c, &sample);
    sign_benches(&mut c, &sample);
    c.final_summary();
}
