/*
 * progress.h — a progress bar on stderr for long runs (only when stderr is
 * a terminal, or FREIGHT_PROGRESS=1; otherwise a line every 10%).
 */
#ifndef FN_PROGRESS_H
#define FN_PROGRESS_H

#include <stdint.h>

typedef struct fn_progress {
    const char *label;
    uint64_t total, done;
    uint64_t last_ns;
    int last_decile;
    int tty;
} fn_progress;

void fn_progress_start(fn_progress *p, const char *label, uint64_t total);
/* Sets the count done; redraws at most every 100 ms. */
void fn_progress_set(fn_progress *p, uint64_t done);
/* Draws 100% and ends the line. */
void fn_progress_end(fn_progress *p);

#endif
