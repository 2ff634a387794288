/*
 * analytics.c — the aggregates of analytics.h and their queries.
 *
 * Layout.
 *   days[d]        one record per UTC day that saw a posting, booking or
 *                  delivery (d = days since 1970, 0..65535; a 512 KiB
 *                  pointer table, filled lazily): counters, trip metres, the
 *                  day's time-to-match sketch, and its lane cells in an open
 *                  addressing table keyed by lane = (origin x 34 + dest) x 12
 *                  + type.
 *   an_slot        in each fn_driver (its padding): the city it counts in as
 *                  supply and the lookup cell it was found from (see SLOT_*).
 *   load_city[]    per load: 1 + the city it counts in as demand, 0 if none.
 *   exp heap       (end, load) of every load that was counted in demand,
 *                  smallest end first; an entry whose load no longer counts is
 *                  dropped when it comes up.
 *   ring           24 hourly samples of supply and demand per city.
 */
#include "stats/analytics.h"
#include "stats/qsketch.h"
#include "stats/regions.h"

#include "common/fn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NDAYS 65536
#define NTYPES FN_TT__COUNT
#define NLANES (FN_RG_PROVINCES * FN_RG_PROVINCES * NTYPES)

typedef struct an_cell {
    uint16_t lane;
    fn_qsketch qs;       /* price per km; its count is the cell's loads */
} an_cell;

typedef struct an_day {
    uint64_t posted, booked, delivered;
    int64_t empty_m, loaded_m;
    fn_qsketch ttm;      /* (seconds + 1) / 60, see ttm_value */
    an_cell *cells;
    uint32_t ncells, cellcap;
    uint32_t *slot;      /* hash of lane -> cell index + 1; 0 = empty */
    uint32_t nslots;     /* power of two, 0 before the first cell */
} an_day;

typedef struct an_exp {
    uint32_t end;        /* the load's expiry, Unix seconds (clamped to u32) */
    uint32_t load;       /* load id - 1 */
} an_exp;

typedef struct an_sample {
    int64_t hour_at;     /* INT64_MIN = empty slot */
    uint32_t *supply, *demand;
} an_sample;

typedef struct u16vec {
    uint16_t *v;
    size_t n;            /* elements in use */
    size_t cap;
} u16vec;

struct fn_an {
    an_day **days;
    int64_t day_min, day_max;   /* days present; day_min > day_max when none */
    size_t ncity;
    uint32_t *supply, *demand;  /* per city, now (demand before subtracting expired ones) */
    u16vec load_city;
    an_exp *heap;
    size_t nheap, heapcap;
    fn_qsketch ttm;             /* all bookings */
    int64_t empty_m, loaded_m;
    uint64_t trips;
    an_sample ring[24];
    int64_t last_sample_hour;
};

static int64_t day_of(int64_t ts) { return ts >= 0 ? ts / 86400 : -((-ts + 86399) / 86400); }
static int64_t hour_of(int64_t ts) { return ts >= 0 ? ts / 3600 * 3600 : -((-ts + 3599) / 3600) * 3600; }

fn_an *fn_an_new(void)
{
    fn_an *a = fn_xcalloc(1, sizeof(*a));
    a->days = fn_xcalloc(NDAYS, sizeof(*a->days));
    a->day_min = NDAYS;
    a->day_max = -1;
    a->ncity = fn_rg_city_count();
    a->supply = fn_xcalloc(a->ncity, sizeof(uint32_t));
    a->demand = fn_xcalloc(a->ncity, sizeof(uint32_t));
    fn_qs_init(&a->ttm);
    for (int i = 0; i < 24; i++)
        a->ring[i].hour_at = INT64_MIN;
    a->last_sample_hour = INT64_MIN;
    return a;
}

static void day_free(an_day *d)
{
    for (uint32_t i = 0; i < d->ncells; i++)
        fn_qs_free(&d->cells[i].qs);
    fn_qs_free(&d->ttm);
    free(d->cells);
    free(d->slot);
    free(d);
}

