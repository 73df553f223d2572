/* gemv-k-avx512.c: the AVX-512 level of the 256-element super-block
 * formats' row dot products (Q2_K..Q6_K, IQ4_XS against Q8_K) and of the
 * Q8_K activation quantizer (kernels/lb-gemv.h).
 *
 * Compiled with the AVX-512 flags (F/BW/VL/DQ/VNNI/BF16, see CMakeLists).
 * Every dot uses VPDPBUSD/VPDPWSSD and so requires AVX512_VNNI; the
 * quantizer uses only F/BW/VL/DQ.
 *
 * Workload: decode GEMV, weights streamed once from DRAM, the activation
 * row (one 292-byte Q8_K block per 256 columns) hot in L1 and re-read for
 * every row. Every format follows one plan per super-block:
 *  - the quants become 4 zmm of 64 unsigned bytes in element order, so
 *    the activation is read straight from the Q8_K block (its loads fold
 *    into the multiplies; no per-row shuffles of the shared operand).
 *    Nibble pairs: 32 bytes broadcast to both halves of a zmm, the upper
 *    half shifted by 4 (VPSRLVW), one AND.
 *  - K-quants: VPDPBUSD (u8 quants x s8 activation) gives int32 sums of 4
 *    products, small enough to pack two zmm into one of int16 (VPACKSSDW,
 *    never saturating), and one VPDPWSSD per packed pair multiplies by the
 *    sub-block scales laid out per int16 lane (VPSHUFB/VPERMW), adding in
 *    int32: the super-block's integer sum is exact, as in the reference.
 *    IQ4_XS (|table value| x sign-adjusted activation, sums too large to
 *    pack) uses VPMADDUBSW pair sums and one VPDPWSSD per zmm.
 *  - offsets (Q3_K's -4, Q6_K's -32) and the mins of Q2_K/Q4_K/Q5_K go
 *    through Q8_K's bsums, so the quant vectors stay unsigned.
 *  - per super-block the int32 lanes are scaled by d * act.d in f32 and
 *    summed in f32 lanes; the row's lanes are added at the end. The lanes
 *    stay below 2^24 (converted exactly) except for Q6_K with extreme
 *    inputs (all |q| and scales at their maximum: < 2^25, one f32 rounding,
 *    relative 6e-8, far inside the tests' tolerance).
 *
 * Measured on the Zen 5 VM this was written on (3.4 GHz, /tmp scratch
 * benchmark): in L2 a Q4_K super-block took ~11 cycles (~43 GB/s per
 * core), Q6_K ~12 (~60 GB/s). The loop is bound by vector issue: ~40
 * vector instructions per super-block on 4 pipes, multiplies and shuffles
 * sharing 3 of them, plus the activation's 64-byte loads, which cross
 * cache lines (Q8_K blocks are 292 bytes). Streaming from DRAM one core
 * gets ~75-80% of its read bandwidth with this much work per byte when the
 * memory system is idle; software prefetch (T0/T1/NTA, 0.5-8 KiB ahead)
 * did not change that, so there is none.
 *
 * Q4_K and IQ4_XS therefore also come as multi-row dots (lb_dot_rows_fn):
 * the activation is prepared once per call for all the rows of a slice
 * (reordered to the order their nibbles split in, 64-byte aligned, bsums
 * pre-added), which takes their loops from 51 to 43 and from 84 to 53
 * instructions per super-block (counted in the disassembly; docs/gemv.md
 * has the table and timings). The rows are still read one after another:
 * a 4-row variant that shared the activation loads between rows read side
 * by side took 0.89x the time from L2 but was median 0.75x as fast from DRAM (four
 * short streams instead of one). Their single-row dots are the one-row
 * case of the same code, so both give the same bits.
 */
#include "../gemv-impl.h"

#if LB_GEMV_HAVE_X86

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "../../quant/lb-blocks.h"


/* ---- shared helpers -------------------------------------------------- */

/* fp16 bits -> f32 by F16C (exact, like lb_fp16_to_f32). */
static inline float fp16_to_f32(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/* 4 bytes at p (d, dmin adjacent) as an int */
static inline int ld32(const void *p)
{
    int v;
    memcpy(&v, p, 4);
    return v;
}

static inline float hsum_ps(__m512 v) { return _mm512_reduce_add_ps(v); }

/* d and dmin (adjacent fp16) as floats in lanes 0, 1 */
static inline __m128 d_dmin(const void *d) { return _mm_cvtph_ps(_mm_cvtsi32_si128(ld32(d))); }

static inline float hsum256_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Per-16-bit-lane shift counts: lo for the lower 256 bits (elements l <
 * 32 of the zmm), hi for the upper. */
static inline __m512i counts16(int lo, int hi)
{
    return _mm512_inserti64x4(_mm512_set1_epi16((short)lo), _mm256_set1_epi16((short)hi), 1);
}

/* 32 bytes at p in both halves of a zmm, shifted by the per-half counts
 * cnt (16-bit lanes; the caller's AND removes what crossed bytes). */
static inline __m512i bcast32_srlv(const uint8_t *p, __m512i cnt)
{
    return _mm512_srlv_epi16(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p)), cnt);
}

/* Index vectors for VPERMW: lane i of the result takes int16 lane f(i). */
#define IDX32(f) \
    _mm512_set_epi16(f(31), f(30), f(29), f(28), f(27), f(26), f(25), f(24), \
                     f(23), f(22), f(21), f(20), f(19), f(18), f(17), f(16), \
                     f(15), f(14), f(13), f(12), f(11), f(10), f(9), f(8),   \
                     f(7), f(6), f(5), f(4), f(3), f(2), f(1), f(0))

/* The integer core shared by the K-quants. w[c] holds elements 64c..64c+63
 * as unsigned bytes, q8 the block's activation: VPDPBUSD gives per zmm 16
 * int32 sums of 4 products (|sum| <= 4 * 63 * 128 = 32256 for every
 * format using it, so they fit int16), and VPACKSSDW packs zmm pairs
 * without saturating. p[0] = pack(d0, d1), p[1] = pack(d2, d3): in 128-bit
 * lane L, int16 0-3 are d0's (d2's) dwords 4L..4L+3 and 4-7 d1's (d3's).
 * One VPDPWSSD per packed pair then applies the sub-block scales, half the
 * multiplies of VPMADDUBSW + VPDPWSSD per zmm. */
static inline void dot_packed(const __m512i w[4], const int8_t *q8, __m512i p[2])
{
    const __m512i z = _mm512_setzero_si512();
    const __m512i d0 = _mm512_dpbusd_epi32(z, w[0], _mm512_loadu_si512(q8));
    const __m512i d1 = _mm512_dpbusd_epi32(z, w[1], _mm512_loadu_si512(q8 + 64));
    const __m512i d2 = _mm512_dpbusd_epi32(z, w[2], _mm512_loadu_si512(q8 + 128));
    const __m512i d3 = _mm512_dpbusd_epi32(z, w[3], _mm512_loadu_si512(q8 + 192));
    p[0] = _mm512_packs_epi32(d0, d1);
    p[1] = _mm512_packs_epi32(d2, d3);
}

