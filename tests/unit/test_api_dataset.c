/*
 * test_api_dataset.c — the fast path for dataset lines (api/decode_fast.c)
 * against the general one (jansson + decode.c, api/dataset.c).
 *
 * For every line: either the fast path declines, or both accept it and give
 * the same structs, field by field, strings by content; the fast path never
 * accepts a line the general path refuses.  The lines are records built as
 * `freight gen` writes them (all of which the fast path must take), and
 * those records mutated systematically: every member removed, every value
 * replaced by values of the wrong type, at and beyond the boundaries of its
 * range, with escapes, unicode and broken UTF-8; known and unknown keys
 * added; keys repeated and reordered; other whitespace; every truncation;
 * random bytes changed.  Each runs under two clocks (times moved forward
 * and backward by the rebase).
 *
 * FN_TEST_DATASET=DIR also runs every line of a `freight gen` dataset in
 * DIR through the comparison (all must take the fast path).
 */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "api/dataset.h"

#define START 1798761600LL

static uint64_t seed = 20261125;
static fn_ds_decoder dec;
static fn_ds_config cfg;

/* What the comparisons saw. */
static struct {
    uint64_t lines, fast, slow_ok, declined_ok;
} st;

/* ---- comparing two decoded lines ---- */

static void same_str(const char *a, const char *b, const char *what, const char *line)
{
    if (!a || !b || strcmp(a, b) != 0)
        fail_msg("%s differs (fast '%s', general '%s') on: %s", what, a ? a : "(null)", b ? b : "(null)", line);
}

/* Numbers compare by their bytes, so that -0.0 and 0.0 differ too. */
static void same_bytes(const void *a, const void *b, size_t n, const char *what, const char *line)
{
    if (memcmp(a, b, n) != 0)
        fail_msg("%s differs on: %s", what, line);
}

#define SAME(f) same_bytes(&a->f, &b->f, sizeof(a->f), #f, line)

static void same_place(const fn_place *a, const fn_place *b, const char *line)
{
    SAME(lat);
    SAME(lon);
    SAME(province);
    same_str(a->city, b->city, "place city", line);
}

static void same_rec(int kind, const fn_ds_rec *a, const fn_ds_rec *b, const char *line)
{
    SAME(ok);
    SAME(id);
    if (kind == FN_DS_COMPANIES) {
        SAME(c.id);
        SAME(c.province);
        SAME(c.kind);
        SAME(c.created_at);
        SAME(c.rating_sum);
        SAME(c.rating_count);
        SAME(c.loads_posted);
        same_str(a->c.name, b->c.name, "company name", line);
        same_str(a->c.city, b->c.city, "company city", line);
    } else if (kind == FN_DS_DRIVERS) {
        SAME(d.id);
        SAME(d.home_lat);
        SAME(d.home_lon);
        SAME(d.lat);
        SAME(d.lon);
        SAME(d.pos_ts);
        SAME(d.speed_dkmh);
        SAME(d.heading_ddeg);
        SAME(d.capacity_kg);
        SAME(d.volume_l);
        SAME(d.truck_type);
        SAME(d.length_idx);
        SAME(d.status);
        SAME(d.provinces_mask);
        SAME(d.booking_id);
        SAME(d.created_at);
        same_str(a->d.name, b->d.name, "driver name", line);
        same_str(a->d.phone, b->d.phone, "driver phone", line);
        same_str(a->d.plate, b->d.plate, "driver plate", line);
        SAME(has_pos);
        SAME(offline);
        SAME(pos.driver_id);
        SAME(pos.lat);
        SAME(pos.lon);
        SAME(pos.ts);
        SAME(pos.speed_dkmh);
        SAME(pos.heading_ddeg);
    } else {
        SAME(company);
        SAME(l.id);
        SAME(l.company_id);
        same_place(&a->l.origin, &b->l.origin, line);
        same_place(&a->l.dest, &b->l.dest, line);
        same_str(a->l.cargo_kind, b->l.cargo_kind, "cargo kind", line);
        same_str(a->l.contact_name, b->l.contact_name, "contact name", line);
        same_str(a->l.contact_phone, b->l.contact_phone, "contact phone", line);
        same_str(a->l.notes, b->l.notes, "notes", line);
        SAME(l.weight_kg);
        SAME(l.volume_l);
        SAME(l.types_mask);
        SAME(l.min_length_idx);
        SAME(l.status);
        SAME(l.pickup_earliest_at);
        SAME(l.pickup_latest_at);
        SAME(l.expires_at);
        SAME(l.created_at);
        SAME(l.price_fen);
        SAME(l.booking_id);
    }
}

