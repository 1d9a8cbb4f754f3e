//! A whole LSTM layer's recurrence as one kernel each way. Each step runs its recurrent GEMM
//! mirrored (`zᵀ = W_hh·hᵀ` forward, `dhᵀ = W_hhᵀ·dzᵀ` backward) with both operands
//! row-major: gemm is much faster with the 4H (or H) weight rows as its long side than with
//! the few batch rows. One fused pass per step then activates the gates and updates the
//! states (forward) or forms the gate gradients (backward). Scratch buffers are made once per
//! layer, and the gates, states and gradients are written straight into their final buffers.

use super::matmul::gemm_call;
use super::sgemm::{self, PackedA};
use super::transpose::transpose_block;
use super::{contiguous_or_gathered, try_output, try_zeroed, CpuBackend};
use crate::backend::{LstmLayerGrads, LstmLayerOut, Strided};
use crate::dtype::{DType, Elem};
use crate::error::Result;
use crate::storage::Storage;
use num_traits::Float;
use std::ops::Range;

/// σ and tanh for the working type (SIMD-friendly float32 versions for f32).
trait Act: Float + Elem + Send + Sync {
    fn sigmoid_all(x: &[Self], y: &mut [Self]);
    fn tanh_all(x: &[Self], y: &mut [Self]);
}

impl Act for f32 {
    fn sigmoid_all(x: &[f32], y: &mut [f32]) {
        use super::vmath::{map_f32, sigmoid_f32, Fused, Split};
        map_f32(x, y, sigmoid_f32::<Fused>, sigmoid_f32::<Split>)
    }
    fn tanh_all(x: &[f32], y: &mut [f32]) {
        use super::vmath::{map_f32, tanh_f32, Fused, Split};
        map_f32(x, y, tanh_f32::<Fused>, tanh_f32::<Split>)
    }
}

impl Act for f64 {
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

/// Layers from this many recurrent multiply-adds (all steps) are split over the pool.
const LAYER_PAR_WORK: usize = 1 << 22;
/// A step's product from this many multiply-adds is split over the pool when the batch is too
/// small to split.
const STEP_PAR_WORK: usize = 1 << 21;
/// The fewest batch rows a part gets: below it the step GEMMs pad their 16-column tiles.
const MIN_PART_ROWS: usize = 8;

/// The left operand of every step's product: the recurrent weight (`W_hh` forward, read
/// transposed backward). For the float32 kernel it is packed once per layer, so each step packs
/// only the small state matrix and reads the weight as one sequential stream (the LSTM step
/// `W[1024×256]·hᵀ[256×16]` measured ~1.6x faster than reading W's rows in place).
struct StepWeight<'a, F> {
    w: &'a [F],
    /// Row and column strides of the `m × k` operand in `w`.
    strides: [usize; 2],
    m: usize,
    k: usize,
    packed: Option<PackedA>,
}

impl<'a, F: Elem> StepWeight<'a, F> {
    /// The `m × k` operand at `w` with `strides`, for products with `n`-column states.
    fn new(w: &'a [F], (m, k): (usize, usize), strides: [usize; 2], n: usize) -> Self {
        let in_bounds = m == 0 || k == 0 || (m - 1) * strides[0] + (k - 1) * strides[1] < w.len();
        assert!(in_bounds, "step weight outside its buffer");
        let packed = if F::DTYPE == DType::F32 && sgemm::suits(k) {
            let a = (
                w.as_ptr() as *const f32,
                strides[0] as isize,
                strides[1] as isize,
            );
            // SAFETY: F is f32 (checked); every strided element is below w.len() (asserted).
            unsafe { PackedA::new(m, k, a, n) }
        } else {
            None
        };
        StepWeight {
            w,
            strides,
            m,
            k,
            packed,
        }
    }

