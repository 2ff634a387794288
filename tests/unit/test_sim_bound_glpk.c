/*
 * test_sim_bound_glpk.c — the empty-km lower bound (sim/bound.h) against an
 * independent exact optimum of the same problem from GLPK.
 *
 * Each instance is a small freight day: trucks and loads spread uniformly
 * or clustered around a few points, with truck types, lengths, weights and
 * volumes that do not always fit, pickup windows that cut many pairs, and
 * some loads no column can reach at all.  The test builds the FULL problem
 * itself, by brute force over every (column, load) pair with the rules as
 * bound.h states them, and solves the assignment LP with glp_simplex in two
 * steps (the most loads served, then with that many fixed the least empty
 * metres), each basis confirmed by glp_exact; the bipartite matching
 * polytope is integral, and the test asserts the vertices are.
 *
 * Checked: fn_bound_solve proves exactness, serves as many loads as GLPK and
 * has the same empty metres to the metre; its plan is a valid one (every
 * predecessor a feasible pair, no column twice, costs adding up to
 * empty_km, loaded km adding up); the first graph of k = 1 or 2 nearest
 * columns is not enough on several instances, so the certificate rounds
 * are exercised.  fn_dispatch_solve_dual's potentials are also checked on
 * their own: feasible, tight on the chosen edges, 0 on free columns, and
 * with the dual objective equal to the primal one.
 *
 * Closed mode the same way: the test adds its own home rows (every column
 * to every home at R, the rule in bound.h) and GLPK solves loads + homes.
 * Homes lie at the truck, near it, or anywhere; some instances put columns
 * exactly at home_km and 1 m either side of it; by hand, an instance whose
 * home must take a column its first k do not hold.
 *
 * Both tables end with instances aimed at the certificate checks' priced
 * tree in bound.c: many columns at identical points, a box astride the
 * antimeridian, few loads so that most columns are free and priced 0, and
 * (closed) a home_km so large that every home costs nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fn.h"
#include "common/geo.h"
#include "core/model.h"
#include "match/dispatch.h"
#include "sim/bound.h"

#define T0 1800000000LL

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* ---- the exact reference ------------------------------------------------ */

static void assert_integral(glp_prob *P, size_t ne)
{
    for (size_t e = 0; e < ne; e++) {
        double x = glp_get_col_prim(P, (int)e + 1);
        if (!(fabs(x) < 1e-9 || fabs(x - 1.0) < 1e-9))
            fail_msg("GLPK's vertex is not integral: x[%zu] = %.12g", e, x);
    }
}

/* The assignment LP of a bipartite graph (row r's edges cols[start[r] ..
 * start[r+1]) at cost[...]): the most rows matched, then the least total
 * cost with exactly that many.  Returns the total, *matched the count. */
static int64_t glpk_assign(size_t nrows, size_t ncols, const size_t *start, const uint32_t *cols, const int64_t *cost,
                           size_t *matched)
{
    size_t ne = start[nrows];
    glp_prob *P;
    glp_smcp parm;
    int *ia, *ja, *ind, row;
    double *ar, *val, obj;
    int64_t m, total;

    *matched = 0;
    if (ne == 0)
        return 0;
    P = glp_create_prob();
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_OFF;
    glp_add_rows(P, (int)(nrows + ncols));
    for (size_t i = 0; i < nrows + ncols; i++)
        glp_set_row_bnds(P, (int)i + 1, GLP_UP, 0.0, 1.0);
    glp_add_cols(P, (int)ne);
    ia = malloc((2 * ne + 1) * sizeof(int));
    ja = malloc((2 * ne + 1) * sizeof(int));
    ar = malloc((2 * ne + 1) * sizeof(double));
    for (size_t r = 0; r < nrows; r++)
        for (size_t e = start[r]; e < start[r + 1]; e++) {
            glp_set_col_bnds(P, (int)e + 1, GLP_DB, 0.0, 1.0);
            glp_set_obj_coef(P, (int)e + 1, 1.0);
            ia[2 * e + 1] = (int)r + 1, ja[2 * e + 1] = (int)e + 1, ar[2 * e + 1] = 1.0;
            ia[2 * e + 2] = (int)(nrows + cols[e]) + 1, ja[2 * e + 2] = (int)e + 1, ar[2 * e + 2] = 1.0;
        }
    glp_load_matrix(P, (int)(2 * ne), ia, ja, ar);

    glp_set_obj_dir(P, GLP_MAX);
    assert_int_equal(glp_simplex(P, &parm), 0);
    assert_int_equal(glp_exact(P, &parm), 0);
    assert_int_equal(glp_get_status(P), GLP_OPT);
    assert_integral(P, ne);
    obj = glp_get_obj_val(P);
    m = llround(obj);
    assert_true(fabs(obj - (double)m) < 1e-6);

    row = glp_add_rows(P, 1);
    glp_set_row_bnds(P, row, GLP_FX, (double)m, (double)m);
    ind = malloc((ne + 1) * sizeof(int));
    val = malloc((ne + 1) * sizeof(double));
    for (size_t e = 0; e < ne; e++) {
        ind[e + 1] = (int)e + 1, val[e + 1] = 1.0;
        glp_set_obj_coef(P, (int)e + 1, (double)cost[e]);
    }
    glp_set_mat_row(P, row, (int)ne, ind, val);
    glp_set_obj_dir(P, GLP_MIN);
    assert_int_equal(glp_simplex(P, &parm), 0);
    assert_int_equal(glp_exact(P, &parm), 0);
    assert_int_equal(glp_get_status(P), GLP_OPT);
    assert_integral(P, ne);
    obj = glp_get_obj_val(P);
    total = llround(obj);
    assert_true(fabs(obj - (double)total) < 1e-6);
    *matched = (size_t)m;
    free(ia), free(ja), free(ar), free(ind), free(val);
    glp_delete_prob(P);
    return total;
}

