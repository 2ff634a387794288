/*
 * test_sim_chart.c — unit tests for src/sim/chart.c: every chart parses as
 * XML with an <svg> root in the SVG namespace (checked by python3's
 * ElementTree, an independent parser); text is escaped, malformed UTF-8
 * included; data lands on the right pixels of the plot area; tick labels
 * are multiples of a 1/2/5 x 10^k step; a NaN splits a line; a bar chart has
 * one <rect> per bar; CDF risers reach 100 %; the same input writes the
 * same bytes; and bad arguments fail with the documented errno and leave
 * no temporary file behind.
 */
#include "sim/chart.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

/* ---- helpers --------------------------------------------------------- */

/* path inside the test's directory. */
static char *tpath(void **state, const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof(buf), "%s/%s", tdir(state), name);
    return buf;
}

/* The file as a NUL-terminated string the caller frees. */
static char *slurp(const char *path)
{
    size_t len;
    char *p = (char *)read_all(path, &len);
    p[len] = 0;
    assert_int_equal(strlen(p), len); /* no NUL bytes in the document */
    return p;
}

/* Asserts that python3's XML parser accepts the file and that its root is
 * an SVG 1.1 <svg> of 800 x 480. */
static void assert_svg(const char *path)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "python3 -c 'import sys, xml.etree.ElementTree as E\n"
             "r = E.parse(sys.argv[1]).getroot()\n"
             "assert r.tag == \"{http://www.w3.org/2000/svg}svg\", r.tag\n"
             "assert r.get(\"version\") == \"1.1\" and r.get(\"viewBox\") == \"0 0 800 480\"\n"
             "assert r.get(\"width\") == \"800\" and r.get(\"height\") == \"480\"' '%s'",
             path);
    assert_int_equal(system(cmd), 0);
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + k, needle))
        n++;
    return n;
}

/* The plot area's edges, from its <path class="plot-area">. */
struct area {
    double left, top, right, bottom;
};

static struct area plot_area(const char *svg)
{
    struct area a;
    const char *p = strstr(svg, "<path class=\"plot-area\" d=\"");
    assert_non_null(p);
    assert_int_equal(sscanf(p + strlen("<path class=\"plot-area\" d=\""), "M%lf %lfH%lfV%lf", &a.left, &a.top,
                            &a.right, &a.bottom),
                     4);
    assert_true(a.left < a.right && a.top < a.bottom);
    assert_true(a.left >= 0 && a.right <= 800 && a.top >= 0 && a.bottom <= 480);
    return a;
}

/* The d attribute of the nth (from 0) element that starts with prefix, in
 * a malloc'ed string. */
static char *nth_d(const char *svg, const char *prefix, int nth)
{
    const char *p = svg, *d, *e;
    char *out;
    for (int i = 0; i <= nth; i++) {
        p = strstr(p, prefix);
        assert_non_null(p);
        p += strlen(prefix);
    }
    d = strstr(p, " d=\"");
    assert_non_null(d);
    d += 4;
    e = strchr(d, '"');
    assert_non_null(e);
    out = malloc((size_t)(e - d) + 1);
    assert_non_null(out);
    memcpy(out, d, (size_t)(e - d));
    out[e - d] = 0;
    return out;
}

/* A path's commands: letters and up to two numbers each. */
struct cmd {
    char op;
    double a, b;
};

static size_t parse_d(const char *d, struct cmd *out, size_t max)
{
    size_t n = 0;
    char *end;
    while (*d) {
        assert_true(n < max);
        out[n].op = *d++;
        out[n].a = strtod(d, &end);
        assert_true(end != d);
        d = end;
        if (out[n].op == 'M' || out[n].op == 'L') {
            assert_true(*d == ' ');
            out[n].b = strtod(d + 1, &end);
            d = end;
        }
        n++;
    }
    return n;
}

/* The numbers of the tick labels of class cls, in document order. */
static size_t ticks(const char *svg, const char *cls, double *out, size_t max)
{
    char open[64];
    size_t n = 0;
    snprintf(open, sizeof(open), "<text class=\"%s\"", cls);
    for (const char *p = strstr(svg, open); p; p = strstr(p + 1, open)) {
        const char *t = strchr(p, '>');
        assert_non_null(t);
        assert_true(n < max);
        out[n++] = strtod(t + 1, NULL);
    }
    return n;
}

