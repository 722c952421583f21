/*
 * report_html.c — the report page: one self-contained HTML file. Figures are
 * gnuplot's SVG (report_plot.c) and the best network libgvc's SVG
 * (report_graph.c), inlined; the style is inline; there is no script, and a
 * Content-Security-Policy of default-src 'none' tells the browser to fetch
 * nothing, so the page works offline and as an e-mail attachment.
 *
 * Every number comes from the caller's snapshot: the rp_run columns and, for
 * the rows shown, the records themselves (mem_get in the same snapshot).
 */
#include "cli/report.h"
#include "cli/snapshot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void esc(FILE *f, const char *t)
{
    for (; t && *t; t++) {
        switch (*t) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*t, f);
        }
    }
}

static void esc_n(FILE *f, const char *t, size_t n)
{
    char *c = strndup(t ? t : "", n);
    esc(f, c);
    if (c && strlen(t ? t : "") > n) fputs(" …", f);
    free(c);
}

static const char *fcount(char *b, size_t n, double v)
{
    double a = fabs(v);
    if (!isfinite(v)) return "–";
    if (a >= 1e9) snprintf(b, n, "%.2fG", v / 1e9);
    else if (a >= 1e6) snprintf(b, n, "%.2fM", v / 1e6);
    else if (a >= 1e4) snprintf(b, n, "%.1fK", v / 1e3);
    else snprintf(b, n, "%.0f", v);
    return b;
}

static const char *fsecs(char *b, size_t n, double s)
{
    if (!isfinite(s)) return "–";
    if (s < 60) snprintf(b, n, "%.1f s", s);
    else if (s < 3600) snprintf(b, n, "%d min %02d s", (int)s / 60, (int)s % 60);
    else snprintf(b, n, "%d h %02d min", (int)(s / 3600), (int)s % 3600 / 60);
    return b;
}

static const char *fpct(char *b, size_t n, double frac)
{
    if (!isfinite(frac)) return "–";
    snprintf(b, n, "%.2f%%", frac * 100);
    return b;
}

static const char *ftime(char *b, size_t n, double unix_s)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (!isfinite(unix_s) || unix_s <= 0 || !gmtime_r(&t, &tm)) return "–";
    strftime(b, n, "%Y-%m-%d %H:%M:%S", &tm);
    return b;
}

static const char style[] =
    "body{font:15px/1.45 'DejaVu Sans',sans-serif;color:#111;background:#fff;margin:1.5em auto;"
    "max-width:1180px;padding:0 1em}"
    "h1{font-size:1.6em;margin:.2em 0}h2{margin-top:2em;border-bottom:2px solid #333}"
    "table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #999;padding:.2em .5em;"
    "text-align:left;vertical-align:top}th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "figure{margin:1em 0;padding:.5em;border:1px solid #ccc}figure svg{max-width:100%;height:auto;display:block}"
    "figcaption{font-size:.9em;color:#333;margin-top:.3em}"
    "pre{background:#f6f6f6;border:1px solid #ddd;padding:.5em;overflow:auto;max-height:30em;font-size:12px}"
    ".dag svg{max-width:100%;height:auto}.dag{overflow:auto;max-height:70em;border:1px solid #ccc}"
    "tr:target{outline:3px solid #000}tr.best td:first-child{font-weight:bold}"
    "details summary{cursor:pointer}.note{color:#333;font-size:.9em}.bad{font-weight:bold}"
    "@media print{figure,table{break-inside:avoid}}";

/* ---- figures ----------------------------------------------------------------- */

static int inline_svg(FILE *out, const char *path)
{
    char *svg = rp_slurp(path, NULL);
    char *in = svg ? rp_svg_inline(svg) : NULL;
    free(svg);
    if (!in) return -1;
    fputs(in, out);
    free(in);
    return 0;
}

static size_t drawn_points(const rp_run *r, size_t *valid)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if ((r->pts[i].flags & RP_OK) && isfinite(r->pts[i].acc)) n++;
    *valid = n;
    return n > RP_MAX_POINTS ? RP_MAX_POINTS : n;
}

