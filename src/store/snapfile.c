/*
 * snapfile.c — snapshot files behind snapfile.h: framing, zstd streaming,
 * verification and the write-fsync-rename-fsync dance.
 *
 * FILE "snap-<seq as 16 lowercase hex digits>.fsnap" (all integers little-endian)
 *
 * Header, 32 bytes:
 *      0   8  magic "FNSNAP01"
 *      8   4  format version, 1
 *     12   4  reserved, 0
 *     16   8  seq: every log record with a lower seq is in the snapshot; it
 *             must equal the seq in the file name
 *     24   4  reserved, 0
 *     28   4  CRC-32C of bytes [0, 28)
 *
 * Body: exactly one zstd frame holding the state's bytes, with the frame's
 * content checksum (ZSTD_c_checksumFlag) so that decompression itself
 * verifies the raw bytes.  Compressed at level 3 (or the writer's
 * fn_snapw_set_level), with two worker threads when the library supports
 * them.
 *
 * Trailer, 32 bytes, at the very end of the file:
 *      0   8  compressed_bytes: the size of the body
 *      8   8  raw_bytes: the size of the state before compression
 *     16   4  CRC-32C of the body (the compressed bytes)
 *     20   4  reserved, 0
 *     24   8  magic "FNSNEND1"
 *
 * A snapshot is valid if and only if its header is intact and names the same
 * seq as its file name, the file is exactly 32 + compressed_bytes + 32 bytes,
 * the trailer's magic is right and the body's CRC matches.  fn_snapr_open()
 * checks all of that (reading the body once) before it returns a snapshot,
 * so that a damaged newest snapshot is skipped in favour of an older one
 * instead of failing halfway through loading the state.  The frame's own
 * checksum and raw_bytes are checked again as the state is read.
 *
 * Writing goes to "<name>.tmp", through a 1 MiB output buffer (zstd already
 * gathers small inputs, so the file sees large writes only); commit fsyncs
 * it, renames it into place, fsyncs the directory and only then deletes
 * older snapshots, so there is a whole snapshot on disk at every moment.
 */
#include "store/snapfile.h"

#include "common/buf.h"
#include "common/crash.h"
#include "common/fn.h"
#include "store/fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define SNAP_MAGIC "FNSNAP01"
#define SNAP_END_MAGIC "FNSNEND1"
#define SNAP_VERSION 1u
#define SNAP_HDR_BYTES 32u
#define SNAP_TRAILER_BYTES 32u
#define SNAP_ZSTD_LEVEL 3
#define SNAP_ZSTD_WORKERS 2
#define SNAP_OUT_BUF_BYTES (1u << 20)
#define SNAP_IN_BUF_BYTES (1u << 20)

struct fn_snapw {
    char *dir;
    char *tmp_path;
    char *path;
    uint64_t seq;
    int fd;
    ZSTD_CCtx *cctx;
    uint8_t *obuf;       /* SNAP_OUT_BUF_BYTES; bytes [0, olen) are not yet written */
    size_t olen;
    uint64_t raw_bytes;  /* state bytes taken in */
    uint64_t comp_bytes; /* compressed bytes produced */
    uint32_t comp_crc;   /* CRC-32C of the compressed bytes so far */
    int failed;          /* 1 after any error: the snapshot cannot be committed */
};

struct fn_snapr {
    char *path;
    int fd;
    ZSTD_DCtx *dctx;
    uint8_t *ibuf; /* SNAP_IN_BUF_BYTES */
    ZSTD_inBuffer in;
    uint64_t comp_off;  /* file offset of the next body byte to read into ibuf */
    uint64_t comp_end;  /* file offset where the body ends (the trailer starts) */
    uint64_t raw_bytes; /* from the trailer */
    uint64_t raw_read;  /* state bytes handed to the caller */
    int frame_done;     /* 1 once zstd has seen the frame's end and checksum */
};


static char *snap_path(const char *dir, uint64_t seq, const char *suffix)
{
    char *p = NULL;
    if (asprintf(&p, "%s/snap-%016" PRIx64 ".fsnap%s", dir, seq, suffix) < 0)
        p = fn_xstrdup(""); /* unreachable in practice; fn_xmalloc's policy would abort */
    return p;
}


static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}




/* ---- writing --------------------------------------------------------- */

