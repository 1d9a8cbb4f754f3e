// NN family (cuda/nn.cu) for every float dtype: softmax and log-softmax (rows kernel with its
// block reductions, lanes kernel) including -inf, +inf and NaN lanes, and their backward;
// layer norm forward and backward (float, double); moments; running
// statistics; im2col, col2im and max-pool indices over several window geometries. References
// follow src/cpu/nn.rs and src/cpu/conv.rs.
#include "emu_test.h"

// Tolerance of a softmax result in T (the CPU computes halves in their own precision).
template <class T> static double soft_tol() {
    if constexpr (std::is_same_v<T, f16>) return 4e-3;
    else if constexpr (std::is_same_v<T, bf16>) return 3e-2;
    else if constexpr (std::is_same_v<T, float>) return 1e-5;
    else return 1e-13;
}

// Absolute tolerance: log-softmax cancels (x - max - log s), so its error scales with the
// inputs; softmax probabilities may be subnormal in T.
template <class T> static double soft_abs(bool lg) {
    if (lg) return 10 * soft_tol<T>();
    if constexpr (std::is_same_v<T, f16>) return 1.2e-7;  // two subnormal steps
    else return 1e-37;
}

// One softmax lane in double (the CPU's rule: shift by the maximum, or by 0 when it is ±inf).
static std::vector<double> ref_softmax(const std::vector<double>& x, bool lg) {
    double m = -INFINITY;
    for (double v : x)
        if (v > m) m = v;
    if (std::isinf(m)) m = 0;
    double s = 0;
    for (double v : x) s += std::exp(v - m);
    std::vector<double> y;
    for (double v : x) y.push_back(lg ? v - m - std::log(s) : std::exp(v - m) / s);
    return y;
}

template <class T, class KR, class KL>
static void softmax_case(KR rows_k, KL lanes_k, const char* sn) {
    const int outer = 7, d = 100;
    std::vector<double> xs(outer * d);
    for (auto& v : xs) v = (double)((int)(rng() % 2000) - 1000) / 50.0;
    for (int k = 0; k < d; ++k) xs[1 * d + k] = -INFINITY;  // all -inf: NaN
    xs[2 * d + 50] = INFINITY;                                // +inf: NaN there, 0 elsewhere
    xs[3 * d + 10] = NAN;                                     // NaN lane
    for (int k = 0; k < d; ++k) xs[4 * d + k] = k % 3 ? -INFINITY : -1000.0;
    xs[5 * d + 0] = 80.0;
    xs[5 * d + 99] = 88.5;
    for (int k = 0; k < d; ++k) xs[6 * d + k] = k == 70 ? 3.0 : -INFINITY;
    Buf<T> x(outer * d);
    for (int i = 0; i < outer * d; ++i) x[i] = ref_from_d<T>(xs[i]);
    std::string rn = std::string("softmax_rows_") + sn, ln = std::string("softmax_lanes_") + sn;
    for (int lg = 0; lg < 2; ++lg) {
        Buf<T> y(outer * d), y2(outer * d);
        // rows: the [7, 100] rows; lanes: dim 0 of the [100, 7] transposed view
        Lay lo = mk({outer}, {d});
        emu::launch(rn.c_str(), 3, 64, [&] { rows_k(x.data(), lo, outer, d, 1, y.data(), lg); });
        Lay lo2 = mk({}, {}), li2 = mk({outer}, {d});
        emu::launch(ln.c_str(), 2, 64, [&] {
            lanes_k(x.data(), lo2, li2, 1, outer, d, 1, y2.data(), lg);
        });
        for (int r = 0; r < outer; ++r) {
            std::vector<double> row;
            for (int k = 0; k < d; ++k) row.push_back(ref_to_d(x[r * d + k]));
            auto ref = ref_softmax(row, lg);
            bool ok = true, ok2 = true;
            for (int k = 0; k < d; ++k) {
                double tol = soft_tol<T>(), abs_tol = soft_abs<T>(lg);
                bool a = close(ref_to_d(y[r * d + k]), ref[k], tol, abs_tol);
                bool b = close(ref_to_d(y2[k * outer + r]), ref[k], tol, abs_tol);
                if ((!a && ok) || (!b && ok2))
                    std::printf("  row %d k=%d x=%.9g: rows %.9g lanes %.9g want %.9g\n", r, k,
                                row[k], ref_to_d(y[r * d + k]), ref_to_d(y2[k * outer + r]),
                                ref[k]);
                ok &= a;
                ok2 &= b;
            }
            CHECK(ok, "%s log=%d row %d", rn.c_str(), lg, r);
            CHECK(ok2, "%s log=%d row %d", ln.c_str(), lg, r);
        }
    }
    // lanes along dim 1 of a [2, 5, 3] view with storage [3, 2, 5] (strides 5, 1, 10)
    Buf<T> xd(30), yd(30);
    for (int i = 0; i < 30; ++i) xd[i] = ref_from_d<T>((double)((int)(rng() % 200) - 100) / 10.0);
    Lay lo = mk({2}, {5}), li = mk({3}, {10});
    emu::launch(ln.c_str(), 1, 32, [&] { lanes_k(xd.data(), lo, li, 2, 3, 5, 1, yd.data(), 0); });
    bool ok = true;
    for (int o = 0; o < 2; ++o)
        for (int i = 0; i < 3; ++i) {
            std::vector<double> lane;
            for (int k = 0; k < 5; ++k) lane.push_back(ref_to_d(xd[o * 5 + k + i * 10]));
            auto ref = ref_softmax(lane, false);
            for (int k = 0; k < 5; ++k)
                ok &= close(ref_to_d(yd[(o * 5 + k) * 3 + i]), ref[k], soft_tol<T>(),
                            soft_abs<T>(0));
        }
    CHECK(ok, "%s on a permuted view", ln.c_str());
}

