// Reduction family: row reductions and arg-reductions (reduce_<t>, reduce_fin), inclusive
// scans (scan_<t>, scan1_<t>) and a stable bitonic row sort (sort_keys_<t>, sort_tile,
// sort_step, sort_out_b<bytes>).
//
// Rows: element j of row i lives at off(lr, i) + off(lc, j), where `lr` lays out the m rows
// (the outer dims of the source view) and `lc` the k elements of a row (its inner dims).
//
// NVRTC compiles this family when a process first reduces on a device, so code size is kept
// down: one kernel per source dtype with the op chosen at run time (a uniform branch).

#define FULL 0xffffffffu
#define NO_IDX 0x7fffffffffffffffLL

// Out of line: these expand to long inline sequences, and the fold loops call them from
// several unrolled places.
__device__ __noinline__ double pow_far(double a, double b) { return pow(a, b); }
__device__ __noinline__ double exp_far(double a) { return exp(a); }

// Offset of element i of l (the prelude's lay_off, smaller): one multiply for a single dim
// (contiguous or evenly strided), else a rolled loop over the dims. Indexing the layout with
// a variable dim reads the kernel parameter in place; passing its address to a function
// would copy it to local memory in every thread.
__device__ __forceinline__ i64 off(const Lay& l, i64 i) {
    if (l.ndim == 1) return l.offset + i * l.stride[0];
    i64 o = l.offset;
#pragma unroll 1
    for (int d = (int)l.ndim - 1; d >= 0; --d) {
        const i64 s = l.shape[d], q = i / s;
        o += (i - q * s) * l.stride[d];
        i = q;
    }
    return o;
}

// ---------------------------------------------------------------- row reductions
//
// Every reduction folds a row into a mergeable state `St`, so a row can be cut into
// segments folded by different blocks (a few long rows still fill the device) and the
// partial states merged by reduce_fin. A group of `g` threads folds one (row, segment) unit:
// g is a power of two up to 32 (several short rows per block, warp shuffles only) or the
// whole block (one unit per block, shuffles plus shared memory).

// Op codes (mirrored in src/cuda_backend/reduce.rs).
#define O_SUM 0      // float sum (f64)
#define O_NANSUM 1   // float sum skipping NaN
#define O_MEAN 2
#define O_PROD 3     // float product (f64)
#define O_SUMI 4     // wrapping int64 sum
#define O_PRODI 5    // wrapping int64 product
#define O_COUNT 6    // count of non-zeros (int64)
#define O_ALL 7
#define O_ANY 8
#define O_NORM0 9
#define O_MAX 10     // value (and index when r.idx is set) of the max; NaN wins
#define O_MIN 11
#define O_VAR 12
#define O_STD 13
#define O_NORM1 14
#define O_NORM2 15
#define O_NORMP 16
#define O_NORMINF 17
#define O_NORMNINF 18
#define O_LSE 19

// Fold kinds: how an element enters a state and how two states merge.
#define K_SUM 0
#define K_NANSUM 1
#define K_PROD 2
#define K_SUMI 3
#define K_PRODI 4
#define K_COUNT 5
#define K_ARGMAX 6
#define K_ARGMIN 7
#define K_WELFORD 8
#define K_ABS1 9
#define K_SQ 10
#define K_POW 11
#define K_ABSMAX 12
#define K_ABSMIN 13
#define K_LSE 14

// Launch arguments (mirrored by `Red` in src/cuda_backend/reduce.rs).
struct Red {
    i64 m, k, segs;      // rows, row length, segments per row
    u64 part, out, idx;  // St[m*segs] partial states (segs > 1), out[m] as odt, i64[m] or 0
    double p, corr;      // norm order, variance correction
    int g, op, odt, isf; // threads per unit, op code, output dtype (ALL_TYPES order), float source
};

// a, b: float accumulators; n: integer accumulator or count; j: index (arg kinds).
struct St {
    double a, b;
    i64 n, j;
};

__device__ __forceinline__ St shfl_xor(const St& s, int o) {
    St r;
    r.a = __shfl_xor_sync(FULL, s.a, o);
    r.b = __shfl_xor_sync(FULL, s.b, o);
    r.n = __shfl_xor_sync(FULL, s.n, o);
    r.j = __shfl_xor_sync(FULL, s.j, o);
    return r;
}

