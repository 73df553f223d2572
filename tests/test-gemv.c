/* test-gemv.c: unit tests of the GEMV dispatch, drivers and every ISA dot
 * and activation quantizer compiled in (kernels/lb-gemv.h).
 *
 * Inputs are fresh random rows each run (seed printed; LB_TEST_SEED
 * reproduces). What is checked:
 *  - registry: every table source file in the tree is registered and
 *    linked in (a table file missing from gemv.c's list would be dead code);
 *  - every lb_dot_impl usable on this CPU against its format's
 *    vec_dot_ref on the same quantized activation, on rows from the
 *    reference quantizer and on rows of random bits with sane scales (the
 *    blocks a GGUF file may hold that our quantizer never writes: Q8_0
 *    weights of -128, 6-bit scales of 63, ...), for column counts of one
 *    block up to 14336, each row placed to end exactly at a PROT_NONE page
 *    (an over-read faults) and so at every alignment mod 64;
 *  - every lb_actq_impl writes the reference quantizer's bytes exactly,
 *    including on rounding ties;
 *  - lb_gemv_rows split over nth = 1..3 and lb_gemv_quantize_x split the
 *    same way equal the one-worker results bit for bit; lb_gemv_rows_batch
 *    equals separate calls bit for bit;
 *  - every multi-row dot (lb_dot_rows_impl) equals its single-row dot bit
 *    for bit for 1..9 rows, the last ending at a PROT_NONE page, up to
 *    24576 columns, and writes no y past its rows;
 *  - lb_gemv_init's dispatch rule and its errors;
 *  - the whole GEMV against a float64 GEMV of the dequantized weights and
 *    the original x, within the activation quantization error.
 *
 * Tolerance of a dot against the reference: 1e-5 x sum_i |w_i * a_i|
 * (dequantized weight and activation). The integer parts of the quantized
 * dots are exact, so the two differ by f32 rounding only: of the scale
 * products and of the accumulation over at most 14336 / 32 = 448 blocks
 * per lane (the reference sums in double). Each rounding is <= 2^-24
 * relative to a partial sum <= the sum of |terms|, so even the worst-case
 * linear bound (448 x 6e-8 = 2.7e-5) is rarely approached; a random walk
 * gives ~1e-7. Formats with a min term (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K)
 * round partial sums of d*sc*q*a and dmin*m*a that can be ~3x |w*a|,
 * still >= 30x inside 1e-5. An error in the integer part (one wrong
 * nibble) is ~|w_i a_i| / sum, >= 1e-3 for these row lengths.
 */
#define _GNU_SOURCE
#include "hw/lb-hw.h"
#include "kernels/cpu/gemv-impl.h"
#include "kernels/lb-gemv.h"
#include "kernels/quant/lb-blocks.h"
#include "tests/lb-test.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct lb_cpu_features cpu;  /* as detected */
static unsigned long long rng;      /* test input stream */

#define REL_TOL 1e-5
#define MAX_IMPLS 256
#define MAX_THREADS_TESTED 3

/* ---- guarded buffers ------------------------------------------------- */

/* bytes placed so that they end exactly where a PROT_NONE page begins */
struct guarded {
    void *map;
    size_t map_len;
    void *p;
};

static void guarded_alloc(struct guarded *g, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (bytes + page - 1) / page;
    g->map_len = (data_pages + 1) * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    char *guard = (char *)g->map + data_pages * page;
    if (mprotect(guard, page, PROT_NONE) != 0) {
        perror("mprotect");
        exit(1);
    }
    g->p = guard - bytes;
}

static void guarded_free(struct guarded *g) { munmap(g->map, g->map_len); }

/* What runs now, for the fault handler: an over-read is a crash, and the
 * crash should say which implementation did it. */
static char current[160];

static void on_fault(int sig)
{
    static const char msg[] = "FAULT while running: ";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, current, strlen(current)) < 0 ||
        write(2, "\n", 1) < 0) {
        /* nothing more to do */
    }
    _exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* ---- inputs ---------------------------------------------------------- */

/* normal values with a per-32-element scale spread over 2^-3 .. 2^3 and a
 * few outliers: blocks of very different magnitude within one row, as
 * real weight rows and activations have */
static void fill_floats(float *x, int64_t n)
{
    double scale = 1;
    for (int64_t i = 0; i < n; i++) {
        if (i % 32 == 0) scale = ldexp(1.0, (int)(lb_test_rand_uniform(&rng) * 7) - 3);
        double v = lb_test_rand_normal(&rng) * scale;
        if (lb_test_rand_uniform(&rng) < 0.002) v *= 8;
        x[i] = (float)v;
    }
    /* one all-zero block now and then: zero scales */
    if (n >= 64 && lb_test_rand_uniform(&rng) < 0.5) memset(x + 32, 0, 32 * sizeof *x);
}

/* Where the scale fields of a block are, for rows of random bits: each
 * listed fp16 field gets a sane finite scale, the E8M0 byte a moderate
 * exponent; every other bit pattern is a valid block of the format.
 * Formats not listed (float types: random bits are NaN/Inf; Q8_K: bsums
 * derive from qs) get rows from the reference quantizer only. */
