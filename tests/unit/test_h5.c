/* lib/io/h5: round trips of tensors, arrays, attributes and text through files
 * and pipes; chunking and compression; appends and row reads; and the messages
 * for bad input (missing, empty, text, truncated files) and failed writes
 * (nothing under the final name, an existing file left as it was). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/alloc.h"
#include "core/error.h"
#include "harness.h"
#include "scratch.h"
#include "io/h5.h"
#include "tensor/tensor.h"

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t w = fwrite(data, 1, n, fp);
    return fclose(fp) == 0 && w == n ? 0 : -1;
}

/* The whole file in a malloc'ed buffer (NULL if unreadable). */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    *n = fread(buf, 1, (size_t)size, fp);
    fclose(fp);
    return buf;
}

/* Names in the scratch folder that look like temporaries of ml_h5_create. */
static int count_temporaries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static ml_tensor *pattern(ml_dtype dtype, int ndim, const int64_t *shape, int seed)
{
    ml_tensor *t = ml_tensor_new(dtype, ndim, shape, ML_CPU);
    int64_t n = ml_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        if (dtype == ML_F32)
            ml_tensor_f32(t)[i] = (float)(i * 0.37 - 11.0 + seed) / 3.0f;
        else
            ml_tensor_i32(t)[i] = (int32_t)(i * 7919 % 100003) - 50000 + seed;
    }
    return t;
}

static int tensor_equal(const ml_tensor *a, const ml_tensor *b)
{
    return a && b && a->dtype == b->dtype && ml_shape_equal(a->ndim, a->shape, b->ndim, b->shape) &&
           memcmp(ml_tensor_data(a), ml_tensor_data(b), ml_tensor_nbytes(a)) == 0;
}

/* Layout and filters of a dataset, looked at with HDF5 directly. */
static void dataset_layout(const char *file, const char *path, int *chunked, int *shuffle,
                           int *deflate, hsize_t *chunk0)
{
    *chunked = *shuffle = *deflate = 0;
    *chunk0 = 0;
    hid_t fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(fid, path, H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d);
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t chunk[8];
        *chunked = 1;
        H5Pget_chunk(dcpl, 8, chunk);
        *chunk0 = chunk[0];
    }
    int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        char name[64];
        H5Z_filter_t id =
            H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof name, name, NULL);
        if (id == H5Z_FILTER_SHUFFLE)
            *shuffle = 1;
        if (id == H5Z_FILTER_DEFLATE)
            *deflate = (int)cd[0];
    }
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(fid);
}

/* ------------------------------------------------------------------------- */

static const int64_t shapes[][5] = {
    /* ndim, dims... */
    {0},         {1, 0},       {1, 1},       {1, 17},         {2, 0, 5},       {2, 1, 5},
    {2, 300, 7}, {3, 4, 0, 2}, {3, 3, 4, 5}, {4, 2, 3, 4, 5}, {4, 1, 1, 1, 1},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])
static const ml_h5_write_opts opt_chunk_auto = {ML_H5_CHUNK_AUTO, 0};
static const ml_h5_write_opts opt_deflate = {4, 6};
static const ml_h5_write_opts *const opts_list[] = {NULL, &opt_chunk_auto, &opt_deflate};

static void test_round_trip(void)
{
    const char *path = tmp("round.h5");
    ml_h5_file *f;
    CHECK_OK(ml_h5_create(path, &f), "create %s", path);
    for (int dt = 0; dt < 2; dt++)
        for (int s = 0; s < N_SHAPES; s++)
            for (int o = 0; o < 3; o++) {
                char name[64];
                snprintf(name, sizeof name, "/%s/s%d/o%d", dt ? "i32" : "f32", s, o);
                ml_tensor *t = pattern(dt ? ML_I32 : ML_F32, (int)shapes[s][0], shapes[s] + 1, s);
                ml_status st = ml_h5_write_tensor(f, name, t, opts_list[o]);
                if (st != ML_OK)
                    CHECK(0, "write %s: %s", name, ml_last_error());
                ml_tensor_free(t);
            }
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);
    CHECK(count_temporaries() == 0, "no temporary left after commit");

    CHECK_OK(ml_h5_open(path, &f), "reopen");
    int good = 0, total = 0;
    for (int dt = 0; dt < 2; dt++)
        for (int s = 0; s < N_SHAPES; s++)
            for (int o = 0; o < 3; o++) {
                char name[64];
                snprintf(name, sizeof name, "/%s/s%d/o%d", dt ? "i32" : "f32", s, o);
                ml_tensor *t = pattern(dt ? ML_I32 : ML_F32, (int)shapes[s][0], shapes[s] + 1, s);
                ml_tensor *r = NULL;
                ml_status st = ml_h5_read_tensor(f, name, &r);
                total++;
                if (st == ML_OK && tensor_equal(t, r))
                    good++;
                else
                    printf("# %s differs (%s)\n", name, st ? ml_last_error() : "data");
                ml_tensor_free(t);
                ml_tensor_free(r);
            }
    CHECK(good == total,
          "f32 and i32 tensors of 0-4 dims (0 and 1 rows too) round trip, "
          "contiguous, chunked, deflated (%d of %d)",
          good, total);
    int ndim = -1;
    int64_t shape[ML_MAX_DIMS];
    ml_dtype dtype = ML_F32;
    CHECK_OK(ml_h5_dataset_shape(f, "/i32/s9/o0", &ndim, shape, &dtype), "dataset_shape");
    CHECK(ndim == 4 && shape[0] == 2 && shape[3] == 5 && dtype == ML_I32,
          "shape [2, 3, 4, 5] int32");
    CHECK_OK(ml_h5_dataset_shape(f, "/f32/s0/o0", &ndim, shape, &dtype),
             "dataset_shape of a scalar");
    CHECK(ndim == 0 && dtype == ML_F32, "scalar dataset has ndim 0");
    CHECK(ml_h5_exists(f, "/f32/s6") == ML_H5_GROUP, "exists: group");
    CHECK(ml_h5_exists(f, "f32/s6/o1") == ML_H5_DATASET, "exists: dataset (relative path)");
    CHECK(ml_h5_exists(f, "/f32/s6/o9") == ML_H5_NONE, "exists: missing");
    CHECK(ml_h5_exists(f, "/f32/s6/o1/x") == ML_H5_NONE, "exists: below a dataset");
    CHECK(ml_h5_exists(f, "/nope/x/y") == ML_H5_NONE, "exists: missing group on the way");
    CHECK(ml_h5_exists(f, "/") == ML_H5_GROUP, "exists: root");
    ml_h5_close(f);

    int chunked, shuffle, deflate;
    hsize_t chunk0;
    dataset_layout(path, "/f32/s6/o0", &chunked, &shuffle, &deflate, &chunk0);
    CHECK(!chunked && !shuffle && !deflate, "no options: contiguous, no filters");
    dataset_layout(path, "/f32/s6/o1", &chunked, &shuffle, &deflate, &chunk0);
    CHECK(chunked && !deflate && chunk0 == 300, "auto chunks: one chunk holds the small dataset");
    dataset_layout(path, "/f32/s6/o2", &chunked, &shuffle, &deflate, &chunk0);
    CHECK(chunked && shuffle && deflate == 6 && chunk0 == 4,
          "chunk rows 4 with shuffle + deflate 6");
    dataset_layout(path, "/f32/s4/o2", &chunked, &shuffle, &deflate, &chunk0);
    CHECK(!chunked, "an empty dataset is contiguous even when chunks are asked for");
}