static int snapw_flush(fn_snapw *s)
{
    if (s->olen > 0 && fn__write_all(s->fd, s->obuf, s->olen) != 0) {
        fn_log("snapshot %s: write failed: %s", s->tmp_path, strerror(errno));
        s->failed = 1;
        return FN_EIO;
    }
    s->olen = 0;
    return 0;
}

/* Runs one compression step into obuf, accounting for the compressed bytes
 * it produced and writing obuf out when it is full.  Returns zstd's "bytes
 * left to flush" (0 when done), or (size_t)-1 after an error. */
static size_t snapw_step(fn_snapw *s, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    ZSTD_outBuffer out = {s->obuf, SNAP_OUT_BUF_BYTES, s->olen};
    size_t left = ZSTD_compressStream2(s->cctx, &out, in, mode);
    size_t produced = out.pos - s->olen;

    if (ZSTD_isError(left)) {
        fn_log("snapshot %s: compression failed: %s", s->tmp_path, ZSTD_getErrorName(left));
        s->failed = 1;
        return (size_t)-1;
    }
    s->comp_crc = fn_crc32c(s->comp_crc, s->obuf + s->olen, produced);
    s->comp_bytes += produced;
    s->olen = out.pos;
    if (s->olen == SNAP_OUT_BUF_BYTES && snapw_flush(s) != 0)
        return (size_t)-1;
    return left;
}

static void snapw_free(fn_snapw *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    ZSTD_freeCCtx(s->cctx);
    free(s->obuf);
    free(s->dir);
    free(s->tmp_path);
    free(s->path);
    free(s);
}

int fn_snapw_open(fn_snapw **out, const char *dir, uint64_t seq, char *errbuf, size_t errlen)
{
    fn_snapw *s = fn_xcalloc(1, sizeof(*s));
    size_t zr;

    *out = NULL;
    s->fd = -1;
    s->dir = fn_xstrdup(dir);
    s->seq = seq;
    s->path = snap_path(dir, seq, "");
    s->tmp_path = snap_path(dir, seq, ".tmp");
    s->obuf = fn_xmalloc(SNAP_OUT_BUF_BYTES);

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fn__set_err(errbuf, errlen, "cannot create snapshot directory %s: %s", dir, strerror(errno));
        goto err;
    }
    s->cctx = ZSTD_createCCtx();
    if (!s->cctx) {
        fn__set_err(errbuf, errlen, "cannot create a zstd compression context");
        goto err;
    }
    zr = ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, SNAP_ZSTD_LEVEL);
    if (!ZSTD_isError(zr))
        zr = ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_checksumFlag, 1);
    if (ZSTD_isError(zr)) {
        fn__set_err(errbuf, errlen, "cannot configure zstd: %s", ZSTD_getErrorName(zr));
        goto err;
    }
    /* A library built without threads refuses this; one thread then does it. */
    (void)ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_nbWorkers, SNAP_ZSTD_WORKERS);

    s->fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        fn__set_err(errbuf, errlen, "cannot create snapshot %s: %s", s->tmp_path, strerror(errno));
        goto err;
    }
    memcpy(s->obuf, SNAP_MAGIC, 8);
    fn_le32_put(s->obuf + 8, SNAP_VERSION);
    fn_le32_put(s->obuf + 12, 0);
    fn_le64_put(s->obuf + 16, seq);
    fn_le32_put(s->obuf + 24, 0);
    fn_le32_put(s->obuf + 28, fn_crc32c(0, s->obuf, 28));
    s->olen = SNAP_HDR_BYTES;
    *out = s;
    return 0;

err:
    if (s->fd >= 0)
        unlink(s->tmp_path);
    snapw_free(s);
    return FN_EIO;
}

int fn_snapw_set_level(fn_snapw *s, int level)
{
    return ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, level)) ? FN_EIO : 0;
}

int fn_snapw_write(fn_snapw *s, const void *p, size_t n)
{
    ZSTD_inBuffer in = {p, n, 0};
    if (s->failed)
        return FN_EIO;
    /* With worker threads zstd may take the input in several calls. */
    while (in.pos < in.size)
        if (snapw_step(s, &in, ZSTD_e_continue) == (size_t)-1)
            return FN_EIO;
    s->raw_bytes += n;
    return 0;
}

/* Deletes the snapshots older than seq; failures are only logged, since the
 * new snapshot is already in place and an old one left behind is harmless. */
