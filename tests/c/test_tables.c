/*
 * test_tables.c — the one-table-per-fact tables of the trainer and the LLM
 * client: the training-result serialiser (train_result_fields, JSON both
 * ways, as the worker pipe and `llmnas train --json` use it) and the failure
 * kinds (train_kind_at, llm_kind_at) that Lua sees as train.kinds / llm.kinds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm.h"
#include "train/train.h"

static int nfields(void)
{
    int n = 0;
    while (train_result_fields[n].name)
        n++;
    return n;
}

/* Every field has its own bytes inside the struct: a table row pointing at the
 * wrong member, or two rows at one, would be caught here. */
static void test_fields_cover_the_struct(void **state)
{
    (void)state;
    int n = nfields();
    assert_true(n >= 16);
    size_t covered = 0;
    for (int i = 0; i < n; i++) {
        const train_field *f = &train_result_fields[i];
        size_t size = f->type == TRAIN_F_INT ? sizeof(int) : f->type == TRAIN_F_I64 ? 8 : 8;
        assert_true(f->offset + size <= sizeof(train_result));
        assert_true(f->offset >= sizeof(int));  /* after status */
        assert_non_null(f->what);
        for (int j = 0; j < i; j++) {
            const train_field *g = &train_result_fields[j];
            assert_true(strcmp(f->name, g->name) != 0);
            assert_true(f->offset != g->offset);
        }
        covered += size;
    }
    assert_true(covered + sizeof(int) <= sizeof(train_result));
    /* a known member is where the table says */
    train_result r;
    train_result_init(&r);
    r.params = 123456789012LL;
    r.val_acc = 0.75;
    r.diverged_step = 17;
    for (int i = 0; i < n; i++) {
        const train_field *f = &train_result_fields[i];
        double v = train_result_get(&r, f);
        if (strcmp(f->name, "params") == 0) assert_true(v == 123456789012.0);
        else if (strcmp(f->name, "val_acc") == 0) assert_true(v == 0.75);
        else if (strcmp(f->name, "diverged_step") == 0) assert_true(v == 17);
        else if (f->type == TRAIN_F_NUM) assert_true(isnan(v));
        else assert_true(v == 0);
    }
}

/* Each field survives JSON text both ways (the worker pipe); a value not
 * measured (NaN) is left out, or null on request, and comes back NaN. */
static void test_json_round_trip(void **state)
{
    (void)state;
    train_result a, b;
    train_result_init(&a);
    int n = nfields();
    for (int i = 0; i < n; i++) {
        const train_field *f = &train_result_fields[i];
        double v = f->type == TRAIN_F_NUM ? 0.125 * (i + 1) : f->type == TRAIN_F_I64 ? 5e12 + i : 1000 + i;
        train_result_set(&a, f, v);
    }
    a.test_loss = NAN;
    cJSON *j = cJSON_CreateObject();
    assert_int_equal(train_result_to_json(&a, j, 0), 0);
    assert_null(cJSON_GetObjectItem(j, "test_loss"));
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cJSON *back = cJSON_Parse(text);
    free(text);
    assert_non_null(back);
    memset(&b, 0xab, sizeof b);
    b.status = 7;
    train_result_from_json(&b, back);
    cJSON_Delete(back);
    assert_int_equal(b.status, 7);  /* the caller's */
    for (int i = 0; i < n; i++) {
        const train_field *f = &train_result_fields[i];
        double x = train_result_get(&a, f), y = train_result_get(&b, f);
        if (isnan(x))
            assert_true(isnan(y));
        else
            assert_true(x == y);
    }
    assert_true(b.params > (int64_t)1 << 40);  /* an int64 above 2^32 survives */

    j = cJSON_CreateObject();
    assert_int_equal(train_result_to_json(&a, j, 1), 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "test_loss")));
    assert_int_equal(cJSON_GetArraySize(j), n);
    cJSON_Delete(j);

    /* missing keys: doubles NaN, integers 0 */
    cJSON *empty = cJSON_CreateObject();
    train_result_from_json(&b, empty);
    cJSON_Delete(empty);
    assert_true(isnan(b.val_acc));
    assert_int_equal(b.steps, 0);
    assert_true(b.params == 0);
}

