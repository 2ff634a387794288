/*
 * test_core_grid.c — unit tests for src/core/grid.c, all against a brute
 * force: every query's answer must equal "every present item the filter
 * keeps, within the radius, sorted by (distance, item), first k", exactly
 * (same items, same order, same distances bit for bit).
 *
 * Points are seeded-random over mainland China's box plus clusters around a
 * few cities (dense cells, exact duplicates and points on cell edges, so
 * ties and ring boundaries are exercised).  Queries use random radii and k
 * and a filter that rejects some items.  Then items move and disappear, and
 * last the filter ranks by privacy-snapped positions with the slack the
 * state module passes (fn_state_trucks_near).  Items live in LAYERS layers
 * (item % LAYERS) and queries ask for random sets of layers.  Dense
 * clusters make cells split; emptying them makes them merge back.
 */
#include "common/fn.h"
#include "common/geo.h"
#include "core/grid.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#define LAYERS 3
#define ALL_LAYERS ((1u << LAYERS) - 1)

static unsigned layer_of(uint32_t item) { return item % LAYERS; }

static void put(fn_grid *g, uint32_t item, double lat, double lon)
{
    fn_grid_put(g, item, layer_of(item), lat, lon, item * 7u, item ^ 0x5555u, ~item);
}

/* ---- helpers --------------------------------------------------------- */

static const struct city {
    double lat, lon;
} cities[] = {
    {39.9042, 116.4074}, /* Beijing */
    {31.2304, 121.4737}, /* Shanghai */
    {23.1291, 113.2644}, /* Guangzhou */
    {30.5728, 104.0668}, /* Chengdu */
    {43.8256, 87.6168},  /* Urumqi */
    {45.8038, 126.5350}, /* Harbin */
    {53.4, 122.3},       /* Mohe, near the area's northern edge */
};

/* The points the grid holds, by item; present says whether it holds it. */
typedef struct world {
    fn_area area;               /* where points are drawn (some fall outside, see random_point) */
    const struct city *cities;  /* cluster centres */
    size_t ncities;
    size_t n;
    double *lat, *lon;
    uint8_t *present;
} world;

static void world_init(world *w, size_t n)
{
    w->area = FN_AREA_CHINA;
    w->cities = cities;
    w->ncities = FN_ARRAY_LEN(cities);
    w->n = n;
    w->lat = calloc(n, sizeof(double));
    w->lon = calloc(n, sizeof(double));
    w->present = calloc(n, 1);
    assert_non_null(w->lat);
    assert_non_null(w->lon);
    assert_non_null(w->present);
}

static void world_free(world *w)
{
    free(w->lat);
    free(w->lon);
    free(w->present);
}

/* A point: uniform over the area, around a city (a wide cluster may spill
 * past the area's edge, where the grid clamps it into its edge cells),
 * exactly on a cell corner near a city, or a copy of an earlier point. */
static void random_point(uint64_t *s, const world *w, size_t upto, double cell_deg, double *lat, double *lon)
{
    unsigned kind = (unsigned)(rng_next(s) % 10);
    const fn_area a = w->area;
    const struct city *c = &w->cities[rng_next(s) % w->ncities];
    if (kind < 4) {
        *lat = rng_range(s, a.lat_min, a.lat_max);
        *lon = rng_range(s, a.lon_min, a.lon_max);
    } else if (kind < 8) {
        double spread = kind < 6 ? 0.05 : 0.8;
        *lat = c->lat + rng_range(s, -spread, spread);
        *lon = c->lon + rng_range(s, -spread, spread);
    } else if (kind == 8) {
        *lat = a.lat_min + cell_deg * floor((c->lat - a.lat_min) / cell_deg + (double)(rng_next(s) % 5));
        *lon = a.lon_min + cell_deg * floor((c->lon - a.lon_min) / cell_deg + (double)(rng_next(s) % 5));
    } else if (upto > 0) {
        size_t j = rng_next(s) % upto;
        *lat = w->lat[j];
        *lon = w->lon[j];
    } else {
        *lat = c->lat;
        *lon = c->lon;
    }
}

