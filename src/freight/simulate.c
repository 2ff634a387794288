/*
 * simulate.c — `freight simulate`: freight days on the real engine under
 * each dispatch policy, against the exact lower bound on empty km, with a
 * table, a JSON file and charts (docs/simulation.md).
 *
 * The fleet and the loads are the national dataset's (gen.h): the same
 * trucks, homes and starting positions, the same gravity-model lanes,
 * cargo and prices as `freight gen` writes for the seed.  Only the clock is
 * the simulation's own: loads are posted over each day with a daytime
 * peak, for pickup 1 to 13 hours later.
 */
#include "api/dataset.h"
#include "common/fn.h"
#include "common/geo.h"
#include "freight/cities.h"
#include "freight/cmds.h"
#include "freight/gen.h"
#include "freight/progress.h"
#include "sim/bound.h"
#include "sim/chart.h"
#include "sim/sim.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DAY_S 86400

/* Loads posted per hour of the day, relative: a load board is busiest in
 * office hours and quiet at night (assumption, docs/simulation.md). */
static const double post_hour_w[24] = {1, 1, 1, 1, 1, 2, 4, 6, 9, 10, 10, 9, 7, 8, 9, 9, 8, 7, 5, 4, 3, 2, 2, 1};

typedef struct scenario {
    fn_driver *trucks;
    size_t nt;
    fn_load *loads;
    size_t nl;
} scenario;

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The posting time and pickup window of load id (1 ..) on day d. */
static void load_clock(uint64_t seed, uint64_t id, int64_t start, int days, int64_t window_s, fn_load *l)
{
    fn_rng r = {mix(seed ^ 0x73696d636c6f636bull) ^ mix(id)};
    int day = (int)(fn_rng_next(&r) % (uint64_t)days);
    int hour = fn_pick_share(post_hour_w, 24, fn_rng_unit(&r));
    int64_t posted = start + (int64_t)day * DAY_S + hour * 3600 + (int64_t)(fn_rng_next(&r) % 3600);
    int64_t lead = 3600 + (int64_t)(fn_rng_next(&r) % 25) * 1800; /* 1 to 13 h */
    l->created_at = posted;
    l->pickup_earliest_at = posted + lead;
    l->pickup_latest_at = l->pickup_earliest_at + window_s;
    l->expires_at = l->pickup_latest_at;
}

/* Every company of the dataset exists for the simulation (one posts all). */
static int any_company(const void *arg, int64_t id)
{
    (void)arg;
    return id > 0;
}

static int build(scenario *sc, const fn_cities *cities, uint64_t seed, int64_t start, int days, uint64_t ntrucks,
                 uint64_t nloads, uint64_t ncomp)
{
    fn_gen *g = fn_gen_open(cities, seed, start, ncomp, ntrucks, nloads);
    fn_ds_config dc = {.now_s = start, .area = FN_AREA_CHINA, .company_known = any_company};
    fn_ds_decoder dec;
    fn_ds_rec rec;
    fn_buf b, strs;
    fn_progress pg;
    int rc = -1;

    if (!g)
        return -1;
    /* Decoded as `freight import` decodes the same lines (api/dataset.h). */
    fn_ds_decoder_init(&dec, &dc);
    fn_buf_init(&b, 0);
    fn_buf_init(&strs, 0);
    sc->trucks = fn_xcalloc(ntrucks ? ntrucks : 1, sizeof(*sc->trucks));
    sc->loads = fn_xcalloc(nloads ? nloads : 1, sizeof(*sc->loads));
    fn_progress_start(&pg, "dataset", ntrucks + nloads);
    for (uint64_t id = 1; id <= ntrucks + nloads; id++) {
        int is_load = id > ntrucks;
        uint64_t rid = is_load ? id - ntrucks : id;
        fn_buf_reset(&b);
        if (is_load)
            fn_gen_load_json(g, rid, &b);
        else
            fn_gen_driver_json(g, rid, &b);
        fn_buf_reserve(&strs, b.len + 1);
        fn_ds_decode(&dec, is_load ? FN_DS_LOADS : FN_DS_DRIVERS, (const char *)b.data, b.len, (char *)strs.data,
                     &rec);
        json_decref(rec.root);
        if (!rec.ok) {
            fprintf(stderr, "freight simulate: internal error: the dataset's %s %llu does not decode: %s\n",
                    is_load ? "load" : "driver", (unsigned long long)rid, rec.err);
            goto out;
        }
        /* The simulation needs none of the strings, which live only as long as this line. */
        if (!is_load) {
            fn_driver *d = &sc->trucks[sc->nt++];
            *d = rec.d;
            d->name = d->phone = d->plate = NULL;
            if (rec.has_pos) {
                d->lat = rec.pos.lat;
                d->lon = rec.pos.lon;
                d->pos_ts = start;
            }
        } else {
            fn_load *l = &sc->loads[sc->nl++];
            *l = rec.l;
            l->origin.city = l->dest.city = NULL;
            l->cargo_kind = l->contact_name = l->contact_phone = l->notes = NULL;
            load_clock(seed, rid, start, days, l->pickup_latest_at - l->pickup_earliest_at, l);
        }
        if ((id & 4095) == 0)
            fn_progress_set(&pg, id);
    }
    fn_progress_end(&pg);
    rc = 0;
out:
    fn_ds_decoder_free(&dec);
    fn_buf_free(&b);
    fn_buf_free(&strs);
    fn_gen_close(g);
    return rc;
}

