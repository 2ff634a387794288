/*
 * bench_loads.c — loads (货源) created per second through POST /v1/loads,
 * each fsynced (group commit) before its 201.
 *
 * Same shape as bench_positions: a scratch copy of a bulkloaded data dir,
 * bin/freightd on a free port, request bodies pre-built (origin and
 * destination near cities weighted by population, a realistic cargo and truck demand, pickup
 * from now to now + 1 day), then C client threads, each on its own
 * keep-alive connection with a different company's token, for T seconds
 * after a warm-up.  Every request creates one load, so loads per fsync is
 * how well group commit gathers concurrent writers.
 *
 *   bin/bench_loads [--data-dir DIR] [--scale S] [--connections C]
 *                   [--seconds T] [--warmup W] [--threads N] [--connect-gap-ms G]
 *                   [--perf FILE] [--keep]
 */
#include "bench_util.h"

#include <math.h>

#define NBODIES 4096

typedef struct ctx {
    char *bodies[NBODIES];
    size_t lens[NBODIES];
    const bu_tokens *tok;
    int reported;
} ctx;

static void usage(FILE *f, const bu_opts *d)
{
    fprintf(f, "usage: bench_loads [--data-dir DIR] [--scale S] [--connections C] [--seconds T]\n"
               "                   [--warmup W] [--threads N] [--connect-gap-ms G] [--perf FILE] [--keep]\n\n"
               "Loads created per second through POST /v1/loads with fsync on.\n");
    bu_opts_help(f, d, 21, BU_OPT_ALL);
}

static void parse(int argc, char **argv, bu_opts *o)
{
    bu_opts_init(o);
    o->connections = 16;
    o->max_connections = 4096;
    o->connections_help = "client connections, one thread and one company each";
    bu_opts_parse(argc, argv, o, NULL, NULL, usage);
}

static void build_bodies(ctx *x)
{
    static const char *const kinds[] = {"general", "machinery", "building_materials", "food", "electronics",
                                        "chemicals", "coal", "furniture"};
    static const char *const types[] = {"flatbed", "low_rail", "high_rail", "van", "refrigerated", "wing_van"};
    static const double lengths[] = {4.2, 6.8, 9.6, 13, 17.5};
    uint64_t rng = 42;
    int64_t now = (int64_t)time(NULL);
    for (int k = 0; k < NBODIES; k++) {
        bu_str s = {0};
        double olat, olon, dlat, dlon, weight;
        const char *ocity, *oprov, *dcity, *dprov;
        bu_place(&rng, 8, &olat, &olon, &ocity, &oprov);
        do
            bu_place(&rng, 8, &dlat, &dlon, &dcity, &dprov);
        while (dcity == ocity);
        int t1 = (int)(bu_rand(&rng) % 6), t2 = (int)(bu_rand(&rng) % 6);
        int li = (int)(bu_rand(&rng) % 5);
        weight = 1 + floor(bu_unit(&rng) * 300) / 10.0;
        bu_str_printf(&s,
                      "{\"origin\":{\"lat\":%.5f,\"lon\":%.5f,\"city\":\"%s\",\"province\":\"%s\"},"
                      "\"destination\":{\"lat\":%.5f,\"lon\":%.5f,\"city\":\"%s\",\"province\":\"%s\"},"
                      "\"cargo\":{\"kind\":\"%s\",\"weight_t\":%.1f},"
                      "\"truck\":{\"types\":[\"%s\"%s%s%s],\"min_length_m\":%g},"
                      "\"pickup\":{\"earliest_at\":%lld,\"latest_at\":%lld},"
                      "\"price_cny\":%d}",
                      olat, olon, ocity, oprov, dlat, dlon, dcity, dprov,
                      kinds[bu_rand(&rng) % (sizeof(kinds) / sizeof(kinds[0]))], weight, types[t1],
                      t2 != t1 ? ",\"" : "", t2 != t1 ? types[t2] : "", t2 != t1 ? "\"" : "", lengths[li],
                      (long long)now, (long long)(now + 86400), 800 + (int)(bu_rand(&rng) % 9000));
        x->bodies[k] = s.p;
        x->lens[k] = s.len;
    }
}

static int post_load(void *arg, int conn, uint64_t seq, bu_conn *c, uint64_t *items, uint64_t *rejected)
{
    ctx *x = arg;
    const char *tok = x->tok->companies[(size_t)conn % x->tok->ncompanies].token;
    bu_resp r;
    (void)rejected;
    if (bu_request(c, "POST", "/v1/loads", tok, "application/json", x->bodies[seq % NBODIES], x->lens[seq % NBODIES],
                   &r) != 0) {
        if (__atomic_fetch_add(&x->reported, 1, __ATOMIC_RELAXED) < 5)
            fprintf(stderr, "bench: connection %d: request %llu failed: %s\n", conn, (unsigned long long)seq, c->err);
        return -1;
    }
    if (r.status != 201) {
        if (__atomic_fetch_add(&x->reported, 1, __ATOMIC_RELAXED) < 5)
            fprintf(stderr, "bench: connection %d: status %d: %.300s\n", conn, r.status, r.body);
        return -1;
    }
    *items = 1;
    return 0;
}

int main(int argc, char **argv)
{
    bu_opts o;
    bu_setup su;
    bu_window w;
    ctx *x = calloc(1, sizeof(ctx));
    double loads_s;

    if (!x)
        bu_die("out of memory");
    parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    bu_setup_start(&su, o.data_dir, o.scale, o.threads, NULL);
    if (su.tok.ncompanies < (size_t)o.connections)
        fprintf(stderr, "bench: only %zu company tokens for %d connections; some companies get two connections\n",
                su.tok.ncompanies, o.connections);
    if (!su.tok.ncompanies)
        bu_die("%s/bench-tokens.json lists no companies", o.data_dir);
    x->tok = &su.tok;
    build_bodies(x);

    bu_run(&su.srv, o.connections, o.connect_gap_ms, o.warmup, o.seconds, 0, post_load, x, o.perf_out, &w);

    loads_s = (double)w.items / w.seconds;
    printf("\nbench_loads: POST /v1/loads, %d connections (one company each), %.1f s measured after %.1f s warm-up, "
           "fsync on, freightd --threads %d\n",
           o.connections, w.seconds, o.warmup, o.threads);
    printf("  loads/s                %.0f\n", loads_s);
    bu_lat_print("request latency", &w.lat);
    bu_print_fsyncs(&w, "loads");
    printf("  errors                 %llu failed requests; open loads %.0f -> %.0f\n", (unsigned long long)w.errors,
           w.m0.loads, w.m1.loads);
    bu_print_resources(&w);
    bu_print_perf(o.perf_out);
    bu_print_footer(&su, argc, argv);
    bu_setup_finish(&su, o.keep);
    return 0;
}
