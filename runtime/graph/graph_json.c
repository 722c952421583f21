/*
 * graph_json.c — the canonical JSON of a graph, its inverse and the graph hash.
 *
 * Canonical JSON (version 1), keys sorted, no whitespace:
 *   {"input":[C,H,W],"nodes":[{"op":"Input"},{"inputs":[0],"kernel":[3,3],
 *    "op":"Conv2d",...},...],"output":N,"version":1}
 * Nodes are in canonical order (graph_canonical_order), a node lists only the
 * attributes its op reads, source lines and derived figures (shapes, counts)
 * are left out: they are recomputed by graph_from_json. The hash is the first
 * 32 hex digits (128 bits) of the SHA-256 of these bytes.
 */
#include "graph/graph.h"
#include "graph/graph_internal.h"
#include "base/hash.h"
#include "base/rt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sort an object's members by key (insertion sort on cJSON's list). */
static void sort_keys(cJSON *obj)
{
    cJSON *sorted = NULL, *next;
    for (cJSON *it = obj->child; it; it = next) {
        next = it->next;
        cJSON **pp = &sorted, *prev = NULL;
        while (*pp && strcmp((*pp)->string, it->string) < 0) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        it->next = *pp;
        it->prev = prev;
        if (*pp)
            (*pp)->prev = it;
        *pp = it;
    }
    obj->child = sorted;
    if (sorted) {  /* cJSON keeps the last element in child->prev */
        cJSON *last = sorted;
        while (last->next)
            last = last->next;
        sorted->prev = last;
    }
}

static int add_attrs(cJSON *o, const graph_node *n)
{
    unsigned set = graph_op_info_get(n->op)->attrs;
    int ok = 1;
    for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++) {
        if (!(set & GRAPH_ATTR_BIT(id)))
            continue;
        const graph_attr_info *ai = graph_attr_info_get(id);
        int64_t v = graph_attr_int(&n->a, id, 0);
        switch (ai->type) {
        case GRAPH_T_PAIR: {
            int both[2] = {(int)v, (int)graph_attr_int(&n->a, id, 1)};
            ok &= cJSON_AddItemToObject(o, ai->key, cJSON_CreateIntArray(both, 2));
            break;
        }
        case GRAPH_T_BOOL: ok &= !!cJSON_AddBoolToObject(o, ai->key, (int)v); break;
        case GRAPH_T_ENUM: ok &= !!cJSON_AddStringToObject(o, ai->key, ai->choices[v]); break;
        case GRAPH_T_NUM:
            ok &= !!cJSON_AddNumberToObject(o, ai->key, graph_attr_num(&n->a, id));
            break;
        default: ok &= !!cJSON_AddNumberToObject(o, ai->key, (double)v); break;
        }
    }
    return ok;
}

static cJSON *node_json(const graph_node *n, const int *newid)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int ok = !!cJSON_AddStringToObject(o, "op", graph_op_name(n->op));
    if (n->op != GRAPH_OP_INPUT) {
        cJSON *in = cJSON_AddArrayToObject(o, "inputs");
        ok &= !!in;
        int x = n->n_inputs > 0 ? newid[n->inputs[0]] : 0;
        int y = n->n_inputs > 1 ? newid[n->inputs[1]] : 0;
        int commut = (graph_op_info_get(n->op)->flags & GRAPH_OPF_COMMUTATIVE) != 0;
        for (int k = 0; in && k < n->n_inputs; k++) {
            int v = newid[n->inputs[k]];
            if (commut)
                v = (k == 0) ? (x < y ? x : y) : (x < y ? y : x);
            ok &= cJSON_AddItemToArray(in, cJSON_CreateNumber(v));
        }
        ok &= add_attrs(o, n);
    }
    sort_keys(o);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

char *graph_to_json(const graph *g)
{
    if (!g || g->output < 0)
        return NULL;
    int *order = malloc((size_t)g->n * sizeof *order);
    int *newid = malloc((size_t)g->n * sizeof *newid);
    cJSON *root = cJSON_CreateObject();
    char *out = NULL;
    int m = 0;
    if (!order || !newid || !root || graph_canonical_order(g, order, &m))
        goto done;
    for (int k = 0; k < m; k++)
        newid[order[k]] = k;
    int in[3] = {(int)g->nodes[0].shape.dim[1], (int)g->nodes[0].shape.dim[2],
                 (int)g->nodes[0].shape.dim[3]};
    cJSON *nodes = cJSON_CreateArray();
    if (!cJSON_AddItemToObject(root, "input", cJSON_CreateIntArray(in, 3)) ||
        !cJSON_AddItemToObject(root, "nodes", nodes) ||
        !cJSON_AddNumberToObject(root, "output", newid[g->output]) ||
        !cJSON_AddNumberToObject(root, "version", 1))
        goto done;
    for (int k = 0; k < m; k++) {
        cJSON *o = node_json(&g->nodes[order[k]], newid);
        if (!o || !cJSON_AddItemToArray(nodes, o))
            goto done;
    }
    out = cJSON_PrintUnformatted(root);
done:
    cJSON_Delete(root);
    free(order);
    free(newid);
    return out;
}

