/*
 * test_stats_analytics.c — unit tests for src/stats/regions.c and
 * src/stats/analytics.c, driven through the real path (log records applied
 * with fn_state_apply):
 *   - the compiled-in city table equals data/cn_cities.csv;
 *   - the nearest-city lookup equals a brute-force search over every city;
 *   - over random event streams (companies, drivers, positions, status
 *     changes, loads posted with expiries, bookings, pickups, deliveries,
 *     cancellations, hourly samples), every answer equals an exact
 *     recomputation from the raw events / final tables: supply and demand
 *     per city now and at each sampled hour, posted / booked / delivered per
 *     day, empty and loaded km, lane cell counts, and quantiles (lane price
 *     per km, time to match) within the sketch's stated bound of the exact
 *     quantiles of the same values;
 *   - restart: the same records replayed into a fresh state, and a snapshot
 *     taken mid-stream loaded into a fresh state with the rest of the log
 *     replayed, give byte-identical answers to every query.
 */
#include "common/buf.h"
#include "common/fn.h"
#include "common/geo.h"
#include "core/records.h"
#include "core/state.h"
#include "stats/analytics.h"
#include "stats/qsketch.h"
#include "stats/regions.h"
#include "store/snapfile.h"

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

/* ---- regions --------------------------------------------------------- */

static void test_cities_match_csv(void **state)
{
    FILE *f = fopen("data/cn_cities.csv", "r");
    char line[512];
    size_t i = 0;
    (void)state;
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f)); /* header */
    while (fgets(line, sizeof(line), f)) {
        char name[128], prov[64];
        double lat, lon;
        unsigned long long pop, id;
        const fn_rg_city *c = fn_rg_city_at(i);
        assert_int_equal(sscanf(line, "%llu,%127[^,],%63[^,],%lf,%lf,%llu", &id, name, prov, &lat, &lon, &pop), 6);
        assert_non_null(c);
        assert_string_equal(c->name, name);
        assert_string_equal(fn_rg_province_name(c->province), prov);
        assert_true(c->lat == lat && c->lon == lon);
        assert_int_equal(c->population, pop);
        i++;
    }
    fclose(f);
    assert_int_equal(i, fn_rg_city_count());
}

static void test_provinces(void **state)
{
    (void)state;
    assert_int_equal(FN_RG_PROVINCES, 34);
    assert_int_equal(fn_rg_province_parse("Guizhou"), fn_rg_province_parse("贵州"));
    assert_int_equal(fn_rg_province_parse("贵州省"), fn_rg_province_parse("guizhou"));
    assert_int_equal(fn_rg_province_parse("广西壮族自治区"), fn_rg_province_parse("Guangxi"));
    assert_true(fn_rg_province_parse("香港") >= 0);
    assert_int_equal(fn_rg_province_parse("Atlantis"), -1);
    assert_string_equal(fn_rg_province_zh(fn_rg_province_parse("Guangdong")), "广东");
    for (size_t i = 0; i < fn_rg_city_count(); i++)
        assert_true(fn_rg_city_at(i)->province >= 0);
}

static uint32_t brute_nearest(double lat, double lon)
{
    uint32_t best = 0;
    double bd = INFINITY;
    for (size_t i = 0; i < fn_rg_city_count(); i++) {
        double d = fn_haversine_km(lat, lon, fn_rg_city_at(i)->lat, fn_rg_city_at(i)->lon);
        if (d < bd) {
            bd = d;
            best = (uint32_t)i;
        }
    }
    return best;
}

