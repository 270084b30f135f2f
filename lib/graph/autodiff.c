/* Reverse-mode differentiation as a graph rewrite: each op's rule adds the
 * nodes that compute its inputs' gradients from its output's gradient. */
#include <string.h>

#include "core/alloc.h"
#include "graph/graph_impl.h"

/* A node of `like`'s shape computing a backward op. */
static ml_node *back_op(ml_graph *g, ml_op op, const ml_node *like, int n_in, ml_node *const *in,
                        const ml_op_params *p, const ml_node *saved)
{
    for (int i = 0; i < n_in; i++)
        if (!in[i])
            return NULL;
    ml_node *n = graph_add_node(g, op, ML_F32, like->ndim, like->shape, n_in, in);
    if (n) {
        if (p)
            n->p = *p;
        n->saved = saved;
    }
    return n;
}

/* Sums a broadcast gradient back to the shape of the operand it came from. */
static ml_node *sum_to(ml_graph *g, ml_node *grad, const ml_node *operand)
{
    if (!grad)
        return NULL;
    if (ml_shape_equal(grad->ndim, grad->shape, operand->ndim, operand->shape))
        return grad;
    return back_op(g, ML_OP_SUM_TO, operand, 1, &grad, NULL, NULL);
}

/* The gradient contributions of node n (output gradient gn) to its inputs.
 * Writes one node or NULL (no gradient) per input into d[]; returns ML_OK or an error. */
