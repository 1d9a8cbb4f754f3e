// Helpers shared by the emulation test programs: failure reporting, layouts, reference half
// conversions (plain arithmetic, independent of the shim's bit manipulation) and tolerant
// comparisons. Included after shim.h, the prelude and the family's .cu.
#pragma once

#include <cinttypes>
#include <cstdio>
#include <random>
#include <vector>

inline int g_fails = 0;
inline int g_checks = 0;

// CHECK(cond, printf-args): counts a failure and prints one "FAIL file:line ..." line (the
// first 200 failures; the count is always reported).
#define CHECK(c, ...)                                                      \
    do {                                                                   \
        ++g_checks;                                                        \
        if (!(c)) {                                                        \
            if (++g_fails <= 200) {                                        \
                std::printf("FAIL %s:%d: ", __FILE__, __LINE__);           \
                std::printf(__VA_ARGS__);                                  \
                std::printf("\n");                                         \
            }                                                              \
        }                                                                  \
    } while (0)

// Prints the kernels launched (the driver checks them against the family's entry points) and
// the verdict; the exit status of main.
inline int finish(const char* family) {
    std::printf("kernels launched:");
    for (auto& k : emu::launched()) std::printf(" %s", k.c_str());
    std::printf("\n%s: %d checks, %d failures\n", family, g_checks, g_fails);
    return g_fails != 0;
}

// A device-like buffer of n elements of T (std::vector<bool> has no data()); == compares
// bytes.
template <class T> class Buf {
  public:
    explicit Buf(size_t n = 0, T fill = T{}) : v_(n) {
        for (auto& x : v_) x.v = fill;
    }
    Buf(std::initializer_list<T> l) {
        for (T x : l) v_.push_back(Cell{x});
    }
    T* data() { return &v_.data()->v; }
    const T* data() const { return &v_.data()->v; }
    size_t size() const { return v_.size(); }
    T& operator[](size_t i) { return v_[i].v; }
    const T& operator[](size_t i) const { return v_[i].v; }
    void push_back(T x) { v_.push_back(Cell{x}); }
    bool operator==(const Buf& o) const {
        return size() == o.size() && std::memcmp(data(), o.data(), size() * sizeof(T)) == 0;
    }

  private:
    struct Cell {
        T v;
    };
    static_assert(sizeof(Cell) == sizeof(T));
    std::vector<Cell> v_;
};

// A Lay of `shape` with `stride` (row-major), from `off`.
inline Lay mk(std::vector<i64> shape, std::vector<i64> stride, i64 off = 0) {
    Lay l;
    l.offset = off;
    l.ndim = (i64)shape.size();
    for (int d = 0; d < MAXD; ++d) {
        l.shape[d] = 1;
        l.stride[d] = 0;
    }
    for (size_t d = 0; d < shape.size(); ++d) {
        l.shape[d] = shape[d];
        l.stride[d] = stride[d];
    }
    return l;
}
inline Lay contig(i64 n) { return mk({n}, {1}); }

// Offset of element i of l, computed independently of the prelude's lay_off.
inline i64 loff(const Lay& l, i64 i) {
    i64 o = l.offset;
    for (i64 d = l.ndim - 1; d >= 0; --d) {
        o += (i % l.shape[d]) * l.stride[d];
        i /= l.shape[d];
    }
    return o;
}

// A layout over n elements that is not contiguous: a [a, b] view transposed out of a [b, a]
// buffer (n = a·b), at offset 3. Its buffer needs n + 3 elements.
inline Lay transposed(i64 a, i64 b) { return mk({a, b}, {1, a}, 3); }

// ---- reference conversions: exact arithmetic on doubles (ldexp / nearbyint, which rounds
// to nearest even in the default mode)
inline double ref_h2f(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double s = (h & 0x8000) ? -1.0 : 1.0;
    if (e == 0x1f) return m ? std::nan("") : s * HUGE_VAL;
    return s * (e ? std::ldexp(1024 + m, e - 25) : std::ldexp(m, -24));
}
inline double ref_b2f(uint16_t b) { return (double)emu_bits<float>((uint32_t)b << 16); }

// Rounds |v| (finite, non-negative) to `bits` significant bits with exponent at least emin;
// returns the rounded value.
inline double ref_round(double v, int bits, int emin) {
    if (v == 0) return 0;
    int e;
    std::frexp(v, &e);
    double q = std::ldexp(1.0, std::max(e - 1, emin) - (bits - 1));
    return std::nearbyint(v / q) * q;
}
inline uint16_t ref_f2h(double f) {
    uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    if (f != f) return 0x7e00;
    double r = ref_round(std::fabs(f), 11, -14);
    if (r > 65504.0) return sign | 0x7c00;
    if (r < std::ldexp(1.0, -14)) return sign | (uint16_t)(r * 16777216.0);  // subnormal
    int e;
    double m = std::frexp(r, &e);  // r = m·2^e, m in [0.5, 1)
    return sign | (uint16_t)((e + 14) << 10) | (uint16_t)(m * 2048 - 1024);
}
inline uint16_t ref_f2b(double f) {
    uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    if (f != f) return 0x7fc0;
    double r = ref_round(std::fabs(f), 8, -126);
    if (r > 3.3895313892515355e38) return sign | 0x7f80;  // above the largest bf16
    return sign | (uint16_t)(emu_bits<uint32_t>((float)r) >> 16);
}
inline bool h_isnan(uint16_t h) { return (h & 0x7fff) > 0x7c00; }
inline bool b_isnan(uint16_t b) { return (b & 0x7fff) > 0x7f80; }

