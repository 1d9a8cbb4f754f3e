//! Packing of strided operands into the panel layouts the micro-kernel reads: A as `MR`-row
//! panels (`kc` groups of `MR` values), B as `NR`-column panels (`kc` groups of `NR` values),
//! zero-padded past the matrix edge so edge tiles run the same kernel.

use core::arch::x86_64::*;

/// Packs the `mc × kc` block at `a` (strides `rsa`, `csa`) into `ceil(mc/MR)` panels.
///
/// # Safety
/// Every `a[i·rsa + p·csa]` for `i < mc`, `p < kc` is readable; `out` holds
/// `ceil(mc/MR)·MR·kc` writable floats.
pub unsafe fn pack_a<const MR: usize>(
    mc: usize,
    kc: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    out: *mut f32,
) {
    if rsa == 1 && csa != 1 {
        pack_a_columns::<MR>(mc, kc, a, csa, out);
        return;
    }
    let mut dst = out;
    let mut i0 = 0;
    while i0 < mc {
        let rows = MR.min(mc - i0);
        let base = a.offset(i0 as isize * rsa);
        if rows == MR && csa == 1 {
            // Row-major A: 8×8 transposes in registers.
            pack_a_rows::<MR>(kc, base, rsa, dst);
        } else {
            for p in 0..kc {
                let d = dst.add(p * MR);
                for i in 0..MR {
                    *d.add(i) = if i < rows {
                        *base.offset(i as isize * rsa + p as isize * csa)
                    } else {
                        0.0
                    };
                }
            }
        }
        dst = dst.add(MR * kc);
        i0 += MR;
    }
}

/// `pack_a` for a column-major A (unit row stride, a transposed row-major operand such as
/// the gate gradients in a weight gradient `dzᵀ·x`): step `p`'s `mc` values are adjacent, so
/// each step is read in one sequential run and dealt out to the panels. (Panel by panel,
/// every step touched one or two lines of a different row of the source, 4 KiB apart: a
/// 1024×1600 operand packed at about 9 GB/s and took 6 % of an LSTM training step.)
///
/// # Safety
/// As for `pack_a` with `rsa == 1`.
unsafe fn pack_a_columns<const MR: usize>(
    mc: usize,
    kc: usize,
    a: *const f32,
    csa: isize,
    out: *mut f32,
) {
    let (full, rest) = (mc / MR, mc % MR);
    for p in 0..kc {
        let src = a.offset(p as isize * csa);
        for q in 0..full {
            let dst = out.add(q * MR * kc + p * MR);
            core::ptr::copy_nonoverlapping(src.add(q * MR), dst, MR);
        }
        if rest > 0 {
            let dst = out.add(full * MR * kc + p * MR);
            core::ptr::copy_nonoverlapping(src.add(full * MR), dst, rest);
            core::ptr::write_bytes(dst.add(rest), 0, MR - rest);
        }
    }
}

/// Packs the `kc × nc` block at `b` (strides `rsb`, `csb`) into `ceil(nc/NR)` panels.
///
/// # Safety
/// Every `b[p·rsb + j·csb]` for `p < kc`, `j < nc` is readable; `out` holds
/// `ceil(nc/NR)·NR·kc` writable floats.
pub unsafe fn pack_b<const NR: usize>(
    kc: usize,
    nc: usize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    out: *mut f32,
) {
    let mut dst = out;
    let mut j0 = 0;
    while j0 < nc {
        let cols = NR.min(nc - j0);
        let base = b.offset(j0 as isize * csb);
        if cols == NR && csb == 1 {
            // Row-major B: each step is `NR` adjacent values.
            for p in 0..kc {
                core::ptr::copy_nonoverlapping(base.offset(p as isize * rsb), dst.add(p * NR), NR);
            }
        } else if cols == NR && rsb == 1 {
            // Column-major B (a transposed operand): 8×8 transposes in registers.
            pack_b_cols::<NR>(kc, base, csb, dst);
        } else if rsb == 1 {
            // Column-major edge panel: read each column down, write it strided.
            for j in 0..NR {
                if j < cols {
                    let col = base.offset(j as isize * csb);
                    for p in 0..kc {
                        *dst.add(p * NR + j) = *col.add(p);
                    }
                } else {
                    for p in 0..kc {
                        *dst.add(p * NR + j) = 0.0;
                    }
                }
            }
        } else {
            for p in 0..kc {
                let d = dst.add(p * NR);
                let row = base.offset(p as isize * rsb);
                for j in 0..NR {
                    *d.add(j) = if j < cols {
                        *row.offset(j as isize * csb)
                    } else {
                        0.0
                    };
                }
            }
        }
        dst = dst.add(NR * kc);
        j0 += NR;
    }
}

/// One full `MR`-row panel of a row-major A (row `i` at `base + i·rsa`, unit column
/// stride), `kc` deep: eight rows at a time transposed 8×8 in registers (a last group of
/// fewer rows is transposed with zero rows and only its own values stored).
///
/// # Safety
/// AVX2 is available; rows `0..MR` hold `kc` readable floats each; `dst` holds `kc·MR`.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_a_rows<const MR: usize>(kc: usize, base: *const f32, rsa: isize, dst: *mut f32) {
    let row: [*const f32; MR] = core::array::from_fn(|i| base.offset(i as isize * rsa));
    let mut p = 0;
    while p + 8 <= kc {
        for i0 in (0..MR).step_by(8) {
            let n = (MR - i0).min(8);
            let r: [__m256; 8] = core::array::from_fn(|j| {
                if j < n {
                    _mm256_loadu_ps(row[i0 + j].add(p))
                } else {
                    _mm256_setzero_ps()
                }
            });
            for (q, v) in transpose8(r).iter().enumerate() {
                let d = dst.add((p + q) * MR + i0);
                match n {
                    8 => _mm256_storeu_ps(d, *v),
                    4 => _mm_storeu_ps(d, _mm256_castps256_ps128(*v)),
                    _ => {
                        let mut lanes = [0f32; 8];
                        _mm256_storeu_ps(lanes.as_mut_ptr(), *v);
                        core::ptr::copy_nonoverlapping(lanes.as_ptr(), d, n);
                    }
                }
            }
        }
        p += 8;
    }
    while p < kc {
        for (i, r) in row.iter().enumerate() {
            *dst.add(p * MR + i) = *r.add(p);
        }
        p += 1;
    }
}

/// One full `NR`-column panel of a column-major B (column `j` at `base + j·csb`, unit row
/// stride), `kc` deep, transposed 8×8 at a time.
///
/// # Safety
/// AVX2 is available; columns `0..NR` hold `kc` readable floats each; `dst` holds `kc·NR`.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_b_cols<const NR: usize>(kc: usize, base: *const f32, csb: isize, dst: *mut f32) {
    let col: [*const f32; NR] = core::array::from_fn(|j| base.offset(j as isize * csb));
    let mut p = 0;
    while p + 8 <= kc {
        for half in 0..NR / 8 {
            let c = &col[half * 8..half * 8 + 8];
            let r: [__m256; 8] = core::array::from_fn(|j| _mm256_loadu_ps(c[j].add(p)));
            let t = transpose8(r);
            for (q, v) in t.iter().enumerate() {
                _mm256_storeu_ps(dst.add((p + q) * NR + half * 8), *v);
            }
        }
        p += 8;
    }
    while p < kc {
        for (j, c) in col.iter().enumerate() {
            *dst.add(p * NR + j) = *c.add(p);
        }
        p += 1;
    }
}

/// Transposes the 8×8 block whose rows are `r`.
///
/// # Safety
/// AVX is available.
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ]
}
