//! Index family on the GPU: index validation into offsets, take/put of sub-views at offsets
//! (accumulating with atomics), nonzero. Kernels in cuda/index.cu.
//!
//! Unlike the CPU, `put` without `accumulate` leaves an unspecified one of the values written
//! to a repeated position (PyTorch's CUDA `index_put_` behaves the same), and accumulated float
//! sums at repeated positions may differ in rounding from run to run (atomic order).

use super::context::{cu_err, gpu, Gpu};
use super::kernels::Family;
use super::launch::{launch, lay, new_storage, ptr, sfx, Lay, MAXD};
use crate::backend::{memory_overlaps, IndexDim, IndexKernels, Offsets, Strided};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;
use cudarc::driver::{result, LaunchConfig};

/// Elements per nonzero tile (256 threads × 16).
const NZ_TILE: usize = 4096;

pub(super) fn kernel_names() -> Vec<String> {
    let mut v: Vec<String> = ["index_offsets_add", "put_check", "nonzero_scan"]
        .map(String::from)
        .into();
    for b in [1, 2, 4, 8] {
        v.push(format!("take_b{b}"));
        v.push(format!("put_b{b}"));
    }
    for d in DType::ALL {
        v.push(format!("put_acc_{}", sfx(d)));
        v.push(format!("nonzero_count_{}", sfx(d)));
        v.push(format!("nonzero_write_{}", sfx(d)));
    }
    v
}

fn internal(msg: String) -> Error {
    Error::Runtime(format!("internal error: {msg}"))
}

/// Sets `bytes` bytes at device address `p` to `byte` (stream-ordered).
fn memset(g: &Gpu, p: u64, byte: u8, bytes: usize) -> Result<()> {
    if bytes == 0 {
        return Ok(());
    }
    g.bind()?;
    // SAFETY: the caller passes a range inside one live allocation.
    unsafe { result::memset_d8_async(p, byte, bytes, g.cu_stream()) }.map_err(cu_err)
}

/// Copies `dst.len()` elements from device address `src` and waits for them (and for every
/// kernel queued before).
fn download<T>(g: &Gpu, src: u64, dst: &mut [T]) -> Result<()> {
    g.bind()?;
    // SAFETY: the caller passes a device range of `dst.len()` elements inside a live
    // allocation; `dst` stays borrowed until the sync below.
    unsafe { result::memcpy_dtoh_async(dst, src, g.cu_stream()) }.map_err(cu_err)?;
    g.sync()
}

/// A cleared one-word device flag that kernels raise on an out-of-storage position.
fn new_flag(g: &'static Gpu) -> Result<Storage> {
    let f = new_storage(g, 1, DType::I32)?;
    memset(g, ptr(&f)?, 0, 4)?;
    Ok(f)
}

fn offsets_error(len: usize) -> Error {
    internal(format!("index offsets leave a storage of {len} elements"))
}

/// Storage index of row-major element `j` of a layout.
fn element_position(l: &crate::layout::Layout, mut j: usize) -> usize {
    let mut at = l.offset;
    for (&s, &st) in l.shape.iter().zip(&l.strides).rev() {
        at += (j % s) * st;
        j /= s;
    }
    at
}

/// Largest element index of a layout relative to its offset (non-empty layouts).
fn rest_span(l: &crate::layout::Layout) -> Result<usize> {
    l.shape
        .iter()
        .zip(&l.strides)
        .try_fold(0usize, |last, (&s, &st)| {
            (s - 1)
                .checked_mul(st)
                .and_then(|v| last.checked_add(v))
                .ok_or_else(|| internal("layout span overflows".into()))
        })
}

/// The device address and walking layout of an int64 offsets or values view: the view
/// itself, or a contiguous copy (`keep`) when it shares memory with `dst` (read before any
/// write: the copy is queued before the put).
fn apart(g: &Gpu, v: Strided, dst: &Storage, keep: &mut Option<Storage>) -> Result<(u64, Lay)> {
    if memory_overlaps(v.storage, dst) {
        let c = g.contiguous_as(v, v.dtype())?;
        let p = ptr(&c)?;
        *keep = Some(c);
        Ok((p, Lay::contiguous(v.numel(), 0)))
    } else {
        Ok((ptr(v.storage)?, lay(v.layout)?))
    }
}

