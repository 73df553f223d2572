/* lb-gguf.h: reading and writing GGUF model files (v3 layout).
 *
 * Reader (bench/gguf.c): lb_gguf_open maps a file read-only and checks
 * every length, count, offset and dimension against the file size and the
 * limits below before it is used, so any input -- truncated, corrupted or
 * hostile -- gives LB_EINVAL with a message naming the file, the field and
 * its byte offset, never a crash or an out-of-bounds read (fuzzed:
 * tests/fuzz-gguf.c, docs/gguf.md). The context then answers lookups with
 * no further checks: strings and array elements are views into the
 * mapping, tensors carry a pointer to their bytes.
 *
 * Writer (bench/gguf-write.c): collects key/values (every value type,
 * nested arrays) and tensor infos, then writes header, metadata, infos and
 * aligned tensor data to a temp file beside the target and renames it into
 * place (reports/lb-report.h lb_outfile_*), so a failed or interrupted
 * write leaves no half-written model. Tensor bytes come from a pointer
 * given with the tensor or are streamed per tensor through a callback, so
 * a multi-GB synthetic model never has to be in memory.
 *
 * Layout (shared/reference/quant-and-gguf.md): little-endian; header
 * "GGUF", version u32, n_tensors u64, n_kv u64; key/values; tensor infos;
 * zero padding to the alignment (general.alignment, u32, default 32); the
 * data section, each tensor at an aligned offset relative to its start.
 * Versions 2 and 3 share this layout and are both read; version 1 (32-bit
 * counts) is refused. The writer writes version 3. Little-endian hosts
 * only (the raw array views are the file's bytes).
 */
#ifndef LB_GGUF_H
#define LB_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../kernels/lb-base.h"
#include "../kernels/lb-quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Limits (docs/gguf.md says why each is what it is) --------------- */
#define LB_GGUF_DEFAULT_ALIGNMENT 32u
#define LB_GGUF_MAX_DIMS 4           /* ggml's GGML_MAX_DIMS */
#define LB_GGUF_MAX_NAME 64          /* tensor names are < 64 bytes (GGML_MAX_NAME) */
#define LB_GGUF_MAX_KEY 65535u       /* GGUF spec: keys are at most 65535 bytes */
#define LB_GGUF_MAX_DEPTH 8          /* arrays nest at most 8 deep (key's array = 1) */
#define LB_GGUF_MAX_KV (1u << 20)    /* real models have < 100 */
#define LB_GGUF_MAX_TENSORS (1u << 20) /* the largest MoE checkpoints have ~10^4 */
/* Total elements of all string arrays + 2x those of all arrays of arrays
 * (the reader indexes them for O(1) access: 8 bytes each). A 256k-token
 * vocabulary with its merges is ~10^6. */
#define LB_GGUF_MAX_INDEX_SLOTS (1u << 26)

/* GGUF metadata value types; values are the file's type ids. */
enum lb_gguf_type {
    LB_GGUF_U8 = 0,
    LB_GGUF_I8 = 1,
    LB_GGUF_U16 = 2,
    LB_GGUF_I16 = 3,
    LB_GGUF_U32 = 4,
    LB_GGUF_I32 = 5,
    LB_GGUF_F32 = 6,
    LB_GGUF_BOOL = 7, /* 1 byte; any non-zero byte reads as true */
    LB_GGUF_STR = 8,
    LB_GGUF_ARR = 9,
    LB_GGUF_U64 = 10,
    LB_GGUF_I64 = 11,
    LB_GGUF_F64 = 12,
    LB_GGUF_TYPE_COUNT = 13,
    LB_GGUF_ANY = 255, /* lb_gguf_get_arr: accept any element type */
};

/* "u8", "i8", ..., "str", "arr", "f64"; "invalid" otherwise. */
const char *lb_gguf_type_name(enum lb_gguf_type t);
/* Bytes of one encoded value of a fixed-size type; 0 for STR, ARR and
 * invalid ids. */
size_t lb_gguf_type_size(enum lb_gguf_type t);

/* A string in the file: NOT NUL-terminated. */
struct lb_gguf_str {
    const char *ptr; /* into the mapping (or the writer's copy) */
    uint64_t len;    /* bytes */
};

/* Copies s into buf (cap bytes, NUL-terminated, truncated when it does
 * not fit). Returns true when the whole string fit. */
bool lb_gguf_str_copy(struct lb_gguf_str s, char *buf, size_t cap);
/* s equals the NUL-terminated c string. */
bool lb_gguf_str_eq(struct lb_gguf_str s, const char *c);

/* An array value. Elements of fixed-size types lie at data + i*elem_size
 * (raw little-endian file bytes, possibly unaligned: memcpy them or use
 * lb_gguf_arr_elem). Strings and arrays are reached by lb_gguf_arr_elem,
 * in O(1) through the reader's index. */
struct lb_gguf_array {
    enum lb_gguf_type elem_type;
    uint64_t count;     /* elements */
    const void *data;   /* the first element's encoding in the mapping */
    size_t elem_size;   /* bytes per element; 0 for STR and ARR */
    uint64_t index;     /* private: first slot of this array in the index */
};

