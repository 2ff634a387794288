/*
 * chart.c — SVG line, bar and CDF charts for the simulator (see chart.h).
 *
 * A chart is laid out top-down in one pass: title, subtitle, legend rows
 * (as many as the labels need), then the plot area, whose left edge leaves
 * room for the widest y tick label and whose bottom leaves room for the x
 * tick labels and the x label.  There is no font metrics library, so text
 * widths are estimated (0.6 em for most characters, 1 em for CJK and other
 * wide ones); that is only used to place things, never to cut text.
 *
 * The whole document is built in memory and written once, so a failure
 * half-way never leaves a half chart under the final name.
 */
#include "sim/chart.h"

#include "common/buf.h"
#include "common/fn.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define W FN_CHART_WIDTH
#define H FN_CHART_HEIGHT
#define PAD 16.0           /* the margin kept free at every edge */
#define TITLE_FS 18.0      /* font sizes, in user units */
#define SUBTITLE_FS 13.0
#define TEXT_FS 12.0
#define TICK_FS 11.0
#define LEGEND_ROW 18.0    /* the height of one legend row */
#define SVG_MAX ((size_t)256 << 20)
#define MAX_TICKS 100      /* a caller's xstep finer than this falls back to automatic */
#define PX_LIMIT 1e6       /* coordinates are clamped here, far outside the 800 x 480 canvas */

/* Okabe & Ito's palette, which stays distinguishable under the common
 * colour-vision deficiencies.  Blue and orange come first because they
 * differ most in lightness too; yellow is last because it is faint on white.
 * ink is the value-label colour that reads on top of the fill. */
static const struct {
    const char *fill, *ink;
} palette[] = {
    {"#0072B2", "#ffffff"}, {"#E69F00", "#000000"}, {"#009E73", "#ffffff"}, {"#D55E00", "#ffffff"},
    {"#56B4E9", "#000000"}, {"#CC79A7", "#000000"}, {"#F0E442", "#000000"}, {"#000000", "#ffffff"},
};
#define NPAL (sizeof(palette) / sizeof(palette[0]))
/* Past the eighth series colours repeat, so lines change dash pattern. */
static const char *const dashes[] = {NULL, "7 4", "2 3"};

/* Fonts that carry Simplified Chinese on Linux, macOS and Windows, in that
 * order; single quotes because the list sits inside a double-quoted attribute. */
#define FONTS "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"

typedef struct svg {
    fn_buf b;
    int err; /* 1 once a write failed (past SVG_MAX); later writes are skipped */
} svg;

static void put(svg *g, const char *s)
{
    if (!g->err && fn_buf_put(&g->b, s, strlen(s)) != 0)
        g->err = 1;
}

