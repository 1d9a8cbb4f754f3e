//! Reduction family on the GPU (kernels in cuda/reduce.cu): row reductions and
//! arg-reductions, inclusive scans, and a stable row sort.
//!
//! Rows are addressed through two layouts split from the source view: `lr` over its outer
//! dims (the `m` rows) and `lc` over its inner dims (the `k` elements of a row), so a strided
//! view needs no copy and the per-element address is usually one multiply.

use super::context::{gpu, Gpu};
use super::kernels::Family;
use super::launch::{launch, lays, new_storage, ptr, sfx, Lay};
use crate::backend::{ReduceKernels, ReduceOp, ScanOp, Strided};
use crate::cpu::reduce::check_rows;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;
use cudarc::driver::{DeviceRepr, LaunchConfig};

pub(super) fn kernel_names() -> Vec<String> {
    let mut v: Vec<String> = vec!["reduce_fin".into(), "sort_step".into(), "sort_tile".into()];
    for d in DType::ALL {
        for prefix in ["reduce", "scan", "scan1", "sort_keys"] {
            v.push(format!("{prefix}_{}", sfx(d)));
        }
    }
    for b in [1, 2, 4, 8] {
        v.push(format!("sort_out_b{b}"));
    }
    v
}

// Op codes of reduce_<t> (the O_* defines in cuda/reduce.cu).
const O_SUM: i32 = 0;
const O_NANSUM: i32 = 1;
const O_MEAN: i32 = 2;
const O_PROD: i32 = 3;
const O_SUMI: i32 = 4;
const O_PRODI: i32 = 5;
const O_COUNT: i32 = 6;
const O_ALL: i32 = 7;
const O_ANY: i32 = 8;
const O_NORM0: i32 = 9;
const O_MAX: i32 = 10;
const O_MIN: i32 = 11;
const O_VAR: i32 = 12;
const O_STD: i32 = 13;
const O_NORM1: i32 = 14;
const O_NORM2: i32 = 15;
const O_NORMP: i32 = 16;
const O_NORMINF: i32 = 17;
const O_NORMNINF: i32 = 18;
const O_LSE: i32 = 19;

/// Threads per block of the reduction and scan kernels (`SCAN_T` in cuda/reduce.cu).
const BLOCK: u32 = 256;
/// Items per chunk of scan_<t> (`SCAN_N`).
const SCAN_N: usize = 2048;
/// Slots per block of sort_tile (`SORT_TILE`), and its threads.
const SORT_TILE: usize = 2048;
const SORT_THREADS: u32 = 512;
/// Int64 words in one partial state (`struct St`: two doubles, two int64).
const ST_I64S: usize = 4;

/// Launch arguments of reduce_<t> and reduce_fin (`struct Red` in cuda/reduce.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Red {
    m: i64,
    k: i64,
    segs: i64,
    part: u64,
    out: u64,
    idx: u64,
    p: f64,
    corr: f64,
    g: i32,
    op: i32,
    odt: i32,
    isf: i32,
}

// SAFETY: plain-old-data with the C layout of the device struct.
unsafe impl DeviceRepr for Red {}

/// A dtype's position in the prelude's ALL_TYPES order (the same as `DType::ALL`).
fn dtype_code(dt: DType) -> i32 {
    DType::ALL.iter().position(|&d| d == dt).unwrap_or(0) as i32
}

/// The kernel op for a reduction: (code, norm order, variance correction).
fn op_code(op: ReduceOp, float_acc: bool) -> (i32, f64, f64) {
    let int_or = |f, i| if float_acc { f } else { i };
    match op {
        ReduceOp::Sum => (int_or(O_SUM, O_SUMI), 0.0, 0.0),
        ReduceOp::NanSum => (int_or(O_NANSUM, O_SUMI), 0.0, 0.0),
        ReduceOp::Prod => (int_or(O_PROD, O_PRODI), 0.0, 0.0),
        ReduceOp::Mean => (O_MEAN, 0.0, 0.0),
        ReduceOp::Amax => (O_MAX, 0.0, 0.0),
        ReduceOp::Amin => (O_MIN, 0.0, 0.0),
        ReduceOp::All => (O_ALL, 0.0, 0.0),
        ReduceOp::Any => (O_ANY, 0.0, 0.0),
        ReduceOp::CountNonzero => (O_COUNT, 0.0, 0.0),
        ReduceOp::Var { correction, std } => (if std { O_STD } else { O_VAR }, 0.0, correction),
        ReduceOp::Norm { p } => {
            let code = if p == f64::INFINITY {
                O_NORMINF
            } else if p == f64::NEG_INFINITY {
                O_NORMNINF
            } else if p == 0.0 {
                O_NORM0
            } else if p == 2.0 {
                O_NORM2
            } else if p == 1.0 {
                O_NORM1
            } else {
                O_NORMP
            };
            (code, p, 0.0)
        }
        ReduceOp::LogSumExp => (O_LSE, 0.0, 0.0),
    }
}