/* ---- Q4_K, Q5_K: 8 sub-blocks of 32 ---------------------------------- */

/* The 12 packed scale bytes (and the 4 after them, ignored) ->
 * [sc0..sc7, mn0..mn7], one byte each (layout in lb-blocks.h): sc/mn 0..3
 * are the low 6 bits of bytes 0..7; sc/mn 4..7 take their low nibble from
 * bytes 8..11 and their top 2 bits from bits 6-7 of bytes 0..7. */
static inline __m128i k4_scales_mins(const uint8_t *s)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)s);
    /* [b0..3, b8..11, b4..7, b8..11], the last dword >> 4 (its nibbles) */
    __m128i a = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    a = _mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4));
    /* bits 6-7 of bytes 0..7 moved to bits 4-5, then to sc4..7 / mn4..7 */
    __m128i t = _mm_and_si128(_mm_srli_epi64(v, 2), _mm_set1_epi8(0x30));
    t = _mm_shuffle_epi8(t, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m128i keep = _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15);
    return _mm_ternarylogic_epi32(a, keep, t, 0xEA); /* (a & keep) | t */
}

/* VPSHUFB control laying byte a over int16 lanes 0-3 and byte b over 4-7
 * (zero-extended: 0xFF zeroes the high byte) of 128-bit lanes 0-1, and c,
 * d the same in lanes 2-3. */
#define SPREAD_Q(k) ((long long)(0xFF00FF00FF00FF00ull | (0x0001000100010001ull * (k))))
#define SPREAD_P(a, b, c, d) \
    _mm512_set_epi64(SPREAD_Q(d), SPREAD_Q(c), SPREAD_Q(d), SPREAD_Q(c), SPREAD_Q(b), SPREAD_Q(a), SPREAD_Q(b), SPREAD_Q(a))

/* sum_k sc_k * (products of sub-block k) for Q4_K/Q5_K: sm is the
 * [sc, mn] vector in every 128-bit lane. Packed lanes 0-1 hold sub-blocks
 * 0 and 2 (of p[0]) / 4 and 6 (p[1]), lanes 2-3 sub-blocks 1, 3 / 5, 7;
 * int32 lane per block <= 2 * (7620 * 63) * 2 < 2^24. */
static inline __m512i k4_scaled(const __m512i p[2], __m512i sm)
{
    const __m512i s = _mm512_madd_epi16(p[0], _mm512_shuffle_epi8(sm, SPREAD_P(0, 2, 1, 3)));
    return _mm512_dpwssd_epi32(s, p[1], _mm512_shuffle_epi8(sm, SPREAD_P(4, 6, 5, 7)));
}

/* mn_k * (bsums[2k] + bsums[2k+1]), 8 int32 lanes (mn byte k at 8 + k) */
static inline __m256i k4_mins(__m512i sm, const int16_t *bsums)
{
    const __m256i cm = _mm256_setr_epi8(8, -1, 8, -1, 9, -1, 9, -1, 10, -1, 10, -1, 11, -1, 11, -1,
                                        12, -1, 12, -1, 13, -1, 13, -1, 14, -1, 14, -1, 15, -1, 15, -1);
    return _mm256_madd_epi16(_mm256_shuffle_epi8(_mm512_castsi512_si256(sm), cm),
                             _mm256_loadu_si256((const __m256i *)bsums));
}

/* ---- Q4_K: rows against a prepared activation ------------------------- */

/* Why a prepared activation: from DRAM the row loop must leave the core
 * idle often enough to keep the weight stream going, so what matters is
 * vector instructions per 144-byte super-block. Work that depends only
 * on the activation is done once per call (per chunk of columns) for all
 * the rows of a worker's slice, which are then still read one after
 * another (one long stream: running several rows side by side, sharing
 * the activation loads, measured slower from DRAM, see docs/gemv.md):
 *  - Q8_K quants reordered to match quants split from 64 weight bytes
 *    with one AND (low nibbles) and a shift + AND (high): zmm j of a row
 *    holds the low (j even) or high (j odd) nibbles of bytes 64(j/2)..+63,
 *    i.e. elements 128(j/2) + 32(j%2) + [0, 32) and + 64 + [0, 32), so the
 *    activation is reordered the same way (instead of broadcasting 32
 *    bytes and shifting per half, 8 instructions per row-block, 6 here);
 *    the prepared blocks are 64-byte aligned (Q8_K's 292-byte blocks make
 *    every 64-byte load of it cross a cache line);
 *  - bsums added in pairs (one per 32-element sub-block) and negated, so
 *    the mins are one VPMADDWD of 8 int16 and add into their own f32 lanes.
 * The 6-bit scales are unpacked as before (k4_scales_mins: scalar 64-bit
 * ops instead took ~25 instructions, and the loop was slower) and the sc
 * bytes broadcast as one qword. 43 instructions (39 vector) per
 * row-block, from 51 (46) in the former single-row loop (counted in the
 * disassembly, gcc 12 -O3); 0.82-0.85x its time from L2.
 *
 * dot_q4_k_q8_k is this with one row, so a row's result is the same
 * whether it comes from the single-row dot or a dot_rows call of any
 * length (every float lane sees the same operations in the same order). */

/* One prepared Q8_K block (320 bytes, 64-byte aligned). */
struct q4k_prep {
    _Alignas(64) int8_t qs[256]; /* [4][64]: zmm j as described above */
    /* [0 x 8, -(bsums[2k] + bsums[2k + 1]) for k < 8]: against the
     * zero-extended [sc, mn] bytes, the mins alone */
    _Alignas(32) int16_t nbs[16];
    float d;                     /* the Q8_K block's d */
};
/* Columns prepared at a time: 64 blocks = 16384 columns, 20 KiB of stack;
 * wider rows prepare chunk by chunk per row (same arithmetic). */
#define Q4K_PREP_BLOCKS 64

/* A Q8_K block's 256 quants at q reordered into the four aligned zmm at
 * dst: pairs of loaded zmm (0-1, 2-3) recombined by 128-bit lanes with
 * VSHUFI64X2 IMM0 (first of each pair) and IMM1 (second). A macro: the
 * shuffle takes an immediate. */
