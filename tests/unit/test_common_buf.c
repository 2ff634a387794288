/*
 * test_common_buf.c — unit tests for src/common/buf.c: the size cap of
 * fn_buf, the little-endian encoders against fixed byte layouts and the
 * fn_rd decoders, the reader's sticky error on short reads, fn_rd_str's
 * bounds, and CRC-32C against published vectors, a bit-at-a-time reference
 * and itself fed in pieces.
 */
#include "common/buf.h"
#include "common/fn.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

/* ---- helpers --------------------------------------------------------- */

/* CRC-32C one bit at a time, straight from the definition (reflected
 * polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF). */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

/* ---- fn_buf ---------------------------------------------------------- */

static void test_buf_cap(void **state)
{
    fn_buf b;
    uint8_t bytes[16];
    (void)state;
    for (int i = 0; i < 16; i++)
        bytes[i] = (uint8_t)(0xA0 + i);

    fn_buf_init(&b, 10);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(fn_buf_put(&b, bytes, 7), 0);
    assert_int_equal(fn_buf_u16(&b, 0x1234), 0);
    assert_int_equal(b.len, 9);
    /* Four bytes would pass the cap: refused whole, nothing written. */
    assert_int_equal(fn_buf_u32(&b, 0xdeadbeef), FN_ETOOBIG);
    assert_int_equal(fn_buf_u64(&b, 1), FN_ETOOBIG);
    assert_int_equal(fn_buf_i64(&b, -1), FN_ETOOBIG);
    assert_int_equal(fn_buf_f64(&b, 1.0), FN_ETOOBIG);
    assert_int_equal(fn_buf_u16(&b, 1), FN_ETOOBIG);
    assert_int_equal(fn_buf_str(&b, "ab"), FN_ETOOBIG);
    assert_int_equal(fn_buf_printf(&b, "%d", 12), FN_ETOOBIG);
    assert_int_equal(fn_buf_reserve(&b, 2), FN_ETOOBIG);
    assert_int_equal(b.len, 9);
    /* Exactly up to the cap is fine. */
    assert_int_equal(fn_buf_reserve(&b, 1), 0);
    assert_int_equal(fn_buf_u8(&b, 0x55), 0);
    assert_int_equal(b.len, 10);
    assert_true(b.cap <= 10);
    assert_int_equal(fn_buf_u8(&b, 0x66), FN_ETOOBIG);
    assert_int_equal(fn_buf_put(&b, bytes, 0), 0); /* an empty put always fits */
    assert_memory_equal(b.data, bytes, 7);
    assert_int_equal(b.data[7], 0x34);
    assert_int_equal(b.data[8], 0x12);
    assert_int_equal(b.data[9], 0x55);
    /* A reserve whose size overflows size_t is refused, not wrapped. */
    assert_int_equal(fn_buf_reserve(&b, SIZE_MAX), FN_ETOOBIG);

    /* Reset keeps the memory and the cap. */
    fn_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(fn_buf_put(&b, bytes, 10), 0);
    assert_int_equal(fn_buf_put(&b, bytes, 1), FN_ETOOBIG);
    fn_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    /* printf: the text fits when its length (without the NUL it writes past
     * len) is within the cap's room. */
    fn_buf_init(&b, 8);
    assert_int_equal(fn_buf_printf(&b, "%s-%d", "ab", 42), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "ab-42", 5);
    assert_int_equal(fn_buf_printf(&b, "%s", "xyzw"), FN_ETOOBIG);
    assert_int_equal(b.len, 5);
    fn_buf_free(&b);

    /* No cap: grows through many doublings, keeping what was written. */
    fn_buf_init(&b, 0);
    for (uint32_t i = 0; i < 300000; i++)
        assert_int_equal(fn_buf_u32(&b, i * 2654435761u), 0);
    assert_int_equal(b.len, 1200000);
    assert_true(b.cap >= b.len);
    for (uint32_t i = 0; i < 300000; i += 997)
        assert_int_equal(fn_le32_get(b.data + 4 * i), i * 2654435761u);
    fn_buf_free(&b);

    /* Strings: 65535 bytes is the most a u16 length can say. */
    {
        char *big = malloc(65537);
        assert_non_null(big);
        memset(big, 'x', 65536);
        big[65536] = '\0';
        fn_buf_init(&b, 0);
        assert_int_equal(fn_buf_str(&b, big), FN_ETOOBIG);
        assert_int_equal(b.len, 0);
        big[65535] = '\0';
        assert_int_equal(fn_buf_str(&b, big), 0);
        assert_int_equal(b.len, 2 + 65535);
        assert_int_equal(b.data[0], 0xff);
        assert_int_equal(b.data[1], 0xff);
        fn_buf_free(&b);
        free(big);
    }
}

