/* lib/data: IDX parsing (raw and gzip files written here with zlib; truncated,
 * bad magic, count mismatch), dataset files (round trips with row ranges,
 * labels, images, provenance; the checks on load), split, shuffle, and
 * standardize against values computed here in double. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "scratch.h"
#include "ml.h"

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- IDX fixtures ------------------------------------------------------ */

/* An IDX file of unsigned bytes with the given dimensions; payload holds `have`
 * bytes (fewer than the header says: a truncated file). gz: gzip-compressed. */
static void write_idx(const char *path, int gz, int ndim, const uint32_t *dims,
                      const unsigned char *payload, size_t have, const unsigned char *magic)
{
    unsigned char head[4 + 4 * 4];
    unsigned char m[4] = {0, 0, 0x08, (unsigned char)ndim};
    memcpy(head, magic ? magic : m, 4);
    for (int i = 0; i < ndim; i++) {
        head[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        head[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        head[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        head[7 + 4 * i] = (unsigned char)dims[i];
    }
    size_t hn = 4 + 4 * (size_t)ndim;
    if (gz) {
        gzFile g = gzopen(path, "wb");
        gzwrite(g, head, (unsigned)hn);
        if (have)
            gzwrite(g, payload, (unsigned)have);
        gzclose(g);
    } else {
        FILE *fp = fopen(path, "wb");
        fwrite(head, 1, hn, fp);
        if (have)
            fwrite(payload, 1, have, fp);
        fclose(fp);
    }
}

static void truncate_file(const char *path, long keep)
{
    if (truncate(path, keep) != 0)
        perror("truncate");
}

enum { IN = 5, IH = 3, IW = 4 };

static unsigned char pixels[IN * IH * IW];
static unsigned char labels[IN] = {3, 0, 2, 3, 1};

static void test_idx(void)
{
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (unsigned char)(i * 37 % 256);
    uint32_t idims[3] = {IN, IH, IW}, ldims[1] = {IN};
    for (int gz = 0; gz <= 1; gz++) {
        const char *img = tmp(gz ? "img.gz" : "img.idx"), *lab = tmp(gz ? "lab.gz" : "lab.idx");
        write_idx(img, gz, 3, idims, pixels, sizeof pixels, NULL);
        write_idx(lab, gz, 1, ldims, labels, sizeof labels, NULL);
        ml_dataset *ds = NULL;
        CHECK_OK(ml_idx_import(img, lab, NULL, &ds), "idx (%s): import", gz ? "gzip" : "raw");
        if (!ds)
            continue;
        CHECK(ds->X->ndim == 2 && ds->X->shape[0] == IN && ds->X->shape[1] == IH * IW,
              "idx (%s): X is [5, 12]", gz ? "gzip" : "raw");
        CHECK(ds->image_shape[0] == 1 && ds->image_shape[1] == IH && ds->image_shape[2] == IW,
              "idx (%s): image shape [1, 3, 4]", gz ? "gzip" : "raw");
        int ok = 1;
        for (int i = 0; i < IN * IH * IW; i++)
            ok &= ml_tensor_f32(ds->X)[i] == (float)pixels[i] / 255.0f;
        CHECK(ok, "idx (%s): pixels scaled to [0, 1]", gz ? "gzip" : "raw");
        ok = ds->y && ds->y->dtype == ML_I32 && ds->y->shape[0] == IN;
        for (int i = 0; ok && i < IN; i++)
            ok &= ml_tensor_i32(ds->y)[i] == labels[i];
        CHECK(ok, "idx (%s): labels", gz ? "gzip" : "raw");
        CHECK(ds->n_classes == 4 && ds->y_labels == NULL, "idx (%s): 4 classes, no class names",
              gz ? "gzip" : "raw");
        CHECK(strcmp(ds->name, img) == 0, "idx (%s): named after the images file",
              gz ? "gzip" : "raw");
        ml_dataset_free(ds);
    }

    ml_idx_opts raw = {.raw_pixels = 1};
    ml_tensor *x = NULL;
    int64_t shape[3];
    CHECK_OK(ml_idx_read_images(tmp("img.gz"), &raw, &x, shape), "idx: raw pixels");
    CHECK(x && ml_tensor_f32(x)[7] == (float)pixels[7] && ml_tensor_f32(x)[7] > 1,
          "idx: raw pixels keep 0..255");
    ml_tensor_free(x);

    ml_dataset *ds = NULL;
    CHECK_OK(ml_idx_import(tmp("img.idx"), NULL, NULL, &ds), "idx: images without labels");
    CHECK(ds && ds->y == NULL && ds->n_classes == 0, "idx: no labels, no y");
    ml_dataset_free(ds);

    /* truncated payload, raw and gzip */
    write_idx(tmp("trunc.idx"), 0, 3, idims, pixels, 17, NULL);
    ml_status s = ml_idx_import(tmp("trunc.idx"), NULL, NULL, &ds);
    CHECK(s == ML_EFORMAT && ds == NULL, "idx: truncated raw file fails");
    CHECK(contains(ml_last_error(), "trunc.idx: truncated: expected 60 bytes of pixels, found 17"),
          "idx: truncated message (%s)", ml_last_error());
    write_idx(tmp("trunc.gz"), 1, 3, idims, pixels, 23, NULL);
    s = ml_idx_import(tmp("trunc.gz"), NULL, NULL, &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(),
                                      "trunc.gz: truncated: expected 60 bytes of pixels, found 23"),
          "idx: truncated gzip payload (%s)", ml_last_error());
    /* a gzip stream cut short */
    write_idx(tmp("cut.gz"), 1, 3, idims, pixels, sizeof pixels, NULL);
    truncate_file(tmp("cut.gz"), 30);
    s = ml_idx_import(tmp("cut.gz"), NULL, NULL, &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "cut.gz: truncated: expected"),
          "idx: gzip stream cut short (%s)", ml_last_error());
    write_idx(tmp("trunclab.idx"), 0, 1, ldims, labels, 2, NULL);
    s = ml_idx_read_labels(tmp("trunclab.idx"), &x, NULL);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "expected 5 bytes of labels, found 2"),
          "idx: truncated labels (%s)", ml_last_error());
    write_idx(tmp("head.idx"), 0, 0, idims, NULL, 0, (const unsigned char[]){0, 0, 8, 3});
    {
        FILE *fp = fopen(tmp("head.idx"), "ab");
        fwrite("\0\0\0", 1, 3, fp);
        fclose(fp);
    }
    s = ml_idx_import(tmp("head.idx"), NULL, NULL, &ds);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "truncated: expected 16 bytes of header, found 7"),
          "idx: truncated header (%s)", ml_last_error());

    /* bad magic, wrong kind, missing file, empty file */
    write_idx(tmp("magic.idx"), 0, 3, idims, pixels, sizeof pixels,
              (const unsigned char[]){'P', '5', 0x08, 3});
    s = ml_idx_import(tmp("magic.idx"), NULL, NULL, &ds);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "magic.idx: not an IDX file (bad magic 0x50350803"),
          "idx: bad magic (%s)", ml_last_error());
    write_idx(tmp("float.idx"), 0, 3, idims, pixels, sizeof pixels,
              (const unsigned char[]){0, 0, 0x0D, 3});
    s = ml_idx_import(tmp("float.idx"), NULL, NULL, &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "element type 0x0d is not supported"),
          "idx: other element types refused (%s)", ml_last_error());
    s = ml_idx_import(tmp("lab.idx"), NULL, NULL, &ds);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "expected IDX images of 3 dimensions, found 1"),
          "idx: labels given as images (%s)", ml_last_error());
    s = ml_idx_import(tmp("absent.idx"), NULL, NULL, &ds);
    CHECK(s == ML_EIO && contains(ml_last_error(), "absent.idx: cannot open: No such file"),
          "idx: missing file (%s)", ml_last_error());
    fclose(fopen(tmp("empty.idx"), "wb"));
    s = ml_idx_import(tmp("empty.idx"), NULL, NULL, &ds);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "empty.idx: not an IDX file (empty)"),
          "idx: empty file (%s)", ml_last_error());

    /* label count differs */
    uint32_t four[1] = {4};
    write_idx(tmp("lab4.idx"), 0, 1, four, labels, 4, NULL);
    s = ml_idx_import(tmp("img.idx"), tmp("lab4.idx"), NULL, &ds);
    char want[256];
    snprintf(want, sizeof want, "%s has 4 labels, %s has 5 images", tmp("lab4.idx"),
             tmp("img.idx"));
    CHECK(s == ML_EFORMAT && ds == NULL && contains(ml_last_error(), want),
          "idx: count mismatch names both files (%s)", ml_last_error());
}

