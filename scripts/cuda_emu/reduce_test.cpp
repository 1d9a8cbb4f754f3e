#include "kern.h"
// Host model of src/cuda_backend/reduce.rs driving the kernels, checked against a
// sequential model of src/cpu/reduce.rs and scan_sort.rs.
static int SM = 2;          // emulated multiprocessors (want = SM*8 units)
static int MAXGRID = 3;     // cap blocks so kernels stride
static long fails = 0, checks = 0;
#include <map>
#include <string>
static std::map<std::string, long> failmap;
static std::mt19937_64 rng(42);
template <class T> struct Buf { std::unique_ptr<T[]> p; i64 n; Buf(i64 n) : p(new T[n > 0 ? n : 1]()), n(n) {}
    T& operator[](i64 i) { return p[i]; } const T& operator[](i64 i) const { return p[i]; } T* data() { return p.get(); } const T* data() const { return p.get(); }
    i64 size() const { return n; } T* begin() { return p.get(); } T* end() { return p.get() + n; } };

template <class T> struct Code;
template <> struct Code<bool> { static const int v = 0; };
template <> struct Code<u8> { static const int v = 1; };
template <> struct Code<i8> { static const int v = 2; };
template <> struct Code<i16> { static const int v = 3; };
template <> struct Code<i32> { static const int v = 4; };
template <> struct Code<i64> { static const int v = 5; };
template <> struct Code<f16> { static const int v = 6; };
template <> struct Code<bf16> { static const int v = 7; };
template <> struct Code<float> { static const int v = 8; };
template <> struct Code<double> { static const int v = 9; };

Lay lay1(i64 n, i64 stride, i64 off) { Lay l{}; l.offset = off; l.ndim = 1; for (int d = 0; d < MAXD; ++d) { l.shape[d] = 1; l.stride[d] = 0; } l.shape[0] = n; l.stride[0] = stride; return l; }

// A view of m rows of k: kind 0 contiguous (offset 3), 1 columns, 2 padded inner 2-d rows.
struct View { i64 m, k, size; Lay lr, lc; int kind; i64 k2;
    i64 pos(i64 i, i64 j) const {
        if (kind == 0) return 3 + i * k + j;
        if (kind == 1) return j * m + i;
        return i * (k / k2) * (k2 + 1) + (j / k2) * (k2 + 1) + j % k2;
    }
};
View make_view(i64 m, i64 k, int kind) {
    View v; v.m = m; v.k = k; v.kind = kind; v.k2 = 1;
    if (kind == 0) { v.size = 3 + m * k; v.lr = lay1(m, k, 3); v.lc = lay1(k, 1, 0); }
    else if (kind == 1) { v.size = m * k; v.lr = lay1(m, 1, 0); v.lc = lay1(k, m, 0); }
    else {
        v.k2 = (k % 3 == 0) ? 3 : (k % 2 == 0 ? 2 : 1);
        i64 k1 = k / v.k2; v.size = m * k1 * (v.k2 + 1) + 1;
        v.lr = lay1(m, k1 * (v.k2 + 1), 0);
        v.lc = lay1(k1, v.k2 + 1, 0); v.lc.ndim = 2; v.lc.shape[1] = v.k2; v.lc.stride[1] = 1;
    }
    return v;
}
bool columns(const View& v) { return v.lr.ndim == 1 && v.lr.stride[0] == 1 && v.lc.ndim == 1 && v.lc.stride[0] != 1 && v.lc.shape[0] > 1; }

// Mirror of plan() in reduce.rs.
std::pair<int, i64> plan(const View& v, i64 m, i64 k, i64 min_seg) {
    if (columns(v) && m >= SM * 256) return {1, 1};
    if (columns(v) && m >= 32 && k >= 64) {
        i64 want = 2 * SM * 256;
        return {1, std::max<i64>(1, std::min<i64>((want + m - 1) / m, k / 16))};
    }
    if (k <= 1024) { i64 c = (k + 7) / 8; i64 p = 1; while (p < c) p <<= 1; return {(int)std::min<i64>(p, 32), 1}; }
    i64 want = SM * 8;
    i64 segs = m < want ? std::max<i64>(1, std::min<i64>((want + std::max<i64>(m, 1) - 1) / std::max<i64>(m, 1), k / min_seg)) : 1;
    return {256, segs};
}
int grid_of(i64 n) { return (int)std::max<i64>(1, std::min<i64>(n, MAXGRID)); }

