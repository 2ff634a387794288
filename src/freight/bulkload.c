/*
 * bulkload.c — `freight bulkload`: build a national-size state straight
 * into an empty data dir, offline, as a snapshot (the way a database is
 * restored from a dump), for the demo and the benchmarks.
 *
 * The data is synthetic but placed on the real map: companies and trucks in
 * cities of data/cn_cities.csv weighted by population, loads between cities
 * by a simple gravity model.  Issue 4 replaces this generator with the full
 * national dataset (`freight gen` + `freight import`).
 *
 * It writes token.key, admin.token, snap/snap-0000000000000001.fsnap, and
 * bench-tokens.json (mode 0600): the admin token, every gateway's token and
 * the first companies' and drivers' tokens, for load generators.
 */
#include "auth/token.h"
#include "common/buf.h"
#include "common/fn.h"
#include "common/geo.h"
#include "core/records.h"
#include "core/state.h"
#include "freight/cities.h"
#include "freight/cmds.h"
#include "freight/datadir.h"
#include "freight/progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Truck mix: length shares (percent) over FN_TRUCK_LENGTHS_DM
 * {4.2, 5.2, 6.8, 7.6, 8.7, 9.6, 12.5, 13, 15, 16, 17.5}: 4.2 m light trucks
 * and 17.5 m semi-trailers are the commonest. */
static const double length_share[FN_TRUCK_LENGTH_COUNT] = {34, 4, 12, 5, 2, 14, 2, 8, 1, 1, 17};
/* Capacity in tonnes typical of each length. */
static const double length_cap_t[FN_TRUCK_LENGTH_COUNT] = {1.8, 3, 8, 10, 15, 18, 25, 32, 32, 32, 33};
/* Type shares in enum order: flatbed, low_rail, high_rail, van, refrigerated,
 * insulated, container, dump, tanker, hazmat, wing_van, lowbed. */
static const double type_share[FN_TT__COUNT] = {15, 8, 30, 24, 5, 1, 4, 3, 1.5, 0.5, 7, 1};

/* A point scattered around (lat, lon) by an exponential distance of mean_km. */
static void scatter(fn_rng *r, double lat, double lon, double mean_km, double *olat, double *olon)
{
    double d = -log(1.0 - fn_rng_unit(r)) * mean_km, a = fn_rng_unit(r) * 2 * M_PI;
    *olat = lat + d * cos(a) / FN_KM_PER_DEG_LAT;
    *olon = lon + d * sin(a) / (FN_KM_PER_DEG_LAT * cos(lat * M_PI / 180));
    if (*olat < 18.01) *olat = 18.01;
    if (*olat > 53.99) *olat = 53.99;
    if (*olon < 73.01) *olon = 73.01;
    if (*olon > 134.99) *olon = 134.99;
}

static int apply(fn_state *s, fn_buf *b, int type)
{
    int rc = fn_state_apply(s, (uint8_t)type, b->data, (uint32_t)b->len);
    fn_buf_reset(b);
    if (rc != 0)
        fprintf(stderr, "freight bulkload: internal error applying record type %d\n", type);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: freight bulkload --data-dir DIR [--scale F] [--companies N] [--drivers N] [--loads N]\n"
               "                        [--gateways N] [--seed N] [--cities FILE]\n\n"
               "Builds a synthetic national state (scale 1 = 300,000 companies, 2,300,000 drivers\n"
               "with trucks and positions, 1,000,000 open loads) directly into an empty data dir\n"
               "as a snapshot, and writes DIR/bench-tokens.json with tokens for load generators.\n");
}

