#include "config/component.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_impl.h"
#include "config/suggest.h"
#include "core/alloc.h"

#define CFG_MSG_MAX 1024
#define CFG_MAX_DEPTH 200

/* snprintf, without -Wformat-truncation's guesses: messages are cut at the buffer's end. */
static void sfmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sfmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* ---- the registry -------------------------------------------------------- */

static const ml_component *registry[ML_CFG_MAX_COMPONENTS];
static int n_registry;

static int names_component(const ml_component *c, const char *name)
{
    if (strcmp(c->name, name) == 0)
        return 1;
    for (const char *const *a = c->aliases; a && *a; a++)
        if (strcmp(*a, name) == 0)
            return 1;
    return 0;
}

const ml_component *ml_cfg_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < n_registry; i++)
        if (names_component(registry[i], name))
            return registry[i];
    return NULL;
}

/* The i-th word of a space-separated list into buf; 0 when there is none. */
static int word_at(const char *list, int i, char *buf, size_t size)
{
    const char *p = list;
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            return 0;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (i-- == 0) {
            snprintf(buf, size, "%.*s", (int)(e - p), p);
            return 1;
        }
        p = e;
    }
}

int ml_cfg_component_is(const ml_component *c, const char *category)
{
    if (!category)
        return 1;
    char w[128];
    for (int i = 0; word_at(c->category, i, w, sizeof w); i++)
        if (strcmp(w, category) == 0)
            return 1;
    return 0;
}

int ml_cfg_components(const char *category, const ml_component **out, int max)
{
    int n = 0;
    for (int i = 0; i < n_registry; i++) {
        if (!ml_cfg_component_is(registry[i], category))
            continue;
        if (out && n < max)
            out[n] = registry[i];
        n++;
    }
    return n;
}

static const char *article(const char *word)
{
    return word && strchr("aeiouAEIOU", word[0]) ? "an" : "a";
}

/* ---- values --------------------------------------------------------------- */

static int all_digits(const char *s, const char **end)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    *end = p;
    return p > s;
}

static int conv_float(const ml_cfg_node *v, double *out)
{
    if (v->kind != ML_CFG_SCALAR || v->quoted)
        return 0;
    const char *s = v->text;
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return 1;
    }
    if (p == s && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
        *out = NAN;
        return 1;
    }
    /* digits [. digits?] | . digits, then an optional exponent */
    const char *e;
    int mant = all_digits(p, &e);
    p = e;
    if (*p == '.') {
        mant |= all_digits(p + 1, &e);
        p = e;
    }
    if (!mant)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!all_digits(p, &e))
            return 0;
        p = e;
    }
    if (*p)
        return 0;
    *out = strtod(s, NULL);
    return 1;
}

