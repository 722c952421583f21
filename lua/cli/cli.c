/* cli.c — see cli.h. */
#include "cli/cli.h"
#include "train/dataset.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "llmnas %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return EX_USAGE;
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("llmnas: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* "1x28x28, 10 classes, 60000 + 10000 images" for the registry's entry. */
static void print_dataset(const ds_info *e)
{
    char shape[96] = "shape and classes from the files";
    if (e->c > 0)
        snprintf(shape, sizeof shape, "%dx%dx%d, %d classes, %d train / %d test images", e->c,
                 e->h, e->w, e->classes, e->ntrain, e->ntest);
    char name[64];
    snprintf(name, sizeof name, "%s%s", e->name, e->name[strlen(e->name) - 1] == ':' ? "PATH" : "");
    printf("  %-18s %s%s\n", name, shape, e == ds_at(0) ? " (default)" : "");
    printf("  %-18s %s\n", "", e->about);
}

void cli_print_help(const char *text, const char *(*field)(const char *name))
{
    const char *p = text;
    while (*p) {
        const char *at = strchr(p, '@');
        const char *end = at ? strchr(at + 1, '@') : NULL;
        if (!at || !end) {
            fputs(p, stdout);
            return;
        }
        fwrite(p, 1, (size_t)(at - p), stdout);
        char name[64];
        size_t n = (size_t)(end - at - 1);
        const char *v = NULL;
        if (n < sizeof name) {
            memcpy(name, at + 1, n);
            name[n] = '\0';
            if (strcmp(name, "DATASETS") == 0) {
                for (int i = 0; i < ds_count(); i++)
                    print_dataset(ds_at(i));
                p = end[1] == '\n' ? end + 2 : end + 1;
                continue;
            }
            v = strcmp(name, "DEFAULT_DATASET") == 0 ? ds_default_name()
                : field                              ? field(name)
                                                     : NULL;
        }
        if (v) {
            fputs(v, stdout);
            p = end + 1;
        } else {
            fputc('@', stdout);
            p = at + 1;
        }
    }
}
