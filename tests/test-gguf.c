/* test-gguf.c: the GGUF reader and writer (bench/lb-gguf.h).
 *
 *  - round trip: the writer's file (every value type, nested arrays,
 *    tensors of many quant types, alignments default/1/64/256, data given
 *    by pointer and streamed) reads back identical, value by value and
 *    byte by byte;
 *  - a byte buffer assembled here, independent of the writer, parses to the
 *    expected values (from memory and through the mmap path);
 *  - every tests/gguf-corpus/bad-*.gguf is rejected with LB_EINVAL and the
 *    message fragment listed below; every good-*.gguf parses;
 *  - every prefix of a small valid file is rejected (and never crashes)
 *    until it holds the last tensor byte;
 *  - writer misuse is refused and leaves no output file behind.
 * The corpus is found through LB_SOURCE_DIR (set by ctest).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bench/lb-gguf.h"
#include "lb-test.h"

static char dir[256];
static unsigned long long rng;

static void cleanup_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[600];
    if (!d) return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int count_files(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)lb_test_rand_u64(&rng);
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n ? (size_t)n : 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void write_whole(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

/* ---- round trip through the writer ----------------------------------- */

struct tspec {
    const char *name;
    enum lb_qtype type;
    uint32_t n_dims;
    int64_t ne[4];
    bool streamed;
    uint8_t *bytes;
    size_t size;
};

static struct tspec specs[] = {
    {"token_embd.weight", LB_QTYPE_F32, 2, {7, 3, 1, 1}, false, NULL, 0},
    {"output_norm.weight", LB_QTYPE_F16, 1, {5, 1, 1, 1}, true, NULL, 0},
    {"blk.0.bf16", LB_QTYPE_BF16, 3, {2, 2, 2, 1}, false, NULL, 0},
    {"blk.0.attn_q.weight", LB_QTYPE_Q4_0, 2, {64, 2, 1, 1}, true, NULL, 0},
    {"blk.0.attn_k.weight", LB_QTYPE_Q8_0, 3, {32, 1, 2, 1}, false, NULL, 0},
    {"blk.0.ffn_up.weight", LB_QTYPE_Q4_K, 2, {256, 2, 1, 1}, true, NULL, 0},
    {"blk.0.ffn_gate_exps.weight", LB_QTYPE_Q6_K, 4, {256, 1, 1, 2}, false, NULL, 0},
    {"blk.0.mxfp4", LB_QTYPE_MXFP4, 1, {32, 1, 1, 1}, true, NULL, 0},
    {"blk.0.iq4_nl", LB_QTYPE_IQ4_NL, 2, {32, 3, 1, 1}, false, NULL, 0},
    {"blk.0.q2_k", LB_QTYPE_Q2_K, 1, {256, 1, 1, 1}, true, NULL, 0},
    {"blk.0.q5_1", LB_QTYPE_Q5_1, 2, {32, 5, 1, 1}, true, NULL, 0},
    /* 3 MiB + 4 bytes: crosses the writer's 1 MiB buffer unevenly */
    {"big.weight", LB_QTYPE_F32, 1, {786433, 1, 1, 1}, true, NULL, 0},
};

static size_t spec_bytes(const struct tspec *s)
{
    return lb_qtype_row_bytes(s->type, s->ne[0]) * (size_t)(s->ne[1] * s->ne[2] * s->ne[3]);
}

/* Streams a tensor in odd-sized chunks. */
static enum lb_status stream_cb(void *user, int64_t i, const struct lb_gguf_tensor *t,
                                struct lb_gguf_sink *sink, struct lb_error *err)
{
    struct tspec *s = user;
    (void)i;
    struct tspec *me = NULL;
    for (size_t k = 0; k < LB_ARRAY_LEN(specs); k++)
        if (!strcmp(s[k].name, t->name)) me = &s[k];
    if (!me || t->size_bytes != me->size)
        return lb_error_set(err, LB_EINVAL, "callback: unexpected tensor %s", t->name);
    size_t off = 0, chunk = 7;
    while (off < me->size) {
        size_t n = me->size - off < chunk ? me->size - off : chunk;
        enum lb_status st = lb_gguf_sink_write(sink, me->bytes + off, n, err);
        if (st) return st;
        off += n;
        chunk = chunk * 3 + 1; /* 7, 22, 67, ... up to MBs */
    }
    return LB_OK;
}

static const uint8_t arr_u8[] = {0, 1, 255};
static const int8_t arr_i8[] = {-128, 0, 127};
static const uint16_t arr_u16[] = {0, 65535, 1234};
static const int16_t arr_i16[] = {-32768, 32767};
static const uint32_t arr_u32[] = {0, 4294967295u, 7, 8};
static const int32_t arr_i32[] = {INT32_MIN, INT32_MAX, -1};
static const float arr_f32[] = {1.0f, -0.0f, 3.25e-20f, 1e30f};
static const uint8_t arr_bool[] = {1, 0, 1};
static const uint64_t arr_u64[] = {UINT64_MAX, 0};
static const int64_t arr_i64[] = {INT64_MIN, INT64_MAX, 5};
static const double arr_f64[] = {3.141592653589793, -1e300};
static const char *const arr_str[] = {"<s>", "</s>", "", "\xe2\x96\x81hello"};

