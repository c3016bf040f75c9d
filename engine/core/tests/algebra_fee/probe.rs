//! The node side: anvil with the real `DataStorageOperator` creation code and the
//! `AlgebraFeeProbe` contract (contracts/test/utils/AlgebraFeeProbe.sol, which documents the packed
//! program and result formats encoded and read here).

use std::path::PathBuf;

use alloy_primitives::{Address, Bytes, I256, U256, keccak256};
use polyarb_core::clmm::algebra_fee::FeeConfig;
use polyarb_tools::{Anvil, AnvilOpts, Rpc, Toolchain, load_bytecode};

/// The npm build is above EIP-170's 24,576 bytes.
const CODE_SIZE_LIMIT: &str = "65536";
/// Block gas limit of the node; one `run` may use most of it (a long FILL).
const GAS_LIMIT: u64 = 200_000_000_000;
const NPM_OPERATOR: &str = "tools/toolchain/node_modules/@cryptoalgebra/core/artifacts/contracts/DataStorageOperator.sol/DataStorageOperator.json";
const PROBE: &str = "contracts/out/AlgebraFeeProbe.sol/AlgebraFeeProbe.json";
/// Longest revert data the probe reports.
const MAX_REVERT: usize = 256;

/// One operation of a probe program, with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Config(FeeConfig),
    Init {
        time: u32,
        tick: i32,
    },
    Write {
        index: u16,
        time: u32,
        tick: i32,
        liquidity: u128,
        volume: u128,
    },
    Fee(Query),
    Averages(Query),
    Timepoints {
        q: Query,
        ago: Vec<u32>,
    },
    Timepoint {
        index: u16,
    },
    Volume {
        liquidity: u128,
        amount0: I256,
        amount1: I256,
    },
    Fill(Fill),
}

/// The arguments of `getFee`, `getAverages` and `getTimepoints`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    pub time: u32,
    pub tick: i32,
    pub index: u16,
    pub liquidity: u128,
}

/// `FILL`: `n` writes from the probe's generator (see [`fill_step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub index: u16,
    pub time: u32,
    pub n: u32,
    pub seed: u64,
    pub max_dt: u32,
    pub vol_mode: u8,
}

/// One FILL write: `(next seed, dt, tick, liquidity, volume)`, as `AlgebraFeeProbe.fillStep`.
pub fn fill_step(s: u64, max_dt: u32, vol_mode: u8) -> (u64, u32, i32, u128, u128) {
    const A: u64 = 6364136223846793005;
    const C: u64 = 1442695040888963407;
    let wide = |s: u64| ((u128::from(s) << 64) | u128::from(s ^ (s >> 29))) >> (s >> 57);
    let s = s.wrapping_mul(A).wrapping_add(C);
    let dt = 1 + ((s >> 33) % u64::from(max_dt)) as u32;
    let s = s.wrapping_mul(A).wrapping_add(C);
    let tick = ((s >> 11) % 1_774_545) as i32 - 887_272;
    let s = s.wrapping_mul(A).wrapping_add(C);
    let liquidity = wide(s);
    let s = s.wrapping_mul(A).wrapping_add(C);
    let volume = if vol_mode == 1 { u128::MAX } else { wide(s) };
    (s, dt, tick, liquidity, volume)
}

impl Op {
    /// Bytes of the result when the call succeeds (after the status byte).
    pub fn ok_len(&self) -> usize {
        match self {
            Self::Config(_) | Self::Init { .. } => 0,
            Self::Write { .. } => 2 + 64,
            Self::Fee(_) => 2,
            Self::Averages(_) => 14 + 32,
            Self::Timepoints { ago, .. } => 73 * ago.len(),
            Self::Timepoint { .. } => 64,
            Self::Volume { .. } => 16,
            Self::Fill(_) => 2 + 4 + 64,
        }
    }

    /// Most bytes the result can take.
    fn max_len(&self) -> usize {
        1 + self.ok_len().max(2 + MAX_REVERT)
    }

    fn encode(&self, p: &mut Vec<u8>) {
        match self {
            Self::Config(c) => {
                p.push(0x01);
                be(p, c.alpha1.into(), 2);
                be(p, c.alpha2.into(), 2);
                be(p, c.beta1.into(), 4);
                be(p, c.beta2.into(), 4);
                be(p, c.gamma1.into(), 2);
                be(p, c.gamma2.into(), 2);
                be(p, c.volume_beta.into(), 4);
                be(p, c.volume_gamma.into(), 2);
                be(p, c.base_fee.into(), 2);
            }
            Self::Init { time, tick } => {
                p.push(0x02);
                be(p, (*time).into(), 4);
                be(p, *tick as u128, 3);
            }
            Self::Write {
                index,
                time,
                tick,
                liquidity,
                volume,
            } => {
                p.push(0x03);
                be(p, (*index).into(), 2);
                be(p, (*time).into(), 4);
                be(p, *tick as u128, 3);
                be(p, *liquidity, 16);
                be(p, *volume, 16);
            }
            Self::Fee(q) => {
                p.push(0x04);
                query(p, q);
            }
            Self::Averages(q) => {
                p.push(0x05);
                query(p, q);
            }
            Self::Timepoints { q, ago } => {
                p.push(0x06);
                query(p, q);
                p.push(ago.len() as u8);
                for a in ago {
                    be(p, (*a).into(), 4);
                }
            }
            Self::Timepoint { index } => {
                p.push(0x07);
                be(p, (*index).into(), 2);
            }
            Self::Volume {
                liquidity,
                amount0,
                amount1,
            } => {
                p.push(0x08);
                be(p, *liquidity, 16);
                p.extend_from_slice(&amount0.into_raw().to_be_bytes::<32>());
                p.extend_from_slice(&amount1.into_raw().to_be_bytes::<32>());
            }
            Self::Fill(f) => {
                p.push(0x09);
                be(p, f.index.into(), 2);
                be(p, f.time.into(), 4);
                be(p, f.n.into(), 4);
                be(p, f.seed.into(), 8);
                be(p, f.max_dt.into(), 4);
                p.push(f.vol_mode);
            }
        }
    }
}

