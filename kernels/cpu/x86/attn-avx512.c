/* attn-avx512.c: the AVX-512 partials of decode attention (lb-attn.h) for
 * F32, F16, BF16 and Q8_0 caches.
 *
 * Compiled with the AVX-512 flags (see CMakeLists), reached only through
 * lb_attn_kernel_init after lb_isa_best allowed LB_ISA_AVX512. Uses F, BW,
 * VL, DQ and F16C; no VNNI or BF16 instructions (requires = NONE).
 *
 * Per kv head, the worker's positions go in tiles of 16. The G query heads
 * of the group are processed in head blocks of GT = 16, 8, 4, 2 or 1 heads
 * (G = 7 is 4 + 2 + 1), all blocks on one tile before the next tile, so
 * the tile's K and V rows come from memory once and from L1 after that.
 * For one head block and tile:
 *  1. scores: 16 dot products of GT heads x PT = 16 / GT positions
 *     accumulate in 16 zmm; each 16-element chunk of a K row is
 *     dequantized once in registers and feeds GT FMAs, each q chunk feeds
 *     PT FMAs (2 to 9 loads per 16 FMAs instead of 17). A transpose-reduce
 *     tree (45 shuffles and adds) turns the 16 accumulators into one zmm,
 *     lane hh * PT + pp = head hh, position pp; GT trees cover the tile.
 *  2. online softmax on those lanes: the head's tile max by a max over the
 *     trees and over its PT lanes, a rescale of its accumulator only when
 *     the running max grows (rare after the first tiles), one vector exp
 *     per tree; running sums stay per lane until the end.
 *  3. V: each 16-element chunk of a V row is dequantized once and feeds
 *     GT FMAs (one per head, weight broadcast from the tile's weights);
 *     GT heads x 16 / GT chunks = 16 accumulators live in registers.
 * Cost per position and kv head: 2 G head_dim / 16 FMAs, the unavoidable
 * part, plus one dequantization per cached element (1 instruction for
 * F16, ~4.5 for Q8_0 with its scale), 45 / 16 tree instructions per head
 * (one tree per head and tile) and a few for the softmax. On Zen 5 at G = 4, head_dim 128 that is 64
 * FMAs in ~100-150 vector instructions per position, ~49 cycles for F16:
 * one core computes about as fast as it can stream (docs/attention.md).
 *
 * Workload assumptions: a tile's K and V rows (2 x 16 rows, at most 32 KiB
 * for F32 x 256) and the weights stay in L1; the cache streams in order,
 * two streams (K and V of one kv head) per worker, with a software
 * prefetch two tiles ahead (PF_POS). A last partial tile is copied into a
 * zero-padded buffer so the inner loops never test for it.
 */
#include "../../lb-attn.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../../quant/lb-blocks.h"

#define TILE 16 /* positions per tile = float lanes of a zmm */
_Static_assert(LB_ATTN_SPLIT_ALIGN % TILE == 0, "worker shares are whole tiles");
/* Largest head block; G above it is split into blocks of <= 16 heads. */
#define GT_MAX 16
/* Bytes of the largest row (F32 x LB_ATTN_MAX_HEAD_DIM). */
#define ROW_MAX (LB_ATTN_MAX_HEAD_DIM * 4)

/* Software prefetch distance, positions: the rows of tile t + PF_POS / TILE
 * are prefetched (to L1, in one burst) when tile t starts. The score loop
 * reads PT rows chunk by chunk, a pattern of short strided streams the
 * hardware prefetchers follow poorly: at G = 1, F16, 32K positions from
 * DRAM (one core) this raised 19-22 to ~24.5 GB/s; 4 tiles ahead, L2 hints
 * (T1) and prefetches spread over the tile did no better. */
#define PF_POS 32

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- helpers ------------------------------------------------------------ */

/* exp(x) for x <= 88 (underflows to 0 below about -104): Cephes' expf
 * polynomial on r = x - n ln2, |r| <= ln2/2, scaled by 2^n with VSCALEFPS
 * (which handles the range, so no exponent-bit tricks). ~2 ulp; exp(0)
 * is exactly 1. */
