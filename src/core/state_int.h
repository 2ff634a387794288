/*
 * state_int.h — the state's insides, shared by state.c (tables and reads),
 * apply.c (log records) and state_snap.c (snapshots).  Nothing outside
 * src/core includes it.
 */
#ifndef FN_STATE_INT_H
#define FN_STATE_INT_H

#include "common/buf.h"
#include "core/state.h"
#include "stats/analytics.h"

/* A table of fixed-size elements in chunks of 2^16, so growth never moves
 * an element (pointers handed out stay valid). */
#define FN_TABLE_CHUNK_SHIFT 16
#define FN_TABLE_CHUNK (1u << FN_TABLE_CHUNK_SHIFT)

typedef struct fn_table {
    uint8_t **chunks;
    size_t nchunks;
    size_t chunks_cap;
    uint64_t count;   /* elements in use: ids 1..count */
    size_t elem;      /* element size in bytes */
} fn_table;

static inline void *fn__table_at(const fn_table *t, uint64_t id)
{
    uint64_t i;
    if (id == 0 || id > t->count)
        return NULL;
    i = id - 1;
    return t->chunks[i >> FN_TABLE_CHUNK_SHIFT] + (i & (FN_TABLE_CHUNK - 1)) * t->elem;
}
/* Allocates (without touching) the chunks for n elements in all. */
void fn__table_reserve(fn_table *t, uint64_t n);
/* Appends a zeroed element and returns it; its id is the new count. */
void *fn__table_push(fn_table *t);
void fn__table_free(fn_table *t);

/* Bump-allocated immutable strings, 1 MiB blocks. */
typedef struct fn_arena {
    uint8_t **blocks;
    size_t nblocks, blocks_cap;
    size_t used;      /* bytes used in the last block */
    size_t bytes;     /* total bytes allocated */
} fn_arena;

const char *fn__arena_str(fn_arena *a, const char *s, size_t n);

struct fn_state {
    fn_state_config cfg;
    fn_table companies, drivers, gateways, loads, bookings;
    fn_arena arena;
    fn_tokens *tokens;
    fn_grid *trucks;  /* drivers that are available and have a position, by driver id - 1 */
    fn_grid *open_loads; /* open loads by pickup point, by load id - 1 */
    uint32_t truck_rating_q[64]; /* trucks in the grid by the rating bits of their entry */
    fn_state_counts counts;
    fn_an *an;        /* the analytics, fed by apply (stats/analytics.h) */
};

static inline fn_company *fn__company(fn_state *s, uint64_t id) { return fn__table_at(&s->companies, id); }
static inline fn_driver *fn__driver(fn_state *s, uint64_t id) { return fn__table_at(&s->drivers, id); }
static inline fn_load *fn__load(fn_state *s, uint64_t id) { return fn__table_at(&s->loads, id); }
static inline fn_booking *fn__booking(fn_state *s, uint64_t id) { return fn__table_at(&s->bookings, id); }

/* The encodings that log records and snapshots share (apply.c): a place is
 * f64 lat, f64 lon, i8 province, str city; strings are interned into the
 * state's arena as they are read. */
int fn__put_place(fn_buf *b, const fn_place *p);
const char *fn__rd_str(fn_state *s, fn_rd *r);
void fn__rd_place(fn_state *s, fn_rd *r, fn_place *p);

/* Range and reference checks shared by log replay and snapshot loading, so
 * that damaged or mis-written data is refused at start-up instead of
 * crashing later.  Return 1 when the object is sound. */
int fn__company_ok(const fn_company *c);
int fn__load_ok(const fn_state *s, const fn_load *l);

/* Keeps a driver's membership of the truck grid in line with its status and
 * position: in the grid iff available and positioned. */
void fn__state_index_driver(fn_state *s, fn_driver *d);
/* The same after a position change alone (faster when it stays in the grid). */
void fn__state_move_driver(fn_state *s, fn_driver *d);
/* Takes a driver out of the truck grid (before its rating changes). */
void fn__state_unindex_driver(fn_state *s, fn_driver *d);
/* Files an open load in the load grid (its entry per state.h). */
void fn__state_index_load(fn_state *s, const fn_load *l);

#endif
