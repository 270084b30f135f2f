/* The operations every backend implements, and how a kernel is called.
 *
 * The graph layer (above) builds expressions of these ops and plans buffers;
 * a backend (cpu, cuda) supplies one kernel per op.  A kernel receives the
 * shapes of this call (the batch size may vary from call to call), device
 * pointers for its output and inputs, and the op's parameters.  Kernels never
 * allocate: scratch memory comes in `workspace` and per-node saved state
 * (argmax indices, dropout masks, softmax probabilities) in `aux`.
 *
 * Shapes are row-major, outermost first.  "rows" below means the product of
 * all dimensions but the last, "cols" the last dimension. */
#ifndef ML_BACKEND_OPS_H
#define ML_BACKEND_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tensor/tensor.h"

#define ML_MAX_INPUTS 16
#define ML_ALL_AXES 127 /* reduction over every axis, giving a scalar */

typedef enum {
    /* Leaves: no kernel. */
    ML_OP_INPUT,    /* data given at each call */
    ML_OP_SHARED,   /* a persistent tensor (parameter, learning-rule slot) */
    ML_OP_SCALAR,   /* a float held on the host (learning rate): a kernel argument, not data */
    ML_OP_CONST,    /* every element = fp[0] */

    /* out[M,N] = op(A) op(B); ip[0]: transpose A, ip[1]: transpose B. in: A, B (2-D). */
    ML_OP_MATMUL,

    /* Elementwise with NumPy broadcasting of in[0] and in[1] to out's shape
     * (dimensions aligned at the end; a dimension of 1, or a missing leading
     * one, is repeated). */
    ML_OP_ADD,
    ML_OP_SUB,
    ML_OP_MUL,
    ML_OP_DIV,

    /* out = in[0] * (fp[0] * s) + fp[1], where s is the SCALAR input's value
     * (scalar[0]) when the node has a second input, else 1. */
    ML_OP_AFFINE_SCALAR,

    /* out = f(in[0]) with f = ip[0], one of ml_unary_kind. fp[0]: ELU's alpha. */
    ML_OP_UNARY,
    /* out = in[0] * f'(.) for f = ip[0]; in[1] = f's input x, in[2] = f's output y
     * (kernels use whichever is cheaper; both are given). */
    ML_OP_UNARY_BACK,

    /* Over the last axis. */
    ML_OP_SOFTMAX,
    ML_OP_LOG_SOFTMAX,
    ML_OP_SOFTMAX_BACK,     /* in: g, y=softmax(x):     out = y * (g - sum(g*y)) */
    ML_OP_LOG_SOFTMAX_BACK, /* in: g, y=log_softmax(x): out = g - exp(y) * sum(g) */

    /* Reductions over axis ip[0] (or ML_ALL_AXES), the axis removed from the shape. */
    ML_OP_SUM,
    ML_OP_MEAN,
    /* Inverse of a reduction: out has in[0]'s shape with axis ip[0] (or all axes)
     * inserted; every element along it is in[0]'s value, divided by the axis
     * length (or element count) when ip[1] is 1 (MEAN's gradient). */
    ML_OP_EXPAND,
    /* Sums in[0] down to out's shape: the gradient of a broadcast (out's shape
     * is in[0]'s with leading dimensions removed and/or some dimensions 1). */
    ML_OP_SUM_TO,
    /* Maximum over axis ip[0]; aux: int32 argmax per output element. */
    ML_OP_MAX,
    /* in: g (max's output shape); aux: the MAX node's argmax. out: max's input shape,
     * g at the argmax, 0 elsewhere. */
    ML_OP_MAX_BACK,
    /* int32 index of the maximum over the last axis; out has in's shape minus it. */
    ML_OP_ARGMAX,

    /* Copies with new layout. */
    ML_OP_TRANSPOSE, /* axes permuted: out dimension i is in dimension ip[i] */
    ML_OP_CONCAT,    /* along axis ip[0], all inputs */
    ML_OP_SLICE,     /* along axis ip[0]: elements [ip[1], ip[1] + out's length) */
    ML_OP_COPY,      /* same elements, out's shape (reshape materialised) */

    /* out = min(max(in, fp[0]), fp[1]). */
    ML_OP_CLIP,
    /* in: g, x; out = g where fp[0] < x < fp[1], else 0. */
    ML_OP_CLIP_BACK,

    /* out = in * mask * fp[1], mask[i] = (u_i < fp[0]) with u_i the uniform
     * float of Philox word (i % 4) at counter rng_counter + i / 4 under rng_key.
     * aux: the mask as one uint8 per element, for the gradient. */
    ML_OP_DROPOUT,
    /* in: g; aux: the DROPOUT node's mask; out = g * mask * fp[1]. */
    ML_OP_DROPOUT_BACK,

    /* in: x [B, C, H, W], w [O, C, KH, KW]; out [B, O, OH, OW] with
     * OH = (H + 2*pad_h - KH) / stride_h + 1.  ip: stride_h, stride_w, pad_h, pad_w.
     * A cross-correlation, as in every framework. */
    ML_OP_CONV2D,
    ML_OP_CONV2D_BACK_INPUT,  /* in: g [B,O,OH,OW], w; out: x's shape [B,C,H,W] */
    ML_OP_CONV2D_BACK_WEIGHT, /* in: x, g;           out: w's shape [O,C,KH,KW] */

    /* Pooling over the last two axes of [B, C, H, W].  ip: kind (ml_pool_kind), size_h,
     * size_w, stride_h, stride_w, and ip[5] = 1 to keep a partial window at the
     * border (OH = ceil((H - size_h) / stride_h) + 1, Pylearn2's max_pool_c01b) or 0
     * to drop it (OH = (H - size_h) / stride_h + 1).  Mean pooling divides by the
     * number of elements inside the image.  MAX keeps the int32 argmax (index into
     * H*W) per output element in aux. */
    ML_OP_POOL,
    ML_OP_POOL_BACK, /* in: g, x (the pool's input); aux: the POOL node's argmax */

    /* Losses, each a scalar: mean over the first (batch) axis. */
    /* in: logits [B, K], labels int32 [B]; out = mean(-log_softmax(logits)[label]).
     * aux: softmax probabilities [B, K] for the gradient.  A label outside [0, K)
     * is a caller error, checked before the call. */
    ML_OP_NLL_LOGSOFTMAX,
    /* in: g (scalar), labels; aux: the forward node's probabilities;
     * out [B, K] = (p - onehot(label)) * g / B. */
    ML_OP_NLL_LOGSOFTMAX_BACK,
    /* in: logits z [B, ...], targets t; out = mean over B of the sum over the rest of
     * softplus(z) - z*t, computed without overflow. */
    ML_OP_BCE_LOGITS,
    /* in: g, z, t; out = (sigmoid(z) - t) * g / B. */
    ML_OP_BCE_LOGITS_BACK,
    /* in: a, b; out = mean over B of the sum over the rest of (a - b)^2. */
    ML_OP_SQUARED_ERROR,
    /* in: g, a, b; out = 2 (a - b) * g / B (the gradient for a; for b negate). */
    ML_OP_SQUARED_ERROR_BACK,
    /* in: scores [B, K], labels int32 [B]; out = fraction of rows whose argmax != label. */
    ML_OP_MISCLASS,

    /* Learning rules: update SHARED tensors in place; no output.
     * in: param, velocity, grad, lr (SCALAR), momentum (SCALAR); fp[0] scales lr
     * (Pylearn2's W_lr_scale).  With lr' = lr * fp[0]:
     * v = mu*v - lr'*g; p += v (ip[0] = 1: Nesterov, p += mu*v - lr'*g). */
    ML_OP_MOMENTUM_STEP,
    /* The same step with the gradient as a matrix product, fused so the gradient
     * is never stored: in: param, velocity, A, B, lr, momentum; ip[0], ip[1]:
     * transpose A, B; fp[0]: lr scale.  v = mu*v - lr' * op(A) op(B) (one GEMM
     * with beta = mu); p += v.  Plain momentum only (not Nesterov). */
    ML_OP_MOMENTUM_MATMUL_STEP,
    /* in: param (SHARED), updated in place: each unit's weight vector is scaled so
     * its L2 norm is at most fp[0] (w *= min(norm, fp[0]) / (1e-7 + norm), Pylearn2's
     * max_col_norm).  ip[0] = 0: units are the columns of a 2-D [in, out] matrix;
     * ip[0] = 1: units are the slices along axis 0 ([O, C, KH, KW] kernels). */
    ML_OP_MAX_NORM,
    /* in: x [N, ...], index int32 [B] with entries in 0..N-1; out [B, ...], rows
     * of as many elements as x's: out[i] = x[index[i]].  The rows of a shuffled batch,
     * gathered on the device that holds the data (data only: no gradient). */
    ML_OP_GATHER_ROWS,
    /* An in-place watch (no value): in: v (its first element is watched), flag
     * (SHARED float32 [2]), a SCALAR batch number.  When flag[0] is 0 and v is
     * not finite: flag[0] = the batch number, flag[1] = 1 for NaN, 2 for an
     * infinity.  A training step on a GPU records a diverging objective so that
     * nothing is read back per batch. */
    ML_OP_NONFINITE_WATCH,

    ML_OP_COUNT
} ml_op;

