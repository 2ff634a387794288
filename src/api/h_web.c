/*
 * h_web.c — the dashboard (issue 6): its files, served from the web dir
 * (`make web` builds them into web/dist), and the one public read it makes,
 * GET /v1/public/dashboard, an aggregate-only view of the analytics with
 * small cells suppressed.  Shapes and the suppression rule: docs/api.md.
 *
 * Static files: GET / is <web_dir>/index.html, GET /assets/<name> is
 * <web_dir>/assets/<name>.  A name is one or more segments of [A-Za-z0-9._-]
 * that do not start with '.', so no request reaches outside the directory
 * ("..", "/", a hidden file); only regular files are served, and a symbolic
 * link as the last component is refused (O_NOFOLLOW).
 */
#include "api/api_int.h"
#include "common/fn.h"
#include "stats/analytics.h"
#include "stats/regions.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WEB_MAX_FILE (32u << 20) /* no dashboard file is near this */
#define WEB_MAX_NAME 200

static const struct {
    const char *ext, *type;
} web_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".map", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *web_type(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < FN_ARRAY_LEN(web_types); i++) {
        size_t e = strlen(web_types[i].ext);
        if (n > e && strcasecmp(name + n - e, web_types[i].ext) == 0)
            return web_types[i].type;
    }
    return "application/octet-stream";
}

/* Whether rel (below the web dir) is a name we may serve: see the top. */
static int web_name_ok(const char *rel)
{
    size_t n = strlen(rel);
    int seg_start = 1;
    if (n == 0 || n > WEB_MAX_NAME)
        return 0;
    for (const char *p = rel; *p; p++) {
        char ch = *p;
        if (ch == '/') {
            if (seg_start) /* empty segment: "//" or a leading "/" */
                return 0;
            seg_start = 1;
            continue;
        }
        if (seg_start && ch == '.')
            return 0;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-'))
            return 0;
        seg_start = 0;
    }
    return !seg_start;
}

/* Serves <web_dir>/<rel>.  Returns 0 when it replied (200 or 304), -1 when
 * there is no such file (nothing replied). */
static int web_send(fn_call *c, const char *rel, const char *cache_control)
{
    char path[4096], etag[64];
    const char *inm;
    struct stat st;
    int fd;
    size_t got = 0;

    if (!c->api->cfg.web_dir || !web_name_ok(rel))
        return -1;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", c->api->cfg.web_dir, rel) >= sizeof(path))
        return -1;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > WEB_MAX_FILE) {
        close(fd);
        return -1;
    }
    snprintf(etag, sizeof(etag), "\"%llx-%llx-%lx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    fn_http_resp_header(c->resp, "ETag", etag);
    fn_http_resp_header(c->resp, "Cache-Control", cache_control);
    fn_buf_reset(&c->resp->body);
    c->resp->content_type = web_type(rel);
    c->replied = 1;
    inm = fn_http_header(c->req, "If-None-Match");
    if (inm && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0)) {
        close(fd);
        c->resp->status = 304;
        return 0;
    }
    fn_buf_reserve(&c->resp->body, (size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, c->resp->body.data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        c->replied = 0;
        c->resp->n_extra = 0;
        fn_reply_error(c, FN_EIO, NULL, "the file %s could not be read", rel);
        return 0;
    }
    c->resp->body.len = got;
    c->resp->status = 200;
    return 0;
}

static const char root_page[] =
    "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>Freightnet</title></head>"
    "<body><h1>Freightnet 货运网</h1><p>freightd is running. The API is under <code>/v1/</code>; "
    "health at <a href=\"/healthz\">/healthz</a>, metrics at <a href=\"/metrics\">/metrics</a>.</p>"
    "<p>The dashboard is not built or not found: run <code>make web</code> (it builds <code>web/dist</code>, "
    "which freightd serves by default), or start freightd with <code>--web-dir DIR</code>.</p></body></html>";

void fn_h_root(fn_call *c)
{
    /* index.html names its assets by content hash: it is revalidated every
     * time, they are cached for good. */
    if (web_send(c, "index.html", "no-cache") == 0)
        return;
    fn_buf_reset(&c->resp->body);
    fn_buf_put(&c->resp->body, root_page, sizeof(root_page) - 1);
    c->resp->status = 200;
    c->resp->content_type = "text/html; charset=utf-8";
    c->replied = 1;
}

