// Index family: index validation into element offsets, take/put of sub-views at offsets
// (with atomic accumulation), nonzero.

// ---- index_offsets

// One indexed dim: out[j] += wrap(idx[j]) * stride over the n positions of the common index
// shape (row-major; `li` walks the index view). The smallest position holding an invalid value
// goes to *first_bad (the host sets it to ~0 first), so the host can report the first invalid
// value of the first failing dim, as the CPU does. Offsets add with wrapping (unsigned)
// arithmetic, as the CPU's wrapping_add/wrapping_mul.
extern "C" __global__ void index_offsets_add(i64* out, const i64* idx, Lay li, i64 n, i64 size,
                                             i64 stride, i32 wrap, u64* first_bad) {
    KLOOP(j, n) {
        i64 v = idx[lay_off(li, j)];
        i64 w = (v < 0 && wrap) ? v + size : v;
        if (w >= 0 && w < size) {
            out[j] = (i64)((u64)out[j] + (u64)w * (u64)stride);
        } else {
            atomicMin(first_bad, (u64)j);
        }
    }
}

// ---- take / put
//
// Item i of the n = m * rest items is (j, r) = (i / rest, i % rest): offset number j (`lo`
// walks the offsets view) and element r of the sub-view (`lr` walks it; its offset is the
// sub-view's base). The storage position is offs[j] + lr(r), where 0 <= lr(r) < len because
// the layout fits its storage; a position outside 0..len raises *bad and is skipped.

__device__ __forceinline__ bool sub_position(i64 i, i64 rest, const i64* offs, const Lay& lo,
                                             const Lay& lr, i64 len, i64& pos) {
    i64 j = i, r = 0;
    if (rest != 1) {
        j = i / rest;
        r = i - j * rest;
    }
    i64 p = offs[lay_off(lo, j)];
    i64 q = lay_off(lr, r);
    // `p >= len - q` rather than `p + q >= len`: no overflow for any p.
    if (p < 0 || p >= len - q) return false;
    pos = p + q;
    return true;
}

// take_b{1,2,4,8}: out[i] = src[position of i]; dtype-blind (element size only).
#define TAKE(name, T)                                                                           \
    extern "C" __global__ void name(const T* src, i64 len, Lay lr, const i64* offs, Lay lo,     \
                                    T* out, i64 rest, i64 n, u32* bad) {                        \
        KLOOP(i, n) {                                                                           \
            i64 pos;                                                                            \
            if (sub_position(i, rest, offs, lo, lr, len, pos)) out[i] = src[pos];               \
            else *bad = 1;                                                                      \
        }                                                                                       \
    }
TAKE(take_b1, u8)
TAKE(take_b2, unsigned short)
TAKE(take_b4, u32)
TAKE(take_b8, u64)

// Flags any offset outside 0..limit, where the host chose limit = len - base - span so that
// every position of a sub-view at a valid offset is inside the storage. Runs before a put so
// that a bad offset leaves dst untouched (the put kernels return at once when *bad is set).
extern "C" __global__ void put_check(const i64* offs, Lay lo, i64 m, i64 limit, u32* bad) {
    KLOOP(j, m) {
        i64 p = offs[lay_off(lo, j)];
        if (p < 0 || p >= limit) *bad = 1;
    }
}

// put_b{1,2,4,8}: dst[position of i] = vals[lv(i)]. With duplicate offsets the order of the
// writes (so the value that stays) is unspecified, as in PyTorch's CUDA index_put_.
#define PUT(name, T)                                                                            \
    extern "C" __global__ void name(T* dst, i64 len, Lay lr, const i64* offs, Lay lo,           \
                                    const T* vals, Lay lv, i64 rest, i64 n, u32* bad) {         \
        if (*bad) return;                                                                       \
        KLOOP(i, n) {                                                                           \
            i64 pos;                                                                            \
            if (sub_position(i, rest, offs, lo, lr, len, pos)) dst[pos] = vals[lay_off(lv, i)]; \
            else *bad = 1;                                                                      \
        }                                                                                       \
    }
