// Neural-network family: softmax lanes, normalisation moments, running statistics, and the
// sliding-window kernels (im2col, col2im, max-pooling indices). Float types only; halves
// compute in float, double in double.

// ---- softmax
//
// The CPU computes a lane as exp(x - m) / Σ exp(x - m) with m the lane's maximum (NaN
// ignored), or 0 when that maximum is ±inf (so an all -inf lane gives NaN and a +inf entry
// gives NaN there and 0 elsewhere). Lanes walked by one thread keep a running state (m, s):
// m the maximum of the non-NaN values seen (-inf when none), s = Σ exp(x - shift(m)).

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

template <class C>
__device__ __forceinline__ C softmax_out(C x, C shift, C inv, C log_s, int as_log) {
    return as_log ? x - shift - log_s : nn_exp(x - shift) * inv;
}

// Lanes that are rows (inner == 1): one block per row, blocks striding over rows. Row r
// starts at lo(r) (lo walks the dims before `dim`, with the view's offset); its elements are
// sd apart. Output contiguous [rows, d]. Three passes over the row (maximum, sum, write): the
// first reads memory, the others find the row in cache, and no pass carries a dependency
// from one element to the next.
template <class T>
__device__ void softmax_rows(const T* x, Lay lo, i64 rows, i64 d, i64 sd, T* y, int as_log) {
    typedef typename acc_t<T>::type C;
    __shared__ C scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + lay_off(lo, r);
        C m = -inf_of<C>();
        for (i64 k = threadIdx.x; k < d; k += blockDim.x) {
            C v = (C)ld(row[k * sd]);
            m = v > m ? v : m;  // NaN never wins: it only reaches the sum
        }
        m = block_max(m, scratch);
        C shift = softmax_shift(m), s = 0;
        for (i64 k = threadIdx.x; k < d; k += blockDim.x) s += nn_exp((C)ld(row[k * sd]) - shift);
        s = block_sum(s, scratch);
        C inv = (C)1 / s, log_s = nn_log(s);
        for (i64 k = threadIdx.x; k < d; k += blockDim.x)
            y[r * d + k] = st<T>(softmax_out((C)ld(row[k * sd]), shift, inv, log_s, as_log));
    }
}

// Rows held in registers: each thread keeps V elements of a row (of at most V·blockDim.x),
// so the row is read from memory once, every load is issued before the first reduction,
// and exp is computed once per element. Dense rows whose length is a multiple of a 16-byte
// pack (P elements) and whose ends are 16-byte aligned move in packs: thread t holds packs
// t, t + blockDim.x, ...; otherwise elements t, t + blockDim.x, ...

// Row position of a thread's element i.
template <class T, int V> __device__ __forceinline__ i64 row_col(int i, bool packed) {
    const int P = 16 / sizeof(T);
    if (V >= P && packed) return ((i64)threadIdx.x + (i64)(i / P) * blockDim.x) * P + i % P;
    return (i64)threadIdx.x + (i64)i * blockDim.x;
}

// Loads a thread's share of a row of d elements `sd` apart (1 when packed), `fill` past
// the end.
template <class T, int V, class C>
__device__ __forceinline__ void row_load(const T* row, i64 d, i64 sd, bool packed, C fill,
                                         C (&v)[V]) {
    const int P = 16 / sizeof(T);
    if constexpr (V >= P) {
        if (packed) {
#pragma unroll
            for (int q = 0; q < V / P; ++q) {
                i64 k = row_col<T, V>(q * P, true);
                if (k < d) {
                    Pack<T> p = *reinterpret_cast<const Pack<T>*>(row + k);
#pragma unroll
                    for (int e = 0; e < P; ++e) v[q * P + e] = (C)ld(p.v[e]);
                } else {
#pragma unroll
                    for (int e = 0; e < P; ++e) v[q * P + e] = fill;
                }
            }
            return;
        }
    }
#pragma unroll
    for (int i = 0; i < V; ++i) {
        i64 k = row_col<T, V>(i, false);
        v[i] = k < d ? (C)ld(row[k * sd]) : fill;
    }
}

