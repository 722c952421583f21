/*
 * cmd_report.c — `llmnas report [RUN...] [-o report.html]`: the runs as one
 * self-contained HTML page (lua/cli/report_html.c), read from one committed
 * snapshot of the store, opened read-only like `llmnas show`.
 */
#include "cli/cli.h"
#include "cli/report.h"
#include "cli/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char report_usage[] = "llmnas report [--db DIR] [RUN...] [-o FILE.html] [--max-rows N]";

static const char report_help[] =
    "usage: llmnas report [OPTIONS] [RUN...]\n"
    "\n"
    "Writes one self-contained HTML page (no network, no script: figures and the\n"
    "network's drawing are inline SVG) about the runs: best-so-far and every\n"
    "candidate's accuracy against iteration and training time (runs overlaid),\n"
    "accuracy against parameters and FLOPs with the Pareto front, statuses over\n"
    "the iterations, LLM calls, tokens and latency per role, the time budget,\n"
    "the best network drawn as a graph with its summary, the diagnostic triples\n"
    "and every candidate's row with its code. RUN is a run id or \"latest\";\n"
    "without RUN, the store's last 8 runs. Safe while a run writes: everything\n"
    "comes from one committed snapshot. `llmnas serve` shows the same live.\n"
    "\n"
    "options:\n"
    "  --db DIR           feedback memory directory (default ./llmnas.db)\n"
    "  -o, --output FILE  the page (default report.html; - for stdout)\n"
    "  --max-rows N       candidate rows per run before sampling (default 300)\n"
    "  -h, --help         this help\n"
    "\n"
    "exit codes: 0 written, 64 bad usage, 65 a damaged record, 66 no such store\n"
    "or run, 70 a figure could not be drawn, 73 the output is not writable\n";

int cmd_report(int argc, char **argv);
int cmd_report(int argc, char **argv)
{
    const char *db = MEM_DEFAULT_DIR, *output = "report.html";
    long max_rows = RP_MAX_ROWS;
    char **targets = calloc((size_t)argc, sizeof *targets);
    int nt = 0;
    if (!targets) return EX_OSERR;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (cli_is_help(a)) {
            fputs(report_help, stdout);
            free(targets);
            return EX_OK;
        }
        if (!strcmp(a, "--db") || !strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--max-rows")) {
            if (i + 1 >= argc) {
                free(targets);
                return cli_usage_error("report", report_usage, "option %s needs a value", a);
            }
            val = argv[++i];
        } else if (!strncmp(a, "--db=", 5) || !strncmp(a, "--output=", 9) || !strncmp(a, "--max-rows=", 11)) {
            val = strchr(a, '=') + 1;
        } else if (a[0] == '-' && a[1]) {
            free(targets);
            return cli_usage_error("report", report_usage, "unknown option '%s'", a);
        } else {
            targets[nt++] = argv[i];
            continue;
        }
        if (!strncmp(a, "--db", 4)) db = val;
        else if (!strncmp(a, "--max-rows", 10)) {
            char *end;
            errno = 0;
            max_rows = strtol(val, &end, 10);
            if (errno || *end || end == val || max_rows < 1 || max_rows > 1000000) {
                free(targets);
                return cli_usage_error("report", report_usage, "--max-rows needs a number 1..1000000, got '%s'", val);
            }
        } else output = val;
    }
    mem_store *s = NULL;
    int ex = snap_open("report", db, &s);
    if (ex) {
        free(targets);
        return ex;
    }
    int rc = mem_snapshot_begin(s);
    if (rc) {
        ex = snap_store_error("report", s, rc);
        mem_close(s);
        free(targets);
        return ex;
    }
    rp_run **runs = NULL;
    int n = 0;
    ex = rp_load("report", s, targets, nt, 8, &runs, &n);
    free(targets);
    if (ex) {
        mem_close(s);
        return ex;
    }
    /* Written beside the target and renamed: a reader never sees half a page. */
    char tmp[4200];
    int to_stdout = strcmp(output, "-") == 0;
    FILE *f = stdout;
    if (!to_stdout) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", output, (long)getpid());
        f = fopen(tmp, "w");
        if (!f) {
            cli_error("report: cannot write '%s': %s", output, strerror(errno));
            rp_free_all(runs, n);
            mem_close(s);
            return EX_CANTCREAT;
        }
    }
    rp_page_opts po = {.db = mem_path(s), .max_rows = (int)max_rows};
    char err[1024] = "";
    rc = rp_page(f, s, runs, n, &po, err, sizeof err);
    size_t damaged = 0;
    for (int i = 0; i < n; i++) damaged += runs[i]->n_damaged;
    rp_free_all(runs, n);
    mem_close(s);
    if (to_stdout) {
        if (fflush(stdout) != 0) rc = -1;
    } else if (fclose(f) != 0) {
        rc = -1;
        snprintf(err, sizeof err, "%s", strerror(errno));
    }
    if (rc) {
        cli_error("report: %s", err[0] ? err : "write error");
        if (!to_stdout) unlink(tmp);
        return err[0] && strstr(err, "gnuplot") ? EX_SOFTWARE : EX_IOERR;
    }
    if (!to_stdout) {
        if (rename(tmp, output) != 0) {
            cli_error("report: cannot write '%s': %s", output, strerror(errno));
            unlink(tmp);
            return EX_CANTCREAT;
        }
        fprintf(stderr, "llmnas report: wrote %s (%d run%s)\n", output, n, n == 1 ? "" : "s");
    }
    if (damaged) {
        cli_error("report: %zu damaged record%s (shown as damaged)", damaged, damaged == 1 ? "" : "s");
        return EX_DATAERR;
    }
    return EX_OK;
}
