//! Random numbers drawn on the GPU (Philox; the same streams as `cpu/random.rs`).

use super::context::{gpu, Gpu};
use super::kernels::Family;
use super::launch::{launch, lay, new_storage, ptr, sfx};
use crate::backend::{Distribution, RandomKernels, Strided};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;

pub(super) fn kernel_names() -> Vec<String> {
    let mut v = vec!["philox_int".to_string()];
    for dt in [DType::F16, DType::BF16, DType::F32, DType::F64] {
        v.push(format!("philox_{}", sfx(dt)));
        v.push(format!("bernoulli_{}", sfx(dt)));
    }
    v
}

impl RandomKernels for Gpu {
    fn philox_fill(
        &self,
        len: usize,
        dtype: DType,
        dist: Distribution,
        seed: u64,
        offset: u64,
    ) -> Result<Storage> {
        let g = gpu(self.index)?;
        let n = len as i64;
        if let Distribution::Integers { low, span } = dist {
            let out = new_storage(g, len, DType::I64)?;
            if len > 0 {
                let (o, span) = (ptr(&out)?, span.max(1));
                launch!(g, Family::Random, "philox_int", g.grid(len.div_ceil(2));
                    o, n, seed, offset, low, span)?;
            }
            return Ok(out);
        }
        if !dtype.is_float() {
            return Err(Error::Runtime(format!(
                "philox_fill: {} draws need a float dtype",
                dtype.name()
            )));
        }
        let (code, a, b) = match dist {
            Distribution::Uniform { lo, hi } => (0i32, lo, hi),
            Distribution::Normal { mean, std } => (1, mean, std),
            Distribution::Bernoulli { p } => (2, p, 0.0),
            Distribution::Integers { .. } => (0, 0.0, 1.0),
        };
        let out = new_storage(g, len, dtype)?;
        if len > 0 {
            let o = ptr(&out)?;
            let name = format!("philox_{}", sfx(dtype));
            launch!(g, Family::Random, name, g.grid(len.div_ceil(2));
                code, o, n, seed, offset, a, b)?;
        }
        Ok(out)
    }

    fn philox_bernoulli(&self, p: Strided, seed: u64, offset: u64) -> Result<Storage> {
        let g = gpu(self.index)?;
        let dt = p.dtype();
        if !dt.is_float() {
            return Err(Error::Runtime(format!(
                "bernoulli: probabilities must be floating point, got {}",
                dt.name()
            )));
        }
        let len = p.numel();
        let out = new_storage(g, len, dt)?;
        if len > 0 {
            let (pp, lp, o, n) = (ptr(p.storage)?, lay(p.layout)?, ptr(&out)?, len as i64);
            let name = format!("bernoulli_{}", sfx(dt));
            launch!(g, Family::Random, name, g.grid(len.div_ceil(2)); pp, lp, o, n, seed, offset)?;
        }
        Ok(out)
    }
}
