/*
 * train_model.c — saving a trained network (safetensors, ONNX, architecture,
 * recipe, classes, preprocessing, validation predictions) and loading it back
 * for inference. See train_model.h.
 *
 * safetensors layout: u64 little-endian N, N bytes of JSON (padded with
 * spaces to a multiple of 8), then the tensors back to back in header order;
 * data_offsets are relative to the end of the header.
 */
#include "train/train_model.h"
#include "train/model_onnx.h"
#include "train/dataset.h"
#include "train/dataset_folder.h"
#include "train/image_decode.h"
#include "graph/graph_weights.h"
#include "base/rt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- tensors ------------------------------------------------------------------- */

void train_tensors_free(train_tensor *t, int n)
{
    for (int i = 0; t && i < n; i++)
        free(t[i].data);
    free(t);
}

/* PyTorch's shape of parameter `param` of node nd: a conv weight [F, C/groups,
 * kH, kW], a linear weight [F, C], their bias [F], PReLU's slopes
 * [num_parameters], a normalisation's [C] (C the input's channels or
 * features, F the output's). */
static int param_shape(const graph *g, const graph_node *nd, const char *param, train_tensor *t)
{
    int64_t cin = nd->n_inputs ? g->nodes[nd->inputs[0]].shape.dim[1] : 0;
    int weight = strcmp(param, "weight") == 0;
    int conv = nd->op == GRAPH_OP_CONV2D, linear = nd->op == GRAPH_OP_LINEAR;
    int64_t d[4] = {nd->a.out, cin, nd->a.kernel[0], nd->a.kernel[1]};
    t->rank = weight && conv ? 4 : weight && linear ? 2 : 1;
    if (weight && conv)
        d[1] = cin / (nd->a.groups > 0 ? nd->a.groups : 1);
    else if (nd->op == GRAPH_OP_PRELU)
        d[0] = nd->a.num_parameters;
    else if (!conv && !linear)
        d[0] = cin;
    int64_t c = 1;
    for (int k = 0; k < t->rank; k++)
        c *= t->dim[k] = d[k];
    return c == t->count ? 0 : -1;
}

int train_tensors_get(train_net *net, const graph *g, train_tensor **out, int *n, char *err,
                      size_t errlen)
{
    int np = train_net_nparams(net);
    train_tensor *t = calloc((size_t)(np ? np : 1), sizeof *t);
    if (!t)
        return TRAIN_ENOMEM;
    for (int i = 0; i < np; i++) {
        train_param_info pi;
        char mod[48];
        if (train_net_param_info(net, i, &pi) || graph_module_name(g, pi.node, mod, sizeof mod)) {
            rt_fmt(err, errlen, "parameter %d: no module name", i);
            train_tensors_free(t, i);
            return TRAIN_EARG;
        }
        rt_fmt(t[i].name, sizeof t[i].name, "%s.%s", mod, pi.name);
        t[i].node = pi.node;
        t[i].param = pi.name;
        t[i].count = pi.count;
        if (param_shape(g, &g->nodes[pi.node], pi.name, &t[i])) {
            rt_fmt(err, errlen, "%s: %lld elements do not match the layer's shape", t[i].name,
                   (long long)pi.count);
            train_tensors_free(t, i);
            return TRAIN_EARG;
        }
        if (!(t[i].data = malloc(sizeof(float) * (size_t)pi.count)) ||
            train_net_param_get(net, i, 0, t[i].data)) {
            train_tensors_free(t, i + 1);
            return TRAIN_ENOMEM;
        }
    }
    *out = t;
    *n = np;
    return 0;
}

