/* ml-monitor: print, compare, follow and plot the monitor channels of model
 * files and of ml-train's monitor stream.  Parses arguments, calls lib/io
 * (records, plot), reports; see ml-monitor(1) and ml-files(5). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/suggest.h"
#include "cli.h"
#include "ml.h"

#define PROG "ml-monitor"
#define MAX_CHANNELS 64

static const char usage_text[] =
    "Usage: ml-monitor [OPTIONS] MODEL...\n"
    "       ml-monitor --follow [OPTIONS] < STREAM\n"
    "Print, compare and plot the monitor channels of model files.\n"
    "\n"
    "With one MODEL, a table of its channels: records, last value, best value\n"
    "(the smallest; the largest for *accuracy channels) and the epoch of the best;\n"
    "with -c, those channels' records.  With --rank CHANNEL, or several MODELs and\n"
    "one -c CHANNEL, the models ranked by the best value of CHANNEL, with a column\n"
    "for each hyperparameter of their experiments that differs between them (named\n"
    "by its -s path, as model.layers.0.dim); a MODEL that cannot be ranked is\n"
    "reported and left out.  --plot draws the channels against epochs into a PNG\n"
    "file instead of printing tables.\n"
    "--follow reads ml-train's monitor stream from standard input, prints each\n"
    "record as it arrives and a table of best values at the end.  MODEL may be\n"
    "'-' for standard input.\n"
    "\n"
    "Options:\n"
    "  -c, --channel NAME     a channel to show (repeatable; default: all, or for\n"
    "                         --plot and --follow every *_objective and *_y_misclass)\n"
    "  -r, --rank CHANNEL     rank the MODELs by the best value of CHANNEL (the\n"
    "                         largest for *accuracy channels, else the smallest)\n"
    "  -f, --follow           read the monitor stream from standard input\n"
    "  -p, --plot FILE        draw the channels into the PNG file FILE ('-': stdout)\n"
    "      --tsv              tab-separated tables with a header line\n"
    "      --title TEXT       title of the plot (default: the model file)\n"
    "      --ylabel TEXT      y-axis title (default: the channel, or 'value')\n"
    "      --log-y            logarithmic y axis\n"
    "      --size WxH         size of the plot in pixels (default 800x500)\n"
    "  -q, --quiet            print only errors; --follow: only the final table\n"
    "  -v, --verbose          say what was written; twice: HDF5 errors\n"
    "  -h, --help             print this help and exit\n"
    "  -V, --version          print the version and build features and exit\n"
    "\n"
    "Exit status: 0 success, 1 a file or data error, 2 usage error.\n"
    "See ml-monitor(1) and ml-files(5).\n";

enum { OPT_TSV = 256, OPT_TITLE, OPT_YLABEL, OPT_LOG_Y, OPT_SIZE };

static const struct option long_options[] = {
    {"channel", required_argument, NULL, 'c'},
    {"rank", required_argument, NULL, 'r'},
    {"follow", no_argument, NULL, 'f'},
    {"plot", required_argument, NULL, 'p'},
    {"tsv", no_argument, NULL, OPT_TSV},
    {"title", required_argument, NULL, OPT_TITLE},
    {"ylabel", required_argument, NULL, OPT_YLABEL},
    {"log-y", no_argument, NULL, OPT_LOG_Y},
    {"size", required_argument, NULL, OPT_SIZE},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *channels[MAX_CHANNELS];
    int n_channels;
    const char *rank;
    int follow, tsv, log_y, quiet, verbose;
    const char *plot, *title, *ylabel;
    int width, height;
    char **models;
    int n_models;
} options;

/* ---- arguments ----------------------------------------------------------- */

