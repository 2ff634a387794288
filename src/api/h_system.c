/*
 * h_system.c — health, Prometheus metrics and the admin's snapshot trigger.
 */
#include "api/api_int.h"
#include "common/fn.h"

#include <stdio.h>
#include <string.h>

void fn_h_healthz(fn_call *c)
{
    fn_engine_stats st;
    fn_engine_stats_get(c->api->engine, &st);
    fn_reply(c, 200, json_pack("{s:s, s:b}", "status", "ok", "writable", !st.log_broken && !st.log_full));
}

void fn_h_metrics(fn_call *c)
{
    fn_buf *b = &c->resp->body;
    fn_engine_stats es;
    fn_state_counts sc;
    size_t bytes;

    fn_engine_stats_get(c->api->engine, &es);
    fn_engine_rdlock(c->api->engine);
    fn_state_counts_get(fn_engine_state(c->api->engine), &sc);
    bytes = fn_state_bytes(fn_engine_state(c->api->engine));
    fn_engine_rdunlock(c->api->engine);

    fn_buf_reset(b);
    fn_metrics_render(c->api->metrics, b);
    fn_buf_printf(b,
                  "# HELP freightd_log_bytes_total Bytes written to the write-ahead log.\n"
                  "# TYPE freightd_log_bytes_total counter\n"
                  "freightd_log_bytes_total %llu\n"
                  "# HELP freightd_log_records_total Records appended to the write-ahead log.\n"
                  "# TYPE freightd_log_records_total counter\n"
                  "freightd_log_records_total %llu\n"
                  "# HELP freightd_log_fsyncs_total Successful fdatasync calls on the log (one per commit group).\n"
                  "# TYPE freightd_log_fsyncs_total counter\n"
                  "freightd_log_fsyncs_total %llu\n"
                  "# HELP freightd_log_fsync_seconds_total Time spent in fdatasync on the log.\n"
                  "# TYPE freightd_log_fsync_seconds_total counter\n"
                  "freightd_log_fsync_seconds_total %.6f\n"
                  "# HELP freightd_log_writable 1 while the log accepts writes, 0 after a write or fsync failed.\n"
                  "# TYPE freightd_log_writable gauge\n"
                  "freightd_log_writable %d\n"
                  "# HELP freightd_snapshots_total Snapshots written.\n"
                  "# TYPE freightd_snapshots_total counter\n"
                  "freightd_snapshots_total %llu\n"
                  "# HELP freightd_snapshot_failures_total Snapshots that failed.\n"
                  "# TYPE freightd_snapshot_failures_total counter\n"
                  "freightd_snapshot_failures_total %llu\n",
                  (unsigned long long)es.log_bytes, (unsigned long long)es.log_records, (unsigned long long)es.fsyncs,
                  (double)es.fsync_ns_total / 1e9, !es.log_broken && !es.log_full, (unsigned long long)es.snapshots,
                  (unsigned long long)es.snapshot_failures);
    fn_buf_printf(b,
                  "# HELP freightd_objects Objects in the state, by kind.\n"
                  "# TYPE freightd_objects gauge\n"
                  "freightd_objects{kind=\"company\"} %llu\n"
                  "freightd_objects{kind=\"driver\"} %llu\n"
                  "freightd_objects{kind=\"gateway\"} %llu\n"
                  "freightd_objects{kind=\"load\"} %llu\n"
                  "freightd_objects{kind=\"booking\"} %llu\n"
                  "# HELP freightd_drivers Drivers by status.\n"
                  "# TYPE freightd_drivers gauge\n"
                  "freightd_drivers{status=\"offline\"} %llu\n"
                  "freightd_drivers{status=\"available\"} %llu\n"
                  "freightd_drivers{status=\"on_trip\"} %llu\n"
                  "# HELP freightd_positions_total Positions applied (stale ones are older than the last known).\n"
                  "# TYPE freightd_positions_total counter\n"
                  "freightd_positions_total{result=\"applied\"} %llu\n"
                  "freightd_positions_total{result=\"stale\"} %llu\n"
                  "# HELP freightd_state_bytes Approximate bytes of memory held by the state.\n"
                  "# TYPE freightd_state_bytes gauge\n"
                  "freightd_state_bytes %zu\n",
                  (unsigned long long)sc.companies, (unsigned long long)sc.drivers, (unsigned long long)sc.gateways,
                  (unsigned long long)sc.loads, (unsigned long long)sc.bookings,
                  (unsigned long long)sc.drivers_by_status[0], (unsigned long long)sc.drivers_by_status[1],
                  (unsigned long long)sc.drivers_by_status[2], (unsigned long long)sc.positions_applied,
                  (unsigned long long)sc.positions_stale, bytes);
    if (c->api->http) {
        fn_http_stats hs;
        fn_http_stats_get(c->api->http, &hs);
        fn_buf_printf(b,
                      "# HELP freightd_http_connections Open client connections.\n"
                      "# TYPE freightd_http_connections gauge\n"
                      "freightd_http_connections %llu\n"
                      "# HELP freightd_http_connections_total Client connections accepted.\n"
                      "# TYPE freightd_http_connections_total counter\n"
                      "freightd_http_connections_total %llu\n"
                      "# HELP freightd_http_deadline_kills_total Connections closed for not sending a request in time.\n"
                      "# TYPE freightd_http_deadline_kills_total counter\n"
                      "freightd_http_deadline_kills_total %llu\n",
                      (unsigned long long)hs.connections_open, (unsigned long long)hs.connections_total,
                      (unsigned long long)hs.deadline_kills);
    }
    c->resp->status = 200;
    c->resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    c->replied = 1;
}

/* GET / (the dashboard) is in h_web.c. */

void fn_h_admin_snapshot(fn_call *c)
{
    fn_engine_stats st;
    if (fn_engine_snapshot(c->api->engine, 1) != 0)
        RETURN_ERROR(c, FN_EIO, NULL, "the snapshot failed; the log is kept whole (see the server's log)");
    fn_engine_stats_get(c->api->engine, &st);
    fn_reply(c, 200, json_pack("{s:I, s:I}", "snapshot_seq", (json_int_t)st.last_snapshot_seq, "ms",
                               (json_int_t)st.last_snapshot_ms));
}

/* Fault injection for the end-to-end tests of the failure policy: only when
 * the server was started with --fault-injection 1; otherwise the route does
 * not exist (404).  {"fsync": "fail"} makes the next log fsync fail, as a
 * failing disk would: that write and every later one get 503, reads go on. */
void fn_h_admin_faults(fn_call *c)
{
    const char *what;
    if (!c->api->cfg.fault_injection)
        RETURN_ERROR(c, FN_ENOTFOUND, NULL, "no such endpoint: %s %s", c->req->method, c->req->path);
    if (fn_jv_string(c, c->body, NULL, "fsync", 1, 1, 16, &what))
        return;
    if (strcmp(what, "fail") != 0)
        RETURN_ERROR(c, FN_EINVAL, "fsync", "fsync must be \"fail\"");
    fn_engine_inject_fsync_failure(c->api->engine);
    fn_reply(c, 200, json_pack("{s:s}", "fsync", "will fail"));
}
