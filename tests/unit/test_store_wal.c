/*
 * test_store_wal.c — unit tests for src/store/wal.c: round trips, group
 * commit from many threads, torn tails cut at every byte, corruption that
 * must refuse to start without touching the disk, rotation and trimming,
 * and the broken-forever policy after a failed fsync.
 *
 * Each test gets a fresh directory under /tmp (setup) that is removed
 * afterwards (teardown).
 */
#include "common/fn.h"
#include "store/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#define REC_HDR 24u
#define SEG_HDR 32u

/* ---- helpers --------------------------------------------------------- */

static void seg_file(char *out, size_t n, const char *dir, uint64_t first_seq)
{
    snprintf(out, n, "%s/wal-%016" PRIx64 ".log", dir, first_seq);
}

static size_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

static size_t count_files(const char *dir)
{
    size_t n = 0;
    DIR *dh = opendir(dir);
    struct dirent *e;
    assert_non_null(dh);
    while ((e = readdir(dh)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dh);
    return n;
}

/* The deterministic record for seq: its type, length and bytes. */
static uint8_t rec_type(uint64_t seq) { return (uint8_t)(seq % 255 + 1); }
static uint32_t rec_len(uint64_t seq) { return seq % 11 == 0 ? 0 : (uint32_t)((seq * 7919) % 97 + 1); }
static void rec_fill(uint64_t seq, uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seq * 31 + i * 7);
}

static void append_seq(fn_wal *w, uint64_t expect_seq)
{
    uint8_t buf[128];
    uint64_t seq = 0;
    uint32_t len = rec_len(expect_seq);
    rec_fill(expect_seq, buf, len);
    assert_int_equal(fn_wal_append(w, rec_type(expect_seq), buf, len, &seq), 0);
    assert_int_equal(seq, expect_seq);
}

/* Bytes one deterministic record takes on disk. */
static size_t rec_disk(uint64_t seq) { return REC_HDR + rec_len(seq); }

/* Replay collector: checks that records arrive in order and match the
 * deterministic contents. */
struct collect {
    uint64_t n;
    uint64_t first_seq;
    uint64_t last_seq;
    int check_contents;
    uint64_t fail_at; /* return 7 at this seq; 0 = never */
};

static int collect_cb(void *ctx, const fn_wal_record *r)
{
    struct collect *c = ctx;
    uint8_t buf[128];
    if (c->fail_at && r->seq == c->fail_at)
        return 7;
    if (c->n == 0)
        c->first_seq = r->seq;
    else
        assert_int_equal(r->seq, c->last_seq + 1);
    c->last_seq = r->seq;
    c->n++;
    if (c->check_contents) {
        assert_int_equal(r->type, rec_type(r->seq));
        assert_int_equal(r->len, rec_len(r->seq));
        rec_fill(r->seq, buf, r->len);
        if (r->len)
            assert_memory_equal(r->data, buf, r->len);
    }
    return 0;
}

static fn_wal *open_ok(const char *dir, uint64_t from_seq, struct collect *c, fn_wal_recovery *rec)
{
    fn_wal *w = NULL;
    char err[512] = "";
    int rc = fn_wal_open(&w, dir, from_seq, collect_cb, c, rec, err, sizeof(err));
    if (rc != 0)
        fail_msg("fn_wal_open: %d: %s", rc, err);
    assert_non_null(w);
    return w;
}

static int open_rc(const char *dir, uint64_t from_seq, char *err, size_t errlen)
{
    fn_wal *w = NULL;
    struct collect c = {0};
    fn_wal_recovery rec;
    int rc = fn_wal_open(&w, dir, from_seq, collect_cb, &c, &rec, err, errlen);
    if (rc == 0)
        fn_wal_close(w);
    else
        assert_null(w);
    return rc;
}

/* Writes n deterministic records starting at seq first into a fresh log,
 * syncing after each record whose index is in a group end (every == 1: each
 * record its own group). */
static void build_log(const char *dir, uint64_t n, uint64_t every)
{
    struct collect c = {0};
    fn_wal *w = open_ok(dir, 1, &c, NULL);
    for (uint64_t s = 1; s <= n; s++) {
        append_seq(w, s);
        if (s % every == 0)
            assert_int_equal(fn_wal_sync(w, s), 0);
    }
    assert_int_equal(fn_wal_sync(w, n), 0);
    fn_wal_close(w);
}

