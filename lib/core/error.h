/* Status codes and the per-thread error message.
 *
 * Every fallible library call returns an ml_status: ML_OK (0) or a negative
 * ML_E* code.  The call that fails first records a message saying what failed
 * and where (a file name, a dataset path, a tensor shape); ml_last_error()
 * returns it until the next failure on the same thread. */
#ifndef ML_CORE_ERROR_H
#define ML_CORE_ERROR_H

#include <stdio.h>
#include <stdlib.h>

typedef enum {
    ML_OK = 0,
    ML_ENOMEM = -1,   /* out of memory (host or device) */
    ML_EIO = -2,      /* a file could not be opened, read or written */
    ML_EFORMAT = -3,  /* a file is not what it should be (truncated, wrong type) */
    ML_ESHAPE = -4,   /* tensor shapes do not fit together */
    ML_EDEVICE = -5,  /* a device (CUDA, cuBLAS) call failed or is unavailable */
    ML_EINVAL = -6,   /* an argument is out of its range */
    ML_ENOTFOUND = -7,/* a named object (dataset, attribute, component) is missing */
    ML_ENUMERIC = -8, /* NaN or Inf where finite numbers are required */
    ML_EINTR = -9,    /* interrupted by a signal */
} ml_status;

const char *ml_strerror(ml_status status);

/* The message of the latest failure on this thread ("" if none). */
const char *ml_last_error(void);

/* Records a failure and returns its code, so a caller can write
 * `return ml_error(ML_EIO, "%s: cannot open: %s", path, strerror(errno));` */
ml_status ml_error(ml_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("train.h5: " + message). */
ml_status ml_error_prefix(ml_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void ml_error_clear(void);

/* Programmer errors (an internal call with a shape it can never be given) are
 * not reported through ml_status: they abort with file and line, always on. */
#define ML_ASSERT(cond)                                                             \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "libml: %s:%d: assertion failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                               \
            abort();                                                                \
        }                                                                           \
    } while (0)

#define ML_TRY(expr)                                                                \
    do {                                                                            \
        ml_status ml_try_status_ = (expr);                                          \
        if (ml_try_status_ != ML_OK)                                                \
            return ml_try_status_;                                                  \
    } while (0)

#endif