static int parse_size(const char *text, int *w, int *h)
{
    char *end;
    errno = 0;
    long a = strtol(text, &end, 10);
    if (end == text || (*end != 'x' && *end != 'X'))
        goto bad;
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (end == p || *end || errno || a < 200 || b < 150 || a > 8000 || b > 8000)
        goto bad;
    *w = (int)a;
    *h = (int)b;
    return 0;
bad:
    return cli_usage_error(
        "invalid value '%s' for '--size' (expected WxH, from 200x150 to 8000x8000)", text);
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    opterr = 0;
    int c, index;
    while ((c = getopt_long(argc, argv, ":c:r:fp:qvhV", long_options, &index)) != -1) {
        if (c == '?' || c == ':')
            return cli_option_error(c, argv);
        int rc = 0;
        switch (c) {
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        case 'V':
            cli_print_version();
            exit(0);
        case 'c':
            if (o->n_channels == MAX_CHANNELS)
                return cli_usage_error("too many channels (at most %d)", MAX_CHANNELS);
            if (!*optarg)
                return cli_usage_error(
                    "invalid value '' for '--channel' (expected a channel name)");
            o->channels[o->n_channels++] = optarg;
            break;
        case 'r':
            if (!*optarg)
                return cli_usage_error("invalid value '' for '--rank' (expected a channel name)");
            o->rank = optarg;
            break;
        case 'f':
            o->follow = 1;
            break;
        case 'p':
            if (!*optarg)
                return cli_usage_error("invalid value '' for '--plot' (expected a file name)");
            o->plot = optarg;
            break;
        case OPT_TSV:
            o->tsv = 1;
            break;
        case OPT_TITLE:
            o->title = optarg;
            break;
        case OPT_YLABEL:
            o->ylabel = optarg;
            break;
        case OPT_LOG_Y:
            o->log_y = 1;
            break;
        case OPT_SIZE:
            rc = parse_size(optarg, &o->width, &o->height);
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'v':
            o->verbose++;
            break;
        default:
            return cli_option_error(c, argv);
        }
        if (rc)
            return rc;
    }
    o->models = argv + optind;
    o->n_models = argc - optind;

    if (o->follow) {
        if (o->n_models > 0)
            return cli_usage_error("--follow reads standard input: unexpected operand '%s'",
                                   o->models[0]);
        if (o->rank)
            return cli_usage_error("--rank does not go with --follow");
        if (o->plot && strcmp(o->plot, "-") == 0)
            return cli_usage_error("--follow prints to standard output: give --plot a file name");
    } else if (o->n_models == 0) {
        return cli_usage_error("missing MODEL operand");
    }
    if (o->rank && o->n_channels > 0)
        return cli_usage_error(
            "--rank and --channel do not go together (--rank names the channel)");
    int stdin_models = 0;
    for (int i = 0; i < o->n_models; i++)
        stdin_models += strcmp(o->models[i], "-") == 0;
    if (stdin_models > 1)
        return cli_usage_error("standard input ('-') can be read only once");
    if (o->plot && strcmp(o->plot, "-") == 0 && isatty(1))
        return cli_usage_error("refusing to write binary data to a terminal");
    if (o->tsv && o->plot && !o->follow)
        return cli_usage_error("--tsv does not go with --plot (which prints no table)");
    return 0;
}

/* ---- tables -------------------------------------------------------------- */

typedef struct {
    int n_cols;
    const char *const *header; /* borrowed: n_cols names */
    const int *right;          /* borrowed: right-aligned (numbers) */
    int rows, cap;
    char **cells; /* rows * n_cols ml_strdup'ed strings */
} table;

static void table_init(table *t, int n_cols, const char *const *header, const int *right)
{
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols;
    t->header = header;
    t->right = right;
}

static ml_status table_add(table *t, char *const *cells)
{
    if (t->rows == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        char **c = ml_realloc(t->cells, (size_t)cap * t->n_cols * sizeof *c);
        if (!c)
            return ML_ENOMEM;
        t->cells = c;
        t->cap = cap;
    }
    for (int i = 0; i < t->n_cols; i++) {
        t->cells[t->rows * t->n_cols + i] = ml_strdup(cells[i]);
        if (!t->cells[t->rows * t->n_cols + i]) {
            for (int k = 0; k < i; k++)
                ml_free(t->cells[t->rows * t->n_cols + k]);
            return ML_ENOMEM;
        }
    }
    t->rows++;
    return ML_OK;
}

static ml_status table_print(const table *t, FILE *fp, int tsv)
{
    size_t *width = ml_calloc((size_t)t->n_cols, sizeof *width);
    if (!width)
        return ML_ENOMEM;
    for (int j = 0; j < t->n_cols; j++) {
        width[j] = strlen(t->header[j]);
        for (int i = 0; i < t->rows; i++) {
            size_t n = strlen(t->cells[i * t->n_cols + j]);
            if (n > width[j])
                width[j] = n;
        }
    }
    for (int i = -1; i < t->rows; i++) {
        for (int j = 0; j < t->n_cols; j++) {
            const char *cell = i < 0 ? t->header[j] : t->cells[i * t->n_cols + j];
            int last = j == t->n_cols - 1;
            if (tsv)
                fprintf(fp, "%s%s", cell, last ? "\n" : "\t");
            else if (t->right[j])
                fprintf(fp, "%*s%s", (int)width[j], cell, last ? "\n" : "  ");
            else if (last)
                fprintf(fp, "%s\n", cell);
            else
                fprintf(fp, "%-*s  ", (int)width[j], cell);
        }
    }
    ml_free(width);
    return ML_OK;
}

