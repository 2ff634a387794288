/*
 * h_match.c — ranked matches for a load and ranked loads for a driver
 * (match.h does the searching; docs/matching.md explains the scores).
 */
#include "api/api_int.h"
#include "common/fn.h"
#include "match/dispatch.h"
#include "match/match.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *r2(double v) { return json_real(round(v * 100.0) / 100.0); }

/* The parts of a score, each with what it measured, so a user sees why. */
static json_t *reasons(const fn_match_hit *h)
{
    json_t *arr = json_array();
    for (int f = 0; f < FN_MF__COUNT; f++) {
        char detail[128];
        if (h->weight[f] == 0)
            continue;
        switch (f) {
        case FN_MF_DEADHEAD: snprintf(detail, sizeof(detail), "%.1f km empty to the pickup", h->deadhead_km); break;
        case FN_MF_PICKUP_TIME: snprintf(detail, sizeof(detail), "reaches the pickup in %.0f min", h->eta_min); break;
        case FN_MF_DESTINATION:
            snprintf(detail, sizeof(detail), "delivery %s", h->factor[f] >= 1.0 ? "in a preferred province"
                                                          : "scored by its distance from the driver's home");
            break;
        case FN_MF_TOWARD: snprintf(detail, sizeof(detail), "delivery brings the truck %s", h->factor[f] > 0.5 ? "nearer its target" : "no nearer its target"); break;
        case FN_MF_RATING: snprintf(detail, sizeof(detail), "rating factor %.2f", h->factor[f]); break;
        default: snprintf(detail, sizeof(detail), "%.2f yuan per km driven (loaded + empty)", h->price_per_km); break;
        }
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:o}", "factor", fn_mfactor_names[f], "detail", detail,
                                             "value", json_real(round(h->factor[f] * 1000) / 1000), "weight",
                                             json_real(h->weight[f]), "points", r2(100.0 * h->weight[f] * h->factor[f])));
    }
    return arr;
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
    json_t *arr;

    if (fn_q_double(c, "radius_km", 150, 1, 500, &radius) || fn_q_size(c, "limit", 20, 1, 100, &limit))
        return;
    hits = fn_xmalloc(limit * sizeof(*hits));
    arr = json_array();
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
    for (size_t i = 0; i < n; i++) {
        const fn_match_hit *h = &hits[i];
        json_array_append_new(arr, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:{s:f, s:f, s:I}, s:b}", "driver_id",
                                             (json_int_t)h->driver->id, "truck", fn_json_truck(h->driver), "deadhead_km",
                                             r2(h->deadhead_km), "eta_min", json_real(round(h->eta_min)), "score",
                                             r2(h->score), "reasons", reasons(h), "position", "lat", h->lat, "lon", h->lon,
                                             "ts", (json_int_t)h->driver->pos_ts, "position_exact", exact));
    }
    fn_engine_rdunlock(c->api->engine);
    free(hits);
    if (err) {
        json_decref(arr);
        if (err == FN_ENOTFOUND)
            RETURN_ERROR(c, err, NULL, "no load %llu", (unsigned long long)c->id);
        if (err == FN_EFORBIDDEN)
            RETURN_ERROR(c, err, NULL, "only the company that posted a load sees its matches");
        RETURN_ERROR(c, err, NULL, "the load is not open: matches are for open loads");
    }
    fn_reply(c, 200, json_pack("{s:I, s:o}", "load_id", (json_int_t)c->id, "matches", arr));
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