/* 1: ok; 0: not an integer; -1: an integer out of int64_t's range. */
static int conv_int(const ml_cfg_node *v, int64_t *out)
{
    if (v->kind != ML_CFG_SCALAR || v->quoted)
        return 0;
    const char *p = v->text, *e;
    if (*p == '+' || *p == '-')
        p++;
    if (!all_digits(p, &e) || *e)
        return 0;
    errno = 0;
    long long x = strtoll(v->text, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = (int64_t)x;
    return 1;
}

static int conv_bool(const ml_cfg_node *v, int *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "1"};
    static const char *const no[] = {"false", "False", "FALSE", "0"};
    if (v->kind != ML_CFG_SCALAR || v->quoted)
        return 0;
    for (int i = 0; i < 4; i++) {
        if (!strcmp(v->text, yes[i])) {
            *out = 1;
            return 1;
        }
        if (!strcmp(v->text, no[i])) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

static void describe_found(const ml_cfg_node *v, char *buf, size_t size)
{
    switch (v->kind) {
    case ML_CFG_NULL:
        snprintf(buf, size, "null");
        break;
    case ML_CFG_SCALAR: {
        size_t n = strlen(v->text);
        snprintf(buf, size, "'%.60s%s'%s", v->text, n > 60 ? "..." : "",
                 v->quoted ? " (quoted)" : "");
        break;
    }
    case ML_CFG_SEQ:
        snprintf(buf, size, "a list");
        break;
    case ML_CFG_MAP:
        if (v->tag)
            snprintf(buf, size, "!obj:%s", v->tag);
        else
            snprintf(buf, size, "a mapping without '!obj:'");
        break;
    }
}

/* "numbers", "cost objects": elements of a LIST or MAP. */
static void describe_plural(ml_cfg_type t, const char *category, char *buf, size_t size)
{
    switch (t) {
    case ML_CFG_T_FLOAT: snprintf(buf, size, "numbers"); break;
    case ML_CFG_T_INT: snprintf(buf, size, "integers"); break;
    case ML_CFG_T_BOOL: snprintf(buf, size, "booleans"); break;
    case ML_CFG_T_STRING: snprintf(buf, size, "strings"); break;
    case ML_CFG_T_OBJECT:
        snprintf(buf, size, "%s%s", category ? category : "component",
                 category ? " objects" : "s");
        break;
    case ML_CFG_T_SHAPE: snprintf(buf, size, "shapes"); break;
    case ML_CFG_T_INT_LIST: snprintf(buf, size, "lists of integers"); break;
    default: snprintf(buf, size, "values"); break;
    }
}

static void describe_type(ml_cfg_type t, ml_cfg_type elem, const char *category, char *buf,
                          size_t size)
{
    char el[128];
    switch (t) {
    case ML_CFG_T_FLOAT: snprintf(buf, size, "a number"); break;
    case ML_CFG_T_INT: snprintf(buf, size, "an integer"); break;
    case ML_CFG_T_BOOL: snprintf(buf, size, "true or false"); break;
    case ML_CFG_T_STRING: snprintf(buf, size, "a string"); break;
    case ML_CFG_T_OBJECT:
        snprintf(buf, size, "%s %s (!obj:Name { ... })", category ? article(category) : "a",
                 category ? category : "component");
        break;
    case ML_CFG_T_LIST:
        describe_plural(elem, category, el, sizeof el);
        snprintf(buf, size, "a list of %s", el);
        break;
    case ML_CFG_T_MAP:
        describe_plural(elem, category, el, sizeof el);
        snprintf(buf, size, "a mapping of names to %s", el);
        break;
    case ML_CFG_T_SHAPE: snprintf(buf, size, "a list of positive integers"); break;
    case ML_CFG_T_INT_LIST: snprintf(buf, size, "a list of integers"); break;
    case ML_CFG_T_ANY: snprintf(buf, size, "any value"); break;
    }
}

/* Short names for the reference: "float", "list of layer", "map of dataset". */
static void type_name(ml_cfg_type t, ml_cfg_type elem, const char *category, char *buf,
                      size_t size)
{
    char el[128];
    switch (t) {
    case ML_CFG_T_FLOAT: snprintf(buf, size, "float"); break;
    case ML_CFG_T_INT: snprintf(buf, size, "int"); break;
    case ML_CFG_T_BOOL: snprintf(buf, size, "bool"); break;
    case ML_CFG_T_STRING: snprintf(buf, size, "string"); break;
    case ML_CFG_T_OBJECT: snprintf(buf, size, "%s", category ? category : "object"); break;
    case ML_CFG_T_LIST:
    case ML_CFG_T_MAP:
        type_name(elem, ML_CFG_T_ANY, category, el, sizeof el);
        snprintf(buf, size, "%s of %s", t == ML_CFG_T_LIST ? "list" : "map", el);
        break;
    case ML_CFG_T_SHAPE: snprintf(buf, size, "shape"); break;
    case ML_CFG_T_INT_LIST: snprintf(buf, size, "int list"); break;
    case ML_CFG_T_ANY: snprintf(buf, size, "any"); break;
    }
}

static ml_status type_error(const ml_cfg_node *v, const char *subject, ml_cfg_type t,
                            ml_cfg_type elem, const char *category)
{
    char want[256], found[160];
    describe_type(t, elem, category, want, sizeof want);
    describe_found(v, found, sizeof found);
    return ml_cfg_error_at(&v->pos, ML_EINVAL, "%s expects %s, found %s", subject, want, found);
}

/* ---- checks --------------------------------------------------------------- */

static const ml_cfg_param *find_param(const ml_component *c, const char *name, int *index)
{
    for (int i = 0; c->params && c->params[i].name; i++) {
        if (strcmp(c->params[i].name, name) == 0) {
            if (index)
                *index = i;
            return &c->params[i];
        }
    }
    return NULL;
}

static ml_status check_object(const ml_cfg_node *node, const char *category, int depth,
                              const ml_component **out);

/* shallow: objects need only be `!obj:` mappings (defaults, checked at registration). */
static ml_status check_value(const ml_cfg_node *v, const char *subject, ml_cfg_type t,
                             ml_cfg_type elem, const char *category, int shallow, int depth)
{
    double d = 0;
    int64_t i64;
    int b;
    char sub[CFG_MSG_MAX];
    switch (t) {
    case ML_CFG_T_FLOAT:
        return conv_float(v, &d) ? ML_OK : type_error(v, subject, t, elem, category);
    case ML_CFG_T_INT: {
        int r = conv_int(v, &i64);
        if (r < 0)
            return ml_cfg_error_at(&v->pos, ML_EINVAL, "%s is out of range, found '%s'", subject,
                                   v->text);
        return r ? ML_OK : type_error(v, subject, t, elem, category);
    }
    case ML_CFG_T_BOOL:
        return conv_bool(v, &b) ? ML_OK : type_error(v, subject, t, elem, category);
    case ML_CFG_T_STRING:
        return v->kind == ML_CFG_SCALAR ? ML_OK : type_error(v, subject, t, elem, category);
    case ML_CFG_T_OBJECT:
        if (v->kind != ML_CFG_MAP || !v->tag)
            return type_error(v, subject, t, elem, category);
        return shallow ? ML_OK : check_object(v, category, depth + 1, NULL);
    case ML_CFG_T_LIST:
        if (v->kind != ML_CFG_SEQ)
            return type_error(v, subject, t, elem, category);
        for (size_t i = 0; i < v->n; i++) {
            sfmt(sub, sizeof sub, "item %zu of %s", i, subject);
            ML_TRY(check_value(v->items[i], sub, elem, ML_CFG_T_ANY, category, shallow,
                               depth + 1));
        }
        return ML_OK;
    case ML_CFG_T_MAP:
        if (v->kind != ML_CFG_MAP || v->tag)
            return type_error(v, subject, t, elem, category);
        for (size_t i = 0; i < v->n; i++) {
            sfmt(sub, sizeof sub, "'%s' in %s", v->keys[i], subject);
            ML_TRY(check_value(v->items[i], sub, elem, ML_CFG_T_ANY, category, shallow,
                               depth + 1));
        }
        return ML_OK;
    case ML_CFG_T_SHAPE:
    case ML_CFG_T_INT_LIST:
        if (v->kind != ML_CFG_SEQ)
            return type_error(v, subject, t, elem, category);
        for (size_t i = 0; i < v->n; i++) {
            const ml_cfg_node *it = v->items[i];
            int r = conv_int(it, &i64);
            sfmt(sub, sizeof sub, "item %zu of %s", i, subject);
            if (r > 0 && i64 >= INT_MIN && i64 <= INT_MAX &&
                (t == ML_CFG_T_INT_LIST || i64 > 0))
                continue;
            char found[160];
            describe_found(it, found, sizeof found);
            return ml_cfg_error_at(&it->pos, ML_EINVAL, "%s expects %s integer, found %s", sub,
                                   t == ML_CFG_T_SHAPE ? "a positive" : "an", found);
        }
        return ML_OK;
    case ML_CFG_T_ANY:
        return ML_OK;
    }
    return ML_OK;
}

static ml_status unknown_component(const ml_cfg_node *node, const char *category)
{
    int total = 0;
    for (int i = 0; i < n_registry; i++) {
        total++;
        for (const char *const *a = registry[i]->aliases; a && *a; a++)
            total++;
    }
    const char *s = NULL;
    const char **cand = total ? ml_malloc((size_t)total * sizeof *cand) : NULL;
    if (cand) {
        /* the expected category first, then any */
        for (int pass = 0; pass < 2 && !s; pass++) {
            int n = 0;
            for (int i = 0; i < n_registry; i++) {
                if (pass == 0 && !ml_cfg_component_is(registry[i], category))
                    continue;
                cand[n++] = registry[i]->name;
                for (const char *const *a = registry[i]->aliases; a && *a; a++)
                    cand[n++] = *a;
            }
            s = ml_suggest(node->tag, cand, n);
        }
    }
    ml_status st;
    if (s)
        st = ml_cfg_error_at(&node->pos, ML_ENOTFOUND,
                             "unknown component '%s' (did you mean '%s'?)", node->tag, s);
    else
        st = ml_cfg_error_at(&node->pos, ML_ENOTFOUND, "unknown component '%s'", node->tag);
    ml_free(cand);
    return st;
}

static ml_status wrong_category(const ml_cfg_node *node, const ml_component *c,
                                const char *category)
{
    char is[128];
    if (!word_at(c->category, 0, is, sizeof is))
        snprintf(is, sizeof is, "component");
    return ml_cfg_error_at(&node->pos, ML_EINVAL, "'%s' is %s %s, expected %s %s", c->name,
                           article(is), is, article(category), category);
}

static ml_status check_object(const ml_cfg_node *node, const char *category, int depth,
                              const ml_component **out)
{
    if (depth > CFG_MAX_DEPTH)
        return ml_cfg_error_at(&node->pos, ML_EINVAL, "components nested too deeply");
    if (node->kind != ML_CFG_MAP || !node->tag) {
        char want[256], found[160];
        describe_type(ML_CFG_T_OBJECT, ML_CFG_T_ANY, category, want, sizeof want);
        describe_found(node, found, sizeof found);
        return ml_cfg_error_at(&node->pos, ML_EINVAL, "expected %s, found %s", want, found);
    }
    const ml_component *c = ml_cfg_find(node->tag);
    if (!c)
        return unknown_component(node, category);
    if (!ml_cfg_component_is(c, category))
        return wrong_category(node, c, category);
    char subject[CFG_MSG_MAX];
    for (size_t i = 0; i < node->n; i++) {
        const ml_cfg_param *p = find_param(c, node->keys[i], NULL);
        if (!p) {
            int np = 0;
            while (c->params && c->params[np].name)
                np++;
            const char **names = np ? ml_malloc((size_t)np * sizeof *names) : NULL;
            for (int k = 0; names && k < np; k++)
                names[k] = c->params[k].name;
            const char *s = names ? ml_suggest(node->keys[i], names, np) : NULL;
            ml_status st;
            if (s)
                st = ml_cfg_error_at(&node->key_pos[i], ML_EINVAL,
                                     "%s has no parameter '%s' (did you mean '%s'?)", c->name,
                                     node->keys[i], s);
            else
                st = ml_cfg_error_at(&node->key_pos[i], ML_EINVAL, "%s has no parameter '%s'",
                                     c->name, node->keys[i]);
            ml_free(names);
            return st;
        }
        const ml_cfg_node *v = node->items[i];
        if (v->kind == ML_CFG_NULL) {
            if (p->required)
                return ml_cfg_error_at(&v->pos, ML_EINVAL, "'%s' of %s cannot be null", p->name,
                                       c->name);
            continue;
        }
        sfmt(subject, sizeof subject, "'%s' of %s", p->name, c->name);
        ML_TRY(check_value(v, subject, p->type, p->elem, p->category, 0, depth));
    }
    for (int k = 0; c->params && c->params[k].name; k++) {
        if (c->params[k].required && !ml_cfg_get(node, c->params[k].name))
            return ml_cfg_error_at(&node->pos, ML_EINVAL, "%s needs '%s'", c->name,
                                   c->params[k].name);
    }
    if (out)
        *out = c;
    return ML_OK;
}

ml_status ml_cfg_check(const ml_cfg_node *node, const char *category)
{
    ML_ASSERT(node);
    return check_object(node, category, 0, NULL);
}

/* ---- registration ---------------------------------------------------------- */

static int valid_type(ml_cfg_type t)
{
    return t >= ML_CFG_T_FLOAT && t <= ML_CFG_T_ANY;
}

static ml_status check_param(const ml_component *c, const ml_cfg_param *p)
{
    if (!valid_type(p->type))
        return ml_error(ML_EINVAL, "component '%s': parameter '%s' has no valid type", c->name,
                        p->name);
    if ((p->type == ML_CFG_T_LIST || p->type == ML_CFG_T_MAP) &&
        (!valid_type(p->elem) || p->elem == ML_CFG_T_LIST || p->elem == ML_CFG_T_MAP))
        return ml_error(ML_EINVAL,
                        "component '%s': parameter '%s' needs an element type (not a list or map)",
                        c->name, p->name);
    if (p->required && p->def)
        return ml_error(ML_EINVAL, "component '%s': parameter '%s' is required and has a default",
                        c->name, p->name);
    if (!p->def)
        return ML_OK;
    char name[CFG_MSG_MAX];
    snprintf(name, sizeof name, "default of '%s' of %s", p->name, c->name);
    ml_cfg_node *v;
    ml_status st = ml_cfg_parse_value(p->def, name, NULL, &v);
    if (st != ML_OK)
        return ml_error_prefix(st, "component '%s': ", c->name);
    char subject[CFG_MSG_MAX];
    sfmt(subject, sizeof subject, "'%s' of %s", p->name, c->name);
    if (v->kind != ML_CFG_NULL)
        st = check_value(v, subject, p->type, p->elem, p->category, 1, 0);
    ml_cfg_node_free(v);
    return st;
}

ml_status ml_cfg_register(const ml_component *c)
{
    if (!c || !c->name || !*c->name)
        return ml_error(ML_EINVAL, "cannot register a component without a name");
    char w[128];
    if (!c->category || !word_at(c->category, 0, w, sizeof w))
        return ml_error(ML_EINVAL, "component '%s' has no category", c->name);
    if (!c->construct)
        return ml_error(ML_EINVAL, "component '%s' has no constructor", c->name);
    if (ml_cfg_find(c->name))
        return ml_error(ML_EINVAL, "component '%s' is already registered", c->name);
    for (const char *const *a = c->aliases; a && *a; a++) {
        if (ml_cfg_find(*a))
            return ml_error(ML_EINVAL, "component '%s': alias '%s' is already registered",
                            c->name, *a);
        if (!strcmp(*a, c->name))
            return ml_error(ML_EINVAL, "component '%s': alias '%s' repeats its name", c->name, *a);
        for (const char *const *b = c->aliases; b < a; b++)
            if (!strcmp(*a, *b))
                return ml_error(ML_EINVAL, "component '%s': alias '%s' is listed twice",
                                c->name, *a);
    }
    for (int i = 0; c->params && c->params[i].name; i++) {
        for (int k = 0; k < i; k++)
            if (!strcmp(c->params[k].name, c->params[i].name))
                return ml_error(ML_EINVAL, "component '%s': parameter '%s' is listed twice",
                                c->name, c->params[i].name);
        ML_TRY(check_param(c, &c->params[i]));
    }
    if (n_registry == ML_CFG_MAX_COMPONENTS)
        return ml_error(ML_EINVAL, "cannot register '%s': %d components already", c->name,
                        ML_CFG_MAX_COMPONENTS);
    registry[n_registry++] = c;
    return ML_OK;
}

/* ---- contexts ------------------------------------------------------------- */

typedef struct {
    ml_cfg_node *node; /* a reference, so the key stays valid */
    const ml_component *component;
    void *object;
    int owned;
} memo_ent;

struct ml_cfg_ctx {
    void *user;
    memo_ent *memo;
    int n, cap;
    int positioned; /* the latest error already has a position */
    int depth;
};

struct ml_cfg_args {
    ml_cfg_ctx *ctx;
    const ml_component *component;
    const ml_cfg_node *node;
    ml_cfg_node **defaults; /* parsed on first use, one per parameter */
    int n_params;
};

ml_status ml_cfg_ctx_new(ml_cfg_ctx **ctx)
{
    *ctx = ml_calloc(1, sizeof **ctx);
    return *ctx ? ML_OK : ML_ENOMEM;
}

void ml_cfg_ctx_free(ml_cfg_ctx *ctx)
{
    if (!ctx)
        return;
    for (int i = ctx->n - 1; i >= 0; i--) {
        memo_ent *m = &ctx->memo[i];
        if (m->owned && m->component->destroy)
            m->component->destroy(m->object);
        ml_cfg_node_free(m->node);
    }
    ml_free(ctx->memo);
    ml_free(ctx);
}

void ml_cfg_ctx_set_user(ml_cfg_ctx *ctx, void *user)
{
    ctx->user = user;
}

void *ml_cfg_ctx_user(const ml_cfg_ctx *ctx)
{
    return ctx->user;
}

ml_status ml_cfg_ctx_take(ml_cfg_ctx *ctx, void *object)
{
    for (int i = 0; i < ctx->n; i++) {
        if (ctx->memo[i].object == object && ctx->memo[i].owned) {
            ctx->memo[i].owned = 0;
            return ML_OK;
        }
    }
    return ml_error(ML_ENOTFOUND, "the configuration context does not own this object");
}

const ml_component *ml_cfg_ctx_component_of(const ml_cfg_ctx *ctx, const void *object)
{
    for (int i = 0; i < ctx->n; i++)
        if (ctx->memo[i].object == object)
            return ctx->memo[i].component;
    return NULL;
}

static ml_status build(ml_cfg_ctx *ctx, const ml_cfg_node *node, const ml_component *c,
                       void **object)
{
    if (ctx->depth > CFG_MAX_DEPTH) {
        ctx->positioned = 1;
        return ml_cfg_error_at(&node->pos, ML_EINVAL, "components nested too deeply");
    }
    ml_cfg_args args = {ctx, c, node, NULL, 0};
    while (c->params && c->params[args.n_params].name)
        args.n_params++;
    void *obj = NULL;
    ctx->depth++;
    ctx->positioned = 0;
    ml_status st = c->construct(&args, &obj);
    ctx->depth--;
    for (int i = 0; args.defaults && i < args.n_params; i++)
        ml_cfg_node_free(args.defaults[i]);
    ml_free(args.defaults);
    if (st != ML_OK) {
        if (!ctx->positioned) {
            char pos[CFG_MSG_MAX];
            ml_cfg_pos_format(&node->pos, pos, sizeof pos);
            ml_error_prefix(st, "%s%s: ", pos, c->name);
            ctx->positioned = 1;
        }
        return st;
    }
    if (ctx->n == ctx->cap) {
        int cap = ctx->cap ? 2 * ctx->cap : 16;
        memo_ent *m = ml_realloc(ctx->memo, (size_t)cap * sizeof *m);
        if (!m) {
            if (c->destroy)
                c->destroy(obj);
            return ML_ENOMEM;
        }
        ctx->memo = m;
        ctx->cap = cap;
    }
    ml_cfg_node *held = (ml_cfg_node *)node;
    held->refs_++;
    ctx->memo[ctx->n++] = (memo_ent){held, c, obj, 1};
    *object = obj;
    return ML_OK;
}

ml_status ml_cfg_instantiate(ml_cfg_ctx *ctx, const ml_cfg_node *node, const char *category,
                             void **object)
{
    ML_ASSERT(ctx && node && object);
    *object = NULL;
    for (int i = 0; i < ctx->n; i++) {
        if (ctx->memo[i].node == node) {
            if (!ml_cfg_component_is(ctx->memo[i].component, category)) {
                ctx->positioned = 1;
                return wrong_category(node, ctx->memo[i].component, category);
            }
            *object = ctx->memo[i].object;
            return ML_OK;
        }
    }
    const ml_component *c = NULL;
    ml_status st = check_object(node, category, ctx->depth, &c);
    if (st != ML_OK) {
        ctx->positioned = 1;
        return st;
    }
    return build(ctx, node, c, object);
}

/* ---- args ----------------------------------------------------------------- */

static ml_status args_fail(const ml_cfg_args *a, ml_status st)
{
    a->ctx->positioned = 1;
    return st;
}

static ml_cfg_node *default_node(const ml_cfg_args *a, const ml_cfg_param *p, int index)
{
    if (!p->def)
        return NULL;
    ml_cfg_args *m = (ml_cfg_args *)a;
    if (!m->defaults) {
        m->defaults = ml_calloc((size_t)m->n_params, sizeof *m->defaults);
        if (!m->defaults)
            return NULL;
    }
    if (!m->defaults[index]) {
        char name[CFG_MSG_MAX];
        snprintf(name, sizeof name, "default of '%s' of %s", p->name, a->component->name);
        if (ml_cfg_parse_value(p->def, name, NULL, &m->defaults[index]) != ML_OK)
            return NULL; /* checked at registration: cannot happen but for memory */
    }
    return m->defaults[index]->kind == ML_CFG_NULL ? NULL : m->defaults[index];
}

/* The value of a parameter: given, else its default; NULL when not set. */
static const ml_cfg_node *value_of(const ml_cfg_args *a, const ml_cfg_param *p, int index)
{
    const ml_cfg_node *v = ml_cfg_get(a->node, p->name);
    if (v)
        return v->kind == ML_CFG_NULL ? NULL : v;
    return default_node(a, p, index);
}

static ml_status get(const ml_cfg_args *a, const char *name, const ml_cfg_param **pp,
                     const ml_cfg_node **vp)
{
    int index = 0;
    const ml_cfg_param *p = find_param(a->component, name, &index);
    if (!p)
        return args_fail(a, ml_cfg_error_at(&a->node->pos, ML_EINVAL,
                                            "%s reads '%s', which is not in its parameter table",
                                            a->component->name, name));
    const ml_cfg_node *v = value_of(a, p, index);
    if (!v) {
        const ml_cfg_node *given = ml_cfg_get(a->node, name);
        if (given)
            return args_fail(a, ml_cfg_error_at(&given->pos, ML_ENOTFOUND,
                                                "'%s' of %s is not set (null)", name,
                                                a->component->name));
        return args_fail(a, ml_cfg_error_at(&a->node->pos, ML_ENOTFOUND, "%s needs '%s'",
                                            a->component->name, name));
    }
    if (pp)
        *pp = p;
    *vp = v;
    return ML_OK;
}

int ml_cfg_args_has(const ml_cfg_args *a, const char *name)
{
    int index;
    const ml_cfg_param *p = find_param(a->component, name, &index);
    return p && value_of(a, p, index) != NULL;
}

int ml_cfg_args_given(const ml_cfg_args *a, const char *name)
{
    return ml_cfg_get(a->node, name) != NULL;
}

const ml_cfg_node *ml_cfg_args_node(const ml_cfg_args *a, const char *name)
{
    int index;
    const ml_cfg_param *p = find_param(a->component, name, &index);
    return p ? value_of(a, p, index) : NULL;
}

static ml_status to_double(const ml_cfg_args *a, const ml_cfg_node *v, const char *subject,
                           double *out)
{
    if (!conv_float(v, out))
        return args_fail(a, type_error(v, subject, ML_CFG_T_FLOAT, ML_CFG_T_ANY, NULL));
    return ML_OK;
}

static ml_status to_int64(const ml_cfg_args *a, const ml_cfg_node *v, const char *subject,
                          int64_t *out)
{
    int r = conv_int(v, out);
    if (r < 0)
        return args_fail(a, ml_cfg_error_at(&v->pos, ML_EINVAL, "%s is out of range, found '%s'",
                                            subject, v->text));
    if (r == 0)
        return args_fail(a, type_error(v, subject, ML_CFG_T_INT, ML_CFG_T_ANY, NULL));
    return ML_OK;
}

static ml_status to_int(const ml_cfg_args *a, const ml_cfg_node *v, const char *subject, int *out)
{
    int64_t x = 0;
    ML_TRY(to_int64(a, v, subject, &x));
    if (x < INT_MIN || x > INT_MAX)
        return args_fail(a, ml_cfg_error_at(&v->pos, ML_EINVAL, "%s is out of range, found '%s'",
                                            subject, v->text));
    *out = (int)x;
    return ML_OK;
}

static ml_status to_bool(const ml_cfg_args *a, const ml_cfg_node *v, const char *subject, int *out)
{
    if (!conv_bool(v, out))
        return args_fail(a, type_error(v, subject, ML_CFG_T_BOOL, ML_CFG_T_ANY, NULL));
    return ML_OK;
}

static ml_status to_string(const ml_cfg_args *a, const ml_cfg_node *v, const char *subject,
                           const char **out)
{
    if (v->kind != ML_CFG_SCALAR)
        return args_fail(a, type_error(v, subject, ML_CFG_T_STRING, ML_CFG_T_ANY, NULL));
    *out = v->text;
    return ML_OK;
}

static ml_status to_object(ml_cfg_args *a, const ml_cfg_node *v, const char *subject,
                           const char *category, void **out)
{
    if (v->kind != ML_CFG_MAP || !v->tag)
        return args_fail(a, type_error(v, subject, ML_CFG_T_OBJECT, ML_CFG_T_ANY, category));
    return ml_cfg_instantiate(a->ctx, v, category, out);
}

static void subject_of(const ml_cfg_args *a, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "'%s' of %s", name, a->component->name);
}

ml_status ml_cfg_args_double(const ml_cfg_args *a, const char *name, double *v)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    ML_TRY(get(a, name, NULL, &n));
    subject_of(a, name, s, sizeof s);
    return to_double(a, n, s, v);
}

