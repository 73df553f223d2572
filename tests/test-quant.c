/* test-quant.c: unit tests of the GGUF/ggml quant formats (kernels/lb-quant.h,
 * kernels/quant/).
 *
 *  1. known bytes: for every format a hand-built block, bytes written out
 *     here, and its dequantized values derived by hand from ggml's
 *     formulas (the comments show the arithmetic); values are chosen
 *     non-symmetric so that a swapped nibble, field, sign or scale packing
 *     fails. Field offsets are checked against the same byte positions.
 *  2. quantize -> dequantize relative RMS error per format, under a stated
 *     bound, on fresh Gaussian and heavy-tailed data (lb_test_seed()).
 *  3. vec_dot_ref against float64 dots: of the dequantized rows (tight: it
 *     checks the integer dot path) and of the original floats (within the
 *     format's error).
 *  4. the traits table: sizes, bits per weight, names, unknown ids.
 *  5. fp16 / bf16 conversions: all 65536 values each way, ties to even.
 */
#include "kernels/lb-quant.h"
#include "kernels/quant/lb-blocks.h"
#include "tests/lb-test.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static unsigned long long rng;

/* ================================================================== */
/* 1. known bytes                                                      */
/* ================================================================== */

struct expect {
    int i;    /* element index */
    double v; /* its value, by hand */
};

/* Dequantizes `bytes` as type t and checks the listed elements exactly.
 * When group_default is not NULL every unlisted element must equal
 * group_default[i / group_elems], the value of code 0 in that group.
 * Exact comparison: all values are exactly representable and ggml's
 * arithmetic on these inputs is exact. */
static void known_block(enum lb_qtype t, const void *bytes, size_t n_bytes,
                        const struct expect *e, int n_e,
                        const double *group_default, int group_elems)
{
    const struct lb_qtraits *q = lb_qtraits_get(t);
    CHECK_MSG(q != NULL, "no traits for type %d", (int)t);
    if (!q) return;
    CHECK_INT_EQ(n_bytes % (size_t)q->block_bytes, 0);
    int64_t n = (int64_t)(n_bytes / (size_t)q->block_bytes) * q->block_elems;
    float y[512];
    if (n > (int64_t)ARRAY_LEN(y)) {
        CHECK_MSG(0, "%s: test block too large", q->name);
        return;
    }
    q->dequantize(bytes, y, n);
    for (int k = 0; k < n_e; k++) {
        float v = y[e[k].i];
        CHECK_MSG(v == e[k].v, "%s: element %d = %.9g, expected %.9g", q->name,
                  e[k].i, v, e[k].v);
    }
    if (!group_default) return;
    for (int i = 0; i < n; i++) {
        int listed = 0;
        for (int k = 0; k < n_e; k++) listed |= e[k].i == i;
        if (listed) continue;
        double want = group_default[i / group_elems];
        CHECK_MSG(y[i] == want, "%s: unlisted element %d = %.9g, expected %.9g",
                  q->name, i, y[i], want);
    }
}

#define KNOWN(t, b, e, dflt, group) \
    known_block(t, b, sizeof(b), e, (int)ARRAY_LEN(e), dflt, group)

/* fp16 constants used below, little-endian byte pairs:
 * 0x3C00 = 1.0, 0x3800 = 0.5, 0x3400 = 0.25, 0x3000 = 0.125,
 * 0x4000 = 2.0, 0xBC00 = -1.0 */

static void test_known_float(void)
{
    /* 0x3FC00000 = 1.5f, 0xC0100000 = -2.25f */
    _Alignas(4) static const uint8_t f32[] = {0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x10, 0xC0};
    static const struct expect ef32[] = {{0, 1.5}, {1, -2.25}};
    KNOWN(LB_QTYPE_F32, f32, ef32, NULL, 1);

    /* 0x3C00 = 1; 0xC001 = -(1 + 1/1024) * 2; 0x0001 = 2^-24 (smallest
     * subnormal); 0x7C00 = +Inf; 0x7BFF = 65504; 0x8000 = -0 */
    _Alignas(2) static const uint8_t f16[] = {0x00, 0x3C, 0x01, 0xC0, 0x01, 0x00,
                                              0x00, 0x7C, 0xFF, 0x7B, 0x00, 0x80};
    static const struct expect ef16[] = {{0, 1.0}, {1, -2.001953125},
                                         {2, 5.9604644775390625e-08}, {3, INFINITY},
                                         {4, 65504.0}, {5, 0.0}};
    KNOWN(LB_QTYPE_F16, f16, ef16, NULL, 1);
    float y[6];
    lb_dequantize_f16(f16, y, 6);
    CHECK(signbit(y[5]) && !signbit(y[0]));

    /* bf16 = top half of f32: 0x3FC0 = 1.5; 0xC049 = -(1 + 73/128) * 2 =
     * -3.140625; 0x0001 = f32 bits 0x00010000 = 2^16 * 2^-149 = 2^-133;
     * 0xFF80 = -Inf */
    _Alignas(2) static const uint8_t bf16[] = {0xC0, 0x3F, 0x49, 0xC0, 0x01, 0x00, 0x80, 0xFF};
    static const struct expect ebf16[] = {{0, 1.5}, {1, -3.140625}, {2, 0x1p-133}, {3, -INFINITY}};
    KNOWN(LB_QTYPE_BF16, bf16, ebf16, NULL, 1);
}

