#include "core/error.h"

#include <stdarg.h>
#include <string.h>

#define ML_ERROR_MAX 1024

static _Thread_local char last_message[ML_ERROR_MAX];

const char *ml_strerror(ml_status status)
{
    switch (status) {
    case ML_OK: return "success";
    case ML_ENOMEM: return "out of memory";
    case ML_EIO: return "input/output error";
    case ML_EFORMAT: return "bad file format";
    case ML_ESHAPE: return "shape mismatch";
    case ML_EDEVICE: return "device error";
    case ML_EINVAL: return "invalid argument";
    case ML_ENOTFOUND: return "not found";
    case ML_ENUMERIC: return "non-finite value";
    case ML_EINTR: return "interrupted";
    }
    return "unknown error";
}

const char *ml_last_error(void)
{
    return last_message;
}

ml_status ml_error(ml_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return status;
}

ml_status ml_error_prefix(ml_status status, const char *fmt, ...)
{
    char prefix[ML_ERROR_MAX];
    char old[ML_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_message, sizeof old);
    size_t used = strlen(prefix);
    if (used >= sizeof last_message)
        used = sizeof last_message - 1;
    memcpy(last_message, prefix, used);
    size_t rest = strnlen(old, sizeof old);
    if (rest > sizeof last_message - 1 - used)
        rest = sizeof last_message - 1 - used;
    memcpy(last_message + used, old, rest);
    last_message[used + rest] = '\0';
    return status;
}

void ml_error_clear(void)
{
    last_message[0] = '\0';
}
