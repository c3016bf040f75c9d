//! The shipped sample in memory, and one in-order pass over it.

use std::{collections::HashMap, fmt, fs::File, io::BufReader, path::Path, path::PathBuf};

use alloy_primitives::Address;
use polyarb_core::{BuildError, Engine, MarketSpec, OpportunityFrame};
use polyarb_core::{FLAG_MORE_IN_BATCH, FeedFrame, FrameKind};
use polyarb_engine::{
    clock::Clock,
    config::{Config, ConfigError},
    pipeline::{more_in_batch, quiet_ends_batch},
    snapshot::{self, SnapshotError},
    txbuild::TxBuilder,
};
use polyarb_feeds::{Decoded, RecordError, RecordReader, decode};
use polyarb_signer::{Coupons, KeyError, Signer};

/// One recorded websocket payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// When the recorder read it, ns on the recorder's pipeline clock.
    pub recv_ns: u64,
    /// The message, as received.
    pub bytes: Vec<u8>,
}

/// Why the sample could not be loaded.
#[derive(Debug)]
pub enum FixtureError {
    /// A file could not be opened.
    Io(PathBuf, std::io::Error),
    /// The recording is unreadable or damaged (the benches want every payload).
    Record(RecordError),
    /// The snapshot is unreadable.
    Snapshot(SnapshotError),
    /// The config is unreadable.
    Config(ConfigError),
    /// The config lacks something replay needs; names it.
    Missing(&'static str),
    /// The `[replay]` key does not parse.
    Key(KeyError),
    /// The engine rejects the snapshot.
    Build(BuildError),
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(p, e) => write!(f, "cannot open {}: {e}", p.display()),
            Self::Record(e) => write!(f, "sample recording: {e}"),
            Self::Snapshot(e) => write!(f, "sample snapshot: {e}"),
            Self::Config(e) => write!(f, "sample config: {e}"),
            Self::Missing(what) => write!(f, "sample config has no {what}"),
            Self::Key(e) => write!(f, "sample [replay].key: {e}"),
            Self::Build(e) => write!(f, "sample market: {e}"),
        }
    }
}

impl std::error::Error for FixtureError {}

/// The shipped sample, loaded once: payloads in recorded order, the market snapshot the
/// recording starts from, and what `[replay]` signs with.
pub struct Sample {
    /// Every payload of `sample.rec`, in order.
    pub payloads: Vec<Payload>,
    /// The pool snapshot (`sample.snapshot.json`).
    pub market: MarketSpec,
    /// The config (`sample.toml`).
    pub config: Config,
    /// `[replay].key`: anvil's public dev key, never a real one.
    key: String,
    /// `[replay].chain_id`.
    pub chain_id: u64,
    /// `[replay].nonce`: the first nonce a fresh builder signs with.
    pub first_nonce: u64,
    /// `[signer].executor`: the `to` of every transaction.
    pub executor: Address,
}

impl fmt::Debug for Sample {
    // By hand so the key stays out of bench output, as the signer's own `Debug` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sample")
            .field("payloads", &self.payloads.len())
            .field("pools", &self.market.pools.len())
            .field("chain_id", &self.chain_id)
            .field("first_nonce", &self.first_nonce)
            .field("executor", &self.executor)
            .finish_non_exhaustive()
    }
}

