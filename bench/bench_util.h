/*
 * bench_util.h — what the benchmark programs share, in this order: basics
 * (monotonic clock, a deterministic generator, growable strings), the
 * report's command/machine/build lines, the options the server benchmarks
 * share (parsing and usage text), a latency recorder with exact
 * percentiles, a blocking HTTP/1.1 keep-alive client and a /metrics reader,
 * starting and stopping bin/freightd as a child process and reading its
 * CPU, memory and threads from /proc, the closed-loop runner that drives C
 * connections through a measured window, data dirs (bulkload, scratch
 * copies), bench-tokens.json, places drawn from data/cn_cities.csv, and the
 * setup every benchmark starts with.
 *
 * The Makefile compiles every bench/bench_*.c into its own program and
 * nothing else under bench/, so shared code lives here as static functions
 * (static inline, so a program that does not use one gets no warning).
 * Benchmarks talk to the server only over HTTP on 127.0.0.1, like any
 * client would; they link libfreight.a only because the Makefile does.
 *
 * Benchmarks print numbers, never pass or fail on them (STYLE.md): a
 * program exits non-zero only when it could not measure at all (the server
 * did not start, requests failed).
 */
#ifndef FN_BENCH_UTIL_H
#define FN_BENCH_UTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Basics                                                              */
/* ------------------------------------------------------------------ */

static inline void bu_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void bu_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static inline void *bu_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        bu_die("out of memory (%zu bytes)", n);
    return p;
}

static inline void *bu_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        bu_die("out of memory (%zu bytes)", n);
    return p;
}

/* snprintf for paths: dies rather than work on a truncated path. */
static inline void bu_pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void bu_pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    int k;
    va_start(ap, fmt);
    k = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n)
        bu_die("path too long: %s...", out);
}

/* Monotonic clock in nanoseconds. */
static inline uint64_t bu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bu_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A small deterministic generator (splitmix64), so runs build the same bodies. */
static inline uint64_t bu_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double bu_unit(uint64_t *s) { return (double)(bu_rand(s) >> 11) / 9007199254740992.0; }

/* A growable byte string; every function aborts on allocation failure. */
typedef struct bu_str {
    char *p;
    size_t len, cap;
} bu_str;

static inline void bu_str_reserve(bu_str *s, size_t more)
{
    if (s->len + more + 1 <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + more + 1)
        cap *= 2;
    s->p = bu_xrealloc(s->p, cap);
    s->cap = cap;
}

static inline void bu_str_printf(bu_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void bu_str_printf(bu_str *s, const char *fmt, ...)
{
    va_list ap;
    int n;
    bu_str_reserve(s, 64);
    va_start(ap, fmt);
    n = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        bu_die("vsnprintf failed");
    if ((size_t)n >= s->cap - s->len) {
        bu_str_reserve(s, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
    }
    s->len += (size_t)n;
}

static inline void bu_str_free(bu_str *s)
{
    free(s->p);
    s->p = NULL;
    s->len = s->cap = 0;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

/* The exact command that ran, for the report ("command: ..."). */
static inline void bu_print_command(int argc, char **argv)
{
    printf("command:");
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
}

/* The machine, in the words docs/benchmarks.md uses. */
static inline void bu_print_machine(void)
{
    char line[512], model[256] = "unknown";
    struct utsname u;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ')
                        c++;
                    c[strcspn(c, "\n")] = '\0';
                    snprintf(model, sizeof(model), "%s", c);
                }
                break;
            }
        }
        fclose(f);
    }
    if (uname(&u) != 0)
        snprintf(u.release, sizeof(u.release), "unknown");
    printf("machine: %ld cpus (%s), %.1f GB RAM, Linux %s\n", sysconf(_SC_NPROCESSORS_ONLN), model,
           (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 1e9, u.release);
}

/* The build being measured: the git commit of the tree holding bindir/..
 * and whether its src/ differs from that commit, plus freightd's mtime. */
static inline void bu_print_build(const char *bindir)
{
    char cmd[PATH_MAX + 128], rev[64] = "unknown", path[PATH_MAX + 16];
    FILE *p;
    int dirty = 0;
    struct stat st;
    bu_pathf(cmd, sizeof(cmd), "git -C '%s/..' rev-parse --short HEAD 2>/dev/null", bindir);
    if ((p = popen(cmd, "r")) != NULL) {
        if (fgets(rev, sizeof(rev), p))
            rev[strcspn(rev, "\n")] = '\0';
        pclose(p);
    }
    if (!strcmp(rev, "unknown")) {
        /* Not a git checkout: a tree exported with `git archive` may carry
         * its commit in a REVISION file. */
        bu_pathf(path, sizeof(path), "%s/../REVISION", bindir);
        if ((p = fopen(path, "r")) != NULL) {
            if (fgets(rev, 13, p))
                rev[strcspn(rev, "\n")] = '\0';
            fclose(p);
        }
    }
    bu_pathf(cmd, sizeof(cmd), "git -C '%s/..' status --porcelain --untracked-files=all src 2>/dev/null", bindir);
    if ((p = popen(cmd, "r")) != NULL) {
        char line[512];
        while (fgets(line, sizeof(line), p))
            dirty++;
        pclose(p);
    }
    bu_pathf(path, sizeof(path), "%s/freightd", bindir);
    printf("build: commit %s%s", rev, dirty ? " with uncommitted changes in src/" : "");
    if (stat(path, &st) == 0) {
        char when[64];
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&st.st_mtime));
        printf(", %s built %s", path, when);
    }
    printf("\n");
}

/* Parses a non-negative number option value or dies naming the option. */
static inline double bu_num_arg(const char *name, const char *v, double min, double max)
{
    char *end;
    double d;
    if (!v)
        bu_die("%s needs a value", name);
    d = strtod(v, &end);
    if (end == v || *end || d < min || d > max)
        bu_die("%s must be a number between %g and %g, got '%s'", name, min, max, v);
    return d;
}

/* The directory the running program lives in (bin/), for finding
 * bin/freightd and bin/freight next to it. */
