/*
 * load.c — `freight load`: a load generator for a running freightd that
 * looks like the real network (docs/load.md): a telematics gateway feeding
 * every truck's position at a fixed report interval in batched
 * POST /v1/positions, and a marketplace of companies posting loads and
 * searching trucks and drivers searching loads and booking them, at a fixed
 * request rate in fixed proportions.
 *
 * Open loop: request k of the gateway is due at k * batch / (drivers /
 * interval) seconds and request k of the marketplace at k / rate seconds,
 * whatever the server's speed; C threads, each on one keep-alive
 * connection, take the next due request of either stream.  When the server
 * falls behind, requests start late and the achieved rates in the report
 * are lower than the targets.  Latency is measured from sending a request
 * to reading its whole answer.
 *
 * It reuses the benchmarks' header-only client (bench/bench_util.h: the
 * keep-alive HTTP/1.1 client, the latency recorder, bench-tokens.json and
 * population-weighted places from data/cn_cities.csv) but opens its
 * connections itself, to the --target address, which must be loopback.
 */
#include "common/fn.h"
#include "freight/cmds.h"

#include "../../bench/bench_util.h"

#include <netdb.h>

enum { K_POSITIONS, K_POST_LOAD, K_TRUCKS, K_MATCHES, K_DRIVER_LOADS, K_BOOK, NKINDS };

typedef struct kind_info {
    const char *name, *route;
    int weight; /* share of the marketplace stream, per 100 requests; 0: not drawn from it */
} kind_info;

/* The marketplace mix: why these numbers is in docs/load.md. */
static const kind_info kinds[NKINDS] = {
    {"positions", "POST /v1/positions", 0},
    {"post_load", "POST /v1/loads", 12},
    {"search_trucks", "GET /v1/trucks?near=", 25},
    {"load_matches", "GET /v1/loads/{id}/matches", 10},
    {"driver_loads", "GET /v1/drivers/{id}/loads?toward=home", 45},
    {"book", "POST /v1/loads/{id}/book", 8},
};

static const char *const truck_types[] = {"flatbed", "high_rail", "van", "refrigerated", "container", "wing_van",
                                          "low_rail", "dump"};
static const double truck_lengths[] = {4.2, 6.8, 9.6, 13, 17.5};

#define RING 64   /* loads this connection posted, for load_matches */
#define MAX_ERRS 64

typedef struct errclass {
    int kind;
    char what[96]; /* "409 already_booked", "connection: ..." */
    uint64_t n;
} errclass;

struct run;

typedef struct worker {
    pthread_t thread;
    struct run *r;
    int index;
    bu_conn c;
    uint64_t rng;
    bu_lat lat[NKINDS];
    uint64_t done[NKINDS];      /* answered requests (any status), atomic */
    uint64_t failed;            /* non-2xx answers and connection errors, atomic */
    uint64_t pos_accepted, pos_rejected, loads_created, bookings;
    errclass errs[MAX_ERRS];
    int nerrs;
    uint64_t ring_load[RING];
    size_t ring_company[RING];
    int ring_n, ring_next;
    bu_str body;
} worker;

typedef struct run {
    /* options */
    const char *target, *tokens_path;
    double duration_s, report_interval_s, rate;
    uint64_t count, ndrivers;
    int connections, batch, drivers_given;
    uint64_t seed;
    /* the target */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int port;
    bu_tokens tok;
    /* per truck: the last reported place; lat 0 = not reported yet */
    float *plat, *plon;
    /* schedule */
    uint64_t t0, end_ns;
    double gap_g_ns, gap_m_ns; /* between requests of the gateway / marketplace streams; 0: stream off */
    uint64_t gnext, mnext, claimed; /* atomics */
    int stop, running; /* atomics; running: worker threads not yet finished */
} run;

