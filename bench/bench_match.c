/*
 * bench_match.c — the matching engine in-process on the national state:
 * latency of filtered top-20 matches for a load within 150 km (ranked, with
 * every hard filter), of a driver's loads with backhaul, of plain nearest
 * trucks, and the rate at which position updates are applied to the index.
 *
 * It loads the snapshot of a bulkloaded data dir straight into memory (no
 * server, nothing written), then times each query alone on one thread.
 * Targets (issue 3): matches p50 <= 20 us, p99 <= 200 us; >= 10 million
 * position updates per second applied to the index.
 */
#include "bench_util.h"

#include "common/fn.h"
#include "core/records.h"
#include "core/state.h"
#include "match/dispatch.h"
#include "match/match.h"
#include "store/snapfile.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, size_t n, size_t found)
{
    double sum = 0;
    qsort(ns, n, sizeof(*ns), cmp_u64);
    for (size_t i = 0; i < n; i++)
        sum += (double)ns[i];
    printf("  %-34s p50 %7.1f us   p99 %7.1f us   p999 %7.1f us   mean %7.1f us   %.0f queries/s on one core   (%zu queries, %.1f results each)\n",
           what, ns[n / 2] / 1e3, ns[n * 99 / 100] / 1e3, ns[n * 999 / 1000] / 1e3, sum / n / 1e3, 1e9 * n / sum, n,
           (double)found / n);
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp/fn-bench-national";
    char bindir[4096], freight[4200], snapdir[4200], err[256];
    size_t queries = 20000, k = 20;
    int dispatch = 1;
    const char *only = NULL; /* run one part: matches, loads, nearest, updates, dispatch */
    double bbox[4] = {113, 22, 117.5, 26.5}; /* west, south, east, north: about 115,000 open loads */
    size_t dispatch_k = 16;
    double radius = 150, scale = 1;
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, 0.2};
    fn_match_config mcfg = {50.0};
    fn_state *s;
    fn_snapr *sr;
    uint64_t seq, rng = 42, t0, *ns;
    fn_match_hit *hits;
    size_t found;
    int64_t now = fn_now_s();

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: bench_match [--data-dir DIR] [--scale S] [--queries N] [--radius-km R] [--limit K]\n"
                   "                   [--only matches|loads|nearest|updates|dispatch] [--no-dispatch] [--dispatch-bbox W,S,E,N] [--dispatch-k K] [--grid-cell-deg D]   (the server's --grid-cell-deg, default 0.2)\n");
            return 0;
        }
        if (!strcmp(argv[i], "--no-dispatch")) {
            dispatch = 0;
            continue;
        }
        if (i + 1 >= argc)
            bu_die("%s needs a value", argv[i]);
        if (!strcmp(argv[i], "--data-dir")) dir = argv[++i];
        else if (!strcmp(argv[i], "--only")) only = argv[++i];
        else if (!strcmp(argv[i], "--scale")) scale = bu_num_arg("--scale", argv[++i], 0.001, 10);
        else if (!strcmp(argv[i], "--queries")) queries = (size_t)bu_num_arg("--queries", argv[++i], 100, 1e7);
        else if (!strcmp(argv[i], "--radius-km")) radius = bu_num_arg("--radius-km", argv[++i], 1, 500);
        else if (!strcmp(argv[i], "--limit")) k = (size_t)bu_num_arg("--limit", argv[++i], 1, 100);
        else if (!strcmp(argv[i], "--dispatch-k")) dispatch_k = (size_t)bu_num_arg("--dispatch-k", argv[++i], 1, 4096);
        else if (!strcmp(argv[i], "--dispatch-bbox")) {
            if (sscanf(argv[++i], "%lf,%lf,%lf,%lf", &bbox[0], &bbox[1], &bbox[2], &bbox[3]) != 4)
                bu_die("--dispatch-bbox needs W,S,E,N");
        }
        else if (!strcmp(argv[i], "--grid-cell-deg")) cfg.grid_cell_deg = bu_num_arg("--grid-cell-deg", argv[++i], 0.005, 5);
        else bu_die("unknown option %s", argv[i]);
    }
    bu_self_dir(bindir, sizeof(bindir));
    snprintf(freight, sizeof(freight), "%s/freight", bindir);
    bu_ensure_bulkload(freight, dir, scale);
    snprintf(snapdir, sizeof(snapdir), "%s/snap", dir);

    s = fn_state_new(&cfg);
    t0 = bu_now_ns();
    if (fn_snapr_open(&sr, snapdir, &seq, err, sizeof(err)) != 0 || fn_state_snap_load(s, sr) != 0 || fn_snapr_close(sr) != 0)
        bu_die("cannot load the snapshot in %s: %s", snapdir, err);
    {
        fn_state_counts c;
        fn_state_counts_get(s, &c);
        printf("bench_match: %llu drivers (%llu available), %llu loads, loaded in %.2f s\n",
               (unsigned long long)c.drivers, (unsigned long long)c.drivers_by_status[FN_DS_AVAILABLE],
               (unsigned long long)c.loads, (double)(bu_now_ns() - t0) / 1e9);
    }
    ns = bu_xmalloc(queries * sizeof(*ns));
    hits = bu_xmalloc(100 * sizeof(*hits));
    uint64_t nloads = fn_state_next_load_id(s) - 1, ndrivers = fn_state_next_driver_id(s) - 1;

