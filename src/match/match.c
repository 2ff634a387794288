/*
 * match.c — scores and the bounded searches behind match.h.
 */
#include "match/match.h"
#include "common/fn.h"
#include "common/geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const fn_mfactor_names[FN_MF__COUNT] = {"deadhead", "pickup_time", "destination",
                                                     "toward",   "rating",      "price"};

/* The deadhead factor is exp(-deadhead_km / DEADHEAD_SCALE_KM): it halves
 * about every 21 km of empty running. */
#define DEADHEAD_SCALE_KM 30.0

/* Weights of the factors, per search; each row sums to 1. */
static const double w_trucks[FN_MF__COUNT] = {0.45, 0.15, 0.20, 0.00, 0.10, 0.10};
static const double w_loads[FN_MF__COUNT] = {0.40, 0.10, 0.15, 0.00, 0.05, 0.30};
static const double w_backhaul[FN_MF__COUNT] = {0.30, 0.10, 0.00, 0.30, 0.05, 0.25};

double fn_match_ref_rate(int length_dm) { return 1.5 + 0.3 * length_dm / 10.0; }

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static double speed(const fn_match_config *cfg) { return cfg && cfg->speed_kmh > 0 ? cfg->speed_kmh : 50.0; }

static int truck_fits(const fn_driver *d, const fn_load *l)
{
    return (l->types_mask & (1u << d->truck_type)) && (l->min_length_idx < 0 || d->length_idx >= l->min_length_idx) &&
           d->capacity_kg >= l->weight_kg && !(l->volume_l && d->volume_l && d->volume_l < l->volume_l);
}

/* The destination suits the driver: a preferred province, or near home. */
static double destination01(const fn_driver *d, const fn_load *l)
{
    double near_home = 1.0 - fn_haversine_km(l->dest.lat, l->dest.lon, d->home_lat, d->home_lon) / 1000.0;
    if (l->dest.province >= 0 && (d->provinces_mask & (1u << l->dest.province)))
        return 1.0;
    return clamp01(near_home);
}

/* Backhaul: how much nearer the delivery leaves the truck to its target, from
 * 0.5 (no nearer) to 1 (there); further away falls toward 0. */
static double toward01(const fn_driver *d, fn_toward t, double from_lat, double from_lon, const fn_load *l)
{
    double tlat = d->home_lat, tlon = d->home_lon, before, after;
    if (t.kind == 2) {
        if (l->dest.province == t.province)
            return 1.0;
        fn_province_center(t.province, &tlat, &tlon);
    }
    before = fn_haversine_km(from_lat, from_lon, tlat, tlon);
    after = fn_haversine_km(l->dest.lat, l->dest.lon, tlat, tlon);
    return clamp01(0.5 + 0.5 * (before - after) / fmax(before, 50.0));
}

/* Fills the distance-, time- and price-dependent parts from the deadhead;
 * returns -1 when the pair fails the radius or the pickup window.  The
 * searches call this same function to bound a candidate from its index
 * entry, so a bound built from the exact deadhead equals the score's parts
 * bit for bit. */
static int from_deadhead(const fn_match_config *cfg, const fn_load *l, int length_idx, double deadhead_km,
                         double loaded_km, double radius_km, int64_t now_s, fn_match_hit *h)
{
    double eta_s;
    int64_t window;
    h->deadhead_km = deadhead_km;
    if (h->deadhead_km > radius_km)
        return -1;
    h->eta_min = h->deadhead_km / speed(cfg) * 60.0;
    eta_s = (double)now_s + h->eta_min * 60.0;
    if (eta_s > (double)l->pickup_latest_at)
        return -1;
    h->loaded_km = loaded_km;
    h->price_per_km = (double)l->price_fen / 100.0 / fmax(h->loaded_km + h->deadhead_km, 1.0);
    window = l->pickup_latest_at - l->pickup_earliest_at;
    h->factor[FN_MF_DEADHEAD] = exp(-h->deadhead_km / DEADHEAD_SCALE_KM);
    h->factor[FN_MF_PICKUP_TIME] =
        eta_s <= (double)l->pickup_earliest_at ? 1.0
                                               : clamp01(1.0 - (eta_s - (double)l->pickup_earliest_at) / (double)(window > 0 ? window : 1));
    h->factor[FN_MF_PRICE] = clamp01(h->price_per_km / (2.0 * fn_match_ref_rate(fn_truck_length_dm(length_idx))));
    return 0;
}