static void table_free(table *t)
{
    for (int i = 0; i < t->rows * t->n_cols; i++)
        ml_free(t->cells[i]);
    ml_free(t->cells);
    t->cells = NULL;
    t->rows = t->cap = 0;
}

/* A number for a table: whole numbers in full, else %.6g aligned and %.9g in TSV
 * (ml-train's precision). */
static const char *num(char *buf, size_t size, double v, int tsv)
{
    if (v == 0)
        v = 0; /* not -0 */
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v); /* counts in full: 3000000, not 3e+06 */
    else
        snprintf(buf, size, tsv ? "%.9g" : "%.6g", v);
    return buf;
}

/* The best value and its epoch, or "-" (TSV: empty) when there is none. */
static const char *num_or_none(char *buf, size_t size, double v, int have, int tsv)
{
    if (!have) {
        snprintf(buf, size, "%s", tsv ? "" : "-");
        return buf;
    }
    return num(buf, size, v, tsv);
}

/* ---- channels -------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Channels shown by default in plots and --follow. */
static int default_channel(const char *name)
{
    return ends_with(name, "_objective") || ends_with(name, "_y_misclass");
}

/* Reports an unknown channel with the nearest name; returns exit status 1. */
static int no_channel(const char *source, const char *name, const char *const *names, int n)
{
    const char *near = ml_suggest(name, names, n);
    if (near) {
        fprintf(stderr, "%s: %s: no channel '%s' (did you mean '%s'?)\n", PROG, source, name, near);
    } else if (n == 0) {
        fprintf(stderr, "%s: %s: no channel '%s' (there are no monitor records)\n", PROG, source,
                name);
    } else {
        fprintf(stderr, "%s: %s: no channel '%s' (channels: ", PROG, source, name);
        for (int i = 0; i < n; i++)
            fprintf(stderr, "%s%s", i ? ", " : "", names[i]);
        fprintf(stderr, ")\n");
    }
    return 1;
}

/* Looks up a channel; on failure reports it (exit status 1 in *rc). */
static ml_records_channel *find_channel(const ml_records *r, const char *source, const char *name,
                                        int *rc)
{
    ml_records_channel *ch = ml_records_find(r, name);
    if (ch)
        return ch;
    const char **names = ml_records_names(r);
    if (!names) {
        *rc = cli_failed();
        return NULL;
    }
    *rc = no_channel(source, name, names, r->n_channels);
    ml_free(names);
    return NULL;
}

/* ---- the summary of channels ---------------------------------------------- */

static int add_summary_row(table *t, const ml_records_channel *ch, int tsv)
{
    ml_records_summary s;
    ml_records_summarize(ch, &s);
    char n[32], last[40], best[40], epoch[40];
    snprintf(n, sizeof n, "%lld", (long long)s.n);
    if (s.n > 0)
        num(last, sizeof last, s.last, tsv);
    else
        num_or_none(last, sizeof last, 0, 0, tsv);
    num_or_none(best, sizeof best, s.best, s.best_index >= 0, tsv);
    num_or_none(epoch, sizeof epoch, s.best_epoch, s.best_index >= 0, tsv);
    char *cells[5] = {ch->name, n, last, best, epoch};
    return table_add(t, cells) == ML_OK ? 0 : cli_failed();
}

static const char *const summary_header[5] = {"channel", "records", "last", "best", "best_epoch"};
static const int summary_right[5] = {0, 1, 1, 1, 1};

/* The table of every channel of one model. */
static int print_listing(const ml_records *r, const options *o)
{
    table t;
    table_init(&t, 5, summary_header, summary_right);
    int rc = 0;
    for (int i = 0; i < r->n_channels && !rc; i++)
        rc = add_summary_row(&t, &r->channels[i], o->tsv);
    if (!rc)
        rc = table_print(&t, stdout, o->tsv) == ML_OK ? 0 : cli_failed();
    table_free(&t);
    return rc;
}

