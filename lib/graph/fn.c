/* Compiled functions: pick the nodes the outputs need, order them, plan one
 * buffer per intermediate for the largest batch (reusing a buffer once its
 * last reader has run), then run batches with no allocation. */
#include <string.h>

#include "backend/backend.h"
#include "core/alloc.h"
#include "graph/graph_impl.h"

#define ARENA_ALIGN 64
#define NEVER_FREED 0x7fffffff

typedef struct {
    ml_node *node;
    ml_kernel_fn kernel; /* NULL for a reshape, which only aliases its operand */
    ml_kernel_args args;
    int n_scalars;
    const float *scalar_src[2];
} fn_step;

typedef struct {
    size_t offset, size;
} block;

struct ml_fn {
    ml_graph *graph;
    const ml_backend *backend;
    ml_device device;
    int n_nodes;
    ml_tensor *t;          /* per node: its tensor for this call */
    signed char *batch_axis;
    size_t *aux_offset;    /* per node, (size_t)-1 if none */
    int n_steps;
    fn_step *steps;
    int n_inputs;
    int *input_ids;
    int n_outputs;
    int *output_ids;
    ml_tensor *outputs;
    int n_updates;
    int (*update_ids)[2];  /* var, value */
    int n_shared;
    int *shared_ids;
    int n_consts;
    ml_tensor **consts;
    ml_storage storage;    /* the arena: intermediates, then aux state, then workspace */
    size_t arena_bytes, workspace_offset, workspace_bytes;
    int64_t max_batch;
    int64_t batch;         /* of the previous call (shapes are updated when it changes) */
    ml_rng rng;
};

static size_t align_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

static size_t node_bytes(const ml_fn *fn, int id)
{
    size_t bytes = align_up((size_t)ml_shape_numel(fn->t[id].ndim, fn->t[id].shape) * 4);
    return bytes ? bytes : ARENA_ALIGN;
}

static int is_leaf(const ml_node *n)
{
    return n->op == ML_OP_INPUT || n->op == ML_OP_SHARED || n->op == ML_OP_SCALAR ||
           n->op == ML_OP_CONST;
}

static int is_alias(const ml_node *n)
{
    return n->op == ML_OP_COPY;
}

/* Free blocks of the arena, sorted by offset, merged when adjacent. */
typedef struct {
    block *free;
    int n_free;
    size_t top;
} planner;

static size_t planner_take(planner *pl, size_t size)
{
    int best = -1;
    for (int i = 0; i < pl->n_free; i++)
        if (pl->free[i].size >= size && (best < 0 || pl->free[i].size < pl->free[best].size))
            best = i;
    if (best >= 0) {
        size_t offset = pl->free[best].offset;
        pl->free[best].offset += size;
        pl->free[best].size -= size;
        if (pl->free[best].size == 0) {
            memmove(pl->free + best, pl->free + best + 1, (size_t)(pl->n_free - best - 1) * sizeof(block));
            pl->n_free--;
        }
        return offset;
    }
    /* Grow the arena, starting inside a free block that ends at its top. */
    if (pl->n_free > 0 && pl->free[pl->n_free - 1].offset + pl->free[pl->n_free - 1].size == pl->top) {
        size_t offset = pl->free[--pl->n_free].offset;
        pl->top = offset + size;
        return offset;
    }
    size_t offset = pl->top;
    pl->top += size;
    return offset;
}

static void planner_give(planner *pl, size_t offset, size_t size)
{
    int i = 0;
    while (i < pl->n_free && pl->free[i].offset < offset)
        i++;
    memmove(pl->free + i + 1, pl->free + i, (size_t)(pl->n_free - i) * sizeof(block));
    pl->free[i] = (block){offset, size};
    pl->n_free++;
    if (i + 1 < pl->n_free && pl->free[i].offset + pl->free[i].size == pl->free[i + 1].offset) {
        pl->free[i].size += pl->free[i + 1].size;
        memmove(pl->free + i + 1, pl->free + i + 2, (size_t)(pl->n_free - i - 2) * sizeof(block));
        pl->n_free--;
    }
    if (i > 0 && pl->free[i - 1].offset + pl->free[i - 1].size == pl->free[i].offset) {
        pl->free[i - 1].size += pl->free[i].size;
        memmove(pl->free + i, pl->free + i + 1, (size_t)(pl->n_free - i - 1) * sizeof(block));
        pl->n_free--;
    }
}

