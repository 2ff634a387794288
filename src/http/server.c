/*
 * server.c — libmicrohttpd glue: listener, body accumulation with a cap,
 * connection tracking for the total request deadline, graceful stop.
 *
 * libmicrohttpd's own timeout is an idle timeout: it restarts with every
 * byte, so a client sending one header byte every few seconds would hold a
 * connection (and a slot) forever.  We therefore track every connection
 * (notify-connection callback) with the time its current request began (the
 * URI-log callback fires as soon as a request line arrives) and a sweeper
 * thread shuts down the socket of any request that is not whole, answered
 * and sent within request_deadline_s.  libmicrohttpd then sees the socket
 * fail and cleans the connection up itself.
 */
#include "http/server.h"
#include "common/fn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn_ctx {
    struct conn_ctx *prev, *next;
    int fd;
    uint64_t req_start_ns; /* when the current request (or the connection) began */
    int in_request;        /* 1 from a request's first byte until its response is sent */
    int killed;
} conn_ctx;

typedef struct req_ctx {
    fn_http_req req;
    fn_buf body;
    int too_big;
    int started;           /* the first access call has been seen */
    int dispatched;
} req_ctx;

struct fn_http {
    fn_http_config cfg;
    struct MHD_Daemon *d;
    int listen_fd;
    fn_http_handler_fn handler;
    fn_http_done_fn done;
    void *app;

    pthread_mutex_t mu;    /* guards the connection list and in_flight */
    pthread_cond_t cv;     /* in_flight changed (fn_http_stop waits on it) */
    pthread_cond_t sweep_cv; /* wakes the sweeper early, at stop */
    conn_ctx conns;        /* list head */
    int in_flight;         /* requests between first byte and completion */
    pthread_t sweeper;
    int stopping;

    uint64_t connections_open, connections_total, deadline_kills, body_too_large;
};

const char *fn_http_query(const fn_http_req *r, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *fn_http_header(const fn_http_req *r, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)r->conn, MHD_HEADER_KIND, name);
}

void fn_http_resp_header(fn_http_resp *r, const char *name, const char *value)
{
    if (r->n_extra >= 4)
        return;
    snprintf(r->extra_headers[r->n_extra][0], 64, "%s", name);
    snprintf(r->extra_headers[r->n_extra][1], 64, "%s", value);
    r->n_extra++;
}

static conn_ctx *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_ctx *)ci->socket_context : NULL; /* the pointer itself, not its address */
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    fn_http *h = cls;
    conn_ctx *cc;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        cc = fn_xcalloc(1, sizeof(*cc));
        cc->fd = ci ? ci->connect_fd : -1;
        cc->req_start_ns = fn_mono_ns();
        cc->in_request = 1;
        pthread_mutex_lock(&h->mu);
        cc->next = h->conns.next;
        cc->prev = &h->conns;
        h->conns.next->prev = cc;
        h->conns.next = cc;
        h->connections_open++;
        h->connections_total++;
        pthread_mutex_unlock(&h->mu);
        *socket_context = cc;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        cc = *socket_context;
        if (!cc)
            return;
        /* Unlinked under the lock before libmicrohttpd closes the fd, so the
         * sweeper never shuts down a reused descriptor. */
        pthread_mutex_lock(&h->mu);
        cc->prev->next = cc->next;
        cc->next->prev = cc->prev;
        h->connections_open--;
        pthread_mutex_unlock(&h->mu);
        free(cc);
        *socket_context = NULL;
    }
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    fn_http *h = cls;
    conn_ctx *cc = conn_of(c);
    req_ctx *rc = fn_xcalloc(1, sizeof(*rc));
    (void)uri;
    rc->req.start_ns = fn_mono_ns();
    fn_buf_init(&rc->body, h->cfg.max_body_bytes + 1); /* + the NUL handlers get */
    pthread_mutex_lock(&h->mu);
    if (cc) {
        cc->req_start_ns = rc->req.start_ns;
        cc->in_request = 1;
    }
    h->in_flight++;
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    fn_http *h = cls;
    req_ctx *rc = *req_cls;
    conn_ctx *cc = conn_of(c);
    (void)toe;
    pthread_mutex_lock(&h->mu);
    if (cc) {
        /* The next request on this connection must arrive whole within the
         * idle timeout plus the deadline, so that trickling the next request
         * line is cut off too (an idle connection is closed by the idle
         * timeout first). */
        cc->in_request = 1;
        cc->req_start_ns = fn_mono_ns() + (uint64_t)h->cfg.idle_timeout_s * 1000000000ull;
    }
    if (rc && --h->in_flight == 0)
        pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (rc) {
        fn_buf_free(&rc->body);
        free(rc);
        *req_cls = NULL;
    }
}

