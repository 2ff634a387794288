/*
 * router.c — the route table and the path every request takes through the
 * API: match the route, authenticate, check the role, rate-limit, check the
 * media type, parse the JSON body (depth-capped), run the handler.
 *
 * Adding an endpoint is one line in fn_routes.
 */
#include "api/api_int.h"
#include "api/jw.h"
#include "common/fn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const fn_route fn_routes[] = {
    /* method  pattern                          handler                roles                           body name */
    {"GET",    "/healthz",                      fn_h_healthz,          R_PUBLIC,                       BODY_NONE, "healthz"},
    {"GET",    "/metrics",                      fn_h_metrics,          R_PUBLIC,                       BODY_NONE, "metrics"},
    {"GET",    "/",                             fn_h_root,             R_PUBLIC,                       BODY_NONE, "dashboard"},
    {"GET",    "/assets/*",                     fn_h_web_asset,        R_PUBLIC,                       BODY_NONE, "dashboard_assets"},
    {"GET",    "/v1/public/dashboard",          fn_h_public_dashboard, R_PUBLIC,                       BODY_NONE, "public_dashboard"},
    {"POST",   "/v1/companies",                 fn_h_company_create,   R_ADMIN,                        BODY_JSON, "companies_create"},
    {"GET",    "/v1/companies/{id}",            fn_h_company_get,      R_ADMIN | R_COMPANY,            BODY_NONE, "companies_get"},
    {"POST",   "/v1/drivers",                   fn_h_driver_create,    R_ADMIN,                        BODY_JSON, "drivers_create"},
    {"GET",    "/v1/drivers/{id}",              fn_h_driver_get,       R_ADMIN | R_DRIVER,             BODY_NONE, "drivers_get"},
    {"PUT",    "/v1/drivers/{id}/position",     fn_h_position_put,     R_DRIVER | R_GATEWAY,           BODY_JSON, "drivers_position"},
    {"PUT",    "/v1/drivers/{id}/status",       fn_h_driver_status,    R_DRIVER,                       BODY_JSON, "drivers_status"},
    {"GET",    "/v1/drivers/{id}/loads",        fn_h_driver_loads,     R_DRIVER,                       BODY_NONE, "drivers_loads"},
    {"POST",   "/v1/gateways",                  fn_h_gateway_create,   R_ADMIN,                        BODY_JSON, "gateways_create"},
    {"POST",   "/v1/positions",                 fn_h_positions_post,   R_GATEWAY,                      BODY_RAW,  "positions"},
    {"POST",   "/v1/loads",                     fn_h_load_create,      R_COMPANY,                      BODY_JSON, "loads_create"},
    {"GET",    "/v1/loads",                     fn_h_loads_near,       R_MEMBER,                       BODY_NONE, "loads_near"},
    {"GET",    "/v1/loads/{id}",                fn_h_load_get,         R_MEMBER,                       BODY_NONE, "loads_get"},
    {"DELETE", "/v1/loads/{id}",                fn_h_load_cancel,      R_COMPANY,                      BODY_NONE, "loads_cancel"},
    {"GET",    "/v1/loads/{id}/matches",        fn_h_load_matches,     R_ADMIN | R_COMPANY,            BODY_NONE, "loads_matches"},
    {"POST",   "/v1/loads/{id}/book",           fn_h_book,             R_DRIVER,                       BODY_NONE, "loads_book"},
    {"GET",    "/v1/trucks",                    fn_h_trucks_near,      R_ADMIN | R_COMPANY,            BODY_NONE, "trucks_near"},
    {"GET",    "/v1/bookings/{id}",             fn_h_booking_get,      R_ADMIN | R_COMPANY | R_DRIVER, BODY_NONE, "bookings_get"},
    {"POST",   "/v1/bookings/{id}/pickup",      fn_h_pickup,           R_DRIVER,                       BODY_NONE, "bookings_pickup"},
    {"POST",   "/v1/bookings/{id}/deliver",     fn_h_deliver,          R_DRIVER,                       BODY_NONE, "bookings_deliver"},
    {"POST",   "/v1/bookings/{id}/cancel",      fn_h_booking_cancel,   R_COMPANY | R_DRIVER,           BODY_NONE, "bookings_cancel"},
    {"POST",   "/v1/bookings/{id}/rating",      fn_h_rating,           R_COMPANY | R_DRIVER,           BODY_JSON, "bookings_rating"},
    {"POST",   "/v1/dispatch",                  fn_h_dispatch,         R_ADMIN,                        BODY_JSON, "dispatch"},
    {"GET",    "/v1/stats/overview",            fn_h_stats_overview,          R_MEMBER,                       BODY_NONE, "stats_overview"},
    {"GET",    "/v1/stats/lanes",               fn_h_stats_lanes,          R_MEMBER,                       BODY_NONE, "stats_lanes"},
    {"GET",    "/v1/stats/regions",             fn_h_stats_regions,          R_MEMBER,                       BODY_NONE, "stats_regions"},
    {"GET",    "/v1/opendata/lanes.csv",        fn_h_opendata_lanes,          R_PUBLIC,                       BODY_NONE, "opendata_lanes"},
    {"POST",   "/v1/admin/faults",              fn_h_admin_faults,     R_ADMIN,                        BODY_JSON, "admin_faults"},
    {"POST",   "/v1/admin/snapshot",            fn_h_admin_snapshot,   R_ADMIN,                        BODY_NONE, "admin_snapshot"},
};
const int fn_route_count = (int)FN_ARRAY_LEN(fn_routes);