static inline void bu_self_dir(char *out, size_t n)
{
    char p[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", p, sizeof(p) - 1);
    if (k <= 0) {
        snprintf(out, n, "bin");
        return;
    }
    p[k] = '\0';
    char *slash = strrchr(p, '/');
    if (slash)
        *slash = '\0';
    bu_pathf(out, n, "%s", p);
}

/* The options the server benchmarks share.  A program starts from
 * bu_opts_init (the defaults they all had), sets what differs (which
 * options it takes, --connections' default, bound and meaning) and hands
 * argv to bu_opts_parse with a function for its own options. */
#define BU_OPT_DATA_DIR 0x001u    /* --data-dir DIR */
#define BU_OPT_SCALE 0x002u       /* --scale S */
#define BU_OPT_CONNECTIONS 0x004u /* --connections C */
#define BU_OPT_SECONDS 0x008u     /* --seconds T */
#define BU_OPT_WARMUP 0x010u      /* --warmup W */
#define BU_OPT_THREADS 0x020u     /* --threads N */
#define BU_OPT_CONNECT_GAP 0x040u /* --connect-gap-ms G */
#define BU_OPT_PERF 0x080u        /* --perf FILE */
#define BU_OPT_KEEP 0x100u        /* --keep */
#define BU_OPT_ALL 0x1ffu

typedef struct bu_opts {
    unsigned takes;               /* the BU_OPT_* this program accepts */
    const char *data_dir;         /* bulkloaded state; the server runs on a scratch copy */
    double scale;                 /* bulkload scale when data_dir must be made */
    int connections;              /* client connections */
    int max_connections;          /* the largest --connections accepted */
    const char *connections_help; /* what --connections means, for the usage text */
    double seconds;               /* measured time */
    double warmup;                /* seconds run before measuring */
    int threads;                  /* freightd --threads */
    unsigned connect_gap_ms;      /* open the connections G ms apart before the run; 0: as threads start */
    const char *perf_out;         /* `perf record -g` freightd into this file; NULL: no */
    int keep;                     /* keep the scratch data dir */
} bu_opts;

/* Every common option taken, with the defaults the programs share;
 * the caller sets connections and connections_help. */
static inline void bu_opts_init(bu_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->takes = BU_OPT_ALL;
    o->data_dir = "/tmp/fn-bench-national";
    o->scale = 1;
    o->connections = 1;
    o->max_connections = 1024;
    o->connections_help = "client connections";
    o->seconds = 10;
    o->warmup = 1;
    o->threads = 16;
}

/* One line of usage text: "  NAME" padded to column col, then the
 * description; every newline in it starts a line indented to col. */
static inline void bu_help_line(FILE *f, int col, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline void bu_help_line(FILE *f, int col, const char *name, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fprintf(f, "  %-*s ", col - 3, name);
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n')
            fprintf(f, "%*s", col, "");
    }
    fputc('\n', f);
}

/* The usage lines of the common options in `which` that the program takes,
 * in this order, with the defaults in d, descriptions from column col. */
static inline void bu_opts_help(FILE *f, const bu_opts *d, int col, unsigned which)
{
    which &= d->takes;
    if (which & BU_OPT_DATA_DIR)
        bu_help_line(f, col, "--data-dir DIR",
                     "bulkloaded state (default %s; made with\n"
                     "`freight bulkload --scale S` when it does not exist); the\n"
                     "server runs on a scratch copy, DIR is not changed",
                     d->data_dir);
    if (which & BU_OPT_SCALE)
        bu_help_line(f, col, "--scale S", "bulkload scale when DIR must be made (default %g)", d->scale);
    if (which & BU_OPT_CONNECTIONS)
        bu_help_line(f, col, "--connections C", "%s (default %d)", d->connections_help, d->connections);
    if (which & BU_OPT_SECONDS)
        bu_help_line(f, col, "--seconds T", "measured time (default %g)", d->seconds);
    if (which & BU_OPT_WARMUP)
        bu_help_line(f, col, "--warmup W", "seconds run before measuring (default %g)", d->warmup);
    if (which & BU_OPT_THREADS)
        bu_help_line(f, col, "--threads N", "freightd --threads (default %d)", d->threads);
    if (which & BU_OPT_CONNECT_GAP)
        bu_help_line(f, col, "--connect-gap-ms G",
                     "open the connections one at a time, G ms apart, before the run\n"
                     "(default %u%s)",
                     d->connect_gap_ms, d->connect_gap_ms ? "" : ": each client thread connects as it starts");
    if (which & BU_OPT_PERF)
        bu_help_line(f, col, "--perf FILE", "`perf record -g` freightd into FILE during the window");
    if (which & BU_OPT_KEEP)
        bu_help_line(f, col, "--keep", "keep the scratch data dir");
}

/* Takes the common option at argv[0] (argc counts it and what follows):
 * returns how many args it used (1 or 2), 0 when argv[0] is not a common
 * option the program takes or a string option lacks its value.  Dies on a
 * bad or missing number. */
static inline int bu_opts_arg(bu_opts *o, int argc, char **argv)
{
    const char *a = argv[0], *v = argc > 1 ? argv[1] : NULL;
    unsigned t = o->takes;
    if ((t & BU_OPT_KEEP) && !strcmp(a, "--keep")) {
        o->keep = 1;
        return 1;
    }
    if ((t & BU_OPT_DATA_DIR) && !strcmp(a, "--data-dir") && v)
        o->data_dir = v;
    else if ((t & BU_OPT_PERF) && !strcmp(a, "--perf") && v)
        o->perf_out = v;
    else if ((t & BU_OPT_SCALE) && !strcmp(a, "--scale"))
        o->scale = bu_num_arg(a, v, 0.0001, 100);
    else if ((t & BU_OPT_CONNECTIONS) && !strcmp(a, "--connections"))
        o->connections = (int)bu_num_arg(a, v, 1, o->max_connections);
    else if ((t & BU_OPT_SECONDS) && !strcmp(a, "--seconds"))
        o->seconds = bu_num_arg(a, v, 0.1, 86400);
    else if ((t & BU_OPT_WARMUP) && !strcmp(a, "--warmup"))
        o->warmup = bu_num_arg(a, v, 0, 3600);
    else if ((t & BU_OPT_CONNECT_GAP) && !strcmp(a, "--connect-gap-ms"))
        o->connect_gap_ms = (unsigned)bu_num_arg(a, v, 0, 10000);
    else if ((t & BU_OPT_THREADS) && !strcmp(a, "--threads"))
        o->threads = (int)bu_num_arg(a, v, 1, 1024);
    else
        return 0;
    return 2;
}

/* A program's own options, like bu_opts_arg: a is the option, v the arg
 * after it (NULL at the end); returns the args used, 0 if a is not one. */
typedef int (*bu_own_opt_fn)(void *prog, const char *a, const char *v);

/* Parses argv: --help/-h prints usage to stdout and exits 0; common
 * options go into o, the rest to own(prog, ...) (own may be NULL); an
 * unknown option prints usage to stderr and dies.  usage is given the
 * defaults o held before parsing. */
static inline void bu_opts_parse(int argc, char **argv, bu_opts *o, bu_own_opt_fn own, void *prog,
                                 void (*usage)(FILE *f, const bu_opts *defaults))
{
    const bu_opts d = *o;
    for (int i = 1; i < argc;) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, &d);
            exit(0);
        }
        used = bu_opts_arg(o, argc - i, argv + i);
        if (!used && own)
            used = own(prog, a, v);
        if (!used) {
            usage(stderr, &d);
            bu_die("unknown option or missing value: %s", a);
        }
        i += used;
    }
}

/* ------------------------------------------------------------------ */
/* Latency recorder                                                    */
/* ------------------------------------------------------------------ */

/* Every sample is kept (a benchmark run records at most a few million),
 * so percentiles are exact. */
typedef struct bu_lat {
    uint64_t *ns;
    size_t n, cap;
    int sorted;
} bu_lat;

static inline void bu_lat_add(bu_lat *l, uint64_t ns)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->ns = bu_xrealloc(l->ns, l->cap * sizeof(*l->ns));
    }
    l->ns[l->n++] = ns;
    l->sorted = 0;
}

static inline void bu_lat_merge(bu_lat *into, const bu_lat *from)
{
    for (size_t i = 0; i < from->n; i++)
        bu_lat_add(into, from->ns[i]);
}

static inline int bu_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) in milliseconds, nearest-rank; 0 with no samples. */
static inline double bu_lat_ms(bu_lat *l, double q)
{
    size_t i;
    if (!l->n)
        return 0;
    if (!l->sorted) {
        qsort(l->ns, l->n, sizeof(*l->ns), bu_u64_cmp);
        l->sorted = 1;
    }
    i = (size_t)(q * (double)l->n);
    if (i >= l->n)
        i = l->n - 1;
    return (double)l->ns[i] / 1e6;
}

static inline void bu_lat_free(bu_lat *l)
{
    free(l->ns);
    memset(l, 0, sizeof(*l));
}

/* "p50 1.234 ms  p99 5.678 ms  p999 9.012 ms  max 12.345 ms  (n samples)" */
static inline void bu_lat_print(const char *label, bu_lat *l)
{
    printf("  %-22s p50 %.3f ms   p99 %.3f ms   p999 %.3f ms   max %.3f ms   (%zu requests)\n", label,
           bu_lat_ms(l, 0.50), bu_lat_ms(l, 0.99), bu_lat_ms(l, 0.999), bu_lat_ms(l, 1.0), l->n);
}

/* ------------------------------------------------------------------ */
/* HTTP/1.1 client: one blocking keep-alive connection                 */
/* ------------------------------------------------------------------ */

typedef struct bu_conn {
    int fd;
    int port;
    char *buf;      /* received bytes: the current response, then any extra */
    size_t len;     /* bytes in buf */
    size_t cap;
    size_t used;    /* bytes of buf belonging to the last response (dropped by the next request) */
    int must_close; /* the server said Connection: close */
    int saved;      /* buf[used] was overwritten by a NUL ending the last body; */
    char saved_ch;  /* ... this was the byte there */
    char err[128];  /* why the last bu_request failed */
} bu_conn;

typedef struct bu_resp {
    int status;
    const char *body; /* into the connection's buffer; valid until the next request */
    size_t body_len;
} bu_resp;

