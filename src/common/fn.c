/*
 * fn.c — the error table's lookups, clocks, logging and the allocation
 * policy declared in fn.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "fn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fn_err_info {
    int err;
    int status;
    const char *code;
    const char *msg;
};

static const struct fn_err_info fn_err_table[] = {
#define FN_ERR_ROW_(name, status, code, msg) {name, status, code, msg},
    FN_ERRORS(FN_ERR_ROW_)
#undef FN_ERR_ROW_
};

static const struct fn_err_info *fn_err_find(int err)
{
    if (err <= FN__EFIRST || err >= FN__ELAST)
        return NULL;
    return &fn_err_table[err - FN__EFIRST - 1];
}

const char *fn_strerror(int err)
{
    const struct fn_err_info *e = fn_err_find(err);
    if (err == FN_OK)
        return "success";
    return e ? e->msg : "unknown error";
}

const char *fn_errcode(int err)
{
    const struct fn_err_info *e = fn_err_find(err);
    return e ? e->code : "internal";
}

int fn_errstatus(int err)
{
    const struct fn_err_info *e = fn_err_find(err);
    return e ? e->status : 500;
}

int64_t fn_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

uint64_t fn_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void fn_cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

void fn_deadline_ms(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void fn_log(const char *fmt, ...)
{
    char when[32], line[2048];
    struct tm tm;
    time_t now = time(NULL);
    va_list ap;

    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One fprintf per line so that lines from different threads never interleave. */
    fprintf(stderr, "%s %s\n", when, line);
}

static void fn_oom(size_t n)
{
    fn_log("out of memory allocating %zu bytes; aborting (state is rebuilt from the log on restart)", n);
    abort();
}

void *fn_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        fn_oom(n);
    return p;
}

void *fn_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        fn_oom(n * size);
    return p;
}

void *fn_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        fn_oom(n);
    return q;
}

char *fn_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = fn_xmalloc(n);
    memcpy(p, s, n);
    return p;
}
