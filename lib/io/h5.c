/* HDF5 files for libml: see h5.h.  Layouts are in ml-files(5) and section 7 of
 * CONVENTIONS.md (the file-image recipe for pipes). */
#include "io/h5.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/alloc.h"

#define H5_SIGNATURE    "\211HDF\r\n\032\n"
#define STREAM_CHUNK    ((size_t)1 << 20)
#define CHUNK_TARGET    ((uint64_t)1 << 20)  /* bytes of a chunk chosen automatically */
#define APPEND_TARGET   ((uint64_t)64 << 10) /* ... of an extendible dataset's chunk */
#define APPEND_MAX_ROWS 1024
#define CHUNK_LIMIT     ((uint64_t)0xffffffffu) /* HDF5: a chunk is under 4 GiB */
#define ATTR_LIMIT      64000                   /* object header limit, less headroom */

enum { MODE_READ, MODE_WRITE_PATH, MODE_WRITE_FD };

/* Integer conversions that overflow abort the read instead of clipping. */
typedef struct {
    int int_dst;
    int hit;
} conv_guard;

struct ml_h5_file {
    hid_t fid;
    int mode;
    int done; /* committed (or the commit failed): no more access */
    char *name;
    hid_t gcpl; /* groups: creation order tracked and indexed, no times */
    hid_t dxpl; /* reads: conversion overflow callback */
    conv_guard guard;
    /* MODE_WRITE_PATH */
    char *tmp_path;
    char *final_path;
    int tmp_fd;
    /* MODE_WRITE_FD */
    int out_fd;
    int owns_out_fd; /* opened here (a FIFO or device named as the output): closed at close */
    /* MODE_READ from memory: the image HDF5 reads in place */
    void *image;
    size_t image_size;
    /* ml_h5_read_rows keeps its dataset open between calls */
    char *rows_path;
    hid_t rows_dset;
};

static atomic_uint name_sequence;

/* ---- errors ------------------------------------------------------------ */

static _Thread_local int h5_errors_set;

static void h5_init(void)
{
    if (!h5_errors_set) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        h5_errors_set = 1;
    }
}

void ml_h5_print_hdf5_errors(int on)
{
    H5Eset_auto2(H5E_DEFAULT, on ? (H5E_auto2_t)H5Eprint2 : NULL, on ? stderr : NULL);
    h5_errors_set = 1;
}

typedef struct {
    int found;
    hid_t min;
    char desc[256];
} h5_walk;

static herr_t h5_walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    h5_walk *w = data;
    if (!w->found) {
        w->found = 1;
        w->min = e->min_num;
        snprintf(w->desc, sizeof w->desc, "%s", e->desc ? e->desc : "");
    }
    return 0;
}

/* The innermost reason on HDF5's error stack (call before any other HDF5 call). */
static void h5_detail(char *buf, size_t size, hid_t *min)
{
    h5_walk w;
    memset(&w, 0, sizeof w);
    buf[0] = '\0';
    if (min)
        *min = -1;
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk_cb, &w) < 0 || !w.found)
        return;
    if (min)
        *min = w.min;
    size_t n = strlen(w.desc);
    while (n && (w.desc[n - 1] == '\n' || w.desc[n - 1] == ' '))
        w.desc[--n] = '\0';
    if (n && n <= 120) {
        snprintf(buf, size, "%s", w.desc);
    } else {
        H5E_type_t type;
        if (H5Eget_msg(w.min, &type, buf, size) <= 0)
            buf[0] = '\0';
    }
}

/* "FILE:/path: attribute 'a': message (hdf5 reason)"; path and attr may be NULL;
 * h5 adds HDF5's reason, so call it right after the failed HDF5 call. */
