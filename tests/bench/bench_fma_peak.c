/* bench_fma_peak.c — the machine's practical fp32 FMA peak, the yardstick the
 * trainer benchmarks divide their GFLOP/s by (tests/bench/bench_precision.py).
 *
 * Each OpenMP thread runs 12 independent chains of fused multiply-adds on
 * registers (enough to cover the FMA latency on two ports) for a fixed count,
 * with the widest vectors the CPU has (AVX-512, else AVX2 + FMA, detected at
 * run time); the best of 5 repeats is kept. Prints the ISA used, the peak on
 * all threads and on one, or with --json one JSON object.
 *   bench_fma_peak [--json] [THREADS]   (default: OMP's thread count) */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS 12
#define ITERS 20000000L

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* FLOPs done: 2 per lane per FMA. The sum goes to *sink so nothing is optimised away. */
__attribute__((target("avx512f"))) static double run512(long iters, float *sink)
{
    __m512 a[CHAINS], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++)
        a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < iters; k++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            a[i] = _mm512_fmadd_ps(a[i], m, c);
    __m512 s = a[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm512_add_ps(s, a[i]);
    *sink = _mm512_reduce_add_ps(s);
    return 2.0 * 16 * CHAINS * (double)iters;
}

__attribute__((target("avx2,fma"))) static double run256(long iters, float *sink)
{
    __m256 a[CHAINS], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++)
        a[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < iters; k++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            a[i] = _mm256_fmadd_ps(a[i], m, c);
    __m256 s = a[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm256_add_ps(s, a[i]);
    float v[8];
    _mm256_storeu_ps(v, s);
    *sink = v[0] + v[7];
    return 2.0 * 8 * CHAINS * (double)iters;
}

static double peak(int threads, int wide, float *sink)
{
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double flops = 0, t0 = now();
        #pragma omp parallel num_threads(threads) reduction(+ : flops)
        {
            float s = 0;
            flops += wide ? run512(ITERS / 4, &s) : run256(ITERS / 4, &s);
            #pragma omp atomic
            *sink += s;
        }
        double g = flops / (now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    int json = 0, threads = omp_get_max_threads();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else
            threads = atoi(argv[i]) > 0 ? atoi(argv[i]) : threads;
    }
    __builtin_cpu_init();
    int wide = __builtin_cpu_supports("avx512f");
    if (!wide && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        printf(json ? "{\"status\":\"no avx2+fma\"}\n" : "fp32 FMA peak: needs AVX2 + FMA\n");
        return 0;
    }
    float sink = 0;
    double all = peak(threads, wide, &sink), one = peak(1, wide, &sink);
    if (json)
        printf("{\"status\":\"ok\",\"isa\":\"%s\",\"threads\":%d,\"gflops\":%.1f,\"gflops_1\":%.1f,"
               "\"sink\":%g}\n", wide ? "avx512f" : "avx2+fma", threads, all, one, (double)sink);
    else
        printf("fp32 FMA peak (%s): %.1f GFLOP/s on %d threads, %.1f on 1 (best of 5)\n",
               wide ? "avx512f" : "avx2+fma", all, threads, one);
    return 0;
}
