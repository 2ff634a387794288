/*
 * sim.c — the freight-day simulation (sim.h): an event queue over a private
 * engine state, and the policies that decide who takes which load.
 */
#include "sim/sim.h"

#include "common/buf.h"
#include "common/fn.h"
#include "common/geo.h"
#include "core/records.h"
#include "core/state.h"
#include "match/dispatch.h"
#include "match/match.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S 86400

static const char *const policy_names[FN_SIM__POLICIES] = {"board", "match", "dispatch", "backhaul"};

const char *fn_sim_policy_name(int p) { return p >= 0 && p < FN_SIM__POLICIES ? policy_names[p] : "?"; }

int fn_sim_policy_parse(const char *s)
{
    for (int p = 0; p < FN_SIM__POLICIES; p++)
        if (strcmp(s, policy_names[p]) == 0)
            return p;
    return -1;
}

void fn_sim_config_default(fn_sim_config *cfg, int policy)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->policy = policy;
    cfg->start_s = 1798761600; /* 2027-01-01, freight gen's default */
    cfg->days = 1;
    cfg->speed_kmh = 50;
    cfg->circuity = 1.3;
    cfg->service_s = 3600;
    cfg->board_km = 50;
    cfg->match_km = 300;
    cfg->dispatch_km = 300;
    cfg->dispatch_every_s = 600;
    cfg->dispatch_k = 16;
    cfg->home_weight = 0.3;
    cfg->prebook = 1;
    cfg->give_up_s = 8 * 3600;
    cfg->home_km = 50;
}

/* ---- the event queue: a binary heap on (time, sequence) ---- */

enum { EV_POST, EV_ARRIVE, EV_DELIVER, EV_GIVE_UP, EV_HOME, EV_TICK, EV_HORIZON };

typedef struct event {
    int64_t t;
    uint64_t seq;
    uint32_t kind, idx;   /* idx: a load (POST, ARRIVE, DELIVER) or a truck */
    uint64_t epoch;       /* GIVE_UP: the truck's epoch when it was scheduled */
} event;

typedef struct evq {
    event *a;
    size_t n, cap;
    uint64_t seq;
} evq;

static int ev_before(const event *x, const event *y) { return x->t < y->t || (x->t == y->t && x->seq < y->seq); }

