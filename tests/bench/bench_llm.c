/*
 * bench_llm.c — what the LLM client costs, measured side by side in one run against
 * tests/llm_server.py on loopback (run from the repository root):
 *   1. per call: llm_chat vs a bare libcurl POST of the same body (same server, same
 *      connection reuse) — the client's own overhead (JSON, keys, accounting);
 *   2. concurrency: 8 calls to a server that takes 0.25 s each, one after another vs
 *      llm_chat_many;
 *   3. replay: calls answered from an in-memory cache, no network.
 * Figures only; nothing is asserted.
 */
#include "llm/llm.h"
#include "base/rt.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t server_pid;
static char server_dir[64];

static int start_server(const char *replies, char *url, size_t cap)
{
    snprintf(server_dir, sizeof server_dir, "/tmp/llmnas-bench-llm-XXXXXX");
    if (!mkdtemp(server_dir))
        return -1;
    char rp[128], pp[128], watch[32];
    snprintf(rp, sizeof rp, "%s/replies.jsonl", server_dir);
    snprintf(pp, sizeof pp, "%s/port", server_dir);
    FILE *f = fopen(rp, "w");
    if (!f)
        return -1;
    fputs(replies, f);
    fclose(f);
    snprintf(watch, sizeof watch, "%d", (int)getpid());
    fflush(NULL); /* the child must not write our buffered output again */
    server_pid = fork();
    if (server_pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execl("/usr/bin/python3", "python3", "tests/llm_server.py", "--replies", rp, "--loop",
              "--port-file", pp, "--lifetime", "300", "--watch-pid", watch, (char *)NULL);
        _exit(127);
    }
    int port = 0;
    for (int i = 0; i < 200 && port == 0; i++) {
        FILE *p = fopen(pp, "r");
        if (p) {
            if (fscanf(p, "%d", &port) != 1)
                port = 0;
            fclose(p);
        }
        if (!port)
            usleep(25000);
    }
    snprintf(url, cap, "http://127.0.0.1:%d/v1", port);
    return port ? 0 : -1;
}

static void stop_server(void)
{
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", server_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", server_dir);
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p, (void)ud;
    return s * n;
}

static const llm_message msgs[] = {{"system", "You write small networks."},
                                   {"user", "Propose a CNN for Fashion-MNIST."}};

static llm_request request(void)
{
    llm_request r;
    llm_request_init(&r);
    r.messages = msgs, r.n_messages = 2, r.temperature = 0.7, r.top_p = 0.9;
    r.max_tokens = 2048, r.has_seed = 1, r.seed = 43;
    return r;
}

static double bench_bare_curl(const char *url, int n)
{
    char full[160];
    snprintf(full, sizeof full, "%s/chat/completions", url);
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"You write "
                       "small networks.\"},{\"role\":\"user\",\"content\":\"Propose a CNN for "
                       "Fashion-MNIST.\"}],\"temperature\":0.7,\"top_p\":0.9,\"max_tokens\":2048,"
                       "\"seed\":43}";
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    double t0 = rt_now();
    for (int i = 0; i < n; i++)
        if (curl_easy_perform(h) != CURLE_OK)
            fprintf(stderr, "bare curl: request %d failed\n", i);
    double dt = rt_now() - t0;
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return dt;
}

static double bench_client(llm_client *c, int n)
{
    llm_request r = request();
    double t0 = rt_now();
    for (int i = 0; i < n; i++) {
        llm_result res;
        if (llm_chat(c, &r, &res) != 0)
            fprintf(stderr, "llm_chat: %s\n", res.message);
        llm_result_free(&res);
    }
    return rt_now() - t0;
}

typedef struct { char key[65]; char *val; } entry;
static entry entries[4096];
static int n_entries;
static int mc_get(void *u, const char *k, char **out)
{
    (void)u;
    for (int i = n_entries - 1; i >= 0; i--)
        if (strcmp(entries[i].key, k) == 0)
            return (*out = strdup(entries[i].val)) ? 0 : -1;
    return 1;
}
static int mc_put(void *u, const char *k, const char *json)
{
    (void)u;
    if (n_entries == 4096)
        return -1;
    snprintf(entries[n_entries].key, 65, "%s", k);
    entries[n_entries++].val = strdup(json);
    return 0;
}

int main(void)
{
    char url[96];
    const int n = 300;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (start_server("{\"reply\": \"def Net(x, classes) return x end\"}\n", url, sizeof url)) {
        fprintf(stderr, "bench_llm: the test server did not start (run from the repo root)\n");
        return 1;
    }
    llm_config cfg;
    llm_config_defaults(&cfg);
    cfg.base_url = url, cfg.model = "m";
    llm_client *c;
    llm_client_new(&cfg, &c);
    bench_client(c, 20); /* warm up both sides */
    bench_bare_curl(url, 20);
    double bare = bench_bare_curl(url, n), ours = bench_client(c, n);
    printf("per call (%d sequential calls, loopback, Python server):\n", n);
    printf("  bare libcurl POST   %7.3f ms/call\n", 1e3 * bare / n);
    printf("  llm_chat            %7.3f ms/call   ratio llm_chat / bare = %.2f\n",
           1e3 * ours / n, ours / bare);

    /* Replay: record n distinct requests, then answer them from the cache. */
    llm_cache cache = {mc_get, mc_put, NULL};
    llm_client_set_cache(c, &cache, LLM_CACHE_RECORD);
    bench_client(c, 200);
    llm_client_set_cache(c, &cache, LLM_CACHE_REPLAY);
    double rep = bench_client(c, 200);
    printf("replay from an in-memory cache: %.3f ms/call (%.0f calls/s), %.0fx faster than the "
           "network call above\n", 1e3 * rep / 200, 200 / rep, (ours / n) / (rep / 200));
    llm_client_free(c);
    stop_server();

    if (start_server("{\"reply\": \"slow reply\", \"delay\": 0.25}\n", url, sizeof url))
        return 1;
    cfg.base_url = url;
    llm_client_new(&cfg, &c);
    llm_request reqs[8];
    llm_result res[8];
    for (int i = 0; i < 8; i++)
        reqs[i] = request();
    double seq = bench_client(c, 8);
    double t0 = rt_now();
    llm_chat_many(c, reqs, 8, res);
    double many = rt_now() - t0;
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        ok += res[i].status == 0;
        llm_result_free(&res[i]);
    }
    printf("8 calls to a server taking 0.25 s each:\n");
    printf("  one after another   %6.2f s\n", seq);
    printf("  llm_chat_many       %6.2f s   (%d/8 ok)   speed-up %.1fx\n", many, ok, seq / many);
    llm_client_free(c);
    stop_server();
    for (int i = 0; i < n_entries; i++)
        free(entries[i].val);
    return 0;
}
