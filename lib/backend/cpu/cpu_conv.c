/* CPU convolution and pooling kernels.
 *
 * Convolution is im2col + one large cblas_sgemm per chunk of images: the
 * column matrix of a chunk is [K, nb*P] with K = C*KH*KW rows (channel, kernel
 * row, kernel column) and one column per output pixel of every image of the
 * chunk (image, output row, output column), so the GEMM's N dimension is
 * nb*OH*OW, large enough for OpenBLAS to run near its peak on all its threads.
 *
 *   forward:      R[O, N]   = W[O, K] x col[K, N]     then R scattered to [nb, O, OH, OW]
 *   back input:   col[K, N] = W^T[K, O] x G[O, N]     then col2im (summing overlaps)
 *   back weight:  dW[O, K] += G[O, N] x col^T[N, K]   (beta = 0 for the first chunk)
 *
 * G is the chunk of the output gradient gathered to [O, N].  An image with
 * many output pixels is a chunk of its own: its GEMMs read and write the
 * tensors in place, with no gather or scatter.  Zero padding is done once per
 * (image, channel) into a small padded plane, so the im2col and col2im inner
 * loops are plain strided row copies without bounds tests.
 *
 * These kernels allocate nothing and print nothing; OpenBLAS owns the threads. */
#include "backend/cpu/cpu_conv.h"
#include "backend/plan.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

/* Workspace sub-buffers start on this boundary (AVX-512 friendly). */
#define CONV_ALIGN 64
/* The most scratch one convolution asks for: the chunk shrinks to fit. */
#define CONV_WORKSPACE_CAP ((size_t)64 << 20)
/* Images with at least CONV_SINGLE_COLS output pixels go one at a time,
 * straight from and to the tensors (no gather or scatter of the [O, N] matrix:
 * for a layer with few input channels that copy costs as much as the GEMM);
 * smaller ones are grouped up to about CONV_TARGET_COLS GEMM columns.
 * Measured on 2 Zen 4 cores, OpenBLAS 0.3.21, conv 5x5 32->64 on 14x14:
 * chunks of 784-1568 columns (column matrix 2.5-5 MB) beat both smaller
 * chunks (GEMMs too narrow) and larger ones (10-20% slower: out of cache).
 * For 28x28x1 images (K = 25) one image per GEMM wins: OpenBLAS then takes its
 * small-matrix kernel, twice as fast as its threaded path at that K. */
#ifndef CONV_SINGLE_COLS
#define CONV_SINGLE_COLS 512
#endif
#ifndef CONV_TARGET_COLS
#define CONV_TARGET_COLS 1568
#endif

/* ------------------------------------------------------------------------- */
/* Geometry                                                                  */

typedef ml_conv_plan conv_geom;

static ml_status conv_geom_init(const ml_kernel_args *a, conv_geom *g)
{
    ML_TRY(ml_conv_plan_make(a, g));
    if (g->K > INT32_MAX / 2 || g->O > INT32_MAX / 2 || g->P > INT32_MAX / 2)
        return ml_error(ML_ESHAPE, "%s: dimensions too large for BLAS", ml_op_name(a->op));
    return ML_OK;
}

/* ------------------------------------------------------------------------- */
/* Chunks and workspace                                                      */

static size_t conv_round(size_t floats)
{
    return (floats + CONV_ALIGN / sizeof(float) - 1) & ~(CONV_ALIGN / sizeof(float) - 1);
}

/* Floats of the [O, nb*P] matrix (unused for single images, read and written in place). */
static size_t conv_mat_floats(const conv_geom *g, int64_t nb)
{
    return nb > 1 ? conv_round((size_t)g->O * (size_t)nb * (size_t)g->P) : 0;
}

/* Workspace for nb images: col [K, nb*P], G or R [O, nb*P], nb padded planes. */
static size_t conv_chunk_bytes(const conv_geom *g, int64_t nb)
{
    size_t n = (size_t)nb * (size_t)g->P;
    size_t floats = conv_round((size_t)g->K * n) + conv_mat_floats(g, nb) +
                    conv_round((size_t)nb * (size_t)(g->Hp * g->Wp));
    return floats * sizeof(float) + CONV_ALIGN;
}

/* Images per chunk (see CONV_SINGLE_COLS), at most the batch, within `limit`
 * bytes of workspace; 0 if not even one image fits. */
static int64_t conv_chunk(const conv_geom *g, size_t limit)
{
    int64_t nb = g->P >= CONV_SINGLE_COLS ? 1 : (CONV_TARGET_COLS + g->P / 2) / g->P;
    if (nb > g->B)
        nb = g->B;
    if (nb < 1)
        nb = 1;
    if (limit > CONV_WORKSPACE_CAP)
        limit = CONV_WORKSPACE_CAP;
    while (nb > 1 && (conv_chunk_bytes(g, nb) > limit || nb * g->P > INT32_MAX / 2))
        nb--;
    return conv_chunk_bytes(g, nb) <= limit ? nb : 0;
}

