/*
 * state_snap.c — the state as a snapshot stream.
 *
 * The stream (inside the compressed frame that snapfile.c writes) is:
 *
 *   8 bytes  "FNSTATE1"
 *   u32      version (2; version 1 streams, without the analytics entity,
 *            still load)
 *   u64 x 6  companies, drivers, gateways, loads, bookings, tokens
 *   u64 x 2  positions_applied, positions_stale (counters)
 *   blocks   u32 byte length, then whole entities (never split across
 *            blocks), in the order: every company, every driver, every
 *            gateway, every load, every booking, every token, and (version
 *            2) one analytics entity; a block of length 0 ends the stream.
 *
 * Entities (little-endian, str = u16 length + bytes, f64 = IEEE-754 bits):
 *   company  u8 kind, i8 province, i64 created_at, str name, str city,
 *            u32 rating_sum, u32 rating_count, u32 loads_posted,
 *            u32 loads_booked, u32 loads_delivered, u32 loads_cancelled
 *   driver   str name, str phone, str plate, f64 home_lat, f64 home_lon,
 *            f64 lat, f64 lon, i64 pos_ts, u16 speed_dkmh, u16 heading_ddeg,
 *            u32 capacity_kg, u32 volume_l, u8 truck_type, u8 length_idx,
 *            u8 status, u32 provinces_mask, u64 booking_id, u32 rating_sum,
 *            u32 rating_count, u32 trips_delivered, i64 created_at
 *   gateway  i64 created_at, str name
 *   load     u64 company_id, origin (f64 lat, f64 lon, i8 province, str city),
 *            destination (same), str cargo_kind, str contact_name,
 *            str contact_phone, str notes, u32 weight_kg, u32 volume_l,
 *            u16 types_mask, i8 min_length_idx, u8 status,
 *            i64 pickup_earliest_at, i64 pickup_latest_at, i64 expires_at,
 *            i64 created_at, i64 price_fen, u64 booking_id
 *   booking  u64 load_id, u64 driver_id, u64 company_id, u8 status,
 *            u8 cancelled_by, u8 company_stars, u8 driver_stars,
 *            str company_comment, str driver_comment, i64 booked_at,
 *            i64 picked_up_at, i64 delivered_at, i64 cancelled_at,
 *            f64 deadhead_km, f64 loaded_km
 *   token    16-byte hash, u64 principal
 *   analytics the hourly samples, as fn_an_save_hourly writes them
 *            (stats/analytics.h): u32 n, then n x (i64 hour_at, u32 cities,
 *            cities x (u32 supply, u32 demand))
 * Ids are implicit: the n-th entity of a kind has id n.  Grids, status
 * counters and every other aggregate of the analytics are rebuilt on load
 * from the tables (the analytics' events replayed over every load, booking
 * and driver, which gives the same aggregates: they do not depend on order).
 */
#include "common/buf.h"
#include "common/fn.h"
#include "core/state_int.h"
#include "store/snapfile.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BLOCK_BYTES (1u << 20)

typedef struct writer {
    struct fn_snapw *w;
    fn_buf buf;
    int err;
} writer;

static void flush_block(writer *wr, int force)
{
    uint8_t len[4];
    if (wr->err || (!force && wr->buf.len < BLOCK_BYTES))
        return;
    if (wr->buf.len == 0 && !force)
        return;
    fn_le32_put(len, (uint32_t)wr->buf.len);
    if (fn_snapw_write(wr->w, len, 4) != 0 || (wr->buf.len && fn_snapw_write(wr->w, wr->buf.data, wr->buf.len) != 0))
        wr->err = FN_EIO;
    fn_buf_reset(&wr->buf);
}

static void put_token(void *ctx, const uint8_t *hash, uint64_t principal)
{
    writer *wr = ctx;
    fn_buf_put(&wr->buf, hash, FN_TOKEN_HASH_BYTES);
    fn_buf_u64(&wr->buf, principal);
    flush_block(wr, 0);
}

