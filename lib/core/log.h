/* Logging.  The library never prints by itself: messages go to a callback that
 * a program installs (ml_log_to_stderr gives "prog: message" lines on stderr). */
#ifndef ML_CORE_LOG_H
#define ML_CORE_LOG_H

typedef enum { ML_LOG_ERROR = 0, ML_LOG_WARN, ML_LOG_INFO, ML_LOG_DEBUG } ml_log_level;

typedef void (*ml_log_fn)(ml_log_level level, const char *message, void *user);

/* Installs a callback (NULL silences the library) and the most verbose level passed to it. */
void ml_log_set(ml_log_fn fn, void *user, ml_log_level max_level);

/* Sends messages to stderr prefixed with `program: `, up to max_level. */
void ml_log_to_stderr(const char *program, ml_log_level max_level);

void ml_logf(ml_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ml_warn(...) ml_logf(ML_LOG_WARN, __VA_ARGS__)
#define ml_info(...) ml_logf(ML_LOG_INFO, __VA_ARGS__)
#define ml_debug(...) ml_logf(ML_LOG_DEBUG, __VA_ARGS__)

#endif
