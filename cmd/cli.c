#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <H5public.h>

static const char *program = "ml";

void cli_init(const char *name, int verbosity)
{
    program = name;
    ml_log_to_stderr(name, verbosity <= 0 ? ML_LOG_WARN : verbosity == 1 ? ML_LOG_INFO : ML_LOG_DEBUG);
}

const char *cli_program(void)
{
    return program;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", program);
    va_end(ap);
    return CLI_USAGE;
}

int cli_option_error(int c, char *const *argv)
{
    const char *name = argv[optind - 1];
    if (c == ':') {
        if (strncmp(name, "--", 2) == 0)
            return cli_usage_error("option '%s' requires an argument", name);
        if (optopt && optopt < 256)
            return cli_usage_error("option '-%c' requires an argument", optopt);
        return cli_usage_error("option '%s' requires an argument", name);
    }
    int name_len = (int)(strchr(name, '=') ? strchr(name, '=') - name : (ptrdiff_t)strlen(name));
    if (strncmp(name, "--", 2) == 0)
        return optopt ? cli_usage_error("option '%.*s' does not take a value", name_len, name)
                      : cli_usage_error("unknown option '%.*s'", name_len, name);
    return cli_usage_error("unknown option '-%c'", optopt);
}

int cli_failed(void)
{
    const char *msg = ml_last_error();
    fprintf(stderr, "%s: %s\n", program, msg && *msg ? msg : "failed");
    return CLI_FAILED;
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAILED;
}

void cli_print_version(void)
{
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
#ifdef ML_WITH_CUDA
    const char *cuda = "yes";
#else
    const char *cuda = "no";
#endif
    printf("%s (ml) %s\n", program, ML_VERSION);
    printf("features: cuda=%s hdf5=%u.%u.%u zlib=%s\n", cuda, major, minor, release, zlibVersion());
}

int cli_parse_int(const char *text, const char *option, int64_t min, int64_t *value)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno || v < min)
        return cli_usage_error("invalid value '%s' for '%s' (expected an integer >= %lld)", text, option,
                               (long long)min);
    *value = v;
    return 0;
}

int cli_parse_device(const char *text, ml_device *device)
{
    if (ml_device_parse(text, device) != ML_OK)
        return cli_usage_error("%s", ml_last_error());
    return 0;
}

int cli_choose_device(const char *option_value, ml_device *device, int *chosen)
{
    *device = ML_CPU;
    const char *env = getenv("ML_DEVICE");
    if (chosen)
        *chosen = option_value || (env && *env);
    if (option_value)
        return cli_parse_device(option_value, device);
    if (env && *env && ml_device_parse(env, device) != ML_OK)
        return cli_error("ML_DEVICE: %s", ml_last_error());
    return 0;
}

int cli_binary_output(const char *option_value, const char **path)
{
    *path = option_value ? option_value : "-";
    if (strcmp(*path, "-") == 0 && isatty(STDOUT_FILENO))
        return option_value ? cli_usage_error("refusing to write binary data to a terminal")
                            : cli_usage_error("no output file given (-o) and standard output is a terminal");
    return 0;
}

int cli_check_writable(const char *path)
{
    if (strcmp(path, "-") == 0)
        return 0;
    char *copy = strdup(path);
    if (!copy)
        return cli_error("out of memory");
    const char *dir = dirname(copy);
    int ok = access(dir, W_OK) == 0;
    int err = errno;
    free(copy);
    if (!ok)
        return cli_error("%s: cannot create: %s", path, strerror(err));
    return 0;
}

int cli_main_with_overrides(int argc, char **argv, int extra,
                            int (*run)(int argc, char **argv, const char **overrides, char *command))
{
    const char **overrides = calloc((size_t)(argc + extra), sizeof *overrides);
    char *command = ml_command_line(argc, argv);
    int status = run(argc, argv, overrides, command);
    ml_free(command);
    free(overrides);
    return status;
}
