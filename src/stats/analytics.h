/*
 * analytics.h — the marketplace's incremental analytics (issue 6): the lane
 * price index, supply and demand per region now and per hour, empty running,
 * time to match, and loads posted / booked / delivered per day.
 *
 * Who feeds it.  The state owns one fn_an (state.h: fn_state_analytics) and
 * feeds it from the one place records are applied (core/apply.c), so live
 * writes, log replay, `freight import` and `bulkload` all count the same way;
 * after a snapshot is loaded, core/state_snap.c rebuilds it from the tables
 * (fn_an_load_posted etc. over every load and booking) and restores the
 * hourly samples, the one part that is not a function of the tables.  Every
 * aggregate is order-independent (integer counters, metres as integers,
 * mergeable sketches), so the rebuilt analytics answers exactly as the live
 * one did.
 *
 * Regions.  A point's region is its nearest city (regions.h) and that city's
 * province; the province and city a load was posted with are not used, so
 * trucks (which have only a point) and loads are counted by one rule and a
 * province's numbers are the sum of its cities'.
 *
 * Definitions.
 *   lane cell   (UTC day of posting, origin province, destination province,
 *               truck type): the loads posted that day, and a quantile sketch
 *               of their price per km = price_cny / loaded_km (road estimate).
 *               A load accepting several truck types counts once, under the
 *               first of them in the taxonomy's order (flatbed, low_rail,
 *               ...), so the type cells partition the loads.  Loads with
 *               loaded_km = 0 (same point) are not in the index.
 *   supply      available trucks with a position, by the region of the position.
 *   demand      open, unexpired loads by the region of their pickup.  Expiry is
 *               clock-driven: a load counts until its expiry (or pickup window's
 *               end) passes; queries subtract those whose end is <= now, and
 *               each hourly sample record (fn_an_sample) retires them for good.
 *   hourly      at each hour the engine logs a sample record; applying it
 *               copies supply and demand per city into a ring of 24 hours.
 *   trips       empty (deadhead) and loaded km of trips by day of delivery;
 *               time to match = booked_at - the load's created_at, by day of
 *               booking, for every booking (also those cancelled later).
 *
 * Locking is the state's: events arrive under the engine's write lock; the
 * queries only read and run under its read lock.
 */
#ifndef FN_ANALYTICS_H
#define FN_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "core/model.h"

typedef struct fn_an fn_an;

/* Creates empty analytics; fn_an_free frees it and everything it holds. */
fn_an *fn_an_new(void);
void fn_an_free(fn_an *a);

/* ---- events (see the definitions above) ---- */

/* A load was posted: its lane cell and the day's posted count; with open
 * set, it also counts in demand until it closes or expires.  loaded_km is
 * the road estimate from pickup to delivery. */
void fn_an_load_posted(fn_an *a, const fn_load *l, double loaded_km, int open);
/* The load left the open status (booked or cancelled): out of demand. */
void fn_an_load_closed(fn_an *a, uint64_t load_id);
/* A booking was made at booked_at of a load posted at created_at. */
void fn_an_booked(fn_an *a, int64_t booked_at, int64_t load_created_at);
/* A trip was delivered. */
void fn_an_delivered(fn_an *a, int64_t delivered_at, double deadhead_km, double loaded_km);
/* A driver's supply membership: counted (available and positioned) at
 * (lat, lon), or not counted.  *slot is the driver's fn_driver.an_slot (0
 * when new): the city it counts in and the lookup cell that city came from,
 * so that a truck moving within a cell that has one nearest city costs no
 * lookup. */
void fn_an_driver(fn_an *a, uint32_t *slot, int counted, double lat, double lon);
/* The hourly sample record: retires loads whose end is <= at_s from demand,
 * then, unless the ring holds a sample of at_s's hour already, stores supply
 * and demand per city as that hour's sample. */
