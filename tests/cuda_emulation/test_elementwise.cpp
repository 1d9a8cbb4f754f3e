// Elementwise family (cuda/elementwise.cu) against references written from the CPU backend's
// rules (src/cpu/unary.rs, binary.rs, arith.rs): every unary op code on every dtype it
// reaches, predicates, bitwise not, nan_to_num, clamp, every binary op code (tensor operands
// as broadcast views covering all pairs of sample values, scalar operands, in place),
// comparisons and logical ops, has_zero, where, any.
//
// Floats are computed in the kernel's precision (float for the half types, rounded back once),
// which is PyTorch's rule; <cmath> gives the reference values.
#include "emu_test.h"

// Op codes: the order of `unary_code` and `binary_code` in src/cuda_backend/elementwise.rs
// (tests/python/test_cuda_emulation.py checks these lists against it).
#define UNARY_OPS(X)                                                                          \
    X(Neg) X(Abs) X(Sign) X(Exp) X(Exp2) X(Expm1) X(Log) X(Log2) X(Log10) X(Log1p) X(Sqrt)    \
    X(Rsqrt) X(Sin) X(Cos) X(Tan) X(Asin) X(Acos) X(Atan) X(Sinh) X(Cosh) X(Tanh) X(Asinh)    \
    X(Acosh) X(Atanh) X(Sigmoid) X(Relu) X(Floor) X(Ceil) X(Round) X(Trunc) X(Frac)           \
    X(Reciprocal) X(Square) X(Erf) X(Erfc) X(Erfinv) X(Gelu) X(GeluTanh) X(GeluGrad)          \
    X(GeluTanhGrad)
#define BINARY_OPS(X)                                                                         \
    X(Add) X(Sub) X(Mul) X(Div) X(FloorDiv) X(TruncDiv) X(Rem) X(Fmod) X(Pow) X(Maximum)      \
    X(Minimum) X(Atan2) X(Eq) X(Ne) X(Lt) X(Le) X(Gt) X(Ge) X(LogicalAnd) X(LogicalOr)        \
    X(LogicalXor) X(BitAnd) X(BitOr) X(BitXor) X(Shl) X(Shr)
#define ENUM_ENTRY(name) name,
#define NAME_ENTRY(name) #name,
enum Unary { UNARY_OPS(ENUM_ENTRY) N_UNARY };
enum Binary { BINARY_OPS(ENUM_ENTRY) N_BINARY };
static const char* UNARY_NAME[] = {UNARY_OPS(NAME_ENTRY)};
static const char* BINARY_NAME[] = {BINARY_OPS(NAME_ENTRY)};

// The kernels of one dtype (names as launched, for the coverage check).
template <class T> struct Kern {
    const char* sn;
    void (*unary)(int, const T*, Lay, T*, i64);
    void (*pred)(int, const T*, Lay, bool*, i64);
    void (*clamp)(const T*, Lay, T*, i64, int, u64, int, u64);
    void (*any)(const T*, Lay, i64, u32*);
    void (*binary)(int, const T*, Lay, const T*, Lay, int, u64, T*, i64);
    void (*compare)(int, const T*, Lay, const T*, Lay, int, u64, bool*, i64);
    void (*binary_into)(int, T*, Lay, const T*, Lay, int, u64, i64);
    std::string name(const char* k) const { return std::string(k) + "_" + sn; }
};

template <class F> static void run(const std::string& name, F f) {
    emu::launch(name.c_str(), 3, 64, f);
}

constexpr bool is_half(auto t) {
    using T = decltype(t);
    return std::is_same_v<T, f16> || std::is_same_v<T, bf16>;
}