/* The records of the -c channels of one model. */
static int print_records(const ml_records *r, const char *source, const options *o)
{
    static const char *const header[6] = {"channel",  "epoch",   "batches",
                                          "examples", "seconds", "value"};
    static const int right[6] = {0, 1, 1, 1, 1, 1};
    int several = o->n_channels > 1;
    ml_records_channel *chs[MAX_CHANNELS];
    int rc = 0;
    for (int k = 0; k < o->n_channels; k++)
        if (!(chs[k] = find_channel(r, source, o->channels[k], &rc)))
            return rc;
    table t;
    table_init(&t, several ? 6 : 5, several ? header : header + 1, several ? right : right + 1);
    for (int k = 0; k < o->n_channels && !rc; k++) {
        const ml_records_channel *ch = chs[k];
        for (int64_t i = 0; i < ch->n && !rc; i++) {
            char b[5][40];
            char *cells[6];
            int j = 0;
            if (several)
                cells[j++] = ch->name;
            for (int f = 0; f < ML_REC_COLUMNS; f++)
                cells[j++] =
                    (char *)num(b[f], sizeof b[f], ch->rec[i * ML_REC_COLUMNS + f], o->tsv);
            if (table_add(&t, cells) != ML_OK)
                rc = cli_failed();
        }
    }
    if (!rc)
        rc = table_print(&t, stdout, o->tsv) == ML_OK ? 0 : cli_failed();
    table_free(&t);
    return rc;
}

/* ---- ranking -------------------------------------------------------------- */

/* One run: its file's best value of the channel, and the experiment that the
 * file records, flattened to (-s path, value) pairs. */
typedef struct {
    const char *file;
    ml_records_summary s;
    int has_experiment;
    ml_cfg_entry *hp;
    size_t n_hp;
} run_result;

/* Reads one model file for the ranking.  A failure is reported in one line
 * that names the file; returns its exit status. */
static int read_run(const char *path, const char *channel, run_result *run)
{
    memset(run, 0, sizeof *run);
    run->file = strcmp(path, "-") == 0 ? "<stdin>" : path;
    ml_h5_file *f;
    if (ml_h5_open(path, &f) != ML_OK)
        return cli_failed();
    ml_records *r = NULL;
    char *text = NULL;
    ml_cfg_node *root = NULL;
    int rc = 0;
    if (ml_records_check_format(f, "ml-model", 1) != ML_OK || ml_records_read_h5(f, &r) != ML_OK)
        rc = cli_failed();
    ml_records_channel *ch = rc ? NULL : find_channel(r, run->file, channel, &rc);
    if (ch)
        ml_records_summarize(ch, &run->s);
    if (!rc && ml_h5_exists(f, "/experiment") == ML_H5_DATASET) {
        char where[1024];
        snprintf(where, sizeof where, "%s:/experiment", run->file);
        if (ml_h5_read_text(f, "/experiment", &text) != ML_OK ||
            ml_cfg_parse_string(text, where, &root) != ML_OK ||
            ml_cfg_flatten(root, &run->hp, &run->n_hp) != ML_OK)
            rc = cli_failed();
        else
            run->has_experiment = 1;
    }
    ml_cfg_node_free(root);
    ml_free(text);
    ml_records_free(r);
    ml_h5_close(f);
    return rc;
}

static void run_free(run_result *run)
{
    ml_cfg_entries_free(run->hp, run->n_hp);
    run->hp = NULL;
    run->n_hp = 0;
}

static int better(const run_result *a, const run_result *b, int maximize)
{
    int ha = a->s.best_index >= 0, hb = b->s.best_index >= 0;
    if (ha != hb)
        return ha;
    if (!ha)
        return 0;
    return maximize ? a->s.best > b->s.best : a->s.best < b->s.best;
}

/* The value of a hyperparameter in a run, or NULL when its experiment has none. */
static const char *run_value(const run_result *run, const char *key)
{
    for (size_t i = 0; i < run->n_hp; i++)
        if (strcmp(run->hp[i].key, key) == 0)
            return run->hp[i].value;
    return NULL;
}

/* The hyperparameters whose values differ between the runs that record their
 * experiment (a key that some of them lack differs too), in the order they
 * first appear.  *keys: borrowed from the runs, in an ml_malloc'ed array. */
static ml_status differing_keys(const run_result *runs, int n, const char ***keys, int *n_keys)
{
    size_t cap = 0;
    for (int i = 0; i < n; i++)
        cap += runs[i].n_hp;
    const char **k = ml_malloc((cap ? cap : 1) * sizeof *k);
    if (!k)
        return ML_ENOMEM;
    int nk = 0;
    for (int i = 0; i < n; i++) {
        for (size_t e = 0; e < runs[i].n_hp; e++) {
            const char *key = runs[i].hp[e].key;
            int known = !*key; /* a bare scalar document: nothing to show */
            for (int j = 0; j < nk && !known; j++)
                known = strcmp(k[j], key) == 0;
            if (known)
                continue;
            const char *first = NULL;
            int have_first = 0, differs = 0;
            for (int r = 0; r < n && !differs; r++) {
                if (!runs[r].has_experiment)
                    continue;
                const char *v = run_value(&runs[r], key);
                if (!have_first) {
                    first = v;
                    have_first = 1;
                } else if (!v != !first || (v && strcmp(v, first) != 0)) {
                    differs = 1;
                }
            }
            if (differs)
                k[nk++] = key;
        }
    }
    *keys = k;
    *n_keys = nk;
    return ML_OK;
}

