/*
 * api_int.h — what the API's handler files share: the call context, the
 * route table's shape, reply helpers and the JSON validators.
 */
#ifndef FN_API_INT_H
#define FN_API_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "api/api.h"
#include "api/jw.h"
#include "api/metrics.h"
#include "api/ratelimit.h"
#include "auth/token.h"
#include "core/engine.h"

struct fn_api {
    fn_engine *engine;
    fn_api_config cfg;
    fn_http *http;
    fn_metrics *metrics;
    fn_ratelimit *rl;
    /* GET /v1/public/dashboard's last answer, reused for a second (h_web.c) */
    pthread_mutex_t dash_mu;
    fn_buf dash_body;
    uint64_t dash_ns;
};

/* One request in flight. */
typedef struct fn_call {
    fn_api *api;
    const fn_http_req *req;
    fn_http_resp *resp;
    uint64_t who;        /* the caller's principal (role 0 when anonymous) */
    uint64_t id;         /* the {id} in the path, when the route has one */
    json_t *body;        /* the parsed body, for routes that take one */
    int route;           /* index in the route table, for metrics */
    int replied;         /* 1 once a reply was written */
    fn_jw jw;            /* the writer fn_reply_jw hands out */
    const fn_area *area; /* the service area positions must lie in */
} fn_call;

static inline int fn_call_role(const fn_call *c) { return fn_principal_role(c->who); }
static inline uint64_t fn_call_member(const fn_call *c) { return fn_principal_id(c->who); }

/* Role bits for the route table. */
#define R_ADMIN (1u << FN_ROLE_ADMIN)
#define R_COMPANY (1u << FN_ROLE_COMPANY)
#define R_DRIVER (1u << FN_ROLE_DRIVER)
#define R_GATEWAY (1u << FN_ROLE_GATEWAY)
#define R_MEMBER (R_ADMIN | R_COMPANY | R_DRIVER | R_GATEWAY)
#define R_PUBLIC 0u

typedef void (*fn_route_fn)(fn_call *c);

enum { BODY_NONE = 0, BODY_JSON = 1, BODY_RAW = 2 };

/* Parses the request body into c->body (a JSON object), depth-capped.
 * Returns 0, or -1 after replying 400. */
int fn_call_parse_body(fn_call *c);

typedef struct fn_route {
    const char *method;
    const char *pattern;   /* segments; "{id}" matches a positive integer; a final "*"
                              matches the non-empty rest of the path */
    fn_route_fn fn;
    unsigned roles;        /* who may call it; R_PUBLIC = anyone, no token needed */
    int body;              /* BODY_NONE, BODY_JSON (parsed before the handler runs) or
                              BODY_RAW (JSON; the handler parses it itself) */
    const char *name;      /* metrics label */
} fn_route;

extern const fn_route fn_routes[];
extern const int fn_route_count;

/* ---- replies ---- */

/* Sends obj (reference stolen) as JSON with the given status. */
void fn_reply(fn_call *c, int status, json_t *obj);
/* Sends an empty 204. */
void fn_reply_empty(fn_call *c);
/* Request bodies decoded and checked field by field (decode.c), shared by
 * the handlers and `freight import`: each fills *out (strings point into
 * body) or replies 400/422 through c and returns -1.  now is the clock the
 * load's times are checked against. */
#define FN_MAX_PICKUP_AHEAD_S (90 * 86400) /* how far ahead a load's pickup may open */
int fn_decode_company(fn_call *c, json_t *body, fn_company *out);
int fn_decode_driver(fn_call *c, json_t *body, fn_driver *out);
int fn_decode_load(fn_call *c, json_t *body, int64_t now, fn_load *out);
/* Whether a phone number is digits (5 to 20), with an optional leading '+'
 * and spaces or dashes between them: the rule for a driver's phone. */
int fn_valid_phone(const char *s);

/* Starts a reply written with the streaming JSON writer (jw.h) straight
 * into the response body; the handler closes every object it opens. */