// ---- sample values
static std::vector<double> float_values() {
    std::vector<double> v = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, 0.25,
                             -0.75, 0.999, -0.999, 0.9999999, 1e-3, -1e-3, 1e-30, 1e-40, 2.0,
                             3.0, 10.0, -10.0, 20.0, -20.0, 88.0, 89.0, -88.0, -104.0, 100.0,
                             700.0, 710.0, -745.0, 1e5, 1e10, 1e30, 1e300, -1e300, HUGE_VAL,
                             -HUGE_VAL, std::nan(""), -std::nan(""), M_PI, -M_PI, 8388608.5,
                             4503599627370495.5, 65504.0, 7.0, -7.0, 0.1, 3.7, -5.25};
    std::uniform_real_distribution<double> u(-6, 6);
    for (int i = 0; i < 40; ++i) v.push_back(u(rng));
    return v;
}
static std::vector<i64> int_values() {
    std::vector<i64> v = {0, 1, -1, 2, -2, 3, -3, 5, -7, 7, 8, 13, -13, 15, 16, 31, 32, 63, 64,
                          100, -100, 127, 128, 255, -128, INT64_MIN, INT64_MAX, INT64_MIN + 1,
                          INT32_MIN, INT32_MAX, INT16_MIN, INT16_MAX};
    for (int i = 0; i < 6; ++i) v.push_back((i64)rng());
    return v;
}
template <class T> static Buf<T> values() {
    Buf<T> b;
    if constexpr (std::is_same_v<T, bool>) {
        b = {false, true};
    } else if constexpr (is_float_t<T>::value) {
        for (double d : float_values()) b.push_back(ref_from_d<T>(d));
    } else {
        for (i64 i : int_values()) b.push_back((T)i);  // wraps into T
    }
    return b;
}

// Values laid out non-contiguously: element i of `transposed(2, m)` (each value twice).
template <class T> struct Strided {
    Buf<T> buf;
    Lay lay;
    i64 n;
};
template <class T> static Strided<T> strided(const Buf<T>& v) {
    i64 m = (i64)v.size();
    Strided<T> s{Buf<T>(2 * m + 3), transposed(2, m), 2 * m};
    for (i64 i = 0; i < s.n; ++i) s.buf[loff(s.lay, i)] = v[i < m ? i : s.n - 1 - i];
    return s;
}

// ---- references
static double ref_erfinv(double y) {
    if (y != y || y < -1 || y > 1) return std::nan("");
    if (y == 1 || y == -1) return std::copysign(HUGE_VAL, y);
    double a = std::fabs(y), lo = 0, hi = 30;
    if (a < 1e-20) return y * (std::sqrt(M_PI) / 2);
    for (int i = 0; i < 200; ++i) {  // bisection; erfc in the tails keeps it exact there
        double mid = (lo + hi) / 2;
        bool below = a <= 0.5 ? std::erf(mid) < a : std::erfc(mid) > 1 - a;
        (below ? lo : hi) = mid;
    }
    return std::copysign(lo, y);
}

template <class C> static C gelu_u(C x) {
    return C(0.79788456080286536) * (x + C(0.044715) * x * x * x);
}

