/*
 * server.h — the HTTP front: libmicrohttpd behind a small interface.
 *
 * This layer owns sockets, connections and request bodies, and the limits
 * that protect the process from clients: a cap on body size (413), a cap on
 * connections, an idle timeout, and a total deadline for receiving a whole
 * request (a client that trickles its headers or body is cut off when it
 * passes).  It knows nothing of routes or JSON: each complete request is
 * handed to one handler function with the body in memory.
 */
#ifndef FN_HTTP_SERVER_H
#define FN_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct fn_http fn_http;

typedef struct fn_http_config {
    const char *listen;            /* "host:port"; port 0 picks a free one */
    unsigned threads;              /* worker threads (each runs handlers) */
    size_t max_body_bytes;         /* larger bodies get 413 */
    unsigned max_connections;
    unsigned idle_timeout_s;       /* an idle keep-alive connection is closed after this */
    unsigned request_deadline_s;   /* a request must arrive whole within this */
} fn_http_config;

typedef struct fn_http_req {
    const char *method;
    const char *path;               /* without the query string */
    const char *body;               /* NUL-terminated; body_len bytes */
    size_t body_len;
    uint64_t start_ns;              /* when the request arrived (monotonic) */
    char client_ip[64];
    void *conn;                     /* opaque, for the accessors below */
} fn_http_req;

/* Returns a query parameter's value, or NULL. */
const char *fn_http_query(const fn_http_req *r, const char *name);
/* Returns a request header's value, or NULL. */
const char *fn_http_header(const fn_http_req *r, const char *name);

typedef struct fn_http_resp {
    int status;
    const char *content_type;       /* static string; default JSON */
    fn_buf body;                    /* the handler writes here; the server frees it */
    char extra_headers[4][2][64];   /* up to 4 extra (name, value) pairs */
    int n_extra;
    int tag;                        /* the handler's label for this request (route index), -1 = none */
} fn_http_resp;

/* Adds a response header (names and values are truncated to 63 bytes). */
void fn_http_resp_header(fn_http_resp *r, const char *name, const char *value);

/* Handles one whole request.  Runs on a worker thread; may block. */
typedef void (*fn_http_handler_fn)(void *app, const fn_http_req *req, fn_http_resp *resp);
/* Called after a response went out (or failed), for metrics; may be NULL. */
typedef void (*fn_http_done_fn)(void *app, const fn_http_req *req, int status, int tag, uint64_t duration_ns);

/* Binds the listener and starts serving.  *bound_port gets the port.
 * Returns 0, or FN_EIO with a sentence in errbuf (e.g. port taken). */
int fn_http_start(fn_http **out, const fn_http_config *cfg, fn_http_handler_fn handler, fn_http_done_fn done,
                  void *app, int *bound_port, char *errbuf, size_t errlen);

/* Stops accepting, lets requests in flight finish (up to a few seconds),
 * then closes every connection and frees the server. */
void fn_http_stop(fn_http *h);

typedef struct fn_http_stats {
    uint64_t connections_open;
    uint64_t connections_total;
    uint64_t deadline_kills;    /* connections cut off for a slow request */
    uint64_t body_too_large;
} fn_http_stats;
void fn_http_stats_get(fn_http *h, fn_http_stats *st);

#endif