/* The filter: rejects items whose mix with the query's salt is 0 mod 5 and
 * ranks by exact or by privacy-snapped distance. */
typedef struct qctx {
    const world *w;
    double lat, lon;
    uint64_t salt;
    int snapped;
    size_t calls;
    uint32_t layers;
} qctx;

static int rejected(const qctx *q, uint32_t item)
{
    uint64_t h = ((uint64_t)item + 1) * 0x9E3779B97F4A7C15ull ^ q->salt;
    return (h >> 17) % 5 == 0 || !(q->layers & (1u << layer_of(item)));
}

static double item_dist(const qctx *q, uint32_t item)
{
    double lat = q->w->lat[item], lon = q->w->lon[item];
    if (q->snapped)
        fn_privacy_snap(lat, lon, &lat, &lon);
    return fn_haversine_km(q->lat, q->lon, lat, lon);
}

static int filter(void *vctx, const fn_grid_entry *e, double bound_km, double *dist_km)
{
    qctx *q = vctx;
    uint32_t item = e->item;
    (void)bound_km;
    q->calls++;
    assert_true(item < q->w->n);
    assert_true(q->w->present[item]); /* the grid only offers items it holds */
    assert_true(q->layers & (1u << layer_of(item))); /* ... in the layers asked for */
    /* The entry carries the item's words and its position to float precision. */
    assert_int_equal(e->attr, item * 7u);
    assert_int_equal(e->aux[0], item ^ 0x5555u);
    assert_int_equal(e->aux[1], ~item);
    assert_true(e->lat == (float)q->w->lat[item] && e->lon == (float)q->w->lon[item]);
    if (rejected(q, item))
        return 0;
    *dist_km = item_dist(q, item);
    return 1;
}

static int hit_cmp(const void *a, const void *b)
{
    const fn_grid_hit *x = a, *y = b;
    if (x->dist_km != y->dist_km)
        return x->dist_km < y->dist_km ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

static size_t brute_force(qctx *q, double radius_km, size_t k, fn_grid_hit *all, fn_grid_hit *out)
{
    size_t m = 0;
    for (uint32_t i = 0; i < q->w->n; i++) {
        if (!q->w->present[i] || rejected(q, i))
            continue;
        all[m].item = i;
        all[m].dist_km = item_dist(q, i);
        if (all[m].dist_km <= radius_km)
            m++;
    }
    qsort(all, m, sizeof(*all), hit_cmp);
    m = FN_MIN(m, k);
    memcpy(out, all, m * sizeof(*out));
    return m;
}

static double random_radius(uint64_t *s)
{
    switch (rng_next(s) % 14) {
    case 0: return 0.0;
    case 1: return rng_range(s, 0.0, 2.0);
    case 2: return rng_range(s, 0.0, 20.0);
    case 3: return rng_range(s, 0.0, 100.0);
    case 4: return rng_range(s, 0.0, 500.0);
    case 5: return rng_range(s, 500.0, 3000.0);
    case 6: return 1e9; /* everything */
    default: return rng_range(s, 0.0, 60.0);
    }
}

static size_t random_k(uint64_t *s, size_t n)
{
    switch (rng_next(s) % 5) {
    case 0: return 1;
    case 1: return 1 + rng_next(s) % 5;
    case 2: return 1 + rng_next(s) % 50;
    case 3: return 1 + rng_next(s) % 300;
    default: return n + 10; /* more than there are */
    }
}

/* Runs nq random queries and checks each against the brute force. */
static void check_queries(const fn_grid *g, const world *w, uint64_t *s, int nq, int snapped, double slack_km,
                          double max_radius_km)
{
    size_t cap = w->n + 16;
    fn_grid_hit *got = malloc(cap * sizeof(*got)), *want = malloc(cap * sizeof(*want));
    fn_grid_hit *all = malloc(cap * sizeof(*all));
    size_t nonempty = 0, truncated = 0;
    assert_non_null(got);
    assert_non_null(want);
    assert_non_null(all);
    for (int i = 0; i < nq; i++) {
        qctx q = {w, 0, 0, rng_next(s), snapped, 0, rng_next(s) % 3 ? ALL_LAYERS : 1 + (uint32_t)(rng_next(s) % ALL_LAYERS)};
        double radius;
        size_t k, ng, nw;
        if (rng_next(s) % 3 == 0) {
            q.lat = rng_range(s, w->area.lat_min - 0.5, w->area.lat_max + 0.5);
            q.lon = rng_range(s, w->area.lon_min - 0.5, w->area.lon_max + 0.5);
        } else if (rng_next(s) % 4 == 0 && w->n) {
            size_t j = rng_next(s) % w->n; /* right on an item */
            q.lat = w->lat[j];
            q.lon = w->lon[j];
        } else {
            const struct city *c = &w->cities[rng_next(s) % w->ncities];
            q.lat = c->lat + rng_range(s, -1.0, 1.0);
            q.lon = c->lon + rng_range(s, -1.0, 1.0);
        }
        radius = FN_MIN(random_radius(s), max_radius_km);
        k = random_k(s, w->n);
        ng = fn_grid_nearest(g, q.layers, q.lat, q.lon, radius, slack_km, k, filter, &q, got);
        nw = brute_force(&q, radius, k, all, want);
        size_t j = 0;
        while (j < ng && j < nw && got[j].item == want[j].item && got[j].dist_km == want[j].dist_km)
            j++;
        if (ng != nw || j != ng) {
            fprintf(stderr,
                    "query %d at (%.6f, %.6f) radius %.3f km k %zu slack %.3f: grid found %zu, brute force %zu; "
                    "first difference at rank %zu: grid %u@%.6f brute %u@%.6f\n",
                    i, q.lat, q.lon, radius, k, slack_km, ng, nw, j, j < ng ? got[j].item : 0u,
                    j < ng ? got[j].dist_km : -1.0, j < nw ? want[j].item : 0u, j < nw ? want[j].dist_km : -1.0);
            fail_msg("grid query differs from brute force");
        }
        nonempty += nw > 0;
        truncated += nw == k;
    }
    /* The random mix must actually exercise hits and the k cut-off. */
    assert_true(nonempty > (size_t)nq / 3);
    assert_true(truncated > (size_t)nq / 10);
    free(got);
    free(want);
    free(all);
}

static size_t count_present(const world *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++)
        n += w->present[i];
    return n;
}

