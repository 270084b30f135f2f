#include "data/csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "data/gzin.h"

typedef struct {
    ml_gzin in;
    char *line;
    size_t cap;
    long lineno;
    char **fields;
    long n_fields, cap_fields;
} csv_reader;

static ml_status csv_open(const char *path, csv_reader *r)
{
    memset(r, 0, sizeof *r);
    return ml_gzin_open(path, 1 << 18, &r->in);
}

static void csv_close(csv_reader *r)
{
    ml_gzin_close(&r->in);
    ml_free(r->line);
    ml_free(r->fields);
    memset(r, 0, sizeof *r);
}

/* The next line into r->line (no newline); *eof set at the end of the data. */
static ml_status csv_next_line(csv_reader *r, int *eof)
{
    size_t len = 0;
    *eof = 0;
    for (;;) {
        if (r->cap - len < 2) {
            size_t cap = r->cap ? 2 * r->cap : 4096;
            char *grown = ml_realloc(r->line, cap);
            if (!grown)
                return ML_ENOMEM;
            r->line = grown;
            r->cap = cap;
        }
        int room = r->cap - len > (1u << 30) ? 1 << 30 : (int)(r->cap - len);
        if (!gzgets(r->in.gz, r->line + len, room)) {
            int errnum = Z_OK;
            const char *msg = gzerror(r->in.gz, &errnum);
            if (errnum != Z_OK && errnum != Z_BUF_ERROR)
                return ml_error(errnum == Z_ERRNO ? ML_EIO : ML_EFORMAT, "%s: cannot read: %s",
                                r->in.name, errnum == Z_ERRNO ? strerror(errno) : msg);
            if (len == 0) {
                *eof = 1;
                return ML_OK;
            }
            break;
        }
        len += strlen(r->line + len);
        if (len > 0 && r->line[len - 1] == '\n')
            break;
    }
    r->lineno++;
    while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r'))
        r->line[--len] = '\0';
    return ML_OK;
}

