/*
 * metrics.h — request counters and latency histograms per route, rendered
 * in the Prometheus text exposition format.  Lock-free: every counter is an
 * atomic add.
 */
#ifndef FN_METRICS_H
#define FN_METRICS_H

#include <stdint.h>

#include "common/buf.h"

typedef struct fn_metrics fn_metrics;

/* Creates counters for nroutes routes named names[i] (plus one row for
 * requests that matched no route). */
fn_metrics *fn_metrics_new(int nroutes, const char *const *names);
void fn_metrics_free(fn_metrics *m);
/* Counts one request: route index (-1 = none), HTTP status, duration. */
void fn_metrics_observe(fn_metrics *m, int route, int status, uint64_t duration_ns);
/* Appends the request metrics (freightd_http_*) to out. */
void fn_metrics_render(fn_metrics *m, fn_buf *out);

#endif
