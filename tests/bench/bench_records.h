/*
 * bench_records.h — the synthetic candidate records the benches write (about 2 KB
 * each, as the search loop writes them): used by bench_memory.c and bench_report.c,
 * so both measure the same records.
 */
#ifndef LLMNAS_BENCH_RECORDS_H
#define LLMNAS_BENCH_RECORDS_H

#include <stdio.h>

static char bench_code[1601];

/* Fill the candidate source every record carries. */
static void bench_records_init(void)
{
    for (size_t i = 0; i < sizeof bench_code - 1; i++) bench_code[i] = "function Net(x) return x end "[i % 29];
}

/* Record i (1-based): three in four valid, one in 50 accepted, one in 11 a cache hit. */
static int bench_record(char *dst, size_t len, unsigned i)
{
    int ok = i % 4 != 0;
    return snprintf(dst, len,
        "{\"status\":\"%s\",%s\"code\":\"%s\",\"hash\":\"%032x\","
        "\"metrics\":{\"val_acc\":%.4f,\"params\":%u,\"flops\":%u,\"seconds\":%.2f},"
        "\"llm\":{\"generator\":{\"prompt_tokens\":1900,\"completion_tokens\":600,\"seconds\":4.5},"
        "\"improver\":{\"prompt_tokens\":2100,\"completion_tokens\":150,\"seconds\":1.5}},"
        "\"triple\":{\"problem\":\"the network underfits after one epoch\",\"suggestion\":\"add a "
        "residual stage with 64 channels\",\"outcome\":\"accuracy: 71.20%%\"},"
        "\"accepted\":%s,\"cache_hit\":%s}",
        ok ? "ok" : "failed", ok ? "" : "\"error_kind\":\"shape\",\"error\":\"Linear: expected 512 got 256\",",
        bench_code, i * 2654435761u, (double)(i * 7919u % 10007u) / 10007.0, 10000 + i % 5000,
        1000000 + i, 20.0 + i % 13, i % 50 == 1 ? "true" : "false", i % 11 == 0 ? "true" : "false");
}

#endif
