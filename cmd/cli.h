/* What every ml-* program shares: messages in one format, exit statuses,
 * option values, and the refusal to write binary data to a terminal. */
#ifndef ML_CMD_CLI_H
#define ML_CMD_CLI_H

#include <stdint.h>

#include "ml.h"

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

/* The program's name in messages; set first. */
void cli_init(const char *program, int verbosity);
const char *cli_program(void);

/* "PROG: message" and "Try 'PROG --help' ..." on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The usage error for what getopt_long returned as '?' (an unknown option) or
 * ':' (an option without its value), with opterr = 0 and ':' leading the
 * short options; returns CLI_USAGE. */
int cli_option_error(int c, char *const *argv);
/* "PROG: <the library's last message>" on stderr; returns CLI_FAILED. */
int cli_failed(void);
/* "PROG: message" on stderr; returns CLI_FAILED. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "PROG (ml) 0.1.0" and the build's features, on stdout. */
void cli_print_version(void);

/* Option values: 0 on success, else the usage error's status. */
int cli_parse_int(const char *text, const char *option, int64_t min, int64_t *value);
int cli_parse_device(const char *text, ml_device *device);
/* main() of a program that takes -s overrides and records its command line:
 * run() gets an array for up to argc + extra overrides and the command line
 * (taken before getopt reorders argv); both are freed after it returns. */
int cli_main_with_overrides(int argc, char **argv, int extra,
                            int (*run)(int argc, char **argv, const char **overrides, char *command));
/* The device from --device (if given), else ML_DEVICE, else the CPU; *chosen
 * (may be NULL) says whether --device or ML_DEVICE chose it (else a file may). */
int cli_choose_device(const char *option_value, ml_device *device, int *chosen);

/* The output of a program that writes HDF5: the -o value, or "-" when it is
 * absent and stdout is not a terminal; a usage error for a terminal. */
int cli_binary_output(const char *option_value, const char **path);

/* Checks that a file can be created at path (its folder exists and is
 * writable) before long work starts. 0, or the failure's status. */
int cli_check_writable(const char *path);

#endif