/* Runs one line through both paths; returns 1 when the fast path took it. */
static int check(int kind, const char *line, size_t len)
{
    fn_ds_rec fast, slow, both;
    char *strs = malloc(len ? len : 1), *strs2 = malloc(len ? len : 1);
    int took;
    assert_non_null(strs);
    assert_non_null(strs2);
    took = fn_ds_decode_fast(&cfg, kind, line, len, strs, &fast);
    fn_ds_decode_slow(&dec, kind, line, len, &slow);
    st.lines++;
    st.slow_ok += (uint64_t)slow.ok;
    if (took) {
        st.fast++;
        assert_int_equal(fast.ok, 1);
        assert_null(fast.root);
        if (!slow.ok)
            fail_msg("the fast path took a line the API refuses (%s): %.*s", slow.err, (int)len, line);
        same_rec(kind, &fast, &slow, line);
    } else if (slow.ok) {
        st.declined_ok++;
    }
    /* The two together answer as the general path does. */
    fn_ds_decode(&dec, kind, line, len, strs2, &both);
    assert_int_equal(both.ok, slow.ok);
    if (slow.ok)
        same_rec(kind, &both, &slow, line);
    else
        assert_string_equal(both.err, slow.err);
    json_decref(slow.root);
    json_decref(both.root);
    free(strs);
    free(strs2);
    return took;
}

static int check_str(int kind, const char *line) { return check(kind, line, strlen(line)); }

/* The companies "imported": 1..5000 but 77. */
static int company_known(const void *arg, int64_t id)
{
    (void)arg;
    return id >= 1 && id <= 5000 && id != 77;
}

static int any_company(const void *arg, int64_t id)
{
    (void)arg;
    (void)id;
    return 1;
}

static void set_clock(int64_t shift, int (*known)(const void *, int64_t))
{
    fn_ds_decoder_free(&dec);
    cfg = (fn_ds_config){START + shift, shift, FN_AREA_CHINA, known, NULL};
    fn_ds_decoder_init(&dec, &cfg);
}

/* ---- records as `freight gen` writes them ---- */

static uint64_t rnd(uint64_t n) { return rng_next(&seed) % n; }
static const char *pick(const char *const *v, size_t n) { return v[rnd(n)]; }
#define PICK(v) pick(v, sizeof(v) / sizeof(v[0]))

static const char *const provinces[] = {"Guangdong", "Inner Mongolia", "Jilin", "Xinjiang", "Hubei", "Shanghai",
                                        "Guizhou", "Tibet", "Henan", "Jiangsu"};
static const char *const cities[] = {"Yushu", "Xi’an", "Ürümqi", "Luohe", "Xinpu", "Shenzhen", "Hohhot"};
static const char *const types[] = {"flatbed", "low_rail", "high_rail", "van", "refrigerated", "insulated",
                                    "container", "dump", "tanker", "hazmat", "wing_van", "lowbed"};
static const char *const lengths[] = {"4.2", "5.2", "6.8", "7.6", "8.7", "9.6", "12.5", "13.0", "15.0", "16.0", "17.5"};
static const char *const cnames[] = {"刘明", "王芳", "欧阳娜娜", "李", "张伟"};

static double coord(double lo, double hi) { return floor(rng_range(&seed, lo, hi) * 1e6) / 1e6; }

static json_t *real_text(const char *s) { return json_real(strtod(s, NULL)); }

static json_t *gen_company(int64_t id)
{
    static const char *const kinds[] = {"shipper", "carrier", "broker", "logistics"};
    static const char *const names[] = {"Yushu Baotai Supply Chain Management Co., Ltd.", "Xi’an Steel Co., Ltd.", "A",
                                        "上海物流有限公司"};
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "name", json_string(PICK(names)));
    json_object_set_new(o, "kind", json_string(PICK(kinds)));
    if (rnd(4))
        json_object_set_new(o, "city", json_string(PICK(cities)));
    if (rnd(4))
        json_object_set_new(o, "province", json_string(PICK(provinces)));
    return o;
}

static json_t *latlon(void)
{
    json_t *o = json_object();
    json_object_set_new(o, "lat", json_real(coord(18, 54)));
    json_object_set_new(o, "lon", json_real(coord(73, 135)));
    return o;
}