#define Q8K_LANES(q, dst, IMM0, IMM1)                                                          \
    do {                                                                                       \
        const int8_t *q_ = (q);                                                                \
        int8_t *d_ = (dst);                                                                    \
        for (int h_ = 0; h_ < 2; h_++) {                                                       \
            const __m512i x_ = _mm512_loadu_si512(q_ + 128 * h_), y_ = _mm512_loadu_si512(q_ + 128 * h_ + 64); \
            _mm512_store_si512(d_ + 128 * h_, _mm512_shuffle_i64x2(x_, y_, IMM0));             \
            _mm512_store_si512(d_ + 128 * h_ + 64, _mm512_shuffle_i64x2(x_, y_, IMM1));        \
        }                                                                                      \
    } while (0)

static void q4k_prepare(const struct lb_block_q8_k *a, int64_t nb, struct q4k_prep *p)
{
    for (int64_t ib = 0; ib < nb; ib++) {
        /* 128-bit lanes [0, 1] of the first, [0, 1] of the second (0x44)
         * or [2, 3] and [2, 3] (0xEE) */
        Q8K_LANES(a[ib].qs, p[ib].qs, 0x44, 0xEE);
        const __m256i pair = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a[ib].bsums),
                                               _mm256_set1_epi16(-1)); /* |sum| <= 4064 */
        _mm256_store_si256((__m256i *)p[ib].nbs,
                           _mm256_inserti128_si256(_mm256_setzero_si256(), _mm256_cvtepi32_epi16(pair), 1));
        p[ib].d = a[ib].d;
    }
}

/* Blocks [0, nb) of one row against prepared blocks, into the row's
 * accumulators: accf (16 lanes, d * act.d * scaled sums) and accm (4 lanes,
 * -dmin * act.d * mins). */
/* The weight half of one super-block: what q4k_meet needs of it. */
struct q4k_w {
    __m512i w0, w1, w2, w3; /* low / high nibbles of qs[0..63], qs[64..127] */
    __m512i sca, scb;       /* sc bytes spread for the two halves */
    __m256i mn16;           /* [sc, mn] bytes zero-extended to int16 */
    __m128 dw;              /* d, dmin as floats (lanes 0, 1) */
};

static inline __attribute__((always_inline)) void q4k_unpack(const struct lb_block_q4_k *b, struct q4k_w *u)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    /* [sc0..7, mn0..7] as bytes (lb-blocks.h): sc broadcast per qword
     * for the spreads, mn zero-extended against [0 x 8, nbs] */
    const __m128i sm = k4_scales_mins(b->scales);
    const __m512i scv = _mm512_broadcastq_epi64(sm);
    u->sca = _mm512_shuffle_epi8(scv, SPREAD_P(0, 1, 2, 3));
    u->scb = _mm512_shuffle_epi8(scv, SPREAD_P(4, 5, 6, 7));
    u->mn16 = _mm256_cvtepu8_epi16(sm);
    const __m512i v0 = _mm512_loadu_si512(b->qs), v1 = _mm512_loadu_si512(b->qs + 64);
    u->w0 = _mm512_and_si512(v0, m4), u->w1 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4);
    u->w2 = _mm512_and_si512(v1, m4), u->w3 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4);
    u->dw = d_dmin(&b->d);
}

/* The activation half: one unpacked super-block against one prepared
 * block, into accf (16 lanes, d * act.d * scaled sums) and accm (4 lanes,
 * -dmin * act.d * mins). */
static inline __attribute__((always_inline)) void
q4k_meet(const struct q4k_w *u, const struct q4k_prep *pb, __m512 *accf, __m256 *accm)
{
    const __m512i z = _mm512_setzero_si512();
    const __m256i mins = _mm256_madd_epi16(u->mn16, _mm256_load_si256((const __m256i *)pb->nbs));
    /* sums of 4 products, |.| <= 4 * 15 * 127: packing never saturates;
     * p0 lanes 0-1 hold sub-blocks 0, 1, lanes 2-3 sub-blocks 2, 3 */
    const __m512i p0 = _mm512_packs_epi32(_mm512_dpbusd_epi32(z, u->w0, _mm512_load_si512(pb->qs)),
                                          _mm512_dpbusd_epi32(z, u->w1, _mm512_load_si512(pb->qs + 64)));
    const __m512i p1 = _mm512_packs_epi32(_mm512_dpbusd_epi32(z, u->w2, _mm512_load_si512(pb->qs + 128)),
                                          _mm512_dpbusd_epi32(z, u->w3, _mm512_load_si512(pb->qs + 192)));
    __m512i s = _mm512_madd_epi16(p0, u->sca);
    s = _mm512_dpwssd_epi32(s, p1, u->scb);
    const __m128 dv = _mm_mul_ps(u->dw, _mm_set1_ps(pb->d));
    *accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_broadcastss_ps(dv), *accf);
    *accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_broadcastss_ps(_mm_movehdup_ps(dv)),
                            *accm);
}

/* Blocks [0, nb) of one row against prepared blocks, into the row's
 * accumulators. */
static inline __attribute__((always_inline)) void
q4k_row(const struct lb_block_q4_k *x, const struct q4k_prep *p, int64_t nb, __m512 *accf, __m256 *accm)
{
    __m512 af = *accf;
    __m256 am = *accm;
    for (int64_t ib = 0; ib < nb; ib++) {
        struct q4k_w u;
        q4k_unpack(&x[ib], &u);
        q4k_meet(&u, &p[ib], &af, &am);
    }
    *accf = af;
    *accm = am;
}

static void dot_rows_q4_k_q8_k(int64_t n, const void *w, size_t rb, const void *act, float *y, int n_rows)
{
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    struct q4k_prep prep[Q4K_PREP_BLOCKS];
    if (nb <= Q4K_PREP_BLOCKS) {
        q4k_prepare(a, nb, prep);
        for (int r = 0; r < n_rows; r++) {
            __m512 af = _mm512_setzero_ps();
            __m256 am = _mm256_setzero_ps();
            q4k_row((const struct lb_block_q4_k *)((const char *)w + (size_t)r * rb), prep, nb, &af, &am);
            y[r] = hsum_ps(af) + hsum256_ps(am);
        }
        return;
    }
    for (int r = 0; r < n_rows; r++) {
        const struct lb_block_q4_k *x = (const struct lb_block_q4_k *)((const char *)w + (size_t)r * rb);
        __m512 af = _mm512_setzero_ps();
        __m256 am = _mm256_setzero_ps();
        for (int64_t c = 0; c < nb; c += Q4K_PREP_BLOCKS) {
            const int64_t k = nb - c < Q4K_PREP_BLOCKS ? nb - c : Q4K_PREP_BLOCKS;
            q4k_prepare(a + c, k, prep);
            q4k_row(x + c, prep, k, &af, &am);
        }
        y[r] = hsum_ps(af) + hsum256_ps(am);
    }
}

