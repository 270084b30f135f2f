/* Batch gradient descent with line searches and optional Polak-Ribiere
 * conjugate directions (train/bgd.h).  Five compiled functions over one graph
 * of the run's own, all buffers allocated once:
 *   grad     minibatch -> cost; acc = keep acc + w grad   (w: the minibatch's share)
 *   eval     minibatch -> cost
 *   stats    -> per parameter: g.g, g.g_prev, g.d         (g = acc)
 *   dir      d = beta d - g
 *   go       p = p0 + alpha d  (then max-norm constraints, when a layer has them)
 * p0 and g_prev are copies (ml_tensor_copy), so nothing touches raw device
 * memory and the same code runs on every device. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "core/alloc.h"
#include "train/bgd.h"

#define MAX_EXPAND 30     /* doublings of alpha while the objective falls */
#define MAX_SHRINK 40     /* halvings of alpha before a search gives up */
#define MAX_REFINE 8      /* golden-section evaluations of an exhaustive search */
#define REFINE_TOL 0.02   /* ... until the bracket is this fraction of alpha */
#define ARMIJO_C 1e-4     /* sufficient decrease of a backtracking search */
#define GOLDEN 0.3819660112501051

static const char *const line_search_names[] = {"exhaustive", "backtracking"};

int ml_line_search_mode_parse(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(name, line_search_names[i]) == 0)
            return i;
    return -1;
}

const char *ml_line_search_mode_name(ml_line_search_mode mode)
{
    return (unsigned)mode < 2 ? line_search_names[mode] : "?";
}

void ml_bgd_init(ml_bgd *bgd)
{
    memset(bgd, 0, sizeof *bgd);
    ml_sgd_init(&bgd->base);
    bgd->base.seed = 20121016; /* Pylearn2's BGD default [2012, 10, 16] */
    bgd->batches_per_iter = 1;
    bgd->updates_per_batch = 10;
    bgd->reset_conjugate = 1;
    bgd->reset_alpha = 1;
    bgd->line_search = ML_LINE_SEARCH_EXHAUSTIVE;
    bgd->init_alpha = 0.01f;
}

struct ml_bgd_run {
    ml_bgd cfg;
    ml_model *m;
    const ml_dataset *data;
    int n_params;
    ml_graph *g;
    ml_fn *grad_fn, *eval_fn, *stats_fn, *dir_fn, *go_fn, *constrain_fn;
    ml_tensor **acc, **prev, **dir, **p0; /* n_params each */
    float keep, weight, beta, alpha_arg;  /* scalars read at every call */
    ml_iter *iter;
    ml_batch *group;                      /* the batches of the current group */
    int64_t n_group, group_rows;
    ml_tensor *batch_x, *batch_y;         /* gathered rows of a shuffled batch */
    ml_tensor *order;                     /* the epoch's order of the rows, on the device (shuffled) */
    const int32_t *gathered;              /* the index list now in batch_x (skip re-gathering) */
    int64_t gathered_count;
    double alpha;                         /* carried step */
    double at;                            /* the alpha the parameters are at now */
    int have_prev;                        /* g_prev and d hold a previous update's */
    double prev_gg;
    ml_bgd_stats stats;
    /* Where the epoch is, for a saved state: the order's random state at its
     * start, the groups done, whether one is under way; and the groups a
     * resumed run passes over at its first epoch. */
    uint32_t epoch_rng[ML_RNG_STATE_WORDS];
    int64_t groups_done, skip_groups;
    int in_epoch;
};

const ml_bgd_stats *ml_bgd_run_stats(const ml_bgd_run *r)
{
    return &r->stats;
}

void ml_bgd_run_free(ml_bgd_run *r)
{
    if (!r)
        return;
    ml_fn_free(r->grad_fn);
    ml_fn_free(r->eval_fn);
    ml_fn_free(r->stats_fn);
    ml_fn_free(r->dir_fn);
    ml_fn_free(r->go_fn);
    ml_fn_free(r->constrain_fn);
    ml_graph_free(r->g);
    ml_tensor **bufs[4] = {r->acc, r->prev, r->dir, r->p0};
    for (int k = 0; k < 4; k++) {
        for (int i = 0; bufs[k] && i < r->n_params; i++)
            ml_tensor_free(bufs[k][i]);
        ml_free(bufs[k]);
    }
    ml_iter_free(r->iter);
    ml_free(r->group);
    ml_tensor_free(r->batch_x);
    ml_tensor_free(r->batch_y);
    ml_tensor_free(r->order);
    ml_free(r);
}

