/*
 * gen.c — `freight gen`: the national synthetic dataset as JSON Lines, the
 * input of `freight import` (issue 4).  docs/dataset.md is the reference for
 * the format and justifies every model below.
 *
 * Output, in DIR:
 *   companies.jsonl  one company a line, ids 1..C in order
 *                    {"id", "name", "kind", "city", "province"}
 *   drivers.jsonl    one driver a line, ids 1..D in order
 *                    {"id", "name", "phone", "home": {lat, lon}, "truck": {plate, type,
 *                     length_m, capacity_t, volume_m3?}, "preferred_provinces": [...],
 *                     "status", "position"?: {lat, lon, ts, speed_kmh, heading_deg}}
 *   loads.jsonl      one open load a line, ids 1..L in order
 *                    {"id", "company_id", "created_at", then exactly the fields of a
 *                     POST /v1/loads body: origin, destination, cargo, truck, pickup,
 *                     price_cny, expires_at?, contact, notes?}
 *   manifest.json    {"format": "freightnet-dataset/1", "seed", "scale", "start",
 *                     "counts": {companies, drivers, loads}, "command"}
 * Every file is written under a .tmp name and renamed when whole; the
 * manifest comes last, so a directory without one holds no finished dataset.
 *
 * Determinism: timestamps are offsets from --start, never the clock; each
 * record draws its random numbers from its own generator, seeded by
 * (seed, kind, id); numbers are printed from integers in fixed units (no
 * %g).  So the same options give the same bytes whatever the thread count,
 * and threads build chunks of records independently and write them in order.
 */
#include "common/buf.h"
#include "common/fn.h"
#include "common/geo.h"
#include "core/model.h"
#include "freight/cities.h"
#include "freight/cmds.h"
#include "freight/gen.h"
#include "freight/progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GEN_FORMAT "freightnet-dataset/1"
#define GEN_DEFAULT_START 1798761600LL /* 2027-01-01T00:00:00Z */
#define GEN_MAX_COUNT 100000000LL      /* phones are unique up to 10^8 drivers */
#define GEN_CHUNK 8192                 /* records a thread builds before its turn to write */
#define GEN_RECORD_MAX 4096            /* bytes one record can take, with room to spare */
#define DAY_S 86400

/* Kinds of record, mixed into each record's seed. */
enum { GEN_COMPANY = 1, GEN_DRIVER = 2, GEN_LOAD = 3, GEN_CONTACT = 4 };

/* ---- the models' tables (docs/dataset.md says where they come from) ---- */

/* Length shares (percent) over FN_TRUCK_LENGTHS_DM
 * {4.2, 5.2, 6.8, 7.6, 8.7, 9.6, 12.5, 13, 15, 16, 17.5}, for trucks and for
 * the length loads ask for. */
static const double length_share[FN_TRUCK_LENGTH_COUNT] = {34, 4, 12, 5, 2, 14, 2, 8, 1, 1, 17};
/* Payload in tonnes typical of each length: a load asking for that length
 * weighs at most this; trucks carry it +-10%. */
static const double length_cap_t[FN_TRUCK_LENGTH_COUNT] = {1.8, 3, 8, 10, 15, 18, 25, 32, 32, 32, 33};
/* Inner width and height of a box body (m), for volumes. */
static const double body_w_m[FN_TRUCK_LENGTH_COUNT] = {2.0, 2.1, 2.3, 2.3, 2.35, 2.35, 2.45, 2.45, 2.5, 2.5, 2.5};
static const double body_h_m[FN_TRUCK_LENGTH_COUNT] = {2.0, 2.1, 2.3, 2.4, 2.5, 2.5, 2.6, 2.6, 2.7, 2.7, 2.7};

/* Type shares by length, columns in enum order: flatbed, low_rail, high_rail,
 * van, refrigerated, insulated, container, dump, tanker, hazmat, wing_van,
 * lowbed.  Light trucks are mostly vans and high-rail boxes; semi-trailers
 * mostly flatbeds and high rails; containers and lowbeds only come long. */
static const double type_share[FN_TRUCK_LENGTH_COUNT][FN_TT__COUNT] = {
    /* 4.2 */ {5, 10, 30, 45, 4, 1, 0, 2, 0.5, 0.5, 2, 0},
    /* 5.2 */ {6, 10, 30, 43, 4, 1, 0, 2, 0.5, 0.5, 3, 0},
    /* 6.8 */ {10, 10, 35, 30, 4, 1, 0, 3, 1, 0.5, 5.5, 0},
    /* 7.6 */ {10, 10, 35, 29, 4, 1, 0, 3, 1, 1, 6, 0},
    /* 8.7 */ {12, 8, 35, 24, 4, 1, 0, 5, 2, 1, 8, 0},
    /* 9.6 */ {12, 8, 35, 24, 4, 1, 0, 3, 2, 1, 10, 0},
    /* 12.5 */ {20, 6, 30, 14, 4, 1, 10, 3, 3, 1, 7, 1},
    /* 13 */ {25, 6, 28, 11, 4, 1, 8, 4, 3, 1, 7, 2},
    /* 15 */ {28, 5, 25, 9, 4, 1, 6, 3, 4, 1, 9, 5},
    /* 16 */ {28, 5, 25, 9, 4, 1, 6, 3, 4, 1, 9, 5},
    /* 17.5 */ {30, 5, 25, 9, 3.5, 0.5, 5, 2, 3, 1, 12, 4},
};

/* Types a shipper will also accept beside the one the cargo needs: -1 ends. */
static const signed char type_alt[FN_TT__COUNT][3] = {
    [FN_TT_flatbed] = {FN_TT_high_rail, FN_TT_low_rail, -1},
    [FN_TT_low_rail] = {FN_TT_flatbed, FN_TT_high_rail, -1},
    [FN_TT_high_rail] = {FN_TT_low_rail, FN_TT_flatbed, -1},
    [FN_TT_van] = {FN_TT_wing_van, FN_TT_high_rail, -1},
    [FN_TT_refrigerated] = {-1, -1, -1},
    [FN_TT_insulated] = {FN_TT_refrigerated, -1, -1},
    [FN_TT_container] = {-1, -1, -1},
    [FN_TT_dump] = {-1, -1, -1},
    [FN_TT_tanker] = {-1, -1, -1},
    [FN_TT_hazmat] = {-1, -1, -1},
    [FN_TT_wing_van] = {FN_TT_van, -1, -1},
    [FN_TT_lowbed] = {FN_TT_flatbed, -1, -1},
};

/* Price model: yuan per road km at a 300 km reference trip, by length. */
static const double rate_yuan_km[FN_TRUCK_LENGTH_COUNT] = {2.8, 3.1, 3.8, 4.2, 4.7, 5.1, 5.8, 6.1, 6.6, 6.9, 7.2};
/* Minimum charge (yuan) by length: what a short trip costs whatever its km. */
static const double min_charge_yuan[FN_TRUCK_LENGTH_COUNT] = {200, 250, 350, 400, 500, 600, 800, 900, 1000, 1100, 1200};
/* Premium of the type the cargo needs (special bodies cost more to run). */
static const double type_premium[FN_TT__COUNT] = {1.0, 1.0, 1.0, 1.05, 1.3, 1.15, 1.1, 0.95, 1.3, 1.5, 1.05, 1.35};
#define PRICE_CIRCUITY 1.3      /* road km per great-circle km, as freightd's --circuity */
#define PRICE_TAPER 0.15        /* yuan/km scales as (300 km / road km)^0.15 */
#define PRICE_LANE_EXP 0.1      /* lane factor (mass of origin / mass of destination)^0.1 */
#define PRICE_NOISE_SIGMA 0.18  /* lognormal spread of one quote */
#define GRAVITY_DECAY_KM 250.0  /* destination weight population x exp(-km / 250) */
#define MASS_DECAY_KM 200.0     /* a city's market: population within exp(-km / 200) */

