/* Scoring a trained model on a dataset: the numbers ml-eval reports. */
#ifndef ML_TRAIN_EVALUATE_H
#define ML_TRAIN_EVALUATE_H

#include "data/dataset.h"
#include "model/model.h"

typedef struct {
    int64_t n_examples;
    int64_t n_classes;
    double nll;          /* mean negative log-likelihood */
    double misclass;     /* fraction misclassified */
    int64_t *confusion;  /* [n_classes][n_classes]: true class (row) x predicted (column) */
} ml_eval_result;

/* The output of layer `top` (flattened) for every row of d, in batches on
 * `device`: a new CPU tensor [N, size of that layer's output]; softmax: through
 * a softmax (the class probabilities of a Softmax top). */
ml_status ml_model_outputs(ml_model *m, const ml_dataset *d, int top, int softmax, int64_t batch_size,
                           ml_device device, ml_tensor **outputs);

/* The class probabilities of every row of d: a new CPU tensor [N, K]. The data
 * need no labels. */
ml_status ml_predict(ml_model *m, const ml_dataset *d, int64_t batch_size, ml_device device,
                     ml_tensor **probabilities);

/* Runs the model over d in batches; for a classifier fills the result and, when
 * probabilities is not NULL, a new CPU tensor [N, K] of class probabilities. */
ml_status ml_evaluate(ml_model *m, const ml_dataset *d, int64_t batch_size, ml_device device,
                      ml_eval_result **result, ml_tensor **probabilities);
void ml_eval_result_free(ml_eval_result *r);
double ml_eval_precision(const ml_eval_result *r, int64_t k); /* NaN if nothing predicted k */
double ml_eval_recall(const ml_eval_result *r, int64_t k);    /* NaN if no example of k */

#endif
