/*
 * h_members.c — companies, drivers (with their trucks), gateways and a
 * driver's status.
 *
 * Identity routes (/companies/{id}, /drivers/{id}/...) compare the path id
 * with the caller's own before looking anything up, so a member probing
 * other ids gets the same 403 whether or not the id exists.
 */
#include "api/api_int.h"
#include "common/fn.h"

#include <ctype.h>
#include <string.h>

/* Phones: an optional +, then 5 to 20 digits, spaces or dashes. */
static int valid_phone(const char *s)
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

static void reply_created_member(fn_call *c, uint64_t id, const char *token, json_t *obj)
{
    json_object_set_new(obj, "id", json_integer((json_int_t)id));
    json_object_set_new(obj, "token", json_string(token));
    fn_reply(c, 201, obj);
}

void fn_h_company_create(fn_call *c)
{
    fn_company in;
    const char *name, *kind, *city, *province;
    char token[FN_TOKEN_LEN + 1];
    fn_result res = {0};
    uint64_t id;
    int k, p = -1;

    memset(&in, 0, sizeof(in));
    if (fn_jv_string(c, c->body, NULL, "name", 1, 1, 100, &name) ||
        fn_jv_string(c, c->body, NULL, "kind", 1, 1, 32, &kind) ||
        fn_jv_string(c, c->body, NULL, "city", 0, 1, 64, &city) ||
        fn_jv_string(c, c->body, NULL, "province", 0, 1, 64, &province))
        return;
    if ((k = fn_company_kind_parse(kind)) < 0)
        RETURN_ERROR(c, FN_EINVAL, "kind", "kind must be one of shipper, carrier, broker, logistics");
    if (province && (p = fn_province_parse(province)) < 0)
        RETURN_ERROR(c, FN_EINVAL, "province", "province '%s' is not a province of mainland China", province);
    in.name = name;
    in.city = city ? city : "";
    in.kind = (uint8_t)k;
    in.province = (int8_t)p;
    if (fn_engine_company_create(c->api->engine, &in, &id, token, &res) != 0)
        RETURN_RESULT(c, &res);
    fn_engine_rdlock(c->api->engine);
    json_t *o = fn_json_company(fn_state_company(fn_engine_state(c->api->engine), id));
    fn_engine_rdunlock(c->api->engine);
    reply_created_member(c, id, token, o);
}

void fn_h_company_get(fn_call *c)
{
    const fn_company *co;
    json_t *o = NULL;
    if (fn_call_role(c) == FN_ROLE_COMPANY && fn_call_member(c) != c->id)
        RETURN_ERROR(c, FN_EFORBIDDEN, NULL, "a company may only read its own record");
    fn_engine_rdlock(c->api->engine);
    co = fn_state_company(fn_engine_state(c->api->engine), c->id);
    if (co)
        o = fn_json_company(co);
    fn_engine_rdunlock(c->api->engine);
    if (!o)
        RETURN_ERROR(c, FN_ENOTFOUND, NULL, "no company %llu", (unsigned long long)c->id);
    fn_reply(c, 200, o);
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

void fn_h_driver_create(fn_call *c)
{
    fn_driver in;
    const char *name, *phone;
    json_t *home, *truck, *prov;
    char token[FN_TOKEN_LEN + 1];
    fn_result res = {0};
    uint64_t id;

    memset(&in, 0, sizeof(in));
    if (fn_jv_string(c, c->body, NULL, "name", 1, 1, 100, &name) ||
        fn_jv_string(c, c->body, NULL, "phone", 1, 5, 24, &phone))
        return;
    if (!valid_phone(phone))
        RETURN_ERROR(c, FN_EINVAL, "phone", "phone must be digits (5 to 20), optionally with a leading +");
    if (fn_jv_object(c, c->body, NULL, "home", 1, &home) || fn_jv_latlon(c, home, "home", &in.home_lat, &in.home_lon) ||
        fn_jv_object(c, c->body, NULL, "truck", 1, &truck) || parse_truck(c, truck, &in))
        return;
    prov = json_object_get(c->body, "preferred_provinces");
    if (prov && !json_is_null(prov)) {
        size_t i;
        json_t *v;
        if (!json_is_array(prov) || json_array_size(prov) > FN_PROVINCE_COUNT)
            RETURN_ERROR(c, FN_EINVAL, "preferred_provinces", "preferred_provinces must be an array of province names");
        json_array_foreach(prov, i, v) {
            int p = json_is_string(v) ? fn_province_parse(json_string_value(v)) : -1;
            if (p < 0) {
                char f[48];
                snprintf(f, sizeof(f), "preferred_provinces[%zu]", i);
                RETURN_ERROR(c, FN_EINVAL, f, "%s is not a province of mainland China", f);
            }
            in.provinces_mask |= 1u << p;
        }
    }
    in.name = name;
    in.phone = phone;
    if (fn_engine_driver_create(c->api->engine, &in, &id, token, &res) != 0)
        RETURN_RESULT(c, &res);
    fn_engine_rdlock(c->api->engine);
    json_t *o = fn_json_driver(fn_state_driver(fn_engine_state(c->api->engine), id), fn_now_s());
    fn_engine_rdunlock(c->api->engine);
    json_object_del(o, "id");
    reply_created_member(c, id, token, o);
}

void fn_h_driver_get(fn_call *c)
{
    const fn_driver *d;
    json_t *o = NULL;
    if (fn_call_role(c) == FN_ROLE_DRIVER && fn_call_member(c) != c->id)
        RETURN_ERROR(c, FN_EFORBIDDEN, NULL, "a driver may only read their own record");
    fn_engine_rdlock(c->api->engine);
    d = fn_state_driver(fn_engine_state(c->api->engine), c->id);
    if (d)
        o = fn_json_driver(d, fn_now_s());
    fn_engine_rdunlock(c->api->engine);
    if (!o)
        RETURN_ERROR(c, FN_ENOTFOUND, NULL, "no driver %llu", (unsigned long long)c->id);
    fn_reply(c, 200, o);
}

void fn_h_driver_status(fn_call *c)
{
    const char *status;
    fn_result res = {0};
    int st;
    if (fn_call_member(c) != c->id)
        RETURN_ERROR(c, FN_EFORBIDDEN, NULL, "a driver may only set their own status");
    if (fn_jv_string(c, c->body, NULL, "status", 1, 1, 16, &status))
        return;
    if (strcmp(status, "available") == 0)
        st = FN_DS_AVAILABLE;
    else if (strcmp(status, "offline") == 0)
        st = FN_DS_OFFLINE;
    else if (strcmp(status, "on_trip") == 0)
        RETURN_ERROR(c, FN_EINVAL, "status", "on_trip is set by booking a load, not directly");
    else
        RETURN_ERROR(c, FN_EINVAL, "status", "status must be available or offline");
    if (fn_engine_driver_status(c->api->engine, c->id, st, &res) != 0)
        RETURN_RESULT(c, &res);
    fn_h_driver_get(c);
}

void fn_h_gateway_create(fn_call *c)
{
    fn_gateway in;
    const char *name;
    char token[FN_TOKEN_LEN + 1];
    fn_result res = {0};
    uint64_t id;
    memset(&in, 0, sizeof(in));
    if (fn_jv_string(c, c->body, NULL, "name", 1, 1, 100, &name))
        return;
    in.name = name;
    if (fn_engine_gateway_create(c->api->engine, &in, &id, token, &res) != 0)
        RETURN_RESULT(c, &res);
    reply_created_member(c, id, token, json_pack("{s:s}", "name", name));
}