static void set_runtime_shapes(ml_fn *fn, int64_t batch)
{
    for (int id = 0; id < fn->n_nodes; id++)
        if (fn->batch_axis[id] >= 0)
            fn->t[id].shape[fn->batch_axis[id]] = batch;
    fn->batch = batch;
}

/* Points every step's arguments at this call's tensors. */
static void bind_step(ml_fn *fn, fn_step *s)
{
    const ml_node *n = s->node;
    if (!graph_is_effect(n))
        s->args.out = fn->t[n->id];
    for (int k = 0; k < n->n_in; k++)
        s->args.in[k] = fn->t[n->in[k]->id];
}

void ml_fn_free(ml_fn *fn)
{
    if (!fn)
        return;
    if (fn->storage.data)
        ml_device_memory_get(fn->device)->free(fn->storage.data);
    for (int i = 0; i < fn->n_consts; i++)
        ml_tensor_free(fn->consts[i]);
    ml_free(fn->consts);
    ml_free(fn->t);
    ml_free(fn->batch_axis);
    ml_free(fn->aux_offset);
    ml_free(fn->steps);
    ml_free(fn->input_ids);
    ml_free(fn->output_ids);
    ml_free(fn->outputs);
    ml_free(fn->update_ids);
    ml_free(fn->shared_ids);
    ml_free(fn);
}

static ml_status make_const(ml_fn *fn, const ml_node *n)
{
    int64_t shape[ML_MAX_DIMS];
    memcpy(shape, n->shape, sizeof shape);
    if (fn->batch_axis[n->id] >= 0)
        shape[fn->batch_axis[n->id]] = fn->max_batch;
    ml_tensor *host = ml_tensor_new(ML_F32, n->ndim, shape, ML_CPU);
    if (!host)
        return ML_ENOMEM;
    ml_tensor_fill(host, n->p.fp[0]);
    ml_tensor *c = fn->device == ML_CPU ? host : ml_tensor_to(host, fn->device);
    if (c != host)
        ml_tensor_free(host);
    if (!c)
        return ML_EDEVICE;
    fn->consts[fn->n_consts++] = c;
    fn->t[n->id] = *c;
    return ML_OK;
}

static int root_of(const ml_graph *g, int id)
{
    while (is_alias(g->nodes[id]))
        id = g->nodes[id]->in[0]->id;
    return id;
}

