/*
 * engine.c — the write path (lock, check, log, apply, sync), recovery at
 * start-up, authentication, and snapshots.
 *
 * Data dir layout:
 *   LOCK         held with flock() while a server uses the dir
 *   token.key    32 random bytes keying token hashes (mode 0600)
 *   admin.token  the generated admin token (mode 0600), unless
 *                FREIGHTD_ADMIN_TOKEN is set
 *   wal/         log segments (wal.c)
 *   snap/        snapshots (snapfile.c, state_snap.c)
 */
#include "core/engine.h"
#include "common/crash.h"
#include "stats/analytics.h"
#include "common/fn.h"
#include "store/snapfile.h"
#include "store/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Sanitizer builds write snapshots without fork (see take_snapshot). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FN_SNAPSHOT_IN_PROCESS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FN_SNAPSHOT_IN_PROCESS 1
#endif
#endif
#ifndef FN_SNAPSHOT_IN_PROCESS
#define FN_SNAPSHOT_IN_PROCESS 0
#endif

struct fn_engine {
    fn_engine_config cfg;
    char *data_dir, *wal_dir, *snap_dir;
    int lock_fd;
    pthread_rwlock_t lock;       /* guards state; writers also append to the log under it */
    fn_state *state;
    fn_wal *wal;
    uint8_t token_key[FN_TOKEN_KEY_BYTES];
    uint8_t admin_hash[FN_TOKEN_HASH_BYTES];

    /* Snapshots: one background thread takes them when asked or when the log
     * has grown by cfg.snapshot_log_bytes since the last one. */
    pthread_t snap_thread;
    pthread_mutex_t snap_mu;
    pthread_cond_t snap_cv;
    int snap_stop;
    uint64_t snap_requested;     /* bumped by fn_engine_snapshot */
    uint64_t snap_done;          /* requests served so far */
    int snap_last_rc;
    uint64_t snap_log_bytes_at;  /* log bytes at the last snapshot */
    uint64_t snapshots, snapshot_failures, last_snapshot_seq, last_snapshot_ms;
    uint64_t snap_retry_at_ns;   /* after a failure, automatic snapshots wait until then */
    uint64_t snap_backoff_ns;    /* doubles after each failure, up to 5 minutes */
    int64_t sampled_hour;        /* the hour of the last analytics sample logged (under the write lock) */
};

static int fail(fn_result *res, int err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(fn_result *res, int err, const char *field, const char *fmt, ...)
{
    va_list ap;
    res->err = err;
    res->field = field;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
        va_end(ap);
    } else {
        snprintf(res->msg, sizeof(res->msg), "%s", fn_strerror(err));
    }
    return err;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = fn_xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int ensure_dir(const char *p, char *errbuf, size_t errlen)
{
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "cannot create directory %s: %s", p, strerror(errno));
        return FN_EIO;
    }
    if (access(p, R_OK | W_OK | X_OK) != 0) {
        snprintf(errbuf, errlen, "data directory %s is not readable and writable: %s", p, strerror(errno));
        return FN_EIO;
    }
    return 0;
}

/* The admin token comes from the environment, or from <data-dir>/admin.token,
 * which is generated (0600) on first start.  Only its hash is kept. */
static int load_admin(fn_engine *e, char *errbuf, size_t errlen)
{
    char tok[256] = {0};
    char *path = path_join(e->data_dir, "admin.token");
    int fd, rc = 0;
    ssize_t n;

    if (e->cfg.admin_token && *e->cfg.admin_token) {
        if (strlen(e->cfg.admin_token) < 16 || strlen(e->cfg.admin_token) > 200) {
            snprintf(errbuf, errlen, "FREIGHTD_ADMIN_TOKEN must be 16 to 200 characters");
            rc = FN_EINVAL;
            goto out;
        }
        fn_token_hash(e->token_key, e->cfg.admin_token, e->admin_hash);
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, tok, sizeof(tok) - 1);
        close(fd);
        while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r'))
            tok[--n] = '\0';
        if (n < 16) {
            snprintf(errbuf, errlen, "%s does not hold a token", path);
            rc = FN_EIO;
            goto out;
        }
    } else {
        fn_token_generate(tok);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, tok, strlen(tok)) != (ssize_t)strlen(tok) || write(fd, "\n", 1) != 1 ||
            fsync(fd) != 0) {
            snprintf(errbuf, errlen, "cannot write %s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            rc = FN_EIO;
            goto out;
        }
        close(fd);
    }
    fn_token_hash(e->token_key, tok, e->admin_hash);
out:
    sodium_memzero(tok, sizeof(tok));
    free(path);
    return rc;
}

