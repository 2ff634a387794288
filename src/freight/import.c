/*
 * import.c — `freight import`: load a dataset (docs/dataset.md: a manifest
 * and companies / drivers / loads as JSON Lines) into a new freightd data
 * dir, offline, the way a database restores a dump.
 *
 * Every record is checked by the same code the API uses for the same body
 * (api/decode.c), so a dataset can hold nothing the API would refuse.  A bad
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
 */
#include "api/api_int.h"
#include "auth/token.h"
#include "common/buf.h"
#include "common/fn.h"
#include "core/records.h"
#include "core/state.h"
#include "freight/cmds.h"
#include "freight/datadir.h"
#include "freight/progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SHOW_ERRORS 50 /* errors printed in full; the rest are counted */

typedef struct importer {
    const char *dataset;
    fn_state *s;
    uint8_t key[FN_TOKEN_KEY_BYTES];
    int64_t now, shift;
    fn_call call;              /* a call with no request: decode.c replies into resp */
    fn_http_resp resp;
    fn_buf rec, toks;
    uint64_t *company_of;      /* dataset company id -> state id (0 = not imported) */
    uint64_t company_cap;
    uint64_t last_id;          /* the previous record's id in the current file */
    uint64_t ok[3], bad[3];
    uint64_t errors_shown;
    fn_position *pos;          /* positions waiting to be applied in one record */
    uint32_t npos;
} importer;

enum { COMPANIES, DRIVERS, LOADS };
static const char *const files[] = {"companies.jsonl", "drivers.jsonl", "loads.jsonl"};

static void usage(FILE *f)
{
    fprintf(f, "usage: freight import --data-dir DIR [--gateways N] [--no-rebase] DATASET\n\n"
               "Loads a dataset written by `freight gen` (docs/dataset.md) into DIR, a new freightd\n"
               "data dir, as its first snapshot. Each record is checked as the API checks the same\n"
               "body; a bad one is reported as FILE:LINE: field: message and skipped, and the\n"
               "command exits 1 after importing everything else. Times are moved so that the\n"
               "dataset's start is now, unless --no-rebase. Writes DIR/bench-tokens.json with\n"
               "tokens for load generators (admin, gateways, the first companies and drivers).\n");
}

/* Reports a refused record: where, which field, why (from the error body
 * decode.c wrote, or from msg). */
static void refuse(importer *im, int file, uint64_t line, const char *field, const char *msg)
{
    im->bad[file]++;
    if (++im->errors_shown > SHOW_ERRORS) {
        if (im->errors_shown == SHOW_ERRORS + 1)
            fprintf(stderr, "freight import: more errors follow; only their count is reported\n");
        return;
    }
    fprintf(stderr, "freight import: %s:%llu: %s%s%s\n", files[file], (unsigned long long)line, field ? field : "",
            field ? ": " : "", msg);
}

