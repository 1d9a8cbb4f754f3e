// Shared prelude of every kernel family. The Rust side prepends this text to each family's
// source before NVRTC compiles it, so no header search path is needed; nothing here may use
// the C or C++ standard headers, which NVRTC does not ship.
//
// Storage types: bool (one byte, 0/1), u8, i8, i16, i32, i64, f16, bf16 (16-bit patterns),
// float, double. Half types compute in float; double computes in double; integers in their
// own type or i64.

typedef signed char i8;
typedef unsigned char u8;
typedef short i16;
typedef int i32;
typedef long long i64;
typedef unsigned int u32;
typedef unsigned long long u64;

struct __align__(2) f16 {
    unsigned short x;
};
struct __align__(2) bf16 {
    unsigned short x;
};

// ---- half conversions (PTX instructions; sm_80+ for bf16 rounding). Host builds of the
// kernels (tests/cuda_emulation defines RTORCH_HOST_EMULATION) use its shim's portable
// versions instead: nearest, ties to even, NaN kept.
__device__ __forceinline__ float b2f(bf16 b) { return __uint_as_float(((u32)b.x) << 16); }
#ifdef RTORCH_HOST_EMULATION
__device__ __forceinline__ float h2f(f16 h) { return emu_h2f(h.x); }
__device__ __forceinline__ f16 f2h(float f) { return f16{emu_f2h(f)}; }
__device__ __forceinline__ bf16 f2b(float f) { return bf16{emu_f2b(f)}; }
#else
__device__ __forceinline__ float h2f(f16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.x));
    return f;
}
__device__ __forceinline__ f16 f2h(float f) {
    f16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.x) : "f"(f));
    return h;
}
__device__ __forceinline__ bf16 f2b(float f) {
    bf16 b;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b.x) : "f"(f));
    return b;
}
#endif

// ---- type traits
template <class T> struct is_float_t { static const bool value = false; };
template <> struct is_float_t<f16> { static const bool value = true; };
template <> struct is_float_t<bf16> { static const bool value = true; };
template <> struct is_float_t<float> { static const bool value = true; };
template <> struct is_float_t<double> { static const bool value = true; };
template <class T> struct is_bool_t { static const bool value = false; };
template <> struct is_bool_t<bool> { static const bool value = true; };
template <class A, class B> struct same_t { static const bool value = false; };
template <class A> struct same_t<A, A> { static const bool value = true; };

// The type arithmetic happens in: float for halves, the type itself otherwise.
template <class T> struct acc_t { typedef T type; };
template <> struct acc_t<f16> { typedef float type; };
template <> struct acc_t<bf16> { typedef float type; };

__device__ __forceinline__ float ld(f16 v) { return h2f(v); }
__device__ __forceinline__ float ld(bf16 v) { return b2f(v); }
template <class T> __device__ __forceinline__ T ld(T v) { return v; }

template <class T> __device__ __forceinline__ T st(typename acc_t<T>::type v) { return v; }
template <> __device__ __forceinline__ f16 st<f16>(float v) { return f2h(v); }
template <> __device__ __forceinline__ bf16 st<bf16>(float v) { return f2b(v); }

// ---- conversions between any two storage types (PyTorch's casts: floats truncate toward
// zero into integers, narrow integers wrap, anything non-zero is true)
template <class T> __device__ __forceinline__ double to_d(T v) { return (double)ld(v); }
template <class T> __device__ __forceinline__ i64 to_i(T v) { return (i64)v; }
template <class D> __device__ __forceinline__ D from_d(double v) {
    if constexpr (same_t<D, f16>::value) return f2h((float)v);
    else if constexpr (same_t<D, bf16>::value) return f2b((float)v);
    else return (D)v;
}
// double → int64 toward zero. The GPU's conversion saturates and sends NaN to 0; host builds,
// where the C++ cast is undefined out of range, spell that out.
__device__ __forceinline__ i64 d2i(double v) {
#ifdef RTORCH_HOST_EMULATION
    if (v != v) return 0;
    if (v >= 9223372036854775808.0) return 0x7fffffffffffffffLL;
    if (v < -9223372036854775808.0) return -0x7fffffffffffffffLL - 1;
#endif
    return (i64)v;
}
template <class D> __device__ __forceinline__ D from_i(i64 v) {
    if constexpr (same_t<D, f16>::value) return f2h((float)v);
    else if constexpr (same_t<D, bf16>::value) return f2b((float)v);
    else return (D)v;
}
template <class D, class S> __device__ __forceinline__ D cast_to(S s) {
    if constexpr (same_t<D, S>::value) {
        return s;
    } else if constexpr (is_float_t<S>::value) {
        double v = to_d(s);
        if constexpr (is_float_t<D>::value) return from_d<D>(v);
        else if constexpr (is_bool_t<D>::value) return v != 0.0;
        else return (D)d2i(v);
    } else {
        i64 v = to_i(s);
        if constexpr (is_float_t<D>::value) return from_i<D>(v);
        else if constexpr (is_bool_t<D>::value) return v != 0;
        else return (D)v;
    }
}