    /// `dst [m, n] = W · b [k, n]`, `dst` row-major and `b` read with row and column strides
    /// `bs` (a row-major state read transposed, `[1, k]`, is packed by register transposes
    /// instead of being copied transposed first), split over the pool with `par`.
    fn mul(&self, dst: &mut [F], b: &[F], bs: [usize; 2], n: usize, par: bool) {
        let (m, k) = (self.m, self.k);
        let b_in = k == 0 || n == 0 || (k - 1) * bs[0] + (n - 1) * bs[1] < b.len();
        assert!(dst.len() >= m * n && b_in);
        let threads = if par { super::team::threads() } else { 1 };
        match &self.packed {
            // SAFETY: F is f32 whenever the weight was packed; dst and b are separate
            // buffers holding the m×n and k×n elements addressed (asserted above).
            Some(p) => unsafe {
                let b = (b.as_ptr() as *const f32, bs[0] as isize, bs[1] as isize);
                let c = (dst.as_mut_ptr() as *mut f32, n as isize, 1);
                p.gemm(n, b, c, false, threads)
            },
            // SAFETY: as above; the weight's strided elements are in bounds (checked in new).
            None => unsafe {
                gemm_call(
                    dst,
                    self.w.as_ptr(),
                    [0, self.strides[0], self.strides[1]],
                    b.as_ptr(),
                    [0, bs[0], bs[1]],
                    m,
                    n,
                    k,
                    gemm::Parallelism::Rayon(threads),
                )
            },
        }
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

    /// How the layer runs: in `parts` independent runs over contiguous batch rows (the
    /// recurrence never mixes batch rows, so the parts need no step-by-step synchronisation),
    /// and whether a single run splits each step's product instead.
    fn plan(&self) -> (usize, bool) {
        if !super::parallel_enabled() {
            return (1, false);
        }
        let step = self.n * 4 * self.h * self.h;
        let threads = super::team::threads();
        let parts = threads.min(self.n / MIN_PART_ROWS).max(1);
        if parts > 1 && step.saturating_mul(self.steps) >= LAYER_PAR_WORK {
            (parts, false)
        } else {
            (1, step >= STEP_PAR_WORK)
        }
    }
}

impl Dims {
    /// Batch rows of the largest part (the column count of each step's product).
    fn part_rows(&self) -> usize {
        let parts = self.plan().0;
        self.n.div_ceil(parts)
    }
}

/// Batch rows `[n·p/parts, n·(p+1)/parts)` of part `p`.
fn part_rows(n: usize, parts: usize, p: usize) -> Range<usize> {
    n * p / parts..n * (p + 1) / parts
}

/// Runs `f` on every part's batch rows, on the pool when there are several.
fn for_parts(n: usize, parts: usize, f: impl Fn(Range<usize>) -> Result<()> + Sync) -> Result<()> {
    if parts == 1 {
        return f(0..n);
    }
    let failed = std::sync::Mutex::new(None);
    super::team::run(parts, |p| {
        if let Err(e) = f(part_rows(n, parts, p)) {
            *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
        }
    });
    match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A `[blocks, n, width]` output written by several parts, each only in its own batch rows.
struct Shared<F> {
    ptr: *mut F,
    len: usize,
    n: usize,
    width: usize,
}

// SAFETY: parts write disjoint rows (see `rows`); the buffer outlives the parallel region.
unsafe impl<F: Send> Send for Shared<F> {}
unsafe impl<F: Send> Sync for Shared<F> {}

impl<F> Shared<F> {
    fn new(buf: &mut [F], n: usize, width: usize) -> Self {
        Shared {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
            n,
            width,
        }
    }

    /// Rows `r` of block `t`.
    ///
    /// # Safety
    /// No other live slice covers these rows: each part asks only for its own rows, and for
    /// one block at most once at a time.
    #[allow(clippy::mut_from_ref)]
    unsafe fn rows(&self, t: usize, r: &Range<usize>) -> &mut [F] {
        let (start, len) = ((t * self.n + r.start) * self.width, r.len() * self.width);
        assert!(start + len <= self.len, "rows outside the layer buffer");
        std::slice::from_raw_parts_mut(self.ptr.add(start), len)
    }
}

/// Rows `r` of block `t` of a read-only `[blocks, n, width]` buffer.
fn rows_of<'a, F>(buf: &'a [F], t: usize, n: usize, width: usize, r: &Range<usize>) -> &'a [F] {
    &buf[(t * n + r.start) * width..(t * n + r.end) * width]
}

