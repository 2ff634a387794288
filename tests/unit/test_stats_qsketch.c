/*
 * test_stats_qsketch.c — unit tests for src/stats/qsketch.c: answers against
 * exact quantiles from sorting the same stream (uniform, lognormal like
 * prices, heavy ties, one and two distinct values, one value, empty, the
 * whole covered range), the rank definition, add_n and merge against adding
 * the streams value by value (compared byte for byte after serializing),
 * the serialized form's round trip, refusal of every truncation and of
 * corrupt fields, out-of-range values and count overflow.
 */
#include "stats/qsketch.h"
#include "common/buf.h"
#include "common/fn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

static const double QS[] = {0, 0.01, 0.25, 0.5, 0.75, 0.99, 1};

/* ---- helpers --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The serialized sketch in a malloc'ed buffer of exactly *len bytes, so that
 * ASan sees any read past its end. */
static uint8_t *ser(const fn_qsketch *s, size_t *len)
{
    fn_buf b;
    uint8_t *p;
    fn_buf_init(&b, 0);
    assert_int_equal(fn_qs_write(s, &b), 0);
    assert_int_equal(b.len, 13 + 6 * (size_t)s->len);
    p = malloc(b.len ? b.len : 1);
    assert_non_null(p);
    memcpy(p, b.data, b.len);
    *len = b.len;
    fn_buf_free(&b);
    return p;
}

static void assert_same_bytes(const fn_qsketch *a, const fn_qsketch *b)
{
    size_t la, lb;
    uint8_t *pa = ser(a, &la), *pb = ser(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    free(pa);
    free(pb);
}

/* Adds the n values to a sketch and checks every q of QS against the exact
 * quantile of the sorted values, with the same rank, within the bound. */
static void check_stream(const double *vals, size_t n)
{
    fn_qsketch s;
    double *sorted = malloc((n ? n : 1) * sizeof(double));
    assert_non_null(sorted);
    memcpy(sorted, vals, n * sizeof(double));
    qsort(sorted, n, sizeof(double), cmp_double);
    fn_qs_init(&s);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fn_qs_add(&s, vals[i]), 0);
    assert_int_equal(fn_qs_count(&s), n);
    assert_int_equal(s.under, 0);
    assert_int_equal(s.over, 0);
    for (size_t k = 0; k < FN_ARRAY_LEN(QS); k++) {
        double v = -1;
        if (n == 0) {
            assert_int_equal(fn_qs_quantile(&s, QS[k], &v), FN_ENOTFOUND);
            continue;
        }
        assert_int_equal(fn_qs_quantile(&s, QS[k], &v), 0);
        double x = sorted[fn_qs_rank(QS[k], n) - 1];
        if (!(fabs(v - x) <= FN_QS_ALPHA * x))
            fail_msg("n=%zu q=%g: sketch %.17g, exact %.17g, error %.3g%%", n, QS[k], v, x, 100 * fabs(v - x) / x);
    }
    fn_qs_free(&s);
    free(sorted);
}

/* Lognormal like price per km: median 3 yuan, sigma 0.6 (Box-Muller). */
static double rng_lognormal(uint64_t *r)
{
    double u = 1.0 - rng_unit(r), w = rng_unit(r);
    return 3.0 * exp(0.6 * sqrt(-2.0 * log(u)) * cos(2 * M_PI * w));
}

/* ---- the rank definition -------------------------------------------- */

