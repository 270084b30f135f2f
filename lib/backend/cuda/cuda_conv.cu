/* CUDA convolution and pooling.
 *
 * Convolution is im2col + cuBLAS, over chunks of nb images (the whole batch
 * unless the workspace cap says otherwise), with K = C*KH*KW and P = OH*OW:
 *
 *   forward:      col_b[K, P] = im2col(x_b);  y_b[O, P] = W[O, K] col_b
 *                 (one cublasSgemmStridedBatched writing y in place)
 *   back input:   col_b[K, P] = W^T g_b        (strided batched, g read in place)
 *                 dx = col2im(col): one thread per input pixel adds the column
 *                 entries it fed (a gather: no atomics, deterministic)
 *   back weight:  dW[O, K] = G[O, nb*P] col[K, nb*P]^T, one GEMM whose inner
 *                 dimension runs over every pixel of every image of the chunk
 *                 (G is g gathered to [O, nb*P]; col built in that layout);
 *                 later chunks add with beta = 1.
 *
 * A 1x1 convolution with stride 1 and no padding uses the images themselves
 * as column matrices.  All scratch is in the workspace (workspace_bytes).
 *
 * Pooling is one thread per output (forward) or per input pixel (backward:
 * the windows covering the pixel are visited in the CPU's order, so sums are
 * the same), with Pylearn2's partial windows and the CPU's argmax rule (first
 * strict maximum in row-major window order, index into H*W, -1 for a window
 * wholly outside the image). */
#include "backend/cuda/cuda_impl.h"

/* Most workspace a convolution asks for; the chunk of images shrinks to fit. */
#define CONV_WORKSPACE_CAP ((size_t)256 << 20)
#define CONV_ALIGN 256

typedef ml_conv_plan conv_geom;

static ml_status conv_geom_init(const ml_kernel_args *a, conv_geom *g)
{
    ML_TRY(ml_conv_plan_make(a, g));
    if (g->K > INT32_MAX / 2 || g->O > INT32_MAX / 2 || g->P > INT32_MAX / 2 ||
        g->C * g->H * g->W > INT32_MAX / 2)
        return ml_error(ML_ESHAPE, "%s: dimensions too large for cuBLAS", ml_op_name(a->op));
    return ML_OK;
}

static size_t round_up(size_t bytes)
{
    return (bytes + CONV_ALIGN - 1) / CONV_ALIGN * CONV_ALIGN;
}

/* Bytes of the column matrix for nb images (none when the images serve as theirs). */
static size_t conv_col_bytes(const conv_geom *g, ml_op op, int64_t nb)
{
    int in_place = g->identity && (op != ML_OP_CONV2D_BACK_WEIGHT || nb == 1);
    return in_place ? 0 : round_up((size_t)nb * g->K * g->P * sizeof(float));
}

/* Workspace for nb images: the column matrix, plus the gathered gradient for
 * the weight gradient. */
static size_t conv_chunk_bytes(const conv_geom *g, ml_op op, int64_t nb)
{
    size_t G = op == ML_OP_CONV2D_BACK_WEIGHT && nb > 1 ? round_up((size_t)nb * g->O * g->P * sizeof(float)) : 0;
    size_t col = conv_col_bytes(g, op, nb);
    return col + G ? col + G + CONV_ALIGN : 0;
}

/* Images per chunk: the batch if it fits in `limit` (and in int32 indexing), else fewer; 0 if not one. */
static int64_t conv_chunk(const conv_geom *g, ml_op op, size_t limit)
{
    int64_t nb = g->B < 1 ? 1 : g->B;
    while (nb > 1 && (conv_chunk_bytes(g, op, nb) > limit || nb * g->K * g->P > INT32_MAX ||
                      nb * g->O * g->P > INT32_MAX || nb * g->C * g->H * g->W > INT32_MAX))
        nb = nb / 2 > 1 ? (nb + 1) / 2 : 1;
    return conv_chunk_bytes(g, op, nb) <= limit ? nb : 0;
}

