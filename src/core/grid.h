/*
 * grid.h — a uniform lat/lon grid of moving items, for "nearest first
 * within a radius, with filters" queries.
 *
 * Items are dense uint32 indices owned by the caller (a driver's or a load's
 * slot).  Each cell keeps an unordered array of its items; each item
 * remembers its cell and its place in that array, so moving or removing an
 * item is O(1) (swap with the cell's last item).  A query walks square rings
 * of cells outward from the query point and stops once no unvisited cell can
 * hold anything nearer than the k-th best found or the radius, so the filter
 * runs while searching, not after.
 *
 * Not thread-safe: the state module calls it under its lock.
 */
#ifndef FN_GRID_H
#define FN_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "common/geo.h"

typedef struct fn_grid fn_grid;

/* One item as the grid stores it. */
typedef struct fn_grid_entry {
    uint32_t item;
    uint32_t attr;      /* the caller's attribute word, for cheap prefilters */
    float lat, lon;     /* a copy of the position, to single precision (about 1 m) */
} fn_grid_entry;

typedef struct fn_grid_hit {
    uint32_t item;
    double dist_km;
} fn_grid_hit;

/* Decides whether an item qualifies and sets *dist_km to the distance to
 * rank it by (which may be computed from a snapped position).  Returns 1 to
 * keep the item, 0 to skip it. */
typedef int (*fn_grid_filter_fn)(void *ctx, uint32_t item, double *dist_km);

/* Creates an empty grid over area with square cells of cell_deg degrees. */
fn_grid *fn_grid_new(const fn_area *area, double cell_deg);
/* Frees the grid. */
void fn_grid_free(fn_grid *g);
/* Inserts item at (lat, lon), or moves it there if present, with an
 * attribute word.  Points outside the area are clamped to its edge cells. */
void fn_grid_put_attr(fn_grid *g, uint32_t item, double lat, double lon, uint32_t attr);
/* The same with attribute 0. */
void fn_grid_put(fn_grid *g, uint32_t item, double lat, double lon);
/* Removes item if present. */
void fn_grid_remove(fn_grid *g, uint32_t item);
/* Returns 1 if item is in the grid. */
int fn_grid_has(const fn_grid *g, uint32_t item);
/* Number of items in the grid. */
size_t fn_grid_count(const fn_grid *g);

/*
 * Finds up to k items within radius_km of (lat, lon) that the filter keeps,
 * nearest first (ties by item), into out (room for k).  slack_km widens the
 * search for filters whose distances may differ from the cell geometry by
 * that much (snapped positions).  Returns how many were found.
 */
size_t fn_grid_nearest(const fn_grid *g, double lat, double lon, double radius_km, double slack_km, size_t k,
                       fn_grid_filter_fn filter, void *ctx, fn_grid_hit *out);

/* Called for every entry of every visited cell. */
typedef void (*fn_grid_visit_fn)(void *ctx, const fn_grid_entry *e);
/* Asked before each ring of cells with a lower bound on the distance of
 * every item not yet visited (already reduced by slack_km); returns 1 to stop. */
typedef int (*fn_grid_stop_fn)(void *ctx, double min_dist_km);

/*
 * Visits the items of the cells around (lat, lon) in square rings outward,
 * until the rings pass radius_km (plus slack_km) or stop says so.  Items of
 * a visited cell may lie beyond the radius: the visitor checks.  This is the
 * walk behind fn_grid_nearest, for searches that rank by something other
 * than distance but can bound the best rank from a distance.
 */
void fn_grid_visit(const fn_grid *g, double lat, double lon, double radius_km, double slack_km,
                   fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx);

#endif
