/* attn-avx2.c: the AVX2 partials of decode attention (lb-attn.h) for F32,
 * F16, BF16 and Q8_0 caches.
 *
 * Compiled with -mavx2 -mfma -mf16c (see CMakeLists), reached only through
 * lb_attn_kernel_init after lb_isa_best allowed LB_ISA_AVX2. The algorithm
 * is attn-avx512.c's (read that file's comment) on 8-float vectors and 16
 * registers: tiles of 8 positions, head blocks of GT = 8, 4, 2 or 1 heads
 * x PT = 8 / GT positions per 8 -> 1 transpose-reduce tree (HADDs), V
 * accumulated in GT heads x 8 / GT chunks of 8 floats (8 accumulators).
 */
#include "../../lb-attn.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../../quant/lb-blocks.h"

#define TILE 8 /* positions per tile = float lanes of a ymm */
_Static_assert(LB_ATTN_SPLIT_ALIGN % TILE == 0, "worker shares are whole tiles");
#define GT_MAX 8
#define ROW_MAX (LB_ATTN_MAX_HEAD_DIM * 4)

/* Software prefetch distance, positions: the rows of tile t + PF_POS / TILE
 * are prefetched (to L1, in one burst) when tile t starts. The score loop
 * reads PT rows chunk by chunk, a pattern of short strided streams the
 * hardware prefetchers follow poorly: at G = 1, F16, 32K positions from
 * DRAM (one core) this raised 19-22 to ~24.5 GB/s; 4 tiles ahead, L2 hints
 * (T1) and prefetches spread over the tile did no better. */
#define PF_POS 32

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* exp(x) for x <= 88: Cephes' expf polynomial, 2^n built in the exponent
 * bits; x is clamped at -87.3 (exp = 1.2e-38, i.e. 0 next to the tile max
 * term exp(0) = 1 that every softmax sum here contains). ~2 ulp; exp(0)
 * is exactly 1. */
static ALWAYS_INLINE __m256 exp256(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* out lane i = sum of the 8 lanes of a[i]. */
static ALWAYS_INLINE __m256 tree8(const __m256 a[8])
{
    const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
    /* per 128-bit half: partials of a0..a3 (u0), a4..a7 (u1) */
    const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* Max over each group of PT consecutive lanes, in every lane of the group. */
static ALWAYS_INLINE __m256 group_max(__m256 v, const int PT)
{
    if (PT >= 2) v = _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    if (PT >= 4) v = _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    if (PT >= 8) v = _mm256_max_ps(v, _mm256_permute2f128_ps(v, v, 1));
    return v;
}

static ALWAYS_INLINE size_t row_bytes_of(enum lb_qtype t, int d)
{
    switch (t) {
    case LB_QTYPE_F32: return (size_t)d * 4;
    case LB_QTYPE_F16:
    case LB_QTYPE_BF16: return (size_t)d * 2;
    default: return (size_t)d / LB_QK8_0 * sizeof(struct lb_block_q8_0);
    }
}

/* Elements c * 8 .. c * 8 + 7 of a cache row as f32 (exact, as in
 * attn-avx512.c). */
static ALWAYS_INLINE __m256 chunk_f32(enum lb_qtype t, const char *row, int c)
{
    switch (t) {
    case LB_QTYPE_F32: return _mm256_loadu_ps((const float *)row + 8 * c);
    case LB_QTYPE_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 16 * c)));
    case LB_QTYPE_BF16: {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + 16 * c)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
    default: {
        const struct lb_block_q8_0 *b = (const struct lb_block_q8_0 *)row + c / 4;
        const __m256 sc = _mm256_set1_ps(_cvtsh_ss(b->d));
        const __m128i q8 = _mm_loadl_epi64((const __m128i *)(b->qs + 8 * (c & 3)));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), sc);
    }
    }
}

/* a whole Q8_0 block per step, so its scale is converted once */
static ALWAYS_INLINE int chunk_step(enum lb_qtype t) { return t == LB_QTYPE_Q8_0 ? 4 : 1; }