/* ---- the rules, written again from bound.h ---------------------------- */

/* The pair (column c, load j): 1 and its metres when feasible. */
static int ref_edge(const fn_bound_config *cfg, const fn_bound_truck *t, size_t nt, const fn_bound_load *l, size_t c,
                    size_t j, int64_t *cost_m)
{
    const fn_bound_load *y = &l[j];
    double lat, lon, free_s, km;
    if (c < nt) {
        const fn_bound_truck *x = &t[c];
        if (!(y->types_mask & (1u << x->truck_type)) || (y->min_length_idx >= 0 && x->length_idx < y->min_length_idx) ||
            x->capacity_kg < y->weight_kg || (y->volume_l && x->volume_l && x->volume_l < y->volume_l))
            return 0;
        lat = x->lat, lon = x->lon, free_s = (double)x->t_s;
    } else {
        const fn_bound_load *a = &l[c - nt];
        if (c - nt == j || !(a->types_mask & y->types_mask))
            return 0;
        lat = a->dlat, lon = a->dlon;
        free_s = (double)(a->earliest_s + 2 * cfg->service_s) +
                 fn_haversine_km(a->olat, a->olon, a->dlat, a->dlon) * cfg->circuity / cfg->speed_kmh * 3600.0;
    }
    km = fn_haversine_km(lat, lon, y->olat, y->olon) * cfg->circuity;
    if (free_s + km / cfg->speed_kmh * 3600.0 > (double)y->latest_s)
        return 0;
    *cost_m = llround(km * 1000.0);
    return 1;
}

/* The column c's trip to truck i's home: R in bound.h, in metres. */
static int64_t ref_home(const fn_bound_config *cfg, const fn_bound_truck *t, size_t nt, const fn_bound_load *l,
                        size_t c, size_t i)
{
    double lat = c < nt ? t[c].lat : l[c - nt].dlat, lon = c < nt ? t[c].lon : l[c - nt].dlon;
    double km = fn_haversine_km(lat, lon, t[i].home_lat, t[i].home_lon) * cfg->circuity;
    return km > cfg->home_km ? llround(km * 1000.0) : 0;
}

/* ---- instances ---------------------------------------------------------- */

typedef struct scenario {
    uint64_t seed;
    size_t nt, nl;
    int clusters;          /* 0 = uniform over the box */
    double box_km;         /* side of the box, or a cluster's spread */
    double window_h;       /* pickup windows up to this long */
    int types;             /* truck types in play (1 .. 4) */
    double misfit;         /* share of loads with a length, weight or volume few trucks meet */
    double dead;           /* share of loads no column can reach: latest before any truck is free */
    size_t k;
    int stacks;            /* > 0: half the places sit on one of this many points (depots) */
    int antimeridian;      /* 1: the box straddles 180 degrees of longitude, at 64 N */
} scenario;

/* The box's centre. */
static void centre(const scenario *sc, double *lat, double *lon)
{
    *lat = sc->antimeridian ? 64.0 : 31.0;
    *lon = sc->antimeridian ? 180.0 : 117.0;
}

/* A drawn place, put on a depot (a cluster's centre) when the scenario
 * stacks, kept off the poles and wrapped into [-180, 180).  Draws from rng only when it
 * stacks, so that the other scenarios keep their instances. */
static void settle(const scenario *sc, uint64_t *rng, const double (*depot)[2], double *lat, double *lon)
{
    if (sc->stacks && rng_unit(rng) < 0.5) {
        int d = (int)(rng_next(rng) % (uint64_t)sc->stacks);
        *lat = depot[d][0], *lon = depot[d][1];
    }
    *lat = fmax(-89.0, fmin(89.0, *lat)); /* a box of thousands of km may reach a pole */
    if (*lon >= 180.0)
        *lon -= 360.0;
    else if (*lon < -180.0)
        *lon += 360.0;
}