static const struct bits_layout {
    enum lb_qtype type;
    int n_f16;
    size_t f16_off[2];
    int e8m0_off; /* -1: none */
} bits_layouts[] = {
    {LB_QTYPE_Q4_0, 1, {offsetof(struct lb_block_q4_0, d)}, -1},
    {LB_QTYPE_Q4_1, 2, {offsetof(struct lb_block_q4_1, d), offsetof(struct lb_block_q4_1, m)}, -1},
    {LB_QTYPE_Q5_0, 1, {offsetof(struct lb_block_q5_0, d)}, -1},
    {LB_QTYPE_Q5_1, 2, {offsetof(struct lb_block_q5_1, d), offsetof(struct lb_block_q5_1, m)}, -1},
    {LB_QTYPE_Q8_0, 1, {offsetof(struct lb_block_q8_0, d)}, -1},
    {LB_QTYPE_Q8_1, 2, {offsetof(struct lb_block_q8_1, d), offsetof(struct lb_block_q8_1, s)}, -1},
    {LB_QTYPE_IQ4_NL, 1, {offsetof(struct lb_block_iq4_nl, d)}, -1},
    {LB_QTYPE_MXFP4, 0, {0}, (int)offsetof(struct lb_block_mxfp4, e)},
    {LB_QTYPE_Q2_K, 2, {offsetof(struct lb_block_q2_k, d), offsetof(struct lb_block_q2_k, dmin)}, -1},
    {LB_QTYPE_Q3_K, 1, {offsetof(struct lb_block_q3_k, d)}, -1},
    {LB_QTYPE_Q4_K, 2, {offsetof(struct lb_block_q4_k, d), offsetof(struct lb_block_q4_k, dmin)}, -1},
    {LB_QTYPE_Q5_K, 2, {offsetof(struct lb_block_q5_k, d), offsetof(struct lb_block_q5_k, dmin)}, -1},
    {LB_QTYPE_Q6_K, 1, {offsetof(struct lb_block_q6_k, d)}, -1},
    {LB_QTYPE_IQ4_XS, 1, {offsetof(struct lb_block_iq4_xs, d)}, -1},
};

static const struct bits_layout *bits_layout_of(enum lb_qtype t)
{
    for (size_t i = 0; i < LB_ARRAY_LEN(bits_layouts); i++)
        if (bits_layouts[i].type == t) return &bits_layouts[i];
    return NULL;
}

static void fill_bits(const struct lb_qtraits *q, const struct bits_layout *bl, uint8_t *row,
                      int64_t cols)
{
    size_t bytes = lb_qtype_row_bytes(q->type, cols);
    for (size_t i = 0; i < bytes; i++) row[i] = (uint8_t)lb_test_rand_u64(&rng);
    for (int64_t b = 0; b < cols / q->block_elems; b++) {
        uint8_t *blk = row + (size_t)b * (size_t)q->block_bytes;
        for (int k = 0; k < bl->n_f16; k++) {
            /* |d| in 2^-12 .. 2^-4, either sign: products stay finite */
            float d = (float)ldexp(1.0 + lb_test_rand_uniform(&rng), -12 + (int)(lb_test_rand_uniform(&rng) * 8));
            if (lb_test_rand_u64(&rng) & 1) d = -d;
            uint16_t h = lb_f32_to_fp16(d);
            memcpy(blk + bl->f16_off[k], &h, sizeof h);
        }
        if (bl->e8m0_off >= 0) blk[bl->e8m0_off] = (uint8_t)(116 + lb_test_rand_u64(&rng) % 12);
    }
}

/* sum_i |w_i * a_i| of the dequantized row and activation */
static double abs_terms(const struct lb_qtraits *q, const void *row, const void *act, int64_t cols)
{
    const struct lb_qtraits *at = lb_qtraits_get(q->vec_dot_type);
    float *w = xmalloc((size_t)cols * sizeof *w), *a = xmalloc((size_t)cols * sizeof *a);
    q->dequantize(row, w, cols);
    at->dequantize(act, a, cols);
    double s = 0;
    for (int64_t i = 0; i < cols; i++) s += fabs((double)w[i] * a[i]);
    free(w);
    free(a);
    return s;
}

/* ---- registry -------------------------------------------------------- */

static void test_registry(void)
{
    struct lb_gemv_registry_entry reg[32];
    size_t n = lb_gemv_registry(reg, LB_ARRAY_LEN(reg));
    CHECK(n <= LB_ARRAY_LEN(reg));
    for (size_t i = 0; i < n && i < LB_ARRAY_LEN(reg); i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/kernels/cpu/%s", LLMBENCH_SOURCE_DIR, reg[i].file);
        bool exists = access(path, R_OK) == 0;
        if (exists)
            CHECK_MSG(reg[i].table != NULL,
                      "%s exists but its table is not linked in (gemv.c compiled before the file "
                      "appeared? rebuild)", reg[i].file);
        printf("  %-28s %s\n", reg[i].file,
               reg[i].table ? "linked" : exists ? "MISSING" : "absent (no source file)");
    }
    /* every implementation is well formed */
    const struct lb_dot_impl *d[MAX_IMPLS];
    size_t nd = lb_dot_impls_all(d, MAX_IMPLS);
    CHECK(nd < MAX_IMPLS);
    for (size_t i = 0; i < nd; i++) {
        CHECK_MSG(lb_qtraits_get(d[i]->type) != NULL, "dot for type %d without traits", (int)d[i]->type);
        CHECK((unsigned)d[i]->isa < LB_ISA_COUNT && d[i]->isa != LB_ISA_SCALAR);
        CHECK(d[i]->path && d[i]->path[0]);
        CHECK(d[i]->path && strlen(d[i]->path) < sizeof(((struct lb_gemv *)0)->path));
    }
    const struct lb_actq_impl *q[MAX_IMPLS];
    size_t nq = lb_actq_impls_all(q, MAX_IMPLS);
    CHECK(nq < MAX_IMPLS);
    for (size_t i = 0; i < nq; i++) {
        const enum lb_qtype t = q[i]->act_type;
        CHECK_MSG(t == LB_QTYPE_Q8_0 || t == LB_QTYPE_Q8_1 || t == LB_QTYPE_Q8_K,
                  "activation quantizer for type %d", (int)t);
        CHECK((unsigned)q[i]->isa < LB_ISA_COUNT && q[i]->isa != LB_ISA_SCALAR);
    }
    printf("  %zu dot implementations, %zu activation quantizers\n", nd, nq);
}

