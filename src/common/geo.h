/*
 * geo.h — distances on the earth and the location-privacy grid.
 *
 * distance_km is great-circle (haversine, R = 6371.0088 km, the mean
 * radius); road estimates multiply it by a circuity factor (1.3 unless
 * configured), as the API contract says.
 */
#ifndef FN_GEO_H
#define FN_GEO_H

#include <stdint.h>

#define FN_EARTH_RADIUS_KM 6371.0088
#define FN_KM_PER_DEG_LAT 111.19508 /* 2*pi*R/360 */

/* Great-circle distance in km between two WGS84 points in degrees. */
double fn_haversine_km(double lat1, double lon1, double lat2, double lon2);

/* The fixed privacy grid: cells of FN_PRIVACY_CELL_DEG degrees (about
 * 2.2 km north-south, 1.8-2.0 km east-west over China).  A point is replaced
 * by its cell's centre, so every caller who may not see the exact position
 * sees the same snapped point whatever they query from. */
#define FN_PRIVACY_CELL_DEG 0.02
void fn_privacy_snap(double lat, double lon, double *snap_lat, double *snap_lon);
/* The same for a position known only to single precision (a grid entry's
 * copy of it): 0 and the snapped point exactly as fn_privacy_snap gives it
 * for the double the float came from, with *cell naming the privacy cell;
 * or -1 when the float lies too near a cell edge to tell which cell. */
int fn_privacy_snap_float(float lat, float lon, double *snap_lat, double *snap_lon, uint64_t *cell);

/* The service area, a lat/lon box; mainland China by default. */
typedef struct fn_area {
    double lat_min, lat_max, lon_min, lon_max;
} fn_area;
#define FN_AREA_CHINA ((fn_area){18.0, 54.0, 73.0, 135.0})
static inline int fn_area_contains(const fn_area *a, double lat, double lon)
{
    return lat >= a->lat_min && lat <= a->lat_max && lon >= a->lon_min && lon <= a->lon_max;
}

#endif
