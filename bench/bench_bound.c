/*
 * bench_bound.c — the exact empty-km lower bound (sim/bound.h) on a
 * synthetic national day: how long the first k-nearest graph, the solves
 * and the certificate checks take, and how many rounds and edges exactness
 * needs.
 *
 * Trucks and pickups are drawn the way `freight bulkload` draws places (a
 * city of data/cn_cities.csv by population, then an exponential distance of
 * 15 km in a random direction); half the loads go to a place near the
 * pickup (exponential, 150 km), half to another city anywhere.  Trucks are
 * free in the first 6 hours of the day, pickups open in the first 14 hours
 * for 1 to 8 hours, with the truck types, lengths, weights and volumes of a
 * mixed fleet.  Scale 1 is 2.3 million trucks and 1 million loads.
 *
 * --closed asks for the closed bound (every truck ends at a home, home_km
 * 50 as in freight simulate).  Most trucks start the day near home: 80 %
 * have it an exponential 5 km from where they stand, the rest somewhere
 * else, drawn like any place (a driver away on a long trip).  Homes come
 * from their own random stream, so the trucks and loads are those of the
 * open run with the same seed.  freight simulate passes the closed bound
 * only loads a policy served, which can all be served together; the bench
 * does the same by first solving the open bound (timed apart) and keeping
 * the loads it serves, again until it serves them all (a dropped load's
 * end may have been some kept load's predecessor).
 *
 *   bin/bench_bound [--scale S] [--k K] [--seed N] [--closed]
 *
 * It prints numbers and never judges them (STYLE.md).
 */
#include "bench_util.h"

#include "common/fn.h"
#include "common/geo.h"
#include "core/model.h"
#include "sim/bound.h"

#define DAY0 1800000000LL

/* Fleet shares by truck type (enum fn_truck_type order). */
static const double type_share[FN_TT__COUNT] = {0.22, 0.08, 0.20, 0.24, 0.06, 0.02, 0.04, 0.05, 0.03, 0.01, 0.04, 0.01};

static int pick_type(uint64_t *rng)
{
    double u = bu_unit(rng), acc = 0;
    for (int t = 0; t < FN_TT__COUNT; t++)
        if (u < (acc += type_share[t]))
            return t;
    return 0;
}

