/*
 * qsketch.h — a mergeable quantile sketch of positive values with a
 * relative-error guarantee, the building block of the lane price index
 * (issue 6: count and price-per-km p25/median/p75 per origin province x
 * destination province x truck type x day).
 *
 * How it works.  Values are counted in logarithmic buckets: bucket i holds
 * the values in (gamma^(i-1), gamma^i], and a quantile is answered with the
 * one value of its bucket that is within a relative distance alpha of both
 * bucket ends.  Two sketches merge by adding counts bucket by bucket, which
 * is exactly what adding both streams to one sketch does, so per-day cells
 * can be rolled up into weeks, regions or all truck types without loss.
 *
 * Rank definition.  For n values sorted x_1 <= ... <= x_n and q in [0, 1],
 * the q-quantile is x_r with r = fn_qs_rank(q, n) = max(1, ceil(q * n)):
 * q = 0 is the minimum, q = 1 the maximum, and the median of an even count
 * is the lower of the two middle values.  q * n is a double product, so a
 * product within a relative 1e-12 above an integer counts as that integer:
 * q = 0.07 and n = 100 give rank 7 although 0.07 * 100 rounds to
 * 7.000000000000001 (0.07 has no exact binary form).
 *
 * Error bound.  If x is the exact q-quantile by that definition and
 * FN_QS_MIN <= x <= FN_QS_MAX, the answer v satisfies |v - x| <= 0.01 * x
 * (FN_QS_ALPHA).  The buckets are built from 0.00999 rather than 0.01, so
 * the bound holds strictly despite floating-point rounding in log/exp.
 * Values outside [FN_QS_MIN, FN_QS_MAX] are still counted (in the first or
 * last bucket) but also in the under/over counters, so a caller can see
 * that an answer may have come from a clamped value, for which no bound
 * holds.
 *
 * Memory.  A sketch is a 32-byte struct plus, once it holds a value, one
 * malloc'ed block of 6 bytes per bucket slot (u32 count + u16 bucket index),
 * kept sorted by bucket: only non-empty buckets are stored, capacity
 * doubles from 4 and never exceeds the FN_QS_NBUCKETS buckets.  Prices of
 * one lane and day rarely span more than a factor of 4 (about 70 buckets),
 * so a cell with k distinct buckets costs about 32 + 6 * 2k bytes, an empty
 * cell 32 bytes; the worst case is 32 + 6 * 808 = 4880 bytes.  A dense
 * array would cost 3232 bytes for every cell of 31 x 31 x 12 x days.
 *
 * Serialized form (version 1, little-endian), 13 + 6k bytes:
 *   u8  version       1
 *   u16 nbuckets      FN_QS_NBUCKETS (the bucket layout of this version)
 *   u32 under         values below FN_QS_MIN, <= the count of bucket 0
 *   u32 over          values above FN_QS_MAX, <= the count of the last bucket
 *   u16 k             non-empty buckets, <= nbuckets
 *   k x { u16 bucket, u32 count }  buckets strictly increasing, counts >= 1
 * The form is canonical: equal sketches serialize to equal bytes.
 *
 * Not thread-safe; a sketch belongs to whoever holds it.
 */
#ifndef FN_QSKETCH_H
#define FN_QSKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define FN_QS_ALPHA 0.01     /* the relative error bound stated above */
#define FN_QS_MIN 0.01       /* smallest value covered by the bound */
#define FN_QS_MAX 100000.0   /* largest value covered by the bound */
#define FN_QS_NBUCKETS 808   /* buckets i = -230 .. 577 of gamma = 1.00999 / 0.99001 */
#define FN_QS_VERSION 1

typedef struct fn_qsketch {
    uint8_t *blk;   /* owned: cap u32 counts, then cap u16 bucket indexes; NULL when cap = 0 */
    uint16_t len;   /* non-empty buckets, sorted by index */
    uint16_t cap;   /* slots in blk, <= FN_QS_NBUCKETS */
    uint32_t under; /* values < FN_QS_MIN, counted in bucket 0 as well */
    uint32_t over;  /* values > FN_QS_MAX, counted in the last bucket as well */
    uint64_t n;     /* all values: the sum of the bucket counts */
} fn_qsketch;

/* Initialises an empty sketch; it allocates nothing until the first value. */
void fn_qs_init(fn_qsketch *s);
/* Frees the sketch's memory and leaves it empty and reusable. */
void fn_qs_free(fn_qsketch *s);

/* Adds one value.  Returns 0, or FN_EINVAL (nothing added) when the value
 * is not a positive finite number or its bucket's u32 count would overflow.
 * Out of memory aborts, as everywhere in Freightnet (fn_xmalloc). */
int fn_qs_add(fn_qsketch *s, double v);
/* Adds the value n times, exactly as n calls of fn_qs_add would; n = 0 is a
 * no-op.  Returns 0 or FN_EINVAL as fn_qs_add. */
int fn_qs_add_n(fn_qsketch *s, double v, uint32_t n);

/* Adds src's values to dst: afterwards dst is exactly the sketch of both
 * streams.  dst == src is allowed (doubles every count).  Returns 0, or
 * FN_EINVAL with dst unchanged when a bucket count would overflow. */
int fn_qs_merge(fn_qsketch *dst, const fn_qsketch *src);

/* Values added, clamped ones included. */
static inline uint64_t fn_qs_count(const fn_qsketch *s) { return s->n; }

/* The rank of the q-quantile of n values (see the definition above);
 * 1 <= rank <= n for n >= 1 and q in [0, 1]. */
uint64_t fn_qs_rank(double q, uint64_t n);

/* Stores the q-quantile in *out, within the bound stated above.  Returns 0,
 * FN_EINVAL when q is not in [0, 1], or FN_ENOTFOUND when the sketch is
 * empty. */
int fn_qs_quantile(const fn_qsketch *s, double q, double *out);

/* Appends the serialized sketch to b.  Returns 0 or FN_ETOOBIG (b's cap). */
int fn_qs_write(const fn_qsketch *s, fn_buf *b);
/* Reads one serialized sketch from r into s (initialised; its previous
 * content is replaced).  Returns 0, or FN_ECORRUPT with s unchanged when
 * the bytes are truncated or break any rule of the format; it never reads
 * past r's end, and r's position after an error is unspecified.  Bytes
 * after the sketch are left in r for the caller. */
int fn_qs_read(fn_qsketch *s, fn_rd *r);

#endif
