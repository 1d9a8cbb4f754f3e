// Random family (cuda/random.cu): the Philox4x32-10 streams must reproduce the CPU reference
// (src/cpu/random.rs, src/backend/random.rs) element for element: uniform, Bernoulli and
// integer draws bit for bit, normal draws to 1e-6 relative (one ulp for the half types),
// whatever the grid, for lengths that are not multiples of a counter's 4 (or 2) draws and
// offsets that wrap around 2^64.
#include <array>

#include "emu_test.h"

// ---- the CPU reference, transcribed
using Words = std::array<uint32_t, 4>;
static Words ref_philox_block(Words c, std::array<uint32_t, 2> k) {
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k[0] += 0x9E3779B9u;
            k[1] += 0xBB67AE85u;
        }
        uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        c = {(uint32_t)(p1 >> 32) ^ c[1] ^ k[0], (uint32_t)p1, (uint32_t)(p0 >> 32) ^ c[3] ^ k[1],
             (uint32_t)p0};
    }
    return c;
}
static Words ref_philox(uint64_t counter, uint64_t seed) {
    return ref_philox_block({(uint32_t)counter, (uint32_t)(counter >> 32), 0, 0},
                            {(uint32_t)seed, (uint32_t)(seed >> 32)});
}
static double ref_unit24(uint32_t w) { return (double)(w >> 8) * (1.0 / 16777216.0); }
static double ref_unit53(uint32_t hi, uint32_t lo) {
    return (double)((((uint64_t)hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

enum Dist { UNIFORM, NORMAL, BERNOULLI };

// philox_value: element j of a stream, as f64.
static double ref_value(Dist dist, bool wide, double a, double b, uint64_t seed, uint64_t offset,
                        uint64_t j) {
    uint64_t per = wide ? 2 : 4;
    Words w = ref_philox(offset + j / per, seed);
    size_t lane = j % per;
    auto unit = [&](size_t l) {
        return wide ? ref_unit53(w[2 * l], w[2 * l + 1]) : ref_unit24(w[l]);
    };
    if (dist == UNIFORM) return a + (b - a) * unit(lane);
    if (dist == BERNOULLI) return unit(lane) < a ? 1.0 : 0.0;
    double u1, u2;
    if (wide) {
        u1 = 1.0 - ref_unit53(w[0], w[1]);
        u2 = ref_unit53(w[2], w[3]);
    } else {
        size_t pair = lane / 2;
        u1 = 1.0 - ref_unit24(w[2 * pair]);
        u2 = ref_unit24(w[2 * pair + 1]);
    }
    double r = std::sqrt(-2.0 * std::log(u1)), t = 2.0 * M_PI * u2;
    return a + b * (lane % 2 == 0 ? r * std::cos(t) : r * std::sin(t));
}

static int64_t ref_integer(int64_t low, uint64_t span, uint64_t seed, uint64_t offset, uint64_t j) {
    Words w = ref_philox(offset + j / 2, seed);
    size_t l = j % 2;
    uint64_t r = ((uint64_t)w[2 * l] << 32) | w[2 * l + 1];
    return (int64_t)((uint64_t)low + r % std::max<uint64_t>(span, 1));
}

// ---- tests
static void test_known_answers() {
    // Philox4x32-10 known-answer vectors (Random123), as in src/backend/random.rs
    struct Kat {
        Words ctr;
        std::array<uint32_t, 2> key;
        Words out;
    } kats[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (auto& k : kats) CHECK(ref_philox_block(k.ctr, k.key) == k.out, "reference Philox KAT");
    auto words = [](W4 r) { return Words{r.w[0], r.w[1], r.w[2], r.w[3]}; };  // the kernel's
    CHECK(words(philox(0, 0)) == kats[0].out, "kernel philox(0, 0) differs from the known answer");
    int bad = 0;
    for (int i = 0; i < 200; ++i) {
        uint64_t c = rng(), s = rng();
        bad += words(philox(c, s)) != ref_philox(c, s);
    }
    CHECK(bad == 0, "kernel philox differs from the reference block on %d inputs", bad);
}

template <class T, class K> static void stream_case(K kernel, const char* name, Dist dist,
                                                    double a, double b, i64 n, uint64_t seed,
                                                    uint64_t offset, unsigned grid) {
    const bool wide = std::is_same_v<T, double>;
    Buf<T> out(n + 1, ref_from_d<T>(-77));
    emu::launch(name, grid, 64, [&] { kernel((int)dist, out.data(), n, seed, offset, a, b); });
    int bad = 0;
    for (i64 j = 0; j < n; ++j) {
        double v = ref_value(dist, wide, a, b, seed, offset, (uint64_t)j);
        T want = ref_from_d<T>(v);  // T::from_f64: halves through f32 (src/dtype.rs)
        bool ok;
        if (dist != NORMAL) ok = ulps(out[j], want) == 0;
        else if constexpr (is_float_t<T>::value && sizeof(T) == 2) ok = ulps(out[j], want) <= 1;
        else ok = close((double)out[j], (double)want, 1e-6, 1e-12);
        if (!ok && ++bad <= 3)
            std::printf("  %s dist %d j=%lld: %.17g, want %.17g (f64 %.17g)\n", name, dist,
                        (long long)j, show(out[j]), show(want), v);
    }
    CHECK(bad == 0 && ulps(out[n], ref_from_d<T>(-77)) == 0,
          "%s dist=%d a=%g b=%g n=%lld seed=%llx offset=%llx: %d wrong", name, dist, a, b,
          (long long)n, (unsigned long long)seed, (unsigned long long)offset, bad);
}

template <class T, class K> static void bernoulli_case(K kernel, const char* name, uint64_t seed,
                                                       uint64_t offset) {
    const bool wide = std::is_same_v<T, double>;
    const i64 rows = 13, cols = 31, n = rows * cols;  // p: [13, 31] transposed
    Lay lp = transposed(rows, cols);
    Buf<T> p(n + 3), out(n);
    std::uniform_real_distribution<double> u(0, 1);
    for (i64 i = 0; i < n; ++i)  // some certain draws: p = 0 and p = 1
        p[loff(lp, i)] = ref_from_d<T>(i % 10 == 0 ? 0.0 : i % 10 == 1 ? 1.0 : u(rng));
    emu::launch(name, 3, 64, [&] { kernel(p.data(), lp, out.data(), n, seed, offset); });
    int bad = 0;
    for (i64 j = 0; j < n; ++j) {
        double q = ref_to_d(p[loff(lp, j)]);
        T want = ref_from_d<T>(ref_value(BERNOULLI, wide, q, 0, seed, offset, (uint64_t)j));
        bad += ulps(out[j], want) != 0;
    }
    CHECK(bad == 0, "%s seed=%llx offset=%llx: %d wrong", name, (unsigned long long)seed,
          (unsigned long long)offset, bad);
}

template <class T, class KP, class KB> static void test_dtype(KP fill, KB bern, const char* sn) {
    std::string pf = std::string("philox_") + sn, bn = std::string("bernoulli_") + sn;
    const uint64_t seeds[] = {0, 42, 0xdeadbeefcafebabeull};
    const uint64_t offsets[] = {0, 12345, ~0ull - 3};
    for (int k = 0; k < 3; ++k) {
        uint64_t seed = seeds[k], off = offsets[(k + 1) % 3];
        stream_case<T>(fill, pf.c_str(), UNIFORM, 0.0, 1.0, 1001, seed, off, 3);
        stream_case<T>(fill, pf.c_str(), UNIFORM, -3.7, 5.1, 2003, seed, off, 4);
        stream_case<T>(fill, pf.c_str(), NORMAL, 0.0, 1.0, 1001, seed, off, 2);
        stream_case<T>(fill, pf.c_str(), NORMAL, 2.5, 0.3, 7, seed, off, 1);
        stream_case<T>(fill, pf.c_str(), BERNOULLI, 0.3, 0.0, 1001, seed, off, 3);
        bernoulli_case<T>(bern, bn.c_str(), seed, off);
    }
    stream_case<T>(fill, pf.c_str(), UNIFORM, 0.0, 1.0, 1, 7, 0, 1);
    stream_case<T>(fill, pf.c_str(), BERNOULLI, 1.0, 0.0, 64, 7, 0, 1);
}

static void test_integers() {
    struct Case {
        i64 low;
        uint64_t span;
    } cases[] = {{0, 10}, {-5, 3}, {INT64_MIN, ~0ull}, {100, 1}, {-1000, (1ull << 40) + 7},
                 {0, 1ull << 63}};
    for (auto c : cases)
        for (uint64_t off : {0ull, ~0ull - 1}) {
            const i64 n = 999;
            Buf<i64> out(n + 1, -77);
            LAUNCH(3, 64, philox_int, out.data(), n, 99, off, c.low, c.span);
            int bad = out[n] != -77;
            for (i64 j = 0; j < n; ++j) bad += out[j] != ref_integer(c.low, c.span, 99, off, j);
            CHECK(bad == 0, "philox_int low=%lld span=%llu offset=%llx: %d wrong",
                  (long long)c.low, (unsigned long long)c.span, (unsigned long long)off, bad);
        }
}

int main() {
    test_known_answers();
    test_dtype<f16>(philox_f16, bernoulli_f16, "f16");
    test_dtype<bf16>(philox_bf16, bernoulli_bf16, "bf16");
    test_dtype<float>(philox_f32, bernoulli_f32, "f32");
    test_dtype<double>(philox_f64, bernoulli_f64, "f64");
    test_integers();
    return finish("random");
}
