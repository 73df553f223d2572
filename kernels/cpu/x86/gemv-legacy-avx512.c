/* gemv-legacy-avx512.c: the AVX-512 level of the row dot products of the
 * 32-element formats (Q8_0, Q4_0, Q5_0, IQ4_NL, MXFP4 against Q8_0
 * activations; Q4_1, Q5_1 against Q8_1) and of the Q8_0 / Q8_1 activation
 * quantizers (lb-gemv.h).
 *
 * Compiled with the AVX-512 flags (F/BW/VL/DQ/VNNI/BF16, see CMakeLists),
 * reached only through the dispatch in kernels/cpu/gemv.c, which checks
 * each row's `requires` bits against the CPU. Every dot here uses
 * VPDPBUSD (LB_REQ_AVX512_VNNI); an AVX-512 CPU without VNNI (Skylake-X)
 * gets the AVX2 level's rows.
 *
 * Workload assumptions: decode GEMV, one weight row (n = 1k..64k) streamed
 * from DRAM per call against an activation row that stays in L1/L2. The
 * target is memory bandwidth, so the per-block instruction (and load)
 * count is what matters: one core of the dev VM (Zen 5, ~3.4 GHz) reads
 * ~33 GB/s on a quiet machine, i.e. one Q4_0 step (four 18-byte blocks)
 * every ~7 cycles; the loop must run well ahead of that to leave the
 * memory system the slack it needs.
 *
 * The formats with Q8_0 activations and 4-bit or 5-bit weights (Q4_0,
 * IQ4_NL, Q5_0, MXFP4) run against a prepared activation (see "dots
 * against Q8_0" below):
 * once per call, for all the rows of a worker's slice (lb_dot_rows_fn),
 * the activation is laid out as the step needs it in 64-byte aligned
 * lines, with its offset term and spread f32 scales. Their single-row
 * dots are the one-row case. Per four-block step that leaves, counted in
 * the disassembly (gcc 12 -O3): Q4_0 19.5 instructions (was 45), IQ4_NL
 * 21.5 (47), Q5_0 30 (55), MXFP4 26.5 (50); docs/gemv.md has the timings.
 * Q8_0 reads a lighter prepared activation (quants in aligned lines, d as
 * floats, see q80_row), Q4_1 / Q5_1 one of their own (Q8_1 activations,
 * see lane1_rows).
 *
 * Layout of the work (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4): a step is
 * four blocks, lane k (128 bits) of a zmm holding block k. The weights'
 * 16 qs bytes of each block are gathered by one VPERMT2W from a 64-byte
 * load and the step's remaining 4..32 bytes; low nibbles (elements 0..15)
 * and high nibbles (16..31) are then two zmm, the fp16 d by VPERMW into
 * [d0 x4, d1 x4, d2 x4, d3 x4] for VCVTPH2PS: the per-lane scale of the
 * int32 lanes VPDPBUSD leaves (four per block). The activation's low /
 * high halves in the same lanes come from the prepared activation (Q4_1 /
 * Q5_1: 32-byte loads [a0 | a1], [a2 | a3] and two VSHUFI64X2, d and s
 * packed through a GPR). Per step: 2 VPDPBUSD (4 for Q4_1 / Q5_1), one
 * FMA, no horizontal work until the end of the row. Q8_0 weights, 34-byte
 * blocks (17 words), take their quants and scales from three loads per
 * four blocks by VPERMT2W (see q80_unpack). (Q4_1 / Q5_1 now read their
 * own prepared activation, lane1_rows.)
 *
 * VPDPBUSD multiplies unsigned by signed bytes, so every weight is made
 * unsigned by an offset c (Q4_0: the stored q, c = 8; Q5_0: c = 16; Q8_0:
 * w ^ 0x80 = w + 128, c = 128, which also covers w = -128; IQ4_NL and
 * MXFP4: a VPSHUFB table of value + 128, c = 128) and each int32 lane's
 * c * sum(act bytes of the lane) is subtracted: computed once per call
 * (two VPDPBUSD of the constant c against the activation, negated) and
 * used as the starting value of the lane's VPDPBUSD accumulator. Both are
 * exact in int32 (|sum| < 2^23), so each block's integer sum equals the
 * reference's. Q4_1 / Q5_1 are unsigned already (their offset is the
 * m * s term, four blocks per VCVTPH2PS).
 *
 * The int32 lanes are converted to float and FMA'd with the block's scale
 * d_w * d_a into a float accumulator, so the result differs from the
 * reference (double accumulation) only by float rounding. Leftover blocks
 * (nb % 4) take a scalar step with the same arithmetic.
 *
 * MXFP4 scales are d_a * 2^(e - 128) by VSCALEFPS, in float: e < 25 or
 * e > 239 with extreme activation scales would leave the float range
 * where the reference (double) does not; real checkpoints stay far inside.
 */
#include "../gemv-impl.h"

#if LB_GEMV_HAVE_X86

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "../../quant/lb-blocks.h"

/* ---- index tables for VPERMW / VPERMT2W -------------------------------
 * A step covers four blocks. "Word w" is 16-bit word w of the step's
 * bytes (block k of a format with B-byte blocks starts at word k B / 2).
 * A two-source permute reads indices 0..31 from its first zmm and 32..63
 * from its second; with loads at byte 0 and byte 64 the index is the word
 * number itself. Lane k of a result (128 bits, 8 words) is block k. */

#define L8(b) (b), (b) + 1, (b) + 2, (b) + 3, (b) + 4, (b) + 5, (b) + 6, (b) + 7
#define Z8 0, 0, 0, 0, 0, 0, 0, 0
/* lane k <- words b + s k .. b + s k + 7 (16 bytes of block k) */
#define IDX4(b, s) {L8(b), L8((b) + (s)), L8((b) + 2 * (s)), L8((b) + 3 * (s))}
/* words 4 k .. 4 k + 3 <- word b + s k: block k's fp16 scale over the 4
 * int32 lanes its 128-bit lane holds after VPDPBUSD; the upper 16 words
 * are not used */
#define R4(b) (b), (b), (b), (b)
#define BCAST4(b, s) {R4(b), R4((b) + (s)), R4((b) + 2 * (s)), R4((b) + 3 * (s)), Z8, Z8}
/* words 0..3 <- word b + s k: four blocks' fp16 fields packed */
#define PACK4(b, s) {(b), (b) + (s), (b) + 2 * (s), (b) + 3 * (s)}

typedef int16_t lb_widx[32];

/* Weights: W0 = bytes 0..63 of the step, W1 = its remaining 4..32 bytes
 * (loaded by exactly their size, so nothing past the row is read). */
static const lb_widx q40_qs = IDX4(1, 9); /* Q4_0 and IQ4_NL, 18-byte blocks */
static const lb_widx q40_d = BCAST4(0, 9);
static const lb_widx q41_qs = IDX4(2, 10); /* Q4_1, 20 bytes */
static const lb_widx q41_d = BCAST4(0, 10);
static const lb_widx q41_m = PACK4(1, 10);
static const lb_widx q50_qs = IDX4(3, 11); /* Q5_0, 22 bytes */
static const lb_widx q50_d = BCAST4(0, 11);
/* fifth bits: words 0..3 = low 16 bits of each block's qh (elements
 * 0..15), words 4..7 = high 16 bits (elements 16..31) */
static const lb_widx q50_qh = {1, 12, 23, 34, 2, 13, 24, 35};
static const lb_widx q51_qs = IDX4(4, 12); /* Q5_1, 24 bytes */
static const lb_widx q51_d = BCAST4(0, 12);
static const lb_widx q51_m = PACK4(1, 12);
static const lb_widx q51_qh = {2, 14, 26, 38, 3, 15, 27, 39};
/* MXFP4, 17 bytes: blocks 0 and 2 start at odd bytes, so their qs come
 * from Ws = bytes 1..64 (block 0 at words 0.., block 2 at 17..), blocks 1
 * and 3 from W0:W1 (words 9.., 26..). e of block k is byte 17 k, i.e.
 * byte k of W0's lane k: one VPSHUFB zero-extends it into the lane's four
 * int32 (control bytes >= 0x80 give 0). */