template <class T> __device__ __forceinline__ i64 as_i(T x) {
    if constexpr (is_float_t<T>::value) return (i64)to_d(x);
    else return (i64)x;
}

__device__ __forceinline__ int kind_of(int op) {
    switch (op) {
    case O_SUM: case O_MEAN: return K_SUM;
    case O_NANSUM: return K_NANSUM;
    case O_PROD: return K_PROD;
    case O_SUMI: return K_SUMI;
    case O_PRODI: return K_PRODI;
    case O_COUNT: case O_ALL: case O_ANY: case O_NORM0: return K_COUNT;
    case O_MAX: return K_ARGMAX;
    case O_MIN: return K_ARGMIN;
    case O_VAR: case O_STD: return K_WELFORD;
    case O_NORM1: return K_ABS1;
    case O_NORM2: return K_SQ;
    case O_NORMP: return K_POW;
    case O_NORMINF: return K_ABSMAX;
    case O_NORMNINF: return K_ABSMIN;
    default: return K_LSE;
    }
}

__device__ __forceinline__ St st_init(int kind) {
    St s;
    s.a = kind == K_PROD ? 1.0 : kind == K_ABSMIN ? inf_d() : kind == K_LSE ? -inf_d() : 0.0;
    s.b = 0.0;
    s.n = kind == K_PRODI ? 1 : 0;
    s.j = NO_IDX;
    return s;
}

// Whether candidate t beats s in an arg-reduction: NaN wins, then the larger (smaller) key,
// then the smaller index; an empty state (j == NO_IDX) never wins. Keys: `a` for float
// sources (exact in double), `n` for the others.
__device__ __forceinline__ bool beats(bool is_max, bool isf, const St& t, const St& s) {
    if (t.j == NO_IDX) return false;
    if (s.j == NO_IDX) return true;
    if (isf) {
        bool tn = t.a != t.a, sn = s.a != s.a;
        if (tn || sn) return tn && (!sn || t.j < s.j);
        if (t.a != s.a) return is_max ? t.a > s.a : t.a < s.a;
    } else if (t.n != s.n) {
        return is_max ? t.n > s.n : t.n < s.n;
    }
    return t.j < s.j;
}

// Folds element j of value d (and n, its exact integer value for integer sources) into s.
__device__ __forceinline__ void st_add(int kind, bool isf, St& s, double d, i64 n, i64 j, double p) {
    switch (kind) {
    case K_SUM: s.a += d; break;
    case K_NANSUM: if (d == d) s.a += d; break;
    case K_PROD: s.a *= d; break;
    case K_SUMI: s.n = (i64)((u64)s.n + (u64)n); break;  // unsigned: wraps without UB
    case K_PRODI: s.n = (i64)((u64)s.n * (u64)n); break;
    case K_COUNT: s.n += d != 0.0 ? 1 : 0; break;           // NaN counts as non-zero
    case K_ARGMAX: case K_ARGMIN: {
        St t;
        t.a = d;
        t.b = 0.0;
        t.n = n;
        t.j = j;
        if (beats(kind == K_ARGMAX, isf, t, s)) s = t;
        break;
    }
    case K_WELFORD: {  // n count, a mean, b sum of squared deviations
        double e = d - s.a;
        s.n += 1;
        s.a += e / (double)s.n;
        s.b += e * (d - s.a);
        break;
    }
    case K_ABS1: s.a += fabs(d); break;
    case K_SQ: s.a += d * d; break;
    case K_POW: s.a += pow_far(fabs(d), p); break;
    case K_ABSMAX: s.a = fmax(s.a, fabs(d)); break;  // fmax skips NaN, like the CPU's f64::max
    case K_ABSMIN: s.a = fmin(s.a, fabs(d)); break;
    default:  // K_LSE: a running max (NaN once any NaN), b the sum of exp(x - a)
        if (d != d) {
            s.a = d;
        } else if (d > s.a) {
            s.b = s.b * exp_far(s.a - d) + 1.0;
            s.a = d;
        } else if (d != -inf_d()) {  // -inf adds nothing (and -inf - -inf would be NaN)
            s.b += exp_far(d - s.a);
        }
        break;
    }
}