void fn_an_free(fn_an *a)
{
    if (!a)
        return;
    for (int64_t d = a->day_min; d <= a->day_max; d++)
        if (a->days[d])
            day_free(a->days[d]);
    free(a->days);
    free(a->supply);
    free(a->demand);
    free(a->load_city.v);
    free(a->heap);
    fn_qs_free(&a->ttm);
    for (int i = 0; i < 24; i++) {
        free(a->ring[i].supply);
        free(a->ring[i].demand);
    }
    free(a);
}

/* The element for id (1-based), growing the vector with zeros. */
static uint16_t *u16_at(u16vec *v, uint64_t id)
{
    size_t i = (size_t)(id - 1);
    if (i >= v->cap) {
        size_t cap = v->cap ? v->cap : 1024;
        while (cap <= i)
            cap *= 2;
        v->v = fn_xrealloc(v->v, cap * sizeof(uint16_t));
        memset(v->v + v->cap, 0, (cap - v->cap) * sizeof(uint16_t));
        v->cap = cap;
    }
    if (i >= v->n)
        v->n = i + 1;
    return &v->v[i];
}

/* The day record for ts, created when missing; NULL for days outside
 * 1970 .. 2149 (no such times pass the API's checks). */
static an_day *day_get(fn_an *a, int64_t ts)
{
    int64_t d = day_of(ts);
    if (d < 0 || d >= NDAYS)
        return NULL;
    if (!a->days[d]) {
        a->days[d] = fn_xcalloc(1, sizeof(an_day));
        fn_qs_init(&a->days[d]->ttm);
        if (d < a->day_min)
            a->day_min = d;
        if (d > a->day_max)
            a->day_max = d;
    }
    return a->days[d];
}

static const an_day *day_peek(const fn_an *a, int64_t d) { return d >= 0 && d < NDAYS ? a->days[d] : NULL; }

static uint32_t lane_hash(uint16_t lane) { return (uint32_t)lane * 2654435761u; }

static const an_cell *cell_find(const an_day *d, uint16_t lane)
{
    uint32_t mask, i;
    if (!d || !d->nslots)
        return NULL;
    mask = d->nslots - 1;
    for (i = lane_hash(lane) & mask; d->slot[i]; i = (i + 1) & mask)
        if (d->cells[d->slot[i] - 1].lane == lane)
            return &d->cells[d->slot[i] - 1];
    return NULL;
}

static an_cell *cell_get(an_day *d, uint16_t lane)
{
    uint32_t mask, i;
    an_cell *c = (an_cell *)cell_find(d, lane);
    if (c)
        return c;
    if ((d->ncells + 1) * 2 > d->nslots) {
        uint32_t ns = d->nslots ? d->nslots * 2 : 64;
        free(d->slot);
        d->slot = fn_xcalloc(ns, sizeof(uint32_t));
        d->nslots = ns;
        for (uint32_t k = 0; k < d->ncells; k++) {
            for (i = lane_hash(d->cells[k].lane) & (ns - 1); d->slot[i]; i = (i + 1) & (ns - 1))
                ;
            d->slot[i] = k + 1;
        }
    }
    if (d->ncells == d->cellcap) {
        d->cellcap = d->cellcap ? d->cellcap * 2 : 16;
        d->cells = fn_xrealloc(d->cells, d->cellcap * sizeof(an_cell));
    }
    c = &d->cells[d->ncells++];
    c->lane = lane;
    fn_qs_init(&c->qs);
    mask = d->nslots - 1;
    for (i = lane_hash(lane) & mask; d->slot[i]; i = (i + 1) & mask)
        ;
    d->slot[i] = d->ncells;
    return c;
}

static uint16_t lane_key(int o, int d, int t) { return (uint16_t)((o * FN_RG_PROVINCES + d) * NTYPES + t); }
static void lane_split(uint16_t k, int *o, int *d, int *t)
{
    *t = k % NTYPES;
    *d = (k / NTYPES) % FN_RG_PROVINCES;
    *o = k / NTYPES / FN_RG_PROVINCES;
}