static inline int bu_conn_open(bu_conn *c, int port)
{
    struct sockaddr_in sa;
    int one = 1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->port = port;
    c->len = c->used = 0;
    c->must_close = 0;
    c->saved = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(c->err, sizeof(c->err), "socket: %s", strerror(errno));
        return -1;
    }
    /* Requests go out as one writev; without NODELAY a small follow-up
     * segment could wait for the peer's delayed ACK. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(c->err, sizeof(c->err), "connect to 127.0.0.1:%d: %s", port, strerror(errno));
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static inline void bu_conn_close(bu_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static inline void bu_conn_free(bu_conn *c)
{
    bu_conn_close(c);
    free(c->buf);
    c->buf = NULL;
    c->cap = c->len = c->used = 0;
}

static inline int bu_write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Reads more bytes into c->buf; returns bytes read, 0 at EOF, -1 on error. */
static inline ssize_t bu_conn_fill(bu_conn *c)
{
    ssize_t r;
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        while (c->cap - c->len < 65536)
            c->cap *= 2;
        c->buf = bu_xrealloc(c->buf, c->cap + 1);
    }
    do
        r = read(c->fd, c->buf + c->len, c->cap - c->len);
    while (r < 0 && errno == EINTR);
    if (r > 0)
        c->len += (size_t)r;
    return r;
}

/* Finds header `name` (case-insensitive) in the header block [h, end);
 * returns its value's start and sets *vlen, or NULL. */
static inline const char *bu_find_header(const char *h, const char *end, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *line = h;
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol + 1;
    }
    return NULL;
}

/*
 * Sends one request and reads its whole response (status line, headers,
 * Content-Length body), coping with partial reads and writes.  token may be
 * NULL (no Authorization), body may be NULL for no body; content_type is sent
 * only with a body.  Returns 0 with *r filled, or -1 when the connection
 * failed (the caller reopens it; bu_request reconnects a closed connection
 * itself before sending).
 */
static inline int bu_request(bu_conn *c, const char *method, const char *path, const char *token,
                             const char *content_type, const char *body, size_t body_len, bu_resp *r)
{
    char head[1024];
    struct iovec iov[2];
    int hn, niov = 1;
    char *hend;
    size_t hdr_bytes, clen, vlen;
    const char *v;

    r->status = 0;
    r->body = "";
    r->body_len = 0;
    /* Drop the previous response; keep bytes that came after it. */
    if (c->saved) {
        c->buf[c->used] = c->saved_ch;
        c->saved = 0;
    }
    if (c->used) {
        memmove(c->buf, c->buf + c->used, c->len - c->used);
        c->len -= c->used;
        c->used = 0;
    }
    if (c->must_close || c->fd < 0) {
        bu_conn_close(c);
        if (bu_conn_open(c, c->port) != 0)
            return -1;
    }
    hn = snprintf(head, sizeof(head),
                  "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%s%s%s%s"
                  "Content-Length: %zu\r\n\r\n",
                  method, path, c->port, token ? "Authorization: Bearer " : "", token ? token : "",
                  token ? "\r\n" : "", body ? "Content-Type: " : "", body ? content_type : "", body ? "\r\n" : "",
                  body ? body_len : (size_t)0);
    if (hn < 0 || (size_t)hn >= sizeof(head)) {
        snprintf(c->err, sizeof(c->err), "request head too long");
        return -1;
    }
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)hn;
    if (body && body_len) {
        iov[1].iov_base = (void *)body;
        iov[1].iov_len = body_len;
        niov = 2;
    }
    if (bu_write_all(c->fd, iov, niov) != 0) {
        snprintf(c->err, sizeof(c->err), "sending the request: %s", strerror(errno));
        goto fail;
    }

    /* Status line and headers. */
    for (;;) {
        if (c->len >= 4) {
            c->buf[c->len] = '\0';
            hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (hend)
                break;
        }
        ssize_t got = bu_conn_fill(c);
        if (got <= 0) {
            snprintf(c->err, sizeof(c->err), "reading the response head: %s (%zu bytes read)",
                     got ? strerror(errno) : "connection closed by the server", c->len);
            goto fail;
        }
    }
    hdr_bytes = (size_t)(hend - c->buf) + 4;
    if (c->len < 12 || strncmp(c->buf, "HTTP/1.", 7) != 0) {
        snprintf(c->err, sizeof(c->err), "not an HTTP/1.x response");
        goto fail;
    }
    r->status = atoi(c->buf + 9);
    v = bu_find_header(c->buf, hend, "Transfer-Encoding", &vlen);
    if (v && vlen >= 7 && strncasecmp(v, "chunked", 7) == 0) {
        snprintf(c->err, sizeof(c->err), "chunked responses are not supported by this client");
        goto fail;
    }
    v = bu_find_header(c->buf, hend, "Content-Length", &vlen);
    clen = v ? strtoull(v, NULL, 10) : 0;
    v = bu_find_header(c->buf, hend, "Connection", &vlen);
    c->must_close = v && vlen >= 5 && strncasecmp(v, "close", 5) == 0;
    if (strcmp(method, "HEAD") == 0 || r->status == 204 || r->status == 304)
        clen = 0;
    /* Body. */
    while (c->len < hdr_bytes + clen) {
        ssize_t got = bu_conn_fill(c);
        if (got <= 0) {
            snprintf(c->err, sizeof(c->err), "reading the response body: %s",
                     got ? strerror(errno) : "connection closed by the server");
            goto fail;
        }
    }
    c->used = hdr_bytes + clen;
    r->body = c->buf + hdr_bytes;
    r->body_len = clen;
    /* NUL-terminate for strstr and friends.  The byte after the body is
     * spare capacity (buf has cap + 1 bytes) or the first byte of bytes that
     * arrived after the response; that one is saved and put back by the
     * next call. */
    c->saved = c->len > c->used;
    c->saved_ch = c->buf[c->used];
    c->buf[c->used] = '\0';
    return 0;
fail:
    bu_conn_close(c);
    c->len = c->used = 0;
    c->saved = 0;
    return -1;
}

/* GET /metrics on a fresh connection and return the value of the sample
 * whose name (with labels, exactly as exposed) is `name`; -1 if absent. */
