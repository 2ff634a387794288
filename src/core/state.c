/*
 * state.c — the state's tables, string arena and read queries.
 */
#include "core/state_int.h"
#include "common/fn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void add_chunk(fn_table *t)
{
    if (t->nchunks == t->chunks_cap) {
        t->chunks_cap = t->chunks_cap ? t->chunks_cap * 2 : 16;
        t->chunks = fn_xrealloc(t->chunks, t->chunks_cap * sizeof(*t->chunks));
    }
    t->chunks[t->nchunks++] = fn_xcalloc(FN_TABLE_CHUNK, t->elem);
}

void fn__table_reserve(fn_table *t, uint64_t n)
{
    while ((uint64_t)t->nchunks * FN_TABLE_CHUNK < n)
        add_chunk(t);
}

void *fn__table_push(fn_table *t)
{
    uint64_t i = t->count;
    size_t c = (size_t)(i >> FN_TABLE_CHUNK_SHIFT);
    if (c >= t->nchunks)
        add_chunk(t);
    t->count++;
    return t->chunks[c] + (i & (FN_TABLE_CHUNK - 1)) * t->elem;
}

void fn__table_free(fn_table *t)
{
    for (size_t i = 0; i < t->nchunks; i++)
        free(t->chunks[i]);
    free(t->chunks);
    memset(t, 0, sizeof(*t));
}

#define ARENA_BLOCK (1u << 20)

const char *fn__arena_str(fn_arena *a, const char *s, size_t n)
{
    char *p;
    if (n == 0)
        return "";
    if (a->nblocks == 0 || a->used + n + 1 > ARENA_BLOCK) {
        size_t size = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;
        if (a->nblocks == a->blocks_cap) {
            a->blocks_cap = a->blocks_cap ? a->blocks_cap * 2 : 64;
            a->blocks = fn_xrealloc(a->blocks, a->blocks_cap * sizeof(*a->blocks));
        }
        a->blocks[a->nblocks++] = fn_xmalloc(size);
        a->used = 0;
        a->bytes += size;
    }
    p = (char *)a->blocks[a->nblocks - 1] + a->used;
    memcpy(p, s, n);
    p[n] = '\0';
    a->used += n + 1;
    return p;
}

fn_state *fn_state_new(const fn_state_config *cfg)
{
    fn_state *s = fn_xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    if (s->cfg.circuity <= 0)
        s->cfg.circuity = 1.3;
    if (s->cfg.grid_cell_deg <= 0)
        s->cfg.grid_cell_deg = 0.2;
    s->companies.elem = sizeof(fn_company);
    s->drivers.elem = sizeof(fn_driver);
    s->gateways.elem = sizeof(fn_gateway);
    s->loads.elem = sizeof(fn_load);
    s->bookings.elem = sizeof(fn_booking);
    s->tokens = fn_tokens_new();
    s->trucks = fn_grid_new(&s->cfg.area, s->cfg.grid_cell_deg, FN_TRUCK_LAYERS);
    s->open_loads = fn_grid_new(&s->cfg.area, s->cfg.grid_cell_deg, 1);
    s->an = fn_an_new();
    return s;
}

void fn_state_free(fn_state *s)
{
    if (!s)
        return;
    fn__table_free(&s->companies);
    fn__table_free(&s->drivers);
    fn__table_free(&s->gateways);
    fn__table_free(&s->loads);
    fn__table_free(&s->bookings);
    for (size_t i = 0; i < s->arena.nblocks; i++)
        free(s->arena.blocks[i]);
    free(s->arena.blocks);
    fn_tokens_free(s->tokens);
    fn_grid_free(s->trucks);
    fn_grid_free(s->open_loads);
    fn_an_free(s->an);
    free(s);
}

const fn_state_config *fn_state_cfg(const fn_state *s) { return &s->cfg; }
const fn_an *fn_state_analytics(const fn_state *s) { return s->an; }

const fn_company *fn_state_company(const fn_state *s, uint64_t id) { return fn__table_at(&s->companies, id); }
const fn_driver *fn_state_driver(const fn_state *s, uint64_t id) { return fn__table_at(&s->drivers, id); }
const fn_gateway *fn_state_gateway(const fn_state *s, uint64_t id) { return fn__table_at(&s->gateways, id); }
const fn_load *fn_state_load(const fn_state *s, uint64_t id) { return fn__table_at(&s->loads, id); }
const fn_booking *fn_state_booking(const fn_state *s, uint64_t id) { return fn__table_at(&s->bookings, id); }

