//! Cache blocking (the BLIS loop nest: NC columns of B, KC deep, MC rows of A, then
//! `NR × MR` micro-tiles), edge tiles and the split over threads.

use super::kernel::{MicroKernel, MAX_TILE};
use super::scratch::with_scratch;

/// A read-only strided matrix.
#[derive(Clone, Copy)]
pub struct Mat {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

/// A writable strided matrix.
#[derive(Clone, Copy)]
pub struct MatMut {
    pub ptr: *mut f32,
    pub rs: isize,
    pub cs: isize,
}

// SAFETY: the matrices are plain addresses; the driver gives each thread disjoint output
// rows or columns and only reads the inputs.
unsafe impl Send for Mat {}
unsafe impl Sync for Mat {}
unsafe impl Send for MatMut {}
unsafe impl Sync for MatMut {}

/// Cache block sizes: the product runs in `KC`-deep slices over `NC` columns of B and `MC`
/// rows of A, each packed once per slice (where each lives in the cache hierarchy depends
/// on the kernel's loop order, `MicroKernel::A_IN_L1`).
#[derive(Clone, Copy, Debug)]
pub struct Blocks {
    pub mc: usize,
    pub kc: usize,
    pub nc: usize,
}

fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// The depth of every k slice of a product `k` deep: (nearly) equal slices of at most a
/// third more than the tuned `kc`. A short last slice pays a whole pass of destination
/// loads and stores, and of packing, for a few steps of work (k = 784 ran as 4 × 192 + 16,
/// k = 256 as 192 + 64; now 4 × 196 and one 256).
pub(super) fn slice_depth(k: usize, kc: usize) -> usize {
    let slices = k.div_ceil(kc + kc / 3).max(1);
    k.div_ceil(slices)
}

/// `c (+)= a · b` on this thread, `a` being `m × k`, `b` `k × n`, all non-empty.
///
/// # Safety
/// AVX2 + FMA are available; the strided elements of `a`, `b`, `c` are in bounds and `c`
/// does not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
unsafe fn serial<K: MicroKernel>(
    (m, n, k): (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    accumulate: bool,
    blk: Blocks,
) {
    let kcb = slice_depth(k, blk.kc);
    let ncb = round_up(blk.nc.min(n), K::NR);
    let mcb = round_up(blk.mc.min(m), K::MR);
    let (b_len, a_len) = (kcb * ncb, kcb * mcb);
    with_scratch(b_len + a_len, |buf| {
        let (bbuf, abuf) = (buf, buf.add(b_len));
        let mut jc = 0;
        while jc < n {
            let nc = blk.nc.min(n - jc);
            let mut pc = 0;
            while pc < k {
                let kc = kcb.min(k - pc);
                // Only the first slice of k may overwrite (never read) the destination.
                let load = accumulate || pc > 0;
                let bsrc = b.ptr.offset(pc as isize * b.rs + jc as isize * b.cs);
                if reads_b_in_place::<K>(m, nc, b, c) {
                    let asrc = a.ptr.offset(pc as isize * a.cs);
                    K::pack_a(m, kc, asrc, (a.rs, a.cs), abuf);
                    b_in_place::<K>(m, nc, kc, abuf, (bsrc, b.rs), bbuf, c, jc, load);
                    pc += kc;
                    continue;
                }
                K::pack_b(kc, nc, bsrc, (b.rs, b.cs), bbuf);
                if nc <= direct_nc::<K>() {
                    // A few columns: each A element serves at most a few tiles, so the
                    // kernel reads A in place instead of packing it.
                    let asrc = a.ptr.offset(pc as isize * a.cs);
                    direct::<K>(m, nc, kc, asrc, (a.rs, a.cs), bbuf, abuf, c, jc, load);
                } else {
                    let mut ic = 0;
                    while ic < m {
                        let mc = blk.mc.min(m - ic);
                        let asrc = a.ptr.offset(ic as isize * a.rs + pc as isize * a.cs);
                        K::pack_a(mc, kc, asrc, (a.rs, a.cs), abuf);
                        let cblk = c.ptr.offset(ic as isize * c.rs + jc as isize * c.cs);
                        block::<K>(mc, nc, kc, abuf, bbuf, cblk, c.rs, c.cs, load);
                        ic += mc;
                    }
                }
                pc += kc;
            }
            jc += nc;
        }
    });
}

/// Runs the micro-kernel over the `mc × nc` block from packed panels.
///
/// # Safety
/// As for `serial`; `ap` / `bp` hold the packed panels of this block.
#[allow(clippy::too_many_arguments)]
unsafe fn block<K: MicroKernel>(
    mc: usize,
    nc: usize,
    kc: usize,
    ap: *const f32,
    bp: *const f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    load: bool,
) {
    let (mr_full, nr_full) = (K::MR, K::NR);
    let tile_at = |ir: usize, jr: usize| {
        let (mr, nr) = (mr_full.min(mc - ir), nr_full.min(nc - jr));
        let (apan, bpan) = (ap.add(ir * kc), bp.add(jr * kc));
        let ct = c.offset(ir as isize * rsc + jr as isize * csc);
        let packed = (1, mr_full as isize);
        if mr == mr_full && nr == nr_full && csc == 1 {
            K::tile::<true>(kc, apan, packed, bpan, ct, rsc, load);
        } else if csc == 1 && K::tile_part::<true>(kc, apan, packed, bpan, ct, rsc, load, (mr, nr))
        {
            // The kernel wrote the edge tile's part itself.
        } else {
            // Edge or non-unit column stride: compute the full tile aside, write the part
            // that exists.
            let mut tile = [0f32; MAX_TILE];
            let t = tile.as_mut_ptr();
            K::tile::<true>(kc, apan, packed, bpan, t, nr_full as isize, false);
            write_tile(&tile, nr_full, (mr, nr), ct, (rsc, csc), load);
        }
    };
    if K::A_IN_L1 {
        // One A panel in L1 across a row of tiles; the B panels stream from L2.
        for ir in (0..mc).step_by(mr_full) {
            for jr in (0..nc).step_by(nr_full) {
                tile_at(ir, jr);
            }
        }
    } else {
        // One B panel in L1 across a column of tiles; the A panels stream from L2.
        for jr in (0..nc).step_by(nr_full) {
            for ir in (0..mc).step_by(mr_full) {
                tile_at(ir, jr);
            }
        }
    }
}

/// Whether an `m`-row product over `nc` columns reads B in place (`b_in_place`): few rows
/// (each B element then serves at most a few tiles, and packing B cost about a third of
/// the multiply-adds' time at 32 rows), a row-major B, a destination with unit column
/// stride, and more columns than the direct path takes. Each further row panel re-reads
/// the B panel from cache, where rows 8 KiB or more apart collide in the same sets: single
/// -threaded on the AVX-512 Xeon, 8–48 rows with B rows ≤ 4 KiB apart took 0.51–0.94× the
/// packed product's time, 64 rows 0.95–1.53×, and with 16 KiB rows 40–48 rows 1.3–1.6×
/// against 0.87× at 16.
fn reads_b_in_place<K: MicroKernel>(m: usize, nc: usize, b: Mat, c: MatMut) -> bool {
    let rows = if b.rs <= 1024 { 48 } else { 24 };
    K::B_IN_PLACE
        && m <= rows
        && nc > direct_nc::<K>()
        && b.cs == 1
        && b.rs >= K::NR as isize
        && c.cs == 1
}

/// The `m × nc` block at column `jc` of `c` from the packed A slice `ap` (all `m` rows) and
/// B read in place (`b`: the slice's first row at this block's first column, row stride
/// `ldb`): column panel by column panel, each panel's tiles one after another so that the
/// panel is fetched once; a last panel narrower than `NR` is packed into `tail`.
///
/// # Safety
/// As for `serial`; `ap` holds the packed `m × kc` slice of A, `tail` room for one packed
/// B panel.
#[allow(clippy::too_many_arguments)]
unsafe fn b_in_place<K: MicroKernel>(
    m: usize,
    nc: usize,
    kc: usize,
    ap: *const f32,
    (b, ldb): (*const f32, isize),
    tail: *mut f32,
    c: MatMut,
    jc: usize,
    load: bool,
) {
    let (mr_full, nr_full) = (K::MR, K::NR);
    let full = nc / nr_full * nr_full;
    for jr in (0..full).step_by(nr_full) {
        let bp = b.add(jr);
        for ir in (0..m).step_by(mr_full) {
            let mr = mr_full.min(m - ir);
            let ct = c.ptr.offset(ir as isize * c.rs + (jc + jr) as isize);
            let apan = ap.add(ir * kc);
            if !K::tile_b_in_place(kc, apan, bp, ldb as usize, ct, c.rs, load, (mr, nr_full)) {
                // Not expected (the kernel declared the variant): pack this panel.
                K::pack_b(kc, nr_full, bp, (ldb, 1), tail);
                block::<K>(mr, nr_full, kc, apan, tail, ct, c.rs, 1, load);
            }
        }
    }
    if full < nc {
        K::pack_b(kc, nc - full, b.add(full), (ldb, 1), tail);
        let ct = c.ptr.add(jc + full);
        block::<K>(m, nc - full, kc, ap, tail, ct, c.rs, 1, load);
    }
}

/// Widest block (in columns) whose A operand is read in place rather than packed.
const fn direct_nc<K: MicroKernel>() -> usize {
    3 * K::NR
}

/// Adds (or stores) the top-left `mr × nr` of a computed tile (rows `tile_nr` apart) into
/// `c`.
///
/// # Safety
/// The `mr × nr` elements of `c` with strides `rsc`, `csc` are writable.
unsafe fn write_tile(
    tile: &[f32; MAX_TILE],
    tile_nr: usize,
    (mr, nr): (usize, usize),
    c: *mut f32,
    (rsc, csc): (isize, isize),
    load: bool,
) {
    let put = |i: usize, j: usize| {
        let d = c.offset(i as isize * rsc + j as isize * csc);
        let v = tile[i * tile_nr + j];
        *d = if load { *d + v } else { v };
    };
    // Walk the destination along its unit stride.
    if rsc.unsigned_abs() == 1 {
        (0..nr).for_each(|j| (0..mr).for_each(|i| put(i, j)));
    } else {
        (0..mr).for_each(|i| (0..nr).for_each(|j| put(i, j)));
    }
}

/// The `m × nc` block at column `jc` of `c`, reading A (`m × kc` at `a`) unpacked; the
/// last rows short of a tile go through `tail` (room for one packed A panel).
///
/// # Safety
/// As for `serial`; `bp` holds the packed B panels of this block.
#[allow(clippy::too_many_arguments)]
unsafe fn direct<K: MicroKernel>(
    m: usize,
    nc: usize,
    kc: usize,
    a: *const f32,
    (rsa, csa): (isize, isize),
    bp: *const f32,
    tail: *mut f32,
    c: MatMut,
    jc: usize,
    load: bool,
) {
    let (mr_full, nr_full) = (K::MR, K::NR);
    let mut ir = 0;
    while ir < m {
        let mr = mr_full.min(m - ir);
        let arow = a.offset(ir as isize * rsa);
        if mr < mr_full {
            K::pack_a(mr, kc, arow, (rsa, csa), tail);
        }
        let mut jr = 0;
        while jr < nc {
            let nr = nr_full.min(nc - jr);
            let bpan = bp.add(jr * kc);
            let ct = c.ptr.offset(ir as isize * c.rs + (jc + jr) as isize * c.cs);
            let full = mr == mr_full && nr == nr_full && c.cs == 1;
            // A full row panel is read in place, the last short one from its packed copy.
            let run = |dst: *mut f32, rs: isize, ld: bool, part: Option<(usize, usize)>| {
                let tp = (1, mr_full as isize);
                match (mr == mr_full, part) {
                    (true, None) => {
                        K::tile::<false>(kc, arow, (rsa, csa), bpan, dst, rs, ld);
                        true
                    }
                    (false, None) => {
                        K::tile::<true>(kc, tail, tp, bpan, dst, rs, ld);
                        true
                    }
                    (true, Some(p)) => {
                        K::tile_part::<false>(kc, arow, (rsa, csa), bpan, dst, rs, ld, p)
                    }
                    (false, Some(p)) => K::tile_part::<true>(kc, tail, tp, bpan, dst, rs, ld, p),
                }
            };
            if full {
                run(ct, c.rs, load, None);
            } else if !(c.cs == 1 && run(ct, c.rs, load, Some((mr, nr)))) {
                // Computed aside, the part that exists copied out.
                let mut tile = [0f32; MAX_TILE];
                run(tile.as_mut_ptr(), nr_full as isize, false, None);
                write_tile(&tile, nr_full, (mr, nr), ct, (c.rs, c.cs), load);
            }
            jr += nr_full;
        }
        ir += mr_full;
    }
}

/// `c (+)= a · b` for an `m × k` `a` and `k × n` `b`, over up to `threads` rayon workers.
///
/// # Safety
/// AVX2 + FMA are available; every strided element of `a` (`m × k`), `b` (`k × n`) and
/// `c` (`m × n`) is in bounds, and `c` overlaps neither `a` nor `b` nor itself (distinct
/// indices address distinct elements).
#[allow(clippy::too_many_arguments)]
pub unsafe fn run<K: MicroKernel>(
    (m, n, k): (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    accumulate: bool,
    threads: usize,
    blk: Blocks,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.ptr.offset(i as isize * c.rs + j as isize * c.cs) = 0.0;
                }
            }
        }
        return;
    }
    // The kernel writes rows of the destination; a column-major destination, or a shape
    // that pads far less mirrored, runs as cᵀ = bᵀ · aᵀ.
    let pad = |m: usize, n: usize| round_up(m, K::MR) * round_up(n, K::NR);
    let col_major = c.cs.unsigned_abs() != 1 && c.rs.unsigned_abs() == 1;
    let unit_cs = c.cs.unsigned_abs() == 1;
    let small = |x: usize| x <= direct_nc::<K>();
    let mirror = if col_major {
        true
    } else if small(m) != small(n) {
        // Few columns: the long operand A is read in place. Few rows: mirrored, when that
        // makes the long operand a row-major A (Bᵀ of a column-major B).
        small(m) && b.rs.unsigned_abs() == 1 && b.cs.unsigned_abs() != 1
    } else if unit_cs {
        4 * pad(n, m) < 3 * pad(m, n)
    } else {
        pad(n, m) < pad(m, n)
    };
    if mirror {
        let at = Mat {
            ptr: a.ptr,
            rs: a.cs,
            cs: a.rs,
        };
        let bt = Mat {
            ptr: b.ptr,
            rs: b.cs,
            cs: b.rs,
        };
        let ct = MatMut {
            ptr: c.ptr,
            rs: c.cs,
            cs: c.rs,
        };
        return split::<K>((n, m, k), bt, at, ct, accumulate, threads, blk);
    }
    split::<K>((m, n, k), a, b, c, accumulate, threads, blk)
}