static void refuse_reply(importer *im, int file, uint64_t line)
{
    json_t *e = json_loadb((const char *)im->resp.body.data, im->resp.body.len, 0, NULL);
    json_t *err = json_object_get(e, "error");
    const char *field = json_string_value(json_object_get(err, "field"));
    char msg[600];
    snprintf(msg, sizeof(msg), "%s (%s)", json_string_value(json_object_get(err, "message")) ?: "refused",
             json_string_value(json_object_get(err, "code")) ?: "invalid");
    refuse(im, file, line, field, msg);
    json_decref(e);
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

/* The time field key of obj moved by the rebase; 0, or -1 when it is there
 * but not an integer (decode.c then says so). */
static void shift_time(importer *im, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        json_integer_set(v, json_integer_value(v) + im->shift);
}

static void new_token(importer *im, char tok[FN_TOKEN_LEN + 1], uint8_t hash[FN_TOKEN_HASH_BYTES])
{
    fn_token_generate(tok);
    fn_token_hash(im->key, tok, hash);
}

static int import_company(importer *im, json_t *o, uint64_t id, uint64_t line)
{
    fn_company c;
    char tok[FN_TOKEN_LEN + 1];
    uint8_t hash[FN_TOKEN_HASH_BYTES];
    if (fn_decode_company(&im->call, o, &c) != 0) {
        refuse_reply(im, COMPANIES, line);
        return 0;
    }
    c.id = fn_state_next_company_id(im->s);
    c.created_at = im->now;
    new_token(im, tok, hash);
    fn_rec_company_create(&im->rec, &c, hash);
    if (apply(im, FN_REC_COMPANY_CREATE) != 0)
        return -1;
    if (id >= im->company_cap) {
        uint64_t cap = im->company_cap ? im->company_cap : 1024;
        while (cap <= id)
            cap *= 2;
        im->company_of = fn_xrealloc(im->company_of, cap * sizeof(uint64_t));
        memset(im->company_of + im->company_cap, 0, (cap - im->company_cap) * sizeof(uint64_t));
        im->company_cap = cap;
    }
    im->company_of[id] = c.id;
    if (c.id <= 1000)
        fn_buf_printf(&im->toks, "%s{\"id\": %llu, \"token\": \"%s\"}", c.id > 1 ? ", " : "", (unsigned long long)c.id, tok);
    im->ok[COMPANIES]++;
    return 0;
}

static int import_driver(importer *im, json_t *o, uint64_t line)
{
    fn_driver d;
    fn_position p;
    json_t *pos = json_object_get(o, "position");
    const char *status = NULL;
    char tok[FN_TOKEN_LEN + 1];
    uint8_t hash[FN_TOKEN_HASH_BYTES];
    double speed = 0, heading = 0;
    int64_t ts = 0;
    int has_heading = 0, offline;

    if (fn_decode_driver(&im->call, o, &d) != 0 || fn_jv_string(&im->call, o, NULL, "status", 0, 1, 16, &status)) {
        refuse_reply(im, DRIVERS, line);
        return 0;
    }
    if (status && strcmp(status, "available") != 0 && strcmp(status, "offline") != 0) {
        refuse(im, DRIVERS, line, "status", "status must be available or offline (invalid)");
        return 0;
    }
    offline = status && strcmp(status, "offline") == 0;
    memset(&p, 0, sizeof(p));
    if (pos && !json_is_null(pos)) {
        shift_time(im, pos, "ts");
        if (!json_is_object(pos) || fn_jv_latlon(&im->call, pos, "position", &p.lat, &p.lon) ||
            fn_jv_int(&im->call, pos, "position", "ts", 1, 946684800, im->now + 300, &ts, NULL) ||
            fn_jv_number(&im->call, pos, "position", "speed_kmh", 0, 0, 250, &speed, NULL) ||
            fn_jv_number(&im->call, pos, "position", "heading_deg", 0, 0, 360, &heading, &has_heading)) {
            if (!im->call.replied)
                refuse(im, DRIVERS, line, "position", "position must be an object (invalid)");
            else
                refuse_reply(im, DRIVERS, line);
            return 0;
        }
    }
    d.id = fn_state_next_driver_id(im->s);
    d.created_at = im->now;
    new_token(im, tok, hash);
    fn_rec_driver_create(&im->rec, &d, hash);
    if (apply(im, FN_REC_DRIVER_CREATE) != 0)
        return -1;
    if (pos && !json_is_null(pos)) {
        p.driver_id = d.id;
        p.ts = ts;
        p.speed_dkmh = (uint16_t)lround(speed * 10);
        p.heading_ddeg = has_heading ? (uint16_t)lround(fmod(heading, 360.0) * 10) : 0xffff;
        im->pos[im->npos++] = p;
        if (im->npos == 10000 && flush_positions(im) != 0)
            return -1;
    }
    if (offline) {
        if (flush_positions(im) != 0)
            return -1;
        fn_rec_driver_status(&im->rec, d.id, FN_DS_OFFLINE, im->now);
        if (apply(im, FN_REC_DRIVER_STATUS) != 0)
            return -1;
    }
    if (d.id <= 10000)
        fn_buf_printf(&im->toks, "%s{\"id\": %llu, \"token\": \"%s\"}", d.id > 1 ? ", " : "", (unsigned long long)d.id, tok);
    im->ok[DRIVERS]++;
    return 0;
}

static int import_load(importer *im, json_t *o, uint64_t line)
{
    fn_load l;
    json_t *pickup = json_object_get(o, "pickup");
    int64_t company, created = 0;
    int has_created;
    char msg[96];

    if (fn_jv_int(&im->call, o, NULL, "company_id", 1, 1, INT64_MAX, &company, NULL)) {
        refuse_reply(im, LOADS, line);
        return 0;
    }
    if ((uint64_t)company >= im->company_cap || !im->company_of[company]) {
        snprintf(msg, sizeof(msg), "company %lld was not imported (invalid)", (long long)company);
        refuse(im, LOADS, line, "company_id", msg);
        return 0;
    }
    shift_time(im, o, "created_at");
    shift_time(im, o, "expires_at");
    if (json_is_object(pickup)) {
        shift_time(im, pickup, "earliest_at");
        shift_time(im, pickup, "latest_at");
    }
    if (fn_jv_int(&im->call, o, NULL, "created_at", 0, 946684800, im->now + 300, &created, &has_created) ||
        fn_decode_load(&im->call, o, im->now, &l) != 0) {
        refuse_reply(im, LOADS, line);
        return 0;
    }
    l.id = fn_state_next_load_id(im->s);
    l.company_id = im->company_of[company];
    l.created_at = has_created ? created : im->now;
    fn_rec_load_create(&im->rec, &l);
    if (apply(im, FN_REC_LOAD_CREATE) != 0)
        return -1;
    im->ok[LOADS]++;
    return 0;
}

/* One file, line by line.  Returns -1 only when the import cannot go on. */
static int import_file(importer *im, int file)
{
    char path[4096];
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0, done = 0;
    struct stat st;
    fn_progress pg;
    int rc = 0;

    snprintf(path, sizeof(path), "%s/%s", im->dataset, files[file]);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "freight import: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fstat(fileno(f), &st);
    fn_progress_start(&pg, files[file], (uint64_t)st.st_size);
    im->last_id = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t *o;
        int64_t id;
        lineno++;
        done += (uint64_t)n;
        if ((lineno & 4095) == 0)
            fn_progress_set(&pg, done);
        if (n == 1 && line[0] == '\n')
            continue;
        o = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
        if (!o || !json_is_object(o)) {
            char msg[300];
            snprintf(msg, sizeof(msg), "not a JSON object: %s (invalid_json)", o ? "another JSON value" : jerr.text);
            refuse(im, file, lineno, NULL, msg);
            json_decref(o);
            continue;
        }
        im->call.replied = 0;
        fn_buf_reset(&im->resp.body);
        if (fn_jv_int(&im->call, o, NULL, "id", 1, 1, INT64_MAX, &id, NULL)) {
            refuse_reply(im, file, lineno);
        } else if ((uint64_t)id <= im->last_id) {
            refuse(im, file, lineno, "id", "ids must increase from line to line (invalid)");
        } else {
            im->last_id = (uint64_t)id;
            rc = file == COMPANIES ? import_company(im, o, (uint64_t)id, lineno)
                 : file == DRIVERS ? import_driver(im, o, lineno)
                                   : import_load(im, o, lineno);
        }
        json_decref(o);
        if (rc != 0)
            break;
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "freight import: reading %s failed: %s\n", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0)
        rc = flush_positions(im);
    fn_progress_end(&pg);
    free(line);
    fclose(f);
    return rc;
}

