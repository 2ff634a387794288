/*
 * bound.c — column generation behind bound.h.
 *
 * The assignment itself is fn_dispatch_solve_dual's (match/dispatch.c):
 * shortest augmenting paths on a sparse graph with a private "unassigned"
 * column per row costing `big`.  Here big is chosen for the FULL problem,
 * (largest cost any feasible pair can have + 1) x (loads + 1), so that an
 * assignment optimal for the big-M objective over all pairs serves the most
 * loads and then has the least empty metres.  The solver's potentials pr
 * (loads) and pc (columns, <= 0, 0 when free) are feasible on the graph and
 * tight on the chosen edges; if moreover cost - pr - pc >= 0 for every
 * feasible pair not in the graph, they are a dual solution of the full LP
 * with the same value, and the graph's optimum is the full optimum.
 *
 * Checking that is a range search per load: since pc <= 0, a violating
 * pair needs cost < pr, so only columns within pr metres of road (and
 * within what time allows at all) can violate.  The columns live in the
 * project's grid (core/grid.h): trucks in the layer of their type, load
 * ends in one more layer, filtered by type mask.  Loads the optimum leaves
 * unserved carry pr >= big, so their search is bounded by time alone; that
 * is the price of exactness for them.
 *
 * Closed mode appends one row per truck, its home, after the loads.  A home
 * takes any column, so its searches read every layer with no filter, and
 * its cost is 0 within home_km: a home row with a positive dual must look
 * at every column within home_km, and beyond only as far as its dual.  Its
 * first edges are the k nearest columns by road distance, not by cost (all
 * columns at home tie at 0, and ranking them would read a whole city), and
 * its own truck's start, so that the first graph already holds the plan
 * where nobody moves.  big covers the longest trip home there can be, half
 * the earth's circumference.  The first graph also holds the open
 * optimum with each truck's chain closed at its own home (solved first),
 * so that it already matches every row the full problem can.
 *
 * Known weakness, measured with bench_bound --closed: the checks do not
 * scale.  Closed mode matches nearly every column, so column duals carry
 * prices between regions (a home 800 km from its truck raises every column
 * near that home by about 800 km), and the row duals that bound the search
 * radii reach hundreds of km, as they must for any certificate of such a
 * matching.  The search radius uses only pc <= 0; pruning whole cells by
 * the largest pc in them would be the fix, and needs a per-cell summary
 * the grid does not keep.  A load nothing can serve makes it far worse:
 * its alternating tree reaches homes and prices them near big.
 *
 * Both the first k-nearest graph and each check split the loads over two
 * threads; the grid is only read while they run.
 */
#include "sim/bound.h"
#include "common/fn.h"
#include "common/geo.h"
#include "core/grid.h"
#include "core/model.h"
#include "match/dispatch.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BOUND_THREADS 2
#define LOAD_END_LAYER FN_TT__COUNT
#define TYPE_BITS ((uint16_t)((1u << FN_TT__COUNT) - 1u))

/* A column: where and when a truck is free, and what it can carry. */
typedef struct bcol {
    double lat, lon;
    double t_s;          /* free from (t_s, or ready_a for a load's end) */
    uint32_t cap_kg, vol_l;
    uint16_t mask;       /* the type bit of a truck; a load's types_mask */
    uint8_t len_idx;
    uint8_t is_truck;
} bcol;

/* A row: a load's pickup, deadline and needs, or a truck's home. */
typedef struct brow {
    double lat, lon;
    double latest_s;
    double reach_km;     /* great-circle km any column could cover in time; < 0: none */
    uint32_t weight_kg, vol_l;
    uint16_t mask;
    int8_t min_len;
    uint8_t is_home;     /* 1: a home row, which any column may feed */
    uint32_t own;        /* a home row's own truck's start column */
} brow;

typedef struct bctx {
    const bcol *col;
    const brow *row;
    size_t nt, nl, nc, nr, k;   /* nr rows: the loads, then (closed) the homes */
    double circ, speed_kmh;
    double home_km, home_m;     /* closed mode: the radius of "at home", in km and m */
    fn_grid *grid;
    const int32_t *hint;        /* NULL, or per row a column its first edges must hold (-1 none) */
} bctx;

/* The edge (column c -> row r): 1 and its cost in metres when feasible,
 * with *road_m its road metres (the cost too, but for a home row at home). */