/* ---- datasets ---------------------------------------------------------- */

/* n rows of d features (x[i][j] = i + j/100), labels i % k. */
static ml_dataset *make_dataset(int64_t n, int64_t d, int k)
{
    ml_dataset *ds = ml_dataset_new("made");
    ds->X = ml_tensor_new(ML_F32, 2, (int64_t[]){n, d}, ML_CPU);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            ml_tensor_f32(ds->X)[i * d + j] = (float)i + (float)j / 100.0f;
    if (k > 0) {
        ds->y = ml_tensor_new(ML_I32, 1, &n, ML_CPU);
        for (int64_t i = 0; i < n; i++)
            ml_tensor_i32(ds->y)[i] = (int32_t)(i % k);
        ds->n_classes = k;
    }
    return ds;
}

static int same_rows(const ml_dataset *a, int64_t a0, const ml_dataset *b, int64_t b0, int64_t n)
{
    int64_t d = ml_dataset_n_features(a);
    if (d != ml_dataset_n_features(b))
        return 0;
    if (memcmp(ml_tensor_f32(a->X) + a0 * d, ml_tensor_f32(b->X) + b0 * d, (size_t)(n * d) * 4))
        return 0;
    if (!a->y != !b->y)
        return 0;
    return !a->y || memcmp(ml_tensor_i32(a->y) + a0, ml_tensor_i32(b->y) + b0, (size_t)n * 4) == 0;
}

