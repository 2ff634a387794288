/*
 * qsketch.c — the log-bucket quantile sketch of qsketch.h.
 *
 * The non-empty buckets live in one block: cap u32 counts, then cap u16
 * bucket indexes (0 .. FN_QS_NBUCKETS-1, i.e. i - QS_I_MIN), both sorted by
 * index.  Two parallel arrays rather than an array of structs because a
 * {u16, u32} struct pads to 8 bytes and there may be millions of sketches.
 */
#include "stats/qsketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/fn.h"

/* The buckets are built from a slightly smaller accuracy than the promised
 * FN_QS_ALPHA, so that rounding in log() when choosing a bucket, and in
 * exp() when computing its value, cannot push an answer past the bound:
 * those errors are near 1e-13 relative, the margin is 1e-5. */
#define QS_ALPHA_INT 0.00999
#define QS_GAMMA ((1.0 + QS_ALPHA_INT) / (1.0 - QS_ALPHA_INT))
/* ceil(log_gamma(FN_QS_MIN)) = -230 and ceil(log_gamma(FN_QS_MAX)) = 577;
 * test_stats_qsketch checks that both ends are answered within the bound. */
#define QS_I_MIN (-230)

static double ln_gamma(void) { return log(QS_GAMMA); }

static uint32_t *cnt_of(const fn_qsketch *s) { return (uint32_t *)s->blk; }
static uint16_t *idx_of(const fn_qsketch *s) { return (uint16_t *)(s->blk + 4 * (size_t)s->cap); }

/* The bucket of v > 0, clamped into the covered index range. */
static uint16_t bucket_of(double v)
{
    double i = ceil(log(v) / ln_gamma()) - QS_I_MIN;
    if (i < 0)
        return 0;
    if (i > FN_QS_NBUCKETS - 1)
        return FN_QS_NBUCKETS - 1;
    return (uint16_t)i;
}

/* The value answered for bucket b: 2 g^i / (g + 1) is alpha away, relative,
 * from both ends g^(i-1) and g^i, so from every value in between. */
static double bucket_value(uint16_t b)
{
    return 2.0 * exp((double)((int)b + QS_I_MIN) * ln_gamma()) / (QS_GAMMA + 1.0);
}

/* Slots for m buckets: powers of two from 4, capped at the bucket count. */
static uint16_t cap_for(size_t m)
{
    size_t c = 4;
    while (c < m)
        c *= 2;
    return (uint16_t)(c < FN_QS_NBUCKETS ? c : FN_QS_NBUCKETS);
}

static uint8_t *blk_alloc(uint16_t cap) { return fn_xmalloc((size_t)cap * (sizeof(uint32_t) + sizeof(uint16_t))); }

void fn_qs_init(fn_qsketch *s) { memset(s, 0, sizeof(*s)); }

void fn_qs_free(fn_qsketch *s)
{
    free(s->blk);
    fn_qs_init(s);
}

/* Moves the buckets into a block of cap slots (cap >= len). */
static void regrow(fn_qsketch *s, uint16_t cap)
{
    uint8_t *nb = blk_alloc(cap);
    if (s->len) {
        memcpy(nb, cnt_of(s), s->len * sizeof(uint32_t));
        memcpy(nb + 4 * (size_t)cap, idx_of(s), s->len * sizeof(uint16_t));
    }
    free(s->blk);
    s->blk = nb;
    s->cap = cap;
}

uint64_t fn_qs_rank(double q, uint64_t n)
{
    double t = q * (double)n, k = floor(t);
    uint64_t r = (uint64_t)k;
    if (t - k > 1e-12 * t)
        r++;
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    return r;
}

int fn_qs_add(fn_qsketch *s, double v) { return fn_qs_add_n(s, v, 1); }

int fn_qs_add_n(fn_qsketch *s, double v, uint32_t n)
{
    uint16_t b, *idx;
    uint32_t *cnt;
    size_t lo = 0, hi = s->len;
    if (!(v > 0) || !isfinite(v))
        return FN_EINVAL;
    if (n == 0)
        return 0;
    b = bucket_of(v);
    /* Binary search for the first stored bucket >= b. */
    idx = s->blk ? idx_of(s) : NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx[mid] < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->len && idx[lo] == b) {
        cnt = cnt_of(s);
        if (cnt[lo] > UINT32_MAX - n)
            return FN_EINVAL;
        cnt[lo] += n;
    } else {
        if (s->len == s->cap)
            regrow(s, cap_for((size_t)s->len + 1));
        cnt = cnt_of(s);
        idx = idx_of(s);
        memmove(cnt + lo + 1, cnt + lo, (s->len - lo) * sizeof(uint32_t));
        memmove(idx + lo + 1, idx + lo, (s->len - lo) * sizeof(uint16_t));
        cnt[lo] = n;
        idx[lo] = b;
        s->len++;
    }
    /* under and over cannot overflow: each is at most its bucket's count. */
    if (v < FN_QS_MIN)
        s->under += n;
    else if (v > FN_QS_MAX)
        s->over += n;
    s->n += n;
    return 0;
}