ml_status ml_cfg_args_float(const ml_cfg_args *a, const char *name, float *v)
{
    double d = 0;
    ML_TRY(ml_cfg_args_double(a, name, &d));
    *v = (float)d;
    return ML_OK;
}

ml_status ml_cfg_args_int64(const ml_cfg_args *a, const char *name, int64_t *v)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    ML_TRY(get(a, name, NULL, &n));
    subject_of(a, name, s, sizeof s);
    return to_int64(a, n, s, v);
}

ml_status ml_cfg_args_int(const ml_cfg_args *a, const char *name, int *v)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    ML_TRY(get(a, name, NULL, &n));
    subject_of(a, name, s, sizeof s);
    return to_int(a, n, s, v);
}

ml_status ml_cfg_args_bool(const ml_cfg_args *a, const char *name, int *v)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    ML_TRY(get(a, name, NULL, &n));
    subject_of(a, name, s, sizeof s);
    return to_bool(a, n, s, v);
}

ml_status ml_cfg_args_string(const ml_cfg_args *a, const char *name, const char **v)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    ML_TRY(get(a, name, NULL, &n));
    subject_of(a, name, s, sizeof s);
    return to_string(a, n, s, v);
}

ml_status ml_cfg_args_object(ml_cfg_args *a, const char *name, const char *category, void **object)
{
    const ml_cfg_param *p = NULL;
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    *object = NULL;
    ML_TRY(get(a, name, &p, &n));
    subject_of(a, name, s, sizeof s);
    return to_object(a, n, s, category ? category : p->category, object);
}