static void build_metadata(struct lb_gguf_writer *w, uint32_t alignment)
{
    CHECK_INT_EQ(lb_gguf_writer_add_str(w, "general.architecture", "llama"), LB_OK);
    if (alignment) CHECK_INT_EQ(lb_gguf_writer_add_u32(w, "general.alignment", alignment), LB_OK);
    lb_gguf_writer_add_u8(w, "v.u8", 250);
    lb_gguf_writer_add_i8(w, "v.i8", -7);
    lb_gguf_writer_add_u16(w, "v.u16", 65000);
    lb_gguf_writer_add_i16(w, "v.i16", -32000);
    lb_gguf_writer_add_u32(w, "v.u32", 4000000000u);
    lb_gguf_writer_add_i32(w, "v.i32", -2000000000);
    lb_gguf_writer_add_f32(w, "v.f32", 0.1f);
    lb_gguf_writer_add_bool(w, "v.bool", true);
    lb_gguf_writer_add_bool(w, "v.false", false);
    lb_gguf_writer_add_u64(w, "v.u64", 0xfedcba9876543210ull);
    lb_gguf_writer_add_i64(w, "v.i64", INT64_MIN + 1);
    lb_gguf_writer_add_f64(w, "v.f64", 1.0 / 3.0);
    lb_gguf_writer_add_strn(w, "v.strn", "a\0b", 3);
    lb_gguf_writer_add_str(w, "v.empty", "");
    lb_gguf_writer_add_arr(w, "a.u8", LB_GGUF_U8, arr_u8, 3);
    lb_gguf_writer_add_arr(w, "a.i8", LB_GGUF_I8, arr_i8, 3);
    lb_gguf_writer_add_arr(w, "a.u16", LB_GGUF_U16, arr_u16, 3);
    lb_gguf_writer_add_arr(w, "a.i16", LB_GGUF_I16, arr_i16, 2);
    lb_gguf_writer_add_arr(w, "a.u32", LB_GGUF_U32, arr_u32, 4);
    lb_gguf_writer_add_arr(w, "a.i32", LB_GGUF_I32, arr_i32, 3);
    lb_gguf_writer_add_arr(w, "a.f32", LB_GGUF_F32, arr_f32, 4);
    lb_gguf_writer_add_arr(w, "a.bool", LB_GGUF_BOOL, arr_bool, 3);
    lb_gguf_writer_add_arr(w, "a.u64", LB_GGUF_U64, arr_u64, 2);
    lb_gguf_writer_add_arr(w, "a.i64", LB_GGUF_I64, arr_i64, 3);
    lb_gguf_writer_add_arr(w, "a.f64", LB_GGUF_F64, arr_f64, 2);
    lb_gguf_writer_add_arr(w, "a.empty", LB_GGUF_F32, NULL, 0);
    lb_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", arr_str, 4);
    lb_gguf_writer_add_arr_str(w, "a.str_empty", NULL, 0);
    /* a.nest = [[1, 2] (u32), ["x", "yz"], [[-5] (i64), []] , []] */
    lb_gguf_writer_arr_begin(w, "a.nest", LB_GGUF_ARR, 4);
    lb_gguf_writer_arr_begin(w, NULL, LB_GGUF_U32, 2);
    lb_gguf_writer_add_u32(w, NULL, 1);
    lb_gguf_writer_add_u32(w, NULL, 2);
    lb_gguf_writer_arr_end(w);
    lb_gguf_writer_arr_begin(w, NULL, LB_GGUF_STR, 2);
    lb_gguf_writer_add_str(w, NULL, "x");
    lb_gguf_writer_add_str(w, NULL, "yz");
    lb_gguf_writer_arr_end(w);
    lb_gguf_writer_arr_begin(w, NULL, LB_GGUF_ARR, 2);
    lb_gguf_writer_arr_begin(w, NULL, LB_GGUF_I64, 1);
    lb_gguf_writer_add_i64(w, NULL, -5);
    lb_gguf_writer_arr_end(w);
    lb_gguf_writer_arr_begin(w, NULL, LB_GGUF_BOOL, 0);
    lb_gguf_writer_arr_end(w);
    lb_gguf_writer_arr_end(w);
    lb_gguf_writer_arr_begin(w, NULL, LB_GGUF_F64, 0);
    lb_gguf_writer_arr_end(w);
    lb_gguf_writer_arr_end(w);
    /* a.deep: 8 levels, the innermost holding one u16 */
    for (int d = 0; d < 8; d++)
        lb_gguf_writer_arr_begin(w, d == 0 ? "a.deep" : NULL, d == 7 ? LB_GGUF_U16 : LB_GGUF_ARR, 1);
    lb_gguf_writer_add_u16(w, NULL, 4242);
    for (int d = 0; d < 8; d++) lb_gguf_writer_arr_end(w);
}

#define N_KV_WRITTEN 31 /* build_metadata's keys, general.alignment not counted */

static void check_fixed_arr(const struct lb_gguf_ctx *c, const char *key, enum lb_gguf_type t,
                            const void *expect, uint64_t n)
{
    struct lb_gguf_array a;
    struct lb_error err = {0};
    CHECK_MSG(lb_gguf_get_arr(c, key, t, &a, &err) == LB_OK, "%s: %s", key, err.msg);
    CHECK_INT_EQ(a.count, n);
    CHECK_INT_EQ(a.elem_size, lb_gguf_type_size(t));
    CHECK(n == 0 || memcmp(a.data, expect, n * a.elem_size) == 0);
    for (uint64_t i = 0; i < a.count && i < n; i++) {
        struct lb_gguf_value v = lb_gguf_arr_elem(c, &a, i);
        CHECK_INT_EQ(v.type, t);
        CHECK_MSG(memcmp(&v.v, (const uint8_t *)expect + i * a.elem_size,
                         t == LB_GGUF_BOOL ? 1 : a.elem_size) == 0, "%s[%llu]", key,
                  (unsigned long long)i);
    }
}