/* ---- files --------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const void *data, size_t len, char *err,
                      size_t errlen)
{
    char path[4200], tmp[4300];
    rt_fmt(path, sizeof path, "%s/%s", dir, name);
    rt_fmt(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    ok = f && fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        rt_fmt(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        return TRAIN_EDATA;
    }
    return 0;
}

static int write_json(const char *dir, const char *name, cJSON *j, char *err, size_t errlen)
{
    char *s = cJSON_Print(j);
    if (!s)
        return TRAIN_ENOMEM;
    size_t n = strlen(s);
    s[n] = '\n';  /* replace the NUL: the file ends with a newline */
    int rc = write_file(dir, name, s, n + 1, err, errlen);
    free(s);
    return rc;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        rt_fmt(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return TRAIN_EDATA;
    }
    char *b = malloc((size_t)st.st_size + 1);
    int ok = b && fread(b, 1, (size_t)st.st_size, f) == (size_t)st.st_size;
    fclose(f);
    if (!ok) {
        free(b);
        rt_fmt(err, errlen, "%s: cannot read", path);
        return TRAIN_EDATA;
    }
    b[st.st_size] = '\0';
    *buf = b;
    *len = (size_t)st.st_size;
    return 0;
}

/* ---- safetensors --------------------------------------------------------------- */

static int bn_count(const graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n; i++)
        n += g->nodes[i].op == GRAPH_OP_BATCHNORM2D || g->nodes[i].op == GRAPH_OP_BATCHNORM1D;
    return n;
}

static int write_safetensors(const char *dir, const graph *g, const train_tensor *t, int nt,
                             int64_t steps, const char *hash, char *err, size_t errlen)
{
    cJSON *h = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(h, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    cJSON_AddStringToObject(meta, "producer", "llmnas " LLMNAS_VERSION);
    cJSON_AddStringToObject(meta, "graph_hash", hash);
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        cJSON *e = cJSON_AddObjectToObject(h, t[i].name), *shape = cJSON_AddArrayToObject(e, "shape");
        cJSON_AddStringToObject(e, "dtype", "F32");
        for (int k = 0; k < t[i].rank; k++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].dim[k]));
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        off += sizeof(float) * (size_t)t[i].count;
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
    }
    /* PyTorch's BatchNorm2d state_dict has num_batches_tracked: the training steps. */
    int nbn = bn_count(g);
    for (int i = 0; i < g->n; i++) {
        char mod[48], name[64];
        graph_op op = g->nodes[i].op;
        if ((op != GRAPH_OP_BATCHNORM2D && op != GRAPH_OP_BATCHNORM1D) ||
            graph_module_name(g, i, mod, sizeof mod))
            continue;
        rt_fmt(name, sizeof name, "%s.num_batches_tracked", mod);
        cJSON *e = cJSON_AddObjectToObject(h, name);
        cJSON_AddStringToObject(e, "dtype", "I64");
        cJSON_AddArrayToObject(e, "shape");
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        off += 8;
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
    }
    char *js = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!js)
        return TRAIN_ENOMEM;
    size_t jl = strlen(js), hl = (jl + 7) / 8 * 8, total = 8 + hl + off;
    uint8_t *b = malloc(total);
    if (!b) {
        free(js);
        return TRAIN_ENOMEM;
    }
    uint64_t n64 = hl;
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)(n64 >> (8 * k));
    memcpy(b + 8, js, jl);
    memset(b + 8 + jl, ' ', hl - jl);
    free(js);
    uint8_t *p = b + 8 + hl;
    for (int i = 0; i < nt; i++) {  /* x86 and every oneDNN target are little-endian */
        memcpy(p, t[i].data, sizeof(float) * (size_t)t[i].count);
        p += sizeof(float) * (size_t)t[i].count;
    }
    for (int i = 0; i < nbn; i++, p += 8)
        memcpy(p, &steps, 8);
    int rc = write_file(dir, "model.safetensors", b, total, err, errlen);
    free(b);
    return rc;
}

/* ---- meta.json, validation.json, the architecture -------------------------------- */

static void num(cJSON *j, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(j, k, v);
    else
        cJSON_AddNullToObject(j, k);
}