template <class C> static C ref_unary(int op, C x) {
    switch (op) {
    case Neg: return -x;
    case Abs: return std::fabs(x);
    case Sign: return x > 0 ? C(1) : x < 0 ? C(-1) : x;  // keeps ±0 and NaN
    case Exp: return std::exp(x);
    case Exp2: return std::exp2(x);
    case Expm1: return std::expm1(x);
    case Log: return std::log(x);
    case Log2: return std::log2(x);
    case Log10: return std::log10(x);
    case Log1p: return std::log1p(x);
    case Sqrt: return std::sqrt(x);
    case Rsqrt: return C(1) / std::sqrt(x);
    case Sin: return std::sin(x);
    case Cos: return std::cos(x);
    case Tan: return std::tan(x);
    case Asin: return std::asin(x);
    case Acos: return std::acos(x);
    case Atan: return std::atan(x);
    case Sinh: return std::sinh(x);
    case Cosh: return std::cosh(x);
    case Tanh: return std::tanh(x);
    case Asinh: return std::asinh(x);
    case Acosh: return std::acosh(x);
    case Atanh: return std::atanh(x);
    case Sigmoid: return (C)(1.0 / (1.0 + std::exp(-(double)x)));
    case Relu: return x > 0 || x != x ? x : C(0);
    case Floor: return std::floor(x);
    case Ceil: return std::ceil(x);
    case Round: return std::nearbyint(x);  // ties to even
    case Trunc: return std::trunc(x);
    case Frac: return x - std::trunc(x);
    case Reciprocal: return C(1) / x;
    case Square: return x * x;
    case Erf: return std::erf(x);
    case Erfc: return std::erfc(x);
    // GELU in the working precision, written from its definition: x·Φ(x), Φ through erfc;
    // the tanh form as x·σ(2u), u = √(2/π)(x + 0.044715x³).
    case Gelu: return C(0.5) * x * std::erfc(-x * C(0.70710678118654752));
    case GeluGrad:
        return C(0.5) * std::erfc(-x * C(0.70710678118654752)) +
               x * C(0.39894228040143268) * std::exp(C(-0.5) * x * x);
    case GeluTanh: return x / (C(1) + std::exp(C(-2) * gelu_u(x)));
    case GeluTanhGrad: {
        C s = C(1) / (C(1) + std::exp(C(-2) * gelu_u(x)));
        return s + x * s * (C(1) - s) * C(2) * C(0.79788456080286536) *
                       (C(1) + C(0.134145) * x * x);
    }
    default: return (C)ref_erfinv((double)x);
    }
}
// Allowed ulps: exact for the ops that are exact in IEEE arithmetic, a little for the rest.
static uint64_t unary_tol(int op, bool half, bool dbl) {
    switch (op) {
    case Neg: case Abs: case Sign: case Sqrt: case Rsqrt: case Relu: case Floor: case Ceil:
    case Round: case Trunc: case Frac: case Reciprocal: case Square:
        return 0;
    default: return half ? 1 : dbl && op == Erfinv ? 4 : 2;
    }
}

// Integer results wrap into T (C++20 conversions are modular).
template <class T> static T ref_unary_int(int op, T a) {
    if constexpr (std::is_same_v<T, bool>) {
        return a;
    } else {
        __int128 x = a;
        switch (op) {
        case Neg: return (T)(-x);
        case Abs: return (T)(x < 0 ? -x : x);
        case Sign: return (T)((x > 0) - (x < 0));
        case Relu: return x > 0 ? a : T(0);
        case Square: return (T)(u64)((unsigned __int128)x * (unsigned __int128)x);
        default: return a;  // Floor, Ceil, Round, Trunc
        }
    }
}

// Integers: PyTorch's (and the CPU's) wrapping arithmetic, Python-style floor division and
// remainder, x / 0 = 0 (the launcher raises first), shifts out of range → 0 or the sign.
template <class T> static T ref_binary_int(int op, T ta, T tb) {
    __int128 a = ta, b = tb;
    const int bits = 8 * sizeof(T);
    const bool is_signed = !std::is_same_v<T, u8>;
    switch (op) {
    case Add: return (T)(a + b);
    case Sub: return (T)(a - b);
    case Mul: return (T)(u64)((unsigned __int128)a * (unsigned __int128)b);
    case Div: case TruncDiv: return b == 0 ? T(0) : (T)(a / b);
    case FloorDiv: {
        if (b == 0) return 0;
        __int128 q = a / b;
        if (a % b != 0 && ((a < 0) != (b < 0))) --q;
        return (T)q;
    }
    case Rem: {
        if (b == 0) return 0;
        __int128 r = a % b;
        return (T)(r != 0 && ((r < 0) != (b < 0)) ? r + b : r);
    }
    case Fmod: return b == 0 ? T(0) : (T)(a % b);
    case Pow: {
        if (b < 0) return a == 1 ? T(1) : a == -1 ? T(b % 2 == 0 ? 1 : -1) : T(0);
        u64 r = 1;  // left-to-right binary powering, mod 2^64
        for (int k = 63; k >= 0; --k) {
            r *= r;
            if (((u64)b >> k) & 1) r *= (u64)(i64)a;
        }
        return (T)r;
    }
    case Maximum: return ta > tb ? ta : tb;
    case Minimum: return ta < tb ? ta : tb;
    case Atan2: return ref_from_d<T>(std::atan2((double)a, (double)b));
    case BitAnd: return (T)(a & b);
    case BitOr: return (T)(a | b);
    case BitXor: return (T)(a ^ b);
    case Shl: return b < 0 || b >= bits ? T(0) : (T)(i64)((u64)(i64)a << (int)b);
    case Shr: {
        int mx = bits - is_signed;
        return (T)((i64)a >> (b < 0 || b >= mx ? std::min(mx, 63) : (int)b));
    }
    }
    return ta;
}

