/*
 * grid.c — the uniform grid behind grid.h.
 */
#include "core/grid.h"
#include "common/fn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NO_CELL UINT32_MAX

/* Entries carry a copy of the position and the caller's attribute word, so
 * a search can reject most of a cell without touching the caller's records. */
typedef struct cell {
    fn_grid_entry *e;
    uint32_t n, cap;
} cell;

struct fn_grid {
    fn_area area;
    double cell_deg;
    int rows, cols;     /* rows along latitude, cols along longitude */
    cell *cells;        /* rows * cols */
    uint32_t *cell_of;  /* item -> cell index, NO_CELL when absent */
    uint32_t *slot_of;  /* item -> index in its cell's array */
    size_t item_cap;    /* length of cell_of and slot_of */
    size_t count;
};

fn_grid *fn_grid_new(const fn_area *area, double cell_deg)
{
    fn_grid *g = fn_xcalloc(1, sizeof(*g));
    g->area = *area;
    g->cell_deg = cell_deg;
    g->rows = (int)ceil((area->lat_max - area->lat_min) / cell_deg) + 1;
    g->cols = (int)ceil((area->lon_max - area->lon_min) / cell_deg) + 1;
    g->cells = fn_xcalloc((size_t)g->rows * (size_t)g->cols, sizeof(cell));
    return g;
}

void fn_grid_free(fn_grid *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < (size_t)g->rows * (size_t)g->cols; i++)
        free(g->cells[i].e);
    free(g->cells);
    free(g->cell_of);
    free(g->slot_of);
    free(g);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static int row_of(const fn_grid *g, double lat)
{
    return clampi((int)floor((lat - g->area.lat_min) / g->cell_deg), 0, g->rows - 1);
}

static int col_of(const fn_grid *g, double lon)
{
    return clampi((int)floor((lon - g->area.lon_min) / g->cell_deg), 0, g->cols - 1);
}

static void ensure_item(fn_grid *g, uint32_t item)
{
    size_t cap = g->item_cap;
    if (item < cap)
        return;
    while (cap <= item)
        cap = cap ? cap * 2 : 1024;
    g->cell_of = fn_xrealloc(g->cell_of, cap * sizeof(uint32_t));
    g->slot_of = fn_xrealloc(g->slot_of, cap * sizeof(uint32_t));
    for (size_t i = g->item_cap; i < cap; i++)
        g->cell_of[i] = NO_CELL;
    g->item_cap = cap;
}

int fn_grid_has(const fn_grid *g, uint32_t item) { return item < g->item_cap && g->cell_of[item] != NO_CELL; }

size_t fn_grid_count(const fn_grid *g) { return g->count; }

void fn_grid_remove(fn_grid *g, uint32_t item)
{
    uint32_t ci, slot, last;
    cell *c;
    if (!fn_grid_has(g, item))
        return;
    ci = g->cell_of[item];
    slot = g->slot_of[item];
    c = &g->cells[ci];
    c->e[slot] = c->e[--c->n];
    last = c->e[slot].item;
    g->slot_of[last] = slot;
    g->cell_of[item] = NO_CELL;
    g->count--;
}

void fn_grid_put_attr(fn_grid *g, uint32_t item, double lat, double lon, uint32_t attr)
{
    uint32_t ci = (uint32_t)(row_of(g, lat) * g->cols + col_of(g, lon));
    cell *c;
    ensure_item(g, item);
    if (g->cell_of[item] == ci) {
        fn_grid_entry *e = &g->cells[ci].e[g->slot_of[item]];
        e->lat = (float)lat;
        e->lon = (float)lon;
        e->attr = attr;
        return;
    }
    fn_grid_remove(g, item);
    c = &g->cells[ci];
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->e = fn_xrealloc(c->e, c->cap * sizeof(*c->e));
    }
    g->cell_of[item] = ci;
    g->slot_of[item] = c->n;
    c->e[c->n++] = (fn_grid_entry){item, attr, (float)lat, (float)lon};
    g->count++;
}