static const lb_widx mx_qs13 = {Z8, L8(9), Z8, L8(26)};
static const lb_widx mx_qs02 = {L8(0), Z8, L8(17), Z8};
#define E4(k) (k), -1, -1, -1, (k), -1, -1, -1, (k), -1, -1, -1, (k), -1, -1, -1
static const int8_t mx_e[64] = {E4(0), E4(1), E4(2), E4(3)};

static inline __m512i ldidx(const int16_t *t) { return _mm512_loadu_si512(t); }

/* The step's 64-byte weight load. Several permutes read it; without the
 * empty asm GCC folds it into each as a memory operand, i.e. loads the
 * same (line-splitting) 64 bytes two or three times per step, and loads
 * are the bottleneck here (see below). */
static inline __m512i ld64_once(const uint8_t *p)
{
    __m512i v = _mm512_loadu_si512(p);
    __asm__("" : "+v"(v));
    return v;
}

/* The same 64 bytes by two 32-byte loads (one VINSERTI64X4 more): the
 * prepared-activation loops below read their weights this way. At a
 * 72-byte step nearly every 64-byte load splits a cache line, a 32-byte one
 * about half as often; from DRAM (1 GiB, one thread, median of 9
 * interleaved calls, 10:39 UTC) Q4_0 streamed at 85% of the read ceiling
 * this way and 84% with 64-byte loads, and the heavy prepared Q8_0 loop
 * that was tried then (see q80_prepare) 82% and 77%; from L2 it costs Q4_0 ~8% of
 * its (then ~2x) compute rate. */
static inline __m512i ld64_by32(const uint8_t *p)
{
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p)),
                                   _mm256_loadu_si256((const __m256i *)(p + 32)), 1);
    __asm__("" : "+v"(v));
    return v;
}

/* ---- shared steps ----------------------------------------------------- */

/* Loads are the scarce resource (measured on the Zen 5 VM: two vector
 * loads per cycle whatever their width, one per cycle when a load splits
 * a cache line), and split 64-byte loads also hurt the DRAM stream: with
 * the activation gathered by four unaligned 64-byte loads per step (the
 * natural VPERMT2W layout) one thread streamed Q4_0 at ~40% of the read
 * bandwidth although that loop ran at ~28 GB/s in L1. So the activation
 * comes in by 32-byte loads (two per block pair; Q4_1 / Q5_1 only now, the
 * other formats read a prepared, aligned copy), the weights by one
 * 64-byte load per step plus its 4..32-byte tail. Software prefetch of
 * the weights (1..8 KiB ahead, one per line) was tried and left out: it
 * helped a little only while other jobs loaded the memory system, and
 * cost up to ~10% on a quiet machine, where the hardware prefetcher keeps
 * up and the two extra load-port uops per step compete with the loads.
 * Tried again with the prepared-activation loops (T0, 1, 2 and 4 KiB
 * ahead): no better than without, from DRAM, on 1 or 2 threads. */

/* The four blocks' activation qs: lane k of *lo = qs[0..15] of block k,
 * of *hi = qs[16..31]; from [a0 | a1] and [a2 | a3] by two 128-bit lane
 * shuffles. */
static inline void act4(const int8_t *q0, const int8_t *q1, const int8_t *q2,
                        const int8_t *q3, __m512i *lo, __m512i *hi)
{
    __m512i x01 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)q0)),
                                     _mm256_loadu_si256((const __m256i *)q1), 1);
    __m512i x23 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)q2)),
                                     _mm256_loadu_si256((const __m256i *)q3), 1);
    *lo = _mm512_shuffle_i64x2(x01, x23, 0x88); /* lanes 0, 2 of each */
    *hi = _mm512_shuffle_i64x2(x01, x23, 0xDD); /* lanes 1, 3 */
}

/* Four 16-bit fields of consecutive blocks, packed low to high: the scales
 * that are not in a loaded zmm anyway go through a GPR (plain 2-byte
 * loads, no vector load that could split a line). */
#define FIELD4(p, i, f)                                                       \
    ((uint64_t)(p)[(i)].f | (uint64_t)(p)[(i) + 1].f << 16 |                 \
     (uint64_t)(p)[(i) + 2].f << 32 | (uint64_t)(p)[(i) + 3].f << 48)

/* Four fp16 -> float, value k in lanes 4 k .. 4 k + 3. */
static inline __m512 spread4(uint64_t h4)
{
    const __m512i idx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    __m128 f = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)h4));
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}

/* fp16 words 0..15 -> 16 floats */
static inline __m512 h2f(__m512i h) { return _mm512_cvtph_ps(_mm512_castsi512_si256(h)); }

/* k-masks of the fifth bits: words 0..3 of h -> elements 0..15 of the four
 * blocks (bit 16 k + j), words 4..7 -> elements 16..31 */
static inline void qh_masks(__m512i h, __mmask64 *lo, __mmask64 *hi)
{
    __m128i x = _mm512_castsi512_si128(h);
    *lo = _cvtu64_mask64((uint64_t)_mm_cvtsi128_si64(x));
    *hi = _cvtu64_mask64((uint64_t)_mm_extract_epi64(x, 1));
}

static inline float hsum(__m512 acc, __m128 accm)
{
    return _mm512_reduce_add_ps(_mm512_add_ps(acc, _mm512_zextps128_ps512(accm)));
}

/* 16-entry int8 grid + 128 (u8) in every 128-bit lane, for VPSHUFB */
static inline __m512i grid_u8(const int8_t *grid)
{
    __m128i t = _mm_xor_si128(_mm_loadu_si128((const __m128i *)grid), _mm_set1_epi8((char)0x80));
    return _mm512_broadcast_i32x4(t);
}

/* ---- scalar steps for the leftover blocks ----------------------------- */
/* Same integer sums as the reference; scale products in float. */

static inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

static inline int32_t sum_nib_q8(const uint8_t *qs, const int8_t *a, int off)
{
    int32_t s = 0;
    for (int j = 0; j < 16; j++)
        s += ((qs[j] & 15) - off) * a[j] + ((qs[j] >> 4) - off) * a[j + 16];
    return s;
}

static inline int32_t sum_grid_q8(const uint8_t *qs, const int8_t *a, const int8_t *grid)
{
    int32_t s = 0;
    for (int j = 0; j < 16; j++) s += grid[qs[j] & 15] * a[j] + grid[qs[j] >> 4] * a[j + 16];
    return s;
}