static void __attribute__((format(printf, 2, 3))) putf(svg *g, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (g->err)
        return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || fn_buf_reserve(&g->b, (size_t)n + 1) != 0) {
        g->err = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf((char *)g->b.data + g->b.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    g->b.len += (size_t)n;
}

/* A coordinate with at most two decimals, trailing zeros dropped.  Done by
 * hand so that the bytes never depend on the locale's decimal point and
 * never read "-0". */
static void num(svg *g, double v)
{
    long long r, ip, fp;
    char s[40];
    if (!(v > -PX_LIMIT))
        v = -PX_LIMIT;
    if (!(v < PX_LIMIT))
        v = PX_LIMIT;
    r = llround(v * 100.0);
    ip = llabs(r) / 100;
    fp = llabs(r) % 100;
    if (fp == 0)
        snprintf(s, sizeof(s), "%s%lld", r < 0 ? "-" : "", ip);
    else if (fp % 10 == 0)
        snprintf(s, sizeof(s), "%s%lld.%lld", r < 0 ? "-" : "", ip, fp / 10);
    else
        snprintf(s, sizeof(s), "%s%lld.%02lld", r < 0 ? "-" : "", ip, fp);
    put(g, s);
}

/* ---- text ------------------------------------------------------------- */

/* Decodes the UTF-8 sequence at s (NUL-terminated) into *cp and returns its
 * length.  A malformed or overlong sequence, a surrogate or a code point XML
 * 1.0 forbids yields U+FFFD and skips one byte (or the whole bad sequence). */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    uint32_t c = s[0], min;
    size_t len, i;
    if (c < 0x80) {
        *cp = (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ? 0xFFFD : c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, c &= 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, c &= 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, c &= 0x07, min = 0x10000;
    else {
        *cp = 0xFFFD;
        return 1;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { /* also stops at the NUL */
            *cp = 0xFFFD;
            return i;
        }
        c = c << 6 | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE || c == 0xFFFF)
        c = 0xFFFD;
    *cp = c;
    return len;
}

/* Characters that take a full em: Hangul Jamo, CJK and its punctuation,
 * Hangul syllables, compatibility ideographs and the fullwidth forms. */
static int is_wide(uint32_t c)
{
    return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
           (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD);
}

/* The estimated width of s at font size fs. */
static double text_w(const char *s, double fs)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    double em = 0;
    uint32_t c;
    while (*p) {
        p += utf8_next(p, &c);
        em += is_wide(c) ? 1.0 : 0.6;
    }
    return em * fs;
}

/* Writes s as XML character data (safe inside attributes too). */
static void esc(svg *g, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    uint32_t c;
    size_t n;
    while (*p) {
        n = utf8_next(p, &c);
        switch (c) {
        case '&': put(g, "&amp;"); break;
        case '<': put(g, "&lt;"); break;
        case '>': put(g, "&gt;"); break;
        case '"': put(g, "&quot;"); break;
        case '\'': put(g, "&apos;"); break;
        case 0xFFFD: put(g, "\xEF\xBF\xBD"); break;
        default:
            if (!g->err && fn_buf_put(&g->b, p, n) != 0)
                g->err = 1;
        }
        p += n;
    }
}

/* Opens a <text> element at (x, y); attrs is extra markup (trusted). */
static void text_open(svg *g, const char *cls, double x, double y, const char *attrs)
{
    putf(g, "<text class=\"%s\" x=\"", cls);
    num(g, x);
    put(g, "\" y=\"");
    num(g, y);
    putf(g, "\"%s>", attrs);
}

static void text(svg *g, const char *cls, double x, double y, const char *attrs, const char *s)
{
    text_open(g, cls, x, y, attrs);
    esc(g, s);
    put(g, "</text>\n");
}

/* Checks that fmt converts exactly one double (see chart.h). */
static int fmt_ok(const char *fmt)
{
    int convs = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%')
            continue;
        if (p[1] == '%') {
            p++;
            continue;
        }
        p++;
        while (*p && strchr("-+ #0", *p))
            p++;
        while (*p >= '0' && *p <= '9')
            p++;
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9')
                p++;
        }
        if (*p == 'l')
            p++;
        if (!*p || !strchr("fFeEgGaA", *p))
            return 0;
        convs++;
    }
    return convs == 1;
}

/* printf of a format fmt_ok accepted; -Wformat-nonliteral is not on, and
 * the one argument matches by that check. */
static void fmt_value(char *out, size_t n, const char *fmt, double v)
{
    snprintf(out, n, fmt, v);
}

/* ---- axes ------------------------------------------------------------- */

/* A numeric axis: the range shown and a tick at every multiple of step
 * inside it. */
typedef struct axis {
    double lo, hi, step;
    int decimals; /* enough to print every tick exactly */
} axis;

/* Slack when comparing a value with a multiple of a step, so that 0.7 / 0.1
 * = 6.999999999999999 still counts as 7. */
#define TICK_EPS 1e-9

/* The 1, 2 or 5 x 10^k step that cuts span into about five intervals. */
static double nice_step(double span)
{
    double raw = span / 5.0, e = floor(log10(raw)), f, p;
    p = pow(10.0, fabs(e));
    f = e >= 0 ? raw / p : raw * p;
    f = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0;
    /* Dividing by 10^k gives the double nearest 0.2, multiplying by 10^-k
     * does not always. */
    return e >= 0 ? f * p : f / p;
}

static int decimals_of(double step)
{
    double p = 1.0;
    for (int d = 0; d < 10; d++, p *= 10.0) {
        double x = step * p;
        if (fabs(x - nearbyint(x)) <= 1e-6 * fmax(1.0, fabs(x)))
            return d;
    }
    return 10;
}

/* Picks step for [lo, hi]: the caller's when it gives at most MAX_TICKS
 * intervals, else a nice one. */
static double pick_step(double lo, double hi, double want)
{
    if (want > 0 && isfinite(want) && (hi - lo) / want <= MAX_TICKS)
        return want;
    return nice_step(hi - lo);
}

/* An axis over exactly [lo, hi] (lo < hi, both finite). */
static int axis_fixed(axis *a, double lo, double hi, double want_step)
{
    if (!isfinite(hi - lo))
        return -1;
    a->lo = lo;
    a->hi = hi;
    a->step = pick_step(lo, hi, want_step);
    a->decimals = decimals_of(a->step);
    return 0;
}