/* A hyperparameter's value as one table cell: tabs and line breaks become
 * spaces, an empty string is '' and a missing value "-" (TSV: empty). */
static char *hp_cell(const char *v, int tsv)
{
    if (!v)
        return ml_strdup(tsv ? "" : "-");
    if (!*v)
        return ml_strdup("''");
    char *c = ml_strdup(v);
    for (char *p = c; p && *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    return c;
}

/* --rank: the runs that could be read and have the channel, best first, with
 * the hyperparameters that differ between them.  The files that cannot be
 * ranked are reported and left out (exit status 1). */
static int print_rank(const options *o, const char *channel)
{
    run_result *runs = ml_calloc((size_t)o->n_models, sizeof *runs);
    if (!runs)
        return cli_failed();
    int rc = 0, n = 0;
    for (int i = 0; i < o->n_models; i++) {
        int r = read_run(o->models[i], channel, &runs[n]);
        if (r) {
            run_free(&runs[n]);
            rc = r;
        } else {
            n++;
        }
    }
    /* a stable insertion sort: equal runs stay in the order given */
    int maximize = ml_records_maximize(channel);
    for (int i = 1; i < n; i++) {
        run_result cur = runs[i];
        int j = i - 1;
        while (j >= 0 && better(&cur, &runs[j], maximize)) {
            runs[j + 1] = runs[j];
            j--;
        }
        runs[j + 1] = cur;
    }
    enum { FIXED = 6 };
    static const char *const fixed_header[FIXED] = {"rank", "file", "best",
                                                    "best_epoch", "last", "epochs"};
    static const int fixed_right[FIXED] = {1, 0, 1, 1, 1, 1};
    const char **keys = NULL, **header = NULL;
    int n_keys = 0, *right = NULL;
    char **cells = NULL;
    if (n > 0 && differing_keys(runs, n, &keys, &n_keys) == ML_OK) {
        header = ml_malloc((size_t)(FIXED + n_keys) * sizeof *header);
        right = ml_calloc((size_t)(FIXED + n_keys), sizeof *right);
        cells = ml_calloc((size_t)(FIXED + n_keys), sizeof *cells);
    }
    if (n > 0 && (!header || !right || !cells)) {
        rc = cli_failed();
        n = 0;
    }
    table t = {0};
    if (n > 0) {
        memcpy(header, fixed_header, sizeof fixed_header);
        memcpy(header + FIXED, keys, (size_t)n_keys * sizeof *keys);
        memcpy(right, fixed_right, sizeof fixed_right);
        table_init(&t, FIXED + n_keys, header, right);
    }
    int failed = 0;
    for (int i = 0; i < n && !failed; i++) {
        const ml_records_summary *s = &runs[i].s;
        char rank[16], best[40], epoch[40], last[40], epochs[40];
        snprintf(rank, sizeof rank, "%d", i + 1);
        num_or_none(best, sizeof best, s->best, s->best_index >= 0, o->tsv);
        num_or_none(epoch, sizeof epoch, s->best_epoch, s->best_index >= 0, o->tsv);
        num_or_none(last, sizeof last, s->last, s->n > 0, o->tsv);
        num_or_none(epochs, sizeof epochs, s->max_epoch, s->n > 0, o->tsv);
        char *fixed[FIXED] = {rank, (char *)runs[i].file, best, epoch, last, epochs};
        memcpy(cells, fixed, sizeof fixed);
        for (int k = 0; k < n_keys; k++) {
            cells[FIXED + k] = hp_cell(runs[i].has_experiment ? run_value(&runs[i], keys[k]) : NULL,
                                       o->tsv);
            failed |= !cells[FIXED + k];
        }
        failed = failed || table_add(&t, cells) != ML_OK;
        for (int k = 0; k < n_keys; k++)
            ml_free(cells[FIXED + k]);
    }
    if (n > 0) {
        if (failed || table_print(&t, stdout, o->tsv) != ML_OK)
            rc = cli_failed();
        table_free(&t);
    }
    for (int i = 0; i < o->n_models; i++)
        run_free(&runs[i]);
    ml_free(cells);
    ml_free(right);
    ml_free(header);
    ml_free(keys);
    ml_free(runs);
    return rc;
}

/* ---- plots ---------------------------------------------------------------- */

typedef struct {
    int n, cap;
    ml_plot_series *series;
    char **names;
    double **xs, **ys;
} plot_set;

static void plot_set_free(plot_set *p)
{
    for (int i = 0; i < p->n; i++) {
        ml_free(p->names[i]);
        ml_free(p->xs[i]);
        ml_free(p->ys[i]);
    }
    ml_free(p->series);
    ml_free(p->names);
    ml_free(p->xs);
    ml_free(p->ys);
    memset(p, 0, sizeof *p);
}

/* Adds a channel's (epoch, value) points under the legend text label. */
static ml_status plot_add(plot_set *p, const ml_records_channel *ch, const char *label)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        ml_plot_series *s = ml_realloc(p->series, (size_t)cap * sizeof *s);
        if (s)
            p->series = s;
        char **n = ml_realloc(p->names, (size_t)cap * sizeof *n);
        if (n)
            p->names = n;
        double **x = ml_realloc(p->xs, (size_t)cap * sizeof *x);
        if (x)
            p->xs = x;
        double **y = ml_realloc(p->ys, (size_t)cap * sizeof *y);
        if (y)
            p->ys = y;
        if (!s || !n || !x || !y)
            return ML_ENOMEM;
        p->cap = cap;
    }
    int64_t m = ch->n > 0 ? ch->n : 1;
    char *name = ml_strdup(label);
    double *x = ml_malloc((size_t)m * sizeof *x), *y = ml_malloc((size_t)m * sizeof *y);
    if (!name || !x || !y) {
        ml_free(name);
        ml_free(x);
        ml_free(y);
        return ML_ENOMEM;
    }
    for (int64_t i = 0; i < ch->n; i++) {
        x[i] = ch->rec[i * ML_REC_COLUMNS + ML_REC_EPOCH];
        y[i] = ch->rec[i * ML_REC_COLUMNS + ML_REC_VALUE];
    }
    p->names[p->n] = name;
    p->xs[p->n] = x;
    p->ys[p->n] = y;
    p->series[p->n] = (ml_plot_series){name, x, y, ch->n};
    p->n++;
    return ML_OK;
}