static inline int32_t sum_q5_q8(const uint8_t *qs, const uint8_t *qh, const int8_t *a, int off)
{
    uint32_t h;
    memcpy(&h, qh, sizeof h);
    int32_t s = 0;
    for (int j = 0; j < 16; j++) {
        int lo = (qs[j] & 15) | (int)((h >> j) & 1) << 4;
        int hi = (qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4;
        s += (lo - off) * a[j] + (hi - off) * a[j + 16];
    }
    return s;
}

static inline float e8m0(uint8_t e)
{
    uint32_t bits = e >= 2 ? (uint32_t)(e - 1) << 23 : 0x00200000u << e;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ---- dots against Q8_0: rows against a prepared activation ------------ */

/* Why: from DRAM the row loop must leave the core idle often enough to
 * keep the weight stream going, so what counts is instructions per weight
 * block. Everything that depends only on the activation is done once per
 * call for all the rows of a worker's slice (lb_dot_rows_fn), which are
 * then read one after another (one long stream; reading several rows side
 * by side measured slower from DRAM for Q4_K, docs/gemv.md):
 *  - its quants in the layout the weights' step needs, in 64-byte aligned
 *    lines (Q8_0's 34-byte blocks made half the 32-byte loads, and the
 *    lane shuffles after them, cross cache lines);
 *  - the offset term: each int32 lane's -c * sum(act bytes of the lane),
 *    exact, which becomes the VPDPBUSD accumulator's starting value: the
 *    two VPDPBUSD of c against the activation and the subtraction that
 *    every row repeated go away, and each lane's integer sum is the one the
 *    former loop computed (the reference's, |.| < 2^23);
 *  - its fp16 scales converted and spread to the lanes they scale.
 * The single-row dots are the one-row case of the same code, so a row's
 * result is the same bits whether it comes from the dot or from a
 * dot_rows call of any length or split. Two float accumulators (steps
 * alternate between them) hide the FMA latency; a step's last odd
 * iteration uses the first, the nb % 4 leftover blocks a scalar step with
 * the former arithmetic, added after the vector sum.
 *
 * A prepared activation is 64 bytes per block (8 KiB at 4096 columns, in
 * L1 while a row streams through; at 8192-14336 columns, 16-28 KiB, Q4_0
 * measured a few points of the read ceiling below the former loop from
 * DRAM, see docs/gemv.md). Up to PREP_STACK_STEPS steps live on the
 * stack; wider rows
 * take a heap buffer for the call (one malloc per call and worker: noise
 * next to the MiBs such a slice streams), and, should that fail, are
 * prepared chunk by chunk for every row, an even number of steps per
 * chunk, which gives the same bits (same steps, same accumulators). */
#define PREP_STACK_STEPS 64 /* 256 blocks, 8192 columns: 16 KiB */

/* Four blocks of the four-lane formats (Q4_0, IQ4_NL, Q5_0, MXFP4): lane
 * k of lo / hi = qs[0..15] / qs[16..31] of block k (act4's layout), nc =
 * -c (sum of the 4 lo + 4 hi bytes of that int32 lane), d = the block's
 * d in its four lanes. 256 bytes. */
struct lane_prep {
    _Alignas(64) int8_t lo[64];
    int8_t hi[64];
    int32_t nc[16];
    float d[16];
};

static void lane_prepare(const struct lb_block_q8_0 *y, int64_t ns, __m512i c, struct lane_prep *p)
{
    const __m512i z = _mm512_setzero_si512();
    for (int64_t s = 0; s < ns; s++, y += 4) {
        __m512i lo, hi;
        act4(y[0].qs, y[1].qs, y[2].qs, y[3].qs, &lo, &hi);
        _mm512_store_si512(p[s].lo, lo);
        _mm512_store_si512(p[s].hi, hi);
        _mm512_store_si512(p[s].nc, _mm512_sub_epi32(z, _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, c, lo), c, hi)));
        _mm512_store_ps(p[s].d, spread4(FIELD4(y, 0, d)));
    }
}

enum lane_kind { LANE_Q4_0, LANE_IQ4_NL, LANE_Q5_0, LANE_MXFP4 };

/* bytes of four weight blocks */
static inline int64_t lane_step_bytes(enum lane_kind k)
{
    return k == LANE_Q5_0 ? 88 : k == LANE_MXFP4 ? 68 : 72;
}

static inline __m512i lane_c(enum lane_kind k)
{
    return _mm512_set1_epi8(k == LANE_Q4_0 ? 8 : k == LANE_Q5_0 ? 16 : (char)0x80);
}

/* The weight half of a step (four blocks at w): the unsigned quants of
 * the lanes (*lo, *hi) and what their scale is made of (*sv: d_w spread
 * over the lanes as floats; MXFP4: its exponent e - 128 as floats). kind
 * is a constant where this is inlined, so each format gets its own loop. */
static inline __attribute__((always_inline)) void
lane_unpack(enum lane_kind kind, const uint8_t *w, __m512i *lo_, __m512i *hi_, __m512 *sv)
{
    const __m512i m4 = _mm512_set1_epi8(15), c = lane_c(kind);
    const __m512i w0 = ld64_by32(w);
    __m512i q, lo, hi;
    if (kind == LANE_Q5_0) {
        const __m512i w1 = _mm512_castsi256_si512(_mm256_maskz_loadu_epi16(0x0FFF, w + 64));
        q = _mm512_permutex2var_epi16(w0, ldidx(q50_qs), w1);
        __mmask64 klo, khi;
        qh_masks(_mm512_permutex2var_epi16(w0, ldidx(q50_qh), w1), &klo, &khi);
        lo = _mm512_and_si512(q, m4);
        hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        lo = _mm512_mask_add_epi8(lo, klo, lo, c);
        hi = _mm512_mask_add_epi8(hi, khi, hi, c);
        *sv = h2f(_mm512_permutex2var_epi16(w0, ldidx(q50_d), w1));
    } else if (kind == LANE_MXFP4) {
        const __m512i tbl = grid_u8(lb_kvalues_mxfp4);
        const __m512i ws = ld64_by32(w + 1);
        int32_t tail;
        memcpy(&tail, w + 64, sizeof tail); /* block 3's last 4 bytes */
        const __m512i w1 = _mm512_castsi128_si512(_mm_cvtsi32_si128(tail));
        q = _mm512_permutex2var_epi16(w0, ldidx(mx_qs13), w1);
        q = _mm512_mask_permutexvar_epi16(q, 0x00FF00FF, ldidx(mx_qs02), ws);
        lo = _mm512_shuffle_epi8(tbl, _mm512_and_si512(q, m4));
        hi = _mm512_shuffle_epi8(tbl, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
        const __m512i e = _mm512_sub_epi32(_mm512_shuffle_epi8(w0, _mm512_loadu_si512(mx_e)), _mm512_set1_epi32(128));
        *sv = _mm512_cvtepi32_ps(e);
    } else {
        const __m512i w1 = _mm512_castsi128_si512(_mm_loadl_epi64((const __m128i *)(w + 64)));
        q = _mm512_permutex2var_epi16(w0, ldidx(q40_qs), w1);
        lo = _mm512_and_si512(q, m4);
        hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        if (kind == LANE_IQ4_NL) {
            const __m512i tbl = grid_u8(lb_kvalues_iq4nl);
            lo = _mm512_shuffle_epi8(tbl, lo);
            hi = _mm512_shuffle_epi8(tbl, hi);
        }
        *sv = h2f(_mm512_permutexvar_epi16(ldidx(q40_d), w0));
    }
    *lo_ = lo;
    *hi_ = hi;
}

/* The activation half: int32 lanes (exact integer sums) in *i, their
 * scales d_w * d_a in *sc. MXFP4: d_a * 2^(e - 128) by VSCALEFPS: exact,
 * and it gives the f32 subnormals of e = 0, 1 as lb_e8m0_to_f32_half
 * does. */
static inline __attribute__((always_inline)) void
lane_meet(enum lane_kind kind, __m512i lo, __m512i hi, __m512 sv, const struct lane_prep *p, __m512i *i,
          __m512 *sc)
{
    *sc = kind == LANE_MXFP4 ? _mm512_scalef_ps(_mm512_load_ps(p->d), sv) : _mm512_mul_ps(sv, _mm512_load_ps(p->d));
    *i = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_load_si512(p->nc), lo, _mm512_load_si512(p->lo)), hi,
                             _mm512_load_si512(p->hi));
}

/* One step (four blocks at w) against prepared step p. */
static inline __attribute__((always_inline)) void
lane_step(enum lane_kind kind, const uint8_t *w, const struct lane_prep *p, __m512i *i, __m512 *sc)
{
    __m512i lo, hi;
    __m512 sv;
    lane_unpack(kind, w, &lo, &hi, &sv);
    lane_meet(kind, lo, hi, sv, p, i, sc);
}

/* Steps [0, ns) of one row (w: its first step's bytes) against prepared
 * steps, into the row's accumulators: even steps into acc0, odd into
 * acc1 (whatever ns, so that chunks of an even number of steps give the
 * same sums as one pass). */
