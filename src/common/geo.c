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
