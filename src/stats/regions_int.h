/*
 * regions_int.h — the compiled-in city rows (cities_data.c, generated) that
 * regions.c builds its tables from.  Nothing outside src/stats includes it.
 */
#ifndef FN_REGIONS_INT_H
#define FN_REGIONS_INT_H

typedef struct fn__city_row {
    const char *name, *province;
    double lat, lon;
    unsigned long long population;
} fn__city_row;

extern const fn__city_row fn__cities_data[];
extern const unsigned fn__cities_data_count;

#endif
