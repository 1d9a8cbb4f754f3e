//! A whole LSTM layer's recurrence as one kernel each way. Each step runs its recurrent GEMM
//! mirrored (`zᵀ = W_hh·hᵀ` forward, `dhᵀ = W_hhᵀ·dzᵀ` backward) with both operands
//! row-major: gemm is much faster with the 4H (or H) weight rows as its long side than with
//! the few batch rows. One fused pass per step then activates the gates and updates the
//! states (forward) or forms the gate gradients (backward). Scratch buffers are made once per
//! layer, and the gates, states and gradients are written straight into their final buffers.

use super::matmul::gemm_call;
use super::transpose::transpose_block;
use super::{contiguous_or_gathered, try_output, try_zeroed, CpuBackend};
use crate::backend::{LstmLayerGrads, LstmLayerOut, Strided};
use crate::dtype::{DType, Elem};
use crate::error::Result;
use crate::storage::Storage;
use num_traits::Float;

/// σ and tanh for the working type (SIMD-friendly float32 versions for f32).
trait Act: Float + Elem + Send + Sync {
    fn tanh_(self) -> Self;
    fn sigmoid_all(x: &[Self], y: &mut [Self]);
    fn tanh_all(x: &[Self], y: &mut [Self]);
}

impl Act for f32 {
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
    fn tanh_(self) -> f64 {
        self.tanh()
    }
    fn sigmoid_all(x: &[f64], y: &mut [f64]) {
        y.iter_mut()
            .zip(x)
            .for_each(|(o, &v)| *o = 1.0 / (1.0 + (-v).exp()));
    }
    fn tanh_all(x: &[f64], y: &mut [f64]) {
        y.iter_mut().zip(x).for_each(|(o, &v)| *o = v.tanh());
    }
}

/// `dst [cols, rows] = srcᵀ` for a row-major `src [rows, cols]`.
fn transpose<F: Elem>(src: &[F], rows: usize, cols: usize, dst: &mut [F]) {
    transpose_block(src, 0, cols, dst, 0, rows, 0..cols, rows, 0);
}

/// `dst [m, n] = a [m, k] · b [k, n]`, all row-major and on this thread (a step's GEMM is
/// too small for the pool).
fn gemm_rows<F: Elem>(dst: &mut [F], a: &[F], b: &[F], (m, n, k): (usize, usize, usize)) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    // SAFETY: the three buffers are separate and hold the m×n, m×k and k×n elements
    // addressed with these strides (asserted above).
    unsafe {
        gemm_call(
            dst,
            a.as_ptr(),
            [0, k, 1],
            b.as_ptr(),
            [0, n, 1],
            m,
            n,
            k,
            gemm::Parallelism::None,
        )
    }
}

#[derive(Clone, Copy)]
struct Dims {
    steps: usize,
    n: usize,
    h: usize,
    reverse: bool,
}

impl Dims {
    /// The time step handled at processing step `k`.
    fn time(&self, k: usize) -> usize {
        if self.reverse {
            self.steps - 1 - k
        } else {
            k
        }
    }
}

struct Inputs<'a, F> {
    xw: &'a [F],
    h0: &'a [F],
    c0: &'a [F],
    w: &'a [F],
    b: Option<&'a [F]>,
}