static void test_nearest_exact(void **state)
{
    uint64_t seed = 42;
    (void)state;
    for (int k = 0; k < 20000; k++) {
        /* Mostly the service area, some points beyond the lookup grid. */
        double lat = k % 10 == 0 ? 10 + 50 * (double)(rng_next(&seed) >> 11) * 0x1p-53
                                 : 18 + 36 * (double)(rng_next(&seed) >> 11) * 0x1p-53;
        double lon = k % 10 == 0 ? 65 + 80 * (double)(rng_next(&seed) >> 11) * 0x1p-53
                                 : 73 + 62 * (double)(rng_next(&seed) >> 11) * 0x1p-53;
        uint32_t got = fn_rg_city_of(lat, lon), want = brute_nearest(lat, lon);
        if (got != want) {
            double dg = fn_haversine_km(lat, lon, fn_rg_city_at(got)->lat, fn_rg_city_at(got)->lon);
            double dw = fn_haversine_km(lat, lon, fn_rg_city_at(want)->lat, fn_rg_city_at(want)->lon);
            if (fabs(dg - dw) > 1e-9)
                fail_msg("(%f, %f): got %s at %.9f km, nearest is %s at %.9f km", lat, lon, fn_rg_city_at(got)->name,
                         dg, fn_rg_city_at(want)->name, dw);
        }
    }
    /* Points within metres of the border between two neighbouring cities,
     * where the lookup's fast path must hand over to the exact one. */
    for (size_t i = 0; i < fn_rg_city_count(); i += 3) {
        const fn_rg_city *a = fn_rg_city_at(i), *b = NULL;
        double bd = INFINITY;
        for (size_t j = 0; j < fn_rg_city_count(); j++) {
            double d = fn_haversine_km(a->lat, a->lon, fn_rg_city_at(j)->lat, fn_rg_city_at(j)->lon);
            if (j != i && d > 0 && d < bd) {
                bd = d;
                b = fn_rg_city_at(j);
            }
        }
        for (int k = -3; k <= 3; k++) {
            double t = 0.5 + k * 2e-5, lat = a->lat + t * (b->lat - a->lat), lon = a->lon + t * (b->lon - a->lon);
            uint32_t got = fn_rg_city_of(lat, lon), want = brute_nearest(lat, lon);
            double dg = fn_haversine_km(lat, lon, fn_rg_city_at(got)->lat, fn_rg_city_at(got)->lon);
            double dw = fn_haversine_km(lat, lon, fn_rg_city_at(want)->lat, fn_rg_city_at(want)->lon);
            if (got != want && fabs(dg - dw) > 1e-9)
                fail_msg("border (%f, %f): got %s at %.9f km, nearest is %s at %.9f km", lat, lon,
                         fn_rg_city_at(got)->name, dg, fn_rg_city_at(want)->name, dw);
        }
    }
    /* Every city is its own nearest. */
    for (size_t i = 0; i < fn_rg_city_count(); i++) {
        const fn_rg_city *c = fn_rg_city_at(i);
        uint32_t got = fn_rg_city_of(c->lat, c->lon);
        assert_true(fn_haversine_km(c->lat, c->lon, fn_rg_city_at(got)->lat, fn_rg_city_at(got)->lon) < 1e-9);
    }
}

/* ---- random event streams --------------------------------------------- */

typedef struct rec {
    uint8_t type;
    fn_buf b;
} rec;

typedef struct stream {
    rec *v;
    size_t n, cap;
} stream;

static void emit(fn_state *s, stream *st, uint8_t type, fn_buf *b)
{
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 1024;
        st->v = realloc(st->v, st->cap * sizeof(rec));
    }
    st->v[st->n].type = type;
    st->v[st->n].b = *b; /* takes the buffer */
    st->n++;
    assert_int_equal(fn_state_apply(s, type, b->data, (uint32_t)b->len), 0);
}

static double unit(uint64_t *seed) { return (double)(rng_next(seed) >> 11) * 0x1p-53; }

/* A point within about 30 km of a random city (populous ones more often). */
static void random_point(uint64_t *seed, double *lat, double *lon)
{
    size_t n = fn_rg_city_count(), i = (size_t)(pow(unit(seed), 2) * (double)n);
    const fn_rg_city *c = fn_rg_city_at(i < n ? i : n - 1);
    *lat = c->lat + (unit(seed) - 0.5) * 0.5;
    *lon = c->lon + (unit(seed) - 0.5) * 0.5;
    *lat = *lat < 18.01 ? 18.01 : *lat > 53.99 ? 53.99 : *lat;
    *lon = *lon < 73.01 ? 73.01 : *lon > 134.99 ? 134.99 : *lon;
}