static json_t *gen_driver(int64_t id)
{
    char phone[32], plate[32];
    json_t *o = json_object(), *t = json_object(), *pp = json_array();
    snprintf(phone, sizeof(phone), "+861%llu%08llu", (unsigned long long)(3 + rnd(7)),
             (unsigned long long)rnd(100000000));
    snprintf(plate, sizeof(plate), "粤%c%05llu", 'A' + (int)rnd(8), (unsigned long long)rnd(100000));
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "name", json_string(PICK(cnames)));
    json_object_set_new(o, "phone", json_string(phone));
    json_object_set_new(o, "home", latlon());
    json_object_set_new(t, "plate", json_string(plate));
    json_object_set_new(t, "type", json_string(PICK(types)));
    json_object_set_new(t, "length_m", real_text(PICK(lengths)));
    json_object_set_new(t, "capacity_t", json_real((double)(1 + rnd(1000)) / 10));
    if (rnd(2))
        json_object_set_new(t, "volume_m3", json_real((double)(1 + rnd(3000)) / 10));
    json_object_set_new(o, "truck", t);
    for (uint64_t i = 0, n = 1 + rnd(4); i < n; i++)
        json_array_append_new(pp, json_string(PICK(provinces)));
    json_object_set_new(o, "preferred_provinces", pp);
    json_object_set_new(o, "status", json_string(rnd(6) ? "available" : "offline"));
    if (rnd(8)) {
        json_t *p = latlon();
        json_object_set_new(p, "ts", json_integer(START - 1 - (int64_t)rnd(600)));
        json_object_set_new(p, "speed_kmh", json_real((double)rnd(900) / 10));
        json_object_set_new(p, "heading_deg", json_real((double)rnd(3600) / 10));
        json_object_set_new(o, "position", p);
    }
    return o;
}

static json_t *place(void)
{
    json_t *o = latlon();
    json_object_set_new(o, "city", json_string(PICK(cities)));
    json_object_set_new(o, "province", json_string(PICK(provinces)));
    return o;
}

static json_t *gen_load(int64_t id)
{
    static const char *const kinds[] = {"steel", "frozen_food", "building_materials", "sand_and_gravel"};
    static const char *const notes[] = {"需要篷布，回单付款", "急走", "一装一卸"};
    json_t *o = json_object(), *cargo = json_object(), *truck = json_object(), *types_a = json_array();
    json_t *pickup = json_object(), *contact = json_object();
    int64_t earliest = START + 1800 * (1 + (int64_t)rnd(336)), latest = earliest + 3600 * (2 + (int64_t)rnd(71));
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "company_id", json_integer(1 + (int64_t)rnd(76)));
    json_object_set_new(o, "created_at", json_integer(START - 1 - (int64_t)rnd(86400)));
    json_object_set_new(o, "origin", place());
    json_object_set_new(o, "destination", place());
    json_object_set_new(cargo, "kind", json_string(PICK(kinds)));
    json_object_set_new(cargo, "weight_t", json_real((double)(1 + rnd(330)) / 10));
    if (rnd(3) == 0)
        json_object_set_new(cargo, "volume_m3", json_real((double)(1 + rnd(3000)) / 10));
    json_object_set_new(o, "cargo", cargo);
    for (uint64_t i = 0, n = 1 + rnd(3); i < n; i++)
        json_array_append_new(types_a, json_string(PICK(types)));
    json_object_set_new(truck, "types", types_a);
    if (rnd(10))
        json_object_set_new(truck, "min_length_m", real_text(PICK(lengths)));
    json_object_set_new(o, "truck", truck);
    json_object_set_new(pickup, "earliest_at", json_integer(earliest));
    json_object_set_new(pickup, "latest_at", json_integer(latest));
    json_object_set_new(o, "pickup", pickup);
    json_object_set_new(o, "price_cny", json_real(rnd(2) ? (double)(100 + rnd(900)) : (double)(1000 + 10 * rnd(1000))));
    if (rnd(5) < 2)
        json_object_set_new(o, "expires_at", json_integer(earliest + 1800 * (int64_t)rnd((uint64_t)(latest - earliest) / 1800)));
    json_object_set_new(contact, "name", json_string("王经理"));
    json_object_set_new(contact, "phone", json_string("+8613540349568"));
    json_object_set_new(o, "contact", contact);
    if (rnd(3) == 0)
        json_object_set_new(o, "notes", json_string(PICK(notes)));
    return o;
}

static json_t *gen(int kind, int64_t id)
{
    return kind == FN_DS_COMPANIES ? gen_company(id) : kind == FN_DS_DRIVERS ? gen_driver(id) : gen_load(id);
}

/* ---- writing a tree as a line, with the variations the mutations need ---- */

/* The string value that stands for raw text put in its place. */
#define RAW_MARK "\001raw"

typedef struct style {
    const char *kv, *item;    /* separators: ": " and ", " as gen writes them */
    const char *pad;          /* around every brace and bracket */
    int reverse;              /* keys in reverse order */
    const json_t *dup;        /* the object member whose key is written twice */
    const char *dup_key;
    const char *raw;          /* the text of the RAW_MARK value */
} style;

