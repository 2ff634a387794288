/*
 * jw.h — a streaming JSON writer into a byte buffer, for the hot read
 * routes where building a jansson tree and printing every number with
 * "%.15g" costs more than the search behind the answer.  The output is the
 * same JSON the jansson views produce (same keys in the same order, numbers
 * with the same values; reals always carry a decimal point, as jansson
 * writes them).
 */
#ifndef FN_JW_H
#define FN_JW_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define FN_JW_MAX_DEPTH 16

typedef struct fn_jw {
    fn_buf *b;
    int depth;
    uint8_t first[FN_JW_MAX_DEPTH]; /* no member written yet at this depth */
    char close[FN_JW_MAX_DEPTH];    /* '}' or ']' */
} fn_jw;

void fn_jw_init(fn_jw *w, fn_buf *b);
/* Opens an object or array; key is the member name inside an object, NULL
 * inside an array or at the top.  Nesting deeper than FN_JW_MAX_DEPTH - 1
 * is a programming error and aborts. */
void fn_jw_obj(fn_jw *w, const char *key);
void fn_jw_arr(fn_jw *w, const char *key);
void fn_jw_end(fn_jw *w);
/* A string (escaped; NULL writes null), an integer, a boolean, null. */
void fn_jw_str(fn_jw *w, const char *key, const char *v);
void fn_jw_int(fn_jw *w, const char *key, int64_t v);
void fn_jw_bool(fn_jw *w, const char *key, int v);
void fn_jw_null(fn_jw *w, const char *key);
/* A real rounded to `decimals` places (0-9), trailing zeros dropped but one
 * decimal kept ("12.0"), as json_real(round(v * 10^d) / 10^d) prints. */
void fn_jw_fixed(fn_jw *w, const char *key, double v, int decimals);
/* A real as jansson prints it with JSON_REAL_PRECISION(15). */
void fn_jw_real(fn_jw *w, const char *key, double v);
/* Appends text verbatim inside a string being built by fn_jw_str_open /
 * fn_jw_str_close (the caller vouches it needs no escaping). */
void fn_jw_str_open(fn_jw *w, const char *key);
void fn_jw_raw(fn_jw *w, const char *text);
void fn_jw_raw_fixed(fn_jw *w, double v, int decimals);
void fn_jw_str_close(fn_jw *w);

#endif