/* Supply and demand per city from the tables, at now. */
static void exact_regions(const fn_state *s, int64_t now, uint32_t *sup, uint32_t *dem)
{
    size_t nc = fn_rg_city_count();
    memset(sup, 0, nc * sizeof(uint32_t));
    memset(dem, 0, nc * sizeof(uint32_t));
    for (uint64_t id = 1; id < fn_state_next_driver_id(s); id++) {
        const fn_driver *d = fn_state_driver(s, id);
        if (d->status == FN_DS_AVAILABLE && d->pos_ts > 0)
            sup[fn_rg_city_of(d->lat, d->lon)]++;
    }
    for (uint64_t id = 1; id < fn_state_next_load_id(s); id++) {
        const fn_load *l = fn_state_load(s, id);
        if (fn_load_status(l, now) == FN_LS_OPEN)
            dem[fn_rg_city_of(l->origin.lat, l->origin.lon)]++;
    }
}

#define MAX_SAMPLES 64
typedef struct sample_truth {
    int64_t hour;
    uint32_t *sup, *dem;
} sample_truth;

typedef struct world {
    fn_state *s;
    stream st;
    int64_t now;
    size_t snap_at;          /* records applied when the mid-stream snapshot was taken */
    sample_truth samples[MAX_SAMPLES];
    size_t nsamples;
} world;

static fn_state *new_state(void)
{
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, 0.2};
    return fn_state_new(&cfg);
}

static void save_snapshot(const fn_state *s, const char *dir, uint64_t seq)
{
    fn_snapw *w = NULL;
    char err[256] = {0};
    assert_int_equal(fn_snapw_open(&w, dir, seq, err, sizeof(err)), 0);
    assert_int_equal(fn_state_snap_save(s, w), 0);
    assert_int_equal(fn_snapw_commit(w, err, sizeof(err)), 0);
}

static fn_state *load_snapshot(const char *dir)
{
    fn_snapr *r = NULL;
    uint64_t seq = 0;
    char err[256] = {0};
    fn_state *s = new_state();
    assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), 0);
    assert_int_equal(fn_state_snap_load(s, r), 0);
    assert_int_equal(fn_snapr_close(r), 0);
    return s;
}

/* Builds a random world of ndrivers trucks over about `hours` hours,
 * taking a snapshot into dir after half the stream. */
