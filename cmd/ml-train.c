/* ml-train: run a training experiment (Pylearn2's train.py). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: ml-train [OPTION]... EXPERIMENT.yaml\n"
    "  or:  ml-train [OPTION]... --resume MODEL.h5\n"
    "Train the model of an experiment file (a !obj:Train) and save it, or go on\n"
    "training from the checkpoint a run saved.\n"
    "Monitor records go to standard output, one tab-separated line per epoch\n"
    "after a header line; progress and messages go to standard error.\n"
    "\n"
    "  -s, --set KEY=VALUE   override a parameter of the experiment, e.g.\n"
    "                        -s algorithm.learning_rate=0.05 (repeatable)\n"
    "  -o, --output FILE     save the model to FILE (overrides save_path)\n"
    "      --model FILE      start from the parameters of a model file\n"
    "      --resume FILE     go on from FILE, saved by ml-train (its experiment,\n"
    "                        parameters and training state), saving to FILE\n"
    "      --seed N          seed of the initial weights, shuffles and dropout\n"
    "      --threads N       threads for matrix products (default: ML_THREADS or all)\n"
    "      --device DEV      cpu or cuda (default: ML_DEVICE, else the experiment's\n"
    "                        device, else cpu)\n"
    "  -q, --quiet           no progress on standard error\n"
    "  -v, --verbose         more messages\n"
    "  -h, --help            print this help and exit\n"
    "  -V, --version         print the version and build features and exit\n"
    "\n"
    "Exit status: 0 trained, 1 failed, 2 usage error, 130 or 143 stopped by\n"
    "SIGINT or SIGTERM after saving.\n";

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

typedef struct {
    int quiet;
    int printed_header;
    int n_shown;
    int shown[16]; /* channels shown in progress lines */
} progress;

/* The monitor stream: a header of column names, then one line per record. */
static void print_record(const ml_monitor *mon, void *user)
{
    progress *p = user;
    int64_t r = mon->n_records - 1;
    const double *row = mon->records + r * (ML_MONITOR_FIXED_COLUMNS + mon->n_channels);
    if (!p->printed_header) {
        printf("epoch\tbatches\texamples\tseconds");
        for (int c = 0; c < mon->n_channels; c++) {
            printf("\t%s", mon->channels[c]);
            size_t len = strlen(mon->channels[c]);
            int wanted = (len > 10 && strcmp(mon->channels[c] + len - 10, "_objective") == 0) ||
                         (len > 11 && strcmp(mon->channels[c] + len - 11, "_y_misclass") == 0);
            if (wanted && p->n_shown < 16)
                p->shown[p->n_shown++] = c;
        }
        printf("\n");
        p->printed_header = 1;
    }
    printf("%.0f\t%.0f\t%.0f\t%.9g", row[0], row[1], row[2], row[3]);
    for (int c = 0; c < mon->n_channels; c++) {
        double v = row[ML_MONITOR_FIXED_COLUMNS + c];
        if (v != v)
            printf("\t");
        else
            printf("\t%.9g", v);
    }
    printf("\n");
    fflush(stdout);
    if (!p->quiet) {
        fprintf(stderr, "%s: epoch %.0f (%.1f s):", cli_program(), row[0], row[3]);
        for (int k = 0; k < p->n_shown; k++)
            fprintf(stderr, " %s %.5g", mon->channels[p->shown[k]],
                    row[ML_MONITOR_FIXED_COLUMNS + p->shown[k]]);
        fprintf(stderr, "\n");
    }
}

static int start_from(ml_model *m, const char *path)
{
    ml_h5_file *f;
    if (ml_h5_open(path, &f) != ML_OK)
        return cli_failed();
    ml_status st = ml_model_read_params(m, f);
    ml_h5_close(f);
    return st == ML_OK ? 0 : cli_failed();
}

/* The experiment a model file records, with the new overrides on top. */
static ml_status load_resumed(const char *path, int n_overrides, const char *const *overrides, int64_t seed,
                              ml_experiment **e)
{
    ml_h5_file *f;
    char *text = NULL;
    ML_TRY(ml_h5_open(path, &f));
    ml_status st = ml_h5_exists(f, "/experiment") == ML_H5_DATASET
                       ? ml_h5_read_text(f, "/experiment", &text)
                       : ml_error(ML_ENOTFOUND, "%s: no /experiment: not a model file saved by ml-train", path);
    ml_h5_close(f);
    if (st != ML_OK)
        return st;
    char name[1024];
    snprintf(name, sizeof name, "%s:/experiment", path);
    st = ml_experiment_load_text(text, name, n_overrides, overrides, seed, e);
    ml_free(text);
    return st;
}