static int replay_one(void *ctx, const fn_wal_record *rec)
{
    fn_engine *e = ctx;
    if (fn_state_apply(e->state, rec->type, rec->data, rec->len) != 0) {
        fn_log("log record %llu (type %u, %u bytes) does not apply to the state; refusing to start",
               (unsigned long long)rec->seq, rec->type, rec->len);
        return FN_ECORRUPT;
    }
    return 0;
}

/* Writes the state as of seq into snap/.  Runs in a forked child (or in the
 * process itself at shutdown, when nothing else runs). */
static int write_snapshot(fn_engine *e, uint64_t seq)
{
    char err[256] = {0};
    fn_snapw *w;
    int rc = fn_snapw_open(&w, e->snap_dir, seq, err, sizeof(err));
    if (rc != 0) {
        fn_log("snapshot: %s", err);
        return rc;
    }
    rc = fn_state_snap_save(e->state, w);
    if (rc != 0) {
        fn_snapw_abort(w);
        fn_log("snapshot: writing the state failed");
        return rc;
    }
    rc = fn_snapw_commit(w, err, sizeof(err));
    if (rc != 0)
        fn_log("snapshot: %s", err);
    return rc;
}

/* Takes one snapshot: rotate the log under the write lock (so the snapshot
 * holds exactly the records below the new segment), fork, and let the child
 * write the copy of memory it got; then trim the log. */
static int take_snapshot(fn_engine *e)
{
    uint64_t seq, t0 = fn_mono_ns();
    fn_wal_stats ws;
    pid_t pid;
    int status = 0, rc;

    pthread_rwlock_wrlock(&e->lock);
    rc = fn_wal_rotate(e->wal, &seq);
    if (rc != 0) {
        pthread_rwlock_unlock(&e->lock);
        return rc;
    }
    fn_wal_stats_get(e->wal, &ws);
#if FN_SNAPSHOT_IN_PROCESS
    /* Sanitizer builds: their allocators are not safe to use in a child forked
     * from a threaded process, so the snapshot is written here, holding the
     * write lock (writes and reads wait; fine for tests, not for production). */
    rc = write_snapshot(e, seq);
    pthread_rwlock_unlock(&e->lock);
    pid = 0;
    status = rc == 0 ? 0 : 1 << 8; /* as a child's exit status would say */
#else
    pid = fork();
    if (pid == 0) {
        /* The child must not outlive the server holding the data dir's lock:
         * drop the lock and die with the parent. */
        close(e->lock_fd);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(1);
        _exit(write_snapshot(e, seq) == 0 ? 0 : 1);
    }
    pthread_rwlock_unlock(&e->lock);
#endif

    if (pid < 0) {
        fn_log("snapshot: fork failed: %s", strerror(errno));
        return FN_EIO;
    }
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fn_log("snapshot at seq %llu failed; the log is kept whole", (unsigned long long)seq);
        return FN_EIO;
    }
    fn_crash_point("snapshot-before-trim");
    rc = fn_wal_trim(e->wal, seq);
    pthread_mutex_lock(&e->snap_mu);
    e->snap_log_bytes_at = ws.appended_bytes;
    e->last_snapshot_seq = seq;
    e->last_snapshot_ms = (fn_mono_ns() - t0) / 1000000;
    pthread_mutex_unlock(&e->snap_mu);
    fn_log("snapshot at seq %llu written in %llu ms", (unsigned long long)seq,
           (unsigned long long)((fn_mono_ns() - t0) / 1000000));
    return rc;
}

static void *snap_main(void *arg)
{
    fn_engine *e = arg;
    pthread_mutex_lock(&e->snap_mu);
    while (!e->snap_stop) {
        struct timespec ts;
        fn_wal_stats ws;
        uint64_t want = e->snap_requested;
        int due;
        fn_deadline_ms(&ts, 1000);
        if (e->snap_done == e->snap_requested)
            pthread_cond_timedwait(&e->snap_cv, &e->snap_mu, &ts);
        if (e->snap_stop)
            break;
        want = e->snap_requested;
        fn_wal_stats_get(e->wal, &ws);
        due = e->cfg.snapshot_log_bytes && ws.appended_bytes - e->snap_log_bytes_at >= e->cfg.snapshot_log_bytes &&
              !ws.broken && fn_mono_ns() >= e->snap_retry_at_ns;
        if (want == e->snap_done && !due)
            continue;
        pthread_mutex_unlock(&e->snap_mu);
        int rc = take_snapshot(e);
        pthread_mutex_lock(&e->snap_mu);
        if (rc == 0) {
            e->snapshots++;
            e->snap_backoff_ns = 0;
        } else {
            /* A lasting fault (disk full, permissions) must not make every
             * second a write pause and a new log segment: back off. */
            e->snapshot_failures++;
            e->snap_backoff_ns = e->snap_backoff_ns ? FN_MIN(e->snap_backoff_ns * 2, 300000000000ull) : 1000000000ull;
            e->snap_retry_at_ns = fn_mono_ns() + e->snap_backoff_ns;
        }
        e->snap_last_rc = rc;
        e->snap_done = want;
        pthread_cond_broadcast(&e->snap_cv);
    }
    pthread_mutex_unlock(&e->snap_mu);
    return NULL;
}

