/*
 * test_core_state.c — unit tests for src/core/apply.c, state.c and
 * state_snap.c: the marketplace's state machine driven only through
 * fn_state_apply() with records made by the records.h encoders (exactly as
 * the engine and recovery drive it), the reads on it, and the snapshot
 * stream.
 *
 * Covered: member creation with sequential ids and tokens; positions
 * (stale ones skipped and counted); truck queries against brute force,
 * exact and privacy-snapped; driver status and the truck grid; a
 * load's whole life (open, booked, in transit, delivered, rated) with the
 * grids, counters and derived "expired" status along the way; booking
 * cancellation; every transition the state must refuse; truncated and
 * over-long records of every type; and a snapshot round trip of a varied
 * state compared field by field, counter by counter and query by query,
 * before and after applying more records to both copies.
 */
#include "auth/token.h"
#include "common/buf.h"
#include "common/fn.h"
#include "common/geo.h"
#include "core/model.h"
#include "core/records.h"
#include "core/state.h"
#include "store/snapfile.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#define T0 INT64_C(1764072000) /* 2025-11-25 12:00:00 UTC */

/* ---- helpers: states, members, records -------------------------------- */

static const struct city {
    double lat, lon;
    const char *name;
    int province;
} cities[] = {
    {39.9042, 116.4074, "北京", 0},   {31.2304, 121.4737, "上海", 8},  {23.1291, 113.2644, "广州", 18},
    {30.5728, 104.0668, "成都", 22},  {43.8256, 87.6168, "乌鲁木齐", 30}, {45.8038, 126.5350, "哈尔滨", 7},
    {34.3416, 108.9398, "西安", 26},  {22.5431, 114.0579, "深圳", 18},
};
#define NCITIES FN_ARRAY_LEN(cities)

/* A state over mainland China; cell_deg 1.0 keeps the grids tiny for tests
 * that make thousands of states. */
static fn_state *new_state(double cell_deg)
{
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, cell_deg};
    fn_state *s = fn_state_new(&cfg);
    assert_non_null(s);
    return s;
}

/* The token hash a member's create record carries: any 16 bytes do, as long
 * as every member's differ. */
static void member_hash(int role, uint64_t id, uint8_t out[FN_TOKEN_HASH_BYTES])
{
    uint64_t seed = fn_principal(role, id), a = rng_next(&seed), b = rng_next(&seed);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

static int apply_buf(fn_state *s, uint8_t type, fn_buf *b)
{
    int rc = fn_state_apply(s, type, b->data, (uint32_t)b->len);
    fn_buf_free(b);
    return rc;
}

static fn_company company_spec(uint64_t id)
{
    fn_company c;
    memset(&c, 0, sizeof(c));
    c.id = id;
    c.name = "上海远航物流有限公司";
    c.city = "上海";
    c.province = 8;
    c.kind = FN_CK_SHIPPER;
    c.created_at = T0;
    return c;
}

static int company_create(fn_state *s, const fn_company *c)
{
    uint8_t h[FN_TOKEN_HASH_BYTES];
    fn_buf b;
    member_hash(FN_ROLE_COMPANY, c->id, h);
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_company_create(&b, c, h), 0);
    return apply_buf(s, FN_REC_COMPANY_CREATE, &b);
}

static int company_add(fn_state *s, uint64_t id)
{
    fn_company c = company_spec(id);
    return company_create(s, &c);
}

static fn_driver driver_spec(uint64_t id)
{
    fn_driver d;
    memset(&d, 0, sizeof(d));
    d.id = id;
    d.name = "张伟";
    d.phone = "13900001111";
    d.plate = "京A12345";
    d.home_lat = 39.95;
    d.home_lon = 116.30;
    d.truck_type = FN_TT_van;
    d.length_idx = 5; /* 9.6 m */
    d.capacity_kg = 20000;
    d.volume_l = 50000;
    d.provinces_mask = 0x5;
    d.created_at = T0 + 1;
    return d;
}

static int driver_create(fn_state *s, const fn_driver *d)
{
    uint8_t h[FN_TOKEN_HASH_BYTES];
    fn_buf b;
    member_hash(FN_ROLE_DRIVER, d->id, h);
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_driver_create(&b, d, h), 0);
    return apply_buf(s, FN_REC_DRIVER_CREATE, &b);
}

static int driver_add(fn_state *s, uint64_t id)
{
    fn_driver d = driver_spec(id);
    return driver_create(s, &d);
}

static int gateway_add(fn_state *s, uint64_t id, const char *name, int64_t at)
{
    fn_gateway g = {id, name, at};
    uint8_t h[FN_TOKEN_HASH_BYTES];
    fn_buf b;
    member_hash(FN_ROLE_GATEWAY, id, h);
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_gateway_create(&b, &g, h), 0);
    return apply_buf(s, FN_REC_GATEWAY_CREATE, &b);
}

static int positions(fn_state *s, const fn_position *p, uint32_t n)
{
    fn_buf b;
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_positions(&b, p, n), 0);
    assert_int_equal(b.len, 4 + (size_t)n * FN_POSITION_REC_BYTES);
    return apply_buf(s, FN_REC_POSITIONS, &b);
}

static int position1(fn_state *s, uint64_t driver, double lat, double lon, int64_t ts)
{
    fn_position p = {driver, lat, lon, ts, 456, 1800};
    return positions(s, &p, 1);
}

static int driver_status(fn_state *s, uint64_t driver, int status, int64_t ts)
{
    fn_buf b;
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_driver_status(&b, driver, status, ts), 0);
    return apply_buf(s, FN_REC_DRIVER_STATUS, &b);
}

/* A load from Beijing to Shanghai that a 9.6 m van can carry. */
static fn_load load_spec(uint64_t id, uint64_t company)
{
    fn_load l;
    memset(&l, 0, sizeof(l));
    l.id = id;
    l.company_id = company;
    l.origin = (fn_place){39.9042, 116.4074, "北京", 0};
    l.dest = (fn_place){31.2304, 121.4737, "上海", 8};
    l.cargo_kind = "钢材";
    l.contact_name = "王经理";
    l.contact_phone = "13800138000";
    l.notes = "请提前一小时联系 — bring straps";
    l.weight_kg = 12000;
    l.volume_l = 30000;
    l.types_mask = (uint16_t)(1u << FN_TT_van | 1u << FN_TT_high_rail);
    l.min_length_idx = 3;
    l.pickup_earliest_at = T0 + 3600;
    l.pickup_latest_at = T0 + 86400;
    l.expires_at = 0;
    l.created_at = T0 + 2;
    l.price_fen = 350000;
    return l;
}

static int load_create(fn_state *s, const fn_load *l)
{
    fn_buf b;
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_load_create(&b, l), 0);
    return apply_buf(s, FN_REC_LOAD_CREATE, &b);
}

static int load_add(fn_state *s, uint64_t id, uint64_t company)
{
    fn_load l = load_spec(id, company);
    return load_create(s, &l);
}

static int load_cancel(fn_state *s, uint64_t load, int64_t ts)
{
    fn_buf b;
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_load_cancel(&b, load, ts), 0);
    return apply_buf(s, FN_REC_LOAD_CANCEL, &b);
}

static int book(fn_state *s, uint64_t id, uint64_t load, uint64_t driver, int64_t ts)
{
    fn_booking k;
    fn_buf b;
    memset(&k, 0, sizeof(k));
    k.id = id;
    k.load_id = load;
    k.driver_id = driver;
    k.booked_at = ts;
    k.deadhead_km = 12.25 + (double)id;
    k.loaded_km = 1378.5 + (double)load;
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_book(&b, &k), 0);
    return apply_buf(s, FN_REC_BOOK, &b);
}

static int trip_event(fn_state *s, uint8_t type, uint64_t booking, int64_t ts)
{
    fn_buf b;
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_booking_event(&b, booking, ts), 0);
    return apply_buf(s, type, &b);
}

static int pickup(fn_state *s, uint64_t booking, int64_t ts) { return trip_event(s, FN_REC_PICKUP, booking, ts); }
static int deliver(fn_state *s, uint64_t booking, int64_t ts) { return trip_event(s, FN_REC_DELIVER, booking, ts); }

static int booking_cancel(fn_state *s, uint64_t booking, int64_t ts, int by)
{
    fn_buf b;
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_booking_cancel(&b, booking, ts, by), 0);
    return apply_buf(s, FN_REC_BOOKING_CANCEL, &b);
}

static int rate(fn_state *s, uint64_t booking, int by, int stars, const char *comment, int64_t ts)
{
    fn_buf b;
    fn_buf_init(&b, 0);
    assert_int_equal(fn_rec_rating(&b, booking, by, stars, comment, ts), 0);
    return apply_buf(s, FN_REC_RATING, &b);
}

static fn_state_counts counts_of(const fn_state *s)
{
    fn_state_counts c;
    fn_state_counts_get(s, &c);
    return c;
}

/* Whether driver id is among the available trucks within radius of a point. */
static int truck_listed(const fn_state *s, uint64_t driver, double lat, double lon, double radius_km)
{
    fn_truck_query q = {lat, lon, radius_km, 64, 0, -1, 0, 0, 1};
    fn_truck_hit hits[64];
    size_t n = fn_state_trucks_near(s, &q, hits);
    for (size_t i = 0; i < n; i++)
        if (hits[i].driver->id == driver)
            return 1;
    return 0;
}

static int load_listed(const fn_state *s, uint64_t load, double lat, double lon, double radius_km, int64_t now)
{
    fn_load_hit hits[64];
    size_t n = fn_state_loads_near(s, lat, lon, radius_km, 64, now, hits);
    for (size_t i = 0; i < n; i++)
        if (hits[i].load->id == load)
            return 1;
    return 0;
}

static void assert_dbl_same(double a, double b) { assert_memory_equal(&a, &b, sizeof(double)); }

static void assert_token(const fn_state *s, int role, uint64_t id)
{
    uint8_t h[FN_TOKEN_HASH_BYTES];
    uint64_t p = 0;
    member_hash(role, id, h);
    assert_int_equal(fn_state_token_lookup(s, h, &p), 1);
    assert_true(p == fn_principal(role, id));
}

/* ---- members ---------------------------------------------------------- */