static enum MHD_Result send_resp(struct MHD_Connection *c, fn_http_resp *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ok;
    int cache_set = 0;
    r = MHD_create_response_from_buffer(resp->body.len, resp->body.data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        fn_buf_free(&resp->body);
        return MHD_NO;
    }
    resp->body.data = NULL; /* now libmicrohttpd's */
    MHD_add_response_header(r, "Content-Type", resp->content_type ? resp->content_type : "application/json; charset=utf-8");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    for (int i = 0; i < resp->n_extra; i++) {
        MHD_add_response_header(r, resp->extra_headers[i][0], resp->extra_headers[i][1]);
        if (strcasecmp(resp->extra_headers[i][0], "Cache-Control") == 0)
            cache_set = 1;
    }
    if (!cache_set) /* API answers are never cached; the dashboard's files say their own */
        MHD_add_response_header(r, "Cache-Control", "no-store");
    ok = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ok;
}

static void simple_error(fn_http_resp *resp, int status, const char *code, const char *msg)
{
    resp->status = status;
    fn_buf_printf(&resp->body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **req_cls)
{
    fn_http *h = cls;
    req_ctx *rc = *req_cls;
    fn_http_resp resp;
    (void)version;

    if (!rc) /* no URI callback ran (should not happen); refuse politely */
        return MHD_NO;
    if (!rc->started) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        rc->started = 1;
        rc->req.method = method;
        rc->req.path = url;
        rc->req.conn = c;
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, rc->req.client_ip, sizeof(rc->req.client_ip));
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, rc->req.client_ip, sizeof(rc->req.client_ip));
        }
        if (cl && strtoull(cl, NULL, 10) > h->cfg.max_body_bytes) {
            /* Refuse before reading a byte of the body. */
            memset(&resp, 0, sizeof(resp));
            fn_buf_init(&resp.body, 0);
            simple_error(&resp, 413, "payload_too_large", "the request body is too large");
            __atomic_add_fetch(&h->body_too_large, 1, __ATOMIC_RELAXED);
            rc->dispatched = 1;
            if (h->done)
                h->done(h->app, &rc->req, 413, -1, fn_mono_ns() - rc->req.start_ns);
            return send_resp(c, &resp);
        }
        if (cl)
            fn_buf_reserve(&rc->body, (size_t)strtoull(cl, NULL, 10) + 1); /* one allocation, not a doubling series */
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!rc->too_big && (fn_buf_put(&rc->body, upload_data, *upload_data_size) != 0 ||
                             rc->body.len > h->cfg.max_body_bytes))
            rc->too_big = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rc->dispatched)
        return MHD_YES;
    rc->dispatched = 1;
    {
        /* The whole request is here: the deadline is for receiving it, not for
         * the work it asks for. */
        conn_ctx *cc = conn_of(c);
        pthread_mutex_lock(&h->mu);
        if (cc)
            cc->in_request = 0;
        pthread_mutex_unlock(&h->mu);
    }
    memset(&resp, 0, sizeof(resp));
    fn_buf_init(&resp.body, 0);
    resp.tag = -1;
    if (rc->too_big) {
        __atomic_add_fetch(&h->body_too_large, 1, __ATOMIC_RELAXED);
        simple_error(&resp, 413, "payload_too_large", "the request body is too large");
    } else {
        fn_buf_put(&rc->body, "", 1); /* NUL-terminate for parsers */
        rc->req.body = (const char *)rc->body.data;
        rc->req.body_len = rc->body.len - 1;
        resp.status = 200;
        h->handler(h->app, &rc->req, &resp);
    }
    if (h->done)
        h->done(h->app, &rc->req, resp.status, resp.tag, fn_mono_ns() - rc->req.start_ns);
    return send_resp(c, &resp);
}

