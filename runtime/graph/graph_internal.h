/*
 * graph_internal.h — shared between graph.c, graph_json.c and graph_export.c;
 * not part of the public contract.
 */
#ifndef LLMNAS_GRAPH_INTERNAL_H
#define LLMNAS_GRAPH_INTERNAL_H

#include "graph/graph.h"

/* Canonical node order (see graph.c): order[0..*count) receives the ids of the
 * nodes the output depends on, inputs first. order holds g->n ints. */
int graph_canonical_order(const graph *g, int *order, int *count);

#endif