static void test_files(void)
{
    ml_dataset *ds = make_dataset(1000, 12, 3);
    ds->image_shape[0] = 1;
    ds->image_shape[1] = 3;
    ds->image_shape[2] = 4;
    const char *names[] = {"cat", "dog", "bird"};
    CHECK_OK(ml_dataset_set_y_labels(ds, names, 3), "files: class names");
    CHECK_OK(ml_dataset_add_provenance(ds, "step one"), "files: provenance line");
    char *argv[] = {"ml-preprocess", "split", "a b.h5", "it's", "--counts", "1,2"};
    CHECK_OK(ml_dataset_add_command(ds, 6, argv), "files: command line");
    CHECK(strcmp(ds->provenance,
                 "step one\nml-preprocess split 'a b.h5' 'it'\\''s' --counts 1,2\n") == 0,
          "files: provenance lines, quoted for the shell");
    ml_dataset_save_opts so = {.deflate = 4};
    CHECK_OK(ml_dataset_save(ds, tmp("d.h5"), &so), "files: save compressed");

    ml_dataset *back = NULL;
    CHECK_OK(ml_dataset_load(tmp("d.h5"), NULL, &back), "files: load");
    if (back) {
        CHECK(same_rows(ds, 0, back, 0, 1000), "files: round trip of X and y");
        CHECK(back->n_classes == 3 && back->n_y_labels == 3 &&
                  strcmp(back->y_labels[2], "bird") == 0,
              "files: n_classes and class names");
        CHECK(back->image_shape[1] == 3 && back->image_shape[2] == 4, "files: image shape");
        CHECK(back->provenance && strcmp(back->provenance, ds->provenance) == 0,
              "files: provenance");
        CHECK(strcmp(back->name, tmp("d.h5")) == 0, "files: named after the file");
    }
    ml_dataset_free(back);

    ml_h5_file *f = NULL;
    char *str = NULL;
    int64_t v = 0, *img = NULL, nimg = 0;
    /* (CHECK evaluates its condition twice: read first, then check) */
    CHECK_OK(ml_h5_open(tmp("d.h5"), &f), "files: open with h5");
    ml_status r = ml_h5_attr_read_str(f, "/", "ml_format", &str);
    CHECK(r == ML_OK && strcmp(str, "ml-dataset") == 0, "files: ml_format");
    ml_free(str);
    r = ml_h5_attr_read_i64(f, "/", "ml_format_version", &v);
    CHECK(r == ML_OK && v == 1, "files: ml_format_version 1");
    r = ml_h5_attr_read_str(f, "/", "ml_version", &str);
    CHECK(r == ML_OK && strcmp(str, ML_VERSION) == 0, "files: ml_version is ML_VERSION");
    ml_free(str);
    r = ml_h5_attr_read_i64(f, "/", "n_examples", &v);
    CHECK(r == ML_OK && v == 1000, "files: n_examples");
    r = ml_h5_attr_read_str(f, "/X", "axes", &str);
    CHECK(r == ML_OK && strcmp(str, "b,c,0,1") == 0, "files: axes");
    ml_free(str);
    r = ml_h5_attr_read_i64_array(f, "/X", "image_shape", &img, &nimg);
    CHECK(r == ML_OK && nimg == 3 && img[0] == 1 && img[1] == 3 && img[2] == 4,
          "files: image_shape attribute [1, 3, 4]");
    ml_free(img);
    ml_h5_close(f);

    /* row ranges */
    ml_dataset_load_opts lo = {.start = 100, .stop = 250};
    CHECK_OK(ml_dataset_load(tmp("d.h5"), &lo, &back), "files: load rows [100, 250)");
    CHECK(back && ml_dataset_n_examples(back) == 150 && same_rows(ds, 100, back, 0, 150) &&
              back->first_row == 100 && back->n_classes == 3,
          "files: rows [100, 250) are the right rows");
    ml_dataset_free(back);
    lo = (ml_dataset_load_opts){.start = 990};
    CHECK_OK(ml_dataset_load(tmp("d.h5"), &lo, &back), "files: load from row 990 to the end");
    CHECK(back && ml_dataset_n_examples(back) == 10 && same_rows(ds, 990, back, 0, 10),
          "files: last 10 rows");
    ml_dataset_free(back);
    lo = (ml_dataset_load_opts){.start = 10, .stop = 1001};
    ml_status s = ml_dataset_load(tmp("d.h5"), &lo, &back);
    CHECK(s == ML_EINVAL && back == NULL &&
              contains(ml_last_error(), "rows [10, 1001) are outside the 1000 rows"),
          "files: a range past the end (%s)", ml_last_error());
    lo = (ml_dataset_load_opts){.no_y = 1};
    CHECK_OK(ml_dataset_load(tmp("d.h5"), &lo, &back), "files: load without y");
    CHECK(back && back->y == NULL && back->n_classes == 0 && back->y_labels == NULL,
          "files: no_y gives no y and no classes");
    ml_dataset_free(back);
    lo = (ml_dataset_load_opts){.y_name = "labels"};
    s = ml_dataset_load(tmp("d.h5"), &lo, &back);
    CHECK(s == ML_ENOTFOUND && contains(ml_last_error(), "d.h5:/labels: not found"),
          "files: a named y that is missing (%s)", ml_last_error());

    /* an existing file is left as it was by a failed save */
    ml_dataset *bad = make_dataset(10, 12, 3);
    ml_tensor_i32(bad->y)[4] = 7;
    struct stat before, after;
    stat(tmp("d.h5"), &before);
    s = ml_dataset_save(bad, tmp("d.h5"), NULL);
    stat(tmp("d.h5"), &after);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "/y: row 4 has label 7, outside 0..2"),
          "files: a label outside the classes is refused (%s)", ml_last_error());
    CHECK(before.st_size == after.st_size && before.st_mtime == after.st_mtime &&
              before.st_ino == after.st_ino,
          "files: the existing file is unchanged");
    s = ml_dataset_save(ds, tmp("nodir/d.h5"), NULL);
    CHECK(s == ML_EIO && !exists(tmp("nodir")), "files: a missing directory fails (%s)",
          ml_last_error());
    ml_dataset_free(bad);

    /* labels outside n_classes in a file */
    ml_h5_file *w = NULL;
    ml_h5_create(tmp("badlab.h5"), &w);
    ml_h5_attr_write_str(w, "/", "ml_format", "ml-dataset");
    ml_h5_attr_write_i64(w, "/", "ml_format_version", 1);
    ml_h5_attr_write_i64(w, "/", "n_classes", 2);
    ml_h5_write_tensor(w, "/X", ds->X, NULL);
    ml_h5_write_tensor(w, "/y", ds->y, NULL);
    CHECK_OK(ml_h5_commit(w), "files: write a file with labels 0..2 and n_classes 2");
    ml_h5_close(w);
    s = ml_dataset_load(tmp("badlab.h5"), NULL, &back);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "badlab.h5:/y: row 2 has label 2, outside 0..1"),
          "files: labels checked on load (%s)", ml_last_error());

    /* unknown version, other format */
    ml_h5_create(tmp("v2.h5"), &w);
    ml_h5_attr_write_str(w, "/", "ml_format", "ml-dataset");
    ml_h5_attr_write_i64(w, "/", "ml_format_version", 2);
    ml_h5_write_tensor(w, "/X", ds->X, NULL);
    ml_h5_commit(w);
    ml_h5_close(w);
    s = ml_dataset_load(tmp("v2.h5"), NULL, &back);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "v2.h5: unsupported ml_format_version 2"),
          "files: unknown version refused (%s)", ml_last_error());
    ml_h5_create(tmp("model.h5"), &w);
    ml_h5_attr_write_str(w, "/", "ml_format", "ml-model");
    ml_h5_write_tensor(w, "/X", ds->X, NULL);
    ml_h5_commit(w);
    ml_h5_close(w);
    s = ml_dataset_load(tmp("model.h5"), NULL, &back);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "not a dataset file (ml_format is 'ml-model'"),
          "files: another format refused (%s)", ml_last_error());

    /* a plain file as h5py would write it: no attributes, y int [N, 1], n_classes inferred */
    ml_h5_create(tmp("plain.h5"), &w);
    ml_h5_write_tensor(w, "/features", ds->X, NULL);
    ml_tensor *y2 = ml_tensor_view_reshape(ds->y, 2, (int64_t[]){1000, 1});
    ml_h5_write_tensor(w, "/targets", y2, NULL);
    ml_tensor_free(y2);
    ml_h5_commit(w);
    ml_h5_close(w);
    lo = (ml_dataset_load_opts){.x_name = "features", .y_name = "targets", .start = 0, .stop = 2};
    CHECK_OK(ml_dataset_load(tmp("plain.h5"), &lo, &back), "files: a plain HDF5 file");
    CHECK(back && back->n_classes == 3 && back->y->ndim == 1 && ml_dataset_n_examples(back) == 2,
          "files: plain file: n_classes from the whole y, y [N, 1] read as [N]");
    ml_dataset_free(back);

    /* integer X refused */
    ml_h5_create(tmp("intx.h5"), &w);
    ml_h5_write_tensor(w, "/X", ds->y, NULL);
    ml_h5_commit(w);
    ml_h5_close(w);
    s = ml_dataset_load(tmp("intx.h5"), NULL, &back);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "intx.h5:/X: expected float data"),
          "files: integer X refused (%s)", ml_last_error());

    /* not HDF5 */
    FILE *fp = fopen(tmp("text.h5"), "w");
    fputs("hello\n", fp);
    fclose(fp);
    s = ml_dataset_load(tmp("text.h5"), NULL, &back);
    CHECK(s == ML_EFORMAT && contains(ml_last_error(), "text.h5: not an HDF5 file"),
          "files: a text file (%s)", ml_last_error());

    /* 4-D images */
    ml_dataset *im = make_dataset(6, 12, 0);
    ml_tensor *x4 = ml_tensor_view_reshape(im->X, 4, (int64_t[]){6, 1, 3, 4});
    ml_tensor_free(im->X);
    im->X = x4;
    CHECK_OK(ml_dataset_save(im, tmp("img4.h5"), NULL), "files: save [N, C, H, W]");
    CHECK_OK(ml_dataset_load(tmp("img4.h5"), NULL, &back), "files: load [N, C, H, W]");
    CHECK(back && back->X->ndim == 4 && back->image_shape[2] == 4,
          "files: 4-D X, image shape from X");
    ml_dataset_free(back);
    lo = (ml_dataset_load_opts){.flatten = 1, .start = 2};
    CHECK_OK(ml_dataset_load(tmp("img4.h5"), &lo, &back), "files: load 4-D flattened");
    CHECK(back && back->X->ndim == 2 && back->X->shape[1] == 12 && back->image_shape[1] == 3 &&
              ml_tensor_f32(back->X)[0] == 2.0f,
          "files: flattened rows [2, 6)");
    ml_dataset_free(back);
    ml_dataset_free(im);
    ml_dataset_free(ds);
}

