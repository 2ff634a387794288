/*
 * metrics.c — per-route request counts by status and latency histograms.
 */
#include "api/metrics.h"
#include "common/fn.h"

#include <stdlib.h>
#include <string.h>

/* The statuses freightd answers; anything else is counted as "other". */
static const int statuses[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 501, 503};
#define NSTATUS ((int)FN_ARRAY_LEN(statuses))
/* Histogram bucket upper bounds in seconds. */
static const double bounds_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NBUCKET ((int)FN_ARRAY_LEN(bounds_s))

typedef struct row {
    uint64_t by_status[NSTATUS + 1];
    uint64_t buckets[NBUCKET + 1]; /* non-cumulative; the last is +Inf */
    uint64_t sum_ns;
    uint64_t count;
} row;

struct fn_metrics {
    int nroutes;
    const char *const *names;
    row *rows; /* nroutes + 1: the last is "unmatched" */
};

fn_metrics *fn_metrics_new(int nroutes, const char *const *names)
{
    fn_metrics *m = fn_xcalloc(1, sizeof(*m));
    m->nroutes = nroutes;
    m->names = names;
    m->rows = fn_xcalloc((size_t)nroutes + 1, sizeof(row));
    return m;
}

void fn_metrics_free(fn_metrics *m)
{
    if (!m)
        return;
    free(m->rows);
    free(m);
}

void fn_metrics_observe(fn_metrics *m, int route, int status, uint64_t ns)
{
    row *r = &m->rows[route >= 0 && route < m->nroutes ? route : m->nroutes];
    int si = NSTATUS, b = NBUCKET;
    double s = (double)ns / 1e9;
    for (int i = 0; i < NSTATUS; i++)
        if (statuses[i] == status) {
            si = i;
            break;
        }
    for (int i = 0; i < NBUCKET; i++)
        if (s <= bounds_s[i]) {
            b = i;
            break;
        }
    __atomic_add_fetch(&r->by_status[si], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->buckets[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->sum_ns, ns, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->count, 1, __ATOMIC_RELAXED);
}

void fn_metrics_render(fn_metrics *m, fn_buf *out)
{
    fn_buf_printf(out, "# HELP freightd_http_requests_total HTTP requests answered, by route and status.\n"
                       "# TYPE freightd_http_requests_total counter\n");
    for (int i = 0; i <= m->nroutes; i++) {
        const char *name = i < m->nroutes ? m->names[i] : "unmatched";
        for (int s = 0; s <= NSTATUS; s++) {
            uint64_t v = __atomic_load_n(&m->rows[i].by_status[s], __ATOMIC_RELAXED);
            if (!v)
                continue;
            if (s < NSTATUS)
                fn_buf_printf(out, "freightd_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", name,
                              statuses[s], (unsigned long long)v);
            else
                fn_buf_printf(out, "freightd_http_requests_total{route=\"%s\",status=\"other\"} %llu\n", name,
                              (unsigned long long)v);
        }
    }
    fn_buf_printf(out, "# HELP freightd_http_request_duration_seconds Time from a request's first byte to its answer.\n"
                       "# TYPE freightd_http_request_duration_seconds histogram\n");
    for (int i = 0; i <= m->nroutes; i++) {
        const char *name = i < m->nroutes ? m->names[i] : "unmatched";
        uint64_t cum = 0, count = __atomic_load_n(&m->rows[i].count, __ATOMIC_RELAXED);
        if (!count)
            continue;
        for (int b = 0; b < NBUCKET; b++) {
            cum += __atomic_load_n(&m->rows[i].buckets[b], __ATOMIC_RELAXED);
            fn_buf_printf(out, "freightd_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", name,
                          bounds_s[b], (unsigned long long)cum);
        }
        cum += __atomic_load_n(&m->rows[i].buckets[NBUCKET], __ATOMIC_RELAXED);
        fn_buf_printf(out, "freightd_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", name,
                      (unsigned long long)cum);
        fn_buf_printf(out, "freightd_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n", name,
                      (double)__atomic_load_n(&m->rows[i].sum_ns, __ATOMIC_RELAXED) / 1e9);
        fn_buf_printf(out, "freightd_http_request_duration_seconds_count{route=\"%s\"} %llu\n", name,
                      (unsigned long long)cum);
    }
}
