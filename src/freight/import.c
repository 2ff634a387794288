/*
 * import.c — `freight import`: load a dataset (docs/dataset.md: a manifest
 * and companies / drivers / loads as JSON Lines) into a new freightd data
 * dir, offline, the way a database restores a dump.
 *
 * Every record is checked by the same code the API uses for the same body
 * (api/decode.c, through api/dataset.h), so a dataset can hold nothing the
 * API would refuse; lines as `freight gen` writes them take a fast decoder
 * held to the same rules (api/decode_fast.c), anything else jansson.  A bad
 * record is reported with its file, line and field, and skipped; nothing
 * imported before or after it is lost, and the command ends with status 1.
 * Loads refer to companies by their dataset id: a load whose company was
 * refused is refused too.
 *
 * Times in a dataset are absolute, from the manifest's "start"; unless
 * --no-rebase, every time is moved by (now - start), so a dataset made
 * last week still has its loads open and its trucks freshly reported.
 *
 * The state is built in memory through fn_state_apply (the function live
 * writes and recovery use) and written as the data dir's first snapshot,
 * with token.key, admin.token and bench-tokens.json as `freight bulkload`
 * writes them.
 *
 * Decoding lines is most of the work, so it runs on worker threads: the
 * main thread reads a file in blocks of whole lines (1 MB) into a ring of
 * slots, workers split a slot into lines, decode and check them (and make
 * the members' tokens), and the main thread applies finished slots
 * strictly in file order, giving ids and line numbers, so the result is
 * the same whatever the timing.
 */
#include "api/dataset.h"
#include "auth/token.h"
#include "common/buf.h"
#include "common/fn.h"
#include "core/records.h"
#include "core/state.h"
#include "freight/cmds.h"
#include "freight/datadir.h"
#include "freight/progress.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SHOW_ERRORS 50  /* errors printed in full; the rest are counted */
#define SLOTS 8          /* chunks in flight */
#define CHUNK_BYTES (1u << 20) /* bytes read into a slot at a time (whole lines) */

enum { COMPANIES, DRIVERS, LOADS };
static const char *const files[] = {"companies.jsonl", "drivers.jsonl", "loads.jsonl"};

/* One line, as a worker leaves it for the main thread. */
typedef struct item {
    fn_ds_rec r;               /* the decoded line; its strings live in the slot */
    char tok[FN_TOKEN_LEN + 1];
    uint8_t hash[FN_TOKEN_HASH_BYTES];
} item;

/* Parsed lines live in their slot's arena, a bump allocator reset when the
 * slot is filled again: one thread allocates and nobody frees piecemeal,
 * which spares the malloc contention of parsing on one thread and freeing
 * on another.  jansson's allocator is set once to these two functions;
 * outside a worker (the manifest, error bodies) they fall back to malloc. */
typedef struct arena {
    char **blocks;
    size_t nblocks, cur, used;
    char **big;                /* allocations too large for a block, freed at the reset */
    size_t nbig;
} arena;

#define ARENA_BLOCK (4u << 20)

static __thread arena *tls_arena;

/* Every allocation starts with 16 bytes saying where it came from: 0
 * malloc, 1 a block, 2 the big list.  A big value (a line of megabytes)
 * must not fail: when the string buffer of jansson's lexer could not grow,
 * json_loadb aborted with a double free (any line over 2 MB did). */
static void *jalloc(size_t n)
{
    arena *a = tls_arena;
    char *p;
    if (!a) {
        p = malloc(n + 16);
        if (p)
            p[0] = 0;
        return p ? p + 16 : NULL;
    }
    n = (n + 16 + 15) & ~(size_t)15;
    if (n > ARENA_BLOCK / 4) {
        a->big = fn_xrealloc(a->big, (a->nbig + 1) * sizeof(char *));
        p = a->big[a->nbig++] = fn_xmalloc(n);
        p[0] = 2;
        return p + 16;
    }
    if (a->nblocks == 0 || a->used + n > ARENA_BLOCK) {
        if (a->nblocks && a->cur + 1 < a->nblocks) {
            a->cur++;
        } else {
            a->blocks = fn_xrealloc(a->blocks, (a->nblocks + 1) * sizeof(char *));
            a->blocks[a->nblocks] = fn_xmalloc(ARENA_BLOCK);
            a->cur = a->nblocks++;
        }
        a->used = 0;
    }
    p = a->blocks[a->cur] + a->used;
    a->used += n;
    p[0] = 1;
    return p + 16;
}