static int common(const fn_state *s, const fn_match_config *cfg, const fn_driver *d, const fn_load *l,
                  double truck_lat, double truck_lon, double radius_km, int64_t now_s, fn_match_hit *h)
{
    double circ = fn_state_cfg(s)->circuity;
    double dh = fn_haversine_km(truck_lat, truck_lon, l->origin.lat, l->origin.lon) * circ;
    if (dh > radius_km)
        return -1;
    if (from_deadhead(cfg, l, d->length_idx, dh,
                      fn_haversine_km(l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon) * circ, radius_km, now_s,
                      h) != 0)
        return -1;
    h->driver = d;
    h->load = l;
    h->lat = truck_lat;
    h->lon = truck_lon;
    return 0;
}

static void total(fn_match_hit *h, const double *w)
{
    h->score = 0;
    for (int f = 0; f < FN_MF__COUNT; f++) {
        h->weight[f] = w[f];
        h->score += 100.0 * w[f] * h->factor[f];
    }
}

int fn_match_score_truck(const fn_state *s, const fn_match_config *cfg, const fn_load *l, const fn_driver *d,
                         double radius_km, int exact, int64_t now_s, fn_match_hit *h)
{
    double lat = d->lat, lon = d->lon;
    memset(h, 0, sizeof(*h));
    if (d->status != FN_DS_AVAILABLE || d->pos_ts <= 0 || !truck_fits(d, l))
        return -1;
    if (!exact)
        fn_privacy_snap(d->lat, d->lon, &lat, &lon);
    if (common(s, cfg, d, l, lat, lon, radius_km, now_s, h) != 0)
        return -1;
    h->factor[FN_MF_DESTINATION] = destination01(d, l);
    h->factor[FN_MF_RATING] = fn_rating01(d->rating_sum, d->rating_count);
    total(h, w_trucks);
    return 0;
}

static void driver_origin(const fn_driver *d, double *lat, double *lon)
{
    *lat = d->pos_ts > 0 ? d->lat : d->home_lat;
    *lon = d->pos_ts > 0 ? d->lon : d->home_lon;
}

int fn_match_score_load(const fn_state *s, const fn_match_config *cfg, const fn_driver *d, fn_toward toward,
                        const fn_load *l, double radius_km, int64_t now_s, fn_match_hit *h)
{
    const fn_company *co = fn_state_company(s, l->company_id);
    double lat, lon;
    memset(h, 0, sizeof(*h));
    if (fn_load_status(l, now_s) != FN_LS_OPEN || !truck_fits(d, l))
        return -1;
    driver_origin(d, &lat, &lon);
    if (common(s, cfg, d, l, lat, lon, radius_km, now_s, h) != 0)
        return -1;
    h->factor[FN_MF_RATING] = co ? fn_rating01(co->rating_sum, co->rating_count) : 0.5;
    if (toward.kind) {
        h->factor[FN_MF_TOWARD] = toward01(d, toward, lat, lon, l);
        total(h, w_backhaul);
    } else {
        h->factor[FN_MF_DESTINATION] = destination01(d, l);
        total(h, w_loads);
    }
    return 0;
}

/* ---- the bounded top-k search ---- */

/* Better = higher score, then lower id of the other side. */
static int better(const fn_match_hit *a, const fn_match_hit *b, int by_load)
{
    uint64_t ia = by_load ? a->load->id : a->driver->id, ib = by_load ? b->load->id : b->driver->id;
    return a->score > b->score || (a->score == b->score && ia < ib);
}

/* What a privacy cell's centre gives the distance-dependent parts of a
 * truck's score (the price part before it is divided by the going rate of
 * the truck's length). */
typedef struct snap_slot {
    uint64_t key;       /* privacy cell (row << 24 | col, offset), UINT64_MAX when empty */
    int ok;             /* 0, or -1 when the cell fails the radius or the pickup window */
    double deadhead_km, eta_min, price_per_km, f_dead, f_pick;
} snap_slot;

