/* attn.c: decode attention (lb-attn.h): the scalar reference partial, the
 * merge of partials, the cache append, and the dispatch that picks an ISA
 * implementation.
 *
 * Compiled without ISA flags (STYLE.md #3): this is the code every x86-64
 * (and other architectures) can run, and the oracle the SIMD paths are
 * tested against. The reference dequantizes each cached row with the
 * format's own dequantize (lb_qtraits), keeps one online softmax per query
 * head in the worker's part of the scratch, and accumulates in float, the
 * precision the SIMD paths use, so differences between paths are rounding
 * order only.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../lb-attn.h"

#if defined(__x86_64__) || defined(__i386__)
#define LB_ATTN_HAVE_X86 1
#else
#define LB_ATTN_HAVE_X86 0
#endif

/* ---- shapes and sizes ------------------------------------------------ */

static bool cache_type_ok(enum lb_qtype t)
{
    return t == LB_QTYPE_F32 || t == LB_QTYPE_F16 || t == LB_QTYPE_BF16 ||
           t == LB_QTYPE_Q8_0;
}

enum lb_status lb_attn_shape_check(const struct lb_attn_shape *s,
                                   enum lb_qtype t, struct lb_error *err)
{
    if (!cache_type_ok(t))
        return lb_error_set(err, LB_EINVAL, "attention: cache type %s not supported "
                            "(f32, f16, bf16, q8_0)", lb_qtype_name(t));
    if (s->n_head_kv < 1 || s->n_head < 1 || s->n_head % s->n_head_kv)
        return lb_error_set(err, LB_EINVAL, "attention: n_head %d is not a positive "
                            "multiple of n_head_kv %d", s->n_head, s->n_head_kv);
    if (s->n_head / s->n_head_kv > LB_ATTN_MAX_GROUP)
        return lb_error_set(err, LB_EINVAL, "attention: group of %d query heads per kv head "
                            "exceeds %d", s->n_head / s->n_head_kv, LB_ATTN_MAX_GROUP);
    int align = t == LB_QTYPE_Q8_0 ? 32 : 16;
    if (s->head_dim < align || s->head_dim % align || s->head_dim > LB_ATTN_MAX_HEAD_DIM)
        return lb_error_set(err, LB_EINVAL, "attention: head_dim %d must be a multiple "
                            "of %d up to %d for %s", s->head_dim, align,
                            LB_ATTN_MAX_HEAD_DIM, lb_qtype_name(t));
    if (s->n_ctx < 0 || s->n_ctx_max < 0 || s->n_ctx > s->n_ctx_max)
        return lb_error_set(err, LB_EINVAL, "attention: n_ctx %d outside [0, n_ctx_max %d]",
                            s->n_ctx, s->n_ctx_max);
    if (s->window < 0)
        return lb_error_set(err, LB_EINVAL, "attention: negative window %d", s->window);
    if (!(s->scale > 0) || !isfinite(s->scale))
        return lb_error_set(err, LB_EINVAL, "attention: scale %g is not positive and finite",
                            (double)s->scale);
    return LB_OK;
}

static void shape_assert(const struct lb_attn_shape *s, enum lb_qtype t)
{
    struct lb_error err;
    if (lb_attn_shape_check(s, t, &err) != LB_OK) lb_assert_fail(err.msg, __FILE__, __LINE__, __func__);
}

size_t lb_attn_row_bytes(const struct lb_attn_shape *s, enum lb_qtype t)
{
    return lb_qtype_row_bytes(t, s->head_dim);
}

size_t lb_attn_cache_bytes(const struct lb_attn_shape *s, enum lb_qtype t)
{
    return (size_t)s->n_head_kv * (size_t)s->n_ctx_max * lb_attn_row_bytes(s, t);
}

size_t lb_attn_part_stride(const struct lb_attn_shape *s)
{
    /* m, l in the first line, acc from the second; whole lines per head */
    return LB_ATTN_ACC_OFFSET + ((size_t)s->head_dim + 15) / 16 * 16;
}

size_t lb_attn_scratch_bytes(const struct lb_attn_shape *s, int n_parts)
{
    LB_ASSERT(n_parts >= 1);
    return (size_t)n_parts * (size_t)s->n_head * lb_attn_part_stride(s) * sizeof(float);
}

static size_t first_pos(const struct lb_attn_shape *s)
{
    if (s->window > 0 && s->n_ctx > s->window) return (size_t)(s->n_ctx - s->window);
    return 0;
}

void lb_attn_split(const struct lb_attn_shape *s, int ith, int nth, size_t *begin,
                   size_t *end)
{
    size_t lo = first_pos(s);
    lb_split((size_t)s->n_ctx - lo, LB_ATTN_SPLIT_ALIGN, ith, nth, begin, end);
    *begin += lo;
    *end += lo;
}