/* Company kinds in enum order: shipper, carrier, broker, logistics. */
static const double kind_share[FN_CK__COUNT] = {55, 10, 15, 20};

/* Plate prefixes of the provinces, in model.h's order. */
static const char *const plate_abbr[FN_PROVINCE_COUNT] = {
    "皖", "京", "渝", "闽", "甘", "粤", "桂", "贵", "琼", "冀", "黑", "豫", "鄂", "湘", "蒙", "苏",
    "赣", "吉", "辽", "宁", "青", "陕", "鲁", "沪", "晋", "川", "津", "藏", "新", "云", "浙"};
static const char plate_letters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ"; /* no I, O */
#define PLATE_LETTERED_CITIES 14 /* the capital and the 13 largest places of a province get a letter */

/* Surnames with their shares per thousand people (rounded, most common first). */
static const struct { const char *s; double w; } surnames[] = {
    {"王", 71}, {"李", 70}, {"张", 64}, {"刘", 54}, {"陈", 46}, {"杨", 31}, {"黄", 25}, {"赵", 23},
    {"吴", 20}, {"周", 19}, {"徐", 15}, {"孙", 15}, {"马", 13}, {"朱", 13}, {"胡", 12}, {"郭", 12},
    {"何", 11}, {"林", 10}, {"高", 10}, {"罗", 9},  {"郑", 8},  {"梁", 8},  {"谢", 7},  {"宋", 7},
    {"唐", 7},  {"许", 6},  {"韩", 6},  {"冯", 6},  {"邓", 6},  {"曹", 6},  {"彭", 6},  {"曾", 5},
    {"肖", 5},  {"田", 5},  {"董", 5},  {"袁", 5},  {"潘", 5},  {"于", 5},  {"蒋", 5},  {"蔡", 5},
    {"余", 5},  {"杜", 5},  {"叶", 5},  {"程", 5},  {"苏", 4},  {"魏", 4},  {"吕", 4},  {"丁", 4},
    {"任", 4},  {"沈", 4}};
static const char *const given_chars[] = {
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宁", "亮", "建", "国", "峰", "林", "海", "东", "洪", "志", "文", "俊", "龙", "兵",
    "成", "春", "新", "红", "永", "德", "福", "贵", "发", "庆", "祥", "宏", "金", "江", "山", "朝"};
static const char *const contact_titles[] = {"经理", "经理", "先生", "女士", "总", "主管"};

/* Company names: "<City> <Trade name> <Business> Co., Ltd." in the English
 * form Chinese companies register; trade names are two pinyin syllables. */
static const char *const trade_a[] = {"Heng", "Tian", "Hong", "Xin", "Jin", "Hua", "Zhong", "Rui", "Long", "Sheng",
                                      "Da", "Fu", "Kai", "Tai", "Yuan", "Shun", "Jia", "Bao", "Cheng", "Feng",
                                      "Guang", "Hai", "Ming", "Xing", "Yong", "Ding", "An", "Chang", "Wan", "Lian"};
static const char *const trade_b[] = {"tong", "da", "yuan", "xing", "sheng", "feng", "tai", "hui", "cheng", "li",
                                      "fa", "rui", "an", "xiang", "hong", "kang", "yu", "heng", "bang", "lian",
                                      "ye", "tian", "jie", "wei", "run", "hao", "chuan", "de", "fu", "neng"};
static const char *const business_shipper[] = {
    "Building Materials", "Food", "Machinery", "Steel", "Trading", "Furniture", "Electronics", "Chemical",
    "Agricultural Products", "Textile", "Paper", "Packaging", "Auto Parts", "Household Appliances", "Beverage",
    "Plastics"};
static const char *const business_carrier[] = {"Transport", "Freight Transport", "Motor Transport"};
static const char *const business_broker[] = {"Freight Agency", "Freight Information Service", "Cargo Matching"};
static const char *const business_logistics[] = {"Logistics", "Supply Chain", "Supply Chain Management",
                                                 "Cold Chain Logistics", "Express Logistics"};

/* Cargo kinds by the truck type the load needs. */
static const char *const cargo_general[] = {
    "general_merchandise", "building_materials", "machinery", "steel", "food", "beverages", "electronics",
    "household_appliances", "furniture", "textiles", "agricultural", "paper", "plastics", "auto_parts", "timber",
    "packaging"};
static const char *const cargo_reefer[] = {"frozen_food", "fresh_produce", "meat", "seafood", "dairy"};
static const char *const cargo_insulated[] = {"fresh_produce", "beverages", "pharmaceuticals", "dairy"};
static const char *const cargo_container[] = {"containerized_goods", "electronics", "textiles", "household_appliances"};
static const char *const cargo_dump[] = {"sand_gravel", "coal", "earth", "ore", "construction_waste"};
static const char *const cargo_tanker[] = {"edible_oil", "bulk_cement", "fly_ash", "liquid_chemicals"};
static const char *const cargo_hazmat[] = {"chemicals", "paint", "gas_cylinders", "fuel", "batteries"};
static const char *const cargo_lowbed[] = {"machinery", "excavator", "steel_structures", "transformers"};

static const char *const notes[] = {
    "需要篷布", "装货需要尾板", "一装一卸", "两装一卸", "一装两卸", "装完即走", "回单付款", "到付",
    "现金结算", "需要押车", "急走", "可拼车", "高速费货主承担", "禁止超载", "需带绑带", "装卸工自理",
    "木托盘货物", "轻抛货", "需提前电话联系", "节假日正常装货"};

static const char *const mobile_prefixes[] = {
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "180", "181", "182",
    "183", "185", "186", "187", "188", "189", "191", "198", "199"};

/* Pickup day (0 = the 24 h after start) and the pickup window's length. */
static const double pickup_day_share[7] = {35, 30, 15, 8, 6, 4, 2};
static const int window_h[] = {2, 4, 8, 12, 24, 48, 72};
static const double window_share[] = {10, 20, 20, 15, 20, 10, 5};

/* ---- the model built from the city list ---- */

typedef struct gen_city {
    const char *name;
    int province;
    double lat, lon;
    double pop;
    double mass;        /* population within reach, exp(-km / MASS_DECAY_KM) */
    char plate_letter;  /* the plate's city code */
} gen_city;

typedef struct gen_model {
    uint64_t seed;
    int64_t start;
    uint64_t n_comp, n_drv, n_load;
    gen_city *city;
    size_t n;
    double *pop_cum;     /* cumulative population share */
    double *grav_cum;    /* n x n: row i, cumulative destination shares from city i */
    /* Companies that post loads (all but carriers), by city (CSR) and all together. */
    uint32_t *poster_off; /* n + 1 offsets into poster_ids */
    uint64_t *poster_ids;
    uint64_t n_posters;
    uint64_t phone_key, plate_key; /* keys of the id permutations, from the seed */
    uint64_t plate_space;          /* serials in use: those with at most one letter while they suffice */
} gen_model;

