// Index family (cuda/index.cu): index validation into offsets, take/put of sub-views at
// offsets (bounds flags, atomic accumulation of every dtype through the CAS loops of the narrow
// types), and nonzero's three passes (count, block scan, write) for every dtype.
#include "emu_test.h"

static void test_index_offsets() {
    // index view [5, 7] transposed out of a 7x5 buffer; values -4..4 for a dim of size 4
    std::vector<i64> buf(35);
    for (auto& v : buf) v = (i64)(rng() % 9) - 4;
    Lay li = mk({5, 7}, {1, 5});
    for (int wrap = 0; wrap < 2; ++wrap) {
        std::vector<i64> out(35, 100);
        u64 bad = ~0ull;
        LAUNCH(2, 64, index_offsets_add, out.data(), buf.data(), li, 35, 4, 3, wrap, &bad);
        u64 want_bad = ~0ull;
        bool ok = true;
        for (i64 j = 0; j < 35; ++j) {
            i64 v = buf[loff(li, j)], w = (v < 0 && wrap) ? v + 4 : v;
            if (w >= 0 && w < 4) {
                ok &= out[j] == 100 + w * 3;
            } else {
                ok &= out[j] == 100;
                if (want_bad == ~0ull) want_bad = j;
            }
        }
        CHECK(ok, "index_offsets_add offsets, wrap=%d", wrap);
        CHECK(bad == want_bad, "index_offsets_add first bad %llu, want %llu", bad, want_bad);
    }
}

// take/put for one element width: the sub-view [3, 2] strides (10, 3) at base 5 (span 23)
// placed at the offsets of a strided offsets view.
template <class W, class KT, class KP>
static void take_put_case(KT take, KP put, const char* tname, const char* pname) {
    Buf<W> src(100);
    for (int i = 0; i < 100; ++i) src[i] = (W)(1000 + i);
    Lay lr = mk({3, 2}, {10, 3}, 5), lo = mk({4}, {2});
    std::vector<i64> offbuf = {0, -1, 30, -1, 71, -1, 30, -1};  // offsets 0, 30, 71, 30
    Buf<W> out(24);
    u32 bad = 0;
    auto run_take = [&] {
        emu::launch(tname, 1, 64, [&] {
            take(src.data(), 100, lr, offbuf.data(), lo, out.data(), 6, 24, &bad);
        });
    };
    run_take();
    bool ok = bad == 0;
    for (i64 i = 0; i < 24; ++i) ok &= out[i] == src[offbuf[2 * (i / 6)] + loff(lr, i % 6)];
    CHECK(ok, "%s values", tname);
    offbuf[6] = 72;  // 72 + 5 + 23 = 100: past the end
    run_take();
    CHECK(bad == 1, "%s did not flag an offset past the end", tname);
    offbuf[6] = -1;
    bad = 0;
    run_take();
    CHECK(bad == 1, "%s did not flag a negative offset", tname);
    // put: a flagged put writes nothing; a clean one writes every value
    Buf<W> dst = src, vals(24);
    for (int i = 0; i < 24; ++i) vals[i] = (W)(7 + i);
    Lay lv = contig(24);
    bad = 1;
    auto run_put = [&](unsigned grid) {
        emu::launch(pname, grid, 64 / grid, [&] {
            put(dst.data(), 100, lr, offbuf.data(), lo, vals.data(), lv, 6, 24, &bad);
        });
    };
    run_put(1);
    CHECK(dst == src, "%s wrote despite the flag", pname);
    offbuf = {0, -1, 30, -1, 71, -1, 41, -1};  // disjoint positions
    bad = 0;
    run_put(2);
    Buf<W> want = src;
    for (int i = 0; i < 24; ++i) want[offbuf[2 * (i / 6)] + loff(lr, i % 6)] = vals[i];
    CHECK(dst == want && bad == 0, "%s values", pname);
}

static void test_put_check() {
    Lay lo = mk({4}, {2});
    std::vector<i64> offbuf = {0, -1, 30, -1, 71, -1, 30, -1};
    u32 bad = 0;
    LAUNCH(1, 32, put_check, offbuf.data(), lo, 4, 72, &bad);
    CHECK(bad == 0, "put_check false alarm");
    for (i64 v : {72ll, -1ll}) {
        offbuf[4] = v;
        bad = 0;
        LAUNCH(1, 32, put_check, offbuf.data(), lo, 4, 72, &bad);
        CHECK(bad == 1, "put_check missed offset %lld", (long long)v);
    }
}

