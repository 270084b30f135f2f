/* The experiment language: Pylearn2's YAML, read with libyaml into a tree.
 *
 *     !obj:pylearn2.train.Train {
 *         dataset: &train !obj:pylearn2.datasets.mnist.MNIST {
 *             which_set: 'train', path: '${PYLEARN2_DATA_PATH}/mnist.h5' },
 *         model: !obj:MLP { nvis: 784, layers: [ !obj:Softmax { ... } ] },
 *         algorithm: !obj:SGD { learning_rate: 0.05,
 *                               monitoring_dataset: { train: *train } },
 *     }
 *
 * The tree.  ml_cfg_parse_file() and ml_cfg_parse_string() give a tree of
 * ml_cfg_node: MAP (keys in file order), SEQ, SCALAR (text, and whether it was
 * quoted) and NULL (`null`, `~`, or nothing).  `!obj:Name` on a mapping stores
 * Name in node->tag; the parameters of the component are the mapping.
 * Anchors and aliases: `*a` is the SAME node object as `&a` (nodes are
 * reference counted), so instantiating the tree builds one shared object.
 * `${VAR}` anywhere inside a scalar (keys included, quoted or not) is replaced
 * by the environment variable VAR; `$VAR` without braces is left alone.
 * Pylearn2's `!import` and `!pkl:` are refused with a clear message, as is
 * any tag other than `!obj:Name` and the standard `!!str`, `!!int`,
 * `!!float`, `!!bool`, `!!null`, `!!seq`, `!!map` and `!!python/tuple` (read
 * as a list).  One document per stream.
 *
 * Positions.  Every node, and every mapping key, keeps the file name, line
 * and column (1-based, columns counted in characters) where it starts, and
 * every error is a message "FILE:LINE:COL: what went wrong" (FILE "-" is
 * shown as "<stdin>"): syntax errors carry libyaml's own problem text and
 * mark ("exp.yaml:7:3: mapping values are not allowed in this context"),
 * an unset variable points at its "${" ("exp.yaml:3:15: environment variable
 * 'PYLEARN2_DATA_PATH' is not set"), a duplicate key at its second
 * occurrence.  Values given on the command line (ml_cfg_override) are
 * positioned by the option that gave them: "-s algorithm.learning_rate: ...".
 *
 * The tree is read-only for its users: change it with ml_cfg_override(),
 * free it with ml_cfg_node_free() on the root.  The document's original text
 * stays available (ml_cfg_source_text) to be stored verbatim in model files.
 * Nothing here prints or exits; all memory comes from ml_malloc. */
#ifndef ML_CONFIG_YAML_H
#define ML_CONFIG_YAML_H

#include <stdarg.h>
#include <stddef.h>

#include "core/error.h"

typedef enum {
    ML_CFG_NULL = 0, /* null, ~, or an empty value */
    ML_CFG_SCALAR,   /* text */
    ML_CFG_SEQ,      /* [a, b] or "- a" items */
    ML_CFG_MAP,      /* {k: v} or "k: v" pairs, keys unique, in file order */
} ml_cfg_kind;

typedef struct {
    const char *file; /* as shown in messages: "exp.yaml", "<stdin>", "-s model.nvis" */
    int line;         /* 1-based; 0 when the source has no lines (a -s value) */
    int column;       /* 1-based, in characters */
} ml_cfg_pos;

typedef struct ml_cfg_source ml_cfg_source; /* private: the text a node came from */

/* A node of the tree.  Fields are read-only for users of the tree. */
typedef struct ml_cfg_node ml_cfg_node;
struct ml_cfg_node {
    ml_cfg_kind kind;
    char *tag;      /* MAP with `!obj:Name`: "Name" as written; else NULL */
    char *yaml_tag; /* any other accepted tag, in full ("tag:yaml.org,2002:python/tuple") */
    char *anchor;   /* "train" for `&train`; else NULL */
    ml_cfg_pos pos; /* where the node starts (at its anchor or tag when it has one) */
    char *text;     /* SCALAR: the value after ${VAR} expansion; NULL: as written ("~", "") */
    int quoted;     /* SCALAR: 1 when not plain (quoted, block scalar, !!str): a string */
    size_t n;          /* SEQ: items; MAP: pairs */
    ml_cfg_node **items;  /* SEQ: the items; MAP: the values */
    char **keys;          /* MAP: the keys */
    ml_cfg_pos *key_pos;  /* MAP: where each key starts */
    /* private */
    int refs_;
    int busy_;
    size_t cap_;
    ml_cfg_source *src_;
};

