/*
 * report.h — what `llmnas report`, `llmnas plot` and `llmnas serve` share
 * (lua/cli/report_*.c): a run's records read into columns from one committed
 * snapshot (report_data.c), its figures drawn by gnuplot (report_plot.c), the
 * best network laid out by Graphviz's libgvc (report_graph.c), and the
 * self-contained HTML page (report_html.c).
 *
 * Record fields read (all optional, absent ones are left out of the page):
 * status, error_kind, error, code, hash, accepted, cache_hit, triple,
 * metrics.{val_acc, params, flops, seconds}, llm.<role>.{calls, prompt_tokens,
 * completion_tokens, seconds}, seconds (the whole iteration), committed_at,
 * and when the search records them: pruned (or status "pruned"), worker,
 * fidelity.
 */
#ifndef LLMNAS_CLI_REPORT_H
#define LLMNAS_CLI_REPORT_H

#include "store.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    RP_OK = 1u,        /* status ok (trained) */
    RP_ACCEPTED = 2u,  /* became the new best */
    RP_CACHED = 4u,    /* result from the evaluation cache */
    RP_PRUNED = 8u,    /* stopped early by the search */
    RP_TRIPLE = 16u,   /* has a diagnostic triple */
    RP_DAMAGED = 32u,  /* the record failed its checksum: nothing else is known */
};

/* One iteration; NAN where the record has no such number. */
typedef struct rp_point {
    uint32_t iter;
    unsigned flags;
    int kind;              /* index into rp_run.kinds: the status column */
    double acc;            /* metrics.val_acc, a fraction */
    double params, flops;
    double train_s;        /* metrics.seconds (not counted for cache hits) */
    double llm_s, iter_s;  /* LLM seconds of the record; the whole iteration */
    double tokens;         /* prompt + completion tokens */
    double train_cum;      /* training seconds of iterations 1..iter */
    double committed_at;   /* Unix seconds */
} rp_point;

typedef struct rp_role {
    char name[64];
    double calls, prompt_tokens, completion_tokens, seconds;
} rp_role;

#define RP_MAX_KINDS 12
#define RP_MAX_ROLES 16

typedef struct rp_run {
    uint32_t id;
    cJSON *record;          /* the run record (meta, totals) */
    char name[96];
    rp_point *pts;
    size_t n;
    char kinds[RP_MAX_KINDS][32]; /* status words seen: "ok", error kinds, "other" */
    size_t kind_count[RP_MAX_KINDS];
    int n_kinds;
    rp_role roles[RP_MAX_ROLES];
    int n_roles;
    double train_s, llm_s, iter_s; /* sums over the records */
    uint32_t best_iter;     /* highest val_acc among ok records (0: none) */
    double best_acc;
    size_t n_ok, n_cached, n_pruned, n_damaged;
    int has_worker, has_fidelity;
    double in_c, in_h, in_w, classes; /* meta.task.input/classes (defaults 1x28x28, 10) */
} rp_run;

/* Read run `run` of s (inside the caller's snapshot) into *out. Damaged records
 * are kept as points flagged RP_DAMAGED. Returns 0, or a MEM_ code with
 * mem_errmsg(s) telling why. Free with rp_run_free. */
int rp_collect(mem_store *s, uint32_t run, rp_run **out);
void rp_run_free(rp_run *r);

/* The runs named by targets (ids or "latest"; none: the store's last max_default
 * runs), collected inside the caller's snapshot. Returns 0 with *out (free each
 * with rp_run_free, then the array with free) or prints "llmnas: CMD: why" and
 * returns an exit code (64 a malformed RUN, 66 no such run, 65 damaged). */
int rp_load(const char *cmd, mem_store *s, char *const *targets, int n_targets, int max_default,
            rp_run ***out, int *n_out);
void rp_free_all(rp_run **runs, int n);

/* The figures, one name each; rp_kind_title gives the figure's title.
 * "history" and "history-time" are accuracy vs iteration / vs training time,
 * "pareto" and "pareto-flops" accuracy vs parameters / FLOPs with the Pareto
 * front, "status" the share of each status over the iterations, "budget" the
 * time split (LLM, training, other) of each run. */
extern const char *const rp_kinds[];
const char *rp_kind_title(const char *kind);
int rp_kind_valid(const char *kind);

/* Most points drawn per run in a scatter figure: beyond it every accepted and
 * Pareto point is kept and the rest sampled evenly (the caption says so). */
#define RP_MAX_POINTS 1200

/* Candidate rows per run before the table is sampled (--max-rows), and the
 * most recent diagnostic triples listed: what keeps a 10,000-iteration page fast. */
#define RP_MAX_ROWS 300
#define RP_MAX_TRIPLES 200

/* Draw figures with gnuplot. format is "svg", "png" or "pdf"; width and height
 * in pixels (pdf: at 100 px per inch). The n_fig figures kinds[i] go to
 * paths[i]; one gnuplot process draws them all. NO_COLOR in the environment
 * draws black lines and points (told apart by dash and point type, as they
 * are in colour too). Returns 0, or -1 with a message in err (gnuplot's own
 * message when it failed, or how to install it when it is missing). */
int rp_plot(rp_run *const *runs, int n_runs, const char *const *kinds, const char *const *paths,
            int n_fig, const char *format, int width, int height, char *err, size_t errlen);

/* Read a whole file into a NUL-terminated malloc'd string (*len its length). NULL on failure. */
char *rp_slurp(const char *path, size_t *len);

/* The SVG text of an SVG document ready to inline in HTML: from <svg on, without
 * the XML prolog, DOCTYPE, comments and namespace declarations. malloc'd. */
char *rp_svg_inline(const char *svg);

/* The best network of r (the record of iteration r->best_iter) compiled in the
 * sandbox and drawn by libgvc: *svg the DAG (malloc'd, inline-ready), *summary
 * graph_summary's table (malloc'd). Returns 0, or -1 with why in err. */
int rp_best_graph(mem_store *s, const rp_run *r, char **svg, char **summary, char *err, size_t errlen);

typedef struct rp_page_opts {
    const char *db;          /* the store's path, named in the page */
    int refresh;             /* > 0: reload every refresh seconds (serve) */
    const char *nav;         /* HTML of links to other pages (serve), or NULL */
    int max_rows;            /* candidate rows before sampling (0: RP_MAX_ROWS) */
} rp_page_opts;

/* Write the report page of runs (each read with rp_collect from s, in the
 * caller's snapshot) to out. Returns 0, or -1 with why in err (a figure that
 * could not be drawn). */
int rp_page(FILE *out, mem_store *s, rp_run *const *runs, int n_runs, const rp_page_opts *o,
            char *err, size_t errlen);

#endif