/* ---- the expiry heap ---- */

static void heap_push(fn_an *a, uint32_t end, uint32_t load)
{
    size_t i;
    if (a->nheap == a->heapcap) {
        a->heapcap = a->heapcap ? a->heapcap * 2 : 1024;
        a->heap = fn_xrealloc(a->heap, a->heapcap * sizeof(an_exp));
    }
    i = a->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (a->heap[p].end <= end)
            break;
        a->heap[i] = a->heap[p];
        i = p;
    }
    a->heap[i].end = end;
    a->heap[i].load = load;
}

static void heap_pop(fn_an *a)
{
    an_exp x = a->heap[--a->nheap];
    size_t i = 0, n = a->nheap;
    if (!n)
        return;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && a->heap[c + 1].end < a->heap[c].end)
            c++;
        if (a->heap[c].end >= x.end)
            break;
        a->heap[i] = a->heap[c];
        i = c;
    }
    a->heap[i] = x;
}

static uint32_t clamp_u32(int64_t t) { return t <= 0 ? 0 : t >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t; }

/* ---- events ---- */

void fn_an_load_posted(fn_an *a, const fn_load *l, double loaded_km, int open)
{
    an_day *d = day_get(a, l->created_at);
    if (d) {
        d->posted++;
        if (loaded_km > 0 && l->types_mask) {
            int o = fn_rg_city_at(fn_rg_city_of(l->origin.lat, l->origin.lon))->province;
            int de = fn_rg_city_at(fn_rg_city_of(l->dest.lat, l->dest.lon))->province;
            int t = __builtin_ctz(l->types_mask);
            if (o >= 0 && de >= 0 && t < NTYPES)
                fn_qs_add(&cell_get(d, lane_key(o, de, t))->qs, (double)l->price_fen / 100.0 / loaded_km);
        }
    }
    if (open) {
        uint32_t city = fn_rg_city_of(l->origin.lat, l->origin.lon);
        *u16_at(&a->load_city, l->id) = (uint16_t)(city + 1);
        a->demand[city]++;
        heap_push(a, clamp_u32(l->expires_at ? l->expires_at : l->pickup_latest_at), (uint32_t)(l->id - 1));
    }
}

void fn_an_load_closed(fn_an *a, uint64_t load_id)
{
    uint16_t *c;
    if (load_id == 0 || load_id > a->load_city.n)
        return;
    c = &a->load_city.v[load_id - 1];
    if (*c) {
        a->demand[*c - 1]--;
        *c = 0;
    }
}

/* Time to match as a sketch value: (seconds + 1) / 60, so that 0 s is a
 * positive value and the sketch's covered range (0.01 .. 100,000) spans
 * 0 s to 69 days; answers convert back and carry an error of at most
 * 1% of (t + 1 s). */
static double ttm_value(int64_t s) { return (double)((s < 0 ? 0 : s) + 1) / 60.0; }
static double ttm_seconds(double v) { return v * 60.0 - 1.0 < 0 ? 0 : v * 60.0 - 1.0; }

void fn_an_booked(fn_an *a, int64_t booked_at, int64_t load_created_at)
{
    an_day *d = day_get(a, booked_at);
    double v = ttm_value(booked_at - load_created_at);
    fn_qs_add(&a->ttm, v);
    if (d) {
        d->booked++;
        fn_qs_add(&d->ttm, v);
    }
}

static int64_t metres(double km) { return km > 0 && km < 1e9 ? llround(km * 1000.0) : 0; }

void fn_an_delivered(fn_an *a, int64_t delivered_at, double deadhead_km, double loaded_km)
{
    an_day *d = day_get(a, delivered_at);
    a->empty_m += metres(deadhead_km);
    a->loaded_m += metres(loaded_km);
    a->trips++;
    if (d) {
        d->delivered++;
        d->empty_m += metres(deadhead_km);
        d->loaded_m += metres(loaded_km);
    }
}

