/*
 * test_api_fastpos.c — the fast position-batch parser must agree with
 * jansson on every body it accepts, and decline what it does not fully
 * understand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/fastpos.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Writes a number in one of several textual forms. */
static int put_num(char *out, size_t sz, int integral)
{
    switch (next() % 6) {
    case 0: return snprintf(out, sz, "%lld", (long long)(next() % 4000000000ull));
    case 1: return snprintf(out, sz, "-%llu", (unsigned long long)(next() % 1000));
    case 2: return integral ? snprintf(out, sz, "%llu", (unsigned long long)(next() % 100000)) : snprintf(out, sz, "%.6f", (double)(next() % 100000000) / 1e6);
    case 3: return snprintf(out, sz, "%.17g", (double)(next() % 1000000007) / 977.0);
    case 4: return snprintf(out, sz, "%.3e", (double)(next() % 100000) / 7.0);
    default: return snprintf(out, sz, "0.%llu", (unsigned long long)(next() % 1000000000000000000ull));
    }
}

static int accepted_fast;

static void compare_body(const char *body, int must_be_fast)
{
    static fn_raw_pos raw[64];
    long n = fn_fastpos_parse(body, strlen(body), raw, 64);
    json_error_t err;
    json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, &err), *arr;
    if (must_be_fast)
        assert_true(n >= 0);
    if (n < 0) {
        json_decref(root);
        return;
    }
    accepted_fast++;
    /* Whatever the fast path accepts, jansson accepts with the same values. */
    assert_non_null(root);
    arr = json_object_get(root, "positions");
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), (size_t)n);
    for (long i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, (size_t)i);
        for (int k = 0; k < FN_RP__COUNT; k++) {
            json_t *v = json_object_get(o, fn_rp_names[k]);
            int present = v && !json_is_null(v);
            assert_int_equal(present, !!(raw[i].present & (1u << k)));
            if (!present)
                continue;
            assert_int_equal(json_is_integer(v), !!(raw[i].integral & (1u << k)));
            assert_true(json_number_value(v) == raw[i].v[k]);
        }
    }
    json_decref(root);
}

static void test_random_bodies_agree(void **state)
{
    (void)state;
    char body[16384];
    for (int round = 0; round < 3000; round++) {
        size_t len = 0;
        int items = (int)(next() % 8);
        len += (size_t)snprintf(body + len, sizeof(body) - len, "{ \"positions\" :[");
        for (int i = 0; i < items; i++) {
            int first = 1;
            len += (size_t)snprintf(body + len, sizeof(body) - len, "%s{", i ? ",\n" : "");
            for (int k = 0; k < FN_RP__COUNT; k++) {
                if (next() % 5 == 0)
                    continue;
                len += (size_t)snprintf(body + len, sizeof(body) - len, "%s\"%s\": ", first ? "" : ", ", fn_rp_names[k]);
                first = 0;
                if (next() % 10 == 0)
                    len += (size_t)snprintf(body + len, sizeof(body) - len, "null");
                else
                    len += (size_t)put_num(body + len, sizeof(body) - len, k == FN_RP_DRIVER || k == FN_RP_TS);
            }
            len += (size_t)snprintf(body + len, sizeof(body) - len, "}");
        }
        snprintf(body + len, sizeof(body) - len, "] }");
        compare_body(body, 0);
    }
    /* The generator only writes valid JSON in the fast subset, so every body
     * must have taken the fast path and been compared. */
    assert_int_equal(accepted_fast, 3000);
}

static void test_typical_batch_is_fast(void **state)
{
    (void)state;
    compare_body("{\"positions\":[{\"driver_id\":12,\"lat\":26.647,\"lon\":106.63,\"ts\":1795600000,"
                 "\"speed_kmh\":61.5,\"heading_deg\":270}]}", 1);
    compare_body("{\"positions\":[]}", 1);
}

static void test_declines_what_it_does_not_know(void **state)
{
    static fn_raw_pos raw[4];
    const char *bodies[] = {
        "{\"positions\":[{\"driver_id\":1,\"extra\":1}]}",             /* unknown key */
        "{\"positions\":[{\"driver_id\":1,\"driver_id\":2}]}",         /* duplicate */
        "{\"positions\":[{\"lat\":\"26.5\"}]}",                        /* string value */
        "{\"positions\":[{\"lat\":01}]}",                               /* leading zero */
        "{\"positions\":[{\"lat\":1.}]}",                               /* bad number */
        "{\"positions\":[{\"lat\":1}],\"x\":2}",                        /* other top key */
        "{\"positions\":[{\"lat\":1}]} x",                              /* trailing bytes */
        "{\"positions\":[{\"ts\":123456789012345678901}]}",            /* too big an integer */
        "{\"positions\":[1]}",                                          /* not an object */
        "{\"positions\":[{},{},{},{},{}]}",                             /* more than cap */
        "{\"po\\u0073itions\":[]}",                                     /* escape in a key */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        assert_int_equal(fn_fastpos_parse(bodies[i], strlen(bodies[i]), raw, 4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_bodies_agree),
        cmocka_unit_test(test_typical_batch_is_fast),
        cmocka_unit_test(test_declines_what_it_does_not_know),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
