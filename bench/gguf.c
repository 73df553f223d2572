/* gguf.c: the GGUF reader (lb-gguf.h): memory-mapped, every field checked
 * before it is used.
 *
 * Workload assumptions: a model file is opened once per run and may be
 * tens of GB, so nothing of it is copied: strings, arrays and tensor data
 * are views into the read-only mapping. Metadata is parsed once, in one
 * forward pass, into a table of decoded values; arrays of variable-size
 * elements (strings, nested arrays) get an index of element offsets so a
 * 256k-token vocabulary is random-access. Keys and tensor names are
 * hashed, which also finds duplicates in linear time.
 *
 * The input is untrusted (a file from the internet, or the fuzzer). The
 * rule: every read goes through `need`, which compares the byte count with
 * what is left of the file *before* touching memory; every count is
 * compared with the bytes left divided by its element's minimum encoded
 * size before it is used to allocate or multiply, so no arithmetic on a
 * file value can overflow. Every message names the file, the item (key i
 * 'name' / tensor i 'name'), the field and its byte offset.
 */
#include "lb-gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_BYTES 24u   /* magic, version, n_tensors, n_kv */
/* Smallest encodings, for bounding counts by the bytes left: */
#define MIN_KV_BYTES 13u     /* key length u64 + empty key + type u32 + a 1-byte value */
#define MIN_TINFO_BYTES 24u  /* name length u64 + empty name + n_dims + type + offset */
#define MIN_STR_BYTES 8u     /* length u64 + no bytes */
#define MIN_ARR_BYTES 12u    /* element type u32 + count u64 + no elements */

/* One key/value: the key as a view, where it is, its decoded value. */
struct kv_rec {
    struct lb_gguf_str key;
    uint64_t key_pos;          /* file offset of the key's length field */
    struct lb_gguf_value val;
};

struct lb_gguf_ctx {
    const uint8_t *base;  /* the mapping (or borrowed buffer) */
    uint64_t size;        /* bytes */
    bool mapped;          /* munmap on close */
    char *name;           /* file name for messages (owned) */
    uint32_t version;
    uint32_t alignment;   /* bytes, power of 2 */
    uint64_t data_offset; /* file offset of the data section */

    int64_t n_kv;
    struct kv_rec *kv;          /* [n_kv] */
    int64_t n_tensors;
    struct lb_gguf_tensor *tensors; /* [n_tensors] */

    /* Element index of arrays of STR (one slot per element: the file
     * offset of its length field) and arrays of ARR (two per element: the
     * file offset of its header, and its own first index slot). */
    uint64_t *index;
    uint64_t n_index, cap_index;

    /* Open addressing, linear probing; entries are item index + 1, 0 is
     * empty; size a power of 2 >= 2x the items. */
    uint32_t *kv_hash, *t_hash;
    uint64_t kv_mask, t_mask;
};

/* ---- small helpers --------------------------------------------------- */

static const uint8_t empty_file[1];

static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t ld64(const uint8_t *p) { return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32; }