// A block size (a multiple of 32) for which V elements per thread hold a row of d.
static int reg_threads(int d, int v) {
    int t = 32;
    while (t * v < d) t *= 2;
    return t;
}

// The register-resident softmax rows kernel with V elements per thread, against the
// reference on rows of 100 with special values.
template <class T, class K> static void softmax_reg_case(K rows_k, int v, const char* sn) {
    const int rows = 5, d = 100;
    std::vector<double> xs(rows * d);
    for (auto& e : xs) e = (double)((int)(rng() % 2000) - 1000) / 50.0;
    for (int k = 0; k < d; ++k) xs[1 * d + k] = -INFINITY;
    xs[2 * d + 50] = INFINITY;
    xs[3 * d + 10] = NAN;
    Buf<T> x(rows * d);
    for (int i = 0; i < rows * d; ++i) x[i] = ref_from_d<T>(xs[i]);
    std::string name = "softmax_rows_v" + std::to_string(v) + "_" + sn;
    for (int lg = 0; lg < 2; ++lg) {
        Buf<T> y(rows * d);
        Lay lo = mk({rows}, {d});
        emu::launch(name.c_str(), 2, reg_threads(d, v),
                    [&] { rows_k(x.data(), lo, rows, d, 1, y.data(), lg); });
        bool ok = true;
        for (int r = 0; r < rows; ++r) {
            std::vector<double> row;
            for (int k = 0; k < d; ++k) row.push_back(ref_to_d(x[r * d + k]));
            auto ref = ref_softmax(row, lg);
            for (int k = 0; k < d; ++k)
                ok &= close(ref_to_d(y[r * d + k]), ref[k], soft_tol<T>(), soft_abs<T>(lg));
        }
        CHECK(ok, "%s log=%d", name.c_str(), lg);
    }
}