// A scalar handed over as the little-endian bit pattern of one element of T.
template <class T> __device__ __forceinline__ T from_bits(u64 b) {
    if constexpr (sizeof(T) == 1) {
        u8 x = (u8)b;
        return *reinterpret_cast<T*>(&x);
    } else if constexpr (sizeof(T) == 2) {
        unsigned short x = (unsigned short)b;
        return *reinterpret_cast<T*>(&x);
    } else if constexpr (sizeof(T) == 4) {
        u32 x = (u32)b;
        return *reinterpret_cast<T*>(&x);
    } else {
        return *reinterpret_cast<T*>(&b);
    }
}

// ---- strided layouts: element i (row-major over `shape`) lives at offset + Σ idx_d·stride_d
#define MAXD 12
struct Lay {
    i64 offset;
    i64 ndim;
    i64 shape[MAXD];
    i64 stride[MAXD];
};

__device__ __forceinline__ i64 lay_off(const Lay& l, i64 i) {
    if (l.ndim == 1) return l.offset + i * l.stride[0];
    i64 off = l.offset;
    if ((u64)i <= 0xffffffffull) {
        // 32-bit division (a fraction of the instructions of 64-bit): the quotients only
        // shrink, and a dim too large for 32 bits leaves an index below it unchanged.
        u32 j = (u32)i;
#pragma unroll
        for (int d = MAXD - 1; d >= 0; --d) {
            if (d < l.ndim) {
                i64 s = l.shape[d];
                u32 q = s > 0xffffffffll ? 0u : j / (u32)s;
                off += (i64)(j - q * (u32)s) * l.stride[d];
                j = q;
            }
        }
        return off;
    }
#pragma unroll
    for (int d = MAXD - 1; d >= 0; --d) {
        if (d < l.ndim) {
            i64 s = l.shape[d];
            i64 q = i / s;
            off += (i - q * s) * l.stride[d];
            i = q;
        }
    }
    return off;
}

// ---- contiguous fast paths: one 16-byte access per operand moves a pack of elements, so
// loads are as wide as the memory system's and loop overhead is paid once per pack.
template <class T> struct __align__(16) Pack {
    T v[16 / sizeof(T)];
};
__device__ __forceinline__ bool aligned16(const void* p) { return ((u64)p & 15) == 0; }
// A layout that is `n` consecutive elements (the merged form of any contiguous view).
__device__ __forceinline__ bool dense(const Lay& l) { return l.ndim == 1 && l.stride[0] == 1; }
// Consecutive elements also when left as [rows, cols] (layouts merge jointly, so a contiguous
// operand beside a broadcast one keeps both dims).
__device__ __forceinline__ bool dense2(const Lay& l) {
    return dense(l) || (l.ndim == 2 && l.stride[1] == 1 && l.stride[0] == l.shape[1]);
}
// One row of shape[1] elements repeated down the rows (a bias added to every row).
__device__ __forceinline__ bool row_broadcast(const Lay& l) {
    return l.ndim == 2 && l.stride[0] == 0 && l.stride[1] == 1;
}
// i % m for i >= 0, m > 0, in 32 bits when both fit.
__device__ __forceinline__ i64 mod_of(i64 i, i64 m) {
    if ((u64)i <= 0xffffffffull && (u64)m <= 0xffffffffull) return (i64)((u32)i % (u32)m);
    return i % m;
}

// Grid-stride loop over n items.
#define KLOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n); i += (i64)blockDim.x * gridDim.x)

// ---- type lists for instantiation: M(suffix, type)
#define ALL_TYPES(M) \
    M(bool, bool) M(u8, u8) M(i8, i8) M(i16, i16) M(i32, i32) M(i64, i64) \
    M(f16, f16) M(bf16, bf16) M(f32, float) M(f64, double)
#define FLOAT_TYPES(M) M(f16, f16) M(bf16, bf16) M(f32, float) M(f64, double)
#define INT_TYPES(M) M(u8, u8) M(i8, i8) M(i16, i16) M(i32, i32) M(i64, i64)

// ---- math helpers usable on float and double
__device__ __forceinline__ float nan_f() { return __int_as_float(0x7fc00000); }
__device__ __forceinline__ double nan_d() { return __longlong_as_double(0x7ff8000000000000LL); }
__device__ __forceinline__ float inf_f() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ double inf_d() { return __longlong_as_double(0x7ff0000000000000LL); }
template <class C> __device__ __forceinline__ C nan_of() {
    if constexpr (same_t<C, double>::value) return nan_d();
    else return nan_f();
}
template <class C> __device__ __forceinline__ C inf_of() {
    if constexpr (same_t<C, double>::value) return inf_d();
    else return inf_f();
}
template <class T> __device__ __forceinline__ bool is_nan(T v) { return v != v; }

// Block-wide sum of one value per thread (blockDim.x a multiple of 32, at most 1024);
// every thread gets the total. `scratch` holds 32 elements of shared memory.
template <class C> __device__ __forceinline__ C warp_sum(C v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
template <class C> __device__ C block_sum(C v, C* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nw ? scratch[lane] : (C)0;
    v = warp_sum(v);
    return v;
}

// Block-wide maximum (NaN never wins), the same shape as block_sum.
template <class C> __device__ C block_max(C v, C* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        C u = __shfl_xor_sync(0xffffffffu, v, o);
        v = u > v ? u : v;
    }
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nw ? scratch[lane] : -inf_of<C>();
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        C u = __shfl_xor_sync(0xffffffffu, v, o);
        v = u > v ? u : v;
    }
    return v;
}