int fn_cmd_bulkload(int argc, char **argv)
{
    const char *dir = NULL, *cities_path = NULL;
    double scale = 1.0;
    long long n_comp = -1, n_drv = -1, n_load = -1, n_gw = 4;
    uint64_t seed = 1, t0 = fn_mono_ns();
    uint8_t key[FN_TOKEN_KEY_BYTES], hash[FN_TOKEN_HASH_BYTES];
    char path[4096], err[512], tok[FN_TOKEN_LEN + 1], name[128];
    fn_cities cities;
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, 0.2};
    fn_state *s = NULL;
    fn_buf b, toks;
    fn_rng rng;
    fn_progress pg;
    int64_t now = fn_now_s();
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "freight bulkload: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--data-dir")) dir = v;
        else if (!strcmp(a, "--scale")) scale = atof(v);
        else if (!strcmp(a, "--companies")) n_comp = atoll(v);
        else if (!strcmp(a, "--drivers")) n_drv = atoll(v);
        else if (!strcmp(a, "--loads")) n_load = atoll(v);
        else if (!strcmp(a, "--gateways")) n_gw = atoll(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--cities")) cities_path = v;
        else {
            fprintf(stderr, "freight bulkload: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (!dir || scale <= 0 || scale > 10) {
        usage(stderr);
        return 2;
    }
    if (n_comp < 0) n_comp = llround(300000 * scale);
    if (n_drv < 0) n_drv = llround(2300000 * scale);
    if (n_load < 0) n_load = llround(1000000 * scale);
    if (n_comp < 1) n_comp = 1;
    if (n_gw < 1) n_gw = 1;
    if (fn_cities_load(&cities, cities_path) != 0)
        return 1;
    if (fn_token_init() != 0)
        return 1;
    if (fn_dd_create(dir, key, err, sizeof(err)) != 0) {
        fprintf(stderr, "freight bulkload: %s\n", err);
        return 1;
    }

    s = fn_state_new(&cfg);
    rng.s = seed;
    fn_buf_init(&b, 0);
    fn_buf_init(&toks, 0);
    fn_buf_printf(&toks, "{\n");

    /* The admin token. */
    fn_token_generate(tok);
    if (fn_dd_write_file(dir, "admin.token", tok, strlen(tok), "\n", err, sizeof(err)) != 0) {
        fprintf(stderr, "freight bulkload: %s\n", err);
        goto out;
    }
    fn_buf_printf(&toks, "  \"admin\": \"%s\",\n  \"gateways\": [", tok);

    for (long long i = 1; i <= n_gw; i++) {
        fn_gateway g = {(uint64_t)i, NULL, now};
        snprintf(name, sizeof(name), "Telematics gateway %lld", i);
        g.name = name;
        fn_token_generate(tok);
        fn_token_hash(key, tok, hash);
        fn_rec_gateway_create(&b, &g, hash);
        if (apply(s, &b, FN_REC_GATEWAY_CREATE))
            goto out;
        fn_buf_printf(&toks, "%s{\"id\": %lld, \"token\": \"%s\"}", i > 1 ? ", " : "", i, tok);
    }
    fn_buf_printf(&toks, "],\n  \"companies\": [");

    fn_progress_start(&pg, "companies", (uint64_t)n_comp);
    for (long long i = 1; i <= n_comp; i++) {
        const fn_city *ci = &cities.v[fn_cities_pick(&cities, fn_rng_unit(&rng))];
        static const char *kinds[] = {"Freight", "Logistics", "Trading", "Transport"};
        fn_company c;
        memset(&c, 0, sizeof(c));
        c.id = (uint64_t)i;
        c.created_at = now;
        c.kind = (uint8_t)fn_pick_share((const double[]){55, 10, 15, 20}, 4, fn_rng_unit(&rng));
        c.province = (int8_t)ci->province;
        snprintf(name, sizeof(name), "%s %s Co. %lld", ci->name, kinds[c.kind], i);
        c.name = name;
        c.city = ci->name;
        fn_token_generate(tok);
        fn_token_hash(key, tok, hash);
        fn_rec_company_create(&b, &c, hash);
        if (apply(s, &b, FN_REC_COMPANY_CREATE))
            goto out;
        if (i <= 1000)
            fn_buf_printf(&toks, "%s{\"id\": %lld, \"token\": \"%s\"}", i > 1 ? ", " : "", i, tok);
        if ((i & 4095) == 0)
            fn_progress_set(&pg, (uint64_t)i);
    }
    fn_progress_end(&pg);
    fn_buf_printf(&toks, "],\n  \"drivers\": [");

    fn_progress_start(&pg, "drivers", (uint64_t)n_drv);
    for (long long i = 1; i <= n_drv; i++) {
        const fn_city *ci = &cities.v[fn_cities_pick(&cities, fn_rng_unit(&rng))];
        char phone[24], plate[24];
        fn_driver d;
        fn_position p;
        memset(&d, 0, sizeof(d));
        d.id = (uint64_t)i;
        d.created_at = now;
        snprintf(name, sizeof(name), "Driver %lld", i);
        snprintf(phone, sizeof(phone), "+86139%08lld", i % 100000000);
        snprintf(plate, sizeof(plate), "TRK-%07lld", i);
        d.name = name;
        d.phone = phone;
        d.plate = plate;
        scatter(&rng, ci->lat, ci->lon, 12, &d.home_lat, &d.home_lon);
        d.length_idx = (uint8_t)fn_pick_share(length_share, FN_TRUCK_LENGTH_COUNT, fn_rng_unit(&rng));
        d.truck_type = (uint8_t)fn_pick_share(type_share, FN_TT__COUNT, fn_rng_unit(&rng));
        d.capacity_kg = (uint32_t)(length_cap_t[d.length_idx] * 1000 * (0.9 + 0.2 * fn_rng_unit(&rng)));
        d.volume_l = (uint32_t)(fn_truck_length_dm(d.length_idx) * 100 * 2.4 * 2.5); /* length x 2.4 m x 2.5 m */
        if (ci->province >= 0)
            d.provinces_mask = 1u << ci->province;
        fn_token_generate(tok);
        fn_token_hash(key, tok, hash);
        fn_rec_driver_create(&b, &d, hash);
        if (apply(s, &b, FN_REC_DRIVER_CREATE))
            goto out;
        /* Most trucks are near home; a third are somewhere else on the map. */
        if (fn_rng_unit(&rng) < 0.33) {
            const fn_city *cj = &cities.v[fn_cities_pick(&cities, fn_rng_unit(&rng))];
            scatter(&rng, cj->lat, cj->lon, 15, &p.lat, &p.lon);
        } else {
            scatter(&rng, d.home_lat, d.home_lon, 8, &p.lat, &p.lon);
        }
        p.driver_id = d.id;
        p.ts = now - (int64_t)(fn_rng_unit(&rng) * 600);
        p.speed_dkmh = (uint16_t)(fn_rng_unit(&rng) < 0.5 ? 0 : 300 + fn_rng_unit(&rng) * 600);
        p.heading_ddeg = (uint16_t)(fn_rng_unit(&rng) * 3600);
        fn_rec_positions(&b, &p, 1);
        if (apply(s, &b, FN_REC_POSITIONS))
            goto out;
        if (fn_rng_unit(&rng) < 0.15) {
            fn_rec_driver_status(&b, d.id, FN_DS_OFFLINE, now);
            if (apply(s, &b, FN_REC_DRIVER_STATUS))
                goto out;
        }
        if (i <= 10000)
            fn_buf_printf(&toks, "%s{\"id\": %lld, \"token\": \"%s\"}", i > 1 ? ", " : "", i, tok);
        if ((i & 16383) == 0)
            fn_progress_set(&pg, (uint64_t)i);
    }
    fn_progress_end(&pg);
    fn_buf_printf(&toks, "]\n}\n");

    fn_progress_start(&pg, "loads", (uint64_t)n_load);
    for (long long i = 1; i <= n_load; i++) {
        static const char *cargo[] = {"general", "machinery", "building_materials", "food", "electronics",
                                      "furniture", "chemicals", "agricultural", "steel", "textiles"};
        const fn_city *o = &cities.v[fn_cities_pick(&cities, fn_rng_unit(&rng))], *dst = o;
        double km = 0, per_km;
        int li, tries;
        fn_load l;
        /* Gravity: destination by population, accepted with exp(-d / 600 km). */
        for (tries = 0; tries < 64; tries++) {
            dst = &cities.v[fn_cities_pick(&cities, fn_rng_unit(&rng))];
            km = fn_haversine_km(o->lat, o->lon, dst->lat, dst->lon);
            if (dst != o && fn_rng_unit(&rng) < exp(-km / 600.0))
                break;
        }
        memset(&l, 0, sizeof(l));
        l.id = (uint64_t)i;
        l.company_id = 1 + fn_rng_next(&rng) % (uint64_t)n_comp;
        l.created_at = now;
        scatter(&rng, o->lat, o->lon, 8, &l.origin.lat, &l.origin.lon);
        scatter(&rng, dst->lat, dst->lon, 8, &l.dest.lat, &l.dest.lon);
        l.origin.city = o->name;
        l.origin.province = (int8_t)o->province;
        l.dest.city = dst->name;
        l.dest.province = (int8_t)dst->province;
        l.cargo_kind = cargo[fn_rng_next(&rng) % 10];
        li = fn_pick_share(length_share, FN_TRUCK_LENGTH_COUNT, fn_rng_unit(&rng));
        l.min_length_idx = (int8_t)li;
        l.weight_kg = (uint32_t)(length_cap_t[li] * 1000 * (0.3 + 0.6 * fn_rng_unit(&rng)));
        l.types_mask = (uint16_t)(1u << fn_pick_share(type_share, FN_TT__COUNT, fn_rng_unit(&rng)));
        if (fn_rng_unit(&rng) < 0.5)
            l.types_mask |= (uint16_t)(1u << fn_pick_share(type_share, FN_TT__COUNT, fn_rng_unit(&rng)));
        l.pickup_earliest_at = now + (int64_t)(fn_rng_unit(&rng) * 3 * 86400);
        l.pickup_latest_at = l.pickup_earliest_at + 4 * 3600 + (int64_t)(fn_rng_unit(&rng) * 2 * 86400);
        /* Yuan per km grows with truck length; +-25% spread by lane and market. */
        per_km = (1.5 + 0.3 * fn_truck_length_dm(li) / 10.0) * (0.75 + 0.5 * fn_rng_unit(&rng));
        l.price_fen = (int64_t)llround(fmax(km * 1.3, 20) * per_km * 100);
        l.contact_name = "Dispatch";
        l.contact_phone = "+8610000000";
        l.notes = "";
        fn_rec_load_create(&b, &l);
        if (apply(s, &b, FN_REC_LOAD_CREATE))
            goto out;
        if ((i & 16383) == 0)
            fn_progress_set(&pg, (uint64_t)i);
    }
    fn_progress_end(&pg);

    fprintf(stderr, "writing the snapshot...\n");
    if (fn_dd_write_snapshot(dir, s, 0, err, sizeof(err)) != 0 ||
        fn_dd_write_file(dir, "bench-tokens.json", toks.data, toks.len, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "freight bulkload: %s\n", err);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/bench-tokens.json", dir);
    printf("bulkload: %lld companies, %lld drivers, %lld loads, %lld gateways into %s in %.1f s "
           "(state %.0f MB); tokens in %s\n",
           n_comp, n_drv, n_load, n_gw, dir, (double)(fn_mono_ns() - t0) / 1e9, fn_state_bytes(s) / 1048576.0, path);
    rc = 0;
out:
    fn_buf_free(&b);
    fn_buf_free(&toks);
    fn_state_free(s);
    fn_cities_free(&cities);
    return rc;
}
