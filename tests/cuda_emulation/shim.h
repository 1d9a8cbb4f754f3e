// Host emulation of the CUDA features rtorch's kernels use, so that cuda/*.cu compile as plain
// C++20 (with -DRTORCH_HOST_EMULATION) and run on the CPU.
//
// Model: every CUDA thread of a block is an OS thread (a pool reused across launches); the
// blocks of a launch run one after another, so kernels must not depend on blocks running
// concurrently (they never may on a GPU either). __syncthreads is a barrier over the block,
// warp shuffles exchange values through per-warp slots and a warp barrier, atomics are
// std::atomic_ref (each yields first, to widen race windows). A thread that returns drops
// out of every barrier, as exited threads do on the GPU. A launch that does not finish within
// EMU_DEADLOCK_SECONDS (a thread waiting at a barrier that the others never reach) ends the
// program with a FAIL line.
//
// Math: the <cmath> functions in float and double overloads, plus CUDA's extras (erfinv,
// rsqrt, __umulhi, bit casts, ...). The results have the host libm's accuracy, not the GPU's,
// so tests compare transcendental results with a tolerance.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <semaphore>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

// ---- keywords
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __shared__ static  // one block at a time, so one static copy serves every block
#define __constant__ static
#define __align__(n) alignas(n)
#define __launch_bounds__(...)

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
constexpr int warpSize = 32;

namespace emu {

#ifndef EMU_DEADLOCK_SECONDS
#define EMU_DEADLOCK_SECONDS 60
#endif

// State of the block being run (blocks run one at a time).
struct Warp {
    std::unique_ptr<std::barrier<>> bar;
    unsigned size = 0;  // threads in this warp
    alignas(8) unsigned char slot[2][32][8] = {};  // double-buffered: one barrier per exchange
};
inline std::unique_ptr<std::barrier<>> block_bar;
inline std::vector<Warp> warps;

inline Warp& my_warp() { return warps[threadIdx.x >> 5]; }
// Exchanges this thread has made in the current launch (every lane of a warp makes the same
// ones, so the parity picks the same buffer across the warp).
inline thread_local unsigned exchanges = 0;

// Worker threads, created on demand and reused by every launch.
struct Pool {
    struct Worker {
        pthread_t id;
        std::binary_semaphore go{0};
    };
    std::vector<std::unique_ptr<Worker>> workers;
    const std::function<void()>* body = nullptr;
    unsigned block = 0;
    bool stop = false;
    std::mutex mu;
    std::condition_variable done_cv;
    unsigned remaining = 0;