/* An axis over the data [dmin, dmax] (dmin > dmax: no data), stretched to
 * include 0 when zero is set and widened outwards to whole steps. */
static int axis_auto(axis *a, double dmin, double dmax, int zero, double want_step)
{
    if (dmin > dmax)
        dmin = dmax = 0;
    if (zero) {
        dmin = fmin(dmin, 0.0);
        dmax = fmax(dmax, 0.0);
    }
    if (dmin == dmax) {
        /* One value: some room around it so it sits inside the plot. */
        double half = dmin == 0 ? 1.0 : fmax(1.0, fabs(dmin) * 0.1);
        if (zero && dmin == 0)
            dmax = 1.0;
        else if (zero && dmin > 0)
            dmin = 0;
        else if (zero)
            dmax = 0;
        else
            dmin -= half, dmax += half;
    }
    if (!isfinite(dmax - dmin))
        return -1;
    a->step = pick_step(dmin, dmax, want_step);
    a->lo = floor(dmin / a->step + TICK_EPS) * a->step;
    a->hi = ceil(dmax / a->step - TICK_EPS) * a->step;
    if (!isfinite(a->lo) || !isfinite(a->hi) || !(a->lo < a->hi))
        return -1;
    a->decimals = decimals_of(a->step);
    return 0;
}

/* The ticks of a: first index and count, tick k being (first + k) * step. */
static void axis_ticks(const axis *a, double *first, int *count)
{
    double i0 = ceil(a->lo / a->step - TICK_EPS), i1 = floor(a->hi / a->step + TICK_EPS);
    *first = i0;
    *count = i1 >= i0 ? (int)(i1 - i0) + 1 : 0;
}

/* A tick label: the caller's format, or just enough decimals. */
static void tick_label(char *out, size_t n, const axis *a, double v, const char *fmt)
{
    if (fabs(v) < a->step * TICK_EPS)
        v = 0; /* (-1 * 0.1 + 0.1) must not print as "-0.0" */
    if (fmt)
        fmt_value(out, n, fmt, v);
    else if (a->decimals == 0 && fabs(v) >= 1e7)
        snprintf(out, n, "%g", v);
    else
        snprintf(out, n, "%.*f", a->decimals, v);
}

/* ---- layout ----------------------------------------------------------- */

enum swatch { SW_LINE, SW_BOX };

/* One chart under construction: the canvas, the plot area in user units
 * and the two axes (the x axis is unused by bar charts). */
typedef struct plot {
    svg g;
    const fn_chart *c;
    double left, top, right, bottom;
    axis x, y;
    const char *yfmt;
} plot;

static double px(const plot *p, double v) { return p->left + (v - p->x.lo) / (p->x.hi - p->x.lo) * (p->right - p->left); }
static double py(const plot *p, double v) { return p->bottom - (v - p->y.lo) / (p->y.hi - p->y.lo) * (p->bottom - p->top); }

static const char *colour(size_t i) { return palette[i % NPAL].fill; }

/* A legend entry: label plus an optional suffix (the CDF's sample count). */
typedef struct legend_item {
    const char *label;
    char suffix[32];
} legend_item;

static int legend_shown(const legend_item *it) { return it->label && it->label[0]; }

#define SWATCH_W 18.0
#define LEGEND_GAP 18.0

static double legend_item_w(const legend_item *it)
{
    return SWATCH_W + 6 + text_w(it->label, TEXT_FS) + text_w(it->suffix, TEXT_FS);
}

/* Lays out (draw = 0) or draws the legend rows from y0 between left and
 * W - PAD, and returns the y below the last row. */
static double legend(plot *p, const legend_item *items, size_t n, enum swatch sw, double y0, int draw)
{
    double x = p->left, y = y0, right = W - PAD;
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        const legend_item *it = &items[i];
        double w;
        if (!legend_shown(it))
            continue;
        w = legend_item_w(it);
        if (any && x + w > right) { /* wrap; an item wider than a row gets its own */
            x = p->left;
            y += LEGEND_ROW;
        }
        any = 1;
        if (draw) {
            svg *g = &p->g;
            double cy = y + LEGEND_ROW / 2;
            if (sw == SW_LINE) {
                const char *dash = dashes[(i / NPAL) % FN_ARRAY_LEN(dashes)];
                put(g, "<path class=\"legend-swatch\" d=\"M");
                num(g, x);
                put(g, " ");
                num(g, cy);
                putf(g, "h%g\" stroke=\"%s\" stroke-width=\"2.5\" fill=\"none\"", SWATCH_W, colour(i));
                if (dash)
                    putf(g, " stroke-dasharray=\"%s\"", dash);
                put(g, "/>\n");
            } else {
                /* A path, not a rect, so that bars stay the only rects. */
                put(g, "<path class=\"legend-swatch\" d=\"M");
                num(g, x + 3);
                put(g, " ");
                num(g, cy - 6);
                putf(g, "h12v12h-12Z\" fill=\"%s\"/>\n", colour(i));
            }
            text_open(g, "legend", x + SWATCH_W + 6, cy + 4, "");
            esc(g, it->label);
            esc(g, it->suffix);
            put(g, "</text>\n");
        }
        x += w + LEGEND_GAP;
    }
    return any ? y + LEGEND_ROW : y0;
}

