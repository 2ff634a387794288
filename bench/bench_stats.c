/*
 * bench_stats.c — the analytics (issue 6) in-process on the national state:
 * what each /v1/stats query and the open-data CSV cost to compute (the
 * part done under the engine's read lock; rendering JSON comes after it),
 * what one hourly sample record costs to apply, what the analytics adds to
 * the state's memory, and the position-apply rate with the analytics' hook.
 *
 * Like bench_match, it loads the snapshot of a bulkloaded data dir straight
 * into memory (no server) — which also times the analytics' rebuild, part of
 * the snapshot load — then times each query alone on one thread.
 */
#include "bench_util.h"

#include "common/fn.h"
#include "core/records.h"
#include "core/state.h"
#include "stats/analytics.h"
#include "stats/regions.h"
#include "store/snapfile.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, size_t n)
{
    qsort(ns, n, sizeof(*ns), cmp_u64);
    printf("  %-44s p50 %8.3f ms   p99 %8.3f ms   max %8.3f ms   (%zu runs)\n", what, ns[n / 2] / 1e6,
           ns[n * 99 / 100] / 1e6, ns[n - 1] / 1e6, n);
}

static size_t rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %zu", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp/fn-bench-national";
    char bindir[4096], freight[4200], snapdir[4200], err[256];
    double scale = 1;
    size_t runs = 200;
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, 0.2};
    fn_state *s;
    fn_snapr *sr;
    uint64_t seq, t0, *ns, rng = 7;
    int64_t now = fn_now_s();
    size_t rss0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: bench_stats [--data-dir DIR] [--scale S] [--runs N]\n");
            return 0;
        }
        if (i + 1 >= argc)
            bu_die("%s needs a value", argv[i]);
        if (!strcmp(argv[i], "--data-dir")) dir = argv[++i];
        else if (!strcmp(argv[i], "--scale")) scale = bu_num_arg("--scale", argv[++i], 0.001, 10);
        else if (!strcmp(argv[i], "--runs")) runs = (size_t)bu_num_arg("--runs", argv[++i], 10, 1e6);
        else bu_die("unknown option %s", argv[i]);
    }
    bu_self_dir(bindir, sizeof(bindir));
    snprintf(freight, sizeof(freight), "%s/freight", bindir);
    bu_ensure_bulkload(freight, dir, scale);
    snprintf(snapdir, sizeof(snapdir), "%s/snap", dir);

    t0 = bu_now_ns();
    (void)fn_rg_city_count();
    printf("bench_stats: region tables built in %.1f ms, %.2f MB (once per process)\n", (bu_now_ns() - t0) / 1e6,
           fn_rg_bytes() / 1048576.0);
    rss0 = rss_kb();
    s = fn_state_new(&cfg);
    t0 = bu_now_ns();
    if (fn_snapr_open(&sr, snapdir, &seq, err, sizeof(err)) != 0 || fn_state_snap_load(s, sr) != 0 ||
        fn_snapr_close(sr) != 0)
        bu_die("cannot load the snapshot in %s: %s", snapdir, err);
    {
        fn_state_counts c;
        fn_state_counts_get(s, &c);
        printf("bench_stats: %llu drivers (%llu available), %llu loads (%llu open), %llu bookings; snapshot loaded "
               "(analytics rebuilt) in %.2f s\n",
               (unsigned long long)c.drivers, (unsigned long long)c.drivers_by_status[FN_DS_AVAILABLE],
               (unsigned long long)c.loads, (unsigned long long)c.loads_by_status[FN_LS_OPEN],
               (unsigned long long)c.bookings, (double)(bu_now_ns() - t0) / 1e9);
        printf("bench_stats: analytics %.1f MB of the state's %.1f MB; process RSS grew %.1f MB\n",
               fn_an_bytes(fn_state_analytics(s)) / 1048576.0, fn_state_bytes(s) / 1048576.0,
               (rss_kb() - rss0) / 1024.0);
    }
    ns = bu_xmalloc(runs * sizeof(*ns));
    {
        fn_buf b;
        fn_buf_init(&b, 0);
        fn_rec_stats_sample(&b, now);
        t0 = bu_now_ns();
        if (fn_state_apply(s, FN_REC_STATS_SAMPLE, b.data, (uint32_t)b.len) != 0)
            bu_die("the sample record failed");
        printf("  %-44s %.3f ms (retires expired loads, copies %zu cities)\n", "hourly sample record applied",
               (bu_now_ns() - t0) / 1e6, fn_rg_city_count());
        fn_buf_free(&b);
    }
    const fn_an *a = fn_state_analytics(s);
    printf("in-process, one thread (the work done under the read lock):\n");
    {
        fn_an_overview *o = bu_xmalloc(sizeof(*o));
        for (size_t r = 0; r < runs; r++) {
            uint64_t x = bu_now_ns();
            fn_an_overview_get(a, now + (int64_t)r, 14, o);
            ns[r] = bu_now_ns() - x;
        }
        report("overview?days=14", ns, runs);
        for (size_t r = 0; r < runs; r++) {
            uint64_t x = bu_now_ns();
            fn_an_overview_get(a, now + (int64_t)r, 366, o);
            ns[r] = bu_now_ns() - x;
        }
        report("overview?days=366", ns, runs);
        free(o);
    }
    {
        struct {
            const char *what;
            int days, origin, dest, type;
            size_t limit;
        } q[] = {
            {"lanes?days=7 (top 20, all types)", 7, -1, -1, -1, 20},
            {"lanes?days=7&truck_type=van (top 20)", 7, -1, -1, 3, 20},
            {"lanes?days=30 (top 20, all types)", 30, -1, -1, -1, 20},
            {"lanes?days=366&limit=200", 366, -1, -1, -1, 200},
            {"lanes?origin=Guangdong&destination=Guangdong", 7, 5, 5, -1, 20},
        };
        for (size_t k = 0; k < FN_ARRAY_LEN(q); k++) {
            for (size_t r = 0; r < runs; r++) {
                fn_an_lanes ls;
                uint64_t x = bu_now_ns();
                fn_an_lanes_get(a, now, q[k].days, q[k].origin, q[k].dest, q[k].type, q[k].limit, &ls);
                ns[r] = bu_now_ns() - x;
                fn_an_lanes_free(&ls);
            }
            report(q[k].what, ns, runs);
        }
    }
    for (int late = 0; late < 2; late++) {
        for (size_t r = 0; r < runs; r++) {
            fn_an_regions rg;
            /* late: 50 minutes after the sample, so the loads that expired
             * since are subtracted at query time. */
            uint64_t x = bu_now_ns();
            fn_an_regions_get(a, now + late * 3000 + (int64_t)(bu_rand(&rng) % 60), &rg);
            ns[r] = bu_now_ns() - x;
            fn_an_regions_free(&rg);
        }
        report(late ? "regions (copy), 50 min after the sample" : "regions (copy), right after the sample", ns, runs);
    }
    {
        size_t cells = 0;
        for (size_t r = 0; r < runs / 10 + 1; r++) {
            fn_an_cell *c;
            uint64_t x = bu_now_ns();
            cells = fn_an_cells_closed(a, now + 2 * 86400, 10, &c);
            ns[r] = bu_now_ns() - x;
            free(c);
        }
        char what[80];
        snprintf(what, sizeof(what), "opendata cells, k=10 (%zu cells)", cells);
        report(what, ns, runs / 10 + 1);
    }
    /* Position updates with the analytics' supply hook. */
    {
        const uint32_t batch = 10000;
        size_t rounds = 100;
        uint64_t ndrivers = fn_state_next_driver_id(s) - 1, total_ns = 0, n = 0;
        fn_position *p = bu_xmalloc(batch * sizeof(*p));
        fn_buf b;
        fn_buf_init(&b, 0);
        for (size_t r = 0; r < rounds; r++) {
            for (uint32_t i = 0; i < batch; i++) {
                const fn_driver *d = fn_state_driver(s, 1 + (r * batch + i) % ndrivers);
                p[i].driver_id = d->id;
                p[i].lat = d->lat + (bu_unit(&rng) - 0.5) * 0.01;
                p[i].lon = d->lon + (bu_unit(&rng) - 0.5) * 0.01;
                p[i].ts = now + 1 + (int64_t)r;
                p[i].speed_dkmh = 600;
                p[i].heading_ddeg = 900;
            }
            fn_buf_reset(&b);
            fn_rec_positions(&b, p, batch);
            uint64_t x = bu_now_ns();
            if (fn_state_apply(s, FN_REC_POSITIONS, b.data, (uint32_t)b.len) != 0)
                bu_die("applying positions failed");
            total_ns += bu_now_ns() - x;
            n += batch;
        }
        printf("  %-44s %.2f million/s on one core (%llu updates in batches of %u)\n",
               "position updates applied (with the hook)", (double)n / ((double)total_ns / 1e9) / 1e6,
               (unsigned long long)n, batch);
        fn_buf_free(&b);
        free(p);
    }
    bu_print_machine();
    bu_print_command(argc, argv);
    free(ns);
    fn_state_free(s);
    return 0;
}
