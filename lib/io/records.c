#include "io/records.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

ml_records *ml_records_new(void)
{
    return ml_calloc(1, sizeof(ml_records));
}

void ml_records_free(ml_records *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_channels; i++) {
        ml_free(r->channels[i].name);
        ml_free(r->channels[i].rec);
    }
    ml_free(r->channels);
    ml_free(r);
}

ml_records_channel *ml_records_find(const ml_records *r, const char *name)
{
    for (int i = 0; i < r->n_channels; i++)
        if (strcmp(r->channels[i].name, name) == 0)
            return &r->channels[i];
    return NULL;
}

ml_records_channel *ml_records_channel_get(ml_records *r, const char *name)
{
    ml_records_channel *ch = ml_records_find(r, name);
    if (ch)
        return ch;
    if (r->n_channels == r->capacity) {
        int cap = r->capacity ? 2 * r->capacity : 8;
        ml_records_channel *c = ml_realloc(r->channels, (size_t)cap * sizeof *c);
        if (!c)
            return NULL;
        r->channels = c;
        r->capacity = cap;
    }
    ch = &r->channels[r->n_channels];
    memset(ch, 0, sizeof *ch);
    ch->name = ml_strdup(name);
    if (!ch->name)
        return NULL;
    r->n_channels++;
    return ch;
}

ml_status ml_records_append(ml_records_channel *ch, const double rec[ML_REC_COLUMNS])
{
    if (ch->n == ch->capacity) {
        int64_t cap = ch->capacity ? 2 * ch->capacity : 64;
        double *d = ml_realloc(ch->rec, (size_t)cap * ML_REC_COLUMNS * sizeof(double));
        if (!d)
            return ML_ENOMEM;
        ch->rec = d;
        ch->capacity = cap;
    }
    memcpy(ch->rec + ch->n * ML_REC_COLUMNS, rec, ML_REC_COLUMNS * sizeof(double));
    ch->n++;
    return ML_OK;
}

const char **ml_records_names(const ml_records *r)
{
    const char **names = ml_malloc((size_t)(r->n_channels + 1) * sizeof *names);
    if (!names)
        return NULL;
    for (int i = 0; i < r->n_channels; i++)
        names[i] = r->channels[i].name;
    names[r->n_channels] = NULL;
    return names;
}

/* ---- model files ----------------------------------------------------------- */

ml_status ml_records_check_format(ml_h5_file *f, const char *format, int64_t max_version)
{
    const char *name = ml_h5_file_name(f);
    const char *what = strncmp(format, "ml-", 3) == 0 ? format + 3 : format;
    if (!ml_h5_attr_exists(f, "/", "ml_format"))
        return ml_error(ML_EFORMAT, "%s: not an ml %s file (no ml_format attribute)", name, what);
    char *got = NULL;
    if (ml_h5_attr_read_str(f, "/", "ml_format", &got) != ML_OK)
        return ml_error(ML_EFORMAT, "%s: not an ml %s file (ml_format is not a string)", name,
                        what);
    if (strcmp(got, format) != 0) {
        ml_status s =
            ml_error(ML_EFORMAT, "%s: not an ml %s file (ml_format is '%s')", name, what, got);
        ml_free(got);
        return s;
    }
    ml_free(got);
    int64_t version = 0;
    if (!ml_h5_attr_exists(f, "/", "ml_format_version") ||
        ml_h5_attr_read_i64(f, "/", "ml_format_version", &version) != ML_OK)
        return ml_error(ML_EFORMAT,
                        "%s: the attribute 'ml_format_version' is missing or not an "
                        "integer",
                        name);
    if (version > max_version)
        return ml_error(ML_EFORMAT, "%s: %s version %lld is newer than this program reads (%lld)",
                        name, format, (long long)version, (long long)max_version);
    if (version < 1)
        return ml_error(ML_EFORMAT, "%s: bad ml_format_version %lld", name, (long long)version);
    return ML_OK;
}

ml_status ml_records_read_h5(ml_h5_file *f, ml_records **out)
{
    *out = NULL;
    ml_records *r = ml_records_new();
    if (!r)
        return ML_ENOMEM;
    ml_h5_kind kind = ml_h5_exists(f, "/monitor");
    if (kind == ML_H5_NONE) {
        *out = r;
        return ML_OK;
    }
    if (kind != ML_H5_GROUP) {
        ml_records_free(r);
        return ml_error(ML_EFORMAT, "%s:/monitor: expected a group", ml_h5_file_name(f));
    }
    char **names = NULL;
    int64_t count = 0;
    ml_status s = ml_h5_list(f, "/monitor", ML_H5_ORDER_CREATION, &names, &count);
    for (int64_t i = 0; s == ML_OK && i < count; i++) {
        char path[1024];
        snprintf(path, sizeof path, "/monitor/%s", names[i]);
        int ndim = 0;
        int64_t shape[ML_MAX_DIMS];
        double *data = NULL;
        if (ml_h5_exists(f, path) != ML_H5_DATASET) {
            s = ml_error(ML_EFORMAT, "%s:%s: expected float64 records [n, 5], found a group",
                         ml_h5_file_name(f), path);
            break;
        }
        s = ml_h5_read_array(f, path, ML_H5_F64, &ndim, shape, (void **)&data);
        if (s == ML_OK && !(ndim == 2 && shape[1] == ML_REC_COLUMNS)) {
            char buf[96];
            s = ml_error(ML_EFORMAT, "%s:%s: expected float64 records [n, 5], found %s",
                         ml_h5_file_name(f), path, ml_shape_format(ndim, shape, buf, sizeof buf));
        }
        ml_records_channel *ch = s == ML_OK ? ml_records_channel_get(r, names[i]) : NULL;
        if (s == ML_OK && !ch)
            s = ML_ENOMEM;
        for (int64_t k = 0; s == ML_OK && k < shape[0]; k++)
            s = ml_records_append(ch, data + k * ML_REC_COLUMNS);
        ml_free(data);
    }
    ml_h5_names_free(names);
    if (s != ML_OK) {
        ml_records_free(r);
        return s;
    }
    *out = r;
    return ML_OK;
}

