// Host stand-ins for the CUDA built-ins the kernels use (see run.py).
#include <cstdint>
#include <cmath>
#include <cstring>
#include <vector>
#include <memory>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <random>
using std::fmax; using std::fmin; using std::exp; using std::log; using std::pow; using std::sqrt; using std::fabs;
#define __global__
#define __device__
#define __forceinline__ inline
#define __noinline__
#define __align__(n) alignas(n)
#define __launch_bounds__(n)
#define __shared__ static
struct dim3_ { unsigned x, y, z; };
dim3_ threadIdx, blockIdx, blockDim, gridDim;
// Cooperative fibers: one per CUDA thread of the running block, switched at barriers. The
// switch saves the callee-saved registers on the fiber's own stack and swaps stack pointers
// (no signal-mask system call per switch, unlike swapcontext, which made suites take minutes).
#if !defined(__x86_64__)
#error "the fiber switch is written for x86-64"
#endif
extern "C" void emu_fiber_switch(void** save_sp, void* next_sp);
asm(R"(
    .text
    .globl emu_fiber_switch
    .type emu_fiber_switch, @function
emu_fiber_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_fiber_switch, .-emu_fiber_switch
)");
struct Fiber { void* sp = nullptr; std::unique_ptr<char[]> stack; bool done; unsigned tid; };
static std::vector<Fiber> g_fibers;
static void* g_sched_sp;
static int g_cur;
static std::function<void()> g_body;
static long g_progress;  // barrier arrivals and finished threads
inline void fiber_yield() { emu_fiber_switch(&g_fibers[g_cur].sp, g_sched_sp); }
struct Bar { int count, arrived = 0; long gen = 0; };
inline void bar_wait(Bar& b) {
    long gen = b.gen;
    ++g_progress;
    if (++b.arrived == b.count) { b.arrived = 0; b.gen++; return; }
    while (b.gen == gen) fiber_yield();
}
static Bar g_block_bar{0};
static Bar g_warp_bar[64];
struct WarpSlots { alignas(8) unsigned char s[32][8]; };
WarpSlots g_slots[64];
inline void __syncthreads() { bar_wait(g_block_bar); }
template <class T> T shfl_from(T v, int (*srcf)(int, int), int arg) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    memcpy(g_slots[w].s[lane], &v, sizeof(T));
    bar_wait(g_warp_bar[w]);
    T r; memcpy(&r, g_slots[w].s[srcf(lane, arg)], sizeof(T));
    bar_wait(g_warp_bar[w]);
    return r;
}
template <class T> T __shfl_xor_sync(unsigned, T v, int o) { return shfl_from(v, +[](int l, int o) { return l ^ o; }, o); }
template <class T> T __shfl_up_sync(unsigned, T v, int d) { return shfl_from(v, +[](int l, int d) { return l - d < 0 ? l : l - d; }, d); }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline double __longlong_as_double(long long u) { double f; memcpy(&f, &u, 8); return f; }
inline long long __double_as_longlong(double f) { long long u; memcpy(&u, &f, 8); return u; }
static void fiber_entry() { g_body(); g_fibers[g_cur].done = true; ++g_progress; fiber_yield(); }
constexpr size_t kFiberStack = 1 << 16;
// A fresh fiber's stack as emu_fiber_switch leaves a suspended one: six zeroed registers, then
// fiber_entry as the return address, entered with the alignment of a called function.
inline void fiber_start(Fiber& fb) {
    auto top = reinterpret_cast<uintptr_t>(fb.stack.get() + kFiberStack) & ~uintptr_t(15);
    auto* slot = reinterpret_cast<void**>(top);
    *--slot = nullptr;  // fiber_entry's own (never used) return address
    *--slot = reinterpret_cast<void*>(&fiber_entry);
    for (int r = 0; r < 6; ++r) *--slot = nullptr;
    fb.sp = slot;
}
template <class F> void launch(int grid, int block, F f) {
    gridDim = {(unsigned)grid, 1, 1}; blockDim = {(unsigned)block, 1, 1};
    g_body = f;
    if ((int)g_fibers.size() < block) { g_fibers.resize(block); }
    for (int b = 0; b < grid; ++b) {
        g_block_bar = Bar{block};
        for (int w = 0; w < block / 32; ++w) g_warp_bar[w] = Bar{32};
        for (int t = 0; t < block; ++t) {
            Fiber& fb = g_fibers[t];
            if (!fb.stack) fb.stack.reset(new char[kFiberStack]);
            fiber_start(fb);
            fb.done = false; fb.tid = t;
        }
        int live = block;
        while (live > 0) {
            live = 0;
            long before = g_progress;
            for (int t = 0; t < block; ++t) {
                if (g_fibers[t].done) continue;
                g_cur = t; threadIdx = {(unsigned)t, 0, 0}; blockIdx = {(unsigned)b, 0, 0};
                emu_fiber_switch(&g_sched_sp, g_fibers[t].sp);
                if (!g_fibers[t].done) ++live;
            }
            if (live > 0 && g_progress == before) { printf("DEADLOCK: a barrier not every thread reaches\n"); exit(2); }
        }
        if (g_block_bar.arrived || std::any_of(g_warp_bar, g_warp_bar + block / 32, [](const Bar& b) { return b.arrived != 0; })) { printf("BARRIER MISMATCH\n"); exit(2); }
    }
}
