/*
 * decode_fast.c — the fast path for dataset lines (see dataset.h).
 *
 * A line is read against a fixed schema of the keys its file may hold,
 * straight into typed values, and then checked with the rules of the
 * general path (decode.c, dataset.c and the fn_jv_* validators), which it
 * must never be more lenient than: every rule here says "decline" where
 * the general path would refuse, and the general path then finds the
 * message.  What it accepts is a strict subset of JSON:
 *
 *   - only the keys a record of the file can have, each at most once (an
 *     unknown key is ignored by the general path, a repeated one refused by
 *     jansson; both are declined here, which is always safe);
 *   - strings without escapes or control characters, valid UTF-8 (what
 *     jansson would decode to the very same bytes);
 *   - numbers without exponent, with at most 15 significant digits when
 *     they have a fraction (converted exactly as strtod would: an integer
 *     below 2^53 divided by an exact power of ten is correctly rounded) and
 *     at most 18 digits when they have none (json_int_t, no overflow);
 *   - no null, true or false anywhere: the schema has no place for them.
 *
 * The strings are copied, NUL-terminated, into the caller's buffer: each
 * takes one byte less than it took in the line with its quotes, so a buffer
 * of the line's length is enough.
 */
#include "api/dataset.h"
#include "api/jscan.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

typedef struct cur {
    const char *p, *end;
    char *out; /* where the next string is copied */
} cur;

typedef struct fstr {
    const char *s; /* NULL when absent */
    size_t len;    /* bytes */
    size_t chars;  /* Unicode characters, as fn_jv_string counts them */
} fstr;

typedef struct fnum {
    int present;
    int integral; /* written without '.' (a JSON integer for jansson) */
    int64_t i;    /* the value when integral */
    double d;     /* the value as json_number_value gives it */
} fnum;

typedef struct fstrs {
    fstr *v;
    int cap, n, present;
} fstrs;

enum { T_STR, T_NUM, T_STRS, T_OBJ };

/* One key of an object's schema and where its value goes. */
typedef struct field {
    const char *key;
    size_t len; /* strlen(key) */
    int type;
    void *val; /* fstr, fnum, fstrs or fobj after type */
} field;
#define F(key, type, val) {key, sizeof(key) - 1, type, val}

typedef struct fobj {
    const field *f;
    int n, present;
} fobj;

/* JSON's whitespace, as jansson skips it. */
static void ws(cur *c) { fn_js_ws(&c->p, c->end); }

static int eat(cur *c, char ch) { return fn_js_eat(&c->p, c->end, ch); }

/* The length of the UTF-8 sequence at p if it is well-formed (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF), else 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned b = p[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (b >= 0xc2 && b <= 0xdf)
        n = 2;
    else if (b >= 0xe0 && b <= 0xef)
        n = 3;
    else if (b >= 0xf0 && b <= 0xf4)
        n = 4;
    else
        return 0;
    if (b == 0xe0)
        lo = 0xa0;
    else if (b == 0xed)
        hi = 0x9f;
    else if (b == 0xf0)
        lo = 0x90;
    else if (b == 0xf4)
        hi = 0x8f;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* A string value, copied into c->out.  Declines escapes and the control
 * characters fn_jv_string refuses (below 0x20 and 0x7f). */
static int str(cur *c, fstr *v)
{
    const unsigned char *p, *start, *end = (const unsigned char *)c->end;
    size_t chars = 0, n;
    ws(c);
    if (c->p >= c->end || *c->p != '"')
        return -1;
    start = p = (const unsigned char *)c->p + 1;
    for (;;) {
        if (p >= end)
            return -1;
        if (*p == '"')
            break;
        if (*p < 0x80) {
            if (*p < 0x20 || *p == 0x7f || *p == '\\')
                return -1;
            p++;
        } else {
            size_t k = utf8_seq(p, end);
            if (!k)
                return -1;
            p += k;
        }
        chars++;
    }
    n = (size_t)(p - start);
    memcpy(c->out, start, n);
    c->out[n] = '\0';
    v->s = c->out;
    v->len = n;
    v->chars = chars;
    c->out += n + 1;
    c->p = (const char *)p + 1;
    return 0;
}