ml_status ml_cfg_args_ints(const ml_cfg_args *a, const char *name, int *out, int max, int *count)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX], item[CFG_MSG_MAX];
    ML_TRY(get(a, name, NULL, &n));
    subject_of(a, name, s, sizeof s);
    if (n->kind != ML_CFG_SEQ)
        return args_fail(a, type_error(n, s, ML_CFG_T_INT_LIST, ML_CFG_T_ANY, NULL));
    if (n->n > (size_t)max)
        return args_fail(a, ml_cfg_error_at(&n->pos, ML_EINVAL,
                                            "%s has %zu items, at most %d are allowed", s, n->n,
                                            max));
    for (size_t i = 0; i < n->n; i++) {
        sfmt(item, sizeof item, "item %zu of %s", i, s);
        ML_TRY(to_int(a, n->items[i], item, &out[i]));
    }
    *count = (int)n->n;
    return ML_OK;
}

int ml_cfg_args_count(const ml_cfg_args *a, const char *name)
{
    const ml_cfg_node *n = ml_cfg_args_node(a, name);
    return n && (n->kind == ML_CFG_SEQ || n->kind == ML_CFG_MAP) ? (int)n->n : 0;
}

const char *ml_cfg_args_key(const ml_cfg_args *a, const char *name, int i)
{
    const ml_cfg_node *n = ml_cfg_args_node(a, name);
    if (!n || n->kind != ML_CFG_MAP || i < 0 || (size_t)i >= n->n)
        return NULL;
    return n->keys[i];
}