struct Inputs<'a, F> {
    xw: &'a [F],
    h0: &'a [F],
    c0: &'a [F],
    w: StepWeight<'a, F>,
    b: Option<&'a [F]>,
}

/// The forward outputs, shared by the batch parts.
struct ForwardOut<F> {
    packed: Shared<F>,
    gates: Shared<F>,
    cells: Shared<F>,
    h_in: Shared<F>,
}

fn forward<F: Act>(x: Inputs<F>, d: Dims) -> Result<LstmLayerOut> {
    let (n, h) = (d.n, d.h);
    let nh = n * h;
    let mut packed = try_output::<F>((d.steps + 1) * nh)?;
    let mut gates = try_output::<F>(d.steps * n * 4 * h)?;
    let mut cells = try_output::<F>((d.steps + 1) * nh)?;
    let mut h_in = try_output::<F>(d.steps * nh)?;
    let out = ForwardOut {
        packed: Shared::new(&mut packed, n, h),
        gates: Shared::new(&mut gates, n, 4 * h),
        cells: Shared::new(&mut cells, n, h),
        h_in: Shared::new(&mut h_in, n, h),
    };
    let (parts, step_par) = d.plan();
    for_parts(n, parts, |r| forward_rows(&x, d, r, &out, step_par))?;
    Ok(LstmLayerOut {
        packed: Storage::from_vec(packed),
        gates: Storage::from_vec(gates),
        cells: Storage::from_vec(cells),
        h_in: Storage::from_vec(h_in),
    })
}

/// The forward recurrence for batch rows `r`.
fn forward_rows<F: Act>(
    x: &Inputs<F>,
    d: Dims,
    r: Range<usize>,
    out: &ForwardOut<F>,
    step_par: bool,
) -> Result<()> {
    let (n, h, nb) = (d.n, d.h, r.len());
    let g4 = 4 * h;
    let (mut zt, mut z) = (try_output::<F>(nb * g4)?, try_output::<F>(nb * g4)?);
    let h0 = rows_of(x.h0, 0, n, h, &r);
    // SAFETY (every `rows` below): this part's rows, each block's slice dropped before the
    // same block is asked for again.
    unsafe { out.cells.rows(0, &r) }.copy_from_slice(rows_of(x.c0, 0, n, h, &r));
    for k in 0..d.steps {
        let t = d.time(k);
        let h_in = unsafe { out.h_in.rows(t, &r) };
        if k == 0 {
            h_in.copy_from_slice(h0);
        } else {
            h_in.copy_from_slice(unsafe { out.packed.rows(d.time(k - 1), &r) });
        }
        // hᵀ [h, nb] read from the state rows through strides.
        x.w.mul(&mut zt, h_in, [1, h], nb, step_par);
        transpose(&zt, g4, nb, &mut z);
        let xt = rows_of(x.xw, t, n, g4, &r);
        for (zr, xr) in z.chunks_exact_mut(g4).zip(xt.chunks_exact(g4)) {
            match x.b {
                Some(b) => zr
                    .iter_mut()
                    .zip(xr.iter().zip(b))
                    .for_each(|(v, (&a, &bv))| *v = *v + a + bv),
                None => zr.iter_mut().zip(xr).for_each(|(v, &a)| *v = *v + a),
            }
        }
        let act = unsafe { out.gates.rows(k, &r) };
        for (blk, (src, out)) in z.chunks_exact(h).zip(act.chunks_exact_mut(h)).enumerate() {
            // Block 2 of each row (the cell candidate) takes tanh, the others σ.
            if blk % 4 == 2 {
                F::tanh_all(src, out);
            } else {
                F::sigmoid_all(src, out);
            }
        }
        let cp = unsafe { out.cells.rows(k, &r) };
        let cn = unsafe { out.cells.rows(k + 1, &r) };
        let hn = unsafe { out.packed.rows(t, &r) };
        for ((a, (cp, co)), ho) in act
            .chunks_exact(g4)
            .zip(cp.chunks_exact(h).zip(cn.chunks_exact_mut(h)))
            .zip(hn.chunks_exact_mut(h))
        {
            let (i, rest) = a.split_at(h);
            let (f, rest) = rest.split_at(h);
            let (g, o) = rest.split_at(h);
            for j in 0..h {
                co[j] = f[j] * cp[j] + i[j] * g[j];
            }
            F::tanh_all(co, ho);
            ho.iter_mut().zip(o).for_each(|(v, &o)| *v = *v * o);
        }
    }
    let last = unsafe { out.cells.rows(d.steps, &r) };
    unsafe { out.packed.rows(d.steps, &r) }.copy_from_slice(last);
    Ok(())
}