ml_status ml_records_read_model(const char *path, ml_records **out)
{
    *out = NULL;
    ml_h5_file *f;
    ML_TRY(ml_h5_open(path, &f));
    ml_status s = ml_records_check_format(f, "ml-model", 1);
    if (s == ML_OK)
        s = ml_records_read_h5(f, out);
    ml_h5_close(f);
    return s;
}

/* ---- best values ----------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int ml_records_maximize(const char *name)
{
    return ends_with(name, "accuracy") || ends_with(name, "_acc");
}

void ml_records_summarize(const ml_records_channel *ch, ml_records_summary *s)
{
    int max = ml_records_maximize(ch->name);
    s->n = ch->n;
    s->best_index = -1;
    s->best = s->best_epoch = s->last = s->last_epoch = s->max_epoch = NAN;
    for (int64_t i = 0; i < ch->n; i++) {
        const double *r = ch->rec + i * ML_REC_COLUMNS;
        if (isnan(s->max_epoch) || r[ML_REC_EPOCH] > s->max_epoch)
            s->max_epoch = r[ML_REC_EPOCH];
        double v = r[ML_REC_VALUE];
        if (!isfinite(v))
            continue;
        if (s->best_index < 0 || (max ? v > s->best : v < s->best)) {
            s->best = v;
            s->best_epoch = r[ML_REC_EPOCH];
            s->best_index = i;
        }
    }
    if (ch->n > 0) {
        const double *r = ch->rec + (ch->n - 1) * ML_REC_COLUMNS;
        s->last = r[ML_REC_VALUE];
        s->last_epoch = r[ML_REC_EPOCH];
    }
}

/* ---- the monitor stream ---------------------------------------------------- */

static const char *const fixed_names[4] = {"epoch", "batches", "examples", "seconds"};

struct ml_records_stream {
    ml_records *r;
    char *name;
    int64_t lines;
    int have_header;
    int n_cols, cap_cols;
    char **cols;  /* channel names of the current header */
    int *channel; /* index into r->channels of each column */
    double fixed[4];
    double *values;     /* the last record's values, NaN when empty */
    unsigned char *has; /* whether the last record has a value in each column */
};

ml_records_stream *ml_records_stream_new(ml_records *r, const char *name)
{
    ml_records_stream *s = ml_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->r = r;
    s->name = ml_strdup(name ? name : "<stream>");
    if (!s->name) {
        ml_free(s);
        return NULL;
    }
    for (int i = 0; i < 4; i++)
        s->fixed[i] = NAN;
    return s;
}

static void clear_columns(ml_records_stream *s)
{
    for (int i = 0; i < s->n_cols; i++)
        ml_free(s->cols[i]);
    s->n_cols = 0;
}

void ml_records_stream_free(ml_records_stream *s)
{
    if (!s)
        return;
    clear_columns(s);
    ml_free(s->cols);
    ml_free(s->channel);
    ml_free(s->values);
    ml_free(s->has);
    ml_free(s->name);
    ml_free(s);
}

int ml_records_stream_n_columns(const ml_records_stream *s)
{
    return s->n_cols;
}
const char *ml_records_stream_column(const ml_records_stream *s, int i)
{
    return s->cols[i];
}
double ml_records_stream_fixed(const ml_records_stream *s, int field)
{
    return field >= 0 && field < 4 ? s->fixed[field] : NAN;
}
double ml_records_stream_value(const ml_records_stream *s, int i)
{
    return s->values[i];
}
int ml_records_stream_has(const ml_records_stream *s, int i)
{
    return s->has[i];
}
int64_t ml_records_stream_lines(const ml_records_stream *s)
{
    return s->lines;
}

/* Splits buf in place at tabs into fields (as many as 1 + the tabs). */
static void split_tabs(char *buf, char **fields)
{
    int n = 0;
    char *p = buf;
    for (;;) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
}

