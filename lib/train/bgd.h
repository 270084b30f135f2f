/* Batch gradient descent with line searches: Pylearn2's BGD
 * (pylearn2.training_algorithms.bgd with optimization.batch_gradient_descent).
 *
 * A "batch" of BGD is a group of batches_per_iter minibatches of batch_size
 * examples; its objective is the mean cost over the group's examples and its
 * gradient the matching mean, accumulated minibatch by minibatch into buffers
 * allocated once, so a group may be far larger than one compiled function's
 * largest batch (with batch_size * batches_per_iter >= the examples, it is
 * true batch gradient descent).  Each group gets updates_per_batch updates:
 * the gradient g at the current point, a direction d (-g, or with conjugate a
 * Polak-Ribiere direction -g + beta d with beta = max(0, g.(g - g_prev) /
 * g_prev.g_prev), restarted from -g when beta <= 0, when d is not a descent
 * direction, or when a search fails), then a line search along d from the
 * current parameters p0: p = p0 + alpha d.  A search only accepts a step whose
 * objective is strictly lower; when it finds none the parameters go back to
 * p0, so no update ever raises the objective.
 *
 * Line searches (line_search_mode):
 *   exhaustive    bracket a minimum along d starting at the carried alpha
 *                 (doubling while the objective falls, halving until it
 *                 falls below the start), then narrow the bracket by golden
 *                 sections to 2% of alpha or 8 more evaluations; takes the
 *                 lowest point seen (the default, Pylearn2's name)
 *   backtracking  Armijo: try twice the carried alpha, halve until the
 *                 objective falls by at least 1e-4 alpha |g.d|
 * alpha is carried from update to update; reset_alpha starts every group
 * again from init_alpha.
 *
 * An epoch is one pass of the groups over the training data, in the order of
 * the iteration mode (Pylearn2 always shuffles; shuffled rows are gathered on
 * the data's device from the epoch's order, sent there once an epoch).
 * Everything runs through compiled graph functions (ml_fn), ml_tensor_copy and
 * the GATHER_ROWS kernel, so it runs on any device. */
#ifndef ML_TRAIN_BGD_H
#define ML_TRAIN_BGD_H

#include <signal.h>

#include "io/h5.h"
#include "train/train.h"

typedef enum { ML_LINE_SEARCH_EXHAUSTIVE, ML_LINE_SEARCH_BACKTRACKING } ml_line_search_mode;

/* "exhaustive", "backtracking" -> mode; -1 for an unknown name. */
int ml_line_search_mode_parse(const char *name);
const char *ml_line_search_mode_name(ml_line_search_mode mode);

struct ml_bgd {
    /* What BGD shares with SGD: batch_size, monitor, monitoring_batch_size,
     * monitoring_batches, cost, termination, iteration, seed.  learning_rate
     * and the learning rule are not used. */
    ml_sgd base;
    int64_t batches_per_iter;   /* minibatches whose gradients make one batch (1) */
    int64_t updates_per_batch;  /* line searches per batch (10) */
    int conjugate;              /* Polak-Ribiere directions (0: steepest descent) */
    int reset_conjugate;        /* restart from steepest descent at every batch (1) */
    int reset_alpha;            /* every batch starts its first search at init_alpha (1) */
    ml_line_search_mode line_search;
    float init_alpha;           /* the first step tried, a multiple of the direction (0.01) */
};

/* Pylearn2's defaults (seed 2012-10-16, shuffled_sequential); batch_size is left 0. */
void ml_bgd_init(ml_bgd *bgd);

/* What a run has done so far. */
typedef struct {
    int64_t line_searches;   /* updates tried */
    int64_t failed_searches; /* of which found no lower objective (no move) */
    int64_t evaluations;     /* objective evaluations of a whole batch in line searches */
    double start_objective;  /* of the latest batch, before its first update */
    double objective;        /* of the latest batch, after its latest update */
    double alpha;            /* the latest accepted step (the carried alpha) */
} ml_bgd_stats;

typedef struct ml_bgd_run ml_bgd_run;

/* Compiles the functions and allocates every buffer once for training model
 * (its parameters already on device) on data (rows on device, borrowed: it
 * must outlive the run).  The model is bound to a graph of the run's own. */
ml_status ml_bgd_run_new(const ml_bgd *cfg, ml_model *model, const ml_dataset *data, ml_device device,
                         ml_bgd_run **out);
/* One epoch (epoch counts from 1, for messages): every group of the data,
 * updates_per_batch updates each.  Adds the minibatches and examples read to
 * *batches and *examples.  ML_EINTR when *stop was set (after a group). */
ml_status ml_bgd_epoch(ml_bgd_run *run, int64_t epoch, volatile sig_atomic_t *stop, int64_t *batches,
                       int64_t *examples);
const ml_bgd_stats *ml_bgd_run_stats(const ml_bgd_run *run);
void ml_bgd_run_free(ml_bgd_run *run);

/* Everything a run needs to go on exactly (ml-files(5), /train_state/bgd),
 * into group (created) of f: the carried alpha, the previous gradient and the
 * direction with their Polak-Ribiere state, the stats, the random state of the
 * order at the start of the current epoch (or of the next, between epochs)
 * with the groups of that epoch already done, and the dropout streams.
 * Reading it into a new run (from ml_bgd_run_new, same experiment) makes its
 * next ml_bgd_epoch pass over the groups done and go on as the saved run
 * would have; a state that does not fit is an error naming the file and
 * dataset. */
ml_status ml_bgd_write_state(const ml_bgd_run *run, ml_h5_file *f, const char *group);
ml_status ml_bgd_read_state(ml_bgd_run *run, ml_h5_file *f, const char *group);

#endif
