/*
 * validate.c — field-by-field checks of request bodies and query strings.
 * Every failure answers 400 (or 422 for a place outside the service area)
 * with the path of the field at fault, e.g. "origin.lat" or
 * "positions[3].driver_id".
 */
#include "api/api_int.h"
#include "common/fn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fn_field_path(fn_field *f, const char *prefix, const char *key)
{
    if (prefix && *prefix)
        snprintf(f->path, sizeof(f->path), "%s.%s", prefix, key);
    else
        snprintf(f->path, sizeof(f->path), "%s", key);
    return f->path;
}

/* Field paths handed to replies must outlive this call: the reply copies
 * them at once, so a stack buffer is enough. */
static int missing(fn_call *c, const char *prefix, const char *key)
{
    fn_field f;
    fn_reply_error(c, FN_EMISSING, fn_field_path(&f, prefix, key), "%s is required", fn_field_path(&f, prefix, key));
    return -1;
}

static int invalid(fn_call *c, const char *prefix, const char *key, const char *what)
{
    fn_field f;
    fn_field_path(&f, prefix, key);
    fn_reply_error(c, FN_EINVAL, f.path, "%s %s", f.path, what);
    return -1;
}

int fn_jv_string(fn_call *c, json_t *obj, const char *prefix, const char *key, int required, size_t min_chars,
                 size_t max_chars, const char **out)
{
    json_t *v = json_object_get(obj, key);
    const unsigned char *s;
    size_t chars = 0;
    char what[96];
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? missing(c, prefix, key) : 0;
    if (!json_is_string(v))
        return invalid(c, prefix, key, "must be a string");
    s = (const unsigned char *)json_string_value(v);
    for (const unsigned char *p = s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return invalid(c, prefix, key, "must not contain control characters");
        if ((*p & 0xc0) != 0x80)
            chars++;
    }
    if (chars < min_chars || chars > max_chars) {
        snprintf(what, sizeof(what), "must be %zu to %zu characters long", min_chars, max_chars);
        return invalid(c, prefix, key, what);
    }
    *out = (const char *)s;
    return 0;
}

int fn_jv_number(fn_call *c, json_t *obj, const char *prefix, const char *key, int required, double min, double max,
                 double *out, int *present)
{
    json_t *v = json_object_get(obj, key);
    double d;
    char what[96];
    if (present)
        *present = 0;
    if (!v || json_is_null(v))
        return required ? missing(c, prefix, key) : 0;
    if (!json_is_number(v))
        return invalid(c, prefix, key, "must be a number");
    d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        snprintf(what, sizeof(what), "must be between %g and %g", min, max);
        return invalid(c, prefix, key, what);
    }
    *out = d;
    if (present)
        *present = 1;
    return 0;
}

int fn_jv_int(fn_call *c, json_t *obj, const char *prefix, const char *key, int required, int64_t min, int64_t max,
              int64_t *out, int *present)
{
    json_t *v = json_object_get(obj, key);
    json_int_t i;
    char what[96];
    if (present)
        *present = 0;
    if (!v || json_is_null(v))
        return required ? missing(c, prefix, key) : 0;
    if (!json_is_integer(v))
        return invalid(c, prefix, key, "must be an integer");
    i = json_integer_value(v);
    if (i < min || i > max) {
        snprintf(what, sizeof(what), "must be between %lld and %lld", (long long)min, (long long)max);
        return invalid(c, prefix, key, what);
    }
    *out = i;
    if (present)
        *present = 1;
    return 0;
}

int fn_jv_object(fn_call *c, json_t *obj, const char *prefix, const char *key, int required, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? missing(c, prefix, key) : 0;
    if (!json_is_object(v))
        return invalid(c, prefix, key, "must be an object");
    *out = v;
    return 0;
}

int fn_jv_latlon(fn_call *c, json_t *obj, const char *prefix, double *lat, double *lon)
{
    const fn_area *a = c->area;
    fn_field f;
    if (fn_jv_number(c, obj, prefix, "lat", 1, -90, 90, lat, NULL) ||
        fn_jv_number(c, obj, prefix, "lon", 1, -180, 180, lon, NULL))
        return -1;
    if (!fn_area_contains(a, *lat, *lon)) {
        fn_reply_error(c, FN_EAREA, fn_field_path(&f, prefix, "lat"),
                       "(%g, %g) is outside the service area (lat %g..%g, lon %g..%g)", *lat, *lon, a->lat_min,
                       a->lat_max, a->lon_min, a->lon_max);
        return -1;
    }
    return 0;
}

int fn_jv_money(fn_call *c, json_t *obj, const char *prefix, const char *key, int64_t *fen)
{
    double v;
    if (fn_jv_number(c, obj, prefix, key, 1, 0.01, 100000000.0, &v, NULL))
        return -1;
    if (fn_yuan_to_fen(v, fen) != 0)
        return invalid(c, prefix, key, "must have at most 2 decimals");
    return 0;
}

int fn_yuan_to_fen(double yuan, int64_t *fen)
{
    double cents = yuan * 100.0;
    if (fabs(cents - round(cents)) > 1e-6 * fmax(1.0, cents))
        return -1;
    *fen = (int64_t)llround(cents);
    return 0;
}

int fn_q_double(fn_call *c, const char *name, double dflt, double min, double max, double *out)
{
    const char *s = fn_http_query(c->req, name);
    char *end;
    double v;
    if (!s || !*s) {
        *out = dflt;
        return 0;
    }
    v = strtod(s, &end);
    if (*end || !isfinite(v) || v < min || v > max) {
        fn_reply_error(c, FN_EINVAL, name, "query parameter %s must be a number between %g and %g", name, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int fn_q_size(fn_call *c, const char *name, size_t dflt, size_t min, size_t max, size_t *out)
{
    const char *s = fn_http_query(c->req, name);
    uint64_t v;
    if (!s || !*s) {
        *out = dflt;
        return 0;
    }
    if (fn_parse_u64(s, &v) != 0 || v < min || v > max) {
        fn_reply_error(c, FN_EINVAL, name, "query parameter %s must be an integer between %zu and %zu", name, min, max);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int fn_q_near(fn_call *c, double *lat, double *lon)
{
    const char *s = fn_http_query(c->req, "near");
    char *end;
    if (!s || !*s) {
        fn_reply_error(c, FN_EMISSING, "near", "query parameter near=lat,lon is required");
        return -1;
    }
    /* Each half must hold a number: strtod parses "" as 0 without moving end,
     * so "near=," would otherwise be taken for 0,0. */
    *lat = strtod(s, &end);
    if (end == s || *end != ',' || !isfinite(*lat) || *lat < -90 || *lat > 90)
        goto bad;
    s = end + 1;
    *lon = strtod(s, &end);
    if (end == s || *end || !isfinite(*lon) || *lon < -180 || *lon > 180)
        goto bad;
    return 0;
bad:
    fn_reply_error(c, FN_EINVAL, "near", "query parameter near must be lat,lon in degrees, e.g. near=26.647,106.630");
    return -1;
}
