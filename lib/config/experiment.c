#include "config/experiment.h"

#include <string.h>

#include "core/alloc.h"
#include "data/dataset.h"
#include "io/h5.h"

void ml_experiment_free(ml_experiment *e)
{
    if (!e)
        return;
    ml_cfg_ctx_free(e->ctx);
    ml_cfg_node_free(e->root);
    ml_free(e->text);
    ml_free(e->model_spec);
    ml_free(e);
}

/* The space of a dataset's rows: images when the file says so, else vectors. */
static ml_space data_space(const ml_dataset *d)
{
    if (d->image_shape[0] > 0)
        return ml_conv2d_space(d->image_shape[0], d->image_shape[1], d->image_shape[2]);
    return ml_vector_space(ml_dataset_n_features(d));
}

static ml_status setup_model(mlp_object *mlp, const ml_dataset *d, const ml_cfg_node *where)
{
    ml_rng rng;
    ml_rng_seed(&rng, mlp->seed);
    ml_space space;
    if (d)
        space = data_space(d);
    ml_status st = ml_model_setup(mlp->model, d ? &space : NULL, &rng);
    if (st != ML_OK)
        return ml_cfg_error_at(&where->pos, st, "%s", ml_last_error());
    return ML_OK;
}

/* --seed: the seed of the model's weights and of the algorithm's shuffles and masks. */
static ml_status apply_seed(ml_cfg_node *root, int is_train, int64_t seed)
{
    char assignment[64];
    snprintf(assignment, sizeof assignment, "%sseed=%lld", is_train ? "model." : "", (long long)seed);
    ML_TRY(ml_cfg_override(root, assignment));
    if (!is_train)
        return ML_OK;
    snprintf(assignment, sizeof assignment, "algorithm.seed=%lld", (long long)seed);
    return ml_cfg_override(root, assignment);
}

/* path: a file to read, or, with text, the name of the text in messages. */
static ml_status load(const char *path, const char *text, int n_overrides, const char *const *overrides,
                      int64_t seed, ml_experiment **out)
{
    *out = NULL;
    ML_TRY(ml_components_register());
    ml_experiment *e = ml_calloc(1, sizeof *e);
    if (!e)
        return ML_ENOMEM;
    ml_status st = text ? ml_cfg_parse_string(text, path, &e->root) : ml_cfg_parse_file(path, &e->root);
    if (st == ML_OK && !e->root)
        st = ml_error(ML_EFORMAT, "%s: the experiment is empty", strcmp(path, "-") ? path : "<stdin>");
    for (int i = 0; st == ML_OK && i < n_overrides; i++)
        st = ml_cfg_override(e->root, overrides[i]);
    if (st == ML_OK && (e->root->kind != ML_CFG_MAP || !e->root->tag))
        st = ml_cfg_error_at(&e->root->pos, ML_EINVAL, "an experiment is a !obj:Train or a model component");
    const ml_component *c = st == ML_OK ? ml_cfg_find(e->root->tag) : NULL;
    if (st == ML_OK && seed >= 0 && c)
        st = apply_seed(e->root, ml_cfg_component_is(c, "train"), seed);
    if (st == ML_OK)
        st = ml_cfg_ctx_new(&e->ctx);
    const ml_cfg_node *model_node = e->root;
    void *obj = NULL;
    if (st == ML_OK)
        st = ml_cfg_instantiate(e->ctx, e->root, c && ml_cfg_component_is(c, "model") ? "model" : "train", &obj);
    if (st == ML_OK && ml_cfg_component_is(c, "train")) {
        ml_experiment_train *t = obj;
        e->train = &t->train;
        model_node = ml_cfg_get(e->root, "model");
        e->model = t->mlp->model;
        st = setup_model(t->mlp, t->train.dataset, model_node);
    } else if (st == ML_OK) {
        mlp_object *m = obj;
        e->model = m->model;
        st = setup_model(m, NULL, model_node);
    }
    if (st == ML_OK)
        st = ml_cfg_emit(e->root, &e->text);
    if (st == ML_OK)
        st = ml_cfg_emit(model_node, &e->model_spec);
    if (st != ML_OK) {
        ml_experiment_free(e);
        return st;
    }
    *out = e;
    return ML_OK;
}

ml_status ml_experiment_load(const char *path, int n_overrides, const char *const *overrides,
                             int64_t seed, ml_experiment **out)
{
    return load(path, NULL, n_overrides, overrides, seed, out);
}

ml_status ml_experiment_load_text(const char *text, const char *name, int n_overrides,
                                  const char *const *overrides, int64_t seed, ml_experiment **out)
{
    return load(name, text, n_overrides, overrides, seed, out);
}

ml_status ml_model_load(const char *path, ml_model **model, char **spec_out)
{
    *model = NULL;
    if (spec_out)
        *spec_out = NULL;
    ML_TRY(ml_components_register());
    ml_h5_file *f;
    ML_TRY(ml_h5_open(path, &f));
    char *spec = NULL;
    ml_space input;
    ml_cfg_node *root = NULL;
    ml_cfg_ctx *ctx = NULL;
    void *obj = NULL;
    ml_status st = ml_model_file_info(f, &spec, &input);
    if (st == ML_OK && (st = ml_cfg_parse_string(spec, "model_spec", &root)) != ML_OK)
        st = ml_error_prefix(st, "%s:/", ml_h5_file_name(f));
    if (st == ML_OK)
        st = ml_cfg_ctx_new(&ctx);
    if (st == ML_OK && (st = ml_cfg_instantiate(ctx, root, "model", &obj)) != ML_OK)
        st = ml_error_prefix(st, "%s:/", ml_h5_file_name(f));
    mlp_object *mlp = obj;
    if (st == ML_OK) {
        if (!mlp->model->has_input_space) {
            mlp->model->input_space = input;
            mlp->model->has_input_space = 1;
        }
        ml_rng rng;
        ml_rng_seed(&rng, mlp->seed);
        if ((st = ml_model_setup(mlp->model, NULL, &rng)) != ML_OK)
            st = ml_error_prefix(st, "%s: ", ml_h5_file_name(f));
    }
    if (st == ML_OK)
        st = ml_model_read_params(mlp->model, f);
    if (st == ML_OK) {
        *model = mlp->model;
        mlp->model = NULL; /* the caller owns the model; the context frees the rest */
        if (spec_out) {
            *spec_out = spec;
            spec = NULL;
        }
    }
    ml_cfg_ctx_free(ctx);
    ml_cfg_node_free(root);
    ml_free(spec);
    ml_h5_close(f);
    return st;
}