static void test_nonfinite(void)
{
    ml_dataset *ds = make_dataset(20, 5, 2);
    ml_tensor_f32(ds->X)[17 * 5 + 3] = NAN;
    ml_tensor_f32(ds->X)[18 * 5 + 1] = INFINITY;
    CHECK_OK(ml_dataset_save(ds, tmp("nan.h5"), NULL), "nan: a file with NaN can be written");
    ml_dataset *back = NULL;
    ml_status s = ml_dataset_load(tmp("nan.h5"), NULL, &back);
    char want[256];
    snprintf(want, sizeof want, "%s:/X: row 17 column 3 is NaN", tmp("nan.h5"));
    CHECK(s == ML_ENUMERIC && back == NULL && strcmp(ml_last_error(), want) == 0,
          "nan: refused on load (%s)", ml_last_error());
    ml_dataset_load_opts lo = {.start = 18};
    s = ml_dataset_load(tmp("nan.h5"), &lo, &back);
    CHECK(s == ML_ENUMERIC && contains(ml_last_error(), "row 18 column 1 is +Inf"),
          "nan: rows counted in the file (%s)", ml_last_error());
    lo = (ml_dataset_load_opts){.allow_nonfinite = 1};
    CHECK_OK(ml_dataset_load(tmp("nan.h5"), &lo, &back), "nan: allowed with the flag");
    ml_dataset_stats st;
    if (back) {
        ml_dataset_value_stats(back, &st);
        CHECK(st.n_nonfinite == 2 && st.n_values == 98, "nan: counted by the statistics");
    }
    ml_dataset_free(back);
    ml_dataset_free(ds);
}

