/* Training: Pylearn2's Train main loop with the SGD or BGD algorithm, a monitor of
 * named channels, termination criteria and extensions.  The config layer
 * fills these structures from an experiment file; a program runs them. */
#ifndef ML_TRAIN_TRAIN_H
#define ML_TRAIN_TRAIN_H

#include <signal.h>

#include "data/dataset.h"
#include "data/iterator.h"
#include "model/cost.h"
#include "model/model.h"
#include "train/rules.h"

/* ---- the monitor: channels and their records ---- */

#define ML_MONITOR_FIXED_COLUMNS 4 /* epoch, batches, examples, seconds */

typedef struct {
    int n_channels;
    char **channels;
    int64_t n_records, capacity;
    /* Row-major [n_records, 4 + n_channels]: epoch, batches, examples, seconds, values. */
    double *records;
} ml_monitor;

ml_monitor *ml_monitor_new(void);
void ml_monitor_free(ml_monitor *mon);
/* Index of a channel, adding it if new; -1 on allocation failure. */
int ml_monitor_channel(ml_monitor *mon, const char *name);
int ml_monitor_find(const ml_monitor *mon, const char *name); /* -1 if absent */
/* Starts a record; channel values are NaN until set. */
ml_status ml_monitor_begin_record(ml_monitor *mon, int64_t epoch, int64_t batches, int64_t examples,
                                  double seconds);
void ml_monitor_set(ml_monitor *mon, int channel, double value);
double ml_monitor_value(const ml_monitor *mon, int64_t record, int channel);
/* Writes /monitor/<channel> [n, 5] float64 records (epoch, batches, examples, seconds, value). */
ml_status ml_monitor_write(const ml_monitor *mon, ml_h5_file *f);
/* Reads them back (channels as the file lists them). */
ml_status ml_monitor_read(ml_h5_file *f, ml_monitor **out);

/* ---- termination criteria and extensions ---- */

typedef enum {
    ML_TERM_EPOCH_COUNTER,
    ML_TERM_MONITOR_BASED,
    ML_TERM_CHANNEL_TARGET,
    ML_TERM_AND,
    ML_TERM_OR,
} ml_termination_kind;

typedef struct ml_termination ml_termination;
struct ml_termination {
    ml_termination_kind kind;
    int64_t max_epochs;     /* EpochCounter */
    char *channel_name;     /* MonitorBased, ChannelTarget */
    double prop_decrease;   /* MonitorBased */
    int64_t N;              /* MonitorBased: the patience, in epochs */
    double target;          /* ChannelTarget: stop once the channel is <= target */
    int n_criteria;         /* And, Or */
    ml_termination **criteria; /* borrowed */
    double best;            /* state */
    int64_t countdown;
};

/* Whether training goes on after the latest monitor record (Pylearn2's
 * continue_learning).  And goes on while every criterion does, Or while any
 * does; both ask every criterion at every record (no short cut), so the
 * state of each (MonitorBased's countdown) advances the same way inside
 * them as alone. */
ml_status ml_termination_continue(ml_termination *t, const ml_monitor *mon, int64_t epoch, int *go_on);

typedef enum {
    ML_EXT_SAVE_BEST,
    ML_EXT_MOMENTUM_ADJUSTOR,
    ML_EXT_LINEAR_DECAY_OVER_EPOCH,
    ML_EXT_EXPONENTIAL_DECAY,
    ML_EXT_POLYAK_AVERAGING,
} ml_extension_kind;

typedef struct {
    ml_extension_kind kind;
    char *channel_name;     /* MonitorBasedSaveBest */
    char *save_path;
    double best;
    int64_t start, saturate;  /* MomentumAdjustor, LinearDecayOverEpoch; start: PolyakAveraging */
    double final_momentum;    /* MomentumAdjustor */
    double decay_factor;      /* LinearDecayOverEpoch, ExponentialDecay */
    double min_lr;            /* ExponentialDecay */
    /* State, as Pylearn2 keeps it (what an exact resume must save): records (or
     * batches) seen, whether the initial value was taken, that value, the step. */
    int64_t count;
    int initialized;
    double init_value, step;
    int min_reached;
} ml_extension;