void fn_h_web_asset(fn_call *c)
{
    const char *rel = c->req->path + 1; /* "assets/..." (the route matched "/assets/" + something) */
    if (web_send(c, rel, "public, max-age=31536000, immutable") == 0)
        return;
    RETURN_ERROR(c, FN_ENOTFOUND, NULL, "no such file: %s", c->req->path);
}

/* ---- GET /v1/public/dashboard ---- */

static json_t *num_or_null(double v, int decimals)
{
    double m = pow(10, decimals);
    return isnan(v) ? json_null() : json_real(round(v * m) / m);
}

static json_t *int_or_null(double v) { return isnan(v) ? json_null() : json_integer((json_int_t)llround(v)); }

/* A count, or null when below k (suppressed). */
static json_t *count_k(uint64_t n, size_t k) { return n >= k ? json_integer((json_int_t)n) : json_null(); }

static void day_str(int64_t day, char out[16])
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/* The answer is built at most once a second and shared: the page refreshes
 * every 10 s, and a public route has no token to rate-limit, so a flood of
 * viewers costs a copy each, not a rebuild. */
#define DASH_TTL_NS 1000000000ull

static void dashboard_build(fn_call *c);

void fn_h_public_dashboard(fn_call *c)
{
    fn_api *a = c->api;
    uint64_t now = fn_mono_ns();
    pthread_mutex_lock(&a->dash_mu);
    if (!a->dash_body.len || now - a->dash_ns >= DASH_TTL_NS) {
        dashboard_build(c);
        fn_buf_reset(&a->dash_body);
        if (c->resp->status == 200 && fn_buf_put(&a->dash_body, c->resp->body.data, c->resp->body.len) == 0)
            a->dash_ns = now;
        else
            fn_buf_reset(&a->dash_body);
        pthread_mutex_unlock(&a->dash_mu);
        return;
    }
    fn_buf_reset(&c->resp->body);
    fn_buf_put(&c->resp->body, a->dash_body.data, a->dash_body.len);
    pthread_mutex_unlock(&a->dash_mu);
    c->resp->status = 200;
    c->replied = 1;
}

