// NN family (cuda/nn.cu) for every float dtype: softmax and log-softmax (rows kernel with its
// block merges, lanes kernel) including -inf, +inf and NaN lanes; moments; running
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

#define NN_TEST(sn, T)                                               \
    softmax_case<T>(softmax_rows_##sn, softmax_lanes_##sn, #sn);     \
    stats_case<T>(moments_##sn, running_stat_##sn, #sn);             \
    window_case<T>(im2col_##sn, col2im_##sn, max_pool2d_idx_##sn, #sn);

int main() {
    FLOAT_TYPES(NN_TEST)
    return finish("nn");
}