static void test_compression(void)
{
    int64_t shape[2] = {2000, 256}; /* 2 MB of compressible floats */
    ml_tensor *t = ml_tensor_new(ML_F32, 2, shape, ML_CPU);
    for (int64_t i = 0; i < ml_tensor_numel(t); i++)
        ml_tensor_f32(t)[i] = (float)(i % 256 < 128 ? 0 : i % 7);
    ml_h5_write_opts plain = {ML_H5_CHUNK_AUTO, 0}, packed = {ML_H5_CHUNK_AUTO, 4};
    ml_h5_file *f;
    CHECK_OK(ml_h5_create(tmp("plain.h5"), &f), "create plain.h5");
    CHECK_OK(ml_h5_write_tensor(f, "X", t, &plain), "write chunked");
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);
    CHECK_OK(ml_h5_create(tmp("packed.h5"), &f), "create packed.h5");
    CHECK_OK(ml_h5_write_tensor(f, "X", t, &packed), "write deflated");
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);
    int64_t a = file_size(tmp("plain.h5")), b = file_size(tmp("packed.h5"));
    CHECK(a > 2000 * 256 * 4 && b > 0 && b < a / 10,
          "deflate shrinks compressible data (%lld -> %lld bytes)", (long long)a, (long long)b);
    int chunked, shuffle, deflate;
    hsize_t chunk0;
    dataset_layout(tmp("packed.h5"), "/X", &chunked, &shuffle, &deflate, &chunk0);
    CHECK(chunked && shuffle && deflate == 4 && chunk0 * 256 * 4 <= (1 << 20) &&
              chunk0 * 256 * 4 >= (256 << 10),
          "auto chunk of %llu rows is 256 KiB..1 MiB", (unsigned long long)chunk0);
    ml_tensor *r = NULL;
    CHECK_OK(ml_h5_open(tmp("packed.h5"), &f), "open packed.h5");
    CHECK_OK(ml_h5_read_tensor(f, "/X", &r), "read deflated");
    CHECK(tensor_equal(t, r), "deflated data round trips");
    ml_tensor_free(r);
    ml_h5_close(f);

    /* The same content written twice gives the same bytes (no timestamps). */
    CHECK_OK(ml_h5_create(tmp("packed2.h5"), &f), "create packed2.h5");
    CHECK_OK(ml_h5_write_tensor(f, "X", t, &packed), "write deflated again");
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);
    size_t n1 = 0, n2 = 0;
    unsigned char *b1 = read_bytes(tmp("packed.h5"), &n1), *b2 = read_bytes(tmp("packed2.h5"), &n2);
    CHECK(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0, "writing is reproducible byte for byte");
    free(b1);
    free(b2);
    ml_tensor_free(t);
}