static ml_status backward_rule(ml_graph *g, ml_node *n, ml_node *gn, ml_node **d)
{
    ml_node **x = n->in;
    ml_op_params p = n->p;
    int ta = n->p.ip[0], tb = n->p.ip[1];
    unsigned no_grad = 0; /* inputs that get no gradient by design */
    switch (n->op) {
    case ML_OP_MATMUL:
        if (!ta && !tb) {
            d[0] = ml_matmul(g, gn, x[1], 0, 1);
            d[1] = ml_matmul(g, x[0], gn, 1, 0);
        } else if (ta && !tb) {
            d[0] = ml_matmul(g, x[1], gn, 0, 1);
            d[1] = ml_matmul(g, x[0], gn, 0, 0);
        } else if (!ta && tb) {
            d[0] = ml_matmul(g, gn, x[1], 0, 0);
            d[1] = ml_matmul(g, gn, x[0], 1, 0);
        } else {
            d[0] = ml_matmul(g, x[1], gn, 1, 1);
            d[1] = ml_matmul(g, gn, x[0], 1, 1);
        }
        break;
    case ML_OP_ADD:
        d[0] = sum_to(g, gn, x[0]);
        d[1] = sum_to(g, gn, x[1]);
        break;
    case ML_OP_SUB:
        d[0] = sum_to(g, gn, x[0]);
        d[1] = ml_neg(g, sum_to(g, gn, x[1]));
        break;
    case ML_OP_MUL:
        d[0] = sum_to(g, ml_mul(g, gn, x[1]), x[0]);
        d[1] = sum_to(g, ml_mul(g, gn, x[0]), x[1]);
        break;
    case ML_OP_DIV:
        d[0] = sum_to(g, ml_div(g, gn, x[1]), x[0]);
        d[1] = ml_neg(g, sum_to(g, ml_mul(g, gn, ml_div(g, n, x[1])), x[1]));
        break;
    case ML_OP_AFFINE_SCALAR:
        d[0] = n->n_in == 2 ? ml_scale_by(g, gn, x[1], p.fp[0]) : ml_scale(g, gn, p.fp[0]);
        break;
    case ML_OP_UNARY:
        d[0] = back_op(g, ML_OP_UNARY_BACK, x[0], 3, (ml_node *[]){gn, x[0], n}, &p, NULL);
        break;
    case ML_OP_SOFTMAX:
        d[0] = back_op(g, ML_OP_SOFTMAX_BACK, x[0], 2, (ml_node *[]){gn, n}, NULL, NULL);
        break;
    case ML_OP_LOG_SOFTMAX:
        d[0] = back_op(g, ML_OP_LOG_SOFTMAX_BACK, x[0], 2, (ml_node *[]){gn, n}, NULL, NULL);
        break;
    case ML_OP_SUM:
    case ML_OP_MEAN:
        p.ip[1] = n->op == ML_OP_MEAN;
        d[0] = back_op(g, ML_OP_EXPAND, x[0], 1, &gn, &p, NULL);
        break;
    case ML_OP_EXPAND:
        d[0] = (p.ip[1] ? ml_mean : ml_sum)(g, gn, p.ip[0]);
        break;
    case ML_OP_SUM_TO:
        d[0] = ml_add(g, ml_const(g, 0.0f, x[0]->ndim, x[0]->shape), gn);
        break;
    case ML_OP_MAX:
        d[0] = back_op(g, ML_OP_MAX_BACK, x[0], 1, &gn, &p, n);
        break;
    case ML_OP_COPY:
        d[0] = ml_reshape(g, gn, x[0]->ndim, x[0]->shape);
        break;
    case ML_OP_TRANSPOSE: {
        int inverse[ML_MAX_DIMS];
        for (int i = 0; i < n->ndim; i++)
            inverse[p.ip[i]] = i;
        d[0] = ml_transpose(g, gn, inverse);
        break;
    }
    case ML_OP_CONCAT: {
        int64_t start = 0;
        for (int i = 0; i < n->n_in; i++) {
            d[i] = ml_slice(g, gn, p.ip[0], start, x[i]->shape[p.ip[0]]);
            start += x[i]->shape[p.ip[0]];
        }
        break;
    }
    case ML_OP_SLICE: {
        int axis = p.ip[0];
        int64_t before = p.ip[1], after = x[0]->shape[axis] - before - n->shape[axis];
        ml_node *parts[3];
        int k = 0;
        int64_t shape[ML_MAX_DIMS];
        memcpy(shape, n->shape, sizeof shape);
        if (before > 0) {
            shape[axis] = before;
            parts[k++] = ml_const(g, 0.0f, n->ndim, shape);
        }
        parts[k++] = gn;
        if (after > 0) {
            shape[axis] = after;
            parts[k++] = ml_const(g, 0.0f, n->ndim, shape);
        }
        d[0] = k == 1 ? gn : ml_concat(g, k, parts, axis);
        break;
    }
    case ML_OP_CLIP:
        d[0] = back_op(g, ML_OP_CLIP_BACK, x[0], 2, (ml_node *[]){gn, x[0]}, &p, NULL);
        break;
    case ML_OP_DROPOUT:
        d[0] = back_op(g, ML_OP_DROPOUT_BACK, x[0], 1, &gn, &p, n);
        break;
    case ML_OP_CONV2D:
        d[0] = back_op(g, ML_OP_CONV2D_BACK_INPUT, x[0], 2, (ml_node *[]){gn, x[1]}, &p, NULL);
        d[1] = back_op(g, ML_OP_CONV2D_BACK_WEIGHT, x[1], 2, (ml_node *[]){x[0], gn}, &p, NULL);
        break;
    case ML_OP_POOL:
        d[0] = back_op(g, ML_OP_POOL_BACK, x[0], 2, (ml_node *[]){gn, x[0]}, &p, n);
        break;
    case ML_OP_NLL_LOGSOFTMAX:
        d[0] = back_op(g, ML_OP_NLL_LOGSOFTMAX_BACK, x[0], 2, (ml_node *[]){gn, x[1]}, NULL, n);
        no_grad = 1 << 1; /* labels are indices */
        break;
    case ML_OP_BCE_LOGITS:
    {
        d[0] = back_op(g, ML_OP_BCE_LOGITS_BACK, x[0], 3, (ml_node *[]){gn, x[0], x[1]}, NULL, NULL);
        /* d/dt = -z g / B: g spread as a mean over all elements is g / (B * row), so times row. */
        int64_t row = 1;
        for (int i = 1; i < x[0]->ndim; i++)
            row *= x[0]->shape[i];
        ml_op_params mean_all = {{ML_ALL_AXES, 1}, {0}};
        ml_node *spread = back_op(g, ML_OP_EXPAND, x[0], 1, &gn, &mean_all, NULL);
        d[1] = ml_scale(g, ml_mul(g, x[0], spread), -(float)row);
        break;
    }
    case ML_OP_SQUARED_ERROR:
        d[0] = back_op(g, ML_OP_SQUARED_ERROR_BACK, x[0], 3, (ml_node *[]){gn, x[0], x[1]}, NULL, NULL);
        d[1] = ml_neg(g, d[0]);
        break;
    case ML_OP_MISCLASS:
    case ML_OP_ARGMAX:
        no_grad = ~0; /* piecewise constant: no gradient flows */
        break;
    default: {
        char desc[160];
        return ml_error(ML_EINVAL, "grad: %s has no gradient rule",
                        ml_node_describe(n, desc, sizeof desc));
    }
    }
    if (n->op == ML_OP_AFFINE_SCALAR)
        no_grad |= 1 << 1; /* the SCALAR factor is a hyperparameter */
    for (int i = 0; i < n->n_in; i++) {
        if (d[i] || (no_grad >> i & 1))
            continue;
        char desc[160];
        /* A builder failed: its message says why (shape or memory). */
        return ml_error_prefix(ML_ESHAPE, "grad of %s: ", ml_node_describe(n, desc, sizeof desc));
    }
    return ML_OK;
}