/* Batch (prefill): each super-block of a row unpacked once (q4k_unpack)
 * for the n_b prepared activations (q4k_meet), every (row, activation)
 * seeing q4k_row's operations in order, so y[k][r] is dot_rows's result
 * for act[k] bit for bit. The activations are prepared once per call,
 * block by block interleaved (p[ib * n_b + k]); rows, chunks (units:
 * super-blocks) and accumulators come from the common driver
 * (lb_gemv_batch_run, kernels/cpu/gemv-impl.h). Measured for Q4_K (8
 * activations against 8 single passes, one thread, 2048 rows in cache,
 * 2026-11-25): 1.6-1.76x at 2048 columns with any chunk, at 8192 columns
 * 1.06-1.15x with 32 KiB chunks, 1.31 with 24, 1.50-1.53 with 16 (the
 * driver's), 1.30 with 12. */
/* A (row, activation) record of the K formats' batch forms: the scaled
 * sums f and the mins m (Q4_K, Q5_K, Q2_K; the others leave m at 0). */
struct kq_acc {
    __m512 f;
    __m256 m;
};

/* The NB-specialised units of a K format's batch form (the table
 * batch_units_NAME): each super-block of a row unpacked once (UNPACK into
 * a W) and met by the NB activations (MEET(&u, ACT(ctx, k, ib, NB), &f,
 * &m), the single-row dot's own halves, so the same bits). ACT is the
 * activation's block ib: raw Q8_K (KQ_RAW) or prepared (the format's). */
#define KQ_BATCH_BLOCKS(name, BT, W, UNPACK, MEET, ACT)                                             \
    static inline __attribute__((always_inline)) void name##_blocks(const int NB, const char *w, size_t rb, \
                                                                    int g, const void *ctx, int64_t b0, \
                                                                    int64_t b1, void *accv)         \
    {                                                                                               \
        struct kq_acc *acc = accv;                                                                  \
        for (int r = 0; r < g; r++) {                                                               \
            const BT *x = (const BT *)(w + (size_t)r * rb);                                         \
            struct kq_acc *ar = acc + (size_t)r * NB;                                               \
            __m512 af[LB_GEMV_MAX_BATCH];                                                           \
            __m256 am[LB_GEMV_MAX_BATCH];                                                           \
            for (int k = 0; k < NB; k++) af[k] = ar[k].f, am[k] = ar[k].m;                          \
            for (int64_t ib = b0; ib < b1; ib++) {                                                  \
                W u;                                                                                \
                UNPACK(&x[ib], &u);                                                                 \
                for (int k = 0; k < NB; k++) MEET(&u, ACT(ctx, k, ib, NB), &af[k], &am[k]);         \
            }                                                                                       \
            for (int k = 0; k < NB; k++) ar[k].f = af[k], ar[k].m = am[k];                          \
        }                                                                                           \
    }                                                                                               \
    LB_BATCH_UNITS_TABLE(batch_units_##name, name##_blocks)
#define KQ_RAW(ctx, k, ib, NB) ((const struct lb_block_q8_k *)((const void *const *)(ctx))[k] + (ib))

/* The batch form over raw Q8_K activations (Q2_K, Q3_K, Q5_K, Q6_K). */
#define KQ_BATCH_RAW(name, FINISH)                                                                  \
    static void dot_batch_##name##_q8_k(int64_t n, const void *w, size_t rb, const void *const *act,  \
                                        float *const *y, int n_b, int n_rows)                       \
    {                                                                                               \
        lb_gemv_batch_run(batch_units_##name, FINISH, act, w, rb, y, n_b, n_rows, n / LB_QK_K,        \
                          lb_gemv_batch_chunk(n_b, sizeof(struct lb_block_q8_k), 1), sizeof(struct kq_acc)); \
    }

/* finish of a record: f + m (Q4_K keeps -dmin in m), f - m (Q2_K, Q5_K),
 * f alone (Q3_K, Q6_K, IQ4_XS) */
static inline __attribute__((always_inline)) float finish1_fpm(const void *rec, const char *row, int k,
                                                          const void *ctx)
{
    (void)row, (void)k, (void)ctx;
    const struct kq_acc *a = rec;
    return hsum_ps(a->f) + hsum256_ps(a->m);
}

static inline __attribute__((always_inline)) float finish1_fm(const void *rec, const char *row, int k,
                                                          const void *ctx)
{
    (void)row, (void)k, (void)ctx;
    const struct kq_acc *a = rec;
    return hsum_ps(a->f) - hsum256_ps(a->m);
}

static inline __attribute__((always_inline)) float finish1_f(const void *rec, const char *row, int k,
                                                          const void *ctx)
{
    (void)row, (void)k, (void)ctx;
    return hsum_ps(((const struct kq_acc *)rec)->f);
}

LB_BATCH_FINISH(finish_fpm, sizeof(struct kq_acc), finish1_fpm)
LB_BATCH_FINISH(finish_fm, sizeof(struct kq_acc), finish1_fm)
LB_BATCH_FINISH(finish_f, sizeof(struct kq_acc), finish1_f)

#define Q4K_ACT(ctx, k, ib, NB) (&((const struct q4k_prep *)(ctx))[(ib) * (NB) + (k)])
KQ_BATCH_BLOCKS(q4_k, struct lb_block_q4_k, struct q4k_w, q4k_unpack, q4k_meet, Q4K_ACT)

/* The batch form of a K format with a prepared activation (Q4_K,
 * IQ4_XS): the n_b activations prepared block by block interleaved
 * (p[ib * n_b + k]), then the common driver; should the buffer not be had,
 * one activation at a time through dot_rows (the same bits). */
#define KQ_BATCH_PREPARED(name, PREP, PREPARE, ROWS, FINISH, ACC_SIZE)                              \
    static void dot_batch_##name##_q8_k(int64_t n, const void *w, size_t rb, const void *const *act,  \
                                        float *const *y, int n_b, int n_rows)                       \
    {                                                                                               \
        const int64_t nb = n / LB_QK_K;                                                             \
        const size_t bytes = (size_t)nb * (size_t)n_b * sizeof(PREP);                               \
        PREP *p = nb > 0 ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;                        \
        if (!p) {                                                                                   \
            for (int k = 0; k < n_b; k++) ROWS(n, w, rb, act[k], y[k], n_rows);                     \
            return;                                                                                 \
        }                                                                                           \
        for (int k = 0; k < n_b; k++)                                                               \
            for (int64_t ib = 0; ib < nb; ib++)                                                     \
                PREPARE((const struct lb_block_q8_k *)act[k] + ib, 1, &p[ib * n_b + k]);            \
        _Static_assert((ACC_SIZE) <= LB_BATCH_ACC_MAX, "accumulator record");                       \
        lb_gemv_batch_run(batch_units_##name, FINISH, p, w, rb, y, n_b, n_rows, nb,                 \
                          lb_gemv_batch_chunk(n_b, sizeof *p, 1), ACC_SIZE);                        \
        free(p);                                                                                    \
    }

