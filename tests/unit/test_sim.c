/*
 * test_sim.c — the freight-day simulation (src/sim/sim.c) on scenarios with
 * known answers, checked exactly: a two-city shuttle that never runs empty,
 * an imbalanced lane that forces the trip back, a case where greedy
 * nearest-first provably loses to dispatch, the backhaul policy choosing
 * the truck that would otherwise drive home; then conservation on random
 * days for every policy (each load carried at most once, by a truck that
 * fits, in its window, no truck in two places at once, km adding up), the
 * same bytes for the same input, and the lower bound below every policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/fn.h"
#include "common/geo.h"
#include "sim/bound.h"
#include "sim/sim.h"
#include "testutil.h"

#define T0 1798761600LL
#define DAY 86400LL

static fn_driver truck_at(double lat, double lon, double home_lat, double home_lon)
{
    fn_driver d;
    memset(&d, 0, sizeof(d));
    d.lat = lat;
    d.lon = lon;
    d.pos_ts = 1;
    d.home_lat = home_lat;
    d.home_lon = home_lon;
    d.truck_type = FN_TT_flatbed;
    d.length_idx = 10; /* 17.5 m */
    d.capacity_kg = 33000;
    return d;
}

static fn_load load_of(double olat, double olon, double dlat, double dlon, int64_t posted, int64_t earliest,
                       int64_t latest)
{
    fn_load l;
    memset(&l, 0, sizeof(l));
    l.origin.lat = olat;
    l.origin.lon = olon;
    l.origin.province = -1;
    l.dest.lat = dlat;
    l.dest.lon = dlon;
    l.dest.province = -1;
    l.created_at = posted;
    l.pickup_earliest_at = earliest;
    l.pickup_latest_at = latest;
    l.types_mask = 1u << FN_TT_flatbed;
    l.min_length_idx = -1;
    l.weight_kg = 20000;
    l.price_fen = 300000;
    return l;
}

static double road(double lat1, double lon1, double lat2, double lon2)
{
    return fn_haversine_km(lat1, lon1, lat2, lon2) * 1.3;
}

static int64_t drive_s(double km) { return (int64_t)ceil(km / 50.0 * 3600.0); }

static void cfg_for(fn_sim_config *c, int policy, int days)
{
    fn_sim_config_default(c, policy);
    c->start_s = T0;
    c->days = days;
}

/* City A and city B, 125 km of road apart. */
#define A_LAT 30.0
#define A_LON 114.0
#define B_LAT 30.0
#define B_LON 115.0

/* One truck shuttles A -> B -> A -> B: every load starts where the last one
 * ended, so no policy drives a single empty km to a pickup (only home at
 * the end), and the board's times are exactly those of the clock: drive at
 * 50 km/h, an hour to load and one to unload. */
static void test_shuttle(void **state)
{
    (void)state;
    double ab = road(A_LAT, A_LON, B_LAT, B_LON);
    fn_driver t = truck_at(A_LAT, A_LON, A_LAT, A_LON);
    fn_load l[3] = {
        load_of(A_LAT, A_LON, B_LAT, B_LON, T0 + 600, T0 + 3600, T0 + DAY),
        load_of(B_LAT, B_LON, A_LAT, A_LON, T0 + 601, T0 + 3600, T0 + 2 * DAY),
        load_of(A_LAT, A_LON, B_LAT, B_LON, T0 + 602, T0 + 3600, T0 + 2 * DAY),
    };
    for (int p = 0; p < FN_SIM__POLICIES; p++) {
        fn_sim_config c;
        fn_sim_result r;
        cfg_for(&c, p, 1);
        assert_int_equal(fn_sim_run(&c, &t, 1, l, 3, &r), 0);
        assert_int_equal(r.delivered, 3);
        assert_true(r.deadhead_km == 0.0);
        assert_true(fabs(r.loaded_km - 3 * ab) < 1e-9);
        /* It ends at B and goes home, within the day or after it. */
        assert_true(fabs(r.return_km + r.final_return_km - ab) < 1e-9);
        if (p == FN_SIM_BOARD) {
            int64_t d1 = T0 + 3600 + 3600 + drive_s(ab) + 3600;
            int64_t d2 = d1 + 3600 + drive_s(ab) + 3600; /* booked on delivery, no deadhead, window open */
            assert_int_equal(r.load_booked_at[0], T0 + 600);
            assert_int_equal(r.load_delivered_at[0], d1);
            assert_int_equal(r.load_booked_at[1], d1);
            assert_int_equal(r.load_delivered_at[1], d2);
            assert_int_equal(r.load_booked_at[2], d2);
            assert_true(fabs(r.revenue_yuan - 9000.0) < 1e-9);
        }
        fn_sim_result_free(&r);
    }
}