typedef struct search {
    const fn_state *s;
    const fn_match_config *cfg;
    const fn_load *load;      /* truck search */
    const fn_driver *driver;  /* load search */
    fn_toward toward;
    const double *w;
    double radius_km, circ;
    fn_near_lb lb;            /* from the pickup (truck search) or the truck (load search) */
    double slack_km;          /* how far a ranked (snapped) position may be from the stored one */
    int exact, by_load;
    int64_t now_s;
    size_t k, n;
    fn_match_hit *heap;       /* the k best, worst at [0] */
    /* truck search */
    double loaded_km, best_rating;
    int best_len;             /* the allowed length with the lowest going rate */
    uint32_t min_len, need_cap_q;
    fn_near_lb dest_lb;       /* from the delivery point, for the home part of the destination factor */
    snap_slot snap[64];       /* deadhead from each privacy cell seen */
    /* load search */
    double from_lat, from_lon, from_cos, target_lat, target_lon, before_km;
    double rating_w;          /* the rating points a load can earn at most */
    const fn_area *area;
    fn_near_lb home_lb;       /* from the driver's home */
} search;

static void sift_down(search *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && better(&q->heap[m], &q->heap[l], q->by_load))
            m = l;
        if (r < q->n && better(&q->heap[m], &q->heap[r], q->by_load))
            m = r;
        if (m == i)
            return;
        fn_match_hit t = q->heap[i];
        q->heap[i] = q->heap[m];
        q->heap[m] = t;
        i = m;
    }
}

