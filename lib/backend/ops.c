#include "backend/ops.h"

static const char *const op_names[ML_OP_COUNT] = {
    [ML_OP_INPUT] = "input",
    [ML_OP_SHARED] = "shared",
    [ML_OP_SCALAR] = "scalar",
    [ML_OP_CONST] = "const",
    [ML_OP_MATMUL] = "matmul",
    [ML_OP_ADD] = "add",
    [ML_OP_SUB] = "sub",
    [ML_OP_MUL] = "mul",
    [ML_OP_DIV] = "div",
    [ML_OP_AFFINE_SCALAR] = "affine_scalar",
    [ML_OP_UNARY] = "unary",
    [ML_OP_UNARY_BACK] = "unary_back",
    [ML_OP_SOFTMAX] = "softmax",
    [ML_OP_LOG_SOFTMAX] = "log_softmax",
    [ML_OP_SOFTMAX_BACK] = "softmax_back",
    [ML_OP_LOG_SOFTMAX_BACK] = "log_softmax_back",
    [ML_OP_SUM] = "sum",
    [ML_OP_MEAN] = "mean",
    [ML_OP_EXPAND] = "expand",
    [ML_OP_SUM_TO] = "sum_to",
    [ML_OP_MAX] = "max",
    [ML_OP_MAX_BACK] = "max_back",
    [ML_OP_ARGMAX] = "argmax",
    [ML_OP_TRANSPOSE] = "transpose",
    [ML_OP_CONCAT] = "concat",
    [ML_OP_SLICE] = "slice",
    [ML_OP_COPY] = "copy",
    [ML_OP_CLIP] = "clip",
    [ML_OP_CLIP_BACK] = "clip_back",
    [ML_OP_DROPOUT] = "dropout",
    [ML_OP_DROPOUT_BACK] = "dropout_back",
    [ML_OP_CONV2D] = "conv2d",
    [ML_OP_CONV2D_BACK_INPUT] = "conv2d_back_input",
    [ML_OP_CONV2D_BACK_WEIGHT] = "conv2d_back_weight",
    [ML_OP_POOL] = "pool",
    [ML_OP_POOL_BACK] = "pool_back",
    [ML_OP_NLL_LOGSOFTMAX] = "nll_logsoftmax",
    [ML_OP_NLL_LOGSOFTMAX_BACK] = "nll_logsoftmax_back",
    [ML_OP_BCE_LOGITS] = "bce_logits",
    [ML_OP_BCE_LOGITS_BACK] = "bce_logits_back",
    [ML_OP_SQUARED_ERROR] = "squared_error",
    [ML_OP_SQUARED_ERROR_BACK] = "squared_error_back",
    [ML_OP_MISCLASS] = "misclass",
    [ML_OP_MOMENTUM_STEP] = "momentum_step",
    [ML_OP_MOMENTUM_MATMUL_STEP] = "momentum_matmul_step",
    [ML_OP_MAX_NORM] = "max_norm",
    [ML_OP_GATHER_ROWS] = "gather_rows",
    [ML_OP_NONFINITE_WATCH] = "nonfinite_watch",
};

static const char *const unary_names[ML_UNARY_COUNT] = {
    [ML_UNARY_NEG] = "neg",         [ML_UNARY_EXP] = "exp",
    [ML_UNARY_LOG] = "log",         [ML_UNARY_SQRT] = "sqrt",
    [ML_UNARY_SQUARE] = "square",   [ML_UNARY_ABS] = "abs",
    [ML_UNARY_RELU] = "relu",       [ML_UNARY_SIGMOID] = "sigmoid",
    [ML_UNARY_TANH] = "tanh",       [ML_UNARY_SOFTPLUS] = "softplus",
    [ML_UNARY_ELU] = "elu",
};

const char *ml_op_name(ml_op op)
{
    if ((int)op < 0 || op >= ML_OP_COUNT || !op_names[op])
        return "unknown-op";
    return op_names[op];
}

const char *ml_unary_name(ml_unary_kind f)
{
    if ((int)f < 0 || f >= ML_UNARY_COUNT || !unary_names[f])
        return "unknown-unary";
    return unary_names[f];
}

size_t ml_op_aux_bytes(const ml_kernel_args *a)
{
    switch (a->op) {
    case ML_OP_MAX:
        return (size_t)ml_tensor_numel(&a->out) * sizeof(int32_t);
    case ML_OP_DROPOUT:
        return (size_t)ml_tensor_numel(&a->out) * sizeof(uint8_t);
    case ML_OP_POOL:
        return a->p.ip[0] == ML_POOL_MAX ? (size_t)ml_tensor_numel(&a->out) * sizeof(int32_t) : 0;
    case ML_OP_NLL_LOGSOFTMAX:
        return a->n_in > 0 ? (size_t)ml_tensor_numel(&a->in[0]) * sizeof(float) : 0;
    default:
        return 0;
    }
}
