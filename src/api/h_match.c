/*
 * h_match.c — ranked matches for a load and ranked loads for a driver
 * (match.h does the searching; docs/matching.md explains the scores).
 */
#include "api/api_int.h"
#include "common/fn.h"
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