/// `a` and `c` from row `r0` on (a part of a split by rows).
///
/// # Safety
/// Row `r0` lies inside both matrices.
unsafe fn rows_from(a: Mat, c: MatMut, r0: usize) -> (Mat, MatMut) {
    let sa = Mat {
        ptr: a.ptr.offset(r0 as isize * a.rs),
        ..a
    };
    let sc = MatMut {
        ptr: c.ptr.offset(r0 as isize * c.rs),
        ..c
    };
    (sa, sc)
}

/// `b` and `c` from column `c0` on (a part of a split by columns).
///
/// # Safety
/// Column `c0` lies inside both matrices.
unsafe fn columns_from(b: Mat, c: MatMut, c0: usize) -> (Mat, MatMut) {
    let sb = Mat {
        ptr: b.ptr.offset(c0 as isize * b.cs),
        ..b
    };
    let sc = MatMut {
        ptr: c.ptr.offset(c0 as isize * c.cs),
        ..c
    };
    (sb, sc)
}

/// Splits the output over `threads` workers along its longer side (in whole tiles).
#[allow(clippy::too_many_arguments)]
unsafe fn split<K: MicroKernel>(
    (m, n, k): (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    accumulate: bool,
    threads: usize,
    blk: Blocks,
) {
    let (mt, nt) = (m.div_ceil(K::MR), n.div_ceil(K::NR));
    let parts = threads.min(mt.max(nt)).max(1);
    if parts == 1 {
        return serial::<K>((m, n, k), a, b, c, accumulate, blk);
    }
    let by_rows = mt >= nt;
    let tiles = if by_rows { mt } else { nt };
    crate::cpu::team::run(parts, |t| {
        // Whole structs (Send + Sync), not their raw-pointer fields.
        let (a, b, c) = (a, b, c);
        let (lo, hi) = (tiles * t / parts, tiles * (t + 1) / parts);
        // SAFETY: part `t` owns rows (or columns) [lo, hi) of c, disjoint from the others;
        // its sub-matrices are inside the caller's bounds.
        unsafe {
            if by_rows {
                let (r0, r1) = (lo * K::MR, (hi * K::MR).min(m));
                let (sa, sc) = rows_from(a, c, r0);
                serial::<K>((r1 - r0, n, k), sa, b, sc, accumulate, blk);
            } else {
                let (c0, c1) = (lo * K::NR, (hi * K::NR).min(n));
                let (sb, sc) = columns_from(b, c, c0);
                serial::<K>((m, c1 - c0, k), a, sb, sc, accumulate, blk);
            }
        }
    });
}

/// Floats an `m × k` A operand takes packed whole for kernel `K` (see `pack_whole_a`).
pub fn whole_a_len<K: MicroKernel>(m: usize, k: usize) -> usize {
    round_up(m, K::MR) * k
}

/// Packs all of `a` (`m × k`) once for `run_prepacked`: for each `KC`-deep slice of k
/// (starting at `pc`, at `out + pc · round_up(m, MR)`), every row in `MR`-row panels.
///
/// # Safety
/// The CPU runs `K`; every strided element of `a` is readable and `out` holds
/// `whole_a_len::<K>(m, k)` writable floats.
pub unsafe fn pack_whole_a<K: MicroKernel>(m: usize, k: usize, a: Mat, blk: Blocks, out: *mut f32) {
    let mpad = round_up(m, K::MR);
    let depth = slice_depth(k, blk.kc);
    let mut pc = 0;
    while pc < k {
        let kc = depth.min(k - pc);
        K::pack_a(
            m,
            kc,
            a.ptr.offset(pc as isize * a.cs),
            (a.rs, a.cs),
            out.add(pc * mpad),
        );
        pc += kc;
    }
}

/// `c (+)= a · b` with `a` packed by `pack_whole_a` (same `K`, same blocks), split over up
/// to `threads` workers along the output's longer side.
///
/// # Safety
/// As for `run`, with `ap` holding the packed `m × k` A operand.
#[allow(clippy::too_many_arguments)]
pub unsafe fn run_prepacked<K: MicroKernel>(
    (m, n, k): (usize, usize, usize),
    ap: *const f32,
    b: Mat,
    c: MatMut,
    accumulate: bool,
    threads: usize,
    blk: Blocks,
) {
    if m == 0 || n == 0 || k == 0 {
        // `pack_whole_a` holds nothing for k = 0: the plain driver clears or keeps c.
        let a = Mat {
            ptr: ap,
            rs: 0,
            cs: 0,
        };
        return run::<K>((m, n, k), a, b, c, accumulate, threads, blk);
    }
    let (mt, nt) = (m.div_ceil(K::MR), n.div_ceil(K::NR));
    let parts = threads.min(mt.max(nt)).max(1);
    let by_rows = mt >= nt;
    let tiles = if by_rows { mt } else { nt };
    let packed = Mat {
        ptr: ap,
        rs: 0,
        cs: 0,
    };
    let part = |t: usize| {
        // Whole structs (Send + Sync), not their raw-pointer fields.
        let (packed, b, c) = (packed, b, c);
        let ap = packed.ptr;
        let (lo, hi) = (tiles * t / parts, tiles * (t + 1) / parts);
        // SAFETY: part `t` owns rows (or columns) [lo, hi) of c in whole tiles, disjoint
        // from the other parts' and inside the caller's bounds.
        unsafe {
            if by_rows {
                let rows = (lo * K::MR, (hi * K::MR).min(m));
                serial_prepacked::<K>(rows, (m, n, k), ap, b, c, accumulate, blk);
            } else {
                let (c0, c1) = (lo * K::NR, (hi * K::NR).min(n));
                let (sb, sc) = columns_from(b, c, c0);
                serial_prepacked::<K>((0, m), (m, c1 - c0, k), ap, sb, sc, accumulate, blk);
            }
        }
    };
    if parts == 1 {
        part(0);
    } else {
        crate::cpu::team::run(parts, part);
    }
}

/// Rows `[r0, r1)` (`r0` a multiple of `MR`) of `c (+)= a · b` on this thread, `a` packed
/// whole for `m` rows.
///
/// # Safety
/// As for `run_prepacked`.
#[allow(clippy::too_many_arguments)]
unsafe fn serial_prepacked<K: MicroKernel>(
    (r0, r1): (usize, usize),
    (m, n, k): (usize, usize, usize),
    ap: *const f32,
    b: Mat,
    c: MatMut,
    accumulate: bool,
    blk: Blocks,
) {
    let mpad = round_up(m, K::MR);
    // Row blocks keep whole panels: a multiple of MR.
    let mcb = (blk.mc / K::MR).max(1) * K::MR;
    let kcb = slice_depth(k, blk.kc);
    let ncb = round_up(blk.nc.min(n), K::NR);
    with_scratch(kcb * ncb, |bbuf| {
        let mut jc = 0;
        while jc < n {
            let nc = blk.nc.min(n - jc);
            let mut pc = 0;
            while pc < k {
                let kc = kcb.min(k - pc);
                let load = accumulate || pc > 0;
                let bsrc = b.ptr.offset(pc as isize * b.rs + jc as isize * b.cs);
                K::pack_b(kc, nc, bsrc, (b.rs, b.cs), bbuf);
                let slice = ap.add(pc * mpad);
                let mut ic = r0;
                while ic < r1 {
                    let mc = mcb.min(r1 - ic);
                    let cblk = c.ptr.offset(ic as isize * c.rs + jc as isize * c.cs);
                    block::<K>(mc, nc, kc, slice.add(ic * kc), bbuf, cblk, c.rs, c.cs, load);
                    ic += mc;
                }
                pc += kc;
            }
            jc += nc;
        }
    });
}