static ml_status build(ml_bgd_run *r, ml_device device)
{
    ml_model *m = r->m;
    const ml_sgd *base = &r->cfg.base;
    ml_graph *g = r->g = ml_graph_new();
    if (!g)
        return ML_ENOMEM;
    ML_TRY(ml_model_bind(m, g));
    const ml_dataset *d = r->data;
    int classification = ml_model_n_classes(m) > 0;
    ml_node *x = ml_input(g, "X", ML_F32, 2, (int64_t[]){ML_BATCH, ml_dataset_n_features(d)});
    ml_node *y = classification && d->y->dtype == ML_I32 ? ml_input(g, "y", ML_I32, 1, (int64_t[]){ML_BATCH})
                                : ml_input(g, "y", ML_F32, 2, (int64_t[]){ML_BATCH, d->y->shape[1]});
    ml_node *output = ml_model_fprop(m, g, x, NULL);
    if (!output)
        return ML_ESHAPE;
    ml_cost default_cost = {.kind = ML_COST_DEFAULT};
    ml_node *cost = ml_cost_build(base->cost ? base->cost : &default_cost, m, g, x, y, output);
    if (!cost)
        return ML_EINVAL;
    int n = r->n_params;
    ml_node **params = ml_calloc((size_t)n * 5 + 1, sizeof *params);
    ml_update *updates = ml_calloc((size_t)n + 1, sizeof *updates);
    ml_node **stats = ml_calloc((size_t)n * 3 + 1, sizeof *stats);
    ml_status st = params && updates && stats ? ML_OK : ML_ENOMEM;
    ml_node **grads = params + n, **effects = params + 2 * n;
    ml_node **acc = params + 3 * n, **dirs = params + 4 * n;
    int n_effects = 0;
    for (int i = 0; st == ML_OK && i < n; i++)
        params[i] = ml_model_param(m, i).node;
    if (st == ML_OK)
        st = ml_grad(g, cost, n, params, grads);
    ml_node *keep = ml_scalar(g, "keep", &r->keep), *weight = ml_scalar(g, "weight", &r->weight);
    ml_node *beta = ml_scalar(g, "beta", &r->beta), *alpha = ml_scalar(g, "alpha", &r->alpha_arg);
    ml_node *inputs[2] = {x, y};
    /* grad: acc = keep acc + weight grad */
    for (int i = 0; st == ML_OK && i < n; i++) {
        acc[i] = ml_shared(g, "grad_acc", r->acc[i]);
        dirs[i] = ml_shared(g, "direction", r->dir[i]);
        updates[i].var = acc[i];
        updates[i].value = ml_add(g, ml_scale_by(g, acc[i], keep, 1.0f), ml_scale_by(g, grads[i], weight, 1.0f));
        if (!updates[i].value)
            st = ML_ENOMEM;
    }
    if (st == ML_OK) {
        ml_fn_spec spec = {.n_inputs = 2, .inputs = inputs, .n_outputs = 1, .outputs = &cost, .n_updates = n,
                           .updates = updates, .max_batch = base->batch_size, .device = device, .seed = base->seed};
        st = ml_fn_compile(g, &spec, &r->grad_fn);
    }
    if (st == ML_OK) {
        ml_fn_spec spec = {.n_inputs = 2, .inputs = inputs, .n_outputs = 1, .outputs = &cost,
                           .max_batch = base->batch_size, .device = device, .seed = base->seed + 1};
        st = ml_fn_compile(g, &spec, &r->eval_fn);
    }
    /* stats: g.g, g.g_prev, g.d per parameter */
    for (int i = 0; st == ML_OK && i < n; i++) {
        ml_node *prev = ml_shared(g, "grad_prev", r->prev[i]);
        stats[3 * i] = ml_sum(g, ml_mul(g, acc[i], acc[i]), ML_ALL_AXES);
        stats[3 * i + 1] = ml_sum(g, ml_mul(g, acc[i], prev), ML_ALL_AXES);
        stats[3 * i + 2] = ml_sum(g, ml_mul(g, acc[i], dirs[i]), ML_ALL_AXES);
        if (!stats[3 * i] || !stats[3 * i + 1] || !stats[3 * i + 2])
            st = ML_ENOMEM;
    }
    if (st == ML_OK) {
        ml_fn_spec spec = {.n_outputs = 3 * n, .outputs = stats, .max_batch = 1, .device = device};
        st = ml_fn_compile(g, &spec, &r->stats_fn);
    }
    /* dir: d = beta d - g */
    for (int i = 0; st == ML_OK && i < n; i++) {
        updates[i].var = dirs[i];
        updates[i].value = ml_sub(g, ml_scale_by(g, dirs[i], beta, 1.0f), acc[i]);
        if (!updates[i].value)
            st = ML_ENOMEM;
    }
    if (st == ML_OK) {
        ml_fn_spec spec = {.n_updates = n, .updates = updates, .max_batch = 1, .device = device};
        st = ml_fn_compile(g, &spec, &r->dir_fn);
    }
    /* go: p = p0 + alpha d, then the constraints */
    for (int i = 0; st == ML_OK && i < n; i++) {
        ml_param p = ml_model_param(m, i);
        updates[i].var = p.node;
        updates[i].value = ml_add(g, ml_shared(g, "start", r->p0[i]), ml_scale_by(g, dirs[i], alpha, 1.0f));
        if (!updates[i].value)
            st = ML_ENOMEM;
        if (st == ML_OK && p.max_norm > 0)
            effects[n_effects++] = ml_max_norm(g, p.node, p.max_norm, p.norm_per_slice);
    }
    if (st == ML_OK) {
        ml_fn_spec spec = {.n_updates = n, .updates = updates, .max_batch = 1, .device = device};
        st = ml_fn_compile(g, &spec, &r->go_fn);
    }
    if (st == ML_OK && n_effects > 0) {
        ml_fn_spec spec = {.n_effects = n_effects, .effects = effects, .max_batch = 1, .device = device};
        st = ml_fn_compile(g, &spec, &r->constrain_fn);
    }
    ml_free(params);
    ml_free(updates);
    ml_free(stats);
    return st;
}