/* A driver's slot: 0 = not counted; else bits 0-10 city + 1, bits 11-29 the
 * lookup cell + 1 (0: none), bit 30 set when that cell has one nearest city
 * for all its points (then any point in the cell counts in the same city). */
#define SLOT_CITY(x) ((x) & 0x7ffu)
#define SLOT_CELL(x) (((x) >> 11) & 0x7ffffu)
#define SLOT_SURE (1u << 30)

void fn_an_driver(fn_an *a, uint32_t *slot, int counted, double lat, double lon)
{
    uint32_t want = 0, cell, city;
    if (counted) {
        cell = fn_rg_cell_of(lat, lon);
        if ((*slot & SLOT_SURE) && cell != FN_RG_NO_CELL && SLOT_CELL(*slot) == cell + 1)
            return; /* same one-city cell: same city */
        city = fn_rg_city_of(lat, lon);
        want = (city + 1) | (cell != FN_RG_NO_CELL ? (cell + 1) << 11 : 0) |
               (cell != FN_RG_NO_CELL && fn_rg_cell_city(cell) >= 0 ? SLOT_SURE : 0);
    }
    if (SLOT_CITY(*slot) != SLOT_CITY(want)) {
        if (SLOT_CITY(*slot))
            a->supply[SLOT_CITY(*slot) - 1]--;
        if (SLOT_CITY(want))
            a->supply[SLOT_CITY(want) - 1]++;
    }
    *slot = want;
}

void fn_an_sample(fn_an *a, int64_t at_s)
{
    int64_t h = hour_of(at_s);
    an_sample *sl;
    while (a->nheap && (int64_t)a->heap[0].end <= at_s) {
        fn_an_load_closed(a, (uint64_t)a->heap[0].load + 1);
        heap_pop(a);
    }
    sl = &a->ring[(size_t)((h / 3600) % 24 + 24) % 24];
    if (sl->hour_at == h)
        return;
    if (!sl->supply) {
        sl->supply = fn_xmalloc(a->ncity * sizeof(uint32_t));
        sl->demand = fn_xmalloc(a->ncity * sizeof(uint32_t));
    }
    sl->hour_at = h;
    memcpy(sl->supply, a->supply, a->ncity * sizeof(uint32_t));
    memcpy(sl->demand, a->demand, a->ncity * sizeof(uint32_t));
    if (h > a->last_sample_hour)
        a->last_sample_hour = h;
}

int64_t fn_an_last_sample_hour(const fn_an *a) { return a->last_sample_hour; }

/* ---- snapshots ---- */

void fn_an_save_hourly(const fn_an *a, fn_buf *b)
{
    uint32_t n = 0;
    for (int i = 0; i < 24; i++)
        n += a->ring[i].hour_at != INT64_MIN;
    fn_buf_u32(b, n);
    for (int i = 0; i < 24; i++) {
        const an_sample *sl = &a->ring[i];
        if (sl->hour_at == INT64_MIN)
            continue;
        fn_buf_i64(b, sl->hour_at);
        fn_buf_u32(b, (uint32_t)a->ncity);
        for (size_t c = 0; c < a->ncity; c++) {
            fn_buf_u32(b, sl->supply[c]);
            fn_buf_u32(b, sl->demand[c]);
        }
    }
}

