/*
 * regions.c — the city and province tables of regions.h and the exact
 * nearest-city lookup grid.
 */
#include "stats/regions.h"
#include "stats/regions_int.h"

#include "common/fn.h"
#include "common/geo.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The 34 provincial-level divisions: English (as data/cn_cities.csv spells
 * them), Chinese short name, Chinese full name. */
static const struct {
    const char *en, *zh, *full;
} provinces[FN_RG_PROVINCES] = {
    {"Anhui", "安徽", "安徽省"},
    {"Beijing", "北京", "北京市"},
    {"Chongqing", "重庆", "重庆市"},
    {"Fujian", "福建", "福建省"},
    {"Gansu", "甘肃", "甘肃省"},
    {"Guangdong", "广东", "广东省"},
    {"Guangxi", "广西", "广西壮族自治区"},
    {"Guizhou", "贵州", "贵州省"},
    {"Hainan", "海南", "海南省"},
    {"Hebei", "河北", "河北省"},
    {"Heilongjiang", "黑龙江", "黑龙江省"},
    {"Henan", "河南", "河南省"},
    {"Hubei", "湖北", "湖北省"},
    {"Hunan", "湖南", "湖南省"},
    {"Inner Mongolia", "内蒙古", "内蒙古自治区"},
    {"Jiangsu", "江苏", "江苏省"},
    {"Jiangxi", "江西", "江西省"},
    {"Jilin", "吉林", "吉林省"},
    {"Liaoning", "辽宁", "辽宁省"},
    {"Ningxia", "宁夏", "宁夏回族自治区"},
    {"Qinghai", "青海", "青海省"},
    {"Shaanxi", "陕西", "陕西省"},
    {"Shandong", "山东", "山东省"},
    {"Shanghai", "上海", "上海市"},
    {"Shanxi", "山西", "山西省"},
    {"Sichuan", "四川", "四川省"},
    {"Tianjin", "天津", "天津市"},
    {"Tibet", "西藏", "西藏自治区"},
    {"Xinjiang", "新疆", "新疆维吾尔自治区"},
    {"Yunnan", "云南", "云南省"},
    {"Zhejiang", "浙江", "浙江省"},
    {"Hong Kong", "香港", "香港特别行政区"},
    {"Macau", "澳门", "澳门特别行政区"},
    {"Taiwan", "台湾", "台湾省"},
};

const char *fn_rg_province_name(int p) { return p >= 0 && p < FN_RG_PROVINCES ? provinces[p].en : ""; }
const char *fn_rg_province_zh(int p) { return p >= 0 && p < FN_RG_PROVINCES ? provinces[p].zh : ""; }

int fn_rg_province_parse(const char *s)
{
    size_t n;
    for (int i = 0; i < FN_RG_PROVINCES; i++)
        if (strcasecmp(s, provinces[i].en) == 0 || strcmp(s, provinces[i].zh) == 0 || strcmp(s, provinces[i].full) == 0)
            return i;
    for (int i = 0; i < FN_RG_PROVINCES; i++) {
        n = strlen(provinces[i].zh);
        if (strncmp(s, provinces[i].zh, n) == 0 && (strcmp(s + n, "省") == 0 || strcmp(s + n, "市") == 0))
            return i;
    }
    return -1;
}

/* The lookup grid. */
#define G_LAT0 15.0
#define G_LON0 70.0
#define G_STEP 0.1
#define G_ROWS 410 /* lat 15 .. 56 */
#define G_COLS 680 /* lon 70 .. 138 */
#define G_AMBIG 0x80000000u

static struct {
    fn_rg_city *city;
    double (*xyz)[3];          /* unit vectors, for comparing distances by dot product */
    size_t n;
    uint32_t *cell;            /* G_ROWS x G_COLS: city index, or G_AMBIG | offset into cand */
    uint32_t *cand;            /* at an offset: count, margin (a float's bits, see fn_rg_city_of),
                                  then count city indexes */
    size_t ncand;
    double centroid[FN_RG_PROVINCES][2];
    double row_sc[G_ROWS][2];  /* sin, cos of each row's centre latitude */
    double col_sc[G_COLS][2];  /* sin, cos of each column's centre longitude */
} T;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void to_xyz(double lat, double lon, double v[3])
{
    double la = lat * M_PI / 180.0, lo = lon * M_PI / 180.0;
    v[0] = cos(la) * cos(lo);
    v[1] = cos(la) * sin(lo);
    v[2] = sin(la);
}