    static void* entry(void* arg);
    void run(unsigned t) {
        threadIdx = dim3{t, 0, 0};
        blockIdx = dim3{block, 0, 0};
        exchanges = 0;
        (*body)();
        // Exited threads no longer count at barriers.
        block_bar->arrive_and_drop();
        my_warp().bar->arrive_and_drop();
        std::lock_guard<std::mutex> g(mu);
        if (--remaining == 0) done_cv.notify_all();
    }
    void grow(unsigned n) {
        while (workers.size() < n) {
            workers.push_back(std::make_unique<Worker>());
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setstacksize(&attr, 1 << 20);
            auto* arg = new std::pair<Pool*, unsigned>(this, (unsigned)workers.size() - 1);
            if (pthread_create(&workers.back()->id, &attr, entry, arg) != 0) {
                std::printf("FAIL emulation: cannot create thread %zu\n", workers.size());
                std::exit(3);
            }
            pthread_attr_destroy(&attr);
        }
    }
    ~Pool() {
        stop = true;
        for (auto& w : workers) w->go.release();
        for (auto& w : workers) pthread_join(w->id, nullptr);
    }
};
inline Pool pool;

inline void* Pool::entry(void* arg) {
    auto [p, t] = *static_cast<std::pair<Pool*, unsigned>*>(arg);
    delete static_cast<std::pair<Pool*, unsigned>*>(arg);
    for (;;) {
        p->workers[t]->go.acquire();
        if (p->stop) return nullptr;
        p->run(t);
    }
}

// Names of the kernels launched so far (the driver checks every kernel of a family ran).
inline std::set<std::string>& launched() {
    static std::set<std::string> s;
    return s;
}

// Runs `body` as a kernel on grid × block threads (x dimension only).
inline void launch(const char* name, unsigned grid, unsigned block,
                   const std::function<void()>& body) {
    if (grid == 0 || block == 0 || grid > 4 || grid * block > 1024) {
        std::printf("FAIL emulation: launch of %s with %u x %u threads (keep to at most 4 blocks"
                    " and 1024 threads)\n", name, grid, block);
        std::exit(3);
    }
    launched().insert(name);
    auto t0 = std::chrono::steady_clock::now();
    gridDim = dim3{grid, 1, 1};
    blockDim = dim3{block, 1, 1};
    pool.grow(block);
    for (unsigned b = 0; b < grid; ++b) {
        block_bar = std::make_unique<std::barrier<>>(block);
        warps = std::vector<Warp>((block + 31) / 32);
        for (unsigned w = 0; w < warps.size(); ++w) {
            warps[w].size = std::min(32u, block - 32 * w);
            warps[w].bar = std::make_unique<std::barrier<>>(warps[w].size);
        }
        pool.body = &body;
        pool.block = b;
        pool.remaining = block;
        for (unsigned t = 0; t < block; ++t) pool.workers[t]->go.release();
        std::unique_lock<std::mutex> lk(pool.mu);
        if (!pool.done_cv.wait_for(lk, std::chrono::seconds(EMU_DEADLOCK_SECONDS),
                                   [] { return pool.remaining == 0; })) {
            std::printf("FAIL emulation: %s block %u did not finish in %d s: deadlock (a barrier"
                        " or warp shuffle not reached by every thread?)\n",
                        name, b, EMU_DEADLOCK_SECONDS);
            std::fflush(stdout);
            std::_Exit(3);
        }
    }
    // EMU_SLOW_MS=n: report launches that take longer than n ms (to keep tests quick)
    static const char* slow = std::getenv("EMU_SLOW_MS");
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
    if (slow && ms.count() > std::atof(slow))
        std::printf("slow launch: %s %u x %u: %.1f ms\n", name, grid, block, ms.count());
}

// Lane `src` of this warp's value `v` (every lane of the warp must call it). A buffer is
// written again only two exchanges later, after every lane has passed the barrier of the
// exchange in between, so it has been read by then.
template <class T> T exchange(T v, int src) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
    Warp& w = my_warp();
    auto& slot = w.slot[exchanges++ & 1];
    std::memcpy(slot[threadIdx.x & 31], &v, sizeof(T));
    w.bar->arrive_and_wait();
    T r;
    std::memcpy(&r, slot[src], sizeof(T));
    return r;
}

}  // namespace emu

// Launches a kernel: LAUNCH(grid, block, kernel, args...).
#define LAUNCH(grid, block, kernel, ...) \
    ::emu::launch(#kernel, grid, block, [&] { kernel(__VA_ARGS__); })

// ---- synchronisation
inline void __syncthreads() { emu::block_bar->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::my_warp().bar->arrive_and_wait(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- warp shuffles and votes (width: a power of two up to 32, as on the GPU)
template <class T> T __shfl_sync(unsigned, T v, int src, int width = 32) {
    int lane = threadIdx.x & 31;
    return emu::exchange(v, (lane & ~(width - 1)) + (src & (width - 1)));
}
template <class T> T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
    int lane = threadIdx.x & 31, src = lane ^ mask;
    return emu::exchange(v, src < ((lane & ~(width - 1)) + width) ? src : lane);
}
template <class T> T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
    int lane = threadIdx.x & 31;
    return emu::exchange(v, (lane & (width - 1)) >= (int)delta ? lane - (int)delta : lane);
}
template <class T> T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
    int lane = threadIdx.x & 31;
    return emu::exchange(v, (lane & (width - 1)) + (int)delta < width ? lane + (int)delta : lane);
}
inline unsigned __ballot_sync(unsigned, int pred) {
    emu::Warp& w = emu::my_warp();
    auto& slot = w.slot[emu::exchanges++ & 1];
    std::memcpy(slot[threadIdx.x & 31], &pred, sizeof(int));
    w.bar->arrive_and_wait();
    unsigned bits = 0;
    for (unsigned l = 0; l < w.size; ++l) {
        int p;
        std::memcpy(&p, slot[l], sizeof(int));
        if (p) bits |= 1u << l;
    }
    return bits;
}
inline int __any_sync(unsigned m, int pred) { return __ballot_sync(m, pred) != 0; }
inline int __all_sync(unsigned m, int pred) { return __ballot_sync(m, !pred) == 0; }

