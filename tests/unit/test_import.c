/* lib/data importers: CSV (header or not, label columns by number and name,
 * class names, quoted fields, tabs, gzip, bad numbers with their position,
 * ragged rows), NumPy .npy (every dtype, v1 and v2 headers, Fortran order,
 * unsupported types, truncation, X/y row mismatch, image shapes) and named
 * datasets of HDF5 files written with the library's h5 module.  Every fixture
 * is written here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "scratch.h"
#include "ml.h"

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static void write_text(const char *path, const char *text, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        gzwrite(g, text, (unsigned)strlen(text));
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        fputs(text, f);
        fclose(f);
    }
}

/* ---- CSV ----------------------------------------------------------------- */

static ml_dataset *csv(const char *name, const char *text, const ml_csv_opts *o, ml_status *s)
{
    write_text(tmp(name), text, 0);
    ml_dataset *ds = NULL;
    *s = ml_csv_import(tmp(name), o, &ds);
    return ds;
}

static void test_csv(void)
{
    ml_status s;
    ml_dataset *ds = csv("a.csv", "1,2,3\n4,5.5,0\n\n-1e2, 7 ,2\n", NULL, &s);
    CHECK(s == ML_OK && ds, "csv: no header, labels in the last column");
    if (ds) {
        const float *x = ml_tensor_f32(ds->X);
        const int32_t *y = ml_tensor_i32(ds->y);
        CHECK(ds->X->shape[0] == 3 && ds->X->shape[1] == 2, "csv: X [3, 2]");
        CHECK(x[0] == 1 && x[1] == 2 && x[2] == 4 && x[3] == 5.5f && x[4] == -100 && x[5] == 7,
              "csv: feature values (blank line skipped, spaces around numbers)");
        CHECK(y[0] == 3 && y[1] == 0 && y[2] == 2 && ds->n_classes == 4 && !ds->y_labels,
              "csv: integer labels, n_classes 4, no names");
    }
    ml_dataset_free(ds);

    ds = csv("h.csv", "f1,label,f2\r\n0.5,cat,1\r\n1.5,dog,2\r\n2.5,cat,3\r\n",
             &(ml_csv_opts){.header = -1, .label_name = "label"}, &s);
    CHECK(s == ML_OK && ds, "csv: header detected, CRLF, label column by name");
    if (ds) {
        const float *x = ml_tensor_f32(ds->X);
        const int32_t *y = ml_tensor_i32(ds->y);
        CHECK(ds->X->shape[1] == 2 && x[0] == 0.5f && x[1] == 1 && x[4] == 2.5f && x[5] == 3,
              "csv: features around the label column");
        CHECK(y[0] == 0 && y[1] == 1 && y[2] == 0 && ds->n_classes == 2,
              "csv: names numbered in order of first appearance");
        CHECK(ds->n_y_labels == 2 && strcmp(ds->y_labels[0], "cat") == 0 &&
                  strcmp(ds->y_labels[1], "dog") == 0,
              "csv: y_labels kept");
        CHECK_OK(ml_dataset_check_labels(ds), "csv: labels pass the dataset checks");
    }
    ml_dataset_free(ds);

    ds = csv("c1.csv", "7,1,2\n8,3,4\n", &(ml_csv_opts){.header = 0, .label_column = 1}, &s);
    CHECK(s == ML_OK && ds && ml_tensor_i32(ds->y)[1] == 8 && ml_tensor_f32(ds->X)[0] == 1,
          "csv: --label-column 1");
    ml_dataset_free(ds);

    ds = csv("fl.csv", "1,1.0\n2,0.0\n3,2e0\n", NULL, &s);
    CHECK(s == ML_OK && ds && !ds->y_labels && ml_tensor_i32(ds->y)[2] == 2 && ds->n_classes == 3,
          "csv: integral float labels (1.0) are class indices");
    ml_dataset_free(ds);
    ds = csv("mx.csv", "1,0\n2,0.5\n3,-1\n", NULL, &s);
    CHECK(s == ML_OK && ds && ds->n_y_labels == 3 && strcmp(ds->y_labels[1], "0.5") == 0,
          "csv: fractional or negative labels are names");
    ml_dataset_free(ds);

    ds = csv("nl.csv", "1,2\n3,4\n", &(ml_csv_opts){.header = -1, .no_labels = 1}, &s);
    CHECK(s == ML_OK && ds && !ds->y && ds->X->shape[1] == 2, "csv: no labels");
    ml_dataset_free(ds);

    ds = csv("hdr.csv", "a,b\n1,2\n", &(ml_csv_opts){.header = 0}, &s);
    CHECK(s == ML_EFORMAT && !ds && contains(ml_last_error(), "hdr.csv:1:1: 'a' is not a number"),
          "csv: --no-header makes a header line data: %s", ml_last_error());

    ds = csv("q.csv", "\"x, y\",label\n\"1\", 2\n3,\"say \"\"hi\"\"\"\n",
             &(ml_csv_opts){.header = 1}, &s);
    CHECK(s == ML_OK && ds && ml_tensor_f32(ds->X)[0] == 1 && ds->n_y_labels == 2 &&
              strcmp(ds->y_labels[1], "say \"hi\"") == 0,
          "csv: quoted fields");
    ml_dataset_free(ds);

    ds = csv("t.tsv", "1\t2\t0\n3\t4\t1\n", &(ml_csv_opts){.header = -1, .delimiter = '\t'}, &s);
    CHECK(s == ML_OK && ds && ml_tensor_f32(ds->X)[3] == 4, "csv: tab delimiter");
    ml_dataset_free(ds);

    write_text(tmp("g.csv.gz"), "1,2,1\n3,4,0\n", 1);
    CHECK_OK(ml_csv_import(tmp("g.csv.gz"), NULL, &ds), "csv: gzip-compressed");
    CHECK(ds && ds->X->shape[0] == 2 && ml_tensor_f32(ds->X)[2] == 3, "csv: gzip values");
    ml_dataset_free(ds);

    ds = csv("bad.csv", "1,2,0\n1,2,0\n1,2,0\n4,abc,1\n", NULL, &s);
    CHECK(s == ML_EFORMAT && !ds && contains(ml_last_error(), "bad.csv:4:2: 'abc' is not a number"),
          "csv: a bad number named by line and column: %s", ml_last_error());
    ds = csv("empty-field.csv", "1,,0\n", NULL, &s);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), ":1:2: '' is not a number"),
          "csv: an empty field: %s", ml_last_error());
    ds = csv("rag.csv", "1,2,0\n1,2,0\n1,0\n", NULL, &s);
    CHECK(s == ML_EFORMAT && !ds &&
              contains(ml_last_error(), "rag.csv:3: 2 fields, expected 3 (as on line 1)"),
          "csv: a ragged row: %s", ml_last_error());
    ds = csv("uq.csv", "1,\"abc\n", NULL, &s);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "uq.csv:1:2: unterminated"),
          "csv: an unterminated quote: %s", ml_last_error());
    ds = csv("col.csv", "1,2\n", &(ml_csv_opts){.label_column = 5}, &s);
    CHECK(s == ML_EINVAL && contains(ml_last_error(), "label column 5"),
          "csv: label column out of range: %s", ml_last_error());
    ds = csv("name.csv", "a,b\n1,2\n", &(ml_csv_opts){.header = -1, .label_name = "c"}, &s);
    CHECK(s == ML_ENOTFOUND && contains(ml_last_error(), "no column named 'c'"),
          "csv: label column name not in the header: %s", ml_last_error());
    ds = csv("void.csv", "", NULL, &s);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "empty"), "csv: empty file: %s",
          ml_last_error());
    s = ml_csv_import(tmp("absent.csv"), NULL, &ds);
    CHECK(s == ML_EIO && contains(ml_last_error(), "absent.csv: cannot open"),
          "csv: missing file");

    ds = csv("nan.csv", "1,nan,0\n2,3,1\n", NULL, &s);
    CHECK(s == ML_OK && ds, "csv: nan parses");
    CHECK(ds && ml_dataset_check_finite(ds) == ML_ENUMERIC &&
              contains(ml_last_error(), "row 0 column 1 is NaN"),
          "csv: NaN caught by ml_dataset_check_finite: %s", ml_last_error());
    ml_dataset_free(ds);
}