static inline __attribute__((always_inline)) void
lane_row(enum lane_kind kind, const uint8_t *w, const struct lane_prep *p, int64_t ns, __m512 *acc0, __m512 *acc1)
{
    const int64_t sb = lane_step_bytes(kind);
    __m512 a0 = *acc0, a1 = *acc1;
    int64_t s = 0;
    for (; s + 2 <= ns; s += 2, w += 2 * sb) {
        __m512i i0, i1;
        __m512 s0, s1;
        lane_step(kind, w, &p[s], &i0, &s0);
        lane_step(kind, w + sb, &p[s + 1], &i1, &s1);
        a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), s0, a0);
        a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), s1, a1);
    }
    if (s < ns) {
        __m512i i0;
        __m512 s0;
        lane_step(kind, w, &p[s], &i0, &s0);
        a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), s0, a0);
    }
    *acc0 = a0;
    *acc1 = a1;
}

/* The nb % 4 blocks after the vector steps: the reference's integer sums,
 * scale products in float. */
static inline float lane_leftover(enum lane_kind kind, const uint8_t *row, const struct lb_block_q8_0 *y,
                                  int64_t ib, int64_t nb)
{
    float sum = 0;
    for (; ib < nb; ib++) {
        if (kind == LANE_Q5_0) {
            const struct lb_block_q5_0 *x = (const struct lb_block_q5_0 *)row;
            sum += fp16(x[ib].d) * fp16(y[ib].d) * (float)sum_q5_q8(x[ib].qs, x[ib].qh, y[ib].qs, 16);
        } else if (kind == LANE_MXFP4) {
            const struct lb_block_mxfp4 *x = (const struct lb_block_mxfp4 *)row;
            sum += e8m0(x[ib].e) * fp16(y[ib].d) * (float)sum_grid_q8(x[ib].qs, y[ib].qs, lb_kvalues_mxfp4);
        } else {
            const struct lb_block_q4_0 *x = (const struct lb_block_q4_0 *)row;
            sum += fp16(x[ib].d) * fp16(y[ib].d) *
                   (float)(kind == LANE_IQ4_NL ? sum_grid_q8(x[ib].qs, y[ib].qs, lb_kvalues_iq4nl)
                                               : sum_nib_q8(x[ib].qs, y[ib].qs, 8));
        }
    }
    return sum;
}

/* Heap buffer of n 64-byte aligned elements of size sz for a prepared
 * activation, or NULL (the caller then prepares chunk by chunk). */
static void *prep_alloc(int64_t n, size_t sz)
{
    size_t bytes = (size_t)n * sz;
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

static inline __attribute__((always_inline)) void
lane_rows(enum lane_kind kind, int64_t n, const void *w, size_t rb, const void *act, float *y, int n_rows)
{
    const struct lb_block_q8_0 *a = act;
    const int64_t nb = n / 32, ns = nb / 4, sb = lane_step_bytes(kind);
    const __m512i c = lane_c(kind);
    struct lane_prep stack[PREP_STACK_STEPS];
    struct lane_prep *heap = ns > PREP_STACK_STEPS ? prep_alloc(ns, sizeof *heap) : NULL;
    struct lane_prep *p = heap ? heap : stack;
    const bool whole = ns <= PREP_STACK_STEPS || heap;
    if (whole) lane_prepare(a, ns, c, p);
    for (int r = 0; r < n_rows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        if (whole) {
            lane_row(kind, row, p, ns, &acc0, &acc1);
        } else {
            for (int64_t s0 = 0; s0 < ns; s0 += PREP_STACK_STEPS) {
                const int64_t k = ns - s0 < PREP_STACK_STEPS ? ns - s0 : PREP_STACK_STEPS;
                lane_prepare(a + 4 * s0, k, c, p);
                lane_row(kind, row + s0 * sb, p, k, &acc0, &acc1);
            }
        }
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + lane_leftover(kind, row, a, ns * 4, nb);
    }
    free(heap);
}

/* ---- batch: rows against n_b prepared activations --------------------- */
/* Prefill and batched decode (lb_gemv_rows_batch): each step of a row is
 * unpacked once (lane_unpack) and meets the n_b activations' prepared
 * steps in registers (lane_meet), instead of n_b passes over the row that
 * unpack it n_b times. The activations are prepared once per call, step
 * by step interleaved (p[s * n_b + k]), so one step's n_b prepared lines
 * are adjacent. Each activation has its own two accumulators and sees the
 * same operations in the same order as lane_rows, so y[k][r] is what
 * lane_rows gives for act[k], bit for bit. NB (the batch size) is a
 * constant in each instantiation so the 2 NB accumulators stay in
 * registers. */
static void lane_prepare_strided(const struct lb_block_q8_0 *y, int64_t ns, __m512i c, struct lane_prep *p,
                                 int stride)
{
    for (int64_t s = 0; s < ns; s++) lane_prepare(y + 4 * s, 1, c, p + s * stride);
}

/* Steps [s0, s1) (s0 even) of rows [0, g) at w against NB prepared
 * activations (p: step 0, NB lines per step); acc holds each (row,
 * activation)'s two accumulators, acc[(r NB + k) 2 + 0 / 1], in and out. */
static inline __attribute__((always_inline)) void
lane_batch_steps(enum lane_kind kind, const int NB, const uint8_t *w, size_t rb, int g, const struct lane_prep *p,
                 int64_t s0, int64_t s1, __m512 *acc)
{
    const int64_t sb = lane_step_bytes(kind);
    for (int r = 0; r < g; r++) {
        __m512 a0[LB_GEMV_MAX_BATCH], a1[LB_GEMV_MAX_BATCH];
        __m512 *ar = acc + (size_t)r * NB * 2;
        for (int k = 0; k < NB; k++) a0[k] = ar[2 * k], a1[k] = ar[2 * k + 1];
        const uint8_t *ws = w + (size_t)r * rb + s0 * sb;
        const struct lane_prep *ps = p + s0 * NB;
        int64_t s = s0;
        for (; s + 2 <= s1; s += 2, ws += 2 * sb, ps += 2 * NB) {
            __m512i lo0, hi0, lo1, hi1;
            __m512 sv0, sv1;
            lane_unpack(kind, ws, &lo0, &hi0, &sv0);
            lane_unpack(kind, ws + sb, &lo1, &hi1, &sv1);
            for (int k = 0; k < NB; k++) {
                __m512i i0, i1;
                __m512 c0, c1;
                lane_meet(kind, lo0, hi0, sv0, &ps[k], &i0, &c0);
                lane_meet(kind, lo1, hi1, sv1, &ps[NB + k], &i1, &c1);
                a0[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), c0, a0[k]);
                a1[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), c1, a1[k]);
            }
        }
        if (s < s1) { /* the row's last step, even: into the first */
            __m512i lo0, hi0;
            __m512 sv0;
            lane_unpack(kind, ws, &lo0, &hi0, &sv0);
            for (int k = 0; k < NB; k++) {
                __m512i i0;
                __m512 c0;
                lane_meet(kind, lo0, hi0, sv0, &ps[k], &i0, &c0);
                a0[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), c0, a0[k]);
            }
        }
        for (int k = 0; k < NB; k++) ar[2 * k] = a0[k], ar[2 * k + 1] = a1[k];
    }
}

/* Chunks, row groups and the accumulator buffer come from the common
 * driver (lb_gemv_batch_run, kernels/cpu/gemv-impl.h); its 16 KiB chunk
 * was measured here first (docs/gemv.md: 8 activations against 8 single
 * passes, one thread, 2048 rows in cache: whole rows at once 1.6-1.9x at
 * 2048 columns but 0.6-0.7x at 8192; 32 KiB chunks 1.5-1.65x / 1.25-1.32x,
 * 16 KiB 1.31-1.48x at 2048-8192 columns, 12 KiB 1.25-1.33x). A unit is a
 * four-block step; chunks are an even number of them (lane_batch_steps
 * starts at an even step). */
struct lane_batch_ctx {
    const struct lane_prep *p; /* ns steps x n_b, interleaved */
    const void *const *act;
    int64_t ns, nb;
};

