#ifndef FN_BOUND_H
#define FN_BOUND_H
#include <stddef.h>
#include <stdint.h>
typedef struct fn_bound_truck { double lat, lon; int64_t t_s; uint8_t truck_type; uint8_t length_idx; uint32_t capacity_kg, volume_l; } fn_bound_truck;
typedef struct fn_bound_load { double olat, olon, dlat, dlon; int64_t earliest_s, latest_s; uint16_t types_mask; int8_t min_length_idx; uint32_t weight_kg, volume_l; } fn_bound_load;
typedef struct fn_bound_config { double circuity; double speed_kmh; int64_t service_s; size_t k; } fn_bound_config;
typedef struct fn_bound_result { size_t served; double empty_km; double loaded_km; int exact; size_t rounds, edges; int32_t *pred; double build_ms, solve_ms, check_ms; } fn_bound_result;
int fn_bound_solve(const fn_bound_config *cfg, const fn_bound_truck *t, size_t nt, const fn_bound_load *l, size_t nl, fn_bound_result *out);
void fn_bound_result_free(fn_bound_result *r);
#endif