/* Adds the channels of one source: the -c (or --rank) ones, else the default
 * ones (every channel when none is a default one). */
static int plot_add_source(plot_set *p, const ml_records *r, const char *source, const char *prefix,
                           const options *o)
{
    char label[512];
    int rc = 0;
    const char *const *wanted = o->rank ? &o->rank : o->channels;
    int n_wanted = o->rank ? 1 : o->n_channels;
    if (n_wanted > 0) {
        for (int k = 0; k < n_wanted; k++) {
            ml_records_channel *ch = find_channel(r, source, wanted[k], &rc);
            if (!ch)
                return rc;
            snprintf(label, sizeof label, "%s%s%s", prefix ? prefix : "", prefix ? ":" : "",
                     ch->name);
            if (plot_add(p, ch, label) != ML_OK)
                return cli_failed();
        }
        return 0;
    }
    int any = 0;
    for (int i = 0; i < r->n_channels; i++)
        any |= default_channel(r->channels[i].name);
    for (int i = 0; i < r->n_channels; i++) {
        const ml_records_channel *ch = &r->channels[i];
        if (any && !default_channel(ch->name))
            continue;
        snprintf(label, sizeof label, "%s%s%s", prefix ? prefix : "", prefix ? ":" : "", ch->name);
        if (plot_add(p, ch, label) != ML_OK)
            return cli_failed();
    }
    return 0;
}

