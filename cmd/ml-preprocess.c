/* ml-preprocess: bring data into dataset files, split, shuffle, preprocess,
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
    "       ml-preprocess import csv [--header|--no-header] [--label-column N|NAME]\n"
    "                                [--no-labels] [--delimiter C] [OPTIONS] FILE\n"
    "       ml-preprocess import npy [OPTIONS] X.npy [Y.npy]\n"
    "       ml-preprocess import hdf5 --x NAME [--y NAME] [OPTIONS] FILE\n"
    "       ml-preprocess split --counts N,N... [OPTIONS] IN -o OUT -o OUT...\n"
    "       ml-preprocess shuffle [--seed N] [OPTIONS] IN\n"
    "       ml-preprocess standardize --fit [--std-eps E] [--save-transform T] [OPTIONS] IN\n"
    "       ml-preprocess standardize --transform T [OPTIONS] IN\n"
    "       ml-preprocess gcn --fit [--scale S] [--no-subtract-mean] [--use-std]\n"
    "                         [--sqrt-bias B] [--min-divisor M] [--save-transform T]\n"
    "                         [OPTIONS] IN\n"
    "       ml-preprocess remove-mean --fit [--save-transform T] [OPTIONS] IN\n"
    "       ml-preprocess zca --fit [--n-components K] [--filter-bias B] [--store-inverse]\n"
    "                         [--save-transform T] [OPTIONS] IN\n"
    "       ml-preprocess pca --fit [--num-components K] [--whiten] [--save-transform T]\n"
    "                         [OPTIONS] IN\n"
    "       ml-preprocess lcn --fit [--kernel-size K] [--save-transform T] [OPTIONS] IN\n"
    "       ml-preprocess patches --fit --patch-shape RxC --num-patches N [--seed N]\n"
    "                             [--save-transform T] [OPTIONS] IN\n"
    "       ml-preprocess gcn|remove-mean|zca|pca|lcn|patches --transform T [OPTIONS] IN\n"
    "       ml-preprocess apply [OPTIONS] T IN\n"
    "       ml-preprocess pipeline [OPTIONS] T T... -o P\n"
    "       ml-preprocess info [OPTIONS] FILE\n"
    "Bring data into dataset files (HDF5), split, shuffle and preprocess them.\n"
    "IN, IMAGES, LABELS and FILE may be '-' for standard input.  Output goes to\n"
    "-o FILE, or to standard output when -o is not given and it is not a terminal.\n"
    "\n"
    "Commands:\n"
    "  import idx     read IDX images and labels (raw or gzip-compressed)\n"
    "  import csv     read numeric CSV (raw or gzip-compressed), labels from one column\n"
    "  import npy     read NumPy .npy arrays for X and (optionally) y\n"
    "  import hdf5    read the named datasets of any HDF5 file\n"
    "  split          write consecutive parts of the rows, one -o per count\n"
    "  shuffle        write the rows in a random order drawn from --seed\n"
    "  standardize    subtract each feature's mean and divide by its std\n"
    "  gcn            global contrast normalization of each row\n"
    "  remove-mean    subtract each feature's mean\n"
    "  zca            ZCA whitening (mean, covariance eigenvectors)\n"
    "  pca            project onto the principal components\n"
    "  lcn            local contrast normalization of images (LeCun's)\n"
    "  patches        a dataset of random patches of the images\n"
    "  apply          apply any transform file T (a pipeline too) to IN\n"
    "  pipeline       join transform files into one that applies them in order\n"
    "  info           describe a dataset or transform file on standard output\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE          output file ('-': standard output)\n"
    "      --counts N,N,...       split: rows of each part; the last may be 'rest'\n"
    "      --seed N               shuffle, patches --fit: seed of the random order or\n"
    "                             of the patches (default 0)\n"
    "      --fit                  standardize, gcn, remove-mean, zca, pca, lcn,\n"
    "                             patches: fit on IN, then apply\n"
    "      --transform T          standardize, gcn, remove-mean, zca, pca, lcn,\n"
    "                             patches: apply the transform file T (of the same kind)\n"
    "      --save-transform T     --fit: also write the transform to T\n"
    "      --std-eps E            standardize --fit: floor of the std (default 0.0001)\n"
    "      --scale S              gcn --fit: norm of each row (default 1)\n"
    "      --no-subtract-mean     gcn --fit: keep each row's mean\n"
    "      --use-std              gcn --fit: divide by the row's std, not its norm\n"
    "      --sqrt-bias B          gcn --fit: added under the square root (default 0)\n"
    "      --min-divisor M        gcn --fit: smaller divisors become 1 (default 1e-08)\n"
    "      --n-components K       zca --fit: eigenvectors kept (default: all)\n"
    "      --filter-bias B        zca --fit: added to the eigenvalues (default 0.1)\n"
    "      --store-inverse        zca --fit: also store the inverse whitening matrix\n"
    "      --num-components K     pca --fit: components kept (default: all)\n"
    "      --whiten               pca --fit: divide each component by its std\n"
    "      --kernel-size K        lcn --fit: side of the Gaussian kernel, odd (default 7)\n"
    "      --patch-shape RxC      patches --fit: rows and columns of a patch\n"
    "      --num-patches N        patches --fit: the number of patches\n"
    "      --raw-pixels           import: keep pixels 0..255 (default: scale to [0, 1])\n"
    "      --label-names A,B,...  import idx: names of the classes 0, 1, ...\n"
    "      --header               import csv: the first line names the columns\n"
    "      --no-header            import csv: the first line is data (default: a\n"
    "                             header when none of its fields is a number)\n"
    "      --label-column N|NAME  import csv: the labels' column, 1-based or by its\n"
    "                             header name (default: the last)\n"
    "      --no-labels            import csv: every column is a feature, no y\n"
    "      --delimiter C          import csv: field separator (default ','; 'tab')\n"
    "      --x NAME               import hdf5: the dataset holding X\n"
    "      --y NAME               import hdf5: the dataset holding y\n"
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

enum {
    CMD_IMPORT = 1,
    CMD_SPLIT = 2,
    CMD_SHUFFLE = 4,
    CMD_STANDARDIZE = 8,
    CMD_INFO = 16,
    CMD_GCN = 32,
    CMD_REMOVE_MEAN = 64,
    CMD_ZCA = 128,
    CMD_PCA = 256,
    CMD_APPLY = 512,
    CMD_LCN = 1024,
    CMD_PATCHES = 2048,
    CMD_PIPELINE = 4096
};
#define CMD_FITTERS                                                                             \
    (CMD_STANDARDIZE | CMD_GCN | CMD_REMOVE_MEAN | CMD_ZCA | CMD_PCA | CMD_LCN | CMD_PATCHES)
#define CMD_WRITERS (CMD_IMPORT | CMD_SPLIT | CMD_SHUFFLE | CMD_FITTERS | CMD_APPLY)
#define CMD_READERS (CMD_SPLIT | CMD_SHUFFLE | CMD_FITTERS | CMD_APPLY | CMD_INFO)

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
    OPT_HEADER,
    OPT_NO_HEADER,
    OPT_LABEL_COLUMN,
    OPT_NO_LABELS,
    OPT_DELIMITER,
    OPT_IMPORT_X,
    OPT_IMPORT_Y,
    OPT_SCALE,
    OPT_NO_SUBTRACT_MEAN,
    OPT_USE_STD,
    OPT_SQRT_BIAS,
    OPT_MIN_DIVISOR,
    OPT_N_COMPONENTS,
    OPT_FILTER_BIAS,
    OPT_STORE_INVERSE,
    OPT_NUM_COMPONENTS,
    OPT_WHITEN,
    OPT_KERNEL_SIZE,
    OPT_PATCH_SHAPE,
    OPT_NUM_PATCHES,
    OPT_LAST_ /* keep last */
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
    {"header", no_argument, NULL, OPT_HEADER},
    {"no-header", no_argument, NULL, OPT_NO_HEADER},
    {"label-column", required_argument, NULL, OPT_LABEL_COLUMN},
    {"no-labels", no_argument, NULL, OPT_NO_LABELS},
    {"delimiter", required_argument, NULL, OPT_DELIMITER},
    {"x", required_argument, NULL, OPT_IMPORT_X},
    {"y", required_argument, NULL, OPT_IMPORT_Y},
    {"scale", required_argument, NULL, OPT_SCALE},
    {"no-subtract-mean", no_argument, NULL, OPT_NO_SUBTRACT_MEAN},
    {"use-std", no_argument, NULL, OPT_USE_STD},
    {"sqrt-bias", required_argument, NULL, OPT_SQRT_BIAS},
    {"min-divisor", required_argument, NULL, OPT_MIN_DIVISOR},
    {"n-components", required_argument, NULL, OPT_N_COMPONENTS},
    {"filter-bias", required_argument, NULL, OPT_FILTER_BIAS},
    {"store-inverse", no_argument, NULL, OPT_STORE_INVERSE},
    {"num-components", required_argument, NULL, OPT_NUM_COMPONENTS},
    {"whiten", no_argument, NULL, OPT_WHITEN},
    {"kernel-size", required_argument, NULL, OPT_KERNEL_SIZE},
    {"patch-shape", required_argument, NULL, OPT_PATCH_SHAPE},
    {"num-patches", required_argument, NULL, OPT_NUM_PATCHES},
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
        return CMD_WRITERS | CMD_PIPELINE;
    case OPT_COMPRESS:
    case OPT_CHUNK_ROWS:
        return CMD_WRITERS;
    case OPT_COUNTS:
        return CMD_SPLIT;
    case OPT_SEED:
        return CMD_SHUFFLE | CMD_PATCHES;
    case OPT_PATCH_SHAPE:
    case OPT_NUM_PATCHES:
        return CMD_PATCHES;
    case OPT_FIT:
    case OPT_TRANSFORM:
    case OPT_SAVE_TRANSFORM:
        return CMD_FITTERS;
    case OPT_STD_EPS:
        return CMD_STANDARDIZE;
    case OPT_SCALE:
    case OPT_NO_SUBTRACT_MEAN:
    case OPT_USE_STD:
    case OPT_SQRT_BIAS:
    case OPT_MIN_DIVISOR:
        return CMD_GCN;
    case OPT_N_COMPONENTS:
    case OPT_FILTER_BIAS:
    case OPT_STORE_INVERSE:
        return CMD_ZCA;
    case OPT_NUM_COMPONENTS:
    case OPT_WHITEN:
        return CMD_PCA;
    case OPT_KERNEL_SIZE:
        return CMD_LCN;
    case OPT_RAW_PIXELS:
    case OPT_LABEL_NAMES:
    case OPT_HEADER:
    case OPT_NO_HEADER:
    case OPT_LABEL_COLUMN:
    case OPT_NO_LABELS:
    case OPT_DELIMITER:
    case OPT_IMPORT_X:
    case OPT_IMPORT_Y:
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
    ml_preprocess_spec fit_spec; /* the fit's settings (its seed is --seed's, set when it runs) */
    const char *fit_param; /* the last parameter of the fit given (--scale, ...) */
    int given_seed;
    const char *label_names;
    ml_idx_opts idx;
    ml_csv_opts csv;
    const char *import_x, *import_y;
    int given_header, given_no_header;
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

