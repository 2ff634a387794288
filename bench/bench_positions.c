/*
 * bench_positions.c — truck positions per second through batched
 * POST /v1/positions, with every batch fsynced (group commit) before its
 * reply, the way telematics gateways feed the national state.
 *
 * It makes a scratch copy of a bulkloaded data dir (so the national state
 * it was given stays snapshot-only), starts bin/freightd on it on a free
 * port, pre-builds the request bodies (each request a distinct range of
 * driver ids; positions around cities, ts = now) so that building JSON
 * is not measured, then runs C client threads, each on one keep-alive
 * connection with a gateway token, for T seconds after a warm-up, and
 * prints throughput, latency percentiles, fsyncs (from /metrics) and the
 * server's memory.  It never fails on a number (STYLE.md); it exits
 * non-zero only when it cannot measure.
 *
 * Places follow bulkload's distribution (cities weighted by population,
 * trucks scattered around them).  A driver's reported place is a fixed
 * function of its id, so the first pass over the drivers moves nearly every
 * truck to another grid cell (0.1 degree) and later passes report the same
 * place again; a real feed sits in between (a truck at 60 km/h reporting
 * every 30 s changes cell on a few percent of its reports).
 *
 *   bin/bench_positions [--data-dir DIR] [--scale S] [--connections C]
 *                       [--batch B] [--seconds T] [--warmup W] [--threads N]
 *                       [--connect-gap-ms G] [--pool-mb M] [--perf FILE] [--keep]
 */
#include "bench_util.h"

#include <math.h>

typedef struct options {
    bu_opts c; /* the common options */
    int batch;
    double pool_mb;
} options;

typedef struct body {
    char *p;
    size_t len;
} body;

typedef struct ctx {
    body *bodies;
    size_t nbodies;
    const bu_tokens *tok;
    int reported; /* errors printed so far */
} ctx;

static void usage(FILE *f, const bu_opts *d)
{
    fprintf(f, "usage: bench_positions [--data-dir DIR] [--scale S] [--connections C] [--batch B]\n"
               "                       [--seconds T] [--warmup W] [--threads N] [--connect-gap-ms G]\n"
               "                       [--pool-mb M] [--perf FILE] [--keep]\n\n"
               "Positions per second through batched POST /v1/positions with fsync on.\n");
    bu_opts_help(f, d, 21, BU_OPT_DATA_DIR | BU_OPT_SCALE | BU_OPT_CONNECTIONS);
    bu_help_line(f, 21, "--batch B", "positions per request, at most 10000 (default 10000)");
    bu_opts_help(f, d, 21, BU_OPT_SECONDS | BU_OPT_WARMUP | BU_OPT_THREADS | BU_OPT_CONNECT_GAP);
    bu_help_line(f, 21, "--pool-mb M", "cap on pre-built request bodies (default 512)");
    bu_opts_help(f, d, 21, BU_OPT_PERF | BU_OPT_KEEP);
}

static int own_option(void *prog, const char *a, const char *v)
{
    options *o = prog;
    if (!strcmp(a, "--batch"))
        o->batch = (int)bu_num_arg(a, v, 1, 10000);
    else if (!strcmp(a, "--pool-mb"))
        o->pool_mb = bu_num_arg(a, v, 1, 65536);
    else
        return 0;
    return 2;
}

static void parse(int argc, char **argv, options *o)
{
    bu_opts_init(&o->c);
    o->c.connections = 4;
    o->c.connections_help = "client connections, one thread each";
    o->batch = 10000;
    o->pool_mb = 512;
    bu_opts_parse(argc, argv, &o->c, own_option, o, usage);
}

/* Body k holds drivers [k*B+1, k*B+B] (wrapping around the driver count),
 * for as many bodies as cover every driver or fit the pool cap. */
static void build_bodies(ctx *x, uint64_t ndrivers, int batch, double pool_mb)
{
    uint64_t want = (ndrivers + (uint64_t)batch - 1) / (uint64_t)batch;
    uint64_t cap = (uint64_t)(pool_mb * 1e6 / (105.0 * batch)); /* about 105 bytes a position */
    int64_t ts = (int64_t)time(NULL);
    uint64_t id = 1;
    if (cap < 1)
        cap = 1;
    x->nbodies = (size_t)(want < cap ? want : cap);
    x->bodies = bu_xmalloc(x->nbodies * sizeof(*x->bodies));
    for (size_t k = 0; k < x->nbodies; k++) {
        bu_str s = {0};
        bu_str_reserve(&s, (size_t)batch * 110 + 32);
        bu_str_printf(&s, "{\"positions\":[");
        for (int i = 0; i < batch; i++) {
            uint64_t rng = id * 0x9e3779b97f4a7c15ull; /* the place depends on the driver id only */
            double lat, lon, speed, heading;
            bu_place(&rng, 15, &lat, &lon, NULL, NULL);
            speed = floor(bu_unit(&rng) * 1000.0) / 10.0;
            heading = floor(bu_unit(&rng) * 360.0);
            bu_str_printf(&s,
                          "%s{\"driver_id\":%llu,\"lat\":%.5f,\"lon\":%.5f,\"ts\":%lld,\"speed_kmh\":%.1f,"
                          "\"heading_deg\":%.0f}",
                          i ? "," : "", (unsigned long long)id, lat, lon, (long long)ts, speed, heading);
            id = id % ndrivers + 1;
        }
        bu_str_printf(&s, "]}");
        x->bodies[k].p = s.p;
        x->bodies[k].len = s.len;
    }
}