/// `n` blocks (capped; kernels stride over the rest) of `threads`.
fn blocks(g: &Gpu, n: usize, threads: u32) -> LaunchConfig {
    g.rows(n, threads)
}

/// A single-dim layout for an empty dim list (one row, or rows of one element), so kernels
/// take their inline single-dim path.
fn at_least_1d(mut l: Lay) -> Lay {
    if l.ndim == 0 {
        l.ndim = 1;
        l.shape[0] = 1;
        l.stride[0] = 0;
    }
    l
}

/// The source seen as `m` rows of `k`: its device address and the row / in-row layouts.
struct Rows {
    ptr: u64,
    lr: Lay,
    lc: Lay,
    /// A contiguous copy the layouts point into, when the view could not be split.
    _copy: Option<Storage>,
}

impl Rows {
    fn new(g: &Gpu, src: Strided, m: usize, k: usize) -> Result<Rows> {
        if let Some((lr, lc)) = split_rows(src, k) {
            return Ok(Rows {
                ptr: ptr(src.storage)?,
                lr,
                lc,
                _copy: None,
            });
        }
        let copy = g.contiguous_as(src, src.dtype())?;
        let mut lr = Lay::contiguous(m, 0);
        lr.stride[0] = k as i64;
        Ok(Rows {
            ptr: ptr(&copy)?,
            lr,
            lc: Lay::contiguous(k, 0),
            _copy: Some(copy),
        })
    }

    /// Whether consecutive rows are adjacent in memory while a row's own elements are not
    /// (the reduced dim was not the innermost one).
    fn columns(&self) -> bool {
        let (lr, lc) = (&self.lr, &self.lc);
        lr.ndim == 1 && lr.stride[0] == 1 && lc.ndim == 1 && lc.stride[0] != 1 && lc.shape[0] > 1
    }
}

/// Splits the view's dims where the trailing ones hold exactly `k` elements (the tensor layer
/// moves the reduced dims last, so such a split exists); `None` if not (or too many dims).
fn split_rows(src: Strided, k: usize) -> Option<(Lay, Lay)> {
    let (shape, strides) = (src.shape(), &src.layout.strides);
    let mut inner = 1usize;
    let mut split = None;
    for d in (0..=shape.len()).rev() {
        if d < shape.len() {
            inner = inner.saturating_mul(shape[d]);
        }
        if inner == k {
            split = Some(d);
            break;
        }
    }
    let d = split?;
    let [lr] = lays(&shape[..d], [(&strides[..d], src.layout.offset)]).ok()?;
    let [lc] = lays(&shape[d..], [(&strides[d..], 0)]).ok()?;
    Some((at_least_1d(lr), at_least_1d(lc)))
}

/// How reduce_<t> covers `m` rows of `k`: threads per (row, segment) unit and segments per
/// row. Short rows get a power-of-two group of at most a warp (about 8 elements a thread);
/// long rows a block each, cut into segments when there are too few rows to fill the
/// device (each segment keeps at least `min_seg` elements). Rows that are columns get a
/// thread each (per run of rows when they are too few), so that a warp reads consecutive
/// addresses.
fn plan(sm_count: u32, rows: &Rows, m: usize, k: usize, min_seg: usize) -> (i32, i64) {
    let threads = sm_count as usize * BLOCK as usize;
    if rows.columns() && m >= threads {
        return (1, 1);
    }
    if rows.columns() && m >= 32 && k >= 64 {
        // Fewer columns than the device has threads: a thread per (column, run of rows), at
        // least 16 rows each, the runs' partial states merged afterwards.
        return (1, (2 * threads).div_ceil(m).min(k / 16).max(1) as i64);
    }
    if k <= 1024 {
        return (k.div_ceil(8).next_power_of_two().min(32) as i32, 1);
    }
    let want = sm_count as usize * 8;
    let segs = if m < want {
        want.div_ceil(m.max(1)).min(k / min_seg).max(1)
    } else {
        1
    };
    (BLOCK as i32, segs as i64)
}