static inline double bu_metric_from(const char *text, const char *name)
{
    size_t nl = strlen(name);
    const char *p = text;
    while (p && *p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
            return strtod(p + nl + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

typedef struct bu_metrics {
    double fsyncs, fsync_s, log_bytes, log_records, positions_applied, positions_stale, state_bytes;
    double snapshots, loads, deadline_kills, connections_total;
} bu_metrics;

static inline int bu_metrics_get(int port, bu_metrics *m)
{
    bu_conn c = {.fd = -1};
    bu_resp r;
    int rc = -1;
    if (bu_conn_open(&c, port) != 0)
        return -1;
    if (bu_request(&c, "GET", "/metrics", NULL, NULL, NULL, 0, &r) == 0 && r.status == 200) {
        m->fsyncs = bu_metric_from(r.body, "freightd_log_fsyncs_total");
        m->fsync_s = bu_metric_from(r.body, "freightd_log_fsync_seconds_total");
        m->log_bytes = bu_metric_from(r.body, "freightd_log_bytes_total");
        m->log_records = bu_metric_from(r.body, "freightd_log_records_total");
        m->positions_applied = bu_metric_from(r.body, "freightd_positions_total{result=\"applied\"}");
        m->positions_stale = bu_metric_from(r.body, "freightd_positions_total{result=\"stale\"}");
        m->state_bytes = bu_metric_from(r.body, "freightd_state_bytes");
        m->snapshots = bu_metric_from(r.body, "freightd_snapshots_total");
        m->loads = bu_metric_from(r.body, "freightd_objects{kind=\"load\"}");
        m->deadline_kills = bu_metric_from(r.body, "freightd_http_deadline_kills_total");
        m->connections_total = bu_metric_from(r.body, "freightd_http_connections_total");
        rc = 0;
    }
    bu_conn_free(&c);
    return rc;
}

/* One metric by name, e.g. "freightd_objects{kind=\"driver\"}". */
static inline double bu_metric_get(int port, const char *name)
{
    bu_conn c = {.fd = -1};
    bu_resp r;
    double v = -1;
    if (bu_conn_open(&c, port) != 0)
        return -1;
    if (bu_request(&c, "GET", "/metrics", NULL, NULL, NULL, 0, &r) == 0 && r.status == 200)
        v = bu_metric_from(r.body, name);
    bu_conn_free(&c);
    return v;
}

/* ------------------------------------------------------------------ */
/* The server as a child process                                       */
/* ------------------------------------------------------------------ */

typedef struct bu_server {
    pid_t pid;
    int out_fd;        /* read end of the child's stdout */
    int port;
    double ready_ms;   /* from just before fork+exec to the ready line */
    char log_path[PATH_MAX]; /* the child's stderr */
} bu_server;

/* Prints the last lines of the server's log (its stderr) to our stderr. */
static inline void bu_server_log_tail(const bu_server *s, int lines)
{
    char buf[8192];
    FILE *f = fopen(s->log_path, "r");
    long size;
    size_t n;
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0, SEEK_SET);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = buf + n;
    int seen = 0;
    while (p > buf && seen <= lines)
        if (*--p == '\n')
            seen++;
    fprintf(stderr, "--- last lines of %s ---\n%s\n", s->log_path, p);
}

/*
 * Starts `freightd_bin` with args (a NULL-terminated list, argv[0]
 * excluded), stdout to a pipe and stderr appended to log_path, and waits up
 * to timeout_s for its "freightd ready: ... (port N) ..." line.  Returns 0
 * with s filled (pid, port, ready_ms), or -1 (the child is reaped and its
 * log's tail printed).
 */
static inline int bu_server_start(bu_server *s, const char *freightd_bin, const char *const *args,
                                  const char *log_path, int timeout_s)
{
    int pfd[2];
    const char *argv[64];
    int argc = 0;
    char line[4096];
    size_t ll = 0;
    uint64_t t0;

    memset(s, 0, sizeof(*s));
    s->pid = -1;
    bu_pathf(s->log_path, sizeof(s->log_path), "%s", log_path);
    argv[argc++] = freightd_bin;
    for (int i = 0; args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    t0 = bu_now_ns();
    s->pid = fork();
    if (s->pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (s->pid == 0) {
        int lfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(pfd[1], 1);
        if (lfd >= 0)
            dup2(lfd, 2);
        execv(freightd_bin, (char *const *)argv);
        fprintf(stderr, "bench: cannot exec %s: %s\n", freightd_bin, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    s->out_fd = pfd[0];
    for (;;) {
        struct pollfd p = {s->out_fd, POLLIN, 0};
        int64_t left_ms = (int64_t)timeout_s * 1000 - (int64_t)((bu_now_ns() - t0) / 1000000);
        ssize_t r;
        if (left_ms <= 0) {
            fprintf(stderr, "bench: freightd did not say ready within %d s\n", timeout_s);
            goto fail;
        }
        if (poll(&p, 1, (int)left_ms) <= 0)
            continue;
        r = read(s->out_fd, line + ll, sizeof(line) - 1 - ll);
        if (r <= 0) {
            fprintf(stderr, "bench: freightd exited before it was ready\n");
            goto fail;
        }
        ll += (size_t)r;
        line[ll] = '\0';
        char *nl = strchr(line, '\n');
        if (nl) {
            uint64_t t1 = bu_now_ns();
            char *pp = strstr(line, "(port ");
            if (strncmp(line, "freightd ready:", 15) != 0 || !pp) {
                fprintf(stderr, "bench: unexpected first line from freightd: %s", line);
                goto fail;
            }
            s->port = atoi(pp + 6);
            s->ready_ms = (double)(t1 - t0) / 1e6;
            return 0;
        }
        if (ll >= sizeof(line) - 1) {
            fprintf(stderr, "bench: freightd's first line is too long\n");
            goto fail;
        }
    }
fail:
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    close(s->out_fd);
    bu_server_log_tail(s, 15);
    s->pid = -1;
    return -1;
}

/* SIGTERM, then wait (SIGKILL after timeout_s).  Returns the ms it took to
 * exit, or -1 if it had to be killed or exited non-zero. */
static inline double bu_server_stop(bu_server *s, int timeout_s)
{
    uint64_t t0 = bu_now_ns();
    int status = 0;
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    for (;;) {
        pid_t w = waitpid(s->pid, &status, WNOHANG);
        if (w == s->pid)
            break;
        if (w < 0 && errno != EINTR)
            break;
        if (bu_now_ns() - t0 > (uint64_t)timeout_s * 1000000000ull) {
            fprintf(stderr, "bench: freightd %d did not stop within %d s of SIGTERM; killing it\n", (int)s->pid,
                    timeout_s);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            status = -1;
            break;
        }
        bu_sleep_ms(5);
    }
    close(s->out_fd);
    s->pid = -1;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return (double)(bu_now_ns() - t0) / 1e6;
}

/* VmRSS and VmHWM (peak resident) of pid in kB from /proc; -1 if unreadable. */
static inline int bu_rss_kb(pid_t pid, long *rss_kb, long *hwm_kb)
{
    char path[64], line[256];
    FILE *f;
    *rss_kb = *hwm_kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss_kb = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm_kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return *rss_kb >= 0 ? 0 : -1;
}

/* Rss and Pss of pid in kB from /proc/PID/smaps_rollup (Pss splits pages
 * shared with a forked snapshot child between the two); -1 if unreadable. */
static inline int bu_pss_kb(pid_t pid, long *rss_kb, long *pss_kb)
{
    char path[64], line[256];
    FILE *f;
    *rss_kb = *pss_kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "Rss:", 4) == 0)
            *rss_kb = strtol(line + 4, NULL, 10);
        else if (strncmp(line, "Pss:", 4) == 0)
            *pss_kb = strtol(line + 4, NULL, 10);
    }
    fclose(f);
    return *pss_kb >= 0 ? 0 : -1;
}

/* The children of pid (freightd's snapshot child while one runs); returns
 * how many were put in out (at most max). */
static inline int bu_children(pid_t pid, pid_t *out, int max)
{
    char path[64], buf[512];
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL && n < max) {
        pid_t c = (pid_t)atoi(de->d_name);
        FILE *f;
        size_t k;
        if (c <= 0 || c == pid)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)c);
        if (!(f = fopen(path, "r")))
            continue;
        k = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[k] = '\0';
        char *p = strrchr(buf, ')');
        long pp;
        if (p && sscanf(p + 2, "%*c %ld", &pp) == 1 && pp == (long)pid)
            out[n++] = c;
    }
    closedir(d);
    return n;
}

/* Per-thread run time of pid's threads named like `prefix` (libmicrohttpd
 * names its pool threads "MHD-worker"), from /proc/PID/task/TID/schedstat.
 * Fills tids[] and run_ns[] (room for max); returns how many. */
static inline int bu_thread_runtimes(pid_t pid, const char *prefix, pid_t *tids, uint64_t *run_ns, int max)
{
    char path[128], comm[64];
    DIR *d;
    struct dirent *de;
    int n = 0;
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if (!(d = opendir(path)))
        return 0;
    while ((de = readdir(d)) != NULL && n < max) {
        pid_t t = (pid_t)atoi(de->d_name);
        FILE *f;
        unsigned long long ns;
        if (t <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)t);
        if (!(f = fopen(path, "r")))
            continue;
        if (!fgets(comm, sizeof(comm), f))
            comm[0] = '\0';
        fclose(f);
        if (strncmp(comm, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)t);
        if (!(f = fopen(path, "r")))
            continue;
        if (fscanf(f, "%llu", &ns) == 1) {
            tids[n] = t;
            run_ns[n] = ns;
            n++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Fields 14-17 of /proc/PID/stat (utime, stime, cutime, cstime) and 4
 * (ppid), in clock ticks; -1 if unreadable. */
static inline int bu__stat(pid_t pid, long *ppid, unsigned long long *self, unsigned long long *reaped)
{
    char path[64], buf[2048];
    FILE *f;
    size_t n;
    unsigned long long ut, st;
    long long cut, cst;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which may hold spaces) start after ')'. */
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", ppid, &ut, &st, &cut,
                     &cst) != 5)
        return -1;
    *self = ut + st;
    *reaped = (unsigned long long)(cut + cst);
    return 0;
}

