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
/* Makes room for n more members' tokens, so that a state built record by
 * record from known counts (`freight import`) does not rehash its token
 * table a dozen times on the way. */
void fn_state_reserve_tokens(fn_state *s, uint64_t n);

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

/*
 * How trucks and loads appear in the spatial index (fn_grid_entry), so a
 * search can reject a candidate, or bound its score, from the entry alone
 * and read the record only when it could make the result.  Every rounded
 * field rounds the way that keeps a bound a bound.
 *
 * Trucks: layer = truck type, item = driver id - 1.
 *   attr   bits 0-3    length index
 *          bits 4-15   capacity in whole 100 kg, rounded down (4095: that or more)
 *          bits 16-25  volume in whole m3, rounded up (0: not stated; 1023: that or more)
 *          bits 26-31  rating: FN_RATING_Q_UNRATED, or ceil(62 * fn_rating01) (not below it)
 *   aux[0] home, quantized (fn_quant_pos)
 *   aux[1] preferred provinces (bit i = province i)
 * Loads: one layer, item = load id - 1.
 *   attr   bits 0-11   accepted truck types
 *          bits 12-15  minimum length index + 1 (0: any)
 *          bits 16-31  weight in whole 100 kg, rounded down (65535: that or more)
 *   aux[0] delivery point, quantized
 *   aux[1] bits 0-21   price in whole yuan, rounded up (FN_PRICE_Q_MAX: that or more)
 *          bits 22-26  delivery province + 1 (0: not given)
 */
#define FN_TRUCK_LAYERS FN_TT__COUNT
#define FN_CAP_Q_MAX 4095u
#define FN_VOL_Q_MAX 1023u
#define FN_RATING_Q_UNRATED 63u
#define FN_WEIGHT_Q_MAX 65535u
#define FN_PRICE_Q_MAX ((1u << 22) - 1)

/* A rating as a factor in [0, 1]: 1 star is 0, 5 stars 1, unrated 0.5. */
static inline double fn_rating01(uint32_t sum, uint32_t count)
{
    double r;
    if (!count)
        return 0.5;
    r = ((double)sum / count - 1.0) / 4.0;
    return r < 0 ? 0 : r > 1 ? 1 : r;
}

/* The rating an entry's bits stand for: exactly fn_rating01 when unrated, at
 * least it otherwise. */
static inline double fn_rating_q_value(uint32_t q) { return q == FN_RATING_Q_UNRATED ? 0.5 : q / 62.0; }

static inline uint32_t fn_truck_attr_len(uint32_t a) { return a & 15u; }
static inline uint32_t fn_truck_attr_cap(uint32_t a) { return (a >> 4) & 4095u; }
static inline uint32_t fn_truck_attr_vol(uint32_t a) { return (a >> 16) & 1023u; }
static inline uint32_t fn_truck_attr_rating(uint32_t a) { return a >> 26; }
static inline uint32_t fn_load_attr_types(uint32_t a) { return a & 0xfffu; }
static inline int fn_load_attr_minlen(uint32_t a) { return (int)((a >> 12) & 15u) - 1; }
static inline uint32_t fn_load_attr_weight(uint32_t a) { return a >> 16; }
static inline uint32_t fn_load_aux_price(uint32_t x) { return x & FN_PRICE_Q_MAX; }
static inline int fn_load_aux_province(uint32_t x) { return (int)((x >> 22) & 31u) - 1; }

/* A position quantized to 16 + 16 bits over the service area (60 - 95 m
 * steps over China), and what it stands for: a point within *tol degrees of
 * (*lat, *lon) in each coordinate (*tol is 1000 when the position lay
 * outside the area and was clamped). */
uint32_t fn_quant_pos(const fn_area *a, double lat, double lon);
void fn_quant_center(const fn_area *a, uint32_t q, double *lat, double *lon, double *tol);

/* Walks the available, positioned trucks of the given types (bit t = type t;
 * items are driver id - 1) or the open loads (items are load id - 1) nearest
 * first from (lat, lon); see fn_grid_visit.  For searches that rank by more
 * than distance (match.h, dispatch.h). */
void fn_state_visit_trucks(const fn_state *s, uint32_t types, double lat, double lon, double radius_km,
                           double slack_km, fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx);
void fn_state_visit_open_loads(const fn_state *s, double lat, double lon, double radius_km, double slack_km,
                               fn_grid_visit_fn visit, fn_grid_stop_fn stop, void *ctx);
/* The highest rating (as fn_rating_q_value) of any truck in the index: a
 * search bounds the rating part of unseen trucks' scores with it. */
double fn_state_best_truck_rating(const fn_state *s);
/* The index's own numbers (cells, splits, depth, bytes), for tests and diagnostics. */
void fn_state_grid_stats(const fn_state *s, fn_grid_stats *trucks, fn_grid_stats *loads);

/* The analytics that apply keeps up to date (stats/analytics.h); read it
 * under the read lock like the rest of the state. */
struct fn_an;
const struct fn_an *fn_state_analytics(const fn_state *s);

/* Bytes of memory the state holds (tables, arena, tokens, grids, analytics). */
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