// Stores a thread's share of a contiguous row of d elements.
template <class T, int V, class C>
__device__ __forceinline__ void row_store(T* row, i64 d, bool packed, const C (&v)[V]) {
    const int P = 16 / sizeof(T);
    if constexpr (V >= P) {
        if (packed) {
#pragma unroll
            for (int q = 0; q < V / P; ++q) {
                i64 k = row_col<T, V>(q * P, true);
                if (k < d) {
                    Pack<T> p;
#pragma unroll
                    for (int e = 0; e < P; ++e) p.v[e] = st<T>(v[q * P + e]);
                    *reinterpret_cast<Pack<T>*>(row + k) = p;
                }
            }
            return;
        }
    }
#pragma unroll
    for (int i = 0; i < V; ++i) {
        i64 k = row_col<T, V>(i, false);
        if (k < d) row[k] = st<T>(v[i]);
    }
}

// Whether rows of d starting at these addresses can move in packs.
template <class T> __device__ __forceinline__ bool rows_packed(i64 d, const void* a, const void* b) {
    return d % (16 / (i64)sizeof(T)) == 0 && aligned16(a) && aligned16(b);
}

template <class T, int V>
__device__ void softmax_rows_reg(const T* x, Lay lo, i64 rows, i64 d, i64 sd, T* y, int as_log) {
    typedef typename acc_t<T>::type C;
    __shared__ C scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + lay_off(lo, r);
        // Uniform across the block: the same row, the same decision.
        const bool packed = sd == 1 && rows_packed<T>(d, row, y + r * d);
        C v[V];
        row_load<T, V>(row, d, sd, packed, -inf_of<C>(), v);
        C m = -inf_of<C>();
#pragma unroll
        for (int j = 0; j < V; ++j) m = v[j] > m ? v[j] : m;
        m = block_max(m, scratch);
        C shift = softmax_shift(m), s = 0;
#pragma unroll
        for (int j = 0; j < V; ++j) {
            // Past the row's end v is -inf and adds exp(-inf) = 0 (shift is finite).
            C e = nn_exp(v[j] - shift);
            s += e;
            if (!as_log) v[j] = e;
        }
        s = block_sum(s, scratch);
        C inv = (C)1 / s, log_s = nn_log(s);
#pragma unroll
        for (int j = 0; j < V; ++j) v[j] = as_log ? v[j] - shift - log_s : v[j] * inv;
        row_store<T, V>(y + r * d, d, packed, v);
    }
}