static void make(const scenario *sc, fn_bound_truck *t, fn_bound_load *l)
{
    uint64_t rng = sc->seed;
    double lat0, lon0, deg_lat, deg_lon;
    double cl[8][2];
    centre(sc, &lat0, &lon0);
    deg_lat = sc->box_km / FN_KM_PER_DEG_LAT, deg_lon = deg_lat / cos(lat0 * M_PI / 180.0);
    for (int c = 0; c < 8; c++) {
        cl[c][0] = lat0 + (rng_unit(&rng) - 0.5) * 4.0 * deg_lat;
        cl[c][1] = lon0 + (rng_unit(&rng) - 0.5) * 4.0 * deg_lon;
    }
#define PLACE(LAT, LON)                                                                                                \
    do {                                                                                                               \
        if (sc->clusters) {                                                                                            \
            int c_ = (int)(rng_next(&rng) % (uint64_t)sc->clusters);                                                   \
            (LAT) = cl[c_][0] + (rng_unit(&rng) - 0.5) * deg_lat * rng_unit(&rng);                                    \
            (LON) = cl[c_][1] + (rng_unit(&rng) - 0.5) * deg_lon * rng_unit(&rng);                                    \
        } else {                                                                                                       \
            (LAT) = lat0 + (rng_unit(&rng) - 0.5) * deg_lat;                                                           \
            (LON) = lon0 + (rng_unit(&rng) - 0.5) * deg_lon;                                                           \
        }                                                                                                              \
        settle(sc, &rng, (const double(*)[2])cl, &(LAT), &(LON));                                                      \
    } while (0)
    for (size_t i = 0; i < sc->nt; i++) {
        fn_bound_truck *x = &t[i];
        memset(x, 0, sizeof(*x));
        PLACE(x->lat, x->lon);
        x->t_s = T0 + (int64_t)(rng_next(&rng) % (4 * 3600));
        x->truck_type = (uint8_t)(rng_next(&rng) % (uint64_t)sc->types);
        x->length_idx = (uint8_t)(rng_next(&rng) % 11);
        x->capacity_kg = 5000 + (uint32_t)(rng_next(&rng) % 30000);
        x->volume_l = rng_next(&rng) % 3 ? 20000 + (uint32_t)(rng_next(&rng) % 80000) : 0;
    }
    for (size_t j = 0; j < sc->nl; j++) {
        fn_bound_load *y = &l[j];
        memset(y, 0, sizeof(*y));
        PLACE(y->olat, y->olon);
        PLACE(y->dlat, y->dlon);
        y->earliest_s = T0 + (int64_t)(rng_next(&rng) % (10 * 3600));
        y->latest_s = y->earliest_s + (int64_t)(rng_unit(&rng) * sc->window_h * 3600.0);
        y->types_mask = (uint16_t)(1u << (rng_next(&rng) % (uint64_t)sc->types));
        if (rng_next(&rng) % 3 == 0)
            y->types_mask |= (uint16_t)(1u << (rng_next(&rng) % (uint64_t)sc->types));
        y->min_length_idx = -1;
        y->weight_kg = 1000 + (uint32_t)(rng_next(&rng) % 8000);
        if (rng_unit(&rng) < sc->misfit) {
            switch (rng_next(&rng) % 3) {
            case 0: y->min_length_idx = (int8_t)(8 + rng_next(&rng) % 3); break;
            case 1: y->weight_kg = 28000 + (uint32_t)(rng_next(&rng) % 8000); break;
            default: y->volume_l = 70000 + (uint32_t)(rng_next(&rng) % 40000); break;
            }
        }
        if (rng_unit(&rng) < sc->dead) /* before any truck is free, and no load ends that early */
            y->earliest_s = y->latest_s = T0 - 60;
    }
#undef PLACE
}

/* The full problem by brute force, rows = loads, columns = trucks then load ends. */
typedef struct dense {
    size_t *start;
    uint32_t *cols;
    int64_t *cost;
} dense;

static void dense_build(const fn_bound_config *cfg, const fn_bound_truck *t, size_t nt, const fn_bound_load *l,
                        size_t nl, dense *d)
{
    size_t nc = nt + nl, ne = 0;
    d->start = malloc((nl + 1) * sizeof(size_t));
    d->cols = malloc((nl * nc + 1) * sizeof(uint32_t));
    d->cost = malloc((nl * nc + 1) * sizeof(int64_t));
    for (size_t j = 0; j < nl; j++) {
        d->start[j] = ne;
        for (size_t c = 0; c < nc; c++)
            if (ref_edge(cfg, t, nt, l, c, j, &d->cost[ne]))
                d->cols[ne++] = (uint32_t)c;
    }
    d->start[nl] = ne;
}

static void dense_free(dense *d)
{
    free(d->start), free(d->cols), free(d->cost);
}

typedef struct outcome {
    size_t pairs, served, rounds, unservable;
} outcome;

static outcome check(const scenario *sc)
{
    fn_bound_config cfg = {.circuity = 1.3, .speed_kmh = 50.0, .service_s = 1800, .k = sc->k};
    fn_bound_truck *t = malloc((sc->nt + 1) * sizeof(*t));
    fn_bound_load *l = malloc((sc->nl + 1) * sizeof(*l));
    fn_bound_result res;
    dense d;
    size_t ref_served, nc = sc->nt + sc->nl, served = 0, unservable = 0;
    int64_t ref_m, got_m = 0;
    double loaded_km = 0;
    uint8_t *used = calloc(nc + 1, 1);
    outcome o;

    make(sc, t, l);
    assert_int_equal(fn_bound_solve(&cfg, t, sc->nt, l, sc->nl, &res), 0);
    dense_build(&cfg, t, sc->nt, l, sc->nl, &d);
    ref_m = glpk_assign(sc->nl, nc, d.start, d.cols, d.cost, &ref_served);

    /* The plan: every predecessor a feasible pair at its cost, each column once. */
    for (size_t j = 0; j < sc->nl; j++) {
        int32_t c = res.pred[j];
        int64_t m;
        unservable += d.start[j] == d.start[j + 1];
        if (c < 0)
            continue;
        assert_true((size_t)c < nc);
        if (!ref_edge(&cfg, t, sc->nt, l, (size_t)c, j, &m))
            fail_msg("seed %llu: load %zu's predecessor %d is not a feasible pair", (unsigned long long)sc->seed, j, c);
        assert_false(used[c]);
        used[c] = 1;
        got_m += m;
        served++;
        loaded_km += fn_haversine_km(l[j].olat, l[j].olon, l[j].dlat, l[j].dlon) * cfg.circuity;
    }
    printf("   seed %-4llu %4zu trucks %4zu loads %6zu pairs, %3zu unservable | served %4zu empty %10.3f km | "
           "k %zu rounds %zu added %zu\n",
           (unsigned long long)sc->seed, sc->nt, sc->nl, d.start[sc->nl], unservable, res.served, res.empty_km, sc->k,
           res.rounds, res.added);
    assert_int_equal(served, res.served);
    assert_int_equal(got_m, llround(res.empty_km * 1000.0));
    assert_true(fabs(loaded_km - res.loaded_km) < 1e-6 * (1.0 + loaded_km));
    assert_true(res.exact);
    if (res.served != ref_served || got_m != ref_m)
        fail_msg("seed %llu: bound serves %zu loads with %lld m empty; GLPK's optimum serves %zu with %lld m",
                 (unsigned long long)sc->seed, res.served, (long long)got_m, ref_served, (long long)ref_m);
    assert_true(res.edges <= d.start[sc->nl]);

    o = (outcome){d.start[sc->nl], res.served, res.rounds, unservable};
    fn_bound_result_free(&res);
    dense_free(&d);
    free(t), free(l), free(used);
    return o;
}