uint64_t fn_state_next_company_id(const fn_state *s) { return s->companies.count + 1; }
uint64_t fn_state_next_driver_id(const fn_state *s) { return s->drivers.count + 1; }
uint64_t fn_state_next_gateway_id(const fn_state *s) { return s->gateways.count + 1; }
uint64_t fn_state_next_load_id(const fn_state *s) { return s->loads.count + 1; }
uint64_t fn_state_next_booking_id(const fn_state *s) { return s->bookings.count + 1; }

void fn_state_counts_get(const fn_state *s, fn_state_counts *out) { *out = s->counts; }

int fn_state_token_lookup(const fn_state *s, const uint8_t hash[FN_TOKEN_HASH_BYTES], uint64_t *principal)
{
    return fn_tokens_get(s->tokens, hash, principal);
}

void fn_state_reserve_tokens(fn_state *s, uint64_t n)
{
    fn_tokens_reserve(s->tokens, fn_tokens_count(s->tokens) + (size_t)n);
}

double fn_state_road_km(const fn_state *s, double lat1, double lon1, double lat2, double lon2)
{
    return fn_haversine_km(lat1, lon1, lat2, lon2) * s->cfg.circuity;
}

uint32_t fn_quant_pos(const fn_area *a, double lat, double lon)
{
    double y = floor((lat - a->lat_min) / (a->lat_max - a->lat_min) * 65536.0);
    double x = floor((lon - a->lon_min) / (a->lon_max - a->lon_min) * 65536.0);
    uint32_t qy = y < 0 ? 0 : y > 65535 ? 65535 : (uint32_t)y, qx = x < 0 ? 0 : x > 65535 ? 65535 : (uint32_t)x;
    return qy << 16 | qx;
}

void fn_quant_center(const fn_area *a, uint32_t q, double *lat, double *lon, double *tol)
{
    uint32_t qy = q >> 16, qx = q & 0xffff;
    double sy = (a->lat_max - a->lat_min) / 65536.0, sx = (a->lon_max - a->lon_min) / 65536.0;
    *lat = a->lat_min + (qy + 0.5) * sy;
    *lon = a->lon_min + (qx + 0.5) * sx;
    /* Half a step, and as much again for the rounding of the division. */
    *tol = qy == 0 || qy == 65535 || qx == 0 || qx == 65535 ? 1000.0 : sy > sx ? sy : sx;
}

static uint32_t rating_q(const fn_driver *d)
{
    uint32_t q;
    if (!d->rating_count)
        return FN_RATING_Q_UNRATED;
    q = (uint32_t)ceil(fn_rating01(d->rating_sum, d->rating_count) * 62.0 + 1e-9);
    return q > 62 ? 62 : q;
}

/* The histogram of ratings always describes the trucks in the grid: an
 * entry's rating bits are those of its driver's rating when it was filed,
 * and a rating changes only between fn__state_unindex_driver and
 * fn__state_index_driver. */
void fn__state_unindex_driver(fn_state *s, fn_driver *d)
{
    uint32_t item = (uint32_t)(d->id - 1);
    if (fn_grid_has(s->trucks, item)) {
        s->truck_rating_q[rating_q(d)]--;
        fn_grid_remove(s->trucks, item);
    }
}

void fn__state_index_driver(fn_state *s, fn_driver *d)
{
    uint32_t item = (uint32_t)(d->id - 1), cap, vol, rating = rating_q(d), attr;
    if (d->status != FN_DS_AVAILABLE || d->pos_ts <= 0) {
        fn__state_unindex_driver(s, d);
        fn_an_driver(s->an, &d->an_slot, 0, 0, 0);
        return;
    }
    fn_an_driver(s->an, &d->an_slot, 1, d->lat, d->lon);
    if (!fn_grid_has(s->trucks, item))
        s->truck_rating_q[rating]++;
    cap = d->capacity_kg / 100u;
    vol = d->volume_l ? (d->volume_l + 999u) / 1000u : 0;
    attr = (uint32_t)d->length_idx | (cap > FN_CAP_Q_MAX ? FN_CAP_Q_MAX : cap) << 4 |
           (vol > FN_VOL_Q_MAX ? FN_VOL_Q_MAX : vol) << 16 | rating << 26;
    fn_grid_put(s->trucks, item, d->truck_type, d->lat, d->lon, attr, fn_quant_pos(&s->cfg.area, d->home_lat, d->home_lon),
                d->provinces_mask);
}