impl Sample {
    /// The workspace's `data/` directory, where the sample ships.
    pub fn data_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("data")
    }

    /// Loads `data/sample.{rec,snapshot.json,toml}` from [`Sample::data_dir`].
    pub fn load() -> Result<Self, FixtureError> {
        Self::load_from(&Self::data_dir(), "sample")
    }

    /// Loads `<dir>/<stem>.rec`, `<stem>.snapshot.json` and `<stem>.toml`.
    ///
    /// The config is read with an empty environment, not the process's: a `POLYARB_EXECUTOR`
    /// in the shell must not change what the benches sign.
    pub fn load_from(dir: &Path, stem: &str) -> Result<Self, FixtureError> {
        let rec = dir.join(format!("{stem}.rec"));
        let file = File::open(&rec).map_err(|e| FixtureError::Io(rec.clone(), e))?;
        let mut reader = RecordReader::new(BufReader::new(file)).map_err(FixtureError::Record)?;
        let mut payloads = Vec::new();
        while let Some(r) = reader.next_ref() {
            let r = r.map_err(FixtureError::Record)?;
            payloads.push(Payload {
                recv_ns: r.recv_ns,
                bytes: r.payload.to_vec(),
            });
        }
        let (market, _chain) = snapshot::read(&dir.join(format!("{stem}.snapshot.json")))
            .map_err(FixtureError::Snapshot)?;
        let config = Config::load(
            &dir.join(format!("{stem}.toml")),
            &HashMap::<String, String>::new(),
        )
        .map_err(FixtureError::Config)?;
        let replay = config
            .replay
            .clone()
            .ok_or(FixtureError::Missing("[replay] section"))?;
        let key = replay.key.ok_or(FixtureError::Missing("[replay].key"))?;
        let executor = config.executor().map_err(FixtureError::Config)?;
        let sample = Self {
            payloads,
            market,
            config,
            key,
            chain_id: replay.chain_id,
            first_nonce: replay.nonce,
            executor,
        };
        // Fail here, once, rather than inside a bench's setup closure.
        sample.signer()?;
        sample.engine()?;
        Ok(sample)
    }

    /// The `[replay]` signer.
    pub fn signer(&self) -> Result<Signer, FixtureError> {
        Signer::from_hex(&self.key).map_err(FixtureError::Key)
    }

    /// The `[replay]` key's 32 bytes, for the baselines that sign with other libraries (our
    /// `Signer` never exports its key). A public anvil dev key.
    pub fn key_bytes(&self) -> Result<[u8; 32], FixtureError> {
        polyarb_signer::decode_key_hex(self.key.as_bytes())
            .map(|k| *k)
            .map_err(FixtureError::Key)
    }

    /// A fresh engine at the snapshot's state, built as `polyarb replay` builds it.
    pub fn engine(&self) -> Result<Engine, FixtureError> {
        Engine::new(&self.market, self.config.search_params()).map_err(FixtureError::Build)
    }

    /// A fresh builder at `[replay].nonce`, bidding as the config says, signing with nonces
    /// from `coupons` while it has some (RFC 6979 after).
    pub fn tx_builder(&self, coupons: Coupons) -> Result<TxBuilder, FixtureError> {
        Ok(TxBuilder::new(
            self.signer()?,
            self.chain_id,
            self.first_nonce,
            self.executor,
            self.config.fee_bid(),
            self.config.signer.tx_type.tx_type(),
            coupons,
        ))
    }

    /// Payloads that decode to a frame of `kind`, in order.
    pub fn payloads_of(&self, kind: FrameKind) -> Vec<&[u8]> {
        self.payloads
            .iter()
            .filter(|p| {
                decode(&p.bytes, p.recv_ns)
                    .ok()
                    .and_then(|d| d.frame().map(|f| f.kind))
                    == Some(kind)
            })
            .map(|p| p.bytes.as_slice())
            .collect()
    }

    /// Every payload decoded (with its recorded time), frames only, in order, flagged into
    /// batches as `polyarb replay`'s feed stage flags them (`FLAG_MORE_IN_BATCH` on every frame
    /// of a batch but the last).
    pub fn frames(&self) -> Vec<FeedFrame> {
        let quiet_ns = self.config.node.batch_quiet_ns();
        let mut frames: Vec<FeedFrame> = Vec::with_capacity(self.payloads.len());
        let mut last_recv: Option<u64> = None;
        // A new burst since the last frame: that frame ended its batch.
        let mut boundary = false;
        for p in &self.payloads {
            boundary |=
                last_recv.is_some_and(|l| quiet_ends_batch(p.recv_ns.saturating_sub(l), quiet_ns));
            last_recv = Some(p.recv_ns);
            if let Ok(Decoded::Frame(f)) = decode(&p.bytes, p.recv_ns) {
                if let Some(prev) = frames.last_mut()
                    && more_in_batch(prev, &f, boundary)
                {
                    prev.flags |= FLAG_MORE_IN_BATCH;
                }
                boundary = false;
                frames.push(f);
            }
        }
        frames
    }

    /// The opportunities a fresh engine finds over the whole sample, in order.
    pub fn opportunities(&self) -> Result<Vec<OpportunityFrame>, FixtureError> {
        let mut engine = self.engine()?;
        Ok(self
            .frames()
            .iter()
            .flat_map(|f| engine.on_frame(f).to_vec())
            .collect())
    }
}