KQ_BATCH_PREPARED(q4_k, struct q4k_prep, q4k_prepare, dot_rows_q4_k_q8_k, finish_fpm, sizeof(struct kq_acc))

static float dot_q4_k_q8_k(int64_t n, const void *w, const void *act)
{
    float y;
    dot_rows_q4_k_q8_k(n, w, 0, act, &y, 1);
    return y;
}

/* q in [0, 31]: as Q4_K plus the fifth bit of element 64c + l (l < 32),
 * bit 2c of qh[l], and of 64c + 32 + l, bit 2c + 1, added as 16 where a
 * VPTESTMB of the broadcast qh sets it. */
/* The weight half of a Q5_K super-block: the 5-bit quants, the unpacked
 * [sc, mn] bytes, d and dmin as floats. */
struct q5k_w {
    __m512i wv[4];
    __m512i sm;
    __m128 dd;
};

static inline __attribute__((always_inline)) void q5k_unpack(const struct lb_block_q5_k *b, struct q5k_w *u)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), b16 = _mm512_set1_epi8(0x10), cnt = counts16(0, 4);
    u->sm = _mm512_broadcast_i32x4(k4_scales_mins(b->scales));
    const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->qh));
    for (int c = 0; c < 4; c++) {
        const __m512i hb = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * c))),
                                              _mm256_set1_epi8((char)(1 << (2 * c + 1))), 1);
        u->wv[c] = _mm512_and_si512(bcast32_srlv(b->qs + 32 * c, cnt), m4);
        u->wv[c] = _mm512_mask_add_epi8(u->wv[c], _mm512_test_epi8_mask(hm, hb), u->wv[c], b16);
    }
    u->dd = d_dmin(&b->d);
}

/* The activation half, into accf (d-scaled sums) and accm (dmin-scaled
 * mins, subtracted at the end). */
static inline __attribute__((always_inline)) void
q5k_meet(const struct q5k_w *u, const struct lb_block_q8_k *a, __m512 *accf, __m256 *accm)
{
    __m512i p[2];
    dot_packed(u->wv, a->qs, p);
    const __m512i s = k4_scaled(p, u->sm);
    const __m256i smin = k4_mins(u->sm, a->bsums);
    const __m128 dv = _mm_mul_ps(u->dd, _mm_set1_ps(a->d));
    *accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_broadcastss_ps(dv), *accf);
    *accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(smin), _mm256_broadcastss_ps(_mm_movehdup_ps(dv)), *accm);
}

static float dot_q5_k_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_q5_k *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    __m512 accf = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        struct q5k_w u;
        q5k_unpack(&x[ib], &u);
        q5k_meet(&u, &a[ib], &accf, &accm);
    }
    return hsum_ps(accf) - hsum256_ps(accm);
}

LB_ROWS_BY_DOT(dot_rows_q5_k_q8_k, dot_q5_k_q8_k)

/* ---- Q2_K, Q3_K, Q6_K: 16 sub-blocks of 16 ---------------------------- */

/* zmm c covers sub-blocks 4c..4c+3, dword lanes 4L..4L+3 sub-block 4c+L;
 * packed, lane L holds sub-blocks L, 4+L (p[0]) and 8+L, 12+L (p[1]).
 * VPERMW indices spreading 16 int16 scales that way. */
#define F_P16_0(i) (((i) & 7) < 4 ? (i) / 8 : 4 + (i) / 8)
#define F_P16_1(i) (8 + F_P16_0(i))

/* sum_k scale_k * (products of sub-block k), plus acc unless acc is
 * NULL; scz: the 16 scales as int16 in the lower 256 bits. */
static inline __m512i k16_scaled(const __m512i *acc, const __m512i p[2], __m512i scz)
{
    const __m512i s0 = _mm512_permutexvar_epi16(IDX32(F_P16_0), scz);
    const __m512i s = acc ? _mm512_dpwssd_epi32(*acc, p[0], s0) : _mm512_madd_epi16(p[0], s0);
    return _mm512_dpwssd_epi32(s, p[1], _mm512_permutexvar_epi16(IDX32(F_P16_1), scz));
}

/* element 128h + 32j + l is bits 2j..2j+1 of byte 32h + l: zmm 2h takes
 * j = 0, 1 (shifts 0, 2), zmm 2h+1 j = 2, 3 (shifts 4, 6) */

/* q in [0, 3], sc, m in [0, 15]; int32 lanes per block <= 2 * 2 * 1524 * 15.
 * Mins: m_k * bsums_k. */
/* The weight half of a Q2_K super-block: the 2-bit quants, the scale
 * spreads, the mins (int16), d and dmin as floats. */
struct q2k_w {
    __m512i wv[4];
    __m512i s0, s1;
    __m256i mn;
    __m128 dd;
};

static inline __attribute__((always_inline)) void q2k_unpack(const struct lb_block_q2_k *b, struct q2k_w *u)
{
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m512i sh01 = counts16(0, 2), sh23 = counts16(4, 6);
    /* scale bytes zero-extended once: sc = low nibble, m = word >> 4 */
    const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
    const __m512i scz = _mm512_zextsi256_si512(_mm256_and_si256(sc16, _mm256_set1_epi16(0x0F)));
    u->mn = _mm256_srli_epi16(sc16, 4);
    for (int h = 0; h < 2; h++) {
        u->wv[2 * h] = _mm512_and_si512(bcast32_srlv(b->qs + 32 * h, sh01), m3);
        u->wv[2 * h + 1] = _mm512_and_si512(bcast32_srlv(b->qs + 32 * h, sh23), m3);
    }
    u->s0 = _mm512_permutexvar_epi16(IDX32(F_P16_0), scz);
    u->s1 = _mm512_permutexvar_epi16(IDX32(F_P16_1), scz);
    u->dd = d_dmin(&b->d);
}

static inline __attribute__((always_inline)) void
q2k_meet(const struct q2k_w *u, const struct lb_block_q8_k *a, __m512 *accf, __m256 *accm)
{
    __m512i p[2];
    dot_packed(u->wv, a->qs, p);
    const __m512i s = _mm512_dpwssd_epi32(_mm512_madd_epi16(p[0], u->s0), p[1], u->s1);
    const __m256i smin = _mm256_madd_epi16(u->mn, _mm256_loadu_si256((const __m256i *)a->bsums));
    const __m128 dv = _mm_mul_ps(u->dd, _mm_set1_ps(a->d));
    *accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_broadcastss_ps(dv), *accf);
    *accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(smin), _mm256_broadcastss_ps(_mm_movehdup_ps(dv)),
                            *accm);
}

static float dot_q2_k_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_q2_k *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    __m512 accf = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        struct q2k_w u;
        q2k_unpack(&x[ib], &u);
        q2k_meet(&u, &a[ib], &accf, &accm);
    }
    return hsum_ps(accf) - hsum256_ps(accm);
}

