//! A small seeded generator for the benches' synthetic markets (`synthetic`, and the clmm
//! bench's table in `src/clmm_cases.rs`): SplitMix64, the same sequence as
//! `polyarb_tools::SplitMix64`, without making polyarb-tools (an HTTP client and a CLI parser) a
//! dependency of a crate of benches.

use alloy_primitives::Address;

/// SplitMix64 with the draws the generators need.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here; 0 for `n` = 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-uniform in `[lo, hi)`.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }

    /// An index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut x = self.below(weights.iter().sum());
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// A random pool address, never in the `0x70…` range where [`token_address`] puts tokens.
    pub fn address(&mut self) -> Address {
        let mut b = [0u8; 20];
        for chunk in b.chunks_mut(8) {
            let w = self.next_u64().to_be_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        if b[0] == 0x70 {
            b[0] = 0x71;
        }
        Address::from(b)
    }
}

/// Token `id`'s address: `0x70…` then the id, so addresses sort by id and a pool's token0 is
/// its lower id.
pub fn token_address(id: usize) -> Address {
    let mut b = [0u8; 20];
    b[0] = 0x70;
    b[12..].copy_from_slice(&(id as u64).to_be_bytes());
    Address::from(b)
}