static ALWAYS_INLINE __m512 exp512(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, n);
}

/* out lane i = sum of the 16 lanes of a[i]: 8 + 4 + 2 + 1 merges of two
 * vectors (two shuffles and an add each). */
static ALWAYS_INLINE __m512 tree16(const __m512 a[16])
{
    __m512 b[8], c[4];
    for (int i = 0; i < 8; i++) /* 128-bit lane: (x02, y02, x13, y13) */
        b[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                             _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
    for (int j = 0; j < 4; j++) { /* 128-bit lane k: partials of a[4j..4j+3] */
        __m512d x = _mm512_castps_pd(b[2 * j]), y = _mm512_castps_pd(b[2 * j + 1]);
        c[j] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    __m512 d0 = _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m512 d1 = _mm512_add_ps(_mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(3, 1, 3, 1)));
    /* 128-bit lane j: totals of a[4j..4j+3] */
    return _mm512_add_ps(_mm512_shuffle_f32x4(d0, d1, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(d0, d1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Max over each group of PT consecutive lanes, in every lane of the group. */
static ALWAYS_INLINE __m512 group_max(__m512 v, const int PT)
{
    if (PT >= 2) v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    if (PT >= 4) v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    if (PT >= 8) v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    if (PT >= 16) v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
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

/* Elements c * 16 .. c * 16 + 15 of a cache row as f32. Exact for every
 * type: Q8_0's d * q has 11 + 7 significant bits. Two chunks of one Q8_0
 * block in the same unrolled code share the scale conversion (CSE). */
static ALWAYS_INLINE __m512 chunk_f32(enum lb_qtype t, const char *row, int c)
{
    switch (t) {
    case LB_QTYPE_F32: return _mm512_loadu_ps((const float *)row + 16 * c);
    case LB_QTYPE_F16:
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 32 * c)));
    case LB_QTYPE_BF16: {
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(row + 32 * c)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    }
    default: {
        const struct lb_block_q8_0 *b = (const struct lb_block_q8_0 *)row + c / 2;
        const __m512 sc = _mm512_set1_ps(_cvtsh_ss(b->d));
        const __m128i q8 = _mm_loadu_si128((const __m128i *)(b->qs + 16 * (c & 1)));
        return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8)), sc);
    }
    }
}

/* Chunks per step of the dot loop: a whole Q8_0 block, so its scale is
 * converted once per row and block. */
static ALWAYS_INLINE int chunk_step(enum lb_qtype t) { return t == LB_QTYPE_Q8_0 ? 2 : 1; }

/* Online-softmax state of one head block across tiles. Lane hh * PT + pp
 * belongs to head hh: the running max (equal in the head's lanes) and the
 * per-lane sums of weights. */
struct block_state {
    __m512 m, l;
};

/* Weight of head hh at tile position p in the tile's weight buffer (tree
 * p / PT, lane hh * PT + p % PT). */
static ALWAYS_INLINE const float *weight_at(const float *wbuf, int hh, int p, const int PT)
{
    return wbuf + (p / PT) * TILE + hh * PT + (p % PT);
}

/* acc[hh][c0 .. c0 + 16 NC) += sum_p w(hh, p) * V[p][same] for the GT
 * heads of the block: each V chunk is dequantized once for GT FMAs. */
static ALWAYS_INLINE void vacc(enum lb_qtype t, float *const *acc, const float *wbuf,
                               const char *vt, size_t row, int n, int c0, const int GT,
                               const int NC)
{
    const int PT = TILE / GT;
    __m512 a[GT_MAX][TILE];
    for (int h = 0; h < GT; h++)
        for (int c = 0; c < NC; c++) a[h][c] = _mm512_load_ps(acc[h] + 16 * (c0 + c));
    for (int p = 0; p < n; p++) {
        __m512 v[TILE];
        for (int c = 0; c < NC; c++) v[c] = chunk_f32(t, vt + (size_t)p * row, c0 + c);
        for (int h = 0; h < GT; h++) {
            const __m512 wb = _mm512_set1_ps(*weight_at(wbuf, h, p, PT));
            for (int c = 0; c < NC; c++) a[h][c] = _mm512_fmadd_ps(wb, v[c], a[h][c]);
        }
    }
    for (int h = 0; h < GT; h++)
        for (int c = 0; c < NC; c++) _mm512_store_ps(acc[h] + 16 * (c0 + c), a[h][c]);
}