int fn_qs_merge(fn_qsketch *dst, const fn_qsketch *src)
{
    const uint32_t *ac = cnt_of(dst), *bc = cnt_of(src);
    const uint16_t *ai, *bi;
    uint8_t *nb;
    uint32_t *oc;
    uint16_t *oi, cap;
    size_t i = 0, j = 0, m = 0;
    if (src->len == 0)
        return 0;
    ai = dst->blk ? idx_of(dst) : NULL;
    bi = idx_of(src);
    /* First pass: the merged size, and refuse before changing anything if a
     * count would overflow. */
    while (i < dst->len || j < src->len) {
        if (j == src->len || (i < dst->len && ai[i] < bi[j]))
            i++;
        else if (i == dst->len || bi[j] < ai[i])
            j++;
        else {
            if (ac[i] > UINT32_MAX - bc[j])
                return FN_EINVAL;
            i++;
            j++;
        }
        m++;
    }
    /* Second pass into a new block, which also makes dst == src safe. */
    cap = cap_for(m);
    nb = blk_alloc(cap);
    oc = (uint32_t *)nb;
    oi = (uint16_t *)(nb + 4 * (size_t)cap);
    i = j = m = 0;
    while (i < dst->len || j < src->len) {
        if (j == src->len || (i < dst->len && ai[i] < bi[j])) {
            oc[m] = ac[i];
            oi[m] = ai[i++];
        } else if (i == dst->len || bi[j] < ai[i]) {
            oc[m] = bc[j];
            oi[m] = bi[j++];
        } else {
            oc[m] = ac[i] + bc[j];
            oi[m] = ai[i];
            i++;
            j++;
        }
        m++;
    }
    {
        uint32_t under = dst->under + src->under, over = dst->over + src->over;
        uint64_t n = dst->n + src->n;
        free(dst->blk);
        dst->blk = nb;
        dst->cap = cap;
        dst->len = (uint16_t)m;
        dst->under = under;
        dst->over = over;
        dst->n = n;
    }
    return 0;
}

int fn_qs_quantile(const fn_qsketch *s, double q, double *out)
{
    const uint32_t *cnt = cnt_of(s);
    const uint16_t *idx;
    uint64_t r, cum = 0;
    if (!(q >= 0.0 && q <= 1.0))
        return FN_EINVAL;
    if (s->n == 0)
        return FN_ENOTFOUND;
    idx = idx_of(s);
    r = fn_qs_rank(q, s->n);
    for (size_t i = 0; i < s->len; i++) {
        cum += cnt[i];
        if (cum >= r) {
            *out = bucket_value(idx[i]);
            return 0;
        }
    }
    return FN_EINTERNAL; /* unreachable: n is the sum of the counts */
}

int fn_qs_write(const fn_qsketch *s, fn_buf *b)
{
    const uint32_t *cnt = cnt_of(s);
    const uint16_t *idx = s->blk ? idx_of(s) : NULL;
    int rc = fn_buf_reserve(b, 13 + 6 * (size_t)s->len);
    if (rc != 0)
        return rc;
    /* The reserve above makes every append below succeed: no torn sketch. */
    fn_buf_u8(b, FN_QS_VERSION);
    fn_buf_u16(b, FN_QS_NBUCKETS);
    fn_buf_u32(b, s->under);
    fn_buf_u32(b, s->over);
    fn_buf_u16(b, s->len);
    for (size_t i = 0; i < s->len; i++) {
        fn_buf_u16(b, idx[i]);
        fn_buf_u32(b, cnt[i]);
    }
    return 0;
}

int fn_qs_read(fn_qsketch *s, fn_rd *r)
{
    const uint8_t *p;
    uint8_t version = fn_rd_u8(r);
    uint16_t nbuckets = fn_rd_u16(r);
    uint32_t under = fn_rd_u32(r), over = fn_rd_u32(r), first = 0, last = 0;
    uint16_t k = fn_rd_u16(r), cap;
    uint64_t n = 0;
    uint8_t *nb;
    if (r->err || version != FN_QS_VERSION || nbuckets != FN_QS_NBUCKETS || k > FN_QS_NBUCKETS)
        return FN_ECORRUPT;
    if (fn_rd_bytes(r, &p, 6 * (size_t)k) != 0)
        return FN_ECORRUPT;
    /* Validate everything before allocating or touching s. */
    for (size_t i = 0; i < k; i++) {
        uint16_t b = (uint16_t)(p[6 * i] | p[6 * i + 1] << 8);
        uint32_t c = fn_le32_get(p + 6 * i + 2);
        if (b >= FN_QS_NBUCKETS || c == 0)
            return FN_ECORRUPT;
        if (i > 0 && b <= (uint16_t)(p[6 * i - 6] | p[6 * i - 5] << 8))
            return FN_ECORRUPT;
        if (b == 0)
            first = c;
        if (b == FN_QS_NBUCKETS - 1)
            last = c;
        n += c;
    }
    if (under > first || over > last)
        return FN_ECORRUPT;
    cap = k ? cap_for(k) : 0;
    nb = k ? blk_alloc(cap) : NULL;
    for (size_t i = 0; i < k; i++) {
        ((uint32_t *)nb)[i] = fn_le32_get(p + 6 * i + 2);
        ((uint16_t *)(nb + 4 * (size_t)cap))[i] = (uint16_t)(p[6 * i] | p[6 * i + 1] << 8);
    }
    free(s->blk);
    s->blk = nb;
    s->cap = cap;
    s->len = k;
    s->under = under;
    s->over = over;
    s->n = n;
    return 0;
}