static ml_status fail(ml_status status, const char *fname, const char *path, const char *attr,
                      int h5, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static ml_status fail(ml_status status, const char *fname, const char *path, const char *attr,
                      int h5, const char *fmt, ...)
{
    char detail[200] = "";
    char msg[512];
    char where[600];
    if (h5)
        h5_detail(detail, sizeof detail, NULL);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path)
        snprintf(where, sizeof where, "%s:%s%s: ", fname, path[0] == '/' ? "" : "/", path);
    else
        snprintf(where, sizeof where, "%s: ", fname);
    if (attr)
        return ml_error(status, "%sattribute '%s': %s%s%s%s", where, attr, msg,
                        detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
    return ml_error(status, "%s%s%s%s%s", where, msg, detail[0] ? " (" : "", detail,
                    detail[0] ? ")" : "");
}

static ml_status check_use(ml_h5_file *f, int write)
{
    h5_init();
    ML_ASSERT(f != NULL);
    if (f->done)
        return fail(ML_EINVAL, f->name, NULL, NULL, 0, "file already committed");
    if (write && f->mode == MODE_READ)
        return fail(ML_EINVAL, f->name, NULL, NULL, 0, "opened for reading, cannot write");
    return ML_OK;
}

/* ---- types ------------------------------------------------------------- */

static hid_t h5_mem_type(ml_h5_type t)
{
    switch (t) {
    case ML_H5_F32: return H5T_NATIVE_FLOAT;
    case ML_H5_F64: return H5T_NATIVE_DOUBLE;
    case ML_H5_I32: return H5T_NATIVE_INT32;
    case ML_H5_I64: return H5T_NATIVE_INT64;
    case ML_H5_U64: return H5T_NATIVE_UINT64;
    }
    return -1;
}

static hid_t h5_file_type(ml_h5_type t)
{
    switch (t) {
    case ML_H5_F32: return H5T_IEEE_F32LE;
    case ML_H5_F64: return H5T_IEEE_F64LE;
    case ML_H5_I32: return H5T_STD_I32LE;
    case ML_H5_I64: return H5T_STD_I64LE;
    case ML_H5_U64: return H5T_STD_U64LE;
    }
    return -1;
}

static size_t h5_type_size(ml_h5_type t)
{
    return (t == ML_H5_F32 || t == ML_H5_I32) ? 4 : 8;
}

static int h5_type_is_int(ml_h5_type t)
{
    return t == ML_H5_I32 || t == ML_H5_I64 || t == ML_H5_U64;
}

static const char *h5_type_name(ml_h5_type t)
{
    switch (t) {
    case ML_H5_F32: return "float32";
    case ML_H5_F64: return "float64";
    case ML_H5_I32: return "int32";
    case ML_H5_I64: return "int64";
    case ML_H5_U64: return "uint64";
    }
    return "?";
}

static ml_h5_type h5_from_dtype(ml_dtype d)
{
    return d == ML_F32 ? ML_H5_F32 : ML_H5_I32;
}

/* "float64", "uint8", "string", ... for messages. */
static void type_desc(hid_t type, char *buf, size_t size)
{
    size_t bits = 8 * H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        snprintf(buf, size, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
        return;
    case H5T_FLOAT: snprintf(buf, size, "float%zu", bits); return;
    case H5T_STRING: snprintf(buf, size, "string"); return;
    case H5T_COMPOUND: snprintf(buf, size, "compound"); return;
    case H5T_ENUM: snprintf(buf, size, "enum"); return;
    case H5T_ARRAY: snprintf(buf, size, "array"); return;
    case H5T_VLEN: snprintf(buf, size, "vlen"); return;
    case H5T_OPAQUE: snprintf(buf, size, "opaque"); return;
    case H5T_REFERENCE: snprintf(buf, size, "reference"); return;
    case H5T_BITFIELD: snprintf(buf, size, "bitfield"); return;
    case H5T_TIME: snprintf(buf, size, "time"); return;
    default: snprintf(buf, size, "unknown type"); return;
    }
}

static H5T_conv_ret_t conv_cb(H5T_conv_except_t except, hid_t src, hid_t dst, void *src_buf,
                              void *dst_buf, void *user)
{
    conv_guard *g = user;
    (void)src, (void)dst, (void)src_buf, (void)dst_buf;
    if (g->int_dst && (except == H5T_CONV_EXCEPT_RANGE_HI || except == H5T_CONV_EXCEPT_RANGE_LOW)) {
        g->hit = 1;
        return H5T_CONV_ABORT;
    }
    return H5T_CONV_UNHANDLED;
}

/* Shapes with negative entries shown as "*". */
static char *shape_text(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++) {
        if (shape[i] < 0)
            used += (size_t)snprintf(buf + used, size - used, i ? ", *" : "*");
        else
            used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld",
                                     (long long)shape[i]);
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

/* ---- file objects ------------------------------------------------------ */

static ml_h5_file *file_new(const char *name, int mode)
{
    ml_h5_file *f = ml_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->fid = -1;
    f->gcpl = -1;
    f->dxpl = -1;
    f->tmp_fd = -1;
    f->out_fd = -1;
    f->rows_dset = -1;
    f->mode = mode;
    f->name = ml_strdup(name);
    if (!f->name) {
        ml_free(f);
        return NULL;
    }
    f->gcpl = H5Pcreate(H5P_GROUP_CREATE);
    f->dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (f->gcpl < 0 || f->dxpl < 0 ||
        H5Pset_link_creation_order(f->gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
        H5Pset_obj_track_times(f->gcpl, 0) < 0 ||
        H5Pset_type_conv_cb(f->dxpl, conv_cb, &f->guard) < 0) {
        fail(ML_ENOMEM, name, NULL, NULL, 1, "cannot set up HDF5 property lists");
        ml_h5_close(f);
        return NULL;
    }
    return f;
}

static void rows_cache_drop(ml_h5_file *f)
{
    if (f->rows_dset >= 0)
        H5Dclose(f->rows_dset);
    f->rows_dset = -1;
    ml_free(f->rows_path);
    f->rows_path = NULL;
}

void ml_h5_close(ml_h5_file *f)
{
    if (!f)
        return;
    h5_init();
    rows_cache_drop(f);
    if (f->fid >= 0)
        H5Fclose(f->fid);
    if (f->tmp_fd >= 0)
        close(f->tmp_fd);
    if (f->tmp_path)
        unlink(f->tmp_path);
    if (f->owns_out_fd)
        close(f->out_fd);
    if (f->gcpl >= 0)
        H5Pclose(f->gcpl);
    if (f->dxpl >= 0)
        H5Pclose(f->dxpl);
    ml_free(f->tmp_path);
    ml_free(f->final_path);
    ml_free(f->image);
    ml_free(f->name);
    ml_free(f);
}

const char *ml_h5_file_name(const ml_h5_file *f)
{
    return f->name;
}

/* strong (files being written): closing the file closes everything in it, so a
 * commit never renames a file HDF5 still holds.  Files being read keep HDF5's
 * default, so other code in the process can open the same file. */
static hid_t access_plist(int strong)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    if (strong)
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    /* Lock as HDF5 does, but work on file systems without locks. */
    H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}

/* Offset of the HDF5 signature (0, 512, 1024, ... for a user block), -1 if none. */
static int64_t signature_in_memory(const unsigned char *buf, size_t n)
{
    for (size_t off = 0; off + 8 <= n; off = off ? 2 * off : 512)
        if (memcmp(buf + off, H5_SIGNATURE, 8) == 0)
            return (int64_t)off;
    return -1;
}

static ml_status check_signature_fd(int fd, const char *name, off_t size)
{
    unsigned char sig[8];
    if (size == 0)
        return fail(ML_EFORMAT, name, NULL, NULL, 0, "not an HDF5 file (it is empty)");
    for (off_t off = 0; off + 8 <= size; off = off ? 2 * off : 512) {
        ssize_t r = pread(fd, sig, 8, off);
        if (r < 0)
            return fail(ML_EIO, name, NULL, NULL, 0, "cannot read: %s", strerror(errno));
        if (r == 8 && memcmp(sig, H5_SIGNATURE, 8) == 0)
            return ML_OK;
    }
    return fail(ML_EFORMAT, name, NULL, NULL, 0, "not an HDF5 file");
}

static ml_status open_failed(const char *name)
{
    char detail[200];
    hid_t min;
    h5_detail(detail, sizeof detail, &min);
    if (min >= 0 && min == H5E_CANTLOCKFILE)
        return ml_error(ML_EIO, "%s: cannot open: the file is locked (%s)", name, detail);
    return ml_error(ML_EFORMAT, "%s: truncated or damaged HDF5 file%s%s%s", name,
                    detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
}

static ml_status open_stream(int fd, const char *name, ml_h5_file **out);

/* Opens the file at path (sys_path: what open() sees, name: what messages say). */
static ml_status open_path(const char *sys_path, const char *name, ml_h5_file **out)
{
    int fd = open(sys_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(ML_EIO, name, NULL, NULL, 0, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ml_status s = fail(ML_EIO, name, NULL, NULL, 0, "cannot open: %s", strerror(errno));
        close(fd);
        return s;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return fail(ML_EIO, name, NULL, NULL, 0, "cannot open: %s", strerror(EISDIR));
    }
    if (!S_ISREG(st.st_mode)) { /* a FIFO or a device: read it as a stream */
        ml_status s = open_stream(fd, name, out);
        close(fd);
        return s;
    }
    ml_status s = check_signature_fd(fd, name, st.st_size);
    close(fd);
    if (s != ML_OK)
        return s;
    ml_h5_file *f = file_new(name, MODE_READ);
    if (!f)
        return ML_ENOMEM;
    hid_t fapl = access_plist(0);
    f->fid = H5Fopen(sys_path, H5F_ACC_RDONLY, fapl);
    if (f->fid < 0)
        s = open_failed(name);
    H5Pclose(fapl);
    if (s != ML_OK) {
        ml_h5_close(f);
        return s;
    }
    *out = f;
    return ML_OK;
}

/* File-image callbacks that let HDF5 read our buffer in place (H5LTopen_file_image
 * with DONT_COPY does the same but leaks its user data in HDF5 1.10): every
 * "allocation" is the image itself, a copy onto itself is skipped, nothing is
 * freed here (ml_h5_close frees the buffer after H5Fclose), and the file is
 * read-only, so it never grows. */
static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    ml_h5_file *f = udata;
    (void)op;
    return size <= f->image_size ? f->image : NULL;
}

static void *image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
                          void *udata)
{
    (void)op, (void)udata;
    if (dest != src)
        memcpy(dest, src, size);
    return dest;
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr, (void)size, (void)op, (void)udata;
    return NULL;
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr, (void)op, (void)udata;
    return 0;
}

static void *image_udata_copy(void *udata)
{
    return udata;
}

static herr_t image_udata_free(void *udata)
{
    (void)udata;
    return 0;
}

static ml_status open_image(ml_h5_file *f)
{
    char mem_name[64];
    /* HDF5 tells open files apart by name: each image gets its own. */
    snprintf(mem_name, sizeof mem_name, "ml-h5-image-%ld-%u", (long)getpid(),
             atomic_fetch_add(&name_sequence, 1));
    H5FD_file_image_callbacks_t callbacks = {image_malloc,
                                             image_memcpy,
                                             image_realloc,
                                             image_free,
                                             image_udata_copy,
                                             image_udata_free,
                                             f};
    hid_t fid = -1, fapl = H5Pcreate(H5P_FILE_ACCESS);
    size_t increment = f->image_size > 65536 ? f->image_size : 65536;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, increment, 0) >= 0 &&
        H5Pset_file_image_callbacks(fapl, &callbacks) >= 0 &&
        H5Pset_file_image(fapl, f->image, f->image_size) >= 0)
        fid = H5Fopen(mem_name, H5F_ACC_RDONLY, fapl);
    ml_status s = ML_OK;
    if (fid < 0)
        s = open_failed(f->name); /* before H5Pclose clears HDF5's error stack */
    if (fapl >= 0)
        H5Pclose(fapl);
    f->fid = fid;
    return s;
}

/* Reads fd to its end and opens the bytes as a file image. */
static ml_status open_stream(int fd, const char *name, ml_h5_file **out)
{
    size_t cap = STREAM_CHUNK, n = 0;
    unsigned char *buf = ml_malloc(cap);
    if (!buf)
        return ML_ENOMEM;
    for (;;) {
        if (n == cap) {
            unsigned char *bigger = ml_realloc(buf, 2 * cap);
            if (!bigger) {
                ml_free(buf);
                return ML_ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ml_status s = fail(ML_EIO, name, NULL, NULL, 0, "cannot read: %s", strerror(errno));
            ml_free(buf);
            return s;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    ml_status s = ML_OK;
    if (n == 0)
        s = fail(ML_EFORMAT, name, NULL, NULL, 0, "not an HDF5 file (it is empty)");
    else if (signature_in_memory(buf, n) < 0)
        s = fail(ML_EFORMAT, name, NULL, NULL, 0, "not an HDF5 file");
    if (s != ML_OK) {
        ml_free(buf);
        return s;
    }
    ml_h5_file *f = file_new(name, MODE_READ);
    if (!f) {
        ml_free(buf);
        return ML_ENOMEM;
    }
    f->image = buf;
    f->image_size = n;
    s = open_image(f);
    if (s != ML_OK) {
        ml_h5_close(f);
        return s;
    }
    *out = f;
    return ML_OK;
}

ml_status ml_h5_open(const char *path, ml_h5_file **out)
{
    h5_init();
    *out = NULL;
    if (strcmp(path, "-") == 0)
        return ml_h5_open_fd(0, "<stdin>", out);
    return open_path(path, path, out);
}

ml_status ml_h5_open_fd(int fd, const char *display_name, ml_h5_file **out)
{
    h5_init();
    *out = NULL;
    char fallback[32], proc[64];
    snprintf(fallback, sizeof fallback, "<fd %d>", fd);
    const char *name = display_name ? display_name : fallback;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fail(ML_EIO, name, NULL, NULL, 0, "cannot read: %s", strerror(errno));
    /* A regular file read from its start is opened in place (not copied into memory). */
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) == 0 && access(proc, R_OK) == 0)
        return open_path(proc, name, out);
    return open_stream(fd, name, out);
}

static hid_t create_plist(void)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl >= 0)
        H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    return fcpl;
}