size_t ml_cuda_conv_workspace_bytes(const ml_kernel_args *a)
{
    if (a->op != ML_OP_CONV2D && a->op != ML_OP_CONV2D_BACK_INPUT && a->op != ML_OP_CONV2D_BACK_WEIGHT)
        return 0;
    conv_geom g;
    if (conv_geom_init(a, &g) != ML_OK) {
        ml_error_clear();
        return 0; /* the kernel reports the shape error when called */
    }
    int64_t nb = conv_chunk(&g, a->op, CONV_WORKSPACE_CAP);
    return conv_chunk_bytes(&g, a->op, nb > 0 ? nb : 1);
}

struct conv_args {
    int C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, K, P;
};

/* What every convolution driver starts from. */
struct conv_call {
    conv_geom g;
    conv_args ca;        /* g in int, for the kernels */
    int64_t CHW, OP, KP; /* floats of one image of x, of y, of its column matrix */
    int64_t nb;          /* images per chunk (0 for an empty batch) */
    float *col, *G;      /* workspace: column matrix, gathered gradient */
    cudaStream_t st;
};

static const float one = 1.0f, zero = 0.0f; /* cuBLAS's alpha and beta */

/* The checked geometry, and for a batch that is not empty the chunk size and
 * the workspace pointers for this call. */
static ml_status conv_begin(const ml_kernel_args *a, conv_call *c)
{
    const conv_geom *g = &c->g;
    ML_TRY(conv_geom_init(a, &c->g));
    c->ca = {(int)g->C,  (int)g->H,  (int)g->W,  (int)g->KH, (int)g->KW, (int)g->OH, (int)g->OW,
             (int)g->sh, (int)g->sw, (int)g->ph, (int)g->pw, (int)g->K,  (int)g->P};
    c->CHW = g->C * g->H * g->W, c->OP = g->O * g->P, c->KP = g->K * g->P;
    c->st = ml_cuda_stream();
    c->nb = 0;
    c->col = c->G = NULL;
    if (g->B == 0)
        return ML_OK;
    size_t have = a->workspace ? a->workspace_bytes : 0;
    c->nb = conv_chunk(g, a->op, have);
    if (c->nb == 0)
        return ml_error(ML_EINVAL, "%s: workspace of %zu bytes too small (%zu needed)", ml_op_name(a->op),
                        have, conv_chunk_bytes(g, a->op, 1));
    uintptr_t p = ((uintptr_t)a->workspace + CONV_ALIGN - 1) & ~(uintptr_t)(CONV_ALIGN - 1);
    c->col = (float *)p;
    c->G = (float *)(p + conv_col_bytes(g, a->op, c->nb));
    return ML_OK;
}

/* col[b*sb + k*sk + p] = x[b, c, oh*sh - ph + kh, ow*sw - pw + kw] (0 in the padding),
 * k = (c*KH + kh)*KW + kw, p = oh*OW + ow; one thread per entry, nb images. */
__global__ void k_im2col(float *__restrict__ col, const float *__restrict__ x, int nb, conv_args g,
                         int64_t sb, int64_t sk)
{
    int64_t total = (int64_t)nb * g.K * g.P;
    ML_GRID_STRIDE(i, total)
    {
        int p = (int)(i % g.P);
        int64_t t = i / g.P;
        int k = (int)(t % g.K);
        int b = (int)(t / g.K);
        int kw = k % g.KW, kh = (k / g.KW) % g.KH, c = k / (g.KW * g.KH);
        int oh = p / g.OW, ow = p % g.OW;
        int h = oh * g.sh - g.ph + kh, w = ow * g.sw - g.pw + kw;
        float v = 0.0f;
        if (h >= 0 && h < g.H && w >= 0 && w < g.W)
            v = x[(((int64_t)b * g.C + c) * g.H + h) * g.W + w];
        col[b * sb + (int64_t)k * sk + p] = v;
    }
}

/* dx[b, c, h, w] = sum of the column entries (batched layout [nb, K, P]) that
 * read pixel (h, w): kernel rows kh with (h + ph - kh) a multiple of sh, etc. */