// Floats in C (float or double).
template <class C> static C ref_binary_float(int op, C x, C y) {
    switch (op) {
    case Add: return x + y;
    case Sub: return x - y;
    case Mul: return x * y;
    case Div: return x / y;
    case FloorDiv: {
        if (y == 0) return x / y;
        C r = std::fmod(x, y), q = (x - r) / y;
        if (r != 0 && ((r < 0) != (y < 0))) q -= 1;
        return std::round(q);
    }
    case TruncDiv: return std::trunc(x / y);
    case Rem: {
        C r = std::fmod(x, y);
        return r != 0 && ((r < 0) != (y < 0)) ? r + y : r;
    }
    case Fmod: return std::fmod(x, y);
    case Pow: return std::pow(x, y);
    case Maximum: return x != x || y != y ? C(NAN) : x > y ? x : y;
    case Minimum: return x != x || y != y ? C(NAN) : x < y ? x : y;
    case Atan2: return std::atan2(x, y);
    }
    return x;
}

// Bool as the CPU's Arith for bool and its bitwise ops (shifts never reach bool).
static bool ref_binary_bool(int op, bool x, bool y) {
    switch (op) {
    case Add: case Maximum: case BitOr: return x || y;
    case Sub: case BitXor: return x != y;
    case Mul: case Div: case FloorDiv: case TruncDiv: case Minimum: case BitAnd: return x && y;
    case Rem: case Fmod: return false;
    case Pow: return x || !y;
    case Atan2: return std::atan2((double)x, (double)y) != 0;
    case Shr: return y ? false : x;
    }
    return x;
}

template <class T> static T ref_binary(int op, T a, T b) {
    if constexpr (std::is_same_v<T, bool>) return ref_binary_bool(op, a, b);
    else if constexpr (is_half(T{}))
        return ref_from_d<T>(ref_binary_float<float>(op, (float)ref_to_d(a), (float)ref_to_d(b)));
    else if constexpr (std::is_floating_point_v<T>) return ref_binary_float<T>(op, a, b);
    else return ref_binary_int<T>(op, a, b);
}

template <class V> static bool ref_compare_values(int op, V x, V y) {
    switch (op) {
    case Eq: return x == y;
    case Ne: return x != y;
    case Lt: return x < y;
    case Le: return x <= y;
    case Gt: return x > y;
    case Ge: return x >= y;
    case LogicalAnd: return x != 0 && y != 0;
    case LogicalOr: return x != 0 || y != 0;
    default: return (x != 0) != (y != 0);
    }
}
template <class T> static bool ref_compare(int op, T a, T b) {
    if constexpr (is_float_t<T>::value) return ref_compare_values(op, ref_to_d(a), ref_to_d(b));
    else return ref_compare_values<__int128>(op, a, b);  // exact for every integer
}

// The binary codes that reach dtype T through the tensor layer.
template <class T> static std::vector<int> arith_ops() {
    if constexpr (is_float_t<T>::value)
        return {Add, Sub, Mul, Div, FloorDiv, TruncDiv, Rem, Fmod, Pow, Maximum, Minimum, Atan2};
    else if constexpr (std::is_same_v<T, bool>)
        return {Add, Sub, Mul, Div, FloorDiv, TruncDiv, Rem, Fmod, Pow, Maximum, Minimum,
                Atan2, BitAnd, BitOr, BitXor, Shr};
    else
        return {Add, Sub, Mul, Div, FloorDiv, TruncDiv, Rem, Fmod, Pow, Maximum, Minimum,
                Atan2, BitAnd, BitOr, BitXor, Shl, Shr};
}
static uint64_t binary_tol(int op) { return op == Pow || op == Atan2 ? 1 : 0; }