/* Nearest of the listed cities (all when list is NULL) by largest dot
 * product, which orders exactly as great-circle distance; ties: lowest index. */
static uint32_t nearest_of(const double v[3], const uint32_t *list, size_t n)
{
    uint32_t best = 0;
    double bd = -2.0;
    for (size_t k = 0; k < n; k++) {
        uint32_t i = list ? list[k] : (uint32_t)k;
        double d = v[0] * T.xyz[i][0] + v[1] * T.xyz[i][1] + v[2] * T.xyz[i][2];
        if (d > bd || (d == bd && i < best)) {
            bd = d;
            best = i;
        }
    }
    return best;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The candidates of a box around (clat, clon) whose farthest point is h km
 * from it, chosen from list (n cities): every city within d1 + 2h, d1 being
 * the nearest one's distance from the centre.  Writes them sorted into out
 * and returns their count. */
static size_t candidates(double clat, double clon, double h, const uint32_t *list, size_t n, uint32_t *out)
{
    double v[3], best = -2.0, d1, min_dot;
    size_t m = 0;
    to_xyz(clat, clon, v);
    for (size_t j = 0; j < n; j++) {
        const double *w = T.xyz[list[j]];
        double dot = v[0] * w[0] + v[1] * w[1] + v[2] * w[2];
        if (dot > best)
            best = dot;
    }
    d1 = acos(best > 1 ? 1 : best) * FN_EARTH_RADIUS_KM;
    /* Distance <= d1 + 2h is dot >= cos((d1 + 2h) / R); the small margin keeps
     * a city on the edge in despite rounding. */
    min_dot = cos(FN_MIN((d1 + 2 * h) / FN_EARTH_RADIUS_KM, M_PI)) - 1e-12;
    for (size_t j = 0; j < n; j++) {
        const double *w = T.xyz[list[j]];
        if (v[0] * w[0] + v[1] * w[1] + v[2] * w[2] >= min_dot)
            out[m++] = list[j];
    }
    qsort(out, m, sizeof(uint32_t), cmp_u32);
    return m;
}

/* The distance from the centre of a box of step degrees to its farthest
 * corner (an equatorward one), with a margin. */
static double half_diag_km(double clat, double step)
{
    double edge = fabs(clat) - step / 2;
    return fn_haversine_km(fabs(clat), 0, edge < 0 ? 0 : edge, step / 2) * 1.001 + 1e-6;
}

/* Two levels: for each 1-degree block, the candidates among all cities;
 * then for each 0.1-degree cell, the candidates among its block's.  That is
 * exact: the nearest city of any point of a cell is a candidate of its
 * block, and the cell's filter keeps it. */
static void build(void)
{
    size_t candcap = 1 << 16;
    uint32_t *all, *blk, *tmp;
    double wsum[FN_RG_PROVINCES] = {0};
    const int per = (int)(1.0 / G_STEP + 0.5); /* cells per block side */

    T.n = fn__cities_data_count;
    T.city = fn_xcalloc(T.n, sizeof(*T.city));
    T.xyz = fn_xcalloc(T.n, sizeof(*T.xyz));
    for (size_t i = 0; i < T.n; i++) {
        const fn__city_row *r = &fn__cities_data[i];
        fn_rg_city *c = &T.city[i];
        c->name = r->name;
        c->province = fn_rg_province_parse(r->province);
        c->lat = r->lat;
        c->lon = r->lon;
        c->population = r->population;
        to_xyz(c->lat, c->lon, T.xyz[i]);
        if (c->province >= 0) {
            double w = (double)(c->population ? c->population : 1);
            T.centroid[c->province][0] += w * c->lat;
            T.centroid[c->province][1] += w * c->lon;
            wsum[c->province] += w;
        }
    }
    for (int p = 0; p < FN_RG_PROVINCES; p++) {
        if (wsum[p] > 0) {
            T.centroid[p][0] /= wsum[p];
            T.centroid[p][1] /= wsum[p];
        } else {
            T.centroid[p][0] = T.centroid[p][1] = NAN;
        }
    }
    for (int r = 0; r < G_ROWS; r++) {
        double la = (G_LAT0 + (r + 0.5) * G_STEP) * M_PI / 180.0;
        T.row_sc[r][0] = sin(la);
        T.row_sc[r][1] = cos(la);
    }
    for (int c = 0; c < G_COLS; c++) {
        double lo = (G_LON0 + (c + 0.5) * G_STEP) * M_PI / 180.0;
        T.col_sc[c][0] = sin(lo);
        T.col_sc[c][1] = cos(lo);
    }
    all = fn_xmalloc(T.n * sizeof(uint32_t));
    blk = fn_xmalloc(T.n * sizeof(uint32_t));
    tmp = fn_xmalloc(T.n * sizeof(uint32_t));
    for (size_t i = 0; i < T.n; i++)
        all[i] = (uint32_t)i;
    T.cell = fn_xmalloc((size_t)G_ROWS * G_COLS * sizeof(uint32_t));
    T.cand = fn_xmalloc(candcap * sizeof(uint32_t));
    for (int br = 0; br < G_ROWS / per; br++) {
        for (int bc = 0; bc < G_COLS / per; bc++) {
            double blat = G_LAT0 + br + 0.5, blon = G_LON0 + bc + 0.5;
            size_t nb = candidates(blat, blon, half_diag_km(blat, 1.0), all, T.n, blk);
            for (int r = br * per; r < (br + 1) * per; r++) {
                double clat = G_LAT0 + (r + 0.5) * G_STEP, h = half_diag_km(clat, G_STEP);
                for (int c = bc * per; c < (bc + 1) * per; c++) {
                    size_t m = candidates(clat, G_LON0 + (c + 0.5) * G_STEP, h, blk, nb, tmp);
                    if (m == 1) {
                        T.cell[(size_t)r * G_COLS + c] = tmp[0];
                        continue;
                    }
                    float margin;
                    double dmax = 0;
                    while (T.ncand + m + 2 > candcap) {
                        candcap *= 2;
                        T.cand = fn_xrealloc(T.cand, candcap * sizeof(uint32_t));
                    }
                    for (size_t x = 0; x < m; x++)
                        for (size_t y = x + 1; y < m; y++) {
                            const double *p = T.xyz[tmp[x]], *q = T.xyz[tmp[y]];
                            double d = sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) +
                                            (p[2] - q[2]) * (p[2] - q[2]));
                            dmax = d > dmax ? d : dmax;
                        }
                    /* Twice the first-order error (1.53e-6, see fn_rg_city_of) times the
                     * widest chord between two candidates, rounded up, plus rounding slack. */
                    margin = (float)(2 * 1.6e-6 * dmax + 1e-12) * 1.0001f;
                    T.cell[(size_t)r * G_COLS + c] = G_AMBIG | (uint32_t)T.ncand;
                    T.cand[T.ncand++] = (uint32_t)m;
                    memcpy(&T.cand[T.ncand++], &margin, sizeof(margin));
                    memcpy(T.cand + T.ncand, tmp, m * sizeof(uint32_t));
                    T.ncand += m;
                }
            }
        }
    }
    free(all);
    free(blk);
    free(tmp);
}

