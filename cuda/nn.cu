// Neural-network family: softmax lanes, normalisation moments, running statistics, and the
// sliding-window kernels (im2col, col2im, max-pooling indices). Float types only; halves
// compute in float, double in double.

// ---- softmax
//
// The CPU computes a lane as exp(x - m) / Σ exp(x - m) with m the lane's maximum (NaN
// ignored), or 0 when that maximum is ±inf (so an all -inf lane gives NaN and a +inf entry
// gives NaN there and 0 elsewhere). Here one pass keeps a running state (m, s): m the maximum
// of the non-NaN values seen (-inf when none), s = Σ exp(x - shift(m)); the second pass writes.

__device__ __forceinline__ float nn_exp(float x) { return expf(x); }
__device__ __forceinline__ double nn_exp(double x) { return exp(x); }
__device__ __forceinline__ float nn_log(float x) { return logf(x); }
__device__ __forceinline__ double nn_log(double x) { return log(x); }

// The value the CPU subtracts for a lane whose maximum is m.
template <class C> __device__ __forceinline__ C softmax_shift(C m) {
    return (m == inf_of<C>() || m == -inf_of<C>()) ? (C)0 : m;
}

// s (relative to shift(from)) re-expressed relative to shift(to), to >= from. A state whose
// maximum is -inf holds only zeros and NaNs, which keep their value; skipping the factor also
// avoids 0 * exp(large) = NaN.
template <class C> __device__ __forceinline__ C softmax_rescale(C s, C from, C to) {
    return from == -inf_of<C>() ? s : s * nn_exp(softmax_shift(from) - softmax_shift(to));
}

template <class C> __device__ __forceinline__ void softmax_push(C& m, C& s, C x) {
    if (x > m) {  // false for NaN: it only reaches s (and makes it NaN, as on the CPU)
        s = softmax_rescale(s, m, x);
        m = x;
    }
    s += nn_exp(x - softmax_shift(m));
}

// Commutative (bit for bit), so every lane of a butterfly ends with the same state.
template <class C> __device__ __forceinline__ void softmax_merge(C& m, C& s, C m2, C s2) {
    C top = m2 > m ? m2 : m;
    s = softmax_rescale(s, m, top) + softmax_rescale(s2, m2, top);
    m = top;
}

// Block-wide merge of every thread's state; every thread gets the result. `sm`, `ss`: 32
// shared elements each. Starts with a barrier so that calls may follow each other directly.
template <class C> __device__ void softmax_block_merge(C& m, C& s, C* sm, C* ss) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        softmax_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    __syncthreads();
    if (lane == 0) {
        sm[warp] = m;
        ss[warp] = s;
    }
    __syncthreads();
    m = lane < nw ? sm[lane] : -inf_of<C>();
    s = lane < nw ? ss[lane] : (C)0;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        softmax_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
}

template <class C>
__device__ __forceinline__ C softmax_out(C x, C shift, C inv, C log_s, int as_log) {
    return as_log ? x - shift - log_s : nn_exp(x - shift) * inv;
}

// Lanes that are rows (inner == 1): one block per row, blocks striding over rows. Row r
// starts at lo(r) (lo walks the dims before `dim`, with the view's offset); its elements are
// sd apart. Output contiguous [rows, d].
template <class T>
__device__ void softmax_rows(const T* x, Lay lo, i64 rows, i64 d, i64 sd, T* y, int as_log) {
    typedef typename acc_t<T>::type C;
    __shared__ C sm[32], ss[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + lay_off(lo, r);
        C m = -inf_of<C>(), s = 0;
        for (i64 k = threadIdx.x; k < d; k += blockDim.x) softmax_push(m, s, (C)ld(row[k * sd]));
        softmax_block_merge(m, s, sm, ss);
        C shift = softmax_shift(m), inv = (C)1 / s, log_s = nn_log(s);
        for (i64 k = threadIdx.x; k < d; k += blockDim.x)
            y[r * d + k] = st<T>(softmax_out((C)ld(row[k * sd]), shift, inv, log_s, as_log));
    }
}

