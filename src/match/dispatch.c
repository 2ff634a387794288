/*
 * dispatch.c — the sparse graph and the exact assignment behind dispatch.h.
 *
 * The solver is the shortest-augmenting-path form of the Hungarian method
 * for sparse, rectangular problems: rows (loads) are added one at a time;
 * for each, Dijkstra on reduced costs c(u,v) - pr[u] - pc[v] (never
 * negative) finds the cheapest alternating path to a free column, stopping
 * at the first free column it settles; the duals of the settled part are
 * moved by the distances so reduced costs stay non-negative; the path is
 * flipped.  After every row the matching is a minimum-cost one of the rows
 * so far, so after the last it is optimal.  Costs are integer metres, so it
 * is exact.  When trucks are plentiful most paths end at the first edge,
 * which keeps national-size instances fast.
 */
#include "match/dispatch.h"
#include "common/fn.h"
#include "common/geo.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define INF INT64_MAX

typedef struct hnode {
    int64_t d;
    uint32_t v;
} hnode;

typedef struct heap {
    hnode *a;
    size_t n, cap;
} heap;

static void hpush(heap *h, int64_t d, uint32_t v)
{
    size_t i;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->a = fn_xrealloc(h->a, h->cap * sizeof(*h->a));
    }
    i = h->n++;
    while (i > 0 && h->a[(i - 1) / 2].d > d) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = (hnode){d, v};
}

static hnode hpop(heap *h)
{
    hnode top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t md = last.d;
        if (l < h->n && h->a[l].d < md)
            m = l, md = h->a[l].d;
        if (l + 1 < h->n && h->a[l + 1].d < md)
            m = l + 1;
        if (m == i)
            break;
        h->a[i] = h->a[m];
        i = m;
    }
    if (h->n)
        h->a[i] = last;
    return top;
}

int64_t fn_dispatch_solve(size_t nrows, size_t ncols, const size_t *start, const uint32_t *cols, const int64_t *cost,
                          int32_t *row_col)
{
    return fn_dispatch_solve_dual(nrows, ncols, start, cols, cost, 0, row_col, NULL, NULL);
}