size_t ml_cpu_conv_workspace_bytes(const ml_kernel_args *a)
{
    if (a->op != ML_OP_CONV2D && a->op != ML_OP_CONV2D_BACK_INPUT &&
        a->op != ML_OP_CONV2D_BACK_WEIGHT)
        return 0;
    conv_geom g;
    if (conv_geom_init(a, &g) != ML_OK) {
        ml_error_clear();
        return 0; /* the kernel reports the shape error when called */
    }
    if (g.B < 1)
        g.B = 1;
    /* One image always gets its workspace, even past the cap. */
    int64_t nb = conv_chunk(&g, CONV_WORKSPACE_CAP);
    return conv_chunk_bytes(&g, nb > 0 ? nb : 1);
}

typedef struct {
    int64_t nb;  /* images per chunk */
    float *col;  /* [K, nb*P] */
    float *mat;  /* [O, nb*P]: the forward result or the gathered gradient */
    float *pad;  /* nb padded planes [Hp, Wp] */
} conv_work;

static ml_status conv_work_init(const ml_kernel_args *a, const conv_geom *g, conv_work *wk)
{
    size_t limit = a->workspace ? a->workspace_bytes : 0;
    /* conv_chunk caps at CONV_WORKSPACE_CAP, but a single image may need more. */
    int64_t nb = conv_chunk(g, limit);
    if (nb == 0 && a->workspace && conv_chunk_bytes(g, 1) <= a->workspace_bytes)
        nb = 1;
    if (nb == 0)
        return ml_error(ML_EINVAL, "%s: workspace of %zu bytes too small (%zu needed)",
                        ml_op_name(a->op), a->workspace ? a->workspace_bytes : (size_t)0,
                        conv_chunk_bytes(g, 1));
    uintptr_t p = ((uintptr_t)a->workspace + CONV_ALIGN - 1) & ~(uintptr_t)(CONV_ALIGN - 1);
    size_t n = (size_t)nb * (size_t)g->P;
    wk->nb = nb;
    wk->col = (float *)p;
    wk->mat = wk->col + conv_round((size_t)g->K * n);
    wk->pad = wk->mat + conv_mat_floats(g, nb);
    return ML_OK;
}

/* ------------------------------------------------------------------------- */
/* Row copies                                                                */

/* Copies and sums of short rows (the width of an image, often 14 or 28 floats).
 * Rows shorter than a vector multiple are done with overlapping vectors, all
 * loads before any store, so no masked store (slow on AMD) and no call to
 * memcpy per row (gcc turns a plain copy loop into one) is needed. */

/* d[0..n) = s[0..n); d and s do not overlap. */
static inline void row_copy(float *restrict d, const float *restrict s, int64_t n)
{
#ifdef __AVX2__
    if (n >= 8) {
        if (n <= 16) {
            __m256 a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + n - 8);
            _mm256_storeu_ps(d, a);
            _mm256_storeu_ps(d + n - 8, b);
        } else if (n <= 32) {
            __m256 a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + 8);
            __m256 c = _mm256_loadu_ps(s + n - 16), e = _mm256_loadu_ps(s + n - 8);
            _mm256_storeu_ps(d, a);
            _mm256_storeu_ps(d + 8, b);
            _mm256_storeu_ps(d + n - 16, c);
            _mm256_storeu_ps(d + n - 8, e);
        } else {
            memcpy(d, s, (size_t)n * sizeof(float));
        }
        return;
    }
    if (n >= 4) {
        __m128 a = _mm_loadu_ps(s), b = _mm_loadu_ps(s + n - 4);
        _mm_storeu_ps(d, a);
        _mm_storeu_ps(d + n - 4, b);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++)
        d[i] = s[i];
}

/* d[0..n) += s[0..n); d and s do not overlap. */
static inline void row_add(float *restrict d, const float *restrict s, int64_t n)
{
#ifdef __AVX2__
    if (n >= 8) {
        /* The last 8 first, from d's original values: storing them after the
         * others rewrites any overlap with the same sums. */
        __m256 t = _mm256_add_ps(_mm256_loadu_ps(d + n - 8), _mm256_loadu_ps(s + n - 8));
        if (n <= 16) {
            __m256 a = _mm256_add_ps(_mm256_loadu_ps(d), _mm256_loadu_ps(s));
            _mm256_storeu_ps(d, a);
        } else {
            int64_t i = 0;
            for (; i + 8 <= n - 8; i += 8)
                _mm256_storeu_ps(d + i, _mm256_add_ps(_mm256_loadu_ps(d + i), _mm256_loadu_ps(s + i)));
            if (i < n - 8) {
                __m256 a = _mm256_add_ps(_mm256_loadu_ps(d + i), _mm256_loadu_ps(s + i));
                _mm256_storeu_ps(d + i, a);
            }
        }
        _mm256_storeu_ps(d + n - 8, t);
        return;
    }
    if (n >= 4) {
        __m128 t = _mm_add_ps(_mm_loadu_ps(d + n - 4), _mm_loadu_ps(s + n - 4));
        __m128 a = _mm_add_ps(_mm_loadu_ps(d), _mm_loadu_ps(s));
        _mm_storeu_ps(d, a);
        _mm_storeu_ps(d + n - 4, t);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++)
        d[i] += s[i];
}