/// Launches reduce_<dtype> over `rows` with `r` (its m, k, g and segs set).
fn launch_reduce(g: &'static Gpu, dtype: DType, rows: &Rows, r: Red) -> Result<()> {
    let units = (r.m * r.segs) as usize;
    let per_block = (BLOCK / r.g as u32) as usize;
    let (sp, lr, lc) = (rows.ptr, rows.lr, rows.lc);
    let name = format!("reduce_{}", sfx(dtype));
    launch!(g, Family::Reduce, name, blocks(g, units.div_ceil(per_block), BLOCK); sp, lr, lc, r)
}

/// Scratch for `n` partial states.
fn partials(g: &'static Gpu, n: usize) -> Result<Storage> {
    let len = n
        .checked_mul(ST_I64S)
        .ok_or_else(|| Error::Runtime("CUDA out of memory: reduction scratch overflows".into()))?;
    new_storage(g, len, DType::I64)
}

/// Folds the rows of `src` with `r.op`, writing `r.out` (and `r.idx`): one launch, or two
/// when rows are cut into segments whose partial states reduce_fin merges.
fn reduce_into(g: &'static Gpu, src: Strided, mut r: Red) -> Result<()> {
    let (m, k) = (r.m as usize, r.k as usize);
    if m == 0 {
        return Ok(());
    }
    let rows = if k == 0 {
        // Nothing is read: every row finishes from the empty state.
        Rows {
            ptr: 0,
            lr: Lay::contiguous(m, 0),
            lc: Lay::contiguous(0, 0),
            _copy: None,
        }
    } else {
        Rows::new(g, src, m, k)?
    };
    let (group, segs) = plan(g.sm_count, &rows, m, k, 4096);
    r.g = group;
    r.segs = segs;
    r.isf = src.dtype().is_float() as i32;
    if segs == 1 {
        return launch_reduce(g, src.dtype(), &rows, r);
    }
    let part = partials(g, m * segs as usize)?;
    r.part = ptr(&part)?;
    launch_reduce(g, src.dtype(), &rows, r)?;
    // The scratch is freed in stream order, after both kernels.
    launch!(g, Family::Reduce, "reduce_fin", blocks(g, m, BLOCK); r)
}

fn red(m: usize, k: usize, op: i32, out: u64, odt: DType) -> Red {
    Red {
        m: m as i64,
        k: k as i64,
        segs: 1,
        part: 0,
        out,
        idx: 0,
        p: 0.0,
        corr: 0.0,
        g: 1,
        op,
        odt: dtype_code(odt),
        isf: 0,
    }
}

fn empty_row_error(what: &str) -> Error {
    Error::Runtime(format!("internal error: {what} over an empty row"))
}

impl ReduceKernels for Gpu {
    fn reduce_rows(
        &self,
        op: ReduceOp,
        src: Strided,
        m: usize,
        k: usize,
        out_dtype: DType,
    ) -> Result<Storage> {
        check_rows(src, m, k)?;
        if matches!(op, ReduceOp::Amax | ReduceOp::Amin) && k == 0 && m > 0 {
            return Err(empty_row_error("amax/amin"));
        }
        let g = gpu(self.index)?;
        let out = new_storage(g, m, out_dtype)?;
        if m == 0 {
            return Ok(out);
        }
        // As on the CPU: integer sums and products stay exact in int64 unless a float is
        // involved.
        let float_acc = out_dtype.is_float() || src.dtype().is_float();
        let (code, p, corr) = op_code(op, float_acc);
        let mut r = red(m, k, code, ptr(&out)?, out_dtype);
        r.p = p;
        r.corr = corr;
        reduce_into(g, src, r)?;
        Ok(out)
    }

    fn arg_reduce_rows(
        &self,
        is_max: bool,
        src: Strided,
        m: usize,
        k: usize,
    ) -> Result<(Storage, Storage)> {
        check_rows(src, m, k)?;
        if k == 0 && m > 0 {
            return Err(empty_row_error("arg reduction"));
        }
        let g = gpu(self.index)?;
        let dtype = src.dtype();
        let vals = new_storage(g, m, dtype)?;
        let idx = new_storage(g, m, DType::I64)?;
        if m > 0 {
            let op = if is_max { O_MAX } else { O_MIN };
            let mut r = red(m, k, op, ptr(&vals)?, dtype);
            r.idx = ptr(&idx)?;
            reduce_into(g, src, r)?;
        }
        Ok((vals, idx))
    }

