/*
 * ratelimit.h — a token bucket per principal (per bearer token), so one
 * member cannot starve the others.  Buckets are created on first use and
 * striped over 64 locks.
 */
#ifndef FN_RATELIMIT_H
#define FN_RATELIMIT_H

#include <stdint.h>

typedef struct fn_ratelimit fn_ratelimit;

/* rate_per_s tokens are added per second up to burst; rate 0 disables. */
fn_ratelimit *fn_ratelimit_new(double rate_per_s, double burst);
void fn_ratelimit_free(fn_ratelimit *rl);
/* Takes one token for key at now_ns.  Returns 1 if allowed; else 0 and
 * *retry_after_s gets the whole seconds until a token is available (>= 1). */
int fn_ratelimit_take(fn_ratelimit *rl, uint64_t key, uint64_t now_ns, unsigned *retry_after_s);

#endif
