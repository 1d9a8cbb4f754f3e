// Optim family (cuda/optim.cu): SGD, Adam/AdamW, RMSprop, Adagrad steps on f32 and f64
// against the single-tensor formulas of src/cpu/optim.rs, over three consecutive steps, with
// every tensor in its own strided layout. Scalar arguments are derived from the
// hyperparameters as src/cuda_backend/optim.rs does.
#include "emu_test.h"

constexpr i64 N = 150;

// One tensor of N elements: its buffer and layout, plus the logical values (the reference's
// copy, updated by the reference step).
template <class F> struct T {
    Buf<F> buf;
    Lay lay;
    std::vector<F> ref;
    F* p() { return buf.data(); }
    F at(i64 i) const { return buf[loff(lay, i)]; }
};
// Layout kinds: 0 contiguous at an offset, 1 transposed [10, 15], 2 every third element.
template <class F> static T<F> tensor(int kind, double lo, double hi) {
    Lay l = kind == 0 ? mk({N}, {1}, 5) : kind == 1 ? transposed(10, 15) : mk({10, 15}, {45, 3}, 2);
    T<F> t{Buf<F>(3 * N + 8, (F)-999), l, {}};
    std::uniform_real_distribution<double> u(lo, hi);
    for (i64 i = 0; i < N; ++i) {
        t.ref.push_back((F)u(rng));
        t.buf[loff(l, i)] = t.ref.back();
    }
    return t;
}

// The view's values are the reference's (to `tol` ulps) and the rest of the buffer untouched.
template <class F> static bool matches(const T<F>& t, uint64_t tol = 2) {
    std::vector<bool> in_view(t.buf.size());
    for (i64 i = 0; i < N; ++i) in_view[loff(t.lay, i)] = true;
    for (size_t j = 0; j < t.buf.size(); ++j)
        if (!in_view[j] && t.buf[j] != (F)-999) return false;
    for (i64 i = 0; i < N; ++i) {
        bool ok = std::is_same_v<F, float> ? ulps_f((float)t.at(i), (float)t.ref[i]) <= tol
                                           : ulps_d((double)t.at(i), (double)t.ref[i]) <= tol;
        if (!ok) {
            std::printf("  element %lld: %.17g, want %.17g\n", (long long)i, (double)t.at(i),
                        (double)t.ref[i]);
            return false;
        }
    }
    return true;
}

// ---- SGD
template <class F, class K>
static void sgd_case(K kernel, const char* name, double lr, double mom, double damp, double wd,
                     bool nesterov, bool maximize, bool with_buf) {
    auto p = tensor<F>(1, -2, 2), g = tensor<F>(2, -1, 1), b = tensor<F>(0, -1, 1);
    for (int step = 0; step < 3; ++step) {
        int first = step == 0;
        emu::launch(name, 2, 64, [&] {
            kernel(p.p(), p.lay, g.p(), g.lay, b.p(), b.lay, with_buf, N, lr, mom, 1.0 - damp,
                   wd, nesterov, maximize, first);
        });
        F flr = (F)lr, fm = (F)mom, fd = (F)(1.0 - damp), fwd = (F)wd;
        for (i64 i = 0; i < N; ++i) {
            F gi = maximize ? -g.ref[i] : g.ref[i];
            F d = gi + fwd * p.ref[i];
            if (with_buf) {
                b.ref[i] = first ? d : b.ref[i] * fm + d * fd;
                d = nesterov ? d + fm * b.ref[i] : b.ref[i];
            }
            p.ref[i] = p.ref[i] - flr * d;
        }
    }
    CHECK(matches(p) && (!with_buf || matches(b)), "%s mom=%g damp=%g wd=%g nesterov=%d max=%d",
          name, mom, damp, wd, nesterov, maximize);
}

// ---- Adam / AdamW
template <class F, class K>
static void adam_case(K kernel, const char* name, double lr, double b1, double b2, double eps,
                      double wd, bool amsgrad, bool decoupled, bool maximize) {
    auto p = tensor<F>(1, -2, 2), g = tensor<F>(2, -1, 1), m = tensor<F>(0, -0.1, 0.1);
    auto v = tensor<F>(2, 0, 0.01), vm = tensor<F>(1, 0, 0.02);
    for (int step = 1; step <= 3; ++step) {
        double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
        emu::launch(name, 2, 64, [&] {
            kernel(p.p(), p.lay, g.p(), g.lay, m.p(), m.lay, v.p(), v.lay, vm.p(), vm.lay,
                   amsgrad, N, lr / bc1, b1, b2, std::sqrt(bc2), eps, wd, 1 - lr * wd,
                   decoupled, maximize);
        });
        F step_size = (F)(lr / bc1), fb1 = (F)b1, fb2 = (F)b2, bc2s = (F)std::sqrt(bc2);
        F feps = (F)eps, fwd = (F)wd, decay = (F)(1 - lr * wd), one = 1;
        for (i64 i = 0; i < N; ++i) {
            F gi = maximize ? -g.ref[i] : g.ref[i];
            if (decoupled) p.ref[i] = p.ref[i] * decay;
            else if (wd != 0) gi = gi + fwd * p.ref[i];
            m.ref[i] = m.ref[i] + (gi - m.ref[i]) * (one - fb1);
            v.ref[i] = v.ref[i] * fb2 + gi * gi * (one - fb2);
            F dv = v.ref[i];
            if (amsgrad) {
                if (v.ref[i] > vm.ref[i]) vm.ref[i] = v.ref[i];
                dv = vm.ref[i];
            }
            F denom = std::sqrt(dv) / bc2s + feps;
            p.ref[i] = p.ref[i] - step_size * m.ref[i] / denom;
        }
    }
    CHECK(matches(p) && matches(m) && matches(v) && (!amsgrad || matches(vm)),
          "%s wd=%g amsgrad=%d decoupled=%d maximize=%d", name, wd, amsgrad, decoupled, maximize);
}