static void check_metadata(const struct lb_gguf_ctx *c, uint32_t alignment)
{
    struct lb_error err = {0};
    struct lb_gguf_value v;
    struct lb_gguf_str s;
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f32;
    double f64;
    bool b;

    CHECK_INT_EQ(lb_gguf_n_kv(c), N_KV_WRITTEN + (alignment ? 1 : 0));
    CHECK_INT_EQ(lb_gguf_alignment(c), alignment ? alignment : 32);
    CHECK(lb_gguf_get_str(c, "general.architecture", &s, &err) == LB_OK && lb_gguf_str_eq(s, "llama"));
    CHECK(lb_gguf_get_u32(c, "v.u32", &u32, &err) == LB_OK && u32 == 4000000000u);
    CHECK(lb_gguf_get_i32(c, "v.i32", &i32, &err) == LB_OK && i32 == -2000000000);
    CHECK(lb_gguf_get_u64(c, "v.u64", &u64, &err) == LB_OK && u64 == 0xfedcba9876543210ull);
    CHECK(lb_gguf_get_f32(c, "v.f32", &f32, &err) == LB_OK && f32 == 0.1f);
    CHECK(lb_gguf_get_f64(c, "v.f64", &f64, &err) == LB_OK && f64 == 1.0 / 3.0);
    CHECK(lb_gguf_get_bool(c, "v.bool", &b, &err) == LB_OK && b);
    CHECK(lb_gguf_get_bool(c, "v.false", &b, &err) == LB_OK && !b);
    CHECK(lb_gguf_get_value(c, "v.u8", &v, &err) == LB_OK && v.type == LB_GGUF_U8 && v.v.u8 == 250);
    CHECK(lb_gguf_get_value(c, "v.i8", &v, &err) == LB_OK && v.type == LB_GGUF_I8 && v.v.i8 == -7);
    CHECK(lb_gguf_get_value(c, "v.u16", &v, &err) == LB_OK && v.type == LB_GGUF_U16 && v.v.u16 == 65000);
    CHECK(lb_gguf_get_value(c, "v.i16", &v, &err) == LB_OK && v.type == LB_GGUF_I16 && v.v.i16 == -32000);
    CHECK(lb_gguf_get_value(c, "v.i64", &v, &err) == LB_OK && v.type == LB_GGUF_I64 &&
          v.v.i64 == INT64_MIN + 1);
    CHECK(lb_gguf_get_str(c, "v.strn", &s, &err) == LB_OK && s.len == 3 && !memcmp(s.ptr, "a\0b", 3));
    CHECK(lb_gguf_get_str(c, "v.empty", &s, &err) == LB_OK && s.len == 0);
    char buf[3];
    CHECK(!lb_gguf_str_copy((struct lb_gguf_str){"abcd", 4}, buf, sizeof buf) && !strcmp(buf, "ab"));

    /* wrong type and missing key */
    CHECK_INT_EQ(lb_gguf_get_u64(c, "v.u32", &u64, &err), LB_EINVAL);
    CHECK_MSG(strstr(err.msg, "key 'v.u32'") && strstr(err.msg, "is u32, not u64"), "%s", err.msg);
    CHECK_INT_EQ(lb_gguf_get_u32(c, "no.such.key", &u32, &err), LB_EINVAL);
    CHECK_MSG(strstr(err.msg, "key 'no.such.key' not found"), "%s", err.msg);
    CHECK_INT_EQ(lb_gguf_find_key(c, "no.such.key"), -1);

    check_fixed_arr(c, "a.u8", LB_GGUF_U8, arr_u8, 3);
    check_fixed_arr(c, "a.i8", LB_GGUF_I8, arr_i8, 3);
    check_fixed_arr(c, "a.u16", LB_GGUF_U16, arr_u16, 3);
    check_fixed_arr(c, "a.i16", LB_GGUF_I16, arr_i16, 2);
    check_fixed_arr(c, "a.u32", LB_GGUF_U32, arr_u32, 4);
    check_fixed_arr(c, "a.i32", LB_GGUF_I32, arr_i32, 3);
    check_fixed_arr(c, "a.f32", LB_GGUF_F32, arr_f32, 4);
    check_fixed_arr(c, "a.bool", LB_GGUF_BOOL, arr_bool, 3);
    check_fixed_arr(c, "a.u64", LB_GGUF_U64, arr_u64, 2);
    check_fixed_arr(c, "a.i64", LB_GGUF_I64, arr_i64, 3);
    check_fixed_arr(c, "a.f64", LB_GGUF_F64, arr_f64, 2);
    check_fixed_arr(c, "a.empty", LB_GGUF_F32, NULL, 0);

    struct lb_gguf_array a, a2, a3;
    CHECK(lb_gguf_get_arr(c, "tokenizer.ggml.tokens", LB_GGUF_STR, &a, &err) == LB_OK);
    CHECK_INT_EQ(a.count, 4);
    for (uint64_t i = 0; i < a.count && i < 4; i++) {
        v = lb_gguf_arr_elem(c, &a, i);
        CHECK(v.type == LB_GGUF_STR && lb_gguf_str_eq(v.v.str, arr_str[i]));
    }
    CHECK_INT_EQ(lb_gguf_get_arr(c, "tokenizer.ggml.tokens", LB_GGUF_U32, &a, &err), LB_EINVAL);
    CHECK_MSG(strstr(err.msg, "is an array of str, not of u32"), "%s", err.msg);
    CHECK(lb_gguf_get_arr(c, "a.str_empty", LB_GGUF_STR, &a, &err) == LB_OK && a.count == 0);

    CHECK(lb_gguf_get_arr(c, "a.nest", LB_GGUF_ARR, &a, &err) == LB_OK);
    CHECK_INT_EQ(a.count, 4);
    if (a.count == 4) {
        v = lb_gguf_arr_elem(c, &a, 0);
        a2 = v.v.arr;
        CHECK(v.type == LB_GGUF_ARR && a2.elem_type == LB_GGUF_U32 && a2.count == 2);
        CHECK(lb_gguf_arr_elem(c, &a2, 0).v.u32 == 1 && lb_gguf_arr_elem(c, &a2, 1).v.u32 == 2);
        v = lb_gguf_arr_elem(c, &a, 1);
        a2 = v.v.arr;
        CHECK(a2.elem_type == LB_GGUF_STR && a2.count == 2);
        CHECK(lb_gguf_str_eq(lb_gguf_arr_elem(c, &a2, 0).v.str, "x"));
        CHECK(lb_gguf_str_eq(lb_gguf_arr_elem(c, &a2, 1).v.str, "yz"));
        a2 = lb_gguf_arr_elem(c, &a, 2).v.arr;
        CHECK(a2.elem_type == LB_GGUF_ARR && a2.count == 2);
        a3 = lb_gguf_arr_elem(c, &a2, 0).v.arr;
        CHECK(a3.elem_type == LB_GGUF_I64 && a3.count == 1 && lb_gguf_arr_elem(c, &a3, 0).v.i64 == -5);
        a3 = lb_gguf_arr_elem(c, &a2, 1).v.arr;
        CHECK(a3.elem_type == LB_GGUF_BOOL && a3.count == 0);
        a2 = lb_gguf_arr_elem(c, &a, 3).v.arr;
        CHECK(a2.elem_type == LB_GGUF_F64 && a2.count == 0);
    }
    CHECK(lb_gguf_get_arr(c, "a.deep", LB_GGUF_ARR, &a, &err) == LB_OK);
    for (int d = 1; d < 8 && a.count == 1; d++) a = lb_gguf_arr_elem(c, &a, 0).v.arr;
    CHECK(a.elem_type == LB_GGUF_U16 && a.count == 1 && lb_gguf_arr_elem(c, &a, 0).v.u16 == 4242);

    /* keys in file order, each found by lb_gguf_find_key */
    for (int64_t i = 0; i < lb_gguf_n_kv(c); i++) {
        char k[128];
        lb_gguf_str_copy(lb_gguf_kv_key(c, i), k, sizeof k);
        CHECK_INT_EQ(lb_gguf_find_key(c, k), i);
    }
}