fn forward<F: Act>(x: Inputs<F>, d: Dims) -> Result<LstmLayerOut> {
    let (n, h) = (d.n, d.h);
    let (nh, g4) = (n * h, 4 * h);
    let mut packed = try_output::<F>((d.steps + 1) * nh)?;
    let mut gates = try_output::<F>(d.steps * n * g4)?;
    let mut cells = try_output::<F>((d.steps + 1) * nh)?;
    let mut h_in = try_output::<F>(d.steps * nh)?;
    let (mut ht, mut zt, mut z) = (
        try_output::<F>(nh)?,
        try_output::<F>(n * g4)?,
        try_output::<F>(n * g4)?,
    );
    cells[..nh].copy_from_slice(x.c0);
    transpose(x.h0, n, h, &mut ht);
    for k in 0..d.steps {
        let t = d.time(k);
        let prev = if k == 0 {
            x.h0
        } else {
            let tp = d.time(k - 1);
            &packed[tp * nh..(tp + 1) * nh]
        };
        h_in[t * nh..(t + 1) * nh].copy_from_slice(prev);
        gemm_rows(&mut zt, x.w, &ht, (g4, n, h));
        transpose(&zt, g4, n, &mut z);
        let xt = &x.xw[t * n * g4..(t + 1) * n * g4];
        for (zr, xr) in z.chunks_exact_mut(g4).zip(xt.chunks_exact(g4)) {
            match x.b {
                Some(b) => zr
                    .iter_mut()
                    .zip(xr.iter().zip(b))
                    .for_each(|(v, (&a, &bv))| *v = *v + a + bv),
                None => zr.iter_mut().zip(xr).for_each(|(v, &a)| *v = *v + a),
            }
        }
        let act = &mut gates[k * n * g4..(k + 1) * n * g4];
        for (blk, (src, out)) in z.chunks_exact(h).zip(act.chunks_exact_mut(h)).enumerate() {
            // Block 2 of each row (the cell candidate) takes tanh, the others σ.
            if blk % 4 == 2 {
                F::tanh_all(src, out);
            } else {
                F::sigmoid_all(src, out);
            }
        }
        let (before, after) = cells.split_at_mut((k + 1) * nh);
        let (cp, cn) = (&before[k * nh..], &mut after[..nh]);
        let hn = &mut packed[t * nh..(t + 1) * nh];
        for row in 0..n {
            let a = &act[row * g4..(row + 1) * g4];
            let (i, rest) = a.split_at(h);
            let (f, rest) = rest.split_at(h);
            let (g, o) = rest.split_at(h);
            let r = row * h..(row + 1) * h;
            let (cp, co, ho) = (&cp[r.clone()], &mut cn[r.clone()], &mut hn[r]);
            for j in 0..h {
                let c = f[j] * cp[j] + i[j] * g[j];
                co[j] = c;
                ho[j] = o[j] * c.tanh_();
            }
        }
        transpose(hn, n, h, &mut ht);
    }
    let last = d.steps * nh;
    packed[last..].copy_from_slice(&cells[last..]);
    Ok(LstmLayerOut {
        packed: Storage::from_vec(packed),
        gates: Storage::from_vec(gates),
        cells: Storage::from_vec(cells),
        h_in: Storage::from_vec(h_in),
    })
}

/// Back-propagation through time; `wt` is `W_hhᵀ` `[H, 4H]` row-major.
fn backward<F: Act>(
    grad: &[F],
    gates: &[F],
    cells: &[F],
    wt: &[F],
    d: Dims,
) -> Result<LstmLayerGrads> {
    let (n, h) = (d.n, d.h);
    let (nh, g4) = (n * h, 4 * h);
    let one = F::one();
    let mut dxw = try_output::<F>(d.steps * n * g4)?;
    // The hidden-state gradient carried from the later step, and the cell-state gradient.
    let mut dh = try_zeroed::<F>(nh)?;
    let mut dc = grad[d.steps * nh..(d.steps + 1) * nh].to_vec();
    let (mut dzt, mut dht) = (try_output::<F>(n * g4)?, try_output::<F>(nh)?);
    for k in (0..d.steps).rev() {
        let t = d.time(k);
        dh.iter_mut()
            .zip(&grad[t * nh..(t + 1) * nh])
            .for_each(|(a, &b)| *a = *a + b);
        let act = &gates[k * n * g4..(k + 1) * n * g4];
        let (cp, cn) = (
            &cells[k * nh..(k + 1) * nh],
            &cells[(k + 1) * nh..(k + 2) * nh],
        );
        let dz = &mut dxw[t * n * g4..(t + 1) * n * g4];
        for row in 0..n {
            let a = &act[row * g4..(row + 1) * g4];
            let (ai, rest) = a.split_at(h);
            let (af, rest) = rest.split_at(h);
            let (ag, ao) = rest.split_at(h);
            let dr = &mut dz[row * g4..(row + 1) * g4];
            let (di, rest) = dr.split_at_mut(h);
            let (df, rest) = rest.split_at_mut(h);
            let (dg, dout) = rest.split_at_mut(h);
            let r = row * h..(row + 1) * h;
            let (cp, cn, dhr, dcr) = (&cp[r.clone()], &cn[r.clone()], &dh[r.clone()], &mut dc[r]);
            for j in 0..h {
                let (i, f, g, o) = (ai[j], af[j], ag[j], ao[j]);
                let tc = cn[j].tanh_();
                let dct = dcr[j] + dhr[j] * o * (one - tc * tc);
                di[j] = dct * g * i * (one - i);
                df[j] = dct * cp[j] * f * (one - f);
                dg[j] = dct * i * (one - g * g);
                dout[j] = dhr[j] * tc * o * (one - o);
                dcr[j] = dct * f;
            }
        }
        transpose(dz, n, g4, &mut dzt);
        gemm_rows(&mut dht, wt, &dzt, (h, n, g4));
        transpose(&dht, h, n, &mut dh);
    }
    Ok(LstmLayerGrads {
        xw: Storage::from_vec(dxw),
        h0: Storage::from_vec(dh),
        c0: Storage::from_vec(dc),
    })
}