int fn_state_snap_save(const fn_state *s, struct fn_snapw *w)
{
    writer wr = {w, {0}, 0};
    fn_buf *b = &wr.buf;
    uint8_t head[8 + 4 + 8 * 8];
    uint64_t heads[8] = {s->companies.count, s->drivers.count, s->gateways.count, s->loads.count,
                         s->bookings.count, fn_tokens_count(s->tokens), s->counts.positions_applied,
                         s->counts.positions_stale};

    memcpy(head, "FNSTATE1", 8);
    fn_le32_put(head + 8, 2);
    for (int i = 0; i < 8; i++)
        fn_le64_put(head + 12 + 8 * i, heads[i]);
    if (fn_snapw_write(w, head, sizeof(head)) != 0)
        return FN_EIO;
    fn_buf_init(b, 0);

    for (uint64_t id = 1; id <= s->companies.count; id++) {
        const fn_company *c = fn__table_at(&s->companies, id);
        fn_buf_u8(b, c->kind);
        fn_buf_u8(b, (uint8_t)c->province);
        fn_buf_i64(b, c->created_at);
        fn_buf_str(b, c->name);
        fn_buf_str(b, c->city);
        fn_buf_u32(b, c->rating_sum);
        fn_buf_u32(b, c->rating_count);
        fn_buf_u32(b, c->loads_posted);
        fn_buf_u32(b, c->loads_booked);
        fn_buf_u32(b, c->loads_delivered);
        fn_buf_u32(b, c->loads_cancelled);
        flush_block(&wr, 0);
    }
    for (uint64_t id = 1; id <= s->drivers.count; id++) {
        const fn_driver *d = fn__table_at(&s->drivers, id);
        fn_buf_str(b, d->name);
        fn_buf_str(b, d->phone);
        fn_buf_str(b, d->plate);
        fn_buf_f64(b, d->home_lat);
        fn_buf_f64(b, d->home_lon);
        fn_buf_f64(b, d->lat);
        fn_buf_f64(b, d->lon);
        fn_buf_i64(b, d->pos_ts);
        fn_buf_u16(b, d->speed_dkmh);
        fn_buf_u16(b, d->heading_ddeg);
        fn_buf_u32(b, d->capacity_kg);
        fn_buf_u32(b, d->volume_l);
        fn_buf_u8(b, d->truck_type);
        fn_buf_u8(b, d->length_idx);
        fn_buf_u8(b, d->status);
        fn_buf_u32(b, d->provinces_mask);
        fn_buf_u64(b, d->booking_id);
        fn_buf_u32(b, d->rating_sum);
        fn_buf_u32(b, d->rating_count);
        fn_buf_u32(b, d->trips_delivered);
        fn_buf_i64(b, d->created_at);
        flush_block(&wr, 0);
    }
    for (uint64_t id = 1; id <= s->gateways.count; id++) {
        const fn_gateway *g = fn__table_at(&s->gateways, id);
        fn_buf_i64(b, g->created_at);
        fn_buf_str(b, g->name);
        flush_block(&wr, 0);
    }
    for (uint64_t id = 1; id <= s->loads.count; id++) {
        const fn_load *l = fn__table_at(&s->loads, id);
        fn_buf_u64(b, l->company_id);
        fn__put_place(b, &l->origin);
        fn__put_place(b, &l->dest);
        fn_buf_str(b, l->cargo_kind);
        fn_buf_str(b, l->contact_name);
        fn_buf_str(b, l->contact_phone);
        fn_buf_str(b, l->notes);
        fn_buf_u32(b, l->weight_kg);
        fn_buf_u32(b, l->volume_l);
        fn_buf_u16(b, l->types_mask);
        fn_buf_u8(b, (uint8_t)l->min_length_idx);
        fn_buf_u8(b, l->status);
        fn_buf_i64(b, l->pickup_earliest_at);
        fn_buf_i64(b, l->pickup_latest_at);
        fn_buf_i64(b, l->expires_at);
        fn_buf_i64(b, l->created_at);
        fn_buf_i64(b, l->price_fen);
        fn_buf_u64(b, l->booking_id);
        flush_block(&wr, 0);
    }
    for (uint64_t id = 1; id <= s->bookings.count; id++) {
        const fn_booking *k = fn__table_at(&s->bookings, id);
        fn_buf_u64(b, k->load_id);
        fn_buf_u64(b, k->driver_id);
        fn_buf_u64(b, k->company_id);
        fn_buf_u8(b, k->status);
        fn_buf_u8(b, k->cancelled_by);
        fn_buf_u8(b, k->company_stars);
        fn_buf_u8(b, k->driver_stars);
        fn_buf_str(b, k->company_comment);
        fn_buf_str(b, k->driver_comment);
        fn_buf_i64(b, k->booked_at);
        fn_buf_i64(b, k->picked_up_at);
        fn_buf_i64(b, k->delivered_at);
        fn_buf_i64(b, k->cancelled_at);
        fn_buf_f64(b, k->deadhead_km);
        fn_buf_f64(b, k->loaded_km);
        flush_block(&wr, 0);
    }
    fn_tokens_each(s->tokens, put_token, &wr);
    fn_an_save_hourly(s->an, b);
    flush_block(&wr, 0);
    if (b->len)
        flush_block(&wr, 1); /* the last partial block */
    flush_block(&wr, 1);     /* the empty block that ends the stream */
    fn_buf_free(b);
    return wr.err;
}