/// What one [`replay_pass`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassCounts {
    /// Payloads read.
    pub payloads: u64,
    /// Payloads that decoded to a frame (and went to the engine).
    pub frames: u64,
    /// Payloads that decoded to something else (a response, an untracked notification).
    pub other: u64,
    /// Payloads that did not decode.
    pub decode_errors: u64,
    /// Opportunities the engine returned (each handed to `on_opportunity`).
    pub opportunities: u64,
}

/// One in-order pass of `payloads` through the decoder and `engine`, as the feed and engine
/// stages run it: each payload is stamped with `clock` and decoded, each frame applied, and
/// each opportunity stamped (`detect_ns`) and handed to `on_opportunity` (the signer's work,
/// or nothing). The engine's state moves on: pass a fresh one to replay from the snapshot.
#[inline]
pub fn replay_pass(
    payloads: &[Payload],
    quiet_ns: u64,
    engine: &mut Engine,
    clock: &dyn Clock,
    mut on_opportunity: impl FnMut(&OpportunityFrame),
) -> PassCounts {
    let mut n = PassCounts::default();
    // Batches as `polyarb replay` forms them: each frame is held until the next shows whether
    // its batch goes on (same block, no recorded burst gap between).
    let mut held: Option<FeedFrame> = None;
    let mut last_recv: Option<u64> = None;
    let mut run = |f: &FeedFrame, n: &mut PassCounts| {
        let routes = engine.on_frame(f);
        if !routes.is_empty() {
            let now = clock.now_ns();
            for &route in routes {
                let mut opp = route;
                opp.detect_ns = now;
                n.opportunities += 1;
                on_opportunity(&opp);
            }
        }
    };
    for p in payloads {
        n.payloads += 1;
        let new_burst =
            last_recv.is_some_and(|l| quiet_ends_batch(p.recv_ns.saturating_sub(l), quiet_ns));
        last_recv = Some(p.recv_ns);
        if new_burst && let Some(h) = held.take() {
            run(&h, &mut n);
        }
        match decode(&p.bytes, clock.now_ns()) {
            Ok(Decoded::Frame(f)) => {
                n.frames += 1;
                if let Some(mut h) = held.take() {
                    if more_in_batch(&h, &f, false) {
                        h.flags |= FLAG_MORE_IN_BATCH;
                    }
                    run(&h, &mut n);
                }
                held = Some(f);
            }
            Ok(_) => n.other += 1,
            Err(_) => n.decode_errors += 1,
        }
    }
    if let Some(h) = held.take() {
        run(&h, &mut n);
    }
    n
}

#[cfg(test)]
mod tests {
    use std::fs;

    use alloy_primitives::Keccak256;
    use polyarb_core::TxFrame;
    use polyarb_engine::{
        app::replay::{ReplayArgs, replay},
        clock::MonoClock,
    };
    use polyarb_feeds::RecordWriter;

    use super::*;

