#include "train/evaluate.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

void ml_eval_result_free(ml_eval_result *r)
{
    if (!r)
        return;
    ml_free(r->confusion);
    ml_free(r);
}

double ml_eval_precision(const ml_eval_result *r, int64_t k)
{
    int64_t predicted = 0;
    for (int64_t t = 0; t < r->n_classes; t++)
        predicted += r->confusion[t * r->n_classes + k];
    return predicted ? (double)r->confusion[k * r->n_classes + k] / (double)predicted : NAN;
}

double ml_eval_recall(const ml_eval_result *r, int64_t k)
{
    int64_t actual = 0;
    for (int64_t p = 0; p < r->n_classes; p++)
        actual += r->confusion[k * r->n_classes + p];
    return actual ? (double)r->confusion[k * r->n_classes + k] / (double)actual : NAN;
}

ml_status ml_model_outputs(ml_model *m, const ml_dataset *d, int top, int softmax, int64_t batch_size,
                           ml_device device, ml_tensor **outputs)
{
    *outputs = NULL;
    int64_t n = ml_dataset_n_examples(d);
    if (ml_dataset_n_features(d) != ml_space_size(&m->input_space)) {
        char sp[96];
        return ml_error(ML_ESHAPE, "%s: rows of %lld values do not fit the model's input %s", d->name,
                        (long long)ml_dataset_n_features(d), ml_space_describe(&m->input_space, sp, sizeof sp));
    }
    ml_tensor *out = ml_tensor_new(ML_F32, 2, (int64_t[]){n, ml_space_size(&m->layers[top]->output)}, ML_CPU);
    ml_graph *g = ml_graph_new();
    ml_fn *fn = NULL;
    ml_tensor *x_dev = NULL;
    ml_status st = out && g ? ML_OK : ML_ENOMEM;
    if (st == ML_OK)
        st = ml_model_to_device(m, device);
    if (st == ML_OK)
        st = ml_model_bind(m, g);
    if (st == ML_OK) {
        ml_node *x = ml_input(g, "X", ML_F32, 2, (int64_t[]){ML_BATCH, ml_dataset_n_features(d)});
        int n_layers = m->n_layers;
        m->n_layers = top + 1; /* the model up to its layer top */
        ml_node *h = ml_model_fprop(m, g, x, NULL);
        m->n_layers = n_layers;
        h = h && softmax ? ml_softmax(g, h) : h && h->ndim != 2 ? ml_flatten(g, h) : h;
        ml_fn_spec spec = {.n_inputs = 1, .inputs = &x, .n_outputs = 1, .outputs = &h,
                           .max_batch = n < batch_size ? (n ? n : 1) : batch_size, .device = device};
        st = h ? ml_fn_compile(g, &spec, &fn) : ML_ESHAPE;
    }
    if (st == ML_OK && device != ML_CPU && !(x_dev = ml_tensor_to(d->X, device)))
        st = ML_EDEVICE;
    ml_tensor xb;
    ml_tensor *in[1] = {&xb};
    for (int64_t start = 0; st == ML_OK && start < n; start += batch_size) {
        int64_t count = n - start < batch_size ? n - start : batch_size;
        ml_tensor_point_rows(&xb, x_dev ? x_dev : d->X, start, count);
        st = ml_fn_call(fn, in);
        ml_tensor rows;
        ml_tensor_point_rows(&rows, out, start, count);
        if (st == ML_OK)
            st = ml_tensor_copy(&rows, ml_fn_output(fn, 0));
    }
    ml_fn_free(fn);
    ml_graph_free(g);
    ml_tensor_free(x_dev);
    if (st == ML_OK && device != ML_CPU)
        st = ml_model_to_device(m, ML_CPU);
    if (st != ML_OK) {
        ml_tensor_free(out);
        return st;
    }
    *outputs = out;
    return ML_OK;
}

ml_status ml_predict(ml_model *m, const ml_dataset *d, int64_t batch_size, ml_device device,
                     ml_tensor **probabilities)
{
    *probabilities = NULL;
    if (ml_model_n_classes(m) <= 0)
        return ml_error(ML_EINVAL, "the model has no Softmax output to score classes with");
    return ml_model_outputs(m, d, m->n_layers - 1, 1, batch_size, device, probabilities);
}

ml_status ml_evaluate(ml_model *m, const ml_dataset *d, int64_t batch_size, ml_device device,
                      ml_eval_result **result, ml_tensor **probabilities)
{
    *result = NULL;
    if (probabilities)
        *probabilities = NULL;
    int64_t k = ml_model_n_classes(m), n = ml_dataset_n_examples(d);
    if (k <= 0)
        return ml_error(ML_EINVAL, "the model has no Softmax output to score classes with");
    if (!d->y || d->y->dtype != ML_I32)
        return ml_error(ML_EINVAL, "%s: the data have no class labels y", d->name);
    const int32_t *labels = ml_tensor_i32(d->y);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return ml_error(ML_ESHAPE, "%s:/y: row %lld has label %d, outside the model's 0..%lld", d->name,
                            (long long)i, labels[i], (long long)k - 1);
    ml_tensor *probs = NULL;
    ML_TRY(ml_predict(m, d, batch_size, device, &probs));
    ml_eval_result *r = ml_calloc(1, sizeof *r);
    if (r)
        r->confusion = ml_calloc((size_t)(k * k), sizeof *r->confusion);
    if (!r || !r->confusion) {
        ml_eval_result_free(r);
        ml_tensor_free(probs);
        return ML_ENOMEM;
    }
    r->n_examples = n;
    r->n_classes = k;
    const float *pr = ml_tensor_f32(probs);
    double nll = 0;
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *row = pr + i * k;
        int64_t best = 0;
        for (int64_t c = 1; c < k; c++)
            if (row[c] > row[best])
                best = c;
        /* The probability of the true class, floored so one confident mistake stays finite. */
        double p_true = row[labels[i]] > 1e-30f ? row[labels[i]] : 1e-30;
        nll -= log(p_true);
        wrong += best != labels[i];
        r->confusion[labels[i] * k + best]++;
    }
    r->nll = n ? nll / (double)n : NAN;
    r->misclass = n ? (double)wrong / (double)n : NAN;
    *result = r;
    if (probabilities)
        *probabilities = probs;
    else
        ml_tensor_free(probs);
    return ML_OK;
}
