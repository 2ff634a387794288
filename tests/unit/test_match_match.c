/*
 * test_match_match.c — ranked matches equal a brute-force scan: the bounded
 * searches in match.c must return exactly the top k of scoring every
 * candidate, in order, and every hit must pass every hard filter
 * (re-checked here independently of match.c).  The same holds for
 * fn_state_trucks_near against a scan ranked by (distance, driver id).
 * Beyond random data, the later tests put drivers and loads on every edge
 * that the index entries round or bound: see "Ratings, crowds, ..." below.
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
#include "core/records.h"
#include "core/state.h"
#include "match/match.h"
#include "store/snapfile.h"
#include "testutil.h"

#define NOW 1800000000LL
#define N_DRIVERS 4000
#define N_LOADS 3000

static const double centers[][2] = {{31.23, 121.47}, {23.13, 113.26}, {26.65, 106.63}, {30.57, 104.07}, {39.90, 116.41}};

static void apply_rec(fn_state *s, int type, fn_buf *b)
{
    assert_int_equal(fn_state_apply(s, (uint8_t)type, b->data, (uint32_t)b->len), 0);
    fn_buf_reset(b);
}

static void place(uint64_t *rng, double *lat, double *lon)
{
    int c = (int)(rng_next(rng) % 5);
    double spread = rng_unit(rng) < 0.8 ? 0.3 : 3.0;
    *lat = centers[c][0] + rng_range(rng, -spread, spread);
    *lon = centers[c][1] + rng_range(rng, -spread, spread);
}

static fn_state *build(uint64_t seed)
{
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, 0.1};
    fn_state *s = fn_state_new(&cfg);
    uint8_t hash[FN_TOKEN_HASH_BYTES] = {0};
    uint64_t rng = seed;
    fn_buf b;
    fn_buf_init(&b, 0);
    for (uint64_t i = 1; i <= 50; i++) {
        fn_company c;
        memset(&c, 0, sizeof(c));
        c.id = i;
        c.name = "Co";
        c.city = "";
        c.province = -1;
        hash[0] = 1, memcpy(hash + 1, &i, 8);
        fn_rec_company_create(&b, &c, hash);
        apply_rec(s, FN_REC_COMPANY_CREATE, &b);
    }
    for (uint64_t i = 1; i <= N_DRIVERS; i++) {
        fn_driver d;
        fn_position p;
        memset(&d, 0, sizeof(d));
        d.id = i;
        d.name = "D";
        d.phone = "+8613900000000";
        d.plate = "P";
        place(&rng, &d.home_lat, &d.home_lon);
        d.truck_type = (uint8_t)(rng_next(&rng) % FN_TT__COUNT);
        d.length_idx = (uint8_t)(rng_next(&rng) % FN_TRUCK_LENGTH_COUNT);
        d.capacity_kg = (uint32_t)rng_range(&rng, 1000, 35000);
        d.volume_l = rng_unit(&rng) < 0.5 ? (uint32_t)rng_range(&rng, 5000, 90000) : 0;
        d.provinces_mask = (uint32_t)(rng_next(&rng) & 0x7fffffff) & (uint32_t)(rng_next(&rng));
        hash[0] = 3, memcpy(hash + 1, &i, 8);
        fn_rec_driver_create(&b, &d, hash);
        apply_rec(s, FN_REC_DRIVER_CREATE, &b);
        if (rng_unit(&rng) < 0.9) {
            memset(&p, 0, sizeof(p));
            p.driver_id = i;
            place(&rng, &p.lat, &p.lon);
            p.ts = NOW - 60;
            p.heading_ddeg = 0xffff;
            fn_rec_positions(&b, &p, 1);
            apply_rec(s, FN_REC_POSITIONS, &b);
        }
        if (rng_unit(&rng) < 0.1) {
            fn_rec_driver_status(&b, i, FN_DS_OFFLINE, NOW);
            apply_rec(s, FN_REC_DRIVER_STATUS, &b);
        }
    }
    for (uint64_t i = 1; i <= N_LOADS; i++) {
        fn_load l;
        memset(&l, 0, sizeof(l));
        l.id = i;
        l.company_id = 1 + rng_next(&rng) % 50;
        place(&rng, &l.origin.lat, &l.origin.lon);
        place(&rng, &l.dest.lat, &l.dest.lon);
        l.origin.city = l.dest.city = "";
        l.origin.province = -1;
        l.dest.province = (int8_t)(rng_unit(&rng) < 0.7 ? (int)(rng_next(&rng) % FN_PROVINCE_COUNT) : -1);
        l.cargo_kind = "general";
        l.contact_name = l.contact_phone = l.notes = "";
        l.weight_kg = (uint32_t)rng_range(&rng, 500, 30000);
        l.volume_l = rng_unit(&rng) < 0.3 ? (uint32_t)rng_range(&rng, 5000, 80000) : 0;
        l.types_mask = (uint16_t)(rng_next(&rng) & 0xfff);
        if (!l.types_mask)
            l.types_mask = 1;
        l.min_length_idx = (int8_t)(rng_unit(&rng) < 0.5 ? -1 : (int)(rng_next(&rng) % FN_TRUCK_LENGTH_COUNT));
        l.pickup_earliest_at = NOW + (int64_t)rng_range(&rng, -3600, 6 * 3600);
        /* Some windows close so soon that distant trucks cannot make it. */
        l.pickup_latest_at = (rng_unit(&rng) < 0.3 ? NOW : l.pickup_earliest_at) + (int64_t)rng_range(&rng, 600, 3 * 3600);
        l.price_fen = (int64_t)rng_range(&rng, 30000, 900000);
        fn_rec_load_create(&b, &l);
        apply_rec(s, FN_REC_LOAD_CREATE, &b);
    }
    fn_buf_free(&b);
    return s;
}

typedef struct scored {
    uint64_t id;
    double score;
} scored;