/* Loads only go A -> B: after the first the truck must come back empty, the
 * whole 125 km, whatever the policy.  On the board it first waits give_up_s
 * at B, drives home, and only there sees the second load. */
static void test_imbalanced_lane(void **state)
{
    (void)state;
    double ab = road(A_LAT, A_LON, B_LAT, B_LON);
    fn_driver t = truck_at(A_LAT, A_LON, A_LAT, A_LON);
    fn_load l[2] = {
        load_of(A_LAT, A_LON, B_LAT, B_LON, T0 + 600, T0 + 3600, T0 + DAY),
        load_of(A_LAT, A_LON, B_LAT, B_LON, T0 + 601, T0 + 3600, T0 + 2 * DAY),
    };
    for (int p = 0; p < FN_SIM__POLICIES; p++) {
        fn_sim_config c;
        fn_sim_result r;
        cfg_for(&c, p, 2);
        assert_int_equal(fn_sim_run(&c, &t, 1, l, 2, &r), 0);
        assert_int_equal(r.delivered, 2);
        /* Back once between the loads, and home again after the second,
         * within the days or after them. */
        assert_true(fabs(r.empty_km + r.final_return_km - 2 * ab) < 1e-9);
        assert_true(fabs(r.loaded_km - 2 * ab) < 1e-9);
        if (p == FN_SIM_BOARD) {
            int64_t d1 = T0 + 3600 + 3600 + drive_s(ab) + 3600;
            assert_true(r.returns >= 1);
            assert_int_equal(r.load_booked_at[1], d1 + c.give_up_s + drive_s(ab));
            assert_true(r.load_deadhead_km[1] == 0.0);
        } else if (p == FN_SIM_MATCH) {
            /* The app shows the load 125 km away at once: no waiting, the same km. */
            int64_t d1 = T0 + 3600 + 3600 + drive_s(ab) + 3600;
            assert_int_equal(r.load_booked_at[1], d1);
            assert_true(fabs(r.load_deadhead_km[1] - ab) < 1e-9);
        }
        fn_sim_result_free(&r);
    }
}

/* On a line at 30 N: T1 at 0, L1 at 0.019 deg, T2 at 0.020, L2 at 0.040.
 * Nearest-first gives L1 to T2 (0.001 deg) and leaves T1 the far L2; the
 * optimum pairs T1-L1 and T2-L2.  The loads come just before the horizon
 * so no truck goes home within it. */
static void test_greedy_loses(void **state)
{
    (void)state;
    fn_driver t[2] = {truck_at(30, 114.000, 30, 114.000), truck_at(30, 114.020, 30, 114.020)};
    int64_t post = T0 + DAY - 700;
    fn_load l[2] = {
        load_of(30, 114.019, 31, 114.0, post, T0 + DAY + 3600, T0 + 2 * DAY),
        load_of(30, 114.040, 31, 114.0, post + 1, T0 + DAY + 3600, T0 + 2 * DAY),
    };
    double greedy = road(30, 114.020, 30, 114.019) + road(30, 114.000, 30, 114.040);
    double best = road(30, 114.000, 30, 114.019) + road(30, 114.020, 30, 114.040);
    fn_sim_config c;
    fn_sim_result r;

    assert_true(best < greedy);
    cfg_for(&c, FN_SIM_BOARD, 1);
    assert_int_equal(fn_sim_run(&c, t, 2, l, 2, &r), 0);
    assert_int_equal(r.delivered, 2);
    assert_int_equal(r.load_truck[0], 1);
    assert_int_equal(r.load_truck[1], 0);
    assert_true(fabs(r.empty_km - greedy) < 1e-9);
    fn_sim_result_free(&r);

    cfg_for(&c, FN_SIM_DISPATCH, 1);
    assert_int_equal(fn_sim_run(&c, t, 2, l, 2, &r), 0);
    assert_int_equal(r.delivered, 2);
    assert_int_equal(r.load_truck[0], 0);
    assert_int_equal(r.load_truck[1], 1);
    assert_true(fabs(r.empty_km - best) < 1e-6);
    assert_int_equal(r.dispatch_runs, DAY / 600 - 1); /* a run every 10 min after the start */
    assert_true(r.load_booked_at[0] == T0 + DAY - 600); /* the next tick */
    fn_sim_result_free(&r);
}

