/* ml-preprocess: bring data into dataset files, split, shuffle, standardize,
 * and describe them.  Parses arguments, calls lib/data, reports; see
 * ml-preprocess(1) and ml-files(5). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ml.h"

#define PROG "ml-preprocess"
#define MAX_PARTS 64

static const char usage_text[] =
    "Usage: ml-preprocess import idx [OPTIONS] IMAGES [LABELS]\n"
    "       ml-preprocess split --counts N,N... [OPTIONS] IN -o OUT -o OUT...\n"
    "       ml-preprocess shuffle [--seed N] [OPTIONS] IN\n"
    "       ml-preprocess standardize --fit [--std-eps E] [--save-transform T] [OPTIONS] IN\n"
    "       ml-preprocess standardize --transform T [OPTIONS] IN\n"
    "       ml-preprocess info [OPTIONS] FILE\n"
    "Bring data into dataset files (HDF5), split, shuffle and standardize them.\n"
    "IN, IMAGES, LABELS and FILE may be '-' for standard input.  Output goes to\n"
    "-o FILE, or to standard output when -o is not given and it is not a terminal.\n"
    "\n"
    "Commands:\n"
    "  import idx     read IDX images and labels (raw or gzip-compressed)\n"
    "  split          write consecutive parts of the rows, one -o per count\n"
    "  shuffle        write the rows in a random order drawn from --seed\n"
    "  standardize    subtract each feature's mean and divide by its std\n"
    "  info           describe a dataset or transform file on standard output\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE          output file ('-': standard output)\n"
    "      --counts N,N,...       split: rows of each part; the last may be 'rest'\n"
    "      --seed N               shuffle: seed of the random order (default 0)\n"
    "      --fit                  standardize: fit mean and std on IN, then apply them\n"
    "      --transform T          standardize: apply the transform file T\n"
    "      --save-transform T     standardize --fit: also write the transform to T\n"
    "      --std-eps E            standardize --fit: floor of the std (default 0.0001)\n"
    "      --raw-pixels           import: keep pixels 0..255 (default: scale to [0, 1])\n"
    "      --label-names A,B,...  import: names of the classes 0, 1, ...\n"
    "      --x-name NAME          read X from the dataset NAME (default X)\n"
    "      --y-name NAME          read y from the dataset NAME (default y)\n"
    "      --no-y                 read no y\n"
    "      --start N              first row to read (default 0)\n"
    "      --stop N               read the rows before row N (default: all)\n"
    "      --allow-nan            accept NaN and Inf values in X\n"
    "      --compress[=LEVEL]     shuffle and deflate the output (LEVEL 1-9, default 4)\n"
    "      --chunk-rows N         rows per chunk (default: chunks of about 1 MiB)\n"
    "  -q, --quiet                print only errors\n"
    "  -v, --verbose              say what was written; twice: debugging and HDF5 errors\n"
    "  -h, --help                 print this help and exit\n"
    "  -V, --version              print the version and build features and exit\n"
    "\n"
    "Exit status: 0 success, 1 bad data or a file error, 2 usage error.\n"
    "See ml-preprocess(1) and ml-files(5).\n";

enum { CMD_IMPORT = 1, CMD_SPLIT = 2, CMD_SHUFFLE = 4, CMD_STANDARDIZE = 8, CMD_INFO = 16 };
#define CMD_WRITERS (CMD_IMPORT | CMD_SPLIT | CMD_SHUFFLE | CMD_STANDARDIZE)
#define CMD_READERS (CMD_SPLIT | CMD_SHUFFLE | CMD_STANDARDIZE | CMD_INFO)

enum {
    OPT_COUNTS = 256,
    OPT_SEED,
    OPT_FIT,
    OPT_TRANSFORM,
    OPT_SAVE_TRANSFORM,
    OPT_STD_EPS,
    OPT_RAW_PIXELS,
    OPT_LABEL_NAMES,
    OPT_X_NAME,
    OPT_Y_NAME,
    OPT_NO_Y,
    OPT_START,
    OPT_STOP,
    OPT_ALLOW_NAN,
    OPT_COMPRESS,
    OPT_CHUNK_ROWS,
};

static const struct option long_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"counts", required_argument, NULL, OPT_COUNTS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"fit", no_argument, NULL, OPT_FIT},
    {"transform", required_argument, NULL, OPT_TRANSFORM},
    {"save-transform", required_argument, NULL, OPT_SAVE_TRANSFORM},
    {"std-eps", required_argument, NULL, OPT_STD_EPS},
    {"raw-pixels", no_argument, NULL, OPT_RAW_PIXELS},
    {"label-names", required_argument, NULL, OPT_LABEL_NAMES},
    {"labels-names", required_argument, NULL, OPT_LABEL_NAMES}, /* alias */
    {"x-name", required_argument, NULL, OPT_X_NAME},
    {"y-name", required_argument, NULL, OPT_Y_NAME},
    {"no-y", no_argument, NULL, OPT_NO_Y},
    {"start", required_argument, NULL, OPT_START},
    {"stop", required_argument, NULL, OPT_STOP},
    {"allow-nan", no_argument, NULL, OPT_ALLOW_NAN},
    {"compress", optional_argument, NULL, OPT_COMPRESS},
    {"chunk-rows", required_argument, NULL, OPT_CHUNK_ROWS},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* The commands each option applies to. */
