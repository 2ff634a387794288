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
        s->cfg.grid_cell_deg = 0.05;
    s->companies.elem = sizeof(fn_company);
    s->drivers.elem = sizeof(fn_driver);
    s->gateways.elem = sizeof(fn_gateway);
    s->loads.elem = sizeof(fn_load);
    s->bookings.elem = sizeof(fn_booking);
    s->tokens = fn_tokens_new();
    s->trucks = fn_grid_new(&s->cfg.area, s->cfg.grid_cell_deg);
    s->open_loads = fn_grid_new(&s->cfg.area, s->cfg.grid_cell_deg);
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
    free(s);
}

const fn_state_config *fn_state_cfg(const fn_state *s) { return &s->cfg; }

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

double fn_state_road_km(const fn_state *s, double lat1, double lon1, double lat2, double lon2)
{
    return fn_haversine_km(lat1, lon1, lat2, lon2) * s->cfg.circuity;
}

void fn__state_index_driver(fn_state *s, fn_driver *d)
{
    uint32_t item = (uint32_t)(d->id - 1);
    if (d->status == FN_DS_AVAILABLE && d->pos_ts > 0)
        fn_grid_put_attr(s->trucks, item, d->lat, d->lon, fn_truck_attr(d));
    else
        fn_grid_remove(s->trucks, item);
}

struct truck_ctx {
    const fn_state *s;
    const fn_truck_query *q;
};

static int truck_filter(void *vctx, uint32_t item, double *dist_km)
{
    struct truck_ctx *c = vctx;
    const fn_truck_query *q = c->q;
    const fn_driver *d = fn__table_at(&c->s->drivers, (uint64_t)item + 1);
    double lat = d->lat, lon = d->lon;

    if (q->types_mask && !(q->types_mask & (1u << d->truck_type)))
        return 0;
    if (q->min_length_idx >= 0 && d->length_idx < q->min_length_idx)
        return 0;
    if (d->capacity_kg < q->min_capacity_kg)
        return 0;
    if (q->min_volume_l && d->volume_l < q->min_volume_l)
        return 0;
    if (!q->exact)
        fn_privacy_snap(d->lat, d->lon, &lat, &lon);
    *dist_km = fn_haversine_km(q->lat, q->lon, lat, lon);
    return 1;
}

size_t fn_state_trucks_near(const fn_state *s, const fn_truck_query *q, fn_truck_hit *out)
{
    struct truck_ctx c = {s, q};
    fn_grid_hit *hits;
    size_t n;
    /* Half a privacy cell's diagonal bounds how far a snapped point moves. */
    double slack_km = q->exact ? 0.0 : FN_PRIVACY_CELL_DEG * FN_KM_PER_DEG_LAT;

    if (q->limit == 0)
        return 0;
    hits = fn_xmalloc(q->limit * sizeof(*hits));
    n = fn_grid_nearest(s->trucks, q->lat, q->lon, q->radius_km, slack_km, q->limit, truck_filter, &c, hits);
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
    int64_t now_s;
};

static int load_filter(void *vctx, uint32_t item, double *dist_km)
{
    struct load_ctx *c = vctx;
    const fn_load *l = fn__table_at(&c->s->loads, (uint64_t)item + 1);
    if (fn_load_status(l, c->now_s) != FN_LS_OPEN)
        return 0;
    *dist_km = fn_haversine_km(c->lat, c->lon, l->origin.lat, l->origin.lon);
    return 1;
}

size_t fn_state_loads_near(const fn_state *s, double lat, double lon, double radius_km, size_t limit,
                           int64_t now_s, fn_load_hit *out)
{
    struct load_ctx c = {s, lat, lon, now_s};
    fn_grid_hit *hits;
    size_t n;
    if (limit == 0)
        return 0;
    hits = fn_xmalloc(limit * sizeof(*hits));
    n = fn_grid_nearest(s->open_loads, lat, lon, radius_km, 0.0, limit, load_filter, &c, hits);
    for (size_t i = 0; i < n; i++) {
        out[i].load = fn__table_at(&s->loads, (uint64_t)hits[i].item + 1);
        out[i].distance_km = hits[i].dist_km;
    }
    free(hits);
    return n;
}

size_t fn_state_bytes(const fn_state *s)
{
    size_t b = sizeof(*s) + s->arena.bytes + fn_tokens_bytes(s->tokens);
    const fn_table *t[] = {&s->companies, &s->drivers, &s->gateways, &s->loads, &s->bookings};
    for (size_t i = 0; i < FN_ARRAY_LEN(t); i++)
        b += t[i]->nchunks * (size_t)FN_TABLE_CHUNK * t[i]->elem;
    return b;
}

void fn_state_visit_trucks(const fn_state *s, double lat, double lon, double radius_km, double slack_km,
                           fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx)
{
    fn_grid_visit(s->trucks, lat, lon, radius_km, slack_km, visit, stop, ctx);
}

void fn_state_visit_open_loads(const fn_state *s, double lat, double lon, double radius_km, double slack_km,
                               fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx)
{
    fn_grid_visit(s->open_loads, lat, lon, radius_km, slack_km, visit, stop, ctx);
}