/* ---- scalar reference -------------------------------------------------- */

void lb_attn_partial_ref(const struct lb_attn_shape *s, const float *q, const void *K,
                         const void *V, float *part, size_t begin, size_t end,
                         enum lb_qtype t)
{
    const struct lb_qtraits *tr = lb_qtraits_get(t);
    LB_ASSERT(tr);
    const int d = s->head_dim, G = s->n_head / s->n_head_kv;
    const size_t row = lb_attn_row_bytes(s, t), stride = lb_attn_part_stride(s);
    float kr[LB_ATTN_MAX_HEAD_DIM], vr[LB_ATTN_MAX_HEAD_DIM];
    for (int h = 0; h < s->n_head; h++) {
        float *rec = part + (size_t)h * stride;
        rec[0] = -INFINITY;
        rec[1] = 0.0f;
        memset(rec + LB_ATTN_ACC_OFFSET, 0, (size_t)d * sizeof(float));
    }
    for (int g = 0; g < s->n_head_kv; g++) {
        const char *kb = (const char *)K + (size_t)g * (size_t)s->n_ctx_max * row;
        const char *vb = (const char *)V + (size_t)g * (size_t)s->n_ctx_max * row;
        for (size_t p = begin; p < end; p++) {
            tr->dequantize(kb + p * row, kr, d);
            tr->dequantize(vb + p * row, vr, d);
            for (int hh = 0; hh < G; hh++) {
                const int h = g * G + hh;
                const float *qh = q + (size_t)h * d;
                float *rec = part + (size_t)h * stride, *acc = rec + LB_ATTN_ACC_OFFSET;
                float dot = 0.0f;
                for (int j = 0; j < d; j++) dot += qh[j] * kr[j];
                const float sc = s->scale * dot;
                if (sc > rec[0]) {
                    /* new running max: rescale what was summed so far
                     * (expf(-inf) = 0 on the first position) */
                    const float alpha = expf(rec[0] - sc);
                    rec[1] *= alpha;
                    for (int j = 0; j < d; j++) acc[j] *= alpha;
                    rec[0] = sc;
                }
                const float w = expf(sc - rec[0]);
                rec[1] += w;
                for (int j = 0; j < d; j++) acc[j] += w * vr[j];
            }
        }
    }
}

#define REF_ROW(T, name)                                                      \
    static void partial_ref_##name(const struct lb_attn_shape *s, const float *q, \
                                   const void *K, const void *V, float *part, \
                                   size_t begin, size_t end)                  \
    {                                                                         \
        lb_attn_partial_ref(s, q, K, V, part, begin, end, T);                 \
    }
REF_ROW(LB_QTYPE_F32, f32)
REF_ROW(LB_QTYPE_F16, f16)
REF_ROW(LB_QTYPE_BF16, bf16)
REF_ROW(LB_QTYPE_Q8_0, q8_0)
#undef REF_ROW

static const struct lb_attn_impl impls_scalar[] = {
    {LB_QTYPE_F32, LB_ISA_SCALAR, LB_ATTN_REQ_NONE, "scalar", partial_ref_f32},
    {LB_QTYPE_F16, LB_ISA_SCALAR, LB_ATTN_REQ_NONE, "scalar", partial_ref_f16},
    {LB_QTYPE_BF16, LB_ISA_SCALAR, LB_ATTN_REQ_NONE, "scalar", partial_ref_bf16},
    {LB_QTYPE_Q8_0, LB_ISA_SCALAR, LB_ATTN_REQ_NONE, "scalar", partial_ref_q8_0},
    {LB_QTYPE_F32, LB_ISA_SCALAR, 0, NULL, NULL},
};

/* ---- registry and dispatch --------------------------------------------- */

/* One table per ISA file, lowest level first. How to add one: a new
 * kernels/cpu/x86/attn-<isa>.c exporting a NULL-terminated table, declared
 * in lb-attn.h and listed here. */
static const struct lb_attn_impl *const impl_tables[] = {
    impls_scalar,
#if LB_ATTN_HAVE_X86
    lb_attn_impls_avx2,
    lb_attn_impls_avx512,
#endif
};

size_t lb_attn_impls_all(const struct lb_attn_impl **out, size_t max)
{
    size_t n = 0;
    for (size_t t = 0; t < LB_ARRAY_LEN(impl_tables); t++)
        for (const struct lb_attn_impl *i = impl_tables[t]; i->partial; i++)
            if (n < max) out[n++] = i;
    return n;
}