static void ev_push(evq *q, int64_t t, uint32_t kind, uint32_t idx, uint64_t epoch)
{
    size_t i;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 1024;
        q->a = fn_xrealloc(q->a, q->cap * sizeof(*q->a));
    }
    i = q->n++;
    q->a[i] = (event){t, q->seq++, kind, idx, epoch};
    while (i > 0 && ev_before(&q->a[i], &q->a[(i - 1) / 2])) {
        event tmp = q->a[i];
        q->a[i] = q->a[(i - 1) / 2];
        q->a[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static event ev_pop(evq *q)
{
    event top = q->a[0];
    size_t i = 0;
    q->a[0] = q->a[--q->n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && ev_before(&q->a[l], &q->a[m]))
            m = l;
        if (r < q->n && ev_before(&q->a[r], &q->a[m]))
            m = r;
        if (m == i)
            break;
        event tmp = q->a[i];
        q->a[i] = q->a[m];
        q->a[m] = tmp;
        i = m;
    }
    return top;
}

/* ---- the run ---- */

enum { TR_IDLE, TR_TO_PICKUP, TR_LOADED, TR_TO_HOME };

typedef struct sim_truck {
    uint8_t state;
    uint64_t epoch;     /* bumped by every booking and every move, so stale give-ups are ignored */
    int64_t free_at;    /* loaded: when it will be free at the delivery point */
    uint64_t next_load; /* backhaul: the load (state id) it is to take on delivery, 0 none */
} sim_truck;

typedef struct sim {
    const fn_sim_config *cfg;
    fn_match_config mcfg;
    fn_state *s;
    fn_buf rec;
    evq q;
    const fn_driver *trucks;
    const fn_load *loads;
    size_t nt, nl;
    sim_truck *tr;
    uint32_t *load_of_id;   /* state load id - 1 -> input index */
    uint64_t *id_of_load;   /* input index -> state load id (0: not posted) */
    int64_t now, horizon;
    int closed;             /* past the horizon: no more bookings */
    fn_sim_result *out;
    fn_match_hit *hits;
    fn_truck_hit *thits;
    fn_load_hit *lhits;
    fn_grid *away;          /* idle trucks away from home (item = truck index) */
    fn_grid *soon;          /* backhaul: loaded trucks with nothing next, at their delivery point */
    uint64_t *open;         /* backhaul: loads posted and perhaps still open (state ids) */
    size_t nopen, capopen;
    int32_t *col_of;        /* backhaul: truck index -> column in this tick's graph, -1 */
    uint8_t *promised;      /* backhaul: per state load id - 1, promised to a loaded truck */
    int err;
} sim;

/* Applies the record in sim->rec.  The simulation only writes what the state
 * allows, so a refusal is a bug in it: the run stops with the error. */
static int apply(sim *m, int type)
{
    int rc = fn_state_apply(m->s, (uint8_t)type, m->rec.data, (uint32_t)m->rec.len);
    fn_buf_reset(&m->rec);
    if (rc != 0 && !m->err)
        m->err = rc;
    return rc;
}

static double road_km(const sim *m, double lat1, double lon1, double lat2, double lon2)
{
    return fn_state_road_km(m->s, lat1, lon1, lat2, lon2);
}

static int64_t drive_s(const sim *m, double km) { return (int64_t)ceil(km / m->cfg->speed_kmh * 3600.0); }

static size_t hour_of(const sim *m, int64_t t)
{
    int64_t h = (t - m->cfg->start_s) / 3600;
    return h < 0 ? 0 : (size_t)h >= m->out->hours ? m->out->hours - 1 : (size_t)h;
}

static void set_status(sim *m, size_t i, int status)
{
    fn_rec_driver_status(&m->rec, (uint64_t)i + 1, status, m->now);
    apply(m, FN_REC_DRIVER_STATUS);
}

static void set_position(sim *m, size_t i, double lat, double lon)
{
    fn_position p = {(uint64_t)i + 1, lat, lon, m->now, 0, 0xffff};
    fn_rec_positions(&m->rec, &p, 1);
    apply(m, FN_REC_POSITIONS);
}

/* Books load j (state id lid) for truck i now; the deadhead from where the truck stands. */
static void book(sim *m, size_t i, uint64_t lid)
{
    size_t j = m->load_of_id[lid - 1];
    const fn_driver *d = fn_state_driver(m->s, (uint64_t)i + 1);
    const fn_load *l = fn_state_load(m->s, lid);
    fn_booking b;
    double dh = road_km(m, d->lat, d->lon, l->origin.lat, l->origin.lon);

    memset(&b, 0, sizeof(b));
    b.id = fn_state_next_booking_id(m->s);
    b.load_id = lid;
    b.driver_id = (uint64_t)i + 1;
    b.booked_at = m->now;
    b.deadhead_km = dh;
    b.loaded_km = road_km(m, l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon);
    fn_rec_book(&m->rec, &b);
    if (apply(m, FN_REC_BOOK) != 0)
        return;
    m->tr[i].state = TR_TO_PICKUP;
    m->tr[i].epoch++;
    fn_grid_remove(m->away, (uint32_t)i);
    m->out->booked++;
    m->out->load_truck[j] = (int32_t)i;
    m->out->load_booked_at[j] = m->now;
    if (!m->out->load_matched_at[j])
        m->out->load_matched_at[j] = m->now;
    m->out->load_deadhead_km[j] = dh;
    m->out->deadhead_km += dh;
    m->out->truck_empty_km[i] += dh;
    m->out->hour_empty_km[hour_of(m, m->now)] += dh;
    m->out->hour_booked[hour_of(m, m->now)]++;
    ev_push(&m->q, m->now + drive_s(m, dh), EV_ARRIVE, (uint32_t)j, 0);
}

/* ---- the policies' searches ---- */

/* The available trucks that fit load l, nearest first from its pickup,
 * within road_km (as great-circle km), at their exact positions. */
static void fit_query(const sim *m, const fn_load *l, double road_km_max, size_t limit, fn_truck_query *q)
{
    memset(q, 0, sizeof(*q));
    q->lat = l->origin.lat;
    q->lon = l->origin.lon;
    q->radius_km = road_km_max / m->cfg->circuity;
    q->limit = limit;
    q->types_mask = l->types_mask;
    q->min_length_idx = l->min_length_idx;
    q->min_capacity_kg = l->weight_kg;
    q->min_volume_l = l->volume_l;
    q->exact = 1;
}

/* Board: the nearest idle truck on the local board that fits load lid and
 * can reach it in time. */
static void board_post(sim *m, uint64_t lid)
{
    const fn_load *l = fn_state_load(m->s, lid);
    fn_truck_query q;
    size_t n;

    fit_query(m, l, m->cfg->board_km, 32, &q);
    n = fn_state_trucks_near(m->s, &q, m->thits);
    for (size_t k = 0; k < n; k++) {
        fn_match_hit h;
        if (fn_match_score_truck(m->s, &m->mcfg, l, m->thits[k].driver, m->cfg->board_km, 1, m->now, &h) == 0) {
            book(m, (size_t)(m->thits[k].driver->id - 1), lid);
            return;
        }
    }
}

/* Board: the nearest load on the local board that truck i fits and can reach in time. */
static int board_free(sim *m, size_t i)
{
    const fn_driver *d = fn_state_driver(m->s, (uint64_t)i + 1);
    fn_toward none = {0, 0};
    size_t n = fn_state_loads_near(m->s, d->lat, d->lon, m->cfg->board_km / m->cfg->circuity, 64, m->now, m->lhits);
    for (size_t k = 0; k < n; k++) {
        fn_match_hit h;
        if (fn_match_score_load(m->s, &m->mcfg, d, none, m->lhits[k].load, m->cfg->board_km, m->now, &h) == 0) {
            book(m, i, m->lhits[k].load->id);
            return 1;
        }
    }
    return 0;
}

/* Match: the poster books the best-ranked truck. */
static void match_post(sim *m, uint64_t lid)
{
    const fn_load *l = fn_state_load(m->s, lid);
    if (fn_match_trucks(m->s, &m->mcfg, l, m->cfg->match_km, 1, 1, m->now, m->hits) == 1)
        book(m, (size_t)(m->hits[0].driver->id - 1), lid);
}

/* Match: the driver books the best-ranked load, backhaul toward home. */
static int match_free(sim *m, size_t i)
{
    const fn_driver *d = fn_state_driver(m->s, (uint64_t)i + 1);
    fn_toward home = {1, 0};
    if (fn_match_loads(m->s, &m->mcfg, d, home, m->cfg->match_km, 1, m->now, m->hits) == 1) {
        book(m, i, m->hits[0].load->id);
        return 1;
    }
    return 0;
}

static void dispatch_tick(sim *m)
{
    fn_dispatch_query dq;
    fn_dispatch_result r;

    memset(&dq, 0, sizeof(dq));
    dq.province = -1;
    dq.radius_km = m->cfg->dispatch_km;
    dq.k = m->cfg->dispatch_k;
    if (fn_dispatch_run(m->s, &m->mcfg, &dq, m->now, &r, NULL, NULL) != 0)
        return;
    m->out->dispatch_runs++;
    for (size_t p = 0; p < r.npairs; p++)
        book(m, (size_t)(r.pairs[p].driver_id - 1), r.pairs[p].load_id);
    fn_dispatch_result_free(&r);
}

/* Backhaul: the trip home a truck standing at (lat, lon) still has to make. */
static double home_left_km(const sim *m, const fn_driver *d, double lat, double lon)
{
    double km = road_km(m, lat, lon, d->home_lat, d->home_lon);
    return km > m->cfg->home_km ? km : 0;
}

typedef struct away_ctx {
    const sim *m;
    const fn_load *l;
    int soon;           /* the soon grid: the truck must also reach the pickup in time */
} away_ctx;

/* Keeps the away trucks that fit the load, ranked by great-circle distance. */
static int away_fits(void *arg, const fn_grid_entry *e, double bound_km, double *dist_km)
{
    const away_ctx *a = arg;
    const fn_driver *d = fn_state_driver(a->m->s, (uint64_t)e->item + 1);
    const fn_load *l = a->l;
    (void)bound_km;
    if (!(l->types_mask & (1u << d->truck_type)) || (l->min_length_idx >= 0 && d->length_idx < l->min_length_idx) ||
        d->capacity_kg < l->weight_kg || (l->volume_l && d->volume_l && d->volume_l < l->volume_l))
        return 0;
    *dist_km = fn_haversine_km(l->origin.lat, l->origin.lon, e->lat, e->lon);
    if (a->soon && a->m->tr[e->item].free_at + drive_s(a->m, *dist_km * a->m->cfg->circuity) >= l->pickup_latest_at)
        return 0;
    return 1;
}

/* Promises load lid to loaded truck i for when it delivers: it books the
 * load then (the engine books only trucks that are free). */
static void prebook(sim *m, size_t i, uint64_t lid)
{
    m->tr[i].next_load = lid;
    m->promised[lid - 1] = 1;
    m->out->load_matched_at[m->load_of_id[lid - 1]] = m->now;
    fn_grid_remove(m->soon, (uint32_t)i);
}

typedef struct bh_edge {
    uint32_t row, truck;
    double km;          /* deadhead + the trip home after the load - the trip home saved */
    int soon;           /* the truck is loaded: the load is promised to it for after its delivery */
} bh_edge;

/*
 * Backhaul dispatch: every open load gets its k nearest fitting trucks and
 * its k nearest fitting trucks that stand away from home; the assignment
 * minimises, over as many loads as can be served, the sum of
 *     deadhead + w x (home_left(delivery) - home_left(where the truck stands)),
 * the empty km the booking causes now and, weighted, later: a truck away
 * from home that takes a load toward home saves its empty trip back.  The
 * weight w (home_weight) stands for the chance that the trip home is really
 * driven empty rather than saved by a later load; 0.3 did best in the runs
 * of docs/simulation.md (0 is plain dispatch).
 */
static void backhaul_tick(sim *m)
{
    size_t k = m->cfg->dispatch_k, nrows = 0, ne = 0, cape = 1024, ncols = 0, w = 0;
    bh_edge *es = fn_xmalloc(cape * sizeof(*es));
    uint64_t *rows = fn_xmalloc((m->nopen ? m->nopen : 1) * sizeof(*rows));
    uint32_t *col_truck = NULL, *cols;
    size_t *start;
    int64_t *cost;
    int32_t *row_col;
    fn_grid_hit *gh = fn_xmalloc(2 * k * sizeof(*gh));
    double shift = 0;

    if (k > 32)
        k = 32;
    for (size_t o = 0; o < m->nopen; o++) {
        const fn_load *l = fn_state_load(m->s, m->open[o]);
        fn_truck_query q;
        size_t n, ng, ns, row_start = ne;
        away_ctx ac = {m, l, 0}, sc = {m, l, 1};
        if (fn_load_status(l, m->now) != FN_LS_OPEN)
            continue;
        m->open[w++] = m->open[o];
        fit_query(m, l, m->cfg->dispatch_km, k, &q);
        n = fn_state_trucks_near(m->s, &q, m->thits);
        ng = fn_grid_nearest(m->away, 1, q.lat, q.lon, q.radius_km, 0, k, away_fits, &ac, gh);
        ns = m->cfg->prebook ? fn_grid_nearest(m->soon, 1, q.lat, q.lon, q.radius_km, 0, k, away_fits, &sc, gh + ng)
                             : 0;
        for (size_t h = 0; h < n + ng + ns; h++) {
            const fn_driver *d = h < n ? m->thits[h].driver : fn_state_driver(m->s, (uint64_t)gh[h - n].item + 1);
            size_t ti = (size_t)(d->id - 1);
            int soon = h >= n + ng;
            double flat = d->lat, flon = d->lon, dh, here, beta = m->cfg->home_weight;
            fn_match_hit mh;
            int dup = 0;
            for (size_t e = row_start; e < ne && !dup; e++)
                dup = es[e].truck == ti;
            if (dup)
                continue;
            if (soon) {
                /* Free at its delivery point when that trip ends (checked in time by the filter). */
                const fn_load *cur = fn_state_load(m->s, fn_state_booking(m->s, d->booking_id)->load_id);
                flat = cur->dest.lat;
                flon = cur->dest.lon;
                dh = road_km(m, flat, flon, l->origin.lat, l->origin.lon);
                if (dh > m->cfg->dispatch_km)
                    continue;
            } else if (fn_match_score_truck(m->s, &m->mcfg, l, d, m->cfg->dispatch_km, 1, m->now, &mh) != 0) {
                continue;
            } else {
                dh = mh.deadhead_km;
            }
            if (ne == cape)
                es = fn_xrealloc(es, (cape *= 2) * sizeof(*es));
            here = beta * home_left_km(m, d, flat, flon);
            es[ne++] = (bh_edge){(uint32_t)nrows, (uint32_t)ti,
                                 dh + beta * home_left_km(m, d, l->dest.lat, l->dest.lon) - here, soon};
            if (here > shift)
                shift = here;
        }
        if (ne > row_start)
            rows[nrows++] = l->id;
    }
    m->nopen = w;

    /* Columns are the trucks seen; costs in metres, shifted to be >= 0 (every
     * served load adds the same shift, and the most loads are served first,
     * so the shift changes no choice). */
    start = fn_xcalloc(nrows + 1, sizeof(*start));
    cols = fn_xmalloc((ne ? ne : 1) * sizeof(*cols));
    cost = fn_xmalloc((ne ? ne : 1) * sizeof(*cost));
    row_col = fn_xmalloc((nrows ? nrows : 1) * sizeof(*row_col));
    col_truck = fn_xmalloc((ne ? ne : 1) * sizeof(*col_truck));
    for (size_t e = 0; e < ne; e++) {
        uint32_t t = es[e].truck;
        if (m->col_of[t] < 0) {
            m->col_of[t] = (int32_t)ncols;
            col_truck[ncols++] = t;
        }
        cols[e] = (uint32_t)m->col_of[t];
        cost[e] = llround((es[e].km + shift) * 1000.0);
        start[es[e].row + 1] = e + 1;
    }
    for (size_t r = 1; r <= nrows; r++)
        if (start[r] < start[r - 1])
            start[r] = start[r - 1];
    if (nrows > 0) {
        fn_dispatch_solve(nrows, ncols, start, cols, cost, row_col);
        m->out->dispatch_runs++;
        for (size_t r = 0; r < nrows; r++) {
            uint32_t t;
            int soon = 0;
            if (row_col[r] < 0)
                continue;
            t = col_truck[row_col[r]];
            for (size_t e = start[r]; e < start[r + 1]; e++)
                if (cols[e] == (uint32_t)row_col[r])
                    soon = es[e].soon;
            if (soon)
                prebook(m, t, rows[r]);
            else
                book(m, t, rows[r]);
        }
        /* Promised loads leave the open list. */
        w = 0;
        for (size_t o = 0; o < m->nopen; o++)
            if (!m->promised[m->open[o] - 1])
                m->open[w++] = m->open[o];
        m->nopen = w;
    }
    for (size_t c = 0; c < ncols; c++)
        m->col_of[col_truck[c]] = -1;
    free(es), free(rows), free(col_truck), free(cols), free(start), free(cost), free(row_col), free(gh);
}

/* ---- events ---- */

static void on_post(sim *m, size_t j)
{
    fn_load l = m->loads[j];
    uint64_t lid = fn_state_next_load_id(m->s);

    l.id = lid;
    l.company_id = 1;
    l.status = FN_LS_OPEN;
    l.booking_id = 0;
    l.cargo_kind = l.cargo_kind ? l.cargo_kind : "";
    l.contact_name = l.contact_name ? l.contact_name : "";
    l.contact_phone = l.contact_phone ? l.contact_phone : "";
    l.notes = l.notes ? l.notes : "";
    l.origin.city = l.origin.city ? l.origin.city : "";
    l.dest.city = l.dest.city ? l.dest.city : "";
    fn_rec_load_create(&m->rec, &l);
    if (apply(m, FN_REC_LOAD_CREATE) != 0)
        return;
    m->load_of_id[lid - 1] = (uint32_t)j;
    m->id_of_load[j] = lid;
    if (m->nopen == m->capopen)
        m->open = fn_xrealloc(m->open, (m->capopen = m->capopen ? 2 * m->capopen : 1024) * sizeof(*m->open));
    m->open[m->nopen++] = lid;
    switch (m->cfg->policy) {
    case FN_SIM_BOARD: board_post(m, lid); break;
    case FN_SIM_MATCH: match_post(m, lid); break;
    default: break; /* dispatch: the next tick */
    }
}

/* Truck i stands idle where it is: the policy looks for a load; failing
 * that, a truck away from home gives up after a while. */
static void on_free(sim *m, size_t i, int at_home)
{
    int booked = 0;
    m->tr[i].state = TR_IDLE;
    m->tr[i].epoch++;
    if (m->closed)
        return;
    switch (m->cfg->policy) {
    case FN_SIM_BOARD: booked = board_free(m, i); break;
    case FN_SIM_MATCH: booked = match_free(m, i); break;
    default: break;
    }
    if (!booked && !at_home) {
        const fn_driver *d = fn_state_driver(m->s, (uint64_t)i + 1);
        fn_grid_put(m->away, (uint32_t)i, 0, d->lat, d->lon, 0, 0, 0);
        ev_push(&m->q, m->now + m->cfg->give_up_s, EV_GIVE_UP, (uint32_t)i, m->tr[i].epoch);
    }
}

static int near_home(const sim *m, const fn_driver *d)
{
    return road_km(m, d->lat, d->lon, d->home_lat, d->home_lon) <= m->cfg->home_km;
}

static void on_arrive(sim *m, size_t j)
{
    uint64_t lid = m->id_of_load[j];
    const fn_load *l = fn_state_load(m->s, lid);
    int64_t start = m->now > l->pickup_earliest_at ? m->now : l->pickup_earliest_at;
    int64_t picked = start + m->cfg->service_s;
    size_t i = (size_t)m->out->load_truck[j];
    double km = road_km(m, l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon);

    fn_rec_booking_event(&m->rec, l->booking_id, picked);
    if (apply(m, FN_REC_PICKUP) != 0)
        return;
    m->tr[i].state = TR_LOADED;
    m->tr[i].free_at = picked + drive_s(m, km) + m->cfg->service_s;
    if (m->cfg->policy == FN_SIM_BACKHAUL && m->cfg->prebook && !m->closed)
        fn_grid_put(m->soon, (uint32_t)i, 0, l->dest.lat, l->dest.lon, 0, 0, 0);
    m->out->loaded_km += km;
    m->out->truck_loaded_km[i] += km;
    m->out->hour_loaded_km[hour_of(m, picked)] += km;
    ev_push(&m->q, picked + drive_s(m, km) + m->cfg->service_s, EV_DELIVER, (uint32_t)j, 0);
}

static void on_deliver(sim *m, size_t j)
{
    uint64_t lid = m->id_of_load[j];
    const fn_load *l = fn_state_load(m->s, lid);
    size_t i = (size_t)m->out->load_truck[j];

    fn_rec_booking_event(&m->rec, l->booking_id, m->now);
    if (apply(m, FN_REC_DELIVER) != 0)
        return;
    m->out->delivered++;
    m->out->load_delivered_at[j] = m->now;
    m->out->revenue_yuan += (double)l->price_fen / 100.0;
    fn_grid_remove(m->soon, (uint32_t)i);
    if (m->tr[i].next_load) {
        uint64_t next = m->tr[i].next_load;
        m->tr[i].next_load = 0;
        book(m, i, next);
        return;
    }
    on_free(m, i, near_home(m, fn_state_driver(m->s, (uint64_t)i + 1)));
}

static void on_give_up(sim *m, size_t i, uint64_t epoch)
{
    const fn_driver *d = fn_state_driver(m->s, (uint64_t)i + 1);
    double km;
    if (m->closed || m->tr[i].state != TR_IDLE || m->tr[i].epoch != epoch)
        return;
    km = road_km(m, d->lat, d->lon, d->home_lat, d->home_lon);
    set_status(m, i, FN_DS_OFFLINE);
    fn_grid_remove(m->away, (uint32_t)i);
    m->tr[i].state = TR_TO_HOME;
    m->tr[i].epoch++;
    m->out->returns++;
    m->out->return_km += km;
    m->out->truck_empty_km[i] += km;
    m->out->hour_empty_km[hour_of(m, m->now)] += km;
    ev_push(&m->q, m->now + drive_s(m, km), EV_HOME, (uint32_t)i, 0);
}

static void on_home(sim *m, size_t i)
{
    const fn_driver *d = fn_state_driver(m->s, (uint64_t)i + 1);
    set_position(m, i, d->home_lat, d->home_lon);
    if (m->closed) /* no more work: it stays home, offline */
        return;
    set_status(m, i, FN_DS_AVAILABLE);
    on_free(m, i, 1);
}

/* ---- setting up ---- */

static void create_fleet(sim *m)
{
    uint8_t hash[FN_TOKEN_HASH_BYTES];
    fn_company c;

    /* One company posts every load: who posts does not change who carries. */
    memset(&c, 0, sizeof(c));
    c.id = 1;
    c.name = "simulated shippers";
    c.city = "";
    c.province = -1;
    c.created_at = m->cfg->start_s;
    memset(hash, 0, sizeof(hash));
    hash[0] = FN_ROLE_COMPANY;
    fn_rec_company_create(&m->rec, &c, hash);
    apply(m, FN_REC_COMPANY_CREATE);

    for (size_t i = 0; i < m->nt && !m->err; i++) {
        fn_driver d = m->trucks[i];
        uint64_t id = (uint64_t)i + 1;
        d.id = id;
        d.created_at = m->cfg->start_s;
        d.name = d.name ? d.name : "";
        d.phone = d.phone ? d.phone : "";
        d.plate = d.plate ? d.plate : "";
        /* Tokens are never used here; the table only needs each hash unique. */
        memset(hash, 0, sizeof(hash));
        hash[0] = FN_ROLE_DRIVER;
        memcpy(hash + 1, &id, sizeof(id));
        fn_rec_driver_create(&m->rec, &d, hash);
        if (apply(m, FN_REC_DRIVER_CREATE) != 0)
            break;
        if (m->trucks[i].pos_ts > 0)
            set_position(m, i, m->trucks[i].lat, m->trucks[i].lon);
        else
            set_position(m, i, d.home_lat, d.home_lon);
        /* A truck that starts out on a lane is idle away from home like any other. */
        if (!near_home(m, fn_state_driver(m->s, id))) {
            fn_grid_put(m->away, (uint32_t)i, 0, m->trucks[i].lat, m->trucks[i].lon, 0, 0, 0);
            ev_push(&m->q, m->cfg->start_s + m->cfg->give_up_s, EV_GIVE_UP, (uint32_t)i, m->tr[i].epoch);
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double quantile_min(int64_t *v, size_t n, double p)
{
    size_t k;
    if (n == 0)
        return 0;
    k = (size_t)ceil(p * (double)n);
    k = k < 1 ? 1 : k > n ? n : k;
    return (double)v[k - 1] / 60.0;
}

static void finish(sim *m)
{
    fn_sim_result *o = m->out;
    int64_t *waits = fn_xmalloc((m->nl ? m->nl : 1) * sizeof(int64_t));
    size_t nw = 0;
    for (size_t j = 0; j < m->nl; j++) {
        if (o->load_truck[j] >= 0)
            waits[nw++] = o->load_matched_at[j] - m->loads[j].created_at;
        else if (m->id_of_load[j])
            o->expired++;
    }
    qsort(waits, nw, sizeof(*waits), cmp_i64);
    o->match_p50_min = quantile_min(waits, nw, 0.5);
    o->match_p90_min = quantile_min(waits, nw, 0.9);
    free(waits);
    o->empty_km = o->deadhead_km + o->return_km;
    o->empty_rate = o->empty_km + o->loaded_km > 0 ? o->empty_km / (o->empty_km + o->loaded_km) : 0;
    o->revenue_per_truck_day = m->nt ? o->revenue_yuan / ((double)m->nt * m->cfg->days) : 0;
    for (size_t i = 0; i < m->nt; i++) {
        const fn_driver *d = fn_state_driver(m->s, (uint64_t)i + 1);
        o->trucks_used += o->truck_loaded_km[i] > 0;
        o->final_return_km += near_home(m, d) ? 0 : road_km(m, d->lat, d->lon, d->home_lat, d->home_lon);
    }
}

int fn_sim_run(const fn_sim_config *cfg, const fn_driver *trucks, size_t nt, const fn_load *loads, size_t nl,
               fn_sim_result *out)
{
    fn_state_config scfg = {FN_AREA_CHINA, cfg->circuity, 0.2};
    sim m;
    uint64_t t0 = fn_mono_ns();
    int64_t last_progress = 0;

    memset(out, 0, sizeof(*out));
    if (cfg->policy < 0 || cfg->policy >= FN_SIM__POLICIES || cfg->days < 1 || cfg->days > 365 ||
        !(cfg->speed_kmh > 0) || !(cfg->circuity >= 1) || cfg->service_s < 0 || cfg->give_up_s < 0 ||
        cfg->dispatch_every_s < 60 || nt >= UINT32_MAX || nl >= UINT32_MAX)
        return FN_EINVAL;
    memset(&m, 0, sizeof(m));
    m.cfg = cfg;
    m.mcfg.speed_kmh = cfg->speed_kmh;
    m.s = fn_state_new(&scfg);
    m.trucks = trucks;
    m.loads = loads;
    m.nt = nt;
    m.nl = nl;
    m.out = out;
    m.now = cfg->start_s;
    m.horizon = cfg->start_s + (int64_t)cfg->days * DAY_S;
    m.tr = fn_xcalloc(nt ? nt : 1, sizeof(*m.tr));
    m.load_of_id = fn_xcalloc(nl ? nl : 1, sizeof(*m.load_of_id));
    m.id_of_load = fn_xcalloc(nl ? nl : 1, sizeof(*m.id_of_load));
    m.hits = fn_xmalloc(4 * sizeof(*m.hits));
    m.thits = fn_xmalloc(32 * sizeof(*m.thits));
    m.lhits = fn_xmalloc(64 * sizeof(*m.lhits));
    m.away = fn_grid_new(&scfg.area, 0.2, 1);
    m.soon = fn_grid_new(&scfg.area, 0.2, 1);
    m.promised = fn_xcalloc(nl ? nl : 1, 1);
    m.col_of = fn_xmalloc((nt ? nt : 1) * sizeof(*m.col_of));
    for (size_t i = 0; i < nt; i++)
        m.col_of[i] = -1;
    out->trucks = nt;
    out->loads = nl;
    out->load_truck = fn_xmalloc((nl ? nl : 1) * sizeof(int32_t));
    out->load_booked_at = fn_xcalloc(nl ? nl : 1, sizeof(int64_t));
    out->load_matched_at = fn_xcalloc(nl ? nl : 1, sizeof(int64_t));
    out->load_delivered_at = fn_xcalloc(nl ? nl : 1, sizeof(int64_t));
    out->load_deadhead_km = fn_xcalloc(nl ? nl : 1, sizeof(double));
    out->truck_empty_km = fn_xcalloc(nt ? nt : 1, sizeof(double));
    out->truck_loaded_km = fn_xcalloc(nt ? nt : 1, sizeof(double));
    /* The drain after the horizon is bounded by the longest trip: a week is plenty. */
    out->hours = (size_t)cfg->days * 24 + 7 * 24;
    out->hour_empty_km = fn_xcalloc(out->hours, sizeof(double));
    out->hour_loaded_km = fn_xcalloc(out->hours, sizeof(double));
    out->hour_booked = fn_xcalloc(out->hours, sizeof(uint32_t));
    for (size_t j = 0; j < nl; j++)
        out->load_truck[j] = -1;

    create_fleet(&m);
    for (size_t j = 0; j < nl; j++)
        if (loads[j].created_at >= cfg->start_s && loads[j].created_at < m.horizon)
            ev_push(&m.q, loads[j].created_at, EV_POST, (uint32_t)j, 0);
    if (cfg->policy == FN_SIM_DISPATCH || cfg->policy == FN_SIM_BACKHAUL)
        for (int64_t t = cfg->start_s + cfg->dispatch_every_s; t < m.horizon; t += cfg->dispatch_every_s)
            ev_push(&m.q, t, EV_TICK, 0, 0);
    ev_push(&m.q, m.horizon, EV_HORIZON, 0, 0);

    while (m.q.n > 0 && !m.err) {
        event e = ev_pop(&m.q);
        m.now = e.t;
        switch (e.kind) {
        case EV_POST: on_post(&m, e.idx); break;
        case EV_ARRIVE: on_arrive(&m, e.idx); break;
        case EV_DELIVER: on_deliver(&m, e.idx); break;
        case EV_GIVE_UP: on_give_up(&m, e.idx, e.epoch); break;
        case EV_HOME: on_home(&m, e.idx); break;
        case EV_TICK:
            if (cfg->policy == FN_SIM_BACKHAUL)
                backhaul_tick(&m);
            else
                dispatch_tick(&m);
            break;
        case EV_HORIZON: m.closed = 1; break;
        }
        if (cfg->progress && m.now - last_progress >= 1800 && m.now <= m.horizon) {
            last_progress = m.now;
            cfg->progress(cfg->progress_arg, (double)(m.now - cfg->start_s) / (double)(m.horizon - cfg->start_s));
        }
    }
    if (!m.err)
        finish(&m);
    out->wall_s = (double)(fn_mono_ns() - t0) / 1e9;
    fn_state_free(m.s);
    fn_buf_free(&m.rec);
    fn_grid_free(m.away);
    fn_grid_free(m.soon);
    free(m.promised);
    free(m.open), free(m.col_of);
    free(m.q.a), free(m.tr), free(m.load_of_id), free(m.id_of_load), free(m.hits), free(m.thits), free(m.lhits);
    if (m.err)
        fn_sim_result_free(out);
    return m.err;
}

void fn_sim_result_free(fn_sim_result *r)
{
    free(r->load_truck), free(r->load_booked_at), free(r->load_matched_at), free(r->load_delivered_at), free(r->load_deadhead_km);
    free(r->truck_empty_km), free(r->truck_loaded_km);
    free(r->hour_empty_km), free(r->hour_loaded_km), free(r->hour_booked);
    memset(r, 0, sizeof(*r));
}
