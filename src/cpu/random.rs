//! Philox streams on the CPU: the reference the GPU kernels reproduce bit for bit (the
//! default CPU generator stays the seeded xoshiro stream of `tensor/random.rs`).

use super::{map_elems, CpuBackend};
use crate::backend::{philox, unit24, unit53, Distribution, RandomKernels, Strided};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// Element `j` of a Philox stream, as f64 (or the int64 bit pattern for `Integers`).
pub fn philox_value(dist: Distribution, dtype: DType, seed: u64, offset: u64, j: u64) -> f64 {
    let per = dist.per_counter(dtype);
    let w = philox(offset.wrapping_add(j / per), seed);
    let lane = (j % per) as usize;
    let unit = |l: usize| {
        if per == 2 {
            unit53(w[2 * l], w[2 * l + 1])
        } else {
            unit24(w[l])
        }
    };
    match dist {
        Distribution::Uniform { lo, hi } => lo + (hi - lo) * unit(lane),
        Distribution::Bernoulli { p } => (unit(lane) < p) as u8 as f64,
        Distribution::Normal { mean, std } => {
            let (u1, u2) = if per == 2 {
                (1.0 - unit53(w[0], w[1]), unit53(w[2], w[3]))
            } else {
                let pair = lane / 2;
                (1.0 - unit24(w[2 * pair]), unit24(w[2 * pair + 1]))
            };
            let r = (-2.0 * u1.ln()).sqrt();
            let t = 2.0 * std::f64::consts::PI * u2;
            mean + std
                * if lane.is_multiple_of(2) {
                    r * t.cos()
                } else {
                    r * t.sin()
                }
        }
        Distribution::Integers { .. } => 0.0,
    }
}

/// Element `j` of an `Integers` stream.
pub fn philox_integer(low: i64, span: u64, seed: u64, offset: u64, j: u64) -> i64 {
    let w = philox(offset.wrapping_add(j / 2), seed);
    let l = (j % 2) as usize;
    let r = ((w[2 * l] as u64) << 32) | w[2 * l + 1] as u64;
    low.wrapping_add((r % span.max(1)) as i64)
}

impl RandomKernels for CpuBackend {
    fn philox_fill(
        &self,
        len: usize,
        dtype: DType,
        dist: Distribution,
        seed: u64,
        offset: u64,
    ) -> Result<Storage> {
        if let Distribution::Integers { low, span } = dist {
            let mut v = super::try_output::<i64>(len)?;
            for (j, o) in v.iter_mut().enumerate() {
                *o = philox_integer(low, span, seed, offset, j as u64);
            }
            return Ok(Storage::from_vec(v));
        }
        if !dtype.is_float() {
            return Err(Error::Runtime(format!(
                "philox_fill: {} draws need a float dtype",
                dtype.name()
            )));
        }
        crate::with_dtype!(dtype, T, {
            let mut v = super::try_output::<T>(len)?;
            for (j, o) in v.iter_mut().enumerate() {
                *o = T::from_f64(philox_value(dist, dtype, seed, offset, j as u64));
            }
            Ok(Storage::from_vec(v))
        })
    }

    fn philox_bernoulli(&self, p: Strided, seed: u64, offset: u64) -> Result<Storage> {
        let dt = p.dtype();
        let probs = crate::with_dtype!(dt, T, map_elems::<T, f64>(p, |x| x.to_f64())?);
        crate::with_dtype!(dt, T, {
            let mut v = super::try_output::<T>(probs.len())?;
            for (j, (o, &q)) in v.iter_mut().zip(&probs).enumerate() {
                let d = Distribution::Bernoulli { p: q };
                *o = T::from_f64(philox_value(d, dt, seed, offset, j as u64));
            }
            Ok(Storage::from_vec(v))
        })
    }
}
