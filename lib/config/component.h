/* Components: what `!obj:Name { ... }` builds.
 *
 * Each component (SGD, MLP, RectifiedLinear, MNIST, ...) is described once by
 * an ml_component: its name, Pylearn2's full class names as aliases, its
 * category, a table of parameters (name, type, required or default, one-line
 * doc), and a constructor and destructor.  That one table drives the checks
 * and error messages of instantiation, the --help of programs and the
 * reference in ml-experiment(5) (ml_cfg_print_reference).
 *
 *     static const ml_cfg_param sgd_params[] = {
 *         {.name = "learning_rate", .type = ML_CFG_T_FLOAT, .required = 1,
 *          .doc = "the step size"},
 *         {.name = "batch_size", .type = ML_CFG_T_INT, .def = "100", .doc = "examples per step"},
 *         {.name = "cost", .type = ML_CFG_T_OBJECT, .category = "cost", .doc = "the objective"},
 *         {.name = "monitoring_dataset", .type = ML_CFG_T_MAP, .elem = ML_CFG_T_OBJECT,
 *          .category = "dataset", .doc = "channel prefix -> dataset"},
 *         {0}};
 *     static const char *const sgd_aliases[] = {"pylearn2.training_algorithms.sgd.SGD", NULL};
 *     static ml_status sgd_construct(ml_cfg_args *a, void **out)
 *     {
 *         float lr;
 *         int batch;
 *         void *cost = NULL;
 *         ML_TRY(ml_cfg_args_float(a, "learning_rate", &lr));
 *         if (lr <= 0)
 *             return ml_cfg_args_error(a, "learning_rate", ML_EINVAL, "must be positive");
 *         ML_TRY(ml_cfg_args_int(a, "batch_size", &batch));   // 100 when absent
 *         if (ml_cfg_args_has(a, "cost"))
 *             ML_TRY(ml_cfg_args_object(a, "cost", NULL, &cost));
 *         ...
 *     }
 *     static const ml_component sgd = {"SGD", sgd_aliases, "algorithm", sgd_params,
 *                                      sgd_construct, sgd_destroy, "stochastic gradient descent"};
 *     ml_cfg_register(&sgd);
 *
 * Instantiation (ml_cfg_instantiate) first checks the whole subtree against
 * the tables, before anything is built: the tag names a registered component
 * (by its name or any alias) of the expected category, every key is a
 * declared parameter, required ones are present and every value has its type,
 * recursively through objects, lists and maps.  Every failure is one message
 * with a position:
 *     exp.yaml:12:14: unknown component 'RectifiedLiner' (did you mean 'RectifiedLinear'?)
 *     exp.yaml:12:14: 'SGD' is an algorithm, expected a layer
 *     exp.yaml:15:9: SGD has no parameter 'learning_rat' (did you mean 'learning_rate'?)
 *     exp.yaml:10:3: SGD needs 'learning_rate'
 *     exp.yaml:15:24: 'learning_rate' of SGD expects a number, found 'fast'
 * Then it calls the constructor, which reads its parameters through the
 * ml_cfg_args accessors; an absent parameter takes the default from the table.
 * Objects are memoised per context: a node reached twice (an alias `*train`
 * of `&train`) gives the same object.  The context owns every object it built
 * and destroys them in reverse order of creation when freed, except those a
 * caller took with ml_cfg_ctx_take().
 *
 * Values.  FLOAT: a plain number (0.05, 1e-3, -.5, .inf, .nan; integers too);
 * INT: a plain integer (no fraction, no exponent); BOOL: true/false,
 * True/False, TRUE/FALSE, 1/0; STRING: any scalar (plain or quoted); quoted
 * scalars are strings only, never numbers or booleans.  OBJECT: a mapping
 * tagged `!obj:Name` whose component has the parameter's category (NULL: any
 * category).  LIST: a sequence of elem values; MAP: an untagged mapping from
 * strings to elem values; SHAPE: a sequence of positive integers ([5, 5]);
 * INT_LIST: a sequence of integers; ANY: anything, read with
 * ml_cfg_args_node.  `null` (or `~`, or nothing) given for an optional
 * parameter means "not set": the default does not apply and
 * ml_cfg_args_has() is 0; for a required one it is an error.
 *
 * The registry is a process-wide table filled once at startup (not
 * thread-safe while registering); lookups and instantiation in different
 * contexts may run in parallel once it is filled. */
#ifndef ML_CONFIG_COMPONENT_H
#define ML_CONFIG_COMPONENT_H

#include <stdint.h>
#include <stdio.h>

#include "config/yaml.h"
#include "core/error.h"