/* ---- random numbers ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The generator of one record: its numbers depend on nothing but these three. */
static fn_rng record_rng(uint64_t seed, uint64_t kind, uint64_t id)
{
    fn_rng r = {mix64(seed ^ mix64((kind << 56) ^ id ^ 0x6a09e667f3bcc909ull))};
    return r;
}

static double unit(fn_rng *r) { return fn_rng_unit(r); }
static uint64_t below(fn_rng *r, uint64_t n) { return fn_rng_next(r) % n; }

static double normal(fn_rng *r)
{
    double u1 = unit(r), u2 = unit(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2 * M_PI * u2);
}

/* The first index whose cumulative share exceeds u. */
static size_t pick_cum(const double *cum, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

#define PICK(r, arr) ((arr)[below((r), FN_ARRAY_LEN(arr))])

/* A point scattered around (lat, lon) by an exponential distance of mean
 * mean_km, at most max_km, inside the service area (retries; the centre
 * itself as a last resort). */
static void scatter(fn_rng *r, double lat, double lon, double mean_km, double max_km, double *olat, double *olon)
{
    for (int tries = 0; tries < 16; tries++) {
        double d = -log(1.0 - unit(r)) * mean_km, a = unit(r) * 2 * M_PI;
        if (d > max_km)
            continue;
        *olat = lat + d * cos(a) / FN_KM_PER_DEG_LAT;
        *olon = lon + d * sin(a) / (FN_KM_PER_DEG_LAT * cos(lat * M_PI / 180));
        if (*olat > 18.001 && *olat < 53.999 && *olon > 73.001 && *olon < 134.999)
            return;
    }
    *olat = lat;
    *olon = lon;
}

/* ---- writing JSON into a buffer ---- */

#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* v / 10^dec with exactly dec decimals: 1234, 2 -> "12.34". */
static char *put_scaled(char *p, int64_t v, int dec)
{
    static const int64_t tens[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    uint64_t a;
    if (v < 0) {
        *p++ = '-';
        a = (uint64_t)0 - (uint64_t)v;
    } else {
        a = (uint64_t)v;
    }
    p = put_u64(p, a / (uint64_t)tens[dec]);
    if (dec > 0) {
        uint64_t f = a % (uint64_t)tens[dec];
        *p++ = '.';
        for (int i = dec - 1; i >= 0; i--, f /= 10)
            p[i] = (char)('0' + f % 10);
        p += dec;
    }
    return p;
}

/* A coordinate with 6 decimals (0.1 m). */
static char *put_deg(char *p, double deg) { return put_scaled(p, llround(deg * 1e6), 6); }

static char *put_str(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
        } else if (ch < 0x20) {
            p = LIT(p, "\\u00");
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        } else {
            *p++ = (char)ch;
        }
    }
    *p++ = '"';
    return p;
}

static char *put_latlon(char *p, double lat, double lon)
{
    p = LIT(p, "\"lat\": ");
    p = put_deg(p, lat);
    p = LIT(p, ", \"lon\": ");
    return put_deg(p, lon);
}

/* A +86 mobile: a real prefix and 8 digits. */
static char *put_mobile(char *p, const char *prefix, uint64_t digits8)
{
    char d[8];
    p = LIT(p, "\"+86");
    memcpy(p, prefix, 3);
    p += 3;
    for (int i = 7; i >= 0; i--, digits8 /= 10)
        d[i] = (char)('0' + digits8 % 10);
    memcpy(p, d, 8);
    p += 8;
    *p++ = '"';
    return p;
}

/* Starts a record: room for GEN_RECORD_MAX bytes at the buffer's end. */
static char *rec_begin(fn_buf *b)
{
    fn_buf_reserve(b, GEN_RECORD_MAX);
    return (char *)b->data + b->len;
}

static void rec_end(fn_buf *b, char *p)
{
    size_t n = (size_t)(p - ((char *)b->data + b->len));
    if (n >= GEN_RECORD_MAX) { /* the tables above cannot make one this long */
        fprintf(stderr, "freight gen: internal error: a record of %zu bytes\n", n);
        abort();
    }
    b->len += n;
}

/* ---- companies ---- */

/* The first draws of company id: where it is and what it does.  The loads
 * pass needs them too, so they come first and alone. */