static double rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
    char bindir[PATH_MAX];
    double scale = 1.0;
    size_t k = 8, nt, nl;
    uint64_t seed = 1, rng, t0;
    fn_bound_truck *t;
    fn_bound_load *l;
    fn_bound_config cfg = {.circuity = 1.3, .speed_kmh = 50.0, .service_s = 3600};
    fn_bound_result r;
    int err;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: bench_bound [--scale S] [--k K] [--seed N] [--closed]   (scale 1 = 2.3 M trucks, 1 M "
                   "loads)\n");
            return 0;
        } else if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
            scale = bu_num_arg("--scale", argv[++i], 0.0001, 4);
        } else if (!strcmp(argv[i], "--k") && i + 1 < argc) {
            k = (size_t)bu_num_arg("--k", argv[++i], 1, 256);
        } else if (!strcmp(argv[i], "--closed")) {
            cfg.closed = 1;
            cfg.home_km = 50;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = (uint64_t)bu_num_arg("--seed", argv[++i], 0, 1e15);
        } else {
            bu_die("unknown option %s (see --help)", argv[i]);
        }
    }
    cfg.k = k;
    nt = (size_t)(2300000 * scale);
    nl = (size_t)(1000000 * scale);
    bu_print_command(argc, argv);
    bu_print_machine();
    bu_self_dir(bindir, sizeof(bindir));
    bu_print_build(bindir);
    bu_places_load(bindir);

    t0 = bu_now_ns();
    rng = seed;
    t = bu_xmalloc((nt + 1) * sizeof(*t));
    l = bu_xmalloc((nl + 1) * sizeof(*l));
    for (size_t i = 0; i < nt; i++) {
        fn_bound_truck *x = &t[i];
        memset(x, 0, sizeof(*x));
        bu_place(&rng, 15, &x->lat, &x->lon, NULL, NULL);
        x->t_s = DAY0 + (int64_t)(bu_unit(&rng) * 6 * 3600);
        x->truck_type = (uint8_t)pick_type(&rng);
        x->length_idx = (uint8_t)(bu_rand(&rng) % 11);
        x->capacity_kg = 2000 + (uint32_t)(x->length_idx * 3000) + (uint32_t)(bu_rand(&rng) % 5000);
        x->volume_l = bu_rand(&rng) % 2 ? (uint32_t)(x->length_idx + 2) * 8000u : 0;
    }
    for (size_t i = 0; cfg.closed && i < nt; i++) {
        fn_bound_truck *x = &t[i];
        uint64_t hrng = seed ^ 0x5bd1e9955bd1e995ull ^ (i * 0x9e3779b97f4a7c15ull);
        if (bu_unit(&hrng) < 0.8) {
            double d = -log(1.0 - bu_unit(&hrng)) * 5.0, a = bu_unit(&hrng) * 2 * M_PI;
            x->home_lat = x->lat + d * cos(a) / FN_KM_PER_DEG_LAT;
            x->home_lon = x->lon + d * sin(a) / (FN_KM_PER_DEG_LAT * cos(x->lat * M_PI / 180));
        } else {
            bu_place(&hrng, 15, &x->home_lat, &x->home_lon, NULL, NULL);
        }
    }
    for (size_t j = 0; j < nl; j++) {
        fn_bound_load *y = &l[j];
        memset(y, 0, sizeof(*y));
        bu_place(&rng, 15, &y->olat, &y->olon, NULL, NULL);
        if (bu_rand(&rng) % 2) {
            double d = -log(1.0 - bu_unit(&rng)) * 150.0, a = bu_unit(&rng) * 2 * M_PI;
            y->dlat = y->olat + d * cos(a) / FN_KM_PER_DEG_LAT;
            y->dlon = y->olon + d * sin(a) / (FN_KM_PER_DEG_LAT * cos(y->olat * M_PI / 180));
        } else {
            bu_place(&rng, 15, &y->dlat, &y->dlon, NULL, NULL);
        }
        y->earliest_s = DAY0 + (int64_t)(bu_unit(&rng) * 14 * 3600);
        y->latest_s = y->earliest_s + 3600 + (int64_t)(bu_unit(&rng) * 7 * 3600);
        y->types_mask = (uint16_t)(1u << pick_type(&rng));
        for (int extra = (int)(bu_rand(&rng) % 3); extra > 0; extra--)
            y->types_mask |= (uint16_t)(1u << pick_type(&rng));
        y->min_length_idx = bu_rand(&rng) % 4 ? -1 : (int8_t)(bu_rand(&rng) % 8);
        y->weight_kg = 500 + (uint32_t)(bu_rand(&rng) % 25000);
        y->volume_l = bu_rand(&rng) % 3 ? 0 : 5000 + (uint32_t)(bu_rand(&rng) % 60000);
    }
    printf("instance: %zu trucks, %zu loads (scale %g, seed %llu), k %zu, circuity %.2f, %.0f km/h, service %lld s, "
           "%s; generated in %.1f s\n",
           nt, nl, scale, (unsigned long long)seed, k, cfg.circuity, cfg.speed_kmh, (long long)cfg.service_s,
           cfg.closed ? "closed (home_km 50)" : "open", (double)(bu_now_ns() - t0) / 1e9);
    fflush(stdout);

    for (int pass = 1; cfg.closed && pass <= 5; pass++) {
        fn_bound_config open_cfg = cfg;
        size_t kept = 0;
        open_cfg.closed = 0;
        t0 = bu_now_ns();
        err = fn_bound_solve(&open_cfg, t, nt, l, nl, &r);
        if (err)
            bu_die("fn_bound_solve (open): %s", fn_strerror(err));
        for (size_t j = 0; j < nl; j++)
            if (r.pred[j] >= 0)
                l[kept++] = l[j];
        printf("open bound, pass %d: keeps the %zu servable loads of %zu (%.1f s)\n", pass, kept, nl,
               (double)(bu_now_ns() - t0) / 1e9);
        fn_bound_result_free(&r);
        if (kept == nl)
            break;
        nl = kept;
    }
    t0 = bu_now_ns();
    err = fn_bound_solve(&cfg, t, nt, l, nl, &r);
    if (err)
        bu_die("fn_bound_solve: %s", fn_strerror(err));
    printf("bound: served %zu of %zu loads, empty %.1f km (%.2f km a served load), loaded %.1f km, empty share %.2f %%\n",
           r.served, nl, r.empty_km, r.served ? r.empty_km / (double)r.served : 0.0, r.loaded_km,
           100.0 * r.empty_km / (r.empty_km + r.loaded_km > 0 ? r.empty_km + r.loaded_km : 1.0));
    if (cfg.closed)
        printf("homes: %zu of %zu matched, %.1f km of the empty km are trips home\n", r.homes_matched, nt,
               r.home_km_total);
    printf("exact: %s after %zu rounds; %zu edges in the final graph (%zu added by the checks)\n",
           r.exact ? "yes" : "NO (round cap)", r.rounds, r.edges, r.added);
    printf("time: first graph %.0f ms, solves %.0f ms, checks %.0f ms, total %.1f s; peak RSS %.0f MB\n", r.build_ms,
           r.solve_ms, r.check_ms, (double)(bu_now_ns() - t0) / 1e9, rss_mb());
    fn_bound_result_free(&r);
    free(t), free(l);
    return 0;
}
