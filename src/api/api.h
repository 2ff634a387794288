/*
 * api.h — the HTTP/JSON API of ../docs/api.md on top of the engine.
 *
 * fn_api_handle is the http layer's handler: it finds the route, checks the
 * token, role and rate limit, parses and validates the JSON body, calls the
 * engine, and writes the JSON answer or the error body
 * {"error": {"code", "message", "field"}}.
 */
#ifndef FN_API_H
#define FN_API_H

#include <stdint.h>

#include "core/engine.h"
#include "http/server.h"

typedef struct fn_api fn_api;

typedef struct fn_api_config {
    double rate_per_s;       /* requests per second per token (0 = unlimited) */
    double rate_burst;       /* bucket size */
    unsigned max_json_depth; /* deeper bodies get 400 json_too_deep */
    const char *web_dir;     /* dashboard files served at /, or NULL */
    int fault_injection;     /* 1: POST /v1/admin/faults may break the log (tests only) */
    unsigned opendata_min_k; /* the least k GET /v1/opendata/lanes.csv accepts (0 = 10) */
} fn_api_config;

/* Creates the API over an open engine; the engine must outlive it. */
fn_api *fn_api_new(fn_engine *e, const fn_api_config *cfg);
void fn_api_free(fn_api *a);
/* Lets /metrics report the http layer's counters too. */
void fn_api_set_http(fn_api *a, fn_http *h);

/* The http handler and completion hook (pass a as app). */
void fn_api_handle(void *a, const fn_http_req *req, fn_http_resp *resp);
void fn_api_done(void *a, const fn_http_req *req, int status, int tag, uint64_t duration_ns);

#endif
