/* gguf-write.c: the GGUF v3 writer (lb-gguf.h).
 *
 * Workload assumptions: metadata is small (a vocabulary of a few MB at
 * most) and is serialized into memory as it is added; tensor data may be
 * many GB and is never held: each tensor's bytes come from the caller's
 * pointer or are streamed through the data callback into a 1 MiB write
 * buffer. The file is written to a temp file beside the target and renamed
 * into place (lb_outfile_*), so readers never see a half-written model.
 *
 * Layout written (what bench/gguf.c and ggml read): header, key/values,
 * tensor infos, zero padding to the alignment, then each tensor at the
 * next aligned offset, padded to the alignment after it (as ggml's writer
 * does, so offsets are the packed, ascending ones ggml's reader demands).
 */
#include "lb-gguf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../reports/lb-report.h"

/* add_arr copies host memory as the file's little-endian elements */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF writer assumes a little-endian host");
/* tensor sizes (u64) are passed to emit as size_t */
_Static_assert(sizeof(size_t) == 8, "GGUF writer assumes a 64-bit host");

#define WBUF_BYTES (1u << 20) /* write batching; large enough that syscalls are noise */

struct wframe {
    enum lb_gguf_type elem_type;
    uint64_t count, filled; /* elements declared / added so far */
};

struct wtensor {
    struct lb_gguf_tensor t; /* name, dims, type, size_bytes; offset set at write */
    const void *data;        /* caller's bytes, or NULL: streamed */
};

struct lb_gguf_writer {
    enum lb_status status;  /* first failure, sticky */
    struct lb_error err;
    uint8_t *meta;          /* serialized key/values */
    size_t meta_len, meta_cap;
    uint64_t n_kv;
    char **keys;            /* top-level keys, for duplicates (linear: few keys) */
    size_t keys_cap;
    struct wframe frames[LB_GGUF_MAX_DEPTH];
    int depth;              /* open arrays */
    uint32_t alignment;
    struct wtensor *tensors;
    int64_t n_tensors, tensors_cap;
};

static enum lb_status wfail(struct lb_gguf_writer *w, enum lb_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum lb_status wfail(struct lb_gguf_writer *w, enum lb_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err.msg, sizeof w->err.msg, fmt, ap);
    va_end(ap);
    w->err.status = s;
    w->status = s;
    return s;
}

enum lb_status lb_gguf_writer_new(struct lb_gguf_writer **out, struct lb_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return lb_error_set(err, LB_ENOMEM, "out of memory for a GGUF writer");
    (*out)->alignment = LB_GGUF_DEFAULT_ALIGNMENT;
    return LB_OK;
}

void lb_gguf_writer_free(struct lb_gguf_writer *w)
{
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    free(w->meta);
    free(w->tensors);
    free(w);
}

/* ---- metadata serialization ------------------------------------------ */

static enum lb_status put(struct lb_gguf_writer *w, const void *p, size_t n)
{
    if (n > w->meta_cap - w->meta_len) {
        size_t cap = w->meta_cap ? w->meta_cap : 4096;
        while (cap - w->meta_len < n) {
            if (cap > SIZE_MAX / 2) return wfail(w, LB_ENOMEM, "GGUF metadata too large");
            cap *= 2;
        }
        uint8_t *m = realloc(w->meta, cap);
        if (!m) return wfail(w, LB_ENOMEM, "out of memory for GGUF metadata (%zu bytes)", cap);
        w->meta = m;
        w->meta_cap = cap;
    }
    if (n) memcpy(w->meta + w->meta_len, p, n);
    w->meta_len += n;
    return LB_OK;
}

static void st32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}
static void st64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static enum lb_status put32(struct lb_gguf_writer *w, uint32_t v)
{
    uint8_t b[4];
    st32(b, v);
    return put(w, b, 4);
}
static enum lb_status put64(struct lb_gguf_writer *w, uint64_t v)
{
    uint8_t b[8];
    st64(b, v);
    return put(w, b, 8);
}
static enum lb_status put_str(struct lb_gguf_writer *w, const char *s, uint64_t len)
{
    enum lb_status st = put64(w, len);
    return st ? st : put(w, s, (size_t)len);
}

/* Starts a value of type t: at top level writes key and type (checking the
 * key), inside an array checks t against the element type and counts it. */