/* ---- split and shuffle ------------------------------------------------- */

static void test_split_shuffle(void)
{
    ml_dataset *ds = make_dataset(100, 3, 7);
    ml_dataset *parts[3];
    CHECK_OK(ml_preprocess_split(ds, (int64_t[]){60, 30, 10}, 3, parts), "split: 60, 30, 10");
    CHECK(ml_dataset_n_examples(parts[0]) == 60 && ml_dataset_n_examples(parts[1]) == 30 &&
              ml_dataset_n_examples(parts[2]) == 10,
          "split: sizes");
    CHECK(same_rows(ds, 0, parts[0], 0, 60) && same_rows(ds, 60, parts[1], 0, 30) &&
              same_rows(ds, 90, parts[2], 0, 10),
          "split: consecutive rows");
    CHECK(parts[1]->n_classes == 7 && parts[2]->first_row == 90, "split: classes kept");
    for (int i = 0; i < 3; i++)
        ml_dataset_free(parts[i]);
    CHECK_OK(ml_preprocess_split(ds, (int64_t[]){50, 0}, 2, parts), "split: fewer rows, and 0");
    CHECK(ml_dataset_n_examples(parts[1]) == 0, "split: an empty part");
    CHECK_OK(ml_dataset_save(parts[1], tmp("empty.h5"), NULL), "split: an empty part is saved");
    ml_dataset *back = NULL;
    CHECK_OK(ml_dataset_load(tmp("empty.h5"), NULL, &back), "split: and loaded");
    CHECK(back && ml_dataset_n_examples(back) == 0 && back->n_classes == 7, "split: empty part");
    ml_dataset_free(back);
    ml_dataset_free(parts[0]);
    ml_dataset_free(parts[1]);
    ml_status s = ml_preprocess_split(ds, (int64_t[]){60, 41}, 2, parts);
    CHECK(s == ML_EINVAL && parts[0] == NULL &&
              contains(ml_last_error(), "the counts add up to 101, the data has 100 rows"),
          "split: too many rows (%s)", ml_last_error());

    ml_dataset *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(ml_preprocess_shuffle(ds, 42, &a), "shuffle: seed 42");
    CHECK_OK(ml_preprocess_shuffle(ds, 42, &b), "shuffle: seed 42 again");
    CHECK_OK(ml_preprocess_shuffle(ds, 43, &c), "shuffle: seed 43");
    int seen[100] = {0}, moved = 0, together = 1;
    for (int i = 0; i < 100; i++) {
        float x0 = ml_tensor_f32(a->X)[i * 3];
        int r = (int)x0;
        seen[r]++;
        moved += r != i;
        together &= ml_tensor_i32(a->y)[i] == r % 7 && ml_tensor_f32(a->X)[i * 3 + 2] == x0 + 0.02f;
    }
    int perm = 1;
    for (int i = 0; i < 100; i++)
        perm &= seen[i] == 1;
    CHECK(perm, "shuffle: a permutation of the rows");
    CHECK(moved > 80, "shuffle: most rows moved (%d)", moved);
    CHECK(together, "shuffle: X and y rows move together");
    CHECK(same_rows(a, 0, b, 0, 100), "shuffle: the same seed gives the same order");
    CHECK(!same_rows(a, 0, c, 0, 100), "shuffle: another seed another order");
    int32_t *p = NULL;
    CHECK_OK(ml_preprocess_permutation(42, 100, &p), "shuffle: the permutation");
    int match = 1;
    for (int i = 0; p && i < 100; i++)
        match &= (int)ml_tensor_f32(a->X)[i * 3] == p[i];
    CHECK(match, "shuffle: row i is row perm[i]");
    /* the order is the Philox stream's: pinned so it never changes silently */
    ml_rng rng;
    ml_rng_seed(&rng, 42);
    int32_t q[100];
    ml_rng_permutation(&rng, q, 100);
    CHECK(p && memcmp(p, q, sizeof q) == 0, "shuffle: Fisher-Yates on ml_rng_seed(seed)");
    ml_free(p);
    ml_dataset_free(a);
    ml_dataset_free(b);
    ml_dataset_free(c);
    ml_dataset_free(ds);
}