static void jfree(void *p)
{
    char *c = p;
    if (c && c[-16] == 0)
        free(c - 16);
}

static void arena_reset(arena *a)
{
    for (size_t i = 0; i < a->nbig; i++)
        free(a->big[i]);
    a->nbig = 0;
    a->cur = 0;
    a->used = 0;
}

static void arena_free(arena *a)
{
    arena_reset(a);
    for (size_t i = 0; i < a->nblocks; i++)
        free(a->blocks[i]);
    free(a->blocks);
    free(a->big);
    memset(a, 0, sizeof(*a));
}

enum { FREE, READY, BUSY, DONE };

typedef struct slot {
    int state;
    uint64_t seq;              /* chunk number in the file */
    char *text;                /* whole lines, as read (the file's last may lack its newline) */
    char *strs;                /* the fast path's strings, line i's from strs + off[i] (cap bytes) */
    size_t len, cap;
    /* Set by the worker, which splits the text into lines: */
    size_t *off;               /* start of each line in text; off[n] = len */
    size_t n, ncap;            /* lines; room in off (ncap + 1) and items (ncap) */
    item *items;
    arena mem;                 /* the lines jansson parsed (those the fast path declined) */
} slot;

typedef struct importer importer;

typedef struct worker {
    importer *im;
    pthread_t t;
    fn_ds_decoder dec;
} worker;

struct importer {
    const char *dataset;
    fn_state *s;
    uint8_t key[FN_TOKEN_KEY_BYTES];
    int64_t now, shift;
    fn_area area;
    fn_buf rec, toks;
    uint64_t *company_key;     /* dataset company id -> state id, open addressing (key 0 = empty) */
    uint64_t *company_val;
    uint64_t company_cap, company_n; /* slots (a power of two), ids in the map */
    uint64_t last_id;          /* the previous record's dataset id in the current file */
    uint64_t ok[3], bad[3];
    uint64_t errors_shown;
    fn_position *pos;          /* positions waiting to be applied in one record */
    uint32_t npos;
    /* the pipeline */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot slots[SLOTS];
    int file;                  /* the file the slots hold */
    int stop;
    worker *workers;
    int nworkers;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: freight import --data-dir DIR [--gateways N] [--threads N] [--no-rebase] DATASET\n\n"
               "Loads a dataset written by `freight gen` (docs/dataset.md) into DIR, a new freightd\n"
               "data dir, as its first snapshot. Each record is checked as the API checks the same\n"
               "body; a bad one is reported as FILE:LINE: field: message and skipped, and the\n"
               "command exits 1 after importing everything else. Times are moved so that the\n"
               "dataset's start is now, unless --no-rebase. Writes DIR/bench-tokens.json with\n"
               "tokens for load generators (admin, gateways, the first companies and drivers).\n"
               "--threads N: threads parsing and checking lines (default 2).\n");
}

/* Reports a refused record: where, and why ("field: message (code)"). */
static void refuse(importer *im, int file, uint64_t line, const char *why)
{
    im->bad[file]++;
    if (++im->errors_shown > SHOW_ERRORS) {
        if (im->errors_shown == SHOW_ERRORS + 1)
            fprintf(stderr, "freight import: more errors follow; only their count is reported\n");
        return;
    }
    fprintf(stderr, "freight import: %s:%llu: %s\n", files[file], (unsigned long long)line, why);
}

static int apply(importer *im, int type)
{
    int rc = fn_state_apply(im->s, (uint8_t)type, im->rec.data, (uint32_t)im->rec.len);
    fn_buf_reset(&im->rec);
    if (rc != 0)
        fprintf(stderr, "freight import: internal error applying record type %d\n", type);
    return rc;
}