static void test_known_legacy(void)
{
    /* Q4_0: d = 0.5, x = d * (q - 8); byte j: low = element j, high = j+16
     * qs[0] = 0x1F: e0 = .5*(15-8) = 3.5, e16 = .5*(1-8) = -3.5
     * qs[1] = 0x80: e1 = .5*(0-8) = -4,   e17 = .5*(8-8) = 0
     * qs[15] = 0x9A: e15 = .5*(10-8) = 1, e31 = .5*(9-8) = .5
     * all other codes 0: -4 */
    _Alignas(4) static const uint8_t q4_0[18] = {[0] = 0x00, [1] = 0x38,
        [2 + 0] = 0x1F, [2 + 1] = 0x80, [2 + 15] = 0x9A};
    static const struct expect e4_0[] = {{0, 3.5}, {16, -3.5}, {1, -4}, {17, 0},
                                         {15, 1.0}, {31, 0.5}};
    static const double d4_0[] = {-4.0};
    KNOWN(LB_QTYPE_Q4_0, q4_0, e4_0, d4_0, 32);

    /* Q4_1: d = 0.25, m = -1, x = d*q + m
     * qs[0] = 0x3C: e0 = 12*.25-1 = 2,     e16 = 3*.25-1 = -.25
     * qs[7] = 0xF1: e7 = 1*.25-1 = -.75,   e23 = 15*.25-1 = 2.75
     * others: m = -1 */
    _Alignas(4) static const uint8_t q4_1[20] = {[0] = 0x00, [1] = 0x34, [2] = 0x00, [3] = 0xBC,
        [4 + 0] = 0x3C, [4 + 7] = 0xF1};
    static const struct expect e4_1[] = {{0, 2.0}, {16, -0.25}, {7, -0.75}, {23, 2.75}};
    static const double d4_1[] = {-1.0};
    KNOWN(LB_QTYPE_Q4_1, q4_1, e4_1, d4_1, 32);

    /* Q5_0: d = 0.5, x = d*(q - 16), q = nibble | (bit j of qh) << 4;
     * qh = 0x40020001 (LE bytes 01 00 02 40): bits 0, 17, 30
     * qs[0] = 0x52:  e0 = (2|16)-16 = 2 -> 1,    e16 = 5-16 = -11 -> -5.5
     * qs[1] = 0x3F:  e1 = 15-16 -> -.5,          e17 = (3|16)-16 = 3 -> 1.5
     * qs[14] = 0xE0: e14 = 0-16 -> -8,           e30 = (14|16)-16 = 14 -> 7
     * others: -16 * .5 = -8 */
    _Alignas(4) static const uint8_t q5_0[22] = {[0] = 0x00, [1] = 0x38,
        [2] = 0x01, [3] = 0x00, [4] = 0x02, [5] = 0x40,
        [6 + 0] = 0x52, [6 + 1] = 0x3F, [6 + 14] = 0xE0};
    static const struct expect e5_0[] = {{0, 1.0}, {16, -5.5}, {1, -0.5}, {17, 1.5},
                                         {14, -8.0}, {30, 7.0}};
    static const double d5_0[] = {-8.0};
    KNOWN(LB_QTYPE_Q5_0, q5_0, e5_0, d5_0, 32);

    /* Q5_1: d = 0.125, m = 0.5; qh = 0x80000008 (bits 3, 31)
     * qs[3] = 0x71:  e3 = (1|16) = 17 -> 2.625,  e19 = 7 -> 1.375
     * qs[15] = 0x0F: e15 = 15 -> 2.375,          e31 = (0|16) -> 2.5
     * others: m = 0.5 */
    _Alignas(4) static const uint8_t q5_1[24] = {[0] = 0x00, [1] = 0x30, [2] = 0x00, [3] = 0x38,
        [4] = 0x08, [5] = 0x00, [6] = 0x00, [7] = 0x80,
        [8 + 3] = 0x71, [8 + 15] = 0x0F};
    static const struct expect e5_1[] = {{3, 2.625}, {19, 1.375}, {15, 2.375}, {31, 2.5}};
    static const double d5_1[] = {0.5};
    KNOWN(LB_QTYPE_Q5_1, q5_1, e5_1, d5_1, 32);

    /* Q8_0: d = 0.25; qs 127, -127, -2, ..., 5 */
    _Alignas(4) static const uint8_t q8_0[34] = {[0] = 0x00, [1] = 0x34,
        [2 + 0] = 0x7F, [2 + 1] = 0x81, [2 + 2] = 0xFE, [2 + 31] = 0x05};
    static const struct expect e8_0[] = {{0, 31.75}, {1, -31.75}, {2, -0.5}, {31, 1.25}};
    static const double d8_0[] = {0.0};
    KNOWN(LB_QTYPE_Q8_0, q8_0, e8_0, d8_0, 32);

    /* Q8_1: d = 0.5, s = 2.0 (not used by dequantize; d and s swapped
     * would give e0 = 6); qs[0] = 3, qs[31] = -128 */
    _Alignas(4) static const uint8_t q8_1[36] = {[0] = 0x00, [1] = 0x38, [2] = 0x00, [3] = 0x40,
        [4 + 0] = 0x03, [4 + 31] = 0x80};
    static const struct expect e8_1[] = {{0, 1.5}, {31, -64.0}};
    static const double d8_1[] = {0.0};
    KNOWN(LB_QTYPE_Q8_1, q8_1, e8_1, d8_1, 32);

    /* IQ4_NL: d = 0.5, x = d * T[nibble],
     * T = {-127,-104,-83,-65,-49,-35,-22,-10,1,13,25,38,53,69,89,113}
     * qs[0] = 0x0F: e0 = T[15] = 113 -> 56.5,  e16 = T[0] = -127 -> -63.5
     * qs[5] = 0x87: e5 = T[7] = -10 -> -5,     e21 = T[8] = 1 -> .5
     * others: T[0] * .5 = -63.5 */
    _Alignas(4) static const uint8_t iq4_nl[18] = {[0] = 0x00, [1] = 0x38,
        [2 + 0] = 0x0F, [2 + 5] = 0x87};
    static const struct expect enl[] = {{0, 56.5}, {16, -63.5}, {5, -5.0}, {21, 0.5}};
    static const double dnl[] = {-63.5};
    KNOWN(LB_QTYPE_IQ4_NL, iq4_nl, enl, dnl, 32);

    /* MXFP4: e = 130 -> d = 2^(130-128) = 4, x = K[nibble] * d,
     * K = {0,1,2,3,4,6,8,12,0,-1,-2,-3,-4,-6,-8,-12}
     * qs[0] = 0x97: e0 = K[7] = 12 -> 48,  e16 = K[9] = -1 -> -4
     * qs[3] = 0xE5: e3 = K[5] = 6 -> 24,   e19 = K[14] = -8 -> -32
     * others: 0 */
    _Alignas(4) static const uint8_t mx[17] = {[0] = 0x82, [1 + 0] = 0x97, [1 + 3] = 0xE5};
    static const struct expect emx[] = {{0, 48.0}, {16, -4.0}, {3, 24.0}, {19, -32.0}};
    static const double dmx[] = {0.0};
    KNOWN(LB_QTYPE_MXFP4, mx, emx, dmx, 32);

    /* MXFP4 scale ends, as ggml computes 2^(e-128): e = 0 -> 2^-128 (an
     * f32 subnormal), e = 1 -> 2^-127, e = 255 -> 2^127 (finite, not NaN).
     * block 0: e = 0,   qs[0] = 0x07: e0  = 12 * 2^-128
     * block 1: e = 1,   qs[0] = 0x03: e32 = 3 * 2^-127
     * block 2: e = 255, qs[0] = 0x91: e64 = 1 * 2^127, e80 = -1 * 2^127 */
    _Alignas(4) static const uint8_t mxe[51] = {[0] = 0x00, [1] = 0x07,
        [17] = 0x01, [18] = 0x03, [34] = 0xFF, [35] = 0x91};
    const struct expect emxe[] = {{0, ldexp(12, -128)}, {32, ldexp(3, -127)},
                                  {64, ldexp(1, 127)}, {80, -ldexp(1, 127)}};
    static const double dmxe[] = {0.0, 0.0, 0.0};
    KNOWN(LB_QTYPE_MXFP4, mxe, emxe, dmxe, 32);
    CHECK(lb_e8m0_to_f32_half(0) == ldexp(1, -128));
    CHECK(lb_e8m0_to_f32_half(255) == ldexp(1, 127));
    CHECK(lb_e8m0_to_f32_half(128) == 1.0f);
}

