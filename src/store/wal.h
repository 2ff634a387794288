/*
 * wal.h — the write-ahead log: an ordered, durable sequence of records.
 *
 * Every state change freightd accepts is appended here and made durable
 * before it is acknowledged.  The rest of the server sees only this
 * interface (an opaque handle, append, sync, rotate, trim), so a replicated
 * log can take the local file's place without touching anything else.
 *
 * Records carry a sequence number (seq), 1-based and strictly increasing
 * with no gaps over the log's whole life, a one-byte type that the log does
 * not interpret, and an opaque payload.
 *
 * Group commit: fn_wal_append() only copies a record into memory and is
 * cheap; fn_wal_sync() makes everything up to a seq durable.  Callers that
 * sync at the same time share one write and one fdatasync (the first one in
 * becomes the leader and flushes for the others).
 *
 * Failure policy (PostgreSQL after "fsyncgate"): once a write or fsync of
 * the log fails, the log is broken for the rest of the process's life and
 * every later append and sync returns FN_EUNAVAIL.  It never retries a
 * failed fsync and reports success.
 *
 * The on-disk format and the recovery rules are in wal.c's opening comment
 * and in docs/storage.md.
 */
#ifndef FN_WAL_H
#define FN_WAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct fn_wal fn_wal;

/* Record payloads are capped so that one damaged length field cannot make
 * recovery allocate or skip gigabytes. */
#define FN_WAL_MAX_RECORD (64u << 20)

typedef struct fn_wal_record {
    uint64_t seq;        /* the record's sequence number */
    uint8_t type;        /* the caller's record type, 1..255 */
    const uint8_t *data; /* payload; valid only during the callback */
    uint32_t len;        /* payload bytes */
} fn_wal_record;

/* Called once per record during recovery, in seq order.  A non-zero return
 * stops recovery and fn_wal_open() returns that value. */
typedef int (*fn_wal_replay_fn)(void *ctx, const fn_wal_record *rec);

typedef struct fn_wal_recovery {
    uint64_t records_replayed;  /* records passed to the callback */
    uint64_t records_skipped;   /* records older than from_seq (already in the snapshot) */
    uint64_t segments;          /* segment files read */
    uint64_t torn_bytes;        /* bytes cut from the tail of the last segment */
    uint64_t torn_records;      /* whole-looking records among the cut bytes */
    char torn_file[256];        /* the segment that was cut, "" when none */
    uint64_t torn_offset;       /* where it was cut */
} fn_wal_recovery;

typedef struct fn_wal_stats {
    uint64_t appended_records;
    uint64_t appended_bytes;  /* record bytes including headers */
    uint64_t written_bytes;   /* bytes handed to write(2) */
    uint64_t fsyncs;          /* fdatasync calls that succeeded */
    uint64_t fsync_ns_total;  /* time spent in fdatasync */
    uint64_t next_seq;        /* the seq the next append gets */
    uint64_t durable_seq;     /* every record with seq < this is on disk */
    int broken;               /* 1 after a failed write or fsync */
    int full;                 /* 1 while appends are refused for want of disk space */
} fn_wal_stats;

/*
 * Opens (creating if needed) the log in directory dir, recovers it and
 * positions it for appending.
 *
 * Recovery reads segments in seq order and calls replay for every record
 * with seq >= from_seq (records below it are already in the snapshot the
 * caller loaded; from_seq is 1 with no snapshot).  A torn tail in the last
 * segment is cut back to the last whole record and described in *rec (the
 * caller logs it).  Damage that is followed by a later durable write group,
 * damage in any segment but the last, or a gap in the seqs at or above
 * from_seq is corruption: fn_wal_open() returns FN_ECORRUPT with a message
 * naming file and offset in errbuf, and changes nothing on disk.  A log
 * that starts above from_seq is missing records: FN_ECORRUPT.  A log whose
 * newest record is below from_seq-1 holds nothing the snapshot lacks: a new
 * segment is started at from_seq (logged), and the older segments can be
 * trimmed.
 *
 * On success *out is the open log; the next append gets seq
 * max(from_seq, last recovered seq + 1).  Returns 0, FN_ECORRUPT, FN_EIO,
 * or the callback's non-zero value; errbuf (errlen bytes) gets a sentence.
 */
int fn_wal_open(fn_wal **out, const char *dir, uint64_t from_seq, fn_wal_replay_fn replay, void *ctx,
                fn_wal_recovery *rec, char *errbuf, size_t errlen);

/*
 * Appends one record to the in-memory tail and returns its seq in *seq_out.
 * Nothing is durable until fn_wal_sync() covers that seq.  Appends from
 * several threads are ordered by the order of their calls; callers that need
 * the log order to match the order they changed their state must append
 * under the same lock that guards that state.  Returns 0, FN_EUNAVAIL when
 * the log is broken, FN_ETOOBIG when len > FN_WAL_MAX_RECORD, FN_EIO when
 * no disk space can be reserved for the record (the disk is full: nothing
 * was appended, and later appends succeed once space is freed).
 */
int fn_wal_append(fn_wal *w, uint8_t type, const void *data, uint32_t len, uint64_t *seq_out);

/*
 * Blocks until every record with seq <= seq is written and fdatasync'ed.
 * Returns 0, or FN_EUNAVAIL if the log is (or becomes) broken.
 */
int fn_wal_sync(fn_wal *w, uint64_t seq);

/*
 * Syncs everything appended so far, closes the current segment and starts a
 * new one; records appended after this go to the new segment.  *next_seq gets
 * the first seq of the new segment.  Used before a snapshot so that the log
 * can later be trimmed at a segment boundary.  Returns 0, FN_EUNAVAIL, or
 * FN_EIO when the new segment could not be made (the log goes on in the
 * current one, unbroken).
 */
int fn_wal_rotate(fn_wal *w, uint64_t *next_seq);

/*
 * Deletes every segment whose records all have seq < upto_seq (a snapshot
 * now covers them) and fsyncs the directory.  Returns 0 or FN_EIO.
 */
int fn_wal_trim(fn_wal *w, uint64_t upto_seq);

/* Fills *st with counters; safe to call from any thread. */
void fn_wal_stats_get(fn_wal *w, fn_wal_stats *st);

/* Test hook: makes the next fdatasync report failure, as a failing disk would. */
void fn_wal_inject_fsync_failure(fn_wal *w);

/* Syncs what was appended (best effort), closes files and frees the handle. */
void fn_wal_close(fn_wal *w);

#endif