// Softmax's backward over contiguous rows of d from the output y and its gradient g:
// y·(g − Σ g·y), or for log-softmax g − exp(y)·Σ g. One block per row.
template <class T>
__device__ void softmax_bwd_rows(const T* y, const T* g, i64 rows, i64 d, T* gx, int as_log) {
    typedef typename acc_t<T>::type C;
    __shared__ C scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* yr = y + r * d;
        const T* gr = g + r * d;
        C s = 0;
        for (i64 k = threadIdx.x; k < d; k += blockDim.x)
            s += as_log ? (C)ld(gr[k]) : (C)ld(gr[k]) * (C)ld(yr[k]);
        s = block_sum(s, scratch);
        for (i64 k = threadIdx.x; k < d; k += blockDim.x) {
            C yv = (C)ld(yr[k]), gv = (C)ld(gr[k]);
            gx[r * d + k] = st<T>(as_log ? gv - nn_exp(yv) * s : yv * (gv - s));
        }
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

// ---- layer norm over contiguous rows of d (float and double; arithmetic in the type
// itself). Forward: one block per row, mean then the centred sum of squares (two passes, the
// second from cache), then the write; `w`, `b` may be null.
template <class T>
__device__ void layer_norm_fwd(const T* x, const T* w, const T* b, i64 rows, i64 d, double eps,
                               T* y, T* mean, T* rstd) {
    __shared__ T scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * d;
        T s = 0;
        for (i64 k = threadIdx.x; k < d; k += blockDim.x) s += xr[k];
        T mu = block_sum(s, scratch) / (T)d;
        T q = 0;
        for (i64 k = threadIdx.x; k < d; k += blockDim.x) {
            T c = xr[k] - mu;
            q += c * c;
        }
        T rs = (T)1 / sqrt(block_sum(q, scratch) / (T)d + (T)eps);
        T* yr = y + r * d;
        for (i64 k = threadIdx.x; k < d; k += blockDim.x) {
            T v = (xr[k] - mu) * rs;
            if (w) v *= w[k];
            if (b) v += b[k];
            yr[k] = v;
        }
        if (threadIdx.x == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }
}

// The forward with the row in registers (V elements per thread, as softmax_rows_reg).
// The weight and bias of a thread's columns are loaded once per block, which then walks many
// rows (the launch gives each multiprocessor a few blocks, not a block per row).
template <class T, int V>
__device__ void layer_norm_fwd_reg(const T* __restrict__ x, const T* __restrict__ w,
                                   const T* __restrict__ b, i64 rows, i64 d, double eps,
                                   T* __restrict__ y, T* __restrict__ mean, T* __restrict__ rstd) {
    __shared__ T scratch[32];
    // Rows are contiguous and d apart: aligned first rows and d a multiple of the pack
    // make every row aligned.
    const bool packed = rows_packed<T>(d, x, y) && (!w || aligned16(w)) && (!b || aligned16(b));
    T wv[V], bv[V];
    if (w) row_load<T, V>(w, d, 1, packed, (T)1, wv);
    if (b) row_load<T, V>(b, d, 1, packed, (T)0, bv);
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        T v[V];
        row_load<T, V>(x + r * d, d, 1, packed, (T)0, v);
        T s = 0;
#pragma unroll
        for (int j = 0; j < V; ++j) s += v[j];
        T mu = block_sum(s, scratch) / (T)d;
        T q = 0;
#pragma unroll
        for (int j = 0; j < V; ++j) {
            T c = row_col<T, V>(j, packed) < d ? v[j] - mu : (T)0;
            q += c * c;
        }
        T rs = (T)1 / sqrt(block_sum(q, scratch) / (T)d + (T)eps);
#pragma unroll
        for (int j = 0; j < V; ++j) {
            T o = (v[j] - mu) * rs;
            if (w) o *= wv[j];
            if (b) o += bv[j];
            v[j] = o;
        }
        row_store<T, V>(y + r * d, d, packed, v);
        if (threadIdx.x == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }
}

// The input gradient with ĝ and x̂ of the row in registers (and the weight, as in the forward).
template <class T, int V>
__device__ void layer_norm_bwd_reg(const T* __restrict__ g, const T* __restrict__ x,
                                   const T* __restrict__ mean, const T* __restrict__ rstd,
                                   const T* __restrict__ w, i64 rows, i64 d, T* __restrict__ gx) {
    __shared__ T scratch[32];
    const bool packed = rows_packed<T>(d, g, x) && aligned16(gx) && (!w || aligned16(w));
    T wv[V];
    if (w) row_load<T, V>(w, d, 1, packed, (T)1, wv);
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        T mu = mean[r], rs = rstd[r];
        T gh[V], xh[V];
        row_load<T, V>(g + r * d, d, 1, packed, (T)0, gh);
        row_load<T, V>(x + r * d, d, 1, packed, mu, xh);  // x̂ = 0 past the end
        T s1 = 0, s2 = 0;
#pragma unroll
        for (int j = 0; j < V; ++j) {
            if (w) gh[j] *= wv[j];
            xh[j] = (xh[j] - mu) * rs;
            s1 += gh[j];
            s2 += gh[j] * xh[j];
        }
        s1 = block_sum(s1, scratch) / (T)d;
        s2 = block_sum(s2, scratch) / (T)d;
#pragma unroll
        for (int j = 0; j < V; ++j) gh[j] = (gh[j] - s1 - xh[j] * s2) * rs;
        row_store<T, V>(gx + r * d, d, packed, gh);
    }
}