static void usage(FILE *f)
{
    fprintf(f, "usage: freight load --target HOST:PORT --tokens FILE [--duration S | --count N]\n"
               "                    [--connections C] [--drivers N] [--report-interval S] [--batch B]\n"
               "                    [--rate R] [--seed N]\n\n"
               "Drives a running freightd with a telematics gateway and a marketplace (docs/load.md).\n");
    bu_help_line(f, 26, "--target HOST:PORT", "the server; loopback only (127.0.0.0/8, ::1 or localhost)");
    bu_help_line(f, 26, "--tokens FILE", "bench-tokens.json from `freight import` or `freight bulkload`");
    bu_help_line(f, 26, "--duration S", "run S seconds (default 30)");
    bu_help_line(f, 26, "--count N", "stop after N requests instead (all kinds together)");
    bu_help_line(f, 26, "--connections C", "keep-alive connections, one thread each (default 4)");
    bu_help_line(f, 26, "--drivers N", "trucks the gateway reports for, ids 1..N; 0: no gateway\n"
                                       "(default: freightd_objects{kind=\"driver\"} from GET /metrics)");
    bu_help_line(f, 26, "--report-interval S", "each truck reports every S seconds (default 30)");
    bu_help_line(f, 26, "--batch B", "positions a request, 1..10000 (default 1000)");
    bu_help_line(f, 26, "--rate R", "marketplace requests a second; 0: none (default 500)");
    bu_help_line(f, 26, "--seed N", "random seed (default 1)");
}

static int fail_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "freight load: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

/* Parses --target; only loopback addresses are accepted, and no name but
 * localhost is resolved, so the tool cannot be pointed at someone else's
 * server by mistake.  Returns 0 or -1 with a message on stderr. */
static int parse_target(run *r)
{
    char host[256];
    const char *colon = strrchr(r->target, ':');
    char *end;
    long port;
    size_t hl;
    if (!colon || colon == r->target)
        goto bad;
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 1 || port > 65535)
        goto bad;
    hl = (size_t)(colon - r->target);
    if (hl >= sizeof(host))
        goto bad;
    memcpy(host, r->target, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    r->port = (int)port;
    memset(&r->addr, 0, sizeof(r->addr));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&r->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&r->addr;
    if (!strcasecmp(host, "localhost"))
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            goto not_loopback;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        r->addr_len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
            goto not_loopback;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        r->addr_len = sizeof(*a6);
        return 0;
    }
not_loopback:
    fprintf(stderr,
            "freight load: refusing --target %s: only a server on this machine may be loaded "
            "(127.0.0.0/8, ::1 or localhost)\n",
            r->target);
    return -1;
bad:
    fprintf(stderr, "freight load: --target must be HOST:PORT (e.g. 127.0.0.1:8080), got '%s'\n", r->target);
    return -1;
}

static int parse(int argc, char **argv, run *r)
{
    int has_duration = 0;
    r->duration_s = 30;
    r->report_interval_s = 30;
    r->rate = 500;
    r->connections = 4;
    r->batch = 1000;
    r->seed = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!v)
            return fail_usage("%s needs a value", a);
        if (!strcmp(a, "--target"))
            r->target = v;
        else if (!strcmp(a, "--tokens"))
            r->tokens_path = v;
        else if (!strcmp(a, "--duration")) {
            r->duration_s = bu_num_arg(a, v, 0.1, 86400);
            has_duration = 1;
        } else if (!strcmp(a, "--count"))
            r->count = (uint64_t)bu_num_arg(a, v, 1, 1e12);
        else if (!strcmp(a, "--connections"))
            r->connections = (int)bu_num_arg(a, v, 1, 1024);
        else if (!strcmp(a, "--drivers")) {
            r->ndrivers = (uint64_t)bu_num_arg(a, v, 0, 1e9);
            r->drivers_given = 1;
        } else if (!strcmp(a, "--report-interval"))
            r->report_interval_s = bu_num_arg(a, v, 0.001, 86400);
        else if (!strcmp(a, "--batch"))
            r->batch = (int)bu_num_arg(a, v, 1, 10000);
        else if (!strcmp(a, "--rate"))
            r->rate = bu_num_arg(a, v, 0, 1e6);
        else if (!strcmp(a, "--seed"))
            r->seed = (uint64_t)bu_num_arg(a, v, 0, 1e18);
        else
            return fail_usage("unknown option: %s", a);
    }
    if (!r->target || !r->tokens_path)
        return fail_usage("%s", "--target and --tokens are required");
    if (has_duration && r->count)
        return fail_usage("%s", "give --duration or --count, not both");
    return parse_target(r) == 0 ? 0 : 2;
}