static int figures(FILE *out, rp_run *const *runs, int n, char *err, size_t errlen)
{
    static const char *const shared[] = {"history", "history-time", "pareto", "pareto-flops", "budget"};
    int nf = 5 + n;
    const char **kinds = calloc((size_t)nf, sizeof *kinds);
    char **paths = calloc((size_t)nf, sizeof *paths);
    rp_run **one = calloc((size_t)n + 1, sizeof *one);
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/llmnas-report.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int rc = -1;
    if (!kinds || !paths || !one || !mkdtemp(dir)) {
        snprintf(err, errlen, "cannot make a temp dir for the figures: %s", strerror(errno));
        goto out;
    }
    for (int i = 0; i < nf; i++) {
        kinds[i] = i < 5 ? shared[i] : "status";
        paths[i] = malloc(600);
        if (paths[i]) snprintf(paths[i], 600, "%s/fig%d.svg", dir, i);
    }
    /* the shared figures overlay every run; status is one figure per run */
    if (rp_plot(runs, n, kinds, (const char *const *)paths, 5, "svg", 960, 540, err, errlen)) goto out;
    for (int k = 0; k < n; k++) {
        one[0] = runs[k];
        if (rp_plot(one, 1, kinds + 5 + k, (const char *const *)paths + 5 + k, 1, "svg", 960, 460, err, errlen))
            goto out;
    }
    size_t total_valid = 0, total_drawn = 0;
    for (int k = 0; k < n; k++) {
        size_t v;
        total_drawn += drawn_points(runs[k], &v);
        total_valid += v;
    }
    char note[200] = "";
    if (total_drawn < total_valid)
        snprintf(note, sizeof note, " Drawn: %zu of %zu valid candidates (every accepted and Pareto-front one, "
                 "the rest sampled evenly); the best-so-far line uses them all.", total_drawn, total_valid);
    static const char *const captions[] = {
        "The line is the best validation accuracy reached so far; each mark is one candidate that trained; "
        "the crosses on the floor are iterations that produced no valid network.",
        "The same against the training time spent (cache hits cost none), for comparisons at equal compute.",
        "Each mark is a valid candidate; the staircase is the Pareto front: the best accuracy reached "
        "with at most that many parameters.",
        "As above against forward FLOPs per image.",
        "LLM calls, training and everything else (compiling, cache look-ups, bookkeeping), summed over the "
        "iterations of each run.",
    };
    fputs("<h2 id=\"figures\">Figures</h2>\n", out);
    for (int i = 0; i < nf; i++) {
        const char *k = kinds[i];
        if (i < 5)
            fprintf(out, "<figure id=\"fig-%s\" data-kind=\"%s\" data-runs=\"%d\" data-points=\"%zu\">\n", k, k,
                    n, total_drawn);
        else
            fprintf(out, "<figure id=\"fig-status-%u\" data-kind=\"status\" data-run=\"%u\" data-iterations=\"%zu\">\n",
                    runs[i - 5]->id, runs[i - 5]->id, runs[i - 5]->n);
        if (inline_svg(out, paths[i])) {
            snprintf(err, errlen, "gnuplot wrote no figure %s", paths[i]);
            goto out;
        }
        fputs("<figcaption>", out);
        if (i < 5) {
            esc(out, captions[i]);
            if (i < 4) esc(out, note);
        } else {
            const rp_run *r = runs[i - 5];
            fprintf(out, "Run %u: the share of each status (ok is a valid, trained candidate; the others are "
                    "the kinds of failure%s) and of evaluation-cache hits, per bin of iterations.",
                    r->id, r->n_pruned ? " and candidates pruned early" : "");
        }
        fputs("</figcaption></figure>\n", out);
    }
    rc = 0;
out:
    for (int i = 0; paths && i < nf; i++) {
        if (paths[i]) unlink(paths[i]);
        free(paths[i]);
    }
    rmdir(dir);
    free(paths);
    free(kinds);
    free(one);
    return rc;
}

/* ---- tables -------------------------------------------------------------------- */