static void test_rank(void **state)
{
    (void)state;
    assert_int_equal(fn_qs_rank(0, 1), 1);
    assert_int_equal(fn_qs_rank(1, 1), 1);
    assert_int_equal(fn_qs_rank(0.5, 1), 1);
    assert_int_equal(fn_qs_rank(0, 10), 1);
    assert_int_equal(fn_qs_rank(1, 10), 10);
    assert_int_equal(fn_qs_rank(0.5, 4), 2); /* lower middle */
    assert_int_equal(fn_qs_rank(0.5, 5), 3);
    assert_int_equal(fn_qs_rank(0.25, 4), 1);
    assert_int_equal(fn_qs_rank(0.75, 4), 3);
    assert_int_equal(fn_qs_rank(0.01, 100), 1);
    assert_int_equal(fn_qs_rank(0.01, 101), 2);
    assert_int_equal(fn_qs_rank(0.99, 100), 99);
    assert_int_equal(fn_qs_rank(0.07, 100), 7); /* 0.07 * 100 = 7.000000000000001 */
    assert_int_equal(fn_qs_rank(0.29, 100), 29);
    assert_int_equal(fn_qs_rank(0.5, 0), 0);
}

/* ---- answers against exact quantiles -------------------------------- */

static void test_streams(void **state)
{
    enum { N = 20000 };
    uint64_t r = 6;
    double *v = malloc(N * sizeof(double));
    static const double ties[] = {2.5, 2.5, 3.0, 3.1, 4.75};
    (void)state;
    assert_non_null(v);

    check_stream(v, 0); /* empty */
    v[0] = 3.7;
    check_stream(v, 1);
    for (size_t i = 0; i < 1000; i++)
        v[i] = 12.34; /* one value repeated */
    check_stream(v, 1000);
    for (size_t n = 1; n <= 6; n++) { /* two values, odd and even counts, both orders */
        for (size_t i = 0; i < n; i++)
            v[i] = i % 2 ? 7.5 : 2.0;
        check_stream(v, n);
        for (size_t i = 0; i < n; i++)
            v[i] = i % 2 ? 2.0 : 7.5;
        check_stream(v, n);
    }
    for (int rep = 0; rep < 5; rep++) {
        size_t n = 1 + rng_next(&r) % N;
        for (size_t i = 0; i < n; i++)
            v[i] = rng_range(&r, 0.1, 1000);
        check_stream(v, n);
        for (size_t i = 0; i < n; i++)
            v[i] = rng_lognormal(&r);
        check_stream(v, n);
        for (size_t i = 0; i < n; i++)
            v[i] = ties[rng_next(&r) % FN_ARRAY_LEN(ties)];
        check_stream(v, n);
        /* Log-uniform over the whole covered range, both ends included. */
        for (size_t i = 0; i < n; i++)
            v[i] = FN_QS_MIN * pow(FN_QS_MAX / FN_QS_MIN, rng_unit(&r));
        v[0] = FN_QS_MIN;
        v[n - 1] = FN_QS_MAX;
        check_stream(v, n);
    }
    /* Small streams, where one value more or less moves the rank. */
    for (size_t n = 2; n <= 40; n++) {
        for (size_t i = 0; i < n; i++)
            v[i] = rng_lognormal(&r);
        check_stream(v, n);
    }
    free(v);
}

/* Every value alone, densely over the covered range: each bucket and
 * each bucket boundary region is within the bound. */
static void test_single_values_sweep(void **state)
{
    uint64_t r = 61;
    fn_qsketch s;
    (void)state;
    fn_qs_init(&s);
    for (int i = 0; i <= 200000; i++) {
        double x = i % 2 ? FN_QS_MIN * pow(FN_QS_MAX / FN_QS_MIN, i / 200000.0)
                         : FN_QS_MIN * pow(FN_QS_MAX / FN_QS_MIN, rng_unit(&r));
        double v;
        if (i == 200000)
            x = FN_QS_MAX;
        fn_qs_free(&s);
        assert_int_equal(fn_qs_add(&s, x), 0);
        assert_int_equal(fn_qs_quantile(&s, 0.5, &v), 0);
        if (!(fabs(v - x) <= FN_QS_ALPHA * x))
            fail_msg("x=%.17g: sketch %.17g", x, v);
    }
    fn_qs_free(&s);
}

/* ---- add_n and merge ------------------------------------------------ */