/* ---- usability ------------------------------------------------------- */

static const char *missing_feature(enum lb_isa isa, unsigned req)
{
    struct lb_cpu_features f = cpu;
    if (!lb_dot_impl_usable(isa, 0, &f)) return lb_isa_name(isa);
    if ((req & LB_REQ_AVX512_VNNI) && !cpu.avx512_vnni) return "avx512_vnni";
    if ((req & LB_REQ_AVX512_BF16) && !cpu.avx512_bf16) return "avx512_bf16";
    if ((req & LB_REQ_AVX_VNNI) && !cpu.avx_vnni) return "avx_vnni";
    return "an unknown feature bit";
}

static void test_usable(void)
{
    CHECK(lb_dot_impl_usable(LB_ISA_SCALAR, 0, NULL));
    CHECK(!lb_dot_impl_usable(LB_ISA_AVX2, 0, NULL));
    struct lb_cpu_features none = {0};
    CHECK(lb_dot_impl_usable(LB_ISA_SCALAR, 0, &none));
    CHECK(!lb_dot_impl_usable(LB_ISA_AVX2, 0, &none));
    struct lb_cpu_features a2 = {0};
    a2.avx = a2.avx2 = a2.fma = a2.f16c = true;
    CHECK(lb_dot_impl_usable(LB_ISA_AVX2, 0, &a2));
    CHECK(!lb_dot_impl_usable(LB_ISA_AVX2, LB_REQ_AVX_VNNI, &a2));
    CHECK(!lb_dot_impl_usable(LB_ISA_AVX512, 0, &a2));
    a2.avx_vnni = true;
    CHECK(lb_dot_impl_usable(LB_ISA_AVX2, LB_REQ_AVX_VNNI, &a2));
    struct lb_cpu_features a5 = a2;
    a5.avx512f = a5.avx512bw = a5.avx512vl = a5.avx512dq = true;
    CHECK(lb_dot_impl_usable(LB_ISA_AVX512, 0, &a5));
    CHECK(!lb_dot_impl_usable(LB_ISA_AVX512, LB_REQ_AVX512_VNNI, &a5));
    CHECK(!lb_dot_impl_usable(LB_ISA_AVX512, LB_REQ_AVX512_BF16, &a5));
    a5.avx512_vnni = true;
    CHECK(lb_dot_impl_usable(LB_ISA_AVX512, LB_REQ_AVX512_VNNI, &a5));
    CHECK(!lb_dot_impl_usable(LB_ISA_AVX512, 1u << 30, &a5)); /* unknown bit */
}

/* ---- every dot against the reference --------------------------------- */

/* Column counts: one block, a few, and LLM widths; float formats (block
 * of 1) also get counts that end mid-vector. For the 32-element formats
 * (whose SIMD steps are 4 blocks, taken two at a time, leftovers scalar)
 * 5 and 23 blocks are an odd number of steps plus leftovers, 448 is more
 * steps than the prepared activation keeps on the stack (gemv-legacy-
 * avx512.c: 256 blocks). */
static const int64_t cols_quant[] = {1, 3, 5, 8, 17, 23, 128, 448}; /* x block_elems, capped below */
static const int64_t cols_float[] = {1, 7, 15, 16, 17, 100, 255, 4097, 14336};
#define MAX_COLS 14336
#define ROWS_PER_SHAPE 3

static void check_one_dot(const struct lb_dot_impl *d, const struct lb_qtraits *q,
                          const void *row, const void *act, int64_t cols, const char *kind,
                          double *worst)
{
    snprintf(current, sizeof current, "%s dot %s (%s), cols %lld, %s rows", lb_qtype_name(d->type),
             d->path, lb_isa_name(d->isa), (long long)cols, kind);
    float ref = q->vec_dot_ref(cols, row, act);
    float got = d->dot(cols, row, act);
    double mag = abs_terms(q, row, act, cols);
    double err = fabs((double)got - ref);
    double tol = REL_TOL * mag + 1e-30;
    CHECK_MSG(err <= tol, "%s: got %.9g, reference %.9g, |diff| %.3g > %.3g (1e-5 x sum|terms| %.6g)",
              current, (double)got, (double)ref, err, tol, mag);
    if (mag > 0 && err / mag > *worst) *worst = err / mag;
}

static void test_dots(void)
{
    const struct lb_dot_impl *d[MAX_IMPLS];
    size_t nd = lb_dot_impls_all(d, MAX_IMPLS);
    float *x = xmalloc(MAX_COLS * sizeof *x), *wf = xmalloc(MAX_COLS * sizeof *wf);
    for (size_t i = 0; i < nd; i++) {
        const struct lb_qtraits *q = lb_qtraits_get(d[i]->type);
        if (!q) continue;
        if (!lb_dot_impl_usable(d[i]->isa, d[i]->requires, &cpu)) {
            printf("skipped: %s (%s dot) needs %s\n", d[i]->path, q->name,
                   missing_feature(d[i]->isa, d[i]->requires));
            continue;
        }
        const struct lb_qtraits *at = lb_qtraits_get(q->vec_dot_type);
        const struct bits_layout *bl = bits_layout_of(q->type);
        const int64_t *cl = q->block_elems == 1 ? cols_float : cols_quant;
        size_t ncl = q->block_elems == 1 ? LB_ARRAY_LEN(cols_float) : LB_ARRAY_LEN(cols_quant);
        double worst = 0;
        int n_checked = 0;
        for (size_t c = 0; c < ncl; c++) {
            int64_t cols = q->block_elems == 1 ? cl[c] : cl[c] * q->block_elems;
            if (cols > MAX_COLS) cols = MAX_COLS / q->block_elems * q->block_elems;
            size_t rb = lb_qtype_row_bytes(q->type, cols), ab = lb_qtype_row_bytes(at->type, cols);
            struct guarded gw, ga;
            guarded_alloc(&gw, rb);
            guarded_alloc(&ga, ab);
            for (int r = 0; r < ROWS_PER_SHAPE; r++) {
                fill_floats(x, cols);
                at->quantize_ref(x, ga.p, cols);
                fill_floats(wf, cols);
                q->quantize_ref(wf, gw.p, cols);
                check_one_dot(d[i], q, gw.p, ga.p, cols, "quantized", &worst);
                n_checked++;
                if (bl) {
                    fill_bits(q, bl, gw.p, cols);
                    check_one_dot(d[i], q, gw.p, ga.p, cols, "random-bits", &worst);
                    n_checked++;
                }
            }
            guarded_free(&gw);
            guarded_free(&ga);
        }
        current[0] = 0;
        printf("  %-7s %-14s %-7s %3d rows, worst |diff| / sum|terms| = %.2g\n", q->name, d[i]->path,
               lb_isa_name(d[i]->isa), n_checked, worst);
    }
    free(x);
    free(wf);
}