static int option_commands(int code)
{
    switch (code) {
    case 'o':
    case OPT_COMPRESS:
    case OPT_CHUNK_ROWS:
        return CMD_WRITERS;
    case OPT_COUNTS:
        return CMD_SPLIT;
    case OPT_SEED:
        return CMD_SHUFFLE;
    case OPT_FIT:
    case OPT_TRANSFORM:
    case OPT_SAVE_TRANSFORM:
    case OPT_STD_EPS:
        return CMD_STANDARDIZE;
    case OPT_RAW_PIXELS:
    case OPT_LABEL_NAMES:
        return CMD_IMPORT;
    case OPT_X_NAME:
    case OPT_Y_NAME:
    case OPT_NO_Y:
    case OPT_START:
    case OPT_STOP:
        return CMD_READERS;
    default:
        return ~0;
    }
}

typedef struct {
    int command;
    const char *command_name;
    char **operand_list; /* owned */
    char **operands;     /* the operands after the command */
    int n_operands;
    const char *outputs[MAX_PARTS];
    int n_outputs;
    const char *counts;
    uint64_t seed;
    int fit;
    const char *transform;
    const char *save_transform;
    double std_eps;
    const char *label_names;
    ml_idx_opts idx;
    ml_dataset_load_opts load;
    ml_dataset_save_opts save;
    int verbose;
    int quiet;
    int argc;
    char **argv; /* for the provenance, argv[0] = "ml-preprocess" */
} options;

/* ---- messages ---------------------------------------------------------- */

/* ---- argument values --------------------------------------------------- */

static int parse_u64(const char *text, const char *opt, uint64_t *value)
{
    char *end = NULL;
    errno = 0;
    if (!*text || *text == '-')
        return cli_usage_error("invalid value '%s' for '%s' (expected an integer >= 0)", text, opt);
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || errno)
        return cli_usage_error("invalid value '%s' for '%s' (expected an integer >= 0)", text, opt);
    *value = v;
    return 0;
}

static int parse_positive_double(const char *text, const char *opt, double *value)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !(v > 0) || v > 1e30)
        return cli_usage_error("invalid value '%s' for '%s' (expected a positive number)", text,
                               opt);
    *value = v;
    return 0;
}

/* ---- parsing ----------------------------------------------------------- */

