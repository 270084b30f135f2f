/* ml-showweights: draw the weights of one layer of a model as a grid of
 * image tiles in a PNG file, as Pylearn2's show_weights.py.  Parses
 * arguments, calls lib/io (h5, tile, png), reports; see ml-showweights(1). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ml.h"

#define PROG "ml-showweights"

static const char usage_text[] =
    "Usage: ml-showweights [OPTIONS] MODEL\n"
    "Draw the weights of one layer of a model as a grid of image tiles (PNG).\n"
    "\n"
    "A dense layer's W [n_in, n_out] gives one tile per unit: its column of\n"
    "weights shown as the input image (input_shape [C, H, W] of the model for the\n"
    "first layer; C = 3 in colour) or, when n_in is a perfect square, as a square\n"
    "gray image.  A convolutional layer's W [O, C, KH, KW] gives one tile per\n"
    "filter (C = 1 gray, C = 3 colour); with another C each channel is a gray tile\n"
    "of its own and each filter a row of C tiles.  MODEL may be '-' for standard\n"
    "input.  The PNG goes to -o FILE, or to standard output when it is not a\n"
    "terminal.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE      the PNG file to write ('-': standard output)\n"
    "  -l, --layer NAME       the layer to draw (default: the first with weights)\n"
    "  -c, --cols N           tiles a row (default: near-square)\n"
    "  -s, --scale MODE       'individual' (each filter on its own, default) or\n"
    "                         'global' (one scale for all)\n"
    "      --range MODE       'symmetric' (0 is mid-gray, default) or 'minmax'\n"
    "  -z, --zoom K           draw each weight as K x K pixels, 1 to 64 (default:\n"
    "                         tiles of at least 24 pixels, K at most 8)\n"
    "      --border N         pixels between the tiles, 0 to 16 (default 1)\n"
    "  -q, --quiet            print only errors\n"
    "  -v, --verbose          say what was written; twice: HDF5 errors\n"
    "  -h, --help             print this help and exit\n"
    "  -V, --version          print the version and build features and exit\n"
    "\n"
    "Exit status: 0 success, 1 a file or data error, 2 usage error.\n"
    "See ml-showweights(1) and ml-files(5).\n";

enum { OPT_RANGE = 256, OPT_BORDER };

static const struct option long_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"layer", required_argument, NULL, 'l'},
    {"cols", required_argument, NULL, 'c'},
    {"scale", required_argument, NULL, 's'},
    {"range", required_argument, NULL, OPT_RANGE},
    {"zoom", required_argument, NULL, 'z'},
    {"border", required_argument, NULL, OPT_BORDER},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *output, *layer, *model;
    ml_tile_opts tile;
    int zoom_given;
    int quiet, verbose;
} options;

/* ---- arguments ----------------------------------------------------------- */

static int parse_int(const char *text, const char *opt, long min, long max, int *value)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < min || v > max)
        return cli_usage_error("invalid value '%s' for '%s' (expected an integer from %ld to %ld)",
                               text, opt, min, max);
    *value = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->tile = ml_tile_defaults();
    opterr = 0;
    int c, index;
    while ((c = getopt_long(argc, argv, ":o:l:c:s:z:qvhV", long_options, &index)) != -1) {
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
        case 'o':
            if (!*optarg)
                return cli_usage_error("invalid value '' for '--output' (expected a file name)");
            o->output = optarg;
            break;
        case 'l':
            o->layer = optarg;
            break;
        case 'c':
            rc = parse_int(optarg, "--cols", 1, 100000, &o->tile.cols);
            break;
        case 's':
            if (strcmp(optarg, "individual") == 0)
                o->tile.scale = ML_TILE_SCALE_INDIVIDUAL;
            else if (strcmp(optarg, "global") == 0)
                o->tile.scale = ML_TILE_SCALE_GLOBAL;
            else
                return cli_usage_error("invalid value '%s' for '--scale' (expected 'individual' or "
                                       "'global')",
                                       optarg);
            break;
        case OPT_RANGE:
            if (strcmp(optarg, "symmetric") == 0)
                o->tile.range = ML_TILE_RANGE_SYMMETRIC;
            else if (strcmp(optarg, "minmax") == 0)
                o->tile.range = ML_TILE_RANGE_MINMAX;
            else
                return cli_usage_error("invalid value '%s' for '--range' (expected 'symmetric' or "
                                       "'minmax')",
                                       optarg);
            break;
        case 'z':
            rc = parse_int(optarg, "--zoom", 1, 64, &o->tile.zoom);
            o->zoom_given = 1;
            break;
        case OPT_BORDER:
            rc = parse_int(optarg, "--border", 0, 16, &o->tile.border);
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
    if (optind >= argc)
        return cli_usage_error("missing MODEL operand");
    if (optind + 1 < argc)
        return cli_usage_error("extra operand '%s'", argv[optind + 1]);
    o->model = argv[optind];
    return cli_binary_output(o->output, &o->output);
}

/* ---- the layer ------------------------------------------------------------ */

/* "h0, h1, y" for messages. */
static void join_names(char **names, char *buf, size_t size)
{
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 0; names && names[i]; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
        if (n < 0 || (size_t)n >= size - used) {
            if (size > 4)
                snprintf(buf + size - 4, 4, "...");
            return;
        }
        used += (size_t)n;
    }
}

