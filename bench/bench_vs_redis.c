/*
 * bench_vs_redis.c — freightd side by side with Redis GEO in one run
 * (issue 4, item 4): the same truck positions ingested by both, then the
 * same nearest-20-within-50-km queries against both, with a check that
 * both answer with the same trucks.
 *
 * Before anything starts it loads the bulkloaded snapshot in-process (as
 * bench_match does) only to learn which drivers are available: freightd's
 * truck index holds available drivers only, so Redis must be queried over
 * the same member set.  Then it starts bin/freightd on a scratch copy of
 * the national data dir (bu_* helpers, --rate-limit 0) and redis-server on
 * 127.0.0.1 on a free port (persistence off, no daemon), stopped by PID at
 * the end and from an atexit handler on failure.
 *
 * Ingest: every driver 1..N gets one position (bulkload's place
 * distribution, a fixed function of the id, "%.5f" degrees; the same text
 * goes to both).  freightd: batched POST /v1/positions (B per request,
 * fsync per batch as always) over C connections; Redis: `GEOADD trucks lon
 * lat member`, one command per position, pipelined B per round trip over C
 * connections, and for reference also variadic GEOADD (B members a
 * command).  Request bodies and commands are pre-built, not measured.
 * After ingest the non-available members are removed from Redis (ZREM, not
 * measured) so both hold the same set.
 *
 * Query: Q points = city centres from data/cn_cities.csv drawn weighted by
 * population; freightd `GET /v1/trucks?near=lat,lon&radius_km=50&limit=20`
 * with the admin token (exact positions) vs Redis `GEOSEARCH trucks
 * FROMLONLAT lon lat BYRADIUS 50 km ASC COUNT 20`, each over C connections
 * for T seconds after a warm-up; queries/s and latency percentiles.
 *
 * Check: every one of the Q points is asked once more of both and the
 * answers compared (driver ids in order) with each other and with a brute
 * force reference (haversine, R = 6371.0088 km, over the positions sent).
 * Redis measures with R = 6372.797560856 km (distances 0.028 % longer) on
 * 52-bit geohash cells (about 0.6 m), so an answer may differ only by a
 * truck within tol_b of the 50 km boundary or one within tol_t of another
 * truck's distance (a tie at the 20th place or in the order).  Any other
 * difference is reported as unexplained (and the program says so; it
 * still exits 0 — benchmarks never fail on a number, STYLE.md).
 *
 *   bin/bench_vs_redis [--data-dir DIR] [--scale S] [--connections C]
 *                      [--batch B] [--points Q] [--seconds T] [--warmup W]
 *                      [--threads N] [--break-check] [--keep]
 */
#include "bench_util.h"

#include "common/geo.h"
#include "core/model.h"
#include "core/state.h"
#include "store/snapfile.h"

#define RADIUS_KM 50.0
#define LIMIT 20
#define REDIS_R_KM 6372.797560856

typedef struct options {
    bu_opts c;
    int batch;
    int points;
    int break_check; /* --break-check: drop a truck from freightd's answers to show the check fails */
} options;

/* ---------------------------------------------------------------- */
/* Redis: the process and a minimal RESP client                      */
/* ---------------------------------------------------------------- */

static pid_t g_redis_pid = -1;
static bu_setup *g_su;

static void cleanup_at_exit(void)
{
    if (g_redis_pid > 0) {
        kill(g_redis_pid, SIGTERM);
        waitpid(g_redis_pid, NULL, 0);
        g_redis_pid = -1;
    }
    if (g_su && g_su->srv.pid > 0) {
        kill(g_su->srv.pid, SIGTERM);
        waitpid(g_su->srv.pid, NULL, 0);
        g_su->srv.pid = -1;
        bu_rmtree(g_su->scratch);
    }
}

typedef struct rconn {
    int fd;
    char *buf;
    size_t len, cap, pos; /* pos: parse position */
} rconn;

static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
        bu_die("cannot find a free port: %s", strerror(errno));
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static int rconn_open(rconn *c, int port)
{
    struct sockaddr_in sa;
    int one = 1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->len = c->pos = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void rconn_free(rconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = c->pos = 0;
}

static int rconn_send(rconn *c, const char *p, size_t n)
{
    struct iovec iov = {(void *)p, n};
    return bu_write_all(c->fd, &iov, 1);
}

static int rconn_fill(rconn *c)
{
    ssize_t r;
    if (c->pos && c->pos == c->len)
        c->pos = c->len = 0;
    if (c->cap - c->len < 65536) {
        if (c->pos) { /* drop parsed bytes first */
            memmove(c->buf, c->buf + c->pos, c->len - c->pos);
            c->len -= c->pos;
            c->pos = 0;
        }
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 262144;
            c->buf = bu_xrealloc(c->buf, c->cap);
        }
    }
    do
        r = read(c->fd, c->buf + c->len, c->cap - c->len);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return -1;
    c->len += (size_t)r;
    return 0;
}

/* One reply, flattened: its bulk strings (pointers into the buffer, valid
 * until the next read) in order; integers counted; errors kept. */
typedef struct rreply {
    const char *str[2 * LIMIT + 8];
    size_t slen[2 * LIMIT + 8];
    int nstr;
    long long ints, last_int;
    int is_error;
    char err[160];
} rreply;

/* Parses one reply at *p within [.., end): 1 done, 0 incomplete, -1 bad. */
static int resp_parse(const char **p, const char *end, rreply *r, int depth)
{
    const char *s = *p, *nl;
    long long n;
    if (s >= end)
        return 0;
    nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl)
        return 0;
    n = strtoll(s + 1, NULL, 10);
    switch (*s) {
    case '+':
        *p = nl + 1;
        return 1;
    case '-':
        r->is_error = 1;
        snprintf(r->err, sizeof(r->err), "%.*s", (int)(nl - s - 1), s + 1);
        *p = nl + 1;
        return 1;
    case ':':
        r->ints++;
        r->last_int = n;
        *p = nl + 1;
        return 1;
    case '$':
        if (n < 0) {
            *p = nl + 1;
            return 1;
        }
        if (end - (nl + 1) < n + 2)
            return 0;
        if (r->nstr < (int)(sizeof(r->str) / sizeof(r->str[0]))) {
            r->str[r->nstr] = nl + 1;
            r->slen[r->nstr++] = (size_t)n;
        }
        *p = nl + 1 + n + 2;
        return 1;
    case '*': {
        const char *q = nl + 1;
        if (depth > 4)
            return -1;
        for (long long i = 0; i < n; i++) {
            int k = resp_parse(&q, end, r, depth + 1);
            if (k <= 0)
                return k;
        }
        *p = q;
        return 1;
    }
    default:
        return -1;
    }
}

