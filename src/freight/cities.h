/*
 * cities.h — the populated places of China (data/cn_cities.csv, GeoNames,
 * CC BY 4.0) and population-weighted sampling from them.
 */
#ifndef FN_CITIES_H
#define FN_CITIES_H

#include <stddef.h>
#include <stdint.h>

typedef struct fn_city {
    char name[64];
    int province;        /* index from model.h, -1 when unknown */
    double lat, lon;
    uint64_t population;
} fn_city;

typedef struct fn_cities {
    fn_city *v;
    size_t n;
    double *cum;         /* cumulative population share, for sampling */
} fn_cities;

/* Loads the CSV from path; when path is NULL, from $FREIGHT_DATA/cn_cities.csv
 * when FREIGHT_DATA is set (that file or an error), else from
 * <dir of this executable>/../data/cn_cities.csv or ./data/cn_cities.csv,
 * else from the table compiled into the binary (the same rows).
 * Returns 0 or -1 with a message on stderr. */
int fn_cities_load(fn_cities *c, const char *path);
void fn_cities_free(fn_cities *c);
/* Picks a city with probability proportional to population; u in [0,1). */
size_t fn_cities_pick(const fn_cities *c, double u);

/* Picks index i of n with probability share[i] / sum(share); u in [0,1). */
int fn_pick_share(const double *share, int n, double u);

/* A small, fast, seedable PRNG (splitmix64): same seed, same sequence. */
typedef struct fn_rng {
    uint64_t s;
} fn_rng;
static inline uint64_t fn_rng_next(fn_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static inline double fn_rng_unit(fn_rng *r) { return (double)(fn_rng_next(r) >> 11) * 0x1.0p-53; }

#endif
