/*
 * report_plot.c — the figures, drawn by gnuplot (Debian's gnuplot-nox: its svg,
 * pngcairo and pdfcairo terminals). We compute only what the figures show (the
 * best so far, the Pareto front, status shares per bin, the time split) and the
 * axis ranges; gnuplot does all the drawing. One gnuplot process per call draws
 * every figure asked for, from a script and inline data blocks in a temp dir.
 *
 * Readability rules every figure follows: a title, axis labels with units, a
 * legend below the plot, and series told apart by dash and point type as well
 * as by colour (Okabe–Ito's palette), so a greyscale print or NO_COLOR keeps them
 * apart. Ranges are set here, so a run of one iteration or with no valid
 * candidate draws a sane, labelled, empty-or-single-point figure.
 */
#include "cli/report.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

extern char **environ;

const char *const rp_kinds[] = {"history", "history-time", "pareto", "pareto-flops", "status", "budget", NULL};

static const char *const kind_titles[] = {
    "Validation accuracy per iteration: best so far and every candidate",
    "Validation accuracy against cumulative training time",
    "Accuracy against parameters, with the Pareto front",
    "Accuracy against FLOPs, with the Pareto front",
    "Status of the candidates over the iterations",
    "Where the time went: LLM, training, other",
};

const char *rp_kind_title(const char *kind)
{
    for (int i = 0; rp_kinds[i]; i++)
        if (strcmp(kind, rp_kinds[i]) == 0) return kind_titles[i];
    return "";
}

int rp_kind_valid(const char *kind)
{
    return rp_kind_title(kind)[0] != '\0';
}

/* ---- files ------------------------------------------------------------------- */

char *rp_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (n < cap - 1) break;
        char *nb = realloc(b, cap * 2);
        if (!nb) { free(b); b = NULL; break; }
        b = nb, cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!b || bad) { free(b); return NULL; }
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

/* Skip an attribute ` xmlns...="..."` at p; returns its length or 0. */
static size_t xmlns_attr(const char *p)
{
    const char *q = p;
    while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r') q++;
    if (strncmp(q, "xmlns", 5) != 0) return 0;
    const char *v = strchr(q, '"');
    const char *gt = strchr(q, '>');
    if (!v || (gt && gt < v)) return 0;
    const char *e = strchr(v + 1, '"');
    return e ? (size_t)(e + 1 - p) : 0;
}

char *rp_svg_inline(const char *svg)
{
    const char *p = strstr(svg, "<svg");
    if (!p) return NULL;
    size_t n = strlen(p);
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    int in_tag = 0;
    while (*p) {
        if (strncmp(p, "<!--", 4) == 0) {
            const char *e = strstr(p, "-->");
            p = e ? e + 3 : p + strlen(p);
            continue;
        }
        if (*p == '<') in_tag = 1;
        else if (*p == '>') in_tag = 0;
        size_t skip = in_tag && (*p == ' ' || *p == '\n' || *p == '\t') ? xmlns_attr(p) : 0;
        if (skip) {
            p += skip;
            continue;
        }
        *o++ = *p++;
    }
    *o = '\0';
    return out;
}

/* ---- the script --------------------------------------------------------------- */

static const char *const palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                      "#E69F00", "#56B4E9", "#000000", "#8C564B"};
static const int point_types[] = {7, 5, 9, 13, 11, 6, 4, 8};

typedef struct { FILE *f; int mono; } script;

static const char *colour(const script *s, int k)
{
    return s->mono ? "#000000" : palette[k % 8];
}

/* A gnuplot double-quoted string for user text (run names). */
static void gp_str(FILE *f, const char *t)
{
    fputc('"', f);
    for (; *t; t++) {
        if (*t == '"' || *t == '\\') fputc('\\', f);
        if (*t == '\n' || *t == '\r') fputc(' ', f);
        else fputc(*t, f);
    }
    fputc('"', f);
}

static void run_label(char *b, size_t n, const rp_run *r)
{
    snprintf(b, n, "run %u (%s)", r->id, r->name);
}

/* Time unit for a span of seconds: divisor and name. */
static double time_unit(double span, const char **name)
{
    if (span < 120) { *name = "s"; return 1; }
    if (span < 7200) { *name = "min"; return 60; }
    *name = "h";
    return 3600;
}