PUT(put_b1, u8)
PUT(put_b2, unsigned short)
PUT(put_b4, u32)
PUT(put_b8, u64)

// Atomic dst += v. Hardware atomics where they exist; the one- and two-byte types go through
// a compare-and-swap loop on the aligned 32-bit word that holds the element.
__device__ __forceinline__ void index_atomic_add(float* a, float v) { atomicAdd(a, v); }
__device__ __forceinline__ void index_atomic_add(double* a, double v) { atomicAdd(a, v); }
__device__ __forceinline__ void index_atomic_add(i32* a, i32 v) { atomicAdd(a, v); }
__device__ __forceinline__ void index_atomic_add(i64* a, i64 v) {
    // Two's complement: the unsigned sum wraps exactly as the CPU's wrapping_add.
    atomicAdd(reinterpret_cast<u64*>(a), (u64)v);
}

// a + b for the narrow types: halves in float (rounded once; float holds the exact sum's
// rounding, so this matches the CPU's f64 sum), integers wrapping, bool as `or`.
template <class T> __device__ __forceinline__ T index_narrow_add(T a, T b) {
    if constexpr (is_bool_t<T>::value) return a || b;
    else if constexpr (is_float_t<T>::value) return st<T>(ld(a) + ld(b));
    else return (T)(a + b);
}

template <class T> __device__ __forceinline__ u32 index_bits_of(T v) {
    if constexpr (sizeof(T) == 1) return *reinterpret_cast<const u8*>(&v);
    else return *reinterpret_cast<const unsigned short*>(&v);
}

template <class T> __device__ void index_atomic_add(T* a, T v) {
    static_assert(sizeof(T) <= 2, "wider types have hardware atomics");
    u64 addr = reinterpret_cast<u64>(a);
    // Device allocations are 256-byte aligned, so the enclosing word is inside the allocation.
    u32* word = reinterpret_cast<u32*>(addr & ~(u64)3);
    u32 shift = (u32)(addr & 3) * 8;
    u32 mask = (sizeof(T) == 1 ? 0xffu : 0xffffu) << shift;
    u32 old = *word, seen;
    do {
        seen = old;
        T cur = from_bits<T>((seen & mask) >> shift);
        u32 next = index_bits_of(index_narrow_add(cur, v)) << shift;
        old = atomicCAS(word, seen, (seen & ~mask) | next);
    } while (old != seen);
}

// put_acc_<dtype>: dst[position of i] += vals[lv(i)] (bool: |=).
#define PUT_ACC(sn, T)                                                                          \
    extern "C" __global__ void put_acc_##sn(T* dst, i64 len, Lay lr, const i64* offs, Lay lo,   \
                                            const T* vals, Lay lv, i64 rest, i64 n, u32* bad) { \
        if (*bad) return;                                                                       \
        KLOOP(i, n) {                                                                           \
            i64 pos;                                                                            \
            if (sub_position(i, rest, offs, lo, lr, len, pos))                                  \
                index_atomic_add(dst + pos, vals[lay_off(lv, i)]);                              \
            else *bad = 1;                                                                      \
        }                                                                                       \
    }
ALL_TYPES(PUT_ACC)

// ---- nonzero
//
// Three passes over tiles of `tile` consecutive elements (row-major order of the view):
// nonzero_count_<dtype> counts each tile, nonzero_scan turns the counts into each tile's
// first output row, nonzero_write_<dtype> recomputes the order inside each tile and writes
// coordinates. Blocks stride over tiles; loop bounds are uniform across a block, so every
// thread reaches the barriers inside the block scans.

template <class T> __device__ __forceinline__ bool index_is_nonzero(T v) {
    if constexpr (is_float_t<T>::value) return ld(v) != 0;  // NaN counts as non-zero
    else return v != 0;
}