/* One decoded metadata value. */
struct lb_gguf_value {
    enum lb_gguf_type type;
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        float f32;
        bool b;
        uint64_t u64;
        int64_t i64;
        double f64;
        struct lb_gguf_str str;
        struct lb_gguf_array arr;
    } v;
};

/* A tensor of the file, checked: ne[i] >= 1, ne[0] a multiple of the
 * type's block size, [offset, offset + size_bytes) inside the data section
 * and offset a multiple of the alignment. */
struct lb_gguf_tensor {
    char name[LB_GGUF_MAX_NAME]; /* NUL-terminated copy */
    uint32_t n_dims;             /* 0..4 as stored; ne[n_dims..3] are 1 */
    int64_t ne[LB_GGUF_MAX_DIMS]; /* elements per dimension, ne[0] innermost */
    enum lb_qtype type;          /* has lb_qtraits_get() != NULL */
    uint64_t offset;             /* bytes, relative to the data section */
    uint64_t size_bytes;         /* lb_qtype_row_bytes(type, ne[0]) * ne[1]*ne[2]*ne[3] */
    uint64_t info_pos;           /* file byte offset of its tensor info */
    const void *data;            /* its bytes in the mapping */
};

/* ---- Reader ------------------------------------------------------------ */
struct lb_gguf_ctx;

/* Maps path read-only and parses it. On error *out is NULL and err names
 * the file, the field and its byte offset. */
enum lb_status lb_gguf_open(const char *path, struct lb_gguf_ctx **out,
                            struct lb_error *err);
/* The same over caller-owned memory (borrowed, must outlive the context);
 * name is used in messages. For tests and the fuzzer. */
enum lb_status lb_gguf_open_memory(const void *buf, size_t size,
                                   const char *name, struct lb_gguf_ctx **out,
                                   struct lb_error *err);
/* Unmaps and frees; NULL is fine. Pointers from the context die with it. */
void lb_gguf_close(struct lb_gguf_ctx *ctx);

uint32_t lb_gguf_version(const struct lb_gguf_ctx *ctx);
uint32_t lb_gguf_alignment(const struct lb_gguf_ctx *ctx);  /* bytes */
uint64_t lb_gguf_data_offset(const struct lb_gguf_ctx *ctx); /* file byte offset of the data section */
uint64_t lb_gguf_file_size(const struct lb_gguf_ctx *ctx);  /* bytes */
const void *lb_gguf_base(const struct lb_gguf_ctx *ctx);     /* the mapping */

/* Key/values, in file order. */
int64_t lb_gguf_n_kv(const struct lb_gguf_ctx *ctx);
/* Index of key, -1 when absent (O(1), hashed). */
int64_t lb_gguf_find_key(const struct lb_gguf_ctx *ctx, const char *key);
struct lb_gguf_str lb_gguf_kv_key(const struct lb_gguf_ctx *ctx, int64_t i);
/* Decoded value of key/value i (LB_ASSERT 0 <= i < n_kv). */
struct lb_gguf_value lb_gguf_kv_value(const struct lb_gguf_ctx *ctx, int64_t i);
/* Element i of an array (LB_ASSERT i < count): scalars decoded, strings
 * and nested arrays as views. */
struct lb_gguf_value lb_gguf_arr_elem(const struct lb_gguf_ctx *ctx,
                                      const struct lb_gguf_array *arr,
                                      uint64_t i);

/* Typed getters by key: LB_EINVAL when the key is absent or has another
 * type (no conversions: a u32 key is not read as u64, as in ggml). */
enum lb_status lb_gguf_get_u32(const struct lb_gguf_ctx *ctx, const char *key,
                               uint32_t *out, struct lb_error *err);
enum lb_status lb_gguf_get_i32(const struct lb_gguf_ctx *ctx, const char *key,
                               int32_t *out, struct lb_error *err);
enum lb_status lb_gguf_get_u64(const struct lb_gguf_ctx *ctx, const char *key,
                               uint64_t *out, struct lb_error *err);
enum lb_status lb_gguf_get_f32(const struct lb_gguf_ctx *ctx, const char *key,
                               float *out, struct lb_error *err);
enum lb_status lb_gguf_get_f64(const struct lb_gguf_ctx *ctx, const char *key,
                               double *out, struct lb_error *err);
enum lb_status lb_gguf_get_bool(const struct lb_gguf_ctx *ctx, const char *key,
                                bool *out, struct lb_error *err);
enum lb_status lb_gguf_get_str(const struct lb_gguf_ctx *ctx, const char *key,
                               struct lb_gguf_str *out, struct lb_error *err);
/* Any value type, by key. */
enum lb_status lb_gguf_get_value(const struct lb_gguf_ctx *ctx, const char *key,
                                 struct lb_gguf_value *out, struct lb_error *err);
/* An array; elem_type LB_GGUF_ANY accepts any element type. */
enum lb_status lb_gguf_get_arr(const struct lb_gguf_ctx *ctx, const char *key,
                               enum lb_gguf_type elem_type,
                               struct lb_gguf_array *out, struct lb_error *err);

