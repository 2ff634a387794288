/*
 * wal.c — the local write-ahead log behind wal.h: segment files in one
 * directory, group commit, and crash recovery.
 *
 * FILES
 *
 * The log directory holds segment files named
 *     wal-<first seq as 16 lowercase hex digits>.log
 * (for example wal-0000000000000001.log).  Segments are created whole: the
 * header goes to "<name>.tmp", which is fsynced, renamed into place, and the
 * directory fsynced, so a segment file that exists always has a complete
 * header.  Stray *.log.tmp files are removed by fn_wal_open().  Only the last
 * segment is ever appended to.
 *
 * SEGMENT HEADER (32 bytes, all integers little-endian)
 *
 *     0   8  magic "FNWAL001"
 *     8   4  format version, 1
 *    12   4  reserved, 0
 *    16   8  first_seq: the seq of the segment's first record (or of the
 *            first record that will be appended to it while it is empty);
 *            it must equal the seq in the file name
 *    24   4  reserved, 0
 *    28   4  CRC-32C of bytes [0, 28)
 *
 * RECORD (24-byte header, then the payload)
 *
 *     0   4  len: payload bytes, at most FN_WAL_MAX_RECORD
 *     4   4  crc: CRC-32C of bytes [8, 24 + len) of the record, that is of
 *            the rest of the header and the payload
 *     8   8  seq
 *    16   1  type (the caller's; the log does not interpret it)
 *    17   1  flags: bit 0 = COMMIT, this record is the last one of a write
 *            group; the other bits are 0
 *    18   2  reserved, 0
 *    20   4  group_back: on a COMMIT record, the byte distance from the start
 *            of its group's first record to the start of this record (0 for a
 *            group of one record); 0 on other records
 *    24 len  payload
 *
 * A record is valid if and only if its header fits in the file, len <=
 * FN_WAL_MAX_RECORD, the payload fits in the file, the crc matches and seq is
 * the one that follows the previous record (the segment's first_seq for its
 * first record).  Records follow one another with no padding.
 *
 * WRITE GROUPS
 *
 * fn_wal_append() encodes the record (flags 0, group_back 0) into an
 * in-memory pending buffer and assigns its seq; that is all it does, under
 * one mutex.  fn_wal_sync() uses a flush token (the `flushing` flag, taken
 * and released under the mutex): the thread that takes it is the leader; it
 * swaps the whole pending buffer out, marks its last record COMMIT with its
 * group_back and recomputes that record's crc, then — without the mutex —
 * hands the group to pwrite(2) at the tracked end of the segment (continuing
 * after short writes and EINTR) and fdatasyncs.  Then it advances
 * durable_seq and wakes the followers, who either find their seq covered or
 * lead the next group.  Because one group is written and fsynced before the
 * next one is written, only the last group in the log can be torn by a crash.
 *
 * Any failed write or fdatasync marks the log broken for the rest of the
 * process: every later append and sync returns FN_EUNAVAIL and the log never
 * retries the fsync (the kernel may have dropped the dirty pages and cleared
 * the error, so a retry that succeeds proves nothing).
 *
 * DISK SPACE
 *
 * Records are applied to the state before they are written, so a write
 * that fails for want of space after its record was appended could only be
 * answered "unknown" (and the log broken).  Instead space is reserved ahead
 * with fallocate(FALLOC_FL_KEEP_SIZE) — in WAL_RESERVE_BYTES steps, or just
 * what one record needs when less is free — and fn_wal_append() refuses a
 * record (FN_EIO, nothing changed) that the reservation cannot cover: on a
 * full disk writes are refused cleanly and resume by themselves once space
 * is freed.  The reserved blocks lie past the end of the file (its size is
 * unchanged), so recovery never sees them.  A new segment reserves its
 * first step before it is renamed into place; a rotation that finds no
 * space fails without breaking the log.  A file system without fallocate
 * (EOPNOTSUPP) gets no reservation: there a write that runs out of space
 * breaks the log as any failed write does.
 *
 * RECOVERY (fn_wal_open)
 *
 * Segments are read in first_seq order.  A segment whose header is damaged,
 * or whose first_seq overlaps the previous segment's records, is corrupt.  A
 * gap in the seqs between segments is corrupt unless every missing seq is
 * below from_seq (the snapshot has those records; see below for how such a
 * gap arises).  In every segment but the last, any invalid record is
 * corruption.
 *
 * In the last segment, the first invalid record at offset X is either a torn
 * tail or damage in the middle.  It is damage in the middle (FN_ECORRUPT,
 * nothing changed on disk) when some later offset Y > X holds a
 * valid-looking COMMIT record (len sane, payload fits, crc matches; its seq is
 * not checked) whose group started after X (Y - group_back > X): then a whole
 * later write group, which was fsynced before anything after it was written,
 * lies beyond the damage, so the damaged bytes were once durable.  Otherwise
 * it is a torn tail: the file is cut at X (ftruncate, fsync) and the cut is
 * described in fn_wal_recovery.  One case is refused although the rule above
 * would call it torn: a record at X whose crc matches but whose seq is wrong.
 * A torn write cannot produce that; a bug or a misplaced file can, and
 * dropping it silently would hide the cause.
 *
 * Records below from_seq are counted as skipped and not replayed.  The log
 * must not start above from_seq (the records in between would be missing).
 * When the log ends before from_seq - 1 — the snapshot is newer than the whole
 * log, which happens when an operator moved a damaged last segment away to
 * accept the loss — the snapshot already holds everything the log has and
 * more, so the log starts a fresh segment at from_seq and logs a warning; the
 * older segments are then below from_seq and fn_wal_trim() removes them.
 * With no segment at all, the first segment is created at from_seq.
 *
 * Records reach the replay callback as they are read, so when fn_wal_open()
 * fails the callback may have seen a prefix of the log; the caller throws
 * its half-built state away then.  The disk is changed (the tail cut, a new
 * segment created, stray .tmp files removed) only after every segment has
 * been read and found sound.
 *
 * LOCKING
 *
 * mu guards the pending buffer, the seqs, the flags and the counters.  The
 * thread holding the flush token owns the in-flight buffer, the current
 * segment's fd and its write offset.  admin_mu serialises fn_wal_rotate() and
 * fn_wal_trim() and guards the segment list; it is taken before mu.
 */