void fn_an_sample(fn_an *a, int64_t at_s);
/* The hour of the newest sample, or INT64_MIN when there is none. */
int64_t fn_an_last_sample_hour(const fn_an *a);

/* ---- snapshots: the hourly ring (everything else is rebuilt) ---- */

/* Appends the ring: u32 n, then n x (i64 hour_at, u32 cities, cities x
 * (u32 supply, u32 demand)). */
void fn_an_save_hourly(const fn_an *a, fn_buf *b);
/* Reads what fn_an_save_hourly wrote.  Returns 0 or FN_ECORRUPT. */
int fn_an_load_hourly(fn_an *a, fn_rd *r);

/* ---- queries ---- */

#define FN_AN_MAX_DAYS 366

/* Quantiles of a sketch: NaN when count is 0. */
typedef struct fn_an_q {
    uint64_t count;
    double p25, p50, p75, p90;
} fn_an_q;

typedef struct fn_an_day {
    int64_t day;                  /* days since 1970-01-01 (UTC) */
    uint64_t posted, booked, delivered;
    int64_t empty_m, loaded_m;    /* km of that day's deliveries, in metres */
    fn_an_q ttm_s;                /* time to match in seconds (p50, p90) */
} fn_an_day;

typedef struct fn_an_overview {
    uint64_t open_now;            /* open and unexpired loads at now */
    int64_t empty_m, loaded_m;    /* all delivered trips */
    uint64_t trips;               /* delivered trips */
    fn_an_q ttm_s;
    size_t ndays;
    fn_an_day days[FN_AN_MAX_DAYS]; /* oldest first, ending with now's day */
} fn_an_overview;

/* Fills *o for the last `days` days (1..FN_AN_MAX_DAYS) up to now's day. */
void fn_an_overview_get(const fn_an *a, int64_t now_s, int days, fn_an_overview *o);

typedef struct fn_an_lane {
    int origin, dest;             /* province indexes (regions.h) */
    int type;                     /* truck type, or -1 for all types combined */
    fn_an_q price;                /* price per km over the window */
    fn_an_q *daily;               /* ndays entries, oldest first; owned by the list */
} fn_an_lane;

typedef struct fn_an_lanes {
    int ndays;
    int64_t first_day;
    size_t n;
    fn_an_lane *v;
} fn_an_lanes;

/* The lanes of the last `days` days with at least one load, filtered by
 * origin / dest province and truck type (-1 = any; with type -1 the types
 * are combined), the `limit` with most loads first (ties: by origin, then
 * destination index).  Free with fn_an_lanes_free. */
void fn_an_lanes_get(const fn_an *a, int64_t now_s, int days, int origin, int dest, int type, size_t limit,
                     fn_an_lanes *out);
void fn_an_lanes_free(fn_an_lanes *l);

/* Supply and demand per city, now and per sampled hour. */
typedef struct fn_an_regions {
    size_t ncity;
    uint32_t *supply, *demand;    /* ncity each, now */
    size_t nhours;                /* samples of the last 24 hours, oldest first */
    int64_t hour_at[24];
    uint32_t *h_supply[24], *h_demand[24]; /* ncity each */
} fn_an_regions;

/* Copies the region counts at now into *out (free with fn_an_regions_free). */
void fn_an_regions_get(const fn_an *a, int64_t now_s, fn_an_regions *out);
void fn_an_regions_free(fn_an_regions *r);

/* One published cell of the open lane index. */
typedef struct fn_an_cell {
    int64_t day;
    int origin, dest, type;
    fn_an_q price;
} fn_an_cell;

/* The lane cells of every day before now's (closed days: no later posting
 * can change them) that hold at least k loads, by day, origin, destination,
 * type.  *out is malloc'ed (free it); returns the count. */
size_t fn_an_cells_closed(const fn_an *a, int64_t now_s, uint64_t k, fn_an_cell **out);

/* Bytes of memory the analytics holds (tables, sketches, per-object arrays). */
size_t fn_an_bytes(const fn_an *a);

#endif
