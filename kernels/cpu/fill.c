/* fill.c: random valid weights in any format (kernels/lb-fill.h).
 *
 * One table row per block format (STYLE.md #1) says where its scale
 * fields are and how large they may be; the fill is then the same for all:
 * random bytes over the whole block, then each scale field overwritten
 * with a value picked from a 256-entry table of sane fp16 codes, int8
 * quants folded into [-127, 127], and derived fields recomputed (Q8_1 s,
 * Q8_K bsums). Cost: one splitmix64 step per 8 bytes plus a few per block,
 * a few GB/s on one core.
 */
#include <stddef.h>
#include <string.h>

#include "../lb-base.h"
#include "../lb-fill.h"
#include "../quant/lb-blocks.h"

static void fill_bytes(uint64_t *s, void *dst, size_t n)
{
    unsigned char *p = dst;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v = lb_splitmix64(s);
        memcpy(p, &v, 8);
    }
    if (n) {
        uint64_t v = lb_splitmix64(s);
        memcpy(p, &v, n);
    }
}

/* A scale field of a block. */
struct fill_scale {
    int16_t off;     /* byte offset in the block, -1 = unused */
    bool is_signed;  /* random sign (ggml's quantizers write either) */
    float coef;      /* largest |decoded value| per unit of this field, so
                        |field| <= LB_FILL_WEIGHT_MAX / coef */
};

enum fill_kind {
    FILL_BLOCKS = 0, /* random bytes + fp16 scale fields */
    FILL_FLOAT,      /* F32 / F16 / BF16 elements */
};

struct fill_row {
    enum lb_qtype type;       /* = its index; a missing row reads F32 (0) */
    enum fill_kind kind;
    struct fill_scale f16[2]; /* fp16 scale fields */
    int8_t e8m0_off;          /* MXFP4 exponent byte, -1 = none */
    int16_t i8_off, i8_len;   /* int8 quants kept in [-127, 127]; len 0 = none */
    /* derived fields and centring, NULL = none; r: 64 random bits */
    void (*fixup)(void *block, uint64_t r);
};

static void fixup_q8_1(void *b, uint64_t r)
{
    (void)r;
    struct lb_block_q8_1 *q = b;
    int sum = 0;
    for (int i = 0; i < LB_QK8_1; i++) sum += q->qs[i];
    q->s = lb_f32_to_fp16(lb_fp16_to_f32(q->d) * (float)sum);
}

static void fixup_q8_k(void *b, uint64_t r)
{
    struct lb_block_q8_k *q = b;
    (void)r;
    for (int j = 0; j < LB_QK_K / 16; j++) {
        int sum = 0;
        for (int i = 0; i < 16; i++) sum += q->qs[16 * j + i];
        q->bsums[j] = (int16_t)sum;
    }
}

/* Centring. Formats with an offset decode x = d * sc * q - dmin * m (or
 * d * q + m): with m drawn independently of d and sc, a block's values
 * would sit wholly above or below zero, which real weights never do, and
 * a dot over such rows is mostly a large common term that cancels (an
 * 8-bit activation error then shows up 5-10x magnified in the output).
 * So m is set to put the middle code near zero, as a quantizer does for
 * zero-centred data: m = d * sc * qmid / dmin, times 0.9..1.1. */
static float centre_jitter(uint64_t r, int k)
{
    return 0.9f + 0.2f * (float)((r >> (4 * k)) & 15) / 15.0f;
}

static void centre_legacy(uint16_t d, uint16_t *m, float qmid, uint64_t r)
{
    *m = lb_f32_to_fp16(-lb_fp16_to_f32(d) * qmid * centre_jitter(r, 0));
}

static void fixup_q4_1(void *b, uint64_t r)
{
    struct lb_block_q4_1 *q = b;
    centre_legacy(q->d, &q->m, 7.5f, r);
}

static void fixup_q5_1(void *b, uint64_t r)
{
    struct lb_block_q5_1 *q = b;
    centre_legacy(q->d, &q->m, 15.5f, r);
}

/* the 6-bit scale of sub-block k of a Q4_K/Q5_K scales[12] (lb-blocks.h) */
static int kq_sc(const uint8_t *s, int k)
{
    return k < 4 ? s[k] & 63 : (s[k + 4] & 15) | (s[k - 4] >> 6) << 4;
}

static void kq_set_m(uint8_t *s, int k, int m)
{
    if (k < 4) {
        s[k + 4] = (uint8_t)((s[k + 4] & 0xc0) | m);
    } else {
        s[k + 4] = (uint8_t)((s[k + 4] & 0x0f) | (m & 15) << 4);
        s[k] = (uint8_t)((s[k] & 0x3f) | (m >> 4) << 6);
    }
}

static int clamp_round(float v, int hi)
{
    int i = (int)(v + 0.5f);
    return i < 0 ? 0 : i > hi ? hi : i;
}