// Exclusive prefix sum across the block (blockDim.x a multiple of 32, at most 1024): returns
// the sum of v over the threads before this one and sets `total` to the block's sum. `scratch`
// is 33 shared elements; the leading barrier lets calls follow each other directly.
__device__ i64 index_block_scan(i64 v, i64* scratch, i64& total) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    i64 x = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        i64 y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    __syncthreads();
    if (lane == 31) scratch[warp] = x;
    __syncthreads();
    if (warp == 0) {
        i64 w = lane < nw ? scratch[lane] : 0;
        i64 s = w;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            i64 y = __shfl_up_sync(0xffffffffu, s, o);
            if (lane >= o) s += y;
        }
        if (lane < nw) scratch[lane] = s - w;
        if (lane == 31) scratch[32] = s;
    }
    __syncthreads();
    total = scratch[32];
    return scratch[warp] + x - v;
}

// counts[t] = number of non-zero elements in tile t.
template <class T>
__device__ void nonzero_count(const T* src, Lay ls, i64 n, i64 tile, i64 tiles, i64* counts) {
    __shared__ i64 scratch[32];
    for (i64 t = blockIdx.x; t < tiles; t += gridDim.x) {
        i64 lo = t * tile, hi = n - lo < tile ? n : lo + tile;
        i64 c = 0;
        for (i64 i = lo + threadIdx.x; i < hi; i += blockDim.x)
            c += index_is_nonzero(src[lay_off(ls, i)]);
        c = block_sum(c, scratch);
        if (threadIdx.x == 0) counts[t] = c;
    }
}

// One block: counts[0..tiles) becomes its exclusive prefix sum, counts[tiles] the total.
extern "C" __global__ void nonzero_scan(i64* counts, i64 tiles) {
    __shared__ i64 scratch[33];
    i64 carry = 0;
    for (i64 base = 0; base < tiles; base += blockDim.x) {
        i64 i = base + threadIdx.x;
        i64 v = i < tiles ? counts[i] : 0;
        i64 total;
        i64 ex = index_block_scan(v, scratch, total);
        if (i < tiles) counts[i] = carry + ex;
        carry += total;
    }
    if (threadIdx.x == 0) counts[tiles] = carry;
}

// Row k of `out` (dims.ndim int64 each) = coordinates of the k-th non-zero element, k counted
// from starts[t] within tile t. Only dims.ndim and dims.shape are read (the view's own shape).
template <class T>
__device__ void nonzero_write(const T* src, Lay ls, i64 n, i64 tile, i64 tiles, const i64* starts,
                              Lay dims, i64* out) {
    __shared__ i64 scratch[33];
    for (i64 t = blockIdx.x; t < tiles; t += gridDim.x) {
        i64 w = starts[t];
        if (starts[t + 1] == w) continue;  // no non-zero element in this tile
        i64 lo = t * tile, hi = n - lo < tile ? n : lo + tile;
        for (i64 b = lo; b < hi; b += blockDim.x) {
            i64 i = b + threadIdx.x;
            i64 f = (i < hi && index_is_nonzero(src[lay_off(ls, i)])) ? 1 : 0;
            i64 total;
            i64 ex = index_block_scan(f, scratch, total);
            if (f) {
                i64* row = out + (w + ex) * dims.ndim;
                i64 rem = i;
#pragma unroll
                for (int d = MAXD - 1; d >= 0; --d) {
                    if (d < dims.ndim) {
                        i64 q = rem / dims.shape[d];
                        row[d] = rem - q * dims.shape[d];
                        rem = q;
                    }
                }
            }
            w += total;
        }
    }
}

#define NONZERO(sn, T)                                                                          \
    extern "C" __global__ void nonzero_count_##sn(const T* src, Lay ls, i64 n, i64 tile,        \
                                                  i64 tiles, i64* counts) {                     \
        nonzero_count<T>(src, ls, n, tile, tiles, counts);                                      \
    }                                                                                           \
    extern "C" __global__ void nonzero_write_##sn(const T* src, Lay ls, i64 n, i64 tile,        \
                                                  i64 tiles, const i64* starts, Lay dims,       \
                                                  i64* out) {                                   \
        nonzero_write<T>(src, ls, n, tile, tiles, starts, dims, out);                           \
    }
ALL_TYPES(NONZERO)