typedef struct out {
    char *p;
    size_t n, cap;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->n + n + 1 > o->cap) {
        o->cap = (o->n + n + 1) * 2;
        o->p = realloc(o->p, o->cap);
        assert_non_null(o->p);
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void write_value(out *o, const json_t *v, const style *s);

static void write_member(out *o, const char *k, const json_t *v, const style *s)
{
    puts_(o, "\"");
    puts_(o, k);
    puts_(o, "\"");
    puts_(o, s->kv);
    write_value(o, v, s);
}

static void write_value(out *o, const json_t *v, const style *s)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0, j;
        const char **keys = calloc(n ? n : 1, sizeof(char *));
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) keys[i++] = k;
        puts_(o, "{");
        puts_(o, s->pad);
        for (i = 0; i < n; i++) {
            j = s->reverse ? n - 1 - i : i;
            if (i)
                puts_(o, s->item);
            write_member(o, keys[j], json_object_get(v, keys[j]), s);
            if (v == s->dup && !strcmp(keys[j], s->dup_key)) {
                puts_(o, s->item);
                write_member(o, keys[j], json_object_get(v, keys[j]), s);
            }
        }
        puts_(o, s->pad);
        puts_(o, "}");
        free(keys);
        break;
    }
    case JSON_ARRAY:
        puts_(o, "[");
        puts_(o, s->pad);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                puts_(o, s->item);
            write_value(o, json_array_get(v, i), s);
        }
        puts_(o, s->pad);
        puts_(o, "]");
        break;
    case JSON_STRING:
        if (!strcmp(json_string_value(v), RAW_MARK)) {
            puts_(o, s->raw);
        } else {
            /* The test's strings hold no quotes, backslashes or controls. */
            puts_(o, "\"");
            puts_(o, json_string_value(v));
            puts_(o, "\"");
        }
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        puts_(o, num);
        break;
    case JSON_REAL:
        /* Fixed notation as gen writes it: 15 significant digits give back
         * the 1 to 6 decimals the values were made with; a real keeps a '.'. */
        snprintf(num, sizeof(num), "%.15g", json_real_value(v));
        if (!strpbrk(num, ".e"))
            strcat(num, ".0");
        puts_(o, num);
        break;
    default:
        puts_(o, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
    }
}

static const style gen_style = {": ", ", ", "", 0, NULL, NULL, NULL};

/* Writes v in style s, with a newline, into o (reset first). */
static void render(out *o, const json_t *v, const style *s, const char *tail)
{
    o->n = 0;
    write_value(o, v, s);
    puts_(o, tail);
}

/* ---- the mutations ---- */

/* Raw texts put in place of a value (times relative to the clock are added
 * by time_values). */
static const char *const values[] = {
    "null", "true", "false", "0", "-0", "1", "-1", "2", "0.0", "-0.0", "0.1", "0.09", "0.001", "0.0009", "0.01",
    "0.009", "0.0100", "1.0", "1.00", "4.2", "4.20", "4.2e0", "42e-1", "4.2E0", "13", "13.0", "17.5", "17.6",
    "29.9", "30", "30.0", "30.01", "31", "89.9", "90", "90.0", "90.000001", "-90", "-90.1", "100", "100.0",
    "100.05", "180", "180.0001", "-180", "250", "250.0", "250.1", "300", "300.0", "300.1", "359.9", "359.95",
    "360", "360.0", "360.04", "360.1", "18", "18.0", "17.999999", "54", "54.000001", "73", "72.999999", "135",
    "135.000001", "1.005", "0.015", "1234.567", "1234.56", "1760.00", "99999999.99", "100000000",
    "100000000.0", "100000000.01", "946684800", "946684799", "8589934588", "8589934589", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "123456789012345678", "1234567890123456789",
    "0.1234567890123456", "1.23456789012345", "123456789012345.6", "0.000000000000001", "1e400", "-1e400", "01",
    "-01", "1.", ".5", "+1", "0x10", "NaN", "Infinity", "-", "1.2.3", "5000", "5001", "77", "76",
    "\"\"", "\"a\"", "\"ab\"", "\"abc\"", "\"\\u00e9\"", "\"\\u0000\"", "\"x\\u0000y\"", "\"\\\"\"", "\"\\/\"",
    "\"a\\nb\"", "\"shipper\"", "\"carrier\"", "\"broker\"", "\"logistics\"", "\"SHIPPER\"", "\"Guangdong\"",
    "\"guangdong\"", "\"GUANGDONG\"", "\"广东\"", "\"Gu\\u0061ngdong\"", "\"van\"", "\"Van\"", "\"flatbed\"",
    "\"wing_van\"", "\"available\"", "\"offline\"", "\"on_trip\"", "\"Available\"", "\"+8613540349568\"",
    "\"12345\"", "\"1234\"", "\"+86 135-4034-9568\"", "\"+\"", "\"phone!\"", "\"123456789012345678901\"",
    "\"1234567890123456789012345\"", "\"9.6\"", "\"42\"", "\"a\x7f\"", "\"\xff\"", "\"\xc3\"", "\"\xc3\xa9\"",
    "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf0\x9f\x9a\x9a\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"",
    "\"a\tb\"", "\"a\x01\"", "\"   \"", "\"粤B5680U\"", "\"粤\"", "[]", "[1]", "[null]", "[\"Guangdong\"]",
    "[\"Guangdong\", \"Guangdong\"]", "[\"Guangdong\",\"nope\"]", "[\"van\", \"flatbed\", \"dump\"]",
    "[\"van\",]", "[,]", "[\"van\"", "{}", "{\"lat\": 30.5, \"lon\": 110.25}", "{\"lat\": 30.5}",
    "{\"lat\": 30.5, \"lon\": 110.25, \"lat\": 31}", "{\"types\": [\"van\"]}", "{\"name\": \"x\"}", "{\"x\": 1}",
    "{", "}", "\"unterminated", "",
};

