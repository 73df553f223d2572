/* lb-blocks.h: the quantization block layouts of GGUF/ggml, byte for byte.
 *
 * One header for every block struct (STYLE.md #4), shared by the C
 * reference code, the CPU SIMD files and, later, the CUDA/HIP kernels, so
 * it holds plain structs of fixed-width types and constants only: no
 * functions, no libc beyond <stdint.h>, nothing host-specific.
 *
 * The layouts and field order are ggml's (src/ggml-common.h), because real
 * GGUF files are decoded through them; each struct carries a static assert
 * on its size, and tests/test-quant.c checks field offsets against the
 * byte positions of hand-built blocks. Conventions used in the comments:
 *  - "fp16" fields hold IEEE binary16 bits (little-endian in memory, as
 *    every GGUF file is); convert with lb_fp16_to_f32 (kernels/lb-quant.h).
 *  - "element j" is the j-th value of the block in row order.
 *  - the formulas give the value ggml's dequantize_row_* produces; the
 *    exact arithmetic order is in kernels/quant/quant-*.c.
 * Every struct has 1- or 2-byte alignment except lb_block_q8_k (4, for its
 * float), so consecutive blocks in a row have no padding: row bytes =
 * blocks x sizeof(block).
 *
 * How to add a format: add the struct here with its size assert, its id
 * to enum lb_qtype (kernels/lb-quant.h), its functions to quant-*.c and a
 * row to the traits table in quant.c; tests/test-quant.c then needs a
 * known-bytes case and a sizeof entry.
 */
#ifndef LB_BLOCKS_H
#define LB_BLOCKS_H

#include <stdint.h>

#if defined(__cplusplus)
#define LB_BLOCK_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define LB_BLOCK_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Elements per block. The legacy formats and the IQ4_NL/MXFP4 ones group
 * 32 values; K-quants (and IQ4_XS, Q8_K) use 256-value super-blocks. */
#define LB_QK4_0 32
#define LB_QK4_1 32
#define LB_QK5_0 32
#define LB_QK5_1 32
#define LB_QK8_0 32
#define LB_QK8_1 32
#define LB_QK4_NL 32
#define LB_QK_MXFP4 32
#define LB_QK_K 256
/* 8 six-bit scales + 8 six-bit mins (Q4_K, Q5_K), or 16 six-bit scales
 * (Q3_K), packed into 12 bytes. */
#define LB_K_SCALE_BYTES 12

/* ---- 32-element formats -------------------------------------------- */

/* Q4_0: x = d * (q - 8), q in [0, 15]. */
struct lb_block_q4_0 {
    uint16_t d;      /* fp16 scale */
    uint8_t qs[16];  /* [16]: low nibble of byte j = q of element j,
                        high nibble = q of element j + 16 */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q4_0) == 18, "q4_0 block is 18 bytes");

/* Q4_1: x = d * q + m, q in [0, 15]. */
struct lb_block_q4_1 {
    uint16_t d;      /* fp16 scale */
    uint16_t m;      /* fp16 offset (the block minimum), any sign */
    uint8_t qs[16];  /* [16]: nibbles as in q4_0 */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q4_1) == 20, "q4_1 block is 20 bytes");

/* Q5_0: x = d * (q - 16), q in [0, 31] = low nibble | fifth bit << 4. */
struct lb_block_q5_0 {
    uint16_t d;      /* fp16 scale */
    uint8_t qh[4];   /* [4] = one little-endian uint32: bit j is the fifth
                        bit of element j (j in 0..31) */
    uint8_t qs[16];  /* [16]: low 4 bits, nibbles as in q4_0 */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q5_0) == 22, "q5_0 block is 22 bytes");

/* Q5_1: x = d * q + m, q in [0, 31]. */
struct lb_block_q5_1 {
    uint16_t d;      /* fp16 scale */
    uint16_t m;      /* fp16 offset, any sign */
    uint8_t qh[4];   /* [4]: fifth bits as in q5_0 */
    uint8_t qs[16];  /* [16]: low 4 bits as in q4_0 */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q5_1) == 24, "q5_1 block is 24 bytes");

/* Q8_0: x = d * q; weights and the activation format of the 32-element
 * formats' integer dot products. */
struct lb_block_q8_0 {
    uint16_t d;      /* fp16 scale */
    int8_t qs[32];   /* [32] element j, in [-127, 127] from our quantizer */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q8_0) == 34, "q8_0 block is 34 bytes");

/* Q8_1: x = d * q, plus s = d * sum(q) so that the offset term of Q4_1 /
 * Q5_1 dot products costs one multiply per block. Activation format. */
struct lb_block_q8_1 {
    uint16_t d;      /* fp16 scale */
    uint16_t s;      /* fp16: d * sum over the 32 qs */
    int8_t qs[32];   /* [32] element j */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q8_1) == 36, "q8_1 block is 36 bytes");

/* IQ4_NL: x = d * kvalues_iq4nl[nibble] (non-linear 4-bit grid). */
struct lb_block_iq4_nl {
    uint16_t d;      /* fp16 scale */
    uint8_t qs[16];  /* [16]: table indices, nibbles as in q4_0 */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_iq4_nl) == 18, "iq4_nl block is 18 bytes");

/* MXFP4 (OCP microscaling FP4, ggml packing): x = K[nibble] * 2^(e - 128)
 * with K = doubled E2M1 values {0,1,2,3,4,6,8,12,-0,-1,...,-12}; doubling
 * the table halves the scale (2^(e-127) in the OCP spec). */