// put_acc: 2000 values at 1000 offsets in 0..30 (many duplicates, so the atomics collide)
// with sub-view [2] stride 3 at base 2, into 37 elements. Float values are small integers, so
// that the order of the additions does not matter.
template <class T> static T acc_value(int i) {
    if constexpr (std::is_same_v<T, bool>) return i % 5 == 0;
    else if constexpr (is_float_t<T>::value) return ref_from_d<T>(i % 5);
    else return (T)((u64)i * 0x7fffffffffffull + (u64)i * 37);  // wraps into T
}
template <class T> static T acc_add(T a, T b) {  // bool: or; integers wrap
    if constexpr (std::is_same_v<T, bool>) return a || b;
    else if constexpr (is_float_t<T>::value) return ref_from_d<T>(ref_to_d(a) + ref_to_d(b));
    else return (T)((u64)(i64)a + (u64)(i64)b);
}
template <class T, class K> static void acc_case(K kernel, const char* name) {
    Buf<T> dst(40), ref(40);
    for (int i = 0; i < 37; ++i) dst[i] = ref[i] = acc_value<T>(i);
    const int m = 1000;
    std::vector<i64> offs(m);
    for (auto& o : offs) o = rng() % 31;
    Buf<T> vals(2 * m);
    for (int i = 0; i < 2 * m; ++i) vals[i] = acc_value<T>(i * 7 + 3);
    Lay lr = mk({2}, {3}, 2), lo = contig(m), lv = contig(2 * m);
    for (int i = 0; i < 2 * m; ++i) {
        i64 p = offs[i / 2] + 2 + 3 * (i % 2);
        ref[p] = acc_add(ref[p], vals[i]);
    }
    u32 bad = 0;
    emu::launch(name, 4, 256, [&] {
        kernel(dst.data(), 37, lr, offs.data(), lo, vals.data(), lv, 2, 2 * m, &bad);
    });
    CHECK(bad == 0 && dst == ref, "%s sums", name);
}
#define ACC_TEST(sn, T) acc_case<T>(put_acc_##sn, "put_acc_" #sn);

// nonzero of a [10, 20, 25] view permuted out of a [25, 10, 20] buffer (strides 20, 1, 200).
template <class T, class KC, class KW>
static void nonzero_case(KC count, KW write, const char* sn, std::vector<i64> tiles_of,
                         std::vector<unsigned> scan_blocks) {
    const i64 n = 5000;
    Buf<T> buf(n);
    for (i64 i = 0; i < n; ++i)
        buf[i] = ref_from_d<T>(rng() % 3 == 0 ? 0.0 : (double)(rng() % 5) - 2);
    if constexpr (is_float_t<T>::value) {
        buf[17] = ref_from_d<T>(NAN);   // counts as non-zero
        buf[18] = ref_from_d<T>(-0.0);  // does not
    }
    Lay ls = mk({10, 20, 25}, {20, 1, 200});
    std::vector<i64> ref;
    for (i64 i = 0; i < n; ++i)
        if (ref_to_d(buf[loff(ls, i)]) != 0) {  // NaN included
            ref.push_back(i / 500);
            ref.push_back(i / 25 % 20);
            ref.push_back(i % 25);
        }
    std::string cn = std::string("nonzero_count_") + sn, wn = std::string("nonzero_write_") + sn;
    for (i64 tile : tiles_of)
        for (unsigned sb : scan_blocks) {
            i64 tiles = (n + tile - 1) / tile;
            std::vector<i64> counts(tiles + 1, -7);
            emu::launch(cn.c_str(), 3, 64,
                        [&] { count(buf.data(), ls, n, tile, tiles, counts.data()); });
            LAUNCH(1, sb, nonzero_scan, counts.data(), tiles);
            i64 total = counts[tiles];
            CHECK(total * 3 == (i64)ref.size(), "%s count %lld, want %zu (tile %lld, scan %u)",
                  cn.c_str(), (long long)total, ref.size() / 3, (long long)tile, sb);
            if (total * 3 != (i64)ref.size()) continue;
            std::vector<i64> out(total * 3, -1);
            Lay dims = mk({10, 20, 25}, {0, 0, 0});
            emu::launch(wn.c_str(), 2, 96, [&] {
                write(buf.data(), ls, n, tile, tiles, counts.data(), dims, out.data());
            });
            CHECK(out == ref, "%s coordinates (tile %lld)", wn.c_str(), (long long)tile);
        }
}

#define NONZERO_TEST(sn, T) \
    nonzero_case<T>(nonzero_count_##sn, nonzero_write_##sn, #sn, {192}, {64});

int main() {
    test_index_offsets();
    take_put_case<u8>(take_b1, put_b1, "take_b1", "put_b1");
    take_put_case<unsigned short>(take_b2, put_b2, "take_b2", "put_b2");
    take_put_case<u32>(take_b4, put_b4, "take_b4", "put_b4");
    take_put_case<u64>(take_b8, put_b8, "take_b8", "put_b8");
    test_put_check();
    ALL_TYPES(ACC_TEST)
    // f32 through every tile size and scan block size; the other dtypes once
    nonzero_case<float>(nonzero_count_f32, nonzero_write_f32, "f32", {32, 192, 4096},
                        {32, 96, 1024});
    ALL_TYPES(NONZERO_TEST)
    return finish("index");
}
