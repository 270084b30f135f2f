/* ml-init: build the model of an experiment and write its initial parameters. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: ml-init [OPTION]... EXPERIMENT.yaml\n"
    "Build the model of an experiment file (a !obj:Train, or a model such as\n"
    "!obj:MLP alone) and write a model file with its initial parameters and its\n"
    "spec, ready for ml-train --model, ml-eval or ml-showweights.  When the model\n"
    "gives neither nvis nor input_space, the Train's dataset decides its input.\n"
    "\n"
    "  -s, --set KEY=VALUE   override a parameter of the experiment (repeatable)\n"
    "  -o, --output FILE     the model file ('-' or absent: standard output,\n"
    "                        unless it is a terminal)\n"
    "      --seed N          seed of the initial weights (the model's seed)\n"
    "      --device DEV      cpu or cuda: accepted for symmetry; weights are\n"
    "                        drawn on the CPU and files hold no device\n"
    "  -q, --quiet           no messages but errors\n"
    "  -v, --verbose         more messages\n"
    "  -h, --help            print this help and exit\n"
    "  -V, --version         print the version and build features and exit\n"
    "\n"
    "Exit status: 0 written, 1 failed, 2 usage error.\n";

static int run(int argc, char **argv, const char **overrides, char *command)
{
    static const struct option long_options[] = {
        {"set", required_argument, NULL, 's'},   {"output", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, 'S'},  {"device", required_argument, NULL, 'd'},
        {"quiet", no_argument, NULL, 'q'},       {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *output = NULL, *device_name = NULL;
    int n_overrides = 0, quiet = 0, verbose = 0, status, c;
    int64_t seed = -1;
    cli_init("ml-init", 0);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:o:qvhV", long_options, NULL)) != -1) {
        switch (c) {
        case 's': overrides[n_overrides++] = optarg; break;
        case 'o': output = optarg; break;
        case 'S':
            if ((status = cli_parse_int(optarg, "--seed", 0, &seed)))
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
    if (optind != argc - 1)
        return cli_usage_error(optind == argc ? "no experiment file given" : "one experiment file at a time");
    cli_init("ml-init", quiet ? -1 : verbose);
    ml_device device;
    const char *path;
    if ((status = cli_choose_device(device_name, &device, NULL)) || (status = cli_binary_output(output, &path)) ||
        (status = cli_check_writable(path)))
        return status;
    ml_experiment *e = NULL;
    if (ml_experiment_load(argv[optind], n_overrides, overrides, seed, &e) != ML_OK)
        return cli_failed();
    ml_model_meta meta = {.model_spec = e->model_spec, .experiment = e->text, .command = command};
    status = ml_model_save(path, e->model, &meta, NULL) == ML_OK ? 0 : cli_failed();
    if (status == 0 && strcmp(path, "-") != 0)
        ml_info("wrote %s", path);
    ml_experiment_free(e);
    return status;
}

int main(int argc, char **argv)
{
    return cli_main_with_overrides(argc, argv, 2, run);
}
