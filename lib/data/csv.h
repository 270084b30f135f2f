/* CSV files: numeric features and a label column, raw or gzip-compressed.
 *
 * One example per line; fields separated by a delimiter (default ','); a
 * field may be quoted with double quotes ("a, b"; "" inside quotes is one
 * quote), but not across lines.  Blank lines are skipped, a trailing "\r" is
 * removed.  Every field other than the label column must be a number (strtod
 * syntax, surrounding spaces allowed; "nan" and "inf" parse and are refused
 * later unless allowed).  Compression is recognised by its magic number; path
 * "-" reads standard input. */
#ifndef ML_DATA_CSV_H
#define ML_DATA_CSV_H

#include "core/error.h"
#include "data/dataset.h"

typedef struct {
    int header;               /* 1: the first line names the columns; 0: it is data;
                                 -1 (default): a header when none of its fields is a number */
    int no_labels;            /* 1: every column is a feature, no y */
    long label_column;        /* 1-based column of the labels; 0: the last one */
    const char *label_name;   /* the label column by its header name (needs a header) */
    char delimiter;           /* 0: ',' */
} ml_csv_opts;

/* X float32 [N, D] from the feature columns; y int32 [N] from the label
 * column: when every label is a number with an integer value from 0 to
 * 1000000 ("3", "3.0"), class indices, n_classes = 1 + the largest; otherwise
 * class names, numbered in order of first appearance and kept as y_labels.  Messages name file, line and field (both
 * 1-based): "data.csv:12:4: 'abc' is not a number",
 * "data.csv:7: 3 fields, expected 5 (as on line 1)". */
ml_status ml_csv_import(const char *path, const ml_csv_opts *opts, ml_dataset **out);

#endif