typedef enum {
    ML_UNARY_NEG,
    ML_UNARY_EXP,
    ML_UNARY_LOG,
    ML_UNARY_SQRT,
    ML_UNARY_SQUARE,
    ML_UNARY_ABS,
    ML_UNARY_RELU,
    ML_UNARY_SIGMOID,
    ML_UNARY_TANH,
    ML_UNARY_SOFTPLUS,
    ML_UNARY_ELU,
    ML_UNARY_COUNT
} ml_unary_kind;

typedef enum { ML_POOL_MAX = 0, ML_POOL_MEAN = 1 } ml_pool_kind;

typedef struct {
    int ip[8];
    float fp[4];
} ml_op_params;

/* One call of one kernel. Shapes are this call's (batch substituted). */
typedef struct {
    ml_op op;
    ml_op_params p;
    ml_tensor out;
    int n_in;
    ml_tensor in[ML_MAX_INPUTS];
    void *aux;      /* state kept from forward to backward (see each op) */
    void *workspace;/* scratch of workspace_bytes(), valid during the call only */
    size_t workspace_bytes;
    float scalar[2];/* values of SCALAR inputs, in input order */
    uint32_t rng_key[2];
    uint32_t rng_counter[4];
} ml_kernel_args;

typedef ml_status (*ml_kernel_fn)(const ml_kernel_args *a);

const char *ml_op_name(ml_op op);
const char *ml_unary_name(ml_unary_kind f);

/* Bytes of aux state an op keeps for its shape (out and inputs filled in). */
size_t ml_op_aux_bytes(const ml_kernel_args *a);

#endif