static void check_membership(const fn_grid *g, const world *w)
{
    assert_int_equal(fn_grid_count(g), count_present(w));
    for (uint32_t i = 0; i < w->n; i++)
        assert_int_equal(fn_grid_has(g, i), w->present[i]);
    assert_false(fn_grid_has(g, (uint32_t)w->n + 100000));
}

/* Fills the grid with n points; every seventh item index is left out so
 * that item numbers are sparse. */
static void populate(fn_grid *g, world *w, uint64_t *s, double cell_deg)
{
    for (uint32_t i = 0; i < w->n; i++) {
        random_point(s, w, i, cell_deg, &w->lat[i], &w->lon[i]);
        if (i % 7 == 3)
            continue;
        put(g, i, w->lat[i], w->lon[i]);
        w->present[i] = 1;
    }
}

/* ---- tests ----------------------------------------------------------- */

static void test_empty_and_trivial(void **state)
{
    fn_area a = FN_AREA_CHINA;
    fn_grid *g = fn_grid_new(&a, 0.1, LAYERS);
    world w;
    qctx q;
    fn_grid_hit out[4];
    (void)state;
    world_init(&w, 4);
    q = (qctx){&w, 39.9, 116.4, 0, 0, 0, ALL_LAYERS};
    assert_int_equal(fn_grid_count(g), 0);
    assert_int_equal(fn_grid_nearest(g, ALL_LAYERS, 39.9, 116.4, 1e9, 0.0, 4, filter, &q, out), 0);
    assert_int_equal(q.calls, 0);

    w.lat[0] = 39.9;
    w.lon[0] = 116.4;
    w.present[0] = 1;
    put(g, 0, 39.9, 116.4);
    put(g, 0, 39.9, 116.4); /* same place again: still one */
    assert_int_equal(fn_grid_count(g), 1);
    /* k = 0 finds nothing and calls no filter. */
    assert_int_equal(fn_grid_nearest(g, ALL_LAYERS, 39.9, 116.4, 1e9, 0.0, 0, filter, &q, out), 0);
    assert_int_equal(q.calls, 0);
    /* Radius 0 finds an item at the very point. */
    for (q.salt = 1; rejected(&q, 0); q.salt++)
        ; /* a salt with which item 0 passes the filter */
    assert_int_equal(fn_grid_nearest(g, ALL_LAYERS, 39.9, 116.4, 0.0, 0.0, 4, filter, &q, out), 1);
    assert_int_equal(out[0].item, 0);
    assert_true(out[0].dist_km == 0.0);
    /* Removing twice is harmless. */
    fn_grid_remove(g, 0);
    fn_grid_remove(g, 0);
    fn_grid_remove(g, 12345);
    w.present[0] = 0;
    assert_int_equal(fn_grid_count(g), 0);
    assert_false(fn_grid_has(g, 0));
    assert_int_equal(fn_grid_nearest(g, ALL_LAYERS, 39.9, 116.4, 1e9, 0.0, 4, filter, &q, out), 0);
    world_free(&w);
    fn_grid_free(g);
    fn_grid_free(NULL);
}

