/*
 * model.h — the marketplace's nouns: companies, drivers with their trucks,
 * gateways, loads and bookings, and the fixed tables they draw on (truck
 * types and lengths, provinces, statuses).
 *
 * These structs are the in-memory state.  They are plain data: the state
 * module (state.h) owns every instance and every string they point to
 * (strings live in the state's arena and are never freed one by one).
 * Units are in the names; money is integer fen (1/100 yuan) so that prices
 * are exact; weights are kilograms and volumes litres for the same reason.
 */
#ifndef FN_MODEL_H
#define FN_MODEL_H

#include <stdint.h>

/* Roles, as carried in a token's principal. */
enum fn_role { FN_ROLE_NONE = 0, FN_ROLE_ADMIN = 1, FN_ROLE_COMPANY = 2, FN_ROLE_DRIVER = 3, FN_ROLE_GATEWAY = 4 };
const char *fn_role_name(int role);

/* Truck types: one table (key, Chinese name).  The index is stored. */
#define FN_TRUCK_TYPES(X)            \
    X(flatbed, "平板")               \
    X(low_rail, "低栏")              \
    X(high_rail, "高栏")             \
    X(van, "厢式")                   \
    X(refrigerated, "冷藏")          \
    X(insulated, "保温")             \
    X(container, "集装箱")           \
    X(dump, "自卸")                  \
    X(tanker, "罐式")                \
    X(hazmat, "危险品")              \
    X(wing_van, "飞翼")              \
    X(lowbed, "高低板")

enum fn_truck_type {
#define FN_TT_ENUM_(key, zh) FN_TT_##key,
    FN_TRUCK_TYPES(FN_TT_ENUM_)
#undef FN_TT_ENUM_
    FN_TT__COUNT
};
const char *fn_truck_type_key(int t);
const char *fn_truck_type_zh(int t);
/* Returns the type's index, or -1 for an unknown key. */
int fn_truck_type_parse(const char *s);

/* Truck lengths in decimetres (4.2 m = 42), the only lengths the API accepts. */
#define FN_TRUCK_LENGTHS_DM {42, 52, 68, 76, 87, 96, 125, 130, 150, 160, 175}
#define FN_TRUCK_LENGTH_COUNT 11
/* Returns the index of a length in metres, or -1 if it is not one of the table's. */
int fn_truck_length_parse(double length_m);
/* Returns the length in decimetres for an index. */
int fn_truck_length_dm(int idx);

/* Provinces of mainland China (English names as in data/cn_cities.csv and
 * Chinese names); the index is stored, and preferred provinces are a bit mask. */
#define FN_PROVINCE_COUNT 31
const char *fn_province_name(int idx);
const char *fn_province_zh(int idx);
/* Returns the index for an English or Chinese name (case-insensitive for
 * English), or -1. */
int fn_province_parse(const char *s);

/* The province's capital, the point "toward=<province>" aims at. */
void fn_province_center(int idx, double *lat, double *lon);

enum fn_company_kind { FN_CK_SHIPPER, FN_CK_CARRIER, FN_CK_BROKER, FN_CK_LOGISTICS, FN_CK__COUNT };
const char *fn_company_kind_name(int k);
int fn_company_kind_parse(const char *s);

enum fn_driver_status { FN_DS_OFFLINE = 0, FN_DS_AVAILABLE = 1, FN_DS_ON_TRIP = 2 };
const char *fn_driver_status_name(int s);

/* A load's stored status; "expired" is derived when read (see fn_load_status). */
enum fn_load_status {
    FN_LS_OPEN = 0,
    FN_LS_BOOKED,
    FN_LS_IN_TRANSIT,
    FN_LS_DELIVERED,
    FN_LS_CANCELLED,
    FN_LS_EXPIRED /* never stored */
};
const char *fn_load_status_name(int s);

enum fn_booking_status { FN_BS_BOOKED = 0, FN_BS_PICKED_UP, FN_BS_DELIVERED, FN_BS_CANCELLED };
const char *fn_booking_status_name(int s);

