/*
 * test_core_engine.c — unit tests for src/core/engine.c: the write path
 * (checks, log, apply, durability) on a real data dir under /tmp.
 *
 * Covered: authentication of the admin token and of member tokens; every
 * write's success and its error codes; 16 threads racing to book one load
 * (and one driver racing for 16 loads); close + reopen and snapshot + more
 * writes + close + reopen giving back exactly the same state (compared as
 * a dump made through the state.h getters, queries included); the
 * fsync-failure policy (the failed write and every later one refused with
 * FN_EUNAVAIL, reads still served, nothing refused after the failure
 * present after a restart); and the data dir lock.
 */
#include "auth/token.h"
#include "common/buf.h"
#include "common/fn.h"
#include "common/geo.h"
#include "core/engine.h"
#include "core/model.h"
#include "core/records.h"
#include "core/state.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#define ADMIN_TOKEN "test-admin-token-0123456789"

/* ---- helpers: the data dir and the engine ----------------------------- */

struct t_env {
    char dir[TEST_DIR_LEN];
    int64_t now; /* the test's start: load windows are relative to it */
};

static int setup_env(void **state)
{
    struct t_env *env = calloc(1, sizeof(*env));
    if (!env || test_dir_make(env->dir, sizeof(env->dir)) != 0) {
        free(env);
        return -1;
    }
    env->now = fn_now_s();
    *state = env;
    return 0;
}

static int teardown_env(void **state)
{
    struct t_env *env = *state;
    test_dir_remove(env->dir);
    free(env);
    return 0;
}

static struct t_env *env_of(void **state) { return *state; }

static fn_engine_config engine_config(const char *dir)
{
    fn_engine_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.data_dir = dir;
    cfg.state.area = FN_AREA_CHINA;
    cfg.state.circuity = 1.3;
    cfg.state.grid_cell_deg = 0.1;
    cfg.admin_token = ADMIN_TOKEN;
    cfg.snapshot_log_bytes = 0;
    return cfg;
}

static fn_engine *open_engine(const char *dir)
{
    fn_engine_config cfg = engine_config(dir);
    fn_engine *e = NULL;
    char err[512] = {0};
    int rc = fn_engine_open(&e, &cfg, err, sizeof(err));
    if (rc != 0)
        fail_msg("fn_engine_open(%s) failed: %d %s: %s", dir, rc, fn_strerror(rc), err);
    assert_non_null(e);
    return e;
}

static const uint64_t P_ADMIN = (uint64_t)FN_ROLE_ADMIN << 56;
static uint64_t pc(uint64_t id) { return fn_principal(FN_ROLE_COMPANY, id); }
static uint64_t pd(uint64_t id) { return fn_principal(FN_ROLE_DRIVER, id); }

static const struct city {
    double lat, lon;
} cities[] = {
    {39.9042, 116.4074}, {31.2304, 121.4737}, {23.1291, 113.2644}, {30.5728, 104.0668},
    {34.3416, 108.9398}, {45.8038, 126.5350}, {22.5431, 114.0579}, {36.0671, 120.3826},
};
#define NCITIES FN_ARRAY_LEN(cities)

static uint64_t mk_company(fn_engine *e, const char *name, char *tok)
{
    fn_company c;
    fn_result res;
    uint64_t id = 0;
    char t[FN_TOKEN_LEN + 1];
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.city = "上海";
    c.province = 8;
    c.kind = FN_CK_SHIPPER;
    assert_int_equal(fn_engine_company_create(e, &c, &id, tok ? tok : t, &res), 0);
    assert_true(id > 0);
    return id;
}

static fn_driver driver_in(int type, int len_idx, uint32_t cap_kg, uint32_t vol_l)
{
    fn_driver d;
    memset(&d, 0, sizeof(d));
    d.name = "李师傅";
    d.phone = "13900001111";
    d.plate = "京A12345";
    d.home_lat = 39.95;
    d.home_lon = 116.30;
    d.truck_type = (uint8_t)type;
    d.length_idx = (uint8_t)len_idx;
    d.capacity_kg = cap_kg;
    d.volume_l = vol_l;
    d.provinces_mask = 1;
    return d;
}

static uint64_t mk_driver(fn_engine *e, int type, int len_idx, uint32_t cap_kg, uint32_t vol_l, char *tok)
{
    fn_driver d = driver_in(type, len_idx, cap_kg, vol_l);
    fn_result res;
    uint64_t id = 0;
    char t[FN_TOKEN_LEN + 1];
    assert_int_equal(fn_engine_driver_create(e, &d, &id, tok ? tok : t, &res), 0);
    assert_true(id > 0);
    return id;
}

/* A Beijing -> Shanghai load for van or high-rail trucks of 6.8 m or more,
 * 12 t, 30 m3, pickup from an hour to two days from now. */
static fn_load load_in(uint64_t company, int64_t now)
{
    fn_load l;
    memset(&l, 0, sizeof(l));
    l.company_id = company;
    l.origin = (fn_place){39.9042, 116.4074, "北京", 0};
    l.dest = (fn_place){31.2304, 121.4737, "上海", 8};
    l.cargo_kind = "钢材";
    l.contact_name = "王经理";
    l.contact_phone = "13800138000";
    l.notes = "";
    l.weight_kg = 12000;
    l.volume_l = 30000;
    l.types_mask = (uint16_t)(1u << FN_TT_van | 1u << FN_TT_high_rail);
    l.min_length_idx = 2;
    l.pickup_earliest_at = now + 3600;
    l.pickup_latest_at = now + 2 * 86400;
    l.price_fen = 350000;
    return l;
}

static uint64_t mk_load(fn_engine *e, const fn_load *l)
{
    fn_result res;
    uint64_t id = 0;
    assert_int_equal(fn_engine_load_create(e, l, &id, &res), 0);
    assert_true(id > 0);
    return id;
}

static void position(fn_engine *e, uint64_t driver, double lat, double lon, int64_t ts)
{
    fn_position p = {driver, lat, lon, ts, 500, 900};
    uint8_t refused = 9;
    size_t acc = 0;
    fn_result res;
    assert_int_equal(fn_engine_positions(e, &p, 1, &refused, &acc, &res), 0);
    assert_int_equal(refused, 0);
    assert_int_equal(acc, 1);
}

static uint64_t book_ok(fn_engine *e, uint64_t driver, uint64_t load)
{
    fn_result res;
    uint64_t bid = 0;
    int rc = fn_engine_book(e, driver, load, &bid, &res);
    if (rc != 0)
        fail_msg("book driver %" PRIu64 " load %" PRIu64 ": %d %s", driver, load, rc, res.msg);
    assert_true(bid > 0);
    return bid;
}

