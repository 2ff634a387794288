/*
 * h_match.c — ranked matches for a load and ranked loads for a driver
 * (match.h does the searching; docs/matching.md explains the scores).
 */
#include "api/api_int.h"
#include "api/jw.h"
#include "common/fn.h"
#include "match/dispatch.h"
#include "match/match.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *r2(double v) { return json_real(round(v * 100.0) / 100.0); }

/* v with exactly d decimals (rounded half away from zero), as text at p;
 * returns its length.  printf would do, at several times the cost. */
static size_t fmt_fixed(char *p, double v, int d)
{
    static const int64_t pow10[4] = {1, 10, 100, 1000};
    char digits[24];
    size_t n = 0, k = 0;
    int64_t x, ip, fp;
    if (!isfinite(v) || fabs(v) > 1e12)
        return (size_t)snprintf(p, 32, "%.*f", d, v);
    x = llround(v * (double)pow10[d]);
    if (x < 0) {
        p[n++] = '-';
        x = -x;
    }
    ip = x / pow10[d];
    fp = x % pow10[d];
    do {
        digits[k++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (k)
        p[n++] = digits[--k];
    if (d > 0) {
        p[n++] = '.';
        for (int i = d - 1; i >= 0; i--, fp /= 10)
            p[n + (size_t)i] = (char)('0' + fp % 10);
        n += (size_t)d;
    }
    p[n] = '\0';
    return n;
}

/* What one part of a score measured, in words. */
static void detail(const fn_match_hit *h, int f, char *out)
{
    size_t n;
    switch (f) {
    case FN_MF_DEADHEAD:
        n = fmt_fixed(out, h->deadhead_km, 1);
        strcpy(out + n, " km empty to the pickup");
        break;
    case FN_MF_PICKUP_TIME:
        n = strlen(strcpy(out, "reaches the pickup in "));
        n += fmt_fixed(out + n, h->eta_min, 0);
        strcpy(out + n, " min");
        break;
    case FN_MF_DESTINATION:
        strcpy(out, h->factor[f] >= 1.0 ? "delivery in a preferred province"
                                        : "delivery scored by its distance from the driver's home");
        break;
    case FN_MF_TOWARD:
        strcpy(out, h->factor[f] > 0.5 ? "delivery brings the truck nearer its target"
                                       : "delivery brings the truck no nearer its target");
        break;
    case FN_MF_RATING:
        n = strlen(strcpy(out, "rating factor "));
        fmt_fixed(out + n, h->factor[f], 2);
        break;
    default:
        n = fmt_fixed(out, h->price_per_km, 2);
        strcpy(out + n, " yuan per km driven (loaded + empty)");
        break;
    }
}

/* The parts of a score, each with what it measured, so a user sees why. */
static json_t *reasons(const fn_match_hit *h)
{
    json_t *arr = json_array();
    for (int f = 0; f < FN_MF__COUNT; f++) {
        char text[128];
        if (h->weight[f] == 0)
            continue;
        detail(h, f, text);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:o}", "factor", fn_mfactor_names[f], "detail", text,
                                             "value", json_real(round(h->factor[f] * 1000) / 1000), "weight",
                                             json_real(h->weight[f]), "points", r2(100.0 * h->weight[f] * h->factor[f])));
    }
    return arr;
}

/* The same reasons written straight to the reply. */
static void jw_reasons(fn_jw *w, const fn_match_hit *h)
{
    fn_jw_arr(w, "reasons");
    for (int f = 0; f < FN_MF__COUNT; f++) {
        char text[128];
        if (h->weight[f] == 0)
            continue;
        detail(h, f, text);
        fn_jw_obj(w, NULL);
        fn_jw_str(w, "factor", fn_mfactor_names[f]);
        fn_jw_str(w, "detail", text);
        fn_jw_fixed(w, "value", h->factor[f], 3);
        fn_jw_fixed(w, "weight", h->weight[f], 2); /* the weights have two decimals */
        fn_jw_fixed(w, "points", 100.0 * h->weight[f] * h->factor[f], 2);
        fn_jw_end(w);
    }
    fn_jw_end(w);
}