const ml_cfg_node *ml_cfg_args_item_node(const ml_cfg_args *a, const char *name, int i)
{
    const ml_cfg_node *n = ml_cfg_args_node(a, name);
    if (!n || (n->kind != ML_CFG_SEQ && n->kind != ML_CFG_MAP) || i < 0 || (size_t)i >= n->n)
        return NULL;
    return n->items[i];
}

/* The i-th element of a LIST or MAP parameter, and what messages call it. */
static ml_status item(const ml_cfg_args *a, const char *name, int i, const ml_cfg_param **pp,
                      const ml_cfg_node **vp, char *subject, size_t size)
{
    const ml_cfg_param *p = NULL;
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    ML_TRY(get(a, name, &p, &n));
    subject_of(a, name, s, sizeof s);
    if (n->kind != ML_CFG_SEQ && n->kind != ML_CFG_MAP)
        return args_fail(a, type_error(n, s, ML_CFG_T_LIST, ML_CFG_T_ANY, NULL));
    if (i < 0 || (size_t)i >= n->n)
        return args_fail(a, ml_cfg_error_at(&n->pos, ML_EINVAL, "%s has no item %d (it has %zu)",
                                            s, i, n->n));
    if (n->kind == ML_CFG_MAP)
        sfmt(subject, size, "'%s' in %s", n->keys[i], s);
    else
        sfmt(subject, size, "item %d of %s", i, s);
    if (pp)
        *pp = p;
    *vp = n->items[i];
    return ML_OK;
}

