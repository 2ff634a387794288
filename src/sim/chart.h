/*
 * chart.h — the charts `freight simulate` writes its results as (issue 5):
 * line charts over a numeric x axis, grouped bar charts and empirical CDFs,
 * each a standalone SVG 1.1 file of 800 x 480 user units.
 *
 * SVG rather than PNG because it needs no library (no libpng, no font
 * rasteriser): the viewer draws the text, so Chinese labels render with
 * whatever CJK font the reader has, and the file stays diffable text.
 *
 * The output is a pure function of the input: the same call writes the same
 * bytes (no timestamps, no locale-dependent numbers in coordinates), so a
 * simulation re-run can be compared with cmp.  Facts callers and tests may
 * rely on:
 *   - the plot area is drawn as <path class="plot-area" d="Mleft topHright
 *     VbottomHleftZ"/>; data maps linearly into it, y upwards;
 *   - a line series is one <path class="line"> whose d starts a new "M" for
 *     every run of finite points (a NaN or infinity splits the line); a run
 *     of one point is drawn as <circle class="point"> instead;
 *   - in a bar chart the bars are the only <rect> elements;
 *   - y tick labels are <text class="ytick">, x tick labels <text class="xtick">.
 *
 * Strings are UTF-8; malformed bytes and characters XML forbids come out as
 * U+FFFD, and & < > " ' are escaped, so any label gives well-formed XML.
 */
#ifndef FN_SIM_CHART_H
#define FN_SIM_CHART_H

#include <stddef.h>

#define FN_CHART_WIDTH 800
#define FN_CHART_HEIGHT 480

typedef struct fn_chart_series {
    const char *label;        /* legend text, UTF-8; NULL or "" = not in the legend */
    const double *x, *y;      /* n points; NaN in y = a gap */
    size_t n;
} fn_chart_series;

typedef struct fn_chart {
    const char *title, *subtitle;   /* subtitle may be NULL */
    const char *xlabel, *ylabel;    /* may be NULL */
    double ymin, ymax;              /* ymin == ymax: automatic (0 .. nice ceiling of the data) */
    const char *yfmt;               /* printf format for y tick labels, e.g. "%.0f%%"; NULL = automatic */
    /* Line charts only: the x range (xmin == xmax: the data's, widened to
     * whole ticks) and the tick step (0: a 1/2/5 x 10^k step; hours read
     * better with 6, 12 or 24). */
    double xmin, xmax;
    double xstep;
} fn_chart;

/* A format given as yfmt or vfmt must convert exactly one double (one of
 * %f %e %g %a, either case, with flags, width and precision but no '*');
 * "%%" is allowed anywhere.  Anything else is refused with EINVAL rather
 * than handed to printf.
 *
 * Every function writes path.tmp, then renames it over path (not fsynced:
 * a chart is output, not state), and returns 0, or -1 with errno set:
 * EINVAL for NULL arguments where data is needed, ymin > ymax, a non-finite
 * range or a bad format; ERANGE when the data spans more than a double
 * can hold; EFBIG past 256 MiB of SVG; or the errno of the failed file
 * operation (path.tmp is then removed and path left as it was).
 * Non-finite values are never drawn. */

/* Line chart of ns series over a numeric x axis (e.g. hours 0..72).  The
 * automatic y range includes 0 and any negative data. */
int fn_chart_lines(const char *path, const fn_chart *c, const fn_chart_series *s, size_t ns);

/* Grouped bar chart: ncat categories (e.g. policies) x ns series (e.g.
 * metrics or days); values[i * ncat + j] is series i in category j.  Bars
 * grow from 0 (or from the nearer edge of an explicit range that excludes
 * 0), so negative values point down.  Each bar is labelled with its value
 * formatted by vfmt (NULL: three significant digits).  series_labels may
 * be NULL (no legend); a non-finite value draws no bar and no label. */
int fn_chart_bars(const char *path, const fn_chart *c, const char *const *categories, size_t ncat,
                  const char *const *series_labels, size_t ns, const double *values, const char *vfmt);

/* Step chart of empirical CDFs (e.g. time to match per policy): each
 * series' y are raw samples (x unused).  The y axis is the share of the
 * finite samples at or below x, in percent, 0..100 whatever ymin and ymax
 * say; yfmt formats those percentages (NULL: "%.0f%%").  The legend adds
 * the sample count to each label. */
int fn_chart_cdf(const char *path, const fn_chart *c, const fn_chart_series *s, size_t ns);

#endif
