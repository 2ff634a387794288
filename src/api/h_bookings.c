/*
 * h_bookings.c — booking a load and the trip that follows: pickup,
 * delivery, cancellation, and one rating from each side.
 *
 * Bookings are private to their two parties (and the admin): anyone else
 * gets 404 whether or not the booking exists.  While a trip is active, its
 * booking carries the truck's exact position (the location-privacy rule:
 * the owner of the booked load sees it, nobody else but the driver and the
 * admin).
 */
#include "api/api_int.h"
#include "common/fn.h"

#include <string.h>

static void reply_booking(fn_call *c, uint64_t id, int status)
{
    const fn_booking *b;
    json_t *o = NULL;
    fn_engine_rdlock(c->api->engine);
    b = fn_state_booking(fn_engine_state(c->api->engine), id);
    if (b && fn_engine_booking_visible(c->who, b)) {
        const fn_driver *d = fn_state_driver(fn_engine_state(c->api->engine), b->driver_id);
        o = fn_json_booking(b);
        /* While the trip is active its two parties see the truck's exact position. */
        if (d && d->pos_ts && (b->status == FN_BS_BOOKED || b->status == FN_BS_PICKED_UP))
            json_object_set_new(o, "driver_position", json_pack("{s:f, s:f, s:I}", "lat", d->lat, "lon", d->lon,
                                                                "ts", (json_int_t)d->pos_ts));
    }
    fn_engine_rdunlock(c->api->engine);
    if (!o)
        RETURN_ERROR(c, FN_ENOTFOUND, NULL, "no booking %llu of yours", (unsigned long long)id);
    fn_reply(c, status, o);
}

void fn_h_book(fn_call *c)
{
    fn_result res = {0};
    uint64_t bid = 0;
    if (fn_engine_book(c->api->engine, fn_call_member(c), c->id, &bid, &res) != 0)
        RETURN_RESULT(c, &res);
    reply_booking(c, bid, 201);
}

void fn_h_booking_get(fn_call *c) { reply_booking(c, c->id, 200); }

void fn_h_pickup(fn_call *c)
{
    fn_result res = {0};
    if (fn_engine_trip_step(c->api->engine, c->who, c->id, FN_REC_PICKUP, &res) != 0)
        RETURN_RESULT(c, &res);
    reply_booking(c, c->id, 200);
}

void fn_h_deliver(fn_call *c)
{
    fn_result res = {0};
    if (fn_engine_trip_step(c->api->engine, c->who, c->id, FN_REC_DELIVER, &res) != 0)
        RETURN_RESULT(c, &res);
    reply_booking(c, c->id, 200);
}

void fn_h_booking_cancel(fn_call *c)
{
    fn_result res = {0};
    if (fn_engine_booking_cancel(c->api->engine, c->who, c->id, &res) != 0)
        RETURN_RESULT(c, &res);
    reply_booking(c, c->id, 200);
}

void fn_h_rating(fn_call *c)
{
    fn_result res = {0};
    int64_t stars;
    const char *comment;
    if (fn_jv_int(c, c->body, NULL, "stars", 1, 1, 5, &stars, NULL) ||
        fn_jv_string(c, c->body, NULL, "comment", 0, 1, 500, &comment))
        return;
    if (fn_engine_rate(c->api->engine, c->who, c->id, (int)stars, comment, &res) != 0)
        RETURN_RESULT(c, &res);
    reply_booking(c, c->id, 201);
}
