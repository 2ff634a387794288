/*
 * fastpos.h — a fast parser for the one body that arrives at volume:
 * {"positions": [{"driver_id": 1, "lat": 26.6, "lon": 106.7, "ts": ...}, ...]}.
 *
 * A telematics gateway sends 77,000 positions a second for the whole
 * country; parsing them through a general JSON tree (an allocation per
 * value, strtod per number) costs more than everything else the server does
 * with them.  This parser accepts only a strict subset of JSON — the known
 * keys without escapes, numbers and null as values — and produces exactly
 * the doubles strtod would.  Anything else (other keys, strings where
 * numbers belong, escapes, odd numbers) makes it decline, and the caller
 * parses the body with jansson instead, so the answers and error messages
 * are the same either way.
 */
#ifndef FN_FASTPOS_H
#define FN_FASTPOS_H

#include <stddef.h>

enum { FN_RP_DRIVER, FN_RP_LAT, FN_RP_LON, FN_RP_TS, FN_RP_SPEED, FN_RP_HEADING, FN_RP__COUNT };

/* One position object as read, before validation. */
typedef struct fn_raw_pos {
    unsigned present;   /* bit k: field k was there and not null */
    unsigned integral;  /* bit k: field k was written as an integer (no '.' or exponent) */
    unsigned badtype;   /* bit k: field k was there but not a number */
    int not_object;     /* the item was not an object */
    double v[FN_RP__COUNT];
} fn_raw_pos;

/* The field names, indexed by FN_RP_*. */
extern const char *const fn_rp_names[FN_RP__COUNT];

/* Parses body (n bytes) into out (room for cap items).  Returns the number
 * of items, or -1 when the body is outside the fast subset (or holds more
 * than cap items): parse it the general way then. */
long fn_fastpos_parse(const char *body, size_t n, fn_raw_pos *out, size_t cap);

#endif