static void check_tensors(const struct lb_gguf_ctx *c, uint32_t alignment)
{
    uint32_t a = alignment ? alignment : 32;
    const uint8_t *base = lb_gguf_base(c);
    CHECK_INT_EQ(lb_gguf_n_tensors(c), LB_ARRAY_LEN(specs));
    CHECK_INT_EQ(lb_gguf_data_offset(c) % a, 0);
    for (int64_t i = 0; i < lb_gguf_n_tensors(c) && i < (int64_t)LB_ARRAY_LEN(specs); i++) {
        const struct lb_gguf_tensor *t = lb_gguf_tensor(c, i);
        const struct tspec *s = &specs[i];
        CHECK_MSG(!strcmp(t->name, s->name), "tensor %lld: %s != %s", (long long)i, t->name, s->name);
        CHECK(lb_gguf_find_tensor(c, s->name) == t);
        CHECK_INT_EQ(t->type, s->type);
        CHECK_INT_EQ(t->n_dims, s->n_dims);
        for (int d = 0; d < 4; d++) CHECK_INT_EQ(t->ne[d], s->ne[d]);
        CHECK_INT_EQ(t->size_bytes, s->size);
        CHECK_INT_EQ(t->offset % a, 0);
        CHECK_INT_EQ(((const uint8_t *)t->data - base) % a, 0);
        CHECK_INT_EQ((const uint8_t *)t->data - base, lb_gguf_data_offset(c) + t->offset);
        CHECK_MSG(memcmp(t->data, s->bytes, s->size) == 0, "tensor %s bytes differ", s->name);
    }
    CHECK(lb_gguf_find_tensor(c, "no.such.tensor") == NULL);
}

static void test_roundtrip(void)
{
    static const uint32_t aligns[] = {0, 1, 64, 256}; /* 0: default (no key) */
    for (size_t k = 0; k < LB_ARRAY_LEN(specs); k++) {
        specs[k].size = spec_bytes(&specs[k]);
        specs[k].bytes = malloc(specs[k].size);
        fill_random(specs[k].bytes, specs[k].size);
    }
    for (size_t ai = 0; ai < LB_ARRAY_LEN(aligns); ai++) {
        struct lb_gguf_writer *w;
        struct lb_error err = {0};
        char path[300];
        snprintf(path, sizeof path, "%s/rt-%u.gguf", dir, aligns[ai]);
        CHECK_INT_EQ(lb_gguf_writer_new(&w, &err), LB_OK);
        build_metadata(w, aligns[ai]);
        for (size_t k = 0; k < LB_ARRAY_LEN(specs); k++) {
            const struct tspec *s = &specs[k];
            CHECK_INT_EQ(lb_gguf_writer_add_tensor(w, s->name, s->type, s->n_dims, s->ne,
                                                   s->streamed ? NULL : s->bytes), LB_OK);
        }
        enum lb_status st = lb_gguf_writer_write(w, path, stream_cb, specs, &err);
        CHECK_MSG(st == LB_OK, "write: %s", err.msg);
        lb_gguf_writer_free(w);

        struct lb_gguf_ctx *c = NULL;
        st = lb_gguf_open(path, &c, &err);
        CHECK_MSG(st == LB_OK, "read back: %s", err.msg);
        if (st) continue;
        CHECK_INT_EQ(lb_gguf_version(c), 3);
        check_metadata(c, aligns[ai]);
        check_tensors(c, aligns[ai]);
        /* packed like ggml: offsets ascending, each the aligned end of the previous */
        uint64_t a = aligns[ai] ? aligns[ai] : 32, expect = 0;
        for (int64_t i = 0; i < lb_gguf_n_tensors(c); i++) {
            const struct lb_gguf_tensor *t = lb_gguf_tensor(c, i);
            CHECK_INT_EQ(t->offset, expect);
            expect = (t->offset + t->size_bytes + a - 1) / a * a;
        }
        CHECK_INT_EQ(lb_gguf_file_size(c), lb_gguf_data_offset(c) + expect);
        lb_gguf_close(c);
        unlink(path);
    }
    CHECK_INT_EQ(count_files(), 0); /* no temp files left */
}

/* ---- a file assembled byte by byte ------------------------------------- */

struct bb {
    uint8_t *p;
    size_t n, cap;
};