static int scored_cmp(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The hard filters, written out again here rather than trusted from match.c. */
static void check_truck_hit(const fn_state *s, const fn_load *l, const fn_match_hit *h, double radius, int exact)
{
    const fn_driver *d = h->driver;
    double lat = d->lat, lon = d->lon, dh;
    assert_int_equal(d->status, FN_DS_AVAILABLE);
    assert_true(d->pos_ts > 0);
    assert_true(l->types_mask & (1u << d->truck_type));
    assert_true(l->min_length_idx < 0 || d->length_idx >= l->min_length_idx);
    assert_true(d->capacity_kg >= l->weight_kg);
    assert_false(l->volume_l && d->volume_l && d->volume_l < l->volume_l);
    if (!exact)
        fn_privacy_snap(d->lat, d->lon, &lat, &lon);
    dh = fn_haversine_km(lat, lon, l->origin.lat, l->origin.lon) * fn_state_cfg(s)->circuity;
    assert_true(dh <= radius + 1e-9);
    assert_true(NOW + dh / 50.0 * 3600.0 <= (double)l->pickup_latest_at + 1e-6);
    assert_true(h->score >= 0 && h->score <= 100.0 + 1e-9);
}

static void test_trucks_equal_brute_force(void **state)
{
    static const double radii[] = {20, 60, 150, 400};
    static const size_t limits[] = {1, 5, 20, 100};
    fn_match_config cfg = {50.0};
    fn_state *s = build(7);
    fn_match_hit *hits = malloc(200 * sizeof(*hits));
    scored *all = malloc(N_DRIVERS * sizeof(*all));
    size_t nonempty = 0;
    (void)state;
    for (uint64_t lid = 1; lid <= N_LOADS; lid += 37) {
        const fn_load *l = fn_state_load(s, lid);
        for (int exact = 0; exact <= 1; exact++)
            for (size_t ri = 0; ri < 4; ri++)
                for (size_t li = 0; li < 4; li++) {
                    size_t m = 0, n = fn_match_trucks(s, &cfg, l, radii[ri], limits[li], exact, NOW, hits);
                    for (uint64_t did = 1; did <= N_DRIVERS; did++) {
                        fn_match_hit h;
                        if (fn_match_score_truck(s, &cfg, l, fn_state_driver(s, did), radii[ri], exact, NOW, &h) == 0)
                            all[m++] = (scored){did, h.score};
                    }
                    qsort(all, m, sizeof(*all), scored_cmp);
                    assert_int_equal(n, m < limits[li] ? m : limits[li]);
                    for (size_t i = 0; i < n; i++) {
                        assert_int_equal(hits[i].driver->id, all[i].id);
                        assert_true(hits[i].score == all[i].score);
                        check_truck_hit(s, l, &hits[i], radii[ri], exact);
                    }
                    nonempty += n > 0;
                }
    }
    assert_true(nonempty > 300); /* the data must give the search something to find */
    free(hits);
    free(all);
    fn_state_free(s);
}

static void test_loads_equal_brute_force(void **state)
{
    static const double radii[] = {30, 150, 500};
    fn_match_config cfg = {50.0};
    fn_state *s = build(11);
    fn_match_hit *hits = malloc(100 * sizeof(*hits));
    scored *all = malloc(N_LOADS * sizeof(*all));
    size_t nonempty = 0;
    (void)state;
    for (uint64_t did = 1; did <= N_DRIVERS; did += 53) {
        const fn_driver *d = fn_state_driver(s, did);
        for (int tk = 0; tk < 3; tk++) {
            fn_toward t = {tk, tk == 2 ? (int)(did % FN_PROVINCE_COUNT) : -1};
            for (size_t ri = 0; ri < 3; ri++) {
                size_t m = 0, limit = 1 + did % 30, n = fn_match_loads(s, &cfg, d, t, radii[ri], limit, NOW, hits);
                for (uint64_t lid = 1; lid <= N_LOADS; lid++) {
                    fn_match_hit h;
                    if (fn_match_score_load(s, &cfg, d, t, fn_state_load(s, lid), radii[ri], NOW, &h) == 0)
                        all[m++] = (scored){lid, h.score};
                }
                qsort(all, m, sizeof(*all), scored_cmp);
                assert_int_equal(n, m < limit ? m : limit);
                for (size_t i = 0; i < n; i++) {
                    const fn_load *l = hits[i].load;
                    assert_int_equal(l->id, all[i].id);
                    assert_true(hits[i].score == all[i].score);
                    assert_int_equal(fn_load_status(l, NOW), FN_LS_OPEN);
                    assert_true(l->types_mask & (1u << d->truck_type));
                    assert_true(d->capacity_kg >= l->weight_kg);
                    assert_true(hits[i].deadhead_km <= radii[ri] + 1e-9);
                    assert_true(hits[i].weight[FN_MF_TOWARD] == (tk ? 0.30 : 0.0));
                }
                nonempty += n > 0;
            }
        }
    }
    assert_true(nonempty > 50);
    free(hits);
    free(all);
    fn_state_free(s);
}

/* Backhaul: of two otherwise identical loads, the one that ends at home wins. */
static void test_toward_home_prefers_the_way_home(void **state)
{
    fn_state_config cfg0 = {FN_AREA_CHINA, 1.3, 0.1};
    fn_match_config cfg = {50.0};
    fn_state *s = fn_state_new(&cfg0);
    uint8_t hash[FN_TOKEN_HASH_BYTES] = {9};
    fn_company c;
    fn_driver d;
    fn_position p;
    fn_load l;
    fn_match_hit hits[4];
    fn_buf b;
    (void)state;
    fn_buf_init(&b, 0);
    memset(&c, 0, sizeof(c));
    c.id = 1, c.name = "Co", c.city = "", c.province = -1;
    fn_rec_company_create(&b, &c, hash);
    apply_rec(s, FN_REC_COMPANY_CREATE, &b);
    memset(&d, 0, sizeof(d));
    d.id = 1, d.name = "D", d.phone = "+86139", d.plate = "P";
    d.home_lat = 26.65, d.home_lon = 106.63; /* Guiyang */
    d.truck_type = FN_TT_van, d.length_idx = 5, d.capacity_kg = 18000;
    hash[0] = 10;
    fn_rec_driver_create(&b, &d, hash);
    apply_rec(s, FN_REC_DRIVER_CREATE, &b);
    memset(&p, 0, sizeof(p));
    p.driver_id = 1, p.lat = 29.56, p.lon = 106.55, p.ts = NOW, p.heading_ddeg = 0xffff; /* Chongqing */
    fn_rec_positions(&b, &p, 1);
    apply_rec(s, FN_REC_POSITIONS, &b);
    for (int i = 1; i <= 2; i++) {
        memset(&l, 0, sizeof(l));
        l.id = (uint64_t)i, l.company_id = 1;
        l.origin.lat = 29.57, l.origin.lon = 106.56, l.origin.city = "", l.origin.province = -1;
        /* Load 1 goes north to Xi'an, load 2 south to Guiyang: the same distance. */
        l.dest.lat = i == 1 ? 32.55 : 26.58, l.dest.lon = i == 1 ? 106.5 : 106.6, l.dest.city = "", l.dest.province = -1;
        l.cargo_kind = "general", l.contact_name = l.contact_phone = l.notes = "";
        l.weight_kg = 10000, l.types_mask = 1u << FN_TT_van, l.min_length_idx = -1;
        l.pickup_earliest_at = NOW + 3600, l.pickup_latest_at = NOW + 7200, l.price_fen = 200000;
        fn_rec_load_create(&b, &l);
        apply_rec(s, FN_REC_LOAD_CREATE, &b);
    }
    assert_int_equal(fn_match_loads(s, &cfg, fn_state_driver(s, 1), (fn_toward){1, -1}, 150, 4, NOW, hits), 2);
    assert_int_equal(hits[0].load->id, 2);
    assert_true(hits[0].factor[FN_MF_TOWARD] > 0.9 && hits[1].factor[FN_MF_TOWARD] < 0.5);
    /* Toward Shaanxi (Xi'an) the order turns round. */
    assert_int_equal(fn_match_loads(s, &cfg, fn_state_driver(s, 1), (fn_toward){2, fn_province_parse("Shaanxi")}, 150, 4, NOW, hits), 2);
    assert_int_equal(hits[0].load->id, 1);
    fn_buf_free(&b);
    fn_state_free(s);
}

/* ==== Ratings, crowds, privacy-cell edges and quantization boundaries ====
 *
 * The searches judge a truck from its index entry first: capacity in whole
 * 100 kg, volume in whole m3, the rating in 62nds, home quantized, the
 * position as a float whose privacy cell is trusted only away from the
 * cell's edges; and a truck whose bound equals the k-th score exactly is
 * settled by driver id.  The data below is built to sit on every one of
 * those edges: ratings given through real trips (and changed while the
 * driver is in the index), crowds of identical trucks in one privacy cell
 * whose scores tie exactly, positions a hair either side of cell edges,
 * capacities and volumes at and 1 around the rounding steps, homes at the
 * loads' destinations.  Every search must still equal a brute-force scan. */

#define W_COMPANIES 40
#define W_DRIVERS 5000
#define W_SPREAD_LOADS 1500
#define W_CROWDS 4
#define W_TWINS 14 /* loads in a crowd's group of identically scored twins */
#define RMAX 400.0
#define MAX_LIMIT 400

/* At and around multiples of 100 kg; 409500 kg is where an entry's capacity saturates. */
static const uint32_t cap_base[] = {5000, 10000, 12000, 18000, 25000, 31000};
static const uint32_t cap_giant[] = {409400, 409500, 409600};
/* At and around multiples of 1000 L; 1023000 L is where an entry's volume saturates. */
static const uint32_t vol_base[] = {5000, 10000, 20000, 33000, 60000};
static const uint32_t vol_giant[] = {1022000, 1023000, 1024000};
/* Degrees from a privacy-cell edge: on it, within a float's rounding (up to
 * 4e-6 degree below longitude 128, 8e-6 above), and either side of the 1e-3
 * cell (2e-5 degree) within which the searches stop trusting the float copy. */
static const double edge_off[] = {0, 1e-7, 4e-7, 1e-6, 2.5e-6, 8e-6, 1.9e-5, 2.1e-5, 6e-5};

static const double w_radii[] = {3, 15, 60, 150, RMAX};

/* Where the checks are, for the failure reports. */
static const char *phase = "";
static const size_t w_limits[] = {1, 3, 10, 40, 150};

typedef struct crowd {
    int64_t ry, rx;          /* its privacy cell: [ry, ry + 1) x [rx, rx + 1) times FN_PRIVACY_CELL_DEG */
    double clat, clon;       /* the cell's centre, as fn_privacy_snap gives it */
    double p0lat, p0lon;     /* the one point many of its trucks share */
    double dlat, dlon;       /* its depot: where its loads go and many of its drivers live */
    int type, len, prov;
} crowd;

typedef struct pending_rating {
    uint64_t booking;
    int stars;
} pending_rating;

typedef struct world {
    fn_state *s;
    fn_buf b;
    uint64_t seed, rng;
    int64_t ts;              /* the clock of trip records, always in the past */
    crowd crowds[W_CROWDS];
    int8_t kind[W_DRIVERS + 1]; /* a driver's crowd, or -1 */
    pending_rating *pend;
    size_t npend;
    uint64_t *qloads;        /* open loads to match trucks to */
    size_t nqloads;
    uint64_t ontrip[W_DRIVERS];
    size_t nontrip;
    size_t rated_indexed;    /* ratings given while the driver was in the index */
    size_t rated_away;       /* ... while offline or on a trip */
} world;

typedef struct stats {
    size_t queries[2], nonempty[2];
    size_t tie_k[2];         /* an exact score tie across the k-th place */
    size_t tie_k_sharp[2];   /* ... between trucks whose entries bound their scores exactly */
    size_t rated_hits, rated_first, unrated_first;
    size_t cap_eq, vol_eq, home_eq, prov_hit, giant_hit, edge_hit;
    size_t load_queries, load_nonempty, load_ties, rated_company_hits;
    size_t near_queries[2], near_nonempty[2], near_ties[2], near_cap_eq, near_vol_eq, near_vol0_cut;
} stats;

static double cell_deg(int64_t k) { return (double)k * FN_PRIVACY_CELL_DEG; }

static uint32_t pick_delta(uint64_t *rng) { return (uint32_t)(rng_next(rng) % 3); }

static uint32_t pick_cap(uint64_t *rng)
{
    double u = rng_unit(rng);
    if (u < 0.04)
        return cap_giant[rng_next(rng) % 3] + pick_delta(rng) - 1;
    if (u < 0.65)
        return cap_base[rng_next(rng) % FN_ARRAY_LEN(cap_base)] + pick_delta(rng) - 1;
    return (uint32_t)rng_range(rng, 1000, 35000);
}

static uint32_t pick_vol(uint64_t *rng, double p_none)
{
    double u = rng_unit(rng);
    if (u < p_none)
        return 0;
    if (u < p_none + 0.04)
        return vol_giant[rng_next(rng) % 3] + pick_delta(rng) - 1;
    if (u < p_none + 0.5)
        return vol_base[rng_next(rng) % FN_ARRAY_LEN(vol_base)] + pick_delta(rng) - 1;
    return (uint32_t)rng_range(rng, 3000, 90000);
}

static uint32_t pick_mask(uint64_t *rng)
{
    return (uint32_t)(rng_next(rng) & 0x7fffffff) & (uint32_t)rng_next(rng) & (uint32_t)rng_next(rng);
}

static void w_apply(world *w, int type) { apply_rec(w->s, type, &w->b); }

static void w_position(world *w, uint64_t did, double lat, double lon, int64_t ts)
{
    fn_position p;
    memset(&p, 0, sizeof(p));
    p.driver_id = did, p.lat = lat, p.lon = lon, p.ts = ts, p.heading_ddeg = 0xffff;
    fn_rec_positions(&w->b, &p, 1);
    w_apply(w, FN_REC_POSITIONS);
}

static void w_status(world *w, uint64_t did, int status)
{
    fn_rec_driver_status(&w->b, did, status, w->ts++);
    w_apply(w, FN_REC_DRIVER_STATUS);
}

static fn_load load_template(void)
{
    fn_load l;
    memset(&l, 0, sizeof(l));
    l.origin.city = l.dest.city = "";
    l.origin.province = l.dest.province = -1;
    l.cargo_kind = "general";
    l.contact_name = l.contact_phone = l.notes = "";
    l.min_length_idx = -1;
    return l;
}

static uint64_t w_post(world *w, fn_load *l)
{
    l->id = fn_state_next_load_id(w->s);
    fn_rec_load_create(&w->b, l);
    w_apply(w, FN_REC_LOAD_CREATE);
    return l->id;
}

static uint64_t w_book(world *w, uint64_t lid, uint64_t did)
{
    fn_booking bk;
    memset(&bk, 0, sizeof(bk));
    bk.id = fn_state_next_booking_id(w->s), bk.load_id = lid, bk.driver_id = did, bk.booked_at = w->ts++;
    fn_rec_book(&w->b, &bk);
    w_apply(w, FN_REC_BOOK);
    return bk.id;
}

static void w_deliver(world *w, uint64_t bid, int64_t ts)
{
    fn_rec_booking_event(&w->b, bid, ts - 1);
    w_apply(w, FN_REC_PICKUP);
    fn_rec_booking_event(&w->b, bid, ts);
    w_apply(w, FN_REC_DELIVER);
}

/* A finished trip: a company posts a load for the driver's truck, books the
 * driver, who picks it up and delivers it at (lat, lon) and stands there
 * (when it has reported no later position).  Returns the booking. */
static uint64_t w_trip(world *w, uint64_t did, double lat, double lon)
{
    const fn_driver *d = fn_state_driver(w->s, did);
    fn_load l = load_template();
    uint64_t bid;
    l.company_id = 1 + rng_next(&w->rng) % W_COMPANIES;
    l.origin.lat = lat + 0.5, l.origin.lon = lon + 0.5;
    l.dest.lat = lat, l.dest.lon = lon;
    l.weight_kg = 100, l.types_mask = (uint16_t)(1u << d->truck_type);
    l.pickup_earliest_at = w->ts, l.pickup_latest_at = w->ts + 3600, l.price_fen = 100000;
    bid = w_book(w, w_post(w, &l), did);
    w_deliver(w, bid, w->ts += 2);
    w->ts++;
    return bid;
}

/* The company of a delivered booking rates its driver (counted by where the
 * driver is), or the driver rates the company. */
static void w_rate(world *w, uint64_t bid, int role, int stars)
{
    if (role == FN_ROLE_COMPANY) {
        const fn_driver *d = fn_state_driver(w->s, fn_state_booking(w->s, bid)->driver_id);
        if (d->status == FN_DS_AVAILABLE && d->pos_ts > 0)
            w->rated_indexed++;
        else
            w->rated_away++;
    }
    fn_rec_rating(&w->b, bid, role, stars, "", w->ts++);
    w_apply(w, FN_REC_RATING);
}

/* Gives each pending rating with probability p (only those of drivers who
 * are not in the index when away_only is set); the rest stay pending. */
static void w_rate_pending(world *w, double p, int away_only)
{
    size_t keep = 0;
    for (size_t i = 0; i < w->npend; i++) {
        const fn_booking *bk = fn_state_booking(w->s, w->pend[i].booking);
        const fn_driver *d = fn_state_driver(w->s, bk->driver_id);
        if (away_only && d->status == FN_DS_AVAILABLE && d->pos_ts > 0)
            w->pend[keep++] = w->pend[i];
        else if (rng_unit(&w->rng) < p && bk->status == FN_BS_DELIVERED)
            w_rate(w, w->pend[i].booking, FN_ROLE_COMPANY, w->pend[i].stars);
        else
            w->pend[keep++] = w->pend[i];
    }
    w->npend = keep;
}

/* A point of a crowd's cell: its shared point, anywhere inside, or a hair
 * either side of one of its edges or of a corner. */
static void crowd_point(uint64_t *rng, const crowd *c, double *lat, double *lon)
{
    double u = rng_unit(rng);
    int side;
    if (u < 0.3) {
        *lat = c->p0lat, *lon = c->p0lon;
        return;
    }
    *lat = cell_deg(c->ry) + FN_PRIVACY_CELL_DEG * rng_unit(rng);
    *lon = cell_deg(c->rx) + FN_PRIVACY_CELL_DEG * rng_unit(rng);
    if (u < 0.6)
        return;
    side = u < 0.85 ? (int)(rng_next(rng) % 2) : 2; /* 0 a latitude edge, 1 a longitude edge, 2 a corner */
    if (side != 1)
        *lat = cell_deg(c->ry + (int64_t)(rng_next(rng) % 2)) +
               edge_off[rng_next(rng) % FN_ARRAY_LEN(edge_off)] * (rng_unit(rng) < 0.5 ? -1 : 1);
    if (side != 0)
        *lon = cell_deg(c->rx + (int64_t)(rng_next(rng) % 2)) +
               edge_off[rng_next(rng) % FN_ARRAY_LEN(edge_off)] * (rng_unit(rng) < 0.5 ? -1 : 1);
}

static void crowd_init(crowd *c, double lat, double lon, int type, int len, const char *prov, double dlat, double dlon,
                       uint64_t *rng)
{
    c->ry = (int64_t)floor(lat / FN_PRIVACY_CELL_DEG);
    c->rx = (int64_t)floor(lon / FN_PRIVACY_CELL_DEG);
    fn_privacy_snap(lat, lon, &c->clat, &c->clon);
    c->p0lat = cell_deg(c->ry) + FN_PRIVACY_CELL_DEG * rng_range(rng, 0.1, 0.9);
    c->p0lon = cell_deg(c->rx) + FN_PRIVACY_CELL_DEG * rng_range(rng, 0.1, 0.9);
    c->dlat = dlat, c->dlon = dlon;
    c->type = type, c->len = len, c->prov = fn_province_parse(prov);
    assert_true(c->prov >= 0);
}

static void w_driver(world *w, int kind)
{
    uint64_t *rng = &w->rng;
    uint8_t hash[FN_TOKEN_HASH_BYTES] = {0};
    fn_driver d;
    double u;
    memset(&d, 0, sizeof(d));
    d.id = fn_state_next_driver_id(w->s);
    d.name = "D", d.phone = "+8613900000000", d.plate = "P";
    d.truck_type = (uint8_t)(rng_next(rng) % FN_TT__COUNT);
    d.length_idx = (uint8_t)(rng_next(rng) % FN_TRUCK_LENGTH_COUNT);
    d.provinces_mask = pick_mask(rng);
    place(rng, &d.home_lat, &d.home_lon);
    u = rng_unit(rng);
    if (kind >= 0) {
        const crowd *c = &w->crowds[kind];
        if (rng_unit(rng) < 0.85)
            d.truck_type = (uint8_t)c->type;
        if (rng_unit(rng) < 0.7)
            d.length_idx = (uint8_t)c->len;
        if (rng_unit(rng) < 0.5)
            d.provinces_mask |= 1u << c->prov;
        else
            d.provinces_mask &= ~(1u << c->prov);
        if (u < 0.5)
            d.home_lat = c->dlat, d.home_lon = c->dlon;
        else if (u < 0.65)
            d.home_lat = w->crowds[(kind + 1) % W_CROWDS].dlat, d.home_lon = w->crowds[(kind + 1) % W_CROWDS].dlon;
    } else if (u < 0.3) {
        const crowd *c = &w->crowds[rng_next(rng) % W_CROWDS];
        d.home_lat = c->dlat, d.home_lon = c->dlon;
    }
    d.capacity_kg = pick_cap(rng);
    d.volume_l = pick_vol(rng, 0.35);
    hash[0] = 3, memcpy(hash + 1, &d.id, 8);
    fn_rec_driver_create(&w->b, &d, hash);
    w_apply(w, FN_REC_DRIVER_CREATE);
    w->kind[d.id] = (int8_t)kind;
}

/* A driver's ratings, given through trips: none, all five stars (the
 * entry's rating is then exact), an average of exactly four stars reached
 * in different ways, or anything.  The last may be left pending. */
static void w_driver_trips(world *w, uint64_t did)
{
    uint64_t *rng = &w->rng;
    int stars[4], n = 0;
    double u = rng_unit(rng), lat, lon;
    if (u < 0.4)
        return;
    if (u < 0.65) {
        n = 1 + (int)(rng_next(rng) % 3);
        for (int i = 0; i < n; i++)
            stars[i] = 5;
    } else if (u < 0.75) {
        static const int four[4][2] = {{4, 0}, {3, 5}, {5, 3}, {4, 4}};
        int j = (int)(rng_next(rng) % 4);
        stars[n++] = four[j][0];
        if (four[j][1])
            stars[n++] = four[j][1];
    } else {
        n = 1 + (int)(rng_next(rng) % 4);
        for (int i = 0; i < n; i++)
            stars[i] = 1 + (int)(rng_next(rng) % 5);
    }
    for (int i = 0; i < n; i++) {
        uint64_t bid;
        place(rng, &lat, &lon);
        bid = w_trip(w, did, lat, lon);
        if (i == n - 1 && rng_unit(rng) < 0.45)
            w->pend[w->npend++] = (pending_rating){bid, stars[i]};
        else
            w_rate(w, bid, FN_ROLE_COMPANY, stars[i]);
        if (rng_unit(rng) < 0.6) /* and the driver rates the company */
            w_rate(w, bid, FN_ROLE_DRIVER, 1 + (int)(rng_next(rng) % 5));
    }
}

static void w_load_common(world *w, fn_load *l)
{
    uint64_t *rng = &w->rng;
    double u = rng_unit(rng);
    l->company_id = 1 + rng_next(rng) % W_COMPANIES;
    if (u < 0.8) {
        l->pickup_earliest_at = NOW + (int64_t)rng_range(rng, 3600, 6 * 3600);
        l->pickup_latest_at = l->pickup_earliest_at + (int64_t)rng_range(rng, 3600, 3 * 3600);
    } else { /* so soon that distant trucks cannot make it */
        l->pickup_earliest_at = NOW - 600;
        l->pickup_latest_at = NOW + (int64_t)rng_range(rng, 300, 3 * 3600);
    }
    u = rng_unit(rng);
    l->price_fen = u < 0.4 ? 5000000 : u < 0.42 ? 500000000 : (int64_t)rng_range(rng, 30000, 900000);
    u = rng_unit(rng);
    l->weight_kg = u < 0.03   ? cap_giant[rng_next(rng) % 3] + pick_delta(rng) - 1
                   : u < 0.6 ? cap_base[rng_next(rng) % FN_ARRAY_LEN(cap_base)] + pick_delta(rng) - 1
                             : (uint32_t)rng_range(rng, 500, 30000);
    l->volume_l = pick_vol(rng, 0.45);
}

static uint64_t w_crowd_load(world *w, const crowd *c)
{
    uint64_t *rng = &w->rng;
    fn_load l = load_template();
    double u = rng_unit(rng);
    w_load_common(w, &l);
    if (u < 0.25) {
        l.origin.lat = c->clat, l.origin.lon = c->clon;
    } else if (u < 0.45) {
        l.origin.lat = c->p0lat, l.origin.lon = c->p0lon;
    } else if (u < 0.6) {
        crowd_point(rng, c, &l.origin.lat, &l.origin.lon);
    } else {
        l.origin.lat = c->clat + rng_range(rng, -0.06, 0.06);
        l.origin.lon = c->clon + rng_range(rng, -0.06, 0.06);
    }
    u = rng_unit(rng);
    if (u < 0.7) {
        l.dest.lat = c->dlat, l.dest.lon = c->dlon;
        l.dest.province = (int8_t)(rng_unit(rng) < 0.6 ? c->prov : -1);
    } else {
        place(rng, &l.dest.lat, &l.dest.lon);
        l.dest.province = (int8_t)(rng_unit(rng) < 0.5 ? (int)(rng_next(rng) % FN_PROVINCE_COUNT) : -1);
    }
    l.types_mask = (uint16_t)((1u << c->type) | (rng_unit(rng) < 0.5 ? rng_next(rng) & 0xfff : 0));
    u = rng_unit(rng);
    l.min_length_idx = (int8_t)(u < 0.5 ? -1 : u < 0.8 ? c->len : (int)(rng_next(rng) % FN_TRUCK_LENGTH_COUNT));
    return w_post(w, &l);
}

static uint64_t w_spread_load(world *w)
{
    uint64_t *rng = &w->rng;
    fn_load l = load_template();
    w_load_common(w, &l);
    place(rng, &l.origin.lat, &l.origin.lon);
    if (rng_unit(rng) < 0.3) {
        const crowd *c = &w->crowds[rng_next(rng) % W_CROWDS];
        l.dest.lat = c->dlat, l.dest.lon = c->dlon;
        l.dest.province = (int8_t)(rng_unit(rng) < 0.5 ? c->prov : -1);
    } else {
        place(rng, &l.dest.lat, &l.dest.lon);
        l.dest.province = (int8_t)(rng_unit(rng) < 0.7 ? (int)(rng_next(rng) % FN_PROVINCE_COUNT) : -1);
    }
    l.types_mask = (uint16_t)(rng_next(rng) & 0xfff);
    if (!l.types_mask)
        l.types_mask = 1;
    l.min_length_idx = (int8_t)(rng_unit(rng) < 0.5 ? -1 : (int)(rng_next(rng) % FN_TRUCK_LENGTH_COUNT));
    return w_post(w, &l);
}

/* Loads that score alike for every truck: one pickup, delivery, window,
 * price and company; only what the filters read differs. */
static void w_twins(world *w, const crowd *c)
{
    uint64_t *rng = &w->rng;
    fn_load l = load_template();
    w_load_common(w, &l);
    l.origin.lat = c->clat + rng_range(rng, -0.03, 0.03);
    l.origin.lon = c->clon + rng_range(rng, -0.03, 0.03);
    l.dest.lat = c->dlat, l.dest.lon = c->dlon, l.dest.province = (int8_t)c->prov;
    for (int i = 0; i < W_TWINS; i++) {
        /* a few so heavy that only trucks whose entries' capacity saturates can take them */
        l.weight_kg = (i < 3 ? cap_giant[2] : cap_base[rng_next(rng) % FN_ARRAY_LEN(cap_base)]) + pick_delta(rng) - 1;
        l.volume_l = pick_vol(rng, 0.5);
        l.types_mask = (uint16_t)((1u << c->type) | (rng_next(rng) & 0xfff));
        l.min_length_idx = (int8_t)(rng_unit(rng) < 0.6 ? -1 : c->len);
        w->qloads[w->nqloads++] = w_post(w, &l);
    }
}

/* An empty state with the companies. */
static void world_init(world *w, uint64_t seed, double grid_cell_deg)
{
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, grid_cell_deg};
    uint8_t hash[FN_TOKEN_HASH_BYTES] = {0};
    memset(w, 0, sizeof(*w));
    w->s = fn_state_new(&cfg);
    w->seed = w->rng = seed;
    w->ts = NOW - 1000000;
    fn_buf_init(&w->b, 0);
    w->pend = calloc(W_DRIVERS, sizeof(*w->pend));
    w->qloads = calloc(W_SPREAD_LOADS + 1000, sizeof(*w->qloads));
    memset(w->kind, -1, sizeof(w->kind));
    for (uint64_t i = 1; i <= W_COMPANIES; i++) {
        fn_company c;
        memset(&c, 0, sizeof(c));
        c.id = i, c.name = "Co", c.city = "", c.province = -1;
        hash[0] = 1, memcpy(hash + 1, &i, 8);
        fn_rec_company_create(&w->b, &c, hash);
        w_apply(w, FN_REC_COMPANY_CREATE);
    }
}