// Input gradient, one block per row: with x̂ = (x − μ)·rstd and ĝ = g·w,
// (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))·rstd.
template <class T>
__device__ void layer_norm_bwd(const T* g, const T* x, const T* mean, const T* rstd, const T* w,
                               i64 rows, i64 d, T* gx) {
    __shared__ T scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* gr = g + r * d;
        const T* xr = x + r * d;
        T mu = mean[r], rs = rstd[r];
        T s1 = 0, s2 = 0;
        for (i64 k = threadIdx.x; k < d; k += blockDim.x) {
            T gh = w ? gr[k] * w[k] : gr[k];
            s1 += gh;
            s2 += gh * ((xr[k] - mu) * rs);
        }
        s1 = block_sum(s1, scratch) / (T)d;
        s2 = block_sum(s2, scratch) / (T)d;
        for (i64 k = threadIdx.x; k < d; k += blockDim.x) {
            T gh = w ? gr[k] * w[k] : gr[k];
            gx[r * d + k] = (gh - s1 - (xr[k] - mu) * rs * s2) * rs;
        }
    }
}

// Weight and bias gradients, Σ_rows g·x̂ and Σ_rows g, in two steps that keep the order of
// additions fixed: blocks of 256 threads take 32 columns × a chunk of `chunk` rows (8 rows
// at a time, one per warp) and write partial sums [chunks, d]; `layer_norm_param_sum` adds
// the chunks.
template <class T>
__device__ void layer_norm_params(const T* g, const T* x, const T* mean, const T* rstd, i64 rows,
                                  i64 d, i64 chunk, T* part_w, T* part_b) {
    __shared__ T sw[8][33], sb[8][33];
    i64 tiles = (d + 31) / 32;
    int lane = threadIdx.x & 31, row_lane = threadIdx.x >> 5;
    for (i64 blk = blockIdx.x; blk < tiles * ((rows + chunk - 1) / chunk); blk += gridDim.x) {
        i64 tile = blk % tiles, c = blk / tiles;
        i64 col = tile * 32 + lane;
        i64 r0 = c * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
        T aw = 0, ab = 0;
        if (col < d) {
            for (i64 r = r0 + row_lane; r < r1; r += 8) {
                T gv = g[r * d + col];
                aw += gv * ((x[r * d + col] - mean[r]) * rstd[r]);
                ab += gv;
            }
        }
        __syncthreads();
        sw[row_lane][lane] = aw;
        sb[row_lane][lane] = ab;
        __syncthreads();
        if (row_lane == 0 && col < d) {
            T tw = 0, tb = 0;
            for (int k = 0; k < 8; ++k) {
                tw += sw[k][lane];
                tb += sb[k][lane];
            }
            part_w[c * d + col] = tw;
            part_b[c * d + col] = tb;
        }
    }
}

template <class T> __device__ void layer_norm_param_sum(const T* part, i64 chunks, i64 d, T* out) {
    KLOOP(j, d) {
        T t = 0;
        for (i64 c = 0; c < chunks; ++c) t += part[c * d + j];
        out[j] = t;
    }
}

#define LAYER_NORM_KERNELS(sn, T)                                                               \
    extern "C" __global__ void layer_norm_fwd_##sn(const T* x, const T* w, const T* b,          \
                                                   i64 rows, i64 d, double eps, T* y, T* mean,  \
                                                   T* rstd) {                                   \
        layer_norm_fwd<T>(x, w, b, rows, d, eps, y, mean, rstd);                                \
    }                                                                                           \
    extern "C" __global__ void layer_norm_bwd_##sn(const T* g, const T* x, const T* mean,       \
                                                   const T* rstd, const T* w, i64 rows, i64 d,  \
                                                   T* gx) {                                     \
        layer_norm_bwd<T>(g, x, mean, rstd, w, rows, d, gx);                                    \
    }                                                                                           \
    extern "C" __global__ void layer_norm_params_##sn(const T* g, const T* x, const T* mean,    \
                                                      const T* rstd, i64 rows, i64 d, i64 chunk, \
                                                      T* part_w, T* part_b) {                   \
        layer_norm_params<T>(g, x, mean, rstd, rows, d, chunk, part_w, part_b);                 \
    }                                                                                           \
    extern "C" __global__ void layer_norm_param_sum_##sn(const T* part, i64 chunks, i64 d,      \
                                                         T* out) {                              \
        layer_norm_param_sum<T>(part, chunks, d, out);                                          \
    }
LAYER_NORM_KERNELS(f32, float)
LAYER_NORM_KERNELS(f64, double)