static void company_core(const gen_model *m, fn_rng *r, size_t *city, int *kind)
{
    *city = pick_cum(m->pop_cum, m->n, unit(r));
    *kind = fn_pick_share(kind_share, FN_CK__COUNT, unit(r));
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void emit_company(const gen_model *m, uint64_t id, fn_buf *b)
{
    fn_rng r = record_rng(m->seed, GEN_COMPANY, id);
    size_t ci;
    int kind;
    const char *business;
    char name[256];
    char *p = rec_begin(b);

    company_core(m, &r, &ci, &kind);
    switch (kind) {
    case FN_CK_SHIPPER: business = PICK(&r, business_shipper); break;
    case FN_CK_CARRIER: business = PICK(&r, business_carrier); break;
    case FN_CK_BROKER: business = PICK(&r, business_broker); break;
    default: business = PICK(&r, business_logistics); break;
    }
    const char *ta = PICK(&r, trade_a), *tb = PICK(&r, trade_b);
    snprintf(name, sizeof(name), "%s %s%s %s Co., Ltd.", m->city[ci].name, ta, tb, business);
    if (utf8_chars(name) > 100) /* a long place name from another city list */
        snprintf(name, sizeof(name), "%s%s %s Co., Ltd.", ta, tb, business);

    p = LIT(p, "{\"id\": ");
    p = put_u64(p, id);
    p = LIT(p, ", \"name\": ");
    p = put_str(p, name);
    p = LIT(p, ", \"kind\": ");
    p = put_str(p, fn_company_kind_name(kind));
    p = LIT(p, ", \"city\": ");
    p = put_str(p, m->city[ci].name);
    p = LIT(p, ", \"province\": ");
    p = put_str(p, fn_province_name(m->city[ci].province));
    p = LIT(p, "}\n");
    rec_end(b, p);
}

/* ---- drivers ---- */

/* A keyed bijection of [0, n), n <= side^2: a 4-round Feistel network on
 * [0, side)^2, walking the cycle until the result falls below n.  Phones and
 * plates number drivers through it, so they are unique yet look random. */
static uint64_t permute(uint64_t x, uint64_t n, uint64_t side, uint64_t key)
{
    do {
        uint64_t l = x / side, r = x % side;
        for (uint64_t round = 0; round < 4; round++) {
            uint64_t t = (l + mix64(r ^ key ^ (round << 60))) % side;
            l = r;
            r = t;
        }
        x = l * side + r;
    } while (x >= n);
    return x;
}

/* Serial numbers of plates: 5 characters with at most two letters, numbered
 * 0 .. PLATE_SERIALS-1: first all digits, then one letter at one of 5
 * places, then two letters at one of 10 pairs of places. */
#define PLATE_SERIALS_1 (100000ull + 5 * 24 * 10000ull) /* at most one letter */
#define PLATE_SERIALS (PLATE_SERIALS_1 + 10 * 24 * 24 * 1000ull)
#define PLATE_SIDE 2658ull                              /* ceil(sqrt(PLATE_SERIALS)) */

static void plate_serial(uint64_t k, char out[6])
{
    static const int pairs[10][2] = {{0, 1}, {0, 2}, {0, 3}, {0, 4}, {1, 2}, {1, 3}, {1, 4}, {2, 3}, {2, 4}, {3, 4}};
    int letter_at[5] = {-1, -1, -1, -1, -1};
    uint64_t digits;
    if (k < 100000) {
        digits = k;
    } else if ((k -= 100000) < 5 * 24 * 10000) {
        letter_at[k / 240000] = (int)(k % 240000 / 10000);
        digits = k % 10000;
    } else {
        k -= 5 * 24 * 10000;
        const int *pp = pairs[k / 576000];
        uint64_t rem = k % 576000;
        letter_at[pp[0]] = (int)(rem / 24000);
        letter_at[pp[1]] = (int)(rem % 24000 / 1000);
        digits = rem % 1000;
    }
    for (int i = 4; i >= 0; i--) {
        if (letter_at[i] >= 0) {
            out[i] = plate_letters[letter_at[i]];
        } else {
            out[i] = (char)('0' + digits % 10);
            digits /= 10;
        }
    }
    out[5] = '\0';
}

static const char *pick_surname(fn_rng *r)
{
    double total = 0, acc = 0, u = unit(r);
    for (size_t i = 0; i < FN_ARRAY_LEN(surnames); i++)
        total += surnames[i].w;
    for (size_t i = 0; i < FN_ARRAY_LEN(surnames); i++) {
        acc += surnames[i].w / total;
        if (u < acc)
            return surnames[i].s;
    }
    return surnames[FN_ARRAY_LEN(surnames) - 1].s;
}

static int is_box_type(int t)
{
    return t == FN_TT_van || t == FN_TT_refrigerated || t == FN_TT_insulated || t == FN_TT_container ||
           t == FN_TT_wing_van || t == FN_TT_high_rail;
}

/* Volume of a box body of length index li, in 0.1 m3 (dm x m x m). */
static double box_volume_01m3(int li) { return fn_truck_length_dm(li) * body_w_m[li] * body_h_m[li]; }

static void emit_driver(const gen_model *m, uint64_t id, fn_buf *b)
{
    fn_rng r = record_rng(m->seed, GEN_DRIVER, id);
    size_t hc = pick_cum(m->pop_cum, m->n, unit(&r));
    const gen_city *home = &m->city[hc];
    const double *grav = m->grav_cum + hc * m->n;
    int li = fn_pick_share(length_share, FN_TRUCK_LENGTH_COUNT, unit(&r));
    int tt = fn_pick_share(type_share[li], FN_TT__COUNT, unit(&r));
    int64_t cap = llround(length_cap_t[li] * 10 * (0.9 + 0.2 * unit(&r))); /* 0.1 t */
    int64_t vol = 0;                                                       /* 0.1 m3, 0 = not stated */
    int provs[4], nprov = 0, want, available;
    double hlat, hlon;
    char name[64], serial[6];
    const char *prefix;
    char *p = rec_begin(b);

    if (is_box_type(tt) && unit(&r) < 0.75)
        vol = llround(box_volume_01m3(li) * (0.95 + 0.1 * unit(&r)));
    else if (tt == FN_TT_tanker && unit(&r) < 0.6)
        vol = llround(fn_truck_length_dm(li) * 3.0 * (0.9 + 0.2 * unit(&r))); /* ~3 m2 of tank section */
    if (cap < 1)
        cap = 1;
    /* One draw a statement: the order of a call's arguments is unspecified. */
    {
        const char *sur = pick_surname(&r), *g1 = PICK(&r, given_chars);
        const char *g2 = unit(&r) < 0.3 ? "" : PICK(&r, given_chars);
        snprintf(name, sizeof(name), "%s%s%s", sur, g1, g2);
    }
    prefix = PICK(&r, mobile_prefixes);
    scatter(&r, home->lat, home->lon, 10, 50, &hlat, &hlon);
    plate_serial(permute((id - 1) % m->plate_space, m->plate_space, PLATE_SIDE, m->plate_key), serial);

    /* Home province first, then up to 3 provinces of lanes out of home. */
    provs[nprov++] = home->province;
    want = fn_pick_share((const double[]){30, 35, 25, 10}, 4, unit(&r));
    for (int tries = 0; tries < 3 * want && nprov < 1 + want; tries++) {
        int pv = m->city[pick_cum(grav, m->n, unit(&r))].province, dup = 0;
        for (int k = 0; k < nprov; k++)
            dup |= provs[k] == pv;
        if (!dup)
            provs[nprov++] = pv;
    }
    available = unit(&r) < 0.85;

    p = LIT(p, "{\"id\": ");
    p = put_u64(p, id);
    p = LIT(p, ", \"name\": ");
    p = put_str(p, name);
    p = LIT(p, ", \"phone\": ");
    p = put_mobile(p, prefix, permute(id - 1, 100000000ull, 10000, m->phone_key));
    p = LIT(p, ", \"home\": {");
    p = put_latlon(p, hlat, hlon);
    p = LIT(p, "}, \"truck\": {\"plate\": \"");
    p = stpcpy(p, plate_abbr[home->province]);
    *p++ = home->plate_letter;
    p = stpcpy(p, serial);
    p = LIT(p, "\", \"type\": ");
    p = put_str(p, fn_truck_type_key(tt));
    p = LIT(p, ", \"length_m\": ");
    p = put_scaled(p, fn_truck_length_dm(li), 1);
    p = LIT(p, ", \"capacity_t\": ");
    p = put_scaled(p, cap, 1);
    if (vol > 0) {
        p = LIT(p, ", \"volume_m3\": ");
        p = put_scaled(p, vol, 1);
    }
    p = LIT(p, "}, \"preferred_provinces\": [");
    for (int k = 0; k < nprov; k++) {
        if (k)
            p = LIT(p, ", ");
        p = put_str(p, fn_province_name(provs[k]));
    }
    p = LIT(p, "], \"status\": ");
    p = put_str(p, available ? "available" : "offline");
    /* A few drivers never reported; of the rest most are near home, a share
     * (fewer of the offline) out on a lane from home. */
    if (unit(&r) >= 0.03) {
        double plat, plon;
        int64_t speed; /* 0.1 km/h */
        if (unit(&r) < (available ? 0.30 : 0.15)) {
            const gen_city *c = &m->city[pick_cum(grav, m->n, unit(&r))];
            scatter(&r, c->lat, c->lon, 8, 40, &plat, &plon);
            speed = unit(&r) < 0.55 ? 500 + (int64_t)below(&r, 400) : 0;
        } else {
            scatter(&r, hlat, hlon, 4, 20, &plat, &plon);
            speed = unit(&r) < 0.2 ? 200 + (int64_t)below(&r, 400) : 0;
        }
        p = LIT(p, ", \"position\": {");
        p = put_latlon(p, plat, plon);
        p = LIT(p, ", \"ts\": ");
        p = put_i64(p, m->start - 1 - (int64_t)below(&r, 600));
        p = LIT(p, ", \"speed_kmh\": ");
        p = put_scaled(p, speed, 1);
        p = LIT(p, ", \"heading_deg\": ");
        p = put_scaled(p, (int64_t)below(&r, 3600), 1);
        p = LIT(p, "}");
    }
    p = LIT(p, "}\n");
    rec_end(b, p);
}

/* ---- loads ---- */

static const char *cargo_kind(fn_rng *r, int tt)
{
    switch (tt) {
    case FN_TT_refrigerated: return PICK(r, cargo_reefer);
    case FN_TT_insulated: return PICK(r, cargo_insulated);
    case FN_TT_container: return PICK(r, cargo_container);
    case FN_TT_dump: return PICK(r, cargo_dump);
    case FN_TT_tanker: return PICK(r, cargo_tanker);
    case FN_TT_hazmat: return PICK(r, cargo_hazmat);
    case FN_TT_lowbed: return PICK(r, cargo_lowbed);
    default: return PICK(r, cargo_general);
    }
}

/* The company that posts a load from city oc: mostly one based there. */
static uint64_t load_company(const gen_model *m, fn_rng *r, size_t oc)
{
    uint32_t lo = m->poster_off[oc], hi = m->poster_off[oc + 1];
    if (unit(r) < 0.7 && hi > lo)
        return m->poster_ids[lo + below(r, hi - lo)];
    if (m->n_posters > 0)
        return m->poster_ids[below(r, m->n_posters)];
    return 1 + below(r, m->n_comp); /* only carriers: one of them */
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static void emit_load(const gen_model *m, uint64_t id, fn_buf *b)
{
    fn_rng r = record_rng(m->seed, GEN_LOAD, id), cr;
    size_t oc = pick_cum(m->pop_cum, m->n, unit(&r));
    size_t dc = pick_cum(m->grav_cum + oc * m->n, m->n, unit(&r));
    const gen_city *o = &m->city[oc], *d = &m->city[dc];
    uint64_t company = load_company(m, &r, oc);
    int64_t created = m->start - 1 - (int64_t)below(&r, DAY_S), earliest, latest, expires = 0;
    int li = fn_pick_share(length_share, FN_TRUCK_LENGTH_COUNT, unit(&r));
    int tt = fn_pick_share(type_share[li], FN_TT__COUNT, unit(&r)), types[3], ntypes = 0;
    int has_len = unit(&r) < 0.9;
    int64_t cap = (int64_t)floor(length_cap_t[li] * 10 + 1e-9), weight, vol = 0, price_fen;
    double olat, olon, dlat, dlon, road_km, yuan, lane;
    const char *kind, *note1 = NULL, *note2 = NULL;
    char *p = rec_begin(b);

    scatter(&r, o->lat, o->lon, 6, 30, &olat, &olon);
    scatter(&r, d->lat, d->lon, 6, 30, &dlat, &dlon);
    types[ntypes++] = tt;
    if (unit(&r) < 0.55 && type_alt[tt][0] >= 0) {
        types[ntypes++] = type_alt[tt][0];
        if (unit(&r) < 0.4 && type_alt[tt][1] >= 0)
            types[ntypes++] = type_alt[tt][1];
    }
    kind = cargo_kind(&r, tt);
    /* Weight in 0.1 t: mostly near a full truck, never over the typical payload. */
    weight = (int64_t)floor((double)cap * (0.2 + 0.8 * sqrt(unit(&r))));
    weight = weight < 1 ? 1 : weight > cap ? cap : weight;
    if (is_box_type(tt) && unit(&r) < 0.35) {
        vol = llround(box_volume_01m3(li) * (0.3 + 0.65 * unit(&r)));
        vol = vol < 1 ? 1 : vol;
    }
    earliest = m->start + (int64_t)fn_pick_share(pickup_day_share, 7, unit(&r)) * DAY_S;
    earliest += (1 + (int64_t)below(&r, 47)) * 1800; /* a half hour of the day */
    latest = earliest + (int64_t)window_h[fn_pick_share(window_share, (int)FN_ARRAY_LEN(window_share), unit(&r))] * 3600;
    if (unit(&r) < 0.4)
        expires = earliest + 1800 * (int64_t)below(&r, (uint64_t)(latest - earliest) / 1800 + 1);

    /* Price: road km x yuan/km of the length (tapering with distance), the
     * lane's imbalance, a minimum charge, the type's premium, lognormal noise. */
    road_km = fn_haversine_km(olat, olon, dlat, dlon) * PRICE_CIRCUITY;
    lane = clampd(pow(o->mass / d->mass, PRICE_LANE_EXP), 0.8, 1.25);
    yuan = road_km * rate_yuan_km[li] * pow(300.0 / clampd(road_km, 60, 3000), PRICE_TAPER) * lane;
    yuan = fmax(yuan, min_charge_yuan[li]) * type_premium[tt] * exp(PRICE_NOISE_SIGMA * normal(&r));
    yuan = yuan < 1000 ? round(yuan) : round(yuan / 10) * 10;
    price_fen = (int64_t)fmax(yuan, 1) * 100;

    if (unit(&r) < 0.35) {
        note1 = PICK(&r, notes);
        if (unit(&r) < 0.3) {
            note2 = PICK(&r, notes);
            if (note2 == note1)
                note2 = NULL;
        }
    }

    p = LIT(p, "{\"id\": ");
    p = put_u64(p, id);
    p = LIT(p, ", \"company_id\": ");
    p = put_u64(p, company);
    p = LIT(p, ", \"created_at\": ");
    p = put_i64(p, created);
    p = LIT(p, ", \"origin\": {");
    p = put_latlon(p, olat, olon);
    p = LIT(p, ", \"city\": ");
    p = put_str(p, o->name);
    p = LIT(p, ", \"province\": ");
    p = put_str(p, fn_province_name(o->province));
    p = LIT(p, "}, \"destination\": {");
    p = put_latlon(p, dlat, dlon);
    p = LIT(p, ", \"city\": ");
    p = put_str(p, d->name);
    p = LIT(p, ", \"province\": ");
    p = put_str(p, fn_province_name(d->province));
    p = LIT(p, "}, \"cargo\": {\"kind\": ");
    p = put_str(p, kind);
    p = LIT(p, ", \"weight_t\": ");
    p = put_scaled(p, weight, 1);
    if (vol > 0) {
        p = LIT(p, ", \"volume_m3\": ");
        p = put_scaled(p, vol, 1);
    }
    p = LIT(p, "}, \"truck\": {\"types\": [");
    for (int k = 0; k < ntypes; k++) {
        if (k)
            p = LIT(p, ", ");
        p = put_str(p, fn_truck_type_key(types[k]));
    }
    p = LIT(p, "]");
    if (has_len) {
        p = LIT(p, ", \"min_length_m\": ");
        p = put_scaled(p, fn_truck_length_dm(li), 1);
    }
    p = LIT(p, "}, \"pickup\": {\"earliest_at\": ");
    p = put_i64(p, earliest);
    p = LIT(p, ", \"latest_at\": ");
    p = put_i64(p, latest);
    p = LIT(p, "}, \"price_cny\": ");
    p = put_scaled(p, price_fen, 2);
    if (expires) {
        p = LIT(p, ", \"expires_at\": ");
        p = put_i64(p, expires);
    }
    /* The contact is the company's: the same person on all its loads. */
    cr = record_rng(m->seed, GEN_CONTACT, company);
    p = LIT(p, ", \"contact\": {\"name\": \"");
    p = stpcpy(p, pick_surname(&cr));
    p = stpcpy(p, PICK(&cr, contact_titles));
    p = LIT(p, "\", \"phone\": ");
    {
        const char *prefix = PICK(&cr, mobile_prefixes);
        p = put_mobile(p, prefix, below(&cr, 100000000ull));
    }
    p = LIT(p, "}");
    if (note1) {
        p = LIT(p, ", \"notes\": \"");
        p = stpcpy(p, note1);
        if (note2) {
            p = LIT(p, "，");
            p = stpcpy(p, note2);
        }
        p = LIT(p, "\"");
    }
    p = LIT(p, "}\n");
    rec_end(b, p);
}

/* ---- the model ---- */

static int cmp_pop_desc(const void *a, const void *b, void *arg)
{
    const gen_city *c = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (c[i].pop != c[j].pop)
        return c[i].pop > c[j].pop ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Plate city codes: in each province the place nearest the capital is A,
 * the next largest places B, C, ...; every other place takes the letter of
 * the nearest lettered place of its province (its prefecture, roughly). */
static void assign_plate_letters(gen_city *c, size_t n)
{
    size_t *idx = fn_xmalloc(n * sizeof(*idx)), src[PLATE_LETTERED_CITIES];
    for (int pv = 0; pv < FN_PROVINCE_COUNT; pv++) {
        size_t k = 0, nsrc = 0, cap_j = 0;
        double clat, clon, best = 1e18;
        for (size_t i = 0; i < n; i++)
            if (c[i].province == pv)
                idx[k++] = i;
        if (k == 0)
            continue;
        qsort_r(idx, k, sizeof(*idx), cmp_pop_desc, c);
        fn_province_center(pv, &clat, &clon);
        for (size_t j = 0; j < k; j++) {
            double dk = fn_haversine_km(clat, clon, c[idx[j]].lat, c[idx[j]].lon);
            if (dk < best) {
                best = dk;
                cap_j = j;
            }
            c[idx[j]].plate_letter = 0;
        }
        src[nsrc++] = idx[cap_j];
        for (size_t j = 0; j < k && nsrc < PLATE_LETTERED_CITIES; j++)
            if (j != cap_j)
                src[nsrc++] = idx[j];
        for (size_t s = 0; s < nsrc; s++)
            c[src[s]].plate_letter = plate_letters[s];
        for (size_t j = 0; j < k; j++) {
            gen_city *x = &c[idx[j]];
            double nearest = 1e18;
            if (x->plate_letter)
                continue;
            for (size_t s = 0; s < nsrc; s++) {
                double dk = fn_haversine_km(x->lat, x->lon, c[src[s]].lat, c[src[s]].lon);
                if (dk < nearest) {
                    nearest = dk;
                    x->plate_letter = c[src[s]].plate_letter;
                }
            }
        }
    }
    free(idx);
}

/* Fills m from the city list and the counts (m->seed, start and counts set). */
static int model_build(gen_model *m, const fn_cities *cities)
{
    size_t n = 0;
    double total = 0;
    uint64_t *count;

    m->city = fn_xcalloc(cities->n, sizeof(*m->city));
    for (size_t i = 0; i < cities->n; i++) {
        const fn_city *ci = &cities->v[i];
        fn_area china = FN_AREA_CHINA;
        /* Only real places the API accepts: a province and inside the area. */
        if (ci->province < 0 || ci->population == 0 || !fn_area_contains(&china, ci->lat, ci->lon))
            continue;
        m->city[n].name = ci->name;
        m->city[n].province = ci->province;
        m->city[n].lat = ci->lat;
        m->city[n].lon = ci->lon;
        m->city[n].pop = (double)ci->population;
        total += m->city[n].pop;
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "freight gen: the city list holds no place with a province and a population\n");
        return -1;
    }
    m->n = n;
    m->pop_cum = fn_xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        m->pop_cum[i] = (i ? m->pop_cum[i - 1] : 0) + m->city[i].pop / total;
    m->pop_cum[n - 1] = 1.0;

    /* Gravity: from city i, destination j != i with weight pop_j exp(-d_ij / D). */
    m->grav_cum = fn_xmalloc(n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double *row = m->grav_cum + i * n, acc = 0, mass = 0;
        for (size_t j = 0; j < n; j++) {
            double dk = fn_haversine_km(m->city[i].lat, m->city[i].lon, m->city[j].lat, m->city[j].lon);
            mass += m->city[j].pop * exp(-dk / MASS_DECAY_KM);
            acc += j == i ? 0 : m->city[j].pop * exp(-dk / GRAVITY_DECAY_KM);
            row[j] = acc;
        }
        m->city[i].mass = mass;
        for (size_t j = 0; j < n; j++)
            row[j] = acc > 0 ? row[j] / acc : 1.0;
        row[n - 1] = 1.0;
        if (acc <= 0) /* a list of one place: loads stay in it */
            for (size_t j = 0; j < n; j++)
                row[j] = j >= i ? 1.0 : 0.0;
    }
    assign_plate_letters(m->city, n);

    /* Companies that post loads, by city. */
    count = fn_xcalloc(n + 1, sizeof(*count));
    m->poster_off = fn_xcalloc(n + 1, sizeof(*m->poster_off));
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (size_t i = 0; i < n; i++)
                m->poster_off[i + 1] = m->poster_off[i] + (uint32_t)count[i];
            m->n_posters = m->poster_off[n];
            m->poster_ids = fn_xmalloc((m->n_posters + 1) * sizeof(uint64_t));
            memset(count, 0, (n + 1) * sizeof(*count));
        }
        for (uint64_t id = 1; id <= m->n_comp; id++) {
            fn_rng r = record_rng(m->seed, GEN_COMPANY, id);
            size_t ci;
            int kind;
            company_core(m, &r, &ci, &kind);
            if (kind == FN_CK_CARRIER)
                continue;
            if (pass == 1)
                m->poster_ids[m->poster_off[ci] + count[ci]] = id;
            count[ci]++;
        }
    }
    free(count);
    m->phone_key = mix64(m->seed ^ 0x70686f6e65ull);
    m->plate_key = mix64(m->seed ^ 0x706c617465ull);
    m->plate_space = FN_MIN(FN_MAX(m->n_drv, PLATE_SERIALS_1), PLATE_SERIALS);
    return 0;
}