/* Two trucks stand at A: T0 lives at A, T1 lives at B and has just come.
 * A load A -> B: plain dispatch takes the lower id at equal deadhead (T0,
 * which then has to come back), backhaul takes T1 home and no one drives
 * empty. */
static void test_backhaul_takes_the_truck_going_home(void **state)
{
    (void)state;
    fn_driver t[2] = {truck_at(A_LAT, A_LON, A_LAT, A_LON), truck_at(A_LAT, A_LON, B_LAT, B_LON)};
    int64_t post = T0 + DAY - 700;
    fn_load l = load_of(A_LAT, A_LON, B_LAT, B_LON, post, T0 + DAY + 3600, T0 + 2 * DAY);
    double ab = road(A_LAT, A_LON, B_LAT, B_LON);
    fn_sim_config c;
    fn_sim_result r;

    cfg_for(&c, FN_SIM_DISPATCH, 1);
    c.give_up_s = 2 * DAY; /* T1 waits at A all day rather than go home first */
    assert_int_equal(fn_sim_run(&c, t, 2, &l, 1, &r), 0);
    assert_int_equal(r.load_truck[0], 0);
    /* T0 ends at B, away from home; T1 never left A, away from its home B. */
    assert_true(fabs(r.final_return_km - 2 * ab) < 1e-9);
    fn_sim_result_free(&r);

    cfg_for(&c, FN_SIM_BACKHAUL, 1);
    c.give_up_s = 2 * DAY;
    assert_int_equal(fn_sim_run(&c, t, 2, &l, 1, &r), 0);
    assert_int_equal(r.load_truck[0], 1);
    assert_true(r.final_return_km == 0.0);
    assert_true(r.empty_km == 0.0);
    fn_sim_result_free(&r);
}

/* T (home A) carries A -> B; while it is loaded, B -> A is posted and T2
 * (home B) stands idle at B.  Backhaul promises B -> A to T for when it
 * delivers: T comes home loaded, T2 never leaves home, nobody runs empty.
 * Without promises T2, idle on the spot, gets it, and both drive home empty. */
static void test_backhaul_prebooks_the_way_home(void **state)
{
    (void)state;
    fn_driver t[2] = {truck_at(A_LAT, A_LON, A_LAT, A_LON), truck_at(B_LAT, B_LON, B_LAT, B_LON)};
    fn_load l[2] = {
        load_of(A_LAT, A_LON, B_LAT, B_LON, T0 + 600, T0 + 3600, T0 + DAY),
        load_of(B_LAT, B_LON, A_LAT, A_LON, T0 + 8000, T0 + 20000, T0 + DAY),
    };
    double ab = road(A_LAT, A_LON, B_LAT, B_LON);
    fn_sim_config c;
    fn_sim_result r;

    cfg_for(&c, FN_SIM_BACKHAUL, 1);
    assert_int_equal(fn_sim_run(&c, t, 2, l, 2, &r), 0);
    assert_int_equal(r.load_truck[0], 0);
    assert_int_equal(r.load_truck[1], 0);
    assert_int_equal(r.load_matched_at[1], T0 + 8400); /* the first tick after posting */
    assert_int_equal(r.load_booked_at[1], r.load_delivered_at[0]);
    assert_true(r.empty_km == 0.0 && r.final_return_km == 0.0);
    fn_sim_result_free(&r);

    c.prebook = 0; /* without promises T2 takes it at the same tick */
    assert_int_equal(fn_sim_run(&c, t, 2, l, 2, &r), 0);
    assert_int_equal(r.load_truck[1], 1);
    assert_true(fabs(r.return_km + r.final_return_km - 2 * ab) < 1e-9); /* both go home empty */
    fn_sim_result_free(&r);
}