/* Strings of n characters (ASCII or 3-byte CJK), quoted, into buf. */
static const char *long_string(char *buf, size_t n, int cjk)
{
    char *p = buf;
    *p++ = '"';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s", cjk ? "货" : "x");
    *p++ = '"';
    *p = '\0';
    return buf;
}

/* Every raw value to try: the table, long strings at the length limits, and
 * times around the limits after the rebase. */
static size_t all_values(char (*buf)[2048], size_t cap)
{
    static const size_t lens[] = {1, 2, 4, 5, 16, 17, 24, 25, 32, 33, 64, 65, 100, 101, 500, 501};
    const int64_t shift = cfg.shift_s, now = cfg.now_s;
    const int64_t times[] = {946684800 - shift,    946684799 - shift,       now + 300 - shift, now + 301 - shift,
                             now - shift,          now + 1 - shift,         START - 1,         START + 1800,
                             now + 90 * 86400 - shift, now + 90 * 86400 + 1 - shift, INT32_MAX * 4LL - shift,
                             INT32_MAX * 4LL + 1 - shift, -shift,           -1 - shift};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]) && n < cap; i++)
        snprintf(buf[n++], 2048, "%s", values[i]);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]) && n + 1 < cap; i++) {
        long_string(buf[n++], lens[i], 0);
        long_string(buf[n++], lens[i], 1);
    }
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]) && n + 1 < cap; i++) {
        snprintf(buf[n++], 2048, "%lld", (long long)times[i]);
        snprintf(buf[n++], 2048, "%lld.0", (long long)times[i]);
    }
    return n;
}

/* Every key a record of any file can hold, to add where it is missing. */
static const char *const keys[] = {"id", "name", "kind", "city", "province", "phone", "home", "truck", "plate",
                                   "type", "length_m", "capacity_t", "volume_m3", "preferred_provinces", "status",
                                   "position", "lat", "lon", "ts", "speed_kmh", "heading_deg", "company_id",
                                   "created_at", "origin", "destination", "cargo", "weight_t", "types",
                                   "min_length_m", "pickup", "earliest_at", "latest_at", "price_cny",
                                   "expires_at", "contact", "notes", "extra", "Id", ""};

static char vals[400][2048];
static size_t nvals;

/* Every object and array in the tree, in order. */
static size_t containers(json_t *v, json_t **list, size_t n, size_t cap)
{
    if (n < cap && (json_is_object(v) || json_is_array(v)))
        list[n++] = v;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m) n = containers(m, list, n, cap);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            n = containers(json_array_get(v, i), list, n, cap);
    }
    return n;
}

/* The mutations of one record through the member at index i of container
 * c: removed, and replaced by every value. */
static void mutate_member(int kind, json_t *root, json_t *c, const char *key, size_t idx, out *o)
{
    style s = gen_style;
    json_t *saved = json_incref(key ? json_object_get(c, key) : json_array_get(c, idx));
    /* removed */
    if (key)
        json_object_del(c, key);
    else
        json_array_remove(c, idx);
    render(o, root, &s, "\n");
    check_str(kind, o->p);
    if (key)
        json_object_set(c, key, saved);
    else
        json_array_insert(c, idx, saved);
    /* replaced */
    if (key)
        json_object_set_new(c, key, json_string(RAW_MARK));
    else
        json_array_set_new(c, idx, json_string(RAW_MARK));
    for (size_t v = 0; v < nvals; v++) {
        s.raw = vals[v];
        render(o, root, &s, "\n");
        check_str(kind, o->p);
    }
    /* repeated: the same key twice (jansson refuses; the fast path declines) */
    if (key) {
        json_object_set(c, key, saved);
        s.dup = c;
        s.dup_key = key;
        render(o, root, &s, "\n");
        assert_int_equal(check_str(kind, o->p), 0);
    } else {
        json_array_set(c, idx, saved);
    }
    json_decref(saved);
}

