// Memory family (cuda/memory.cu): fill, strided copy, the 100 casts. Also checks the
// emulation's own half conversions against the arithmetic references first, since every
// half-precision result of every family goes through them.
#include "emu_test.h"

static void test_half_conversions() {
    int bad_h2f = 0, bad_rt = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = emu_h2f((uint16_t)h);
        double r = ref_h2f((uint16_t)h);
        bool nan = h_isnan((uint16_t)h);
        if (nan ? f == f : (double)f != r || std::signbit(f) != std::signbit(r)) ++bad_h2f;
        uint16_t back = emu_f2h(f);
        if (nan ? !h_isnan(back) : back != h) ++bad_rt;
    }
    CHECK(bad_h2f == 0, "emu_h2f differs from the reference on %d halves", bad_h2f);
    CHECK(bad_rt == 0, "f16 -> f32 -> f16 does not round-trip on %d halves", bad_rt);
    // float → half / bf16 over a spread of bit patterns plus the rounding boundaries
    std::vector<uint32_t> pats;
    for (uint64_t x = 0; x < (1ull << 32); x += 4093) pats.push_back((uint32_t)x);
    for (uint32_t base : {0x477fe000u, 0x477ff000u, 0x38800000u, 0x33000000u, 0x33800000u,
                          0x387fc000u, 0x3f801000u, 0x3f803000u, 0x7f7f8000u, 0x7f7f7fffu,
                          0x00008000u, 0x00018000u, 0x3f808000u, 0x3f818000u})
        for (int d = -2; d <= 2; ++d) {
            pats.push_back(base + d);
            pats.push_back((base + d) | 0x80000000u);
        }
    int bad_h = 0, bad_b = 0;
    for (uint32_t p : pats) {
        float f = emu_bits<float>(p);
        uint16_t h = emu_f2h(f), rh = ref_f2h(f), b = emu_f2b(f), rb = ref_f2b(f);
        if (f != f ? !h_isnan(h) : h != rh) {
            if (++bad_h <= 5) std::printf("  f2h(%a) = %04x, reference %04x\n", f, h, rh);
        }
        if (f != f ? !b_isnan(b) : b != rb) {
            if (++bad_b <= 5) std::printf("  f2b(%a) = %04x, reference %04x\n", f, b, rb);
        }
    }
    CHECK(bad_h == 0, "emu_f2h differs from the reference on %d of %zu floats", bad_h, pats.size());
    CHECK(bad_b == 0, "emu_f2b differs from the reference on %d of %zu floats", bad_b, pats.size());
    CHECK(d2i(NAN) == 0 && d2i(INFINITY) == INT64_MAX && d2i(-INFINITY) == INT64_MIN &&
              d2i(-2.9) == -2 && d2i(1e300) == INT64_MAX,
          "d2i saturation");
}

static void test_fill() {
    const i64 n = 1000;
    auto one = [&](auto tag, auto kernel, const char* name, u64 bits) {
        using T = decltype(tag);
        std::vector<T> out(n + 1, (T)0x5a);
        emu::launch(name, 3, 96, [&] { kernel(out.data(), n, bits); });
        bool ok = out[n] == (T)0x5a;
        for (i64 i = 0; i < n; ++i) ok &= out[i] == (T)bits;
        CHECK(ok, "%s bits %llx", name, (unsigned long long)bits);
    };
    one(u8{}, fill_b1, "fill_b1", 0xab);
    one((unsigned short){}, fill_b2, "fill_b2", 0xbeef);
    one(u32{}, fill_b4, "fill_b4", 0xdeadbeef);
    one(u64{}, fill_b8, "fill_b8", 0x0123456789abcdefull);
    one(u64{}, fill_b8, "fill_b8", 0);
}

static void test_copy() {
    // src: [6, 7] transposed out of a [7, 6] buffer at offset 3; dst: [6, 7] with every other
    // element of a [6, 14] buffer, at offset 1.
    Lay ls = transposed(6, 7), ld = mk({6, 7}, {14, 2}, 1);
    auto one = [&](auto tag, auto kernel, const char* name) {
        using T = decltype(tag);
        std::vector<T> src(45), dst(6 * 14 + 1, (T)7);
        for (size_t i = 0; i < src.size(); ++i) src[i] = (T)(0x1111111111111111ull * (i + 1));
        emu::launch(name, 2, 64, [&] { kernel(src.data(), ls, dst.data(), ld, 42); });
        std::vector<T> want(dst.size(), (T)7);
        for (i64 i = 0; i < 42; ++i) want[loff(ld, i)] = src[loff(ls, i)];
        CHECK(dst == want, "%s strided copy", name);
    };
    one(u8{}, copy_b1, "copy_b1");
    one((unsigned short){}, copy_b2, "copy_b2");
    one(u32{}, copy_b4, "copy_b4");
    one(u64{}, copy_b8, "copy_b8");
}