static int edge_cost(const bctx *b, uint32_t c, uint32_t r, int64_t *cost_m, int64_t *road_m)
{
    const bcol *x = &b->col[c];
    const brow *y = &b->row[r];
    double dh;
    if (y->is_home) {
        dh = fn_haversine_km(x->lat, x->lon, y->lat, y->lon) * b->circ;
        *road_m = (int64_t)llround(dh * 1000.0);
        *cost_m = dh > b->home_km ? *road_m : 0;
        return 1;
    }
    if (!(x->mask & y->mask))
        return 0;
    if (x->is_truck) {
        if ((int)x->len_idx < (int)y->min_len || x->cap_kg < y->weight_kg || (y->vol_l && x->vol_l && x->vol_l < y->vol_l))
            return 0;
    } else if ((size_t)c - b->nt == r) {
        return 0;
    }
    dh = fn_haversine_km(x->lat, x->lon, y->lat, y->lon) * b->circ;
    if (x->t_s + dh / b->speed_kmh * 3600.0 > y->latest_s)
        return 0;
    *cost_m = *road_m = (int64_t)llround(dh * 1000.0);
    return 1;
}

/* ---- a bounded heap of candidates, worst on top ---- */

typedef struct cand {
    int64_t key;         /* road metres (first graph) or reduced cost (checks) */
    int64_t cost;
    uint32_t col;
} cand;

static int cand_worse(const cand *a, const cand *b)
{
    return a->key > b->key || (a->key == b->key && a->col > b->col);
}

static void cpush(cand *h, size_t *n, size_t k, cand x)
{
    size_t i;
    if (*n == k) {
        if (!cand_worse(&h[0], &x))
            return;
        i = 0;
        h[0] = x;
        for (;;) {
            size_t l = 2 * i + 1, m = i;
            if (l < *n && cand_worse(&h[l], &h[m]))
                m = l;
            if (l + 1 < *n && cand_worse(&h[l + 1], &h[m]))
                m = l + 1;
            if (m == i)
                return;
            cand t = h[i];
            h[i] = h[m];
            h[m] = t;
            i = m;
        }
    }
    i = (*n)++;
    h[i] = x;
    while (i > 0 && cand_worse(&h[i], &h[(i - 1) / 2])) {
        cand t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* ---- one load's search ---- */

typedef struct sctx {
    const bctx *b;
    uint32_t r;
    const int64_t *pc;   /* NULL: the first graph, k nearest by cost */
    int64_t pr;
    fn_near_lb lb;
    cand *h;
    size_t n;
} sctx;

static void search_visit(void *ctx, const fn_grid_entry *e, size_t n)
{
    sctx *s = ctx;
    const bctx *b = s->b;
    const brow *y = &b->row[s->r];
    uint16_t mask = y->mask;
    double to_m = b->circ * 1000.0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = e[i].item;
        int64_t cost, road, thr = 0;
        /* Whole-metre costs round: a pair half a metre beyond a bound may
         * still tie or beat it, hence the 1 m of slack below. */
        double low_m;
        if (!y->is_home && !(e[i].attr & mask))
            continue;
        low_m = fn_near_lb_km(&s->lb, e[i].lat, e[i].lon) * to_m;
        if (s->pc) {
            /* Violates iff cost < pr + pc; the heap keeps the k most
             * negative reduced costs.  A home's cost is 0 unless the road
             * is surely longer than home_km. */
            double low_cost = y->is_home && low_m <= b->home_m + 1.0 ? 0.0 : low_m;
            thr = s->pr + s->pc[c];
            if (low_cost > (double)thr + 1.0 ||
                (s->n == b->k && low_cost - (double)thr - 1.0 > (double)s->h[0].key))
                continue;
        } else if (s->n == b->k && low_m > (double)s->h[0].key + 1.0) {
            continue;
        }
        if (!edge_cost(b, c, s->r, &cost, &road))
            continue;
        if (s->pc) {
            if (cost < thr)
                cpush(s->h, &s->n, b->k, (cand){cost - thr, cost, c});
        } else {
            cpush(s->h, &s->n, b->k, (cand){road, cost, c});
        }
    }
}

static int search_stop(void *ctx, double min_dist_km)
{
    sctx *s = ctx;
    /* Only the k-nearest search can stop early: the checks rank by reduced
     * cost, which distance does not bound. */
    return !s->pc && s->n == s->b->k && min_dist_km * s->b->circ * 1000.0 > (double)s->h[0].key + 1.0;
}

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->col > y->col) - (x->col < y->col);
}