static int parse_nonnegative_double(const char *text, const char *opt, double *value)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !(v >= 0) || v > 1e30)
        return cli_usage_error("invalid value '%s' for '%s' (expected a number >= 0)", text, opt);
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
    int given[OPT_LAST_] = {0};
    o->csv.header = -1;
    ml_gcn_opts_default(&o->fit_spec.gcn);
    o->fit_spec.filter_bias = -1;
    opterr = 0;
    int c, index;
    while ((c = getopt_long(argc, argv, ":o:qvhV", long_options, &index)) != -1) {
        if (c == '?' || c == ':')
            return cli_option_error(c, argv);
        if (c >= 0 && c < OPT_LAST_)
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
            o->given_seed = 1;
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
            rc = parse_positive_double(optarg, "--std-eps", &o->fit_spec.std_eps);
            break;
        case OPT_SCALE:
            rc = parse_positive_double(optarg, "--scale", &o->fit_spec.gcn.scale);
            o->fit_param = "--scale";
            break;
        case OPT_NO_SUBTRACT_MEAN:
            o->fit_spec.gcn.subtract_mean = 0;
            o->fit_param = "--no-subtract-mean";
            break;
        case OPT_USE_STD:
            o->fit_spec.gcn.use_std = 1;
            o->fit_param = "--use-std";
            break;
        case OPT_SQRT_BIAS:
            rc = parse_nonnegative_double(optarg, "--sqrt-bias", &o->fit_spec.gcn.sqrt_bias);
            o->fit_param = "--sqrt-bias";
            break;
        case OPT_MIN_DIVISOR:
            rc = parse_nonnegative_double(optarg, "--min-divisor", &o->fit_spec.gcn.min_divisor);
            o->fit_param = "--min-divisor";
            break;
        case OPT_N_COMPONENTS:
        case OPT_NUM_COMPONENTS:
            rc = cli_parse_int(optarg, c == OPT_N_COMPONENTS ? "--n-components" : "--num-components",
                               1, &o->fit_spec.n_components);
            o->fit_param = c == OPT_N_COMPONENTS ? "--n-components" : "--num-components";
            break;
        case OPT_FILTER_BIAS:
            rc = parse_nonnegative_double(optarg, "--filter-bias", &o->fit_spec.filter_bias);
            o->fit_param = "--filter-bias";
            break;
        case OPT_STORE_INVERSE:
            o->fit_spec.store_inverse = 1;
            o->fit_param = "--store-inverse";
            break;
        case OPT_PATCH_SHAPE: {
            char *end = NULL;
            errno = 0;
            long long r = strtoll(optarg, &end, 10), cc = 0;
            if (end != optarg && (*end == 'x' || *end == 'X')) {
                const char *q = end + 1;
                cc = strtoll(q, &end, 10);
                if (end == q)
                    cc = 0;
            }
            if (errno || *end || r < 1 || cc < 1 || r > 1 << 20 || cc > 1 << 20)
                rc = cli_usage_error("invalid value '%s' for '--patch-shape' (expected RxC, "
                                     "e.g. 8x8)", optarg);
            o->fit_spec.patch_shape[0] = r;
            o->fit_spec.patch_shape[1] = cc;
            o->fit_param = "--patch-shape";
            break;
        }
        case OPT_NUM_PATCHES:
            rc = cli_parse_int(optarg, "--num-patches", 1, &o->fit_spec.num_patches);
            o->fit_param = "--num-patches";
            break;
        case OPT_KERNEL_SIZE:
            rc = cli_parse_int(optarg, "--kernel-size", 1, &o->fit_spec.kernel_size);
            if (!rc && o->fit_spec.kernel_size % 2 == 0)
                rc = cli_usage_error("invalid value '%s' for '--kernel-size' (expected an odd "
                                     "number)", optarg);
            o->fit_param = "--kernel-size";
            break;
        case OPT_WHITEN:
            o->fit_spec.whiten = 1;
            o->fit_param = "--whiten";
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
        case OPT_HEADER:
            o->csv.header = 1;
            o->given_header = 1;
            break;
        case OPT_NO_HEADER:
            o->csv.header = 0;
            o->given_no_header = 1;
            break;
        case OPT_LABEL_COLUMN: {
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (*optarg >= '0' && *optarg <= '9' && !*end && !errno) {
                if (v < 1)
                    rc = cli_usage_error(
                        "invalid value '%s' for '--label-column' (columns count from 1)", optarg);
                o->csv.label_column = v;
                o->csv.label_name = NULL;
            } else if (!*optarg) {
                rc = cli_usage_error("invalid value '' for '--label-column'");
            } else {
                o->csv.label_name = optarg;
                o->csv.label_column = 0;
            }
            break;
        }
        case OPT_NO_LABELS:
            o->csv.no_labels = 1;
            break;
        case OPT_DELIMITER:
            if (strcmp(optarg, "tab") == 0 || strcmp(optarg, "\\t") == 0)
                o->csv.delimiter = '\t';
            else if (strlen(optarg) == 1 && optarg[0] != '"' && optarg[0] != '\n' &&
                     optarg[0] != '\r')
                o->csv.delimiter = optarg[0];
            else
                rc = cli_usage_error(
                    "invalid value '%s' for '--delimiter' (expected one character or 'tab')",
                    optarg);
            break;
        case OPT_IMPORT_X:
            o->import_x = optarg;
            break;
        case OPT_IMPORT_Y:
            o->import_y = optarg;
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
        return cli_usage_error("missing command (import, split, shuffle, standardize, gcn, "
                               "remove-mean, zca, pca, lcn, patches, apply, pipeline or info)");
    const char *cmd = o->operands[0];
    static const struct {
        const char *name;
        int code;
        ml_preprocess_kind fits; /* for the CMD_FITTERS */
    } commands[] = {{.name = "import", .code = CMD_IMPORT},
                    {.name = "split", .code = CMD_SPLIT},
                    {.name = "shuffle", .code = CMD_SHUFFLE},
                    {.name = "standardize", .code = CMD_STANDARDIZE, .fits = ML_PREPROCESS_STANDARDIZE},
                    {.name = "gcn", .code = CMD_GCN, .fits = ML_PREPROCESS_GCN},
                    {.name = "remove-mean", .code = CMD_REMOVE_MEAN, .fits = ML_PREPROCESS_REMOVE_MEAN},
                    {.name = "zca", .code = CMD_ZCA, .fits = ML_PREPROCESS_ZCA},
                    {.name = "pca", .code = CMD_PCA, .fits = ML_PREPROCESS_PCA},
                    {.name = "lcn", .code = CMD_LCN, .fits = ML_PREPROCESS_LCN},
                    {.name = "patches", .code = CMD_PATCHES, .fits = ML_PREPROCESS_PATCHES},
                    {.name = "apply", .code = CMD_APPLY},
                    {.name = "pipeline", .code = CMD_PIPELINE},
                    {.name = "info", .code = CMD_INFO}};
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0) {
            o->command = commands[i].code;
            o->fit_spec.kind = commands[i].fits;
        }
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