ml_status ml_cfg_args_item_float(const ml_cfg_args *a, const char *name, int i, float *v)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    double d = 0;
    ML_TRY(item(a, name, i, NULL, &n, s, sizeof s));
    ML_TRY(to_double(a, n, s, &d));
    *v = (float)d;
    return ML_OK;
}

ml_status ml_cfg_args_item_int(const ml_cfg_args *a, const char *name, int i, int *v)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    ML_TRY(item(a, name, i, NULL, &n, s, sizeof s));
    return to_int(a, n, s, v);
}

ml_status ml_cfg_args_item_bool(const ml_cfg_args *a, const char *name, int i, int *v)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    ML_TRY(item(a, name, i, NULL, &n, s, sizeof s));
    return to_bool(a, n, s, v);
}

ml_status ml_cfg_args_item_string(const ml_cfg_args *a, const char *name, int i, const char **v)
{
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    ML_TRY(item(a, name, i, NULL, &n, s, sizeof s));
    return to_string(a, n, s, v);
}

ml_status ml_cfg_args_item_object(ml_cfg_args *a, const char *name, int i, void **object)
{
    const ml_cfg_param *p = NULL;
    const ml_cfg_node *n = NULL;
    char s[CFG_MSG_MAX];
    *object = NULL;
    ML_TRY(item(a, name, i, &p, &n, s, sizeof s));
    return to_object(a, n, s, p->category, object);
}