/* The k best columns for row r into h (room for k + 2: a home's own
 * truck and a row's hint join its first k); returns how many. */
static size_t search_row(const bctx *b, uint32_t r, const int64_t *pr, const int64_t *pc, cand *h)
{
    const brow *y = &b->row[r];
    double radius = y->reach_km;
    uint32_t layers = y->is_home ? (1u << (LOAD_END_LAYER + 1)) - 1u
                                 : (uint32_t)(y->mask & TYPE_BITS) | 1u << LOAD_END_LAYER;
    sctx s = {b, r, pc, pr ? pr[r] : 0, {0, 0, 0}, h, 0};
    if (radius < 0 || !(layers & TYPE_BITS))
        return 0;
    if (pc) {
        if (s.pr <= 0) /* every cost >= 0 >= pr + pc */
            return 0;
        /* cost < pr needs road metres < pr: a great-circle radius, widened
         * by a metre and a relative hair for rounding.  At home every
         * column costs 0, so a home's radius is at least home_km. */
        double by_dual = ((double)s.pr + 1.0) / (b->circ * 1000.0) * (1.0 + 1e-9) + 1e-6;
        if (y->is_home)
            by_dual = fmax(by_dual, b->home_km / b->circ * (1.0 + 1e-9) + 1e-6);
        radius = by_dual < radius ? by_dual : radius;
    } else if (y->is_home) {
        /* The first graph only guesses, so a home need not look farther
         * than its own truck and some way beyond. */
        const bcol *o = &b->col[y->own];
        radius = fmin(radius, fn_haversine_km(o->lat, o->lon, y->lat, y->lon) + b->home_km / b->circ + 100.0);
    }
    fn_near_lb_init(&s.lb, y->lat, y->lon, radius);
    fn_grid_visit(b->grid, layers, y->lat, y->lon, radius, 0.0, search_visit, search_stop, &s);
    qsort(h, s.n, sizeof(*h), cand_cmp);
    for (int w = 0; !pc && w < 2; w++) {
        int64_t cost, road;
        int32_t want = w == 0 ? (y->is_home ? (int32_t)y->own : -1) : b->hint ? b->hint[r] : -1;
        size_t i = 0;
        while (want >= 0 && i < s.n && h[i].col != (uint32_t)want)
            i++;
        if (want >= 0 && i == s.n && edge_cost(b, (uint32_t)want, r, &cost, &road))
            h[s.n++] = (cand){road, cost, (uint32_t)want};
    }
    return s.n;
}

/* Rows go to the threads in chunks, dealt round-robin: the loads and the
 * homes behind them differ in cost, and halving the row range would give
 * one thread the loads and the other the homes. */
#define ROW_CHUNK 4096

static int row_job(size_t r)
{
    return (int)(r / ROW_CHUNK % BOUND_THREADS);
}

/* One thread's share: the chunks of rows row_job gives it, their candidates
 * in row order. */
typedef struct bjob {
    const bctx *b;
    const int64_t *pr, *pc;
    int id;
    cand *out;           /* owned */
    size_t n, cap;
    uint32_t *count;     /* per row (all rows; this job writes only its own) */
} bjob;

static void *job_main(void *arg)
{
    bjob *j = arg;
    cand *h = fn_xmalloc((j->b->k + 2) * sizeof(cand));
    for (size_t r0 = (size_t)j->id * ROW_CHUNK; r0 < j->b->nr; r0 += (size_t)BOUND_THREADS * ROW_CHUNK) {
        size_t r1 = r0 + ROW_CHUNK < j->b->nr ? r0 + ROW_CHUNK : j->b->nr;
        for (size_t r = r0; r < r1; r++) {
            size_t n = search_row(j->b, (uint32_t)r, j->pr, j->pc, h);
            if (j->n + n > j->cap) {
                j->cap = (j->n + n) * 2 + 64;
                j->out = fn_xrealloc(j->out, j->cap * sizeof(cand));
            }
            if (n)
                memcpy(j->out + j->n, h, n * sizeof(cand));
            j->n += n;
            j->count[r] = (uint32_t)n;
        }
    }
    free(h);
    return NULL;
}

