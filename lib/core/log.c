#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

static ml_log_fn log_fn;
static void *log_user;
static ml_log_level log_max_level = ML_LOG_WARN;
static const char *log_program = "ml";

void ml_log_set(ml_log_fn fn, void *user, ml_log_level max_level)
{
    log_fn = fn;
    log_user = user;
    log_max_level = max_level;
}

static void log_stderr(ml_log_level level, const char *message, void *user)
{
    (void)user;
    const char *tag = level == ML_LOG_WARN ? "warning: " : level == ML_LOG_ERROR ? "error: " : "";
    fprintf(stderr, "%s: %s%s\n", log_program, tag, message);
}

void ml_log_to_stderr(const char *program, ml_log_level max_level)
{
    log_program = program;
    ml_log_set(log_stderr, NULL, max_level);
}

void ml_logf(ml_log_level level, const char *fmt, ...)
{
    if (!log_fn || level > log_max_level)
        return;
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    log_fn(level, message, log_user);
}
