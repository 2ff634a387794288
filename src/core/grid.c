/*
 * grid.c — the adaptive grid behind grid.h.
 *
 * Cells live in one array of nodes addressed by index.  The first
 * layers * rows * cols nodes are the top cells; children come in blocks of
 * FANOUT * FANOUT consecutive nodes, allocated from the end of the array or
 * from a free list of blocks that merges gave back.  A node is a leaf (its
 * entries inline in e[]) or split (child is its first child).  Only top
 * cells count the items below them: a move then touches the two leaves and
 * the two top cells, not every cell in between, and a top cell whose tree
 * holds fewer than MERGE_BELOW items merges back into one leaf.
 */
#include "core/grid.h"
#include "common/fn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define FANOUT 4        /* a split cell has FANOUT x FANOUT children */
#define BLOCK (FANOUT * FANOUT)
#define SPLIT_ABOVE 256 /* a leaf holding more entries splits ... */
#define MAX_DEPTH 3     /* ... unless it is this deep (0.2 degree top cells: about 350 m) */
#define MERGE_BELOW 16  /* a split cell whose subtree holds fewer items merges */
/* Cell bounds are computed in double precision and items re-filed at a
 * split by their single-precision copy (about 1 m off at most): every lower
 * bound is reduced by this much so it stays below the true distance. */
#define MARGIN_KM 0.005

typedef struct node {
    fn_grid_entry *e;
    uint32_t n, cap;
    uint32_t child;     /* first of BLOCK children, NONE for a leaf */
    uint32_t top;       /* the top cell above (itself for a top cell); a free block's free-list link */
    uint32_t count;     /* top cells: items in the whole tree (leaves use n; other cells leave it 0) */
    float lat0, lon0;   /* south-west corner, for the move fast path */
    uint8_t depth;      /* 0 for a top cell */
    uint8_t fast;       /* 1 when a point inside the corner's cell belongs here (not an edge cell) */
} node;

struct fn_grid {
    fn_area area;
    double cell_deg;
    int rows, cols;     /* rows along latitude, cols along longitude */
    unsigned layers;
    uint32_t ntop;      /* top cells per layer: rows * cols */
    double *row_cos;    /* per row: cos of the most poleward latitude of its cells */
    node *nodes;
    uint32_t nnodes, cap_nodes, free_block, blocks_used;
    double size_at[MAX_DEPTH + 1]; /* cell size in degrees by depth */
    uint32_t *leaf_of;  /* item -> its leaf, NONE when absent */
    uint32_t *slot_of;  /* item -> index in its leaf's array */
    size_t item_cap;
    size_t count;
    uint64_t merges;    /* how many merges ever, so a writer knows when leaves changed */
};

/* A cell's extent as searches and inserts see it. */
typedef struct place {
    uint32_t node;
    int depth;
    double lat0, lon0, size;
} place;

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static int row_of(const fn_grid *g, double lat)
{
    return clampi((int)floor((lat - g->area.lat_min) / g->cell_deg), 0, g->rows - 1);
}

static int col_of(const fn_grid *g, double lon)
{
    return clampi((int)floor((lon - g->area.lon_min) / g->cell_deg), 0, g->cols - 1);
}

/* Edge cells also hold every point beyond the area on their side, so their
 * boxes reach the poles and the antimeridian, and they never split. */
static int is_edge(const fn_grid *g, int row, int col)
{
    return row == 0 || col == 0 || row == g->rows - 1 || col == g->cols - 1;
}

static void top_box(const fn_grid *g, int row, int col, double *la0, double *la1, double *lo0, double *lo1)
{
    *la0 = row == 0 ? -90.0 : g->area.lat_min + row * g->cell_deg;
    *la1 = row == g->rows - 1 ? 90.0 : g->area.lat_min + (row + 1) * g->cell_deg;
    *lo0 = col == 0 ? -180.0 : g->area.lon_min + col * g->cell_deg;
    *lo1 = col == g->cols - 1 ? 180.0 : g->area.lon_min + (col + 1) * g->cell_deg;
}

