// Fused optimizer steps, in place on a parameter and its state (float and double). The
// formulas are the single-tensor ones of src/cpu/optim.rs, step for step, so that CPU and GPU
// runs agree to rounding.

#define SGD(sn, F)                                                                          \
    extern "C" __global__ void sgd_##sn(F* p, Lay lp, const F* g, Lay lg, F* b, Lay lb,     \
                                        int has_buf, i64 n, double lr_, double mom_,        \
                                        double damp_, double wd_, int nesterov, int maximize, \
                                        int first) {                                        \
        F lr = (F)lr_, mom = (F)mom_, damp = (F)damp_, wd = (F)wd_;                         \
        KLOOP(i, n) {                                                                       \
            i64 ip = lay_off(lp, i);                                                        \
            F gi = g[lay_off(lg, i)];                                                       \
            if (maximize) gi = -gi;                                                         \
            F d = gi + wd * p[ip];                                                          \
            if (has_buf) {                                                                  \
                i64 ib = lay_off(lb, i);                                                    \
                F bi = first ? d : b[ib] * mom + d * damp;                                  \
                b[ib] = bi;                                                                 \
                d = nesterov ? d + mom * bi : bi;                                           \
            }                                                                               \
            p[ip] = p[ip] - lr * d;                                                         \
        }                                                                                   \
    }

#define ADAM(sn, F)                                                                         \
    extern "C" __global__ void adam_##sn(F* p, Lay lp, const F* g, Lay lg, F* m, Lay lm,    \
                                         F* v, Lay lv, F* vm, Lay lvm, int amsgrad, i64 n,  \
                                         double step_size_, double b1_, double b2_,         \
                                         double bc2_sqrt_, double eps_, double wd_,         \
                                         double decay_, int decoupled, int maximize) {      \
        F step_size = (F)step_size_, b1 = (F)b1_, b2 = (F)b2_, bc2_sqrt = (F)bc2_sqrt_;     \
        F eps = (F)eps_, wd = (F)wd_, decay = (F)decay_, one = (F)1;                        \
        KLOOP(i, n) {                                                                       \
            i64 ip = lay_off(lp, i), im = lay_off(lm, i), iv = lay_off(lv, i);              \
            F gi = g[lay_off(lg, i)];                                                       \
            if (maximize) gi = -gi;                                                         \
            F pi = p[ip];                                                                   \
            if (decoupled) pi = pi * decay;                                                 \
            else if (wd_ != 0.0) gi = gi + wd * pi;                                         \
            F mi = m[im] + (gi - m[im]) * (one - b1);                                       \
            F vi = v[iv] * b2 + gi * gi * (one - b2);                                       \
            m[im] = mi;                                                                     \
            v[iv] = vi;                                                                     \
            F dv = vi;                                                                      \
            if (amsgrad) {                                                                  \
                i64 ix = lay_off(lvm, i);                                                   \
                if (vi > vm[ix]) vm[ix] = vi;                                               \
                dv = vm[ix];                                                                \
            }                                                                               \
            F denom = sqrt(dv) / bc2_sqrt + eps;                                            \
            p[ip] = pi - step_size * mi / denom;                                            \
        }                                                                                   \
    }

#define RMSPROP(sn, F)                                                                      \
    extern "C" __global__ void rmsprop_##sn(F* p, Lay lp, const F* g, Lay lg, F* sq, Lay lsq, \
                                            F* ga, Lay lga, int centered, F* mb, Lay lmb,   \
                                            int has_mom, i64 n, double lr_, double a_,      \
                                            double eps_, double wd_, double mom_,           \
                                            int maximize) {                                 \
        F lr = (F)lr_, a = (F)a_, eps = (F)eps_, wd = (F)wd_, mom = (F)mom_, one = (F)1;    \
        KLOOP(i, n) {                                                                       \
            i64 ip = lay_off(lp, i), is = lay_off(lsq, i);                                  \
            F gi = g[lay_off(lg, i)];                                                       \
            if (maximize) gi = -gi;                                                         \
            gi = gi + wd * p[ip];                                                           \
            F s = sq[is] * a + gi * gi * (one - a);                                         \
            sq[is] = s;                                                                     \
            F avg;                                                                          \
            if (centered) {                                                                 \
                i64 ig = lay_off(lga, i);                                                   \
                F gav = ga[ig] + (gi - ga[ig]) * (one - a);                                 \
                ga[ig] = gav;                                                               \
                avg = sqrt(s - gav * gav) + eps;                                            \
            } else {                                                                        \
                avg = sqrt(s) + eps;                                                        \
            }                                                                               \
            if (has_mom) {                                                                  \
                i64 ib = lay_off(lmb, i);                                                   \
                F bi = mb[ib] * mom + gi / avg;                                             \
                mb[ib] = bi;                                                                \
                p[ip] = p[ip] - lr * bi;                                                    \
            } else {                                                                        \
                p[ip] = p[ip] - lr * gi / avg;                                              \
            }                                                                               \
        }                                                                                   \
    }

#define ADAGRAD(sn, F)                                                                      \
    extern "C" __global__ void adagrad_##sn(F* p, Lay lp, const F* g, Lay lg, F* s, Lay ls, \
                                            i64 n, double clr_, double wd_, double eps_,    \
                                            int maximize) {                                 \
        F clr = (F)clr_, wd = (F)wd_, eps = (F)eps_;                                        \
        KLOOP(i, n) {                                                                       \
            i64 ip = lay_off(lp, i), is = lay_off(ls, i);                                   \
            F gi = g[lay_off(lg, i)];                                                       \
            if (maximize) gi = -gi;                                                         \
            gi = gi + wd * p[ip];                                                           \
            F si = s[is] + gi * gi;                                                         \
            s[is] = si;                                                                     \
            p[ip] = p[ip] - clr * gi / (sqrt(si) + eps);                                    \
        }                                                                                   \
    }

#define OPTIM(sn, F) SGD(sn, F) ADAM(sn, F) RMSPROP(sn, F) ADAGRAD(sn, F)
OPTIM(f32, float)
OPTIM(f64, double)
