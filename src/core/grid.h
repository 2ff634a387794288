/*
 * grid.h — a spatial index of moving items, for "best first within a
 * radius, with filters" queries.
 *
 * Items are dense uint32 indices owned by the caller (a driver's or a load's
 * slot), each in one layer (the truck type, say) so that a query reads only
 * the layers it asks for.  Each layer is a uniform grid of top cells, and a
 * top cell that fills up splits into 4 x 4 children, down to MAX_DEPTH
 * levels, and merges back when it empties: a city centre with thousands of
 * trucks is cut into cells of a hundred metres while the desert stays one
 * cell of twenty kilometres.  A leaf keeps an unordered array of entries;
 * each item remembers its leaf and its place in that array, so moving or
 * removing an item is O(depth).
 *
 * A query visits leaves in order of their distance from the query point (a
 * best-first search over the cells, with a rigorous lower bound on the
 * great-circle distance to each cell), and asks the caller before each leaf
 * whether any unvisited item could still matter.  Filters therefore run
 * while searching, not after.
 *
 * Not thread-safe for writers: the state module calls it under its lock.
 * Queries are const and may run concurrently with each other.
 */
#ifndef FN_GRID_H
#define FN_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "common/geo.h"

typedef struct fn_grid fn_grid;

/* One item as the grid stores it: the caller's attribute word and two more
 * words of its own, so a search can score or reject most items without
 * reading the caller's records. */
typedef struct fn_grid_entry {
    uint32_t item;
    uint32_t attr;
    float lat, lon;     /* a copy of the position, to single precision (about 1 m) */
    uint32_t aux[2];
} fn_grid_entry;

typedef struct fn_grid_hit {
    uint32_t item;
    double dist_km;
} fn_grid_hit;

#define FN_GRID_MAX_LAYERS 16

/* Creates an empty grid over area with top cells of cell_deg degrees and
 * the given number of layers (1 .. FN_GRID_MAX_LAYERS). */
fn_grid *fn_grid_new(const fn_area *area, double cell_deg, unsigned layers);
/* Frees the grid. */
void fn_grid_free(fn_grid *g);
/* Inserts item at (lat, lon) in a layer, or moves it there (and replaces
 * its words) if present.  Points outside the area are kept in its edge cells. */
void fn_grid_put(fn_grid *g, uint32_t item, unsigned layer, double lat, double lon, uint32_t attr, uint32_t aux0,
                 uint32_t aux1);
/* Moves a present item to (lat, lon), keeping its layer and words; returns
 * -1 when the item is absent.  The common case, a move within its cell, is
 * a few loads and stores. */
int fn_grid_move(fn_grid *g, uint32_t item, double lat, double lon);
/* Hints for loops applying many moves: ask for an item's place in the
 * item maps well ahead, then (once that has arrived) for its leaf and the
 * top cell of (lat, lon) in layer, a few moves ahead. */
void fn_grid_prefetch_item(const fn_grid *g, uint32_t item);
void fn_grid_prefetch(const fn_grid *g, uint32_t item, unsigned layer, double lat, double lon);
/* Removes item if present. */
void fn_grid_remove(fn_grid *g, uint32_t item);
/* Returns 1 if item is in the grid. */
int fn_grid_has(const fn_grid *g, uint32_t item);
/* Number of items in the grid. */
size_t fn_grid_count(const fn_grid *g);

typedef struct fn_grid_stats {
    size_t nodes;       /* cells in use, top cells included */
    size_t leaves_split; /* cells that are split into children */
    int max_depth;      /* deepest level holding an item (0 = top cells) */
    size_t bytes;       /* memory held */
} fn_grid_stats;
void fn_grid_stats_get(const fn_grid *g, fn_grid_stats *st);

/* Called with the entries of one visited leaf. */
typedef void (*fn_grid_visit_fn)(void *ctx, const fn_grid_entry *e, size_t n);
/* Asked before each leaf with a lower bound on the great-circle distance of
 * every item not yet visited (already reduced by slack_km, never below 0);
 * returns 1 to stop. */
typedef int (*fn_grid_stop_fn)(void *ctx, double min_dist_km);