static void ensure(void) { pthread_once(&once, build); }

size_t fn_rg_city_count(void)
{
    ensure();
    return T.n;
}

const fn_rg_city *fn_rg_city_at(size_t i)
{
    ensure();
    return i < T.n ? &T.city[i] : NULL;
}

uint32_t fn_rg_city_of(double lat, double lon)
{
    double v[3];
    int r, c;
    uint32_t e;
    ensure();
    if (!(lat >= G_LAT0 && lat < G_LAT0 + G_ROWS * G_STEP && lon >= G_LON0 && lon < G_LON0 + G_COLS * G_STEP)) {
        if (!(lat == lat) || !(lon == lon))
            return 0; /* no point: callers pass checked positions */
        to_xyz(lat, lon, v);
        return nearest_of(v, NULL, T.n);
    }
    r = (int)floor((lat - G_LAT0) / G_STEP);
    c = (int)floor((lon - G_LON0) / G_STEP);
    if (r < 0 || r >= G_ROWS || c < 0 || c >= G_COLS) {
        to_xyz(lat, lon, v);
        return nearest_of(v, NULL, T.n);
    }
    e = T.cell[(size_t)r * G_COLS + c];
    if (!(e & G_AMBIG))
        return e;
    {
        /* The point's unit vector to first order from the cell centre's (no
         * trigonometry): the error vector err has |err| <= (|dlat| + |dlon|)^2 / 2
         * <= 1.53e-6 (radians of at most 0.05 degrees each; every second
         * derivative of the unit vector has norm <= 1).  Candidate i beats j
         * exactly iff p.(x_i - x_j) > 0, and the approximation moves that by
         * err.(x_i - x_j), at most 1.53e-6 |x_i - x_j|: a winner ahead of every
         * other by more than the cell's margin (2 x 1.6e-6 x the widest chord
         * between its candidates) is the exact winner.  Closer races (within
         * metres of a border) are settled with the exact vector. */
        const uint32_t *cand = T.cand + (e & ~G_AMBIG) + 2;
        uint32_t n = T.cand[e & ~G_AMBIG], best = 0;
        float margin;
        double sla = T.row_sc[r][0], cla = T.row_sc[r][1], slo = T.col_sc[c][0], clo = T.col_sc[c][1];
        double dla = (lat - (G_LAT0 + (r + 0.5) * G_STEP)) * M_PI / 180.0;
        double dlo = (lon - (G_LON0 + (c + 0.5) * G_STEP)) * M_PI / 180.0;
        double b1 = -3.0, b2 = -3.0;
        v[0] = cla * clo - dla * sla * clo - dlo * cla * slo;
        v[1] = cla * slo - dla * sla * slo + dlo * cla * clo;
        v[2] = sla + dla * cla;
        for (uint32_t k = 0; k < n; k++) {
            const double *w = T.xyz[cand[k]];
            double d = v[0] * w[0] + v[1] * w[1] + v[2] * w[2];
            if (d > b1) {
                b2 = b1;
                b1 = d;
                best = cand[k];
            } else if (d > b2) {
                b2 = d;
            }
        }
        memcpy(&margin, &T.cand[(e & ~G_AMBIG) + 1], sizeof(margin));
        if (b1 - b2 > (double)margin)
            return best;
        to_xyz(lat, lon, v);
        return nearest_of(v, cand, n);
    }
}