__device__ __forceinline__ St st_merge(int kind, bool isf, St s, const St& t) {
    switch (kind) {
    case K_SUM: case K_NANSUM: case K_ABS1: case K_SQ: case K_POW: s.a += t.a; break;
    case K_PROD: s.a *= t.a; break;
    case K_SUMI: case K_COUNT: s.n = (i64)((u64)s.n + (u64)t.n); break;
    case K_PRODI: s.n = (i64)((u64)s.n * (u64)t.n); break;
    case K_ARGMAX: case K_ARGMIN: if (beats(kind == K_ARGMAX, isf, t, s)) s = t; break;
    case K_WELFORD: {  // Chan et al.'s pairwise combination of (count, mean, M2)
        if (t.n == 0) break;
        if (s.n == 0) return t;
        double na = (double)s.n, nb = (double)t.n, n = na + nb, d = t.a - s.a;
        s.a += d * (nb / n);
        s.b += t.b + d * d * (na * nb / n);
        s.n += t.n;
        break;
    }
    case K_ABSMAX: s.a = fmax(s.a, t.a); break;
    case K_ABSMIN: s.a = fmin(s.a, t.a); break;
    default:  // K_LSE
        if (s.a != s.a || t.a != t.a) {
            s.a = nan_d();
        } else {
            double mx = fmax(s.a, t.a);
            // All -inf (or empty) stays (-inf, 0); at +inf the sum is not used.
            s.b = (mx == inf_d() || mx == -inf_d()) ? 0.0 : s.b * exp_far(s.a - mx) + t.b * exp_far(t.a - mx);
            s.a = mx;
        }
        break;
    }
    return s;
}

// Merges the states of each group of g threads (g a power of two <= 32, or g == blockDim.x)
// into the group's first thread. Every thread of the block must call it (it may synchronise).
__device__ St group_fold(int kind, bool isf, St s, int g, St* scratch) {
    for (int o = (g < 32 ? g : 32) >> 1; o > 0; o >>= 1) s = st_merge(kind, isf, s, shfl_xor(s, o));
    if (g > 32) {  // uniform: g is a launch argument
        const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
        __syncthreads();  // scratch may still be read for the previous unit
        if (lane == 0) scratch[w] = s;
        __syncthreads();
        if (w == 0) {
            s = lane < nw ? scratch[lane] : st_init(kind);
            for (int o = 16; o > 0; o >>= 1) s = st_merge(kind, isf, s, shfl_xor(s, o));
        }
    }
    return s;
}

// out[i] = v converted to the output dtype.
template <class S> __device__ void put(const Red& r, i64 i, S v) {
    void* o = (void*)r.out;
    switch (r.odt) {
    case 0: ((bool*)o)[i] = cast_to<bool, S>(v); break;
    case 1: ((u8*)o)[i] = cast_to<u8, S>(v); break;
    case 2: ((i8*)o)[i] = cast_to<i8, S>(v); break;
    case 3: ((i16*)o)[i] = cast_to<i16, S>(v); break;
    case 4: ((i32*)o)[i] = cast_to<i32, S>(v); break;
    case 5: ((i64*)o)[i] = cast_to<i64, S>(v); break;
    case 6: ((f16*)o)[i] = cast_to<f16, S>(v); break;
    case 7: ((bf16*)o)[i] = cast_to<bf16, S>(v); break;
    case 8: ((float*)o)[i] = cast_to<float, S>(v); break;
    default: ((double*)o)[i] = cast_to<double, S>(v); break;
    }
}