static void build_world(world *w, uint64_t seed, int ndrivers, int hours, const char *dir)
{
    uint64_t sd = seed;
    uint8_t hash[FN_TOKEN_HASH_BYTES];
    fn_buf b;
    int64_t t0 = 1796500000 - (int64_t)(unit(&sd) * 86400);
    int steps = hours * 60;

    memset(w, 0, sizeof(*w));
    w->s = new_state();
    w->now = t0;
    for (int i = 1; i <= 5; i++) {
        fn_company c = {0};
        c.id = (uint64_t)i;
        c.name = "公司";
        c.city = "";
        c.province = -1;
        c.created_at = t0;
        memset(hash, 0, sizeof(hash));
        hash[0] = 1, hash[1] = (uint8_t)i;
        fn_buf_init(&b, 0);
        fn_rec_company_create(&b, &c, hash);
        emit(w->s, &w->st, FN_REC_COMPANY_CREATE, &b);
    }
    for (int i = 1; i <= ndrivers; i++) {
        fn_driver d = {0};
        d.id = (uint64_t)i;
        d.name = d.phone = d.plate = "x";
        random_point(&sd, &d.home_lat, &d.home_lon);
        d.truck_type = (uint8_t)(rng_next(&sd) % FN_TT__COUNT);
        d.length_idx = 5;
        d.capacity_kg = 20000;
        d.created_at = t0;
        memset(hash, 0, sizeof(hash));
        hash[0] = 2, hash[1] = (uint8_t)i, hash[2] = (uint8_t)(i >> 8);
        fn_buf_init(&b, 0);
        fn_rec_driver_create(&b, &d, hash);
        emit(w->s, &w->st, FN_REC_DRIVER_CREATE, &b);
    }
    fn_buf_init(&b, 0);
    fn_rec_stats_sample(&b, w->now);
    emit(w->s, &w->st, FN_REC_STATS_SAMPLE, &b);

    for (int step = 0; step < steps; step++) {
        int64_t prev_hour = w->now / 3600;
        int ev = (int)(rng_next(&sd) % 100);
        w->now += 1 + (int64_t)(rng_next(&sd) % 120);
        if (w->now / 3600 != prev_hour) {
            /* The hourly sample, and the truth at that instant. */
            sample_truth *t;
            fn_buf_init(&b, 0);
            fn_rec_stats_sample(&b, w->now);
            emit(w->s, &w->st, FN_REC_STATS_SAMPLE, &b);
            t = &w->samples[w->nsamples++ % MAX_SAMPLES];
            free(t->sup);
            free(t->dem);
            t->hour = w->now / 3600 * 3600;
            t->sup = malloc(fn_rg_city_count() * sizeof(uint32_t));
            t->dem = malloc(fn_rg_city_count() * sizeof(uint32_t));
            exact_regions(w->s, w->now, t->sup, t->dem);
        }
        if (ev < 30) { /* positions */
            fn_position p[8];
            uint32_t n = 1 + (uint32_t)(rng_next(&sd) % 8);
            for (uint32_t k = 0; k < n; k++) {
                p[k].driver_id = 1 + rng_next(&sd) % (uint64_t)ndrivers;
                random_point(&sd, &p[k].lat, &p[k].lon);
                p[k].ts = w->now - (int64_t)(rng_next(&sd) % 30);
                p[k].speed_dkmh = 0;
                p[k].heading_ddeg = 0xffff;
            }
            fn_buf_init(&b, 0);
            fn_rec_positions(&b, p, n);
            emit(w->s, &w->st, FN_REC_POSITIONS, &b);
        } else if (ev < 55) { /* a load */
            fn_load l = {0};
            l.id = fn_state_next_load_id(w->s);
            l.company_id = 1 + rng_next(&sd) % 5;
            l.created_at = w->now;
            random_point(&sd, &l.origin.lat, &l.origin.lon);
            if (rng_next(&sd) % 20 == 0) {
                l.dest.lat = l.origin.lat, l.dest.lon = l.origin.lon; /* no lane: loaded_km 0 */
            } else {
                random_point(&sd, &l.dest.lat, &l.dest.lon);
            }
            l.origin.city = l.dest.city = "";
            l.origin.province = (int8_t)(rng_next(&sd) % 31); /* ignored: the point decides */
            l.dest.province = -1;
            l.cargo_kind = "goods";
            l.contact_name = l.contact_phone = l.notes = "";
            l.weight_kg = 1000;
            l.types_mask = (uint16_t)(1 + rng_next(&sd) % ((1u << FN_TT__COUNT) - 1));
            l.min_length_idx = -1;
            l.pickup_earliest_at = w->now;
            l.pickup_latest_at = w->now + 600 + (int64_t)(rng_next(&sd) % (6 * 3600));
            l.expires_at = rng_next(&sd) % 2 ? w->now + 300 + (int64_t)(rng_next(&sd) % 3600) : 0;
            l.price_fen = 10000 + (int64_t)(rng_next(&sd) % 2000000);
            fn_buf_init(&b, 0);
            fn_rec_load_create(&b, &l);
            emit(w->s, &w->st, FN_REC_LOAD_CREATE, &b);
        } else if (ev < 72) { /* book an open, unexpired load with an available driver */
            uint64_t nl = fn_state_next_load_id(w->s) - 1;
            for (int tries = 0; tries < 20 && nl; tries++) {
                const fn_load *l = fn_state_load(w->s, 1 + rng_next(&sd) % nl);
                const fn_driver *d = fn_state_driver(w->s, 1 + rng_next(&sd) % (uint64_t)ndrivers);
                if (fn_load_status(l, w->now) != FN_LS_OPEN || d->status == FN_DS_ON_TRIP)
                    continue;
                fn_booking k = {0};
                k.id = fn_state_next_booking_id(w->s);
                k.load_id = l->id;
                k.driver_id = d->id;
                k.booked_at = w->now;
                k.deadhead_km = unit(&sd) * 200;
                k.loaded_km = fn_state_road_km(w->s, l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon);
                fn_buf_init(&b, 0);
                fn_rec_book(&b, &k);
                emit(w->s, &w->st, FN_REC_BOOK, &b);
                break;
            }
        } else if (ev < 92) { /* a trip step or a cancellation */
            uint64_t nb = fn_state_next_booking_id(w->s) - 1;
            if (nb) {
                const fn_booking *k = fn_state_booking(w->s, 1 + rng_next(&sd) % nb);
                fn_buf_init(&b, 0);
                if (k->status == FN_BS_BOOKED && rng_next(&sd) % 5 == 0) {
                    fn_rec_booking_cancel(&b, k->id, w->now, FN_ROLE_DRIVER);
                    emit(w->s, &w->st, FN_REC_BOOKING_CANCEL, &b);
                } else if (k->status == FN_BS_BOOKED) {
                    fn_rec_booking_event(&b, k->id, w->now);
                    emit(w->s, &w->st, FN_REC_PICKUP, &b);
                } else if (k->status == FN_BS_PICKED_UP) {
                    fn_rec_booking_event(&b, k->id, w->now);
                    emit(w->s, &w->st, FN_REC_DELIVER, &b);
                } else {
                    fn_buf_free(&b);
                }
            }
        } else if (ev < 96) { /* a shipper cancels an open load */
            uint64_t nl = fn_state_next_load_id(w->s) - 1;
            if (nl) {
                const fn_load *l = fn_state_load(w->s, 1 + rng_next(&sd) % nl);
                if (fn_load_status(l, w->now) == FN_LS_OPEN) {
                    fn_buf_init(&b, 0);
                    fn_rec_load_cancel(&b, l->id, w->now);
                    emit(w->s, &w->st, FN_REC_LOAD_CANCEL, &b);
                }
            }
        } else { /* a driver goes offline or comes back */
            const fn_driver *d = fn_state_driver(w->s, 1 + rng_next(&sd) % (uint64_t)ndrivers);
            if (d->status != FN_DS_ON_TRIP) {
                fn_buf_init(&b, 0);
                fn_rec_driver_status(&b, d->id, d->status == FN_DS_AVAILABLE ? FN_DS_OFFLINE : FN_DS_AVAILABLE,
                                     w->now);
                emit(w->s, &w->st, FN_REC_DRIVER_STATUS, &b);
            }
        }
        if (step == steps / 2 && dir) {
            save_snapshot(w->s, dir, w->st.n + 1);
            w->snap_at = w->st.n;
        }
    }
}