/* Homes for make()'s trucks, from their own stream so that the trucks and
 * loads stay those of the open instance: a share at the truck itself or
 * within 1.5 home_km of it, the rest anywhere in twice the box. */
static void make_homes(const scenario *sc, double home_km, double near, fn_bound_truck *t)
{
    uint64_t rng = sc->seed ^ 0x1234567887654321ull;
    const double deg_lat = sc->box_km / FN_KM_PER_DEG_LAT;
    double lat0, lon0;
    centre(sc, &lat0, &lon0);
    for (size_t i = 0; i < sc->nt; i++) {
        fn_bound_truck *x = &t[i];
        double u = rng_unit(&rng), r_deg = (home_km + 1.0) * 1.5 / FN_KM_PER_DEG_LAT;
        if (u < near / 4) {
            x->home_lat = x->lat, x->home_lon = x->lon;
        } else if (u < near) {
            x->home_lat = x->lat + (rng_unit(&rng) - 0.5) * r_deg;
            x->home_lon = x->lon + (rng_unit(&rng) - 0.5) * r_deg;
        } else {
            x->home_lat = lat0 + (rng_unit(&rng) - 0.5) * 2 * deg_lat;
            x->home_lon = lon0 + (rng_unit(&rng) - 0.5) * 2 * deg_lat / cos(lat0 * M_PI / 180.0);
            x->home_lon -= x->home_lon >= 180.0 ? 360.0 : 0.0;
            x->home_lat = fmin(x->home_lat, 89.0);
        }
    }
}

/* Moves truck i's home due north of column point (lat, lon) until its road
 * km are home_km + off_km, to within a few micrometres. */
static void home_at(const fn_bound_config *cfg, fn_bound_truck *x, double lat, double lon, double off_km)
{
    double want = cfg->home_km + off_km, dlat = want / cfg->circuity / FN_KM_PER_DEG_LAT;
    for (int it = 0; it < 6; it++) {
        double km = fn_haversine_km(lat, lon, lat + dlat, lon) * cfg->circuity;
        dlat *= want / km;
    }
    x->home_lat = lat + dlat, x->home_lon = lon;
}

