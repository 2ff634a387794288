/*
 * apply.c — log records: their payload layouts, encoders, and the one
 * function that applies them to the state.
 *
 * The same fn_state_apply() runs for a live write (right after the record is
 * appended to the log) and for every record replayed at start-up, so a
 * restart reproduces the state exactly.  It is deterministic: it reads the
 * clock never, only the times carried in the record.
 *
 * Payloads (little-endian; str = u16 byte length + UTF-8; f64 = IEEE-754
 * binary64 bits; hash = 16-byte keyed token hash):
 *
 *   1 COMPANY_CREATE  u64 id, i64 created_at, u8 kind, i8 province, str name,
 *                     str city, hash
 *   2 DRIVER_CREATE   u64 id, i64 created_at, str name, str phone, str plate,
 *                     f64 home_lat, f64 home_lon, u8 truck_type, u8 length_idx,
 *                     u32 capacity_kg, u32 volume_l, u32 provinces_mask, hash
 *   3 GATEWAY_CREATE  u64 id, i64 created_at, str name, hash
 *   4 POSITIONS       u32 n, then n x (u64 driver_id, f64 lat, f64 lon,
 *                     i64 ts, u16 speed_dkmh, u16 heading_ddeg)
 *   5 DRIVER_STATUS   u64 driver_id, u8 status, i64 ts
 *   6 LOAD_CREATE     u64 id, u64 company_id, i64 created_at,
 *                     origin (f64 lat, f64 lon, i8 province, str city),
 *                     destination (same), str cargo_kind, u32 weight_kg,
 *                     u32 volume_l, u16 types_mask, i8 min_length_idx,
 *                     i64 pickup_earliest_at, i64 pickup_latest_at,
 *                     i64 expires_at, i64 price_fen, str contact_name,
 *                     str contact_phone, str notes
 *   7 LOAD_CANCEL     u64 load_id, i64 ts
 *   8 BOOK            u64 booking_id, u64 load_id, u64 driver_id, i64 ts,
 *                     f64 deadhead_km, f64 loaded_km
 *   9 PICKUP          u64 booking_id, i64 ts
 *  10 DELIVER         u64 booking_id, i64 ts
 *  11 BOOKING_CANCEL  u64 booking_id, i64 ts, u8 by_role
 *  12 RATING          u64 booking_id, u8 by_role, u8 stars, str comment, i64 ts
 *  13 STATS_SAMPLE    i64 at_s: the hourly analytics sample (stats/analytics.h:
 *                     retire expired loads from demand, copy supply and demand
 *                     per city into the ring of 24 hours)
 */
#include "common/fn.h"
#include "core/records.h"
#include "core/state_int.h"

#include <string.h>

int fn__put_place(fn_buf *b, const fn_place *p)
{
    int r = 0;
    r |= fn_buf_f64(b, p->lat);
    r |= fn_buf_f64(b, p->lon);
    r |= fn_buf_u8(b, (uint8_t)p->province);
    r |= fn_buf_str(b, p->city);
    return r ? FN_ETOOBIG : 0;
}

int fn_rec_company_create(fn_buf *b, const fn_company *c, const uint8_t token_hash[FN_TOKEN_HASH_BYTES])
{
    int r = 0;
    r |= fn_buf_u64(b, c->id);
    r |= fn_buf_i64(b, c->created_at);
    r |= fn_buf_u8(b, c->kind);
    r |= fn_buf_u8(b, (uint8_t)c->province);
    r |= fn_buf_str(b, c->name);
    r |= fn_buf_str(b, c->city);
    r |= fn_buf_put(b, token_hash, FN_TOKEN_HASH_BYTES);
    return r ? FN_ETOOBIG : 0;
}

int fn_rec_driver_create(fn_buf *b, const fn_driver *d, const uint8_t token_hash[FN_TOKEN_HASH_BYTES])
{
    int r = 0;
    r |= fn_buf_u64(b, d->id);
    r |= fn_buf_i64(b, d->created_at);
    r |= fn_buf_str(b, d->name);
    r |= fn_buf_str(b, d->phone);
    r |= fn_buf_str(b, d->plate);
    r |= fn_buf_f64(b, d->home_lat);
    r |= fn_buf_f64(b, d->home_lon);
    r |= fn_buf_u8(b, d->truck_type);
    r |= fn_buf_u8(b, d->length_idx);
    r |= fn_buf_u32(b, d->capacity_kg);
    r |= fn_buf_u32(b, d->volume_l);
    r |= fn_buf_u32(b, d->provinces_mask);
    r |= fn_buf_put(b, token_hash, FN_TOKEN_HASH_BYTES);
    return r ? FN_ETOOBIG : 0;
}