struct lb_block_mxfp4 {
    uint8_t e;       /* E8M0 shared exponent (bias 128 with ggml's table) */
    uint8_t qs[16];  /* [16]: E2M1 codes, nibbles as in q4_0 (NOT the
                        gpt-oss checkpoint packing of pairs 2i, 2i+1) */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_mxfp4) == 17, "mxfp4 block is 17 bytes");

/* ---- 256-element super-blocks (K-quants) ---------------------------- */
/* Bit positions below use, for element i: h = i / 128 (half),
 * j = (i % 128) / 32 (quarter within the half), l = i % 32. */

/* Q2_K: 16 sub-blocks of 16; x = d * sc * q - dmin * m, q in [0, 3]. */
struct lb_block_q2_k {
    uint8_t scales[16]; /* [16] per sub-block i / 16: low nibble sc, high
                           nibble m (both 4-bit) */
    uint8_t qs[64];     /* [64]: q of element i is bits 2j..2j+1 of
                           byte 32 h + l */
    uint16_t d;         /* fp16 super-block scale of the sc */
    uint16_t dmin;      /* fp16 super-block scale of the m */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q2_k) == 84, "q2_K block is 84 bytes");

/* Q3_K: 16 sub-blocks of 16; x = d * (sc - 32) * q, q in [-4, 3] =
 * low 2 bits - (high bit ? 0 : 4). */
struct lb_block_q3_k {
    uint8_t hmask[32];  /* [32]: high bit of element i is bit 4h + j of
                           byte l */
    uint8_t qs[64];     /* [64]: low 2 bits, bits 2j..2j+1 of byte 32h + l */
    uint8_t scales[12]; /* 16 six-bit sc: low 4 bits of sc k are the low
                           (k < 8) / high (k >= 8) nibble of byte k % 8, top
                           2 bits are bits 2(k/4).. of byte 8 + k % 4 */
    uint16_t d;         /* fp16 super-block scale */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q3_k) == 110, "q3_K block is 110 bytes");

/* Q4_K: 8 sub-blocks of 32; x = d * sc * q - dmin * m, q in [0, 15]. */
struct lb_block_q4_k {
    uint16_t d;         /* fp16 super-block scale of the sc */
    uint16_t dmin;      /* fp16 super-block scale of the m */
    uint8_t scales[12]; /* 8 six-bit sc + 8 six-bit m; sub-block k < 4:
                           sc = byte k & 63, m = byte k+4 & 63; k >= 4:
                           sc = (byte k+4 & 15) | (byte k-4 >> 6) << 4,
                           m = (byte k+4 >> 4) | (byte k >> 6) << 4 */
    uint8_t qs[128];    /* [128]: elements 64c + l (l < 32) in the low
                           nibble of byte 32c + l, 64c + 32 + l in the high */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q4_k) == 144, "q4_K block is 144 bytes");

/* Q5_K: as Q4_K with a fifth bit; q in [0, 31]. */
struct lb_block_q5_k {
    uint16_t d;         /* fp16 super-block scale of the sc */
    uint16_t dmin;      /* fp16 super-block scale of the m */
    uint8_t scales[12]; /* packed as in q4_K */
    uint8_t qh[32];     /* [32]: fifth bit of element 64c + l (l < 32) is
                           bit 2c of byte l, of 64c + 32 + l bit 2c + 1 */
    uint8_t qs[128];    /* [128]: low 4 bits, nibbles as in q4_K */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q5_k) == 176, "q5_K block is 176 bytes");

/* Q6_K: 16 sub-blocks of 16; x = d * sc * (q - 32), q in [0, 63]. */
struct lb_block_q6_k {
    uint8_t ql[128];    /* [128]: low 4 bits of element i: byte 64h + l +
                           32 (j & 1), low nibble for j < 2, high for j >= 2 */
    uint8_t qh[64];     /* [64]: upper 2 bits, bits 2j..2j+1 of byte 32h + l */
    int8_t scales[16];  /* [16] signed 8-bit sc per sub-block i / 16 */
    uint16_t d;         /* fp16 super-block scale */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q6_k) == 210, "q6_K block is 210 bytes");

/* Q8_K: x = d * q; the activation format of the K-quant and IQ4_XS dot
 * products. Not a storage format: d is a float, and bsums lets the
 * min terms of Q2_K/Q4_K/Q5_K be applied per sub-block. */
struct lb_block_q8_k {
    float d;            /* scale (f32, not fp16) */
    int8_t qs[256];     /* [256] element i, in [-127, 127] */
    int16_t bsums[16];  /* [16]: sum of qs[16k .. 16k + 15] */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_q8_k) == 292, "q8_K block is 292 bytes");

/* IQ4_XS: 8 sub-blocks of 32; x = d * (ls - 32) * kvalues_iq4nl[nibble]. */
struct lb_block_iq4_xs {
    uint16_t d;         /* fp16 super-block scale */
    uint16_t scales_h;  /* top 2 bits of ls of sub-block k at bits 2k..2k+1 */
    uint8_t scales_l[4]; /* low 4 bits of ls of sub-block k: nibble k % 2
                            (low first) of byte k / 2 */
    uint8_t qs[128];    /* [128]: sub-block k uses bytes 16k..16k+15, low
                           nibble = element 32k + l, high = 32k + 16 + l */
};
LB_BLOCK_ASSERT(sizeof(struct lb_block_iq4_xs) == 136, "iq4_xs block is 136 bytes");

#endif
