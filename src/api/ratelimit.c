/*
 * ratelimit.c — striped open-addressing tables of token buckets.
 */
#include "api/ratelimit.h"
#include "common/fn.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#define STRIPES 64

typedef struct bucket {
    uint64_t key;     /* 0 = empty; keys are principals, never 0 for a member */
    double tokens;
    uint64_t last_ns;
} bucket;

typedef struct stripe {
    pthread_mutex_t mu;
    bucket *b;
    size_t cap, n;
} stripe;

struct fn_ratelimit {
    double rate, burst;
    stripe s[STRIPES];
};

fn_ratelimit *fn_ratelimit_new(double rate_per_s, double burst)
{
    fn_ratelimit *rl = fn_xcalloc(1, sizeof(*rl));
    rl->rate = rate_per_s;
    rl->burst = burst < 1 ? 1 : burst;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->s[i].mu, NULL);
    return rl;
}

void fn_ratelimit_free(fn_ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < STRIPES; i++)
        free(rl->s[i].b);
    free(rl);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static bucket *find(stripe *st, uint64_t key, uint64_t h)
{
    size_t i;
    if ((st->n + 1) * 2 > st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 64;
        bucket *nb = fn_xcalloc(ncap, sizeof(bucket));
        for (size_t j = 0; j < st->cap; j++) {
            if (!st->b[j].key)
                continue;
            size_t k = (size_t)(mix(st->b[j].key) >> 6) & (ncap - 1);
            while (nb[k].key)
                k = (k + 1) & (ncap - 1);
            nb[k] = st->b[j];
        }
        free(st->b);
        st->b = nb;
        st->cap = ncap;
    }
    i = (size_t)(h >> 6) & (st->cap - 1);
    while (st->b[i].key && st->b[i].key != key)
        i = (i + 1) & (st->cap - 1);
    return &st->b[i];
}

int fn_ratelimit_take(fn_ratelimit *rl, uint64_t key, uint64_t now_ns, unsigned *retry_after_s)
{
    uint64_t h = mix(key + 1);
    stripe *st = &rl->s[h & (STRIPES - 1)];
    bucket *b;
    int ok;
    if (rl->rate <= 0)
        return 1;
    key += 1; /* so that principal 0 is a valid key */
    pthread_mutex_lock(&st->mu);
    b = find(st, key, h);
    if (!b->key) {
        b->key = key;
        b->tokens = rl->burst;
        b->last_ns = now_ns;
        st->n++;
    } else if (now_ns > b->last_ns) {
        b->tokens = fmin(rl->burst, b->tokens + (double)(now_ns - b->last_ns) / 1e9 * rl->rate);
        b->last_ns = now_ns;
    }
    ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else
        *retry_after_s = (unsigned)ceil((1.0 - b->tokens) / rl->rate);
    if (!ok && *retry_after_s < 1)
        *retry_after_s = 1;
    pthread_mutex_unlock(&st->mu);
    return ok;
}