static inline __attribute__((always_inline)) float
lane_batch_finish(enum lane_kind kind, const void *rec, const char *row, int k, const void *ctx)
{
    const __m512 *a = rec;
    const struct lane_batch_ctx *c = ctx;
    return _mm512_reduce_add_ps(_mm512_add_ps(a[0], a[1])) +
           lane_leftover(kind, (const uint8_t *)row, c->act[k], c->ns * 4, c->nb);
}

static inline __attribute__((always_inline)) void
lane_batch(enum lane_kind kind, const lb_batch_units_fn *units, lb_batch_finish_fn finish, int64_t n, const void *w,
           size_t rb, const void *const *act, float *const *y, int n_b, int n_rows)
{
    const int64_t nb = n / 32, ns = nb / 4;
    struct lane_prep *p = ns > 0 ? prep_alloc(ns * n_b, sizeof *p) : NULL;
    if (!p) { /* no room (or no whole step): one activation at a time, same bits */
        for (int k = 0; k < n_b; k++) lane_rows(kind, n, w, rb, act[k], y[k], n_rows);
        return;
    }
    for (int k = 0; k < n_b; k++) lane_prepare_strided(act[k], ns, lane_c(kind), p + k, n_b);
    const struct lane_batch_ctx c = {p, act, ns, nb};
    lb_gemv_batch_run(units, finish, &c, w, rb, y, n_b, n_rows, ns, lb_gemv_batch_chunk(n_b, sizeof *p, 2),
                      2 * sizeof(__m512));
    free(p);
}

/* A format's dot_rows over lane_rows (or lane1_rows) and its single-row
 * dot as the one-row case of it, so both give the same bits. */
#define ROWS_AND_DOT(name, act, rows_fn, kind)                                                      \
    static void dot_rows_##name##_##act(int64_t n, const void *w, size_t rb, const void *a, float *y, \
                                        int n_rows)                                                \
    {                                                                                              \
        rows_fn(kind, n, w, rb, a, y, n_rows);                                                     \
    }                                                                                              \
    static float dot_##name##_##act(int64_t n, const void *w, const void *a)                       \
    {                                                                                              \
        float y;                                                                                   \
        dot_rows_##name##_##act(n, w, 0, a, &y, 1);                                                \
        return y;                                                                                  \
    }

#define LANE_FNS(name, kind)                                                                       \
    ROWS_AND_DOT(name, q8_0, lane_rows, kind)                                                      \
    static inline __attribute__((always_inline)) void units_##name(const int NB, const char *w, size_t rb, \
                                                                   int g, const void *ctx, int64_t u0, \
                                                                   int64_t u1, void *acc)           \
    {                                                                                              \
        lane_batch_steps(kind, NB, (const uint8_t *)w, rb, g, ((const struct lane_batch_ctx *)ctx)->p, u0, u1, \
                         (__m512 *)acc);                                                           \
    }                                                                                              \
    LB_BATCH_UNITS_TABLE(batch_units_##name, units_##name)                                         \
    static inline __attribute__((always_inline)) float finish1_##name(const void *rec, const char *row, int k, \
                                                                      const void *ctx)             \
    {                                                                                              \
        return lane_batch_finish(kind, rec, row, k, ctx);                                          \
    }                                                                                              \
    LB_BATCH_FINISH(finish_##name, 2 * sizeof(__m512), finish1_##name)                             \
    static void dot_batch_##name##_q8_0(int64_t n, const void *w, size_t rb, const void *const *act, \
                                        float *const *y, int n_b, int n_rows)                      \
    {                                                                                              \
        lane_batch(kind, batch_units_##name, finish_##name, n, w, rb, act, y, n_b, n_rows);         \
    }
LANE_FNS(q4_0, LANE_Q4_0)
LANE_FNS(iq4_nl, LANE_IQ4_NL)
LANE_FNS(q5_0, LANE_Q5_0)
LANE_FNS(mxfp4, LANE_MXFP4)

/* Q8_0 rows against a lightly prepared activation: the quants copied to
 * 128-byte aligned lines per four blocks and the d as floats (1.125 bytes
 * per element: the raw activation's size; the earlier prepared form,
 * 3 bytes per element with offset terms and spread scales, lost from DRAM
 * to its own activation traffic: 1 GiB at 4096 columns on 2 threads,
 * 83% and 87% of the read ceiling against 89% and 93% for the per-row
 * loop of then, at 8192 columns 53% vs 75%; docs/gemv.md). Q8_0 blocks are 34
 * bytes, 17 words, so a four-block step (136 bytes) is three loads (64,
 * 64, 8 bytes) and its quants two VPERMT2W ([qs0 | qs1] from words 1-16
 * and 18-33, [qs2 | qs3] from 35-50 and 52-67), its four d one more
 * (words 0, 17, 34, 51): no GPR packing of the scales. The arithmetic is
 * the former per-row loop's (the same integer lanes, d_w x d_a products
 * and accumulators), so the bits did not change; the single-row dot is
 * the one-row case. */
static const lb_widx q80_a = {L8(1), L8(9), L8(18), L8(26)};
static const lb_widx q80_b = {L8(3), L8(11), L8(20), L8(28)};
static const lb_widx q80_d = {0, 17, 34, 51};

static void q80_prepare(const struct lb_block_q8_0 *y, int64_t ns, int8_t *qs, float *d)
{
    for (int64_t s = 0; s < 4 * ns; s++) {
        memcpy(qs + 32 * s, y[s].qs, 32);
        d[s] = fp16(y[s].d);
    }
}

/* The weight half of a four-block step: unsigned quants (w ^ 0x80) of
 * blocks 0-1 and 2-3, the four d as floats. */
struct q80_w {
    __m512i u01, u23;
    __m128 dw;
};

static inline __attribute__((always_inline)) void q80_unpack(const uint8_t *w, struct q80_w *u)
{
    const __m512i c = _mm512_set1_epi8((char)0x80);
    const __m512i w0 = ld64_once(w), w1 = ld64_once(w + 64);
    const __m512i w2 = _mm512_castsi128_si512(_mm_loadl_epi64((const __m128i *)(w + 128)));
    u->u01 = _mm512_xor_si512(_mm512_permutex2var_epi16(w0, ldidx(q80_a), w1), c);
    u->u23 = _mm512_xor_si512(_mm512_permutex2var_epi16(w1, ldidx(q80_b), w2), c);
    u->dw = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(w0, ldidx(q80_d), w1)));
}

/* The activation half: against one prepared step (qs: 128 aligned bytes,
 * d: four floats), into the two accumulators (blocks 0-1, 2-3). */
static inline __attribute__((always_inline)) void
q80_meet(const struct q80_w *u, const int8_t *qs, const float *d, __m512 *a0, __m512 *a1)
{
    const __m512i lo2 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i hi2 = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
    const __m512i c = _mm512_set1_epi8((char)0x80), z = _mm512_setzero_si512();
    const __m512 s4 = _mm512_castps128_ps512(_mm_mul_ps(u->dw, _mm_loadu_ps(d)));
    const __m512i y01 = _mm512_load_si512(qs), y23 = _mm512_load_si512(qs + 64);
    const __m512i i01 = _mm512_sub_epi32(_mm512_dpbusd_epi32(z, u->u01, y01), _mm512_dpbusd_epi32(z, c, y01));
    const __m512i i23 = _mm512_sub_epi32(_mm512_dpbusd_epi32(z, u->u23, y23), _mm512_dpbusd_epi32(z, c, y23));
    *a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i01), _mm512_permutexvar_ps(lo2, s4), *a0);
    *a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i23), _mm512_permutexvar_ps(hi2, s4), *a1);
}

static inline __attribute__((always_inline)) void
q80_row(const uint8_t *w, const int8_t *qs, const float *d, int64_t ns, __m512 *acc0, __m512 *acc1)
{
    __m512 a0 = *acc0, a1 = *acc1;
    for (int64_t s = 0; s < ns; s++, w += 136, qs += 128, d += 4) {
        struct q80_w u;
        q80_unpack(w, &u);
        q80_meet(&u, qs, d, &a0, &a1);
    }
    *acc0 = a0;
    *acc1 = a1;
}