static void test_create_sequential_ids(void **state)
{
    fn_state *s = new_state(0.1);
    fn_state_counts c;
    const fn_company *co;
    const fn_driver *d;
    const fn_gateway *g;
    fn_company cs = company_spec(1);
    fn_driver ds = driver_spec(1);
    (void)state;

    assert_int_equal(fn_state_next_company_id(s), 1);
    assert_int_equal(fn_state_next_driver_id(s), 1);
    assert_int_equal(fn_state_next_gateway_id(s), 1);
    assert_int_equal(fn_state_next_load_id(s), 1);
    assert_int_equal(fn_state_next_booking_id(s), 1);
    assert_null(fn_state_company(s, 0));
    assert_null(fn_state_company(s, 1));

    /* Companies: only the next id is accepted. */
    assert_int_equal(company_add(s, 2), FN_ECORRUPT);
    assert_int_equal(company_add(s, 0), FN_ECORRUPT);
    assert_int_equal(fn_state_next_company_id(s), 1);
    assert_null(fn_state_company(s, 2));
    cs.name = "Émile Transports — 北京分公司";
    cs.city = "";
    cs.province = -1;
    cs.kind = FN_CK_BROKER;
    cs.created_at = T0 + 5;
    assert_int_equal(company_create(s, &cs), 0);
    assert_int_equal(company_add(s, 1), FN_ECORRUPT);
    assert_int_equal(company_add(s, 3), FN_ECORRUPT);
    assert_int_equal(company_add(s, 2), 0);
    assert_int_equal(fn_state_next_company_id(s), 3);
    co = fn_state_company(s, 1);
    assert_non_null(co);
    assert_int_equal(co->id, 1);
    assert_string_equal(co->name, "Émile Transports — 北京分公司");
    assert_string_equal(co->city, "");
    assert_int_equal(co->province, -1);
    assert_int_equal(co->kind, FN_CK_BROKER);
    assert_true(co->created_at == T0 + 5);
    assert_int_equal(co->rating_sum + co->rating_count + co->loads_posted + co->loads_booked + co->loads_delivered +
                         co->loads_cancelled,
                     0);
    assert_string_equal(fn_state_company(s, 2)->city, "上海");
    assert_int_equal(fn_state_company(s, 2)->province, 8);

    /* Drivers. */
    assert_int_equal(driver_add(s, 2), FN_ECORRUPT);
    assert_int_equal(fn_state_next_driver_id(s), 1);
    ds.truck_type = FN_TT_lowbed;
    ds.length_idx = FN_TRUCK_LENGTH_COUNT - 1;
    ds.capacity_kg = 4000000000u;
    ds.volume_l = 0;
    ds.provinces_mask = 0x7fffffffu;
    ds.home_lat = -0.0;
    assert_int_equal(driver_create(s, &ds), 0);
    assert_int_equal(driver_add(s, 1), FN_ECORRUPT);
    assert_int_equal(driver_add(s, 2), 0);
    assert_int_equal(fn_state_next_driver_id(s), 3);
    d = fn_state_driver(s, 1);
    assert_non_null(d);
    assert_int_equal(d->id, 1);
    assert_string_equal(d->name, "张伟");
    assert_string_equal(d->phone, "13900001111");
    assert_string_equal(d->plate, "京A12345");
    assert_dbl_same(d->home_lat, -0.0);
    assert_dbl_same(d->home_lon, 116.30);
    assert_int_equal(d->truck_type, FN_TT_lowbed);
    assert_int_equal(d->length_idx, FN_TRUCK_LENGTH_COUNT - 1);
    assert_int_equal(d->capacity_kg, 4000000000u);
    assert_int_equal(d->volume_l, 0);
    assert_int_equal(d->provinces_mask, 0x7fffffffu);
    assert_true(d->created_at == T0 + 1);
    /* A new driver is available, has no position, and is not in the grid. */
    assert_int_equal(d->status, FN_DS_AVAILABLE);
    assert_true(d->pos_ts == 0);
    assert_int_equal(d->heading_ddeg, 0xffff);
    assert_true(d->booking_id == 0);
    assert_false(truck_listed(s, 1, 39.95, 116.30, 1e6));

    /* Gateways. */
    assert_int_equal(gateway_add(s, 2, "gw", T0), FN_ECORRUPT);
    assert_int_equal(gateway_add(s, 1, "北京GPS网关", T0 + 7), 0);
    assert_int_equal(gateway_add(s, 1, "again", T0), FN_ECORRUPT);
    g = fn_state_gateway(s, 1);
    assert_non_null(g);
    assert_int_equal(g->id, 1);
    assert_string_equal(g->name, "北京GPS网关");
    assert_true(g->created_at == T0 + 7);
    assert_null(fn_state_gateway(s, 2));
    assert_int_equal(fn_state_next_gateway_id(s), 2);

    c = counts_of(s);
    assert_int_equal(c.companies, 2);
    assert_int_equal(c.drivers, 2);
    assert_int_equal(c.gateways, 1);
    assert_int_equal(c.drivers_by_status[FN_DS_AVAILABLE], 2);
    assert_int_equal(c.drivers_by_status[FN_DS_OFFLINE], 0);
    assert_int_equal(c.loads + c.bookings, 0);

    /* Tokens: each create's hash resolves to its member; others do not. */
    assert_token(s, FN_ROLE_COMPANY, 1);
    assert_token(s, FN_ROLE_COMPANY, 2);
    assert_token(s, FN_ROLE_DRIVER, 1);
    assert_token(s, FN_ROLE_DRIVER, 2);
    assert_token(s, FN_ROLE_GATEWAY, 1);
    {
        uint8_t h[FN_TOKEN_HASH_BYTES];
        uint64_t p = 0;
        member_hash(FN_ROLE_COMPANY, 3, h);
        assert_int_equal(fn_state_token_lookup(s, h, &p), 0);
        member_hash(FN_ROLE_GATEWAY, 2, h);
        assert_int_equal(fn_state_token_lookup(s, h, &p), 0);
    }
    fn_state_free(s);
    fn_state_free(NULL);
}

/* Loads whose fields are out of range are refused at replay, not trusted. */
static void test_load_bad_fields(void **state)
{
    fn_state *s = new_state(0.1);
    fn_load l;
    (void)state;
    assert_int_equal(company_add(s, 1), 0);
    l = load_spec(1, 1);
    l.dest.province = FN_PROVINCE_COUNT;
    assert_int_equal(load_create(s, &l), FN_ECORRUPT);
    fn_state_free(s);
    s = new_state(0.1);
    assert_int_equal(company_add(s, 1), 0);
    l = load_spec(1, 1);
    l.types_mask = 0;
    assert_int_equal(load_create(s, &l), FN_ECORRUPT);
    fn_state_free(s);
    s = new_state(0.1);
    assert_int_equal(company_add(s, 1), 0);
    l = load_spec(1, 1);
    l.min_length_idx = FN_TRUCK_LENGTH_COUNT;
    assert_int_equal(load_create(s, &l), FN_ECORRUPT);
    fn_state_free(s);
}

static void test_driver_bad_truck(void **state)
{
    fn_state *s;
    fn_driver d = driver_spec(1);
    (void)state;
    d.truck_type = FN_TT__COUNT;
    s = new_state(1.0);
    assert_int_equal(driver_create(s, &d), FN_ECORRUPT);
    fn_state_free(s);
    d = driver_spec(1);
    d.length_idx = FN_TRUCK_LENGTH_COUNT;
    s = new_state(1.0);
    assert_int_equal(driver_create(s, &d), FN_ECORRUPT);
    fn_state_free(s);
}

/* ---- positions and driver status -------------------------------------- */

static void test_positions(void **state)
{
    fn_state *s = new_state(0.1);
    fn_state_counts c;
    const fn_driver *d;
    fn_position batch[3] = {
        {1, 39.9042, 116.4074, T0 + 100, 655, 900},
        {2, 31.2304, 121.4737, T0 + 100, 0, 0xffff},
        {3, 23.1291, 113.2644, T0 + 50, 1000, 3599},
    };
    (void)state;
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(driver_add(s, i), 0);
    assert_int_equal(positions(s, batch, 3), 0);
    c = counts_of(s);
    assert_int_equal(c.positions_applied, 3);
    assert_int_equal(c.positions_stale, 0);
    d = fn_state_driver(s, 1);
    assert_dbl_same(d->lat, 39.9042);
    assert_dbl_same(d->lon, 116.4074);
    assert_true(d->pos_ts == T0 + 100);
    assert_int_equal(d->speed_dkmh, 655);
    assert_int_equal(d->heading_ddeg, 900);
    assert_int_equal(fn_state_driver(s, 2)->heading_ddeg, 0xffff);
    assert_int_equal(fn_state_driver(s, 3)->heading_ddeg, 3599);
    assert_true(truck_listed(s, 1, 39.9, 116.4, 5));
    assert_false(truck_listed(s, 2, 39.9, 116.4, 5));
    assert_true(truck_listed(s, 2, 31.23, 121.47, 5));

    /* Older than the last position: skipped and counted. */
    assert_int_equal(position1(s, 1, 31.0, 121.0, T0 + 99), 0);
    d = fn_state_driver(s, 1);
    assert_dbl_same(d->lat, 39.9042);
    assert_true(d->pos_ts == T0 + 100);
    assert_int_equal(d->speed_dkmh, 655);
    c = counts_of(s);
    assert_int_equal(c.positions_applied, 3);
    assert_int_equal(c.positions_stale, 1);
    assert_true(truck_listed(s, 1, 39.9, 116.4, 5));

    /* Within one batch, order matters: newer then older. */
    {
        fn_position b2[2] = {{1, 30.5728, 104.0668, T0 + 200, 1, 2}, {1, 43.8, 87.6, T0 + 150, 3, 4}};
        assert_int_equal(positions(s, b2, 2), 0);
    }
    d = fn_state_driver(s, 1);
    assert_dbl_same(d->lat, 30.5728);
    assert_true(d->pos_ts == T0 + 200);
    c = counts_of(s);
    assert_int_equal(c.positions_applied, 4);
    assert_int_equal(c.positions_stale, 2);
    /* The grid moved it. */
    assert_false(truck_listed(s, 1, 39.9, 116.4, 50));
    assert_true(truck_listed(s, 1, 30.57, 104.07, 5));

    /* An empty batch is fine and changes nothing. */
    assert_int_equal(positions(s, NULL, 0), 0);
    c = counts_of(s);
    assert_int_equal(c.positions_applied + c.positions_stale, 6);

    /* Snapped and exact queries: the snapped one shows the cell centre and
     * ranks by it. */
    {
        fn_truck_query q = {30.5728, 104.0668, 10, 4, 0, -1, 0, 0, 0};
        fn_truck_hit h[4];
        double sl, so;
        assert_int_equal(fn_state_trucks_near(s, &q, h), 1);
        fn_privacy_snap(30.5728, 104.0668, &sl, &so);
        assert_dbl_same(h[0].lat, sl);
        assert_dbl_same(h[0].lon, so);
        assert_dbl_same(h[0].distance_km, fn_haversine_km(30.5728, 104.0668, sl, so));
        assert_true(h[0].distance_km > 0);
        q.exact = 1;
        assert_int_equal(fn_state_trucks_near(s, &q, h), 1);
        assert_dbl_same(h[0].lat, 30.5728);
        assert_dbl_same(h[0].distance_km, 0.0);
        q.limit = 0;
        assert_int_equal(fn_state_trucks_near(s, &q, h), 0);
    }
    fn_state_free(s);

    /* A position for a driver that does not exist: the record is corrupt. */
    s = new_state(1.0);
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(position1(s, 2, 30, 110, T0), FN_ECORRUPT);
    fn_state_free(s);
    /* A count that disagrees with the bytes. */
    s = new_state(1.0);
    assert_int_equal(driver_add(s, 1), 0);
    {
        fn_position p = {1, 30, 110, T0, 0, 0};
        fn_buf b;
        fn_buf_init(&b, 0);
        fn_rec_positions(&b, &p, 1);
        fn_le32_put(b.data, 2);
        assert_int_equal(apply_buf(s, FN_REC_POSITIONS, &b), FN_ECORRUPT);
        fn_buf_init(&b, 0);
        fn_rec_positions(&b, &p, 1);
        fn_le32_put(b.data, 0);
        assert_int_equal(apply_buf(s, FN_REC_POSITIONS, &b), FN_ECORRUPT);
    }
    fn_state_free(s);
}