typedef enum {
    ML_CFG_T_FLOAT = 1,
    ML_CFG_T_INT,
    ML_CFG_T_BOOL,
    ML_CFG_T_STRING,
    ML_CFG_T_OBJECT,   /* of .category */
    ML_CFG_T_LIST,     /* of .elem (and .category when elem is OBJECT) */
    ML_CFG_T_MAP,      /* string -> .elem (and .category when elem is OBJECT) */
    ML_CFG_T_SHAPE,    /* list of positive integers */
    ML_CFG_T_INT_LIST, /* list of integers */
    ML_CFG_T_ANY,
} ml_cfg_type;

typedef struct {
    const char *name;     /* NULL ends a table */
    ml_cfg_type type;
    ml_cfg_type elem;     /* LIST and MAP: the type of the elements (not LIST or MAP) */
    const char *category; /* OBJECT, or LIST/MAP of OBJECT: the category required (NULL: any) */
    int required;         /* 1: must be given (then .def must be NULL) */
    const char *def;      /* default, as YAML text ("0.01", "[5, 5]", "'train'",
                           * "!obj:Default {}"); NULL: none */
    const char *doc;      /* one line, lowercase, no trailing period */
} ml_cfg_param;

typedef struct ml_cfg_args ml_cfg_args;
typedef struct ml_cfg_ctx ml_cfg_ctx;

typedef struct ml_component {
    const char *name;               /* "SGD" */
    const char *const *aliases;     /* NULL-terminated, or NULL:
                                     * {"pylearn2.training_algorithms.sgd.SGD", NULL} */
    const char *category;           /* "algorithm"; several separated by spaces ("model layer") */
    const ml_cfg_param *params;     /* ends with {0}; NULL: no parameters */
    /* Builds the object from its parameters.  Returns ML_OK and sets *object, or
     * an error (with ml_cfg_args_error for a bad value).  On failure it frees
     * what it made itself; objects it got from ml_cfg_args_object belong to the
     * context.  Strings and nodes read through args are borrowed: copy them. */
    ml_status (*construct)(ml_cfg_args *args, void **object);
    void (*destroy)(void *object);  /* NULL: nothing to free */
    const char *doc;                /* a short paragraph */
} ml_component;

/* ---- the registry -------------------------------------------------------- */

/* Adds a component (borrowed: it must outlive its use, normally a static).
 * Checks the descriptor: a name, a category and a constructor; no name or
 * alias already registered; parameter names unique; defaults that parse and
 * fit their type; ML_EINVAL with a message otherwise.  At most
 * ML_CFG_MAX_COMPONENTS components. */
#define ML_CFG_MAX_COMPONENTS 1024
ml_status ml_cfg_register(const ml_component *component);

/* The component with this name or alias, or NULL. */
const ml_component *ml_cfg_find(const char *name);
/* Whether the component belongs to category (NULL: any). */
int ml_cfg_component_is(const ml_component *component, const char *category);

/* The registered components of a category (NULL: all), in registration
 * order: stores up to max of them in out (which may be NULL when max is 0)
 * and returns how many there are. */
int ml_cfg_components(const char *category, const ml_component **out, int max);

/* Prints every component, grouped by category in order of first
 * registration: name, aliases, doc, and for each parameter its type,
 * required or default, and doc.  mdoc: as mdoc(7) markup (.Ss per category,
 * .Bl -tag lists, no page header) to be included in ml-experiment(5); else
 * plain text.  ml_cfg_print_component prints one. */
void ml_cfg_print_reference(FILE *f, int mdoc);
void ml_cfg_print_component(FILE *f, const ml_component *component, int mdoc);

/* ---- instantiation ------------------------------------------------------- */

ml_status ml_cfg_ctx_new(ml_cfg_ctx **ctx);
/* Destroys the objects the context still owns, newest first, and frees it.  NULL: no-op. */
void ml_cfg_ctx_free(ml_cfg_ctx *ctx);
/* A pointer handed to every constructor (ml_cfg_args_user): a device, an RNG, ... */
void ml_cfg_ctx_set_user(ml_cfg_ctx *ctx, void *user);
void *ml_cfg_ctx_user(const ml_cfg_ctx *ctx);
/* The caller takes ownership of object: the context will not destroy it (it
 * still returns it for its node).  ML_ENOTFOUND if the context does not own it. */
ml_status ml_cfg_ctx_take(ml_cfg_ctx *ctx, void *object);
/* The component that built an object of this context, or NULL. */
const ml_component *ml_cfg_ctx_component_of(const ml_cfg_ctx *ctx, const void *object);

/* Checks node (a `!obj:` mapping) and its whole subtree, without building
 * anything.  category NULL: any. */
ml_status ml_cfg_check(const ml_cfg_node *node, const char *category);