fn_jw *fn_reply_jw(fn_call *c, int status);
/* Sends the error body for err with a message (printf) and the field at fault. */
void fn_reply_error(fn_call *c, int err, const char *field, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Sends an engine failure. */
void fn_reply_result(fn_call *c, const fn_result *res);
/* Reply with an error and leave the (void) handler. */
#define RETURN_ERROR(...)            \
    do {                             \
        fn_reply_error(__VA_ARGS__); \
        return;                      \
    } while (0)
#define RETURN_RESULT(c, res)        \
    do {                             \
        fn_reply_result(c, res);     \
        return;                      \
    } while (0)

/* ---- validation: each returns 0, or -1 after replying 400/422 ---- */

/* Field paths: "prefix.key" or "key". */
typedef struct fn_field {
    char path[96];
} fn_field;
const char *fn_field_path(fn_field *f, const char *prefix, const char *key);

/* A string of min..max Unicode characters with no control characters;
 * *out is NULL when absent and optional. */
int fn_jv_string(fn_call *c, json_t *obj, const char *prefix, const char *key, int required, size_t min_chars,
                 size_t max_chars, const char **out);
/* A finite number in [min, max]; *present (may be NULL) says if it was there. */
int fn_jv_number(fn_call *c, json_t *obj, const char *prefix, const char *key, int required, double min, double max,
                 double *out, int *present);
/* An integer in [min, max]. */
int fn_jv_int(fn_call *c, json_t *obj, const char *prefix, const char *key, int required, int64_t min, int64_t max,
              int64_t *out, int *present);
/* An object member (NULL when absent and optional). */
int fn_jv_object(fn_call *c, json_t *obj, const char *prefix, const char *key, int required, json_t **out);
/* {lat, lon} inside obj under prefix: ranges, then the service area (422). */
int fn_jv_latlon(fn_call *c, json_t *obj, const char *prefix, double *lat, double *lon);
/* Money in yuan with at most 2 decimals, > 0, into fen. */
int fn_jv_money(fn_call *c, json_t *obj, const char *prefix, const char *key, int64_t *fen);
/* The arithmetic of fn_jv_money: yuan into *fen, or -1 when it has more
 * than 2 decimals (the range is the caller's). */
int fn_yuan_to_fen(double yuan, int64_t *fen);
/* Parses an unsigned decimal query/path integer; returns 0 or -1. */
int fn_parse_u64(const char *s, uint64_t *out);
/* Query parameter helpers: reply 400 naming the parameter on bad input. */
int fn_q_double(fn_call *c, const char *name, double dflt, double min, double max, double *out);
int fn_q_size(fn_call *c, const char *name, size_t dflt, size_t min, size_t max, size_t *out);
/* Parses "lat,lon" (the near= parameter), checking ranges. */
int fn_q_near(fn_call *c, double *lat, double *lon);

/* ---- JSON views of the model (visibility decided by the caller) ---- */
json_t *fn_json_company(const fn_company *co);
json_t *fn_json_truck(const fn_driver *d);
json_t *fn_json_driver(const fn_driver *d, int64_t now_s);
json_t *fn_json_load(const fn_state *s, const fn_load *l, int full, int64_t now_s);
json_t *fn_json_booking(const fn_booking *b);
json_t *fn_json_place(const fn_place *p);
json_t *fn_json_money(int64_t fen);

/* ---- handlers ---- */
void fn_h_company_create(fn_call *c);
void fn_h_company_get(fn_call *c);
void fn_h_driver_create(fn_call *c);
void fn_h_driver_get(fn_call *c);
void fn_h_driver_status(fn_call *c);
void fn_h_gateway_create(fn_call *c);
void fn_h_position_put(fn_call *c);
void fn_h_positions_post(fn_call *c);
void fn_h_load_create(fn_call *c);
void fn_h_load_get(fn_call *c);
void fn_h_load_cancel(fn_call *c);
void fn_h_loads_near(fn_call *c);
void fn_h_trucks_near(fn_call *c);
void fn_h_book(fn_call *c);
void fn_h_booking_get(fn_call *c);
void fn_h_pickup(fn_call *c);
void fn_h_deliver(fn_call *c);
void fn_h_booking_cancel(fn_call *c);
void fn_h_rating(fn_call *c);
void fn_h_healthz(fn_call *c);
void fn_h_metrics(fn_call *c);
void fn_h_root(fn_call *c);
void fn_h_web_asset(fn_call *c);
void fn_h_public_dashboard(fn_call *c);
void fn_h_admin_snapshot(fn_call *c);
void fn_h_admin_faults(fn_call *c);
void fn_h_load_matches(fn_call *c);
void fn_h_driver_loads(fn_call *c);
void fn_h_dispatch(fn_call *c);
void fn_h_stats_overview(fn_call *c);
void fn_h_stats_lanes(fn_call *c);
void fn_h_stats_regions(fn_call *c);
void fn_h_opendata_lanes(fn_call *c);
void fn_h_not_yet(fn_call *c);

#endif