/* Asserts that ticks are evenly spaced by a 1, 2 or 5 x 10^k step, each a
 * whole multiple of it, and returns the step. */
static double assert_nice(const double *t, size_t n)
{
    double step, m;
    assert_true(n >= 2);
    step = t[1] - t[0];
    assert_true(step > 0);
    m = step / pow(10.0, floor(log10(step) + 1e-9));
    assert_true(fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6);
    for (size_t i = 0; i < n; i++) {
        double q = t[i] / step;
        assert_true(fabs(q - nearbyint(q)) < 1e-6);
        if (i)
            assert_true(fabs(t[i] - t[i - 1] - step) < step * 1e-6);
    }
    return step;
}

/* ---- tests ----------------------------------------------------------- */

static void test_text_escaped(void **state)
{
    const char *path = tpath(state, "esc.svg");
    double x[] = {0, 1, 2}, y[] = {1, 2, 3};
    fn_chart_series s[] = {{"空驶率 empty-running rate", x, y, 3}, {"a<b>&\"c'", x, y, 3}};
    fn_chart c = {.title = "Q&A <day 1> \"greedy\" 'x'", .subtitle = "sub & title",
                  .xlabel = "hour <h>", .ylabel = "率 %"};
    char *svg;

    assert_int_equal(fn_chart_lines(path, &c, s, 2), 0);
    assert_svg(path);
    svg = slurp(path);
    assert_non_null(strstr(svg, "Q&amp;A &lt;day 1&gt; &quot;greedy&quot; &apos;x&apos;"));
    assert_non_null(strstr(svg, "sub &amp; title"));
    assert_non_null(strstr(svg, "hour &lt;h&gt;"));
    assert_non_null(strstr(svg, "率 %"));
    assert_non_null(strstr(svg, "空驶率 empty-running rate"));
    assert_non_null(strstr(svg, "a&lt;b&gt;&amp;&quot;c&apos;"));
    assert_null(strstr(svg, "<day 1>"));
    assert_null(strstr(svg, "<b>"));
    /* Chinese-capable fonts first, a generic family last. */
    assert_non_null(strstr(svg, "font-family=\"'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei'"));
    assert_non_null(strstr(svg, "sans-serif\""));
    assert_non_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
    free(svg);
}

static void test_bad_utf8_still_xml(void **state)
{
    const char *path = tpath(state, "utf8.svg");
    double y[] = {1, 2, 3}, x[] = {0, 1, 2};
    /* A lone continuation byte, a truncated sequence, an overlong '/', an
     * encoded surrogate, a control character and U+FFFF: all illegal in XML. */
    fn_chart_series s = {"bad \x80 \xE7\xA9 \xC0\xAF \xED\xA0\x80 \x01 \xEF\xBF\xBF end", x, y, 3};
    fn_chart c = {.title = "t\x1b[31m"};
    char *svg;

    assert_int_equal(fn_chart_lines(path, &c, &s, 1), 0);
    assert_svg(path);
    svg = slurp(path);
    assert_non_null(strstr(svg, " end"));
    assert_null(strchr(svg, '\x1b'));
    assert_null(strchr(svg, '\x01'));
    free(svg);
}