static void test_attributes_and_text(void)
{
    const char *path = tmp("attrs.h5");
    ml_h5_file *f;
    int64_t shape[1] = {3};
    ml_tensor *t = pattern(ML_F32, 1, shape, 0);
    const char *names[] = {"W", "b", "naïve ✓"};
    int64_t ints[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    double dbls[] = {-1.5, 0.0, 3.141592653589793, 1e300};

    char *big = malloc(200001);
    for (int i = 0; i < 200000; i++)
        big[i] = "abcdefghij\n"[i % 11];
    big[200000] = '\0';

    CHECK_OK(ml_h5_create(path, &f), "create attrs.h5");
    CHECK_OK(ml_h5_attr_write_str(f, "/", "ml_format", "ml-model"), "root str attr");
    CHECK_OK(ml_h5_attr_write_i64(f, "/", "ml_format_version", 1), "root i64 attr");
    CHECK_OK(ml_h5_attr_write_i64(f, "/", "ml_format_version", 2), "attr replaced");
    CHECK_OK(ml_h5_create_group(f, "/params/h0"), "create_group");
    CHECK_OK(ml_h5_create_group(f, "/params/h0"), "create_group again is fine");
    CHECK_OK(ml_h5_attr_write_str_array(f, "/params/h0", "weight_names", names, 3),
             "str array attr");
    CHECK_OK(ml_h5_write_tensor(f, "/params/h0/b", t, NULL), "write b");
    CHECK_OK(ml_h5_attr_write_f64(f, "/params/h0/b", "lr", 0.125), "f64 attr on a dataset");
    CHECK_OK(ml_h5_attr_write_i64_array(f, "/params/h0/b", "ints", ints, 5), "i64 array attr");
    CHECK_OK(ml_h5_attr_write_f64_array(f, "/params/h0/b", "dbls", dbls, 4), "f64 array attr");
    CHECK_OK(ml_h5_attr_write_f64_array(f, "/params/h0/b", "empty", NULL, 0),
             "empty f64 array attr");
    CHECK_OK(ml_h5_attr_write_str(f, "/params", "utf8", "naïve ✓ — δ"), "utf-8 str attr");
    CHECK_OK(ml_h5_attr_write_str_array(f, "/params", "no_names", NULL, 0), "empty str array attr");
    ml_status s = ml_h5_attr_write_str(f, "/", "huge", big);
    CHECK(s == ML_EINVAL && contains(ml_last_error(), "use a dataset"),
          "a 200 KB attribute is refused: %s", ml_last_error());
    s = ml_h5_attr_write_i64(f, "/missing", "x", 1);
    CHECK(s == ML_ENOTFOUND && contains(ml_last_error(), "attrs.h5:/missing: not found"),
          "attribute on a missing object: %s", ml_last_error());
    CHECK_OK(ml_h5_write_text(f, "/experiment", big), "200 KB text dataset");
    CHECK_OK(ml_h5_write_text(f, "/notes/empty", ""), "empty text dataset");
    s = ml_h5_write_text(f, "/experiment", "again");
    CHECK(s == ML_EINVAL && contains(ml_last_error(), "/experiment: already exists"),
          "text dataset twice: %s", ml_last_error());
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);

    CHECK_OK(ml_h5_open(path, &f), "reopen attrs.h5");
    char *str = NULL;
    int64_t i64 = 0, n = -1;
    double f64 = 0;
    CHECK_OK(ml_h5_attr_read_str(f, "/", "ml_format", &str), "read str attr");
    CHECK(str && strcmp(str, "ml-model") == 0, "str attr value");
    ml_free(str);
    CHECK_OK(ml_h5_attr_read_i64(f, "/", "ml_format_version", &i64), "read i64 attr");
    CHECK(i64 == 2, "replaced i64 attr value");
    CHECK_OK(ml_h5_attr_read_f64(f, "/", "ml_format_version", &f64), "an integer reads as double");
    CHECK(f64 == 2.0, "converted value");
    CHECK_OK(ml_h5_attr_read_f64(f, "params/h0/b", "lr", &f64), "read f64 attr");
    CHECK(f64 == 0.125, "f64 attr value");
    char **list = NULL;
    CHECK_OK(ml_h5_attr_read_str_array(f, "/params/h0", "weight_names", &list, &n),
             "read str array");
    CHECK(n == 3 && list && strcmp(list[0], "W") == 0 && strcmp(list[1], "b") == 0 &&
              strcmp(list[2], "naïve ✓") == 0 && list[3] == NULL,
          "str array values, NULL-terminated");
    ml_h5_names_free(list);
    int64_t *iv = NULL;
    CHECK_OK(ml_h5_attr_read_i64_array(f, "/params/h0/b", "ints", &iv, &n), "read i64 array");
    CHECK(n == 5 && iv && memcmp(iv, ints, sizeof ints) == 0, "i64 array values (extremes)");
    ml_free(iv);
    double *dv = NULL;
    CHECK_OK(ml_h5_attr_read_f64_array(f, "/params/h0/b", "dbls", &dv, &n), "read f64 array");
    CHECK(n == 4 && dv && memcmp(dv, dbls, sizeof dbls) == 0, "f64 array values");
    ml_free(dv);
    CHECK_OK(ml_h5_attr_read_f64_array(f, "/params/h0/b", "empty", &dv, &n), "read empty array");
    CHECK(n == 0 && dv == NULL, "empty array reads as 0 values");
    CHECK_OK(ml_h5_attr_read_str_array(f, "/params", "no_names", &list, &n),
             "read empty str array");
    CHECK(n == 0 && list && list[0] == NULL, "empty str array: 0 names");
    ml_h5_names_free(list);
    CHECK_OK(ml_h5_attr_read_str(f, "/params", "utf8", &str), "read utf-8 attr");
    CHECK(str && strcmp(str, "naïve ✓ — δ") == 0, "utf-8 survives");
    ml_free(str);
    CHECK(ml_h5_attr_exists(f, "/", "ml_format") && !ml_h5_attr_exists(f, "/", "nope") &&
              !ml_h5_attr_exists(f, "/nope", "x"),
          "attr_exists");

    s = ml_h5_attr_read_i64(f, "/params/h0", "nope", &i64);
    CHECK(s == ML_ENOTFOUND && strcmp(ml_last_error(), tmp("attrs.h5")) != 0 &&
              contains(ml_last_error(), "attrs.h5:/params/h0: attribute 'nope': not found"),
          "missing attribute: %s", ml_last_error());
    s = ml_h5_attr_read_i64(f, "/params/h0/b", "lr", &i64);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "expected an integer, found float64"),
          "float attr as integer: %s", ml_last_error());
    s = ml_h5_attr_read_i64(f, "/", "ml_format", &i64);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "expected a number, found string"),
          "string attr as number: %s", ml_last_error());
    s = ml_h5_attr_read_str(f, "/", "ml_format_version", &str);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "expected a string, found int64"),
          "int attr as string: %s", ml_last_error());
    s = ml_h5_attr_read_i64(f, "/params/h0/b", "ints", &i64);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "expected one value, found 5"),
          "array attr as scalar: %s", ml_last_error());
    s = ml_h5_attr_read_str(f, "/params/h0", "weight_names", &str);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "expected one string, found 3"),
          "string array as one string: %s", ml_last_error());

    char *text = NULL;
    CHECK_OK(ml_h5_read_text(f, "/experiment", &text), "read text dataset");
    CHECK(text && strcmp(text, big) == 0, "200 KB text round trips");
    ml_free(text);
    CHECK_OK(ml_h5_read_text(f, "/notes/empty", &text), "read empty text");
    CHECK(text && text[0] == '\0', "empty text round trips");
    ml_free(text);
    s = ml_h5_read_text(f, "/params/h0/b", &text);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "expected a string dataset, found float32"),
          "numbers as text: %s", ml_last_error());
    ml_tensor *r = NULL;
    s = ml_h5_read_tensor(f, "/experiment", &r);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(),
                       "attrs.h5:/experiment: expected a numeric dataset, found string"),
          "text as tensor: %s", ml_last_error());
    s = ml_h5_read_tensor(f, "/params", &r);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "attrs.h5:/params: expected a dataset, found a group"),
          "group as tensor: %s", ml_last_error());
    s = ml_h5_write_tensor(f, "/new", t, NULL);
    CHECK(s == ML_EINVAL && contains(ml_last_error(), "opened for reading"),
          "a file opened for reading refuses writes: %s", ml_last_error());
    s = ml_h5_commit(f);
    CHECK(s == ML_EINVAL, "a file opened for reading cannot be committed");
    ml_h5_close(f);
    free(big);
    ml_tensor_free(t);
}