static void free_world(world *w)
{
    for (size_t i = 0; i < w->st.n; i++)
        fn_buf_free(&w->st.v[i].b);
    free(w->st.v);
    for (size_t i = 0; i < MAX_SAMPLES; i++) {
        free(w->samples[i].sup);
        free(w->samples[i].dem);
    }
    fn_state_free(w->s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double exact_q(const double *sorted, size_t n, double q) { return sorted[fn_qs_rank(q, n) - 1]; }

static void assert_within(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.9g, exact %.9g (tolerance %.3g)", what, got, want, tol);
}

static void check_against_exact(const world *w)
{
    const fn_state *s = w->s;
    const fn_an *a = fn_state_analytics(s);
    size_t nc = fn_rg_city_count();
    uint32_t *sup = malloc(nc * sizeof(uint32_t)), *dem = malloc(nc * sizeof(uint32_t));
    fn_an_regions r;
    fn_an_overview *o = malloc(sizeof(*o));
    int64_t today = w->now / 86400;
    uint64_t open_now = 0, nbook = fn_state_next_booking_id(s) - 1, nload = fn_state_next_load_id(s) - 1;

    /* Supply and demand now. */
    exact_regions(s, w->now, sup, dem);
    fn_an_regions_get(a, w->now, &r);
    assert_int_equal(r.ncity, nc);
    assert_memory_equal(r.supply, sup, nc * sizeof(uint32_t));
    assert_memory_equal(r.demand, dem, nc * sizeof(uint32_t));
    for (size_t i = 0; i < nc; i++)
        open_now += dem[i];
    /* The hourly samples: each equals the truth taken at that sample. */
    assert_true(r.nhours >= 1);
    for (size_t h = 0; h < r.nhours; h++) {
        int found = 0;
        for (size_t k = 0; k < MAX_SAMPLES && k < w->nsamples; k++) {
            if (w->samples[k].hour != r.hour_at[h])
                continue;
            assert_memory_equal(r.h_supply[h], w->samples[k].sup, nc * sizeof(uint32_t));
            assert_memory_equal(r.h_demand[h], w->samples[k].dem, nc * sizeof(uint32_t));
            found = 1;
        }
        if (h > 0) /* the first may be the stream's opening sample */
            assert_true(found);
    }
    if (w->nsamples >= 24)
        assert_int_equal(r.nhours, 24);
    fn_an_regions_free(&r);

    /* Days: posted, booked, delivered, km, time to match. */
    fn_an_overview_get(a, w->now, 10, o);
    assert_int_equal(o->open_now, open_now);
    {
        int64_t empty_m = 0, loaded_m = 0;
        double *ttm = malloc((nbook + 1) * sizeof(double));
        size_t nt = 0;
        for (size_t i = 0; i < o->ndays; i++) {
            const fn_an_day *d = &o->days[i];
            uint64_t posted = 0, booked = 0, delivered = 0;
            int64_t de = 0, dl = 0;
            size_t ndt = 0;
            double *dt = malloc((nbook + 1) * sizeof(double));
            assert_int_equal(d->day, today - 9 + (int64_t)i);
            for (uint64_t id = 1; id <= nload; id++)
                posted += fn_state_load(s, id)->created_at / 86400 == d->day;
            for (uint64_t id = 1; id <= nbook; id++) {
                const fn_booking *k = fn_state_booking(s, id);
                if (k->booked_at / 86400 == d->day) {
                    booked++;
                    dt[ndt++] = (double)(k->booked_at - fn_state_load(s, k->load_id)->created_at);
                }
                if (k->status == FN_BS_DELIVERED && k->delivered_at / 86400 == d->day) {
                    delivered++;
                    de += llround(k->deadhead_km * 1000);
                    dl += llround(k->loaded_km * 1000);
                }
            }
            assert_int_equal(d->posted, posted);
            assert_int_equal(d->booked, booked);
            assert_int_equal(d->delivered, delivered);
            assert_int_equal(d->empty_m, de);
            assert_int_equal(d->loaded_m, dl);
            assert_int_equal(d->ttm_s.count, ndt);
            if (ndt) {
                qsort(dt, ndt, sizeof(double), cmp_double);
                assert_within(d->ttm_s.p50, exact_q(dt, ndt, 0.5), 0.01 * (exact_q(dt, ndt, 0.5) + 1) + 1e-6, "day median");
                assert_within(d->ttm_s.p90, exact_q(dt, ndt, 0.9), 0.01 * (exact_q(dt, ndt, 0.9) + 1) + 1e-6, "day p90");
            }
            free(dt);
        }
        for (uint64_t id = 1; id <= nbook; id++) {
            const fn_booking *k = fn_state_booking(s, id);
            ttm[nt++] = (double)(k->booked_at - fn_state_load(s, k->load_id)->created_at);
            if (k->status == FN_BS_DELIVERED) {
                empty_m += llround(k->deadhead_km * 1000);
                loaded_m += llround(k->loaded_km * 1000);
            }
        }
        assert_int_equal(o->empty_m, empty_m);
        assert_int_equal(o->loaded_m, loaded_m);
        assert_true(o->trips > 0);
        assert_int_equal(o->ttm_s.count, nt);
        qsort(ttm, nt, sizeof(double), cmp_double);
        assert_within(o->ttm_s.p50, exact_q(ttm, nt, 0.5), 0.01 * (exact_q(ttm, nt, 0.5) + 1) + 1e-6, "median");
        assert_within(o->ttm_s.p90, exact_q(ttm, nt, 0.9), 0.01 * (exact_q(ttm, nt, 0.9) + 1) + 1e-6, "p90");
        free(ttm);
    }

    /* Lane cells (all days closed: now far ahead), against grouping the loads. */
    {
        fn_an_cell *cells;
        size_t n = fn_an_cells_closed(a, w->now + 30 * 86400, 1, &cells), total = 0;
        double *v = malloc((nload + 1) * sizeof(double));
        uint64_t lanes_loads = 0;
        for (uint64_t id = 1; id <= nload; id++) {
            const fn_load *l = fn_state_load(s, id);
            lanes_loads += !(l->origin.lat == l->dest.lat && l->origin.lon == l->dest.lon);
        }
        for (size_t i = 0; i < n; i++) {
            size_t m = 0;
            for (uint64_t id = 1; id <= nload; id++) {
                const fn_load *l = fn_state_load(s, id);
                double km = fn_state_road_km(s, l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon);
                if (km <= 0 || l->created_at / 86400 != cells[i].day || __builtin_ctz(l->types_mask) != cells[i].type ||
                    fn_rg_city_at(fn_rg_city_of(l->origin.lat, l->origin.lon))->province != cells[i].origin ||
                    fn_rg_city_at(fn_rg_city_of(l->dest.lat, l->dest.lon))->province != cells[i].dest)
                    continue;
                v[m++] = (double)l->price_fen / 100.0 / km;
            }
            assert_int_equal(cells[i].price.count, m);
            qsort(v, m, sizeof(double), cmp_double);
            assert_within(cells[i].price.p25, exact_q(v, m, 0.25), 0.01 * exact_q(v, m, 0.25), "lane p25");
            assert_within(cells[i].price.p50, exact_q(v, m, 0.5), 0.01 * exact_q(v, m, 0.5), "lane median");
            assert_within(cells[i].price.p75, exact_q(v, m, 0.75), 0.01 * exact_q(v, m, 0.75), "lane p75");
            total += m;
        }
        assert_int_equal(total, lanes_loads); /* the cells partition the loads */
        free(v);
        free(cells);
    }
    free(o);
    free(sup);
    free(dem);
}

/* Every query's answer, printed, for comparing two states byte for byte. */
static void digest(const fn_state *s, int64_t now, fn_buf *out)
{
    const fn_an *a = fn_state_analytics(s);
    fn_an_overview *o = malloc(sizeof(*o));
    fn_an_regions r;
    fn_an_cell *cells;
    size_t n;
    fn_buf_reset(out);
    fn_an_overview_get(a, now, FN_AN_MAX_DAYS, o);
    fn_buf_printf(out, "open %llu e %lld l %lld t %llu ttm %llu %.17g %.17g\n", (unsigned long long)o->open_now,
                  (long long)o->empty_m, (long long)o->loaded_m, (unsigned long long)o->trips,
                  (unsigned long long)o->ttm_s.count, o->ttm_s.p50, o->ttm_s.p90);
    for (size_t i = 0; i < o->ndays; i++)
        fn_buf_printf(out, "d %lld %llu %llu %llu %lld %lld %llu %.17g %.17g\n", (long long)o->days[i].day,
                      (unsigned long long)o->days[i].posted, (unsigned long long)o->days[i].booked,
                      (unsigned long long)o->days[i].delivered, (long long)o->days[i].empty_m,
                      (long long)o->days[i].loaded_m, (unsigned long long)o->days[i].ttm_s.count, o->days[i].ttm_s.p50,
                      o->days[i].ttm_s.p90);
    free(o);
    for (int t = -1; t < FN_TT__COUNT; t++) {
        fn_an_lanes ls;
        fn_an_lanes_get(a, now, 30, -1, -1, t, 1000, &ls);
        for (size_t j = 0; j < ls.n; j++) {
            fn_buf_printf(out, "lane %d %d %d %llu %.17g %.17g %.17g:", ls.v[j].origin, ls.v[j].dest, ls.v[j].type,
                          (unsigned long long)ls.v[j].price.count, ls.v[j].price.p25, ls.v[j].price.p50,
                          ls.v[j].price.p75);
            for (int i = 0; i < ls.ndays; i++)
                fn_buf_printf(out, " %llu/%.17g", (unsigned long long)ls.v[j].daily[i].count, ls.v[j].daily[i].p50);
            fn_buf_printf(out, "\n");
        }
        fn_an_lanes_free(&ls);
    }
    fn_an_regions_get(a, now, &r);
    for (size_t i = 0; i < r.ncity; i++)
        if (r.supply[i] || r.demand[i])
            fn_buf_printf(out, "c %zu %u %u\n", i, r.supply[i], r.demand[i]);
    for (size_t h = 0; h < r.nhours; h++) {
        fn_buf_printf(out, "h %lld", (long long)r.hour_at[h]);
        for (size_t i = 0; i < r.ncity; i++)
            if (r.h_supply[h][i] || r.h_demand[h][i])
                fn_buf_printf(out, " %zu:%u/%u", i, r.h_supply[h][i], r.h_demand[h][i]);
        fn_buf_printf(out, "\n");
    }
    fn_an_regions_free(&r);
    n = fn_an_cells_closed(a, now + 86400, 1, &cells);
    for (size_t i = 0; i < n; i++)
        fn_buf_printf(out, "cell %lld %d %d %d %llu %.17g %.17g %.17g\n", (long long)cells[i].day, cells[i].origin,
                      cells[i].dest, cells[i].type, (unsigned long long)cells[i].price.count, cells[i].price.p25,
                      cells[i].price.p50, cells[i].price.p75);
    free(cells);
}

static void test_random_streams(void **state)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        world w;
        fn_state *replayed, *restored;
        fn_buf d1, d2, d3;
        build_world(&w, seed, 400, 30, tdir(state));
        check_against_exact(&w);

        /* Restart by log replay alone. */
        replayed = new_state();
        for (size_t i = 0; i < w.st.n; i++)
            assert_int_equal(fn_state_apply(replayed, w.st.v[i].type, w.st.v[i].b.data, (uint32_t)w.st.v[i].b.len), 0);
        /* Restart from the mid-stream snapshot plus the rest of the log. */
        restored = load_snapshot(tdir(state));
        for (size_t i = w.snap_at; i < w.st.n; i++)
            assert_int_equal(fn_state_apply(restored, w.st.v[i].type, w.st.v[i].b.data, (uint32_t)w.st.v[i].b.len), 0);
        fn_buf_init(&d1, 0);
        fn_buf_init(&d2, 0);
        fn_buf_init(&d3, 0);
        for (int k = 0; k < 3; k++) { /* now, later in the hour, and after more loads expired */
            int64_t at = w.now + k * 1500;
            digest(w.s, at, &d1);
            digest(replayed, at, &d2);
            digest(restored, at, &d3);
            assert_true(d1.len > 1000);
            assert_int_equal(d1.len, d2.len);
            assert_memory_equal(d1.data, d2.data, d1.len);
            assert_int_equal(d1.len, d3.len);
            assert_memory_equal(d1.data, d3.data, d1.len);
        }
        fn_buf_free(&d1);
        fn_buf_free(&d2);
        fn_buf_free(&d3);
        fn_state_free(replayed);
        fn_state_free(restored);
        free_world(&w);
        test_dir_remove(tdir(state));
        assert_int_equal(mkdir(tdir(state), 0700), 0);
    }
}