ml_status ml_fn_compile(ml_graph *g, const ml_fn_spec *spec, ml_fn **out)
{
    *out = NULL;
    if (spec->max_batch < 1)
        return ml_error(ML_EINVAL, "compile: the largest batch must be at least 1");
    const ml_backend *backend = ml_backend_get(spec->device);
    if (!backend)
        return ML_EDEVICE;
    int n_nodes = g->n_nodes;
    ml_status status = ML_ENOMEM;
    char desc[160];
    char *included = ml_calloc((size_t)n_nodes + 1, 1);
    char *is_effect = ml_calloc((size_t)n_nodes + 1, 1);
    int *last_use = ml_malloc(((size_t)n_nodes + 1) * sizeof *last_use);
    size_t *offset = ml_malloc(((size_t)n_nodes + 1) * sizeof *offset);
    int *order = ml_malloc(((size_t)n_nodes + 1) * sizeof *order);
    planner pl = {ml_malloc(((size_t)n_nodes + 1) * sizeof(block)), 0, 0};
    ml_fn *fn = ml_calloc(1, sizeof *fn);
    if (!included || !is_effect || !last_use || !offset || !order || !pl.free || !fn)
        goto fail;
    fn->graph = g;
    fn->backend = backend;
    fn->device = spec->device;
    fn->n_nodes = n_nodes;
    fn->max_batch = spec->max_batch;
    ml_rng_seed(&fn->rng, spec->seed);
    fn->t = ml_calloc((size_t)n_nodes + 1, sizeof *fn->t);
    fn->batch_axis = ml_malloc((size_t)n_nodes + 1);
    fn->aux_offset = ml_malloc(((size_t)n_nodes + 1) * sizeof *fn->aux_offset);
    fn->consts = ml_calloc((size_t)n_nodes + 1, sizeof *fn->consts);
    fn->input_ids = ml_malloc(((size_t)spec->n_inputs + 1) * sizeof(int));
    fn->output_ids = ml_malloc(((size_t)spec->n_outputs + 1) * sizeof(int));
    fn->outputs = ml_calloc((size_t)spec->n_outputs + 1, sizeof(ml_tensor));
    fn->update_ids = ml_malloc(((size_t)spec->n_updates + 1) * sizeof *fn->update_ids);
    fn->shared_ids = ml_malloc(((size_t)n_nodes + 1) * sizeof(int));
    if (!fn->t || !fn->batch_axis || !fn->aux_offset || !fn->consts || !fn->input_ids ||
        !fn->output_ids || !fn->outputs || !fn->update_ids || !fn->shared_ids)
        goto fail;

    /* What the outputs, updates and effects need, following saved-state links too. */
    for (int i = 0; i < spec->n_outputs; i++) {
        if (!spec->outputs[i] || spec->outputs[i]->graph != g) {
            status = ml_error(ML_EINVAL, "compile: output %d is not a node of this graph", i);
            goto fail;
        }
        included[spec->outputs[i]->id] = 1;
        fn->output_ids[i] = spec->outputs[i]->id;
    }
    fn->n_outputs = spec->n_outputs;
    for (int i = 0; i < spec->n_updates; i++) {
        const ml_update *u = &spec->updates[i];
        if (!u->var || !u->value || u->var->op != ML_OP_SHARED) {
            status = ml_error(ML_EINVAL, "compile: update %d does not assign a shared variable", i);
            goto fail;
        }
        if (!ml_shape_equal(u->var->ndim, u->var->shape, u->value->ndim, u->value->shape) ||
            u->var->dtype != u->value->dtype) {
            char d2[160];
            status = ml_error(ML_ESHAPE, "compile: update of %s by %s: shapes differ",
                              ml_node_describe(u->var, desc, sizeof desc),
                              ml_node_describe(u->value, d2, sizeof d2));
            goto fail;
        }
        included[u->value->id] = 1;
        fn->update_ids[i][0] = u->var->id;
        fn->update_ids[i][1] = u->value->id;
    }
    fn->n_updates = spec->n_updates;
    for (int i = 0; i < spec->n_effects; i++) {
        if (!spec->effects[i] || !graph_is_effect(spec->effects[i])) {
            status = ml_error(ML_EINVAL, "compile: effect %d is not a learning-rule step", i);
            goto fail;
        }
        included[spec->effects[i]->id] = 1;
        is_effect[spec->effects[i]->id] = 1;
    }
    for (int id = n_nodes - 1; id >= 0; id--) {
        if (!included[id])
            continue;
        ml_node *n = g->nodes[id];
        for (int k = 0; k < n->n_in; k++)
            included[n->in[k]->id] = 1;
        if (n->saved)
            included[n->saved->id] = 1;
    }
    for (int i = 0; i < spec->n_inputs; i++) {
        if (!spec->inputs[i] || spec->inputs[i]->op != ML_OP_INPUT) {
            status = ml_error(ML_EINVAL, "compile: input %d is not an input node", i);
            goto fail;
        }
        fn->input_ids[i] = spec->inputs[i]->id;
    }
    fn->n_inputs = spec->n_inputs;

    /* Leaves and shapes. */
    for (int id = 0; id < n_nodes; id++) {
        ml_node *n = g->nodes[id];
        fn->batch_axis[id] = (signed char)graph_batch_axis(n);
        fn->aux_offset[id] = (size_t)-1;
        last_use[id] = -1;
        fn->t[id].dtype = n->dtype;
        fn->t[id].ndim = n->ndim;
        fn->t[id].device = spec->device;
        memcpy(fn->t[id].shape, n->shape, sizeof n->shape);
        if (fn->batch_axis[id] >= 0)
            fn->t[id].shape[fn->batch_axis[id]] = spec->max_batch;
        if (!included[id])
            continue;
        if (n->op == ML_OP_INPUT) {
            int given = 0;
            for (int i = 0; i < spec->n_inputs; i++)
                given |= fn->input_ids[i] == id;
            if (!given) {
                status = ml_error(ML_EINVAL, "compile: %s is needed but not among the inputs",
                                  ml_node_describe(n, desc, sizeof desc));
                goto fail;
            }
        } else if (n->op == ML_OP_SHARED) {
            if (n->value->device != spec->device) {
                status = ml_error(ML_EDEVICE, "compile: %s is on %s, the function on %s",
                                  ml_node_describe(n, desc, sizeof desc),
                                  ml_device_name(n->value->device), ml_device_name(spec->device));
                goto fail;
            }
            fn->shared_ids[fn->n_shared++] = id;
            fn->t[id] = *n->value;
        } else if (n->op == ML_OP_CONST) {
            if ((status = make_const(fn, n)) != ML_OK)
                goto fail;
        } else if (n->op != ML_OP_SCALAR && !is_alias(n) && !backend->kernel[n->op]) {
            status = ml_error(ML_EDEVICE, "compile: the %s backend has no kernel for %s", backend->name,
                              ml_node_describe(n, desc, sizeof desc));
            goto fail;
        }
    }

    /* Order: creation order (topological), learning-rule steps last. */
    int n_order = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int id = 0; id < n_nodes; id++)
            if (included[id] && !is_leaf(g->nodes[id]) && is_effect[id] == pass)
                order[n_order++] = id;
    for (int s = 0; s < n_order; s++) {
        ml_node *n = g->nodes[order[s]];
        for (int k = 0; k < n->n_in; k++)
            last_use[root_of(g, n->in[k]->id)] = s;
        int self = root_of(g, order[s]);
        if (last_use[self] < s)
            last_use[self] = s;
    }
    for (int i = 0; i < spec->n_outputs; i++)
        last_use[root_of(g, fn->output_ids[i])] = NEVER_FREED;
    for (int i = 0; i < spec->n_updates; i++)
        last_use[root_of(g, fn->update_ids[i][1])] = NEVER_FREED;

    fn->steps = ml_calloc((size_t)n_order + 1, sizeof *fn->steps);
    if (!fn->steps)
        goto fail;
    size_t aux_total = 0, workspace = 0;
    for (int s = 0; s < n_order; s++) {
        ml_node *n = g->nodes[order[s]];
        fn_step *st = &fn->steps[fn->n_steps++];
        st->node = n;
        if (!is_alias(n) && !graph_is_effect(n)) {
            offset[n->id] = planner_take(&pl, node_bytes(fn, n->id));
        }
        /* Operands read here for the last time give their buffers back. */
        for (int k = 0; k <= n->n_in; k++) {
            int r = root_of(g, k < n->n_in ? n->in[k]->id : n->id);
            ml_node *rn = g->nodes[r];
            if (last_use[r] == s && !is_leaf(rn) && !graph_is_effect(rn)) {
                planner_give(&pl, offset[r], node_bytes(fn, r));
                last_use[r] = -2; /* given back once */
            }
        }
        if (is_alias(n))
            continue;
        st->kernel = backend->kernel[n->op];
        st->args.op = n->op;
        st->args.p = n->p;
        st->args.n_in = n->n_in;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k]->op == ML_OP_SCALAR)
                st->scalar_src[st->n_scalars++] = n->in[k]->scalar;
        bind_step(fn, st); /* shapes only, for the sizes below */
        size_t aux = ml_op_aux_bytes(&st->args);
        if (aux) {
            fn->aux_offset[n->id] = aux_total;
            aux_total += align_up(aux);
        }
        size_t ws = backend->workspace_bytes ? backend->workspace_bytes(&st->args) : 0;
        if (ws > workspace)
            workspace = ws;
    }
    fn->arena_bytes = pl.top;
    fn->workspace_offset = pl.top + aux_total;
    fn->workspace_bytes = workspace;
    size_t total = fn->workspace_offset + workspace;
    const ml_device_memory *memory = ml_device_memory_get(spec->device);
    fn->storage.data = memory->alloc(total ? total : ARENA_ALIGN);
    if (!fn->storage.data) {
        status = ml_error_prefix(ML_ENOMEM, "compile: %zu bytes of buffers: ", total);
        goto fail;
    }
    fn->storage.bytes = total;
    fn->storage.refcount = 1;
    fn->storage.device = spec->device;
    fn->storage.release = NULL; /* the arena is freed by ml_fn_free, not by its tensors */
    for (int s = 0; s < fn->n_steps; s++) {
        ml_node *n = fn->steps[s].node;
        if (!is_alias(n) && !graph_is_effect(n)) {
            fn->t[n->id].storage = &fn->storage;
            fn->t[n->id].offset = offset[n->id];
        }
    }
    for (int s = 0; s < fn->n_steps; s++) {
        fn_step *st = &fn->steps[s];
        const ml_node *n = st->node;
        const ml_node *holder = n->saved ? n->saved : n;
        if (fn->aux_offset[holder->id] != (size_t)-1)
            st->args.aux = (char *)fn->storage.data + fn->arena_bytes + fn->aux_offset[holder->id];
        st->args.workspace = (char *)fn->storage.data + fn->workspace_offset;
        st->args.workspace_bytes = fn->workspace_bytes;
    }
    fn->batch = spec->max_batch;
    status = ML_OK;
    *out = fn;
    fn = NULL;
