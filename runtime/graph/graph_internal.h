/*
 * graph_internal.h — shared between graph.c, graph_json.c and graph_export.c;
 * not part of the public contract.
 */
#ifndef LLMNAS_GRAPH_INTERNAL_H
#define LLMNAS_GRAPH_INTERNAL_H

#include "graph/graph.h"

/* Which attributes an op reads (graph_op_fields). */
enum {
    GF_OUT = 1u << 0, GF_KERNEL = 1u << 1, GF_STRIDE = 1u << 2, GF_PADDING = 1u << 3,
    GF_DILATION = 1u << 4, GF_GROUPS = 1u << 5, GF_BIAS = 1u << 6, GF_CEIL = 1u << 7,
    GF_CIP = 1u << 8, GF_EPS = 1u << 9, GF_MOMENTUM = 1u << 10, GF_SLOPE = 1u << 11,
    GF_P = 1u << 12, GF_APPROX = 1u << 13,
};

unsigned graph_op_fields(graph_op op);

/* Canonical node order (see graph.c): order[0..*count) receives the ids of the
 * nodes the output depends on, inputs first. order holds g->n ints. */
int graph_canonical_order(const graph *g, int *order, int *count);

#endif