static void test_truck_filters(void **state)
{
    fn_state *s = new_state(0.1);
    fn_truck_query q = {39.9, 116.4, 100, 16, 0, -1, 0, 0, 1};
    fn_truck_hit h[16];
    size_t n;
    (void)state;
    /* 1: van 9.6 m 20 t 50 m3; 2: flatbed 4.2 m 5 t; 3: van 13 m 30 t, volume not stated. */
    {
        fn_driver d = driver_spec(1);
        assert_int_equal(driver_create(s, &d), 0);
        d = driver_spec(2);
        d.truck_type = FN_TT_flatbed;
        d.length_idx = 0;
        d.capacity_kg = 5000;
        d.volume_l = 0;
        assert_int_equal(driver_create(s, &d), 0);
        d = driver_spec(3);
        d.length_idx = 7;
        d.capacity_kg = 30000;
        d.volume_l = 0;
        assert_int_equal(driver_create(s, &d), 0);
    }
    assert_int_equal(position1(s, 1, 39.91, 116.41, T0), 0);
    assert_int_equal(position1(s, 2, 39.92, 116.42, T0), 0);
    assert_int_equal(position1(s, 3, 39.93, 116.43, T0), 0);
    n = fn_state_trucks_near(s, &q, h);
    assert_int_equal(n, 3);
    assert_int_equal(h[0].driver->id, 1); /* nearest first */
    assert_int_equal(h[1].driver->id, 2);
    assert_int_equal(h[2].driver->id, 3);
    assert_true(h[0].distance_km < h[1].distance_km && h[1].distance_km < h[2].distance_km);
    q.types_mask = 1u << FN_TT_van;
    assert_int_equal(fn_state_trucks_near(s, &q, h), 2);
    assert_int_equal(h[1].driver->id, 3);
    q.types_mask = 0;
    q.min_length_idx = 6;
    assert_int_equal(fn_state_trucks_near(s, &q, h), 1);
    assert_int_equal(h[0].driver->id, 3);
    q.min_length_idx = -1;
    q.min_capacity_kg = 20000;
    assert_int_equal(fn_state_trucks_near(s, &q, h), 2);
    q.min_capacity_kg = 0;
    q.min_volume_l = 40000; /* a truck without a stated volume does not qualify */
    assert_int_equal(fn_state_trucks_near(s, &q, h), 1);
    assert_int_equal(h[0].driver->id, 1);
    q.min_volume_l = 0;
    q.limit = 2;
    assert_int_equal(fn_state_trucks_near(s, &q, h), 2);
    q.limit = 16;
    q.radius_km = fn_haversine_km(39.9, 116.4, 39.92, 116.42); /* inclusive */
    assert_int_equal(fn_state_trucks_near(s, &q, h), 2);
    fn_state_free(s);
}

/* fn_state_trucks_near against brute force over the getters: status,
 * position, every filter, exact and privacy-snapped ranking, ties by driver
 * id, limits.  A fine grid over a small area puts many ring boundaries
 * within a query's reach.  Grid cells that are not aligned with the privacy
 * cells let a snapped point fall in another grid cell than the truck, which
 * only the search's slack makes up for (with aligned cells, as in the
 * default configuration, it never does). */
static int truck_hit_cmp(const void *a, const void *b)
{
    const fn_truck_hit *x = a, *y = b;
    if (x->distance_km != y->distance_km)
        return x->distance_km < y->distance_km ? -1 : 1;
    return x->driver->id < y->driver->id ? -1 : x->driver->id > y->driver->id;
}

static void trucks_brute_force_round(double cell_deg, double origin_offset_deg, uint64_t seed)
{
    enum { NDRV = 2000, NQ = 400 };
    const fn_state_config cfg = {{30.0 + origin_offset_deg, 32.5, 120.0 + origin_offset_deg, 123.0}, 1.3, cell_deg};
    fn_state *s = fn_state_new(&cfg);
    fn_truck_hit *got = malloc(NDRV * sizeof(*got)), *want = malloc(NDRV * sizeof(*want));
    uint64_t r = seed;
    size_t nonempty = 0, full = 0;
    assert_non_null(got);
    assert_non_null(want);
    for (uint64_t id = 1; id <= NDRV; id++) {
        fn_driver d = driver_spec(id);
        d.truck_type = (uint8_t)(rng_next(&r) % FN_TT__COUNT);
        d.length_idx = (uint8_t)(rng_next(&r) % FN_TRUCK_LENGTH_COUNT);
        d.capacity_kg = 1000 + (uint32_t)(rng_next(&r) % 30000);
        d.volume_l = rng_next(&r) % 3 ? (uint32_t)(rng_next(&r) % 80000) : 0;
        assert_int_equal(driver_create(s, &d), 0);
        if (id % 13 == 0)
            continue; /* never reports */
        if (id % 29 == 0) {
            /* Two drivers at exactly the same spot: ties go by id. */
            const fn_driver *prev = fn_state_driver(s, id - 1);
            if (prev->pos_ts)
                assert_int_equal(position1(s, id, prev->lat, prev->lon, T0), 0);
            continue;
        }
        assert_int_equal(position1(s, id, 31.23 + rng_range(&r, -0.6, 0.6), 121.47 + rng_range(&r, -0.6, 0.6), T0), 0);
        if (id % 11 == 0)
            assert_int_equal(driver_status(s, id, FN_DS_OFFLINE, T0 + 1), 0);
    }
    for (int qi = 0; qi < NQ; qi++) {
        fn_truck_query q = {31.23 + rng_range(&r, -0.5, 0.5), 121.47 + rng_range(&r, -0.5, 0.5),
                            rng_range(&r, 0.0, rng_next(&r) % 4 ? 12.0 : 60.0), 1 + rng_next(&r) % 30, 0, -1, 0, 0,
                            (int)(rng_next(&r) % 2)};
        size_t ng, nw = 0;
        switch (rng_next(&r) % 6) {
        case 0: q.types_mask = (uint16_t)(rng_next(&r) & 0x0fff); break;
        case 1: q.min_length_idx = (int)(rng_next(&r) % FN_TRUCK_LENGTH_COUNT); break;
        case 2: q.min_capacity_kg = (uint32_t)(rng_next(&r) % 30000); break;
        case 3: q.min_volume_l = (uint32_t)(rng_next(&r) % 80000); break;
        default: break;
        }
        ng = fn_state_trucks_near(s, &q, got);
        for (uint64_t id = 1; id <= NDRV; id++) {
            const fn_driver *d = fn_state_driver(s, id);
            double lat = d->lat, lon = d->lon, dist;
            if (d->status != FN_DS_AVAILABLE || d->pos_ts == 0)
                continue;
            if ((q.types_mask && !(q.types_mask & (1u << d->truck_type))) ||
                (q.min_length_idx >= 0 && d->length_idx < q.min_length_idx) || d->capacity_kg < q.min_capacity_kg ||
                (q.min_volume_l && d->volume_l < q.min_volume_l))
                continue;
            if (!q.exact)
                fn_privacy_snap(d->lat, d->lon, &lat, &lon);
            dist = fn_haversine_km(q.lat, q.lon, lat, lon);
            if (dist <= q.radius_km)
                want[nw++] = (fn_truck_hit){d, dist, lat, lon};
        }
        qsort(want, nw, sizeof(*want), truck_hit_cmp);
        nw = FN_MIN(nw, q.limit);
        if (ng != nw)
            fail_msg("query %d (cell %.2f, exact %d, radius %.3f, limit %zu): %zu trucks, brute force %zu", qi,
                     cell_deg, q.exact, q.radius_km, q.limit, ng, nw);
        for (size_t i = 0; i < ng; i++) {
            if (got[i].driver != want[i].driver)
                fail_msg("query %d (cell %.2f, exact %d, radius %.3f, limit %zu): rank %zu is driver %" PRIu64
                         ", brute force %" PRIu64,
                         qi, cell_deg, q.exact, q.radius_km, q.limit, i, got[i].driver->id, want[i].driver->id);
            assert_dbl_same(got[i].distance_km, want[i].distance_km);
            assert_dbl_same(got[i].lat, want[i].lat);
            assert_dbl_same(got[i].lon, want[i].lon);
        }
        nonempty += nw > 0;
        full += nw == q.limit;
    }
    assert_true(nonempty > NQ / 2);
    assert_true(full > NQ / 4);
    free(got);
    free(want);
    fn_state_free(s);
}

static void test_trucks_near_brute_force(void **state)
{
    (void)state;
    trucks_brute_force_round(0.013, 0.0, 1);
    trucks_brute_force_round(0.037, 0.0, 2);
    trucks_brute_force_round(0.02, 0.0071, 3);
    trucks_brute_force_round(0.1, 0.0, 4); /* aligned, like the default */
}

static void test_driver_status(void **state)
{
    fn_state *s = new_state(0.1);
    fn_state_counts c;
    (void)state;
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(driver_add(s, 2), 0);
    assert_int_equal(position1(s, 1, 39.9, 116.4, T0), 0);

    assert_int_equal(driver_status(s, 1, FN_DS_OFFLINE, T0 + 1), 0);
    assert_int_equal(fn_state_driver(s, 1)->status, FN_DS_OFFLINE);
    assert_false(truck_listed(s, 1, 39.9, 116.4, 10));
    c = counts_of(s);
    assert_int_equal(c.drivers_by_status[FN_DS_OFFLINE], 1);
    assert_int_equal(c.drivers_by_status[FN_DS_AVAILABLE], 1);

    /* A position while offline is kept but does not list the truck. */
    assert_int_equal(position1(s, 1, 39.95, 116.45, T0 + 2), 0);
    assert_false(truck_listed(s, 1, 39.9, 116.4, 50));
    assert_int_equal(driver_status(s, 1, FN_DS_AVAILABLE, T0 + 3), 0);
    assert_true(truck_listed(s, 1, 39.95, 116.45, 1));
    c = counts_of(s);
    assert_int_equal(c.drivers_by_status[FN_DS_OFFLINE], 0);
    assert_int_equal(c.drivers_by_status[FN_DS_AVAILABLE], 2);

    /* Available without a position: not listed. */
    assert_int_equal(driver_status(s, 2, FN_DS_OFFLINE, T0 + 4), 0);
    assert_int_equal(driver_status(s, 2, FN_DS_AVAILABLE, T0 + 5), 0);
    assert_false(truck_listed(s, 2, 39.95, 116.30, 1e6));

    /* Status on_trip is set by booking only; other values are corrupt. */
    assert_int_equal(driver_status(s, 2, FN_DS_ON_TRIP, T0 + 6), FN_ECORRUPT);
    fn_state_free(s);
    s = new_state(1.0);
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(driver_status(s, 1, 7, T0), FN_ECORRUPT);
    fn_state_free(s);
    s = new_state(1.0);
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(driver_status(s, 2, FN_DS_OFFLINE, T0), FN_ECORRUPT);
    fn_state_free(s);
}

/* ---- a load's life ---------------------------------------------------- */

