/* ops.c: the small elementwise operations of the forward pass
 * (kernels/lb-ops.h). Plain C: a few thousand floats per call, next to
 * GEMVs that stream megabytes of weights per token.
 */
#include <math.h>
#include <string.h>

#include "../lb-ops.h"

void lb_rms_norm(const float *x, const float *w, float *y, int64_t n, float eps)
{
    LB_ASSERT(n >= 1);
    double sum = 0.0; /* ggml_float accumulation, as ggml_compute_forward_rms_norm */
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    if (w)
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
    else
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale;
}

void lb_rms_norm_heads(float *x, const float *w, int n_heads, int head_dim, float eps)
{
    for (int h = 0; h < n_heads; h++) {
        float *r = x + (size_t)h * (size_t)head_dim;
        lb_rms_norm(r, w, r, head_dim, eps);
    }
}

void lb_rope_table(float *cs, int head_dim, int64_t pos, double base,
                   const float *factors, double freq_scale)
{
    LB_ASSERT(head_dim >= 2 && head_dim % 2 == 0);
    const int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        double theta = (double)pos * pow(base, -2.0 * i / head_dim) * freq_scale;
        if (factors) theta /= (double)factors[i];
        cs[2 * i] = (float)cos(theta);
        cs[2 * i + 1] = (float)sin(theta);
    }
}

void lb_rope(float *x, int n_heads, int head_dim, const float *cs,
             enum lb_rope_mode mode)
{
    const int half = head_dim / 2;
    /* NORM: pair i is (2i, 2i+1); NEOX: (i, i + half). */
    const int stride = mode == LB_ROPE_NEOX ? 1 : 2;
    const int off = mode == LB_ROPE_NEOX ? half : 1;
    for (int h = 0; h < n_heads; h++) {
        float *r = x + (size_t)h * (size_t)head_dim;
        for (int i = 0; i < half; i++) {
            const float c = cs[2 * i], s = cs[2 * i + 1];
            float *a = r + i * stride, *b = a + off;
            const float x0 = *a, x1 = *b;
            *a = x0 * c - x1 * s;
            *b = x0 * s + x1 * c;
        }
    }
}

void lb_swiglu(const float *g, const float *u, float *h, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = g[i];
        h[i] = v / (1.0f + expf(-v)) * u[i];
    }
}

void lb_add(float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

void lb_get_row(enum lb_qtype type, const void *table, int64_t ne0,
                int64_t row, float *out, int ith, int nth)
{
    const struct lb_qtraits *tr = lb_qtraits_get(type);
    LB_ASSERT(tr && tr->dequantize && ne0 % tr->block_elems == 0 && row >= 0);
    const size_t be = (size_t)tr->block_elems, bb = (size_t)tr->block_bytes;
    size_t b, e;
    lb_split((size_t)ne0, be, ith, nth, &b, &e);
    if (b >= e) return;
    const char *r = (const char *)table + (size_t)row * lb_qtype_row_bytes(type, ne0);
    tr->dequantize(r + b / be * bb, out + b, (int64_t)(e - b));
}

int64_t lb_argmax_f32(const float *x, int64_t n)
{
    LB_ASSERT(n >= 1);
    int64_t best = 0;
    float v = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > v || (v != v && x[i] == x[i])) { /* first non-NaN replaces a NaN */
            v = x[i];
            best = i;
        }
    return best;
}