/* 0: run the command; -1: done (--help, --version), exit 0; else the exit status. */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->operand_list = o->operands = ml_calloc((size_t)argc + 1, sizeof *o->operands);
    if (!o->operands)
        return cli_failed();
    /* The command line for the provenance, as it could be run again (copied
     * before getopt_long permutes argv). */
    o->argc = argc;
    o->argv = ml_calloc((size_t)argc + 1, sizeof *o->argv);
    if (!o->argv)
        return cli_failed();
    for (int i = 0; i < argc; i++)
        o->argv[i] = argv[i];
    o->argv[0] = (char *)PROG;
    int given[OPT_CHUNK_ROWS + 1] = {0};
    opterr = 0;
    int c, index;
    while ((c = getopt_long(argc, argv, ":o:qvhV", long_options, &index)) != -1) {
        if (c == '?' || c == ':')
            return cli_option_error(c, argv);
        if (c >= 0 && c <= OPT_CHUNK_ROWS)
            given[c] = 1;
        int rc = 0;
        switch (c) {
        case 'h':
            fputs(usage_text, stdout);
            return -1; /* done: exit 0 */
        case 'V':
            cli_print_version();
            return -1;
        case 'q':
            o->quiet = 1;
            break;
        case 'v':
            o->verbose++;
            break;
        case 'o':
            if (o->n_outputs == MAX_PARTS)
                return cli_usage_error("too many outputs (at most %d)", MAX_PARTS);
            o->outputs[o->n_outputs++] = optarg;
            break;
        case OPT_COUNTS:
            o->counts = optarg;
            break;
        case OPT_SEED:
            rc = parse_u64(optarg, "--seed", &o->seed);
            break;
        case OPT_FIT:
            o->fit = 1;
            break;
        case OPT_TRANSFORM:
            o->transform = optarg;
            break;
        case OPT_SAVE_TRANSFORM:
            o->save_transform = optarg;
            break;
        case OPT_STD_EPS:
            rc = parse_positive_double(optarg, "--std-eps", &o->std_eps);
            break;
        case OPT_RAW_PIXELS:
            o->idx.raw_pixels = 1;
            break;
        case OPT_LABEL_NAMES:
            o->label_names = optarg;
            break;
        case OPT_X_NAME:
            o->load.x_name = optarg;
            break;
        case OPT_Y_NAME:
            o->load.y_name = optarg;
            break;
        case OPT_NO_Y:
            o->load.no_y = 1;
            break;
        case OPT_START:
            rc = cli_parse_int(optarg, "--start", 0, &o->load.start);
            break;
        case OPT_STOP:
            rc = cli_parse_int(optarg, "--stop", 1, &o->load.stop);
            break;
        case OPT_ALLOW_NAN:
            o->load.allow_nonfinite = 1;
            break;
        case OPT_COMPRESS: {
            int64_t level = 4;
            if (optarg)
                rc = cli_parse_int(optarg, "--compress", 1, &level);
            if (!rc && level > 9)
                rc = cli_usage_error("invalid value '%s' for '--compress' (expected 1 to 9)",
                                     optarg);
            o->save.deflate = (int)level;
            break;
        }
        case OPT_CHUNK_ROWS:
            rc = cli_parse_int(optarg, "--chunk-rows", 1, &o->save.chunk_rows);
            break;
        default:
            return cli_option_error(c, argv);
        }
        if (rc)
            return rc;
    }
    for (int i = optind; i < argc; i++)
        o->operands[o->n_operands++] = argv[i];
    if (o->n_operands == 0)
        return cli_usage_error("missing command (import, split, shuffle, standardize or info)");
    const char *cmd = o->operands[0];
    static const struct {
        const char *name;
        int code;
    } commands[] = {{"import", CMD_IMPORT},
                    {"split", CMD_SPLIT},
                    {"shuffle", CMD_SHUFFLE},
                    {"standardize", CMD_STANDARDIZE},
                    {"info", CMD_INFO}};
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            o->command = commands[i].code;
    if (!o->command)
        return cli_usage_error("unknown command '%s'", cmd);
    o->command_name = cmd;
    for (const struct option *opt = long_options; opt->name; opt++)
        if (given[opt->val] && !(option_commands(opt->val) & o->command))
            return cli_usage_error("option '--%s' does not apply to '%s'", opt->name, cmd);
    o->operands++;
    o->n_operands--;

    return 0;
}

/* Operands: at least min, at most max. */
static int check_operands(const options *o, int min, int max, const char *what)
{
    if (o->n_operands < min)
        return cli_usage_error("%s: missing %s", o->command_name, what);
    if (o->n_operands > max)
        return cli_usage_error("%s: extra operand '%s'", o->command_name, o->operands[max]);
    return 0;
}

static int single_output(const options *o, const char **out)
{
    if (o->n_outputs > 1)
        return cli_usage_error("%s: one output only (-o given %d times)", o->command_name,
                               o->n_outputs);
    return cli_binary_output(o->n_outputs ? o->outputs[0] : NULL, out);
}