/* The 16 six-bit scales minus 32, as int8 (layout in lb-blocks.h). p is
 * the block's byte 94: 16 bytes from there end at the block's end and
 * hold qs[62..63], scales[0..11], d. */
static inline __m128i q3_k_scales(const uint8_t *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)p);
    /* low 4 bits: sc k < 8 low nibble of scales[k], k >= 8 high nibble of
     * scales[k - 8] */
    __m128i lo = _mm_shuffle_epi8(v, _mm_setr_epi8(2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 6, 7, 8, 9));
    lo = _mm_and_si128(_mm_srlv_epi64(lo, _mm_set_epi64x(4, 0)), _mm_set1_epi8(0x0F));
    /* top 2 bits: bits 2(k/4).. of scales[8 + k % 4] */
    __m128i hi = _mm_shuffle_epi8(v, _mm_setr_epi8(10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13));
    hi = _mm_and_si128(_mm_srlv_epi32(hi, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi32(hi, 4)), _mm_set1_epi8(32));
}

/* The weight half of a Q6_K super-block: the 6-bit quants (+32, as
 * unsigned bytes), the scales spread for the two products, scale x -32
 * for the offset against bsums, and d. */
struct q6k_w {
    __m512i wv[4];
    __m512i s0, s1; /* k16_scaled's two scale spreads */
    __m256i scm;    /* sc x -32 (int16) */
    float d;
};

static inline __attribute__((always_inline)) void q6k_unpack(const struct lb_block_q6_k *b, struct q6k_w *u)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    /* qh bits 2j..2j+1 to bits 4-5: j=0 <<4, j=1 <<2 (elements 0..63 of the
     * half); j=2 as is, j=3 >>2 (64..127) */
    const __m512i sh_lo = counts16(4, 2), sh_hi = counts16(0, 2);
    const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
    for (int h = 0; h < 2; h++) {
        const __m512i l = _mm512_loadu_si512(b->ql + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
        /* 0xF8: A | (B & C) */
        u->wv[2 * h] = _mm512_ternarylogic_epi32(_mm512_and_si512(l, m4), _mm512_sllv_epi16(qh, sh_lo), m30, 0xF8);
        u->wv[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                                     _mm512_srlv_epi16(qh, sh_hi), m30, 0xF8);
    }
    const __m512i scz = _mm512_zextsi256_si512(sc);
    u->s0 = _mm512_permutexvar_epi16(IDX32(F_P16_0), scz);
    u->s1 = _mm512_permutexvar_epi16(IDX32(F_P16_1), scz);
    u->scm = _mm256_mullo_epi16(sc, _mm256_set1_epi16(-32));
    u->d = fp16_to_f32(b->d);
}

/* The activation half: one unpacked super-block against one Q8_K block. */
static inline __attribute__((always_inline)) void
q6k_meet(const struct q6k_w *u, const struct lb_block_q8_k *a, __m512 *accf, __m256 *accm)
{
    (void)accm; /* no mins: the batch record's m stays 0 */
    __m512i p[2];
    dot_packed(u->wv, a->qs, p);
    const __m512i off =
        _mm512_zextsi256_si512(_mm256_madd_epi16(u->scm, _mm256_loadu_si256((const __m256i *)a->bsums)));
    const __m512i s = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(off, p[0], u->s0), p[1], u->s1);
    const float d = u->d * a->d;
    *accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(d), *accf);
}

/* Q3_K: u = q + 4 in [0, 7] (low 2 bits as Q2_K, plus 4 where bit 4h + j
 * of hmask[l] is set), scales sc - 32 in [-32, 31]; int32 lane per block
 * <= 2 * 2 * 3556 * 32 + 2 * 2032 * 128. Offset: -4 * sum_k (sc_k - 32)
 * bsums_k. The activation half is Q6_K's (q6k_meet: the same arithmetic
 * with an offset factor of -4 instead of -32), so the weight half fills
 * its struct. */
static inline __attribute__((always_inline)) void q3k_unpack(const struct lb_block_q3_k *b, struct q6k_w *u)
{
    const __m512i m3 = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
    const __m512i sh01 = counts16(0, 2), sh23 = counts16(4, 6);
    const __m256i sc = _mm256_cvtepi8_epi16(q3_k_scales((const uint8_t *)b + 94));
    const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->hmask));
    for (int h = 0; h < 2; h++) {
        u->wv[2 * h] = _mm512_and_si512(bcast32_srlv(b->qs + 32 * h, sh01), m3);
        u->wv[2 * h + 1] = _mm512_and_si512(bcast32_srlv(b->qs + 32 * h, sh23), m3);
    }
    for (int c = 0; c < 4; c++) {
        const __m512i hb = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * c))),
                                              _mm256_set1_epi8((char)(1 << (2 * c + 1))), 1);
        u->wv[c] = _mm512_mask_add_epi8(u->wv[c], _mm512_test_epi8_mask(hm, hb), u->wv[c], four);
    }
    const __m512i scz = _mm512_zextsi256_si512(sc);
    u->s0 = _mm512_permutexvar_epi16(IDX32(F_P16_0), scz);
    u->s1 = _mm512_permutexvar_epi16(IDX32(F_P16_1), scz);
    u->scm = _mm256_mullo_epi16(sc, _mm256_set1_epi16(-4));
    u->d = fp16_to_f32(b->d);
}

static float dot_q3_k_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_q3_k *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    __m512 accf = _mm512_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        struct q6k_w u;
        q3k_unpack(&x[ib], &u);
        q6k_meet(&u, &a[ib], &accf, NULL);
    }
    return hsum_ps(accf);
}

static float dot_q6_k_q8_k(int64_t n, const void *w, const void *act)
{
    const struct lb_block_q6_k *x = w;
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    __m512 accf = _mm512_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        struct q6k_w u;
        q6k_unpack(&x[ib], &u);
        q6k_meet(&u, &a[ib], &accf, NULL);
    }
    return hsum_ps(accf);
}

LB_ROWS_BY_DOT(dot_rows_q6_k_q8_k, dot_q6_k_q8_k)

/* ---- batch forms of the K formats read as they are (Q8_K blocks) ---- */

KQ_BATCH_BLOCKS(q6_k, struct lb_block_q6_k, struct q6k_w, q6k_unpack, q6k_meet, KQ_RAW)
KQ_BATCH_BLOCKS(q3_k, struct lb_block_q3_k, struct q6k_w, q3k_unpack, q6k_meet, KQ_RAW)
KQ_BATCH_BLOCKS(q5_k, struct lb_block_q5_k, struct q5k_w, q5k_unpack, q5k_meet, KQ_RAW)
KQ_BATCH_BLOCKS(q2_k, struct lb_block_q2_k, struct q2k_w, q2k_unpack, q2k_meet, KQ_RAW)
KQ_BATCH_RAW(q6_k, finish_f)
KQ_BATCH_RAW(q3_k, finish_f)
KQ_BATCH_RAW(q5_k, finish_fm)
KQ_BATCH_RAW(q2_k, finish_fm)

