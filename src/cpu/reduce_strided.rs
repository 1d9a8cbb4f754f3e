//! Sums over dims of a strided view without gathering it into rows first. Two layouts cover
//! the common cases: the reduced dims end in a contiguous run (each output folds contiguous
//! segments), or the kept dims do (outputs are columns: whole rows of them are accumulated
//! at once, as for `x.sum(dim=0)` and bias gradients).

use super::reduce::sum_row;
use super::team;
use crate::backend::Strided;
use crate::dtype::{DType, Elem};
use crate::layout::for_each_offset;

/// Dims as (size, stride), size-1 dims dropped and mergeable neighbours merged.
fn coalesce(dims: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &(n, st) in dims.iter().filter(|d| d.0 != 1) {
        match out.last_mut() {
            Some(last) if last.1 == st * n => *last = (last.0 * n, st),
            _ => out.push((n, st)),
        }
    }
    out
}

/// Dims as (size, stride) pairs.
type Dims = Vec<(usize, usize)>;

/// The first `m`-sized prefix of the view's dims (kept) and the rest (reduced), coalesced.
fn split(src: Strided, m: usize) -> Option<(Dims, Dims)> {
    let l = src.layout;
    let dims: Vec<(usize, usize)> = l
        .shape
        .iter()
        .copied()
        .zip(l.strides.iter().copied())
        .collect();
    let mut prod = 1;
    let mut cut = 0;
    while prod < m && cut < dims.len() {
        prod *= dims[cut].0;
        cut += 1;
    }
    // Skip leading size-1 reduced dims so that the split is exact.
    (prod == m).then(|| (coalesce(&dims[..cut]), coalesce(&dims[cut..])))
}

/// The slice as f32 when `T` is f32.
fn as_f32<T: Elem>(x: &[T]) -> Option<&[f32]> {
    // SAFETY: T is f32 (checked), so this reinterprets the slice as itself.
    (T::DTYPE == DType::F32)
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) })
}

/// The offsets of every index of `dims` from `base`, in row-major order.
fn offsets(dims: &[(usize, usize)], base: usize) -> Vec<usize> {
    let (shape, strides): (Vec<usize>, Vec<usize>) = dims.iter().copied().unzip();
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    for_each_offset(&shape, [&strides], [base], 0, n, |[o]| out.push(o));
    out
}

/// Sums of `m` rows of `k` (the view's row-major order) in f64, or `None` when the layout
/// fits neither fast case (the caller then gathers).
pub fn strided_sums<T: Elem>(src: Strided, m: usize, k: usize) -> Option<Vec<f64>> {
    if m == 0 || k == 0 || src.is_contiguous() || !T::DTYPE.is_float() && T::DTYPE != DType::I64 {
        return None;
    }
    let data = src.storage.cpu_slice::<T>().ok()?;
    let (kept, red) = split(src, m)?;
    let base = src.layout.offset;
    let parallel = super::parallel(m * k);
    if let Some(&(seg, 1)) = red.last() {
        // Each output: the sum of contiguous segments of length `seg`.
        let outer = offsets(&red[..red.len() - 1], 0);
        let starts = offsets(&kept, base);
        let fold = |&s: &usize| -> f64 {
            outer
                .iter()
                .map(|&o| sum_row(&data[s + o..s + o + seg]))
                .fold(0.0, |a, b| a + b)
        };
        return Some(if parallel {
            let mut out = vec![0f64; starts.len()];
            team::for_each_chunk(&mut out, 16, |i, chunk| {
                let first = &starts[i * 16..];
                chunk.iter_mut().zip(first).for_each(|(o, s)| *o = fold(s));
            });
            out
        } else {
            starts.iter().map(fold).collect()
        });
    }
    if let Some(&(width, 1)) = kept.last() {
        // Outputs are `width`-long contiguous columns: add whole rows of them.
        let rows = offsets(&red, 0);
        let groups = offsets(&kept[..kept.len() - 1], base);
        let blocks = width.div_ceil(BLOCK);
        let mut out = vec![0f64; m];
        let task = |t: usize, rows: &[usize], acc: &mut [f64]| {
            let (g, b) = (t / blocks, t % blocks);
            let start = groups[g] + b * BLOCK;
            if let Some(d32) = as_f32(data) {
                add_rows_f32(d32, start, rows, acc);
                return;
            }
            for &r in rows {
                let row = &data[start + r..start + r + acc.len()];
                acc.iter_mut().zip(row).for_each(|(a, v)| *a += v.to_f64());
            }
        };
        let tasks = groups.len() * blocks;
        let threads = team::threads();
        if parallel && tasks < 4 * threads && rows.len() >= 32 * threads {
            // Few column blocks (one wide matrix: `sum(dim=0)`): each worker adds a contiguous
            // run of rows for every block into its own partial sums, so that it streams
            // whole rows instead of every worker striding through all of them.
            let per = rows.len().div_ceil(threads).next_multiple_of(16);
            let mut partials = vec![0f64; rows.len().div_ceil(per) * m];
            team::for_each_chunk(&mut partials, m, |i, part| {
                let run = &rows[i * per..((i + 1) * per).min(rows.len())];
                let blocks_of = part.chunks_mut(width).flat_map(|g| g.chunks_mut(BLOCK));
                for (t, acc) in blocks_of.enumerate().take(tasks) {
                    task(t, run, acc);
                }
            });
            for p in partials.chunks_exact(m) {
                out.iter_mut().zip(p).for_each(|(o, v)| *o += v);
            }
            return Some(out);
        }
        // One task per (group, block): a block of a group's columns is one slice of `out`.
        if parallel {
            let shared = team::SharedMut::new(&mut out);
            team::run(tasks, |t| {
                let (g, b) = (t / blocks, t % blocks);
                let start = g * width + b * BLOCK;
                let end = g * width + ((b + 1) * BLOCK).min(width);
                // SAFETY: task t alone owns its block of columns.
                task(t, &rows, unsafe { shared.range(start..end) });
            });
        } else {
            let chunks = out.chunks_mut(width).flat_map(|g| g.chunks_mut(BLOCK));
            chunks.enumerate().for_each(|(t, acc)| task(t, &rows, acc));
        }
        return Some(out);
    }
    None
}