uint32_t fn_rg_cell_of(double lat, double lon)
{
    if (!(lat >= G_LAT0 && lat < G_LAT0 + G_ROWS * G_STEP && lon >= G_LON0 && lon < G_LON0 + G_COLS * G_STEP))
        return FN_RG_NO_CELL;
    int r = (int)floor((lat - G_LAT0) / G_STEP), c = (int)floor((lon - G_LON0) / G_STEP);
    if (r < 0 || r >= G_ROWS || c < 0 || c >= G_COLS)
        return FN_RG_NO_CELL;
    return (uint32_t)r * G_COLS + (uint32_t)c;
}

int fn_rg_cell_city(uint32_t cell)
{
    uint32_t e;
    ensure();
    if (cell >= (uint32_t)G_ROWS * G_COLS)
        return -1;
    e = T.cell[cell];
    return e & G_AMBIG ? -1 : (int)e;
}

void fn_rg_province_centroid(int p, double *lat, double *lon)
{
    ensure();
    *lat = p >= 0 && p < FN_RG_PROVINCES ? T.centroid[p][0] : NAN;
    *lon = p >= 0 && p < FN_RG_PROVINCES ? T.centroid[p][1] : NAN;
}

size_t fn_rg_bytes(void)
{
    ensure();
    return T.n * (sizeof(*T.city) + sizeof(*T.xyz)) + (size_t)G_ROWS * G_COLS * sizeof(uint32_t) +
           T.ncand * sizeof(uint32_t);
}