// ---- atomics (return the old value). Each first yields the CPU, so that other threads get to
// run between a kernel's plain reads and its atomics: widens the windows in which a missing
// atomic or retry loop loses an update.
template <class T> using Id = std::type_identity_t<T>;  // the pointer alone picks T
template <class T> std::atomic_ref<T> emu_atomic(T* a) {
    sched_yield();
    return std::atomic_ref<T>(*a);
}
template <class T> T atomicAdd(T* a, Id<T> v) { return emu_atomic(a).fetch_add(v); }
template <class T> T atomicSub(T* a, Id<T> v) { return emu_atomic(a).fetch_sub(v); }
template <class T> T atomicExch(T* a, Id<T> v) { return emu_atomic(a).exchange(v); }
template <class T> T atomicOr(T* a, Id<T> v) { return emu_atomic(a).fetch_or(v); }
template <class T> T atomicAnd(T* a, Id<T> v) { return emu_atomic(a).fetch_and(v); }
template <class T> T atomicXor(T* a, Id<T> v) { return emu_atomic(a).fetch_xor(v); }
template <class T> T atomicCAS(T* a, Id<T> cmp, Id<T> val) {
    emu_atomic(a).compare_exchange_strong(cmp, val);
    return cmp;
}
template <class T> T atomicMin(T* a, Id<T> v) {
    std::atomic_ref<T> r = emu_atomic(a);
    T cur = r.load();
    while (v < cur && !r.compare_exchange_weak(cur, v)) {}
    return cur;
}
template <class T> T atomicMax(T* a, Id<T> v) {
    std::atomic_ref<T> r = emu_atomic(a);
    T cur = r.load();
    while (v > cur && !r.compare_exchange_weak(cur, v)) {}
    return cur;
}

