/* Monitor records read back for display: from the /monitor group of a model
 * file, or line by line from the monitor stream that ml-train writes on
 * standard output (see ml-files(5)).
 *
 * A record is (epoch, batches, examples, seconds, value).  In a model file
 * each channel is a float64 dataset /monitor/<channel> of shape [n, 5] with
 * those columns.  The stream is text: a header line of tab-separated column
 * names "epoch batches examples seconds <channel>...", then one line per
 * record with the numbers in the same order; an empty field means the
 * channel has no value in that record ("nan" is a value: a diverged run's
 * objective, left out of best values), lines starting with '#' and blank
 * lines are ignored, and a new header line starts a new set of columns. */
#ifndef ML_IO_RECORDS_H
#define ML_IO_RECORDS_H

#include <stdint.h>

#include "core/error.h"
#include "io/h5.h"

enum {
    ML_REC_EPOCH = 0,
    ML_REC_BATCHES,
    ML_REC_EXAMPLES,
    ML_REC_SECONDS,
    ML_REC_VALUE,
    ML_REC_COLUMNS
};

typedef struct {
    char *name;
    int64_t n, capacity;
    double *rec; /* row-major [n, ML_REC_COLUMNS] */
} ml_records_channel;

typedef struct {
    int n_channels, capacity;
    ml_records_channel *channels; /* in file (creation) or stream order */
} ml_records;

ml_records *ml_records_new(void);
void ml_records_free(ml_records *r);

/* The channel of that name, or NULL. */
ml_records_channel *ml_records_find(const ml_records *r, const char *name);
/* The channel of that name, added (empty) when new; NULL on allocation failure. */
ml_records_channel *ml_records_channel_get(ml_records *r, const char *name);
/* Appends one record (ML_REC_COLUMNS numbers). */
ml_status ml_records_append(ml_records_channel *ch, const double rec[ML_REC_COLUMNS]);

/* The channel names as a NULL-terminated array of borrowed pointers
 * (ml_free the array only); NULL on allocation failure. */
const char **ml_records_names(const ml_records *r);

/* Checks the root attributes of an ml file: ml_format must be `format`
 * ("ml-model") and ml_format_version at most max_version.  ML_EFORMAT:
 * "m.h5: not an ml model file (ml_format is 'ml-dataset')", "m.h5: not an ml
 * model file (no ml_format attribute)", "m.h5: ml-model version 3 is newer
 * than this program reads (1)". */
ml_status ml_records_check_format(ml_h5_file *f, const char *format, int64_t max_version);

/* Reads every /monitor/<channel> of an open model file (no /monitor group:
 * no channels).  A dataset that is not float [n, 5] is ML_EFORMAT. */
ml_status ml_records_read_h5(ml_h5_file *f, ml_records **out);
/* Opens path ("-": standard input), checks it is an ml model file and reads
 * its records. */
ml_status ml_records_read_model(const char *path, ml_records **out);

/* ---- best values ----------------------------------------------------------- */

/* 1 when larger values of the channel are better: its name ends in "accuracy"
 * or "_acc". */
int ml_records_maximize(const char *name);

typedef struct {
    int64_t n;          /* records */
    int64_t best_index; /* -1 when no value is finite */
    double best, best_epoch;
    double last, last_epoch; /* the last record's (NaN when there is none) */
    double max_epoch;        /* largest epoch of a record (NaN when none) */
} ml_records_summary;

/* Best (smallest, or largest for ml_records_maximize names) finite value of a
 * channel, first occurrence on ties, and its last value. */
void ml_records_summarize(const ml_records_channel *ch, ml_records_summary *s);

/* ---- the monitor stream ---------------------------------------------------- */

typedef struct ml_records_stream ml_records_stream;

typedef enum {
    ML_STREAM_SKIP = 0,   /* blank line or comment */
    ML_STREAM_HEADER = 1, /* a header line: the columns changed */
    ML_STREAM_RECORD = 2, /* a record, appended to the channels that have a value */
} ml_stream_line_kind;

/* A parser appending to r (borrowed; it must outlive the parser).  name is
 * used in messages ("<stdin>:3: ..."). */
ml_records_stream *ml_records_stream_new(ml_records *r, const char *name);
void ml_records_stream_free(ml_records_stream *s);

/* Parses one line (a trailing "\n" or "\r\n" is ignored).  Errors
 * (ML_EFORMAT): a record before any header, a header that does not start
 * with the four fixed columns, a line with the wrong number of fields or a
 * field that is not a number: "<stdin>:7: expected 6 fields, found 5". */
ml_status ml_records_stream_line(ml_records_stream *s, const char *line, ml_stream_line_kind *kind);

/* The columns of the current header after the four fixed ones: their count,
 * and each one's name. */
int ml_records_stream_n_columns(const ml_records_stream *s);
const char *ml_records_stream_column(const ml_records_stream *s, int i);
/* The last record: its fixed fields (ML_REC_EPOCH .. ML_REC_SECONDS) and the
 * value of column i (NaN when empty). */
double ml_records_stream_fixed(const ml_records_stream *s, int field);
double ml_records_stream_value(const ml_records_stream *s, int i);
/* Whether the last record has a value in column i (its field was not empty). */
int ml_records_stream_has(const ml_records_stream *s, int i);
/* Lines seen so far. */
int64_t ml_records_stream_lines(const ml_records_stream *s);

#endif
