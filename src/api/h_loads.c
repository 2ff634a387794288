/*
 * h_loads.c — loads (货源): post, read, cancel, find near a point; and
 * available trucks (车源) near a point.
 */
#include "api/api_int.h"
#include "common/fn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fn_h_load_create(fn_call *c)
{
    fn_load in;
    int64_t now = fn_now_s();
    fn_result res = {0};
    uint64_t id;

    if (fn_decode_load(c, c->body, now, &in) != 0)
        return;
    in.company_id = fn_call_member(c);
    if (fn_engine_load_create(c->api->engine, &in, &id, &res) != 0)
        RETURN_RESULT(c, &res);
    fn_engine_rdlock(c->api->engine);
    json_t *o = fn_json_load(fn_engine_state(c->api->engine), fn_state_load(fn_engine_state(c->api->engine), id), 1, now);
    fn_engine_rdunlock(c->api->engine);
    fn_reply(c, 201, o);
}

/* Admin, the owner, and the booked driver see a load in full. */
static int load_full_view(fn_call *c, const fn_state *s, const fn_load *l)
{
    int role = fn_call_role(c);
    const fn_booking *b;
    if (role == FN_ROLE_ADMIN || (role == FN_ROLE_COMPANY && fn_call_member(c) == l->company_id))
        return 1;
    if (role == FN_ROLE_DRIVER && l->booking_id && (b = fn_state_booking(s, l->booking_id)) != NULL)
        return b->driver_id == fn_call_member(c);
    return 0;
}

void fn_h_load_get(fn_call *c)
{
    const fn_state *s;
    const fn_load *l;
    json_t *o = NULL;
    fn_engine_rdlock(c->api->engine);
    s = fn_engine_state(c->api->engine);
    l = fn_state_load(s, c->id);
    if (l)
        o = fn_json_load(s, l, load_full_view(c, s, l), fn_now_s());
    fn_engine_rdunlock(c->api->engine);
    if (!o)
        RETURN_ERROR(c, FN_ENOTFOUND, NULL, "no load %llu", (unsigned long long)c->id);
    fn_reply(c, 200, o);
}

void fn_h_load_cancel(fn_call *c)
{
    fn_result res = {0};
    if (fn_engine_load_cancel(c->api->engine, c->who, c->id, &res) != 0)
        RETURN_RESULT(c, &res);
    fn_h_load_get(c);
}

void fn_h_loads_near(fn_call *c)
{
    double lat, lon, radius;
    size_t limit, n;
    const char *status = fn_http_query(c->req, "status");
    fn_load_hit *hits;
    json_t *arr;
    const fn_state *s;
    int64_t now = fn_now_s();

    if (fn_q_near(c, &lat, &lon) || fn_q_double(c, "radius_km", 50, 0.1, 1000, &radius) ||
        fn_q_size(c, "limit", 20, 1, 200, &limit))
        return;
    if (status && strcmp(status, "open") != 0)
        RETURN_ERROR(c, FN_EINVAL, "status", "status must be open: only open loads are listed near a point");
    hits = fn_xmalloc(limit * sizeof(*hits));
    arr = json_array();
    fn_engine_rdlock(c->api->engine);
    s = fn_engine_state(c->api->engine);
    n = fn_state_loads_near(s, lat, lon, radius, limit, now, hits);
    for (size_t i = 0; i < n; i++) {
        json_t *o = fn_json_load(s, hits[i].load, load_full_view(c, s, hits[i].load), now);
        json_object_set_new(o, "distance_km", json_real(round(hits[i].distance_km * 1000) / 1000));
        json_array_append_new(arr, o);
    }
    fn_engine_rdunlock(c->api->engine);
    free(hits);
    fn_reply(c, 200, json_pack("{s:o}", "loads", arr));
}

/* Parses type=a,b,c into a mask. */
static int q_types(fn_call *c, uint16_t *mask)
{
    const char *s = fn_http_query(c->req, "type");
    char buf[256], *save = NULL, *tok;
    *mask = 0;
    if (!s || !*s)
        return 0;
    snprintf(buf, sizeof(buf), "%s", s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int t = fn_truck_type_parse(tok);
        if (t < 0) {
            fn_reply_error(c, FN_EINVAL, "type", "type '%s' is not a known truck type", tok);
            return -1;
        }
        *mask |= (uint16_t)(1u << t);
    }
    return 0;
}

void fn_h_trucks_near(fn_call *c)
{
    fn_truck_query q;
    double min_len, min_cap, min_vol;
    fn_truck_hit *hits;
    json_t *arr;
    const fn_state *s;
    size_t n;

    memset(&q, 0, sizeof(q));
    if (fn_q_near(c, &q.lat, &q.lon) || fn_q_double(c, "radius_km", 50, 0.1, 1000, &q.radius_km) ||
        fn_q_size(c, "limit", 20, 1, 200, &q.limit) || q_types(c, &q.types_mask) ||
        fn_q_double(c, "min_length_m", 0, 0, 30, &min_len) || fn_q_double(c, "min_capacity_t", 0, 0, 100, &min_cap) ||
        fn_q_double(c, "min_volume_m3", 0, 0, 300, &min_vol))
        return;
    q.min_length_idx = -1;
    if (min_len > 0) {
        /* The shortest table length that is at least min_length_m. */
        for (int i = 0; i < FN_TRUCK_LENGTH_COUNT && q.min_length_idx < 0; i++)
            if (fn_truck_length_dm(i) >= (int)lround(min_len * 10))
                q.min_length_idx = i;
        if (q.min_length_idx < 0)
            q.min_length_idx = FN_TRUCK_LENGTH_COUNT; /* longer than any truck: nothing fits */
    }
    q.min_capacity_kg = (uint32_t)lround(min_cap * 1000);
    q.min_volume_l = (uint32_t)lround(min_vol * 1000);
    q.exact = fn_call_role(c) == FN_ROLE_ADMIN;
    hits = fn_xmalloc(q.limit * sizeof(*hits));
    arr = json_array();
    fn_engine_rdlock(c->api->engine);
    s = fn_engine_state(c->api->engine);
    n = fn_state_trucks_near(s, &q, hits);
    for (size_t i = 0; i < n; i++) {
        const fn_driver *d = hits[i].driver;
        json_t *o = json_pack("{s:I, s:o, s:o, s:{s:f, s:f, s:I}}", "driver_id", (json_int_t)d->id, "truck",
                              fn_json_truck(d), "distance_km", json_real(round(hits[i].distance_km * 1000) / 1000),
                              "position", "lat", hits[i].lat, "lon", hits[i].lon, "ts", (json_int_t)d->pos_ts);
        json_object_set_new(o, "rating", d->rating_count ? json_real(round(100.0 * d->rating_sum / d->rating_count) / 100)
                                                          : json_null());
        json_object_set_new(o, "position_exact", json_boolean(q.exact));
        json_array_append_new(arr, o);
    }
    fn_engine_rdunlock(c->api->engine);
    free(hits);
    fn_reply(c, 200, json_pack("{s:o}", "trucks", arr));
}
