/*
 * views.c — the JSON shapes of companies, drivers, trucks, loads and
 * bookings.  Which view a caller gets (full or public) is the handler's
 * decision; these functions only render.
 */
#include "api/api_int.h"
#include "common/fn.h"

#include <math.h>
#include <stdio.h>

json_t *fn_json_money(int64_t fen)
{
    /* Exact: fen is an integer; the decimal has at most 2 places. */
    return json_real((double)fen / 100.0);
}

static json_t *round_real(double v, double unit)
{
    return json_real(round(v / unit) * unit);
}

static json_t *province_json(int p)
{
    return p >= 0 ? json_string(fn_province_name(p)) : json_null();
}

json_t *fn_json_company(const fn_company *co)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:o, s:I}", "id", (json_int_t)co->id, "name", co->name, "kind",
                          fn_company_kind_name(co->kind), "city", *co->city ? json_string(co->city) : json_null(),
                          "province", province_json(co->province), "created_at", (json_int_t)co->created_at);
    json_object_set_new(o, "rating", co->rating_count ? round_real((double)co->rating_sum / co->rating_count, 0.01) : json_null());
    json_object_set_new(o, "rating_count", json_integer(co->rating_count));
    json_object_set_new(o, "counts", json_pack("{s:I, s:I, s:I, s:I}", "loads_posted", (json_int_t)co->loads_posted,
                                               "loads_booked", (json_int_t)co->loads_booked, "loads_delivered",
                                               (json_int_t)co->loads_delivered, "loads_cancelled",
                                               (json_int_t)co->loads_cancelled));
    return o;
}

json_t *fn_json_truck(const fn_driver *d)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "plate", d->plate, "type", fn_truck_type_key(d->truck_type),
                          "type_zh", fn_truck_type_zh(d->truck_type), "length_m",
                          json_real(fn_truck_length_dm(d->length_idx) / 10.0), "capacity_t",
                          json_real(d->capacity_kg / 1000.0));
    json_object_set_new(o, "volume_m3", d->volume_l ? json_real(d->volume_l / 1000.0) : json_null());
    return o;
}

json_t *fn_json_driver(const fn_driver *d, int64_t now_s)
{
    json_t *prov = json_array();
    json_t *o;
    (void)now_s;
    for (int i = 0; i < FN_PROVINCE_COUNT; i++)
        if (d->provinces_mask & (1u << i))
            json_array_append_new(prov, json_string(fn_province_name(i)));
    o = json_pack("{s:I, s:s, s:s, s:{s:f, s:f}, s:o, s:s, s:o, s:I}", "id", (json_int_t)d->id, "name", d->name,
                  "phone", d->phone, "home", "lat", d->home_lat, "lon", d->home_lon, "truck", fn_json_truck(d),
                  "status", fn_driver_status_name(d->status), "preferred_provinces", prov, "created_at",
                  (json_int_t)d->created_at);
    if (d->pos_ts) {
        json_t *pos = json_pack("{s:f, s:f, s:I, s:o}", "lat", d->lat, "lon", d->lon, "ts", (json_int_t)d->pos_ts,
                                "speed_kmh", json_real(d->speed_dkmh / 10.0));
        json_object_set_new(pos, "heading_deg", d->heading_ddeg == 0xffff ? json_null() : json_real(d->heading_ddeg / 10.0));
        json_object_set_new(o, "position", pos);
    } else {
        json_object_set_new(o, "position", json_null());
    }
    json_object_set_new(o, "booking_id", d->booking_id ? json_integer((json_int_t)d->booking_id) : json_null());
    json_object_set_new(o, "rating", d->rating_count ? round_real((double)d->rating_sum / d->rating_count, 0.01) : json_null());
    json_object_set_new(o, "rating_count", json_integer(d->rating_count));
    json_object_set_new(o, "trips_delivered", json_integer(d->trips_delivered));
    return o;
}

json_t *fn_json_place(const fn_place *p)
{
    json_t *o = json_pack("{s:f, s:f}", "lat", p->lat, "lon", p->lon);
    json_object_set_new(o, "city", *p->city ? json_string(p->city) : json_null());
    json_object_set_new(o, "province", province_json(p->province));
    return o;
}