// Activation backward from the output: ReLU's threshold select (NaN outputs pass the
// gradient, an infinite gradient where the output is cut off gives 0) and sigmoid / tanh,
// on a transposed output and a contiguous gradient.
template <class T, class KT, class KO> static void act_bwd_case(KT thr_k, KO out_k, const char* sn) {
    using C = typename acc_t<T>::type;
    const int a = 5, b = 7, n = a * b;
    Buf<T> y(n + 3), g(n), out(n);
    for (int i = 0; i < n + 3; ++i) y[i] = ref_from_d<T>((double)((int)(rng() % 200) - 100) / 100.0);
    for (int i = 0; i < n; ++i) g[i] = ref_from_d<T>((double)((int)(rng() % 200) - 100) / 10.0);
    y[3 + 4] = ref_from_d<T>(NAN);
    g[2] = ref_from_d<T>(INFINITY);
    y[3 + 2 * a] = ref_from_d<T>(-1.0);  // element 2 of the transposed view: cut off
    Lay ly = transposed(a, b), lg = contig(n);
    auto yat = [&](int i) { return y[3 + (i % b) * a + i / b]; };
    std::string tn = std::string("threshold_bwd_") + sn, on = std::string("output_bwd_") + sn;
    emu::launch(tn.c_str(), 2, 32, [&] { thr_k(y.data(), ly, g.data(), lg, 0.25, out.data(), n); });
    bool ok = true;
    for (int i = 0; i < n; ++i) {
        double v = ref_to_d(yat(i));
        double want = v <= 0.25 ? 0.0 : ref_to_d(g[i]);
        double got = ref_to_d(out[i]);
        ok &= got == want || (got != got && want != want);
    }
    CHECK(ok, "%s", tn.c_str());
    for (int op = 0; op < 2; ++op) {
        emu::launch(on.c_str(), 2, 32, [&] { out_k(op, y.data(), ly, g.data(), lg, out.data(), n); });
        bool ok2 = true;
        for (int i = 0; i < n; ++i) {
            C v = (C)ref_to_d(yat(i)), gv = (C)ref_to_d(g[i]);
            T want = ref_from_d<T>((double)(op == 0 ? gv * (v * ((C)1 - v)) : gv * ((C)1 - v * v)));
            ok2 &= ulps(out[i], want) == 0 || (ref_to_d(out[i]) != ref_to_d(out[i]) && ref_to_d(want) != ref_to_d(want));
        }
        CHECK(ok2, "%s op=%d", on.c_str(), op);
    }
}

// Softmax's backward over rows from y (a softmax, or log-softmax, of random rows) and g.
template <class T, class K> static void softmax_bwd_case(K bwd_k, const char* sn) {
    const int rows = 5, d = 37;
    std::string name = std::string("softmax_bwd_rows_") + sn;
    for (int lg = 0; lg < 2; ++lg) {
        Buf<T> y(rows * d), g(rows * d), gx(rows * d);
        for (int r = 0; r < rows; ++r) {
            std::vector<double> row;
            for (int k = 0; k < d; ++k) row.push_back((double)((int)(rng() % 400) - 200) / 50.0);
            auto sm = ref_softmax(row, lg);
            for (int k = 0; k < d; ++k) {
                y[r * d + k] = ref_from_d<T>(sm[k]);
                g[r * d + k] = ref_from_d<T>((double)((int)(rng() % 200) - 100) / 25.0);
            }
        }
        emu::launch(name.c_str(), 2, 64, [&] { bwd_k(y.data(), g.data(), rows, d, gx.data(), lg); });
        bool ok = true;
        for (int r = 0; r < rows; ++r) {
            double s = 0;
            for (int k = 0; k < d; ++k) {
                double yv = ref_to_d(y[r * d + k]), gv = ref_to_d(g[r * d + k]);
                s += lg ? gv : gv * yv;
            }
            for (int k = 0; k < d; ++k) {
                double yv = ref_to_d(y[r * d + k]), gv = ref_to_d(g[r * d + k]);
                double want = lg ? gv - std::exp(yv) * s : yv * (gv - s);
                ok &= close(ref_to_d(gx[r * d + k]), want, 4 * soft_tol<T>(), 4 * soft_tol<T>());
            }
        }
        CHECK(ok, "%s log=%d", name.c_str(), lg);
    }
}