/* The y tick labels, formatted, and the widest one's width. */
static double ytick_width(const plot *p)
{
    double first, wmax = 0;
    int count;
    char s[64];
    axis_ticks(&p->y, &first, &count);
    for (int k = 0; k < count; k++) {
        tick_label(s, sizeof(s), &p->y, (first + k) * p->y.step, p->yfmt);
        wmax = fmax(wmax, text_w(s, TICK_FS));
    }
    return wmax;
}

/* Fixes the plot area (p->y must be set) and draws everything outside it:
 * background, title, subtitle, legend and axis labels.  xtick_h is the
 * height the x tick labels need below the plot. */
/* The plot area's outline as path data, for its frame and its clip. */
static void area_path(plot *p)
{
    svg *g = &p->g;
    put(g, "M");
    num(g, p->left);
    put(g, " ");
    num(g, p->top);
    put(g, "H");
    num(g, p->right);
    put(g, "V");
    num(g, p->bottom);
    put(g, "H");
    num(g, p->left);
    put(g, "Z");
}

static void frame(plot *p, const legend_item *items, size_t n, enum swatch sw, double xtick_h)
{
    svg *g = &p->g;
    const fn_chart *c = p->c;
    double y = PAD;
    int has_ylabel = c->ylabel && c->ylabel[0], has_xlabel = c->xlabel && c->xlabel[0];

    p->left = fmax(48.0, PAD + (has_ylabel ? TEXT_FS + 8 : 0) + ytick_width(p) + 8);
    p->right = W - PAD - 8; /* room for half of the last x tick label */
    p->bottom = H - PAD - xtick_h - (has_xlabel ? TEXT_FS + 6 : 0);

    put(g, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    putf(g,
         "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
         "viewBox=\"0 0 %d %d\" font-family=\"%s\" font-size=\"%g\" fill=\"#222222\">\n",
         W, H, W, H, FONTS, TEXT_FS);
    put(g, "<title>");
    esc(g, c->title);
    put(g, "</title>\n");
    if (c->subtitle) {
        put(g, "<desc>");
        esc(g, c->subtitle);
        put(g, "</desc>\n");
    }
    /* An opaque background: viewers in dark mode would otherwise show dark
     * text on a dark page. */
    putf(g, "<path class=\"background\" d=\"M0 0H%dV%dH0Z\" fill=\"#ffffff\"/>\n", W, H);

    y += TITLE_FS;
    text(g, "title", W / 2.0, y, " text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\"", c->title);
    y += 4;
    if (c->subtitle && c->subtitle[0]) {
        y += SUBTITLE_FS + 2;
        text(g, "subtitle", W / 2.0, y, " text-anchor=\"middle\" font-size=\"13\" fill=\"#555555\"", c->subtitle);
    }
    y += 8;
    y = legend(p, items, n, sw, y, 1);
    p->top = y + 10;

    if (has_ylabel) {
        double cy = (p->top + p->bottom) / 2;
        put(g, "<text class=\"ylabel\" x=\"0\" y=\"0\" text-anchor=\"middle\" transform=\"translate(");
        num(g, PAD + TEXT_FS - 2);
        put(g, " ");
        num(g, cy);
        put(g, ") rotate(-90)\">");
        esc(g, c->ylabel);
        put(g, "</text>\n");
    }
    if (has_xlabel)
        text(g, "xlabel", (p->left + p->right) / 2, H - PAD, " text-anchor=\"middle\"", c->xlabel);
}

/* The plot area's outline, horizontal gridlines and y tick labels, and a
 * darker line at 0 when 0 is inside the range. */
static void yaxis(plot *p)
{
    svg *g = &p->g;
    double first;
    int count;
    char s[64];

    put(g, "<path class=\"plot-area\" d=\"");
    area_path(p);
    put(g, "\" fill=\"none\" stroke=\"#999999\"/>\n");

    axis_ticks(&p->y, &first, &count);
    put(g, "<path class=\"ygrid\" stroke=\"#e3e3e3\" fill=\"none\" d=\"");
    for (int k = 0; k < count; k++) {
        put(g, "M");
        num(g, p->left);
        put(g, " ");
        num(g, py(p, (first + k) * p->y.step));
        put(g, "H");
        num(g, p->right);
    }
    put(g, "\"/>\n");
    for (int k = 0; k < count; k++) {
        double v = (first + k) * p->y.step;
        tick_label(s, sizeof(s), &p->y, v, p->yfmt);
        text(g, "ytick", p->left - 6, py(p, v) + 4, " text-anchor=\"end\" font-size=\"11\"", s);
    }
    if (p->y.lo < 0 && p->y.hi > 0) {
        put(g, "<path class=\"zero\" stroke=\"#666666\" d=\"M");
        num(g, p->left);
        put(g, " ");
        num(g, py(p, 0));
        put(g, "H");
        num(g, p->right);
        put(g, "\"/>\n");
    }
}

/* Vertical gridlines and x tick labels of a numeric x axis. */
static void xaxis(plot *p)
{
    svg *g = &p->g;
    double first;
    int count;
    char s[64];
    axis_ticks(&p->x, &first, &count);
    put(g, "<path class=\"xgrid\" stroke=\"#efefef\" fill=\"none\" d=\"");
    for (int k = 0; k < count; k++) {
        put(g, "M");
        num(g, px(p, (first + k) * p->x.step));
        put(g, " ");
        num(g, p->top);
        put(g, "V");
        num(g, p->bottom);
    }
    put(g, "\"/>\n");
    for (int k = 0; k < count; k++) {
        double v = (first + k) * p->x.step;
        tick_label(s, sizeof(s), &p->x, v, NULL);
        text(g, "xtick", px(p, v), p->bottom + TICK_FS + 5, " text-anchor=\"middle\" font-size=\"11\"", s);
    }
}

/* Lines that stray outside an explicit range are cut at the plot area. */
static void clip_def(plot *p)
{
    svg *g = &p->g;
    put(g, "<defs><clipPath id=\"fn-plot\"><path d=\"");
    area_path(p);
    put(g, "\"/></clipPath></defs>\n");
}

static void no_data(plot *p)
{
    text(&p->g, "no-data", (p->left + p->right) / 2, (p->top + p->bottom) / 2,
         " text-anchor=\"middle\" fill=\"#999999\"", "no data");
}

/* Writes the finished document to path through path.tmp. */
static int finish(plot *p, const char *path)
{
    char *tmp = NULL;
    FILE *f = NULL;
    size_t n = strlen(path);
    int saved;

    put(&p->g, "</svg>\n");
    if (p->g.err) {
        errno = EFBIG;
        return -1;
    }
    tmp = fn_xmalloc(n + 5);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    errno = 0;
    f = fopen(tmp, "wb");
    if (!f)
        goto err;
    if (fwrite(p->g.b.data, 1, p->g.b.len, f) != p->g.b.len) {
        saved = errno ? errno : EIO;
        fclose(f);
        errno = saved;
        goto err_unlink;
    }
    if (fclose(f) != 0)
        goto err_unlink;
    if (rename(tmp, path) != 0)
        goto err_unlink;
    free(tmp);
    return 0;
err_unlink:
    saved = errno;
    unlink(tmp);
    errno = saved;
err:
    free(tmp);
    return -1;
}

/* The y axis from c: its explicit range, or automatic over [dmin, dmax]
 * with 0 included. */
static int y_from(plot *p, double dmin, double dmax)
{
    const fn_chart *c = p->c;
    if (c->ymin < c->ymax)
        return axis_fixed(&p->y, c->ymin, c->ymax, 0);
    return axis_auto(&p->y, dmin, dmax, 1, 0);
}

/* The checks every chart shares. */
static int common_ok(const char *path, const fn_chart *c)
{
    if (!path || !c)
        return 0;
    if (!isfinite(c->ymin) || !isfinite(c->ymax) || c->ymin > c->ymax)
        return 0;
    return !c->yfmt || fmt_ok(c->yfmt);
}

static void plot_init(plot *p, const fn_chart *c)
{
    memset(p, 0, sizeof(*p));
    fn_buf_init(&p->g.b, SVG_MAX);
    p->c = c;
    p->yfmt = c->yfmt;
}

/* ---- line charts ------------------------------------------------------ */

/* Draws one series: a path with a fresh "M" for each run of finite points;
 * a run of a single point would draw nothing, so it becomes a dot. */
static void line_series(plot *p, const fn_chart_series *s, size_t idx)
{
    svg *g = &p->g;
    const char *dash = dashes[(idx / NPAL) % FN_ARRAY_LEN(dashes)];
    size_t i = 0, j;
    int opened = 0;

    while (i < s->n) {
        while (i < s->n && !(isfinite(s->x[i]) && isfinite(s->y[i])))
            i++;
        for (j = i; j < s->n && isfinite(s->x[j]) && isfinite(s->y[j]); j++)
            ;
        if (j - i >= 2) {
            if (!opened) {
                putf(g, "<path class=\"line\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                        "stroke-linejoin=\"round\"", colour(idx));
                if (dash)
                    putf(g, " stroke-dasharray=\"%s\"", dash);
                put(g, " d=\"");
                opened = 1;
            }
            for (size_t k = i; k < j; k++) {
                put(g, k == i ? "M" : "L");
                num(g, px(p, s->x[k]));
                put(g, " ");
                num(g, py(p, s->y[k]));
            }
        }
        i = j;
    }
    if (opened)
        put(g, "\"/>\n");
    /* The isolated points, after the path so they sit on top. */
    for (i = 0; i < s->n; i++) {
        int fin = isfinite(s->x[i]) && isfinite(s->y[i]);
        int prev = i > 0 && isfinite(s->x[i - 1]) && isfinite(s->y[i - 1]);
        int next = i + 1 < s->n && isfinite(s->x[i + 1]) && isfinite(s->y[i + 1]);
        if (fin && !prev && !next) {
            put(g, "<circle class=\"point\" cx=\"");
            num(g, px(p, s->x[i]));
            put(g, "\" cy=\"");
            num(g, py(p, s->y[i]));
            putf(g, "\" r=\"3\" fill=\"%s\"/>\n", colour(idx));
        }
    }
}

int fn_chart_lines(const char *path, const fn_chart *c, const fn_chart_series *s, size_t ns)
{
    plot p;
    legend_item *items = NULL;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    int any = 0, rc = -1;

    if (!common_ok(path, c) || (ns && !s) || !isfinite(c->xmin) || !isfinite(c->xmax) || c->xmin > c->xmax) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < ns; i++) {
        if (s[i].n && (!s[i].x || !s[i].y)) {
            errno = EINVAL;
            return -1;
        }
        for (size_t k = 0; k < s[i].n; k++) {
            if (!isfinite(s[i].x[k]) || !isfinite(s[i].y[k]))
                continue;
            any = 1;
            xmin = fmin(xmin, s[i].x[k]);
            xmax = fmax(xmax, s[i].x[k]);
            ymin = fmin(ymin, s[i].y[k]);
            ymax = fmax(ymax, s[i].y[k]);
        }
    }
    plot_init(&p, c);
    if ((c->xmin < c->xmax ? axis_fixed(&p.x, c->xmin, c->xmax, c->xstep)
                           : axis_auto(&p.x, xmin, xmax, 0, c->xstep)) != 0 ||
        y_from(&p, ymin, ymax) != 0) {
        errno = ERANGE;
        goto out;
    }
    items = fn_xcalloc(ns ? ns : 1, sizeof(*items));
    for (size_t i = 0; i < ns; i++)
        items[i].label = s[i].label;
    frame(&p, items, ns, SW_LINE, TICK_FS + 8);
    clip_def(&p);
    yaxis(&p);
    xaxis(&p);
    if (!any)
        no_data(&p);
    put(&p.g, "<g clip-path=\"url(#fn-plot)\">\n");
    for (size_t i = 0; i < ns; i++)
        line_series(&p, &s[i], i);
    put(&p.g, "</g>\n");
    rc = finish(&p, path);
out:
    free(items);
    fn_buf_free(&p.g.b);
    return rc;
}