typedef struct { double lo, hi; int any; } range;

static void grow(range *r, double v)
{
    if (!isfinite(v)) return;
    if (!r->any) r->lo = r->hi = v, r->any = 1;
    if (v < r->lo) r->lo = v;
    if (v > r->hi) r->hi = v;
}

/* Accuracy axis in percent with a margin; [0:100] when nothing is known. */
static double acc_range(FILE *f, range y)
{
    double lo = y.any ? y.lo * 100 : 0, hi = y.any ? y.hi * 100 : 100;
    double m = fmax(2, (hi - lo) * 0.08);
    lo = fmax(0, lo - m), hi = fmin(100, hi + m);
    if (hi - lo < 1) lo = fmax(0, hi - 5), hi = fmin(100, lo + 10);
    fprintf(f, "set yrange [%g:%g]\n", lo, hi);
    return lo;
}

static void lin_range(FILE *f, const char *axis, range x, double dflt_hi)
{
    double lo = x.any ? x.lo : 0, hi = x.any ? x.hi : dflt_hi;
    if (hi - lo <= 0) lo = 0, hi = hi > 0 ? hi * 1.1 : 1; /* time axes: never below 0 */
    else { double m = (hi - lo) * 0.03; lo = fmax(0, lo - m), hi += m; }
    fprintf(f, "set %srange [%g:%g]\n", axis, lo, hi);
}

static void log_range(FILE *f, const char *axis, range x)
{
    double lo = x.any && x.lo > 0 ? x.lo : 1, hi = x.any && x.hi > 0 ? x.hi : 10;
    fprintf(f, "set logscale %s\nset %srange [%g:%g]\n", axis, axis, lo / 1.6, hi * 1.6);
}

/* Whether point i of r is drawn in a scatter: all of them up to RP_MAX_POINTS
 * valid ones, else accepted ones, `keep` ones and an even sample. */
static int sampled(const rp_run *r, size_t i, size_t n_valid, size_t *seen, const unsigned char *keep)
{
    const rp_point *p = &r->pts[i];
    if (!(p->flags & RP_OK) || !isfinite(p->acc)) return 0;
    size_t k = (*seen)++;
    if (n_valid <= RP_MAX_POINTS) return 1;
    if ((p->flags & RP_ACCEPTED) || (keep && keep[i])) return 1;
    size_t step = (n_valid + RP_MAX_POINTS - 1) / RP_MAX_POINTS;
    return k % step == 0;
}

static size_t count_valid(const rp_run *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if ((r->pts[i].flags & RP_OK) && isfinite(r->pts[i].acc)) n++;
    return n;
}

/* Smaller marks when many are drawn, so a dense figure still shows its shape. */
static double mark_size(rp_run *const *runs, int n)
{
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        size_t v = count_valid(runs[k]);
        total += v > RP_MAX_POINTS ? RP_MAX_POINTS : v;
    }
    return total > 1500 ? 0.4 : total > 400 ? 0.65 : 1.0;
}

static void empty_note(FILE *f, const char *why)
{
    fprintf(f, "set label 1 ");
    gp_str(f, why);
    fprintf(f, " at graph 0.5, 0.5 center font \",13\"\n");
}

/* The legend below the plot in up to 2 columns; the bottom margin grows with
 * its rows (gnuplot would otherwise draw it over the x label). */
static void key_below(FILE *f, int entries)
{
    int rows = (entries + 1) / 2;
    fprintf(f, "set key below horizontal maxcols 2 box samplen 3 spacing 1.2 width 1\nset bmargin %g\n",
            4.5 + rows * 1.45);
}

/* history / history-time: per run the best-so-far staircase, every candidate's
 * accuracy (sampled beyond RP_MAX_POINTS) and, against iteration, the failed
 * iterations as marks on the floor. */