static void b_put(struct bb *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void b_u32(struct bb *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    b_put(b, x, 4);
}
static void b_u64(struct bb *b, uint64_t v)
{
    b_u32(b, (uint32_t)v);
    b_u32(b, (uint32_t)(v >> 32));
}
static void b_str(struct bb *b, const char *s)
{
    b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
}
static void b_pad(struct bb *b, size_t a)
{
    static const uint8_t z[64];
    b_put(b, z, (a - b->n % a) % a);
}

/* header; general.architecture = "llama"; llama.block_count = 2 (u32);
 * tokenizer.ggml.tokens = ["<s>", "hi"]; x.nested = [[1, 2], []] (u8);
 * x.f32 = 0.5; tensors "a" F32 [4, 2] at 0 and "blk.0.attn_q.weight" Q8_0
 * [32] at 32 (or past the end, for the message test). Returns the end of
 * the last tensor in *data_end. */
static struct bb hand_file(uint64_t q_offset, size_t *data_end)
{
    struct bb b = {0};
    b_put(&b, "GGUF", 4);
    b_u32(&b, 3);
    b_u64(&b, 2); /* tensors */
    b_u64(&b, 5); /* kv */
    b_str(&b, "general.architecture");
    b_u32(&b, 8);
    b_str(&b, "llama");
    b_str(&b, "llama.block_count");
    b_u32(&b, 4);
    b_u32(&b, 2);
    b_str(&b, "tokenizer.ggml.tokens");
    b_u32(&b, 9);
    b_u32(&b, 8);
    b_u64(&b, 2);
    b_str(&b, "<s>");
    b_str(&b, "hi");
    b_str(&b, "x.nested");
    b_u32(&b, 9);
    b_u32(&b, 9);
    b_u64(&b, 2);
    b_u32(&b, 0);
    b_u64(&b, 2);
    b_put(&b, "\x01\x02", 2);
    b_u32(&b, 0);
    b_u64(&b, 0);
    b_str(&b, "x.f32");
    b_u32(&b, 6);
    b_put(&b, "\x00\x00\x00\x3f", 4); /* 0.5f */
    b_str(&b, "a");
    b_u32(&b, 2);
    b_u64(&b, 4);
    b_u64(&b, 2);
    b_u32(&b, 0);
    b_u64(&b, 0);
    b_str(&b, "blk.0.attn_q.weight");
    b_u32(&b, 1);
    b_u64(&b, 32);
    b_u32(&b, 8);
    b_u64(&b, q_offset);
    b_pad(&b, 32);
    for (int i = 0; i < 32 + 34; i++) {
        uint8_t x = (uint8_t)(i * 7 + 1);
        b_put(&b, &x, 1);
    }
    *data_end = b.n;
    b_pad(&b, 32);
    return b;
}

static void check_hand(const struct lb_gguf_ctx *c, const uint8_t *file)
{
    struct lb_error err = {0};
    struct lb_gguf_str s;
    uint32_t u32;
    float f;
    struct lb_gguf_array a;
    CHECK_INT_EQ(lb_gguf_n_kv(c), 5);
    CHECK_INT_EQ(lb_gguf_n_tensors(c), 2);
    CHECK(lb_gguf_get_str(c, "general.architecture", &s, &err) == LB_OK && lb_gguf_str_eq(s, "llama"));
    CHECK(lb_gguf_get_u32(c, "llama.block_count", &u32, &err) == LB_OK && u32 == 2);
    CHECK(lb_gguf_get_f32(c, "x.f32", &f, &err) == LB_OK && f == 0.5f);
    CHECK(lb_gguf_get_arr(c, "tokenizer.ggml.tokens", LB_GGUF_STR, &a, &err) == LB_OK && a.count == 2);
    if (a.count == 2) {
        CHECK(lb_gguf_str_eq(lb_gguf_arr_elem(c, &a, 0).v.str, "<s>"));
        CHECK(lb_gguf_str_eq(lb_gguf_arr_elem(c, &a, 1).v.str, "hi"));
    }
    CHECK(lb_gguf_get_arr(c, "x.nested", LB_GGUF_ARR, &a, &err) == LB_OK && a.count == 2);
    if (a.count == 2) {
        struct lb_gguf_array e0 = lb_gguf_arr_elem(c, &a, 0).v.arr;
        struct lb_gguf_array e1 = lb_gguf_arr_elem(c, &a, 1).v.arr;
        CHECK(e0.elem_type == LB_GGUF_U8 && e0.count == 2 && lb_gguf_arr_elem(c, &e0, 1).v.u8 == 2);
        CHECK(e1.elem_type == LB_GGUF_U8 && e1.count == 0);
    }
    const struct lb_gguf_tensor *t = lb_gguf_find_tensor(c, "blk.0.attn_q.weight");
    CHECK(t != NULL);
    if (!t) return;
    CHECK(t->type == LB_QTYPE_Q8_0 && t->n_dims == 1 && t->ne[0] == 32 && t->ne[1] == 1);
    CHECK_INT_EQ(t->size_bytes, 34);
    CHECK_INT_EQ(t->offset, 32);
    uint64_t data = lb_gguf_data_offset(c);
    CHECK_INT_EQ(data % 32, 0);
    CHECK((const uint8_t *)t->data - (const uint8_t *)lb_gguf_base(c) == (ptrdiff_t)(data + 32));
    CHECK(memcmp(t->data, file + data + 32, 34) == 0);
    t = lb_gguf_tensor(c, 0);
    CHECK(!strcmp(t->name, "a") && t->type == LB_QTYPE_F32 && t->ne[0] == 4 && t->ne[1] == 2 &&
          t->size_bytes == 32 && t->offset == 0);
}

static void test_hand_assembled(void)
{
    size_t end;
    struct bb b = hand_file(32, &end);
    struct lb_gguf_ctx *c = NULL;
    struct lb_error err = {0};
    CHECK_MSG(lb_gguf_open_memory(b.p, b.n, "hand", &c, &err) == LB_OK, "%s", err.msg);
    if (c) check_hand(c, b.p);
    lb_gguf_close(c);

    char path[300];
    snprintf(path, sizeof path, "%s/hand.gguf", dir);
    write_whole(path, b.p, b.n);
    c = NULL;
    CHECK_MSG(lb_gguf_open(path, &c, &err) == LB_OK, "%s", err.msg);
    if (c) check_hand(c, b.p);
    lb_gguf_close(c);
    unlink(path);
    free(b.p);

    /* the message of a tensor whose data runs past the end, in full */
    b = hand_file(64, &end);
    CHECK_INT_EQ(lb_gguf_open_memory(b.p, b.n, "model.gguf", &c, &err), LB_EINVAL);
    CHECK(c == NULL);
    char expect[256];
    snprintf(expect, sizeof expect, "model.gguf: tensor 1 'blk.0.attn_q.weight': data [%zu, +34) "
             "runs past the end of the file (%zu bytes)", b.n - 96 + 64, b.n);
    CHECK_MSG(!strcmp(err.msg, expect), "got '%s', expected '%s'", err.msg, expect);
    free(b.p);

    /* keys of 65535 bytes are fine, 65536 are not */
    for (size_t klen = 65535; klen <= 65536; klen++) {
        struct bb k = {0};
        char *key = malloc(klen + 1);
        memset(key, 'k', klen);
        key[klen] = '\0';
        b_put(&k, "GGUF", 4);
        b_u32(&k, 3);
        b_u64(&k, 0);
        b_u64(&k, 1);
        b_str(&k, key);
        b_u32(&k, 0);
        b_put(&k, "\x05", 1);
        b_pad(&k, 32);
        enum lb_status st = lb_gguf_open_memory(k.p, k.n, "k", &c, &err);
        if (klen == 65535) {
            CHECK_MSG(st == LB_OK, "%s", err.msg);
            CHECK(c && lb_gguf_find_key(c, key) == 0);
        } else {
            CHECK_INT_EQ(st, LB_EINVAL);
            CHECK_MSG(strstr(err.msg, "key length 65536 at byte 24 exceeds the limit of 65535"), "%s",
                      err.msg);
        }
        lb_gguf_close(c);
        c = NULL;
        free(key);
        free(k.p);
    }
}

/* ---- every prefix of a valid file ---------------------------------------- */

static void check_prefixes(const uint8_t *file, size_t n, size_t data_end, const char *what)
{
    int bad = 0;
    for (size_t len = 0; len <= n; len++) {
        /* an exact-size copy, so a sanitizer build sees any over-read */
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, file, len);
        struct lb_gguf_ctx *c = NULL;
        struct lb_error err = {0};
        enum lb_status st = lb_gguf_open_memory(p, len, what, &c, &err);
        bool want_ok = len >= data_end; /* only the last tensor's trailing padding may be cut */
        if ((st == LB_OK) != want_ok || (st != LB_OK && st != LB_EINVAL) ||
            (st == LB_OK) != (c != NULL)) {
            if (bad++ < 5)
                lb_test_fail(__FILE__, __LINE__, "%s prefix %zu/%zu: status %d (%s)", what, len, n,
                             st, err.msg);
        }
        lb_test_checks++;
        lb_gguf_close(c);
        free(p);
    }
}