/* ---- tests ----------------------------------------------------------- */

static void test_append_sync_reopen(void **state)
{
    const char *dir = tdir(state);
    struct collect c = {.check_contents = 1};
    fn_wal_recovery rec;
    fn_wal_stats st;
    fn_wal *w = open_ok(dir, 1, &c, &rec);
    char path[PATH_MAX];
    size_t expect_bytes = SEG_HDR;

    assert_int_equal(c.n, 0);
    assert_int_equal(rec.segments, 0);
    for (uint64_t s = 1; s <= 500; s++) {
        append_seq(w, s);
        expect_bytes += rec_disk(s);
        if (s % 7 == 0)
            assert_int_equal(fn_wal_sync(w, s), 0);
    }
    assert_int_equal(fn_wal_sync(w, 500), 0);
    /* Syncing a covered or a future seq returns at once. */
    assert_int_equal(fn_wal_sync(w, 3), 0);
    assert_int_equal(fn_wal_sync(w, 10000), 0);
    fn_wal_stats_get(w, &st);
    assert_int_equal(st.appended_records, 500);
    assert_int_equal(st.appended_bytes, expect_bytes - SEG_HDR);
    assert_int_equal(st.written_bytes, expect_bytes - SEG_HDR);
    assert_int_equal(st.next_seq, 501);
    assert_int_equal(st.durable_seq, 501);
    assert_int_equal(st.fsyncs, 500 / 7 + 1);
    assert_int_equal(st.broken, 0);
    /* Appended but never synced: close must still write them. */
    append_seq(w, 501);
    append_seq(w, 502);
    expect_bytes += rec_disk(501) + rec_disk(502);
    fn_wal_close(w);

    seg_file(path, sizeof(path), dir, 1);
    assert_int_equal(file_size(path), expect_bytes);

    memset(&c, 0, sizeof(c));
    c.check_contents = 1;
    w = open_ok(dir, 1, &c, &rec);
    assert_int_equal(c.n, 502);
    assert_int_equal(c.first_seq, 1);
    assert_int_equal(c.last_seq, 502);
    assert_int_equal(rec.records_replayed, 502);
    assert_int_equal(rec.records_skipped, 0);
    assert_int_equal(rec.segments, 1);
    assert_int_equal(rec.torn_bytes, 0);
    assert_string_equal(rec.torn_file, "");
    fn_wal_stats_get(w, &st);
    assert_int_equal(st.next_seq, 503);
    assert_int_equal(st.durable_seq, 503);
    append_seq(w, 503);
    assert_int_equal(fn_wal_sync(w, 503), 0);
    fn_wal_close(w);

    memset(&c, 0, sizeof(c));
    c.check_contents = 1;
    w = open_ok(dir, 1, &c, NULL);
    assert_int_equal(c.last_seq, 503);
    fn_wal_close(w);
}

static void test_replay_error_propagates(void **state)
{
    const char *dir = tdir(state);
    struct collect c = {.fail_at = 3};
    fn_wal *w = NULL;
    char err[256];
    build_log(dir, 5, 1);
    assert_int_equal(fn_wal_open(&w, dir, 1, collect_cb, &c, NULL, err, sizeof(err)), 7);
    assert_null(w);
    assert_int_equal(c.n, 2);
}

#define T_THREADS 8
#define T_PER_THREAD 2000

struct t_worker {
    fn_wal *w;
    uint32_t id;
    int failures;
};

static void *worker_main(void *arg)
{
    struct t_worker *t = arg;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < T_PER_THREAD; i++) {
        uint8_t p[8];
        uint64_t seq = 0;
        memcpy(p, &t->id, 4);
        memcpy(p + 4, &i, 4);
        if (fn_wal_append(t->w, (uint8_t)(t->id + 1), p, sizeof(p), &seq) != 0 || seq <= prev ||
            fn_wal_sync(t->w, seq) != 0)
            t->failures++;
        prev = seq;
    }
    return NULL;
}

