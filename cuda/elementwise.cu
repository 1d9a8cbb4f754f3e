// Elementwise family: unary math, predicates and parameterised maps, binary ops with a tensor
// or scalar right-hand side (out of place and in place), where, any.
//
// Op codes are fixed numbers shared with src/cuda_backend/elementwise.rs.

// ---- unary math (codes: UnaryOp order in src/backend/elementwise.rs)
enum {
    U_NEG, U_ABS, U_SIGN, U_EXP, U_EXP2, U_EXPM1, U_LOG, U_LOG2, U_LOG10, U_LOG1P, U_SQRT,
    U_RSQRT, U_SIN, U_COS, U_TAN, U_ASIN, U_ACOS, U_ATAN, U_SINH, U_COSH, U_TANH, U_ASINH,
    U_ACOSH, U_ATANH, U_SIGMOID, U_RELU, U_FLOOR, U_CEIL, U_ROUND, U_TRUNC, U_FRAC, U_RECIP,
    U_SQUARE, U_ERF, U_ERFC, U_ERFINV, U_GELU, U_GELU_TANH, U_GELU_GRAD, U_GELU_TANH_GRAD
};

// Float math in C (float or double); the overloaded CUDA math functions pick the precision.
template <class C> __device__ __forceinline__ C unary_math(int op, C x) {
    const C zero = (C)0, one = (C)1;
    switch (op) {
    case U_NEG: return -x;
    case U_ABS: return fabs(x);
    case U_SIGN: return x > zero ? one : (x < zero ? -one : x * zero);
    case U_EXP: return exp(x);
    case U_EXP2: return exp2(x);
    case U_EXPM1: return expm1(x);
    case U_LOG: return log(x);
    case U_LOG2: return log2(x);
    case U_LOG10: return log10(x);
    case U_LOG1P: return log1p(x);
    case U_SQRT: return sqrt(x);
    case U_RSQRT: return one / sqrt(x);
    case U_SIN: return sin(x);
    case U_COS: return cos(x);
    case U_TAN: return tan(x);
    case U_ASIN: return asin(x);
    case U_ACOS: return acos(x);
    case U_ATAN: return atan(x);
    case U_SINH: return sinh(x);
    case U_COSH: return cosh(x);
    case U_TANH: return tanh(x);
    case U_ASINH: return asinh(x);
    case U_ACOSH: return acosh(x);
    case U_ATANH: return atanh(x);
    case U_SIGMOID:
        if (x >= zero) return one / (one + exp(-x));
        else { C e = exp(x); return e / (one + e); }
    case U_RELU: return (x > zero || x != x) ? x : zero;
    case U_FLOOR: return floor(x);
    case U_CEIL: return ceil(x);
    case U_ROUND: return rint(x);  // ties to even
    case U_TRUNC: return trunc(x);
    case U_FRAC: return x - trunc(x);
    case U_RECIP: return one / x;
    case U_SQUARE: return x * x;
    case U_ERF: return erf(x);
    case U_ERFC: return erfc(x);
    case U_ERFINV: return erfinv(x);
    // GELU: x·Φ(x) with Φ(x) = erfc(-x/√2)/2; the tanh form as x·σ(2u) (no cancellation).
    case U_GELU: return (C)0.5 * x * erfc(-x * (C)0.70710678118654752);
    case U_GELU_GRAD:
        return (C)0.5 * erfc(-x * (C)0.70710678118654752)
            + x * (C)0.39894228040143268 * exp((C)-0.5 * x * x);
    case U_GELU_TANH: {
        C u = (C)0.79788456080286536 * (x + (C)0.044715 * x * x * x);
        return x / (one + exp((C)-2 * u));
    }
    case U_GELU_TANH_GRAD: {
        C u = (C)0.79788456080286536 * (x + (C)0.044715 * x * x * x);
        C s = one / (one + exp((C)-2 * u));
        return s + x * s * (one - s) * (C)2 * (C)0.79788456080286536 * (one + (C)0.134145 * x * x);
    }
    }
    return x;
}