static void test_load_lifecycle(void **state)
{
    fn_state *s = new_state(0.1);
    fn_state_counts c;
    fn_load ls = load_spec(1, 1);
    const fn_load *l;
    const fn_driver *d;
    const fn_booking *k;
    const fn_company *co;
    (void)state;

    assert_int_equal(company_add(s, 1), 0);
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(driver_add(s, 2), 0);
    assert_int_equal(position1(s, 1, 39.95, 116.45, T0), 0);
    assert_int_equal(position1(s, 2, 39.96, 116.46, T0), 0);

    /* Create: open, in the open-loads grid. */
    assert_int_equal(load_add(s, 2, 1), FN_ECORRUPT);
    assert_int_equal(fn_state_next_load_id(s), 1);
    assert_int_equal(load_create(s, &ls), 0);
    assert_int_equal(fn_state_next_load_id(s), 2);
    l = fn_state_load(s, 1);
    assert_non_null(l);
    assert_int_equal(l->id, 1);
    assert_int_equal(l->company_id, 1);
    assert_dbl_same(l->origin.lat, ls.origin.lat);
    assert_dbl_same(l->origin.lon, ls.origin.lon);
    assert_string_equal(l->origin.city, "北京");
    assert_int_equal(l->origin.province, 0);
    assert_dbl_same(l->dest.lat, ls.dest.lat);
    assert_dbl_same(l->dest.lon, ls.dest.lon);
    assert_string_equal(l->dest.city, "上海");
    assert_int_equal(l->dest.province, 8);
    assert_string_equal(l->cargo_kind, "钢材");
    assert_string_equal(l->contact_name, "王经理");
    assert_string_equal(l->contact_phone, "13800138000");
    assert_string_equal(l->notes, ls.notes);
    assert_int_equal(l->weight_kg, 12000);
    assert_int_equal(l->volume_l, 30000);
    assert_int_equal(l->types_mask, ls.types_mask);
    assert_int_equal(l->min_length_idx, 3);
    assert_true(l->pickup_earliest_at == T0 + 3600);
    assert_true(l->pickup_latest_at == T0 + 86400);
    assert_true(l->expires_at == 0);
    assert_true(l->created_at == T0 + 2);
    assert_true(l->price_fen == 350000);
    assert_true(l->booking_id == 0);
    assert_int_equal(l->status, FN_LS_OPEN);
    assert_int_equal(fn_load_status(l, T0), FN_LS_OPEN);
    assert_int_equal(fn_state_company(s, 1)->loads_posted, 1);
    c = counts_of(s);
    assert_int_equal(c.loads, 1);
    assert_int_equal(c.loads_by_status[FN_LS_OPEN], 1);
    {
        fn_load_hit h[4];
        assert_int_equal(fn_state_loads_near(s, 39.95, 116.45, 20, 4, T0, h), 1);
        assert_ptr_equal(h[0].load, l);
        assert_dbl_same(h[0].distance_km, fn_haversine_km(39.95, 116.45, ls.origin.lat, ls.origin.lon));
        assert_int_equal(fn_state_loads_near(s, 39.95, 116.45, 20, 0, T0, h), 0);
        assert_int_equal(fn_state_loads_near(s, 31.2, 121.4, 20, 4, T0, h), 0); /* by pickup, not delivery */
    }
    /* Past the pickup window it reads as expired and is not offered. */
    assert_int_equal(fn_load_status(l, T0 + 86399), FN_LS_OPEN);
    assert_int_equal(fn_load_status(l, T0 + 86400), FN_LS_EXPIRED);
    assert_false(load_listed(s, 1, 39.95, 116.45, 20, T0 + 86400));
    assert_true(load_listed(s, 1, 39.95, 116.45, 20, T0 + 86399));

    /* Book: the load is booked, the driver on a trip, neither offered. */
    assert_int_equal(book(s, 2, 1, 1, T0 + 10), FN_ECORRUPT); /* not the next booking id */
    fn_state_free(s);

    /* (The failed record above may have changed the state: start again.) */
    s = new_state(0.1);
    assert_int_equal(company_add(s, 1), 0);
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(driver_add(s, 2), 0);
    assert_int_equal(position1(s, 1, 39.95, 116.45, T0), 0);
    assert_int_equal(position1(s, 2, 39.96, 116.46, T0), 0);
    assert_int_equal(load_create(s, &ls), 0);
    l = fn_state_load(s, 1);
    assert_true(truck_listed(s, 1, 39.95, 116.45, 10));
    assert_int_equal(book(s, 1, 1, 1, T0 + 10), 0);
    assert_int_equal(fn_state_next_booking_id(s), 2);
    k = fn_state_booking(s, 1);
    assert_non_null(k);
    assert_int_equal(k->id, 1);
    assert_int_equal(k->load_id, 1);
    assert_int_equal(k->driver_id, 1);
    assert_int_equal(k->company_id, 1);
    assert_int_equal(k->status, FN_BS_BOOKED);
    assert_true(k->booked_at == T0 + 10);
    assert_dbl_same(k->deadhead_km, 13.25);
    assert_dbl_same(k->loaded_km, 1379.5);
    assert_int_equal(k->company_stars + k->driver_stars + k->cancelled_by, 0);
    assert_true(k->picked_up_at == 0 && k->delivered_at == 0 && k->cancelled_at == 0);
    assert_int_equal(l->status, FN_LS_BOOKED);
    assert_true(l->booking_id == 1);
    assert_int_equal(fn_load_status(l, T0 + 10 * 86400), FN_LS_BOOKED); /* never "expired" once booked */
    d = fn_state_driver(s, 1);
    assert_int_equal(d->status, FN_DS_ON_TRIP);
    assert_true(d->booking_id == 1);
    assert_false(truck_listed(s, 1, 39.95, 116.45, 10));
    assert_true(truck_listed(s, 2, 39.95, 116.45, 10));
    assert_false(load_listed(s, 1, 39.95, 116.45, 20, T0));
    co = fn_state_company(s, 1);
    assert_int_equal(co->loads_booked, 1);
    c = counts_of(s);
    assert_int_equal(c.bookings, 1);
    assert_int_equal(c.loads_by_status[FN_LS_OPEN], 0);
    assert_int_equal(c.loads_by_status[FN_LS_BOOKED], 1);
    assert_int_equal(c.drivers_by_status[FN_DS_ON_TRIP], 1);
    assert_int_equal(c.drivers_by_status[FN_DS_AVAILABLE], 1);

    /* Positions on the trip are kept but do not list the truck. */
    assert_int_equal(position1(s, 1, 39.0, 117.0, T0 + 15), 0);
    assert_dbl_same(d->lat, 39.0);
    assert_false(truck_listed(s, 1, 39.0, 117.0, 10));

    /* Pickup: in transit. */
    assert_int_equal(pickup(s, 1, T0 + 20), 0);
    assert_int_equal(k->status, FN_BS_PICKED_UP);
    assert_true(k->picked_up_at == T0 + 20);
    assert_int_equal(l->status, FN_LS_IN_TRANSIT);
    c = counts_of(s);
    assert_int_equal(c.loads_by_status[FN_LS_BOOKED], 0);
    assert_int_equal(c.loads_by_status[FN_LS_IN_TRANSIT], 1);
    assert_false(truck_listed(s, 1, 39.0, 117.0, 10));

    /* Deliver: the truck stands at the destination, available again. */
    assert_int_equal(deliver(s, 1, T0 + 30), 0);
    assert_int_equal(k->status, FN_BS_DELIVERED);
    assert_true(k->delivered_at == T0 + 30);
    assert_int_equal(l->status, FN_LS_DELIVERED);
    assert_int_equal(d->status, FN_DS_AVAILABLE);
    assert_true(d->booking_id == 0);
    assert_int_equal(d->trips_delivered, 1);
    assert_dbl_same(d->lat, ls.dest.lat);
    assert_dbl_same(d->lon, ls.dest.lon);
    assert_true(d->pos_ts == T0 + 30);
    assert_int_equal(d->speed_dkmh, 0);
    assert_true(truck_listed(s, 1, 31.2304, 121.4737, 1));
    assert_false(truck_listed(s, 1, 39.0, 117.0, 100));
    assert_int_equal(co->loads_delivered, 1);
    c = counts_of(s);
    assert_int_equal(c.loads_by_status[FN_LS_IN_TRANSIT], 0);
    assert_int_equal(c.loads_by_status[FN_LS_DELIVERED], 1);
    assert_int_equal(c.drivers_by_status[FN_DS_ON_TRIP], 0);
    assert_int_equal(c.drivers_by_status[FN_DS_AVAILABLE], 2);
    assert_int_equal(fn_load_status(l, T0 + 10 * 86400), FN_LS_DELIVERED);

    /* Ratings: each side once; each lands on the other side's record. */
    assert_int_equal(rate(s, 1, FN_ROLE_COMPANY, 5, "准时送达，服务很好", T0 + 40), 0);
    assert_int_equal(k->company_stars, 5);
    assert_string_equal(k->company_comment, "准时送达，服务很好");
    assert_int_equal(k->driver_stars, 0);
    assert_int_equal(d->rating_sum, 5);
    assert_int_equal(d->rating_count, 1);
    assert_int_equal(co->rating_count, 0);
    assert_int_equal(rate(s, 1, FN_ROLE_DRIVER, 3, "", T0 + 41), 0);
    assert_int_equal(k->driver_stars, 3);
    assert_string_equal(k->driver_comment, "");
    assert_int_equal(co->rating_sum, 3);
    assert_int_equal(co->rating_count, 1);
    assert_int_equal(d->rating_count, 1);

    /* Token lookups still work after all that. */
    assert_token(s, FN_ROLE_COMPANY, 1);
    assert_token(s, FN_ROLE_DRIVER, 2);
    fn_state_free(s);
}

/* A delivery does not move a truck whose last report is newer. */
static void test_deliver_keeps_newer_position(void **state)
{
    fn_state *s = new_state(0.1);
    const fn_driver *d;
    (void)state;
    assert_int_equal(company_add(s, 1), 0);
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(load_add(s, 1, 1), 0);
    assert_int_equal(book(s, 1, 1, 1, T0 + 10), 0); /* no position yet: booked from home */
    assert_int_equal(pickup(s, 1, T0 + 20), 0);
    assert_int_equal(position1(s, 1, 32.0, 120.0, T0 + 100), 0);
    assert_int_equal(deliver(s, 1, T0 + 50), 0);
    d = fn_state_driver(s, 1);
    assert_dbl_same(d->lat, 32.0);
    assert_dbl_same(d->lon, 120.0);
    assert_true(d->pos_ts == T0 + 100);
    assert_int_equal(d->status, FN_DS_AVAILABLE);
    assert_true(truck_listed(s, 1, 32.0, 120.0, 1));
    fn_state_free(s);

    /* And an offline driver may book; delivery makes it available. */
    s = new_state(0.1);
    assert_int_equal(company_add(s, 1), 0);
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(load_add(s, 1, 1), 0);
    assert_int_equal(driver_status(s, 1, FN_DS_OFFLINE, T0), 0);
    assert_int_equal(book(s, 1, 1, 1, T0 + 10), 0);
    assert_int_equal(counts_of(s).drivers_by_status[FN_DS_OFFLINE], 0);
    assert_int_equal(pickup(s, 1, T0 + 20), 0);
    assert_int_equal(deliver(s, 1, T0 + 30), 0);
    d = fn_state_driver(s, 1);
    assert_int_equal(d->status, FN_DS_AVAILABLE);
    assert_true(truck_listed(s, 1, 31.2304, 121.4737, 1));
    fn_state_free(s);
}