struct block_state {
    __m256 m, l; /* lane hh * PT + pp: running max of head hh, lane sums */
};

static ALWAYS_INLINE const float *weight_at(const float *wbuf, int hh, int p, const int PT)
{
    return wbuf + (p / PT) * TILE + hh * PT + (p % PT);
}

static ALWAYS_INLINE void vacc(enum lb_qtype t, float *const *acc, const float *wbuf,
                               const char *vt, size_t row, int n, int c0, const int GT,
                               const int NC)
{
    const int PT = TILE / GT;
    __m256 a[GT_MAX][TILE];
    for (int h = 0; h < GT; h++)
        for (int c = 0; c < NC; c++) a[h][c] = _mm256_load_ps(acc[h] + 8 * (c0 + c));
    for (int p = 0; p < n; p++) {
        __m256 v[TILE];
        for (int c = 0; c < NC; c++) v[c] = chunk_f32(t, vt + (size_t)p * row, c0 + c);
        for (int h = 0; h < GT; h++) {
            const __m256 wb = _mm256_broadcast_ss(weight_at(wbuf, h, p, PT));
            for (int c = 0; c < NC; c++) a[h][c] = _mm256_fmadd_ps(wb, v[c], a[h][c]);
        }
    }
    for (int h = 0; h < GT; h++)
        for (int c = 0; c < NC; c++) _mm256_store_ps(acc[h] + 8 * (c0 + c), a[h][c]);
}

static ALWAYS_INLINE void tile_block(const struct lb_attn_shape *s, const char *kt,
                                     const char *vt, size_t row, int n, const float *qh,
                                     float *rec, size_t stride, struct block_state *st,
                                     const enum lb_qtype t, const int GT)
{
    const int PT = TILE / GT, d = s->head_dim, chunks = d / 8, cs = chunk_step(t);
    const __m256 scale = _mm256_set1_ps(s->scale), neg_inf = _mm256_set1_ps(-INFINITY);
    const __m256i pp = _mm256_and_si256(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                        _mm256_set1_epi32(PT - 1));
    _Alignas(64) float wbuf[GT_MAX * TILE];
    __m256 sc[GT_MAX], valid[GT_MAX];

    for (int j = 0; j < GT; j++) {
        __m256 acc[TILE];
        for (int i = 0; i < TILE; i++) acc[i] = _mm256_setzero_ps();
        const char *kr = kt + (size_t)j * PT * row;
        for (int c = 0; c < chunks; c += cs) {
            for (int cc = 0; cc < cs; cc++) {
                __m256 k[TILE];
                for (int p = 0; p < PT; p++) k[p] = chunk_f32(t, kr + (size_t)p * row, c + cc);
                for (int h = 0; h < GT; h++) {
                    const __m256 qv = _mm256_loadu_ps(qh + (size_t)h * d + 8 * (c + cc));
                    for (int p = 0; p < PT; p++)
                        acc[h * PT + p] = _mm256_fmadd_ps(k[p], qv, acc[h * PT + p]);
                }
            }
        }
        valid[j] = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
            _mm256_set1_epi32(n), _mm256_add_epi32(pp, _mm256_set1_epi32(j * PT))));
        sc[j] = _mm256_blendv_ps(neg_inf, _mm256_mul_ps(tree8(acc), scale), valid[j]);
    }

    __m256 mx = sc[0];
    for (int j = 1; j < GT; j++) mx = _mm256_max_ps(mx, sc[j]);
    const __m256 m_new = _mm256_max_ps(st->m, group_max(mx, PT));
    const int grew = _mm256_movemask_ps(_mm256_cmp_ps(m_new, st->m, _CMP_GT_OQ));
    if (grew) {
        const __m256 alpha = exp256(_mm256_sub_ps(st->m, m_new));
        st->l = _mm256_mul_ps(st->l, alpha);
        _Alignas(32) float al[TILE];
        _mm256_store_ps(al, alpha);
        for (int h = 0; h < GT; h++) {
            if (!((grew >> (h * PT)) & 1)) continue;
            const __m256 a = _mm256_set1_ps(al[h * PT]);
            float *acc = rec + (size_t)h * stride + LB_ATTN_ACC_OFFSET;
            for (int c = 0; c < chunks; c++)
                _mm256_store_ps(acc + 8 * c, _mm256_mul_ps(_mm256_load_ps(acc + 8 * c), a));
        }
        st->m = m_new;
    }
    for (int j = 0; j < GT; j++) {
        const __m256 w = _mm256_and_ps(valid[j], exp256(_mm256_sub_ps(sc[j], st->m)));
        st->l = _mm256_add_ps(st->l, w);
        _mm256_store_ps(wbuf + j * TILE, w);
    }

    float *acc[GT_MAX];
    for (int h = 0; h < GT; h++) acc[h] = rec + (size_t)h * stride + LB_ATTN_ACC_OFFSET;
    const int NCG = TILE / GT;
    int c = 0;
    for (; c + NCG <= chunks; c += NCG) vacc(t, acc, wbuf, vt, row, n, c, GT, NCG);
    if (NCG >= 8 && c + 4 <= chunks) vacc(t, acc, wbuf, vt, row, n, c, GT, 4), c += 4;
    if (NCG >= 4 && c + 2 <= chunks) vacc(t, acc, wbuf, vt, row, n, c, GT, 2), c += 2;
    if (NCG >= 2 && c + 1 <= chunks) vacc(t, acc, wbuf, vt, row, n, c, GT, 1), c += 1;
}