// Integer maps that keep the dtype (the others never reach integers). Bool: all identity.
template <class T> __device__ __forceinline__ T unary_int(int op, T x) {
    if constexpr (is_bool_t<T>::value) {
        return x;
    } else {
        switch (op) {
        case U_NEG: return (T)(0ull - (u64)(i64)x);
        case U_ABS: return (i64)x < 0 ? (T)(0ull - (u64)(i64)x) : x;
        case U_SIGN: return (T)(((i64)x > 0) - ((i64)x < 0));
        case U_RELU: return x > (T)0 ? x : (T)0;
        case U_SQUARE: return (T)((u64)(i64)x * (u64)(i64)x);
        }
        return x;
    }
}

template <class T> __device__ __forceinline__ T unary_value(int op, T v) {
    if constexpr (is_float_t<T>::value) return st<T>(unary_math(op, ld(v)));
    else return unary_int<T>(op, v);
}

template <class T> __device__ void unary_map(int op, const T* x, Lay lx, T* out, i64 n) {
    const T* xs = x + lx.offset;
    if (dense(lx) && aligned16(xs) && aligned16(out)) {
        const int N = 16 / sizeof(T);
        i64 packs = n / N, done = packs * N;
        const Pack<T>* xv = reinterpret_cast<const Pack<T>*>(xs);
        Pack<T>* ov = reinterpret_cast<Pack<T>*>(out);
        KLOOP(j, packs) {
            Pack<T> p = xv[j];
#pragma unroll
            for (int k = 0; k < N; ++k) p.v[k] = unary_value<T>(op, p.v[k]);
            ov[j] = p;
        }
        KLOOP(i, n - done) out[done + i] = unary_value<T>(op, xs[done + i]);
        return;
    }
    KLOOP(i, n) out[i] = unary_value<T>(op, x[lay_off(lx, i)]);
}

#define UNARY(sn, T)                                                                      \
    extern "C" __global__ void unary_##sn(int op, const T* x, Lay lx, T* out, i64 n) {    \
        unary_map<T>(op, x, lx, out, n);                                                  \
    }
ALL_TYPES(UNARY)

// ---- predicates: Bool output (codes: 0 logical_not, 1 isnan, 2 isinf, 3 isfinite, 4 signbit)
template <class T> __device__ __forceinline__ bool predicate(int op, T v) {
    if constexpr (is_float_t<T>::value) {
        auto x = ld(v);
        switch (op) {
        case 0: return x == 0;
        case 1: return x != x;
        case 2: return x == inf_of<decltype(x)>() || x == -inf_of<decltype(x)>();
        case 3: return x == x && x != inf_of<decltype(x)>() && x != -inf_of<decltype(x)>();
        default: return signbit(x);
        }
    } else {
        switch (op) {
        case 0: return v == (T)0;
        case 1: return false;
        case 2: return false;
        case 3: return true;
        default: return (i64)v < 0;
        }
    }
}

#define PRED(sn, T)                                                                       \
    extern "C" __global__ void pred_##sn(int op, const T* x, Lay lx, bool* out, i64 n) {  \
        KLOOP(i, n) out[i] = predicate<T>(op, x[lay_off(lx, i)]);                         \
    }
ALL_TYPES(PRED)

// Bitwise not (bool: logical not).
#define BITNOT(sn, T)                                                                     \
    extern "C" __global__ void bitnot_##sn(const T* x, Lay lx, T* out, i64 n) {           \
        KLOOP(i, n) {                                                                     \
            T v = x[lay_off(lx, i)];                                                      \
            if constexpr (is_bool_t<T>::value) out[i] = !v;                               \
            else out[i] = (T)~(i64)v;                                                     \
        }                                                                                 \
    }
INT_TYPES(BITNOT)
BITNOT(bool, bool)