fn query(p: &mut Vec<u8>, q: &Query) {
    be(p, q.time.into(), 4);
    be(p, q.tick as u128, 3);
    be(p, q.index.into(), 2);
    be(p, q.liquidity, 16);
}

/// The low `n` bytes of `v`, big-endian.
fn be(p: &mut Vec<u8>, v: u128, n: usize) {
    p.extend_from_slice(&v.to_be_bytes()[16 - n..]);
}

/// What the real operator answered to one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The packed outputs.
    Ok(Vec<u8>),
    /// The revert data.
    Reverted(Vec<u8>),
}

/// anvil with the probe deployed.
pub struct Lab {
    _anvil: Anvil,
    rpc: Rpc,
    from: Address,
    probe: Address,
    operator_code: Bytes,
}

impl Lab {
    /// Starts anvil and deploys the probe. Needs the toolchain and `forge build` in contracts/.
    pub fn start() -> Lab {
        let root = Toolchain::locate().root().to_path_buf();
        let artifact = |rel: &str| -> PathBuf {
            let path = root.join(rel);
            assert!(
                path.is_file(),
                "{} missing: run tools/toolchain/install.sh and `forge build` in contracts/",
                path.display()
            );
            path
        };
        let operator_code = load_bytecode(&artifact(NPM_OPERATOR)).expect("operator bytecode");
        let probe_code = load_bytecode(&artifact(PROBE)).expect("probe bytecode");
        let anvil = Anvil::start(AnvilOpts {
            extra_args: vec![
                "--code-size-limit".to_owned(),
                CODE_SIZE_LIMIT.to_owned(),
                "--gas-limit".to_owned(),
                GAS_LIMIT.to_string(),
            ],
            ..AnvilOpts::default()
        })
        .expect("anvil");
        let rpc = anvil.rpc();
        let from = anvil.accounts()[0];
        let (probe, _) = rpc
            .deploy(from, probe_code)
            .expect("deploy AlgebraFeeProbe");
        Lab {
            _anvil: anvil,
            rpc,
            from,
            probe,
            operator_code,
        }
    }

    /// Runs `ops` on a fresh operator in one `eth_call`; one answer per operation.
    pub fn run(&self, ops: &[Op]) -> Vec<Answer> {
        let mut program = Vec::new();
        let mut cap = 0;
        for op in ops {
            op.encode(&mut program);
            cap += op.max_len();
        }
        let data = encode_run(&self.operator_code, &program, cap);
        let out = self
            .rpc
            .eth_call_with_gas(
                Some(self.from),
                self.probe,
                &data,
                GAS_LIMIT - 1_000_000,
                "latest",
            )
            .unwrap_or_else(|e| panic!("AlgebraFeeProbe.run: {e}"));
        let results = decode_run(&out);
        let mut answers = Vec::with_capacity(ops.len());
        let mut at = 0;
        for op in ops {
            let status = results[at];
            at += 1;
            if status == 1 {
                let n = op.ok_len();
                answers.push(Answer::Ok(results[at..at + n].to_vec()));
                at += n;
            } else {
                let n = usize::from(u16::from_be_bytes([results[at], results[at + 1]]));
                answers.push(Answer::Reverted(results[at + 2..at + 2 + n].to_vec()));
                at += 2 + n;
            }
        }
        assert_eq!(at, results.len(), "probe results longer than the program's");
        answers
    }
}

/// Calldata of `run(bytes creationCode, bytes program, uint256 outCap)`.
fn encode_run(code: &[u8], program: &[u8], cap: usize) -> Vec<u8> {
    let word = |v: usize| U256::from(v).to_be_bytes::<32>();
    let padded = |b: &[u8]| b.len().div_ceil(32) * 32;
    let mut d = keccak256("run(bytes,bytes,uint256)")[..4].to_vec();
    d.extend_from_slice(&word(0x60));
    d.extend_from_slice(&word(0x60 + 32 + padded(code)));
    d.extend_from_slice(&word(cap));
    for b in [code, program] {
        d.extend_from_slice(&word(b.len()));
        d.extend_from_slice(b);
        d.resize(d.len() + padded(b) - b.len(), 0);
    }
    d
}

/// The `bytes out` of `run`'s `(address, bytes)` return.
fn decode_run(out: &[u8]) -> &[u8] {
    let word = |at: usize| U256::from_be_slice(&out[at..at + 32]).to::<usize>();
    let offset = word(32);
    let len = word(offset);
    &out[offset + 32..offset + 32 + len]
}