static int flush_positions(importer *im)
{
    if (!im->npos)
        return 0;
    fn_rec_positions(&im->rec, im->pos, im->npos);
    im->npos = 0;
    return apply(im, FN_REC_POSITIONS);
}

/* The state id of a dataset company id, 0 when it was not imported.  Ids
 * are arbitrary positive integers, so a hash map, not an array. */
static uint64_t company_slot(const importer *im, uint64_t id)
{
    uint64_t i = (id * 0x9E3779B97F4A7C15ull) & (im->company_cap - 1);
    while (im->company_key[i] && im->company_key[i] != id)
        i = (i + 1) & (im->company_cap - 1);
    return i;
}

static uint64_t company_get(const importer *im, uint64_t id)
{
    uint64_t i;
    if (!im->company_cap)
        return 0;
    i = company_slot(im, id);
    return im->company_key[i] == id ? im->company_val[i] : 0;
}

static void company_put(importer *im, uint64_t id, uint64_t state_id)
{
    uint64_t i;
    if (2 * (im->company_n + 1) > im->company_cap) {
        uint64_t *ok = im->company_key, *ov = im->company_val, oc = im->company_cap;
        im->company_cap = oc ? oc * 2 : 1024;
        im->company_key = fn_xcalloc(im->company_cap, sizeof(uint64_t));
        im->company_val = fn_xmalloc(im->company_cap * sizeof(uint64_t));
        for (uint64_t j = 0; j < oc; j++)
            if (ok[j]) {
                i = company_slot(im, ok[j]);
                im->company_key[i] = ok[j];
                im->company_val[i] = ov[j];
            }
        free(ok);
        free(ov);
    }
    i = company_slot(im, id);
    if (!im->company_key[i])
        im->company_n++;
    im->company_key[i] = id;
    im->company_val[i] = state_id;
}

static int company_known(const void *arg, int64_t id)
{
    return company_get(arg, (uint64_t)id) != 0;
}

/* ---- the workers: decode and check one line (api/dataset.h) ---- */

/* Decodes a line; a member's token (already in it->tok) is hashed.  The
 * companies were all applied before the first load was read, so
 * company_known only reads the map. */
static void check_line(worker *w, int file, const char *text, size_t len, char *strs, item *it)
{
    fn_ds_decode(&w->dec, file, text, len, strs, &it->r);
    if (it->r.ok && file != LOADS)
        fn_token_hash(w->im->key, it->tok, it->hash);
}

/* Finds the lines of a slot's text.  The main thread only reads blocks of
 * whole lines, so that the per-line work is all on the workers. */
static void split(slot *sl)
{
    const char *p = sl->text, *end = sl->text + sl->len;
    sl->n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (sl->n == sl->ncap) {
            sl->ncap = sl->ncap ? sl->ncap * 2 : 4096;
            sl->off = fn_xrealloc(sl->off, (sl->ncap + 1) * sizeof(size_t));
            sl->items = fn_xrealloc(sl->items, sl->ncap * sizeof(item));
        }
        sl->off[sl->n++] = (size_t)(p - sl->text);
        p = nl ? nl + 1 : end;
    }
    sl->off[sl->n] = sl->len;
}

/* An empty line is allowed (a trailing newline) and skipped. */
static int empty_line(const slot *sl, size_t i)
{
    return sl->off[i + 1] - sl->off[i] == 1 && sl->text[sl->off[i]] == '\n';
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    importer *im = w->im;
    pthread_mutex_lock(&im->mu);
    for (;;) {
        slot *sl = NULL;
        for (int i = 0; i < SLOTS; i++)
            if (im->slots[i].state == READY && (!sl || im->slots[i].seq < sl->seq))
                sl = &im->slots[i];
        if (!sl) {
            if (im->stop)
                break;
            pthread_cond_wait(&im->cv, &im->mu);
            continue;
        }
        sl->state = BUSY;
        pthread_mutex_unlock(&im->mu);
        arena_reset(&sl->mem);
        tls_arena = &sl->mem;
        split(sl);
        if (im->file != LOADS)
            fn_token_generate_n(sl->items[0].tok, sizeof(item), sl->n);
        for (size_t i = 0; i < sl->n; i++)
            if (!empty_line(sl, i))
                check_line(w, im->file, sl->text + sl->off[i], sl->off[i + 1] - sl->off[i], sl->strs + sl->off[i],
                           &sl->items[i]);
        tls_arena = NULL;
        pthread_mutex_lock(&im->mu);
        sl->state = DONE;
        pthread_cond_broadcast(&im->cv);
    }
    pthread_mutex_unlock(&im->mu);
    return NULL;
}