static void model_free(gen_model *m)
{
    free(m->city);
    free(m->pop_cum);
    free(m->grav_cum);
    free(m->poster_off);
    free(m->poster_ids);
    memset(m, 0, sizeof(*m));
}

/* ---- one file, built by threads, written in order ---- */

typedef void (*gen_emit_fn)(const gen_model *m, uint64_t id, fn_buf *b);

typedef struct gen_pass {
    const gen_model *m;
    gen_emit_fn emit;
    uint64_t n;           /* records, ids 1..n */
    uint64_t chunks;
    int nthreads;
    int fd;
    pthread_mutex_t mu;
    pthread_cond_t turn;
    uint64_t next;        /* the chunk whose turn it is to be written */
    int err;              /* errno of a failed write, 0 otherwise */
    uint64_t bytes;
    fn_progress pg;
} gen_pass;

typedef struct gen_worker {
    gen_pass *pass;
    int idx;
} gen_worker;

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *pass_worker(void *arg)
{
    gen_worker *w = arg;
    gen_pass *ps = w->pass;
    fn_buf b;
    fn_buf_init(&b, 0);
    for (uint64_t c = (uint64_t)w->idx; c < ps->chunks; c += (uint64_t)ps->nthreads) {
        uint64_t first = c * GEN_CHUNK + 1, last = FN_MIN(first + GEN_CHUNK - 1, ps->n);
        int stop;
        fn_buf_reset(&b);
        for (uint64_t id = first; id <= last; id++)
            ps->emit(ps->m, id, &b);
        pthread_mutex_lock(&ps->mu);
        while (ps->next != c && !ps->err)
            pthread_cond_wait(&ps->turn, &ps->mu);
        if (!ps->err) {
            ps->err = write_all(ps->fd, b.data, b.len);
            ps->bytes += b.len;
            ps->next++;
            fn_progress_set(&ps->pg, last);
        }
        stop = ps->err != 0;
        pthread_cond_broadcast(&ps->turn);
        pthread_mutex_unlock(&ps->mu);
        if (stop)
            break;
    }
    fn_buf_free(&b);
    return NULL;
}