struct t_poller {
    fn_wal *w;
    int stop;
    uint64_t polls;
    uint64_t violations; /* snapshots with durable_seq > next_seq */
};

static void *poller_main(void *arg)
{
    struct t_poller *p = arg;
    fn_wal_stats st;
    while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
        fn_wal_stats_get(p->w, &st);
        if (st.durable_seq > st.next_seq)
            p->violations++;
        p->polls++;
    }
    return NULL;
}

struct thread_check {
    uint32_t next[T_THREADS]; /* the counter each thread's next record must carry */
    uint64_t n;
};

static int thread_check_cb(void *ctx, const fn_wal_record *r)
{
    struct thread_check *c = ctx;
    uint32_t id, i;
    if (r->seq != c->n + 1 || r->len != 8)
        return 1;
    memcpy(&id, r->data, 4);
    memcpy(&i, r->data + 4, 4);
    if (id >= T_THREADS || r->type != id + 1 || i != c->next[id])
        return 2;
    c->next[id]++;
    c->n++;
    return 0;
}

static void test_group_commit_threads(void **state)
{
    const char *dir = tdir(state);
    pthread_t th[T_THREADS], pt;
    struct t_worker wk[T_THREADS];
    struct t_poller poller;
    struct thread_check chk;
    struct collect c = {0};
    fn_wal_stats st;
    fn_wal *w = open_ok(dir, 1, &c, NULL);
    char err[256];

    memset(&poller, 0, sizeof(poller));
    poller.w = w;
    assert_int_equal(pthread_create(&pt, NULL, poller_main, &poller), 0);
    for (uint32_t i = 0; i < T_THREADS; i++) {
        wk[i].w = w;
        wk[i].id = i;
        wk[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &wk[i]), 0);
    }
    for (uint32_t i = 0; i < T_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(wk[i].failures, 0);
    }
    __atomic_store_n(&poller.stop, 1, __ATOMIC_RELEASE);
    pthread_join(pt, NULL);
    assert_int_equal(poller.violations, 0);

    fn_wal_stats_get(w, &st);
    assert_int_equal(st.appended_records, T_THREADS * T_PER_THREAD);
    assert_int_equal(st.durable_seq, T_THREADS * T_PER_THREAD + 1);
    /* Group commit: concurrent syncs shared fsyncs. */
    assert_true(st.fsyncs >= 1);
    assert_true(st.fsyncs < T_THREADS * T_PER_THREAD);
    fn_wal_close(w);

    memset(&chk, 0, sizeof(chk));
    assert_int_equal(fn_wal_open(&w, dir, 1, thread_check_cb, &chk, NULL, err, sizeof(err)), 0);
    assert_int_equal(chk.n, T_THREADS * T_PER_THREAD);
    for (uint32_t i = 0; i < T_THREADS; i++)
        assert_int_equal(chk.next[i], T_PER_THREAD);
    fn_wal_close(w);
}

/* Cuts the only segment at every offset within its last three records and
 * checks the cut-back, the report, and that appending then works across a
 * reopen.  every: the sync interval used to build it (1 = one group per
 * record, 3 = the last three records are one group). */
static void torn_every_offset(const char *dir, uint64_t every)
{
    const uint64_t n = 21;
    char path[PATH_MAX];
    uint8_t *orig;
    size_t orig_len, start_last3 = SEG_HDR;

    build_log(dir, n, every);
    seg_file(path, sizeof(path), dir, 1);
    orig = read_all(path, &orig_len);
    for (uint64_t s = 1; s <= n - 3; s++)
        start_last3 += rec_disk(s);

    for (size_t cut = start_last3; cut < orig_len; cut++) {
        struct collect c = {.check_contents = 1};
        fn_wal_recovery rec;
        fn_wal *w;
        uint64_t kept = 0;
        size_t valid_end = SEG_HDR;

        while (kept < n && valid_end + rec_disk(kept + 1) <= cut)
            valid_end += rec_disk(++kept);

        write_all_file(path, orig, cut);
        w = open_ok(dir, 1, &c, &rec);
        assert_int_equal(c.n, kept);
        assert_int_equal(rec.records_replayed, kept);
        assert_int_equal(rec.torn_bytes, cut - valid_end);
        assert_int_equal(rec.torn_records, 0);
        if (cut > valid_end) {
            assert_int_equal(rec.torn_offset, valid_end);
            assert_string_equal(rec.torn_file, path);
        } else {
            assert_string_equal(rec.torn_file, "");
        }
        assert_int_equal(file_size(path), valid_end);
        append_seq(w, kept + 1);
        assert_int_equal(fn_wal_sync(w, kept + 1), 0);
        fn_wal_close(w);

        memset(&c, 0, sizeof(c));
        c.check_contents = 1;
        w = open_ok(dir, 1, &c, &rec);
        assert_int_equal(c.n, kept + 1);
        assert_int_equal(c.last_seq, kept + 1);
        assert_int_equal(rec.torn_bytes, 0);
        fn_wal_close(w);
    }
    free(orig);
}