/* ---- NPY ----------------------------------------------------------------- */

/* A .npy file: descr, fortran flag, shape text like "(2, 3)", data; version 1 or 2;
 * keep bytes of the whole file (-1: all). */
static void write_npy(const char *path, int version, const char *descr, int fortran,
                      const char *shape, const void *data, size_t bytes, long keep)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
                     descr, fortran ? "True" : "False", shape);
    size_t pre = version == 1 ? 10 : 12;
    size_t total = pre + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    size_t size = pre + hlen + bytes;
    unsigned char *buf = malloc(size);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)version;
    buf[7] = 0;
    if (version == 1) {
        buf[8] = hlen & 0xff;
        buf[9] = (hlen >> 8) & 0xff;
    } else {
        for (int i = 0; i < 4; i++)
            buf[8 + i] = (hlen >> (8 * i)) & 0xff;
    }
    memcpy(buf + pre, dict, (size_t)n);
    memset(buf + pre + n, ' ', pad);
    buf[pre + hlen - 1] = '\n';
    if (bytes)
        memcpy(buf + pre + hlen, data, bytes);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, keep >= 0 ? (size_t)keep : size, f);
    fclose(f);
    free(buf);
}

static void test_npy(void)
{
    /* every dtype: values 0..5 as [2, 3] */
    uint8_t u1[6];
    int32_t i4[6];
    int64_t i8[6];
    float f4[6];
    double f8[6];
    for (int i = 0; i < 6; i++) {
        u1[i] = (uint8_t)(i * 50);
        i4[i] = i * 50;
        i8[i] = i * 50;
        f4[i] = (float)i * 50;
        f8[i] = i * 50.0;
    }
    const struct {
        const char *descr;
        const void *data;
        size_t size;
    } types[] = {{"|u1", u1, 1}, {"<i4", i4, 4}, {"<i8", i8, 8}, {"<f4", f4, 4}, {"<f8", f8, 8}};
    for (int version = 1; version <= 2; version++)
        for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
            write_npy(tmp("x.npy"), version, types[t].descr, 0, "(2, 3)", types[t].data,
                      6 * types[t].size, -1);
            ml_dataset *ds = NULL;
            ml_status s = ml_npy_import(tmp("x.npy"), NULL, &ds);
            int good = s == ML_OK && ds && ds->X->dtype == ML_F32 && ds->X->ndim == 2 &&
                       ds->X->shape[0] == 2 && ds->X->shape[1] == 3 && !ds->y;
            for (int i = 0; good && i < 6; i++)
                good = ml_tensor_f32(ds->X)[i] == (float)(i * 50);
            CHECK(good, "npy v%d: %s [2, 3] read as float32 values", version, types[t].descr);
            if (s != ML_OK)
                printf("#   %s\n", ml_last_error());
            ml_dataset_free(ds);
        }

    /* labels of each integer type, float targets */
    int64_t lab8[2] = {3, 1};
    uint8_t lab1[2] = {0, 2};
    write_npy(tmp("x.npy"), 1, "<f4", 0, "(2, 3)", f4, sizeof f4, -1);
    write_npy(tmp("y8.npy"), 1, "<i8", 0, "(2,)", lab8, sizeof lab8, -1);
    write_npy(tmp("y1.npy"), 1, "|u1", 0, "(2,)", lab1, sizeof lab1, -1);
    ml_dataset *ds = NULL;
    CHECK_OK(ml_npy_import(tmp("x.npy"), tmp("y8.npy"), &ds), "npy: X and int64 y");
    CHECK(ds && ds->y->dtype == ML_I32 && ml_tensor_i32(ds->y)[0] == 3 && ds->n_classes == 4,
          "npy: int64 labels as int32 classes (n_classes 4)");
    ml_dataset_free(ds);
    CHECK_OK(ml_npy_import(tmp("x.npy"), tmp("y1.npy"), &ds), "npy: uint8 y");
    CHECK(ds && ml_tensor_i32(ds->y)[1] == 2 && ds->n_classes == 3, "npy: uint8 labels");
    ml_dataset_free(ds);
    float targ[4] = {0.5f, 1, 2, 3};
    write_npy(tmp("yf.npy"), 1, "<f4", 0, "(2, 2)", targ, sizeof targ, -1);
    CHECK_OK(ml_npy_import(tmp("x.npy"), tmp("yf.npy"), &ds), "npy: float y");
    CHECK(ds && ds->y->dtype == ML_F32 && ds->y->ndim == 2 && ds->y->shape[1] == 2 &&
              ml_tensor_f32(ds->y)[0] == 0.5f && ds->n_classes == 0,
          "npy: float [N, K] targets");
    ml_dataset_free(ds);

    /* shapes: 1-D, 3-D and 4-D images, 5-D flattened */
    float v[48];
    for (int i = 0; i < 48; i++)
        v[i] = (float)i;
    write_npy(tmp("r1.npy"), 1, "<f4", 0, "(4,)", v, 16, -1);
    CHECK_OK(ml_npy_import(tmp("r1.npy"), NULL, &ds), "npy: 1-D X");
    CHECK(ds && ds->X->ndim == 2 && ds->X->shape[0] == 4 && ds->X->shape[1] == 1,
          "npy: 1-D X as [N, 1]");
    ml_dataset_free(ds);
    write_npy(tmp("r3.npy"), 1, "<f4", 0, "(2, 4, 6)", v, sizeof v, -1);
    CHECK_OK(ml_npy_import(tmp("r3.npy"), NULL, &ds), "npy: 3-D X");
    CHECK(ds && ds->X->ndim == 4 && ds->X->shape[1] == 1 && ds->X->shape[2] == 4 &&
              ds->X->shape[3] == 6 && ds->image_shape[0] == 1 && ds->image_shape[1] == 4 &&
              ds->image_shape[2] == 6 && ml_tensor_f32(ds->X)[47] == 47,
          "npy: [N, H, W] as images [N, 1, H, W]");
    CHECK(ds && ml_dataset_check_labels(ds) == ML_OK, "npy: image shape passes the checks");
    ml_dataset_free(ds);
    write_npy(tmp("r4.npy"), 1, "<f4", 0, "(2, 3, 2, 4)", v, sizeof v, -1);
    CHECK_OK(ml_npy_import(tmp("r4.npy"), NULL, &ds), "npy: 4-D X");
    CHECK(ds && ds->X->ndim == 4 && ds->image_shape[0] == 3 && ds->image_shape[1] == 2 &&
              ds->image_shape[2] == 4,
          "npy: [N, C, H, W] kept with image_shape {C, H, W}");
    ml_dataset_free(ds);
    write_npy(tmp("r5.npy"), 1, "<f4", 0, "(2, 2, 2, 2, 3)", v, sizeof v, -1);
    CHECK_OK(ml_npy_import(tmp("r5.npy"), NULL, &ds), "npy: 5-D X");
    CHECK(ds && ds->X->ndim == 2 && ds->X->shape[1] == 24 && ds->image_shape[0] == 0,
          "npy: 5-D flattened to [N, D]");
    ml_dataset_free(ds);

    /* bad input */
    ml_status s;
    write_npy(tmp("fo.npy"), 1, "<f4", 1, "(2, 3)", f4, sizeof f4, -1);
    s = ml_npy_import(tmp("fo.npy"), NULL, &ds);
    CHECK(s == ML_EFORMAT && !ds &&
              contains(ml_last_error(), "fo.npy: Fortran-order arrays are not supported"),
          "npy: Fortran order refused: %s", ml_last_error());
    const char *bad_types[] = {"<c8", ">f4", "<f2", "|b1", "<u2"};
    for (size_t i = 0; i < sizeof bad_types / sizeof *bad_types; i++) {
        char want[64];
        write_npy(tmp("bt.npy"), 1, bad_types[i], 0, "(2, 3)", f8, sizeof f8, -1);
        s = ml_npy_import(tmp("bt.npy"), NULL, &ds);
        snprintf(want, sizeof want, "dtype '%s' is not supported", bad_types[i]);
        CHECK(s == ML_EFORMAT && contains(ml_last_error(), want), "npy: %s refused: %s",
              bad_types[i], ml_last_error());
    }
    write_npy(tmp("tr.npy"), 1, "<f8", 0, "(2, 3)", f8, sizeof f8, 128 + 20);
    s = ml_npy_import(tmp("tr.npy"), NULL, &ds);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "tr.npy: truncated: expected 48 bytes of data, found 20"),
          "npy: truncated data: %s", ml_last_error());
    write_npy(tmp("th.npy"), 1, "<f8", 0, "(2, 3)", f8, sizeof f8, 40);
    s = ml_npy_import(tmp("th.npy"), NULL, &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "truncated"),
          "npy: truncated header: %s", ml_last_error());
    write_text(tmp("not.npy"), "hello, world\n", 0);
    s = ml_npy_import(tmp("not.npy"), NULL, &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "not a .npy file"), "npy: not npy: %s",
          ml_last_error());
    int64_t three[3] = {0, 1, 2};
    write_npy(tmp("y3.npy"), 1, "<i8", 0, "(3,)", three, sizeof three, -1);
    s = ml_npy_import(tmp("x.npy"), tmp("y3.npy"), &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "y3.npy has 3 rows") &&
              contains(ml_last_error(), "x.npy has 2"),
          "npy: X and y rows differ, both files named: %s", ml_last_error());
    int64_t neg[2] = {0, -1};
    write_npy(tmp("yn.npy"), 1, "<i8", 0, "(2,)", neg, sizeof neg, -1);
    s = ml_npy_import(tmp("x.npy"), tmp("yn.npy"), &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "label -1"), "npy: negative label: %s",
          ml_last_error());
    int64_t big[2] = {0, (int64_t)1 << 40};
    write_npy(tmp("yb.npy"), 1, "<i8", 0, "(2,)", big, sizeof big, -1);
    s = ml_npy_import(tmp("x.npy"), tmp("yb.npy"), &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "outside the int32 range"),
          "npy: int64 out of int32 range: %s", ml_last_error());
    double nan2[2] = {NAN, 1};
    write_npy(tmp("nan.npy"), 1, "<f8", 0, "(2,)", nan2, sizeof nan2, -1);
    CHECK_OK(ml_npy_import(tmp("nan.npy"), NULL, &ds), "npy: NaN reads");
    CHECK(ds && ml_dataset_check_finite(ds) == ML_ENUMERIC, "npy: NaN caught by the check");
    ml_dataset_free(ds);
}

