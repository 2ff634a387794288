/*
 * h_positions.c — truck positions: one at a time from a driver's phone or
 * in batches of up to 10,000 from a telematics gateway.
 *
 * A batch is validated item by item; bad items are listed in "rejected"
 * with their index and error, and never stop the good ones, which are
 * logged as one record and acknowledged together.  Batches are read by the
 * fast parser (fastpos.h) when they fit its strict subset of JSON and by
 * jansson otherwise; both produce fn_raw_pos items that one function checks,
 * so the answers are the same.
 */
#include "api/api_int.h"
#include "api/fastpos.h"
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

/* Reads a position object from a jansson tree into the raw form. */
static void raw_from_json(json_t *o, fn_raw_pos *r)
{
    memset(r, 0, sizeof(*r));
    if (!json_is_object(o)) {
        r->not_object = 1;
        return;
    }
    for (int k = 0; k < FN_RP__COUNT; k++) {
        json_t *v = json_object_get(o, fn_rp_names[k]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_number(v)) {
            r->badtype |= 1u << k;
            continue;
        }
        r->present |= 1u << k;
        if (json_is_integer(v))
            r->integral |= 1u << k;
        r->v[k] = json_number_value(v);
    }
}

static int field_err(item_err *e, int err, int k, const char *msg)
{
    e->err = err;
    e->field = fn_rp_names[k];
    e->msg = msg;
    return -1;
}

/* Checks one raw item against the rules and fills p (driver_id only when
 * want_driver).  Returns 0, or -1 with *e set. */
static int check_raw(const fn_raw_pos *r, const fn_area *area, int64_t now, int want_driver, fn_position *p,
                     item_err *e)
{
    /* field, required, integer-only, min, max */
    static const struct {
        int required, integer;
        double min, max;
    } rules[FN_RP__COUNT] = {
        [FN_RP_DRIVER] = {1, 1, 1, 9.0e15},  [FN_RP_LAT] = {1, 0, -90, 90},     [FN_RP_LON] = {1, 0, -180, 180},
        [FN_RP_TS] = {1, 1, MIN_TS, 0},      [FN_RP_SPEED] = {0, 0, 0, 250},    [FN_RP_HEADING] = {0, 0, 0, 360},
    };
    if (r->not_object) {
        e->err = FN_EINVAL;
        e->field = "";
        e->msg = "must be an object";
        return -1;
    }
    memset(p, 0, sizeof(*p));
    for (int k = want_driver ? 0 : 1; k < FN_RP__COUNT; k++) {
        double max = k == FN_RP_TS ? (double)(now + FUTURE_SLACK_S) : rules[k].max;
        if (r->badtype & (1u << k))
            return field_err(e, FN_EINVAL, k, rules[k].integer ? "must be an integer" : "must be a number");
        if (!(r->present & (1u << k))) {
            if (rules[k].required)
                return field_err(e, FN_EMISSING, k, "is required");
            continue;
        }
        if (rules[k].integer && !(r->integral & (1u << k)))
            return field_err(e, FN_EINVAL, k, "must be an integer");
        if (!isfinite(r->v[k]) || r->v[k] < rules[k].min || r->v[k] > max)
            return field_err(e, FN_EINVAL, k,
                             k == FN_RP_TS ? "must be a Unix time in seconds, not in the future" : "is out of range");
    }
    p->driver_id = want_driver ? (uint64_t)r->v[FN_RP_DRIVER] : 0;
    p->lat = r->v[FN_RP_LAT];
    p->lon = r->v[FN_RP_LON];
    p->ts = (int64_t)r->v[FN_RP_TS];
    p->speed_dkmh = r->present & (1u << FN_RP_SPEED) ? (uint16_t)lround(r->v[FN_RP_SPEED] * 10) : 0;
    p->heading_ddeg = r->present & (1u << FN_RP_HEADING) ? (uint16_t)(lround(r->v[FN_RP_HEADING] * 10) % 3600) : 0xffff;
    if (!fn_area_contains(area, p->lat, p->lon))
        return field_err(e, FN_EAREA, FN_RP_LAT, "is outside the service area");
    return 0;
}