/* One tile (n <= 16 positions at kt / vt, rows `row` bytes apart) for a
 * block of GT heads: q rows qh (d floats apart), records rec (stride
 * floats apart), state st. */
static ALWAYS_INLINE void tile_block(const struct lb_attn_shape *s, const char *kt,
                                     const char *vt, size_t row, int n, const float *qh,
                                     float *rec, size_t stride, struct block_state *st,
                                     const enum lb_qtype t, const int GT)
{
    const int PT = TILE / GT, d = s->head_dim, chunks = d / 16, cs = chunk_step(t);
    const __m512 scale = _mm512_set1_ps(s->scale), neg_inf = _mm512_set1_ps(-INFINITY);
    /* position of each lane within its tree: lane % PT */
    const __m512i pp = _mm512_and_si512(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                          12, 13, 14, 15),
                                        _mm512_set1_epi32(PT - 1));
    _Alignas(64) float wbuf[GT_MAX * TILE];
    __m512 sc[GT_MAX];
    __mmask16 valid[GT_MAX];

    /* 1. scores */
    for (int j = 0; j < GT; j++) {
        __m512 acc[TILE];
        for (int i = 0; i < TILE; i++) acc[i] = _mm512_setzero_ps();
        const char *kr = kt + (size_t)j * PT * row;
        for (int c = 0; c < chunks; c += cs) {
            for (int cc = 0; cc < cs; cc++) {
                __m512 k[TILE];
                for (int p = 0; p < PT; p++) k[p] = chunk_f32(t, kr + (size_t)p * row, c + cc);
                for (int h = 0; h < GT; h++) {
                    const __m512 qv = _mm512_loadu_ps(qh + (size_t)h * d + 16 * (c + cc));
                    for (int p = 0; p < PT; p++)
                        acc[h * PT + p] = _mm512_fmadd_ps(k[p], qv, acc[h * PT + p]);
                }
            }
        }
        valid[j] = _mm512_cmplt_epi32_mask(_mm512_add_epi32(pp, _mm512_set1_epi32(j * PT)),
                                           _mm512_set1_epi32(n));
        sc[j] = _mm512_mask_mul_ps(neg_inf, valid[j], tree16(acc), scale);
    }

    /* 2. online softmax */
    __m512 mx = sc[0];
    for (int j = 1; j < GT; j++) mx = _mm512_max_ps(mx, sc[j]);
    const __m512 m_new = _mm512_max_ps(st->m, group_max(mx, PT));
    const __mmask16 grew = _mm512_cmp_ps_mask(m_new, st->m, _CMP_GT_OQ);
    if (grew) {
        /* alpha = 1 exactly where the max stayed; exp(-inf) -> 0 where a
         * head had no position yet (its sums are 0 anyway) */
        const __m512 alpha = exp512(_mm512_sub_ps(st->m, m_new));
        st->l = _mm512_mul_ps(st->l, alpha);
        _Alignas(64) float al[TILE];
        _mm512_store_ps(al, alpha);
        for (int h = 0; h < GT; h++) {
            if (!((grew >> (h * PT)) & 1)) continue;
            const __m512 a = _mm512_set1_ps(al[h * PT]);
            float *acc = rec + (size_t)h * stride + LB_ATTN_ACC_OFFSET;
            for (int c = 0; c < chunks; c++)
                _mm512_store_ps(acc + 16 * c, _mm512_mul_ps(_mm512_load_ps(acc + 16 * c), a));
        }
        st->m = m_new;
    }
    for (int j = 0; j < GT; j++) {
        const __m512 w = _mm512_maskz_mov_ps(valid[j], exp512(_mm512_sub_ps(sc[j], st->m)));
        st->l = _mm512_add_ps(st->l, w);
        _mm512_store_ps(wbuf + j * TILE, w);
    }

    /* 3. V: chunk groups of 16 / GT chunks (16 accumulators), the rest in
     * halving groups (head_dim a multiple of 16, not of the group) */
    float *acc[GT_MAX];
    for (int h = 0; h < GT; h++) acc[h] = rec + (size_t)h * stride + LB_ATTN_ACC_OFFSET;
    const int NCG = TILE / GT;
    int c = 0;
    for (; c + NCG <= chunks; c += NCG) vacc(t, acc, wbuf, vt, row, n, c, GT, NCG);
    if (NCG >= 16 && c + 8 <= chunks) vacc(t, acc, wbuf, vt, row, n, c, GT, 8), c += 8;
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
    TILE_FN(T, tname, 8) TILE_FN(T, tname, 16)                                \
    static const tile_fn tiles_##tname[5] = {tile_##tname##_1, tile_##tname##_2, \
                                             tile_##tname##_4, tile_##tname##_8, \
                                             tile_##tname##_16};