/// Columns per block of the column sums: a block's float32 partial sums stay in L1.
const BLOCK: usize = 2048;

simd_dispatch! {
    /// `acc[j] += Σ_r d32[start + r + j]` over the row offsets `rows` (`acc` at most `BLOCK`
    /// long): groups of 16 rows are added in f32, each group's sums then into f64. Compiled
    /// for AVX-512 and AVX2 where the CPU has them (the baseline build's 4-lane loop took
    /// `sum(dim=0)` of 4096×1024 floats to 1.3× PyTorch's single-threaded time).
    fn add_rows_f32 = add_rows_f32_body(d32: &[f32], start: usize, rows: &[usize], acc: &mut [f64])
    in [
        avx512: "avx512f,avx2,fma" if super::vmath::has_avx512,
        avx2: "avx2,fma" if super::vmath::has_avx2_fma,
    ]
}

#[inline(always)]
fn add_rows_f32_body(d32: &[f32], start: usize, rows: &[usize], acc: &mut [f64]) {
    let mut buf = [0f32; BLOCK];
    let part = &mut buf[..acc.len()];
    for group in rows.chunks(16) {
        part.fill(0.0);
        for &r in group {
            let row = &d32[start + r..start + r + part.len()];
            part.iter_mut().zip(row).for_each(|(p, &v)| *p += v);
        }
        acc.iter_mut()
            .zip(part.iter())
            .for_each(|(a, &p)| *a += p as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;
    use crate::storage::Storage;

    fn check(shape: &[usize], perm: &[usize], m: usize) {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| (i % 7) as f32 - 3.0 + i as f32 * 1e-3)
            .collect();
        let s = Storage::from_vec(v.clone());
        let l = Layout::contiguous(shape).permute(perm);
        let view = Strided::new(&s, &l);
        let k = n / m;
        let got = strided_sums::<f32>(view, m, k).expect("fast path");
        // Reference: walk the view's row-major order.
        let mut flat = Vec::new();
        for_each_offset(&l.shape, [&l.strides], [l.offset], 0, n, |[o]| {
            flat.push(v[o] as f64)
        });
        for (i, g) in got.iter().enumerate() {
            let want: f64 = flat[i * k..(i + 1) * k].iter().sum();
            assert!(
                (g - want).abs() < 1e-6 * want.abs().max(1.0),
                "{i}: {g} vs {want}"
            );
        }
    }

    #[test]
    fn column_sums_match_the_row_major_definition() {
        check(&[300, 700], &[1, 0], 700); // sum(dim=0)
        check(&[5, 300, 1100], &[0, 2, 1], 5 * 1100); // sum(dim=1) of a 3-d tensor
        check(&[40, 5000], &[1, 0], 5000); // wider than a column block, a short last block
        check(&[3000, 1030], &[1, 0], 1030); // large enough to split over threads
    }

    #[test]
    fn segment_sums_match_the_row_major_definition() {
        check(&[4, 6, 50], &[1, 0, 2], 6); // sum over (0, 2) with dim 1 kept: batch-norm style
    }
}