static void test_line_pixels(void **state)
{
    const char *path = tpath(state, "px.svg");
    /* The maximum, 100, is already a nice number, so the automatic axis is
     * exactly 0..100 and x is exactly 0..10. */
    double x[] = {0, 5, 10}, y[] = {0, 50, 100};
    fn_chart_series s = {"a", x, y, 3};
    fn_chart c = {.title = "px"};
    struct cmd cm[8];
    struct area a;
    char *svg, *d;

    assert_int_equal(fn_chart_lines(path, &c, &s, 1), 0);
    assert_svg(path);
    svg = slurp(path);
    a = plot_area(svg);
    d = nth_d(svg, "<path class=\"line\"", 0);
    assert_int_equal(parse_d(d, cm, 8), 3);
    assert_int_equal(cm[0].op, 'M');
    assert_float_equal(cm[0].a, a.left, 0.01);
    assert_float_equal(cm[0].b, a.bottom, 0.01);
    assert_int_equal(cm[1].op, 'L');
    assert_float_equal(cm[1].a, (a.left + a.right) / 2, 0.01);
    assert_float_equal(cm[1].b, (a.top + a.bottom) / 2, 0.01);
    assert_float_equal(cm[2].a, a.right, 0.01); /* the maximum at the top right */
    assert_float_equal(cm[2].b, a.top, 0.01);
    free(d);
    free(svg);

    /* An explicit range: 150 is above it; the line is clipped there, and a
     * value maps by the given range, not the data's. */
    {
        double y2[] = {25, 150, 75};
        fn_chart_series s2 = {"b", x, y2, 3};
        fn_chart c2 = {.title = "fixed", .ymin = 0, .ymax = 50, .xmin = 0, .xmax = 20, .xstep = 4};
        double t[32];
        size_t nt;
        assert_int_equal(fn_chart_lines(path, &c2, &s2, 1), 0);
        assert_svg(path);
        svg = slurp(path);
        a = plot_area(svg);
        d = nth_d(svg, "<path class=\"line\"", 0);
        assert_int_equal(parse_d(d, cm, 8), 3);
        assert_float_equal(cm[0].b, (a.top + a.bottom) / 2, 0.01);    /* 25 of 0..50 */
        assert_float_equal(cm[1].a, a.left + (a.right - a.left) / 4, 0.01); /* x 5 of 0..20 */
        assert_non_null(strstr(svg, "clip-path=\"url(#fn-plot)\""));
        nt = ticks(svg, "xtick", t, 32);
        assert_int_equal(nt, 6); /* the caller's step of 4 */
        assert_float_equal(t[0], 0, 0);
        assert_float_equal(t[5], 20, 0);
        free(d);
        free(svg);
    }
}