static void mutate(int kind, json_t *root)
{
    json_t *list[64];
    size_t n = containers(root, list, 0, 64);
    out o = {0};
    for (size_t i = 0; i < n; i++) {
        json_t *c = list[i];
        if (json_is_object(c)) {
            const char *k;
            size_t nk = json_object_size(c), j = 0;
            char(*names)[64] = calloc(nk ? nk : 1, 64);
            json_t *m;
            json_object_foreach(c, k, m) snprintf(names[j++], 64, "%s", k);
            for (j = 0; j < nk; j++)
                mutate_member(kind, root, c, names[j], 0, &o);
            free(names);
            /* a key added where it is missing, with a few values */
            for (size_t k2 = 0; k2 < sizeof(keys) / sizeof(keys[0]); k2++) {
                static const char *const few[] = {"1", "30.5", "1798761000", "\"Guangdong\"", "\"van\"",
                                                  "[\"van\"]", "{\"lat\": 30.5, \"lon\": 110.25}", "null",
                                                  "\"offline\"", "\"x\"", "{}"};
                style s = gen_style;
                if (json_object_get(c, keys[k2]))
                    continue;
                json_object_set_new(c, keys[k2], json_string(RAW_MARK));
                for (size_t f = 0; f < sizeof(few) / sizeof(few[0]); f++) {
                    s.raw = few[f];
                    render(&o, root, &s, "\n");
                    check_str(kind, o.p);
                }
                json_object_del(c, keys[k2]);
            }
        } else {
            for (size_t j = 0; j < json_array_size(c); j++)
                mutate_member(kind, root, c, NULL, j, &o);
        }
    }
    free(o.p);
}

/* The same record in other whitespace and key orders, cut short, and with
 * random bytes changed. */
static void reshape(int kind, json_t *root)
{
    static const style styles[] = {
        {":", ",", "", 0, NULL, NULL, NULL},       {" : ", " , ", " ", 0, NULL, NULL, NULL},
        {":\t", ",\r\n", "\t", 0, NULL, NULL, NULL}, {": ", ", ", "", 1, NULL, NULL, NULL},
        {":", ",", "\n", 1, NULL, NULL, NULL},     {": ", ", ", "\f", 0, NULL, NULL, NULL},
        {": ", ",, ", "", 0, NULL, NULL, NULL},    {"::", ", ", "", 0, NULL, NULL, NULL},
        {": ", ", ", "\xc2\xa0", 0, NULL, NULL, NULL},
    };
    static const char *const tails[] = {"\n", "", "\r\n", "  \n", "\n\n", " x\n", "\0\n", ",\n", "}\n", " {}\n"};
    static const char flips[] = {'"', '\\', ',', ':', '{', '}', '[', ']', ' ', '0', '9', '.', '-', 'e', 'n',
                                 '\0', 0x7f, (char)0x80, (char)0xff, 'a', '\t', '\n', 'u', '+'};
    out o = {0};
    char *line;
    size_t len;
    for (size_t i = 0; i < sizeof(styles) / sizeof(styles[0]); i++) {
        render(&o, root, &styles[i], "\n");
        check_str(kind, o.p);
    }
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        render(&o, root, &gen_style, "");
        put(&o, tails[i], i == 6 ? 2 : strlen(tails[i]));
        check(kind, o.p, o.n);
    }
    render(&o, root, &gen_style, "\n");
    check(kind, o.p, o.n);
    line = strdup(o.p);
    len = o.n;
    /* every truncation */
    for (size_t n = 0; n < len; n++)
        check(kind, line, n);
    /* random bytes changed, one or two at a time */
    for (int r = 0; r < 300; r++) {
        char *m = malloc(len);
        memcpy(m, line, len);
        for (int k = 0; k <= r % 2; k++)
            m[rnd(len)] = flips[rnd(sizeof(flips))];
        check(kind, m, len);
        free(m);
    }
    free(line);
    free(o.p);
}

/* A load's pickup window and expiry around their limits together, which
 * replacing one value at a time cannot reach (an earliest_at far ahead is
 * also after the latest_at it was paired with). */
