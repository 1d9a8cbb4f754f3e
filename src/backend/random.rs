//! Counter-based random numbers (Philox4x32-10): element streams are a pure function of
//! (seed, offset, position), so a device generates them in parallel where they are used and
//! every backend produces the same bits for the same seed.

use super::Strided;
use crate::dtype::DType;
use crate::error::Result;
use crate::storage::Storage;

/// What `philox_fill` draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Uniform on [lo, hi).
    Uniform { lo: f64, hi: f64 },
    /// Normal (Box–Muller).
    Normal { mean: f64, std: f64 },
    /// 1 with probability p, else 0.
    Bernoulli { p: f64 },
    /// Integers `low + (r mod span)` (int64 output; `span > 0`).
    Integers { low: i64, span: u64 },
}

impl Distribution {
    /// Elements drawn from one counter (four 32-bit words): 4 floats or 2 doubles / int64s.
    pub fn per_counter(self, dtype: DType) -> u64 {
        match self {
            Distribution::Integers { .. } => 2,
            _ if dtype == DType::F64 => 2,
            _ => 4,
        }
    }
}

pub const PHILOX_M: [u32; 2] = [0xD251_1F53, 0xCD9E_8D57];
pub const PHILOX_W: [u32; 2] = [0x9E37_79B9, 0xBB67_AE85];

/// Philox4x32-10: ten rounds on a 128-bit counter under a 64-bit key.
pub fn philox_block(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(PHILOX_W[0]);
            k[1] = k[1].wrapping_add(PHILOX_W[1]);
        }
        let p0 = PHILOX_M[0] as u64 * c[0] as u64;
        let p1 = PHILOX_M[1] as u64 * c[2] as u64;
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k[0],
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// The four words of counter `(counter, 0)` under key `seed`.
pub fn philox(counter: u64, seed: u64) -> [u32; 4] {
    philox_block(
        [counter as u32, (counter >> 32) as u32, 0, 0],
        [seed as u32, (seed >> 32) as u32],
    )
}

/// Uniform in [0, 1) from 24 bits (float types) or from two words with 53 bits (double).
pub fn unit24(w: u32) -> f64 {
    (w >> 8) as f64 * (1.0 / (1u64 << 24) as f64)
}
pub fn unit53(hi: u32, lo: u32) -> f64 {
    ((((hi as u64) << 32) | lo as u64) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

pub trait RandomKernels {
    /// `len` draws of `dist` as `dtype` (floats; int64 for `Integers`), element `j` from
    /// counter `offset + j / per_counter` under key `seed`.
    fn philox_fill(
        &self,
        len: usize,
        dtype: DType,
        dist: Distribution,
        seed: u64,
        offset: u64,
    ) -> Result<Storage>;

    /// Bernoulli draws with per-element probabilities `p` (a float view), in `p`'s dtype and
    /// shape (contiguous), one counter per 4 elements as `philox_fill`.
    fn philox_bernoulli(&self, p: Strided, seed: u64, offset: u64) -> Result<Storage>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_matches_the_published_known_answers() {
        assert_eq!(
            philox_block([0; 4], [0; 2]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox_block([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox_block(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }
}
