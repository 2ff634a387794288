/*
 * progress.c — the progress bar.
 */
#include "freight/progress.h"
#include "common/fn.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void draw(fn_progress *p)
{
    int width = 30, pct = p->total ? (int)(100.0 * (double)p->done / (double)p->total) : 100;
    int fill = pct * width / 100;
    fprintf(stderr, "\r%-10s [", p->label);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%% %llu/%llu", pct, (unsigned long long)p->done, (unsigned long long)p->total);
    fflush(stderr);
}

void fn_progress_start(fn_progress *p, const char *label, uint64_t total)
{
    const char *env = getenv("FREIGHT_PROGRESS");
    p->label = label;
    p->total = total;
    p->done = 0;
    p->last_ns = 0;
    p->last_decile = -1;
    p->tty = env ? atoi(env) != 0 : isatty(2);
}

void fn_progress_set(fn_progress *p, uint64_t done)
{
    uint64_t now;
    p->done = done;
    if (!p->tty) {
        int decile = p->total ? (int)(10 * done / p->total) : 10;
        if (decile != p->last_decile) {
            p->last_decile = decile;
            fprintf(stderr, "%s: %d%%\n", p->label, decile * 10);
        }
        return;
    }
    now = fn_mono_ns();
    if (now - p->last_ns < 100000000ull)
        return;
    p->last_ns = now;
    draw(p);
}

void fn_progress_end(fn_progress *p)
{
    p->done = p->total;
    if (p->tty) {
        draw(p);
        fputc('\n', stderr);
    } else if (p->last_decile != 10) {
        fprintf(stderr, "%s: 100%%\n", p->label);
    }
}