// nan_to_num: replacements given as element bit patterns.
#define NAN_TO_NUM(sn, T)                                                                 \
    extern "C" __global__ void nan_to_num_##sn(const T* x, Lay lx, T* out, i64 n, u64 nanb, \
                                               u64 posb, u64 negb) {                      \
        T rn = from_bits<T>(nanb), rp = from_bits<T>(posb), rm = from_bits<T>(negb);      \
        KLOOP(i, n) {                                                                     \
            T v = x[lay_off(lx, i)];                                                      \
            auto f = ld(v);                                                               \
            out[i] = f != f ? rn : (f == inf_of<decltype(f)>() ? rp : (f == -inf_of<decltype(f)>() ? rm : v)); \
        }                                                                                 \
    }
FLOAT_TYPES(NAN_TO_NUM)

// clamp: bounds as element bit patterns; NaN stays NaN (comparisons with it are false).
#define CLAMP(sn, T)                                                                      \
    extern "C" __global__ void clamp_##sn(const T* x, Lay lx, T* out, i64 n, int has_lo,  \
                                          u64 lob, int has_hi, u64 hib) {                 \
        T lo = from_bits<T>(lob), hi = from_bits<T>(hib);                                 \
        KLOOP(i, n) {                                                                     \
            T v = x[lay_off(lx, i)];                                                      \
            if (has_lo && ld(v) < ld(lo)) v = lo;                                         \
            if (has_hi && ld(v) > ld(hi)) v = hi;                                         \
            out[i] = v;                                                                   \
        }                                                                                 \
    }
ALL_TYPES(CLAMP)

// ---- binary ops (codes: BinaryOp order in src/backend/elementwise.rs)
enum {
    B_ADD, B_SUB, B_MUL, B_DIV, B_FLOORDIV, B_TRUNCDIV, B_REM, B_FMOD, B_POW, B_MAX, B_MIN,
    B_ATAN2, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_LAND, B_LOR, B_LXOR, B_BAND, B_BOR, B_BXOR,
    B_SHL, B_SHR
};

template <class C> __device__ __forceinline__ C float_binary(int op, C x, C y) {
    switch (op) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV: return x / y;
    case B_FLOORDIV: {
        if (y == (C)0) return x / y;
        C r = fmod(x, y);
        C q = (x - r) / y;
        if (r != (C)0 && ((r < (C)0) != (y < (C)0))) q -= (C)1;
        return round(q);
    }
    case B_TRUNCDIV: return trunc(x / y);
    case B_REM: {
        C r = fmod(x, y);
        return (r != (C)0 && ((r < (C)0) != (y < (C)0))) ? r + y : r;
    }
    case B_FMOD: return fmod(x, y);
    case B_POW: return pow(x, y);
    case B_MAX: return (x != x || y != y) ? nan_of<C>() : (x > y ? x : y);
    case B_MIN: return (x != x || y != y) ? nan_of<C>() : (x < y ? x : y);
    case B_ATAN2: return atan2(x, y);
    }
    return x;
}