void fn_h_position_put(fn_call *c)
{
    const fn_area *area = &fn_state_cfg(fn_engine_state(c->api->engine))->area;
    fn_raw_pos raw;
    fn_position p;
    item_err e = {0};
    fn_result res = {0};
    uint8_t refused = 0;
    size_t accepted = 0;

    if (fn_call_role(c) == FN_ROLE_DRIVER && fn_call_member(c) != c->id)
        RETURN_ERROR(c, FN_EFORBIDDEN, NULL, "a driver may only report their own position");
    raw_from_json(c->body, &raw);
    if (check_raw(&raw, area, fn_now_s(), 0, &p, &e) != 0)
        RETURN_ERROR(c, e.err, e.field, "%s %s", e.field, e.msg);
    p.driver_id = c->id;
    if (fn_engine_positions(c->api->engine, &p, 1, &refused, &accepted, &res) != 0)
        RETURN_RESULT(c, &res);
    if (refused)
        RETURN_ERROR(c, FN_ENOTFOUND, NULL, "no driver %llu", (unsigned long long)c->id);
    fn_reply_empty(c);
}

typedef struct rejection {
    size_t index;
    int err;
    char field[48];
    char msg[96];
} rejection;

static int rej_cmp(const void *a, const void *b)
{
    const rejection *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

void fn_h_positions_post(fn_call *c)
{
    const fn_area *area = &fn_state_cfg(fn_engine_state(c->api->engine))->area;
    fn_raw_pos *raw = NULL;
    fn_position *ps = NULL;
    size_t *index_of = NULL, n = 0, m = 0, accepted = 0, nrej = 0;
    uint8_t *refused = NULL;
    rejection *rej = NULL;
    fn_result res = {0};
    int64_t now = fn_now_s();
    long fast;
    json_t *arr, *rejected;

    raw = fn_xmalloc(MAX_BATCH * sizeof(*raw));
    fast = fn_fastpos_parse(c->req->body, c->req->body_len, raw, MAX_BATCH);
    if (fast >= 0) {
        n = (size_t)fast;
    } else {
        /* The general way: the same checks as every JSON body, then the array. */
        if (fn_call_parse_body(c) != 0)
            goto out;
        arr = json_object_get(c->body, "positions");
        if (!arr || json_is_null(arr)) {
            fn_reply_error(c, FN_EMISSING, "positions", "positions is required");
            goto out;
        }
        if (!json_is_array(arr)) {
            fn_reply_error(c, FN_EINVAL, "positions", "positions must be an array");
            goto out;
        }
        n = json_array_size(arr);
        if (n > MAX_BATCH) {
            fn_reply_error(c, FN_EINVAL, "positions", "positions holds %zu items; at most %d per request", n, MAX_BATCH);
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            raw_from_json(json_array_get(arr, i), &raw[i]);
    }
    ps = fn_xmalloc((n ? n : 1) * sizeof(*ps));
    index_of = fn_xmalloc((n ? n : 1) * sizeof(*index_of));
    refused = fn_xcalloc(n ? n : 1, 1);
    rej = fn_xmalloc((n ? n : 1) * sizeof(*rej));
    for (size_t i = 0; i < n; i++) {
        item_err e = {0};
        if (check_raw(&raw[i], area, now, 1, &ps[m], &e) == 0) {
            index_of[m++] = i;
            continue;
        }
        rej[nrej].index = i;
        rej[nrej].err = e.err;
        snprintf(rej[nrej].field, sizeof(rej[nrej].field), "positions[%zu]%s%s", i, *e.field ? "." : "", e.field);
        snprintf(rej[nrej].msg, sizeof(rej[nrej].msg), "%s %s", rej[nrej].field, e.msg);
        nrej++;
    }
    if (m && fn_engine_positions(c->api->engine, ps, m, refused, &accepted, &res) != 0) {
        fn_reply_result(c, &res);
        goto out;
    }
    for (size_t k = 0; k < m; k++) {
        if (!refused[k])
            continue;
        rej[nrej].index = index_of[k];
        rej[nrej].err = FN_ENOTFOUND;
        snprintf(rej[nrej].field, sizeof(rej[nrej].field), "positions[%zu].driver_id", index_of[k]);
        snprintf(rej[nrej].msg, sizeof(rej[nrej].msg), "no driver %llu", (unsigned long long)ps[k].driver_id);
        nrej++;
    }
    qsort(rej, nrej, sizeof(*rej), rej_cmp);
    rejected = json_array();
    for (size_t k = 0; k < nrej; k++)
        json_array_append_new(rejected, json_pack("{s:I, s:{s:s, s:s, s:s}}", "index", (json_int_t)rej[k].index,
                                                  "error", "code", fn_errcode(rej[k].err), "message", rej[k].msg,
                                                  "field", rej[k].field));
    fn_reply(c, 200, json_pack("{s:I, s:o}", "accepted", (json_int_t)accepted, "rejected", rejected));
out:
    free(raw);
    free(ps);
    free(index_of);
    free(refused);
    free(rej);
}
