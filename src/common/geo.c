/*
 * geo.c — haversine and the privacy grid.
 */
#include "common/geo.h"

#include <math.h>

double fn_haversine_km(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    if (a > 1.0)
        a = 1.0;
    return 2.0 * FN_EARTH_RADIUS_KM * asin(sqrt(a));
}

void fn_privacy_snap(double lat, double lon, double *snap_lat, double *snap_lon)
{
    *snap_lat = (floor(lat / FN_PRIVACY_CELL_DEG) + 0.5) * FN_PRIVACY_CELL_DEG;
    *snap_lon = (floor(lon / FN_PRIVACY_CELL_DEG) + 0.5) * FN_PRIVACY_CELL_DEG;
}

int fn_privacy_snap_float(float lat, float lon, double *snap_lat, double *snap_lon, uint64_t *cell)
{
    double fy = (double)lat / FN_PRIVACY_CELL_DEG, fx = (double)lon / FN_PRIVACY_CELL_DEG;
    double ry = floor(fy), rx = floor(fx);
    /* A float is within 1e-5 degree of the double it came from: 5e-4 of a cell. */
    if (fy - ry < 1e-3 || ry + 1 - fy < 1e-3 || fx - rx < 1e-3 || rx + 1 - fx < 1e-3)
        return -1;
    *snap_lat = (ry + 0.5) * FN_PRIVACY_CELL_DEG;
    *snap_lon = (rx + 0.5) * FN_PRIVACY_CELL_DEG;
    *cell = (uint64_t)(ry + 8192) << 24 | (uint64_t)(rx + 16384);
    return 0;
}