/* CPU seconds used by pid, its reaped children and its live children
 * (freightd's snapshot child does its work in a forked process). */
static inline double bu_cpu_s(pid_t pid)
{
    unsigned long long self, reaped, total;
    long ppid;
    DIR *d;
    struct dirent *de;
    if (bu__stat(pid, &ppid, &self, &reaped) != 0)
        return -1;
    total = self + reaped;
    if ((d = opendir("/proc")) != NULL) {
        while ((de = readdir(d)) != NULL) {
            unsigned long long cs, cr;
            long cp;
            pid_t c = (pid_t)atoi(de->d_name);
            if (c > 0 && c != pid && bu__stat(c, &cp, &cs, &cr) == 0 && cp == (long)pid)
                total += cs + cr;
        }
        closedir(d);
    }
    return (double)total / (double)sysconf(_SC_CLK_TCK);
}

/* Busy CPU seconds of the whole machine (all cpus), from /proc/stat. */
static inline double bu_machine_busy_s(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
               &v[7]) != 8) {
        fclose(f);
        return -1;
    }
    fclose(f);
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* ------------------------------------------------------------------ */
/* Closed-loop load: C connections, each sending its next request as   */
/* soon as the previous answer is in                                   */
/* ------------------------------------------------------------------ */

/* Sends request number seq (0, 1, 2, ... across all connections) on c for
 * connection conn.  Returns 0 when the server did what was asked, with
 * *items set to what the request achieved (positions accepted, loads
 * created) and *rejected to items it refused; -1 on failure. */
typedef int (*bu_request_fn)(void *ctx, int conn, uint64_t seq, bu_conn *c, uint64_t *items, uint64_t *rejected);

typedef struct bu_window {
    double seconds;                 /* length of the measured window */
    uint64_t requests, items, rejected, errors; /* completed inside the window */
    bu_lat lat;                     /* latency of requests completed inside it */
    bu_metrics m0, m1;              /* /metrics scraped at its start and end */
    double server_cpu, client_cpu;  /* cores used on average (server: with its snapshot children) */
    double other_cpu;               /* cores used by every other process: noise from outside */
    long rss_kb, hwm_kb;            /* the server's VmRSS and VmHWM at its end */
    long peak_rss_kb;               /* the server's largest VmRSS seen (sampled every 200 ms) */
    long peak_total_pss_kb;         /* largest Pss of the server plus its children (a snapshot) */
    long peak_total_rss_kb;         /* ... and their Rss, at that moment */
    int snapshot_samples, samples;  /* samples that saw a snapshot child, of all */
    int workers, workers_busy;      /* libmicrohttpd pool threads, and how many ran >= 1% of the window */
    double worker_share[64];        /* the busy ones' run time, as a share of the window, largest first */
} bu_window;

typedef struct bu__sampler {
    pthread_t thread;
    pid_t pid;
    int stop;
    bu_window *out;
} bu__sampler;

/* Samples the server's memory, and its snapshot child's, every 200 ms. */
static inline void *bu__sampler_main(void *arg)
{
    bu__sampler *sm = arg;
    while (!__atomic_load_n(&sm->stop, __ATOMIC_ACQUIRE)) {
        pid_t kids[8];
        long rss, pss, hwm, total_pss = 0, total_rss = 0;
        int nk = bu_children(sm->pid, kids, 8);
        if (bu_rss_kb(sm->pid, &rss, &hwm) == 0 && rss > sm->out->peak_rss_kb)
            sm->out->peak_rss_kb = rss;
        if (bu_pss_kb(sm->pid, &rss, &pss) == 0) {
            total_pss += pss;
            total_rss += rss;
        }
        for (int i = 0; i < nk; i++)
            if (bu_pss_kb(kids[i], &rss, &pss) == 0) {
                total_pss += pss;
                total_rss += rss;
            }
        if (total_pss > sm->out->peak_total_pss_kb) {
            sm->out->peak_total_pss_kb = total_pss;
            sm->out->peak_total_rss_kb = total_rss;
        }
        sm->out->samples++;
        sm->out->snapshot_samples += nk > 0;
        bu_sleep_ms(200);
    }
    return NULL;
}

typedef struct bu__worker {
    pthread_t thread;
    int index, port;
    bu_request_fn fn;
    void *ctx;
    uint64_t *next_seq, max_requests;
    int *phase;
    uint64_t requests, items, rejected, errors; /* atomics */
    bu_lat lat;
    bu_conn conn; /* opened before the run; the worker owns it from its start */
} bu__worker;

#define BU_PHASE_WARMUP 0
#define BU_PHASE_MEASURE 1
#define BU_PHASE_STOP 2

static inline void *bu__worker_main(void *arg)
{
    bu__worker *w = arg;
    bu_conn c = w->conn;
    while (__atomic_load_n(w->phase, __ATOMIC_ACQUIRE) != BU_PHASE_STOP) {
        uint64_t seq = __atomic_fetch_add(w->next_seq, 1, __ATOMIC_RELAXED), items = 0, rejected = 0, t0, t1;
        int rc;
        if (w->max_requests && seq >= w->max_requests)
            break;
        t0 = bu_now_ns();
        rc = w->fn(w->ctx, w->index, seq, &c, &items, &rejected);
        t1 = bu_now_ns();
        if (rc != 0) {
            __atomic_add_fetch(&w->errors, 1, __ATOMIC_RELAXED);
            if (c.fd < 0)
                bu_sleep_ms(100); /* the connection failed; do not spin if the server is gone */
            continue;
        }
        __atomic_add_fetch(&w->items, items, __ATOMIC_RELAXED);
        __atomic_add_fetch(&w->rejected, rejected, __ATOMIC_RELAXED);
        __atomic_add_fetch(&w->requests, 1, __ATOMIC_RELEASE);
        if (w->max_requests || __atomic_load_n(w->phase, __ATOMIC_ACQUIRE) == BU_PHASE_MEASURE)
            bu_lat_add(&w->lat, t1 - t0);
    }
    bu_conn_free(&c);
    return NULL;
}

static inline void bu__sum(bu__worker *ws, int n, uint64_t v[4])
{
    v[0] = v[1] = v[2] = v[3] = 0;
    for (int i = 0; i < n; i++) {
        v[0] += __atomic_load_n(&ws[i].requests, __ATOMIC_ACQUIRE);
        v[1] += __atomic_load_n(&ws[i].items, __ATOMIC_RELAXED);
        v[2] += __atomic_load_n(&ws[i].rejected, __ATOMIC_RELAXED);
        v[3] += __atomic_load_n(&ws[i].errors, __ATOMIC_RELAXED);
    }
}

static inline double bu__client_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* Starts `perf record -g -p PID -o FILE -- sleep T` in the background;
 * returns its pid, or -1. */
static inline pid_t bu_perf_start(const char *out, pid_t target, double seconds)
{
    char pid_s[32], secs[32];
    pid_t p;
    snprintf(pid_s, sizeof(pid_s), "%d", (int)target);
    snprintf(secs, sizeof(secs), "%.1f", seconds);
    fflush(stdout);
    fflush(stderr);
    p = fork();
    if (p == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        execlp("perf", "perf", "record", "-g", "-q", "-p", pid_s, "-o", out, "--", "sleep", secs, (char *)NULL);
        fprintf(stderr, "bench: cannot run perf: %s\n", strerror(errno));
        _exit(127);
    }
    return p;
}

/*
 * Runs `connections` client threads against srv, each on its own
 * keep-alive connection calling fn for request after request.
 *
 * With connect_gap_ms > 0 the connections are opened first, one at a time
 * and that many ms apart; with 0 each thread connects as it starts.
 * Either way libmicrohttpd pins each connection to whichever pool thread
 * accepted it, and a pool thread serves its connections one request at a
 * time (a write blocks in it until its fsync), so throughput depends on how
 * many distinct pool threads the connections landed on.  That varies from
 * run to run; the window reports it (workers_busy).
 *
 * Timed mode (max_requests 0): warm up for warmup_s, then measure for
 * seconds; the window counts requests that complete inside it, and the
 * /metrics scrapes, CPU and memory readings bracket it.  With perf_out,
 * `perf record -g` samples the server during the window.
 *
 * Counted mode (max_requests > 0): send exactly that many requests (seq 0
 * to max_requests - 1) as fast as the connections go; the window is the
 * whole run.
 */