ml_status ml_cfg_args_error(const ml_cfg_args *a, const char *name, ml_status status,
                            const char *fmt, ...)
{
    char msg[CFG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const ml_cfg_node *given = name ? ml_cfg_get(a->node, name) : NULL;
    const ml_cfg_pos *pos = given ? &given->pos : &a->node->pos;
    if (name)
        ml_cfg_error_at(pos, status, "'%s' of %s %s", name, a->component->name, msg);
    else
        ml_cfg_error_at(pos, status, "%s %s", a->component->name, msg);
    return args_fail(a, status);
}

ml_status ml_cfg_args_item_error(const ml_cfg_args *a, const char *name, int i, ml_status status,
                                 const char *fmt, ...)
{
    char msg[CFG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const ml_cfg_node *n = ml_cfg_args_node(a, name);
    const ml_cfg_pos *pos = &a->node->pos;
    if (n && i >= 0 && (size_t)i < n->n && (n->kind == ML_CFG_SEQ || n->kind == ML_CFG_MAP)) {
        pos = &n->items[i]->pos;
        if (n->kind == ML_CFG_MAP)
            ml_cfg_error_at(pos, status, "'%s' in '%s' of %s %s", n->keys[i], name,
                            a->component->name, msg);
        else
            ml_cfg_error_at(pos, status, "item %d of '%s' of %s %s", i, name,
                            a->component->name, msg);
    } else {
        ml_cfg_error_at(pos, status, "item %d of '%s' of %s %s", i, name, a->component->name,
                        msg);
    }
    return args_fail(a, status);
}

const ml_component *ml_cfg_args_component(const ml_cfg_args *a)
{
    return a->component;
}

const ml_cfg_node *ml_cfg_args_self(const ml_cfg_args *a)
{
    return a->node;
}

ml_cfg_ctx *ml_cfg_args_ctx(ml_cfg_args *a)
{
    return a->ctx;
}

void *ml_cfg_args_user(const ml_cfg_args *a)
{
    return a->ctx->user;
}

/* ---- the reference ----------------------------------------------------------- */

/* A text line of mdoc: backslashes escaped, a leading '.' or '\'' protected. */
static void mdoc_text(FILE *f, const char *s)
{
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", f);
        bol = 0;
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '\n') {
            fputc('\n', f);
            bol = 1;
        } else
            fputc(*s, f);
    }
    fputc('\n', f);
}