/* ------------------------------------------------------------------------- */
/* im2col / col2im over a chunk                                              */

/* The plane of image b, channel c as im2col reads it: the padded copy or x itself. */
static inline const float *conv_src_plane(const conv_geom *g, const float *x, float *pad,
                                          int64_t b, int64_t c)
{
    if (g->ph || g->pw)
        return pad + b * g->Hp * g->Wp;
    return x + (b * g->C + c) * g->H * g->W;
}

/* col[K, nb*P] from images x[0..nb). */
static void conv_im2col(const conv_geom *g, const float *x, int64_t nb, float *col, float *pad)
{
    const int64_t N = nb * g->P, HW = g->H * g->W, HpWp = g->Hp * g->Wp;
    const int padded = g->ph || g->pw;
    const int64_t OH = g->OH, OW = g->OW, sw = g->sw, rs = g->sh * g->Wp;
    if (padded)
        memset(pad, 0, (size_t)(nb * HpWp) * sizeof(float)); /* borders stay zero */
    for (int64_t c = 0; c < g->C; c++) {
        if (padded) {
            for (int64_t b = 0; b < nb; b++) {
                const float *s = x + (b * g->C + c) * HW;
                float *d = pad + b * HpWp + g->ph * g->Wp + g->pw;
                for (int64_t h = 0; h < g->H; h++)
                    row_copy(d + h * g->Wp, s + h * g->W, g->W);
            }
        }
        for (int64_t kh = 0; kh < g->KH; kh++) {
            for (int64_t kw = 0; kw < g->KW; kw++) {
                float *dst = col + ((c * g->KH + kh) * g->KW + kw) * N;
                for (int64_t b = 0; b < nb; b++) {
                    const float *s = conv_src_plane(g, x, pad, b, c) + kh * g->Wp + kw;
                    float *d = dst + b * g->P;
                    if (sw == 1 && OW == g->Wp && rs == OW) {
                        memcpy(d, s, (size_t)(OH * OW) * sizeof(float));
                    } else if (sw == 1) {
                        for (int64_t oh = 0; oh < OH; oh++)
                            row_copy(d + oh * OW, s + oh * rs, OW);
                    } else {
                        for (int64_t oh = 0; oh < OH; oh++) {
                            const float *sr = s + oh * rs;
                            float *dr = d + oh * OW;
                            for (int64_t ow = 0; ow < OW; ow++)
                                dr[ow] = sr[ow * sw];
                        }
                    }
                }
            }
        }
    }
}

/* dx[0..nb) = col2im(col): every column entry added to the input pixel it came from. */
static void conv_col2im(const conv_geom *g, const float *col, int64_t nb, float *dx, float *pad)
{
    const int64_t N = nb * g->P, HW = g->H * g->W, HpWp = g->Hp * g->Wp;
    const int padded = g->ph || g->pw;
    const int64_t OH = g->OH, OW = g->OW, sw = g->sw, rs = g->sh * g->Wp;
    for (int64_t c = 0; c < g->C; c++) {
        for (int64_t b = 0; b < nb; b++) {
            if (padded)
                memset(pad + b * HpWp, 0, (size_t)HpWp * sizeof(float));
            else
                memset(dx + (b * g->C + c) * HW, 0, (size_t)HW * sizeof(float));
        }
        for (int64_t kh = 0; kh < g->KH; kh++) {
            for (int64_t kw = 0; kw < g->KW; kw++) {
                const float *src = col + ((c * g->KH + kh) * g->KW + kw) * N;
                for (int64_t b = 0; b < nb; b++) {
                    float *d = (padded ? pad + b * HpWp : dx + (b * g->C + c) * HW) +
                               kh * g->Wp + kw;
                    const float *s = src + b * g->P;
                    if (sw == 1) {
                        for (int64_t oh = 0; oh < OH; oh++)
                            row_add(d + oh * rs, s + oh * OW, OW);
                    } else {
                        for (int64_t oh = 0; oh < OH; oh++) {
                            float *dr = d + oh * rs;
                            const float *sr = s + oh * OW;
                            for (int64_t ow = 0; ow < OW; ow++)
                                dr[ow * sw] += sr[ow];
                        }
                    }
                }
            }
        }
        if (padded) {
            for (int64_t b = 0; b < nb; b++) {
                const float *s = pad + b * HpWp + g->ph * g->Wp + g->pw;
                float *d = dx + (b * g->C + c) * HW;
                for (int64_t h = 0; h < g->H; h++)
                    row_copy(d + h * g->W, s + h * g->Wp, g->W);
            }
        }
    }
}