static void test_list(void)
{
    ml_h5_file *f;
    int64_t shape[1] = {2};
    ml_tensor *t = pattern(ML_F32, 1, shape, 0);
    const char *order[] = {"h1", "h0", "h10", "b"};
    CHECK_OK(ml_h5_create(tmp("list.h5"), &f), "create list.h5");
    for (int i = 0; i < 4; i++) {
        char p[64];
        snprintf(p, sizeof p, "/params/%s/W", order[i]);
        CHECK_OK(ml_h5_write_tensor(f, p, t, NULL), "write %s", p);
    }
    CHECK_OK(ml_h5_write_tensor(f, "/z", t, NULL), "write /z");
    CHECK_OK(ml_h5_write_tensor(f, "/a", t, NULL), "write /a");
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);

    CHECK_OK(ml_h5_open(tmp("list.h5"), &f), "open list.h5");
    char **names = NULL;
    int64_t n = 0;
    CHECK_OK(ml_h5_list(f, "/params", ML_H5_ORDER_CREATION, &names, &n), "list in creation order");
    CHECK(n == 4 && names && strcmp(names[0], "h1") == 0 && strcmp(names[1], "h0") == 0 &&
              strcmp(names[2], "h10") == 0 && strcmp(names[3], "b") == 0 && !names[4],
          "creation order h1 h0 h10 b");
    ml_h5_names_free(names);
    CHECK_OK(ml_h5_list(f, "/params", ML_H5_ORDER_NAME, &names, &n), "list in name order");
    CHECK(n == 4 && names && strcmp(names[0], "b") == 0 && strcmp(names[1], "h0") == 0 &&
              strcmp(names[2], "h1") == 0 && strcmp(names[3], "h10") == 0,
          "name order b h0 h1 h10");
    ml_h5_names_free(names);
    CHECK_OK(ml_h5_list(f, "/", ML_H5_ORDER_CREATION, &names, &n), "list the root");
    CHECK(n == 3 && strcmp(names[0], "params") == 0 && strcmp(names[1], "z") == 0 &&
              strcmp(names[2], "a") == 0,
          "root in creation order params z a");
    ml_h5_names_free(names);
    CHECK_OK(ml_h5_list(f, "/params/h0", ML_H5_ORDER_NAME, &names, NULL), "list without count");
    CHECK(names && strcmp(names[0], "W") == 0 && !names[1], "one child W");
    ml_h5_names_free(names);
    ml_status s = ml_h5_list(f, "/z", ML_H5_ORDER_NAME, &names, &n);
    CHECK(s == ML_EFORMAT && names == NULL &&
              contains(ml_last_error(), "list.h5:/z: expected a group"),
          "listing a dataset: %s", ml_last_error());
    s = ml_h5_list(f, "/nope", ML_H5_ORDER_NAME, &names, &n);
    CHECK(s == ML_ENOTFOUND && contains(ml_last_error(), "list.h5:/nope: not found"),
          "listing a missing group: %s", ml_last_error());
    ml_h5_close(f);

    /* A group written without creation-order tracking (as by h5py) lists by name. */
    hid_t fid = H5Fcreate(tmp("plainlist.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(H5Gcreate2(fid, "/y", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Gclose(H5Gcreate2(fid, "/x", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    /* other numeric types, as h5py would write them */
    hsize_t dims[2] = {2, 3};
    int16_t i16[6] = {-3, -2, -1, 0, 1, 32767};
    double f64[6] = {0.5, -1.25, 1e10, 3.0, -0.0, 1.0 / 3};
    uint32_t u32[6] = {0, 1, 2, 3, 4, 3000000000u};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(fid, "/y/i16", H5T_STD_I16BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_INT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, i16);
    H5Dclose(ds);
    ds = H5Dcreate2(fid, "/y/f64", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, f64);
    H5Dclose(ds);
    ds = H5Dcreate2(fid, "/y/u32", H5T_STD_U32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, u32);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(fid);
    CHECK_OK(ml_h5_open(tmp("plainlist.h5"), &f), "open a file made without tracking");
    CHECK_OK(ml_h5_list(f, "/", ML_H5_ORDER_CREATION, &names, &n), "creation order falls back");
    CHECK(n == 2 && strcmp(names[0], "x") == 0 && strcmp(names[1], "y") == 0, "name order x y");
    ml_h5_names_free(names);
    ml_tensor *r = NULL;
    CHECK_OK(ml_h5_read_tensor(f, "/y/i16", &r), "read big-endian int16");
    int ok = r && r->dtype == ML_I32 && r->ndim == 2 && r->shape[1] == 3;
    for (int i = 0; ok && i < 6; i++)
        ok = ml_tensor_i32(r)[i] == i16[i];
    CHECK(ok, "int16 (big-endian) becomes int32 with the same values");
    ml_tensor_free(r);
    CHECK_OK(ml_h5_read_tensor(f, "/y/f64", &r), "read float64");
    ok = r && r->dtype == ML_F32;
    for (int i = 0; ok && i < 6; i++)
        ok = ml_tensor_f32(r)[i] == (float)f64[i];
    CHECK(ok, "float64 becomes float32");
    ml_tensor_free(r);
    r = NULL;
    ml_status s2 = ml_h5_read_tensor(f, "/y/u32", &r);
    CHECK(s2 == ML_EFORMAT && r == NULL &&
              contains(ml_last_error(), "plainlist.h5:/y/u32: a value is outside the int32 range"),
          "uint32 3e9 as int32: %s", ml_last_error());
    void *data = NULL;
    int ndim;
    int64_t sh[ML_MAX_DIMS];
    CHECK_OK(ml_h5_read_array(f, "/y/u32", ML_H5_I64, &ndim, sh, &data), "uint32 as int64");
    CHECK(data && ((int64_t *)data)[5] == 3000000000LL, "3e9 fits int64");
    ml_free(data);
    ml_h5_close(f);
    ml_tensor_free(t);
}

static void test_append_and_rows(void)
{
    ml_h5_file *f;
    const char *path = tmp("append.h5");
    CHECK_OK(ml_h5_create(path, &f), "create append.h5");
    /* 1-D float32 over several calls, one of them empty */
    int64_t n1[1] = {1}, n0[1] = {0}, n5[1] = {5};
    ml_tensor *a = pattern(ML_F32, 1, n1, 1), *b = pattern(ML_F32, 1, n0, 2),
              *c = pattern(ML_F32, 1, n5, 3);
    CHECK_OK(ml_h5_append_rows(f, "/monitor/loss", a), "append 1 row (creates)");
    CHECK_OK(ml_h5_append_rows(f, "/monitor/loss", b), "append 0 rows");
    CHECK_OK(ml_h5_append_rows(f, "/monitor/loss", c), "append 5 rows");
    /* 2-D int32 [n, 4] */
    int64_t r3[2] = {3, 4}, r2[2] = {2, 4}, bad[2] = {2, 5};
    ml_tensor *d = pattern(ML_I32, 2, r3, 0), *e = pattern(ML_I32, 2, r2, 9),
              *g = pattern(ML_I32, 2, bad, 0);
    for (int i = 0; i < 3; i++)
        CHECK_OK(ml_h5_append_rows(f, "/rec", i == 1 ? e : d), "append int32 rows, call %d", i);
    ml_status s = ml_h5_append_rows(f, "/rec", g);
    CHECK(s == ML_ESHAPE &&
              contains(ml_last_error(),
                       "append.h5:/rec: cannot append rows of [5] to a dataset of rows [4]"),
          "row shape mismatch: %s", ml_last_error());
    s = ml_h5_append_rows(f, "/rec", c);
    CHECK(s == ML_ESHAPE, "rank mismatch: %s", ml_last_error());
    CHECK_OK(ml_h5_write_tensor(f, "/fixed", c, NULL), "write a fixed dataset");
    s = ml_h5_append_rows(f, "/fixed", c);
    CHECK(s == ML_EINVAL && contains(ml_last_error(), "not extendible"),
          "append to a fixed dataset: %s", ml_last_error());
    /* float64 / int64 monitor records, one scalar at a time */
    for (int i = 0; i < 10; i++) {
        double v = 1.0 / (i + 3);
        int64_t step = (int64_t)i << 40;
        CHECK_OK(ml_h5_append_array(f, "/monitor/valid/value", ML_H5_F64, 0, NULL, &v),
                 "append f64 %d", i);
        CHECK_OK(ml_h5_append_array(f, "/monitor/valid/step", ML_H5_I64, 0, NULL, &step),
                 "append i64 %d", i);
    }
    double one = 1;
    s = ml_h5_append_array(f, "/monitor/valid/step", ML_H5_F64, 0, NULL, &one);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "cannot append float64 rows to a dataset of int64"),
          "float rows onto an integer dataset: %s", ml_last_error());

    /* A chunked, deflated [100, 3, 4] dataset for hyperslab reads */
    int64_t big[3] = {100, 3, 4};
    ml_tensor *X = pattern(ML_F32, 3, big, 5);
    ml_h5_write_opts opts = {16, 3};
    CHECK_OK(ml_h5_write_tensor(f, "/X", X, &opts), "write /X [100, 3, 4]");
    ml_tensor *Y = pattern(ML_I32, 1, big, 0);
    CHECK_OK(ml_h5_write_tensor(f, "/y", Y, NULL), "write /y [100]");
    /* Reading from a file being written works too. */
    int ndim;
    int64_t shape[ML_MAX_DIMS];
    CHECK_OK(ml_h5_dataset_shape(f, "/rec", &ndim, shape, NULL), "shape while writing");
    CHECK(ndim == 2 && shape[0] == 8 && shape[1] == 4, "8 rows of 4 appended");
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);

    CHECK_OK(ml_h5_open(path, &f), "open append.h5");
    ml_tensor *r = NULL;
    CHECK_OK(ml_h5_read_tensor(f, "/monitor/loss", &r), "read appended 1-D");
    int ok = r && r->ndim == 1 && r->shape[0] == 6 && ml_tensor_f32(r)[0] == ml_tensor_f32(a)[0] &&
             memcmp(ml_tensor_f32(r) + 1, ml_tensor_f32(c), 5 * sizeof(float)) == 0;
    CHECK(ok, "1 + 0 + 5 rows in order");
    ml_tensor_free(r);
    CHECK_OK(ml_h5_read_tensor(f, "/rec", &r), "read appended 2-D");
    ok = r && r->ndim == 2 && r->shape[0] == 8 && r->shape[1] == 4 &&
         memcmp(ml_tensor_i32(r), ml_tensor_i32(d), 12 * 4) == 0 &&
         memcmp(ml_tensor_i32(r) + 12, ml_tensor_i32(e), 8 * 4) == 0 &&
         memcmp(ml_tensor_i32(r) + 20, ml_tensor_i32(d), 12 * 4) == 0;
    CHECK(ok, "3 + 2 + 3 int32 rows in order (the failed appends added nothing)");
    ml_tensor_free(r);
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(fid, "/rec", H5P_DEFAULT), sp = H5Dget_space(ds);
    hsize_t dims[2], maxdims[2];
    H5Sget_simple_extent_dims(sp, dims, maxdims);
    CHECK(maxdims[0] == H5S_UNLIMITED && maxdims[1] == 4, "appended dataset has unlimited rows");
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(fid);

    void *data = NULL;
    CHECK_OK(ml_h5_read_array(f, "/monitor/valid/value", ML_H5_F64, &ndim, shape, &data),
             "read f64 array");
    ok = data && ndim == 1 && shape[0] == 10;
    for (int i = 0; ok && i < 10; i++)
        ok = ((double *)data)[i] == 1.0 / (i + 3);
    CHECK(ok, "float64 values exact");
    ml_free(data);
    CHECK_OK(ml_h5_read_array(f, "/monitor/valid/step", ML_H5_I64, &ndim, shape, &data),
             "read i64 array");
    ok = data && shape[0] == 10;
    for (int i = 0; ok && i < 10; i++)
        ok = ((int64_t *)data)[i] == (int64_t)i << 40;
    CHECK(ok, "int64 values exact");
    ml_free(data);
    s = ml_h5_read_tensor(f, "/monitor/valid/step", &r);
    CHECK(s == ML_EFORMAT && r == NULL &&
              contains(ml_last_error(),
                       "append.h5:/monitor/valid/step: a value is outside the int32 range"),
          "int64 beyond int32 is refused: %s", ml_last_error());
    s = ml_h5_read_array(f, "/monitor/valid/value", ML_H5_I64, &ndim, shape, &data);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "expected an integer dataset, found float64"),
          "floats as integers: %s", ml_last_error());
    CHECK_OK(ml_h5_read_tensor(f, "/monitor/valid/value", &r), "float64 reads as float32");
    CHECK(r && r->dtype == ML_F32 && ml_tensor_f32(r)[1] == (float)(1.0 / 4),
          "converted to float32");
    ml_tensor_free(r);
    CHECK_OK(ml_h5_read_array(f, "/y", ML_H5_F64, &ndim, shape, &data), "int32 reads as float64");
    CHECK(data && ((double *)data)[3] == (double)ml_tensor_i32(Y)[3], "converted to float64");
    ml_free(data);

    /* rows [10, 35) of [100, 3, 4] into a [25, 12] tensor, across chunk boundaries */
    int64_t into_shape[2] = {25, 12};
    ml_tensor *into = ml_tensor_new(ML_F32, 2, into_shape, ML_CPU);
    CHECK_OK(ml_h5_read_rows(f, "/X", 10, 25, into), "read_rows [10, 35)");
    CHECK(memcmp(ml_tensor_f32(into), ml_tensor_f32(X) + 10 * 12, 25 * 12 * 4) == 0,
          "hyperslab equals the rows");
    int64_t yshape[1] = {25};
    ml_tensor *yinto = ml_tensor_new(ML_I32, 1, yshape, ML_CPU);
    CHECK_OK(ml_h5_read_rows(f, "/y", 75, 25, yinto), "read_rows of another dataset [75, 100)");
    CHECK(memcmp(ml_tensor_i32(yinto), ml_tensor_i32(Y) + 75, 25 * 4) == 0, "last rows of /y");
    int all = 1;
    for (int64_t start = 0; start < 100; start += 25) {
        all &= ml_h5_read_rows(f, "/X", start, 25, into) == ML_OK &&
               memcmp(ml_tensor_f32(into), ml_tensor_f32(X) + start * 12, 25 * 12 * 4) == 0;
    }
    CHECK(all, "streaming /X in batches of 25");
    ml_tensor view;
    ml_tensor_point_rows(&view, into, 0, 7);
    CHECK_OK(ml_h5_read_rows(f, "/X", 93, 7, &view), "a partial last batch into a row view");
    CHECK(memcmp(ml_tensor_f32(into), ml_tensor_f32(X) + 93 * 12, 7 * 12 * 4) == 0,
          "partial batch");
    ml_tensor_point_rows(&view, into, 0, 0);
    CHECK_OK(ml_h5_read_rows(f, "/X", 100, 0, &view), "zero rows at the end");
    s = ml_h5_read_rows(f, "/X", 90, 25, into);
    CHECK(s == ML_EINVAL &&
              contains(ml_last_error(),
                       "append.h5:/X: rows [90, 115) are outside a dataset of 100 rows"),
          "rows past the end: %s", ml_last_error());
    s = ml_h5_read_rows(f, "/X", 0, 24, into);
    CHECK(s == ML_ESHAPE &&
              contains(ml_last_error(),
                       "cannot read 24 rows of [3, 4] into a tensor of shape [25, 12]"),
          "wrong tensor: %s", ml_last_error());
    int64_t ishape[2] = {25, 12};
    ml_tensor *iinto = ml_tensor_new(ML_I32, 2, ishape, ML_CPU);
    s = ml_h5_read_rows(f, "/X", 0, 25, iinto);
    CHECK(s == ML_EFORMAT, "float rows into an int32 tensor: %s", ml_last_error());
    s = ml_h5_read_rows(f, "/nope", 0, 25, into);
    CHECK(s == ML_ENOTFOUND && contains(ml_last_error(), "append.h5:/nope: not found"),
          "rows of a missing dataset: %s", ml_last_error());
    ml_h5_close(f);

    ml_tensor *all_t[] = {a, b, c, d, e, g, X, Y, into, yinto, iinto};
    for (size_t i = 0; i < sizeof all_t / sizeof all_t[0]; i++)
        ml_tensor_free(all_t[i]);
}