// Writes row's result from its final state (the CPU's formulas, src/cpu/reduce.rs).
__device__ __noinline__ void finish(Red r, St s, i64 row) {  // by value: see off()
    switch (r.op) {
    case O_MEAN: put(r, row, s.a / (double)r.k); break;
    case O_SUMI: case O_PRODI: case O_COUNT: put(r, row, s.n); break;
    case O_ALL: put(r, row, s.n == r.k); break;
    case O_ANY: put(r, row, s.n > 0); break;
    case O_NORM0: put(r, row, (double)s.n); break;
    case O_NORM2: put(r, row, sqrt(s.a)); break;
    case O_NORMP: put(r, row, pow(s.a, 1.0 / r.p)); break;
    case O_VAR: case O_STD: {
        double v = r.k == 0 ? nan_d() : s.b / fmax((double)s.n - r.corr, 0.0);
        put(r, row, r.op == O_STD ? sqrt(v) : v);
        break;
    }
    case O_LSE: {
        double v = s.a;  // NaN, or an infinite max (all -inf or empty: -inf)
        if (v == v && v != inf_d() && v != -inf_d()) v = log(s.b) + s.a;
        put(r, row, v);
        break;
    }
    case O_MAX: case O_MIN:
        // The key is the element's exact value, converted as the CPU converts the element.
        if (r.isf) put(r, row, s.a);
        else put(r, row, s.n);
        if (r.idx) ((i64*)r.idx)[row] = s.j;
        break;
    default: put(r, row, s.a); break;  // float sums, product, norms 1 and ±inf
    }
}

// Folds m rows of `len` items, each row cut into `segs` segments (unit = row*segs + seg):
// `add(kind, isf, s, row, j0, hi)` folds items j0, j0+g, ... below hi of row into s (each
// thread of a unit's group starts at its own j0), `emit(s, unit)` takes each unit's state.
// With a thread per unit (g == 1) consecutive threads take consecutive rows of one segment,
// so that rows that are columns of a matrix are read coalesced.
template <class Add, class Emit>
__device__ void fold_units(const Red& r, i64 len, i64 segs, int g, St* scratch, Add add, Emit emit) {
    const int kind = kind_of(r.op);
    const bool isf = r.isf;
    const i64 units = r.m * segs, seg_len = (len + segs - 1) / segs;
    const int per_block = blockDim.x / g, lane = threadIdx.x % g;
    // `base` is the same for the whole block, so every thread runs the same iterations.
    for (i64 base = (i64)blockIdx.x * per_block; base < units; base += (i64)gridDim.x * per_block) {
        const i64 u = base + threadIdx.x / g;
        St s = st_init(kind);
        i64 row = 0, seg = 0;
        if (u < units) {
            if (g == 1) {
                seg = u / r.m;
                row = u - seg * r.m;
            } else {
                row = u / segs;
                seg = u - row * segs;
            }
            const i64 lo = seg * seg_len, hi = lo + seg_len < len ? lo + seg_len : len;
            add(kind, isf, s, row, lo + lane, hi);
        }
        s = group_fold(kind, isf, s, g, scratch);
        if (u < units && lane == 0) emit(s, row * segs + seg);
    }
}

#define UNROLL 4

// Folds the source rows: results to r.out (segs == 1) or partial states to r.part.
template <class T> __device__ void reduce_rows(const T* src, const Lay& lr, const Lay& lc, const Red& r) {
    __shared__ St scratch[32];
    const int g = r.g;
    fold_units(
        r, r.k, r.segs, g, scratch,
        [&](int kind, bool isf, St& s, i64 row, i64 j0, i64 hi) {
            const i64 base = off(lr, row);
            // UNROLL loads in flight per thread before they are folded in.
            for (i64 j = j0; j < hi; j += UNROLL * g) {
                T x[UNROLL];
#pragma unroll
                for (int e = 0; e < UNROLL; ++e)
                    if (j + e * g < hi) x[e] = src[base + off(lc, j + e * g)];
#pragma unroll
                for (int e = 0; e < UNROLL; ++e) {
                    if (j + e * g < hi) {
                        const i64 n = is_float_t<T>::value ? 0 : as_i(x[e]);
                        st_add(kind, isf, s, is_float_t<T>::value ? to_d(x[e]) : (double)n, n, j + e * g, r.p);
                    }
                }
            }
        },
        [&](const St& s, i64 u) {
            if (r.segs > 1) ((St*)r.part)[u] = s;
            else finish(r, s, u);
        });
}

#define REDUCE(sn, T)                                                                      \
    extern "C" __global__ void reduce_##sn(const T* src, Lay lr, Lay lc, Red r) {          \
        reduce_rows<T>(src, lr, lc, r);                                                    \
    }