/*
 * Visits the leaves of the given layers (bit i = layer i) nearest first
 * from (lat, lon), until every unvisited item is farther than radius_km plus
 * slack_km or stop says so.  Entries of a visited leaf may lie beyond the
 * radius: the visitor checks.  slack_km widens the walk for callers that rank
 * by positions up to that far from the stored ones (privacy-snapped points).
 */
void fn_grid_visit(const fn_grid *g, uint32_t layers, double lat, double lon, double radius_km, double slack_km,
                   fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx);

/* Decides whether an entry qualifies and sets *dist_km to the distance to
 * rank it by.  bound_km is the distance the entry must not exceed to make
 * the result (the radius or the k-th nearest so far), so a filter may skip
 * an exact computation when a cheap lower bound is already beyond it.
 * Returns 1 to keep the entry, 0 to skip it. */
typedef int (*fn_grid_filter_fn)(void *ctx, const fn_grid_entry *e, double bound_km, double *dist_km);

/*
 * Finds up to k items within radius_km of (lat, lon) that the filter keeps,
 * nearest first (ties by item), into out (room for k).  Returns how many.
 */
size_t fn_grid_nearest(const fn_grid *g, uint32_t layers, double lat, double lon, double radius_km, double slack_km,
                       size_t k, fn_grid_filter_fn filter, void *ctx, fn_grid_hit *out);

/*
 * A rigorous lower bound on the great-circle distance in km from a point to
 * any point of the box [lat0, lat1] x [lon0, lon1] (a point counts as a
 * box), given cos(lat) of the point.  Used by the grid for its cells and by
 * searches for positions stored to limited precision.
 */
double fn_grid_box_lb_km(double lat, double lon, double cos_lat, double lat0, double lat1, double lon0, double lon1);
/* The same given also cmax = cos of the box's most poleward latitude, which
 * fn_grid_box_cmax returns for latitudes lat0 .. lat1: for callers that keep
 * boxes and bound them often, so that they take the cosine once a box. */
double fn_grid_box_lb_cmax_km(double lat, double lon, double cos_lat, double lat0, double lat1, double lon0, double lon1,
                              double cmax);
double fn_grid_box_cmax(double lat0, double lat1);

/*
 * A cheap lower bound on the distance from one point to stored entries
 * (their single-precision positions), with no trigonometry per entry: the
 * box bound above with the cosine of the most poleward latitude within
 * reach_km.  It is below the true distance for every entry within reach_km;
 * for an entry beyond, it may be above it, but then both exceed reach_km, so
 * comparing it with anything up to reach_km is exact.
 */
typedef struct fn_near_lb {
    double lat, lon, cc;  /* cc = cos(lat) x cos(most poleward latitude within reach) */
} fn_near_lb;

void fn_near_lb_init(fn_near_lb *b, double lat, double lon, double reach_km);

/* The bound for any point within tol degrees (in latitude and longitude) of
 * (lat, lon). */
static inline double fn_near_lb_tol(const fn_near_lb *b, double lat, double lon, double tol)
{
    double dla = lat - b->lat, dlo = lon - b->lon, x, y, d;
    dla = (dla < 0 ? -dla : dla) - tol;
    dlo = (dlo < 0 ? -dlo : dlo) - tol;
    /* Half-angles in radians, capped where x - x^3/6 stops increasing. */
    x = dla > 0 ? dla * (3.14159265358979323846 / 360.0) : 0.0;
    y = dlo > 0 ? dlo * (3.14159265358979323846 / 360.0) : 0.0;
    x = x > 1.4 ? 1.4 : x;
    y = y > 1.4 ? 1.4 : y;
    x *= 1.0 - x * x / 6.0;
    y *= 1.0 - y * y / 6.0;
    d = 2.0 * FN_EARTH_RADIUS_KM * __builtin_sqrt(x * x + b->cc * y * y) - 0.005;
    return d > 0 ? d : 0;
}

/* The bound for an entry's stored position: 1e-5 degree covers the
 * rounding of a float below 180. */
static inline double fn_near_lb_km(const fn_near_lb *b, float elat, float elon)
{
    return fn_near_lb_tol(b, elat, elon, 1e-5);
}

#endif