static void progress_cb(void *arg, double frac) { fn_progress_set(arg, (uint64_t)(frac * 1000)); }

static void usage(FILE *f)
{
    fprintf(f,
            "usage: freight simulate [--scale F] [--days N] [--policies LIST] [--out DIR] [options]\n\n"
            "Simulates freight days on the real engine (docs/simulation.md): the national dataset's\n"
            "trucks and loads (freight gen's models), loads posted over each day, trucks driving at\n"
            "--speed, each policy deciding who takes which load; then the exact lower bound on empty km.\n\n"
            "  --scale F            fleet and loads x F of the nation (2,300,000 trucks, 1,000,000 loads a day); 0.01\n"
            "  --trucks N           override the fleet size\n"
            "  --loads-per-day N    override the loads posted per day\n"
            "  --days N             days simulated (1)\n"
            "  --seed N             dataset and clock seed (1)\n"
            "  --policies LIST      comma-separated: board,match,dispatch,backhaul (board,match,dispatch,backhaul)\n"
            "  --bound MODE         open: chains of loads end anywhere (fast, the default); closed: every\n"
            "                       truck also ends at home (tighter; slow beyond ~10,000 trucks); none\n"
            "  --no-bound           the same as --bound none\n"
            "  --out DIR            write DIR/results.json and the charts (SVG)\n"
            "  --speed KMH          road speed (50)      --service-min M   to load, and to unload (60)\n"
            "  --board-km KM        board reach (50)     --match-km KM     match radius (300)\n"
            "  --dispatch-km KM     dispatch radius (300) --dispatch-every-min M  interval (10)\n"
            "  --give-up-h H        idle hours away from home before driving home (8)\n"
            "  --home-weight W      backhaul: weight of the trip home in its cost (0.3)\n"
            "  --no-prebook         backhaul: promise loads only to idle trucks, not to loaded ones\n"
            "  --cities FILE        the city list (data/cn_cities.csv)\n");
}

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    if (errno || end == v || *end || !(*out >= lo && *out <= hi)) {
        fprintf(stderr, "freight simulate: %s must be a number from %g to %g\n", opt, lo, hi);
        return -1;
    }
    return 0;
}

typedef struct run {
    int policy;
    fn_sim_result r;
    int have_bound;
    fn_bound_result b;    /* the least empty km for the loads this policy served */
    double bound_s;
} run;

/* Which bound: open (chains end anywhere; what the plan drove empty inside
 * the days is compared) or closed (every truck ends at a home; the final
 * trips home are added to the plan's km). */