int fn_rec_gateway_create(fn_buf *b, const fn_gateway *g, const uint8_t token_hash[FN_TOKEN_HASH_BYTES])
{
    int r = 0;
    r |= fn_buf_u64(b, g->id);
    r |= fn_buf_i64(b, g->created_at);
    r |= fn_buf_str(b, g->name);
    r |= fn_buf_put(b, token_hash, FN_TOKEN_HASH_BYTES);
    return r ? FN_ETOOBIG : 0;
}

int fn_rec_positions(fn_buf *b, const fn_position *p, uint32_t n)
{
    uint8_t *w;
    if (fn_buf_u32(b, n) || fn_buf_reserve(b, (size_t)n * FN_POSITION_REC_BYTES))
        return FN_ETOOBIG;
    /* Encode in place: this is the hottest encoder (batches of 10,000). */
    w = b->data + b->len;
    for (uint32_t i = 0; i < n; i++, w += FN_POSITION_REC_BYTES) {
        uint64_t u;
        fn_le64_put(w, p[i].driver_id);
        memcpy(&u, &p[i].lat, 8);
        fn_le64_put(w + 8, u);
        memcpy(&u, &p[i].lon, 8);
        fn_le64_put(w + 16, u);
        fn_le64_put(w + 24, (uint64_t)p[i].ts);
        w[32] = (uint8_t)p[i].speed_dkmh;
        w[33] = (uint8_t)(p[i].speed_dkmh >> 8);
        w[34] = (uint8_t)p[i].heading_ddeg;
        w[35] = (uint8_t)(p[i].heading_ddeg >> 8);
    }
    b->len += (size_t)n * FN_POSITION_REC_BYTES;
    return 0;
}

int fn_rec_driver_status(fn_buf *b, uint64_t driver_id, int status, int64_t ts)
{
    int r = fn_buf_u64(b, driver_id) | fn_buf_u8(b, (uint8_t)status) | fn_buf_i64(b, ts);
    return r ? FN_ETOOBIG : 0;
}

int fn_rec_load_create(fn_buf *b, const fn_load *l)
{
    int r = 0;
    r |= fn_buf_u64(b, l->id);
    r |= fn_buf_u64(b, l->company_id);
    r |= fn_buf_i64(b, l->created_at);
    r |= fn__put_place(b, &l->origin);
    r |= fn__put_place(b, &l->dest);
    r |= fn_buf_str(b, l->cargo_kind);
    r |= fn_buf_u32(b, l->weight_kg);
    r |= fn_buf_u32(b, l->volume_l);
    r |= fn_buf_u16(b, l->types_mask);
    r |= fn_buf_u8(b, (uint8_t)l->min_length_idx);
    r |= fn_buf_i64(b, l->pickup_earliest_at);
    r |= fn_buf_i64(b, l->pickup_latest_at);
    r |= fn_buf_i64(b, l->expires_at);
    r |= fn_buf_i64(b, l->price_fen);
    r |= fn_buf_str(b, l->contact_name);
    r |= fn_buf_str(b, l->contact_phone);
    r |= fn_buf_str(b, l->notes);
    return r ? FN_ETOOBIG : 0;
}

int fn_rec_load_cancel(fn_buf *b, uint64_t load_id, int64_t ts)
{
    return fn_buf_u64(b, load_id) | fn_buf_i64(b, ts) ? FN_ETOOBIG : 0;
}

int fn_rec_book(fn_buf *b, const fn_booking *bk)
{
    int r = 0;
    r |= fn_buf_u64(b, bk->id);
    r |= fn_buf_u64(b, bk->load_id);
    r |= fn_buf_u64(b, bk->driver_id);
    r |= fn_buf_i64(b, bk->booked_at);
    r |= fn_buf_f64(b, bk->deadhead_km);
    r |= fn_buf_f64(b, bk->loaded_km);
    return r ? FN_ETOOBIG : 0;
}

int fn_rec_booking_event(fn_buf *b, uint64_t booking_id, int64_t ts)
{
    return fn_buf_u64(b, booking_id) | fn_buf_i64(b, ts) ? FN_ETOOBIG : 0;
}