static inline void bu_run(bu_server *srv, int connections, unsigned connect_gap_ms, double warmup_s, double seconds,
                          uint64_t max_requests, bu_request_fn fn, void *ctx, const char *perf_out, bu_window *out)
{
    bu__worker *ws = calloc((size_t)connections, sizeof(*ws));
    uint64_t next_seq = 0, v0[4], v1[4], t0, t1;
    int phase = max_requests ? BU_PHASE_MEASURE : BU_PHASE_WARMUP;
    double scpu0, ccpu0, mbusy0, secs;
    pid_t perf_pid = -1;
    bu__sampler sm = {.pid = srv->pid, .out = out};
    pid_t tids0[256], tids1[256];
    uint64_t run0[256], run1[256];
    int nt0, nt1;

    if (!ws)
        bu_die("out of memory");
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < connections; i++) {
        ws[i].index = i;
        ws[i].port = srv->port;
        ws[i].fn = fn;
        ws[i].ctx = ctx;
        ws[i].next_seq = &next_seq;
        ws[i].max_requests = max_requests;
        ws[i].phase = &phase;
        ws[i].conn.fd = -1;
        ws[i].conn.port = srv->port;
        /* Connections open one at a time, connect_gap_ms apart, as
         * independent clients would; see bu_run's comment. */
        if (connect_gap_ms > 0) {
            if (bu_conn_open(&ws[i].conn, srv->port) != 0)
                bu_die("%s", ws[i].conn.err);
            bu_sleep_ms(connect_gap_ms);
        }
    }
    if (!max_requests) {
        for (int i = 0; i < connections; i++)
            if (pthread_create(&ws[i].thread, NULL, bu__worker_main, &ws[i]) != 0)
                bu_die("cannot start client thread %d", i);
        bu_sleep_ms((unsigned)(warmup_s * 1000));
    }
    if (bu_metrics_get(srv->port, &out->m0) != 0)
        bu_die("cannot read /metrics");
    scpu0 = bu_cpu_s(srv->pid);
    ccpu0 = bu__client_cpu_s();
    mbusy0 = bu_machine_busy_s();
    nt0 = bu_thread_runtimes(srv->pid, "MHD-worker", tids0, run0, 256);
    t0 = bu_now_ns();
    bu__sum(ws, connections, v0);
    __atomic_store_n(&phase, BU_PHASE_MEASURE, __ATOMIC_RELEASE);
    if (perf_out)
        perf_pid = bu_perf_start(perf_out, srv->pid, seconds);
    if (pthread_create(&sm.thread, NULL, bu__sampler_main, &sm) != 0)
        bu_die("cannot start the memory sampler");
    if (!max_requests) {
        bu_sleep_ms((unsigned)(seconds * 1000));
        bu__sum(ws, connections, v1);
        t1 = bu_now_ns();
        __atomic_store_n(&phase, BU_PHASE_STOP, __ATOMIC_RELEASE);
    } else {
        for (int i = 0; i < connections; i++)
            if (pthread_create(&ws[i].thread, NULL, bu__worker_main, &ws[i]) != 0)
                bu_die("cannot start client thread %d", i);
        for (int i = 0; i < connections; i++)
            pthread_join(ws[i].thread, NULL);
        bu__sum(ws, connections, v1);
        t1 = bu_now_ns();
    }
    secs = (double)(t1 - t0) / 1e9;
    nt1 = bu_thread_runtimes(srv->pid, "MHD-worker", tids1, run1, 256);
    out->workers = nt1;
    for (int i = 0; i < nt1; i++)
        for (int j = 0; j < nt0; j++)
            if (tids1[i] == tids0[j]) {
                double share = (double)(run1[i] - run0[j]) / (secs * 1e9);
                if (share >= 0.01 && out->workers_busy < 64) {
                    int k = out->workers_busy++;
                    while (k > 0 && out->worker_share[k - 1] < share) {
                        out->worker_share[k] = out->worker_share[k - 1];
                        k--;
                    }
                    out->worker_share[k] = share;
                }
            }
    __atomic_store_n(&sm.stop, 1, __ATOMIC_RELEASE);
    pthread_join(sm.thread, NULL);
    out->server_cpu = (bu_cpu_s(srv->pid) - scpu0) / secs;
    out->client_cpu = (bu__client_cpu_s() - ccpu0) / secs;
    out->other_cpu = (bu_machine_busy_s() - mbusy0) / secs - out->server_cpu - out->client_cpu;
    if (out->other_cpu < 0)
        out->other_cpu = 0;
    bu_rss_kb(srv->pid, &out->rss_kb, &out->hwm_kb);
    if (!max_requests)
        for (int i = 0; i < connections; i++)
            pthread_join(ws[i].thread, NULL);
    if (bu_metrics_get(srv->port, &out->m1) != 0)
        bu_die("cannot read /metrics");
    if (perf_pid > 0)
        waitpid(perf_pid, NULL, 0);
    out->seconds = secs;
    out->requests = v1[0] - v0[0];
    out->items = v1[1] - v0[1];
    out->rejected = v1[2] - v0[2];
    out->errors = v1[3] - v0[3];
    for (int i = 0; i < connections; i++) {
        bu_lat_merge(&out->lat, &ws[i].lat);
        bu_lat_free(&ws[i].lat);
    }
    free(ws);
}

/* The fsync lines every write benchmark prints. */
static inline void bu_print_fsyncs(const bu_window *w, const char *item_name)
{
    double fs = w->m1.fsyncs - w->m0.fsyncs;
    printf("  fsyncs                 %.0f in the window (%.1f/s, %.2f ms each on average)\n", fs, fs / w->seconds,
           fs > 0 ? (w->m1.fsync_s - w->m0.fsync_s) * 1e3 / fs : 0.0);
    printf("  per fsync              %.1f %s, %.2f requests\n", fs > 0 ? (double)w->items / fs : 0.0, item_name,
           fs > 0 ? (double)w->requests / fs : 0.0);
    printf("  log                    %.1f MB written (%.1f MB/s), %.0f records; %.0f snapshots finished meanwhile\n",
           (w->m1.log_bytes - w->m0.log_bytes) / 1e6, (w->m1.log_bytes - w->m0.log_bytes) / 1e6 / w->seconds,
           w->m1.log_records - w->m0.log_records, w->m1.snapshots - w->m0.snapshots);
}

/* The line naming the perf recording, when there is one. */
static inline void bu_print_perf(const char *perf_out)
{
    if (perf_out)
        printf("  perf                   recorded into %s (perf report --stdio -i %s)\n", perf_out, perf_out);
}

static inline void bu_print_resources(const bu_window *w)
{
    printf("  server threads         %d of %d libmicrohttpd workers ran >= 1%% of the window (run time:", w->workers_busy,
           w->workers);
    for (int i = 0; i < w->workers_busy; i++)
        printf(" %.0f%%", w->worker_share[i] * 100);
    printf(")\n");
    if (w->m1.deadline_kills > w->m0.deadline_kills)
        printf("  connections cut        %.0f by the server's request deadline during the window\n",
               w->m1.deadline_kills - w->m0.deadline_kills);
    printf("  CPU                    freightd %.2f cores (with snapshot children), bench client %.2f, other "
           "processes %.2f (of %ld)\n",
           w->server_cpu, w->client_cpu, w->other_cpu, sysconf(_SC_NPROCESSORS_ONLN));
    printf("  freightd memory        VmRSS %.0f MB, VmHWM %.0f MB at the end (state %.0f MB per /metrics)\n",
           (double)w->rss_kb / 1024, (double)w->hwm_kb / 1024, w->m1.state_bytes / 1048576.0);
    printf("  memory peak            VmRSS %.0f MB; with its snapshot child %.0f MB Pss (%.0f MB Rss summed); a "
           "snapshot child ran in %d of %d samples\n",
           (double)w->peak_rss_kb / 1024, (double)w->peak_total_pss_kb / 1024, (double)w->peak_total_rss_kb / 1024,
           w->snapshot_samples, w->samples);
}