int fn_an_load_hourly(fn_an *a, fn_rd *r)
{
    uint32_t n = fn_rd_u32(r);
    if (r->err || n > 24)
        return FN_ECORRUPT;
    for (uint32_t k = 0; k < n; k++) {
        int64_t h = fn_rd_i64(r);
        uint32_t nc = fn_rd_u32(r);
        an_sample *sl;
        if (r->err || nc != a->ncity || h % 3600 != 0)
            return FN_ECORRUPT;
        sl = &a->ring[(size_t)((h / 3600) % 24 + 24) % 24];
        if (sl->hour_at != INT64_MIN)
            return FN_ECORRUPT; /* two samples for one slot */
        sl->supply = fn_xmalloc(a->ncity * sizeof(uint32_t));
        sl->demand = fn_xmalloc(a->ncity * sizeof(uint32_t));
        sl->hour_at = h;
        for (size_t c = 0; c < a->ncity; c++) {
            sl->supply[c] = fn_rd_u32(r);
            sl->demand[c] = fn_rd_u32(r);
        }
        if (r->err)
            return FN_ECORRUPT;
        if (h > a->last_sample_hour)
            a->last_sample_hour = h;
    }
    return 0;
}

/* ---- queries ---- */

static void quant(const fn_qsketch *s, fn_an_q *q)
{
    q->count = fn_qs_count(s);
    if (!q->count) {
        q->p25 = q->p50 = q->p75 = q->p90 = NAN;
        return;
    }
    fn_qs_quantile(s, 0.25, &q->p25);
    fn_qs_quantile(s, 0.50, &q->p50);
    fn_qs_quantile(s, 0.75, &q->p75);
    fn_qs_quantile(s, 0.90, &q->p90);
}

static void ttm_quant(const fn_qsketch *s, fn_an_q *q)
{
    quant(s, q);
    if (q->count) {
        q->p25 = ttm_seconds(q->p25);
        q->p50 = ttm_seconds(q->p50);
        q->p75 = ttm_seconds(q->p75);
        q->p90 = ttm_seconds(q->p90);
    }
}

/* Calls f for every heap entry whose end is <= now and whose load still
 * counts in demand: a walk of the heap that skips subtrees whose root ends
 * later, so it costs about the number of such entries.  A load is pushed
 * once (when posted, or when the analytics is rebuilt), so it is seen once. */
static void each_expired(const fn_an *a, int64_t now_s, void (*f)(void *, uint16_t), void *ctx)
{
    size_t stack[64 * 2], sp = 0;
    if (!a->nheap || (int64_t)a->heap[0].end > now_s)
        return;
    /* Depth-first with an explicit stack; a heap of n has depth log2(n) < 64,
     * and the stack holds at most one pending sibling per level plus one. */
    stack[sp++] = 0;
    while (sp) {
        size_t i = stack[--sp];
        uint32_t load = a->heap[i].load;
        uint16_t c = load < a->load_city.n ? a->load_city.v[load] : 0;
        if (c)
            f(ctx, c);
        for (size_t ch = 2 * i + 1; ch <= 2 * i + 2; ch++)
            if (ch < a->nheap && (int64_t)a->heap[ch].end <= now_s)
                stack[sp++] = ch;
    }
}

static void count_one(void *ctx, uint16_t c)
{
    (void)c;
    (*(uint64_t *)ctx)++;
}

void fn_an_overview_get(const fn_an *a, int64_t now_s, int days, fn_an_overview *o)
{
    int64_t today = day_of(now_s);
    uint64_t expired = 0, open = 0;
    memset(o, 0, sizeof(*o));
    if (days < 1)
        days = 1;
    if (days > FN_AN_MAX_DAYS)
        days = FN_AN_MAX_DAYS;
    for (size_t c = 0; c < a->ncity; c++)
        open += a->demand[c];
    each_expired(a, now_s, count_one, &expired);
    o->open_now = open - expired;
    o->empty_m = a->empty_m;
    o->loaded_m = a->loaded_m;
    o->trips = a->trips;
    ttm_quant(&a->ttm, &o->ttm_s);
    o->ndays = (size_t)days;
    for (int i = 0; i < days; i++) {
        int64_t d = today - days + 1 + i;
        const an_day *r = day_peek(a, d);
        fn_an_day *out = &o->days[i];
        out->day = d;
        if (r) {
            out->posted = r->posted;
            out->booked = r->booked;
            out->delivered = r->delivered;
            out->empty_m = r->empty_m;
            out->loaded_m = r->loaded_m;
            ttm_quant(&r->ttm, &out->ttm_s);
        } else {
            ttm_quant(&(fn_qsketch){0}, &out->ttm_s);
        }
    }
}

