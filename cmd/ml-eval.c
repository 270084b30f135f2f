/* ml-eval: score a trained model on a dataset, or write its predictions. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: ml-eval [OPTION]... MODEL DATA\n"
    "Score a model file on a dataset file: accuracy, misclassification, negative\n"
    "log-likelihood, precision and recall of each class, and the confusion matrix\n"
    "(rows: true class, columns: predicted class).  MODEL or DATA may be '-'.\n"
    "Data without labels can only be predicted (--predict).\n"
    "\n"
    "  -p, --predict FILE    also write the predicted class and the class\n"
    "                        probabilities of every example: HDF5 to FILE, or\n"
    "                        CSV to standard output when FILE is '-' (the report\n"
    "                        then goes to standard error)\n"
    "  -b, --batch-size N    examples per batch (default 1000)\n"
    "      --threads N       threads for matrix products (default: ML_THREADS or all)\n"
    "      --device DEV      cpu or cuda (default: ML_DEVICE or cpu)\n"
    "  -q, --quiet           print only accuracy, misclassification and NLL\n"
    "  -v, --verbose         more messages\n"
    "  -h, --help            print this help and exit\n"
    "  -V, --version         print the version and build features and exit\n"
    "\n"
    "Exit status: 0 success, 1 failure (unreadable files, model and data that\n"
    "do not fit), 2 usage error.\n";

static void print_report(FILE *out, const ml_eval_result *r, const ml_dataset *d, int quiet)
{
    fprintf(out, "examples\t%lld\n", (long long)r->n_examples);
    fprintf(out, "accuracy\t%.4f\n", 1.0 - r->misclass);
    fprintf(out, "misclass\t%.4f\n", r->misclass);
    fprintf(out, "nll\t%.4f\n", r->nll);
    if (quiet)
        return;
    fprintf(out, "\nclass\tprecision\trecall\tsupport\n");
    for (int64_t k = 0; k < r->n_classes; k++) {
        int64_t support = 0;
        for (int64_t p = 0; p < r->n_classes; p++)
            support += r->confusion[k * r->n_classes + p];
        const char *name = d->y_labels && k < d->n_y_labels ? d->y_labels[k] : NULL;
        if (name)
            fprintf(out, "%s", name);
        else
            fprintf(out, "%lld", (long long)k);
        double precision = ml_eval_precision(r, k), recall = ml_eval_recall(r, k);
        fprintf(out, isnan(precision) ? "\t-" : "\t%.4f", precision);
        fprintf(out, isnan(recall) ? "\t-" : "\t%.4f", recall);
        fprintf(out, "\t%lld\n", (long long)support);
    }
    fprintf(out, "\nconfusion (rows: true class, columns: predicted class)\n");
    for (int64_t k = 0; k < r->n_classes; k++) {
        fprintf(out, k ? "\t%lld" : "true\\pred\t%lld", (long long)k);
    }
    fprintf(out, "\n");
    for (int64_t t = 0; t < r->n_classes; t++) {
        fprintf(out, "%lld", (long long)t);
        for (int64_t p = 0; p < r->n_classes; p++)
            fprintf(out, "\t%lld", (long long)r->confusion[t * r->n_classes + p]);
        fprintf(out, "\n");
    }
}

static int write_predictions(const char *path, const ml_tensor *probs)
{
    int64_t n = probs->shape[0], k = probs->shape[1];
    const float *p = ml_tensor_f32(probs);
    if (strcmp(path, "-") == 0) {
        printf("index,predicted");
        for (int64_t c = 0; c < k; c++)
            printf(",p%lld", (long long)c);
        printf("\n");
        for (int64_t i = 0; i < n; i++) {
            int64_t best = 0;
            for (int64_t c = 1; c < k; c++)
                if (p[i * k + c] > p[i * k + best])
                    best = c;
            printf("%lld,%lld", (long long)i, (long long)best);
            for (int64_t c = 0; c < k; c++)
                printf(",%.6g", p[i * k + c]);
            printf("\n");
        }
        return fflush(stdout) == 0 ? 0 : cli_error("<stdout>: cannot write");
    }
    ml_tensor *pred = ml_tensor_new(ML_I32, 1, (int64_t[]){n}, ML_CPU);
    if (!pred)
        return cli_failed();
    for (int64_t i = 0; i < n; i++) {
        int64_t best = 0;
        for (int64_t c = 1; c < k; c++)
            if (p[i * k + c] > p[i * k + best])
                best = c;
        ml_tensor_i32(pred)[i] = (int32_t)best;
    }
    ml_h5_file *f;
    ml_status st = ml_h5_create(path, &f);
    ml_h5_write_opts opts = {.chunk_rows = ML_H5_CHUNK_AUTO};
    if (st == ML_OK) {
        st = ml_h5_write_tensor(f, "/predictions", pred, &opts);
        if (st == ML_OK)
            st = ml_h5_write_tensor(f, "/probabilities", probs, &opts);
        if (st == ML_OK)
            st = ml_h5_commit(f);
        ml_h5_close(f);
    }
    ml_tensor_free(pred);
    return st == ML_OK ? 0 : cli_failed();
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"predict", required_argument, NULL, 'p'}, {"batch-size", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'}, {"device", required_argument, NULL, 'd'},
        {"quiet", no_argument, NULL, 'q'},         {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *predict = NULL, *device_name = NULL;
    int64_t batch = 1000, threads = 0;
    int quiet = 0, verbose = 0, status, c;
    cli_init("ml-eval", 0);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:b:qvhV", long_options, NULL)) != -1) {
        switch (c) {
        case 'p': predict = optarg; break;
        case 'b':
            if ((status = cli_parse_int(optarg, "--batch-size", 1, &batch)))
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
    if (argc - optind != 2)
        return cli_usage_error(argc - optind < 2 ? "expected a model file and a dataset file"
                                                 : "too many operands: expected MODEL DATA");
    const char *model_path = argv[optind], *data_path = argv[optind + 1];
    if (strcmp(model_path, "-") == 0 && strcmp(data_path, "-") == 0)
        return cli_usage_error("only one of MODEL and DATA can be standard input");
    cli_init("ml-eval", verbose);
    ml_device device;
    if ((status = cli_choose_device(device_name, &device, NULL)))
        return status;
    if (predict && (status = cli_check_writable(predict)))
        return status;
    ml_set_threads((int)threads);
    ml_model *m = NULL;
    ml_dataset *d = NULL;
    ml_eval_result *r = NULL;
    ml_tensor *probs = NULL;
    ml_dataset_load_opts load = {.flatten = 1};
    if (ml_model_load(model_path, &m, NULL) != ML_OK || ml_dataset_load(data_path, &load, &d) != ML_OK) {
        status = cli_failed();
        goto done;
    }
    if (!d->y && !predict) {
        status = cli_error("%s: no labels y to score the model against (--predict writes predictions)", d->name);
        goto done;
    }
    /* Data without labels can still be predicted; with labels they are scored too. */
    ml_status st = d->y ? ml_evaluate(m, d, batch, device, &r, predict ? &probs : NULL)
                        : ml_predict(m, d, batch, device, &probs);
    if (st != ML_OK) {
        status = cli_failed();
        goto done;
    }
    status = predict ? write_predictions(predict, probs) : 0;
    if (status == 0 && r)
        print_report(predict && strcmp(predict, "-") == 0 ? stderr : stdout, r, d, quiet);
done:
    ml_tensor_free(probs);
    ml_eval_result_free(r);
    ml_dataset_free(d);
    ml_model_free(m);
    return status;
}