// ---- tests per dtype
template <class T> static void test_unary(const Kern<T>& k) {
    Strided<T> x = strided(values<T>());
    std::vector<int> ops;
    if constexpr (is_float_t<T>::value) {
        for (int op = 0; op < N_UNARY; ++op) ops.push_back(op);
    } else {  // UnaryOp::keeps_int
        ops = {Neg, Abs, Sign, Relu, Floor, Ceil, Round, Trunc, Square};
    }
    for (int op : ops) {
        Buf<T> out(x.n + 1);
        run(k.name("unary"), [&] { k.unary(op, x.buf.data(), x.lay, out.data(), x.n); });
        int bad = 0;
        for (i64 i = 0; i < x.n; ++i) {
            T v = x.buf[loff(x.lay, i)], want;
            uint64_t tol = 0;
            if constexpr (is_float_t<T>::value) {
                using C = typename acc_t<T>::type;
                want = ref_from_d<T>(ref_unary<C>(op, (C)ref_to_d(v)));
                tol = unary_tol(op, is_half(T{}), std::is_same_v<T, double>);
            } else {
                want = ref_unary_int<T>(op, v);
            }
            if (ulps(out[i], want) > tol && ++bad <= 3)
                std::printf("  unary_%s %s(%.17g) = %.17g, want %.17g\n", k.sn, UNARY_NAME[op],
                            show(v), show(out[i]), show(want));
        }
        CHECK(bad == 0, "unary_%s %s: %d wrong", k.sn, UNARY_NAME[op], bad);
    }
}

template <class T> static void test_maps(const Kern<T>& k) {
    Strided<T> x = strided(values<T>());
    for (int op = 0; op < 5; ++op) {  // logical_not, isnan, isinf, isfinite, signbit
        Buf<bool> out(x.n);
        run(k.name("pred"), [&] { k.pred(op, x.buf.data(), x.lay, out.data(), x.n); });
        int bad = 0;
        for (i64 i = 0; i < x.n; ++i) {
            T v = x.buf[loff(x.lay, i)];
            double d = ref_to_d(v);
            bool want = op == 0 ? d == 0 : op == 1 ? d != d : op == 2 ? std::isinf(d)
                      : op == 3 ? std::isfinite(d) : std::signbit(d);
            bad += out[i] != want;
        }
        CHECK(bad == 0, "pred_%s code %d: %d wrong", k.sn, op, bad);
    }
    // clamp: both bounds, one bound, crossed bounds (lo > hi gives hi, as the CPU's order)
    struct Bounds {
        int has_lo;
        double lo;
        int has_hi;
        double hi;
    };
    std::vector<Bounds> cases = {{1, -2, 1, 3}, {1, 5, 0, 0}, {0, 0, 1, -1}, {1, 4, 1, 2}};
    if constexpr (is_float_t<T>::value) cases.push_back({1, NAN, 1, 0.5});
    if constexpr (std::is_same_v<T, bool>) cases = {{1, 1, 0, 0}, {0, 0, 1, 0}, {1, 0, 1, 1}};
    for (auto c : cases) {
        T lo = ref_from_d<T>(c.lo), hi = ref_from_d<T>(c.hi);
        Buf<T> out(x.n);
        run(k.name("clamp"), [&] {
            k.clamp(x.buf.data(), x.lay, out.data(), x.n, c.has_lo, bits_of(lo), c.has_hi,
                    bits_of(hi));
        });
        int bad = 0;
        for (i64 i = 0; i < x.n; ++i) {
            T v = x.buf[loff(x.lay, i)], want = v;
            if (c.has_lo && ref_to_d(want) < ref_to_d(lo)) want = lo;
            if (c.has_hi && ref_to_d(want) > ref_to_d(hi)) want = hi;
            bad += ulps(out[i], want) != 0;
        }
        CHECK(bad == 0, "clamp_%s [%g, %g] (%d, %d): %d wrong", k.sn, c.lo, c.hi, c.has_lo,
              c.has_hi, bad);
    }
    // any: nothing but zeros (-0 included), then one non-zero value (NaN counts) at the end
    Buf<T> zeros = values<T>();
    for (size_t i = 0; i < zeros.size(); ++i) zeros[i] = ref_from_d<T>(i % 2 ? -0.0 : 0.0);
    Strided<T> z = strided(zeros);
    for (int put = 0; put < 2; ++put) {
        if (put) z.buf[loff(z.lay, z.n - 1)] = ref_from_d<T>(is_float_t<T>::value ? NAN : 1);
        u32 flag = 0;
        run(k.name("any"), [&] { k.any(z.buf.data(), z.lay, z.n, &flag); });
        CHECK(flag == (u32)put, "any_%s with%s a non-zero", k.sn, put ? "" : "out");
    }
}