static enum lb_status begin_value(struct lb_gguf_writer *w, const char *key, enum lb_gguf_type t)
{
    if (w->status) return w->status;
    if (w->depth > 0) {
        struct wframe *f = &w->frames[w->depth - 1];
        if (key)
            return wfail(w, LB_EINVAL, "GGUF writer: key '%s' given inside an open array "
                         "(array elements take key NULL)", key);
        if (t != f->elem_type)
            return wfail(w, LB_EINVAL, "GGUF writer: %s element added to an array of %s",
                         lb_gguf_type_name(t), lb_gguf_type_name(f->elem_type));
        if (f->filled == f->count)
            return wfail(w, LB_EINVAL, "GGUF writer: more than the %llu declared elements "
                         "added to an array", (unsigned long long)f->count);
        f->filled++;
        return LB_OK;
    }
    if (!key) return wfail(w, LB_EINVAL, "GGUF writer: NULL key outside an array");
    size_t len = strlen(key);
    if (len > LB_GGUF_MAX_KEY)
        return wfail(w, LB_EINVAL, "GGUF writer: key of %zu bytes exceeds %u", len, LB_GGUF_MAX_KEY);
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0)
            return wfail(w, LB_EINVAL, "GGUF writer: duplicate key '%s'", key);
    if (strcmp(key, "general.alignment") == 0 && t != LB_GGUF_U32)
        return wfail(w, LB_EINVAL, "GGUF writer: general.alignment must be u32, not %s",
                     lb_gguf_type_name(t));
    if (w->n_kv == w->keys_cap) {
        size_t cap = w->keys_cap ? 2 * w->keys_cap : 32;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (!k) return wfail(w, LB_ENOMEM, "out of memory for GGUF keys");
        w->keys = k;
        w->keys_cap = cap;
    }
    char *copy = strdup(key);
    if (!copy) return wfail(w, LB_ENOMEM, "out of memory for GGUF keys");
    w->keys[w->n_kv++] = copy;
    enum lb_status st = put_str(w, key, len);
    return st ? st : put32(w, (uint32_t)t);
}

static enum lb_status add_fixed(struct lb_gguf_writer *w, const char *key, enum lb_gguf_type t,
                                uint64_t bits)
{
    uint8_t b[8];
    enum lb_status st = begin_value(w, key, t);
    if (st) return st;
    st64(b, bits);
    return put(w, b, lb_gguf_type_size(t));
}

enum lb_status lb_gguf_writer_add_u8(struct lb_gguf_writer *w, const char *key, uint8_t v)
{
    return add_fixed(w, key, LB_GGUF_U8, v);
}
enum lb_status lb_gguf_writer_add_i8(struct lb_gguf_writer *w, const char *key, int8_t v)
{
    return add_fixed(w, key, LB_GGUF_I8, (uint8_t)v);
}
enum lb_status lb_gguf_writer_add_u16(struct lb_gguf_writer *w, const char *key, uint16_t v)
{
    return add_fixed(w, key, LB_GGUF_U16, v);
}
enum lb_status lb_gguf_writer_add_i16(struct lb_gguf_writer *w, const char *key, int16_t v)
{
    return add_fixed(w, key, LB_GGUF_I16, (uint16_t)v);
}
enum lb_status lb_gguf_writer_add_u32(struct lb_gguf_writer *w, const char *key, uint32_t v)
{
    if (!w->status && key && strcmp(key, "general.alignment") == 0 && w->depth == 0) {
        if (v == 0 || (v & (v - 1)) != 0)
            return wfail(w, LB_EINVAL, "GGUF writer: general.alignment %u is not a non-zero "
                         "power of 2", v);
        enum lb_status st = add_fixed(w, key, LB_GGUF_U32, v);
        if (st == LB_OK) w->alignment = v;
        return st;
    }
    return add_fixed(w, key, LB_GGUF_U32, v);
}
enum lb_status lb_gguf_writer_add_i32(struct lb_gguf_writer *w, const char *key, int32_t v)
{
    return add_fixed(w, key, LB_GGUF_I32, (uint32_t)v);
}
enum lb_status lb_gguf_writer_add_f32(struct lb_gguf_writer *w, const char *key, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return add_fixed(w, key, LB_GGUF_F32, u);
}
enum lb_status lb_gguf_writer_add_bool(struct lb_gguf_writer *w, const char *key, bool v)
{
    return add_fixed(w, key, LB_GGUF_BOOL, v ? 1 : 0);
}
enum lb_status lb_gguf_writer_add_u64(struct lb_gguf_writer *w, const char *key, uint64_t v)
{
    return add_fixed(w, key, LB_GGUF_U64, v);
}
enum lb_status lb_gguf_writer_add_i64(struct lb_gguf_writer *w, const char *key, int64_t v)
{
    return add_fixed(w, key, LB_GGUF_I64, (uint64_t)v);
}
enum lb_status lb_gguf_writer_add_f64(struct lb_gguf_writer *w, const char *key, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return add_fixed(w, key, LB_GGUF_F64, u);
}