static ml_status parse_header(ml_records_stream *s, char **fields, int n)
{
    for (int i = 0; i < 4; i++)
        if (i >= n || strcmp(fields[i], fixed_names[i]) != 0)
            return ml_error(ML_EFORMAT,
                            "%s:%lld: the header must start with the columns epoch, "
                            "batches, examples, seconds",
                            s->name, (long long)s->lines);
    clear_columns(s);
    int nc = n - 4;
    if (nc > s->cap_cols) {
        char **c = ml_realloc(s->cols, (size_t)nc * sizeof *c);
        if (!c)
            return ML_ENOMEM;
        s->cols = c;
        int *ci = ml_realloc(s->channel, (size_t)nc * sizeof *ci);
        if (!ci)
            return ML_ENOMEM;
        s->channel = ci;
        double *v = ml_realloc(s->values, (size_t)nc * sizeof *v);
        if (!v)
            return ML_ENOMEM;
        s->values = v;
        unsigned char *h = ml_realloc(s->has, (size_t)nc);
        if (!h)
            return ML_ENOMEM;
        s->has = h;
        s->cap_cols = nc;
    }
    for (int i = 0; i < nc; i++) {
        const char *name = fields[4 + i];
        if (!*name)
            return ml_error(ML_EFORMAT, "%s:%lld: column %d of the header has no name", s->name,
                            (long long)s->lines, 5 + i);
        for (int j = 0; j < i; j++)
            if (strcmp(s->cols[j], name) == 0)
                return ml_error(ML_EFORMAT, "%s:%lld: column '%s' appears twice in the header",
                                s->name, (long long)s->lines, name);
        s->cols[i] = ml_strdup(name);
        if (!s->cols[i])
            return ML_ENOMEM;
        s->n_cols = i + 1;
        ml_records_channel *ch = ml_records_channel_get(s->r, name);
        if (!ch)
            return ML_ENOMEM;
        s->channel[i] = (int)(ch - s->r->channels);
        s->values[i] = NAN;
        s->has[i] = 0;
    }
    s->have_header = 1;
    return ML_OK;
}

static int parse_number(const char *text, double *v)
{
    while (*text == ' ')
        text++;
    if (!*text)
        return 0;
    errno = 0;
    char *end;
    *v = strtod(text, &end);
    while (*end == ' ')
        end++;
    return *end == '\0' && end != text;
}

ml_status ml_records_stream_line(ml_records_stream *s, const char *line, ml_stream_line_kind *kind)
{
    *kind = ML_STREAM_SKIP;
    s->lines++;
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    size_t blank = 0;
    while (blank < len && isspace((unsigned char)line[blank]))
        blank++;
    if (blank == len || line[0] == '#')
        return ML_OK;
    char *buf = ml_malloc(len + 1);
    if (!buf)
        return ML_ENOMEM;
    memcpy(buf, line, len);
    buf[len] = '\0';
    int n = 1;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\t';
    char **fields = ml_malloc((size_t)n * sizeof *fields);
    if (!fields) {
        ml_free(buf);
        return ML_ENOMEM;
    }
    split_tabs(buf, fields);
    ml_status st = ML_OK;
    double v;
    if (strcmp(fields[0], "epoch") == 0) {
        st = parse_header(s, fields, n);
        if (st == ML_OK)
            *kind = ML_STREAM_HEADER;
    } else if (!s->have_header) {
        st = ml_error(ML_EFORMAT, "%s:%lld: a record before the header line", s->name,
                      (long long)s->lines);
    } else if (n != 4 + s->n_cols) {
        st = ml_error(ML_EFORMAT, "%s:%lld: expected %d fields, found %d", s->name,
                      (long long)s->lines, 4 + s->n_cols, n);
    } else {
        double fixed[4];
        for (int i = 0; i < 4 && st == ML_OK; i++) {
            if (!parse_number(fields[i], &fixed[i]))
                st = ml_error(ML_EFORMAT, "%s:%lld: %s '%s' is not a number", s->name,
                              (long long)s->lines, fixed_names[i], fields[i]);
        }
        for (int i = 0; i < s->n_cols && st == ML_OK; i++) {
            const char *f = fields[4 + i];
            if (f[strspn(f, " ")] == '\0')
                v = NAN; /* no value */
            else if (!parse_number(f, &v))
                st = ml_error(ML_EFORMAT, "%s:%lld: %s value '%s' is not a number", s->name,
                              (long long)s->lines, s->cols[i], f);
        }
        if (st == ML_OK) {
            memcpy(s->fixed, fixed, sizeof fixed);
            for (int i = 0; i < s->n_cols && st == ML_OK; i++) {
                const char *f = fields[4 + i];
                s->has[i] = f[strspn(f, " ")] != '\0';
                s->values[i] = NAN;
                if (!s->has[i])
                    continue;
                parse_number(f, &s->values[i]);
                double rec[ML_REC_COLUMNS] = {fixed[0], fixed[1], fixed[2], fixed[3], s->values[i]};
                st = ml_records_append(&s->r->channels[s->channel[i]], rec);
            }
            if (st == ML_OK)
                *kind = ML_STREAM_RECORD;
        }
    }
    ml_free(fields);
    ml_free(buf);
    return st;
}