ALL_TYPES(REDUCE)

// Merges the r.segs partial states of each row (one block per row) and finishes the rows.
extern "C" __global__ void reduce_fin(Red r) {
    __shared__ St scratch[32];
    const St* part = (const St*)r.part;
    const i64 segs = r.segs;
    const int g = blockDim.x;
    fold_units(
        r, segs, 1, g, scratch,
        [&](int kind, bool isf, St& s, i64 row, i64 j0, i64 hi) {
            for (i64 j = j0; j < hi; j += g) s = st_merge(kind, isf, s, part[row * segs + j]);
        },
        [&](const St& s, i64 row) { finish(r, s, row); });
}

// ---------------------------------------------------------------- scans
//
// Inclusive running sum or product per row, accumulated like the CPU: floats in double,
// integers in wrapping 64-bit (unsigned arithmetic: the same bits as wrapping i64).

template <class T> struct scan_acc { typedef u64 type; };
template <> struct scan_acc<f16> { typedef double type; };
template <> struct scan_acc<bf16> { typedef double type; };
template <> struct scan_acc<float> { typedef double type; };
template <> struct scan_acc<double> { typedef double type; };

template <class C> __device__ __forceinline__ C sop(bool prod, C a, C b) { return prod ? a * b : a + b; }
template <class T> __device__ __forceinline__ typename scan_acc<T>::type to_acc(T x) {
    if constexpr (is_float_t<T>::value) return to_d(x);
    else return (u64)as_i(x);
}
template <class T, class C> __device__ __forceinline__ T from_acc(C c) {
    if constexpr (is_float_t<T>::value) return from_d<T>(c);
    else return cast_to<T, i64>((i64)c);
}

#define SCAN_T 256                 // threads per block of scan_<t> (the launch must match)
#define SCAN_E 8                   // items per thread per chunk
#define SCAN_N (SCAN_T * SCAN_E)   // items per chunk
#define SPAD(i) ((i) + ((i) >> 4)) // padding against shared-memory bank conflicts

// Exclusive block scan of one value per thread; `total` gets the whole block's combination.
template <class C> __device__ C block_excl_scan(bool prod, C v, C* wsum, C& total) {
    const C id = prod ? (C)1 : (C)0;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    C x = v;
    for (int o = 1; o < 32; o <<= 1) {
        C y = __shfl_up_sync(FULL, x, o);
        if (lane >= o) x = sop(prod, y, x);
    }
    if (lane == 31) wsum[w] = x;
    __syncthreads();
    if (w == 0) {
        C z = lane < nw ? wsum[lane] : id;
        for (int o = 1; o < 32; o <<= 1) {
            C y = __shfl_up_sync(FULL, z, o);
            if (lane >= o) z = sop(prod, y, z);
        }
        if (lane < nw) wsum[lane] = z;  // inclusive prefix of the warp totals
    }
    __syncthreads();
    total = wsum[nw - 1];
    C ex = __shfl_up_sync(FULL, x, 1);
    if (lane == 0) ex = id;
    return sop(prod, w > 0 ? wsum[w - 1] : id, ex);
}