static void runs_table(FILE *out, rp_run *const *runs, int n)
{
    char b[8][48];
    fputs("<h2 id=\"runs\">Runs</h2>\n<table id=\"runs-table\"><tr><th>run</th><th>name</th><th>started (UTC)</th>"
          "<th>iterations</th><th>valid</th><th>best val_acc</th><th>at iteration</th><th>cache hits</th>"
          "<th>pruned</th><th>damaged</th><th>training time</th><th>LLM time</th><th>tokens</th>"
          "<th>last commit (UTC)</th></tr>\n", out);
    for (int k = 0; k < n; k++) {
        const rp_run *r = runs[k];
        double started = 0, tokens = 0;
        snap_jnum(r->record, "started", &started);
        for (int i = 0; i < r->n_roles; i++) tokens += r->roles[i].prompt_tokens + r->roles[i].completion_tokens;
        double last = r->n ? r->pts[r->n - 1].committed_at : NAN;
        fprintf(out, "<tr><td class=\"n\"><a href=\"#run-%u\">%u</a></td><td>", r->id, r->id);
        esc(out, r->name);
        fprintf(out, "</td><td>%s</td><td class=\"n\">%zu</td><td class=\"n\">%zu (%s)</td>",
                ftime(b[0], sizeof b[0], started), r->n, r->n_ok,
                r->n ? fpct(b[1], sizeof b[1], (double)r->n_ok / (double)r->n) : "–");
        if (r->best_iter)
            fprintf(out, "<td class=\"n\">%s</td><td class=\"n\"><a href=\"#r%u-i%u\">%u</a></td>",
                    fpct(b[2], sizeof b[2], r->best_acc), r->id, r->best_iter, r->best_iter);
        else
            fputs("<td class=\"bad\">none valid</td><td>–</td>", out);
        fprintf(out, "<td class=\"n\">%zu</td><td class=\"n\">%zu</td><td class=\"n\">%zu</td><td class=\"n\">%s</td>"
                "<td class=\"n\">%s</td><td class=\"n\">%s</td><td>%s</td></tr>\n",
                r->n_cached, r->n_pruned, r->n_damaged, fsecs(b[3], sizeof b[3], r->train_s),
                fsecs(b[4], sizeof b[4], r->llm_s), fcount(b[5], sizeof b[5], tokens),
                ftime(b[6], sizeof b[6], last));
    }
    fputs("</table>\n", out);
}

static void llm_tables(FILE *out, rp_run *const *runs, int n)
{
    char b[6][48];
    fputs("<h2 id=\"llm\">LLM use and the time budget</h2>\n<table id=\"llm-table\"><tr><th>run</th><th>role</th>"
          "<th>calls</th><th>prompt tokens</th><th>completion tokens</th><th>time</th><th>mean latency per call</th></tr>\n",
          out);
    for (int k = 0; k < n; k++) {
        const rp_run *r = runs[k];
        if (!r->n_roles) fprintf(out, "<tr><td class=\"n\">%u</td><td colspan=\"6\">no LLM calls recorded</td></tr>\n", r->id);
        for (int i = 0; i < r->n_roles; i++) {
            const rp_role *x = &r->roles[i];
            fprintf(out, "<tr><td class=\"n\">%u</td><td>", r->id);
            esc(out, x->name);
            fprintf(out, "</td><td class=\"n\">%.0f</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                    "<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n", x->calls,
                    fcount(b[0], sizeof b[0], x->prompt_tokens), fcount(b[1], sizeof b[1], x->completion_tokens),
                    fsecs(b[2], sizeof b[2], x->seconds),
                    x->calls > 0 ? fsecs(b[3], sizeof b[3], x->seconds / x->calls) : "–");
        }
    }
    fputs("</table>\n<table id=\"budget-table\"><tr><th>run</th><th>LLM</th><th>training</th><th>other</th>"
          "<th>total (sum of iterations)</th></tr>\n", out);
    for (int k = 0; k < n; k++) {
        const rp_run *r = runs[k];
        double other = fmax(0, r->iter_s - r->llm_s - r->train_s), tot = fmax(r->iter_s, r->llm_s + r->train_s);
        fprintf(out, "<tr><td class=\"n\">%u</td>", r->id);
        double parts[3] = {r->llm_s, r->train_s, other};
        for (int i = 0; i < 3; i++)
            fprintf(out, "<td class=\"n\">%s (%s)</td>", fsecs(b[0], sizeof b[0], parts[i]),
                    tot > 0 ? fpct(b[1], sizeof b[1], parts[i] / tot) : "–");
        fprintf(out, "<td class=\"n\">%s</td></tr>\n", fsecs(b[2], sizeof b[2], tot));
    }
    fputs("</table>\n", out);
}