// ---- RMSprop
template <class F, class K>
static void rmsprop_case(K kernel, const char* name, double lr, double alpha, double eps,
                         double wd, double mom, bool centered, bool maximize) {
    auto p = tensor<F>(1, -2, 2), g = tensor<F>(2, -1, 1), sq = tensor<F>(0, 0.5, 1);
    auto ga = tensor<F>(2, -0.1, 0.1), mb = tensor<F>(1, -0.1, 0.1);
    int has_mom = mom > 0;
    for (int step = 0; step < 3; ++step) {
        emu::launch(name, 2, 64, [&] {
            kernel(p.p(), p.lay, g.p(), g.lay, sq.p(), sq.lay, ga.p(), ga.lay, centered, mb.p(),
                   mb.lay, has_mom, N, lr, alpha, eps, wd, mom, maximize);
        });
        F flr = (F)lr, a = (F)alpha, feps = (F)eps, fwd = (F)wd, fm = (F)mom, one = 1;
        for (i64 i = 0; i < N; ++i) {
            F gi = maximize ? -g.ref[i] : g.ref[i];
            gi = gi + fwd * p.ref[i];
            sq.ref[i] = sq.ref[i] * a + gi * gi * (one - a);
            F avg;
            if (centered) {
                ga.ref[i] = ga.ref[i] + (gi - ga.ref[i]) * (one - a);
                avg = std::sqrt(sq.ref[i] - ga.ref[i] * ga.ref[i]) + feps;
            } else {
                avg = std::sqrt(sq.ref[i]) + feps;
            }
            if (has_mom) {
                mb.ref[i] = mb.ref[i] * fm + gi / avg;
                p.ref[i] = p.ref[i] - flr * mb.ref[i];
            } else {
                p.ref[i] = p.ref[i] - flr * gi / avg;
            }
        }
    }
    CHECK(matches(p) && matches(sq) && (!centered || matches(ga)) && (!has_mom || matches(mb)),
          "%s wd=%g mom=%g centered=%d maximize=%d", name, wd, mom, centered, maximize);
}

// ---- Adagrad
template <class F, class K>
static void adagrad_case(K kernel, const char* name, double lr, double lr_decay, double wd,
                         double eps, bool maximize) {
    auto p = tensor<F>(1, -2, 2), g = tensor<F>(2, -1, 1), s = tensor<F>(0, 0, 0.5);
    for (int step = 1; step <= 3; ++step) {
        double clr = lr / (1.0 + (step - 1.0) * lr_decay);
        emu::launch(name, 2, 64, [&] {
            kernel(p.p(), p.lay, g.p(), g.lay, s.p(), s.lay, N, clr, wd, eps, maximize);
        });
        F fclr = (F)clr, fwd = (F)wd, feps = (F)eps;
        for (i64 i = 0; i < N; ++i) {
            F gi = maximize ? -g.ref[i] : g.ref[i];
            gi = gi + fwd * p.ref[i];
            s.ref[i] = s.ref[i] + gi * gi;
            p.ref[i] = p.ref[i] - fclr * gi / (std::sqrt(s.ref[i]) + feps);
        }
    }
    CHECK(matches(p) && matches(s), "%s lr_decay=%g wd=%g maximize=%d", name, lr_decay, wd,
          maximize);
}

template <class F, class KS, class KA, class KR, class KG>
static void test_all(KS sgd, KA adam, KR rms, KG ada, const char* sn) {
    std::string s(sn);
    sgd_case<F>(sgd, ("sgd_" + s).c_str(), 0.1, 0, 0, 0, false, false, false);
    sgd_case<F>(sgd, ("sgd_" + s).c_str(), 0.1, 0.9, 0.1, 0.01, false, false, true);
    sgd_case<F>(sgd, ("sgd_" + s).c_str(), 0.05, 0.9, 0, 0, true, true, true);
    sgd_case<F>(sgd, ("sgd_" + s).c_str(), 0.05, 0.5, 0.3, 0.1, true, false, true);
    for (int variant = 0; variant < 8; ++variant) {
        bool ams = variant & 1, decoupled = variant & 2, maximize = variant & 4;
        double wd = variant == 0 ? 0.0 : 0.02;
        adam_case<F>(adam, ("adam_" + s).c_str(), 1e-2, 0.9, 0.999, 1e-8, wd, ams, decoupled,
                     maximize);
    }
    for (int variant = 0; variant < 8; ++variant) {
        bool centered = variant & 1, maximize = variant & 4;
        double mom = variant & 2 ? 0.9 : 0.0, wd = variant == 0 ? 0.0 : 0.01;
        rmsprop_case<F>(rms, ("rmsprop_" + s).c_str(), 1e-2, 0.99, 1e-8, wd, mom, centered,
                        maximize);
    }
    adagrad_case<F>(ada, ("adagrad_" + s).c_str(), 0.1, 0, 0, 1e-10, false);
    adagrad_case<F>(ada, ("adagrad_" + s).c_str(), 0.1, 0.01, 0.05, 1e-10, true);
}

int main() {
    test_all<float>(sgd_f32, adam_f32, rmsprop_f32, adagrad_f32, "f32");
    test_all<double>(sgd_f64, adam_f64, rmsprop_f64, adagrad_f64, "f64");
    return finish("optim");
}