/*
 * Loading runs on three threads so that restart of a national state fits in
 * its budget on two cores: a producer decompresses blocks into a small ring
 * of buffers, a prefaulter asks the kernel for the tables' pages ahead of
 * use (MADV_POPULATE_WRITE: page zeroing is the largest cost of a restart
 * and does not change their contents, so it can run beside the writer), and
 * this thread decodes.
 */
#define RING 8

typedef struct ring_slot {
    fn_buf buf;
    uint32_t len;        /* 0 marks the end of the stream */
} ring_slot;

typedef struct reader {
    struct fn_snapr *r;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ring_slot slots[RING];
    uint64_t produced, consumed; /* slots filled / taken, ever */
    int prod_err;                /* the producer hit a bad or short stream */
    int stop;                    /* the consumer gave up */
    ring_slot *cur;              /* the slot being decoded */
    fn_rd rd;
    int err;
    int ended;
} reader;

static void *producer_main(void *arg)
{
    reader *rr = arg;
    for (;;) {
        uint8_t lenb[4];
        uint32_t n;
        ring_slot *sl;
        int bad = 0;
        pthread_mutex_lock(&rr->mu);
        while (rr->produced - rr->consumed >= RING - 1 && !rr->stop)
            pthread_cond_wait(&rr->cv, &rr->mu);
        if (rr->stop) {
            pthread_mutex_unlock(&rr->mu);
            return NULL;
        }
        sl = &rr->slots[rr->produced % RING];
        pthread_mutex_unlock(&rr->mu);
        /* The slot is ours until produced is bumped. */
        if (fn_snapr_read(rr->r, lenb, 4) != 0)
            bad = 1;
        n = bad ? 0 : fn_le32_get(lenb);
        if (!bad && n > 64u * BLOCK_BYTES)
            bad = 1;
        if (!bad && n) {
            fn_buf_reset(&sl->buf);
            if (fn_buf_reserve(&sl->buf, n) != 0 || fn_snapr_read(rr->r, sl->buf.data, n) != 0)
                bad = 1;
        }
        sl->len = bad ? 0 : n;
        pthread_mutex_lock(&rr->mu);
        if (bad)
            rr->prod_err = 1;
        rr->produced++;
        pthread_cond_broadcast(&rr->cv);
        pthread_mutex_unlock(&rr->mu);
        if (bad || n == 0)
            return NULL;
    }
}

/* Makes sure the current block has bytes left, taking the next block when
 * it is used up.  Returns 0, or -1 at the end of the stream or on error. */