/* A truck as fn_json_truck renders it. */
static void jw_truck(fn_jw *w, const fn_driver *d)
{
    fn_jw_obj(w, "truck");
    fn_jw_str(w, "plate", d->plate);
    fn_jw_str(w, "type", fn_truck_type_key(d->truck_type));
    fn_jw_str(w, "type_zh", fn_truck_type_zh(d->truck_type));
    fn_jw_fixed(w, "length_m", fn_truck_length_dm(d->length_idx) / 10.0, 1);
    fn_jw_fixed(w, "capacity_t", d->capacity_kg / 1000.0, 3);
    if (d->volume_l)
        fn_jw_fixed(w, "volume_m3", d->volume_l / 1000.0, 3);
    else
        fn_jw_null(w, "volume_m3");
    fn_jw_end(w);
}

void fn_h_load_matches(fn_call *c)
{
    static const fn_match_config cfg = {50.0};
    const fn_state *s;
    const fn_load *l;
    fn_match_hit *hits;
    double radius;
    size_t limit, n;
    int exact = fn_call_role(c) == FN_ROLE_ADMIN, err = 0;
    int64_t now = fn_now_s();

    if (fn_q_double(c, "radius_km", 150, 1, 500, &radius) || fn_q_size(c, "limit", 20, 1, 100, &limit))
        return;
    hits = fn_xmalloc(limit * sizeof(*hits));
    fn_engine_rdlock(c->api->engine);
    s = fn_engine_state(c->api->engine);
    l = fn_state_load(s, c->id);
    if (!l)
        err = FN_ENOTFOUND;
    else if (fn_call_role(c) == FN_ROLE_COMPANY && l->company_id != fn_call_member(c))
        err = FN_EFORBIDDEN;
    else if (fn_load_status(l, now) != FN_LS_OPEN)
        err = FN_ENOTOPEN;
    n = err ? 0 : fn_match_trucks(s, &cfg, l, radius, limit, exact, now, hits);
    if (!err) {
        /* The hottest read route: written straight into the reply. */
        fn_jw *w = fn_reply_jw(c, 200);
        fn_jw_obj(w, NULL);
        fn_jw_int(w, "load_id", (int64_t)c->id);
        fn_jw_arr(w, "matches");
        for (size_t i = 0; i < n; i++) {
            const fn_match_hit *h = &hits[i];
            fn_jw_obj(w, NULL);
            fn_jw_int(w, "driver_id", (int64_t)h->driver->id);
            jw_truck(w, h->driver);
            fn_jw_fixed(w, "deadhead_km", h->deadhead_km, 2);
            fn_jw_fixed(w, "eta_min", h->eta_min, 0);
            fn_jw_fixed(w, "score", h->score, 2);
            jw_reasons(w, h);
            fn_jw_obj(w, "position");
            if (exact) {
                fn_jw_real(w, "lat", h->lat);
                fn_jw_real(w, "lon", h->lon);
            } else { /* privacy-cell centres: multiples of 0.01 degree */
                fn_jw_fixed(w, "lat", h->lat, 6);
                fn_jw_fixed(w, "lon", h->lon, 6);
            }
            fn_jw_int(w, "ts", h->driver->pos_ts);
            fn_jw_end(w);
            fn_jw_bool(w, "position_exact", exact);
            fn_jw_end(w);
        }
        fn_jw_end(w);
        fn_jw_end(w);
    }
    fn_engine_rdunlock(c->api->engine);
    free(hits);
    if (err == FN_ENOTFOUND)
        RETURN_ERROR(c, err, NULL, "no load %llu", (unsigned long long)c->id);
    if (err == FN_EFORBIDDEN)
        RETURN_ERROR(c, err, NULL, "only the company that posted a load sees its matches");
    if (err)
        RETURN_ERROR(c, err, NULL, "the load is not open: matches are for open loads");
}