fn_grid *fn_grid_new(const fn_area *area, double cell_deg, unsigned layers)
{
    fn_grid *g = fn_xcalloc(1, sizeof(*g));
    g->area = *area;
    g->cell_deg = cell_deg;
    g->layers = layers < 1 ? 1 : layers > FN_GRID_MAX_LAYERS ? FN_GRID_MAX_LAYERS : layers;
    g->rows = (int)ceil((area->lat_max - area->lat_min) / cell_deg) + 1;
    g->cols = (int)ceil((area->lon_max - area->lon_min) / cell_deg) + 1;
    g->ntop = (uint32_t)g->rows * (uint32_t)g->cols;
    g->row_cos = fn_xmalloc((size_t)g->rows * sizeof(double));
    for (int r = 0; r < g->rows; r++) {
        double la0, la1, lo0, lo1;
        top_box(g, r, 1, &la0, &la1, &lo0, &lo1);
        g->row_cos[r] = cos(fmin(fmax(fabs(la0), fabs(la1)), 90.0) * M_PI / 180.0);
        if (g->row_cos[r] < 0)
            g->row_cos[r] = 0;
    }
    g->cap_nodes = g->nnodes = g->ntop * g->layers;
    g->nodes = fn_xcalloc(g->cap_nodes, sizeof(node));
    for (uint32_t i = 0; i < g->nnodes; i++) {
        int r = (int)((i % g->ntop) / (uint32_t)g->cols), c = (int)((i % g->ntop) % (uint32_t)g->cols);
        g->nodes[i].child = NONE;
        g->nodes[i].top = i;
        g->nodes[i].lat0 = (float)(area->lat_min + r * cell_deg);
        g->nodes[i].lon0 = (float)(area->lon_min + c * cell_deg);
        g->nodes[i].fast = !is_edge(g, r, c);
    }
    g->size_at[0] = cell_deg;
    for (int d = 1; d <= MAX_DEPTH; d++)
        g->size_at[d] = g->size_at[d - 1] / FANOUT;
    g->free_block = NONE;
    return g;
}

void fn_grid_free(fn_grid *g)
{
    if (!g)
        return;
    for (uint32_t i = 0; i < g->nnodes; i++)
        free(g->nodes[i].e);
    free(g->nodes);
    free(g->row_cos);
    free(g->leaf_of);
    free(g->slot_of);
    free(g);
}

static void ensure_item(fn_grid *g, uint32_t item)
{
    size_t cap = g->item_cap;
    if (item < cap)
        return;
    while (cap <= item)
        cap = cap ? cap * 2 : 1024;
    g->leaf_of = fn_xrealloc(g->leaf_of, cap * sizeof(uint32_t));
    g->slot_of = fn_xrealloc(g->slot_of, cap * sizeof(uint32_t));
    for (size_t i = g->item_cap; i < cap; i++)
        g->leaf_of[i] = NONE;
    g->item_cap = cap;
}

int fn_grid_has(const fn_grid *g, uint32_t item) { return item < g->item_cap && g->leaf_of[item] != NONE; }

size_t fn_grid_count(const fn_grid *g) { return g->count; }

static uint32_t alloc_block(fn_grid *g)
{
    uint32_t b = g->free_block;
    if (b != NONE) {
        g->free_block = g->nodes[b].top;
    } else {
        if (g->nnodes + BLOCK > g->cap_nodes) {
            g->cap_nodes = g->cap_nodes + g->cap_nodes / 2 + BLOCK;
            g->nodes = fn_xrealloc(g->nodes, (size_t)g->cap_nodes * sizeof(node));
        }
        b = g->nnodes;
        g->nnodes += BLOCK;
    }
    g->blocks_used++;
    return b;
}

static void free_block(fn_grid *g, uint32_t b)
{
    for (uint32_t k = 0; k < BLOCK; k++) {
        free(g->nodes[b + k].e);
        g->nodes[b + k] = (node){NULL, 0, 0, NONE, NONE, 0, 0, 0, 0, 0};
    }
    g->nodes[b].top = g->free_block;
    g->free_block = b;
    g->blocks_used--;
}

