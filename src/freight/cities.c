/*
 * cities.c — reading data/cn_cities.csv and sampling by population.
 */
#include "freight/cities.h"
#include "common/fn.h"
#include "core/model.h"
#include "stats/regions.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *open_default(char *used, size_t usedsz)
{
    const char *env = getenv("FREIGHT_DATA");
    char exe[PATH_MAX];
    ssize_t n;
    FILE *f;
    if (env) { /* asked for: that file or an error, never another one */
        snprintf(used, usedsz, "%s/cn_cities.csv", env);
        return fopen(used, "r");
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(used, usedsz, "%s/../data/cn_cities.csv", dirname(exe));
        if ((f = fopen(used, "r")))
            return f;
    }
    snprintf(used, usedsz, "data/cn_cities.csv");
    return fopen(used, "r");
}

static void fill_cum(fn_cities *c, double total)
{
    double acc = 0;
    c->cum = fn_xmalloc(c->n * sizeof(double));
    for (size_t i = 0; i < c->n; i++) {
        acc += (double)c->v[i].population;
        c->cum[i] = acc / total;
    }
}

/* The table compiled into the binary (the same CSV, see
 * scripts/gen_cities_data.sh): what a binary run from outside the source
 * tree, or from a sanitizer build's own folder, samples from. */
static int load_builtin(fn_cities *c)
{
    double total = 0;
    c->n = fn_rg_city_count();
    c->v = fn_xmalloc(c->n * sizeof(*c->v));
    for (size_t i = 0; i < c->n; i++) {
        const fn_rg_city *r = fn_rg_city_at(i);
        fn_city *ci = &c->v[i];
        snprintf(ci->name, sizeof(ci->name), "%s", r->name);
        ci->province = fn_province_parse(fn_rg_province_name(r->province));
        ci->lat = r->lat;
        ci->lon = r->lon;
        ci->population = r->population;
        total += (double)r->population;
    }
    fill_cum(c, total);
    return 0;
}

int fn_cities_load(fn_cities *c, const char *path)
{
    char line[512], used[PATH_MAX + 32];
    FILE *f;
    size_t cap = 0, lineno = 0;
    double total = 0;

    memset(c, 0, sizeof(*c));
    if (path) {
        snprintf(used, sizeof(used), "%s", path);
        f = fopen(path, "r");
    } else {
        f = open_default(used, sizeof(used));
    }
    if (!f && !path && !getenv("FREIGHT_DATA"))
        return load_builtin(c);
    if (!f) {
        fprintf(stderr, "freight: cannot open the city list %s (set FREIGHT_DATA to the folder of cn_cities.csv)\n", used);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *fields[6], *save = NULL;
        int nf = 0;
        lineno++;
        if (lineno == 1)
            continue; /* header */
        line[strcspn(line, "\r\n")] = '\0';
        for (char *t = strtok_r(line, ",", &save); t && nf < 6; t = strtok_r(NULL, ",", &save))
            fields[nf++] = t;
        if (nf != 6) {
            fprintf(stderr, "freight: %s:%zu: expected 6 fields\n", used, lineno);
            fclose(f);
            fn_cities_free(c);
            return -1;
        }
        if (c->n == cap) {
            cap = cap ? cap * 2 : 1024;
            c->v = fn_xrealloc(c->v, cap * sizeof(*c->v));
        }
        fn_city *ci = &c->v[c->n++];
        snprintf(ci->name, sizeof(ci->name), "%s", fields[1]);
        ci->province = fn_province_parse(fields[2]);
        ci->lat = atof(fields[3]);
        ci->lon = atof(fields[4]);
        ci->population = strtoull(fields[5], NULL, 10);
        total += (double)ci->population;
    }
    fclose(f);
    if (c->n == 0 || total <= 0) {
        fprintf(stderr, "freight: %s holds no cities\n", used);
        return -1;
    }
    fill_cum(c, total);
    return 0;
}

void fn_cities_free(fn_cities *c)
{
    free(c->v);
    free(c->cum);
    memset(c, 0, sizeof(*c));
}

size_t fn_cities_pick(const fn_cities *c, double u)
{
    size_t lo = 0, hi = c->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int fn_pick_share(const double *share, int n, double u)
{
    double total = 0, acc = 0;
    for (int i = 0; i < n; i++)
        total += share[i];
    for (int i = 0; i < n; i++) {
        acc += share[i] / total;
        if (u < acc)
            return i;
    }
    return n - 1;
}
