/*
 * bench_match_http.c — filtered top-20 matches within 150 km over HTTP
 * (GET /v1/loads/{id}/matches) while a gateway feed of positions keeps
 * arriving (POST /v1/positions), both against one freightd.
 *
 * Same shape as bench_positions and bench_loads: a scratch copy of a
 * bulkloaded data dir, bin/freightd on a free port (--rate-limit 0,
 * --threads N), then client threads on keep-alive connections for T
 * seconds after a warm-up:
 *
 *  - C query connections, closed loop: each asks for the matches of a
 *    random load (ids 1..number of loads, uniform) with the admin token and
 *    sends its next query as soon as the answer is in.  The admin sees
 *    exact truck positions; a company asking for its own load's matches
 *    gets positions snapped to 0.02-degree cells (docs/api.md, location
 *    privacy), computed from the snapped point.  A load that is not open
 *    (booked, cancelled, expired) is answered 409 load_not_open: counted
 *    on its own line, not as a failure.
 *  - G gateway connections, open loop: together they post --positions-per-s
 *    positions a second in batches of B, each request sent at its slot of a
 *    fixed schedule (or at once when the schedule is behind, as a buffering
 *    gateway would).  Each gateway owns a range of driver ids and walks it;
 *    every report moves its truck a few hundred metres from where it last
 *    was (a truck at 40-90 km/h reporting every ~30 s), starting from the
 *    positions in the snapshot, with ts = now.  Bodies are built by the
 *    gateway thread before the request's clock starts.
 *
 * The starting positions and the number of loads are read from the data
 * dir's snapshot in-process (as bench_match does) while the freshly started
 * server idles; the benchmark then talks to the server only over HTTP.
 *
 * Defaults: 8 query connections, 4 gateways (one bench gateway token
 * each), 77,000 positions/s in batches of 1,000, 20 s measured after 2 s
 * of warm-up, and the connections opened 5 ms apart: opened all at once,
 * libmicrohttpd's first woken pool thread accepts them all and serves them
 * one request at a time on one core (see bu_run); --connect-gap-ms 0 shows
 * that case.
 *
 * It prints queries/s, their latency percentiles, the positions/s achieved
 * and their latency, every answer class with counts, fsyncs, the server's
 * CPU, threads and memory, the machine and the command.  It never fails on
 * a number (STYLE.md); it exits non-zero only when it could not measure
 * (the server did not start, no query or no position request succeeded).
 *
 *   bin/bench_match_http [--data-dir DIR] [--scale S] [--connections C]
 *                        [--positions-per-s R] [--batch B] [--gateways G]
 *                        [--radius-km K] [--limit L] [--seconds T] [--warmup W]
 *                        [--threads N] [--connect-gap-ms G] [--perf FILE] [--keep]
 */
#include "bench_util.h"

#include "common/fn.h"
#include "core/state.h"
#include "store/snapfile.h"

#include <malloc.h>
#include <math.h>

typedef struct options {
    bu_opts c;          /* the common options; c.connections = query connections */
    double pos_rate;    /* positions/s over all gateways; 0 = none */
    int batch;          /* positions per POST */
    int gateways;       /* gateway connections */
    double radius_km;   /* radius_km of the query */
    int limit;          /* limit of the query */
} options;

/* ------------------------------------------------------------------ */
/* Answer classes: (status, error code) -> count                       */
/* ------------------------------------------------------------------ */

#define NCLASS 24

typedef struct aclass {
    int status; /* 0: the request failed on the connection (no answer) */
    char code[40];
    uint64_t window, total; /* inside the measured window; over the whole run */
} aclass;

typedef struct classes {
    aclass c[NCLASS];
    int n;
    uint64_t overflow;
} classes;

static void class_add(classes *cs, int status, const char *code, int in_window)
{
    int i;
    for (i = 0; i < cs->n; i++)
        if (cs->c[i].status == status && !strcmp(cs->c[i].code, code))
            break;
    if (i == cs->n) {
        if (cs->n == NCLASS) {
            cs->overflow++;
            return;
        }
        cs->c[i].status = status;
        snprintf(cs->c[i].code, sizeof(cs->c[i].code), "%s", code);
        cs->c[i].window = cs->c[i].total = 0;
        cs->n++;
    }
    cs->c[i].total++;
    cs->c[i].window += in_window != 0;
}