int fn_engine_snapshot(fn_engine *e, int wait)
{
    uint64_t ticket;
    int rc = 0;
    pthread_mutex_lock(&e->snap_mu);
    ticket = ++e->snap_requested;
    pthread_cond_broadcast(&e->snap_cv);
    while (wait && e->snap_done < ticket && !e->snap_stop)
        pthread_cond_wait(&e->snap_cv, &e->snap_mu);
    if (wait)
        rc = e->snap_last_rc;
    pthread_mutex_unlock(&e->snap_mu);
    return rc;
}

int fn_engine_open(fn_engine **out, const fn_engine_config *cfg, char *errbuf, size_t errlen)
{
    fn_engine *e = fn_xcalloc(1, sizeof(*e));
    fn_snapr *sr = NULL;
    fn_wal_recovery rec;
    uint64_t seq = 1, t0 = fn_mono_ns();
    char *p;
    int rc;

    fn_crash_init(); /* before any thread or fork: the points kill this process */
    e->cfg = *cfg;
    e->lock_fd = -1;
    e->data_dir = fn_xstrdup(cfg->data_dir);
    e->wal_dir = path_join(cfg->data_dir, "wal");
    e->snap_dir = path_join(cfg->data_dir, "snap");
    {
        /* Writers first: with glibc's default (readers first) a steady stream
         * of reads could hold writes, and so group commit, back for ever.
         * Nothing takes the read lock twice in one thread, which this kind
         * would deadlock. */
        pthread_rwlockattr_t attr;
        pthread_rwlockattr_init(&attr);
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&e->lock, &attr);
        pthread_rwlockattr_destroy(&attr);
    }
    pthread_mutex_init(&e->snap_mu, NULL);
    fn_cond_init_mono(&e->snap_cv); /* its 1 s timer must not stretch when the wall clock steps back */

    if ((rc = ensure_dir(e->data_dir, errbuf, errlen)) || (rc = ensure_dir(e->wal_dir, errbuf, errlen)) ||
        (rc = ensure_dir(e->snap_dir, errbuf, errlen)))
        goto err;
    p = path_join(e->data_dir, "LOCK");
    e->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(p);
    if (e->lock_fd < 0 || flock(e->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(errbuf, errlen, "data directory %s is in use by another freightd (or not writable)", e->data_dir);
        rc = FN_EIO;
        goto err;
    }
    if (fn_token_init() != 0) {
        snprintf(errbuf, errlen, "libsodium failed to initialise");
        rc = FN_EINTERNAL;
        goto err;
    }
    p = path_join(e->data_dir, "token.key");
    rc = fn_token_key_load(p, e->token_key, errbuf, errlen);
    free(p);
    if (rc || (rc = load_admin(e, errbuf, errlen)))
        goto err;

    e->state = fn_state_new(&cfg->state);
    rc = fn_snapr_open(&sr, e->snap_dir, &seq, errbuf, errlen);
    if (rc < 0)
        goto err;
    if (rc == 0) {
        rc = fn_state_snap_load(e->state, sr);
        if (rc == 0)
            rc = fn_snapr_close(sr);
        else
            fn_snapr_abort(sr);
        if (rc != 0) {
            snprintf(errbuf, errlen, "snapshot at seq %llu in %s is corrupt; refusing to start",
                     (unsigned long long)seq, e->snap_dir);
            goto err;
        }
        fn_log("loaded snapshot at seq %llu in %llu ms", (unsigned long long)seq,
               (unsigned long long)((fn_mono_ns() - t0) / 1000000));
    } else {
        seq = 1;
    }
    e->last_snapshot_seq = seq;
    memset(&rec, 0, sizeof(rec));
    rc = fn_wal_open(&e->wal, e->wal_dir, seq, replay_one, e, &rec, errbuf, errlen);
    if (rc != 0) {
        if (!*errbuf)
            snprintf(errbuf, errlen, "log replay failed: %s", fn_strerror(rc));
        goto err;
    }
    if (rec.torn_bytes)
        fn_log("log: cut a torn tail of %llu bytes (%llu whole-looking records that were never acknowledged) "
               "from %s at offset %llu",
               (unsigned long long)rec.torn_bytes, (unsigned long long)rec.torn_records, rec.torn_file,
               (unsigned long long)rec.torn_offset);
    fn_log("recovered: %llu log records replayed from %llu segments in %llu ms total", 
           (unsigned long long)rec.records_replayed, (unsigned long long)rec.segments,
           (unsigned long long)((fn_mono_ns() - t0) / 1000000));
    e->sampled_hour = fn_an_last_sample_hour(fn_state_analytics(e->state));
    if (pthread_create(&e->snap_thread, NULL, snap_main, e) != 0) {
        snprintf(errbuf, errlen, "cannot start the snapshot thread");
        rc = FN_EINTERNAL;
        goto err;
    }
    *out = e;
    return 0;
err:
    if (e->wal)
        fn_wal_close(e->wal);
    fn_state_free(e->state);
    if (e->lock_fd >= 0)
        close(e->lock_fd);
    free(e->data_dir);
    free(e->wal_dir);
    free(e->snap_dir);
    free(e);
    return rc ? rc : FN_EINTERNAL;
}

