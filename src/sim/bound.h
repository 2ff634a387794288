/*
 * bound.h — the exact lower bound on empty kilometres for one freight day.
 *
 * The simulator compares each dispatch policy's empty km with the least
 * empty km any plan could have for the same trucks and loads.  That least
 * value is bounded from below by a transportation problem over "where a
 * truck becomes free" and "where the next load starts":
 *
 *   - Rows are loads j; each is served at most once, by one predecessor.
 *   - Columns are the trucks' starts i (free at (lat, lon) at t_s) and the
 *     loads' ends a (free at a's delivery point at ready_a, below).
 *   - Truck i may precede load j when it fits j exactly as matching's hard
 *     filters say (type in types_mask, length_idx >= min_length_idx,
 *     capacity >= weight, volume_l >= the load's volume when both are
 *     stated) and reaches the pickup in time; load a may precede load j
 *     (a != j) when their types_mask intersect and a's truck, free at
 *     a's delivery point at ready_a, reaches j's pickup in time.
 *   - Each column is used at most once.  Plans first serve the most loads,
 *     then have the least total empty (deadhead) metres.
 *
 * Every real plan is such an assignment (each load's truck comes from its
 * start or its previous load), but not every assignment is a plan: chains
 * may close into cycles and one load's end may feed a load whose truck type
 * differs from the one that carried it.  So the optimum is a lower bound.
 *
 * The rules, to the bit, so that a test or the simulator can recompute them:
 *   road_km(p, q)  = fn_haversine_km(p.lat, p.lon, q.lat, q.lon) * circuity,
 *                    p the column's point (truck or delivery), q the pickup
 *                    (and for a load's own trip p = pickup, q = delivery);
 *   cost           = llround(road_km * 1000.0) metres;
 *   ready_a        = (double)(earliest_a + 2 * service_s)
 *                    + road_km(a) / speed_kmh * 3600.0;
 *   reaches j      : t + road_km / speed_kmh * 3600.0 <= (double)latest_j,
 *                    t = (double)t_s for a truck, ready_a for a load's end.
 *
 * Closed mode (cfg->closed = 1) adds that every truck must end the day at a
 * home, as the simulator makes it: one more row per truck i, "home i", fed
 * by exactly one column c of any kind (a truck's start or a load's end, no
 * fit or time rule: the end of the day is open) at
 *   R(c, i)        = road_km(point of c, home_i) > home_km ? that cost : 0,
 * road_km and cost as below with p the column's point and q = home_i; a
 * column within home_km of a home is at home.  Rows are then the loads and
 * the homes, columns the same.  Every plan the simulator can run is still
 * such an assignment: a load's predecessor is its truck's start or previous
 * load's end (a mid-day trip home only lengthens that leg, by the triangle
 * inequality, since a truck goes home only from farther than home_km), and
 * each truck's last column feeds its own home at R = the km the simulator
 * counts for the final trip home.  The relaxation also lets a chain end at
 * another truck's home, which keeps it a transportation problem.  A home
 * row can take any column and there are as many columns as rows, so the
 * optimum matches every home and serves as many loads as the open mode.
 * When all the loads passed in can be served together (the simulator passes
 * exactly the loads a policy served, whose plan proves it), the optimum is
 * a perfect matching and its cost is a true lower bound on that policy's
 * empty km including the trips home.  Otherwise it bounds plans serving as
 * many loads as it does.  homes_matched in the result shows which case held.
 *
 * The optimum is exact over all pairs, though the assignment is only ever
 * solved on a sparse graph: each load starts with its k nearest feasible
 * columns, and after each solve the duals of fn_dispatch_solve_dual are
 * checked against every feasible pair (a search per row over a tree of
 * the columns that keeps their least price per node); pairs that would
 * improve the optimum are added and the graph solved again, until no pair
 * anywhere violates the certificate.  The result then says exact = 1.  A home row starts with its
 * own truck's start and its k nearest columns, and is checked the same way
 * (over all columns, within home_km or the reach of its dual).
 */
#ifndef FN_BOUND_H
#define FN_BOUND_H

#include <stddef.h>
#include <stdint.h>

typedef struct fn_bound_truck {
    double lat, lon;          /* where the truck is free at t_s */
    int64_t t_s;              /* when (Unix seconds) */
    uint8_t truck_type;       /* enum fn_truck_type (core/model.h) */
    uint8_t length_idx;       /* index into FN_TRUCK_LENGTHS_DM */
    uint32_t capacity_kg, volume_l;   /* volume 0 = not stated */
    double home_lat, home_lon;        /* where its day must end (closed mode only) */
} fn_bound_truck;

typedef struct fn_bound_load {
    double olat, olon, dlat, dlon;    /* pickup and delivery */
    int64_t earliest_s, latest_s;     /* pickup window */
    uint16_t types_mask;              /* bit t = truck type t accepted */
    int8_t min_length_idx;            /* -1 any */
    uint32_t weight_kg, volume_l;     /* volume 0 = not stated */
} fn_bound_load;

typedef struct fn_bound_config {
    double circuity;      /* road km per great-circle km (1.3) */
    double speed_kmh;     /* average road speed (50) */
    int64_t service_s;    /* time to load, and again to unload (e.g. 3600) */
    size_t k;             /* first candidates per load (default 8 when 0) */
    int closed;           /* 1: every truck ends at a home (see above); 0: chains end anywhere */
    double home_km;       /* closed mode: road km within which a truck is at home (>= 0) */
} fn_bound_config;

typedef struct fn_bound_result {
    size_t served;        /* the most loads any plan can serve */
    double empty_km;      /* the least empty km over plans serving `served` loads;
                             in closed mode the trips home included */
    double loaded_km;     /* the served loads' loaded km */
    int exact;            /* 1: proven optimal over ALL pairs (see below) */
    size_t rounds, edges; /* certificate rounds, edges in the final graph */
    int32_t *pred;        /* owned, per load: -1 unserved, 0..nt-1 a truck's start,
                             nt + a: right after load a */
    double build_ms, solve_ms, check_ms;
    size_t added;         /* edges added by the certificate checks, all rounds */
    /* Closed mode only (0 and NULL otherwise): */
    size_t homes_matched; /* home rows fed by a column: nt whenever exact */
    double home_km_total; /* the part of empty_km that is trips home */
    int32_t *home_pred;   /* owned, per truck: the column (as in pred) that ends
                             at its home, -1 unmatched */
} fn_bound_result;

/* The round cap: when the certificate still fails after this many solves,
 * the result is the optimum of the last graph with exact = 0. */
#define FN_BOUND_MAX_ROUNDS 50

/*
 * Solves the bound for nt trucks and nl loads (either may be 0; t or l may
 * then be NULL).  Fills *out (its pred is allocated: free the result with
 * fn_bound_result_free, also after an error, when out is zeroed).  Uses up
 * to two threads for the candidate searches and prints nothing.  Closed mode
 * solves the open bound first, to seed its graph, and needs more rounds
 * and larger graphs than open mode.  Returns 0,
 * or FN_EINVAL for a bad configuration (circuity or speed not positive,
 * service_s negative, in closed mode home_km negative or not finite), a NaN
 * coordinate (homes included in closed mode), a truck_type out of range, or
 * more than 2^31 - 1 columns.
 */
int fn_bound_solve(const fn_bound_config *cfg, const fn_bound_truck *t, size_t nt, const fn_bound_load *l, size_t nl,
                   fn_bound_result *out);

/* Frees the result's pred and home_pred and zeroes it. */
void fn_bound_result_free(fn_bound_result *r);

#endif