// ---- bit casts and integer intrinsics
template <class To, class From> inline To emu_bits(From f) {
    static_assert(sizeof(To) == sizeof(From));
    To t;
    std::memcpy(&t, &f, sizeof(To));
    return t;
}
inline float __int_as_float(int i) { return emu_bits<float>(i); }
inline float __uint_as_float(unsigned i) { return emu_bits<float>(i); }
inline int __float_as_int(float f) { return emu_bits<int>(f); }
inline unsigned __float_as_uint(float f) { return emu_bits<unsigned>(f); }
inline double __longlong_as_double(long long i) { return emu_bits<double>(i); }
inline long long __double_as_longlong(double d) { return emu_bits<long long>(d); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
inline int __mulhi(int a, int b) { return (int)(((int64_t)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline long long __mul64hi(long long a, long long b) {
    return (long long)(((__int128)a * b) >> 64);
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }

// ---- math: <cmath> overloads for float and double in the global namespace
using std::acos; using std::acosh; using std::asin; using std::asinh; using std::atan;
using std::atan2; using std::atanh; using std::cbrt; using std::ceil; using std::copysign;
using std::cos; using std::cosh; using std::erf; using std::erfc; using std::exp;
using std::exp2; using std::expm1; using std::fabs; using std::floor; using std::fma;
using std::fmax; using std::fmin; using std::fmod; using std::hypot; using std::isfinite;
using std::isinf; using std::isnan; using std::ldexp; using std::lgamma; using std::log;
using std::log10; using std::log1p; using std::log2; using std::nearbyint; using std::pow;
using std::remainder; using std::rint; using std::round; using std::signbit; using std::sin;
using std::sinh; using std::sqrt; using std::tan; using std::tanh; using std::tgamma;
using std::trunc;

// CUDA's min/max: integer overloads compare in the common type, floats ignore a NaN (fmin).
template <class A, class B>
inline std::enable_if_t<std::is_integral_v<A> && std::is_integral_v<B>, std::common_type_t<A, B>>
min(A a, B b) { return a < b ? a : b; }
template <class A, class B>
inline std::enable_if_t<std::is_integral_v<A> && std::is_integral_v<B>, std::common_type_t<A, B>>
max(A a, B b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }

// Explicitly rounded arithmetic (no contraction on the host: -ffp-contract=off).
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }

// Fast-math intrinsics: the accurate functions.
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __saturatef(float x) { return x != x ? 0.0f : std::fmin(std::fmax(x, 0.0f), 1.0f); }

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline double normcdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
inline float normcdf(float x) { return (float)normcdf((double)x); }
inline float normcdff(float x) { return (float)normcdf((double)x); }
inline double sinpi(double x) { return std::sin(M_PI * x); }
inline double cospi(double x) { return std::cos(M_PI * x); }

// erfinv in double: a starting guess from rational forms of the inverse (centre and tails),
// then Newton steps on erf(x) = y, or on erfc(x) = 1 - |y| (exact for |y| >= 0.5) in the
// tails, where erf(x) - y would cancel.
inline double erfinv(double y) {
    if (y != y || y < -1.0 || y > 1.0) return std::nan("");
    if (y == 1.0 || y == -1.0) return std::copysign(HUGE_VAL, y);
    if (y == 0.0) return y;
    double a = std::fabs(y), x;
    if (a < 0.7) {
        double z = a * a;
        x = a * (((-0.140543331 * z + 0.914624893) * z - 1.645349621) * z + 0.886226899) /
            ((((0.012229801 * z - 0.329097515) * z + 1.442710462) * z - 2.118377725) * z + 1.0);
    } else {
        double z = std::sqrt(-std::log((1.0 - a) / 2.0));
        x = (((1.641345311 * z + 3.429567803) * z - 1.624906493) * z - 1.970840454) /
            ((1.637067800 * z + 3.543889200) * z + 1.0);
    }
    const double k = 2.0 / std::sqrt(M_PI);
    for (int i = 0; i < 4; ++i) {
        double slope = k * std::exp(-x * x);
        if (slope == 0.0) break;
        x -= a <= 0.5 ? (std::erf(x) - a) / slope : ((1.0 - a) - std::erfc(x)) / slope;
    }
    return std::copysign(x, y);
}
inline float erfinv(float y) { return (float)erfinv((double)y); }
inline float erfinvf(float y) { return (float)erfinv((double)y); }
inline double erfcinv(double y) { return erfinv(1.0 - y); }
inline float erfcinv(float y) { return (float)erfinv(1.0 - (double)y); }
inline float erfcinvf(float y) { return (float)erfinv(1.0 - (double)y); }

// ---- half conversions for the prelude (its PTX versions cannot run here): nearest, ties to
// even; NaN stays NaN (quiet, sign and leading payload bits kept).
inline float emu_h2f(unsigned short h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    if (e == 0x1f) {
        bits = sign | 0x7f800000u | (m << 13);
    } else if (e != 0) {
        bits = sign | ((e + 112) << 23) | (m << 13);
    } else if (m == 0) {
        bits = sign;
    } else {  // subnormal: m·2^-24, normalised
        uint32_t be = 113;
        while (!(m & 0x400u)) {
            m <<= 1;
            --be;
        }
        bits = sign | (be << 23) | ((m & 0x3ffu) << 13);
    }
    return emu_bits<float>(bits);
}

inline unsigned short emu_f2h(float f) {
    uint32_t x = emu_bits<uint32_t>(f), sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return (unsigned short)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);  // ≥ 65520: rounds to inf
    if (a >= 0x38800000u) {                                          // normal: ≥ 2^-14
        uint32_t r = a - 0x38000000u;                                // rebias 127 → 15
        r += 0xfffu + ((r >> 13) & 1u);
        return (unsigned short)(sign | (r >> 13));
    }
    if (a < 0x33000000u) return (unsigned short)sign;  // below 2^-25: zero
    // subnormal: round the 24-bit significand to units of 2^-24
    uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126 - e;
    uint32_t q = m >> shift, rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (q & 1u))) ++q;
    return (unsigned short)(sign | q);
}

inline unsigned short emu_f2b(float f) {
    uint32_t x = emu_bits<uint32_t>(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (unsigned short)(x >> 16);
}