void fn_engine_close(fn_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->snap_mu);
    e->snap_stop = 1;
    pthread_cond_broadcast(&e->snap_cv);
    pthread_mutex_unlock(&e->snap_mu);
    pthread_join(e->snap_thread, NULL);
    fn_wal_close(e->wal);
    fn_state_free(e->state);
    sodium_memzero(e->token_key, sizeof(e->token_key));
    close(e->lock_fd);
    pthread_rwlock_destroy(&e->lock);
    free(e->data_dir);
    free(e->wal_dir);
    free(e->snap_dir);
    free(e);
}

int fn_engine_authenticate(fn_engine *e, const char *token, uint64_t *principal)
{
    uint8_t h[FN_TOKEN_HASH_BYTES];
    int found;
    size_t n = strlen(token);
    if (n == 0 || n > 200)
        return 0;
    fn_token_hash(e->token_key, token, h);
    if (sodium_memcmp(h, e->admin_hash, FN_TOKEN_HASH_BYTES) == 0) {
        *principal = fn_principal(FN_ROLE_ADMIN, 0);
        return 1;
    }
    if (!fn_token_well_formed(token))
        return 0;
    pthread_rwlock_rdlock(&e->lock);
    found = fn_state_token_lookup(e->state, h, principal);
    pthread_rwlock_unlock(&e->lock);
    return found;
}

void fn_engine_rdlock(fn_engine *e) { pthread_rwlock_rdlock(&e->lock); }
void fn_engine_rdunlock(fn_engine *e) { pthread_rwlock_unlock(&e->lock); }
const fn_state *fn_engine_state(const fn_engine *e) { return e->state; }

/* With the write lock held, before the first write of each clock hour: log
 * and apply the analytics' hourly sample (FN_REC_STATS_SAMPLE, analytics.h),
 * so the clock enters the log and replay rebuilds the hourly history exactly.
 * It rides with the write that follows (same group commit).  An hour without
 * writes gets no sample: nothing but expiries changed in it, and queries
 * account for those at read time. */
static void sample_if_due(fn_engine *e)
{
    int64_t now = fn_now_s();
    fn_buf b;
    uint64_t seq;
    if (now / 3600 * 3600 == e->sampled_hour)
        return;
    fn_buf_init(&b, 0);
    fn_rec_stats_sample(&b, now);
    if (fn_wal_append(e->wal, FN_REC_STATS_SAMPLE, b.data, (uint32_t)b.len, &seq) == 0 &&
        fn_state_apply(e->state, FN_REC_STATS_SAMPLE, b.data, (uint32_t)b.len) == 0)
        e->sampled_hour = now / 3600 * 3600;
    fn_buf_free(&b);
}

/* With the write lock held: log the record and apply it.  A record that
 * fails to apply after passing every check is a bug that would also stop
 * recovery, so it aborts rather than acknowledge a state the log cannot
 * rebuild. */
static int log_apply(fn_engine *e, uint8_t type, const fn_buf *b, uint64_t *seq, fn_result *res)
{
    int rc;
    sample_if_due(e);
    rc = fn_wal_append(e->wal, type, b->data, (uint32_t)b->len, seq);
    if (rc == FN_EIO)
        return fail(res, FN_EUNAVAIL, NULL,
                    "the disk is full: the write was refused and changed nothing; writes resume when space is "
                    "freed, reads keep working");
    if (rc != 0)
        return fail(res, FN_EUNAVAIL, NULL, "storage is not writable: the write was refused; reads keep working");
    rc = fn_state_apply(e->state, type, b->data, (uint32_t)b->len);
    if (rc != 0) {
        fn_log("BUG: record type %u failed to apply after its checks passed; aborting", type);
        abort();
    }
    return 0;
}

/* Without the lock: wait until the record is durable. */
static int durable(fn_engine *e, uint64_t seq, fn_result *res)
{
    if (fn_wal_sync(e->wal, seq) != 0)
        return fail(res, FN_EUNAVAIL, NULL,
                    "storage is not writable: the write may not be durable and was not acknowledged");
    return 0;
}

