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
 * Checking that is a search per row: since pc <= 0, a violating pair needs
 * cost < pr, so only columns within pr metres of road (and within what
 * time allows at all) can violate, and more narrowly only columns whose
 * cost < pr - |pc|.  The checks walk a tree of the columns that keeps per
 * node the least |pc| inside (refreshed after each solve), the union of
 * their type masks and their earliest free time, and drop every node whose
 * bounds rule all of it out (the priced tree below).  Loads the optimum
 * leaves unserved carry pr >= big, so only time and types bound their
 * search; that is the price of exactness for them.  The first graph's k
 * nearest come from the project's grid (core/grid.h): trucks in the layer
 * of their type, load ends in one more layer, filtered by type mask.
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
 * Why the checks need the prices, measured with bench_bound --closed:
 * closed mode matches nearly every column, so column duals carry prices
 * between regions (a home 800 km from its truck raises every column near
 * that home by about 800 km), and the row duals reach hundreds of km, as
 * they must for any certificate of such a matching.  A search bounded by
 * pr alone read every column within that radius, for every home (6 minutes
 * at 6,900 trucks); the prices rule nearly all of them out by the node.  A
 * load nothing can serve prices its alternating tree's homes near big,
 * and those homes' searches are still bounded by little but the prices.
 *
 * Both the first k-nearest graph and each check split the rows over two
 * threads; the grid and the tree are only read while they run.
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
    fn_grid *grid;              /* the columns, for the first graph's k nearest */
    const struct ptree *tree;   /* the columns, priced, for the certificate checks */
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

/* ---- the priced column tree, for the checks ---- */

/*
 * A column can violate row r only if its cost < pr_r - q_c, with q_c =
 * -pc_c >= 0 its price.  A search bounded by pr alone reads every column
 * within pr metres, though in closed mode nearly all of them carry a price
 * that rules them out.  This tree keeps, per node, the box of its columns
 * and the least price among them (refreshed after each solve), and what
 * rules columns out for a load row (the union of their type masks, their
 * earliest free time).  A check walks the nodes best first by a lower
 * bound on the reduced cost of anything inside, and drops a node whole
 * when that bound shows it holds no violator, or none better than the k
 * it has already found.  Every bound is a rigorous one (the grid's box
 * bound, a metre of slack for rounding), so the certificate stays exact.
 *
 * A k-d tree (median splits across the wider side of the box) rather than
 * the grid's cells: its boxes are tight around the columns, and each node
 * holds half its parent's columns wherever they crowd, so a city centre
 * and the desert are both a few levels deep.  Columns do not move between
 * rounds, so the geometry is built once and only the prices are redone.
 */
#define PT_LEAF 8

typedef struct pslot {
    double lat, lon;
    double t_s;          /* the column's free time */
    uint32_t col;
    uint16_t mask;       /* the column's mask */
} pslot;

typedef struct pnode {
    double lat0, lat1, lon0, lon1;   /* the box of its columns */
    double cmax;                     /* cos of the box's most poleward latitude */
    double t_min;                    /* the earliest free time among them */
    int64_t q_min;                   /* the least price -pc among them, this round */
    uint32_t lo, hi;                 /* its columns: slots lo .. hi - 1 */
    uint32_t kid;                    /* its children are kid and kid + 1; 0 for a leaf */
    uint16_t mask;                   /* the union of their masks */
} pnode;

typedef struct ptree {
    pslot *slot;         /* the columns, in tree order */
    int64_t *q;          /* per slot, its column's price this round */
    pnode *node;         /* node 0 is the root; children come after their parent */
    size_t ns, nn, cap;
} ptree;

static double slot_key(const pslot *x, int axis)
{
    return axis ? x->lon : x->lat;
}