/* Appends an entry to a leaf and files the item there (counts untouched). */
static void leaf_append(fn_grid *g, uint32_t leaf, const fn_grid_entry *x)
{
    node *L = &g->nodes[leaf];
    if (L->n == L->cap) {
        L->cap = L->cap ? L->cap * 2 : 4;
        L->e = fn_xrealloc(L->e, L->cap * sizeof(*L->e));
    }
    g->leaf_of[x->item] = leaf;
    g->slot_of[x->item] = L->n;
    L->e[L->n++] = *x;
}

/* The leaf where a point belongs in a layer. */
static place locate(const fn_grid *g, unsigned layer, double lat, double lon)
{
    int r = row_of(g, lat), c = col_of(g, lon);
    place p = {layer * g->ntop + (uint32_t)r * (uint32_t)g->cols + (uint32_t)c, 0, g->area.lat_min + r * g->cell_deg,
               g->area.lon_min + c * g->cell_deg, g->cell_deg};
    while (g->nodes[p.node].child != NONE) {
        double sz = p.size / FANOUT;
        int i = clampi((int)floor((lat - p.lat0) / sz), 0, FANOUT - 1);
        int j = clampi((int)floor((lon - p.lon0) / sz), 0, FANOUT - 1);
        p.node = g->nodes[p.node].child + (uint32_t)(i * FANOUT + j);
        p.lat0 += i * sz;
        p.lon0 += j * sz;
        p.size = sz;
        p.depth++;
    }
    return p;
}

/* Splits a full leaf into BLOCK children and re-files its entries by their
 * stored positions; a child that is still too full splits in turn. */
static void split(fn_grid *g, place p)
{
    uint32_t b = alloc_block(g); /* may move g->nodes */
    node *L = &g->nodes[p.node];
    fn_grid_entry *old = L->e;
    uint32_t n = L->n;
    double sz = p.size / FANOUT;

    L->e = NULL;
    L->n = L->cap = 0;
    L->child = b;
    for (int i = 0; i < FANOUT; i++)
        for (int j = 0; j < FANOUT; j++)
            g->nodes[b + (uint32_t)(i * FANOUT + j)] = (node){NULL, 0, 0, NONE, L->top, 0, (float)(p.lat0 + i * sz),
                                                              (float)(p.lon0 + j * sz), (uint8_t)(p.depth + 1), 1};
    for (uint32_t x = 0; x < n; x++) {
        int i = clampi((int)floor(((double)old[x].lat - p.lat0) / sz), 0, FANOUT - 1);
        int j = clampi((int)floor(((double)old[x].lon - p.lon0) / sz), 0, FANOUT - 1);
        uint32_t c = b + (uint32_t)(i * FANOUT + j);
        leaf_append(g, c, &old[x]);
    }
    free(old);
    if (p.depth + 1 >= MAX_DEPTH)
        return;
    for (int i = 0; i < FANOUT; i++)
        for (int j = 0; j < FANOUT; j++) {
            uint32_t c = b + (uint32_t)(i * FANOUT + j);
            if (g->nodes[c].n > SPLIT_ABOVE)
                split(g, (place){c, p.depth + 1, p.lat0 + i * sz, p.lon0 + j * sz, sz});
        }
}

/* Moves every entry below split node m into m itself, freeing the blocks. */
static void gather(fn_grid *g, uint32_t m, uint32_t b)
{
    for (uint32_t k = 0; k < BLOCK; k++) {
        node *c = &g->nodes[b + k];
        if (c->child != NONE)
            gather(g, m, c->child);
        for (uint32_t x = 0; x < c->n; x++)
            leaf_append(g, m, &c->e[x]);
    }
    free_block(g, b);
}

static void merge(fn_grid *g, uint32_t m)
{
    g->merges++;
    uint32_t b = g->nodes[m].child;
    g->nodes[m].child = NONE;
    gather(g, m, b);
}

