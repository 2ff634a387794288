/*
 * test_auth_token.c — unit tests for src/auth/token.c: the token's shape,
 * its randomness, keyed hashing, the hash -> principal table (growth,
 * collisions on the probe start, wrap-around, replacement, iteration) and
 * the server key file.
 */
#include "auth/token.h"
#include "common/fn.h"
#include "core/model.h" /* the role numbers inside principals */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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

/* ---- helpers --------------------------------------------------------- */

static void random_hash(uint64_t *s, uint8_t h[FN_TOKEN_HASH_BYTES])
{
    uint64_t a = rng_next(s), b = rng_next(s);
    memcpy(h, &a, 8);
    memcpy(h + 8, &b, 8);
}

/* Principals are never 0 (0 marks an empty slot): role in the top byte. */
static uint64_t principal_for(size_t i) { return fn_principal(FN_ROLE_COMPANY + (int)(i % 3), (uint64_t)i + 1); }

static int setup_sodium(void **state)
{
    (void)state;
    return fn_token_init();
}

/* ---- tokens ---------------------------------------------------------- */

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void test_token_format(void **state)
{
    char tok[FN_TOKEN_LEN + 1 + 8];
    (void)state;
    for (int i = 0; i < 200; i++) {
        memset(tok, '#', sizeof(tok));
        fn_token_generate(tok);
        assert_int_equal(strlen(tok), 47);
        assert_int_equal(FN_TOKEN_LEN, 47);
        assert_memory_equal(tok, "fnt_", 4);
        for (int j = 4; j < 47; j++)
            assert_true(b64url_char(tok[j]));
        assert_true(fn_token_well_formed(tok));
        assert_int_equal(tok[48], '#'); /* nothing written past the NUL */
    }
}

