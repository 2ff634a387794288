/*
 * testutil.h — helpers shared by the cmocka unit tests in tests/unit/:
 * a fresh directory under /tmp for each test (removed with everything in
 * it afterwards, subdirectories included), whole-file reads and writes,
 * and the seeded splitmix64 generator the tests draw their data from, so
 * that failures reproduce.
 *
 * Each test_*.c is compiled on its own and uses only some of these, so
 * every function here is static inline. The file helpers fail the current
 * test through cmocka's assertions.
 */
#ifndef FN_TESTUTIL_H
#define FN_TESTUTIL_H

#include <errno.h> /* program_invocation_short_name (_GNU_SOURCE) */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

/* ---- a temporary directory per test ----------------------------------- */

#define TEST_DIR_LEN 64

/* Makes a new empty directory "/tmp/fn-<test program>-XXXXXX" and leaves
 * its name in path (n bytes). Returns 0, or -1. */
static inline int test_dir_make(char *path, size_t n)
{
    int len = snprintf(path, n, "/tmp/fn-%s-XXXXXX", program_invocation_short_name);
    if (len < 0 || (size_t)len >= n)
        return -1;
    return mkdtemp(path) ? 0 : -1;
}

static inline int test_dir_rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Removes path and everything below it, children first; links are removed,
 * not followed. */
static inline void test_dir_remove(const char *path)
{
    nftw(path, test_dir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The cmocka fixture: setup_dir makes a directory for the test, reached
 * with tdir(state); teardown_dir removes it. */
struct t_dir {
    char path[TEST_DIR_LEN];
};

static inline int setup_dir(void **state)
{
    struct t_dir *d = calloc(1, sizeof(*d));
    if (!d || test_dir_make(d->path, sizeof(d->path)) != 0) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

static inline int teardown_dir(void **state)
{
    struct t_dir *d = *state;
    test_dir_remove(d->path);
    free(d);
    return 0;
}

static inline const char *tdir(void **state) { return ((struct t_dir *)*state)->path; }

/* ---- files ------------------------------------------------------------ */

/* The whole file, in a malloc'ed buffer (one byte longer than *len) the
 * caller frees. */
static inline uint8_t *read_all(const char *path, size_t *len)
{
    struct stat st;
    uint8_t *p;
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fstat(fileno(f), &st), 0);
    p = malloc((size_t)st.st_size + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    *len = (size_t)st.st_size;
    return p;
}

/* Creates or replaces path with exactly len bytes of p. */
static inline void write_all_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- seeded random numbers -------------------------------------------- */

/* splitmix64: a small deterministic PRNG, so failures reproduce. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

/* Uniform in [lo, hi). */
static inline double rng_range(uint64_t *s, double lo, double hi) { return lo + (hi - lo) * rng_unit(s); }

#endif