/* G[O, nb*P] from y-shaped [nb, O, P]. */
static void conv_gather(const conv_geom *g, const float *y, int64_t nb, float *G)
{
    const int64_t N = nb * g->P;
    for (int64_t o = 0; o < g->O; o++)
        for (int64_t b = 0; b < nb; b++)
            memcpy(G + o * N + b * g->P, y + (b * g->O + o) * g->P, (size_t)g->P * sizeof(float));
}

/* y-shaped [nb, O, P] from R[O, nb*P]. */
static void conv_scatter(const conv_geom *g, const float *R, int64_t nb, float *y)
{
    const int64_t N = nb * g->P;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t o = 0; o < g->O; o++)
            memcpy(y + (b * g->O + o) * g->P, R + o * N + b * g->P, (size_t)g->P * sizeof(float));
}

/* ------------------------------------------------------------------------- */
/* Convolution kernels                                                       */

ml_status ml_cpu_conv2d(const ml_kernel_args *a)
{
    conv_geom g;
    conv_work wk;
    ML_TRY(conv_geom_init(a, &g));
    if (g.B == 0)
        return ML_OK;
    ML_TRY(conv_work_init(a, &g, &wk));
    const float *x = ml_tensor_f32(&a->in[0]), *w = ml_tensor_f32(&a->in[1]);
    float *y = ml_tensor_f32(&a->out);
    const int64_t CHW = g.C * g.H * g.W, OP = g.O * g.P;
    for (int64_t b0 = 0; b0 < g.B; b0 += wk.nb) {
        int64_t nb = g.B - b0 < wk.nb ? g.B - b0 : wk.nb;
        int N = (int)(nb * g.P);
        const float *col = wk.col;
        if (nb == 1 && g.identity)
            col = x + b0 * CHW;
        else
            conv_im2col(&g, x + b0 * CHW, nb, wk.col, wk.pad);
        if (nb == 1) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.O, N, (int)g.K, 1.0f, w,
                        (int)g.K, col, N, 0.0f, y + b0 * OP, N);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.O, N, (int)g.K, 1.0f, w,
                        (int)g.K, wk.col, N, 0.0f, wk.mat, N);
            conv_scatter(&g, wk.mat, nb, y + b0 * OP);
        }
    }
    return ML_OK;
}

ml_status ml_cpu_conv2d_back_input(const ml_kernel_args *a)
{
    conv_geom g;
    conv_work wk;
    ML_TRY(conv_geom_init(a, &g));
    if (g.B == 0)
        return ML_OK;
    ML_TRY(conv_work_init(a, &g, &wk));
    const float *gy = ml_tensor_f32(&a->in[0]), *w = ml_tensor_f32(&a->in[1]);
    float *dx = ml_tensor_f32(&a->out);
    const int64_t CHW = g.C * g.H * g.W, OP = g.O * g.P;
    for (int64_t b0 = 0; b0 < g.B; b0 += wk.nb) {
        int64_t nb = g.B - b0 < wk.nb ? g.B - b0 : wk.nb;
        int N = (int)(nb * g.P);
        const float *G = gy + b0 * OP;
        if (nb > 1) {
            conv_gather(&g, G, nb, wk.mat);
            G = wk.mat;
        }
        if (nb == 1 && g.identity) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.K, N, (int)g.O, 1.0f, w,
                        (int)g.K, G, N, 0.0f, dx + b0 * CHW, N);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.K, N, (int)g.O, 1.0f, w,
                    (int)g.K, G, N, 0.0f, wk.col, N);
        conv_col2im(&g, wk.col, nb, dx + b0 * CHW, wk.pad);
    }
    return ML_OK;
}

ml_status ml_cpu_conv2d_back_weight(const ml_kernel_args *a)
{
    conv_geom g;
    conv_work wk;
    ML_TRY(conv_geom_init(a, &g));
    float *dw = ml_tensor_f32(&a->out);
    if (g.B == 0) {
        memset(dw, 0, (size_t)(g.O * g.K) * sizeof(float));
        return ML_OK;
    }
    ML_TRY(conv_work_init(a, &g, &wk));
    const float *x = ml_tensor_f32(&a->in[0]), *gy = ml_tensor_f32(&a->in[1]);
    const int64_t CHW = g.C * g.H * g.W, OP = g.O * g.P;
    for (int64_t b0 = 0; b0 < g.B; b0 += wk.nb) {
        int64_t nb = g.B - b0 < wk.nb ? g.B - b0 : wk.nb;
        int N = (int)(nb * g.P);
        const float *G = gy + b0 * OP;
        if (nb > 1) {
            conv_gather(&g, G, nb, wk.mat);
            G = wk.mat;
        }
        const float *col = wk.col;
        if (nb == 1 && g.identity)
            col = x + b0 * CHW;
        else
            conv_im2col(&g, x + b0 * CHW, nb, wk.col, wk.pad);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g.O, (int)g.K, N, 1.0f, G, N,
                    col, N, b0 == 0 ? 0.0f : 1.0f, dw, (int)g.K);
    }
    return ML_OK;
}

