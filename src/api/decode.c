/*
 * decode.c — the bodies of POST /v1/companies, /v1/drivers and /v1/loads,
 * decoded and checked field by field.  The handlers and `freight import`
 * share them, so a record in a dataset is held to exactly the rules of the
 * API.
 */
#include "api/api_int.h"
#include "common/fn.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fn_valid_phone(const char *s)
{
    size_t digits = 0;
    if (*s == '+')
        s++;
    for (; *s; s++) {
        if (isdigit((unsigned char)*s))
            digits++;
        else if (*s != ' ' && *s != '-')
            return 0;
    }
    return digits >= 5 && digits <= 20;
}

int fn_decode_company(fn_call *c, json_t *body, fn_company *out)
{
    const char *name, *kind, *city, *province;
    int k, p = -1;
    memset(out, 0, sizeof(*out));
    if (fn_jv_string(c, body, NULL, "name", 1, 1, 100, &name) || fn_jv_string(c, body, NULL, "kind", 1, 1, 32, &kind) ||
        fn_jv_string(c, body, NULL, "city", 0, 1, 64, &city) ||
        fn_jv_string(c, body, NULL, "province", 0, 1, 64, &province))
        return -1;
    if ((k = fn_company_kind_parse(kind)) < 0) {
        fn_reply_error(c, FN_EINVAL, "kind", "kind must be one of shipper, carrier, broker, logistics");
        return -1;
    }
    if (province && (p = fn_province_parse(province)) < 0) {
        fn_reply_error(c, FN_EINVAL, "province", "province '%s' is not a province of mainland China", province);
        return -1;
    }
    out->name = name;
    out->city = city ? city : "";
    out->kind = (uint8_t)k;
    out->province = (int8_t)p;
    return 0;
}

/* Parses {plate, type, length_m, capacity_t, volume_m3?} into d. */
static int parse_truck(fn_call *c, json_t *t, fn_driver *d)
{
    const char *plate, *type;
    double length_m, cap_t, vol = 0;
    int ti, li, has_vol;
    if (fn_jv_string(c, t, "truck", "plate", 1, 2, 16, &plate) ||
        fn_jv_string(c, t, "truck", "type", 1, 1, 32, &type) ||
        fn_jv_number(c, t, "truck", "length_m", 1, 1, 30, &length_m, NULL) ||
        fn_jv_number(c, t, "truck", "capacity_t", 1, 0.1, 100, &cap_t, NULL) ||
        fn_jv_number(c, t, "truck", "volume_m3", 0, 0.1, 300, &vol, &has_vol))
        return -1;
    if ((ti = fn_truck_type_parse(type)) < 0) {
        fn_reply_error(c, FN_EINVAL, "truck.type", "truck.type '%s' is not a known truck type (flatbed, low_rail, "
                       "high_rail, van, refrigerated, insulated, container, dump, tanker, hazmat, wing_van, lowbed)", type);
        return -1;
    }
    if ((li = fn_truck_length_parse(length_m)) < 0) {
        fn_reply_error(c, FN_EINVAL, "truck.length_m", "truck.length_m must be one of 4.2, 5.2, 6.8, 7.6, 8.7, 9.6, "
                       "12.5, 13, 15, 16, 17.5");
        return -1;
    }
    d->plate = plate;
    d->truck_type = (uint8_t)ti;
    d->length_idx = (uint8_t)li;
    d->capacity_kg = (uint32_t)(cap_t * 1000.0 + 0.5);
    d->volume_l = has_vol ? (uint32_t)(vol * 1000.0 + 0.5) : 0;
    return 0;
}

int fn_decode_driver(fn_call *c, json_t *body, fn_driver *out)
{
    const char *name, *phone;
    json_t *home, *truck, *prov;
    memset(out, 0, sizeof(*out));
    if (fn_jv_string(c, body, NULL, "name", 1, 1, 100, &name) || fn_jv_string(c, body, NULL, "phone", 1, 5, 24, &phone))
        return -1;
    if (!fn_valid_phone(phone)) {
        fn_reply_error(c, FN_EINVAL, "phone", "phone must be digits (5 to 20), optionally with a leading +");
        return -1;
    }
    if (fn_jv_object(c, body, NULL, "home", 1, &home) || fn_jv_latlon(c, home, "home", &out->home_lat, &out->home_lon) ||
        fn_jv_object(c, body, NULL, "truck", 1, &truck) || parse_truck(c, truck, out))
        return -1;
    prov = json_object_get(body, "preferred_provinces");
    if (prov && !json_is_null(prov)) {
        size_t i;
        json_t *v;
        if (!json_is_array(prov) || json_array_size(prov) > FN_PROVINCE_COUNT) {
            fn_reply_error(c, FN_EINVAL, "preferred_provinces", "preferred_provinces must be an array of province names");
            return -1;
        }
        json_array_foreach(prov, i, v) {
            int p = json_is_string(v) ? fn_province_parse(json_string_value(v)) : -1;
            if (p < 0) {
                char f[48];
                snprintf(f, sizeof(f), "preferred_provinces[%zu]", i);
                fn_reply_error(c, FN_EINVAL, f, "%s is not a province of mainland China", f);
                return -1;
            }
            out->provinces_mask |= 1u << p;
        }
    }
    out->name = name;
    out->phone = phone;
    return 0;
}