/* ---- the main thread: apply in file order ---- */

static int apply_item(importer *im, int file, uint64_t line, item *it)
{
    if (!it->r.ok) {
        refuse(im, file, line, it->r.err);
        return 0;
    }
    if ((uint64_t)it->r.id <= im->last_id) {
        refuse(im, file, line, "id: ids must increase from line to line (invalid_field)");
        return 0;
    }
    im->last_id = (uint64_t)it->r.id;
    if (file == COMPANIES) {
        it->r.c.id = fn_state_next_company_id(im->s);
        it->r.c.created_at = im->now;
        fn_rec_company_create(&im->rec, &it->r.c, it->hash);
        if (apply(im, FN_REC_COMPANY_CREATE) != 0)
            return -1;
        company_put(im, (uint64_t)it->r.id, it->r.c.id);
        if (it->r.c.id <= 1000)
            fn_buf_printf(&im->toks, "%s{\"id\": %llu, \"token\": \"%s\"}", it->r.c.id > 1 ? ", " : "",
                          (unsigned long long)it->r.c.id, it->tok);
    } else if (file == DRIVERS) {
        it->r.d.id = fn_state_next_driver_id(im->s);
        it->r.d.created_at = im->now;
        fn_rec_driver_create(&im->rec, &it->r.d, it->hash);
        if (apply(im, FN_REC_DRIVER_CREATE) != 0)
            return -1;
        if (it->r.has_pos) {
            it->r.pos.driver_id = it->r.d.id;
            im->pos[im->npos++] = it->r.pos;
            if (im->npos == 10000 && flush_positions(im) != 0)
                return -1;
        }
        if (it->r.offline) {
            if (flush_positions(im) != 0)
                return -1;
            fn_rec_driver_status(&im->rec, it->r.d.id, FN_DS_OFFLINE, im->now);
            if (apply(im, FN_REC_DRIVER_STATUS) != 0)
                return -1;
        }
        if (it->r.d.id <= 10000)
            fn_buf_printf(&im->toks, "%s{\"id\": %llu, \"token\": \"%s\"}", it->r.d.id > 1 ? ", " : "",
                          (unsigned long long)it->r.d.id, it->tok);
    } else {
        it->r.l.id = fn_state_next_load_id(im->s);
        it->r.l.company_id = company_get(im, (uint64_t)it->r.company);
        fn_rec_load_create(&im->rec, &it->r.l);
        if (apply(im, FN_REC_LOAD_CREATE) != 0)
            return -1;
    }
    im->ok[file]++;
    return 0;
}

/* The main thread's reading of one file: blocks cut after their last
 * newline, the rest carried over to the next block. */
typedef struct reader {
    FILE *f;
    char *carry;               /* the start of a line read but not yet handed out */
    size_t carry_len, carry_cap;
    int eof;
    uint64_t done;             /* bytes handed out */
} reader;

/* Fills a slot with whole lines (at least CHUNK_BYTES of them unless the
 * file ends first); returns the bytes, 0 at the end of the file. */