ml_status ml_bgd_run_new(const ml_bgd *cfg, ml_model *model, const ml_dataset *data, ml_device device,
                         ml_bgd_run **out)
{
    *out = NULL;
    const ml_sgd *base = &cfg->base;
    if (base->batch_size < 1)
        return ml_error(ML_EINVAL, "BGD: batch_size must be at least 1");
    if (cfg->batches_per_iter < 1)
        return ml_error(ML_EINVAL, "BGD: batches_per_iter must be at least 1");
    if (cfg->updates_per_batch < 1)
        return ml_error(ML_EINVAL, "BGD: updates_per_batch must be at least 1");
    if (!(cfg->init_alpha > 0) || !isfinite(cfg->init_alpha))
        return ml_error(ML_EINVAL, "BGD: init_alpha must be positive");
    if (base->iteration != ML_ITER_SEQUENTIAL && base->iteration != ML_ITER_SHUFFLED_SEQUENTIAL &&
        base->iteration != ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL)
        return ml_error(ML_EINVAL, "BGD: train_iteration_mode %s does not visit each example once an epoch",
                        ml_iteration_mode_name(base->iteration));
    ml_bgd_run *r = ml_calloc(1, sizeof *r);
    if (!r)
        return ML_ENOMEM;
    r->cfg = *cfg;
    r->m = model;
    r->data = data;
    r->n_params = ml_model_n_params(model);
    r->alpha = cfg->init_alpha;
    int n = r->n_params;
    ml_status st = ML_OK;
    ml_tensor ***bufs[4] = {&r->acc, &r->prev, &r->dir, &r->p0};
    for (int k = 0; st == ML_OK && k < 4; k++) {
        if (!(*bufs[k] = ml_calloc((size_t)n + 1, sizeof **bufs[k])))
            st = ML_ENOMEM;
        for (int i = 0; st == ML_OK && i < n; i++) {
            const ml_tensor *v = ml_model_param(model, i).value;
            if (!((*bufs[k])[i] = ml_tensor_new(ML_F32, v->ndim, v->shape, device)))
                st = ML_ENOMEM;
        }
    }
    int64_t rows = ml_dataset_n_examples(data);
    ml_iter_opts io = {.mode = base->iteration, .n_examples = rows, .batch_size = base->batch_size,
                       .seed = base->seed};
    if (st == ML_OK)
        st = ml_iter_new(&io, &r->iter);
    if (st == ML_OK && !(r->group = ml_calloc((size_t)cfg->batches_per_iter, sizeof *r->group)))
        st = ML_ENOMEM;
    if (st == ML_OK) {
        const ml_tensor *yt = data->y;
        r->batch_x = ml_tensor_new(ML_F32, 2, (int64_t[]){base->batch_size, ml_dataset_n_features(data)}, device);
        r->batch_y = ml_tensor_new(yt->dtype, yt->ndim, (int64_t[]){base->batch_size, yt->ndim > 1 ? yt->shape[1] : 0},
                                   device);
        if (!r->batch_x || !r->batch_y)
            st = ML_ENOMEM;
    }
    if (st == ML_OK && ml_iteration_mode_gathers(base->iteration) &&
        !(r->order = ml_tensor_new(ML_I32, 1, (int64_t[]){rows}, device)))
        st = ML_ENOMEM;
    if (st == ML_OK)
        st = build(r, device);
    if (st != ML_OK) {
        ml_bgd_run_free(r);
        return st;
    }
    *out = r;
    return ML_OK;
}