typedef void (*tile_fn)(const struct lb_attn_shape *s, const char *kt, const char *vt,
                        size_t row, int n, const float *qh, float *rec, size_t stride,
                        struct block_state *st);

#define TILE_FN(T, tname, GT)                                                 \
    static void tile_##tname##_##GT(const struct lb_attn_shape *s, const char *kt, \
                                    const char *vt, size_t row, int n,         \
                                    const float *qh, float *rec, size_t stride, \
                                    struct block_state *st)                   \
    {                                                                         \
        tile_block(s, kt, vt, row, n, qh, rec, stride, st, T, GT);            \
    }
#define TILE_FNS(T, tname)                                                    \
    TILE_FN(T, tname, 1) TILE_FN(T, tname, 2) TILE_FN(T, tname, 4)            \
    TILE_FN(T, tname, 8)                                                      \
    static const tile_fn tiles_##tname[4] = {tile_##tname##_1, tile_##tname##_2, \
                                             tile_##tname##_4, tile_##tname##_8};
TILE_FNS(LB_QTYPE_F32, f32)
TILE_FNS(LB_QTYPE_F16, f16)
TILE_FNS(LB_QTYPE_BF16, bf16)
TILE_FNS(LB_QTYPE_Q8_0, q8_0)
#undef TILE_FNS
#undef TILE_FN

static void partial_avx2(const struct lb_attn_shape *s, const float *q, const void *K,
                         const void *V, float *part, size_t begin, size_t end,
                         enum lb_qtype t, const tile_fn *tiles)
{
    const int d = s->head_dim, G = s->n_head / s->n_head_kv;
    const size_t row = row_bytes_of(t, d), stride = lb_attn_part_stride(s);
    const size_t kv_stride = (size_t)s->n_ctx_max * row;
    LB_ASSERT(G <= LB_ATTN_MAX_GROUP && d <= LB_ATTN_MAX_HEAD_DIM && row <= ROW_MAX);

    for (int h = 0; h < s->n_head; h++) {
        float *rec = part + (size_t)h * stride;
        rec[0] = -INFINITY;
        rec[1] = 0.0f;
        memset(rec + LB_ATTN_ACC_OFFSET, 0, (size_t)d * sizeof(float));
    }
    if (begin >= end) return;