/* One macro argument, quoted and escaped so it is never read as a macro. */
static void mdoc_arg(FILE *f, const char *s)
{
    fputs(" \"\\&", f);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '"')
            fputs("\\(dq", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void ml_cfg_print_component(FILE *f, const ml_component *c, int mdoc)
{
    char t[256];
    if (mdoc) {
        fputs(".It Sy", f);
        mdoc_arg(f, c->name);
        fputc('\n', f);
        if (c->doc && *c->doc)
            mdoc_text(f, c->doc);
        char w[128];
        if (word_at(c->category, 1, w, sizeof w)) {
            fputs(".Pp\nCategories:", f);
            fputc('\n', f);
            for (int i = 0; word_at(c->category, i, w, sizeof w); i++) {
                fputs(".Em", f);
                mdoc_arg(f, w);
                fputc('\n', f);
            }
        }
        if (c->aliases && c->aliases[0]) {
            fputs(".Pp\nAlso written\n", f);
            for (const char *const *a = c->aliases; *a; a++) {
                fputs(".Li", f);
                mdoc_arg(f, *a);
                fputs(a[1] ? " ,\n" : " .\n", f);
            }
        }
        if (c->params && c->params[0].name) {
            fputs(".Bl -tag -width Ds\n", f);
            for (const ml_cfg_param *p = c->params; p->name; p++) {
                type_name(p->type, p->elem, p->category, t, sizeof t);
                fputs(".It Ic", f);
                mdoc_arg(f, p->name);
                fputs(" Ar", f);
                mdoc_arg(f, t);
                if (p->required) {
                    fputs(" Pq required", f);
                } else if (p->def) {
                    fputs(" Pq default Li", f);
                    mdoc_arg(f, p->def);
                }
                fputc('\n', f);
                mdoc_text(f, p->doc && *p->doc ? p->doc : "(undocumented)");
            }
            fputs(".El\n", f);
        }
        return;
    }
    fprintf(f, "%s [%s]\n", c->name, c->category);
    if (c->aliases && c->aliases[0]) {
        fputs("    also:", f);
        for (const char *const *a = c->aliases; *a; a++)
            fprintf(f, " %s", *a);
        fputc('\n', f);
    }
    if (c->doc && *c->doc)
        fprintf(f, "    %s\n", c->doc);
    for (const ml_cfg_param *p = c->params; p && p->name; p++) {
        type_name(p->type, p->elem, p->category, t, sizeof t);
        char what[512];
        if (p->required)
            snprintf(what, sizeof what, "%s, required", t);
        else if (p->def)
            snprintf(what, sizeof what, "%s, default %s", t, p->def);
        else
            snprintf(what, sizeof what, "%s, optional", t);
        fprintf(f, "    %-22s %s\n", p->name, what);
        if (p->doc && *p->doc)
            fprintf(f, "    %-22s   %s\n", "", p->doc);
    }
}

void ml_cfg_print_reference(FILE *f, int mdoc)
{
    char cat[128], other[128];
    for (int i = 0; i < n_registry; i++) {
        word_at(registry[i]->category, 0, cat, sizeof cat);
        int seen = 0;
        for (int k = 0; k < i && !seen; k++) {
            word_at(registry[k]->category, 0, other, sizeof other);
            seen = strcmp(cat, other) == 0;
        }
        if (seen)
            continue;
        if (mdoc) {
            fputs(".Ss", f);
            mdoc_arg(f, cat);
            fputs("\n.Bl -tag -width Ds\n", f);
        } else {
            fprintf(f, "%s%s components:\n\n", i ? "\n" : "", cat);
        }
        for (int k = i; k < n_registry; k++) {
            word_at(registry[k]->category, 0, other, sizeof other);
            if (strcmp(cat, other) != 0)
                continue;
            ml_cfg_print_component(f, registry[k], mdoc);
            if (!mdoc && k + 1 < n_registry)
                fputc('\n', f);
        }
        if (mdoc)
            fputs(".El\n", f);
    }
}