static void best_network(FILE *out, mem_store *s, const rp_run *r)
{
    char b[4][48], err[700];
    fprintf(out, "<h3 id=\"best-%u\">Run %u: the best network</h3>\n", r->id, r->id);
    if (!r->best_iter) {
        fputs("<p class=\"bad\">No candidate of this run trained successfully: there is no best network yet.</p>\n", out);
        return;
    }
    const rp_point *p = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (r->pts[i].iter == r->best_iter) p = &r->pts[i];
    fprintf(out, "<table class=\"best-table\"><tr><th>iteration</th><th>val_acc</th><th>params</th><th>FLOPs</th>"
            "<th>training time</th></tr><tr><td class=\"n\"><a href=\"#r%u-i%u\">%u</a></td><td class=\"n\">%s</td>"
            "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr></table>\n",
            r->id, r->best_iter, r->best_iter, fpct(b[0], sizeof b[0], r->best_acc),
            fcount(b[1], sizeof b[1], p ? p->params : NAN), fcount(b[2], sizeof b[2], p ? p->flops : NAN),
            fsecs(b[3], sizeof b[3], p ? p->train_s : NAN));
    char *svg = NULL, *summary = NULL;
    int rc = rp_best_graph(s, r, &svg, &summary, err, sizeof err);
    if (svg) {
        fprintf(out, "<div class=\"dag\" id=\"dag-%u\" data-iter=\"%u\">", r->id, r->best_iter);
        fputs(svg, out);
        fputs("</div>\n<p class=\"note\">Drawn by Graphviz (dot): one box per layer with its parameters; each "
              "edge carries the tensor shape (channels x height x width, or features) it passes on.</p>\n", out);
    }
    if (rc) {
        fputs("<p class=\"note\">The graph is not drawn: ", out);
        esc(out, err);
        fputs(".</p>\n", out);
    }
    if (summary) {
        fputs("<pre class=\"summary\">", out);
        esc(out, summary);
        fputs("</pre>\n", out);
    }
    free(svg);
    free(summary);
}

/* Which rows of r the candidate table shows: all up to max_rows, else the
 * first and last ones, every accepted one, the best, every one with a triple
 * among the last RP_MAX_TRIPLES, and an even sample. */
static unsigned char *select_rows(const rp_run *r, size_t max_rows, size_t *shown)
{
    unsigned char *sel = calloc(r->n + 1, 1);
    if (!sel) return NULL;
    *shown = 0;
    if (r->n <= max_rows) {
        memset(sel, 1, r->n);
        *shown = r->n;
        return sel;
    }
    size_t triples = 0;
    for (size_t i = r->n; i-- > 0;) {
        const rp_point *p = &r->pts[i];
        int keep = i < 20 || i + 100 >= r->n || (p->flags & RP_ACCEPTED) || p->iter == r->best_iter;
        if ((p->flags & RP_TRIPLE) && triples < RP_MAX_TRIPLES) keep = 1, triples++;
        sel[i] = (unsigned char)keep;
    }
    size_t step = r->n / (max_rows / 2 ? max_rows / 2 : 1) + 1;
    for (size_t i = 0; i < r->n; i += step) sel[i] = 1;
    for (size_t i = 0; i < r->n; i++) *shown += sel[i];
    return sel;
}

