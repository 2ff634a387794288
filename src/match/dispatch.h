/*
 * dispatch.h — global dispatch: assign open loads to available trucks over a
 * region so that as many loads as possible get a truck and, among all such
 * assignments, the total deadhead (empty) km is the least.
 *
 * The graph is sparse: each load is joined to its K nearest trucks that pass
 * every hard filter of matching (type, length, weight, volume, deadhead
 * within radius_km, pickup reachable in time).  On that graph the assignment
 * is exact: a min-cost assignment solved row by row with shortest augmenting
 * paths (Dijkstra on reduced costs, integer metres), each load also having a
 * private "unassigned" option whose cost is larger than any total deadhead,
 * so a load is left unmatched only when no assignment can match it.  The
 * greedy nearest-first total is computed beside it for comparison.
 *
 * Callers hold the engine's read lock while the graph is built.
 */
#ifndef FN_DISPATCH_H
#define FN_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/state.h"
#include "match/match.h"

typedef struct fn_dispatch_query {
    int province;            /* loads picked up in this province, or -1 */
    int has_bbox;            /* loads picked up inside the box */
    double west_lon, south_lat, east_lon, north_lat;
    double radius_km;        /* deadhead bound (road km) */
    size_t k;                /* trucks kept per load (default 16) */
    size_t max_loads;        /* refuse larger regions (0 = no cap) */
} fn_dispatch_query;

typedef struct fn_dispatch_pair {
    uint64_t load_id, driver_id;
    double deadhead_km;
} fn_dispatch_pair;

typedef struct fn_dispatch_result {
    fn_dispatch_pair *pairs;      /* owned; free with fn_dispatch_result_free */
    size_t npairs;
    double total_deadhead_km;
    size_t greedy_matched;
    double greedy_total_deadhead_km;
    size_t loads, trucks, edges;  /* the instance's size */
    double build_ms, solve_ms;
} fn_dispatch_result;

/* Builds the graph for the query and solves it.  Only building reads the
 * state: release (may be NULL) is called with arg as soon as it is done, so
 * the caller can drop its read lock before the solve; it is called on every
 * path, exactly once.  Returns 0, or FN_EINVAL when the region holds more
 * than max_loads open loads. */
int fn_dispatch_run(const fn_state *s, const fn_match_config *cfg, const fn_dispatch_query *q, int64_t now_s,
                    fn_dispatch_result *out, void (*release)(void *arg), void *arg);
void fn_dispatch_result_free(fn_dispatch_result *r);

/* The solver on its own, for tests: nrows rows, row r's edges are
 * cols[start[r] .. start[r+1]) with costs cost[...] (>= 0); ncols columns.
 * Writes the chosen column of every row to row_col (-1 = unassigned) and
 * returns the minimum total cost of the matched rows among the assignments
 * of maximum size. */
int64_t fn_dispatch_solve(size_t nrows, size_t ncols, const size_t *start, const uint32_t *cols, const int64_t *cost,
                          int32_t *row_col);

/* The same solver, also returning an optimality certificate.  big is the
 * cost of leaving a row unassigned; it must exceed the cost change of any
 * augmenting path (nrows x the largest edge cost that can ever be offered
 * does), and 0 picks (largest cost in the graph + 1) x (nrows + 1).  When
 * row_dual (nrows entries) and col_dual (ncols + nrows entries: the real
 * columns, then row r's private "unassigned" column at ncols + r) are not
 * NULL, they receive the potentials of the final matching: for every edge
 * (r, c), private ones included (cost big), cost - row_dual[r] -
 * col_dual[c] >= 0, with equality on the chosen edges; col_dual <= 0, and 0
 * on every column left free.  So any edge (r, c) outside the graph with
 * cost >= row_dual[r] + col_dual[c] could not improve the optimum: column
 * generation prices candidate edges with these. */
int64_t fn_dispatch_solve_dual(size_t nrows, size_t ncols, const size_t *start, const uint32_t *cols,
                               const int64_t *cost, int64_t big, int32_t *row_col, int64_t *row_dual,
                               int64_t *col_dual);

#endif
