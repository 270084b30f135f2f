/* ml_feed: the batches of one dataset for training or monitoring, in the
 * order of an iterator (data/iterator.h), without allocating per batch.
 *
 * In memory, a contiguous batch is a view of the dataset's rows and a
 * gathered one is copied into a batch buffer.  A streamed dataset (its X left
 * in its file, data/dataset.h) is read by a background thread into a ring of
 * batch buffers a few batches ahead, through its own handle on the file, so
 * training runs while the next batches are read.  For a device the ring is
 * page-locked host memory and each batch goes to the device through an
 * ml_uploader (tensor/tensor.h): two device buffers in turn, filled on a copy
 * stream while the previous batch computes.
 *
 * Streamed batches are those of the in-memory dataset, row for row, for the
 * modes that read contiguous rows (sequential, batchwise_shuffled_sequential,
 * random_slice).  The modes that gather rows from anywhere would read the file
 * at random; streamed, they work on windows of consecutive rows instead:
 *   shuffled_sequential  windows visited in a random order, the rows of each
 *                        window shuffled; every row still once per epoch
 *   random_uniform       each batch drawn uniformly from the current window
 * so their batches differ from the in-memory ones (same seed, other order).
 *
 * Values read from a streamed file are checked as they arrive: a NaN or Inf
 * is an error naming the file, row and column (unless allowed). */
#ifndef ML_DATA_FEED_H
#define ML_DATA_FEED_H

#include "data/dataset.h"
#include "data/iterator.h"

/* Where a feed is: the random state its order was drawn from at the start of
 * the current epoch (or of the next, between epochs) and the batches of that
 * epoch already delivered.  A feed created with this position delivers the
 * same batches from there as the feed it was taken from would have: training
 * state saved mid-epoch resumes exactly. */
typedef struct {
    uint32_t rng[ML_RNG_STATE_WORDS];
    int64_t batch;
} ml_feed_position;

typedef struct {
    const ml_feed_position *resume; /* NULL: from the seed */
    ml_iter_opts iter;    /* n_examples is taken from the dataset */
    ml_device device;     /* where the batches go; the dataset must be there when in memory */
    int64_t window_rows;  /* streamed gathering modes: rows shuffled together (0: about 64 MiB) */
    int depth;            /* streamed: batches read ahead (0: 4) */
    int allow_nonfinite;  /* streamed: accept NaN and Inf */
} ml_feed_opts;

typedef struct ml_feed ml_feed;

ml_status ml_feed_new(const ml_dataset *d, const ml_feed_opts *opts, ml_feed **out);
/* Stops the reading thread, if any, and frees everything. */
void ml_feed_free(ml_feed *f);
/* Starts an epoch; a batch from an earlier ml_feed_next is released. */
ml_status ml_feed_begin_epoch(ml_feed *f);
/* The next batch: *x and *y (NULL when the dataset has no targets) hold its rows
 * until the next call.  *more is 0 at the end of the epoch.  A read error of the
 * streaming thread is returned here. */
ml_status ml_feed_next(ml_feed *f, ml_tensor **x, ml_tensor **y, int *more);
/* Batches in one epoch. */
int64_t ml_feed_n_batches(const ml_feed *f);
/* The position of the next batch (see above). */
void ml_feed_position_get(const ml_feed *f, ml_feed_position *p);
/* Whether batches are read from the file by a thread. */
int ml_feed_is_streamed(const ml_feed *f);

#endif
