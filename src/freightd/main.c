/*
 * main.c — freightd: parse options, open the engine (recovery), start the
 * HTTP server, wait for SIGTERM/SIGINT, stop cleanly.  Only wiring lives
 * here.
 */
#include "api/api.h"
#include "common/fn.h"
#include "core/engine.h"
#include "http/server.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct opt {
    const char *name;  /* --name */
    const char *env;   /* FREIGHTD_... */
    const char *dflt;
    const char *help;
    const char *value; /* resolved: flag, else environment, else default */
} opt;

/* Every flag, with its environment variable: one table. */
static opt opts[] = {
    {"listen", "FREIGHTD_LISTEN", "127.0.0.1:8080", "address to serve HTTP on (host:port; port 0 picks one)", NULL},
    {"data-dir", "FREIGHTD_DATA_DIR", "./data", "directory for the log, snapshots and keys", NULL},
    {"threads", "FREIGHTD_THREADS", "16", "HTTP worker threads (requests block on group commit)", NULL},
    {"max-body-bytes", "FREIGHTD_MAX_BODY_BYTES", "4194304", "largest request body accepted (413 above)", NULL},
    {"max-connections", "FREIGHTD_MAX_CONNECTIONS", "4096", "most client connections at once", NULL},
    {"idle-timeout-s", "FREIGHTD_IDLE_TIMEOUT_S", "30", "close idle keep-alive connections after this", NULL},
    {"request-deadline-s", "FREIGHTD_REQUEST_DEADLINE_S", "10", "a whole request must arrive within this", NULL},
    {"rate-limit", "FREIGHTD_RATE_LIMIT", "200", "requests per second per token (0 = no limit)", NULL},
    {"rate-burst", "FREIGHTD_RATE_BURST", "400", "burst allowance per token", NULL},
    {"max-json-depth", "FREIGHTD_MAX_JSON_DEPTH", "16", "deepest JSON nesting accepted", NULL},
    {"circuity", "FREIGHTD_CIRCUITY", "1.3", "road km per great-circle km for deadhead/loaded estimates", NULL},
    {"area", "FREIGHTD_AREA", "18,54,73,135", "service area: lat_min,lat_max,lon_min,lon_max", NULL},
    {"grid-cell-deg", "FREIGHTD_GRID_CELL_DEG", "0.2", "spatial index top cell size in degrees (dense cells split 4 x 4)", NULL},
    {"snapshot-every-mb", "FREIGHTD_SNAPSHOT_EVERY_MB", "256", "snapshot after this many MB of log (0 = only on request)", NULL},
    {"web-dir", "FREIGHTD_WEB_DIR", "", "directory of dashboard files to serve at / (default <exe dir>/../web/dist)", NULL},
    {"fault-injection", "FREIGHTD_FAULT_INJECTION", "0", "1 enables POST /v1/admin/faults (tests only)", NULL},
    {"opendata-min-k", "FREIGHTD_OPENDATA_MIN_K", "10", "least loads a published open-data cell holds (k may not go lower)", NULL},
};