json_t *fn_json_load(const fn_state *s, const fn_load *l, int full, int64_t now_s)
{
    const fn_company *co = fn_state_company(s, l->company_id);
    json_t *types = json_array();
    json_t *o;
    double loaded_km = fn_state_road_km(s, l->origin.lat, l->origin.lon, l->dest.lat, l->dest.lon);

    for (int t = 0; t < FN_TT__COUNT; t++)
        if (l->types_mask & (1u << t))
            json_array_append_new(types, json_string(fn_truck_type_key(t)));
    o = json_pack("{s:I, s:s, s:I, s:s, s:o, s:o}", "id", (json_int_t)l->id, "status",
                  fn_load_status_name(fn_load_status(l, now_s)), "company_id", (json_int_t)l->company_id,
                  "company_name", co ? co->name : "", "origin", fn_json_place(&l->origin), "destination",
                  fn_json_place(&l->dest));
    json_object_set_new(o, "cargo", json_pack("{s:s, s:o, s:o}", "kind", l->cargo_kind, "weight_t",
                                              json_real(l->weight_kg / 1000.0), "volume_m3",
                                              l->volume_l ? json_real(l->volume_l / 1000.0) : json_null()));
    json_object_set_new(o, "truck", json_pack("{s:o, s:o}", "types", types, "min_length_m",
                                              l->min_length_idx >= 0 ? json_real(fn_truck_length_dm(l->min_length_idx) / 10.0)
                                                                     : json_null()));
    json_object_set_new(o, "pickup", json_pack("{s:I, s:I}", "earliest_at", (json_int_t)l->pickup_earliest_at,
                                               "latest_at", (json_int_t)l->pickup_latest_at));
    json_object_set_new(o, "price_cny", fn_json_money(l->price_fen));
    json_object_set_new(o, "loaded_km", round_real(loaded_km, 0.1));
    json_object_set_new(o, "price_per_km", loaded_km > 0 ? round_real(l->price_fen / 100.0 / loaded_km, 0.01) : json_null());
    json_object_set_new(o, "expires_at", json_integer((json_int_t)(l->expires_at ? l->expires_at : l->pickup_latest_at)));
    json_object_set_new(o, "created_at", json_integer((json_int_t)l->created_at));
    json_object_set_new(o, "notes", *l->notes ? json_string(l->notes) : json_null());
    if (full) {
        json_object_set_new(o, "contact", json_pack("{s:o, s:o}", "name", *l->contact_name ? json_string(l->contact_name) : json_null(),
                                                     "phone", *l->contact_phone ? json_string(l->contact_phone) : json_null()));
        json_object_set_new(o, "booking_id", l->booking_id ? json_integer((json_int_t)l->booking_id) : json_null());
    }
    return o;
}

json_t *fn_json_booking(const fn_booking *b)
{
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:s, s:I}", "id", (json_int_t)b->id, "load_id", (json_int_t)b->load_id,
                          "driver_id", (json_int_t)b->driver_id, "company_id", (json_int_t)b->company_id, "status",
                          fn_booking_status_name(b->status), "booked_at", (json_int_t)b->booked_at);
    json_object_set_new(o, "picked_up_at", b->picked_up_at ? json_integer((json_int_t)b->picked_up_at) : json_null());
    json_object_set_new(o, "delivered_at", b->delivered_at ? json_integer((json_int_t)b->delivered_at) : json_null());
    json_object_set_new(o, "cancelled_at", b->cancelled_at ? json_integer((json_int_t)b->cancelled_at) : json_null());
    json_object_set_new(o, "cancelled_by", b->cancelled_by ? json_string(fn_role_name(b->cancelled_by)) : json_null());
    json_object_set_new(o, "deadhead_km", round_real(b->deadhead_km, 0.1));
    json_object_set_new(o, "loaded_km", round_real(b->loaded_km, 0.1));
    json_object_set_new(o, "rating_by_company",
                        b->company_stars ? json_pack("{s:i, s:s}", "stars", b->company_stars, "comment", b->company_comment)
                                         : json_null());
    json_object_set_new(o, "rating_by_driver",
                        b->driver_stars ? json_pack("{s:i, s:s}", "stars", b->driver_stars, "comment", b->driver_comment)
                                        : json_null());
    return o;
}
