/*
 * jw.c — the JSON writer behind jw.h.
 */
#include "api/jw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fn_jw_init(fn_jw *w, fn_buf *b)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
    w->first[0] = 1;
}

static inline void put(fn_jw *w, const char *s, size_t n)
{
    fn_buf *b = w->b;
    if (b->len + n <= b->cap) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    } else {
        (void)fn_buf_put(b, s, n);
    }
}

static inline void putc1(fn_jw *w, char c)
{
    fn_buf *b = w->b;
    if (b->len < b->cap)
        b->data[b->len++] = (uint8_t)c;
    else
        (void)fn_buf_put(b, &c, 1);
}

static void put_escaped(fn_jw *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *run = s;
    putc1(w, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, u, 6);
        }
        }
    }
    put(w, run, (size_t)(s - run));
    putc1(w, '"');
}

/* The comma before a member and its key. */
static void member(fn_jw *w, const char *key)
{
    if (!w->first[w->depth])
        putc1(w, ',');
    w->first[w->depth] = 0;
    if (key) {
        put_escaped(w, key);
        putc1(w, ':');
    }
}

static void open(fn_jw *w, const char *key, char o, char c)
{
    member(w, key);
    putc1(w, o);
    if (w->depth + 1 >= FN_JW_MAX_DEPTH)
        abort(); /* a caller nesting deeper than any reply needs: a bug, not input */
    w->depth++;
    w->first[w->depth] = 1;
    w->close[w->depth] = c;
}

void fn_jw_obj(fn_jw *w, const char *key) { open(w, key, '{', '}'); }
void fn_jw_arr(fn_jw *w, const char *key) { open(w, key, '[', ']'); }

void fn_jw_end(fn_jw *w)
{
    if (w->depth > 0)
        putc1(w, w->close[w->depth--]);
}

void fn_jw_str(fn_jw *w, const char *key, const char *v)
{
    member(w, key);
    if (v)
        put_escaped(w, v);
    else
        put(w, "null", 4);
}

static void put_u64(fn_jw *w, uint64_t v)
{
    char d[24];
    int i = (int)sizeof(d);
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(w, d + i, sizeof(d) - (size_t)i);
}

void fn_jw_int(fn_jw *w, const char *key, int64_t v)
{
    member(w, key);
    if (v < 0) {
        putc1(w, '-');
        put_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(w, (uint64_t)v);
    }
}

void fn_jw_bool(fn_jw *w, const char *key, int v)
{
    member(w, key);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void fn_jw_null(fn_jw *w, const char *key)
{
    member(w, key);
    put(w, "null", 4);
}

/* As jansson's dump: "%.15g", ".0" when that looks like an integer, and an
 * exponent without its '+' or leading zeros. */
static void put_real(fn_jw *w, double v)
{
    char s[40], *e;
    int n = snprintf(s, sizeof(s), "%.15g", v);
    if (!strpbrk(s, ".eE")) {
        put(w, s, (size_t)n);
        put(w, ".0", 2);
        return;
    }
    e = strchr(s, 'e');
    if (e) {
        char *src = e + 1, *dst = e + 1;
        if (*src == '+')
            src++;
        else if (*src == '-')
            *dst++ = *src++;
        while (*src == '0' && src[1])
            src++;
        memmove(dst, src, strlen(src) + 1);
        n = (int)strlen(s);
    }
    put(w, s, (size_t)n);
}

void fn_jw_raw_fixed(fn_jw *w, double v, int decimals)
{
    static const int64_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
    int64_t scaled, ip, fp;
    char frac[12];
    int nf;
    if (decimals < 0)
        decimals = 0;
    if (decimals > 9)
        decimals = 9;
    if (!isfinite(v) || fabs(v) * (double)pow10[decimals] > 9e15) {
        put_real(w, round(v * (double)pow10[decimals]) / (double)pow10[decimals]);
        return;
    }
    scaled = llround(v * (double)pow10[decimals]);
    if (scaled == 0 && signbit(v)) /* round() keeps the sign of a negative that rounds to zero */
        putc1(w, '-');
    if (scaled < 0) {
        putc1(w, '-');
        scaled = -scaled;
    }
    ip = scaled / pow10[decimals];
    fp = scaled % pow10[decimals];
    put_u64(w, (uint64_t)ip);
    putc1(w, '.');
    for (int i = decimals - 1; i >= 0; i--, fp /= 10)
        frac[i] = (char)('0' + fp % 10);
    nf = decimals;
    while (nf > 1 && frac[nf - 1] == '0')
        nf--;
    if (nf == 0)
        frac[nf++] = '0';
    put(w, frac, (size_t)nf);
}

void fn_jw_fixed(fn_jw *w, const char *key, double v, int decimals)
{
    member(w, key);
    if (!isfinite(v)) {
        put(w, "null", 4);
        return;
    }
    fn_jw_raw_fixed(w, v, decimals);
}

void fn_jw_real(fn_jw *w, const char *key, double v)
{
    member(w, key);
    if (!isfinite(v))
        put(w, "null", 4);
    else
        put_real(w, v);
}

void fn_jw_str_open(fn_jw *w, const char *key)
{
    member(w, key);
    putc1(w, '"');
}

void fn_jw_raw(fn_jw *w, const char *text) { put(w, text, strlen(text)); }

void fn_jw_str_close(fn_jw *w) { putc1(w, '"'); }