/* The writer side of a pipe, in a child process. */
static int write_model(int fd, const ml_tensor *W)
{
    ml_h5_file *f;
    if (ml_h5_create_fd(fd, "<pipe>", &f) != ML_OK)
        return 1;
    ml_status s = ml_h5_write_tensor(f, "/params/h0/W", W, NULL);
    if (s == ML_OK)
        s = ml_h5_attr_write_str(f, "/", "ml_format", "ml-model");
    if (s == ML_OK)
        s = ml_h5_write_text(f, "/experiment", "!obj:MLP {}\n");
    if (s == ML_OK)
        s = ml_h5_commit(f);
    ml_h5_close(f);
    return s == ML_OK ? 0 : 2;
}

static int check_model(ml_h5_file *f, const ml_tensor *W)
{
    ml_tensor *r = NULL;
    char *fmt = NULL, *text = NULL;
    int ok = ml_h5_read_tensor(f, "/params/h0/W", &r) == ML_OK && tensor_equal(r, W) &&
             ml_h5_attr_read_str(f, "/", "ml_format", &fmt) == ML_OK &&
             strcmp(fmt, "ml-model") == 0 && ml_h5_read_text(f, "/experiment", &text) == ML_OK &&
             strcmp(text, "!obj:MLP {}\n") == 0;
    ml_tensor_free(r);
    ml_free(fmt);
    ml_free(text);
    return ok;
}