fail:
    ml_free(included);
    ml_free(is_effect);
    ml_free(last_use);
    ml_free(offset);
    ml_free(order);
    ml_free(pl.free);
    ml_fn_free(fn);
    return status;
}

static ml_status check_input(ml_fn *fn, int i, const ml_tensor *x, int64_t *batch)
{
    int id = fn->input_ids[i];
    const ml_tensor *want = &fn->t[id];
    int axis = fn->batch_axis[id];
    char a[96], b[96];
    int fits = x && x->dtype == want->dtype && x->ndim == want->ndim;
    for (int d = 0; fits && d < x->ndim; d++)
        fits = d == axis ? x->shape[d] <= fn->max_batch : x->shape[d] == want->shape[d];
    if (!fits) {
        int64_t shown[ML_MAX_DIMS];
        memcpy(shown, want->shape, sizeof shown);
        if (axis >= 0)
            shown[axis] = fn->max_batch;
        return ml_error(ML_ESHAPE, "input %d: expected %s %s%s, got %s %s", i,
                        ml_dtype_name(want->dtype), ml_shape_format(want->ndim, shown, a, sizeof a),
                        axis >= 0 ? " (batch at most that)" : "", x ? ml_dtype_name(x->dtype) : "none",
                        x ? ml_shape_format(x->ndim, x->shape, b, sizeof b) : "");
    }
    if (x->device != fn->device)
        return ml_error(ML_EDEVICE, "input %d is on %s, the function on %s", i,
                        ml_device_name(x->device), ml_device_name(fn->device));
    if (axis >= 0) {
        if (*batch >= 0 && x->shape[axis] != *batch)
            return ml_error(ML_ESHAPE, "input %d has a batch of %lld, input before it %lld", i,
                            (long long)x->shape[axis], (long long)*batch);
        *batch = x->shape[axis];
    }
    return ML_OK;
}

