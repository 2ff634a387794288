/*
 * records.h — the log's record types and their encoders.
 *
 * Every state change is one record; fn_state_apply() (apply.c) decodes and
 * applies it, live and at recovery alike.  Encoders take the model structs
 * that the record describes.  Payload layouts (little-endian; str = u16
 * length + UTF-8 bytes; f64 = IEEE-754 bits) are listed in apply.c and in
 * docs/storage.md.  A record type's number and layout never change once
 * released: a new layout gets a new type.
 */
#ifndef FN_RECORDS_H
#define FN_RECORDS_H

#include <stdint.h>

#include "auth/token.h"
#include "common/buf.h"
#include "core/model.h"

enum fn_rec_type {
    FN_REC_COMPANY_CREATE = 1,
    FN_REC_DRIVER_CREATE = 2,
    FN_REC_GATEWAY_CREATE = 3,
    FN_REC_POSITIONS = 4,
    FN_REC_DRIVER_STATUS = 5,
    FN_REC_LOAD_CREATE = 6,
    FN_REC_LOAD_CANCEL = 7,
    FN_REC_BOOK = 8,
    FN_REC_PICKUP = 9,
    FN_REC_DELIVER = 10,
    FN_REC_BOOKING_CANCEL = 11,
    FN_REC_RATING = 12,
    FN_REC_STATS_SAMPLE = 13,
};

/* One position report as logged. */
typedef struct fn_position {
    uint64_t driver_id;
    double lat, lon;
    int64_t ts;
    uint16_t speed_dkmh;    /* 0.1 km/h */
    uint16_t heading_ddeg;  /* 0.1 degree, 0xffff = unknown */
} fn_position;
#define FN_POSITION_REC_BYTES 36

/* The encoders return 0 or FN_ETOOBIG (only if the buffer is capped). */
int fn_rec_company_create(fn_buf *b, const fn_company *c, const uint8_t token_hash[FN_TOKEN_HASH_BYTES]);
int fn_rec_driver_create(fn_buf *b, const fn_driver *d, const uint8_t token_hash[FN_TOKEN_HASH_BYTES]);
int fn_rec_gateway_create(fn_buf *b, const fn_gateway *g, const uint8_t token_hash[FN_TOKEN_HASH_BYTES]);
int fn_rec_positions(fn_buf *b, const fn_position *p, uint32_t n);
int fn_rec_driver_status(fn_buf *b, uint64_t driver_id, int status, int64_t ts);
int fn_rec_load_create(fn_buf *b, const fn_load *l);
int fn_rec_load_cancel(fn_buf *b, uint64_t load_id, int64_t ts);
int fn_rec_book(fn_buf *b, const fn_booking *bk);
/* PICKUP, DELIVER: booking id and time. */
int fn_rec_booking_event(fn_buf *b, uint64_t booking_id, int64_t ts);
int fn_rec_booking_cancel(fn_buf *b, uint64_t booking_id, int64_t ts, int by_role);
/* STATS_SAMPLE: the hourly analytics sample, at at_s (server clock). */
int fn_rec_stats_sample(fn_buf *b, int64_t at_s);
int fn_rec_rating(fn_buf *b, uint64_t booking_id, int by_role, int stars, const char *comment, int64_t ts);

#endif