static void test_booking_cancel(void **state)
{
    fn_state *s = new_state(0.1);
    const fn_booking *k;
    const fn_load *l;
    const fn_driver *d;
    fn_state_counts c;
    (void)state;
    assert_int_equal(company_add(s, 1), 0);
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(position1(s, 1, 39.95, 116.45, T0), 0);
    assert_int_equal(load_add(s, 1, 1), 0);
    assert_int_equal(load_add(s, 2, 1), 0);
    assert_int_equal(book(s, 1, 1, 1, T0 + 10), 0);
    assert_int_equal(booking_cancel(s, 1, T0 + 11, FN_ROLE_DRIVER), 0);
    k = fn_state_booking(s, 1);
    l = fn_state_load(s, 1);
    d = fn_state_driver(s, 1);
    assert_int_equal(k->status, FN_BS_CANCELLED);
    assert_int_equal(k->cancelled_by, FN_ROLE_DRIVER);
    assert_true(k->cancelled_at == T0 + 11);
    /* A load is booked at most once: cancelling its booking cancels it. */
    assert_int_equal(l->status, FN_LS_CANCELLED);
    assert_int_equal(fn_load_status(l, T0), FN_LS_CANCELLED);
    assert_false(load_listed(s, 1, 39.9, 116.4, 10, T0));
    assert_int_equal(d->status, FN_DS_AVAILABLE);
    assert_true(d->booking_id == 0);
    assert_true(truck_listed(s, 1, 39.95, 116.45, 1));
    assert_int_equal(fn_state_company(s, 1)->loads_cancelled, 1);
    c = counts_of(s);
    assert_int_equal(c.loads_by_status[FN_LS_CANCELLED], 1);
    assert_int_equal(c.loads_by_status[FN_LS_OPEN], 1);
    assert_int_equal(c.drivers_by_status[FN_DS_AVAILABLE], 1);
    assert_int_equal(c.bookings, 1);

    /* The driver books the other load; the company cancels that booking. */
    assert_int_equal(book(s, 2, 2, 1, T0 + 12), 0);
    assert_int_equal(booking_cancel(s, 2, T0 + 13, FN_ROLE_COMPANY), 0);
    assert_int_equal(fn_state_booking(s, 2)->cancelled_by, FN_ROLE_COMPANY);
    assert_int_equal(fn_state_company(s, 1)->loads_cancelled, 2);

    /* An open load cancelled by its company leaves the grid. */
    assert_int_equal(load_add(s, 3, 1), 0);
    assert_true(load_listed(s, 3, 39.9, 116.4, 10, T0));
    assert_int_equal(load_cancel(s, 3, T0 + 14), 0);
    assert_int_equal(fn_state_load(s, 3)->status, FN_LS_CANCELLED);
    assert_false(load_listed(s, 3, 39.9, 116.4, 10, T0));
    assert_int_equal(fn_state_company(s, 1)->loads_cancelled, 3);
    c = counts_of(s);
    assert_int_equal(c.loads_by_status[FN_LS_OPEN], 0);
    assert_int_equal(c.loads_by_status[FN_LS_CANCELLED], 3);
    fn_state_free(s);
}

static void test_expiry(void **state)
{
    fn_state *s = new_state(0.1);
    fn_load a = load_spec(1, 1), b = load_spec(2, 1);
    fn_load_hit h[4];
    (void)state;
    assert_int_equal(company_add(s, 1), 0);
    /* An explicit expiry before the pickup window ends wins. */
    a.expires_at = T0 + 100;
    assert_int_equal(load_create(s, &a), 0);
    assert_int_equal(load_create(s, &b), 0);
    assert_int_equal(fn_load_status(fn_state_load(s, 1), T0 + 99), FN_LS_OPEN);
    assert_int_equal(fn_load_status(fn_state_load(s, 1), T0 + 100), FN_LS_EXPIRED);
    assert_int_equal(fn_load_status(fn_state_load(s, 2), T0 + 100), FN_LS_OPEN);
    assert_int_equal(fn_state_loads_near(s, 39.9, 116.4, 10, 4, T0 + 99, h), 2);
    assert_int_equal(fn_state_loads_near(s, 39.9, 116.4, 10, 4, T0 + 100, h), 1);
    assert_int_equal(h[0].load->id, 2);
    assert_int_equal(fn_state_loads_near(s, 39.9, 116.4, 10, 4, T0 + 86400, h), 0);
    /* Expired is derived, never stored: the counters still say open. */
    assert_int_equal(fn_state_load(s, 1)->status, FN_LS_OPEN);
    assert_int_equal(counts_of(s).loads_by_status[FN_LS_OPEN], 2);
    assert_string_equal(fn_load_status_name(fn_load_status(fn_state_load(s, 1), T0 + 100)), "expired");
    fn_state_free(s);
}

/* ---- transitions the state must refuse -------------------------------- */

enum stage {
    ST_EMPTY,
    ST_COMPANY, /* company 1 only */
    ST_DRIVERS, /* drivers 1 and 2 only */
    ST_MEMBERS, /* both */
    ST_OPEN,
    ST_BOOKED,
    ST_PICKED_UP,
    ST_DELIVERED,
    ST_CANCELLED_LOAD,
    ST_CANCELLED_BOOKING
};

/* Company 1, drivers 1 and 2, load 1, and load 1 taken to the stage.  The
 * tables allocate 64 Ki elements at a time, so the early stages are also
 * the cheap ones for tests that make hundreds of states. */
static fn_state *scenario(enum stage st)
{
    fn_state *s = new_state(1.0);
    if (st == ST_EMPTY)
        return s;
    if (st != ST_DRIVERS)
        assert_int_equal(company_add(s, 1), 0);
    if (st == ST_COMPANY)
        return s;
    assert_int_equal(driver_add(s, 1), 0);
    assert_int_equal(driver_add(s, 2), 0);
    if (st == ST_DRIVERS || st == ST_MEMBERS)
        return s;
    assert_int_equal(load_add(s, 1, 1), 0);
    if (st == ST_CANCELLED_LOAD)
        assert_int_equal(load_cancel(s, 1, T0 + 5), 0);
    if (st == ST_OPEN || st == ST_CANCELLED_LOAD)
        return s;
    assert_int_equal(book(s, 1, 1, 1, T0 + 10), 0);
    if (st == ST_CANCELLED_BOOKING)
        assert_int_equal(booking_cancel(s, 1, T0 + 11, FN_ROLE_COMPANY), 0);
    if (st == ST_BOOKED || st == ST_CANCELLED_BOOKING)
        return s;
    assert_int_equal(pickup(s, 1, T0 + 20), 0);
    if (st == ST_PICKED_UP)
        return s;
    assert_int_equal(deliver(s, 1, T0 + 30), 0);
    return s;
}

#define REFUSED(st, expr)                                   \
    do {                                                    \
        fn_state *s = scenario(st);                         \
        assert_int_equal((expr), FN_ECORRUPT);              \
        fn_state_free(s);                                   \
    } while (0)

static void test_invalid_transitions(void **state)
{
    (void)state;
    /* Pickup and delivery out of order. */
    REFUSED(ST_OPEN, pickup(s, 1, T0));
    REFUSED(ST_BOOKED, deliver(s, 1, T0 + 20));
    REFUSED(ST_PICKED_UP, pickup(s, 1, T0 + 21));
    REFUSED(ST_DELIVERED, pickup(s, 1, T0 + 31));
    REFUSED(ST_DELIVERED, deliver(s, 1, T0 + 31));
    REFUSED(ST_CANCELLED_BOOKING, pickup(s, 1, T0 + 12));
    REFUSED(ST_CANCELLED_BOOKING, deliver(s, 1, T0 + 12));
    REFUSED(ST_BOOKED, pickup(s, 2, T0 + 12));
    REFUSED(ST_BOOKED, pickup(s, 0, T0 + 12));
    /* Booking a load that is not open, or with a driver on a trip. */
    REFUSED(ST_BOOKED, book(s, 2, 1, 2, T0 + 12));
    REFUSED(ST_PICKED_UP, book(s, 2, 1, 2, T0 + 22));
    REFUSED(ST_DELIVERED, book(s, 2, 1, 2, T0 + 32));
    REFUSED(ST_CANCELLED_LOAD, book(s, 1, 1, 2, T0 + 12));
    REFUSED(ST_CANCELLED_BOOKING, book(s, 2, 1, 2, T0 + 12));
    REFUSED(ST_BOOKED, (load_add(s, 2, 1), book(s, 2, 2, 1, T0 + 12)));
    REFUSED(ST_OPEN, book(s, 1, 2, 1, T0 + 12));  /* no load 2 */
    REFUSED(ST_OPEN, book(s, 1, 1, 3, T0 + 12));  /* no driver 3 */
    REFUSED(ST_OPEN, book(s, 2, 1, 1, T0 + 12));  /* booking ids are sequential */
    REFUSED(ST_OPEN, book(s, 0, 1, 1, T0 + 12));
    /* Cancelling what cannot be cancelled. */
    REFUSED(ST_PICKED_UP, booking_cancel(s, 1, T0 + 21, FN_ROLE_DRIVER));
    REFUSED(ST_DELIVERED, booking_cancel(s, 1, T0 + 31, FN_ROLE_COMPANY));
    REFUSED(ST_CANCELLED_BOOKING, booking_cancel(s, 1, T0 + 12, FN_ROLE_DRIVER));
    REFUSED(ST_OPEN, booking_cancel(s, 1, T0 + 12, FN_ROLE_DRIVER));
    REFUSED(ST_BOOKED, load_cancel(s, 1, T0 + 12));
    REFUSED(ST_DELIVERED, load_cancel(s, 1, T0 + 32));
    REFUSED(ST_CANCELLED_LOAD, load_cancel(s, 1, T0 + 6));
    REFUSED(ST_OPEN, load_cancel(s, 2, T0 + 6));
    /* Ratings before delivery, on a cancelled trip, twice, by others, out of range. */
    REFUSED(ST_BOOKED, rate(s, 1, FN_ROLE_COMPANY, 5, "", T0 + 12));
    REFUSED(ST_PICKED_UP, rate(s, 1, FN_ROLE_DRIVER, 5, "", T0 + 22));
    REFUSED(ST_CANCELLED_BOOKING, rate(s, 1, FN_ROLE_COMPANY, 5, "", T0 + 12));
    REFUSED(ST_DELIVERED, (rate(s, 1, FN_ROLE_COMPANY, 4, "ok", T0 + 40), rate(s, 1, FN_ROLE_COMPANY, 4, "", T0 + 41)));
    REFUSED(ST_DELIVERED, (rate(s, 1, FN_ROLE_DRIVER, 4, "ok", T0 + 40), rate(s, 1, FN_ROLE_DRIVER, 5, "", T0 + 41)));
    REFUSED(ST_DELIVERED, rate(s, 1, FN_ROLE_ADMIN, 4, "", T0 + 40));
    REFUSED(ST_DELIVERED, rate(s, 1, FN_ROLE_GATEWAY, 4, "", T0 + 40));
    REFUSED(ST_DELIVERED, rate(s, 1, FN_ROLE_COMPANY, 0, "", T0 + 40));
    REFUSED(ST_DELIVERED, rate(s, 1, FN_ROLE_DRIVER, 6, "", T0 + 40));
    REFUSED(ST_DELIVERED, rate(s, 2, FN_ROLE_DRIVER, 5, "", T0 + 40));
    /* Loads for a company that does not exist; out-of-order ids. */
    REFUSED(ST_MEMBERS, load_add(s, 1, 2));
    REFUSED(ST_MEMBERS, load_add(s, 1, 0));
    REFUSED(ST_OPEN, load_add(s, 3, 1));
    REFUSED(ST_OPEN, load_add(s, 1, 1));
    /* Status changes on a trip. */
    REFUSED(ST_BOOKED, driver_status(s, 1, FN_DS_OFFLINE, T0 + 12));
    REFUSED(ST_PICKED_UP, driver_status(s, 1, FN_DS_AVAILABLE, T0 + 22));
    /* Unknown record types. */
    {
        static const uint8_t types[] = {0, 13, 99, 255};
        uint8_t payload[16] = {1};
        for (size_t i = 0; i < sizeof(types); i++) {
            REFUSED(ST_DELIVERED, fn_state_apply(s, types[i], payload, sizeof(payload)));
            REFUSED(ST_DELIVERED, fn_state_apply(s, types[i], NULL, 0));
        }
    }

    /* And the refusals are not over-eager: the other side may still rate,
     * and a second driver may book another load. */
    {
        fn_state *s = scenario(ST_DELIVERED);
        assert_int_equal(rate(s, 1, FN_ROLE_COMPANY, 1, "", T0 + 40), 0);
        assert_int_equal(rate(s, 1, FN_ROLE_DRIVER, 5, "", T0 + 41), 0);
        assert_int_equal(load_add(s, 2, 1), 0);
        assert_int_equal(book(s, 2, 2, 2, T0 + 42), 0);
        assert_int_equal(load_add(s, 3, 1), 0);
        assert_int_equal(book(s, 3, 3, 1, T0 + 43), 0);
        fn_state_free(s);
    }
}