    int n_blocks = 0, blk_h0[LB_ATTN_MAX_GROUP], blk_lg[LB_ATTN_MAX_GROUP];
    for (int h = 0, lg = 3; h < G;) {
        while ((1 << lg) > G - h) lg--;
        blk_h0[n_blocks] = h, blk_lg[n_blocks++] = lg;
        h += 1 << lg;
    }
    struct block_state st[LB_ATTN_MAX_GROUP];
    _Alignas(64) char pad_k[TILE * ROW_MAX], pad_v[TILE * ROW_MAX];

    for (int g = 0; g < s->n_head_kv; g++) {
        const char *kb = (const char *)K + (size_t)g * kv_stride;
        const char *vb = (const char *)V + (size_t)g * kv_stride;
        for (int b = 0; b < n_blocks; b++) {
            st[b].m = _mm256_set1_ps(-INFINITY);
            st[b].l = _mm256_setzero_ps();
        }
        for (size_t t0 = begin; t0 < end; t0 += TILE) {
            const int n = end - t0 < TILE ? (int)(end - t0) : TILE;
            const char *kt = kb + t0 * row, *vt = vb + t0 * row;
            if (t0 + PF_POS + TILE <= end)
                for (size_t o = 0; o < TILE * row; o += 64) {
                    _mm_prefetch(kt + PF_POS * row + o, _MM_HINT_T0);
                    _mm_prefetch(vt + PF_POS * row + o, _MM_HINT_T0);
                }
            if (n < TILE) {
                memcpy(pad_k, kt, (size_t)n * row);
                memcpy(pad_v, vt, (size_t)n * row);
                memset(pad_k + (size_t)n * row, 0, (size_t)(TILE - n) * row);
                memset(pad_v + (size_t)n * row, 0, (size_t)(TILE - n) * row);
                kt = pad_k, vt = pad_v;
            }
            for (int b = 0; b < n_blocks; b++) {
                const int h = g * G + blk_h0[b];
                tiles[blk_lg[b]](s, kt, vt, row, n, q + (size_t)h * d,
                                 part + (size_t)h * stride, stride, &st[b]);
            }
        }
        for (int b = 0; b < n_blocks; b++) {
            _Alignas(32) float m[TILE], l[TILE];
            _mm256_store_ps(m, st[b].m);
            _mm256_store_ps(l, st[b].l);
            const int GT = 1 << blk_lg[b], PT = TILE / GT;
            for (int hh = 0; hh < GT; hh++) {
                float *rec = part + (size_t)(g * G + blk_h0[b] + hh) * stride;
                float sum = 0.0f;
                for (int i = 0; i < PT; i++) sum += l[hh * PT + i];
                rec[0] = m[hh * PT];
                rec[1] = sum;
            }
        }
    }
}

#define ROW(T, name)                                                          \
    static void partial_##name(const struct lb_attn_shape *s, const float *q,  \
                               const void *K, const void *V, float *part,     \
                               size_t begin, size_t end)                      \
    {                                                                         \
        partial_avx2(s, q, K, V, part, begin, end, T, tiles_##name);          \
    }
ROW(LB_QTYPE_F32, f32)
ROW(LB_QTYPE_F16, f16)
ROW(LB_QTYPE_BF16, bf16)
ROW(LB_QTYPE_Q8_0, q8_0)
#undef ROW

const struct lb_attn_impl lb_attn_impls_avx2[] = {
    {LB_QTYPE_F32, LB_ISA_AVX2, LB_ATTN_REQ_NONE, "avx2", partial_f32},
    {LB_QTYPE_F16, LB_ISA_AVX2, LB_ATTN_REQ_NONE, "avx2", partial_f16},
    {LB_QTYPE_BF16, LB_ISA_AVX2, LB_ATTN_REQ_NONE, "avx2", partial_bf16},
    {LB_QTYPE_Q8_0, LB_ISA_AVX2, LB_ATTN_REQ_NONE, "avx2", partial_q8_0},
    {LB_QTYPE_F32, LB_ISA_AVX2, 0, NULL, NULL},
};

#endif