/* The nb % 4 blocks after the vector steps: the reference's integer sums,
 * scale products in float. */
static float q80_leftover(const struct lb_block_q8_0 *x, const struct lb_block_q8_0 *y, int64_t ib, int64_t nb)
{
    float sum = 0;
    for (; ib < nb; ib++) {
        int32_t si = 0;
        for (int j = 0; j < 32; j++) si += x[ib].qs[j] * y[ib].qs[j];
        sum += fp16(x[ib].d) * fp16(y[ib].d) * (float)si;
    }
    return sum;
}

static void dot_rows_q8_0_q8_0(int64_t n, const void *w, size_t rb, const void *act, float *y, int n_rows)
{
    const struct lb_block_q8_0 *a = act;
    const int64_t nb = n / 32, ns = nb / 4;
    _Alignas(64) int8_t qs_stack[PREP_STACK_STEPS * 128];
    float d_stack[PREP_STACK_STEPS * 4];
    int8_t *qs = qs_stack;
    float *d = d_stack;
    void *heap = NULL;
    if (ns > PREP_STACK_STEPS) {
        heap = prep_alloc(ns, 128 + 16);
        if (heap) qs = heap, d = (float *)((char *)heap + (size_t)ns * 128);
    }
    const bool whole = ns <= PREP_STACK_STEPS || heap;
    if (whole) q80_prepare(a, ns, qs, d);
    for (int r = 0; r < n_rows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        if (whole) {
            q80_row(row, qs, d, ns, &acc0, &acc1);
        } else {
            for (int64_t s0 = 0; s0 < ns; s0 += PREP_STACK_STEPS) {
                const int64_t k = ns - s0 < PREP_STACK_STEPS ? ns - s0 : PREP_STACK_STEPS;
                q80_prepare(a + 4 * s0, k, qs, d);
                q80_row(row + s0 * 136, qs, d, k, &acc0, &acc1);
            }
        }
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) +
               q80_leftover((const struct lb_block_q8_0 *)row, a, ns * 4, nb);
    }
    free(heap);
}

static float dot_q8_0_q8_0(int64_t n, const void *w, const void *act)
{
    float y;
    dot_rows_q8_0_q8_0(n, w, 0, act, &y, 1);
    return y;
}

/* Q8_0 batch (prefill): each four-block step of a row unpacked once
 * (q80_unpack) for up to 8 activations prepared as for dot_rows, step by
 * step interleaved (qs[(s n_b + k) 128], d[(s n_b + k) 4]), through the
 * common driver (units: steps); q80_row's operations in order for every
 * (row, activation), so the bits are dot_rows's. */
struct q80_batch_ctx {
    const int8_t *qs;
    const float *d;
    const void *const *act;
    int64_t nb;
};

static inline __attribute__((always_inline)) void
q80_batch_steps(const int NB, const char *w, size_t rb, int g, const void *ctx, int64_t s0, int64_t s1, void *accv)
{
    const struct q80_batch_ctx *c = ctx;
    __m512 *acc = accv;
    for (int r = 0; r < g; r++) {
        const uint8_t *ws = (const uint8_t *)w + (size_t)r * rb + s0 * 136;
        __m512 a0[LB_GEMV_MAX_BATCH], a1[LB_GEMV_MAX_BATCH];
        __m512 *ar = acc + (size_t)r * NB * 2;
        for (int k = 0; k < NB; k++) a0[k] = ar[2 * k], a1[k] = ar[2 * k + 1];
        for (int64_t s = s0; s < s1; s++, ws += 136) {
            struct q80_w u;
            q80_unpack(ws, &u);
            for (int k = 0; k < NB; k++)
                q80_meet(&u, c->qs + (s * NB + k) * 128, c->d + (s * NB + k) * 4, &a0[k], &a1[k]);
        }
        for (int k = 0; k < NB; k++) ar[2 * k] = a0[k], ar[2 * k + 1] = a1[k];
    }
}

LB_BATCH_UNITS_TABLE(batch_units_q8_0, q80_batch_steps)

static inline __attribute__((always_inline)) float finish1_q8_0(const void *rec, const char *row, int k,
                                                                 const void *ctx)
{
    const struct q80_batch_ctx *c = ctx;
    const __m512 *a = rec;
    return _mm512_reduce_add_ps(_mm512_add_ps(a[0], a[1])) +
           q80_leftover((const struct lb_block_q8_0 *)row, c->act[k], c->nb / 4 * 4, c->nb);
}

LB_BATCH_FINISH(finish_q8_0, 2 * sizeof(__m512), finish1_q8_0)

static void dot_batch_q8_0_q8_0(int64_t n, const void *w, size_t rb, const void *const *act, float *const *y,
                                int n_b, int n_rows)
{
    const int64_t nb = n / 32, ns = nb / 4;
    char *buf = ns > 0 ? prep_alloc(ns * n_b, 128 + 16) : NULL;
    if (!buf) { /* one activation at a time: the same bits */
        for (int k = 0; k < n_b; k++) dot_rows_q8_0_q8_0(n, w, rb, act[k], y[k], n_rows);
        return;
    }
    int8_t *qs = (int8_t *)buf;
    float *d = (float *)(buf + (size_t)ns * (size_t)n_b * 128);
    for (int64_t s = 0; s < ns; s++)
        for (int k = 0; k < n_b; k++)
            q80_prepare((const struct lb_block_q8_0 *)act[k] + 4 * s, 1, qs + (s * n_b + k) * 128,
                        d + (s * n_b + k) * 4);
    const struct q80_batch_ctx c = {qs, d, act, nb};
    lb_gemv_batch_run(batch_units_q8_0, finish_q8_0, &c, w, rb, y, n_b, n_rows, ns,
                      lb_gemv_batch_chunk(n_b, 128 + 16, 1), 2 * sizeof(__m512));
    free(buf);
}

/* ---- dots against Q8_1: rows against a prepared activation ------------ */
/* sum = d_w d_a sum(q a) + m s. Prepared once per call as for Q8_0 above
 * (lane_prep's layout: the quants in act4's lanes, d spread over the lanes
 * it scales), with the activation's s (d_a x sum of its quants, as fp16
 * in the block) as four floats instead of the offset terms: the weights
 * are unsigned already, so VPDPBUSD starts from zero. Per step the m of
 * the four blocks (one VPERMW / VPERMT2W, VCVTPH2PS) meets s in one
 * 4-lane FMA into a separate accumulator. Counted in the disassembly
 * (gcc 12 -O3, loop bodies): Q4_1 21 instructions per four-block step
 * (the former per-row loop: 56), Q5_1 33 (67). */

struct lane1_prep {
    _Alignas(64) int8_t lo[64];
    int8_t hi[64];
    float d[16];
    float s[16]; /* s of the four blocks in 0..3 */
};

static void lane1_prepare(const struct lb_block_q8_1 *y, int64_t ns, struct lane1_prep *p)
{
    for (int64_t st = 0; st < ns; st++, y += 4) {
        __m512i lo, hi;
        act4(y[0].qs, y[1].qs, y[2].qs, y[3].qs, &lo, &hi);
        _mm512_store_si512(p[st].lo, lo);
        _mm512_store_si512(p[st].hi, hi);
        _mm512_store_ps(p[st].d, spread4(FIELD4(y, 0, d)));
        _mm512_store_ps(p[st].s, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)FIELD4(y, 0, s)))));
    }
}

/* kind: LANE1_Q4_1 (20-byte blocks) or LANE1_Q5_1 (24) */
enum lane1_kind { LANE1_Q4_1, LANE1_Q5_1 };

/* The weight half of a step: the quants, d spread (floats), m of the
 * four blocks (floats in lanes 0..3). */
struct lane1_w {
    __m512i lo, hi;
    __m512 d;
    __m128 mf;
};