static void delete_older(const char *dir, uint64_t seq)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    uint64_t other;
    int deleted = 0;
    if (!d) {
        fn_log("snapshot: cannot list %s to delete old snapshots: %s", dir, strerror(errno));
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char *path;
        if (!fn__seq_name_parse(e->d_name, "snap-", ".fsnap", &other) || other >= seq)
            continue;
        path = snap_path(dir, other, "");
        if (unlink(path) == 0) {
            deleted = 1;
            fn_crash_point("snap-delete-old");
        } else
            fn_log("snapshot: cannot delete old snapshot %s: %s", path, strerror(errno));
        free(path);
    }
    closedir(d);
    if (deleted && fn__fsync_dir(dir) != 0)
        fn_log("snapshot: cannot fsync directory %s: %s", dir, strerror(errno));
}

int fn_snapw_commit(fn_snapw *s, char *errbuf, size_t errlen)
{
    ZSTD_inBuffer none = {NULL, 0, 0};
    uint8_t *t;
    size_t left;
    int fd, renamed = 0;

    if (s->failed) {
        fn__set_err(errbuf, errlen, "snapshot %s was not written completely (see the log)", s->tmp_path);
        goto err;
    }
    do {
        left = snapw_step(s, &none, ZSTD_e_end);
        if (left == (size_t)-1) {
            fn__set_err(errbuf, errlen, "cannot finish snapshot %s (see the log)", s->tmp_path);
            goto err;
        }
    } while (left != 0);

    /* The body goes out before the trailer, so that the crash point finds a
     * .tmp file with everything but its trailer. */
    if (snapw_flush(s) != 0)
        goto err_errno;
    fn_crash_point("snap-write");
    t = s->obuf + s->olen;
    fn_le64_put(t, s->comp_bytes);
    fn_le64_put(t + 8, s->raw_bytes);
    fn_le32_put(t + 16, s->comp_crc);
    fn_le32_put(t + 20, 0);
    memcpy(t + 24, SNAP_END_MAGIC, 8);
    s->olen += SNAP_TRAILER_BYTES;
    if (snapw_flush(s) != 0)
        goto err_errno;
    if (fsync(s->fd) != 0)
        goto err_errno;
    fn_crash_point("snap-before-rename");
    fd = s->fd;
    s->fd = -1;
    if (close(fd) != 0)
        goto err_errno;
    if (rename(s->tmp_path, s->path) != 0)
        goto err_errno;
    renamed = 1;
    fn_crash_point("snap-before-dirsync");
    if (fn__fsync_dir(s->dir) != 0)
        goto err_errno;
    delete_older(s->dir, s->seq);
    snapw_free(s);
    return 0;

err_errno:
    fn__set_err(errbuf, errlen, "cannot write snapshot %s: %s", renamed ? s->path : s->tmp_path, strerror(errno));
err:
    /* After the rename the file is whole and valid; only its directory entry
     * may not be durable yet, so it stays (the caller keeps the log). */
    if (!renamed)
        unlink(s->tmp_path);
    snapw_free(s);
    return FN_EIO;
}

void fn_snapw_abort(fn_snapw *s)
{
    if (!s)
        return;
    unlink(s->tmp_path);
    snapw_free(s);
}

/* ---- reading --------------------------------------------------------- */

/*
 * Checks one snapshot file completely (see the opening comment).  Returns
 * its fd, open for reading, with the trailer's sizes; or -1 with the reason
 * in why.  buf (SNAP_IN_BUF_BYTES) is scratch space for the body's CRC.
 */