/* ---- truncated and over-long records ---------------------------------- */

typedef struct rec_case {
    const char *name;
    enum stage stage; /* the state the record applies to */
    uint8_t type;
    void (*encode)(fn_buf *b);
} rec_case;

static void enc_company(fn_buf *b)
{
    fn_company c = company_spec(1);
    uint8_t h[FN_TOKEN_HASH_BYTES];
    member_hash(FN_ROLE_COMPANY, 1, h);
    fn_rec_company_create(b, &c, h);
}
static void enc_driver(fn_buf *b)
{
    fn_driver d = driver_spec(1);
    uint8_t h[FN_TOKEN_HASH_BYTES];
    member_hash(FN_ROLE_DRIVER, 1, h);
    fn_rec_driver_create(b, &d, h);
}
static void enc_gateway(fn_buf *b)
{
    fn_gateway g = {1, "网关", T0};
    uint8_t h[FN_TOKEN_HASH_BYTES];
    member_hash(FN_ROLE_GATEWAY, 1, h);
    fn_rec_gateway_create(b, &g, h);
}
static void enc_positions(fn_buf *b)
{
    fn_position p[2] = {{1, 30, 110, T0 + 1, 10, 20}, {2, 31, 111, T0 + 1, 10, 20}};
    fn_rec_positions(b, p, 2);
}
static void enc_status(fn_buf *b) { fn_rec_driver_status(b, 2, FN_DS_OFFLINE, T0 + 1); }
static void enc_load(fn_buf *b)
{
    fn_load l = load_spec(1, 1);
    fn_rec_load_create(b, &l);
}
static void enc_load_cancel(fn_buf *b) { fn_rec_load_cancel(b, 1, T0 + 1); }
static void enc_book(fn_buf *b)
{
    fn_booking k;
    memset(&k, 0, sizeof(k));
    k.id = 1;
    k.load_id = 1;
    k.driver_id = 2;
    k.booked_at = T0 + 1;
    fn_rec_book(b, &k);
}
static void enc_pickup(fn_buf *b) { fn_rec_booking_event(b, 1, T0 + 21); }
static void enc_deliver(fn_buf *b) { fn_rec_booking_event(b, 1, T0 + 31); }
static void enc_booking_cancel(fn_buf *b) { fn_rec_booking_cancel(b, 1, T0 + 12, FN_ROLE_DRIVER); }
static void enc_rating(fn_buf *b) { fn_rec_rating(b, 1, FN_ROLE_DRIVER, 4, "不错", T0 + 40); }

static const rec_case rec_cases[] = {
    {"company_create", ST_EMPTY, FN_REC_COMPANY_CREATE, enc_company},
    {"driver_create", ST_EMPTY, FN_REC_DRIVER_CREATE, enc_driver},
    {"gateway_create", ST_EMPTY, FN_REC_GATEWAY_CREATE, enc_gateway},
    {"positions", ST_DRIVERS, FN_REC_POSITIONS, enc_positions},
    {"driver_status", ST_DRIVERS, FN_REC_DRIVER_STATUS, enc_status},
    {"load_create", ST_COMPANY, FN_REC_LOAD_CREATE, enc_load},
    {"load_cancel", ST_OPEN, FN_REC_LOAD_CANCEL, enc_load_cancel},
    {"book", ST_OPEN, FN_REC_BOOK, enc_book},
    {"pickup", ST_BOOKED, FN_REC_PICKUP, enc_pickup},
    {"deliver", ST_PICKED_UP, FN_REC_DELIVER, enc_deliver},
    {"booking_cancel", ST_BOOKED, FN_REC_BOOKING_CANCEL, enc_booking_cancel},
    {"rating", ST_DELIVERED, FN_REC_RATING, enc_rating},
};

static void test_records_whole_applies(void **state)
{
    (void)state;
    for (size_t i = 0; i < FN_ARRAY_LEN(rec_cases); i++) {
        const rec_case *rc = &rec_cases[i];
        fn_state *s = scenario(rc->stage);
        fn_buf b;
        int r;
        fn_buf_init(&b, 0);
        rc->encode(&b);
        r = fn_state_apply(s, rc->type, b.data, (uint32_t)b.len);
        if (r != 0)
            fail_msg("a whole, valid %s record (%zu bytes) was refused: %d (%s)", rc->name, b.len, r,
                     fn_strerror(r));
        fn_buf_free(&b);
        fn_state_free(s);
    }
}

static void test_records_truncated(void **state)
{
    (void)state;
    for (size_t i = 0; i < FN_ARRAY_LEN(rec_cases); i++) {
        const rec_case *rc = &rec_cases[i];
        fn_buf b;
        fn_buf_init(&b, 0);
        rc->encode(&b);
        for (size_t n = 0; n < b.len; n++) {
            fn_state *s = scenario(rc->stage);
            int r = fn_state_apply(s, rc->type, b.data, (uint32_t)n);
            if (r != FN_ECORRUPT)
                fail_msg("%s record cut to %zu of %zu bytes: got %d, want FN_ECORRUPT", rc->name, n, b.len, r);
            fn_state_free(s);
        }
        fn_buf_free(&b);
    }
}

static void test_records_extra_bytes(void **state)
{
    (void)state;
    for (size_t i = 0; i < FN_ARRAY_LEN(rec_cases); i++) {
        const rec_case *rc = &rec_cases[i];
        for (size_t extra = 1; extra <= 9; extra += 4) {
            fn_state *s = scenario(rc->stage);
            fn_buf b;
            int r;
            fn_buf_init(&b, 0);
            rc->encode(&b);
            for (size_t j = 0; j < extra; j++)
                fn_buf_u8(&b, 0);
            r = fn_state_apply(s, rc->type, b.data, (uint32_t)b.len);
            if (r != FN_ECORRUPT)
                fail_msg("%s record with %zu extra bytes: got %d, want FN_ECORRUPT", rc->name, extra, r);
            fn_buf_free(&b);
            fn_state_free(s);
        }
    }
}

/* ---- snapshots -------------------------------------------------------- */

static void assert_place_equal(const fn_place *a, const fn_place *b)
{
    assert_dbl_same(a->lat, b->lat);
    assert_dbl_same(a->lon, b->lon);
    assert_string_equal(a->city, b->city);
    assert_int_equal(a->province, b->province);
}

/* Every field of every object, every counter and the next ids. */
static void assert_objects_equal(const fn_state *a, const fn_state *b)
{
    fn_state_counts ca = counts_of(a), cb = counts_of(b);
    assert_int_equal(fn_state_next_company_id(a), fn_state_next_company_id(b));
    assert_int_equal(fn_state_next_driver_id(a), fn_state_next_driver_id(b));
    assert_int_equal(fn_state_next_gateway_id(a), fn_state_next_gateway_id(b));
    assert_int_equal(fn_state_next_load_id(a), fn_state_next_load_id(b));
    assert_int_equal(fn_state_next_booking_id(a), fn_state_next_booking_id(b));

    assert_int_equal(ca.companies, cb.companies);
    assert_int_equal(ca.drivers, cb.drivers);
    assert_int_equal(ca.gateways, cb.gateways);
    assert_int_equal(ca.loads, cb.loads);
    assert_int_equal(ca.bookings, cb.bookings);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ca.drivers_by_status[i], cb.drivers_by_status[i]);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ca.loads_by_status[i], cb.loads_by_status[i]);
    assert_int_equal(ca.positions_applied, cb.positions_applied);
    assert_int_equal(ca.positions_stale, cb.positions_stale);

    for (uint64_t id = 1; id < fn_state_next_company_id(a); id++) {
        const fn_company *x = fn_state_company(a, id), *y = fn_state_company(b, id);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(x->id, y->id);
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->city, y->city);
        assert_int_equal(x->province, y->province);
        assert_int_equal(x->kind, y->kind);
        assert_true(x->created_at == y->created_at);
        assert_int_equal(x->rating_sum, y->rating_sum);
        assert_int_equal(x->rating_count, y->rating_count);
        assert_int_equal(x->loads_posted, y->loads_posted);
        assert_int_equal(x->loads_booked, y->loads_booked);
        assert_int_equal(x->loads_delivered, y->loads_delivered);
        assert_int_equal(x->loads_cancelled, y->loads_cancelled);
        assert_token(a, FN_ROLE_COMPANY, id);
        assert_token(b, FN_ROLE_COMPANY, id);
    }
    for (uint64_t id = 1; id < fn_state_next_driver_id(a); id++) {
        const fn_driver *x = fn_state_driver(a, id), *y = fn_state_driver(b, id);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(x->id, y->id);
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->phone, y->phone);
        assert_string_equal(x->plate, y->plate);
        assert_dbl_same(x->home_lat, y->home_lat);
        assert_dbl_same(x->home_lon, y->home_lon);
        assert_dbl_same(x->lat, y->lat);
        assert_dbl_same(x->lon, y->lon);
        assert_true(x->pos_ts == y->pos_ts);
        assert_int_equal(x->speed_dkmh, y->speed_dkmh);
        assert_int_equal(x->heading_ddeg, y->heading_ddeg);
        assert_int_equal(x->capacity_kg, y->capacity_kg);
        assert_int_equal(x->volume_l, y->volume_l);
        assert_int_equal(x->truck_type, y->truck_type);
        assert_int_equal(x->length_idx, y->length_idx);
        assert_int_equal(x->status, y->status);
        assert_int_equal(x->provinces_mask, y->provinces_mask);
        assert_int_equal(x->booking_id, y->booking_id);
        assert_int_equal(x->rating_sum, y->rating_sum);
        assert_int_equal(x->rating_count, y->rating_count);
        assert_int_equal(x->trips_delivered, y->trips_delivered);
        assert_true(x->created_at == y->created_at);
        assert_token(a, FN_ROLE_DRIVER, id);
        assert_token(b, FN_ROLE_DRIVER, id);
    }
    for (uint64_t id = 1; id < fn_state_next_gateway_id(a); id++) {
        const fn_gateway *x = fn_state_gateway(a, id), *y = fn_state_gateway(b, id);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(x->id, y->id);
        assert_string_equal(x->name, y->name);
        assert_true(x->created_at == y->created_at);
        assert_token(a, FN_ROLE_GATEWAY, id);
        assert_token(b, FN_ROLE_GATEWAY, id);
    }
    for (uint64_t id = 1; id < fn_state_next_load_id(a); id++) {
        const fn_load *x = fn_state_load(a, id), *y = fn_state_load(b, id);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(x->id, y->id);
        assert_int_equal(x->company_id, y->company_id);
        assert_place_equal(&x->origin, &y->origin);
        assert_place_equal(&x->dest, &y->dest);
        assert_string_equal(x->cargo_kind, y->cargo_kind);
        assert_string_equal(x->contact_name, y->contact_name);
        assert_string_equal(x->contact_phone, y->contact_phone);
        assert_string_equal(x->notes, y->notes);
        assert_int_equal(x->weight_kg, y->weight_kg);
        assert_int_equal(x->volume_l, y->volume_l);
        assert_int_equal(x->types_mask, y->types_mask);
        assert_int_equal(x->min_length_idx, y->min_length_idx);
        assert_int_equal(x->status, y->status);
        assert_true(x->pickup_earliest_at == y->pickup_earliest_at);
        assert_true(x->pickup_latest_at == y->pickup_latest_at);
        assert_true(x->expires_at == y->expires_at);
        assert_true(x->created_at == y->created_at);
        assert_true(x->price_fen == y->price_fen);
        assert_int_equal(x->booking_id, y->booking_id);
    }
    for (uint64_t id = 1; id < fn_state_next_booking_id(a); id++) {
        const fn_booking *x = fn_state_booking(a, id), *y = fn_state_booking(b, id);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(x->id, y->id);
        assert_int_equal(x->load_id, y->load_id);
        assert_int_equal(x->driver_id, y->driver_id);
        assert_int_equal(x->company_id, y->company_id);
        assert_int_equal(x->status, y->status);
        assert_int_equal(x->cancelled_by, y->cancelled_by);
        assert_int_equal(x->company_stars, y->company_stars);
        assert_int_equal(x->driver_stars, y->driver_stars);
        assert_string_equal(x->company_comment ? x->company_comment : "", y->company_comment ? y->company_comment : "");
        assert_string_equal(x->driver_comment ? x->driver_comment : "", y->driver_comment ? y->driver_comment : "");
        assert_true(x->booked_at == y->booked_at);
        assert_true(x->picked_up_at == y->picked_up_at);
        assert_true(x->delivered_at == y->delivered_at);
        assert_true(x->cancelled_at == y->cancelled_at);
        assert_dbl_same(x->deadhead_km, y->deadhead_km);
        assert_dbl_same(x->loaded_km, y->loaded_km);
    }
    assert_null(fn_state_company(b, fn_state_next_company_id(a)));
    assert_null(fn_state_driver(b, fn_state_next_driver_id(a)));
    assert_null(fn_state_load(b, fn_state_next_load_id(a)));
    assert_null(fn_state_booking(b, fn_state_next_booking_id(a)));
}