int fn_rec_booking_cancel(fn_buf *b, uint64_t booking_id, int64_t ts, int by_role)
{
    return fn_buf_u64(b, booking_id) | fn_buf_i64(b, ts) | fn_buf_u8(b, (uint8_t)by_role) ? FN_ETOOBIG : 0;
}

int fn_rec_rating(fn_buf *b, uint64_t booking_id, int by_role, int stars, const char *comment, int64_t ts)
{
    int r = 0;
    r |= fn_buf_u64(b, booking_id);
    r |= fn_buf_u8(b, (uint8_t)by_role);
    r |= fn_buf_u8(b, (uint8_t)stars);
    r |= fn_buf_str(b, comment);
    r |= fn_buf_i64(b, ts);
    return r ? FN_ETOOBIG : 0;
}

int fn_rec_stats_sample(fn_buf *b, int64_t at_s) { return fn_buf_i64(b, at_s) ? FN_ETOOBIG : 0; }

/* ---- applying ---- */

/* Strings in records are at most 65535 bytes (u16 length). */
const char *fn__rd_str(fn_state *s, fn_rd *r)
{
    uint16_t n = fn_rd_u16(r);
    const uint8_t *p;
    if (fn_rd_bytes(r, &p, n) != 0)
        return "";
    return fn__arena_str(&s->arena, (const char *)p, n);
}

void fn__rd_place(fn_state *s, fn_rd *r, fn_place *p)
{
    p->lat = fn_rd_f64(r);
    p->lon = fn_rd_f64(r);
    p->province = (int8_t)fn_rd_u8(r);
    p->city = fn__rd_str(s, r);
}

int fn__company_ok(const fn_company *c)
{
    return c->kind < FN_CK__COUNT && c->province >= -1 && c->province < FN_PROVINCE_COUNT;
}

int fn__load_ok(const fn_state *s, const fn_load *l)
{
    return fn__table_at(&s->companies, l->company_id) != NULL && l->origin.province >= -1 &&
           l->origin.province < FN_PROVINCE_COUNT && l->dest.province >= -1 && l->dest.province < FN_PROVINCE_COUNT &&
           l->min_length_idx >= -1 && l->min_length_idx < FN_TRUCK_LENGTH_COUNT && l->types_mask != 0 &&
           l->types_mask < (1u << FN_TT__COUNT) && l->status <= FN_LS_CANCELLED;
}

static void load_set_status(fn_state *s, fn_load *l, int status)
{
    if (l->status == FN_LS_OPEN && status != FN_LS_OPEN)
        fn_an_load_closed(s->an, l->id);
    s->counts.loads_by_status[l->status]--;
    l->status = (uint8_t)status;
    s->counts.loads_by_status[status]++;
    if (status != FN_LS_OPEN)
        fn_grid_remove(s->open_loads, (uint32_t)(l->id - 1));
}

static void driver_set_status(fn_state *s, fn_driver *d, int status)
{
    s->counts.drivers_by_status[d->status]--;
    d->status = (uint8_t)status;
    s->counts.drivers_by_status[status]++;
    fn__state_index_driver(s, d);
}

static int apply_company(fn_state *s, fn_rd *r)
{
    uint64_t id = fn_rd_u64(r);
    fn_company *c;
    const uint8_t *hash;
    if (id != s->companies.count + 1)
        return FN_ECORRUPT;
    c = fn__table_push(&s->companies);
    c->id = id;
    c->created_at = fn_rd_i64(r);
    c->kind = fn_rd_u8(r);
    c->province = (int8_t)fn_rd_u8(r);
    c->name = fn__rd_str(s, r);
    c->city = fn__rd_str(s, r);
    if (!fn__company_ok(c))
        return FN_ECORRUPT;
    if (fn_rd_bytes(r, &hash, FN_TOKEN_HASH_BYTES) == 0)
        fn_tokens_put(s->tokens, hash, fn_principal(FN_ROLE_COMPANY, id));
    s->counts.companies++;
    return 0;
}