/* ---- random days: conservation, determinism, the bound ---- */

typedef struct day {
    fn_driver *t;
    fn_load *l;
    size_t nt, nl;
} day;

static void random_day(day *d, uint64_t seed, size_t nt, size_t nl, int days)
{
    uint64_t r = seed;
    d->nt = nt;
    d->nl = nl;
    d->t = calloc(nt, sizeof(*d->t));
    d->l = calloc(nl, sizeof(*d->l));
    for (size_t i = 0; i < nt; i++) {
        double hlat = 28 + 4 * rng_unit(&r), hlon = 112 + 5 * rng_unit(&r);
        d->t[i] = truck_at(hlat + 0.2 * (rng_unit(&r) - 0.5), hlon + 0.2 * (rng_unit(&r) - 0.5), hlat, hlon);
        d->t[i].truck_type = rng_unit(&r) < 0.7 ? FN_TT_flatbed : FN_TT_van;
        d->t[i].length_idx = (uint8_t)(rng_next(&r) % FN_TRUCK_LENGTH_COUNT);
        d->t[i].capacity_kg = 2000 + (uint32_t)(rng_next(&r) % 31000);
    }
    for (size_t j = 0; j < nl; j++) {
        int64_t posted = T0 + (int64_t)(rng_next(&r) % (uint64_t)(days * DAY));
        int64_t earliest = posted + 3600 + (int64_t)(rng_next(&r) % 43200);
        d->l[j] = load_of(28 + 4 * rng_unit(&r), 112 + 5 * rng_unit(&r), 28 + 4 * rng_unit(&r),
                          112 + 5 * rng_unit(&r), posted, earliest,
                          earliest + 3600 * (int64_t)(2 + rng_next(&r) % 24));
        d->l[j].types_mask = rng_unit(&r) < 0.6 ? 1u << FN_TT_flatbed
                                                     : (1u << FN_TT_van) | (rng_unit(&r) < 0.5 ? 1u : 0u);
        d->l[j].weight_kg = 1000 + (uint32_t)(rng_next(&r) % 25000);
        d->l[j].min_length_idx = rng_unit(&r) < 0.5 ? -1 : (int8_t)(rng_next(&r) % 6);
    }
}