void fn_grid_put(fn_grid *g, uint32_t item, double lat, double lon) { fn_grid_put_attr(g, item, lat, lon, 0); }

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
        /* Replace the worst and sift down. */
        i = 0;
        h[0] = x;
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < *n && worse(&h[l], &h[m]))
                m = l;
            if (r < *n && worse(&h[r], &h[m]))
                m = r;
            if (m == i)
                break;
            fn_grid_hit t = h[i];
            h[i] = h[m];
            h[m] = t;
            i = m;
        }
        return;
    }
    i = (*n)++;
    h[i] = x;
    while (i > 0 && worse(&h[i], &h[(i - 1) / 2])) {
        fn_grid_hit t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static int hit_cmp(const void *a, const void *b)
{
    return worse(a, b) ? 1 : worse(b, a) ? -1 : 0;
}

static void visit_cell(const fn_grid *g, int row, int col, fn_grid_visit_fn visit, void *ctx)
{
    const cell *c;
    if (row < 0 || row >= g->rows || col < 0 || col >= g->cols)
        return;
    c = &g->cells[(size_t)row * (size_t)g->cols + (size_t)col];
    for (uint32_t i = 0; i < c->n; i++)
        visit(ctx, &c->e[i]);
}

void fn_grid_visit(const fn_grid *g, double lat, double lon, double radius_km, double slack_km,
                   fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx)
{
    int r0 = row_of(g, lat), c0 = col_of(g, lon), rmax;
    double cell_h_km = g->cell_deg * FN_KM_PER_DEG_LAT, cell_w_km, max_lat;

    /* The narrowest cell width within reach bounds how far a ring is. */
    max_lat = fabs(lat) + (radius_km + slack_km) / FN_KM_PER_DEG_LAT + g->cell_deg;
    cell_w_km = max_lat >= 89.0 ? 0.0 : cell_h_km * cos(max_lat * M_PI / 180.0);
    rmax = FN_MAX(g->rows, g->cols);
    for (int r = 0; r <= rmax; r++) {
        /* Any point in ring r is at least (r-1) whole cells away. */
        double bound = r <= 1 ? 0.0 : (r - 1) * FN_MIN(cell_h_km, cell_w_km) - slack_km;
        if (cell_w_km <= 0.0 && r > 1)
            bound = 0.0;
        if (bound < 0.0)
            bound = 0.0;
        if (bound > radius_km || (stop && stop(ctx, bound)))
            break;
        if (r == 0) {
            visit_cell(g, r0, c0, visit, ctx);
            continue;
        }
        for (int dc = -r; dc <= r; dc++) {
            visit_cell(g, r0 - r, c0 + dc, visit, ctx);
            visit_cell(g, r0 + r, c0 + dc, visit, ctx);
        }
        for (int dr = -r + 1; dr <= r - 1; dr++) {
            visit_cell(g, r0 + dr, c0 - r, visit, ctx);
            visit_cell(g, r0 + dr, c0 + r, visit, ctx);
        }
        if (r0 - r < 0 && r0 + r >= g->rows && c0 - r < 0 && c0 + r >= g->cols)
            break;
    }
}

struct nearest_ctx {
    double radius_km;
    size_t k, n;
    fn_grid_filter_fn filter;
    void *ctx;
    fn_grid_hit *out;
};

static void nearest_visit(void *vctx, const fn_grid_entry *e)
{
    struct nearest_ctx *c = vctx;
    fn_grid_hit h = {e->item, 0};
    if (c->filter(c->ctx, e->item, &h.dist_km) && h.dist_km <= c->radius_km)
        heap_push(c->out, &c->n, c->k, h);
}

static int nearest_stop(void *vctx, double min_dist_km)
{
    struct nearest_ctx *c = vctx;
    return c->n == c->k && min_dist_km > c->out[0].dist_km;
}

size_t fn_grid_nearest(const fn_grid *g, double lat, double lon, double radius_km, double slack_km, size_t k,
                       fn_grid_filter_fn filter, void *ctx, fn_grid_hit *out)
{
    struct nearest_ctx c = {radius_km, k, 0, filter, ctx, out};
    if (k == 0)
        return 0;
    fn_grid_visit(g, lat, lon, radius_km, slack_km, nearest_visit, nearest_stop, &c);
    qsort(out, c.n, sizeof(*out), hit_cmp);
    return c.n;
}