static opt *find_opt(const char *name)
{
    for (size_t i = 0; i < FN_ARRAY_LEN(opts); i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

/* <exe dir>/../web/dist, where `make web` builds the dashboard for
 * bin/freightd, when it holds an index.html; NULL otherwise (GET / then
 * says how to build it). */
static const char *default_web_dir(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;
    if (len <= 0)
        return NULL;
    exe[len] = '\0';
    if (!(slash = strrchr(exe, '/')))
        return NULL;
    *slash = '\0';
    if ((size_t)snprintf(out, n, "%s/../web/dist", exe) >= n)
        return NULL;
    if ((size_t)snprintf(exe, sizeof(exe), "%s/index.html", out) >= sizeof(exe) || access(exe, R_OK) != 0)
        return NULL;
    return out;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: freightd [--option value ...]\n\n"
               "The Freightnet server: members, trucks, loads and bookings over HTTP/JSON,\n"
               "durable through a write-ahead log and snapshots.  Every option can also be\n"
               "set through its environment variable.  The admin token is read from\n"
               "FREIGHTD_ADMIN_TOKEN or generated into <data-dir>/admin.token on first start.\n\n");
    for (size_t i = 0; i < FN_ARRAY_LEN(opts); i++)
        fprintf(f, "  --%-20s %-28s %s (default %s)\n", opts[i].name, opts[i].env, opts[i].help,
                *opts[i].dflt ? opts[i].dflt : "none");
}

static int num(const char *name, double min, double max, double *out)
{
    char *end;
    double v = strtod(find_opt(name)->value, &end);
    if (*end || end == find_opt(name)->value || v < min || v > max) {
        fprintf(stderr, "freightd: --%s must be a number between %g and %g, got '%s'\n", name, min, max,
                find_opt(name)->value);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    fn_engine_config ec;
    fn_http_config hc;
    fn_api_config ac;
    fn_engine *engine = NULL;
    fn_http *http = NULL;
    fn_api *api = NULL;
    char err[512] = {0};
    char web_dir[PATH_MAX];
    double threads, fault, min_k, max_body, max_conn, idle, deadline, rate, burst, depth, snap_mb;
    int port = 0, sig;
    sigset_t set;

    for (int i = 1; i < argc; i++) {
        opt *o;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(argv[i], "--", 2) != 0 || !(o = find_opt(argv[i] + 2))) {
            fprintf(stderr, "freightd: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "freightd: --%s needs a value\n", o->name);
            return 2;
        }
        o->value = argv[++i];
    }
    for (size_t i = 0; i < FN_ARRAY_LEN(opts); i++)
        if (!opts[i].value)
            opts[i].value = getenv(opts[i].env) ? getenv(opts[i].env) : opts[i].dflt;

    memset(&ec, 0, sizeof(ec));
    memset(&hc, 0, sizeof(hc));
    memset(&ac, 0, sizeof(ac));
    if (num("threads", 1, 1024, &threads) || num("max-body-bytes", 1024, 1 << 30, &max_body) ||
        num("max-connections", 1, 1000000, &max_conn) || num("idle-timeout-s", 1, 86400, &idle) ||
        num("request-deadline-s", 1, 3600, &deadline) || num("rate-limit", 0, 1e9, &rate) ||
        num("rate-burst", 1, 1e9, &burst) || num("max-json-depth", 2, 1000, &depth) ||
        num("circuity", 1, 5, &ec.state.circuity) || num("grid-cell-deg", 0.05, 5, &ec.state.grid_cell_deg) ||
        num("snapshot-every-mb", 0, 1e6, &snap_mb) || num("fault-injection", 0, 1, &fault) ||
        num("opendata-min-k", 1, 1000000, &min_k))
        return 2;
    if (sscanf(find_opt("area")->value, "%lf,%lf,%lf,%lf", &ec.state.area.lat_min, &ec.state.area.lat_max,
               &ec.state.area.lon_min, &ec.state.area.lon_max) != 4 ||
        ec.state.area.lat_min >= ec.state.area.lat_max || ec.state.area.lon_min >= ec.state.area.lon_max ||
        ec.state.area.lat_min < -90 || ec.state.area.lat_max > 90 || ec.state.area.lon_min < -180 ||
        ec.state.area.lon_max > 180) {
        fprintf(stderr, "freightd: --area must be lat_min,lat_max,lon_min,lon_max, got '%s'\n", find_opt("area")->value);
        return 2;
    }
    ec.data_dir = find_opt("data-dir")->value;
    ec.admin_token = getenv("FREIGHTD_ADMIN_TOKEN");
    ec.snapshot_log_bytes = (uint64_t)(snap_mb * 1024 * 1024);

    /* Signals are taken by sigwait in this thread only; every thread started
     * from here on inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (fn_engine_open(&engine, &ec, err, sizeof(err)) != 0) {
        fprintf(stderr, "freightd: cannot start: %s\n", err);
        return 1;
    }
    ac.rate_per_s = rate;
    ac.rate_burst = burst;
    ac.max_json_depth = (unsigned)depth;
    ac.fault_injection = fault > 0;
    ac.opendata_min_k = (unsigned)min_k;
    ac.web_dir = *find_opt("web-dir")->value ? find_opt("web-dir")->value : default_web_dir(web_dir, sizeof(web_dir));
    api = fn_api_new(engine, &ac);
    hc.listen = find_opt("listen")->value;
    hc.threads = (unsigned)threads;
    hc.max_body_bytes = (size_t)max_body;
    hc.max_connections = (unsigned)max_conn;
    hc.idle_timeout_s = (unsigned)idle;
    hc.request_deadline_s = (unsigned)deadline;
    if (fn_http_start(&http, &hc, fn_api_handle, fn_api_done, api, &port, err, sizeof(err)) != 0) {
        fprintf(stderr, "freightd: cannot start: %s\n", err);
        fn_api_free(api);
        fn_engine_close(engine);
        return 1;
    }
    fn_api_set_http(api, http);
    printf("freightd ready: listening on http://%s (port %d), data dir %s; admin token %s\n", hc.listen, port,
           ec.data_dir, ec.admin_token ? "from FREIGHTD_ADMIN_TOKEN" : "in <data-dir>/admin.token");
    fflush(stdout);

    while (sigwait(&set, &sig) != 0)
        ;
    fn_log("freightd: %s received; finishing requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    fn_http_stop(http);
    fn_api_free(api);
    fn_engine_close(engine);
    fn_log("freightd: stopped cleanly");
    return 0;
}
