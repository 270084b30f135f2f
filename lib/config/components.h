/* The registered components of the experiment language and the objects they build. */
#ifndef ML_CONFIG_COMPONENTS_H
#define ML_CONFIG_COMPONENTS_H

#include <stdint.h>

#include "config/component.h"
#include "model/model.h"
#include "train/train.h"

/* What !obj:MLP builds: the model and the seed of its initial weights. */
typedef struct {
    ml_model *model;
    uint64_t seed;
} mlp_object;

/* What !obj:Momentum and the other learning rules build: an ml_learning_rule
 * (train/rules.h). */

/* What !obj:Train builds (the objects it refers to belong to the context). */
typedef struct {
    ml_train train;
    mlp_object *mlp;
} ml_experiment_train;

/* Registers every component once (later calls do nothing). */
ml_status ml_components_register(void);

#endif
