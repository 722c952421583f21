/*
 * graph_weights.h — what a saved model needs from the graph's PyTorch export
 * (Lua-free; implemented at the end of graph_export.c so the names have one
 * source): the module name of a node, and Python that loads saved weights.
 */
#ifndef LLMNAS_GRAPH_WEIGHTS_H
#define LLMNAS_GRAPH_WEIGHTS_H

#include <stddef.h>

#include "graph/graph.h"

/* The attribute name of node's module in graph_to_pytorch's class Net
 * ("conv2d_3"), so "conv2d_3.weight" is its state_dict key. Returns 0,
 * GRAPH_EARG for the input node or an id not in the graph, GRAPH_ENOMEM. */
int graph_module_name(const graph *g, int node, char *buf, size_t len);

/* Python source of load_safetensors(net, path), to append to
 * graph_to_pytorch's output (it uses that file's `import torch`). Static. */
const char *graph_pytorch_loader(void);

#endif