// One block per (row, segment) unit, in chunks of SCAN_N items: a coalesced load to shared
// memory, a sequential scan of SCAN_E items per thread, a block scan of the thread totals,
// and the running total carried across chunks. With segs > 1, `part` holds every unit's
// total (reduce_<t> with the matching sum or product), and a unit starts from the
// combination of the earlier segments of its row.
template <class T>
__device__ void scan_long(const T* src, const Lay& lr, const Lay& lc, T* out, i64 m, i64 k,
                          i64 segs, const St* part, bool prod) {
    typedef typename scan_acc<T>::type C;
    __shared__ C buf[SPAD(SCAN_N)];
    __shared__ C wsum[32];
    const C id = prod ? (C)1 : (C)0;
    const int t = threadIdx.x;
    const i64 units = m * segs, seg_len = (k + segs - 1) / segs;
    for (i64 u = blockIdx.x; u < units; u += gridDim.x) {
        const i64 row = u / segs, seg = u - row * segs, lo = seg * seg_len, rb = off(lr, row);
        const i64 hi = lo + seg_len < k ? lo + seg_len : k;
        C carry = id;
        for (i64 s = 0; s < seg; ++s) {
            const St& q = part[row * segs + s];
            carry = sop(prod, carry, is_float_t<T>::value ? (C)q.a : (C)(u64)q.n);
        }
        for (i64 c0 = lo; c0 < hi; c0 += SCAN_N) {
            const int n = hi - c0 < SCAN_N ? (int)(hi - c0) : SCAN_N;
            for (int i = t; i < SCAN_N; i += SCAN_T)
                buf[SPAD(i)] = i < n ? to_acc(src[rb + off(lc, c0 + i)]) : id;
            __syncthreads();
            C run = id;
            for (int e = 0; e < SCAN_E; ++e) {
                run = sop(prod, run, buf[SPAD(t * SCAN_E + e)]);
                buf[SPAD(t * SCAN_E + e)] = run;
            }
            C total;
            const C pre = sop(prod, carry, block_excl_scan(prod, run, wsum, total));
            for (int e = 0; e < SCAN_E; ++e)
                buf[SPAD(t * SCAN_E + e)] = sop(prod, pre, buf[SPAD(t * SCAN_E + e)]);
            __syncthreads();
            for (int i = t; i < n; i += SCAN_T) out[row * k + c0 + i] = from_acc<T>(buf[SPAD(i)]);
            carry = sop(prod, carry, total);
            __syncthreads();  // buf and wsum are rewritten by the next chunk
        }
    }
}

// One thread per row, for short rows.
template <class T>
__device__ void scan_short(const T* src, const Lay& lr, const Lay& lc, T* out, i64 m, i64 k, bool prod) {
    typedef typename scan_acc<T>::type C;
    KLOOP(row, m) {
        const i64 rb = off(lr, row);
        C acc = prod ? (C)1 : (C)0;
        for (i64 j = 0; j < k; ++j) {
            acc = sop(prod, acc, to_acc(src[rb + off(lc, j)]));
            out[row * k + j] = from_acc<T>(acc);
        }
    }
}

#define SCAN(sn, T)                                                                        \
    extern "C" __global__ void __launch_bounds__(SCAN_T)                                   \
        scan_##sn(const T* src, Lay lr, Lay lc, T* out, i64 m, i64 k, i64 segs,            \
                  const St* part, int prod) {                                              \
        scan_long<T>(src, lr, lc, out, m, k, segs, part, prod != 0);                       \
    }                                                                                      \
    extern "C" __global__ void scan1_##sn(const T* src, Lay lr, Lay lc, T* out, i64 m,     \
                                          i64 k, int prod) {                               \
        scan_short<T>(src, lr, lc, out, m, k, prod != 0);                                  \
    }
ALL_TYPES(SCAN)

// ---------------------------------------------------------------- sort
//
// Each row is padded to P = 2^p slots of (key, index) pairs in scratch buffers and sorted
// ascending by the pair with a bitonic network. Keys are u64 whose unsigned order is the
// value order (NaN largest, -0 == +0, integers exact), complemented for descending order;
// padding has the largest key and indices >= k, so it always sorts last. Indices are unique
// within a row, so the network's result is the stable order.

template <class T> __device__ __forceinline__ u64 sort_key(T x) {
    if constexpr (is_float_t<T>::value) {
        double d = to_d(x);
        if (d != d) return ~0ull;  // every NaN equal, above +inf
        if (d == 0.0) d = 0.0;     // -0 ties with +0
        u64 b = (u64)__double_as_longlong(d);
        return (b >> 63) ? ~b : b | (1ull << 63);
    } else if constexpr (same_t<T, bool>::value || same_t<T, u8>::value) {
        return (u64)x;
    } else {
        return (u64)(i64)x ^ (1ull << 63);
    }
}

#define SORT_KEYS(sn, T)                                                                   \
    extern "C" __global__ void sort_keys_##sn(const T* src, Lay lr, Lay lc, i64 m, i64 k,  \
                                              i64 P, int desc, u64* key, i64* idx) {       \
        const u64 flip = desc ? ~0ull : 0ull;                                              \
        KLOOP(i, m * P) {                                                                  \
            const i64 row = i / P, c = i - row * P;                                        \
            key[i] = c < k ? sort_key(src[off(lr, row) + off(lc, c)]) ^ flip : ~0ull;      \
            idx[i] = c;                                                                    \
        }                                                                                  \
    }