static void class_merge(classes *into, const classes *from)
{
    for (int i = 0; i < from->n; i++) {
        int j;
        for (j = 0; j < into->n; j++)
            if (into->c[j].status == from->c[i].status && !strcmp(into->c[j].code, from->c[i].code))
                break;
        if (j == into->n) {
            if (into->n == NCLASS) {
                into->overflow += from->c[i].total;
                continue;
            }
            into->c[j] = from->c[i];
            into->c[j].window = into->c[j].total = 0;
            into->n++;
        }
        into->c[j].window += from->c[i].window;
        into->c[j].total += from->c[i].total;
    }
    into->overflow += from->overflow;
}

/* The "code" of an error body ({"error":{"code":"...",...}}), or "-". */
static void error_code(const char *body, size_t len, char *out, size_t n)
{
    const char *p = memmem(body, len, "\"code\":\"", 8);
    size_t k = 0;
    snprintf(out, n, "-");
    if (!p)
        return;
    p += 8;
    while (p < body + len && *p != '"' && k + 1 < n)
        out[k++] = *p++;
    out[k] = '\0';
}

/* What an answer class means: 0 success, 1 a load that is not open (an
 * answer, not a failure: the route's 409 load_not_open), 2 a failure. */
static int class_kind(const aclass *a)
{
    if (a->status == 200)
        return 0;
    if (a->status == 409 && (!strcmp(a->code, "load_not_open") || !strcmp(a->code, "already_booked")))
        return 1;
    return 2;
}

/* Prints every class seen, one a line, and returns the failures (kind 2)
 * in the window. */
static uint64_t class_print(const char *label, const classes *cs, double seconds)
{
    static const char *const kinds[] = {"", "  (load not open: not a failure)", "  (failure)"};
    uint64_t failed = 0;
    int printed = 0;
    for (int i = 0; i < cs->n; i++) {
        const aclass *a = &cs->c[i];
        char name[80];
        int k = class_kind(a);
        if (a->status == 0)
            snprintf(name, sizeof(name), "no answer (connection failed)");
        else
            snprintf(name, sizeof(name), "%d %s", a->status, a->code);
        printf("  %-22s %-30s %9llu in the window (%.1f/s), %llu in the whole run%s\n", printed ? "" : label, name,
               (unsigned long long)a->window, (double)a->window / seconds, (unsigned long long)a->total, kinds[k]);
        if (k == 2)
            failed += a->window;
        printed = 1;
    }
    if (cs->overflow) {
        printf("  %-22s %llu answers of further classes not told apart (failures)\n", printed ? "" : label,
               (unsigned long long)cs->overflow);
        failed += cs->overflow;
    } else if (!printed)
        printf("  %-22s none\n", label);
    return failed;
}

/* ------------------------------------------------------------------ */
/* Shared run state                                                    */
/* ------------------------------------------------------------------ */

typedef struct run {
    int port;
    int phase; /* BU_PHASE_* */
    uint64_t nloads;
    const char *admin;
    const options *o;
    /* trucks: the position each gateway last reported (or the snapshot's) */
    uint64_t ndrivers;
    double *lat, *lon; /* index driver id - 1 */
    const bu_tokens *tok;
    uint64_t sched_start; /* first slot of the position schedule (ns) */
    int reported;         /* error lines printed so far */
} run;

typedef struct qworker {
    pthread_t thread;
    int index;
    run *r;
    bu_conn conn;
    bu_lat lat;           /* 200 answers in the window */
    bu_lat lat_other;     /* other answers in the window */
    uint64_t ok, matches, bytes; /* 200 answers in the window, matches in them, their body bytes */
    classes cls;
} qworker;

typedef struct gworker {
    pthread_t thread;
    int index;
    run *r;
    bu_conn conn;
    uint64_t first, count, next; /* owns drivers first..first+count-1; next to report (offset) */
    uint64_t interval_ns, offset_ns;
    uint64_t rng;
    bu_lat lat;                                  /* answered requests in the window */
    uint64_t requests, accepted, rejected;       /* 200 answers in the window */
    uint64_t sent_total, accepted_total;         /* the whole run */
    uint64_t max_behind_ns;                      /* worst lateness against the schedule, in the window */
    uint64_t behind_sends;                       /* sends in the window more than 10 ms late */
    classes cls;
    char *body;
    size_t cap;
} gworker;

