/*
 * test_match_match.c — ranked matches equal a brute-force scan: the bounded
 * searches in match.c must return exactly the top k of scoring every
 * candidate, in order, and every hit must pass every hard filter
 * (re-checked here independently of match.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/geo.h"
#include "core/records.h"
#include "core/state.h"
#include "match/match.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trucks_equal_brute_force),
        cmocka_unit_test(test_loads_equal_brute_force),
        cmocka_unit_test(test_toward_home_prefers_the_way_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
