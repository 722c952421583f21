/*
 * cmd_plot.c — `llmnas plot RUN --kind K [-o FILE.png|.svg|.pdf]`: one of the
 * report's figures as an image file for papers and slides, drawn by the same
 * gnuplot path as the report (lua/cli/report_plot.c).
 */
#include "cli/cli.h"
#include "cli/report.h"
#include "cli/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char plot_usage[] =
    "llmnas plot [--db DIR] RUN [RUN...] --kind history|history-time|pareto|pareto-flops|status|budget\n"
    "                   [-o FILE.png|.svg|.pdf] [--size WxH]";

static const char plot_help[] =
    "usage: llmnas plot [OPTIONS] RUN [RUN...] --kind KIND\n"
    "\n"
    "Draws one figure of the report as an image, with gnuplot (cairo for PNG and\n"
    "PDF, its SVG terminal for SVG). Several RUNs are overlaid (not for status).\n"
    "  history       validation accuracy per iteration: best so far and each candidate\n"
    "  history-time  the same against cumulative training time\n"
    "  pareto        accuracy against parameters with the Pareto front\n"
    "  pareto-flops  accuracy against FLOPs with the Pareto front\n"
    "  status        share of each status (valid, failure kinds, cache hits, pruned)\n"
    "  budget        time split: LLM calls, training, other\n"
    "NO_COLOR set: black lines and marks (series differ by dash and mark anyway).\n"
    "\n"
    "options:\n"
    "  --db DIR           feedback memory directory (default ./llmnas.db)\n"
    "  --kind KIND        the figure (required)\n"
    "  -o, --output FILE  the image; its extension picks the format (default\n"
    "                     run-RUN-KIND.png)\n"
    "  --size WxH         pixels (PDF: at 100 per inch; default 1000x600)\n"
    "  -h, --help         this help\n"
    "\n"
    "exit codes: 0 written, 64 bad usage, 65 a damaged record, 66 no such store\n"
    "or run, 70 gnuplot failed or is missing\n";

static const char *format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot) return NULL;
    if (!strcasecmp(dot, ".png")) return "png";
    if (!strcasecmp(dot, ".svg")) return "svg";
    if (!strcasecmp(dot, ".pdf")) return "pdf";
    return NULL;
}

int cmd_plot(int argc, char **argv);
int cmd_plot(int argc, char **argv)
{
    const char *db = MEM_DEFAULT_DIR, *output = NULL, *kind = NULL;
    int w = 1000, h = 600;
    char **targets = calloc((size_t)argc, sizeof *targets);
    int nt = 0, ex;
    if (!targets) return EX_OSERR;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (cli_is_help(a)) {
            fputs(plot_help, stdout);
            free(targets);
            return EX_OK;
        }
        if (!strcmp(a, "--db") || !strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--kind") ||
            !strcmp(a, "--size")) {
            if (i + 1 >= argc) {
                free(targets);
                return cli_usage_error("plot", plot_usage, "option %s needs a value", a);
            }
            val = argv[++i];
        } else if (!strncmp(a, "--db=", 5) || !strncmp(a, "--output=", 9) || !strncmp(a, "--kind=", 7) ||
                   !strncmp(a, "--size=", 7)) {
            val = strchr(a, '=') + 1;
        } else if (a[0] == '-' && a[1]) {
            free(targets);
            return cli_usage_error("plot", plot_usage, "unknown option '%s'", a);
        } else {
            targets[nt++] = argv[i];
            continue;
        }
        if (!strncmp(a, "--db", 4)) db = val;
        else if (!strncmp(a, "--kind", 6)) kind = val;
        else if (!strncmp(a, "--size", 6)) {
            char *end;
            long lw = strtol(val, &end, 10), lh = *end == 'x' ? strtol(end + 1, &end, 10) : 0;
            if (*end || lw < 100 || lh < 100 || lw > 10000 || lh > 10000) {
                free(targets);
                return cli_usage_error("plot", plot_usage, "--size needs WxH in pixels, 100..10000 each, got '%s'", val);
            }
            w = (int)lw, h = (int)lh;
        } else output = val;
    }
    if (!kind || !rp_kind_valid(kind)) {
        free(targets);
        return cli_usage_error("plot", plot_usage, kind ? "unknown --kind '%s'" : "--kind is required%s", kind ? kind : "");
    }
    if (!nt) {
        free(targets);
        return cli_usage_error("plot", plot_usage, "which RUN? (a run id or 'latest'; llmnas show lists them)");
    }
    if (nt > 1 && !strcmp(kind, "status")) {
        free(targets);
        return cli_usage_error("plot", plot_usage, "--kind status draws one run, got %d", nt);
    }
    char dflt[300];
    if (!output) {
        snprintf(dflt, sizeof dflt, "run-%s-%s.png", targets[0], kind);
        output = dflt;
    }
    const char *fmt = format_of(output);
    if (!fmt) {
        free(targets);
        return cli_usage_error("plot", plot_usage, "'%s': the output must end in .png, .svg or .pdf", output);
    }
    if (strchr(output, '\n')) {
        free(targets);
        return cli_usage_error("plot", plot_usage, "the output name has a newline");
    }
    /* a clear message before any work, and no empty file left behind */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", output);
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
    if (access(slash ? dir : ".", W_OK) != 0) {
        cli_error("plot: cannot write '%s': %s", output, strerror(errno));
        free(targets);
        return EX_CANTCREAT;
    }
    mem_store *s = NULL;
    if ((ex = snap_open("plot", db, &s))) {
        free(targets);
        return ex;
    }
    int rc = mem_snapshot_begin(s);
    rp_run **runs = NULL;
    int n = 0;
    ex = rc ? snap_store_error("plot", s, rc) : rp_load("plot", s, targets, nt, 1, &runs, &n);
    free(targets);
    mem_close(s);
    if (ex) return ex;
    char err[1024];
    const char *kinds[1] = {kind}, *paths[1] = {output};
    rc = rp_plot(runs, n, kinds, paths, 1, fmt, w, h, err, sizeof err);
    size_t damaged = 0;
    for (int i = 0; i < n; i++) damaged += runs[i]->n_damaged;
    rp_free_all(runs, n);
    if (rc) {
        cli_error("plot: %s", err);
        return EX_SOFTWARE;
    }
    fprintf(stderr, "llmnas plot: wrote %s (%s, %dx%d)\n", output, fmt, w, h);
    return damaged ? EX_DATAERR : EX_OK;
}