static void report(const char *path, const ml_dataset *ds)
{
    char shape[96];
    ml_info("wrote %s: %" PRId64 " examples, X %s%s%s", strcmp(path, "-") == 0 ? "<stdout>" : path,
            ml_dataset_n_examples(ds),
            ml_shape_format(ds->X->ndim, ds->X->shape, shape, sizeof shape), ds->y ? ", y" : "",
            ds->n_classes > 0 ? " with classes" : "");
}

/* Writes ds (with this command added to its provenance) into f and commits. */
static int write_dataset(const options *o, ml_h5_file *f, const char *path, ml_dataset *ds)
{
    if (ml_dataset_add_command(ds, o->argc, o->argv) != ML_OK ||
        ml_dataset_write(f, ds, &o->save) != ML_OK || ml_h5_commit(f) != ML_OK)
        return cli_failed();
    report(path, ds);
    return 0;
}

/* ---- commands ---------------------------------------------------------- */

static int split_list(const char *text, char ***items, int *n)
{
    char *copy = ml_strdup(text);
    int cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    char **list = ml_calloc((size_t)cap + 1, sizeof *list);
    if (!copy || !list) {
        ml_free(copy);
        ml_free(list);
        return cli_failed();
    }
    int k = 0;
    char *save = copy;
    for (char *p = copy;; p++) {
        if (*p == ',' || *p == '\0') {
            int end = *p == '\0';
            *p = '\0';
            list[k++] = save;
            save = p + 1;
            if (end)
                break;
        }
    }
    *items = list;
    *n = k;
    return 0;
}

static void free_list(char **items)
{
    if (items) {
        ml_free(items[0]);
        ml_free(items);
    }
}

static int cmd_import(const options *o)
{
    int rc = check_operands(o, 1, 3, "format (idx) and IMAGES");
    if (rc)
        return rc;
    if (strcmp(o->operands[0], "idx") != 0)
        return cli_usage_error("import: unknown format '%s' (known: idx)", o->operands[0]);
    if (o->n_operands < 2)
        return cli_usage_error("import: missing IMAGES");
    const char *images = o->operands[1], *labels = o->n_operands > 2 ? o->operands[2] : NULL;
    if (labels && strcmp(images, "-") == 0 && strcmp(labels, "-") == 0)
        return cli_usage_error("import: IMAGES and LABELS cannot both be standard input");
    char **names = NULL;
    int n_names = 0;
    if (o->label_names) {
        if ((rc = split_list(o->label_names, &names, &n_names)))
            return rc;
        for (int i = 0; i < n_names; i++)
            if (!names[i][0]) {
                free_list(names);
                return cli_usage_error("invalid value '%s' for '--label-names' (an empty name)",
                                       o->label_names);
            }
        if (!labels) {
            free_list(names);
            return cli_usage_error("import: --label-names needs a LABELS file");
        }
    }
    const char *out = NULL;
    if ((rc = single_output(o, &out))) {
        free_list(names);
        return rc;
    }
    ml_h5_file *f = NULL;
    ml_dataset *ds = NULL;
    rc = 1;
    if (ml_h5_create(out, &f) != ML_OK || ml_idx_import(images, labels, &o->idx, &ds) != ML_OK) {
        cli_failed();
        goto done;
    }
    if (names) {
        if (n_names < ds->n_classes) {
            cli_error("%s: %d label names for labels up to %d",
                      strcmp(labels, "-") == 0 ? "<stdin>" : labels, n_names, ds->n_classes - 1);
            goto done;
        }
        ds->n_classes = n_names;
        if (ml_dataset_set_y_labels(ds, (const char *const *)names, n_names) != ML_OK) {
            cli_failed();
            goto done;
        }
    }
    rc = write_dataset(o, f, out, ds);
done:
    free_list(names);
    ml_dataset_free(ds);
    ml_h5_close(f);
    return rc;
}