static void test_torn_tail_every_offset_separate_groups(void **state) { torn_every_offset(tdir(state), 1); }

static void test_torn_tail_every_offset_one_group(void **state) { torn_every_offset(tdir(state), 3); }

/* Flips every byte of the last record in turn: each time the record is a
 * torn tail, the nine before it survive. */
static void test_bitflip_last_record_is_torn(void **state)
{
    const char *dir = tdir(state);
    char path[PATH_MAX];
    uint8_t *orig, *copy;
    size_t len, last_off;

    build_log(dir, 10, 1);
    seg_file(path, sizeof(path), dir, 1);
    orig = read_all(path, &len);
    last_off = len - rec_disk(10);
    copy = malloc(len);
    assert_non_null(copy);
    for (size_t i = last_off; i < len; i++) {
        struct collect c = {.check_contents = 1};
        fn_wal_recovery rec;
        fn_wal *w;
        memcpy(copy, orig, len);
        copy[i] ^= 0x10;
        write_all_file(path, copy, len);
        w = open_ok(dir, 1, &c, &rec);
        assert_int_equal(c.n, 9);
        assert_int_equal(rec.torn_offset, last_off);
        assert_int_equal(rec.torn_bytes, rec_disk(10));
        assert_int_equal(rec.torn_records, 0);
        fn_wal_close(w);
        assert_int_equal(file_size(path), last_off);
    }
    free(copy);
    free(orig);
}

/* A damaged first record of the last group (three records written and
 * synced together) is a torn tail: the two intact records after it are
 * reported as dropped whole-looking records. */
static void test_damaged_last_group_is_torn(void **state)
{
    const char *dir = tdir(state);
    char path[PATH_MAX];
    uint8_t *orig;
    size_t len, off = SEG_HDR;
    struct collect c = {0};
    fn_wal_recovery rec;
    fn_wal *w = open_ok(dir, 1, &c, NULL);

    for (uint64_t s = 1; s <= 6; s++) {
        append_seq(w, s);
        if (s <= 3 || s == 6)
            assert_int_equal(fn_wal_sync(w, s), 0);
    }
    fn_wal_close(w);
    seg_file(path, sizeof(path), dir, 1);
    orig = read_all(path, &len);
    for (uint64_t s = 1; s <= 3; s++)
        off += rec_disk(s);
    orig[off + 10] ^= 0xff; /* record 4's seq */
    write_all_file(path, orig, len);

    w = open_ok(dir, 1, &c, &rec);
    assert_int_equal(c.n, 3);
    assert_int_equal(rec.torn_offset, off);
    assert_int_equal(rec.torn_bytes, len - off);
    assert_int_equal(rec.torn_records, 2);
    fn_wal_close(w);
    free(orig);
}

/* Damage followed by a later, separately synced group must refuse to start
 * and leave the file byte-for-byte as it was. */