static int parse_place(fn_call *c, json_t *body, const char *key, fn_place *p)
{
    json_t *o;
    const char *city, *province;
    fn_field f;
    if (fn_jv_object(c, body, NULL, key, 1, &o) || fn_jv_latlon(c, o, key, &p->lat, &p->lon) ||
        fn_jv_string(c, o, key, "city", 0, 1, 64, &city) || fn_jv_string(c, o, key, "province", 0, 1, 64, &province))
        return -1;
    p->city = city ? city : "";
    p->province = -1;
    if (province && (p->province = (int8_t)fn_province_parse(province)) < 0) {
        fn_reply_error(c, FN_EINVAL, fn_field_path(&f, key, "province"), "%s '%s' is not a province of mainland China",
                       f.path, province);
        return -1;
    }
    return 0;
}

static int parse_types(fn_call *c, json_t *truck, uint16_t *mask)
{
    json_t *types = json_object_get(truck, "types"), *v;
    size_t i;
    *mask = 0;
    if (!types || json_is_null(types)) {
        fn_reply_error(c, FN_EMISSING, "truck.types", "truck.types is required: the truck types the load accepts");
        return -1;
    }
    if (!json_is_array(types) || json_array_size(types) == 0 || json_array_size(types) > FN_TT__COUNT) {
        fn_reply_error(c, FN_EINVAL, "truck.types", "truck.types must be a non-empty array of truck types");
        return -1;
    }
    json_array_foreach(types, i, v) {
        int t = json_is_string(v) ? fn_truck_type_parse(json_string_value(v)) : -1;
        if (t < 0) {
            char f[48];
            snprintf(f, sizeof(f), "truck.types[%zu]", i);
            fn_reply_error(c, FN_EINVAL, f, "%s is not a known truck type", f);
            return -1;
        }
        *mask |= (uint16_t)(1u << t);
    }
    return 0;
}

int fn_decode_load(fn_call *c, json_t *body, int64_t now, fn_load *out)
{
    json_t *cargo, *truck, *pickup, *contact;
    const char *kind, *cname = NULL, *cphone = NULL, *notes;
    double weight_t, vol = 0, min_len;
    int has_vol, has_len, has_exp;
    int64_t earliest, latest, expires = 0;

    memset(out, 0, sizeof(*out));
    if (parse_place(c, body, "origin", &out->origin) || parse_place(c, body, "destination", &out->dest) ||
        fn_jv_object(c, body, NULL, "cargo", 1, &cargo) || fn_jv_string(c, cargo, "cargo", "kind", 1, 1, 32, &kind) ||
        fn_jv_number(c, cargo, "cargo", "weight_t", 1, 0.001, 100, &weight_t, NULL) ||
        fn_jv_number(c, cargo, "cargo", "volume_m3", 0, 0.001, 300, &vol, &has_vol) ||
        fn_jv_object(c, body, NULL, "truck", 1, &truck) || parse_types(c, truck, &out->types_mask) ||
        fn_jv_number(c, truck, "truck", "min_length_m", 0, 1, 30, &min_len, &has_len) ||
        fn_jv_object(c, body, NULL, "pickup", 1, &pickup) ||
        fn_jv_int(c, pickup, "pickup", "earliest_at", 1, 0, INT32_MAX * 4LL, &earliest, NULL) ||
        fn_jv_int(c, pickup, "pickup", "latest_at", 1, 0, INT32_MAX * 4LL, &latest, NULL) ||
        fn_jv_money(c, body, NULL, "price_cny", &out->price_fen) ||
        fn_jv_int(c, body, NULL, "expires_at", 0, 0, INT32_MAX * 4LL, &expires, &has_exp) ||
        fn_jv_string(c, body, NULL, "notes", 0, 1, 500, &notes) || fn_jv_object(c, body, NULL, "contact", 0, &contact))
        return -1;
    if (contact && (fn_jv_string(c, contact, "contact", "name", 0, 1, 64, &cname) ||
                    fn_jv_string(c, contact, "contact", "phone", 0, 5, 24, &cphone)))
        return -1;
    out->min_length_idx = -1;
    if (has_len && (out->min_length_idx = (int8_t)fn_truck_length_parse(min_len)) < 0) {
        fn_reply_error(c, FN_EINVAL, "truck.min_length_m", "truck.min_length_m must be one of 4.2, 5.2, 6.8, 7.6, 8.7, "
                       "9.6, 12.5, 13, 15, 16, 17.5");
        return -1;
    }
    if (latest < earliest) {
        fn_reply_error(c, FN_EINVAL, "pickup.latest_at", "pickup.latest_at must not be before pickup.earliest_at");
        return -1;
    }
    if (latest <= now) {
        fn_reply_error(c, FN_EUNPROCESSABLE, "pickup.latest_at", "pickup.latest_at is in the past");
        return -1;
    }
    if (earliest > now + FN_MAX_PICKUP_AHEAD_S) {
        fn_reply_error(c, FN_EINVAL, "pickup.earliest_at", "pickup.earliest_at is more than 90 days ahead");
        return -1;
    }
    if (has_exp && (expires <= now || expires > latest)) {
        fn_reply_error(c, FN_EINVAL, "expires_at", "expires_at must be in the future and no later than pickup.latest_at");
        return -1;
    }
    out->cargo_kind = kind;
    out->weight_kg = (uint32_t)lround(weight_t * 1000.0);
    out->volume_l = has_vol ? (uint32_t)lround(vol * 1000.0) : 0;
    out->pickup_earliest_at = earliest;
    out->pickup_latest_at = latest;
    out->expires_at = has_exp ? expires : 0;
    out->contact_name = cname ? cname : "";
    out->contact_phone = cphone ? cphone : "";
    out->notes = notes ? notes : "";
    return 0;
}
