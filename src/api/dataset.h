/*
 * dataset.h — one line of a `freight gen` dataset (docs/dataset.md) decoded
 * and checked, for `freight import`.
 *
 * A line is held to exactly the rules of the API body it mirrors: the
 * general path parses it with jansson and checks it with decode.c (the code
 * behind POST /v1/companies, /v1/drivers and /v1/loads), and says why a bad
 * line is refused ("field: message (code)").  Parsing with jansson is most
 * of an import's work, so there is also a fast path (decode_fast.c) for the
 * lines as `freight gen` writes them: it reads the known keys straight into
 * the structs, builds no JSON tree, and declines every line it does not
 * fully recognise or that would not pass — escapes, unknown or repeated
 * keys, nulls, exponents, long numbers, any value out of range.  A declined
 * line goes the general way, so what is accepted, the structs it gives and
 * every error message are those of the general path
 * (tests/unit/test_api_dataset.c compares the two line by line).
 */
#ifndef FN_DATASET_H
#define FN_DATASET_H

#include "api/api_int.h"
#include "common/geo.h"
#include "core/records.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The files of a dataset, in the order they are imported. */
enum { FN_DS_COMPANIES, FN_DS_DRIVERS, FN_DS_LOADS };

typedef struct fn_ds_config {
    int64_t now_s;    /* the clock the times are checked against */
    int64_t shift_s;  /* added to every time field before it is checked (the rebase) */
    fn_area area;     /* the service area places must lie in */
    /* Non-zero when a load's dataset company id was imported; called from
     * the decoding thread, so it must only read. */
    int (*company_known)(const void *arg, int64_t dataset_id);
    const void *company_arg;
} fn_ds_config;

/* One decoded line.  Strings point into root (general path) or into the
 * caller's string buffer (fast path). */
typedef struct fn_ds_rec {
    int ok;                /* 1 when the line was accepted */
    char err[400];         /* when refused: "field: message (code)" */
    int64_t id;            /* the record's dataset id */
    json_t *root;          /* the parsed line on the general path, else NULL; the caller owns it */
    fn_company c;          /* companies: everything but id and created_at */
    fn_driver d;           /* drivers: everything but id, created_at and status */
    fn_position pos;       /* drivers: the last report, when has_pos (driver_id not set) */
    int has_pos, offline;  /* drivers: a position was given; status is "offline" */
    fn_load l;             /* loads: everything but id and company_id */
    int64_t company;       /* loads: the dataset id of the posting company */
} fn_ds_rec;

/* What the general path needs on one thread: a call that replies into a
 * buffer instead of a connection. */
typedef struct fn_ds_decoder {
    fn_ds_config cfg;
    fn_call call;
    fn_http_resp resp;
} fn_ds_decoder;

/* Sets d up for cfg (copied); fn_ds_decoder_free releases it. */
void fn_ds_decoder_init(fn_ds_decoder *d, const fn_ds_config *cfg);
void fn_ds_decoder_free(fn_ds_decoder *d);

/* The general path: parses text (len bytes, one line of file kind, its
 * newline included or not) with jansson and checks it as the API would.
 * Fills *r (r->ok says the verdict); r->root is the parsed line, NULL when
 * it was not JSON, for the caller to json_decref. */
void fn_ds_decode_slow(fn_ds_decoder *d, int kind, const char *text, size_t len, fn_ds_rec *r);

/* The fast path: returns 1 with *r filled (r->ok = 1, r->root NULL) when
 * the line is one it fully recognises and that passes every check, 0 when
 * it declines (then *r is meaningless).  The strings of *r are copied into
 * strs, which needs room for len bytes and must live as long as *r. */
int fn_ds_decode_fast(const fn_ds_config *cfg, int kind, const char *text, size_t len, char *strs, fn_ds_rec *r);

/* The fast path, and the general one for a line it declines. */
void fn_ds_decode(fn_ds_decoder *d, int kind, const char *text, size_t len, char *strs, fn_ds_rec *r);

#endif
