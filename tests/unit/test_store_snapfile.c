/*
 * test_store_snapfile.c — unit tests for src/store/snapfile.c: a round trip
 * of a few MB, choosing the newest valid snapshot, skipping truncated or
 * damaged ones, removing leftover .tmp files, and the checks made when a
 * snapshot is closed.
 *
 * Each test gets a fresh directory under /tmp (setup) that is removed
 * afterwards (teardown).
 */
#include "common/fn.h"
#include "store/snapfile.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

/* ---- helpers --------------------------------------------------------- */

static void snap_file(char *out, size_t n, const char *dir, uint64_t seq)
{
    snprintf(out, n, "%s/snap-%016" PRIx64 ".fsnap", dir, seq);
}

/* Pseudo-random but compressible state: words from a small vocabulary
 * chosen by a xorshift generator seeded with seed. */
static uint8_t *make_state(size_t n, uint64_t seed)
{
    static const char *words[] = {"load ",  "truck ", "Shanghai ", "Chengdu ", "12.5t ", "reefer ",
                                  "flatbed ", "booked ", "open ",    "fen:",     "0",      "1",
                                  "2",       "3",       "\n",        "\"id\":",  "{",      "}"};
    uint8_t *p = malloc(n);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    size_t i = 0;
    assert_non_null(p);
    while (i < n) {
        const char *w;
        size_t k;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w = words[x % FN_ARRAY_LEN(words)];
        k = FN_MIN(strlen(w), n - i);
        memcpy(p + i, w, k);
        i += k;
    }
    return p;
}

/* Writes a snapshot of state in uneven pieces and commits it. */
static void write_snap(const char *dir, uint64_t seq, const uint8_t *state, size_t n)
{
    static const size_t pieces[] = {1, 7, 4096, 100000, 3, 65536, 1 << 20};
    fn_snapw *w = NULL;
    char err[512] = "";
    size_t off = 0, k = 0;
    if (fn_snapw_open(&w, dir, seq, err, sizeof(err)) != 0)
        fail_msg("fn_snapw_open: %s", err);
    while (off < n) {
        size_t piece = pieces[k++ % FN_ARRAY_LEN(pieces)];
        size_t m = FN_MIN(piece, n - off);
        assert_int_equal(fn_snapw_write(w, state + off, m), 0);
        off += m;
    }
    if (fn_snapw_commit(w, err, sizeof(err)) != 0)
        fail_msg("fn_snapw_commit: %s", err);
}

/* Opens the newest snapshot, expects seq, reads it all in uneven pieces and
 * compares it with state; then close must succeed. */
static void read_snap_expect(const char *dir, uint64_t seq, const uint8_t *state, size_t n)
{
    static const size_t pieces[] = {5, 1 << 20, 1, 333333, 8};
    fn_snapr *r = NULL;
    uint64_t got_seq = 0;
    char err[512] = "";
    uint8_t *buf = malloc(n + 1);
    size_t off = 0, k = 0;
    int rc = fn_snapr_open(&r, dir, &got_seq, err, sizeof(err));
    if (rc != 0)
        fail_msg("fn_snapr_open: %d: %s", rc, err);
    assert_int_equal(got_seq, seq);
    assert_non_null(buf);
    while (off < n) {
        size_t piece = pieces[k++ % FN_ARRAY_LEN(pieces)];
        size_t m = FN_MIN(piece, n - off);
        assert_int_equal(fn_snapr_read(r, buf + off, m), 0);
        off += m;
    }
    if (n)
        assert_memory_equal(buf, state, n);
    assert_int_equal(fn_snapr_close(r), 0);
    free(buf);
}

/* ---- tests ----------------------------------------------------------- */

/* Another zstd level (what `freight import` writes) reads back the same. */
static void test_level(void **state)
{
    const char *dir = tdir(state);
    const size_t n = 3u << 20;
    uint8_t *st = make_state(n, 5);
    fn_snapw *w = NULL;
    char err[512] = "";
    assert_int_equal(fn_snapw_open(&w, dir, 9, err, sizeof(err)), 0);
    assert_int_equal(fn_snapw_set_level(w, 1), 0);
    assert_int_equal(fn_snapw_write(w, st, n), 0);
    if (fn_snapw_commit(w, err, sizeof(err)) != 0)
        fail_msg("fn_snapw_commit: %s", err);
    read_snap_expect(dir, 9, st, n);
    free(st);
}