static int next_entity(reader *rr)
{
    ring_slot *sl;
    if (rr->err || rr->rd.err) {
        rr->err = 1;
        return -1;
    }
    if (rr->rd.off < rr->rd.len)
        return 0;
    if (rr->ended) {
        rr->err = 1;
        return -1;
    }
    pthread_mutex_lock(&rr->mu);
    if (rr->cur) {
        rr->consumed++; /* hand the finished slot back */
        rr->cur = NULL;
        pthread_cond_broadcast(&rr->cv);
    }
    while (rr->produced == rr->consumed)
        pthread_cond_wait(&rr->cv, &rr->mu);
    sl = &rr->slots[rr->consumed % RING];
    if (sl->len == 0) {
        if (rr->prod_err)
            rr->err = 1;
        else
            rr->ended = 1;
        pthread_mutex_unlock(&rr->mu);
        return -1;
    }
    rr->cur = sl;
    pthread_mutex_unlock(&rr->mu);
    fn_rd_init(&rr->rd, sl->buf.data, sl->len);
    return 0;
}

typedef struct prefault {
    void **ptr;
    size_t *len;
    size_t n;
} prefault;

static void *prefault_main(void *arg)
{
    prefault *pf = arg;
    for (size_t i = 0; i < pf->n; i++)
        madvise(pf->ptr[i], pf->len[i], MADV_POPULATE_WRITE); /* best effort: older kernels say EINVAL */
    return NULL;
}

static void prefault_add(prefault *pf, void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p, page = 4096;
    uintptr_t start = (a + page - 1) & ~(page - 1), stop = (a + len) & ~(page - 1);
    if (stop <= start)
        return;
    pf->ptr = fn_xrealloc(pf->ptr, (pf->n + 1) * sizeof(void *));
    pf->len = fn_xrealloc(pf->len, (pf->n + 1) * sizeof(size_t));
    pf->ptr[pf->n] = (void *)start;
    pf->len[pf->n] = stop - start;
    pf->n++;
}

static void prefault_table(prefault *pf, fn_table *t, uint64_t n)
{
    fn__table_reserve(t, n);
    for (size_t i = 0; i < t->nchunks; i++)
        prefault_add(pf, t->chunks[i], (size_t)FN_TABLE_CHUNK * t->elem);
}


/* Files every driver in the truck grid, on its own thread while the main
 * one goes on with gateways, loads and bookings (which touch neither the
 * drivers nor the truck grid). */
typedef struct indexer {
    fn_state *s;
    uint64_t n;
} indexer;

static void *index_trucks_main(void *arg)
{
    indexer *ix = arg;
    for (uint64_t id = 1; id <= ix->n; id++)
        fn__state_index_driver(ix->s, fn__driver(ix->s, id));
    return NULL;
}