/* Reads the chosen layer's W and lays it out as filters [N, C, H, W]. */
static int read_filters(ml_h5_file *f, const options *o, char **layer_out, ml_tensor **filters)
{
    const char *fname = ml_h5_file_name(f);
    char **layers = NULL;
    int64_t n_layers = 0;
    if (!ml_h5_attr_exists(f, "/", "layer_names"))
        return cli_error("%s: the attribute 'layer_names' is missing", fname);
    if (ml_h5_attr_read_str_array(f, "/", "layer_names", &layers, &n_layers) != ML_OK)
        return cli_failed();
    int rc = 0, index = -1;
    char path[1024], list[1024];
    if (o->layer) {
        for (int i = 0; i < n_layers; i++)
            if (strcmp(layers[i], o->layer) == 0)
                index = i;
        if (index < 0) {
            join_names(layers, list, sizeof list);
            rc = cli_error("%s: no layer '%s' (layers: %s)", fname, o->layer, list);
        } else {
            snprintf(path, sizeof path, "/params/%s/W", o->layer);
            if (ml_h5_exists(f, path) != ML_H5_DATASET)
                rc = cli_error("%s: layer '%s' has no weights (no dataset %s)", fname, o->layer,
                               path);
        }
    } else {
        for (int i = 0; i < n_layers && index < 0; i++) {
            snprintf(path, sizeof path, "/params/%s/W", layers[i]);
            if (ml_h5_exists(f, path) == ML_H5_DATASET)
                index = i;
        }
        if (index < 0)
            rc = cli_error("%s: no layer has weights (no /params/<layer>/W)", fname);
    }
    if (rc) {
        ml_h5_names_free(layers);
        return rc;
    }
    /* the model's input shape describes the first layer's inputs only */
    int64_t *in_shape = NULL, in_n = 0;
    if (index == 0 && ml_h5_attr_exists(f, "/", "input_shape") &&
        ml_h5_attr_read_i64_array(f, "/", "input_shape", &in_shape, &in_n) != ML_OK) {
        ml_h5_names_free(layers);
        return cli_failed();
    }
    ml_tensor *W = NULL;
    ml_status s = ml_h5_read_tensor(f, path, &W);
    if (s == ML_OK && W->dtype != ML_F32)
        s = ml_error(ML_EFORMAT, "%s:%s: expected float weights", fname, path);
    if (s == ML_OK && (s = ml_tile_weights(W, in_n >= 2 ? (int)in_n : 0,
                                           in_n >= 2 ? in_shape : NULL, filters)) != ML_OK)
        ml_error_prefix(s, "%s: layer '%s': ", fname, layers[index]);
    if (s == ML_OK) {
        *layer_out = ml_strdup(layers[index]);
        if (!*layer_out)
            s = ML_ENOMEM;
    }
    ml_tensor_free(W);
    ml_free(in_shape);
    ml_h5_names_free(layers);
    return s == ML_OK ? 0 : cli_failed();
}

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

    /* the output first, so a bad directory fails before any work */
    ml_atomic_file *a;
    FILE *fp;
    if (ml_atomic_open(o.output, &a, &fp) != ML_OK)
        return cli_failed();

    ml_h5_file *f = NULL;
    ml_tensor *filters = NULL;
    ml_image *img = NULL;
    char *layer = NULL;
    if (ml_h5_open(o.model, &f) != ML_OK || ml_records_check_format(f, "ml-model", 1) != ML_OK)
        rc = cli_failed();
    if (!rc)
        rc = read_filters(f, &o, &layer, &filters);
    ml_h5_close(f);
    if (!rc) {
        int64_t n = filters->shape[0], c = filters->shape[1], h = filters->shape[2],
                w = filters->shape[3];
        ml_tile_opts t = o.tile;
        int several = c != 1 && c != 3;
        if (several && t.cols == 0)
            t.cols = (int)c; /* one filter a row */
        if (!o.zoom_given) {
            int64_t side = h > w ? h : w;
            int64_t z = (24 + side - 1) / side;
            t.zoom = (int)(z < 1 ? 1 : z > 8 ? 8 : z);
            int cols, rows, iw, ih;
            /* a smaller automatic zoom when the image would be too large */
            while (t.zoom > 1 && ml_tile_geometry(n * (several ? c : 1), h, w, &t, &cols, &rows,
                                                  &iw, &ih) != ML_OK)
                t.zoom--;
            ml_error_clear();
        }
        ml_status s = ml_tile_image(ml_tensor_f32(filters), n, c, h, w, &t, &img);
        if (s == ML_OK)
            s = ml_png_write_stream(img, fp, ml_atomic_name(a));
        if (s != ML_OK) {
            rc = cli_failed();
        } else if (ml_atomic_commit(a) != ML_OK) {
            a = NULL;
            rc = cli_failed();
        } else {
            a = NULL;
            if (o.verbose && !o.quiet)
                fprintf(stderr,
                        "%s: wrote %s: layer '%s', %lld filters of %lldx%lldx%lld "
                        "(%dx%d pixels)\n",
                        PROG, strcmp(o.output, "-") ? o.output : "<stdout>", layer, (long long)n,
                        (long long)c, (long long)h, (long long)w, img->width, img->height);
        }
    }
    ml_atomic_abort(a); /* after a failure: nothing is left under the output name */
    ml_image_free(img);
    ml_tensor_free(filters);
    ml_free(layer);
    return rc;
}