static void test_known_k(void)
{
    /* Q2_K: d = 0.5, dmin = 0.25; sub-block k = i/16: scales[k] low
     * nibble sc, high nibble m; x = d*sc*q - dmin*m. Element i: q = bits
     * 2j of qs[32h + l], h = i/128, j = (i%128)/32, l = i%32.
     * scales[0] = 0x21 (sc 1, m 2), [1] = 0x13 (3, 1), [2] = 0x32 (2, 3),
     * [9] = 0x5F (15, 5), [15] = 0x07 (7, 0)
     * e3:   qs[3] bits 0-1 = 2, sub 0:  .5*1*2 - .25*2 = .5
     * e35:  qs[3] bits 2-3 = 3, sub 2:  .5*2*3 - .25*3 = 2.25
     * e17:  qs[17] bits 0-1 = 1, sub 1: .5*3*1 - .25*1 = 1.25
     * e150: qs[54] bits 0-1 = 3, sub 9: .5*15*3 - .25*5 = 21.25
     * e159: qs[63] bits 0-1 = 0, sub 9: -1.25
     * e255: qs[63] bits 6-7 = 3, sub 15: .5*7*3 - 0 = 10.5 */
    _Alignas(4) static const uint8_t q2k[84] = {[0] = 0x21, [1] = 0x13, [2] = 0x32,
        [9] = 0x5F, [15] = 0x07,
        [16 + 3] = 0x0E, [16 + 17] = 0x01, [16 + 54] = 0x03, [16 + 63] = 0xC0,
        [80] = 0x00, [81] = 0x38, [82] = 0x00, [83] = 0x34};
    static const struct expect e2k[] = {{3, 0.5}, {35, 2.25}, {17, 1.25},
                                        {150, 21.25}, {159, -1.25}, {255, 10.5}};
    static const double d2k[16] = {-0.5, -0.25, -0.75, 0, 0, 0, 0, 0, 0, -1.25};
    KNOWN(LB_QTYPE_Q2_K, q2k, e2k, d2k, 16);

    /* Q3_K: d = 0.5; x = d*(sc-32)*q, q = low2 - (hbit ? 0 : 4), low2 =
     * bits 2j of qs[32h + l], hbit = bit 4h+j of hmask[l]. Scale k (6
     * bits): low 4 = scales[k] & 15 (k < 8) or scales[k-8] >> 4, high 2 =
     * bits 2(k/4) of scales[8 + k%4]. The sub-blocks used have k%4 != k/4,
     * so reading the high bits transposed (byte 8 + k/4) fails.
     * sub 1:  scales[1] lo = 1,   scales[9] bits 0-1 = 2:  33 -> +1
     * sub 6:  scales[6] lo = 4,   scales[10] bits 2-3 = 1: 20 -> -12
     * sub 11: scales[3] hi = 15,  scales[11] bits 4-5 = 3: 63 -> +31
     * sub 12: scales[4] hi = 13,  scales[8] bits 6-7 = 2:  45 -> +13
     * all other sub-blocks: 0 -> -32
     * e20:  qs[20] bits 0-1 = 3, hmask[20] bit 0 set:   q = 3:  .5*1*3 = 1.5
     * e29:  qs[29] bits 0-1 = 1, hmask[29] bit 0 clear: q = -3: .5*1*-3 = -1.5
     * e100: qs[4] bits 6-7 = 2, hmask[4] bit 3 clear:   q = -2: .5*-12*-2 = 12
     * e180: qs[52] bits 2-3 = 1, hmask[20] bit 5 set:   q = 1:  .5*31*1 = 15.5
     * e200: qs[40] bits 4-5 = 3, hmask[8] bit 6 set:    q = 3:  .5*13*3 = 19.5
     * e154: qs[58] bits 0-1 = 0, hmask[26] bit 4 set:   q = 0:  0
     * unlisted: q = -4: -2 * (sc - 32) */
    _Alignas(4) static const uint8_t q3k[110] = {[8] = 0x40, [20] = 0x21, [26] = 0x10,
        [32 + 4] = 0x80, [32 + 20] = 0x03, [32 + 29] = 0x01, [32 + 40] = 0x30,
        [32 + 52] = 0x04,
        [96 + 1] = 0x01, [96 + 3] = 0xF0, [96 + 4] = 0xD0, [96 + 6] = 0x04,
        [96 + 8] = 0x80, [96 + 9] = 0x02, [96 + 10] = 0x04, [96 + 11] = 0x30,
        [108] = 0x00, [109] = 0x38};
    static const struct expect e3k[] = {{20, 1.5}, {29, -1.5}, {100, 12.0},
                                        {180, 15.5}, {200, 19.5}, {154, 0.0}};
    static const double d3k[16] = {64, -2, 64, 64, 64, 64, 24, 64,
                                   64, 64, 64, -62, -26, 64, 64, 64};
    KNOWN(LB_QTYPE_Q3_K, q3k, e3k, d3k, 16);

    /* Q4_K: d = 0.5, dmin = 0.125; 8 sub-blocks of 32; x = d*sc*q - dmin*m.
     * scales: sub k < 4: sc = s[k] & 63, m = s[k+4] & 63; k >= 4:
     * sc = (s[k+4] & 15) | (s[k-4] >> 6) << 4, m = (s[k+4] >> 4) |
     * (s[k] >> 6) << 4.
     * s[0] = 0x0A, s[4] = 0x03:                 sub 0: sc 10, m 3
     * s[1] = 0x81 (sc 1 | 2<<6), s[5] = 0xC0:   sub 1: sc 1,  m 0
     * s[9] = 0x25, s[1] >> 6 = 2, s[5] >> 6 = 3: sub 5: sc 5|2<<4 = 37,
     *                                                  m 2|3<<4 = 50
     * s[11] = 0x1F, s[3] = 0xC0, s[7] = 0x40:   sub 7: sc 15|3<<4 = 63,
     *                                                  m 1|1<<4 = 17
     * element 64c + r: low nibble of qs[32c + r] (r < 32) or high nibble
     * of qs[32c + r - 32]
     * e7:   qs[7] low 9, sub 0:    .5*10*9 - .125*3 = 44.625
     * e40:  qs[8] high 15, sub 1:  .5*1*15 - 0 = 7.5
     * e170: qs[74] high 6, sub 5:  .5*37*6 - .125*50 = 104.75
     * e255: qs[127] high 2, sub 7: .5*63*2 - .125*17 = 60.875 */
    _Alignas(4) static const uint8_t q4k[144] = {[0] = 0x00, [1] = 0x38, [2] = 0x00, [3] = 0x30,
        [4 + 0] = 0x0A, [4 + 1] = 0x81, [4 + 3] = 0xC0, [4 + 4] = 0x03, [4 + 5] = 0xC0,
        [4 + 7] = 0x40, [4 + 9] = 0x25, [4 + 11] = 0x1F,
        [16 + 7] = 0x09, [16 + 8] = 0xF0, [16 + 74] = 0x60, [16 + 127] = 0x20};
    static const struct expect e4k[] = {{7, 44.625}, {40, 7.5}, {170, 104.75}, {255, 60.875}};
    static const double d4k[8] = {-0.375, 0, 0, 0, 0, -6.25, 0, -2.125};
    KNOWN(LB_QTYPE_Q4_K, q4k, e4k, d4k, 32);

    /* Q5_K: d = 0.25, dmin = 0.5, same scale bytes as Q4_K; fifth bit of
     * element 64c + r is bit 2c + (r >= 32) of qh[r % 32].
     * e7:   qs[7] low 9, qh[7] bit 0:    q = 25: .25*10*25 - .5*3 = 61
     * e31:  qs[31] low 0, qh[31] bit 0:  q = 16: .25*10*16 - 1.5 = 38.5
     * e40:  qs[8] high 15, no qh bit:    q = 15: .25*1*15 - 0 = 3.75
     * e170: qs[74] high 6, qh[10] bit 5: q = 22: .25*37*22 - .5*50 = 178.5
     * e255: qs[127] high 2, qh[31] bit 7: q = 18: .25*63*18 - .5*17 = 275 */
    _Alignas(4) static const uint8_t q5k[176] = {[0] = 0x00, [1] = 0x34, [2] = 0x00, [3] = 0x38,
        [4 + 0] = 0x0A, [4 + 1] = 0x81, [4 + 3] = 0xC0, [4 + 4] = 0x03, [4 + 5] = 0xC0,
        [4 + 7] = 0x40, [4 + 9] = 0x25, [4 + 11] = 0x1F,
        [16 + 7] = 0x01, [16 + 10] = 0x20, [16 + 31] = 0x81,
        [48 + 7] = 0x09, [48 + 8] = 0xF0, [48 + 74] = 0x60, [48 + 127] = 0x20};
    static const struct expect e5k[] = {{7, 61.0}, {31, 38.5}, {40, 3.75},
                                        {170, 178.5}, {255, 275.0}};
    static const double d5k[8] = {-1.5, 0, 0, 0, 0, -25, 0, -8.5};
    KNOWN(LB_QTYPE_Q5_K, q5k, e5k, d5k, 32);

    /* Q6_K: d = 0.5; x = d*sc*(q-32), sub-block i/16, int8 scales.
     * q = low4 | hi2 << 4; low4 in ql[64h + l + 32(j&1)] (low nibble j < 2,
     * high j >= 2), hi2 = bits 2j of qh[32h + l].
     * scales: [0] = 2, [3] = -3, [4] = 1, [9] = 5, [14] = -128, [15] = 127
     * e1:   ql[1] low 5, qh[1] bits 0-1 = 3:    q = 53: .5*2*21 = 21
     * e50:  ql[50] low 15, qh[18] bits 2-3 = 1: q = 31: .5*-3*-1 = 1.5
     * e70:  ql[6] high 3, qh[6] bits 4-5 = 2:   q = 35: .5*1*3 = 1.5
     * e150: ql[86] low 1, qh[54] bits 0-1 = 2:  q = 33: .5*5*1 = 2.5
     * e230: ql[102] high 8, qh[38] bits 6-7 = 1: q = 24: .5*-128*-8 = 512
     * e255: ql[127] high 15, qh[63] bits 6-7 = 3: q = 63: .5*127*31 = 1968.5
     * unlisted: q = 0: .5*sc*-32 = -16*sc */
    _Alignas(4) static const uint8_t q6k[210] = {[1] = 0x05, [6] = 0x30, [50] = 0x0F,
        [86] = 0x01, [102] = 0x80, [127] = 0xF0,
        [128 + 1] = 0x03, [128 + 6] = 0x20, [128 + 18] = 0x04, [128 + 38] = 0x40,
        [128 + 54] = 0x02, [128 + 63] = 0xC0,
        [192 + 0] = 0x02, [192 + 3] = 0xFD, [192 + 4] = 0x01, [192 + 9] = 0x05,
        [192 + 14] = 0x80, [192 + 15] = 0x7F, [208] = 0x00, [209] = 0x38};
    static const struct expect e6k[] = {{1, 21.0}, {50, 1.5}, {70, 1.5}, {150, 2.5},
                                        {230, 512.0}, {255, 1968.5}};
    static const double d6k[16] = {-32, 0, 0, 48, -16, 0, 0, 0,
                                   0, -80, 0, 0, 0, 0, 2048, -2032};
    KNOWN(LB_QTYPE_Q6_K, q6k, e6k, d6k, 16);

    /* Q8_K: d = 0.5f (f32 LE 00 00 00 3F); qs[0] = -3, qs[200] = 100,
     * qs[255] = -127; bsums (unused by dequantize) not zero */
    _Alignas(4) static const uint8_t q8k[292] = {[3] = 0x3F, [4 + 0] = 0xFD,
        [4 + 200] = 0x64, [4 + 255] = 0x81, [260] = 0xFD, [261] = 0xFF};
    static const struct expect e8k[] = {{0, -1.5}, {200, 50.0}, {255, -63.5}};
    static const double d8k[] = {0.0};
    KNOWN(LB_QTYPE_Q8_K, q8k, e8k, d8k, 256);

    /* IQ4_XS: d = 0.25; ls of sub-block k = ((scales_l[k/2] >> 4(k%2)) &
     * 15) | ((scales_h >> 2k) & 3) << 4; x = d*(ls-32)*T[nibble]; sub-block
     * k uses qs[16k .. 16k+15], low nibble element 32k + l, high 32k+16+l.
     * scales_h = 0xB042 (LE 42 B0): bits 2k per sub-block: 2,0,0,1,0,0,3,2
     * scales_l = {0x01, 0x40, 0x00, 0x8F}: low 4 bits 1,0,0,4,0,0,15,8
     * ls: sub 0: 33 -> +1, sub 3: 20 -> -12, sub 6: 63 -> +31,
     *     sub 7: 40 -> +8, others 0 -> -32
     * e2:   qs[2] low 15:   .25*1*113 = 28.25
     * e18:  qs[2] high 0:   .25*1*-127 = -31.75
     * e100: qs[52] low 9:   .25*-12*13 = -39
     * e220: qs[108] high 4: .25*31*-49 = -379.75
     * e255: qs[127] high 12: .25*8*53 = 106
     * unlisted: T[0] = -127: .25*(ls-32)*-127 */
    _Alignas(4) static const uint8_t iq4xs[136] = {[0] = 0x00, [1] = 0x34, [2] = 0x42, [3] = 0xB0,
        [4 + 0] = 0x01, [4 + 1] = 0x40, [4 + 3] = 0x8F,
        [8 + 2] = 0x0F, [8 + 52] = 0x09, [8 + 108] = 0x40, [8 + 127] = 0xC0};
    static const struct expect exs[] = {{2, 28.25}, {18, -31.75}, {100, -39.0},
                                        {220, -379.75}, {255, 106.0}};
    static const double dxs[8] = {-31.75, 1016, 1016, 381, 1016, 1016, -984.25, -254};
    KNOWN(LB_QTYPE_IQ4_XS, iq4xs, exs, dxs, 32);
}

