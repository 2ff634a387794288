/*
 * sim.h — a discrete-event simulation of freight days on the real engine.
 *
 * The simulation builds a private fn_state (no log, no server) and drives
 * it only through log records, exactly as freightd's writes do: loads are
 * posted when their time comes, trucks are booked, pick up, deliver, go
 * offline to drive home and come back.  The policy under test decides who
 * takes which load, using the engine's own searches (state.h, match.h,
 * dispatch.h) on that state at the simulated time.
 *
 * Trucks drive at a constant road speed, road km being great-circle km
 * times the circuity, as everywhere in freightd.  A truck that is booked
 * drives empty to the pickup (deadhead), waits for the window to open if
 * early, loads (service time), drives loaded to the delivery, unloads
 * (service time) and is free there.  Every policy shares the drivers'
 * behaviour when no load comes: a truck left idle for give_up_s further
 * than home_km from home drives home empty, out of the market until it
 * arrives.  Only who-takes-what differs between policies (docs/simulation.md).
 *
 * Loads are posted over [start, start + days); at the horizon no more
 * bookings are made and the trips already booked are driven to the end, so
 * every booking's empty and loaded km are both counted.  Then every truck
 * away from home goes home: those km are kept apart (final_return_km), as
 * they belong to no day's rate but a plan for the day must pay them.  The result is the
 * same for the same input: events at the same second run in the order they
 * were scheduled, and every search breaks ties by id.
 */
#ifndef FN_SIM_H
#define FN_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/model.h"

enum fn_sim_policy {
    FN_SIM_BOARD,     /* after delivery, the nearest fitting load on the local board */
    FN_SIM_MATCH,     /* freightd's ranked matches both ways, backhaul toward home */
    FN_SIM_DISPATCH,  /* global dispatch of the whole country every dispatch_every_s */
    FN_SIM_BACKHAUL,  /* dispatch every dispatch_every_s on deadhead plus the trip home it
                         makes or saves, so trucks away from home get the loads first */
    FN_SIM__POLICIES
};
const char *fn_sim_policy_name(int p);
/* Returns the policy for a name, or -1. */
int fn_sim_policy_parse(const char *s);

typedef struct fn_sim_config {
    int policy;
    int64_t start_s;          /* the first day's start (Unix seconds) */
    int days;                 /* loads are posted over [start, start + days x 24 h) */
    double speed_kmh;         /* road speed, loaded or empty (50) */
    double circuity;          /* road km per great-circle km (1.3) */
    int64_t service_s;        /* to load, and again to unload (3600) */
    double board_km;          /* board: how far a driver's local board reaches (50) */
    double match_km;          /* match: the search radius, road km (300) */
    double dispatch_km;       /* dispatch: the pair radius, road km (300) */
    int64_t dispatch_every_s; /* dispatch: the interval (600) */
    size_t dispatch_k;        /* dispatch: trucks kept per load (16) */
    double home_weight;       /* backhaul: weight of the trip home in the cost (0.3) */
    int prebook;              /* backhaul: also promise loads to loaded trucks for after
                                 their delivery, from where and when it ends (1) */
    int64_t give_up_s;        /* an idle truck away from home drives home after this (8 h) */
    double home_km;           /* a truck within this of home is at home (50) */
    void (*progress)(void *arg, double frac); /* may be NULL; frac of the simulated time done */
    void *progress_arg;
} fn_sim_config;

/* Fills cfg with the defaults above for the policy. */
void fn_sim_config_default(fn_sim_config *cfg, int policy);

/* What a run produced.  Per-load arrays are indexed like the input loads. */
typedef struct fn_sim_result {
    size_t trucks, loads;
    size_t booked, delivered, expired;   /* loads; expired = never booked */
    double deadhead_km;                  /* empty, to pickups */
    double return_km;                    /* empty, home after giving up */
    double empty_km;                     /* deadhead + return */
    double loaded_km;
    double empty_rate;                   /* empty / (empty + loaded) */
    double final_return_km;              /* after the last delivery, every truck farther than
                                            home_km from home drives home: the km that closes
                                            the day, compared with the closed bound (bound.h) */
    double revenue_yuan;                 /* prices of the delivered loads */
    double revenue_per_truck_day;        /* over the whole fleet */
    double match_p50_min, match_p90_min; /* posting to booking, booked loads */
    size_t trucks_used;                  /* trucks that carried at least one load */
    size_t returns;                      /* trips home empty */
    size_t dispatch_runs;
    /* per load: the truck's index (-1 never booked), when booked, the deadhead */
    int32_t *load_truck;
    int64_t *load_booked_at, *load_delivered_at;
    int64_t *load_matched_at;  /* when it got its truck: booked, or promised before (backhaul) */
    double *load_deadhead_km;
    /* per truck: km driven empty (deadhead + return) and loaded */
    double *truck_empty_km, *truck_loaded_km;
    /* per hour from start: empty km (deadhead counted when booked, returns
     * when started), loaded km (when picked up), bookings */
    size_t hours;
    double *hour_empty_km, *hour_loaded_km;
    uint32_t *hour_booked;
    double wall_s;
} fn_sim_result;

/* Runs one policy.  trucks[i] gives a driver's truck, home (home_lat/lon)
 * and starting position (lat/lon; the home when pos_ts is 0); ids, status
 * and ratings are ignored (every truck starts available).  loads[j] gives a
 * load with created_at its posting time; its company_id is ignored.  Loads
 * posted outside [start, horizon) are never posted.  Returns 0, or an FN_E*
 * code (FN_EINVAL for a bad config). */
int fn_sim_run(const fn_sim_config *cfg, const fn_driver *trucks, size_t nt, const fn_load *loads, size_t nl,
               fn_sim_result *out);
void fn_sim_result_free(fn_sim_result *r);

#endif