/*
 * Without the lock: the answer to a write that ran its checks.  rc == 0:
 * wait for its record (seq).  A refusal (409 already_booked, 404, ...) was
 * decided on the state, which may hold writes of others that are applied but
 * whose group is still being written (a write is applied before it is
 * durable); a crash could undo them and so the reason for the refusal.  So a
 * refusal waits, like an acknowledgement, until everything it may have seen
 * is durable; when the log cannot confirm that, it is a 503 instead.
 */
static int settle(fn_engine *e, int rc, uint64_t seq, fn_result *res)
{
    if (rc == 0)
        return durable(e, seq, res);
    if (rc == FN_EUNAVAIL)
        return rc;
    if (fn_wal_sync(e->wal, UINT64_MAX) != 0)
        return fail(res, FN_EUNAVAIL, NULL,
                    "storage is not writable: the state this request was checked against may not be durable");
    return rc;
}

/* Runs a write whose record the caller has encoded, under the write lock. */
#define WRITE_BEGIN(e) pthread_rwlock_wrlock(&(e)->lock)
#define WRITE_END(e) pthread_rwlock_unlock(&(e)->lock)

static int create_member(fn_engine *e, int role, const void *in, uint64_t *id_out, char *token_out,
                         fn_result *res)
{
    uint8_t hash[FN_TOKEN_HASH_BYTES];
    fn_buf b;
    uint64_t seq = 0;
    int rc, type;

    fn_token_generate(token_out);
    fn_token_hash(e->token_key, token_out, hash);
    fn_buf_init(&b, 0);
    WRITE_BEGIN(e);
    if (role == FN_ROLE_COMPANY) {
        fn_company c = *(const fn_company *)in;
        c.id = fn_state_next_company_id(e->state);
        c.created_at = fn_now_s();
        fn_rec_company_create(&b, &c, hash);
        type = FN_REC_COMPANY_CREATE;
        *id_out = c.id;
    } else if (role == FN_ROLE_DRIVER) {
        fn_driver d = *(const fn_driver *)in;
        d.id = fn_state_next_driver_id(e->state);
        d.created_at = fn_now_s();
        fn_rec_driver_create(&b, &d, hash);
        type = FN_REC_DRIVER_CREATE;
        *id_out = d.id;
    } else {
        fn_gateway g = *(const fn_gateway *)in;
        g.id = fn_state_next_gateway_id(e->state);
        g.created_at = fn_now_s();
        fn_rec_gateway_create(&b, &g, hash);
        type = FN_REC_GATEWAY_CREATE;
        *id_out = g.id;
    }
    rc = log_apply(e, (uint8_t)type, &b, &seq, res);
    WRITE_END(e);
    fn_buf_free(&b);
    sodium_memzero(hash, sizeof(hash));
    return settle(e, rc, seq, res);
}

int fn_engine_company_create(fn_engine *e, const fn_company *in, uint64_t *id_out, char *token_out, fn_result *res)
{
    return create_member(e, FN_ROLE_COMPANY, in, id_out, token_out, res);
}

int fn_engine_driver_create(fn_engine *e, const fn_driver *in, uint64_t *id_out, char *token_out, fn_result *res)
{
    return create_member(e, FN_ROLE_DRIVER, in, id_out, token_out, res);
}

int fn_engine_gateway_create(fn_engine *e, const fn_gateway *in, uint64_t *id_out, char *token_out, fn_result *res)
{
    return create_member(e, FN_ROLE_GATEWAY, in, id_out, token_out, res);
}

int fn_engine_positions(fn_engine *e, const fn_position *p, size_t n, uint8_t *refused, size_t *accepted,
                        fn_result *res)
{
    fn_position *ok = fn_xmalloc((n ? n : 1) * sizeof(*ok));
    fn_buf b;
    uint64_t seq = 0;
    size_t m = 0;
    int rc = 0;

    fn_buf_init(&b, 0);
    WRITE_BEGIN(e);
    for (size_t i = 0; i < n; i++) {
        refused[i] = fn_state_driver(e->state, p[i].driver_id) == NULL;
        if (!refused[i])
            ok[m++] = p[i];
    }
    if (m) {
        fn_rec_positions(&b, ok, (uint32_t)m);
        rc = log_apply(e, FN_REC_POSITIONS, &b, &seq, res);
    }
    WRITE_END(e);
    fn_buf_free(&b);
    free(ok);
    /* Every item refused (unknown drivers): a refusal, which must wait for what
     * it saw (settle); with some accepted, their record's sync covers it. */
    if (rc == 0 && m == 0 && n > 0)
        rc = settle(e, FN_ENOTFOUND, 0, res) == FN_EUNAVAIL ? FN_EUNAVAIL : 0;
    if (rc == 0 && m)
        rc = durable(e, seq, res);
    *accepted = rc ? 0 : m;
    return rc;
}

