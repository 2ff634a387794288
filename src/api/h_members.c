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
static void reply_created_member(fn_call *c, uint64_t id, const char *token, json_t *obj)
{
    json_object_set_new(obj, "id", json_integer((json_int_t)id));
    json_object_set_new(obj, "token", json_string(token));
    fn_reply(c, 201, obj);
}

void fn_h_company_create(fn_call *c)
{
    fn_company in;
    char token[FN_TOKEN_LEN + 1];
    fn_result res = {0};
    uint64_t id;

    if (fn_decode_company(c, c->body, &in) != 0)
        return;
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

void fn_h_driver_create(fn_call *c)
{
    fn_driver in;
    char token[FN_TOKEN_LEN + 1];
    fn_result res = {0};
    uint64_t id;

    if (fn_decode_driver(c, c->body, &in) != 0)
        return;
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
