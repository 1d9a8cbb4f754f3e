//! An A operand packed once for many products with it (an LSTM layer's recurrent weight,
//! multiplied by a new state at every step): each product then packs only its B operand,
//! and the kernel reads A as one sequential stream instead of `MR` strided rows.

#[cfg(target_arch = "x86_64")]
use super::{driver, Avx2, Avx512, Avx512Narrow, Isa, MicroKernel};

/// The tile an operand was packed for (the packed layout depends on its `MR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tile {
    Avx2,
    Avx512,
    Avx512Narrow,
}

/// An `m × k` float32 matrix packed for the left side of `c = a · b`.
pub struct PackedA {
    tile: Tile,
    m: usize,
    k: usize,
    data: Vec<f32>,
}

impl PackedA {
    /// Packs the `m × k` matrix at `a` (pointer, row stride, column stride in elements) for
    /// products with B operands of about `n_hint` columns (which picks the tile, as `sgemm`
    /// would). `None` when the CPU lacks AVX2/FMA, the matrix is empty, or the memory for the
    /// packed copy is not available: the caller then multiplies unpacked.
    ///
    /// # Safety
    /// Every strided element `a[i·rs + p·cs]`, `i < m`, `p < k`, is readable.
    pub unsafe fn new(
        m: usize,
        k: usize,
        a: (*const f32, isize, isize),
        n_hint: usize,
    ) -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            if m == 0 || k == 0 {
                return None;
            }
            let tile = match super::isa()? {
                Isa::Avx2 => Tile::Avx2,
                Isa::Avx512 if n_hint <= 16 && m > n_hint => Tile::Avx512Narrow,
                Isa::Avx512 => Tile::Avx512,
            };
            let mat = driver::Mat {
                ptr: a.0,
                rs: a.1,
                cs: a.2,
            };
            unsafe fn pack<K: MicroKernel>(m: usize, k: usize, a: driver::Mat) -> Option<Vec<f32>> {
                let len = driver::whole_a_len::<K>(m, k);
                let mut data = Vec::new();
                data.try_reserve_exact(len).ok()?;
                // SAFETY: `len` floats reserved; the kernel's ISA was detected; `a` is the
                // caller's readable matrix. Every float is written by the packing.
                driver::pack_whole_a::<K>(m, k, a, K::BLOCKS, data.as_mut_ptr());
                data.set_len(len);
                Some(data)
            }
            let data = match tile {
                Tile::Avx2 => pack::<Avx2>(m, k, mat)?,
                Tile::Avx512 => pack::<Avx512>(m, k, mat)?,
                Tile::Avx512Narrow => pack::<Avx512Narrow>(m, k, mat)?,
            };
            Some(PackedA { tile, m, k, data })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (m, k, a, n_hint);
            None
        }
    }

    /// `(m, k)` of the packed matrix.
    pub fn shape(&self) -> (usize, usize) {
        (self.m, self.k)
    }

    /// `c = a · b` (or `c += a · b` with `accumulate`) for `b: k × n` and `c: m × n`, given
    /// as (pointer, row stride, column stride), split over up to `threads` workers.
    ///
    /// # Safety
    /// Every strided element of `b` and `c` lies in its allocation; `c` overlaps neither `b`
    /// nor itself.
    pub unsafe fn gemm(
        &self,
        n: usize,
        b: (*const f32, isize, isize),
        c: (*mut f32, isize, isize),
        accumulate: bool,
        threads: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            let b = driver::Mat {
                ptr: b.0,
                rs: b.1,
                cs: b.2,
            };
            let c = driver::MatMut {
                ptr: c.0,
                rs: c.1,
                cs: c.2,
            };
            let (mnk, ap) = ((self.m, n, self.k), self.data.as_ptr());
            // SAFETY: packed by `new` for this tile with its blocks (whose ISA was detected
            // there); b and c are the caller's contract.
            match self.tile {
                Tile::Avx2 => {
                    driver::run_prepacked::<Avx2>(mnk, ap, b, c, accumulate, threads, Avx2::BLOCKS)
                }
                Tile::Avx512 => driver::run_prepacked::<Avx512>(
                    mnk,
                    ap,
                    b,
                    c,
                    accumulate,
                    threads,
                    Avx512::BLOCKS,
                ),
                Tile::Avx512Narrow => driver::run_prepacked::<Avx512Narrow>(
                    mnk,
                    ap,
                    b,
                    c,
                    accumulate,
                    threads,
                    Avx512Narrow::BLOCKS,
                ),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (n, b, c, accumulate, threads);
        }
    }
}