/* import csv, npy, hdf5: read, check, write. */
static int import_other(const options *o, const char *format)
{
    int csv = strcmp(format, "csv") == 0, npy = strcmp(format, "npy") == 0;
    int hdf5 = !csv && !npy;
    const char *what = csv ? "FILE" : npy ? "X.npy" : "FILE";
    if (o->n_operands < 2)
        return cli_usage_error("import %s: missing %s", format, what);
    if (o->n_operands > (npy ? 3 : 2))
        return cli_usage_error("import %s: extra operand '%s'", format,
                               o->operands[npy ? 3 : 2]);
    /* options that belong to another format */
    static const struct {
        const char *name;
        int fmt; /* 1 csv, 2 npy(none), 4 hdf5, 8 idx */
    } owners[] = {{"--raw-pixels", 8}, {"--label-names", 8}, {"--header", 1},
                  {"--no-header", 1},  {"--label-column", 1}, {"--no-labels", 1},
                  {"--delimiter", 1},  {"--x", 4},           {"--y", 4}};
    int given[] = {o->idx.raw_pixels,      o->label_names != NULL, o->given_header,
                   o->given_no_header,     o->csv.label_column > 0 || o->csv.label_name,
                   o->csv.no_labels,       o->csv.delimiter != 0,  o->import_x != NULL,
                   o->import_y != NULL};
    int mine = csv ? 1 : npy ? 2 : 4;
    for (size_t i = 0; i < sizeof owners / sizeof *owners; i++)
        if (given[i] && !(owners[i].fmt & mine))
            return cli_usage_error("option '%s' does not apply to 'import %s'", owners[i].name,
                                   format);
    if (o->given_header && o->given_no_header)
        return cli_usage_error("import csv: --header and --no-header exclude each other");
    if (o->csv.no_labels && (o->csv.label_column > 0 || o->csv.label_name))
        return cli_usage_error("import csv: --no-labels and --label-column exclude each other");
    if (hdf5 && !o->import_x)
        return cli_usage_error("import hdf5: missing --x NAME");
    if (npy && o->n_operands == 3 && strcmp(o->operands[1], "-") == 0 &&
        strcmp(o->operands[2], "-") == 0)
        return cli_usage_error("import npy: X and Y cannot both be standard input");
    const char *out = NULL;
    int rc = single_output(o, &out);
    if (rc)
        return rc;
    ml_h5_file *f = NULL;
    ml_dataset *ds = NULL;
    ml_status s = ml_h5_create(out, &f);
    if (s == ML_OK) {
        if (csv)
            s = ml_csv_import(o->operands[1], &o->csv, &ds);
        else if (npy)
            s = ml_npy_import(o->operands[1], o->n_operands > 2 ? o->operands[2] : NULL, &ds);
        else
            s = ml_hdf5_import(o->operands[1], o->import_x, o->import_y, &ds);
    }
    if (s == ML_OK && !o->load.allow_nonfinite && ml_dataset_check_finite(ds) != ML_OK)
        rc = cli_error("%s (--allow-nan accepts it)", ml_last_error());
    else if (s == ML_OK && (s = ml_dataset_check_labels(ds)) == ML_OK)
        rc = write_dataset(o, f, out, ds);
    else
        rc = cli_failed();
    ml_dataset_free(ds);
    ml_h5_close(f);
    return rc;
}