static inline __attribute__((always_inline)) void
lane1_unpack(enum lane1_kind kind, const uint8_t *w, struct lane1_w *u)
{
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i w0 = ld64_by32(w);
    __m512i q;
    __m128i m;
    if (kind == LANE1_Q5_1) {
        const __m512i w1 = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(w + 64)));
        q = _mm512_permutex2var_epi16(w0, ldidx(q51_qs), w1);
        __mmask64 klo, khi;
        qh_masks(_mm512_permutex2var_epi16(w0, ldidx(q51_qh), w1), &klo, &khi);
        const __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        u->lo = _mm512_mask_add_epi8(lo, klo, lo, _mm512_set1_epi8(16));
        u->hi = _mm512_mask_add_epi8(hi, khi, hi, _mm512_set1_epi8(16));
        u->d = h2f(_mm512_permutex2var_epi16(w0, ldidx(q51_d), w1));
        m = _mm512_castsi512_si128(_mm512_permutex2var_epi16(w0, ldidx(q51_m), w1));
    } else {
        const __m512i w1 = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(w + 64)));
        q = _mm512_permutex2var_epi16(w0, ldidx(q41_qs), w1);
        u->lo = _mm512_and_si512(q, m4);
        u->hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        u->d = h2f(_mm512_permutexvar_epi16(ldidx(q41_d), w0));
        m = _mm512_castsi512_si128(_mm512_permutexvar_epi16(ldidx(q41_m), w0));
    }
    u->mf = _mm_cvtph_ps(m);
}

/* The activation half against prepared step p. */
static inline __attribute__((always_inline)) void
lane1_meet(const struct lane1_w *u, const struct lane1_prep *p, __m512 *acc, __m128 *accm)
{
    const __m512i z = _mm512_setzero_si512();
    const __m512i i = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, u->lo, _mm512_load_si512(p->lo)), u->hi,
                                          _mm512_load_si512(p->hi));
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(u->d, _mm512_load_ps(p->d)), *acc);
    *accm = _mm_fmadd_ps(u->mf, _mm_load_ps(p->s), *accm);
}

static inline __attribute__((always_inline)) void
lane1_step(enum lane1_kind kind, const uint8_t *w, const struct lane1_prep *p, __m512 *acc, __m128 *accm)
{
    struct lane1_w u;
    lane1_unpack(kind, w, &u);
    lane1_meet(&u, p, acc, accm);
}

/* The nb % 4 blocks after the vector steps, as the reference. */
static inline float lane1_leftover(enum lane1_kind kind, const uint8_t *row, const struct lb_block_q8_1 *a,
                                   int64_t ib, int64_t nb)
{
    float sum = 0;
    for (; ib < nb; ib++) {
        if (kind == LANE1_Q5_1) {
            const struct lb_block_q5_1 *x = (const struct lb_block_q5_1 *)row;
            sum += fp16(x[ib].d) * fp16(a[ib].d) * (float)sum_q5_q8(x[ib].qs, x[ib].qh, a[ib].qs, 0) +
                   fp16(x[ib].m) * fp16(a[ib].s);
        } else {
            const struct lb_block_q4_1 *x = (const struct lb_block_q4_1 *)row;
            sum += fp16(x[ib].d) * fp16(a[ib].d) * (float)sum_nib_q8(x[ib].qs, a[ib].qs, 0) +
                   fp16(x[ib].m) * fp16(a[ib].s);
        }
    }
    return sum;
}

static inline __attribute__((always_inline)) void
lane1_rows(enum lane1_kind kind, int64_t n, const void *w, size_t rb, const void *act, float *y, int n_rows)
{
    const struct lb_block_q8_1 *a = act;
    const int64_t nb = n / 32, ns = nb / 4, sb = kind == LANE1_Q5_1 ? 96 : 80;
    struct lane1_prep stack[PREP_STACK_STEPS];
    struct lane1_prep *heap = ns > PREP_STACK_STEPS ? prep_alloc(ns, sizeof *heap) : NULL;
    struct lane1_prep *p = heap ? heap : stack;
    const bool whole = ns <= PREP_STACK_STEPS || heap;
    if (whole) lane1_prepare(a, ns, p);
    for (int r = 0; r < n_rows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rb;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        __m128 accm = _mm_setzero_ps();
        for (int64_t s0 = 0; s0 < ns; s0 += whole ? ns : PREP_STACK_STEPS) {
            const int64_t k = whole ? ns : (ns - s0 < PREP_STACK_STEPS ? ns - s0 : PREP_STACK_STEPS);
            if (!whole) lane1_prepare(a + 4 * s0, k, p);
            const uint8_t *ws = row + s0 * sb;
            int64_t st = 0;
            for (; st + 2 <= k; st += 2, ws += 2 * sb) {
                lane1_step(kind, ws, &p[st], &acc0, &accm);
                lane1_step(kind, ws + sb, &p[st + 1], &acc1, &accm);
            }
            if (st < k) lane1_step(kind, ws, &p[st], &acc0, &accm);
        }
        y[r] = hsum(_mm512_add_ps(acc0, acc1), accm) + lane1_leftover(kind, row, a, ns * 4, nb);
    }
    free(heap);
}

/* Batch (prefill): as the Q8_0-activation formats' (lane_batch): each
 * step unpacked once for the n_b prepared activations (steps interleaved),
 * lane1_rows's operations in order for every (row, activation), through
 * the common driver (units: steps, an even number per chunk). */
struct lane1_acc {
    __m512 a0, a1;
    __m128 m;
};
struct lane1_batch_ctx {
    const struct lane1_prep *p;
    const void *const *act;
    int64_t ns, nb;
};

static inline __attribute__((always_inline)) void
lane1_batch_steps(enum lane1_kind kind, const int NB, const char *w, size_t rb, int g, const void *ctx, int64_t s0,
                  int64_t s1, void *accv)
{
    const int64_t sb = kind == LANE1_Q5_1 ? 96 : 80;
    const struct lane1_prep *p = ((const struct lane1_batch_ctx *)ctx)->p;
    struct lane1_acc *acc = accv;
    for (int r = 0; r < g; r++) {
        struct lane1_acc *ar = acc + (size_t)r * NB;
        __m512 a0[LB_GEMV_MAX_BATCH], a1[LB_GEMV_MAX_BATCH];
        __m128 am[LB_GEMV_MAX_BATCH];
        for (int k = 0; k < NB; k++) a0[k] = ar[k].a0, a1[k] = ar[k].a1, am[k] = ar[k].m;
        const uint8_t *ws = (const uint8_t *)w + (size_t)r * rb + s0 * sb;
        int64_t s = s0;
        for (; s + 2 <= s1; s += 2, ws += 2 * sb) {
            struct lane1_w u0, u1;
            lane1_unpack(kind, ws, &u0);
            lane1_unpack(kind, ws + sb, &u1);
            for (int k = 0; k < NB; k++) {
                lane1_meet(&u0, &p[s * NB + k], &a0[k], &am[k]);
                lane1_meet(&u1, &p[(s + 1) * NB + k], &a1[k], &am[k]);
            }
        }
        if (s < s1) {
            struct lane1_w u0;
            lane1_unpack(kind, ws, &u0);
            for (int k = 0; k < NB; k++) lane1_meet(&u0, &p[s * NB + k], &a0[k], &am[k]);
        }
        for (int k = 0; k < NB; k++) ar[k].a0 = a0[k], ar[k].a1 = a1[k], ar[k].m = am[k];
    }
}

static inline __attribute__((always_inline)) float
lane1_batch_finish(enum lane1_kind kind, const void *rec, const char *row, int k, const void *ctx)
{
    const struct lane1_acc *a = rec;
    const struct lane1_batch_ctx *c = ctx;
    return hsum(_mm512_add_ps(a->a0, a->a1), a->m) +
           lane1_leftover(kind, (const uint8_t *)row, c->act[k], c->ns * 4, c->nb);
}