/* The sparse graph, rows in order (loads, then homes). */
typedef struct graph {
    size_t *start;
    uint32_t *cols;
    int64_t *cost;
    size_t ne;
} graph;

/* Searches every row (the k nearest when pc is NULL, else the violators of
 * the duals) and merges the finds into g.  Returns the number of edges
 * added; *dups counts violators already in the graph, which an exact
 * certificate never produces. */
static size_t search_all(const bctx *b, const int64_t *pr, const int64_t *pc, graph *g, size_t *dups)
{
    bjob jobs[BOUND_THREADS];
    pthread_t th[BOUND_THREADS];
    int started[BOUND_THREADS] = {0};
    size_t found = 0, ne = 0, added = 0, pos[BOUND_THREADS] = {0};
    size_t *start;
    uint32_t *cols;
    int64_t *cost;
    uint32_t *count = fn_xmalloc((b->nr ? b->nr : 1) * sizeof(uint32_t));

    for (int t = 0; t < BOUND_THREADS; t++) {
        jobs[t] = (bjob){b, pr, pc, t, NULL, 0, 0, count};
        started[t] = t > 0 && pthread_create(&th[t], NULL, job_main, &jobs[t]) == 0;
    }
    job_main(&jobs[0]);
    for (int t = 1; t < BOUND_THREADS; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            job_main(&jobs[t]); /* no thread: do it here */
    }
    for (int t = 0; t < BOUND_THREADS; t++)
        found += jobs[t].n;

    start = fn_xmalloc((b->nr + 1) * sizeof(size_t));
    cols = fn_xmalloc((g->ne + found + 1) * sizeof(uint32_t));
    cost = fn_xmalloc((g->ne + found + 1) * sizeof(int64_t));
    for (size_t r = 0; r < b->nr; r++) {
        int t = row_job(r);
        size_t old0 = g->start ? g->start[r] : 0, old1 = g->start ? g->start[r + 1] : 0;
        start[r] = ne;
        for (size_t e = old0; e < old1; e++, ne++)
            cols[ne] = g->cols[e], cost[ne] = g->cost[e];
        for (uint32_t i = 0; i < count[r]; i++, pos[t]++) {
            const cand *x = &jobs[t].out[pos[t]];
            int dup = 0;
            for (size_t e = old0; e < old1 && !dup; e++)
                dup = g->cols[e] == x->col;
            if (dup) {
                (*dups)++;
                continue;
            }
            cols[ne] = x->col, cost[ne++] = x->cost;
            added++;
        }
    }
    for (int t = 0; t < BOUND_THREADS; t++)
        free(jobs[t].out);
    free(count);
    start[b->nr] = ne;
    free(g->start), free(g->cols), free(g->cost);
    *g = (graph){start, cols, cost, ne};
    return added;
}

/* ---- the whole ---- */

static double road_km(double circ, double lat1, double lon1, double lat2, double lon2)
{
    return fn_haversine_km(lat1, lon1, lat2, lon2) * circ;
}

static double ms_since(uint64_t t0)
{
    return (double)(fn_mono_ns() - t0) / 1e6;
}