/* ---- every multi-row dot against its single-row dot ------------------- */

/* Each lb_dot_rows_impl, for several n_rows and widths (up to 24576
 * columns: wider than what some implementations prepare at once), on rows
 * from the reference quantizer and of random bits, the last row ending at
 * a PROT_NONE page: y[r] must equal the paired dot's result bit for bit
 * (lb-gemv.h), and nothing past y[n_rows - 1] may be written. The paired
 * dot is checked against the reference above up to 14336 columns, and
 * here on the widest rows. */
static const int nrows_tested[] = {1, 2, 3, 4, 5, 9};
#define MAX_ROWS_TESTED 9
#define WIDE_COLS 24576
static void test_dot_rows(void)
{
    const struct lb_dot_rows_impl *rr[MAX_IMPLS];
    const struct lb_dot_impl *d[MAX_IMPLS];
    size_t nr = lb_dot_rows_impls_all(rr, MAX_IMPLS), nd = lb_dot_impls_all(d, MAX_IMPLS);
    CHECK(nr < MAX_IMPLS);
    float *x = xmalloc(WIDE_COLS * sizeof *x), *wf = xmalloc(WIDE_COLS * sizeof *wf);
    for (size_t i = 0; i < nr; i++) {
        const struct lb_dot_impl *di = NULL;
        for (size_t k = 0; k < nd; k++)
            if (d[k]->dot == rr[i]->dot) di = d[k];
        CHECK_MSG(di != NULL, "multi-row entry %zu is paired with a dot no table lists", i);
        if (!di) continue;
        const struct lb_qtraits *q = lb_qtraits_get(di->type);
        if (!lb_dot_impl_usable(di->isa, di->requires, &cpu)) {
            printf("skipped: %s multi-row %s dot needs %s\n", di->path, q->name,
                   missing_feature(di->isa, di->requires));
            continue;
        }
        const struct lb_qtraits *at = lb_qtraits_get(q->vec_dot_type);
        const struct bits_layout *bl = bits_layout_of(q->type);
        int n_checked = 0;
        double worst = 0;
        for (size_t c = 0; c <= LB_ARRAY_LEN(cols_quant); c++) {
            const bool wide = c == LB_ARRAY_LEN(cols_quant);
            int64_t cols = wide ? WIDE_COLS : cols_quant[c] * q->block_elems;
            if (!wide && cols > MAX_COLS) cols = MAX_COLS / q->block_elems * q->block_elems;
            const size_t rb = lb_qtype_row_bytes(q->type, cols), ab = lb_qtype_row_bytes(at->type, cols);
            for (size_t t = 0; t < LB_ARRAY_LEN(nrows_tested); t++) {
                const int nrow = nrows_tested[t];
                struct guarded gw, ga;
                guarded_alloc(&gw, rb * (size_t)nrow);
                guarded_alloc(&ga, ab);
                fill_floats(x, cols);
                at->quantize_ref(x, ga.p, cols);
                for (int kind = 0; kind < (bl ? 2 : 1); kind++) {
                    for (int r = 0; r < nrow; r++) {
                        uint8_t *row = (uint8_t *)gw.p + (size_t)r * rb;
                        if (kind == 0) {
                            fill_floats(wf, cols);
                            q->quantize_ref(wf, row, cols);
                        } else {
                            fill_bits(q, bl, row, cols);
                        }
                    }
                    snprintf(current, sizeof current, "%s multi-row dot %s, cols %lld, %d rows, %s",
                             q->name, di->path, (long long)cols, nrow, kind ? "random-bits" : "quantized");
                    float y[MAX_ROWS_TESTED + 1];
                    for (int r = 0; r <= MAX_ROWS_TESTED; r++) y[r] = NAN;
                    y[nrow] = 12345.0f;
                    rr[i]->dot_rows(cols, gw.p, rb, ga.p, y, nrow);
                    for (int r = 0; r < nrow; r++) {
                        const float want = di->dot(cols, (const uint8_t *)gw.p + (size_t)r * rb, ga.p);
                        CHECK_MSG(memcmp(&y[r], &want, sizeof want) == 0,
                                  "%s: row %d gives %.9g, the single-row dot %.9g", current, r, (double)y[r],
                                  (double)want);
                        n_checked++;
                    }
                    CHECK_MSG(y[nrow] == 12345.0f, "%s: wrote y[%d]", current, nrow);
                    if (wide && nrow == 1)
                        check_one_dot(di, q, gw.p, ga.p, cols, kind ? "random-bits" : "quantized", &worst);
                }
                guarded_free(&gw);
                guarded_free(&ga);
            }
        }
        current[0] = 0;
        printf("  %-7s %-14s %3d rows bit-identical to the single-row dot; %lld columns vs reference: "
               "worst |diff| / sum|terms| = %.2g\n", q->name, di->path, n_checked, (long long)WIDE_COLS, worst);
    }
    free(x);
    free(wf);
}