/* ---- encoders and decoders ------------------------------------------- */

static void test_le_layout(void **state)
{
    fn_buf b;
    static const uint8_t want[] = {
        0xAB,                                           /* u8 */
        0x34, 0x12,                                     /* u16 0x1234 */
        0x78, 0x56, 0x34, 0x12,                         /* u32 0x12345678 */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* u64 0x0102030405060708 */
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* i64 -2 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, /* f64 1.0 */
        0x05, 0x00, 'h', 'e', 'l', 'l', 'o',            /* str "hello" */
        0x00, 0x00,                                     /* str NULL = "" */
    };
    uint8_t raw[8];
    (void)state;

    fn_buf_init(&b, 0);
    assert_int_equal(fn_buf_u8(&b, 0xAB), 0);
    assert_int_equal(fn_buf_u16(&b, 0x1234), 0);
    assert_int_equal(fn_buf_u32(&b, 0x12345678u), 0);
    assert_int_equal(fn_buf_u64(&b, 0x0102030405060708ull), 0);
    assert_int_equal(fn_buf_i64(&b, -2), 0);
    assert_int_equal(fn_buf_f64(&b, 1.0), 0);
    assert_int_equal(fn_buf_str(&b, "hello"), 0);
    assert_int_equal(fn_buf_str(&b, NULL), 0);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    fn_buf_free(&b);

    fn_le32_put(raw, 0xA1B2C3D4u);
    assert_int_equal(raw[0], 0xD4);
    assert_int_equal(raw[3], 0xA1);
    assert_int_equal(fn_le32_get(raw), 0xA1B2C3D4u);
    fn_le64_put(raw, 0x8877665544332211ull);
    assert_int_equal(raw[0], 0x11);
    assert_int_equal(raw[7], 0x88);
    assert_true(fn_le64_get(raw) == 0x8877665544332211ull);
}