static void slot_swap(pslot *a, size_t i, size_t j)
{
    pslot t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* Moves the slot of rank m by the axis to a[m], no greater ones before it
 * and no smaller ones after.  The partitions are three-way so that many
 * columns at one point (a depot, a city centre's snapped position) take
 * one pass, not a quadratic number. */
static void pt_select(pslot *a, size_t lo, size_t hi, size_t m, int axis)
{
    while (hi - lo > 1) {
        double k0 = slot_key(&a[lo], axis), k1 = slot_key(&a[lo + (hi - lo) / 2], axis), k2 = slot_key(&a[hi - 1], axis);
        double p = k0 < k1 ? (k1 < k2 ? k1 : k0 < k2 ? k2 : k0) : (k0 < k2 ? k0 : k1 < k2 ? k2 : k1);
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            double k = slot_key(&a[i], axis);
            if (k < p)
                slot_swap(a, lt++, i++);
            else if (k > p)
                slot_swap(a, i, --gt);
            else
                i++;
        }
        if (m < lt)
            hi = lt;
        else if (m >= gt)
            lo = gt;
        else
            return;
    }
}

static uint32_t pt_add(ptree *t)
{
    if (t->nn == t->cap) {
        t->cap = t->cap * 2 + 64;
        t->node = fn_xrealloc(t->node, t->cap * sizeof(pnode));
    }
    return (uint32_t)t->nn++;
}

static void pt_build(ptree *t, uint32_t id, uint32_t lo, uint32_t hi)
{
    pnode x = {INFINITY, -INFINITY, INFINITY, -INFINITY, 0, INFINITY, INT64_MAX, lo, hi, 0, 0};
    for (uint32_t i = lo; i < hi; i++) {
        const pslot *y = &t->slot[i];
        x.lat0 = y->lat < x.lat0 ? y->lat : x.lat0;
        x.lat1 = y->lat > x.lat1 ? y->lat : x.lat1;
        x.lon0 = y->lon < x.lon0 ? y->lon : x.lon0;
        x.lon1 = y->lon > x.lon1 ? y->lon : x.lon1;
        x.t_min = y->t_s < x.t_min ? y->t_s : x.t_min;
        x.mask |= y->mask;
    }
    x.cmax = fn_grid_box_cmax(x.lat0, x.lat1);
    if (hi - lo > PT_LEAF) {
        /* Longitude degrees shrink with cos(lat): cut across the side
         * that is wider on the ground. */
        double w_lon = (x.lon1 - x.lon0) * cos((x.lat0 + x.lat1) * (M_PI / 360.0));
        uint32_t mid = lo + (hi - lo) / 2;
        pt_select(t->slot, lo, hi, mid, w_lon > x.lat1 - x.lat0);
        x.kid = pt_add(t);
        pt_add(t);
    }
    t->node[id] = x;
    if (x.kid) {
        pt_build(t, x.kid, lo, lo + (hi - lo) / 2);
        pt_build(t, x.kid + 1, lo + (hi - lo) / 2, hi);
    }
}

static void pt_init(ptree *t, const bcol *col, size_t nc)
{
    *t = (ptree){fn_xmalloc((nc ? nc : 1) * sizeof(pslot)), fn_xmalloc((nc ? nc : 1) * sizeof(int64_t)), NULL, nc,
                 0, 0};
    for (size_t c = 0; c < nc; c++)
        t->slot[c] = (pslot){col[c].lat, col[c].lon, col[c].t_s, (uint32_t)c, col[c].mask};
    if (nc)
        pt_build(t, pt_add(t), 0, (uint32_t)nc);
}

static void pt_free(ptree *t)
{
    free(t->slot), free(t->q), free(t->node);
}

/* Takes this round's prices: pc per column, <= 0. */
static void pt_price(ptree *t, const int64_t *pc)
{
    for (size_t i = 0; i < t->ns; i++)
        t->q[i] = -pc[t->slot[i].col];
    for (size_t i = t->nn; i-- > 0;) {
        pnode *x = &t->node[i];
        if (x->kid) {
            int64_t a = t->node[x->kid].q_min, b = t->node[x->kid + 1].q_min;
            x->q_min = a < b ? a : b;
        } else {
            x->q_min = INT64_MAX;
            for (uint32_t s = x->lo; s < x->hi; s++)
                x->q_min = t->q[s] < x->q_min ? t->q[s] : x->q_min;
        }
    }
}

/* A lower bound on the great-circle km from (lat, lon) to the node's box.
 * The grid's bound measures the gap in longitude one way round; when the
 * box is so wide (or so placed) that the other way round could be
 * shorter, it gets no bound from longitude. */
static double pt_box_km(double lat, double lon, double cos_lat, const pnode *x)
{
    double lo0 = x->lon0, lo1 = x->lon1;
    double gap = lon < lo0 ? lo0 - lon : lon > lo1 ? lon - lo1 : 0.0;
    if (gap + (lo1 - lo0) > 180.0)
        lo0 = lo1 = lon;
    return fn_grid_box_lb_cmax_km(lat, lon, cos_lat, x->lat0, x->lat1, lo0, lo1, x->cmax);
}

/* A best-first queue of nodes, least key on top. */
typedef struct pent {
    double key;
    uint32_t node;
} pent;

typedef struct pqueue {
    pent *a;             /* owned */
    size_t n, cap;
} pqueue;

static void pq_push(pqueue *q, pent x)
{
    size_t i;
    if (q->n == q->cap) {
        q->cap = q->cap * 2 + 64;
        q->a = fn_xrealloc(q->a, q->cap * sizeof(pent));
    }
    i = q->n++;
    while (i > 0 && q->a[(i - 1) / 2].key > x.key) {
        q->a[i] = q->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->a[i] = x;
}

static pent pq_pop(pqueue *q)
{
    pent top = q->a[0], x = q->a[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = l;
        if (l >= q->n)
            break;
        if (l + 1 < q->n && q->a[l + 1].key < q->a[l].key)
            m = l + 1;
        if (!(q->a[m].key < x.key))
            break;
        q->a[i] = q->a[m];
        i = m;
    }
    if (q->n)
        q->a[i] = x;
    return top;
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

/* Weighs column c (its mask and stored position given) for the row. */
static void search_col(sctx *s, uint32_t c, uint16_t c_mask, float lat, float lon)
{
    const bctx *b = s->b;
    const brow *y = &b->row[s->r];
    int64_t cost, road, thr = 0;
    /* Whole-metre costs round: a pair half a metre beyond a bound may
     * still tie or beat it, hence the 1 m of slack below. */
    double low_m;
    if (!y->is_home && !(c_mask & y->mask))
        return;
    low_m = fn_near_lb_km(&s->lb, lat, lon) * (b->circ * 1000.0);
    if (s->pc) {
        /* Violates iff cost < pr + pc; the heap keeps the k most
         * negative reduced costs.  A home's cost is 0 unless the road
         * is surely longer than home_km. */
        double low_cost = y->is_home && low_m <= b->home_m + 1.0 ? 0.0 : low_m;
        thr = s->pr + s->pc[c];
        if (low_cost > (double)thr + 1.0 || (s->n == b->k && low_cost - (double)thr - 1.0 > (double)s->h[0].key))
            return;
    } else if (s->n == b->k && low_m > (double)s->h[0].key + 1.0) {
        return;
    }
    if (!edge_cost(b, c, s->r, &cost, &road))
        return;
    if (s->pc) {
        if (cost < thr)
            cpush(s->h, &s->n, b->k, (cand){cost - thr, cost, c});
    } else {
        cpush(s->h, &s->n, b->k, (cand){road, cost, c});
    }
}

static void search_visit(void *ctx, const fn_grid_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        search_col(ctx, e[i].item, (uint16_t)e[i].attr, e[i].lat, e[i].lon);
}

/* A lower bound on the reduced cost of the node's columns for the row,
 * less a metre; INFINITY when none of them is within radius_km or (a load
 * row) fits its types or reaches it in time. */
static double pt_key(const sctx *s, const pnode *x, double cos_lat, double radius_km)
{
    const bctx *b = s->b;
    const brow *y = &b->row[s->r];
    double d = pt_box_km(y->lat, y->lon, cos_lat, x), low;
    if (d > radius_km)
        return INFINITY;
    if (!y->is_home) {
        if (!(x->mask & y->mask))
            return INFINITY;
        /* As reach_km, from the node's earliest column. */
        if (d > (y->latest_s - x->t_min) * b->speed_kmh / 3600.0 / b->circ * (1.0 + 1e-9) + 1e-6)
            return INFINITY;
    }
    low = d * b->circ * 1000.0;
    if (y->is_home && low <= b->home_m + 1.0)
        low = 0.0;
    /* Every column inside has cost >= low - 1 and threshold pr - q <= pr - q_min. */
    return low - (double)(s->pr - x->q_min) - 1.0;
}

/* Whether a node of that key may still hold a violator the heap would keep. */
static int pt_useful(const sctx *s, double key)
{
    return key <= 0.0 && !(s->n == s->b->k && key > (double)s->h[0].key);
}

/* The checks' walk over the priced tree (see above), into s's heap. */
static void pt_walk(sctx *s, double radius_km, pqueue *q)
{
    const ptree *t = s->b->tree;
    const brow *y = &s->b->row[s->r];
    double cos_lat = cos(y->lat * (M_PI / 180.0)), key;
    q->n = 0;
    if (!t->nn)
        return;
    if (pt_useful(s, key = pt_key(s, &t->node[0], cos_lat, radius_km)))
        pq_push(q, (pent){key, 0});
    while (q->n) {
        pent e = pq_pop(q);
        const pnode *x = &t->node[e.node];
        /* Best first: nothing left in the queue can do better. */
        if (!pt_useful(s, e.key))
            break;
        if (!x->kid) {
            for (uint32_t i = x->lo; i < x->hi; i++) {
                const pslot *c = &t->slot[i];
                /* search_col's bound takes the gap in longitude as it is:
                 * give it the column's longitude on the row's side of
                 * the antimeridian. */
                double lon = c->lon - 360.0 * nearbyint((c->lon - y->lon) / 360.0);
                search_col(s, c->col, c->mask, (float)c->lat, (float)lon);
            }
            continue;
        }
        for (uint32_t k = x->kid; k <= x->kid + 1; k++)
            if (pt_useful(s, key = pt_key(s, &t->node[k], cos_lat, radius_km)))
                pq_push(q, (pent){key, k});
    }
}

static int search_stop(void *ctx, double min_dist_km)
{
    sctx *s = ctx;
    /* Only the first graph's k-nearest search walks the grid. */
    return s->n == s->b->k && min_dist_km * s->b->circ * 1000.0 > (double)s->h[0].key + 1.0;
}

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->col > y->col) - (x->col < y->col);
}

/* The k best columns for row r into h (room for k + 2: a home's own
 * truck and a row's hint join its first k); returns how many.  q is the
 * caller's scratch for the checks' walk. */
static size_t search_row(const bctx *b, uint32_t r, const int64_t *pr, const int64_t *pc, cand *h, pqueue *q)
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
    if (pc)
        pt_walk(&s, radius, q);
    else
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
    pqueue q = {NULL, 0, 0};
    for (size_t r0 = (size_t)j->id * ROW_CHUNK; r0 < j->b->nr; r0 += (size_t)BOUND_THREADS * ROW_CHUNK) {
        size_t r1 = r0 + ROW_CHUNK < j->b->nr ? r0 + ROW_CHUNK : j->b->nr;
        for (size_t r = r0; r < r1; r++) {
            size_t n = search_row(j->b, (uint32_t)r, j->pr, j->pc, h, &q);
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
    free(h), free(q.a);
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
    bctx b = {NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL};
    ptree tree = {NULL, NULL, NULL, 0, 0, 0};
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
               closed ? cfg->home_km : 0, closed ? cfg->home_km * 1000.0 : 0, NULL, &tree, NULL};
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
    pt_init(&tree, col, nc);
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
        pt_price(&tree, pc);
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
    pt_free(&tree);
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