void fn__state_move_driver(fn_state *s, fn_driver *d)
{
    if (d->status == FN_DS_AVAILABLE && fn_grid_move(s->trucks, (uint32_t)(d->id - 1), d->lat, d->lon) == 0) {
        fn_an_driver(s->an, &d->an_slot, 1, d->lat, d->lon);
        return;
    }
    fn__state_index_driver(s, d);
}

double fn_state_best_truck_rating(const fn_state *s)
{
    double best = 0.0;
    for (uint32_t q = 0; q < 64; q++)
        if (s->truck_rating_q[q] && fn_rating_q_value(q) > best)
            best = fn_rating_q_value(q);
    return best;
}

void fn__state_index_load(fn_state *s, const fn_load *l)
{
    uint32_t w = l->weight_kg / 100u, attr;
    int64_t yuan = (l->price_fen + 99) / 100;
    uint32_t price = yuan < 0 ? 0 : yuan > (int64_t)FN_PRICE_Q_MAX ? FN_PRICE_Q_MAX : (uint32_t)yuan;
    attr = (uint32_t)(l->types_mask & 0xfff) | (uint32_t)(l->min_length_idx + 1) << 12 |
           (w > FN_WEIGHT_Q_MAX ? FN_WEIGHT_Q_MAX : w) << 16;
    fn_grid_put(s->open_loads, (uint32_t)(l->id - 1), 0, l->origin.lat, l->origin.lon, attr,
                fn_quant_pos(&s->cfg.area, l->dest.lat, l->dest.lon), price | (uint32_t)(l->dest.province + 1) << 22);
}

struct truck_ctx {
    const fn_state *s;
    const fn_truck_query *q;
    fn_near_lb lb;
    struct {
        uint64_t key;     /* privacy cell, UINT64_MAX when empty */
        double dist_km;
    } snap[64];           /* distances from privacy cells seen */
};

/* The distance to a stored position's privacy cell centre, exactly as from
 * the record, or -1 when the float copy lies too near a cell edge to tell. */
static double snapped_dist(struct truck_ctx *c, const fn_grid_entry *e)
{
    double slat, slon;
    uint64_t key;
    size_t slot;
    if (fn_privacy_snap_float(e->lat, e->lon, &slat, &slon, &key) != 0)
        return -1;
    slot = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 58);
    if (c->snap[slot].key != key) {
        c->snap[slot].key = key;
        c->snap[slot].dist_km = fn_haversine_km(c->q->lat, c->q->lon, slat, slon);
    }
    return c->snap[slot].dist_km;
}

static int truck_filter(void *vctx, const fn_grid_entry *e, double bound_km, double *dist_km)
{
    struct truck_ctx *c = vctx;
    const fn_truck_query *q = c->q;
    const fn_driver *d;
    double lat, lon, slack = q->exact ? 0.0 : FN_PRIVACY_CELL_DEG * FN_KM_PER_DEG_LAT;
    uint32_t vol = fn_truck_attr_vol(e->attr), cap = fn_truck_attr_cap(e->attr);
    int sure; /* the entry settles capacity and volume without the record */

    if (q->min_length_idx >= 0 && (int)fn_truck_attr_len(e->attr) < q->min_length_idx)
        return 0;
    if (cap < FN_CAP_Q_MAX && cap < q->min_capacity_kg / 100u)
        return 0;
    if (q->min_volume_l && vol < FN_VOL_Q_MAX && vol * 1000u < q->min_volume_l)
        return 0;
    if (fn_near_lb_km(&c->lb, e->lat, e->lon) - slack > bound_km)
        return 0;
    /* capacity >= 100 * cap and volume > 1000 * (vol - 1) */
    sure = (uint64_t)cap * 100u >= q->min_capacity_kg && (!q->min_volume_l || (vol >= 1 && (vol - 1) * 1000u >= q->min_volume_l));
    if (sure && !q->exact && (*dist_km = snapped_dist(c, e)) >= 0)
        return 1;
    d = fn__table_at(&c->s->drivers, (uint64_t)e->item + 1);
    if (d->capacity_kg < q->min_capacity_kg || (q->min_volume_l && d->volume_l < q->min_volume_l))
        return 0;
    lat = d->lat, lon = d->lon;
    if (!q->exact)
        fn_privacy_snap(d->lat, d->lon, &lat, &lon);
    *dist_km = fn_haversine_km(q->lat, q->lon, lat, lon);
    return 1;
}