static cJSON *meta_json(const graph *g, const ds_dataset *d, const train_opts *o,
                        const train_result *r, const char *hash)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "llmnas-model");
    cJSON_AddNumberToObject(j, "version", TRAIN_MODEL_FORMAT_VERSION);
    cJSON_AddStringToObject(j, "producer", "llmnas " LLMNAS_VERSION);
    cJSON_AddStringToObject(j, "graph_hash", hash);
    cJSON_AddStringToObject(j, "dataset", o->dataset ? o->dataset : d->name);
    cJSON *cl = cJSON_AddArrayToObject(j, "classes");
    for (int k = 0; k < d->classes; k++) {
        char b[16];
        rt_fmt(b, sizeof b, "%d", k);
        cJSON_AddItemToArray(cl, cJSON_CreateString(d->folder ? d->folder->classes[k] : b));
    }
    cJSON *p = cJSON_AddObjectToObject(j, "preprocess");
    cJSON_AddNumberToObject(p, "channels", d->c);
    cJSON_AddNumberToObject(p, "height", d->h);
    cJSON_AddNumberToObject(p, "width", d->w);
    cJSON *m = cJSON_AddArrayToObject(p, "mean"), *s = cJSON_AddArrayToObject(p, "std");
    for (int c = 0; c < d->c; c++) {
        cJSON_AddItemToArray(m, cJSON_CreateNumber(d->mean[c]));
        cJSON_AddItemToArray(s, cJSON_CreateNumber(d->std[c]));
    }
    cJSON_AddStringToObject(p, "normalise", "(pixel / 255 - mean) / std, per channel, CHW");
    cJSON_AddStringToObject(p, "resize", "to height x width: area averaging when shrinking, "
                            "bilinear (half-pixel centres) when enlarging; aspect not kept");
    cJSON *rc = cJSON_AddObjectToObject(j, "recipe");
    cJSON_AddNumberToObject(rc, "epochs", o->epochs);
    cJSON_AddNumberToObject(rc, "batch", o->batch);
    cJSON_AddNumberToObject(rc, "lr", o->lr);
    cJSON_AddNumberToObject(rc, "momentum", o->momentum);
    cJSON_AddNumberToObject(rc, "weight_decay", o->weight_decay);
    cJSON_AddBoolToObject(rc, "cosine", o->cosine);
    cJSON_AddBoolToObject(rc, "drop_last", o->drop_last);
    cJSON_AddNumberToObject(rc, "seed", (double)o->seed);
    cJSON_AddNumberToObject(rc, "val_fraction", o->val_fraction);
    cJSON_AddNumberToObject(rc, "subset", o->subset);
    cJSON_AddBoolToObject(rc, "augment", o->augment < 0 ? d->augment : o->augment);
    cJSON *res = cJSON_AddObjectToObject(j, "result");
    num(res, "val_acc", r->val_acc);
    num(res, "val_loss", r->val_loss);
    num(res, "train_loss", r->train_loss);
    num(res, "test_acc", r->test_acc);
    num(res, "test_loss", r->test_loss);
    cJSON_AddNumberToObject(res, "steps", r->steps);
    cJSON_AddNumberToObject(res, "ntrain", r->ntrain);
    cJSON_AddNumberToObject(res, "nval", r->nval);
    cJSON_AddNumberToObject(res, "params", (double)r->params);
    cJSON *f = cJSON_AddObjectToObject(j, "files");
    cJSON_AddStringToObject(f, "weights", "model.safetensors");
    cJSON_AddStringToObject(f, "onnx", "model.onnx");
    cJSON_AddNumberToObject(f, "onnx_opset", TRAIN_MODEL_ONNX_OPSET);
    cJSON_AddStringToObject(f, "graph", "model.json");
    cJSON_AddStringToObject(f, "lua", "model.lua");
    cJSON_AddStringToObject(f, "pytorch", "model.py");
    (void)g;
    return j;
}

