/* lib/config: the YAML experiment language (parse, positions, ${VAR}, overrides,
 * emit) and the component registry (checks, defaults, sharing, ownership),
 * with toy components in the shape of Pylearn2's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ml.h"

#define CHECK_MSG(expr, want, ...)                                                   \
    do {                                                                             \
        ml_status s_ = (expr);                                                       \
        int ok_ = s_ != ML_OK && strcmp(ml_last_error(), (want)) == 0;               \
        CHECK(ok_, __VA_ARGS__);                                                     \
        if (!ok_)                                                                    \
            printf("#   got:  %s\n#   want: %s\n", s_ == ML_OK ? "(success)" : ml_last_error(), \
                   (want));                                                          \
    } while (0)

/* ---- toy components ----------------------------------------------------- */

#define TOY_MAX 16

typedef struct toy toy;
typedef struct {
    int set;
    double f;
    int i;
    int b;
    char *s;
    toy *obj;
    int n;
    toy *objs[TOY_MAX];
    char *keys[TOY_MAX];
    float fl[TOY_MAX];
    int ints[TOY_MAX];
} toy_val;

struct toy {
    const ml_component *c;
    int seq;
    toy_val v[TOY_MAX];
};

static int toy_seq, toys_live, n_destroyed;
static int destroyed[256];

static const toy_val *val(const toy *t, const char *name)
{
    for (int k = 0; t->c->params && t->c->params[k].name; k++)
        if (strcmp(t->c->params[k].name, name) == 0)
            return &t->v[k];
    return NULL;
}

static void toy_destroy(void *p)
{
    toy *t = p;
    for (int k = 0; k < TOY_MAX; k++) {
        ml_free(t->v[k].s);
        for (int i = 0; i < TOY_MAX; i++)
            ml_free(t->v[k].keys[i]);
    }
    if (n_destroyed < 256)
        destroyed[n_destroyed++] = t->seq;
    toys_live--;
    ml_free(t);
}

/* Reads every parameter of its table with the getter of its type. */
static ml_status toy_construct(ml_cfg_args *a, void **out)
{
    const ml_component *c = ml_cfg_args_component(a);
    toy *t = ml_calloc(1, sizeof *t);
    if (!t)
        return ML_ENOMEM;
    t->c = c;
    toys_live++;
    ml_status st = ML_OK;
    for (int k = 0; st == ML_OK && c->params && c->params[k].name; k++) {
        const ml_cfg_param *p = &c->params[k];
        toy_val *v = &t->v[k];
        if (!ml_cfg_args_has(a, p->name))
            continue;
        v->set = 1;
        switch (p->type) {
        case ML_CFG_T_FLOAT: st = ml_cfg_args_double(a, p->name, &v->f); break;
        case ML_CFG_T_INT: st = ml_cfg_args_int(a, p->name, &v->i); break;
        case ML_CFG_T_BOOL: st = ml_cfg_args_bool(a, p->name, &v->b); break;
        case ML_CFG_T_STRING: {
            const char *s;
            st = ml_cfg_args_string(a, p->name, &s);
            if (st == ML_OK)
                v->s = ml_strdup(s);
            break;
        }
        case ML_CFG_T_OBJECT: st = ml_cfg_args_object(a, p->name, NULL, (void **)&v->obj); break;
        case ML_CFG_T_LIST:
        case ML_CFG_T_MAP:
            v->n = ml_cfg_args_count(a, p->name);
            for (int i = 0; st == ML_OK && i < v->n && i < TOY_MAX; i++) {
                if (p->type == ML_CFG_T_MAP)
                    v->keys[i] = ml_strdup(ml_cfg_args_key(a, p->name, i));
                if (p->elem == ML_CFG_T_OBJECT)
                    st = ml_cfg_args_item_object(a, p->name, i, (void **)&v->objs[i]);
                else if (p->elem == ML_CFG_T_FLOAT)
                    st = ml_cfg_args_item_float(a, p->name, i, &v->fl[i]);
                else if (p->elem == ML_CFG_T_INT)
                    st = ml_cfg_args_item_int(a, p->name, i, &v->ints[i]);
            }
            break;
        case ML_CFG_T_SHAPE:
        case ML_CFG_T_INT_LIST: st = ml_cfg_args_ints(a, p->name, v->ints, TOY_MAX, &v->n); break;
        case ML_CFG_T_ANY: v->n = (int)ml_cfg_args_node(a, p->name)->kind; break;
        }
    }
    /* constructor-level checks */
    if (st == ML_OK && !strcmp(c->name, "Linear") && t->v[1].set && t->v[1].f <= 0)
        st = ml_cfg_args_error(a, "irange", ML_EINVAL, "must be positive");
    if (st == ML_OK && !strcmp(c->name, "Linear") && !t->v[1].set && !t->v[2].set)
        st = ml_cfg_args_error(a, NULL, ML_EINVAL, "needs 'irange' or 'istdev'");
    if (st == ML_OK && !strcmp(c->name, "Conv") && t->v[2].n > 0 && t->v[2].ints[0] % 2 == 0)
        st = ml_cfg_args_item_error(a, "kernel_shape", 0, ML_EINVAL, "must be odd");
    if (st == ML_OK && !strcmp(c->name, "MNIST") && t->v[0].s && !strcmp(t->v[0].s, "bogus"))
        st = ml_error(ML_EIO, "bogus.h5: cannot open: No such file or directory");
    if (st != ML_OK) {
        toy_destroy(t);
        n_destroyed--; /* not a destruction by the context */
        return st;
    }
    t->seq = ++toy_seq;
    *out = t;
    return ML_OK;
}

#define TOY(var, nm, cat, doc_, ...)                                                \
    static const ml_cfg_param var##_params[] = {__VA_ARGS__, {0}};                  \
    static const ml_component var = {nm, var##_aliases, cat, var##_params,          \
                                     toy_construct, toy_destroy, doc_}

static const char *const train_c_aliases[] = {"pylearn2.train.Train", NULL};
TOY(train_c, "Train", "train", "runs the main loop",
    {.name = "dataset", .type = ML_CFG_T_OBJECT, .category = "dataset", .required = 1,
     .doc = "the training set"},
    {.name = "model", .type = ML_CFG_T_OBJECT, .category = "model", .required = 1,
     .doc = "the model to train"},
    {.name = "algorithm", .type = ML_CFG_T_OBJECT, .category = "algorithm",
     .doc = "how to train it"},
    {.name = "extensions", .type = ML_CFG_T_LIST, .elem = ML_CFG_T_OBJECT,
     .category = "extension", .doc = "hooks between epochs"},
    {.name = "save_path", .type = ML_CFG_T_STRING, .doc = "where to save"},
    {.name = "save_freq", .type = ML_CFG_T_INT, .def = "0", .doc = "epochs between saves"});

static const char *const mnist_c_aliases[] = {"pylearn2.datasets.mnist.MNIST", NULL};
TOY(mnist_c, "MNIST", "dataset", "handwritten digits",
    {.name = "which_set", .type = ML_CFG_T_STRING, .required = 1, .doc = "train or test"},
    {.name = "start", .type = ML_CFG_T_INT, .def = "0", .doc = "first example"},
    {.name = "stop", .type = ML_CFG_T_INT, .doc = "one past the last example"},
    {.name = "path", .type = ML_CFG_T_STRING, .def = "'mnist.h5'", .doc = "the file"});

static const char *const mlp_c_aliases[] = {"pylearn2.models.mlp.MLP", NULL};
TOY(mlp_c, "MLP", "model layer", "a stack of layers",
    {.name = "layers", .type = ML_CFG_T_LIST, .elem = ML_CFG_T_OBJECT, .category = "layer",
     .required = 1, .doc = "the layers, input first"},
    {.name = "nvis", .type = ML_CFG_T_INT, .doc = "input dimension"},
    {.name = "seed", .type = ML_CFG_T_INT, .def = "1234", .doc = "random seed"});

