//! Gathers and scatters by storage offsets (with accumulation), index validation, nonzero.
//!
//! Every indexing op (advanced indexing, index_put_, gather/scatter, index_select/add/copy/
//! fill, take) is expressed in the tensor layer as: `index_offsets` (validate the index
//! values and turn them into element offsets), then `take` or `put` of whole sub-views at
//! those offsets.

use super::Strided;
use crate::error::Result;
use crate::storage::Storage;

/// One indexed dim for `index_offsets`.
#[derive(Clone, Copy)]
pub struct IndexDim<'a> {
    /// int64 index values, as a view broadcast to the common index shape.
    pub index: Strided<'a>,
    /// Size of the indexed dim: valid values are `0..size` (and `-size..0` when wrapping).
    pub size: usize,
    /// Element stride of the indexed dim.
    pub stride: usize,
}

/// What `index_offsets` found.
pub enum Offsets {
    /// int64 element offsets, contiguous in the common index shape.
    Ok(Storage),
    /// The first invalid value, and the position in `dims` of the index holding it.
    OutOfBounds { pos: usize, value: i64 },
}

pub trait IndexKernels {
    /// `offsets[j] = Σ_d wrap(dims[d].index[j]) * dims[d].stride` over the common index shape
    /// `shape` (every `index` view has it). With `wrap_negative`, values in `-size..0` count
    /// from the end; without, they are invalid. Checks the dims in order and reports the first
    /// invalid value instead of computing offsets.
    fn index_offsets(
        &self,
        dims: &[IndexDim],
        shape: &[usize],
        wrap_negative: bool,
    ) -> Result<Offsets>;

    /// `out[j, r] = src.storage[src.offset + offsets[j] + rest(r)]`, where `rest(r)` walks
    /// `src`'s layout (the dims that are not indexed; its offset is the base). The output is
    /// contiguous: `offsets.numel() * src.numel()` elements. Offsets that leave the storage
    /// are an error.
    fn take(&self, src: Strided, offsets: Strided) -> Result<Storage>;

    /// In place: `dst.storage[dst.offset + offsets[j] + rest(r)] = values[j, r]` (or `+=`
    /// with `accumulate`; bool accumulates with `or`). `values` (dst's dtype) holds
    /// `offsets.numel() * dst.numel()` elements in row-major order. Writes happen in order, so
    /// with duplicate offsets the last value wins. `values` and `offsets` may share `dst`'s
    /// storage (they are read before any write).
    fn put(&self, dst: Strided, offsets: Strided, values: Strided, accumulate: bool) -> Result<()>;

    /// Row-major indices of the non-zero elements: `(int64 storage of count × ndim, count)`.
    fn nonzero(&self, src: Strided) -> Result<(Storage, usize)>;
}