impl IndexKernels for Gpu {
    fn index_offsets(
        &self,
        dims: &[IndexDim],
        shape: &[usize],
        wrap_negative: bool,
    ) -> Result<Offsets> {
        let g = gpu(self.index)?;
        let n = crate::shape::checked_numel(shape)?;
        for d in dims {
            let l = d.index.layout;
            if l.shape != shape || d.index.dtype() != DType::I64 {
                return Err(internal(format!(
                    "index of shape {:?} ({}) for index shape {:?}",
                    l.shape,
                    d.index.dtype().name(),
                    shape
                )));
            }
        }
        let out = new_storage(g, n, DType::I64)?;
        if n == 0 {
            return Ok(Offsets::Ok(out));
        }
        let op = ptr(&out)?;
        memset(g, op, 0, n * 8)?;
        if dims.is_empty() {
            return Ok(Offsets::Ok(out));
        }
        // Per dim, the smallest position holding an invalid value (u64::MAX: none).
        let bad = new_storage(g, dims.len(), DType::I64)?;
        let bp0 = ptr(&bad)?;
        memset(g, bp0, 0xff, dims.len() * 8)?;
        let (n64, wrap) = (n as i64, wrap_negative as i32);
        for (pos, d) in dims.iter().enumerate() {
            let li = lay(d.index.layout)?;
            let ip = ptr(d.index.storage)?;
            let (size, stride, bp) = (d.size as i64, d.stride as i64, bp0 + 8 * pos as u64);
            launch!(g, Family::Index, "index_offsets_add", g.grid(n);
                op, ip, li, n64, size, stride, wrap, bp)?;
        }
        let mut first = vec![u64::MAX; dims.len()];
        download(g, bp0, &mut first)?;
        // The dims are checked in order: the first failing dim, its first invalid value.
        if let Some(pos) = first.iter().position(|&j| j != u64::MAX) {
            let index = dims[pos].index;
            let at = element_position(index.layout, first[pos] as usize);
            let mut value = [0i64];
            download(g, ptr(index.storage)? + 8 * at as u64, &mut value)?;
            return Ok(Offsets::OutOfBounds {
                pos,
                value: value[0],
            });
        }
        Ok(Offsets::Ok(out))
    }

    fn take(&self, src: Strided, offsets: Strided) -> Result<Storage> {
        let g = gpu(self.index)?;
        if offsets.dtype() != DType::I64 {
            return Err(internal("take: offsets must be int64".into()));
        }
        let rest = src.numel();
        let total = offsets
            .numel()
            .checked_mul(rest)
            .ok_or_else(|| internal("take output size overflows".into()))?;
        let out = new_storage(g, total, src.dtype())?;
        if total == 0 {
            return Ok(out);
        }
        let (lr, lo) = (lay(src.layout)?, lay(offsets.layout)?);
        let flag = new_flag(g)?;
        let (sp, offp, outp, fp) = (
            ptr(src.storage)?,
            ptr(offsets.storage)?,
            ptr(&out)?,
            ptr(&flag)?,
        );
        let len = src.storage.len();
        let (len64, rest64, n64) = (len as i64, rest as i64, total as i64);
        let name = format!("take_b{}", src.dtype().size());
        launch!(g, Family::Index, name, g.grid(total);
            sp, len64, lr, offp, lo, outp, rest64, n64, fp)?;
        // The offsets come from index_offsets, which validated the indices: the flag only
        // trips on an internal inconsistency, so it is read at the next synchronisation
        // rather than stalling the queue here.
        g.defer_check(flag, offsets_error(len))?;
        Ok(out)
    }