static int read_manifest(importer *im, int64_t *start)
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
    json_decref(m);
    return 0;
}

int fn_cmd_import(int argc, char **argv)
{
    const char *dir = NULL;
    long long n_gw = 4;
    int rebase = 1, rc = 1;
    int64_t start = 0;
    uint64_t t0 = fn_mono_ns();
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
        } else {
            fprintf(stderr, "freight import: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (!dir || !im.dataset || n_gw < 1) {
        usage(stderr);
        return 2;
    }
    if (read_manifest(&im, &start) != 0 || fn_token_init() != 0)
        return 1;
    if (fn_dd_create(dir, im.key, err, sizeof(err)) != 0) {
        fprintf(stderr, "freight import: %s\n", err);
        return 1;
    }
    im.now = fn_now_s();
    im.shift = rebase ? im.now - start : 0;
    im.s = fn_state_new(&cfg);
    im.call.resp = &im.resp;
    im.call.area = &fn_state_cfg(im.s)->area;
    fn_buf_init(&im.resp.body, 0);
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
        new_token(&im, tok, hash);
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

    fprintf(stderr, "writing the snapshot...\n");
    if (fn_dd_write_snapshot(dir, im.s, err, sizeof(err)) != 0 ||
        fn_dd_write_file(dir, "bench-tokens.json", im.toks.data, im.toks.len, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "freight import: %s\n", err);
        goto out;
    }
    {
        double secs = (double)(fn_mono_ns() - t0) / 1e9;
        uint64_t total = im.ok[0] + im.ok[1] + im.ok[2], bad = im.bad[0] + im.bad[1] + im.bad[2];
        printf("import: %llu companies, %llu drivers, %llu loads into %s in %.1f s (%.0f records/s); "
               "%llu refused; times moved by %+lld s; tokens in %s/bench-tokens.json\n",
               (unsigned long long)im.ok[0], (unsigned long long)im.ok[1], (unsigned long long)im.ok[2], dir, secs,
               (double)(total + bad) / secs, (unsigned long long)bad, (long long)im.shift, dir);
        rc = bad ? 1 : 0;
    }
out:
    fn_buf_free(&im.resp.body);
    fn_buf_free(&im.rec);
    fn_buf_free(&im.toks);
    free(im.company_of);
    free(im.pos);
    fn_state_free(im.s);
    return rc;
}