// All pairs (a_i, b_j) of the sample values as two broadcast views of shape [m, m].
template <class T> static void test_binary(const Kern<T>& k) {
    Buf<T> v = values<T>();
    i64 m = (i64)v.size(), n = m * m;
    Lay la = mk({m, m}, {1, 0}), lb = mk({m, m}, {0, 1});
    auto pair = [&](i64 i) { return std::pair<T, T>{v[i / m], v[i % m]}; };
    std::vector<T> scalars = {v[1], v[m / 2], v[m - 1]};
    for (int op : arith_ops<T>()) {
        uint64_t tol = is_float_t<T>::value ? binary_tol(op) : 0;
        // tensor right-hand side
        Buf<T> out(n);
        run(k.name("binary"), [&] {
            k.binary(op, v.data(), la, v.data(), lb, 0, 0, out.data(), n);
        });
        int bad = 0;
        for (i64 i = 0; i < n; ++i) {
            auto [a, b] = pair(i);
            T want = ref_binary<T>(op, a, b);
            if (ulps(out[i], want) > tol && ++bad <= 3)
                std::printf("  binary_%s %s(%.17g, %.17g) = %.17g, want %.17g\n", k.sn,
                            BINARY_NAME[op], show(a), show(b), show(out[i]), show(want));
        }
        CHECK(bad == 0, "binary_%s %s: %d wrong", k.sn, BINARY_NAME[op], bad);
        // scalar right-hand side, left operand strided
        Strided<T> x = strided(v);
        for (T s : scalars) {
            Buf<T> o(x.n);
            run(k.name("binary"), [&] {
                k.binary(op, x.buf.data(), x.lay, nullptr, contig(0), 1, bits_of(s), o.data(), x.n);
            });
            int bad_s = 0;
            for (i64 i = 0; i < x.n; ++i)
                bad_s += ulps(o[i], ref_binary<T>(op, x.buf[loff(x.lay, i)], s)) > tol;
            CHECK(bad_s == 0, "binary_%s %s scalar %g: %d wrong", k.sn, BINARY_NAME[op], show(s),
                  bad_s);
        }
        // a row (a bias) added down the rows of a contiguous matrix, in whole 16-byte packs
        // (the kernels' packed path) and in place
        const i64 rows = 3, cols = m / 16 * 16;
        if (cols > 0) {
            Buf<T> mat(rows * cols), o(rows * cols), d(rows * cols);
            for (i64 i = 0; i < rows * cols; ++i) mat[i] = v[(i * 7 + 3) % m];
            Lay lm = mk({rows, cols}, {cols, 1}), lr = mk({rows, cols}, {0, 1});
            run(k.name("binary"), [&] {
                k.binary(op, mat.data(), lm, v.data(), lr, 0, 0, o.data(), rows * cols);
            });
            d = mat;
            run(k.name("binary_into"), [&] {
                k.binary_into(op, d.data(), lm, v.data(), lr, 0, 0, rows * cols);
            });
            int bad_r = 0;
            for (i64 i = 0; i < rows * cols; ++i) {
                T want = ref_binary<T>(op, mat[i], v[i % cols]);
                bad_r += ulps(o[i], want) > tol;
                bad_r += ulps(d[i], want) > tol;
            }
            CHECK(bad_r == 0, "binary_%s %s of a row down a matrix: %d wrong", k.sn,
                  BINARY_NAME[op], bad_r);
        }
        // in place into a transposed destination, tensor and scalar right-hand sides
        for (int scalar = 0; scalar < 2; ++scalar) {
            Lay ld = transposed(m, m);
            Buf<T> d(n + 3);
            for (i64 i = 0; i < n; ++i) d[loff(ld, i)] = pair(i).first;
            T s = scalars[1];
            run(k.name("binary_into"), [&] {
                k.binary_into(op, d.data(), ld, v.data(), lb, scalar, bits_of(s), n);
            });
            int bad_i = 0;
            for (i64 i = 0; i < n; ++i) {
                auto [a, b] = pair(i);
                bad_i += ulps(d[loff(ld, i)], ref_binary<T>(op, a, scalar ? s : b)) > tol;
            }
            CHECK(bad_i == 0, "binary_into_%s %s scalar=%d: %d wrong", k.sn, BINARY_NAME[op],
                  scalar, bad_i);
        }
    }
    for (int op = Eq; op <= LogicalXor; ++op) {
        Buf<bool> out(n), o(m);
        run(k.name("compare"), [&] {
            k.compare(op, v.data(), la, v.data(), lb, 0, 0, out.data(), n);
        });
        T s = scalars[1];
        run(k.name("compare"), [&] {
            k.compare(op, v.data(), contig(m), nullptr, contig(0), 1, bits_of(s), o.data(), m);
        });
        int bad = 0, bad_s = 0;
        for (i64 i = 0; i < n; ++i) {
            auto [a, b] = pair(i);
            if (out[i] != ref_compare<T>(op, a, b) && ++bad <= 3)
                std::printf("  compare_%s %s(%.17g, %.17g) = %d\n", k.sn, BINARY_NAME[op],
                            show(a), show(b), (int)out[i]);
        }
        for (i64 i = 0; i < m; ++i) bad_s += o[i] != ref_compare<T>(op, v[i], s);
        CHECK(bad == 0 && bad_s == 0, "compare_%s %s: %d wrong, scalar %d wrong", k.sn,
              BINARY_NAME[op], bad, bad_s);
    }
}