struct lane_rank {
    uint64_t count;
    int lane;     /* origin x 34 + dest */
};

static int cmp_rank(const void *x, const void *y)
{
    const struct lane_rank *p = x, *q = y;
    if (p->count != q->count)
        return p->count > q->count ? -1 : 1;
    return p->lane - q->lane;
}

void fn_an_lanes_get(const fn_an *a, int64_t now_s, int days, int origin, int dest, int type, size_t limit,
                     fn_an_lanes *out)
{
    int64_t today = day_of(now_s), first;
    struct lane_rank *rank = fn_xcalloc(FN_RG_PROVINCES * FN_RG_PROVINCES, sizeof(*rank));
    size_t nrank = 0;
    memset(out, 0, sizeof(*out));
    if (days < 1)
        days = 1;
    if (days > FN_AN_MAX_DAYS)
        days = FN_AN_MAX_DAYS;
    first = today - days + 1;
    out->ndays = days;
    out->first_day = first;
    for (int i = 0; i < FN_RG_PROVINCES * FN_RG_PROVINCES; i++)
        rank[i].lane = i;
    /* Pass 1: loads per (origin, destination) over the window. */
    for (int64_t d = first; d <= today; d++) {
        const an_day *r = day_peek(a, d);
        if (!r)
            continue;
        for (uint32_t k = 0; k < r->ncells; k++) {
            int o, de, t;
            lane_split(r->cells[k].lane, &o, &de, &t);
            if ((origin >= 0 && o != origin) || (dest >= 0 && de != dest) || (type >= 0 && t != type))
                continue;
            rank[o * FN_RG_PROVINCES + de].count += fn_qs_count(&r->cells[k].qs);
        }
    }
    qsort(rank, FN_RG_PROVINCES * FN_RG_PROVINCES, sizeof(*rank), cmp_rank);
    while (nrank < FN_RG_PROVINCES * FN_RG_PROVINCES && rank[nrank].count > 0 && nrank < limit)
        nrank++;
    /* Pass 2: merge the chosen lanes' sketches, per day and over the window. */
    out->n = nrank;
    out->v = fn_xcalloc(nrank ? nrank : 1, sizeof(fn_an_lane));
    for (size_t j = 0; j < nrank; j++) {
        fn_an_lane *ln = &out->v[j];
        int o = rank[j].lane / FN_RG_PROVINCES, de = rank[j].lane % FN_RG_PROVINCES;
        fn_qsketch win;
        fn_qs_init(&win);
        ln->origin = o;
        ln->dest = de;
        ln->type = type;
        ln->daily = fn_xcalloc((size_t)days, sizeof(fn_an_q));
        for (int i = 0; i < days; i++) {
            const an_day *r = day_peek(a, first + i);
            fn_qsketch day;
            fn_qs_init(&day);
            for (int t = 0; t < NTYPES && r; t++) {
                const an_cell *c;
                if (type >= 0 && t != type)
                    continue;
                if ((c = cell_find(r, lane_key(o, de, t))))
                    fn_qs_merge(&day, &c->qs);
            }
            quant(&day, &ln->daily[i]);
            fn_qs_merge(&win, &day);
            fn_qs_free(&day);
        }
        quant(&win, &ln->price);
        fn_qs_free(&win);
    }
    free(rank);
}