#include "store/wal.h"

#include "common/buf.h"
#include "common/crash.h"
#include "common/fn.h"
#include "store/fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAL_MAGIC "FNWAL001"
#define WAL_VERSION 1u
#define WAL_HDR_BYTES 32u
#define REC_HDR_BYTES 24u
#define REC_FLAG_COMMIT 0x01u
#define SEG_NAME_BYTES 24u /* strlen("wal-0123456789abcdef.log") */

/* One write group may not grow past this, so that group_back fits its u32 and
 * the pending buffer stays bounded when nobody syncs; an append that would
 * pass it flushes first.  It must exceed one maximal record. */
#define WAL_GROUP_MAX_BYTES (256u << 20)

/* A flushed buffer bigger than this is freed rather than kept for reuse, so
 * that one huge record does not pin its memory for the process's life. */
#define WAL_KEEP_BUF_BYTES (8u << 20)

/* Log space is reserved ahead in steps of this many bytes (see DISK SPACE). */
#define WAL_RESERVE_BYTES (1u << 20)

/* Counting the whole-looking records in a torn tail is only informative, so
 * it stops checksumming after this many bytes (a tail of crafted lengths
 * could otherwise make it quadratic). */
#define WAL_TORN_COUNT_BUDGET_BYTES (256u << 20)

struct fn_wal {
    char *dir;

    /* Serialises rotate and trim; guards segs.  Taken before mu. */
    pthread_mutex_t admin_mu;
    uint64_t *segs;   /* first_seq of every segment on disk, ascending */
    size_t nsegs;
    size_t segs_cap;

    pthread_mutex_t mu;
    pthread_cond_t flushed;   /* broadcast whenever the flush token is released */
    fn_buf pending;           /* encoded records not yet handed to write(2) */
    size_t pending_last_off;  /* offset in pending of its last record */
    uint64_t next_seq;        /* the seq the next append gets */
    uint64_t durable_seq;     /* every seq below this is written and fsynced */
    int flushing;             /* 1 while a thread holds the flush token */
    int broken;               /* 1 after a failed write, fsync or rotation */
    int inject_fsync_failure; /* test hook: fail the next flush's fdatasync */
    uint64_t tail_off;        /* where the end of pending will lie in the current segment */
    uint64_t reserved_off;    /* space is reserved in the current segment below this offset */
    int no_reserve;           /* 1 when the file system cannot reserve (no fallocate) */
    int full;                 /* 1 while appends are refused for want of space (logged once) */
    uint64_t appended_records;
    uint64_t appended_bytes;
    uint64_t written_bytes;
    uint64_t fsyncs;
    uint64_t fsync_ns_total;

    /* Owned by the flush-token holder. */
    fn_buf inflight;   /* the group being written */
    int fd;            /* the last segment, open for writing */
    uint64_t file_off; /* where the next group goes in it, in bytes */
};


static void seg_path(char *out, size_t outlen, const char *dir, uint64_t first_seq, const char *suffix)
{
    snprintf(out, outlen, "%s/wal-%016" PRIx64 ".log%s", dir, first_seq, suffix);
}


static int is_seg_tmp_name(const char *name)
{
    uint64_t ignored;
    char base[SEG_NAME_BYTES + 1];
    if (strlen(name) != SEG_NAME_BYTES + 4 || strcmp(name + SEG_NAME_BYTES, ".tmp") != 0)
        return 0;
    memcpy(base, name, SEG_NAME_BYTES);
    base[SEG_NAME_BYTES] = '\0';
    return fn__seq_name_parse(base, "wal-", ".log", &ignored);
}