static void test_round_trip(void **state)
{
    const char *dir = tdir(state);
    const size_t n = 5u << 20;
    uint8_t *st = make_state(n, 1), one;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    size_t len;
    uint8_t *file;
    fn_snapr *r;
    uint64_t seq;
    char err[256];

    write_snap(dir, 42, st, n);
    snap_file(path, sizeof(path), dir, 42);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_false(file_exists(tmp));
    file = read_all(path, &len);
    assert_true(len < n / 2); /* it was compressed */
    assert_memory_equal(file, "FNSNAP01", 8);
    assert_memory_equal(file + len - 8, "FNSNEND1", 8);
    free(file);
    read_snap_expect(dir, 42, st, n);

    /* Reading past the end fails; stopping short fails at close. */
    assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), 0);
    {
        uint8_t *buf = malloc(n + 1);
        assert_non_null(buf);
        assert_int_equal(fn_snapr_read(r, buf, n + 1), FN_ECORRUPT);
        fn_snapr_abort(r);
        assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), 0);
        assert_int_equal(fn_snapr_read(r, buf, n - 1), 0);
        assert_int_equal(fn_snapr_close(r), FN_ECORRUPT);
        assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), 0);
        assert_int_equal(fn_snapr_read(r, buf, n - 1), 0);
        assert_int_equal(fn_snapr_read(r, &one, 1), 0);
        assert_int_equal(one, st[n - 1]);
        assert_int_equal(fn_snapr_close(r), 0);
        free(buf);
    }
    free(st);
}

static void test_empty_state(void **state)
{
    const char *dir = tdir(state);
    uint8_t none = 0;
    write_snap(dir, 1, &none, 0);
    read_snap_expect(dir, 1, &none, 0);
}

static void test_no_snapshot(void **state)
{
    const char *dir = tdir(state);
    char missing[PATH_MAX], err[256];
    fn_snapr *r = NULL;
    uint64_t seq = 99;
    assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), 1);
    assert_null(r);
    snprintf(missing, sizeof(missing), "%s/nonexistent", dir);
    assert_int_equal(fn_snapr_open(&r, missing, &seq, err, sizeof(err)), 1);
    assert_null(r);
}

static void test_newest_chosen_older_deleted(void **state)
{
    const char *dir = tdir(state);
    char p5[PATH_MAX], p9[PATH_MAX];
    uint8_t *a = make_state(300000, 5), *b = make_state(200000, 9);

    write_snap(dir, 5, a, 300000);
    snap_file(p5, sizeof(p5), dir, 5);
    snap_file(p9, sizeof(p9), dir, 9);
    assert_true(file_exists(p5));
    write_snap(dir, 9, b, 200000);
    assert_true(file_exists(p9));
    assert_false(file_exists(p5));
    read_snap_expect(dir, 9, b, 200000);
    free(a);
    free(b);
}

/* Keeps snapshot 5 (state a) beside snapshot 9 (state b), as a crash between
 * the rename and the deletion of the old one would. */
static void two_snapshots(const char *dir, const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    char p5[PATH_MAX];
    uint8_t *saved;
    size_t len;
    write_snap(dir, 5, a, na);
    snap_file(p5, sizeof(p5), dir, 5);
    saved = read_all(p5, &len);
    write_snap(dir, 9, b, nb);
    write_all_file(p5, saved, len);
    free(saved);
}

static void test_truncated_newest_skipped(void **state)
{
    const char *dir = tdir(state);
    char p9[PATH_MAX];
    const size_t na = 400000, nb = 500000;
    uint8_t *a = make_state(na, 5), *b = make_state(nb, 9), *full;
    size_t len;
    const size_t cuts[] = {1, 17, 32, 33, 0 /* half */, 0 /* all but the header */};

    two_snapshots(dir, a, na, b, nb);
    snap_file(p9, sizeof(p9), dir, 9);
    full = read_all(p9, &len);
    read_snap_expect(dir, 9, b, nb);
    for (size_t i = 0; i < FN_ARRAY_LEN(cuts); i++) {
        size_t cut = cuts[i] ? cuts[i] : i == 4 ? len / 2 : len - 32;
        write_all_file(p9, full, len - cut);
        read_snap_expect(dir, 5, a, na);
    }
    /* With the older one gone too, nothing usable is left. */
    {
        char p5[PATH_MAX], err[512];
        fn_snapr *r = NULL;
        uint64_t seq;
        snap_file(p5, sizeof(p5), dir, 5);
        unlink(p5);
        assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), FN_ECORRUPT);
        assert_null(r);
        assert_non_null(strstr(err, "snap-0000000000000009.fsnap"));
    }
    free(full);
    free(a);
    free(b);
}