enum lb_status lb_gguf_writer_add_strn(struct lb_gguf_writer *w, const char *key, const char *s,
                                       uint64_t len)
{
    enum lb_status st = begin_value(w, key, LB_GGUF_STR);
    return st ? st : put_str(w, s, len);
}

enum lb_status lb_gguf_writer_add_str(struct lb_gguf_writer *w, const char *key, const char *s)
{
    return lb_gguf_writer_add_strn(w, key, s, strlen(s));
}

enum lb_status lb_gguf_writer_arr_begin(struct lb_gguf_writer *w, const char *key,
                                        enum lb_gguf_type elem_type, uint64_t count)
{
    if (w->status) return w->status;
    if ((unsigned)elem_type >= LB_GGUF_TYPE_COUNT)
        return wfail(w, LB_EINVAL, "GGUF writer: array element type %u is not a GGUF type",
                     (unsigned)elem_type);
    if (w->depth == LB_GGUF_MAX_DEPTH)
        return wfail(w, LB_EINVAL, "GGUF writer: arrays nest deeper than %d", LB_GGUF_MAX_DEPTH);
    enum lb_status st = begin_value(w, key, LB_GGUF_ARR);
    if (st || (st = put32(w, (uint32_t)elem_type)) || (st = put64(w, count))) return st;
    w->frames[w->depth++] = (struct wframe){.elem_type = elem_type, .count = count};
    return LB_OK;
}

enum lb_status lb_gguf_writer_arr_end(struct lb_gguf_writer *w)
{
    if (w->status) return w->status;
    if (w->depth == 0) return wfail(w, LB_EINVAL, "GGUF writer: arr_end with no open array");
    struct wframe *f = &w->frames[w->depth - 1];
    if (f->filled != f->count)
        return wfail(w, LB_EINVAL, "GGUF writer: array closed with %llu of its %llu elements",
                     (unsigned long long)f->filled, (unsigned long long)f->count);
    w->depth--;
    return LB_OK;
}

enum lb_status lb_gguf_writer_add_arr(struct lb_gguf_writer *w, const char *key,
                                      enum lb_gguf_type elem_type, const void *data,
                                      uint64_t count)
{
    if (w->status) return w->status;
    size_t es = lb_gguf_type_size(elem_type);
    if (!es)
        return wfail(w, LB_EINVAL, "GGUF writer: add_arr takes fixed-size elements, not %s "
                     "(use add_arr_str or arr_begin)", lb_gguf_type_name(elem_type));
    if (count > SIZE_MAX / es) return wfail(w, LB_EINVAL, "GGUF writer: array too large");
    enum lb_status st = lb_gguf_writer_arr_begin(w, key, elem_type, count);
    if (st || (st = put(w, data, (size_t)count * es))) return st;
    w->frames[w->depth - 1].filled = count;
    return lb_gguf_writer_arr_end(w);
}

enum lb_status lb_gguf_writer_add_arr_str(struct lb_gguf_writer *w, const char *key,
                                          const char *const *strs, uint64_t count)
{
    enum lb_status st = lb_gguf_writer_arr_begin(w, key, LB_GGUF_STR, count);
    for (uint64_t i = 0; st == LB_OK && i < count; i++)
        st = lb_gguf_writer_add_str(w, NULL, strs[i]);
    return st ? st : lb_gguf_writer_arr_end(w);
}

/* ---- tensors ----------------------------------------------------------- */