static void fig_history(script *s, rp_run *const *runs, int n, int by_time, const char *title)
{
    FILE *f = s->f;
    range x = {0}, y = {0};
    double span = 0;
    for (int k = 0; k < n; k++) span = fmax(span, runs[k]->train_s);
    const char *unit;
    double div = time_unit(span, &unit);
    int any = 0;
    for (int k = 0; k < n; k++) {
        const rp_run *r = runs[k];
        size_t nv = count_valid(r), seen = 0;
        fprintf(f, "$C%d << EOD\n", k);
        for (size_t i = 0; i < r->n; i++) {
            const rp_point *p = &r->pts[i];
            double xv = by_time ? p->train_cum / div : p->iter;
            grow(&x, xv);
            if (!sampled(r, i, nv, &seen, NULL)) continue;
            fprintf(f, "%.6g %.6g\n", xv, p->acc * 100);
            grow(&y, p->acc);
            any = 1;
        }
        fprintf(f, "EOD\n$B%d << EOD\n", k);
        double best = -1, lastx = NAN;
        for (size_t i = 0; i < r->n; i++) {
            const rp_point *p = &r->pts[i];
            double xv = by_time ? p->train_cum / div : p->iter;
            if ((p->flags & RP_OK) && !(p->flags & RP_PRUNED) && isfinite(p->acc) && p->acc > best) {
                best = p->acc;
                fprintf(f, "%.6g %.6g\n", xv, best * 100);
            }
            lastx = xv;
        }
        if (best >= 0) fprintf(f, "%.6g %.6g\n", lastx, best * 100);
        fprintf(f, "EOD\n$F%d << EOD\n", k);
        size_t nf = 0;
        for (size_t i = 0; i < r->n; i++) nf += !(r->pts[i].flags & RP_OK);
        size_t step = nf > RP_MAX_POINTS ? (nf + RP_MAX_POINTS - 1) / RP_MAX_POINTS : 1, j = 0;
        for (size_t i = 0; i < r->n && !by_time; i++)
            if (!(r->pts[i].flags & (RP_OK | RP_PRUNED)) && j++ % step == 0) fprintf(f, "%u\n", r->pts[i].iter);
        /* pruned candidates: at the accuracy they had when stopped */
        fprintf(f, "EOD\n$X%d << EOD\n", k);
        for (size_t i = 0; i < r->n; i++) {
            const rp_point *p = &r->pts[i];
            if ((p->flags & RP_PRUNED) && isfinite(p->acc))
                fprintf(f, "%.6g %.6g\n", by_time ? p->train_cum / div : p->iter, p->acc * 100), grow(&y, p->acc);
        }
        fprintf(f, "EOD\n");
    }
    fprintf(f, "set title ");
    gp_str(f, title);
    fputc('\n', f);
    if (by_time) fprintf(f, "set xlabel \"cumulative training time (%s)\"\n", unit);
    else fprintf(f, "set xlabel \"iteration\"\n");
    fprintf(f, "set ylabel \"validation accuracy (%%)\"\n");
    if (by_time) lin_range(f, "x", x, 1);
    else {
        double hi = x.any ? x.hi : 1;
        fprintf(f, "set xrange [0.5:%g]\n", hi + 0.5);
        if (hi <= 10) fprintf(f, "set xtics 1\n");
    }
    double floor_y = acc_range(f, y);
    key_below(f, 4 * n);
    if (!any) empty_note(f, "no valid candidate: nothing trained successfully");
    if (!any && by_time) fputs("unset key\n", f); /* an empty legend box otherwise */
    fprintf(f, "plot ");
    int first = 1;
    char lab[160];
    for (int k = 0; k < n; k++) {
        run_label(lab, sizeof lab, runs[k]);
        const char *c = colour(s, k);
        fprintf(f, "%s$B%d using 1:2 with steps lw 2.5 dt %d lc rgb \"%s\" title ", first ? "" : ", ",
                k, k % 5 + 1, c);
        char t[200];
        snprintf(t, sizeof t, "%s best so far", lab);
        gp_str(f, t);
        snprintf(t, sizeof t, "%s candidates", lab);
        fprintf(f, ", $C%d using 1:2 with points pt %d ps %g lc rgb \"%s\" title ", k,
                point_types[k % 8], mark_size(runs, n), c);
        gp_str(f, t);
        if (runs[k]->n_pruned) {
            snprintf(t, sizeof t, "%s pruned early (accuracy when stopped)", lab);
            fprintf(f, ", $X%d using 1:2 with points pt 1 ps 1.0 lc rgb \"%s\" title ", k, c);
            gp_str(f, t);
        }
        if (!by_time) {
            snprintf(t, sizeof t, "%s failed (no accuracy)", lab);
            fprintf(f, ", $F%d using 1:(%g) with points pt 2 ps 0.9 lc rgb \"%s\" title ", k,
                    floor_y + 0.8, s->mono ? "#000000" : "#777777");
            gp_str(f, t);
        }
        first = 0;
    }
    fputc('\n', f);
}