static outcome check_closed(const scenario *sc, double home_km, double near, int boundary)
{
    fn_bound_config cfg = {.circuity = 1.3, .speed_kmh = 50.0, .service_s = 1800, .k = sc->k, .closed = 1,
                           .home_km = home_km};
    size_t nt = sc->nt, nl = sc->nl, nc = nt + nl, nr = nl + nt, ne, ref_matched, served = 0, homes = 0;
    fn_bound_truck *t = malloc((nt + 1) * sizeof(*t));
    fn_bound_load *l = malloc((nl + 1) * sizeof(*l));
    fn_bound_result res;
    dense d;
    size_t *start = malloc((nr + 1) * sizeof(size_t));
    uint32_t *cols;
    int64_t *cost, ref_m, got_m = 0, home_m = 0;
    uint8_t *used = calloc(nc + 1, 1);
    outcome o;

    make(sc, t, l);
    make_homes(sc, home_km, near, t);
    if (boundary && nt >= 3 && nl >= 1) {
        /* Truck 0's home exactly home_km from its start (the same double the
         * bound computes), truck 1's 1 m beyond, truck 2's 1 m within from
         * load 0's end; the rule is "> home_km", so only truck 1 pays. */
        cfg.home_km = fn_haversine_km(t[0].lat, t[0].lon, t[0].lat + 0.2, t[0].lon) * cfg.circuity;
        t[0].home_lat = t[0].lat + 0.2, t[0].home_lon = t[0].lon;
        assert_int_equal(ref_home(&cfg, t, nt, l, 0, 0), 0);
        home_at(&cfg, &t[1], t[1].lat, t[1].lon, 0.001);
        home_at(&cfg, &t[2], l[0].dlat, l[0].dlon, -0.001);
        assert_true(llabs(ref_home(&cfg, t, nt, l, 1, 1) - llround(cfg.home_km * 1000.0) - 1) <= 1);
        assert_int_equal(ref_home(&cfg, t, nt, l, nt + 0, 2), 0);
        assert_true(fn_haversine_km(l[0].dlat, l[0].dlon, t[2].home_lat, t[2].home_lon) * cfg.circuity >
                    cfg.home_km - 0.0015);
    }
    assert_int_equal(fn_bound_solve(&cfg, t, nt, l, nl, &res), 0);

    /* The dense problem: the loads' rows as in the open test, then every
     * column to every home. */
    dense_build(&cfg, t, nt, l, nl, &d);
    ne = d.start[nl];
    cols = malloc((ne + nt * nc + 1) * sizeof(uint32_t));
    cost = malloc((ne + nt * nc + 1) * sizeof(int64_t));
    memcpy(start, d.start, (nl + 1) * sizeof(size_t));
    memcpy(cols, d.cols, ne * sizeof(uint32_t));
    memcpy(cost, d.cost, ne * sizeof(int64_t));
    for (size_t i = 0; i < nt; i++) {
        start[nl + i] = ne;
        for (size_t c = 0; c < nc; c++, ne++)
            cols[ne] = (uint32_t)c, cost[ne] = ref_home(&cfg, t, nt, l, c, i);
    }
    start[nr] = ne;
    ref_m = glpk_assign(nr, nc, start, cols, cost, &ref_matched);

    /* The plan: loads' predecessors feasible, homes' columns anything, no
     * column twice, and the metres adding up. */
    for (size_t j = 0; j < nl; j++) {
        int32_t c = res.pred[j];
        int64_t m;
        if (c < 0)
            continue;
        assert_true((size_t)c < nc);
        if (!ref_edge(&cfg, t, nt, l, (size_t)c, j, &m))
            fail_msg("seed %llu: load %zu's predecessor %d is not a feasible pair", (unsigned long long)sc->seed, j, c);
        assert_false(used[c]);
        used[c] = 1;
        got_m += m;
        served++;
    }
    for (size_t i = 0; i < nt; i++) {
        int32_t c = res.home_pred[i];
        if (c < 0)
            continue;
        assert_true((size_t)c < nc);
        assert_false(used[c]);
        used[c] = 1;
        home_m += ref_home(&cfg, t, nt, l, (size_t)c, i);
        homes++;
    }
    printf("   seed %-4llu %4zu trucks %4zu loads home_km %6.3f | served %4zu homes %4zu empty %10.3f km, home %10.3f "
           "km | k %zu rounds %zu added %zu\n",
           (unsigned long long)sc->seed, nt, nl, cfg.home_km, res.served, res.homes_matched, res.empty_km,
           res.home_km_total, sc->k, res.rounds, res.added);
    assert_true(res.exact);
    assert_int_equal(served, res.served);
    assert_int_equal(homes, res.homes_matched);
    /* A home takes any column and there are as many columns as rows. */
    assert_int_equal(homes, nt);
    assert_int_equal(home_m, llround(res.home_km_total * 1000.0));
    assert_int_equal(got_m + home_m, llround(res.empty_km * 1000.0));
    if (served + homes != ref_matched || got_m + home_m != ref_m)
        fail_msg("seed %llu: closed bound matches %zu rows with %lld m empty; GLPK's optimum %zu with %lld m",
                 (unsigned long long)sc->seed, served + homes, (long long)(got_m + home_m), ref_matched,
                 (long long)ref_m);

    o = (outcome){ne, res.served, res.rounds, 0};
    fn_bound_result_free(&res);
    dense_free(&d);
    free(start), free(cols), free(cost);
    free(t), free(l), free(used);
    return o;
}

/* ---- the tests ---------------------------------------------------------- */

static void test_bound_against_glpk(void **state)
{
    static const scenario scs[] = {
        /* seed  trucks loads clusters box   window types misfit dead  k stacks antimeridian */
        {1, 20, 15, 0, 100, 3, 1, 0.0, 0.0, 1, 0, 0},
        {2, 40, 40, 0, 200, 4, 2, 0.2, 0.1, 1, 0, 0},
        {3, 30, 60, 3, 150, 6, 2, 0.1, 0.1, 1, 0, 0},
        {4, 60, 40, 2, 80, 2, 3, 0.3, 0.0, 2, 0, 0},
        {5, 15, 50, 0, 300, 8, 1, 0.0, 0.2, 1, 0, 0},
        {6, 50, 50, 4, 250, 5, 4, 0.2, 0.1, 3, 0, 0},
        {7, 80, 30, 1, 40, 1, 2, 0.1, 0.0, 1, 0, 0},
        {8, 25, 70, 2, 120, 12, 2, 0.1, 0.05, 2, 0, 0},
        {9, 10, 10, 0, 50, 1, 1, 0.0, 0.5, 1, 0, 0},
        {10, 45, 55, 5, 400, 10, 3, 0.25, 0.1, 1, 0, 0},
        {11, 35, 35, 0, 600, 0.5, 2, 0.1, 0.0, 1, 0, 0},
        {12, 70, 45, 3, 100, 4, 4, 0.4, 0.1, 0, 0, 0},
        {13, 120, 110, 0, 250, 8, 2, 0.1, 0.05, 1, 0, 0},
        {14, 90, 140, 3, 150, 6, 3, 0.15, 0.05, 2, 0, 0},
        {15, 150, 60, 6, 300, 12, 1, 0.0, 0.0, 1, 0, 0},
        /* For the checks' priced tree: many columns at one point, a box
         * astride the antimeridian, few loads (most columns free, priced
         * 0), both of the first two, and a box of a third of the earth
         * astride the antimeridian (tree nodes wider than 180 degrees of
         * longitude together with their gap to a row). */
        {16, 60, 50, 3, 200, 6, 2, 0.1, 0.05, 1, 3, 0},
        {17, 50, 45, 2, 300, 8, 2, 0.1, 0.05, 1, 0, 1},
        {18, 150, 12, 0, 100, 6, 2, 0.0, 0.0, 1, 0, 0},
        {19, 60, 50, 4, 300, 8, 3, 0.1, 0.05, 1, 2, 1},
        {41, 60, 50, 0, 8000, 48, 3, 0.1, 0.05, 1, 0, 1},
    };
    size_t multi = 0, unservable = 0, large = 0, partial = 0;
    (void)state;
    for (size_t i = 0; i < FN_ARRAY_LEN(scs); i++) {
        outcome o = check(&scs[i]);
        multi += o.rounds > 1;
        unservable += o.unservable;
        large += o.pairs >= 1500;
        partial += o.served < scs[i].nl;
    }
    /* The instances exercise what they are meant to: the certificate adds
     * pairs, some loads cannot be served at all, some cannot all be served,
     * and some instances hold thousands of pairs. */
    assert_true(multi >= 5);
    assert_true(unservable >= 5);
    assert_true(partial >= 4);
    assert_true(large >= 2);
}