/* Field offsets: the byte positions the known blocks above were written
 * against (ggml's field order). */
static void test_offsets(void)
{
    CHECK_INT_EQ(offsetof(struct lb_block_q4_0, qs), 2);
    CHECK_INT_EQ(offsetof(struct lb_block_q4_1, m), 2);
    CHECK_INT_EQ(offsetof(struct lb_block_q4_1, qs), 4);
    CHECK_INT_EQ(offsetof(struct lb_block_q5_0, qh), 2);
    CHECK_INT_EQ(offsetof(struct lb_block_q5_0, qs), 6);
    CHECK_INT_EQ(offsetof(struct lb_block_q5_1, m), 2);
    CHECK_INT_EQ(offsetof(struct lb_block_q5_1, qh), 4);
    CHECK_INT_EQ(offsetof(struct lb_block_q5_1, qs), 8);
    CHECK_INT_EQ(offsetof(struct lb_block_q8_0, qs), 2);
    CHECK_INT_EQ(offsetof(struct lb_block_q8_1, s), 2);
    CHECK_INT_EQ(offsetof(struct lb_block_q8_1, qs), 4);
    CHECK_INT_EQ(offsetof(struct lb_block_iq4_nl, qs), 2);
    CHECK_INT_EQ(offsetof(struct lb_block_mxfp4, qs), 1);
    CHECK_INT_EQ(offsetof(struct lb_block_q2_k, qs), 16);
    CHECK_INT_EQ(offsetof(struct lb_block_q2_k, d), 80);
    CHECK_INT_EQ(offsetof(struct lb_block_q2_k, dmin), 82);
    CHECK_INT_EQ(offsetof(struct lb_block_q3_k, qs), 32);
    CHECK_INT_EQ(offsetof(struct lb_block_q3_k, scales), 96);
    CHECK_INT_EQ(offsetof(struct lb_block_q3_k, d), 108);
    CHECK_INT_EQ(offsetof(struct lb_block_q4_k, dmin), 2);
    CHECK_INT_EQ(offsetof(struct lb_block_q4_k, scales), 4);
    CHECK_INT_EQ(offsetof(struct lb_block_q4_k, qs), 16);
    CHECK_INT_EQ(offsetof(struct lb_block_q5_k, scales), 4);
    CHECK_INT_EQ(offsetof(struct lb_block_q5_k, qh), 16);
    CHECK_INT_EQ(offsetof(struct lb_block_q5_k, qs), 48);
    CHECK_INT_EQ(offsetof(struct lb_block_q6_k, qh), 128);
    CHECK_INT_EQ(offsetof(struct lb_block_q6_k, scales), 192);
    CHECK_INT_EQ(offsetof(struct lb_block_q6_k, d), 208);
    CHECK_INT_EQ(offsetof(struct lb_block_q8_k, qs), 4);
    CHECK_INT_EQ(offsetof(struct lb_block_q8_k, bsums), 260);
    CHECK_INT_EQ(offsetof(struct lb_block_iq4_xs, scales_h), 2);
    CHECK_INT_EQ(offsetof(struct lb_block_iq4_xs, scales_l), 4);
    CHECK_INT_EQ(offsetof(struct lb_block_iq4_xs, qs), 8);
}