static void offer(search *q, const fn_match_hit *h)
{
    size_t i;
    if (q->n == q->k) {
        if (!better(h, &q->heap[0], q->by_load))
            return;
        q->heap[0] = *h;
        sift_down(q, 0);
        return;
    }
    i = q->n++;
    q->heap[i] = *h;
    while (i > 0 && better(&q->heap[(i - 1) / 2], &q->heap[i], q->by_load)) {
        fn_match_hit t = q->heap[i];
        q->heap[i] = q->heap[(i - 1) / 2];
        q->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* The best score any candidate at least min_dist_km (great circle) away can
 * have: only the deadhead factor depends on distance here; the others are
 * taken at most 1. */
static double score_bound(const search *q, double min_dist_km)
{
    return 100.0 * (q->w[FN_MF_DEADHEAD] * exp(-min_dist_km * q->circ / DEADHEAD_SCALE_KM) +
                    (1.0 - q->w[FN_MF_DEADHEAD]));
}

/* No unvisited candidate is nearer than min_dist_km (great circle), so none
 * can score above this. */
static int stop_rule(void *ctx, double min_dist_km)
{
    search *q = ctx;
    return q->n == q->k && score_bound(q, min_dist_km) < q->heap[0].score;
}

/* A candidate whose score is at most ub (with id as the tie-break) cannot
 * enter a full top k. */
static int loses(const search *q, double ub, uint64_t id)
{
    const fn_match_hit *worst = &q->heap[0];
    if (q->n < q->k)
        return 0;
    return ub < worst->score || (ub == worst->score && id > (q->by_load ? worst->load->id : worst->driver->id));
}

/* ---- trucks for a load ---- */

/* The distance-dependent parts of the score from a stored position's
 * privacy cell, exactly as the score computes them from the record, or NULL
 * when the float copy lies too near a cell edge to tell which cell the exact
 * position is in. */
static const snap_slot *snapped_parts(search *q, const fn_grid_entry *e)
{
    double slat, slon;
    uint64_t key;
    snap_slot *slot;
    fn_match_hit h = {0};
    if (fn_privacy_snap_float(e->lat, e->lon, &slat, &slon, &key) != 0)
        return NULL;
    slot = &q->snap[(key * 0x9E3779B97F4A7C15ull) >> 58];
    if (slot->key == key)
        return slot;
    slot->key = key;
    slot->deadhead_km = fn_haversine_km(slat, slon, q->load->origin.lat, q->load->origin.lon) * q->circ;
    slot->ok = from_deadhead(q->cfg, q->load, 0, slot->deadhead_km, q->loaded_km, q->radius_km, q->now_s, &h);
    slot->eta_min = h.eta_min;
    slot->price_per_km = h.price_per_km;
    slot->f_dead = h.factor[FN_MF_DEADHEAD];
    slot->f_pick = h.factor[FN_MF_PICKUP_TIME];
    return slot;
}

/* The most a truck could score from what its entry says: the exact
 * deadhead-, time- and price-parts when its snapped cell is known (exact is
 * then 1), else those parts at the least possible deadhead; the destination
 * and rating parts at most what they could be.  Returns -1 when the entry
 * already fails the radius or the pickup window. */
static int truck_bound(search *q, const fn_grid_entry *e, double *ub)
{
    const fn_load *l = q->load;
    const snap_slot *sp = NULL;
    fn_match_hit h;
    int len = (int)fn_truck_attr_len(e->attr);
    double lb = (fn_near_lb_km(&q->lb, e->lat, e->lon) - q->slack_km) * q->circ;
    if (lb > q->radius_km)
        return -1;
    if (!q->exact)
        sp = snapped_parts(q, e);
    if (sp) {
        if (sp->ok != 0)
            return -1;
        h.factor[FN_MF_DEADHEAD] = sp->f_dead;
        h.factor[FN_MF_PICKUP_TIME] = sp->f_pick;
        h.factor[FN_MF_PRICE] = clamp01(sp->price_per_km / (2.0 * fn_match_ref_rate(fn_truck_length_dm(len))));
    } else if (from_deadhead(q->cfg, l, len, fmax(lb, 0.0), q->loaded_km, q->radius_km, q->now_s, &h) != 0) {
        return -1;
    }
    if (l->dest.province >= 0 && (e->aux[1] & (1u << l->dest.province))) {
        h.factor[FN_MF_DESTINATION] = 1.0;
    } else {
        double hlat, hlon, tol;
        fn_quant_center(q->area, e->aux[0], &hlat, &hlon, &tol);
        h.factor[FN_MF_DESTINATION] = clamp01(1.0 - fn_near_lb_tol(&q->dest_lb, hlat, hlon, tol) / 1000.0);
    }
    h.factor[FN_MF_TOWARD] = 0;
    h.factor[FN_MF_RATING] = fn_rating_q_value(fn_truck_attr_rating(e->attr));
    total(&h, q->w);
    *ub = h.score;
    return 0;
}

/* The best score of any truck at least min_dist_km (great circle) away: the
 * distance-dependent parts at that distance for the allowed length with the
 * best price part, the destination part at 1, the rating part at the best
 * rating of any truck. */
static int stop_trucks(void *ctx, double min_dist_km)
{
    search *q = ctx;
    fn_match_hit h;
    if (q->n < q->k)
        return 0;
    if (from_deadhead(q->cfg, q->load, q->best_len, min_dist_km * q->circ, q->loaded_km, q->radius_km, q->now_s, &h) != 0)
        return 1; /* every unseen truck is beyond the radius or too late for the window */
    h.factor[FN_MF_DESTINATION] = 1.0;
    h.factor[FN_MF_TOWARD] = 0;
    h.factor[FN_MF_RATING] = q->best_rating;
    total(&h, q->w);
    return h.score < q->heap[0].score;
}

static void visit_trucks(void *ctx, const fn_grid_entry *e, size_t n)
{
    search *q = ctx;
    const fn_load *l = q->load;
    for (size_t i = 0; i < n; i++) {
        const fn_grid_entry *x = &e[i];
        uint32_t cap = fn_truck_attr_cap(x->attr), vol = fn_truck_attr_vol(x->attr);
        const fn_driver *d;
        fn_match_hit h;
        double ub;
        if (fn_truck_attr_len(x->attr) < q->min_len || (cap < FN_CAP_Q_MAX && cap < q->need_cap_q) ||
            (l->volume_l && vol && vol < FN_VOL_Q_MAX && vol * 1000u < l->volume_l))
            continue;
        if (truck_bound(q, x, &ub) != 0 || loses(q, ub, (uint64_t)x->item + 1))
            continue;
        d = fn_state_driver(q->s, (uint64_t)x->item + 1);
        if (d && fn_match_score_truck(q->s, q->cfg, l, d, q->radius_km, q->exact, q->now_s, &h) == 0)
            offer(q, &h);
    }
}

/* ---- loads for a driver ---- */

/* The most a load could score from what its entry says: the deadhead and
 * the loaded distance at their least, the destination or backhaul part at
 * its most, the pickup-time and rating parts at 1. */
static int load_bound(search *q, const fn_grid_entry *e, double *ub)
{
    const fn_driver *d = q->driver;
    double dh = fn_near_lb_km(&q->lb, e->lat, e->lon) * q->circ, dlat, dlon, tol, loaded, ppk;
    int prov = fn_load_aux_province(e->aux[1]);
    double f[FN_MF__COUNT] = {0};
    if (dh > q->radius_km)
        return -1;
    fn_quant_center(q->area, e->aux[0], &dlat, &dlon, &tol);
    /* From the pickup (a float within 1e-5 degree) to the delivery box. */
    loaded = fn_grid_box_lb_km(e->lat, e->lon, fmax(cos((fabs((double)e->lat) + 1e-5) * M_PI / 180.0), 0.0),
                               dlat - tol, dlat + tol, dlon - tol, dlon + tol) -
             FN_KM_PER_DEG_LAT * 2e-5;
    loaded = fmax(loaded, 0.0) * q->circ;
    ppk = (double)fn_load_aux_price(e->aux[1]) / fmax(loaded + fmax(dh, 0.0), 1.0);
    f[FN_MF_DEADHEAD] = exp(-fmax(dh, 0.0) / DEADHEAD_SCALE_KM);
    f[FN_MF_PICKUP_TIME] = 1.0;
    f[FN_MF_PRICE] = fn_load_aux_price(e->aux[1]) >= FN_PRICE_Q_MAX
                         ? 1.0
                         : clamp01(ppk / (2.0 * fn_match_ref_rate(fn_truck_length_dm(d->length_idx))));
    f[FN_MF_RATING] = 1.0;
    if (q->toward.kind) {
        double after;
        if (q->toward.kind == 2 && prov == q->toward.province) {
            f[FN_MF_TOWARD] = 1.0;
        } else {
            after = fn_grid_box_lb_km(q->target_lat, q->target_lon, cos(q->target_lat * M_PI / 180.0), dlat - tol,
                                      dlat + tol, dlon - tol, dlon + tol);
            f[FN_MF_TOWARD] = clamp01(0.5 + 0.5 * (q->before_km - after) / fmax(q->before_km, 50.0));
        }
    } else if (prov >= 0 && (d->provinces_mask & (1u << prov))) {
        f[FN_MF_DESTINATION] = 1.0;
    } else {
        f[FN_MF_DESTINATION] = clamp01(1.0 - fn_near_lb_tol(&q->home_lb, dlat, dlon, tol) / 1000.0);
    }
    *ub = 0;
    for (int i = 0; i < FN_MF__COUNT; i++)
        *ub += 100.0 * q->w[i] * f[i];
    /* The rounding of the sum above against the score's own: a hair of slack. */
    *ub += 1e-9;
    return 0;
}

static void visit_loads(void *ctx, const fn_grid_entry *e, size_t n)
{
    search *q = ctx;
    const fn_driver *d = q->driver;
    for (size_t i = 0; i < n; i++) {
        const fn_grid_entry *x = &e[i];
        const fn_load *l;
        fn_match_hit h;
        double ub;
        if (!(x->attr & (1u << d->truck_type)) || fn_load_attr_minlen(x->attr) > (int)d->length_idx ||
            (uint64_t)fn_load_attr_weight(x->attr) * 100u > d->capacity_kg)
            continue;
        if (q->n == q->k && (load_bound(q, x, &ub) != 0 || loses(q, ub, (uint64_t)x->item + 1)))
            continue;
        l = fn_state_load(q->s, (uint64_t)x->item + 1);
        if (l && fn_match_score_load(q->s, q->cfg, d, q->toward, l, q->radius_km, q->now_s, &h) == 0)
            offer(q, &h);
    }
}

static int cmp_trucks(const void *a, const void *b)
{
    return better(a, b, 0) ? -1 : better(b, a, 0) ? 1 : 0;
}

static int cmp_loads(const void *a, const void *b)
{
    return better(a, b, 1) ? -1 : better(b, a, 1) ? 1 : 0;
}

size_t fn_match_trucks(const fn_state *s, const fn_match_config *cfg, const fn_load *l, double radius_km,
                       size_t limit, int exact, int64_t now_s, fn_match_hit *out)
{
    search *q;
    size_t n;
    double circ = fn_state_cfg(s)->circuity;
    if (limit == 0 || radius_km <= 0)
        return 0;
    q = fn_xcalloc(1, sizeof(*q));
    q->s = s, q->cfg = cfg, q->load = l, q->radius_km = radius_km, q->w = w_trucks, q->circ = circ;
    q->exact = exact, q->now_s = now_s, q->k = limit, q->heap = out, q->area = &fn_state_cfg(s)->area;
    /* A snapped point is at most half a privacy cell's diagonal from the exact one. */
    q->slack_km = exact ? 0.0 : FN_PRIVACY_CELL_DEG * FN_KM_PER_DEG_LAT;
    q->min_len = l->min_length_idx < 0 ? 0 : (uint32_t)l->min_length_idx;
    /* capacity_kg >= weight_kg implies capacity_kg / 100 >= weight_kg / 100 (both rounded down). */
    q->need_cap_q = l->weight_kg / 100u;
    q->loaded_km = fn_haversine_km(l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon) * circ;
    fn_near_lb_init(&q->lb, l->origin.lat, l->origin.lon, radius_km / circ + q->slack_km);
    fn_near_lb_init(&q->dest_lb, l->dest.lat, l->dest.lon, 1000.0);
    for (size_t i = 0; i < FN_ARRAY_LEN(q->snap); i++)
        q->snap[i].key = UINT64_MAX;
    q->best_rating = fn_state_best_truck_rating(s);
    q->best_len = (int)q->min_len;
    for (int len = (int)q->min_len; len < FN_TRUCK_LENGTH_COUNT; len++)
        if (fn_truck_length_dm(len) < fn_truck_length_dm(q->best_len))
            q->best_len = len;
    fn_state_visit_trucks(s, l->types_mask, l->origin.lat, l->origin.lon, radius_km / circ, q->slack_km, visit_trucks,
                          stop_trucks, q);
    n = q->n;
    free(q);
    qsort(out, n, sizeof(*out), cmp_trucks);
    return n;
}

size_t fn_match_loads(const fn_state *s, const fn_match_config *cfg, const fn_driver *d, fn_toward toward,
                      double radius_km, size_t limit, int64_t now_s, fn_match_hit *out)
{
    search *q;
    size_t n;
    double circ = fn_state_cfg(s)->circuity, lat, lon;
    if (limit == 0 || radius_km <= 0)
        return 0;
    driver_origin(d, &lat, &lon);
    q = fn_xcalloc(1, sizeof(*q));
    q->s = s, q->cfg = cfg, q->driver = d, q->toward = toward, q->radius_km = radius_km;
    q->w = toward.kind ? w_backhaul : w_loads;
    q->circ = circ, q->exact = 1, q->by_load = 1, q->now_s = now_s, q->k = limit, q->heap = out;
    q->area = &fn_state_cfg(s)->area;
    q->from_lat = lat, q->from_lon = lon;
    fn_near_lb_init(&q->lb, lat, lon, radius_km / circ);
    fn_near_lb_init(&q->home_lb, d->home_lat, d->home_lon, 1000.0);
    if (toward.kind) {
        q->target_lat = d->home_lat, q->target_lon = d->home_lon;
        if (toward.kind == 2)
            fn_province_center(toward.province, &q->target_lat, &q->target_lon);
        q->before_km = fn_haversine_km(lat, lon, q->target_lat, q->target_lon);
    }
    fn_state_visit_open_loads(s, lat, lon, radius_km / circ, 0.0, visit_loads, stop_rule, q);
    n = q->n;
    free(q);
    qsort(out, n, sizeof(*out), cmp_loads);
    return n;
}