static size_t fill(slot *sl, reader *rd)
{
    char *nl;
    size_t scanned;
    /* Room for a carried line and a block, with slack: growing by the
     * carry's few bytes on every fill would move the buffers to fresh
     * pages each time, and the kernel's zeroing of them cost more than
     * the reading. */
    if (sl->cap < rd->carry_len + CHUNK_BYTES) {
        sl->cap = 2 * (rd->carry_len + CHUNK_BYTES);
        sl->text = fn_xrealloc(sl->text, sl->cap);
        sl->strs = fn_xrealloc(sl->strs, sl->cap);
    }
    if (rd->carry_len) /* carry is NULL before the first line is carried */
        memcpy(sl->text, rd->carry, rd->carry_len);
    sl->len = rd->carry_len;
    scanned = rd->carry_len; /* the carried part holds no newline */
    /* Read until the block holds a newline (a line may be longer than a
     * block) or the file ends. */
    for (;;) {
        size_t got = 0;
        if (!rd->eof) {
            if (sl->cap - sl->len < CHUNK_BYTES / 2) {
                sl->cap *= 2;
                sl->text = fn_xrealloc(sl->text, sl->cap);
                sl->strs = fn_xrealloc(sl->strs, sl->cap);
            }
            got = fread(sl->text + sl->len, 1, sl->cap - sl->len, rd->f);
            if (got == 0)
                rd->eof = 1;
            sl->len += got;
        }
        nl = sl->len > scanned ? memrchr(sl->text + scanned, '\n', sl->len - scanned) : NULL;
        if (nl || rd->eof)
            break;
        scanned = sl->len;
    }
    /* Without a newline at the end of the file, the rest is the last line;
     * else the bytes after the last newline go to the next block. */
    rd->carry_len = nl ? (size_t)(sl->text + sl->len - (nl + 1)) : 0;
    if (rd->carry_len) {
        if (rd->carry_cap < rd->carry_len) {
            rd->carry_cap = rd->carry_len * 2;
            rd->carry = fn_xrealloc(rd->carry, rd->carry_cap);
        }
        memcpy(rd->carry, nl + 1, rd->carry_len);
        sl->len -= rd->carry_len;
    }
    rd->done += sl->len;
    return sl->len;
}

/* One file through the pipeline.  Returns -1 only when the import cannot
 * go on. */
static int import_file(importer *im, int file)
{
    char path[4096];
    uint64_t next_read = 0, next_apply = 0, lineno = 1;
    struct stat st;
    fn_progress pg;
    reader rd = {0};
    FILE *f;
    int rc = 0, eof = 0;

    snprintf(path, sizeof(path), "%s/%s", im->dataset, files[file]);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "freight import: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    setvbuf(f, NULL, _IONBF, 0); /* blocks are read straight into the slots */
    rd.f = f;
    fstat(fileno(f), &st);
    fn_progress_start(&pg, files[file], (uint64_t)st.st_size);
    im->file = file;
    im->last_id = 0;
    while (rc == 0 && (!eof || next_apply < next_read)) {
        slot *sl;
        /* Keep every free slot filled. */
        while (!eof && next_read - next_apply < SLOTS) {
            sl = &im->slots[next_read % SLOTS];
            if (fill(sl, &rd) == 0) {
                eof = 1;
                break;
            }
            sl->seq = next_read++;
            pthread_mutex_lock(&im->mu);
            sl->state = READY;
            pthread_cond_broadcast(&im->cv);
            pthread_mutex_unlock(&im->mu);
        }
        if (next_apply == next_read)
            break;
        sl = &im->slots[next_apply % SLOTS];
        pthread_mutex_lock(&im->mu);
        while (sl->state != DONE)
            pthread_cond_wait(&im->cv, &im->mu);
        pthread_mutex_unlock(&im->mu);
        for (size_t i = 0; i < sl->n; i++, lineno++)
            if (rc == 0 && !empty_line(sl, i))
                rc = apply_item(im, file, lineno, &sl->items[i]);
        pthread_mutex_lock(&im->mu);
        sl->state = FREE;
        pthread_mutex_unlock(&im->mu);
        next_apply++;
        fn_progress_set(&pg, rd.done);
    }
    /* On an early stop, wait for the slots still being parsed. */
    for (; next_apply < next_read; next_apply++) {
        slot *sl = &im->slots[next_apply % SLOTS];
        pthread_mutex_lock(&im->mu);
        while (sl->state != DONE)
            pthread_cond_wait(&im->cv, &im->mu);
        sl->state = FREE;
        pthread_mutex_unlock(&im->mu);
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "freight import: reading %s failed: %s\n", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0)
        rc = flush_positions(im);
    fn_progress_end(&pg);
    free(rd.carry);
    fclose(f);
    return rc;
}