void fn_h_driver_loads(fn_call *c)
{
    static const fn_match_config cfg = {50.0};
    const char *tw = fn_http_query(c->req, "toward");
    const fn_state *s;
    const fn_driver *d;
    fn_match_hit *hits;
    fn_toward toward = {0, -1};
    double radius;
    size_t limit, n = 0;
    int64_t now = fn_now_s();
    json_t *arr;

    if (fn_call_member(c) != c->id)
        RETURN_ERROR(c, FN_EFORBIDDEN, NULL, "a driver may only search loads for their own truck");
    if (fn_q_double(c, "radius_km", 150, 1, 500, &radius) || fn_q_size(c, "limit", 20, 1, 100, &limit))
        return;
    if (tw && *tw) {
        if (strcmp(tw, "home") == 0)
            toward.kind = 1;
        else if ((toward.province = fn_province_parse(tw)) >= 0)
            toward.kind = 2;
        else
            RETURN_ERROR(c, FN_EINVAL, "toward", "toward must be home or a province of mainland China");
    }
    hits = fn_xmalloc(limit * sizeof(*hits));
    arr = json_array();
    fn_engine_rdlock(c->api->engine);
    s = fn_engine_state(c->api->engine);
    d = fn_state_driver(s, c->id);
    if (d)
        n = fn_match_loads(s, &cfg, d, toward, radius, limit, now, hits);
    for (size_t i = 0; i < n; i++) {
        const fn_match_hit *h = &hits[i];
        int full = h->load->booking_id && d->booking_id == h->load->booking_id;
        json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "load", fn_json_load(s, h->load, full, now),
                                             "deadhead_km", r2(h->deadhead_km), "loaded_km", r2(h->loaded_km),
                                             "price_per_km", r2(h->price_per_km), "eta_min", json_real(round(h->eta_min)),
                                             "score", r2(h->score), "reasons", reasons(h)));
    }
    fn_engine_rdunlock(c->api->engine);
    free(hits);
    if (!d) {
        json_decref(arr);
        RETURN_ERROR(c, FN_ENOTFOUND, NULL, "no driver %llu", (unsigned long long)c->id);
    }
    fn_reply(c, 200, json_pack("{s:I, s:o, s:o}", "driver_id", (json_int_t)c->id, "toward",
                               toward.kind == 0 ? json_null() : json_string(toward.kind == 1 ? "home" : fn_province_name(toward.province)),
                               "loads", arr));
}

static void rdunlock(void *engine) { fn_engine_rdunlock(engine); }

/* POST /v1/dispatch: the region's optimal assignment (dispatch.h), and with
 * "apply": true its bookings, made under one write lock so that a load
 * booked meanwhile is refused, never double-booked. */