// ---- casts
static std::vector<double> float_samples() {
    return {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.7, 127.9, 128.0, -128.0,
            -129.5, 255.0, 255.9, 256.0, 300.7, -300.2, 32767.5, 32768.0, -32769.0, 65504.0,
            65519.0, 65520.0, 70000.0, 1e9, 2147483647.0, 2147483648.0, -2147483649.0,
            16777217.0, 4e18, 9.3e18, -9.3e18, 1e30, -1e30, 1e300, -1e300, HUGE_VAL,
            -HUGE_VAL, std::nan(""), 1e-8, 6e-8, -3e-40, 3.3e38, 3.5e38, 1.0 + 0x1p-11 + 0x1p-40,
            0.1, -0.3333333333333333, 1.00390625, 1.005859375};
}
static std::vector<i64> int_samples() {
    return {0, 1, -1, 2, 127, 128, -128, -129, 255, 256, 32767, 32768, -32769, 65504, 65519,
            65520, 16777217, 2147483647, 2147483648ll, -2147483649ll, (1ll << 53) + 1,
            (1ll << 62) + (1ll << 38) + 1, INT64_MAX, INT64_MIN, 0x123456789abcdefll,
            -0x76543210fedcbll};
}

template <class S> static Buf<S> cast_sources() {
    Buf<S> v;
    if constexpr (std::is_same_v<S, bool>) {
        v = {false, true, true, false};
    } else if constexpr (is_float_t<S>::value) {
        for (double d : float_samples()) v.push_back(ref_from_d<S>(d));
    } else {
        for (i64 i : int_samples()) v.push_back((S)i);
    }
    return v;
}

// The reference conversion (PyTorch's rules, as the CPU's `convert` for these values).
template <class D, class S> static D ref_cast(S s) {
    if constexpr (std::is_same_v<D, S>) {
        return s;
    } else if constexpr (is_float_t<S>::value) {
        double v = ref_to_d(s);
        if constexpr (std::is_same_v<D, bool>) return v != 0;
        else return ref_from_d<D>(v);
    } else {
        i64 i = (i64)s;
        if constexpr (std::is_same_v<D, bool>) return i != 0;
        else if constexpr (std::is_same_v<D, f16>) return f16{ref_f2h((float)i)};
        else if constexpr (std::is_same_v<D, bf16>) return bf16{ref_f2b((float)i)};
        else return (D)i;  // float and double round directly from int64; integers wrap
    }
}

template <class S, class D, class K> static void cast_case(K kernel, const char* name) {
    Buf<S> vals = cast_sources<S>();
    // a [2, m] view transposed out of an [m, 2] buffer (each value twice, in two orders)
    i64 m = (i64)vals.size(), n = 2 * m;
    Buf<S> buf(n + 3);
    Lay ls = transposed(2, m);
    for (i64 i = 0; i < n; ++i) buf[loff(ls, i)] = vals[i < m ? i : n - 1 - i];
    Buf<D> out(n + 1);
    emu::launch(name, 2, 32, [&] { kernel(buf.data(), ls, out.data(), n); });
    int bad = 0;
    for (i64 i = 0; i < n; ++i) {
        S s = buf[loff(ls, i)];
        D want = ref_cast<D>(s);
        if (ulps(out[i], want) != 0 && ++bad <= 3)
            std::printf("  %s(%.17g) = %.17g, want %.17g\n", name, show(s), show(out[i]),
                        show(want));
    }
    CHECK(bad == 0, "%s: %d wrong values", name, bad);
}

#define CAST_TEST(sn, S, dn, D) cast_case<S, D>(cast_##sn##_##dn, "cast_" #sn "_" #dn);
#define CAST_TESTS_FROM(sn, S)                                                                \
    CAST_TEST(sn, S, bool, bool) CAST_TEST(sn, S, u8, u8) CAST_TEST(sn, S, i8, i8)            \
    CAST_TEST(sn, S, i16, i16) CAST_TEST(sn, S, i32, i32) CAST_TEST(sn, S, i64, i64)          \
    CAST_TEST(sn, S, f16, f16) CAST_TEST(sn, S, bf16, bf16) CAST_TEST(sn, S, f32, float)      \
    CAST_TEST(sn, S, f64, double)

static void test_casts() { ALL_TYPES(CAST_TESTS_FROM) }

int main() {
    test_half_conversions();
    test_fill();
    test_copy();
    test_casts();
    return finish("memory");
}