static void test_pipes(void)
{
    int rc;
    int64_t shape[2] = {512, 300}; /* 600 KB: more than a pipe holds */
    ml_tensor *W = pattern(ML_F32, 2, shape, 4);
    int p[2];
    rc = pipe(p);
    CHECK(rc == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        rc = write_model(p[1], W);
        close(p[1]);
        _exit(rc);
    }
    close(p[1]);
    ml_h5_file *f = NULL;
    CHECK_OK(ml_h5_open_fd(p[0], "<pipe>", &f), "open_fd on the read end");
    close(p[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer process succeeded");
    CHECK(f && check_model(f, W), "data through the pipe equal");
    CHECK(f && strcmp(ml_h5_file_name(f), "<pipe>") == 0, "file name is the display name");
    ml_h5_close(f);

    /* The image written to a regular fd is an ordinary HDF5 file, and open_fd
     * on a regular file opens it in place. */
    int fd = open(tmp("image.h5"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    rc = write_model(fd, W);
    CHECK(rc == 0, "create_fd on a regular file");
    close(fd);
    CHECK_OK(ml_h5_open(tmp("image.h5"), &f), "the image opens as a file");
    CHECK(f && check_model(f, W), "its data equal");
    ml_h5_close(f);
    fd = open(tmp("image.h5"), O_RDONLY);
    CHECK_OK(ml_h5_open_fd(fd, NULL, &f), "open_fd on a regular file");
    CHECK(f && check_model(f, W), "its data equal");
    char expect[32];
    snprintf(expect, sizeof expect, "<fd %d>", fd);
    CHECK(f && strcmp(ml_h5_file_name(f), expect) == 0, "default display name %s", expect);
    ml_h5_close(f);
    close(fd);

    /* "-" is standard input, shown as <stdin>. */
    int saved = dup(0);
    fd = open(tmp("image.h5"), O_RDONLY);
    dup2(fd, 0);
    close(fd);
    CHECK_OK(ml_h5_open("-", &f), "open - (stdin is a file)");
    CHECK(f && check_model(f, W) && strcmp(ml_h5_file_name(f), "<stdin>") == 0, "stdin data equal");
    ml_h5_close(f);
    rc = pipe(p);
    CHECK(rc == 0, "pipe");
    rc = (int)write(p[1], "hello, world\n", 13);
    CHECK(rc == 13, "text into a pipe");
    close(p[1]);
    dup2(p[0], 0);
    close(p[0]);
    ml_status s = ml_h5_open("-", &f);
    CHECK(s == ML_EFORMAT && f == NULL && strcmp(ml_last_error(), "<stdin>: not an HDF5 file") == 0,
          "text on stdin: %s", ml_last_error());
    rc = pipe(p);
    CHECK(rc == 0, "pipe");
    close(p[1]);
    dup2(p[0], 0);
    close(p[0]);
    s = ml_h5_open("-", &f);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "<stdin>: not an HDF5 file (it is empty)"),
          "nothing on stdin: %s", ml_last_error());
    /* half an image through a pipe */
    size_t n = 0;
    unsigned char *bytes = read_bytes(tmp("image.h5"), &n);
    rc = pipe(p);
    CHECK(rc == 0, "pipe");
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        ssize_t w = write(p[1], bytes, n / 2);
        _exit(w == (ssize_t)(n / 2) ? 0 : 1);
    }
    close(p[1]);
    dup2(p[0], 0);
    close(p[0]);
    s = ml_h5_open("-", &f);
    waitpid(pid, &status, 0);
    CHECK(s == ML_EFORMAT && f == NULL &&
              contains(ml_last_error(), "<stdin>: truncated or damaged HDF5 file"),
          "half an image on stdin: %s", ml_last_error());
    free(bytes);
    dup2(saved, 0);
    close(saved);

    /* Two files in memory at once. */
    ml_h5_file *m1, *m2;
    CHECK_OK(ml_h5_create_fd(1, NULL, &m1), "first memory file");
    CHECK_OK(ml_h5_create_fd(1, NULL, &m2), "second memory file at the same time");
    ml_h5_close(m1);
    ml_h5_close(m2);

    /* Writing to a pipe nobody reads fails cleanly (SIGPIPE is ignored in main). */
    rc = pipe(p);
    CHECK(rc == 0, "pipe");
    close(p[0]);
    CHECK_OK(ml_h5_create_fd(p[1], "<stdout>", &f), "create_fd");
    CHECK_OK(ml_h5_write_tensor(f, "/W", W, NULL), "write");
    s = ml_h5_commit(f);
    CHECK(s == ML_EIO && strcmp(ml_last_error(), "<stdout>: cannot write: Broken pipe") == 0,
          "broken pipe: %s", ml_last_error());
    s = ml_h5_write_tensor(f, "/W2", W, NULL);
    CHECK(s == ML_EINVAL && contains(ml_last_error(), "already committed"),
          "no writes after commit");
    ml_h5_close(f);
    close(p[1]);
    ml_tensor_free(W);
}

/* HDF5's error stack is per thread: a second thread must be quiet too. */
static void *open_in_thread(void *arg)
{
    ml_h5_file *f = NULL;
    ml_status s = ml_h5_open(arg, &f);
    ml_h5_close(f);
    return (void *)(intptr_t)(s == ML_EFORMAT && contains(ml_last_error(), "truncated or damaged"));
}

static void test_bad_files(void)
{
    ml_h5_file *f = NULL;
    char expect[512];
    ml_status s = ml_h5_open(tmp("missing.h5"), &f);
    snprintf(expect, sizeof expect, "%s: cannot open: No such file or directory",
             tmp("missing.h5"));
    CHECK(s == ML_EIO && f == NULL && strcmp(ml_last_error(), expect) == 0, "missing file: %s",
          ml_last_error());

    write_bytes(tmp("text.h5"), "x,y\n1,2\n3,4\n", 12);
    s = ml_h5_open(tmp("text.h5"), &f);
    snprintf(expect, sizeof expect, "%s: not an HDF5 file", tmp("text.h5"));
    CHECK(s == ML_EFORMAT && strcmp(ml_last_error(), expect) == 0, "text file: %s",
          ml_last_error());

    write_bytes(tmp("empty.h5"), "", 0);
    s = ml_h5_open(tmp("empty.h5"), &f);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "empty.h5: not an HDF5 file (it is empty)"),
          "empty file: %s", ml_last_error());

    write_bytes(tmp("short.h5"), "\211HD", 3);
    s = ml_h5_open(tmp("short.h5"), &f);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "short.h5: not an HDF5 file"), "3 bytes: %s",
          ml_last_error());

    s = ml_h5_open(dir, &f);
    CHECK(s == ML_EIO && contains(ml_last_error(), "cannot open: Is a directory"),
          "a directory: %s", ml_last_error());

    /* a real file cut to half its size */
    int64_t shape[2] = {200, 100};
    ml_tensor *t = pattern(ML_F32, 2, shape, 0);
    CHECK_OK(ml_h5_create(tmp("trunc.h5"), &f), "create trunc.h5");
    CHECK_OK(ml_h5_write_tensor(f, "/X", t, NULL), "write");
    CHECK_OK(ml_h5_attr_write_i64(f, "/", "n", 200), "attr");
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);
    int64_t size = file_size(tmp("trunc.h5"));
    int rc = truncate(tmp("trunc.h5"), size / 2);
    CHECK(rc == 0, "truncate to %lld bytes", (long long)(size / 2));
    f = NULL;
    s = ml_h5_open(tmp("trunc.h5"), &f);
    snprintf(expect, sizeof expect, "%s: truncated or damaged HDF5 file", tmp("trunc.h5"));
    CHECK(s == ML_EFORMAT && f == NULL && strncmp(ml_last_error(), expect, strlen(expect)) == 0,
          "truncated file: %s", ml_last_error());
    ml_h5_close(f);
    pthread_t thread;
    void *thread_ok = NULL;
    if (pthread_create(&thread, NULL, open_in_thread, (void *)tmp("trunc.h5")) == 0)
        pthread_join(thread, &thread_ok);
    CHECK(thread_ok != NULL, "the same error in another thread");

    /* damaged bytes after the superblock: whatever fails says which file */
    CHECK_OK(ml_h5_create(tmp("damaged.h5"), &f), "create damaged.h5");
    CHECK_OK(ml_h5_write_tensor(f, "/params/h0/W", t, NULL), "write");
    CHECK_OK(ml_h5_attr_write_str(f, "/params/h0", "note", "x"), "attr");
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);
    size_t n = 0;
    unsigned char *bytes = read_bytes(tmp("damaged.h5"), &n);
    for (size_t i = 96; i < 2048 && i < n; i++)
        bytes[i] ^= 0x5a;
    write_bytes(tmp("damaged.h5"), bytes, n);
    free(bytes);
    f = NULL;
    s = ml_h5_open(tmp("damaged.h5"), &f);
    ml_tensor *r = NULL;
    if (s == ML_OK)
        s = ml_h5_read_tensor(f, "/params/h0/W", &r);
    CHECK(s != ML_OK && contains(ml_last_error(), "damaged.h5"), "damaged file fails naming it: %s",
          ml_last_error());
    ml_tensor_free(r);
    ml_h5_close(f);

    /* missing objects and shape expectations */
    CHECK_OK(ml_h5_create(tmp("m.h5"), &f), "create m.h5");
    int64_t wshape[2] = {784, 400};
    ml_tensor *W = ml_tensor_new(ML_F32, 2, wshape, ML_CPU);
    CHECK_OK(ml_h5_write_tensor(f, "/params/h0/W", W, NULL), "write W [784, 400]");
    s = ml_h5_write_tensor(f, "/params/h0/W", W, NULL);
    CHECK(s == ML_EINVAL && contains(ml_last_error(), "m.h5:/params/h0/W: already exists"),
          "writing a dataset twice: %s", ml_last_error());
    s = ml_h5_write_tensor(f, "/params/h0/W/x", W, NULL);
    CHECK(s == ML_EINVAL &&
              contains(ml_last_error(), "m.h5:/params/h0/W: exists and is not a group"),
          "a dataset below a dataset: %s", ml_last_error());
    ml_h5_write_opts bad = {0, 12};
    s = ml_h5_write_tensor(f, "/params/h0/V", W, &bad);
    CHECK(s == ML_EINVAL && contains(ml_last_error(), "deflate level 12"), "bad deflate level: %s",
          ml_last_error());
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);
    CHECK_OK(ml_h5_open(tmp("m.h5"), &f), "open m.h5");
    s = ml_h5_read_tensor(f, "/X", &r);
    snprintf(expect, sizeof expect, "%s:/X: not found", tmp("m.h5"));
    CHECK(s == ML_ENOTFOUND && r == NULL && strcmp(ml_last_error(), expect) == 0,
          "missing dataset: %s", ml_last_error());
    s = ml_h5_read_tensor(f, "params/h1/W", &r);
    CHECK(s == ML_ENOTFOUND && contains(ml_last_error(), "m.h5:/params/h1/W: not found"),
          "missing group on the way: %s", ml_last_error());
    int64_t want[2] = {784, 500};
    s = ml_h5_read_tensor_expect(f, "/params/h0/W", ML_F32, 2, want, &r);
    snprintf(expect, sizeof expect,
             "%s:/params/h0/W: expected float32 [784, 500], found [784, 400]", tmp("m.h5"));
    CHECK(s == ML_ESHAPE && r == NULL && strcmp(ml_last_error(), expect) == 0, "expect shape: %s",
          ml_last_error());
    s = ml_h5_read_tensor_expect(f, "/params/h0/W", ML_F32, 1, want, &r);
    CHECK(s == ML_ESHAPE && contains(ml_last_error(), "expected float32 [784], found [784, 400]"),
          "expect rank: %s", ml_last_error());
    s = ml_h5_read_tensor_expect(f, "/params/h0/W", ML_I32, 2, wshape, &r);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "expected int32 [784, 400], found float32 [784, 400]"),
          "expect dtype: %s", ml_last_error());
    int64_t any[2] = {-1, 400};
    CHECK_OK(ml_h5_read_tensor_expect(f, "/params/h0/W", ML_F32, 2, any, &r), "expect [*, 400]");
    CHECK(r && r->shape[0] == 784, "wildcard matched");
    ml_tensor_free(r);
    r = NULL;
    int64_t any2[2] = {-1, 10};
    s = ml_h5_read_tensor_expect(f, "/params/h0/W", ML_F32, 2, any2, &r);
    CHECK(s == ML_ESHAPE && contains(ml_last_error(), "expected float32 [*, 10], found [784, 400]"),
          "wildcard in message: %s", ml_last_error());
    ml_h5_close(f);
    ml_tensor_free(W);
    ml_tensor_free(t);
}