template <class T> void reduce_kernel(const T* src, Lay lr, Lay lc, Red r);
#define RK(sn, T) template <> void reduce_kernel<T>(const T* src, Lay lr, Lay lc, Red r) { reduce_##sn(src, lr, lc, r); }
ALL_TYPES(RK)
template <class T> void scan_kernel(const T* s, Lay lr, Lay lc, T* o, i64 m, i64 k, i64 segs, const St* p, int prod);
template <class T> void scan1_kernel(const T* s, Lay lr, Lay lc, T* o, i64 m, i64 k, int prod);
#define SK(sn, T) template <> void scan_kernel<T>(const T* s, Lay lr, Lay lc, T* o, i64 m, i64 k, i64 segs, const St* p, int prod) { scan_##sn(s, lr, lc, o, m, k, segs, p, prod); } \
 template <> void scan1_kernel<T>(const T* s, Lay lr, Lay lc, T* o, i64 m, i64 k, int prod) { scan1_##sn(s, lr, lc, o, m, k, prod); }
ALL_TYPES(SK)
template <class T> void skeys_kernel(const T* s, Lay lr, Lay lc, i64 m, i64 k, i64 P, int desc, u64* key, i64* idx);
#define KK(sn, T) template <> void skeys_kernel<T>(const T* s, Lay lr, Lay lc, i64 m, i64 k, i64 P, int desc, u64* key, i64* idx) { sort_keys_##sn(s, lr, lc, m, k, P, desc, key, idx); }
ALL_TYPES(KK)

// Mirror of reduce_into.
template <class T> void run_reduce(const Buf<T>& data, const View& v, Red r) {
    auto [g, segs] = plan(v, r.m, r.k, 4096);
    if (r.k == 0) { g = 1; segs = 1; }
    r.g = g; r.segs = segs; r.isf = is_float_t<T>::value;
    std::vector<St> part(r.m * segs);
    r.part = (u64)part.data();
    i64 units = r.m * segs, per = 256 / g;
    const T* src = data.data(); Lay lr = v.lr, lc = v.lc;
    launch(grid_of((units + per - 1) / per), 256, [&] { reduce_kernel<T>(src, lr, lc, r); });
    if (segs > 1) launch(grid_of(r.m), 256, [&] { reduce_fin(r); });
}

// ---- reference (CPU semantics)
template <class T> T gen(int mode) {
    std::uniform_int_distribution<int> d(0, 99);
    if constexpr (is_float_t<T>::value) {
        int x = d(rng);
        if (mode == 1) { if (x < 3) return from_d<T>(nan_d()); if (x < 6) return from_d<T>(inf_d()); if (x < 9) return from_d<T>(-inf_d()); if (x < 14) return from_d<T>(-0.0); if (x < 20) return from_d<T>(0.0); }
        if (mode == 2) return from_d<T>((double)(d(rng) % 7) - 3.0); // many ties
        if (mode == 3) return from_d<T>(x < 50 ? -inf_d() : -1e300); // lse: mostly -inf
        return from_d<T>((d(rng) - 50) / 12.5 + (d(rng) / 1000.0));
    } else if constexpr (same_t<T, bool>::value) {
        return d(rng) < (mode == 2 ? 97 : 50);
    } else {
        if (mode == 2) return (T)(d(rng) % 5 - (std::is_signed<T>::value ? 2 : 0));
        if (mode == 1) return (T)(i64)rng();
        return (T)(d(rng) - (std::is_signed<T>::value ? 50 : 0));
    }
}

struct Res { int kind; double d; i64 n; }; // kind 0 double, 1 i64, 2 bool
template <class T> Res ref_reduce(int op, const std::vector<T>& row, double p, double corr, i64* ridx) {
    i64 k = row.size();
    auto D = [&](i64 j) { return to_d(row[j]); };
    Res r{0, 0, 0};
    switch (op) {
    case O_SUM: case O_MEAN: { double s = 0; for (i64 j = 0; j < k; ++j) s += D(j); r.d = op == O_MEAN ? s / (double)k : s; break; }
    case O_NANSUM: { double s = 0; for (i64 j = 0; j < k; ++j) if (D(j) == D(j)) s += D(j); r.d = s; break; }
    case O_PROD: { double s = 1; for (i64 j = 0; j < k; ++j) s *= D(j); r.d = s; break; }
    case O_SUMI: { u64 s = 0; for (i64 j = 0; j < k; ++j) s += (u64)as_i(row[j]); r = {1, 0, (i64)s}; break; }
    case O_PRODI: { u64 s = 1; for (i64 j = 0; j < k; ++j) s *= (u64)as_i(row[j]); r = {1, 0, (i64)s}; break; }
    case O_COUNT: case O_ALL: case O_ANY: case O_NORM0: {
        i64 c = 0; for (i64 j = 0; j < k; ++j) c += D(j) != 0.0;
        if (op == O_COUNT) r = {1, 0, c}; else if (op == O_ALL) r = {2, 0, c == k}; else if (op == O_ANY) r = {2, 0, c > 0}; else r.d = (double)c;
        break;
    }
    case O_MAX: case O_MIN: {
        i64 bi = 0; T bv = row[0];
        for (i64 j = 1; j < k; ++j) {
            double b = to_d(bv), x = D(j);
            if (b != b) break;
            bool better;
            if constexpr (is_float_t<T>::value) better = (x != x) || (op == O_MAX ? x > b : x < b);
            else better = op == O_MAX ? as_i(row[j]) > as_i(bv) : as_i(row[j]) < as_i(bv);
            if (better) { bi = j; bv = row[j]; }
        }
        *ridx = bi;
        if constexpr (is_float_t<T>::value) r.d = to_d(bv); else r = {1, 0, as_i(bv)};
        break;
    }
    case O_VAR: case O_STD: {
        if (k == 0) { r.d = nan_d(); break; }
        double s = 0; for (i64 j = 0; j < k; ++j) s += D(j);
        double mean = s / k, ss = 0; for (i64 j = 0; j < k; ++j) ss += (D(j) - mean) * (D(j) - mean);
        double v = ss / std::max((double)k - corr, 0.0); r.d = op == O_STD ? sqrt(v) : v; break;
    }
    case O_NORM1: { double s = 0; for (i64 j = 0; j < k; ++j) s += fabs(D(j)); r.d = s; break; }
    case O_NORM2: { double s = 0; for (i64 j = 0; j < k; ++j) s += D(j) * D(j); r.d = sqrt(s); break; }
    case O_NORMP: { double s = 0; for (i64 j = 0; j < k; ++j) s += pow(fabs(D(j)), p); r.d = pow(s, 1.0 / p); break; }
    case O_NORMINF: { double s = 0; for (i64 j = 0; j < k; ++j) s = fmax(s, fabs(D(j))); r.d = s; break; }
    case O_NORMNINF: { double s = inf_d(); for (i64 j = 0; j < k; ++j) s = fmin(s, fabs(D(j))); r.d = s; break; }
    case O_LSE: {
        double mx = -inf_d(); bool nan = false;
        for (i64 j = 0; j < k; ++j) { if (D(j) != D(j)) nan = true; mx = fmax(mx, D(j)); }
        if (nan) { r.d = nan_d(); break; }
        double c = std::isinf(mx) ? 0 : mx, s = 0; for (i64 j = 0; j < k; ++j) s += exp(D(j) - c);
        r.d = log(s) + c; break;
    }
    }
    return r;
}

template <class D> double conv(const Res& r) {
    D v = r.kind == 0 ? cast_to<D, double>(r.d) : r.kind == 1 ? cast_to<D, i64>(r.n) : cast_to<D, bool>(r.n != 0);
    return to_d(v);
}
bool close(double a, double b, double tol) {
    if (a != a || b != b) return a != a && b != b;
    if (a == b) return true;
    return fabs(a - b) <= tol * std::max(1.0, fabs(b));
}
template <class D> double tol_of() {
    if constexpr (same_t<D, double>::value) return 1e-9;
    if constexpr (same_t<D, float>::value) return 2e-6;
    if constexpr (is_float_t<D>::value) return 1e-2;
    return 0;
}

const char* opname[] = {"sum","nansum","mean","prod","sumi","prodi","count","all","any","norm0","max","min","var","std","norm1","norm2","normp","norminf","normninf","lse"};

template <class T, class D> void test_reduce(int op, i64 m, i64 k, int kind, int mode, double p = 0, double corr = 1) {
    View v = make_view(m, k, kind);
    Buf<T> data(v.size);
    for (auto& x : data) x = gen<T>(mode);
    Buf<D> out(m);
    std::vector<i64> idx(m, -7);
    Red r{}; r.m = m; r.k = k; r.op = op; r.odt = Code<D>::v; r.out = (u64)out.data(); r.p = p; r.corr = corr;
    if (op == O_MAX || op == O_MIN) r.idx = (u64)idx.data();
    run_reduce<T>(data, v, r);
    for (i64 i = 0; i < m; ++i) {
        std::vector<T> row(k); for (i64 j = 0; j < k; ++j) row[j] = data[v.pos(i, j)];
        i64 ri = -1;
        Res e = ref_reduce<T>(op, row, p, corr, &ri);
        double want = conv<D>(e), got = to_d(out[i]);
        // wrapping products/sums in double are only exact in int outputs
        double tol = tol_of<D>();
        if (op == O_PROD && (mode == 1)) tol = std::max(tol, 1e-6);
        bool ok = close(got, want, tol);
        if ((op == O_MAX || op == O_MIN) && idx[i] != ri) ok = false;
        ++checks;
        if (!ok) { failmap[std::string(opname[op]) + " T" + std::to_string(Code<T>::v) + " D" + std::to_string(Code<D>::v) + " kind" + std::to_string(kind) + " mode" + std::to_string(mode)]++; if (fails++ < 30) printf("FAIL reduce %s T=%d D=%d m=%lld k=%lld kind=%d mode=%d row=%lld got=%.17g want=%.17g idx=%lld/%lld\n", opname[op], Code<T>::v, Code<D>::v, m, k, kind, mode, i, got, want, (long long)idx[i], (long long)ri); }
    }
}

template <class T, class D> void reduce_suite(bool full) {
    std::vector<std::pair<i64, i64>> shapes = {{1, 0}, {3, 0}, {1, 1}, {5, 3}, {7, 17}, {3, 100}, {2, 1025}, {1, 20000}, {600, 9}, {2, 4096 * 3 + 5}, {40, 200}, {33, 1000}};
    if (!full) shapes = {{3, 0}, {5, 3}, {3, 100}, {1, 20000}, {600, 9}, {40, 200}};
    bool isf = is_float_t<T>::value;
    for (int op = 0; op < 20; ++op) {
        if (!isf && (op == O_SUM || op == O_NANSUM || op == O_PROD) && !is_float_t<D>::value) continue;
        if (isf && (op == O_SUMI || op == O_PRODI)) continue;
        if ((op == O_SUMI || op == O_PRODI) && is_float_t<D>::value) continue;
        if ((op == O_MAX || op == O_MIN) && !same_t<T, D>::value) continue;
        bool float_valued = op == O_SUM || op == O_NANSUM || op == O_PROD || op == O_MEAN || op == O_VAR || op == O_STD || op == O_NORM0 || op >= O_NORM1;
        if (float_valued && !is_float_t<D>::value) continue;
        for (auto [m, k] : shapes) {
            if ((op == O_MAX || op == O_MIN) && k == 0) continue;
            for (int kind = 0; kind < 3; ++kind) {
                if (k == 0 && kind != 0) continue;
                int modes = full ? 3 : 2;
                for (int mode = 0; mode < modes; ++mode) {
                    if (op == O_PROD && mode == 0 && k > 200) continue;  // overflow noise
                    double p = op == O_NORMP ? (mode == 2 ? -1.5 : 3.0) : 0;
                    test_reduce<T, D>(op, m, k, kind, mode, p, mode == 2 ? 0.0 : 1.0);
                }
            }
        }
        if (op == O_LSE && isf) test_reduce<T, D>(op, 4, 50, 0, 3);
    }
}

// ---- scan
template <class T> void test_scan(bool prod, i64 m, i64 k, int kind, int mode) {
    View v = make_view(m, k, kind);
    Buf<T> data(v.size);
    for (auto& x : data) x = gen<T>(mode);
    if (prod && is_float_t<T>::value) for (auto& x : data) { double d = to_d(x); if (d == d && !std::isinf(d)) x = from_d<T>(1.0 + d / 400.0); }
    Buf<T> out(m * k);
    // mirror scan_rows
    auto [g, segs] = plan(v, m, k, 4 * 2048);
    const T* src = data.data(); Lay lr = v.lr, lc = v.lc; T* o = out.data(); int pr = prod;
    if (k <= 16 || g == 1) {
        launch(grid_of((m + 255) / 256), 256, [&] { scan1_kernel<T>(src, lr, lc, o, m, k, pr); });
    } else {
        std::vector<St> part(m * segs);
        if (segs > 1) {
            Red r{}; r.m = m; r.k = k; r.g = 256; r.segs = segs; r.part = (u64)part.data(); r.isf = is_float_t<T>::value;
            r.op = is_float_t<T>::value ? (prod ? O_PROD : O_SUM) : (prod ? O_PRODI : O_SUMI);
            i64 units = m * segs;
            launch(grid_of(units), 256, [&] { reduce_kernel<T>(src, lr, lc, r); });
        }
        const St* pp = part.data();
        launch(grid_of(m * segs), 256, [&] { scan_kernel<T>(src, lr, lc, o, m, k, segs, pp, pr); });
    }
    for (i64 i = 0; i < m; ++i) {
        double fa = prod ? 1 : 0; u64 ia = prod ? 1 : 0;
        for (i64 j = 0; j < k; ++j) {
            T x = data[v.pos(i, j)], want;
            if constexpr (is_float_t<T>::value) { fa = prod ? fa * to_d(x) : fa + to_d(x); want = from_d<T>(fa); }
            else { ia = prod ? ia * (u64)as_i(x) : ia + (u64)as_i(x); want = cast_to<T, i64>((i64)ia); }
            ++checks;
            if (!close(to_d(out[i * k + j]), to_d(want), tol_of<T>() * (is_float_t<T>::value ? 10 : 1))) {
                if (fails++ < 30) printf("FAIL scan prod=%d T=%d m=%lld k=%lld kind=%d row=%lld j=%lld got=%.17g want=%.17g\n", prod, Code<T>::v, m, k, kind, i, j, to_d(out[i * k + j]), to_d(want));
            }
        }
    }
}
template <class T> void scan_suite() {
    std::vector<std::pair<i64, i64>> shapes = {{1, 1}, {4, 5}, {3, 16}, {3, 17}, {2, 100}, {2, 2048}, {2, 2049}, {1, 5000}, {1, 40000}, {600, 20}};
    for (int prod = 0; prod < 2; ++prod)
        for (auto [m, k] : shapes)
            for (int kind = 0; kind < 3; ++kind)
                test_scan<T>(prod, m, k, kind, 0);
}

// ---- sort (mirror of sort_rows)
template <class T> void test_sort(i64 m, i64 k, int kind, int mode, bool desc) {
    View v = make_view(m, k, kind);
    Buf<T> data(v.size);
    for (auto& x : data) x = gen<T>(mode);
    i64 P = 1; while (P < k) P <<= 1;
    i64 total = m * P;
    std::vector<u64> key(total); std::vector<i64> sidx(total);
    Buf<T> vals(m * k); std::vector<i64> oidx(m * k);
    const T* src = data.data(); Lay lr = v.lr, lc = v.lc; u64* kp = key.data(); i64* ip = sidx.data();
    const int TILE = 2048;
    launch(grid_of((total + 255) / 256), 256, [&] { skeys_kernel<T>(src, lr, lc, m, k, P, desc, kp, ip); });
    if (P >= 2) {
        int tiles = grid_of((total + TILE - 1) / TILE);
        i64 hi = std::min<i64>(P, TILE);
        launch(tiles, 512, [&] { sort_tile(kp, ip, total, P, 2, hi); });
        for (i64 size = 2 * TILE; size <= P; size *= 2) {
            for (i64 stride = size / 2; stride >= TILE; stride /= 2)
                launch(grid_of(total / 2 / 256 + 1), 256, [&] { sort_step(kp, ip, total, P, size, stride); });
            launch(tiles, 512, [&] { sort_tile(kp, ip, total, P, size, size); });
        }
    }
    // values via the byte-size kernel
    auto out = [&] {
        if constexpr (sizeof(T) == 1) sort_out_b1((const u8*)src, lr, lc, m, k, P, ip, (u8*)vals.data(), oidx.data());
        else if constexpr (sizeof(T) == 2) sort_out_b2((const unsigned short*)src, lr, lc, m, k, P, ip, (unsigned short*)vals.data(), oidx.data());
        else if constexpr (sizeof(T) == 4) sort_out_b4((const u32*)src, lr, lc, m, k, P, ip, (u32*)vals.data(), oidx.data());
        else sort_out_b8((const u64*)src, lr, lc, m, k, P, ip, (u64*)vals.data(), oidx.data());
    };
    launch(grid_of((m * k + 255) / 256), 256, out);
    for (i64 i = 0; i < m; ++i) {
        std::vector<std::pair<T, i64>> pr(k);
        for (i64 j = 0; j < k; ++j) pr[j] = {data[v.pos(i, j)], j};
        auto cmp = [&](const T& a, const T& b) -> int {  // cmp_nan_last
            if constexpr (is_float_t<T>::value) {
                double x = to_d(a), y = to_d(b);
                bool xn = x != x, yn = y != y;
                if (xn || yn) return (int)xn - (int)yn;
                return x < y ? -1 : x > y ? 1 : 0;
            } else { i64 x = as_i(a), y = as_i(b); return x < y ? -1 : x > y ? 1 : 0; }
        };
        std::stable_sort(pr.begin(), pr.end(), [&](auto& a, auto& b) { int c = desc ? cmp(b.first, a.first) : cmp(a.first, b.first); return c < 0; });
        for (i64 j = 0; j < k; ++j) {
            ++checks;
            bool ok = oidx[i * k + j] == pr[j].second && memcmp(&vals[i * k + j], &pr[j].first, sizeof(T)) == 0;
            if (!ok && fails++ < 30) printf("FAIL sort T=%d m=%lld k=%lld kind=%d desc=%d row=%lld j=%lld idx %lld want %lld\n", Code<T>::v, m, k, kind, desc, i, j, (long long)oidx[i * k + j], (long long)pr[j].second);
        }
    }
}
template <class T> void sort_suite(bool full) {
    std::vector<std::pair<i64, i64>> shapes = {{1, 1}, {3, 2}, {5, 3}, {4, 7}, {3, 100}, {2, 2048}, {1, 2049}, {1, 5000}, {300, 9}};
    if (full) shapes.push_back({1, 9000});
    for (auto [m, k] : shapes)
        for (int kind = 0; kind < 3; ++kind)
            for (int mode = 0; mode < 3; ++mode)
                for (int desc = 0; desc < 2; ++desc) test_sort<T>(m, k, kind, mode, desc);
}

int main(int argc, char** argv) {
    std::string what = argc > 1 ? argv[1] : "all";
    if (what == "reduce" || what == "all") {
        reduce_suite<float, float>(true);
        reduce_suite<double, double>(false);
        reduce_suite<f16, f16>(false);
        reduce_suite<bf16, bf16>(false);
        reduce_suite<i32, i64>(false);
        reduce_suite<i32, i32>(false);
        reduce_suite<i64, i64>(false);
        reduce_suite<u8, u8>(false);
        reduce_suite<i8, i8>(false);
        reduce_suite<bool, bool>(false);
        reduce_suite<i16, double>(false);
        reduce_suite<i64, float>(false);
        printf("reduce: %ld checks, %ld failures\n", checks, fails);
        for (auto& [k, v] : failmap) printf("  %s: %ld\n", k.c_str(), v);
    }
    if (what == "scan" || what == "all") {
        scan_suite<float>(); scan_suite<double>(); scan_suite<i64>(); scan_suite<i32>(); scan_suite<u8>(); scan_suite<bool>(); scan_suite<f16>(); scan_suite<bf16>();
        printf("scan: %ld checks, %ld failures\n", checks, fails);
    }
    if (what == "sort" || what == "all") {
        sort_suite<float>(true); sort_suite<double>(false); sort_suite<f16>(false); sort_suite<bf16>(false); sort_suite<i64>(true); sort_suite<i32>(false);
        sort_suite<i16>(false); sort_suite<i8>(false); sort_suite<u8>(false); sort_suite<bool>(false);
        printf("sort: %ld checks, %ld failures\n", checks, fails);
    }
    return fails != 0;
}