static void *sweeper_main(void *arg)
{
    fn_http *h = arg;
    uint64_t deadline_ns = (uint64_t)h->cfg.request_deadline_s * 1000000000ull;
    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        struct timespec ts;
        uint64_t now = fn_mono_ns();
        for (conn_ctx *cc = h->conns.next; cc != &h->conns; cc = cc->next) {
            /* req_start_ns may lie ahead (a keep-alive connection's grace). */
            if (cc->in_request && !cc->killed && now > cc->req_start_ns && now - cc->req_start_ns > deadline_ns &&
                cc->fd >= 0) {
                shutdown(cc->fd, SHUT_RDWR);
                cc->killed = 1;
                h->deadline_kills++;
            }
        }
        fn_deadline_ms(&ts, 250);
        pthread_cond_timedwait(&h->sweep_cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static int bind_listener(const char *listen_addr, int *bound_port, char *errbuf, size_t errlen)
{
    char host[256], port[16];
    const char *colon = strrchr(listen_addr, ':');
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = -1, one = 1, rc;
    size_t hl;

    if (!colon || colon == listen_addr || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(port)) {
        snprintf(errbuf, errlen, "--listen must be host:port, got '%s'", listen_addr);
        return -1;
    }
    hl = (size_t)(colon - listen_addr);
    if (listen_addr[0] == '[' && hl >= 2 && listen_addr[hl - 1] == ']') {
        listen_addr++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        snprintf(errbuf, errlen, "--listen host is too long");
        return -1;
    }
    memcpy(host, listen_addr, hl);
    host[hl] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot resolve listen address '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto syserr;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0)
        goto syserr;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(ai);
    return fd;
syserr:
    snprintf(errbuf, errlen, "cannot listen on %s: %s", colon ? listen_addr : "?", strerror(errno));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return -1;
}

int fn_http_start(fn_http **out, const fn_http_config *cfg, fn_http_handler_fn handler, fn_http_done_fn done,
                  void *app, int *bound_port, char *errbuf, size_t errlen)
{
    fn_http *h = fn_xcalloc(1, sizeof(*h));
    h->cfg = *cfg;
    h->handler = handler;
    h->done = done;
    h->app = app;
    h->conns.next = h->conns.prev = &h->conns;
    pthread_mutex_init(&h->mu, NULL);
    fn_cond_init_mono(&h->cv); /* timed waits immune to wall-clock steps */
    fn_cond_init_mono(&h->sweep_cv);
    h->listen_fd = bind_listener(cfg->listen, bound_port, errbuf, errlen);
    if (h->listen_fd < 0)
        goto err;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            on_access, h,
                            MHD_OPTION_LISTEN_SOCKET, h->listen_fd,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads ? cfg->threads : 4),
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
                            MHD_OPTION_END);
    if (!h->d) {
        snprintf(errbuf, errlen, "cannot start the HTTP server on %s", cfg->listen);
        goto err;
    }
    if (pthread_create(&h->sweeper, NULL, sweeper_main, h) != 0) {
        snprintf(errbuf, errlen, "cannot start the connection sweeper");
        MHD_stop_daemon(h->d);
        goto err;
    }
    *out = h;
    return 0;
err:
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    free(h);
    return FN_EIO;
}

void fn_http_stop(fn_http *h)
{
    struct timespec ts;
    int fd;
    if (!h)
        return;
    fd = MHD_quiesce_daemon(h->d); /* stop accepting; connections stay */
    pthread_mutex_lock(&h->mu);
    fn_deadline_ms(&ts, 10000);
    while (h->in_flight > 0) {
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
            break;
    }
    h->stopping = 1;
    pthread_cond_broadcast(&h->sweep_cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->sweeper, NULL);
    MHD_stop_daemon(h->d);
    if (fd >= 0)
        close(fd);
    free(h);
}

void fn_http_stats_get(fn_http *h, fn_http_stats *st)
{
    pthread_mutex_lock(&h->mu);
    st->connections_open = h->connections_open;
    st->connections_total = h->connections_total;
    st->deadline_kills = h->deadline_kills;
    pthread_mutex_unlock(&h->mu);
    st->body_too_large = __atomic_load_n(&h->body_too_large, __ATOMIC_RELAXED);
}
