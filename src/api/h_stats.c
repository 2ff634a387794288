/*
 * h_stats.c — the analytics routes (issue 6): GET /v1/stats/overview,
 * /v1/stats/lanes, /v1/stats/regions and the public open-data CSV
 * GET /v1/opendata/lanes.csv.  Shapes: docs/api.md.
 *
 * Each handler copies what it needs out of the analytics (stats/analytics.h)
 * under the engine's read lock and renders after releasing it, so a request
 * holds back writes (position ingestion) only for the copy.
 */
#include "api/api_int.h"
#include "common/fn.h"
#include "stats/analytics.h"
#include "stats/qsketch.h"
#include "stats/regions.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const fn_an *analytics(fn_call *c) { return fn_state_analytics(fn_engine_state(c->api->engine)); }

static json_t *num_or_null(double v, int decimals)
{
    double m = pow(10, decimals);
    return isnan(v) ? json_null() : json_real(round(v * m) / m);
}

static json_t *int_or_null(double v) { return isnan(v) ? json_null() : json_integer((json_int_t)llround(v)); }

static json_t *rate_or_null(int64_t empty_m, int64_t loaded_m)
{
    return empty_m + loaded_m > 0 ? num_or_null((double)empty_m / (double)(empty_m + loaded_m), 4) : json_null();
}

static void day_str(int64_t day, char out[16])
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

void fn_h_stats_overview(fn_call *c)
{
    size_t days;
    fn_an_overview *o;
    fn_state_counts sc;
    int64_t now = fn_now_s();
    json_t *daily, *ttm;

    if (fn_q_size(c, "days", 14, 1, FN_AN_MAX_DAYS, &days))
        return;
    o = fn_xmalloc(sizeof(*o));
    fn_engine_rdlock(c->api->engine);
    fn_state_counts_get(fn_engine_state(c->api->engine), &sc);
    fn_an_overview_get(analytics(c), now, (int)days, o);
    fn_engine_rdunlock(c->api->engine);

    daily = json_array();
    for (size_t i = 0; i < o->ndays; i++) {
        const fn_an_day *d = &o->days[i];
        char ds[16];
        day_str(d->day, ds);
        json_array_append_new(
            daily, json_pack("{s:s, s:I, s:I, s:I, s:o, s:f, s:f, s:o, s:o}", "day", ds, "posted", (json_int_t)d->posted,
                             "booked", (json_int_t)d->booked, "delivered", (json_int_t)d->delivered,
                             "empty_running_rate", rate_or_null(d->empty_m, d->loaded_m), "empty_km",
                             d->empty_m / 1000.0, "loaded_km", d->loaded_m / 1000.0, "time_to_match_median_s",
                             int_or_null(d->ttm_s.p50), "time_to_match_p90_s", int_or_null(d->ttm_s.p90)));
    }
    ttm = json_pack("{s:o, s:o, s:I}", "median", int_or_null(o->ttm_s.p50), "p90", int_or_null(o->ttm_s.p90), "count",
                    (json_int_t)o->ttm_s.count);
    fn_reply(c, 200,
             json_pack("{s:I, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:f, s:f, s:I, s:o, s:o}",
                       "as_of", (json_int_t)now, "trucks", "total", (json_int_t)sc.drivers, "available",
                       (json_int_t)sc.drivers_by_status[FN_DS_AVAILABLE], "on_trip",
                       (json_int_t)sc.drivers_by_status[FN_DS_ON_TRIP], "offline",
                       (json_int_t)sc.drivers_by_status[FN_DS_OFFLINE], "loads", "open", (json_int_t)o->open_now,
                       "booked", (json_int_t)sc.loads_by_status[FN_LS_BOOKED], "in_transit",
                       (json_int_t)sc.loads_by_status[FN_LS_IN_TRANSIT], "delivered",
                       (json_int_t)sc.loads_by_status[FN_LS_DELIVERED], "cancelled",
                       (json_int_t)sc.loads_by_status[FN_LS_CANCELLED], "expired",
                       (json_int_t)(sc.loads_by_status[FN_LS_OPEN] - o->open_now), "empty_running_rate",
                       rate_or_null(o->empty_m, o->loaded_m), "empty_km", o->empty_m / 1000.0, "loaded_km",
                       o->loaded_m / 1000.0, "trips_delivered", (json_int_t)o->trips, "time_to_match_s", ttm, "daily",
                       daily));
    free(o);
}