static void triples_table(FILE *out, mem_store *s, const rp_run *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) n += (r->pts[i].flags & RP_TRIPLE) != 0;
    fprintf(out, "<h3 id=\"triples-%u\">Run %u: diagnostic triples</h3>\n", r->id, r->id);
    if (!n) {
        fputs("<p>No record of this run has a diagnostic triple (the strategy does not reflect).</p>\n", out);
        return;
    }
    if (n > RP_MAX_TRIPLES) fprintf(out, "<p class=\"note\">The last %d of %zu triples.</p>\n", RP_MAX_TRIPLES, n);
    fprintf(out, "<table class=\"triples\" id=\"triples-table-%u\"><tr><th>iteration</th><th>status</th><th>val_acc</th>"
            "<th>problem</th><th>suggestion</th><th>outcome</th></tr>\n", r->id);
    size_t seen = 0;
    char b[48];
    for (size_t i = 0; i < r->n; i++) {
        const rp_point *p = &r->pts[i];
        if (!(p->flags & RP_TRIPLE) || seen++ + RP_MAX_TRIPLES < n) continue;
        char *text = NULL;
        if (mem_get(s, r->id, p->iter, &text)) continue;
        cJSON *rec = cJSON_Parse(text);
        mem_free(text);
        fprintf(out, "<tr><td class=\"n\"><a href=\"#r%u-i%u\">%u</a></td><td>", r->id, p->iter, p->iter);
        esc(out, r->kinds[p->kind]);
        fprintf(out, "</td><td class=\"n\">%s</td>", fpct(b, sizeof b, p->acc));
        static const char *const parts[] = {"triple.problem", "triple.suggestion", "triple.outcome"};
        for (int k = 0; k < 3; k++) {
            fputs("<td>", out);
            esc_n(out, snap_jstr(rec, parts[k]), 600);
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
        cJSON_Delete(rec);
    }
    fputs("</table>\n", out);
}

static void json_cell(FILE *out, const cJSON *v)
{
    fputs("<td>", out);
    if (cJSON_IsString(v)) esc(out, v->valuestring);
    else if (v) {
        char *t = cJSON_PrintUnformatted(v);
        esc_n(out, t, 80);
        free(t);
    } else fputs("–", out);
    fputs("</td>", out);
}

static void candidates_table(FILE *out, mem_store *s, const rp_run *r, size_t max_rows)
{
    size_t shown = 0;
    unsigned char *sel = select_rows(r, max_rows, &shown);
    fprintf(out, "<h3 id=\"candidates-%u\">Run %u: candidates</h3>\n", r->id, r->id);
    if (!r->n) {
        fputs("<p>No iteration committed yet.</p>\n", out);
        free(sel);
        return;
    }
    if (shown < r->n)
        fprintf(out, "<p class=\"note\">%zu of %zu iterations: the first 20, the last 100, every accepted one, "
                "those in the triples table and an even sample; <code>llmnas show %u:ITER</code> prints any "
                "other.</p>\n", shown, r->n, r->id);
    fprintf(out, "<table class=\"candidates\" id=\"candidates-table-%u\"><tr><th>iteration</th><th>status</th>"
            "<th>val_acc</th><th>params</th><th>FLOPs</th><th>training</th><th>tokens</th>%s%s<th>note</th>"
            "<th>code</th></tr>\n", r->id, r->has_worker ? "<th>worker</th>" : "",
            r->has_fidelity ? "<th>fidelity</th>" : "");
    char b[6][48];
    for (size_t i = 0; sel && i < r->n; i++) {
        if (!sel[i]) continue;
        const rp_point *p = &r->pts[i];
        fprintf(out, "<tr id=\"r%u-i%u\"%s><td class=\"n\">%u</td><td>", r->id, p->iter,
                p->iter == r->best_iter ? " class=\"best\"" : "", p->iter);
        esc(out, r->kinds[p->kind]);
        fputs("</td>", out);
        if (p->flags & RP_DAMAGED) {
            fprintf(out, "<td colspan=\"%d\" class=\"bad\">damaged record (failed its checksum)</td></tr>\n",
                    7 + r->has_worker + r->has_fidelity);
            continue;
        }
        fprintf(out, "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                "<td class=\"n\">%s</td>", fpct(b[0], sizeof b[0], p->acc), fcount(b[1], sizeof b[1], p->params),
                fcount(b[2], sizeof b[2], p->flops), fsecs(b[3], sizeof b[3], p->train_s),
                fcount(b[4], sizeof b[4], p->tokens));
        char *text = NULL;
        cJSON *rec = mem_get(s, r->id, p->iter, &text) == 0 ? cJSON_Parse(text) : NULL;
        mem_free(text);
        if (r->has_worker) json_cell(out, snap_jget(rec, "worker"));
        if (r->has_fidelity) json_cell(out, snap_jget(rec, "fidelity"));
        fputs("<td class=\"note\">", out);
        if (p->flags & RP_ACCEPTED) fputs("new best. ", out);
        if (p->flags & RP_CACHED) fputs("cache hit. ", out);
        if (p->flags & RP_PRUNED) fputs("pruned early. ", out);
        const char *e = snap_jstr(rec, "error");
        if (e && !(p->flags & RP_OK)) esc_n(out, e, 200);
        fputs("</td><td>", out);
        const char *code = snap_jstr(rec, "code");
        if (code) {
            fputs("<details><summary>code</summary><pre>", out);
            esc(out, code);
            fputs("</pre></details>", out);
        } else {
            fputs("–", out);
        }
        fputs("</td></tr>\n", out);
        cJSON_Delete(rec);
    }
    fputs("</table>\n", out);
    free(sel);
}

