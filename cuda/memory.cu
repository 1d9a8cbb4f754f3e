// Memory family: fill, strided copy (same type), cast between any two types.

// fill_b{1,2,4,8}: out[i] = the element whose bit pattern is `bits`.
#define FILL(name, T)                                                              \
    extern "C" __global__ void name(T* out, i64 n, u64 bits) {                     \
        T v = (T)bits;                                                             \
        KLOOP(i, n) out[i] = v;                                                    \
    }
FILL(fill_b1, u8)
FILL(fill_b2, unsigned short)
FILL(fill_b4, u32)
FILL(fill_b8, u64)

// copy_b{1,2,4,8}: dst[ld(i)] = src[ls(i)] for i in row-major order of the shared shape.
#define COPY(name, T)                                                              \
    extern "C" __global__ void name(const T* src, Lay ls, T* dst, Lay ld_, i64 n) { \
        KLOOP(i, n) dst[lay_off(ld_, i)] = src[lay_off(ls, i)];                    \
    }
COPY(copy_b1, u8)
COPY(copy_b2, unsigned short)
COPY(copy_b4, u32)
COPY(copy_b8, u64)

// cast_<src>_<dst>: contiguous out[i] = convert(src[ls(i)]).
#define CAST(sn, S, dn, D)                                                                  \
    extern "C" __global__ void cast_##sn##_##dn(const S* src, Lay ls, D* out, i64 n) {      \
        KLOOP(i, n) out[i] = cast_to<D, S>(src[lay_off(ls, i)]);                            \
    }
#define CAST_FROM(sn, S) \
    CAST(sn, S, bool, bool) CAST(sn, S, u8, u8) CAST(sn, S, i8, i8) CAST(sn, S, i16, i16) \
    CAST(sn, S, i32, i32) CAST(sn, S, i64, i64) CAST(sn, S, f16, f16) CAST(sn, S, bf16, bf16) \
    CAST(sn, S, f32, float) CAST(sn, S, f64, double)
ALL_TYPES(CAST_FROM)
