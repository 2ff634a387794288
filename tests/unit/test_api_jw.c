/*
 * test_api_jw.c — the streaming JSON writer (src/api/jw.c) against jansson:
 * the hot routes it serves must answer with exactly the bytes the jansson
 * views would (fn_reply prints with JSON_COMPACT | JSON_REAL_PRECISION(15)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/jw.h"
#include "testutil.h"

static void assert_same(fn_buf *b, json_t *want)
{
    char *s = json_dumps(want, JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY);
    assert_non_null(s);
    if (b->len != strlen(s) || memcmp(b->data, s, b->len) != 0)
        fail_msg("jw wrote %.*s, jansson %s", (int)b->len, (const char *)b->data, s);
    free(s);
    json_decref(want);
}

static double pow10i(int d) { return pow(10.0, d); }

/* Fixed-decimal reals equal json_real(round(v * 10^d) / 10^d). */
static void test_fixed_equals_rounded_real(void **state)
{
    uint64_t s = 3;
    fn_buf b;
    (void)state;
    fn_buf_init(&b, 0);
    for (int i = 0; i < 200000; i++) {
        int d = (int)(rng_next(&s) % 4);
        double v;
        switch (rng_next(&s) % 5) {
        case 0: v = rng_range(&s, -1, 1); break;
        case 1: v = rng_range(&s, 0, 1000); break;
        case 2: v = floor(rng_range(&s, 0, 100000)) / pow10i(d); break;  /* exact decimals */
        case 3: v = (floor(rng_range(&s, 0, 10000)) + 0.5) / pow10i(d); break; /* halfway cases */
        default: v = rng_range(&s, -1e7, 1e7); break;
        }
        fn_jw w;
        fn_buf_reset(&b);
        fn_jw_init(&w, &b);
        fn_jw_fixed(&w, NULL, v, d);
        assert_same(&b, json_real(round(v * pow10i(d)) / pow10i(d)));
    }
    fn_buf_free(&b);
}

/* Strings, integers, booleans, null, nesting and keys. */
static void test_document(void **state)
{
    static const char *strs[] = {"", "plain", "quote \" backslash \\ slash /", "ctl \x01\x1f \b\f\n\r\t",
                                 "高栏车 湘A12345", "emoji \xf0\x9f\x9a\x9a"};
    fn_buf b;
    fn_jw w;
    json_t *want = json_object(), *arr = json_array();
    (void)state;
    fn_buf_init(&b, 0);
    fn_jw_init(&w, &b);
    fn_jw_obj(&w, NULL);
    fn_jw_int(&w, "id", -9007199254740993LL);
    fn_jw_int(&w, "big", INT64_MAX);
    json_object_set_new(want, "id", json_integer(-9007199254740993LL));
    json_object_set_new(want, "big", json_integer(INT64_MAX));
    fn_jw_arr(&w, "strings");
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        fn_jw_str(&w, NULL, strs[i]);
        json_array_append_new(arr, json_string(strs[i]));
    }
    fn_jw_str(&w, NULL, NULL);
    json_array_append_new(arr, json_null());
    fn_jw_end(&w);
    json_object_set_new(want, "strings", arr);
    fn_jw_obj(&w, "k\"ey");
    fn_jw_bool(&w, "t", 1);
    fn_jw_bool(&w, "f", 0);
    fn_jw_null(&w, "n");
    fn_jw_real(&w, "r", 39.910000000000004);
    fn_jw_real(&w, "w", 12.0);
    fn_jw_real(&w, "e", 1e300);
    fn_jw_str_open(&w, "detail");
    fn_jw_raw_fixed(&w, 12.25, 1);
    fn_jw_raw(&w, " km");
    fn_jw_str_close(&w);
    fn_jw_end(&w);
    json_object_set_new(want, "k\"ey", json_pack("{s:b, s:b, s:n, s:f, s:f, s:f, s:s}", "t", 1, "f", 0, "n", "r",
                                                 39.910000000000004, "w", 12.0, "e", 1e300, "detail", "12.3 km"));
    fn_jw_arr(&w, "empty");
    fn_jw_end(&w);
    json_object_set_new(want, "empty", json_array());
    fn_jw_end(&w);
    assert_same(&b, want);
    fn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_equals_rounded_real),
        cmocka_unit_test(test_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
