/*
 * fn.h — what every Freightnet module shares: the one error enum, its
 * strings and HTTP statuses, and a few small helpers.
 *
 * Error codes live in one table (FN_ERRORS, an X-macro in the style of
 * libuv's UV_ERRNO_MAP).  Each code has the snake_case name that the HTTP
 * API returns in {"error": {"code": ...}} and the HTTP status it maps to, so
 * adding an error is one line here and nothing else.  Codes are negative so
 * that functions can return 0 for success, a positive count, or an error.
 */
#ifndef FN_H
#define FN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*   name                 http  api code                message */
#define FN_ERRORS(X)                                                                        \
    X(FN_EINVAL,          400, "invalid_field",        "a field has an invalid value")      \
    X(FN_EMISSING,        400, "missing_field",        "a required field is missing")       \
    X(FN_EBADJSON,        400, "bad_json",             "the body is not valid JSON")        \
    X(FN_EBADREQ,         400, "bad_request",          "the request is malformed")          \
    X(FN_EDEPTH,          400, "json_too_deep",        "the JSON body is nested too deeply")\
    X(FN_EUNAUTH,         401, "unauthorized",         "a valid bearer token is required")  \
    X(FN_EFORBIDDEN,      403, "forbidden",            "this is not yours to do")           \
    X(FN_ENOTFOUND,       404, "not_found",            "no such object")                    \
    X(FN_EMETHOD,         405, "method_not_allowed",   "method not allowed on this path")   \
    X(FN_ECONFLICT,       409, "conflict",             "the object's state forbids this")   \
    X(FN_EBOOKED,         409, "already_booked",       "the load is already booked")        \
    X(FN_ENOTOPEN,        409, "load_not_open",        "the load is not open")              \
    X(FN_EONTRIP,         409, "driver_on_trip",       "the driver is on a trip")           \
    X(FN_ESTATE,          409, "invalid_transition",   "the trip is not in a state that allows this") \
    X(FN_ERATED,          409, "already_rated",        "this side has already rated this trip") \
    X(FN_EUNSUITABLE,     422, "truck_unsuitable",     "the truck does not fit the load")   \
    X(FN_ETOOBIG,         413, "payload_too_large",    "the request body is too large")     \
    X(FN_EMEDIA,          415, "unsupported_media_type", "send Content-Type: application/json") \
    X(FN_EAREA,           422, "outside_service_area", "the position is outside the service area") \
    X(FN_EUNPROCESSABLE,  422, "unprocessable",        "well-formed but impossible")        \
    X(FN_ERATE,           429, "rate_limited",         "too many requests")                 \
    X(FN_EINTERNAL,       500, "internal",             "internal error")                    \
    X(FN_ENOTIMPL,        501, "not_implemented",      "this endpoint is not implemented yet") \
    X(FN_EUNAVAIL,        503, "storage_unavailable",  "storage is not writable; reads keep working") \
    X(FN_ENOMEM,          503, "out_of_memory",        "out of memory")                     \
    X(FN_EIO,             503, "io_error",             "an I/O error occurred")             \
    X(FN_ECORRUPT,        500, "corrupt",              "stored data is corrupt")

enum fn_err {
    FN_OK = 0,
    FN__EFIRST = -1000, /* below every errno value negated, so they cannot collide */
#define FN_ERR_ENUM_(name, status, code, msg) name,
    FN_ERRORS(FN_ERR_ENUM_)
#undef FN_ERR_ENUM_
    FN__ELAST
};

/* Returns the human sentence for an error code (never NULL). */
const char *fn_strerror(int err);

/* Returns the API's snake_case code for an error ("internal" when unknown). */
const char *fn_errcode(int err);

/* Returns the HTTP status for an error (500 when unknown). */
int fn_errstatus(int err);

/* Wall clock in Unix seconds and a monotonic clock in nanoseconds. */
int64_t fn_now_s(void);
uint64_t fn_mono_ns(void);

/* Initialises *cv so that its timed waits run on CLOCK_MONOTONIC: a step of
 * the wall clock (NTP, an operator) then neither stretches nor cuts them.
 * Pair with fn_deadline_ms(). */
void fn_cond_init_mono(pthread_cond_t *cv);

/* Sets *ts to ms milliseconds from now on CLOCK_MONOTONIC, the deadline for
 * pthread_cond_timedwait on a cv from fn_cond_init_mono(). */
void fn_deadline_ms(struct timespec *ts, uint64_t ms);

/* Logs one line to stderr with a timestamp: "2026-11-25T12:00:00Z freightd: ...". */
void fn_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that never returns NULL: Freightnet's out-of-memory policy is to
 * log and abort, since a half-applied state change is worse than a restart
 * from the log. */
void *fn_xmalloc(size_t n);
void *fn_xcalloc(size_t n, size_t size);
void *fn_xrealloc(void *p, size_t n);
char *fn_xstrdup(const char *s);

#define FN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FN_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