static void windows(json_t *root)
{
    const int64_t shift = cfg.shift_s, now = cfg.now_s;
    const int64_t starts[] = {now - 7200, now - 1, now, now + 1, now + 1800, now + 90 * 86400 - 1,
                              now + 90 * 86400, now + 90 * 86400 + 1, INT32_MAX * 4LL - 7200};
    const int64_t spans[] = {-1, 0, 1, 7200};
    json_t *pickup = json_object_get(root, "pickup");
    out o = {0};
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
        for (size_t j = 0; j < sizeof(spans) / sizeof(spans[0]); j++) {
            int64_t e = starts[i], l = starts[i] + spans[j];
            const int64_t exps[] = {0, now, now + 1, e, l, l + 1};
            json_object_set_new(pickup, "earliest_at", json_integer(e - shift));
            json_object_set_new(pickup, "latest_at", json_integer(l - shift));
            for (size_t k = 0; k < sizeof(exps) / sizeof(exps[0]); k++) {
                if (k == 0)
                    json_object_del(root, "expires_at");
                else
                    json_object_set_new(root, "expires_at", json_integer(exps[k] - shift));
                render(&o, root, &gen_style, "\n");
                check_str(FN_DS_LOADS, o.p);
            }
        }
    free(o.p);
}

/* ---- the tests ---- */

static void run_kind(int kind, int records, int mutated)
{
    static const int64_t shifts[] = {5000, -3136201};
    out o = {0};
    for (size_t c = 0; c < sizeof(shifts) / sizeof(shifts[0]); c++) {
        set_clock(shifts[c], company_known);
        nvals = all_values(vals, sizeof(vals) / sizeof(vals[0]));
        for (int i = 0; i < records; i++) {
            json_t *root = gen(kind, 1 + i);
            render(&o, root, &gen_style, "\n");
            /* Every record as gen writes it takes the fast path. */
            if (!check_str(kind, o.p))
                fail_msg("the fast path declined a generated record: %s", o.p);
            if (i < mutated) {
                mutate(kind, root);
                reshape(kind, root);
                if (kind == FN_DS_LOADS)
                    windows(root);
            }
            json_decref(root);
        }
    }
    free(o.p);
    print_message("%llu lines: %llu taken by the fast path, %llu accepted by the API, %llu of those declined\n",
                  (unsigned long long)st.lines, (unsigned long long)st.fast, (unsigned long long)st.slow_ok,
                  (unsigned long long)st.declined_ok);
    /* The mutations must reach both verdicts, or they test nothing. */
    assert_true(st.fast > (uint64_t)records);
    assert_true(st.slow_ok > st.fast - 1);
    assert_true(st.lines > st.slow_ok);
    memset(&st, 0, sizeof(st));
}

static void test_companies(void **state)
{
    (void)state;
    run_kind(FN_DS_COMPANIES, 1000, 6);
}

static void test_drivers(void **state)
{
    (void)state;
    run_kind(FN_DS_DRIVERS, 1000, 6);
}

static void test_loads(void **state)
{
    (void)state;
    run_kind(FN_DS_LOADS, 1000, 6);
}

/* A few lines whose verdicts are known, so that the test above cannot pass
 * with a fast path that declines everything. */
static void test_known_lines(void **state)
{
    (void)state;
    set_clock(5000, company_known);
    assert_int_equal(check_str(FN_DS_COMPANIES, "{\"id\": 1, \"name\": \"A\", \"kind\": \"shipper\"}\n"), 1);
    assert_int_equal(check_str(FN_DS_COMPANIES, "{\"id\": 1, \"name\": \"A\", \"kind\": \"shipper\", \"x\": 1}"), 0);
    assert_int_equal(check_str(FN_DS_COMPANIES, "{\"id\": 1, \"name\": \"\\u0041\", \"kind\": \"shipper\"}"), 0);
    assert_int_equal(check_str(FN_DS_COMPANIES, "{\"id\": 1, \"name\": \"A\", \"kind\": \"shipper\", \"city\": null}"), 0);
    assert_int_equal(check_str(FN_DS_COMPANIES, "{\"id\": 1.0, \"name\": \"A\", \"kind\": \"shipper\"}"), 0);
    assert_int_equal(check_str(FN_DS_COMPANIES, "{\"id\": 1, \"id\": 1, \"name\": \"A\", \"kind\": \"shipper\"}"), 0);
    assert_int_equal(check_str(FN_DS_LOADS,
                               "{\"id\": 3, \"company_id\": 1035, \"created_at\": 1798690196, \"origin\": {\"lat\": "
                               "34.574340, \"lon\": 119.131171, \"city\": \"Xinpu\", \"province\": \"Jiangsu\"}, "
                               "\"destination\": {\"lat\": 33.550592, \"lon\": 114.006887, \"city\": \"Luohe\", "
                               "\"province\": \"Henan\"}, \"cargo\": {\"kind\": \"building_materials\", \"weight_t\": "
                               "6.5}, \"truck\": {\"types\": [\"high_rail\", \"low_rail\", \"flatbed\"], "
                               "\"min_length_m\": 6.8}, \"pickup\": {\"earliest_at\": 1798786800, \"latest_at\": "
                               "1798873200}, \"price_cny\": 1760.00, \"contact\": {\"name\": \"陈先生\", \"phone\": "
                               "\"+8613540349568\"}}\n"),
                     1);
    assert_int_equal(check_str(FN_DS_DRIVERS,
                               "{\"id\": 2, \"name\": \"刘明\", \"phone\": \"+8618117743534\", \"home\": {\"lat\": "
                               "22.481232, \"lon\": 114.120705}, \"truck\": {\"plate\": \"粤B5680U\", \"type\": "
                               "\"van\", \"length_m\": 4.2, \"capacity_t\": 1.7, \"volume_m3\": 16.3}, "
                               "\"preferred_provinces\": [\"Guangdong\", \"Hubei\"], \"status\": \"available\", "
                               "\"position\": {\"lat\": 22.449591, \"lon\": 114.140084, \"ts\": 1798761529, "
                               "\"speed_kmh\": 23.3, \"heading_deg\": 306.2}}\n"),
                     1);
}