/* Each batch form (lb_dot_rows_impl.dot_batch): n_b random activations
 * against rows from the reference quantizer, odd widths (leftover
 * blocks) and one wider than a prepared chunk: y[k][r] must equal the
 * paired dot_rows for act[k] bit for bit, and nothing past y[k][n_rows -
 * 1] may be written. */
static void test_dot_batch(void)
{
    const struct lb_dot_rows_impl *rr[MAX_IMPLS];
    const struct lb_dot_impl *d[MAX_IMPLS];
    size_t nr = lb_dot_rows_impls_all(rr, MAX_IMPLS), nd = lb_dot_impls_all(d, MAX_IMPLS);
    float *x = xmalloc(WIDE_COLS * sizeof *x);
    static const int nbs[] = {1, 2, 3, 5, 8}, nrows[] = {1, 3, 6};
    /* blocks per row: 32-element formats, 256-element (K) formats; the
     * last is 24544 / 24320 columns, several prepared chunks */
    static const int64_t blocks[] = {4, 7, 64, 65, 767}, kblocks[] = {1, 3, 8, 9, 95};
    for (size_t i = 0; i < nr; i++) {
        if (!rr[i]->dot_batch) continue;
        const struct lb_dot_impl *di = NULL;
        for (size_t k = 0; k < nd; k++)
            if (d[k]->dot == rr[i]->dot) di = d[k];
        if (!di) continue;
        const struct lb_qtraits *q = lb_qtraits_get(di->type), *at = lb_qtraits_get(q->vec_dot_type);
        if (!lb_dot_impl_usable(di->isa, di->requires, &cpu)) {
            printf("skipped: %s batch %s dot needs %s\n", di->path, q->name, missing_feature(di->isa, di->requires));
            continue;
        }
        int n_checked = 0;
        for (size_t c = 0; c < LB_ARRAY_LEN(blocks); c++) {
            const int64_t cols = (q->block_elems == 256 ? kblocks[c] : blocks[c]) * q->block_elems;
            const size_t rb = lb_qtype_row_bytes(q->type, cols), ab = lb_qtype_row_bytes(at->type, cols);
            for (size_t t = 0; t < LB_ARRAY_LEN(nrows); t++) {
                const int nrow = nrows[t];
                uint8_t *w = xmalloc(rb * (size_t)nrow);
                for (int r = 0; r < nrow; r++) {
                    fill_floats(x, cols);
                    q->quantize_ref(x, w + (size_t)r * rb, cols);
                }
                void *act[LB_GEMV_MAX_BATCH];
                float *y[LB_GEMV_MAX_BATCH], want[7];
                for (int k = 0; k < LB_GEMV_MAX_BATCH; k++) {
                    act[k] = xmalloc(ab);
                    fill_floats(x, cols);
                    at->quantize_ref(x, act[k], cols);
                    y[k] = xmalloc(8 * sizeof(float));
                }
                for (size_t b = 0; b < LB_ARRAY_LEN(nbs); b++) {
                    const int nb = nbs[b];
                    for (int k = 0; k < nb; k++) {
                        for (int r = 0; r < 8; r++) y[k][r] = NAN;
                        y[k][nrow] = 12345.0f;
                    }
                    snprintf(current, sizeof current, "%s batch dot %s, cols %lld, %d rows, %d activations", q->name,
                             di->path, (long long)cols, nrow, nb);
                    rr[i]->dot_batch(cols, w, rb, (const void *const *)act, y, nb, nrow);
                    for (int k = 0; k < nb; k++) {
                        rr[i]->dot_rows(cols, w, rb, act[k], want, nrow);
                        CHECK_MSG(memcmp(y[k], want, (size_t)nrow * sizeof(float)) == 0,
                                  "%s: activation %d differs from dot_rows (row 0: %.9g vs %.9g)", current, k,
                                  (double)y[k][0], (double)want[0]);
                        CHECK_MSG(y[k][nrow] == 12345.0f, "%s: wrote y[%d][%d]", current, k, nrow);
                        n_checked += nrow;
                    }
                }
                for (int k = 0; k < LB_GEMV_MAX_BATCH; k++) {
                    free(act[k]);
                    free(y[k]);
                }
                free(w);
            }
        }
        current[0] = 0;
        printf("  %-7s %-14s batch: %d (row, activation) results bit-identical to dot_rows\n", q->name, di->path,
               n_checked);
    }
    free(x);
}

/* ---- every activation quantizer against the reference ---------------- */

/* Blocks where x / d lands exactly on k + 0.5: amax = 127 * 2^-4 makes
 * d = amax / 127 = 2^-4 exact in fp16 and f32, and (k + 0.5) * 2^-4 is
 * exact in f32, so every value is a rounding tie. */
static void fill_ties(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(lb_test_rand_u64(&rng) % 253) - 126; /* -126 .. 126 */
        x[i] = (float)((k + (k < 0 ? -0.5 : 0.5)) * 0.0625);
        if (x[i] > 127 * 0.0625f) x[i] = 127 * 0.0625f;
        if (x[i] < -127 * 0.0625f) x[i] = -127 * 0.0625f;
    }
    for (int64_t b = 0; b < n; b += 32) x[b] = (b / 32) % 2 ? -127 * 0.0625f : 127 * 0.0625f;
}