/* Reads one whole reply into r. */
static int rconn_reply(rconn *c, rreply *r)
{
    for (;;) {
        const char *p = c->buf + c->pos;
        int k;
        memset(r, 0, offsetof(rreply, err));
        r->err[0] = '\0';
        k = c->len > c->pos ? resp_parse(&p, c->buf + c->len, r, 0) : 0;
        if (k < 0)
            return -1;
        if (k > 0) {
            c->pos = (size_t)(p - c->buf);
            return 0;
        }
        if (rconn_fill(c) != 0)
            return -1;
    }
}

/* Appends a RESP command of n arguments. */
static void resp_cmd(bu_str *s, int n, const char *const *args)
{
    bu_str_printf(s, "*%d\r\n", n);
    for (int i = 0; i < n; i++)
        bu_str_printf(s, "$%zu\r\n%s\r\n", strlen(args[i]), args[i]);
}

static void redis_start(int *port_out, const char *logpath)
{
    char port_s[16];
    int port = free_port();
    uint64_t t0 = bu_now_ns();
    snprintf(port_s, sizeof(port_s), "%d", port);
    fflush(stdout);
    fflush(stderr);
    g_redis_pid = fork();
    if (g_redis_pid < 0)
        bu_die("fork: %s", strerror(errno));
    if (g_redis_pid == 0) {
        int lfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (lfd >= 0) {
            dup2(lfd, 1);
            dup2(lfd, 2);
        }
        execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", port_s, "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes", "--dir", "/tmp", (char *)NULL);
        fprintf(stderr, "bench: cannot exec redis-server: %s\n", strerror(errno));
        _exit(127);
    }
    for (;;) {
        rconn c = {.fd = -1};
        rreply r;
        int st;
        if (waitpid(g_redis_pid, &st, WNOHANG) == g_redis_pid) {
            g_redis_pid = -1;
            bu_die("redis-server exited at start (is it installed? `apt-get install -y redis-server`, or "
                   "scripts/deps.sh bench); see %s",
                   logpath);
        }
        if (rconn_open(&c, port) == 0) {
            const char *ping[] = {"PING"};
            bu_str s = {0};
            resp_cmd(&s, 1, ping);
            if (rconn_send(&c, s.p, s.len) == 0 && rconn_reply(&c, &r) == 0 && !r.is_error) {
                bu_str_free(&s);
                rconn_free(&c);
                break;
            }
            bu_str_free(&s);
        }
        rconn_free(&c);
        if (bu_now_ns() - t0 > 20000000000ull)
            bu_die("redis-server did not answer PING within 20 s; see %s", logpath);
        bu_sleep_ms(20);
    }
    *port_out = port;
    printf("redis-server pid %d on port %d, ready %.0f ms after exec (--save \"\" --appendonly no); log %s\n",
           (int)g_redis_pid, port, (double)(bu_now_ns() - t0) / 1e6, logpath);
}

/* A one-off command on a fresh connection; returns the reply's last integer. */
static long long redis_simple(int port, int n, const char *const *args, char *out, size_t outlen)
{
    rconn c = {.fd = -1};
    rreply r;
    bu_str s = {0};
    long long v = -1;
    if (rconn_open(&c, port) != 0)
        bu_die("cannot connect to redis on port %d", port);
    resp_cmd(&s, n, args);
    if (rconn_send(&c, s.p, s.len) != 0 || rconn_reply(&c, &r) != 0 || r.is_error)
        bu_die("redis %s failed: %s", args[0], r.err);
    v = r.last_int;
    if (out && r.nstr)
        snprintf(out, outlen, "%.*s", (int)r.slen[0], r.str[0]);
    bu_str_free(&s);
    rconn_free(&c);
    return v;
}

/* The line "name:value" of INFO section, as a number; -1 if absent. */
static double redis_info(int port, const char *section, const char *name)
{
    static char big[65536];
    const char *args[] = {"INFO", section};
    char key[128];
    redis_simple(port, 2, args, big, sizeof(big));
    snprintf(key, sizeof(key), "%s:", name);
    const char *p = strstr(big, key);
    return p ? atof(p + strlen(key)) : -1;
}

/* ---------------------------------------------------------------- */
/* The data                                                          */
/* ---------------------------------------------------------------- */

typedef struct data {
    uint64_t n;            /* drivers 1..n */
    char (*lat_s)[12], (*lon_s)[12];
    double *lat, *lon;     /* the values of those strings */
    uint8_t *avail;        /* [id]: available in the snapshot */
    uint64_t navail;
    /* pre-built work, one item per batch */
    bu_str *http_bodies, *redis_pipe, *redis_multi;
    size_t nbatches;
    int batch;
    const bu_tokens *tok;
} data;

static void load_available(const char *dir, data *d)
{
    char snapdir[PATH_MAX + 8], err[256];
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, 0.2};
    fn_snapr *sr;
    uint64_t seq, t0 = bu_now_ns();
    fn_state *s = fn_state_new(&cfg);
    bu_pathf(snapdir, sizeof(snapdir), "%s/snap", dir);
    if (fn_snapr_open(&sr, snapdir, &seq, err, sizeof(err)) != 0 || fn_state_snap_load(s, sr) != 0 ||
        fn_snapr_close(sr) != 0)
        bu_die("cannot load the snapshot in %s: %s", snapdir, err);
    d->n = fn_state_next_driver_id(s) - 1;
    d->avail = calloc(d->n + 1, 1);
    if (!d->avail)
        bu_die("out of memory");
    for (uint64_t id = 1; id <= d->n; id++) {
        const fn_driver *dr = fn_state_driver(s, id);
        if (dr && dr->status == FN_DS_AVAILABLE) {
            d->avail[id] = 1;
            d->navail++;
        }
    }
    fn_state_free(s);
    printf("snapshot %s: %llu drivers, %llu available (read in-process in %.1f s, then freed)\n", snapdir,
           (unsigned long long)d->n, (unsigned long long)d->navail, (double)(bu_now_ns() - t0) / 1e9);
}

