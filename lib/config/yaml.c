#include "config/yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config_impl.h"
#include "config/suggest.h"
#include "core/alloc.h"

#define CFG_MSG_MAX 1024
/* Lists and mappings inside each other: deeper documents are refused, so the
 * recursive walks (free, emit, checks) stay shallow. */
#define CFG_MAX_NESTING 1000

struct ml_cfg_source {
    int refs;
    char *name;    /* display name */
    char *text;    /* the bytes as read, NUL-terminated */
    size_t len;
    int has_lines; /* 0: positions show the name only (a -s value, a default) */
    ml_cfg_source **kept; /* sources of -s values whose new keys this one's nodes hold */
    int n_kept;
};

/* ---- errors ------------------------------------------------------------ */

int ml_cfg_pos_format(const ml_cfg_pos *pos, char *buf, size_t size)
{
    const char *file = pos && pos->file ? pos->file : "<unknown>";
    if (pos && pos->line > 0)
        return snprintf(buf, size, "%s:%d:%d: ", file, pos->line, pos->column);
    return snprintf(buf, size, "%s: ", file);
}

ml_status ml_cfg_verror_at(const ml_cfg_pos *pos, ml_status status, const char *fmt, va_list ap)
{
    char prefix[CFG_MSG_MAX];
    char msg[CFG_MSG_MAX];
    ml_cfg_pos_format(pos, prefix, sizeof prefix);
    vsnprintf(msg, sizeof msg, fmt, ap);
    return ml_error(status, "%s%s", prefix, msg);
}