static int apply_driver(fn_state *s, fn_rd *r)
{
    uint64_t id = fn_rd_u64(r);
    fn_driver *d;
    const uint8_t *hash;
    if (id != s->drivers.count + 1)
        return FN_ECORRUPT;
    d = fn__table_push(&s->drivers);
    d->id = id;
    d->created_at = fn_rd_i64(r);
    d->name = fn__rd_str(s, r);
    d->phone = fn__rd_str(s, r);
    d->plate = fn__rd_str(s, r);
    d->home_lat = fn_rd_f64(r);
    d->home_lon = fn_rd_f64(r);
    d->truck_type = fn_rd_u8(r);
    d->length_idx = fn_rd_u8(r);
    d->capacity_kg = fn_rd_u32(r);
    d->volume_l = fn_rd_u32(r);
    d->provinces_mask = fn_rd_u32(r);
    d->heading_ddeg = 0xffff;
    d->status = FN_DS_AVAILABLE;
    if (d->truck_type >= FN_TT__COUNT || d->length_idx >= FN_TRUCK_LENGTH_COUNT)
        return FN_ECORRUPT;
    if (fn_rd_bytes(r, &hash, FN_TOKEN_HASH_BYTES) == 0)
        fn_tokens_put(s->tokens, hash, fn_principal(FN_ROLE_DRIVER, id));
    s->counts.drivers++;
    s->counts.drivers_by_status[FN_DS_AVAILABLE]++;
    return 0;
}

static int apply_gateway(fn_state *s, fn_rd *r)
{
    uint64_t id = fn_rd_u64(r);
    fn_gateway *g;
    const uint8_t *hash;
    if (id != s->gateways.count + 1)
        return FN_ECORRUPT;
    g = fn__table_push(&s->gateways);
    g->id = id;
    g->created_at = fn_rd_i64(r);
    g->name = fn__rd_str(s, r);
    if (fn_rd_bytes(r, &hash, FN_TOKEN_HASH_BYTES) == 0)
        fn_tokens_put(s->tokens, hash, fn_principal(FN_ROLE_GATEWAY, id));
    s->counts.gateways++;
    return 0;
}

static int apply_positions(fn_state *s, fn_rd *r)
{
    uint32_t n = fn_rd_u32(r);
    const uint8_t *p;
    if (r->err || (uint64_t)n * FN_POSITION_REC_BYTES != r->len - r->off)
        return FN_ECORRUPT;
    fn_rd_bytes(r, &p, (size_t)n * FN_POSITION_REC_BYTES);
    for (uint32_t i = 0; i < n; i++, p += FN_POSITION_REC_BYTES) {
        fn_driver *d;
        /* Moves land all over the grid: a few positions ahead, ask for the
         * driver and its place in the grid's maps; nearer, for its cells. */
        if (i + 16 < n) {
            uint64_t qid = fn_le64_get(p + 16 * FN_POSITION_REC_BYTES);
            if (qid >= 1 && qid <= s->drivers.count) {
                __builtin_prefetch(fn__driver(s, qid));
                fn_grid_prefetch_item(s->trucks, (uint32_t)(qid - 1));
            }
        }
        if (i + 8 < n) {
            const uint8_t *q = p + 8 * FN_POSITION_REC_BYTES;
            uint64_t qid = fn_le64_get(q), u;
            double qlat, qlon;
            if (qid >= 1 && qid <= s->drivers.count) {
                u = fn_le64_get(q + 8);
                memcpy(&qlat, &u, 8);
                u = fn_le64_get(q + 16);
                memcpy(&qlon, &u, 8);
                fn_grid_prefetch(s->trucks, (uint32_t)(qid - 1), fn__driver(s, qid)->truck_type, qlat, qlon);
            }
        }
        d = fn__driver(s, fn_le64_get(p));
        int64_t ts = (int64_t)fn_le64_get(p + 24);
        uint64_t u;
        if (!d)
            return FN_ECORRUPT;
        if (ts < d->pos_ts) {
            s->counts.positions_stale++;
            continue;
        }
        u = fn_le64_get(p + 8);
        memcpy(&d->lat, &u, 8);
        u = fn_le64_get(p + 16);
        memcpy(&d->lon, &u, 8);
        d->pos_ts = ts;
        d->speed_dkmh = (uint16_t)(p[32] | p[33] << 8);
        d->heading_ddeg = (uint16_t)(p[34] | p[35] << 8);
        fn__state_move_driver(s, d);
        s->counts.positions_applied++;
    }
    return 0;
}

static int apply_driver_status(fn_state *s, fn_rd *r)
{
    fn_driver *d = fn__driver(s, fn_rd_u64(r));
    int status = fn_rd_u8(r);
    (void)fn_rd_i64(r); /* when it changed; kept in the log for audit */
    if (!d || (status != FN_DS_AVAILABLE && status != FN_DS_OFFLINE) || d->status == FN_DS_ON_TRIP)
        return FN_ECORRUPT;
    driver_set_status(s, d, status);
    return 0;
}

