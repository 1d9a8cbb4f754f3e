//! Checks against an f64 triple loop, for every kernel this CPU runs: every edge remainder
//! of the 6×16, 12×32 and 24×16 tiles, row-major, column-major and padded strides, accumulate on
//! and off (NaN in an unread destination), small cache blocks that split every loop, A
//! packed once ahead of the product (`PackedA`), and few-row products reading B in place.

use super::{
    driver, isa, sgemm_blocked, Avx2, Avx512, Avx512Narrow, Blocks, Isa, Mat, MatMut, MicroKernel,
    PackedA,
};

/// A product `c (+)= a · b` by one kernel: sizes, strided operands, accumulate, threads.
type Run = unsafe fn((usize, usize, usize), Mat, Mat, MatMut, bool, usize);

unsafe fn with_kernel<K: MicroKernel>(
    mnk: (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    acc: bool,
    threads: usize,
) {
    sgemm_blocked::<K>(mnk, a, b, c, acc, threads, K::BLOCKS)
}

/// Small blocks: several K, M and N blocks even for the small shapes below.
unsafe fn with_small_blocks<K: MicroKernel>(
    mnk: (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    acc: bool,
    threads: usize,
) {
    let blk = Blocks {
        mc: 2 * K::MR,
        kc: 24,
        nc: 2 * K::NR,
    };
    sgemm_blocked::<K>(mnk, a, b, c, acc, threads, blk)
}

/// A packed once (`pack_whole_a`), then the product from the packed copy.
unsafe fn prepacked<K: MicroKernel>(
    mnk: (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    acc: bool,
    threads: usize,
    blk: Blocks,
) {
    let mut ap = vec![f32::NAN; driver::whole_a_len::<K>(mnk.0, mnk.2)];
    driver::pack_whole_a::<K>(mnk.0, mnk.2, a, blk, ap.as_mut_ptr());
    driver::run_prepacked::<K>(mnk, ap.as_ptr(), b, c, acc, threads, blk)
}

unsafe fn with_prepacked<K: MicroKernel>(
    mnk: (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    acc: bool,
    threads: usize,
) {
    prepacked::<K>(mnk, a, b, c, acc, threads, K::BLOCKS)
}

unsafe fn with_prepacked_small_blocks<K: MicroKernel>(
    mnk: (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    acc: bool,
    threads: usize,
) {
    let blk = Blocks {
        mc: 2 * K::MR,
        kc: 24,
        nc: 2 * K::NR,
    };
    prepacked::<K>(mnk, a, b, c, acc, threads, blk)
}

/// The public pre-packed operand (its own choice of tile).
unsafe fn with_packed_a(
    (m, n, k): (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    acc: bool,
    threads: usize,
) {
    match PackedA::new(m, k, (a.ptr, a.rs, a.cs), n) {
        Some(p) => {
            assert_eq!(p.shape(), (m, k));
            p.gemm(n, (b.ptr, b.rs, b.cs), (c.ptr, c.rs, c.cs), acc, threads)
        }
        // Only empty operands are refused on a CPU with a kernel.
        None => {
            assert!(m == 0 || k == 0);
            with_kernel::<Avx2>((m, n, k), a, b, c, acc, threads)
        }
    }
}

/// Every kernel (and blocking, plain and pre-packed) this CPU can run.
fn runs() -> Vec<Run> {
    let mut all: Vec<Run> = vec![
        with_kernel::<Avx2>,
        with_small_blocks::<Avx2>,
        with_prepacked::<Avx2>,
        with_prepacked_small_blocks::<Avx2>,
        with_packed_a,
    ];
    match isa() {
        None => vec![],
        Some(Isa::Avx2) => all,
        Some(Isa::Avx512) => {
            all.extend([
                with_kernel::<Avx512> as Run,
                with_small_blocks::<Avx512>,
                with_prepacked::<Avx512>,
                with_prepacked_small_blocks::<Avx512>,
                with_kernel::<Avx512Narrow>,
                with_small_blocks::<Avx512Narrow>,
                with_prepacked::<Avx512Narrow>,
                with_prepacked_small_blocks::<Avx512Narrow>,
            ]);
            all
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Strides `(row, col)` of an `r × c` matrix in one of three layouts: row-major,
/// column-major, or row-major with a padded leading dimension.
fn strides(layout: usize, r: usize, c: usize) -> (usize, usize, usize) {
    match layout {
        0 => (c, 1, r * c),
        1 => (1, r, r * c),
        _ => (c + 5, 1, r * (c + 5)),
    }
}

fn check(rng: &mut Rng, m: usize, n: usize, k: usize, lay: [usize; 3], acc: bool, threads: usize) {
    for run in runs() {
        check_one(run, rng, (m, n, k), lay, acc, threads);
    }
}

fn check_one(
    run: Run,
    rng: &mut Rng,
    (m, n, k): (usize, usize, usize),
    lay: [usize; 3],
    acc: bool,
    threads: usize,
) {
    let (ars, acs, alen) = strides(lay[0], m, k);
    let (brs, bcs, blen) = strides(lay[1], k, n);
    let (crs, ccs, clen) = strides(lay[2], m, n);
    let a: Vec<f32> = (0..alen).map(|_| rng.next()).collect();
    let b: Vec<f32> = (0..blen).map(|_| rng.next()).collect();
    let old: Vec<f32> = (0..clen).map(|_| rng.next()).collect();
    let mut c = if acc {
        old.clone()
    } else {
        vec![f32::NAN; clen]
    };
    let mat = |v: &[f32], rs: usize, cs: usize| Mat {
        ptr: v.as_ptr(),
        rs: rs as isize,
        cs: cs as isize,
    };
    let out = MatMut {
        ptr: c.as_mut_ptr(),
        rs: crs as isize,
        cs: ccs as isize,
    };
    // SAFETY: every strided index is below `alen`, `blen`, `clen`; separate vectors; the
    // CPU runs the kernel (`runs` lists only those).
    unsafe {
        run(
            (m, n, k),
            mat(&a, ars, acs),
            mat(&b, brs, bcs),
            out,
            acc,
            threads,
        )
    };
    for i in 0..m {
        for j in 0..n {
            let (mut want, mut mag) = (0f64, 0f64);
            for p in 0..k {
                let t = a[i * ars + p * acs] as f64 * b[p * brs + j * bcs] as f64;
                want += t;
                mag += t.abs();
            }
            let at = i * crs + j * ccs;
            if acc {
                want += old[at] as f64;
                mag += (old[at] as f64).abs();
            }
            let got = c[at] as f64;
            assert!(
                (got - want).abs() <= 2e-6 * mag + 1e-6,
                "{m}x{n}x{k} layouts {lay:?} acc {acc} threads {threads}: [{i},{j}] {got} vs {want}"
            );
        }
    }
    // Padding between rows is never written.
    if lay[2] == 2 {
        for i in 0..m {
            for j in n..n + 5 {
                let at = i * crs + j;
                let want = if acc { old[at] } else { f32::NAN };
                assert!(c[at].to_bits() == want.to_bits() || (acc && c[at] == want));
            }
        }
    }
}

#[test]
fn sgemm_edges_all_layouts() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let sizes = [1, 2, 5, 6, 7, 11, 15, 16, 17, 31, 33, 48, 49, 70];
    for (t, &m) in sizes.iter().enumerate() {
        for (u, &n) in sizes.iter().enumerate() {
            let k = sizes[(t * 3 + u) % sizes.len()];
            let lay = [(t + u) % 3, (t / 2 + u) % 3, (t + 2 * u) % 3];
            let acc = (t + u) % 2 == 0;
            check(&mut rng, m, n, k, lay, acc, 1 + u % 2);
        }
    }
}

#[test]
fn sgemm_few_rows_read_b_in_place() {
    // Row counts around the tiles' edges up to the in-place limits (48 rows, 24 for B rows
    // over 1024 floats apart), column counts with and without a last narrower panel, B
    // row-major and padded (rows not 64-byte aligned), several k slices.
    let mut rng = Rng(0x5eed);
    for &m in &[1, 7, 12, 13, 24, 25, 36, 47, 48] {
        for &(n, k) in &[(100, 16), (128, 300), (1030, 40), (1100, 17)] {
            for (i, lay) in [[0, 0, 0], [1, 2, 0], [2, 0, 2]].into_iter().enumerate() {
                let acc = (m + i) % 2 == 1;
                check(&mut rng, m, n, k, lay, acc, 1 + (m + n) % 2);
            }
        }
    }
}

#[test]
fn sgemm_every_layout_and_k() {
    let mut rng = Rng(12345);
    for k in [0, 1, 3, 8, 9, 64, 65] {
        for lay in 0..27 {
            let lay = [lay % 3, lay / 3 % 3, lay / 9];
            for acc in [false, true] {
                check(&mut rng, 13, 35, k, lay, acc, 1);
                check(&mut rng, 40, 7, k, lay, acc, 2);
            }
        }
    }
}

#[test]
fn sgemm_larger_blocks_and_threads() {
    let mut rng = Rng(777);
    // Crosses the K, M and N cache blocks and the split over threads.
    for &(m, n, k) in &[
        (150, 100, 300),
        (7, 4100, 9),
        (300, 20, 520),
        (33, 260, 257),
        (40, 70, 784),
        (26, 45, 256),
    ] {
        for lay in [[0, 0, 0], [0, 1, 0], [1, 0, 1], [2, 1, 0]] {
            check(&mut rng, m, n, k, lay, false, 2);
            check(&mut rng, m, n, k, lay, true, 1);
        }
    }
}

#[test]
fn sgemm_empty_shapes() {
    let mut rng = Rng(5);
    for &(m, n, k) in &[(0, 5, 3), (4, 0, 3), (0, 0, 0), (3, 4, 0)] {
        check(&mut rng, m, n, k, [0, 0, 0], false, 2);
        check(&mut rng, m, n, k, [1, 1, 1], true, 1);
    }
}

#[test]
fn k_slices_are_balanced_and_bounded() {
    for kc in [24, 192, 256] {
        for k in 1..2000 {
            let d = driver::slice_depth(k, kc);
            let slices = k.div_ceil(d);
            assert!(d <= kc + kc / 3, "k {k} kc {kc}: depth {d}");
            // As few slices as the bound allows, and no slice much shorter than the others.
            assert_eq!(slices, k.div_ceil(kc + kc / 3), "k {k} kc {kc}");
            assert!(
                k - (slices - 1) * d + slices >= d,
                "k {k} kc {kc}: depth {d}"
            );
        }
    }
}