int64_t fn_dispatch_solve_dual(size_t nrows, size_t ncols, const size_t *start, const uint32_t *cols,
                               const int64_t *cost, int64_t big_in, int32_t *row_col, int64_t *row_dual,
                               int64_t *col_dual)
{
    size_t ntot = ncols + nrows; /* column ncols + r is row r's private "unassigned" */
    int64_t maxc = 0, big, total = 0;
    int64_t *pr = fn_xcalloc(nrows ? nrows : 1, sizeof(int64_t));
    int64_t *pc = fn_xcalloc(ntot ? ntot : 1, sizeof(int64_t));
    int64_t *dcol = fn_xmalloc((ntot ? ntot : 1) * sizeof(int64_t));
    int64_t *drow = fn_xmalloc((nrows ? nrows : 1) * sizeof(int64_t));
    int32_t *match_col = fn_xmalloc((ntot ? ntot : 1) * sizeof(int32_t));
    int32_t *match_row = fn_xmalloc((nrows ? nrows : 1) * sizeof(int32_t));
    int32_t *prev = fn_xmalloc((ntot ? ntot : 1) * sizeof(int32_t));
    uint32_t *stamp = fn_xcalloc(ntot ? ntot : 1, sizeof(uint32_t));
    uint8_t *done = fn_xcalloc(ntot ? ntot : 1, 1);
    uint32_t *settled = fn_xmalloc((ntot ? ntot : 1) * sizeof(uint32_t));
    uint32_t *rows_hit = fn_xmalloc((nrows ? nrows : 1) * sizeof(uint32_t));
    heap h = {NULL, 0, 0};

    for (size_t e = 0; e < (nrows ? start[nrows] : 0); e++)
        if (cost[e] > maxc)
            maxc = cost[e];
    /* Leaving a row unassigned costs more than any total of real edges, so
     * the optimum matches as many rows as possible first.  A caller that
     * will price edges outside this graph passes its own, larger bound. */
    big = big_in > 0 ? big_in : (maxc + 1) * (int64_t)(nrows + 1);
    for (size_t v = 0; v < ntot; v++)
        match_col[v] = -1;
    for (size_t r = 0; r < nrows; r++)
        match_row[r] = -1;

    for (size_t s = 0; s < nrows; s++) {
        uint32_t epoch = (uint32_t)s + 1, end = 0;
        size_t nset = 0, nrh = 0;
        int64_t D = 0;
        h.n = 0;
        rows_hit[nrh++] = (uint32_t)s;
        drow[s] = 0;
        for (uint32_t u = (uint32_t)s;;) {
            /* Relax row u's edges, its private column included. */
            for (size_t e = start[u]; e <= start[u + 1]; e++) {
                uint32_t v = e < start[u + 1] ? cols[e] : (uint32_t)(ncols + u);
                int64_t c = e < start[u + 1] ? cost[e] : big;
                int64_t nd = drow[u] + c - pr[u] - pc[v];
                if (stamp[v] != epoch) {
                    stamp[v] = epoch;
                    done[v] = 0;
                    dcol[v] = INF;
                }
                if (!done[v] && nd < dcol[v]) {
                    dcol[v] = nd;
                    prev[v] = (int32_t)u;
                    hpush(&h, nd, v);
                }
            }
            /* Settle the nearest column. */
            for (;;) {
                hnode x = hpop(&h);
                if (done[x.v] || x.d != dcol[x.v])
                    continue;
                done[x.v] = 1;
                settled[nset++] = x.v;
                end = x.v;
                break;
            }
            if (match_col[end] < 0) {
                D = dcol[end];
                break;
            }
            u = (uint32_t)match_col[end];
            drow[u] = dcol[end];
            rows_hit[nrh++] = u;
        }
        /* Move the duals of the settled part, then flip the path. */
        for (size_t i = 0; i < nrh; i++)
            pr[rows_hit[i]] += D - drow[rows_hit[i]];
        for (size_t i = 0; i < nset; i++)
            pc[settled[i]] -= D - dcol[settled[i]];
        for (uint32_t v = end;;) {
            int32_t u = prev[v], next = match_row[u];
            match_row[u] = (int32_t)v;
            match_col[v] = u;
            if ((size_t)u == s)
                break;
            v = (uint32_t)next;
        }
    }
    for (size_t r = 0; r < nrows; r++) {
        int32_t v = match_row[r];
        row_col[r] = v >= 0 && (size_t)v < ncols ? v : -1;
        if (row_col[r] >= 0)
            for (size_t e = start[r]; e < start[r + 1]; e++)
                if (cols[e] == (uint32_t)v) {
                    total += cost[e];
                    break;
                }
    }
    if (row_dual)
        memcpy(row_dual, pr, nrows * sizeof(int64_t));
    if (col_dual)
        memcpy(col_dual, pc, ntot * sizeof(int64_t));
    free(pr), free(pc), free(dcol), free(drow), free(match_col), free(match_row), free(prev), free(stamp);
    free(done), free(settled), free(rows_hit), free(h.a);
    return total;
}

/* ---- building the graph ---- */

typedef struct near {
    uint32_t driver;   /* id */
    int64_t cost_m;    /* deadhead in metres */
} near;

typedef struct kctx {
    const fn_state *s;
    const fn_match_config *cfg;
    const fn_load *l;
    double radius_km, circ;
    int64_t now_s;
    size_t k, n;
    near *heap;        /* max-heap on cost, the k nearest so far */
    fn_near_lb lb;     /* for the coarse distance from grid entries */
} kctx;

static int near_worse(const near *a, const near *b)
{
    return a->cost_m > b->cost_m || (a->cost_m == b->cost_m && a->driver > b->driver);
}