static void test_truncation(void)
{
    size_t end;
    struct bb b = hand_file(32, &end);
    check_prefixes(b.p, b.n, end, "hand");
    /* through the mmap path too, the empty file included */
    char path[300];
    snprintf(path, sizeof path, "%s/prefix.gguf", dir);
    for (size_t len = 0; len < end; len++) {
        struct lb_gguf_ctx *c = NULL;
        struct lb_error err = {0};
        write_whole(path, b.p, len);
        CHECK_INT_EQ(lb_gguf_open(path, &c, &err), LB_EINVAL);
        CHECK(c == NULL && strncmp(err.msg, path, strlen(path)) == 0);
    }
    unlink(path);
    free(b.p);

    /* a writer-made file with metadata of every kind */
    struct lb_gguf_writer *w;
    struct lb_error err = {0};
    snprintf(path, sizeof path, "%s/small.gguf", dir);
    lb_gguf_writer_new(&w, &err);
    build_metadata(w, 64);
    for (size_t k = 0; k < 3; k++)
        lb_gguf_writer_add_tensor(w, specs[k].name, specs[k].type, specs[k].n_dims, specs[k].ne,
                                  specs[k].bytes);
    CHECK_MSG(lb_gguf_writer_write(w, path, NULL, NULL, &err) == LB_OK, "%s", err.msg);
    lb_gguf_writer_free(w);
    size_t n = 0;
    uint8_t *file = read_whole(path, &n);
    struct lb_gguf_ctx *c = NULL;
    CHECK_INT_EQ(lb_gguf_open(path, &c, &err), LB_OK);
    if (c && file) {
        const struct lb_gguf_tensor *last = lb_gguf_tensor(c, lb_gguf_n_tensors(c) - 1);
        size_t data_end = (size_t)(lb_gguf_data_offset(c) + last->offset + last->size_bytes);
        check_prefixes(file, n, data_end, "writer");
    }
    lb_gguf_close(c);
    free(file);
    unlink(path);
}

/* ---- the corpus ------------------------------------------------------------ */

static const struct {
    const char *file, *fragment;
} bad_files[] = {
    {"bad-empty.gguf", "header: magic at byte 0 (4 bytes) runs past the end of the file (0 bytes)"},
    {"bad-truncated-header.gguf", "header: n_tensors at byte 8 (8 bytes) runs past the end of the file (10 bytes)"},
    {"bad-magic.gguf", "header: bad magic 'GGML' at byte 0"},
    {"bad-version1.gguf", "header: version 1 at byte 4 is not supported"},
    {"bad-version4.gguf", "header: version 4 at byte 4 is not supported"},
    {"bad-kv-count.gguf", "n_kv 1000 (byte 16) need at least 13000 bytes but the file has 8"},
    {"bad-kv-count-huge.gguf", "n_kv 9223372036854775808 at byte 16 exceeds the limit"},
    {"bad-tensor-count.gguf", "n_tensors 18446744073709551615 at byte 8 exceeds the limit"},
    {"bad-no-padding.gguf", "data section: starts at byte 32 (tensor infos end at byte 24, aligned to 32), past the end of the file (24 bytes)"},
    {"bad-key-past-eof.gguf", "key 0: key length 1000 at byte 24 exceeds the 32 bytes left"},
    {"bad-key-nul.gguf", "key 0: key 'gen?eral' at byte 24 contains a NUL byte"},
    {"bad-string-past-eof.gguf", "key 0 'general.name': string length 4096 at byte 48 exceeds the 8 bytes left"},
    {"bad-value-type.gguf", "key 0 'k': value type 13 at byte 33 is not a GGUF value type"},
    {"bad-array-elem-type.gguf", "key 0 'k': array element type 42 at byte 37 is not a GGUF value type"},
    {"bad-array-count-overflow.gguf", "key 0 'k': array count 2305843009213693953 at byte 41 (u64 elements, 8 bytes each) exceeds the 15 bytes left"},
    {"bad-array-str-count.gguf", "array count 4611686018427387904 at byte 41 (str elements, at least 8 bytes each)"},
    {"bad-array-str-past-eof.gguf", "key 0 'k': array string length 999 at byte 59 exceeds the 29 bytes left"},
    {"bad-nesting-too-deep.gguf", "key 0 'deep': array at byte 136 nests deeper than 8 levels"},
    {"bad-duplicate-key.gguf", "key 1 'a.b': key at byte 40 duplicates key 0 (byte 24)"},
    {"bad-alignment-0.gguf", "'general.alignment': alignment 0 (key at byte 24) is not a non-zero power of 2"},
    {"bad-alignment-3.gguf", "'general.alignment': alignment 3 (key at byte 24) is not a non-zero power of 2"},
    {"bad-alignment-type.gguf", "'general.alignment': type u64 (key at byte 24) must be u32"},
    {"bad-name-too-long.gguf", "at byte 24 is 64 bytes; names must be < 64 bytes"},
    {"bad-name-nul.gguf", "tensor 0: name 'bad?name' at byte 24 contains a NUL byte"},
    {"bad-ndims5.gguf", "tensor 0 'w': n_dims 5 at byte 33 exceeds 4"},
    {"bad-zero-dim.gguf", "tensor 0 'w': dimension 1 at byte 45 is 0"},
    {"bad-dim-overflow.gguf", "tensor 0 'w': dimension 1 = 4294967296 at byte 45 makes the element count overflow int64"},
    {"bad-dim-negative.gguf", "dimension 1 = 9223372036854775808 at byte 45 makes the element count overflow"},
    {"bad-size-overflow.gguf", "byte size of shape [4611686018427387904, 1, 1, 1] of F32 overflows 64 bits"},
    {"bad-unknown-type.gguf", "tensor 0 'w': unknown tensor type id 4 at byte 45"},
    {"bad-type-huge.gguf", "tensor 0 'w': unknown tensor type id 4294967295 at byte 45"},
    {"bad-block-multiple.gguf", "ne[0] = 33 (byte 37) is not a multiple of the block size 32 of Q4_0"},
    {"bad-misaligned-offset.gguf", "tensor 0 'w': offset 8 (field at byte 49) is not a multiple of the alignment 32"},
    {"bad-offset-past-eof.gguf", "offset 9223372036854775808 (field at byte 49) is past the end of the file"},
    {"bad-data-past-eof.gguf", "tensor 0 'w': data [64, +4096) runs past the end of the file (128 bytes)"},
    {"bad-tensor-truncated.gguf", "tensor 0 'blk.0.attn_q.weight': type at byte 63 (4 bytes) runs past the end of the file (65 bytes)"},
    {"bad-duplicate-tensor.gguf", "tensor 1 'w': name at byte 57 duplicates tensor 0 (byte 24)"},
    {"bad-truncated-data.gguf", "tensor 1 'blk.0.attn_q.weight': data [640, +34) runs past the end of the file (668 bytes)"},
};

static const char *corpus_dir(char *buf, size_t cap)
{
    const char *src = getenv("LB_SOURCE_DIR");
    if (!src || !*src) src = LLMBENCH_SOURCE_DIR; /* run by hand: the configured tree */
    snprintf(buf, cap, "%s/tests/gguf-corpus", src);
    return buf;
}

