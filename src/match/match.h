/*
 * match.h — ranked matching: the trucks that fit a load, and the loads that
 * fit a truck (with backhaul toward home or a province).
 *
 * Both searches walk the spatial grid outward from the pickup (or the
 * truck), apply the hard filters while they walk, score each candidate, and
 * stop as soon as no unvisited candidate could beat the k-th best: every
 * score is a weighted sum of factors in [0, 1] in which only the deadhead
 * factor depends on distance, so a lower bound on distance gives an upper
 * bound on score.  The result is exactly the top k of a brute-force scan.
 * The formulas and weights are in docs/matching.md.
 *
 * Callers hold the engine's read lock; the state is not changed.
 */
#ifndef FN_MATCH_H
#define FN_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/state.h"

enum fn_mfactor {
    FN_MF_DEADHEAD,     /* empty km to the pickup */
    FN_MF_PICKUP_TIME,  /* arriving within the pickup window, the earlier the better */
    FN_MF_DESTINATION,  /* the delivery suits the driver: preferred province, near home */
    FN_MF_TOWARD,       /* backhaul: the delivery brings the truck nearer where it wants to be */
    FN_MF_RATING,       /* the other side's rating */
    FN_MF_PRICE,        /* yuan per km driven (loaded + empty) against the going rate */
    FN_MF__COUNT
};
extern const char *const fn_mfactor_names[FN_MF__COUNT];

typedef struct fn_match_config {
    double speed_kmh;   /* average road speed for ETAs (default 50) */
} fn_match_config;

typedef struct fn_match_hit {
    const fn_driver *driver;
    const fn_load *load;
    double deadhead_km;    /* road estimate from the truck to the pickup */
    double loaded_km;      /* road estimate from pickup to delivery */
    double eta_min;        /* minutes to reach the pickup */
    double price_per_km;   /* yuan per km driven, loaded + empty */
    double score;          /* 0..100 */
    double factor[FN_MF__COUNT];  /* each factor's value in [0, 1] */
    double weight[FN_MF__COUNT];  /* its weight; points = 100 * weight * factor */
    double lat, lon;       /* the truck's position as the caller may see it */
} fn_match_hit;

/* The trucks for load l: available, positioned, the type accepted, long
 * enough, enough capacity and volume, deadhead_km <= radius_km, able to
 * reach the pickup before its window closes.  exact = 0 ranks by the
 * privacy-snapped truck positions.  Returns how many (at most limit) were
 * written to out, best first (ties by driver id). */
size_t fn_match_trucks(const fn_state *s, const fn_match_config *cfg, const fn_load *l, double radius_km,
                       size_t limit, int exact, int64_t now_s, fn_match_hit *out);

/* Where a driver wants to go: nowhere in particular, home, or a province. */
typedef struct fn_toward {
    int kind;           /* 0 none, 1 home, 2 province */
    int province;       /* for kind 2 */
} fn_toward;

/* The open loads for driver d, best first: the truck fits, the pickup is
 * within radius_km (road) of the truck (its home when it has reported no
 * position) and reachable before the window closes. */
size_t fn_match_loads(const fn_state *s, const fn_match_config *cfg, const fn_driver *d, fn_toward toward,
                      double radius_km, size_t limit, int64_t now_s, fn_match_hit *out);

/* The score of one (truck, load) pair as the searches compute it, for tests
 * and for brute-force checks: returns 0 and fills *h when the pair passes
 * every hard filter, -1 otherwise. */
int fn_match_score_truck(const fn_state *s, const fn_match_config *cfg, const fn_load *l, const fn_driver *d,
                         double radius_km, int exact, int64_t now_s, fn_match_hit *h);
int fn_match_score_load(const fn_state *s, const fn_match_config *cfg, const fn_driver *d, fn_toward toward,
                        const fn_load *l, double radius_km, int64_t now_s, fn_match_hit *h);

/* The going rate in yuan per km for a truck of this length (decimetres):
 * 1.5 + 0.3 per metre, the reference that the price factor compares to. */
double fn_match_ref_rate(int length_dm);

#endif
