#include "data/iterator.h"

#include <string.h>

#include "core/alloc.h"

static const char *const mode_names[] = {"sequential", "shuffled_sequential", "random_slice", "random_uniform",
                                         "batchwise_shuffled_sequential"};

int ml_iteration_mode_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof mode_names / sizeof *mode_names); i++)
        if (strcmp(name, mode_names[i]) == 0)
            return i;
    return -1;
}

const char *ml_iteration_mode_name(ml_iteration_mode mode)
{
    return (unsigned)mode < sizeof mode_names / sizeof *mode_names ? mode_names[mode] : "?";
}

int ml_iteration_mode_gathers(ml_iteration_mode mode)
{
    return mode == ML_ITER_SHUFFLED_SEQUENTIAL || mode == ML_ITER_RANDOM_UNIFORM;
}

struct ml_iter {
    ml_iter_opts o;
    int64_t epoch_batches; /* batches of this epoch */
    int64_t next;          /* batch number within the epoch */
    int32_t *perm;         /* shuffled_sequential: rows; batchwise: batch order; uniform: one batch */
    ml_rng rng;
};

static int64_t full_epoch_batches(const ml_iter_opts *o)
{
    int64_t n = o->n_examples, bs = o->batch_size;
    return o->drop_last ? n / bs : (n + bs - 1) / bs;
}

ml_status ml_iter_new(const ml_iter_opts *opts, ml_iter **out)
{
    if (opts->batch_size < 1 || opts->n_examples < 0 || opts->n_examples > INT32_MAX ||
        ml_iteration_mode_parse(ml_iteration_mode_name(opts->mode)) < 0)
        return ml_error(ML_EINVAL, "iterator: bad mode, batch size or number of examples");
    ml_iter *it = ml_calloc(1, sizeof *it);
    if (!it)
        return ML_ENOMEM;
    it->o = *opts;
    int64_t n_perm = 0;
    switch (opts->mode) {
    case ML_ITER_SHUFFLED_SEQUENTIAL: n_perm = opts->n_examples; break;
    case ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL: n_perm = full_epoch_batches(opts); break;
    case ML_ITER_RANDOM_UNIFORM: n_perm = opts->batch_size; break;
    default: break;
    }
    if (!(it->perm = ml_malloc((size_t)(n_perm + 1) * sizeof *it->perm))) {
        ml_free(it);
        return ML_ENOMEM;
    }
    ml_rng_seed(&it->rng, opts->seed);
    *out = it;
    return ML_OK;
}

void ml_iter_free(ml_iter *it)
{
    if (!it)
        return;
    ml_free(it->perm);
    ml_free(it);
}

int64_t ml_iter_n_batches(const ml_iter *it)
{
    const ml_iter_opts *o = &it->o;
    int64_t full = full_epoch_batches(o);
    int random = o->mode == ML_ITER_RANDOM_SLICE || o->mode == ML_ITER_RANDOM_UNIFORM;
    if (random && o->n_examples < o->batch_size && o->mode == ML_ITER_RANDOM_SLICE)
        return 0; /* no slice of batch_size rows fits */
    if (random && o->n_examples == 0)
        return 0;
    if (o->n_batches > 0)
        return random || o->n_batches < full ? o->n_batches : full;
    return full;
}

ml_rng *ml_iter_rng(ml_iter *it) { return &it->rng; }

const int32_t *ml_iter_order(const ml_iter *it)
{
    return it->o.mode == ML_ITER_SHUFFLED_SEQUENTIAL ? it->perm : NULL;
}

void ml_iter_begin_epoch(ml_iter *it)
{
    it->next = 0;
    it->epoch_batches = ml_iter_n_batches(it);
    if (it->o.mode == ML_ITER_SHUFFLED_SEQUENTIAL)
        ml_rng_permutation(&it->rng, it->perm, it->o.n_examples);
    else if (it->o.mode == ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL)
        ml_rng_permutation(&it->rng, it->perm, full_epoch_batches(&it->o));
}

int ml_iter_next(ml_iter *it, ml_batch *b)
{
    if (it->next >= it->epoch_batches)
        return 0;
    const ml_iter_opts *o = &it->o;
    int64_t k = it->next++, n = o->n_examples, bs = o->batch_size;
    b->index = NULL;
    switch (o->mode) {
    case ML_ITER_SEQUENTIAL:
    case ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL:
        if (o->mode == ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL)
            k = it->perm[k];
        b->start = k * bs;
        b->count = n - b->start < bs ? n - b->start : bs;
        break;
    case ML_ITER_SHUFFLED_SEQUENTIAL:
        b->start = k * bs;
        b->count = n - b->start < bs ? n - b->start : bs;
        b->index = it->perm + b->start;
        b->start = 0;
        break;
    case ML_ITER_RANDOM_SLICE:
        b->start = (int64_t)ml_rng_below(&it->rng, (uint32_t)(n - bs + 1));
        b->count = bs;
        break;
    case ML_ITER_RANDOM_UNIFORM:
        for (int64_t i = 0; i < bs; i++)
            it->perm[i] = (int32_t)ml_rng_below(&it->rng, (uint32_t)n);
        b->start = 0;
        b->count = bs;
        b->index = it->perm;
        break;
    }
    return 1;
}