/* Renders the plot into the open output a, commits it; reports failures. */
static int write_plot(const plot_set *p, ml_atomic_file *a, FILE *fp, const options *o,
                      const char *default_title)
{
    if (p->n == 0) {
        ml_atomic_abort(a);
        fprintf(stderr, "%s: nothing to plot: no channels\n", PROG);
        return 1;
    }
    /* y label: the channel when there is only one, else "value" */
    const char *ylabel = o->ylabel;
    const char *only = NULL;
    if (!ylabel) {
        const char *const *wanted = o->rank ? &o->rank : o->channels;
        int n_wanted = o->rank ? 1 : o->n_channels;
        if (n_wanted == 1)
            only = wanted[0];
        else if (p->n == 1)
            only = p->series[0].name;
        ylabel = only ? only : "value";
    }
    ml_plot_opts po = {0};
    po.width = o->width;
    po.height = o->height;
    po.title = o->title ? o->title : default_title;
    po.x_label = "epoch";
    po.y_label = ylabel;
    po.log_y = o->log_y;
    po.x_integer = 1;
    ml_image *img = NULL;
    ml_status s = ml_plot_render(&po, p->series, p->n, &img, NULL);
    if (s == ML_OK)
        s = ml_png_write_stream(img, fp, ml_atomic_name(a));
    if (s != ML_OK) {
        ml_image_free(img);
        ml_atomic_abort(a);
        return cli_failed();
    }
    int w = img->width, h = img->height;
    ml_image_free(img);
    if (ml_atomic_commit(a) != ML_OK)
        return cli_failed();
    if (o->verbose && !o->quiet)
        fprintf(stderr, "%s: wrote %s (%dx%d, %d series)\n", PROG, o->plot, w, h, p->n);
    return 0;
}