typedef struct fn_company {
    uint64_t id;           /* 0 marks an unused slot */
    const char *name;      /* 1..100 characters, UTF-8 */
    const char *city;      /* may be "" */
    int8_t province;       /* province index, -1 when not given */
    uint8_t kind;          /* enum fn_company_kind */
    int64_t created_at;
    uint32_t rating_sum;   /* stars received from drivers */
    uint32_t rating_count;
    uint32_t loads_posted;
    uint32_t loads_booked;
    uint32_t loads_delivered;
    uint32_t loads_cancelled;
} fn_company;

typedef struct fn_driver {
    uint64_t id;
    const char *name;
    const char *phone;
    const char *plate;
    double home_lat, home_lon;
    double lat, lon;        /* last reported position; valid when pos_ts > 0 */
    int64_t pos_ts;         /* Unix seconds of the last position, 0 = none yet */
    uint16_t speed_dkmh;    /* speed in 0.1 km/h */
    uint16_t heading_ddeg;  /* heading in 0.1 degree, 0xffff = unknown */
    uint32_t capacity_kg;
    uint32_t volume_l;      /* 0 = not stated */
    uint8_t truck_type;     /* enum fn_truck_type */
    uint8_t length_idx;     /* index into FN_TRUCK_LENGTHS_DM */
    uint8_t status;         /* enum fn_driver_status */
    uint32_t provinces_mask; /* bit i = province i preferred */
    uint32_t an_slot;       /* where the analytics counts it as supply (stats/analytics.h:
                               fn_an_driver); derived, never stored: it fills padding */
    uint64_t booking_id;    /* the active booking while on_trip, else 0 */
    uint32_t rating_sum;    /* stars received from companies */
    uint32_t rating_count;
    uint32_t trips_delivered;
    int64_t created_at;
} fn_driver;

typedef struct fn_gateway {
    uint64_t id;
    const char *name;
    int64_t created_at;
} fn_gateway;

typedef struct fn_place {
    double lat, lon;
    const char *city;       /* may be "" */
    int8_t province;        /* -1 when not given */
} fn_place;

typedef struct fn_load {
    uint64_t id;
    uint64_t company_id;
    fn_place origin, dest;
    const char *cargo_kind;
    const char *contact_name;  /* the owner's contact, shown only to those entitled */
    const char *contact_phone;
    const char *notes;
    uint32_t weight_kg;
    uint32_t volume_l;         /* 0 = not stated */
    uint16_t types_mask;       /* bit t = truck type t accepted */
    int8_t min_length_idx;     /* -1 = any length */
    uint8_t status;            /* enum fn_load_status (never EXPIRED) */
    int64_t pickup_earliest_at, pickup_latest_at;
    int64_t expires_at;        /* 0 = when the pickup window closes */
    int64_t created_at;
    int64_t price_fen;         /* the offered price, in fen */
    uint64_t booking_id;       /* 0 until booked */
} fn_load;

typedef struct fn_booking {
    uint64_t id;
    uint64_t load_id;
    uint64_t driver_id;
    uint64_t company_id;
    uint8_t status;             /* enum fn_booking_status */
    uint8_t cancelled_by;       /* enum fn_role of who cancelled, 0 otherwise */
    uint8_t company_stars;      /* the company's rating of the driver, 0 = not yet */
    uint8_t driver_stars;       /* the driver's rating of the company, 0 = not yet */
    const char *company_comment;
    const char *driver_comment;
    int64_t booked_at, picked_up_at, delivered_at, cancelled_at;
    double deadhead_km;         /* road estimate from the truck's position to pickup, at booking */
    double loaded_km;           /* road estimate from pickup to delivery */
} fn_booking;

/* A load's status as seen at time now_s: an open load whose expiry (or, with
 * none, its pickup window's end) has passed reads as "expired". */
int fn_load_status(const fn_load *l, int64_t now_s);

#endif