// ---- comparisons
// Distance in units in the last place between two values of one float type, via the ordered
// integer images of their bit patterns; NaN matches only NaN.
template <class U> inline uint64_t ordered(U bits, int width) {
    uint64_t b = (uint64_t)bits, top = 1ull << (width - 1);
    return (b & top) ? top - (b & (top - 1)) : top + b;
}
inline uint64_t ulps_f(float a, float b) {
    if (a != a || b != b) return (a != a && b != b) ? 0 : ~0ull;
    uint64_t x = ordered(emu_bits<uint32_t>(a), 32), y = ordered(emu_bits<uint32_t>(b), 32);
    return x > y ? x - y : y - x;
}
inline uint64_t ulps_d(double a, double b) {
    if (a != a || b != b) return (a != a && b != b) ? 0 : ~0ull;
    uint64_t x = ordered(emu_bits<uint64_t>(a), 64), y = ordered(emu_bits<uint64_t>(b), 64);
    return x > y ? x - y : y - x;
}
inline uint64_t ulps_h(uint16_t a, uint16_t b) {
    if (h_isnan(a) || h_isnan(b)) return (h_isnan(a) && h_isnan(b)) ? 0 : ~0ull;
    uint64_t x = ordered(a, 16), y = ordered(b, 16);
    return x > y ? x - y : y - x;
}
inline uint64_t ulps_b(uint16_t a, uint16_t b) {
    if (b_isnan(a) || b_isnan(b)) return (b_isnan(a) && b_isnan(b)) ? 0 : ~0ull;
    uint64_t x = ordered(a, 16), y = ordered(b, 16);
    return x > y ? x - y : y - x;
}
// ulps between two storage values of T (integers and bool: 0 when equal, else huge)
template <class T> inline uint64_t ulps(T a, T b) {
    if constexpr (std::is_same_v<T, f16>) return ulps_h(a.x, b.x);
    else if constexpr (std::is_same_v<T, bf16>) return ulps_b(a.x, b.x);
    else if constexpr (std::is_same_v<T, float>) return ulps_f(a, b);
    else if constexpr (std::is_same_v<T, double>) return ulps_d(a, b);
    else return a == b ? 0 : ~0ull;
}

// Relative closeness with NaN == NaN and infinities exact.
inline bool close(double a, double b, double rel, double abs_tol = 0) {
    if (a != a || b != b) return a != a && b != b;
    if (std::isinf(a) || std::isinf(b)) return a == b;
    return std::fabs(a - b) <= abs_tol + rel * std::fabs(b);
}

// A value of T as a double, for messages.
template <class T> inline double show(T v) {
    if constexpr (std::is_same_v<T, f16>) return ref_h2f(v.x);
    else if constexpr (std::is_same_v<T, bf16>) return ref_b2f(v.x);
    else return (double)v;
}

// Storage-type names, for messages.
template <class T> inline const char* tname() {
    if constexpr (std::is_same_v<T, bool>) return "bool";
    else if constexpr (std::is_same_v<T, u8>) return "u8";
    else if constexpr (std::is_same_v<T, i8>) return "i8";
    else if constexpr (std::is_same_v<T, i16>) return "i16";
    else if constexpr (std::is_same_v<T, i32>) return "i32";
    else if constexpr (std::is_same_v<T, i64>) return "i64";
    else if constexpr (std::is_same_v<T, f16>) return "f16";
    else if constexpr (std::is_same_v<T, bf16>) return "bf16";
    else if constexpr (std::is_same_v<T, float>) return "f32";
    else return "f64";
}

// The little-endian bit pattern of one element (how the launchers pass scalars).
template <class T> inline u64 bits_of(T v) {
    u64 b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}

// Storage value of T nearest to the double v, by the reference rules (PyTorch's: floats
// through float for halves, integers truncated toward zero then wrapped, bool v != 0).
template <class T> inline T ref_from_d(double v) {
    if constexpr (std::is_same_v<T, f16>) return f16{ref_f2h((float)v)};
    else if constexpr (std::is_same_v<T, bf16>) return bf16{ref_f2b((float)v)};
    else if constexpr (std::is_same_v<T, bool>) return v != 0;
    else if constexpr (std::is_floating_point_v<T>) return (T)v;
    else {
        // saturating toward zero, NaN → 0, then two's-complement wrap (Rust's `as i64 as T`)
        i64 i = v != v ? 0 : v >= 0x1p63 ? INT64_MAX : v < -0x1p63 ? INT64_MIN : (i64)v;
        return (T)i;
    }
}
template <class T> inline double ref_to_d(T v) {
    if constexpr (std::is_same_v<T, f16>) return ref_h2f(v.x);
    else if constexpr (std::is_same_v<T, bf16>) return ref_b2f(v.x);
    else return (double)v;
}

inline std::mt19937_64 rng(20240611);