// Layer norm over rows (float and double): forward with and without the affine parameters,
// the input gradient, and the parameter gradients summed over chunks of rows.
template <class T> using LnFwd = void (*)(const T*, const T*, const T*, i64, i64, double, T*, T*, T*);
template <class T> using LnBwd = void (*)(const T*, const T*, const T*, const T*, const T*, i64, i64, T*);
// A row kernel under test: its name, entry point and block size.
template <class F> struct Variant {
    std::string name;
    F kernel;
    int threads;
};

template <class T, class KP, class KS>
static void layer_norm_case(std::vector<Variant<LnFwd<T>>> fwds, std::vector<Variant<LnBwd<T>>> bwds,
                            KP params_k, KS sum_k, const char* sn, int d) {
    const int rows = 9;
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
    std::vector<T> x(rows * d), w(d), b(d), g(rows * d);
    for (auto& v : x) v = (T)((double)((int)(rng() % 2000) - 1000) / 64.0 + 3.0);
    for (auto& v : w) v = (T)((double)((int)(rng() % 200) - 100) / 50.0);
    for (auto& v : b) v = (T)((double)((int)(rng() % 200) - 100) / 40.0);
    for (auto& v : g) v = (T)((double)((int)(rng() % 200) - 100) / 30.0);
    const double eps = 1e-5;
    std::vector<double> mu(rows), rs(rows);
    for (int r = 0; r < rows; ++r) {
        double s = 0, q = 0;
        for (int k = 0; k < d; ++k) s += x[r * d + k];
        mu[r] = s / d;
        for (int k = 0; k < d; ++k) q += (x[r * d + k] - mu[r]) * (x[r * d + k] - mu[r]);
        rs[r] = 1.0 / std::sqrt(q / d + eps);
    }
    auto xh = [&](int r, int k) { return (x[r * d + k] - mu[r]) * rs[r]; };
    std::string pn = std::string("layer_norm_params_") + sn,
                sname = std::string("layer_norm_param_sum_") + sn;
    for (int affine = 0; affine < 2; ++affine)
    for (size_t vi = 0; vi < fwds.size(); ++vi) {
        std::vector<T> y(rows * d), mean(rows), rstd(rows);
        const T* wp = affine ? w.data() : nullptr;
        const T* bp = affine ? b.data() : nullptr;
        const auto& fv = fwds[vi];
        const auto& bv = bwds[vi % bwds.size()];
        const char* fn = fv.name.c_str();
        const char* bn = bv.name.c_str();
        emu::launch(fn, 4, fv.threads, [&] {
            fv.kernel(x.data(), wp, bp, rows, d, eps, y.data(), mean.data(), rstd.data());
        });
        bool ok = true;
        for (int r = 0; r < rows; ++r) {
            ok &= close(mean[r], mu[r], tol) && close(rstd[r], rs[r], tol);
            for (int k = 0; k < d; ++k) {
                double want = affine ? xh(r, k) * w[k] + b[k] : xh(r, k);
                ok &= close(y[r * d + k], want, tol, tol);
            }
        }
        CHECK(ok, "%s affine=%d", fn, affine);
        std::vector<T> gx(rows * d);
        emu::launch(bn, 3, bv.threads, [&] {
            bv.kernel(g.data(), x.data(), mean.data(), rstd.data(), wp, rows, d, gx.data());
        });
        ok = true;
        for (int r = 0; r < rows; ++r) {
            double s1 = 0, s2 = 0;
            for (int k = 0; k < d; ++k) {
                double gh = g[r * d + k] * (affine ? (double)w[k] : 1.0);
                s1 += gh;
                s2 += gh * xh(r, k);
            }
            for (int k = 0; k < d; ++k) {
                double gh = g[r * d + k] * (affine ? (double)w[k] : 1.0);
                double want = (gh - s1 / d - xh(r, k) * s2 / d) * rs[r];
                ok &= close(gx[r * d + k], want, 10 * tol, 10 * tol);
            }
        }
        CHECK(ok, "%s affine=%d", bn, affine);
        // chunks of 4 rows: 4 + 4 + 1
        const int chunk = 4, chunks = 3;
        std::vector<T> pw(chunks * d, (T)-7), pb(chunks * d, (T)-7), gw(d), gb(d);
        emu::launch(pn.c_str(), 2, 256, [&] {
            params_k(g.data(), x.data(), mean.data(), rstd.data(), rows, d, chunk, pw.data(),
                     pb.data());
        });
        emu::launch(sname.c_str(), 1, 32, [&] { sum_k(pw.data(), chunks, d, gw.data()); });
        emu::launch(sname.c_str(), 1, 32, [&] { sum_k(pb.data(), chunks, d, gb.data()); });
        ok = true;
        for (int k = 0; k < d; ++k) {
            double sw = 0, sb = 0;
            for (int r = 0; r < rows; ++r) {
                sw += g[r * d + k] * xh(r, k);
                sb += g[r * d + k];
            }
            ok &= close(gw[k], sw, 10 * tol, 10 * tol) && close(gb[k], sb, tol, tol);
        }
        CHECK(ok, "%s + %s", pn.c_str(), sname.c_str());
    }
}