LB_ROWS_BY_DOT(dot_rows_q2_k_q8_k, dot_q2_k_q8_k)
LB_ROWS_BY_DOT(dot_rows_q3_k_q8_k, dot_q3_k_q8_k)

/* ---- IQ4_XS ---------------------------------------------------------- */

/* Table values t (int8, |t| <= 127) times int8 activations: maddubs takes
 * |t| (a second table) and the activation negated where t < 0 (nibble <
 * 8: the grid is ascending with 8 negative entries): pair sums <= 2 * 127
 * * 127; int32 lane per block <= 4 * 2 * 32258 * 32 < 2^24.
 *
 * Rows against a prepared activation (as Q4_K above, same reasons): 64
 * weight bytes are sub-blocks 4h..4h+3, one per 128-bit lane, low nibbles
 * elements 32k + [0, 16), high nibbles 32k + 16 + [0, 16); the activation
 * is reordered once per call to match (the former loop reordered every
 * row's nibbles with 4 VPERMT2Q per block instead), which also puts one
 * sub-block in each 128-bit lane of all four products, so two VPERMW
 * scale spreads per block serve them. dot_iq4_xs_q8_k is this with one row. */
struct iq4xs_prep {
    _Alignas(64) int8_t qs[256]; /* [4][64]: lane k of zmm 2h + j holds
                                    elements 128h + 32k + 16j + [0, 16) */
    float d;
};
#define IQ4XS_PREP_BLOCKS 64 /* 20 KiB of stack, as Q4K_PREP_BLOCKS */

static void iq4xs_prepare(const struct lb_block_q8_k *a, int64_t nb, struct iq4xs_prep *p)
{
    for (int64_t ib = 0; ib < nb; ib++) {
        /* 128-bit lanes [0, 2] of each (0x88) or [1, 3] (0xDD) */
        Q8K_LANES(a[ib].qs, p[ib].qs, 0x88, 0xDD);
        p[ib].d = a[ib].d;
    }
}

/* VPERMW indices: int16 lane i is in 128-bit lane i / 8, sub-block
 * 4h + i / 8 */
#define F_XS0(i) ((i) / 8)
#define F_XS1(i) (4 + (i) / 8)

/* The weight half of an IQ4_XS super-block: the table magnitudes of the
 * four nibble vectors, where the value is negative, the two scale
 * spreads, d. */
struct iq4xs_w {
    __m512i t[4];
    __mmask64 neg[4];
    __m512i s0, s1;
    float d;
};

static inline __attribute__((always_inline)) void iq4xs_unpack(const struct lb_block_iq4_xs *b, struct iq4xs_w *u)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(8);
    const __m512i tabs = _mm512_broadcast_i32x4(_mm_abs_epi8(_mm_loadu_si128((const __m128i *)lb_kvalues_iq4nl)));
    /* ls - 32 as int16 lanes 0-7: the low nibble k of scales_l (bytes 4..7
     * of the block) and bits 2k..2k+1 of scales_h (bytes 2, 3) above it;
     * vector ops, as the scalar bit spreading cost ~24 instructions per
     * block */
    const __m128i hdr = _mm_loadu_si128((const __m128i *)b);
    const __m128i lw = _mm_srlv_epi16(_mm_shuffle_epi8(hdr, _mm_setr_epi8(4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1)),
                                      _mm_setr_epi16(0, 4, 0, 4, 0, 4, 0, 4));
    __m128i hw = _mm_srlv_epi16(_mm_shuffle_epi8(hdr, _mm_setr_epi8(2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3)),
                                _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14));
    hw = _mm_slli_epi16(_mm_and_si128(hw, _mm_set1_epi16(3)), 4);
    /* 0xE4: C ? A : B bitwise, C = 0x000F; hw has no bit below 4 */
    const __m128i ls = _mm_ternarylogic_epi32(lw, hw, _mm_set1_epi16(0x000F), 0xE4);
    const __m512i scz = _mm512_zextsi128_si512(_mm_sub_epi16(ls, _mm_set1_epi16(32)));
    const __m512i q0 = _mm512_loadu_si512(b->qs), q1 = _mm512_loadu_si512(b->qs + 64);
    const __m512i v[4] = {_mm512_and_si512(q0, m4), _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4),
                          _mm512_and_si512(q1, m4), _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4)};
    for (int c = 0; c < 4; c++) {
        u->neg[c] = _mm512_testn_epi8_mask(v[c], eight);
        u->t[c] = _mm512_shuffle_epi8(tabs, v[c]);
    }
    u->s0 = _mm512_permutexvar_epi16(IDX32(F_XS0), scz);
    u->s1 = _mm512_permutexvar_epi16(IDX32(F_XS1), scz);
    u->d = fp16_to_f32(b->d);
}

static inline __attribute__((always_inline)) void
iq4xs_meet(const struct iq4xs_w *u, const struct iq4xs_prep *pb, __m512 *accf, __m256 *accm)
{
    (void)accm; /* no mins */
    __m512i pr[4];
    for (int c = 0; c < 4; c++) {
        const __m512i av = _mm512_load_si512(pb->qs + 64 * c);
        pr[c] = _mm512_maddubs_epi16(u->t[c], _mm512_mask_sub_epi8(av, u->neg[c], _mm512_setzero_si512(), av));
    }
    __m512i s = _mm512_madd_epi16(pr[0], u->s0);
    s = _mm512_dpwssd_epi32(s, pr[1], u->s0);
    s = _mm512_dpwssd_epi32(s, pr[2], u->s1);
    s = _mm512_dpwssd_epi32(s, pr[3], u->s1);
    const float d = u->d * pb->d;
    *accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(d), *accf);
}

static inline __attribute__((always_inline)) __m512
iq4xs_row(const struct lb_block_iq4_xs *x, const struct iq4xs_prep *p, int64_t nb, __m512 accf)
{
    for (int64_t ib = 0; ib < nb; ib++) {
        struct iq4xs_w u;
        iq4xs_unpack(&x[ib], &u);
        iq4xs_meet(&u, &p[ib], &accf, NULL);
    }
    return accf;
}