static void test_actqs(void)
{
    const struct lb_actq_impl *q[MAX_IMPLS];
    size_t nq = lb_actq_impls_all(q, MAX_IMPLS);
    float *x = xmalloc(MAX_COLS * sizeof *x);
    for (size_t i = 0; i < nq; i++) {
        const struct lb_qtraits *at = lb_qtraits_get(q[i]->act_type);
        if (!at) continue;
        if (!lb_dot_impl_usable(q[i]->isa, q[i]->requires, &cpu)) {
            printf("skipped: %s %s activation quantizer needs %s\n", lb_isa_name(q[i]->isa), at->name,
                   missing_feature(q[i]->isa, q[i]->requires));
            continue;
        }
        const int64_t counts[] = {1, 2, 5, 56, MAX_COLS / at->block_elems};
        int n_checked = 0;
        for (size_t c = 0; c < LB_ARRAY_LEN(counts); c++) {
            const int64_t n = counts[c] * at->block_elems;
            const size_t bytes = lb_qtype_row_bytes(at->type, n);
            struct guarded got;
            guarded_alloc(&got, bytes);
            uint8_t *want = xmalloc(bytes);
            for (int pattern = 0; pattern < 3; pattern++) {
                if (pattern == 0) fill_floats(x, n);
                else if (pattern == 1) fill_ties(x, n);
                else /* all zero but one value per block */
                    for (int64_t k = 0; k < n; k++) x[k] = k % at->block_elems == 3 ? -1.5f : 0.0f;
                snprintf(current, sizeof current, "%s %s activation quantizer, %lld elements",
                         lb_isa_name(q[i]->isa), at->name, (long long)n);
                memset(want, 0xa5, bytes);
                memset(got.p, 0x5a, bytes);
                at->quantize_ref(x, want, n);
                q[i]->quantize(x, got.p, n);
                size_t first = bytes;
                for (size_t k = 0; k < bytes; k++)
                    if (((uint8_t *)got.p)[k] != want[k]) {
                        first = k;
                        break;
                    }
                CHECK_MSG(first == bytes, "%s (pattern %d): byte %zu of block %zu differs: %02x vs reference %02x",
                          current, pattern, first, first / (size_t)at->block_bytes,
                          first < bytes ? ((uint8_t *)got.p)[first] : 0, first < bytes ? want[first] : 0);
                n_checked++;
            }
            free(want);
            guarded_free(&got);
        }
        current[0] = 0;
        printf("  %-7s %-7s %d inputs byte-identical\n", at->name, lb_isa_name(q[i]->isa), n_checked);
    }
    free(x);
}

/* ---- dispatch -------------------------------------------------------- */

/* the selection rule of gemv.c, restated */
static bool outranks(unsigned req, enum lb_isa isa, unsigned best_req, enum lb_isa best_isa)
{
    int bits = __builtin_popcount(req), best_bits = __builtin_popcount(best_req);
    return bits != best_bits ? bits > best_bits : isa > best_isa;
}

static void test_init(void)
{
    struct lb_gemv g;
    struct lb_error err = {0};
    /* errors */
    CHECK_INT_EQ(lb_gemv_init(&g, LB_QTYPE_Q4_K, 4, 100, LB_ISA_SCALAR, NULL, &err), LB_EINVAL);
    CHECK(strstr(err.msg, "multiple") != NULL && strstr(err.msg, "256") != NULL);
    printf("  error: %s\n", err.msg);
    err.msg[0] = 0;
    CHECK_INT_EQ(lb_gemv_init(&g, LB_QTYPE_Q4_0, 4, 48, LB_ISA_SCALAR, NULL, &err), LB_EINVAL);
    CHECK(err.msg[0] != 0);
    err.msg[0] = 0;
    CHECK_INT_EQ(lb_gemv_init(&g, (enum lb_qtype)4, 4, 256, LB_ISA_SCALAR, NULL, &err), LB_EINVAL);
    CHECK(err.msg[0] != 0);
    CHECK_INT_EQ(lb_gemv_init(&g, LB_QTYPE_Q4_0, 0, 256, LB_ISA_SCALAR, NULL, &err), LB_EINVAL);
    CHECK_INT_EQ(lb_gemv_init(&g, LB_QTYPE_F16, 4, 0, LB_ISA_SCALAR, NULL, &err), LB_EINVAL);
    CHECK_INT_EQ(lb_gemv_init(&g, LB_QTYPE_F16, 4, 7, LB_ISA_SCALAR, NULL, &err), LB_OK);

    /* per format: cap scalar (or no features) is the reference; else the
     * usable entry with the most requirement bits, then the highest
     * level, then the first listed (gemv.c) */
    const struct lb_dot_impl *d[MAX_IMPLS];
    size_t nd = lb_dot_impls_all(d, MAX_IMPLS);
    const struct lb_actq_impl *aq[MAX_IMPLS];
    size_t nq = lb_actq_impls_all(aq, MAX_IMPLS);
    for (int t = 0; t < LB_QTYPE_COUNT; t++) {
        const struct lb_qtraits *q = lb_qtraits_get((enum lb_qtype)t);
        if (!q) continue;
        const struct lb_qtraits *at = lb_qtraits_get(q->vec_dot_type);
        const int64_t cols = q->block_elems > at->block_elems ? q->block_elems : at->block_elems;
        CHECK_INT_EQ(lb_gemv_init(&g, q->type, 3, cols, LB_ISA_SCALAR, &cpu, &err), LB_OK);
        CHECK(g.dot == q->vec_dot_ref && strcmp(g.path, "scalar") == 0 && g.isa == LB_ISA_SCALAR);
        CHECK(g.atype == q->vec_dot_type && g.rows == 3 && g.cols == cols);
        CHECK(g.row_bytes == lb_qtype_row_bytes(q->type, cols));
        CHECK(g.act_bytes == lb_qtype_row_bytes(q->vec_dot_type, cols));
        CHECK(at->type == LB_QTYPE_F32 ? g.actq == NULL : g.actq == at->quantize_ref);
        CHECK_INT_EQ(lb_gemv_init(&g, q->type, 3, cols, LB_ISA_AVX512, NULL, &err), LB_OK);
        CHECK(g.dot == q->vec_dot_ref);
        for (int cap = 0; cap < LB_ISA_COUNT; cap++) {
            const struct lb_dot_impl *want = NULL;
            for (size_t i = 0; i < nd; i++)
                if (d[i]->type == q->type && d[i]->isa <= (enum lb_isa)cap &&
                    lb_dot_impl_usable(d[i]->isa, d[i]->requires, &cpu) &&
                    (!want || outranks(d[i]->requires, d[i]->isa, want->requires, want->isa)))
                    want = d[i];
            const struct lb_actq_impl *wq = NULL;
            for (size_t i = 0; i < nq; i++)
                if (aq[i]->act_type == q->vec_dot_type && aq[i]->isa <= (enum lb_isa)cap &&
                    lb_dot_impl_usable(aq[i]->isa, aq[i]->requires, &cpu) &&
                    (!wq || outranks(aq[i]->requires, aq[i]->isa, wq->requires, wq->isa)))
                    wq = aq[i];
            CHECK_INT_EQ(lb_gemv_init(&g, q->type, 3, cols, (enum lb_isa)cap, &cpu, &err), LB_OK);
            CHECK_MSG(g.dot == (want ? want->dot : q->vec_dot_ref), "%s cap %s: wrong dot chosen",
                      q->name, lb_isa_name((enum lb_isa)cap));
            CHECK(strcmp(g.path, want ? want->path : "scalar") == 0);
            if (at->type != LB_QTYPE_F32)
                CHECK_MSG(g.actq == (wq ? wq->quantize : at->quantize_ref),
                          "%s cap %s: wrong activation quantizer", q->name, lb_isa_name((enum lb_isa)cap));
            if (cap > LB_ISA_SCALAR) printf("  %-7s cap %-6s path %s\n", q->name, lb_isa_name((enum lb_isa)cap), g.path);
        }
    }
}

