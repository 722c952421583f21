/*
 * bench_report.c — `llmnas report` at 10,000 records (`make bench`), issue 15's targets:
 * the page generated in < 2 s and rendered by chromium in < 2 s.
 *
 * Writes one run of N records (default 10,000; BENCH_REPORT_N) with the memory bench's
 * generator (bench_records.h) into a store on /dev/shm (else /tmp), then prints, as
 * medians over BENCH_REPORT_REPS (default 3) repeats:
 *   llmnas report RUN       the whole process, beside `llmnas show RUN --all --format csv`
 *                           (the same records read and printed: the reference)
 *   chromium render         the page's load event (navigation to loadEventStart, read in
 *                           the page by a measuring copy of it), and the whole headless
 *                           screenshot process beside the same for an empty page
 * and the CPU model and vector ISA read from /proc/cpuinfo. No assertion: figures only.
 */
#include "store.h"
#include "bench_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double cpu_children(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Wall seconds of cmd; *cpu its CPU seconds (user + system, every descendant
 * waited for): on a loaded machine the wall time waits for the CPU, the CPU
 * time is the work. */
static double time_cmd(const char *cmd, double *cpu)
{
    double t0 = now(), c0 = cpu_children();
    if (system(cmd) != 0) return -1;
    if (cpu) *cpu = cpu_children() - c0;
    return now() - t0;
}

static void cpu(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096], model[256] = "unknown";
    int avx2 = 0, avx512 = 0, n = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            n++;
        }
        if (!strncmp(line, "flags", 5)) {
            avx2 |= strstr(line, " avx2") != NULL;
            avx512 |= strstr(line, " avx512f") != NULL;
        }
    }
    if (f) fclose(f);
    printf("cpu: %s, %d logical cores, %s\n", model, n, avx512 ? "AVX-512" : avx2 ? "AVX2" : "no AVX2");
    double la[3];
    if (getloadavg(la, 3) == 3) printf("load average %.1f %.1f %.1f (wall times wait for the CPU above %d)\n",
                                       la[0], la[1], la[2], n);
}

/* The page's load-event time in ms as chromium measured it, from a copy of the
 * page with a measuring script (and without the CSP that forbids scripts). */
static double load_ms(const char *page, const char *dir, const char *chrome, double *cpu)
{
    char probe[600], cmd[4096], dom[600];
    snprintf(probe, sizeof probe, "%s/probe.html", dir);
    snprintf(dom, sizeof dom, "%s/dom.html", dir);
    snprintf(cmd, sizeof cmd,
             "sed -e \"s/<meta http-equiv=\\\"Content-Security-Policy\\\"[^>]*>//\" "
             "-e 's#</body>#<script>addEventListener(\"load\",function(){document.body.setAttribute("
             "\"data-load-ms\",String(performance.getEntriesByType(\"navigation\")[0].loadEventStart))})"
             "</script></body>#' '%s' > '%s' && %s --dump-dom 'file://%s' > '%s'",
             page, probe, chrome, probe, dom);
    if (time_cmd(cmd, cpu) < 0) return -1;
    FILE *f = fopen(dom, "r");
    char buf[8192];
    double ms = -1;
    while (f && fgets(buf, sizeof buf, f)) {
        char *p = strstr(buf, "data-load-ms=\"");
        if (p) ms = strtod(p + 14, NULL);
    }
    if (f) fclose(f);
    return ms;
}