    #[test]
    fn sample_loads_and_every_payload_decodes() {
        let s = Sample::load().expect("sample loads");
        assert!(!s.payloads.is_empty());
        // The sample exercises every frame kind, and every payload is one of them.
        let kinds = [
            FrameKind::V2Sync,
            FrameKind::NewHead,
            FrameKind::ClSwap,
            FrameKind::ClMint,
            FrameKind::ClBurn,
            FrameKind::AlgebraFee,
        ];
        let counts: Vec<usize> = kinds.iter().map(|&k| s.payloads_of(k).len()).collect();
        assert!(counts.iter().all(|&n| n > 0), "{kinds:?}: {counts:?}");
        assert_eq!(counts.iter().sum::<usize>(), s.payloads.len());
        assert_eq!(s.frames().len(), s.payloads.len());
    }

    #[test]
    fn pass_counts_match_the_engine_and_every_opportunity_signs() {
        let s = Sample::load().expect("sample loads");
        let mut engine = s.engine().expect("engine");
        let mut builder = s
            .tx_builder(polyarb_signer::coupon_ring(0).1)
            .expect("builder");
        let clock = MonoClock::new();
        let mut tx = TxFrame::EMPTY;
        let mut signed = 0u64;
        let n = replay_pass(
            &s.payloads,
            s.config.node.batch_quiet_ns(),
            &mut engine,
            &clock,
            |opp| {
                if builder.build(opp, &clock, &mut tx).is_ok() {
                    signed += 1;
                }
            },
        );
        assert_eq!(n.payloads, s.payloads.len() as u64);
        assert_eq!(n.frames, n.payloads);
        assert_eq!(n.decode_errors + n.other, 0);
        assert_eq!(n.opportunities, engine.stats().opportunities);
        assert!(n.opportunities > 0, "the sample should exercise the signer");
        assert_eq!(signed, n.opportunities);
        assert_eq!(
            s.opportunities().expect("engine").len() as u64,
            n.opportunities
        );
    }

    /// The bench's single-threaded pass signs byte-for-byte what `polyarb replay` (three
    /// pinned stages and rings) signs, so the bench measures the real workload. A prefix of the
    /// sample keeps the debug-build test short.
    #[test]
    fn pass_signs_what_polyarb_replay_signs() {
        const PREFIX: usize = 150;
        let s = Sample::load().expect("sample loads");
        let dir = std::env::temp_dir().join(format!("polyarb-bench-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let rec = dir.join("prefix.rec");
        let mut w = RecordWriter::new(File::create(&rec).expect("create"), 0, "bench test")
            .expect("header");
        for p in s.payloads.iter().take(PREFIX) {
            w.write(p.recv_ns, &p.bytes).expect("write");
        }
        w.flush().expect("flush");
        drop(w);

        let data = Sample::data_dir();
        let summary = replay(&ReplayArgs {
            recording: rec,
            snapshot: data.join("sample.snapshot.json"),
            config: data.join("sample.toml"),
            opportunities: None,
            txs: None,
            speed: 0.0,
            rfc6979: false,
            journal: None,
        })
        .expect("replay runs");
        fs::remove_dir_all(&dir).ok();

        let mut engine = s.engine().expect("engine");
        let mut builder = s
            .tx_builder(polyarb_signer::coupon_ring(0).1)
            .expect("builder");
        let clock = MonoClock::new();
        let mut tx = TxFrame::EMPTY;
        let mut digest = Keccak256::new();
        let mut signed = 0u64;
        replay_pass(
            &s.payloads[..PREFIX],
            s.config.node.batch_quiet_ns(),
            &mut engine,
            &clock,
            |opp| {
                builder.build(opp, &clock, &mut tx).expect("signs");
                digest.update(polyarb_signer::unsigned_fields(tx.raw()).expect("a transaction"));
                signed += 1;
            },
        );
        assert!(signed > 0);
        assert_eq!(summary.outcome.port.txs, signed);
        assert_eq!(
            summary.outcome.port.digest(),
            digest.finalize().0,
            "signed transactions differ from `polyarb replay` (is POLYARB_EXECUTOR set in the environment?)"
        );
    }
}