// Any lanes: one thread per (o, i) of [outer, d, inner], looping over d. `li` walks the dims
// after `dim` (offset 0). Output contiguous [outer, d, inner].
template <class T>
__device__ void softmax_lanes(const T* x, Lay lo, Lay li, i64 outer, i64 inner, i64 d, i64 sd,
                              T* y, int as_log) {
    typedef typename acc_t<T>::type C;
    KLOOP(t, outer * inner) {
        i64 o = t / inner, i = t - o * inner;
        const T* lane = x + lay_off(lo, o) + lay_off(li, i);
        C m = -inf_of<C>(), s = 0;
        for (i64 k = 0; k < d; ++k) softmax_push(m, s, (C)ld(lane[k * sd]));
        C shift = softmax_shift(m), inv = (C)1 / s, log_s = nn_log(s);
        T* out = y + o * d * inner + i;
        for (i64 k = 0; k < d; ++k)
            out[k * inner] = st<T>(softmax_out((C)ld(lane[k * sd]), shift, inv, log_s, as_log));
    }
}

// ---- moments: mean and biased variance per channel of [outer, c, inner] (strides s0, s1,
// s2 from offset `off`), accumulated in double, two passes. One block per channel, blocks
// striding over channels.
template <class T>
__device__ void moments(const T* x, i64 off, i64 outer, i64 c, i64 inner, i64 s0, i64 s1, i64 s2,
                        T* mean, T* var) {
    __shared__ double scratch[32];
    i64 count = outer * inner;
    for (i64 ch = blockIdx.x; ch < c; ch += gridDim.x) {
        const T* base = x + off + ch * s1;
        double sum = 0;
        for (i64 j = threadIdx.x; j < count; j += blockDim.x) {
            i64 o = j / inner, i = j - o * inner;
            sum += to_d(base[o * s0 + i * s2]);
        }
        double mu = block_sum(sum, scratch) / (double)count;
        double ss = 0;
        for (i64 j = threadIdx.x; j < count; j += blockDim.x) {
            i64 o = j / inner, i = j - o * inner;
            double dv = to_d(base[o * s0 + i * s2]) - mu;
            ss += dv * dv;
        }
        ss = block_sum(ss, scratch);
        if (threadIdx.x == 0) {
            mean[ch] = from_d<T>(mu);
            var[ch] = from_d<T>(ss / (double)count);
        }
    }
}

// ---- running statistics, in place: r = (1 - momentum)·r + momentum·(scale·b) in double,
// rounded like the CPU's expression (explicit roundings: no fused multiply-add).
template <class T>
__device__ void running_stat(T* r, Lay lr, const T* b, Lay lb, i64 n, double momentum,
                             double scale) {
    KLOOP(i, n) {
        i64 p = lay_off(lr, i);
        double keep = __dmul_rn(1.0 - momentum, to_d(r[p]));
        double fresh = __dmul_rn(momentum, __dmul_rn(to_d(b[lay_off(lb, i)]), scale));
        r[p] = from_d<T>(__dadd_rn(keep, fresh));
    }
}

// ---- sliding windows over [planes, h, w] views (strides s0, s1, s2 from offset `off`)

// Window geometry: the mirror of `Win` in src/cuda_backend/nn.rs.
struct Win {
    i64 kh, kw, sh, sw, ph, pw, dh, dw;
};

// im2col: out[p, i·kw + j, oy·ow + ox] = x[p, oy·sh + i·dh - ph, ox·sw + j·dw - pw], zero
// outside the input. One thread per output element.
template <class T>
__device__ void im2col(const T* x, i64 off, i64 s0, i64 s1, i64 s2, i64 h, i64 w, Win k, i64 oh,
                       i64 ow, T* out, i64 n) {
    i64 kk = k.kh * k.kw;
    KLOOP(t, n) {
        i64 q = t / ow, ox = t - q * ow;
        i64 r = q / oh, oy = q - r * oh;
        i64 p = r / kk, e = r - p * kk;
        i64 i = e / k.kw, j = e - i * k.kw;
        i64 y = oy * k.sh + i * k.dh - k.ph, xx = ox * k.sw + j * k.dw - k.pw;
        T v = from_d<T>(0.0);
        if (y >= 0 && y < h && xx >= 0 && xx < w) v = x[off + p * s0 + y * s1 + xx * s2];
        out[t] = v;
    }
}

