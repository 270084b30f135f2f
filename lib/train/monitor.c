/* The monitor's channels and records, in memory and in model files. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "train/train.h"

ml_monitor *ml_monitor_new(void)
{
    return ml_calloc(1, sizeof(ml_monitor));
}

void ml_monitor_free(ml_monitor *mon)
{
    if (!mon)
        return;
    for (int i = 0; i < mon->n_channels; i++)
        ml_free(mon->channels[i]);
    ml_free(mon->channels);
    ml_free(mon->records);
    ml_free(mon);
}

static int64_t row_width(const ml_monitor *mon)
{
    return ML_MONITOR_FIXED_COLUMNS + mon->n_channels;
}

int ml_monitor_find(const ml_monitor *mon, const char *name)
{
    for (int i = 0; i < mon->n_channels; i++)
        if (strcmp(mon->channels[i], name) == 0)
            return i;
    return -1;
}

/* Adding a channel widens every record; earlier records get NaN for it. */
int ml_monitor_channel(ml_monitor *mon, const char *name)
{
    int found = ml_monitor_find(mon, name);
    if (found >= 0)
        return found;
    char **channels = ml_realloc(mon->channels, (size_t)(mon->n_channels + 1) * sizeof *channels);
    if (!channels)
        return -1;
    mon->channels = channels;
    char *copy = ml_strdup(name);
    if (!copy)
        return -1;
    int64_t old_width = row_width(mon), new_width = old_width + 1;
    if (mon->n_records > 0) {
        double *records = ml_malloc((size_t)(mon->capacity * new_width) * sizeof *records);
        if (!records) {
            ml_free(copy);
            return -1;
        }
        for (int64_t r = 0; r < mon->n_records; r++) {
            memcpy(records + r * new_width, mon->records + r * old_width, (size_t)old_width * sizeof *records);
            records[r * new_width + old_width] = NAN;
        }
        ml_free(mon->records);
        mon->records = records;
    } else {
        ml_free(mon->records);
        mon->records = NULL;
        mon->capacity = 0;
    }
    mon->channels[mon->n_channels] = copy;
    return mon->n_channels++;
}

ml_status ml_monitor_begin_record(ml_monitor *mon, int64_t epoch, int64_t batches, int64_t examples,
                                  double seconds)
{
    int64_t w = row_width(mon);
    if (mon->n_records == mon->capacity) {
        int64_t capacity = mon->capacity ? 2 * mon->capacity : 16;
        double *records = ml_malloc((size_t)(capacity * w) * sizeof *records);
        if (!records)
            return ML_ENOMEM;
        if (mon->records)
            memcpy(records, mon->records, (size_t)(mon->n_records * w) * sizeof *records);
        ml_free(mon->records);
        mon->records = records;
        mon->capacity = capacity;
    }
    double *row = mon->records + mon->n_records * w;
    row[0] = (double)epoch;
    row[1] = (double)batches;
    row[2] = (double)examples;
    row[3] = seconds;
    for (int i = 0; i < mon->n_channels; i++)
        row[ML_MONITOR_FIXED_COLUMNS + i] = NAN;
    mon->n_records++;
    return ML_OK;
}

void ml_monitor_set(ml_monitor *mon, int channel, double value)
{
    ML_ASSERT(mon->n_records > 0 && channel >= 0 && channel < mon->n_channels);
    mon->records[(mon->n_records - 1) * row_width(mon) + ML_MONITOR_FIXED_COLUMNS + channel] = value;
}

double ml_monitor_value(const ml_monitor *mon, int64_t record, int channel)
{
    return mon->records[record * row_width(mon) + ML_MONITOR_FIXED_COLUMNS + channel];
}

ml_status ml_monitor_write(const ml_monitor *mon, ml_h5_file *f)
{
    int64_t w = row_width(mon);
    double *rows = ml_malloc((size_t)(mon->n_records * 5 + 1) * sizeof *rows);
    if (!rows)
        return ML_ENOMEM;
    ml_status st = ml_h5_create_group(f, "/monitor");
    for (int c = 0; c < mon->n_channels && st == ML_OK; c++) {
        int64_t n = 0;
        for (int64_t r = 0; r < mon->n_records; r++) {
            double v = mon->records[r * w + ML_MONITOR_FIXED_COLUMNS + c];
            if (isnan(v))
                continue; /* the channel did not exist yet, or has no value then */
            memcpy(rows + n * 5, mon->records + r * w, 4 * sizeof *rows);
            rows[n * 5 + 4] = v;
            n++;
        }
        char path[300];
        snprintf(path, sizeof path, "/monitor/%s", mon->channels[c]);
        st = ml_h5_write_array(f, path, ML_H5_F64, 2, (int64_t[]){n, 5}, rows, NULL);
        if (st == ML_OK)
            st = ml_h5_attr_write_str(f, path, "columns", "epoch batches examples seconds value");
    }
    ml_free(rows);
    return st;
}

ml_status ml_monitor_read(ml_h5_file *f, ml_monitor **out)
{
    *out = NULL;
    ml_monitor *mon = ml_monitor_new();
    if (!mon)
        return ML_ENOMEM;
    char **names = NULL;
    int64_t count = 0;
    ml_status st = ml_h5_exists(f, "/monitor") ? ml_h5_list(f, "/monitor", ML_H5_ORDER_CREATION, &names, &count)
                                              : ML_OK;
    for (int64_t c = 0; c < count && st == ML_OK; c++) {
        char path[300];
        snprintf(path, sizeof path, "/monitor/%s", names[c]);
        int ndim;
        int64_t shape[ML_MAX_DIMS];
        double *data = NULL;
        st = ml_h5_read_array(f, path, ML_H5_F64, &ndim, shape, (void **)&data);
        if (st == ML_OK && (ndim != 2 || shape[1] != 5))
            st = ml_error(ML_EFORMAT, "%s:%s: expected records [n, 5]", ml_h5_file_name(f), path);
        int channel = st == ML_OK ? ml_monitor_channel(mon, names[c]) : -1;
        if (st == ML_OK && channel < 0)
            st = ML_ENOMEM;
        /* Records are matched by epoch and example count, so channels line up. */
        for (int64_t i = 0; st == ML_OK && i < shape[0]; i++) {
            const double *rec = data + i * 5;
            int64_t r = 0;
            int64_t w = row_width(mon);
            while (r < mon->n_records && !(mon->records[r * w] == rec[0] && mon->records[r * w + 2] == rec[2]))
                r++;
            if (r == mon->n_records)
                st = ml_monitor_begin_record(mon, (int64_t)rec[0], (int64_t)rec[1], (int64_t)rec[2], rec[3]);
            if (st == ML_OK)
                mon->records[r * w + ML_MONITOR_FIXED_COLUMNS + channel] = rec[4];
        }
        ml_free(data);
    }
    ml_h5_names_free(names);
    if (st != ML_OK) {
        ml_monitor_free(mon);
        return st;
    }
    *out = mon;
    return ML_OK;
}