static void seg_header_encode(uint8_t h[WAL_HDR_BYTES], uint64_t first_seq)
{
    memcpy(h, WAL_MAGIC, 8);
    fn_le32_put(h + 8, WAL_VERSION);
    fn_le32_put(h + 12, 0);
    fn_le64_put(h + 16, first_seq);
    fn_le32_put(h + 24, 0);
    fn_le32_put(h + 28, fn_crc32c(0, h, 28));
}

/* Recomputes a record's crc after its header or payload changed. */
static void rec_seal(uint8_t *rec, uint32_t len)
{
    fn_le32_put(rec + 4, fn_crc32c(0, rec + 8, REC_HDR_BYTES - 8 + (size_t)len));
}

/* Returns 1 when a record whose length and checksum hold starts at off of the
 * size-byte mapping m, with its payload length in *len.  The seq is not
 * checked here. */
static int rec_whole(const uint8_t *m, size_t size, size_t off, uint32_t *len)
{
    uint32_t n;
    if (off > size || size - off < REC_HDR_BYTES)
        return 0;
    n = fn_le32_get(m + off);
    if (n > FN_WAL_MAX_RECORD || size - off - REC_HDR_BYTES < n)
        return 0;
    if (fn_crc32c(0, m + off + 8, REC_HDR_BYTES - 8 + (size_t)n) != fn_le32_get(m + off + 4))
        return 0;
    *len = n;
    return 1;
}



/* Creates segment first_seq whole (header to .tmp, reserve the first
 * WAL_RESERVE_BYTES unless no_reserve, fsync, rename, fsync the directory)
 * and returns it open for writing, or -1 with a sentence in errbuf.  The
 * .tmp file is removed on failure; *visible (may be NULL) says whether the
 * failure came after the rename, when the segment may or may not survive a
 * crash. */
static int seg_create(const char *dir, uint64_t first_seq, int no_reserve, int *visible, char *errbuf, size_t errlen)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    uint8_t h[WAL_HDR_BYTES];
    uint64_t done;
    int fd = -1, renamed = 0;
    const char *step;

    seg_path(tmp, sizeof(tmp), dir, first_seq, ".tmp");
    seg_path(path, sizeof(path), dir, first_seq, "");
    seg_header_encode(h, first_seq);
    step = "create";
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto err;
    step = "write the header of";
    if (fn__pwrite_all(fd, h, sizeof(h), 0, &done) != 0)
        goto err;
    step = "reserve space for";
    if (!no_reserve && fallocate(fd, FALLOC_FL_KEEP_SIZE, WAL_HDR_BYTES, WAL_RESERVE_BYTES) != 0 &&
        errno != EOPNOTSUPP && errno != ENOSYS)
        goto err;
    step = "fsync";
    if (fsync(fd) != 0)
        goto err;
    step = "rename into place";
    fn_crash_point("wal-segment-before-rename");
    if (rename(tmp, path) != 0)
        goto err;
    renamed = 1;
    fn_crash_point("wal-segment-before-dirsync");
    step = "fsync the directory of";
    if (fn__fsync_dir(dir) != 0)
        goto err;
    return fd;

err:
    fn__set_err(errbuf, errlen, "cannot %s log segment %s: %s", step, renamed ? path : tmp, strerror(errno));
    if (visible)
        *visible = renamed;
    if (fd >= 0)
        close(fd);
    if (!renamed)
        unlink(tmp);
    return -1;
}

/* ---- group commit ---------------------------------------------------- */

/*
 * Called with mu held by the holder of the flush token.  Moves the pending
 * records out as one write group, writes and fdatasyncs it with mu released,
 * and returns with mu held: 0, or FN_EUNAVAIL after marking the log broken.
 */