/* A query sees only nearby cells: the search must stop early rather than
 * offer every item to the filter. */
static void test_search_is_local(void **state)
{
    fn_area a = FN_AREA_CHINA;
    fn_grid *g = fn_grid_new(&a, 0.1, LAYERS);
    world w;
    uint64_t s = 5;
    fn_grid_hit out[8];
    qctx q;
    (void)state;
    world_init(&w, 20000);
    for (uint32_t i = 0; i < w.n; i++) {
        w.lat[i] = rng_range(&s, 18.0, 54.0);
        w.lon[i] = rng_range(&s, 73.0, 135.0);
        w.present[i] = 1;
        put(g, i, w.lat[i], w.lon[i]);
    }
    q = (qctx){&w, 31.23, 121.47, 0, 0, 0, ALL_LAYERS};
    fn_grid_nearest(g, ALL_LAYERS, q.lat, q.lon, 50.0, 0.0, 8, filter, &q, out);
    assert_true(q.calls < w.n / 20);
    world_free(&w);
    fn_grid_free(g);
}

static void random_world_queries(double cell_deg, uint64_t seed, size_t n, int nq)
{
    fn_area a = FN_AREA_CHINA;
    fn_grid *g = fn_grid_new(&a, cell_deg, LAYERS);
    world w;
    uint64_t s = seed;
    world_init(&w, n);
    populate(g, &w, &s, cell_deg);
    check_membership(g, &w);
    check_queries(g, &w, &s, nq, 0, 0.0, 1e9);
    world_free(&w);
    fn_grid_free(g);
}

static void test_random_queries_cell_01(void **state)
{
    (void)state;
    random_world_queries(0.1, 1, 4000, 400);
}

static void test_random_queries_other_cells(void **state)
{
    (void)state;
    random_world_queries(0.05, 2, 3000, 150);
    random_world_queries(0.37, 3, 3000, 150);
    random_world_queries(2.0, 4, 2000, 150);
}