/* Top-1 of every validation image with the trained net, as evaluation sees it. */
static cJSON *validation_json(train_net *net, const graph *g, const ds_dataset *d,
                              const ds_indices *ix)
{
    int B = train_net_batch(net), K = train_net_classes(net);
    size_t per = (size_t)d->c * d->h * d->w;
    float *logits = malloc(sizeof(float) * (size_t)B * K);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)B);
    cJSON *arr = cJSON_CreateArray();
    uint64_t rng = 0;
    for (int i = 0; logits && y && i < ix->nval; i += B) {
        int rows = ix->nval - i < B ? ix->nval - i : B;
        float *x = train_net_input(net);
        ds_batch_fill(d, &d->train, ix->val + i, rows, x, y, 0, &rng);
        memset(x + per * rows, 0, sizeof(float) * per * (size_t)(B - rows));
        if (train_net_forward(net, 0) || train_net_node_get(net, g->output, 0, logits))
            break;
        for (int r = 0; r < rows; r++) {
            int best = 0;
            for (int k = 1; k < K; k++)
                if (logits[r * K + k] > logits[r * K + best])
                    best = k;
            cJSON *e = cJSON_CreateObject();
            int idx = ix->val[i + r];
            if (d->folder)
                cJSON_AddStringToObject(e, "file", d->folder->train_files[idx]);
            else
                cJSON_AddNumberToObject(e, "index", idx);
            cJSON_AddNumberToObject(e, "label", y[r]);
            cJSON_AddNumberToObject(e, "pred", best);
            cJSON_AddItemToArray(arr, e);
        }
    }
    free(logits);
    free(y);
    return arr;
}

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
    char p[4096];
    rt_fmt(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0777);
            *s = '/';
        }
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        rt_fmt(err, errlen, "%s: cannot create the model folder: %s", dir, strerror(errno));
        return TRAIN_EDATA;
    }
    return 0;
}

static int write_text(const char *dir, const char *name, char *text, const char *extra, char *err,
                      size_t errlen)
{
    if (!text)
        return TRAIN_ENOMEM;
    size_t a = strlen(text), b = extra ? strlen(extra) : 0;
    char *all = malloc(a + b + 1);
    int rc = TRAIN_ENOMEM;
    if (all) {
        memcpy(all, text, a);
        memcpy(all + a, extra ? extra : "", b + 1);
        rc = write_file(dir, name, all, a + b, err, errlen);
    }
    free(all);
    free(text);
    return rc;
}

int train_model_save(const char *dir, train_net *net, const graph *g, const ds_dataset *d,
                     const ds_indices *ix, const train_opts *o, const train_result *r, char *err,
                     size_t errlen)
{
    int rc = mkdir_p(dir, err, errlen);
    if (rc)
        return rc;
    char hash[GRAPH_HASH_HEX] = "";
    graph_hash(g, hash);
    train_tensor *t = NULL;
    int nt = 0;
    if ((rc = train_tensors_get(net, g, &t, &nt, err, errlen)))
        return rc;
    rc = write_safetensors(dir, g, t, nt, r->steps, hash, err, errlen);
    if (!rc) {
        char path[4200];
        rt_fmt(path, sizeof path, "%s/model.onnx", dir);
        rc = model_onnx_write(path, g, t, nt, hash, err, errlen);
    }
    train_tensors_free(t, nt);
    if (!rc)
        rc = write_text(dir, "model.json", graph_to_json(g), "\n", err, errlen);
    if (!rc)
        rc = write_text(dir, "model.lua", graph_to_lua(g), NULL, err, errlen);
    if (!rc)
        rc = write_text(dir, "model.py", graph_to_pytorch(g), graph_pytorch_loader(), err, errlen);
    if (!rc) {
        cJSON *m = meta_json(g, d, o, r, hash);
        rc = m ? write_json(dir, "meta.json", m, err, errlen) : TRAIN_ENOMEM;
        cJSON_Delete(m);
    }
    if (!rc) {
        cJSON *v = validation_json(net, g, d, ix);
        rc = v ? write_json(dir, "validation.json", v, err, errlen) : TRAIN_ENOMEM;
        cJSON_Delete(v);
    }
    return rc;
}

/* ---- loading ------------------------------------------------------------------- */

struct train_model {
    graph *g;
    train_net *net;
    int c, h, w, classes;
    float mean[3], std[3];
    char **names;
    float *logits;
};

void train_model_free(train_model *m)
{
    if (!m)
        return;
    train_net_free(m->net);
    graph_free(m->g);
    for (int k = 0; m->names && k < m->classes; k++)
        free(m->names[k]);
    free(m->names);
    free(m->logits);
    free(m);
}