/* Expects an error code (and the field, when given) from a write. */
#define EXPECT_ERR(call, code)                                          \
    do {                                                                \
        fn_result res_;                                                 \
        memset(&res_, 0, sizeof(res_));                                 \
        int rc_ = call;                                                 \
        if (rc_ != (code))                                              \
            fail_msg("%s: got %d (%s), want %s", #call, rc_,            \
                     rc_ ? fn_errcode(rc_) : "ok", #code);              \
        assert_int_equal(res_.err, (code));                             \
        assert_true(strlen(res_.msg) > 0);                              \
    } while (0)

#define EXPECT_OK(call)                                                 \
    do {                                                                \
        fn_result res_;                                                 \
        memset(&res_, 0, sizeof(res_));                                 \
        int rc_ = call;                                                 \
        if (rc_ != 0)                                                   \
            fail_msg("%s: got %d (%s): %s", #call, rc_, fn_errcode(rc_), res_.msg); \
    } while (0)

/* ---- a dump of the whole state through the getters -------------------- */

static void dump_state(fn_engine *e, int64_t now, fn_buf *b)
{
    const fn_state *s;
    fn_state_counts c;
    fn_truck_hit th[200];
    fn_load_hit lh[200];

    fn_buf_init(b, 0);
    fn_engine_rdlock(e);
    s = fn_engine_state(e);
    fn_state_counts_get(s, &c);
    fn_buf_u64(b, fn_state_next_company_id(s));
    fn_buf_u64(b, fn_state_next_driver_id(s));
    fn_buf_u64(b, fn_state_next_gateway_id(s));
    fn_buf_u64(b, fn_state_next_load_id(s));
    fn_buf_u64(b, fn_state_next_booking_id(s));
    fn_buf_u64(b, c.companies);
    fn_buf_u64(b, c.drivers);
    fn_buf_u64(b, c.gateways);
    fn_buf_u64(b, c.loads);
    fn_buf_u64(b, c.bookings);
    for (int i = 0; i < 3; i++)
        fn_buf_u64(b, c.drivers_by_status[i]);
    for (int i = 0; i < 5; i++)
        fn_buf_u64(b, c.loads_by_status[i]);
    fn_buf_u64(b, c.positions_applied);
    fn_buf_u64(b, c.positions_stale);
    for (uint64_t id = 1; id < fn_state_next_company_id(s); id++) {
        const fn_company *x = fn_state_company(s, id);
        fn_buf_printf(b, "C%" PRIu64, x->id);
        fn_buf_str(b, x->name);
        fn_buf_str(b, x->city);
        fn_buf_u8(b, (uint8_t)x->province);
        fn_buf_u8(b, x->kind);
        fn_buf_i64(b, x->created_at);
        fn_buf_u32(b, x->rating_sum);
        fn_buf_u32(b, x->rating_count);
        fn_buf_u32(b, x->loads_posted);
        fn_buf_u32(b, x->loads_booked);
        fn_buf_u32(b, x->loads_delivered);
        fn_buf_u32(b, x->loads_cancelled);
    }
    for (uint64_t id = 1; id < fn_state_next_driver_id(s); id++) {
        const fn_driver *x = fn_state_driver(s, id);
        fn_buf_printf(b, "D%" PRIu64, x->id);
        fn_buf_str(b, x->name);
        fn_buf_str(b, x->phone);
        fn_buf_str(b, x->plate);
        fn_buf_f64(b, x->home_lat);
        fn_buf_f64(b, x->home_lon);
        fn_buf_f64(b, x->lat);
        fn_buf_f64(b, x->lon);
        fn_buf_i64(b, x->pos_ts);
        fn_buf_u16(b, x->speed_dkmh);
        fn_buf_u16(b, x->heading_ddeg);
        fn_buf_u32(b, x->capacity_kg);
        fn_buf_u32(b, x->volume_l);
        fn_buf_u8(b, x->truck_type);
        fn_buf_u8(b, x->length_idx);
        fn_buf_u8(b, x->status);
        fn_buf_u32(b, x->provinces_mask);
        fn_buf_u64(b, x->booking_id);
        fn_buf_u32(b, x->rating_sum);
        fn_buf_u32(b, x->rating_count);
        fn_buf_u32(b, x->trips_delivered);
        fn_buf_i64(b, x->created_at);
    }
    for (uint64_t id = 1; id < fn_state_next_gateway_id(s); id++) {
        const fn_gateway *x = fn_state_gateway(s, id);
        fn_buf_printf(b, "G%" PRIu64, x->id);
        fn_buf_str(b, x->name);
        fn_buf_i64(b, x->created_at);
    }
    for (uint64_t id = 1; id < fn_state_next_load_id(s); id++) {
        const fn_load *x = fn_state_load(s, id);
        const fn_place *pl[2] = {&x->origin, &x->dest};
        fn_buf_printf(b, "L%" PRIu64, x->id);
        fn_buf_u64(b, x->company_id);
        for (int i = 0; i < 2; i++) {
            fn_buf_f64(b, pl[i]->lat);
            fn_buf_f64(b, pl[i]->lon);
            fn_buf_str(b, pl[i]->city);
            fn_buf_u8(b, (uint8_t)pl[i]->province);
        }
        fn_buf_str(b, x->cargo_kind);
        fn_buf_str(b, x->contact_name);
        fn_buf_str(b, x->contact_phone);
        fn_buf_str(b, x->notes);
        fn_buf_u32(b, x->weight_kg);
        fn_buf_u32(b, x->volume_l);
        fn_buf_u16(b, x->types_mask);
        fn_buf_u8(b, (uint8_t)x->min_length_idx);
        fn_buf_u8(b, x->status);
        fn_buf_u8(b, (uint8_t)fn_load_status(x, now));
        fn_buf_i64(b, x->pickup_earliest_at);
        fn_buf_i64(b, x->pickup_latest_at);
        fn_buf_i64(b, x->expires_at);
        fn_buf_i64(b, x->created_at);
        fn_buf_i64(b, x->price_fen);
        fn_buf_u64(b, x->booking_id);
    }
    for (uint64_t id = 1; id < fn_state_next_booking_id(s); id++) {
        const fn_booking *x = fn_state_booking(s, id);
        fn_buf_printf(b, "B%" PRIu64, x->id);
        fn_buf_u64(b, x->load_id);
        fn_buf_u64(b, x->driver_id);
        fn_buf_u64(b, x->company_id);
        fn_buf_u8(b, x->status);
        fn_buf_u8(b, x->cancelled_by);
        fn_buf_u8(b, x->company_stars);
        fn_buf_u8(b, x->driver_stars);
        fn_buf_str(b, x->company_comment);
        fn_buf_str(b, x->driver_comment);
        fn_buf_i64(b, x->booked_at);
        fn_buf_i64(b, x->picked_up_at);
        fn_buf_i64(b, x->delivered_at);
        fn_buf_i64(b, x->cancelled_at);
        fn_buf_f64(b, x->deadhead_km);
        fn_buf_f64(b, x->loaded_km);
    }
    /* Queries: the grids as well as the tables. */
    for (size_t ci = 0; ci < NCITIES; ci++) {
        for (int exact = 0; exact < 2; exact++) {
            fn_truck_query q = {cities[ci].lat, cities[ci].lon, 500, 200, 0, -1, 0, 0, exact};
            size_t n = fn_state_trucks_near(s, &q, th);
            fn_buf_printf(b, "T%zu:", n);
            for (size_t i = 0; i < n; i++) {
                fn_buf_u64(b, th[i].driver->id);
                fn_buf_f64(b, th[i].distance_km);
                fn_buf_f64(b, th[i].lat);
                fn_buf_f64(b, th[i].lon);
            }
        }
        {
            size_t n = fn_state_loads_near(s, cities[ci].lat, cities[ci].lon, 800, 200, now, lh);
            fn_buf_printf(b, "O%zu:", n);
            for (size_t i = 0; i < n; i++) {
                fn_buf_u64(b, lh[i].load->id);
                fn_buf_f64(b, lh[i].distance_km);
            }
        }
    }
    fn_engine_rdunlock(e);
}

static int dumps_equal(const fn_buf *a, const fn_buf *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void assert_dumps_equal(const fn_buf *a, const fn_buf *b)
{
    if (!dumps_equal(a, b)) {
        size_t i = 0;
        while (i < a->len && i < b->len && a->data[i] == b->data[i])
            i++;
        fail_msg("state dumps differ (%zu vs %zu bytes), first at byte %zu", a->len, b->len, i);
    }
}

/* ---- a varied marketplace built through the engine -------------------- */

#define MAX_MEMBERS 64

typedef struct market {
    size_t n;
    char tok[MAX_MEMBERS][FN_TOKEN_LEN + 1];
    uint64_t principal[MAX_MEMBERS];
} market;

static void remember(market *m, const char *tok, uint64_t principal)
{
    assert_true(m->n < MAX_MEMBERS);
    memcpy(m->tok[m->n], tok, FN_TOKEN_LEN + 1);
    m->principal[m->n++] = principal;
}

static void assert_tokens_work(fn_engine *e, const market *m)
{
    uint64_t p;
    for (size_t i = 0; i < m->n; i++) {
        p = 0;
        assert_int_equal(fn_engine_authenticate(e, m->tok[i], &p), 1);
        assert_true(p == m->principal[i]);
    }
    assert_int_equal(fn_engine_authenticate(e, ADMIN_TOKEN, &p), 1);
    assert_true(p == P_ADMIN);
}

/* Members, positions (some stale), statuses, and loads taken to every
 * status, with UTF-8 strings and ratings.  seed varies the details. */
static void build_market(fn_engine *e, market *m, int64_t now, uint64_t seed)
{
    static const char *const cnames[] = {"上海远航物流有限公司", "Acme Freight", "Émile Transports", "广州顺达货运"};
    char tok[FN_TOKEN_LEN + 1];
    uint64_t s = seed, first_driver, ndrivers = 12;
    uint64_t companies[4], drivers[12];

    /* Only this thread writes, so reading the state between writes without
     * the read lock sees no change in progress. */
    for (int i = 0; i < 4; i++) {
        companies[i] = mk_company(e, cnames[i], tok);
        remember(m, tok, pc(companies[i]));
    }
    first_driver = fn_state_next_driver_id(fn_engine_state(e));
    for (uint64_t i = 0; i < ndrivers; i++) {
        drivers[i] = mk_driver(e, i % 3 ? FN_TT_van : FN_TT_high_rail, 3 + (int)(i % 6), 15000 + 1000 * (uint32_t)i,
                               i % 4 ? 40000 : 0, tok);
        assert_int_equal(drivers[i], first_driver + i);
        remember(m, tok, pd(drivers[i]));
    }
    {
        fn_gateway g = {0, "北斗网关 1", 0};
        uint64_t id;
        EXPECT_OK(fn_engine_gateway_create(e, &g, &id, tok, &res_));
        remember(m, tok, fn_principal(FN_ROLE_GATEWAY, id));
    }
    /* Positions: one batch for most drivers, then a batch with stale ones. */
    {
        fn_position p[12];
        uint8_t refused[12];
        size_t acc, n = 0;
        for (uint64_t i = 0; i < ndrivers; i++) {
            const struct city *c = &cities[(i + seed) % NCITIES];
            if (i == 11)
                continue; /* one driver never reports */
            p[n++] = (fn_position){drivers[i], c->lat + 0.01 * (double)(s % 7), c->lon - 0.013 * (double)(i % 5),
                                   now - 600 + (int64_t)i, (uint16_t)(100 * i), (uint16_t)(i % 2 ? 0xffff : 450)};
            s = s * 6364136223846793005ull + 1442695040888963407ull;
        }
        EXPECT_OK(fn_engine_positions(e, p, n, refused, &acc, &res_));
        assert_int_equal(acc, n);
        for (size_t i = 0; i < n; i++) {
            p[i].ts += i % 2 ? -100 : 100;
            p[i].lat += 0.02;
        }
        EXPECT_OK(fn_engine_positions(e, p, n, refused, &acc, &res_));
    }
    /* Loads in every status. */
    for (int i = 0; i < 14; i++) {
        fn_load l = load_in(companies[i % 4], now);
        const struct city *o = &cities[(size_t)i % NCITIES], *d = &cities[(size_t)(i + 3) % NCITIES];
        uint64_t lid, bid, drv = drivers[(size_t)i % 10];
        l.origin = (fn_place){o->lat + 0.05, o->lon - 0.05, i % 3 ? "始发城市" : "", (int8_t)(i % 3 ? i : -1)};
        l.dest = (fn_place){d->lat, d->lon, "目的地", (int8_t)(i % 31)};
        l.notes = i % 2 ? "易碎品 — handle with care" : "";
        l.price_fen = 100000 + 777 * i;
        if (i == 13)
            l.expires_at = now - 5; /* reads as expired */
        lid = mk_load(e, &l);
        switch (i % 7) {
        case 0: /* stays open */
            break;
        case 1:
            EXPECT_OK(fn_engine_load_cancel(e, pc(l.company_id), lid, &res_));
            break;
        case 2:
            if (fn_state_driver(fn_engine_state(e), drv)->status != FN_DS_ON_TRIP)
                book_ok(e, drv, lid);
            break;
        case 3:
        case 4:
        case 5:
            if (fn_state_driver(fn_engine_state(e), drv)->status == FN_DS_ON_TRIP)
                break;
            bid = book_ok(e, drv, lid);
            EXPECT_OK(fn_engine_trip_step(e, pd(drv), bid, FN_REC_PICKUP, &res_));
            if (i % 7 == 3)
                break;
            EXPECT_OK(fn_engine_trip_step(e, pd(drv), bid, FN_REC_DELIVER, &res_));
            EXPECT_OK(fn_engine_rate(e, pc(l.company_id), bid, 1 + i % 5, "准时，专业", &res_));
            if (i % 7 == 5)
                EXPECT_OK(fn_engine_rate(e, pd(drv), bid, 2 + i % 4, NULL, &res_));
            break;
        case 6:
            if (fn_state_driver(fn_engine_state(e), drv)->status == FN_DS_ON_TRIP)
                break;
            bid = book_ok(e, drv, lid);
            EXPECT_OK(fn_engine_booking_cancel(e, i % 2 ? pd(drv) : pc(l.company_id), bid, &res_));
            break;
        }
    }
    /* Statuses: one driver offline, one back again. */
    EXPECT_OK(fn_engine_driver_status(e, drivers[10], FN_DS_OFFLINE, &res_));
    EXPECT_OK(fn_engine_driver_status(e, drivers[11], FN_DS_OFFLINE, &res_));
    EXPECT_OK(fn_engine_driver_status(e, drivers[11], FN_DS_AVAILABLE, &res_));
}

/* ---- tests ------------------------------------------------------------ */

static void test_authenticate(void **state)
{
    struct t_env *env = env_of(state);
    fn_engine *e = open_engine(env->dir);
    char ct[FN_TOKEN_LEN + 1], dt[FN_TOKEN_LEN + 1], gt[FN_TOKEN_LEN + 1], other[FN_TOKEN_LEN + 1];
    char bad[300];
    uint64_t p, cid, did, gid;
    fn_result res;
    fn_gateway g = {0, "gw", 0};

    p = 0;
    assert_int_equal(fn_engine_authenticate(e, ADMIN_TOKEN, &p), 1);
    assert_true(p == P_ADMIN);
    assert_int_equal(fn_principal_role(p), FN_ROLE_ADMIN);

    cid = mk_company(e, "Acme", ct);
    did = mk_driver(e, FN_TT_van, 5, 20000, 0, dt);
    assert_int_equal(fn_engine_gateway_create(e, &g, &gid, gt, &res), 0);
    assert_int_equal(cid, 1);
    assert_int_equal(did, 1);
    assert_int_equal(gid, 1);
    assert_true(fn_token_well_formed(ct));
    assert_true(fn_token_well_formed(dt));
    assert_true(fn_token_well_formed(gt));
    assert_string_not_equal(ct, dt);
    assert_int_equal(mk_company(e, "Second", NULL), 2); /* ids are sequential */

    assert_int_equal(fn_engine_authenticate(e, ct, &p), 1);
    assert_true(p == pc(1));
    assert_int_equal(fn_engine_authenticate(e, dt, &p), 1);
    assert_true(p == pd(1));
    assert_int_equal(fn_engine_authenticate(e, gt, &p), 1);
    assert_true(p == fn_principal(FN_ROLE_GATEWAY, 1));

    /* Wrong tokens. */
    fn_token_generate(other);
    assert_int_equal(fn_engine_authenticate(e, other, &p), 0);
    snprintf(bad, sizeof(bad), "%s", ct);
    bad[20] = bad[20] == 'A' ? 'B' : 'A';
    assert_int_equal(fn_engine_authenticate(e, bad, &p), 0);
    snprintf(bad, sizeof(bad), "%sx", ct);
    assert_int_equal(fn_engine_authenticate(e, bad, &p), 0);
    snprintf(bad, sizeof(bad), "%.46s", ct);
    assert_int_equal(fn_engine_authenticate(e, bad, &p), 0);
    assert_int_equal(fn_engine_authenticate(e, "", &p), 0);
    assert_int_equal(fn_engine_authenticate(e, ADMIN_TOKEN "x", &p), 0);
    assert_int_equal(fn_engine_authenticate(e, "test-admin-token-012345678", &p), 0);
    assert_int_equal(fn_engine_authenticate(e, "TEST-ADMIN-TOKEN-0123456789", &p), 0);
    memset(bad, 'a', 299);
    bad[299] = '\0';
    assert_int_equal(fn_engine_authenticate(e, bad, &p), 0);
    fn_engine_close(e);

    /* After a restart, with the same key file, the same tokens work. */
    e = open_engine(env->dir);
    assert_int_equal(fn_engine_authenticate(e, ct, &p), 1);
    assert_true(p == pc(1));
    assert_int_equal(fn_engine_authenticate(e, dt, &p), 1);
    assert_true(p == pd(1));
    assert_int_equal(fn_engine_authenticate(e, other, &p), 0);
    fn_engine_close(e);
}

static void test_open_errors(void **state)
{
    struct t_env *env = env_of(state);
    fn_engine_config cfg = engine_config(env->dir);
    fn_engine *e = NULL;
    char err[512], path[320];
    FILE *f;

    /* An admin token too short to be safe is refused. */
    cfg.admin_token = "short";
    err[0] = '\0';
    assert_int_not_equal(fn_engine_open(&e, &cfg, err, sizeof(err)), 0);
    assert_true(strlen(err) > 0);
    assert_null(e);
    /* A data dir that is a file. */
    snprintf(path, sizeof(path), "%s/plainfile", env->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    cfg = engine_config(path);
    err[0] = '\0';
    assert_int_not_equal(fn_engine_open(&e, &cfg, err, sizeof(err)), 0);
    assert_true(strlen(err) > 0);
    assert_null(e);
    /* Without an admin token in the config, one is generated into
     * admin.token (0600) and works. */
    {
        char dir2[256], tok[256] = {0};
        struct stat st;
        uint64_t p;
        size_t n;
        snprintf(dir2, sizeof(dir2), "%s/gen", env->dir);
        cfg = engine_config(dir2);
        cfg.admin_token = NULL;
        assert_int_equal(fn_engine_open(&e, &cfg, err, sizeof(err)), 0);
        snprintf(path, sizeof(path), "%s/admin.token", dir2);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        f = fopen(path, "r");
        assert_non_null(f);
        n = fread(tok, 1, sizeof(tok) - 1, f);
        fclose(f);
        while (n > 0 && tok[n - 1] == '\n')
            tok[--n] = '\0';
        assert_true(n >= 16);
        assert_int_equal(fn_engine_authenticate(e, tok, &p), 1);
        assert_true(p == P_ADMIN);
        assert_int_equal(fn_engine_authenticate(e, ADMIN_TOKEN, &p), 0);
        fn_engine_close(e);
        /* And the same file is used again on the next start. */
        e = NULL;
        assert_int_equal(fn_engine_open(&e, &cfg, err, sizeof(err)), 0);
        assert_int_equal(fn_engine_authenticate(e, tok, &p), 1);
        fn_engine_close(e);
    }
}

static void test_ops_and_errors(void **state)
{
    struct t_env *env = env_of(state);
    int64_t now = env->now;
    fn_engine *e = open_engine(env->dir);
    const fn_state *s = fn_engine_state(e);
    uint64_t A, B, D1, D2, D3, D4, D5, D6, L1, L2, L3, L4, L5, bid, b2, b3, gid;
    fn_load l;
    fn_result res;
    char tok[FN_TOKEN_LEN + 1];

    A = mk_company(e, "Acme 物流", NULL);
    B = mk_company(e, "Other", NULL);
    D1 = mk_driver(e, FN_TT_van, 5, 20000, 50000, NULL);
    D2 = mk_driver(e, FN_TT_high_rail, 5, 20000, 0, NULL);
    D3 = mk_driver(e, FN_TT_flatbed, 5, 20000, 50000, NULL); /* wrong type */
    D4 = mk_driver(e, FN_TT_van, 1, 20000, 50000, NULL);     /* too short (5.2 m < 6.8 m) */
    D5 = mk_driver(e, FN_TT_van, 5, 11999, 50000, NULL);     /* too light */
    D6 = mk_driver(e, FN_TT_van, 5, 20000, 29999, NULL);     /* too small */
    l = load_in(A, now);
    L1 = mk_load(e, &l);
    assert_int_equal(L1, 1);

    /* Posting for a company that does not exist. */
    {
        fn_load bad = load_in(99, now);
        uint64_t id = 0;
        EXPECT_ERR(fn_engine_load_create(e, &bad, &id, &res_), FN_ENOTFOUND);
        assert_int_equal(fn_state_next_load_id(s), 2);
    }
    /* Cancelling someone else's load. */
    EXPECT_ERR(fn_engine_load_cancel(e, pc(B), L1, &res_), FN_EFORBIDDEN);
    EXPECT_ERR(fn_engine_load_cancel(e, pd(D1), L1, &res_), FN_EFORBIDDEN);
    EXPECT_ERR(fn_engine_load_cancel(e, P_ADMIN, L1, &res_), FN_EFORBIDDEN);
    EXPECT_ERR(fn_engine_load_cancel(e, pc(A), 99, &res_), FN_ENOTFOUND);

    /* Unsuitable trucks, each with the field at fault. */
    {
        static const struct {
            int which;
            const char *field;
        } cases[] = {{3, "truck.type"}, {4, "truck.length_m"}, {5, "truck.capacity_t"}, {6, "truck.volume_m3"}};
        uint64_t ids[7] = {0, D1, D2, D3, D4, D5, D6};
        for (size_t i = 0; i < FN_ARRAY_LEN(cases); i++) {
            uint64_t b = 0;
            memset(&res, 0, sizeof(res));
            assert_int_equal(fn_engine_book(e, ids[cases[i].which], L1, &b, &res), FN_EUNSUITABLE);
            assert_int_equal(res.err, FN_EUNSUITABLE);
            assert_non_null(res.field);
            assert_string_equal(res.field, cases[i].field);
        }
    }
    {
        uint64_t b = 0;
        EXPECT_ERR(fn_engine_book(e, 99, L1, &b, &res_), FN_ENOTFOUND);
        EXPECT_ERR(fn_engine_book(e, D1, 99, &b, &res_), FN_ENOTFOUND);
    }
    assert_int_equal(fn_state_next_booking_id(s), 1);

    /* Positions: unknown drivers are refused one by one. */
    {
        fn_position p[3] = {{D1, 39.97, 116.45, now - 10, 0, 0}, {99, 30, 110, now, 0, 0}, {D2, 39.8, 116.3, now, 0, 0}};
        uint8_t refused[3];
        size_t acc = 0;
        EXPECT_OK(fn_engine_positions(e, p, 3, refused, &acc, &res_));
        assert_int_equal(acc, 2);
        assert_int_equal(refused[0], 0);
        assert_int_equal(refused[1], 1);
        assert_int_equal(refused[2], 0);
    }

    /* Book: the load is booked, the driver on a trip, road distances set. */
    bid = book_ok(e, D1, L1);
    assert_int_equal(bid, 1);
    fn_engine_rdlock(e);
    {
        const fn_booking *k = fn_state_booking(s, bid);
        const fn_load *ld = fn_state_load(s, L1);
        const fn_driver *d = fn_state_driver(s, D1);
        double dh = fn_state_road_km(s, 39.97, 116.45, ld->origin.lat, ld->origin.lon);
        double lk = fn_state_road_km(s, ld->origin.lat, ld->origin.lon, ld->dest.lat, ld->dest.lon);
        assert_int_equal(k->status, FN_BS_BOOKED);
        assert_int_equal(k->company_id, A);
        assert_int_equal(k->driver_id, D1);
        assert_int_equal(ld->status, FN_LS_BOOKED);
        assert_int_equal(ld->booking_id, bid);
        assert_int_equal(d->status, FN_DS_ON_TRIP);
        assert_int_equal(d->booking_id, bid);
        assert_true(k->deadhead_km == dh);
        assert_true(k->loaded_km == lk);
        assert_true(lk > 1000 * 1.3 && lk < 1100 * 1.3); /* Beijing-Shanghai is ~1070 km great circle */
        assert_true(k->booked_at >= now && k->booked_at <= fn_now_s());
    }
    fn_engine_rdunlock(e);
    /* A driver without a position is priced from home. */
    {
        fn_load l2 = load_in(A, now);
        uint64_t lid = mk_load(e, &l2), b;
        uint64_t D7 = mk_driver(e, FN_TT_van, 5, 20000, 0, NULL);
        b = book_ok(e, D7, lid);
        fn_engine_rdlock(e);
        assert_true(fn_state_booking(s, b)->deadhead_km ==
                    fn_state_road_km(s, 39.95, 116.30, l2.origin.lat, l2.origin.lon));
        fn_engine_rdunlock(e);
    }

    /* Booked loads and drivers on a trip. */
    {
        uint64_t b = 0;
        EXPECT_ERR(fn_engine_book(e, D2, L1, &b, &res_), FN_EBOOKED);
        l = load_in(A, now);
        L2 = mk_load(e, &l);
        EXPECT_ERR(fn_engine_book(e, D1, L2, &b, &res_), FN_EONTRIP);
    }
    memset(&res, 0, sizeof(res));
    assert_int_equal(fn_engine_driver_status(e, D1, FN_DS_OFFLINE, &res), FN_EONTRIP);
    assert_string_equal(res.field, "status");
    EXPECT_ERR(fn_engine_driver_status(e, 99, FN_DS_OFFLINE, &res_), FN_ENOTFOUND);
    EXPECT_ERR(fn_engine_load_cancel(e, pc(A), L1, &res_), FN_EBOOKED);

    /* Trip steps: wrong order, wrong caller, others' bookings. */
    EXPECT_ERR(fn_engine_trip_step(e, pd(D1), bid, FN_REC_DELIVER, &res_), FN_ESTATE);
    EXPECT_ERR(fn_engine_trip_step(e, pc(A), bid, FN_REC_PICKUP, &res_), FN_EFORBIDDEN);
    EXPECT_ERR(fn_engine_trip_step(e, P_ADMIN, bid, FN_REC_PICKUP, &res_), FN_EFORBIDDEN);
    EXPECT_ERR(fn_engine_trip_step(e, pd(D2), bid, FN_REC_PICKUP, &res_), FN_ENOTFOUND);
    EXPECT_ERR(fn_engine_trip_step(e, pc(B), bid, FN_REC_PICKUP, &res_), FN_ENOTFOUND);
    EXPECT_ERR(fn_engine_trip_step(e, pd(D1), 99, FN_REC_PICKUP, &res_), FN_ENOTFOUND);
    EXPECT_ERR(fn_engine_rate(e, pc(A), bid, 5, "", &res_), FN_ESTATE);
    EXPECT_ERR(fn_engine_booking_cancel(e, pd(D2), bid, &res_), FN_ENOTFOUND);
    EXPECT_ERR(fn_engine_booking_cancel(e, pc(B), bid, &res_), FN_ENOTFOUND);
    EXPECT_ERR(fn_engine_booking_cancel(e, P_ADMIN, bid, &res_), FN_EFORBIDDEN);
    EXPECT_ERR(fn_engine_booking_cancel(e, pd(D1), 99, &res_), FN_ENOTFOUND);

    /* Pickup; then no cancelling and no second pickup. */
    EXPECT_OK(fn_engine_trip_step(e, pd(D1), bid, FN_REC_PICKUP, &res_));
    assert_int_equal(fn_state_load(s, L1)->status, FN_LS_IN_TRANSIT);
    assert_int_equal(fn_state_booking(s, bid)->status, FN_BS_PICKED_UP);
    EXPECT_ERR(fn_engine_trip_step(e, pd(D1), bid, FN_REC_PICKUP, &res_), FN_ESTATE);
    EXPECT_ERR(fn_engine_booking_cancel(e, pd(D1), bid, &res_), FN_ESTATE);
    EXPECT_ERR(fn_engine_booking_cancel(e, pc(A), bid, &res_), FN_ESTATE);
    EXPECT_ERR(fn_engine_load_cancel(e, pc(A), L1, &res_), FN_EBOOKED);
    EXPECT_ERR(fn_engine_rate(e, pd(D1), bid, 5, "", &res_), FN_ESTATE);

    /* Delivery: the driver is free, at the destination. */
    EXPECT_OK(fn_engine_trip_step(e, pd(D1), bid, FN_REC_DELIVER, &res_));
    fn_engine_rdlock(e);
    assert_int_equal(fn_state_load(s, L1)->status, FN_LS_DELIVERED);
    assert_int_equal(fn_state_driver(s, D1)->status, FN_DS_AVAILABLE);
    assert_true(fn_state_driver(s, D1)->lat == 31.2304);
    assert_int_equal(fn_state_company(s, A)->loads_delivered, 1);
    fn_engine_rdunlock(e);
    EXPECT_ERR(fn_engine_trip_step(e, pd(D1), bid, FN_REC_DELIVER, &res_), FN_ESTATE);
    {
        uint64_t b = 0;
        EXPECT_ERR(fn_engine_book(e, D2, L1, &b, &res_), FN_EBOOKED);
    }

    /* Ratings: once per side, by the parties only. */
    EXPECT_ERR(fn_engine_rate(e, pc(B), bid, 5, "", &res_), FN_ENOTFOUND);
    EXPECT_ERR(fn_engine_rate(e, pd(D2), bid, 5, "", &res_), FN_ENOTFOUND);
    EXPECT_ERR(fn_engine_rate(e, P_ADMIN, bid, 5, "", &res_), FN_EFORBIDDEN);
    EXPECT_ERR(fn_engine_rate(e, pc(A), 99, 5, "", &res_), FN_ENOTFOUND);
    EXPECT_OK(fn_engine_rate(e, pc(A), bid, 5, "很好 👍", &res_));
    EXPECT_ERR(fn_engine_rate(e, pc(A), bid, 4, "again", &res_), FN_ERATED);
    EXPECT_OK(fn_engine_rate(e, pd(D1), bid, 4, NULL, &res_));
    EXPECT_ERR(fn_engine_rate(e, pd(D1), bid, 4, NULL, &res_), FN_ERATED);
    fn_engine_rdlock(e);
    {
        const fn_booking *k = fn_state_booking(s, bid);
        assert_int_equal(k->company_stars, 5);
        assert_string_equal(k->company_comment, "很好 👍");
        assert_int_equal(k->driver_stars, 4);
        assert_string_equal(k->driver_comment, "");
        assert_int_equal(fn_state_driver(s, D1)->rating_sum, 5);
        assert_int_equal(fn_state_driver(s, D1)->rating_count, 1);
        assert_int_equal(fn_state_company(s, A)->rating_sum, 4);
        assert_int_equal(fn_state_company(s, A)->rating_count, 1);
        assert_true(fn_engine_booking_visible(pc(A), k));
        assert_true(fn_engine_booking_visible(pd(D1), k));
        assert_true(fn_engine_booking_visible(P_ADMIN, k));
        assert_false(fn_engine_booking_visible(pc(B), k));
        assert_false(fn_engine_booking_visible(pd(D2), k));
        assert_false(fn_engine_booking_visible(fn_principal(FN_ROLE_GATEWAY, 1), k));
    }
    fn_engine_rdunlock(e);

    /* Cancelled and expired loads are not open. */
    EXPECT_OK(fn_engine_load_cancel(e, pc(A), L2, &res_));
    EXPECT_ERR(fn_engine_load_cancel(e, pc(A), L2, &res_), FN_ENOTOPEN);
    {
        uint64_t b = 0;
        EXPECT_ERR(fn_engine_book(e, D2, L2, &b, &res_), FN_ENOTOPEN);
        l = load_in(A, now);
        l.expires_at = now - 10;
        L3 = mk_load(e, &l);
        EXPECT_ERR(fn_engine_book(e, D2, L3, &b, &res_), FN_ENOTOPEN);
        EXPECT_ERR(fn_engine_load_cancel(e, pc(A), L3, &res_), FN_ENOTOPEN);
        l = load_in(A, now);
        l.pickup_latest_at = now - 1;
        l.pickup_earliest_at = now - 100;
        L3 = mk_load(e, &l);
        EXPECT_ERR(fn_engine_book(e, D2, L3, &b, &res_), FN_ENOTOPEN);
    }

    /* Booking cancellation before pickup, by the company and by the driver. */
    l = load_in(A, now);
    L4 = mk_load(e, &l);
    b2 = book_ok(e, D2, L4);
    EXPECT_OK(fn_engine_booking_cancel(e, pc(A), b2, &res_));
    fn_engine_rdlock(e);
    assert_int_equal(fn_state_booking(s, b2)->status, FN_BS_CANCELLED);
    assert_int_equal(fn_state_booking(s, b2)->cancelled_by, FN_ROLE_COMPANY);
    assert_int_equal(fn_state_load(s, L4)->status, FN_LS_CANCELLED);
    assert_int_equal(fn_state_driver(s, D2)->status, FN_DS_AVAILABLE);
    fn_engine_rdunlock(e);
    EXPECT_ERR(fn_engine_booking_cancel(e, pc(A), b2, &res_), FN_ESTATE);
    EXPECT_ERR(fn_engine_trip_step(e, pd(D2), b2, FN_REC_PICKUP, &res_), FN_ESTATE);
    EXPECT_ERR(fn_engine_rate(e, pd(D2), b2, 3, "", &res_), FN_ESTATE);
    l = load_in(A, now);
    L5 = mk_load(e, &l);
    b3 = book_ok(e, D2, L5);
    EXPECT_OK(fn_engine_booking_cancel(e, pd(D2), b3, &res_));
    assert_int_equal(fn_state_booking(s, b3)->cancelled_by, FN_ROLE_DRIVER);

    /* Driver status: off, again (nothing to do), on. */
    EXPECT_OK(fn_engine_driver_status(e, D2, FN_DS_OFFLINE, &res_));
    assert_int_equal(fn_state_driver(s, D2)->status, FN_DS_OFFLINE);
    EXPECT_OK(fn_engine_driver_status(e, D2, FN_DS_OFFLINE, &res_));
    EXPECT_OK(fn_engine_driver_status(e, D2, FN_DS_AVAILABLE, &res_));
    assert_int_equal(fn_state_driver(s, D2)->status, FN_DS_AVAILABLE);

    /* Gateways. */
    {
        fn_gateway g = {0, "北斗网关", 0};
        EXPECT_OK(fn_engine_gateway_create(e, &g, &gid, tok, &res_));
        assert_int_equal(gid, 1);
        assert_string_equal(fn_state_gateway(s, gid)->name, "北斗网关");
    }
    fn_engine_close(e);
}

/* ---- races ------------------------------------------------------------ */

#define RACERS 16

struct racer {
    fn_engine *e;
    pthread_barrier_t *barrier;
    uint64_t driver, load;
    uint64_t booking;
    int rc;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    fn_result res;
    pthread_barrier_wait(r->barrier);
    r->rc = fn_engine_book(r->e, r->driver, r->load, &r->booking, &res);
    return NULL;
}

static void run_racers(struct racer *r)
{
    pthread_t th[RACERS];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        r[i].barrier = &barrier;
        r[i].booking = 0;
        r[i].rc = 12345;
        assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
}

static void test_race_one_load(void **state)
{
    struct t_env *env = env_of(state);
    fn_engine *e = open_engine(env->dir);
    const fn_state *s = fn_engine_state(e);
    uint64_t A = mk_company(e, "Racer Co", NULL);
    struct racer r[RACERS];

    for (int round = 0; round < 5; round++) {
        fn_load l = load_in(A, env->now);
        uint64_t lid = mk_load(e, &l);
        int wins = 0, winner = -1;
        for (int i = 0; i < RACERS; i++) {
            r[i].e = e;
            r[i].load = lid;
            r[i].driver = mk_driver(e, FN_TT_van, 5, 20000, 0, NULL);
        }
        run_racers(r);
        for (int i = 0; i < RACERS; i++) {
            if (r[i].rc == 0) {
                wins++;
                winner = i;
            } else {
                assert_int_equal(r[i].rc, FN_EBOOKED);
            }
        }
        assert_int_equal(wins, 1);
        fn_engine_rdlock(e);
        {
            const fn_load *ld = fn_state_load(s, lid);
            const fn_booking *k = fn_state_booking(s, ld->booking_id);
            assert_int_equal(ld->status, FN_LS_BOOKED);
            assert_int_equal(ld->booking_id, r[winner].booking);
            assert_int_equal(k->driver_id, r[winner].driver);
            for (int i = 0; i < RACERS; i++)
                assert_int_equal(fn_state_driver(s, r[i].driver)->status,
                                 i == winner ? FN_DS_ON_TRIP : FN_DS_AVAILABLE);
        }
        fn_engine_rdunlock(e);
    }
    {
        fn_state_counts c;
        fn_state_counts_get(s, &c);
        assert_int_equal(c.bookings, 5);
    }
    fn_engine_close(e);

    /* The log agrees: after a restart there are still exactly five. */
    e = open_engine(env->dir);
    assert_int_equal(fn_state_next_booking_id(fn_engine_state(e)), 6);
    fn_engine_close(e);
}

static void test_race_one_driver(void **state)
{
    struct t_env *env = env_of(state);
    fn_engine *e = open_engine(env->dir);
    const fn_state *s = fn_engine_state(e);
    uint64_t A = mk_company(e, "Racer Co", NULL);
    uint64_t D = mk_driver(e, FN_TT_van, 5, 20000, 0, NULL);
    struct racer r[RACERS];
    int wins = 0;
    for (int i = 0; i < RACERS; i++) {
        fn_load l = load_in(A, env->now);
        r[i].e = e;
        r[i].driver = D;
        r[i].load = mk_load(e, &l);
    }
    run_racers(r);
    for (int i = 0; i < RACERS; i++) {
        if (r[i].rc == 0)
            wins++;
        else
            assert_int_equal(r[i].rc, FN_EONTRIP);
    }
    assert_int_equal(wins, 1);
    assert_int_equal(fn_state_next_booking_id(s), 2);
    fn_engine_close(e);
}

/* ---- durability ------------------------------------------------------- */

/* Closes e and opens its data dir again: the reopened engine must hold
 * exactly the state e had (dumped into *before, which the caller frees)
 * and accept every token in m. Returns the reopened engine. */
static fn_engine *restart_same(fn_engine *e, const struct t_env *env, const market *m, fn_buf *before)
{
    fn_buf after;
    dump_state(e, env->now, before);
    fn_engine_close(e);

    e = open_engine(env->dir);
    dump_state(e, env->now, &after);
    assert_dumps_equal(before, &after);
    assert_tokens_work(e, m);
    fn_buf_free(&after);
    return e;
}

static void test_close_reopen_identical(void **state)
{
    struct t_env *env = env_of(state);
    fn_engine *e = open_engine(env->dir);
    market m = {0};
    fn_buf before;
    fn_engine_stats st;

    build_market(e, &m, env->now, 1);
    fn_engine_stats_get(e, &st);
    assert_true(st.log_records > 40);
    assert_int_equal(st.log_broken, 0);
    e = restart_same(e, env, &m, &before);
    fn_buf_free(&before);

    /* The restarted engine goes on where the old one stopped. */
    build_market(e, &m, env->now, 2);
    e = restart_same(e, env, &m, &before);
    fn_engine_close(e);
    fn_buf_free(&before);
}

static void test_snapshot_reopen_identical(void **state)
{
    struct t_env *env = env_of(state);
    fn_engine *e = open_engine(env->dir);
    market m = {0};
    fn_buf before, after;
    fn_engine_stats st;
    char first_seg[256];
    fn_result res;

    snprintf(first_seg, sizeof(first_seg), "%s/wal/wal-%016" PRIx64 ".log", env->dir, (uint64_t)1);
    build_market(e, &m, env->now, 3);
    assert_true(file_exists(first_seg));
    assert_int_equal(fn_engine_snapshot(e, 1), 0);
    fn_engine_stats_get(e, &st);
    assert_int_equal(st.snapshots, 1);
    assert_int_equal(st.snapshot_failures, 0);
    assert_true(st.last_snapshot_seq > 40);
    /* The log before the snapshot is gone: a restart needs the snapshot. */
    assert_false(file_exists(first_seg));

    /* More writes, some touching objects from before the snapshot. */
    build_market(e, &m, env->now, 4);
    {
        const fn_state *s = fn_engine_state(e);
        uint64_t nb, driver;
        int status, rated;
        fn_engine_rdlock(e);
        nb = fn_state_next_booking_id(s);
        fn_engine_rdunlock(e);
        for (uint64_t id = 1; id < nb; id++) {
            fn_engine_rdlock(e);
            driver = fn_state_booking(s, id)->driver_id;
            status = fn_state_booking(s, id)->status;
            rated = fn_state_booking(s, id)->driver_stars != 0;
            fn_engine_rdunlock(e);
            if (status == FN_BS_PICKED_UP)
                EXPECT_OK(fn_engine_trip_step(e, pd(driver), id, FN_REC_DELIVER, &res_));
            else if (status == FN_BS_DELIVERED && !rated)
                EXPECT_OK(fn_engine_rate(e, pd(driver), id, 3, "快照之后", &res_));
        }
    }
    e = restart_same(e, env, &m, &before);

    /* A snapshot with nothing after it, then a restart. */
    assert_int_equal(fn_engine_snapshot(e, 1), 0);
    fn_engine_close(e);
    e = open_engine(env->dir);
    dump_state(e, env->now, &after);
    assert_dumps_equal(&before, &after);
    /* And writes go on with the right ids. */
    {
        fn_company c;
        uint64_t id;
        char tok[FN_TOKEN_LEN + 1];
        memset(&c, 0, sizeof(c));
        c.name = "After";
        assert_int_equal(fn_engine_company_create(e, &c, &id, tok, &res), 0);
        assert_int_equal(id, 9);
    }
    fn_engine_close(e);
    fn_buf_free(&before);
    fn_buf_free(&after);
}

static void test_fsync_failure(void **state)
{
    struct t_env *env = env_of(state);
    fn_engine *e = open_engine(env->dir);
    const fn_state *s = fn_engine_state(e);
    char ctok[FN_TOKEN_LEN + 1], tok[FN_TOKEN_LEN + 1];
    uint64_t A, D, L, id, p, bid;
    fn_buf d0, dfail, dre;
    fn_engine_stats st;
    fn_load l;
    int failed_present;

    A = mk_company(e, "Before", ctok);
    D = mk_driver(e, FN_TT_van, 5, 20000, 0, NULL);
    l = load_in(A, env->now);
    L = mk_load(e, &l);
    position(e, D, 39.95, 116.45, env->now);
    dump_state(e, env->now, &d0);

    fn_engine_inject_fsync_failure(e);
    /* The write whose fsync fails is not acknowledged. */
    {
        fn_company c;
        memset(&c, 0, sizeof(c));
        c.name = "During";
        EXPECT_ERR(fn_engine_company_create(e, &c, &id, tok, &res_), FN_EUNAVAIL);
    }
    fn_engine_stats_get(e, &st);
    assert_int_equal(st.log_broken, 1);
    dump_state(e, env->now, &dfail);

    /* Neither is any later write, of any kind; and none changes the state. */
    {
        fn_company c;
        fn_gateway g = {0, "gw", 0};
        fn_driver dr = driver_in(FN_TT_van, 5, 20000, 0);
        fn_position pos = {D, 31.2, 121.4, env->now + 100, 0, 0};
        uint8_t refused;
        size_t acc = 99;
        memset(&c, 0, sizeof(c));
        c.name = "After";
        EXPECT_ERR(fn_engine_load_create(e, &l, &id, &res_), FN_EUNAVAIL);
        EXPECT_ERR(fn_engine_book(e, D, L, &bid, &res_), FN_EUNAVAIL);
        EXPECT_ERR(fn_engine_positions(e, &pos, 1, &refused, &acc, &res_), FN_EUNAVAIL);
        assert_int_equal(acc, 0);
        EXPECT_ERR(fn_engine_driver_status(e, D, FN_DS_OFFLINE, &res_), FN_EUNAVAIL);
        EXPECT_ERR(fn_engine_load_cancel(e, pc(A), L, &res_), FN_EUNAVAIL);
        EXPECT_ERR(fn_engine_company_create(e, &c, &id, tok, &res_), FN_EUNAVAIL);
        EXPECT_ERR(fn_engine_driver_create(e, &dr, &id, tok, &res_), FN_EUNAVAIL);
        EXPECT_ERR(fn_engine_gateway_create(e, &g, &id, tok, &res_), FN_EUNAVAIL);
        /* A refusal too: it was checked against a state that holds the failed
         * group's records, which the log cannot confirm (engine.c settle). */
        EXPECT_ERR(fn_engine_load_cancel(e, pc(A), 99, &res_), FN_EUNAVAIL);
    }
    {
        fn_buf now_dump;
        dump_state(e, env->now, &now_dump);
        assert_dumps_equal(&dfail, &now_dump);
        fn_buf_free(&now_dump);
    }
    /* Reads keep working. */
    fn_engine_rdlock(e);
    assert_int_equal(fn_state_load(s, L)->status, FN_LS_OPEN);
    assert_int_equal(fn_state_driver(s, D)->status, FN_DS_AVAILABLE);
    assert_true(fn_state_driver(s, D)->lat == 39.95);
    assert_int_equal(fn_state_next_load_id(s), 2);
    assert_int_equal(fn_state_next_booking_id(s), 1);
    {
        fn_load_hit h[4];
        assert_int_equal(fn_state_loads_near(s, 39.9, 116.4, 10, 4, env->now, h), 1);
    }
    fn_engine_rdunlock(e);
    assert_int_equal(fn_engine_authenticate(e, ctok, &p), 1);
    assert_true(p == pc(A));
    fn_engine_close(e);

    /* After a restart: the failed write may or may not be there; nothing
     * refused after it is; writes work again. */
    e = open_engine(env->dir);
    s = fn_engine_state(e);
    dump_state(e, env->now, &dre);
    failed_present = fn_state_next_company_id(s) == 3;
    if (failed_present)
        assert_dumps_equal(&dfail, &dre);
    else
        assert_dumps_equal(&d0, &dre);
    assert_int_equal(fn_state_next_load_id(s), 2);
    assert_int_equal(fn_state_next_booking_id(s), 1);
    assert_int_equal(fn_state_next_driver_id(s), 2);
    assert_int_equal(fn_state_next_gateway_id(s), 1);
    fn_engine_stats_get(e, &st);
    assert_int_equal(st.log_broken, 0);
    bid = book_ok(e, D, L);
    assert_int_equal(bid, 1);
    assert_int_equal(mk_company(e, "Again", NULL), failed_present ? 3 : 2);
    fn_engine_close(e);
    fn_buf_free(&d0);
    fn_buf_free(&dfail);
    fn_buf_free(&dre);
}

static void test_dir_locked(void **state)
{
    struct t_env *env = env_of(state);
    fn_engine *e = open_engine(env->dir), *e2 = NULL;
    fn_engine_config cfg = engine_config(env->dir);
    char err[512] = {0};

    mk_company(e, "Holder", NULL);
    assert_int_not_equal(fn_engine_open(&e2, &cfg, err, sizeof(err)), 0);
    assert_null(e2);
    assert_non_null(strstr(err, "in use"));
    /* The failed open changed nothing for the holder. */
    assert_int_equal(mk_company(e, "Holder 2", NULL), 2);
    fn_engine_close(e);

    /* Released on close. */
    e = open_engine(env->dir);
    assert_int_equal(fn_state_next_company_id(fn_engine_state(e)), 3);
    fn_engine_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_authenticate, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_open_errors, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_ops_and_errors, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_race_one_load, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_race_one_driver, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_close_reopen_identical, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_snapshot_reopen_identical, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_fsync_failure, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_dir_locked, setup_env, teardown_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