static void centre_k(uint16_t d, uint16_t dmin, uint8_t *scales, float qmid, uint64_t r)
{
    const float ratio = lb_fp16_to_f32(d) * qmid / lb_fp16_to_f32(dmin);
    for (int k = 0; k < 8; k++)
        kq_set_m(scales, k, clamp_round((float)kq_sc(scales, k) * ratio * centre_jitter(r, k), 63));
}

static void fixup_q4_k(void *b, uint64_t r)
{
    struct lb_block_q4_k *q = b;
    centre_k(q->d, q->dmin, q->scales, 7.5f, r);
}

static void fixup_q5_k(void *b, uint64_t r)
{
    struct lb_block_q5_k *q = b;
    centre_k(q->d, q->dmin, q->scales, 15.5f, r);
}

static void fixup_q2_k(void *b, uint64_t r)
{
    struct lb_block_q2_k *q = b;
    const float ratio = lb_fp16_to_f32(q->d) * 1.5f / lb_fp16_to_f32(q->dmin);
    for (int k = 0; k < 16; k++) { /* low nibble sc, high nibble m */
        int m = clamp_round((float)(q->scales[k] & 15) * ratio * centre_jitter(r, k), 15);
        q->scales[k] = (uint8_t)((q->scales[k] & 15) | m << 4);
    }
}

#define NO_SCALE {-1, false, 0}
#define SC(off, sgn, coef) {off, sgn, coef}
#define FLOATS(T) [LB_QTYPE_##T] = {LB_QTYPE_##T, FILL_FLOAT, {NO_SCALE, NO_SCALE}, -1, 0, 0, NULL}
#define BLOCKS(T, f0, f1, e8, i8o, i8n, fix)                                  \
    [LB_QTYPE_##T] = {LB_QTYPE_##T, FILL_BLOCKS, {f0, f1}, e8, i8o, i8n, fix}
#define OFF(T, field) offsetof(struct lb_block_##T, field)

/* coef: the decoded value's largest factor besides the field, from the
 * formulas in lb-blocks.h (e.g. Q4_K: d * sc * q with sc <= 63, q <= 15;
 * its dmin * m with m <= 63). */
static const struct fill_row fill_rows[LB_QTYPE_COUNT] = {
    FLOATS(F32),
    FLOATS(F16),
    FLOATS(BF16),
    BLOCKS(Q4_0, SC(OFF(q4_0, d), true, 8), NO_SCALE, -1, 0, 0, NULL),
    BLOCKS(Q4_1, SC(OFF(q4_1, d), false, 15), NO_SCALE, -1, 0, 0, fixup_q4_1),
    BLOCKS(Q5_0, SC(OFF(q5_0, d), true, 16), NO_SCALE, -1, 0, 0, NULL),
    BLOCKS(Q5_1, SC(OFF(q5_1, d), false, 31), NO_SCALE, -1, 0, 0, fixup_q5_1),
    BLOCKS(Q8_0, SC(OFF(q8_0, d), true, 127), NO_SCALE, -1, OFF(q8_0, qs), LB_QK8_0, NULL),
    BLOCKS(Q8_1, SC(OFF(q8_1, d), true, 127), NO_SCALE, -1, OFF(q8_1, qs), LB_QK8_1, fixup_q8_1),
    BLOCKS(Q2_K, SC(OFF(q2_k, d), false, 15 * 3), SC(OFF(q2_k, dmin), false, 15), -1, 0, 0, fixup_q2_k),
    BLOCKS(Q3_K, SC(OFF(q3_k, d), true, 32 * 4), NO_SCALE, -1, 0, 0, NULL),
    BLOCKS(Q4_K, SC(OFF(q4_k, d), false, 63 * 15), SC(OFF(q4_k, dmin), false, 63), -1, 0, 0, fixup_q4_k),
    BLOCKS(Q5_K, SC(OFF(q5_k, d), false, 63 * 31), SC(OFF(q5_k, dmin), false, 63), -1, 0, 0, fixup_q5_k),
    BLOCKS(Q6_K, SC(OFF(q6_k, d), true, 128 * 32), NO_SCALE, -1, 0, 0, NULL),
    /* Q8_K's d is an f32: written in fill_blocks */
    BLOCKS(Q8_K, NO_SCALE, NO_SCALE, -1, OFF(q8_k, qs), LB_QK_K, fixup_q8_k),
    BLOCKS(IQ4_NL, SC(OFF(iq4_nl, d), true, 127), NO_SCALE, -1, 0, 0, NULL),
    BLOCKS(IQ4_XS, SC(OFF(iq4_xs, d), true, 32 * 127), NO_SCALE, -1, 0, 0, NULL),
    BLOCKS(MXFP4, NO_SCALE, NO_SCALE, OFF(mxfp4, e), 0, 0, NULL),
};

/* 256 fp16 codes with magnitudes spread over [max/2, max] (positive; the
 * sign bit is added per block when the field is signed) */
static void scale_table(float max, uint16_t *tab)
{
    for (int i = 0; i < 256; i++) tab[i] = lb_f32_to_fp16(max * (0.5f + 0.5f * (float)i / 255.0f));
}

/* Bytes equal to 0x80 (int8 -128) become 0x81 (-127), eight at a time:
 * y = x ^ 0x80.. has a zero byte exactly where x had 0x80; a byte of y
 * is zero iff neither its top bit nor (low 7 bits + 0x7f)'s top bit is
 * set, which needs no borrow across bytes, so it is exact per byte. */
static void fold_minus128(unsigned char *p, size_t n)
{
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full, hi = 0x8080808080808080ull;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        const uint64_t y = x ^ hi, t = (y & lo7) + lo7;
        x |= (~(t | y) & hi) >> 7;
        memcpy(p, &x, 8);
    }
    for (; n; n--, p++) *p = *p == 0x80 ? 0x81 : *p;
}