static void dot_rows_iq4_xs_q8_k(int64_t n, const void *w, size_t rb, const void *act, float *y, int n_rows)
{
    const struct lb_block_q8_k *a = act;
    const int64_t nb = n / LB_QK_K;
    struct iq4xs_prep prep[IQ4XS_PREP_BLOCKS];
    if (nb <= IQ4XS_PREP_BLOCKS) {
        iq4xs_prepare(a, nb, prep);
        for (int r = 0; r < n_rows; r++)
            y[r] = hsum_ps(iq4xs_row((const struct lb_block_iq4_xs *)((const char *)w + (size_t)r * rb), prep, nb,
                                     _mm512_setzero_ps()));
        return;
    }
    for (int r = 0; r < n_rows; r++) {
        const struct lb_block_iq4_xs *x = (const struct lb_block_iq4_xs *)((const char *)w + (size_t)r * rb);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t c = 0; c < nb; c += IQ4XS_PREP_BLOCKS) {
            const int64_t k = nb - c < IQ4XS_PREP_BLOCKS ? nb - c : IQ4XS_PREP_BLOCKS;
            iq4xs_prepare(a + c, k, prep);
            acc = iq4xs_row(x + c, prep, k, acc);
        }
        y[r] = hsum_ps(acc);
    }
}

static float dot_iq4_xs_q8_k(int64_t n, const void *w, const void *act)
{
    float y;
    dot_rows_iq4_xs_q8_k(n, w, 0, act, &y, 1);
    return y;
}

#define IQ4XS_ACT(ctx, k, ib, NB) (&((const struct iq4xs_prep *)(ctx))[(ib) * (NB) + (k)])
KQ_BATCH_BLOCKS(iq4_xs, struct lb_block_iq4_xs, struct iq4xs_w, iq4xs_unpack, iq4xs_meet, IQ4XS_ACT)
KQ_BATCH_PREPARED(iq4_xs, struct iq4xs_prep, iq4xs_prepare, dot_rows_iq4_xs_q8_k, finish_f, sizeof(struct kq_acc))


/* ---- Q8_K activation quantizer ---------------------------------------- */
/* ---- Q8_K activation quantizer ---------------------------------------- */

/* Byte-identical to lb_quantize_q8_k_ref: amax by max of |x| (order does
 * not matter for max), d = amax / 127 in f32, q = floor(x / d + 0.5) with
 * the division and the +0.5 in double (correctly rounded, like the
 * reference's (double)x / d), clamped to [-127, 127]; d == 0 gives zeros
 * (also when amax / 127 underflows). VDIVPD is the cost (32 per block),
 * small next to a GEMV's rows. */
static void quantize_q8_k(const float *x, void *blocks, int64_t n)
{
    struct lb_block_q8_k *y = blocks;
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    const __m512d half = _mm512_set1_pd(0.5), lo = _mm512_set1_pd(-127.0), hi = _mm512_set1_pd(127.0);
    for (int64_t ib = 0; ib < n / LB_QK_K; ib++) {
        const float *xb = x + ib * LB_QK_K;
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < LB_QK_K; j += 16)
            m = _mm512_max_ps(m, _mm512_and_ps(_mm512_loadu_ps(xb + j), absmask));
        const float amax = _mm512_reduce_max_ps(m);
        const float d = amax / 127.0f;
        y[ib].d = d;
        if (d == 0) {
            memset(y[ib].qs, 0, sizeof y[ib].qs);
            memset(y[ib].bsums, 0, sizeof y[ib].bsums);
            continue;
        }
        const __m512d dv = _mm512_set1_pd((double)d);
        for (int k = 0; k < LB_QK_K / 16; k++) {
            const __m512 v = _mm512_loadu_ps(xb + 16 * k);
            __m512d q0 = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
            __m512d q1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
            /* 0x09: round toward -inf, exceptions suppressed */
            q0 = _mm512_roundscale_pd(_mm512_add_pd(_mm512_div_pd(q0, dv), half), 0x09);
            q1 = _mm512_roundscale_pd(_mm512_add_pd(_mm512_div_pd(q1, dv), half), 0x09);
            q0 = _mm512_min_pd(_mm512_max_pd(q0, lo), hi);
            q1 = _mm512_min_pd(_mm512_max_pd(q1, lo), hi);
            const __m512i qi = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtpd_epi32(q0)),
                                                  _mm512_cvtpd_epi32(q1), 1);
            _mm_storeu_si128((__m128i *)(y[ib].qs + 16 * k), _mm512_cvtepi32_epi8(qi));
            y[ib].bsums[k] = (int16_t)_mm512_reduce_add_epi32(qi); /* |sum| <= 16 * 127 */
        }
    }
}

/* ---- the table --------------------------------------------------------- */

static const struct lb_dot_impl dots[] = {
    {LB_QTYPE_Q4_K, LB_ISA_AVX512, LB_REQ_AVX512_VNNI, "avx512_vnni", dot_q4_k_q8_k},
    {LB_QTYPE_Q6_K, LB_ISA_AVX512, LB_REQ_AVX512_VNNI, "avx512_vnni", dot_q6_k_q8_k},
    {LB_QTYPE_Q5_K, LB_ISA_AVX512, LB_REQ_AVX512_VNNI, "avx512_vnni", dot_q5_k_q8_k},
    {LB_QTYPE_Q3_K, LB_ISA_AVX512, LB_REQ_AVX512_VNNI, "avx512_vnni", dot_q3_k_q8_k},
    {LB_QTYPE_Q2_K, LB_ISA_AVX512, LB_REQ_AVX512_VNNI, "avx512_vnni", dot_q2_k_q8_k},
    {LB_QTYPE_IQ4_XS, LB_ISA_AVX512, LB_REQ_AVX512_VNNI, "avx512_vnni", dot_iq4_xs_q8_k},
    {LB_QTYPE_COUNT, LB_ISA_AVX512, 0, NULL, NULL},
};

static const struct lb_actq_impl actqs[] = {
    {LB_QTYPE_Q8_K, LB_ISA_AVX512, LB_REQ_NONE, quantize_q8_k},
    {LB_QTYPE_COUNT, LB_ISA_AVX512, 0, NULL},
};

const struct lb_dot_table lb_gemv_table_k_avx512 = {dots, actqs};

const struct lb_dot_rows_impl lb_gemv_rows_k_avx512[] = {
    {dot_q4_k_q8_k, dot_rows_q4_k_q8_k, dot_batch_q4_k_q8_k},
    {dot_iq4_xs_q8_k, dot_rows_iq4_xs_q8_k, dot_batch_iq4_xs_q8_k},
    {dot_q6_k_q8_k, dot_rows_q6_k_q8_k, dot_batch_q6_k_q8_k},
    {dot_q5_k_q8_k, dot_rows_q5_k_q8_k, dot_batch_q5_k_q8_k},
    {dot_q3_k_q8_k, dot_rows_q3_k_q8_k, dot_batch_q3_k_q8_k},
    {dot_q2_k_q8_k, dot_rows_q2_k_q8_k, dot_batch_q2_k_q8_k},
    {NULL, NULL, NULL},
};

#endif /* x86 */