template <class T> static void test_dtype(const Kern<T>& k) {
    test_unary(k);
    test_maps(k);
    test_binary(k);
}

// ---- kernels of a few dtypes only
template <class T> static void test_bitnot(void (*kernel)(const T*, Lay, T*, i64), const char* sn) {
    Strided<T> x = strided(values<T>());
    Buf<T> out(x.n);
    emu::launch((std::string("bitnot_") + sn).c_str(), 2, 64,
                [&] { kernel(x.buf.data(), x.lay, out.data(), x.n); });
    int bad = 0;
    for (i64 i = 0; i < x.n; ++i) {
        T v = x.buf[loff(x.lay, i)];
        bad += out[i] != (std::is_same_v<T, bool> ? (T)!v : (T)~(i64)v);
    }
    CHECK(bad == 0, "bitnot_%s: %d wrong", sn, bad);
}

template <class T>
static void test_nan_to_num(void (*kernel)(const T*, Lay, T*, i64, u64, u64, u64), const char* sn) {
    Strided<T> x = strided(values<T>());
    T rn = ref_from_d<T>(0.5), rp = ref_from_d<T>(1000), rm = ref_from_d<T>(-7);
    Buf<T> out(x.n);
    emu::launch((std::string("nan_to_num_") + sn).c_str(), 2, 64, [&] {
        kernel(x.buf.data(), x.lay, out.data(), x.n, bits_of(rn), bits_of(rp), bits_of(rm));
    });
    int bad = 0;
    for (i64 i = 0; i < x.n; ++i) {
        T v = x.buf[loff(x.lay, i)];
        double d = ref_to_d(v);
        T want = d != d ? rn : d == HUGE_VAL ? rp : d == -HUGE_VAL ? rm : v;
        bool sign_ok = d != d || std::signbit(ref_to_d(out[i])) == std::signbit(ref_to_d(want));
        bad += ulps(out[i], want) != 0 || !sign_ok;
    }
    CHECK(bad == 0, "nan_to_num_%s: %d wrong", sn, bad);
}

