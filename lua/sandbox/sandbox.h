/*
 * sandbox.h — compile an untrusted candidate program (the candidate language,
 * stdlib/doc/candidate-language.md) into a graph.
 *
 * sandbox_compile runs the program in a fresh Lua state of its own: an
 * allow-list environment (the names left out on purpose — io, os, package,
 * debug, load, require, collectgarbage, getmetatable, rawget, rawset, print,
 * string.dump, pack and the pattern functions — are a deny-list in
 * sandbox.c whose reasons a candidate that touches them reads:
 * "`io` is not available in a candidate: a candidate only builds a network";
 * string.rep capped; table.move bounded),
 * read-only library tables, globals and string metatable, setmetatable
 * refusing metatables with __gc, text chunks only, an allocator capped at
 * mem_limit, and an instruction budget enforced by a count hook that stays on
 * once it fires (so pcall cannot swallow it). A Lua hook cannot stop a C
 * function, so untrusted code must go through sandbox_compile_isolated, which
 * does the same inside a forked worker (runtime/worker.h) with a CPU limit, an
 * address-space limit and a wall-clock deadline.
 *
 * Error kinds: syntax (the program does not parse, binary chunk), runtime
 * (any other Lua error, bad nn arguments, no Net), shape (shapes do not fit,
 * output not [B, classes]), too_large (source or node-count cap, counts that
 * overflow), limit_cpu (instruction budget or CPU time), limit_memory,
 * and from the worker: timeout, crashed, interrupted.
 * Messages begin with their stage, SANDBOX_STAGE_COMPILE (loading and running
 * the program, limits, the worker) or SANDBOX_STAGE_BUILD (calling Net, the
 * output check), then name the candidate's line ("building the network:
 * candidate:7: Linear: ..."); the text is cut to max_message bytes; error values that are not strings or numbers are
 * reported by type, without calling any of their metamethods.
 */
#ifndef LLMNAS_SANDBOX_H
#define LLMNAS_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"

#define SANDBOX_KIND_LEN 32

/* Message prefixes of the stages (followed by ": "); "training" is the trainer's. */
#define SANDBOX_STAGE_COMPILE "compiling candidate"
#define SANDBOX_STAGE_BUILD "building the network"

typedef struct sandbox_opts {
    int64_t c, h, w;          /* input shape without the batch (default 1, 28, 28) */
    int classes;              /* required output features; 0 = unchecked (default 10) */
    const char *name;         /* chunk name in messages (default "candidate") */
    size_t mem_limit;         /* Lua allocator cap in bytes (default 256 MiB) */
    long long instructions;   /* VM instruction budget (default 50 million) */
    size_t max_source;        /* source size cap in bytes (default 256 KiB) */
    int max_nodes;            /* node-count cap (default GRAPH_DEFAULT_MAX_NODES) */
    size_t max_message;       /* error message cap in bytes (default 2000) */
    double time_limit;        /* CPU seconds (default 10): Lua code is stopped at 80%
                                 of it (limit_cpu); isolated, the worker's RLIMIT_CPU
                                 is time_limit rounded up (for C code) and the
                                 wall-clock deadline twice time_limit, at least
                                 one second more (timeout) */
} sandbox_opts;

void sandbox_opts_default(sandbox_opts *o);

/*
 * Compile in this process (trusted callers, tests, and the worker's child).
 * Returns 0 with *out a finalized graph (caller frees with graph_free), or -1
 * with kind and msg filled.
 */
int sandbox_compile(const char *src, size_t len, const sandbox_opts *o, graph **out,
                    char kind[SANDBOX_KIND_LEN], char *msg, size_t msglen);

/*
 * Compile in a forked worker: time_limit is the CPU limit (rounded up to whole
 * seconds), the wall-clock deadline twice that, the address-space headroom is mem_limit plus
 * 64 MiB. Returns 0 with *out as above, or -1 with kind and msg filled
 * (kind "interrupted" after Ctrl-C). Also returns the worker's wall time.
 */
int sandbox_compile_isolated(const char *src, size_t len, const sandbox_opts *o, graph **out,
                             char kind[SANDBOX_KIND_LEN], char *msg, size_t msglen,
                             double *seconds);

#endif