    fn put(&self, dst: Strided, offsets: Strided, values: Strided, accumulate: bool) -> Result<()> {
        let g = gpu(self.index)?;
        if values.dtype() != dst.dtype() {
            return Err(internal("put: values and destination dtypes differ".into()));
        }
        if offsets.dtype() != DType::I64 {
            return Err(internal("put: offsets must be int64".into()));
        }
        let (m, rest) = (offsets.numel(), dst.numel());
        if m == 0 || rest == 0 {
            return Ok(());
        }
        if Some(values.numel()) != m.checked_mul(rest) {
            return Err(internal(format!(
                "put of {} values at {m} offsets of {rest} elements",
                values.numel()
            )));
        }
        let len = dst.storage.len();
        // A sub-view at offset p covers base + p ..= base + p + span: valid p are 0..limit.
        let limit = dst
            .layout
            .offset
            .checked_add(rest_span(dst.layout)?)
            .and_then(|end| len.checked_sub(end))
            .filter(|&l| l > 0)
            .ok_or_else(|| offsets_error(len))?;
        let (mut keep_offs, mut keep_vals) = (None, None);
        let (offp, lo) = apart(g, offsets, dst.storage, &mut keep_offs)?;
        let (vp, lv) = apart(g, values, dst.storage, &mut keep_vals)?;
        let lr = lay(dst.layout)?;
        let flag = new_flag(g)?;
        let (dp, fp) = (ptr(dst.storage)?, ptr(&flag)?);
        let (m64, limit64) = (m as i64, limit as i64);
        launch!(g, Family::Index, "put_check", g.grid(m); offp, lo, m64, limit64, fp)?;
        let total = m * rest;
        let (len64, rest64, n64) = (len as i64, rest as i64, total as i64);
        let name = if accumulate {
            format!("put_acc_{}", sfx(dst.dtype()))
        } else {
            format!("put_b{}", dst.dtype().size())
        };
        launch!(g, Family::Index, name, g.grid(total);
            dp, len64, lr, offp, lo, vp, lv, rest64, n64, fp)?;
        // As in `take`: checked at the next synchronisation (the copies in `keep_*` are
        // freed in stream order, after the kernels).
        g.defer_check(flag, offsets_error(len))?;
        drop((keep_offs, keep_vals));
        Ok(())
    }

    fn nonzero(&self, src: Strided) -> Result<(Storage, usize)> {
        let g = gpu(self.index)?;
        let shape = src.shape();
        let nd = shape.len();
        let n = src.numel();
        if n == 0 {
            return Ok((new_storage(g, 0, DType::I64)?, 0));
        }
        if nd > MAXD {
            return Err(Error::NotImplemented(format!(
                "nonzero on CUDA takes views of at most {MAXD} dims; got shape {shape:?}"
            )));
        }
        let ls = lay(src.layout)?;
        let tiles = n.div_ceil(NZ_TILE);
        // Per-tile counts, then (in place) each tile's first output row; the total last.
        let counts = new_storage(g, tiles + 1, DType::I64)?;
        let (sp, cp) = (ptr(src.storage)?, ptr(&counts)?);
        let (n64, tile64, tiles64) = (n as i64, NZ_TILE as i64, tiles as i64);
        let sfx = sfx(src.dtype());
        let blocks = g.rows(tiles, 256);
        launch!(g, Family::Index, format!("nonzero_count_{sfx}"), blocks;
            sp, ls, n64, tile64, tiles64, cp)?;
        let one_block = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (1024, 1, 1),
            shared_mem_bytes: 0,
        };
        launch!(g, Family::Index, "nonzero_scan", one_block; cp, tiles64)?;
        let mut total = [0i64];
        download(g, cp + 8 * tiles as u64, &mut total)?;
        let count = total[0] as usize;
        let out = new_storage(g, count * nd, DType::I64)?;
        if count * nd > 0 {
            let mut dims = Lay::contiguous(0, 0);
            dims.ndim = nd as i64;
            for (d, &s) in shape.iter().enumerate() {
                dims.shape[d] = s as i64;
            }
            let op = ptr(&out)?;
            launch!(g, Family::Index, format!("nonzero_write_{sfx}"), blocks;
                sp, ls, n64, tile64, tiles64, cp, dims, op)?;
        }
        Ok((out, count))
    }
}