/* Temporaries of earlier writes of base in dir whose process is gone (killed
 * before its commit or its cleanup: SIGKILL, a crash) are removed, so that
 * checkpoints written again and again do not pile them up.  A temporary of a
 * process that still runs, or of another host's process id, is left. */
static void remove_stale_temporaries(const char *path, int dir_len, const char *base)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", dir_len ? dir_len : 1, dir_len ? path : ".");
    DIR *d = opendir(dir);
    if (!d)
        return;
    char prefix[1024];
    int n = snprintf(prefix, sizeof prefix, ".%s.tmp.", base);
    struct dirent *e;
    while (n > 0 && (size_t)n < sizeof prefix && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, (size_t)n) != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + n, &end, 10);
        if (end == e->d_name + n || *end != '.' || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char stale[8192];
            snprintf(stale, sizeof stale, "%.*s%s", dir_len, path, e->d_name);
            unlink(stale);
        }
    }
    closedir(d);
}

ml_status ml_h5_create(const char *path, ml_h5_file **out)
{
    h5_init();
    *out = NULL;
    if (strcmp(path, "-") == 0)
        return ml_h5_create_fd(1, "<stdout>", out);
    struct stat st;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int exists = stat(path, &st) == 0;
    if (!*base || (exists && S_ISDIR(st.st_mode)))
        return fail(ML_EIO, path, NULL, NULL, 0, "cannot create: %s", strerror(EISDIR));
    if (exists && !S_ISREG(st.st_mode)) {
        /* A FIFO or a device (/dev/stdout) is written into, never replaced by a rename. */
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return fail(ML_EIO, path, NULL, NULL, 0, "cannot open: %s", strerror(errno));
        ml_status s = ml_h5_create_fd(fd, path, out);
        if (s != ML_OK)
            close(fd);
        else
            (*out)->owns_out_fd = 1;
        return s;
    }
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    remove_stale_temporaries(path, dir_len, base);

    ml_h5_file *f = file_new(path, MODE_WRITE_PATH);
    if (!f)
        return ML_ENOMEM;
    size_t tmp_size = strlen(path) + 64;
    f->tmp_path = ml_malloc(tmp_size);
    f->final_path = ml_strdup(path);
    if (!f->tmp_path || !f->final_path) {
        ml_h5_close(f);
        return ML_ENOMEM;
    }
    /* The temporary is created here, so a missing or read-only directory fails now,
     * and with O_EXCL, so it is never someone else's file. */
    for (int attempt = 0;; attempt++) {
        snprintf(f->tmp_path, tmp_size, "%.*s.%s.tmp.%ld.%u", dir_len, path, base, (long)getpid(),
                 atomic_fetch_add(&name_sequence, 1));
        f->tmp_fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f->tmp_fd >= 0)
            break;
        if (errno != EEXIST || attempt == 100) {
            ml_status s = fail(ML_EIO, path, NULL, NULL, 0, "cannot create: %s", strerror(errno));
            ml_free(f->tmp_path);
            f->tmp_path = NULL; /* not ours: do not unlink */
            ml_h5_close(f);
            return s;
        }
    }
    hid_t fcpl = create_plist(), fapl = access_plist(1);
    f->fid = H5Fcreate(f->tmp_path, H5F_ACC_TRUNC, fcpl, fapl);
    ml_status s = ML_OK;
    if (f->fid < 0)
        s = fail(ML_EIO, path, NULL, NULL, 1, "cannot create");
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (s != ML_OK) {
        ml_h5_close(f);
        return s;
    }
    *out = f;
    return ML_OK;
}

ml_status ml_h5_create_fd(int fd, const char *display_name, ml_h5_file **out)
{
    h5_init();
    *out = NULL;
    char fallback[32], mem_name[64];
    snprintf(fallback, sizeof fallback, "<fd %d>", fd);
    ml_h5_file *f = file_new(display_name ? display_name : fallback, MODE_WRITE_FD);
    if (!f)
        return ML_ENOMEM;
    f->out_fd = fd;
    /* In memory only (no backing store); HDF5 needs a name unique among open files. */
    snprintf(mem_name, sizeof mem_name, "ml-h5-memory-%ld-%u", (long)getpid(),
             atomic_fetch_add(&name_sequence, 1));
    hid_t fcpl = create_plist(), fapl = access_plist(1);
    ml_status s = ML_OK;
    if (fapl < 0 || H5Pset_fapl_core(fapl, STREAM_CHUNK, 0) < 0) {
        s = fail(ML_EIO, f->name, NULL, NULL, 1, "cannot create");
    } else {
        f->fid = H5Fcreate(mem_name, H5F_ACC_TRUNC, fcpl, fapl);
        if (f->fid < 0)
            s = fail(ML_EIO, f->name, NULL, NULL, 1, "cannot create");
    }
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (s != ML_OK) {
        ml_h5_close(f);
        return s;
    }
    *out = f;
    return ML_OK;
}

static ml_status write_all(int fd, const char *name, const unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fail(ML_EIO, name, NULL, NULL, 0, "cannot write: %s", strerror(errno));
        buf += w;
        n -= (size_t)w;
    }
    return ML_OK;
}

static ml_status commit_path(ml_h5_file *f)
{
    herr_t r = H5Fclose(f->fid);
    f->fid = -1;
    if (r < 0)
        return fail(ML_EIO, f->name, NULL, NULL, 1, "cannot write");
    if (fsync(f->tmp_fd) != 0)
        return fail(ML_EIO, f->name, NULL, NULL, 0, "cannot write: %s", strerror(errno));
    int fd = f->tmp_fd;
    f->tmp_fd = -1;
    if (close(fd) != 0)
        return fail(ML_EIO, f->name, NULL, NULL, 0, "cannot write: %s", strerror(errno));
    if (rename(f->tmp_path, f->final_path) != 0)
        return fail(ML_EIO, f->name, NULL, NULL, 0, "cannot rename '%s' into place: %s",
                    f->tmp_path, strerror(errno));
    ml_free(f->tmp_path);
    f->tmp_path = NULL;
    /* Make the rename itself durable (best effort: not every file system can). */
    const char *slash = strrchr(f->final_path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == f->final_path ? 1 : (int)(slash - f->final_path),
                 f->final_path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return ML_OK;
}

static ml_status commit_fd(ml_h5_file *f)
{
    if (H5Fflush(f->fid, H5F_SCOPE_GLOBAL) < 0)
        return fail(ML_EIO, f->name, NULL, NULL, 1, "cannot write");
    ssize_t n = H5Fget_file_image(f->fid, NULL, 0);
    if (n < 0)
        return fail(ML_EIO, f->name, NULL, NULL, 1, "cannot write");
    unsigned char *buf = ml_malloc((size_t)n);
    if (!buf)
        return ML_ENOMEM;
    ml_status s = ML_OK;
    if (H5Fget_file_image(f->fid, buf, (size_t)n) != n)
        s = fail(ML_EIO, f->name, NULL, NULL, 1, "cannot write");
    herr_t r = H5Fclose(f->fid);
    f->fid = -1;
    if (s == ML_OK && r < 0)
        s = fail(ML_EIO, f->name, NULL, NULL, 1, "cannot write");
    if (s == ML_OK)
        s = write_all(f->out_fd, f->name, buf, (size_t)n);
    ml_free(buf);
    return s;
}

ml_status ml_h5_commit(ml_h5_file *f)
{
    ML_TRY(check_use(f, 1));
    rows_cache_drop(f);
    f->done = 1;
    ml_status s = f->mode == MODE_WRITE_PATH ? commit_path(f) : commit_fd(f);
    if (s != ML_OK && f->tmp_path) {
        if (f->tmp_fd >= 0)
            close(f->tmp_fd);
        f->tmp_fd = -1;
        unlink(f->tmp_path);
        ml_free(f->tmp_path);
        f->tmp_path = NULL;
    }
    return s;
}

/* ---- paths and groups -------------------------------------------------- */

/* 1 if path names an object (following links); 0 if not (also below a dataset);
 * a negative status, with the message set, when HDF5 cannot read the file. */
static int path_exists(ml_h5_file *f, const char *path)
{
    char *p = ml_strdup(path);
    if (!p)
        return ML_ENOMEM;
    int result = 1;
    char *s = p;
    while (result == 1) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        char *end = strchr(s, '/');
        if (end)
            *end = '\0';
        htri_t r = H5Lexists(f->fid, p, H5P_DEFAULT);
        if (r > 0)
            r = H5Oexists_by_name(f->fid, p, H5P_DEFAULT);
        if (r == 0) {
            result = 0;
        } else if (r < 0) {
            /* Either the parent is a dataset (then path is simply not there) or
             * the file is damaged.  The message is set first: HDF5's reason is
             * only on its error stack until the next call. */
            result = fail(ML_EFORMAT, f->name, path, NULL, 1, "cannot read");
            if (s > p + 1 && s[-1] == '/') {
                s[-1] = '\0';
                hid_t o = H5Oopen(f->fid, p, H5P_DEFAULT);
                if (o >= 0) {
                    if (H5Iget_type(o) != H5I_GROUP)
                        result = 0;
                    H5Oclose(o);
                }
                s[-1] = '/';
            }
        }
        if (!end)
            break;
        *end = '/';
        s = end + 1;
    }
    ml_free(p);
    return result;
}