__global__ void k_col2im(float *__restrict__ dx, const float *__restrict__ col, int nb, conv_args g)
{
    int64_t total = (int64_t)nb * g.C * g.H * g.W;
    ML_GRID_STRIDE(i, total)
    {
        int w = (int)(i % g.W);
        int64_t t = i / g.W;
        int h = (int)(t % g.H);
        t /= g.H;
        int c = (int)(t % g.C);
        int b = (int)(t / g.C);
        const float *cb = col + (int64_t)b * g.K * g.P;
        float s = 0.0f;
        for (int kh = 0; kh < g.KH; kh++) {
            int th = h + g.ph - kh;
            if (th < 0 || th % g.sh)
                continue;
            int oh = th / g.sh;
            if (oh >= g.OH)
                continue;
            for (int kw = 0; kw < g.KW; kw++) {
                int tw = w + g.pw - kw;
                if (tw < 0 || tw % g.sw)
                    continue;
                int ow = tw / g.sw;
                if (ow >= g.OW)
                    continue;
                s += cb[(int64_t)((c * g.KH + kh) * g.KW + kw) * g.P + oh * g.OW + ow];
            }
        }
        dx[i] = s;
    }
}

/* G[o, b*P + p] = gy[b, o, p] */
__global__ void k_gather_g(float *__restrict__ G, const float *__restrict__ gy, int nb, int O, int P)
{
    int64_t total = (int64_t)nb * O * P;
    ML_GRID_STRIDE(i, total)
    {
        int p = (int)(i % P);
        int64_t t = i / P;
        int o = (int)(t % O);
        int b = (int)(t / O);
        G[(int64_t)o * nb * P + (int64_t)b * P + p] = gy[i];
    }
}

ml_status ml_cuda_conv2d(const ml_kernel_args *a)
{
    conv_call cv;
    ML_TRY(conv_begin(a, &cv));
    const conv_geom &g = cv.g;
    const float *x = ml_cuda_f32(&a->in[0]), *w = ml_cuda_f32(&a->in[1]);
    float *y = ml_cuda_f32(&a->out);
    for (int64_t b0 = 0; b0 < g.B; b0 += cv.nb) {
        int n = (int)(g.B - b0 < cv.nb ? g.B - b0 : cv.nb);
        const float *c = x + b0 * cv.CHW;
        if (!g.identity) {
            unsigned blocks = ml_cuda_blocks((int64_t)n * cv.KP);
            k_im2col<<<blocks, ML_CUDA_THREADS, 0, cv.st>>>(cv.col, c, n, cv.ca, cv.KP, g.P);
            ML_CUDA_LAUNCHED();
            c = cv.col;
        }
        /* Column-major: y_b^T[P, O] = col_b^T[P, K] W^T[K, O]. */
        ML_CUBLAS_CHECK(cublasSgemmStridedBatched(ml_cuda_cublas(), CUBLAS_OP_N, CUBLAS_OP_N, (int)g.P, (int)g.O,
                                                  (int)g.K, &one, c, (int)g.P, cv.KP, w, (int)g.K, 0, &zero,
                                                  y + b0 * cv.OP, (int)g.P, cv.OP, n));
    }
    return ML_OK;
}

ml_status ml_cuda_conv2d_back_input(const ml_kernel_args *a)
{
    conv_call cv;
    ML_TRY(conv_begin(a, &cv));
    const conv_geom &g = cv.g;
    const float *gy = ml_cuda_f32(&a->in[0]), *w = ml_cuda_f32(&a->in[1]);
    float *dx = ml_cuda_f32(&a->out);
    for (int64_t b0 = 0; b0 < g.B; b0 += cv.nb) {
        int n = (int)(g.B - b0 < cv.nb ? g.B - b0 : cv.nb);
        float *c = g.identity ? dx + b0 * cv.CHW : cv.col;
        /* Column-major: col_b^T[P, K] = g_b^T[P, O] W[O, K]. */
        ML_CUBLAS_CHECK(cublasSgemmStridedBatched(ml_cuda_cublas(), CUBLAS_OP_N, CUBLAS_OP_T, (int)g.P, (int)g.K,
                                                  (int)g.O, &one, gy + b0 * cv.OP, (int)g.P, cv.OP, w, (int)g.K, 0,
                                                  &zero, c, (int)g.P, cv.KP, n));
        if (!g.identity) {
            unsigned blocks = ml_cuda_blocks((int64_t)n * cv.CHW);
            k_col2im<<<blocks, ML_CUDA_THREADS, 0, cv.st>>>(dx + b0 * cv.CHW, cv.col, n, cv.ca);
            ML_CUDA_LAUNCHED();
        }
    }
    return ML_OK;
}