int fn_engine_driver_status(fn_engine *e, uint64_t driver_id, int status, fn_result *res)
{
    const fn_driver *d;
    fn_buf b;
    uint64_t seq = 0;
    int rc;

    if (status != FN_DS_AVAILABLE && status != FN_DS_OFFLINE)
        return fail(res, FN_EINVAL, "status", "status must be available or offline");
    fn_buf_init(&b, 0);
    WRITE_BEGIN(e);
    d = fn_state_driver(e->state, driver_id);
    if (!d)
        rc = fail(res, FN_ENOTFOUND, NULL, "no driver %llu", (unsigned long long)driver_id);
    else if (d->status == FN_DS_ON_TRIP)
        rc = fail(res, FN_EONTRIP, "status", "the driver is on a trip; delivery or cancellation ends it");
    else if (d->status == status) {
        rc = 0;
        seq = UINT64_MAX; /* already so: nothing to log, but the record that made it so may not be durable yet */
    }
    else {
        fn_rec_driver_status(&b, driver_id, status, fn_now_s());
        rc = log_apply(e, FN_REC_DRIVER_STATUS, &b, &seq, res);
    }
    WRITE_END(e);
    fn_buf_free(&b);
    return settle(e, rc, seq, res);
}

int fn_engine_load_create(fn_engine *e, const fn_load *in, uint64_t *id_out, fn_result *res)
{
    fn_load l = *in;
    fn_buf b;
    uint64_t seq = 0;
    int rc;

    fn_buf_init(&b, 0);
    WRITE_BEGIN(e);
    if (!fn_state_company(e->state, l.company_id)) {
        rc = fail(res, FN_ENOTFOUND, NULL, "no company %llu", (unsigned long long)l.company_id);
    } else {
        l.id = fn_state_next_load_id(e->state);
        l.created_at = fn_now_s();
        fn_rec_load_create(&b, &l);
        rc = log_apply(e, FN_REC_LOAD_CREATE, &b, &seq, res);
        *id_out = l.id;
    }
    WRITE_END(e);
    fn_buf_free(&b);
    return settle(e, rc, seq, res);
}

int fn_engine_load_cancel(fn_engine *e, uint64_t caller, uint64_t load_id, fn_result *res)
{
    const fn_load *l;
    fn_buf b;
    uint64_t seq = 0;
    int rc, st;

    fn_buf_init(&b, 0);
    WRITE_BEGIN(e);
    l = fn_state_load(e->state, load_id);
    if (!l)
        rc = fail(res, FN_ENOTFOUND, NULL, "no load %llu", (unsigned long long)load_id);
    else if (fn_principal_role(caller) != FN_ROLE_COMPANY || fn_principal_id(caller) != l->company_id)
        rc = fail(res, FN_EFORBIDDEN, NULL, "only the company that posted a load may cancel it");
    else if ((st = fn_load_status(l, fn_now_s())) != FN_LS_OPEN)
        rc = fail(res, st == FN_LS_BOOKED || st == FN_LS_IN_TRANSIT ? FN_EBOOKED : FN_ENOTOPEN, NULL,
                  "the load is %s and can no longer be cancelled", fn_load_status_name(st));
    else {
        fn_rec_load_cancel(&b, load_id, fn_now_s());
        rc = log_apply(e, FN_REC_LOAD_CANCEL, &b, &seq, res);
    }
    WRITE_END(e);
    fn_buf_free(&b);
    return settle(e, rc, seq, res);
}

/* Why a truck cannot carry a load, or NULL when it can. */
static const char *unsuitable(const fn_driver *d, const fn_load *l, const char **field)
{
    if (!(l->types_mask & (1u << d->truck_type))) {
        *field = "truck.type";
        return "the load does not accept this truck type";
    }
    if (l->min_length_idx >= 0 && d->length_idx < l->min_length_idx) {
        *field = "truck.length_m";
        return "the truck is shorter than the load requires";
    }
    if (d->capacity_kg < l->weight_kg) {
        *field = "truck.capacity_t";
        return "the cargo is heavier than the truck's capacity";
    }
    if (l->volume_l && d->volume_l && d->volume_l < l->volume_l) {
        *field = "truck.volume_m3";
        return "the cargo's volume exceeds the truck's";
    }
    return NULL;
}

/* With the write lock held: checks and logs one booking; *seq gets its
 * record's seq.  Shared by single bookings and dispatch's batches. */