static void test_moves_and_removals(void **state)
{
    const double cell = 0.1;
    fn_area a = FN_AREA_CHINA;
    fn_grid *g = fn_grid_new(&a, cell, LAYERS);
    world w;
    uint64_t s = 11;
    (void)state;
    world_init(&w, 3000);
    populate(g, &w, &s, cell);
    check_queries(g, &w, &s, 100, 0, 0.0, 1e9);

    for (int round = 0; round < 6; round++) {
        /* Move a third of the items: some a little (often within their
         * cell), some across the country; put absent ones back; remove
         * some. */
        for (uint32_t i = 0; i < w.n; i++) {
            unsigned op = (unsigned)(rng_next(&s) % 12);
            if (op < 2) {
                w.lat[i] += rng_range(&s, -0.03, 0.03);
                w.lon[i] += rng_range(&s, -0.03, 0.03);
                w.lat[i] = FN_MIN(FN_MAX(w.lat[i], a.lat_min), a.lat_max);
                w.lon[i] = FN_MIN(FN_MAX(w.lon[i], a.lon_min), a.lon_max);
                put(g, i, w.lat[i], w.lon[i]);
                w.present[i] = 1;
            } else if (op < 4) {
                random_point(&s, &w, w.n, cell, &w.lat[i], &w.lon[i]);
                put(g, i, w.lat[i], w.lon[i]);
                w.present[i] = 1;
            } else if (op == 4) {
                fn_grid_remove(g, i);
                w.present[i] = 0;
            }
        }
        check_membership(g, &w);
        check_queries(g, &w, &s, 80, 0, 0.0, 1e9);
    }

    /* Remove everything in a city cluster's cells one by one, checking as
     * cells empty out (swap-with-last bookkeeping). */
    for (uint32_t i = 0; i < w.n; i++) {
        if (w.present[i] && fabs(w.lat[i] - cities[1].lat) < 1.0 && fabs(w.lon[i] - cities[1].lon) < 1.0) {
            fn_grid_remove(g, i);
            w.present[i] = 0;
        }
    }
    check_membership(g, &w);
    check_queries(g, &w, &s, 80, 0, 0.0, 1e9);

    /* Everything out, then a few back in. */
    for (uint32_t i = 0; i < w.n; i++) {
        fn_grid_remove(g, i);
        w.present[i] = 0;
    }
    check_membership(g, &w);
    {
        /* Empty again: every split cell has merged back. */
        fn_grid_stats st;
        fn_grid_stats_get(g, &st);
        assert_int_equal(st.leaves_split, 0);
    }
    for (uint32_t i = 0; i < w.n; i += 3) {
        put(g, i, w.lat[i], w.lon[i]);
        w.present[i] = 1;
    }
    check_membership(g, &w);
    check_queries(g, &w, &s, 80, 0, 0.0, 1e9);
    world_free(&w);
    fn_grid_free(g);
}

/* Items with indices far apart (the item table grows by doubling). */
static void test_sparse_high_items(void **state)
{
    fn_area a = FN_AREA_CHINA;
    fn_grid *g = fn_grid_new(&a, 0.1, LAYERS);
    world w;
    uint64_t s = 21;
    (void)state;
    world_init(&w, 70000);
    for (uint32_t i = 0; i < w.n; i++) {
        random_point(&s, &w, i, 0.1, &w.lat[i], &w.lon[i]);
    }
    for (uint32_t i = 0; i < w.n; i += 1 + (uint32_t)(rng_next(&s) % 9)) {
        put(g, i, w.lat[i], w.lon[i]);
        w.present[i] = 1;
    }
    put(g, (uint32_t)w.n - 1, w.lat[w.n - 1], w.lon[w.n - 1]);
    w.present[w.n - 1] = 1;
    check_membership(g, &w);
    check_queries(g, &w, &s, 60, 0, 0.0, 1e9);
    world_free(&w);
    fn_grid_free(g);
}

/* Ranking by privacy-snapped positions: the snapped point may lie in a
 * different cell than the item, so the search must widen by the slack the
 * state module passes; the result must equal brute force on snapped
 * distances. */