static void fill_blocks(const struct fill_row *row, const struct lb_qtraits *t, unsigned char *dst,
                        int64_t n_blocks, uint64_t *s)
{
    uint16_t tab[2][256];
    for (int f = 0; f < 2; f++)
        if (row->f16[f].off >= 0) scale_table(LB_FILL_WEIGHT_MAX / row->f16[f].coef, tab[f]);
    const size_t bb = (size_t)t->block_bytes;
    /* all quant bytes first (the long 8-byte loop), then the fields */
    fill_bytes(s, dst, (size_t)n_blocks * bb);
    for (int64_t b = 0; b < n_blocks; b++, dst += bb) {
        const uint64_t r = lb_splitmix64(s); /* this block's scale picks */
        for (int f = 0; f < 2; f++) {
            if (row->f16[f].off < 0) continue;
            uint16_t h = tab[f][(r >> (16 * f)) & 0xff];
            if (row->f16[f].is_signed && ((r >> (16 * f + 8)) & 1)) h |= 0x8000;
            memcpy(dst + row->f16[f].off, &h, 2);
        }
        if (row->e8m0_off >= 0) /* 2^(e-128) * 12 in {0.094, 0.19} */
            dst[row->e8m0_off] = (unsigned char)(121 + ((r >> 32) & 1));
        if (t->type == LB_QTYPE_Q8_K) {
            float d = LB_FILL_WEIGHT_MAX / 127.0f * (0.5f + 0.5f * (float)((r >> 40) & 0xff) / 255.0f);
            if ((r >> 48) & 1) d = -d;
            memcpy(dst, &d, sizeof d);
        }
        if (row->i8_len) fold_minus128(dst + row->i8_off, (size_t)row->i8_len);
        if (row->fixup) row->fixup(dst, lb_splitmix64(s));
    }
}

/* Random sign, mantissa and one of four exponents: magnitudes in
 * [2^-7, 2^-3), finite and normal in all three float formats. */
static void fill_floats(enum lb_qtype type, unsigned char *dst, int64_t n, uint64_t *s)
{
    int64_t i = 0;
    while (i < n) {
        uint64_t r = lb_splitmix64(s);
        if (type == LB_QTYPE_F32) {
            for (int j = 0; j < 2 && i < n; j++, i++, r >>= 32) {
                uint32_t v = (uint32_t)r;
                /* sign | exponent 120..123 (bias 127) | 23 mantissa bits */
                uint32_t bits = (v & 0x80000000u) | ((120u + ((v >> 23) & 3u)) << 23) | (v & 0x7fffffu);
                memcpy(dst + 4 * i, &bits, 4);
            }
        } else {
            for (int j = 0; j < 4 && i < n; j++, i++, r >>= 16) {
                uint16_t v = (uint16_t)r, bits;
                if (type == LB_QTYPE_F16) /* exponent 8..11 (bias 15), 10 mantissa bits */
                    bits = (uint16_t)((v & 0x8000u) | ((8u + ((v >> 10) & 3u)) << 10) | (v & 0x3ffu));
                else /* BF16: exponent 120..123 (bias 127), 7 mantissa bits */
                    bits = (uint16_t)((v & 0x8000u) | ((120u + ((v >> 7) & 3u)) << 7) | (v & 0x7fu));
                memcpy(dst + 2 * i, &bits, 2);
            }
        }
    }
}

void lb_fill_random_weights(enum lb_qtype type, void *dst, int64_t n_elems, uint64_t seed)
{
    const struct lb_qtraits *t = lb_qtraits_get(type);
    LB_ASSERT(t && n_elems >= 0 && n_elems % t->block_elems == 0);
    uint64_t s = seed ^ 0x6a09e667f3bcc909ull; /* seed 0 is a fine stream too */
    const struct fill_row *row = &fill_rows[type];
    if (row->kind == FILL_FLOAT && row->type == type) {
        fill_floats(type, dst, n_elems, &s);
        return;
    }
    /* a format with traits but no row here would get garbage scales */
    LB_ASSERT(row->type == type);
    fill_blocks(row, t, dst, n_elems / t->block_elems, &s);
}