/* Points xb/yb at minibatch b of the group (gathering its rows when shuffled). */
static ml_status bind_batch(ml_bgd_run *r, const ml_batch *b, ml_tensor *xb, ml_tensor *yb)
{
    const ml_dataset *d = r->data;
    if (!b->index) {
        ml_tensor_point_rows(xb, d->X, b->start, b->count);
        ml_tensor_point_rows(yb, d->y, b->start, b->count);
        return ML_OK;
    }
    ml_tensor_point_rows(xb, r->batch_x, 0, b->count);
    ml_tensor_point_rows(yb, r->batch_y, 0, b->count);
    if (r->gathered != b->index || r->gathered_count != b->count) {
        /* The batch's indices are a slice of the epoch's order, already on the device. */
        ml_tensor index;
        ml_tensor_point_rows(&index, r->order, b->index - ml_iter_order(r->iter), b->count);
        ML_TRY(ml_gather_rows(xb, d->X, &index));
        ML_TRY(ml_gather_rows(yb, d->y, &index));
        r->gathered = b->index;
        r->gathered_count = b->count;
    }
    return ML_OK;
}

/* The group's objective (the mean cost over its examples) at the current
 * parameters; with accumulate, its gradient into acc too. */
static ml_status group_pass(ml_bgd_run *r, int accumulate, double *objective)
{
    ml_fn *fn = accumulate ? r->grad_fn : r->eval_fn;
    ml_tensor xb, yb;
    ml_tensor *in[2] = {&xb, &yb};
    double sum = 0;
    for (int64_t k = 0; k < r->n_group; k++) {
        const ml_batch *b = &r->group[k];
        ML_TRY(bind_batch(r, b, &xb, &yb));
        r->keep = k == 0 ? 0.0f : 1.0f;
        r->weight = (float)((double)b->count / (double)r->group_rows);
        ML_TRY(ml_fn_call(fn, in));
        float c;
        ML_TRY(ml_tensor_read_f32(ml_fn_output(fn, 0), 0, &c));
        sum += (double)c * (double)b->count;
    }
    *objective = sum / (double)r->group_rows;
    return ML_OK;
}

/* Moves the parameters to p0 + alpha d (and their constraints). */
static ml_status go(ml_bgd_run *r, double alpha)
{
    if (alpha == 0) {
        for (int i = 0; i < r->n_params; i++)
            ML_TRY(ml_tensor_copy(ml_model_param(r->m, i).value, r->p0[i]));
    } else {
        r->alpha_arg = (float)alpha;
        ML_TRY(ml_fn_call(r->go_fn, NULL));
        if (r->constrain_fn)
            ML_TRY(ml_fn_call(r->constrain_fn, NULL));
    }
    r->at = alpha;
    return ML_OK;
}

