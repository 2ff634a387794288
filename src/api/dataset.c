/*
 * dataset.c — the general path for a dataset line (see dataset.h): jansson
 * parses it, decode.c checks it as the API checks the body it mirrors, and
 * a refusal is told with the field and message of the API's error reply.
 * The fields only a dataset has (id, a driver's status and position, a
 * load's company_id and created_at) are checked here with the same
 * validators.
 */
#include "api/dataset.h"
#include "common/fn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void fn_ds_decoder_init(fn_ds_decoder *d, const fn_ds_config *cfg)
{
    memset(d, 0, sizeof(*d));
    d->cfg = *cfg;
    d->call.resp = &d->resp;
    d->call.area = &d->cfg.area;
    fn_buf_init(&d->resp.body, 0);
}

void fn_ds_decoder_free(fn_ds_decoder *d)
{
    fn_buf_free(&d->resp.body);
}

static void fail(fn_ds_rec *r, const char *field, const char *msg)
{
    r->ok = 0;
    snprintf(r->err, sizeof(r->err), "%s%s%s", field ? field : "", field ? ": " : "", msg);
}

/* The reason from the error body decode.c wrote. */
static void fail_reply(fn_ds_decoder *d, fn_ds_rec *r)
{
    json_t *e = json_loadb((const char *)d->resp.body.data, d->resp.body.len, 0, NULL);
    json_t *err = json_object_get(e, "error");
    const char *field = json_string_value(json_object_get(err, "field"));
    char msg[360];
    snprintf(msg, sizeof(msg), "%s (%s)", json_string_value(json_object_get(err, "message")) ?: "refused",
             json_string_value(json_object_get(err, "code")) ?: "invalid");
    fail(r, field, msg);
    json_decref(e);
}

/* The time field key of obj moved by the rebase (left alone when it is not
 * an integer: the check then says so). */
static void shift_time(const fn_ds_decoder *d, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    json_int_t t;
    /* A time so large that moving it overflows is left as it is: the range
     * check then refuses it. */
    if (json_is_integer(v) && !__builtin_add_overflow(json_integer_value(v), (json_int_t)d->cfg.shift_s, &t))
        json_integer_set(v, t);
}

static void check_company(fn_ds_decoder *d, fn_ds_rec *r)
{
    if (fn_decode_company(&d->call, r->root, &r->c) != 0)
        fail_reply(d, r);
}

static void check_driver(fn_ds_decoder *d, fn_ds_rec *r)
{
    json_t *pos = json_object_get(r->root, "position");
    const char *status = NULL;
    double speed = 0, heading = 0;
    int has_heading = 0;

    if (fn_decode_driver(&d->call, r->root, &r->d) != 0 ||
        fn_jv_string(&d->call, r->root, NULL, "status", 0, 1, 16, &status))
        return fail_reply(d, r);
    if (status && strcmp(status, "available") != 0 && strcmp(status, "offline") != 0)
        return fail(r, "status", "status must be available or offline (invalid_field)");
    r->offline = status && strcmp(status, "offline") == 0;
    if (pos && !json_is_null(pos)) {
        if (!json_is_object(pos))
            return fail(r, "position", "position must be an object (invalid_field)");
        shift_time(d, pos, "ts");
        if (fn_jv_latlon(&d->call, pos, "position", &r->pos.lat, &r->pos.lon) ||
            fn_jv_int(&d->call, pos, "position", "ts", 1, 946684800, d->cfg.now_s + 300, &r->pos.ts, NULL) ||
            fn_jv_number(&d->call, pos, "position", "speed_kmh", 0, 0, 250, &speed, NULL) ||
            fn_jv_number(&d->call, pos, "position", "heading_deg", 0, 0, 360, &heading, &has_heading))
            return fail_reply(d, r);
        r->has_pos = 1;
        r->pos.speed_dkmh = (uint16_t)lround(speed * 10);
        r->pos.heading_ddeg = has_heading ? (uint16_t)lround(fmod(heading, 360.0) * 10) : 0xffff;
    }
}

static void check_load(fn_ds_decoder *d, fn_ds_rec *r)
{
    json_t *o = r->root, *pickup = json_object_get(o, "pickup");
    int64_t created = 0;
    int has_created;
    char msg[96];

    if (fn_jv_int(&d->call, o, NULL, "company_id", 1, 1, INT64_MAX, &r->company, NULL))
        return fail_reply(d, r);
    if (!d->cfg.company_known(d->cfg.company_arg, r->company)) {
        snprintf(msg, sizeof(msg), "company %lld was not imported (invalid_field)", (long long)r->company);
        return fail(r, "company_id", msg);
    }
    shift_time(d, o, "created_at");
    shift_time(d, o, "expires_at");
    if (json_is_object(pickup)) {
        shift_time(d, pickup, "earliest_at");
        shift_time(d, pickup, "latest_at");
    }
    if (fn_jv_int(&d->call, o, NULL, "created_at", 0, 946684800, d->cfg.now_s + 300, &created, &has_created) ||
        fn_decode_load(&d->call, o, d->cfg.now_s, &r->l) != 0)
        return fail_reply(d, r);
    r->l.created_at = has_created ? created : d->cfg.now_s;
}

void fn_ds_decode_slow(fn_ds_decoder *d, int kind, const char *text, size_t len, fn_ds_rec *r)
{
    json_error_t jerr;
    memset(r, 0, sizeof(*r));
    r->ok = 1;
    d->call.replied = 0;
    fn_buf_reset(&d->resp.body);
    r->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!r->root || !json_is_object(r->root)) {
        char msg[300];
        snprintf(msg, sizeof(msg), "not a JSON object: %s (invalid_json)", r->root ? "another JSON value" : jerr.text);
        return fail(r, NULL, msg);
    }
    if (fn_jv_int(&d->call, r->root, NULL, "id", 1, 1, INT64_MAX, &r->id, NULL))
        return fail_reply(d, r);
    if (kind == FN_DS_COMPANIES)
        check_company(d, r);
    else if (kind == FN_DS_DRIVERS)
        check_driver(d, r);
    else
        check_load(d, r);
}

void fn_ds_decode(fn_ds_decoder *d, int kind, const char *text, size_t len, char *strs, fn_ds_rec *r)
{
    if (!fn_ds_decode_fast(&d->cfg, kind, text, len, strs, r))
        fn_ds_decode_slow(d, kind, text, len, r);
}
