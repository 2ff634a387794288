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

static double rating01(uint32_t sum, uint32_t count)
{
    return count ? clamp01(((double)sum / count - 1.0) / 4.0) : 0.5; /* unrated: the middle */
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

/* Fills the distance-, time- and price-dependent parts; returns -1 when the
 * pair fails the radius or the pickup window. */
static int common(const fn_state *s, const fn_match_config *cfg, const fn_driver *d, const fn_load *l,
                  double truck_lat, double truck_lon, double radius_km, int64_t now_s, fn_match_hit *h)
{
    double circ = fn_state_cfg(s)->circuity, eta_s;
    int64_t window;
    h->deadhead_km = fn_haversine_km(truck_lat, truck_lon, l->origin.lat, l->origin.lon) * circ;
    if (h->deadhead_km > radius_km)
        return -1;
    h->eta_min = h->deadhead_km / speed(cfg) * 60.0;
    eta_s = (double)now_s + h->eta_min * 60.0;
    if (eta_s > (double)l->pickup_latest_at)
        return -1;
    h->loaded_km = fn_haversine_km(l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon) * circ;
    h->price_per_km = (double)l->price_fen / 100.0 / fmax(h->loaded_km + h->deadhead_km, 1.0);
    window = l->pickup_latest_at - l->pickup_earliest_at;
    h->factor[FN_MF_DEADHEAD] = exp(-h->deadhead_km / DEADHEAD_SCALE_KM);
    h->factor[FN_MF_PICKUP_TIME] =
        eta_s <= (double)l->pickup_earliest_at ? 1.0
                                               : clamp01(1.0 - (eta_s - (double)l->pickup_earliest_at) / (double)(window > 0 ? window : 1));
    h->factor[FN_MF_PRICE] = clamp01(h->price_per_km / (2.0 * fn_match_ref_rate(fn_truck_length_dm(d->length_idx))));
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
    h->factor[FN_MF_RATING] = rating01(d->rating_sum, d->rating_count);
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
    h->factor[FN_MF_RATING] = co ? rating01(co->rating_sum, co->rating_count) : 0.5;
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

typedef struct search {
    const fn_state *s;
    const fn_match_config *cfg;
    const fn_load *load;      /* truck search */
    const fn_driver *driver;  /* load search */
    fn_toward toward;
    double radius_km, w_dead, circ;
    double lat0, lon0, km_per_deg_lon, reach_km, slack_km; /* the coarse distance prefilter */
    uint32_t min_len, need_cap_units;            /* the attribute prefilter (truck search) */
    int exact, by_load;
    int64_t now_s;
    size_t k, n;
    fn_match_hit *heap;       /* the k best, worst at [0] */
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
 * have: only the deadhead factor depends on distance; the others are at
 * most 1. */
static double score_bound(const search *q, double min_dist_km)
{
    return 100.0 * (q->w_dead * exp(-min_dist_km * q->circ / DEADHEAD_SCALE_KM) + (1.0 - q->w_dead));
}

/* No unvisited candidate is nearer than min_dist_km (great circle), so none
 * can score above this. */
static int stop_rule(void *ctx, double min_dist_km)
{
    search *q = ctx;
    return q->n == q->k && score_bound(q, min_dist_km) < q->heap[0].score;
}

/* Cheap rejection from the grid entry alone.  The distance is estimated
 * equirectangularly in single precision; shrunk by 2% and 1 km (and the
 * privacy slack) it is below the true great-circle distance, so comparing
 * it with the reach, or bounding the score with it, never loses a candidate
 * that could make the top k. */
static int cannot_win(const search *q, const fn_grid_entry *e)
{
    double dy = ((double)e->lat - q->lat0) * FN_KM_PER_DEG_LAT, dx = ((double)e->lon - q->lon0) * q->km_per_deg_lon;
    double d2 = dx * dx + dy * dy, low;
    if (d2 > q->reach_km * q->reach_km)
        return 1;
    if (q->n < q->k)
        return 0;
    low = sqrt(d2) / 1.02 - 1.0 - q->slack_km;
    return low > 0 && score_bound(q, low) < q->heap[0].score;
}

static void visit_truck(void *ctx, const fn_grid_entry *e)
{
    search *q = ctx;
    fn_match_hit h;
    const fn_driver *d;
    if (!(q->load->types_mask & (1u << (e->attr & 15))) || ((e->attr >> 4) & 15) < q->min_len ||
        (e->attr >> 8) < q->need_cap_units || cannot_win(q, e))
        return;
    d = fn_state_driver(q->s, (uint64_t)e->item + 1);
    if (d && fn_match_score_truck(q->s, q->cfg, q->load, d, q->radius_km, q->exact, q->now_s, &h) == 0)
        offer(q, &h);
}

static void visit_load(void *ctx, const fn_grid_entry *e)
{
    search *q = ctx;
    fn_match_hit h;
    const fn_load *l;
    /* The load's attribute word rules out most loads the truck cannot carry. */
    if (!(e->attr & (1u << q->driver->truck_type)) || (int)((e->attr >> 12) & 15) - 1 > (int)q->driver->length_idx ||
        (uint64_t)(e->attr >> 16) * 100u > q->driver->capacity_kg || cannot_win(q, e))
        return;
    l = fn_state_load(q->s, (uint64_t)e->item + 1);
    if (l && fn_match_score_load(q->s, q->cfg, q->driver, q->toward, l, q->radius_km, q->now_s, &h) == 0)
        offer(q, &h);
}

static void set_reach(search *q, double lat, double lon, double slack_km)
{
    q->lat0 = lat;
    q->lon0 = lon;
    /* Degrees of longitude are measured at the most poleward latitude within
     * reach (6 degrees covers 500 km of radius), where they are shortest, so
     * the estimate errs short, never long. */
    q->km_per_deg_lon = FN_KM_PER_DEG_LAT * cos(fmin(fabs(lat) + 6.0, 89.0) * M_PI / 180.0);
    q->slack_km = slack_km;
    q->reach_km = (q->radius_km / q->circ + slack_km) * 1.02 + 1.0;
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
    search q;
    double circ = fn_state_cfg(s)->circuity;
    if (limit == 0 || radius_km <= 0)
        return 0;
    double slack_km = exact ? 0.0 : FN_PRIVACY_CELL_DEG * FN_KM_PER_DEG_LAT;
    memset(&q, 0, sizeof(q));
    q.s = s, q.cfg = cfg, q.load = l, q.radius_km = radius_km, q.w_dead = w_trucks[FN_MF_DEADHEAD], q.circ = circ;
    q.exact = exact, q.now_s = now_s, q.k = limit, q.heap = out;
    q.min_len = l->min_length_idx < 0 ? 0 : (uint32_t)l->min_length_idx;
    /* capacity_kg >= weight_kg implies capacity_kg / 100 >= weight_kg / 100 (both rounded down). */
    q.need_cap_units = l->weight_kg / 100u;
    set_reach(&q, l->origin.lat, l->origin.lon, slack_km);
    /* The grid holds exact positions; a snapped one is at most half a cell's
     * diagonal away, which the slack covers. */
    fn_state_visit_trucks(s, l->origin.lat, l->origin.lon, radius_km / circ, slack_km, visit_truck, stop_rule, &q);
    qsort(out, q.n, sizeof(*out), cmp_trucks);
    return q.n;
}

size_t fn_match_loads(const fn_state *s, const fn_match_config *cfg, const fn_driver *d, fn_toward toward,
                      double radius_km, size_t limit, int64_t now_s, fn_match_hit *out)
{
    search q;
    double circ = fn_state_cfg(s)->circuity, lat, lon;
    const double *w = toward.kind ? w_backhaul : w_loads;
    if (limit == 0 || radius_km <= 0)
        return 0;
    driver_origin(d, &lat, &lon);
    memset(&q, 0, sizeof(q));
    q.s = s, q.cfg = cfg, q.driver = d, q.toward = toward, q.radius_km = radius_km, q.w_dead = w[FN_MF_DEADHEAD];
    q.circ = circ, q.exact = 1, q.by_load = 1, q.now_s = now_s, q.k = limit, q.heap = out;
    set_reach(&q, lat, lon, 0.0);
    fn_state_visit_open_loads(s, lat, lon, radius_km / circ, 0.0, visit_load, stop_rule, &q);
    qsort(out, q.n, sizeof(*out), cmp_loads);
    return q.n;
}