static void pipeline_start(importer *im, int nworkers)
{
    json_set_alloc_funcs(jalloc, jfree);
    pthread_mutex_init(&im->mu, NULL);
    pthread_cond_init(&im->cv, NULL);
    for (int i = 0; i < SLOTS; i++) {
    }
    im->workers = fn_xcalloc((size_t)nworkers, sizeof(worker));
    for (int i = 0; i < nworkers; i++) {
        worker *w = &im->workers[i];
        w->im = im;
        fn_ds_decoder_init(&w->dec, &(fn_ds_config){im->now, im->shift, im->area, company_known, im});
        if (pthread_create(&w->t, NULL, worker_main, w) != 0) {
            fprintf(stderr, "freight import: cannot start a worker thread\n");
            exit(1);
        }
        im->nworkers++;
    }
}

static void pipeline_stop(importer *im)
{
    pthread_mutex_lock(&im->mu);
    im->stop = 1;
    pthread_cond_broadcast(&im->cv);
    pthread_mutex_unlock(&im->mu);
    for (int i = 0; i < im->nworkers; i++) {
        pthread_join(im->workers[i].t, NULL);
        fn_ds_decoder_free(&im->workers[i].dec);
    }
    for (int i = 0; i < SLOTS; i++) {
        arena_free(&im->slots[i].mem);
        free(im->slots[i].text);
        free(im->slots[i].strs);
        free(im->slots[i].off);
        free(im->slots[i].items);
    }
    free(im->workers);
    pthread_cond_destroy(&im->cv);
    pthread_mutex_destroy(&im->mu);
}