enum { BOUND_NONE, BOUND_OPEN, BOUND_CLOSED };
static int bound_mode = BOUND_OPEN;

/* The km a policy's plan drove empty, as the bound in use counts them. */
static double plan_empty_km(const run *u)
{
    return u->r.empty_km + (bound_mode == BOUND_CLOSED ? u->r.final_return_km : 0);
}
static double x_bound(const run *u) { return u->b.empty_km > 0 ? plan_empty_km(u) / u->b.empty_km : NAN; }
static double bound_rate(const run *u) { return u->b.empty_km / (u->b.empty_km + u->b.loaded_km); }

/* The bound for the loads run u served, from the same starting fleet. */
static int solve_bound(const fn_sim_config *base, const scenario *sc, run *u)
{
    fn_bound_config bc;
    fn_bound_truck *bt = fn_xmalloc((sc->nt ? sc->nt : 1) * sizeof(*bt));
    fn_bound_load *bl = fn_xmalloc((sc->nl ? sc->nl : 1) * sizeof(*bl));
    size_t n = 0;
    uint64_t t0 = fn_mono_ns();
    int rc;

    memset(&bc, 0, sizeof(bc));
    bc.circuity = base->circuity;
    bc.speed_kmh = base->speed_kmh;
    bc.service_s = base->service_s;
    bc.closed = bound_mode == BOUND_CLOSED;
    bc.home_km = base->home_km;
    for (size_t i = 0; i < sc->nt; i++) {
        const fn_driver *d = &sc->trucks[i];
        memset(&bt[i], 0, sizeof(bt[i]));
        bt[i].lat = d->pos_ts ? d->lat : d->home_lat;
        bt[i].lon = d->pos_ts ? d->lon : d->home_lon;
        bt[i].t_s = base->start_s;
        bt[i].truck_type = d->truck_type;
        bt[i].length_idx = d->length_idx;
        bt[i].capacity_kg = d->capacity_kg;
        bt[i].volume_l = d->volume_l;
        bt[i].home_lat = d->home_lat;
        bt[i].home_lon = d->home_lon;
    }
    for (size_t j = 0; j < sc->nl; j++) {
        const fn_load *l = &sc->loads[j];
        if (u->r.load_truck[j] < 0)
            continue;
        bl[n++] = (fn_bound_load){l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon, l->pickup_earliest_at,
                                  l->pickup_latest_at, l->types_mask, l->min_length_idx, l->weight_kg, l->volume_l};
    }
    rc = fn_bound_solve(&bc, bt, sc->nt, bl, n, &u->b);
    u->bound_s = (double)(fn_mono_ns() - t0) / 1e9;
    u->have_bound = rc == 0;
    if (rc != 0)
        fprintf(stderr, "freight simulate: the lower bound for %s failed: %s\n", fn_sim_policy_name(u->policy),
                fn_strerror(rc));
    free(bt), free(bl);
    return rc;
}