ALL_TYPES(SORT_KEYS)

// One compare-exchange: slots i < j end ascending by (key, index) when `up`, else descending.
__device__ __forceinline__ void cmp_swap(u64* key, i64* idx, i64 i, i64 j, bool up) {
    const u64 ki = key[i], kj = key[j];
    const i64 ii = idx[i], ij = idx[j];
    if ((ki > kj || (ki == kj && ii > ij)) == up) {
        key[i] = kj;
        key[j] = ki;
        idx[i] = ij;
        idx[j] = ii;
    }
}

// Direction of a pair in the merge of bitonic blocks of `size`: ascending unless bit `size`
// of the position within the row is set (always ascending for size == P).
__device__ __forceinline__ bool ascending(i64 i, i64 P, i64 size) { return ((i & (P - 1)) & size) == 0; }

// One stage (size, stride >= SORT_TILE) over all m*P = total slots: total/2 pairs.
extern "C" __global__ void sort_step(u64* key, i64* idx, i64 total, i64 P, i64 size, i64 stride) {
    KLOOP(q, total / 2) {
        const i64 i = (q / stride) * (2 * stride) + q % stride;
        cmp_swap(key, idx, i, i + stride, ascending(i, P, size));
    }
}

#define SORT_TILE 2048  // slots per block in shared memory (16 bytes each)

// Every stage with stride < SORT_TILE of the sizes size_lo..size_hi, in shared memory, one
// tile of SORT_TILE consecutive slots per block (a tile holds whole rows when P <= SORT_TILE).
extern "C" __global__ void sort_tile(u64* key, i64* idx, i64 total, i64 P, i64 size_lo, i64 size_hi) {
    __shared__ u64 sk[SORT_TILE];
    __shared__ i64 si[SORT_TILE];
    for (i64 base = (i64)blockIdx.x * SORT_TILE; base < total; base += (i64)gridDim.x * SORT_TILE) {
        const int n = total - base < SORT_TILE ? (int)(total - base) : SORT_TILE;
        for (int t = threadIdx.x; t < n; t += blockDim.x) {
            sk[t] = key[base + t];
            si[t] = idx[base + t];
        }
        __syncthreads();
        for (i64 size = size_lo; size <= size_hi; size <<= 1) {
            for (int stride = (int)((size < SORT_TILE ? size : SORT_TILE) >> 1); stride > 0; stride >>= 1) {
                for (int q = threadIdx.x; q < SORT_TILE / 2; q += blockDim.x) {
                    const int i = (q / stride) * (2 * stride) + q % stride;
                    // n is a multiple of min(P, SORT_TILE): a pair is wholly inside or out.
                    if (i + stride < n) cmp_swap(sk, si, i, i + stride, ascending(base + i, P, size));
                }
                __syncthreads();
            }
        }
        for (int t = threadIdx.x; t < n; t += blockDim.x) {
            key[base + t] = sk[t];
            idx[base + t] = si[t];
        }
        __syncthreads();  // the next tile reuses sk and si
    }
}

// vals[i], oidx[i] for the m*k outputs: the first k sorted slots of each row, gathering the
// element bits from the source (exact: NaN payloads and -0 survive).
#define SORT_OUT(name, T)                                                                  \
    extern "C" __global__ void name(const T* src, Lay lr, Lay lc, i64 m, i64 k, i64 P,     \
                                    const i64* sidx, T* vals, i64* oidx) {                 \
        KLOOP(i, m * k) {                                                                  \
            const i64 row = i / k, j = sidx[row * P + (i - row * k)];                      \
            oidx[i] = j;                                                                   \
            vals[i] = src[off(lr, row) + off(lc, j)];                                      \
        }                                                                                  \
    }
SORT_OUT(sort_out_b1, u8)
SORT_OUT(sort_out_b2, unsigned short)
SORT_OUT(sort_out_b4, u32)
SORT_OUT(sort_out_b8, u64)