/// Back-propagation through time; `wt` is `W_hhᵀ` `[H, 4H]`.
fn backward<F: Act>(
    grad: &[F],
    gates: &[F],
    cells: &[F],
    wt: &StepWeight<F>,
    d: Dims,
) -> Result<LstmLayerGrads> {
    let (n, h) = (d.n, d.h);
    let mut dxw = try_output::<F>(d.steps * n * 4 * h)?;
    let (mut dh0, mut dc0) = (try_output::<F>(n * h)?, try_output::<F>(n * h)?);
    let out = BackwardOut {
        xw: Shared::new(&mut dxw, n, 4 * h),
        h0: Shared::new(&mut dh0, n, h),
        c0: Shared::new(&mut dc0, n, h),
    };
    let saved = Saved { grad, gates, cells };
    let (parts, step_par) = d.plan();
    for_parts(n, parts, |r| {
        backward_rows(&saved, wt, d, r, &out, step_par)
    })?;
    Ok(LstmLayerGrads {
        xw: Storage::from_vec(dxw),
        h0: Storage::from_vec(dh0),
        c0: Storage::from_vec(dc0),
    })
}

/// The backward's inputs: the output gradient `[T+1, N, H]`, the forward's gates and cells.
struct Saved<'a, F> {
    grad: &'a [F],
    gates: &'a [F],
    cells: &'a [F],
}

/// The backward outputs, shared by the batch parts.
struct BackwardOut<F> {
    xw: Shared<F>,
    h0: Shared<F>,
    c0: Shared<F>,
}