/* ---- drivers: split and batch ----------------------------------------- */

/* A weight matrix in format q from the reference quantizer. */
static void *make_matrix(const struct lb_qtraits *q, int64_t rows, int64_t cols, float *wf)
{
    const size_t rb = lb_qtype_row_bytes(q->type, cols);
    uint8_t *w = xmalloc(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) {
        fill_floats(wf, cols);
        q->quantize_ref(wf, w + (size_t)r * rb, cols);
    }
    return w;
}

static void test_split_and_batch(void)
{
    const int64_t rows = 37; /* not a multiple of 2 or 3 */
    float *x = xmalloc(LB_GEMV_MAX_BATCH * 1024 * sizeof *x), *wf = xmalloc(1024 * sizeof *wf);
    for (int t = 0; t < LB_QTYPE_COUNT; t++) {
        const struct lb_qtraits *q = lb_qtraits_get((enum lb_qtype)t);
        if (!q) continue;
        const int64_t cols = q->block_elems == 1 ? 1000 : 1024; /* 1000: a vector tail */
        for (int cap = 0; cap < LB_ISA_COUNT; cap += LB_ISA_COUNT - 1) { /* scalar and best */
            struct lb_gemv g;
            struct lb_error err = {0};
            enum lb_isa c = (enum lb_isa)cap;
            if (c > lb_isa_best(&cpu)) c = lb_isa_best(&cpu);
            if (lb_gemv_init(&g, q->type, rows, cols, c, &cpu, &err) != LB_OK) {
                CHECK_MSG(false, "%s: %s", q->name, err.msg);
                continue;
            }
            snprintf(current, sizeof current, "%s gemv drivers, path %s", q->name, g.path);
            void *w = make_matrix(q, rows, cols, wf);
            uint8_t *act[LB_GEMV_MAX_BATCH], *act1 = xmalloc(g.act_bytes);
            float *y1[LB_GEMV_MAX_BATCH], *yb[LB_GEMV_MAX_BATCH];
            for (int b = 0; b < LB_GEMV_MAX_BATCH; b++) {
                fill_floats(x + b * 1024, cols);
                act[b] = xmalloc(g.act_bytes);
                y1[b] = xmalloc((size_t)rows * sizeof(float));
                yb[b] = xmalloc((size_t)rows * sizeof(float));
                lb_gemv_quantize_x(&g, x + b * 1024, act[b], 0, 1);
                lb_gemv_rows(&g, w, act[b], y1[b], 0, 1);
            }
            /* lb_gemv_rows (through the multi-row dot where the path has
             * one) equals the chosen single-row dot row by row, bit for bit */
            for (int64_t r = 0; r < rows; r++) {
                const float want = g.dot(cols, (const uint8_t *)w + (size_t)r * g.row_bytes, act[0]);
                CHECK_MSG(memcmp(&y1[0][r], &want, sizeof want) == 0, "%s: row %lld: %.9g, single-row dot %.9g",
                          current, (long long)r, (double)y1[0][r], (double)want);
            }
            /* quantize_x and rows split over 1..3 workers run in turn */
            for (int nth = 1; nth <= MAX_THREADS_TESTED; nth++) {
                memset(act1, 0xcc, g.act_bytes);
                for (int ith = 0; ith < nth; ith++) lb_gemv_quantize_x(&g, x, act1, ith, nth);
                CHECK_MSG(memcmp(act1, act[0], g.act_bytes) == 0, "%s: quantize_x over %d workers differs",
                          current, nth);
                float *y = yb[0];
                for (int64_t r = 0; r < rows; r++) y[r] = NAN;
                for (int ith = 0; ith < nth; ith++) lb_gemv_rows(&g, w, act[0], y, ith, nth);
                CHECK_MSG(memcmp(y, y1[0], (size_t)rows * sizeof *y) == 0,
                          "%s: rows over %d workers differ from one worker", current, nth);
            }
            /* batch: every n_b, split over 1..3 workers, equals separate
             * calls (slices of 37, 19/18 and 13/12/12 rows: dot_rows groups
             * of 16 with a shorter one left, where the path has one) */
            for (int nb = 1; nb <= LB_GEMV_MAX_BATCH; nb++) {
                for (int b = 0; b < nb; b++)
                    for (int64_t r = 0; r < rows; r++) yb[b][r] = NAN;
                const int nth = 1 + nb % MAX_THREADS_TESTED; /* 37 rows: slices of 37, 19/18, 13/12/12 */
                for (int ith = 0; ith < nth; ith++)
                    lb_gemv_rows_batch(&g, w, (const void *const *)act, yb, nb, ith, nth);
                for (int b = 0; b < nb; b++)
                    CHECK_MSG(memcmp(yb[b], y1[b], (size_t)rows * sizeof(float)) == 0,
                              "%s: batch of %d over %d workers, member %d differs from a single call",
                              current, nb, nth, b);
            }
            for (int b = 0; b < LB_GEMV_MAX_BATCH; b++) {
                free(act[b]);
                free(y1[b]);
                free(yb[b]);
            }
            free(act1);
            free(w);
        }
    }
    current[0] = 0;
    free(x);
    free(wf);
}

