#include "data/h5import.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "data/npy.h"
#include "io/h5.h"

ml_status ml_hdf5_import(const char *path, const char *x_name, const char *y_name,
                       ml_dataset **out)
{
    *out = NULL;
    ml_h5_file *f = NULL;
    ML_TRY(ml_h5_open(path, &f));
    const char *fname = ml_h5_file_name(f);
    ml_tensor *X = NULL, *y = NULL;
    char xdesc[512], ydesc[512];
    snprintf(xdesc, sizeof xdesc, "%s:%s%s", fname, x_name[0] == '/' ? "" : "/", x_name);
    snprintf(ydesc, sizeof ydesc, "%s:%s%s", fname, y_name && y_name[0] == '/' ? "" : "/",
             y_name ? y_name : "");
    ml_status s = ML_OK;
    const char *names[2] = {x_name, y_name};
    const char *descs[2] = {xdesc, ydesc};
    ml_tensor **dst[2] = {&X, &y};
    for (int i = 0; i < 2 && s == ML_OK; i++) {
        if (!names[i])
            continue;
        ml_h5_kind k = ml_h5_exists(f, names[i]);
        if (k == ML_H5_NONE)
            s = ml_error(ML_ENOTFOUND, "%s: not found", descs[i]);
        else if (k != ML_H5_DATASET)
            s = ml_error(ML_EFORMAT, "%s: not a dataset", descs[i]);
        else
            s = ml_h5_read_tensor(f, names[i], dst[i]);
    }
    if (s != ML_OK) {
        ml_h5_close(f);
        ml_tensor_free(X);
        ml_tensor_free(y);
        return s;
    }
    s = ml_dataset_from_arrays(xdesc, X, y_name ? ydesc : NULL, y, out);
    if (s == ML_OK && (s = ml_dataset_set_name(*out, fname)) != ML_OK) {
        ml_dataset_free(*out);
        *out = NULL;
    }
    ml_h5_close(f);
    return s;
}