static ml_status try_alpha(ml_bgd_run *r, double alpha, double *f)
{
    ML_TRY(go(r, alpha));
    ML_TRY(group_pass(r, 0, f));
    r->stats.evaluations++;
    if (isnan(*f))
        *f = INFINITY; /* never accepted */
    return ML_OK;
}

/* A search along d from p0 where the objective is f0 and its slope slope < 0.
 * *found: a step with a strictly lower objective, *alpha and *f; else the
 * parameters are back at p0. */
static ml_status line_search(ml_bgd_run *r, double f0, double slope, int *found, double *alpha, double *f)
{
    *found = 0;
    double a = r->alpha, fa;
    if (r->cfg.line_search == ML_LINE_SEARCH_BACKTRACKING) {
        a *= 2;
        for (int k = 0; k < MAX_SHRINK; k++, a *= 0.5) {
            ML_TRY(try_alpha(r, a, &fa));
            if (fa < f0 && fa <= f0 + ARMIJO_C * a * slope) {
                *found = 1;
                *alpha = a;
                *f = fa;
                return ML_OK;
            }
        }
        return go(r, 0);
    }
    /* exhaustive: bracket [lo, hi] around mid, f(mid) below f(lo) and f(hi) */
    double lo = 0, mid = 0, fmid = f0, hi = 0;
    ML_TRY(try_alpha(r, a, &fa));
    if (fa < f0) {
        mid = a;
        fmid = fa;
        for (int k = 0; k < MAX_EXPAND; k++) {
            double b = 2 * mid, fb;
            ML_TRY(try_alpha(r, b, &fb));
            if (fb < fmid) {
                lo = mid;
                mid = b;
                fmid = fb;
            } else {
                hi = b;
                break;
            }
        }
    } else {
        hi = a;
        int ok = 0;
        for (int k = 0; k < MAX_SHRINK && !ok; k++) {
            double m = hi * 0.5, fm;
            ML_TRY(try_alpha(r, m, &fm));
            if (fm < f0) {
                mid = m;
                fmid = fm;
                ok = 1;
            } else {
                hi = m;
            }
        }
        if (!ok)
            return go(r, 0);
    }
    for (int k = 0; hi > 0 && k < MAX_REFINE && hi - lo > REFINE_TOL * mid; k++) {
        int right = hi - mid > mid - lo;
        double x = right ? mid + GOLDEN * (hi - mid) : mid - GOLDEN * (mid - lo), fx;
        ML_TRY(try_alpha(r, x, &fx));
        if (fx < fmid) {
            if (right)
                lo = mid;
            else
                hi = mid;
            mid = x;
            fmid = fx;
        } else if (right) {
            hi = x;
        } else {
            lo = x;
        }
    }
    if (r->at != mid)
        ML_TRY(go(r, mid));
    *found = 1;
    *alpha = mid;
    *f = fmid;
    return ML_OK;
}

/* updates_per_batch updates on the current group. */
static ml_status minimize_group(ml_bgd_run *r, int64_t epoch, int64_t group)
{
    int n = r->n_params;
    if (r->cfg.reset_alpha)
        r->alpha = r->cfg.init_alpha;
    if (r->cfg.reset_conjugate)
        r->have_prev = 0;
    double f0 = 0;
    int fresh = 0; /* acc holds the gradient at the current parameters, f0 their objective */
    for (int64_t u = 0; u < r->cfg.updates_per_batch; u++) {
        if (!fresh)
            ML_TRY(group_pass(r, 1, &f0));
        fresh = 0;
        if (!isfinite(f0))
            return ml_error(ML_ENUMERIC, "epoch %lld, batch %lld: the objective is %s", (long long)epoch,
                            (long long)group, isnan(f0) ? "NaN" : "infinite");
        if (u == 0)
            r->stats.start_objective = r->stats.objective = f0;
        ML_TRY(ml_fn_call(r->stats_fn, NULL));
        double gg = 0, g_prev = 0, g_d = 0;
        for (int i = 0; i < n; i++) {
            float v[3];
            for (int k = 0; k < 3; k++)
                ML_TRY(ml_tensor_read_f32(ml_fn_output(r->stats_fn, 3 * i + k), 0, &v[k]));
            gg += v[0];
            g_prev += v[1];
            g_d += v[2];
        }
        if (!(gg > 0))
            break; /* a stationary point: nothing to search along */
        /* Polak-Ribiere, restarted (beta 0) when negative or not a descent direction. */
        double beta = 0;
        if (r->cfg.conjugate && r->have_prev && r->prev_gg > 0) {
            beta = (gg - g_prev) / r->prev_gg;
            if (!(beta > 0) || !(-gg + beta * g_d < 0))
                beta = 0;
        }
        double slope = -gg + beta * g_d;
        r->beta = (float)beta;
        ML_TRY(ml_fn_call(r->dir_fn, NULL));
        for (int i = 0; i < n; i++) {
            ML_TRY(ml_tensor_copy(r->prev[i], r->acc[i]));
            ML_TRY(ml_tensor_copy(r->p0[i], ml_model_param(r->m, i).value));
        }
        r->prev_gg = gg;
        r->have_prev = 1;
        r->at = 0;
        int found;
        double alpha = 0, f = f0;
        ML_TRY(line_search(r, f0, slope, &found, &alpha, &f));
        r->stats.line_searches++;
        if (!found) {
            r->stats.failed_searches++;
            r->have_prev = 0; /* restart from steepest descent */
            if (beta == 0)
                break; /* not even the gradient lowers the objective at float precision */
            fresh = 1;    /* back at p0: same gradient */
            continue;
        }
        r->alpha = alpha;
        r->stats.alpha = alpha;
        r->stats.objective = f;
    }
    return ML_OK;
}