static int load_meta(train_model *m, const char *dir, char *err, size_t errlen)
{
    char path[4200], *s;
    size_t n;
    rt_fmt(path, sizeof path, "%s/meta.json", dir);
    int rc = read_file(path, &s, &n, err, errlen);
    if (rc)
        return rc;
    cJSON *j = cJSON_ParseWithLength(s, n);
    free(s);
    cJSON *p = cJSON_GetObjectItem(j, "preprocess"), *cl = cJSON_GetObjectItem(j, "classes");
    cJSON *c = cJSON_GetObjectItem(p, "channels"), *h = cJSON_GetObjectItem(p, "height");
    cJSON *w = cJSON_GetObjectItem(p, "width"), *mean = cJSON_GetObjectItem(p, "mean");
    cJSON *sd = cJSON_GetObjectItem(p, "std"), *fmt = cJSON_GetObjectItem(j, "format");
    rc = TRAIN_EDATA;
    if (!j || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "llmnas-model") != 0 ||
        !cJSON_IsNumber(c) || !cJSON_IsNumber(h) || !cJSON_IsNumber(w) || !cJSON_IsArray(cl) ||
        (c->valueint != 1 && c->valueint != 3) || h->valueint < 1 || w->valueint < 1 ||
        h->valueint != w->valueint || cJSON_GetArraySize(mean) != c->valueint ||
        cJSON_GetArraySize(sd) != c->valueint || cJSON_GetArraySize(cl) < 1) {
        rt_fmt(err, errlen, "%s: not an llmnas model description (format, classes, preprocess)", path);
        goto out;
    }
    m->c = c->valueint, m->h = h->valueint, m->w = w->valueint;
    for (int k = 0; k < m->c; k++) {
        m->mean[k] = (float)cJSON_GetArrayItem(mean, k)->valuedouble;
        m->std[k] = (float)cJSON_GetArrayItem(sd, k)->valuedouble;
        if (!(m->std[k] > 0)) {
            rt_fmt(err, errlen, "%s: preprocess.std must be positive", path);
            goto out;
        }
    }
    m->classes = cJSON_GetArraySize(cl);
    if (!(m->names = calloc((size_t)m->classes, sizeof *m->names))) {
        rc = TRAIN_ENOMEM;
        goto out;
    }
    for (int k = 0; k < m->classes; k++) {
        cJSON *e = cJSON_GetArrayItem(cl, k);
        if (!(m->names[k] = strdup(cJSON_IsString(e) ? e->valuestring : "?"))) {
            rc = TRAIN_ENOMEM;
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

static int load_graph(train_model *m, const char *dir, char *err, size_t errlen)
{
    char path[4200], *s, e[512];
    size_t n;
    rt_fmt(path, sizeof path, "%s/model.json", dir);
    int rc = read_file(path, &s, &n, err, errlen);
    if (rc)
        return rc;
    rc = graph_from_json(s, &m->g, e, sizeof e);
    free(s);
    if (rc) {
        rt_fmt(err, errlen, "%s: %s", path, e);
        return TRAIN_EDATA;
    }
    const graph_shape *in = &m->g->nodes[0].shape, *out = &m->g->nodes[m->g->output].shape;
    if (in->dim[1] != m->c || in->dim[2] != m->h || in->dim[3] != m->w || out->rank != 2 ||
        out->dim[1] != m->classes) {
        rt_fmt(err, errlen, "%s: the network's input or output does not match meta.json "
               "(%d channels, %dx%d, %d classes)", path, m->c, m->h, m->w, m->classes);
        return TRAIN_EDATA;
    }
    return 0;
}

static int load_weights(train_model *m, const char *dir, char *err, size_t errlen)
{
    char path[4200], *s;
    size_t n;
    rt_fmt(path, sizeof path, "%s/model.safetensors", dir);
    int rc = read_file(path, &s, &n, err, errlen);
    if (rc)
        return rc;
    uint64_t hl = 0;
    for (int k = 0; k < 8 && n >= 8; k++)
        hl |= (uint64_t)(uint8_t)s[k] << (8 * k);
    cJSON *h = n >= 8 && hl <= n - 8 ? cJSON_ParseWithLength(s + 8, (size_t)hl) : NULL;
    rc = TRAIN_EDATA;
    if (!h) {
        rt_fmt(err, errlen, "%s: not a safetensors file (header)", path);
        goto out;
    }
    const uint8_t *data = (const uint8_t *)s + 8 + hl;
    size_t dlen = n - 8 - (size_t)hl;
    train_tensor *t = NULL;
    int nt = 0;
    /* the names and shapes the net expects, from the net itself */
    if ((rc = train_tensors_get(m->net, m->g, &t, &nt, err, errlen)))
        goto out;
    for (int i = 0; i < nt && !rc; i++) {
        cJSON *e = cJSON_GetObjectItem(h, t[i].name), *o = cJSON_GetObjectItem(e, "data_offsets");
        cJSON *dt = cJSON_GetObjectItem(e, "dtype");
        double a = cJSON_IsNumber(cJSON_GetArrayItem(o, 0)) ? cJSON_GetArrayItem(o, 0)->valuedouble : -1;
        double b = cJSON_IsNumber(cJSON_GetArrayItem(o, 1)) ? cJSON_GetArrayItem(o, 1)->valuedouble : -1;
        if (!e || !cJSON_IsString(dt) || strcmp(dt->valuestring, "F32") != 0 || a < 0 || b > (double)dlen ||
            b - a != 4.0 * (double)t[i].count) {
            rt_fmt(err, errlen, "%s: tensor %s missing or not F32 of %lld elements", path, t[i].name,
                   (long long)t[i].count);
            rc = TRAIN_EDATA;
            break;
        }
        memcpy(t[i].data, data + (size_t)a, (size_t)(b - a));
        rc = train_net_param_set(m->net, i, t[i].data);
    }
    train_tensors_free(t, nt);
out:
    cJSON_Delete(h);
    free(s);
    return rc;
}

int train_model_load(const char *dir, int batch, train_model **out, char *err, size_t errlen)
{
    if (batch < 1) {
        rt_fmt(err, errlen, "batch must be >= 1");
        return TRAIN_EARG;
    }
    train_model *m = calloc(1, sizeof *m);
    if (!m)
        return TRAIN_ENOMEM;
    int rc = load_meta(m, dir, err, errlen);
    if (!rc)
        rc = load_graph(m, dir, err, errlen);
    if (!rc) {
        train_net_opts no = {.seed = 43, .fuse = 1};
        rc = train_net_build(m->g, batch, &no, &m->net, err, errlen);
    }
    if (!rc)
        rc = load_weights(m, dir, err, errlen);
    if (!rc && !(m->logits = malloc(sizeof(float) * (size_t)batch * m->classes)))
        rc = TRAIN_ENOMEM;
    if (rc) {
        train_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void train_model_input(const train_model *m, int *c, int *h, int *w)
{
    *c = m->c, *h = m->h, *w = m->w;
}

int train_model_classes(const train_model *m) { return m->classes; }
int train_model_batch(const train_model *m) { return train_net_batch(m->net); }

const char *train_model_class_name(const train_model *m, int k)
{
    return k >= 0 && k < m->classes ? m->names[k] : NULL;
}

int train_model_preprocess(const train_model *m, const char *path, float *x, char *err,
                           size_t errlen)
{
    size_t plane = (size_t)m->h * m->w;
    uint8_t *px = malloc(plane * m->c);
    if (!px)
        return TRAIN_ENOMEM;
    int rc = img_load(path, m->h, m->c, 0, px, NULL, err, errlen);
    if (rc) {
        free(px);
        return TRAIN_EDATA;
    }
    for (int c = 0; c < m->c; c++) {
        float scale = 1.0f / (255.0f * m->std[c]), shift = -m->mean[c] / m->std[c];
        for (size_t p = 0; p < plane; p++)  /* the expression of ds_batch_fill, bit for bit */
            x[c * plane + p] = px[c * plane + p] * scale + shift;
    }
    free(px);
    return 0;
}

int train_model_logits(train_model *m, const float *x, int n, float *logits)
{
    int B = train_net_batch(m->net);
    if (n < 1 || n > B)
        return TRAIN_EARG;
    size_t per = (size_t)m->c * m->h * m->w;
    float *in = train_net_input(m->net);
    memcpy(in, x, sizeof(float) * per * n);
    memset(in + per * n, 0, sizeof(float) * per * (size_t)(B - n));
    int rc = train_net_forward(m->net, 0);
    if (!rc)
        rc = train_net_node_get(m->net, m->g->output, 0, m->logits);
    if (!rc)
        memcpy(logits, m->logits, sizeof(float) * (size_t)n * m->classes);
    return rc;
}
