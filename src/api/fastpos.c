/*
 * fastpos.c — the strict fast path for position batches (see fastpos.h).
 */
#include "api/fastpos.h"
#include "api/jscan.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const fn_rp_names[FN_RP__COUNT] = {"driver_id", "lat", "lon", "ts", "speed_kmh", "heading_deg"};
static const size_t name_len[FN_RP__COUNT] = {9, 3, 3, 2, 9, 11};

typedef struct cur {
    const char *p, *end;
} cur;

static void ws(cur *c) { fn_js_ws(&c->p, c->end); }

static int eat(cur *c, char ch) { return fn_js_eat(&c->p, c->end, ch); }

/* A key: a string of plain ASCII letters and '_' (no escapes). */
static int key(cur *c, const char **k, size_t *klen)
{
    ws(c);
    if (c->p >= c->end || *c->p != '"')
        return -1;
    c->p++;
    *k = c->p;
    while (c->p < c->end && ((*c->p >= 'a' && *c->p <= 'z') || *c->p == '_'))
        c->p++;
    if (c->p >= c->end || *c->p != '"')
        return -1;
    *klen = (size_t)(c->p - *k);
    c->p++;
    return 0;
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A JSON number.  The common shapes (up to 15 significant digits, no
 * exponent) are converted exactly as strtod would: an integer mantissa below
 * 2^53 divided by an exact power of ten is correctly rounded.  Others go to
 * strtod itself. */
static int number(cur *c, double *out, int *integral)
{
    const char *s = c->p;
    uint64_t mant = 0;
    int digits = 0, frac = 0, neg = 0, exp_seen = 0;
    ws(c);
    s = c->p;
    if (c->p < c->end && *c->p == '-') {
        neg = 1;
        c->p++;
    }
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return -1;
    if (*c->p == '0' && c->p + 1 < c->end && c->p[1] >= '0' && c->p[1] <= '9')
        return -1; /* leading zeros are not JSON */
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        mant = mant * 10 + (uint64_t)(*c->p++ - '0');
        digits++;
    }
    *integral = 1;
    if (c->p < c->end && *c->p == '.') {
        *integral = 0;
        c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return -1;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            mant = mant * 10 + (uint64_t)(*c->p++ - '0');
            digits++;
            frac++;
        }
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        *integral = 0;
        exp_seen = 1;
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return -1;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            c->p++;
    }
    if (*integral && digits > 18)
        return -1; /* beyond a 64-bit integer: let jansson say so */
    if (!exp_seen && digits <= 15) {
        double v = (double)mant;
        if (frac)
            v /= pow10_tab[frac];
        *out = neg ? -v : v;
        return 0;
    }
    {
        char tmp[64];
        size_t len = (size_t)(c->p - s);
        char *e;
        if (len >= sizeof(tmp))
            return -1;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        *out = strtod(tmp, &e);
        /* An overflow (1e400) is refused by jansson as "real number
         * overflow": decline, so that both paths give that same answer. */
        return *e == '\0' && isfinite(*out) ? 0 : -1;
    }
}

static int item(cur *c, fn_raw_pos *r)
{
    unsigned seen = 0;
    memset(r, 0, sizeof(*r));
    if (!eat(c, '{'))
        return -1;
    if (eat(c, '}'))
        return 0;
    for (;;) {
        const char *k;
        size_t klen;
        int f = -1, integral;
        if (key(c, &k, &klen) != 0 || !eat(c, ':'))
            return -1;
        for (int i = 0; i < FN_RP__COUNT; i++)
            if (name_len[i] == klen && memcmp(fn_rp_names[i], k, klen) == 0) {
                f = i;
                break;
            }
        if (f < 0)
            return -1; /* an unknown key: the general parser skips it */
        if (seen & (1u << f))
            return -1; /* a duplicate: the general parser refuses it */
        seen |= 1u << f;
        ws(c);
        if (c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
            c->p += 4;
        } else {
            if (number(c, &r->v[f], &integral) != 0)
                return -1;
            r->present |= 1u << f;
            if (integral)
                r->integral |= 1u << f;
        }
        if (eat(c, ','))
            continue;
        if (eat(c, '}'))
            break;
        return -1;
    }
    return 0;
}

long fn_fastpos_parse(const char *body, size_t n, fn_raw_pos *out, size_t cap)
{
    cur c = {body, body + n};
    const char *k;
    size_t klen, count = 0;
    if (!eat(&c, '{') || key(&c, &k, &klen) != 0 || klen != 9 || memcmp(k, "positions", 9) != 0 || !eat(&c, ':') ||
        !eat(&c, '['))
        return -1;
    if (!eat(&c, ']')) {
        for (;;) {
            if (count == cap || item(&c, &out[count]) != 0)
                return -1;
            count++;
            if (eat(&c, ','))
                continue;
            if (eat(&c, ']'))
                break;
            return -1;
        }
    }
    if (!eat(&c, '}'))
        return -1;
    ws(&c);
    return c.p == c.end ? (long)count : -1;
}