static int cmd_split(const options *o)
{
    int rc = check_operands(o, 1, 1, "IN");
    if (rc)
        return rc;
    if (!o->counts)
        return cli_usage_error("split: missing --counts");
    char **items = NULL;
    int n = 0;
    if ((rc = split_list(o->counts, &items, &n)))
        return rc;
    int64_t counts[MAX_PARTS];
    int rest = -1;
    if (n > MAX_PARTS) {
        free_list(items);
        return cli_usage_error("split: too many counts (at most %d)", MAX_PARTS);
    }
    for (int i = 0; i < n && !rc; i++) {
        if (strcmp(items[i], "rest") == 0 && i == n - 1)
            rest = i, counts[i] = 0;
        else
            rc = cli_parse_int(items[i], "--counts", 0, &counts[i]);
    }
    free_list(items);
    if (rc)
        return rc;
    if (o->n_outputs != n)
        return cli_usage_error("split: %d count%s but %d output%s (-o)", n, n == 1 ? "" : "s",
                               o->n_outputs, o->n_outputs == 1 ? "" : "s");
    int to_stdout = 0;
    const char *outs[MAX_PARTS];
    for (int i = 0; i < n; i++) {
        if ((rc = cli_binary_output(o->outputs[i], &outs[i])))
            return rc;
        if (strcmp(outs[i], "-") == 0 && to_stdout++)
            return cli_usage_error("split: standard output can take one part only");
    }

    ml_h5_file *files[MAX_PARTS] = {0};
    ml_dataset *ds = NULL, *parts[MAX_PARTS] = {0};
    rc = 1;
    for (int i = 0; i < n; i++)
        if (ml_h5_create(outs[i], &files[i]) != ML_OK) {
            cli_failed();
            goto done;
        }
    if (ml_dataset_load(o->operands[0], &o->load, &ds) != ML_OK) {
        cli_failed();
        goto done;
    }
    if (rest >= 0) {
        int64_t used = 0;
        for (int i = 0; i < rest; i++)
            used += counts[i];
        counts[rest] = ml_dataset_n_examples(ds) - used;
        if (counts[rest] < 0) {
            cli_error("%s: the counts add up to %" PRId64 ", the data has %" PRId64 " rows",
                      ds->name, used, ml_dataset_n_examples(ds));
            goto done;
        }
    }
    if (ml_preprocess_split(ds, counts, n, parts) != ML_OK) {
        cli_failed();
        goto done;
    }
    /* every part written before any is committed */
    for (int i = 0; i < n; i++)
        if (ml_dataset_add_command(parts[i], o->argc, o->argv) != ML_OK ||
            ml_dataset_write(files[i], parts[i], &o->save) != ML_OK) {
            cli_failed();
            goto done;
        }
    for (int i = 0; i < n; i++) {
        if (ml_h5_commit(files[i]) != ML_OK) {
            cli_failed();
            goto done;
        }
        report(outs[i], parts[i]);
    }
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += counts[i];
    if (total < ml_dataset_n_examples(ds))
        ml_info("%s: %" PRId64 " rows after the last part were left out", ds->name,
                ml_dataset_n_examples(ds) - total);
    rc = 0;
done:
    for (int i = 0; i < n; i++) {
        ml_dataset_free(parts[i]);
        ml_h5_close(files[i]);
    }
    ml_dataset_free(ds);
    return rc;
}

static int cmd_shuffle(const options *o)
{
    int rc = check_operands(o, 1, 1, "IN");
    const char *out = NULL;
    if (rc || (rc = single_output(o, &out)))
        return rc;
    ml_h5_file *f = NULL;
    ml_dataset *ds = NULL, *shuffled = NULL;
    rc = 1;
    if (ml_h5_create(out, &f) != ML_OK || ml_dataset_load(o->operands[0], &o->load, &ds) != ML_OK ||
        ml_preprocess_shuffle(ds, o->seed, &shuffled) != ML_OK)
        cli_failed();
    else
        rc = write_dataset(o, f, out, shuffled);
    ml_dataset_free(shuffled);
    ml_dataset_free(ds);
    ml_h5_close(f);
    return rc;
}