static int write_results(const char *dir, const fn_sim_config *base, const scenario *sc, uint64_t seed,
                         const run *runs, size_t nr)
{
    char path[4096];
    json_t *root = json_object(), *arr = json_array();
    int rc;

    json_object_set_new(root, "trucks", json_integer((json_int_t)sc->nt));
    json_object_set_new(root, "loads", json_integer((json_int_t)sc->nl));
    json_object_set_new(root, "days", json_integer(base->days));
    json_object_set_new(root, "seed", json_integer((json_int_t)seed));
    json_object_set_new(root, "speed_kmh", json_real(base->speed_kmh));
    for (size_t k = 0; k < nr; k++) {
        const run *u = &runs[k];
        const fn_sim_result *r = &u->r;
        json_t *o = json_object(), *h = json_array();
        json_object_set_new(o, "policy", json_string(fn_sim_policy_name(u->policy)));
        json_object_set_new(o, "loads_booked", json_integer((json_int_t)r->booked));
        json_object_set_new(o, "loads_delivered", json_integer((json_int_t)r->delivered));
        json_object_set_new(o, "loads_expired", json_integer((json_int_t)r->expired));
        json_object_set_new(o, "empty_km", json_real(r->empty_km));
        json_object_set_new(o, "deadhead_km", json_real(r->deadhead_km));
        json_object_set_new(o, "return_km", json_real(r->return_km));
        json_object_set_new(o, "final_return_km", json_real(r->final_return_km));
        json_object_set_new(o, "loaded_km", json_real(r->loaded_km));
        json_object_set_new(o, "empty_rate", json_real(r->empty_rate));
        json_object_set_new(o, "match_p50_min", json_real(r->match_p50_min));
        json_object_set_new(o, "match_p90_min", json_real(r->match_p90_min));
        json_object_set_new(o, "revenue_per_truck_day_yuan", json_real(r->revenue_per_truck_day));
        json_object_set_new(o, "trucks_used", json_integer((json_int_t)r->trucks_used));
        json_object_set_new(o, "returns_home", json_integer((json_int_t)r->returns));
        json_object_set_new(o, "dispatch_runs", json_integer((json_int_t)r->dispatch_runs));
        json_object_set_new(o, "wall_s", json_real(r->wall_s));
        if (u->have_bound) {
            json_t *b = json_object();
            json_object_set_new(b, "empty_km", json_real(u->b.empty_km));
            json_object_set_new(b, "home_km", json_real(u->b.home_km_total));
            json_object_set_new(b, "loaded_km", json_real(u->b.loaded_km));
            json_object_set_new(b, "empty_rate", json_real(bound_rate(u)));
            json_object_set_new(b, "loads_served", json_integer((json_int_t)u->b.served));
            json_object_set_new(b, "homes_matched", json_integer((json_int_t)u->b.homes_matched));
            json_object_set_new(b, "exact", json_boolean(u->b.exact));
            json_object_set_new(b, "rounds", json_integer((json_int_t)u->b.rounds));
            json_object_set_new(b, "edges", json_integer((json_int_t)u->b.edges));
            json_object_set_new(b, "wall_s", json_real(u->bound_s));
            json_object_set_new(b, "closed", json_boolean(bound_mode == BOUND_CLOSED));
            json_object_set_new(o, "bound", b);
            json_object_set_new(o, "plan_empty_km", json_real(plan_empty_km(u)));
            json_object_set_new(o, "x_bound", json_real(x_bound(u)));
        }
        for (size_t i = 0; i < r->hours; i++)
            json_array_append_new(h, json_pack("{s:f, s:f, s:i}", "empty_km", r->hour_empty_km[i], "loaded_km",
                                               r->hour_loaded_km[i], "booked", (json_int_t)r->hour_booked[i]));
        json_object_set_new(o, "hours", h);
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "policies", arr);
    snprintf(path, sizeof(path), "%s/results.json", dir);
    rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (rc != 0)
        fprintf(stderr, "freight simulate: cannot write %s\n", path);
    return rc;
}