static void test_le_round_trip(void **state)
{
    static const uint64_t u64s[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffffull,
                                    0x100000000ull, 0x8000000000000000ull, UINT64_MAX, 0x0123456789abcdefull};
    static const int64_t i64s[] = {0, 1, -1, INT64_MIN, INT64_MAX, -1234567890123ll, 1764072000ll};
    const double f64s[] = {0.0, -0.0, 1.0, -1.5, 39.9042, 116.4074, DBL_MIN, DBL_MAX, 5e-324, INFINITY, -INFINITY,
                           3.141592653589793};
    char s300[301];
    fn_buf b;
    fn_rd r;
    char out[512];
    uint64_t seed = 42;
    (void)state;

    memset(s300, 'q', 300);
    s300[300] = '\0';
    fn_buf_init(&b, 0);
    for (size_t i = 0; i < FN_ARRAY_LEN(u64s); i++) {
        assert_int_equal(fn_buf_u8(&b, (uint8_t)u64s[i]), 0);
        assert_int_equal(fn_buf_u16(&b, (uint16_t)u64s[i]), 0);
        assert_int_equal(fn_buf_u32(&b, (uint32_t)u64s[i]), 0);
        assert_int_equal(fn_buf_u64(&b, u64s[i]), 0);
    }
    for (size_t i = 0; i < FN_ARRAY_LEN(i64s); i++)
        assert_int_equal(fn_buf_i64(&b, i64s[i]), 0);
    for (size_t i = 0; i < FN_ARRAY_LEN(f64s); i++)
        assert_int_equal(fn_buf_f64(&b, f64s[i]), 0);
    assert_int_equal(fn_buf_f64(&b, NAN), 0);
    assert_int_equal(fn_buf_str(&b, ""), 0);
    assert_int_equal(fn_buf_str(&b, "北京市朝阳区 — ünïcødé"), 0);
    assert_int_equal(fn_buf_str(&b, s300), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(fn_buf_u64(&b, rng_next(&seed)), 0);

    fn_rd_init(&r, b.data, b.len);
    for (size_t i = 0; i < FN_ARRAY_LEN(u64s); i++) {
        assert_int_equal(fn_rd_u8(&r), (uint8_t)u64s[i]);
        assert_int_equal(fn_rd_u16(&r), (uint16_t)u64s[i]);
        assert_int_equal(fn_rd_u32(&r), (uint32_t)u64s[i]);
        assert_true(fn_rd_u64(&r) == u64s[i]);
    }
    for (size_t i = 0; i < FN_ARRAY_LEN(i64s); i++)
        assert_true(fn_rd_i64(&r) == i64s[i]);
    for (size_t i = 0; i < FN_ARRAY_LEN(f64s); i++) {
        double v = fn_rd_f64(&r);
        assert_memory_equal(&v, &f64s[i], sizeof(double)); /* bit for bit: -0.0 stays -0.0 */
    }
    assert_true(isnan(fn_rd_f64(&r)));
    assert_int_equal(fn_rd_str(&r, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(fn_rd_str(&r, out, sizeof(out)), strlen("北京市朝阳区 — ünïcødé"));
    assert_string_equal(out, "北京市朝阳区 — ünïcødé");
    assert_int_equal(fn_rd_str(&r, out, sizeof(out)), 300);
    assert_string_equal(out, s300);
    seed = 42;
    for (int i = 0; i < 1000; i++)
        assert_true(fn_rd_u64(&r) == rng_next(&seed));
    assert_int_equal(r.err, 0);
    assert_int_equal(r.off, r.len);
    fn_buf_free(&b);
}

static void test_rd_short_read(void **state)
{
    static const uint8_t three[] = {0x01, 0x02, 0x03};
    static const uint8_t nine[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    fn_rd r;
    const uint8_t *p = three;
    (void)state;

    /* A u32 from three bytes: zero, err set, and every later read is zero
     * too even though bytes remain. */
    fn_rd_init(&r, three, sizeof(three));
    assert_int_equal(fn_rd_u32(&r), 0);
    assert_int_equal(r.err, 1);
    assert_int_equal(fn_rd_u8(&r), 0);
    assert_int_equal(fn_rd_u16(&r), 0);
    assert_true(fn_rd_u64(&r) == 0);
    assert_true(fn_rd_i64(&r) == 0);
    assert_true(fn_rd_f64(&r) == 0.0);
    assert_int_equal(fn_rd_bytes(&r, &p, 1), -1);
    assert_null(p);
    assert_int_equal(fn_rd_bytes(&r, &p, 0), -1); /* sticky, even for nothing */
    assert_int_equal(r.err, 1);

    /* Each getter on its own. */
    fn_rd_init(&r, three, 1);
    assert_int_equal(fn_rd_u16(&r), 0);
    assert_int_equal(r.err, 1);
    fn_rd_init(&r, nine, 7);
    assert_true(fn_rd_u64(&r) == 0);
    assert_int_equal(r.err, 1);
    fn_rd_init(&r, nine, 7);
    assert_true(fn_rd_i64(&r) == 0);
    assert_int_equal(r.err, 1);
    fn_rd_init(&r, nine, 7);
    assert_true(fn_rd_f64(&r) == 0.0);
    assert_int_equal(r.err, 1);
    fn_rd_init(&r, nine, 0);
    assert_int_equal(fn_rd_u8(&r), 0);
    assert_int_equal(r.err, 1);

    /* Reading exactly to the end is fine; one byte more is not. */
    fn_rd_init(&r, nine, sizeof(nine));
    assert_true(fn_rd_u64(&r) == 0x0807060504030201ull);
    assert_int_equal(fn_rd_u8(&r), 9);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.off, 9);
    assert_int_equal(fn_rd_bytes(&r, &p, 0), 0);
    assert_int_equal(fn_rd_u8(&r), 0);
    assert_int_equal(r.err, 1);

    /* fn_rd_bytes hands out pointers into the input. */
    fn_rd_init(&r, nine, sizeof(nine));
    assert_int_equal(fn_rd_bytes(&r, &p, 4), 0);
    assert_ptr_equal(p, nine);
    assert_int_equal(fn_rd_bytes(&r, &p, 5), 0);
    assert_ptr_equal(p, nine + 4);
    assert_int_equal(fn_rd_bytes(&r, &p, 1), -1);
    /* A huge n must not wrap the bounds check. */
    fn_rd_init(&r, nine, sizeof(nine));
    fn_rd_u8(&r);
    assert_int_equal(fn_rd_bytes(&r, &p, SIZE_MAX), -1);
    assert_int_equal(r.err, 1);
}

static void test_rd_str_bounds(void **state)
{
    fn_buf b;
    fn_rd r;
    char out[16];
    (void)state;

    fn_buf_init(&b, 0);
    fn_buf_str(&b, "hello");
    /* Room for the bytes and the NUL: fine. */
    fn_rd_init(&r, b.data, b.len);
    memset(out, 'X', sizeof(out));
    assert_int_equal(fn_rd_str(&r, out, 6), 5);
    assert_string_equal(out, "hello");
    assert_int_equal(r.err, 0);
    assert_int_equal(r.off, 7);
    /* One byte short of room: err, empty output, nothing past outsz touched. */
    fn_rd_init(&r, b.data, b.len);
    memset(out, 'X', sizeof(out));
    assert_int_equal(fn_rd_str(&r, out, 5), 0);
    assert_int_equal(r.err, 1);
    assert_int_equal(out[0], '\0');
    for (int i = 5; i < 16; i++)
        assert_int_equal(out[i], 'X');
    /* outsz 0: err, and out is not written at all. */
    fn_rd_init(&r, b.data, b.len);
    memset(out, 'X', sizeof(out));
    assert_int_equal(fn_rd_str(&r, out, 0), 0);
    assert_int_equal(r.err, 1);
    assert_int_equal(out[0], 'X');

    /* The length says more bytes than remain. */
    fn_rd_init(&r, b.data, b.len - 1);
    assert_int_equal(fn_rd_str(&r, out, sizeof(out)), 0);
    assert_int_equal(r.err, 1);
    assert_string_equal(out, "");
    /* Only one byte of the length. */
    fn_rd_init(&r, b.data, 1);
    assert_int_equal(fn_rd_str(&r, out, sizeof(out)), 0);
    assert_int_equal(r.err, 1);
    /* A reader already in error stays so. */
    fn_rd_init(&r, b.data, b.len);
    r.err = 1;
    assert_int_equal(fn_rd_str(&r, out, sizeof(out)), 0);
    assert_string_equal(out, "");

    /* The empty string needs only the NUL's room. */
    fn_buf_reset(&b);
    fn_buf_str(&b, "");
    fn_buf_str(&b, "ab");
    fn_rd_init(&r, b.data, b.len);
    assert_int_equal(fn_rd_str(&r, out, 1), 0);
    assert_int_equal(r.err, 0);
    assert_string_equal(out, "");
    assert_int_equal(fn_rd_str(&r, out, 3), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(r.off, r.len);
    fn_buf_free(&b);
}

/* ---- CRC-32C --------------------------------------------------------- */

struct crc_thread {
    pthread_barrier_t *barrier;
    uint32_t got;
};

static void *crc_thread_main(void *arg)
{
    struct crc_thread *t = arg;
    pthread_barrier_wait(t->barrier);
    t->got = fn_crc32c(0, "123456789", 9);
    return NULL;
}

/* Runs first in the group, so the lookup table is built by racing threads. */
static void test_crc32c_first_use_threads(void **state)
{
    enum { N = 8 };
    pthread_t th[N];
    struct crc_thread t[N];
    pthread_barrier_t barrier;
    (void)state;
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        t[i].barrier = &barrier;
        assert_int_equal(pthread_create(&th[i], NULL, crc_thread_main, &t[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].got, 0xE3069283u);
    }
    pthread_barrier_destroy(&barrier);
}

static void test_crc32c_vectors(void **state)
{
    uint8_t v[32];
    (void)state;
    assert_int_equal(fn_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(fn_crc32c(0, "", 0), 0);
    assert_int_equal(fn_crc32c(0, NULL, 0), 0);
    assert_int_equal(fn_crc32c(0, "a", 1), 0xC1D04330u);
    /* RFC 3720 (iSCSI), appendix B.4. */
    memset(v, 0, sizeof(v));
    assert_int_equal(fn_crc32c(0, v, 32), 0x8A9136AAu);
    memset(v, 0xff, sizeof(v));
    assert_int_equal(fn_crc32c(0, v, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        v[i] = (uint8_t)i;
    assert_int_equal(fn_crc32c(0, v, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        v[i] = (uint8_t)(31 - i);
    assert_int_equal(fn_crc32c(0, v, 32), 0x113FDB5Cu);
    /* The reference agrees with the vectors, so it can judge the rest. */
    assert_int_equal(crc32c_ref(0, (const uint8_t *)"123456789", 9), 0xE3069283u);
}

static void test_crc32c_matches_reference(void **state)
{
    enum { LEN = 4096 };
    uint8_t *buf = malloc(LEN + 8);
    uint64_t seed = 7;
    (void)state;
    assert_non_null(buf);
    for (size_t i = 0; i < LEN + 8; i++)
        buf[i] = (uint8_t)rng_next(&seed);
    /* Every length up to 100 at every alignment, then random ones: the
     * eight-at-a-time loop and the byte tail must agree with the definition. */
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 100; n++)
            assert_int_equal(fn_crc32c(0, buf + off, n), crc32c_ref(0, buf + off, n));
    for (int i = 0; i < 200; i++) {
        size_t off = rng_next(&seed) % 8, n = rng_next(&seed) % (LEN + 1);
        uint32_t start = (uint32_t)rng_next(&seed);
        assert_int_equal(fn_crc32c(start, buf + off, n), crc32c_ref(start, buf + off, n));
    }
    free(buf);
}

static void test_crc32c_incremental(void **state)
{
    enum { LEN = 10000 };
    uint8_t *buf = malloc(LEN);
    uint64_t seed = 99;
    uint32_t whole;
    (void)state;
    assert_non_null(buf);
    for (size_t i = 0; i < LEN; i++)
        buf[i] = (uint8_t)rng_next(&seed);
    whole = fn_crc32c(0, buf, LEN);
    assert_int_equal(whole, crc32c_ref(0, buf, LEN));

    /* Two pieces, split everywhere near the start and end and at random. */
    for (size_t cut = 0; cut <= 64; cut++) {
        assert_int_equal(fn_crc32c(fn_crc32c(0, buf, cut), buf + cut, LEN - cut), whole);
        assert_int_equal(fn_crc32c(fn_crc32c(0, buf, LEN - cut), buf + LEN - cut, cut), whole);
    }
    for (int i = 0; i < 200; i++) {
        size_t cut = rng_next(&seed) % (LEN + 1);
        assert_int_equal(fn_crc32c(fn_crc32c(0, buf, cut), buf + cut, LEN - cut), whole);
    }
    /* Many random-sized pieces, including empty ones. */
    for (int round = 0; round < 20; round++) {
        uint32_t crc = 0;
        size_t off = 0;
        while (off < LEN) {
            size_t n = rng_next(&seed) % 37;
            if (n > LEN - off)
                n = LEN - off;
            crc = fn_crc32c(crc, buf + off, n);
            off += n;
        }
        assert_int_equal(crc, whole);
    }
    /* One byte at a time. */
    {
        uint32_t crc = 0;
        for (size_t i = 0; i < LEN; i++)
            crc = fn_crc32c(crc, buf + i, 1);
        assert_int_equal(crc, whole);
    }
    /* A change anywhere changes the checksum. */
    buf[LEN / 2] ^= 0x10;
    assert_int_not_equal(fn_crc32c(0, buf, LEN), whole);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_first_use_threads),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_le_layout),
        cmocka_unit_test(test_le_round_trip),
        cmocka_unit_test(test_rd_short_read),
        cmocka_unit_test(test_rd_str_bounds),
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_matches_reference),
        cmocka_unit_test(test_crc32c_incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
