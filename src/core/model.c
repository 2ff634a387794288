/*
 * model.c — the fixed tables behind model.h: truck types and lengths,
 * provinces, and the names of roles and statuses.
 */
#include "core/model.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static const char *const role_names[] = {"none", "admin", "company", "driver", "gateway"};

const char *fn_role_name(int role)
{
    return role >= 0 && role < (int)(sizeof(role_names) / sizeof(role_names[0])) ? role_names[role] : "none";
}

static const char *const tt_keys[] = {
#define FN_TT_KEY_(key, zh) #key,
    FN_TRUCK_TYPES(FN_TT_KEY_)
#undef FN_TT_KEY_
};
static const char *const tt_zh[] = {
#define FN_TT_ZH_(key, zh) zh,
    FN_TRUCK_TYPES(FN_TT_ZH_)
#undef FN_TT_ZH_
};

const char *fn_truck_type_key(int t) { return t >= 0 && t < FN_TT__COUNT ? tt_keys[t] : "unknown"; }
const char *fn_truck_type_zh(int t) { return t >= 0 && t < FN_TT__COUNT ? tt_zh[t] : "?"; }

int fn_truck_type_parse(const char *s)
{
    for (int t = 0; t < FN_TT__COUNT; t++)
        if (strcmp(s, tt_keys[t]) == 0)
            return t;
    return -1;
}

static const int lengths_dm[FN_TRUCK_LENGTH_COUNT] = FN_TRUCK_LENGTHS_DM;

int fn_truck_length_parse(double length_m)
{
    for (int i = 0; i < FN_TRUCK_LENGTH_COUNT; i++)
        if (fabs(length_m * 10.0 - lengths_dm[i]) < 1e-6)
            return i;
    return -1;
}

int fn_truck_length_dm(int idx) { return idx >= 0 && idx < FN_TRUCK_LENGTH_COUNT ? lengths_dm[idx] : 0; }

/* English names exactly as in data/cn_cities.csv, alphabetical. */
static const char *const prov_en[FN_PROVINCE_COUNT] = {
    "Anhui", "Beijing", "Chongqing", "Fujian", "Gansu", "Guangdong", "Guangxi", "Guizhou",
    "Hainan", "Hebei", "Heilongjiang", "Henan", "Hubei", "Hunan", "Inner Mongolia", "Jiangsu",
    "Jiangxi", "Jilin", "Liaoning", "Ningxia", "Qinghai", "Shaanxi", "Shandong", "Shanghai",
    "Shanxi", "Sichuan", "Tianjin", "Tibet", "Xinjiang", "Yunnan", "Zhejiang"};
static const char *const prov_zh[FN_PROVINCE_COUNT] = {
    "安徽", "北京", "重庆", "福建", "甘肃", "广东", "广西", "贵州", "海南", "河北", "黑龙江",
    "河南", "湖北", "湖南", "内蒙古", "江苏", "江西", "吉林", "辽宁", "宁夏", "青海", "陕西",
    "山东", "上海", "山西", "四川", "天津", "西藏", "新疆", "云南", "浙江"};

/* Capitals, in the order of prov_en: where "toward a province" points. */
static const double prov_center[FN_PROVINCE_COUNT][2] = {
    {31.82, 117.23}, {39.90, 116.41}, {29.56, 106.55}, {26.07, 119.30}, {36.06, 103.83}, {23.13, 113.26},
    {22.82, 108.32}, {26.65, 106.63}, {20.04, 110.34}, {38.04, 114.51}, {45.80, 126.53}, {34.75, 113.63},
    {30.59, 114.31}, {28.23, 112.94}, {40.84, 111.75}, {32.06, 118.80}, {28.68, 115.86}, {43.82, 125.32},
    {41.81, 123.43}, {38.49, 106.23}, {36.62, 101.78}, {34.34, 108.94}, {36.65, 117.12}, {31.23, 121.47},
    {37.87, 112.55}, {30.57, 104.07}, {39.13, 117.20}, {29.65, 91.17},  {43.83, 87.62},  {25.04, 102.71},
    {30.27, 120.15}};

void fn_province_center(int idx, double *lat, double *lon)
{
    if (idx < 0 || idx >= FN_PROVINCE_COUNT)
        idx = 1; /* callers pass valid indices; Beijing rather than garbage */
    *lat = prov_center[idx][0];
    *lon = prov_center[idx][1];
}

const char *fn_province_name(int idx) { return idx >= 0 && idx < FN_PROVINCE_COUNT ? prov_en[idx] : ""; }
const char *fn_province_zh(int idx) { return idx >= 0 && idx < FN_PROVINCE_COUNT ? prov_zh[idx] : ""; }

int fn_province_parse(const char *s)
{
    for (int i = 0; i < FN_PROVINCE_COUNT; i++)
        if (strcasecmp(s, prov_en[i]) == 0 || strcmp(s, prov_zh[i]) == 0)
            return i;
    /* Accept the common suffixed Chinese forms too: 贵州省, 广西壮族自治区, 北京市. */
    for (int i = 0; i < FN_PROVINCE_COUNT; i++) {
        size_t n = strlen(prov_zh[i]);
        if (strncmp(s, prov_zh[i], n) == 0 &&
            (strcmp(s + n, "省") == 0 || strcmp(s + n, "市") == 0 || strstr(s + n, "自治区") != NULL))
            return i;
    }
    return -1;
}

static const char *const ck_names[FN_CK__COUNT] = {"shipper", "carrier", "broker", "logistics"};

const char *fn_company_kind_name(int k) { return k >= 0 && k < FN_CK__COUNT ? ck_names[k] : "unknown"; }

int fn_company_kind_parse(const char *s)
{
    for (int k = 0; k < FN_CK__COUNT; k++)
        if (strcmp(s, ck_names[k]) == 0)
            return k;
    return -1;
}

const char *fn_driver_status_name(int s)
{
    static const char *const n[] = {"offline", "available", "on_trip"};
    return s >= 0 && s < 3 ? n[s] : "unknown";
}

const char *fn_load_status_name(int s)
{
    static const char *const n[] = {"open", "booked", "in_transit", "delivered", "cancelled", "expired"};
    return s >= 0 && s < 6 ? n[s] : "unknown";
}

const char *fn_booking_status_name(int s)
{
    static const char *const n[] = {"booked", "picked_up", "delivered", "cancelled"};
    return s >= 0 && s < 4 ? n[s] : "unknown";
}

int fn_load_status(const fn_load *l, int64_t now_s)
{
    if (l->status == FN_LS_OPEN) {
        int64_t end = l->expires_at ? l->expires_at : l->pickup_latest_at;
        if (end <= now_s)
            return FN_LS_EXPIRED;
    }
    return l->status;
}