ml_status ml_cfg_error_at(const ml_cfg_pos *pos, ml_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ml_status s = ml_cfg_verror_at(pos, status, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- sources and nodes ----------------------------------------------- */

static ml_cfg_source *source_new(const char *name, const char *text, size_t len, int has_lines)
{
    ml_cfg_source *s = ml_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->refs = 1;
    s->has_lines = has_lines;
    s->len = len;
    if (!name)
        name = "<string>";
    else if (strcmp(name, "-") == 0)
        name = "<stdin>";
    s->name = ml_strdup(name);
    s->text = ml_malloc(len + 1);
    if (!s->name || !s->text) {
        ml_free(s->name);
        ml_free(s->text);
        ml_free(s);
        return NULL;
    }
    memcpy(s->text, text, len);
    s->text[len] = '\0';
    return s;
}

static void source_unref(ml_cfg_source *s)
{
    if (!s || --s->refs > 0)
        return;
    for (int i = 0; i < s->n_kept; i++)
        source_unref(s->kept[i]);
    ml_free(s->kept);
    ml_free(s->name);
    ml_free(s->text);
    ml_free(s);
}

static ml_cfg_node *node_new(ml_cfg_kind kind, ml_cfg_source *src, ml_cfg_pos pos)
{
    ml_cfg_node *n = ml_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->pos = pos;
    n->refs_ = 1;
    n->src_ = src;
    src->refs++;
    return n;
}

void ml_cfg_node_free(ml_cfg_node *node)
{
    if (!node || --node->refs_ > 0)
        return;
    for (size_t i = 0; i < node->n; i++) {
        ml_cfg_node_free(node->items[i]);
        if (node->keys)
            ml_free(node->keys[i]);
    }
    ml_free(node->items);
    ml_free(node->keys);
    ml_free(node->key_pos);
    ml_free(node->tag);
    ml_free(node->yaml_tag);
    ml_free(node->anchor);
    ml_free(node->text);
    source_unref(node->src_);
    ml_free(node);
}

/* Appends child (whose reference it takes over) to a SEQ, or key (taken over
 * too) and child to a MAP.  On failure both are freed. */
static ml_status node_append(ml_cfg_node *parent, char *key, ml_cfg_pos key_pos,
                             ml_cfg_node *child)
{
    if (parent->n == parent->cap_) {
        size_t cap = parent->cap_ ? 2 * parent->cap_ : 4;
        ml_cfg_node **items = ml_realloc(parent->items, cap * sizeof *items);
        if (items)
            parent->items = items;
        int ok = items != NULL;
        if (ok && parent->kind == ML_CFG_MAP) {
            char **keys = ml_realloc(parent->keys, cap * sizeof *keys);
            if (keys)
                parent->keys = keys;
            ml_cfg_pos *kp = keys ? ml_realloc(parent->key_pos, cap * sizeof *kp) : NULL;
            if (kp)
                parent->key_pos = kp;
            ok = keys && kp;
        }
        if (!ok) {
            ml_free(key);
            ml_cfg_node_free(child);
            return ML_ENOMEM;
        }
        parent->cap_ = cap;
    }
    if (parent->kind == ML_CFG_MAP) {
        parent->keys[parent->n] = key;
        parent->key_pos[parent->n] = key_pos;
    }
    parent->items[parent->n++] = child;
    return ML_OK;
}

const char *ml_cfg_source_text(const ml_cfg_node *node, size_t *len)
{
    if (!node || !node->src_) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = node->src_->len;
    return node->src_->text;
}

/* Keeps other alive as long as s: a key added by -s to a mapping of s has its
 * position (file name) in other. */
static ml_status source_keep(ml_cfg_source *s, ml_cfg_source *other)
{
    ml_cfg_source **k = ml_realloc(s->kept, (size_t)(s->n_kept + 1) * sizeof *k);
    if (!k)
        return ML_ENOMEM;
    s->kept = k;
    s->kept[s->n_kept++] = other;
    other->refs++;
    return ML_OK;
}

/* ---- positions in the source text --------------------------------------- */

static int is_null_word(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static ml_cfg_pos mark_pos(const ml_cfg_source *src, yaml_mark_t m)
{
    ml_cfg_pos p = {src->name, 0, 0};
    if (src->has_lines) {
        p.line = (int)m.line + 1;
        p.column = (int)m.column + 1;
    }
    return p;
}

static size_t bom_len(const ml_cfg_source *src)
{
    const unsigned char *t = (const unsigned char *)src->text;
    return src->len >= 3 && t[0] == 0xEF && t[1] == 0xBB && t[2] == 0xBF ? 3 : 0;
}

/* libyaml counts marks in characters; the text is UTF-8. */
static size_t char_to_byte(const ml_cfg_source *src, size_t index)
{
    size_t b = bom_len(src);
    const unsigned char *t = (const unsigned char *)src->text;
    while (index > 0 && b < src->len) {
        b++;
        while (b < src->len && (t[b] & 0xC0) == 0x80)
            b++;
        index--;
    }
    return b;
}

/* Where the k-th "${" of the scalar between two marks is in the source (its
 * start when it cannot be found, as when an escape sequence wrote it). */
static ml_cfg_pos dollar_pos(const ml_cfg_source *src, yaml_mark_t start, yaml_mark_t end, int k)
{
    ml_cfg_pos p = mark_pos(src, start);
    if (!src->has_lines)
        return p;
    const unsigned char *t = (const unsigned char *)src->text;
    size_t i = char_to_byte(src, start.index), e = char_to_byte(src, end.index);
    int line = (int)start.line, col = (int)start.column, seen = 0;
    while (i < e) {
        if (t[i] == '$' && i + 1 < e && t[i + 1] == '{') {
            if (seen++ == k) {
                p.line = line + 1;
                p.column = col + 1;
                return p;
            }
        }
        if (t[i] == '\n') {
            line++;
            col = 0;
            i++;
        } else {
            i++;
            while (i < e && (t[i] & 0xC0) == 0x80)
                i++;
            col++;
        }
    }
    return p;
}

static ml_cfg_pos byte_pos(const ml_cfg_source *src, size_t offset)
{
    ml_cfg_pos p = {src->name, 0, 0};
    if (!src->has_lines)
        return p;
    const unsigned char *t = (const unsigned char *)src->text;
    int line = 0, col = 0;
    for (size_t i = bom_len(src); i < offset && i < src->len; i++) {
        if (t[i] == '\n') {
            line++;
            col = 0;
        } else if ((t[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    p.line = line + 1;
    p.column = col + 1;
    return p;
}

/* ---- a growing string ---------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = ml_realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    char *big = ml_malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(b, big, (size_t)n);
    ml_free(big);
}

/* ---- the builder: libyaml events to nodes ------------------------------- */

typedef struct {
    ml_cfg_node *node;
    char *key; /* MAP: the key waiting for its value */
    ml_cfg_pos key_pos;
} frame;

typedef struct {
    ml_cfg_source *src;
    frame *stack;
    int depth, cap;
    ml_cfg_node **anchors; /* weak; names in node->anchor; the latest definition wins */
    int n_anchors, cap_anchors;
    ml_cfg_node *root;
} builder;

static ml_status b_error(builder *b, ml_cfg_pos pos, ml_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ml_status b_error(builder *b, ml_cfg_pos pos, ml_status s, const char *fmt, ...)
{
    (void)b;
    va_list ap;
    va_start(ap, fmt);
    ml_cfg_verror_at(&pos, s, fmt, ap);
    va_end(ap);
    return s;
}

static ml_status b_oom(builder *b)
{
    return ml_error(ML_ENOMEM, "%s: out of memory while reading", b->src->name);
}

static ml_status add_anchor(builder *b, ml_cfg_node *node)
{
    if (b->n_anchors == b->cap_anchors) {
        int cap = b->cap_anchors ? 2 * b->cap_anchors : 8;
        ml_cfg_node **a = ml_realloc(b->anchors, (size_t)cap * sizeof *a);
        if (!a)
            return b_oom(b);
        b->anchors = a;
        b->cap_anchors = cap;
    }
    b->anchors[b->n_anchors++] = node;
    return ML_OK;
}

static ml_cfg_node *find_anchor(const builder *b, const char *name)
{
    for (int i = b->n_anchors - 1; i >= 0; i--)
        if (strcmp(b->anchors[i]->anchor, name) == 0)
            return b->anchors[i];
    return NULL;
}

/* The anchors of an existing tree, in document order, for -s values that refer to them. */
static ml_status seed_anchors(builder *b, ml_cfg_node *node, int depth)
{
    if (depth > 10000)
        return ML_OK;
    if (node->anchor && node != find_anchor(b, node->anchor))
        ML_TRY(add_anchor(b, node));
    for (size_t i = 0; i < node->n; i++)
        ML_TRY(seed_anchors(b, node->items[i], depth + 1));
    return ML_OK;
}

static frame *top(builder *b)
{
    return b->depth > 0 ? &b->stack[b->depth - 1] : NULL;
}

static int expecting_key(builder *b)
{
    frame *f = top(b);
    return f && f->node->kind == ML_CFG_MAP && !f->key;
}

/* Puts a finished or started node in its place; takes over its reference. */
static ml_status attach(builder *b, ml_cfg_node *node)
{
    frame *f = top(b);
    if (!f) {
        if (b->root) { /* cannot happen: one node per document */
            ml_cfg_node_free(node);
            return b_error(b, node->pos, ML_EFORMAT, "more than one root node");
        }
        b->root = node;
        return ML_OK;
    }
    ml_cfg_pos none = {0};
    char *key = f->key;
    ml_cfg_pos kp = f->key ? f->key_pos : none;
    f->key = NULL;
    if (node_append(f->node, key, kp, node) != ML_OK)
        return b_oom(b);
    return ML_OK;
}

/* ${VAR} expansion, in place. */
static ml_status expand_env(builder *b, char **text, yaml_mark_t start, yaml_mark_t end)
{
    const char *s = *text;
    if (!strstr(s, "${"))
        return ML_OK;
    sbuf out = {0};
    const char *p = s;
    const char *q;
    int k = 0;
    ml_status st = ML_OK;
    while ((q = strstr(p, "${")) != NULL) {
        sb_put(&out, p, (size_t)(q - p));
        const char *close = strchr(q + 2, '}');
        if (!close) {
            st = b_error(b, dollar_pos(b->src, start, end, k), ML_EFORMAT,
                         "unterminated '${' (write '${NAME}')");
            break;
        }
        size_t n = (size_t)(close - (q + 2));
        if (n == 0) {
            st = b_error(b, dollar_pos(b->src, start, end, k), ML_EFORMAT,
                         "empty variable name in '${}'");
            break;
        }
        char *name = ml_malloc(n + 1);
        if (!name) {
            st = b_oom(b);
            break;
        }
        memcpy(name, q + 2, n);
        name[n] = '\0';
        const char *value = getenv(name);
        if (!value) {
            st = b_error(b, dollar_pos(b->src, start, end, k), ML_EFORMAT,
                         "environment variable '%s' is not set", name);
            ml_free(name);
            break;
        }
        ml_free(name);
        sb_puts(&out, value);
        p = close + 1;
        k++;
    }
    if (st == ML_OK) {
        sb_puts(&out, p);
        if (out.oom)
            st = b_oom(b);
    }
    if (st != ML_OK) {
        ml_free(out.p);
        return st;
    }
    ml_free(*text);
    *text = out.p;
    return ML_OK;
}

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

static ml_status apply_tag(builder *b, ml_cfg_node *node, const char *tag, int plain)
{
    if (!tag)
        return ML_OK;
    if (strncmp(tag, "!obj:", 5) == 0) {
        const char *name = tag + 5;
        if (!*name)
            return b_error(b, node->pos, ML_EFORMAT, "missing component name after '!obj:'");
        if (node->kind != ML_CFG_MAP) {
            if (node->kind == ML_CFG_SEQ || !plain || (node->text && *node->text))
                return b_error(b, node->pos, ML_EFORMAT,
                               "'!obj:%s' must be followed by a mapping of parameters ('{ ... }')",
                               name);
            /* `!obj:Name` with nothing after it: no parameters */
            ml_free(node->text);
            node->text = NULL;
            node->kind = ML_CFG_MAP;
        }
        node->tag = ml_strdup(name);
        return node->tag ? ML_OK : b_oom(b);
    }
    if (strncmp(tag, "!import", 7) == 0)
        return b_error(b, node->pos, ML_EFORMAT,
                       "'!import' is not supported: only registered components can be built "
                       "(write '!obj:Name { ... }')");
    if (strncmp(tag, "!pkl:", 5) == 0)
        return b_error(b, node->pos, ML_EFORMAT,
                       "'!pkl:' is not supported: pickled Python objects cannot be loaded");
    int scalar = node->kind == ML_CFG_SCALAR || node->kind == ML_CFG_NULL;
    if (strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) == 0) {
        const char *t = tag + strlen(YAML_TAG_PREFIX);
        int ok;
        if (!strcmp(t, "str")) {
            ok = scalar;
            if (ok) {
                node->kind = ML_CFG_SCALAR;
                node->quoted = 1;
            }
        } else if (!strcmp(t, "int") || !strcmp(t, "float") || !strcmp(t, "bool")) {
            ok = scalar;
            if (ok)
                node->kind = ML_CFG_SCALAR;
        } else if (!strcmp(t, "null")) {
            ok = scalar;
            if (ok)
                node->kind = ML_CFG_NULL;
        } else if (!strcmp(t, "seq") || !strcmp(t, "python/tuple") || !strcmp(t, "python/list")) {
            ok = node->kind == ML_CFG_SEQ;
        } else if (!strcmp(t, "map") || !strcmp(t, "python/dict")) {
            ok = node->kind == ML_CFG_MAP;
        } else if (!strncmp(t, "python/", 7)) {
            return b_error(b, node->pos, ML_EFORMAT,
                           "'!!%s' is not supported: Python objects cannot be built "
                           "(write '!obj:Name { ... }')", t);
        } else {
            return b_error(b, node->pos, ML_EFORMAT, "unknown tag '!!%s'", t);
        }
        if (!ok)
            return b_error(b, node->pos, ML_EFORMAT, "tag '!!%s' does not fit a %s", t,
                           node->kind == ML_CFG_SEQ   ? "list"
                           : node->kind == ML_CFG_MAP ? "mapping"
                                                      : "scalar");
        node->yaml_tag = ml_strdup(tag);
        return node->yaml_tag ? ML_OK : b_oom(b);
    }
    if (!strcmp(tag, "!")) { /* the non-specific tag: a string */
        if (scalar) {
            node->kind = ML_CFG_SCALAR;
            node->quoted = 1;
        }
        node->yaml_tag = ml_strdup(tag);
        return node->yaml_tag ? ML_OK : b_oom(b);
    }
    return b_error(b, node->pos, ML_EFORMAT,
                   "unknown tag '%s' (components are written '!obj:Name { ... }')", tag);
}

static ml_status set_anchor(builder *b, ml_cfg_node *node, const char *anchor)
{
    if (!anchor)
        return ML_OK;
    node->anchor = ml_strdup(anchor);
    if (!node->anchor)
        return b_oom(b);
    return add_anchor(b, node);
}

static ml_status on_key(builder *b, const yaml_event_t *ev)
{
    frame *f = top(b);
    ml_cfg_pos pos = mark_pos(b->src, ev->start_mark);
    const char *tag = (const char *)ev->data.scalar.tag;
    if (ev->data.scalar.anchor)
        return b_error(b, pos, ML_EFORMAT, "a mapping key cannot have an anchor");
    if (tag && strcmp(tag, "!") && strcmp(tag, YAML_TAG_PREFIX "str"))
        return b_error(b, pos, ML_EFORMAT, "a mapping key cannot have a tag");
    char *key = ml_strdup((const char *)ev->data.scalar.value);
    if (!key)
        return b_oom(b);
    ml_status st = expand_env(b, &key, ev->start_mark, ev->end_mark);
    if (st == ML_OK && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strcmp(key, "<<"))
        st = b_error(b, pos, ML_EFORMAT, "merge keys ('<<') are not supported");
    for (size_t i = 0; st == ML_OK && i < f->node->n; i++) {
        if (strcmp(f->node->keys[i], key) == 0) {
            if (f->node->key_pos[i].line > 0)
                st = b_error(b, pos, ML_EFORMAT, "duplicate key '%s' (first on line %d)", key,
                             f->node->key_pos[i].line);
            else
                st = b_error(b, pos, ML_EFORMAT, "duplicate key '%s'", key);
        }
    }
    if (st != ML_OK) {
        ml_free(key);
        return st;
    }
    f->key = key;
    f->key_pos = pos;
    return ML_OK;
}

static ml_status on_scalar(builder *b, const yaml_event_t *ev)
{
    if (expecting_key(b))
        return on_key(b, ev);
    const char *value = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    ml_cfg_kind kind = plain && !tag && is_null_word(value) ? ML_CFG_NULL : ML_CFG_SCALAR;
    ml_cfg_node *node = node_new(kind, b->src, mark_pos(b->src, ev->start_mark));
    if (!node)
        return b_oom(b);
    node->text = ml_strdup(value);
    node->quoted = !plain;
    ml_status st = node->text ? ML_OK : b_oom(b);
    if (st == ML_OK)
        st = apply_tag(b, node, tag, plain);
    if (st == ML_OK && node->kind == ML_CFG_SCALAR)
        st = expand_env(b, &node->text, ev->start_mark, ev->end_mark);
    if (st == ML_OK)
        st = set_anchor(b, node, (const char *)ev->data.scalar.anchor);
    if (st != ML_OK) {
        ml_cfg_node_free(node);
        return st;
    }
    return attach(b, node);
}

static ml_status on_start(builder *b, const yaml_event_t *ev, ml_cfg_kind kind)
{
    ml_cfg_pos pos = mark_pos(b->src, ev->start_mark);
    if (expecting_key(b))
        return b_error(b, pos, ML_EFORMAT, "mapping keys must be scalars");
    const char *tag, *anchor;
    if (kind == ML_CFG_MAP) {
        tag = (const char *)ev->data.mapping_start.tag;
        anchor = (const char *)ev->data.mapping_start.anchor;
    } else {
        tag = (const char *)ev->data.sequence_start.tag;
        anchor = (const char *)ev->data.sequence_start.anchor;
    }
    ml_cfg_node *node = node_new(kind, b->src, pos);
    if (!node)
        return b_oom(b);
    ml_status st = apply_tag(b, node, tag, 0);
    if (st == ML_OK)
        st = set_anchor(b, node, anchor);
    if (st != ML_OK) {
        ml_cfg_node_free(node);
        return st;
    }
    if (b->depth >= CFG_MAX_NESTING) {
        ml_cfg_node_free(node);
        return b_error(b, pos, ML_EFORMAT, "nested too deeply (more than %d levels)",
                       CFG_MAX_NESTING);
    }
    if (b->depth == b->cap) {
        int cap = b->cap ? 2 * b->cap : 16;
        frame *s = ml_realloc(b->stack, (size_t)cap * sizeof *s);
        if (!s) {
            ml_cfg_node_free(node);
            return b_oom(b);
        }
        b->stack = s;
        b->cap = cap;
    }
    node->busy_ = 1;
    ML_TRY(attach(b, node));
    frame *f = &b->stack[b->depth++];
    f->node = node;
    f->key = NULL;
    return ML_OK;
}

static ml_status on_alias(builder *b, const yaml_event_t *ev)
{
    ml_cfg_pos pos = mark_pos(b->src, ev->start_mark);
    const char *name = (const char *)ev->data.alias.anchor;
    if (expecting_key(b))
        return b_error(b, pos, ML_EFORMAT, "an alias cannot be a mapping key");
    ml_cfg_node *target = find_anchor(b, name);
    if (!target)
        return b_error(b, pos, ML_EFORMAT, "undefined alias '*%s'", name);
    if (target->busy_)
        return b_error(b, pos, ML_EFORMAT, "alias '*%s' refers to a node that contains it", name);
    target->refs_++;
    return attach(b, target);
}

static ml_status syntax_error(builder *b, const yaml_parser_t *p)
{
    ml_cfg_pos pos;
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return b_oom(b);
    case YAML_READER_ERROR:
        pos = byte_pos(b->src, p->problem_offset);
        break;
    default:
        pos = mark_pos(b->src, p->problem_mark);
        break;
    }
    return b_error(b, pos, ML_EFORMAT, "%s", p->problem ? p->problem : "syntax error");
}

/* Parses src into a tree; seed (may be NULL) lends its anchors to aliases. */
static ml_status parse_source(ml_cfg_source *src, ml_cfg_node *seed, ml_cfg_node **root)
{
    *root = NULL;
    builder b = {0};
    b.src = src;
    ml_status st = seed ? seed_anchors(&b, seed, 0) : ML_OK;
    yaml_parser_t parser;
    if (st == ML_OK && !yaml_parser_initialize(&parser))
        st = b_oom(&b);
    if (st != ML_OK) {
        ml_free(b.anchors);
        return st;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)src->text, src->len);
    int done = 0, docs = 0;
    while (!done && st == ML_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = syntax_error(&b, &parser);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                st = b_error(&b, mark_pos(src, ev.start_mark), ML_EFORMAT,
                             "only one document is allowed");
            break;
        case YAML_ALIAS_EVENT:
            st = on_alias(&b, &ev);
            break;
        case YAML_SCALAR_EVENT:
            st = on_scalar(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            st = on_start(&b, &ev, ML_CFG_SEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            st = on_start(&b, &ev, ML_CFG_MAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (b.depth > 0) {
                frame *f = &b.stack[--b.depth];
                f->node->busy_ = 0;
                ml_free(f->key);
                f->key = NULL;
            }
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    for (int i = 0; i < b.depth; i++) {
        b.stack[i].node->busy_ = 0;
        ml_free(b.stack[i].key);
    }
    ml_free(b.stack);
    ml_free(b.anchors);
    if (st == ML_OK && !b.root) {
        ml_cfg_pos pos = {src->name, src->has_lines, src->has_lines};
        b.root = node_new(ML_CFG_NULL, src, pos);
        if (b.root)
            b.root->text = ml_strdup("");
        if (!b.root || !b.root->text)
            st = b_oom(&b);
    }
    if (st != ML_OK) {
        ml_cfg_node_free(b.root);
        return st;
    }
    *root = b.root;
    return ML_OK;
}

static ml_status parse_text(const char *text, size_t len, const char *name, int has_lines,
                            ml_cfg_node *seed, ml_cfg_node **root)
{
    ml_cfg_source *src = source_new(name, text, len, has_lines);
    if (!src)
        return ml_error(ML_ENOMEM, "%s: out of memory while reading", name ? name : "<string>");
    ml_status st = parse_source(src, seed, root);
    source_unref(src);
    return st;
}

ml_status ml_cfg_parse_string(const char *text, const char *name, ml_cfg_node **root)
{
    ML_ASSERT(text && root);
    return parse_text(text, strlen(text), name, 1, NULL, root);
}

ml_status ml_cfg_parse_value(const char *text, const char *name, ml_cfg_node *seed,
                              ml_cfg_node **root)
{
    return parse_text(text, strlen(text), name, 0, seed, root);
}

ml_status ml_cfg_parse_file(const char *path, ml_cfg_node **root)
{
    ML_ASSERT(path && root);
    *root = NULL;
    int is_stdin = strcmp(path, "-") == 0;
    const char *shown = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return ml_error(ML_EIO, "%s: cannot open: %s", shown, strerror(errno));
    sbuf text = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_put(&text, chunk, got);
    int failed = ferror(f);
    int saved_errno = errno;
    if (!is_stdin)
        fclose(f);
    if (failed) {
        ml_free(text.p);
        return ml_error(ML_EIO, "%s: cannot read: %s", shown, strerror(saved_errno));
    }
    if (text.oom) {
        ml_free(text.p);
        return ml_error(ML_ENOMEM, "%s: out of memory while reading", shown);
    }
    ml_status st = parse_text(text.p ? text.p : "", text.n, path, 1, NULL, root);
    ml_free(text.p);
    return st;
}

/* ---- lookups ------------------------------------------------------------- */

const ml_cfg_node *ml_cfg_get(const ml_cfg_node *map, const char *key)
{
    if (!map || map->kind != ML_CFG_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

/* A list index: digits only, no sign, no leading zeros beyond "0". */
static int parse_index(const char *s, size_t len, size_t *out)
{
    if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
        return 0;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return 1;
}

static ml_cfg_node *step(const ml_cfg_node *node, const char *elem, size_t len)
{
    if (node->kind == ML_CFG_MAP) {
        for (size_t i = 0; i < node->n; i++)
            if (strlen(node->keys[i]) == len && memcmp(node->keys[i], elem, len) == 0)
                return node->items[i];
    } else if (node->kind == ML_CFG_SEQ) {
        size_t idx;
        if (parse_index(elem, len, &idx) && idx < node->n)
            return node->items[idx];
    }
    return NULL;
}

const ml_cfg_node *ml_cfg_path(const ml_cfg_node *root, const char *path)
{
    const ml_cfg_node *node = root;
    const char *p = path;
    while (node && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        node = step(node, p, len);
        p += len;
        if (*p == '.')
            p++;
    }
    return node;
}

/* ---- overrides ----------------------------------------------------------- */

static int contains(const ml_cfg_node *tree, const ml_cfg_node *target, int depth)
{
    if (tree == target)
        return 1;
    if (depth > 10000)
        return 0;
    for (size_t i = 0; i < tree->n; i++)
        if (contains(tree->items[i], target, depth + 1))
            return 1;
    return 0;
}

/* What the override message calls a container: "!obj:SGD", "'model.layers'", "the document". */
static void describe_container(const ml_cfg_node *node, const char *path, size_t path_len,
                               char *buf, size_t size)
{
    if (node->kind == ML_CFG_MAP && node->tag)
        snprintf(buf, size, "!obj:%s", node->tag);
    else if (path_len == 0)
        snprintf(buf, size, "the document");
    else
        snprintf(buf, size, "'%.*s'", (int)path_len, path);
}

#define OVERRIDE_MAX_DEPTH 256

ml_status ml_cfg_override(ml_cfg_node *root, const char *assignment)
{
    ML_ASSERT(root && assignment);
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return ml_error(ML_EINVAL, "-s %s: expected PATH=VALUE", assignment);
    size_t path_len = (size_t)(eq - assignment);
    const char *path = assignment;
    const char *value = eq + 1;
    char label[CFG_MSG_MAX];
    snprintf(label, sizeof label, "-s %.*s", (int)path_len, path);
    if (path_len == 0)
        return ml_error(ML_EINVAL, "-s %s: empty path before '='", assignment);

    ml_cfg_node *chain[OVERRIDE_MAX_DEPTH];
    int depth = 0;
    ml_cfg_node *node = root;
    const char *p = path;
    const char *end = path + path_len;
    const char *last = NULL;
    size_t last_len = 0;
    char where[CFG_MSG_MAX];
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (len == 0)
            return ml_error(ML_EINVAL, "%s: empty element in path", label);
        if (!dot) {
            last = p;
            last_len = len;
            break;
        }
        if (depth == OVERRIDE_MAX_DEPTH)
            return ml_error(ML_EINVAL, "%s: path too deep", label);
        chain[depth++] = node;
        size_t walked = (size_t)(p - path);
        walked = walked ? walked - 1 : 0;
        ml_cfg_node *next = step(node, p, len);
        if (!next) {
            describe_container(node, path, walked, where, sizeof where);
            if (node->kind == ML_CFG_MAP) {
                char *elem = ml_malloc(len + 1);
                if (!elem)
                    return ML_ENOMEM;
                memcpy(elem, p, len);
                elem[len] = '\0';
                const char *s = ml_suggest(elem, (const char *const *)node->keys, (int)node->n);
                ml_status st;
                if (s)
                    st = ml_error(ML_ENOTFOUND, "%s: no key '%s' in %s (did you mean '%s'?)",
                                  label, elem, where, s);
                else
                    st = ml_error(ML_ENOTFOUND, "%s: no key '%s' in %s", label, elem, where);
                ml_free(elem);
                return st;
            }
            if (node->kind == ML_CFG_SEQ)
                return ml_error(ML_ENOTFOUND, "%s: no item '%.*s' in %s (a list of %zu)", label,
                                (int)len, p, where, node->n);
            return ml_error(ML_EINVAL, "%s: cannot select '%.*s' inside %s (%s)", label,
                            (int)len, p, where, node->kind == ML_CFG_NULL ? "null" : "a scalar");
        }
        node = next;
        p = dot + 1;
    }

    /* the last element: an existing key or index, or a new key */
    size_t walked = (size_t)(last - path);
    walked = walked ? walked - 1 : 0;
    describe_container(node, path, walked, where, sizeof where);
    ml_cfg_node **slot = NULL;
    if (node->kind == ML_CFG_MAP) {
        for (size_t i = 0; i < node->n; i++)
            if (strlen(node->keys[i]) == last_len && memcmp(node->keys[i], last, last_len) == 0)
                slot = &node->items[i];
    } else if (node->kind == ML_CFG_SEQ) {
        size_t idx;
        if (!parse_index(last, last_len, &idx) || idx >= node->n)
            return ml_error(ML_ENOTFOUND, "%s: no item '%.*s' in %s (a list of %zu)", label,
                            (int)last_len, last, where, node->n);
        slot = &node->items[idx];
    } else {
        return ml_error(ML_EINVAL, "%s: cannot set '%.*s' inside %s (%s)", label, (int)last_len,
                        last, where, node->kind == ML_CFG_NULL ? "null" : "a scalar");
    }

    ml_cfg_node *val;
    ML_TRY(ml_cfg_parse_value(value, label, root, &val));
    chain[depth++] = node;
    for (int i = 0; i < depth; i++) {
        if (contains(val, chain[i], 0)) {
            ml_cfg_node_free(val);
            return ml_error(ML_EINVAL, "%s: the value refers to a node that contains it", label);
        }
    }
    if (!slot) {
        char *key = ml_malloc(last_len + 1);
        if (!key) {
            ml_cfg_node_free(val);
            return ML_ENOMEM;
        }
        memcpy(key, last, last_len);
        key[last_len] = '\0';
        if (source_keep(node->src_, val->src_) != ML_OK) {
            ml_free(key);
            ml_cfg_node_free(val);
            return ml_error(ML_ENOMEM, "%s: out of memory", label);
        }
        return node_append(node, key, val->pos, val) == ML_OK
                   ? ML_OK
                   : ml_error(ML_ENOMEM, "%s: out of memory", label);
    }
    ml_cfg_node *old = *slot;
    if (val->refs_ > 1 || contains(val, old, 0)) {
        /* an alias (or something holding the old node): put it in the old one's place */
        *slot = val;
        ml_cfg_node_free(old);
        return ML_OK;
    }
    /* in place, so every alias of the old node sees the new value */
    ml_cfg_node tmp = *old;
    *old = *val;
    *val = tmp;
    old->refs_ = tmp.refs_;
    old->busy_ = 0;
    val->refs_ = 1;
    val->busy_ = 0;
    if (!old->anchor) {
        old->anchor = val->anchor;
        val->anchor = NULL;
    }
    ml_cfg_node_free(val);
    return ML_OK;
}

/* ---- emitting ------------------------------------------------------------ */

typedef struct {
    const ml_cfg_node *node;
    int count;
    char *name;
    int emitted;
} emit_ent;

typedef struct {
    sbuf out;
    emit_ent *ents;
    int n, cap;
    int next_ref;
} emitter;

static emit_ent *find_ent(emitter *e, const ml_cfg_node *node)
{
    for (int i = 0; i < e->n; i++)
        if (e->ents[i].node == node)
            return &e->ents[i];
    return NULL;
}

static void count_nodes(emitter *e, const ml_cfg_node *node)
{
    if (e->out.oom)
        return;
    emit_ent *ent = find_ent(e, node);
    if (ent) {
        ent->count++;
        return;
    }
    if (e->n == e->cap) {
        int cap = e->cap ? 2 * e->cap : 64;
        emit_ent *ents = ml_realloc(e->ents, (size_t)cap * sizeof *ents);
        if (!ents) {
            e->out.oom = 1;
            return;
        }
        e->ents = ents;
        e->cap = cap;
    }
    e->ents[e->n++] = (emit_ent){node, 1, NULL, 0};
    for (size_t i = 0; i < node->n; i++)
        count_nodes(e, node->items[i]);
}

static int name_taken(const emitter *e, const char *name)
{
    for (int i = 0; i < e->n; i++)
        if (e->ents[i].name && strcmp(e->ents[i].name, name) == 0)
            return 1;
    return 0;
}

static void name_anchors(emitter *e)
{
    char buf[256];
    for (int i = 0; i < e->n && !e->out.oom; i++) {
        emit_ent *ent = &e->ents[i];
        if (ent->count < 2 && !ent->node->anchor)
            continue;
        if (ent->node->anchor && !name_taken(e, ent->node->anchor)) {
            snprintf(buf, sizeof buf, "%s", ent->node->anchor);
        } else {
            for (int k = 2;; k++) {
                if (ent->node->anchor)
                    snprintf(buf, sizeof buf, "%.200s_%d", ent->node->anchor, k);
                else
                    snprintf(buf, sizeof buf, "ref%d", ++e->next_ref);
                if (!name_taken(e, buf))
                    break;
            }
        }
        ent->name = ml_strdup(buf);
        if (!ent->name)
            e->out.oom = 1;
    }
}

static int plain_safe(const char *s, ml_cfg_kind kind)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
        return 0;
    if (kind == ML_CFG_SCALAR && is_null_word(s))
        return 0;
    if (!strncmp(s, "---", 3) || !strncmp(s, "...", 3))
        return 0;
    if (strchr("?:,[]{}#&*!|>'\"%@`", s[0]))
        return 0;
    if (s[0] == '-' && (s[1] == '\0' || strchr(" ,[]{}", s[1])))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || strchr(",[]{}", c))
            return 0;
        /* ": " and a final ':' end a plain scalar, as ":" before a flow indicator does;
         * " #" starts a comment */
        if (c == ':' && (i + 1 == n || strchr(" ,?[]{}", s[i + 1])))
            return 0;
        if (c == '#' && s[i - 1] == ' ')
            return 0;
    }
    return 1;
}

static void emit_scalar(emitter *e, const char *s, int quoted, ml_cfg_kind kind)
{
    if (!quoted && plain_safe(s, kind)) {
        sb_puts(&e->out, s);
        return;
    }
    int control = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            control = 1;
    if (!control) {
        sb_put(&e->out, "'", 1);
        for (const char *c = s; *c; c++) {
            if (*c == '\'')
                sb_put(&e->out, "''", 2);
            else
                sb_put(&e->out, c, 1);
        }
        sb_put(&e->out, "'", 1);
        return;
    }
    sb_put(&e->out, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': sb_puts(&e->out, "\\\""); break;
        case '\\': sb_puts(&e->out, "\\\\"); break;
        case '\n': sb_puts(&e->out, "\\n"); break;
        case '\t': sb_puts(&e->out, "\\t"); break;
        case '\r': sb_puts(&e->out, "\\r"); break;
        default:
            if (*c < 0x20 || *c == 0x7f)
                sb_printf(&e->out, "\\x%02x", *c);
            else
                sb_put(&e->out, (const char *)c, 1);
        }
    }
    sb_put(&e->out, "\"", 1);
}

static void emit_indent(emitter *e, int level)
{
    for (int i = 0; i < level; i++)
        sb_puts(&e->out, "    ");
}

static int is_leaf(const ml_cfg_node *n)
{
    return n->kind == ML_CFG_SCALAR || n->kind == ML_CFG_NULL;
}

static void emit_node(emitter *e, const ml_cfg_node *node, int level)
{
    emit_ent *ent = find_ent(e, node);
    if (ent && ent->emitted) {
        sb_printf(&e->out, "*%s", ent->name);
        return;
    }
    if (ent)
        ent->emitted = 1;
    if (ent && ent->name)
        sb_printf(&e->out, "&%s ", ent->name);
    if (node->tag) {
        sb_printf(&e->out, "!obj:%s ", node->tag);
    } else if (node->yaml_tag) {
        const char *t = node->yaml_tag;
        if (!strncmp(t, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)))
            sb_printf(&e->out, "!!%s ", t + strlen(YAML_TAG_PREFIX));
        else if (t[0] == '!')
            sb_printf(&e->out, "%s ", t);
        else
            sb_printf(&e->out, "!<%s> ", t);
    }
    switch (node->kind) {
    case ML_CFG_NULL:
        sb_puts(&e->out, "null");
        break;
    case ML_CFG_SCALAR:
        emit_scalar(e, node->text ? node->text : "", node->quoted, ML_CFG_SCALAR);
        break;
    case ML_CFG_SEQ: {
        if (node->n == 0) {
            sb_puts(&e->out, "[]");
            break;
        }
        int inline_ok = 1;
        size_t width = 0;
        for (size_t i = 0; i < node->n; i++) {
            const ml_cfg_node *it = node->items[i];
            emit_ent *ie = find_ent(e, it);
            if (!is_leaf(it) || (ie && ie->name) || it->yaml_tag)
                inline_ok = 0;
            else
                width += (it->text ? strlen(it->text) : 4) + 2;
        }
        if (inline_ok && width <= 72) {
            sb_puts(&e->out, "[");
            for (size_t i = 0; i < node->n; i++) {
                if (i)
                    sb_puts(&e->out, ", ");
                emit_node(e, node->items[i], level + 1);
            }
            sb_puts(&e->out, "]");
            break;
        }
        sb_puts(&e->out, "[\n");
        for (size_t i = 0; i < node->n; i++) {
            emit_indent(e, level + 1);
            emit_node(e, node->items[i], level + 1);
            sb_puts(&e->out, i + 1 < node->n ? ",\n" : "\n");
        }
        emit_indent(e, level);
        sb_puts(&e->out, "]");
        break;
    }
    case ML_CFG_MAP:
        if (node->n == 0) {
            sb_puts(&e->out, "{}");
            break;
        }
        sb_puts(&e->out, "{\n");
        for (size_t i = 0; i < node->n; i++) {
            emit_indent(e, level + 1);
            emit_scalar(e, node->keys[i], 0, ML_CFG_SCALAR);
            sb_puts(&e->out, ": ");
            emit_node(e, node->items[i], level + 1);
            sb_puts(&e->out, i + 1 < node->n ? ",\n" : "\n");
        }
        emit_indent(e, level);
        sb_puts(&e->out, "}");
        break;
    }
}

ml_status ml_cfg_emit(const ml_cfg_node *root, char **text)
{
    ML_ASSERT(root && text);
    *text = NULL;
    emitter e = {0};
    count_nodes(&e, root);
    name_anchors(&e);
    if (!e.out.oom) {
        emit_node(&e, root, 0);
        sb_puts(&e.out, "\n");
    }
    for (int i = 0; i < e.n; i++)
        ml_free(e.ents[i].name);
    ml_free(e.ents);
    if (e.out.oom) {
        ml_free(e.out.p);
        return ml_error(ML_ENOMEM, "out of memory writing YAML");
    }
    *text = e.out.p;
    return ML_OK;
}

/* ---- flattening ---------------------------------------------------------- */

typedef struct {
    ml_cfg_entry *entries;
    size_t n, cap;
    const ml_cfg_node **seen; /* containers walked, to stop at aliases */
    size_t n_seen, cap_seen;
    int oom;
} flattener;

static void flat_add(flattener *f, const char *key, const char *value)
{
    if (f->oom)
        return;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 32;
        ml_cfg_entry *e = ml_realloc(f->entries, cap * sizeof *e);
        if (!e) {
            f->oom = 1;
            return;
        }
        f->entries = e;
        f->cap = cap;
    }
    char *k = ml_strdup(key), *v = ml_strdup(value);
    if (!k || !v) {
        ml_free(k);
        ml_free(v);
        f->oom = 1;
        return;
    }
    f->entries[f->n++] = (ml_cfg_entry){k, v};
}

/* 1 when node was walked before; else remembers it. */
static int flat_seen(flattener *f, const ml_cfg_node *node)
{
    for (size_t i = 0; i < f->n_seen; i++)
        if (f->seen[i] == node)
            return 1;
    if (f->n_seen == f->cap_seen) {
        size_t cap = f->cap_seen ? 2 * f->cap_seen : 32;
        const ml_cfg_node **s = ml_realloc(f->seen, cap * sizeof *s);
        if (!s) {
            f->oom = 1;
            return 1;
        }
        f->seen = s;
        f->cap_seen = cap;
    }
    f->seen[f->n_seen++] = node;
    return 0;
}

static void flat_walk(flattener *f, const ml_cfg_node *node, sbuf *path)
{
    if (f->oom || path->oom) {
        f->oom = 1;
        return;
    }
    const char *key = path->p ? path->p : "";
    if (node->kind == ML_CFG_SCALAR) {
        flat_add(f, key, node->text ? node->text : "");
        return;
    }
    if (node->kind == ML_CFG_NULL) {
        flat_add(f, key, "null");
        return;
    }
    if (flat_seen(f, node)) {
        char *alias = NULL;
        if (!f->oom) {
            size_t len = node->anchor ? strlen(node->anchor) : 0;
            alias = ml_malloc(len + 2);
            if (alias) {
                alias[0] = '*';
                memcpy(alias + 1, node->anchor ? node->anchor : "", len + 1);
                flat_add(f, key, alias);
            } else {
                f->oom = 1;
            }
        }
        ml_free(alias);
        return;
    }
    int root = path->n == 0;
    if (node->tag && !root) {
        char *tag = ml_malloc(strlen(node->tag) + 6);
        if (!tag) {
            f->oom = 1;
            return;
        }
        strcpy(tag, "!obj:");
        strcat(tag, node->tag);
        flat_add(f, key, tag);
        ml_free(tag);
    } else if (node->n == 0 && !root) {
        flat_add(f, key, node->kind == ML_CFG_SEQ ? "[]" : "{}");
    }
    size_t len = path->n;
    for (size_t i = 0; i < node->n && !f->oom; i++) {
        if (!root)
            sb_put(path, ".", 1);
        if (node->kind == ML_CFG_MAP)
            sb_puts(path, node->keys[i]);
        else
            sb_printf(path, "%zu", i);
        flat_walk(f, node->items[i], path);
        path->n = len;
        if (path->p)
            path->p[len] = '\0';
    }
}

ml_status ml_cfg_flatten(const ml_cfg_node *root, ml_cfg_entry **entries, size_t *n)
{
    ML_ASSERT(entries && n);
    *entries = NULL;
    *n = 0;
    if (!root)
        return ML_OK;
    flattener f = {0};
    sbuf path = {0};
    flat_walk(&f, root, &path);
    ml_free(path.p);
    ml_free(f.seen);
    if (f.oom || path.oom) {
        ml_cfg_entries_free(f.entries, f.n);
        return ml_error(ML_ENOMEM, "out of memory flattening YAML");
    }
    *entries = f.entries;
    *n = f.n;
    return ML_OK;
}

void ml_cfg_entries_free(ml_cfg_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ml_free(entries[i].key);
        ml_free(entries[i].value);
    }
    ml_free(entries);
}