ml_status ml_fn_call(ml_fn *fn, ml_tensor *const *inputs)
{
    int64_t batch = -1;
    for (int i = 0; i < fn->n_inputs; i++)
        ML_TRY(check_input(fn, i, inputs[i], &batch));
    if (batch < 0)
        batch = fn->max_batch;
    if (batch != fn->batch)
        set_runtime_shapes(fn, batch);
    for (int i = 0; i < fn->n_inputs; i++) {
        int id = fn->input_ids[i];
        ml_tensor *t = &fn->t[id];
        t->storage = inputs[i]->storage;
        t->offset = inputs[i]->offset;
    }
    for (int i = 0; i < fn->n_shared; i++) {
        int id = fn->shared_ids[i];
        fn->t[id] = *fn->graph->nodes[id]->value;
    }
    for (int s = 0; s < fn->n_steps; s++) {
        fn_step *st = &fn->steps[s];
        const ml_node *n = st->node;
        if (!st->kernel) {
            /* A reshape: the operand's buffer under this node's shape. */
            fn->t[n->id].storage = fn->t[n->in[0]->id].storage;
            fn->t[n->id].offset = fn->t[n->in[0]->id].offset;
            continue;
        }
        bind_step(fn, st);
        for (int k = 0; k < st->n_scalars; k++)
            st->args.scalar[k] = *st->scalar_src[k];
        if (n->op == ML_OP_DROPOUT) {
            uint64_t words = (uint64_t)ml_tensor_numel(&st->args.out);
            ml_rng_claim_blocks(&fn->rng, (words + 3) / 4, st->args.rng_counter);
            st->args.rng_key[0] = fn->rng.key[0];
            st->args.rng_key[1] = fn->rng.key[1];
        }
        ml_status status = st->kernel(&st->args);
        if (status != ML_OK) {
            char desc[160];
            return ml_error_prefix(status, "%s: ", ml_node_describe(n, desc, sizeof desc));
        }
    }
    for (int i = 0; i < fn->n_updates; i++) {
        ml_tensor *var = fn->graph->nodes[fn->update_ids[i][0]]->value;
        ML_TRY(ml_tensor_copy(var, &fn->t[fn->update_ids[i][1]]));
    }
    for (int i = 0; i < fn->n_outputs; i++)
        fn->outputs[i] = fn->t[fn->output_ids[i]];
    return ML_OK;
}

const ml_tensor *ml_fn_output(const ml_fn *fn, int i)
{
    ML_ASSERT(i >= 0 && i < fn->n_outputs);
    return &fn->outputs[i];
}

ml_rng *ml_fn_rng(ml_fn *fn)
{
    return &fn->rng;
}

size_t ml_fn_arena_bytes(const ml_fn *fn)
{
    return fn->storage.bytes;
}
