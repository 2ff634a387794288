/*
 * buf.c — growable capped buffers, little-endian codecs and CRC-32C.
 */
#include "buf.h"
#include "fn.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fn_buf_init(fn_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void fn_buf_free(fn_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int fn_buf_reserve(fn_buf *b, size_t n)
{
    size_t need = b->len + n, cap;
    if (need < b->len || (b->max && need > b->max))
        return FN_ETOOBIG;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (b->max && cap > b->max)
        cap = b->max;
    b->data = fn_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int fn_buf_put(fn_buf *b, const void *p, size_t n)
{
    if (fn_buf_reserve(b, n) != 0)
        return FN_ETOOBIG;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int fn_buf_printf(fn_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || fn_buf_reserve(b, (size_t)n + 1) != 0)
        return FN_ETOOBIG;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int fn_buf_u8(fn_buf *b, uint8_t v) { return fn_buf_put(b, &v, 1); }

int fn_buf_u16(fn_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return fn_buf_put(b, p, 2);
}

int fn_buf_u32(fn_buf *b, uint32_t v)
{
    uint8_t p[4];
    fn_le32_put(p, v);
    return fn_buf_put(b, p, 4);
}

int fn_buf_u64(fn_buf *b, uint64_t v)
{
    uint8_t p[8];
    fn_le64_put(p, v);
    return fn_buf_put(b, p, 8);
}

int fn_buf_i64(fn_buf *b, int64_t v) { return fn_buf_u64(b, (uint64_t)v); }

int fn_buf_f64(fn_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return fn_buf_u64(b, u);
}

int fn_buf_str(fn_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 65535)
        return FN_ETOOBIG;
    if (fn_buf_u16(b, (uint16_t)n) != 0)
        return FN_ETOOBIG;
    return fn_buf_put(b, s, n);
}

int fn_rd_bytes(fn_rd *r, const uint8_t **out, size_t n)
{
    if (r->err || r->len - r->off < n) {
        r->err = 1;
        *out = NULL;
        return -1;
    }
    *out = r->p + r->off;
    r->off += n;
    return 0;
}

uint8_t fn_rd_u8(fn_rd *r)
{
    const uint8_t *p;
    return fn_rd_bytes(r, &p, 1) ? 0 : p[0];
}

uint16_t fn_rd_u16(fn_rd *r)
{
    const uint8_t *p;
    return fn_rd_bytes(r, &p, 2) ? 0 : (uint16_t)(p[0] | p[1] << 8);
}

uint32_t fn_rd_u32(fn_rd *r)
{
    const uint8_t *p;
    return fn_rd_bytes(r, &p, 4) ? 0 : fn_le32_get(p);
}

uint64_t fn_rd_u64(fn_rd *r)
{
    const uint8_t *p;
    return fn_rd_bytes(r, &p, 8) ? 0 : fn_le64_get(p);
}

int64_t fn_rd_i64(fn_rd *r) { return (int64_t)fn_rd_u64(r); }

double fn_rd_f64(fn_rd *r)
{
    uint64_t u = fn_rd_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

size_t fn_rd_str(fn_rd *r, char *out, size_t outsz)
{
    uint16_t n = fn_rd_u16(r);
    const uint8_t *p;
    if (r->err || n >= outsz || fn_rd_bytes(r, &p, n) != 0) {
        r->err = 1;
        if (outsz)
            out[0] = '\0';
        return 0;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

/* Table-driven CRC-32C, reflected polynomial 0x82F63B78, eight bytes at a
 * time (slicing-by-8); the table is built once, on first use. */
static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t fn_crc32c(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ fn_le32_get(p), hi = fn_le32_get(p + 4);
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
              crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
              crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
    return ~crc;
}