static int tokens_load(run *r)
{
    json_error_t err;
    json_t *root = json_load_file(r->tokens_path, 0, &err), *admin;
    if (!root) {
        fprintf(stderr, "freight load: cannot read %s: %s (line %d)\n", r->tokens_path, err.text, err.line);
        return -1;
    }
    admin = json_object_get(root, "admin");
    r->tok.admin = json_is_string(admin) ? strdup(json_string_value(admin)) : NULL;
    r->tok.ngateways = bu_tokens_list(root, "gateways", &r->tok.gateways);
    r->tok.ncompanies = bu_tokens_list(root, "companies", &r->tok.companies);
    r->tok.ndrivers = bu_tokens_list(root, "drivers", &r->tok.drivers);
    json_decref(root);
    return 0;
}

static void members_free(bu_member *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].token);
    free(m);
}

static void tokens_free(bu_tokens *t)
{
    free(t->admin);
    members_free(t->gateways, t->ngateways);
    members_free(t->companies, t->ncompanies);
    members_free(t->drivers, t->ndrivers);
    memset(t, 0, sizeof(*t));
}

/* (Re)opens c to the target; bu_request would reconnect to 127.0.0.1 only. */
static int conn_open(const run *r, bu_conn *c)
{
    int one = 1;
    bu_conn_close(c);
    c->port = r->port;
    c->len = c->used = 0;
    c->must_close = c->saved = 0;
    c->fd = socket(r->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(c->err, sizeof(c->err), "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)&r->addr, r->addr_len) != 0) {
        snprintf(c->err, sizeof(c->err), "connect: %s", strerror(errno));
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void count_error(worker *w, int kind, const char *what)
{
    int i;
    for (i = 0; i < w->nerrs; i++)
        if (w->errs[i].kind == kind && !strcmp(w->errs[i].what, what))
            break;
    if (i == w->nerrs) {
        if (w->nerrs == MAX_ERRS)
            i = MAX_ERRS - 1; /* the last slot collects the rest */
        else {
            w->nerrs++;
            w->errs[i].kind = kind;
            snprintf(w->errs[i].what, sizeof(w->errs[i].what), "%s", w->nerrs == MAX_ERRS ? "other" : what);
        }
    }
    w->errs[i].n++;
}

/* The error code of an error body ("code":"..."), or "-". */
static void error_code(const char *body, char *out, size_t n)
{
    const char *p = strstr(body, "\"code\":");
    size_t k = 0;
    snprintf(out, n, "-");
    if (!p)
        return;
    p += 7;
    while (*p == ' ')
        p++;
    if (*p++ != '"')
        return;
    while (p[k] && p[k] != '"' && k + 1 < n)
        k++;
    memcpy(out, p, k);
    out[k] = '\0';
}

/*
 * One request of `kind`: sends it, records its latency and outcome.
 * Returns 0 with *resp filled when the answer is 2xx, -1 otherwise (the
 * error class is counted).
 */
static int call(worker *w, int kind, const char *method, const char *path, const char *token, const char *body,
                size_t body_len, bu_resp *resp)
{
    char what[96], code[64];
    uint64_t t0;
    if ((w->c.fd < 0 || w->c.must_close) && conn_open(w->r, &w->c) != 0)
        goto conn_failed;
    t0 = bu_now_ns();
    if (bu_request(&w->c, method, path, token, body ? "application/json" : NULL, body, body_len, resp) != 0)
        goto conn_failed;
    bu_lat_add(&w->lat[kind], bu_now_ns() - t0);
    __atomic_add_fetch(&w->done[kind], 1, __ATOMIC_RELAXED);
    if (resp->status >= 200 && resp->status < 300)
        return 0;
    error_code(resp->body, code, sizeof(code));
    snprintf(what, sizeof(what), "%d %.60s", resp->status, code);
    count_error(w, kind, what);
    __atomic_add_fetch(&w->failed, 1, __ATOMIC_RELAXED);
    return -1;
conn_failed: {
    char *paren = strstr(w->c.err, " (");
    if (paren)
        *paren = '\0'; /* "(N bytes read)" would split one class into many */
    snprintf(what, sizeof(what), "connection: %.80s", w->c.err);
    count_error(w, kind, what);
    __atomic_add_fetch(&w->failed, 1, __ATOMIC_RELAXED);
    bu_conn_close(&w->c);
    return -1;
}
}

/* Gateway request seq: trucks seq*B .. seq*B+B-1 (mod N), ids from 1, each
 * moved up to about 300 m from its last reported place. */
static void op_positions(worker *w, uint64_t seq)
{
    run *r = w->r;
    bu_resp resp;
    long long ts = (long long)time(NULL);
    const char *p;
    bu_str *s = &w->body;
    s->len = 0;
    bu_str_printf(s, "{\"positions\":[");
    for (int i = 0; i < r->batch; i++) {
        uint64_t k = (seq * (uint64_t)r->batch + (uint64_t)i) % r->ndrivers;
        double lat, lon;
        if (r->plat[k] == 0) {
            uint64_t prng = (k + 1) * 0x9e3779b97f4a7c15ull ^ r->seed;
            bu_place(&prng, 15, &lat, &lon, NULL, NULL);
        } else {
            lat = r->plat[k] + (bu_unit(&w->rng) - 0.5) * 0.0054;
            lon = r->plon[k] + (bu_unit(&w->rng) - 0.5) * 0.0054 / cos(lat * M_PI / 180);
            lat = lat < 18.01 ? 18.01 : lat > 53.99 ? 53.99 : lat;
            lon = lon < 73.01 ? 73.01 : lon > 134.99 ? 134.99 : lon;
        }
        r->plat[k] = (float)lat;
        r->plon[k] = (float)lon;
        bu_str_printf(s, "%s{\"driver_id\":%llu,\"lat\":%.5f,\"lon\":%.5f,\"ts\":%lld,\"speed_kmh\":%.0f,"
                         "\"heading_deg\":%.0f}",
                      i ? "," : "", (unsigned long long)k + 1, lat, lon, ts, bu_unit(&w->rng) * 90,
                      bu_unit(&w->rng) * 359);
    }
    bu_str_printf(s, "]}");
    if (call(w, K_POSITIONS, "POST", "/v1/positions", r->tok.gateways[(size_t)w->index % r->tok.ngateways].token, s->p,
             s->len, &resp) != 0)
        return;
    if ((p = strstr(resp.body, "\"accepted\":")) != NULL)
        w->pos_accepted += strtoull(p + 11, NULL, 10);
    /* Each rejected item is an error class of its own, by code. */
    for (p = strstr(resp.body, "\"index\":"); p; p = strstr(p + 1, "\"index\":")) {
        char code[64], what[96];
        error_code(p, code, sizeof(code));
        snprintf(what, sizeof(what), "position rejected: %.60s", code);
        count_error(w, K_POSITIONS, what);
        w->pos_rejected++;
    }
}

static void op_post_load(worker *w)
{
    run *r = w->r;
    size_t ci = (size_t)(bu_rand(&w->rng) % r->tok.ncompanies);
    double olat, olon, dlat, dlon, km;
    const char *ocity, *oprov, *dcity, *dprov;
    long long now = (long long)time(NULL);
    bu_resp resp;
    bu_str *s = &w->body;
    const char *p;
    bu_place(&w->rng, 15, &olat, &olon, &ocity, &oprov);
    bu_place(&w->rng, 15, &dlat, &dlon, &dcity, &dprov);
    km = 111.2 * sqrt(pow(dlat - olat, 2) + pow((dlon - olon) * cos(olat * M_PI / 180), 2));
    s->len = 0;
    bu_str_printf(s,
                  "{\"origin\":{\"lat\":%.5f,\"lon\":%.5f,\"city\":\"%s\",\"province\":\"%s\"},"
                  "\"destination\":{\"lat\":%.5f,\"lon\":%.5f,\"city\":\"%s\",\"province\":\"%s\"},"
                  "\"cargo\":{\"kind\":\"general\",\"weight_t\":%.1f},"
                  "\"truck\":{\"types\":[\"%s\",\"%s\"],\"min_length_m\":%g},"
                  "\"pickup\":{\"earliest_at\":%lld,\"latest_at\":%lld},\"price_cny\":%.2f,"
                  "\"contact\":{\"name\":\"freight load\",\"phone\":\"+8613800000000\"}}",
                  olat, olon, ocity, oprov, dlat, dlon, dcity, dprov, 1 + bu_unit(&w->rng) * 17,
                  truck_types[bu_rand(&w->rng) % FN_ARRAY_LEN(truck_types)],
                  truck_types[bu_rand(&w->rng) % FN_ARRAY_LEN(truck_types)],
                  truck_lengths[bu_rand(&w->rng) % FN_ARRAY_LEN(truck_lengths)], now + 1800, now + 2 * 86400,
                  200 + km * 1.3 * (2.5 + bu_unit(&w->rng)));
    if (call(w, K_POST_LOAD, "POST", "/v1/loads", r->tok.companies[ci].token, s->p, s->len, &resp) != 0)
        return;
    w->loads_created++;
    if ((p = strstr(resp.body, "\"id\":")) != NULL) {
        w->ring_load[w->ring_next] = strtoull(p + 5, NULL, 10);
        w->ring_company[w->ring_next] = ci;
        w->ring_next = (w->ring_next + 1) % RING;
        if (w->ring_n < RING)
            w->ring_n++;
    }
}

static void op_trucks(worker *w)
{
    run *r = w->r;
    char path[256];
    double lat, lon;
    bu_resp resp;
    bu_place(&w->rng, 15, &lat, &lon, NULL, NULL);
    if (bu_rand(&w->rng) % 2)
        snprintf(path, sizeof(path), "/v1/trucks?near=%.4f,%.4f&radius_km=50&limit=20&type=%s", lat, lon,
                 truck_types[bu_rand(&w->rng) % FN_ARRAY_LEN(truck_types)]);
    else
        snprintf(path, sizeof(path), "/v1/trucks?near=%.4f,%.4f&radius_km=50&limit=20", lat, lon);
    call(w, K_TRUCKS, "GET", path, r->tok.companies[bu_rand(&w->rng) % r->tok.ncompanies].token, NULL, 0, &resp);
}

/* The matches of a load this connection posted (its owner asks); the first
 * few marketplace requests of a connection may find none and post one. */
static void op_matches(worker *w)
{
    char path[128];
    bu_resp resp;
    int i;
    if (!w->ring_n) {
        op_post_load(w);
        return;
    }
    i = (int)(bu_rand(&w->rng) % (uint64_t)w->ring_n);
    snprintf(path, sizeof(path), "/v1/loads/%llu/matches?limit=20", (unsigned long long)w->ring_load[i]);
    call(w, K_MATCHES, "GET", path, w->r->tok.companies[w->ring_company[i]].token, NULL, 0, &resp);
}

/* A driver's backhaul search; with book, the driver then books the best
 * load it found (the search is counted as driver_loads). */
static void op_driver(worker *w, int book)
{
    run *r = w->r;
    const bu_member *d = &r->tok.drivers[bu_rand(&w->rng) % r->tok.ndrivers];
    char path[128];
    bu_resp resp;
    json_t *root, *first, *load;
    uint64_t load_id = 0;
    snprintf(path, sizeof(path), "/v1/drivers/%llu/loads?toward=home&limit=20", (unsigned long long)d->id);
    if (call(w, K_DRIVER_LOADS, "GET", path, d->token, NULL, 0, &resp) != 0 || !book)
        return;
    root = json_loadb(resp.body, resp.body_len, 0, NULL);
    first = json_array_get(json_object_get(root, "loads"), 0);
    load = json_object_get(first, "load");
    if (json_is_integer(json_object_get(load ? load : first, "id")))
        load_id = (uint64_t)json_integer_value(json_object_get(load ? load : first, "id"));
    json_decref(root);
    if (!load_id) {
        count_error(w, K_BOOK, "skipped: the search found no load");
        return;
    }
    snprintf(path, sizeof(path), "/v1/loads/%llu/book", (unsigned long long)load_id);
    if (call(w, K_BOOK, "POST", path, d->token, NULL, 0, &resp) == 0)
        w->bookings++;
}

static void op_market(worker *w, uint64_t seq)
{
    uint64_t s = seq * 0x9e3779b97f4a7c15ull ^ w->r->seed;
    int u = (int)(bu_rand(&s) % 100), k;
    for (k = 1; k < NKINDS - 1 && u >= kinds[k].weight; k++)
        u -= kinds[k].weight;
    switch (k) {
    case K_POST_LOAD:
        op_post_load(w);
        break;
    case K_TRUCKS:
        op_trucks(w);
        break;
    case K_MATCHES:
        op_matches(w);
        break;
    case K_DRIVER_LOADS:
        op_driver(w, 0);
        break;
    default:
        op_driver(w, 1);
        break;
    }
}

static void sleep_until(uint64_t t_ns)
{
    struct timespec ts = {(time_t)(t_ns / 1000000000ull), (long)(t_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Takes the earliest due request of the two streams, waits for its time,
 * sends it; until the duration is over or the count is reached. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    for (;;) {
        uint64_t g = __atomic_load_n(&r->gnext, __ATOMIC_RELAXED), m = __atomic_load_n(&r->mnext, __ATOMIC_RELAXED);
        double dg = r->gap_g_ns > 0 ? (double)g * r->gap_g_ns : INFINITY;
        double dm = r->gap_m_ns > 0 ? (double)m * r->gap_m_ns : INFINITY;
        int gateway = dg <= dm;
        uint64_t due;
        if (__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
            break;
        if (gateway ? !__atomic_compare_exchange_n(&r->gnext, &g, g + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
                    : !__atomic_compare_exchange_n(&r->mnext, &m, m + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            continue;
        if (r->count && __atomic_fetch_add(&r->claimed, 1, __ATOMIC_RELAXED) >= r->count)
            break;
        due = r->t0 + (uint64_t)(gateway ? dg : dm);
        if (!r->count && due >= r->end_ns)
            break;
        sleep_until(due);
        if (gateway)
            op_positions(w, g);
        else
            op_market(w, m);
    }
    bu_conn_free(&w->c);
    bu_str_free(&w->body);
    __atomic_sub_fetch(&r->running, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void sum_done(const worker *ws, int n, uint64_t done[NKINDS], uint64_t *failed)
{
    memset(done, 0, NKINDS * sizeof(*done));
    *failed = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < NKINDS; k++)
            done[k] += __atomic_load_n(&ws[i].done[k], __ATOMIC_RELAXED);
        *failed += __atomic_load_n(&ws[i].failed, __ATOMIC_RELAXED);
    }
}

/* GET /metrics once: checks that the target answers and reads the driver count. */
static int probe(run *r)
{
    bu_conn c = {.fd = -1};
    bu_resp resp;
    int rc = -1;
    if (conn_open(r, &c) != 0 || bu_request(&c, "GET", "/metrics", NULL, NULL, NULL, 0, &resp) != 0) {
        fprintf(stderr, "freight load: no answer from %s: %s\n", r->target, c.err);
        goto out;
    }
    if (resp.status != 200) {
        fprintf(stderr, "freight load: GET /metrics on %s answered %d\n", r->target, resp.status);
        goto out;
    }
    if (!r->drivers_given) {
        double n = bu_metric_from(resp.body, "freightd_objects{kind=\"driver\"}");
        if (n < 0) {
            fprintf(stderr, "freight load: %s does not report freightd_objects{kind=\"driver\"}; give --drivers N\n",
                    r->target);
            goto out;
        }
        r->ndrivers = (uint64_t)n;
    }
    rc = 0;
out:
    bu_conn_free(&c);
    return rc;
}

static void report(run *r, worker *ws, double elapsed_s, int argc, char **argv)
{
    uint64_t total = 0, failed = 0, accepted = 0, rejected = 0, created = 0, booked = 0;
    errclass all[NKINDS * MAX_ERRS];
    int nall = 0, maxall = (int)FN_ARRAY_LEN(all);
    printf("\nfreight load: %s for %.1f s, %d connections, seed %llu\n", r->target, elapsed_s, r->connections,
           (unsigned long long)r->seed);
    if (r->gap_g_ns > 0)
        printf("  gateway: %llu trucks every %g s = %.0f positions/s in batches of %d (%.1f requests/s)\n",
               (unsigned long long)r->ndrivers, r->report_interval_s, (double)r->ndrivers / r->report_interval_s,
               r->batch, 1e9 / r->gap_g_ns);
    if (r->gap_m_ns > 0)
        printf("  marketplace: %g requests/s (post_load %d%%, search_trucks %d%%, load_matches %d%%, driver_loads "
               "%d%%, book %d%% after a driver_loads search)\n",
               r->rate, kinds[K_POST_LOAD].weight, kinds[K_TRUCKS].weight, kinds[K_MATCHES].weight,
               kinds[K_DRIVER_LOADS].weight, kinds[K_BOOK].weight);
    printf("\n  %-14s %-40s %9s %9s %9s %9s %9s %9s\n", "kind", "route", "requests", "req/s", "p50 ms", "p99 ms",
           "p999 ms", "max ms");
    for (int k = 0; k < NKINDS; k++) {
        bu_lat l = {0};
        for (int i = 0; i < r->connections; i++)
            bu_lat_merge(&l, &ws[i].lat[k]);
        printf("  %-14s %-40s %9zu %9.1f %9.3f %9.3f %9.3f %9.3f\n", kinds[k].name, kinds[k].route, l.n,
               (double)l.n / elapsed_s, bu_lat_ms(&l, 0.5), bu_lat_ms(&l, 0.99), bu_lat_ms(&l, 0.999),
               bu_lat_ms(&l, 1.0));
        total += l.n;
        bu_lat_free(&l);
    }
    for (int i = 0; i < r->connections; i++) {
        worker *w = &ws[i];
        failed += w->failed;
        accepted += w->pos_accepted;
        rejected += w->pos_rejected;
        created += w->loads_created;
        booked += w->bookings;
        for (int e = 0; e < w->nerrs; e++) {
            int j;
            for (j = 0; j < nall; j++)
                if (all[j].kind == w->errs[e].kind && !strcmp(all[j].what, w->errs[e].what))
                    break;
            if (j == nall && nall == maxall)
                continue; /* more classes than a report can list */
            if (j == nall)
                all[nall++] = w->errs[e], all[j].n = 0;
            all[j].n += w->errs[e].n;
        }
    }
    printf("  %-14s %-40s %9llu %9.1f\n", "overall", "", (unsigned long long)total, (double)total / elapsed_s);
    printf("\n  positions accepted %llu (%.0f/s), rejected %llu; loads created %llu; bookings made %llu\n",
           (unsigned long long)accepted, (double)accepted / elapsed_s, (unsigned long long)rejected,
           (unsigned long long)created, (unsigned long long)booked);
    printf("  errors: %llu failed requests\n", (unsigned long long)failed);
    for (int j = 0; j < nall; j++)
        printf("    %-14s %-50s %llu\n", kinds[all[j].kind].name, all[j].what, (unsigned long long)all[j].n);
    printf("command: freight");
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
}

int fn_cmd_load(int argc, char **argv)
{
    run r;
    worker *ws = NULL;
    uint64_t last_done[NKINDS] = {0}, last_t, t_end;
    int rc;
    char bindir[PATH_MAX];

    memset(&r, 0, sizeof(r));
    if ((rc = parse(argc, argv, &r)) != 0)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    if (tokens_load(&r) != 0 || probe(&r) != 0) {
        rc = 1;
        goto out;
    }
    if (r.ndrivers && !r.tok.ngateways) {
        fprintf(stderr, "freight load: %s lists no gateway; give --drivers 0 for no position reports\n",
                r.tokens_path);
        rc = 1;
        goto out;
    }
    if (r.rate > 0 && (!r.tok.ncompanies || !r.tok.ndrivers)) {
        fprintf(stderr, "freight load: %s lists no companies or no drivers; give --rate 0 for no marketplace\n",
                r.tokens_path);
        rc = 1;
        goto out;
    }
    if (!r.ndrivers && r.rate <= 0) {
        fprintf(stderr, "freight load: nothing to send (no drivers and --rate 0)\n");
        rc = 2;
        goto out;
    }
    bu_self_dir(bindir, sizeof(bindir));
    bu_places_load(bindir);
    if (r.ndrivers) {
        r.plat = calloc(r.ndrivers, sizeof(float));
        r.plon = calloc(r.ndrivers, sizeof(float));
        if (!r.plat || !r.plon) {
            fprintf(stderr, "freight load: out of memory for %llu trucks\n", (unsigned long long)r.ndrivers);
            rc = 1;
            goto out;
        }
        r.gap_g_ns = 1e9 * r.batch * r.report_interval_s / (double)r.ndrivers;
    }
    if (r.rate > 0)
        r.gap_m_ns = 1e9 / r.rate;

    ws = calloc((size_t)r.connections, sizeof(*ws));
    if (!ws) {
        rc = 1;
        goto out;
    }
    r.t0 = bu_now_ns();
    r.end_ns = r.t0 + (uint64_t)(r.duration_s * 1e9);
    r.running = r.connections;
    for (int i = 0; i < r.connections; i++) {
        ws[i].r = &r;
        ws[i].index = i;
        ws[i].c.fd = -1;
        ws[i].rng = r.seed * 1000003 + (uint64_t)i;
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "freight load: cannot start a thread\n");
            exit(1);
        }
    }
    /* Progress every 5 s until the workers are done. */
    last_t = r.t0;
    for (;;) {
        uint64_t done[NKINDS], failed, now, sum = 0;
        bu_sleep_ms(100);
        now = bu_now_ns();
        if (!r.count && now >= r.end_ns)
            __atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
        if (!__atomic_load_n(&r.running, __ATOMIC_ACQUIRE))
            break;
        if (now - last_t < 5000000000ull)
            continue;
        sum_done(ws, r.connections, done, &failed);
        fprintf(stderr, "freight load: %5.1f s:", (double)(now - r.t0) / 1e9);
        for (int k = 0; k < NKINDS; k++) {
            fprintf(stderr, " %s %.0f/s", kinds[k].name, (double)(done[k] - last_done[k]) * 1e9 / (double)(now - last_t));
            sum += done[k] - last_done[k];
        }
        fprintf(stderr, "; %.0f requests/s, %llu errors so far\n", (double)sum * 1e9 / (double)(now - last_t),
                (unsigned long long)failed);
        memcpy(last_done, done, sizeof(done));
        last_t = now;
    }
    for (int i = 0; i < r.connections; i++)
        pthread_join(ws[i].thread, NULL);
    t_end = bu_now_ns();
    report(&r, ws, (double)(t_end - r.t0) / 1e9, argc, argv);
    rc = 0;
out:
    for (int i = 0; ws && i < r.connections; i++)
        for (int k = 0; k < NKINDS; k++)
            bu_lat_free(&ws[i].lat[k]);
    free(ws);
    free(r.plat);
    free(r.plon);
    tokens_free(&r.tok);
    return rc;
}
