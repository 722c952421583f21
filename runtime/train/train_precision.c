/*
 * train_precision.c — which arithmetic a job runs in (see train.h): the
 * precision names, the native-bf16 check, and auto's choice.
 *
 * Two witnesses must agree before bf16 counts as native: the CPU itself
 * (cpuid: AVX512_BF16 or AMX-BF16), and oneDNN's effective ISA, which is what
 * its kernels will actually dispatch to (DNNL_MAX_CPU_ISA lowers it, so does a
 * library built without those kernels). Where either says no, oneDNN would
 * still accept bf16 primitives on AVX-512 but convert in software, slower than
 * plain fp32: auto then picks fp32, and an explicit bf16 is refused.
 */
#include "train/train.h"

#include <cpuid.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>

#include "base/rt.h"

static const char *const names[] = {"fp32", "bf16", "auto"};

const char *train_precision_name(int p)
{
    return p >= 0 && p < (int)(sizeof names / sizeof names[0]) ? names[p] : NULL;
}

int train_precision_parse(const char *s)
{
    for (int i = 0; s && i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
    }
}

int train_cpu_bf16(char *why, size_t whylen)
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    int avx512_bf16 = 0, amx_bf16 = 0;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d))
        avx512_bf16 = (a >> 5) & 1;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
        amx_bf16 = (d >> 22) & 1;
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    /* ISA values are bit sets: avx512_core_amx contains avx512_core_bf16's bits */
    int lib = ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
              (unsigned)dnnl_cpu_isa_avx512_core_bf16;
    int cpu = avx512_bf16 || amx_bf16;
    if (why)
        rt_fmt(why, whylen, "cpuid %s%s%s; oneDNN ISA %s", avx512_bf16 ? "avx512_bf16" : "",
               avx512_bf16 && amx_bf16 ? " " : "", amx_bf16 ? "amx_bf16" : cpu ? "" : "no bf16",
               isa_name(isa));
    return cpu && lib;
}

int train_precision_resolve(int requested, int *bf16, char *err, size_t errlen)
{
    char why[160];
    *bf16 = 0;
    switch (requested) {
    case TRAIN_PRECISION_FP32:
        return 0;
    case TRAIN_PRECISION_AUTO:
        *bf16 = train_cpu_bf16(NULL, 0);
        return 0;
    case TRAIN_PRECISION_BF16:
        if (train_cpu_bf16(why, sizeof why)) {
            *bf16 = 1;
            return 0;
        }
        rt_fmt(err, errlen, "precision bf16: this CPU has no native bf16 dot products (%s); "
               "oneDNN would emulate them, slower than fp32: use precision fp32 or auto", why);
        return TRAIN_EUNSUPPORTED;
    default:
        rt_fmt(err, errlen, "precision must be fp32, bf16 or auto");
        return TRAIN_EARG;
    }
}