/* Writes DIR/name.tmp with records 1..n, then renames it to DIR/name. */
static int run_pass(const gen_model *m, const char *dir, const char *name, uint64_t n, gen_emit_fn emit,
                    int nthreads, uint64_t *bytes)
{
    char tmp[4096], final[4096];
    gen_pass ps;
    gen_worker *w = fn_xcalloc((size_t)nthreads, sizeof(*w));
    pthread_t *th = fn_xcalloc((size_t)nthreads, sizeof(*th));
    int started = 0, rc = -1;

    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
    snprintf(final, sizeof(final), "%s/%s", dir, name);
    memset(&ps, 0, sizeof(ps));
    ps.m = m;
    ps.emit = emit;
    ps.n = n;
    ps.chunks = (n + GEN_CHUNK - 1) / GEN_CHUNK;
    ps.nthreads = nthreads;
    pthread_mutex_init(&ps.mu, NULL);
    pthread_cond_init(&ps.turn, NULL);
    ps.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (ps.fd < 0) {
        fprintf(stderr, "freight gen: cannot create %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    fn_progress_start(&ps.pg, name, n);
    for (int i = 0; i < nthreads; i++) {
        w[i].pass = &ps;
        w[i].idx = i;
        if (pthread_create(&th[i], NULL, pass_worker, &w[i]) != 0) {
            pthread_mutex_lock(&ps.mu);
            ps.err = EAGAIN; /* the started threads stop at their turn */
            pthread_cond_broadcast(&ps.turn);
            pthread_mutex_unlock(&ps.mu);
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (ps.err) {
        fprintf(stderr, "\nfreight gen: writing %s failed: %s\n", tmp, strerror(ps.err));
        goto out;
    }
    fn_progress_end(&ps.pg);
    if (close(ps.fd) != 0) {
        ps.fd = -1;
        fprintf(stderr, "freight gen: writing %s failed: %s\n", tmp, strerror(errno));
        goto out;
    }
    ps.fd = -1;
    if (rename(tmp, final) != 0) {
        fprintf(stderr, "freight gen: cannot rename %s to %s: %s\n", tmp, final, strerror(errno));
        goto out;
    }
    *bytes += ps.bytes;
    rc = 0;
out:
    if (ps.fd >= 0)
        close(ps.fd);
    pthread_mutex_destroy(&ps.mu);
    pthread_cond_destroy(&ps.turn);
    free(w);
    free(th);
    return rc;
}

/* ---- the directory and the manifest ---- */

/* mkdir -p. */
static int make_dirs(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path))
        return ENAMETOOLONG;
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char save = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return errno;
        path[i] = save;
    }
    return 0;
}

/* Creates dir, or checks an existing one is empty (or force); removes an
 * old manifest so that a half-written run never looks finished. */
static int prepare_dir(const char *dir, int force)
{
    struct stat st;
    char path[4096];
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || (errno = make_dirs(dir)) != 0) {
            fprintf(stderr, "freight gen: cannot create %s: %s\n", dir, strerror(errno));
            return -1;
        }
    } else {
        DIR *d;
        struct dirent *de;
        int empty = 1;
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "freight gen: %s exists and is not a directory\n", dir);
            return -1;
        }
        if (!(d = opendir(dir))) {
            fprintf(stderr, "freight gen: cannot read %s: %s\n", dir, strerror(errno));
            return -1;
        }
        while ((de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                empty = 0;
        closedir(d);
        if (!empty && !force) {
            fprintf(stderr, "freight gen: %s is not empty (--force writes the dataset into it anyway)\n", dir);
            return -1;
        }
    }
    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    if (unlink(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "freight gen: cannot remove the old %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The command line, each word quoted for a POSIX shell where it needs it. */
static void command_line(fn_buf *b, int argc, char **argv)
{
    fn_buf_printf(b, "freight gen");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != '\0';
        for (const char *s = a; *s; s++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%", *s))
                plain = 0;
        if (plain) {
            fn_buf_printf(b, " %s", a);
            continue;
        }
        fn_buf_printf(b, " '");
        for (const char *s = a; *s; s++)
            fn_buf_printf(b, *s == '\'' ? "'\\''" : "%c", *s);
        fn_buf_printf(b, "'");
    }
}

/* JSON string of s into b (the command may hold any byte but NUL). */
static void buf_json_str(fn_buf *b, const char *s)
{
    fn_buf_printf(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fn_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fn_buf_printf(b, "\\u%04x", ch);
        else
            fn_buf_printf(b, "%c", ch);
    }
    fn_buf_printf(b, "\"");
}

static int write_manifest(const gen_model *m, const char *dir, double scale, int argc, char **argv)
{
    char tmp[4096], final[4096], num[64];
    fn_buf b, cmd;
    int fd, rc = -1, e;
    size_t k;

    fn_buf_init(&b, 0);
    fn_buf_init(&cmd, 0);
    command_line(&cmd, argc, argv);
    fn_buf_put(&cmd, "", 1);
    /* The scale with the decimals it needs, and at least one. */
    snprintf(num, sizeof(num), "%.9f", scale);
    for (k = strlen(num); k > 0 && num[k - 1] == '0' && num[k - 2] != '.'; k--)
        num[k - 1] = '\0';
    fn_buf_printf(&b, "{\n  \"format\": \"%s\",\n  \"seed\": %llu,\n  \"scale\": %s,\n  \"start\": %lld,\n"
                      "  \"counts\": {\"companies\": %llu, \"drivers\": %llu, \"loads\": %llu},\n  \"command\": ",
                  GEN_FORMAT, (unsigned long long)m->seed, num, (long long)m->start, (unsigned long long)m->n_comp,
                  (unsigned long long)m->n_drv, (unsigned long long)m->n_load);
    buf_json_str(&b, (const char *)cmd.data);
    fn_buf_printf(&b, "\n}\n");

    snprintf(tmp, sizeof(tmp), "%s/manifest.json.tmp", dir);
    snprintf(final, sizeof(final), "%s/manifest.json", dir);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (e = write_all(fd, b.data, b.len)) != 0 || close(fd) != 0) {
        fprintf(stderr, "freight gen: cannot write %s: %s\n", tmp, strerror(fd < 0 ? errno : e ? e : errno));
        goto out;
    }
    if (rename(tmp, final) != 0) {
        fprintf(stderr, "freight gen: cannot rename %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    fn_buf_free(&b);
    fn_buf_free(&cmd);
    return rc;
}

/* ---- the command ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: freight gen --out DIR [--seed N] [--scale F] [--companies N] [--drivers N] [--loads N]\n"
               "                   [--start T] [--cities FILE] [--threads N] [--force]\n\n"
               "Writes the synthetic national dataset as JSON Lines into DIR (created; it must be\n"
               "empty unless --force): companies.jsonl, drivers.jsonl, loads.jsonl and\n"
               "manifest.json, the input of `freight import`.  The format and the models are in\n"
               "docs/dataset.md.\n\n"
               "  --seed N        the random seed, 0..2^63-1 (default 1)\n"
               "  --scale F       1 = 300,000 companies, 2,300,000 drivers, 1,000,000 loads (default 1)\n"
               "  --companies N, --drivers N, --loads N   counts that override the scale's\n"
               "  --start T       the dataset's now, Unix seconds (default 1798761600,\n"
               "                  2027-01-01T00:00:00Z); every timestamp is relative to it\n"
               "  --cities FILE   the city list (default data/cn_cities.csv, found as freight finds it)\n"
               "  --threads N     threads building records (default: the CPUs, at most 16);\n"
               "                  the output is the same for any N\n"
               "  --force         write into a directory that is not empty\n\n"
               "The same options give the same bytes.\n");
}

static int parse_count(const char *opt, const char *v, long long *out)
{
    char *end;
    long long n;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 0 || n > GEN_MAX_COUNT) {
        fprintf(stderr, "freight gen: %s must be an integer from 0 to %lld\n", opt, GEN_MAX_COUNT);
        return -1;
    }
    *out = n;
    return 0;
}

int fn_cmd_gen(int argc, char **argv)
{
    const char *dir = NULL, *cities_path = NULL;
    double scale = 1.0;
    long long n_comp = -1, n_drv = -1, n_load = -1, start = GEN_DEFAULT_START, threads;
    unsigned long long seed = 1;
    int force = 0, rc = 1;
    uint64_t t0 = fn_mono_ns(), bytes = 0;
    fn_cities cities;
    gen_model m;
    char *end;

    threads = sysconf(_SC_NPROCESSORS_ONLN);
    threads = threads < 1 ? 1 : threads > 16 ? 16 : threads;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--force")) {
            force = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "freight gen: %s needs a value (see --help)\n", a);
            return 2;
        }
        i++;
        errno = 0;
        if (!strcmp(a, "--out")) {
            dir = v;
        } else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, &end, 10);
            if (errno || end == v || *end || *v == '-' || seed > INT64_MAX) {
                fprintf(stderr, "freight gen: --seed must be an integer from 0 to 2^63-1\n");
                return 2;
            }
        } else if (!strcmp(a, "--scale")) {
            scale = strtod(v, &end);
            if (errno || end == v || *end || !(scale > 0) || scale > 40) {
                fprintf(stderr, "freight gen: --scale must be a number above 0 and at most 40\n");
                return 2;
            }
        } else if (!strcmp(a, "--start")) {
            start = strtoll(v, &end, 10);
            if (errno || end == v || *end || start < 946684800LL || start > 4102444800LL) {
                fprintf(stderr, "freight gen: --start must be Unix seconds between 2000 and 2100\n");
                return 2;
            }
        } else if (!strcmp(a, "--threads")) {
            threads = strtoll(v, &end, 10);
            if (errno || end == v || *end || threads < 1 || threads > 64) {
                fprintf(stderr, "freight gen: --threads must be from 1 to 64\n");
                return 2;
            }
        } else if (!strcmp(a, "--companies")) {
            if (parse_count(a, v, &n_comp))
                return 2;
        } else if (!strcmp(a, "--drivers")) {
            if (parse_count(a, v, &n_drv))
                return 2;
        } else if (!strcmp(a, "--loads")) {
            if (parse_count(a, v, &n_load))
                return 2;
        } else if (!strcmp(a, "--cities")) {
            cities_path = v;
        } else {
            fprintf(stderr, "freight gen: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (!dir) {
        usage(stderr);
        return 2;
    }
    if (n_comp < 0) n_comp = llround(300000 * scale);
    if (n_drv < 0) n_drv = llround(2300000 * scale);
    if (n_load < 0) n_load = llround(1000000 * scale);
    if (n_load > 0 && n_comp == 0) {
        fprintf(stderr, "freight gen: loads need at least one company to post them\n");
        return 2;
    }

    if (fn_cities_load(&cities, cities_path) != 0)
        return 1;
    memset(&m, 0, sizeof(m));
    m.seed = seed;
    m.start = start;
    m.n_comp = (uint64_t)n_comp;
    m.n_drv = (uint64_t)n_drv;
    m.n_load = (uint64_t)n_load;
    if (model_build(&m, &cities) != 0 || prepare_dir(dir, force) != 0)
        goto out;
    if (run_pass(&m, dir, "companies.jsonl", m.n_comp, emit_company, (int)threads, &bytes) != 0 ||
        run_pass(&m, dir, "drivers.jsonl", m.n_drv, emit_driver, (int)threads, &bytes) != 0 ||
        run_pass(&m, dir, "loads.jsonl", m.n_load, emit_load, (int)threads, &bytes) != 0 ||
        write_manifest(&m, dir, scale, argc, argv) != 0)
        goto out;
    printf("gen: %lld companies, %lld drivers, %lld loads (seed %llu) into %s: %.0f MB in %.1f s\n", n_comp, n_drv,
           n_load, seed, dir, (double)bytes / 1e6, (double)(fn_mono_ns() - t0) / 1e9);
    rc = 0;
out:
    model_free(&m);
    fn_cities_free(&cities);
    return rc;
}

/* ---- the models for other commands (gen.h) ---- */

struct fn_gen {
    gen_model m;
};

fn_gen *fn_gen_open(const fn_cities *cities, uint64_t seed, int64_t start_s, uint64_t companies, uint64_t drivers,
                    uint64_t loads)
{
    fn_gen *g = fn_xcalloc(1, sizeof(*g));
    g->m.seed = seed;
    g->m.start = start_s;
    g->m.n_comp = companies;
    g->m.n_drv = drivers;
    g->m.n_load = loads;
    if (model_build(&g->m, cities) != 0) {
        model_free(&g->m);
        free(g);
        return NULL;
    }
    return g;
}

void fn_gen_close(fn_gen *g)
{
    if (!g)
        return;
    model_free(&g->m);
    free(g);
}

void fn_gen_driver_json(const fn_gen *g, uint64_t id, fn_buf *b) { emit_driver(&g->m, id, b); }
void fn_gen_load_json(const fn_gen *g, uint64_t id, fn_buf *b) { emit_load(&g->m, id, b); }