static int write_charts(const char *dir, const fn_sim_config *base, const scenario *sc, const run *runs, size_t nr)
{
    char path[4096];
    const char *cats[FN_SIM__POLICIES];
    double vals[2 * FN_SIM__POLICIES];
    int have_bound = 1;
    fn_chart c;
    int rc = 0;

    /* Each policy's empty-running rate, and its bound's. */
    for (size_t k = 0; k < nr; k++) {
        cats[k] = fn_sim_policy_name(runs[k].policy);
        vals[k] = 100.0 * plan_empty_km(&runs[k]) / (plan_empty_km(&runs[k]) + runs[k].r.loaded_km);
        vals[nr + k] = runs[k].have_bound ? 100.0 * bound_rate(&runs[k]) : NAN;
        have_bound &= runs[k].have_bound;
    }
    memset(&c, 0, sizeof(c));
    c.title = "空驶率 Empty-running rate by policy";
    c.subtitle = bound_mode == BOUND_CLOSED ? "empty km / all km driven, trips home at the end included; the bound: "
                                              "the least any plan can do for the same loads"
                                            : "empty km / all km driven; the bound: the least any plan can do for the "
                                              "same loads";
    c.xlabel = "policy";
    c.ylabel = "% of truck-km driven empty";
    c.yfmt = "%.0f%%";
    {
        const char *series[2] = {"policy", "lower bound, same loads"};
        snprintf(path, sizeof(path), "%s/empty_rate.svg", dir);
        rc |= fn_chart_bars(path, &c, cats, nr, series, have_bound ? 2 : 1, vals, "%.1f%%");
    }

    /* The empty-running rate hour by hour. */
    {
        size_t hours = (size_t)base->days * 24;
        double *x = fn_xmalloc(hours * sizeof(double)), *y = fn_xmalloc(nr * hours * sizeof(double));
        fn_chart_series s[FN_SIM__POLICIES];
        for (size_t i = 0; i < hours; i++)
            x[i] = (double)i;
        for (size_t k = 0; k < nr; k++) {
            const fn_sim_result *r = &runs[k].r;
            for (size_t i = 0; i < hours; i++) {
                double e = r->hour_empty_km[i], l = r->hour_loaded_km[i];
                y[k * hours + i] = e + l > 0 ? 100.0 * e / (e + l) : NAN;
            }
            s[k] = (fn_chart_series){fn_sim_policy_name(runs[k].policy), x, y + k * hours, hours};
        }
        memset(&c, 0, sizeof(c));
        c.title = "空驶率 Empty-running rate hour by hour";
        c.subtitle = "empty km / all km, by the hour each leg starts";
        c.xlabel = "hour from the start";
        c.ylabel = "% empty";
        c.yfmt = "%.0f%%";
        c.xstep = base->days > 2 ? 12 : 6;
        snprintf(path, sizeof(path), "%s/empty_by_hour.svg", dir);
        rc |= fn_chart_lines(path, &c, s, nr);
        free(x), free(y);
    }

    /* Time from posting to booking, per policy. */
    {
        fn_chart_series s[FN_SIM__POLICIES];
        double *y[FN_SIM__POLICIES];
        for (size_t k = 0; k < nr; k++) {
            const fn_sim_result *r = &runs[k].r;
            size_t n = 0;
            y[k] = fn_xmalloc((r->loads ? r->loads : 1) * sizeof(double));
            for (size_t j = 0; j < r->loads; j++)
                if (r->load_truck[j] >= 0)
                    /* whole minutes: one step per minute keeps the file small at any scale */
                    y[k][n++] = floor((double)(r->load_matched_at[j] - sc->loads[j].created_at) / 60.0);
            s[k] = (fn_chart_series){fn_sim_policy_name(runs[k].policy), NULL, y[k], n};
        }
        memset(&c, 0, sizeof(c));
        c.title = "撮合时间 Time to match";
        c.subtitle = "minutes from posting to getting a truck (booked, or promised to a loaded truck)";
        c.xlabel = "minutes";
        c.ylabel = "share of booked loads";
        snprintf(path, sizeof(path), "%s/time_to_match.svg", dir);
        rc |= fn_chart_cdf(path, &c, s, nr);
        for (size_t k = 0; k < nr; k++)
            free(y[k]);
    }

    /* Revenue per truck-day. */
    {
        const char *series[1] = {"yuan per truck-day"};
        for (size_t k = 0; k < nr; k++)
            vals[k] = runs[k].r.revenue_per_truck_day;
        memset(&c, 0, sizeof(c));
        c.title = "Revenue per truck-day 单车日收入";
        c.subtitle = "prices of the loads delivered / (trucks x days), the whole fleet";
        c.xlabel = "policy";
        c.ylabel = "yuan";
        snprintf(path, sizeof(path), "%s/revenue.svg", dir);
        rc |= fn_chart_bars(path, &c, cats, nr, series, 1, vals, "%.0f");
    }
    if (rc)
        fprintf(stderr, "freight simulate: cannot write the charts in %s\n", dir);
    return rc;
}

