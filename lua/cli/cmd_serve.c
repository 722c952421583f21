/*
 * cmd_serve.c — `llmnas serve [--db DIR] [--port P]`: the live view. Serves the
 * report page (lua/cli/report_html.c) of the store's runs over HTTP with
 * Debian's libmicrohttpd, rebuilt from a fresh committed snapshot on every
 * request, and reloading itself in the browser, so it follows a run as its
 * records commit.
 *
 * Read-only by construction: the store is opened read-only (LMDB read
 * transactions only, never the writer's llmnas.lock), so a run's writer is
 * never blocked and a writer killed at any instant (kill -9 included) leaves
 * the last committed state for the next request. Only GET of its own pages is
 * answered (405 for any other method, 404 for any other path); it listens on
 * 127.0.0.1 unless --bind names another address, and then says so.
 *
 * One libmicrohttpd polling thread handles every request in turn: a mem_store
 * is used by one thread at a time, and the pages are cheap enough.
 */
#include "cli/cli.h"
#include "cli/report.h"
#include "cli/snapshot.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char serve_usage[] = "llmnas serve [--db DIR] [--port P] [--bind ADDR] [--refresh S]";

static const char serve_help[] =
    "usage: llmnas serve [OPTIONS]\n"
    "\n"
    "Serves the report of the store's runs (running and finished) over HTTP and\n"
    "keeps it current: each request reads a fresh committed snapshot and the\n"
    "page reloads itself. Read-only: it never takes the writer's lock, so it can\n"
    "watch a run being written and keeps answering if that run is killed.\n"
    "\n"
    "pages:\n"
    "  /           the last 8 runs, overlaid\n"
    "  /run/N      run N alone\n"
    "Only GET is answered (other methods: 405; other paths: 404).\n"
    "\n"
    "options:\n"
    "  --db DIR      feedback memory directory (default ./llmnas.db); it may not\n"
    "                exist yet: the page waits for the run to create it\n"
    "  --port P      TCP port (default 8080; 0 picks a free one, printed)\n"
    "  --bind ADDR   IPv4 address to listen on (default 127.0.0.1, this machine\n"
    "                only); another address makes the records, prompts and code\n"
    "                readable from the network, and serve says so\n"
    "  --refresh S   seconds between reloads in the browser (default 5; 0 never)\n"
    "  -h, --help    this help\n"
    "\n"
    "Stops on Ctrl-C or SIGTERM. exit codes: 0 stopped, 64 bad usage, 69 the\n"
    "port cannot be bound\n";

typedef struct {
    const char *db;
    mem_store *s;
    int refresh;
} serve_ctx;

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                               const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result text_page(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char *b = strdup(msg);
    return b ? respond(c, status, b, strlen(b), "text/plain; charset=utf-8") : MHD_NO;
}