static int book_locked(fn_engine *e, uint64_t driver_id, uint64_t load_id, int64_t now, int must_be_available,
                       uint64_t *seq, uint64_t *booking_out, fn_result *res)
{
    const fn_driver *d = fn_state_driver(e->state, driver_id);
    const fn_load *l = fn_state_load(e->state, load_id);
    const char *why, *field = NULL;
    fn_booking bk;
    fn_buf b;
    int rc, st;

    if (!d)
        return fail(res, FN_ENOTFOUND, NULL, "no driver %llu", (unsigned long long)driver_id);
    if (!l)
        return fail(res, FN_ENOTFOUND, NULL, "no load %llu", (unsigned long long)load_id);
    if ((st = fn_load_status(l, now)) != FN_LS_OPEN)
        return fail(res, st == FN_LS_BOOKED || st == FN_LS_IN_TRANSIT || st == FN_LS_DELIVERED ? FN_EBOOKED : FN_ENOTOPEN,
                    NULL, "the load is %s", fn_load_status_name(st));
    if (d->status == FN_DS_ON_TRIP)
        return fail(res, FN_EONTRIP, NULL, "the driver is already on a trip (booking %llu)",
                    (unsigned long long)d->booking_id);
    /* A plan made a moment ago (dispatch) must not book a driver who has gone
     * offline since; a driver booking for themselves needs no such check. */
    if (must_be_available && d->status != FN_DS_AVAILABLE)
        return fail(res, FN_ECONFLICT, NULL, "the driver is no longer available");
    if ((why = unsuitable(d, l, &field)) != NULL)
        return fail(res, FN_EUNSUITABLE, field, "%s", why);
    memset(&bk, 0, sizeof(bk));
    bk.id = fn_state_next_booking_id(e->state);
    bk.load_id = load_id;
    bk.driver_id = driver_id;
    bk.booked_at = now;
    bk.deadhead_km = fn_state_road_km(e->state, d->pos_ts ? d->lat : d->home_lat, d->pos_ts ? d->lon : d->home_lon,
                                      l->origin.lat, l->origin.lon);
    bk.loaded_km = fn_state_road_km(e->state, l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon);
    fn_buf_init(&b, 0);
    fn_rec_book(&b, &bk);
    rc = log_apply(e, FN_REC_BOOK, &b, seq, res);
    fn_buf_free(&b);
    if (rc == 0)
        *booking_out = bk.id;
    return rc;
}

int fn_engine_book(fn_engine *e, uint64_t driver_id, uint64_t load_id, uint64_t *booking_out, fn_result *res)
{
    uint64_t seq = 0;
    int rc;
    WRITE_BEGIN(e);
    rc = book_locked(e, driver_id, load_id, fn_now_s(), 0, &seq, booking_out, res);
    WRITE_END(e);
    return settle(e, rc, seq, res);
}

int fn_engine_book_batch(fn_engine *e, const uint64_t *driver_ids, const uint64_t *load_ids, size_t n,
                         uint64_t *booking_out, int *errs, fn_result *res)
{
    uint64_t seq = 0, last = 0;
    int64_t now = fn_now_s();
    int rc = 0;
    WRITE_BEGIN(e);
    for (size_t i = 0; i < n; i++) {
        fn_result one = {0};
        booking_out[i] = 0;
        errs[i] = book_locked(e, driver_ids[i], load_ids[i], now, 1, &seq, &booking_out[i], &one);
        if (errs[i] == 0)
            last = seq;
        else if (errs[i] == FN_EUNAVAIL) {
            *res = one;
            rc = FN_EUNAVAIL;
            break;
        }
    }
    WRITE_END(e);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (errs[i] != 0 && settle(e, errs[i], 0, res) == FN_EUNAVAIL)
            rc = FN_EUNAVAIL; /* refusals wait for what they saw; the first such wait covers the rest */
    if (rc == 0 && last)
        rc = durable(e, last, res);
    return rc;
}

int fn_engine_booking_visible(uint64_t caller, const fn_booking *b)
{
    int role = fn_principal_role(caller);
    uint64_t id = fn_principal_id(caller);
    return role == FN_ROLE_ADMIN || (role == FN_ROLE_DRIVER && id == b->driver_id) ||
           (role == FN_ROLE_COMPANY && id == b->company_id);
}

int fn_engine_trip_step(fn_engine *e, uint64_t caller, uint64_t booking_id, int step, fn_result *res)
{
    const fn_booking *bk;
    fn_buf b;
    uint64_t seq = 0;
    int rc, need = step == FN_REC_PICKUP ? FN_BS_BOOKED : FN_BS_PICKED_UP;

    fn_buf_init(&b, 0);
    WRITE_BEGIN(e);
    bk = fn_state_booking(e->state, booking_id);
    if (!bk || !fn_engine_booking_visible(caller, bk))
        rc = fail(res, FN_ENOTFOUND, NULL, "no booking %llu of yours", (unsigned long long)booking_id);
    else if (fn_principal_role(caller) != FN_ROLE_DRIVER)
        rc = fail(res, FN_EFORBIDDEN, NULL, "only the booked driver reports pickup and delivery");
    else if (bk->status != need)
        rc = fail(res, FN_ESTATE, NULL, "the booking is %s; %s needs it %s", fn_booking_status_name(bk->status),
                  step == FN_REC_PICKUP ? "pickup" : "delivery", fn_booking_status_name(need));
    else {
        fn_rec_booking_event(&b, booking_id, fn_now_s());
        rc = log_apply(e, (uint8_t)step, &b, &seq, res);
    }
    WRITE_END(e);
    fn_buf_free(&b);
    return settle(e, rc, seq, res);
}