/* A load's own end never precedes it, a chain follows the clock, and what
 * no column can reach stays unserved: three loads on a line, one truck. */
static void test_chain_by_hand(void **state)
{
    fn_bound_config cfg = {.circuity = 1.0, .speed_kmh = 60.0, .service_s = 0, .k = 4};
    const double lat = 30.0, km = 1.0 / FN_KM_PER_DEG_LAT;
    fn_bound_truck t = {.lat = lat, .lon = 120.0, .t_s = T0, .truck_type = FN_TT_van, .length_idx = 5, .capacity_kg = 20000};
    /* A: 0 -> 60 km north, at T0; B: picks up 70 km north, by T0 + 2 h
     * (A's end is free at T0 + 1 h, 10 km away: reachable); C: picks up at
     * the truck's point by T0 - 1 (unreachable). */
    fn_bound_load l[3] = {
        {lat, 120.0, lat + 60 * km, 120.0, T0, T0, 1u << FN_TT_van, -1, 1000, 0},
        {lat + 70 * km, 120.0, lat + 90 * km, 120.0, T0 + 3600, T0 + 7200, 1u << FN_TT_van, -1, 1000, 0},
        {lat, 120.0, lat + 1 * km, 120.0, T0 - 100, T0 - 1, 1u << FN_TT_van, -1, 1000, 0},
    };
    fn_bound_result r;
    (void)state;
    assert_int_equal(fn_bound_solve(&cfg, &t, 1, l, 3, &r), 0);
    assert_int_equal(r.served, 2);
    assert_int_equal(r.pred[0], 0);
    assert_int_equal(r.pred[1], 1 + 0);
    assert_int_equal(r.pred[2], -1);
    assert_true(r.exact);
    assert_int_equal(llround(r.empty_km * 1000.0), 10000);
    assert_true(fabs(r.loaded_km - 80.0) < 1e-6);
    fn_bound_result_free(&r);

    /* Empty inputs and bad configurations. */
    assert_int_equal(fn_bound_solve(&cfg, NULL, 0, NULL, 0, &r), 0);
    assert_int_equal(r.served, 0);
    assert_true(r.exact);
    fn_bound_result_free(&r);
    assert_int_equal(fn_bound_solve(&cfg, &t, 1, NULL, 0, &r), 0);
    fn_bound_result_free(&r);
    cfg.speed_kmh = 0;
    assert_int_equal(fn_bound_solve(&cfg, &t, 1, l, 3, &r), FN_EINVAL);
    assert_null(r.pred);
    cfg.speed_kmh = 60, t.truck_type = FN_TT__COUNT;
    assert_int_equal(fn_bound_solve(&cfg, &t, 1, l, 3, &r), FN_EINVAL);
}

