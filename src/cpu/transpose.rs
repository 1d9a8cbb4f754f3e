//! Tiled copies of transposed and permuted views into row-major order.
//!
//! A view whose innermost dim is strided (`w.t()`, `x.permute(0, 2, 3, 1)`) gathered one
//! element at a time touches a new cache line per element. When some other dim has unit
//! stride, the copy is a batch of 2-D transposes between that dim and the innermost one; doing
//! them in small square tiles keeps both the lines read and the lines written in L1.

use crate::dtype::Elem;
use crate::layout::{for_each_offset, Layout};

/// Tile edge: 16 rows × 16 columns of 4-byte elements is 16 lines read and 16 written.
const TILE: usize = 16;

/// Copies `l` (over `src`) into the row-major `out` when the layout is a transpose pattern;
/// returns false (and writes nothing) otherwise.
pub fn gather_tiled<T: Elem>(src: &[T], l: &Layout, out: &mut [T]) -> bool {
    let nd = l.shape.len();
    if nd < 2 || out.is_empty() {
        return false;
    }
    let last = nd - 1;
    let (cols, col_stride) = (l.shape[last], l.strides[last]);
    if col_stride == 1 || cols < TILE / 2 {
        return false;
    }
    // The unit-stride dim closest to the innermost one: it becomes the tile's row index.
    let Some(p) = (0..last)
        .rev()
        .find(|&d| l.strides[d] == 1 && l.shape[d] >= TILE / 2)
    else {
        return false;
    };
    let mut out_strides = vec![0usize; nd];
    let mut acc = 1usize;
    for d in (0..nd).rev() {
        out_strides[d] = acc;
        acc *= l.shape[d];
    }
    // The batch dims (all but `p` and the innermost) other than dim 0, which splits the work.
    let inner_dims: Vec<usize> = (1..last).filter(|&d| d != p).collect();
    let b_shape: Vec<usize> = inner_dims.iter().map(|&d| l.shape[d]).collect();
    let b_src: Vec<usize> = inner_dims.iter().map(|&d| l.strides[d]).collect();
    let b_out: Vec<usize> = inner_dims.iter().map(|&d| out_strides[d]).collect();
    let b_count: usize = b_shape.iter().product();
    let rows = l.shape[p];
    let row_out = out_strides[p];

    // Work items along dim 0: tiles of rows when dim 0 is the unit-stride dim, else single
    // indices of dim 0 (each covers every row).
    let (chunk_len, per_chunk) = if p == 0 {
        (TILE * out_strides[0], TILE)
    } else {
        (out_strides[0], 1)
    };
    let task = |c: usize, dst: &mut [T]| {
        let lo = c * per_chunk;
        let (src_base, row_range) = if p == 0 {
            (l.offset, lo..(lo + TILE).min(rows))
        } else {
            (l.offset + lo * l.strides[0], 0..rows)
        };
        // Offsets inside `dst` are relative to the chunk's first element.
        let dst_base = if p == 0 { lo * row_out } else { 0 };
        for_each_offset(
            &b_shape,
            [&b_src, &b_out],
            [src_base, 0],
            0,
            b_count,
            |[s, o]| {
                transpose_block(
                    src,
                    s,
                    col_stride,
                    dst,
                    o,
                    row_out,
                    row_range.clone(),
                    cols,
                    dst_base,
                );
            },
        );
    };
    if super::parallel(out.len()) {
        super::team::for_each_chunk(out, chunk_len, task);
    } else {
        out.chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(c, d)| task(c, d));
    }
    true
}

/// Copies a view whose innermost dim is contiguous (a permute that keeps the last dim, a
/// slice of rows) one row at a time; returns false for other layouts.
pub fn gather_rows<T: Elem>(src: &[T], l: &Layout, out: &mut [T]) -> bool {
    let nd = l.shape.len();
    if nd < 2 || out.is_empty() || l.strides[nd - 1] != 1 || l.shape[nd - 1] < TILE {
        return false;
    }
    let cols = l.shape[nd - 1];
    let outer = &l.shape[..nd - 1];
    let outer_strides = &l.strides[..nd - 1];
    // Rows per work item: about 32 KiB of output.
    let per = (32_768 / (cols * std::mem::size_of::<T>()).max(1)).max(1);
    let n_rows = out.len() / cols;
    let copy = |c: usize, dst: &mut [T]| {
        let first = c * per;
        let count = dst.len() / cols;
        let mut r = 0;
        for_each_offset(
            outer,
            [outer_strides],
            [l.offset],
            first,
            first + count,
            |[s]| {
                dst[r * cols..(r + 1) * cols].copy_from_slice(&src[s..s + cols]);
                r += 1;
            },
        );
    };
    if super::parallel(out.len()) && n_rows > per {
        super::team::for_each_chunk(out, per * cols, copy);
    } else {
        out.chunks_mut(per * cols)
            .enumerate()
            .for_each(|(c, d)| copy(c, d));
    }
    true
}

/// `dst[o + i·row_out + j - shift] = src[s + i + j·col_stride]` for rows `i` in `rows` and
/// columns `j < cols`, in tiles.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn transpose_block<T: Elem>(
    src: &[T],
    s: usize,
    col_stride: usize,
    dst: &mut [T],
    o: usize,
    row_out: usize,
    rows: std::ops::Range<usize>,
    cols: usize,
    shift: usize,
) {
    if rows.is_empty() || cols == 0 {
        return;
    }
    // Bounds of everything the loops below touch, checked once.
    let last_src = s + (rows.end - 1) + (cols - 1) * col_stride;
    let last_dst = o + (rows.end - 1) * row_out + cols - 1 - shift;
    assert!(last_src < src.len() && last_dst < dst.len() && o + rows.start * row_out >= shift);
    for i0 in rows.clone().step_by(TILE) {
        let i1 = (i0 + TILE).min(rows.end);
        for j0 in (0..cols).step_by(TILE) {
            let j1 = (j0 + TILE).min(cols);
            for i in i0..i1 {
                let d = o + i * row_out - shift;
                let from = s + i;
                for j in j0..j1 {
                    // SAFETY: i < rows.end and j < cols, so both indices are at most the
                    // bounds asserted above.
                    unsafe {
                        *dst.get_unchecked_mut(d + j) = *src.get_unchecked(from + j * col_stride);
                    }
                }
            }
        }
    }
}