static void test_failed_writes(void)
{
    const char *keep = tmp("keep.h5");
    const char precious[] = "precious bytes, not HDF5";
    write_bytes(keep, precious, sizeof precious);
    int64_t shape[2] = {50, 50};
    ml_tensor *t = pattern(ML_F32, 2, shape, 0);
    size_t n = 0;
    unsigned char *bytes;

    /* close without commit */
    ml_h5_file *f;
    CHECK_OK(ml_h5_create(keep, &f), "create over an existing file");
    CHECK_OK(ml_h5_write_tensor(f, "/X", t, NULL), "write");
    CHECK(count_temporaries() == 1, "one temporary while writing");
    ml_h5_close(f);
    bytes = read_bytes(keep, &n);
    CHECK(bytes && n == sizeof precious && memcmp(bytes, precious, n) == 0,
          "close without commit leaves the existing file byte-identical");
    free(bytes);
    CHECK(count_temporaries() == 0, "and removes the temporary");

    /* a failed write, then close */
    CHECK_OK(ml_h5_create(tmp("new.h5"), &f), "create new.h5");
    CHECK(ml_h5_write_tensor(f, "/X", t, &(ml_h5_write_opts){0, -1}) == ML_EINVAL,
          "a failing write");
    ml_h5_close(f);
    CHECK(file_size(tmp("new.h5")) < 0, "nothing under the final name after a failed write");

    /* a missing directory */
    char path[512], expect[600];
    snprintf(path, sizeof path, "%s/out/dir/model.h5", dir);
    ml_status s = ml_h5_create(path, &f);
    snprintf(expect, sizeof expect, "%s: cannot create: No such file or directory", path);
    CHECK(s == ML_EIO && f == NULL && strcmp(ml_last_error(), expect) == 0, "missing directory: %s",
          ml_last_error());
    snprintf(path, sizeof path, "%s/keep.h5/model.h5", dir);
    s = ml_h5_create(path, &f);
    CHECK(s == ML_EIO && contains(ml_last_error(), "cannot create: Not a directory"),
          "a file as directory: %s", ml_last_error());
    s = ml_h5_create(dir, &f);
    CHECK(s == ML_EIO && contains(ml_last_error(), "cannot create: Is a directory"),
          "a directory as target: %s", ml_last_error());
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "%s/ro", dir);
        mkdir(path, 0555);
        snprintf(path, sizeof path, "%s/ro/m.h5", dir);
        s = ml_h5_create(path, &f);
        CHECK(s == ML_EIO && contains(ml_last_error(), "cannot create: Permission denied"),
              "read-only directory: %s", ml_last_error());
        snprintf(path, sizeof path, "%s/ro", dir);
        rmdir(path);
    } else {
        CHECK(1, "# SKIP read-only directory (running as root)");
    }
    bytes = read_bytes(keep, &n);
    CHECK(bytes && n == sizeof precious && memcmp(bytes, precious, n) == 0,
          "existing file still intact");
    free(bytes);

    /* commit replaces it */
    CHECK_OK(ml_h5_create(keep, &f), "create over it again");
    CHECK_OK(ml_h5_write_tensor(f, "/X", t, NULL), "write");
    CHECK(file_size(keep) == (int64_t)sizeof precious, "the old file stays until the commit");
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);
    ml_tensor *r = NULL;
    CHECK_OK(ml_h5_open(keep, &f), "the committed file opens");
    CHECK_OK(ml_h5_read_tensor(f, "/X", &r), "read");
    CHECK(tensor_equal(r, t), "committed data");
    ml_tensor_free(r);
    ml_h5_close(f);
    struct stat st;
    stat(keep, &st);
    mode_t mask = umask(0);
    umask(mask);
    CHECK((st.st_mode & 0777) == (0666 & ~mask), "committed file has mode 0666 & ~umask (%o)",
          (unsigned)(st.st_mode & 0777));
    /* relative path in the current directory */
    char cwd[512];
    int rc = getcwd(cwd, sizeof cwd) != NULL && chdir(dir) == 0;
    CHECK(rc, "chdir to the scratch folder");
    CHECK_OK(ml_h5_create("rel.h5", &f), "create a relative path");
    CHECK_OK(ml_h5_commit(f), "commit it");
    ml_h5_close(f);
    rc = file_size("rel.h5") > 0;
    rc = chdir(cwd) == 0 && rc;
    CHECK(rc, "rel.h5 written");
    ml_h5_close(NULL);
    ml_tensor_free(t);
}