int fn_cmd_simulate(int argc, char **argv)
{
    const char *out_dir = NULL, *cities_path = NULL, *policies = "board,match,dispatch,backhaul";
    double scale = 0.01, v;
    long long ntrucks = -1, nloads_day = -1;
    unsigned long long seed = 1;
    int rc = 1;
    fn_sim_config base;
    fn_cities cities;
    scenario sc = {0};
    static run runs[FN_SIM__POLICIES];
    size_t nr = 0;

    fn_sim_config_default(&base, FN_SIM_BOARD);
    memset(runs, 0, sizeof(runs));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-bound")) {
            bound_mode = BOUND_NONE;
            continue;
        }
        if (!strcmp(a, "--no-prebook")) {
            base.prebook = 0;
            continue;
        }
        if (!val) {
            fprintf(stderr, "freight simulate: %s needs a value (see --help)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--bound")) {
            bound_mode = !strcmp(val, "open") ? BOUND_OPEN : !strcmp(val, "closed") ? BOUND_CLOSED
                                                            : !strcmp(val, "none") ? BOUND_NONE : -1;
            if (bound_mode < 0) {
                fprintf(stderr, "freight simulate: --bound takes open, closed or none\n");
                return 2;
            }
        } else if (!strcmp(a, "--out")) {
            out_dir = val;
        } else if (!strcmp(a, "--cities")) {
            cities_path = val;
        } else if (!strcmp(a, "--policies")) {
            policies = val;
        } else if (!strcmp(a, "--scale")) {
            if (parse_num(a, val, 1e-6, 4, &scale))
                return 2;
        } else if (!strcmp(a, "--trucks")) {
            if (parse_num(a, val, 1, 1e8, &v))
                return 2;
            ntrucks = (long long)v;
        } else if (!strcmp(a, "--loads-per-day")) {
            if (parse_num(a, val, 0, 1e8, &v))
                return 2;
            nloads_day = (long long)v;
        } else if (!strcmp(a, "--days")) {
            if (parse_num(a, val, 1, 30, &v))
                return 2;
            base.days = (int)v;
        } else if (!strcmp(a, "--seed")) {
            if (parse_num(a, val, 0, 9e15, &v))
                return 2;
            seed = (unsigned long long)v;
        } else if (!strcmp(a, "--speed")) {
            if (parse_num(a, val, 5, 120, &base.speed_kmh))
                return 2;
        } else if (!strcmp(a, "--service-min")) {
            if (parse_num(a, val, 0, 1440, &v))
                return 2;
            base.service_s = (int64_t)(v * 60);
        } else if (!strcmp(a, "--board-km")) {
            if (parse_num(a, val, 1, 2000, &base.board_km))
                return 2;
        } else if (!strcmp(a, "--match-km")) {
            if (parse_num(a, val, 1, 2000, &base.match_km))
                return 2;
        } else if (!strcmp(a, "--dispatch-km")) {
            if (parse_num(a, val, 1, 2000, &base.dispatch_km))
                return 2;
        } else if (!strcmp(a, "--dispatch-every-min")) {
            if (parse_num(a, val, 1, 1440, &v))
                return 2;
            base.dispatch_every_s = (int64_t)(v * 60);
        } else if (!strcmp(a, "--home-weight")) {
            if (parse_num(a, val, 0, 10, &base.home_weight))
                return 2;
        } else if (!strcmp(a, "--give-up-h")) {
            if (parse_num(a, val, 0, 240, &v))
                return 2;
            base.give_up_s = (int64_t)(v * 3600);
        } else {
            fprintf(stderr, "freight simulate: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    {
        char buf[128], *save = NULL, *tok;
        snprintf(buf, sizeof(buf), "%s", policies);
        for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int p = fn_sim_policy_parse(tok);
            if (p < 0 || nr == FN_SIM__POLICIES) {
                fprintf(stderr, "freight simulate: --policies takes board, match, dispatch, backhaul ('%s'?)\n", tok);
                return 2;
            }
            runs[nr++].policy = p;
        }
        if (nr == 0) {
            fprintf(stderr, "freight simulate: --policies names no policy\n");
            return 2;
        }
    }
    if (ntrucks < 0)
        ntrucks = llround(2300000 * scale);
    if (nloads_day < 0)
        nloads_day = llround(1000000 * scale);
    if (out_dir && mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "freight simulate: cannot create %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    if (fn_cities_load(&cities, cities_path) != 0)
        return 1;
    if (build(&sc, &cities, seed, base.start_s, base.days, (uint64_t)ntrucks, (uint64_t)nloads_day * (uint64_t)base.days,
              (uint64_t)FN_MAX(1, llround(300000 * scale))) != 0)
        goto out;
    printf("simulate: %zu trucks, %zu loads over %d day(s), seed %llu, %.0f km/h\n", sc.nt, sc.nl, base.days, seed,
           base.speed_kmh);

    for (size_t k = 0; k < nr; k++) {
        fn_sim_config cfg = base;
        fn_progress pg;
        cfg.policy = runs[k].policy;
        cfg.progress = progress_cb;
        cfg.progress_arg = &pg;
        fn_progress_start(&pg, fn_sim_policy_name(cfg.policy), 1000);
        if (fn_sim_run(&cfg, sc.trucks, sc.nt, sc.loads, sc.nl, &runs[k].r) != 0) {
            fprintf(stderr, "freight simulate: internal error in the %s run\n", fn_sim_policy_name(cfg.policy));
            nr = k;
            goto out;
        }
        fn_progress_end(&pg);
    }
    if (bound_mode != BOUND_NONE)
        for (size_t k = 0; k < nr; k++) {
            fprintf(stderr, "bound for %s: solving ...\n", fn_sim_policy_name(runs[k].policy));
            if (solve_bound(&base, &sc, &runs[k]) != 0)
                goto out;
        }

    printf("\n| policy | loads served | empty km | loaded km | empty-running rate | final trips home (km) "
           "| %s bound for the same loads | x bound | time to match p50 / p90 (min) | revenue per truck-day (yuan) "
           "| run (s) | bound (s) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
           bound_mode == BOUND_CLOSED ? "closed" : bound_mode == BOUND_OPEN ? "open" : "no");
    for (size_t k = 0; k < nr; k++) {
        const run *u = &runs[k];
        const fn_sim_result *r = &u->r;
        char bb[64] = "-", xb[32] = "-", bs[32] = "-";
        if (u->have_bound) {
            snprintf(bb, sizeof(bb), "%.0f (%.1f%%)%s", u->b.empty_km, 100 * bound_rate(u), u->b.exact ? "" : " *");
            snprintf(xb, sizeof(xb), "%.2f", x_bound(u));
            snprintf(bs, sizeof(bs), "%.1f", u->bound_s);
        }
        printf("| %s | %zu (%.1f%%) | %.0f | %.0f | %.1f%% | %.0f | %s | %s | %.0f / %.0f | %.0f | %.1f | %s |\n",
               fn_sim_policy_name(u->policy), r->delivered, sc.nl ? 100.0 * r->delivered / sc.nl : 0, r->empty_km,
               r->loaded_km, 100 * r->empty_rate, r->final_return_km, bb, xb, r->match_p50_min, r->match_p90_min,
               r->revenue_per_truck_day, r->wall_s, bs);
    }
    for (size_t k = 0; k < nr; k++)
        if (runs[k].have_bound && !runs[k].b.exact) {
            printf("* not proven optimal within %d rounds: still a lower bound\n", FN_BOUND_MAX_ROUNDS);
            break;
        }
    if (out_dir && (write_results(out_dir, &base, &sc, seed, runs, nr) != 0 || write_charts(out_dir, &base, &sc, runs, nr) != 0))
        goto out;
    rc = 0;
out:
    for (size_t k = 0; k < nr; k++) {
        fn_sim_result_free(&runs[k].r);
        fn_bound_result_free(&runs[k].b);
    }
    free(sc.trucks), free(sc.loads);
    fn_cities_free(&cities);
    return rc;
}