ml_status ml_cuda_conv2d_back_weight(const ml_kernel_args *a)
{
    conv_call cv;
    ML_TRY(conv_begin(a, &cv));
    const conv_geom &g = cv.g;
    float *dw = ml_cuda_f32(&a->out);
    if (g.B == 0) {
        ML_CUDA_CHECK(cudaMemsetAsync(dw, 0, (size_t)(g.O * g.K) * sizeof(float), cv.st));
        return ML_OK;
    }
    const float *x = ml_cuda_f32(&a->in[0]), *gy = ml_cuda_f32(&a->in[1]);
    for (int64_t b0 = 0; b0 < g.B; b0 += cv.nb) {
        int n = (int)(g.B - b0 < cv.nb ? g.B - b0 : cv.nb);
        int64_t N = (int64_t)n * g.P;
        const float *Gm = gy + b0 * cv.OP, *c = x + b0 * cv.CHW;
        if (n > 1) {
            k_gather_g<<<ml_cuda_blocks(N * g.O), ML_CUDA_THREADS, 0, cv.st>>>(cv.G, Gm, n, (int)g.O, (int)g.P);
            ML_CUDA_LAUNCHED();
            Gm = cv.G;
        }
        if (!g.identity || n > 1) {
            /* The wide layout col[K, n*P]: entry (b, k, p) at k*N + b*P + p. */
            k_im2col<<<ml_cuda_blocks(N * g.K), ML_CUDA_THREADS, 0, cv.st>>>(cv.col, c, n, cv.ca, g.P, N);
            ML_CUDA_LAUNCHED();
            c = cv.col;
        }
        /* Row-major dW[O, K] = G[O, N] col[K, N]^T, by the matmul trick. */
        const float *beta = b0 == 0 ? &zero : &one;
        ML_CUBLAS_CHECK(cublasSgemm(ml_cuda_cublas(), CUBLAS_OP_T, CUBLAS_OP_N, (int)g.K, (int)g.O, (int)N, &one,
                                    c, (int)N, Gm, (int)N, beta, dw, (int)g.K));
    }
    return ML_OK;
}

/* ---- Pooling ---- */

/* ml_pool_plan with int sizes, as the kernels index planes. */
typedef struct {
    int64_t planes;
    int H, W, OH, OW;
    int kind, kh, kw, sh, sw;
} pool_geom;

static ml_status pool_geom_init(const ml_kernel_args *a, pool_geom *p)
{
    ml_pool_plan q;
    ML_TRY(ml_pool_plan_make(a, 1, &q));
    p->planes = q.planes;
    p->H = (int)q.H, p->W = (int)q.W, p->OH = (int)q.OH, p->OW = (int)q.OW;
    p->kind = q.kind, p->kh = q.kh, p->kw = q.kw, p->sh = q.sh, p->sw = q.sw;
    return ML_OK;
}