void fn_grid_remove(fn_grid *g, uint32_t item)
{
    uint32_t leaf, slot, merge_at = NONE;
    node *L;
    if (!fn_grid_has(g, item))
        return;
    leaf = g->leaf_of[item];
    slot = g->slot_of[item];
    L = &g->nodes[leaf];
    L->e[slot] = L->e[--L->n];
    if (slot < L->n)
        g->slot_of[L->e[slot].item] = slot;
    if (L->n == 0) {
        free(L->e);
        L->e = NULL;
        L->cap = 0;
    } else if (L->cap > 16 && L->n < L->cap / 4) {
        L->cap /= 2;
        L->e = fn_xrealloc(L->e, L->cap * sizeof(*L->e));
    }
    g->leaf_of[item] = NONE;
    g->count--;
    merge_at = L->top;
    if (--g->nodes[merge_at].count < MERGE_BELOW && g->nodes[merge_at].child != NONE)
        merge(g, merge_at);
}

void fn_grid_put(fn_grid *g, uint32_t item, unsigned layer, double lat, double lon, uint32_t attr, uint32_t aux0,
                 uint32_t aux1)
{
    fn_grid_entry x = {item, attr, (float)lat, (float)lon, {aux0, aux1}};
    place p;
    if (layer >= g->layers)
        layer = g->layers - 1;
    p = locate(g, layer, lat, lon);
    ensure_item(g, item);
    if (g->leaf_of[item] == p.node) {
        g->nodes[p.node].e[g->slot_of[item]] = x;
        return;
    }
    {
        uint64_t merges = g->merges;
        fn_grid_remove(g, item);
        if (g->merges != merges)
            p = locate(g, layer, lat, lon); /* the leaf found may have merged away */
    }
    leaf_append(g, p.node, &x);
    g->nodes[g->nodes[p.node].top].count++;
    g->count++;
    if (g->nodes[p.node].n > SPLIT_ABOVE && p.depth < MAX_DEPTH) {
        uint32_t top = g->nodes[p.node].top % g->ntop;
        if (!is_edge(g, (int)(top / (uint32_t)g->cols), (int)(top % (uint32_t)g->cols)))
            split(g, p);
    }
}

void fn_grid_prefetch_item(const fn_grid *g, uint32_t item)
{
    if (item < g->item_cap) {
        __builtin_prefetch(&g->leaf_of[item]);
        __builtin_prefetch(&g->slot_of[item]);
    }
}

void fn_grid_prefetch(const fn_grid *g, uint32_t item, unsigned layer, double lat, double lon)
{
    if (layer >= g->layers)
        return;
    if (item < g->item_cap && g->leaf_of[item] != NONE)
        __builtin_prefetch(&g->nodes[g->leaf_of[item]]);
    __builtin_prefetch(&g->nodes[layer * g->ntop + (uint32_t)row_of(g, lat) * (uint32_t)g->cols + (uint32_t)col_of(g, lon)]);
}

int fn_grid_move(fn_grid *g, uint32_t item, double lat, double lon)
{
    uint32_t leaf;
    node *L;
    double sz;
    if (!fn_grid_has(g, item))
        return -1;
    leaf = g->leaf_of[item];
    L = &g->nodes[leaf];
    sz = g->size_at[L->depth];
    /* Still inside its leaf (to float precision, which the bounds' margin
     * covers): only the entry changes. */
    if (L->fast && lat >= L->lat0 && lon >= L->lon0 && lat < L->lat0 + sz && lon < L->lon0 + sz) {
        fn_grid_entry *e = &L->e[g->slot_of[item]];
        e->lat = (float)lat;
        e->lon = (float)lon;
        return 0;
    }
    {
        fn_grid_entry x = L->e[g->slot_of[item]];
        fn_grid_put(g, item, L->top / g->ntop, lat, lon, x.attr, x.aux[0], x.aux[1]);
    }
    return 0;
}

static void stats_walk(const fn_grid *g, uint32_t n, int depth, fn_grid_stats *st)
{
    const node *x = &g->nodes[n];
    st->bytes += (size_t)x->cap * sizeof(fn_grid_entry);
    if (x->n && depth > st->max_depth)
        st->max_depth = depth;
    if (x->child == NONE)
        return;
    st->leaves_split++;
    st->nodes += BLOCK;
    for (uint32_t k = 0; k < BLOCK; k++)
        stats_walk(g, x->child + k, depth + 1, st);
}