/* ------------------------------------------------------------------ */
/* Data dirs                                                           */
/* ------------------------------------------------------------------ */

static inline int bu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Runs argv (argv[0] a path) and waits; returns its exit status or -1. */
static inline int bu_exec_wait(const char *const *argv)
{
    int status;
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "bench: cannot exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Makes sure dir holds a bulkloaded state: runs `freight bulkload` when dir
 * does not exist.  A dir that exists without bench-tokens.json is refused. */
static inline void bu_ensure_bulkload(const char *freight_bin, const char *dir, double scale)
{
    char tokens[PATH_MAX], sc[32];
    bu_pathf(tokens, sizeof(tokens), "%s/bench-tokens.json", dir);
    if (bu_exists(tokens))
        return;
    if (bu_exists(dir))
        bu_die("%s exists but holds no bench-tokens.json: give a bulkloaded dir or a path that does not exist", dir);
    snprintf(sc, sizeof(sc), "%g", scale);
    printf("no state in %s: running %s bulkload --data-dir %s --scale %s\n", dir, freight_bin, dir, sc);
    uint64_t t0 = bu_now_ns();
    const char *argv[] = {freight_bin, "bulkload", "--data-dir", dir, "--scale", sc, NULL};
    if (bu_exec_wait(argv) != 0)
        bu_die("freight bulkload failed");
    printf("bulkload took %.1f s\n", (double)(bu_now_ns() - t0) / 1e9);
}

static inline int bu_copy_file(const char *from, const char *to)
{
    char buf[1 << 16];
    int in = open(from, O_RDONLY | O_CLOEXEC), out;
    ssize_t r;
    struct stat st;
    if (in < 0)
        return -1;
    fstat(in, &st);
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777);
    if (out < 0) {
        close(in);
        return -1;
    }
    while ((r = read(in, buf, sizeof(buf))) > 0) {
        char *p = buf;
        while (r > 0) {
            ssize_t w = write(out, p, (size_t)r);
            if (w < 0) {
                close(in);
                close(out);
                return -1;
            }
            p += w;
            r -= w;
        }
    }
    close(in);
    close(out);
    return r < 0 ? -1 : 0;
}

/* Copies the regular files of from/ into to/ (created 0700).  With
 * link_ok, files are hard-linked when possible: fine for snapshots, which
 * freightd never changes after writing them (it writes new ones under new
 * names and unlinks old ones).  Log segments are appended to, so they are
 * always copied. */