static void test_closed_against_glpk(void **state)
{
    static const struct {
        scenario sc;
        double home_km, near;
        int boundary;
    } cs[] = {
        /* seed trucks loads clusters box window types misfit dead k stacks antimeridian | home_km near boundary */
        {{21, 20, 15, 0, 100, 3, 1, 0.0, 0.0, 1, 0, 0}, 20, 0.8, 0},
        {{22, 30, 30, 0, 200, 4, 2, 0.2, 0.1, 1, 0, 0}, 50, 0.6, 1},
        {{23, 25, 40, 3, 150, 6, 2, 0.1, 0.1, 1, 0, 0}, 10, 0.9, 0},
        {{24, 40, 25, 2, 80, 2, 3, 0.3, 0.0, 2, 0, 0}, 0, 0.5, 0},
        {{25, 12, 35, 0, 300, 8, 1, 0.0, 0.2, 1, 0, 0}, 50, 0.2, 1},
        {{26, 35, 35, 4, 250, 5, 4, 0.2, 0.1, 3, 0, 0}, 30, 0.7, 0},
        {{27, 50, 20, 1, 40, 1, 2, 0.1, 0.0, 1, 0, 0}, 5, 0.9, 1},
        {{28, 20, 45, 2, 120, 12, 2, 0.1, 0.05, 2, 0, 0}, 50, 1.0, 0},
        {{29, 10, 10, 0, 50, 1, 1, 0.0, 0.5, 1, 0, 0}, 20, 0.0, 1},
        {{30, 30, 40, 5, 400, 10, 3, 0.25, 0.1, 1, 0, 0}, 50, 0.8, 0},
        {{31, 45, 30, 3, 100, 4, 4, 0.4, 0.1, 0, 0, 0}, 25, 0.6, 1},
        {{32, 60, 50, 0, 250, 8, 2, 0.1, 0.05, 1, 0, 0}, 50, 0.8, 0},
        /* As the open table's last five, but the third: home_km 5000 puts
         * every column at every home, so homes cost 0 and price nothing. */
        {{33, 40, 30, 3, 200, 6, 2, 0.1, 0.05, 1, 3, 0}, 50, 0.7, 0},
        {{34, 35, 30, 2, 300, 8, 2, 0.1, 0.05, 1, 0, 1}, 30, 0.5, 0},
        {{35, 30, 20, 2, 200, 6, 2, 0.1, 0.0, 1, 0, 0}, 5000, 0.5, 0},
        {{36, 40, 30, 4, 300, 8, 3, 0.1, 0.05, 1, 2, 1}, 50, 0.8, 1},
        {{53, 60, 40, 3, 4000, 48, 3, 0.1, 0.05, 1, 0, 1}, 50, 0.3, 0},
    };
    size_t multi = 0;
    (void)state;
    for (size_t i = 0; i < FN_ARRAY_LEN(cs); i++)
        multi += check_closed(&cs[i].sc, cs[i].home_km, cs[i].near, cs[i].boundary).rounds > 1;
    assert_true(multi >= 4);
}

/* Closed mode by hand.  Three trucks, no loads: a home exactly home_km from
 * its truck is at home, 1 m beyond it is not.  Then one load that only
 * truck 0 fits, and homes placed so that the best ending swaps them: a
 * pair the first graph (k = 1, own truck, the open plan's chain end) does
 * not hold, so the certificate must add a home's edge. */
static void test_closed_by_hand(void **state)
{
    fn_bound_config cfg = {.circuity = 1.2, .speed_kmh = 60.0, .k = 1, .closed = 1};
    const double lat = 30.0, km = 1.0 / FN_KM_PER_DEG_LAT;
    fn_bound_truck t[3] = {
        {.lat = lat, .lon = 120.0, .t_s = T0, .truck_type = FN_TT_van, .length_idx = 5, .capacity_kg = 20000},
        {.lat = lat, .lon = 124.0, .t_s = T0, .truck_type = FN_TT_flatbed, .length_idx = 5, .capacity_kg = 20000},
        {.lat = lat, .lon = 128.0, .t_s = T0, .truck_type = FN_TT_flatbed, .length_idx = 5, .capacity_kg = 20000},
    };
    fn_bound_load ld = {lat, 120.0, lat + 100 * km, 120.0, T0, T0 + 3600, 1u << FN_TT_van, -1, 1000, 0};
    fn_bound_result r;
    int64_t beyond_m;
    (void)state;

    t[0].home_lat = lat + 0.3, t[0].home_lon = 120.0;
    cfg.home_km = fn_haversine_km(lat, 120.0, lat + 0.3, 120.0) * cfg.circuity;
    home_at(&cfg, &t[1], t[1].lat, t[1].lon, 0.001);
    home_at(&cfg, &t[2], t[2].lat, t[2].lon, -0.001);
    beyond_m = llround(fn_haversine_km(t[1].lat, t[1].lon, t[1].home_lat, t[1].home_lon) * cfg.circuity * 1000.0);
    assert_true(beyond_m >= llround(cfg.home_km * 1000.0));
    assert_int_equal(fn_bound_solve(&cfg, t, 3, NULL, 0, &r), 0);
    assert_true(r.exact);
    assert_int_equal(r.homes_matched, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r.home_pred[i], i);
    assert_int_equal(llround(r.home_km_total * 1000.0), beyond_m);
    assert_int_equal(llround(r.empty_km * 1000.0), beyond_m);
    fn_bound_result_free(&r);

    /* The van at A (home A) carries the load from A to B, 100 km north.
     * Truck 1 stands 1 km east of A with its home 2 km north of B; truck 2
     * stands (and lives) 3 km north of B.  The open plan's chains end at B
     * (truck 0) and at the trucks' starts, so the first graph offers home
     * 0 only A and B, and home 1 only its truck and truck 2, the nearest.
     * With home_km 2.5 only one plan costs nothing: home 0 takes truck 1's
     * start, home 1 the load's end. */
    t[0].home_lat = lat, t[0].home_lon = 120.0;
    t[1].lat = lat, t[1].lon = 120.0 + 1 * km / cos(lat * M_PI / 180.0);
    t[1].home_lat = lat + 102 * km, t[1].home_lon = 120.0;
    t[2].lat = t[2].home_lat = lat + 103 * km, t[2].lon = t[2].home_lon = 120.0;
    cfg.home_km = 2.5;
    assert_int_equal(fn_bound_solve(&cfg, t, 3, &ld, 1, &r), 0);
    assert_true(r.exact);
    assert_int_equal(r.served, 1);
    assert_int_equal(r.pred[0], 0);
    assert_int_equal(r.homes_matched, 3);
    assert_int_equal(r.home_pred[0], 1);
    assert_int_equal(r.home_pred[1], 3 + 0);
    assert_int_equal(r.home_pred[2], 2);
    assert_true(r.rounds > 1);
    assert_true(r.added >= 1);
    assert_int_equal(llround(r.home_km_total * 1000.0), 0);
    assert_int_equal(llround(r.empty_km * 1000.0), 0);
    fn_bound_result_free(&r);

    /* Open mode ignores homes; closed mode refuses a bad home_km or home. */
    cfg.closed = 0;
    assert_int_equal(fn_bound_solve(&cfg, t, 3, &ld, 1, &r), 0);
    assert_null(r.home_pred);
    assert_int_equal(r.homes_matched, 0);
    assert_int_equal(r.pred[0], 0);
    assert_int_equal(llround(r.empty_km * 1000.0), 0);
    fn_bound_result_free(&r);
    cfg.closed = 1, cfg.home_km = -1;
    assert_int_equal(fn_bound_solve(&cfg, t, 3, &ld, 1, &r), FN_EINVAL);
    cfg.home_km = NAN;
    assert_int_equal(fn_bound_solve(&cfg, t, 3, &ld, 1, &r), FN_EINVAL);
    cfg.home_km = 5, t[2].home_lat = NAN;
    assert_int_equal(fn_bound_solve(&cfg, t, 3, &ld, 1, &r), FN_EINVAL);
    assert_null(r.pred);
    assert_null(r.home_pred);
}