static int cmp_dbl2(const void *a, const void *b)
{
    const double *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] > y[1] ? -1 : x[1] < y[1];
}

/* pareto / pareto-flops: accuracy against a size, the front (the best accuracy
 * any candidate reached within a size) as a staircase. */
static void fig_pareto(script *s, rp_run *const *runs, int n, int flops, const char *title)
{
    FILE *f = s->f;
    range x = {0}, y = {0};
    int any = 0;
    for (int k = 0; k < n; k++) {
        const rp_run *r = runs[k];
        double *xy = malloc((r->n + 1) * 3 * sizeof *xy);
        unsigned char *keep = calloc(r->n + 1, 1);
        size_t m = 0;
        for (size_t i = 0; xy && i < r->n; i++) {
            const rp_point *p = &r->pts[i];
            double sz = flops ? p->flops : p->params;
            if (!(p->flags & RP_OK) || (p->flags & RP_PRUNED) || !isfinite(p->acc) || !(sz > 0)) continue;
            xy[3 * m] = sz, xy[3 * m + 1] = p->acc, xy[3 * m + 2] = (double)i;
            m++;
        }
        if (xy) qsort(xy, m, 3 * sizeof *xy, cmp_dbl2);
        fprintf(f, "$P%d << EOD\n", k);
        double best = -1;
        for (size_t i = 0; xy && i < m; i++)
            if (xy[3 * i + 1] > best) {
                best = xy[3 * i + 1];
                if (keep) keep[(size_t)xy[3 * i + 2]] = 1; /* sampling keeps the front */
                fprintf(f, "%.6g %.6g\n", xy[3 * i], best * 100);
            }
        if (m) fprintf(f, "%.6g %.6g\n", xy[3 * (m - 1)] * 1.5, best * 100);
        fprintf(f, "EOD\n$C%d << EOD\n", k);
        size_t nv = count_valid(r), seen = 0;
        for (size_t i = 0; i < r->n; i++) {
            const rp_point *p = &r->pts[i];
            double sz = flops ? p->flops : p->params;
            if ((p->flags & RP_PRUNED) || !(sz > 0)) continue;
            if (!sampled(r, i, nv, &seen, keep)) continue;
            fprintf(f, "%.6g %.6g\n", sz, p->acc * 100);
            grow(&x, sz), grow(&y, p->acc);
            any = 1;
        }
        fprintf(f, "EOD\n");
        free(xy);
        free(keep);
    }
    fprintf(f, "set title ");
    gp_str(f, title);
    fprintf(f, "\nset xlabel \"%s\"\n", flops ? "forward FLOPs per image (log scale)" : "trainable parameters (log scale)");
    fprintf(f, "set ylabel \"validation accuracy (%%)\"\nset format x \"%%.0s%%c\"\n");
    log_range(f, "x", x);
    acc_range(f, y);
    key_below(f, 2 * n);
    if (!any) {
        empty_note(f, "no valid candidate with a size: nothing to compare");
        fputs("unset key\n", f);
    }
    fprintf(f, "plot ");
    char lab[160], t[220];
    for (int k = 0; k < n; k++) {
        run_label(lab, sizeof lab, runs[k]);
        const char *c = colour(s, k);
        snprintf(t, sizeof t, "%s Pareto front", lab);
        fprintf(f, "%s$P%d using 1:2 with steps lw 2.5 dt %d lc rgb \"%s\" title ", k ? ", " : "", k, k % 5 + 1, c);
        gp_str(f, t);
        snprintf(t, sizeof t, "%s candidates", lab);
        fprintf(f, ", $C%d using 1:2 with points pt %d ps %g lc rgb \"%s\" title ", k, point_types[k % 8],
                mark_size(runs, n), c);
        gp_str(f, t);
    }
    fputc('\n', f);
}