/// Back-propagation through time for batch rows `r`.
fn backward_rows<F: Act>(
    s: &Saved<F>,
    wt: &StepWeight<F>,
    d: Dims,
    r: Range<usize>,
    out: &BackwardOut<F>,
    step_par: bool,
) -> Result<()> {
    let (n, h, nb) = (d.n, d.h, r.len());
    let g4 = 4 * h;
    // The hidden-state gradient carried from the later step, and the cell-state gradient.
    let mut dh = try_zeroed::<F>(nb * h)?;
    let mut dc = rows_of(s.grad, d.steps, n, h, &r).to_vec();
    let (mut dht, mut tc) = (try_output::<F>(nb * h)?, try_output::<F>(h)?);
    for k in (0..d.steps).rev() {
        let t = d.time(k);
        dh.iter_mut()
            .zip(rows_of(s.grad, t, n, h, &r))
            .for_each(|(a, &b)| *a = *a + b);
        let act = rows_of(s.gates, k, n, g4, &r);
        let cp = rows_of(s.cells, k, n, h, &r);
        let cn = rows_of(s.cells, k + 1, n, h, &r);
        // SAFETY: this part's rows of block t, written once per step.
        let dz = unsafe { out.xw.rows(t, &r) };
        for (row, (a, dr)) in act
            .chunks_exact(g4)
            .zip(dz.chunks_exact_mut(g4))
            .enumerate()
        {
            let (ai, rest) = a.split_at(h);
            let (af, rest) = rest.split_at(h);
            let (ag, ao) = rest.split_at(h);
            let (di, rest) = dr.split_at_mut(h);
            let (df, rest) = rest.split_at_mut(h);
            let (dg, dout) = rest.split_at_mut(h);
            let rr = row * h..(row + 1) * h;
            let (cp, dhr, dcr) = (&cp[rr.clone()], &dh[rr.clone()], &mut dc[rr.clone()]);
            F::tanh_all(&cn[rr], &mut tc);
            gate_grads([ai, af, ag, ao], [di, df, dg, dout], &tc, cp, dhr, dcr);
        }
        // dzᵀ [4h, nb] read from the gate-gradient rows through strides.
        wt.mul(&mut dht, dz, [1, g4], nb, step_par);
        transpose(&dht, h, nb, &mut dh);
    }
    // SAFETY: this part's rows of the one-block outputs.
    unsafe { out.h0.rows(0, &r) }.copy_from_slice(&dh);
    unsafe { out.c0.rows(0, &r) }.copy_from_slice(&dc);
    Ok(())
}

simd_dispatch! {
    /// One batch row's gate gradients (`d` = di, df, dg, do) from its activated gates `a` (i,
    /// f, g, o), `tanh(c_t)`, the previous cell state, and the carried `dh`, `dc` (updated to
    /// `dc_{t-1}`), in an AVX-512 or AVX2 build where the CPU has one.
    fn gate_grads<F: Float> = gate_grads_body(
        a: [&[F]; 4],
        d: [&mut [F]; 4],
        tc: &[F],
        cp: &[F],
        dh: &[F],
        dc: &mut [F],
    ) in [
        avx512: "avx512f,avx2,fma" if super::vmath::has_avx512,
        avx2: "avx2,fma" if super::vmath::has_avx2_fma,
    ]
}

#[inline(always)]
fn gate_grads_body<F: Float>(
    [ai, af, ag, ao]: [&[F]; 4],
    [di, df, dg, dout]: [&mut [F]; 4],
    tc: &[F],
    cp: &[F],
    dh: &[F],
    dc: &mut [F],
) {
    let (one, h) = (F::one(), dc.len());
    // Every slice cut to h: the loop has no bounds checks and vectorises.
    let (ai, af, ag, ao, tc) = (&ai[..h], &af[..h], &ag[..h], &ao[..h], &tc[..h]);
    let (di, df, dg, dout) = (&mut di[..h], &mut df[..h], &mut dg[..h], &mut dout[..h]);
    let (cp, dh) = (&cp[..h], &dh[..h]);
    for j in 0..h {
        let (i, f, g, o) = (ai[j], af[j], ag[j], ao[j]);
        let tc = tc[j];
        let dct = dc[j] + dh[j] * o * (one - tc * tc);
        di[j] = dct * g * i * (one - i);
        df[j] = dct * cp[j] * f * (one - f);
        dg[j] = dct * i * (one - g * g);
        dout[j] = dh[j] * tc * o * (one - o);
        dc[j] = dct * f;
    }
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
                let (g4, rows) = (4 * d.h, d.part_rows());
                let inputs = Inputs {
                    xw: &xs,
                    h0: &hs,
                    c0: &cs,
                    w: StepWeight::new(&ws, (g4, d.h), [d.h, 1], rows),
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
                // W_hhᵀ read through W's strides.
                let wt = StepWeight::new(&w, (h, 4 * h), [1, h], d.part_rows());
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