/* Reads and parses a file; "-" reads standard input ("<stdin>" in messages).
 * Cannot read: ML_EIO ("exp.yaml: cannot open: No such file or directory");
 * anything wrong inside: ML_EFORMAT with a position.  An empty document gives
 * a NULL node. */
ml_status ml_cfg_parse_file(const char *path, ml_cfg_node **root);
/* Parses text; name is used in positions (NULL: "<string>", "-": "<stdin>"). */
ml_status ml_cfg_parse_string(const char *text, const char *name, ml_cfg_node **root);

/* Drops a reference to the node and frees it (and what only it refers to)
 * when none is left.  Called on the root, frees the whole tree.  NULL: no-op. */
void ml_cfg_node_free(ml_cfg_node *node);

/* The document a node was parsed from: its text exactly as read (NUL-terminated;
 * *len, when len is not NULL, gets its length in bytes).  Borrowed: lives as long
 * as the node.  For a node set by ml_cfg_override, the text of the value. */
const char *ml_cfg_source_text(const ml_cfg_node *node, size_t *len);

/* The value of key in a MAP node, or NULL (also when node is not a MAP). */
const ml_cfg_node *ml_cfg_get(const ml_cfg_node *map, const char *key);
/* Walks a dotted path of keys and list indices ("model.layers.0.dim"); "" is
 * the node itself.  NULL when some element does not exist. */
const ml_cfg_node *ml_cfg_path(const ml_cfg_node *root, const char *path);

/* Sets one value from the command line, as `-s PATH=VALUE` does:
 * "algorithm.learning_rate=0.05", "model.layers.0.dim=200",
 * "algorithm.learning_rule=!obj:Momentum {init_momentum: 0.9}".
 * PATH walks mapping keys and list indices (0-based); every element but the
 * last must exist; the last may be a new key of a mapping (an optional
 * parameter missing from the file: it is checked against the component's
 * parameters at instantiation) or an existing list index.  VALUE is YAML
 * (flow style; empty means null; ${VAR} expands; `*a` refers to an anchor of
 * the document).  Its nodes are positioned "-s PATH".  Replacing a node
 * replaces it in place, so aliases of it see the new value (and keep its anchor);
 * a VALUE that is itself an alias (or contains the node) is put in its place
 * instead.  Errors (ML_EINVAL, ML_ENOTFOUND, ML_EFORMAT) name the option:
 * "-s algorithm.learnin_rate.x: no key 'learnin_rate' in !obj:SGD (did you mean 'learning_rate'?)".
 * On failure the tree is unchanged. */
ml_status ml_cfg_override(ml_cfg_node *root, const char *assignment);

/* Writes the tree as YAML in Pylearn2's style (`!obj:Name {` ... `}` in flow
 * style, one parameter per line, indented by 4), which ml_cfg_parse_string reads
 * back to an equal tree: tags, anchors and aliases (a node reached twice is
 * written once with its anchor, then as an alias), quoted-ness of scalars
 * (plain scalars that cannot be written plain are quoted).  Expanded ${VAR}
 * values are written expanded (YAML has no escape for "${": a value that
 * contains it after expansion would be expanded again when read back).
 * *text: ml_malloc'd, NUL-terminated, ends with a newline; free with ml_free. */
ml_status ml_cfg_emit(const ml_cfg_node *root, char **text);

/* One value of a tree flattened: its path, as ml_cfg_path and `-s` take it
 * ("model.layers.0.dim"), and its value as text. */
typedef struct {
    char *key;
    char *value;
} ml_cfg_entry;

/* Flattens a tree into one entry per value, in document order, to compare
 * experiments (ml-monitor --rank shows the ones that differ between runs).
 * Every scalar gives its text ("0.05", quotes removed), null gives "null", a
 * `!obj:Name` mapping gives "!obj:Name" under its own path and then its
 * parameters, an empty list or mapping gives "[]" or "{}".  A node reached a
 * second time (an alias) gives "*anchor" and is not walked again.  The root
 * gives no entry of its own unless it is a scalar or null (key "").
 * *entries: ml_malloc'd, free with ml_cfg_entries_free. */
ml_status ml_cfg_flatten(const ml_cfg_node *root, ml_cfg_entry **entries, size_t *n);
void ml_cfg_entries_free(ml_cfg_entry *entries, size_t n);

/* Formats "FILE:LINE:COL: " (or "FILE: " when line is 0) into buf; returns
 * the length it needed, like snprintf. */
int ml_cfg_pos_format(const ml_cfg_pos *pos, char *buf, size_t size);
/* Records an error "FILE:LINE:COL: message" (ml_error) and returns status. */
ml_status ml_cfg_error_at(const ml_cfg_pos *pos, ml_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ml_status ml_cfg_verror_at(const ml_cfg_pos *pos, ml_status status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