static ml_h5_kind kind_of(ml_h5_file *f, const char *path)
{
    if (path_exists(f, path) != 1)
        return ML_H5_NONE;
    hid_t o = H5Oopen(f->fid, path, H5P_DEFAULT);
    if (o < 0)
        return ML_H5_NONE;
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    return t == H5I_GROUP ? ML_H5_GROUP : t == H5I_DATASET ? ML_H5_DATASET : ML_H5_OTHER;
}

ml_h5_kind ml_h5_exists(ml_h5_file *f, const char *path)
{
    if (check_use(f, 0) != ML_OK)
        return ML_H5_NONE;
    return kind_of(f, path);
}

/* Creates the groups on the way to path (and path itself when last is set). */
static ml_status make_groups(ml_h5_file *f, const char *path, int last)
{
    char *p = ml_strdup(path);
    if (!p)
        return ML_ENOMEM;
    ml_status s = ML_OK;
    char *c = p;
    while (s == ML_OK) {
        while (*c == '/')
            c++;
        if (!*c)
            break;
        char *end = strchr(c, '/');
        if (end) {
            /* "a/b/" ends here like "a/b" */
            char *rest = end;
            while (*rest == '/')
                rest++;
            if (!*rest)
                end = NULL;
        }
        if (!end && !last)
            break;
        if (end)
            *end = '\0';
        ml_h5_kind k = kind_of(f, p);
        if (k == ML_H5_NONE) {
            if (H5Lexists(f->fid, p, H5P_DEFAULT) > 0) {
                s = fail(ML_EINVAL, f->name, p, NULL, 0, "is a dangling link, not a group");
            } else {
                hid_t g = H5Gcreate2(f->fid, p, H5P_DEFAULT, f->gcpl, H5P_DEFAULT);
                if (g < 0)
                    s = fail(ML_EIO, f->name, p, NULL, 1, "cannot create group");
                else
                    H5Gclose(g);
            }
        } else if (k != ML_H5_GROUP) {
            s = fail(ML_EINVAL, f->name, p, NULL, 0, "exists and is not a group");
        }
        if (!end)
            break;
        *end = '/';
        c = end + 1;
    }
    ml_free(p);
    return s;
}

ml_status ml_h5_create_group(ml_h5_file *f, const char *path)
{
    ML_TRY(check_use(f, 1));
    return make_groups(f, path, 1);
}

static ml_status open_object(ml_h5_file *f, const char *path, hid_t *obj)
{
    int e = path_exists(f, path);
    if (e < 0)
        return (ml_status)e;
    if (!e)
        return fail(ML_ENOTFOUND, f->name, path, NULL, 0, "not found");
    *obj = H5Oopen(f->fid, path, H5P_DEFAULT);
    if (*obj < 0)
        return fail(ML_EFORMAT, f->name, path, NULL, 1, "cannot open");
    return ML_OK;
}

static ml_status open_dataset(ml_h5_file *f, const char *path, hid_t dapl, hid_t *dset)
{
    hid_t o = -1;
    ML_TRY(open_object(f, path, &o));
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    if (t != H5I_DATASET)
        return fail(ML_EFORMAT, f->name, path, NULL, 0, "expected a dataset, found a %s",
                    t == H5I_GROUP ? "group" : "named datatype");
    *dset = H5Dopen2(f->fid, path, dapl);
    if (*dset < 0)
        return fail(ML_EFORMAT, f->name, path, NULL, 1, "cannot open");
    return ML_OK;
}

typedef struct {
    char **names;
    int64_t n, cap;
} name_list;

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    name_list *l = data;
    (void)g, (void)info;
    if (l->n + 1 >= l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 16;
        char **bigger = ml_realloc(l->names, (size_t)cap * sizeof *bigger);
        if (!bigger)
            return -1;
        l->names = bigger;
        l->cap = cap;
    }
    char *copy = ml_strdup(name);
    if (!copy)
        return -1;
    l->names[l->n++] = copy;
    l->names[l->n] = NULL;
    return 0;
}

void ml_h5_names_free(char **names)
{
    if (!names)
        return;
    for (char **p = names; *p; p++)
        ml_free(*p);
    ml_free(names);
}

ml_status ml_h5_list(ml_h5_file *f, const char *group, ml_h5_order order, char ***names,
                     int64_t *count)
{
    *names = NULL;
    if (count)
        *count = 0;
    ML_TRY(check_use(f, 0));
    hid_t o = -1;
    ML_TRY(open_object(f, group, &o));
    if (H5Iget_type(o) != H5I_GROUP) {
        H5Oclose(o);
        return fail(ML_EFORMAT, f->name, group, NULL, 0, "expected a group, found a dataset");
    }
    H5_index_t index = H5_INDEX_NAME;
    if (order == ML_H5_ORDER_CREATION) {
        unsigned flags = 0;
        hid_t gcpl = H5Gget_create_plist(o);
        if (gcpl >= 0 && H5Pget_link_creation_order(gcpl, &flags) >= 0 &&
            (flags & H5P_CRT_ORDER_TRACKED))
            index = H5_INDEX_CRT_ORDER;
        if (gcpl >= 0)
            H5Pclose(gcpl);
    }
    name_list l = {ml_calloc(1, sizeof(char *)), 0, 1};
    if (!l.names) {
        H5Oclose(o);
        return ML_ENOMEM;
    }
    herr_t r = H5Literate(o, index, H5_ITER_INC, NULL, list_cb, &l);
    if (r < 0 && index == H5_INDEX_CRT_ORDER && l.n == 0) /* tracked but not indexed */
        r = H5Literate(o, H5_INDEX_NAME, H5_ITER_INC, NULL, list_cb, &l);
    ml_status s = ML_OK;
    if (r < 0)
        s = fail(ML_EFORMAT, f->name, group, NULL, 1, "cannot list");
    H5Oclose(o);
    if (s != ML_OK) {
        ml_h5_names_free(l.names);
        return s;
    }
    *names = l.names;
    if (count)
        *count = l.n;
    return ML_OK;
}

/* ---- datasets ---------------------------------------------------------- */

typedef struct {
    int ndim;
    int64_t shape[ML_MAX_DIMS];
    H5T_class_t cls;
    char type[32];
    int extendible;
} ds_info;

static ml_status ds_describe(ml_h5_file *f, const char *path, hid_t d, ds_info *info)
{
    ml_status s = ML_OK;
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    memset(info, 0, sizeof *info);
    if (type < 0 || space < 0) {
        s = fail(ML_EFORMAT, f->name, path, NULL, 1, "cannot read");
        goto done;
    }
    info->cls = H5Tget_class(type);
    type_desc(type, info->type, sizeof info->type);
    if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        s = fail(ML_EFORMAT, f->name, path, NULL, 0, "has a null dataspace (no shape)");
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) {
        s = fail(ML_EFORMAT, f->name, path, NULL, 1, "cannot read");
        goto done;
    }
    if (rank > ML_MAX_DIMS) {
        s = fail(ML_EFORMAT, f->name, path, NULL, 0, "has %d dimensions, at most %d are supported",
                 rank, ML_MAX_DIMS);
        goto done;
    }
    hsize_t dims[ML_MAX_DIMS], maxdims[ML_MAX_DIMS];
    H5Sget_simple_extent_dims(space, dims, maxdims);
    info->ndim = rank;
    for (int i = 0; i < rank; i++)
        info->shape[i] = (int64_t)dims[i];
    info->extendible = rank > 0 && maxdims[0] == H5S_UNLIMITED;
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return s;
}

/* Numeric class check: want_int asks for an integer class. */
static ml_status check_numeric(ml_h5_file *f, const char *path, const char *attr, H5T_class_t cls,
                               const char *type, int want_int)
{
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        return fail(ML_EFORMAT, f->name, path, attr, 0, "expected %s, found %s",
                    attr ? "a number" : "a numeric dataset", type);
    if (want_int && cls == H5T_FLOAT)
        return fail(ML_EFORMAT, f->name, path, attr, 0, "expected %s, found %s",
                    attr ? "an integer" : "an integer dataset", type);
    return ML_OK;
}

/* Reads the selection of d into buf as type (conversion overflow is ML_EFORMAT). */
static ml_status ds_read(ml_h5_file *f, const char *path, hid_t d, ml_h5_type type, hid_t mspace,
                         hid_t fspace, void *buf)
{
    f->guard.int_dst = h5_type_is_int(type);
    f->guard.hit = 0;
    if (H5Dread(d, h5_mem_type(type), mspace, fspace, f->dxpl, buf) < 0) {
        if (f->guard.hit)
            return fail(ML_EFORMAT, f->name, path, NULL, 0, "a value is outside the %s range",
                        h5_type_name(type));
        return fail(ML_EIO, f->name, path, NULL, 1, "cannot read");
    }
    return ML_OK;
}

