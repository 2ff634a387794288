/*
 * buf.h — a growable byte buffer with a size cap (in the spirit of curl's
 * dynbuf), little-endian encoders for building log records and snapshots,
 * and a bounds-checked reader for decoding them.
 *
 * Every integer on disk is little-endian; floating-point values are stored
 * as their IEEE-754 binary64 bit pattern.  Strings are a u16 byte length
 * followed by the bytes (no terminator).
 */
#ifndef FN_BUF_H
#define FN_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct fn_buf {
    uint8_t *data; /* owned; NULL until the first write */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
    size_t max;    /* writes that would grow past this fail; 0 = no cap */
} fn_buf;

/* Initialises an empty buffer that may grow to max bytes (0 = no cap). */
void fn_buf_init(fn_buf *b, size_t max);
/* Frees the buffer's memory and leaves it empty and reusable. */
void fn_buf_free(fn_buf *b);
/* Empties the buffer, keeping its memory. */
static inline void fn_buf_reset(fn_buf *b) { b->len = 0; }
/* Ensures room for n more bytes; returns 0, or FN_ETOOBIG past the cap. */
int fn_buf_reserve(fn_buf *b, size_t n);
/* Appends n bytes; returns 0 or FN_ETOOBIG. */
int fn_buf_put(fn_buf *b, const void *p, size_t n);
/* Appends printf-formatted text; returns 0 or FN_ETOOBIG. */
int fn_buf_printf(fn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Little-endian encoders; they return 0 or FN_ETOOBIG like fn_buf_put. */
int fn_buf_u8(fn_buf *b, uint8_t v);
int fn_buf_u16(fn_buf *b, uint16_t v);
int fn_buf_u32(fn_buf *b, uint32_t v);
int fn_buf_u64(fn_buf *b, uint64_t v);
int fn_buf_i64(fn_buf *b, int64_t v);
int fn_buf_f64(fn_buf *b, double v);
/* A string of at most 65535 bytes: u16 length, then the bytes. */
int fn_buf_str(fn_buf *b, const char *s);

/* A reader over bytes someone else owns.  After the first short read every
 * getter returns zero values and sets err, so decoders check once at the end. */
typedef struct fn_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
    int err; /* 0, or 1 once a read ran past the end */
} fn_rd;

static inline void fn_rd_init(fn_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->err = 0;
}
/* Points *out at the next n bytes and skips them; returns 0 or -1 when short. */
int fn_rd_bytes(fn_rd *r, const uint8_t **out, size_t n);
uint8_t fn_rd_u8(fn_rd *r);
uint16_t fn_rd_u16(fn_rd *r);
uint32_t fn_rd_u32(fn_rd *r);
uint64_t fn_rd_u64(fn_rd *r);
int64_t fn_rd_i64(fn_rd *r);
double fn_rd_f64(fn_rd *r);
/* Copies a u16-length string into out (size outsz, NUL-terminated); a string
 * longer than outsz-1 sets err.  Returns the length. */
size_t fn_rd_str(fn_rd *r, char *out, size_t outsz);

/* Raw little-endian loads and stores for fixed headers. */
static inline void fn_le32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void fn_le64_put(uint8_t *p, uint64_t v)
{
    fn_le32_put(p, (uint32_t)v);
    fn_le32_put(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t fn_le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t fn_le64_get(const uint8_t *p)
{
    return (uint64_t)fn_le32_get(p) | (uint64_t)fn_le32_get(p + 4) << 32;
}

/* CRC-32C (Castagnoli), the checksum of log records and snapshot files.
 * Pass 0 as crc to start; feed the previous result to continue. */
uint32_t fn_crc32c(uint32_t crc, const void *p, size_t n);

#endif