static void test_well_formed_rejects(void **state)
{
    char tok[FN_TOKEN_LEN + 1], bad[64];
    (void)state;
    fn_token_generate(tok);
    assert_true(fn_token_well_formed(tok));

    assert_false(fn_token_well_formed(""));
    assert_false(fn_token_well_formed("fnt_"));
    /* One character short and one too many. */
    snprintf(bad, sizeof(bad), "%.46s", tok);
    assert_false(fn_token_well_formed(bad));
    snprintf(bad, sizeof(bad), "%sA", tok);
    assert_false(fn_token_well_formed(bad));
    /* Wrong prefix, same length. */
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[0] = 'F';
    assert_false(fn_token_well_formed(bad));
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[3] = '-';
    assert_false(fn_token_well_formed(bad));
    /* Characters outside base64url, anywhere in the body. */
    static const char outside[] = {'+', '/', '=', ' ', '.', '\xe4', '\n'};
    for (size_t k = 0; k < sizeof(outside); k++) {
        for (int pos = 4; pos < 47; pos += 21) {
            snprintf(bad, sizeof(bad), "%s", tok);
            bad[pos] = outside[k];
            assert_false(fn_token_well_formed(bad));
        }
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_tokens_differ(void **state)
{
    enum { N = 2000 };
    char *toks[N];
    (void)state;
    for (int i = 0; i < N; i++) {
        toks[i] = malloc(FN_TOKEN_LEN + 1);
        assert_non_null(toks[i]);
        fn_token_generate(toks[i]);
    }
    assert_string_not_equal(toks[0], toks[1]);
    qsort(toks, N, sizeof(char *), cmp_str);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(toks[i - 1], toks[i]);
    /* 32 random bytes: the last base64url character carries 4 bits
     * (256 = 42*6 + 4), so it is one of 16; the others range freely.  A
     * constant body byte would mean the randomness is not reaching it. */
    for (int pos = 4; pos < 46; pos++) {
        int same = 1;
        for (int i = 1; i < N && same; i++)
            same = toks[i][pos] == toks[0][pos];
        assert_false(same);
    }
    for (int i = 0; i < N; i++)
        free(toks[i]);
}

/* Tokens made in batches: well formed, none repeated within or across
 * batches (an odd count and stride, so that batches end mid-way), nothing
 * written between them. */
static void test_tokens_in_batches(void **state)
{
    enum { N = 1000, STRIDE = 61 };
    char *buf = malloc(N * STRIDE), *toks[N];
    (void)state;
    assert_non_null(buf);
    memset(buf, '#', N * STRIDE);
    fn_token_generate_n(buf, STRIDE, 3);
    fn_token_generate_n(buf + 3 * STRIDE, STRIDE, N - 3);
    for (int i = 0; i < N; i++) {
        toks[i] = buf + i * STRIDE;
        assert_true(fn_token_well_formed(toks[i]));
        for (int j = FN_TOKEN_LEN + 1; j < STRIDE; j++)
            assert_int_equal(toks[i][j], '#');
    }
    qsort(toks, N, sizeof(char *), cmp_str);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(toks[i - 1], toks[i]);
    free(buf);
}

static void test_hash_keyed(void **state)
{
    uint8_t k1[FN_TOKEN_KEY_BYTES], k2[FN_TOKEN_KEY_BYTES];
    uint8_t h1[FN_TOKEN_HASH_BYTES], h1b[FN_TOKEN_HASH_BYTES], h2[FN_TOKEN_HASH_BYTES], h3[FN_TOKEN_HASH_BYTES];
    char t1[FN_TOKEN_LEN + 1], t2[FN_TOKEN_LEN + 1];
    (void)state;
    for (int i = 0; i < FN_TOKEN_KEY_BYTES; i++) {
        k1[i] = (uint8_t)i;
        k2[i] = (uint8_t)i;
    }
    k2[31] ^= 1; /* one bit of key */
    fn_token_generate(t1);
    fn_token_generate(t2);

    fn_token_hash(k1, t1, h1);
    fn_token_hash(k1, t1, h1b);
    assert_memory_equal(h1, h1b, FN_TOKEN_HASH_BYTES); /* deterministic */
    fn_token_hash(k2, t1, h2);
    assert_memory_not_equal(h1, h2, FN_TOKEN_HASH_BYTES); /* keyed */
    fn_token_hash(k1, t2, h3);
    assert_memory_not_equal(h1, h3, FN_TOKEN_HASH_BYTES);
    /* One character of token. */
    t1[20] = t1[20] == 'A' ? 'B' : 'A';
    fn_token_hash(k1, t1, h3);
    assert_memory_not_equal(h1, h3, FN_TOKEN_HASH_BYTES);
    /* Not a bare unkeyed digest: the hash differs from the token's bytes
     * and from the zero key's hash. */
    {
        uint8_t k0[FN_TOKEN_KEY_BYTES] = {0}, h0[FN_TOKEN_HASH_BYTES];
        fn_token_hash(k0, t2, h0);
        fn_token_hash(k1, t2, h3);
        assert_memory_not_equal(h0, h3, FN_TOKEN_HASH_BYTES);
    }
}

/* ---- the table ------------------------------------------------------- */

struct visit {
    const uint8_t (*hashes)[FN_TOKEN_HASH_BYTES];
    size_t n;
    uint8_t *seen;
    size_t calls;
    int bad;
};

/* Finds a visited hash among the inserted ones by its index, which the
 * principal encodes (id - 1). */
static void visit_cb(void *ctx, const uint8_t *hash, uint64_t principal)
{
    struct visit *v = ctx;
    uint64_t i = fn_principal_id(principal) - 1;
    v->calls++;
    if (i >= v->n || principal != principal_for((size_t)i) ||
        memcmp(hash, v->hashes[i], FN_TOKEN_HASH_BYTES) != 0) {
        v->bad++;
        return;
    }
    v->seen[i]++;
}

static void test_table_many(void **state)
{
    enum { N = 100000, MISSES = 20000 };
    uint8_t (*hashes)[FN_TOKEN_HASH_BYTES] = malloc((size_t)N * FN_TOKEN_HASH_BYTES);
    fn_tokens *t = fn_tokens_new();
    uint64_t s = 1234, p;
    size_t bytes0 = fn_tokens_bytes(t);
    struct visit v;
    (void)state;
    assert_non_null(hashes);

    assert_int_equal(fn_tokens_count(t), 0);
    for (size_t i = 0; i < N; i++) {
        random_hash(&s, hashes[i]);
        fn_tokens_put(t, hashes[i], principal_for(i));
        assert_int_equal(fn_tokens_count(t), i + 1);
        /* Spot checks while growing: earlier entries survive each rehash. */
        if ((i & (i + 1)) == 0 || i % 9973 == 0) {
            for (size_t j = 0; j <= i; j += 1 + i / 64) {
                assert_int_equal(fn_tokens_get(t, hashes[j], &p), 1);
                assert_true(p == principal_for(j));
            }
        }
    }
    assert_true(fn_tokens_bytes(t) > bytes0);
    /* The table grows at 3/4 load (24-byte slots, token.c). */
    assert_true((size_t)N * 4 <= fn_tokens_bytes(t) / (FN_TOKEN_HASH_BYTES + 8) * 3);
    for (size_t i = 0; i < N; i++) {
        p = 0;
        assert_int_equal(fn_tokens_get(t, hashes[i], &p), 1);
        assert_true(p == principal_for(i));
    }
    /* Unknown hashes: random ones, and known ones with one bit changed in
     * the part that does not choose the slot and in the part that does. */
    for (size_t i = 0; i < MISSES; i++) {
        uint8_t h[FN_TOKEN_HASH_BYTES];
        p = 77;
        random_hash(&s, h);
        assert_int_equal(fn_tokens_get(t, h, &p), 0);
        assert_true(p == 77); /* untouched */
    }
    for (size_t i = 0; i < N; i += 7) {
        uint8_t h[FN_TOKEN_HASH_BYTES];
        memcpy(h, hashes[i], sizeof(h));
        h[15] ^= 0x80;
        assert_int_equal(fn_tokens_get(t, h, &p), 0);
        memcpy(h, hashes[i], sizeof(h));
        h[0] ^= 0x01;
        assert_int_equal(fn_tokens_get(t, h, &p), 0);
    }

    /* Replacing a hash's principal keeps the count. */
    fn_tokens_put(t, hashes[42], fn_principal(FN_ROLE_DRIVER, 999));
    assert_int_equal(fn_tokens_count(t), N);
    assert_int_equal(fn_tokens_get(t, hashes[42], &p), 1);
    assert_true(p == fn_principal(FN_ROLE_DRIVER, 999));
    fn_tokens_put(t, hashes[42], principal_for(42));

    /* Each: every entry exactly once, nothing else. */
    v = (struct visit){(const uint8_t(*)[FN_TOKEN_HASH_BYTES])hashes, N, calloc(N, 1), 0, 0};
    assert_non_null(v.seen);
    fn_tokens_each(t, visit_cb, &v);
    assert_int_equal(v.bad, 0);
    assert_int_equal(v.calls, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(v.seen[i], 1);
    free(v.seen);

    fn_tokens_free(t);
    fn_tokens_free(NULL);
    free(hashes);
}

/* Hashes whose first eight bytes are equal start probing at the same slot;
 * those whose first eight bytes are all ones start at the table's last
 * slot and must wrap to the front. */
static void test_table_collisions_and_wrap(void **state)
{
    enum { SAME = 300, WRAP = 50 };
    uint8_t same[SAME][FN_TOKEN_HASH_BYTES], wrap[WRAP][FN_TOKEN_HASH_BYTES];
    fn_tokens *t = fn_tokens_new();
    uint64_t s = 5, p;
    struct visit v;
    uint8_t all[SAME + WRAP][FN_TOKEN_HASH_BYTES];
    (void)state;
    for (int i = 0; i < SAME; i++) {
        random_hash(&s, same[i]);
        memset(same[i], 0x5a, 8);
    }
    for (int i = 0; i < WRAP; i++) {
        random_hash(&s, wrap[i]);
        memset(wrap[i], 0xff, 8);
    }
    /* Interleave so that growth happens in the middle of the clusters. */
    for (int i = 0; i < SAME; i++) {
        memcpy(all[i], same[i], FN_TOKEN_HASH_BYTES);
        fn_tokens_put(t, same[i], principal_for((size_t)i));
        if (i < WRAP) {
            memcpy(all[SAME + i], wrap[i], FN_TOKEN_HASH_BYTES);
            fn_tokens_put(t, wrap[i], principal_for((size_t)(SAME + i)));
        }
    }
    assert_int_equal(fn_tokens_count(t), SAME + WRAP);
    for (int i = 0; i < SAME; i++) {
        assert_int_equal(fn_tokens_get(t, same[i], &p), 1);
        assert_true(p == principal_for((size_t)i));
    }
    for (int i = 0; i < WRAP; i++) {
        assert_int_equal(fn_tokens_get(t, wrap[i], &p), 1);
        assert_true(p == principal_for((size_t)(SAME + i)));
    }
    /* A miss in a long cluster must still end (at the cluster's end). */
    {
        uint8_t h[FN_TOKEN_HASH_BYTES];
        memcpy(h, same[0], sizeof(h));
        h[12] ^= 0x33;
        assert_int_equal(fn_tokens_get(t, h, &p), 0);
        memcpy(h, wrap[0], sizeof(h));
        h[12] ^= 0x33;
        assert_int_equal(fn_tokens_get(t, h, &p), 0);
    }
    /* Grow the table past several doublings with other entries; the
     * clusters stay whole. */
    for (int i = 0; i < 5000; i++) {
        uint8_t h[FN_TOKEN_HASH_BYTES];
        random_hash(&s, h);
        fn_tokens_put(t, h, fn_principal(FN_ROLE_GATEWAY, 1000000 + (uint64_t)i));
    }
    for (int i = 0; i < SAME; i++)
        assert_int_equal(fn_tokens_get(t, same[i], &p), 1);
    for (int i = 0; i < WRAP; i++)
        assert_int_equal(fn_tokens_get(t, wrap[i], &p), 1);

    v = (struct visit){(const uint8_t(*)[FN_TOKEN_HASH_BYTES])all, SAME + WRAP, calloc(SAME + WRAP, 1), 0, 0};
    assert_non_null(v.seen);
    fn_tokens_each(t, visit_cb, &v);
    assert_int_equal(v.calls, SAME + WRAP + 5000);
    assert_int_equal(v.bad, 5000); /* the gateway ones are not in `all` */
    for (int i = 0; i < SAME + WRAP; i++)
        assert_int_equal(v.seen[i], 1);
    free(v.seen);
    fn_tokens_free(t);
}

/* Reserving room up front: existing entries survive, the table does not
 * grow while the reserved number is put, and a smaller reserve is a no-op. */
static void test_table_reserve(void **state)
{
    enum { FIRST = 500, N = 50000 };
    uint8_t (*hashes)[FN_TOKEN_HASH_BYTES] = malloc((size_t)N * FN_TOKEN_HASH_BYTES);
    fn_tokens *t = fn_tokens_new();
    uint64_t s = 77, p;
    size_t bytes;
    (void)state;
    assert_non_null(hashes);
    for (size_t i = 0; i < N; i++)
        random_hash(&s, hashes[i]);
    for (size_t i = 0; i < FIRST; i++)
        fn_tokens_put(t, hashes[i], principal_for(i));
    fn_tokens_reserve(t, N);
    bytes = fn_tokens_bytes(t);
    assert_true((size_t)N * 4 <= bytes / (FN_TOKEN_HASH_BYTES + 8) * 3);
    assert_int_equal(fn_tokens_count(t), FIRST);
    for (size_t i = 0; i < FIRST; i++) {
        assert_int_equal(fn_tokens_get(t, hashes[i], &p), 1);
        assert_true(p == principal_for(i));
    }
    for (size_t i = FIRST; i < N; i++)
        fn_tokens_put(t, hashes[i], principal_for(i));
    assert_int_equal(fn_tokens_bytes(t), bytes);
    fn_tokens_reserve(t, 10);
    fn_tokens_reserve(t, N);
    assert_int_equal(fn_tokens_bytes(t), bytes);
    assert_int_equal(fn_tokens_count(t), N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(fn_tokens_get(t, hashes[i], &p), 1);
        assert_true(p == principal_for(i));
    }
    fn_tokens_free(t);
    free(hashes);
}

/* ---- the key file ---------------------------------------------------- */

static void test_key_file(void **state)
{
    char path[PATH_MAX], err[256];
    uint8_t k1[FN_TOKEN_KEY_BYTES], k2[FN_TOKEN_KEY_BYTES], zero[FN_TOKEN_KEY_BYTES] = {0};
    uint8_t disk[64];
    struct stat st;
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/token.key", tdir(state));
    err[0] = '\0';
    assert_int_equal(fn_token_key_load(path, k1, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, FN_TOKEN_KEY_BYTES);
    assert_memory_not_equal(k1, zero, FN_TOKEN_KEY_BYTES);
    /* The file holds exactly the key. */
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, disk, sizeof(disk));
    close(fd);
    assert_int_equal(n, FN_TOKEN_KEY_BYTES);
    assert_memory_equal(disk, k1, FN_TOKEN_KEY_BYTES);
    /* Reloaded: identical, file unchanged. */
    memset(k2, 0, sizeof(k2));
    assert_int_equal(fn_token_key_load(path, k2, err, sizeof(err)), 0);
    assert_memory_equal(k1, k2, FN_TOKEN_KEY_BYTES);
    /* So hashes made before and after a restart agree. */
    {
        char tok[FN_TOKEN_LEN + 1];
        uint8_t h1[FN_TOKEN_HASH_BYTES], h2[FN_TOKEN_HASH_BYTES];
        fn_token_generate(tok);
        fn_token_hash(k1, tok, h1);
        fn_token_hash(k2, tok, h2);
        assert_memory_equal(h1, h2, FN_TOKEN_HASH_BYTES);
    }

    /* A second key file in the same dir is a different key. */
    snprintf(path, sizeof(path), "%s/other.key", tdir(state));
    assert_int_equal(fn_token_key_load(path, k2, err, sizeof(err)), 0);
    assert_memory_not_equal(k1, k2, FN_TOKEN_KEY_BYTES);
}

static void test_key_file_bad(void **state)
{
    char path[PATH_MAX], err[256];
    uint8_t k[FN_TOKEN_KEY_BYTES];
    int fd;

    /* Too short: refused, not padded or regenerated. */
    snprintf(path, sizeof(path), "%s/short.key", tdir(state));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    close(fd);
    err[0] = '\0';
    assert_int_equal(fn_token_key_load(path, k, err, sizeof(err)), FN_EIO);
    assert_true(strlen(err) > 0);
    {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, 10);
    }
    /* Empty. */
    snprintf(path, sizeof(path), "%s/empty.key", tdir(state));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    err[0] = '\0';
    assert_int_equal(fn_token_key_load(path, k, err, sizeof(err)), FN_EIO);
    assert_true(strlen(err) > 0);
    /* In a directory that does not exist: cannot be created. */
    snprintf(path, sizeof(path), "%s/no/such/dir/token.key", tdir(state));
    err[0] = '\0';
    assert_int_equal(fn_token_key_load(path, k, err, sizeof(err)), FN_EIO);
    assert_true(strlen(err) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_format),
        cmocka_unit_test(test_well_formed_rejects),
        cmocka_unit_test(test_tokens_differ),
        cmocka_unit_test(test_tokens_in_batches),
        cmocka_unit_test(test_hash_keyed),
        cmocka_unit_test(test_table_many),
        cmocka_unit_test(test_table_collisions_and_wrap),
        cmocka_unit_test(test_table_reserve),
        cmocka_unit_test_setup_teardown(test_key_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_key_file_bad, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, setup_sodium, NULL);
}