/* Chunk dimensions of about target bytes, filled from the innermost axis
 * (rows_cap > 0: the first axis is unlimited and gets at most that many rows). */
static void auto_chunk(int ndim, const int64_t *shape, size_t elem, uint64_t target,
                       int64_t rows_cap, hsize_t *chunk)
{
    uint64_t bytes = elem;
    int i = ndim - 1;
    for (; i >= 0; i--) {
        uint64_t extent = (uint64_t)(i == 0 && rows_cap > 0 ? rows_cap : shape[i]);
        if (extent == 0)
            extent = 1;
        if (bytes * extent <= target) {
            chunk[i] = extent;
            bytes *= extent;
        } else {
            uint64_t n = target / bytes;
            chunk[i] = n ? n : 1;
            break;
        }
    }
    for (i--; i >= 0; i--)
        chunk[i] = 1;
}

static ml_status check_opts(ml_h5_file *f, const char *path, const ml_h5_write_opts *opts)
{
    if (!opts)
        return ML_OK;
    if (opts->deflate < 0 || opts->deflate > 9)
        return fail(ML_EINVAL, f->name, path, NULL, 0, "deflate level %d is not in 0..9",
                    opts->deflate);
    if (opts->chunk_rows < 0 && opts->chunk_rows != ML_H5_CHUNK_AUTO)
        return fail(ML_EINVAL, f->name, path, NULL, 0, "chunk rows %lld is not valid",
                    (long long)opts->chunk_rows);
    return ML_OK;
}

/* A new dataset at path (groups on the way created).  extendible: rows unlimited,
 * the first dimension of shape is the initial row count. */
