/*
 * engine.h — the marketplace's transactional core: state + log + locks.
 *
 * Every write goes through here and follows one path:
 *   take the state's write lock; check the caller may do it and that the
 *   state allows it; encode one log record; append it to the log; apply it
 *   to the state (the same code recovery runs); release the lock; wait for
 *   the log to make the record durable (group commit); only then report
 *   success.
 * Because the record is appended under the same lock that orders changes to
 * the state, the log's order is the order the state saw, and exactly one of
 * any set of racing bookings of a load can win.
 *
 * Reads take the read lock (fn_engine_rdlock) and use the getters in
 * state.h.  Snapshots are taken by a forked child from a consistent copy of
 * memory, so writes pause only for the fork.
 */
#ifndef FN_ENGINE_H
#define FN_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"
#include "core/state.h"

typedef struct fn_engine fn_engine;

typedef struct fn_engine_config {
    const char *data_dir;          /* holds wal/, snap/, token.key, admin.token */
    fn_state_config state;
    const char *admin_token;       /* from FREIGHTD_ADMIN_TOKEN, or NULL to use/generate admin.token */
    uint64_t snapshot_log_bytes;   /* take a snapshot after this many log bytes (0 = never automatically) */
} fn_engine_config;

/* What a failed operation tells the client: an error code (fn.h), the field
 * at fault when one is, and a sentence. */
typedef struct fn_result {
    int err;
    const char *field;
    char msg[200];
} fn_result;

/* Opens the data dir (creating it), loads the newest snapshot, replays the
 * log, and is then ready for requests.  Prints what recovery did.  Returns
 * 0, or an error with a sentence in errbuf (the server must not start). */
int fn_engine_open(fn_engine **out, const fn_engine_config *cfg, char *errbuf, size_t errlen);
/* Waits for a running snapshot, syncs the log and frees everything. */
void fn_engine_close(fn_engine *e);

/* Resolves a bearer token to its principal (see token.h).  Returns 1 when
 * valid.  Takes the read lock itself. */
int fn_engine_authenticate(fn_engine *e, const char *token, uint64_t *principal);

/* The read lock around any use of fn_engine_state(). */
void fn_engine_rdlock(fn_engine *e);
void fn_engine_rdunlock(fn_engine *e);
const fn_state *fn_engine_state(const fn_engine *e);

/* ---- writes: each returns 0 or an error, with details in *res ---- */

/* Creates a member; *token_out (FN_TOKEN_LEN + 1 bytes) gets its token,
 * which exists nowhere else: only its hash is stored. */
int fn_engine_company_create(fn_engine *e, const fn_company *in, uint64_t *id_out, char *token_out, fn_result *res);
int fn_engine_driver_create(fn_engine *e, const fn_driver *in, uint64_t *id_out, char *token_out, fn_result *res);
int fn_engine_gateway_create(fn_engine *e, const fn_gateway *in, uint64_t *id_out, char *token_out, fn_result *res);

/* Applies a batch of positions.  Positions for unknown drivers are refused:
 * their index is set in *refused (room for n), marked 1; others 0.  Returns
 * 0 with *accepted set, or an error (nothing applied). */
int fn_engine_positions(fn_engine *e, const fn_position *p, size_t n, uint8_t *refused, size_t *accepted,
                        fn_result *res);

int fn_engine_driver_status(fn_engine *e, uint64_t driver_id, int status, fn_result *res);

/* Posts a load for in->company_id; *id_out gets its id. */
int fn_engine_load_create(fn_engine *e, const fn_load *in, uint64_t *id_out, fn_result *res);
/* Cancels an open load; caller is the principal acting. */
int fn_engine_load_cancel(fn_engine *e, uint64_t caller, uint64_t load_id, fn_result *res);

/* Books a load for a driver; *booking_out gets the booking id. */
int fn_engine_book(fn_engine *e, uint64_t driver_id, uint64_t load_id, uint64_t *booking_out, fn_result *res);
/* Books n (driver, load) pairs under one hold of the write lock, so no
 * concurrent booking can interleave, and makes them durable with one sync.
 * errs[i] gets 0 or why pair i was refused (its load was booked meanwhile,
 * ...); booking_out[i] its booking id or 0.  Returns 0, or FN_EUNAVAIL when
 * the log failed (then no booking of the batch is acknowledged). */
int fn_engine_book_batch(fn_engine *e, const uint64_t *driver_ids, const uint64_t *load_ids, size_t n,
                         uint64_t *booking_out, int *errs, fn_result *res);
/* Trip steps by the booked driver: FN_REC_PICKUP or FN_REC_DELIVER. */
int fn_engine_trip_step(fn_engine *e, uint64_t caller, uint64_t booking_id, int step, fn_result *res);
/* Cancels a booking before pickup (booked driver or owner company). */
int fn_engine_booking_cancel(fn_engine *e, uint64_t caller, uint64_t booking_id, fn_result *res);
/* Rates the other side of a delivered trip, once per side. */
int fn_engine_rate(fn_engine *e, uint64_t caller, uint64_t booking_id, int stars, const char *comment, fn_result *res);

/* Returns 1 if caller may see booking b in full (admin, its driver, the owner company). */
int fn_engine_booking_visible(uint64_t caller, const fn_booking *b);

/* Starts a snapshot now unless one is running.  With wait, blocks until it
 * is written.  Returns 0 or an error. */
int fn_engine_snapshot(fn_engine *e, int wait);

typedef struct fn_engine_stats {
    uint64_t log_bytes, log_records, fsyncs, fsync_ns_total, durable_seq, next_seq;
    int log_broken;
    int log_full;      /* writes are refused for want of disk space (they resume when it is freed) */
    uint64_t snapshots, snapshot_failures, last_snapshot_seq;
    uint64_t last_snapshot_ms;
} fn_engine_stats;
void fn_engine_stats_get(fn_engine *e, fn_engine_stats *st);

/* Test and fault hook: the next log fsync fails, as a failing disk would. */
void fn_engine_inject_fsync_failure(fn_engine *e);

#endif