void fn_grid_stats_get(const fn_grid *g, fn_grid_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->nodes = (size_t)g->ntop * g->layers;
    st->bytes = sizeof(*g) + (size_t)g->cap_nodes * sizeof(node) + g->item_cap * 2 * sizeof(uint32_t) +
                (size_t)g->rows * sizeof(double);
    for (uint32_t i = 0; i < g->ntop * g->layers; i++)
        stats_walk(g, i, 0, st);
}

/* ---- distance bounds ---- */

/* A lower bound on the great-circle distance from (lat, lon) to the box,
 * given cmax = cos of the box's most poleward latitude.  From the haversine
 * formula, hav(d) = sin^2(dlat/2) + cos(lat1) cos(lat2) sin^2(dlon/2) with
 * dlat and dlon at least the gaps to the box and cos(lat2) >= cmax; then
 * sin x >= x - x^3/6 and d = 2R asin(sqrt(hav)) >= 2R sqrt(hav). */
static double box_lb(double lat, double lon, double coslat, double la0, double la1, double lo0, double lo1,
                     double cmax)
{
    double dla = la0 > lat ? la0 - lat : lat > la1 ? lat - la1 : 0.0;
    double dlo = lo0 > lon ? lo0 - lon : lon > lo1 ? lon - lo1 : 0.0;
    double a, b, sa, sb, d;
    if (dlo > 180.0)
        dlo = 0.0; /* across the antimeridian: no bound from longitude */
    /* Half-angles in radians, capped where x - x^3/6 stops increasing. */
    a = fmin(dla * (M_PI / 360.0), 1.4);
    b = fmin(dlo * (M_PI / 360.0), 1.4);
    sa = a * (1.0 - a * a / 6.0);
    sb = b * (1.0 - b * b / 6.0);
    d = 2.0 * FN_EARTH_RADIUS_KM * sqrt(sa * sa + coslat * cmax * sb * sb) - MARGIN_KM;
    return d > 0.0 ? d : 0.0;
}

double fn_grid_box_cmax(double lat0, double lat1)
{
    double cmax = cos(fmin(fmax(fabs(lat0), fabs(lat1)), 90.0) * M_PI / 180.0);
    return cmax > 0 ? cmax : 0.0;
}

double fn_grid_box_lb_km(double lat, double lon, double cos_lat, double lat0, double lat1, double lon0, double lon1)
{
    return box_lb(lat, lon, cos_lat, lat0, lat1, lon0, lon1, fn_grid_box_cmax(lat0, lat1));
}

double fn_grid_box_lb_cmax_km(double lat, double lon, double cos_lat, double lat0, double lat1, double lon0, double lon1,
                              double cmax)
{
    return box_lb(lat, lon, cos_lat, lat0, lat1, lon0, lon1, cmax);
}

void fn_near_lb_init(fn_near_lb *b, double lat, double lon, double reach_km)
{
    double poleward = fmin(fabs(lat) + reach_km / FN_KM_PER_DEG_LAT + 0.01, 90.0);
    b->lat = lat;
    b->lon = lon;
    b->cc = fmax(cos(lat * M_PI / 180.0), 0.0) * fmax(cos(poleward * M_PI / 180.0), 0.0);
}

/* ---- the best-first walk ---- */

typedef struct qcell {
    double key;         /* lower bound on the distance to anything in the cell */
    double lat0, lon0, size, cmax;
    uint32_t node;
    int depth;
} qcell;

typedef struct qheap {
    qcell *v;
    size_t n, cap;
    qcell local[128];
} qheap;

static void qpush(qheap *h, const qcell *c)
{
    size_t i;
    if (h->n == h->cap) {
        size_t cap = h->cap * 2;
        qcell *v = fn_xmalloc(cap * sizeof(*v));
        memcpy(v, h->v, h->n * sizeof(*v));
        if (h->v != h->local)
            free(h->v);
        h->v = v;
        h->cap = cap;
    }
    i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2].key > c->key) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = *c;
}