ml_status ml_grad(ml_graph *g, ml_node *cost, int n, ml_node *const *wrt, ml_node **grads)
{
    if (!cost)
        return ml_error(ML_EINVAL, "grad: no cost");
    if (cost->ndim != 0 || cost->dtype != ML_F32) {
        char d[160];
        return ml_error(ML_ESHAPE, "grad: the cost %s is not a float32 scalar",
                        ml_node_describe(cost, d, sizeof d));
    }
    int n_nodes = cost->id + 1;
    /* on_path[i]: node i depends on some wrt node and the cost depends on node i. */
    char *depends = ml_calloc((size_t)n_nodes, 1);
    char *needed = ml_calloc((size_t)n_nodes, 1);
    ml_node **grad_of = ml_calloc((size_t)n_nodes, sizeof *grad_of);
    ml_status status = ML_OK;
    if (!depends || !needed || !grad_of) {
        status = ML_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (!wrt[i]) {
            status = ml_error(ML_EINVAL, "grad: variable %d is NULL", i);
            goto done;
        }
        if (wrt[i]->id < n_nodes)
            depends[wrt[i]->id] = 1;
    }
    for (int id = 0; id < n_nodes; id++) {
        ml_node *node = g->nodes[id];
        for (int k = 0; k < node->n_in && !depends[id]; k++)
            if (node->in[k]->id < n_nodes && depends[node->in[k]->id])
                depends[id] = 1;
    }
    needed[cost->id] = depends[cost->id];
    for (int id = n_nodes - 1; id >= 0; id--) {
        if (!needed[id])
            continue;
        ml_node *node = g->nodes[id];
        for (int k = 0; k < node->n_in; k++)
            if (depends[node->in[k]->id])
                needed[node->in[k]->id] = 1;
    }
    grad_of[cost->id] = ml_const(g, 1.0f, 0, NULL);
    if (!grad_of[cost->id]) {
        status = ML_ENOMEM;
        goto done;
    }
    for (int id = n_nodes - 1; id >= 0; id--) {
        ml_node *node = g->nodes[id];
        if (!needed[id] || !grad_of[id] || node->n_in == 0)
            continue;
        ml_node *d[ML_MAX_INPUTS] = {0};
        ml_error_clear();
        status = backward_rule(g, node, grad_of[id], d);
        if (status != ML_OK)
            goto done;
        for (int k = 0; k < node->n_in; k++) {
            int src = node->in[k]->id;
            if (!d[k] || !needed[src])
                continue;
            /* A variable used twice gets the sum of both contributions. */
            grad_of[src] = grad_of[src] ? ml_add(g, grad_of[src], d[k]) : d[k];
            if (!grad_of[src]) {
                status = ML_ENOMEM;
                goto done;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        ml_node *gi = wrt[i]->id < n_nodes ? grad_of[wrt[i]->id] : NULL;
        grads[i] = gi ? gi : ml_const(g, 0.0f, wrt[i]->ndim, wrt[i]->shape);
        if (!grads[i]) {
            status = ML_ENOMEM;
            goto done;
        }
    }
done:
    ml_free(depends);
    ml_free(needed);
    ml_free(grad_of);
    return status;
}
