// Philox4x32-10 streams generated where they are used. Element j of a stream comes from
// counter offset + j / per_counter (4 words: 4 floats, or 2 doubles / int64s) under key seed;
// the transforms are those of src/cpu/random.rs, which serves as the reference.

struct W4 {
    u32 w[4];
};

__device__ __forceinline__ W4 philox(u64 counter, u64 seed) {
    u32 c0 = (u32)counter, c1 = (u32)(counter >> 32), c2 = 0, c3 = 0;
    u32 k0 = (u32)seed, k1 = (u32)(seed >> 32);
#pragma unroll
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        u32 lo0 = 0xD2511F53u * c0, hi0 = __umulhi(0xD2511F53u, c0);
        u32 lo1 = 0xCD9E8D57u * c2, hi1 = __umulhi(0xCD9E8D57u, c2);
        u32 n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    W4 o;
    o.w[0] = c0;
    o.w[1] = c1;
    o.w[2] = c2;
    o.w[3] = c3;
    return o;
}

__device__ __forceinline__ double unit24(u32 w) { return (double)(w >> 8) * (1.0 / 16777216.0); }
__device__ __forceinline__ double unit53(u32 hi, u32 lo) {
    return (double)((((u64)hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

// dist: 0 uniform (a = lo, b = hi), 1 normal (a = mean, b = std), 2 bernoulli (a = p)
template <class T> __device__ __forceinline__ double draw(int dist, const W4& r, int lane, double a, double b) {
    const bool wide = same_t<T, double>::value;
    double u = wide ? unit53(r.w[2 * lane], r.w[2 * lane + 1]) : unit24(r.w[lane]);
    if (dist == 0) return a + (b - a) * u;
    if (dist == 2) return u < a ? 1.0 : 0.0;
    double u1, u2;
    if (wide) {
        u1 = 1.0 - unit53(r.w[0], r.w[1]);
        u2 = unit53(r.w[2], r.w[3]);
    } else {
        int pair = lane / 2;
        u1 = 1.0 - unit24(r.w[2 * pair]);
        u2 = unit24(r.w[2 * pair + 1]);
    }
    double rad = sqrt(-2.0 * log(u1));
    double t = 2.0 * 3.14159265358979323846 * u2;
    return a + b * ((lane % 2 == 0) ? rad * cos(t) : rad * sin(t));
}

#define RANDOM(sn, T)                                                                       \
    extern "C" __global__ void philox_##sn(int dist, T* out, i64 n, u64 seed, u64 offset,   \
                                           double a, double b) {                           \
        const i64 per = same_t<T, double>::value ? 2 : 4;                                   \
        KLOOP(c, (n + per - 1) / per) {                                                     \
            W4 r = philox(offset + (u64)c, seed);                                           \
            for (int lane = 0; lane < per; ++lane) {                                        \
                i64 j = c * per + lane;                                                     \
                if (j < n) out[j] = from_d<T>(draw<T>(dist, r, lane, a, b));                \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    extern "C" __global__ void bernoulli_##sn(const T* p, Lay lp, T* out, i64 n, u64 seed,  \
                                              u64 offset) {                                 \
        const i64 per = same_t<T, double>::value ? 2 : 4;                                   \
        KLOOP(c, (n + per - 1) / per) {                                                     \
            W4 r = philox(offset + (u64)c, seed);                                           \
            for (int lane = 0; lane < per; ++lane) {                                        \
                i64 j = c * per + lane;                                                     \
                if (j < n) {                                                                \
                    double q = to_d(p[lay_off(lp, j)]);                                     \
                    out[j] = from_d<T>(draw<T>(2, r, lane, q, 0.0));                        \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }
FLOAT_TYPES(RANDOM)

// Integers low + (r mod span) from 64-bit draws, two per counter.
extern "C" __global__ void philox_int(i64* out, i64 n, u64 seed, u64 offset, i64 low, u64 span) {
    KLOOP(c, (n + 1) / 2) {
        W4 r = philox(offset + (u64)c, seed);
        for (int lane = 0; lane < 2; ++lane) {
            i64 j = c * 2 + lane;
            if (j < n) {
                u64 v = ((u64)r.w[2 * lane] << 32) | r.w[2 * lane + 1];
                out[j] = (i64)((u64)low + v % span);
            }
        }
    }
}
