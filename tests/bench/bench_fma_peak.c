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

/* One kernel per vector width, the same loop: CHAINS independent chains of FMAs on
 * registers, ITERS/4 times. The lanes' sum goes to *sink so nothing is optimised away.
 * Returns the FLOPs done: 2 per lane per FMA. */
#define FMA_KERNEL(name, isa, vec, lanes, set1, fmadd, storeu)                       \
    __attribute__((target(isa))) static double name(long iters, float *sink)         \
    {                                                                                \
        vec a[CHAINS], m = set1(0.999999f), c = set1(1e-7f);                         \
        for (int i = 0; i < CHAINS; i++)                                             \
            a[i] = set1((float)i);                                                   \
        for (long k = 0; k < iters; k++)                                             \
            _Pragma("GCC unroll 12") for (int i = 0; i < CHAINS; i++)                \
                a[i] = fmadd(a[i], m, c);                                            \
        float v[lanes], s = 0;                                                       \
        for (int i = 0; i < CHAINS; i++) {                                           \
            storeu(v, a[i]);                                                         \
            for (int l = 0; l < (lanes); l++)                                        \
                s += v[l];                                                           \
        }                                                                            \
        *sink = s;                                                                   \
        return 2.0 * (lanes) * CHAINS * (double)iters;                               \
    }

FMA_KERNEL(run512, "avx512f", __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps)
FMA_KERNEL(run256, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps)

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