/* status: per bin of iterations, the share (%) of each status word and of cache hits. */
static void fig_status(script *s, const rp_run *r, const char *title)
{
    FILE *f = s->f;
    size_t bins = r->n < 40 ? (r->n ? r->n : 1) : 40;
    size_t width = r->n ? (r->n + bins - 1) / bins : 1;
    bins = r->n ? (r->n + width - 1) / width : 0;
    fprintf(f, "$S << EOD\n");
    for (size_t b = 0; b < bins; b++) {
        size_t lo = b * width, hi = lo + width < r->n ? lo + width : r->n;
        double cnt[RP_MAX_KINDS] = {0}, cached = 0;
        for (size_t i = lo; i < hi; i++) {
            cnt[r->pts[i].kind]++;
            if (r->pts[i].flags & RP_CACHED) cached++;
        }
        double tot = (double)(hi - lo);
        fprintf(f, "%.6g", (r->pts[lo].iter + r->pts[hi - 1].iter) / 2.0);
        for (int k = 0; k < r->n_kinds; k++) fprintf(f, " %.4g", 100 * cnt[k] / tot);
        fprintf(f, " %.4g\n", 100 * cached / tot);
    }
    fprintf(f, "EOD\nset title ");
    char t[300];
    if (width > 1) snprintf(t, sizeof t, "%s (run %u, bins of %zu iterations)", title, r->id, width);
    else snprintf(t, sizeof t, "%s (run %u)", title, r->id);
    gp_str(f, t);
    fprintf(f, "\nset xlabel \"iteration\"\nset ylabel \"share of the candidates (%%)\"\n");
    fprintf(f, "set yrange [-3:103]\n");
    if (r->n) fprintf(f, "set xrange [%g:%g]\n", r->pts[0].iter - 0.5, r->pts[r->n - 1].iter + 0.5);
    else fprintf(f, "set xrange [0:1]\n");
    if (r->n && r->n <= 10) fprintf(f, "set xtics 1\n");
    key_below(f, r->n_kinds + 1);
    if (!r->n) {
        empty_note(f, "no iteration committed yet");
        fprintf(f, "plot 1/0 notitle\n");
        return;
    }
    fprintf(f, "plot ");
    int col = 2;
    for (int k = 0; k <= r->n_kinds; k++, col++) {
        char name[80];
        if (k == r->n_kinds) snprintf(name, sizeof name, "cache hits");
        else snprintf(name, sizeof name, "%s%s", r->kinds[k], strcmp(r->kinds[k], "ok") == 0 ? " (valid)" : "");
        fprintf(f, "%s$S using 1:%d with linespoints lw 2 dt %d pt %d ps 0.8 lc rgb \"%s\" title ",
                k ? ", " : "", col, k % 5 + 1, point_types[k % 8], colour(s, k));
        gp_str(f, name);
    }
    fputc('\n', f);
}

/* budget: per run the seconds of LLM calls, training and the rest, stacked. */
static void fig_budget(script *s, rp_run *const *runs, int n, const char *title)
{
    FILE *f = s->f;
    double span = 0;
    for (int k = 0; k < n; k++) span = fmax(span, fmax(runs[k]->iter_s, runs[k]->llm_s + runs[k]->train_s));
    const char *unit;
    double div = time_unit(span, &unit);
    fprintf(f, "$T << EOD\n");
    for (int k = 0; k < n; k++) {
        const rp_run *r = runs[k];
        double other = fmax(0, r->iter_s - r->llm_s - r->train_s);
        fprintf(f, "\"run %u\" %.6g %.6g %.6g\n", r->id, r->llm_s / div, r->train_s / div, other / div);
    }
    fprintf(f, "EOD\nset title ");
    gp_str(f, title);
    fprintf(f, "\nset ylabel \"time (%s)\"\nset xlabel \"run\"\n", unit);
    fprintf(f, "set style data histograms\nset style histogram rowstacked\nset boxwidth 0.6\n");
    fprintf(f, "set yrange [0:%g]\nset xrange [-0.7:%g]\n", span > 0 ? span / div * 1.12 : 1, n - 0.3);
    key_below(f, 3);
    if (span <= 0) empty_note(f, "no time recorded");
    fprintf(f, "plot $T using 2:xtic(1) title \"LLM calls\" fs pattern 2 border lc rgb \"%s\", "
               "'' using 3 title \"training\" fs pattern 1 border lc rgb \"%s\", "
               "'' using 4 title \"other (compile, cache, bookkeeping)\" fs pattern 4 border lc rgb \"%s\"\n",
            colour(s, 0), colour(s, 1), colour(s, 2));
}