/* ---- standardize ------------------------------------------------------- */

static void test_standardize(void)
{
    enum { N = 257, D = 9 };
    ml_rng rng;
    ml_rng_seed(&rng, 7);
    ml_dataset *ds = make_dataset(N, D, 0);
    float *x = ml_tensor_f32(ds->X);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++)
            x[i * D + j] = j == 4 ? 3.25f /* constant: std floored */
                                  : ml_rng_normal(&rng, (float)j * 10.0f - 20.0f, 0.5f + (float)j);
    /* independent reference in double */
    double mean[D], sd[D];
    for (int j = 0; j < D; j++) {
        double s = 0, q = 0;
        for (int i = 0; i < N; i++)
            s += x[i * D + j];
        mean[j] = s / N;
        for (int i = 0; i < N; i++)
            q += (x[i * D + j] - mean[j]) * (x[i * D + j] - mean[j]);
        sd[j] = sqrt(q / N);
        if (sd[j] < 1e-4)
            sd[j] = 1e-4;
    }
    ml_dataset_add_provenance(ds, "made here");
    ml_transform *t = NULL;
    CHECK_OK(ml_preprocess_standardize_fit(ds, 0, &t), "standardize: fit");
    if (!t)
        return;
    int ok = t->mean->shape[0] == D && t->std_eps == 1e-4 && t->n_examples == N;
    for (int j = 0; ok && j < D; j++)
        ok &= fabs(ml_tensor_f32(t->mean)[j] - mean[j]) <= 1e-6 * (1 + fabs(mean[j])) &&
              fabs(ml_tensor_f32(t->std)[j] - sd[j]) <= 1e-6 * sd[j];
    CHECK(ok, "standardize: mean and std match a double computation");
    CHECK(ml_tensor_f32(t->std)[4] == 1e-4f, "standardize: a constant feature's std is std_eps");
    CHECK(contains(t->provenance, "made here"), "standardize: the transform keeps the provenance");

    ml_dataset *other = make_dataset(13, D, 0);
    float *ox = ml_tensor_f32(other->X);
    for (int i = 0; i < 13 * D; i++)
        ox[i] = ml_rng_uniform_range(&rng, -50, 50);
    float orig[13 * D];
    memcpy(orig, ox, sizeof orig);
    CHECK_OK(ml_transform_save(t, tmp("std.h5")), "standardize: save the transform");
    ml_transform *t2 = NULL;
    CHECK_OK(ml_transform_load(tmp("std.h5"), &t2), "standardize: load the transform");
    CHECK_OK(ml_transform_apply(t2 ? t2 : t, other), "standardize: apply to another dataset");
    double worst = 0;
    for (int i = 0; i < 13; i++)
        for (int j = 0; j < D; j++) {
            double want = (orig[i * D + j] - (double)ml_tensor_f32(t->mean)[j]) /
                          (double)ml_tensor_f32(t->std)[j];
            double err = fabs(ox[i * D + j] - want) / (1 + fabs(want));
            worst = err > worst ? err : worst;
        }
    CHECK(worst < 1e-6, "standardize: applied values match (worst relative error %g)", worst);

    CHECK_OK(ml_transform_apply(t, ds), "standardize: apply to the fitting data");
    ok = 1;
    for (int j = 0; j < D; j++) {
        if (j == 4)
            continue;
        double s = 0, q = 0;
        for (int i = 0; i < N; i++)
            s += x[i * D + j];
        for (int i = 0; i < N; i++)
            q += (x[i * D + j] - s / N) * (x[i * D + j] - s / N);
        ok &= fabs(s / N) < 1e-5 && fabs(sqrt(q / N) - 1) < 1e-5;
    }
    CHECK(ok, "standardize: fitted data has mean 0 and std 1");

    ml_dataset *wrong = make_dataset(4, 100, 0);
    ml_dataset_set_name(wrong, "valid.h5");
    ml_transform_set_name(t, "std.h5");
    ml_status s = ml_transform_apply(t, wrong);
    CHECK(s == ML_ESHAPE &&
              strcmp(ml_last_error(),
                     "valid.h5: transform std.h5 was fitted on 9 features, the data has 100") == 0,
          "standardize: another D refused (%s)", ml_last_error());
    CHECK(ml_tensor_f32(wrong->X)[1] == 0.01f, "standardize: refused data unchanged");

    ml_dataset *empty = make_dataset(0, D, 0);
    ml_transform *t3 = NULL;
    s = ml_preprocess_standardize_fit(empty, 0, &t3);
    CHECK(s == ML_EINVAL && t3 == NULL, "standardize: no rows to fit on (%s)", ml_last_error());
    s = ml_transform_load(tmp("d.h5"), &t3);
    CHECK(s == ML_EFORMAT &&
              contains(ml_last_error(), "not a transform file (ml_format is 'ml-dataset'"),
          "standardize: a dataset is not a transform (%s)", ml_last_error());
    ml_transform_free(t3);
    ml_dataset_free(empty);
    ml_dataset_free(wrong);
    ml_dataset_free(other);
    ml_transform_free(t2);
    ml_transform_free(t);
    ml_dataset_free(ds);
}

