/* fuzz-gguf.c: libFuzzer target of the GGUF reader (bench/gguf.c).
 *
 * Each input is parsed as a whole file from an exact-size copy (so
 * AddressSanitizer sees a read one byte past the end). When it parses, every
 * accessor is exercised the way a model loader would: every key looked up
 * by name, every value decoded, every array element visited (nested arrays
 * recursively), every tensor found by name and its first and last data
 * byte read. Any crash, sanitizer report or LB_ASSERT is a bug; so is a
 * parse that returns neither LB_OK nor LB_EINVAL/LB_ENOMEM.
 *
 * Build and run: docs/gguf.md (cmake -DLLMBENCH_FUZZ=ON with clang).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bench/lb-gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink; /* keeps the reads from being optimized out */

static void visit(const struct lb_gguf_ctx *c, const struct lb_gguf_value *v, int depth)
{
    LB_ASSERT(depth <= LB_GGUF_MAX_DEPTH);
    switch (v->type) {
    case LB_GGUF_STR:
        if (v->v.str.len) sink += (uint8_t)v->v.str.ptr[0] + (uint8_t)v->v.str.ptr[v->v.str.len - 1];
        break;
    case LB_GGUF_ARR: {
        const struct lb_gguf_array *a = &v->v.arr;
        LB_ASSERT((unsigned)a->elem_type < LB_GGUF_TYPE_COUNT);
        /* the last element is read directly too: the view must cover it */
        if (a->elem_size && a->count)
            sink += ((const uint8_t *)a->data)[a->count * a->elem_size - 1];
        for (uint64_t i = 0; i < a->count; i++) {
            struct lb_gguf_value e = lb_gguf_arr_elem(c, a, i);
            LB_ASSERT(e.type == a->elem_type);
            visit(c, &e, depth + 1);
        }
        break;
    }
    default:
        sink += v->v.u64;
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    struct lb_gguf_ctx *c = NULL;
    struct lb_error err = {0};
    enum lb_status st = lb_gguf_open_memory(copy, size, "fuzz", &c, &err);
    if (st != LB_OK) {
        LB_ASSERT(c == NULL);
        LB_ASSERT(st == LB_EINVAL || st == LB_ENOMEM);
        LB_ASSERT(err.msg[0] != '\0');
        free(copy);
        return 0;
    }
    LB_ASSERT(c != NULL);
    uint32_t a = lb_gguf_alignment(c);
    LB_ASSERT(a && (a & (a - 1)) == 0);
    LB_ASSERT(lb_gguf_data_offset(c) % a == 0 && lb_gguf_data_offset(c) <= size);
    for (int64_t i = 0; i < lb_gguf_n_kv(c); i++) {
        char key[LB_GGUF_MAX_KEY + 1];
        struct lb_gguf_str k = lb_gguf_kv_key(c, i);
        LB_ASSERT(lb_gguf_str_copy(k, key, sizeof key));
        LB_ASSERT(lb_gguf_find_key(c, key) == i);
        struct lb_gguf_value v = lb_gguf_kv_value(c, i);
        visit(c, &v, 0);
    }
    /* the typed getters a loader calls (absent keys and wrong types error) */
    uint32_t u32;
    struct lb_gguf_str str;
    struct lb_gguf_array arr;
    if (lb_gguf_get_u32(c, "general.alignment", &u32, &err) == LB_OK) LB_ASSERT(u32 == a);
    if (lb_gguf_get_str(c, "general.architecture", &str, &err) == LB_OK) sink += str.len;
    if (lb_gguf_get_arr(c, "tokenizer.ggml.tokens", LB_GGUF_STR, &arr, &err) == LB_OK && arr.count)
        sink += lb_gguf_arr_elem(c, &arr, arr.count - 1).v.str.len;
    sink += lb_gguf_version(c) + lb_gguf_file_size(c);
    for (int64_t i = 0; i < lb_gguf_n_tensors(c); i++) {
        const struct lb_gguf_tensor *t = lb_gguf_tensor(c, i);
        LB_ASSERT(lb_gguf_find_tensor(c, t->name) == t);
        LB_ASSERT(t->offset % a == 0);
        LB_ASSERT(t->size_bytes > 0 && t->size_bytes <= size);
        const uint8_t *p = t->data;
        LB_ASSERT(p >= copy && p + t->size_bytes <= copy + size);
        sink += p[0] + p[t->size_bytes - 1];
    }
    lb_gguf_close(c);
    free(copy);
    return 0;
}