static void test_nan_splits_line(void **state)
{
    const char *path = tpath(state, "gap.svg");
    double nan = NAN, inf = INFINITY;
    double x[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    double y[] = {1, 2, 3, nan, 5, 6, inf, 8, nan, 9};
    fn_chart_series s = {"gappy", x, y, 10};
    fn_chart c = {.title = "gaps"};
    struct cmd cm[16];
    size_t n, moves = 0;
    char *svg, *d;

    assert_int_equal(fn_chart_lines(path, &c, &s, 1), 0);
    assert_svg(path);
    svg = slurp(path);
    d = nth_d(svg, "<path class=\"line\"", 0);
    n = parse_d(d, cm, 16);
    for (size_t i = 0; i < n; i++)
        moves += cm[i].op == 'M';
    /* Runs {0,1,2}, {4,5}, {7}, {9}: two drawn as lines, two as dots. */
    assert_int_equal(moves, 2);
    assert_int_equal(n, 5);
    assert_int_equal(count(svg, "<path class=\"line\""), 1);
    assert_int_equal(count(svg, "<circle class=\"point\""), 2);
    assert_null(strstr(svg, "nan"));
    assert_null(strstr(svg, "inf"));
    free(d);
    free(svg);
}

static void test_ticks_nice(void **state)
{
    const char *path = tpath(state, "ticks.svg");
    uint64_t seed = 0x5eed;
    double x[50], y[50], t[64];
    char *svg;

    for (int round = 0; round < 60; round++) {
        /* Data across many magnitudes, some entirely negative. */
        double scale = pow(10.0, rng_range(&seed, -4, 7)), dmax = -INFINITY, dmin = INFINITY, step;
        double shift = round % 5 == 0 ? -scale : 0;
        fn_chart_series s = {"r", x, y, 50};
        fn_chart c = {.title = "ticks"};
        size_t nt;
        for (int i = 0; i < 50; i++) {
            x[i] = i * scale;
            y[i] = rng_unit(&seed) * scale + shift;
            dmax = fmax(dmax, y[i]);
            dmin = fmin(dmin, y[i]);
        }
        assert_int_equal(fn_chart_lines(path, &c, &s, 1), 0);
        svg = slurp(path);
        nt = ticks(svg, "ytick", t, 64);
        assert_true(nt >= 3 && nt <= 12);
        step = assert_nice(t, nt);
        /* The axis runs from 0 (or below) to at most a step above the data. */
        assert_true(t[0] <= fmin(dmin, 0) + step * 1e-6);
        assert_true(t[nt - 1] >= fmax(dmax, 0) - step * 1e-6);
        assert_true(t[nt - 1] < fmax(dmax, 0) + step);
        nt = ticks(svg, "xtick", t, 64);
        assert_true(nt >= 3 && nt <= 12);
        assert_nice(t, nt);
        free(svg);
    }

    /* A caller's format: "%.0f%%" on a 0..100 axis. */
    {
        double yy[] = {10, 87};
        fn_chart_series s = {"p", x, yy, 2};
        fn_chart c = {.title = "pct", .yfmt = "%.0f%%"};
        x[0] = 0, x[1] = 72;
        assert_int_equal(fn_chart_lines(path, &c, &s, 1), 0);
        svg = slurp(path);
        assert_non_null(strstr(svg, ">0%</text>"));
        assert_non_null(strstr(svg, ">100%</text>"));
        assert_null(strstr(svg, ">120%</text>"));
        assert_non_null(strstr(svg, ">80</text>")); /* x: 0, 20, .., 80 */
        free(svg);
    }
    /* Small steps print exactly, without "-0" or float noise. */
    {
        double yy[] = {0.03, 0.7};
        fn_chart_series s = {"f", x, yy, 2};
        fn_chart c = {.title = "frac", .ymin = -0.3, .ymax = 0.7};
        assert_int_equal(fn_chart_lines(path, &c, &s, 1), 0);
        svg = slurp(path);
        {
            size_t nt = ticks(svg, "ytick", t, 64);
            assert_int_equal(nt, 5); /* -0.2 .. 0.6: the ends of the range are not multiples of 0.2 */
            assert_nice(t, nt);
        }
        assert_non_null(strstr(svg, ">-0.2</text>"));
        assert_non_null(strstr(svg, ">0.0</text>"));
        assert_non_null(strstr(svg, ">0.6</text>"));
        assert_null(strstr(svg, ">-0.0</text>"));
        assert_null(strstr(svg, "0000001"));
        free(svg);
    }
}

static void test_bars(void **state)
{
    const char *path = tpath(state, "bars.svg");
    const char *cats[] = {"greedy", "batch <30s>", "最优 optimal", "random"};
    const char *labels[] = {"day 1", "day 2", "day 3"};
    double v[12] = {12.5, 8.1, 6.0, 20.0, 11.0, -3.5, 5.9, 19.8, 10.2, 7.7, 5.5, 18.0};
    fn_chart c = {.title = "Empty km", .ylabel = "km"};
    struct area a;
    char *svg, *p;
    double y, h, t[32];
    size_t nt;

    assert_int_equal(fn_chart_bars(path, &c, cats, 4, labels, 3, v, "%.1f km"), 0);
    assert_svg(path);
    svg = slurp(path);
    assert_int_equal(count(svg, "<rect"), 12);
    assert_int_equal(count(svg, "<rect class=\"bar\""), 12);
    assert_non_null(strstr(svg, "batch &lt;30s&gt;"));
    assert_non_null(strstr(svg, "最优 optimal"));
    assert_non_null(strstr(svg, ">12.5 km</text>"));
    assert_non_null(strstr(svg, ">-3.5 km</text>"));
    assert_non_null(strstr(svg, "<title>day 2, batch &lt;30s&gt;: -3.5 km</title>"));
    /* The automatic axis: -5 .. 20 in steps of 5, with a zero line. */
    nt = ticks(svg, "ytick", t, 32);
    assert_nice(t, nt);
    assert_float_equal(t[0], -5, 0);
    assert_float_equal(t[nt - 1], 20, 0);
    assert_non_null(strstr(svg, "<path class=\"zero\""));
    a = plot_area(svg);

    /* Bar 4 (series 0, category 3) is 20, the top of the axis. */
    p = svg;
    for (int i = 0; i < 4; i++)
        p = strstr(p, "<rect class=\"bar\"") + 1;
    assert_int_equal(sscanf(strstr(p, " y=\"") + 4, "%lf\" width=\"%*f\" height=\"%lf", &y, &h), 2);
    assert_float_equal(y, a.top, 0.01);
    assert_float_equal(y + h, a.bottom - (a.bottom - a.top) * 5 / 25, 0.01); /* ends at 0 */
    /* Bar 6 (series 1, category 1) is -3.5: it hangs from 0 down. */
    for (int i = 4; i < 6; i++)
        p = strstr(p, "<rect class=\"bar\"") + 1;
    assert_int_equal(sscanf(strstr(p, " y=\"") + 4, "%lf\" width=\"%*f\" height=\"%lf", &y, &h), 2);
    assert_float_equal(y, a.bottom - (a.bottom - a.top) * 5 / 25, 0.01);
    assert_float_equal(h, (a.bottom - a.top) * 3.5 / 25, 0.01);
    free(svg);

    /* One series of one category, no labels; a NaN draws no bar. */
    {
        const char *one[] = {"only"};
        double v1[] = {7}, v2[] = {1, NAN};
        const char *two[] = {"a", "b"};
        assert_int_equal(fn_chart_bars(path, &c, one, 1, NULL, 1, v1, NULL), 0);
        assert_svg(path);
        svg = slurp(path);
        assert_int_equal(count(svg, "<rect"), 1);
        assert_non_null(strstr(svg, ">7.00</text>"));
        free(svg);
        assert_int_equal(fn_chart_bars(path, &c, two, 2, NULL, 1, v2, NULL), 0);
        assert_svg(path);
        svg = slurp(path);
        assert_int_equal(count(svg, "<rect"), 1);
        free(svg);
    }
    /* Many long category names are turned, and still parse. */
    {
        const char *longc[] = {"a very long policy name one", "another quite long policy name",
                               "第三个很长的策略名称", "and a fourth", "fifth", "sixth policy"};
        double v6[12];
        for (int i = 0; i < 12; i++)
            v6[i] = i * 3.3;
        assert_int_equal(fn_chart_bars(path, &c, longc, 6, labels, 2, v6, "%.2f"), 0);
        assert_svg(path);
        svg = slurp(path);
        assert_int_equal(count(svg, "<rect"), 12);
        assert_non_null(strstr(svg, "rotate(-30)"));
        free(svg);
    }
}

static void test_cdf(void **state)
{
    const char *path = tpath(state, "cdf.svg");
    double s1[] = {30, 10, 20, 20, NAN, 40}; /* 5 finite samples, one tie */
    double s2[] = {5};
    fn_chart_series s[] = {{"greedy 贪心", NULL, s1, 6}, {"batch", NULL, s2, 1}, {"none", NULL, NULL, 0}};
    fn_chart c = {.title = "Time to match", .xlabel = "s"};
    struct cmd cm[32];
    struct area a;
    double t[32];
    size_t n, nt;
    char *svg, *d;

    assert_int_equal(fn_chart_cdf(path, &c, s, 3), 0);
    assert_svg(path);
    svg = slurp(path);
    a = plot_area(svg);
    assert_non_null(strstr(svg, "greedy 贪心 (n=5)"));
    assert_non_null(strstr(svg, "batch (n=1)"));
    assert_non_null(strstr(svg, "none (n=0)"));
    nt = ticks(svg, "ytick", t, 32);
    assert_int_equal(nt, 6);
    assert_float_equal(t[5], 100, 0);
    assert_non_null(strstr(svg, ">100%</text>"));
    assert_int_equal(count(svg, "<path class=\"line\""), 2);

    d = nth_d(svg, "<path class=\"line\"", 0);
    n = parse_d(d, cm, 32);
    /* M, then H V for 10, 20 (twice), 30, 40, then H to the right edge. */
    assert_int_equal(n, 1 + 2 * 4 + 1);
    assert_float_equal(cm[0].b, a.bottom, 0.01);
    assert_int_equal(cm[3].op, 'H');
    assert_int_equal(cm[4].op, 'V');
    assert_float_equal(cm[4].a, a.bottom - (a.bottom - a.top) * 0.6, 0.01); /* 3 of 5 at or below 20 */
    assert_float_equal(cm[n - 2].a, a.top, 0.01);                           /* 100 % */
    assert_float_equal(cm[n - 1].a, a.right, 0.01);
    for (size_t i = 3; i + 1 < n; i += 2) /* the curve never goes down or left */
        assert_true(cm[i].a >= cm[i - 2].a && cm[i + 1].a <= cm[i - 1].a);
    free(d);
    free(svg);
}

static void test_deterministic(void **state)
{
    char a[256], b[256];
    double x[100], y[100];
    uint64_t seed = 42;
    const char *cats[] = {"p1", "p2"}, *sl[] = {"m1", "m2"};
    double v[] = {1.5, 2.25, -0.5, 3};
    fn_chart_series s[] = {{"one", x, y, 100}, {"two", x, y, 50}};
    fn_chart c = {.title = "det", .subtitle = "same bytes"};
    uint8_t *pa, *pb;
    size_t la, lb;

    for (int i = 0; i < 100; i++) {
        x[i] = i * 0.72;
        y[i] = rng_range(&seed, -1, 1);
    }
    for (int kind = 0; kind < 3; kind++) {
        snprintf(a, sizeof(a), "%s/a%d.svg", tdir(state), kind);
        snprintf(b, sizeof(b), "%s/b%d.svg", tdir(state), kind);
        for (int k = 0; k < 2; k++) {
            const char *p = k ? b : a;
            int rc = kind == 0 ? fn_chart_lines(p, &c, s, 2)
                   : kind == 1 ? fn_chart_bars(p, &c, cats, 2, sl, 2, v, NULL)
                               : fn_chart_cdf(p, &c, s, 2);
            assert_int_equal(rc, 0);
        }
        pa = read_all(a, &la);
        pb = read_all(b, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(pa, pb, la);
        free(pa);
        free(pb);
    }
}

static void test_edge_cases(void **state)
{
    const char *path = tpath(state, "edge.svg");
    double nan = NAN, inf = INFINITY;
    double x1[] = {3}, y1[] = {7};
    double xe[] = {0, 1, 2}, ye[] = {5, 5, 5}, yz[] = {0, 0, 0}, yn[] = {nan, inf, -inf};
    double xs[] = {5, 5, 5};
    fn_chart c = {.title = "edge"};
    char *svg;
    double t[32];
    size_t nt;

    /* No series, an empty one, all-NaN: axes and "no data". */
    {
        fn_chart_series e = {"empty", NULL, NULL, 0}, n3 = {"nan", xe, yn, 3};
        assert_int_equal(fn_chart_lines(path, &c, NULL, 0), 0);
        assert_svg(path);
        svg = slurp(path);
        assert_non_null(strstr(svg, ">no data</text>"));
        free(svg);
        assert_int_equal(fn_chart_lines(path, &c, &e, 1), 0);
        assert_svg(path);
        assert_int_equal(fn_chart_lines(path, &c, &n3, 1), 0);
        assert_svg(path);
        svg = slurp(path);
        assert_non_null(strstr(svg, ">no data</text>"));
        assert_null(strstr(svg, "class=\"line\""));
        free(svg);
        assert_int_equal(fn_chart_cdf(path, &c, &e, 1), 0);
        assert_svg(path);
        assert_int_equal(fn_chart_bars(path, &c, NULL, 0, NULL, 0, NULL, NULL), 0);
        assert_svg(path);
    }
    /* One point: a dot inside the plot area. */
    {
        fn_chart_series one = {"one", x1, y1, 1};
        struct area a;
        double cx, cy;
        assert_int_equal(fn_chart_lines(path, &c, &one, 1), 0);
        assert_svg(path);
        svg = slurp(path);
        a = plot_area(svg);
        assert_int_equal(sscanf(strstr(svg, "<circle class=\"point\" cx=\""), "<circle class=\"point\" cx=\"%lf\" cy=\"%lf",
                                &cx, &cy),
                         2);
        assert_true(cx > a.left && cx < a.right && cy >= a.top && cy < a.bottom);
        free(svg);
        assert_int_equal(fn_chart_cdf(path, &c, &one, 1), 0);
        assert_svg(path);
    }
    /* All-equal values, all zeros, all the same x. */
    {
        fn_chart_series eq = {"eq", xe, ye, 3}, zero = {"zero", xe, yz, 3}, samex = {"x", xs, ye, 3};
        assert_int_equal(fn_chart_lines(path, &c, &eq, 1), 0);
        assert_svg(path);
        svg = slurp(path);
        nt = ticks(svg, "ytick", t, 32);
        assert_nice(t, nt);
        assert_float_equal(t[nt - 1], 5, 0);
        free(svg);
        assert_int_equal(fn_chart_lines(path, &c, &zero, 1), 0);
        assert_svg(path);
        svg = slurp(path);
        nt = ticks(svg, "ytick", t, 32);
        assert_nice(t, nt);
        assert_float_equal(t[0], 0, 0);
        assert_float_equal(t[nt - 1], 1, 0);
        free(svg);
        assert_int_equal(fn_chart_lines(path, &c, &samex, 1), 0);
        assert_svg(path);
        assert_int_equal(fn_chart_cdf(path, &c, &eq, 1), 0);
        assert_svg(path);
    }
    /* Values far outside an explicit range stay finite in the file. */
    {
        double yb[] = {1e300, -1e300, 1};
        fn_chart_series big = {"big", xe, yb, 3};
        fn_chart cf = {.title = "clip", .ymin = 0, .ymax = 2};
        assert_int_equal(fn_chart_lines(path, &cf, &big, 1), 0);
        assert_svg(path);
        svg = slurp(path);
        assert_null(strstr(svg, "e+"));
        free(svg);
    }
    /* Many series: colours cycle, later lines are dashed. */
    {
        fn_chart_series many[20];
        for (int i = 0; i < 20; i++)
            many[i] = (fn_chart_series){"series with a longish name", xe, ye, 3};
        assert_int_equal(fn_chart_lines(path, &c, many, 20), 0);
        assert_svg(path);
        svg = slurp(path);
        assert_non_null(strstr(svg, "stroke-dasharray"));
        free(svg);
    }
}

static void test_errors(void **state)
{
    const char *path = tpath(state, "err.svg");
    char missing[256], tmp[300];
    double x[] = {0, 1}, y[] = {1, 2}, huge[] = {-1e308, 1e308};
    fn_chart_series s = {"s", x, y, 2}, h = {"h", x, huge, 2}, nox = {"s", NULL, y, 2};
    fn_chart c = {.title = "err"};
    const char *cats[] = {"a", "b"};

    errno = 0;
    assert_int_equal(fn_chart_lines(NULL, &c, &s, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(fn_chart_cdf(path, NULL, &s, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(fn_chart_lines(path, &c, NULL, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(fn_chart_lines(path, &c, &nox, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(fn_chart_bars(path, &c, cats, 2, NULL, 1, NULL, NULL), -1);
    assert_int_equal(errno, EINVAL);
    {
        static const char *const bad[] = {"%s", "%d", "%f %f", "%*f", "no conversion", "%", "%.1f%"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            fn_chart cb = {.title = "fmt", .yfmt = bad[i]};
            double v[] = {1, 2};
            assert_int_equal(fn_chart_lines(path, &cb, &s, 1), -1);
            assert_int_equal(errno, EINVAL);
            assert_int_equal(fn_chart_bars(path, &c, cats, 2, NULL, 1, v, bad[i]), -1);
            assert_int_equal(errno, EINVAL);
        }
    }
    {
        fn_chart cr = {.title = "range", .ymin = 5, .ymax = 1};
        assert_int_equal(fn_chart_lines(path, &cr, &s, 1), -1);
        assert_int_equal(errno, EINVAL);
        cr.ymin = NAN;
        assert_int_equal(fn_chart_lines(path, &cr, &s, 1), -1);
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(fn_chart_lines(path, &c, &h, 1), -1);
    assert_int_equal(errno, ERANGE);
    assert_false(file_exists(path));

    /* A directory that does not exist: the open's errno, nothing left. */
    snprintf(missing, sizeof(missing), "%s/no/such.svg", tdir(state));
    assert_int_equal(fn_chart_lines(missing, &c, &s, 1), -1);
    assert_int_equal(errno, ENOENT);
    /* A target that cannot be replaced (a non-empty directory): the rename
     * fails and the temporary file is removed. */
    snprintf(missing, sizeof(missing), "%s/dir", tdir(state));
    assert_int_equal(mkdir(missing, 0755), 0);
    snprintf(tmp, sizeof(tmp), "%s/keep", missing);
    write_all_file(tmp, (const uint8_t *)"x", 1);
    assert_int_equal(fn_chart_lines(missing, &c, &s, 1), -1);
    snprintf(tmp, sizeof(tmp), "%s.tmp", missing);
    assert_false(file_exists(tmp));
    /* A good write replaces the old file and leaves no .tmp. */
    assert_int_equal(fn_chart_lines(path, &c, &s, 1), 0);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_false(file_exists(tmp));
    assert_true(file_exists(path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_escaped, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_utf8_still_xml, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_line_pixels, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_nan_splits_line, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_ticks_nice, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bars, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_cdf, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_deterministic, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_edge_cases, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_errors, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
