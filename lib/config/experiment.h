/* Experiments: an experiment file (or a model file) read into the structures
 * of the training and model layers, with command-line overrides applied. */
#ifndef ML_CONFIG_EXPERIMENT_H
#define ML_CONFIG_EXPERIMENT_H

#include "config/components.h"
#include "config/yaml.h"

typedef struct {
    ml_cfg_node *root;
    ml_cfg_ctx *ctx;
    ml_train *train;    /* when the file is a Train; NULL for a bare model */
    ml_model *model;    /* set up: spaces inferred, initial weights drawn */
    char *text;         /* the experiment with the overrides applied (YAML) */
    char *model_spec;   /* the model's component (YAML), stored in model files */
} ml_experiment;

/* Reads an experiment file ("-": standard input): a Train, or a model alone.
 * overrides are `-s` assignments ("algorithm.learning_rate=0.05"); seed, when
 * not negative, replaces the model's seed and the algorithm's (a --seed
 * option).  Builds everything (datasets are loaded), then sets the model up
 * for the training data's rows unless the model fixes its input.  Errors are
 * positioned. */
ml_status ml_experiment_load(const char *path, int n_overrides, const char *const *overrides,
                             int64_t seed, ml_experiment **out);
/* The same from the text of an experiment (as a model file's /experiment
 * holds it); name is used in messages ("run.h5:/experiment"). */
ml_status ml_experiment_load_text(const char *text, const char *name, int n_overrides,
                                  const char *const *overrides, int64_t seed, ml_experiment **out);
void ml_experiment_free(ml_experiment *e);

/* Reads a model file: its spec rebuilt, its parameters loaded. *spec (may be
 * NULL) receives the model's YAML. */
ml_status ml_model_load(const char *path, ml_model **model, char **spec);

#endif