/* ---- bar charts ------------------------------------------------------- */

/* A value label: the caller's format, or three significant digits without
 * an exponent (1234.5 -> "1235", 0.01234 -> "0.0123"). */
static void value_label(char *out, size_t n, double v, const char *vfmt)
{
    if (vfmt) {
        fmt_value(out, n, vfmt, v);
        return;
    }
    if (v == 0 || fabs(v) >= 1e15) {
        snprintf(out, n, "%.3g", v);
        return;
    }
    int d = 2 - (int)floor(log10(fabs(v)));
    snprintf(out, n, "%.*f", d < 0 ? 0 : d > 9 ? 9 : d, v);
}

int fn_chart_bars(const char *path, const fn_chart *c, const char *const *categories, size_t ncat,
                  const char *const *series_labels, size_t ns, const double *values, const char *vfmt)
{
    plot p;
    legend_item *items = NULL;
    double vmin = INFINITY, vmax = -INFINITY, band, group, barw, catw = 0, base, xtick_h;
    int any = 0, rotate, rc = -1;
    char s[64];

    if (!common_ok(path, c) || (ncat && !categories) || (vfmt && !fmt_ok(vfmt)) ||
        (ns && ncat > SIZE_MAX / ns) || (ns * ncat != 0 && !values)) {
        errno = EINVAL;
        return -1;
    }
    for (size_t k = 0; k < ns * ncat; k++) {
        if (!isfinite(values[k]))
            continue;
        any = 1;
        vmin = fmin(vmin, values[k]);
        vmax = fmax(vmax, values[k]);
    }
    plot_init(&p, c);
    if (y_from(&p, vmin, vmax) != 0) {
        errno = ERANGE;
        goto out;
    }
    /* Category labels wider than their band would run into each other, so
     * they are turned 30 degrees, which needs more room below the plot. */
    band = (W - 2 * PAD - 100) / (double)(ncat ? ncat : 1); /* a first guess; the real band is computed below */
    for (size_t j = 0; j < ncat; j++)
        catw = fmax(catw, text_w(categories[j], TEXT_FS));
    rotate = catw > band * 0.95;
    xtick_h = rotate ? TEXT_FS + 8 + fmin(catw * 0.5, 120.0) : TEXT_FS + 8;

    items = fn_xcalloc(ns ? ns : 1, sizeof(*items));
    for (size_t i = 0; series_labels && i < ns; i++)
        items[i].label = series_labels[i];
    frame(&p, items, ns, SW_BOX, xtick_h);
    yaxis(&p);
    if (!any)
        no_data(&p);

    band = (p.right - p.left) / (double)(ncat ? ncat : 1);
    group = band * 0.8;
    barw = group / (double)(ns ? ns : 1);
    /* Bars grow from 0, or from the edge of the range nearer to it. */
    base = fmin(fmax(0.0, p.y.lo), p.y.hi);

    for (size_t j = 0; j < ncat; j++) {
        double cx = p.left + band * ((double)j + 0.5);
        if (rotate) {
            put(&p.g, "<text class=\"category\" x=\"0\" y=\"0\" text-anchor=\"end\" transform=\"translate(");
            num(&p.g, cx);
            put(&p.g, " ");
            num(&p.g, p.bottom + TEXT_FS + 2);
            put(&p.g, ") rotate(-30)\">");
            esc(&p.g, categories[j]);
            put(&p.g, "</text>\n");
        } else {
            text(&p.g, "category", cx, p.bottom + TEXT_FS + 5, " text-anchor=\"middle\"", categories[j]);
        }
    }
    for (size_t i = 0; i < ns; i++) {
        for (size_t j = 0; j < ncat; j++) {
            double v = values[i * ncat + j], x0, yv, yb, top, h, ly, lfs;
            int inside;
            if (!isfinite(v))
                continue;
            x0 = p.left + band * (double)j + (band - group) / 2 + barw * (double)i;
            yv = py(&p, fmin(fmax(v, p.y.lo), p.y.hi)); /* cut at the plot area */
            yb = py(&p, base);
            top = fmin(yv, yb);
            h = fabs(yb - yv);
            put(&p.g, "<rect class=\"bar\" x=\"");
            num(&p.g, x0 + 1);
            put(&p.g, "\" y=\"");
            num(&p.g, top);
            put(&p.g, "\" width=\"");
            num(&p.g, fmax(barw - 2, 0.5));
            put(&p.g, "\" height=\"");
            num(&p.g, h);
            putf(&p.g, "\" fill=\"%s\"><title>", colour(i));
            if (series_labels && series_labels[i] && series_labels[i][0]) {
                esc(&p.g, series_labels[i]);
                put(&p.g, ", ");
            }
            esc(&p.g, categories[j]);
            value_label(s, sizeof(s), v, vfmt);
            put(&p.g, ": ");
            esc(&p.g, s);
            put(&p.g, "</title></rect>\n");

            /* The label sits just beyond the bar's end, or inside it when
             * the end is at the edge of the plot; narrow bars get smaller
             * text. */
            lfs = fmin(11.0, fmax(7.0, (barw - 2) / fmax(1.0, text_w(s, 1.0))));
            if (v >= base) {
                inside = yv - lfs - 3 < p.top;
                ly = inside ? yv + lfs + 1 : yv - 3;
            } else {
                inside = yv + lfs + 3 > p.bottom;
                ly = inside ? yv - 3 : yv + lfs + 1;
            }
            put(&p.g, "<text class=\"value\" x=\"");
            num(&p.g, x0 + barw / 2);
            put(&p.g, "\" y=\"");
            num(&p.g, ly);
            put(&p.g, "\" text-anchor=\"middle\" font-size=\"");
            num(&p.g, lfs);
            putf(&p.g, "\" fill=\"%s\">", inside ? palette[i % NPAL].ink : "#222222");
            esc(&p.g, s);
            put(&p.g, "</text>\n");
        }
    }
    rc = finish(&p, path);
out:
    free(items);
    fn_buf_free(&p.g.b);
    return rc;
}