static void test_middle_corruption_refuses(void **state)
{
    const char *dir = tdir(state);
    char path[PATH_MAX], err[512];
    uint8_t *bad, *after;
    size_t len, len2, off = SEG_HDR;
    char want[64];

    build_log(dir, 10, 1);
    seg_file(path, sizeof(path), dir, 1);
    bad = read_all(path, &len);
    for (uint64_t s = 1; s <= 2; s++)
        off += rec_disk(s);
    bad[off + REC_HDR] ^= 0x01; /* record 3's first payload byte */
    write_all_file(path, bad, len);

    memset(err, 0, sizeof(err));
    assert_int_equal(open_rc(dir, 1, err, sizeof(err)), FN_ECORRUPT);
    assert_non_null(strstr(err, "wal-0000000000000001.log"));
    snprintf(want, sizeof(want), "offset %zu", off);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "durable write group"));
    after = read_all(path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, bad, len);
    assert_int_equal(count_files(dir), 1);
    free(after);

    /* The damaged record being the COMMIT record of a group that another
     * group follows is corruption as well. */
    bad[off + REC_HDR] ^= 0x01;
    off += rec_disk(3) + rec_disk(4);
    bad[off + 4] ^= 0x80; /* record 5's crc */
    write_all_file(path, bad, len);
    assert_int_equal(open_rc(dir, 1, err, sizeof(err)), FN_ECORRUPT);
    after = read_all(path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, bad, len);
    free(after);
    free(bad);
}

/* A whole record whose crc is right but whose seq is wrong was not torn by a
 * crash: refuse. */
static void test_wrong_seq_refuses(void **state)
{
    const char *dir = tdir(state);
    char path[PATH_MAX], err[512];
    fn_wal *w;
    struct collect c = {0};
    uint8_t *bytes;
    size_t len;

    build_log(dir, 3, 1);
    seg_file(path, sizeof(path), dir, 1);
    bytes = read_all(path, &len);
    /* Append a copy of record 3 (seq 3 again) as a fourth record. */
    bytes = realloc(bytes, len + rec_disk(3));
    assert_non_null(bytes);
    memcpy(bytes + len, bytes + len - rec_disk(3), rec_disk(3));
    write_all_file(path, bytes, len + rec_disk(3));
    assert_int_equal(fn_wal_open(&w, dir, 1, collect_cb, &c, NULL, err, sizeof(err)), FN_ECORRUPT);
    assert_non_null(strstr(err, "seq 3 where seq 4"));
    assert_int_equal(file_size(path), len + rec_disk(3));
    free(bytes);
}

static void test_corrupt_non_last_segment(void **state)
{
    const char *dir = tdir(state);
    char p1[PATH_MAX], p2[PATH_MAX], err[512];
    struct collect c = {0};
    fn_wal *w = open_ok(dir, 1, &c, NULL);
    uint64_t next = 0;
    uint8_t *orig, *after;
    size_t len, len2;

    for (uint64_t s = 1; s <= 5; s++)
        append_seq(w, s);
    assert_int_equal(fn_wal_rotate(w, &next), 0);
    assert_int_equal(next, 6);
    for (uint64_t s = 6; s <= 10; s++)
        append_seq(w, s);
    assert_int_equal(fn_wal_sync(w, 10), 0);
    fn_wal_close(w);

    seg_file(p1, sizeof(p1), dir, 1);
    seg_file(p2, sizeof(p2), dir, 6);
    orig = read_all(p1, &len);

    /* A flipped byte in the first segment's last record. */
    orig[len - 1] ^= 0x04;
    write_all_file(p1, orig, len);
    assert_int_equal(open_rc(dir, 1, err, sizeof(err)), FN_ECORRUPT);
    assert_non_null(strstr(err, "wal-0000000000000001.log"));
    after = read_all(p1, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, orig, len);
    free(after);

    /* The first segment cut short by one byte. */
    orig[len - 1] ^= 0x04;
    write_all_file(p1, orig, len - 1);
    assert_int_equal(open_rc(dir, 1, err, sizeof(err)), FN_ECORRUPT);
    assert_int_equal(file_size(p1), len - 1);

    /* A missing first segment is a gap that from_seq does not excuse... */
    unlink(p1);
    assert_int_equal(open_rc(dir, 1, err, sizeof(err)), FN_ECORRUPT);
    /* ...but it is fine when the snapshot covers it. */
    c = (struct collect){.check_contents = 1};
    w = open_ok(dir, 6, &c, NULL);
    assert_int_equal(c.n, 5);
    assert_int_equal(c.first_seq, 6);
    fn_wal_close(w);

    /* A damaged header in the last segment. */
    free(orig);
    orig = read_all(p2, &len);
    orig[20] ^= 0x01;
    write_all_file(p2, orig, len);
    assert_int_equal(open_rc(dir, 6, err, sizeof(err)), FN_ECORRUPT);
    assert_non_null(strstr(err, "header"));
    free(orig);
}