static const char *const sigmoid_c_aliases[] = {"pylearn2.models.mlp.Sigmoid", NULL};
TOY(sigmoid_c, "Sigmoid", "layer", "logistic units",
    {.name = "layer_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "a unique name"},
    {.name = "dim", .type = ML_CFG_T_INT, .required = 1, .doc = "number of units"},
    {.name = "sparse_init", .type = ML_CFG_T_INT, .doc = "nonzero weights per unit"},
    {.name = "irange", .type = ML_CFG_T_FLOAT, .doc = "uniform init range"});

static const char *const relu_c_aliases[] = {"pylearn2.models.mlp.RectifiedLinear", NULL};
TOY(relu_c, "RectifiedLinear", "layer", "rectified linear units",
    {.name = "layer_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "a unique name"},
    {.name = "dim", .type = ML_CFG_T_INT, .required = 1, .doc = "number of units"},
    {.name = "irange", .type = ML_CFG_T_FLOAT, .def = "0.05", .doc = "uniform init range"});

static const char *const softmax_c_aliases[] = {"pylearn2.models.mlp.Softmax", NULL};
TOY(softmax_c, "Softmax", "layer", "softmax output",
    {.name = "layer_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "a unique name"},
    {.name = "n_classes", .type = ML_CFG_T_INT, .required = 1, .doc = "number of classes"},
    {.name = "irange", .type = ML_CFG_T_FLOAT, .def = "0.05", .doc = "uniform init range"});

static const char *const linear_c_aliases[] = {"pylearn2.models.mlp.Linear", NULL};
TOY(linear_c, "Linear", "layer", "affine units",
    {.name = "layer_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "a unique name"},
    {.name = "irange", .type = ML_CFG_T_FLOAT, .doc = "uniform init range"},
    {.name = "istdev", .type = ML_CFG_T_FLOAT, .doc = "normal init deviation"});

static const char *const conv_c_aliases[] = {"pylearn2.models.mlp.ConvRectifiedLinear", NULL};
TOY(conv_c, "Conv", "layer", "convolution",
    {.name = "layer_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "a unique name"},
    {.name = "output_channels", .type = ML_CFG_T_INT, .required = 1, .doc = "feature maps"},
    {.name = "kernel_shape", .type = ML_CFG_T_SHAPE, .def = "[5, 5]", .doc = "rows, columns"},
    {.name = "pool_stride", .type = ML_CFG_T_INT_LIST, .doc = "rows, columns"});

static const char *const bgd_c_aliases[] = {"pylearn2.training_algorithms.bgd.BGD", NULL};
TOY(bgd_c, "BGD", "algorithm", "batch gradient descent",
    {.name = "batch_size", .type = ML_CFG_T_INT, .required = 1, .doc = "examples per batch"},
    {.name = "line_search_mode", .type = ML_CFG_T_STRING, .def = "'exhaustive'",
     .doc = "how to search"},
    {.name = "conjugate", .type = ML_CFG_T_BOOL, .def = "False", .doc = "conjugate gradients"},
    {.name = "updates_per_batch", .type = ML_CFG_T_INT, .def = "10", .doc = "steps per batch"},
    {.name = "monitoring_dataset", .type = ML_CFG_T_MAP, .elem = ML_CFG_T_OBJECT,
     .category = "dataset", .doc = "channel prefix to dataset"},
    {.name = "termination_criterion", .type = ML_CFG_T_OBJECT, .category = "termination",
     .doc = "when to stop"});

static const char *const sgd_c_aliases[] = {"pylearn2.training_algorithms.sgd.SGD", NULL};
TOY(sgd_c, "SGD", "algorithm", "stochastic gradient descent",
    {.name = "learning_rate", .type = ML_CFG_T_FLOAT, .required = 1, .doc = "the step size"},
    {.name = "batch_size", .type = ML_CFG_T_INT, .def = "100", .doc = "examples per step"},
    {.name = "learning_rule", .type = ML_CFG_T_OBJECT, .category = "learning_rule",
     .doc = "momentum and the like"},
    {.name = "cost", .type = ML_CFG_T_OBJECT, .category = "cost", .doc = "the objective"},
    {.name = "monitoring_dataset", .type = ML_CFG_T_MAP, .elem = ML_CFG_T_OBJECT,
     .category = "dataset", .doc = "channel prefix to dataset"},
    {.name = "termination_criterion", .type = ML_CFG_T_OBJECT, .category = "termination",
     .doc = "when to stop"});

static const char *const momentum_c_aliases[] = {
    "pylearn2.training_algorithms.learning_rule.Momentum", NULL};
TOY(momentum_c, "Momentum", "learning_rule", "classical momentum",
    {.name = "init_momentum", .type = ML_CFG_T_FLOAT, .required = 1, .doc = "momentum"},
    {.name = "nesterov_momentum", .type = ML_CFG_T_BOOL, .def = "false", .doc = "nesterov"});

static const char *const monitor_c_aliases[] = {"pylearn2.termination_criteria.MonitorBased",
                                              NULL};
TOY(monitor_c, "MonitorBased", "termination", "stop when a channel stops improving",
    {.name = "channel_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "the channel"},
    {.name = "prop_decrease", .type = ML_CFG_T_FLOAT, .def = "0.0", .doc = "needed decrease"},
    {.name = "N", .type = ML_CFG_T_INT, .def = "10", .doc = "epochs to wait"});

static const char *const epochs_c_aliases[] = {"pylearn2.termination_criteria.EpochCounter", NULL};
TOY(epochs_c, "EpochCounter", "termination", "stop after some epochs",
    {.name = "max_epochs", .type = ML_CFG_T_INT, .required = 1, .doc = "how many"});

static const char *const savebest_c_aliases[] = {
    "pylearn2.train_extensions.best_params.MonitorBasedSaveBest", NULL};
TOY(savebest_c, "MonitorBasedSaveBest", "extension", "save the best model",
    {.name = "channel_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "the channel"},
    {.name = "save_path", .type = ML_CFG_T_STRING, .required = 1, .doc = "where to"});

static const char *const *const probe_c_aliases = NULL;
TOY(probe_c, "Probe", "probe", "reads its parameters in every way",
    {.name = "a", .type = ML_CFG_T_FLOAT, .def = "0.5", .doc = "a float with a default"},
    {.name = "b", .type = ML_CFG_T_FLOAT, .doc = "an optional float"},
    {.name = "c", .type = ML_CFG_T_STRING, .def = "'x'", .doc = "a string with a default"},
    {.name = "d", .type = ML_CFG_T_ANY, .doc = "anything"},
    {.name = "rates", .type = ML_CFG_T_LIST, .elem = ML_CFG_T_FLOAT, .doc = "floats"},
    {.name = "rule", .type = ML_CFG_T_OBJECT, .category = "learning_rule",
     .def = "!obj:Momentum {init_momentum: 0.25}", .doc = "an object default"},
    {.name = "flag", .type = ML_CFG_T_BOOL, .def = "False", .doc = "a boolean"},
    {.name = "big", .type = ML_CFG_T_INT, .doc = "an integer"});

static const ml_component *const all_toys[] = {
    &train_c, &mnist_c, &mlp_c, &sigmoid_c, &relu_c, &softmax_c, &linear_c, &conv_c,
    &bgd_c, &sgd_c, &momentum_c, &monitor_c, &epochs_c, &savebest_c, &probe_c};
#define N_TOYS ((int)(sizeof all_toys / sizeof all_toys[0]))

/* ---- the experiment: Pylearn2's MLP tutorial, in its shape -------------- */

static const char *const tutorial =
    "!obj:pylearn2.train.Train {\n"                                       /* 1 */
    "    dataset: &train !obj:pylearn2.datasets.mnist.MNIST {\n"          /* 2 */
    "        which_set: 'train',\n"                                       /* 3 */
    "        start: 0,\n"                                                 /* 4 */
    "        stop: 50000,\n"                                              /* 5 */
    "        path: '${ML_TEST_DATA}/mnist.h5'\n"                          /* 6 */
    "    },\n"                                                            /* 7 */
    "    model: !obj:pylearn2.models.mlp.MLP {\n"                         /* 8 */
    "        layers: [\n"                                                 /* 9 */
    "                 !obj:pylearn2.models.mlp.Sigmoid {\n"               /* 10 */
    "                     layer_name: 'h0',\n"                            /* 11 */
    "                     dim: 500,\n"                                    /* 12 */
    "                     sparse_init: 15,\n"                             /* 13 */
    "                 }, !obj:pylearn2.models.mlp.Softmax {\n"            /* 14 */
    "                     layer_name: 'y',\n"                             /* 15 */
    "                     n_classes: 10,\n"                               /* 16 */
    "                     irange: 0.\n"                                   /* 17 */
    "                 }\n"                                                /* 18 */
    "                ],\n"                                                /* 19 */
    "        nvis: 784,\n"                                                /* 20 */
    "    },\n"                                                            /* 21 */
    "    algorithm: !obj:pylearn2.training_algorithms.bgd.BGD {\n"        /* 22 */
    "        batch_size: 10000,\n"                                        /* 23 */
    "        line_search_mode: 'exhaustive',\n"                           /* 24 */
    "        conjugate: 1,\n"                                             /* 25 */
    "        updates_per_batch: 10,\n"                                    /* 26 */
    "        monitoring_dataset:\n"                                       /* 27 */
    "            {\n"                                                     /* 28 */
    "                'train' : *train,\n"                                 /* 29 */
    "                'valid' : !obj:pylearn2.datasets.mnist.MNIST {\n"    /* 30 */
    "                              which_set: 'train',\n"                 /* 31 */
    "                              start: 50000,\n"                       /* 32 */
    "                              stop:  60000\n"                        /* 33 */
    "                          },\n"                                      /* 34 */
    "                'test'  : !obj:pylearn2.datasets.mnist.MNIST {\n"    /* 35 */
    "                              which_set: 'test',\n"                  /* 36 */
    "                          }\n"                                       /* 37 */
    "            },\n"                                                    /* 38 */
    "        termination_criterion: !obj:pylearn2.termination_criteria.MonitorBased {\n" /* 39 */
    "            channel_name: \"valid_y_misclass\"\n"                    /* 40 */
    "        }\n"                                                         /* 41 */
    "    },\n"                                                            /* 42 */
    "    extensions: [\n"                                                 /* 43 */
    "        !obj:pylearn2.train_extensions.best_params.MonitorBasedSaveBest {\n" /* 44 */
    "             channel_name: 'valid_y_misclass',\n"                    /* 45 */
    "             save_path: \"${ML_TEST_SAVE}/mlp_best.pkl\"\n"          /* 46 */
    "        },\n"                                                        /* 47 */
    "    ],\n"                                                            /* 48 */
    "    save_path: $HOME_not_expanded,\n"                                /* 49 */
    "}\n";

static const char *const sgd_exp =
    "!obj:pylearn2.train.Train {\n"                                       /* 1 */
    "  dataset: &d !obj:MNIST { which_set: train },\n"                    /* 2 */
    "  model: !obj:MLP {\n"                                               /* 3 */
    "    layers: [ !obj:Linear { layer_name: h0, irange: 0.1 } ] },\n"    /* 4 */
    "  algorithm: !obj:SGD {\n"                                           /* 5 */
    "    learning_rate: 0.1,\n"                                           /* 6 */
    "    monitoring_dataset: { train: *d } },\n"                          /* 7 */
    "}\n";

/* ---- helpers ------------------------------------------------------------- */

static int pos_is(ml_cfg_pos p, const char *file, int line, int column)
{
    return p.file && strcmp(p.file, file) == 0 && p.line == line && p.column == column;
}

static const char *text_at(const ml_cfg_node *root, const char *path)
{
    const ml_cfg_node *n = ml_cfg_path(root, path);
    return n && n->text ? n->text : "(none)";
}

/* Structural equality, including which nodes are shared: a maps nodes of one
 * tree to nodes of the other as it goes. */
typedef struct {
    const ml_cfg_node *a[512], *b[512];
    int n;
} node_map;

static int same_tree(node_map *m, const ml_cfg_node *a, const ml_cfg_node *b)
{
    for (int i = 0; i < m->n; i++)
        if (m->a[i] == a || m->b[i] == b)
            return m->a[i] == a && m->b[i] == b;
    if (m->n < 512) {
        m->a[m->n] = a;
        m->b[m->n++] = b;
    }
    if (a->kind != b->kind || a->n != b->n)
        return 0;
    if ((a->tag || b->tag) && (!a->tag || !b->tag || strcmp(a->tag, b->tag)))
        return 0;
    if ((a->yaml_tag || b->yaml_tag) &&
        (!a->yaml_tag || !b->yaml_tag || strcmp(a->yaml_tag, b->yaml_tag)))
        return 0;
    if (a->kind == ML_CFG_SCALAR && (strcmp(a->text, b->text) || a->quoted != b->quoted))
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->kind == ML_CFG_MAP && strcmp(a->keys[i], b->keys[i]))
            return 0;
        if (!same_tree(m, a->items[i], b->items[i]))
            return 0;
    }
    return 1;
}

static int trees_equal(const ml_cfg_node *a, const ml_cfg_node *b)
{
    static node_map m;
    m.n = 0;
    return same_tree(&m, a, b);
}

/* Parses text (must succeed) and instantiates its root as category; returns the status. */
static ml_status try_build(const char *text, const char *category, const char *override)
{
    ml_cfg_node *root = NULL;
    ml_status st = ml_cfg_parse_string(text, "exp.yaml", &root);
    if (st != ML_OK)
        return st;
    if (override)
        st = ml_cfg_override(root, override);
    ml_cfg_ctx *ctx = NULL;
    if (st == ML_OK)
        st = ml_cfg_ctx_new(&ctx);
    void *obj = NULL;
    if (st == ML_OK)
        st = ml_cfg_instantiate(ctx, root, category, &obj);
    ml_cfg_ctx_free(ctx);
    ml_cfg_node_free(root);
    return st;
}

/* ---- tests --------------------------------------------------------------- */

static void test_suggest(void)
{
    static const char *const params[] = {"learning_rate", "batch_size", "cost",
                                         "learning_rule", NULL};
    static const char *const comps[] = {"RectifiedLinear", "Sigmoid", "Softmax", "SGD"};
    CHECK(ml_edit_distance("kitten", "sitting") == 3, "edit distance kitten/sitting is 3");
    CHECK(ml_edit_distance("ab", "ba") == 1, "a swap of neighbours costs 1 (Damerau)");
    CHECK(ml_edit_distance("", "abc") == 3, "edit distance to the empty string");
    const char *s = ml_suggest("learning_rat", params, -1);
    CHECK(s && !strcmp(s, "learning_rate"), "suggests learning_rate for learning_rat");
    s = ml_suggest("leanring_rate", params, -1);
    CHECK(s && !strcmp(s, "learning_rate"), "suggests learning_rate for leanring_rate (swap)");
    s = ml_suggest("batchsize", params, -1);
    CHECK(s && !strcmp(s, "batch_size"), "suggests batch_size for batchsize");
    CHECK(ml_suggest("momentum", params, -1) == NULL, "no suggestion for a far word");
    CHECK(ml_suggest("x", params, -1) == NULL, "no suggestion for a one-letter word");
    s = ml_suggest("RectifiedLiner", comps, 4);
    CHECK(s && !strcmp(s, "RectifiedLinear"), "suggests RectifiedLinear for RectifiedLiner");
    s = ml_suggest("sgd", comps, 4);
    CHECK(s && !strcmp(s, "SGD"), "a different case is suggested");
    s = ml_suggest("Sigmod", comps, 4);
    CHECK(s && !strcmp(s, "Sigmoid"), "suggests Sigmoid for Sigmod");
    CHECK(ml_suggest("anything", NULL, 0) == NULL, "no candidates, no suggestion");
}

static void test_parse(void)
{
    setenv("ML_TEST_DATA", "/data/mnist", 1);
    setenv("ML_TEST_SAVE", "/tmp/out", 1);
    ml_cfg_node *root = NULL;
    CHECK_OK(ml_cfg_parse_string(tutorial, "exp.yaml", &root), "the tutorial experiment parses");
    if (!root)
        return;
    CHECK(root->kind == ML_CFG_MAP && root->tag && !strcmp(root->tag, "pylearn2.train.Train"),
          "the root is !obj:pylearn2.train.Train");
    CHECK(pos_is(root->pos, "exp.yaml", 1, 1), "the root is at 1:1");
    CHECK(root->n == 5 && !strcmp(root->keys[0], "dataset") && !strcmp(root->keys[1], "model") &&
              !strcmp(root->keys[2], "algorithm") && !strcmp(root->keys[3], "extensions") &&
              !strcmp(root->keys[4], "save_path"),
          "the root's keys are in file order");
    CHECK(pos_is(root->key_pos[1], "exp.yaml", 8, 5), "key 'model' is at 8:5");
    const ml_cfg_node *ds = ml_cfg_get(root, "dataset");
    CHECK(ds && ds->tag && !strcmp(ds->tag, "pylearn2.datasets.mnist.MNIST") && ds->anchor &&
              !strcmp(ds->anchor, "train"),
          "dataset is an MNIST anchored &train");
    CHECK(ds && pos_is(ds->pos, "exp.yaml", 2, 14), "dataset starts at its anchor, 2:14");
    CHECK(ml_cfg_path(root, "algorithm.monitoring_dataset.train") == ds,
          "alias *train is the same node as &train");
    const ml_cfg_node *valid = ml_cfg_path(root, "algorithm.monitoring_dataset.valid");
    CHECK(valid && valid != ds && pos_is(valid->pos, "exp.yaml", 30, 27),
          "monitoring_dataset.valid is its own node, at 30:27");
    const ml_cfg_node *n = ml_cfg_path(root, "model.layers.1.layer_name");
    CHECK(n && n->kind == ML_CFG_SCALAR && !strcmp(n->text, "y") && n->quoted,
          "model.layers.1.layer_name is the quoted scalar 'y'");
    CHECK(n && pos_is(n->pos, "exp.yaml", 15, 34), "and it is at 15:34, at its quote");
    n = ml_cfg_path(root, "model.layers.0");
    CHECK(n && n->tag && !strcmp(n->tag, "pylearn2.models.mlp.Sigmoid") &&
              pos_is(n->pos, "exp.yaml", 10, 18),
          "model.layers.0 is a Sigmoid at 10:18");
    n = ml_cfg_path(root, "model.nvis");
    CHECK(n && !strcmp(n->text, "784") && !n->quoted, "model.nvis is the plain scalar 784");
    n = ml_cfg_path(root, "model.layers");
    CHECK(n && n->kind == ML_CFG_SEQ && n->n == 2, "model.layers is a list of 2");
    CHECK(!strcmp(text_at(root, "dataset.path"), "/data/mnist/mnist.h5"),
          "${ML_TEST_DATA} is expanded in a quoted scalar");
    CHECK(!strcmp(text_at(root, "extensions.0.save_path"), "/tmp/out/mlp_best.pkl"),
          "${ML_TEST_SAVE} is expanded in a double-quoted scalar");
    CHECK(!strcmp(text_at(root, "save_path"), "$HOME_not_expanded"),
          "$VAR without braces is left alone");
    CHECK(!strcmp(text_at(root, "algorithm.termination_criterion.channel_name"),
                  "valid_y_misclass"),
          "nested objects are reachable by path");
    CHECK(ml_cfg_path(root, "model.layers.2") == NULL && ml_cfg_path(root, "nope") == NULL,
          "missing paths give NULL");
    size_t len = 0;
    const char *src = ml_cfg_source_text(root, &len);
    CHECK(src && len == strlen(tutorial) && !strcmp(src, tutorial),
          "the original text is kept verbatim");
    CHECK(ml_cfg_source_text(ml_cfg_path(root, "model.nvis"), NULL) == src,
          "every node knows its document's text");
    ml_cfg_node_free(root);

    /* kinds, tags and nulls */
    CHECK_OK(ml_cfg_parse_string("a: ~\nb: null\nc:\nd: 'null'\ne: !!python/tuple [5, 5]\n"
                                 "f: !obj:Foo\ng: |\n  two\n  lines\nh: !!str 12\n",
                                 "k.yaml", &root),
             "a document with nulls, tuples and block scalars parses");
    if (root) {
        CHECK(ml_cfg_get(root, "a")->kind == ML_CFG_NULL &&
                  ml_cfg_get(root, "b")->kind == ML_CFG_NULL &&
                  ml_cfg_get(root, "c")->kind == ML_CFG_NULL,
              "~, null and nothing are NULL nodes");
        n = ml_cfg_get(root, "d");
        CHECK(n->kind == ML_CFG_SCALAR && n->quoted && !strcmp(n->text, "null"),
              "'null' quoted is a string");
        n = ml_cfg_get(root, "e");
        CHECK(n->kind == ML_CFG_SEQ && n->n == 2 && n->yaml_tag &&
                  !strcmp(n->yaml_tag, "tag:yaml.org,2002:python/tuple"),
              "!!python/tuple is a list that keeps its tag");
        n = ml_cfg_get(root, "f");
        CHECK(n->kind == ML_CFG_MAP && n->n == 0 && !strcmp(n->tag, "Foo"),
              "!obj:Foo with nothing after it is an object without parameters");
        n = ml_cfg_get(root, "g");
        CHECK(n->kind == ML_CFG_SCALAR && n->quoted && !strcmp(n->text, "two\nlines\n"),
              "a block literal is a (quoted) string");
        n = ml_cfg_get(root, "h");
        CHECK(n->kind == ML_CFG_SCALAR && n->quoted && !strcmp(n->text, "12"),
              "!!str makes a string");
        ml_cfg_node_free(root);
    }
    CHECK_OK(ml_cfg_parse_string("", "empty.yaml", &root), "an empty document parses");
    CHECK(root && root->kind == ML_CFG_NULL, "to a NULL node");
    ml_cfg_node_free(root);
    root = NULL;
    CHECK_OK(ml_cfg_parse_string("é: [1, 2]\nb: ${ML_TEST_DATA}\n", "-", &root),
             "a document from '-' parses");
    CHECK(root && pos_is(root->key_pos[1], "<stdin>", 2, 1) &&
              pos_is(ml_cfg_get(root, "é")->pos, "<stdin>", 1, 4),
          "'-' is shown as <stdin>; columns count characters, not bytes");
    ml_cfg_node_free(root);
}

static void test_parse_errors(void)
{
    ml_cfg_node *root = (ml_cfg_node *)1;
    unsetenv("PYLEARN2_DATA_PATH");
    unsetenv("ML_TEST_UNSET");
    CHECK_MSG(ml_cfg_parse_string("!obj:Train {\n"
                                  "    dataset: !obj:MNIST {\n"
                                  "       path: '${PYLEARN2_DATA_PATH}/mnist.h5' }\n"
                                  "}\n",
                                  "exp.yaml", &root),
              "exp.yaml:3:15: environment variable 'PYLEARN2_DATA_PATH' is not set",
              "an unset variable is an error at its '${'");
    CHECK(root == NULL, "a failed parse gives no tree");
    CHECK_MSG(ml_cfg_parse_string("a: b\nc: 'x ${ML_TEST_DATA} y\n  ${ML_TEST_UNSET}'\n",
                                  "exp.yaml", &root),
              "exp.yaml:3:3: environment variable 'ML_TEST_UNSET' is not set",
              "the position of the second '${' of a multi-line scalar");
    CHECK_MSG(ml_cfg_parse_string("a: ${ML_TEST_DATA\n", "exp.yaml", &root),
              "exp.yaml:1:4: unterminated '${' (write '${NAME}')", "an unterminated '${'");
    CHECK_MSG(ml_cfg_parse_string("a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: h: i\n", "exp.yaml",
                                  &root),
              "exp.yaml:7:5: mapping values are not allowed in this context",
              "a syntax error carries libyaml's problem and mark");
    CHECK_MSG(ml_cfg_parse_string("a: [1, 2\nb: 3\n", "exp.yaml", &root),
              "exp.yaml:2:2: did not find expected ',' or ']'", "an unclosed flow sequence");
    CHECK_MSG(ml_cfg_parse_string("a: 1\n\xff: 2\n", "exp.yaml", &root),
              "exp.yaml:2:1: invalid leading UTF-8 octet", "invalid UTF-8 is positioned");
    CHECK_MSG(ml_cfg_parse_string("!obj:SGD {\n  learning_rate: 0.1,\n  batch_size: 10,\n"
                                  "  learning_rate: 0.2 }\n",
                                  "exp.yaml", &root),
              "exp.yaml:4:3: duplicate key 'learning_rate' (first on line 2)",
              "a duplicate key is an error at the second one");
    CHECK_MSG(ml_cfg_parse_string("a: &x 1\nb: *y\n", "exp.yaml", &root),
              "exp.yaml:2:4: undefined alias '*y'", "an undefined alias is an error");
    CHECK_MSG(ml_cfg_parse_string("a: &x [1, *x]\n", "exp.yaml", &root),
              "exp.yaml:1:11: alias '*x' refers to a node that contains it",
              "a recursive alias is an error");
    CHECK_MSG(ml_cfg_parse_string("model: !pkl: 'model.pkl'\n", "exp.yaml", &root),
              "exp.yaml:1:8: '!pkl:' is not supported: pickled Python objects cannot be loaded",
              "!pkl: is refused");
    CHECK_MSG(ml_cfg_parse_string("x: !import 'pylearn2.costs.mlp.Default'\n", "exp.yaml",
                                  &root),
              "exp.yaml:1:4: '!import' is not supported: only registered components can be "
              "built (write '!obj:Name { ... }')",
              "!import is refused");
    CHECK_MSG(ml_cfg_parse_string("x: !ob:SGD {}\n", "exp.yaml", &root),
              "exp.yaml:1:4: unknown tag '!ob:SGD' (components are written '!obj:Name { ... }')",
              "an unknown tag is an error");
    CHECK_MSG(ml_cfg_parse_string("x: !obj:SGD [1]\n", "exp.yaml", &root),
              "exp.yaml:1:4: '!obj:SGD' must be followed by a mapping of parameters ('{ ... }')",
              "!obj: on a list is an error");
    CHECK_MSG(ml_cfg_parse_string("a: 1\n---\nb: 2\n", "exp.yaml", &root),
              "exp.yaml:2:1: only one document is allowed", "a second document is an error");
    CHECK_MSG(ml_cfg_parse_string("base: &b {x: 1}\nc: {<<: *b}\n", "exp.yaml", &root),
              "exp.yaml:2:5: merge keys ('<<') are not supported", "merge keys are refused");
    char *deep = malloc(2 * 1500 + 8);
    if (deep) {
        strcpy(deep, "a: ");
        memset(deep + 3, '[', 1500);
        memset(deep + 1503, ']', 1500);
        strcpy(deep + 3003, "\n");
        CHECK_MSG(ml_cfg_parse_string(deep, "exp.yaml", &root),
                  "exp.yaml:1:1003: nested too deeply (more than 1000 levels)",
                  "absurdly deep nesting is refused");
        free(deep);
    }
    CHECK_MSG(ml_cfg_parse_file("/nonexistent/exp.yaml", &root),
              "/nonexistent/exp.yaml: cannot open: No such file or directory",
              "a missing file is an I/O error");
}

static void test_file(void)
{
    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        CHECK(0, "a temporary file can be made");
        return;
    }
    fputs(sgd_exp, f);
    fclose(f);
    ml_cfg_node *root = NULL;
    CHECK_OK(ml_cfg_parse_file(path, &root), "a file parses");
    CHECK(root && root->pos.file && !strcmp(root->pos.file, path) && root->pos.line == 1,
          "positions name the file");
    CHECK(root && !strcmp(ml_cfg_source_text(root, NULL), sgd_exp), "the file's text is kept");
    ml_cfg_node_free(root);
    remove(path);
}

static void test_override(void)
{
    ml_cfg_node *root = NULL;
    CHECK_OK(ml_cfg_parse_string(tutorial, "exp.yaml", &root), "the tutorial parses again");
    if (!root)
        return;
    const ml_cfg_node *ds = ml_cfg_get(root, "dataset");

    CHECK_OK(ml_cfg_override(root, "algorithm.batch_size=5000"), "-s sets a scalar");
    const ml_cfg_node *n = ml_cfg_path(root, "algorithm.batch_size");
    CHECK(n && !strcmp(n->text, "5000") && !n->quoted && n->kind == ML_CFG_SCALAR,
          "algorithm.batch_size is now 5000");
    CHECK(n && pos_is(n->pos, "-s algorithm.batch_size", 0, 0),
          "the value is positioned by its option");
    CHECK_OK(ml_cfg_override(root, "algorithm.termination_criterion.channel_name=\"train_nll\""),
             "-s sets a nested, quoted scalar");
    n = ml_cfg_path(root, "algorithm.termination_criterion.channel_name");
    CHECK(n && !strcmp(n->text, "train_nll") && n->quoted, "to the quoted string train_nll");
    CHECK_OK(ml_cfg_override(root, "model.layers.0.dim=200"), "-s walks a list index");
    CHECK(!strcmp(text_at(root, "model.layers.0.dim"), "200"), "model.layers.0.dim is 200");
    CHECK_OK(ml_cfg_override(root, "model.layers.0.irange=0.05"), "-s adds a new key");
    n = ml_cfg_path(root, "model.layers.0");
    CHECK(n && n->n == 4 && !strcmp(n->keys[3], "irange") &&
              pos_is(n->key_pos[3], "-s model.layers.0.irange", 0, 0),
          "the new key comes last, positioned by its option");
    CHECK_OK(ml_cfg_override(root, "extensions.0.save_path=[1, 2]"), "-s takes a flow list");
    n = ml_cfg_path(root, "extensions.0.save_path");
    CHECK(n && n->kind == ML_CFG_SEQ && n->n == 2, "a list value");
    CHECK_OK(ml_cfg_override(root, "extensions.0.save_path=${ML_TEST_SAVE}/best.h5"),
             "-s expands ${VAR}");
    CHECK(!strcmp(text_at(root, "extensions.0.save_path"), "/tmp/out/best.h5"),
          "to the environment's value");
    CHECK_OK(ml_cfg_override(root, "algorithm.termination_criterion="
                                   "!obj:EpochCounter {max_epochs: 3}"),
             "-s takes an object");
    n = ml_cfg_path(root, "algorithm.termination_criterion");
    CHECK(n && n->tag && !strcmp(n->tag, "EpochCounter") &&
              !strcmp(text_at(root, "algorithm.termination_criterion.max_epochs"), "3"),
          "algorithm.termination_criterion is now !obj:EpochCounter");
    CHECK_OK(ml_cfg_override(root, "model.seed="), "-s with an empty value");
    n = ml_cfg_path(root, "model.seed");
    CHECK(n && n->kind == ML_CFG_NULL, "sets null");

    /* replacing an anchored node in place: its aliases see the new value */
    CHECK_OK(ml_cfg_override(root, "dataset=!obj:MNIST {which_set: test}"),
             "-s replaces the anchored dataset");
    CHECK(ml_cfg_get(root, "dataset") == ds &&
              ml_cfg_path(root, "algorithm.monitoring_dataset.train") == ds,
          "in place: the alias still refers to it");
    CHECK(!strcmp(ds->tag, "MNIST") && !strcmp(text_at(root, "dataset.which_set"), "test") &&
              ds->anchor && !strcmp(ds->anchor, "train"),
          "with the new value and the old anchor");
    CHECK_OK(ml_cfg_override(root, "algorithm.monitoring_dataset.valid=*train"),
             "-s takes an alias of the document");
    CHECK(ml_cfg_path(root, "algorithm.monitoring_dataset.valid") == ds,
          "monitoring_dataset.valid is now the dataset node");

    /* errors */
    CHECK_MSG(ml_cfg_override(root, "algorithm.monitoring_datset.x=1"),
              "-s algorithm.monitoring_datset.x: no key 'monitoring_datset' in "
              "!obj:pylearn2.training_algorithms.bgd.BGD (did you mean 'monitoring_dataset'?)",
              "a misspelt path element is suggested");
    CHECK_MSG(ml_cfg_override(root, "algorithm.monitoring_dataset.tset.which_set=x"),
              "-s algorithm.monitoring_dataset.tset.which_set: no key 'tset' in "
              "'algorithm.monitoring_dataset' (did you mean 'test'?)",
              "an untagged mapping is named by its path");
    CHECK_MSG(ml_cfg_override(root, "modle.nvis=3"),
              "-s modle.nvis: no key 'modle' in !obj:pylearn2.train.Train (did you mean "
              "'model'?)",
              "a misspelt first element");
    CHECK_MSG(ml_cfg_override(root, "model.layers.5.dim=1"),
              "-s model.layers.5.dim: no item '5' in 'model.layers' (a list of 2)",
              "a list index out of range");
    CHECK_MSG(ml_cfg_override(root, "model.layers.x.dim=1"),
              "-s model.layers.x.dim: no item 'x' in 'model.layers' (a list of 2)",
              "a list index that is not a number");
    CHECK_MSG(ml_cfg_override(root, "model.layers.2=!obj:Softmax {}"),
              "-s model.layers.2: no item '2' in 'model.layers' (a list of 2)",
              "the last index must exist too");
    CHECK_MSG(ml_cfg_override(root, "model.nvis.x=1"),
              "-s model.nvis.x: cannot set 'x' inside 'model.nvis' (a scalar)",
              "a scalar has no keys");
    CHECK_MSG(ml_cfg_override(root, "model.nvis"), "-s model.nvis: expected PATH=VALUE",
              "an assignment needs '='");
    CHECK_MSG(ml_cfg_override(root, "model..nvis=1"), "-s model..nvis: empty element in path",
              "an empty path element");
    CHECK_MSG(ml_cfg_override(root, "model.nvis=[1,"),
              "-s model.nvis: did not find expected node content",
              "a value with a syntax error");
    CHECK_MSG(ml_cfg_override(root, "model.nvis=*nope"), "-s model.nvis: undefined alias '*nope'",
              "a value with an unknown alias");
    CHECK_MSG(ml_cfg_override(root, "dataset.which_set=*train"),
              "-s dataset.which_set: the value refers to a node that contains it",
              "a value that would make a cycle");
    CHECK(!strcmp(text_at(root, "model.nvis"), "784"), "failed overrides change nothing");

    /* emit, parse again: the same tree, the same sharing */
    char *text = NULL;
    CHECK_OK(ml_cfg_emit(root, &text), "the overridden tree is written");
    ml_cfg_node *again = NULL;
    if (text)
        CHECK_OK(ml_cfg_parse_string(text, "emitted.yaml", &again), "and read back");
    CHECK(again && trees_equal(root, again), "to an equal tree");
    CHECK(again && ml_cfg_path(again, "algorithm.monitoring_dataset.train") ==
                       ml_cfg_get(again, "dataset") &&
              ml_cfg_path(again, "algorithm.monitoring_dataset.valid") ==
                  ml_cfg_get(again, "dataset"),
          "aliases still share one node");
    CHECK(text && strstr(text, "dataset: &train !obj:MNIST {\n") &&
              strstr(text, "train: *train,\n") && strstr(text, "!obj:pylearn2.train.Train {\n"),
          "in the !obj: style with anchors kept");
    char *text2 = NULL;
    if (again)
        CHECK_OK(ml_cfg_emit(again, &text2), "the re-read tree is written");
    CHECK(text && text2 && !strcmp(text, text2), "writing is stable across a round trip");
    if (text && getenv("TEST_CONFIG_SHOW"))
        fputs(text, stderr);
    ml_free(text);
    ml_free(text2);
    ml_cfg_node_free(again);
    ml_cfg_node_free(root);

    /* scalars that need quoting */
    CHECK_OK(ml_cfg_parse_string("a: 'it''s: #1, [x]'\nb: \"tab\\there\"\nc: -0.5\n"
                                 "d: 'true'\ne: ''\nf: x y\ng: [a, 'b', ~]\n'k: 1': 2\nh: 5:0\n"
                                 "i: -x\nj: a#b\nk: '-'\n",
                                 "q.yaml", &root),
             "a document with awkward scalars parses");
    if (root) {
        CHECK_MSG(ml_cfg_override(root, "f=*x"), "-s f: undefined alias '*x'",
                  "an alias of an anchor the document lacks");
        text = NULL;
        CHECK_OK(ml_cfg_emit(root, &text), "awkward scalars are written");
        again = NULL;
        if (text)
            CHECK_OK(ml_cfg_parse_string(text, "emitted.yaml", &again), "and read back");
        CHECK(again && trees_equal(root, again), "to an equal tree");
        ml_free(text);
        ml_cfg_node_free(again);
        ml_cfg_node_free(root);
    }
}

static void test_register(void)
{
    for (int i = 0; i < N_TOYS; i++)
        CHECK_OK(ml_cfg_register(all_toys[i]), "register %s", all_toys[i]->name);
    CHECK_MSG(ml_cfg_register(&sgd_c), "component 'SGD' is already registered",
              "a name registers once");
    static const char *const dup_aliases[] = {"pylearn2.training_algorithms.sgd.SGD", NULL};
    static const ml_component dup = {"SGD2", dup_aliases, "algorithm", NULL, toy_construct,
                                     toy_destroy, ""};
    CHECK_MSG(ml_cfg_register(&dup),
              "component 'SGD2': alias 'pylearn2.training_algorithms.sgd.SGD' is already "
              "registered",
              "an alias registers once");
    static const ml_cfg_param bad_def[] = {
        {.name = "rate", .type = ML_CFG_T_FLOAT, .def = "fast", .doc = ""}, {0}};
    static const ml_component bad1 = {"Bad1", NULL, "algorithm", bad_def, toy_construct, NULL,
                                      ""};
    CHECK_MSG(ml_cfg_register(&bad1),
              "default of 'rate' of Bad1: 'rate' of Bad1 expects a number, found 'fast'",
              "a default must fit its type");
    static const ml_cfg_param bad_req[] = {
        {.name = "rate", .type = ML_CFG_T_FLOAT, .required = 1, .def = "1", .doc = ""}, {0}};
    static const ml_component bad2 = {"Bad2", NULL, "algorithm", bad_req, toy_construct, NULL,
                                      ""};
    CHECK_MSG(ml_cfg_register(&bad2),
              "component 'Bad2': parameter 'rate' is required and has a default",
              "a required parameter has no default");
    static const ml_cfg_param bad_list[] = {{.name = "xs", .type = ML_CFG_T_LIST, .doc = ""},
                                            {0}};
    static const ml_component bad3 = {"Bad3", NULL, "algorithm", bad_list, toy_construct, NULL,
                                      ""};
    CHECK_MSG(ml_cfg_register(&bad3),
              "component 'Bad3': parameter 'xs' needs an element type (not a list or map)",
              "a list needs an element type");
    static const ml_component bad4 = {"Bad4", NULL, NULL, NULL, toy_construct, NULL, ""};
    CHECK_MSG(ml_cfg_register(&bad4), "component 'Bad4' has no category",
              "a component needs a category");

    CHECK(ml_cfg_find("SGD") == &sgd_c &&
              ml_cfg_find("pylearn2.training_algorithms.sgd.SGD") == &sgd_c,
          "the short name and the Pylearn2 name find the same component");
    CHECK(ml_cfg_find("Bad1") == NULL && ml_cfg_find("sgd") == NULL,
          "failed registrations leave nothing; names are case-sensitive");
    const ml_component *layers[16];
    int n = ml_cfg_components("layer", layers, 16);
    CHECK(n == 6 && layers[0] == &mlp_c && layers[1] == &sigmoid_c && layers[5] == &conv_c,
          "ml_cfg_components lists a category in registration order (MLP is also a layer)");
    CHECK(ml_cfg_components(NULL, NULL, 0) == N_TOYS, "and all of them");
    CHECK(ml_cfg_component_is(&mlp_c, "model") && ml_cfg_component_is(&mlp_c, "layer") &&
              !ml_cfg_component_is(&mlp_c, "dataset"),
          "a component can have several categories");
}

static const toy_val *obj_val(const toy *t, const char *name)
{
    return t ? val(t, name) : NULL;
}

static void test_instantiate(void)
{
    ml_cfg_node *root = NULL;
    CHECK_OK(ml_cfg_parse_string(tutorial, "exp.yaml", &root), "the tutorial parses for building");
    if (!root)
        return;
    ml_cfg_ctx *ctx = NULL;
    CHECK_OK(ml_cfg_ctx_new(&ctx), "a context");
    toy *train = NULL;
    int before = toys_live;
    n_destroyed = 0;
    CHECK_OK(ml_cfg_instantiate(ctx, root, "train", (void **)&train), "the tutorial builds");
    if (!train) {
        ml_cfg_ctx_free(ctx);
        ml_cfg_node_free(root);
        return;
    }
    CHECK(train->c == &train_c, "the root is a Train");
    toy *ds = obj_val(train, "dataset")->obj;
    toy *model = obj_val(train, "model")->obj;
    toy *alg = obj_val(train, "algorithm")->obj;
    CHECK(ds && ds->c == &mnist_c && !strcmp(obj_val(ds, "which_set")->s, "train") &&
              obj_val(ds, "stop")->i == 50000 && obj_val(ds, "start")->i == 0 &&
              !strcmp(obj_val(ds, "path")->s, "/data/mnist/mnist.h5"),
          "the dataset has its parameters");
    CHECK(model && model->c == &mlp_c && obj_val(model, "layers")->n == 2 &&
              obj_val(model, "nvis")->i == 784 && obj_val(model, "seed")->i == 1234,
          "the model has 2 layers, nvis 784 and the default seed 1234");
    toy *h0 = model ? obj_val(model, "layers")->objs[0] : NULL;
    toy *y = model ? obj_val(model, "layers")->objs[1] : NULL;
    CHECK(h0 && h0->c == &sigmoid_c && obj_val(h0, "dim")->i == 500 &&
              obj_val(h0, "sparse_init")->i == 15 && !obj_val(h0, "irange")->set,
          "layer h0: a Sigmoid of 500, sparse_init 15, no irange");
    CHECK(y && y->c == &softmax_c && obj_val(y, "n_classes")->i == 10 &&
              obj_val(y, "irange")->set && obj_val(y, "irange")->f == 0.0,
          "layer y: a Softmax of 10 with irange 0. (given, not the default)");
    CHECK(alg && alg->c == &bgd_c && obj_val(alg, "batch_size")->i == 10000 &&
              obj_val(alg, "conjugate")->b == 1 && obj_val(alg, "updates_per_batch")->i == 10 &&
              !strcmp(obj_val(alg, "line_search_mode")->s, "exhaustive"),
          "the algorithm: BGD with its values (conjugate: 1 is true)");
    const toy_val *mon = obj_val(alg, "monitoring_dataset");
    CHECK(mon && mon->n == 3 && !strcmp(mon->keys[0], "train") &&
              !strcmp(mon->keys[1], "valid") && !strcmp(mon->keys[2], "test"),
          "monitoring_dataset maps train, valid, test in order");
    CHECK(mon && mon->objs[0] == ds, "*train is the very dataset object of &train");
    CHECK(mon && mon->objs[1] != ds && mon->objs[1]->c == &mnist_c &&
              obj_val(mon->objs[1], "start")->i == 50000,
          "valid is another MNIST");
    toy *term = alg ? obj_val(alg, "termination_criterion")->obj : NULL;
    CHECK(term && term->c == &monitor_c && obj_val(term, "N")->i == 10 &&
              obj_val(term, "prop_decrease")->f == 0.0,
          "the termination criterion gets its defaults");
    const toy_val *ext = obj_val(train, "extensions");
    CHECK(ext && ext->n == 1 && ext->objs[0]->c == &savebest_c, "one extension");
    CHECK(toys_live - before == 10, "10 distinct objects were built (the alias shares one)");
    void *again = NULL;
    CHECK_OK(ml_cfg_instantiate(ctx, ml_cfg_get(root, "dataset"), "dataset", &again),
             "instantiating a built node again");
    CHECK(again == ds, "gives the same object");
    CHECK_MSG(ml_cfg_instantiate(ctx, ml_cfg_get(root, "dataset"), "model", &again),
              "exp.yaml:2:14: 'MNIST' is a dataset, expected a model",
              "a memoised object still has its category checked");
    CHECK(ml_cfg_ctx_component_of(ctx, ds) == &mnist_c, "the context knows who built what");
    CHECK_MSG(ml_cfg_ctx_take(ctx, &before), "the configuration context does not own this object",
              "taking an object the context does not own fails");
    ml_cfg_ctx_free(ctx);
    CHECK(toys_live == before, "freeing the context destroys every object");
    int ordered = n_destroyed == 10;
    for (int i = 1; i < n_destroyed; i++)
        if (destroyed[i] >= destroyed[i - 1])
            ordered = 0;
    CHECK(ordered, "in reverse order of creation");

    /* taking ownership */
    CHECK_OK(ml_cfg_ctx_new(&ctx), "a second context");
    train = NULL;
    CHECK_OK(ml_cfg_instantiate(ctx, root, NULL, (void **)&train), "builds with any category");
    CHECK_OK(ml_cfg_ctx_take(ctx, train), "the caller takes the Train");
    ml_cfg_ctx_free(ctx);
    CHECK(toys_live == before + 1, "the context left the taken object alone");
    toy_destroy(train);
    CHECK(toys_live == before, "which its taker frees");
    ml_cfg_node_free(root);
}

static void test_defaults_and_getters(void)
{
    /* Probe reads a..big; look at what its constructor saw */
    ml_cfg_node *root = NULL;
    CHECK_OK(ml_cfg_parse_string("!obj:Probe {\n  b: null,\n  d: [1, 2],\n"
                                 "  rates: [0.5, 1e-3, 2],\n  big: 2147483648\n}\n",
                                 "exp.yaml", &root),
             "a probe parses");
    ml_cfg_ctx *ctx = NULL;
    ml_cfg_ctx_new(&ctx);
    toy *p = NULL;
    CHECK_MSG(ml_cfg_instantiate(ctx, root, "probe", (void **)&p),
              "exp.yaml:5:8: 'big' of Probe is out of range, found '2147483648'",
              "an int parameter out of int's range is an error at its value");
    ml_cfg_ctx_free(ctx);
    ml_cfg_node_free(root);

    CHECK_OK(ml_cfg_parse_string("!obj:Probe {\n  b: null,\n  d: [1, 2],\n"
                                 "  rates: [0.5, 1e-3, 2],\n  big: -7\n}\n",
                                 "exp.yaml", &root),
             "a probe parses");
    ml_cfg_ctx_new(&ctx);
    ml_cfg_ctx_set_user(ctx, &ctx);
    CHECK(ml_cfg_ctx_user(ctx) == &ctx, "a context carries a user pointer");
    p = NULL;
    CHECK_OK(ml_cfg_instantiate(ctx, root, "probe", (void **)&p), "the probe builds");
    if (p) {
        CHECK(obj_val(p, "a")->set && obj_val(p, "a")->f == 0.5,
              "an absent float takes its default");
        CHECK(!obj_val(p, "b")->set, "null means not set");
        CHECK(obj_val(p, "c")->set && !strcmp(obj_val(p, "c")->s, "x"),
              "an absent string takes its default");
        CHECK(obj_val(p, "d")->n == ML_CFG_SEQ, "ANY gives the node");
        const toy_val *r = obj_val(p, "rates");
        CHECK(r->n == 3 && r->fl[0] == 0.5f && r->fl[1] == 1e-3f && r->fl[2] == 2.0f,
              "a list of floats (1e-3 and 2 are numbers)");
        toy *rule = obj_val(p, "rule")->obj;
        CHECK(rule && rule->c == &momentum_c && obj_val(rule, "init_momentum")->f == 0.25 &&
                  obj_val(rule, "nesterov_momentum")->b == 0,
              "an object default is built");
        CHECK(obj_val(p, "flag")->set && obj_val(p, "flag")->b == 0, "a False default");
        CHECK(obj_val(p, "big")->i == -7, "a negative int");
    }
    ml_cfg_ctx_free(ctx);
    ml_cfg_node_free(root);
}

/* A component whose constructor tries the getters' failure paths. */
static char getter_msgs[4][256];
static ml_status getters_construct(ml_cfg_args *a, void **out)
{
    float f;
    int i;
    const char *s;
    ml_status st;
    st = ml_cfg_args_float(a, "opt", &f);
    snprintf(getter_msgs[0], sizeof getter_msgs[0], "%d %s", st, ml_last_error());
    st = ml_cfg_args_int(a, "any", &i);
    snprintf(getter_msgs[1], sizeof getter_msgs[1], "%d %s", st, ml_last_error());
    st = ml_cfg_args_string(a, "undeclared", &s);
    snprintf(getter_msgs[2], sizeof getter_msgs[2], "%d %s", st, ml_last_error());
    snprintf(getter_msgs[3], sizeof getter_msgs[3], "given=%d has=%d given=%d has=%d",
             ml_cfg_args_given(a, "opt"), ml_cfg_args_has(a, "opt"),
             ml_cfg_args_given(a, "any"), ml_cfg_args_has(a, "any"));
    *out = NULL;
    return ML_OK;
}
static const ml_cfg_param getters_params[] = {
    {.name = "opt", .type = ML_CFG_T_FLOAT, .doc = "optional"},
    {.name = "any", .type = ML_CFG_T_ANY, .doc = "anything"},
    {0}};
static const ml_component getters_c = {"Getters", NULL, "probe", getters_params,
                                       getters_construct, NULL, "tries getters"};

static void test_getters(void)
{
    CHECK_OK(ml_cfg_register(&getters_c), "register Getters");
    ml_cfg_node *root = NULL;
    CHECK_OK(ml_cfg_parse_string("!obj:Getters {\n  any: lots }\n", "exp.yaml", &root),
             "Getters parses");
    ml_cfg_ctx *ctx = NULL;
    ml_cfg_ctx_new(&ctx);
    void *obj = (void *)1;
    CHECK_OK(ml_cfg_instantiate(ctx, root, "probe", &obj), "Getters builds");
    CHECK(obj == NULL, "a constructor may give NULL");
    CHECK(!strcmp(getter_msgs[0], "-7 exp.yaml:1:1: Getters needs 'opt'"),
          "reading an unset parameter: ML_ENOTFOUND, 'needs'");
    CHECK(!strcmp(getter_msgs[1],
                  "-6 exp.yaml:2:8: 'any' of Getters expects an integer, found 'lots'"),
          "reading ANY with the wrong getter: a type error at the value");
    CHECK(!strcmp(getter_msgs[2],
                  "-6 exp.yaml:1:1: Getters reads 'undeclared', which is not in its "
                  "parameter table"),
          "reading an undeclared parameter: ML_EINVAL");
    CHECK(!strcmp(getter_msgs[3], "given=0 has=0 given=1 has=1"),
          "given and has for an absent and a given parameter");
    if (strcmp(getter_msgs[0], "-7 exp.yaml:1:1: Getters needs 'opt'"))
        printf("#   %s\n#   %s\n#   %s\n", getter_msgs[0], getter_msgs[1], getter_msgs[2]);
    ml_cfg_ctx_free(ctx);
    ml_cfg_node_free(root);
}

static void test_instantiate_errors(void)
{
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rat: 0.1\n}\n", "algorithm", NULL),
              "exp.yaml:2:3: SGD has no parameter 'learning_rat' (did you mean 'learning_rate'?)",
              "an unknown parameter, with a suggestion");
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rate: 0.1, momentum: 0.9\n}\n", "algorithm", NULL),
              "exp.yaml:2:23: SGD has no parameter 'momentum'",
              "an unknown parameter without a close one");
    CHECK_MSG(try_build("!obj:MLP {\n  layers: [\n    !obj:RectifiedLiner { dim: 10 }\n  ]\n}\n",
                        "model", NULL),
              "exp.yaml:3:5: unknown component 'RectifiedLiner' (did you mean 'RectifiedLinear'?)",
              "an unknown component, with a suggestion");
    CHECK_MSG(try_build("!obj:MLP {\n  layers: [\n    !obj:pylearn2.models.mlp.RectifiedLiner {}\n"
                        "  ]\n}\n",
                        "model", NULL),
              "exp.yaml:3:5: unknown component 'pylearn2.models.mlp.RectifiedLiner' (did you "
              "mean 'pylearn2.models.mlp.RectifiedLinear'?)",
              "an unknown Pylearn2 name suggests the Pylearn2 name");
    CHECK_MSG(try_build("!obj:Frobnicator {}\n", NULL, NULL),
              "exp.yaml:1:1: unknown component 'Frobnicator'",
              "an unknown component, far from all");
    CHECK_MSG(try_build("!obj:MLP {\n  layers: [ !obj:SGD { learning_rate: 1 } ]\n}\n", "model",
                        NULL),
              "exp.yaml:2:13: 'SGD' is an algorithm, expected a layer",
              "a component of the wrong category");
    CHECK_MSG(try_build("!obj:SGD {\n  batch_size: 10\n}\n", "algorithm", NULL),
              "exp.yaml:1:1: SGD needs 'learning_rate'", "a missing required parameter");
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rate: null\n}\n", "algorithm", NULL),
              "exp.yaml:2:18: 'learning_rate' of SGD cannot be null",
              "a required parameter cannot be null");
    CHECK_MSG(try_build("!obj:SGD {\n  batch_size: 10, learning_rate: fast\n}\n", "algorithm",
                        NULL),
              "exp.yaml:2:34: 'learning_rate' of SGD expects a number, found 'fast'",
              "a float parameter given a word");
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rate: '0.1'\n}\n", "algorithm", NULL),
              "exp.yaml:2:18: 'learning_rate' of SGD expects a number, found '0.1' (quoted)",
              "a quoted number is a string");
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rate: 0.1, batch_size: 1.5\n}\n", "algorithm",
                        NULL),
              "exp.yaml:2:35: 'batch_size' of SGD expects an integer, found '1.5'",
              "an int parameter given a fraction");
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rate: 0.1,\n  learning_rule: !obj:Momentum {\n"
                        "    init_momentum: .5, nesterov_momentum: maybe }\n}\n",
                        "algorithm", NULL),
              "exp.yaml:4:43: 'nesterov_momentum' of Momentum expects true or false, found "
              "'maybe'",
              "a bool parameter given a word, inside a nested object");
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rate: 0.1, cost: 5\n}\n", "algorithm", NULL),
              "exp.yaml:2:29: 'cost' of SGD expects a cost (!obj:Name { ... }), found '5'",
              "an object parameter given a number");
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rate: 0.1, learning_rule: {init_momentum: 1}\n}\n",
                        "algorithm", NULL),
              "exp.yaml:2:38: 'learning_rule' of SGD expects a learning_rule (!obj:Name { ... }), "
              "found a mapping without '!obj:'",
              "an object parameter given an untagged mapping");
    CHECK_MSG(try_build("!obj:MLP {\n  layers: [ !obj:Sigmoid { layer_name: a, dim: 2 }, 3 ]\n}\n",
                        "model", NULL),
              "exp.yaml:2:53: item 1 of 'layers' of MLP expects a layer (!obj:Name { ... }), "
              "found '3'",
              "a list item of the wrong type");
    CHECK_MSG(try_build("!obj:MLP {\n  layers: !obj:Sigmoid { layer_name: a, dim: 2 }\n}\n",
                        "model", NULL),
              "exp.yaml:2:11: 'layers' of MLP expects a list of layer objects, found "
              "!obj:Sigmoid",
              "a list parameter given one object");
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rate: 0.1,\n  monitoring_dataset: { train: "
                        "!obj:Sigmoid { layer_name: a, dim: 2 } }\n}\n",
                        "algorithm", NULL),
              "exp.yaml:3:32: 'Sigmoid' is a layer, expected a dataset",
              "a map entry of the wrong category");
    CHECK_MSG(try_build("!obj:SGD {\n  learning_rate: 0.1,\n"
                        "  monitoring_dataset: { train: 7 }\n}\n",
                        "algorithm", NULL),
              "exp.yaml:3:32: 'train' in 'monitoring_dataset' of SGD expects a dataset "
              "(!obj:Name { ... }), found '7'",
              "a map entry of the wrong type");
    CHECK_MSG(try_build("!obj:Conv {\n"
                        "  layer_name: c, output_channels: 8, kernel_shape: [5, 0]\n}\n",
                        "layer", NULL),
              "exp.yaml:2:56: item 1 of 'kernel_shape' of Conv expects a positive integer, found "
              "'0'",
              "a shape with a zero");
    CHECK_MSG(try_build("!obj:Conv {\n"
                        "  layer_name: c, output_channels: 8, pool_stride: [2, x]\n}\n",
                        "layer", NULL),
              "exp.yaml:2:55: item 1 of 'pool_stride' of Conv expects an integer, found 'x'",
              "an int list with a word");
    CHECK_MSG(try_build("!obj:Conv {\n"
                        "  layer_name: c, output_channels: 8, kernel_shape: [4, 4]\n}\n",
                        "layer", NULL),
              "exp.yaml:2:53: item 0 of 'kernel_shape' of Conv must be odd",
              "a constructor's error about a list item");
    CHECK_MSG(try_build("!obj:Linear {\n  layer_name: h0,\n  irange: -1\n}\n", "layer", NULL),
              "exp.yaml:3:11: 'irange' of Linear must be positive",
              "a constructor's error about a value is at the value");
    CHECK_MSG(try_build("!obj:Linear {\n  layer_name: h0\n}\n", "layer", NULL),
              "exp.yaml:1:1: Linear needs 'irange' or 'istdev'",
              "a constructor's error about the component is at the component");
    CHECK_MSG(try_build("!obj:Train {\n  model: !obj:MLP { layers: [] },\n"
                        "  dataset: !obj:MNIST { which_set: bogus }\n}\n",
                        "train", NULL),
              "exp.yaml:3:12: MNIST: bogus.h5: cannot open: No such file or directory",
              "an error from below the constructor gets the component's position");
    CHECK_MSG(try_build("hello\n", "train", NULL),
              "exp.yaml:1:1: expected a train (!obj:Name { ... }), found 'hello'",
              "the root must be an object");
    CHECK_MSG(try_build(sgd_exp, "train", "algorithm.learnin_rate=0.5"),
              "-s algorithm.learnin_rate: SGD has no parameter 'learnin_rate' (did you mean "
              "'learning_rate'?)",
              "a new key from -s is checked at instantiation");
    CHECK_MSG(try_build(sgd_exp, "train", "algorithm.learning_rate=fast"),
              "-s algorithm.learning_rate: 'learning_rate' of SGD expects a number, found 'fast'",
              "a value from -s is checked at instantiation");
    CHECK_MSG(try_build(sgd_exp, "train", "algorithm.learnin_rate.x=0.5"),
              "-s algorithm.learnin_rate.x: no key 'learnin_rate' in !obj:SGD (did you mean "
              "'learning_rate'?)",
              "a bad -s path is reported before instantiation");
    CHECK_OK(try_build(sgd_exp, "train", "algorithm.batch_size=7"), "a good -s builds");
    CHECK_OK(try_build(sgd_exp, "train",
                       "algorithm.learning_rule=!obj:Momentum {init_momentum: 0.9}"),
             "-s adds an optional object");
    CHECK_OK(try_build(sgd_exp, "train",
                       "algorithm=!obj:pylearn2.training_algorithms.sgd.SGD {learning_rate: 1}"),
             "the Pylearn2 name builds the same component");
    CHECK(toys_live == 0, "failed constructions leave no objects");
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static void test_reference(void)
{
    char *plain = NULL, *mdoc = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *f = open_memstream(&plain, &n1);
    ml_cfg_print_reference(f, 0);
    fclose(f);
    f = open_memstream(&mdoc, &n2);
    ml_cfg_print_reference(f, 1);
    fclose(f);
    int all_plain = 1, all_mdoc = 1;
    char want[256];
    for (int i = 0; i < N_TOYS; i++) {
        const ml_component *c = all_toys[i];
        if (!contains(plain, c->name) || !contains(plain, c->doc))
            all_plain = 0;
        snprintf(want, sizeof want, ".It Sy \"\\&%s\"\n", c->name);
        if (!contains(mdoc, want))
            all_mdoc = 0;
        for (const ml_cfg_param *p = c->params; p && p->name; p++) {
            snprintf(want, sizeof want, "    %-22s ", p->name);
            if (!contains(plain, want) || !contains(plain, p->doc))
                all_plain = 0;
            snprintf(want, sizeof want, ".It Ic \"\\&%s\" Ar ", p->name);
            if (!contains(mdoc, want) || !contains(mdoc, p->doc))
                all_mdoc = 0;
        }
    }
    CHECK(all_plain, "the text reference has every component and parameter with its doc");
    CHECK(all_mdoc, "the mdoc reference has every component and parameter with its doc");
    CHECK(contains(plain, "    learning_rate          float, required\n") &&
              contains(plain, "    batch_size             int, default 100\n") &&
              contains(plain, "    layers                 list of layer, required\n") &&
              contains(plain, "    kernel_shape           shape, default [5, 5]\n"),
          "the text reference shows types, required and defaults");
    CHECK(contains(mdoc, ".Ss \"\\&algorithm\"\n.Bl -tag -width Ds\n") &&
              contains(mdoc, ".It Ic \"\\&learning_rate\" Ar \"\\&float\" Pq required\n") &&
              contains(mdoc, ".It Ic \"\\&batch_size\" Ar \"\\&int\" Pq default Li \"\\&100\"\n") &&
              contains(mdoc, ".Li \"\\&pylearn2.training_algorithms.sgd.SGD\" .\n"),
          "the mdoc reference has sections, tags, types and defaults");
    if (getenv("TEST_CONFIG_REFERENCE")) {
        FILE *out = fopen(getenv("TEST_CONFIG_REFERENCE"), "w");
        if (out) {
            fputs(mdoc, out);
            fclose(out);
        }
    }
    free(plain);
    free(mdoc);
}