/// `(T, N, H)` from `xw [T, N, 4H]` and a state `[N, H]`, when the kernel handles them.
fn dims(xw: Strided, state: Strided, reverse: bool) -> Option<Dims> {
    match (xw.shape(), state.shape()) {
        (&[steps, n, g4], &[n2, h]) if n == n2 && g4 == 4 * h && steps > 0 && n * h > 0 => {
            Some(Dims {
                steps,
                n,
                h,
                reverse,
            })
        }
        _ => None,
    }
}

fn float_kind(all: &[Strided]) -> Option<DType> {
    let dt = all[0].dtype();
    let ok = matches!(dt, DType::F32 | DType::F64) && all.iter().all(|s| s.dtype() == dt);
    ok.then_some(dt)
}

impl CpuBackend {
    pub(super) fn lstm_layer_forward(
        &self,
        xw: Strided,
        (h0, c0): (Strided, Strided),
        w_hh: Strided,
        b_hh: Option<Strided>,
        reverse: bool,
    ) -> Result<Option<LstmLayerOut>> {
        let Some(d) = dims(xw, h0, reverse) else {
            return Ok(None);
        };
        let mut all = vec![xw, h0, c0, w_hh];
        all.extend(b_hh);
        if c0.shape() != h0.shape() || w_hh.shape() != [4 * d.h, d.h] {
            return Ok(None);
        }
        macro_rules! run {
            ($F:ty) => {{
                let xs = contiguous_or_gathered::<$F>(xw)?;
                let (hs, cs) = (
                    contiguous_or_gathered::<$F>(h0)?,
                    contiguous_or_gathered::<$F>(c0)?,
                );
                let ws = contiguous_or_gathered::<$F>(w_hh)?;
                let bs = b_hh.map(contiguous_or_gathered::<$F>).transpose()?;
                let inputs = Inputs {
                    xw: &xs,
                    h0: &hs,
                    c0: &cs,
                    w: &ws,
                    b: bs.as_deref(),
                };
                Ok(Some(forward::<$F>(inputs, d)?))
            }};
        }
        match float_kind(&all) {
            Some(DType::F32) => run!(f32),
            Some(DType::F64) => run!(f64),
            _ => Ok(None),
        }
    }

    pub(super) fn lstm_layer_grads(
        &self,
        grad: Strided,
        (gates, cells): (Strided, Strided),
        w_hh: Strided,
        reverse: bool,
    ) -> Result<Option<LstmLayerGrads>> {
        let (steps, n, h) = match gates.shape() {
            &[s, n, g4] if g4 % 4 == 0 => (s, n, g4 / 4),
            _ => return Ok(None),
        };
        let d = Dims {
            steps,
            n,
            h,
            reverse,
        };
        let state = [steps + 1, n, h];
        if grad.shape() != state || cells.shape() != state || w_hh.shape() != [4 * h, h] {
            return Ok(None);
        }
        macro_rules! run {
            ($F:ty) => {{
                let gs = contiguous_or_gathered::<$F>(grad)?;
                let acts = contiguous_or_gathered::<$F>(gates)?;
                let cs = contiguous_or_gathered::<$F>(cells)?;
                let w = contiguous_or_gathered::<$F>(w_hh)?;
                let mut wt = try_output::<$F>(w.len())?;
                transpose(&w, 4 * h, h, &mut wt);
                Ok(Some(backward::<$F>(&gs, &acts, &cs, &wt, d)?))
            }};
        }
        match float_kind(&[grad, gates, cells, w_hh]) {
            Some(DType::F32) => run!(f32),
            Some(DType::F64) => run!(f64),
            _ => Ok(None),
        }
    }
}