static int snap_check(const char *path, uint64_t seq, uint8_t *buf, uint64_t *comp_bytes, uint64_t *raw_bytes,
                      char *why, size_t whylen)
{
    uint8_t h[SNAP_HDR_BYTES], t[SNAP_TRAILER_BYTES];
    struct stat st;
    uint64_t size, comp, off;
    uint32_t crc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0)
        goto err_errno;
    size = (uint64_t)st.st_size;
    if (size < SNAP_HDR_BYTES + SNAP_TRAILER_BYTES) {
        fn__set_err(why, whylen, "it is %" PRIu64 " bytes, too short for a header and a trailer", size);
        goto err;
    }
    if (fn__pread_all(fd, h, sizeof(h), 0) != 0 || fn__pread_all(fd, t, sizeof(t), size - SNAP_TRAILER_BYTES) != 0)
        goto err_errno;
    if (memcmp(h, SNAP_MAGIC, 8) != 0 || fn_le32_get(h + 8) != SNAP_VERSION ||
        fn_le32_get(h + 28) != fn_crc32c(0, h, 28)) {
        fn__set_err(why, whylen, "its header is damaged");
        goto err;
    }
    if (fn_le64_get(h + 16) != seq) {
        fn__set_err(why, whylen, "its header names seq %" PRIu64 ", not the seq in its name", fn_le64_get(h + 16));
        goto err;
    }
    if (memcmp(t + 24, SNAP_END_MAGIC, 8) != 0) {
        fn__set_err(why, whylen, "it has no trailer (the file is truncated or damaged at the end)");
        goto err;
    }
    comp = fn_le64_get(t);
    if (comp != size - SNAP_HDR_BYTES - SNAP_TRAILER_BYTES) {
        fn__set_err(why, whylen, "its trailer says %" PRIu64 " compressed bytes but the file holds %" PRIu64, comp,
                size - SNAP_HDR_BYTES - SNAP_TRAILER_BYTES);
        goto err;
    }
    for (off = 0; off < comp;) {
        size_t n = (size_t)FN_MIN((uint64_t)SNAP_IN_BUF_BYTES, comp - off);
        if (fn__pread_all(fd, buf, n, SNAP_HDR_BYTES + off) != 0)
            goto err_errno;
        crc = fn_crc32c(crc, buf, n);
        off += n;
    }
    if (crc != fn_le32_get(t + 16)) {
        fn__set_err(why, whylen, "the checksum of its compressed body does not match");
        goto err;
    }
    *comp_bytes = comp;
    *raw_bytes = fn_le64_get(t + 8);
    return fd;

err_errno:
    fn__set_err(why, whylen, "it cannot be read: %s", errno ? strerror(errno) : "unexpected end of file");
err:
    if (fd >= 0)
        close(fd);
    return -1;
}

static int cmp_u64_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

static void snapr_free(fn_snapr *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    ZSTD_freeDCtx(s->dctx);
    free(s->ibuf);
    free(s->path);
    free(s);
}

int fn_snapr_open(fn_snapr **out, const char *dir, uint64_t *seq, char *errbuf, size_t errlen)
{
    DIR *d = NULL;
    struct dirent *e;
    uint64_t *seqs = NULL, comp = 0, raw = 0;
    size_t n = 0, cap = 0, i;
    char why[256], first_why[256] = "";
    char *path = NULL, *first_path = NULL;
    fn_snapr *s = NULL;
    int rc = 0, fd = -1;

    *out = NULL;
    d = opendir(dir);
    if (!d && errno == ENOENT)
        return 1;
    if (!d) {
        fn__set_err(errbuf, errlen, "cannot list snapshot directory %s: %s", dir, strerror(errno));
        return FN_EIO;
    }
    while ((e = readdir(d)) != NULL) {
        uint64_t v;
        if (fn__seq_name_parse(e->d_name, "snap-", ".fsnap", &v)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                seqs = fn_xrealloc(seqs, cap * sizeof(*seqs));
            }
            seqs[n++] = v;
        } else if (ends_with(e->d_name, ".fsnap.tmp")) {
            /* A snapshot whose writer died before committing it; this runs
             * at startup, before any writer of this process exists. */
            char *tmp;
            if (asprintf(&tmp, "%s/%s", dir, e->d_name) >= 0) {
                if (unlink(tmp) == 0)
                    fn_log("snapshot: removed %s, left by an interrupted snapshot", tmp);
                free(tmp);
            }
        }
    }
    closedir(d);
    if (n == 0) {
        fn__set_err(errbuf, errlen, "no snapshot in %s", dir);
        rc = 1;
        goto out;
    }
    qsort(seqs, n, sizeof(*seqs), cmp_u64_desc);

    s = fn_xcalloc(1, sizeof(*s));
    s->fd = -1;
    s->ibuf = fn_xmalloc(SNAP_IN_BUF_BYTES);
    for (i = 0; i < n && fd < 0; i++) {
        free(path);
        path = snap_path(dir, seqs[i], "");
        fd = snap_check(path, seqs[i], s->ibuf, &comp, &raw, why, sizeof(why));
        if (fd >= 0)
            break;
        fn_log("snapshot %s is unusable and skipped: %s", path, why);
        if (!first_path) {
            first_path = fn_xstrdup(path);
            snprintf(first_why, sizeof(first_why), "%s", why);
        }
    }
    if (fd < 0) {
        fn__set_err(errbuf, errlen,
                "none of the %zu snapshot files in %s is usable (the newest, %s: %s); refusing to start. "
                "Restore from a backup.",
                n, dir, first_path, first_why);
        rc = FN_ECORRUPT;
        goto out;
    }
    s->fd = fd;
    s->path = path;
    path = NULL;
    s->dctx = ZSTD_createDCtx();
    if (!s->dctx) {
        fn__set_err(errbuf, errlen, "cannot create a zstd decompression context");
        rc = FN_EIO;
        goto out;
    }
    s->in.src = s->ibuf;
    s->in.size = s->in.pos = 0;
    s->comp_off = SNAP_HDR_BYTES;
    s->comp_end = SNAP_HDR_BYTES + comp;
    s->raw_bytes = raw;
    if (seq)
        *seq = seqs[i];
    *out = s;
    s = NULL;