/* A province query parameter: absent = any (-1); unknown names are 400. */
static int q_province(fn_call *c, const char *name, int *out)
{
    const char *s = fn_http_query(c->req, name);
    *out = -1;
    if (!s || !*s)
        return 0;
    if ((*out = fn_rg_province_parse(s)) < 0) {
        fn_reply_error(c, FN_EINVAL, name, "%s must be a province of China in English (Guizhou) or Chinese (贵州)", name);
        return -1;
    }
    return 0;
}

static json_t *price_obj(const fn_an_q *q)
{
    return json_pack("{s:o, s:o, s:o}", "p25", num_or_null(q->p25, 3), "median", num_or_null(q->p50, 3), "p75",
                     num_or_null(q->p75, 3));
}

void fn_h_stats_lanes(fn_call *c)
{
    int origin, dest, type = -1;
    size_t days, limit;
    const char *ts = fn_http_query(c->req, "truck_type");
    fn_an_lanes ls;
    json_t *lanes;

    if (q_province(c, "origin", &origin) || q_province(c, "destination", &dest) ||
        fn_q_size(c, "days", 7, 1, FN_AN_MAX_DAYS, &days) || fn_q_size(c, "limit", 20, 1, 200, &limit))
        return;
    if (ts && *ts && (type = fn_truck_type_parse(ts)) < 0)
        RETURN_ERROR(c, FN_EINVAL, "truck_type", "truck_type must be one of the truck types (flatbed, van, ...)");
    fn_engine_rdlock(c->api->engine);
    fn_an_lanes_get(analytics(c), fn_now_s(), (int)days, origin, dest, type, limit, &ls);
    fn_engine_rdunlock(c->api->engine);

    lanes = json_array();
    for (size_t j = 0; j < ls.n; j++) {
        const fn_an_lane *ln = &ls.v[j];
        json_t *daily = json_array();
        for (int i = 0; i < ls.ndays; i++) {
            char ds[16];
            const fn_an_q *q = &ln->daily[i];
            day_str(ls.first_day + i, ds);
            json_array_append_new(daily, json_pack("{s:s, s:I, s:o, s:o, s:o}", "day", ds, "count", (json_int_t)q->count,
                                                   "p25", num_or_null(q->p25, 3), "median", num_or_null(q->p50, 3),
                                                   "p75", num_or_null(q->p75, 3)));
        }
        json_array_append_new(
            lanes, json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:o, s:o}", "origin", fn_rg_province_name(ln->origin),
                             "origin_zh", fn_rg_province_zh(ln->origin), "destination", fn_rg_province_name(ln->dest),
                             "destination_zh", fn_rg_province_zh(ln->dest), "truck_type",
                             ln->type >= 0 ? json_string(fn_truck_type_key(ln->type)) : json_null(), "count",
                             (json_int_t)ln->price.count, "price_per_km", price_obj(&ln->price), "daily", daily));
    }
    fn_reply(c, 200, json_pack("{s:I, s:f, s:o}", "days", (json_int_t)ls.ndays, "relative_error", FN_QS_ALPHA, "lanes",
                               lanes));
    fn_an_lanes_free(&ls);
}

static json_t *region_obj(const char *name, const char *zh, const char *province, double lat, double lon,
                          uint64_t supply, uint64_t demand, json_t *hourly)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "name", name, "name_zh", zh, "province", province);
    json_object_set_new(o, "lat", num_or_null(lat, 4));
    json_object_set_new(o, "lon", num_or_null(lon, 4));
    json_object_set_new(o, "supply", json_integer((json_int_t)supply));
    json_object_set_new(o, "demand", json_integer((json_int_t)demand));
    json_object_set_new(o, "ratio", supply ? num_or_null((double)demand / (double)supply, 4) : json_null());
    json_object_set_new(o, "hourly", hourly);
    return o;
}