int fn_bound_solve(const fn_bound_config *cfg, const fn_bound_truck *t, size_t nt, const fn_bound_load *l, size_t nl,
                   fn_bound_result *out)
{
    bctx b = {NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL};
    bcol *col = NULL;
    brow *row = NULL;
    graph g = {NULL, NULL, NULL, 0};
    int64_t *pr = NULL, *pc = NULL, big, maxc, home_m = 0;
    int32_t *rc = NULL, *hint = NULL;
    double circ, speed, tmin = INFINITY, max_reach = 0, lat0 = 90, lat1 = -90, lon0 = 180, lon1 = -180;
    int closed;
    size_t nc = nt + nl, nr, dups = 0;
    uint64_t t0 = fn_mono_ns();
    int err = FN_EINVAL;

    memset(out, 0, sizeof(*out));
    if (!cfg || !(cfg->circuity > 0) || !(cfg->speed_kmh > 0) || cfg->service_s < 0 || nc >= (size_t)INT32_MAX ||
        (nt && !t) || (nl && !l) || (cfg->closed && !(cfg->home_km >= 0 && isfinite(cfg->home_km))))
        return FN_EINVAL;
    circ = cfg->circuity, speed = cfg->speed_kmh;
    closed = cfg->closed != 0;
    nr = closed ? nl + nt : nl;
    col = fn_xmalloc((nc ? nc : 1) * sizeof(*col));
    row = fn_xmalloc((nr ? nr : 1) * sizeof(*row));
    out->pred = fn_xmalloc((nl ? nl : 1) * sizeof(int32_t));
    if (closed)
        out->home_pred = fn_xmalloc((nt ? nt : 1) * sizeof(int32_t));
    for (size_t i = 0; i < nt; i++) {
        const fn_bound_truck *x = &t[i];
        if (x->truck_type >= FN_TT__COUNT || !isfinite(x->lat) || !isfinite(x->lon))
            goto done;
        col[i] = (bcol){x->lat, x->lon, (double)x->t_s, x->capacity_kg, x->volume_l, (uint16_t)(1u << x->truck_type),
                        x->length_idx, 1};
        if (closed) {
            /* Any column may end at a home, however far or late. */
            if (!isfinite(x->home_lat) || !isfinite(x->home_lon))
                goto done;
            row[nl + i] = (brow){x->home_lat, x->home_lon, INFINITY, M_PI * FN_EARTH_RADIUS_KM, 0, 0, 0, -1, 1,
                                 (uint32_t)i};
        }
    }
    for (size_t j = 0; j < nl; j++) {
        const fn_bound_load *x = &l[j];
        double loaded_km;
        if (!isfinite(x->olat) || !isfinite(x->olon) || !isfinite(x->dlat) || !isfinite(x->dlon))
            goto done;
        loaded_km = road_km(circ, x->olat, x->olon, x->dlat, x->dlon);
        col[nt + j] = (bcol){x->dlat, x->dlon, (double)(x->earliest_s + 2 * cfg->service_s) + loaded_km / speed * 3600.0,
                             0, 0, x->types_mask, 0, 0};
        row[j] = (brow){x->olat, x->olon, (double)x->latest_s, -1, x->weight_kg, x->volume_l, x->types_mask,
                        x->min_length_idx, 0, 0};
    }
    for (size_t c = 0; c < nc; c++) {
        tmin = col[c].t_s < tmin ? col[c].t_s : tmin;
        lat0 = fmin(lat0, col[c].lat), lat1 = fmax(lat1, col[c].lat);
        lon0 = fmin(lon0, col[c].lon), lon1 = fmax(lon1, col[c].lon);
    }
    /* How far any column could be and still be in time: the bound on every
     * search, and on every cost the full problem can hold. */
    for (size_t j = 0; j < nl; j++) {
        brow *y = &row[j];
        if (nc && y->latest_s >= tmin) {
            y->reach_km = (y->latest_s - tmin) * speed / 3600.0 / circ * (1.0 + 1e-9) + 1e-6;
            y->reach_km = fmin(y->reach_km, M_PI * FN_EARTH_RADIUS_KM);
            max_reach = fmax(max_reach, y->reach_km);
        }
    }
    /* big must exceed (rows) x (the largest feasible cost), so that no
     * number of cheaper metres is worth an unmatched row. */
    if (closed)
        max_reach = M_PI * FN_EARTH_RADIUS_KM;
    maxc = (int64_t)llround(max_reach * circ * 1000.0) + 2;
    if (maxc > INT64_MAX / 64 / (int64_t)(nr + 1))
        goto done;
    big = maxc * (int64_t)(nr + 1);

    b = (bctx){col, row, nt, nl, nc, nr, cfg->k ? cfg->k : 8, circ, speed,
               closed ? cfg->home_km : 0, closed ? cfg->home_km * 1000.0 : 0, NULL, NULL};
    {
        /* The area only sizes the top cells (edge cells reach the poles and
         * the antimeridian); about a million of them at most. */
        fn_area area = {lat0 - 0.01, lat1 + 0.01, lon0 - 0.01, lon1 + 0.01};
        double cell = 0.2, cells;
        if (!nc)
            area = (fn_area){0, 1, 0, 1};
        cells = (area.lat_max - area.lat_min) * (area.lon_max - area.lon_min) / (cell * cell);
        if (cells > 1e6)
            cell *= sqrt(cells / 1e6);
        b.grid = fn_grid_new(&area, cell, FN_TT__COUNT + 1);
        for (size_t c = 0; c < nc; c++)
            fn_grid_put(b.grid, (uint32_t)c, col[c].is_truck ? __builtin_ctz(col[c].mask) : LOAD_END_LAYER, col[c].lat,
                        col[c].lon, col[c].mask, 0, 0);
    }
    if (closed && nl) {
        /* The open optimum, each truck's chain closed at its own home, is a
         * plan for the closed problem: put it in the first graph.  Without
         * it the k nearest rarely hold a matching of every row, and a row
         * left unmatched there prices its whole alternating tree at about
         * big, homes and all, which sends their checks over all columns. */
        fn_bound_config oc = *cfg;
        fn_bound_result o;
        oc.closed = 0;
        if (fn_bound_solve(&oc, t, nt, l, nl, &o) == 0) {
            int32_t *succ = fn_xmalloc((nc ? nc : 1) * sizeof(int32_t));
            hint = fn_xmalloc((nr ? nr : 1) * sizeof(int32_t));
            for (size_t c = 0; c < nc; c++)
                succ[c] = -1;
            for (size_t j = 0; j < nl; j++) {
                hint[j] = o.pred[j];
                if (o.pred[j] >= 0)
                    succ[o.pred[j]] = (int32_t)j;
            }
            /* A chain from a truck's start has no cycle: starts have no predecessor. */
            for (size_t i = 0; i < nt; i++) {
                size_t c = i;
                while (succ[c] >= 0)
                    c = nt + (size_t)succ[c];
                hint[nl + i] = (int32_t)c;
            }
            free(succ);
            b.hint = hint;
        }
        fn_bound_result_free(&o);
    }
    search_all(&b, NULL, NULL, &g, &dups);
    b.hint = NULL;
    out->build_ms = ms_since(t0);

    pr = fn_xmalloc((nr ? nr : 1) * sizeof(int64_t));
    pc = fn_xmalloc((nc + nr + 1) * sizeof(int64_t));
    rc = fn_xmalloc((nr ? nr : 1) * sizeof(int32_t));
    for (;;) {
        uint64_t t1 = fn_mono_ns();
        size_t added, dups0 = dups;
        int64_t total = fn_dispatch_solve_dual(nr, nc, g.start, g.cols, g.cost, big, rc, pr, pc);
        out->rounds++;
        out->solve_ms += ms_since(t1);
        out->empty_km = (double)total / 1000.0;
        t1 = fn_mono_ns();
        added = search_all(&b, pr, pc, &g, &dups);
        out->check_ms += ms_since(t1);
        out->added += added;
        if (added == 0 && dups == dups0) {
            out->exact = 1;
            break;
        }
        /* Duplicates mean the duals are not a certificate: a bug, which
         * must not pass for exactness. */
        if (added == 0 || out->rounds >= FN_BOUND_MAX_ROUNDS)
            break;
    }
    /* The plan is the last solve's; a failed check may have added edges
     * since, which do not change it. */
    out->edges = g.ne;
    for (size_t j = 0; j < nl; j++) {
        out->pred[j] = rc[j];
        if (rc[j] >= 0) {
            out->served++;
            out->loaded_km += road_km(circ, l[j].olat, l[j].olon, l[j].dlat, l[j].dlon);
        }
    }
    for (size_t i = 0; closed && i < nt; i++) {
        int64_t cost, road;
        out->home_pred[i] = rc[nl + i];
        if (rc[nl + i] >= 0 && edge_cost(&b, (uint32_t)rc[nl + i], (uint32_t)(nl + i), &cost, &road)) {
            out->homes_matched++;
            home_m += cost;
        }
    }
    out->home_km_total = (double)home_m / 1000.0;
    err = 0;
done:
    if (b.grid)
        fn_grid_free(b.grid);
    free(col), free(row), free(pr), free(pc), free(rc), free(hint);
    free(g.start), free(g.cols), free(g.cost);
    if (err) {
        free(out->pred), free(out->home_pred);
        memset(out, 0, sizeof(*out));
    }
    return err;
}

void fn_bound_result_free(fn_bound_result *r)
{
    free(r->pred), free(r->home_pred);
    memset(r, 0, sizeof(*r));
}