size_t fn_state_trucks_near(const fn_state *s, const fn_truck_query *q, fn_truck_hit *out)
{
    struct truck_ctx *c = fn_xmalloc(sizeof(*c));
    fn_grid_hit *hits;
    size_t n;
    /* Half a privacy cell's diagonal bounds how far a snapped point moves. */
    double slack_km = q->exact ? 0.0 : FN_PRIVACY_CELL_DEG * FN_KM_PER_DEG_LAT;
    uint32_t layers = q->types_mask ? q->types_mask : (1u << FN_TRUCK_LAYERS) - 1;

    if (q->limit == 0) {
        free(c);
        return 0;
    }
    c->s = s;
    c->q = q;
    for (size_t i = 0; i < FN_ARRAY_LEN(c->snap); i++)
        c->snap[i].key = UINT64_MAX;
    fn_near_lb_init(&c->lb, q->lat, q->lon, q->radius_km + slack_km);
    hits = fn_xmalloc(q->limit * sizeof(*hits));
    n = fn_grid_nearest(s->trucks, layers, q->lat, q->lon, q->radius_km, slack_km, q->limit, truck_filter, c, hits);
    free(c);
    for (size_t i = 0; i < n; i++) {
        const fn_driver *d = fn__table_at(&s->drivers, (uint64_t)hits[i].item + 1);
        out[i].driver = d;
        out[i].distance_km = hits[i].dist_km;
        out[i].lat = d->lat;
        out[i].lon = d->lon;
        if (!q->exact)
            fn_privacy_snap(d->lat, d->lon, &out[i].lat, &out[i].lon);
    }
    free(hits);
    return n;
}

struct load_ctx {
    const fn_state *s;
    double lat, lon;
    fn_near_lb lb;
    int64_t now_s;
};

static int load_filter(void *vctx, const fn_grid_entry *e, double bound_km, double *dist_km)
{
    struct load_ctx *c = vctx;
    const fn_load *l;
    if (fn_near_lb_km(&c->lb, e->lat, e->lon) > bound_km)
        return 0;
    l = fn__table_at(&c->s->loads, (uint64_t)e->item + 1);
    if (fn_load_status(l, c->now_s) != FN_LS_OPEN)
        return 0;
    *dist_km = fn_haversine_km(c->lat, c->lon, l->origin.lat, l->origin.lon);
    return 1;
}

size_t fn_state_loads_near(const fn_state *s, double lat, double lon, double radius_km, size_t limit,
                           int64_t now_s, fn_load_hit *out)
{
    struct load_ctx c = {s, lat, lon, {0, 0, 0}, now_s};
    fn_grid_hit *hits;
    size_t n;
    if (limit == 0)
        return 0;
    fn_near_lb_init(&c.lb, lat, lon, radius_km);
    hits = fn_xmalloc(limit * sizeof(*hits));
    n = fn_grid_nearest(s->open_loads, 1, lat, lon, radius_km, 0.0, limit, load_filter, &c, hits);
    for (size_t i = 0; i < n; i++) {
        out[i].load = fn__table_at(&s->loads, (uint64_t)hits[i].item + 1);
        out[i].distance_km = hits[i].dist_km;
    }
    free(hits);
    return n;
}

size_t fn_state_bytes(const fn_state *s)
{
    size_t b = sizeof(*s) + s->arena.bytes + fn_tokens_bytes(s->tokens) + fn_an_bytes(s->an);
    const fn_table *t[] = {&s->companies, &s->drivers, &s->gateways, &s->loads, &s->bookings};
    for (size_t i = 0; i < FN_ARRAY_LEN(t); i++)
        b += t[i]->nchunks * (size_t)FN_TABLE_CHUNK * t[i]->elem;
    return b;
}

void fn_state_visit_trucks(const fn_state *s, uint32_t types, double lat, double lon, double radius_km,
                           double slack_km, fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx)
{
    fn_grid_visit(s->trucks, types, lat, lon, radius_km, slack_km, visit, stop, ctx);
}

void fn_state_visit_open_loads(const fn_state *s, double lat, double lon, double radius_km, double slack_km,
                               fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx)
{
    fn_grid_visit(s->open_loads, 1, lat, lon, radius_km, slack_km, visit, stop, ctx);
}

void fn_state_grid_stats(const fn_state *s, fn_grid_stats *trucks, fn_grid_stats *loads)
{
    fn_grid_stats_get(s->trucks, trucks);
    fn_grid_stats_get(s->open_loads, loads);
}
