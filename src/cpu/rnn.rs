//! The elementwise part of an LSTM step as one kernel each way: every (row, unit) reads its
//! four gate pre-activations once and writes the states (and, backward, the four gate
//! gradients), instead of a dozen full-size elementwise passes.

use super::{contiguous_or_gathered, try_output, CpuBackend};
use crate::backend::{LstmCellOut, Strided};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::storage::Storage;
use num_traits::Float;

/// σ and tanh for the working type (SIMD-friendly float32 versions for f32).
trait Act: Float + Elem + Send + Sync {
    fn sigmoid(self) -> Self;
    fn tanh_(self) -> Self;
    fn sigmoid_all(x: &[Self], y: &mut [Self]) {
        y.iter_mut().zip(x).for_each(|(o, &v)| *o = v.sigmoid());
    }
    fn tanh_all(x: &[Self], y: &mut [Self]) {
        y.iter_mut().zip(x).for_each(|(o, &v)| *o = v.tanh_());
    }
}

impl Act for f32 {
    #[inline(always)]
    fn sigmoid(self) -> f32 {
        super::vmath::sigmoid_f32(self)
    }
    #[inline(always)]
    fn tanh_(self) -> f32 {
        super::vmath::tanh_f32(self)
    }
    fn sigmoid_all(x: &[f32], y: &mut [f32]) {
        super::vmath::map_f32(x, y, super::vmath::sigmoid_f32)
    }
    fn tanh_all(x: &[f32], y: &mut [f32]) {
        super::vmath::map_f32(x, y, super::vmath::tanh_f32)
    }
}

impl Act for f64 {
    #[inline(always)]
    fn sigmoid(self) -> f64 {
        1.0 / (1.0 + (-self).exp())
    }
    #[inline(always)]
    fn tanh_(self) -> f64 {
        self.tanh()
    }
}

/// Rows of `4h` gates handled per parallel task.
fn rows_per_task(n: usize, h: usize) -> usize {
    if super::parallel(n * h * 8) {
        n.div_ceil(8).max(1)
    } else {
        n.max(1)
    }
}

fn forward<F: Act>(z: &[F], c: &[F], n: usize, h: usize) -> Result<LstmCellOut> {
    let mut act = try_output::<F>(n * 4 * h)?;
    let rows = rows_per_task(n, h);
    // Activations first (one pass over the gates, a block of `h` at a time), then the states.
    super::for_each_chunk(&mut act, rows * 4 * h, n * h * 8, |blk, a| {
        let base = blk * rows * 4 * h;
        for (b, out) in a.chunks_mut(h).enumerate() {
            let src = &z[base + b * h..base + (b + 1) * h];
            // Block 2 of each row (the cell candidate) takes tanh, the others σ.
            if b % 4 == 2 {
                F::tanh_all(src, out);
            } else {
                F::sigmoid_all(src, out);
            }
        }
    });
    let (mut hv, mut cv) = (try_output::<F>(n * h)?, try_output::<F>(n * h)?);
    for row in 0..n {
        let a = &act[row * 4 * h..(row + 1) * 4 * h];
        let (i, rest) = a.split_at(h);
        let (f, rest) = rest.split_at(h);
        let (g, o) = rest.split_at(h);
        let r = row * h..(row + 1) * h;
        let (cp, ho, co) = (&c[r.clone()], &mut hv[r.clone()], &mut cv[r]);
        for j in 0..h {
            let cn = f[j] * cp[j] + i[j] * g[j];
            co[j] = cn;
            ho[j] = o[j] * cn.tanh_();
        }
    }
    Ok(LstmCellOut {
        h: Storage::from_vec(hv),
        c: Storage::from_vec(cv),
        gates: Storage::from_vec(act),
    })
}

struct Step<'a, F> {
    act: &'a [F],
    c_prev: &'a [F],
    c_new: &'a [F],
    dh: &'a [F],
    dc: &'a [F],
}