/* After each monitor record, as Pylearn2's on_monitor: MomentumAdjustor sets
 * the rule's momentum and LinearDecayOverEpoch its learning rate, for the
 * epoch that follows (the record shows the values the epoch before it used).
 * The other kinds do nothing here (the training loop saves and averages). */
ml_status ml_extension_on_monitor(ml_extension *e, ml_rule *rule);
/* After each batch, as an SGD update callback: ExponentialDecay divides the
 * learning rate by decay_factor, down to min_lr.  Other kinds: nothing. */
void ml_extension_on_batch(ml_extension *e, ml_rule *rule);

/* ---- the algorithm ---- */

typedef struct {
    char *name;
    ml_dataset *data; /* borrowed */
} ml_monitoring_dataset;

typedef struct {
    float learning_rate;
    int64_t batch_size;
    int64_t monitoring_batch_size; /* 0: batch_size */
    int64_t monitoring_batches;    /* > 0: monitor only the first that many batches of each set */
    int n_monitor;
    ml_monitoring_dataset *monitor;
    ml_cost *cost;                 /* borrowed; NULL: the model's default cost */
    ml_termination *termination;   /* borrowed; NULL: train until stopped */
    ml_learning_rule rule;         /* learning_rule (train/rules.h) */
    int n_update_callbacks;        /* update_callbacks: ExponentialDecay, after every batch */
    ml_extension **update_callbacks; /* borrowed */
    ml_iteration_mode iteration;   /* train_iteration_mode (data/iterator.h) */
    uint64_t seed;
} ml_sgd;

/* Pylearn2's defaults (shuffled_sequential, seed 2012-10-5). */
void ml_sgd_init(ml_sgd *sgd);

/* Batch gradient descent with line searches (train/bgd.h). */
typedef struct ml_bgd ml_bgd;

typedef struct {
    ml_dataset *dataset;       /* borrowed */
    ml_model *model;           /* borrowed */
    ml_sgd *algorithm;         /* borrowed; SGD */
    ml_bgd *bgd;               /* borrowed; BGD when set (its base replaces algorithm) */
    char *save_path;           /* NULL: nothing saved */
    int64_t save_freq;         /* epochs between saves; 0: only at the end */
    int allow_overwrite;
    int device_given;          /* the experiment names a device (below) */
    ml_device device;          /* Train's device: cpu or cuda (a program's option and ML_DEVICE come first) */
    int n_extensions;
    ml_extension **extensions; /* borrowed */
} ml_train;

/* What the files say about how a model was made. */
typedef struct {
    const char *model_spec;   /* YAML of the model component */
    const char *experiment;   /* YAML of the whole experiment, or NULL */
    const char *command;      /* the command line, or NULL */
} ml_model_meta;

typedef void (*ml_record_fn)(const ml_monitor *mon, void *user);

typedef struct {
    ml_device device;
    ml_model_meta meta;
    ml_record_fn on_record;   /* called after each monitor record */
    void *user;
    volatile sig_atomic_t *stop; /* set asynchronously (a signal): finish the batch and stop */
    /* A model file saved by a run of the same experiment: training goes on from
     * its /train_state (counters, learning-rule state or BGD's, random streams,
     * the position of the batches, criteria and extensions) and its monitor records,
     * as if it had never stopped.  The parameters are the model's: load them from
     * the same file first (ml_model_read_params). */
    const char *resume;
} ml_train_opts;

/* Runs the main loop: monitor at epoch 0, then epochs until a criterion stops;
 * saves to save_path every save_freq epochs and at the end.  The monitor's
 * records are in *monitor (owned by the caller) when it returns. */
ml_status ml_train_run(ml_train *t, const ml_train_opts *opts, ml_monitor **monitor);

/* Writes a model file: the model's parameters and spec, and the monitor when given.
 * Atomic: written beside the target and renamed into place. */
ml_status ml_model_save(const char *path, const ml_model *m, const ml_model_meta *meta,
                        const ml_monitor *mon);

/* Reads the model spec (YAML text) and the input shape a model file records. */
ml_status ml_model_file_info(ml_h5_file *f, char **model_spec, ml_space *input_space);

#endif