static int cmd_import(const options *o)
{
    int rc = check_operands(o, 1, 3, "format (idx, csv, npy or hdf5) and IMAGES");
    if (rc && o->n_operands > 0 && strcmp(o->operands[0], "idx") != 0)
        rc = 0; /* the other formats check their own operands */
    if (rc)
        return rc;
    if (strcmp(o->operands[0], "csv") == 0 || strcmp(o->operands[0], "npy") == 0 ||
        strcmp(o->operands[0], "hdf5") == 0)
        return import_other(o, o->operands[0]);
    if (strcmp(o->operands[0], "idx") != 0)
        return cli_usage_error("import: unknown format '%s' (known: idx, csv, npy, hdf5)",
                               o->operands[0]);
    if (o->given_header || o->given_no_header || o->csv.label_column > 0 || o->csv.label_name ||
        o->csv.no_labels || o->csv.delimiter || o->import_x || o->import_y)
        return cli_usage_error("import idx: an option of 'import csv' or 'import hdf5' given");
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

/* standardize, gcn, remove-mean, zca, pca (--fit or --transform T) and apply T. */
static int cmd_transform(const options *o)
{
    int apply = o->command == CMD_APPLY;
    const char *cmd = o->command_name;
    int rc = apply ? check_operands(o, 2, 2, "T and IN") : check_operands(o, 1, 1, "IN");
    if (rc)
        return rc;
    const char *in = apply ? o->operands[1] : o->operands[0];
    const char *tpath = apply ? o->operands[0] : o->transform;
    if (!apply && o->fit == !!o->transform)
        return cli_usage_error("%s: give either --fit or --transform T", cmd);
    if (o->command == CMD_PATCHES && o->fit && (!o->fit_spec.patch_shape[0] || !o->fit_spec.num_patches))
        return cli_usage_error("patches: --fit needs %s",
                               o->fit_spec.patch_shape[0] ? "--num-patches" : "--patch-shape");
    if (o->transform && o->given_seed)
        return cli_usage_error("%s: '--seed' goes with --fit, not --transform", cmd);
    if (o->transform && (o->save_transform || o->fit_spec.std_eps > 0 || o->fit_param))
        return cli_usage_error("%s: '%s' goes with --fit, not --transform", cmd,
                               o->save_transform ? "--save-transform"
                               : o->fit_spec.std_eps > 0  ? "--std-eps"
                                                 : o->fit_param);
    const char *out = NULL;
    if ((rc = single_output(o, &out)))
        return rc;
    if (o->save_transform && strcmp(o->save_transform, "-") == 0 && strcmp(out, "-") == 0)
        return cli_usage_error("%s: the data and the transform cannot both go to standard output",
                               cmd);
    if (o->save_transform && strcmp(o->save_transform, "-") == 0 && isatty(1))
        return cli_usage_error("refusing to write binary data to a terminal");
    if (tpath && strcmp(tpath, "-") == 0 && strcmp(in, "-") == 0)
        return cli_usage_error("%s: IN and the transform cannot both be standard input", cmd);

    ml_h5_file *f = NULL, *tf = NULL;
    ml_dataset *ds = NULL;
    ml_transform *t = NULL;
    rc = 1;
    if (ml_h5_create(out, &f) != ML_OK ||
        (o->save_transform && ml_h5_create(o->save_transform, &tf) != ML_OK) ||
        (tpath && ml_transform_load(tpath, &t) != ML_OK) ||
        ml_dataset_load(in, &o->load, &ds) != ML_OK) {
        cli_failed();
        goto done;
    }
    if (t && !apply && strcmp(t->kind, cmd) != 0) {
        cli_error("%s: a %s transform, not %s (use 'ml-preprocess apply')", t->name, t->kind,
                  cmd);
        goto done;
    }
    if (o->fit) {
        char *line = ml_command_line(o->argc, o->argv);
        ml_preprocess_spec spec = o->fit_spec;
        spec.seed = o->seed;
        ml_status s = ml_preprocess_fit(ds, &spec, &t);
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
        ml_info("wrote %s: %s, %" PRId64 " features", o->save_transform, t->kind,
                t->n_features);
    report(out, ds);
    rc = 0;
done:
    ml_transform_free(t);
    ml_dataset_free(ds);
    ml_h5_close(tf);
    ml_h5_close(f);
    return rc;
}

/* pipeline T T... -o P */
static int cmd_pipeline(const options *o)
{
    int rc = check_operands(o, 1, o->n_operands > 0 ? o->n_operands : 1, "T");
    if (rc)
        return rc;
    const char *out = NULL;
    if ((rc = single_output(o, &out)))
        return rc;
    int n = o->n_operands, stdin_used = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(o->operands[i], "-") == 0 && stdin_used++)
            return cli_usage_error("pipeline: standard input can take one transform only");
    ml_transform **items = ml_calloc((size_t)n, sizeof *items), *t = NULL;
    ml_h5_file *f = NULL;
    char *line = ml_command_line(o->argc, o->argv);
    rc = 1;
    if (!items || !line) {
        cli_failed();
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (ml_transform_load(o->operands[i], &items[i]) != ML_OK) {
            cli_failed();
            goto done;
        }
    if (ml_h5_create(out, &f) != ML_OK) {
        cli_failed();
        goto done;
    }
    ml_status s = ml_transform_pipeline(items, n, &t); /* takes the items */
    for (int i = 0; i < n; i++)
        items[i] = NULL;
    for (int i = 0; s == ML_OK && i < t->n_items; i++)
        if (t->items[i]->provenance && t->items[i]->provenance[0])
            s = ml_transform_add_provenance(t, t->items[i]->provenance);
    if (s == ML_OK)
        s = ml_transform_add_provenance(t, line);
    if (s != ML_OK || ml_transform_write(f, t) != ML_OK || ml_h5_commit(f) != ML_OK) {
        cli_failed();
        goto done;
    }
    ml_info("wrote %s: pipeline of %d transforms, %" PRId64 " features in, %" PRId64 " out",
            strcmp(out, "-") == 0 ? "<stdout>" : out, n, t->n_features, t->n_outputs);
    rc = 0;
done:
    if (items)
        for (int i = 0; i < n; i++)
            ml_transform_free(items[i]);
    ml_free(items);
    ml_free(line);
    ml_transform_free(t);
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

static void print_transform(const ml_transform *t, const char *indent)
{
    printf("%stransform: %s\n", indent, t->kind);
    printf("%sfeatures: %" PRId64 "\n", indent, t->n_features);
    if (t->n_outputs != t->n_features)
        printf("%soutputs: %" PRId64 "\n", indent, t->n_outputs);
    printf("%sfitted on: %" PRId64 " examples\n", indent, t->n_examples);
    if (strcmp(t->kind, "standardize") == 0)
        printf("%sstd_eps: %g\n", indent, t->std_eps);
    if (strcmp(t->kind, "gcn") == 0)
        printf("%sscale: %g\n%ssubtract_mean: %d\n%suse_std: %d\n%ssqrt_bias: %g\n"
               "%smin_divisor: %g\n",
               indent, t->scale, indent, t->subtract_mean, indent, t->use_std, indent,
               t->sqrt_bias, indent, t->min_divisor);
    if (strcmp(t->kind, "zca") == 0)
        printf("%sn_components: %" PRId64 "\n%sfilter_bias: %g\n%sstore_inverse: %d\n", indent,
               t->n_components, indent, t->filter_bias, indent, t->store_inverse);
    if (strcmp(t->kind, "lcn") == 0)
        printf("%skernel_size: %" PRId64 "\n%simage shape: %" PRId64 " x %" PRId64 " x %" PRId64
               " (C x H x W)\n",
               indent, t->kernel_size, indent, t->image_shape[0], t->image_shape[1],
               t->image_shape[2]);
    if (strcmp(t->kind, "patches") == 0)
        printf("%spatch_shape: %" PRId64 " x %" PRId64 "\n%snum_patches: %" PRId64
               "\n%sseed: %" PRIu64 "\n%simage shape: %" PRId64 " x %" PRId64 " x %" PRId64
               " (C x H x W)\n",
               indent, t->patch_shape[0], t->patch_shape[1], indent, t->num_patches, indent,
               t->seed, indent, t->image_shape[0], t->image_shape[1], t->image_shape[2]);
    if (strcmp(t->kind, "pca") == 0)
        printf("%snum_components: %" PRId64 "\n%swhiten: %d\n", indent, t->n_components, indent,
               t->whiten);
    char label[64];
    if (t->mean) {
        snprintf(label, sizeof label, "%smean", indent);
        print_tensor_range(label, t->mean);
    }
    if (t->std) {
        snprintf(label, sizeof label, "%sstd", indent);
        print_tensor_range(label, t->std);
    }
    if (t->eigenvalues) {
        snprintf(label, sizeof label, "%seigenvalues", indent);
        print_tensor_range(label, t->eigenvalues);
    }
    for (int i = 0; i < t->n_items; i++) {
        char sub[64];
        printf("%sitem %d:\n", indent, i);
        snprintf(sub, sizeof sub, "%s  ", indent);
        print_transform(t->items[i], sub);
    }
}

static int info_transform(ml_h5_file *f)
{
    ml_transform *t = NULL;
    if (ml_transform_read(f, &t) != ML_OK)
        return cli_failed();
    printf("file: %s\n", ml_h5_file_name(f));
    print_format(f);
    print_transform(t, "");
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
        case CMD_GCN:
        case CMD_REMOVE_MEAN:
        case CMD_ZCA:
        case CMD_PCA:
        case CMD_LCN:
        case CMD_PATCHES:
        case CMD_APPLY:
            rc = cmd_transform(&o);
            break;
        case CMD_PIPELINE:
            rc = cmd_pipeline(&o);
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