/* ------------------------------------------------------------------------- */
/* Pooling                                                                   */

typedef ml_pool_plan pool_geom;

/* Max over one clipped window (rows h0..h1, columns w0..w1 of plane xs); -1 if empty. */
static inline float pool_max_window(const float *xs, int64_t W, int64_t h0, int64_t h1,
                                    int64_t w0, int64_t w1, int32_t *arg)
{
    float best = 0.0f;
    int64_t bi = -1;
    for (int64_t h = h0; h < h1; h++)
        for (int64_t w = w0; w < w1; w++) {
            float v = xs[h * W + w];
            if (bi < 0 || v > best)
                best = v, bi = h * W + w;
        }
    *arg = (int32_t)bi;
    return best;
}

/* 2x2 stride-2 max pooling of output row oh, columns [0, n) (all windows full).
 * Windows are scanned (0,0), (0,1), (1,0), (1,1) and the first maximum kept,
 * as in pool_max_window.  Vector blocks that do not divide n end with one
 * overlapping block (recomputing a few outputs), and the compares are
 * branch-free: the data decide them at random. */
#ifdef __AVX2__
static inline void pool_max_2x2_8(const float *r0, const float *r1, int32_t W, int32_t base,
                                  int64_t ow, float *ys, int32_t *am)
{
    /* The shuffles leave lanes in the order of outputs 0,1,4,5,2,3,6,7. */
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
    __m256 a0 = _mm256_loadu_ps(r0 + 2 * ow), a1 = _mm256_loadu_ps(r0 + 2 * ow + 8);
    __m256 b0 = _mm256_loadu_ps(r1 + 2 * ow), b1 = _mm256_loadu_ps(r1 + 2 * ow + 8);
    __m256 e0 = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 o0 = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
    __m256 e1 = _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 o1 = _mm256_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
    __m256 m = e0, off = _mm256_setzero_ps();
    __m256 c = _mm256_cmp_ps(o0, m, _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, o0, c);
    off = _mm256_blendv_ps(off, _mm256_castsi256_ps(_mm256_set1_epi32(1)), c);
    c = _mm256_cmp_ps(e1, m, _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, e1, c);
    off = _mm256_blendv_ps(off, _mm256_castsi256_ps(_mm256_set1_epi32(W)), c);
    c = _mm256_cmp_ps(o1, m, _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, o1, c);
    off = _mm256_blendv_ps(off, _mm256_castsi256_ps(_mm256_set1_epi32(W + 1)), c);
    __m256i idx = _mm256_add_epi32(_mm256_add_epi32(_mm256_castps_si256(off), lane2),
                                   _mm256_set1_epi32(base + (int32_t)(2 * ow)));
    /* Back to output order: 64-bit pairs 0,2,1,3. */
    m = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8));
    idx = _mm256_permute4x64_epi64(idx, 0xD8);
    _mm256_storeu_ps(ys + ow, m);
    _mm256_storeu_si256((__m256i *)(am + ow), idx);
}

static inline void pool_max_2x2_4(const float *r0, const float *r1, int32_t W, int32_t base,
                                  int64_t ow, float *ys, int32_t *am)
{
    __m128 a0 = _mm_loadu_ps(r0 + 2 * ow), a1 = _mm_loadu_ps(r0 + 2 * ow + 4);
    __m128 b0 = _mm_loadu_ps(r1 + 2 * ow), b1 = _mm_loadu_ps(r1 + 2 * ow + 4);
    __m128 e0 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
    __m128 o0 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
    __m128 e1 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0));
    __m128 o1 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
    __m128 m = e0, off = _mm_setzero_ps();
    __m128 c = _mm_cmpgt_ps(o0, m);
    m = _mm_blendv_ps(m, o0, c);
    off = _mm_blendv_ps(off, _mm_castsi128_ps(_mm_set1_epi32(1)), c);
    c = _mm_cmpgt_ps(e1, m);
    m = _mm_blendv_ps(m, e1, c);
    off = _mm_blendv_ps(off, _mm_castsi128_ps(_mm_set1_epi32(W)), c);
    c = _mm_cmpgt_ps(o1, m);
    m = _mm_blendv_ps(m, o1, c);
    off = _mm_blendv_ps(off, _mm_castsi128_ps(_mm_set1_epi32(W + 1)), c);
    __m128i idx = _mm_add_epi32(_mm_add_epi32(_mm_castps_si128(off), _mm_setr_epi32(0, 2, 4, 6)),
                                _mm_set1_epi32(base + (int32_t)(2 * ow)));
    _mm_storeu_ps(ys + ow, m);
    _mm_storeu_si128((__m128i *)(am + ow), idx);
}
#endif