static const char *route_names[FN_ARRAY_LEN(fn_routes)];

fn_api *fn_api_new(fn_engine *e, const fn_api_config *cfg)
{
    fn_api *a = fn_xcalloc(1, sizeof(*a));
    a->engine = e;
    a->cfg = *cfg;
    if (!a->cfg.max_json_depth)
        a->cfg.max_json_depth = 16;
    for (int i = 0; i < fn_route_count; i++)
        route_names[i] = fn_routes[i].name;
    a->metrics = fn_metrics_new(fn_route_count, route_names);
    a->rl = fn_ratelimit_new(cfg->rate_per_s, cfg->rate_burst);
    pthread_mutex_init(&a->dash_mu, NULL);
    fn_buf_init(&a->dash_body, 0);
    return a;
}

void fn_api_free(fn_api *a)
{
    if (!a)
        return;
    fn_metrics_free(a->metrics);
    fn_ratelimit_free(a->rl);
    fn_buf_free(&a->dash_body);
    pthread_mutex_destroy(&a->dash_mu);
    free(a);
}

void fn_api_set_http(fn_api *a, fn_http *h) { a->http = h; }

int fn_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s || strlen(s) > 19)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* Matches path against pattern; sets *id for a {id} segment.  Returns 1 on
 * a match, 0 otherwise. */
static int match(const char *pattern, const char *path, uint64_t *id)
{
    while (*pattern && *path) {
        if (strncmp(pattern, "{id}", 4) == 0) {
            char seg[24];
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= sizeof(seg))
                return 0;
            memcpy(seg, path, n);
            seg[n] = '\0';
            if (fn_parse_u64(seg, id) != 0 || *id == 0 || *id > INT64_MAX)
                return 0;
            pattern += 4;
            path += n;
            continue;
        }
        if (pattern[0] == '*' && pattern[1] == '\0')
            return 1; /* the rest of the path, non-empty (the loop runs only while path has more) */
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

/* Counts how deeply the JSON text nests, outside strings, without parsing it. */
static unsigned json_depth(const char *s, size_t n)
{
    unsigned depth = 0, max = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max)
                max = depth;
        } else if (ch == '}' || ch == ']') {
            if (depth)
                depth--;
        }
    }
    return max;
}