static inline int bu_copy_dir(const char *from, const char *to, int link_ok)
{
    DIR *d = opendir(from);
    struct dirent *de;
    char a[PATH_MAX], b[PATH_MAX];
    if (!d)
        return errno == ENOENT ? 0 : -1;
    if (mkdir(to, 0700) != 0 && errno != EEXIST) {
        closedir(d);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' || strcmp(de->d_name, "LOCK") == 0)
            continue;
        bu_pathf(a, sizeof(a), "%s/%s", from, de->d_name);
        bu_pathf(b, sizeof(b), "%s/%s", to, de->d_name);
        if (stat(a, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (link_ok && link(a, b) == 0)
            continue;
        if (bu_copy_file(a, b) != 0) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return 0;
}

/*
 * Makes a scratch copy of a bulkloaded dir next to it, so that a benchmark
 * never changes the national state it was given (positions and loads grow
 * the log; later runs and bench_restart need the snapshot alone).  Costs a
 * hard link of the snapshot plus a copy of the small files.  out gets the
 * path (PATH_MAX).
 */
static inline void bu_scratch_copy(const char *dir, char *out)
{
    char parent[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
    bu_pathf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    else if (slash)
        parent[1] = '\0';
    else
        snprintf(parent, sizeof(parent), ".");
    bu_pathf(out, PATH_MAX, "%s/fn-bench-scratch-XXXXXX", parent);
    if (!mkdtemp(out))
        bu_die("cannot create a scratch dir in %s: %s", parent, strerror(errno));
    if (bu_copy_dir(dir, out, 0) != 0)
        bu_die("cannot copy %s to %s: %s", dir, out, strerror(errno));
    bu_pathf(a, sizeof(a), "%s/snap", dir);
    bu_pathf(b, sizeof(b), "%s/snap", out);
    if (bu_copy_dir(a, b, 1) != 0)
        bu_die("cannot copy %s to %s: %s", a, b, strerror(errno));
    bu_pathf(a, sizeof(a), "%s/wal", dir);
    bu_pathf(b, sizeof(b), "%s/wal", out);
    if (bu_copy_dir(a, b, 0) != 0)
        bu_die("cannot copy %s to %s: %s", a, b, strerror(errno));
}

static inline int bu_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* rm -rf path (no symlinks followed). */
static inline void bu_rmtree(const char *path)
{
    if (bu_exists(path))
        nftw(path, bu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Bytes in the regular files of dir (not recursive). */
static inline uint64_t bu_dir_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    uint64_t total = 0;
    char p[PATH_MAX];
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        bu_pathf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.' && stat(p, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

/* ------------------------------------------------------------------ */
/* bench-tokens.json                                                   */
/* ------------------------------------------------------------------ */

typedef struct bu_member {
    uint64_t id;
    char *token;
} bu_member;

typedef struct bu_tokens {
    char *admin;
    bu_member *gateways, *companies, *drivers;
    size_t ngateways, ncompanies, ndrivers;
} bu_tokens;

static inline size_t bu_tokens_list(json_t *root, const char *key, bu_member **out)
{
    json_t *arr = json_object_get(root, key), *v;
    size_t i, n = json_is_array(arr) ? json_array_size(arr) : 0;
    *out = bu_xmalloc(n * sizeof(**out));
    json_array_foreach(arr, i, v) {
        json_t *id = json_object_get(v, "id"), *tok = json_object_get(v, "token");
        if (!json_is_integer(id) || !json_is_string(tok))
            bu_die("bench-tokens.json: %s[%zu] needs an integer id and a string token", key, i);
        (*out)[i].id = (uint64_t)json_integer_value(id);
        (*out)[i].token = strdup(json_string_value(tok));
    }
    return n;
}

/* Reads dir/bench-tokens.json (written by freight bulkload). */
static inline void bu_tokens_load(const char *dir, bu_tokens *t)
{
    char path[PATH_MAX];
    json_error_t err;
    json_t *root, *admin;
    bu_pathf(path, sizeof(path), "%s/bench-tokens.json", dir);
    root = json_load_file(path, 0, &err);
    if (!root)
        bu_die("cannot read %s: %s (line %d)", path, err.text, err.line);
    admin = json_object_get(root, "admin");
    t->admin = json_is_string(admin) ? strdup(json_string_value(admin)) : NULL;
    t->ngateways = bu_tokens_list(root, "gateways", &t->gateways);
    t->ncompanies = bu_tokens_list(root, "companies", &t->companies);
    t->ndrivers = bu_tokens_list(root, "drivers", &t->drivers);
    json_decref(root);
}

/* ------------------------------------------------------------------ */
/* Places                                                              */
/* ------------------------------------------------------------------ */

typedef struct bu_city {
    const char *name, *province;
    double lat, lon;
} bu_city;

/* Freight hubs across China (lat 18..54, lon 73..135), the fallback when
 * data/cn_cities.csv cannot be read. */
static const bu_city bu_cities[] = {
    {"Shanghai", "Shanghai", 31.23, 121.47},     {"Beijing", "Beijing", 39.90, 116.40},
    {"Guangzhou", "Guangdong", 23.13, 113.26},   {"Shenzhen", "Guangdong", 22.54, 114.06},
    {"Chengdu", "Sichuan", 30.66, 104.07},       {"Chongqing", "Chongqing", 29.56, 106.55},
    {"Wuhan", "Hubei", 30.59, 114.31},           {"Xi'an", "Shaanxi", 34.34, 108.94},
    {"Zhengzhou", "Henan", 34.75, 113.62},       {"Tianjin", "Tianjin", 39.13, 117.20},
    {"Hangzhou", "Zhejiang", 30.27, 120.16},     {"Nanjing", "Jiangsu", 32.06, 118.80},
    {"Shenyang", "Liaoning", 41.81, 123.43},     {"Harbin", "Heilongjiang", 45.80, 126.53},
    {"Changsha", "Hunan", 28.23, 112.94},        {"Jinan", "Shandong", 36.65, 117.12},
    {"Qingdao", "Shandong", 36.07, 120.38},      {"Kunming", "Yunnan", 25.04, 102.71},
    {"Guiyang", "Guizhou", 26.65, 106.63},       {"Nanning", "Guangxi", 22.82, 108.32},
    {"Lanzhou", "Gansu", 36.06, 103.83},         {"Urumqi", "Xinjiang", 43.83, 87.62},
    {"Hefei", "Anhui", 31.82, 117.23},           {"Fuzhou", "Fujian", 26.07, 119.30},
    {"Shijiazhuang", "Hebei", 38.04, 114.51},    {"Taiyuan", "Shanxi", 37.87, 112.55},
    {"Hohhot", "Inner Mongolia", 40.84, 111.75}, {"Nanchang", "Jiangxi", 28.68, 115.86},
};
#define BU_NCITIES (sizeof(bu_cities) / sizeof(bu_cities[0]))

/* Places are drawn the way `freight bulkload` draws them: a city of
 * data/cn_cities.csv (GeoNames) weighted by population, then a point at an
 * exponential distance of mean_km from it in a random direction, clamped to
 * the service area.  Without the file, the hubs above stand in, equally
 * weighted.  bu_places_load() runs once, before any thread starts. */
typedef struct bu_place_city {
    char name[64], province[32];
    double lat, lon, cum; /* cum: cumulative population share, ascending to 1 */
} bu_place_city;

static bu_place_city *bu__pc;
static size_t bu__npc;

static inline void bu_places_load(const char *bindir)
{
    char path[PATH_MAX + 32], line[512];
    double total = 0, acc = 0;
    size_t cap = 0;
    FILE *f;
    bu_pathf(path, sizeof(path), "%s/../data/cn_cities.csv", bindir);
    if (!(f = fopen(path, "r"))) {
        fprintf(stderr, "bench: %s not found; placing trucks and loads around %zu hubs instead\n", path,
                (size_t)BU_NCITIES);
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        char *fld[6], *save = NULL;
        int nf = 0;
        line[strcspn(line, "\r\n")] = '\0';
        for (char *t = strtok_r(line, ",", &save); t && nf < 6; t = strtok_r(NULL, ",", &save))
            fld[nf++] = t;
        if (nf != 6 || !strcmp(fld[0], "geonameid") || strpbrk(fld[1], "\"\\") || strpbrk(fld[2], "\"\\"))
            continue;
        if (bu__npc == cap) {
            cap = cap ? cap * 2 : 1024;
            bu__pc = bu_xrealloc(bu__pc, cap * sizeof(*bu__pc));
        }
        bu_place_city *c = &bu__pc[bu__npc++];
        snprintf(c->name, sizeof(c->name), "%.63s", fld[1]);
        snprintf(c->province, sizeof(c->province), "%.31s", fld[2]);
        c->lat = atof(fld[3]);
        c->lon = atof(fld[4]);
        c->cum = atof(fld[5]);
        total += c->cum;
    }
    fclose(f);
    if (total <= 0) {
        bu__npc = 0;
        return;
    }
    for (size_t i = 0; i < bu__npc; i++) {
        acc += bu__pc[i].cum;
        bu__pc[i].cum = acc / total;
    }
}

/* A random place; *city and *province (may be NULL) name the city it is near. */
static inline void bu_place(uint64_t *rng, double mean_km, double *lat, double *lon, const char **city,
                            const char **province)
{
    double clat, clon, d, a;
    const char *cn, *pn;
    if (bu__npc) {
        double u = bu_unit(rng);
        size_t lo = 0, hi = bu__npc - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (bu__pc[mid].cum > u)
                hi = mid;
            else
                lo = mid + 1;
        }
        clat = bu__pc[lo].lat;
        clon = bu__pc[lo].lon;
        cn = bu__pc[lo].name;
        pn = bu__pc[lo].province;
    } else {
        const bu_city *c = &bu_cities[bu_rand(rng) % BU_NCITIES];
        clat = c->lat;
        clon = c->lon;
        cn = c->name;
        pn = c->province;
    }
    d = -log(1.0 - bu_unit(rng)) * mean_km;
    a = bu_unit(rng) * 2 * M_PI;
    *lat = clat + d * cos(a) / 111.32;
    *lon = clon + d * sin(a) / (111.32 * cos(clat * M_PI / 180));
    *lat = *lat < 18.01 ? 18.01 : *lat > 53.99 ? 53.99 : *lat;
    *lon = *lon < 73.01 ? 73.01 : *lon > 134.99 ? 134.99 : *lon;
    if (city)
        *city = cn;
    if (province)
        *province = pn;
}

/* ------------------------------------------------------------------ */
/* A benchmark's server: bulkloaded dir -> scratch copy -> freightd    */
/* ------------------------------------------------------------------ */

typedef struct bu_setup {
    char bindir[PATH_MAX];
    char freightd[PATH_MAX + 16], freight[PATH_MAX + 16];
    char scratch[PATH_MAX];         /* the scratch copy the server runs on */
    char log[PATH_MAX + 32];        /* the server's stderr */
    bu_tokens tok;
    bu_server srv;
} bu_setup;

/* Finds bin/freightd and bin/freight next to the running program. */
static inline void bu_setup_paths(bu_setup *s)
{
    memset(s, 0, sizeof(*s));
    bu_self_dir(s->bindir, sizeof(s->bindir));
    bu_pathf(s->freightd, sizeof(s->freightd), "%s/freightd", s->bindir);
    bu_pathf(s->freight, sizeof(s->freight), "%s/freight", s->bindir);
}

/* Loads the city list, bulkloads data_dir if it does not exist, reads its
 * tokens, makes a scratch copy and starts freightd on it on a free port
 * with --rate-limit 0, --threads threads and any extra args
 * (NULL-terminated, may be NULL).  Dies when the server does not start. */
static inline void bu_setup_start(bu_setup *s, const char *data_dir, double scale, int threads,
                                  const char *const *extra)
{
    char threads_s[16];
    const char *args[48];
    int n = 0;
    bu_setup_paths(s);
    bu_places_load(s->bindir);
    bu_ensure_bulkload(s->freight, data_dir, scale);
    bu_tokens_load(data_dir, &s->tok);
    bu_scratch_copy(data_dir, s->scratch);
    bu_pathf(s->log, sizeof(s->log), "%s/freightd.log", s->scratch);
    snprintf(threads_s, sizeof(threads_s), "%d", threads);
    args[n++] = "--listen";
    args[n++] = "127.0.0.1:0";
    args[n++] = "--data-dir";
    args[n++] = s->scratch;
    args[n++] = "--rate-limit";
    args[n++] = "0";
    args[n++] = "--threads";
    args[n++] = threads_s;
    for (int i = 0; extra && extra[i] && n < 46; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    if (bu_server_start(&s->srv, s->freightd, args, s->log, 600) != 0) {
        bu_rmtree(s->scratch);
        bu_die("freightd did not start on a scratch copy of %s", data_dir);
    }
    printf("freightd pid %d on port %d, ready %.0f ms after exec; data dir %s (scratch copy of %s)\n",
           (int)s->srv.pid, s->srv.port, s->srv.ready_ms, s->scratch, data_dir);
    fflush(stdout);
}

/* Stops the server and removes the scratch copy unless keep. */
static inline void bu_setup_finish(bu_setup *s, int keep)
{
    if (s->srv.pid > 0 && bu_server_stop(&s->srv, 120) < 0)
        fprintf(stderr, "bench: freightd did not stop cleanly; see %s\n", s->log);
    if (keep)
        printf("kept scratch data dir %s\n", s->scratch);
    else
        bu_rmtree(s->scratch);
}

/* The lines every report ends with. */
static inline void bu_print_footer(const bu_setup *s, int argc, char **argv)
{
    bu_print_machine();
    bu_print_build(s->bindir);
    bu_print_command(argc, argv);
}

#endif