static void pool_max_2x2_row(const float *xs, int64_t W, int64_t oh, int64_t n, float *ys,
                             int32_t *am)
{
    const float *r0 = xs + 2 * oh * W, *r1 = r0 + W;
    const int32_t base = (int32_t)(2 * oh * W), w32 = (int32_t)W;
    int64_t ow = 0;
#ifdef __AVX2__
    if (n >= 8) {
        for (; ow + 8 <= n; ow += 8)
            pool_max_2x2_8(r0, r1, w32, base, ow, ys, am);
        if (ow < n)
            pool_max_2x2_8(r0, r1, w32, base, n - 8, ys, am);
        return;
    }
    if (n >= 4) {
        pool_max_2x2_4(r0, r1, w32, base, 0, ys, am);
        if (n > 4)
            pool_max_2x2_4(r0, r1, w32, base, n - 4, ys, am);
        return;
    }
#endif
    for (; ow < n; ow++) {
        const float *p0 = r0 + 2 * ow, *p1 = r1 + 2 * ow;
        float m = p0[0];
        int32_t off = 0;
        off = p0[1] > m ? 1 : off;
        m = p0[1] > m ? p0[1] : m;
        off = p1[0] > m ? w32 : off;
        m = p1[0] > m ? p1[0] : m;
        off = p1[1] > m ? w32 + 1 : off;
        m = p1[1] > m ? p1[1] : m;
        ys[ow] = m;
        am[ow] = base + (int32_t)(2 * ow) + off;
    }
}

static void pool_max_forward(const pool_geom *p, const float *x, float *y, int32_t *aux)
{
    const int64_t HW = p->H * p->W, OP = p->OH * p->OW;
    const int fast = p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2;
    /* Windows entirely inside the image: rows [0, fh), columns [0, fw). */
    const int64_t fh = fast ? (p->H / 2 < p->OH ? p->H / 2 : p->OH) : 0;
    const int64_t fw = fast ? (p->W / 2 < p->OW ? p->W / 2 : p->OW) : 0;
    for (int64_t pl = 0; pl < p->planes; pl++) {
        const float *xs = x + pl * HW;
        float *ys = y + pl * OP;
        int32_t *am = aux + pl * OP;
        for (int64_t oh = 0; oh < p->OH; oh++) {
            int64_t h0 = oh * p->sh, h1 = h0 + p->kh < p->H ? h0 + p->kh : p->H;
            int64_t ow = 0;
            if (oh < fh) {
                pool_max_2x2_row(xs, p->W, oh, fw, ys + oh * p->OW, am + oh * p->OW);
                ow = fw;
            }
            for (; ow < p->OW; ow++) {
                int64_t w0 = ow * p->sw, w1 = w0 + p->kw < p->W ? w0 + p->kw : p->W;
                int32_t arg;
                float v = pool_max_window(xs, p->W, h0, h1, w0, w1, &arg);
                ys[oh * p->OW + ow] = v;
                am[oh * p->OW + ow] = arg;
            }
        }
    }
}

static void pool_mean_forward(const pool_geom *p, const float *x, float *y)
{
    const int64_t HW = p->H * p->W, OP = p->OH * p->OW;
    for (int64_t pl = 0; pl < p->planes; pl++) {
        const float *xs = x + pl * HW;
        float *ys = y + pl * OP;
        for (int64_t oh = 0; oh < p->OH; oh++) {
            int64_t h0 = oh * p->sh, h1 = h0 + p->kh < p->H ? h0 + p->kh : p->H;
            for (int64_t ow = 0; ow < p->OW; ow++) {
                int64_t w0 = ow * p->sw, w1 = w0 + p->kw < p->W ? w0 + p->kw : p->W;
                float s = 0.0f;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++)
                        s += xs[h * p->W + w];
                int64_t n = (h1 - h0) * (w1 - w0);
                ys[oh * p->OW + ow] = n > 0 ? s / (float)n : 0.0f;
            }
        }
    }
}

ml_status ml_cpu_pool(const ml_kernel_args *a)
{
    pool_geom p;
    ML_TRY(ml_pool_plan_make(a, 0, &p));
    const float *x = ml_tensor_f32(&a->in[0]);
    float *y = ml_tensor_f32(&a->out);
    if (p.kind == ML_POOL_MAX)
        pool_max_forward(&p, x, y, (int32_t *)a->aux);
    else
        pool_mean_forward(&p, x, y);
    return ML_OK;
}

