//! Shape + strides + offset. Views (transpose, permute, narrow, expand, …) edit only this.

use crate::error::{Error, Result};
use crate::shape::{contiguous_strides, numel};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
    pub offset: usize,
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// True when no two elements share a storage position (no broadcast or overlapping
    /// windows).
    pub fn elements_distinct(&self) -> bool {
        let mut dims: Vec<(usize, usize)> = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|(&s, _)| s > 1)
            .map(|(&s, &st)| (st, s))
            .collect();
        dims.sort_unstable();
        // Each stride must step past everything the smaller strides reach.
        let mut reach = 0usize;
        for (st, s) in dims {
            if st <= reach {
                return false;
            }
            reach = reach.saturating_add((s - 1).saturating_mul(st));
        }
        true
    }

    /// True when elements are laid out densely in row-major order (size-1 dims ignored).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] == 1 {
                continue;
            }
            if self.strides[i] != expected {
                return self.numel() == 0;
            }
            expected *= self.shape[i];
        }
        true
    }

    /// One past the largest storage index this layout touches (its offset when empty), or
    /// `None` when that overflows.
    pub fn extent(&self) -> Option<usize> {
        if self.shape.contains(&0) {
            return Some(self.offset);
        }
        let mut last = self.offset;
        for (&s, &st) in self.shape.iter().zip(&self.strides) {
            last = last.checked_add((s - 1).checked_mul(st)?)?;
        }
        last.checked_add(1)
    }

    /// One past the largest storage index this layout touches (layouts already validated).
    pub fn max_extent(&self) -> usize {
        self.extent().unwrap_or(usize::MAX)
    }

    /// Checks that this layout describes a valid tensor inside a buffer of `len` elements:
    /// as many strides as dims, an element count that fits an `isize`, and every element
    /// index below `len` (an empty layout may carry any offset).
    pub fn check_fits(&self, len: usize) -> Result<()> {
        if self.shape.len() != self.strides.len() {
            return Err(Error::Runtime(format!(
                "invalid layout: {} sizes but {} strides",
                self.shape.len(),
                self.strides.len()
            )));
        }
        let n = crate::shape::checked_numel(&self.shape)?;
        if n == 0 {
            return Ok(());
        }
        match self.extent() {
            Some(e) if e <= len => Ok(()),
            _ => Err(Error::Runtime(format!(
                "setStorage: sizes {:?}, strides {:?}, storage offset {}, and itemsize requiring a storage size of {} are out of bounds for storage of size {}",
                self.shape,
                self.strides,
                self.offset,
                self.extent().map_or("more than usize::MAX".to_string(), |e| e.to_string()),
                len
            ))),
        }
    }

    pub fn transpose(&self, a: usize, b: usize) -> Layout {
        let mut l = self.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        l
    }

    pub fn permute(&self, dims: &[usize]) -> Layout {
        Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        }
    }

    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Layout {
        let mut l = self.clone();
        if len > 0 {
            l.offset += start * self.strides[dim];
        }
        l.shape[dim] = len;
        l
    }

    /// A strided slice `start..start+len*step` along `dim`.
    pub fn slice(&self, dim: usize, start: usize, len: usize, step: usize) -> Layout {
        let mut l = self.narrow(dim, start, len);
        l.strides[dim] *= step;
        l
    }

    pub fn select(&self, dim: usize, index: usize) -> Layout {
        let mut l = self.clone();
        l.offset += index * self.strides[dim];
        l.shape.remove(dim);
        l.strides.remove(dim);
        l
    }

    pub fn unsqueeze(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        let stride = if dim < self.ndim() {
            self.strides[dim] * self.shape[dim]
        } else {
            1
        };
        l.shape.insert(dim, 1);
        l.strides.insert(dim, stride);
        l
    }

    /// Broadcasts to `shape` using stride 0 for new and size-1 dims.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let n = shape.len();
        if n < self.ndim() {
            return Err(Error::Runtime(format!(
                "expand: the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                n,
                self.ndim()
            )));
        }
        let lead = n - self.ndim();
        let mut strides = vec![0; n];
        for i in 0..n {
            if i < lead {
                continue;
            }
            let (s, st) = (self.shape[i - lead], self.strides[i - lead]);
            if s == shape[i] {
                strides[i] = st;
            } else if s == 1 {
                strides[i] = 0;
            } else {
                return Err(Error::Runtime(format!(
                    "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension {}.  Target sizes: {:?}.  Tensor sizes: {:?}",
                    shape[i], s, i, shape, self.shape
                )));
            }
        }
        Ok(Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        })
    }

    /// A view with a new shape when the strides allow it without copying (PyTorch's
    /// `computeStride`), else `None`.
    pub fn view(&self, new_shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout {
                shape: new_shape.to_vec(),
                strides: contiguous_strides(new_shape),
                offset: self.offset,
            });
        }
        let numel = self.numel();
        if numel == 0 {
            return Some(Layout {
                shape: new_shape.to_vec(),
                strides: contiguous_strides(new_shape),
                offset: self.offset,
            });
        }
        let old = &self.shape;
        let olds = &self.strides;
        let mut new_strides = vec![0usize; new_shape.len()];
        let mut view_d = new_shape.len() as isize - 1;
        let mut chunk_base_stride = *olds.last().unwrap_or(&1);
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..old.len()).rev() {
            tensor_numel *= old[tensor_d];
            if tensor_d == 0
                || (old[tensor_d - 1] != 1
                    && olds[tensor_d - 1] != tensor_numel * chunk_base_stride)
            {
                while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1)
                {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= new_shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = olds[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout {
            shape: new_shape.to_vec(),
            strides: new_strides,
            offset: self.offset,
        })
    }
}