/* ---- running gnuplot ----------------------------------------------------------- */

static void gp_path(FILE *f, const char *p)
{
    fputc('\'', f);
    for (; *p; p++) {
        if (*p == '\'') fputc('\'', f);
        fputc(*p, f);
    }
    fputc('\'', f);
}

static int run_gnuplot(const char *script_path, const char *log_path, char *err, size_t errlen)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none); /* serve blocks signals in its threads */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"gnuplot", (char *)script_path, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc) {
        snprintf(err, errlen, "cannot run gnuplot (%s): install Debian's gnuplot-nox (make deps)", strerror(rc));
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    char *log = rp_slurp(log_path, NULL);
    snprintf(err, errlen, "gnuplot failed: %.600s", log && *log ? log : "(no message)");
    free(log);
    return -1;
}

int rp_plot(rp_run *const *runs, int n_runs, const char *const *kinds, const char *const *paths,
            int n_fig, const char *format, int width, int height, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], spath[600], lpath[600];
    snprintf(dir, sizeof dir, "%s/llmnas-plot.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "cannot make a temp dir in %s: %s", tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return -1;
    }
    snprintf(spath, sizeof spath, "%s/figures.gp", dir);
    snprintf(lpath, sizeof lpath, "%s/gnuplot.log", dir);
    script s = {fopen(spath, "w"), getenv("NO_COLOR") && *getenv("NO_COLOR")};
    int rc = -1;
    if (!s.f) {
        snprintf(err, errlen, "cannot write %s: %s", spath, strerror(errno));
        goto out;
    }
    fputs("set encoding utf8\n", s.f);
    for (int i = 0; i < n_fig; i++) {
        fputs("reset\n", s.f);
        if (strcmp(format, "svg") == 0)
            fprintf(s.f, "set terminal svg size %d,%d noenhanced font \"DejaVu Sans,12\" background rgb \"white\"\n",
                    width, height);
        else if (strcmp(format, "png") == 0)
            fprintf(s.f, "set terminal pngcairo size %d,%d noenhanced font \"DejaVu Sans,10\" background rgb \"white\"\n",
                    width, height);
        else
            fprintf(s.f, "set terminal pdfcairo size %gin,%gin noenhanced font \"DejaVu Sans,10\"\n",
                    width / 100.0, height / 100.0);
        fputs("set output ", s.f);
        gp_path(s.f, paths[i]);
        fputs("\nset grid lc rgb \"#dddddd\"\nset border lc rgb \"#444444\"\nset tics nomirror\n", s.f);
        const char *k = kinds[i], *title = rp_kind_title(k);
        if (!strcmp(k, "history")) fig_history(&s, runs, n_runs, 0, title);
        else if (!strcmp(k, "history-time")) fig_history(&s, runs, n_runs, 1, title);
        else if (!strcmp(k, "pareto")) fig_pareto(&s, runs, n_runs, 0, title);
        else if (!strcmp(k, "pareto-flops")) fig_pareto(&s, runs, n_runs, 1, title);
        else if (!strcmp(k, "status")) fig_status(&s, runs[0], title);
        else fig_budget(&s, runs, n_runs, title);
        fputs("set output\n", s.f);
    }
    if (fclose(s.f) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", spath, strerror(errno));
        goto out;
    }
    rc = run_gnuplot(spath, lpath, err, errlen);
out:
    if (!getenv("LLMNAS_KEEP_PLOT_SCRIPT")) {
        unlink(spath);
        unlink(lpath);
        rmdir(dir);
    }
    return rc;
}