/* ---- HDF5 ---------------------------------------------------------------- */

static void test_hdf5(void)
{
    ml_h5_file *f = NULL;
    float xv[12];
    for (int i = 0; i < 12; i++)
        xv[i] = (float)i / 2;
    int32_t yv[3] = {2, 0, 1};
    double tv[3] = {0.5, 1.5, 2.5};
    CHECK_OK(ml_h5_create(tmp("a.h5"), &f), "hdf5: create fixture");
    CHECK_OK(ml_h5_write_array(f, "/data/features", ML_H5_F32, 2, (int64_t[]){3, 4}, xv, NULL),
             "hdf5: write features");
    CHECK_OK(ml_h5_write_array(f, "/data/labels", ML_H5_I32, 1, (int64_t[]){3}, yv, NULL),
             "hdf5: write labels");
    CHECK_OK(ml_h5_write_array(f, "/img", ML_H5_F32, 3, (int64_t[]){3, 2, 2}, xv, NULL),
             "hdf5: write images");
    CHECK_OK(ml_h5_write_array(f, "/targets", ML_H5_F64, 1, (int64_t[]){3}, tv, NULL),
             "hdf5: write targets");
    CHECK_OK(ml_h5_write_array(f, "/short", ML_H5_I32, 1, (int64_t[]){2}, yv, NULL),
             "hdf5: write short labels");
    CHECK_OK(ml_h5_commit(f), "hdf5: commit");
    ml_h5_close(f);

    ml_dataset *ds = NULL;
    CHECK_OK(ml_hdf5_import(tmp("a.h5"), "/data/features", "data/labels", &ds),
             "hdf5: import X and y by name");
    CHECK(ds && ds->X->shape[0] == 3 && ds->X->shape[1] == 4 && ml_tensor_f32(ds->X)[11] == 5.5f &&
              ml_tensor_i32(ds->y)[0] == 2 && ds->n_classes == 3 && contains(ds->name, "a.h5"),
          "hdf5: values, labels, n_classes");
    ml_dataset_free(ds);
    CHECK_OK(ml_hdf5_import(tmp("a.h5"), "img", "targets", &ds), "hdf5: images and targets");
    CHECK(ds && ds->X->ndim == 4 && ds->image_shape[1] == 2 && ds->y->dtype == ML_F32 &&
              ds->y->shape[1] == 1 && ml_tensor_f32(ds->y)[2] == 2.5f,
          "hdf5: [N, H, W] as images, float y as [N, 1] targets");
    ml_dataset_free(ds);
    CHECK_OK(ml_hdf5_import(tmp("a.h5"), "data/labels", NULL, &ds), "hdf5: integer X");
    CHECK(ds && ds->X->dtype == ML_F32 && ml_tensor_f32(ds->X)[0] == 2, "hdf5: integer X as float");
    ml_dataset_free(ds);

    ml_status s = ml_hdf5_import(tmp("a.h5"), "nope", NULL, &ds);
    CHECK(s == ML_ENOTFOUND && !ds && contains(ml_last_error(), "a.h5:/nope: not found"),
          "hdf5: missing dataset named: %s", ml_last_error());
    s = ml_hdf5_import(tmp("a.h5"), "data", NULL, &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "a.h5:/data: not a dataset"),
          "hdf5: a group is not a dataset: %s", ml_last_error());
    s = ml_hdf5_import(tmp("a.h5"), "data/features", "short", &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "a.h5:/short has 2 rows") &&
              contains(ml_last_error(), "a.h5:/data/features has 3"),
          "hdf5: row mismatch: %s", ml_last_error());
    write_text(tmp("t.h5"), "not hdf5\n", 0);
    s = ml_hdf5_import(tmp("t.h5"), "X", NULL, &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "not an HDF5 file"), "hdf5: not HDF5: %s",
          ml_last_error());
}

int main(void)
{
    scratch_begin("test_import");
    uint64_t live = ml_alloc_stats_get().bytes_live;
    test_csv();
    test_npy();
    test_hdf5();
    CHECK(ml_alloc_stats_get().bytes_live == live, "no memory left allocated (%lld bytes)",
          (long long)(ml_alloc_stats_get().bytes_live - live));
    scratch_end();
    return harness_done();
}