int rp_page(FILE *out, mem_store *s, rp_run *const *runs, int n, const rp_page_opts *o, char *err, size_t errlen)
{
    char b[48];
    time_t now = time(NULL);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n", out);
    if (o->refresh > 0) fprintf(out, "<meta http-equiv=\"refresh\" content=\"%d\">\n", o->refresh);
    fputs("<meta name=\"generator\" content=\"llmnas " LLMNAS_VERSION "\">\n<title>llmnas report: ", out);
    for (int k = 0; k < n; k++) {
        fprintf(out, "%srun %u (", k ? ", " : "", runs[k]->id);
        esc(out, runs[k]->name);
        fputs(")", out);
    }
    if (!n) fputs("no runs", out);
    fprintf(out, "</title>\n<style>%s</style></head>\n<body>\n", style);
    fputs("<h1>llmnas report</h1>\n<p class=\"note\">Store <code>", out);
    esc(out, o->db);
    fprintf(out, "</code>, read %s UTC in one committed snapshot: the numbers are those of "
            "<code>llmnas show</code> at that moment.%s</p>\n", ftime(b, sizeof b, (double)now),
            o->refresh > 0 ? " This page reloads itself while the run writes." : "");
    if (o->nav) fputs(o->nav, out);
    if (!n) {
        fputs("<p>The store holds no run yet.</p>\n</body></html>\n", out);
        return ferror(out) ? -1 : 0;
    }
    fputs("<p>Contents: <a href=\"#runs\">runs</a> · <a href=\"#figures\">figures</a> · <a href=\"#llm\">LLM use "
          "and time</a> · <a href=\"#best\">best networks</a> · <a href=\"#records\">triples and candidates</a></p>\n",
          out);
    runs_table(out, runs, n);
    if (figures(out, runs, n, err, errlen)) return -1;
    llm_tables(out, runs, n);
    fputs("<h2 id=\"best\">Best networks</h2>\n", out);
    for (int k = 0; k < n; k++) best_network(out, s, runs[k]);
    fputs("<h2 id=\"records\">Diagnostic triples and candidates</h2>\n", out);
    for (int k = 0; k < n; k++) {
        fprintf(out, "<section id=\"run-%u\">\n", runs[k]->id);
        triples_table(out, s, runs[k]);
        candidates_table(out, s, runs[k], o->max_rows > 0 ? (size_t)o->max_rows : RP_MAX_ROWS);
        fputs("</section>\n", out);
    }
    fputs("</body></html>\n", out);
    if (ferror(out)) {
        snprintf(err, errlen, "write error: %s", strerror(errno));
        return -1;
    }
    return 0;
}