/* ================================================================== */
/* 2. quantize -> dequantize error                                     */
/* ================================================================== */

/* Relative RMS error bounds: rms(dequant(quant(x)) - x) / rms(x), on
 * 64 Ki values per run.
 * Why these sizes: a uniform grid's rounding error is step / sqrt(12). A
 * Gaussian block of 32 has max |x| ~ 2.0-2.5 sigma, so a symmetric b-bit
 * grid has a step of ~ 2.2 sigma / 2^(b-1): Q4_0 ~ 0.28 sigma -> ~0.08,
 * each extra bit halves it (Q5_0 ~ 0.04, Q6_K ~ 0.017 with blocks of 16,
 * Q8 ~ 0.005); an offset (Q4_1, Q5_1, K-quant mins) spends the codes on
 * [min, max] only (~15% less); K-quants lose a little to their quantized
 * sub-block scales; 2 bits with a min (Q2_K) sit at ~0.26, near the
 * optimum of a 4-level grid on 16 samples. Non-uniform 4-bit grids (IQ4)
 * sit slightly below Q4_0, MXFP4's power-of-two scale costs ~35% over it.
 * Measured with LB_TEST_SEED = 1..140 (x86-64, gcc 12 -O3), the
 * bounds are the worst Gaussian value + 8% (>= 20 run-to-run standard
 * deviations: n is large, the spread is ~0.3%) and the worst heavy-tailed
 * value + 15% (>= 7 deviations: a few outliers dominate, spread ~1.5%).
 * For reference, ggml-style absmax/min-max quantizers measure Q4_0 0.086,
 * Q4_1 0.078, MXFP4 0.114 on the same data; ours search the scale.
 * Heavy-tailed data: Gaussian with 1% of values times 10; an outlier
 * stretches its block's scale, so the error relative to rms(x) grows
 * (most for 32-value blocks without an offset) but stays bounded. */
struct rms_bound {
    enum lb_qtype type;
    double gauss, heavy;
};

static const struct rms_bound rms_bounds[] = {
    {LB_QTYPE_F32, 0.0, 0.0},        /* exact */
    {LB_QTYPE_F16, 3.0e-4, 3.0e-4},  /* half-ulp 2^-11 relative; meas. 2.1e-4 */
    {LB_QTYPE_BF16, 2.5e-3, 2.5e-3}, /* half-ulp 2^-8 relative; meas. 1.7e-3 */
    /*                gauss  heavy      measured worst: gauss   heavy */
    {LB_QTYPE_Q8_0, 0.0059, 0.0111},  /*  0.00540  0.00966 */
    {LB_QTYPE_Q8_1, 0.0059, 0.0111},  /*  0.00540  0.00962 */
    {LB_QTYPE_Q8_K, 0.0078, 0.0256},  /*  0.00713  0.02225 (256-blocks) */
    {LB_QTYPE_Q4_0, 0.0885, 0.168},   /*  0.08187  0.14594 */
    {LB_QTYPE_Q4_1, 0.0756, 0.1055},  /*  0.06996  0.09170 */
    {LB_QTYPE_Q5_0, 0.0437, 0.086},   /*  0.04045  0.07476 */
    {LB_QTYPE_Q5_1, 0.0366, 0.051},   /*  0.03384  0.04435 */
    {LB_QTYPE_IQ4_NL, 0.0797, 0.129}, /*  0.07374  0.11200 */
    {LB_QTYPE_MXFP4, 0.1217, 0.1795}, /*  0.11263  0.15607 */
    {LB_QTYPE_Q2_K, 0.2854, 0.323},   /*  0.26395  0.28001 */
    {LB_QTYPE_Q3_K, 0.1561, 0.218},   /*  0.14449  0.18954 */
    {LB_QTYPE_Q4_K, 0.0776, 0.109},   /*  0.07186  0.09479 */
    {LB_QTYPE_Q5_K, 0.0389, 0.0549},  /*  0.03598  0.04773 */
    {LB_QTYPE_Q6_K, 0.0184, 0.032},   /*  0.01701  0.02784 */
    {LB_QTYPE_IQ4_XS, 0.0805, 0.131}, /*  0.07445  0.11384 */
};

static const struct rms_bound *rms_bound_of(enum lb_qtype t)
{
    for (size_t k = 0; k < ARRAY_LEN(rms_bounds); k++)
        if (rms_bounds[k].type == t) return &rms_bounds[k];
    return NULL;
}

#define N_RMS (64 * 1024)

static void fill_gauss(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)lb_test_rand_normal(&rng);
}

static void fill_heavy(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double v = lb_test_rand_normal(&rng);
        if (lb_test_rand_uniform(&rng) < 0.01) v *= 10;
        x[i] = (float)v;
    }
}

/* Quantize + dequantize x; returns the relative RMS error, or -1 when
 * the output is not finite. */
static double rel_rms(const struct lb_qtraits *q, const float *x, int64_t n,
                      void *blocks, float *y)
{
    q->quantize_ref(x, blocks, n);
    q->dequantize(blocks, y, n);
    double se = 0, sx = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) return -1;
        se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        sx += (double)x[i] * x[i];
    }
    return sqrt(se / sx);
}