out:
    snapr_free(s);
    free(path);
    free(first_path);
    free(seqs);
    return rc;
}

/* Moves the next piece of the body into ibuf once zstd has used up the last. */
static int snapr_refill(fn_snapr *s)
{
    size_t n;
    if (s->in.pos < s->in.size || s->comp_off >= s->comp_end)
        return 0;
    n = (size_t)FN_MIN((uint64_t)SNAP_IN_BUF_BYTES, s->comp_end - s->comp_off);
    if (fn__pread_all(s->fd, s->ibuf, n, s->comp_off) != 0) {
        fn_log("snapshot %s: read failed: %s", s->path, errno ? strerror(errno) : "unexpected end of file");
        return FN_ECORRUPT;
    }
    s->comp_off += n;
    s->in.size = n;
    s->in.pos = 0;
    return 0;
}

/* Decompresses into out until it is full or the frame ends.  Returns 0 or
 * FN_ECORRUPT (logged). */
static int snapr_fill(fn_snapr *s, ZSTD_outBuffer *out)
{
    while (out->pos < out->size && !s->frame_done) {
        size_t in_before, out_before = out->pos, r;
        if (snapr_refill(s) != 0)
            return FN_ECORRUPT;
        in_before = s->in.pos;
        r = ZSTD_decompressStream(s->dctx, out, &s->in);
        if (ZSTD_isError(r)) {
            fn_log("snapshot %s: cannot decompress: %s", s->path, ZSTD_getErrorName(r));
            return FN_ECORRUPT;
        }
        if (r == 0)
            s->frame_done = 1;
        else if (s->in.pos == in_before && out->pos == out_before && s->comp_off >= s->comp_end &&
                 s->in.pos == s->in.size) {
            fn_log("snapshot %s: the compressed stream ends before its frame does", s->path);
            return FN_ECORRUPT;
        }
    }
    return 0;
}

int fn_snapr_read(fn_snapr *s, void *p, size_t n)
{
    ZSTD_outBuffer out = {p, n, 0};
    if (snapr_fill(s, &out) != 0)
        return FN_ECORRUPT;
    s->raw_read += out.pos;
    if (out.pos < n) {
        fn_log("snapshot %s: the state ends after %" PRIu64 " bytes but more was expected", s->path, s->raw_read);
        return FN_ECORRUPT;
    }
    return 0;
}

int fn_snapr_close(fn_snapr *s)
{
    uint8_t extra[64];
    ZSTD_outBuffer out = {extra, sizeof(extra), 0};
    int rc = 0;

    /* Run zstd to the frame's end, which is where it checks the content
     * checksum; any byte it still produces is state the caller never read. */
    if (snapr_fill(s, &out) != 0) {
        rc = FN_ECORRUPT;
    } else if (out.pos > 0) {
        fn_log("snapshot %s: the state holds more than the %" PRIu64 " bytes that were read", s->path, s->raw_read);
        rc = FN_ECORRUPT;
    } else if (!s->frame_done) {
        fn_log("snapshot %s: the compressed frame does not end", s->path);
        rc = FN_ECORRUPT;
    } else if (s->in.pos != s->in.size || s->comp_off != s->comp_end) {
        fn_log("snapshot %s: bytes follow the compressed frame", s->path);
        rc = FN_ECORRUPT;
    } else if (s->raw_read != s->raw_bytes) {
        fn_log("snapshot %s: %" PRIu64 " bytes of state were read but its trailer says %" PRIu64, s->path,
               s->raw_read, s->raw_bytes);
        rc = FN_ECORRUPT;
    }
    snapr_free(s);
    return rc;
}

void fn_snapr_abort(fn_snapr *s)
{
    snapr_free(s);
}