static int apply_load(fn_state *s, fn_rd *r)
{
    uint64_t id = fn_rd_u64(r);
    fn_load *l;
    fn_company *c;
    if (id != s->loads.count + 1)
        return FN_ECORRUPT;
    l = fn__table_push(&s->loads);
    l->id = id;
    l->company_id = fn_rd_u64(r);
    l->created_at = fn_rd_i64(r);
    fn__rd_place(s, r, &l->origin);
    fn__rd_place(s, r, &l->dest);
    l->cargo_kind = fn__rd_str(s, r);
    l->weight_kg = fn_rd_u32(r);
    l->volume_l = fn_rd_u32(r);
    l->types_mask = fn_rd_u16(r);
    l->min_length_idx = (int8_t)fn_rd_u8(r);
    l->pickup_earliest_at = fn_rd_i64(r);
    l->pickup_latest_at = fn_rd_i64(r);
    l->expires_at = fn_rd_i64(r);
    l->price_fen = fn_rd_i64(r);
    l->contact_name = fn__rd_str(s, r);
    l->contact_phone = fn__rd_str(s, r);
    l->notes = fn__rd_str(s, r);
    l->status = FN_LS_OPEN;
    if (!fn__load_ok(s, l))
        return FN_ECORRUPT;
    c = fn__company(s, l->company_id);
    c->loads_posted++;
    s->counts.loads++;
    s->counts.loads_by_status[FN_LS_OPEN]++;
    fn__state_index_load(s, l);
    fn_an_load_posted(s->an, l, fn_state_road_km(s, l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon), 1);
    return 0;
}

static int apply_load_cancel(fn_state *s, fn_rd *r)
{
    fn_load *l = fn__load(s, fn_rd_u64(r));
    fn_company *c;
    (void)fn_rd_i64(r); /* when; kept in the log for audit */
    if (!l || l->status != FN_LS_OPEN)
        return FN_ECORRUPT;
    load_set_status(s, l, FN_LS_CANCELLED);
    c = fn__company(s, l->company_id);
    c->loads_cancelled++;
    return 0;
}

static int apply_book(fn_state *s, fn_rd *r)
{
    uint64_t id = fn_rd_u64(r);
    fn_booking *b;
    fn_load *l;
    fn_driver *d;
    if (id != s->bookings.count + 1)
        return FN_ECORRUPT;
    b = fn__table_push(&s->bookings);
    b->id = id;
    b->load_id = fn_rd_u64(r);
    b->driver_id = fn_rd_u64(r);
    b->booked_at = fn_rd_i64(r);
    b->deadhead_km = fn_rd_f64(r);
    b->loaded_km = fn_rd_f64(r);
    b->status = FN_BS_BOOKED;
    l = fn__load(s, b->load_id);
    d = fn__driver(s, b->driver_id);
    if (!l || !d || l->status != FN_LS_OPEN || d->status == FN_DS_ON_TRIP)
        return FN_ECORRUPT;
    b->company_id = l->company_id;
    l->booking_id = id;
    load_set_status(s, l, FN_LS_BOOKED);
    d->booking_id = id;
    driver_set_status(s, d, FN_DS_ON_TRIP);
    fn__company(s, l->company_id)->loads_booked++;
    s->counts.bookings++;
    fn_an_booked(s->an, b->booked_at, l->created_at);
    return 0;
}

static int apply_pickup(fn_state *s, fn_rd *r)
{
    fn_booking *b = fn__booking(s, fn_rd_u64(r));
    int64_t ts = fn_rd_i64(r);
    if (!b || b->status != FN_BS_BOOKED)
        return FN_ECORRUPT;
    b->status = FN_BS_PICKED_UP;
    b->picked_up_at = ts;
    load_set_status(s, fn__load(s, b->load_id), FN_LS_IN_TRANSIT);
    return 0;
}

static int apply_deliver(fn_state *s, fn_rd *r)
{
    fn_booking *b = fn__booking(s, fn_rd_u64(r));
    int64_t ts = fn_rd_i64(r);
    fn_load *l;
    fn_driver *d;
    if (!b || b->status != FN_BS_PICKED_UP)
        return FN_ECORRUPT;
    l = fn__load(s, b->load_id);
    d = fn__driver(s, b->driver_id);
    b->status = FN_BS_DELIVERED;
    b->delivered_at = ts;
    load_set_status(s, l, FN_LS_DELIVERED);
    fn__company(s, l->company_id)->loads_delivered++;
    fn_an_delivered(s->an, ts, b->deadhead_km, b->loaded_km);
    /* The truck stands at the delivery point until its next report says otherwise. */
    if (d->pos_ts <= ts) {
        d->lat = l->dest.lat;
        d->lon = l->dest.lon;
        d->pos_ts = ts;
        d->speed_dkmh = 0;
    }
    d->booking_id = 0;
    d->trips_delivered++;
    driver_set_status(s, d, FN_DS_AVAILABLE);
    return 0;
}