/* ---- CDF charts ------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int fn_chart_cdf(const char *path, const fn_chart *c, const fn_chart_series *s, size_t ns)
{
    plot p;
    legend_item *items = NULL;
    double **sorted = NULL, xmin = INFINITY, xmax = -INFINITY;
    size_t *cnt = NULL;
    int rc = -1;

    if (!common_ok(path, c) || (ns && !s)) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < ns; i++) {
        if (s[i].n && !s[i].y) {
            errno = EINVAL;
            return -1;
        }
    }
    plot_init(&p, c);
    if (!c->yfmt)
        p.yfmt = "%.0f%%";
    sorted = fn_xcalloc(ns ? ns : 1, sizeof(*sorted));
    cnt = fn_xcalloc(ns ? ns : 1, sizeof(*cnt));
    items = fn_xcalloc(ns ? ns : 1, sizeof(*items));
    for (size_t i = 0; i < ns; i++) {
        sorted[i] = fn_xmalloc((s[i].n ? s[i].n : 1) * sizeof(double));
        for (size_t k = 0; k < s[i].n; k++)
            if (isfinite(s[i].y[k]))
                sorted[i][cnt[i]++] = s[i].y[k];
        qsort(sorted[i], cnt[i], sizeof(double), cmp_double);
        if (cnt[i]) {
            xmin = fmin(xmin, sorted[i][0]);
            xmax = fmax(xmax, sorted[i][cnt[i] - 1]);
        }
        items[i].label = s[i].label;
        snprintf(items[i].suffix, sizeof(items[i].suffix), " (n=%zu)", cnt[i]);
    }
    if (axis_auto(&p.x, xmin, xmax, 0, 0) != 0) {
        errno = ERANGE;
        goto out;
    }
    axis_fixed(&p.y, 0, 100, 20);
    frame(&p, items, ns, SW_LINE, TICK_FS + 8);
    clip_def(&p);
    yaxis(&p);
    xaxis(&p);
    if (xmin > xmax)
        no_data(&p);
    put(&p.g, "<g clip-path=\"url(#fn-plot)\">\n");
    for (size_t i = 0; i < ns; i++) {
        const double *v = sorted[i];
        const char *dash = dashes[(i / NPAL) % FN_ARRAY_LEN(dashes)];
        size_t n = cnt[i];
        if (!n)
            continue;
        putf(&p.g, "<path class=\"line\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"", colour(i));
        if (dash)
            putf(&p.g, " stroke-dasharray=\"%s\"", dash);
        /* From 0 % at the left edge, one riser per distinct value up to the
         * share at or below it, then flat to the right edge. */
        put(&p.g, " d=\"M");
        num(&p.g, p.left);
        put(&p.g, " ");
        num(&p.g, p.bottom);
        for (size_t k = 0; k < n; k++) {
            if (k + 1 < n && v[k + 1] == v[k])
                continue; /* ties make one riser */
            put(&p.g, "H");
            num(&p.g, px(&p, v[k]));
            put(&p.g, "V");
            num(&p.g, py(&p, 100.0 * (double)(k + 1) / (double)n));
        }
        put(&p.g, "H");
        num(&p.g, p.right);
        put(&p.g, "\"/>\n");
    }
    put(&p.g, "</g>\n");
    rc = finish(&p, path);
out:
    for (size_t i = 0; sorted && i < ns; i++)
        free(sorted[i]);
    free(sorted);
    free(cnt);
    free(items);
    fn_buf_free(&p.g.b);
    return rc;
}