void fn_h_dispatch(fn_call *c)
{
    static const fn_match_config cfg = {50.0};
    fn_dispatch_query q;
    fn_dispatch_result r;
    const char *prov;
    json_t *bbox, *applyv, *pairs, *out;
    double radius;
    int64_t k = 16;
    int apply = 0, rc;

    memset(&q, 0, sizeof(q));
    q.province = -1;
    if (fn_jv_string(c, c->body, NULL, "province", 0, 1, 64, &prov) ||
        fn_jv_number(c, c->body, NULL, "radius_km", 0, 1, 500, &radius, &rc) ||
        fn_jv_int(c, c->body, NULL, "trucks_per_load", 0, 1, 64, &k, NULL))
        return;
    q.radius_km = rc ? radius : 150;
    q.k = (size_t)k;
    q.max_loads = 200000;
    if (prov && (q.province = fn_province_parse(prov)) < 0)
        RETURN_ERROR(c, FN_EINVAL, "province", "province '%s' is not a province of mainland China", prov);
    bbox = json_object_get(c->body, "bbox");
    if (bbox && !json_is_null(bbox)) {
        double v[4];
        if (!json_is_array(bbox) || json_array_size(bbox) != 4)
            RETURN_ERROR(c, FN_EINVAL, "bbox", "bbox must be [west_lon, south_lat, east_lon, north_lat]");
        for (size_t i = 0; i < 4; i++) {
            json_t *x = json_array_get(bbox, i);
            if (!json_is_number(x))
                RETURN_ERROR(c, FN_EINVAL, "bbox", "bbox must hold four numbers");
            v[i] = json_number_value(x);
        }
        if (v[0] < -180 || v[2] > 180 || v[1] < -90 || v[3] > 90 || v[0] >= v[2] || v[1] >= v[3])
            RETURN_ERROR(c, FN_EINVAL, "bbox", "bbox must be [west_lon, south_lat, east_lon, north_lat] with west < east and south < north");
        q.has_bbox = 1;
        q.west_lon = v[0], q.south_lat = v[1], q.east_lon = v[2], q.north_lat = v[3];
    }
    if (q.province < 0 && !q.has_bbox)
        RETURN_ERROR(c, FN_EMISSING, "province", "give a province or a bbox to dispatch");
    applyv = json_object_get(c->body, "apply");
    if (applyv && !json_is_null(applyv)) {
        if (!json_is_boolean(applyv))
            RETURN_ERROR(c, FN_EINVAL, "apply", "apply must be true or false");
        apply = json_is_true(applyv);
    }

    fn_engine_rdlock(c->api->engine);
    rc = fn_dispatch_run(fn_engine_state(c->api->engine), &cfg, &q, fn_now_s(), &r, rdunlock, c->api->engine);
    if (rc != 0)
        RETURN_ERROR(c, FN_EINVAL, NULL, "the region holds more than %zu open loads; dispatch a smaller one", q.max_loads);

    pairs = json_array();
    for (size_t i = 0; i < r.npairs; i++)
        json_array_append_new(pairs, json_pack("{s:I, s:I, s:o}", "load_id", (json_int_t)r.pairs[i].load_id, "driver_id",
                                               (json_int_t)r.pairs[i].driver_id, "deadhead_km", r2(r.pairs[i].deadhead_km)));
    out = json_pack("{s:o, s:I, s:o, s:I, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:b}", "pairs", pairs, "matched",
                    (json_int_t)r.npairs, "total_deadhead_km", r2(r.total_deadhead_km), "greedy_matched",
                    (json_int_t)r.greedy_matched, "greedy_total_deadhead_km", r2(r.greedy_total_deadhead_km),
                    "loads_considered", (json_int_t)r.loads, "trucks_considered", (json_int_t)r.trucks, "edges",
                    (json_int_t)r.edges, "trucks_per_load", (json_int_t)q.k, "build_ms", r2(r.build_ms), "solve_ms",
                    r2(r.solve_ms), "apply", apply);
    if (apply && r.npairs) {
        uint64_t *drv = fn_xmalloc(r.npairs * sizeof(uint64_t)), *ld = fn_xmalloc(r.npairs * sizeof(uint64_t));
        uint64_t *bk = fn_xmalloc(r.npairs * sizeof(uint64_t));
        int *errs = fn_xmalloc(r.npairs * sizeof(int));
        fn_result res = {0};
        json_t *booked = json_array(), *refused = json_array();
        for (size_t i = 0; i < r.npairs; i++)
            drv[i] = r.pairs[i].driver_id, ld[i] = r.pairs[i].load_id;
        rc = fn_engine_book_batch(c->api->engine, drv, ld, r.npairs, bk, errs, &res);
        for (size_t i = 0; rc == 0 && i < r.npairs; i++) {
            if (!errs[i])
                json_array_append_new(booked, json_pack("{s:I, s:I}", "load_id", (json_int_t)ld[i], "booking_id", (json_int_t)bk[i]));
            else
                json_array_append_new(refused, json_pack("{s:I, s:I, s:s}", "load_id", (json_int_t)ld[i], "driver_id",
                                                         (json_int_t)drv[i], "error", fn_errcode(errs[i])));
        }
        free(drv), free(ld), free(bk), free(errs);
        if (rc != 0) {
            json_decref(booked), json_decref(refused), json_decref(out);
            fn_dispatch_result_free(&r);
            RETURN_RESULT(c, &res);
        }
        json_object_set_new(out, "bookings", booked);
        json_object_set_new(out, "refused", refused);
    }
    fn_dispatch_result_free(&r);
    fn_reply(c, 200, out);
}