int fn_state_snap_load(fn_state *s, struct fn_snapr *snap)
{
    reader rr;
    prefault pf = {NULL, NULL, 0};
    pthread_t prod, pref, tix;
    int prod_started = 0, pref_started = 0, tix_started = 0, rc = FN_ECORRUPT;
    indexer ix = {s, 0};
    fn_rd *r = &rr.rd;
    uint8_t head[8 + 4 + 8 * 8];
    uint64_t heads[8];
    uint32_t version;

    memset(&rr, 0, sizeof(rr));
    rr.r = snap;
    pthread_mutex_init(&rr.mu, NULL);
    pthread_cond_init(&rr.cv, NULL);
    for (int i = 0; i < RING; i++)
        fn_buf_init(&rr.slots[i].buf, 0);
    if (fn_snapr_read(snap, head, sizeof(head)) != 0 || memcmp(head, "FNSTATE1", 8) != 0)
        goto out;
    version = fn_le32_get(head + 8);
    if (version != 1 && version != 2)
        goto out;
    for (int i = 0; i < 8; i++)
        heads[i] = fn_le64_get(head + 12 + 8 * i);
    if (s->companies.count || s->drivers.count || s->loads.count)
        goto out; /* loading into a used state is a caller bug */
    /* Counts beyond any real state mean a damaged header: refuse before allocating. */
    for (int i = 0; i < 6; i++)
        if (heads[i] > (1ull << 32))
            goto out;
    prefault_table(&pf, &s->companies, heads[0]);
    prefault_table(&pf, &s->drivers, heads[1]);
    prefault_table(&pf, &s->loads, heads[3]);
    prefault_table(&pf, &s->bookings, heads[4]);
    fn_tokens_reserve(s->tokens, heads[5]);
    if (pthread_create(&pref, NULL, prefault_main, &pf) == 0)
        pref_started = 1;
    if (pthread_create(&prod, NULL, producer_main, &rr) != 0)
        goto out;
    prod_started = 1;

    for (uint64_t id = 1; id <= heads[0]; id++) {
        fn_company *c;
        if (next_entity(&rr))
            goto corrupt;
        c = fn__table_push(&s->companies);
        c->id = id;
        c->kind = fn_rd_u8(r);
        c->province = (int8_t)fn_rd_u8(r);
        c->created_at = fn_rd_i64(r);
        c->name = fn__rd_str(s, r);
        c->city = fn__rd_str(s, r);
        c->rating_sum = fn_rd_u32(r);
        c->rating_count = fn_rd_u32(r);
        c->loads_posted = fn_rd_u32(r);
        c->loads_booked = fn_rd_u32(r);
        c->loads_delivered = fn_rd_u32(r);
        c->loads_cancelled = fn_rd_u32(r);
        if (!fn__company_ok(c))
            goto corrupt;
    }
    for (uint64_t id = 1; id <= heads[1]; id++) {
        fn_driver *d;
        if (next_entity(&rr))
            goto corrupt;
        d = fn__table_push(&s->drivers);
        d->id = id;
        d->name = fn__rd_str(s, r);
        d->phone = fn__rd_str(s, r);
        d->plate = fn__rd_str(s, r);
        d->home_lat = fn_rd_f64(r);
        d->home_lon = fn_rd_f64(r);
        d->lat = fn_rd_f64(r);
        d->lon = fn_rd_f64(r);
        d->pos_ts = fn_rd_i64(r);
        d->speed_dkmh = fn_rd_u16(r);
        d->heading_ddeg = fn_rd_u16(r);
        d->capacity_kg = fn_rd_u32(r);
        d->volume_l = fn_rd_u32(r);
        d->truck_type = fn_rd_u8(r);
        d->length_idx = fn_rd_u8(r);
        d->status = fn_rd_u8(r);
        d->provinces_mask = fn_rd_u32(r);
        d->booking_id = fn_rd_u64(r);
        d->rating_sum = fn_rd_u32(r);
        d->rating_count = fn_rd_u32(r);
        d->trips_delivered = fn_rd_u32(r);
        d->created_at = fn_rd_i64(r);
        if (d->status > FN_DS_ON_TRIP || d->truck_type >= FN_TT__COUNT || d->length_idx >= FN_TRUCK_LENGTH_COUNT)
            goto corrupt;
        s->counts.drivers_by_status[d->status]++;
    }
    ix.n = heads[1];
    if (pthread_create(&tix, NULL, index_trucks_main, &ix) == 0)
        tix_started = 1;
    else
        index_trucks_main(&ix);
    for (uint64_t id = 1; id <= heads[2]; id++) {
        fn_gateway *g;
        if (next_entity(&rr))
            goto corrupt;
        g = fn__table_push(&s->gateways);
        g->id = id;
        g->created_at = fn_rd_i64(r);
        g->name = fn__rd_str(s, r);
    }
    for (uint64_t id = 1; id <= heads[3]; id++) {
        fn_load *l;
        if (next_entity(&rr))
            goto corrupt;
        l = fn__table_push(&s->loads);
        l->id = id;
        l->company_id = fn_rd_u64(r);
        fn__rd_place(s, r, &l->origin);
        fn__rd_place(s, r, &l->dest);
        l->cargo_kind = fn__rd_str(s, r);
        l->contact_name = fn__rd_str(s, r);
        l->contact_phone = fn__rd_str(s, r);
        l->notes = fn__rd_str(s, r);
        l->weight_kg = fn_rd_u32(r);
        l->volume_l = fn_rd_u32(r);
        l->types_mask = fn_rd_u16(r);
        l->min_length_idx = (int8_t)fn_rd_u8(r);
        l->status = fn_rd_u8(r);
        l->pickup_earliest_at = fn_rd_i64(r);
        l->pickup_latest_at = fn_rd_i64(r);
        l->expires_at = fn_rd_i64(r);
        l->created_at = fn_rd_i64(r);
        l->price_fen = fn_rd_i64(r);
        l->booking_id = fn_rd_u64(r);
        if (!fn__load_ok(s, l))
            goto corrupt;
        s->counts.loads_by_status[l->status]++;
        if (l->status == FN_LS_OPEN)
            fn__state_index_load(s, l);
        /* The analytics' load side; the truck indexer does its driver side
         * (fn__state_index_driver), which touches none of the same memory. */
        fn_an_load_posted(s->an, l, fn_state_road_km(s, l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon),
                          l->status == FN_LS_OPEN);
    }
    for (uint64_t id = 1; id <= heads[4]; id++) {
        fn_booking *k;
        if (next_entity(&rr))
            goto corrupt;
        k = fn__table_push(&s->bookings);
        k->id = id;
        k->load_id = fn_rd_u64(r);
        k->driver_id = fn_rd_u64(r);
        k->company_id = fn_rd_u64(r);
        k->status = fn_rd_u8(r);
        k->cancelled_by = fn_rd_u8(r);
        k->company_stars = fn_rd_u8(r);
        k->driver_stars = fn_rd_u8(r);
        k->company_comment = fn__rd_str(s, r);
        k->driver_comment = fn__rd_str(s, r);
        k->booked_at = fn_rd_i64(r);
        k->picked_up_at = fn_rd_i64(r);
        k->delivered_at = fn_rd_i64(r);
        k->cancelled_at = fn_rd_i64(r);
        k->deadhead_km = fn_rd_f64(r);
        k->loaded_km = fn_rd_f64(r);
        if (k->status > FN_BS_CANCELLED || !fn__table_at(&s->loads, k->load_id) ||
            !fn__table_at(&s->drivers, k->driver_id) || !fn__table_at(&s->companies, k->company_id))
            goto corrupt;
        fn_an_booked(s->an, k->booked_at, fn__load(s, k->load_id)->created_at);
        if (k->status == FN_BS_DELIVERED)
            fn_an_delivered(s->an, k->delivered_at, k->deadhead_km, k->loaded_km);
    }
    for (uint64_t i = 0; i < heads[5]; i++) {
        const uint8_t *hash;
        if (next_entity(&rr) || fn_rd_bytes(r, &hash, FN_TOKEN_HASH_BYTES) != 0)
            goto corrupt;
        {
            uint64_t p = fn_rd_u64(r), id = fn_principal_id(p);
            int role = fn_principal_role(p);
            const fn_table *t = role == FN_ROLE_COMPANY ? &s->companies
                                : role == FN_ROLE_DRIVER ? &s->drivers
                                : role == FN_ROLE_GATEWAY ? &s->gateways
                                                          : NULL;
            if (!t || !fn__table_at(t, id))
                goto corrupt; /* a token for no member */
            fn_tokens_put(s->tokens, hash, p);
        }
    }
    if (version >= 2 && (next_entity(&rr) || fn_an_load_hourly(s->an, r) != 0))
        goto corrupt;
    /* The stream must end exactly here. */
    if (rr.rd.err || rr.rd.off != rr.rd.len || next_entity(&rr) == 0 || !rr.ended)
        goto corrupt;
    s->counts.companies = heads[0];
    s->counts.drivers = heads[1];
    s->counts.gateways = heads[2];
    s->counts.loads = heads[3];
    s->counts.bookings = heads[4];
    s->counts.positions_applied = heads[6];
    s->counts.positions_stale = heads[7];
    rc = 0;
out:
    if (tix_started)
        pthread_join(tix, NULL);
    if (prod_started) {
        pthread_mutex_lock(&rr.mu);
        rr.stop = 1;
        pthread_cond_broadcast(&rr.cv);
        pthread_mutex_unlock(&rr.mu);
        pthread_join(prod, NULL);
    }
    if (pref_started)
        pthread_join(pref, NULL);
    for (int i = 0; i < RING; i++)
        fn_buf_free(&rr.slots[i].buf);
    pthread_mutex_destroy(&rr.mu);
    pthread_cond_destroy(&rr.cv);
    free(pf.ptr);
    free(pf.len);
    return rc;
corrupt:
    rc = FN_ECORRUPT;
    goto out;
}