enum lb_status lb_gguf_writer_add_tensor(struct lb_gguf_writer *w, const char *name,
                                         enum lb_qtype type, uint32_t n_dims,
                                         const int64_t *ne, const void *data)
{
    if (w->status) return w->status;
    size_t len = strlen(name);
    if (len >= LB_GGUF_MAX_NAME)
        return wfail(w, LB_EINVAL, "GGUF writer: tensor name '%s' is %zu bytes; must be < %d",
                     name, len, LB_GGUF_MAX_NAME);
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].t.name, name) == 0)
            return wfail(w, LB_EINVAL, "GGUF writer: duplicate tensor name '%s'", name);
    const struct lb_qtraits *q = lb_qtraits_get(type);
    if (!q)
        return wfail(w, LB_EINVAL, "GGUF writer: tensor '%s' has unknown type id %d", name,
                     (int)type);
    if (n_dims < 1 || n_dims > LB_GGUF_MAX_DIMS)
        return wfail(w, LB_EINVAL, "GGUF writer: tensor '%s' has n_dims %u (1..%d)", name,
                     n_dims, LB_GGUF_MAX_DIMS);
    struct wtensor wt;
    memset(&wt, 0, sizeof wt);
    memcpy(wt.t.name, name, len + 1);
    wt.t.n_dims = n_dims;
    wt.t.type = type;
    int64_t n_elems = 1;
    for (int d = 0; d < LB_GGUF_MAX_DIMS; d++) {
        int64_t v = (uint32_t)d < n_dims ? ne[d] : 1;
        if (v < 1 || v > INT64_MAX / n_elems)
            return wfail(w, LB_EINVAL, "GGUF writer: tensor '%s' dimension %d = %lld is < 1 or "
                         "overflows the element count", name, d, (long long)v);
        wt.t.ne[d] = v;
        n_elems *= v;
    }
    if (wt.t.ne[0] % q->block_elems != 0)
        return wfail(w, LB_EINVAL, "GGUF writer: tensor '%s' ne[0] = %lld is not a multiple of "
                     "the block size %d of %s", name, (long long)wt.t.ne[0], q->block_elems,
                     q->ggml_name);
    uint64_t row = (uint64_t)(wt.t.ne[0] / q->block_elems);
    if (row > UINT64_MAX / (uint64_t)q->block_bytes)
        return wfail(w, LB_EINVAL, "GGUF writer: tensor '%s' is too large", name);
    row *= (uint64_t)q->block_bytes;
    uint64_t rows = (uint64_t)(wt.t.ne[1] * wt.t.ne[2] * wt.t.ne[3]); /* <= n_elems: no overflow */
    if (rows > UINT64_MAX / 2 / row) /* leaves room for padding and offsets */
        return wfail(w, LB_EINVAL, "GGUF writer: tensor '%s' is too large", name);
    wt.t.size_bytes = row * rows;
    wt.data = data;
    if (w->n_tensors == w->tensors_cap) {
        int64_t cap = w->tensors_cap ? 2 * w->tensors_cap : 16;
        struct wtensor *t = realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t) return wfail(w, LB_ENOMEM, "out of memory for GGUF tensor infos");
        w->tensors = t;
        w->tensors_cap = cap;
    }
    w->tensors[w->n_tensors++] = wt;
    return LB_OK;
}

/* ---- the file ---------------------------------------------------------- */

struct lb_gguf_sink {
    struct lb_outfile *f;
    uint8_t *buf;
    size_t len;          /* bytes buffered */
    uint64_t pos;        /* file bytes so far, including the buffered ones */
    uint64_t remaining;  /* bytes the current tensor still needs */
    const char *tname;   /* current tensor, for messages */
};

static enum lb_status flush(struct lb_gguf_sink *s, struct lb_error *err)
{
    size_t off = 0;
    while (off < s->len) {
        ssize_t n = write(s->f->fd, s->buf + off, s->len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return lb_error_set(err, LB_EIO, "writing %s: %s", s->f->path, strerror(errno));
        }
        off += (size_t)n;
    }
    s->len = 0;
    return LB_OK;
}

static enum lb_status emit(struct lb_gguf_sink *s, const void *p, size_t n, struct lb_error *err)
{
    const uint8_t *b = p;
    while (n) {
        size_t k = WBUF_BYTES - s->len < n ? WBUF_BYTES - s->len : n;
        memcpy(s->buf + s->len, b, k);
        s->len += k;
        s->pos += k;
        b += k;
        n -= k;
        if (s->len == WBUF_BYTES) {
            enum lb_status st = flush(s, err);
            if (st) return st;
        }
    }
    return LB_OK;
}

static enum lb_status emit_pad(struct lb_gguf_sink *s, uint32_t a, struct lb_error *err)
{
    static const uint8_t zeros[256];
    uint64_t pad = (a - s->pos % a) % a;
    while (pad) {
        size_t k = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        enum lb_status st = emit(s, zeros, k, err);
        if (st) return st;
        pad -= k;
    }
    return LB_OK;
}