static void test_h5dump(void)
{
    if (access("/usr/bin/h5dump", X_OK) != 0) {
        CHECK(1, "# SKIP h5dump not installed");
        return;
    }
    ml_h5_file *f;
    int64_t shape[2] = {100, 10};
    ml_tensor *X = pattern(ML_F32, 2, shape, 0), *y = pattern(ML_I32, 1, shape, 0);
    ml_h5_write_opts opts = {ML_H5_CHUNK_AUTO, 4};
    CHECK_OK(ml_h5_create(tmp("dump.h5"), &f), "create dump.h5");
    CHECK_OK(ml_h5_write_tensor(f, "/X", X, &opts), "write X");
    CHECK_OK(ml_h5_write_tensor(f, "/y", y, NULL), "write y");
    CHECK_OK(ml_h5_attr_write_str(f, "/", "ml_format", "ml-dataset"), "attr");
    CHECK_OK(ml_h5_write_text(f, "/experiment", "a: 1\n"), "text");
    CHECK_OK(ml_h5_commit(f), "commit");
    ml_h5_close(f);
    char cmd[600], out[16384] = "";
    snprintf(cmd, sizeof cmd, "/usr/bin/h5dump -H -p '%s' 2>&1", tmp("dump.h5"));
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int rc = p ? pclose(p) : -1;
    CHECK(rc == 0, "h5dump -H reads the file");
    CHECK(contains(out, "H5T_IEEE_F32LE") && contains(out, "H5T_STD_I32LE") &&
              contains(out, "SHUFFLE") && contains(out, "DEFLATE") &&
              contains(out, "H5T_CSET_UTF8"),
          "h5dump sees float32 LE, int32 LE, shuffle+deflate, UTF-8 strings");
    ml_tensor_free(X);
    ml_tensor_free(y);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    scratch_begin("test_h5");
    uint64_t live = ml_alloc_stats_get().bytes_live;
    /* Everything the library (or HDF5) might print to stderr lands in a file. */
    fflush(stderr);
    int saved_stderr = dup(2);
    int err_fd = open(tmp("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(err_fd, 2);
    close(err_fd);
    test_round_trip();
    test_compression();
    test_attributes_and_text();
    test_list();
    test_append_and_rows();
    test_pipes();
    test_bad_files();
    test_failed_writes();
    test_h5dump();
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    int64_t err_size = file_size(tmp("stderr.txt"));
    CHECK(err_size == 0, "nothing was printed to stderr (%lld bytes)", (long long)err_size);
    if (err_size > 0) {
        size_t n = 0;
        unsigned char *text = read_bytes(tmp("stderr.txt"), &n);
        fprintf(stderr, "%.*s", (int)(n < 4000 ? n : 4000), (char *)text);
        free(text);
    }
    CHECK(count_temporaries() == 0, "no temporary files left in the folder");
    CHECK(ml_alloc_stats_get().bytes_live == live, "every ml_malloc was freed (%lld bytes live)",
          (long long)(ml_alloc_stats_get().bytes_live - live));
    scratch_end();
    return harness_done();
}