static void dashboard_build(fn_call *c)
{
    size_t k = c->api->cfg.opendata_min_k ? c->api->cfg.opendata_min_k : 10;
    int64_t now = fn_now_s();
    fn_an_overview *o = fn_xmalloc(sizeof(*o));
    fn_state_counts sc;
    fn_an_lanes ls;
    fn_an_regions r;
    const fn_an *an;
    json_t *daily = json_array(), *provinces = json_array(), *cities = json_array(), *lanes = json_array(), *out;
    uint64_t sup[FN_RG_PROVINCES] = {0}, dem[FN_RG_PROVINCES] = {0};

    fn_engine_rdlock(c->api->engine);
    an = fn_state_analytics(fn_engine_state(c->api->engine));
    fn_state_counts_get(fn_engine_state(c->api->engine), &sc);
    fn_an_overview_get(an, now, 14, o);
    /* Lanes over the 7 closed days ending yesterday, as the open data. */
    fn_an_lanes_get(an, now - 86400, 7, -1, -1, -1, 200, &ls);
    fn_an_regions_get(an, now, &r);
    fn_engine_rdunlock(c->api->engine);

    for (size_t i = 0; i < o->ndays; i++) {
        const fn_an_day *d = &o->days[i];
        char ds[16];
        day_str(d->day, ds);
        json_array_append_new(
            daily, json_pack("{s:s, s:I, s:I, s:I, s:o, s:o, s:o}", "day", ds, "posted", (json_int_t)d->posted,
                             "booked", (json_int_t)d->booked, "delivered", (json_int_t)d->delivered,
                             "empty_running_rate",
                             d->delivered >= k && d->empty_m + d->loaded_m > 0
                                 ? num_or_null((double)d->empty_m / (double)(d->empty_m + d->loaded_m), 4)
                                 : json_null(),
                             "time_to_match_median_s",
                             d->ttm_s.count >= k ? int_or_null(d->ttm_s.p50) : json_null(),
                             "time_to_match_p90_s", d->ttm_s.count >= k ? int_or_null(d->ttm_s.p90) : json_null()));
    }

    for (size_t i = 0; i < r.ncity; i++) {
        const fn_rg_city *ci = fn_rg_city_at(i);
        if (ci->province >= 0) {
            sup[ci->province] += r.supply[i];
            dem[ci->province] += r.demand[i];
        }
        if (r.supply[i] < k && r.demand[i] < k)
            continue;
        json_array_append_new(cities, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "name", ci->name, "province",
                                                fn_rg_province_name(ci->province), "province_zh",
                                                fn_rg_province_zh(ci->province), "lat", num_or_null(ci->lat, 4), "lon",
                                                num_or_null(ci->lon, 4), "supply", count_k(r.supply[i], k), "demand",
                                                count_k(r.demand[i], k)));
    }
    for (int p = 0; p < FN_RG_PROVINCES; p++) {
        double lat, lon;
        fn_rg_province_centroid(p, &lat, &lon);
        if (isnan(lat))
            continue;
        json_array_append_new(provinces,
                              json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "name", fn_rg_province_name(p), "name_zh",
                                        fn_rg_province_zh(p), "lat", num_or_null(lat, 4), "lon", num_or_null(lon, 4),
                                        "supply", count_k(sup[p], k), "demand", count_k(dem[p], k), "ratio",
                                        sup[p] >= k && dem[p] >= k ? num_or_null((double)dem[p] / (double)sup[p], 4)
                                                                   : json_null()));
    }
    for (size_t j = 0; j < ls.n && json_array_size(lanes) < 10; j++) {
        const fn_an_lane *ln = &ls.v[j];
        json_t *ld;
        if (ln->price.count < k)
            break; /* ranked by count: the rest are smaller */
        ld = json_array();
        for (int i = 0; i < ls.ndays; i++) {
            char ds[16];
            const fn_an_q *q = &ln->daily[i];
            day_str(ls.first_day + i, ds);
            json_array_append_new(ld, json_pack("{s:s, s:o, s:o}", "day", ds, "count", count_k(q->count, k), "median",
                                                q->count >= k ? num_or_null(q->p50, 3) : json_null()));
        }
        json_array_append_new(
            lanes, json_pack("{s:s, s:s, s:s, s:s, s:I, s:{s:o, s:o, s:o}, s:o}", "origin",
                             fn_rg_province_name(ln->origin), "origin_zh", fn_rg_province_zh(ln->origin), "destination",
                             fn_rg_province_name(ln->dest), "destination_zh", fn_rg_province_zh(ln->dest), "count",
                             (json_int_t)ln->price.count, "price_per_km", "p25", num_or_null(ln->price.p25, 3), "median",
                             num_or_null(ln->price.p50, 3), "p75", num_or_null(ln->price.p75, 3), "daily", ld));
    }

    out = json_pack("{s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}, s:o, s:o}", "as_of", (json_int_t)now,
                    "k", (json_int_t)k, "trucks", "total", (json_int_t)sc.drivers, "available",
                    (json_int_t)sc.drivers_by_status[FN_DS_AVAILABLE], "on_trip",
                    (json_int_t)sc.drivers_by_status[FN_DS_ON_TRIP], "offline",
                    (json_int_t)sc.drivers_by_status[FN_DS_OFFLINE], "loads", "open", (json_int_t)o->open_now, "booked",
                    (json_int_t)sc.loads_by_status[FN_LS_BOOKED], "in_transit",
                    (json_int_t)sc.loads_by_status[FN_LS_IN_TRANSIT], "delivered",
                    (json_int_t)sc.loads_by_status[FN_LS_DELIVERED], "empty_running_rate",
                    o->trips >= k && o->empty_m + o->loaded_m > 0
                        ? num_or_null((double)o->empty_m / (double)(o->empty_m + o->loaded_m), 4)
                        : json_null(),
                    "time_to_match_median_s", o->ttm_s.count >= k ? int_or_null(o->ttm_s.p50) : json_null());
    json_object_set_new(out, "trips_delivered", json_integer((json_int_t)o->trips));
    json_object_set_new(out, "daily", daily);
    json_object_set_new(out, "provinces", provinces);
    json_object_set_new(out, "cities", cities);
    json_object_set_new(out, "lanes_days", json_integer(ls.ndays));
    json_object_set_new(out, "lanes", lanes);
    fn_an_lanes_free(&ls);
    fn_an_regions_free(&r);
    free(o);
    fn_reply(c, 200, out);
}