static void test_rms(void)
{
    static float x[N_RMS], y[N_RMS];
    static uint8_t blocks[N_RMS * 4];
    for (int t = 0; t < LB_QTYPE_COUNT; t++) {
        const struct lb_qtraits *q = lb_qtraits_get((enum lb_qtype)t);
        if (!q) continue;
        const struct rms_bound *b = rms_bound_of(q->type);
        CHECK_MSG(b != NULL, "%s: no RMS bound stated", q->name);
        if (!b) continue;
        fill_gauss(x, N_RMS);
        double eg = rel_rms(q, x, N_RMS, blocks, y);
        fill_heavy(x, N_RMS);
        double eh = rel_rms(q, x, N_RMS, blocks, y);
        printf("  rms %-7s gauss %.5f (bound %.5f)  heavy %.5f (bound %.5f)\n", q->name,
               eg, b->gauss, eh, b->heavy);
        CHECK_MSG(eg >= 0 && eg <= b->gauss, "%s: gaussian rel rms %.5f > %.5f", q->name,
                  eg, b->gauss);
        CHECK_MSG(eh >= 0 && eh <= b->heavy, "%s: heavy-tailed rel rms %.5f > %.5f",
                  q->name, eh, b->heavy);

        /* an all-zero row decodes to exact zeros */
        memset(x, 0, 1024 * sizeof(float));
        q->quantize_ref(x, blocks, 1024);
        q->dequantize(blocks, y, 1024);
        int nz = 0;
        for (int i = 0; i < 1024; i++) nz += y[i] != 0;
        CHECK_MSG(nz == 0, "%s: zeros decode to %d non-zeros", q->name, nz);

        /* scale invariance: the same data x 100 (scales stay far from the
         * fp16 limits) keeps the bound */
        fill_gauss(x, N_RMS);
        for (int i = 0; i < N_RMS; i++) x[i] *= 100;
        double es = rel_rms(q, x, N_RMS, blocks, y);
        CHECK_MSG(es >= 0 && es <= b->gauss, "%s: x100 rel rms %.5f > %.5f", q->name, es,
                  b->gauss);
    }
}

/* ================================================================== */
/* 3. vec_dot_ref                                                      */
/* ================================================================== */

#define N_DOT 4096
#define DOT_ROWS 8

static void test_vec_dot(void)
{
    static float w[N_DOT], a[N_DOT], wd[N_DOT], ad[N_DOT];
    static uint8_t wq[N_DOT * 4], aq[N_DOT * 4];
    for (int t = 0; t < LB_QTYPE_COUNT; t++) {
        const struct lb_qtraits *q = lb_qtraits_get((enum lb_qtype)t);
        if (!q) continue;
        const struct lb_qtraits *v = lb_qtraits_get(q->vec_dot_type);
        CHECK_MSG(v != NULL, "%s: vec_dot_type has no traits", q->name);
        const struct rms_bound *bw = rms_bound_of(q->type);
        const struct rms_bound *ba = v ? rms_bound_of(v->type) : NULL;
        if (!v || !bw || !ba) continue;
        double worst_int = 0, worst_fp = 0;
        for (int row = 0; row < DOT_ROWS; row++) {
            fill_gauss(w, N_DOT);
            fill_gauss(a, N_DOT);
            q->quantize_ref(w, wq, N_DOT);
            q->dequantize(wq, wd, N_DOT);
            v->quantize_ref(a, aq, N_DOT);
            v->dequantize(aq, ad, N_DOT);
            double got = q->vec_dot_ref(N_DOT, wq, aq);

            /* (a) vs the float64 dot of the dequantized rows. The only
             * differences are float roundings: each dequantized weight is
             * up to 3 float operations on terms bounded by its block's
             * max |w| (e.g. d*sc*q - dmin*m) and each activation one, the
             * per-block scale products are exact in double, and the
             * result is rounded to float once. So |got - exact| <=
             * 16 eps sum_i |ad_i| * blockmax_i + |exact| eps, far below
             * one quantization step (a wrong code or scale moves the dot
             * by ~ step * |a| ~ 0.1 .. 1). For Q4_1/Q5_1 the activation's
             * s = d * sum(q) is stored in fp16: + sum_blocks |m| |s| 2^-11. */
            double exact = 0, tol = 0;
            int be = q->block_elems;
            for (int i0 = 0; i0 < N_DOT; i0 += be) {
                double bmax = 0;
                for (int i = i0; i < i0 + be; i++) bmax = fmax(bmax, fabs(wd[i]));
                for (int i = i0; i < i0 + be; i++) {
                    exact += (double)wd[i] * ad[i];
                    tol += 16 * FLT_EPSILON * fabs(ad[i]) * bmax;
                }
            }
            if (q->vec_dot_type == LB_QTYPE_Q8_1) {
                const struct lb_block_q8_1 *ab = (const void *)aq;
                for (int ib = 0; ib < N_DOT / 32; ib++) {
                    uint16_t m = q->type == LB_QTYPE_Q4_1
                                     ? ((const struct lb_block_q4_1 *)(const void *)wq)[ib].m
                                 : q->type == LB_QTYPE_Q5_1
                                     ? ((const struct lb_block_q5_1 *)(const void *)wq)[ib].m
                                     : 0;
                    tol += fabs(lb_fp16_to_f32(m)) * fabs(lb_fp16_to_f32(ab[ib].s)) * 0x1p-11;
                }
            }
            tol += fabs(exact) * FLT_EPSILON + 1e-30;
            CHECK_MSG(fabs(got - exact) <= tol,
                      "%s: vec_dot %.9g vs dequantized dot %.9g (tol %.3g)", q->name, got,
                      exact, tol);
            worst_int = fmax(worst_int, fabs(got - exact) / tol);

            /* (b) vs the float64 dot of the original floats. With unit
             * Gaussian w and a, the error sum_i (w'a' - wa) has standard
             * deviation ~ sqrt(n) * sqrt(rw^2 + ra^2) for relative rms
             * errors rw, ra (errors uncorrelated with the other factor);
             * 6 sigma with the stated bounds of section 2. */
            double ref = 0;
            for (int i = 0; i < N_DOT; i++) ref += (double)w[i] * a[i];
            double tol_fp = 6 * sqrt((double)N_DOT) *
                                sqrt(bw->gauss * bw->gauss + ba->gauss * ba->gauss) +
                            tol;
            CHECK_MSG(fabs(got - ref) <= tol_fp,
                      "%s: vec_dot %.9g vs float dot %.9g (tol %.3g)", q->name, got, ref,
                      tol_fp);
            worst_fp = fmax(worst_fp, fabs(got - ref) / tol_fp);
        }
        printf("  dot %-7s x %-4s  |err| / tol: dequantized %.3f  float %.3f\n", q->name,
               v->name, worst_int, worst_fp);
    }
}

/* ================================================================== */
/* 4. traits table                                                     */
/* ================================================================== */

