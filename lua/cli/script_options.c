/* script_options.c — see script_options.h. */
#include "cli/script_options.h"
#include "base/rt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECL "--@option"

void script_options_free(script_options *o)
{
    free(o->v);
    o->v = NULL;
    o->n = 0;
}

/* Parse "--name [METAVAR] [help...]" after the marker. Returns 0 or -1. */
static int parse_decl(char *s, script_option *opt)
{
    memset(opt, 0, sizeof *opt);
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strcspn(s, " \t\r\n");
    if (n < 3 || n >= sizeof opt->flag || strncmp(s, "--", 2) != 0)
        return -1;
    for (size_t i = 2; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return -1;
    memcpy(opt->flag, s, n);
    for (size_t i = 2; i <= n; i++)
        opt->key[i - 2] = opt->flag[i] == '-' ? '_' : opt->flag[i];
    s += n;
    while (*s == ' ' || *s == '\t')
        s++;
    /* An upper-case word right after the name is its value's placeholder. */
    size_t m = strcspn(s, " \t\r\n");
    int meta = m > 0 && m < sizeof opt->metavar;
    for (size_t i = 0; meta && i < m; i++)
        meta = isupper((unsigned char)s[i]) || s[i] == '_' || isdigit((unsigned char)s[i]);
    if (meta) {
        memcpy(opt->metavar, s, m);
        s += m;
        while (*s == ' ' || *s == '\t')
            s++;
    }
    size_t h = strcspn(s, "\r\n");
    rt_fmt(opt->help, sizeof opt->help, "%.*s", (int)h, s);
    return 0;
}

int script_options_read(const char *path, script_options *out, char *err, size_t cap)
{
    out->v = NULL;
    out->n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    int lineno = 0, cap_n = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncmp(s, DECL, strlen(DECL)) != 0)
            continue;
        script_option opt;
        if (parse_decl(s + strlen(DECL), &opt) != 0) {
            rt_fmt(err, cap, "%s:%d: a declaration reads '--@option --name [VALUE] help', "
                   "got '%.*s'", path, lineno, (int)strcspn(s, "\r\n"), s);
            fclose(f);
            script_options_free(out);
            return -1;
        }
        if (out->n == cap_n) {
            cap_n = cap_n ? 2 * cap_n : 8;
            script_option *v = realloc(out->v, (size_t)cap_n * sizeof *v);
            if (!v) {
                rt_fmt(err, cap, "out of memory");
                fclose(f);
                script_options_free(out);
                return -1;
            }
            out->v = v;
        }
        out->v[out->n++] = opt;
    }
    fclose(f);
    return 0;
}

const script_option *script_options_find(const script_options *o, const char *flag)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->v[i].flag, flag) == 0)
            return &o->v[i];
    return NULL;
}

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 1000;
    int d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

const char *cli_nearest(const char *word, const char *const *candidates, int n)
{
    char w[64];
    rt_fmt(w, sizeof w, "%.*s", (int)strcspn(word, "="), word); /* "--iteration=3" */
    const char *best = NULL;
    int bd = 1000;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(w, candidates[i]);
        if (d < bd) {
            bd = d;
            best = candidates[i];
        }
    }
    int len = (int)strlen(w), limit = len / 3 > 2 ? len / 3 : 2;
    return bd <= limit ? best : NULL;
}