static ml_status ds_create(ml_h5_file *f, const char *path, ml_h5_type type, int ndim,
                           const int64_t *shape, const ml_h5_write_opts *opts, int extendible,
                           hid_t *out)
{
    ML_TRY(check_opts(f, path, opts));
    if (ndim < 0 || ndim > ML_MAX_DIMS)
        return fail(ML_EINVAL, f->name, path, NULL, 0, "%d dimensions (at most %d)", ndim,
                    ML_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return fail(ML_EINVAL, f->name, path, NULL, 0, "negative size in shape");
    int e = path_exists(f, path);
    if (e < 0)
        return (ml_status)e;
    if (e)
        return fail(ML_EINVAL, f->name, path, NULL, 0, "already exists");
    ML_TRY(make_groups(f, path, 0));

    size_t elem = h5_type_size(type);
    int64_t numel = ml_shape_numel(ndim, shape);
    hsize_t dims[ML_MAX_DIMS], maxdims[ML_MAX_DIMS], chunk[ML_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        dims[i] = maxdims[i] = (hsize_t)shape[i];
    int chunked = 0;
    if (extendible) {
        maxdims[0] = H5S_UNLIMITED;
        chunked = 1;
        uint64_t row_bytes = (uint64_t)ml_shape_numel(ndim - 1, shape + 1) * elem;
        if (row_bytes > CHUNK_TARGET) {
            auto_chunk(ndim, shape, elem, CHUNK_TARGET, 1, chunk);
        } else {
            uint64_t rows = APPEND_TARGET / row_bytes;
            rows = rows < 1 ? 1 : rows > APPEND_MAX_ROWS ? APPEND_MAX_ROWS : rows;
            chunk[0] = (hsize_t)rows;
            for (int i = 1; i < ndim; i++)
                chunk[i] = (hsize_t)shape[i];
        }
    } else if (opts && (opts->chunk_rows != 0 || opts->deflate > 0) && ndim > 0 && numel > 0) {
        chunked = 1;
        auto_chunk(ndim, shape, elem, CHUNK_TARGET, 0, chunk);
        if (opts->chunk_rows > 0) {
            chunk[0] = (hsize_t)(opts->chunk_rows < shape[0] ? opts->chunk_rows : shape[0]);
            for (int i = 1; i < ndim; i++)
                chunk[i] = (hsize_t)shape[i];
        }
    }
    if (chunked) {
        uint64_t bytes = elem;
        for (int i = 0; i < ndim; i++)
            bytes *= chunk[i];
        if (bytes > CHUNK_LIMIT)
            return fail(ML_EINVAL, f->name, path, NULL, 0,
                        "a chunk of %llu bytes is too large (HDF5 chunks are under 4 GiB)",
                        (unsigned long long)bytes);
    }

    ml_status s = ML_OK;
    hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) {
        s = fail(ML_EIO, f->name, path, NULL, 1, "cannot create");
        goto done;
    }
    if (chunked) {
        if (H5Pset_chunk(dcpl, ndim, chunk) < 0) {
            s = fail(ML_EIO, f->name, path, NULL, 1, "cannot create");
            goto done;
        }
        if (opts && opts->deflate > 0 &&
            (H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, (unsigned)opts->deflate) < 0)) {
            s = fail(ML_EIO, f->name, path, NULL, 1, "cannot set up compression");
            goto done;
        }
    }
    *out = H5Dcreate2(f->fid, path, h5_file_type(type), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (*out < 0)
        s = fail(ML_EIO, f->name, path, NULL, 1, "cannot create");
done:
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return s;
}

ml_status ml_h5_write_array(ml_h5_file *f, const char *path, ml_h5_type type, int ndim,
                            const int64_t *shape, const void *data, const ml_h5_write_opts *opts)
{
    ML_TRY(check_use(f, 1));
    hid_t d = -1;
    ML_TRY(ds_create(f, path, type, ndim, shape, opts, 0, &d));
    ml_status s = ML_OK;
    if (ml_shape_numel(ndim, shape) > 0 &&
        H5Dwrite(d, h5_mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        s = fail(ML_EIO, f->name, path, NULL, 1, "cannot write");
    H5Dclose(d);
    if (s != ML_OK)
        H5Ldelete(f->fid, path, H5P_DEFAULT);
    return s;
}

/* The host copy of t (t itself when on the CPU). */
static const ml_tensor *host_tensor(const ml_tensor *t, ml_tensor **copy)
{
    *copy = NULL;
    if (t->device == ML_CPU)
        return t;
    *copy = ml_tensor_to(t, ML_CPU);
    return *copy;
}

ml_status ml_h5_write_tensor(ml_h5_file *f, const char *path, const ml_tensor *t,
                             const ml_h5_write_opts *opts)
{
    ML_TRY(check_use(f, 1));
    ml_tensor *copy;
    const ml_tensor *h = host_tensor(t, &copy);
    if (!h)
        return ml_error_prefix(ML_EDEVICE, "%s:%s%s: ", f->name, path[0] == '/' ? "" : "/", path);
    ml_status s = ml_h5_write_array(f, path, h5_from_dtype(h->dtype), h->ndim, h->shape,
                                    ml_tensor_data(h), opts);
    ml_tensor_free(copy);
    return s;
}

ml_status ml_h5_append_array(ml_h5_file *f, const char *path, ml_h5_type type, int ndim,
                             const int64_t *shape, const void *data)
{
    ML_TRY(check_use(f, 1));
    int64_t one = 1;
    if (ndim == 0) {
        ndim = 1;
        shape = &one;
    }
    if (ndim < 1 || ndim > ML_MAX_DIMS)
        return fail(ML_EINVAL, f->name, path, NULL, 0, "%d dimensions (at most %d)", ndim,
                    ML_MAX_DIMS);
    if (ml_shape_numel(ndim - 1, shape + 1) == 0)
        return fail(ML_EINVAL, f->name, path, NULL, 0, "cannot append rows with no elements");
    hid_t d = -1;
    ml_status s = ML_OK;
    int64_t old_rows = 0;
    ml_h5_kind k = kind_of(f, path);
    if (k == ML_H5_NONE) {
        int64_t empty[ML_MAX_DIMS];
        memcpy(empty, shape, (size_t)ndim * sizeof *shape);
        empty[0] = 0;
        ML_TRY(ds_create(f, path, type, ndim, empty, NULL, 1, &d));
    } else {
        ML_TRY(open_dataset(f, path, H5P_DEFAULT, &d));
        ds_info info;
        s = ds_describe(f, path, d, &info);
        char want[128], have[128];
        if (s == ML_OK &&
            (info.ndim != ndim || !ml_shape_equal(ndim - 1, info.shape + 1, ndim - 1, shape + 1)))
            s = fail(
                ML_ESHAPE, f->name, path, NULL, 0,
                "cannot append rows of %s to a dataset of rows %s",
                shape_text(ndim - 1, shape + 1, want, sizeof want),
                shape_text(info.ndim > 0 ? info.ndim - 1 : 0, info.shape + 1, have, sizeof have));
        if (s == ML_OK && !info.extendible)
            s = fail(ML_EINVAL, f->name, path, NULL, 0,
                     "cannot append: the dataset is not extendible");
        if (s == ML_OK && (info.cls != (h5_type_is_int(type) ? H5T_INTEGER : H5T_FLOAT)))
            s = fail(ML_EFORMAT, f->name, path, NULL, 0, "cannot append %s rows to a dataset of %s",
                     h5_type_name(type), info.type);
        old_rows = info.shape[0];
    }
    if (s == ML_OK && shape[0] > 0) {
        hsize_t dims[ML_MAX_DIMS], start[ML_MAX_DIMS] = {0}, count[ML_MAX_DIMS];
        for (int i = 0; i < ndim; i++)
            dims[i] = count[i] = (hsize_t)shape[i];
        dims[0] = (hsize_t)(old_rows + shape[0]);
        start[0] = (hsize_t)old_rows;
        if (H5Dset_extent(d, dims) < 0) {
            s = fail(ML_EIO, f->name, path, NULL, 1, "cannot extend");
        } else {
            hid_t fspace = H5Dget_space(d);
            hid_t mspace = H5Screate_simple(ndim, count, NULL);
            if (fspace < 0 || mspace < 0 ||
                H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
                H5Dwrite(d, h5_mem_type(type), mspace, fspace, H5P_DEFAULT, data) < 0) {
                s = fail(ML_EIO, f->name, path, NULL, 1, "cannot write");
                dims[0] = (hsize_t)old_rows;
                H5Dset_extent(d, dims);
            }
            if (fspace >= 0)
                H5Sclose(fspace);
            if (mspace >= 0)
                H5Sclose(mspace);
        }
    }
    H5Dclose(d);
    return s;
}

ml_status ml_h5_append_rows(ml_h5_file *f, const char *path, const ml_tensor *t)
{
    ML_TRY(check_use(f, 1));
    ml_tensor *copy;
    const ml_tensor *h = host_tensor(t, &copy);
    if (!h)
        return ml_error_prefix(ML_EDEVICE, "%s:%s%s: ", f->name, path[0] == '/' ? "" : "/", path);
    ml_status s =
        ml_h5_append_array(f, path, h5_from_dtype(h->dtype), h->ndim, h->shape, ml_tensor_data(h));
    ml_tensor_free(copy);
    return s;
}

ml_status ml_h5_dataset_shape(ml_h5_file *f, const char *path, int *ndim,
                              int64_t shape[ML_MAX_DIMS], ml_dtype *dtype)
{
    ML_TRY(check_use(f, 0));
    hid_t d = -1;
    ML_TRY(open_dataset(f, path, H5P_DEFAULT, &d));
    ds_info info;
    ml_status s = ds_describe(f, path, d, &info);
    H5Dclose(d);
    if (s == ML_OK && dtype) {
        s = check_numeric(f, path, NULL, info.cls, info.type, 0);
        *dtype = info.cls == H5T_INTEGER ? ML_I32 : ML_F32;
    }
    if (s != ML_OK)
        return s;
    *ndim = info.ndim;
    memcpy(shape, info.shape, sizeof info.shape);
    return ML_OK;
}

ml_status ml_h5_read_array(ml_h5_file *f, const char *path, ml_h5_type type, int *ndim,
                           int64_t shape[ML_MAX_DIMS], void **data)
{
    *data = NULL;
    ML_TRY(check_use(f, 0));
    hid_t d = -1;
    ML_TRY(open_dataset(f, path, H5P_DEFAULT, &d));
    ds_info info;
    ml_status s = ds_describe(f, path, d, &info);
    if (s == ML_OK)
        s = check_numeric(f, path, NULL, info.cls, info.type, h5_type_is_int(type));
    int64_t numel = ml_shape_numel(info.ndim, info.shape);
    void *buf = NULL;
    if (s == ML_OK && numel > 0) {
        buf = ml_malloc((size_t)numel * h5_type_size(type));
        if (!buf)
            s = ML_ENOMEM;
        else
            s = ds_read(f, path, d, type, H5S_ALL, H5S_ALL, buf);
    }
    H5Dclose(d);
    if (s != ML_OK) {
        ml_free(buf);
        return s;
    }
    *ndim = info.ndim;
    memcpy(shape, info.shape, sizeof info.shape);
    *data = buf;
    return ML_OK;
}

ml_status ml_h5_write_rng_state(ml_h5_file *f, const char *path, const uint32_t state[ML_RNG_STATE_WORDS])
{
    int64_t words[ML_RNG_STATE_WORDS];
    for (int i = 0; i < ML_RNG_STATE_WORDS; i++)
        words[i] = state[i];
    return ml_h5_write_array(f, path, ML_H5_I64, 1, (int64_t[]){ML_RNG_STATE_WORDS}, words, NULL);
}

ml_status ml_h5_read_rng_state(ml_h5_file *f, const char *path, uint32_t state[ML_RNG_STATE_WORDS])
{
    int nd = 0;
    int64_t shape[ML_MAX_DIMS];
    int64_t *words = NULL;
    ML_TRY(ml_h5_read_array(f, path, ML_H5_I64, &nd, shape, (void **)&words));
    ml_status st = nd == 1 && shape[0] == ML_RNG_STATE_WORDS
                       ? ML_OK
                       : ml_error(ML_EFORMAT, "%s:%s: expected %d words of random state", ml_h5_file_name(f), path,
                                  ML_RNG_STATE_WORDS);
    for (int i = 0; st == ML_OK && i < ML_RNG_STATE_WORDS; i++)
        state[i] = (uint32_t)words[i];
    ml_free(words);
    return st;
}

ml_status ml_h5_write_rng(ml_h5_file *f, const char *path, const ml_rng *rng)
{
    uint32_t words[ML_RNG_STATE_WORDS];
    ml_rng_get_state(rng, words);
    return ml_h5_write_rng_state(f, path, words);
}

ml_status ml_h5_read_rng(ml_h5_file *f, const char *path, ml_rng *rng)
{
    uint32_t words[ML_RNG_STATE_WORDS];
    ML_TRY(ml_h5_read_rng_state(f, path, words));
    if (ml_rng_set_state(rng, words) != ML_OK)
        return ml_error(ML_EFORMAT, "%s:%s: not a valid random state", ml_h5_file_name(f), path);
    return ML_OK;
}

/* Reads a dataset into a new tensor; expect (may be NULL) checks dtype and shape first. */
static ml_status read_tensor(ml_h5_file *f, const char *path, const ml_dtype *dtype, int ndim,
                             const int64_t *shape, ml_tensor **out)
{
    *out = NULL;
    ML_TRY(check_use(f, 0));
    hid_t d = -1;
    ML_TRY(open_dataset(f, path, H5P_DEFAULT, &d));
    ds_info info;
    ml_status s = ds_describe(f, path, d, &info);
    if (s == ML_OK && !dtype)
        s = check_numeric(f, path, NULL, info.cls, info.type, 0);
    ml_dtype have = info.cls == H5T_INTEGER ? ML_I32 : ML_F32;
    if (s == ML_OK && dtype) {
        int type_ok = (info.cls == H5T_INTEGER || info.cls == H5T_FLOAT) && have == *dtype;
        int shape_ok = info.ndim == ndim;
        for (int i = 0; shape_ok && i < ndim; i++)
            shape_ok = shape[i] < 0 || shape[i] == info.shape[i];
        if (!type_ok || !shape_ok) {
            char want[128], found[128];
            s = fail(type_ok ? ML_ESHAPE : ML_EFORMAT, f->name, path, NULL, 0,
                     "expected %s %s, found %s%s%s", ml_dtype_name(*dtype),
                     shape_text(ndim, shape, want, sizeof want), type_ok ? "" : info.type,
                     type_ok ? "" : " ", shape_text(info.ndim, info.shape, found, sizeof found));
        }
    }
    ml_tensor *t = NULL;
    if (s == ML_OK) {
        t = ml_tensor_new(have, info.ndim, info.shape, ML_CPU);
        if (!t)
            s = ML_ENOMEM;
        else if (ml_tensor_numel(t) > 0)
            s = ds_read(f, path, d, h5_from_dtype(have), H5S_ALL, H5S_ALL, ml_tensor_data(t));
    }
    H5Dclose(d);
    if (s != ML_OK) {
        ml_tensor_free(t);
        return s;
    }
    *out = t;
    return ML_OK;
}

ml_status ml_h5_read_tensor(ml_h5_file *f, const char *path, ml_tensor **out)
{
    return read_tensor(f, path, NULL, 0, NULL, out);
}

ml_status ml_h5_read_tensor_expect(ml_h5_file *f, const char *path, ml_dtype dtype, int ndim,
                                   const int64_t *shape, ml_tensor **out)
{
    return read_tensor(f, path, &dtype, ndim, shape, out);
}

ml_status ml_h5_read_tensor_into(ml_h5_file *f, const char *path, ml_tensor *dst)
{
    ml_tensor *read = NULL;
    ML_TRY(ml_h5_read_tensor_expect(f, path, dst->dtype, dst->ndim, dst->shape, &read));
    ml_status st = ml_tensor_copy(dst, read);
    ml_tensor_free(read);
    return st;
}

/* The dataset ml_h5_read_rows reads, kept open with a chunk cache that holds
 * at least two of its chunks (so a batch across a chunk boundary reads each once). */
static ml_status rows_dataset(ml_h5_file *f, const char *path, hid_t *d)
{
    if (f->rows_path && strcmp(f->rows_path, path) == 0) {
        *d = f->rows_dset;
        return ML_OK;
    }
    rows_cache_drop(f);
    hid_t probe = -1;
    ML_TRY(open_dataset(f, path, H5P_DEFAULT, &probe));
    size_t cache = 1 << 20;
    hid_t dcpl = H5Dget_create_plist(probe), type = H5Dget_type(probe);
    if (dcpl >= 0 && type >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t chunk[H5S_MAX_RANK];
        int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk);
        size_t bytes = H5Tget_size(type);
        for (int i = 0; i < rank; i++)
            bytes *= (size_t)chunk[i];
        if (2 * bytes > cache)
            cache = 2 * bytes < ((size_t)1 << 30) ? 2 * bytes : ((size_t)1 << 30);
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (type >= 0)
        H5Tclose(type);
    H5Dclose(probe);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0)
        H5Pset_chunk_cache(dapl, 12421, cache, 1.0);
    ml_status s = open_dataset(f, path, dapl >= 0 ? dapl : H5P_DEFAULT, d);
    if (dapl >= 0)
        H5Pclose(dapl);
    if (s != ML_OK)
        return s;
    f->rows_path = ml_strdup(path);
    if (!f->rows_path) {
        H5Dclose(*d);
        return ML_ENOMEM;
    }
    f->rows_dset = *d;
    return ML_OK;
}

ml_status ml_h5_read_rows(ml_h5_file *f, const char *path, int64_t start, int64_t count,
                          ml_tensor *into)
{
    ML_TRY(check_use(f, 0));
    hid_t d = -1;
    ML_TRY(rows_dataset(f, path, &d));
    ds_info info;
    ML_TRY(ds_describe(f, path, d, &info));
    if (info.ndim < 1)
        return fail(ML_EINVAL, f->name, path, NULL, 0, "a scalar dataset has no rows");
    if (start < 0 || count < 0 || start > info.shape[0] || count > info.shape[0] - start)
        return fail(ML_EINVAL, f->name, path, NULL, 0,
                    "rows [%lld, %lld) are outside a dataset of %lld rows", (long long)start,
                    (long long)(start + count), (long long)info.shape[0]);
    int64_t row = ml_shape_numel(info.ndim - 1, info.shape + 1);
    if (into->ndim < 1 || into->shape[0] != count || ml_tensor_numel(into) != count * row) {
        char a[128], b[128];
        return fail(ML_ESHAPE, f->name, path, NULL, 0,
                    "cannot read %lld rows of %s into a tensor of shape %s", (long long)count,
                    shape_text(info.ndim - 1, info.shape + 1, a, sizeof a),
                    shape_text(into->ndim, into->shape, b, sizeof b));
    }
    ML_TRY(check_numeric(f, path, NULL, info.cls, info.type, into->dtype == ML_I32));
    if (count == 0 || row == 0)
        return ML_OK;
    ml_tensor *host = into;
    if (into->device != ML_CPU) {
        host = ml_tensor_new(into->dtype, into->ndim, into->shape, ML_CPU);
        if (!host)
            return ML_ENOMEM;
    }
    hsize_t fstart[ML_MAX_DIMS] = {0}, fcount[ML_MAX_DIMS];
    for (int i = 0; i < info.ndim; i++)
        fcount[i] = (hsize_t)info.shape[i];
    fstart[0] = (hsize_t)start;
    fcount[0] = (hsize_t)count;
    ml_status s = ML_OK;
    /* The memory space has the file's rank: with a 1-D one, HDF5 falls back to
     * converting element by element (70 times slower for 60000 images). */
    hid_t fspace = H5Dget_space(d), mspace = H5Screate_simple(info.ndim, fcount, NULL);
    if (fspace < 0 || mspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, fstart, NULL, fcount, NULL) < 0)
        s = fail(ML_EIO, f->name, path, NULL, 1, "cannot read");
    else
        s = ds_read(f, path, d, h5_from_dtype(into->dtype), mspace, fspace, ml_tensor_data(host));
    if (fspace >= 0)
        H5Sclose(fspace);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (host != into) {
        if (s == ML_OK)
            s = ml_tensor_copy(into, host);
        ml_tensor_free(host);
    }
    return s;
}

/* ---- strings ----------------------------------------------------------- */

static hid_t vlen_utf8(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static void vlen_free(hid_t type, hid_t space, void *buf)
{
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

/* Reads the strings of an attribute (is_attr) or dataset id into a NULL-terminated array. */
static ml_status read_strings(ml_h5_file *f, const char *path, const char *attr, hid_t id,
                              int is_attr, char ***out, int64_t *count)
{
    *out = NULL;
    ml_status s = ML_OK;
    hid_t ftype = is_attr ? H5Aget_type(id) : H5Dget_type(id);
    hid_t space = is_attr ? H5Aget_space(id) : H5Dget_space(id);
    hid_t mtype = -1;
    char **list = NULL;
    void *raw = NULL;
    hssize_t n = 0;
    if (ftype < 0 || space < 0) {
        s = fail(ML_EFORMAT, f->name, path, attr, 1, "cannot read");
        goto done;
    }
    if (H5Tget_class(ftype) != H5T_STRING) {
        char desc[32];
        type_desc(ftype, desc, sizeof desc);
        s = fail(ML_EFORMAT, f->name, path, attr, 0, "expected %s, found %s",
                 attr ? "a string" : "a string dataset", desc);
        goto done;
    }
    n = H5Sget_simple_extent_npoints(space);
    if (n < 0) {
        s = fail(ML_EFORMAT, f->name, path, attr, 1, "cannot read");
        goto done;
    }
    list = ml_calloc((size_t)n + 1, sizeof *list);
    if (!list) {
        s = ML_ENOMEM;
        goto done;
    }
    if (n == 0)
        goto done;
    int variable = H5Tis_variable_str(ftype) > 0;
    size_t size = H5Tget_size(ftype);
    if (variable) {
        mtype = H5Tcopy(H5T_C_S1);
        if (mtype >= 0 &&
            (H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0)) {
            H5Tclose(mtype);
            mtype = -1;
        }
        raw = ml_calloc((size_t)n, sizeof(char *));
    } else {
        mtype = H5Tcopy(ftype);
        raw = ml_calloc((size_t)n, size);
    }
    if (!raw) {
        s = ML_ENOMEM;
        goto done;
    }
    herr_t r = mtype < 0 ? -1
               : is_attr ? H5Aread(id, mtype, raw)
                         : H5Dread(id, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
    if (r < 0) {
        s = fail(ML_EIO, f->name, path, attr, 1, "cannot read");
        goto done;
    }
    int spacepad = !variable && H5Tget_strpad(ftype) == H5T_STR_SPACEPAD;
    for (hssize_t i = 0; i < n && s == ML_OK; i++) {
        const char *src = variable ? ((char **)raw)[i] : (char *)raw + (size_t)i * size;
        size_t len = !src ? 0 : variable ? strlen(src) : strnlen(src, size);
        while (spacepad && len && src[len - 1] == ' ')
            len--;
        list[i] = ml_malloc(len + 1);
        if (!list[i]) {
            s = ML_ENOMEM;
            break;
        }
        if (len)
            memcpy(list[i], src, len);
        list[i][len] = '\0';
    }
    if (variable)
        vlen_free(mtype, space, raw);
done:
    ml_free(raw);
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    if (s != ML_OK) {
        ml_h5_names_free(list);
        return s;
    }
    *out = list;
    if (count)
        *count = (int64_t)n;
    return ML_OK;
}

/* The one string of a string list (taking it out of the list). */
static ml_status single_string(ml_h5_file *f, const char *path, const char *attr, char **list,
                               int64_t n, char **out)
{
    if (n != 1) {
        ml_h5_names_free(list);
        return fail(ML_EFORMAT, f->name, path, attr, 0, "expected one string, found %lld",
                    (long long)n);
    }
    *out = list[0];
    ml_free(list);
    return ML_OK;
}

ml_status ml_h5_write_text(ml_h5_file *f, const char *path, const char *text)
{
    ML_TRY(check_use(f, 1));
    int e = path_exists(f, path);
    if (e < 0)
        return (ml_status)e;
    if (e)
        return fail(ML_EINVAL, f->name, path, NULL, 0, "already exists");
    ML_TRY(make_groups(f, path, 0));
    ml_status s = ML_OK;
    hid_t type = vlen_utf8(), space = H5Screate(H5S_SCALAR), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = -1;
    if (type < 0 || space < 0 || dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) {
        s = fail(ML_EIO, f->name, path, NULL, 1, "cannot create");
    } else {
        d = H5Dcreate2(f->fid, path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (d < 0) {
            s = fail(ML_EIO, f->name, path, NULL, 1, "cannot create");
        } else if (H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0) {
            s = fail(ML_EIO, f->name, path, NULL, 1, "cannot write");
        }
    }
    if (d >= 0)
        H5Dclose(d);
    if (s != ML_OK && d >= 0)
        H5Ldelete(f->fid, path, H5P_DEFAULT);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return s;
}

ml_status ml_h5_read_text(ml_h5_file *f, const char *path, char **text)
{
    *text = NULL;
    ML_TRY(check_use(f, 0));
    hid_t d = -1;
    ML_TRY(open_dataset(f, path, H5P_DEFAULT, &d));
    char **list;
    int64_t n = 0;
    ml_status s = read_strings(f, path, NULL, d, 0, &list, &n);
    H5Dclose(d);
    if (s != ML_OK)
        return s;
    return single_string(f, path, NULL, list, n, text);
}

/* ---- attributes -------------------------------------------------------- */

int ml_h5_attr_exists(ml_h5_file *f, const char *obj, const char *name)
{
    if (check_use(f, 0) != ML_OK || path_exists(f, obj) != 1)
        return 0;
    return H5Aexists_by_name(f->fid, obj, name, H5P_DEFAULT) > 0;
}

static ml_status attr_write(ml_h5_file *f, const char *obj, const char *name, hid_t ftype,
                            hid_t mtype, hid_t space, const void *buf, size_t bytes)
{
    ML_TRY(check_use(f, 1));
    if (bytes > ATTR_LIMIT)
        return fail(ML_EINVAL, f->name, obj, name, 0,
                    "%zu bytes is too large for an attribute (at most %d; use a dataset)", bytes,
                    ATTR_LIMIT);
    hid_t o = -1;
    ML_TRY(open_object(f, obj, &o));
    ml_status s = ML_OK;
    hid_t a = -1;
    htri_t e = H5Aexists(o, name);
    if (e < 0 || (e > 0 && H5Adelete(o, name) < 0)) {
        s = fail(ML_EIO, f->name, obj, name, 1, "cannot replace");
        goto done;
    }
    a = H5Acreate2(o, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) {
        s = fail(ML_EIO, f->name, obj, name, 1, "cannot create");
        goto done;
    }
    if (H5Sget_simple_extent_type(space) != H5S_NULL && H5Awrite(a, mtype, buf) < 0)
        s = fail(ML_EIO, f->name, obj, name, 1, "cannot write");
done:
    if (a >= 0)
        H5Aclose(a);
    if (s != ML_OK && a >= 0)
        H5Adelete(o, name);
    H5Oclose(o);
    return s;
}

static hid_t array_space(int64_t n, int scalar)
{
    if (scalar)
        return H5Screate(H5S_SCALAR);
    hsize_t dim = (hsize_t)n;
    return n == 0 ? H5Screate(H5S_NULL) : H5Screate_simple(1, &dim, NULL);
}

static ml_status attr_write_numbers(ml_h5_file *f, const char *obj, const char *name,
                                    ml_h5_type type, const void *values, int64_t n, int scalar)
{
    if (n < 0)
        return fail(ML_EINVAL, f->name, obj, name, 0, "negative length");
    hid_t space = array_space(n, scalar);
    ml_status s = attr_write(f, obj, name, h5_file_type(type), h5_mem_type(type), space, values,
                             (size_t)n * h5_type_size(type));
    H5Sclose(space);
    return s;
}

static ml_status attr_write_strings(ml_h5_file *f, const char *obj, const char *name,
                                    const char *const *values, int64_t n, int scalar)
{
    if (n < 0)
        return fail(ML_EINVAL, f->name, obj, name, 0, "negative length");
    size_t bytes = 0;
    for (int64_t i = 0; i < n; i++)
        bytes += strlen(values[i]) + 16;
    hid_t type = vlen_utf8(), space = array_space(n, scalar);
    ml_status s = attr_write(f, obj, name, type, type, space, values, bytes);
    H5Tclose(type);
    H5Sclose(space);
    return s;
}

ml_status ml_h5_attr_write_str(ml_h5_file *f, const char *obj, const char *name, const char *value)
{
    return attr_write_strings(f, obj, name, &value, 1, 1);
}

ml_status ml_h5_attr_write_i64(ml_h5_file *f, const char *obj, const char *name, int64_t value)
{
    return attr_write_numbers(f, obj, name, ML_H5_I64, &value, 1, 1);
}

ml_status ml_h5_attr_write_f64(ml_h5_file *f, const char *obj, const char *name, double value)
{
    return attr_write_numbers(f, obj, name, ML_H5_F64, &value, 1, 1);
}

ml_status ml_h5_attr_write_str_array(ml_h5_file *f, const char *obj, const char *name,
                                     const char *const *values, int64_t n)
{
    return attr_write_strings(f, obj, name, values, n, 0);
}

ml_status ml_h5_attr_write_i64_array(ml_h5_file *f, const char *obj, const char *name,
                                     const int64_t *values, int64_t n)
{
    return attr_write_numbers(f, obj, name, ML_H5_I64, values, n, 0);
}

ml_status ml_h5_attr_write_f64_array(ml_h5_file *f, const char *obj, const char *name,
                                     const double *values, int64_t n)
{
    return attr_write_numbers(f, obj, name, ML_H5_F64, values, n, 0);
}

static ml_status attr_open(ml_h5_file *f, const char *obj, const char *name, hid_t *a)
{
    ML_TRY(check_use(f, 0));
    hid_t o = -1;
    ML_TRY(open_object(f, obj, &o));
    ml_status s = ML_OK;
    htri_t e = H5Aexists(o, name);
    if (e <= 0) {
        s = e < 0 ? fail(ML_EFORMAT, f->name, obj, name, 1, "cannot open")
                  : fail(ML_ENOTFOUND, f->name, obj, name, 0, "not found");
    } else {
        *a = H5Aopen(o, name, H5P_DEFAULT);
        if (*a < 0)
            s = fail(ML_EFORMAT, f->name, obj, name, 1, "cannot open");
    }
    H5Oclose(o);
    return s;
}

/* Reads a numeric attribute as type: a scalar (exactly one value) into *scalar_out,
 * or an array into a new buffer *array_out. */
static ml_status attr_read_numbers(ml_h5_file *f, const char *obj, const char *name,
                                   ml_h5_type type, void *scalar_out, void **array_out,
                                   int64_t *count)
{
    if (array_out)
        *array_out = NULL;
    if (count)
        *count = 0;
    hid_t a = -1;
    ML_TRY(attr_open(f, obj, name, &a));
    ml_status s = ML_OK;
    void *buf = NULL;
    hid_t ftype = H5Aget_type(a), space = H5Aget_space(a);
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (ftype < 0 || n < 0) {
        s = fail(ML_EFORMAT, f->name, obj, name, 1, "cannot read");
        goto done;
    }
    char desc[32];
    type_desc(ftype, desc, sizeof desc);
    s = check_numeric(f, obj, name, H5Tget_class(ftype), desc, h5_type_is_int(type));
    if (s != ML_OK)
        goto done;
    if (scalar_out && n != 1) {
        s = fail(ML_EFORMAT, f->name, obj, name, 0, "expected one value, found %lld", (long long)n);
        goto done;
    }
    if (n > 0) {
        buf = scalar_out ? scalar_out : ml_malloc((size_t)n * h5_type_size(type));
        if (!buf) {
            s = ML_ENOMEM;
            goto done;
        }
        if (H5Aread(a, h5_mem_type(type), buf) < 0) {
            s = fail(ML_EIO, f->name, obj, name, 1, "cannot read");
            goto done;
        }
    }
    if (array_out) {
        *array_out = buf;
        buf = NULL;
    }
    if (count)
        *count = (int64_t)n;
done:
    if (buf != scalar_out)
        ml_free(buf);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(a);
    return s;
}

ml_status ml_h5_attr_read_i64(ml_h5_file *f, const char *obj, const char *name, int64_t *value)
{
    return attr_read_numbers(f, obj, name, ML_H5_I64, value, NULL, NULL);
}

ml_status ml_h5_attr_read_f64(ml_h5_file *f, const char *obj, const char *name, double *value)
{
    return attr_read_numbers(f, obj, name, ML_H5_F64, value, NULL, NULL);
}

ml_status ml_h5_attr_read_i64_array(ml_h5_file *f, const char *obj, const char *name,
                                    int64_t **values, int64_t *n)
{
    return attr_read_numbers(f, obj, name, ML_H5_I64, NULL, (void **)values, n);
}

ml_status ml_h5_attr_read_f64_array(ml_h5_file *f, const char *obj, const char *name,
                                    double **values, int64_t *n)
{
    return attr_read_numbers(f, obj, name, ML_H5_F64, NULL, (void **)values, n);
}

ml_status ml_h5_attr_read_str_array(ml_h5_file *f, const char *obj, const char *name,
                                    char ***values, int64_t *n)
{
    *values = NULL;
    hid_t a = -1;
    ML_TRY(attr_open(f, obj, name, &a));
    ml_status s = read_strings(f, obj, name, a, 1, values, n);
    H5Aclose(a);
    return s;
}

ml_status ml_h5_attr_read_str(ml_h5_file *f, const char *obj, const char *name, char **value)
{
    *value = NULL;
    char **list;
    int64_t n = 0;
    ML_TRY(ml_h5_attr_read_str_array(f, obj, name, &list, &n));
    return single_string(f, obj, name, list, n, value);
}