// col2im as a gather: each output pixel sums the columns of every window covering it, in
// (i, j) order starting from 0, which is the CPU's order of additions for that pixel (no
// atomics, deterministic). Strides must be positive (the host checks).
template <class T>
__device__ void col2im(const T* c, i64 off, i64 s0, i64 s1, i64 s2, i64 h, i64 w, Win k, i64 oh,
                       i64 ow, T* out, i64 n) {
    typedef typename acc_t<T>::type C;
    KLOOP(t, n) {
        i64 q = t / w, x = t - q * w;
        i64 p = q / h, y = q - p * h;
        C acc = 0;
        for (i64 i = 0; i < k.kh; ++i) {
            i64 ty = y + k.ph - i * k.dh;  // = oy·sh for the window row that hits y
            if (ty < 0) break;             // only decreases with i
            i64 oy = ty / k.sh;
            if (oy * k.sh != ty || oy >= oh) continue;
            for (i64 j = 0; j < k.kw; ++j) {
                i64 tx = x + k.pw - j * k.dw;
                if (tx < 0) break;
                i64 ox = tx / k.sw;
                if (ox * k.sw != tx || ox >= ow) continue;
                acc += ld(c[off + p * s0 + (i * k.kw + j) * s1 + (oy * ow + ox) * s2]);
            }
        }
        out[t] = st<T>(acc);
    }
}

// Max pooling: the flat index y·w + x of each window's maximum, the first one in window
// order on ties; NaN wins; padding is never selected (an all-padding window gives 0).
template <class T>
__device__ void max_pool_idx(const T* x, i64 off, i64 s0, i64 s1, i64 s2, i64 h, i64 w, Win k,
                             i64 oh, i64 ow, i64* out, i64 n) {
    typedef typename acc_t<T>::type C;
    KLOOP(t, n) {
        i64 q = t / ow, ox = t - q * ow;
        i64 p = q / oh, oy = q - p * oh;
        i64 best = -1;
        C bv = -inf_of<C>();
        for (i64 i = 0; i < k.kh; ++i) {
            i64 y = oy * k.sh + i * k.dh - k.ph;
            if (y < 0 || y >= h) continue;
            for (i64 j = 0; j < k.kw; ++j) {
                i64 xx = ox * k.sw + j * k.dw - k.pw;
                if (xx < 0 || xx >= w) continue;
                C v = ld(x[off + p * s0 + y * s1 + xx * s2]);
                if (best < 0 || v > bv || (is_nan(v) && !is_nan(bv))) {
                    best = y * w + xx;
                    bv = v;
                }
            }
        }
        out[t] = best < 0 ? 0 : best;
    }
}

#define NN_KERNELS(sn, T)                                                                       \
    extern "C" __global__ void softmax_rows_##sn(const T* x, Lay lo, i64 rows, i64 d, i64 sd,   \
                                                 T* y, i32 as_log) {                            \
        softmax_rows<T>(x, lo, rows, d, sd, y, as_log);                                         \
    }                                                                                           \
    extern "C" __global__ void softmax_lanes_##sn(const T* x, Lay lo, Lay li, i64 outer,        \
                                                  i64 inner, i64 d, i64 sd, T* y, i32 as_log) { \
        softmax_lanes<T>(x, lo, li, outer, inner, d, sd, y, as_log);                            \
    }                                                                                           \
    extern "C" __global__ void moments_##sn(const T* x, i64 off, i64 outer, i64 c, i64 inner,   \
                                            i64 s0, i64 s1, i64 s2, T* mean, T* var) {          \
        moments<T>(x, off, outer, c, inner, s0, s1, s2, mean, var);                             \
    }                                                                                           \
    extern "C" __global__ void running_stat_##sn(T* r, Lay lr, const T* b, Lay lb, i64 n,       \
                                                 double momentum, double scale) {               \
        running_stat<T>(r, lr, b, lb, n, momentum, scale);                                      \
    }                                                                                           \
    extern "C" __global__ void im2col_##sn(const T* x, i64 off, i64 s0, i64 s1, i64 s2, i64 h,  \
                                           i64 w, Win k, i64 oh, i64 ow, T* out, i64 n) {       \
        im2col<T>(x, off, s0, s1, s2, h, w, k, oh, ow, out, n);                                 \
    }                                                                                           \
    extern "C" __global__ void col2im_##sn(const T* c, i64 off, i64 s0, i64 s1, i64 s2, i64 h,  \
                                           i64 w, Win k, i64 oh, i64 ow, T* out, i64 n) {       \
        col2im<T>(c, off, s0, s1, s2, h, w, k, oh, ow, out, n);                                 \
    }                                                                                           \
    extern "C" __global__ void max_pool2d_idx_##sn(const T* x, i64 off, i64 s0, i64 s1,         \
                                                   i64 s2, i64 h, i64 w, Win k, i64 oh,         \
                                                   i64 ow, i64* out, i64 n) {                   \
        max_pool_idx<T>(x, off, s0, s1, s2, h, w, k, oh, ow, out, n);                           \
    }
FLOAT_TYPES(NN_KERNELS)