static int apply_booking_cancel(fn_state *s, fn_rd *r)
{
    fn_booking *b = fn__booking(s, fn_rd_u64(r));
    int64_t ts = fn_rd_i64(r);
    int by = fn_rd_u8(r);
    fn_load *l;
    fn_driver *d;
    if (!b || b->status != FN_BS_BOOKED)
        return FN_ECORRUPT;
    l = fn__load(s, b->load_id);
    d = fn__driver(s, b->driver_id);
    b->status = FN_BS_CANCELLED;
    b->cancelled_at = ts;
    b->cancelled_by = (uint8_t)by;
    /* A load is booked at most once in its life (the API contract): cancelling
     * its booking cancels the load; the shipper posts it again if need be. */
    load_set_status(s, l, FN_LS_CANCELLED);
    fn__company(s, l->company_id)->loads_cancelled++;
    d->booking_id = 0;
    driver_set_status(s, d, FN_DS_AVAILABLE);
    return 0;
}

static int apply_rating(fn_state *s, fn_rd *r)
{
    fn_booking *b = fn__booking(s, fn_rd_u64(r));
    int by = fn_rd_u8(r);
    int stars = fn_rd_u8(r);
    const char *comment = fn__rd_str(s, r);
    (void)fn_rd_i64(r); /* when; kept in the log for audit */
    if (!b || b->status != FN_BS_DELIVERED || stars < 1 || stars > 5)
        return FN_ECORRUPT;
    if (by == FN_ROLE_COMPANY && !b->company_stars) {
        fn_driver *d = fn__driver(s, b->driver_id);
        b->company_stars = (uint8_t)stars;
        b->company_comment = comment;
        fn__state_unindex_driver(s, d); /* its entry carries the rating */
        d->rating_sum += (uint32_t)stars;
        d->rating_count++;
        fn__state_index_driver(s, d);
    } else if (by == FN_ROLE_DRIVER && !b->driver_stars) {
        fn_company *c = fn__company(s, b->company_id);
        b->driver_stars = (uint8_t)stars;
        b->driver_comment = comment;
        c->rating_sum += (uint32_t)stars;
        c->rating_count++;
    } else {
        return FN_ECORRUPT;
    }
    return 0;
}

static int apply_stats_sample(fn_state *s, fn_rd *r)
{
    int64_t at = fn_rd_i64(r);
    if (r->err)
        return FN_ECORRUPT;
    fn_an_sample(s->an, at);
    return 0;
}

int fn_state_apply(fn_state *s, uint8_t type, const uint8_t *data, uint32_t len)
{
    fn_rd r;
    int rc;
    fn_rd_init(&r, data, len);
    switch (type) {
    case FN_REC_COMPANY_CREATE: rc = apply_company(s, &r); break;
    case FN_REC_DRIVER_CREATE: rc = apply_driver(s, &r); break;
    case FN_REC_GATEWAY_CREATE: rc = apply_gateway(s, &r); break;
    case FN_REC_POSITIONS: rc = apply_positions(s, &r); break;
    case FN_REC_DRIVER_STATUS: rc = apply_driver_status(s, &r); break;
    case FN_REC_LOAD_CREATE: rc = apply_load(s, &r); break;
    case FN_REC_LOAD_CANCEL: rc = apply_load_cancel(s, &r); break;
    case FN_REC_BOOK: rc = apply_book(s, &r); break;
    case FN_REC_PICKUP: rc = apply_pickup(s, &r); break;
    case FN_REC_DELIVER: rc = apply_deliver(s, &r); break;
    case FN_REC_BOOKING_CANCEL: rc = apply_booking_cancel(s, &r); break;
    case FN_REC_RATING: rc = apply_rating(s, &r); break;
    case FN_REC_STATS_SAMPLE: rc = apply_stats_sample(s, &r); break;
    default: return FN_ECORRUPT;
    }
    if (rc == 0 && (r.err || r.off != r.len))
        rc = FN_ECORRUPT;
    return rc;
}