template <class T, class KM, class KS>
static void stats_case(KM moments_k, KS running_k, const char* sn) {
    // moments over [outer, c, inner] = [3, 5, 7] from storage [c, outer, inner]
    const int outer = 3, c = 5, inner = 7;
    Buf<T> x(outer * c * inner + 4);
    for (size_t i = 0; i < x.size(); ++i) x[i] = ref_from_d<T>((double)(int)(rng() % 1000) / 7.0);
    Buf<T> mean(c), var(c);
    std::string mn = std::string("moments_") + sn, rn = std::string("running_stat_") + sn;
    emu::launch(mn.c_str(), 2, 64, [&] {
        moments_k(x.data(), 4, outer, c, inner, 7, 21, 1, mean.data(), var.data());
    });
    bool ok = true;
    for (int ch = 0; ch < c; ++ch) {
        double s = 0, ss = 0;
        for (int o = 0; o < outer; ++o)
            for (int i = 0; i < inner; ++i) s += ref_to_d(x[4 + ch * 21 + o * 7 + i]);
        double mu = s / 21;
        for (int o = 0; o < outer; ++o)
            for (int i = 0; i < inner; ++i) {
                double dv = ref_to_d(x[4 + ch * 21 + o * 7 + i]) - mu;
                ss += dv * dv;
            }
        // summed in double in another order: one rounding step of T apart at most
        if constexpr (std::is_same_v<T, double>)
            ok &= close(mean[ch], mu, 1e-14) && close(var[ch], ss / 21, 1e-13);
        else
            ok &= ulps(mean[ch], ref_from_d<T>(mu)) <= 1 &&
                  ulps(var[ch], ref_from_d<T>(ss / 21)) <= 1;
    }
    CHECK(ok, "%s", mn.c_str());
    Buf<T> m0(1), v0(1);
    emu::launch(mn.c_str(), 1, 32,
                [&] { moments_k(x.data(), 0, 0, 1, 0, 0, 0, 0, m0.data(), v0.data()); });
    CHECK(ref_to_d(m0[0]) != ref_to_d(m0[0]) && ref_to_d(v0[0]) != ref_to_d(v0[0]),
          "%s of nothing is NaN", mn.c_str());
    // running statistics: r (contiguous) from b (every other element)
    Buf<T> r(4), b(8);
    for (int i = 0; i < 4; ++i) {
        r[i] = ref_from_d<T>(i + 1.25);
        b[2 * i] = ref_from_d<T>(10.0 * (i + 1) + 0.1);
    }
    Buf<T> r0 = r;
    emu::launch(rn.c_str(), 1, 32,
                [&] { running_k(r.data(), contig(4), b.data(), mk({4}, {2}), 4, 0.1, 1.5); });
    ok = true;
    for (int i = 0; i < 4; ++i) {
        double want = (1 - 0.1) * ref_to_d(r0[i]) + 0.1 * (ref_to_d(b[2 * i]) * 1.5);
        ok &= ulps(r[i], ref_from_d<T>(want)) == 0;
    }
    CHECK(ok, "%s", rn.c_str());
}

