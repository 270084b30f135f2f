/* Iteration over the examples of a dataset in batches (Pylearn2's
 * SubsetIterator modes), without allocating per batch.
 *
 * Modes:
 *   sequential                     rows 0.., in order, batch after batch
 *   shuffled_sequential            a new permutation of all rows each epoch
 *   random_slice                   each batch a random contiguous slice
 *                                  [s, s+batch_size), s uniform (with replacement
 *                                  between batches; rows may repeat or be missed)
 *   random_uniform                 each batch's rows drawn uniformly with replacement
 *   batchwise_shuffled_sequential  the sequential batches, in a shuffled order
 *
 * sequential, shuffled_sequential and batchwise_shuffled_sequential visit every
 * row exactly once per epoch (unless n_batches caps the epoch or the last
 * partial batch is dropped).  The random modes give n_batches batches, by default
 * ceil(n / batch_size) (floor when the partial batch is dropped), all full size.
 *
 * A batch is either a row range [start, start+count) (contiguous modes) or a
 * list of row indices (index != NULL); the iterator owns the index storage,
 * allocated once at ml_iter_new. */
#ifndef ML_DATA_ITERATOR_H
#define ML_DATA_ITERATOR_H

#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"

typedef enum {
    ML_ITER_SEQUENTIAL,
    ML_ITER_SHUFFLED_SEQUENTIAL,
    ML_ITER_RANDOM_SLICE,
    ML_ITER_RANDOM_UNIFORM,
    ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL,
} ml_iteration_mode;

/* "sequential" ... -> mode; -1 for an unknown name. */
int ml_iteration_mode_parse(const char *name);
const char *ml_iteration_mode_name(ml_iteration_mode mode);
/* Whether the mode needs an index list (rows gathered), not a row range. */
int ml_iteration_mode_gathers(ml_iteration_mode mode);

typedef struct {
    ml_iteration_mode mode;
    int64_t n_examples;
    int64_t batch_size;
    int64_t n_batches;   /* <= 0: the whole epoch (see above) */
    int drop_last;       /* 1: the last partial batch is dropped */
    uint64_t seed;
} ml_iter_opts;

typedef struct {
    int64_t start, count; /* row range, when index is NULL */
    const int32_t *index; /* else count row indices */
} ml_batch;

typedef struct ml_iter ml_iter;

/* An iterator; every epoch continues the random stream from the seed, so the
 * same seed gives the same sequence of epochs. */
ml_status ml_iter_new(const ml_iter_opts *opts, ml_iter **out);
void ml_iter_free(ml_iter *it);
/* Starts an epoch (draws its permutation). */
void ml_iter_begin_epoch(ml_iter *it);
/* The next batch of the epoch: 1 and *b filled, or 0 at the end of the epoch. */
int ml_iter_next(ml_iter *it, ml_batch *b);
/* Batches in one epoch. */
int64_t ml_iter_n_batches(const ml_iter *it);
/* The random stream the orders are drawn from (to save and restore it). */
ml_rng *ml_iter_rng(ml_iter *it);
/* shuffled_sequential: this epoch's order of the rows (n_examples indices, into
 * which every batch's index points); NULL for the other modes. */
const int32_t *ml_iter_order(const ml_iter *it);

#endif