/* Tensors, in file order. */
int64_t lb_gguf_n_tensors(const struct lb_gguf_ctx *ctx);
const struct lb_gguf_tensor *lb_gguf_tensor(const struct lb_gguf_ctx *ctx, int64_t i);
/* NULL when absent (O(1), hashed). */
const struct lb_gguf_tensor *lb_gguf_find_tensor(const struct lb_gguf_ctx *ctx,
                                                 const char *name);

/* ---- Writer ------------------------------------------------------------
 * Errors are sticky: every call returns a status, and the first failure is
 * also kept and returned by lb_gguf_writer_write with its message, so a
 * builder may check only the final call. After a failure every later call
 * returns that status and does nothing; free the writer.
 */
struct lb_gguf_writer;
/* Streams the bytes of one tensor: call lb_gguf_sink_write any number of
 * times with exactly t->size_bytes in total. */
struct lb_gguf_sink;
typedef enum lb_status (*lb_gguf_data_fn)(void *user, int64_t tensor_index,
                                          const struct lb_gguf_tensor *t,
                                          struct lb_gguf_sink *sink,
                                          struct lb_error *err);
enum lb_status lb_gguf_sink_write(struct lb_gguf_sink *sink, const void *p,
                                  size_t n, struct lb_error *err);

enum lb_status lb_gguf_writer_new(struct lb_gguf_writer **out, struct lb_error *err);
void lb_gguf_writer_free(struct lb_gguf_writer *w);

/* Metadata. key: a top-level key (unique; <= 65535 bytes, no NUL), or
 * NULL for the next element of the array opened last. A u32
 * "general.alignment" (non-zero power of 2) sets the data alignment. */
enum lb_status lb_gguf_writer_add_u8(struct lb_gguf_writer *w, const char *key, uint8_t v);
enum lb_status lb_gguf_writer_add_i8(struct lb_gguf_writer *w, const char *key, int8_t v);
enum lb_status lb_gguf_writer_add_u16(struct lb_gguf_writer *w, const char *key, uint16_t v);
enum lb_status lb_gguf_writer_add_i16(struct lb_gguf_writer *w, const char *key, int16_t v);
enum lb_status lb_gguf_writer_add_u32(struct lb_gguf_writer *w, const char *key, uint32_t v);
enum lb_status lb_gguf_writer_add_i32(struct lb_gguf_writer *w, const char *key, int32_t v);
enum lb_status lb_gguf_writer_add_f32(struct lb_gguf_writer *w, const char *key, float v);
enum lb_status lb_gguf_writer_add_bool(struct lb_gguf_writer *w, const char *key, bool v);
enum lb_status lb_gguf_writer_add_u64(struct lb_gguf_writer *w, const char *key, uint64_t v);
enum lb_status lb_gguf_writer_add_i64(struct lb_gguf_writer *w, const char *key, int64_t v);
enum lb_status lb_gguf_writer_add_f64(struct lb_gguf_writer *w, const char *key, double v);
enum lb_status lb_gguf_writer_add_str(struct lb_gguf_writer *w, const char *key, const char *s);
/* A string of len bytes (may hold NULs). */
enum lb_status lb_gguf_writer_add_strn(struct lb_gguf_writer *w, const char *key,
                                       const char *s, uint64_t len);
/* Opens an array of count elements of elem_type; the next count adds (key
 * NULL, matching type; arrays nest up to LB_GGUF_MAX_DEPTH) fill it, then
 * lb_gguf_writer_arr_end closes it. */
enum lb_status lb_gguf_writer_arr_begin(struct lb_gguf_writer *w, const char *key,
                                        enum lb_gguf_type elem_type, uint64_t count);
enum lb_status lb_gguf_writer_arr_end(struct lb_gguf_writer *w);
/* Whole arrays at once: count fixed-size elements from host memory, or
 * count NUL-terminated strings. */
enum lb_status lb_gguf_writer_add_arr(struct lb_gguf_writer *w, const char *key,
                                      enum lb_gguf_type elem_type,
                                      const void *data, uint64_t count);
enum lb_status lb_gguf_writer_add_arr_str(struct lb_gguf_writer *w, const char *key,
                                          const char *const *strs, uint64_t count);

/* A tensor: name (< 64 bytes, unique), type with traits, n_dims 1..4,
 * ne[i] >= 1, ne[0] a multiple of the block size. data: its size_bytes
 * bytes (borrowed until lb_gguf_writer_write returns), or NULL to stream
 * them through the data callback. Offsets are assigned in order. */
enum lb_status lb_gguf_writer_add_tensor(struct lb_gguf_writer *w, const char *name,
                                         enum lb_qtype type, uint32_t n_dims,
                                         const int64_t *ne, const void *data);

/* Writes the file atomically (temp file in path's directory, fsync,
 * rename). fn/user supply tensors added with data NULL (fn may be NULL
 * when there are none). Returns the first sticky error when there was one. */
enum lb_status lb_gguf_writer_write(struct lb_gguf_writer *w, const char *path,
                                    lb_gguf_data_fn fn, void *user,
                                    struct lb_error *err);

#ifdef __cplusplus
}
#endif
#endif