bool lb_attn_impl_usable(const struct lb_attn_impl *impl, const struct lb_cpu_features *f)
{
    if (impl->isa == LB_ISA_SCALAR) return true;
    if (!f || lb_isa_best(f) < impl->isa) return false;
    return impl->requires == LB_ATTN_REQ_NONE;
}

enum lb_status lb_attn_kernel_init(struct lb_attn_kernel *k, enum lb_qtype cache_type,
                                   enum lb_isa isa_cap, const struct lb_cpu_features *f,
                                   struct lb_error *err)
{
    if (!cache_type_ok(cache_type))
        return lb_error_set(err, LB_EINVAL, "attention: cache type %s not supported "
                            "(f32, f16, bf16, q8_0)", lb_qtype_name(cache_type));
    const struct lb_attn_impl *best = NULL;
    for (size_t t = 0; t < LB_ARRAY_LEN(impl_tables); t++)
        for (const struct lb_attn_impl *i = impl_tables[t]; i->partial; i++) {
            if (i->cache_type != cache_type || i->isa > isa_cap) continue;
            if (!lb_attn_impl_usable(i, f)) continue;
            if (!best || i->isa >= best->isa) best = i; /* later rows win ties */
        }
    LB_ASSERT(best); /* the scalar table has every type */
    memset(k, 0, sizeof *k);
    k->cache_type = cache_type;
    k->isa = best->isa;
    k->partial = best->partial;
    snprintf(k->path, sizeof k->path, "%s", best->path);
    return LB_OK;
}

/* ---- partial, merge, append -------------------------------------------- */

void lb_attn_partial(const struct lb_attn_kernel *k, const struct lb_attn_shape *s,
                     const float *q, const void *K, const void *V, void *scratch,
                     int ith, int nth)
{
    LB_ASSERT(k && k->partial && ith >= 0 && ith < nth);
    LB_ASSERT(((uintptr_t)scratch & 63) == 0);
    shape_assert(s, k->cache_type);
    size_t b, e;
    lb_attn_split(s, ith, nth, &b, &e);
    float *part = (float *)scratch + (size_t)ith * (size_t)s->n_head * lb_attn_part_stride(s);
    k->partial(s, q, K, V, part, b, e);
}

void lb_attn_merge(const struct lb_attn_shape *s, const void *scratch, int n_parts,
                   float *out, int ith, int nth)
{
    LB_ASSERT(n_parts >= 1 && ith >= 0 && ith < nth);
    const size_t stride = lb_attn_part_stride(s);
    const size_t part_floats = (size_t)s->n_head * stride;
    const int d = s->head_dim;
    const float *base = scratch;
    size_t hb, he;
    lb_split((size_t)s->n_head, 1, ith, nth, &hb, &he);
    for (size_t h = hb; h < he; h++) {
        float *o = out + h * (size_t)d;
        float M = s->sinks ? s->sinks[h] : -INFINITY;
        for (int i = 0; i < n_parts; i++) M = fmaxf(M, base[i * part_floats + h * stride]);
        for (int j = 0; j < d; j++) o[j] = 0.0f;
        if (M == -INFINITY) continue; /* no position and no sink: o = 0 */
        float L = s->sinks ? expf(s->sinks[h] - M) : 0.0f;
        for (int i = 0; i < n_parts; i++) {
            const float *rec = base + i * part_floats + h * stride;
            if (rec[0] == -INFINITY) continue; /* empty share */
            const float w = expf(rec[0] - M);
            L += w * rec[1];
            for (int j = 0; j < d; j++) o[j] += w * rec[LB_ATTN_ACC_OFFSET + j];
        }
        /* L >= 1 when a position attended (the max term is exp(0)); with
         * only a sink and no positions, o stays 0 */
        if (L > 0) {
            const float inv = 1.0f / L;
            for (int j = 0; j < d; j++) o[j] *= inv;
        }
    }
}

void lb_attn_append(const struct lb_attn_shape *s, enum lb_qtype t, void *K, void *V,
                    int pos, const float *k_new, const float *v_new)
{
    shape_assert(s, t);
    LB_ASSERT(pos >= 0 && pos < s->n_ctx_max);
    const struct lb_qtraits *tr = lb_qtraits_get(t);
    const size_t row = lb_attn_row_bytes(s, t);
    for (int g = 0; g < s->n_head_kv; g++) {
        const size_t off = ((size_t)g * (size_t)s->n_ctx_max + (size_t)pos) * row;
        tr->quantize_ref(k_new + (size_t)g * s->head_dim, (char *)K + off, s->head_dim);
        tr->quantize_ref(v_new + (size_t)g * s->head_dim, (char *)V + off, s->head_dim);
    }
}