#define PART(name) (!only || !strcmp(only, name))
    /* Matches for random open loads, as a company sees them (snapped positions). */
    found = 0;
    printf("in-process, one thread, radius %.0f km, top %zu:\n", radius, k);
    if (PART("matches")) {
    for (size_t q = 0; q < queries; q++) {
        const fn_load *l = fn_state_load(s, 1 + bu_rand(&rng) % nloads);
        uint64_t a = bu_now_ns();
        found += fn_match_trucks(s, &mcfg, l, radius, k, 0, now, hits);
        ns[q] = bu_now_ns() - a;
    }
    report("matches for a load (company view)", ns, queries, found);
    }

    found = 0;
    if (PART("loads")) {
    for (size_t q = 0; q < queries; q++) {
        const fn_driver *d = fn_state_driver(s, 1 + bu_rand(&rng) % ndrivers);
        fn_toward t = {(int)(q % 2), -1};
        uint64_t a = bu_now_ns();
        found += fn_match_loads(s, &mcfg, d, t, radius, k, now, hits);
        ns[q] = bu_now_ns() - a;
    }
    report("loads for a driver (half backhaul)", ns, queries, found);
    }

    if (PART("nearest")) {
        fn_truck_hit th[100];
        found = 0;
        for (size_t q = 0; q < queries; q++) {
            const fn_load *l = fn_state_load(s, 1 + bu_rand(&rng) % nloads);
            fn_truck_query tq = {l->origin.lat, l->origin.lon, 50, k, 0, -1, 0, 0, 0};
            uint64_t a = bu_now_ns();
            found += fn_state_trucks_near(s, &tq, th);
            ns[q] = bu_now_ns() - a;
        }
        report("nearest trucks within 50 km", ns, queries, found);
    }

    /* Position updates applied to the index: batches of 10,000 as records,
     * through the same fn_state_apply that live writes and recovery use. */
    if (PART("updates")) {
        const uint32_t batch = 10000;
        size_t rounds = 230;
        fn_position *p = bu_xmalloc(batch * sizeof(*p));
        fn_buf b;
        uint64_t total_ns = 0, n = 0;
        fn_buf_init(&b, 0);
        for (size_t r = 0; r < rounds; r++) {
            for (uint32_t i = 0; i < batch; i++) {
                const fn_driver *d = fn_state_driver(s, 1 + (r * batch + i) % ndrivers);
                p[i].driver_id = d->id;
                p[i].lat = d->lat + (bu_unit(&rng) - 0.5) * 0.01; /* a truck moves ~500 m between reports */
                p[i].lon = d->lon + (bu_unit(&rng) - 0.5) * 0.01;
                p[i].ts = now + 1 + (int64_t)r;
                p[i].speed_dkmh = 600;
                p[i].heading_ddeg = 900;
            }
            fn_buf_reset(&b);
            fn_rec_positions(&b, p, batch);
            uint64_t a = bu_now_ns();
            if (fn_state_apply(s, FN_REC_POSITIONS, b.data, (uint32_t)b.len) != 0)
                bu_die("applying positions failed");
            total_ns += bu_now_ns() - a;
            n += batch;
        }
        printf("  %-34s %.2f million/s on one core (%llu updates in batches of %u)\n", "position updates applied",
               (double)n / ((double)total_ns / 1e9) / 1e6, (unsigned long long)n, batch);
        fn_buf_free(&b);
        free(p);
    }
    /* Global dispatch over a region, as POST /v1/dispatch runs it (graph
     * built on 2 threads, exact assignment), after the queries above. */
    if (dispatch && PART("dispatch")) {
        fn_dispatch_query dq = {-1, 1, bbox[0], bbox[1], bbox[2], bbox[3], radius, dispatch_k, 0};
        fn_dispatch_result dr;
        uint64_t a = bu_now_ns();
        if (fn_dispatch_run(s, &mcfg, &dq, now, &dr, NULL, NULL) != 0)
            bu_die("dispatch failed");
        char what[80];
        snprintf(what, sizeof(what), "dispatch [%g,%g,%g,%g]", bbox[0], bbox[1], bbox[2], bbox[3]);
        printf("  %-34s %zu loads, %zu trucks, %zu edges: build %.0f ms, solve %.0f ms, total %.0f ms\n"
               "  %-34s optimum %zu matched, %.0f deadhead km; greedy %zu matched, %.0f km\n",
               what, dr.loads, dr.trucks, dr.edges, dr.build_ms, dr.solve_ms,
               (double)(bu_now_ns() - a) / 1e6, "", dr.npairs, dr.total_deadhead_km, dr.greedy_matched,
               dr.greedy_total_deadhead_km);
        fn_dispatch_result_free(&dr);
    }
    bu_print_machine();
    bu_print_command(argc, argv);
    free(ns);
    free(hits);
    fn_state_free(s);
    return 0;
}
