/*
 * regions.h — the regions the analytics counts in: the 1,176 cities of
 * data/cn_cities.csv (compiled in, see scripts/gen_cities_data.sh) and the
 * 34 provincial-level divisions of China with their Chinese names.
 *
 * The region of a point is its nearest city by great-circle distance (ties:
 * the city listed first, i.e. the more populous), and the region's province
 * is that city's.  The lookup is exact: a 0.1 degree grid over lat 15..56,
 * lon 70..138 stores, for each cell, either the one city that is nearest to
 * every point of the cell or the few cities that can be (every city within
 * d1 + 2h of the cell centre, where d1 is the nearest city's distance from
 * the centre and h the centre's distance to the cell's farthest corner; the
 * triangle inequality puts the true nearest among them).  Points outside the
 * grid are compared against every city.
 *
 * The table is built once per process (about 20 ms) on first use and is
 * read-only after: safe from any thread.
 */
#ifndef FN_REGIONS_H
#define FN_REGIONS_H

#include <stddef.h>
#include <stdint.h>

#define FN_RG_PROVINCES 34   /* provincial-level divisions, see fn_rg_province_* */

typedef struct fn_rg_city {
    const char *name;        /* English, as in data/cn_cities.csv */
    int province;            /* index into the 34 divisions */
    double lat, lon;
    uint64_t population;
} fn_rg_city;

/* Number of cities, and city i (0 <= i < count), in the CSV's order. */
size_t fn_rg_city_count(void);
const fn_rg_city *fn_rg_city_at(size_t i);

/* The index of the nearest city to (lat, lon): see above. */
uint32_t fn_rg_city_of(double lat, double lon);

/* The lookup grid's cell of (lat, lon) (< FN_RG_CELLS), or FN_RG_NO_CELL
 * outside the grid; and the city every point of that cell is nearest to, or
 * -1 when that depends on the point (then ask fn_rg_city_of). */
#define FN_RG_CELLS (410u * 680u)
#define FN_RG_NO_CELL 0xffffffffu
uint32_t fn_rg_cell_of(double lat, double lon);
int fn_rg_cell_city(uint32_t cell);

/* The divisions: English name (as in data/cn_cities.csv), Chinese short name
 * (贵州), and the population-weighted centroid of its cities (NaN when the
 * table holds no city of it: Hong Kong, Macau, Taiwan). */
const char *fn_rg_province_name(int p);
const char *fn_rg_province_zh(int p);
void fn_rg_province_centroid(int p, double *lat, double *lon);
/* Index of an English (case-insensitive) or Chinese name (贵州, 贵州省,
 * 广西壮族自治区), or -1. */
int fn_rg_province_parse(const char *s);

/* Bytes the lookup tables hold. */
size_t fn_rg_bytes(void);

#endif