static int cmd_standardize(const options *o)
{
    int rc = check_operands(o, 1, 1, "IN");
    if (rc)
        return rc;
    if (o->fit == !!o->transform)
        return cli_usage_error("standardize: give either --fit or --transform T");
    if (o->transform && (o->save_transform || o->std_eps > 0))
        return cli_usage_error("standardize: '%s' goes with --fit, not --transform",
                               o->save_transform ? "--save-transform" : "--std-eps");
    const char *out = NULL;
    if ((rc = single_output(o, &out)))
        return rc;
    if (o->save_transform && strcmp(o->save_transform, "-") == 0 && strcmp(out, "-") == 0)
        return cli_usage_error(
            "standardize: the data and the transform cannot both go to standard output");
    if (o->save_transform && strcmp(o->save_transform, "-") == 0 && isatty(1))
        return cli_usage_error("refusing to write binary data to a terminal");
    if (o->transform && strcmp(o->transform, "-") == 0 && strcmp(o->operands[0], "-") == 0)
        return cli_usage_error("standardize: IN and the transform cannot both be standard input");

    ml_h5_file *f = NULL, *tf = NULL;
    ml_dataset *ds = NULL;
    ml_transform *t = NULL;
    rc = 1;
    if (ml_h5_create(out, &f) != ML_OK ||
        (o->save_transform && ml_h5_create(o->save_transform, &tf) != ML_OK) ||
        (o->transform && ml_transform_load(o->transform, &t) != ML_OK) ||
        ml_dataset_load(o->operands[0], &o->load, &ds) != ML_OK) {
        cli_failed();
        goto done;
    }
    if (o->fit) {
        char *line = ml_command_line(o->argc, o->argv);
        ml_status s = ml_preprocess_standardize_fit(ds, o->std_eps, &t);
        if (s == ML_OK && !line)
            s = ML_ENOMEM;
        if (s == ML_OK)
            s = ml_transform_add_provenance(t, line);
        ml_free(line);
        if (s != ML_OK) {
            cli_failed();
            goto done;
        }
    }
    if (ml_transform_apply(t, ds) != ML_OK ||
        ml_dataset_add_command(ds, o->argc, o->argv) != ML_OK ||
        ml_dataset_write(f, ds, &o->save) != ML_OK ||
        (tf && (ml_transform_write(tf, t) != ML_OK || ml_h5_commit(tf) != ML_OK)) ||
        ml_h5_commit(f) != ML_OK) {
        cli_failed();
        goto done;
    }
    if (tf)
        ml_info("wrote %s: standardize, %" PRId64 " features", o->save_transform,
                t->mean->shape[0]);
    report(out, ds);
    rc = 0;
done:
    ml_transform_free(t);
    ml_dataset_free(ds);
    ml_h5_close(tf);
    ml_h5_close(f);
    return rc;
}

/* ---- info -------------------------------------------------------------- */

static void print_provenance(const char *prov)
{
    printf("provenance:\n");
    if (!prov || !*prov)
        return;
    const char *p = prov;
    while (*p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("  %.*s\n", len, p);
        p += len + (nl ? 1 : 0);
    }
}

static void print_format(ml_h5_file *f)
{
    char *format = NULL;
    int64_t version = 0;
    if (ml_h5_attr_exists(f, "/", "ml_format") &&
        ml_h5_attr_read_str(f, "/", "ml_format", &format) == ML_OK) {
        if (ml_h5_attr_exists(f, "/", "ml_format_version"))
            ml_h5_attr_read_i64(f, "/", "ml_format_version", &version);
        printf("format: %s %" PRId64 "\n", format, version);
    } else {
        printf("format: none (plain HDF5)\n");
    }
    ml_free(format);
}