static int run(int argc, char **argv, const char **overrides, char *command)
{
    static const struct option long_options[] = {
        {"set", required_argument, NULL, 's'},     {"output", required_argument, NULL, 'o'},
        {"model", required_argument, NULL, 'm'},   {"seed", required_argument, NULL, 'S'},
        {"resume", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'}, {"device", required_argument, NULL, 'd'},
        {"quiet", no_argument, NULL, 'q'},         {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    int n_overrides = 0, quiet = 0, verbose = 0, status;
    const char *output = NULL, *model_path = NULL, *device_name = NULL, *resume = NULL;
    int64_t threads = 0, seed = -1;
    cli_init("ml-train", 0);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":s:o:qvhV", long_options, NULL)) != -1) {
        switch (c) {
        case 's': overrides[n_overrides++] = optarg; break;
        case 'o': output = optarg; break;
        case 'm': model_path = optarg; break;
        case 'r': resume = optarg; break;
        case 'S':
            if ((status = cli_parse_int(optarg, "--seed", 0, &seed)))
                return status;
            break;
        case 't':
            if ((status = cli_parse_int(optarg, "--threads", 1, &threads)))
                return status;
            break;
        case 'd': device_name = optarg; break;
        case 'q': quiet = 1; break;
        case 'v': verbose++; break;
        case 'h': fputs(usage_text, stdout); return CLI_OK;
        case 'V': cli_print_version(); return CLI_OK;
        default: return cli_option_error(c, argv);
        }
    }
    if (resume && optind != argc)
        return cli_usage_error("--resume takes the experiment from the model file: give no experiment file");
    if (resume && model_path)
        return cli_usage_error("--resume and --model both give the parameters: use one");
    if (!resume && optind != argc - 1)
        return cli_usage_error(optind == argc ? "no experiment file given" : "one experiment file at a time");
    if (output && strcmp(output, "-") == 0)
        return cli_usage_error("standard output carries the monitor stream: give -o a file name");
    cli_init("ml-train", verbose);
    ml_device device;
    int device_chosen;
    if ((status = cli_choose_device(device_name, &device, &device_chosen)))
        return status;
    ml_set_threads((int)threads);
    ml_experiment *e = NULL;
    if ((resume ? load_resumed(resume, n_overrides, overrides, seed, &e)
                : ml_experiment_load(argv[optind], n_overrides, overrides, seed, &e)) != ML_OK) {
        status = cli_failed();
        goto done;
    }
    if (!e->train) {
        status = cli_error("%s: not a training experiment (a !obj:Train)", resume ? resume : argv[optind]);
        goto done;
    }
    if (e->train->device_given && !device_chosen)
        device = e->train->device;
    if (output || resume) {
        ml_free(e->train->save_path);
        e->train->save_path = ml_strdup(output ? output : resume);
        /* Going on means replacing the checkpoint, whatever the experiment said. */
        if (resume && !output)
            e->train->allow_overwrite = 1;
    }
    status = 0;
    if (e->train->save_path && (status = cli_check_writable(e->train->save_path)) != 0)
        goto done;
    for (int i = 0; i < e->train->n_extensions && !status; i++)
        if (e->train->extensions[i]->save_path)
            status = cli_check_writable(e->train->extensions[i]->save_path);
    if (status)
        goto done;
    if ((model_path || resume) && (status = start_from(e->model, resume ? resume : model_path)) != 0)
        goto done;
    progress p = {.quiet = quiet};
    ml_train_opts opts = {.device = device,
                          .meta = {.model_spec = e->model_spec, .experiment = e->text, .command = command},
                          .on_record = print_record,
                          .user = &p,
                          .stop = &stop_signal,
                          .resume = resume};
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* A reader of the monitor stream that exits early (| head) must not kill the
     * run before it saves: the model file holds the records too. */
    signal(SIGPIPE, SIG_IGN);
    ml_monitor *mon = NULL;
    ml_status st = ml_train_run(e->train, &opts, &mon);
    ml_monitor_free(mon);
    if (st == ML_EINTR) {
        if (!quiet)
            fprintf(stderr, "%s: stopped by signal %d%s\n", cli_program(), (int)stop_signal,
                    e->train->save_path ? ", model saved" : "");
        status = 128 + (int)stop_signal;
    } else if (st != ML_OK) {
        status = cli_failed();
    } else if (!quiet && e->train->save_path) {
        fprintf(stderr, "%s: saved %s\n", cli_program(), e->train->save_path);
    }
done:
    ml_experiment_free(e);
    return status;
}

int main(int argc, char **argv)
{
    return cli_main_with_overrides(argc, argv, 1, run);
}