int graph_hash(const graph *g, char out[GRAPH_HASH_HEX])
{
    out[0] = '\0';
    if (!g || g->output < 0)
        return GRAPH_ESTATE;
    char *json = graph_to_json(g);
    if (!json)
        return GRAPH_ENOMEM;
    int rc = hash_sha256_prefix(json, strlen(json), out, GRAPH_HASH_HEX - 1);
    free(json);
    return rc ? GRAPH_ENOMEM : GRAPH_OK;
}

/* ---- parsing ----------------------------------------------------------------- */

typedef struct parse {
    char *err;
    size_t errlen;
    int node;
} parse;

static int jerr(parse *p, const char *what, const char *key)
{
    if (p->node >= 0)
        rt_fmt(p->err, p->errlen, "graph JSON: node %d: %s%s%s", p->node, what,
               key ? " " : "", key ? key : "");
    else
        rt_fmt(p->err, p->errlen, "graph JSON: %s%s%s", what, key ? " " : "", key ? key : "");
    return GRAPH_EJSON;
}

static int get_int(parse *p, const cJSON *v, const char *key, int64_t lo, int64_t hi,
                   int64_t *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi)
        return jerr(p, "bad integer value for", key);
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int get_pair(parse *p, const cJSON *v, const char *key, int out[2])
{
    int64_t x;
    if (cJSON_IsNumber(v)) {
        if (get_int(p, v, key, -1000000000, 1000000000, &x))
            return GRAPH_EJSON;
        out[0] = out[1] = (int)x;
        return 0;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        return jerr(p, "expected [h, w] for", key);
    for (int i = 0; i < 2; i++) {
        if (get_int(p, cJSON_GetArrayItem(v, i), key, -1000000000, 1000000000, &x))
            return GRAPH_EJSON;
        out[i] = (int)x;
    }
    return 0;
}

static int get_bool(parse *p, const cJSON *v, const char *key, int *out)
{
    if (!cJSON_IsBool(v))
        return jerr(p, "expected true or false for", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_num(parse *p, const cJSON *v, const char *key, double *out)
{
    if (!cJSON_IsNumber(v))
        return jerr(p, "expected a number for", key);
    *out = v->valuedouble;
    return 0;
}

/* The attribute named by v's key, if op reads it. JSON's integer bounds are
 * the storage type's; graph_add checks the values' meaning. */
static int read_attr(parse *p, const cJSON *v, graph_op op, graph_attrs *a)
{
    const char *k = v->string;
    unsigned set = graph_op_info_get(op)->attrs;
    for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++) {
        const graph_attr_info *ai = graph_attr_info_get(id);
        if (!(set & GRAPH_ATTR_BIT(id)) || strcmp(k, ai->key))
            continue;
        int64_t x;
        int b = 0, pr[2] = {0, 0};
        double d = 0;
        switch (ai->type) {
        case GRAPH_T_COUNT:
        case GRAPH_T_INT:
            if (get_int(p, v, k, (int64_t)ai->lo,
                        ai->type == GRAPH_T_COUNT ? (int64_t)1 << 40 : 1 << 30, &x))
                return GRAPH_EJSON;
            graph_attr_set_int(a, id, 0, x);
            return 0;
        case GRAPH_T_PAIR:
            if (get_pair(p, v, k, pr))
                return GRAPH_EJSON;
            graph_attr_set_int(a, id, 0, pr[0]);
            graph_attr_set_int(a, id, 1, pr[1]);
            return 0;
        case GRAPH_T_BOOL:
            if (get_bool(p, v, k, &b))
                return GRAPH_EJSON;
            graph_attr_set_int(a, id, 0, b);
            return 0;
        case GRAPH_T_NUM:
            if (get_num(p, v, k, &d))
                return GRAPH_EJSON;
            graph_attr_set_num(a, id, d);
            return 0;
        case GRAPH_T_ENUM: {
            const char *s = cJSON_GetStringValue(v);
            for (int c = 0; s && ai->choices[c]; c++)
                if (strcmp(s, ai->choices[c]) == 0) {
                    graph_attr_set_int(a, id, 0, c);
                    return 0;
                }
            char what[160], list[128];
            rt_fmt(what, sizeof what, "%s must be %s", k,
                   graph_attr_choices_str(ai, '"', list, sizeof list));
            return jerr(p, what, NULL);
        }
        }
    }
    return jerr(p, "unknown or misplaced key", k);
}

static int read_node(parse *p, graph *g, const cJSON *o)
{
    char msg[512];
    int inputs[64], *in = inputs, n_in = 0, rc;
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "op");
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(o, "inputs");
    if (!cJSON_IsObject(o) || !cJSON_IsString(op))
        return jerr(p, "expected an object with an \"op\"", NULL);
    int kind = graph_op_from_name(op->valuestring);
    if (kind < 0)
        return jerr(p, "unknown op", op->valuestring);
    if (kind == GRAPH_OP_INPUT)
        return p->node == 0 && cJSON_GetArraySize(o) == 1 ? 0
                                                           : jerr(p, "misplaced Input node", NULL);
    if (p->node == 0)
        return jerr(p, "the first node must be the Input", NULL);
    if (!cJSON_IsArray(ins) || cJSON_GetArraySize(ins) < 1)
        return jerr(p, "missing \"inputs\"", NULL);
    n_in = cJSON_GetArraySize(ins);
    if (n_in > 64 && !(in = malloc((size_t)n_in * sizeof *in)))
        return GRAPH_ENOMEM;
    graph_attrs a;
    graph_attrs_default((graph_op)kind, &a);
    rc = 0;
    int k = 0;
    for (const cJSON *v = ins->child; v && !rc; v = v->next) {
        int64_t x;
        rc = get_int(p, v, "inputs", 0, p->node - 1, &x);
        in[k++] = (int)x;
    }
    for (const cJSON *v = o->child; v && !rc; v = v->next)
        if (strcmp(v->string, "op") && strcmp(v->string, "inputs"))
            rc = read_attr(p, v, (graph_op)kind, &a);
    if (!rc) {
        rc = graph_add(g, (graph_op)kind, &a, in, n_in, 0, NULL, msg, sizeof msg);
        if (rc == GRAPH_EARG || rc == GRAPH_ESHAPE || rc == GRAPH_ETOOBIG)
            rt_fmt(p->err, p->errlen, "graph JSON: node %d: %s", p->node, msg);
    }
    if (in != inputs)
        free(in);
    return rc;
}

static int read_graph(parse *p, const cJSON *root, graph **out)
{
    int64_t dims[3], outid, version;
    const cJSON *v;
    if (!cJSON_IsObject(root))
        return jerr(p, "expected an object", NULL);
    for (v = root->child; v; v = v->next)
        if (strcmp(v->string, "input") && strcmp(v->string, "nodes") &&
            strcmp(v->string, "output") && strcmp(v->string, "version"))
            return jerr(p, "unknown key", v->string);
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    if (get_int(p, cJSON_GetObjectItemCaseSensitive(root, "version"), "version", 1, 1, &version))
        return GRAPH_EJSON;
    if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) != 3)
        return jerr(p, "\"input\" must be [C, H, W]", NULL);
    for (int i = 0; i < 3; i++)
        if (get_int(p, cJSON_GetArrayItem(in, i), "input", 1, (int64_t)1 << 30, &dims[i]))
            return GRAPH_EJSON;
    if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) < 1)
        return jerr(p, "\"nodes\" must be a non-empty array", NULL);
    int n = cJSON_GetArraySize(nodes);
    if (n > GRAPH_DEFAULT_MAX_NODES)
        return jerr(p, "too many nodes", NULL);
    if (get_int(p, cJSON_GetObjectItemCaseSensitive(root, "output"), "output", 0, n - 1, &outid))
        return GRAPH_EJSON;
    graph *g;
    int rc = graph_new(&g, dims[0], dims[1], dims[2]);
    if (rc)
        return rc == GRAPH_EARG ? jerr(p, "bad input shape", NULL) : rc;
    p->node = 0;
    for (v = nodes->child; v && !rc; v = v->next, p->node++)
        rc = read_node(p, g, v);
    p->node = -1;
    char msg[256];
    if (!rc && (rc = graph_set_output(g, (int)outid, 0, msg, sizeof msg)))
        rt_fmt(p->err, p->errlen, "graph JSON: %s", msg);
    if (!rc)
        rc = graph_finalize(g);
    if (rc) {
        graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int graph_from_json(const char *json, graph **out, char *err, size_t errlen)
{
    parse p = {err, errlen, -1};
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    if (!root)
        return jerr(&p, "not valid JSON", NULL);
    int rc = read_graph(&p, root, out);
    cJSON_Delete(root);
    if (rc == GRAPH_ENOMEM)
        rt_fmt(err, errlen, "graph JSON: out of memory");
    return rc;
}