static void test_corpus(void)
{
    char cdir[512], path[800];
    corpus_dir(cdir, sizeof cdir);
    for (size_t i = 0; i < LB_ARRAY_LEN(bad_files); i++) {
        struct lb_gguf_ctx *c = NULL;
        struct lb_error err = {0};
        snprintf(path, sizeof path, "%s/%s", cdir, bad_files[i].file);
        enum lb_status st = lb_gguf_open(path, &c, &err);
        CHECK_MSG(st == LB_EINVAL && c == NULL, "%s: status %d (%s)", bad_files[i].file, st, err.msg);
        CHECK_MSG(strstr(err.msg, bad_files[i].fragment) != NULL, "%s: message '%s' lacks '%s'",
                  bad_files[i].file, err.msg, bad_files[i].fragment);
        CHECK_MSG(strncmp(err.msg, path, strlen(path)) == 0, "%s: message does not start with the path",
                  bad_files[i].file);
        lb_gguf_close(c);
    }
    /* every bad-* file is listed above; every good-* file parses */
    DIR *d = opendir(cdir);
    CHECK_MSG(d != NULL, "cannot open %s: %s", cdir, strerror(errno));
    if (!d) return;
    struct dirent *e;
    int n_good = 0, n_bad = 0;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        if (len < 5 || strcmp(nm + len - 5, ".gguf") != 0) continue;
        if (!strncmp(nm, "bad-", 4)) {
            bool listed = false;
            for (size_t i = 0; i < LB_ARRAY_LEN(bad_files); i++) listed |= !strcmp(bad_files[i].file, nm);
            CHECK_MSG(listed, "%s is not listed in test-gguf.c", nm);
            n_bad++;
        } else if (!strncmp(nm, "good-", 5)) {
            struct lb_gguf_ctx *c = NULL;
            struct lb_error err = {0};
            snprintf(path, sizeof path, "%s/%s", cdir, nm);
            CHECK_MSG(lb_gguf_open(path, &c, &err) == LB_OK, "%s: %s", nm, err.msg);
            lb_gguf_close(c);
            n_good++;
        }
    }
    closedir(d);
    CHECK_INT_EQ(n_bad, LB_ARRAY_LEN(bad_files));
    CHECK(n_good >= 4);

    /* values of good-small, written by Python's struct: the two agree */
    struct lb_gguf_ctx *c = NULL;
    struct lb_error err = {0};
    snprintf(path, sizeof path, "%s/good-small.gguf", cdir);
    if (lb_gguf_open(path, &c, &err) != LB_OK) return;
    struct lb_gguf_value v;
    uint32_t u32;
    uint64_t u64;
    double f64;
    CHECK(lb_gguf_get_u32(c, "t.u32", &u32, &err) == LB_OK && u32 == 4000000000u);
    CHECK(lb_gguf_get_u64(c, "t.u64", &u64, &err) == LB_OK && u64 == 1ull << 60);
    CHECK(lb_gguf_get_f64(c, "t.f64", &f64, &err) == LB_OK && f64 == -0.25);
    CHECK(lb_gguf_get_value(c, "t.i16", &v, &err) == LB_OK && v.v.i16 == -30000);
    CHECK(lb_gguf_get_value(c, "t.i64", &v, &err) == LB_OK && v.v.i64 == -(1ll << 60));
    struct lb_gguf_array a;
    CHECK(lb_gguf_get_arr(c, "t.arr_arr", LB_GGUF_ARR, &a, &err) == LB_OK && a.count == 3);
    if (a.count == 3) {
        struct lb_gguf_array e2 = lb_gguf_arr_elem(c, &a, 2).v.arr;
        CHECK(e2.elem_type == LB_GGUF_STR && e2.count == 1 &&
              lb_gguf_str_eq(lb_gguf_arr_elem(c, &e2, 0).v.str, "x"));
        struct lb_gguf_array e0 = lb_gguf_arr_elem(c, &a, 0).v.arr;
        CHECK(e0.count == 2 && lb_gguf_arr_elem(c, &e0, 1).v.i16 == -2);
    }
    const struct lb_gguf_tensor *t = lb_gguf_find_tensor(c, "blk.0.attn_q.weight");
    CHECK(t && t->type == LB_QTYPE_Q8_0 && t->size_bytes == 34 && t->offset == 32 &&
          ((const uint8_t *)t->data)[0] == 32 && ((const uint8_t *)t->data)[33] == 65);
    lb_gguf_close(c);
}

/* ---- writer misuse ------------------------------------------------------- */

static enum lb_status short_cb(void *user, int64_t i, const struct lb_gguf_tensor *t,
                               struct lb_gguf_sink *sink, struct lb_error *err)
{
    static uint8_t zeros[64];
    size_t n = (size_t)t->size_bytes - (user ? 1 : 0);
    (void)i;
    return lb_gguf_sink_write(sink, zeros, n, err);
}

static enum lb_status long_cb(void *user, int64_t i, const struct lb_gguf_tensor *t,
                              struct lb_gguf_sink *sink, struct lb_error *err)
{
    static uint8_t zeros[64];
    (void)user;
    (void)i;
    return lb_gguf_sink_write(sink, zeros, (size_t)t->size_bytes + 1, err);
}

/* Expects a writer that failed with fragment; nothing may be written. */
static void expect_write_fails(struct lb_gguf_writer *w, lb_gguf_data_fn fn, void *user,
                               const char *fragment, int line)
{
    char path[300];
    struct lb_error err = {0};
    snprintf(path, sizeof path, "%s/misuse.gguf", dir);
    int before = count_files();
    enum lb_status st = lb_gguf_writer_write(w, path, fn, user, &err);
    lb_test_checks++;
    if (st != LB_EINVAL || !strstr(err.msg, fragment))
        lb_test_fail(__FILE__, line, "status %d, message '%s', expected '%s'", st, err.msg, fragment);
    lb_test_checks++;
    if (count_files() != before) lb_test_fail(__FILE__, line, "a failed write left a file behind");
    lb_gguf_writer_free(w);
}

static struct lb_gguf_writer *new_writer(void)
{
    struct lb_gguf_writer *w = NULL;
    struct lb_error err;
    LB_ASSERT(lb_gguf_writer_new(&w, &err) == LB_OK);
    return w;
}