/* Non-overlapping 2x2 stride-2 max gradient of output row oh, columns [0, n):
 * writes all four input pixels of each window (g at the argmax, 0 elsewhere).
 * An overlapping last vector block rewrites a few windows with the same values. */
#ifdef __AVX2__
static inline void pool_max_back_2x2_8(const float *gs, const int32_t *am, int32_t W,
                                       int32_t base, int64_t ow, float *r0, float *r1)
{
    const __m256 zero = _mm256_setzero_ps();
    __m256 gv = _mm256_loadu_ps(gs + ow);
    __m256i off = _mm256_sub_epi32(
        _mm256_loadu_si256((const __m256i *)(am + ow)),
        _mm256_add_epi32(_mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14),
                         _mm256_set1_epi32(base + (int32_t)(2 * ow))));
    __m256 e0 = _mm256_blendv_ps(zero, gv, _mm256_castsi256_ps(_mm256_cmpeq_epi32(off, _mm256_setzero_si256())));
    __m256 o0 = _mm256_blendv_ps(zero, gv, _mm256_castsi256_ps(_mm256_cmpeq_epi32(off, _mm256_set1_epi32(1))));
    __m256 e1 = _mm256_blendv_ps(zero, gv, _mm256_castsi256_ps(_mm256_cmpeq_epi32(off, _mm256_set1_epi32(W))));
    __m256 o1 = _mm256_blendv_ps(zero, gv, _mm256_castsi256_ps(_mm256_cmpeq_epi32(off, _mm256_set1_epi32(W + 1))));
    __m256 lo0 = _mm256_unpacklo_ps(e0, o0), hi0 = _mm256_unpackhi_ps(e0, o0);
    __m256 lo1 = _mm256_unpacklo_ps(e1, o1), hi1 = _mm256_unpackhi_ps(e1, o1);
    _mm256_storeu_ps(r0 + 2 * ow, _mm256_permute2f128_ps(lo0, hi0, 0x20));
    _mm256_storeu_ps(r0 + 2 * ow + 8, _mm256_permute2f128_ps(lo0, hi0, 0x31));
    _mm256_storeu_ps(r1 + 2 * ow, _mm256_permute2f128_ps(lo1, hi1, 0x20));
    _mm256_storeu_ps(r1 + 2 * ow + 8, _mm256_permute2f128_ps(lo1, hi1, 0x31));
}

static inline void pool_max_back_2x2_4(const float *gs, const int32_t *am, int32_t W,
                                       int32_t base, int64_t ow, float *r0, float *r1)
{
    const __m128 zero = _mm_setzero_ps();
    __m128 gv = _mm_loadu_ps(gs + ow);
    __m128i off = _mm_sub_epi32(_mm_loadu_si128((const __m128i *)(am + ow)),
                                _mm_add_epi32(_mm_setr_epi32(0, 2, 4, 6),
                                              _mm_set1_epi32(base + (int32_t)(2 * ow))));
    __m128 e0 = _mm_blendv_ps(zero, gv, _mm_castsi128_ps(_mm_cmpeq_epi32(off, _mm_setzero_si128())));
    __m128 o0 = _mm_blendv_ps(zero, gv, _mm_castsi128_ps(_mm_cmpeq_epi32(off, _mm_set1_epi32(1))));
    __m128 e1 = _mm_blendv_ps(zero, gv, _mm_castsi128_ps(_mm_cmpeq_epi32(off, _mm_set1_epi32(W))));
    __m128 o1 = _mm_blendv_ps(zero, gv, _mm_castsi128_ps(_mm_cmpeq_epi32(off, _mm_set1_epi32(W + 1))));
    _mm_storeu_ps(r0 + 2 * ow, _mm_unpacklo_ps(e0, o0));
    _mm_storeu_ps(r0 + 2 * ow + 4, _mm_unpackhi_ps(e0, o0));
    _mm_storeu_ps(r1 + 2 * ow, _mm_unpacklo_ps(e1, o1));
    _mm_storeu_ps(r1 + 2 * ow + 4, _mm_unpackhi_ps(e1, o1));
}
#endif