// The register-resident row kernels, for V = 1, 2, 4, ..., 32 elements per thread.
#define ROW_WIDTHS(M, sn, T) M(1, sn, T) M(2, sn, T) M(4, sn, T) M(8, sn, T) M(16, sn, T) M(32, sn, T)
#define SOFTMAX_REG(V, sn, T)                                                                   \
    extern "C" __global__ void softmax_rows_v##V##_##sn(const T* x, Lay lo, i64 rows, i64 d,    \
                                                        i64 sd, T* y, i32 as_log) {             \
        softmax_rows_reg<T, V>(x, lo, rows, d, sd, y, as_log);                                  \
    }
#define LAYER_NORM_REG(V, sn, T)                                                                \
    extern "C" __global__ void layer_norm_fwd_v##V##_##sn(const T* x, const T* w, const T* b,   \
                                                          i64 rows, i64 d, double eps, T* y,    \
                                                          T* mean, T* rstd) {                   \
        layer_norm_fwd_reg<T, V>(x, w, b, rows, d, eps, y, mean, rstd);                         \
    }                                                                                           \
    extern "C" __global__ void layer_norm_bwd_v##V##_##sn(const T* g, const T* x,               \
                                                          const T* mean, const T* rstd,         \
                                                          const T* w, i64 rows, i64 d, T* gx) { \
        layer_norm_bwd_reg<T, V>(g, x, mean, rstd, w, rows, d, gx);                             \
    }
#define SOFTMAX_REG_ALL(sn, T) ROW_WIDTHS(SOFTMAX_REG, sn, T)
FLOAT_TYPES(SOFTMAX_REG_ALL)
ROW_WIDTHS(LAYER_NORM_REG, f32, float)
ROW_WIDTHS(LAYER_NORM_REG, f64, double)

// ---- activation backward from the output, one pass: ReLU's threshold (g where y > t or y
// is NaN, else 0: a select, so an infinite gradient where the output is cut off gives 0) and
// sigmoid / tanh (op 0: g·(y·(1 − y)), op 1: g·(1 − y²)), in float for halves.
template <class T>
__device__ void threshold_bwd(const T* y, Lay ly, const T* g, Lay lg, double thr, T* out, i64 n) {
    typedef typename acc_t<T>::type C;
    KLOOP(i, n) {
        C v = (C)ld(y[lay_off(ly, i)]);
        out[i] = v <= (C)thr ? st<T>((C)0) : g[lay_off(lg, i)];
    }
}

template <class T>
__device__ void output_bwd(int op, const T* y, Lay ly, const T* g, Lay lg, T* out, i64 n) {
    typedef typename acc_t<T>::type C;
    KLOOP(i, n) {
        C v = (C)ld(y[lay_off(ly, i)]), gv = (C)ld(g[lay_off(lg, i)]);
        out[i] = st<T>(op == 0 ? gv * (v * ((C)1 - v)) : gv * ((C)1 - v * v));
    }
}

#define NN_KERNELS(sn, T)                                                                       \
    extern "C" __global__ void softmax_rows_##sn(const T* x, Lay lo, i64 rows, i64 d, i64 sd,   \
                                                 T* y, i32 as_log) {                            \
        softmax_rows<T>(x, lo, rows, d, sd, y, as_log);                                         \
    }                                                                                           \
    extern "C" __global__ void threshold_bwd_##sn(const T* y, Lay ly, const T* g, Lay lg,        \
                                                  double thr, T* out, i64 n) {                  \
        threshold_bwd<T>(y, ly, g, lg, thr, out, n);                                            \
    }                                                                                           \
    extern "C" __global__ void output_bwd_##sn(i32 op, const T* y, Lay ly, const T* g, Lay lg,  \
                                               T* out, i64 n) {                                 \
        output_bwd<T>(op, y, ly, g, lg, out, n);                                                \
    }                                                                                           \
    extern "C" __global__ void softmax_bwd_rows_##sn(const T* y, const T* g, i64 rows, i64 d,   \
                                                     T* gx, i32 as_log) {                       \
        softmax_bwd_rows<T>(y, g, rows, d, gx, as_log);                                         \
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