// Two's-complement wrapping arithmetic on any integer type, computed in 64 bits.
template <class T> __device__ __forceinline__ T int_binary(int op, T a, T b) {
    i64 x = (i64)a, y = (i64)b;
    switch (op) {
    case B_ADD: return (T)((u64)x + (u64)y);
    case B_SUB: return (T)((u64)x - (u64)y);
    case B_MUL: return (T)((u64)x * (u64)y);
    case B_DIV:
    case B_TRUNCDIV:
        if (y == 0) return (T)0;
        if (y == -1) return (T)(0ull - (u64)x);
        return (T)(x / y);
    case B_FLOORDIV: {
        if (y == 0) return (T)0;
        if (y == -1) return (T)(0ull - (u64)x);
        i64 q = x / y, r = x % y;
        return (T)((r != 0 && ((r < 0) != (y < 0))) ? q - 1 : q);
    }
    case B_REM: {
        if (y == 0 || y == -1) return (T)0;
        i64 r = x % y;
        return (T)((r != 0 && ((r < 0) != (y < 0))) ? r + y : r);
    }
    case B_FMOD:
        if (y == 0 || y == -1) return (T)0;
        return (T)(x % y);
    case B_POW: {
        if (y < 0) return (T)(x == 1 ? 1 : (x == -1 ? ((y & 1) ? -1 : 1) : 0));
        u64 r = 1, base = (u64)x;
        u64 e = (u64)y;
        while (e) {
            if (e & 1) r *= base;
            base *= base;
            e >>= 1;
        }
        return (T)r;
    }
    case B_MAX: return a > b ? a : b;
    case B_MIN: return a < b ? a : b;
    case B_ATAN2: return (T)atan2((double)x, (double)y);
    case B_BAND: return (T)(x & y);
    case B_BOR: return (T)(x | y);
    case B_BXOR: return (T)(x ^ y);
    case B_SHL: {
        i64 bits = sizeof(T) * 8;
        return (y < 0 || y >= bits) ? (T)0 : (T)((u64)x << y);
    }
    case B_SHR: {
        i64 bits = sizeof(T) * 8;
        i64 mx = bits - (same_t<T, u8>::value ? 0 : 1);
        i64 s = (y < 0 || y >= mx) ? (mx < 63 ? mx : 63) : y;
        return (T)(x >> s);
    }
    }
    return a;
}

template <class T> __device__ __forceinline__ T bool_binary(int op, T x, T y) {
    switch (op) {
    case B_ADD: case B_MAX: case B_BOR: return x || y;
    case B_SUB: case B_BXOR: return x != y;
    case B_MUL: case B_DIV: case B_FLOORDIV: case B_TRUNCDIV: case B_MIN: case B_BAND:
        return x && y;
    case B_POW: return x || !y;
    case B_REM: case B_FMOD: return false;
    case B_ATAN2: return atan2((double)x, (double)y) != 0.0;
    case B_SHL: return y ? false : x;
    case B_SHR: return y ? false : x;
    }
    return x;
}

template <class T> __device__ __forceinline__ T binary_value(int op, T x, T y) {
    if constexpr (is_bool_t<T>::value) return bool_binary<T>(op, x, y);
    else if constexpr (is_float_t<T>::value) return st<T>(float_binary(op, ld(x), ld(y)));
    else return int_binary<T>(op, x, y);
}

template <class T> __device__ __forceinline__ bool compare_value(int op, T a, T b) {
    auto x = ld(a);
    auto y = ld(b);
    switch (op) {
    case B_EQ: return x == y;
    case B_NE: return x != y;
    case B_LT: return x < y;
    case B_LE: return x <= y;
    case B_GT: return x > y;
    case B_GE: return x >= y;
    case B_LAND: return (x != 0) && (y != 0);
    case B_LOR: return (x != 0) || (y != 0);
    default: return (x != 0) != (y != 0);
    }
}

// out = op(a, b or the scalar) over packs of dense operands, b also a row repeated down the
// rows of a (a bias); false (nothing done) when an operand is strided otherwise or
// misaligned. `out` may be `a` (the in-place ops).
template <class T>
__device__ bool binary_dense(int op, const T* a, Lay la, const T* b, Lay lb, int scalar, T s,
                             T* out, i64 n) {
    const int N = 16 / sizeof(T);
    const T* as = a + la.offset;
    const T* bs = scalar ? as : b + lb.offset;
    if (!(dense2(la) && aligned16(as) && aligned16(out) && aligned16(bs))) return false;
    i64 cols = 0;  // > 0: b is a row of `cols` elements, a whole number of packs
    if (!scalar && !dense2(lb)) {
        if (!(row_broadcast(lb) && lb.shape[1] % N == 0)) return false;
        cols = lb.shape[1];
    }
    i64 packs = n / N, done = packs * N;
    const Pack<T>* av = reinterpret_cast<const Pack<T>*>(as);
    const Pack<T>* bv = reinterpret_cast<const Pack<T>*>(bs);
    Pack<T>* ov = reinterpret_cast<Pack<T>*>(out);
    KLOOP(j, packs) {
        Pack<T> p = av[j];
        Pack<T> q = scalar ? p : bv[cols ? mod_of(j * N, cols) / N : j];
#pragma unroll
        for (int k = 0; k < N; ++k) p.v[k] = binary_value<T>(op, p.v[k], scalar ? s : q.v[k]);
        ov[j] = p;
    }
    KLOOP(i, n - done) {
        i64 e = done + i;
        T y = scalar ? s : bs[cols ? mod_of(e, cols) : e];
        out[e] = binary_value<T>(op, as[e], y);
    }
    return true;
}