/* Every province by its English name (which the fast path must take and
 * read as the general path does), in capitals, in Chinese, suffixed. */
static void test_every_province(void **state)
{
    char line[256], upper[64];
    (void)state;
    set_clock(5000, company_known);
    for (int i = 0; i < FN_PROVINCE_COUNT; i++) {
        const char *en = fn_province_name(i);
        size_t k;
        for (k = 0; en[k] && k + 1 < sizeof(upper); k++)
            upper[k] = (char)(en[k] >= 'a' && en[k] <= 'z' ? en[k] - 32 : en[k]);
        upper[k] = '\0';
        snprintf(line, sizeof(line), "{\"id\": 1, \"name\": \"A\", \"kind\": \"broker\", \"province\": \"%s\"}", en);
        assert_int_equal(check_str(FN_DS_COMPANIES, line), 1);
        snprintf(line, sizeof(line), "{\"id\": 1, \"name\": \"A\", \"kind\": \"broker\", \"province\": \"%s\"}", upper);
        check_str(FN_DS_COMPANIES, line);
        snprintf(line, sizeof(line), "{\"id\": 1, \"name\": \"A\", \"kind\": \"broker\", \"province\": \"%s\"}",
                 fn_province_zh(i));
        check_str(FN_DS_COMPANIES, line);
        snprintf(line, sizeof(line), "{\"id\": 1, \"name\": \"A\", \"kind\": \"broker\", \"province\": \"%s省\"}",
                 fn_province_zh(i));
        check_str(FN_DS_COMPANIES, line);
        snprintf(line, sizeof(line), "{\"id\": 1, \"name\": \"A\", \"kind\": \"broker\", \"province\": \"%s \"}", en);
        check_str(FN_DS_COMPANIES, line);
    }
    memset(&st, 0, sizeof(st));
}

/* FN_TEST_DATASET=DIR: every line of a `freight gen` dataset. */
static void test_gen_dataset(void **state)
{
    const char *dir = getenv("FN_TEST_DATASET");
    static const char *const files[] = {"companies.jsonl", "drivers.jsonl", "loads.jsonl"};
    (void)state;
    if (!dir || !*dir)
        skip();
    /* The dataset's times are from its manifest's start, which gen takes
     * as START unless told otherwise. */
    set_clock(5000, any_company);
    for (int f = 0; f < 3; f++) {
        char path[4096], *line = NULL;
        size_t cap = 0;
        ssize_t n;
        FILE *fp;
        snprintf(path, sizeof(path), "%s/%s", dir, files[f]);
        fp = fopen(path, "r");
        assert_non_null(fp);
        while ((n = getline(&line, &cap, fp)) > 0)
            if (!check(f, line, (size_t)n))
                fail_msg("%s: the fast path declined: %s", files[f], line);
        free(line);
        fclose(fp);
    }
    print_message("%llu dataset lines, all taken by the fast path and equal\n", (unsigned long long)st.lines);
    memset(&st, 0, sizeof(st));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_lines),
        cmocka_unit_test(test_every_province),
        cmocka_unit_test(test_companies),
        cmocka_unit_test(test_drivers),
        cmocka_unit_test(test_loads),
        cmocka_unit_test(test_gen_dataset),
    };
    int rc;
    fn_ds_decoder_init(&dec, &cfg);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    fn_ds_decoder_free(&dec);
    return rc;
}
