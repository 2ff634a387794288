/*
 * h_positions.c — truck positions: one at a time from a driver's phone or
 * in batches of up to 10,000 from a telematics gateway.
 *
 * A batch is validated item by item; bad items are listed in "rejected"
 * with their index and error, and never stop the good ones, which are
 * logged as one record and acknowledged together.
 */
#include "api/api_int.h"
#include "common/fn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 10000
/* Reports from further ahead than this are refused as clock errors. */
#define FUTURE_SLACK_S 300
#define MIN_TS 946684800 /* 2000-01-01 */

typedef struct item_err {
    int err;
    const char *field;
    const char *msg;
} item_err;

static int get_num(json_t *o, const char *key, int required, double min, double max, double *out, item_err *e,
                   int integer)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (!required)
            return 1;
        e->err = FN_EMISSING;
        e->field = key;
        e->msg = "is required";
        return -1;
    }
    if (integer ? !json_is_integer(v) : !json_is_number(v)) {
        e->err = FN_EINVAL;
        e->field = key;
        e->msg = integer ? "must be an integer" : "must be a number";
        return -1;
    }
    *out = json_number_value(v);
    if (!isfinite(*out) || *out < min || *out > max) {
        e->err = FN_EINVAL;
        e->field = key;
        e->msg = "is out of range";
        return -1;
    }
    return 0;
}

/* Parses one position object (driver_id only when want_driver). */
static int parse_position(json_t *o, const fn_area *area, int64_t now, int want_driver, fn_position *p, item_err *e)
{
    double v;
    int r;
    if (!json_is_object(o)) {
        e->err = FN_EINVAL;
        e->field = "";
        e->msg = "must be an object";
        return -1;
    }
    memset(p, 0, sizeof(*p));
    if (want_driver) {
        if (get_num(o, "driver_id", 1, 1, 9.0e15, &v, e, 1) < 0)
            return -1;
        p->driver_id = (uint64_t)v;
    }
    if (get_num(o, "lat", 1, -90, 90, &p->lat, e, 0) < 0 || get_num(o, "lon", 1, -180, 180, &p->lon, e, 0) < 0)
        return -1;
    if (get_num(o, "ts", 1, MIN_TS, (double)(now + FUTURE_SLACK_S), &v, e, 1) < 0) {
        if (e->err == FN_EINVAL && strcmp(e->msg, "is out of range") == 0)
            e->msg = "must be a Unix time in seconds, not in the future";
        return -1;
    }
    p->ts = (int64_t)v;
    r = get_num(o, "speed_kmh", 0, 0, 250, &v, e, 0);
    if (r < 0)
        return -1;
    p->speed_dkmh = r == 0 ? (uint16_t)lround(v * 10) : 0;
    r = get_num(o, "heading_deg", 0, 0, 360, &v, e, 0);
    if (r < 0)
        return -1;
    p->heading_ddeg = r == 0 ? (uint16_t)(lround(v * 10) % 3600) : 0xffff;
    if (!fn_area_contains(area, p->lat, p->lon)) {
        e->err = FN_EAREA;
        e->field = "lat";
        e->msg = "is outside the service area";
        return -1;
    }
    return 0;
}

void fn_h_position_put(fn_call *c)
{
    const fn_area *area = &fn_state_cfg(fn_engine_state(c->api->engine))->area;
    fn_position p;
    item_err e = {0};
    fn_result res = {0};
    uint8_t refused = 0;
    size_t accepted = 0;

    if (fn_call_role(c) == FN_ROLE_DRIVER && fn_call_member(c) != c->id)
        RETURN_ERROR(c, FN_EFORBIDDEN, NULL, "a driver may only report their own position");
    if (parse_position(c->body, area, fn_now_s(), 0, &p, &e) != 0)
        RETURN_ERROR(c, e.err, e.field, "%s %s", e.field, e.msg);
    p.driver_id = c->id;
    if (fn_engine_positions(c->api->engine, &p, 1, &refused, &accepted, &res) != 0)
        RETURN_RESULT(c, &res);
    if (refused)
        RETURN_ERROR(c, FN_ENOTFOUND, NULL, "no driver %llu", (unsigned long long)c->id);
    fn_reply_empty(c);
}

void fn_h_positions_post(fn_call *c)
{
    const fn_area *area = &fn_state_cfg(fn_engine_state(c->api->engine))->area;
    json_t *arr = json_object_get(c->body, "positions"), *rejected, *v;
    fn_position *ps;
    size_t *index_of, n, m = 0, accepted = 0, i;
    uint8_t *refused;
    fn_result res = {0};
    int64_t now = fn_now_s();

    if (!arr || json_is_null(arr))
        RETURN_ERROR(c, FN_EMISSING, "positions", "positions is required");
    if (!json_is_array(arr))
        RETURN_ERROR(c, FN_EINVAL, "positions", "positions must be an array");
    n = json_array_size(arr);
    if (n > MAX_BATCH)
        RETURN_ERROR(c, FN_EINVAL, "positions", "positions holds %zu items; at most %d per request", n, MAX_BATCH);
    ps = fn_xmalloc((n ? n : 1) * sizeof(*ps));
    index_of = fn_xmalloc((n ? n : 1) * sizeof(*index_of));
    refused = fn_xcalloc(n ? n : 1, 1);
    rejected = json_array();
    json_array_foreach(arr, i, v) {
        item_err e = {0};
        if (parse_position(v, area, now, 1, &ps[m], &e) == 0) {
            index_of[m++] = i;
        } else {
            char field[64], msg[128];
            snprintf(field, sizeof(field), "positions[%zu]%s%s", i, *e.field ? "." : "", e.field);
            snprintf(msg, sizeof(msg), "%s %s", field, e.msg);
            json_array_append_new(rejected, json_pack("{s:I, s:{s:s, s:s, s:s}}", "index", (json_int_t)i, "error",
                                                      "code", fn_errcode(e.err), "message", msg, "field", field));
        }
    }
    if (m && fn_engine_positions(c->api->engine, ps, m, refused, &accepted, &res) != 0) {
        json_decref(rejected);
        free(ps);
        free(index_of);
        free(refused);
        RETURN_RESULT(c, &res);
    }
    for (size_t k = 0; k < m; k++) {
        if (!refused[k])
            continue;
        char field[64], msg[128];
        snprintf(field, sizeof(field), "positions[%zu].driver_id", index_of[k]);
        snprintf(msg, sizeof(msg), "no driver %llu", (unsigned long long)ps[k].driver_id);
        json_array_append_new(rejected, json_pack("{s:I, s:{s:s, s:s, s:s}}", "index", (json_int_t)index_of[k],
                                                  "error", "code", "not_found", "message", msg, "field", field));
    }
    free(ps);
    free(index_of);
    free(refused);
    fn_reply(c, 200, json_pack("{s:I, s:o}", "accepted", (json_int_t)accepted, "rejected", rejected));
}