/* fn_dispatch_solve_dual's potentials on random sparse graphs: a feasible
 * dual, tight where the matching is, 0 on free columns, equal in value. */
static void test_dispatch_duals(void **state)
{
    uint64_t rng = 777;
    (void)state;
    for (int round = 0; round < 60; round++) {
        size_t nrows = 1 + rng_next(&rng) % 300, ncols = 1 + rng_next(&rng) % 300, ne = 0, deg = 1 + rng_next(&rng) % 6;
        size_t *start = malloc((nrows + 1) * sizeof(size_t));
        uint32_t *cols = malloc(nrows * deg * sizeof(uint32_t));
        int64_t *cost = malloc(nrows * deg * sizeof(int64_t)), *pr = malloc(nrows * sizeof(int64_t));
        int64_t *pc = malloc((ncols + nrows) * sizeof(int64_t)), big = round % 2 ? 0 : 1000000000000LL, total;
        int64_t dual = 0, primal = 0, used_big;
        int32_t *rc = malloc(nrows * sizeof(int32_t));
        uint8_t *taken = calloc(ncols + nrows, 1);
        int64_t maxc = 0;
        size_t unmatched = 0;
        for (size_t r = 0; r < nrows; r++) {
            size_t centre = r * ncols / nrows;
            start[r] = ne;
            for (size_t i = 0, d = rng_next(&rng) % (deg + 1); i < d; i++) {
                uint32_t c = (uint32_t)((centre + rng_next(&rng) % 9) % ncols);
                int dup = 0;
                for (size_t e = start[r]; e < ne; e++)
                    dup |= cols[e] == c;
                if (dup)
                    continue;
                cols[ne] = c;
                cost[ne] = round % 3 == 0 ? (int64_t)(rng_next(&rng) % 4) : (int64_t)(rng_next(&rng) % 100000);
                maxc = cost[ne] > maxc ? cost[ne] : maxc;
                ne++;
            }
        }
        start[nrows] = ne;
        total = fn_dispatch_solve_dual(nrows, ncols, start, cols, cost, big, rc, pr, pc);
        assert_int_equal(total, fn_dispatch_solve(nrows, ncols, start, cols, cost, rc));
        total = fn_dispatch_solve_dual(nrows, ncols, start, cols, cost, big, rc, pr, pc);
        used_big = big ? big : (maxc + 1) * (int64_t)(nrows + 1);
        for (size_t r = 0; r < nrows; r++) {
            for (size_t e = start[r]; e < start[r + 1]; e++) {
                int64_t red = cost[e] - pr[r] - pc[cols[e]];
                assert_true(red >= 0);
                if (rc[r] == (int32_t)cols[e]) {
                    assert_int_equal(red, 0);
                    primal += cost[e];
                }
            }
            /* The private column: cost big. */
            assert_true(used_big - pr[r] - pc[ncols + r] >= 0);
            if (rc[r] < 0) {
                assert_int_equal(used_big - pr[r] - pc[ncols + r], 0);
                taken[ncols + r] = 1;
                unmatched++;
            } else {
                assert_false(taken[rc[r]]);
                taken[rc[r]] = 1;
            }
            dual += pr[r];
        }
        for (size_t c = 0; c < ncols + nrows; c++) {
            assert_true(pc[c] <= 0);
            if (!taken[c])
                assert_int_equal(pc[c], 0);
            dual += pc[c];
        }
        assert_int_equal(primal, total);
        assert_int_equal(dual, primal + used_big * (int64_t)unmatched);
        free(start), free(cols), free(cost), free(pr), free(pc), free(rc), free(taken);
    }
}

static int teardown_glpk(void **state)
{
    (void)state;
    glp_free_env();
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_against_glpk),
        cmocka_unit_test(test_chain_by_hand),
        cmocka_unit_test(test_closed_against_glpk),
        cmocka_unit_test(test_closed_by_hand),
        cmocka_unit_test(test_dispatch_duals),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_glpk);
}