int fn_engine_booking_cancel(fn_engine *e, uint64_t caller, uint64_t booking_id, fn_result *res)
{
    const fn_booking *bk;
    fn_buf b;
    uint64_t seq = 0;
    int rc;

    fn_buf_init(&b, 0);
    WRITE_BEGIN(e);
    bk = fn_state_booking(e->state, booking_id);
    if (!bk || !fn_engine_booking_visible(caller, bk))
        rc = fail(res, FN_ENOTFOUND, NULL, "no booking %llu of yours", (unsigned long long)booking_id);
    else if (fn_principal_role(caller) == FN_ROLE_ADMIN)
        rc = fail(res, FN_EFORBIDDEN, NULL, "only the booked driver or the load's owner may cancel a booking");
    else if (bk->status != FN_BS_BOOKED)
        rc = fail(res, FN_ESTATE, NULL, "the booking is %s; only a booking not yet picked up can be cancelled",
                  fn_booking_status_name(bk->status));
    else {
        fn_rec_booking_cancel(&b, booking_id, fn_now_s(), fn_principal_role(caller));
        rc = log_apply(e, FN_REC_BOOKING_CANCEL, &b, &seq, res);
    }
    WRITE_END(e);
    fn_buf_free(&b);
    return settle(e, rc, seq, res);
}

int fn_engine_rate(fn_engine *e, uint64_t caller, uint64_t booking_id, int stars, const char *comment, fn_result *res)
{
    const fn_booking *bk;
    fn_buf b;
    uint64_t seq = 0;
    int rc, role = fn_principal_role(caller);

    if (stars < 1 || stars > 5)
        return fail(res, FN_EINVAL, "stars", "stars must be between 1 and 5");
    if (comment && strlen(comment) > 2000)
        return fail(res, FN_EINVAL, "comment", "comment is too long");
    fn_buf_init(&b, 0);
    WRITE_BEGIN(e);
    bk = fn_state_booking(e->state, booking_id);
    if (!bk || !fn_engine_booking_visible(caller, bk))
        rc = fail(res, FN_ENOTFOUND, NULL, "no booking %llu of yours", (unsigned long long)booking_id);
    else if (role != FN_ROLE_COMPANY && role != FN_ROLE_DRIVER)
        rc = fail(res, FN_EFORBIDDEN, NULL, "only the load's owner or the booked driver may rate a trip");
    else if (bk->status != FN_BS_DELIVERED)
        rc = fail(res, FN_ESTATE, NULL, "the booking is %s; trips are rated after delivery",
                  fn_booking_status_name(bk->status));
    else if ((role == FN_ROLE_COMPANY && bk->company_stars) || (role == FN_ROLE_DRIVER && bk->driver_stars))
        rc = fail(res, FN_ERATED, NULL, "you have already rated this trip");
    else {
        fn_rec_rating(&b, booking_id, role, stars, comment ? comment : "", fn_now_s());
        rc = log_apply(e, FN_REC_RATING, &b, &seq, res);
    }
    WRITE_END(e);
    fn_buf_free(&b);
    return settle(e, rc, seq, res);
}

void fn_engine_stats_get(fn_engine *e, fn_engine_stats *st)
{
    fn_wal_stats ws;
    fn_wal_stats_get(e->wal, &ws);
    memset(st, 0, sizeof(*st));
    st->log_bytes = ws.written_bytes;
    st->log_records = ws.appended_records;
    st->fsyncs = ws.fsyncs;
    st->fsync_ns_total = ws.fsync_ns_total;
    st->durable_seq = ws.durable_seq;
    st->next_seq = ws.next_seq;
    st->log_broken = ws.broken;
    st->log_full = ws.full;
    pthread_mutex_lock(&e->snap_mu);
    st->snapshots = e->snapshots;
    st->snapshot_failures = e->snapshot_failures;
    st->last_snapshot_seq = e->last_snapshot_seq;
    st->last_snapshot_ms = e->last_snapshot_ms;
    pthread_mutex_unlock(&e->snap_mu);
}

void fn_engine_inject_fsync_failure(fn_engine *e) { fn_wal_inject_fsync_failure(e->wal); }
