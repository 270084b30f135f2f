#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

struct ml_atomic_file {
    FILE *stream;
    char *final_path; /* NULL for standard output */
    char *tmp_path;
    const char *name;
    int direct; /* writing straight into a FIFO or device: closed, never renamed */
};

static atomic_uint tmp_sequence;

ml_status ml_atomic_open(const char *path, ml_atomic_file **handle, FILE **stream)
{
    *handle = NULL;
    *stream = NULL;
    if (!path || !*path)
        return ml_error(ML_EINVAL, "empty output file name");
    ml_atomic_file *a = ml_calloc(1, sizeof *a);
    if (!a)
        return ML_ENOMEM;
    if (strcmp(path, "-") == 0) {
        a->stream = stdout;
        a->name = "<stdout>";
        *handle = a;
        *stream = stdout;
        return ML_OK;
    }
    struct stat st;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int exists = stat(path, &st) == 0;
    if (!*base || (exists && S_ISDIR(st.st_mode))) {
        ml_free(a);
        return ml_error(ML_EIO, "%s: cannot create: %s", path, strerror(EISDIR));
    }
    if (exists && !S_ISREG(st.st_mode)) {
        /* A FIFO or a device is written into, never replaced by a rename. */
        a->stream = fopen(path, "w");
        if (!a->stream) {
            ml_free(a);
            return ml_error(ML_EIO, "%s: cannot open: %s", path, strerror(errno));
        }
        a->name = path;
        a->direct = 1;
        *handle = a;
        *stream = a->stream;
        return ML_OK;
    }
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    size_t tmp_size = strlen(path) + 64;
    a->final_path = ml_strdup(path);
    a->tmp_path = ml_malloc(tmp_size);
    if (!a->final_path || !a->tmp_path) {
        ml_free(a->final_path);
        ml_free(a->tmp_path);
        ml_free(a);
        return ML_ENOMEM;
    }
    a->name = a->final_path;
    int fd = -1;
    for (int attempt = 0;; attempt++) {
        snprintf(a->tmp_path, tmp_size, "%.*s.%s.tmp.%ld.%u", dir_len, path, base, (long)getpid(),
                 atomic_fetch_add(&tmp_sequence, 1));
        fd = open(a->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0)
            break;
        if (errno != EEXIST || attempt == 100) {
            ml_status s = ml_error(ML_EIO, "%s: cannot create: %s", path, strerror(errno));
            ml_free(a->final_path);
            ml_free(a->tmp_path);
            ml_free(a);
            return s;
        }
    }
    a->stream = fdopen(fd, "wb");
    if (!a->stream) {
        ml_status s = ml_error(ML_EIO, "%s: cannot create: %s", path, strerror(errno));
        close(fd);
        unlink(a->tmp_path);
        ml_free(a->final_path);
        ml_free(a->tmp_path);
        ml_free(a);
        return s;
    }
    *handle = a;
    *stream = a->stream;
    return ML_OK;
}

static void release(ml_atomic_file *a)
{
    ml_free(a->final_path);
    ml_free(a->tmp_path);
    ml_free(a);
}

void ml_atomic_abort(ml_atomic_file *a)
{
    if (!a)
        return;
    if (a->final_path) {
        if (a->stream)
            fclose(a->stream);
        unlink(a->tmp_path);
    } else if (a->stream && a->direct) {
        fclose(a->stream);
    } else if (a->stream) {
        fflush(a->stream);
    }
    release(a);
}

static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* best effort: not every file system can */
        close(dfd);
    }
}

ml_status ml_atomic_commit(ml_atomic_file *a)
{
    if (!a)
        return ml_error(ML_EINVAL, "ml_atomic_commit: no file");
    if (!a->final_path) {
        int bad = fflush(a->stream) != 0 || ferror(a->stream);
        if (a->direct)
            bad |= fclose(a->stream) != 0;
        int err = errno;
        ml_status s = bad ? ml_error(ML_EIO, "%s: cannot write: %s", a->name, strerror(err)) : ML_OK;
        release(a);
        return s;
    }
    ml_status s = ML_OK;
    FILE *fp = a->stream;
    a->stream = NULL;
    if (fflush(fp) != 0 || ferror(fp)) {
        s = ml_error(ML_EIO, "%s: cannot write: %s", a->final_path, strerror(errno ? errno : EIO));
        fclose(fp);
    } else if (fsync(fileno(fp)) != 0 && errno != EINVAL && errno != EROFS) {
        s = ml_error(ML_EIO, "%s: cannot write: %s", a->final_path, strerror(errno));
        fclose(fp);
    } else if (fclose(fp) != 0) {
        s = ml_error(ML_EIO, "%s: cannot write: %s", a->final_path, strerror(errno));
    } else if (rename(a->tmp_path, a->final_path) != 0) {
        s = ml_error(ML_EIO, "%s: cannot rename '%s' into place: %s", a->final_path, a->tmp_path,
                     strerror(errno));
    } else {
        sync_dir(a->final_path);
        release(a);
        return ML_OK;
    }
    unlink(a->tmp_path);
    release(a);
    return s;
}

const char *ml_atomic_name(const ml_atomic_file *a)
{
    return a ? a->name : "";
}