/* The same queries on both states give the same answers (grids rebuilt).
 * Returns how many hits there were, so callers can check the queries are
 * not vacuous. */
static size_t assert_queries_equal(const fn_state *a, const fn_state *b)
{
    static const double radii[] = {3, 40, 400, 5000};
    static const int64_t nows[] = {T0, T0 + 86400 / 2, T0 + 3 * 86400};
    fn_truck_hit ha[300], hb[300];
    fn_load_hit la[300], lb[300];
    size_t hits = 0;
    for (size_t ci = 0; ci < NCITIES; ci++) {
        for (size_t ri = 0; ri < FN_ARRAY_LEN(radii); ri++) {
            if (radii[ri] > 1000 && ci > 0)
                continue; /* country-wide queries scan every cell: one city is enough */
            for (int variant = 0; variant < 6; variant++) {
                fn_truck_query q = {cities[ci].lat + 0.01, cities[ci].lon - 0.01, radii[ri], 300, 0, -1, 0, 0, variant & 1};
                size_t na, nb;
                if (variant == 2)
                    q.types_mask = (uint16_t)(1u << FN_TT_van | 1u << FN_TT_refrigerated);
                if (variant == 3)
                    q.min_length_idx = 5;
                if (variant == 4)
                    q.min_capacity_kg = 15000, q.min_volume_l = 20000;
                if (variant == 5)
                    q.limit = 3;
                na = fn_state_trucks_near(a, &q, ha);
                nb = fn_state_trucks_near(b, &q, hb);
                assert_int_equal(na, nb);
                for (size_t i = 0; i < na; i++) {
                    assert_int_equal(ha[i].driver->id, hb[i].driver->id);
                    assert_dbl_same(ha[i].distance_km, hb[i].distance_km);
                    assert_dbl_same(ha[i].lat, hb[i].lat);
                    assert_dbl_same(ha[i].lon, hb[i].lon);
                }
                hits += na;
            }
            for (size_t ni = 0; ni < FN_ARRAY_LEN(nows); ni++) {
                size_t na = fn_state_loads_near(a, cities[ci].lat, cities[ci].lon, radii[ri], 300, nows[ni], la);
                size_t nb = fn_state_loads_near(b, cities[ci].lat, cities[ci].lon, radii[ri], 300, nows[ni], lb);
                assert_int_equal(na, nb);
                for (size_t i = 0; i < na; i++) {
                    assert_int_equal(la[i].load->id, lb[i].load->id);
                    assert_dbl_same(la[i].distance_km, lb[i].distance_km);
                }
                hits += na;
            }
        }
    }
    return hits;
}

static void assert_states_equal(const fn_state *a, const fn_state *b)
{
    assert_objects_equal(a, b);
    assert_true(assert_queries_equal(a, b) > 100);
}

/* The first driver (round robin from *next) that is not on a trip. */
static uint64_t free_driver(const fn_state *s, uint64_t *next)
{
    uint64_t n = fn_state_next_driver_id(s) - 1;
    for (uint64_t tries = 0; tries < n; tries++) {
        uint64_t id = *next;
        *next = *next % n + 1;
        if (fn_state_driver(s, id)->status != FN_DS_ON_TRIP)
            return id;
    }
    fail_msg("no free driver");
    return 0;
}

static char *big_note(void)
{
    /* 21845 x "货" (3 bytes each) = 65535 bytes, the most a record holds. */
    char *p = malloc(65536);
    assert_non_null(p);
    for (int i = 0; i < 21845; i++)
        memcpy(p + 3 * i, "货", 3);
    p[65535] = '\0';
    return p;
}

/* A state with members, positions (some stale), every driver status,
 * loads in every status (some expiring, some with 64 KiB notes so that the
 * snapshot spans several blocks), bookings in every status, ratings from
 * none, one or both sides. */
static void build_varied(fn_state *s, uint64_t seed)
{
    static const char *const company_names[] = {"上海远航物流有限公司", "Acme Freight Co.", "Émile Transports SARL",
                                                 "广州顺达货运", "Ölçer Lojistik"};
    static const char *const cargo[] = {"钢材", "electronics", "蔬菜水果", "化工原料 (UN1203)", ""};
    char name[128], phone[32], plate[32], comment[64];
    uint64_t s_ = seed, next_driver = 1, booking = 1;
    char *note = big_note();
    int64_t t = T0 + 1000;

    for (uint64_t id = 1; id <= 40; id++) {
        fn_company c = company_spec(id);
        const struct city *ct = &cities[rng_next(&s_) % NCITIES];
        snprintf(name, sizeof(name), "%s %" PRIu64, company_names[id % 5], id);
        c.name = name;
        c.city = id % 6 == 0 ? "" : ct->name;
        c.province = (int8_t)(id % 6 == 0 ? -1 : ct->province);
        c.kind = (uint8_t)(id % FN_CK__COUNT);
        c.created_at = T0 + (int64_t)id;
        assert_int_equal(company_create(s, &c), 0);
    }
    for (uint64_t id = 1; id <= 150; id++) {
        fn_driver d = driver_spec(id);
        const struct city *ct = &cities[rng_next(&s_) % NCITIES];
        snprintf(name, sizeof(name), "%s%" PRIu64, id % 2 ? "张伟" : "Li Na ", id);
        snprintf(phone, sizeof(phone), "139%08" PRIu64, id * 7919);
        snprintf(plate, sizeof(plate), "%s%05" PRIu64, id % 3 ? "京A" : "沪B", id);
        d.name = name;
        d.phone = phone;
        d.plate = id % 10 == 0 ? "" : plate;
        d.home_lat = ct->lat + rng_range(&s_, -0.3, 0.3);
        d.home_lon = ct->lon + rng_range(&s_, -0.3, 0.3);
        d.truck_type = (uint8_t)(rng_next(&s_) % FN_TT__COUNT);
        d.length_idx = (uint8_t)(rng_next(&s_) % FN_TRUCK_LENGTH_COUNT);
        d.capacity_kg = 1000 + (uint32_t)(rng_next(&s_) % 40000);
        d.volume_l = rng_next(&s_) % 3 ? (uint32_t)(rng_next(&s_) % 90000) : 0;
        d.provinces_mask = (uint32_t)rng_next(&s_) & 0x7fffffffu;
        d.created_at = T0 + 100 + (int64_t)id;
        assert_int_equal(driver_create(s, &d), 0);
    }
    for (uint64_t id = 1; id <= 6; id++) {
        snprintf(name, sizeof(name), "gateway-%" PRIu64 " 网关", id);
        assert_int_equal(gateway_add(s, id, name, T0 + 200 + (int64_t)id), 0);
    }
    /* Positions for four drivers in five, then a batch with stale ones. */
    {
        fn_position p[150];
        uint32_t n = 0;
        for (uint64_t id = 1; id <= 150; id++) {
            const struct city *ct = &cities[rng_next(&s_) % NCITIES];
            if (id % 5 == 0)
                continue;
            p[n++] = (fn_position){id, ct->lat + rng_range(&s_, -0.5, 0.5), ct->lon + rng_range(&s_, -0.5, 0.5),
                                   T0 + 500 + (int64_t)(rng_next(&s_) % 100), (uint16_t)(rng_next(&s_) % 1200),
                                   (uint16_t)(id % 4 ? rng_next(&s_) % 3600 : 0xffff)};
        }
        assert_int_equal(positions(s, p, n), 0);
        for (uint32_t i = 0; i < n; i++) {
            p[i].ts += (int64_t)(rng_next(&s_) % 200) - 100;
            p[i].lat += 0.01;
        }
        assert_int_equal(positions(s, p, n), 0);
    }
    for (uint64_t id = 7; id <= 150; id += 7)
        assert_int_equal(driver_status(s, id, FN_DS_OFFLINE, t++), 0);
    /* (Offline drivers may book; the trips below make them available.) */

    for (uint64_t id = 1; id <= 400; id++) {
        fn_load l = load_spec(id, 1 + rng_next(&s_) % 40);
        const struct city *o = &cities[rng_next(&s_) % NCITIES], *d = &cities[rng_next(&s_) % NCITIES];
        unsigned fate = (unsigned)(id % 10);
        l.origin = (fn_place){o->lat + rng_range(&s_, -0.4, 0.4), o->lon + rng_range(&s_, -0.4, 0.4),
                              id % 9 ? o->name : "", (int8_t)(id % 9 ? o->province : -1)};
        l.dest = (fn_place){d->lat + rng_range(&s_, -0.4, 0.4), d->lon + rng_range(&s_, -0.4, 0.4), d->name,
                            (int8_t)d->province};
        l.cargo_kind = cargo[id % 5];
        l.notes = id % 20 == 0 ? note : id % 3 ? "易碎品，轻拿轻放" : "";
        l.contact_name = id % 4 ? "王经理" : "Mr. Smith";
        l.weight_kg = 500 + (uint32_t)(rng_next(&s_) % 30000);
        l.volume_l = rng_next(&s_) % 2 ? (uint32_t)(rng_next(&s_) % 80000) : 0;
        l.types_mask = (uint16_t)(1 + rng_next(&s_) % 0x0fff);
        l.min_length_idx = (int8_t)(rng_next(&s_) % 3 ? -1 : (int)(rng_next(&s_) % FN_TRUCK_LENGTH_COUNT));
        l.pickup_earliest_at = T0 + (int64_t)(rng_next(&s_) % 86400);
        l.pickup_latest_at = l.pickup_earliest_at + (int64_t)(rng_next(&s_) % (2 * 86400));
        l.expires_at = id % 4 == 0 ? l.pickup_earliest_at + 60 : 0;
        l.created_at = t++;
        l.price_fen = (int64_t)(rng_next(&s_) % 5000000);
        assert_int_equal(load_create(s, &l), 0);

        if (fate <= 2)
            continue; /* open (some expire by the query times) */
        if (fate == 3) {
            assert_int_equal(load_cancel(s, id, t++), 0);
            continue;
        }
        assert_int_equal(book(s, booking, id, free_driver(s, &next_driver), t++), 0);
        if (fate == 9) {
            assert_int_equal(booking_cancel(s, booking, t++, id % 2 ? FN_ROLE_DRIVER : FN_ROLE_COMPANY), 0);
        } else if (fate >= 5) {
            assert_int_equal(pickup(s, booking, t++), 0);
            if (fate >= 6) {
                assert_int_equal(deliver(s, booking, t++), 0);
                if (fate >= 7) {
                    snprintf(comment, sizeof(comment), "评价 %" PRIu64 " — good", booking);
                    assert_int_equal(rate(s, booking, FN_ROLE_COMPANY, 1 + (int)(id % 5), comment, t++), 0);
                }
                if (fate == 8)
                    assert_int_equal(rate(s, booking, FN_ROLE_DRIVER, 1 + (int)(id % 4), id % 2 ? "" : "ok", t++),
                                     0);
            }
        }
        booking++;
    }
    /* Some drivers go offline at the end, so every status is represented. */
    for (uint64_t id = 5; id <= 150; id += 11)
        if (fn_state_driver(s, id)->status == FN_DS_AVAILABLE)
            assert_int_equal(driver_status(s, id, FN_DS_OFFLINE, t++), 0);
    free(note);
}