void fn_an_lanes_free(fn_an_lanes *l)
{
    for (size_t j = 0; j < l->n; j++)
        free(l->v[j].daily);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void sub_one(void *ctx, uint16_t c) { ((uint32_t *)ctx)[c - 1]--; }

void fn_an_regions_get(const fn_an *a, int64_t now_s, fn_an_regions *out)
{
    int64_t h = hour_of(now_s);
    memset(out, 0, sizeof(*out));
    out->ncity = a->ncity;
    out->supply = fn_xmalloc(a->ncity * sizeof(uint32_t));
    out->demand = fn_xmalloc(a->ncity * sizeof(uint32_t));
    memcpy(out->supply, a->supply, a->ncity * sizeof(uint32_t));
    memcpy(out->demand, a->demand, a->ncity * sizeof(uint32_t));
    each_expired(a, now_s, sub_one, out->demand);
    for (int64_t k = 23; k >= 0; k--) {
        int64_t hh = h - k * 3600;
        const an_sample *sl = &a->ring[(size_t)((hh / 3600) % 24 + 24) % 24];
        if (sl->hour_at != hh)
            continue;
        out->hour_at[out->nhours] = hh;
        out->h_supply[out->nhours] = fn_xmalloc(a->ncity * sizeof(uint32_t));
        out->h_demand[out->nhours] = fn_xmalloc(a->ncity * sizeof(uint32_t));
        memcpy(out->h_supply[out->nhours], sl->supply, a->ncity * sizeof(uint32_t));
        memcpy(out->h_demand[out->nhours], sl->demand, a->ncity * sizeof(uint32_t));
        out->nhours++;
    }
}

void fn_an_regions_free(fn_an_regions *r)
{
    free(r->supply);
    free(r->demand);
    for (size_t i = 0; i < r->nhours; i++) {
        free(r->h_supply[i]);
        free(r->h_demand[i]);
    }
    memset(r, 0, sizeof(*r));
}

static int cmp_cell_lane(const void *x, const void *y)
{
    const fn_an_cell *p = x, *q = y;
    int kp = (p->origin * FN_RG_PROVINCES + p->dest) * NTYPES + p->type;
    int kq = (q->origin * FN_RG_PROVINCES + q->dest) * NTYPES + q->type;
    return kp - kq;
}

size_t fn_an_cells_closed(const fn_an *a, int64_t now_s, uint64_t k, fn_an_cell **out)
{
    int64_t today = day_of(now_s);
    size_t n = 0, cap = 0;
    fn_an_cell *v = NULL;
    for (int64_t d = a->day_min; d <= a->day_max && d < today; d++) {
        const an_day *r = a->days[d];
        size_t start = n;
        if (!r)
            continue;
        for (uint32_t j = 0; j < r->ncells; j++) {
            const an_cell *c = &r->cells[j];
            fn_an_cell *e;
            if (fn_qs_count(&c->qs) < k || fn_qs_count(&c->qs) == 0)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                v = fn_xrealloc(v, cap * sizeof(*v));
            }
            e = &v[n++];
            e->day = d;
            lane_split(c->lane, &e->origin, &e->dest, &e->type);
            quant(&c->qs, &e->price);
        }
        if (n > start) /* v is NULL while nothing is kept, and qsort's base must not be */
            qsort(v + start, n - start, sizeof(*v), cmp_cell_lane);
    }
    *out = v;
    return n;
}

size_t fn_an_bytes(const fn_an *a)
{
    size_t b = sizeof(*a) + NDAYS * sizeof(*a->days) + 2 * a->ncity * sizeof(uint32_t) +
               a->load_city.cap * sizeof(uint16_t) + a->heapcap * sizeof(an_exp);
    for (int64_t d = a->day_min; d <= a->day_max; d++) {
        const an_day *r = a->days[d];
        if (!r)
            continue;
        b += sizeof(*r) + r->cellcap * sizeof(an_cell) + r->nslots * sizeof(uint32_t) + r->ttm.cap * 6u;
        for (uint32_t j = 0; j < r->ncells; j++)
            b += r->cells[j].qs.cap * 6u;
    }
    for (int i = 0; i < 24; i++)
        if (a->ring[i].supply)
            b += 2 * a->ncity * sizeof(uint32_t);
    return b + a->ttm.cap * 6u;
}