/* ---- against float64 ------------------------------------------------- */

/* |x_i - dequantized activation_i| can be at most half a step d, where
 * d = amax / 127 of x's block, rounded to fp16 for Q8_0/Q8_1 (relative
 * 2^-11; a d rounded down can also clip the largest value by up to
 * 127 x that) and exact f32 for Q8_K. Returns that bound per element. */
static void act_error_bound(enum lb_qtype atype, const float *x, int64_t n, double *eb)
{
    if (atype == LB_QTYPE_F32) {
        for (int64_t i = 0; i < n; i++) eb[i] = 0;
        return;
    }
    const int64_t be = lb_qtraits_get(atype)->block_elems;
    const double rel = atype == LB_QTYPE_Q8_K ? 1e-7 : 1.0 / 2048;
    for (int64_t b = 0; b < n; b += be) {
        double amax = 0;
        for (int64_t i = b; i < b + be; i++) amax = fmax(amax, fabs((double)x[i]));
        const double d = amax / 127;
        const double bound = 0.5 * d * (1 + rel) + 127 * d * rel;
        for (int64_t i = b; i < b + be; i++) eb[i] = bound;
    }
}

static void test_vs_f64(void)
{
    const int64_t rows = 11, cols = 2048;
    float *x = xmalloc(cols * sizeof *x), *wf = xmalloc(cols * sizeof *wf), *wd = xmalloc(cols * sizeof *wd);
    double *eb = xmalloc(cols * sizeof *eb);
    float *y = xmalloc(rows * sizeof *y);
    for (int t = 0; t < LB_QTYPE_COUNT; t++) {
        const struct lb_qtraits *q = lb_qtraits_get((enum lb_qtype)t);
        if (!q) continue;
        struct lb_gemv g;
        struct lb_error err = {0};
        if (lb_gemv_init(&g, q->type, rows, cols, lb_isa_best(&cpu), &cpu, &err) != LB_OK) {
            CHECK_MSG(false, "%s: %s", q->name, err.msg);
            continue;
        }
        snprintf(current, sizeof current, "%s gemv vs float64, path %s", q->name, g.path);
        void *w = make_matrix(q, rows, cols, wf);
        void *act = xmalloc(g.act_bytes);
        fill_floats(x, cols);
        lb_gemv_quantize_x(&g, x, act, 0, 1);
        lb_gemv_rows(&g, w, act, y, 0, 1);
        act_error_bound(g.atype, x, cols, eb);
        double worst = 0;
        for (int64_t r = 0; r < rows; r++) {
            q->dequantize((const char *)w + (size_t)r * g.row_bytes, wd, cols);
            double exact = 0, mag = 0, qerr = 0;
            for (int64_t i = 0; i < cols; i++) {
                exact += (double)wd[i] * x[i];
                mag += fabs((double)wd[i] * x[i]);
                qerr += fabs((double)wd[i]) * eb[i];
            }
            /* activation error, plus f32 rounding as in the dot tolerance */
            double tol = qerr + REL_TOL * mag + 1e-30;
            double diff = fabs((double)y[r] - exact);
            CHECK_MSG(diff <= tol, "%s row %lld: %.9g vs float64 %.9g, |diff| %.3g > bound %.3g", current,
                      (long long)r, (double)y[r], exact, diff, tol);
            if (tol > 0 && diff / tol > worst) worst = diff / tol;
        }
        printf("  %-7s %-12s worst |diff| / bound = %.2f\n", q->name, g.path, worst);
        free(act);
        free(w);
    }
    current[0] = 0;
    free(x);
    free(wf);
    free(wd);
    free(eb);
    free(y);
}

int main(void)
{
    rng = lb_test_seed();
    lb_cpu_features_detect(&cpu);
    signal(SIGSEGV, on_fault);
    signal(SIGBUS, on_fault);
    signal(SIGILL, on_fault);
    LB_RUN(test_registry);
    LB_RUN(test_usable);
    LB_RUN(test_init);
    LB_RUN(test_dots);
    LB_RUN(test_dot_rows);
    LB_RUN(test_dot_batch);
    LB_RUN(test_actqs);
    LB_RUN(test_split_and_batch);
    LB_RUN(test_vs_f64);
    return lb_test_finish();
}