static void world_build(world *w, uint64_t seed, double grid_cell_deg)
{
    uint64_t *rng = &w->rng, *order;
    world_init(w, seed, grid_cell_deg);
    /* Two crowds in neighbouring cells (their shared edge crowded on both
     * sides), one in the west and one where longitudes pass 128 (a float
     * rounds to 8e-6 degree there). */
    crowd_init(&w->crowds[0], 31.2304, 121.4737, FN_TT_van, 0, "Zhejiang", 30.2741, 120.1551, rng);
    crowd_init(&w->crowds[1], 31.2304, 121.4737 + FN_PRIVACY_CELL_DEG, FN_TT_van, 0, "Jiangsu", 32.0603, 118.7969, rng);
    crowd_init(&w->crowds[2], 30.5728, 104.0668, FN_TT_high_rail, 5, "Chongqing", 29.5630, 106.5516, rng);
    crowd_init(&w->crowds[3], 46.7998, 130.3188, FN_TT_refrigerated, 3, "Heilongjiang", 45.8038, 126.5350, rng);
    for (int i = 0; i < W_DRIVERS; i++)
        w_driver(w, rng_unit(rng) < 0.4 ? (int)(rng_next(rng) % W_CROWDS) : -1);
    /* Trips and ratings; each delivery leaves the truck (available, in the
     * index) where it delivered. */
    for (uint64_t did = 1; did <= W_DRIVERS; did++)
        w_driver_trips(w, did);
    /* Positions, in a shuffled order so that ids are mixed in every leaf. */
    order = malloc(W_DRIVERS * sizeof(*order));
    for (size_t i = 0; i < W_DRIVERS; i++)
        order[i] = i + 1;
    for (size_t i = W_DRIVERS - 1; i > 0; i--) {
        size_t j = rng_next(rng) % (i + 1);
        uint64_t t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (size_t i = 0; i < W_DRIVERS; i++) {
        uint64_t did = order[i];
        double lat, lon;
        if (rng_unit(rng) < 0.08)
            continue; /* none (or where its last delivery left it) */
        if (w->kind[did] >= 0)
            crowd_point(rng, &w->crowds[w->kind[did]], &lat, &lon);
        else
            place(rng, &lat, &lon);
        w_position(w, did, lat, lon, NOW - 100000 + (int64_t)i);
    }
    free(order);
    /* Most pending ratings reach drivers that stand in the index. */
    w_rate_pending(w, 0.6, 0);
    for (int c = 0; c < W_CROWDS; c++) {
        for (int i = 0; i < 60; i++)
            w->qloads[w->nqloads++] = w_crowd_load(w, &w->crowds[c]);
        w_twins(w, &w->crowds[c]);
    }
    for (int i = 0; i < W_SPREAD_LOADS; i++) {
        uint64_t lid = w_spread_load(w);
        if (i % 12 == 0)
            w->qloads[w->nqloads++] = lid;
    }
    /* Some trucks leave on a trip, some go offline; more ratings arrive, some
     * of them for drivers who are not in the index. */
    for (uint64_t did = 1; did <= W_DRIVERS; did++) {
        const fn_driver *d = fn_state_driver(w->s, did);
        double u = rng_unit(rng);
        if (u < 0.03 && d->status == FN_DS_AVAILABLE) {
            fn_load l = load_template();
            l.company_id = 1 + rng_next(rng) % W_COMPANIES;
            place(rng, &l.origin.lat, &l.origin.lon);
            place(rng, &l.dest.lat, &l.dest.lon);
            l.weight_kg = 100, l.types_mask = (uint16_t)(1u << d->truck_type);
            l.pickup_earliest_at = NOW, l.pickup_latest_at = NOW + 3600, l.price_fen = 100000;
            w->ontrip[w->nontrip++] = w_book(w, w_post(w, &l), did);
        } else if (u < 0.13 && d->status == FN_DS_AVAILABLE) {
            w_status(w, did, FN_DS_OFFLINE);
        }
    }
    w_rate_pending(w, 0.8, 1);
    w_rate_pending(w, 0.5, 0);
}

/* The moves after the first round of checks: a few hundred position
 * reports (most of them small, inside a privacy cell or a hair across its
 * edge), drivers going offline and coming back, trips starting and ending,
 * and the last ratings. */
static void world_moves(world *w)
{
    uint64_t *rng = &w->rng;
    for (int i = 0; i < 400; i++) {
        uint64_t did = 1 + rng_next(rng) % W_DRIVERS;
        const fn_driver *d = fn_state_driver(w->s, did);
        double lat, lon, u = rng_unit(rng);
        if (d->pos_ts <= 0 || u > 0.85) {
            place(rng, &lat, &lon);
        } else if (u < 0.3) { /* a few metres at most */
            lat = d->lat + rng_range(rng, -3e-5, 3e-5);
            lon = d->lon + rng_range(rng, -3e-5, 3e-5);
        } else if (u < 0.5) { /* elsewhere in the same privacy cell */
            lat = floor(d->lat / FN_PRIVACY_CELL_DEG) * FN_PRIVACY_CELL_DEG + FN_PRIVACY_CELL_DEG * rng_unit(rng);
            lon = floor(d->lon / FN_PRIVACY_CELL_DEG) * FN_PRIVACY_CELL_DEG + FN_PRIVACY_CELL_DEG * rng_unit(rng);
        } else if (u < 0.7) {
            int c = w->kind[did] >= 0 ? w->kind[did] : (int)(rng_next(rng) % W_CROWDS);
            crowd_point(rng, &w->crowds[c], &lat, &lon);
        } else {
            lat = d->lat + rng_range(rng, -0.05, 0.05);
            lon = d->lon + rng_range(rng, -0.05, 0.05);
        }
        w_position(w, did, lat, lon, NOW - 50000 + i);
    }
    for (int i = 0; i < 150; i++) {
        uint64_t did = 1 + rng_next(rng) % W_DRIVERS;
        const fn_driver *d = fn_state_driver(w->s, did);
        if (d->status != FN_DS_ON_TRIP)
            w_status(w, did, d->status == FN_DS_OFFLINE ? FN_DS_AVAILABLE : FN_DS_OFFLINE);
    }
    w_rate_pending(w, 0.5, 0);
    /* The trucks on a trip deliver (standing at the delivery point) and most
     * are rated there at once. */
    for (size_t i = 0; i < w->nontrip; i++) {
        w_deliver(w, w->ontrip[i], NOW - 40000 + (int64_t)i);
        if (rng_unit(rng) < 0.7)
            w_rate(w, w->ontrip[i], FN_ROLE_COMPANY, 1 + (int)(rng_next(rng) % 5));
    }
    /* New trips take some trucks and open loads out of their indexes. */
    for (int i = 0; i < 60; i++) {
        uint64_t did = 1 + rng_next(rng) % W_DRIVERS, lid = w->qloads[rng_next(rng) % w->nqloads];
        if (fn_state_driver(w->s, did)->status != FN_DS_ON_TRIP && fn_state_load(w->s, lid)->status == FN_LS_OPEN)
            w_book(w, lid, did);
    }
    w_rate_pending(w, 1.0, 0);
}

static void world_free(world *w)
{
    fn_buf_free(&w->b);
    fn_state_free(w->s);
    free(w->pend);
    free(w->qloads);
}

/* ---- the checks ---- */

/* The index's best rating describes the trucks in it: at least each one's
 * rating, at most a 62nd above the best of them. */
static void check_best_rating(const fn_state *s)
{
    double lo = 0, hi = 0, best = fn_state_best_truck_rating(s);
    for (uint64_t did = 1; did < fn_state_next_driver_id(s); did++) {
        const fn_driver *d = fn_state_driver(s, did);
        double r = fn_rating01(d->rating_sum, d->rating_count);
        if (d->status != FN_DS_AVAILABLE || d->pos_ts <= 0)
            continue;
        lo = fmax(lo, r);
        hi = fmax(hi, d->rating_count ? fmin(1.0, r + 1.0 / 62.0 + 1e-9) : r);
    }
    if (!(best >= lo && best <= hi))
        fail_msg("fn_state_best_truck_rating %.17g, but the trucks in the index are rated %.17g at best "
                 "(entry bits up to %.17g)",
                 best, lo, hi);
}

typedef struct tscore {
    uint64_t id;
    double score, dh;
    int sharp; /* the truck's entry bounds its score exactly */
} tscore;

static int tscore_cmp(const void *a, const void *b)
{
    const tscore *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int near_cell_edge(double v)
{
    double x = (double)(float)v / FN_PRIVACY_CELL_DEG, f = x - floor(x);
    return f < 2e-3 || f > 1 - 2e-3;
}

/* Whether the bound a search computes from the truck's entry is its score
 * exactly (so that a tie with the k-th place comes down to the id rule):
 * unrated or all five stars, the destination part 1, and the distance
 * parts known exactly (from a privacy cell that the float copy settles, or
 * a deadhead of 0). */
static int sharp_bound(const fn_driver *d, const fn_match_hit *h, int exact)
{
    if ((d->rating_count && fn_rating01(d->rating_sum, d->rating_count) != 1.0) || h->factor[FN_MF_DESTINATION] != 1.0)
        return 0;
    return exact ? h->deadhead_km == 0.0 : !near_cell_edge(d->lat) && !near_cell_edge(d->lon);
}

static void report_trucks(uint64_t seed, const fn_load *l, int exact, double radius, size_t limit,
                          const fn_match_hit *hits, size_t n, const tscore *want, size_t m)
{
    print_error("fn_match_trucks differs from brute force (%s): seed %llu, load %llu, exact %d, radius %g, limit %zu: "
                "%zu hits, expected %zu\n",
                phase, (unsigned long long)seed, (unsigned long long)l->id, exact, radius, limit, n, m);
    for (size_t i = 0; i < (n > m ? n : m) && i < 20; i++)
        print_error("  #%zu got %llu %.17g   expected %llu %.17g%s\n", i,
                    i < n ? (unsigned long long)hits[i].driver->id : 0ull, i < n ? hits[i].score : 0.0,
                    i < m ? (unsigned long long)want[i].id : 0ull, i < m ? want[i].score : 0.0,
                    i < n && i < m && (hits[i].driver->id != want[i].id || hits[i].score != want[i].score) ? "  <--"
                                                                                                            : "");
    fail();
}

/* Every radius and limit for one load in one view against one brute-force
 * scan (a pair's score does not depend on the radius, only whether it is
 * within it). */
static void check_trucks_load(const fn_state *s, uint64_t seed, const fn_load *l, int exact, stats *st, tscore *all,
                              tscore *sub, fn_match_hit *hits)
{
    fn_match_config cfg = {50.0};
    uint64_t nd = fn_state_next_driver_id(s) - 1;
    size_t m = 0;
    for (uint64_t did = 1; did <= nd; did++) {
        const fn_driver *d = fn_state_driver(s, did);
        fn_match_hit h;
        if (fn_match_score_truck(s, &cfg, l, d, RMAX, exact, NOW, &h) == 0)
            all[m++] = (tscore){did, h.score, h.deadhead_km, sharp_bound(d, &h, exact)};
    }
    qsort(all, m, sizeof(*all), tscore_cmp);
    for (size_t ri = 0; ri < FN_ARRAY_LEN(w_radii); ri++) {
        size_t ms = 0;
        for (size_t i = 0; i < m; i++)
            if (all[i].dh <= w_radii[ri])
                sub[ms++] = all[i];
        for (size_t li = 0; li < FN_ARRAY_LEN(w_limits); li++) {
            size_t k = w_limits[li], want = ms < k ? ms : k;
            size_t n = fn_match_trucks(s, &cfg, l, w_radii[ri], k, exact, NOW, hits);
            if (n != want)
                report_trucks(seed, l, exact, w_radii[ri], k, hits, n, sub, want);
            for (size_t i = 0; i < n; i++) {
                const fn_driver *d = hits[i].driver;
                double slat = d->lat, slon = d->lon;
                if (d->id != sub[i].id || hits[i].score != sub[i].score)
                    report_trucks(seed, l, exact, w_radii[ri], k, hits, n, sub, want);
                check_truck_hit(s, l, &hits[i], w_radii[ri], exact);
                if (!exact)
                    fn_privacy_snap(d->lat, d->lon, &slat, &slon);
                assert_true(hits[i].lat == slat && hits[i].lon == slon);
                assert_true(hits[i].deadhead_km == sub[i].dh);
                st->rated_hits += d->rating_count > 0;
                st->cap_eq += d->capacity_kg == l->weight_kg;
                st->vol_eq += l->volume_l && d->volume_l == l->volume_l;
                st->home_eq += d->home_lat == l->dest.lat && d->home_lon == l->dest.lon;
                st->prov_hit += l->dest.province >= 0 && (d->provinces_mask >> l->dest.province & 1);
                st->giant_hit += d->capacity_kg >= 409400 || d->volume_l >= 1022000;
                st->edge_hit += near_cell_edge(d->lat) || near_cell_edge(d->lon);
            }
            st->queries[exact]++;
            if (n) {
                st->nonempty[exact]++;
                st->rated_first += hits[0].driver->rating_count > 0;
                st->unrated_first += hits[0].driver->rating_count == 0;
            }
            if (k < ms && sub[k - 1].score == sub[k].score) {
                st->tie_k[exact]++;
                st->tie_k_sharp[exact] += sub[k - 1].sharp && sub[k].sharp;
            }
        }
    }
}

static void report_loads(uint64_t seed, const fn_driver *d, fn_toward t, double radius, size_t limit,
                         const fn_match_hit *hits, size_t n, const tscore *want, size_t m)
{
    print_error("fn_match_loads differs from brute force (%s): seed %llu, driver %llu, toward %d/%d, radius %g, "
                "limit %zu: %zu hits, expected %zu\n",
                phase, (unsigned long long)seed, (unsigned long long)d->id, t.kind, t.province, radius, limit, n, m);
    for (size_t i = 0; i < (n > m ? n : m) && i < 20; i++)
        print_error("  #%zu got %llu %.17g   expected %llu %.17g\n", i,
                    i < n ? (unsigned long long)hits[i].load->id : 0ull, i < n ? hits[i].score : 0.0,
                    i < m ? (unsigned long long)want[i].id : 0ull, i < m ? want[i].score : 0.0);
    fail();
}

static void check_loads_driver(const fn_state *s, uint64_t seed, const fn_driver *d, fn_toward t, stats *st,
                               tscore *all, tscore *sub, fn_match_hit *hits)
{
    static const double radii[] = {20, 80, RMAX};
    size_t limits[] = {1, 3, 1 + d->id % 40};
    fn_match_config cfg = {50.0};
    uint64_t nl = fn_state_next_load_id(s) - 1;
    size_t m = 0;
    for (uint64_t lid = 1; lid <= nl; lid++) {
        fn_match_hit h;
        if (fn_match_score_load(s, &cfg, d, t, fn_state_load(s, lid), RMAX, NOW, &h) == 0)
            all[m++] = (tscore){lid, h.score, h.deadhead_km, 0};
    }
    qsort(all, m, sizeof(*all), tscore_cmp);
    for (size_t ri = 0; ri < FN_ARRAY_LEN(radii); ri++) {
        size_t ms = 0;
        for (size_t i = 0; i < m; i++)
            if (all[i].dh <= radii[ri])
                sub[ms++] = all[i];
        for (size_t li = 0; li < FN_ARRAY_LEN(limits); li++) {
            size_t k = limits[li], want = ms < k ? ms : k;
            size_t n = fn_match_loads(s, &cfg, d, t, radii[ri], k, NOW, hits);
            if (n != want)
                report_loads(seed, d, t, radii[ri], k, hits, n, sub, want);
            for (size_t i = 0; i < n; i++) {
                const fn_company *co = fn_state_company(s, hits[i].load->company_id);
                if (hits[i].load->id != sub[i].id || hits[i].score != sub[i].score)
                    report_loads(seed, d, t, radii[ri], k, hits, n, sub, want);
                assert_int_equal(fn_load_status(hits[i].load, NOW), FN_LS_OPEN);
                st->rated_company_hits += co->rating_count > 0;
            }
            st->load_queries++;
            st->load_nonempty += n > 0;
            st->load_ties += k < ms && sub[k - 1].score == sub[k].score;
        }
    }
}

typedef struct ndist {
    uint64_t id;
    double dist, lat, lon;
} ndist;

static int ndist_cmp(const void *a, const void *b)
{
    const ndist *x = a, *y = b;
    if (x->dist != y->dist)
        return x->dist < y->dist ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int near_passes(const fn_driver *d, const fn_truck_query *q, int ignore_volume)
{
    return (!q->types_mask || (q->types_mask >> d->truck_type & 1)) &&
           (q->min_length_idx < 0 || d->length_idx >= q->min_length_idx) && d->capacity_kg >= q->min_capacity_kg &&
           (ignore_volume || !q->min_volume_l || d->volume_l >= q->min_volume_l);
}

static void report_near(uint64_t seed, const fn_truck_query *q, const fn_truck_hit *hits, size_t n, const char *what,
                        uint64_t want_id, double want_dist)
{
    print_error("fn_state_trucks_near differs from brute force (%s, %s): seed %llu, at %.17g,%.17g exact %d "
                "radius %g limit %zu types 0x%x min_length %d min_capacity %u min_volume %u\n",
                phase, what, (unsigned long long)seed, q->lat, q->lon, q->exact, q->radius_km, q->limit, q->types_mask,
                q->min_length_idx, q->min_capacity_kg, q->min_volume_l);
    print_error("  expected driver %llu at %.17g km\n", (unsigned long long)want_id, want_dist);
    for (size_t i = 0; i < n && i < 20; i++)
        print_error("  #%zu got %llu at %.17g km\n", i, (unsigned long long)hits[i].driver->id, hits[i].distance_km);
    fail();
}

/* Random filters at one point, in one view, against one sorted scan of every
 * available positioned truck. */
static void check_near_point(const world *w, double lat, double lon, int exact, uint64_t *rng, stats *st, ndist *all,
                             fn_truck_hit *hits)
{
    static const double radii[] = {0.5, 1.5, 3, 10, 50, 300};
    static const size_t limits[] = {1, 2, 5, 20, 100, MAX_LIMIT};
    const fn_state *s = w->s;
    size_t m = 0;
    for (uint64_t did = 1; did < fn_state_next_driver_id(s); did++) {
        const fn_driver *d = fn_state_driver(s, did);
        double plat = d->lat, plon = d->lon;
        if (d->status != FN_DS_AVAILABLE || d->pos_ts <= 0)
            continue;
        if (!exact)
            fn_privacy_snap(d->lat, d->lon, &plat, &plon);
        all[m++] = (ndist){did, fn_haversine_km(lat, lon, plat, plon), plat, plon};
    }
    qsort(all, m, sizeof(*all), ndist_cmp);
    for (int rep = 0; rep < 14; rep++) {
        const crowd *c = &w->crowds[rng_next(rng) % W_CROWDS];
        fn_truck_query q;
        size_t found = 0, n;
        int vol0_cut = 0;
        double u;
        memset(&q, 0, sizeof(q));
        q.lat = lat, q.lon = lon, q.exact = exact;
        q.radius_km = radii[rng_next(rng) % FN_ARRAY_LEN(radii)];
        q.limit = limits[rng_next(rng) % FN_ARRAY_LEN(limits)];
        u = rng_unit(rng);
        q.types_mask = (uint16_t)(u < 0.35 ? 0 : u < 0.7 ? 1u << c->type : rng_next(rng) & 0xfff);
        u = rng_unit(rng);
        q.min_length_idx = u < 0.5 ? -1 : u < 0.75 ? c->len : (int)(rng_next(rng) % FN_TRUCK_LENGTH_COUNT);
        u = rng_unit(rng);
        q.min_capacity_kg = u < 0.35  ? 0
                            : u < 0.9 ? cap_base[rng_next(rng) % FN_ARRAY_LEN(cap_base)] + pick_delta(rng) - 1
                                      : cap_giant[rng_next(rng) % 3] + pick_delta(rng) - 1;
        u = rng_unit(rng);
        q.min_volume_l = u < 0.4   ? 0
                         : u < 0.9 ? vol_base[rng_next(rng) % FN_ARRAY_LEN(vol_base)] + pick_delta(rng) - 1
                                   : vol_giant[rng_next(rng) % 3] + pick_delta(rng) - 1;
        n = fn_state_trucks_near(s, &q, hits);
        for (size_t i = 0; i < m && all[i].dist <= q.radius_km; i++) {
            const fn_driver *d = fn_state_driver(s, all[i].id);
            if (!near_passes(d, &q, 0)) {
                vol0_cut |= found < q.limit && d->volume_l == 0 && near_passes(d, &q, 1);
                continue;
            }
            if (found == q.limit) {
                st->near_ties[exact] += all[i].dist == hits[found - 1].distance_km;
                break;
            }
            if (found >= n)
                report_near(w->seed, &q, hits, n, "too few", all[i].id, all[i].dist);
            if (hits[found].driver->id != all[i].id || hits[found].distance_km != all[i].dist)
                report_near(w->seed, &q, hits, n, "a different truck", all[i].id, all[i].dist);
            assert_true(hits[found].lat == all[i].lat && hits[found].lon == all[i].lon);
            st->near_cap_eq += q.min_capacity_kg && d->capacity_kg == q.min_capacity_kg;
            st->near_vol_eq += q.min_volume_l && d->volume_l == q.min_volume_l;
            found++;
        }
        if (n != found)
            report_near(w->seed, &q, hits, n, "too many", 0, 0);
        st->near_vol0_cut += vol0_cut;
        st->near_queries[exact]++;
        st->near_nonempty[exact] += n > 0;
    }
}

static void check_world(world *w, stats *st)
{
    const fn_state *s = w->s;
    uint64_t nd = fn_state_next_driver_id(s) - 1, nl = fn_state_next_load_id(s) - 1;
    tscore *all = malloc((nd > nl ? nd : nl) * sizeof(*all)), *sub = malloc((nd > nl ? nd : nl) * sizeof(*sub));
    fn_match_hit *hits = malloc(MAX_LIMIT * sizeof(*hits));
    fn_truck_hit *near = malloc(MAX_LIMIT * sizeof(*near));
    ndist *nall = malloc(nd * sizeof(*nall));
    uint64_t rng = w->seed ^ 0x5eed;

    check_best_rating(s);
    for (size_t i = 0; i < w->nqloads; i++)
        for (int exact = 0; exact <= 1; exact++)
            check_trucks_load(s, w->seed, fn_state_load(s, w->qloads[i]), exact, st, all, sub, hits);
    /* Loads for every crowd's drivers and a sample of the rest. */
    for (uint64_t did = 1; did <= nd; did++) {
        const fn_driver *d = fn_state_driver(s, did);
        if (w->kind[did] >= 0 ? did % 17 != 0 : did % 41 != 0)
            continue;
        for (int tk = 0; tk < 3; tk++) {
            fn_toward t = {tk, tk < 2 ? -1 : rng_unit(&rng) < 0.5 ? w->crowds[w->kind[did] >= 0 ? w->kind[did] : 0].prov
                                                                  : (int)(rng_next(&rng) % FN_PROVINCE_COUNT)};
            check_loads_driver(s, w->seed, d, t, st, all, sub, hits);
        }
    }
    /* Trucks near: each crowd's cell centre (every snapped distance equal),
     * its shared point, its corners and edges, its depot; random points; the
     * exact positions of random trucks. */
    for (int c = 0; c < W_CROWDS; c++) {
        const crowd *cr = &w->crowds[c];
        double pts[12][2] = {{cr->clat, cr->clon}, {cr->p0lat, cr->p0lon}, {cr->dlat, cr->dlon}};
        size_t np = 3;
        for (int j = 0; j < 4; j++) {
            pts[np][0] = cell_deg(cr->ry + (j & 1)), pts[np][1] = cell_deg(cr->rx + (j >> 1));
            np++;
        }
        for (int j = 0; j < 5; j++, np++)
            crowd_point(&rng, cr, &pts[np][0], &pts[np][1]);
        for (size_t j = 0; j < np; j++)
            for (int exact = 0; exact <= 1; exact++)
                check_near_point(w, pts[j][0], pts[j][1], exact, &rng, st, nall, near);
    }
    for (int j = 0; j < 40; j++) {
        double lat, lon;
        const fn_driver *d = fn_state_driver(s, 1 + rng_next(&rng) % nd);
        if (j < 20 || d->pos_ts <= 0)
            place(&rng, &lat, &lon);
        else
            lat = d->lat, lon = d->lon;
        for (int exact = 0; exact <= 1; exact++)
            check_near_point(w, lat, lon, exact, &rng, st, nall, near);
    }
    free(all);
    free(sub);
    free(hits);
    free(near);
    free(nall);
}

static void print_stats(const char *when, const world *w, const stats *st)
{
    print_message("  %s (seed %llu): truck searches %zu + %zu (snapped + exact), non-empty %zu + %zu; "
                  "k-th place ties %zu + %zu, with exact bounds %zu + %zu\n",
                  when, (unsigned long long)w->seed, st->queries[0], st->queries[1], st->nonempty[0], st->nonempty[1],
                  st->tie_k[0], st->tie_k[1], st->tie_k_sharp[0], st->tie_k_sharp[1]);
    print_message("    hits: rated %zu, best rated %zu / unrated %zu; capacity = weight %zu, volume = volume %zu, "
                  "home = destination %zu, province %zu, saturated %zu, near a cell edge %zu\n",
                  st->rated_hits, st->rated_first, st->unrated_first, st->cap_eq, st->vol_eq, st->home_eq, st->prov_hit,
                  st->giant_hit, st->edge_hit);
    print_message("    load searches %zu (non-empty %zu, k-th ties %zu, rated companies in hits %zu); "
                  "trucks near %zu + %zu (non-empty %zu + %zu, k-th ties %zu + %zu, capacity = min %zu, "
                  "volume = min %zu, volume-less cut %zu); ratings given in the index %zu, outside %zu\n",
                  st->load_queries, st->load_nonempty, st->load_ties, st->rated_company_hits, st->near_queries[0],
                  st->near_queries[1], st->near_nonempty[0], st->near_nonempty[1], st->near_ties[0], st->near_ties[1],
                  st->near_cap_eq, st->near_vol_eq, st->near_vol0_cut, w->rated_indexed, w->rated_away);
}

/* That the data gave every rule something to decide. */
static void assert_exercised(const stats *st)
{
    for (int exact = 0; exact <= 1; exact++) {
        assert_true(st->nonempty[exact] > st->queries[exact] / 2);
        assert_true(st->tie_k[exact] > 20);
        assert_true(st->tie_k_sharp[exact] > 5);
        assert_true(st->near_nonempty[exact] > st->near_queries[exact] / 4);
        assert_true(st->near_ties[exact] > 5);
    }
    assert_true(st->rated_hits > 1000 && st->rated_first > 50 && st->unrated_first > 50);
    assert_true(st->cap_eq > 50 && st->vol_eq > 20 && st->home_eq > 100 && st->prov_hit > 100);
    assert_true(st->giant_hit > 10 && st->edge_hit > 100);
    assert_true(st->load_nonempty > st->load_queries / 2 && st->load_ties > 5 && st->rated_company_hits > 100);
    assert_true(st->near_cap_eq > 10 && st->near_vol_eq > 10 && st->near_vol0_cut > 10);
}

/* The world's state written as a snapshot and loaded into a new state,
 * which then stands in for it: the index a restart builds (on its own
 * thread, in state_snap.c) must answer exactly as the one built live. */
static void reload_world(world *w)
{
    char dir[] = "/tmp/fn-test-match-XXXXXX", err[256] = {0}, cmd[64];
    fn_snapw *sw = NULL;
    fn_snapr *sr = NULL;
    uint64_t seq = 0;
    fn_state *t = fn_state_new(fn_state_cfg(w->s));
    assert_non_null(mkdtemp(dir));
    assert_int_equal(fn_snapw_open(&sw, dir, 1, err, sizeof(err)), 0);
    assert_int_equal(fn_state_snap_save(w->s, sw), 0);
    assert_int_equal(fn_snapw_commit(sw, err, sizeof(err)), 0);
    assert_int_equal(fn_snapr_open(&sr, dir, &seq, err, sizeof(err)), 0);
    assert_int_equal(fn_state_snap_load(t, sr), 0);
    assert_int_equal(fn_snapr_close(sr), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    assert_true(fn_state_best_truck_rating(t) == fn_state_best_truck_rating(w->s));
    fn_state_free(w->s);
    w->s = t;
}

static void run_world(uint64_t seed, double grid_cell_deg)
{
    world *w = malloc(sizeof(*w));
    stats st0, st1;
    phase = "the world as built";
    world_build(w, seed, grid_cell_deg);
    memset(&st0, 0, sizeof(st0));
    check_world(w, &st0);
    print_stats("built", w, &st0);
    assert_exercised(&st0);
    assert_true(w->rated_indexed > 300 && w->rated_away > 20);
    phase = "the world after the moves";
    world_moves(w);
    memset(&st1, 0, sizeof(st1));
    check_world(w, &st1);
    print_stats("after moves", w, &st1);
    assert_exercised(&st1);
    phase = "the world reloaded from a snapshot";
    reload_world(w);
    memset(&st1, 0, sizeof(st1));
    check_world(w, &st1);
    print_stats("reloaded", w, &st1);
    assert_exercised(&st1);
    world_free(w);
    free(w);
}

static void test_rated_crowds_equal_brute_force(void **state)
{
    (void)state;
    run_world(101, 0.2);
}

static void test_rated_crowds_equal_brute_force_fine_grid(void **state)
{
    (void)state;
    run_world(202, 0.1);
}

/* ---- small cases aimed at one rule each ---- */

static uint64_t w_driver_like(world *w, int type, int len, uint32_t cap, double hlat, double hlon, uint32_t mask)
{
    uint8_t hash[FN_TOKEN_HASH_BYTES] = {0};
    fn_driver d;
    memset(&d, 0, sizeof(d));
    d.id = fn_state_next_driver_id(w->s);
    d.name = "D", d.phone = "+8613900000000", d.plate = "P";
    d.home_lat = hlat, d.home_lon = hlon;
    d.truck_type = (uint8_t)type, d.length_idx = (uint8_t)len, d.capacity_kg = cap, d.provinces_mask = mask;
    hash[0] = 3, memcpy(hash + 1, &d.id, 8);
    fn_rec_driver_create(&w->b, &d, hash);
    w_apply(w, FN_REC_DRIVER_CREATE);
    return d.id;
}

/* Both views equal brute force for every radius and limit, and the best
 * truck is the one expected (want[exact], 0 for any). */
static void expect_first2(world *w, uint64_t lid, const uint64_t want[2])
{
    const fn_state *s = w->s;
    size_t nd = (size_t)fn_state_next_driver_id(s);
    tscore *all = malloc(nd * sizeof(*all)), *sub = malloc(nd * sizeof(*sub));
    fn_match_hit *hits = malloc(MAX_LIMIT * sizeof(*hits));
    fn_match_config cfg = {50.0};
    stats st;
    memset(&st, 0, sizeof(st));
    check_best_rating(s);
    for (int exact = 0; exact <= 1; exact++) {
        check_trucks_load(s, w->seed, fn_state_load(s, lid), exact, &st, all, sub, hits);
        if (!want[exact])
            continue;
        assert_int_equal(fn_match_trucks(s, &cfg, fn_state_load(s, lid), 100, 1, exact, NOW, hits), 1);
        assert_int_equal(hits[0].driver->id, want[exact]);
    }
    free(all);
    free(sub);
    free(hits);
}

static void expect_first(world *w, uint64_t lid, uint64_t want)
{
    expect_first2(w, lid, (const uint64_t[2]){want, want});
}

/* Twelve trucks alike in one spot tie exactly, so the lowest id leads; a
 * rating given while a truck is in the index must reach its entry and the
 * index's best rating at once, in both directions, and so must one given
 * while the truck was offline.  Each truck that changes is filed last in its
 * leaf, so the search meets it when the top place is already taken. */
static void test_rating_change_reorders_a_tie(void **state)
{
    world *w = malloc(sizeof(*w));
    const double plat = 30.5731, plon = 104.0651, hlat = 29.5630, hlon = 106.5516;
    fn_load l = load_template();
    uint64_t lid, bid;
    (void)state;
    phase = "test_rating_change_reorders_a_tie";
    world_init(w, 5, 0.2);
    for (int i = 0; i < 12; i++)
        w_driver_like(w, FN_TT_van, 2, 10000, hlat, hlon, 0);
    for (uint64_t did = 12; did >= 1; did--)
        w_position(w, did, plat, plon, NOW - 5000 + (int64_t)(12 - did));
    l.company_id = 1;
    l.origin.lat = 30.5912, l.origin.lon = 104.0897;
    l.dest.lat = hlat, l.dest.lon = hlon; /* home: the destination part is exactly 1 */
    l.weight_kg = 10000, l.types_mask = 1u << FN_TT_van;
    l.pickup_earliest_at = NOW + 7200, l.pickup_latest_at = NOW + 14400, l.price_fen = 300000;
    lid = w_post(w, &l);
    expect_first(w, lid, 1);
    assert_true(fn_state_best_truck_rating(w->s) == 0.5);

    /* Driver 12 goes on a trip (out of the index and back in, last) ... */
    phase = "rating test: driver 12 back from a trip, unrated";
    bid = w_trip(w, 12, 39.9042, 116.4074);
    assert_true(fn_state_driver(w->s, 12)->lat == plat); /* its position is newer than the delivery */
    expect_first(w, lid, 1);
    /* ... and five stars make it the best. */
    phase = "rating test: driver 12 given 5 stars in the index";
    w_rate(w, bid, FN_ROLE_COMPANY, 5);
    assert_int_equal(w->rated_indexed, 1);
    expect_first(w, lid, 12);
    assert_true(fn_state_best_truck_rating(w->s) == 1.0);
    /* One star more: three on average, the same as unrated, so the tie and
     * the lowest id are back, and five stars are gone from the index. */
    phase = "rating test: driver 12 given 1 star more in the index";
    bid = w_trip(w, 12, 39.9042, 116.4074);
    w_rate(w, bid, FN_ROLE_COMPANY, 1);
    assert_true(fn_rating01(fn_state_driver(w->s, 12)->rating_sum, fn_state_driver(w->s, 12)->rating_count) == 0.5);
    expect_first(w, lid, 1);
    assert_true(fn_state_best_truck_rating(w->s) < 0.5 + 1.0 / 62.0 + 1e-9);

    /* Driver 11 is rated while offline, and leads once it is back. */
    phase = "rating test: driver 11 given 5 stars while offline";
    bid = w_trip(w, 11, 39.9042, 116.4074);
    w_status(w, 11, FN_DS_OFFLINE);
    w_rate(w, bid, FN_ROLE_COMPANY, 5);
    assert_int_equal(w->rated_away, 1);
    expect_first(w, lid, 1);
    assert_true(fn_state_best_truck_rating(w->s) < 0.5 + 1.0 / 62.0 + 1e-9);
    phase = "rating test: driver 11 available again";
    w_status(w, 11, FN_DS_AVAILABLE);
    expect_first(w, lid, 11);
    assert_true(fn_state_best_truck_rating(w->s) == 1.0);
    /* Offline again: the best rating in the index falls back. */
    phase = "rating test: driver 11 offline again";
    w_status(w, 11, FN_DS_OFFLINE);
    expect_first(w, lid, 1);
    assert_true(fn_state_best_truck_rating(w->s) < 0.5 + 1.0 / 62.0 + 1e-9);
    world_free(w);
    free(w);
}

/* A pickup exactly at the centre of a privacy cell where hundreds of
 * five-star trucks of the shortest length stand, spread over several
 * leaves: in the company view each scores exactly what the search's bound
 * for unseen trucks at distance 0 gives, and exactly what its own entry
 * gives, so only "strictly below" may stop the walk or skip a truck, and
 * the k best are the k lowest ids.  The same for the nearest trucks. */
static void test_perfect_crowd_at_the_pickup(void **state)
{
    world *w = malloc(sizeof(*w));
    crowd *c;
    fn_load l = load_template();
    fn_match_config cfg = {50.0};
    fn_match_hit *hits = malloc(MAX_LIMIT * sizeof(*hits));
    fn_truck_hit *near = malloc(MAX_LIMIT * sizeof(*near));
    ndist *nall = malloc(400 * sizeof(*nall));
    fn_grid_stats gt, gl;
    stats st;
    uint64_t order[360], lid;
    (void)state;
    phase = "test_perfect_crowd_at_the_pickup";
    world_init(w, 6, 0.2);
    c = &w->crowds[0];
    crowd_init(c, 22.5431, 114.0579, FN_TT_van, 0, "Guangdong", 23.1291, 113.2644, &w->rng);
    for (int i = 1; i < W_CROWDS; i++)
        w->crowds[i] = *c;
    for (int i = 0; i < 360; i++) {
        double hlat, hlon;
        place(&w->rng, &hlat, &hlon);
        /* 320 with five stars and the destination's province; 40 unrated */
        w_driver_like(w, FN_TT_van, 0, 20000, hlat, hlon, i < 320 ? 1u << c->prov : 0);
        order[i] = (uint64_t)i + 1;
        if (i < 320)
            w_rate(w, w_trip(w, (uint64_t)i + 1, 39.9042, 116.4074), FN_ROLE_COMPANY, 5);
    }
    for (size_t i = 359; i > 0; i--) {
        size_t j = rng_next(&w->rng) % (i + 1);
        uint64_t t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (size_t i = 0; i < 360; i++)
        w_position(w, order[i], cell_deg(c->ry) + FN_PRIVACY_CELL_DEG * rng_range(&w->rng, 0.002, 0.998),
                   cell_deg(c->rx) + FN_PRIVACY_CELL_DEG * rng_range(&w->rng, 0.002, 0.998), NOW - 5000 + (int64_t)i);
    fn_state_grid_stats(w->s, &gt, &gl);
    /* The top cell has split, and the privacy cell straddles the corner of
     * four of its children: the trucks lie in several leaves. */
    assert_true(gt.max_depth >= 1);
    assert_true(fmod(cell_deg(c->ry) - 18.0, 0.05) > 0.02 && fmod(cell_deg(c->rx) - 73.0, 0.05) > 0.02);
    l.company_id = 1;
    l.origin.lat = c->clat, l.origin.lon = c->clon;
    l.dest.lat = c->dlat, l.dest.lon = c->dlon, l.dest.province = (int8_t)c->prov;
    l.weight_kg = 20000, l.types_mask = 1u << FN_TT_van;
    l.pickup_earliest_at = NOW + 7200, l.pickup_latest_at = NOW + 14400, l.price_fen = 5000000;
    lid = w_post(w, &l);
    for (size_t k = 1; k <= 64; k *= 4) {
        size_t n = fn_match_trucks(w->s, &cfg, fn_state_load(w->s, lid), 50, k, 0, NOW, hits);
        assert_int_equal(n, k);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(hits[i].driver->id, i + 1);
            assert_true(hits[i].score == hits[0].score && hits[i].deadhead_km == 0.0);
        }
    }
    expect_first2(w, lid, (const uint64_t[2]){1, 0});
    {
        /* Snapped, every truck is 0 km from the centre: the lowest ids. */
        fn_truck_query q = {c->clat, c->clon, 1.0, 10, 0, -1, 0, 0, 0};
        size_t n = fn_state_trucks_near(w->s, &q, near);
        assert_int_equal(n, 10);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(near[i].driver->id, i + 1);
        assert_true(near[9].distance_km == 0.0);
    }
    memset(&st, 0, sizeof(st));
    for (int exact = 0; exact <= 1; exact++)
        for (int rep = 0; rep < 4; rep++) {
            check_near_point(w, c->clat, c->clon, exact, &w->rng, &st, nall, near);
            check_near_point(w, c->p0lat, c->p0lon, exact, &w->rng, &st, nall, near);
        }
    assert_true(st.near_ties[0] > 0);
    free(hits);
    free(near);
    free(nall);
    world_free(w);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trucks_equal_brute_force),
        cmocka_unit_test(test_loads_equal_brute_force),
        cmocka_unit_test(test_toward_home_prefers_the_way_home),
        cmocka_unit_test(test_rating_change_reorders_a_tie),
        cmocka_unit_test(test_perfect_crowd_at_the_pickup),
        cmocka_unit_test(test_rated_crowds_equal_brute_force),
        cmocka_unit_test(test_rated_crowds_equal_brute_force_fine_grid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