static void print_tensor_range(const char *label, const ml_tensor *t)
{
    const float *v = ml_tensor_f32(t);
    int64_t n = ml_tensor_numel(t);
    double lo = n ? v[0] : 0, hi = n ? v[0] : 0;
    for (int64_t i = 1; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    printf("%s: min %g max %g\n", label, lo, hi);
}

static int info_transform(ml_h5_file *f)
{
    ml_transform *t = NULL;
    if (ml_transform_read(f, &t) != ML_OK)
        return cli_failed();
    printf("file: %s\n", ml_h5_file_name(f));
    print_format(f);
    printf("transform: %s\n", t->kind);
    printf("features: %" PRId64 "\n", t->mean->shape[0]);
    printf("fitted on: %" PRId64 " examples\n", t->n_examples);
    printf("std_eps: %g\n", t->std_eps);
    print_tensor_range("mean", t->mean);
    print_tensor_range("std", t->std);
    print_provenance(t->provenance);
    ml_transform_free(t);
    return 0;
}

static int info_dataset(const options *o, ml_h5_file *f)
{
    ml_dataset_load_opts load = o->load;
    load.allow_nonfinite = 1; /* reported below instead */
    ml_dataset *ds = NULL;
    if (ml_dataset_read(f, &load, &ds) != ML_OK)
        return cli_failed();
    char shape[128];
    printf("file: %s\n", ds->name);
    print_format(f);
    printf("examples: %" PRId64 "\n", ml_dataset_n_examples(ds));
    printf("X: float32 %s\n", ml_shape_format(ds->X->ndim, ds->X->shape, shape, sizeof shape));
    if (ds->image_shape[0] > 0)
        printf("image shape: %" PRId64 " x %" PRId64 " x %" PRId64 " (C x H x W)\n",
               ds->image_shape[0], ds->image_shape[1], ds->image_shape[2]);
    else
        printf("image shape: none\n");
    ml_dataset_stats st;
    ml_dataset_value_stats(ds, &st);
    printf("values: min %g max %g mean %g std %g\n", st.min, st.max, st.mean, st.std);
    printf("non-finite values: %" PRId64 "\n", st.n_nonfinite);
    if (!ds->y) {
        printf("y: none\n");
    } else {
        printf("y: %s %s%s\n", ml_dtype_name(ds->y->dtype),
               ml_shape_format(ds->y->ndim, ds->y->shape, shape, sizeof shape),
               ds->y->dtype == ML_F32 ? " (targets)" : "");
        printf("classes: %d\n", ds->n_classes);
        int64_t *counts = NULL;
        if (ds->y->dtype == ML_I32 && ds->n_classes > 0) {
            if (ml_dataset_class_counts(ds, &counts) != ML_OK) {
                ml_dataset_free(ds);
                return cli_failed();
            }
            for (int k = 0; k < ds->n_classes; k++) {
                printf("class %d: %" PRId64, k, counts[k]);
                if (ds->y_labels && k < ds->n_y_labels)
                    printf(" %s", ds->y_labels[k]);
                printf("\n");
            }
            ml_free(counts);
        }
    }
    if (o->load.start > 0 || o->load.stop > 0)
        printf("rows: %" PRId64 " to %" PRId64 " of the file\n", ds->first_row,
               ds->first_row + ml_dataset_n_examples(ds));
    print_provenance(ds->provenance);
    ml_dataset_free(ds);
    return 0;
}

static int cmd_info(const options *o)
{
    int rc = check_operands(o, 1, 1, "FILE");
    if (rc)
        return rc;
    ml_h5_file *f = NULL;
    if (ml_h5_open(o->operands[0], &f) != ML_OK)
        return cli_failed();
    char *format = NULL;
    int is_transform = ml_h5_attr_exists(f, "/", "ml_format") &&
                       ml_h5_attr_read_str(f, "/", "ml_format", &format) == ML_OK &&
                       strcmp(format, ML_TRANSFORM_FORMAT) == 0;
    ml_free(format);
    rc = is_transform ? info_transform(f) : info_dataset(o, f);
    ml_h5_close(f);
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
        rc = cli_error("<stdout>: cannot write: %s", strerror(errno));
    }
    return rc;
}

int main(int argc, char **argv)
{
    cli_init(PROG, 0);
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc < 0) {
        rc = 0; /* --help or --version */
    } else if (rc == 0) {
        cli_init(PROG, o.verbose);
        if (o.quiet)
            ml_log_to_stderr(PROG, ML_LOG_ERROR);
        if (o.verbose >= 2)
            ml_h5_print_hdf5_errors(1);
        switch (o.command) {
        case CMD_IMPORT:
            rc = cmd_import(&o);
            break;
        case CMD_SPLIT:
            rc = cmd_split(&o);
            break;
        case CMD_SHUFFLE:
            rc = cmd_shuffle(&o);
            break;
        case CMD_STANDARDIZE:
            rc = cmd_standardize(&o);
            break;
        default:
            rc = cmd_info(&o);
            break;
        }
    }
    ml_free(o.operand_list);
    ml_free(o.argv);
    return rc;
}