static void test_flipped_body_byte_detected(void **state)
{
    const char *dir = tdir(state);
    char p9[PATH_MAX], err[512];
    const size_t na = 100000, nb = 100000;
    uint8_t *a = make_state(na, 5), *b = make_state(nb, 9), *full;
    size_t len;
    fn_snapr *r = NULL;
    uint64_t seq;

    two_snapshots(dir, a, na, b, nb);
    snap_file(p9, sizeof(p9), dir, 9);
    full = read_all(p9, &len);
    /* In the body: the newest is skipped for the older one. */
    full[len / 2] ^= 0x20;
    write_all_file(p9, full, len);
    read_snap_expect(dir, 5, a, na);
    full[len / 2] ^= 0x20;
    /* In the header: its seq, then a byte only its CRC covers. */
    full[17] ^= 0x01;
    write_all_file(p9, full, len);
    read_snap_expect(dir, 5, a, na);
    full[17] ^= 0x01;
    full[12] ^= 0x01;
    write_all_file(p9, full, len);
    read_snap_expect(dir, 5, a, na);
    full[12] ^= 0x01;
    /* Bytes between the body and the trailer: the size no longer adds up. */
    {
        uint8_t *longer = malloc(len + 5);
        assert_non_null(longer);
        memcpy(longer, full, len - 32);
        memset(longer + len - 32, 0, 5);
        memcpy(longer + len - 27, full + len - 32, 32);
        write_all_file(p9, longer, len + 5);
        read_snap_expect(dir, 5, a, na);
        free(longer);
    }
    /* In the trailer's magic. */
    full[len - 3] ^= 0x01;
    write_all_file(p9, full, len);
    read_snap_expect(dir, 5, a, na);
    full[len - 3] ^= 0x01;
    write_all_file(p9, full, len);
    read_snap_expect(dir, 9, b, nb);

    /* With no older snapshot a damaged body is corruption. */
    {
        char p5[PATH_MAX];
        snap_file(p5, sizeof(p5), dir, 5);
        unlink(p5);
    }
    full[40] ^= 0x01;
    write_all_file(p9, full, len);
    assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), FN_ECORRUPT);
    assert_non_null(strstr(err, "checksum"));
    free(full);
    free(a);
    free(b);
}

/* The trailer's raw_bytes is not under the body's CRC; close catches a
 * mismatch with what the frame actually held. */
static void test_raw_bytes_checked_at_close(void **state)
{
    const char *dir = tdir(state);
    char p[PATH_MAX], err[256];
    const size_t n = 70000;
    uint8_t *st = make_state(n, 3), *full, *buf = malloc(n);
    size_t len;
    fn_snapr *r;
    uint64_t seq;

    assert_non_null(buf);
    write_snap(dir, 3, st, n);
    snap_file(p, sizeof(p), dir, 3);
    full = read_all(p, &len);
    full[len - 32 + 8] ^= 0x01; /* raw_bytes */
    write_all_file(p, full, len);
    assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), 0);
    assert_int_equal(fn_snapr_read(r, buf, n), 0);
    assert_memory_equal(buf, st, n);
    assert_int_equal(fn_snapr_close(r), FN_ECORRUPT);

    /* A trailer that undercounts, read as far as it says: the frame still
     * holds a byte nobody read. */
    full[len - 32 + 8] ^= 0x01;
    full[len - 32 + 8]--;
    write_all_file(p, full, len);
    assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), 0);
    assert_int_equal(fn_snapr_read(r, buf, n - 1), 0);
    assert_int_equal(fn_snapr_close(r), FN_ECORRUPT);
    free(full);
    free(buf);
    free(st);
}

static void test_tmp_leftover_ignored_and_removed(void **state)
{
    const char *dir = tdir(state);
    char tmp[PATH_MAX], tmp2[PATH_MAX], err[256];
    const size_t n = 50000;
    uint8_t *st = make_state(n, 4);
    fn_snapr *r = NULL;
    fn_snapw *w = NULL;
    uint64_t seq;

    snprintf(tmp, sizeof(tmp), "%s/snap-00000000000000ff.fsnap.tmp", dir);
    write_all_file(tmp, (const uint8_t *)"FNSNAP01 half-written", 21);
    assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), 1);
    assert_false(file_exists(tmp));

    write_snap(dir, 4, st, n);
    write_all_file(tmp, (const uint8_t *)"FNSNAP01 half-written", 21);
    read_snap_expect(dir, 4, st, n);
    assert_false(file_exists(tmp));

    /* An abandoned writer leaves nothing behind. */
    assert_int_equal(fn_snapw_open(&w, dir, 7, err, sizeof(err)), 0);
    assert_int_equal(fn_snapw_write(w, st, n), 0);
    snprintf(tmp2, sizeof(tmp2), "%s/snap-0000000000000007.fsnap.tmp", dir);
    assert_true(file_exists(tmp2));
    fn_snapw_abort(w);
    assert_false(file_exists(tmp2));
    read_snap_expect(dir, 4, st, n);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_level, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_empty_state, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_no_snapshot, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_newest_chosen_older_deleted, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_truncated_newest_skipped, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_flipped_body_byte_detected, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_raw_bytes_checked_at_close, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_tmp_leftover_ignored_and_removed, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