/* ml_cfg_flatten: one entry per value, keys as -s takes them, aliases once. */
static void test_flatten(void)
{
    static const char text[] =
        "!obj:Train {\n"
        "    dataset: &train !obj:HDF5Dataset { filename: 'train.h5' },\n"
        "    model: !obj:MLP { nvis: 784, layers: [\n"
        "        !obj:RectifiedLinear { layer_name: h0, dim: 500 },\n"
        "        !obj:Softmax { layer_name: y, n_classes: 10 } ] },\n"
        "    algorithm: !obj:SGD { learning_rate: 0.05, seed: ~, costs: [], opts: {},\n"
        "        learning_rule: !obj:Momentum { init_momentum: 0.9 },\n"
        "        monitoring_dataset: { train: *train } },\n"
        "}\n";
    static const char *const want[][2] = {
        {"dataset", "!obj:HDF5Dataset"},
        {"dataset.filename", "train.h5"},
        {"model", "!obj:MLP"},
        {"model.nvis", "784"},
        {"model.layers.0", "!obj:RectifiedLinear"},
        {"model.layers.0.layer_name", "h0"},
        {"model.layers.0.dim", "500"},
        {"model.layers.1", "!obj:Softmax"},
        {"model.layers.1.layer_name", "y"},
        {"model.layers.1.n_classes", "10"},
        {"algorithm", "!obj:SGD"},
        {"algorithm.learning_rate", "0.05"},
        {"algorithm.seed", "null"},
        {"algorithm.costs", "[]"},
        {"algorithm.opts", "{}"},
        {"algorithm.learning_rule", "!obj:Momentum"},
        {"algorithm.learning_rule.init_momentum", "0.9"},
        {"algorithm.monitoring_dataset.train", "*train"},
    };
    size_t n_want = sizeof want / sizeof want[0];
    ml_cfg_node *root = NULL;
    CHECK_OK(ml_cfg_parse_string(text, "flat.yaml", &root), "the flatten example parses");
    CHECK_OK(ml_cfg_override(root, "model.layers.0.dim=200"), "an override before flattening");
    ml_cfg_entry *e = NULL;
    size_t n = 0;
    CHECK_OK(ml_cfg_flatten(root, &e, &n), "a tree flattens");
    CHECK(n == n_want, "one entry per value (%zu, want %zu)", n, n_want);
    for (size_t i = 0; i < n && i < n_want; i++) {
        const char *value = strcmp(want[i][0], "model.layers.0.dim") == 0 ? "200" : want[i][1];
        CHECK(!strcmp(e[i].key, want[i][0]) && !strcmp(e[i].value, value),
              "entry %zu is %s: %s (got %s: %s)", i, want[i][0], value, e[i].key, e[i].value);
        const ml_cfg_node *at = ml_cfg_path(root, e[i].key);
        CHECK(at != NULL, "ml_cfg_path finds %s", e[i].key);
    }
    ml_cfg_entries_free(e, n);
    ml_cfg_node_free(root);

    /* what ml_cfg_emit writes flattens to the same entries */
    CHECK_OK(ml_cfg_parse_string(text, "flat.yaml", &root), "parses again");
    char *emitted = NULL;
    CHECK_OK(ml_cfg_emit(root, &emitted), "emits");
    ml_cfg_node *back = NULL;
    CHECK_OK(ml_cfg_parse_string(emitted, "emitted", &back), "the emitted text parses");
    ml_cfg_entry *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;
    CHECK_OK(ml_cfg_flatten(root, &e1, &n1), "flattens the original");
    CHECK_OK(ml_cfg_flatten(back, &e2, &n2), "flattens the emitted text");
    int same = n1 == n2;
    for (size_t i = 0; same && i < n1; i++)
        same = !strcmp(e1[i].key, e2[i].key) && !strcmp(e1[i].value, e2[i].value);
    CHECK(same, "the emitted text flattens to the same entries");
    ml_cfg_entries_free(e1, n1);
    ml_cfg_entries_free(e2, n2);
    ml_free(emitted);
    ml_cfg_node_free(back);
    ml_cfg_node_free(root);

    /* a scalar root, an empty tree */
    CHECK_OK(ml_cfg_parse_string("5", NULL, &root), "a scalar document");
    CHECK_OK(ml_cfg_flatten(root, &e, &n), "a scalar flattens");
    CHECK(n == 1 && !strcmp(e[0].key, "") && !strcmp(e[0].value, "5"), "a scalar root: key ''");
    ml_cfg_entries_free(e, n);
    ml_cfg_node_free(root);
    CHECK_OK(ml_cfg_flatten(NULL, &e, &n), "no tree flattens");
    CHECK(n == 0 && e == NULL, "no tree: no entries");
}

int main(void)
{
    ml_alloc_stats start = ml_alloc_stats_get();
    test_suggest();
    test_parse();
    test_parse_errors();
    test_file();
    test_override();
    test_flatten();
    test_register();
    test_instantiate();
    test_defaults_and_getters();
    test_getters();
    test_instantiate_errors();
    test_reference();
    ml_alloc_stats end = ml_alloc_stats_get();
    CHECK(end.bytes_live == start.bytes_live,
          "every byte is freed (%llu live at start, %llu at end)",
          (unsigned long long)start.bytes_live, (unsigned long long)end.bytes_live);
    CHECK(toys_live == 0, "no toy object is left");
    return harness_done();
}