template <class T, class KI, class KC, class KP>
static void window_case(KI im2col_k, KC col2im_k, KP pool_k, const char* sn) {
    using C = typename acc_t<T>::type;
    const int planes = 2, h = 5, w = 7;
    // x: [planes, h, w] at offset 2 in a padded buffer, small integers (exact in every type)
    Buf<T> x(planes * h * w + 2);
    // small integers: exact in every type, and ties in most windows (the first one wins)
    for (size_t i = 0; i < x.size(); ++i) x[i] = ref_from_d<T>((double)((int)(rng() % 9) - 4));
    x[5] = ref_from_d<T>(NAN);
    auto X = [&](int p, i64 y, i64 xx) { return x[2 + p * h * w + y * w + xx]; };
    int cases[][8] = {{3, 3, 1, 1, 1, 1, 1, 1}, {3, 2, 2, 1, 1, 0, 1, 2}, {2, 3, 3, 2, 0, 1, 1, 1},
                      {3, 3, 1, 2, 2, 2, 2, 1}, {1, 1, 1, 1, 0, 0, 1, 1}, {3, 3, 2, 2, 2, 2, 1, 1}};
    std::string in = std::string("im2col_") + sn, cn = std::string("col2im_") + sn,
                pn = std::string("max_pool2d_idx_") + sn;
    for (auto& cs : cases) {
        Win k{cs[0], cs[1], cs[2], cs[3], cs[4], cs[5], cs[6], cs[7]};
        i64 oh = (h + 2 * k.ph - (k.dh * (k.kh - 1) + 1)) / k.sh + 1;
        i64 ow = (w + 2 * k.pw - (k.dw * (k.kw - 1) + 1)) / k.sw + 1;
        i64 K = k.kh * k.kw, L = oh * ow, n = planes * K * L;
        auto for_taps = [&](auto f) {  // f(p, i, j, oy, ox, y, x) for every in-bounds tap
            for (int p = 0; p < planes; ++p)
                for (i64 i = 0; i < k.kh; ++i)
                    for (i64 j = 0; j < k.kw; ++j)
                        for (i64 oy = 0; oy < oh; ++oy)
                            for (i64 ox = 0; ox < ow; ++ox) {
                                i64 y = oy * k.sh + i * k.dh - k.ph;
                                i64 xx = ox * k.sw + j * k.dw - k.pw;
                                if (y >= 0 && y < h && xx >= 0 && xx < w) f(p, i, j, oy, ox, y, xx);
                            }
        };
        Buf<T> cols(n, ref_from_d<T>(-1)), want(n, ref_from_d<T>(0));
        emu::launch(in.c_str(), 2, 64, [&] {
            im2col_k(x.data(), 2, h * w, w, 1, h, w, k, oh, ow, cols.data(), n);
        });
        for_taps([&](int p, i64 i, i64 j, i64 oy, i64 ox, i64 y, i64 xx) {
            want[((p * K + i * k.kw + j) * oh + oy) * ow + ox] = X(p, y, xx);
        });
        CHECK(cols == want, "%s window %d%d%d%d%d%d%d%d", in.c_str(), cs[0], cs[1], cs[2], cs[3],
              cs[4], cs[5], cs[6], cs[7]);
        // col2im of random columns: each pixel sums its taps in (i, j) order, in C
        Buf<T> cin(n);
        for (i64 i = 0; i < n; ++i) cin[i] = ref_from_d<T>((double)(int)(rng() % 1000) / 8.0);
        Buf<T> img(planes * h * w, ref_from_d<T>(-1));
        std::vector<C> acc(planes * h * w, 0);
        emu::launch(cn.c_str(), 2, 64, [&] {
            col2im_k(cin.data(), 0, K * L, L, 1, h, w, k, oh, ow, img.data(), planes * h * w);
        });
        for_taps([&](int p, i64 i, i64 j, i64 oy, i64 ox, i64 y, i64 xx) {
            C v = (C)ref_to_d(cin[((p * K + i * k.kw + j) * oh + oy) * ow + ox]);
            acc[p * h * w + y * w + xx] += v;
        });
        Buf<T> rimg(planes * h * w);
        for (size_t i = 0; i < acc.size(); ++i) rimg[i] = ref_from_d<T>(acc[i]);
        CHECK(img == rimg, "%s window %d%d%d%d%d%d%d%d", cn.c_str(), cs[0], cs[1], cs[2], cs[3],
              cs[4], cs[5], cs[6], cs[7]);
        // max-pool indices: first maximum in window order, NaN wins, padding never chosen
        std::vector<i64> idx(planes * oh * ow, -9), ridx(planes * oh * ow);
        emu::launch(pn.c_str(), 1, 64, [&] {
            pool_k(x.data(), 2, h * w, w, 1, h, w, k, oh, ow, idx.data(), planes * oh * ow);
        });
        for (int p = 0; p < planes; ++p)
            for (i64 oy = 0; oy < oh; ++oy)
                for (i64 ox = 0; ox < ow; ++ox) {
                    i64 best = -1;
                    double bv = -INFINITY;
                    for (i64 i = 0; i < k.kh; ++i)
                        for (i64 j = 0; j < k.kw; ++j) {
                            i64 y = oy * k.sh + i * k.dh - k.ph, xx = ox * k.sw + j * k.dw - k.pw;
                            if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
                            double v = ref_to_d(X(p, y, xx));
                            if (best < 0 || v > bv || (v != v && bv == bv)) {
                                best = y * w + xx;
                                bv = v;
                            }
                        }
                    ridx[(p * oh + oy) * ow + ox] = best < 0 ? 0 : best;
                }
        CHECK(idx == ridx, "%s window %d%d%d%d%d%d%d%d", pn.c_str(), cs[0], cs[1], cs[2], cs[3],
              cs[4], cs[5], cs[6], cs[7]);
    }
}