static const double pow10_tab[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* A number value in the shapes the header allows. */
static int num(cur *c, fnum *v)
{
    const char *p, *end = c->end;
    uint64_t m = 0;
    int digits = 0, frac = 0, neg = 0;
    ws(c);
    p = c->p;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9')
        return -1; /* a leading zero is not JSON */
    while (p < end && *p >= '0' && *p <= '9') {
        if (++digits > 18)
            return -1;
        m = m * 10 + (uint64_t)(*p++ - '0');
    }
    v->integral = 1;
    if (p < end && *p == '.') {
        v->integral = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return -1;
        while (p < end && *p >= '0' && *p <= '9') {
            if (++digits > 15)
                return -1;
            m = m * 10 + (uint64_t)(*p++ - '0');
            frac++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E'))
        return -1;
    if (v->integral) {
        v->i = neg ? -(int64_t)m : (int64_t)m;
        v->d = (double)v->i; /* what json_number_value does with an integer */
    } else {
        v->d = (double)m / pow10_tab[frac];
        if (neg)
            v->d = -v->d;
    }
    v->present = 1;
    c->p = p;
    return 0;
}

/* An array of strings, at most v->cap of them. */
static int strs(cur *c, fstrs *v)
{
    if (!eat(c, '['))
        return -1;
    v->present = 1;
    v->n = 0;
    if (eat(c, ']'))
        return 0;
    for (;;) {
        if (v->n == v->cap || str(c, &v->v[v->n++]) != 0)
            return -1;
        if (eat(c, ']'))
            return 0;
        if (!eat(c, ','))
            return -1;
    }
}

/* An object of the schema f (n keys, at most 32). */
static int object(cur *c, const field *f, int n)
{
    uint32_t seen = 0;
    int next = 0; /* where the key is looked for first: gen writes them in schema order */
    if (!eat(c, '{'))
        return -1;
    if (eat(c, '}'))
        return 0;
    for (;;) {
        const char *k;
        size_t klen;
        int i, rc;
        if (!eat(c, '"'))
            return -1;
        k = c->p;
        while (c->p < c->end && *c->p != '"' && *c->p != '\\')
            c->p++;
        if (c->p >= c->end || *c->p != '"')
            return -1;
        klen = (size_t)(c->p - k);
        c->p++;
        for (int t = 0; t < n; t++) {
            i = next + t < n ? next + t : next + t - n;
            if (f[i].len == klen && memcmp(f[i].key, k, klen) == 0)
                goto found;
        }
        return -1;
    found:
        if ((seen & (1u << i)) || !eat(c, ':'))
            return -1;
        next = i + 1;
        seen |= 1u << i;
        switch (f[i].type) {
        case T_STR:
            rc = str(c, f[i].val);
            break;
        case T_NUM:
            rc = num(c, f[i].val);
            break;
        case T_STRS:
            rc = strs(c, f[i].val);
            break;
        default: {
            fobj *o = f[i].val;
            o->present = 1;
            rc = object(c, o->f, o->n);
        }
        }
        if (rc != 0)
            return -1;
        if (eat(c, '}'))
            return 0;
        if (!eat(c, ','))
            return -1;
    }
}

/* The whole line: one object, then only whitespace. */
static int document(cur *c, const field *f, int n)
{
    if (object(c, f, n) != 0)
        return -1;
    ws(c);
    return c->p == c->end ? 0 : -1;
}

/* ---- the checks, each as its fn_jv_* counterpart would pass a value ---- */

static int s_ok(const fstr *v, int required, size_t min_chars, size_t max_chars)
{
    return v->s ? v->chars >= min_chars && v->chars <= max_chars : !required;
}

static int n_ok(const fnum *v, int required, double min, double max)
{
    return v->present ? isfinite(v->d) && v->d >= min && v->d <= max : !required;
}

static int i_ok(const fnum *v, int required, int64_t min, int64_t max)
{
    return v->present ? v->integral && v->i >= min && v->i <= max : !required;
}

static int latlon_ok(const fn_ds_config *x, const fnum *lat, const fnum *lon)
{
    return n_ok(lat, 1, -90, 90) && n_ok(lon, 1, -180, 180) && fn_area_contains(&x->area, lat->d, lon->d);
}

/* Moves a time by the rebase; 0 when that would overflow (the general path
 * then leaves it as it is, to be refused by its range). */
static int shift(const fn_ds_config *x, fnum *t)
{
    return !(t->present && t->integral) || !__builtin_add_overflow(t->i, x->shift_s, &t->i);
}

/* fn_province_parse without its 31 strcasecmp for the names gen writes: a
 * string equal, case and all, to a province's English name can only parse
 * as that province (no two names are equal but for case, and the Chinese
 * names share no bytes with them); anything else asks fn_province_parse. */
static struct {
    const char *name;
    size_t len;
} prov_tab[FN_PROVINCE_COUNT];
static pthread_once_t prov_once = PTHREAD_ONCE_INIT;

static void prov_init(void)
{
    for (int i = 0; i < FN_PROVINCE_COUNT; i++) {
        prov_tab[i].name = fn_province_name(i);
        prov_tab[i].len = strlen(prov_tab[i].name);
    }
}

static int province(const fstr *v)
{
    pthread_once(&prov_once, prov_init);
    for (int i = 0; i < FN_PROVINCE_COUNT; i++)
        if (prov_tab[i].len == v->len && memcmp(prov_tab[i].name, v->s, v->len) == 0)
            return i;
    return fn_province_parse(v->s);
}

/* ---- the three records ---- */

static int company(const fn_ds_config *x, cur *c, fn_ds_rec *r)
{
    fnum id = {0};
    fstr name = {0}, kind = {0}, city = {0}, prov = {0};
    const field f[] = {F("id", T_NUM, &id),     F("name", T_STR, &name),     F("kind", T_STR, &kind),
                       F("city", T_STR, &city), F("province", T_STR, &prov)};
    int k, p = -1;
    (void)x;
    if (document(c, f, 5) != 0 || !i_ok(&id, 1, 1, INT64_MAX) || !s_ok(&name, 1, 1, 100) ||
        !s_ok(&kind, 1, 1, 32) || !s_ok(&city, 0, 1, 64) || !s_ok(&prov, 0, 1, 64))
        return 0;
    if ((k = fn_company_kind_parse(kind.s)) < 0 || (prov.s && (p = province(&prov)) < 0))
        return 0;
    r->id = id.i;
    r->c.name = name.s;
    r->c.city = city.s ? city.s : "";
    r->c.kind = (uint8_t)k;
    r->c.province = (int8_t)p;
    return 1;
}

static int driver(const fn_ds_config *x, cur *c, fn_ds_rec *r)
{
    fnum id = {0}, hlat = {0}, hlon = {0}, len = {0}, cap = {0}, vol = {0};
    fnum plat = {0}, plon = {0}, ts = {0}, speed = {0}, heading = {0};
    fstr name = {0}, phone = {0}, plate = {0}, type = {0}, status = {0}, pv[FN_PROVINCE_COUNT];
    fstrs provs = {pv, FN_PROVINCE_COUNT, 0, 0};
    const field home_f[] = {F("lat", T_NUM, &hlat), F("lon", T_NUM, &hlon)};
    const field truck_f[] = {F("plate", T_STR, &plate),
                             F("type", T_STR, &type),
                             F("length_m", T_NUM, &len),
                             F("capacity_t", T_NUM, &cap),
                             F("volume_m3", T_NUM, &vol)};
    const field pos_f[] = {F("lat", T_NUM, &plat),
                           F("lon", T_NUM, &plon),
                           F("ts", T_NUM, &ts),
                           F("speed_kmh", T_NUM, &speed),
                           F("heading_deg", T_NUM, &heading)};
    fobj home = {home_f, 2, 0}, truck = {truck_f, 5, 0}, pos = {pos_f, 5, 0};
    const field f[] = {F("id", T_NUM, &id),
                       F("name", T_STR, &name),
                       F("phone", T_STR, &phone),
                       F("home", T_OBJ, &home),
                       F("truck", T_OBJ, &truck),
                       F("preferred_provinces", T_STRS, &provs),
                       F("status", T_STR, &status),
                       F("position", T_OBJ, &pos)};
    int ti, li;
    uint32_t mask = 0;

    if (document(c, f, 8) != 0 || !i_ok(&id, 1, 1, INT64_MAX) || !s_ok(&name, 1, 1, 100) ||
        !s_ok(&phone, 1, 5, 24) || !fn_valid_phone(phone.s) || !home.present || !latlon_ok(x, &hlat, &hlon) ||
        !truck.present || !s_ok(&plate, 1, 2, 16) || !s_ok(&type, 1, 1, 32) || !n_ok(&len, 1, 1, 30) ||
        !n_ok(&cap, 1, 0.1, 100) || !n_ok(&vol, 0, 0.1, 300))
        return 0;
    if ((ti = fn_truck_type_parse(type.s)) < 0 || (li = fn_truck_length_parse(len.d)) < 0)
        return 0;
    for (int i = 0; i < provs.n; i++) {
        int p = province(&pv[i]);
        if (p < 0)
            return 0;
        mask |= 1u << p;
    }
    if (!s_ok(&status, 0, 1, 16) ||
        (status.s && strcmp(status.s, "available") != 0 && strcmp(status.s, "offline") != 0))
        return 0;
    if (pos.present && (!shift(x, &ts) || !latlon_ok(x, &plat, &plon) || !i_ok(&ts, 1, 946684800, x->now_s + 300) ||
                        !n_ok(&speed, 0, 0, 250) || !n_ok(&heading, 0, 0, 360)))
        return 0;
    r->id = id.i;
    /* The units as fn_decode_driver and dataset.c's check_driver compute them. */
    r->d.name = name.s;
    r->d.phone = phone.s;
    r->d.home_lat = hlat.d;
    r->d.home_lon = hlon.d;
    r->d.plate = plate.s;
    r->d.truck_type = (uint8_t)ti;
    r->d.length_idx = (uint8_t)li;
    r->d.capacity_kg = (uint32_t)(cap.d * 1000.0 + 0.5);
    r->d.volume_l = vol.present ? (uint32_t)(vol.d * 1000.0 + 0.5) : 0;
    r->d.provinces_mask = mask;
    r->offline = status.s && strcmp(status.s, "offline") == 0;
    if (pos.present) {
        r->has_pos = 1;
        r->pos.lat = plat.d;
        r->pos.lon = plon.d;
        r->pos.ts = ts.i;
        r->pos.speed_dkmh = (uint16_t)lround((speed.present ? speed.d : 0) * 10);
        r->pos.heading_ddeg = heading.present ? (uint16_t)lround(fmod(heading.d, 360.0) * 10) : 0xffff;
    }
    return 1;
}

typedef struct fplace {
    fnum lat, lon;
    fstr city, prov;
    field f[4];
    fobj o;
} fplace;

static void place_init(fplace *p)
{
    memset(p, 0, sizeof(*p));
    p->f[0] = (field)F("lat", T_NUM, &p->lat);
    p->f[1] = (field)F("lon", T_NUM, &p->lon);
    p->f[2] = (field)F("city", T_STR, &p->city);
    p->f[3] = (field)F("province", T_STR, &p->prov);
    p->o = (fobj){p->f, 4, 0};
}

/* A place as decode.c's parse_place takes it, into out. */
static int place(const fn_ds_config *x, const fplace *p, fn_place *out)
{
    if (!p->o.present || !latlon_ok(x, &p->lat, &p->lon) || !s_ok(&p->city, 0, 1, 64) || !s_ok(&p->prov, 0, 1, 64))
        return 0;
    out->lat = p->lat.d;
    out->lon = p->lon.d;
    out->city = p->city.s ? p->city.s : "";
    out->province = -1;
    if (p->prov.s && (out->province = (int8_t)province(&p->prov)) < 0)
        return 0;
    return 1;
}

static int load(const fn_ds_config *x, cur *c, fn_ds_rec *r)
{
    fnum id = {0}, company_id = {0}, created = {0}, weight = {0}, vol = {0}, min_len = {0};
    fnum earliest = {0}, latest = {0}, price = {0}, expires = {0};
    fstr kind = {0}, notes = {0}, cname = {0}, cphone = {0}, tv[FN_TT__COUNT];
    fstrs types = {tv, FN_TT__COUNT, 0, 0};
    fplace origin, dest;
    const field cargo_f[] = {F("kind", T_STR, &kind), F("weight_t", T_NUM, &weight), F("volume_m3", T_NUM, &vol)};
    const field truck_f[] = {F("types", T_STRS, &types), F("min_length_m", T_NUM, &min_len)};
    const field pickup_f[] = {F("earliest_at", T_NUM, &earliest), F("latest_at", T_NUM, &latest)};
    const field contact_f[] = {F("name", T_STR, &cname), F("phone", T_STR, &cphone)};
    fobj cargo = {cargo_f, 3, 0}, truck = {truck_f, 2, 0}, pickup = {pickup_f, 2, 0}, contact = {contact_f, 2, 0};
    const field f[] = {F("id", T_NUM, &id),
                       F("company_id", T_NUM, &company_id),
                       F("created_at", T_NUM, &created),
                       F("origin", T_OBJ, &origin.o),
                       F("destination", T_OBJ, &dest.o),
                       F("cargo", T_OBJ, &cargo),
                       F("truck", T_OBJ, &truck),
                       F("pickup", T_OBJ, &pickup),
                       F("price_cny", T_NUM, &price),
                       F("expires_at", T_NUM, &expires),
                       F("contact", T_OBJ, &contact),
                       F("notes", T_STR, &notes)};
    const int64_t tmax = INT32_MAX * 4LL, now = x->now_s;
    uint16_t mask = 0;
    int li = -1;

    place_init(&origin);
    place_init(&dest);
    if (document(c, f, 12) != 0 || !i_ok(&id, 1, 1, INT64_MAX) || !i_ok(&company_id, 1, 1, INT64_MAX) ||
        !x->company_known(x->company_arg, company_id.i))
        return 0;
    if (!shift(x, &created) || !shift(x, &expires) || !shift(x, &earliest) || !shift(x, &latest) ||
        !i_ok(&created, 0, 946684800, now + 300))
        return 0;
    if (!place(x, &origin, &r->l.origin) || !place(x, &dest, &r->l.dest) || !cargo.present ||
        !s_ok(&kind, 1, 1, 32) || !n_ok(&weight, 1, 0.001, 100) || !n_ok(&vol, 0, 0.001, 300) || !truck.present ||
        !types.present || types.n < 1 || !n_ok(&min_len, 0, 1, 30) || !pickup.present ||
        !i_ok(&earliest, 1, 0, tmax) || !i_ok(&latest, 1, 0, tmax) || !n_ok(&price, 1, 0.01, 100000000.0) ||
        fn_yuan_to_fen(price.d, &r->l.price_fen) != 0 || !i_ok(&expires, 0, 0, tmax) || !s_ok(&notes, 0, 1, 500) ||
        !s_ok(&cname, 0, 1, 64) || !s_ok(&cphone, 0, 5, 24))
        return 0;
    for (int i = 0; i < types.n; i++) {
        int t = fn_truck_type_parse(tv[i].s);
        if (t < 0)
            return 0;
        mask |= (uint16_t)(1u << t);
    }
    if (min_len.present && (li = fn_truck_length_parse(min_len.d)) < 0)
        return 0;
    /* The order of fn_decode_load's checks does not matter here: any
     * failure declines, and the general path finds the first. */
    if (latest.i < earliest.i || latest.i <= now || earliest.i > now + FN_MAX_PICKUP_AHEAD_S ||
        (expires.present && (expires.i <= now || expires.i > latest.i)))
        return 0;
    r->id = id.i;
    r->company = company_id.i;
    r->l.types_mask = mask;
    r->l.min_length_idx = (int8_t)li;
    r->l.cargo_kind = kind.s;
    r->l.weight_kg = (uint32_t)lround(weight.d * 1000.0);
    r->l.volume_l = vol.present ? (uint32_t)lround(vol.d * 1000.0) : 0;
    r->l.pickup_earliest_at = earliest.i;
    r->l.pickup_latest_at = latest.i;
    r->l.expires_at = expires.present ? expires.i : 0;
    r->l.contact_name = cname.s ? cname.s : "";
    r->l.contact_phone = cphone.s ? cphone.s : "";
    r->l.notes = notes.s ? notes.s : "";
    r->l.created_at = created.present ? created.i : now;
    return 1;
}

int fn_ds_decode_fast(const fn_ds_config *cfg, int kind, const char *text, size_t len, char *strs_buf, fn_ds_rec *r)
{
    cur c = {text, text + len, strs_buf};
    int ok;
    memset(r, 0, sizeof(*r));
    if (kind == FN_DS_COMPANIES)
        ok = company(cfg, &c, r);
    else if (kind == FN_DS_DRIVERS)
        ok = driver(cfg, &c, r);
    else
        ok = load(cfg, &c, r);
    r->ok = ok;
    return ok;
}