static const struct {
    enum lb_qtype type;
    size_t size;    /* sizeof the block (element for float types) */
    int elems;      /* elements per block */
} layout[] = {
    {LB_QTYPE_F32, sizeof(float), 1},
    {LB_QTYPE_F16, sizeof(uint16_t), 1},
    {LB_QTYPE_BF16, sizeof(uint16_t), 1},
    {LB_QTYPE_Q4_0, sizeof(struct lb_block_q4_0), LB_QK4_0},
    {LB_QTYPE_Q4_1, sizeof(struct lb_block_q4_1), LB_QK4_1},
    {LB_QTYPE_Q5_0, sizeof(struct lb_block_q5_0), LB_QK5_0},
    {LB_QTYPE_Q5_1, sizeof(struct lb_block_q5_1), LB_QK5_1},
    {LB_QTYPE_Q8_0, sizeof(struct lb_block_q8_0), LB_QK8_0},
    {LB_QTYPE_Q8_1, sizeof(struct lb_block_q8_1), LB_QK8_1},
    {LB_QTYPE_Q2_K, sizeof(struct lb_block_q2_k), LB_QK_K},
    {LB_QTYPE_Q3_K, sizeof(struct lb_block_q3_k), LB_QK_K},
    {LB_QTYPE_Q4_K, sizeof(struct lb_block_q4_k), LB_QK_K},
    {LB_QTYPE_Q5_K, sizeof(struct lb_block_q5_k), LB_QK_K},
    {LB_QTYPE_Q6_K, sizeof(struct lb_block_q6_k), LB_QK_K},
    {LB_QTYPE_Q8_K, sizeof(struct lb_block_q8_k), LB_QK_K},
    {LB_QTYPE_IQ4_NL, sizeof(struct lb_block_iq4_nl), LB_QK4_NL},
    {LB_QTYPE_IQ4_XS, sizeof(struct lb_block_iq4_xs), LB_QK_K},
    {LB_QTYPE_MXFP4, sizeof(struct lb_block_mxfp4), LB_QK_MXFP4},
};

static void test_traits(void)
{
    int n_traits = 0;
    for (int t = 0; t < LB_QTYPE_COUNT; t++) {
        const struct lb_qtraits *q = lb_qtraits_get((enum lb_qtype)t);
        if (!q) continue;
        n_traits++;
        CHECK_INT_EQ(q->type, t);
        int found = 0;
        for (size_t k = 0; k < ARRAY_LEN(layout); k++) {
            if (layout[k].type != q->type) continue;
            found = 1;
            CHECK_MSG((size_t)q->block_bytes == layout[k].size, "%s: block_bytes %d != sizeof %zu",
                      q->name, q->block_bytes, layout[k].size);
            CHECK_INT_EQ(q->block_elems, layout[k].elems);
        }
        CHECK_MSG(found, "%s: not in the test's layout list", q->name);
        CHECK_MSG(q->bits_per_weight == 8.0 * q->block_bytes / q->block_elems,
                  "%s: bits_per_weight %g != %g", q->name, q->bits_per_weight,
                  8.0 * q->block_bytes / q->block_elems);
        CHECK(q->quantize_ref && q->dequantize && q->vec_dot_ref);
        CHECK(q->is_quantized == (t != LB_QTYPE_F32 && t != LB_QTYPE_F16 && t != LB_QTYPE_BF16));

        /* names: CLI name is the lower-case ggml name, both parse back */
        CHECK_INT_EQ(strlen(q->name), strlen(q->ggml_name));
        for (const char *c = q->name, *g = q->ggml_name; *c; c++, g++)
            CHECK_MSG(*c == (*g >= 'A' && *g <= 'Z' ? *g - 'A' + 'a' : *g),
                      "%s is not the lower case of %s", q->name, q->ggml_name);
        enum lb_qtype p1 = LB_QTYPE_COUNT, p2 = LB_QTYPE_COUNT;
        CHECK(lb_qtype_parse(q->name, &p1) && p1 == q->type);
        CHECK(lb_qtype_parse(q->ggml_name, &p2) && p2 == q->type);
        CHECK(strcmp(lb_qtype_name(q->type), q->name) == 0);

        /* dot products pair blocks one to one */
        const struct lb_qtraits *v = lb_qtraits_get(q->vec_dot_type);
        CHECK(v != NULL);
        if (v && q->is_quantized) CHECK_INT_EQ(v->block_elems, q->block_elems);
        if (v && !q->is_quantized) CHECK_INT_EQ(v->type, LB_QTYPE_F32);

        CHECK_INT_EQ(lb_qtype_row_bytes(q->type, 3 * (int64_t)q->block_elems),
                     3 * q->block_bytes);
    }
    CHECK_INT_EQ(n_traits, (int)ARRAY_LEN(layout));

    /* the documented ids */
    CHECK_INT_EQ(LB_QTYPE_Q4_0, 2);
    CHECK_INT_EQ(LB_QTYPE_Q8_K, 15);
    CHECK_INT_EQ(LB_QTYPE_IQ4_NL, 20);
    CHECK_INT_EQ(LB_QTYPE_IQ4_XS, 23);
    CHECK_INT_EQ(LB_QTYPE_BF16, 30);
    CHECK_INT_EQ(LB_QTYPE_MXFP4, 39);
    /* removed and unimplemented ids have no traits */
    static const int none[] = {4, 5, 16, 17, 18, 19, 21, 22, 24, 28, 29, 31, 32, 33,
                               34, 35, 36, 37, 38, 40, 41, 1000, -1};
    for (size_t k = 0; k < ARRAY_LEN(none); k++)
        CHECK_MSG(lb_qtraits_get((enum lb_qtype)none[k]) == NULL, "id %d has traits", none[k]);
    CHECK(strcmp(lb_qtype_name((enum lb_qtype)4), "unknown") == 0);

    enum lb_qtype p = LB_QTYPE_F32;
    CHECK(lb_qtype_parse("q4_k", &p) && p == LB_QTYPE_Q4_K);
    CHECK(lb_qtype_parse("IQ4_xs", &p) && p == LB_QTYPE_IQ4_XS);
    p = LB_QTYPE_F16;
    CHECK(!lb_qtype_parse("q4", &p) && p == LB_QTYPE_F16);
    CHECK(!lb_qtype_parse("q4_k_m", &p));
    CHECK(!lb_qtype_parse("", &p));
    CHECK(!lb_qtype_parse(NULL, &p));
    CHECK_INT_EQ(lb_qtype_row_bytes(LB_QTYPE_Q4_K, 4096), 16 * 144);
    CHECK_INT_EQ(lb_qtype_row_bytes(LB_QTYPE_F16, 7), 14);
    CHECK_INT_EQ(lb_qtype_row_bytes(LB_QTYPE_MXFP4, 0), 0);
}

/* ================================================================== */
/* 5. fp16 / bf16                                                      */
/* ================================================================== */