template <int KIND>
__global__ void k_pool(float *__restrict__ y, int32_t *__restrict__ arg, const float *__restrict__ x,
                       pool_geom p)
{
    int64_t total = p.planes * p.OH * p.OW;
    ML_GRID_STRIDE(i, total)
    {
        int ow = (int)(i % p.OW);
        int64_t t = i / p.OW;
        int oh = (int)(t % p.OH);
        int64_t pl = t / p.OH;
        const float *xs = x + pl * p.H * p.W;
        int h0 = oh * p.sh, h1 = min(h0 + p.kh, p.H);
        int w0 = ow * p.sw, w1 = min(w0 + p.kw, p.W);
        if (KIND == ML_POOL_MAX) {
            float best = 0.0f;
            int bi = -1;
            for (int h = h0; h < h1; h++)
                for (int w = w0; w < w1; w++) {
                    float v = xs[h * p.W + w];
                    if (bi < 0 || v > best) {
                        best = v;
                        bi = h * p.W + w;
                    }
                }
            y[i] = best;
            arg[i] = bi;
        } else {
            float s = 0.0f;
            for (int h = h0; h < h1; h++)
                for (int w = w0; w < w1; w++)
                    s += xs[h * p.W + w];
            int n = (h1 - h0) * (w1 - w0);
            y[i] = h1 > h0 && w1 > w0 ? __fdiv_rn(s, (float)n) : 0.0f;
        }
    }
}

/* One thread per input pixel: the windows covering it, in (oh, ow) order. */
template <int KIND>
__global__ void k_pool_back(float *__restrict__ dx, const float *__restrict__ gy,
                            const int32_t *__restrict__ arg, pool_geom p)
{
    int64_t total = p.planes * p.H * p.W;
    ML_GRID_STRIDE(i, total)
    {
        int w = (int)(i % p.W);
        int64_t t = i / p.W;
        int h = (int)(t % p.H);
        int64_t pl = t / p.H;
        int64_t gbase = pl * p.OH * p.OW;
        int here = h * p.W + w;
        /* oh with oh*sh <= h < oh*sh + kh */
        int oh0 = h - p.kh + 1 > 0 ? (h - p.kh + 1 + p.sh - 1) / p.sh : 0, oh1 = min(h / p.sh, p.OH - 1);
        int ow0 = w - p.kw + 1 > 0 ? (w - p.kw + 1 + p.sw - 1) / p.sw : 0, ow1 = min(w / p.sw, p.OW - 1);
        float s = 0.0f;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) {
                int64_t k = gbase + oh * p.OW + ow;
                if (KIND == ML_POOL_MAX) {
                    if (arg[k] == here)
                        s += gy[k];
                } else {
                    int hh0 = oh * p.sh, hh1 = min(hh0 + p.kh, p.H);
                    int ww0 = ow * p.sw, ww1 = min(ww0 + p.kw, p.W);
                    s += __fdiv_rn(gy[k], (float)((hh1 - hh0) * (ww1 - ww0)));
                }
            }
        dx[i] = s;
    }
}

ml_status ml_cuda_pool(const ml_kernel_args *a)
{
    pool_geom p;
    ML_TRY(pool_geom_init(a, &p));
    int64_t total = p.planes * p.OH * p.OW;
    if (total == 0)
        return ML_OK;
    float *y = ml_cuda_f32(&a->out);
    const float *x = ml_cuda_f32(&a->in[0]);
    unsigned blocks = ml_cuda_blocks(total);
    if (p.kind == ML_POOL_MAX)
        k_pool<ML_POOL_MAX><<<blocks, ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(y, (int32_t *)a->aux, x, p);
    else
        k_pool<ML_POOL_MEAN><<<blocks, ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(y, NULL, x, p);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

ml_status ml_cuda_pool_back(const ml_kernel_args *a)
{
    pool_geom p;
    ML_TRY(pool_geom_init(a, &p));
    int64_t total = p.planes * p.H * p.W;
    if (total == 0)
        return ML_OK;
    float *dx = ml_cuda_f32(&a->out);
    const float *gy = ml_cuda_f32(&a->in[0]);
    unsigned blocks = ml_cuda_blocks(total);
    if (p.kind == ML_POOL_MAX)
        k_pool_back<ML_POOL_MAX><<<blocks, ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(dx, gy, (const int32_t *)a->aux, p);
    else
        k_pool_back<ML_POOL_MEAN><<<blocks, ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(dx, gy, NULL, p);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}