static void build_data(data *d, int batch)
{
    int64_t ts = (int64_t)time(NULL);
    char member[24];
    d->batch = batch;
    d->lat_s = bu_xmalloc((d->n + 1) * sizeof(*d->lat_s));
    d->lon_s = bu_xmalloc((d->n + 1) * sizeof(*d->lon_s));
    d->lat = bu_xmalloc((d->n + 1) * sizeof(double));
    d->lon = bu_xmalloc((d->n + 1) * sizeof(double));
    for (uint64_t id = 1; id <= d->n; id++) {
        uint64_t rng = id * 0x9e3779b97f4a7c15ull; /* as bench_positions: the place depends on the id only */
        double lat, lon;
        bu_place(&rng, 15, &lat, &lon, NULL, NULL);
        snprintf(d->lat_s[id], 12, "%.5f", lat);
        snprintf(d->lon_s[id], 12, "%.5f", lon);
        d->lat[id] = strtod(d->lat_s[id], NULL);
        d->lon[id] = strtod(d->lon_s[id], NULL);
    }
    d->nbatches = (size_t)((d->n + (uint64_t)batch - 1) / (uint64_t)batch);
    d->http_bodies = calloc(d->nbatches, sizeof(bu_str));
    d->redis_pipe = calloc(d->nbatches, sizeof(bu_str));
    d->redis_multi = calloc(d->nbatches, sizeof(bu_str));
    for (size_t k = 0; k < d->nbatches; k++) {
        uint64_t first = (uint64_t)k * (uint64_t)batch + 1, last = first + (uint64_t)batch - 1;
        bu_str *h = &d->http_bodies[k], *p = &d->redis_pipe[k], *m = &d->redis_multi[k];
        if (last > d->n)
            last = d->n;
        bu_str_reserve(h, (size_t)batch * 80 + 32);
        bu_str_reserve(p, (size_t)batch * 70);
        bu_str_reserve(m, (size_t)batch * 50 + 64);
        bu_str_printf(h, "{\"positions\":[");
        bu_str_printf(m, "*%llu\r\n$6\r\nGEOADD\r\n$6\r\ntrucks\r\n", (unsigned long long)(2 + 3 * (last - first + 1)));
        for (uint64_t id = first; id <= last; id++) {
            snprintf(member, sizeof(member), "%llu", (unsigned long long)id);
            bu_str_printf(h, "%s{\"driver_id\":%llu,\"lat\":%s,\"lon\":%s,\"ts\":%lld}", id == first ? "" : ",",
                          (unsigned long long)id, d->lat_s[id], d->lon_s[id], (long long)ts);
            const char *args[] = {"GEOADD", "truckp", d->lon_s[id], d->lat_s[id], member};
            resp_cmd(p, 5, args);
            bu_str_printf(m, "$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(d->lon_s[id]), d->lon_s[id],
                          strlen(d->lat_s[id]), d->lat_s[id], strlen(member), member);
        }
        bu_str_printf(h, "]}");
    }
}

/* ---------------------------------------------------------------- */
/* Ingest: C threads take batches from a shared counter              */
/* ---------------------------------------------------------------- */

enum { ING_HTTP, ING_REDIS_PIPE, ING_REDIS_MULTI };

typedef struct ingest {
    data *d;
    int mode, port;
    size_t next;      /* atomic: next batch */
    uint64_t done;    /* atomic: positions confirmed */
    uint64_t errors;  /* atomic */
    bu_lat lat[64];   /* per connection: batch round trip */
    int nconn;
} ingest;

typedef struct worker_arg {
    ingest *g;
    int conn;
} worker_arg;