/* Splits r->line in place into r->fields (quotes removed). */
static ml_status csv_split(csv_reader *r, char delim)
{
    r->n_fields = 0;
    char *p = r->line;
    for (;;) {
        if (r->n_fields == r->cap_fields) {
            long cap = r->cap_fields ? 2 * r->cap_fields : 64;
            char **grown = ml_realloc(r->fields, (size_t)cap * sizeof *grown);
            if (!grown)
                return ML_ENOMEM;
            r->fields = grown;
            r->cap_fields = cap;
        }
        char *start = p, *w = p;
        while ((*p == ' ' && delim != ' ') || (*p == '\t' && delim != '\t'))
            p++; /* spaces before an opening quote */
        if (*p == '"') {
            long column = r->n_fields + 1;
            p++;
            for (;;) {
                if (*p == '\0')
                    return ml_error(ML_EFORMAT, "%s:%ld:%ld: unterminated quoted field", r->in.name,
                                    r->lineno, column);
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            while ((*p == ' ' && delim != ' ') || (*p == '\t' && delim != '\t'))
                p++;
            if (*p != '\0' && *p != delim)
                return ml_error(ML_EFORMAT, "%s:%ld:%ld: text after a closing quote", r->in.name,
                                r->lineno, column);
        } else {
            p = w = start;
            while (*p && *p != delim)
                p++;
            w = p;
        }
        int last = *p == '\0';
        *w = '\0';
        r->fields[r->n_fields++] = start;
        if (last)
            break;
        p++;
    }
    return ML_OK;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return 0;
    return 1;
}

/* A number with optional surrounding spaces. */
static int parse_number(const char *s, double *v)
{
    char *end = NULL;
    errno = 0;
    *v = strtod(s, &end);
    if (end == s)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    return *end == '\0';
}

static char *trimmed_dup(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *d = ml_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Class indices (all labels non-negative integers) or names in order of first appearance. */
static ml_status make_labels(ml_dataset *ds, char **labels, int64_t n)
{
    ml_tensor *y = ml_tensor_new(ML_I32, 1, &n, ML_CPU);
    if (!y)
        return ML_ENOMEM;
    int32_t *out = ml_tensor_i32(y);
    int numeric = 1;
    long max = -1;
    for (int64_t i = 0; i < n && numeric; i++) {
        double d;
        if (!parse_number(labels[i], &d) || !(d >= 0 && d <= 1000000) || d != (double)(long)d)
            numeric = 0; /* "0", "3" and "1.0" are class indices; "cat", "-1", "0.5" names */
        else {
            long v = (long)d;
            out[i] = (int32_t)v;
            max = v > max ? v : max;
        }
    }
    ds->y = y;
    if (numeric) {
        ds->n_classes = (int)(max + 1);
        return ML_OK;
    }
    /* names: a linear probe hash table of the distinct names */
    int64_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    int64_t *table = ml_malloc((size_t)cap * sizeof *table);
    const char **names = ml_malloc((size_t)(n ? n : 1) * sizeof *names);
    if (!table || !names) {
        ml_free(table);
        ml_free(names);
        return ML_ENOMEM;
    }
    for (int64_t i = 0; i < cap; i++)
        table[i] = -1;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t h = 1469598103934665603ull;
        for (const unsigned char *c = (const unsigned char *)labels[i]; *c; c++)
            h = (h ^ *c) * 1099511628211ull;
        int64_t slot = (int64_t)(h & (uint64_t)(cap - 1));
        while (table[slot] >= 0 && strcmp(names[table[slot]], labels[i]) != 0)
            slot = (slot + 1) & (cap - 1);
        if (table[slot] < 0) {
            table[slot] = k;
            names[k++] = labels[i];
        }
        out[i] = (int32_t)table[slot];
    }
    ml_status s = k > 0x7fffffff ? ml_error(ML_EFORMAT, "%s: too many classes", ds->name)
                                 : ml_dataset_set_y_labels(ds, names, k);
    ds->n_classes = (int)k;
    ml_free(table);
    ml_free(names);
    return s;
}

ml_status ml_csv_import(const char *path, const ml_csv_opts *opts, ml_dataset **out)
{
    *out = NULL;
    ml_csv_opts o = {.header = -1};
    if (opts)
        o = *opts;
    char delim = o.delimiter ? o.delimiter : ',';
    csv_reader r;
    ML_TRY(csv_open(path, &r));
    ml_dataset *ds = ml_dataset_new(r.in.name);
    float *x = NULL;
    char **labels = NULL;
    int64_t n = 0, cap = 0;
    long ncol = 0, first_line = 0, lc = -1, d = 0;
    ml_status s = ds ? ML_OK : ML_ENOMEM;
    int eof = 0, first = 1;
    while (s == ML_OK) {
        if ((s = csv_next_line(&r, &eof)) != ML_OK || eof)
            break;
        if (blank(r.line))
            continue;
        if ((s = csv_split(&r, delim)) != ML_OK)
            break;
        if (first) {
            first = 0;
            ncol = r.n_fields;
            first_line = r.lineno;
            int header = o.header;
            if (header < 0) {
                header = 1;
                for (long j = 0; j < ncol && header; j++) {
                    double v;
                    if (parse_number(r.fields[j], &v))
                        header = 0;
                }
            }
            if (o.no_labels) {
                lc = -1;
            } else if (o.label_name) {
                if (!header) {
                    s = ml_error(ML_EINVAL, "%s: a label column named '%s' needs a header line",
                                 r.in.name, o.label_name);
                    break;
                }
                for (long j = 0; j < ncol && lc < 0; j++) {
                    char *t = trimmed_dup(r.fields[j]);
                    if (!t) {
                        s = ML_ENOMEM;
                        break;
                    }
                    if (strcmp(t, o.label_name) == 0)
                        lc = j;
                    ml_free(t);
                }
                if (s == ML_OK && lc < 0)
                    s = ml_error(ML_ENOTFOUND, "%s:%ld: no column named '%s'", r.in.name, r.lineno,
                                 o.label_name);
                if (s != ML_OK)
                    break;
            } else if (o.label_column > 0) {
                if (o.label_column > ncol) {
                    s = ml_error(ML_EINVAL, "%s:%ld: label column %ld, the line has %ld fields",
                                 r.in.name, r.lineno, o.label_column, ncol);
                    break;
                }
                lc = o.label_column - 1;
            } else {
                lc = ncol - 1;
            }
            d = ncol - (lc >= 0);
            if (d == 0) {
                s = ml_error(ML_EFORMAT, "%s:%ld: no feature columns", r.in.name, r.lineno);
                break;
            }
            if (header)
                continue;
        }
        if (r.n_fields != ncol) {
            s = ml_error(ML_EFORMAT, "%s:%ld: %ld field%s, expected %ld (as on line %ld)",
                         r.in.name, r.lineno, r.n_fields, r.n_fields == 1 ? "" : "s", ncol,
                         first_line);
            break;
        }
        if (n == cap) {
            int64_t c = cap ? 2 * cap : 1024;
            float *gx = ml_realloc(x, (size_t)(c * d) * sizeof *x);
            if (gx)
                x = gx;
            char **gl = lc >= 0 ? ml_realloc(labels, (size_t)c * sizeof *labels) : NULL;
            if (gl)
                labels = gl;
            if (!gx || (lc >= 0 && !gl)) {
                s = ML_ENOMEM;
                break;
            }
            cap = c;
        }
        float *row = x + n * d;
        for (long j = 0, k = 0; j < ncol; j++) {
            if (j == lc)
                continue;
            double v;
            if (!parse_number(r.fields[j], &v)) {
                s = ml_error(ML_EFORMAT, "%s:%ld:%ld: '%s' is not a number", r.in.name, r.lineno,
                             j + 1, r.fields[j]);
                break;
            }
            row[k++] = (float)v;
        }
        if (s != ML_OK)
            break;
        if (lc >= 0) {
            labels[n] = trimmed_dup(r.fields[lc]);
            if (!labels[n]) {
                s = ML_ENOMEM;
                break;
            }
            if (!labels[n][0]) {
                ml_free(labels[n]);
                s = ml_error(ML_EFORMAT, "%s:%ld:%ld: empty label", r.in.name, r.lineno, lc + 1);
                break;
            }
        }
        n++;
    }
    if (s == ML_OK && first)
        s = ml_error(ML_EFORMAT, "%s: no data (empty file)", r.in.name);
    if (s == ML_OK) {
        ds->X = ml_tensor_new(ML_F32, 2, (int64_t[]){n, d}, ML_CPU);
        if (!ds->X)
            s = ML_ENOMEM;
        else if (n > 0)
            memcpy(ml_tensor_f32(ds->X), x, (size_t)(n * d) * sizeof *x);
    }
    if (s == ML_OK && lc >= 0)
        s = make_labels(ds, labels, n);
    if (labels)
        for (int64_t i = 0; i < n; i++)
            ml_free(labels[i]);
    ml_free(labels);
    ml_free(x);
    csv_close(&r);
    if (s != ML_OK) {
        ml_dataset_free(ds);
        return s;
    }
    *out = ds;
    return ML_OK;
}