static const char *bearer(const fn_http_req *req)
{
    const char *h = fn_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

void fn_api_handle(void *app, const fn_http_req *req, fn_http_resp *resp)
{
    fn_api *a = app;
    fn_call c;
    const fn_route *rt = NULL;
    char allow[128] = "";
    int path_matched = 0;

    memset(&c, 0, sizeof(c));
    c.api = a;
    c.req = req;
    c.resp = resp;
    c.area = &fn_state_cfg(fn_engine_state(a->engine))->area;
    c.route = -1;
    for (int i = 0; i < fn_route_count; i++) {
        uint64_t id = 0;
        if (!match(fn_routes[i].pattern, req->path, &id))
            continue;
        path_matched = 1;
        if (strlen(allow) + strlen(fn_routes[i].method) + 3 < sizeof(allow)) {
            if (*allow)
                strcat(allow, ", ");
            strcat(allow, fn_routes[i].method);
        }
        if (strcmp(fn_routes[i].method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(fn_routes[i].method, "GET") == 0)) {
            rt = &fn_routes[i];
            c.route = i;
            c.id = id;
            break;
        }
    }
    resp->tag = c.route;
    if (!rt) {
        if (path_matched) {
            fn_http_resp_header(resp, "Allow", allow);
            fn_reply_error(&c, FN_EMETHOD, NULL, "%s is not allowed on %s; allowed: %s", req->method, req->path, allow);
        } else {
            fn_reply_error(&c, FN_ENOTFOUND, NULL, "no such endpoint: %s %s", req->method, req->path);
        }
        return;
    }
    if (rt->roles != R_PUBLIC) {
        const char *tok = bearer(req);
        unsigned retry = 1;
        char ra[16];
        if (!tok || !fn_engine_authenticate(a->engine, tok, &c.who)) {
            fn_http_resp_header(resp, "WWW-Authenticate", "Bearer");
            fn_reply_error(&c, FN_EUNAUTH, NULL, tok ? "the bearer token is not valid" : "send Authorization: Bearer <token>");
            return;
        }
        if (!(rt->roles & (1u << fn_call_role(&c)))) {
            fn_reply_error(&c, FN_EFORBIDDEN, NULL, "a %s may not call %s %s", fn_role_name(fn_call_role(&c)),
                           rt->method, rt->pattern);
            return;
        }
        if (!fn_ratelimit_take(a->rl, c.who, req->start_ns, &retry)) {
            snprintf(ra, sizeof(ra), "%u", retry);
            fn_http_resp_header(resp, "Retry-After", ra);
            fn_reply_error(&c, FN_ERATE, NULL, "too many requests for this token; retry after %u s", retry);
            return;
        }
    }
    if (rt->body) {
        const char *ct = fn_http_header(req, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
            fn_reply_error(&c, FN_EMEDIA, NULL, "send the body as Content-Type: application/json");
            return;
        }
        if (rt->body == BODY_JSON && fn_call_parse_body(&c) != 0)
            return;
    }
    rt->fn(&c);
    if (!c.replied)
        fn_reply_error(&c, FN_EINTERNAL, NULL, "the handler gave no answer");
    if (c.body)
        json_decref(c.body);
}

int fn_call_parse_body(fn_call *c)
{
    json_error_t jerr;
    const fn_http_req *req = c->req;
    if (json_depth(req->body, req->body_len) > c->api->cfg.max_json_depth) {
        fn_reply_error(c, FN_EDEPTH, NULL, "the JSON body nests deeper than %u levels", c->api->cfg.max_json_depth);
        return -1;
    }
    c->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->body) {
        fn_reply_error(c, FN_EBADJSON, NULL, "the body is not valid JSON: %s at line %d column %d", jerr.text,
                       jerr.line, jerr.column);
        return -1;
    }
    if (!json_is_object(c->body)) {
        fn_reply_error(c, FN_EBADJSON, NULL, "the body must be a JSON object");
        json_decref(c->body);
        c->body = NULL;
        return -1;
    }
    return 0;
}

void fn_api_done(void *app, const fn_http_req *req, int status, int tag, uint64_t duration_ns)
{
    fn_api *a = app;
    (void)req;
    fn_metrics_observe(a->metrics, tag, status, duration_ns);
}

/* ---- replies ---- */

void fn_reply(fn_call *c, int status, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(15));
    c->resp->status = status;
    fn_buf_reset(&c->resp->body);
    if (s) {
        json_free_t jfree;
        fn_buf_put(&c->resp->body, s, strlen(s));
        json_get_alloc_funcs(NULL, &jfree); /* json_dumps allocates with jansson's allocator */
        jfree(s);
    }
    json_decref(obj);
    c->replied = 1;
}

fn_jw *fn_reply_jw(fn_call *c, int status)
{
    c->resp->status = status;
    fn_buf_reset(&c->resp->body);
    fn_jw_init(&c->jw, &c->resp->body);
    c->replied = 1;
    return &c->jw;
}

void fn_reply_empty(fn_call *c)
{
    c->resp->status = 204;
    fn_buf_reset(&c->resp->body);
    c->replied = 1;
}

void fn_reply_error(fn_call *c, int err, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    json_t *e;
    if (c->replied)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    e = json_pack("{s:s, s:s}", "code", fn_errcode(err), "message", msg);
    if (!e) /* the message echoed bytes that are not UTF-8 (a decoded path), or was cut mid-character */
        e = json_pack("{s:s, s:s}", "code", fn_errcode(err), "message", fn_strerror(err));
    if (field)
        json_object_set_new(e, "field", json_string(field));
    fn_reply(c, fn_errstatus(err), json_pack("{s:o}", "error", e));
}

void fn_reply_result(fn_call *c, const fn_result *res)
{
    fn_reply_error(c, res->err, res->field, "%s", res->msg[0] ? res->msg : fn_strerror(res->err));
}

void fn_h_not_yet(fn_call *c)
{
    fn_reply_error(c, FN_ENOTIMPL, NULL, "%s %s is part of the API contract but is not implemented in this build",
                   c->req->method, fn_routes[c->route].pattern);
}