/* one_hot: int labels -> float rows with a 1 at the class; n_classes kept. */
static void test_one_hot(void)
{
    ml_dataset *ds = ml_dataset_new("oh.h5");
    ds->X = ml_tensor_new(ML_F32, 2, (int64_t[]){3, 2}, ML_CPU);
    ds->y = ml_tensor_new(ML_I32, 1, (int64_t[]){3}, ML_CPU);
    memset(ml_tensor_data(ds->X), 0, 6 * sizeof(float));
    memcpy(ml_tensor_data(ds->y), (int32_t[]){2, 0, 3}, sizeof(int32_t[3]));
    ds->n_classes = 4;
    CHECK_OK(ml_dataset_one_hot(ds), "one_hot");
    static const float want[12] = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1};
    CHECK(ds->y->dtype == ML_F32 && ds->y->ndim == 2 && ds->y->shape[0] == 3 && ds->y->shape[1] == 4 &&
              memcmp(ml_tensor_data(ds->y), want, sizeof want) == 0 && ds->n_classes == 4,
          "y is float32 [3, 4], one-hot, n_classes kept");
    CHECK_OK(ml_dataset_check_labels(ds), "a one-hot dataset passes the label checks");
    CHECK(ml_dataset_one_hot(ds) == ML_EINVAL && strstr(ml_last_error(), "oh.h5: one_hot needs class labels"),
          "float targets cannot be made one-hot: %s", ml_last_error());
    ml_dataset_free(ds);
}

int main(void)
{
    scratch_begin("test_data");
    uint64_t live = ml_alloc_stats_get().bytes_live;
    test_idx();
    test_files();
    test_nonfinite();
    test_split_shuffle();
    test_standardize();
    test_one_hot();
    CHECK(ml_alloc_stats_get().bytes_live == live, "no memory left allocated (%lld bytes)",
          (long long)(ml_alloc_stats_get().bytes_live - live));
    scratch_end();
    return harness_done();
}