static int cmp_booked(const void *a, const void *b, void *arg)
{
    const fn_sim_result *r = arg;
    int64_t x = r->load_booked_at[*(const size_t *)a], y = r->load_booked_at[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

/* Every invariant a run must keep, from its per-load and per-truck records. */
static void check_conservation(const day *d, const fn_sim_config *c, const fn_sim_result *r)
{
    double dead = 0, loaded = 0, te = 0, tl = 0, he = 0, hl = 0, rev = 0;
    size_t booked = 0, hb = 0;
    size_t *order = malloc(d->nl * sizeof(*order));

    for (size_t j = 0; j < d->nl; j++) {
        const fn_load *l = &d->l[j];
        int32_t i = r->load_truck[j];
        if (i < 0)
            continue;
        const fn_driver *t = &d->t[i];
        booked++;
        /* The truck fits and was booked after posting, within the window. */
        assert_true(l->types_mask & (1u << t->truck_type));
        assert_true(t->capacity_kg >= l->weight_kg);
        assert_true(l->min_length_idx < 0 || t->length_idx >= l->min_length_idx);
        assert_true(r->load_booked_at[j] >= l->created_at);
        assert_true(r->load_matched_at[j] >= l->created_at && r->load_matched_at[j] <= r->load_booked_at[j]);
        assert_true(r->load_booked_at[j] + drive_s(r->load_deadhead_km[j]) <= l->pickup_latest_at);
        /* Delivered no sooner than the clock allows, km by the road rule. */
        {
            double km = road(l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon);
            int64_t soonest = FN_MAX(r->load_booked_at[j] + drive_s(r->load_deadhead_km[j]), l->pickup_earliest_at) +
                              2 * c->service_s + drive_s(km);
            assert_int_equal(r->load_delivered_at[j], soonest);
            loaded += km;
            rev += (double)l->price_fen / 100.0;
        }
        dead += r->load_deadhead_km[j];
    }
    assert_int_equal(booked, r->booked);
    assert_int_equal(r->delivered, r->booked); /* the drain finishes every trip */
    assert_true(fabs(dead - r->deadhead_km) < 1e-6 * (1 + dead));
    assert_true(fabs(loaded - r->loaded_km) < 1e-6 * (1 + loaded));
    assert_true(fabs(rev - r->revenue_yuan) < 1e-6 * (1 + rev));
    assert_true(fabs(r->empty_km - (r->deadhead_km + r->return_km)) < 1e-6 * (1 + r->empty_km));
    for (size_t i = 0; i < d->nt; i++)
        te += r->truck_empty_km[i], tl += r->truck_loaded_km[i];
    assert_true(fabs(te - r->empty_km) < 1e-6 * (1 + te));
    assert_true(fabs(tl - r->loaded_km) < 1e-6 * (1 + tl));
    for (size_t h = 0; h < r->hours; h++)
        he += r->hour_empty_km[h], hl += r->hour_loaded_km[h], hb += r->hour_booked[h];
    assert_true(fabs(he - r->empty_km) < 1e-6 * (1 + he));
    assert_true(fabs(hl - r->loaded_km) < 1e-6 * (1 + hl));
    assert_int_equal(hb, r->booked);

    /* Truck by truck, in booking order: one load at a time, each deadhead
     * from where the last load ended (or from home after a trip there), the
     * returns adding up to the truck's empty km beyond its deadheads. */
    for (size_t i = 0; i < d->nt; i++) {
        size_t n = 0;
        double lat = d->t[i].lat, lon = d->t[i].lon, extra = r->truck_empty_km[i];
        for (size_t j = 0; j < d->nl; j++)
            if (r->load_truck[j] == (int32_t)i)
                order[n++] = j;
        qsort_r(order, n, sizeof(*order), cmp_booked, (void *)r);
        for (size_t k = 0; k < n; k++) {
            const fn_load *l = &d->l[order[k]];
            double from_here = road(lat, lon, l->origin.lat, l->origin.lon);
            double from_home = road(d->t[i].home_lat, d->t[i].home_lon, l->origin.lat, l->origin.lon);
            if (k > 0)
                assert_true(r->load_booked_at[order[k]] >= r->load_delivered_at[order[k - 1]]);
            if (fabs(r->load_deadhead_km[order[k]] - from_here) > 1e-9) {
                /* It went home in between: the trip there was counted. */
                assert_true(fabs(r->load_deadhead_km[order[k]] - from_home) < 1e-9);
                extra -= road(lat, lon, d->t[i].home_lat, d->t[i].home_lon);
            }
            extra -= r->load_deadhead_km[order[k]];
            lat = l->dest.lat;
            lon = l->dest.lon;
        }
        /* What is left is a last trip home, or none. */
        assert_true(extra > -1e-6);
        if (extra > 1e-6)
            assert_true(fabs(extra - road(lat, lon, d->t[i].home_lat, d->t[i].home_lon)) < 1e-6);
    }
    free(order);
}

static void test_random_days_conserve(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        day d;
        random_day(&d, seed, 150, 400, 2);
        for (int p = 0; p < FN_SIM__POLICIES; p++) {
            fn_sim_config c;
            fn_sim_result r1, r2;
            cfg_for(&c, p, 2);
            assert_int_equal(fn_sim_run(&c, d.t, d.nt, d.l, d.nl, &r1), 0);
            assert_true(r1.booked > d.nl / 3);
            check_conservation(&d, &c, &r1);
            /* The same input, the same run. */
            assert_int_equal(fn_sim_run(&c, d.t, d.nt, d.l, d.nl, &r2), 0);
            assert_memory_equal(r1.load_truck, r2.load_truck, d.nl * sizeof(int32_t));
            assert_memory_equal(r1.load_booked_at, r2.load_booked_at, d.nl * sizeof(int64_t));
            assert_true(r1.empty_km == r2.empty_km && r1.return_km == r2.return_km);
            fn_sim_result_free(&r1);
            fn_sim_result_free(&r2);
        }
        free(d.t), free(d.l);
    }
}

/* The bound for the loads a policy served is below what the policy drove
 * empty: its plan is one of the assignments the bound minimises over.  The
 * open bound (chains end anywhere) is below the plan's empty km inside the
 * days; the closed one (every truck ends at a home) is above the open one
 * and below the plan's empty km with the final trips home. */
static void test_bound_below_every_policy(void **state)
{
    (void)state;
    day d;
    random_day(&d, 42, 120, 300, 2);
    for (int p = 0; p < FN_SIM__POLICIES; p++) {
        fn_sim_config c;
        fn_sim_result r;
        fn_bound_config bc = {.circuity = 1.3, .speed_kmh = 50, .service_s = 3600, .home_km = 50};
        fn_bound_truck *bt = calloc(d.nt, sizeof(*bt));
        fn_bound_load *bl = calloc(d.nl, sizeof(*bl));
        fn_bound_result open, closed;
        size_t n = 0;
        cfg_for(&c, p, 2);
        assert_int_equal(fn_sim_run(&c, d.t, d.nt, d.l, d.nl, &r), 0);
        for (size_t i = 0; i < d.nt; i++)
            bt[i] = (fn_bound_truck){.lat = d.t[i].lat, .lon = d.t[i].lon, .t_s = T0, .truck_type = d.t[i].truck_type,
                                     .length_idx = d.t[i].length_idx, .capacity_kg = d.t[i].capacity_kg,
                                     .home_lat = d.t[i].home_lat, .home_lon = d.t[i].home_lon};
        for (size_t j = 0; j < d.nl; j++) {
            const fn_load *l = &d.l[j];
            if (r.load_truck[j] < 0)
                continue;
            bl[n++] = (fn_bound_load){.olat = l->origin.lat, .olon = l->origin.lon, .dlat = l->dest.lat,
                                      .dlon = l->dest.lon, .earliest_s = l->pickup_earliest_at,
                                      .latest_s = l->pickup_latest_at, .types_mask = l->types_mask,
                                      .min_length_idx = l->min_length_idx, .weight_kg = l->weight_kg};
        }
        assert_int_equal(fn_bound_solve(&bc, bt, d.nt, bl, n, &open), 0);
        assert_true(open.exact);
        assert_int_equal(open.served, n);
        assert_true(open.empty_km <= r.empty_km + 1e-3);
        assert_true(fabs(open.loaded_km - r.loaded_km) < 1e-6 * (1 + r.loaded_km));
        bc.closed = 1;
        assert_int_equal(fn_bound_solve(&bc, bt, d.nt, bl, n, &closed), 0);
        assert_true(closed.exact);
        assert_int_equal(closed.served, n);
        assert_int_equal(closed.homes_matched, d.nt);
        assert_true(closed.empty_km >= open.empty_km - 1e-3);
        assert_true(closed.empty_km <= r.empty_km + r.final_return_km + 1e-3);
        fn_bound_result_free(&open);
        fn_bound_result_free(&closed);
        fn_sim_result_free(&r);
        free(bt), free(bl);
    }
    free(d.t), free(d.l);
}

static void test_bad_config(void **state)
{
    (void)state;
    fn_sim_config c;
    fn_sim_result r;
    fn_driver t = truck_at(30, 114, 30, 114);
    cfg_for(&c, FN_SIM__POLICIES, 1);
    assert_int_equal(fn_sim_run(&c, &t, 1, NULL, 0, &r), FN_EINVAL);
    cfg_for(&c, FN_SIM_BOARD, 0);
    assert_int_equal(fn_sim_run(&c, &t, 1, NULL, 0, &r), FN_EINVAL);
    cfg_for(&c, FN_SIM_BOARD, 1);
    c.speed_kmh = 0;
    assert_int_equal(fn_sim_run(&c, &t, 1, NULL, 0, &r), FN_EINVAL);
    assert_int_equal(fn_sim_policy_parse("backhaul"), FN_SIM_BACKHAUL);
    assert_int_equal(fn_sim_policy_parse("nope"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shuttle),
        cmocka_unit_test(test_imbalanced_lane),
        cmocka_unit_test(test_greedy_loses),
        cmocka_unit_test(test_backhaul_takes_the_truck_going_home),
        cmocka_unit_test(test_backhaul_prebooks_the_way_home),
        cmocka_unit_test(test_random_days_conserve),
        cmocka_unit_test(test_bound_below_every_policy),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