/// Calls `f` with the storage offsets of N operands that share one logical shape, for the
/// row-major linear indices `start..end`. The innermost dim is a tight loop.
#[inline]
pub fn for_each_offset<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    base: [usize; N],
    start: usize,
    end: usize,
    mut f: impl FnMut([usize; N]),
) {
    if start >= end {
        return;
    }
    let nd = shape.len();
    if nd == 0 {
        f(base);
        return;
    }
    // Multi-index of `start`.
    let mut idx = vec![0usize; nd];
    let mut rem = start;
    for d in (0..nd).rev() {
        idx[d] = rem % shape[d];
        rem /= shape[d];
    }
    let mut off = base;
    for k in 0..N {
        for d in 0..nd {
            off[k] += idx[d] * strides[k][d];
        }
    }
    let last = nd - 1;
    let inner = shape[last];
    let inner_st: [usize; N] = std::array::from_fn(|k| strides[k][last]);
    let mut remaining = end - start;
    loop {
        let run = (inner - idx[last]).min(remaining);
        let mut o = off;
        for _ in 0..run {
            f(o);
            for k in 0..N {
                o[k] += inner_st[k];
            }
        }
        remaining -= run;
        if remaining == 0 {
            return;
        }
        // Advance to the start of the next row.
        for k in 0..N {
            off[k] = o[k] - inner_st[k] * (idx[last] + run);
        }
        idx[last] = 0;
        let mut d = last;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            for k in 0..N {
                off[k] += strides[k][d];
            }
            if idx[d] < shape[d] {
                break;
            }
            for k in 0..N {
                off[k] -= strides[k][d] * shape[d];
            }
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn offsets_of_transpose() {
        let l = Layout::contiguous(&[2, 3]).transpose(0, 1);
        let mut v = vec![];
        for_each_offset(&l.shape, [&l.strides], [0], 0, 6, |[o]| v.push(o));
        assert_eq!(v, vec![0, 3, 1, 4, 2, 5]);
        let mut w = vec![];
        for_each_offset(&l.shape, [&l.strides], [0], 2, 5, |[o]| w.push(o));
        assert_eq!(w, vec![1, 4, 2]);
    }
    #[test]
    fn view_of_transposed_fails() {
        let l = Layout::contiguous(&[2, 3]).transpose(0, 1);
        assert!(l.view(&[6]).is_none());
        assert!(l.view(&[3, 2, 1]).is_some());
    }
}
