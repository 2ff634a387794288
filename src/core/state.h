/*
 * state.h — the marketplace's whole in-memory state and the reads on it.
 *
 * The state is a set of dense tables (ids are 1, 2, 3 ... per kind, so a
 * lookup is an index), a string arena, the token table and two spatial
 * grids (available trucks by position, open loads by pickup).  It changes
 * only by applying log records (fn_state_apply in apply.c), live and during
 * recovery alike, so the state after a restart is the state before it.
 *
 * Locking is the engine's job (engine.h): it holds a read lock around every
 * read here and the write lock around every apply.  The state itself takes
 * no locks.  Pointers returned by the getters stay valid for the life of the
 * state (tables grow by whole chunks and never move an element), but their
 * contents may change once the caller's lock is released.
 */
#ifndef FN_STATE_H
#define FN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/token.h"
#include "common/geo.h"
#include "core/grid.h"
#include "core/model.h"

typedef struct fn_state fn_state;

typedef struct fn_state_config {
    fn_area area;          /* service area; positions outside are refused */
    double circuity;       /* road km per great-circle km (default 1.3) */
    double grid_cell_deg;  /* spatial grid cell size in degrees */
} fn_state_config;

/* Counters kept up to date by apply, for /metrics and the overview. */
typedef struct fn_state_counts {
    uint64_t companies, drivers, gateways, loads, bookings;
    uint64_t drivers_by_status[3];  /* enum fn_driver_status */
    uint64_t loads_by_status[5];    /* stored statuses (expired is derived) */
    uint64_t positions_applied;
    uint64_t positions_stale;       /* older than the driver's last position */
} fn_state_counts;

/* Creates an empty state; frees with fn_state_free. */
fn_state *fn_state_new(const fn_state_config *cfg);
void fn_state_free(fn_state *s);
const fn_state_config *fn_state_cfg(const fn_state *s);

/* Getters by id; NULL when there is no such object. */
const fn_company *fn_state_company(const fn_state *s, uint64_t id);
const fn_driver *fn_state_driver(const fn_state *s, uint64_t id);
const fn_gateway *fn_state_gateway(const fn_state *s, uint64_t id);
const fn_load *fn_state_load(const fn_state *s, uint64_t id);
const fn_booking *fn_state_booking(const fn_state *s, uint64_t id);

/* The id the next object of each kind will get. */
uint64_t fn_state_next_company_id(const fn_state *s);
uint64_t fn_state_next_driver_id(const fn_state *s);
uint64_t fn_state_next_gateway_id(const fn_state *s);
uint64_t fn_state_next_load_id(const fn_state *s);
uint64_t fn_state_next_booking_id(const fn_state *s);

void fn_state_counts_get(const fn_state *s, fn_state_counts *out);

/* Resolves a token hash to its principal; returns 1 when known. */
int fn_state_token_lookup(const fn_state *s, const uint8_t hash[FN_TOKEN_HASH_BYTES], uint64_t *principal);

/* Road estimate in km between two points (great circle x circuity). */
double fn_state_road_km(const fn_state *s, double lat1, double lon1, double lat2, double lon2);

/* Filters for available trucks near a point. */
typedef struct fn_truck_query {
    double lat, lon;
    double radius_km;
    size_t limit;
    uint16_t types_mask;    /* 0 = any type */
    int min_length_idx;     /* -1 = any */
    uint32_t min_capacity_kg;
    uint32_t min_volume_l;
    int exact;              /* 1: rank by exact positions; 0: by privacy-snapped ones */
} fn_truck_query;

typedef struct fn_truck_hit {
    const fn_driver *driver;
    double distance_km;     /* great circle, from the exact or snapped position */
    double lat, lon;        /* the position the caller may see */
} fn_truck_hit;

/* Available trucks (status available, with a position) that pass the
 * filters, nearest first, at most q->limit into out.  Returns the count. */
size_t fn_state_trucks_near(const fn_state *s, const fn_truck_query *q, fn_truck_hit *out);

typedef struct fn_load_hit {
    const fn_load *load;
    double distance_km;     /* great circle from the query point to pickup */
} fn_load_hit;

/* Open, unexpired loads whose pickup is within radius_km of (lat, lon),
 * nearest first, at most limit into out.  Returns the count. */
size_t fn_state_loads_near(const fn_state *s, double lat, double lon, double radius_km, size_t limit,
                           int64_t now_s, fn_load_hit *out);

/* A truck's attribute word in the spatial grid (fn_grid_entry.attr): truck
 * type in bits 0-3, length index in bits 4-7, capacity in whole 100 kg
 * (rounded down) in bits 8-31.  Searches reject on it without reading the
 * driver's record. */
static inline uint32_t fn_truck_attr(const fn_driver *d)
{
    return (uint32_t)d->truck_type | (uint32_t)d->length_idx << 4 | (d->capacity_kg / 100u) << 8;
}

/* A load's attribute word in the spatial grid: accepted truck types in bits
 * 0-11, minimum length index + 1 in bits 12-15 (0 = any), weight in whole
 * 100 kg (rounded down, capped) in bits 16-31. */
static inline uint32_t fn_load_attr(const fn_load *l)
{
    uint32_t w = l->weight_kg / 100u;
    return (uint32_t)(l->types_mask & 0xfff) | (uint32_t)(l->min_length_idx + 1) << 12 | (w > 0xffff ? 0xffff : w) << 16;
}

/* Walks the available, positioned trucks (items are driver id - 1) or the
 * open loads (items are load id - 1) in rings outward from (lat, lon); see
 * fn_grid_visit.  For searches that rank by more than distance (match.h). */
void fn_state_visit_trucks(const fn_state *s, double lat, double lon, double radius_km, double slack_km,
                           fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx);
void fn_state_visit_open_loads(const fn_state *s, double lat, double lon, double radius_km, double slack_km,
                               fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx);

/* Bytes of memory the state holds (tables, arena, tokens, grids). */
size_t fn_state_bytes(const fn_state *s);

/* Applies one log record (see apply.c for the record formats).  Returns 0,
 * or FN_ECORRUPT when the record cannot be decoded or contradicts the state
 * (recovery then refuses to start).  A refused record may have changed part
 * of the state before it was found wrong: after FN_ECORRUPT the state must
 * be thrown away, never used.  The engine checks every write before it logs
 * it, so a live record that fails to apply is a bug and aborts the process. */
int fn_state_apply(fn_state *s, uint8_t type, const uint8_t *data, uint32_t len);

/* Writes / reads the whole state to / from a snapshot stream (state_snap.c). */
struct fn_snapw;
struct fn_snapr;
int fn_state_snap_save(const fn_state *s, struct fn_snapw *w);
int fn_state_snap_load(fn_state *s, struct fn_snapr *r);

#endif
