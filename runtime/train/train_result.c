/*
 * train_result.c — the one serialiser of training results (see train.h):
 * the field table made from TRAIN_RESULT_FIELDS, and JSON both ways. The
 * worker pipe, `llmnas train --json` and the Lua binding all go through it.
 */
#include "train/train.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

const train_field train_result_fields[] = {
#define TRAIN_X_FIELD(type, name, what) {#name, TRAIN_F_##type, offsetof(train_result, name), what},
    TRAIN_RESULT_FIELDS(TRAIN_X_FIELD)
#undef TRAIN_X_FIELD
    {NULL, TRAIN_F_NUM, 0, NULL}};

double train_result_get(const train_result *r, const train_field *f)
{
    const char *p = (const char *)r + f->offset;
    switch (f->type) {
    case TRAIN_F_INT: { int v; memcpy(&v, p, sizeof v); return v; }
    case TRAIN_F_I64: { int64_t v; memcpy(&v, p, sizeof v); return (double)v; }
    default: { double v; memcpy(&v, p, sizeof v); return v; }
    }
}

void train_result_set(train_result *r, const train_field *f, double v)
{
    char *p = (char *)r + f->offset;
    switch (f->type) {
    case TRAIN_F_INT: {
        int i = isfinite(v) && fabs(v) < 2147483647.0 ? (int)v : 0;
        memcpy(p, &i, sizeof i);
        break;
    }
    case TRAIN_F_I64: {
        int64_t i = isfinite(v) && fabs(v) < 9.2e18 ? (int64_t)v : 0;
        memcpy(p, &i, sizeof i);
        break;
    }
    default:
        memcpy(p, &v, sizeof v);
    }
}

void train_result_init(train_result *r)
{
    memset(r, 0, sizeof *r);
    for (const train_field *f = train_result_fields; f->name; f++)
        if (f->type == TRAIN_F_NUM)
            train_result_set(r, f, NAN);
}

int train_result_to_json(const train_result *r, void *obj, int nulls)
{
    cJSON *j = obj;
    for (const train_field *f = train_result_fields; f->name; f++) {
        double v = train_result_get(r, f);
        cJSON *item = isfinite(v) ? cJSON_CreateNumber(v) : nulls ? cJSON_CreateNull() : NULL;
        if (!isfinite(v) && !nulls)
            continue;
        if (!item || !cJSON_AddItemToObject(j, f->name, item)) {
            cJSON_Delete(item);
            return TRAIN_ENOMEM;
        }
    }
    return 0;
}

void train_result_from_json(train_result *r, const void *obj)
{
    const cJSON *j = obj;
    for (const train_field *f = train_result_fields; f->name; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, f->name);
        double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (f->type != TRAIN_F_NUM && !isfinite(x))
            x = 0;
        train_result_set(r, f, x);
    }
}