fn backward<F: Act>(s: Step<F>, n: usize, h: usize) -> Result<(Vec<F>, Vec<F>)> {
    let mut dz = try_output::<F>(n * 4 * h)?;
    let mut dcp = try_output::<F>(n * h)?;
    let one = F::one();
    for row in 0..n {
        let a = &s.act[row * 4 * h..(row + 1) * 4 * h];
        let (ai, rest) = a.split_at(h);
        let (af, rest) = rest.split_at(h);
        let (ag, ao) = rest.split_at(h);
        let d = &mut dz[row * 4 * h..(row + 1) * 4 * h];
        let (di, rest) = d.split_at_mut(h);
        let (df, rest) = rest.split_at_mut(h);
        let (dg, dout) = rest.split_at_mut(h);
        let r = row * h..(row + 1) * h;
        let (cp, cn, dh, dc) = (
            &s.c_prev[r.clone()],
            &s.c_new[r.clone()],
            &s.dh[r.clone()],
            &s.dc[r.clone()],
        );
        let dcp_row = &mut dcp[r];
        for j in 0..h {
            let (i, f, g, o) = (ai[j], af[j], ag[j], ao[j]);
            let tc = cn[j].tanh_();
            let dct = dc[j] + dh[j] * o * (one - tc * tc);
            di[j] = dct * g * i * (one - i);
            df[j] = dct * cp[j] * f * (one - f);
            dg[j] = dct * i * (one - g * g);
            dout[j] = dh[j] * tc * o * (one - o);
            dcp_row[j] = dct * f;
        }
    }
    Ok((dz, dcp))
}

fn dims(gates: Strided, c: Strided) -> Result<(usize, usize)> {
    match (gates.shape(), c.shape()) {
        (&[n, g4], &[n2, h]) if n == n2 && g4 == 4 * h => Ok((n, h)),
        (gs, cs) => Err(Error::Runtime(format!(
            "lstm_cell: expected gates [n, 4h] and a cell state [n, h], got {gs:?} and {cs:?}"
        ))),
    }
}

impl CpuBackend {
    pub(super) fn lstm_forward(&self, gates: Strided, c: Strided) -> Result<Option<LstmCellOut>> {
        let (n, h) = dims(gates, c)?;
        macro_rules! run {
            ($F:ty) => {{
                let (z, cs) = (
                    contiguous_or_gathered::<$F>(gates)?,
                    contiguous_or_gathered::<$F>(c)?,
                );
                Ok(Some(forward::<$F>(&z, &cs, n, h)?))
            }};
        }
        match (gates.dtype(), c.dtype()) {
            (DType::F32, DType::F32) => run!(f32),
            (DType::F64, DType::F64) => run!(f64),
            _ => Ok(None),
        }
    }

    pub(super) fn lstm_backward(
        &self,
        gates: Strided,
        c_prev: Strided,
        c_new: Strided,
        (dh, dc): (Strided, Strided),
    ) -> Result<Option<(Storage, Storage)>> {
        let (n, h) = dims(gates, c_prev)?;
        macro_rules! run {
            ($F:ty) => {{
                let act = contiguous_or_gathered::<$F>(gates)?;
                let cp = contiguous_or_gathered::<$F>(c_prev)?;
                let cn = contiguous_or_gathered::<$F>(c_new)?;
                let dhs = contiguous_or_gathered::<$F>(dh)?;
                let dcs = contiguous_or_gathered::<$F>(dc)?;
                let step = Step {
                    act: &act,
                    c_prev: &cp,
                    c_new: &cn,
                    dh: &dhs,
                    dc: &dcs,
                };
                let (dz, dcp) = backward::<$F>(step, n, h)?;
                Ok(Some((Storage::from_vec(dz), Storage::from_vec(dcp))))
            }};
        }
        let same = [c_prev, c_new, dh, dc]
            .iter()
            .all(|s| s.dtype() == gates.dtype());
        match gates.dtype() {
            DType::F32 if same => run!(f32),
            DType::F64 if same => run!(f64),
            _ => Ok(None),
        }
    }
}
