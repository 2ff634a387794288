/*
 * test_match_dispatch.c — the dispatch solver is exact: on random sparse
 * instances it matches as many loads as an independent min-cost max-flow
 * (successive shortest paths with Bellman-Ford from a super source) and at
 * the same least total cost; every answer is a valid matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "match/dispatch.h"
#include "testutil.h"

/* Min-cost max-flow on source -> rows -> cols -> sink, unit capacities. */
typedef struct arc {
    int to, cap;
    int64_t cost;
} arc;

static int64_t reference(size_t nrows, size_t ncols, const size_t *start, const uint32_t *cols, const int64_t *cost,
                         size_t *matched)
{
    int n = (int)(nrows + ncols + 2), S = n - 2, T = n - 1, na = 0;
    size_t ne = start[nrows], maxa = 2 * (ne + nrows + ncols);
    arc *a = calloc(maxa, sizeof(*a));
    int *head_from = calloc(maxa, sizeof(int));
    int64_t *dist = malloc((size_t)n * sizeof(int64_t)), total = 0;
    int *pa = malloc((size_t)n * sizeof(int));
#define ADD(u, v, c)                                                   \
    do {                                                               \
        a[na] = (arc){v, 1, c}, head_from[na++] = u;                   \
        a[na] = (arc){u, 0, -(c)}, head_from[na++] = v;                \
    } while (0)
    for (size_t r = 0; r < nrows; r++) {
        ADD(S, (int)r, 0);
        for (size_t e = start[r]; e < start[r + 1]; e++)
            ADD((int)r, (int)(nrows + cols[e]), cost[e]);
    }
    for (size_t c = 0; c < ncols; c++)
        ADD((int)(nrows + c), T, 0);
    *matched = 0;
    for (;;) {
        for (int i = 0; i < n; i++)
            dist[i] = INT64_MAX, pa[i] = -1;
        dist[S] = 0;
        for (int it = 0, changed = 1; changed && it < n; it++) {
            changed = 0;
            for (int i = 0; i < na; i++)
                if (a[i].cap > 0 && dist[head_from[i]] != INT64_MAX && dist[head_from[i]] + a[i].cost < dist[a[i].to]) {
                    dist[a[i].to] = dist[head_from[i]] + a[i].cost;
                    pa[a[i].to] = i;
                    changed = 1;
                }
        }
        if (dist[T] == INT64_MAX)
            break;
        for (int v = T; v != S; v = head_from[pa[v]]) {
            a[pa[v]].cap--;
            a[pa[v] ^ 1].cap++;
        }
        total += dist[T];
        (*matched)++;
    }
#undef ADD
    free(a), free(head_from), free(dist), free(pa);
    return total;
}

static void test_random_instances_are_optimal(void **state)
{
    uint64_t rng = 12345;
    (void)state;
    for (int round = 0; round < 400; round++) {
        size_t nrows = 1 + rng_next(&rng) % 40, ncols = 1 + rng_next(&rng) % 40, ne = 0;
        size_t *start = malloc((nrows + 1) * sizeof(size_t));
        uint32_t *cols = malloc(nrows * 8 * sizeof(uint32_t));
        int64_t *cost = malloc(nrows * 8 * sizeof(int64_t)), got, want;
        int32_t *rc = malloc(nrows * sizeof(int32_t));
        uint8_t *used = calloc(ncols, 1);
        size_t matched = 0, ref_matched;
        for (size_t r = 0; r < nrows; r++) {
            size_t deg = rng_next(&rng) % 6; /* some rows have no edge at all */
            start[r] = ne;
            for (size_t i = 0; i < deg; i++) {
                uint32_t c = (uint32_t)(rng_next(&rng) % ncols);
                int dup = 0;
                for (size_t e = start[r]; e < ne; e++)
                    dup |= cols[e] == c;
                if (dup)
                    continue;
                cols[ne] = c;
                /* Few distinct costs make many ties; big ones test the arithmetic. */
                cost[ne++] = round % 3 == 0 ? (int64_t)(rng_next(&rng) % 4) : (int64_t)(rng_next(&rng) % 150000);
            }
        }
        start[nrows] = ne;
        got = fn_dispatch_solve(nrows, ncols, start, cols, cost, rc);
        want = reference(nrows, ncols, start, cols, cost, &ref_matched);
        for (size_t r = 0; r < nrows; r++) {
            if (rc[r] < 0)
                continue;
            int edge = 0;
            for (size_t e = start[r]; e < start[r + 1]; e++)
                edge |= cols[e] == (uint32_t)rc[r];
            assert_true(edge);              /* only real edges are used */
            assert_false(used[rc[r]]);      /* each truck at most once */
            used[rc[r]] = 1;
            matched++;
        }
        assert_int_equal(matched, ref_matched);
        assert_int_equal(got, want);
        free(start), free(cols), free(cost), free(rc), free(used);
    }
}

/* Greedy nearest-first is provably worse here: row 0's nearest truck is the
 * only one row 1 can use. */
static void test_greedy_trap(void **state)
{
    size_t start[] = {0, 2, 3};
    uint32_t cols[] = {0, 1, 0};
    int64_t cost[] = {1000, 2000, 1500};
    int32_t rc[2];
    (void)state;
    assert_int_equal(fn_dispatch_solve(2, 2, start, cols, cost, rc), 3500);
    assert_int_equal(rc[0], 1);
    assert_int_equal(rc[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_instances_are_optimal),
        cmocka_unit_test(test_greedy_trap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