/* The page of `target` ("" for the last runs) in a fresh snapshot. */
static enum MHD_Result report_page(serve_ctx *x, struct MHD_Connection *c, const char *target)
{
    if (!x->s) {
        mem_options mo = {.readonly = 1};
        char err[768];
        if (mem_open(x->db, &mo, &x->s, err, sizeof err)) {
            x->s = NULL;
            char *b = NULL;
            size_t n = 0;
            FILE *f = open_memstream(&b, &n);
            if (!f) return MHD_NO;
            fprintf(f, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta http-equiv=\"refresh\" content=\"%d\"><title>llmnas serve: waiting</title></head>"
                       "<body><h1>llmnas serve</h1><p>No store to read yet. ", x->refresh > 0 ? x->refresh : 5);
            for (const char *p = err; *p; p++) {
                if (*p == '<') fputs("&lt;", f);
                else if (*p == '&') fputs("&amp;", f);
                else fputc(*p, f);
            }
            fputs("</p><p>This page reloads itself until a run creates it.</p></body></html>\n", f);
            fclose(f);
            return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, b, n, "text/html; charset=utf-8");
        }
    }
    char *b = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&b, &n);
    if (!f) return MHD_NO;
    int rc = mem_snapshot_begin(x->s);
    rp_run **runs = NULL;
    int nr = 0;
    unsigned status = MHD_HTTP_OK;
    char err[1024] = "";
    if (rc) {
        snprintf(err, sizeof err, "%s", mem_errmsg(x->s));
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    } else {
        char *t[1] = {(char *)target};
        /* rp_load prints its reason; the page names the run */
        int ex = rp_load("serve", x->s, t, target[0] ? 1 : 0, 8, &runs, &nr);
        if (ex) {
            snprintf(err, sizeof err, ex == EX_NOINPUT ? "no run %s in this store" : "cannot read run %s", target);
            status = ex == EX_NOINPUT ? MHD_HTTP_NOT_FOUND : MHD_HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (!err[0]) {
        /* links to every run's own page */
        char *nav = NULL;
        size_t nn = 0;
        FILE *nf = open_memstream(&nav, &nn);
        uint32_t last = 0;
        if (nf) {
            fputs("<p>Pages: <a href=\"/\">last runs</a>", nf);
            if (mem_latest_run(x->s, &last) == 0)
                for (uint32_t id = 1; id <= last; id++) fprintf(nf, " · <a href=\"/run/%u\">run %u</a>", id, id);
            fputs("</p>\n", nf);
            fclose(nf);
        }
        rp_page_opts po = {.db = mem_path(x->s), .refresh = x->refresh, .nav = nav, .max_rows = RP_MAX_ROWS};
        if (rp_page(f, x->s, runs, nr, &po, err, sizeof err)) status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        free(nav);
    }
    rp_free_all(runs, nr);
    if (!rc) mem_snapshot_end(x->s);
    fclose(f);
    if (status != MHD_HTTP_OK) {
        free(b);
        return text_page(c, status, err);
    }
    return respond(c, status, b, n, "text/html; charset=utf-8");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **req)
{
    serve_ctx *x = cls;
    (void)version, (void)upload, (void)req;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
        if (upload_size) *upload_size = 0; /* the body is not read */
        return text_page(c, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed: llmnas serve is read-only (GET only)\n");
    }
    if (strcmp(url, "/") == 0) return report_page(x, c, "");
    if (strncmp(url, "/run/", 5) == 0) {
        uint32_t id;
        const char *t = url + 5;
        if (snap_parse_id(t, strlen(t), &id) == 0 || strcmp(t, "latest") == 0) return report_page(x, c, t);
    }
    return text_page(c, MHD_HTTP_NOT_FOUND, "404 not found: the pages are / and /run/N\n");
}

int cmd_serve(int argc, char **argv);
int cmd_serve(int argc, char **argv)
{
    serve_ctx x = {.db = MEM_DEFAULT_DIR, .refresh = 5};
    const char *bind = "127.0.0.1";
    long port = 8080;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (cli_is_help(a)) {
            fputs(serve_help, stdout);
            return EX_OK;
        }
        if (strcmp(a, "--db") && strcmp(a, "--port") && strcmp(a, "--bind") && strcmp(a, "--refresh"))
            return cli_usage_error("serve", serve_usage, "unknown %s '%s'", a[0] == '-' ? "option" : "argument", a);
        if (i + 1 >= argc) return cli_usage_error("serve", serve_usage, "option %s needs a value", a);
        val = argv[++i];
        if (!strcmp(a, "--db")) x.db = val;
        else if (!strcmp(a, "--bind")) bind = val;
        else {
            char *end;
            errno = 0;
            long v = strtol(val, &end, 10);
            long hi = !strcmp(a, "--port") ? 65535 : 86400;
            if (errno || *end || end == val || v < 0 || v > hi)
                return cli_usage_error("serve", serve_usage, "%s needs a number 0..%ld, got '%s'", a, hi, val);
            if (!strcmp(a, "--port")) port = v;
            else x.refresh = (int)v;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind, &sa.sin_addr) != 1)
        return cli_usage_error("serve", serve_usage, "--bind needs an IPv4 address such as 127.0.0.1, got '%s'", bind);
    int loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
    /* The daemon's thread inherits this mask; sigwait below takes the signals. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
                                            NULL, NULL, handle, &x, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d) {
        cli_error("serve: cannot listen on %s:%ld (%s): is the port taken? try --port 0", bind, port,
                  strerror(errno));
        return EX_UNAVAILABLE;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned actual = di ? di->port : (unsigned)port;
    if (!loopback)
        fprintf(stderr, "llmnas serve: WARNING: listening on %s, not on loopback: anyone who can reach this "
                "address can read the runs' records, prompts and code\n", bind);
    printf("llmnas serve: http://%s:%u/ (read-only view of %s; Ctrl-C stops)\n", bind, actual, x.db);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    mem_close(x.s);
    printf("llmnas serve: stopped\n");
    return EX_OK;
}