static void kpush(kctx *c, near x)
{
    size_t i;
    if (c->n == c->k) {
        if (!near_worse(&c->heap[0], &x))
            return;
        i = 0;
        c->heap[0] = x;
        for (;;) {
            size_t l = 2 * i + 1, m = i;
            if (l < c->n && near_worse(&c->heap[l], &c->heap[m]))
                m = l;
            if (l + 1 < c->n && near_worse(&c->heap[l + 1], &c->heap[m]))
                m = l + 1;
            if (m == i)
                return;
            near t = c->heap[i];
            c->heap[i] = c->heap[m];
            c->heap[m] = t;
            i = m;
        }
    }
    i = c->n++;
    c->heap[i] = x;
    while (i > 0 && near_worse(&c->heap[i], &c->heap[(i - 1) / 2])) {
        near t = c->heap[i];
        c->heap[i] = c->heap[(i - 1) / 2];
        c->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void kvisit(void *ctx, const fn_grid_entry *e, size_t n)
{
    kctx *c = ctx;
    const fn_load *l = c->l;
    uint32_t need_cap_q = l->weight_kg / 100u, min_len = l->min_length_idx < 0 ? 0 : (uint32_t)l->min_length_idx;
    for (size_t i = 0; i < n; i++) {
        const fn_grid_entry *x = &e[i];
        uint32_t cap = fn_truck_attr_cap(x->attr), vol = fn_truck_attr_vol(x->attr);
        const fn_driver *d;
        double dh, low;
        if (fn_truck_attr_len(x->attr) < min_len || (cap < FN_CAP_Q_MAX && cap < need_cap_q) ||
            (l->volume_l && vol && vol < FN_VOL_Q_MAX && vol * 1000u < l->volume_l))
            continue;
        /* A lower bound on the distance from the entry rules out trucks
         * farther than the k-th nearest found so far. */
        low = fn_near_lb_km(&c->lb, x->lat, x->lon) * c->circ * 1000.0;
        if (low > c->radius_km * 1000.0 || (c->n == c->k && low > (double)c->heap[0].cost_m + 1.0))
            continue;
        d = fn_state_driver(c->s, (uint64_t)x->item + 1);
        if (!d || d->capacity_kg < l->weight_kg || (l->volume_l && d->volume_l && d->volume_l < l->volume_l))
            continue;
        dh = fn_haversine_km(d->lat, d->lon, l->origin.lat, l->origin.lon) * c->circ;
        if (dh > c->radius_km || (double)c->now_s + dh / c->cfg->speed_kmh * 3600.0 > (double)l->pickup_latest_at)
            continue;
        kpush(c, (near){(uint32_t)d->id, (int64_t)llround(dh * 1000.0)});
    }
}

static int kstop(void *ctx, double min_dist_km)
{
    kctx *c = ctx;
    /* Costs are whole metres, rounded: a truck up to half a metre beyond the
     * k-th could round to a tie and win it on id. */
    return c->n == c->k && min_dist_km * c->circ * 1000.0 > (double)c->heap[0].cost_m + 1.0;
}

static int near_cmp(const void *a, const void *b)
{
    const near *x = a, *y = b;
    return x->cost_m < y->cost_m ? -1 : x->cost_m > y->cost_m ? 1 : (x->driver > y->driver) - (x->driver < y->driver);
}

typedef struct edge3 {
    int64_t cost;
    uint32_t row, col;
} edge3;

static int edge_cmp(const void *a, const void *b)
{
    const edge3 *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return (x->col > y->col) - (x->col < y->col);
}

/* One thread's share of the graph: the K nearest fitting trucks of rows
 * [r0, r1), in row order, each row's list sorted by cost. */
typedef struct bjob {
    const fn_state *s;
    const fn_match_config *mc;
    const fn_dispatch_query *q;
    const uint64_t *rows;
    size_t r0, r1, k;
    int64_t now_s;
    double circ;
    near *edges;       /* owned */
    size_t ne, cap;
    uint32_t *count;   /* per row, owned */
} bjob;

static void *build_main(void *arg)
{
    bjob *j = arg;
    near *kh = fn_xmalloc(j->k * sizeof(near));
    j->count = fn_xmalloc((j->r1 - j->r0 + 1) * sizeof(uint32_t));
    for (size_t r = j->r0; r < j->r1; r++) {
        const fn_load *l = fn_state_load(j->s, j->rows[r]);
        kctx c = {j->s, j->mc, l, j->q->radius_km, j->circ, j->now_s, j->k, 0, kh, {0, 0, 0}};
        fn_near_lb_init(&c.lb, l->origin.lat, l->origin.lon, j->q->radius_km / j->circ);
        fn_state_visit_trucks(j->s, l->types_mask, l->origin.lat, l->origin.lon, j->q->radius_km / j->circ, 0.0, kvisit,
                              kstop, &c);
        qsort(kh, c.n, sizeof(*kh), near_cmp);
        if (j->ne + c.n > j->cap) {
            j->cap = (j->ne + c.n) * 2;
            j->edges = fn_xrealloc(j->edges, j->cap * sizeof(near));
        }
        if (c.n) /* edges is still NULL while no row has had an edge */
            memcpy(j->edges + j->ne, kh, c.n * sizeof(near));
        j->ne += c.n;
        j->count[r - j->r0] = (uint32_t)c.n;
    }
    free(kh);
    return NULL;
}

#define BUILD_THREADS 2

static int in_region(const fn_dispatch_query *q, const fn_load *l)
{
    if (q->province >= 0 && l->origin.province != q->province)
        return 0;
    if (q->has_bbox && (l->origin.lon < q->west_lon || l->origin.lon > q->east_lon || l->origin.lat < q->south_lat ||
                        l->origin.lat > q->north_lat))
        return 0;
    return 1;
}

int fn_dispatch_run(const fn_state *s, const fn_match_config *cfg, const fn_dispatch_query *q, int64_t now_s,
                    fn_dispatch_result *out, void (*release)(void *arg), void *arg)
{
    uint64_t nl_all = fn_state_next_load_id(s) - 1, nd_all = fn_state_next_driver_id(s) - 1, t0 = fn_mono_ns(), t1;
    size_t k = q->k ? q->k : 16, nrows = 0, ncols = 0, cap_rows = 1024, cap_e = 4096, ne = 0;
    uint64_t *rows = fn_xmalloc(cap_rows * sizeof(*rows));
    uint32_t *col_of = fn_xmalloc((nd_all + 1) * sizeof(uint32_t));
    uint64_t *col_driver = fn_xmalloc((nd_all + 1) * sizeof(uint64_t));
    size_t *start;
    uint32_t *cols = fn_xmalloc(cap_e * sizeof(uint32_t));
    int64_t *cost = fn_xmalloc(cap_e * sizeof(int64_t));
    int32_t *row_col;
    edge3 *es;
    uint8_t *rused, *cused;
    fn_match_config mc = {cfg && cfg->speed_kmh > 0 ? cfg->speed_kmh : 50.0};
    double circ = fn_state_cfg(s)->circuity;

    memset(out, 0, sizeof(*out));
    memset(col_of, 0xff, (nd_all + 1) * sizeof(uint32_t));
    for (uint64_t id = 1; id <= nl_all; id++) {
        const fn_load *l = fn_state_load(s, id);
        if (fn_load_status(l, now_s) != FN_LS_OPEN || !in_region(q, l))
            continue;
        if (q->max_loads && nrows >= q->max_loads) {
            free(rows), free(col_of), free(col_driver), free(cols), free(cost);
            if (release)
                release(arg);
            return FN_EINVAL;
        }
        if (nrows == cap_rows)
            rows = fn_xrealloc(rows, (cap_rows *= 2) * sizeof(*rows));
        rows[nrows++] = id;
    }
    /* The nearest-truck searches are independent reads of the state: split
     * them over threads, then number the trucks in row order. */
    start = fn_xmalloc((nrows + 1) * sizeof(size_t));
    {
        bjob jobs[BUILD_THREADS];
        pthread_t th[BUILD_THREADS];
        int started[BUILD_THREADS] = {0};
        for (int t = 0; t < BUILD_THREADS; t++) {
            jobs[t] = (bjob){s, &mc, q, rows, nrows * (size_t)t / BUILD_THREADS, nrows * (size_t)(t + 1) / BUILD_THREADS,
                             k, now_s, circ, NULL, 0, 0, NULL};
            started[t] = t > 0 && pthread_create(&th[t], NULL, build_main, &jobs[t]) == 0;
        }
        build_main(&jobs[0]);
        for (int t = 1; t < BUILD_THREADS; t++) {
            if (started[t])
                pthread_join(th[t], NULL);
            else
                build_main(&jobs[t]); /* no thread: do it here */
        }
        for (int t = 0; t < BUILD_THREADS; t++) {
            size_t pos = 0;
            for (size_t r = jobs[t].r0; r < jobs[t].r1; r++) {
                start[r] = ne;
                for (uint32_t i = 0; i < jobs[t].count[r - jobs[t].r0]; i++, pos++) {
                    const near *x = &jobs[t].edges[pos];
                    if (col_of[x->driver] == UINT32_MAX) {
                        col_of[x->driver] = (uint32_t)ncols;
                        col_driver[ncols++] = x->driver;
                    }
                    if (ne == cap_e) {
                        cap_e *= 2;
                        cols = fn_xrealloc(cols, cap_e * sizeof(uint32_t));
                        cost = fn_xrealloc(cost, cap_e * sizeof(int64_t));
                    }
                    cols[ne] = col_of[x->driver];
                    cost[ne++] = x->cost_m;
                }
            }
            free(jobs[t].edges);
            free(jobs[t].count);
        }
    }
    start[nrows] = ne;
    /* From here on only our own arrays are read: the state may change. */
    if (release)
        release(arg);
    t1 = fn_mono_ns();
    out->build_ms = (double)(t1 - t0) / 1e6;

    row_col = fn_xmalloc((nrows ? nrows : 1) * sizeof(int32_t));
    out->total_deadhead_km = (double)fn_dispatch_solve(nrows, ncols, start, cols, cost, row_col) / 1000.0;
    out->solve_ms = (double)(fn_mono_ns() - t1) / 1e6;
    out->pairs = fn_xmalloc((nrows ? nrows : 1) * sizeof(*out->pairs));
    for (size_t r = 0; r < nrows; r++) {
        if (row_col[r] < 0)
            continue;
        for (size_t e = start[r]; e < start[r + 1]; e++)
            if (cols[e] == (uint32_t)row_col[r]) {
                out->pairs[out->npairs++] = (fn_dispatch_pair){rows[r], col_driver[row_col[r]], (double)cost[e] / 1000.0};
                break;
            }
    }

    /* Greedy nearest-first, for comparison. */
    es = fn_xmalloc((ne ? ne : 1) * sizeof(*es));
    for (size_t r = 0; r < nrows; r++)
        for (size_t e = start[r]; e < start[r + 1]; e++)
            es[e] = (edge3){cost[e], (uint32_t)r, cols[e]};
    qsort(es, ne, sizeof(*es), edge_cmp);
    rused = fn_xcalloc(nrows ? nrows : 1, 1);
    cused = fn_xcalloc(ncols ? ncols : 1, 1);
    {
        int64_t g = 0;
        for (size_t i = 0; i < ne; i++) {
            if (rused[es[i].row] || cused[es[i].col])
                continue;
            rused[es[i].row] = cused[es[i].col] = 1;
            g += es[i].cost;
            out->greedy_matched++;
        }
        out->greedy_total_deadhead_km = (double)g / 1000.0;
    }
    out->loads = nrows;
    out->trucks = ncols;
    out->edges = ne;
    free(rows), free(col_of), free(col_driver), free(start), free(cols), free(cost), free(row_col);
    free(es), free(rused), free(cused);
    return 0;
}

void fn_dispatch_result_free(fn_dispatch_result *r)
{
    free(r->pairs);
    memset(r, 0, sizeof(*r));
}