template <class T>
static void test_has_zero(void (*kernel)(const T*, Lay, i64, u32*), const char* sn) {
    Buf<T> v;
    for (int i = -20; i < 20; ++i) v.push_back((T)(2 * i * 37 + 1));  // odd: never zero
    for (int with_zero = 0; with_zero < 2; ++with_zero) {
        Strided<T> x = strided(v);
        if (with_zero) x.buf[loff(x.lay, 17)] = 0;
        x.buf[0] = x.buf[1] = x.buf[2] = 0;  // outside the view
        u32 flag = 0;
        emu::launch((std::string("has_zero_") + sn).c_str(), 2, 32,
                    [&] { kernel(x.buf.data(), x.lay, x.n, &flag); });
        CHECK(flag == (u32)with_zero, "has_zero_%s with_zero=%d", sn, with_zero);
    }
}

template <class W> static void test_where(void (*kernel)(const bool*, Lay, const W*, Lay, const W*,
                                                         Lay, W*, i64),
                                          const char* name) {
    const i64 m = 9, n = 5 * m;
    Buf<bool> c(n + 3);
    Buf<W> a(n + 3), b(m);
    for (i64 i = 0; i < n + 3; ++i) {
        c[i] = rng() % 2;
        a[i] = (W)(rng() | 1);
    }
    for (i64 i = 0; i < m; ++i) b[i] = (W)(2 * i);
    // cond transposed, a strided, b broadcast along dim 0
    Lay lc = transposed(5, m), la = mk({5, m}, {m, 1}, 2), lb = mk({5, m}, {0, 1});
    Buf<W> out(n);
    emu::launch(name, 2, 32,
                [&] { kernel(c.data(), lc, a.data(), la, b.data(), lb, out.data(), n); });
    int bad = 0;
    for (i64 i = 0; i < n; ++i)
        bad += out[i] != (c[loff(lc, i)] ? a[loff(la, i)] : b[loff(lb, i)]);
    CHECK(bad == 0, "%s: %d wrong", name, bad);
}

#define KERN(sn, T)                                                                         \
    Kern<T>{#sn, unary_##sn, pred_##sn, clamp_##sn, any_##sn, binary_##sn, compare_##sn,    \
            binary_into_##sn}
#define TEST_DTYPE(sn, T) test_dtype<T>(KERN(sn, T));
#define TEST_BITNOT(sn, T) test_bitnot<T>(bitnot_##sn, #sn);
#define TEST_NAN_TO_NUM(sn, T) test_nan_to_num<T>(nan_to_num_##sn, #sn);
#define TEST_HAS_ZERO(sn, T) test_has_zero<T>(has_zero_##sn, #sn);

int main() {
    ALL_TYPES(TEST_DTYPE)
    INT_TYPES(TEST_BITNOT)
    TEST_BITNOT(bool, bool)
    FLOAT_TYPES(TEST_NAN_TO_NUM)
    INT_TYPES(TEST_HAS_ZERO)
    test_where<u8>(where_b1, "where_b1");
    test_where<unsigned short>(where_b2, "where_b2");
    test_where<u32>(where_b4, "where_b4");
    test_where<u64>(where_b8, "where_b8");
    return finish("elementwise");
}