    fn scan_rows(&self, op: ScanOp, src: Strided, m: usize, k: usize) -> Result<Storage> {
        check_rows(src, m, k)?;
        let g = gpu(self.index)?;
        let dtype = src.dtype();
        let out = new_storage(g, m * k, dtype)?;
        if m * k == 0 {
            return Ok(out);
        }
        let rows = Rows::new(g, src, m, k)?;
        let (sp, lr, lc, op_ptr) = (rows.ptr, rows.lr, rows.lc, ptr(&out)?);
        let (m64, k64) = (m as i64, k as i64);
        let prod = (op == ScanOp::Prod) as i32;
        let (group, segs) = plan(g.sm_count, &rows, m, k, 4 * SCAN_N);
        if k <= 16 || group == 1 {
            // Short rows, or many columns: a thread per row.
            let name = format!("scan1_{}", sfx(dtype));
            launch!(g, Family::Reduce, name, g.grid(m); sp, lr, lc, op_ptr, m64, k64, prod)?;
            return Ok(out);
        }
        // Long rows in few rows: segments, each starting from the totals of the earlier
        // segments of its row (computed by the matching reduction first).
        let mut part = None;
        let mut part_ptr = 0u64;
        if segs > 1 {
            let scratch = partials(g, m * segs as usize)?;
            part_ptr = ptr(&scratch)?;
            part = Some(scratch);
            let code = match (op, dtype.is_float()) {
                (ScanOp::Sum, true) => O_SUM,
                (ScanOp::Sum, false) => O_SUMI,
                (ScanOp::Prod, true) => O_PROD,
                (ScanOp::Prod, false) => O_PRODI,
            };
            let mut r = red(m, k, code, 0, dtype);
            r.g = BLOCK as i32;
            r.segs = segs;
            r.part = part_ptr;
            r.isf = dtype.is_float() as i32;
            launch_reduce(g, dtype, &rows, r)?;
        }
        let name = format!("scan_{}", sfx(dtype));
        let units = m * segs as usize;
        launch!(g, Family::Reduce, name, blocks(g, units, BLOCK);
            sp, lr, lc, op_ptr, m64, k64, segs, part_ptr, prod)?;
        drop(part); // freed in stream order, after the scan
        Ok(out)
    }