TILE_FNS(LB_QTYPE_F32, f32)
TILE_FNS(LB_QTYPE_F16, f16)
TILE_FNS(LB_QTYPE_BF16, bf16)
TILE_FNS(LB_QTYPE_Q8_0, q8_0)
#undef TILE_FNS
#undef TILE_FN

static void partial_avx512(const struct lb_attn_shape *s, const float *q, const void *K,
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

    /* head blocks of the group: as many 16s as fit, then 8, 4, 2, 1 */
    int n_blocks = 0, blk_h0[LB_ATTN_MAX_GROUP], blk_lg[LB_ATTN_MAX_GROUP];
    for (int h = 0, lg = 4; h < G;) {
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
            st[b].m = _mm512_set1_ps(-INFINITY);
            st[b].l = _mm512_setzero_ps();
        }
        for (size_t t0 = begin; t0 < end; t0 += TILE) {
            const int n = end - t0 < TILE ? (int)(end - t0) : TILE;
            const char *kt = kb + t0 * row, *vt = vb + t0 * row;
            if (t0 + PF_POS + TILE <= end)
                for (size_t o = 0; o < TILE * row; o += 64) {
                    _mm_prefetch(kt + PF_POS * row + o, _MM_HINT_T0);
                    _mm_prefetch(vt + PF_POS * row + o, _MM_HINT_T0);
                }
            if (n < TILE) { /* last partial tile: zero rows are 0 in every type */
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
            _Alignas(64) float m[TILE], l[TILE];
            _mm512_store_ps(m, st[b].m);
            _mm512_store_ps(l, st[b].l);
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
        partial_avx512(s, q, K, V, part, begin, end, T, tiles_##name);        \
    }
ROW(LB_QTYPE_F32, f32)
ROW(LB_QTYPE_F16, f16)
ROW(LB_QTYPE_BF16, bf16)
ROW(LB_QTYPE_Q8_0, q8_0)
#undef ROW

const struct lb_attn_impl lb_attn_impls_avx512[] = {
    {LB_QTYPE_F32, LB_ISA_AVX512, LB_ATTN_REQ_NONE, "avx512", partial_f32},
    {LB_QTYPE_F16, LB_ISA_AVX512, LB_ATTN_REQ_NONE, "avx512", partial_f16},
    {LB_QTYPE_BF16, LB_ISA_AVX512, LB_ATTN_REQ_NONE, "avx512", partial_bf16},
    {LB_QTYPE_Q8_0, LB_ISA_AVX512, LB_ATTN_REQ_NONE, "avx512", partial_q8_0},
    {LB_QTYPE_F32, LB_ISA_AVX512, 0, NULL, NULL},
};

#endif