static int wal_flush_group(fn_wal *w)
{
    fn_buf tmp;
    size_t last_off;
    uint64_t end_seq, written = 0, t0, fsync_ns = 0;
    int inject, rc = 0;
    const char *what = "write";
    uint8_t *last;

    if (w->pending.len == 0)
        return 0;
    tmp = w->inflight;
    w->inflight = w->pending;
    w->pending = tmp;
    w->pending.len = 0;
    last_off = w->pending_last_off;
    end_seq = w->next_seq;
    inject = w->inject_fsync_failure;
    w->inject_fsync_failure = 0;
    pthread_mutex_unlock(&w->mu);

    /* Only now is the group's last record known, so it is marked and resealed
     * here.  WAL_GROUP_MAX_BYTES keeps last_off within a u32. */
    last = w->inflight.data + last_off;
    last[17] |= REC_FLAG_COMMIT;
    fn_le32_put(last + 20, (uint32_t)last_off);
    rec_seal(last, fn_le32_get(last));

    fn_crash_point("wal-before-write");
    if (fn__pwrite_all(w->fd, w->inflight.data, w->inflight.len, w->file_off, &written) != 0) {
        rc = errno;
    } else {
        fn_crash_point("wal-after-write");
        what = "fdatasync";
        t0 = fn_mono_ns();
        if (inject) {
            rc = EIO;
        } else if (fdatasync(w->fd) != 0) {
            rc = errno;
        }
        fsync_ns = fn_mono_ns() - t0;
        if (rc == 0)
            fn_crash_point("wal-after-fsync"); /* durable, but nobody has been answered */
    }

    pthread_mutex_lock(&w->mu);
    w->written_bytes += written;
    if (rc != 0) {
        w->broken = 1;
        fn_log("write-ahead log in %s: %s failed (%s)%s; the log is broken and refuses every write until restart",
               w->dir, what, strerror(rc), inject ? " [injected]" : "");
        rc = FN_EUNAVAIL;
    } else {
        w->durable_seq = end_seq;
        w->file_off += w->inflight.len;
        w->fsyncs++;
        w->fsync_ns_total += fsync_ns;
    }
    if (w->inflight.cap > WAL_KEEP_BUF_BYTES)
        fn_buf_free(&w->inflight);
    w->inflight.len = 0;
    return rc;
}

/*
 * Called with mu held; returns with it held once every record with seq <=
 * seq is durable (0) or the log is broken (FN_EUNAVAIL).  seq must be below
 * next_seq.  A caller that finds a flush running waits for it; a caller that
 * finds none leads one.
 */
static int wal_flush_locked(fn_wal *w, uint64_t seq)
{
    int rc;
    for (;;) {
        if (w->broken)
            return FN_EUNAVAIL;
        if (seq < w->durable_seq)
            return 0;
        if (!w->flushing)
            break;
        pthread_cond_wait(&w->flushed, &w->mu);
    }
    w->flushing = 1;
    rc = wal_flush_group(w);
    w->flushing = 0;
    pthread_cond_broadcast(&w->flushed);
    return rc;
}

/*
 * Called with mu held: makes sure space is reserved in the current segment
 * up to offset need (see DISK SPACE).  Returns 0, or -1 when the file system
 * has no room for it (the caller refuses the record).
 */
static int wal_reserve(fn_wal *w, uint64_t need)
{
    uint64_t want = need + WAL_RESERVE_BYTES;
    int ok;
    if (w->no_reserve || need <= w->reserved_off)
        return 0;
    /* A whole step if it fits, else just what is needed now. */
    ok = fallocate(w->fd, FALLOC_FL_KEEP_SIZE, (off_t)w->reserved_off, (off_t)(want - w->reserved_off)) == 0;
    if (!ok && errno != EOPNOTSUPP && errno != ENOSYS) {
        want = need;
        ok = fallocate(w->fd, FALLOC_FL_KEEP_SIZE, (off_t)w->reserved_off, (off_t)(want - w->reserved_off)) == 0;
    }
    if (ok) {
        w->reserved_off = want;
        if (w->full)
            fn_log("write-ahead log in %s: space is available again; writes are accepted", w->dir);
        w->full = 0;
        return 0;
    }
    if (errno == EOPNOTSUPP || errno == ENOSYS) {
        fn_log("write-ahead log in %s: the file system cannot reserve space (fallocate: %s); a write that "
               "finds the disk full will break the log", w->dir, strerror(errno));
        w->no_reserve = 1;
        return 0;
    }
    if (!w->full)
        fn_log("write-ahead log in %s: cannot reserve space (%s); refusing writes until space is freed", w->dir,
               strerror(errno));
    w->full = 1;
    return -1;
}

