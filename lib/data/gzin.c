#include "data/gzin.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_STEP ((size_t)1 << 30) /* gzread takes an unsigned int */

const char *ml_gzin_display(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

ml_status ml_gzin_open(const char *path, unsigned buffer, ml_gzin *f)
{
    f->gz = NULL;
    f->name = ml_gzin_display(path);
    int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ml_error(ML_EIO, "%s: cannot open: %s", f->name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return ml_error(ML_EIO, "%s: cannot open: %s", f->name, strerror(EISDIR));
    }
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return ml_error(ML_ENOMEM, "%s: cannot open: out of memory", f->name);
    }
    gzbuffer(f->gz, buffer);
    return ML_OK;
}

void ml_gzin_close(ml_gzin *f)
{
    if (f->gz)
        gzclose_r(f->gz);
    f->gz = NULL;
}

ml_status ml_gzin_read(ml_gzin *f, void *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        size_t step = n - *got < READ_STEP ? n - *got : READ_STEP;
        int r = gzread(f->gz, (char *)buf + *got, (unsigned)step);
        if (r > 0) {
            *got += (size_t)r;
            continue;
        }
        int errnum = Z_OK;
        const char *msg = gzerror(f->gz, &errnum);
        if (r == 0 || errnum == Z_OK || errnum == Z_BUF_ERROR)
            return ML_OK; /* end of data (a truncated gzip stream ends here too) */
        if (errnum == Z_ERRNO)
            return ml_error(ML_EIO, "%s: cannot read: %s", f->name, strerror(errno));
        /* zlib's message starts with its own name for the stream ("<fd:3>: ") */
        const char *colon = msg ? strstr(msg, ": ") : NULL;
        return ml_error(ML_EFORMAT, "%s: damaged gzip data (%s)", f->name,
                        colon ? colon + 2
                        : msg ? msg
                              : "unknown error");
    }
    return ML_OK;
}