enum lb_status lb_gguf_sink_write(struct lb_gguf_sink *s, const void *p, size_t n,
                                  struct lb_error *err)
{
    if (n > s->remaining)
        return lb_error_set(err, LB_EINVAL, "GGUF writer: data callback wrote %zu bytes to tensor "
                            "'%s', %llu more than its size", n, s->tname,
                            (unsigned long long)(n - s->remaining));
    s->remaining -= n;
    return emit(s, p, n, err);
}

static enum lb_status write_body(struct lb_gguf_writer *w, struct lb_gguf_sink *s,
                                 lb_gguf_data_fn fn, void *user, struct lb_error *err)
{
    uint8_t b[8];
    enum lb_status st;
    if ((st = emit(s, "GGUF", 4, err))) return st;
    st32(b, 3);
    if ((st = emit(s, b, 4, err))) return st;
    st64(b, (uint64_t)w->n_tensors);
    if ((st = emit(s, b, 8, err))) return st;
    st64(b, w->n_kv);
    if ((st = emit(s, b, 8, err))) return st;
    if ((st = emit(s, w->meta, w->meta_len, err))) return st;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const struct lb_gguf_tensor *t = &w->tensors[i].t;
        uint64_t len = strlen(t->name);
        st64(b, len);
        if ((st = emit(s, b, 8, err)) || (st = emit(s, t->name, len, err))) return st;
        st32(b, t->n_dims);
        if ((st = emit(s, b, 4, err))) return st;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            st64(b, (uint64_t)t->ne[d]);
            if ((st = emit(s, b, 8, err))) return st;
        }
        st32(b, (uint32_t)t->type);
        if ((st = emit(s, b, 4, err))) return st;
        st64(b, t->offset);
        if ((st = emit(s, b, 8, err))) return st;
    }
    if ((st = emit_pad(s, w->alignment, err))) return st;
    uint64_t data_start = s->pos;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        struct wtensor *wt = &w->tensors[i];
        LB_ASSERT(s->pos - data_start == wt->t.offset);
        s->tname = wt->t.name;
        if (wt->data) {
            if ((st = emit(s, wt->data, (size_t)wt->t.size_bytes, err))) return st;
        } else {
            if (!fn)
                return lb_error_set(err, LB_EINVAL, "GGUF writer: tensor '%s' has no data and "
                                    "no data callback was given", wt->t.name);
            s->remaining = wt->t.size_bytes;
            if ((st = fn(user, i, &wt->t, s, err))) return st;
            if (s->remaining)
                return lb_error_set(err, LB_EINVAL, "GGUF writer: data callback wrote %llu of "
                                    "the %llu bytes of tensor '%s'",
                                    (unsigned long long)(wt->t.size_bytes - s->remaining),
                                    (unsigned long long)wt->t.size_bytes, wt->t.name);
        }
        if ((st = emit_pad(s, w->alignment, err))) return st;
    }
    return flush(s, err);
}

enum lb_status lb_gguf_writer_write(struct lb_gguf_writer *w, const char *path,
                                    lb_gguf_data_fn fn, void *user, struct lb_error *err)
{
    if (w->status) {
        if (err) *err = w->err;
        return w->status;
    }
    if (w->depth)
        return lb_error_set(err, LB_EINVAL, "GGUF writer: %d array(s) still open", w->depth);
    /* offsets: packed in order, each aligned */
    uint64_t off = 0, a = w->alignment;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        struct lb_gguf_tensor *t = &w->tensors[i].t;
        t->offset = off;
        if (t->size_bytes > UINT64_MAX / 2 - off)
            return lb_error_set(err, LB_EINVAL, "GGUF writer: tensor data exceeds 2^63 bytes");
        off += t->size_bytes;
        off += (a - off % a) % a;
    }
    struct lb_outfile f;
    enum lb_status st = lb_outfile_open(&f, path, err);
    if (st) return st;
    struct lb_gguf_sink s = {.f = &f, .buf = malloc(WBUF_BYTES)};
    if (!s.buf) {
        lb_outfile_abort(&f);
        return lb_error_set(err, LB_ENOMEM, "out of memory writing %s", path);
    }
    st = write_body(w, &s, fn, user, err);
    free(s.buf);
    if (st) {
        lb_outfile_abort(&f);
        return st;
    }
    return lb_outfile_commit(&f, "", err); /* fsync, close, rename; aborts on failure */
}