int fn_wal_append(fn_wal *w, uint8_t type, const void *data, uint32_t len, uint64_t *seq_out)
{
    size_t rec_bytes = REC_HDR_BYTES + (size_t)len;
    uint8_t *p;
    int rc = 0;

    if (len > FN_WAL_MAX_RECORD)
        return FN_ETOOBIG;
    pthread_mutex_lock(&w->mu);
    if (w->broken) {
        rc = FN_EUNAVAIL;
        goto out;
    }
    /* Keep one group below WAL_GROUP_MAX_BYTES: flush what is pending first.
     * Others may refill it while we wait, hence the loop. */
    while (w->pending.len > 0 && w->pending.len + rec_bytes > WAL_GROUP_MAX_BYTES) {
        rc = wal_flush_locked(w, w->next_seq - 1);
        if (rc != 0)
            goto out;
    }
    if (wal_reserve(w, w->tail_off + rec_bytes) != 0) {
        rc = FN_EIO; /* refused before anything changed: the disk is full */
        goto out;
    }
    if (fn_buf_reserve(&w->pending, rec_bytes) != 0) {
        rc = FN_ENOMEM; /* unreachable: pending has no cap and allocation aborts */
        goto out;
    }
    p = w->pending.data + w->pending.len;
    fn_le32_put(p, len);
    fn_le64_put(p + 8, w->next_seq);
    p[16] = type;
    p[17] = 0;
    p[18] = p[19] = 0;
    fn_le32_put(p + 20, 0);
    if (len)
        memcpy(p + REC_HDR_BYTES, data, len);
    rec_seal(p, len);
    w->pending_last_off = w->pending.len;
    w->pending.len += rec_bytes;
    w->tail_off += rec_bytes;
    if (seq_out)
        *seq_out = w->next_seq;
    w->next_seq++;
    w->appended_records++;
    w->appended_bytes += rec_bytes;
out:
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int fn_wal_sync(fn_wal *w, uint64_t seq)
{
    int rc;
    pthread_mutex_lock(&w->mu);
    /* A seq that was never handed out is covered once everything is. */
    if (seq >= w->next_seq)
        seq = w->next_seq - 1;
    rc = wal_flush_locked(w, seq);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void segs_push(fn_wal *w, uint64_t first_seq)
{
    if (w->nsegs == w->segs_cap) {
        w->segs_cap = w->segs_cap ? w->segs_cap * 2 : 8;
        w->segs = fn_xrealloc(w->segs, w->segs_cap * sizeof(*w->segs));
    }
    w->segs[w->nsegs++] = first_seq;
}

int fn_wal_rotate(fn_wal *w, uint64_t *next_seq)
{
    char err[PATH_MAX + 128];
    uint64_t first = 0;
    int rc = 0, newfd = -1, oldfd = -1, no_reserve, visible = 0;

    pthread_mutex_lock(&w->admin_mu);
    pthread_mutex_lock(&w->mu);
    while (w->flushing && !w->broken)
        pthread_cond_wait(&w->flushed, &w->mu);
    if (w->broken) {
        rc = FN_EUNAVAIL;
        goto out_locked;
    }
    /* Holding the token, write everything appended so far to the old
     * segment; then the first seq not yet written starts the new one, and
     * records appended meanwhile stay pending for it. */
    w->flushing = 1;
    rc = wal_flush_group(w);
    if (rc != 0)
        goto out_release;
    first = w->durable_seq;
    if (w->nsegs > 0 && w->segs[w->nsegs - 1] == first)
        goto out_release; /* the current segment is still empty: it already starts there */
    no_reserve = w->no_reserve;
    pthread_mutex_unlock(&w->mu);

    newfd = seg_create(w->dir, first, no_reserve, &visible, err, sizeof(err));

    pthread_mutex_lock(&w->mu);
    if (newfd < 0 && !visible) {
        /* Nothing of the new segment exists (no space for it, say): the log
         * goes on in the old one, and the caller's snapshot fails. */
        fn_log("write-ahead log in %s: %s; not rotating", w->dir, err);
        rc = FN_EIO;
        goto out_release;
    }
    if (newfd < 0) {
        /* The new file may or may not survive a crash, and records written
         * to the old segment past first would then overlap it: stop. */
        w->broken = 1;
        fn_log("write-ahead log in %s: %s; the log is broken and refuses every write until restart", w->dir, err);
        rc = FN_EUNAVAIL;
        goto out_release;
    }
    oldfd = w->fd;
    w->fd = newfd;
    w->file_off = WAL_HDR_BYTES;
    /* Records appended while the segment was made belong to it. */
    w->tail_off = WAL_HDR_BYTES + w->pending.len;
    w->reserved_off = WAL_HDR_BYTES + (no_reserve ? 0 : WAL_RESERVE_BYTES);
    (void)wal_reserve(w, w->tail_off); /* best effort: those records are appended already */
    segs_push(w, first);
out_release:
    w->flushing = 0;
    pthread_cond_broadcast(&w->flushed);
out_locked:
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_unlock(&w->admin_mu);
    if (oldfd >= 0)
        close(oldfd);
    if (rc == 0 && next_seq)
        *next_seq = first;
    return rc;
}

int fn_wal_trim(fn_wal *w, uint64_t upto_seq)
{
    char path[PATH_MAX];
    size_t ndel = 0, gone = 0;
    int rc = 0;

    pthread_mutex_lock(&w->admin_mu);
    /* Segment i holds seqs [segs[i], segs[i+1]); the last one is never
     * deleted, since it is being appended to. */
    while (ndel + 1 < w->nsegs && w->segs[ndel + 1] <= upto_seq)
        ndel++;
    for (gone = 0; gone < ndel; gone++) {
        seg_path(path, sizeof(path), w->dir, w->segs[gone], "");
        if (unlink(path) != 0 && errno != ENOENT) {
            fn_log("write-ahead log: cannot delete %s: %s", path, strerror(errno));
            rc = FN_EIO;
            break;
        }
        fn_crash_point("wal-trim");
    }
    if (gone > 0) {
        memmove(w->segs, w->segs + gone, (w->nsegs - gone) * sizeof(*w->segs));
        w->nsegs -= gone;
        if (fn__fsync_dir(w->dir) != 0) {
            fn_log("write-ahead log: cannot fsync directory %s: %s", w->dir, strerror(errno));
            rc = FN_EIO;
        }
    }
    pthread_mutex_unlock(&w->admin_mu);
    return rc;
}

void fn_wal_stats_get(fn_wal *w, fn_wal_stats *st)
{
    pthread_mutex_lock(&w->mu);
    st->appended_records = w->appended_records;
    st->appended_bytes = w->appended_bytes;
    st->written_bytes = w->written_bytes;
    st->fsyncs = w->fsyncs;
    st->fsync_ns_total = w->fsync_ns_total;
    st->next_seq = w->next_seq;
    st->durable_seq = w->durable_seq;
    st->broken = w->broken;
    st->full = w->full;
    pthread_mutex_unlock(&w->mu);
}

void fn_wal_inject_fsync_failure(fn_wal *w)
{
    pthread_mutex_lock(&w->mu);
    w->inject_fsync_failure = 1;
    pthread_mutex_unlock(&w->mu);
}

static void wal_free(fn_wal *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    pthread_cond_destroy(&w->flushed);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->admin_mu);
    fn_buf_free(&w->pending);
    fn_buf_free(&w->inflight);
    free(w->segs);
    free(w->dir);
    free(w);
}

void fn_wal_close(fn_wal *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (!w->broken && w->next_seq > w->durable_seq)
        (void)wal_flush_locked(w, w->next_seq - 1);
    while (w->flushing)
        pthread_cond_wait(&w->flushed, &w->mu);
    pthread_mutex_unlock(&w->mu);
    wal_free(w);
}

/* ---- recovery -------------------------------------------------------- */

struct wal_recover {
    const char *dir;
    uint64_t from_seq;
    fn_wal_replay_fn replay;
    void *ctx;
    fn_wal_recovery *rec;
    char *errbuf;
    size_t errlen;
    int have_expected;
    uint64_t expected; /* the seq the next record must have */
    uint64_t end_off;  /* in the segment just read: end of its valid records */
    int torn;          /* the last segment must be cut at end_off */
};

/* Returns 1 when a COMMIT record whose group starts after x lies somewhere
 * after x: a later, complete, fsynced group, so the damage at x is not a torn
 * tail.  Every byte offset is tried, since the damage may have broken the
 * lengths that would lead from record to record. */
static int later_group_exists(const uint8_t *m, size_t size, size_t x)
{
    uint32_t len;
    for (size_t y = x + 1; y + REC_HDR_BYTES <= size; y++) {
        const uint8_t *p = m + y;
        uint32_t back = fn_le32_get(p + 20);
        /* The cheap tests first: most offsets fail them. */
        if (!(p[17] & REC_FLAG_COMMIT) || back > y || y - back <= x)
            continue;
        if (rec_whole(m, size, y, &len))
            return 1;
    }
    return 0;
}

/* Counts the whole-looking records in the bytes from x on (for the report). */
static uint64_t count_whole(const uint8_t *m, size_t size, size_t x)
{
    uint64_t n = 0, budget = WAL_TORN_COUNT_BUDGET_BYTES;
    size_t y = x;
    uint32_t len;
    while (y + REC_HDR_BYTES <= size) {
        uint32_t claimed = fn_le32_get(m + y);
        if (claimed <= FN_WAL_MAX_RECORD && size - y - REC_HDR_BYTES >= claimed) {
            if (budget < claimed)
                break;
            budget -= claimed;
            if (rec_whole(m, size, y, &len)) {
                n++;
                y += REC_HDR_BYTES + (size_t)len;
                continue;
            }
        }
        y++;
    }
    return n;
}

/* Copies s into out (outlen bytes), keeping its end when it is too long,
 * since a path's end (the file name) says the most. */
static void copy_tail(char *out, size_t outlen, const char *s)
{
    size_t n = strlen(s);
    if (n >= outlen) {
        s += n - (outlen - 1);
        n = outlen - 1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static const char CORRUPT_ADVICE[] = "refusing to start. Restore from a backup or move the file away to accept the loss.";
static const char CORRUPT_ADVICE_MID[] =
    "refusing to start. Restore from a backup, or move this file and every later segment away to accept the loss.";

/* Reads one segment, replaying its records; fills r->end_off and r->torn.
 * Returns 0, FN_ECORRUPT, FN_EIO or the callback's value. */
static int recover_segment(struct wal_recover *r, uint64_t first_seq, int is_last)
{
    char path[PATH_MAX];
    struct stat st;
    uint8_t *m = MAP_FAILED;
    size_t size = 0, off;
    int fd = -1, rc = 0;
    uint32_t len;

    seg_path(path, sizeof(path), r->dir, first_seq, "");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fn__set_err(r->errbuf, r->errlen, "cannot read log segment %s: %s", path, strerror(errno));
        rc = FN_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        fn__set_err(r->errbuf, r->errlen, "log segment %s is too large to map", path);
        rc = FN_EIO;
        goto out;
    }
    size = (size_t)st.st_size;
    if (size < WAL_HDR_BYTES) {
        fn__set_err(r->errbuf, r->errlen, "log segment %s is corrupt: it is %zu bytes, shorter than its header; %s", path,
                size, is_last ? CORRUPT_ADVICE : CORRUPT_ADVICE_MID);
        rc = FN_ECORRUPT;
        goto out;
    }
    m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        fn__set_err(r->errbuf, r->errlen, "cannot map log segment %s: %s", path, strerror(errno));
        rc = FN_EIO;
        goto out;
    }
    if (memcmp(m, WAL_MAGIC, 8) != 0 || fn_le32_get(m + 8) != WAL_VERSION ||
        fn_le32_get(m + 28) != fn_crc32c(0, m, 28) || fn_le64_get(m + 16) != first_seq || first_seq == 0) {
        fn__set_err(r->errbuf, r->errlen,
                "log segment %s is corrupt: its header is damaged or does not match its name; %s", path,
                is_last ? CORRUPT_ADVICE : CORRUPT_ADVICE_MID);
        rc = FN_ECORRUPT;
        goto out;
    }
    r->rec->segments++;

    if (r->have_expected && first_seq < r->expected) {
        fn__set_err(r->errbuf, r->errlen,
                "log segment %s is corrupt: it starts at seq %" PRIu64 " but the previous segment already ends at "
                "seq %" PRIu64 "; refusing to start.",
                path, first_seq, r->expected - 1);
        rc = FN_ECORRUPT;
        goto out;
    }
    if ((!r->have_expected || first_seq > r->expected) && first_seq > r->from_seq) {
        fn__set_err(r->errbuf, r->errlen,
                "log segment %s starts at seq %" PRIu64 " but records from seq %" PRIu64
                " on are needed (the snapshot ends before it) and missing; refusing to start.",
                path, first_seq, r->have_expected ? FN_MAX(r->expected, r->from_seq) : r->from_seq);
        rc = FN_ECORRUPT;
        goto out;
    }
    r->have_expected = 1;
    r->expected = first_seq;

    off = WAL_HDR_BYTES;
    while (off < size) {
        fn_wal_record wr;
        if (!rec_whole(m, size, off, &len))
            break;
        wr.seq = fn_le64_get(m + off + 8);
        if (wr.seq != r->expected) {
            fn__set_err(r->errbuf, r->errlen,
                    "log segment %s is corrupt at offset %zu: a whole record has seq %" PRIu64 " where seq %" PRIu64
                    " belongs; %s",
                    path, off, wr.seq, r->expected, is_last ? CORRUPT_ADVICE : CORRUPT_ADVICE_MID);
            rc = FN_ECORRUPT;
            goto out;
        }
        if (wr.seq < r->from_seq) {
            r->rec->records_skipped++;
        } else {
            wr.type = m[off + 16];
            wr.len = len;
            wr.data = m + off + REC_HDR_BYTES;
            rc = r->replay ? r->replay(r->ctx, &wr) : 0;
            if (rc != 0) {
                fn__set_err(r->errbuf, r->errlen, "replaying log record seq %" PRIu64 " from %s failed (%d)", wr.seq,
                        path, rc);
                goto out;
            }
            r->rec->records_replayed++;
        }
        r->expected++;
        off += REC_HDR_BYTES + (size_t)len;
    }
    r->end_off = off;
    r->torn = 0;
    if (off == size)
        goto out;

    if (!is_last) {
        fn__set_err(r->errbuf, r->errlen,
                "log segment %s is corrupt at offset %zu (record seq %" PRIu64 "): later segments follow it; %s", path,
                off, r->expected, CORRUPT_ADVICE_MID);
        rc = FN_ECORRUPT;
        goto out;
    }
    if (later_group_exists(m, size, off)) {
        fn__set_err(r->errbuf, r->errlen,
                "log segment %s is corrupt at offset %zu (record seq %" PRIu64
                "): a durable write group follows the damage; %s",
                path, off, r->expected, CORRUPT_ADVICE);
        rc = FN_ECORRUPT;
        goto out;
    }
    r->torn = 1;
    r->rec->torn_bytes = size - off;
    r->rec->torn_records = count_whole(m, size, off);
    r->rec->torn_offset = off;
    copy_tail(r->rec->torn_file, sizeof(r->rec->torn_file), path);

out:
    if (m != MAP_FAILED)
        munmap(m, size);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the segments in w->dir into w->segs, ascending. */
static int list_segments(fn_wal *w, char *errbuf, size_t errlen)
{
    DIR *d = opendir(w->dir);
    struct dirent *e;
    uint64_t first;
    if (!d) {
        fn__set_err(errbuf, errlen, "cannot list log directory %s: %s", w->dir, strerror(errno));
        return FN_EIO;
    }
    while ((e = readdir(d)) != NULL)
        if (fn__seq_name_parse(e->d_name, "wal-", ".log", &first))
            segs_push(w, first);
    closedir(d);
    if (w->nsegs > 1)
        qsort(w->segs, w->nsegs, sizeof(*w->segs), cmp_u64);
    return 0;
}

/* Removes the *.log.tmp files left by a crash during segment creation. */
static void remove_stray_tmp(const char *dir)
{
    char path[PATH_MAX];
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (!is_seg_tmp_name(e->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (unlink(path) == 0)
            fn_log("write-ahead log: removed %s, left by an interrupted segment creation", path);
    }
    closedir(d);
}

int fn_wal_open(fn_wal **out, const char *dir, uint64_t from_seq, fn_wal_replay_fn replay, void *ctx,
                fn_wal_recovery *rec, char *errbuf, size_t errlen)
{
    fn_wal_recovery local_rec;
    struct wal_recover r;
    char path[PATH_MAX];
    fn_wal *w = NULL;
    int rc = 0, fd;

    *out = NULL;
    if (!rec)
        rec = &local_rec;
    memset(rec, 0, sizeof(*rec));
    if (from_seq == 0)
        from_seq = 1;
    if (strlen(dir) + SEG_NAME_BYTES + 8 >= PATH_MAX) {
        fn__set_err(errbuf, errlen, "log directory path is too long: %s", dir);
        return FN_EIO;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fn__set_err(errbuf, errlen, "cannot create log directory %s: %s", dir, strerror(errno));
        return FN_EIO;
    }
    /* Build the CRC tables now, while only one thread uses the log, so that
     * concurrent first appends do not race to build them. */
    (void)fn_crc32c(0, "", 0);

    w = fn_xcalloc(1, sizeof(*w));
    w->dir = fn_xstrdup(dir);
    w->fd = -1;
    pthread_mutex_init(&w->admin_mu, NULL);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->flushed, NULL);
    fn_buf_init(&w->pending, 0);
    fn_buf_init(&w->inflight, 0);

    rc = list_segments(w, errbuf, errlen);
    if (rc != 0)
        goto err;

    memset(&r, 0, sizeof(r));
    r.dir = dir;
    r.from_seq = from_seq;
    r.replay = replay;
    r.ctx = ctx;
    r.rec = rec;
    r.errbuf = errbuf;
    r.errlen = errlen;
    for (size_t i = 0; i < w->nsegs; i++) {
        rc = recover_segment(&r, w->segs[i], i + 1 == w->nsegs);
        if (rc != 0)
            goto err;
    }

    if (w->nsegs > 0) {
        /* Everything is validated; only now may the disk change. */
        seg_path(path, sizeof(path), dir, w->segs[w->nsegs - 1], "");
        w->fd = open(path, O_RDWR | O_CLOEXEC);
        if (w->fd < 0)
            goto err_io;
        if (r.torn) {
            if (ftruncate(w->fd, (off_t)r.end_off) != 0 || fsync(w->fd) != 0)
                goto err_io;
        } else if (fdatasync(w->fd) != 0) {
            /* The previous process may have written records it never synced
             * before it died; they must be durable before later ones are. */
            goto err_io;
        }
        w->file_off = r.end_off;
        w->next_seq = r.expected;
    }
    if (w->nsegs == 0 || w->next_seq < from_seq) {
        if (w->nsegs > 0)
            fn_log("write-ahead log in %s ends at seq %" PRIu64 " but the snapshot holds every seq below %" PRIu64
                   "; starting a new segment there (the older segments can be trimmed)",
                   dir, w->next_seq - 1, from_seq);
        fd = seg_create(dir, from_seq, 0, NULL, errbuf, errlen);
        if (fd < 0) {
            rc = FN_EIO;
            goto err;
        }
        if (w->fd >= 0)
            close(w->fd);
        w->fd = fd;
        w->file_off = WAL_HDR_BYTES;
        w->next_seq = from_seq;
        segs_push(w, from_seq);
    }
    w->durable_seq = w->next_seq;
    w->tail_off = w->reserved_off = w->file_off; /* what lies reserved past the end is unknown */
    remove_stray_tmp(dir);
    *out = w;
    return 0;

err_io:
    fn__set_err(errbuf, errlen, "cannot prepare log segment %s for appending: %s", path, strerror(errno));
    rc = FN_EIO;
err:
    wal_free(w);
    return rc;
}