ml_status ml_bgd_epoch(ml_bgd_run *r, int64_t epoch, volatile sig_atomic_t *stop, int64_t *batches,
                       int64_t *examples)
{
    ml_rng_get_state(ml_iter_rng(r->iter), r->epoch_rng);
    ml_iter_begin_epoch(r->iter);
    r->gathered = NULL; /* a new permutation */
    if (r->order) { /* sent to the data's device once an epoch */
        int64_t n = r->order->shape[0];
        ml_tensor *host = ml_tensor_wrap(ML_I32, 1, &n, (void *)ml_iter_order(r->iter));
        ml_status st = host ? ml_tensor_copy(r->order, host) : ML_ENOMEM;
        ml_tensor_free(host);
        ML_TRY(st);
    }
    r->in_epoch = 1;
    int64_t skip = r->skip_groups; /* done before the state was saved */
    r->skip_groups = 0;
    for (r->groups_done = 0;;) {
        r->n_group = r->group_rows = 0;
        while (r->n_group < r->cfg.batches_per_iter && ml_iter_next(r->iter, &r->group[r->n_group])) {
            r->group_rows += r->group[r->n_group].count;
            r->n_group++;
        }
        if (r->n_group == 0 || r->group_rows == 0) {
            if (r->groups_done < skip)
                return ml_error(ML_EFORMAT, "BGD: the saved position (%lld groups done) is past the end of epoch %lld",
                                (long long)skip, (long long)epoch);
            break;
        }
        if (r->groups_done < skip) {
            r->groups_done++;
            continue;
        }
        ML_TRY(minimize_group(r, epoch, r->groups_done + 1));
        r->groups_done++;
        *batches += r->n_group;
        *examples += r->group_rows;
        if (stop && *stop)
            return ML_EINTR;
        if (r->n_group < r->cfg.batches_per_iter)
            break;
    }
    r->in_epoch = 0;
    r->groups_done = 0;
    return ML_OK;
}

/* ---- the state of a run (ml-files(5), /train_state/bgd) ---- */