static void *ingest_worker(void *arg)
{
    worker_arg *wa = arg;
    ingest *g = wa->g;
    data *d = g->d;
    bu_conn hc = {.fd = -1};
    rconn rc = {.fd = -1};
    int ok = g->mode == ING_HTTP ? bu_conn_open(&hc, g->port) : rconn_open(&rc, g->port);
    if (ok != 0) {
        __atomic_fetch_add(&g->errors, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    for (;;) {
        size_t k = __atomic_fetch_add(&g->next, 1, __ATOMIC_RELAXED);
        uint64_t first, last, cnt, t0;
        if (k >= d->nbatches)
            break;
        first = (uint64_t)k * (uint64_t)d->batch + 1;
        last = first + (uint64_t)d->batch - 1;
        if (last > d->n)
            last = d->n;
        cnt = last - first + 1;
        t0 = bu_now_ns();
        if (g->mode == ING_HTTP) {
            bu_resp r;
            const char *tok = d->tok->gateways[(size_t)wa->conn % d->tok->ngateways].token, *acc;
            if (bu_request(&hc, "POST", "/v1/positions", tok, "application/json", d->http_bodies[k].p,
                           d->http_bodies[k].len, &r) != 0 ||
                r.status != 200 || !(acc = strstr(r.body, "\"accepted\":"))) {
                if (__atomic_fetch_add(&g->errors, 1, __ATOMIC_RELAXED) < 3)
                    fprintf(stderr, "bench: POST /v1/positions failed: %d %s %.200s\n", r.status, hc.err, r.body);
                continue;
            }
            __atomic_fetch_add(&g->done, strtoull(acc + 11, NULL, 10), __ATOMIC_RELAXED);
        } else {
            const bu_str *cmd = g->mode == ING_REDIS_PIPE ? &d->redis_pipe[k] : &d->redis_multi[k];
            uint64_t replies = g->mode == ING_REDIS_PIPE ? cnt : 1, added = 0;
            rreply r;
            int bad = rconn_send(&rc, cmd->p, cmd->len) != 0;
            for (uint64_t i = 0; i < replies && !bad; i++) {
                if (rconn_reply(&rc, &r) != 0 || r.is_error) {
                    bad = 1;
                    if (__atomic_fetch_add(&g->errors, 1, __ATOMIC_RELAXED) < 3)
                        fprintf(stderr, "bench: GEOADD failed: %s\n", r.err);
                }
                added += (uint64_t)r.last_int;
            }
            if (bad)
                break;
            (void)added; /* 0 for a member already there; every position is stored either way */
            __atomic_fetch_add(&g->done, cnt, __ATOMIC_RELAXED);
        }
        bu_lat_add(&g->lat[wa->conn], bu_now_ns() - t0);
    }
    bu_conn_free(&hc);
    rconn_free(&rc);
    return NULL;
}

/* Runs one ingest; returns positions/s and fills *lat_all. */
static double run_ingest(data *d, int mode, int port, int nconn, bu_lat *lat_all, uint64_t *done, uint64_t *errors,
                         double *secs)
{
    ingest g;
    pthread_t th[64];
    worker_arg wa[64];
    uint64_t t0;
    memset(&g, 0, sizeof(g));
    g.d = d;
    g.mode = mode;
    g.port = port;
    g.nconn = nconn;
    t0 = bu_now_ns();
    for (int i = 0; i < nconn; i++) {
        wa[i].g = &g;
        wa[i].conn = i;
        pthread_create(&th[i], NULL, ingest_worker, &wa[i]);
    }
    for (int i = 0; i < nconn; i++)
        pthread_join(th[i], NULL);
    *secs = (double)(bu_now_ns() - t0) / 1e9;
    memset(lat_all, 0, sizeof(*lat_all));
    for (int i = 0; i < nconn; i++) {
        bu_lat_merge(lat_all, &g.lat[i]);
        bu_lat_free(&g.lat[i]);
    }
    *done = g.done;
    *errors = g.errors;
    return (double)g.done / *secs;
}

/* ---------------------------------------------------------------- */
/* Queries                                                           */
/* ---------------------------------------------------------------- */

typedef struct point {
    double lat, lon;
    char lat_s[16], lon_s[16];
    const char *city;
} point;

typedef struct answer {
    uint64_t id[LIMIT];
    int n;
} answer;

static int http_query(bu_conn *c, const char *admin, const point *p, answer *out)
{
    char path[160];
    bu_resp r;
    snprintf(path, sizeof(path), "/v1/trucks?near=%s,%s&radius_km=50&limit=20", p->lat_s, p->lon_s);
    if (bu_request(c, "GET", path, admin, NULL, NULL, 0, &r) != 0 || r.status != 200)
        return -1;
    if (out) {
        json_error_t e;
        json_t *root = json_loadb(r.body, r.body_len, 0, &e), *arr, *v;
        size_t i;
        if (!root)
            return -1;
        arr = json_object_get(root, "trucks");
        out->n = 0;
        json_array_foreach(arr, i, v) if (out->n < LIMIT) out->id[out->n++] =
            (uint64_t)json_integer_value(json_object_get(v, "driver_id"));
        json_decref(root);
    }
    return 0;
}

static void geosearch_cmd(bu_str *s, const point *p)
{
    const char *args[] = {"GEOSEARCH", "trucks", "FROMLONLAT", p->lon_s, p->lat_s, "BYRADIUS", "50", "km",
                          "ASC", "COUNT", "20"};
    s->len = 0;
    resp_cmd(s, 11, args);
}

static int redis_query(rconn *c, bu_str *scratch, const point *p, answer *out)
{
    rreply r;
    geosearch_cmd(scratch, p);
    if (rconn_send(c, scratch->p, scratch->len) != 0 || rconn_reply(c, &r) != 0 || r.is_error)
        return -1;
    if (out) {
        out->n = 0;
        for (int i = 0; i < r.nstr && out->n < LIMIT; i++)
            out->id[out->n++] = strtoull(r.str[i], NULL, 10);
    }
    return 0;
}

typedef struct qrun {
    const point *pts;
    size_t npts;
    int redis, port;
    const char *admin;
    double warmup, seconds;
    uint64_t start_ns, measure_ns, end_ns;
    size_t next;            /* atomic */
    uint64_t ok, errors;    /* atomic, inside the window */
    bu_lat lat[64];
} qrun;

static void *query_worker(void *arg)
{
    worker_arg *wa = arg;
    qrun *q = (qrun *)wa->g;
    bu_conn hc = {.fd = -1};
    rconn rc = {.fd = -1};
    bu_str scratch = {0};
    if ((q->redis ? rconn_open(&rc, q->port) : bu_conn_open(&hc, q->port)) != 0) {
        __atomic_fetch_add(&q->errors, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    for (;;) {
        uint64_t t0 = bu_now_ns(), t1;
        if (t0 >= q->end_ns)
            break;
        size_t k = __atomic_fetch_add(&q->next, 1, __ATOMIC_RELAXED) % q->npts;
        int rc2 = q->redis ? redis_query(&rc, &scratch, &q->pts[k], NULL) : http_query(&hc, q->admin, &q->pts[k], NULL);
        t1 = bu_now_ns();
        if (t0 < q->measure_ns || t1 > q->end_ns)
            continue;
        if (rc2 != 0) {
            __atomic_fetch_add(&q->errors, 1, __ATOMIC_RELAXED);
            if (q->redis) {
                rconn_free(&rc);
                rconn_open(&rc, q->port);
            }
            continue;
        }
        __atomic_fetch_add(&q->ok, 1, __ATOMIC_RELAXED);
        bu_lat_add(&q->lat[wa->conn], t1 - t0);
    }
    bu_conn_free(&hc);
    rconn_free(&rc);
    bu_str_free(&scratch);
    return NULL;
}

typedef struct qresult {
    double qps, secs, server_cpu;
    uint64_t ok, errors;
    bu_lat lat;
} qresult;

static void run_queries(qrun *q, int nconn, pid_t server_pid, qresult *res)
{
    pthread_t th[64];
    worker_arg wa[64];
    double cpu0 = 0, cpu1;
    q->start_ns = bu_now_ns();
    q->measure_ns = q->start_ns + (uint64_t)(q->warmup * 1e9);
    q->end_ns = q->measure_ns + (uint64_t)(q->seconds * 1e9);
    for (int i = 0; i < nconn; i++) {
        wa[i].g = (ingest *)(void *)q;
        wa[i].conn = i;
        pthread_create(&th[i], NULL, query_worker, &wa[i]);
    }
    while (bu_now_ns() < q->measure_ns)
        bu_sleep_ms(5);
    cpu0 = bu_cpu_s(server_pid);
    while (bu_now_ns() < q->end_ns)
        bu_sleep_ms(5);
    cpu1 = bu_cpu_s(server_pid);
    for (int i = 0; i < nconn; i++)
        pthread_join(th[i], NULL);
    memset(res, 0, sizeof(*res));
    for (int i = 0; i < nconn; i++) {
        bu_lat_merge(&res->lat, &q->lat[i]);
        bu_lat_free(&q->lat[i]);
    }
    res->secs = q->seconds;
    res->ok = q->ok;
    res->errors = q->errors;
    res->qps = (double)q->ok / q->seconds;
    res->server_cpu = (cpu1 - cpu0) / q->seconds;
}

/* ---------------------------------------------------------------- */
/* The check                                                         */
/* ---------------------------------------------------------------- */

typedef struct byl {
    double lat;
    uint32_t id;
} byl;

static int byl_cmp(const void *a, const void *b)
{
    double x = ((const byl *)a)->lat, y = ((const byl *)b)->lat;
    return x < y ? -1 : x > y;
}

/* Brute force over the available trucks within the latitude band. */
static void reference(const data *d, const byl *sorted, size_t ns, const point *p, answer *out, double *dist)
{
    double dlat = RADIUS_KM / FN_KM_PER_DEG_LAT + 0.01;
    size_t lo = 0, hi = ns;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sorted[mid].lat < p->lat - dlat)
            lo = mid + 1;
        else
            hi = mid;
    }
    out->n = 0;
    for (size_t i = lo; i < ns && sorted[i].lat <= p->lat + dlat; i++) {
        uint64_t id = sorted[i].id;
        double km = fn_haversine_km(p->lat, p->lon, d->lat[id], d->lon[id]);
        if (km > RADIUS_KM || (out->n == LIMIT && km >= dist[LIMIT - 1]))
            continue;
        int j = out->n < LIMIT ? out->n++ : LIMIT - 1;
        while (j > 0 && dist[j - 1] > km) {
            dist[j] = dist[j - 1];
            out->id[j] = out->id[j - 1];
            j--;
        }
        dist[j] = km;
        out->id[j] = id;
    }
}

static int same(const answer *a, const answer *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->id[i] != b->id[i])
            return 0;
    return 1;
}

static int contains(const answer *a, uint64_t id)
{
    for (int i = 0; i < a->n; i++)
        if (a->id[i] == id)
            return 1;
    return 0;
}

typedef struct cmp_stats {
    size_t identical, same_set_order, boundary, tie_cut, unexplained, nonavail;
    double worst_boundary_km, worst_tie_km;
} cmp_stats;

/*
 * a and b: two answers for p.  Explains every difference as a truck within
 * tol_b of the radius (boundary) or within tol_t of the distance where the
 * other answer was cut at 20 / of its neighbour in the order (tie).
 * Returns 1 when every difference is explained.
 */
static int explain(const data *d, const point *p, const answer *a, const answer *b, double tol_b, double tol_t,
                   cmp_stats *st, char *why, size_t whylen)
{
    const answer *ab[2] = {a, b};
    int boundary = 0, tie = 0;
    why[0] = '\0';
    if (same(a, b)) {
        st->identical++;
        return 1;
    }
    for (int s = 0; s < 2; s++) {
        const answer *x = ab[s], *o = ab[1 - s];
        double prev = 0;
        double olast = o->n ? fn_haversine_km(p->lat, p->lon, d->lat[o->id[o->n - 1]], d->lon[o->id[o->n - 1]]) : 0;
        for (int i = 0; i < x->n; i++) {
            uint64_t id = x->id[i];
            double km;
            if (id < 1 || id > d->n || !d->avail[id]) {
                st->nonavail++;
                snprintf(why, whylen, "driver %llu is not an available driver", (unsigned long long)id);
                return 0;
            }
            km = fn_haversine_km(p->lat, p->lon, d->lat[id], d->lon[id]);
            if (km > RADIUS_KM + tol_t) {
                snprintf(why, whylen, "driver %llu at %.4f km is outside the radius", (unsigned long long)id, km);
                return 0;
            }
            if (i && km < prev - tol_t) {
                snprintf(why, whylen, "answer %d is out of order at %d (%.4f km after %.4f km)", s, i, km, prev);
                return 0;
            }
            if (i && km < prev) {
                tie = 1;
                if (prev - km > st->worst_tie_km)
                    st->worst_tie_km = prev - km;
            }
            prev = km;
            if (contains(o, id))
                continue;
            /* In x, not in o: o stopped at 20 before it (a tie at the cut), or it is at the boundary. */
            if (o->n == LIMIT && km >= olast - tol_t) {
                tie = 1;
                if (olast - km > st->worst_tie_km)
                    st->worst_tie_km = olast - km;
            } else if (km >= RADIUS_KM - tol_b) {
                boundary = 1;
                if (RADIUS_KM - km > st->worst_boundary_km)
                    st->worst_boundary_km = RADIUS_KM - km;
            } else {
                snprintf(why, whylen,
                         "driver %llu at %.4f km is in answer %d only; the other has %d trucks, last at %.4f km", (unsigned long long)id, km,
                         s, o->n, olast);
                return 0;
            }
        }
    }
    if (boundary)
        st->boundary++;
    else if (tie && a->n == b->n) {
        /* same length: either same set in another order, or a swap at the cut */
        int sameset = 1;
        for (int i = 0; i < a->n; i++)
            sameset &= contains(b, a->id[i]);
        if (sameset)
            st->same_set_order++;
        else
            st->tie_cut++;
    } else
        st->tie_cut++;
    return 1;
}

/* ---------------------------------------------------------------- */

static void usage(FILE *f, const bu_opts *d)
{
    fprintf(f, "usage: bench_vs_redis [--data-dir DIR] [--scale S] [--connections C] [--batch B] [--points Q]\n"
               "                      [--seconds T] [--warmup W] [--threads N] [--break-check] [--keep]\n\n"
               "freightd vs Redis GEO: ingest of every driver's position and nearest-20-within-50-km queries.\n");
    bu_opts_help(f, d, 21, BU_OPT_DATA_DIR | BU_OPT_SCALE | BU_OPT_CONNECTIONS);
    bu_help_line(f, 21, "--batch B", "positions per POST and per Redis pipeline (default 10000)");
    bu_help_line(f, 21, "--points Q", "query points, city centres weighted by population (default 2000)");
    bu_help_line(f, 21, "--break-check", "drop the 5th truck of each freightd answer before the check\n"
                                         "(shows that the check fails on a real difference)");
    bu_opts_help(f, d, 21, BU_OPT_SECONDS | BU_OPT_WARMUP | BU_OPT_THREADS | BU_OPT_KEEP);
}

static int own_option(void *prog, const char *a, const char *v)
{
    options *o = prog;
    if (!strcmp(a, "--batch"))
        o->batch = (int)bu_num_arg(a, v, 1, 10000);
    else if (!strcmp(a, "--points"))
        o->points = (int)bu_num_arg(a, v, 1, 1000000);
    else if (!strcmp(a, "--break-check")) {
        o->break_check = 1;
        return 1;
    } else
        return 0;
    return 2;
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

int main(int argc, char **argv)
{
    options o;
    bu_setup su;
    data d;
    int rport;
    char rlog[PATH_MAX + 32];
    const char *extra_none[] = {NULL};
    double build_s;
    uint64_t t0;

    memset(&o, 0, sizeof(o));
    bu_opts_init(&o.c);
    o.c.takes = BU_OPT_DATA_DIR | BU_OPT_SCALE | BU_OPT_CONNECTIONS | BU_OPT_SECONDS | BU_OPT_WARMUP |
                BU_OPT_THREADS | BU_OPT_KEEP;
    o.c.connections = 4;
    o.c.max_connections = 64;
    o.c.connections_help = "client connections to each server, one thread each";
    o.batch = 10000;
    o.points = 2000;
    bu_opts_parse(argc, argv, &o.c, own_option, &o, usage);
    signal(SIGPIPE, SIG_IGN);
    memset(&d, 0, sizeof(d));
    atexit(cleanup_at_exit);

    /* Which drivers are available, from the snapshot, before any server runs. */
    {
        char bindir[PATH_MAX], freight[PATH_MAX + 16];
        bu_self_dir(bindir, sizeof(bindir));
        bu_pathf(freight, sizeof(freight), "%s/freight", bindir);
        bu_ensure_bulkload(freight, o.c.data_dir, o.c.scale);
    }
    load_available(o.c.data_dir, &d);

    g_su = &su;
    bu_setup_start(&su, o.c.data_dir, o.c.scale, o.c.threads, extra_none);
    if (!su.tok.ngateways || !su.tok.admin)
        bu_die("%s/bench-tokens.json lists no gateways or no admin token", o.c.data_dir);
    d.tok = &su.tok;
    {
        double nd = bu_metric_get(su.srv.port, "freightd_objects{kind=\"driver\"}");
        if (nd != (double)d.n)
            bu_die("freightd has %.0f drivers, the snapshot %llu", nd, (unsigned long long)d.n);
    }
    bu_pathf(rlog, sizeof(rlog), "%s/redis.log", su.scratch);
    redis_start(&rport, rlog);
    {
        char ver[64] = "";
        const char *args[] = {"INFO", "server"};
        static char big[16384];
        redis_simple(rport, 2, args, big, sizeof(big));
        const char *v = strstr(big, "redis_version:");
        if (v)
            sscanf(v + 14, "%63s", ver);
        printf("redis version %s\n", ver);
    }

    t0 = bu_now_ns();
    build_data(&d, o.batch);
    build_s = (double)(bu_now_ns() - t0) / 1e9;
    printf("pre-built %zu batches of %d positions for drivers 1..%llu in %.1f s (HTTP bodies, pipelined GEOADD, "
           "variadic GEOADD)\n",
           d.nbatches, o.batch, (unsigned long long)d.n, build_s);
    fflush(stdout);

    /* ---- ingest ---- */
    bu_lat lh, lp, lm;
    uint64_t dh, dp, dm, eh, ep, em;
    double sh, sp, sm, ph, pp, pm;
    bu_metrics m0, m1;
    double fd_cpu0 = bu_cpu_s(su.srv.pid), fd_cpu1, r_cpu0, r_cpu1, r_cpu2;
    bu_metrics_get(su.srv.port, &m0);
    ph = run_ingest(&d, ING_HTTP, su.srv.port, o.c.connections, &lh, &dh, &eh, &sh);
    fd_cpu1 = bu_cpu_s(su.srv.pid);
    bu_metrics_get(su.srv.port, &m1);
    r_cpu0 = bu_cpu_s(g_redis_pid);
    pp = run_ingest(&d, ING_REDIS_PIPE, rport, o.c.connections, &lp, &dp, &ep, &sp);
    r_cpu1 = bu_cpu_s(g_redis_pid);
    pm = run_ingest(&d, ING_REDIS_MULTI, rport, o.c.connections, &lm, &dm, &em, &sm);
    r_cpu2 = bu_cpu_s(g_redis_pid);
    if (eh || ep || em || dh != d.n || dp != d.n || dm != d.n)
        bu_die("ingest failed: freightd %llu/%llu positions (%llu errors), redis %llu and %llu (%llu, %llu errors)",
               (unsigned long long)dh, (unsigned long long)d.n, (unsigned long long)eh, (unsigned long long)dp,
               (unsigned long long)dm, (unsigned long long)ep, (unsigned long long)em);
    {
        const char *zc1[] = {"ZCARD", "truckp"}, *zc2[] = {"ZCARD", "trucks"};
        long long c1 = redis_simple(rport, 2, zc1, NULL, 0), c2 = redis_simple(rport, 2, zc2, NULL, 0);
        printf("redis holds %lld members in truckp (pipelined) and %lld in trucks (variadic); used_memory %.0f MB "
               "with both\n",
               c1, c2, redis_info(rport, "memory", "used_memory") / 1e6);
    }

    /* Same member set for the queries: drop the non-available drivers (not measured). */
    {
        rconn c = {.fd = -1};
        bu_str s = {0};
        uint64_t removed = 0, sent = 0;
        rreply r;
        const char *del[] = {"DEL", "truckp"};
        redis_simple(rport, 2, del, NULL, 0);
        if (rconn_open(&c, rport) != 0)
            bu_die("cannot connect to redis");
        for (uint64_t id = 1; id <= d.n; id++) {
            if (d.avail[id])
                continue;
            if (!s.len)
                bu_str_printf(&s, "*%llu\r\n$4\r\nZREM\r\n$6\r\ntrucks\r\n",
                              (unsigned long long)(2 + (d.n - d.navail - sent < 10000 ? d.n - d.navail - sent : 10000)));
            char m[24];
            int ml = snprintf(m, sizeof(m), "%llu", (unsigned long long)id);
            bu_str_printf(&s, "$%d\r\n%s\r\n", ml, m);
            sent++;
            if (sent % 10000 == 0 || sent == d.n - d.navail) {
                if (rconn_send(&c, s.p, s.len) != 0 || rconn_reply(&c, &r) != 0 || r.is_error)
                    bu_die("ZREM failed: %s", r.err);
                removed += (uint64_t)r.last_int;
                s.len = 0;
            }
        }
        bu_str_free(&s);
        rconn_free(&c);
        const char *zc[] = {"ZCARD", "trucks"};
        long long card = redis_simple(rport, 2, zc, NULL, 0);
        printf("removed %llu non-available drivers from redis: it holds %lld members, freightd indexes %llu "
               "available trucks; redis used_memory %.0f MB, freightd RSS below\n",
               (unsigned long long)removed, card, (unsigned long long)d.navail,
               redis_info(rport, "memory", "used_memory") / 1e6);
        if ((uint64_t)card != d.navail)
            bu_die("redis holds %lld members, expected %llu", card, (unsigned long long)d.navail);
    }

    /* ---- queries ---- */
    point *pts = bu_xmalloc((size_t)o.points * sizeof(*pts));
    {
        uint64_t rng = 4242;
        for (int i = 0; i < o.points; i++) {
            /* mean distance 0: the centre of a city drawn by population */
            bu_place(&rng, 0, &pts[i].lat, &pts[i].lon, &pts[i].city, NULL);
            snprintf(pts[i].lat_s, sizeof(pts[i].lat_s), "%.5f", pts[i].lat);
            snprintf(pts[i].lon_s, sizeof(pts[i].lon_s), "%.5f", pts[i].lon);
            pts[i].lat = strtod(pts[i].lat_s, NULL);
            pts[i].lon = strtod(pts[i].lon_s, NULL);
        }
    }
    qrun qf, qr;
    qresult rf, rr;
    memset(&qf, 0, sizeof(qf));
    qf.pts = pts;
    qf.npts = (size_t)o.points;
    qf.port = su.srv.port;
    qf.admin = su.tok.admin;
    qf.warmup = o.c.warmup;
    qf.seconds = o.c.seconds;
    qr = qf;
    qr.redis = 1;
    qr.port = rport;
    run_queries(&qf, o.c.connections, su.srv.pid, &rf);
    run_queries(&qr, o.c.connections, g_redis_pid, &rr);

    /* ---- check ---- */
    cmp_stats sfr, sfref, srref;
    size_t results_f = 0, results_r = 0, full = 0;
    double tol_t = 0.002; /* km: two 52-bit geohash cells' worth of distance error (0.3 m each way), doubled */
    double tol_b = RADIUS_KM * (REDIS_R_KM / FN_EARTH_RADIUS_KM - 1) + tol_t;
    int printed = 0;
    memset(&sfr, 0, sizeof(sfr));
    memset(&sfref, 0, sizeof(sfref));
    memset(&srref, 0, sizeof(srref));
    {
        byl *sorted = bu_xmalloc(d.navail * sizeof(*sorted));
        size_t ns = 0;
        bu_conn hc = {.fd = -1};
        rconn rc = {.fd = -1};
        bu_str scratch = {0};
        char why[256];
        for (uint64_t id = 1; id <= d.n; id++)
            if (d.avail[id])
                sorted[ns++] = (byl){d.lat[id], (uint32_t)id};
        qsort(sorted, ns, sizeof(*sorted), byl_cmp);
        if (bu_conn_open(&hc, su.srv.port) != 0 || rconn_open(&rc, rport) != 0)
            bu_die("cannot connect for the check");
        for (int i = 0; i < o.points; i++) {
            answer af, ar, aref;
            double dist[LIMIT];
            if (http_query(&hc, su.tok.admin, &pts[i], &af) != 0 || redis_query(&rc, &scratch, &pts[i], &ar) != 0)
                bu_die("a check query failed");
            reference(&d, sorted, ns, &pts[i], &aref, dist);
            if (o.break_check && af.n >= 5) {
                memmove(&af.id[4], &af.id[5], (size_t)(af.n - 5) * sizeof(af.id[0]));
                af.n--;
            }
            results_f += (size_t)af.n;
            results_r += (size_t)ar.n;
            full += af.n == LIMIT;
            int ok1 = explain(&d, &pts[i], &af, &ar, tol_b, tol_t, &sfr, why, sizeof(why));
            if (!ok1) {
                sfr.unexplained++;
                if (printed++ < 5)
                    printf("  UNEXPLAINED freightd vs redis at %s,%s (%s): %s\n", pts[i].lat_s, pts[i].lon_s,
                           pts[i].city, why);
            }
            /* freightd against the reference: same metric, so only exact ties may differ */
            if (!explain(&d, &pts[i], &af, &aref, 0, 1e-9, &sfref, why, sizeof(why))) {
                sfref.unexplained++;
                if (printed++ < 5)
                    printf("  UNEXPLAINED freightd vs reference at %s,%s (%s): %s\n", pts[i].lat_s, pts[i].lon_s,
                           pts[i].city, why);
            }
            if (!explain(&d, &pts[i], &ar, &aref, tol_b, tol_t, &srref, why, sizeof(why))) {
                srref.unexplained++;
                if (printed++ < 5)
                    printf("  UNEXPLAINED redis vs reference at %s,%s (%s): %s\n", pts[i].lat_s, pts[i].lon_s,
                           pts[i].city, why);
            }
        }
        free(sorted);
        bu_conn_free(&hc);
        rconn_free(&rc);
        bu_str_free(&scratch);
    }

    /* ---- report ---- */
    long rss_kb, hwm_kb, rrss_kb, rhwm_kb;
    bu_rss_kb(su.srv.pid, &rss_kb, &hwm_kb);
    bu_rss_kb(g_redis_pid, &rrss_kb, &rhwm_kb);
    printf("\nbench_vs_redis: %llu drivers (%llu available), %d connections each, batches of %d, freightd --threads %d, "
           "redis-server single-threaded, both on 127.0.0.1 with this client on the same %ld cpus\n",
           (unsigned long long)d.n, (unsigned long long)d.navail, o.c.connections, o.batch, o.c.threads,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("ingest (every driver's position once, %llu positions):\n", (unsigned long long)d.n);
    printf("  freightd POST /v1/positions   %9.0f positions/s  (%.2f s, fsync per batch; applied %.0f, stale %.0f; "
           "%.2f cores)\n",
           ph, sh, m1.positions_applied - m0.positions_applied, m1.positions_stale - m0.positions_stale,
           (fd_cpu1 - fd_cpu0) / sh);
    bu_lat_print("  freightd batch", &lh);
    printf("  redis GEOADD pipelined        %9.0f positions/s  (%.2f s, %d commands a round trip, no persistence; "
           "%.2f cores)\n",
           pp, sp, o.batch, (r_cpu1 - r_cpu0) / sp);
    bu_lat_print("  redis pipeline", &lp);
    printf("  redis GEOADD variadic         %9.0f positions/s  (%.2f s, %d members a command; %.2f cores)\n", pm, sm,
           o.batch, (r_cpu2 - r_cpu1) / sm);
    bu_lat_print("  redis command", &lm);
    printf("  ratio freightd / redis        %.2fx pipelined, %.2fx variadic   target >= 5x (vs pipelined): %s\n",
           ratio(ph, pp), ratio(ph, pm), ratio(ph, pp) >= 5 ? "met" : "MISSED");
    printf("nearest 20 within 50 km, %d query points (city centres from data/cn_cities.csv drawn by population), "
           "%.1f s measured after %.1f s warm-up:\n",
           o.points, o.c.seconds, o.c.warmup);
    printf("  freightd GET /v1/trucks       %9.0f queries/s  p50 %.3f ms  p99 %.3f ms  p999 %.3f ms  (%llu ok, %llu "
           "errors; server %.2f cores)\n",
           rf.qps, bu_lat_ms(&rf.lat, 0.5), bu_lat_ms(&rf.lat, 0.99), bu_lat_ms(&rf.lat, 0.999),
           (unsigned long long)rf.ok, (unsigned long long)rf.errors, rf.server_cpu);
    printf("  redis GEOSEARCH               %9.0f queries/s  p50 %.3f ms  p99 %.3f ms  p999 %.3f ms  (%llu ok, %llu "
           "errors; server %.2f cores)\n",
           rr.qps, bu_lat_ms(&rr.lat, 0.5), bu_lat_ms(&rr.lat, 0.99), bu_lat_ms(&rr.lat, 0.999),
           (unsigned long long)rr.ok, (unsigned long long)rr.errors, rr.server_cpu);
    printf("  ratio freightd / redis        %.2fx queries/s, p50 %.2fx faster   target >= 20x: %s\n",
           ratio(rf.qps, rr.qps), ratio(bu_lat_ms(&rr.lat, 0.5), bu_lat_ms(&rf.lat, 0.5)),
           ratio(rf.qps, rr.qps) >= 20 ? "met" : "MISSED");
    printf("same trucks? each of the %d points asked once more of both (%.1f trucks an answer from freightd, %.1f from "
           "redis; %zu answers full at 20); tolerances: boundary %.4f km, tie %.4f km\n",
           o.points, (double)results_f / o.points, (double)results_r / o.points, full, tol_b, tol_t);
    const struct {
        const char *name;
        cmp_stats *s;
    } rows[] = {{"freightd vs redis", &sfr}, {"freightd vs brute force", &sfref}, {"redis vs brute force", &srref}};
    for (int i = 0; i < 3; i++)
        printf("  %-24s %zu identical, %zu same trucks in another order (ties), %zu differ by a tie at the 20th "
               "place, %zu by a truck at the 50 km boundary, %zu UNEXPLAINED  (largest tie gap %.4f km, deepest "
               "boundary case %.4f km inside)\n",
               rows[i].name, rows[i].s->identical, rows[i].s->same_set_order, rows[i].s->tie_cut, rows[i].s->boundary,
               rows[i].s->unexplained, rows[i].s->worst_tie_km, rows[i].s->worst_boundary_km);
    printf("  check: %s\n", sfr.unexplained + sfref.unexplained + srref.unexplained == 0
                                ? "passed (every difference is a boundary or tie case)"
                                : "FAILED (see UNEXPLAINED above)");
    printf("memory: freightd VmRSS %.0f MB (peak %.0f MB, whole state), redis-server VmRSS %.0f MB (peak %.0f MB, "
           "positions only)\n",
           rss_kb / 1024.0, hwm_kb / 1024.0, rrss_kb / 1024.0, rhwm_kb / 1024.0);
    {
        double l1, l5, l15;
        FILE *f = fopen("/proc/loadavg", "r");
        if (f && fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) == 3)
            printf("load average at the end: %.2f %.2f %.2f\n", l1, l5, l15);
        if (f)
            fclose(f);
    }
    bu_print_footer(&su, argc, argv);

    /* Stop redis by PID, then freightd. */
    kill(g_redis_pid, SIGTERM);
    waitpid(g_redis_pid, NULL, 0);
    g_redis_pid = -1;
    bu_setup_finish(&su, o.c.keep);
    g_su = NULL;
    return 0;
}