static inline __attribute__((always_inline)) void
lane1_batch(enum lane1_kind kind, const lb_batch_units_fn *units, lb_batch_finish_fn finish, int64_t n,
            const void *w, size_t rb, const void *const *act, float *const *y, int n_b, int n_rows)
{
    const int64_t nb = n / 32, ns = nb / 4;
    struct lane1_prep *p = ns > 0 ? prep_alloc(ns * n_b, sizeof *p) : NULL;
    if (!p) { /* one activation at a time: the same bits */
        for (int k = 0; k < n_b; k++) lane1_rows(kind, n, w, rb, act[k], y[k], n_rows);
        return;
    }
    for (int k = 0; k < n_b; k++)
        for (int64_t st = 0; st < ns; st++)
            lane1_prepare((const struct lb_block_q8_1 *)act[k] + 4 * st, 1, p + st * n_b + k);
    const struct lane1_batch_ctx c = {p, act, ns, nb};
    _Static_assert(sizeof(struct lane1_acc) <= LB_BATCH_ACC_MAX, "accumulator record");
    lb_gemv_batch_run(units, finish, &c, w, rb, y, n_b, n_rows, ns, lb_gemv_batch_chunk(n_b, sizeof *p, 2),
                      sizeof(struct lane1_acc));
    free(p);
}

#define LANE1_FNS(name, kind)                                                                      \
    ROWS_AND_DOT(name, q8_1, lane1_rows, kind)                                                     \
    static inline __attribute__((always_inline)) void units1_##name(const int NB, const char *w, size_t rb, \
                                                                    int g, const void *ctx, int64_t u0, \
                                                                    int64_t u1, void *acc)          \
    {                                                                                              \
        lane1_batch_steps(kind, NB, w, rb, g, ctx, u0, u1, acc);                                   \
    }                                                                                              \
    LB_BATCH_UNITS_TABLE(batch_units_##name, units1_##name)                                        \
    static inline __attribute__((always_inline)) float finish1_##name(const void *rec, const char *row, int k, \
                                                                      const void *ctx)             \
    {                                                                                              \
        return lane1_batch_finish(kind, rec, row, k, ctx);                                         \
    }                                                                                              \
    LB_BATCH_FINISH(finish_##name, sizeof(struct lane1_acc), finish1_##name)                       \
    static void dot_batch_##name##_q8_1(int64_t n, const void *w, size_t rb, const void *const *act, \
                                        float *const *y, int n_b, int n_rows)                      \
    {                                                                                              \
        lane1_batch(kind, batch_units_##name, finish_##name, n, w, rb, act, y, n_b, n_rows);        \
    }
LANE1_FNS(q4_1, LANE1_Q4_1)
LANE1_FNS(q5_1, LANE1_Q5_1)

/* ---- activation quantizers -------------------------------------------- */
/* Bit-exact with quant.c's q8_block32: d = fp16(amax / 127) (VCVTPS2PH
 * with round-to-nearest-even is lb_f32_to_fp16 for every finite input),
 * q = floor(x / d + 0.5) clamped to [-127, 127], with x / d and + 0.5
 * in double as the reference does (a float quotient can round onto a .5
 * tie the double one is below). */

/* One block: writes qs[32], returns the fp16 d, *sum = sum(qs). */
static inline uint16_t q8_block32(const float *x, int8_t *qs, int32_t *sum)
{
    const __m512 sign = _mm512_set1_ps(-0.0f);
    __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, v0),
                                                    _mm512_andnot_ps(sign, v1)));
    const uint16_t dh = (uint16_t)_cvtss_sh(amax / 127.0f, _MM_FROUND_TO_NEAREST_INT);
    const float d = _cvtsh_ss(dh);
    if (d == 0) {
        memset(qs, 0, 32);
        *sum = 0;
        return dh;
    }
    const __m512d dd = _mm512_set1_pd((double)d), half = _mm512_set1_pd(0.5);
    const __m512d lo = _mm512_set1_pd(-127.0), hi = _mm512_set1_pd(127.0);
    __m512i q[2];
    for (int k = 0; k < 2; k++) {
        __m512 v = k ? v1 : v0;
        __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        __m512d b = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
        a = _mm512_add_pd(_mm512_div_pd(a, dd), half);
        b = _mm512_add_pd(_mm512_div_pd(b, dd), half);
        a = _mm512_roundscale_pd(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        b = _mm512_roundscale_pd(b, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        a = _mm512_min_pd(_mm512_max_pd(a, lo), hi);
        b = _mm512_min_pd(_mm512_max_pd(b, lo), hi);
        /* whole numbers in range: the conversion is exact */
        __m256i ia = _mm512_cvtpd_epi32(a), ib = _mm512_cvtpd_epi32(b);
        q[k] = _mm512_inserti64x4(_mm512_castsi256_si512(ia), ib, 1);
    }
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(q[0]));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtepi32_epi8(q[1]));
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q[0], q[1]));
    return dh;
}

static void quantize_q8_0(const float *x, void *blocks, int64_t n)
{
    struct lb_block_q8_0 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK8_0; ib++) {
        int32_t sum;
        y[ib].d = q8_block32(x + ib * LB_QK8_0, y[ib].qs, &sum);
    }
}

static void quantize_q8_1(const float *x, void *blocks, int64_t n)
{
    struct lb_block_q8_1 *y = blocks;
    for (int64_t ib = 0; ib < n / LB_QK8_1; ib++) {
        int32_t sum;
        y[ib].d = q8_block32(x + ib * LB_QK8_1, y[ib].qs, &sum);
        /* s as the reference: fp16(fp16(d) * (float)sum) */
        y[ib].s = (uint16_t)_cvtss_sh(_cvtsh_ss(y[ib].d) * (float)sum,
                                      _MM_FROUND_TO_NEAREST_INT);
    }
}

/* ---- table ------------------------------------------------------------ */

#define VNNI_ROW(T, fn)                                                       \
    {LB_QTYPE_##T, LB_ISA_AVX512, LB_REQ_AVX512_VNNI, "avx512_vnni", fn}

static const struct lb_dot_impl dots[] = {
    VNNI_ROW(Q8_0, dot_q8_0_q8_0),
    VNNI_ROW(Q4_0, dot_q4_0_q8_0),
    VNNI_ROW(Q5_0, dot_q5_0_q8_0),
    VNNI_ROW(Q4_1, dot_q4_1_q8_1),
    VNNI_ROW(Q5_1, dot_q5_1_q8_1),
    VNNI_ROW(IQ4_NL, dot_iq4_nl_q8_0),
    VNNI_ROW(MXFP4, dot_mxfp4_q8_0),
    {LB_QTYPE_F32, LB_ISA_AVX512, 0, NULL, NULL},
};

static const struct lb_actq_impl actqs[] = {
    {LB_QTYPE_Q8_0, LB_ISA_AVX512, LB_REQ_NONE, quantize_q8_0},
    {LB_QTYPE_Q8_1, LB_ISA_AVX512, LB_REQ_NONE, quantize_q8_1},
    {LB_QTYPE_F32, LB_ISA_AVX512, 0, NULL},
};

const struct lb_dot_table lb_gemv_table_legacy_avx512 = {dots, actqs};

const struct lb_dot_rows_impl lb_gemv_rows_legacy_avx512[] = {
    {dot_q8_0_q8_0, dot_rows_q8_0_q8_0, dot_batch_q8_0_q8_0},
    {dot_q4_0_q8_0, dot_rows_q4_0_q8_0, dot_batch_q4_0_q8_0},
    {dot_iq4_nl_q8_0, dot_rows_iq4_nl_q8_0, dot_batch_iq4_nl_q8_0},
    {dot_q5_0_q8_0, dot_rows_q5_0_q8_0, dot_batch_q5_0_q8_0},
    {dot_mxfp4_q8_0, dot_rows_mxfp4_q8_0, dot_batch_mxfp4_q8_0},
    {dot_q4_1_q8_1, dot_rows_q4_1_q8_1, dot_batch_q4_1_q8_1},
    {dot_q5_1_q8_1, dot_rows_q5_1_q8_1, dot_batch_q5_1_q8_1},
    {NULL, NULL, NULL},
};

#endif /* LB_GEMV_HAVE_X86 */