/* Checks, then builds the object for node, or returns the one already built
 * for this node in this context.  category NULL: any.  The node must stay
 * alive until construction returns (the context keeps a reference to each
 * node it built an object for). */
ml_status ml_cfg_instantiate(ml_cfg_ctx *ctx, const ml_cfg_node *node, const char *category,
                             void **object);

/* ---- what constructors read ---------------------------------------------- */

/* Every getter takes a parameter name declared in the component's table
 * (another name is a programming error: ML_EINVAL).  When the parameter is
 * not set (absent without default, or null) a getter returns ML_ENOTFOUND
 * with "FILE:LINE:COL: SGD needs 'learning_rate'" and leaves *v alone; test
 * with ml_cfg_args_has first for optional parameters.  A value of the wrong
 * type (possible for ANY) gives the same message as the checks. */
/* has: given (not null), or a default; given: written in the mapping, even as null */
int ml_cfg_args_has(const ml_cfg_args *args, const char *name);
int ml_cfg_args_given(const ml_cfg_args *args, const char *name);
ml_status ml_cfg_args_float(const ml_cfg_args *args, const char *name, float *v);
ml_status ml_cfg_args_double(const ml_cfg_args *args, const char *name, double *v);
ml_status ml_cfg_args_int(const ml_cfg_args *args, const char *name, int *v);
ml_status ml_cfg_args_int64(const ml_cfg_args *args, const char *name, int64_t *v);
ml_status ml_cfg_args_bool(const ml_cfg_args *args, const char *name, int *v);
ml_status ml_cfg_args_string(const ml_cfg_args *args, const char *name, const char **v);
/* Instantiates the parameter's object (memoised, owned by the context).
 * category NULL: the one in the table. */
ml_status ml_cfg_args_object(ml_cfg_args *args, const char *name, const char *category,
                             void **object);
/* SHAPE, INT_LIST: the integers, at most max of them (more: an error); *n gets the count. */
ml_status ml_cfg_args_ints(const ml_cfg_args *args, const char *name, int *out, int max, int *n);
/* The value node (given or default), or NULL when not set.  Borrowed. */
const ml_cfg_node *ml_cfg_args_node(const ml_cfg_args *args, const char *name);

/* LIST (items) and MAP (entries, in file order): how many (0 when not set),
 * the i-th key of a MAP (NULL otherwise), and the i-th element, 0-based. */
int ml_cfg_args_count(const ml_cfg_args *args, const char *name);
const char *ml_cfg_args_key(const ml_cfg_args *args, const char *name, int i);
const ml_cfg_node *ml_cfg_args_item_node(const ml_cfg_args *args, const char *name, int i);
ml_status ml_cfg_args_item_float(const ml_cfg_args *args, const char *name, int i, float *v);
ml_status ml_cfg_args_item_int(const ml_cfg_args *args, const char *name, int i, int *v);
ml_status ml_cfg_args_item_bool(const ml_cfg_args *args, const char *name, int i, int *v);
ml_status ml_cfg_args_item_string(const ml_cfg_args *args, const char *name, int i,
                                  const char **v);
ml_status ml_cfg_args_item_object(ml_cfg_args *args, const char *name, int i, void **object);

/* Errors found by the constructor, positioned at the value (at the component
 * when the value is a default or absent):
 *     ml_cfg_args_error(a, "irange", ML_EINVAL, "must be positive")
 *         -> "exp.yaml:22:16: 'irange' of Linear must be positive"
 *     ml_cfg_args_error(a, NULL, ML_EINVAL, "needs 'irange' or 'istdev'")
 *         -> "exp.yaml:20:9: Linear needs 'irange' or 'istdev'"
 *     ml_cfg_args_item_error(a, "kernel_shape", 1, ML_EINVAL, "must be odd")
 *         -> "exp.yaml:23:31: item 1 of 'kernel_shape' of Conv must be odd"
 * An error a constructor returns without a position (from a lower layer:
 * "mnist.h5: cannot open: ...") is prefixed with the component's position
 * and name: "exp.yaml:4:14: MNIST: mnist.h5: cannot open: ...". */
ml_status ml_cfg_args_error(const ml_cfg_args *args, const char *name, ml_status status,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
ml_status ml_cfg_args_item_error(const ml_cfg_args *args, const char *name, int i,
                                 ml_status status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

const ml_component *ml_cfg_args_component(const ml_cfg_args *args);
const ml_cfg_node *ml_cfg_args_self(const ml_cfg_args *args); /* the `!obj:` mapping */
ml_cfg_ctx *ml_cfg_args_ctx(ml_cfg_args *args);
void *ml_cfg_args_user(const ml_cfg_args *args);

#endif