static uint64_t fnv1a(const void *p, uint64_t n)
{
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_cap(uint64_t n)
{
    uint64_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    return cap;
}

/* Printable copy of file bytes for a message: non-printing bytes become
 * '?', long strings are cut with "...". */
static const char *printable(char *buf, size_t cap, const char *p, uint64_t len)
{
    size_t keep = cap - 4, o = 0;
    for (uint64_t i = 0; i < len && o < keep; i++) {
        unsigned char ch = (unsigned char)p[i];
        buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (len > keep) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

const char *lb_gguf_type_name(enum lb_gguf_type t)
{
    static const char *const names[LB_GGUF_TYPE_COUNT] = {
        [LB_GGUF_U8] = "u8",   [LB_GGUF_I8] = "i8",     [LB_GGUF_U16] = "u16",
        [LB_GGUF_I16] = "i16", [LB_GGUF_U32] = "u32",   [LB_GGUF_I32] = "i32",
        [LB_GGUF_F32] = "f32", [LB_GGUF_BOOL] = "bool", [LB_GGUF_STR] = "str",
        [LB_GGUF_ARR] = "arr", [LB_GGUF_U64] = "u64",   [LB_GGUF_I64] = "i64",
        [LB_GGUF_F64] = "f64",
    };
    return (unsigned)t < LB_GGUF_TYPE_COUNT ? names[t] : "invalid";
}

size_t lb_gguf_type_size(enum lb_gguf_type t)
{
    static const uint8_t sizes[LB_GGUF_TYPE_COUNT] = {
        [LB_GGUF_U8] = 1,  [LB_GGUF_I8] = 1,  [LB_GGUF_U16] = 2, [LB_GGUF_I16] = 2,
        [LB_GGUF_U32] = 4, [LB_GGUF_I32] = 4, [LB_GGUF_F32] = 4, [LB_GGUF_BOOL] = 1,
        [LB_GGUF_STR] = 0, [LB_GGUF_ARR] = 0, [LB_GGUF_U64] = 8, [LB_GGUF_I64] = 8,
        [LB_GGUF_F64] = 8,
    };
    return (unsigned)t < LB_GGUF_TYPE_COUNT ? sizes[t] : 0;
}

bool lb_gguf_str_copy(struct lb_gguf_str s, char *buf, size_t cap)
{
    if (cap == 0) return s.len == 0;
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    if (n) memcpy(buf, s.ptr, n);
    buf[n] = '\0';
    return n == s.len;
}

bool lb_gguf_str_eq(struct lb_gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

/* Decodes a fixed-size scalar of type t at p (bounds already checked). */
static void decode_scalar(enum lb_gguf_type t, const uint8_t *p, struct lb_gguf_value *v)
{
    uint32_t u32;
    uint64_t u64;
    v->type = t;
    switch (t) {
    case LB_GGUF_U8: v->v.u8 = p[0]; break;
    case LB_GGUF_I8: v->v.i8 = (int8_t)p[0]; break;
    case LB_GGUF_U16: v->v.u16 = ld16(p); break;
    case LB_GGUF_I16: v->v.i16 = (int16_t)ld16(p); break;
    case LB_GGUF_U32: v->v.u32 = ld32(p); break;
    case LB_GGUF_I32: v->v.i32 = (int32_t)ld32(p); break;
    case LB_GGUF_F32: u32 = ld32(p); memcpy(&v->v.f32, &u32, 4); break;
    case LB_GGUF_BOOL: v->v.b = p[0] != 0; break;
    case LB_GGUF_U64: v->v.u64 = ld64(p); break;
    case LB_GGUF_I64: v->v.i64 = (int64_t)ld64(p); break;
    case LB_GGUF_F64: u64 = ld64(p); memcpy(&v->v.f64, &u64, 8); break;
    default: LB_ASSERT(!"not a fixed-size type");
    }
}

/* ---- the parser ------------------------------------------------------ */

struct rd {
    struct lb_gguf_ctx *c;
    const uint8_t *p;
    uint64_t size, pos;
    struct lb_error *err;
    char item[160]; /* "key 3 'general.name'", "tensor 0 'x'", "header" */
};

static enum lb_status fail(struct rd *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum lb_status fail(struct rd *r, const char *fmt, ...)
{
    char detail[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return lb_error_set(r->err, LB_EINVAL, "%s: %s: %s", r->c->name, r->item, detail);
}

/* n bytes of `field` at r->pos must be inside the file. */
static enum lb_status need(struct rd *r, uint64_t n, const char *field)
{
    if (n > r->size - r->pos)
        return fail(r, "%s at byte %llu (%llu bytes) runs past the end of the file (%llu bytes)",
                    field, (unsigned long long)r->pos, (unsigned long long)n,
                    (unsigned long long)r->size);
    return LB_OK;
}

static enum lb_status rd_u32(struct rd *r, const char *field, uint32_t *v)
{
    enum lb_status st = need(r, 4, field);
    if (st) return st;
    *v = ld32(r->p + r->pos);
    r->pos += 4;
    return LB_OK;
}

static enum lb_status rd_u64(struct rd *r, const char *field, uint64_t *v)
{
    enum lb_status st = need(r, 8, field);
    if (st) return st;
    *v = ld64(r->p + r->pos);
    r->pos += 8;
    return LB_OK;
}

/* A string: u64 length (<= max_len), then the bytes, all inside the file. */
static enum lb_status rd_str(struct rd *r, const char *field, uint64_t max_len,
                             struct lb_gguf_str *s)
{
    uint64_t at = r->pos, len;
    /* the length field by hand: `need` would want "<field> length" built
     * for every string of a 256k-entry vocabulary */
    if (8 > r->size - r->pos)
        return fail(r, "%s length at byte %llu (8 bytes) runs past the end of the file (%llu bytes)",
                    field, (unsigned long long)at, (unsigned long long)r->size);
    len = ld64(r->p + r->pos);
    r->pos += 8;
    if (len > r->size - r->pos)
        return fail(r, "%s length %llu at byte %llu exceeds the %llu bytes left in the file (%llu bytes)",
                    field, (unsigned long long)len, (unsigned long long)at,
                    (unsigned long long)(r->size - r->pos), (unsigned long long)r->size);
    if (len > max_len)
        return fail(r, "%s length %llu at byte %llu exceeds the limit of %llu", field,
                    (unsigned long long)len, (unsigned long long)at, (unsigned long long)max_len);
    s->ptr = (const char *)r->p + r->pos;
    s->len = len;
    r->pos += len;
    return LB_OK;
}

/* Reserves n contiguous index slots; returns the first in *first. */
static enum lb_status index_reserve(struct rd *r, uint64_t n, uint64_t at, uint64_t *first)
{
    struct lb_gguf_ctx *c = r->c;
    if (n > LB_GGUF_MAX_INDEX_SLOTS - c->n_index)
        return fail(r, "array at byte %llu: more than %u string/array elements in all arrays",
                    (unsigned long long)at, LB_GGUF_MAX_INDEX_SLOTS);
    if (c->n_index + n > c->cap_index) {
        uint64_t cap = c->cap_index ? c->cap_index : 256;
        while (cap < c->n_index + n) cap *= 2;
        uint64_t *p = realloc(c->index, cap * sizeof *p);
        if (!p)
            return lb_error_set(r->err, LB_ENOMEM, "%s: out of memory indexing arrays",
                                c->name);
        c->index = p;
        c->cap_index = cap;
    }
    *first = c->n_index;
    c->n_index += n;
    return LB_OK;
}

/* Parses one value of type t at r->pos; depth = arrays already open. */
static enum lb_status parse_value(struct rd *r, enum lb_gguf_type t, int depth,
                                  struct lb_gguf_value *v)
{
    enum lb_status st;
    size_t esize = lb_gguf_type_size(t);
    memset(v, 0, sizeof *v);
    v->type = t;
    if (esize) {
        if (esize > r->size - r->pos)
            return fail(r, "%s value at byte %llu (%zu bytes) runs past the end of the file "
                        "(%llu bytes)", lb_gguf_type_name(t), (unsigned long long)r->pos, esize,
                        (unsigned long long)r->size);
        decode_scalar(t, r->p + r->pos, v);
        r->pos += esize;
        return LB_OK;
    }
    if (t == LB_GGUF_STR) return rd_str(r, "string", UINT64_MAX, &v->v.str);
    LB_ASSERT(t == LB_GGUF_ARR);

    uint64_t at = r->pos, count;
    uint32_t et;
    if (depth + 1 > LB_GGUF_MAX_DEPTH)
        return fail(r, "array at byte %llu nests deeper than %d levels",
                    (unsigned long long)at, LB_GGUF_MAX_DEPTH);
    if ((st = rd_u32(r, "array element type", &et))) return st;
    if (et >= LB_GGUF_TYPE_COUNT)
        return fail(r, "array element type %u at byte %llu is not a GGUF value type (0..12)",
                    et, (unsigned long long)at);
    if ((st = rd_u64(r, "array count", &count))) return st;
    struct lb_gguf_array *a = &v->v.arr;
    a->elem_type = (enum lb_gguf_type)et;
    a->count = count;
    a->data = r->p + r->pos;
    a->elem_size = lb_gguf_type_size(a->elem_type);
    a->index = r->c->n_index;

    uint64_t left = r->size - r->pos;
    uint64_t min_elem = a->elem_size ? a->elem_size
                        : et == LB_GGUF_STR ? MIN_STR_BYTES : MIN_ARR_BYTES;
    if (count > left / min_elem)
        return fail(r, "array count %llu at byte %llu (%s elements, %s%llu bytes each) exceeds "
                    "the %llu bytes left in the file (%llu bytes)",
                    (unsigned long long)count, (unsigned long long)(at + 4),
                    lb_gguf_type_name(a->elem_type), a->elem_size ? "" : "at least ",
                    (unsigned long long)min_elem, (unsigned long long)left,
                    (unsigned long long)r->size);
    if (a->elem_size) {
        r->pos += count * a->elem_size; /* no overflow: count <= left / elem_size */
        return LB_OK;
    }
    if (et == LB_GGUF_STR) {
        if ((st = index_reserve(r, count, at, &a->index))) return st;
        for (uint64_t j = 0; j < count; j++) {
            struct lb_gguf_str s;
            r->c->index[a->index + j] = r->pos;
            if ((st = rd_str(r, "array string", UINT64_MAX, &s))) return st;
        }
        return LB_OK;
    }
    /* Arrays of arrays: two slots per element, reserved before the
     * elements reserve theirs. */
    if ((st = index_reserve(r, 2 * count, at, &a->index))) return st;
    for (uint64_t j = 0; j < count; j++) {
        struct lb_gguf_value sub;
        r->c->index[a->index + 2 * j] = r->pos;
        if ((st = parse_value(r, LB_GGUF_ARR, depth + 1, &sub))) return st;
        r->c->index[a->index + 2 * j + 1] = sub.v.arr.index;
    }
    return LB_OK;
}

/* Hash lookups: the item index, or -1 when absent. The tables always have
 * empty slots (size >= 2x items), so a probe ends. */
static int64_t kv_lookup(const struct lb_gguf_ctx *c, const char *p, uint64_t len)
{
    if (!c->kv_hash) return -1;
    for (uint64_t h = fnv1a(p, len) & c->kv_mask;; h = (h + 1) & c->kv_mask) {
        uint32_t e = c->kv_hash[h];
        if (!e) return -1;
        const struct kv_rec *k = &c->kv[e - 1];
        if (k->key.len == len && (len == 0 || memcmp(k->key.ptr, p, len) == 0)) return e - 1;
    }
}

static void kv_insert(struct lb_gguf_ctx *c, int64_t i)
{
    const struct kv_rec *k = &c->kv[i];
    uint64_t h = fnv1a(k->key.ptr, k->key.len) & c->kv_mask;
    while (c->kv_hash[h]) h = (h + 1) & c->kv_mask;
    c->kv_hash[h] = (uint32_t)(i + 1);
}

static int64_t t_lookup(const struct lb_gguf_ctx *c, const char *name, size_t len)
{
    if (!c->t_hash) return -1;
    for (uint64_t h = fnv1a(name, len) & c->t_mask;; h = (h + 1) & c->t_mask) {
        uint32_t e = c->t_hash[h];
        if (!e) return -1;
        const char *n = c->tensors[e - 1].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) return e - 1;
    }
}

static void t_insert(struct lb_gguf_ctx *c, int64_t i)
{
    const char *n = c->tensors[i].name;
    uint64_t h = fnv1a(n, strlen(n)) & c->t_mask;
    while (c->t_hash[h]) h = (h + 1) & c->t_mask;
    c->t_hash[h] = (uint32_t)(i + 1);
}

static enum lb_status parse_header(struct rd *r, uint64_t *n_tensors, uint64_t *n_kv)
{
    enum lb_status st;
    uint32_t magic, version;
    snprintf(r->item, sizeof r->item, "header");
    if ((st = need(r, 4, "magic"))) return st;
    if (memcmp(r->p, "GGUF", 4) != 0) {
        char m[8];
        printable(m, sizeof m, (const char *)r->p, 4);
        return fail(r, "bad magic '%s' at byte 0 (expected \"GGUF\"): not a GGUF file", m);
    }
    if ((st = rd_u32(r, "magic", &magic))) return st;
    if ((st = rd_u32(r, "version", &version))) return st;
    if (version == 1)
        return fail(r, "version 1 at byte 4 is not supported (GGUFv1 has 32-bit counts; "
                    "versions 2 and 3 are read)");
    if (version < 2 || version > 3)
        return fail(r, "version %u at byte 4 is not supported (versions 2 and 3 are read%s)",
                    version, (version & 0xffffu) == 0 ? "; a big-endian file?" : "");
    r->c->version = version;
    if ((st = rd_u64(r, "n_tensors", n_tensors))) return st;
    if ((st = rd_u64(r, "n_kv", n_kv))) return st;
    uint64_t left = r->size - r->pos;
    if (*n_tensors > LB_GGUF_MAX_TENSORS)
        return fail(r, "n_tensors %llu at byte 8 exceeds the limit of %u",
                    (unsigned long long)*n_tensors, LB_GGUF_MAX_TENSORS);
    if (*n_kv > LB_GGUF_MAX_KV)
        return fail(r, "n_kv %llu at byte 16 exceeds the limit of %u",
                    (unsigned long long)*n_kv, LB_GGUF_MAX_KV);
    /* both <= 2^20: the products cannot overflow */
    if (*n_tensors * MIN_TINFO_BYTES + *n_kv * MIN_KV_BYTES > left)
        return fail(r, "n_tensors %llu (byte 8) and n_kv %llu (byte 16) need at least %llu bytes "
                    "but the file has %llu after the header",
                    (unsigned long long)*n_tensors, (unsigned long long)*n_kv,
                    (unsigned long long)(*n_tensors * MIN_TINFO_BYTES + *n_kv * MIN_KV_BYTES),
                    (unsigned long long)left);
    return LB_OK;
}

static enum lb_status parse_kvs(struct rd *r)
{
    struct lb_gguf_ctx *c = r->c;
    enum lb_status st;
    char kb[72];
    for (int64_t i = 0; i < c->n_kv; i++) {
        struct kv_rec *k = &c->kv[i];
        uint32_t type;
        k->key_pos = r->pos;
        snprintf(r->item, sizeof r->item, "key %lld", (long long)i);
        if ((st = rd_str(r, "key", LB_GGUF_MAX_KEY, &k->key))) return st;
        printable(kb, sizeof kb, k->key.ptr, k->key.len);
        if (k->key.len && memchr(k->key.ptr, '\0', k->key.len))
            return fail(r, "key '%s' at byte %llu contains a NUL byte", kb,
                        (unsigned long long)k->key_pos);
        snprintf(r->item, sizeof r->item, "key %lld '%s'", (long long)i, kb);
        int64_t dup = kv_lookup(c, k->key.ptr, k->key.len);
        if (dup >= 0)
            return fail(r, "key at byte %llu duplicates key %lld (byte %llu)",
                        (unsigned long long)k->key_pos, (long long)dup,
                        (unsigned long long)c->kv[dup].key_pos);
        kv_insert(c, i);
        uint64_t type_at = r->pos;
        if ((st = rd_u32(r, "value type", &type))) return st;
        if (type >= LB_GGUF_TYPE_COUNT)
            return fail(r, "value type %u at byte %llu is not a GGUF value type (0..12)", type,
                        (unsigned long long)type_at);
        if ((st = parse_value(r, (enum lb_gguf_type)type, 0, &k->val))) return st;
    }
    /* the alignment, needed before the tensor infos are checked */
    c->alignment = LB_GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = kv_lookup(c, "general.alignment", strlen("general.alignment"));
    if (ai >= 0) {
        const struct kv_rec *k = &c->kv[ai];
        snprintf(r->item, sizeof r->item, "key %lld 'general.alignment'", (long long)ai);
        if (k->val.type != LB_GGUF_U32)
            return fail(r, "type %s (key at byte %llu) must be u32",
                        lb_gguf_type_name(k->val.type), (unsigned long long)k->key_pos);
        uint32_t a = k->val.v.u32;
        if (a == 0 || (a & (a - 1)) != 0)
            return fail(r, "alignment %u (key at byte %llu) is not a non-zero power of 2", a,
                        (unsigned long long)k->key_pos);
        c->alignment = a;
    }
    return LB_OK;
}

static enum lb_status parse_tensor_info(struct rd *r, int64_t i, struct lb_gguf_tensor *t)
{
    struct lb_gguf_ctx *c = r->c;
    enum lb_status st;
    struct lb_gguf_str name;
    char nb[72];
    t->info_pos = r->pos;
    snprintf(r->item, sizeof r->item, "tensor %lld", (long long)i);
    if ((st = rd_str(r, "name", UINT64_MAX, &name))) return st;
    printable(nb, sizeof nb, name.ptr, name.len);
    if (name.len >= LB_GGUF_MAX_NAME)
        return fail(r, "name '%s' at byte %llu is %llu bytes; names must be < %d bytes (ggml's limit)",
                    nb, (unsigned long long)t->info_pos, (unsigned long long)name.len,
                    LB_GGUF_MAX_NAME);
    if (name.len && memchr(name.ptr, '\0', name.len))
        return fail(r, "name '%s' at byte %llu contains a NUL byte", nb,
                    (unsigned long long)t->info_pos);
    lb_gguf_str_copy(name, t->name, sizeof t->name);
    snprintf(r->item, sizeof r->item, "tensor %lld '%s'", (long long)i, nb);
    int64_t dup = t_lookup(c, t->name, name.len);
    if (dup >= 0)
        return fail(r, "name at byte %llu duplicates tensor %lld (byte %llu)",
                    (unsigned long long)t->info_pos, (long long)dup,
                    (unsigned long long)c->tensors[dup].info_pos);
    t_insert(c, i);

    uint64_t at = r->pos;
    if ((st = rd_u32(r, "n_dims", &t->n_dims))) return st;
    if (t->n_dims > LB_GGUF_MAX_DIMS)
        return fail(r, "n_dims %u at byte %llu exceeds %d", t->n_dims, (unsigned long long)at,
                    LB_GGUF_MAX_DIMS);
    int64_t n_elems = 1;
    for (int d = 0; d < LB_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        at = r->pos;
        if ((st = rd_u64(r, "dimension", &ne))) return st;
        if (ne == 0)
            return fail(r, "dimension %u at byte %llu is 0", d, (unsigned long long)at);
        if (ne > (uint64_t)INT64_MAX / (uint64_t)n_elems)
            return fail(r, "dimension %u = %llu at byte %llu makes the element count overflow int64",
                        d, (unsigned long long)ne, (unsigned long long)at);
        t->ne[d] = (int64_t)ne;
        n_elems *= (int64_t)ne;
    }

    uint32_t type;
    at = r->pos;
    if ((st = rd_u32(r, "type", &type))) return st;
    const struct lb_qtraits *q = type < LB_QTYPE_COUNT ? lb_qtraits_get((enum lb_qtype)type) : NULL;
    if (!q)
        return fail(r, "unknown tensor type id %u at byte %llu", type, (unsigned long long)at);
    t->type = (enum lb_qtype)type;
    if (t->ne[0] % q->block_elems != 0)
        return fail(r, "ne[0] = %lld (byte %llu) is not a multiple of the block size %d of %s",
                    (long long)t->ne[0], (unsigned long long)(t->info_pos + 8 + name.len + 4),
                    q->block_elems, q->ggml_name);
    /* bytes = (ne0 / block) * block_bytes * ne1 * ne2 * ne3, checked */
    uint64_t bytes = (uint64_t)(t->ne[0] / q->block_elems);
    bool over = bytes > UINT64_MAX / (uint64_t)q->block_bytes;
    for (int d = 1; d < LB_GGUF_MAX_DIMS && !over; d++) {
        uint64_t row = d == 1 ? bytes * (uint64_t)q->block_bytes : bytes;
        over = row > UINT64_MAX / (uint64_t)t->ne[d];
        bytes = row * (uint64_t)t->ne[d];
    }
    if (over)
        return fail(r, "byte size of shape [%lld, %lld, %lld, %lld] of %s overflows 64 bits",
                    (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                    (long long)t->ne[3], q->ggml_name);
    /* the project's formula, now known not to overflow */
    t->size_bytes = (uint64_t)lb_qtype_row_bytes(t->type, t->ne[0]) *
                    (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
    LB_ASSERT(t->size_bytes == bytes);
    if ((st = rd_u64(r, "offset", &t->offset))) return st;
    return LB_OK;
}

/* Checks each tensor's offset and data range against the data section. */
static enum lb_status check_tensor_data(struct rd *r, int64_t i, struct lb_gguf_tensor *t)
{
    struct lb_gguf_ctx *c = r->c;
    char nb[72];
    uint64_t off_at = t->info_pos + 8 + strlen(t->name) + 4 + 8ull * t->n_dims + 4;
    snprintf(r->item, sizeof r->item, "tensor %lld '%s'", (long long)i,
             printable(nb, sizeof nb, t->name, strlen(t->name)));
    if (t->offset % c->alignment != 0)
        return fail(r, "offset %llu (field at byte %llu) is not a multiple of the alignment %u",
                    (unsigned long long)t->offset, (unsigned long long)off_at, c->alignment);
    uint64_t avail = c->size - c->data_offset;
    if (t->offset > avail)
        return fail(r, "offset %llu (field at byte %llu) is past the end of the file (%llu bytes; "
                    "data section at byte %llu)",
                    (unsigned long long)t->offset, (unsigned long long)off_at,
                    (unsigned long long)c->size, (unsigned long long)c->data_offset);
    if (t->size_bytes > avail - t->offset)
        return fail(r, "data [%llu, +%llu) runs past the end of the file (%llu bytes)",
                    (unsigned long long)(c->data_offset + t->offset),
                    (unsigned long long)t->size_bytes, (unsigned long long)c->size);
    t->data = c->base + c->data_offset + t->offset;
    return LB_OK;
}

static enum lb_status parse(struct lb_gguf_ctx *c, struct lb_error *err)
{
    struct rd r = {.c = c, .p = c->base, .size = c->size, .pos = 0, .err = err};
    uint64_t n_tensors, n_kv;
    enum lb_status st = parse_header(&r, &n_tensors, &n_kv);
    if (st) return st;
    c->n_kv = (int64_t)n_kv;
    c->n_tensors = (int64_t)n_tensors;
    c->kv = calloc(n_kv ? n_kv : 1, sizeof *c->kv);
    c->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *c->tensors);
    c->kv_mask = hash_cap(n_kv) - 1;
    c->t_mask = hash_cap(n_tensors) - 1;
    c->kv_hash = calloc(c->kv_mask + 1, sizeof *c->kv_hash);
    c->t_hash = calloc(c->t_mask + 1, sizeof *c->t_hash);
    if (!c->kv || !c->tensors || !c->kv_hash || !c->t_hash)
        return lb_error_set(err, LB_ENOMEM, "%s: out of memory for %llu keys and %llu tensors",
                            c->name, (unsigned long long)n_kv, (unsigned long long)n_tensors);
    if ((st = parse_kvs(&r))) return st;
    for (int64_t i = 0; i < c->n_tensors; i++)
        if ((st = parse_tensor_info(&r, i, &c->tensors[i]))) return st;

    /* data section: the end of the infos rounded up to the alignment */
    uint64_t info_end = r.pos, a = c->alignment;
    c->data_offset = info_end + (a - info_end % a) % a; /* info_end <= size: no overflow */
    if (c->data_offset > c->size) {
        snprintf(r.item, sizeof r.item, "data section");
        return fail(&r, "starts at byte %llu (tensor infos end at byte %llu, aligned to %u), "
                    "past the end of the file (%llu bytes)",
                    (unsigned long long)c->data_offset, (unsigned long long)info_end,
                    c->alignment, (unsigned long long)c->size);
    }
    for (int64_t i = 0; i < c->n_tensors; i++)
        if ((st = check_tensor_data(&r, i, &c->tensors[i]))) return st;
    return LB_OK;
}

static enum lb_status open_common(const uint8_t *base, uint64_t size, bool mapped,
                                  const char *name, struct lb_gguf_ctx **out,
                                  struct lb_error *err)
{
    struct lb_gguf_ctx *c = calloc(1, sizeof *c);
    char *n = strdup(name ? name : "(memory)");
    if (!c || !n) {
        free(c);
        free(n);
        if (mapped) munmap((void *)base, size);
        return lb_error_set(err, LB_ENOMEM, "out of memory opening %s", name ? name : "(memory)");
    }
    c->base = base;
    c->size = size;
    c->mapped = mapped;
    c->name = n;
    enum lb_status st = parse(c, err);
    if (st) {
        lb_gguf_close(c);
        return st;
    }
    *out = c;
    return LB_OK;
}

enum lb_status lb_gguf_open_memory(const void *buf, size_t size, const char *name,
                                   struct lb_gguf_ctx **out, struct lb_error *err)
{
    *out = NULL;
    return open_common(size ? buf : empty_file, size, false, name, out, err);
}

enum lb_status lb_gguf_open(const char *path, struct lb_gguf_ctx **out, struct lb_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lb_error_set(err, LB_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return lb_error_set(err, LB_EIO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lb_error_set(err, LB_EINVAL, "%s is not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) { /* mmap cannot map 0 bytes; the parser reports it */
        close(fd);
        return open_common(empty_file, 0, false, path, out, err);
    }
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) return lb_error_set(err, LB_EIO, "cannot map %s: %s", path, strerror(e));
    return open_common(m, size, true, path, out, err);
}

void lb_gguf_close(struct lb_gguf_ctx *c)
{
    if (!c) return;
    if (c->mapped) munmap((void *)c->base, (size_t)c->size);
    free(c->name);
    free(c->kv);
    free(c->tensors);
    free(c->index);
    free(c->kv_hash);
    free(c->t_hash);
    free(c);
}

/* ---- accessors -------------------------------------------------------- */

uint32_t lb_gguf_version(const struct lb_gguf_ctx *c) { return c->version; }
uint32_t lb_gguf_alignment(const struct lb_gguf_ctx *c) { return c->alignment; }
uint64_t lb_gguf_data_offset(const struct lb_gguf_ctx *c) { return c->data_offset; }
uint64_t lb_gguf_file_size(const struct lb_gguf_ctx *c) { return c->size; }
const void *lb_gguf_base(const struct lb_gguf_ctx *c) { return c->base; }
int64_t lb_gguf_n_kv(const struct lb_gguf_ctx *c) { return c->n_kv; }
int64_t lb_gguf_n_tensors(const struct lb_gguf_ctx *c) { return c->n_tensors; }

int64_t lb_gguf_find_key(const struct lb_gguf_ctx *c, const char *key)
{
    return kv_lookup(c, key, strlen(key));
}

struct lb_gguf_str lb_gguf_kv_key(const struct lb_gguf_ctx *c, int64_t i)
{
    LB_ASSERT(i >= 0 && i < c->n_kv);
    return c->kv[i].key;
}

struct lb_gguf_value lb_gguf_kv_value(const struct lb_gguf_ctx *c, int64_t i)
{
    LB_ASSERT(i >= 0 && i < c->n_kv);
    return c->kv[i].val;
}

struct lb_gguf_value lb_gguf_arr_elem(const struct lb_gguf_ctx *c, const struct lb_gguf_array *a,
                                      uint64_t i)
{
    struct lb_gguf_value v;
    memset(&v, 0, sizeof v);
    LB_ASSERT(i < a->count);
    if (a->elem_size) {
        decode_scalar(a->elem_type, (const uint8_t *)a->data + i * a->elem_size, &v);
        return v;
    }
    v.type = a->elem_type;
    if (a->elem_type == LB_GGUF_STR) {
        const uint8_t *p = c->base + c->index[a->index + i];
        v.v.str.len = ld64(p);
        v.v.str.ptr = (const char *)p + 8;
        return v;
    }
    LB_ASSERT(a->elem_type == LB_GGUF_ARR);
    const uint8_t *p = c->base + c->index[a->index + 2 * i];
    v.v.arr.elem_type = (enum lb_gguf_type)ld32(p);
    v.v.arr.count = ld64(p + 4);
    v.v.arr.data = p + 12;
    v.v.arr.elem_size = lb_gguf_type_size(v.v.arr.elem_type);
    v.v.arr.index = c->index[a->index + 2 * i + 1];
    return v;
}

enum lb_status lb_gguf_get_value(const struct lb_gguf_ctx *c, const char *key,
                                 struct lb_gguf_value *out, struct lb_error *err)
{
    int64_t i = lb_gguf_find_key(c, key);
    if (i < 0) return lb_error_set(err, LB_EINVAL, "%s: key '%s' not found", c->name, key);
    *out = c->kv[i].val;
    return LB_OK;
}

static enum lb_status get_typed(const struct lb_gguf_ctx *c, const char *key, enum lb_gguf_type t,
                                struct lb_gguf_value *v, struct lb_error *err)
{
    enum lb_status st = lb_gguf_get_value(c, key, v, err);
    if (st) return st;
    if (v->type != t)
        return lb_error_set(err, LB_EINVAL, "%s: key '%s' (byte %llu) is %s, not %s", c->name, key,
                            (unsigned long long)c->kv[lb_gguf_find_key(c, key)].key_pos,
                            lb_gguf_type_name(v->type), lb_gguf_type_name(t));
    return LB_OK;
}

#define LB_GGUF_GETTER(fname, ctype, gtype, field)                                        \
    enum lb_status fname(const struct lb_gguf_ctx *c, const char *key, ctype *out,        \
                         struct lb_error *err)                                            \
    {                                                                                     \
        struct lb_gguf_value v = {.type = LB_GGUF_TYPE_COUNT};                            \
        enum lb_status st = get_typed(c, key, gtype, &v, err);                            \
        if (st == LB_OK) *out = v.v.field;                                                \
        return st;                                                                        \
    }
LB_GGUF_GETTER(lb_gguf_get_u32, uint32_t, LB_GGUF_U32, u32)
LB_GGUF_GETTER(lb_gguf_get_i32, int32_t, LB_GGUF_I32, i32)
LB_GGUF_GETTER(lb_gguf_get_u64, uint64_t, LB_GGUF_U64, u64)
LB_GGUF_GETTER(lb_gguf_get_f32, float, LB_GGUF_F32, f32)
LB_GGUF_GETTER(lb_gguf_get_f64, double, LB_GGUF_F64, f64)
LB_GGUF_GETTER(lb_gguf_get_bool, bool, LB_GGUF_BOOL, b)
LB_GGUF_GETTER(lb_gguf_get_str, struct lb_gguf_str, LB_GGUF_STR, str)
#undef LB_GGUF_GETTER

enum lb_status lb_gguf_get_arr(const struct lb_gguf_ctx *c, const char *key,
                               enum lb_gguf_type elem_type, struct lb_gguf_array *out,
                               struct lb_error *err)
{
    struct lb_gguf_value v = {.type = LB_GGUF_TYPE_COUNT};
    enum lb_status st = get_typed(c, key, LB_GGUF_ARR, &v, err);
    if (st) return st;
    if (elem_type != LB_GGUF_ANY && v.v.arr.elem_type != elem_type)
        return lb_error_set(err, LB_EINVAL, "%s: key '%s' is an array of %s, not of %s", c->name,
                            key, lb_gguf_type_name(v.v.arr.elem_type),
                            lb_gguf_type_name(elem_type));
    *out = v.v.arr;
    return LB_OK;
}

const struct lb_gguf_tensor *lb_gguf_tensor(const struct lb_gguf_ctx *c, int64_t i)
{
    LB_ASSERT(i >= 0 && i < c->n_tensors);
    return &c->tensors[i];
}

const struct lb_gguf_tensor *lb_gguf_find_tensor(const struct lb_gguf_ctx *c, const char *name)
{
    int64_t i = t_lookup(c, name, strlen(name));
    return i < 0 ? NULL : &c->tensors[i];
}