static uint64_t count_substr(const char *s, const char *needle)
{
    uint64_t n = 0;
    size_t nl = strlen(needle);
    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += nl;
    }
    return n;
}

static int post_batch(void *arg, int conn, uint64_t seq, bu_conn *c, uint64_t *items, uint64_t *rejected)
{
    ctx *x = arg;
    const body *b = &x->bodies[seq % x->nbodies];
    const char *tok = x->tok->gateways[(size_t)conn % x->tok->ngateways].token;
    bu_resp r;
    const char *acc;
    if (bu_request(c, "POST", "/v1/positions", tok, "application/json", b->p, b->len, &r) != 0) {
        if (__atomic_fetch_add(&x->reported, 1, __ATOMIC_RELAXED) < 5)
            fprintf(stderr, "bench: connection %d: request %llu failed: %s\n", conn, (unsigned long long)seq, c->err);
        return -1;
    }
    if (r.status != 200 || (acc = strstr(r.body, "\"accepted\":")) == NULL) {
        if (__atomic_fetch_add(&x->reported, 1, __ATOMIC_RELAXED) < 5)
            fprintf(stderr, "bench: connection %d: status %d: %.300s\n", conn, r.status, r.body);
        return -1;
    }
    *items = strtoull(acc + 11, NULL, 10);
    *rejected = count_substr(r.body, "\"index\":");
    if (*rejected && __atomic_fetch_add(&x->reported, 1, __ATOMIC_RELAXED) < 5)
        fprintf(stderr, "bench: connection %d: %llu positions rejected: %.300s\n", conn,
                (unsigned long long)*rejected, r.body);
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    bu_setup su;
    bu_window w;
    ctx x;
    double ndrivers, build_s, pos_s;
    uint64_t tb;
    size_t pool_bytes = 0;

    parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    memset(&x, 0, sizeof(x));
    bu_setup_start(&su, o.c.data_dir, o.c.scale, o.c.threads, NULL);
    if (!su.tok.ngateways)
        bu_die("%s/bench-tokens.json lists no gateways", o.c.data_dir);
    x.tok = &su.tok;
    ndrivers = bu_metric_get(su.srv.port, "freightd_objects{kind=\"driver\"}");
    if (ndrivers < 1)
        bu_die("the state has no drivers (freightd_objects{kind=\"driver\"} = %g)", ndrivers);

    tb = bu_now_ns();
    build_bodies(&x, (uint64_t)ndrivers, o.batch, o.pool_mb);
    build_s = (double)(bu_now_ns() - tb) / 1e9;
    for (size_t k = 0; k < x.nbodies; k++)
        pool_bytes += x.bodies[k].len;
    printf("pre-built %zu request bodies of %d positions (%.1f MB, %.0f bytes a position) in %.1f s; drivers "
           "1..%.0f\n",
           x.nbodies, o.batch, (double)pool_bytes / 1e6, (double)pool_bytes / ((double)x.nbodies * o.batch), build_s,
           fmin(ndrivers, (double)x.nbodies * o.batch));

    bu_run(&su.srv, o.c.connections, o.c.connect_gap_ms, o.c.warmup, o.c.seconds, 0, post_batch, &x, o.c.perf_out, &w);

    pos_s = (double)w.items / w.seconds;
    printf("\nbench_positions: POST /v1/positions, %d positions a request, %d connections, %.1f s measured after "
           "%.1f s warm-up, fsync on, freightd --threads %d\n",
           o.batch, o.c.connections, w.seconds, o.c.warmup, o.c.threads);
    printf("  positions/s            %.0f\n", pos_s);
    printf("  requests/s             %.1f\n", (double)w.requests / w.seconds);
    bu_lat_print("request latency", &w.lat);
    bu_print_fsyncs(&w, "positions");
    printf("  rejected / errors      %llu positions rejected, %llu failed requests\n", (unsigned long long)w.rejected,
           (unsigned long long)w.errors);
    printf("  applied / stale        %.0f / %.0f positions (server counters)\n",
           w.m1.positions_applied - w.m0.positions_applied, w.m1.positions_stale - w.m0.positions_stale);
    bu_print_resources(&w);
    bu_print_perf(o.c.perf_out);
    printf("  target                 >= 500000 positions/s on a 2-core machine: %s\n",
           pos_s >= 500000 ? "met" : "MISSED");
    bu_print_footer(&su, argc, argv);
    bu_setup_finish(&su, o.c.keep);
    return 0;
}