static void pool_max_back_2x2_row(const float *gs, const int32_t *am, int64_t W, int64_t oh,
                                  int64_t n, float *dxs)
{
    float *r0 = dxs + 2 * oh * W, *r1 = r0 + W;
    const int32_t base = (int32_t)(2 * oh * W), w32 = (int32_t)W;
    int64_t ow = 0;
#ifdef __AVX2__
    if (n >= 8) {
        for (; ow + 8 <= n; ow += 8)
            pool_max_back_2x2_8(gs, am, w32, base, ow, r0, r1);
        if (ow < n)
            pool_max_back_2x2_8(gs, am, w32, base, n - 8, r0, r1);
        return;
    }
    if (n >= 4) {
        pool_max_back_2x2_4(gs, am, w32, base, 0, r0, r1);
        if (n > 4)
            pool_max_back_2x2_4(gs, am, w32, base, n - 4, r0, r1);
        return;
    }
#endif
    for (; ow < n; ow++) {
        int32_t off = am[ow] - base - (int32_t)(2 * ow);
        float gv = gs[ow];
        r0[2 * ow] = off == 0 ? gv : 0.0f;
        r0[2 * ow + 1] = off == 1 ? gv : 0.0f;
        r1[2 * ow] = off == w32 ? gv : 0.0f;
        r1[2 * ow + 1] = off == w32 + 1 ? gv : 0.0f;
    }
}

static ml_status pool_max_backward(const pool_geom *p, const float *gy, const int32_t *aux,
                                   float *dx)
{
    const int64_t HW = p->H * p->W, OP = p->OH * p->OW;
    const int fast = p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2;
    const int64_t fh = fast ? (p->H / 2 < p->OH ? p->H / 2 : p->OH) : 0;
    const int64_t fw = fast ? (p->W / 2 < p->OW ? p->W / 2 : p->OW) : 0;
    for (int64_t pl = 0; pl < p->planes; pl++) {
        const float *gs = gy + pl * OP;
        const int32_t *am = aux + pl * OP;
        float *dxs = dx + pl * HW;
        int64_t oh0 = 0;
        if (fast) {
            /* The fully covered block [0, 2fh) x [0, 2fw) is written whole; the
             * rest of the plane is zeroed and the border windows added below. */
            for (int64_t oh = 0; oh < fh; oh++) {
                pool_max_back_2x2_row(gs + oh * p->OW, am + oh * p->OW, p->W, oh, fw, dxs);
                if (2 * fw < p->W) {
                    memset(dxs + 2 * oh * p->W + 2 * fw, 0, (size_t)(p->W - 2 * fw) * sizeof(float));
                    memset(dxs + (2 * oh + 1) * p->W + 2 * fw, 0,
                           (size_t)(p->W - 2 * fw) * sizeof(float));
                }
            }
            memset(dxs + 2 * fh * p->W, 0, (size_t)((p->H - 2 * fh) * p->W) * sizeof(float));
            for (int64_t oh = 0; oh < fh; oh++) {
                for (int64_t ow = fw; ow < p->OW; ow++) {
                    int32_t i = am[oh * p->OW + ow];
                    if (i >= 0) {
                        if ((uint64_t)i >= (uint64_t)HW)
                            return ml_error(ML_EINVAL, "pool_back: argmax %d out of range", i);
                        dxs[i] += gs[oh * p->OW + ow];
                    }
                }
            }
            oh0 = fh;
        } else {
            memset(dxs, 0, (size_t)HW * sizeof(float));
        }
        for (int64_t k = oh0 * p->OW; k < OP; k++) {
            int32_t i = am[k];
            if (i >= 0) {
                if ((uint64_t)i >= (uint64_t)HW)
                    return ml_error(ML_EINVAL, "pool_back: argmax %d out of range", i);
                dxs[i] += gs[k];
            }
        }
    }
    return ML_OK;
}

static void pool_mean_backward(const pool_geom *p, const float *gy, float *dx)
{
    const int64_t HW = p->H * p->W, OP = p->OH * p->OW;
    memset(dx, 0, (size_t)(p->planes * HW) * sizeof(float));
    for (int64_t pl = 0; pl < p->planes; pl++) {
        const float *gs = gy + pl * OP;
        float *dxs = dx + pl * HW;
        for (int64_t oh = 0; oh < p->OH; oh++) {
            int64_t h0 = oh * p->sh, h1 = h0 + p->kh < p->H ? h0 + p->kh : p->H;
            for (int64_t ow = 0; ow < p->OW; ow++) {
                int64_t w0 = ow * p->sw, w1 = w0 + p->kw < p->W ? w0 + p->kw : p->W;
                int64_t n = (h1 - h0) * (w1 - w0);
                if (n <= 0)
                    continue;
                float v = gs[oh * p->OW + ow] / (float)n;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++)
                        dxs[h * p->W + w] += v;
            }
        }
    }
}

ml_status ml_cpu_pool_back(const ml_kernel_args *a)
{
    pool_geom p;
    ML_TRY(ml_pool_plan_make(a, 0, &p));
    const float *gy = ml_tensor_f32(&a->in[0]);
    float *dx = ml_tensor_f32(&a->out);
    if (p.kind == ML_POOL_MAX)
        return pool_max_backward(&p, gy, (const int32_t *)a->aux, dx);
    pool_mean_backward(&p, gy, dx);
    return ML_OK;
}