static void test_add_n(void **state)
{
    uint64_t r = 7;
    fn_qsketch a, b;
    (void)state;
    fn_qs_init(&a);
    fn_qs_init(&b);
    for (int i = 0; i < 300; i++) {
        double x = rng_lognormal(&r);
        uint32_t n = (uint32_t)(rng_next(&r) % 5);
        assert_int_equal(fn_qs_add_n(&a, x, n), 0);
        for (uint32_t k = 0; k < n; k++)
            assert_int_equal(fn_qs_add(&b, x), 0);
    }
    assert_int_equal(fn_qs_count(&a), fn_qs_count(&b));
    assert_same_bytes(&a, &b);
    fn_qs_free(&a);
    fn_qs_free(&b);
}

static void test_merge(void **state)
{
    enum { N = 30000, P = 4 };
    uint64_t r = 8;
    fn_qsketch whole, part[P], acc, twice, self;
    (void)state;
    fn_qs_init(&whole);
    fn_qs_init(&acc);
    fn_qs_init(&twice);
    for (int k = 0; k < P; k++)
        fn_qs_init(&part[k]);
    for (int i = 0; i < N; i++) {
        /* Mostly prices, some out of range, so the counters merge too. */
        double x = i % 1000 == 0 ? 1e-4 : i % 1000 == 1 ? 1e7 : rng_lognormal(&r);
        int k = (int)(rng_next(&r) % (P - 1)); /* part[P-1] stays empty */
        assert_int_equal(fn_qs_add(&whole, x), 0);
        assert_int_equal(fn_qs_add(&part[k], x), 0);
        assert_int_equal(fn_qs_add_n(&twice, x, 2), 0);
    }
    /* Empty into empty, then the parts in an order that is not the split's. */
    assert_int_equal(fn_qs_merge(&acc, &part[P - 1]), 0);
    assert_int_equal(fn_qs_count(&acc), 0);
    assert_null(acc.blk);
    for (int k = P - 1; k >= 0; k--)
        assert_int_equal(fn_qs_merge(&acc, &part[k]), 0);
    assert_int_equal(fn_qs_count(&acc), N);
    assert_int_equal(acc.under, N / 1000);
    assert_int_equal(acc.over, N / 1000);
    assert_same_bytes(&acc, &whole);
    for (size_t k = 0; k < FN_ARRAY_LEN(QS); k++) {
        double va, vw;
        assert_int_equal(fn_qs_quantile(&acc, QS[k], &va), 0);
        assert_int_equal(fn_qs_quantile(&whole, QS[k], &vw), 0);
        assert_true(va == vw);
    }
    /* Merging into a sketch the other way round, and into itself. */
    fn_qs_init(&self);
    assert_int_equal(fn_qs_merge(&self, &whole), 0);
    assert_same_bytes(&self, &whole);
    assert_int_equal(fn_qs_merge(&self, &self), 0);
    assert_same_bytes(&self, &twice);
    fn_qs_free(&self);
    fn_qs_free(&whole);
    fn_qs_free(&acc);
    fn_qs_free(&twice);
    for (int k = 0; k < P; k++)
        fn_qs_free(&part[k]);
}