/* Independent decoders, from the IEEE definitions. */
static double ref_fp16(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static double ref_bf16(uint16_t h)
{
    int s = h >> 15, e = (h >> 7) & 255, m = h & 127;
    double v = e == 0 ? ldexp(m, -133) : e == 255 ? (m ? NAN : INFINITY) : ldexp(128 + m, e - 134);
    return s ? -v : v;
}

static float f32_of_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round-to-nearest-even reference for f >= 0 (finite): binary search for
 * the largest fp16 not above f, then compare distances in double. */
static uint16_t ref_to_fp16_pos(double f)
{
    if (f >= 65520.0) return 0x7C00;
    unsigned lo = 0, hi = 0x7BFF; /* ref(lo) <= f, invariant */
    if (f >= ref_fp16(0x7BFF)) lo = 0x7BFF;
    else
        while (hi - lo > 1) {
            unsigned mid = (lo + hi) / 2;
            if (ref_fp16((uint16_t)mid) <= f) lo = mid;
            else hi = mid;
        }
    if (lo == 0x7BFF) return (uint16_t)(f - 65504.0 < 65536.0 - f || f < 65520.0 ? 0x7BFF : 0x7C00);
    double dl = f - ref_fp16((uint16_t)lo), dh = ref_fp16((uint16_t)(lo + 1)) - f;
    if (dl < dh) return (uint16_t)lo;
    if (dh < dl) return (uint16_t)(lo + 1);
    return (uint16_t)((lo & 1) ? lo + 1 : lo);
}

static void test_fp16(void)
{
    int bad_decode = 0, bad_trip = 0, bad_nan = 0, first = -1;
    for (unsigned h = 0; h < 65536; h++) {
        float f = lb_fp16_to_f32((uint16_t)h);
        double r = ref_fp16((uint16_t)h);
        uint16_t back = lb_f32_to_fp16(f);
        if (isnan(r)) {
            if (!isnan(f) || (back & 0x7C00) != 0x7C00 || !(back & 0x3FF) ||
                (back & 0x8000) != (h & 0x8000)) {
                bad_nan++;
                if (first < 0) first = (int)h;
            }
            continue;
        }
        if ((double)f != r || !signbit(f) != !signbit(r)) {
            bad_decode++;
            if (first < 0) first = (int)h;
        }
        if (back != h) {
            bad_trip++;
            if (first < 0) first = (int)h;
        }
    }
    CHECK_MSG(bad_decode + bad_trip + bad_nan == 0,
              "fp16: %d decode, %d round-trip, %d NaN failures (first 0x%04x)", bad_decode,
              bad_trip, bad_nan, first);

    /* ties: the midpoint of two adjacent finite halves (exact in f32)
     * rounds to the one with an even mantissa; one f32 ulp either side
     * rounds to the nearer one. Both signs. */
    int bad_tie = 0;
    first = -1;
    for (unsigned h = 0; h < 0x7BFF; h++) {
        double lo = ref_fp16((uint16_t)h), hi = ref_fp16((uint16_t)(h + 1));
        float mid = (float)((lo + hi) / 2);
        uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
        int ok = (double)mid == (lo + hi) / 2 && lb_f32_to_fp16(mid) == even &&
                 lb_f32_to_fp16(-mid) == (even | 0x8000) &&
                 lb_f32_to_fp16(nextafterf(mid, INFINITY)) == h + 1 &&
                 lb_f32_to_fp16(nextafterf(mid, 0)) == h;
        if (!ok) {
            bad_tie++;
            if (first < 0) first = (int)h;
        }
    }
    CHECK_MSG(bad_tie == 0, "fp16: %d tie failures (first between 0x%04x and next)", bad_tie,
              first);
    /* the top: 65520 is the tie between 65504 (odd) and 2^16: Inf */
    CHECK_INT_EQ(lb_f32_to_fp16(65520.0f), 0x7C00);
    CHECK_INT_EQ(lb_f32_to_fp16(nextafterf(65520.0f, 0)), 0x7BFF);
    CHECK_INT_EQ(lb_f32_to_fp16(-65520.0f), 0xFC00);
    CHECK_INT_EQ(lb_f32_to_fp16(FLT_MAX), 0x7C00);
    CHECK_INT_EQ(lb_f32_to_fp16(INFINITY), 0x7C00);
    CHECK_INT_EQ(lb_f32_to_fp16(-INFINITY), 0xFC00);
    CHECK_INT_EQ(lb_f32_to_fp16(0x1p-25f), 0x0000);        /* tie with 0: even */
    CHECK_INT_EQ(lb_f32_to_fp16(0x1.000002p-25f), 0x0001); /* just above */
    CHECK_INT_EQ(lb_f32_to_fp16(FLT_TRUE_MIN), 0x0000);
    CHECK_INT_EQ(lb_f32_to_fp16(-0.0f), 0x8000);
    uint16_t qn = lb_f32_to_fp16(f32_of_bits(0x7F800001u)); /* sNaN, low payload */
    CHECK((qn & 0x7C00) == 0x7C00 && (qn & 0x3FF) != 0);
    CHECK(isnan(lb_fp16_to_f32(lb_f32_to_fp16(NAN))));

    /* random f32 values across the fp16 range vs the reference rounding */
    int bad_rand = 0;
    float first_f = 0;
    for (int k = 0; k < 200000; k++) {
        double mant = 1 + lb_test_rand_uniform(&rng);
        int ex = (int)(lb_test_rand_u64(&rng) % 48) - 30; /* 2^-30 .. 2^17 */
        float f = (float)ldexp(mant, ex);
        uint16_t want = ref_to_fp16_pos(f);
        if (lb_f32_to_fp16(f) != want || lb_f32_to_fp16(-f) != (want | 0x8000)) {
            if (!bad_rand) first_f = f;
            bad_rand++;
        }
    }
    CHECK_MSG(bad_rand == 0, "fp16: %d random roundings wrong (first %.9g)", bad_rand, first_f);
}

static void test_bf16(void)
{
    int bad = 0, first = -1;
    for (unsigned h = 0; h < 65536; h++) {
        float f = lb_bf16_to_f32((uint16_t)h);
        double r = ref_bf16((uint16_t)h);
        uint16_t back = lb_f32_to_bf16(f);
        int ok = isnan(r) ? isnan(f) && (back & 0x7F80) == 0x7F80 && (back & 0x7F) &&
                                (back & 0x8000) == (h & 0x8000)
                          : (double)f == r && !signbit(f) == !signbit(r) && back == h;
        if (!ok) {
            bad++;
            if (first < 0) first = (int)h;
        }
    }
    CHECK_MSG(bad == 0, "bf16: %d decode/round-trip/NaN failures (first 0x%04x)", bad, first);

    /* ties: f32 bits h << 16 | 0x8000 are halfway between h and h + 1 */
    int bad_tie = 0;
    first = -1;
    for (unsigned h = 0; h < 0x7F80; h++) {
        uint32_t mid = h << 16 | 0x8000u;
        uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
        int ok = lb_f32_to_bf16(f32_of_bits(mid)) == even &&
                 lb_f32_to_bf16(f32_of_bits(mid | 0x80000000u)) == (even | 0x8000) &&
                 lb_f32_to_bf16(f32_of_bits(mid + 1)) == h + 1 &&
                 lb_f32_to_bf16(f32_of_bits(mid - 1)) == h;
        if (!ok) {
            bad_tie++;
            if (first < 0) first = (int)h;
        }
    }
    CHECK_MSG(bad_tie == 0, "bf16: %d tie failures (first 0x%04x)", bad_tie, first);
    CHECK_INT_EQ(lb_f32_to_bf16(FLT_MAX), 0x7F80); /* rounds up to Inf */
    CHECK_INT_EQ(lb_f32_to_bf16(-INFINITY), 0xFF80);
    uint16_t qn = lb_f32_to_bf16(f32_of_bits(0x7F800001u)); /* payload only in low bits */
    CHECK((qn & 0x7F80) == 0x7F80 && (qn & 0x7F) != 0);
}

int main(void)
{
    rng = lb_test_seed();
    LB_RUN(test_known_float);
    LB_RUN(test_known_legacy);
    LB_RUN(test_known_k);
    LB_RUN(test_offsets);
    LB_RUN(test_traits);
    LB_RUN(test_fp16);
    LB_RUN(test_bf16);
    LB_RUN(test_rms);
    LB_RUN(test_vec_dot);
    return lb_test_finish();
}