static void test_rotate_trim_from_seq(void **state)
{
    const char *dir = tdir(state);
    char p1[PATH_MAX], p11[PATH_MAX], p21[PATH_MAX], p40[PATH_MAX], err[512];
    struct collect c = {0};
    fn_wal_recovery rec;
    fn_wal *w = open_ok(dir, 1, &c, NULL);
    uint64_t next = 0;

    seg_file(p1, sizeof(p1), dir, 1);
    seg_file(p11, sizeof(p11), dir, 11);
    seg_file(p21, sizeof(p21), dir, 21);
    seg_file(p40, sizeof(p40), dir, 40);
    for (uint64_t s = 1; s <= 10; s++)
        append_seq(w, s);
    assert_int_equal(fn_wal_rotate(w, &next), 0);
    assert_int_equal(next, 11);
    /* Rotating an empty segment changes nothing. */
    assert_int_equal(fn_wal_rotate(w, &next), 0);
    assert_int_equal(next, 11);
    for (uint64_t s = 11; s <= 20; s++)
        append_seq(w, s);
    assert_int_equal(fn_wal_rotate(w, &next), 0);
    assert_int_equal(next, 21);
    for (uint64_t s = 21; s <= 25; s++)
        append_seq(w, s);
    assert_int_equal(fn_wal_sync(w, 25), 0);
    assert_int_equal(count_files(dir), 3);

    /* Segment 11 holds 11..20, not all below 15: only segment 1 goes. */
    assert_int_equal(fn_wal_trim(w, 15), 0);
    assert_false(file_exists(p1));
    assert_true(file_exists(p11));
    assert_true(file_exists(p21));
    fn_wal_close(w);

    c = (struct collect){.check_contents = 1};
    w = open_ok(dir, 15, &c, &rec);
    assert_int_equal(rec.records_skipped, 4);
    assert_int_equal(rec.records_replayed, 11);
    assert_int_equal(rec.segments, 2);
    assert_int_equal(c.first_seq, 15);
    assert_int_equal(c.last_seq, 25);
    assert_int_equal(fn_wal_trim(w, 21), 0);
    assert_false(file_exists(p11));
    /* The last segment is never deleted. */
    assert_int_equal(fn_wal_trim(w, 1000), 0);
    assert_true(file_exists(p21));
    append_seq(w, 26);
    assert_int_equal(fn_wal_sync(w, 26), 0);
    fn_wal_close(w);

    c = (struct collect){.check_contents = 1};
    w = open_ok(dir, 21, &c, &rec);
    assert_int_equal(rec.records_skipped, 0);
    assert_int_equal(c.first_seq, 21);
    assert_int_equal(c.last_seq, 26);
    fn_wal_close(w);

    /* The log starts at 21: a caller without a snapshot needs 1..20. */
    assert_int_equal(open_rc(dir, 1, err, sizeof(err)), FN_ECORRUPT);
    assert_non_null(strstr(err, "missing"));

    /* A snapshot newer than the whole log: a fresh segment starts at it. */
    c = (struct collect){0};
    w = open_ok(dir, 40, &c, &rec);
    assert_int_equal(c.n, 0);
    assert_int_equal(rec.records_skipped, 6);
    assert_true(file_exists(p40));
    append_seq(w, 40);
    assert_int_equal(fn_wal_sync(w, 40), 0);
    fn_wal_close(w);
    c = (struct collect){.check_contents = 1};
    w = open_ok(dir, 40, &c, NULL);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.first_seq, 40);
    /* 27..39 are missing, and a snapshot at 30 would need them. */
    fn_wal_close(w);
    assert_int_equal(open_rc(dir, 30, err, sizeof(err)), FN_ECORRUPT);
    c = (struct collect){0};
    w = open_ok(dir, 40, &c, NULL);
    assert_int_equal(fn_wal_trim(w, 40), 0);
    assert_false(file_exists(p21));
    assert_int_equal(count_files(dir), 1);
    fn_wal_close(w);
}