static void test_writer_misuse(void)
{
    static const int64_t ne8[] = {8}, ne33[] = {33}, ne32[] = {32};
    static const float f8[8];
    struct lb_gguf_writer *w;
    char name64[65];
    memset(name64, 'n', 64);
    name64[64] = '\0';

    w = new_writer();
    lb_gguf_writer_add_u8(w, "a", 1);
    CHECK_INT_EQ(lb_gguf_writer_add_u8(w, "a", 2), LB_EINVAL);
    CHECK_INT_EQ(lb_gguf_writer_add_u8(w, "b", 2), LB_EINVAL); /* sticky */
    expect_write_fails(w, NULL, NULL, "duplicate key 'a'", __LINE__);

    w = new_writer();
    CHECK_INT_EQ(lb_gguf_writer_add_u32(w, "general.alignment", 3), LB_EINVAL);
    expect_write_fails(w, NULL, NULL, "general.alignment 3 is not a non-zero power of 2", __LINE__);
    w = new_writer();
    lb_gguf_writer_add_u32(w, "general.alignment", 0);
    expect_write_fails(w, NULL, NULL, "general.alignment 0 is not", __LINE__);
    w = new_writer();
    lb_gguf_writer_add_u64(w, "general.alignment", 64);
    expect_write_fails(w, NULL, NULL, "general.alignment must be u32, not u64", __LINE__);

    w = new_writer();
    lb_gguf_writer_add_tensor(w, name64, LB_QTYPE_F32, 1, ne8, f8);
    expect_write_fails(w, NULL, NULL, "is 64 bytes; must be < 64", __LINE__);
    w = new_writer();
    lb_gguf_writer_add_tensor(w, "w", LB_QTYPE_Q4_0, 1, ne33, NULL);
    expect_write_fails(w, NULL, NULL, "ne[0] = 33 is not a multiple of the block size 32 of Q4_0", __LINE__);
    w = new_writer();
    lb_gguf_writer_add_tensor(w, "w", (enum lb_qtype)4, 1, ne32, NULL);
    expect_write_fails(w, NULL, NULL, "unknown type id 4", __LINE__);
    w = new_writer();
    lb_gguf_writer_add_tensor(w, "w", LB_QTYPE_F32, 1, ne8, f8);
    lb_gguf_writer_add_tensor(w, "w", LB_QTYPE_F32, 1, ne8, f8);
    expect_write_fails(w, NULL, NULL, "duplicate tensor name 'w'", __LINE__);
    w = new_writer();
    lb_gguf_writer_add_tensor(w, "w", LB_QTYPE_F32, 5, ne8, f8);
    expect_write_fails(w, NULL, NULL, "n_dims 5", __LINE__);

    w = new_writer();
    lb_gguf_writer_arr_begin(w, "arr", LB_GGUF_U32, 2);
    lb_gguf_writer_add_u32(w, NULL, 1);
    expect_write_fails(w, NULL, NULL, "1 array(s) still open", __LINE__);
    w = new_writer();
    lb_gguf_writer_arr_begin(w, "arr", LB_GGUF_U32, 2);
    lb_gguf_writer_add_u32(w, NULL, 1);
    lb_gguf_writer_arr_end(w);
    expect_write_fails(w, NULL, NULL, "array closed with 1 of its 2 elements", __LINE__);
    w = new_writer();
    lb_gguf_writer_arr_begin(w, "arr", LB_GGUF_U32, 1);
    lb_gguf_writer_add_i32(w, NULL, 1);
    expect_write_fails(w, NULL, NULL, "i32 element added to an array of u32", __LINE__);
    w = new_writer();
    lb_gguf_writer_arr_begin(w, "arr", LB_GGUF_U32, 1);
    lb_gguf_writer_add_u32(w, "k", 1);
    expect_write_fails(w, NULL, NULL, "key 'k' given inside an open array", __LINE__);
    w = new_writer();
    lb_gguf_writer_arr_begin(w, "arr", LB_GGUF_U32, 1);
    lb_gguf_writer_add_u32(w, NULL, 1);
    lb_gguf_writer_add_u32(w, NULL, 2);
    expect_write_fails(w, NULL, NULL, "more than the 1 declared elements", __LINE__);
    w = new_writer();
    lb_gguf_writer_add_u32(w, NULL, 2);
    expect_write_fails(w, NULL, NULL, "NULL key outside an array", __LINE__);
    w = new_writer();
    for (int d = 0; d < 9; d++) lb_gguf_writer_arr_begin(w, d ? NULL : "deep", LB_GGUF_ARR, 1);
    expect_write_fails(w, NULL, NULL, "arrays nest deeper than 8", __LINE__);

    /* streamed tensors: missing callback, too few bytes, too many */
    w = new_writer();
    lb_gguf_writer_add_tensor(w, "w", LB_QTYPE_F32, 1, ne8, NULL);
    expect_write_fails(w, NULL, NULL, "tensor 'w' has no data and no data callback", __LINE__);
    w = new_writer();
    lb_gguf_writer_add_tensor(w, "w", LB_QTYPE_F32, 1, ne8, NULL);
    expect_write_fails(w, short_cb, (void *)1, "data callback wrote 31 of the 32 bytes of tensor 'w'", __LINE__);
    w = new_writer();
    lb_gguf_writer_add_tensor(w, "w", LB_QTYPE_F32, 1, ne8, NULL);
    expect_write_fails(w, long_cb, NULL, "wrote 33 bytes to tensor 'w', 1 more than its size", __LINE__);

    /* a failed write over an existing file leaves that file as it was */
    char path[300];
    struct lb_error err = {0};
    snprintf(path, sizeof path, "%s/keep.gguf", dir);
    w = new_writer();
    lb_gguf_writer_add_str(w, "general.architecture", "llama");
    lb_gguf_writer_add_tensor(w, "w", LB_QTYPE_F32, 1, ne8, NULL);
    CHECK_MSG(lb_gguf_writer_write(w, path, short_cb, NULL, &err) == LB_OK, "%s", err.msg);
    size_t n0 = 0, n1 = 0;
    uint8_t *before = read_whole(path, &n0);
    CHECK_INT_EQ(lb_gguf_writer_write(w, path, short_cb, (void *)1, &err), LB_EINVAL);
    lb_gguf_writer_free(w);
    uint8_t *after = read_whole(path, &n1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
    CHECK_INT_EQ(count_files(), 1);
    free(before);
    free(after);
    unlink(path);
    /* an unwritable target fails before any data is produced */
    w = new_writer();
    CHECK(lb_gguf_writer_write(w, "/nonexistent-dir/x.gguf", NULL, NULL, &err) != LB_OK);
    lb_gguf_writer_free(w);
}

int main(void)
{
    rng = lb_test_seed();
    snprintf(dir, sizeof dir, "/tmp/lb-test-gguf.XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    LB_RUN(test_hand_assembled);
    LB_RUN(test_corpus);
    LB_RUN(test_roundtrip);
    LB_RUN(test_truncation);
    LB_RUN(test_writer_misuse);
    for (size_t k = 0; k < LB_ARRAY_LEN(specs); k++) free(specs[k].bytes);
    cleanup_dir();
    return lb_test_finish();
}