static qcell qpop(qheap *h)
{
    qcell top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m;
        if (l >= h->n)
            break;
        m = r < h->n && h->v[r].key < h->v[l].key ? r : l;
        if (h->v[m].key >= last.key)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

typedef struct walk {
    const fn_grid *g;
    uint32_t layers;
    double lat, lon, coslat;
    int r0, c0;
    qheap h;
} walk;

/* Queues the non-empty cells of top-cell ring r (Chebyshev distance r from
 * the query's top cell) in every requested layer. */
static void push_cell(walk *w, int row, int col)
{
    const fn_grid *g = w->g;
    uint32_t base = (uint32_t)row * (uint32_t)g->cols + (uint32_t)col, any = 0;
    qcell c;
    double la1, lo1;
    if (row < 0 || row >= g->rows || col < 0 || col >= g->cols)
        return;
    for (uint32_t m = w->layers; m; m &= m - 1)
        any |= g->nodes[(uint32_t)__builtin_ctz(m) * g->ntop + base].count;
    if (!any)
        return;
    top_box(g, row, col, &c.lat0, &la1, &c.lon0, &lo1);
    c.cmax = g->row_cos[row];
    c.key = box_lb(w->lat, w->lon, w->coslat, c.lat0, la1, c.lon0, lo1, c.cmax);
    c.size = g->cell_deg;
    c.depth = 0;
    /* Children are placed from the nominal corner, not the extended one
     * (edge cells never split, so this only matters for consistency). */
    c.lat0 = g->area.lat_min + row * g->cell_deg;
    c.lon0 = g->area.lon_min + col * g->cell_deg;
    for (uint32_t m = w->layers; m; m &= m - 1) {
        c.node = (uint32_t)__builtin_ctz(m) * g->ntop + base;
        if (g->nodes[c.node].count)
            qpush(&w->h, &c);
    }
}

static void push_ring(walk *w, int r)
{
    if (r == 0) {
        push_cell(w, w->r0, w->c0);
        return;
    }
    for (int dc = -r; dc <= r; dc++) {
        push_cell(w, w->r0 - r, w->c0 + dc);
        push_cell(w, w->r0 + r, w->c0 + dc);
    }
    for (int dr = -r + 1; dr <= r - 1; dr++) {
        push_cell(w, w->r0 + dr, w->c0 - r);
        push_cell(w, w->r0 + dr, w->c0 + r);
    }
}

/* A lower bound on the distance to any cell of ring r: such a cell is at
 * least r - 1 whole cells away in latitude or in longitude. */
static double ring_lb(const walk *w, int r)
{
    const fn_grid *g = w->g;
    double gap = (r - 1) * g->cell_deg, poleward, cmax, a, b;
    if (r <= 1)
        return 0.0;
    poleward = fmin(fabs(w->lat) + (r + 1) * g->cell_deg, 90.0);
    cmax = fmax(cos(poleward * M_PI / 180.0), 0.0);
    a = box_lb(w->lat, w->lon, w->coslat, w->lat + gap, w->lat + gap, w->lon, w->lon, 1.0);
    b = box_lb(w->lat, w->lon, w->coslat, w->lat, w->lat, w->lon + gap, w->lon + gap, cmax);
    return fmin(a, b);
}

static int ring_covers_all(const walk *w, int r)
{
    return w->r0 - r <= 0 && w->r0 + r >= w->g->rows - 1 && w->c0 - r <= 0 && w->c0 + r >= w->g->cols - 1;
}

void fn_grid_visit(const fn_grid *g, uint32_t layers, double lat, double lon, double radius_km, double slack_km,
                   fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx)
{
    walk w;
    int r = -1, rings_done = 0;
    double next = 0.0;

    w.g = g;
    w.layers = layers & (g->layers >= 32 ? UINT32_MAX : (1u << g->layers) - 1);
    if (!w.layers || g->count == 0)
        return;
    w.lat = lat;
    w.lon = lon;
    w.coslat = fmax(cos(lat * M_PI / 180.0), 0.0);
    w.r0 = row_of(g, lat);
    w.c0 = col_of(g, lon);
    w.h.v = w.h.local;
    w.h.n = 0;
    w.h.cap = FN_ARRAY_LEN(w.h.local);

    for (;;) {
        qcell c;
        double bound;
        const node *x;
        /* Open rings until the nearest queued cell is nearer than anything
         * in the rings not yet opened. */
        while (!rings_done && (w.h.n == 0 || w.h.v[0].key > next)) {
            if (next - slack_km > radius_km) {
                rings_done = 1;
                break;
            }
            push_ring(&w, ++r);
            if (ring_covers_all(&w, r))
                rings_done = 1;
            else
                next = ring_lb(&w, r + 1);
        }
        if (w.h.n == 0)
            break;
        c = qpop(&w.h);
        bound = c.key - slack_km;
        if (bound < 0.0)
            bound = 0.0;
        if (bound > radius_km || (stop && stop(ctx, bound)))
            break;
        x = &g->nodes[c.node];
        if (x->child == NONE) {
            if (x->n)
                visit(ctx, x->e, x->n);
            continue;
        }
        {
            double sz = c.size / FANOUT;
            for (int i = 0; i < FANOUT; i++)
                for (int j = 0; j < FANOUT; j++) {
                    qcell k;
                    k.node = x->child + (uint32_t)(i * FANOUT + j);
                    if (g->nodes[k.node].child == NONE && g->nodes[k.node].n == 0)
                        continue; /* an empty leaf (a split cell is queued: it is rarely empty) */
                    k.lat0 = c.lat0 + i * sz;
                    k.lon0 = c.lon0 + j * sz;
                    k.size = sz;
                    k.cmax = c.cmax;
                    k.depth = c.depth + 1;
                    k.key = box_lb(lat, lon, w.coslat, k.lat0, k.lat0 + sz, k.lon0, k.lon0 + sz, k.cmax);
                    qpush(&w.h, &k);
                }
        }
    }
    if (w.h.v != w.h.local)
        free(w.h.v);
}

/* ---- nearest first ---- */

/* A max-heap on (dist, item) holding the k best so far. */
static int worse(const fn_grid_hit *a, const fn_grid_hit *b)
{
    return a->dist_km > b->dist_km || (a->dist_km == b->dist_km && a->item > b->item);
}

static void heap_push(fn_grid_hit *h, size_t *n, size_t k, fn_grid_hit x)
{
    size_t i;
    if (*n == k) {
        if (!worse(&h[0], &x))
            return;
        /* Sift x down from the root into the place of the worst. */
        i = 0;
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            const fn_grid_hit *w = &x;
            if (l < *n && worse(&h[l], w))
                m = l, w = &h[l];
            if (r < *n && worse(&h[r], w))
                m = r;
            if (m == i)
                break;
            h[i] = h[m];
            i = m;
        }
        h[i] = x;
        return;
    }
    i = (*n)++;
    while (i > 0 && worse(&x, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static int hit_cmp(const void *a, const void *b)
{
    return worse(a, b) ? 1 : worse(b, a) ? -1 : 0;
}

struct nearest_ctx {
    double radius_km;
    size_t k, n;
    fn_grid_filter_fn filter;
    void *ctx;
    fn_grid_hit *out;
};

static void nearest_visit(void *vctx, const fn_grid_entry *e, size_t n)
{
    struct nearest_ctx *c = vctx;
    for (size_t i = 0; i < n; i++) {
        fn_grid_hit h = {e[i].item, 0};
        double bound = c->n == c->k ? c->out[0].dist_km : c->radius_km;
        if (c->filter(c->ctx, &e[i], bound, &h.dist_km) && h.dist_km <= c->radius_km)
            heap_push(c->out, &c->n, c->k, h);
    }
}

static int nearest_stop(void *vctx, double min_dist_km)
{
    struct nearest_ctx *c = vctx;
    return c->n == c->k && min_dist_km > c->out[0].dist_km;
}

size_t fn_grid_nearest(const fn_grid *g, uint32_t layers, double lat, double lon, double radius_km, double slack_km,
                       size_t k, fn_grid_filter_fn filter, void *ctx, fn_grid_hit *out)
{
    struct nearest_ctx c = {radius_km, k, 0, filter, ctx, out};
    if (k == 0)
        return 0;
    fn_grid_visit(g, layers, lat, lon, radius_km, slack_km, nearest_visit, nearest_stop, &c);
    qsort(out, c.n, sizeof(*out), hit_cmp);
    return c.n;
}