/* group/name/<layer>/<param> for parameter i. */
ml_status ml_bgd_write_state(const ml_bgd_run *r, ml_h5_file *f, const char *group)
{
    char path[512];
    ML_TRY(ml_h5_create_group(f, group));
    ML_TRY(ml_h5_attr_write_f64(f, group, "alpha", r->alpha));
    ML_TRY(ml_h5_attr_write_i64(f, group, "have_prev", r->have_prev));
    ML_TRY(ml_h5_attr_write_f64(f, group, "prev_gg", r->prev_gg));
    /* Between epochs the order's state is already that of the next epoch's start. */
    uint32_t words[ML_RNG_STATE_WORDS];
    if (r->in_epoch)
        memcpy(words, r->epoch_rng, sizeof words);
    else
        ml_rng_get_state(ml_iter_rng(r->iter), words);
    snprintf(path, sizeof path, "%s/order_rng", group);
    ML_TRY(ml_h5_write_rng_state(f, path, words));
    ML_TRY(ml_h5_attr_write_i64(f, group, "epoch_groups_done", r->in_epoch ? r->groups_done : 0));
    ml_fn *fns[2] = {r->grad_fn, r->eval_fn};
    const char *fn_names[2] = {"grad_rng", "eval_rng"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", group, fn_names[k]);
        ML_TRY(ml_h5_write_rng(f, path, ml_fn_rng(fns[k])));
    }
    const ml_bgd_stats *st = &r->stats;
    ML_TRY(ml_h5_attr_write_i64(f, group, "line_searches", st->line_searches));
    ML_TRY(ml_h5_attr_write_i64(f, group, "failed_searches", st->failed_searches));
    ML_TRY(ml_h5_attr_write_i64(f, group, "evaluations", st->evaluations));
    ML_TRY(ml_h5_attr_write_f64(f, group, "start_objective", st->start_objective));
    ML_TRY(ml_h5_attr_write_f64(f, group, "objective", st->objective));
    ML_TRY(ml_h5_attr_write_f64(f, group, "last_alpha", st->alpha));
    snprintf(path, sizeof path, "%s/prev", group);
    ML_TRY(ml_model_write_param_set(r->m, f, path, r->prev));
    snprintf(path, sizeof path, "%s/dir", group);
    ML_TRY(ml_model_write_param_set(r->m, f, path, r->dir));
    return ML_OK;
}

ml_status ml_bgd_read_state(ml_bgd_run *r, ml_h5_file *f, const char *group)
{
    const char *name = ml_h5_file_name(f);
    if (ml_h5_exists(f, group) != ML_H5_GROUP)
        return ml_error(ML_EFORMAT, "%s:%s: not found: the file was not trained with BGD", name, group);
    char path[512];
    int64_t have_prev = 0, groups_done = 0;
    double alpha = 0;
    ML_TRY(ml_h5_attr_read_f64(f, group, "alpha", &alpha));
    if (!(alpha > 0) || !isfinite(alpha))
        return ml_error(ML_EFORMAT, "%s:%s: alpha %g is not a positive step", name, group, alpha);
    ML_TRY(ml_h5_attr_read_i64(f, group, "have_prev", &have_prev));
    ML_TRY(ml_h5_attr_read_f64(f, group, "prev_gg", &r->prev_gg));
    ML_TRY(ml_h5_attr_read_i64(f, group, "epoch_groups_done", &groups_done));
    if (groups_done < 0)
        return ml_error(ML_EFORMAT, "%s:%s: epoch_groups_done is negative", name, group);
    snprintf(path, sizeof path, "%s/order_rng", group);
    ML_TRY(ml_h5_read_rng(f, path, ml_iter_rng(r->iter)));
    ml_fn *fns[2] = {r->grad_fn, r->eval_fn};
    const char *fn_names[2] = {"grad_rng", "eval_rng"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", group, fn_names[k]);
        ML_TRY(ml_h5_read_rng(f, path, ml_fn_rng(fns[k])));
    }
    ml_bgd_stats *st = &r->stats;
    ML_TRY(ml_h5_attr_read_i64(f, group, "line_searches", &st->line_searches));
    ML_TRY(ml_h5_attr_read_i64(f, group, "failed_searches", &st->failed_searches));
    ML_TRY(ml_h5_attr_read_i64(f, group, "evaluations", &st->evaluations));
    ML_TRY(ml_h5_attr_read_f64(f, group, "start_objective", &st->start_objective));
    ML_TRY(ml_h5_attr_read_f64(f, group, "objective", &st->objective));
    ML_TRY(ml_h5_attr_read_f64(f, group, "last_alpha", &st->alpha));
    snprintf(path, sizeof path, "%s/prev", group);
    ML_TRY(ml_model_read_param_set(r->m, f, path, r->prev));
    snprintf(path, sizeof path, "%s/dir", group);
    ML_TRY(ml_model_read_param_set(r->m, f, path, r->dir));
    r->alpha = alpha;
    r->have_prev = have_prev != 0;
    r->skip_groups = groups_done;
    r->groups_done = 0;
    r->in_epoch = 0;
    return ML_OK;
}