static void test_overflow(void **state)
{
    fn_qsketch a, b;
    size_t len0, len1;
    uint8_t *before, *after;
    (void)state;
    fn_qs_init(&a);
    fn_qs_init(&b);
    assert_int_equal(fn_qs_add_n(&a, 5.0, UINT32_MAX - 1), 0);
    assert_int_equal(fn_qs_add(&a, 9.0), 0);
    assert_int_equal(fn_qs_add(&a, 5.0), 0); /* exactly UINT32_MAX */
    assert_int_equal(fn_qs_add(&a, 5.0), FN_EINVAL);
    assert_int_equal(fn_qs_add_n(&a, 5.0, 2), FN_EINVAL);
    assert_int_equal(fn_qs_count(&a), (uint64_t)UINT32_MAX + 1);
    assert_int_equal(fn_qs_add(&b, 9.0), 0);
    assert_int_equal(fn_qs_add(&b, 5.0), 0);
    /* The merge would overflow bucket 5.0 after bucket 9.0 fitted: refused
     * whole, dst byte for byte as before. */
    before = ser(&a, &len0);
    assert_int_equal(fn_qs_merge(&a, &b), FN_EINVAL);
    after = ser(&a, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    assert_int_equal(fn_qs_count(&a), (uint64_t)UINT32_MAX + 1);
    free(before);
    free(after);
    fn_qs_free(&a);
    fn_qs_free(&b);
}

/* ---- invalid input and out-of-range values -------------------------- */

static void test_invalid_and_out_of_range(void **state)
{
    fn_qsketch s;
    double v;
    (void)state;
    fn_qs_init(&s);
    assert_int_equal(fn_qs_quantile(&s, 0.5, &v), FN_ENOTFOUND);
    assert_int_equal(fn_qs_add(&s, 0.0), FN_EINVAL);
    assert_int_equal(fn_qs_add(&s, -1.0), FN_EINVAL);
    assert_int_equal(fn_qs_add(&s, NAN), FN_EINVAL);
    assert_int_equal(fn_qs_add(&s, INFINITY), FN_EINVAL);
    assert_int_equal(fn_qs_add_n(&s, -2.0, 3), FN_EINVAL);
    assert_int_equal(fn_qs_add_n(&s, 2.0, 0), 0);
    assert_int_equal(fn_qs_count(&s), 0);

    assert_int_equal(fn_qs_add(&s, 0.001), 0);
    assert_int_equal(fn_qs_add(&s, 1e-300), 0);
    assert_int_equal(fn_qs_add(&s, FN_QS_MIN), 0); /* in range: the ends are */
    assert_int_equal(fn_qs_add(&s, FN_QS_MAX), 0);
    assert_int_equal(fn_qs_add(&s, 2e5), 0);
    assert_int_equal(fn_qs_add_n(&s, 1e300, 3), 0);
    assert_int_equal(fn_qs_add(&s, 3.0), 0);
    assert_int_equal(fn_qs_count(&s), 9);
    assert_int_equal(s.under, 2);
    assert_int_equal(s.over, 4);
    /* Clamped values land in the end buckets: answers at the range's ends. */
    assert_int_equal(fn_qs_quantile(&s, 0, &v), 0);
    assert_true(v <= FN_QS_MIN * (1 + FN_QS_ALPHA));
    assert_int_equal(fn_qs_quantile(&s, 1, &v), 0);
    assert_true(v >= FN_QS_MAX * (1 - FN_QS_ALPHA) && v <= FN_QS_MAX * 1.02);

    assert_int_equal(fn_qs_quantile(&s, -0.01, &v), FN_EINVAL);
    assert_int_equal(fn_qs_quantile(&s, 1.01, &v), FN_EINVAL);
    assert_int_equal(fn_qs_quantile(&s, NAN, &v), FN_EINVAL);
    fn_qs_free(&s);
}

/* ---- serialized form ------------------------------------------------ */

static void test_roundtrip(void **state)
{
    uint64_t r = 9;
    fn_qsketch a, b, e, full;
    fn_buf buf;
    fn_rd rd;
    (void)state;
    fn_qs_init(&a);
    fn_qs_init(&e);
    fn_qs_init(&full);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(fn_qs_add(&a, rng_lognormal(&r)), 0);
    assert_int_equal(fn_qs_add(&a, 1e-3), 0);
    assert_int_equal(fn_qs_add_n(&a, 1e6, 2), 0);
    /* One value in every bucket: the largest sketch there is. */
    for (int i = 0; i < 2000000 && full.len < FN_QS_NBUCKETS; i++)
        assert_int_equal(fn_qs_add(&full, 0.0098 * pow(1.0203, i / 8.0)), 0);
    assert_int_equal(full.len, FN_QS_NBUCKETS);
    assert_int_equal(full.cap, FN_QS_NBUCKETS);

    /* Three sketches back to back; each read leaves the rest in the reader. */
    fn_buf_init(&buf, 0);
    assert_int_equal(fn_qs_write(&a, &buf), 0);
    assert_int_equal(fn_qs_write(&e, &buf), 0);
    assert_int_equal(fn_qs_write(&full, &buf), 0);
    assert_int_equal(buf.len, 13 + 6 * (size_t)a.len + 13 + 13 + 6 * FN_QS_NBUCKETS);
    assert_int_equal(buf.data[0], FN_QS_VERSION);
    fn_rd_init(&rd, buf.data, buf.len);
    fn_qs_init(&b);
    assert_int_equal(fn_qs_add(&b, 42.0), 0); /* replaced by the read */
    assert_int_equal(fn_qs_read(&b, &rd), 0);
    assert_int_equal(fn_qs_count(&b), fn_qs_count(&a));
    assert_int_equal(b.under, 1);
    assert_int_equal(b.over, 2);
    assert_same_bytes(&a, &b);
    for (size_t k = 0; k < FN_ARRAY_LEN(QS); k++) {
        double va, vb;
        assert_int_equal(fn_qs_quantile(&a, QS[k], &va), 0);
        assert_int_equal(fn_qs_quantile(&b, QS[k], &vb), 0);
        assert_true(va == vb);
    }
    assert_int_equal(fn_qs_read(&b, &rd), 0);
    assert_int_equal(fn_qs_count(&b), 0);
    assert_same_bytes(&e, &b);
    assert_int_equal(fn_qs_read(&b, &rd), 0);
    assert_same_bytes(&full, &b);
    assert_int_equal(rd.off, buf.len);
    /* A read sketch keeps growing and merging like any other. */
    assert_int_equal(fn_qs_merge(&b, &a), 0);
    assert_int_equal(fn_qs_count(&b), fn_qs_count(&a) + fn_qs_count(&full));

    fn_buf_free(&buf);
    fn_qs_free(&a);
    fn_qs_free(&b);
    fn_qs_free(&e);
    fn_qs_free(&full);
}

/* Every proper prefix is refused and leaves the target sketch unchanged;
 * each prefix is its own allocation of exactly that size, so under ASan a
 * read past the end would be caught too. */
static void test_truncation(void **state)
{
    uint64_t r = 10;
    fn_qsketch a, t, keep;
    size_t len;
    uint8_t *p;
    (void)state;
    fn_qs_init(&a);
    fn_qs_init(&t);
    fn_qs_init(&keep);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(fn_qs_add(&a, rng_lognormal(&r)), 0);
    assert_int_equal(fn_qs_add(&a, 1e-5), 0);
    assert_int_equal(fn_qs_add(&t, 77.0), 0);
    assert_int_equal(fn_qs_add(&keep, 77.0), 0);
    p = ser(&a, &len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *q = malloc(cut ? cut : 1);
        fn_rd rd;
        assert_non_null(q);
        memcpy(q, p, cut);
        fn_rd_init(&rd, q, cut);
        assert_int_equal(fn_qs_read(&t, &rd), FN_ECORRUPT);
        assert_true(rd.off <= cut);
        free(q);
    }
    assert_same_bytes(&t, &keep);
    free(p);
    fn_qs_free(&a);
    fn_qs_free(&t);
    fn_qs_free(&keep);
}

/* Hand-made records, each breaking one rule of the format. */
static void test_corrupt(void **state)
{
    struct rec {
        uint8_t version;
        uint16_t nbuckets;
        uint32_t under, over;
        uint16_t k;
        uint16_t b[3];
        uint32_t c[3];
        int ok;
    };
    static const struct rec recs[] = {
        {1, FN_QS_NBUCKETS, 0, 0, 0, {0}, {0}, 1},
        {1, FN_QS_NBUCKETS, 0, 0, 3, {0, 5, FN_QS_NBUCKETS - 1}, {4, 1, 2}, 1},
        {1, FN_QS_NBUCKETS, 4, 2, 3, {0, 5, FN_QS_NBUCKETS - 1}, {4, 1, 2}, 1},
        {2, FN_QS_NBUCKETS, 0, 0, 0, {0}, {0}, 0},                               /* version */
        {0, FN_QS_NBUCKETS, 0, 0, 0, {0}, {0}, 0},                               /* version */
        {1, FN_QS_NBUCKETS - 1, 0, 0, 0, {0}, {0}, 0},                           /* layout */
        {1, FN_QS_NBUCKETS, 0, 0, 2, {5, 5}, {1, 1}, 0},                         /* repeated bucket */
        {1, FN_QS_NBUCKETS, 0, 0, 2, {6, 5}, {1, 1}, 0},                         /* unsorted */
        {1, FN_QS_NBUCKETS, 0, 0, 1, {FN_QS_NBUCKETS}, {1}, 0},                  /* bucket past the end */
        {1, FN_QS_NBUCKETS, 0, 0, 2, {3, 4}, {1, 0}, 0},                         /* empty bucket stored */
        {1, FN_QS_NBUCKETS, 5, 0, 3, {0, 5, FN_QS_NBUCKETS - 1}, {4, 1, 2}, 0},  /* under > bucket 0 */
        {1, FN_QS_NBUCKETS, 0, 3, 3, {0, 5, FN_QS_NBUCKETS - 1}, {4, 1, 2}, 0},  /* over > last bucket */
        {1, FN_QS_NBUCKETS, 1, 0, 1, {1}, {9}, 0},                               /* under without bucket 0 */
        {1, FN_QS_NBUCKETS, 0, 1, 0, {0}, {0}, 0},                               /* over, no buckets */
    };
    (void)state;
    for (size_t i = 0; i < FN_ARRAY_LEN(recs); i++) {
        const struct rec *c = &recs[i];
        fn_buf b;
        fn_rd rd;
        fn_qsketch s;
        fn_buf_init(&b, 0);
        fn_buf_u8(&b, c->version);
        fn_buf_u16(&b, c->nbuckets);
        fn_buf_u32(&b, c->under);
        fn_buf_u32(&b, c->over);
        fn_buf_u16(&b, c->k);
        for (size_t j = 0; j < c->k; j++) {
            fn_buf_u16(&b, c->b[j]);
            fn_buf_u32(&b, c->c[j]);
        }
        fn_qs_init(&s);
        fn_rd_init(&rd, b.data, b.len);
        if (fn_qs_read(&s, &rd) != (c->ok ? 0 : FN_ECORRUPT))
            fail_msg("record %zu: expected %s", i, c->ok ? "accepted" : "refused");
        if (c->ok) {
            assert_int_equal(rd.off, b.len);
            assert_int_equal(s.len, c->k);
        } else {
            assert_int_equal(fn_qs_count(&s), 0);
        }
        fn_qs_free(&s);
        fn_buf_free(&b);
    }
    /* A count of buckets larger than the layout, with the bytes present. */
    {
        fn_buf b;
        fn_rd rd;
        fn_qsketch s;
        fn_buf_init(&b, 0);
        fn_buf_u8(&b, 1);
        fn_buf_u16(&b, FN_QS_NBUCKETS);
        fn_buf_u32(&b, 0);
        fn_buf_u32(&b, 0);
        fn_buf_u16(&b, FN_QS_NBUCKETS + 1);
        for (int j = 0; j <= FN_QS_NBUCKETS; j++) {
            fn_buf_u16(&b, (uint16_t)j);
            fn_buf_u32(&b, 1);
        }
        fn_qs_init(&s);
        fn_rd_init(&rd, b.data, b.len);
        assert_int_equal(fn_qs_read(&s, &rd), FN_ECORRUPT);
        fn_qs_free(&s);
        fn_buf_free(&b);
    }
}

static void test_memory(void **state)
{
    (void)state;
    /* The per-cell cost stated in qsketch.h. */
    if (sizeof(void *) == 8)
        assert_int_equal(sizeof(fn_qsketch), 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_single_values_sweep),
        cmocka_unit_test(test_add_n),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_invalid_and_out_of_range),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