static const char *base_name(const char *path)
{
    if (strcmp(path, "-") == 0)
        return "<stdin>";
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* ---- following the stream ------------------------------------------------- */

/* The columns to show: -c ones (which must exist), else the default ones,
 * else all.  Returns 0 or an exit status. */
static int choose_columns(const ml_records_stream *st, const options *o, int *show, int *n_show,
                          int64_t line)
{
    int n = ml_records_stream_n_columns(st);
    *n_show = 0;
    if (o->n_channels > 0) {
        for (int k = 0; k < o->n_channels; k++) {
            int found = -1;
            for (int i = 0; i < n; i++)
                if (strcmp(ml_records_stream_column(st, i), o->channels[k]) == 0)
                    found = i;
            if (found < 0) {
                const char **names = ml_malloc((size_t)(n + 1) * sizeof *names);
                if (!names)
                    return cli_failed();
                for (int i = 0; i < n; i++)
                    names[i] = ml_records_stream_column(st, i);
                char where[64];
                snprintf(where, sizeof where, "<stdin>:%lld", (long long)line);
                int rc = no_channel(where, o->channels[k], names, n);
                ml_free(names);
                return rc;
            }
            show[(*n_show)++] = found;
        }
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (default_channel(ml_records_stream_column(st, i)))
            show[(*n_show)++] = i;
    if (*n_show == 0)
        for (int i = 0; i < n; i++)
            show[(*n_show)++] = i;
    return 0;
}

static int run_follow(const options *o)
{
    ml_atomic_file *a = NULL;
    FILE *plot_fp = NULL;
    /* The plot file is created now, so a bad directory fails before the run. */
    if (o->plot && ml_atomic_open(o->plot, &a, &plot_fp) != ML_OK)
        return cli_failed();
    ml_records *r = ml_records_new();
    ml_records_stream *st = r ? ml_records_stream_new(r, "<stdin>") : NULL;
    int *show = NULL;
    int n_show = 0, have_header = 0, rc = 0;
    if (!st) {
        ml_atomic_abort(a);
        ml_records_free(r);
        return cli_failed();
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        ml_stream_line_kind kind;
        if (ml_records_stream_line(st, line, &kind) != ML_OK) {
            rc = cli_failed();
            break;
        }
        if (kind == ML_STREAM_HEADER) {
            int n = ml_records_stream_n_columns(st);
            int *s2 = ml_realloc(show, (size_t)(n + o->n_channels + 1) * sizeof *s2);
            if (!s2) {
                rc = cli_failed();
                break;
            }
            show = s2;
            rc = choose_columns(st, o, show, &n_show, ml_records_stream_lines(st));
            if (rc)
                break;
            if (o->tsv && !o->quiet) {
                printf("epoch");
                for (int k = 0; k < n_show; k++)
                    printf("\t%s", ml_records_stream_column(st, show[k]));
                printf("\n");
                fflush(stdout);
            }
            have_header = 1;
        } else if (kind == ML_STREAM_RECORD && !o->quiet) {
            char b[48];
            double epoch = ml_records_stream_fixed(st, ML_REC_EPOCH);
            if (o->tsv) {
                printf("%s", num(b, sizeof b, epoch, 1));
                for (int k = 0; k < n_show; k++)
                    printf("\t%s", ml_records_stream_has(st, show[k])
                                       ? num(b, sizeof b, ml_records_stream_value(st, show[k]), 1)
                                       : "");
            } else {
                printf("epoch %s", num(b, sizeof b, epoch, 0));
                for (int k = 0; k < n_show; k++)
                    if (ml_records_stream_has(st, show[k]))
                        printf("  %s %s", ml_records_stream_column(st, show[k]),
                               num(b, sizeof b, ml_records_stream_value(st, show[k]), 0));
            }
            printf("\n");
            fflush(stdout);
        }
    }
    free(line);
    if (!rc && ferror(stdin)) {
        fprintf(stderr, "%s: <stdin>: cannot read: %s\n", PROG, strerror(errno));
        rc = 1;
    }
    if (!rc && !have_header) {
        fprintf(stderr,
                "%s: <stdin>: not a monitor stream (no header line starting with 'epoch')\n", PROG);
        rc = 1;
    }
    /* the final table: the shown columns of the last header */
    if (!rc && !o->tsv) {
        table t;
        table_init(&t, 5, summary_header, summary_right);
        for (int k = 0; k < n_show && !rc; k++) {
            const ml_records_channel *ch =
                ml_records_find(r, ml_records_stream_column(st, show[k]));
            if (ch)
                rc = add_summary_row(&t, ch, 0);
        }
        if (!rc) {
            if (!o->quiet)
                printf("\n");
            rc = table_print(&t, stdout, 0) == ML_OK ? 0 : cli_failed();
            fflush(stdout);
        }
        table_free(&t);
    }
    if (!rc && a) {
        plot_set p = {0};
        for (int k = 0; k < n_show && !rc; k++) {
            const ml_records_channel *ch =
                ml_records_find(r, ml_records_stream_column(st, show[k]));
            if (ch && plot_add(&p, ch, ch->name) != ML_OK)
                rc = cli_failed();
        }
        if (!rc) {
            rc = write_plot(&p, a, plot_fp, o, NULL);
            a = NULL;
        }
        plot_set_free(&p);
    }
    ml_atomic_abort(a);
    ml_free(show);
    ml_records_stream_free(st);
    ml_records_free(r);
    return rc;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    cli_init(PROG, 0);
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    ml_log_to_stderr(PROG, o.quiet ? ML_LOG_ERROR : o.verbose ? ML_LOG_INFO : ML_LOG_WARN);
    if (o.verbose >= 2)
        ml_h5_print_hdf5_errors(1);
    if (o.follow)
        return run_follow(&o);

    /* the plot file is created first, so a bad directory fails before any work */
    ml_atomic_file *a = NULL;
    FILE *plot_fp = NULL;
    if (o.plot && ml_atomic_open(o.plot, &a, &plot_fp) != ML_OK)
        return cli_failed();

    const char *rank_channel = o.rank;
    if (!rank_channel && o.n_models > 1 && o.n_channels == 1)
        rank_channel = o.channels[0];
    if (rank_channel && !o.plot) {
        rc = print_rank(&o, rank_channel);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "%s: <stdout>: cannot write: %s\n", PROG, strerror(errno));
            rc = 1;
        }
        return rc;
    }

    ml_records **recs = ml_calloc((size_t)o.n_models, sizeof *recs);
    if (!recs) {
        ml_atomic_abort(a);
        return cli_failed();
    }
    for (int i = 0; i < o.n_models && !rc; i++)
        if (ml_records_read_model(o.models[i], &recs[i]) != ML_OK)
            rc = cli_failed();

    if (rc) {
        ml_atomic_abort(a);
    } else if (o.plot) {
        plot_set p = {0};
        int several = o.n_models > 1;
        for (int i = 0; i < o.n_models && !rc; i++) {
            const char *name = strcmp(o.models[i], "-") == 0 ? "<stdin>" : o.models[i];
            rc = plot_add_source(&p, recs[i], name, several ? name : NULL, &o);
        }
        if (!rc)
            rc = write_plot(&p, a, plot_fp, &o, several ? NULL : base_name(o.models[0]));
        else
            ml_atomic_abort(a);
        plot_set_free(&p);
    } else {
        for (int i = 0; i < o.n_models && !rc; i++) {
            const char *name = strcmp(o.models[i], "-") == 0 ? "<stdin>" : o.models[i];
            if (o.n_models > 1)
                printf("%s==> %s <==\n", i ? "\n" : "", name);
            rc = o.n_channels ? print_records(recs[i], name, &o) : print_listing(recs[i], &o);
        }
    }
    if (!rc && (fflush(stdout) != 0 || ferror(stdout))) {
        fprintf(stderr, "%s: <stdout>: cannot write: %s\n", PROG, strerror(errno));
        rc = 1;
    }
    for (int i = 0; i < o.n_models; i++)
        ml_records_free(recs[i]);
    ml_free(recs);
    return rc;
}