static void test_snapped_with_slack(void **state)
{
    const double cell = 0.1, slack = FN_PRIVACY_CELL_DEG * FN_KM_PER_DEG_LAT;
    fn_area a = FN_AREA_CHINA;
    fn_grid *g = fn_grid_new(&a, cell, LAYERS);
    world w;
    uint64_t s = 31;
    (void)state;
    world_init(&w, 4000);
    populate(g, &w, &s, cell);
    check_queries(g, &w, &s, 300, 1, slack, 1e9);
    /* Move items, including by less than a privacy cell. */
    for (uint32_t i = 0; i < w.n; i += 2) {
        w.lat[i] = FN_MIN(FN_MAX(w.lat[i] + rng_range(&s, -0.015, 0.015), a.lat_min), a.lat_max);
        w.lon[i] = FN_MIN(FN_MAX(w.lon[i] + rng_range(&s, -0.015, 0.015), a.lon_min), a.lon_max);
        put(g, i, w.lat[i], w.lon[i]);
        w.present[i] = 1;
    }
    check_queries(g, &w, &s, 200, 1, slack, 1e9);
    world_free(&w);

    fn_grid_free(g);

    /* Cells finer than the privacy cell make the slack matter most.  Over
     * all of China such a grid would be 22 million cells, so this one covers
     * the Yangtze delta; the wide clusters spill past its edges. */
    {
        static const struct city delta[] = {{31.2304, 121.4737}, {32.0603, 118.7969}, {30.2741, 120.1551}};
        const fn_area small = {29.5, 33.0, 118.0, 122.5};
        for (int i = 0; i < 2; i++) {
            double c = i == 0 ? 0.01 : 0.013;
            g = fn_grid_new(&small, c, LAYERS);
            world_init(&w, 3000);
            w.area = small;
            w.cities = delta;
            w.ncities = FN_ARRAY_LEN(delta);
            populate(g, &w, &s, c);
            check_queries(g, &w, &s, 150, 1, slack, 1e9);
            check_queries(g, &w, &s, 50, 0, 0.0, 1e9);
            world_free(&w);
            fn_grid_free(g);
        }
    }
}

/* Thousands of items in a few hundred metres: cells split level by level,
 * queries stay exact, and the cells merge back as the crowd disperses. */
static void test_dense_split_and_merge(void **state)
{
    fn_area a = FN_AREA_CHINA;
    fn_grid *g = fn_grid_new(&a, 0.2, LAYERS);
    world w;
    uint64_t s = 41;
    fn_grid_stats st;
    static const struct city one[] = {{39.9042, 116.4074}};
    (void)state;
    world_init(&w, 6000);
    w.cities = one;
    w.ncities = 1;
    for (uint32_t i = 0; i < w.n; i++) {
        /* Exponentially denser towards the centre, as trucks around a city. */
        double r = -log(1.0 - rng_range(&s, 0.0, 0.999)) * 0.01, t = rng_range(&s, 0.0, 2 * M_PI);
        w.lat[i] = one[0].lat + r * sin(t);
        w.lon[i] = one[0].lon + r * cos(t);
        put(g, i, w.lat[i], w.lon[i]);
        w.present[i] = 1;
    }
    fn_grid_stats_get(g, &st);
    assert_true(st.leaves_split >= 3);
    assert_true(st.max_depth >= 3);
    check_membership(g, &w);
    check_queries(g, &w, &s, 200, 0, 0.0, 1e9);
    check_queries(g, &w, &s, 100, 1, FN_PRIVACY_CELL_DEG * FN_KM_PER_DEG_LAT, 1e9);
    /* The crowd drives off in all directions, checking on the way. */
    for (int round = 0; round < 4; round++) {
        for (uint32_t i = 0; i < w.n; i++) {
            w.lat[i] += (w.lat[i] - one[0].lat) * 3 + rng_range(&s, -0.01, 0.01);
            w.lon[i] += (w.lon[i] - one[0].lon) * 3 + rng_range(&s, -0.01, 0.01);
            put(g, i, w.lat[i], w.lon[i]);
        }
        check_membership(g, &w);
        check_queries(g, &w, &s, 40, 0, 0.0, 1e9);
    }
    for (uint32_t i = 0; i < w.n; i++) {
        fn_grid_remove(g, i);
        w.present[i] = 0;
    }
    fn_grid_stats_get(g, &st);
    assert_int_equal(st.leaves_split, 0);
    assert_int_equal(st.max_depth, 0);
    world_free(&w);
    fn_grid_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_trivial),
        cmocka_unit_test(test_search_is_local),
        cmocka_unit_test(test_random_queries_cell_01),
        cmocka_unit_test(test_random_queries_other_cells),
        cmocka_unit_test(test_moves_and_removals),
        cmocka_unit_test(test_sparse_high_items),
        cmocka_unit_test(test_snapped_with_slack),
        cmocka_unit_test(test_dense_split_and_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