/* More records, applied to both copies after the round trip. */
static void apply_more(fn_state *s)
{
    uint64_t next_driver = 3, nb = fn_state_next_booking_id(s), nl = fn_state_next_load_id(s);
    int64_t t = T0 + 50000;
    /* Finish every trip in progress. */
    for (uint64_t id = 1; id < nb; id++) {
        const fn_booking *k = fn_state_booking(s, id);
        if (k->status == FN_BS_BOOKED)
            assert_int_equal(pickup(s, id, t++), 0);
        if (k->status == FN_BS_PICKED_UP)
            assert_int_equal(deliver(s, id, t++), 0);
    }
    /* Book a few open loads, post new ones, move trucks. */
    for (uint64_t id = 1, booked = 0; id < nl && booked < 10; id++) {
        if (fn_state_load(s, id)->status != FN_LS_OPEN)
            continue;
        assert_int_equal(book(s, nb++, id, free_driver(s, &next_driver), t++), 0);
        booked++;
    }
    for (int i = 0; i < 5; i++) {
        fn_load l = load_spec(nl++, 2);
        l.pickup_latest_at = T0 + 10 * 86400;
        assert_int_equal(load_create(s, &l), 0);
    }
    assert_int_equal(position1(s, 2, 22.6, 114.1, T0 + 60000), 0);
    assert_int_equal(position1(s, 4, 22.6, 114.1, T0 + 1), 0); /* stale */
    for (uint64_t id = 1; id < fn_state_next_driver_id(s); id++) {
        if (fn_state_driver(s, id)->status == FN_DS_OFFLINE) {
            assert_int_equal(driver_status(s, id, FN_DS_AVAILABLE, t++), 0);
            break;
        }
    }
    {
        fn_company c = company_spec(fn_state_next_company_id(s));
        assert_int_equal(company_create(s, &c), 0);
    }
}

static void save_snapshot(const fn_state *s, const char *dir, uint64_t seq)
{
    fn_snapw *w = NULL;
    char err[256] = {0};
    assert_int_equal(fn_snapw_open(&w, dir, seq, err, sizeof(err)), 0);
    assert_int_equal(fn_state_snap_save(s, w), 0);
    assert_int_equal(fn_snapw_commit(w, err, sizeof(err)), 0);
}

static int load_snapshot(fn_state *s, const char *dir, uint64_t want_seq)
{
    fn_snapr *r = NULL;
    uint64_t seq = 0;
    char err[256] = {0};
    int rc;
    assert_int_equal(fn_snapr_open(&r, dir, &seq, err, sizeof(err)), 0);
    assert_int_equal(seq, want_seq);
    rc = fn_state_snap_load(s, r);
    if (rc != 0) {
        fn_snapr_abort(r);
        return rc;
    }
    return fn_snapr_close(r);
}

static void test_snapshot_round_trip(void **state)
{
    fn_state *a = new_state(0.1), *b = new_state(0.1);
    fn_state_counts c;
    (void)state;
    build_varied(a, 2025);

    /* The varied state really is varied. */
    c = counts_of(a);
    assert_int_equal(c.loads, 400);
    for (int i = 0; i < 5; i++)
        assert_true(c.loads_by_status[i] > 0);
    for (int i = 0; i < 3; i++)
        assert_true(c.drivers_by_status[i] > 0);
    assert_true(c.positions_stale > 0);

    save_snapshot(a, tdir(state), 77);
    assert_int_equal(load_snapshot(b, tdir(state), 77), 0);
    assert_states_equal(a, b);

    /* Both copies go on identically from here (the grids and counters the
     * load rebuilt are the ones the live state kept). */
    apply_more(a);
    apply_more(b);
    assert_states_equal(a, b);

    /* And a second generation: snapshot the loaded-and-continued copy. */
    {
        fn_state *c2 = new_state(0.1);
        save_snapshot(b, tdir(state), 78);
        assert_int_equal(load_snapshot(c2, tdir(state), 78), 0);
        assert_states_equal(a, c2);
        fn_state_free(c2);
    }
    fn_state_free(a);
    fn_state_free(b);
}

static void test_snapshot_empty_and_used(void **state)
{
    fn_state *a = new_state(0.1), *b = new_state(0.1), *c;
    (void)state;
    save_snapshot(a, tdir(state), 1);
    assert_int_equal(load_snapshot(b, tdir(state), 1), 0);
    assert_objects_equal(a, b);
    assert_int_equal(fn_state_next_company_id(b), 1);
    fn_state_free(b);

    /* Loading into a state that already holds objects is refused. */
    assert_int_equal(company_add(a, 1), 0);
    save_snapshot(a, tdir(state), 2);
    c = new_state(0.1);
    assert_int_equal(company_add(c, 1), 0);
    assert_int_equal(load_snapshot(c, tdir(state), 2), FN_ECORRUPT);
    fn_state_free(c);
    fn_state_free(a);
}

/* Streams that frame correctly but do not describe a state. */
static void write_raw(const char *dir, uint64_t seq, const fn_buf *stream)
{
    fn_snapw *w = NULL;
    char err[256] = {0};
    assert_int_equal(fn_snapw_open(&w, dir, seq, err, sizeof(err)), 0);
    assert_int_equal(fn_snapw_write(w, stream->data, stream->len), 0);
    assert_int_equal(fn_snapw_commit(w, err, sizeof(err)), 0);
}

static void stream_head(fn_buf *b, uint64_t companies)
{
    fn_buf_put(b, "FNSTATE1", 8);
    fn_buf_u32(b, 1);
    fn_buf_u64(b, companies);
    for (int i = 0; i < 7; i++)
        fn_buf_u64(b, 0);
}

static void stream_company(fn_buf *b)
{
    fn_buf blk;
    fn_buf_init(&blk, 0);
    fn_buf_u8(&blk, 0);
    fn_buf_u8(&blk, 1);
    fn_buf_i64(&blk, T0);
    fn_buf_str(&blk, "c");
    fn_buf_str(&blk, "");
    for (int i = 0; i < 6; i++)
        fn_buf_u32(&blk, 0);
    fn_buf_u32(b, (uint32_t)blk.len);
    fn_buf_put(b, blk.data, blk.len);
    fn_buf_free(&blk);
}

static void test_snapshot_malformed_streams(void **state)
{
    fn_buf b;
    uint64_t seq = 10;
    (void)state;
    for (int variant = 0; variant < 5; variant++, seq++) {
        fn_state *s = new_state(1.0);
        int want = FN_ECORRUPT;
        fn_buf_init(&b, 0);
        switch (variant) {
        case 0: /* well formed: one company */
            stream_head(&b, 1);
            stream_company(&b);
            fn_buf_u32(&b, 0);
            want = 0;
            break;
        case 1: /* wrong magic */
            stream_head(&b, 1);
            b.data[7] = '2';
            stream_company(&b);
            fn_buf_u32(&b, 0);
            break;
        case 2: /* claims two companies, holds one */
            stream_head(&b, 2);
            stream_company(&b);
            fn_buf_u32(&b, 0);
            break;
        case 3: /* holds two companies, claims one */
            stream_head(&b, 1);
            stream_company(&b);
            stream_company(&b);
            fn_buf_u32(&b, 0);
            break;
        case 4: /* no end block */
            stream_head(&b, 1);
            stream_company(&b);
            break;
        }
        write_raw(tdir(state), seq, &b);
        if (load_snapshot(s, tdir(state), seq) != want)
            fail_msg("malformed stream variant %d: wrong result", variant);
        if (want == 0)
            assert_string_equal(fn_state_company(s, 1)->name, "c");
        fn_buf_free(&b);
        fn_state_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_sequential_ids),
        cmocka_unit_test(test_driver_bad_truck),
        cmocka_unit_test(test_load_bad_fields),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_truck_filters),
        cmocka_unit_test(test_trucks_near_brute_force),
        cmocka_unit_test(test_driver_status),
        cmocka_unit_test(test_load_lifecycle),
        cmocka_unit_test(test_deliver_keeps_newer_position),
        cmocka_unit_test(test_booking_cancel),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_invalid_transitions),
        cmocka_unit_test(test_records_whole_applies),
        cmocka_unit_test(test_records_truncated),
        cmocka_unit_test(test_records_extra_bytes),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_snapshot_empty_and_used, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_snapshot_malformed_streams, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
