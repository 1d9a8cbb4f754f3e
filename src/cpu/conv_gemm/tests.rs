//! The kernels against the convolution's definition, in f64.

use super::*;

/// Direct definition of the convolution, in f64.
fn naive(x: &[f64], wt: &[f64], s: &Geom) -> Vec<f64> {
    let (cg, og) = (s.cg(), s.og());
    let mut out = vec![0.0; s.n * s.o * s.l()];
    for b in 0..s.n {
        for oc in 0..s.o {
            let gi = oc / og;
            for y in 0..s.oh {
                for xx in 0..s.ow {
                    let mut acc = 0.0;
                    for ch in 0..cg {
                        for i in 0..s.win.kh {
                            for j in 0..s.win.kw {
                                let iy = (y * s.win.sh + i * s.win.dh) as isize - s.win.ph as isize;
                                let ix =
                                    (xx * s.win.sw + j * s.win.dw) as isize - s.win.pw as isize;
                                if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                                    continue;
                                }
                                let xv = x[((b * s.c + gi * cg + ch) * s.h + iy as usize) * s.w
                                    + ix as usize];
                                acc += xv * wt[((oc * cg + ch) * s.win.kh + i) * s.win.kw + j];
                            }
                        }
                    }
                    out[((b * s.o + oc) * s.oh + y) * s.ow + xx] = acc;
                }
            }
        }
    }
    out
}

fn geom(n: usize, c: usize, hw: (usize, usize), o: usize, groups: usize, win: Window) -> Geom {
    let oh = Window::out_len(hw.0, win.kh, win.sh, win.ph, win.dh, false).unwrap();
    let ow = Window::out_len(hw.1, win.kw, win.sw, win.pw, win.dw, false).unwrap();
    Geom {
        n,
        c,
        h: hw.0,
        w: hw.1,
        o,
        groups,
        win,
        oh,
        ow,
    }
}

fn vals(len: usize, seed: usize) -> Vec<f64> {
    (0..len)
        .map(|i| (((i * 7919 + seed * 104729) % 1009) as f64) / 1009.0 - 0.5)
        .collect()
}

fn win(k: (usize, usize), s: usize, p: (usize, usize), d: usize) -> Window {
    Window {
        kh: k.0,
        kw: k.1,
        sh: s,
        sw: s,
        ph: p.0,
        pw: p.1,
        dh: d,
        dw: d,
    }
}

#[test]
fn forward_and_gradients_match_the_definition() {
    let cases = [
        geom(2, 3, (5, 7), 4, 1, win((3, 3), 1, (1, 1), 1)),
        geom(1, 4, (6, 5), 6, 2, win((3, 2), 1, (0, 1), 1)),
        geom(3, 2, (7, 7), 3, 1, win((3, 3), 2, (1, 1), 1)),
        geom(2, 2, (9, 8), 2, 1, win((3, 3), 1, (2, 2), 2)),
        geom(1, 3, (4, 4), 5, 1, win((1, 1), 1, (0, 0), 1)),
        geom(2, 2, (4, 5), 2, 1, win((2, 2), 1, (3, 2), 1)),
        // im2col for few channels at stride 1; shifted views from 32 channels.
        geom(2, 1, (5, 6), 3, 1, win((3, 3), 1, (1, 1), 1)),
        geom(1, 32, (5, 4), 3, 1, win((3, 2), 1, (1, 0), 1)),
        // Winograd: odd output sizes (partial tiles), padding 0 to 2.
        geom(1, 32, (4, 5), 32, 1, win((3, 3), 1, (1, 1), 1)),
        geom(1, 32, (5, 4), 33, 1, win((3, 3), 1, (0, 2), 1)),
    ];
    for s in cases {
        let x = vals(s.n * s.c * s.h * s.w, 1);
        let wt = vals(s.o * s.cg() * s.kk(), 2);
        let want = naive(&x, &wt, &s);
        let got = forward(&x, &wt, None, &s).unwrap();
        let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs());
        assert!(err.fold(0.0, f64::max) < 1e-12, "{s:?}");
        // <conv(x), g> is bilinear: its gradients are the kernels' outputs.
        let g = vals(want.len(), 3);
        let dot = |x: &[f64], wt: &[f64]| -> f64 {
            naive(x, wt, &s).iter().zip(&g).map(|(a, b)| a * b).sum()
        };
        let gx = grad_input(&g, &wt, &s).unwrap();
        let gw = grad_weight(&x, &g, &s).unwrap();
        for (i, &v) in gx
            .iter()
            .enumerate()
            .step_by(if gx.len() > 300 { 23 } else { 5 })
        {
            let mut e = vec![0.0; x.len()];
            e[i] = 1.0;
            assert!((dot(&e, &wt) - v).abs() < 1e-12, "dx {i} {s:?}");
        }
        // Every weight of the small cases, a spread subset of the large ones.
        let every = if gw.len() > 1000 { 97 } else { 1 };
        for (i, &v) in gw.iter().enumerate().step_by(every) {
            let mut e = vec![0.0; wt.len()];
            e[i] = 1.0;
            assert!((dot(&x, &e) - v).abs() < 1e-12, "dw {i} {s:?}");
        }
    }
}
