//! Per-channel kernels over `[outer, c, inner]` views (batch norm's forward and backward):
//! an affine map with per-channel coefficients and per-channel sums, each one pass.

use super::conv::dims3;
use super::{contiguous_or_gathered, try_output, CpuBackend};
use crate::backend::Strided;
use crate::dtype::{DType, Elem};
use crate::error::Result;
use crate::storage::Storage;
use num_traits::Float;

fn affine<F: Float + Elem>(
    x: &[F],
    (a, b): (&[F], &[F]),
    extra: Option<(&[F], &[F])>,
    (outer, c, inner): (usize, usize, usize),
) -> Result<Vec<F>> {
    let total = outer * c * inner;
    let mut out = try_output::<F>(total)?;
    if inner == 0 {
        return Ok(out);
    }
    super::for_each_chunk(&mut out, inner, total, |plane, dst| {
        let ch = plane % c;
        let src = &x[plane * inner..(plane + 1) * inner];
        let (ac, bc) = (a[ch], b[ch]);
        match extra {
            Some((z, e)) => {
                let (zs, ec) = (&z[plane * inner..(plane + 1) * inner], e[ch]);
                dst.iter_mut()
                    .zip(src.iter().zip(zs))
                    .for_each(|(o, (&v, &w))| *o = ac * v + bc + ec * w);
            }
            None => dst.iter_mut().zip(src).for_each(|(o, &v)| *o = ac * v + bc),
        }
    });
    Ok(out)
}

fn sums<F: Float + Elem>(
    g: &[F],
    x: &[F],
    (outer, c, inner): (usize, usize, usize),
) -> (Vec<F>, Vec<F>) {
    let channel = |ch: usize| {
        let (mut sg, mut sgx) = (0f64, 0f64);
        for o in 0..outer {
            let r = (o * c + ch) * inner..(o * c + ch + 1) * inner;
            // Eight lanes in the working type per plane, then f64 across planes.
            let (mut ag, mut agx) = ([F::zero(); 8], [F::zero(); 8]);
            let (gr, xr) = (&g[r.clone()], &x[r]);
            for (gc, xc) in gr.chunks_exact(8).zip(xr.chunks_exact(8)) {
                for k in 0..8 {
                    ag[k] = ag[k] + gc[k];
                    agx[k] = agx[k] + gc[k] * xc[k];
                }
            }
            let tail = inner / 8 * 8;
            for (&gv, &xv) in gr[tail..].iter().zip(&xr[tail..]) {
                ag[0] = ag[0] + gv;
                agx[0] = agx[0] + gv * xv;
            }
            sg += ag.iter().fold(0.0, |s, v| s + Elem::to_f64(*v));
            sgx += agx.iter().fold(0.0, |s, v| s + Elem::to_f64(*v));
        }
        (F::from_f64(sg), F::from_f64(sgx))
    };
    let pairs: Vec<(F, F)> = if super::parallel(g.len()) && c > 1 {
        super::team::map(c, channel)
    } else {
        (0..c).map(channel).collect()
    };
    pairs.into_iter().unzip()
}

impl CpuBackend {
    pub(super) fn channel_affine_kernel(
        &self,
        x: Strided,
        a: Strided,
        b: Strided,
        extra: Option<(Strided, Strided)>,
    ) -> Result<Option<Storage>> {
        let d = dims3(x, "channel_affine")?;
        let c = d.1;
        let ok = a.numel() == c
            && b.numel() == c
            && extra.is_none_or(|(z, e)| z.shape() == x.shape() && e.numel() == c)
            && [Some(a), Some(b), extra.map(|e| e.0), extra.map(|e| e.1)]
                .iter()
                .flatten()
                .all(|s| s.dtype() == x.dtype());
        if !ok {
            return Ok(None);
        }
        macro_rules! run {
            ($F:ty) => {{
                let xs = contiguous_or_gathered::<$F>(x)?;
                let (as_, bs) = (
                    contiguous_or_gathered::<$F>(a)?,
                    contiguous_or_gathered::<$F>(b)?,
                );
                let ex = match extra {
                    Some((z, e)) => Some((
                        contiguous_or_gathered::<$F>(z)?,
                        contiguous_or_gathered::<$F>(e)?,
                    )),
                    None => None,
                };
                let ex = ex.as_ref().map(|(z, e)| (&z[..], &e[..]));
                Ok(Some(Storage::from_vec(affine::<$F>(
                    &xs,
                    (&as_, &bs),
                    ex,
                    d,
                )?)))
            }};
        }
        match x.dtype() {
            DType::F32 => run!(f32),
            DType::F64 => run!(f64),
            _ => Ok(None),
        }
    }

    pub(super) fn channel_sums_kernel(
        &self,
        g: Strided,
        x: Strided,
    ) -> Result<Option<(Storage, Storage)>> {
        let d = dims3(g, "channel_sums")?;
        if x.shape() != g.shape() || x.dtype() != g.dtype() {
            return Ok(None);
        }
        macro_rules! run {
            ($F:ty) => {{
                let (gs, xs) = (
                    contiguous_or_gathered::<$F>(g)?,
                    contiguous_or_gathered::<$F>(x)?,
                );
                let (sg, sgx) = sums::<$F>(&gs, &xs, d);
                Ok(Some((Storage::from_vec(sg), Storage::from_vec(sgx))))
            }};
        }
        match g.dtype() {
            DType::F32 => run!(f32),
            DType::F64 => run!(f64),
            _ => Ok(None),
        }
    }
}