// out[i] = op(a[i], b[i] or the scalar); `scalar` != 0 selects the scalar `sb`.
#define BINARY(sn, T)                                                                     \
    extern "C" __global__ void binary_##sn(int op, const T* a, Lay la, const T* b, Lay lb, \
                                           int scalar, u64 sb, T* out, i64 n) {           \
        T s = from_bits<T>(sb);                                                           \
        if (binary_dense<T>(op, a, la, b, lb, scalar, s, out, n)) return;                 \
        KLOOP(i, n) {                                                                     \
            T y = scalar ? s : b[lay_off(lb, i)];                                         \
            out[i] = binary_value<T>(op, a[lay_off(la, i)], y);                           \
        }                                                                                 \
    }                                                                                     \
    extern "C" __global__ void compare_##sn(int op, const T* a, Lay la, const T* b, Lay lb, \
                                            int scalar, u64 sb, bool* out, i64 n) {       \
        T s = from_bits<T>(sb);                                                           \
        KLOOP(i, n) {                                                                     \
            T y = scalar ? s : b[lay_off(lb, i)];                                         \
            out[i] = compare_value<T>(op, a[lay_off(la, i)], y);                          \
        }                                                                                 \
    }                                                                                     \
    extern "C" __global__ void binary_into_##sn(int op, T* d, Lay ld_, const T* b, Lay lb, \
                                                int scalar, u64 sb, i64 n) {              \
        T s = from_bits<T>(sb);                                                           \
        if (binary_dense<T>(op, d, ld_, b, lb, scalar, s, d + ld_.offset, n)) return;     \
        KLOOP(i, n) {                                                                     \
            T y = scalar ? s : b[lay_off(lb, i)];                                         \
            i64 o = lay_off(ld_, i);                                                      \
            d[o] = binary_value<T>(op, d[o], y);                                          \
        }                                                                                 \
    }
INT_TYPES(BINARY)
BINARY(bool, bool)
FLOAT_TYPES(BINARY)

// Integer division family: sets *flag when some divisor is zero (checked before dividing).
#define HAS_ZERO(sn, T)                                                                   \
    extern "C" __global__ void has_zero_##sn(const T* x, Lay lx, i64 n, u32* flag) {      \
        KLOOP(i, n) if (x[lay_off(lx, i)] == (T)0) *flag = 1;                             \
    }
INT_TYPES(HAS_ZERO)

// ---- where: cond ? a : b, by element size
#define WHERE(name, T)                                                                    \
    extern "C" __global__ void name(const bool* c, Lay lc, const T* a, Lay la, const T* b, \
                                    Lay lb, T* out, i64 n) {                              \
        KLOOP(i, n) out[i] = c[lay_off(lc, i)] ? a[lay_off(la, i)] : b[lay_off(lb, i)];   \
    }
WHERE(where_b1, u8)
WHERE(where_b2, unsigned short)
WHERE(where_b4, u32)
WHERE(where_b8, u64)

// ---- any: sets *flag when some element is non-zero (NaN counts as non-zero)
#define ANY(sn, T)                                                                        \
    extern "C" __global__ void any_##sn(const T* x, Lay lx, i64 n, u32* flag) {           \
        KLOOP(i, n) if (ld(x[lay_off(lx, i)]) != 0) *flag = 1;                            \
    }
ALL_TYPES(ANY)