#define SOFTMAX_REG_TEST(V, sn, T) softmax_reg_case<T>(softmax_rows_v##V##_##sn, V, #sn);
#define NN_TEST(sn, T)                                               \
    softmax_case<T>(softmax_rows_##sn, softmax_lanes_##sn, #sn);     \
    softmax_bwd_case<T>(softmax_bwd_rows_##sn, #sn);                 \
    act_bwd_case<T>(threshold_bwd_##sn, output_bwd_##sn, #sn);       \
    ROW_WIDTHS(SOFTMAX_REG_TEST, sn, T)                              \
    stats_case<T>(moments_##sn, running_stat_##sn, #sn);             \
    window_case<T>(im2col_##sn, col2im_##sn, max_pool2d_idx_##sn, #sn);

int main() {
    FLOAT_TYPES(NN_TEST)
    // Each row kernel with a block that holds the 48-element rows (the plain ones stride).
#define LN_VARIANTS(sn, T)                                                                  \
    std::vector<Variant<LnFwd<T>>> fwd_##sn{{"layer_norm_fwd_" #sn, layer_norm_fwd_##sn, 64}}; \
    std::vector<Variant<LnBwd<T>>> bwd_##sn{{"layer_norm_bwd_" #sn, layer_norm_bwd_##sn, 64}}; \
    ROW_WIDTHS(LN_REG_VARIANT, sn, T)                                                       \
    /* 45: element by element; 48: whole 16-byte packs */                                \
    for (int d : {45, 48})                                                                  \
        layer_norm_case<T>(fwd_##sn, bwd_##sn, layer_norm_params_##sn, layer_norm_param_sum_##sn, #sn, d);
#define LN_REG_VARIANT(V, sn, T)                                                            \
    fwd_##sn.push_back({"layer_norm_fwd_v" #V "_" #sn, layer_norm_fwd_v##V##_##sn, reg_threads(48, V)}); \
    bwd_##sn.push_back({"layer_norm_bwd_v" #V "_" #sn, layer_norm_bwd_v##V##_##sn, reg_threads(48, V)});
    LN_VARIANTS(f32, float)
    LN_VARIANTS(f64, double)
    return finish("nn");
}