/* Every TRAIN_E* code names a kind the table lists (so train.kinds knows every
 * kind a result can carry), and every row's class is one the search handles. */
static void test_train_kinds(void **state)
{
    (void)state;
    static const int codes[] = {TRAIN_OK, TRAIN_EARG, TRAIN_ENOMEM, TRAIN_EDNNL,
                                TRAIN_EUNSUPPORTED, TRAIN_ETOOLARGE, TRAIN_EDIVERGED,
                                TRAIN_ETIMEOUT, TRAIN_EINTERRUPTED, TRAIN_EDATA, TRAIN_EWORKER};
    for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++) {
        const char *k = train_kind(codes[c]);
        int found = 0;
        for (int i = 0; i < train_kind_count(); i++)
            found |= strcmp(train_kind_at(i)->kind, k) == 0;
        assert_true(found);
    }
    assert_null(train_kind_at(-1));
    assert_null(train_kind_at(train_kind_count()));
    static const char *const worker_kinds[] = {"crashed", "limit_memory", "limit_cpu", "timeout",
                                               "interrupted"};
    for (size_t w = 0; w < sizeof worker_kinds / sizeof worker_kinds[0]; w++) {
        int found = 0;
        for (int i = 0; i < train_kind_count(); i++)
            found |= strcmp(train_kind_at(i)->kind, worker_kinds[w]) == 0;
        assert_true(found);
    }
    for (int i = 0; i < train_kind_count(); i++) {
        const train_kind_info *k = train_kind_at(i);
        assert_true(strcmp(k->klass, "ok") == 0 || strcmp(k->klass, "candidate") == 0 ||
                    strcmp(k->klass, "transient") == 0 || strcmp(k->klass, "fatal") == 0);
        for (int j = 0; j < i; j++)
            assert_true(strcmp(k->kind, train_kind_at(j)->kind) != 0);
    }
    assert_string_equal(train_kind(TRAIN_EDIVERGED), "diverged");
    assert_string_equal(train_kind(TRAIN_EWORKER), "crashed");
    assert_string_equal(train_kind(TRAIN_ENOMEM), "limit_memory");
    assert_string_equal(train_kind(TRAIN_EDNNL), "error");
    assert_string_equal(train_kind(-1), "error");
}

/* The LLM code table: every code in the band has a row, llm_kind and
 * llm_retriable read it, and the loop's classes are the known ones. */
static void test_llm_kinds(void **state)
{
    (void)state;
    for (int code = LLM_ENOTFOUND; code <= LLM_EARG; code++) {
        int row = -1;
        for (int i = 0; i < llm_kind_count(); i++)
            if (llm_kind_at(i)->code == code)
                row = i;
        assert_true(row >= 0);
        const llm_kind_info *k = llm_kind_at(row);
        assert_string_equal(llm_kind(code), k->kind);
        assert_string_equal(llm_strerror(code), k->text);
        assert_int_equal(llm_retriable(code), k->retriable);
        assert_true(strcmp(k->klass, "fatal") == 0 || strcmp(k->klass, "transient") == 0 ||
                    strcmp(k->klass, "call") == 0);
        /* what the client retries, the loop retries too */
        if (k->retriable)
            assert_string_equal(k->klass, "transient");
    }
    assert_int_equal(llm_retriable(LLM_ENETWORK), 1);
    assert_int_equal(llm_retriable(LLM_EAUTH), 0);
    assert_int_equal(llm_retriable(12345), 0);
    assert_null(llm_kind_at(llm_kind_count()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_cover_the_struct),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_train_kinds),
        cmocka_unit_test(test_llm_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