/* The manifest's count of one file, 0 when it does not say. */
static uint64_t manifest_count(json_t *m, const char *key)
{
    json_t *v = json_object_get(json_object_get(m, "counts"), key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static int read_manifest(importer *im, int64_t *start, uint64_t *members)
{
    char path[4096];
    json_error_t jerr;
    json_t *m, *v;
    snprintf(path, sizeof(path), "%s/manifest.json", im->dataset);
    m = json_load_file(path, 0, &jerr);
    if (!m) {
        fprintf(stderr, "freight import: %s: %s (line %d)\n", path, jerr.text, jerr.line);
        return -1;
    }
    v = json_object_get(m, "format");
    if (!json_is_string(v) || strcmp(json_string_value(v), "freightnet-dataset/1") != 0) {
        fprintf(stderr, "freight import: %s: format must be \"freightnet-dataset/1\"\n", path);
        json_decref(m);
        return -1;
    }
    v = json_object_get(m, "start");
    if (!json_is_integer(v)) {
        fprintf(stderr, "freight import: %s: start must be a Unix time\n", path);
        json_decref(m);
        return -1;
    }
    *start = json_integer_value(v);
    *members = manifest_count(m, "companies") + manifest_count(m, "drivers");
    json_decref(m);
    return 0;
}

int fn_cmd_import(int argc, char **argv)
{
    const char *dir = NULL;
    long long n_gw = 4;
    int nworkers = 2;
    int rebase = 1, rc = 1;
    int64_t start = 0;
    uint64_t members = 0;
    uint64_t t0 = fn_mono_ns(), t_read = 0;
    fn_state_config cfg = {FN_AREA_CHINA, 1.3, 0.2};
    importer im;
    char err[512], tok[FN_TOKEN_LEN + 1], name[64];
    uint8_t hash[FN_TOKEN_HASH_BYTES];

    memset(&im, 0, sizeof(im));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-rebase")) {
            rebase = 0;
        } else if (a[0] != '-') {
            im.dataset = a;
        } else if (i + 1 < argc && !strcmp(a, "--data-dir")) {
            dir = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--gateways")) {
            n_gw = atoll(argv[++i]);
        } else if (i + 1 < argc && !strcmp(a, "--threads")) {
            nworkers = atoi(argv[++i]);
        } else {
            fprintf(stderr, "freight import: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (!dir || !im.dataset || n_gw < 1 || nworkers < 1 || nworkers > 64) {
        usage(stderr);
        return 2;
    }
    if (read_manifest(&im, &start, &members) != 0 || fn_token_init() != 0)
        return 1;
    if (fn_dd_create(dir, im.key, err, sizeof(err)) != 0) {
        fprintf(stderr, "freight import: %s\n", err);
        return 1;
    }
    im.now = fn_now_s();
    im.shift = rebase ? im.now - start : 0;
    im.s = fn_state_new(&cfg);
    im.area = fn_state_cfg(im.s)->area;
    /* The counts are a hint, and a manifest may lie: at most 8 M tokens'
     * worth (a 384 MB table) is reserved; beyond that the table grows. */
    fn_state_reserve_tokens(im.s, members < (8u << 20) ? members : (8u << 20));
    pipeline_start(&im, nworkers);
    fn_buf_init(&im.rec, 0);
    fn_buf_init(&im.toks, 0);
    im.pos = fn_xmalloc(10000 * sizeof(*im.pos));

    fn_token_generate(tok);
    if (fn_dd_write_file(dir, "admin.token", tok, strlen(tok), "\n", err, sizeof(err)) != 0) {
        fprintf(stderr, "freight import: %s\n", err);
        goto out;
    }
    fn_buf_printf(&im.toks, "{\n  \"admin\": \"%s\",\n  \"gateways\": [", tok);
    for (long long i = 1; i <= n_gw; i++) {
        fn_gateway g = {(uint64_t)i, name, im.now};
        snprintf(name, sizeof(name), "Telematics gateway %lld", i);
        fn_token_generate(tok);
        fn_token_hash(im.key, tok, hash);
        fn_rec_gateway_create(&im.rec, &g, hash);
        if (apply(&im, FN_REC_GATEWAY_CREATE) != 0)
            goto out;
        fn_buf_printf(&im.toks, "%s{\"id\": %lld, \"token\": \"%s\"}", i > 1 ? ", " : "", i, tok);
    }
    fn_buf_printf(&im.toks, "],\n  \"companies\": [");
    if (import_file(&im, COMPANIES) != 0)
        goto out;
    fn_buf_printf(&im.toks, "],\n  \"drivers\": [");
    if (import_file(&im, DRIVERS) != 0)
        goto out;
    fn_buf_printf(&im.toks, "]\n}\n");
    if (import_file(&im, LOADS) != 0)
        goto out;

    t_read = fn_mono_ns();
    fprintf(stderr, "writing the snapshot...\n");
    /* Level 1: half the compression time of level 3 for 9% more bytes
     * (291 vs 266 MB at scale 1), in a snapshot freightd replaces with
     * its own. */
    if (fn_dd_write_snapshot(dir, im.s, 1, err, sizeof(err)) != 0 ||
        fn_dd_write_file(dir, "bench-tokens.json", im.toks.data, im.toks.len, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "freight import: %s\n", err);
        goto out;
    }
    {
        double secs = (double)(fn_mono_ns() - t0) / 1e9;
        uint64_t total = im.ok[0] + im.ok[1] + im.ok[2], bad = im.bad[0] + im.bad[1] + im.bad[2];
        double read_s = (double)(t_read - t0) / 1e9;
        printf("import: %llu companies, %llu drivers, %llu loads into %s in %.1f s (%.0f records/s; read, checked "
               "and applied in %.1f s, %.0f records/s; snapshot %.1f s); %llu refused; times moved by %+lld s; "
               "tokens in %s/bench-tokens.json\n",
               (unsigned long long)im.ok[0], (unsigned long long)im.ok[1], (unsigned long long)im.ok[2], dir, secs,
               (double)(total + bad) / secs, read_s, (double)(total + bad) / read_s, secs - read_s,
               (unsigned long long)bad, (long long)im.shift, dir);
        rc = bad ? 1 : 0;
    }
out:
    pipeline_stop(&im);
    fn_buf_free(&im.rec);
    fn_buf_free(&im.toks);
    free(im.company_key);
    free(im.company_val);
    free(im.pos);
    fn_state_free(im.s);
    return rc;
}