static void test_fsync_failure_breaks_forever(void **state)
{
    const char *dir = tdir(state);
    struct collect c = {0};
    fn_wal_stats st;
    fn_wal *w = open_ok(dir, 1, &c, NULL);
    uint64_t seq = 0, next = 0;

    for (uint64_t s = 1; s <= 3; s++)
        append_seq(w, s);
    assert_int_equal(fn_wal_sync(w, 3), 0);
    fn_wal_inject_fsync_failure(w);
    append_seq(w, 4);
    assert_int_equal(fn_wal_sync(w, 4), FN_EUNAVAIL);
    fn_wal_stats_get(w, &st);
    assert_int_equal(st.broken, 1);
    assert_int_equal(st.durable_seq, 4);
    assert_int_equal(st.fsyncs, 1);
    assert_int_equal(fn_wal_append(w, 1, "x", 1, &seq), FN_EUNAVAIL);
    assert_int_equal(fn_wal_sync(w, 4), FN_EUNAVAIL);
    assert_int_equal(fn_wal_sync(w, 1), FN_EUNAVAIL);
    assert_int_equal(fn_wal_rotate(w, &next), FN_EUNAVAIL);
    fn_wal_close(w);

    /* What was synced before the failure is all there after a restart. */
    c = (struct collect){.check_contents = 1};
    w = open_ok(dir, 1, &c, NULL);
    assert_true(c.n >= 3);
    fn_wal_close(w);
}

static void test_record_size_limit(void **state)
{
    const char *dir = tdir(state);
    struct collect c = {0};
    fn_wal *w = open_ok(dir, 1, &c, NULL);
    uint8_t *big = calloc(1, (size_t)FN_WAL_MAX_RECORD + 1);
    uint64_t seq = 0;

    assert_non_null(big);
    big[0] = 0xab;
    big[FN_WAL_MAX_RECORD - 1] = 0xcd;
    assert_int_equal(fn_wal_append(w, 9, big, FN_WAL_MAX_RECORD + 1, &seq), FN_ETOOBIG);
    assert_int_equal(fn_wal_append(w, 9, big, FN_WAL_MAX_RECORD, &seq), 0);
    assert_int_equal(seq, 1);
    append_seq(w, 2);
    assert_int_equal(fn_wal_sync(w, 2), 0);
    fn_wal_close(w);
    free(big);

    w = open_ok(dir, 2, &c, NULL);
    assert_int_equal(c.n, 1);
    fn_wal_close(w);
}

static int big_cb(void *ctx, const fn_wal_record *r)
{
    int *ok = ctx;
    if (r->seq == 1)
        *ok = r->len == FN_WAL_MAX_RECORD && r->type == 9 && r->data[0] == 0xab &&
              r->data[FN_WAL_MAX_RECORD - 1] == 0xcd && r->data[1] == 0;
    return 0;
}

static void test_record_size_limit_replay(void **state)
{
    const char *dir = tdir(state);
    fn_wal *w;
    char err[256];
    int ok = 0;
    test_record_size_limit(state);
    assert_int_equal(fn_wal_open(&w, dir, 1, big_cb, &ok, NULL, err, sizeof(err)), 0);
    assert_int_equal(ok, 1);
    fn_wal_close(w);
}

static void test_stray_tmp_removed(void **state)
{
    const char *dir = tdir(state);
    char tmp[PATH_MAX];
    struct collect c = {0};
    fn_wal *w;
    snprintf(tmp, sizeof(tmp), "%s/wal-00000000000000ff.log.tmp", dir);
    write_all_file(tmp, (const uint8_t *)"partial", 7);
    w = open_ok(dir, 1, &c, NULL);
    assert_false(file_exists(tmp));
    fn_wal_close(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_sync_reopen, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_replay_error_propagates, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_group_commit_threads, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_offset_separate_groups, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_offset_one_group, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bitflip_last_record_is_torn, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_damaged_last_group_is_torn, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_middle_corruption_refuses, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_wrong_seq_refuses, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_corrupt_non_last_segment, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_rotate_trim_from_seq, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_fsync_failure_breaks_forever, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_record_size_limit_replay, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_stray_tmp_removed, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