void fn_h_stats_regions(fn_call *c)
{
    const char *level = fn_http_query(c->req, "level");
    int city_level;
    int64_t now = fn_now_s();
    fn_an_regions r;
    json_t *regions = json_array();

    if (!level || !*level || strcmp(level, "province") == 0)
        city_level = 0;
    else if (strcmp(level, "city") == 0)
        city_level = 1;
    else {
        json_decref(regions);
        RETURN_ERROR(c, FN_EINVAL, "level", "level must be province or city");
    }
    fn_engine_rdlock(c->api->engine);
    fn_an_regions_get(analytics(c), now, &r);
    fn_engine_rdunlock(c->api->engine);

    if (city_level) {
        for (size_t i = 0; i < r.ncity; i++) {
            const fn_rg_city *ci = fn_rg_city_at(i);
            json_t *hourly;
            if (!r.supply[i] && !r.demand[i])
                continue;
            hourly = json_array();
            for (size_t h = 0; h < r.nhours; h++)
                json_array_append_new(hourly, json_pack("{s:I, s:I, s:I}", "hour_at", (json_int_t)r.hour_at[h], "supply",
                                                        (json_int_t)r.h_supply[h][i], "demand",
                                                        (json_int_t)r.h_demand[h][i]));
            json_array_append_new(regions, region_obj(ci->name, ci->name, fn_rg_province_name(ci->province), ci->lat,
                                                      ci->lon, r.supply[i], r.demand[i], hourly));
        }
    } else {
        uint64_t sup[FN_RG_PROVINCES] = {0}, dem[FN_RG_PROVINCES] = {0};
        uint64_t (*hs)[FN_RG_PROVINCES] = fn_xcalloc(24, sizeof(*hs)), (*hd)[FN_RG_PROVINCES] = fn_xcalloc(24, sizeof(*hd));
        for (size_t i = 0; i < r.ncity; i++) {
            int p = fn_rg_city_at(i)->province;
            if (p < 0)
                continue;
            sup[p] += r.supply[i];
            dem[p] += r.demand[i];
            for (size_t h = 0; h < r.nhours; h++) {
                hs[h][p] += r.h_supply[h][i];
                hd[h][p] += r.h_demand[h][i];
            }
        }
        for (int p = 0; p < FN_RG_PROVINCES; p++) {
            double lat, lon;
            json_t *hourly;
            fn_rg_province_centroid(p, &lat, &lon);
            if (isnan(lat))
                continue; /* no city of it in the table (Hong Kong, Macau, Taiwan) */
            hourly = json_array();
            for (size_t h = 0; h < r.nhours; h++)
                json_array_append_new(hourly, json_pack("{s:I, s:I, s:I}", "hour_at", (json_int_t)r.hour_at[h], "supply",
                                                        (json_int_t)hs[h][p], "demand", (json_int_t)hd[h][p]));
            json_array_append_new(regions, region_obj(fn_rg_province_name(p), fn_rg_province_zh(p),
                                                      fn_rg_province_name(p), lat, lon, sup[p], dem[p], hourly));
        }
        free(hs);
        free(hd);
    }
    fn_an_regions_free(&r);
    fn_reply(c, 200, json_pack("{s:s, s:I, s:o}", "level", city_level ? "city" : "province", "as_of", (json_int_t)now,
                               "regions", regions));
}

void fn_h_opendata_lanes(fn_call *c)
{
    size_t k, n, min_k = c->api->cfg.opendata_min_k ? c->api->cfg.opendata_min_k : 10;
    fn_an_cell *cells;
    fn_buf *b = &c->resp->body;

    if (fn_q_size(c, "k", min_k, 0, 1000000000, &k))
        return;
    if (k < min_k)
        RETURN_ERROR(c, FN_EINVAL, "k", "k must be at least %zu (the server's minimum cell size)", min_k);
    fn_engine_rdlock(c->api->engine);
    n = fn_an_cells_closed(analytics(c), fn_now_s(), k, &cells);
    fn_engine_rdunlock(c->api->engine);

    fn_buf_reset(b);
    fn_buf_printf(b, "day,origin,destination,truck_type,count,price_per_km_p25,price_per_km_median,price_per_km_p75\n");
    for (size_t i = 0; i < n; i++) {
        char ds[16];
        day_str(cells[i].day, ds);
        fn_buf_printf(b, "%s,%s,%s,%s,%llu,%.3f,%.3f,%.3f\n", ds, fn_rg_province_name(cells[i].origin),
                      fn_rg_province_name(cells[i].dest), fn_truck_type_key(cells[i].type),
                      (unsigned long long)cells[i].price.count, cells[i].price.p25, cells[i].price.p50,
                      cells[i].price.p75);
    }
    free(cells);
    c->resp->status = 200;
    c->resp->content_type = "text/csv; charset=utf-8";
    c->replied = 1;
}