    fn sort_rows(
        &self,
        src: Strided,
        m: usize,
        k: usize,
        descending: bool,
    ) -> Result<(Storage, Storage)> {
        check_rows(src, m, k)?;
        let g = gpu(self.index)?;
        let dtype = src.dtype();
        let vals = new_storage(g, m * k, dtype)?;
        let idx = new_storage(g, m * k, DType::I64)?;
        if m * k == 0 {
            return Ok((vals, idx));
        }
        let rows = Rows::new(g, src, m, k)?;
        // Rows padded to a power of two of (key, index) slots.
        let overflow = || Error::Runtime("CUDA out of memory: sort scratch overflows".into());
        let pw = k.checked_next_power_of_two().ok_or_else(overflow)?;
        let total = m.checked_mul(pw).ok_or_else(overflow)?;
        let keys = new_storage(g, total, DType::I64)?;
        let slots = new_storage(g, total, DType::I64)?;
        let (sp, lr, lc) = (rows.ptr, rows.lr, rows.lc);
        let (kp, ip) = (ptr(&keys)?, ptr(&slots)?);
        let (m64, k64, p64, t64) = (m as i64, k as i64, pw as i64, total as i64);
        let desc = descending as i32;
        let name = format!("sort_keys_{}", sfx(dtype));
        launch!(g, Family::Reduce, name, g.grid(total); sp, lr, lc, m64, k64, p64, desc, kp, ip)?;
        if pw >= 2 {
            // Every size up to a tile in shared memory; then, per larger size, the strides
            // of a tile or more one global stage each and the rest in shared memory.
            let tiles = blocks(g, total.div_ceil(SORT_TILE), SORT_THREADS);
            let (lo, hi) = (2i64, pw.min(SORT_TILE) as i64);
            launch!(g, Family::Reduce, "sort_tile", tiles; kp, ip, t64, p64, lo, hi)?;
            let mut size = 2 * SORT_TILE;
            while size <= pw {
                let size64 = size as i64;
                let mut stride = size / 2;
                while stride >= SORT_TILE {
                    let stride64 = stride as i64;
                    launch!(g, Family::Reduce, "sort_step", g.grid(total / 2);
                        kp, ip, t64, p64, size64, stride64)?;
                    stride /= 2;
                }
                launch!(g, Family::Reduce, "sort_tile", tiles; kp, ip, t64, p64, size64, size64)?;
                size *= 2;
            }
        }
        let (vp, op) = (ptr(&vals)?, ptr(&idx)?);
        let name = format!("sort_out_b{}", dtype.size());
        launch!(g, Family::Reduce, name, g.grid(m * k); sp, lr, lc, m64, k64, p64, ip, vp, op)?;
        Ok((vals, idx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;

    fn rows_of(layout: &Layout, k: usize) -> Option<Rows> {
        let storage = Storage::from_vec(vec![0f32; 64]);
        let (lr, lc) = split_rows(Strided::new(&storage, layout), k)?;
        Some(Rows {
            ptr: 0,
            lr,
            lc,
            _copy: None,
        })
    }

    #[test]
    fn contiguous_rows_split_into_two_single_dims() {
        let mut l = Layout::contiguous(&[2, 3, 4]);
        l.offset = 5;
        let r = rows_of(&l, 12).unwrap();
        assert_eq!(
            (r.lr.ndim, r.lr.shape[0], r.lr.stride[0], r.lr.offset),
            (1, 2, 12, 5)
        );
        assert_eq!(
            (r.lc.ndim, r.lc.shape[0], r.lc.stride[0], r.lc.offset),
            (1, 12, 1, 0)
        );
        // One row of everything, and rows of one element.
        let one = rows_of(&l, 24).unwrap();
        assert_eq!((one.lr.ndim, one.lr.shape[0], one.lr.offset), (1, 1, 5));
        let each = rows_of(&l, 1).unwrap();
        assert_eq!(
            (each.lr.shape[0], each.lc.shape[0], each.lc.stride[0]),
            (24, 1, 0)
        );
        assert!(!r.columns());
    }

    #[test]
    fn permuted_rows_are_columns_and_unsplittable_views_are_none() {
        // Reducing dim 0 of a [4, 8] matrix: rows are its columns.
        let l = Layout::contiguous(&[4, 8]).permute(&[1, 0]);
        let r = rows_of(&l, 4).unwrap();
        assert_eq!(
            (r.lr.shape[0], r.lr.stride[0], r.lc.shape[0], r.lc.stride[0]),
            (8, 1, 4, 8)
        );
        assert!(r.columns());
        // Too few columns to fill the device a thread each: a thread per column and run of
        // rows (at least 16 rows a run), or with fewer than a warp of columns the usual plan.
        assert_eq!(plan(1, &r, 8, 2000, 4096), (256, 1));
        assert_eq!(plan(1, &r, 256, 4, 4096), (1, 1));
        assert_eq!(plan(1, &r, 64, 4096, 4096), (1, 8));
        assert_eq!(plan(1, &r, 32, 64, 4096), (1, 4));
        assert_eq!(plan(4, &r, 40, 100, 4096), (1, 6));
        // No trailing dims hold exactly 3 of the 32 elements.
        assert!(rows_of(&l, 3).is_none());
    }

    #[test]
    fn plan_groups_short_rows_and_segments_few_long_ones() {
        let l = Layout::contiguous(&[64]);
        let r = rows_of(&l, 64).unwrap();
        assert_eq!(plan(4, &r, 1, 0, 4096), (1, 1));
        assert_eq!(plan(4, &r, 1, 3, 4096), (1, 1));
        assert_eq!(plan(4, &r, 1, 64, 4096), (8, 1));
        assert_eq!(plan(4, &r, 1, 1024, 4096), (32, 1));
        assert_eq!(plan(4, &r, 1, 1025, 4096), (256, 1));
        // 32 units wanted; segments of at least 4096.
        assert_eq!(plan(4, &r, 1, 1 << 20, 4096), (256, 32));
        assert_eq!(plan(4, &r, 2, 3 * 4096, 4096), (256, 3));
        assert_eq!(plan(4, &r, 100, 1 << 20, 4096), (256, 1));
    }
}