/* Rollups never go into the open data: only per-type cells, each of at
 * least k loads, so no published number is a sum that a suppressed cell
 * could be subtracted from. */
static void test_suppression(void **state)
{
    world w;
    (void)state;
    build_world(&w, 9, 300, 26, NULL);
    for (uint64_t k = 1; k <= 12; k++) {
        fn_an_cell *cells;
        size_t n = fn_an_cells_closed(fn_state_analytics(w.s), w.now + 86400, k, &cells);
        for (size_t i = 0; i < n; i++) {
            assert_true(cells[i].price.count >= k);
            assert_true(cells[i].type >= 0 && cells[i].type < FN_TT__COUNT);
        }
        free(cells);
    }
    {
        /* Today's cells are never published: they still change. */
        fn_an_cell *cells;
        size_t n = fn_an_cells_closed(fn_state_analytics(w.s), w.now, 1, &cells);
        for (size_t i = 0; i < n; i++)
            assert_true(cells[i].day < w.now / 86400);
        free(cells);
    }
    free_world(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cities_match_csv),
        cmocka_unit_test(test_provinces),
        cmocka_unit_test(test_nearest_exact),
        cmocka_unit_test_setup_teardown(test_random_streams, setup_dir, teardown_dir),
        cmocka_unit_test(test_suppression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