static int phase_of(run *r) { return __atomic_load_n(&r->phase, __ATOMIC_ACQUIRE); }

static void report_err(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_err(run *r, const char *fmt, ...)
{
    va_list ap;
    if (__atomic_fetch_add(&r->reported, 1, __ATOMIC_RELAXED) >= 8)
        return;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Query connections                                                   */
/* ------------------------------------------------------------------ */

static uint64_t count_mem(const char *s, size_t len, const char *needle)
{
    uint64_t n = 0;
    size_t nl = strlen(needle);
    const char *end = s + len;
    while (s < end && (s = memmem(s, (size_t)(end - s), needle, nl)) != NULL) {
        n++;
        s += nl;
    }
    return n;
}

static void *query_main(void *arg)
{
    qworker *w = arg;
    run *r = w->r;
    uint64_t rng = 0x51ed270b27ull * (uint64_t)(w->index + 1);
    char path[128];
    while (phase_of(r) != BU_PHASE_STOP) {
        uint64_t id = 1 + bu_rand(&rng) % r->nloads, t0, t1;
        bu_resp resp;
        int rc, in;
        snprintf(path, sizeof(path), "/v1/loads/%llu/matches?radius_km=%g&limit=%d", (unsigned long long)id,
                 r->o->radius_km, r->o->limit);
        t0 = bu_now_ns();
        rc = bu_request(&w->conn, "GET", path, r->admin, NULL, NULL, 0, &resp);
        t1 = bu_now_ns();
        in = phase_of(r) == BU_PHASE_MEASURE;
        if (rc != 0) {
            class_add(&w->cls, 0, "", in);
            report_err(r, "query connection %d: %s failed: %s", w->index, path, w->conn.err);
            if (w->conn.fd < 0)
                bu_sleep_ms(100); /* do not spin if the server is gone */
            continue;
        }
        if (resp.status == 200) {
            class_add(&w->cls, 200, "ok", in);
            if (in) {
                w->ok++;
                w->matches += count_mem(resp.body, resp.body_len, "\"driver_id\":");
                w->bytes += resp.body_len;
                bu_lat_add(&w->lat, t1 - t0);
            }
        } else {
            char code[40];
            error_code(resp.body, resp.body_len, code, sizeof(code));
            class_add(&w->cls, resp.status, code, in);
            if (in)
                bu_lat_add(&w->lat_other, t1 - t0);
            if (resp.status != 409)
                report_err(r, "query connection %d: %s: status %d: %.300s", w->index, path, resp.status, resp.body);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Gateway connections                                                 */
/* ------------------------------------------------------------------ */

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* v with `dec` decimals (dec <= 6), like printf("%.*f"). */
static char *put_fixed(char *p, double v, int dec)
{
    static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    int64_t q;
    uint64_t ip, fp, div = 1;
    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    q = llround(v * scale[dec]);
    for (int i = 0; i < dec; i++)
        div *= 10;
    ip = (uint64_t)q / div;
    fp = (uint64_t)q % div;
    p = put_u64(p, ip);
    if (dec) {
        *p++ = '.';
        for (uint64_t d = div / 10; d; d /= 10) {
            *p++ = (char)('0' + fp / d);
            fp %= d;
        }
    }
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* The next batch of this gateway: its next B drivers, each moved 100 m to
 * ~700 m from its last position, ts = now.  Returns the body length. */
static size_t build_batch(gworker *g, int batch)
{
    run *r = g->r;
    int64_t ts = (int64_t)time(NULL);
    char *p;
    if (!g->body) {
        g->cap = (size_t)batch * 128 + 64;
        g->body = bu_xmalloc(g->cap);
    }
    p = put_str(g->body, "{\"positions\":[");
    for (int i = 0; i < batch; i++) {
        uint64_t id = g->first + g->next;
        double *la = &r->lat[id - 1], *lo = &r->lon[id - 1];
        double speed = 40 + bu_unit(&g->rng) * 50;      /* km/h */
        double step = 0.1 + bu_unit(&g->rng) * 0.6;     /* km since the last report */
        double head = bu_unit(&g->rng) * 360.0;         /* degrees, 0 = north */
        double hr = head * M_PI / 180.0;
        *la += step * cos(hr) / 111.32;
        *lo += step * sin(hr) / (111.32 * cos(*la * M_PI / 180.0));
        *la = *la < 18.01 ? 18.01 : *la > 53.99 ? 53.99 : *la;
        *lo = *lo < 73.01 ? 73.01 : *lo > 134.99 ? 134.99 : *lo;
        if (i)
            *p++ = ',';
        p = put_str(p, "{\"driver_id\":");
        p = put_u64(p, id);
        p = put_str(p, ",\"lat\":");
        p = put_fixed(p, *la, 5);
        p = put_str(p, ",\"lon\":");
        p = put_fixed(p, *lo, 5);
        p = put_str(p, ",\"ts\":");
        p = put_u64(p, (uint64_t)ts);
        p = put_str(p, ",\"speed_kmh\":");
        p = put_fixed(p, speed, 1);
        p = put_str(p, ",\"heading_deg\":");
        p = put_u64(p, (uint64_t)head % 360);
        *p++ = '}';
        g->next = (g->next + 1) % g->count;
    }
    p = put_str(p, "]}");
    *p = '\0';
    return (size_t)(p - g->body);
}

static void sleep_until(uint64_t t_ns)
{
    struct timespec ts = {(time_t)(t_ns / 1000000000ull), (long)(t_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void *gateway_main(void *arg)
{
    gworker *g = arg;
    run *r = g->r;
    const char *tok = r->tok->gateways[(size_t)g->index % r->tok->ngateways].token;
    uint64_t slot = r->sched_start + g->offset_ns;
    while (phase_of(r) != BU_PHASE_STOP) {
        size_t len = build_batch(g, r->o->batch);
        uint64_t t0, t1, now = bu_now_ns();
        bu_resp resp;
        int rc, in;
        if (now < slot) {
            sleep_until(slot);
            if (phase_of(r) == BU_PHASE_STOP)
                break;
        }
        t0 = bu_now_ns();
        if (phase_of(r) == BU_PHASE_MEASURE && t0 > slot) {
            if (t0 - slot > g->max_behind_ns)
                g->max_behind_ns = t0 - slot;
            if (t0 - slot > 10000000ull)
                g->behind_sends++;
        }
        rc = bu_request(&g->conn, "POST", "/v1/positions", tok, "application/json", g->body, len, &resp);
        t1 = bu_now_ns();
        in = phase_of(r) == BU_PHASE_MEASURE;
        slot += g->interval_ns;
        g->sent_total++;
        if (rc != 0) {
            class_add(&g->cls, 0, "", in);
            report_err(r, "gateway connection %d: POST /v1/positions failed: %s", g->index, g->conn.err);
            if (g->conn.fd < 0)
                bu_sleep_ms(100);
            continue;
        }
        if (resp.status == 200) {
            const char *acc = strstr(resp.body, "\"accepted\":");
            uint64_t a = acc ? strtoull(acc + 11, NULL, 10) : 0;
            uint64_t rej = count_mem(resp.body, resp.body_len, "\"index\":");
            class_add(&g->cls, 200, "ok", in);
            g->accepted_total += a;
            if (rej)
                report_err(r, "gateway connection %d: %llu positions rejected: %.300s", g->index,
                           (unsigned long long)rej, resp.body);
            if (in) {
                g->requests++;
                g->accepted += a;
                g->rejected += rej;
                bu_lat_add(&g->lat, t1 - t0);
            }
        } else {
            char code[40];
            error_code(resp.body, resp.body_len, code, sizeof(code));
            class_add(&g->cls, resp.status, code, in);
            report_err(r, "gateway connection %d: status %d: %.300s", g->index, resp.status, resp.body);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Starting positions from the snapshot                                */
/* ------------------------------------------------------------------ */

/* Reads dir/snap into memory (no server, nothing written), keeps each
 * driver's last position (a place near a city when it has none) and the
 * number of loads, and frees the rest. */
static void read_snapshot(const char *dir, run *r)
{
    char snapdir[PATH_MAX], err[256] = "";
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, 0.2};
    fn_state *s = fn_state_new(&cfg);
    fn_snapr *sr;
    uint64_t seq, t0 = bu_now_ns(), without = 0, rng = 7;
    bu_pathf(snapdir, sizeof(snapdir), "%s/snap", dir);
    if (fn_snapr_open(&sr, snapdir, &seq, err, sizeof(err)) != 0 || fn_state_snap_load(s, sr) != 0 ||
        fn_snapr_close(sr) != 0)
        bu_die("cannot load the snapshot in %s: %s", snapdir, err);
    r->ndrivers = fn_state_next_driver_id(s) - 1;
    r->nloads = fn_state_next_load_id(s) - 1;
    r->lat = bu_xmalloc((r->ndrivers ? r->ndrivers : 1) * sizeof(double));
    r->lon = bu_xmalloc((r->ndrivers ? r->ndrivers : 1) * sizeof(double));
    for (uint64_t id = 1; id <= r->ndrivers; id++) {
        const fn_driver *d = fn_state_driver(s, id);
        if (d && d->pos_ts > 0) {
            r->lat[id - 1] = d->lat;
            r->lon[id - 1] = d->lon;
        } else {
            bu_place(&rng, 15, &r->lat[id - 1], &r->lon[id - 1], NULL, NULL);
            without++;
        }
    }
    fn_state_free(s);
    malloc_trim(0);
    printf("read %s: %llu drivers (%llu without a position, placed near a city), %llu loads, in %.1f s\n", snapdir,
           (unsigned long long)r->ndrivers, (unsigned long long)without, (unsigned long long)r->nloads,
           (double)(bu_now_ns() - t0) / 1e9);
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(FILE *f, const bu_opts *d)
{
    fprintf(f, "usage: bench_match_http [--data-dir DIR] [--scale S] [--connections C]\n"
               "                        [--positions-per-s R] [--batch B] [--gateways G]\n"
               "                        [--radius-km K] [--limit L] [--seconds T] [--warmup W]\n"
               "                        [--threads N] [--connect-gap-ms G] [--perf FILE] [--keep]\n\n"
               "Matches per second through GET /v1/loads/{id}/matches (admin token, random loads)\n"
               "while gateways post positions at a fixed rate through POST /v1/positions.\n");
    bu_opts_help(f, d, 24, BU_OPT_DATA_DIR | BU_OPT_SCALE | BU_OPT_CONNECTIONS);
    bu_help_line(f, 24, "--positions-per-s R", "positions a second posted over all gateways (default 77000;\n"
                                               "0: no positions)");
    bu_help_line(f, 24, "--batch B", "positions per POST, at most 10000 (default 1000)");
    bu_help_line(f, 24, "--gateways G", "gateway connections sharing the rate, one gateway token each\n"
                                          "(default 4)");
    bu_help_line(f, 24, "--radius-km K", "radius_km of each query (default 150)");
    bu_help_line(f, 24, "--limit L", "limit of each query (default 20)");
    bu_opts_help(f, d, 24, BU_OPT_SECONDS | BU_OPT_WARMUP | BU_OPT_THREADS | BU_OPT_CONNECT_GAP | BU_OPT_PERF |
                              BU_OPT_KEEP);
}

static int own_option(void *prog, const char *a, const char *v)
{
    options *o = prog;
    if (!strcmp(a, "--positions-per-s"))
        o->pos_rate = bu_num_arg(a, v, 0, 1e8);
    else if (!strcmp(a, "--batch"))
        o->batch = (int)bu_num_arg(a, v, 1, 10000);
    else if (!strcmp(a, "--gateways"))
        o->gateways = (int)bu_num_arg(a, v, 1, 64);
    else if (!strcmp(a, "--radius-km"))
        o->radius_km = bu_num_arg(a, v, 1, 500);
    else if (!strcmp(a, "--limit"))
        o->limit = (int)bu_num_arg(a, v, 1, 100);
    else
        return 0;
    return 2;
}

static void parse(int argc, char **argv, options *o)
{
    bu_opts_init(&o->c);
    o->c.connections = 8;
    o->c.connections_help = "query connections, one thread each";
    o->c.seconds = 20;
    o->c.warmup = 2;
    o->c.connect_gap_ms = 5; /* one accept burst would pin every connection to one pool thread */
    o->pos_rate = 77000;
    o->batch = 1000;
    o->gateways = 4;
    o->radius_km = 150;
    o->limit = 20;
    bu_opts_parse(argc, argv, &o->c, own_option, o, usage);
}

/* ------------------------------------------------------------------ */

/* A bu_die after the server started stops it and removes the scratch copy. */
static bu_setup *cleanup_su;
static int cleanup_keep;
static void cleanup(void)
{
    if (cleanup_su && cleanup_su->srv.pid > 0)
        bu_setup_finish(cleanup_su, cleanup_keep);
}

int main(int argc, char **argv)
{
    options o;
    bu_setup su;
    bu_window w; /* filled here for bu_print_fsyncs and bu_print_resources */
    run r;
    qworker *qs;
    gworker *gs = NULL;
    int ng;
    uint64_t t0, t1, drivers_each;
    double scpu0, ccpu0, mbusy0, secs;
    pid_t perf_pid = -1, tids0[256], tids1[256];
    uint64_t run0[256], run1[256];
    int nt0, nt1;
    bu__sampler sm;
    bu_lat qlat = {0}, qlat_other = {0}, glat = {0};
    classes qcls = {0}, gcls = {0};
    uint64_t q_ok = 0, q_matches = 0, q_bytes = 0, g_req = 0, g_acc = 0, g_rej = 0, g_behind = 0, g_maxbehind = 0;
    double qps, pos_s;
    uint64_t q_failed, g_failed = 0;

    parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    memset(&r, 0, sizeof(r));
    r.o = &o;
    ng = o.pos_rate > 0 ? o.gateways : 0;

    bu_setup_start(&su, o.c.data_dir, o.c.scale, o.c.threads, NULL);
    cleanup_su = &su;
    cleanup_keep = o.c.keep;
    atexit(cleanup);
    /* The starting positions and the load count (the server idles meanwhile). */
    read_snapshot(o.c.data_dir, &r);
    if (!r.nloads)
        bu_die("the state in %s has no loads", o.c.data_dir);
    if (ng && !r.ndrivers)
        bu_die("the state in %s has no drivers to post positions for", o.c.data_dir);
    if (ng > 0 && (uint64_t)ng > r.ndrivers)
        ng = (int)r.ndrivers;
    if (!su.tok.admin)
        bu_die("%s/bench-tokens.json has no admin token", o.c.data_dir);
    if (ng && !su.tok.ngateways)
        bu_die("%s/bench-tokens.json lists no gateways", o.c.data_dir);
    r.port = su.srv.port;
    r.admin = su.tok.admin;
    r.tok = &su.tok;
    r.phase = BU_PHASE_WARMUP;
    {
        double sl = bu_metric_get(su.srv.port, "freightd_objects{kind=\"load\"}");
        printf("freightd reports %.0f loads (freightd_objects{kind=\"load\"}); querying ids 1..%llu\n", sl,
               (unsigned long long)r.nloads);
    }

    /* Connections: gateways first, then the query connections, one at a
     * time and connect_gap_ms apart when asked (see bu_run). */
    qs = calloc((size_t)o.c.connections, sizeof(*qs));
    if (ng)
        gs = calloc((size_t)ng, sizeof(*gs));
    if (!qs || (ng && !gs))
        bu_die("out of memory");
    drivers_each = ng ? r.ndrivers / (uint64_t)ng : 0;
    for (int i = 0; i < ng; i++) {
        gworker *g = &gs[i];
        double per_gw = o.pos_rate / ng;
        g->index = i;
        g->r = &r;
        g->first = 1 + (uint64_t)i * drivers_each;
        g->count = i == ng - 1 ? r.ndrivers - (uint64_t)i * drivers_each : drivers_each;
        g->interval_ns = (uint64_t)((double)o.batch * 1e9 / per_gw);
        g->offset_ns = g->interval_ns * (uint64_t)i / (uint64_t)ng; /* spread the gateways' slots */
        g->rng = 0x6a09e667f3bcc909ull ^ (uint64_t)(i + 1);
        g->conn.fd = -1;
        g->conn.port = su.srv.port;
        if (o.c.connect_gap_ms > 0) {
            if (bu_conn_open(&g->conn, su.srv.port) != 0)
                bu_die("%s", g->conn.err);
            bu_sleep_ms(o.c.connect_gap_ms);
        }
    }
    for (int i = 0; i < o.c.connections; i++) {
        qs[i].index = i;
        qs[i].r = &r;
        qs[i].conn.fd = -1;
        qs[i].conn.port = su.srv.port;
        if (o.c.connect_gap_ms > 0) {
            if (bu_conn_open(&qs[i].conn, su.srv.port) != 0)
                bu_die("%s", qs[i].conn.err);
            bu_sleep_ms(o.c.connect_gap_ms);
        }
    }
    r.sched_start = bu_now_ns();
    for (int i = 0; i < ng; i++)
        if (pthread_create(&gs[i].thread, NULL, gateway_main, &gs[i]) != 0)
            bu_die("cannot start gateway thread %d", i);
    for (int i = 0; i < o.c.connections; i++)
        if (pthread_create(&qs[i].thread, NULL, query_main, &qs[i]) != 0)
            bu_die("cannot start query thread %d", i);
    bu_sleep_ms((unsigned)(o.c.warmup * 1000));

    /* The measured window, bracketed like bu_run's. */
    memset(&w, 0, sizeof(w));
    memset(&sm, 0, sizeof(sm));
    sm.pid = su.srv.pid;
    sm.out = &w;
    if (bu_metrics_get(su.srv.port, &w.m0) != 0)
        bu_die("cannot read /metrics");
    scpu0 = bu_cpu_s(su.srv.pid);
    ccpu0 = bu__client_cpu_s();
    mbusy0 = bu_machine_busy_s();
    nt0 = bu_thread_runtimes(su.srv.pid, "MHD-worker", tids0, run0, 256);
    t0 = bu_now_ns();
    __atomic_store_n(&r.phase, BU_PHASE_MEASURE, __ATOMIC_RELEASE);
    if (o.c.perf_out)
        perf_pid = bu_perf_start(o.c.perf_out, su.srv.pid, o.c.seconds);
    if (pthread_create(&sm.thread, NULL, bu__sampler_main, &sm) != 0)
        bu_die("cannot start the memory sampler");
    bu_sleep_ms((unsigned)(o.c.seconds * 1000));
    __atomic_store_n(&r.phase, BU_PHASE_STOP, __ATOMIC_RELEASE);
    t1 = bu_now_ns();
    secs = (double)(t1 - t0) / 1e9;
    nt1 = bu_thread_runtimes(su.srv.pid, "MHD-worker", tids1, run1, 256);
    w.workers = nt1;
    for (int i = 0; i < nt1; i++)
        for (int j = 0; j < nt0; j++)
            if (tids1[i] == tids0[j]) {
                double share = (double)(run1[i] - run0[j]) / (secs * 1e9);
                if (share >= 0.01 && w.workers_busy < 64) {
                    int k = w.workers_busy++;
                    while (k > 0 && w.worker_share[k - 1] < share) {
                        w.worker_share[k] = w.worker_share[k - 1];
                        k--;
                    }
                    w.worker_share[k] = share;
                }
            }
    __atomic_store_n(&sm.stop, 1, __ATOMIC_RELEASE);
    pthread_join(sm.thread, NULL);
    w.server_cpu = (bu_cpu_s(su.srv.pid) - scpu0) / secs;
    w.client_cpu = (bu__client_cpu_s() - ccpu0) / secs;
    w.other_cpu = (bu_machine_busy_s() - mbusy0) / secs - w.server_cpu - w.client_cpu;
    if (w.other_cpu < 0)
        w.other_cpu = 0;
    bu_rss_kb(su.srv.pid, &w.rss_kb, &w.hwm_kb);
    for (int i = 0; i < ng; i++)
        pthread_join(gs[i].thread, NULL);
    for (int i = 0; i < o.c.connections; i++)
        pthread_join(qs[i].thread, NULL);
    if (bu_metrics_get(su.srv.port, &w.m1) != 0)
        bu_die("cannot read /metrics");
    if (perf_pid > 0)
        waitpid(perf_pid, NULL, 0);
    w.seconds = secs;

    for (int i = 0; i < o.c.connections; i++) {
        qworker *q = &qs[i];
        q_ok += q->ok;
        q_matches += q->matches;
        q_bytes += q->bytes;
        bu_lat_merge(&qlat, &q->lat);
        bu_lat_merge(&qlat_other, &q->lat_other);
        class_merge(&qcls, &q->cls);
        bu_lat_free(&q->lat);
        bu_lat_free(&q->lat_other);
        bu_conn_free(&q->conn);
    }
    for (int i = 0; i < ng; i++) {
        gworker *g = &gs[i];
        g_req += g->requests;
        g_acc += g->accepted;
        g_rej += g->rejected;
        g_behind += g->behind_sends;
        if (g->max_behind_ns > g_maxbehind)
            g_maxbehind = g->max_behind_ns;
        bu_lat_merge(&glat, &g->lat);
        class_merge(&gcls, &g->cls);
        bu_lat_free(&g->lat);
        bu_conn_free(&g->conn);
        free(g->body);
    }
    w.requests = g_req;
    w.items = g_acc;
    w.rejected = g_rej;

    qps = (double)q_ok / secs;
    pos_s = (double)g_acc / secs;
    printf("\nbench_match_http: GET /v1/loads/{id}/matches?radius_km=%g&limit=%d for random loads 1..%llu, admin "
           "token, %d query connections",
           o.radius_km, o.limit, (unsigned long long)r.nloads, o.c.connections);
    if (ng)
        printf(", while %d gateway connection%s post%s %.0f positions/s in batches of %d", ng, ng > 1 ? "s" : "",
               ng > 1 ? "" : "s", o.pos_rate, o.batch);
    else
        printf(", no positions posted");
    printf("; %.1f s measured after %.1f s warm-up, freightd --threads %d --rate-limit 0\n", secs, o.c.warmup,
           o.c.threads);
    printf("  queries/s              %.0f (200 answers with matches in the window)\n", qps);
    bu_lat_print("query latency", &qlat);
    printf("  per answer             %.1f matches, %.1f KB of JSON on average\n",
           q_ok ? (double)q_matches / (double)q_ok : 0.0, q_ok ? (double)q_bytes / (double)q_ok / 1024 : 0.0);
    printf("  view                   admin: exact truck positions and distances (a company asking for its own\n"
           "                         load gets positions snapped to 0.02-degree cells, distances from them)\n");
    q_failed = class_print("query answers", &qcls, secs);
    printf("  query failures         %llu in the window\n", (unsigned long long)q_failed);
    if (qlat_other.n)
        bu_lat_print("non-200 query latency", &qlat_other);
    if (ng) {
        printf("  positions/s            %.0f achieved of %.0f asked (%.1f requests/s of %d positions)\n", pos_s,
               o.pos_rate, (double)g_req / secs, o.batch);
        bu_lat_print("position latency", &glat);
        printf("  schedule               %llu sends in the window more than 10 ms behind their slot; worst %.1f ms "
               "behind\n",
               (unsigned long long)g_behind, (double)g_maxbehind / 1e6);
        g_failed = class_print("position answers", &gcls, secs);
        printf("  position failures      %llu requests in the window\n", (unsigned long long)g_failed);
        printf("  rejected               %llu positions rejected in the window\n", (unsigned long long)g_rej);
        printf("  applied / stale        %.0f / %.0f positions (server counters)\n",
               w.m1.positions_applied - w.m0.positions_applied, w.m1.positions_stale - w.m0.positions_stale);
        bu_print_fsyncs(&w, "positions");
    }
    bu_print_resources(&w);
    bu_print_perf(o.c.perf_out);
    printf("  target                 >= 30000 queries/s with 77000 positions/s arriving, 2-core machine: %s\n",
           ng && o.pos_rate >= 77000 && pos_s < 0.99 * 77000 ? "not measured (positions fell short of 77000/s)"
           : !ng || o.pos_rate < 77000                       ? "not measured (fewer than 77000 positions/s asked)"
           : qps >= 30000                                    ? "met"
                                                             : "MISSED");
    bu_print_footer(&su, argc, argv);
    bu_setup_finish(&su, o.c.keep);

    bu_lat_free(&qlat);
    bu_lat_free(&qlat_other);
    bu_lat_free(&glat);
    free(qs);
    free(gs);
    free(r.lat);
    free(r.lon);
    if (!q_ok) {
        fprintf(stderr, "bench: no query was answered 200 in the window\n");
        return 1;
    }
    if (ng && !g_req) {
        fprintf(stderr, "bench: no position request was answered 200 in the window\n");
        return 1;
    }
    return 0;
}