int main(void)
{
    const char *ns = getenv("BENCH_REPORT_N"), *rs = getenv("BENCH_REPORT_REPS");
    unsigned n = ns ? (unsigned)strtoul(ns, NULL, 10) : 10000;
    int reps = rs ? atoi(rs) : 3;
    if (n < 1) n = 1;
    if (reps < 1 || reps > 50) reps = 3;
    const char *llmnas = getenv("LLMNAS");
    if (!llmnas) llmnas = "./llmnas";
    struct stat st;
    const char *parent = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    char dir[256], db[300], page[300], cmd[4096];
    snprintf(dir, sizeof dir, "%s/llmnas-bench-report-XXXXXX", parent);
    if (!mkdtemp(dir)) return 1;
    snprintf(db, sizeof db, "%s/db", dir);
    snprintf(page, sizeof page, "%s/report.html", dir);
    cpu();
    mem_store *s;
    char err[512];
    if (mem_open(db, NULL, &s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    bench_records_init();
    uint32_t run, iter;
    mem_begin_run(s, "{\"name\":\"bench\"}", &run);
    static char rec[8192];
    for (unsigned i = 1; i <= n; i++) {
        bench_record(rec, sizeof rec, i);
        if (mem_append(s, run, rec, NULL, &iter)) {
            fprintf(stderr, "append %u: %s\n", i, mem_errmsg(s));
            return 1;
        }
    }
    mem_close(s);
    printf("one run of %u records (the memory bench's generator) on %s; medians of %d\n", n, parent, reps);
    double t_rep[50], t_csv[50], t_load[50], t_shot[50], t_blank[50];
    double c_rep[50], c_csv[50], c_load[50], c_blank[50];
    for (int r = 0; r < reps; r++) {
        snprintf(cmd, sizeof cmd, "'%s' report --db '%s' %u -o '%s' 2>/dev/null", llmnas, db, run, page);
        t_rep[r] = time_cmd(cmd, &c_rep[r]);
        snprintf(cmd, sizeof cmd, "'%s' show --db '%s' %u --all --format csv >/dev/null", llmnas, db, run);
        t_csv[r] = time_cmd(cmd, &c_csv[r]);
    }
    stat(page, &st);
    double rep = median(t_rep, reps), csv = median(t_csv, reps);
    double crep = median(c_rep, reps), ccsv = median(c_csv, reps);
    printf("llmnas report RUN        %8.0f ms wall, %.0f ms CPU (with gnuplot; page %.1f MB)   target < 2000 ms\n",
           rep * 1e3, crep * 1e3, (double)st.st_size / 1e6);
    printf("  show RUN --all --format csv (same records, the reference): %.0f ms wall, %.0f ms CPU   ratio %.2fx (CPU)\n",
           csv * 1e3, ccsv * 1e3, ccsv > 0 ? crep / ccsv : 0);
    if (system("command -v chromium >/dev/null 2>&1") != 0) {
        printf("chromium render          skipped: chromium is not installed (make deps)\n");
    } else {
        char chrome[1200], blank[300];
        snprintf(chrome, sizeof chrome,
                 "timeout 300 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                 "--disable-background-networking --disable-component-update --disable-sync "
                 "--user-data-dir='%s/profile' 2>/dev/null", dir);
        snprintf(blank, sizeof blank, "%s/blank.html", dir);
        FILE *f = fopen(blank, "w");
        if (f) {
            fputs("<!DOCTYPE html><html><body></body></html>\n", f);
            fclose(f);
        }
        double t_bload[50];
        for (int r = 0; r < reps; r++) {
            t_load[r] = load_ms(page, dir, chrome, &c_load[r]);
            t_bload[r] = load_ms(blank, dir, chrome, &c_blank[r]);
            snprintf(cmd, sizeof cmd, "%s --window-size=1280,2000 --screenshot='%s/shot.png' 'file://%s' >/dev/null",
                     chrome, dir, page);
            t_shot[r] = time_cmd(cmd, NULL);
            snprintf(cmd, sizeof cmd, "%s --window-size=1280,2000 --screenshot='%s/blank.png' 'file://%s' >/dev/null",
                     chrome, dir, blank);
            t_blank[r] = time_cmd(cmd, NULL);
        }
        double load = median(t_load, reps), bload = median(t_bload, reps), shot = median(t_shot, reps);
        double bl = median(t_blank, reps), cl = median(c_load, reps), cb = median(c_blank, reps);
        printf("chromium render (load event) %6.0f ms wall; an empty page %.0f ms   target < 2000 ms\n", load, bload);
        printf("  chromium CPU for the page: %.0f ms; for an empty page %.0f ms: the page costs %.0f ms of CPU\n",
               cl * 1e3, cb * 1e3, (cl - cb) * 1e3);
        printf("  headless screenshot, whole process: %.0f ms; of an empty page %.0f ms: the page adds %.0f ms\n",
               shot * 1e3, bl * 1e3, (shot - bl) * 1e3);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
