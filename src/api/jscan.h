/*
 * jscan.h — the two steps every hand-written JSON scanner here takes
 * (fastpos.c for position batches, decode_fast.c for dataset lines):
 * skip whitespace as jansson does, and take one expected character.
 */
#ifndef FN_JSCAN_H
#define FN_JSCAN_H

/* Advances *p past JSON whitespace (space, LF, CR, tab) before end. */
static inline void fn_js_ws(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t'))
        (*p)++;
}

/* Skips whitespace, then takes ch: returns 1 and moves past it, or 0. */
static inline int fn_js_eat(const char **p, const char *end, char ch)
{
    fn_js_ws(p, end);
    if (*p < end && **p == ch) {
        (*p)++;
        return 1;
    }
    return 0;
}

#endif
