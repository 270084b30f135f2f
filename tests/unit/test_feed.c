/* lib/data/feed: batches of a dataset held in memory and of the same file
 * streamed by the reading thread.  Contiguous modes give the same batches row
 * for row; the gathering modes visit what they promise (every row once per
 * epoch for shuffled_sequential); NaN in a streamed file is reported with its
 * row; an epoch left early is drained; nothing is allocated per batch. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "scratch.h"
#include "ml.h"

#define N 1003 /* not a multiple of any batch size used */
#define D 7

/* Row i holds i*10 + j in column j, label i % 5. */
static ml_dataset *make_dataset(void)
{
    ml_dataset *ds = ml_dataset_new("feed");
    ds->X = ml_tensor_new(ML_F32, 2, (int64_t[]){N, D}, ML_CPU);
    ds->y = ml_tensor_new(ML_I32, 1, (int64_t[]){N}, ML_CPU);
    ds->n_classes = 5;
    float *x = ml_tensor_f32(ds->X);
    int32_t *y = ml_tensor_i32(ds->y);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < D; j++)
            x[i * D + j] = (float)(i * 10 + j);
        y[i] = i % 5;
    }
    return ds;
}

/* The row a batch row came from, after checking its columns and label agree. */
static int row_of(const ml_tensor *x, const ml_tensor *y, int64_t i, int first_row)
{
    const float *p = ml_tensor_f32(x) + i * D;
    int r = (int)(p[0] / 10) - first_row;
    for (int j = 0; j < D; j++)
        if (p[j] != (float)((r + first_row) * 10 + j))
            return -1;
    if (ml_tensor_i32(y)[i] != (r + first_row) % 5)
        return -1;
    return r;
}

static int same_batch(const ml_tensor *a, const ml_tensor *b, const ml_tensor *ya, const ml_tensor *yb)
{
    return a->shape[0] == b->shape[0] && memcmp(ml_tensor_data(a), ml_tensor_data(b), ml_tensor_nbytes(a)) == 0 &&
           memcmp(ml_tensor_data(ya), ml_tensor_data(yb), ml_tensor_nbytes(ya)) == 0;
}

static void test_contiguous_modes_match(const ml_dataset *mem, const ml_dataset *str)
{
    const ml_iteration_mode modes[] = {ML_ITER_SEQUENTIAL, ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL, ML_ITER_RANDOM_SLICE};
    for (int m = 0; m < 3; m++) {
        ml_feed_opts o = {.iter = {.mode = modes[m], .batch_size = 64, .seed = 42}, .depth = 2};
        ml_feed *a = NULL, *b = NULL;
        CHECK_OK(ml_feed_new(mem, &o, &a), "%s: in-memory feed", ml_iteration_mode_name(modes[m]));
        CHECK_OK(ml_feed_new(str, &o, &b), "%s: streamed feed", ml_iteration_mode_name(modes[m]));
        if (!a || !b)
            return;
        CHECK(ml_feed_is_streamed(b) && !ml_feed_is_streamed(a), "%s: one streamed, one not",
              ml_iteration_mode_name(modes[m]));
        int equal = 1, batches = 0;
        for (int epoch = 0; epoch < 3; epoch++) {
            ml_feed_begin_epoch(a);
            ml_feed_begin_epoch(b);
            for (;;) {
                ml_tensor *xa, *ya, *xb, *yb;
                int ma, mb;
                ml_feed_next(a, &xa, &ya, &ma);
                ml_status st = ml_feed_next(b, &xb, &yb, &mb);
                if (st != ML_OK || ma != mb) {
                    equal = 0;
                    break;
                }
                if (!ma)
                    break;
                batches++;
                equal &= same_batch(xa, xb, ya, yb);
            }
        }
        CHECK(equal && batches == 3 * 16, "%s: streamed batches equal the in-memory ones (%d batches, 3 epochs)",
              ml_iteration_mode_name(modes[m]), batches);
        ml_feed_free(a);
        ml_feed_free(b);
    }
}

static void test_shuffled_windows(const ml_dataset *str, int64_t window)
{
    ml_feed_opts o = {.iter = {.mode = ML_ITER_SHUFFLED_SEQUENTIAL, .batch_size = 50, .seed = 7},
                      .window_rows = window, .depth = 3};
    ml_feed *f = NULL;
    CHECK_OK(ml_feed_new(str, &o, &f), "shuffled_sequential streamed, windows of %lld", (long long)window);
    if (!f)
        return;
    int seen[N];
    int first_order[8] = {0};
    for (int epoch = 0; epoch < 2; epoch++) {
        memset(seen, 0, sizeof seen);
        int bad = 0, batches = 0, rows = 0, partial = 0, in_order = 1;
        ml_feed_begin_epoch(f);
        for (;;) {
            ml_tensor *x, *y;
            int more;
            if (ml_feed_next(f, &x, &y, &more) != ML_OK || !more)
                break;
            for (int64_t i = 0; i < x->shape[0]; i++) {
                int r = row_of(x, y, i, 0);
                if (r < 0 || r >= N)
                    bad++;
                else
                    seen[r]++;
                if (batches == 0 && i < 8) {
                    if (epoch == 0)
                        first_order[i] = r;
                    else
                        in_order &= first_order[i] == r;
                }
                if (rows > 0 && r != rows)
                    in_order = in_order && epoch == 1;
            }
            partial += x->shape[0] != 50;
            rows += (int)x->shape[0];
            batches++;
        }
        int once = 1;
        for (int i = 0; i < N; i++)
            once &= seen[i] == 1;
        CHECK(!bad && once && rows == N && batches == 21 && partial == 1,
              "epoch %d: every row exactly once (%d rows in %d batches, one partial), labels with their rows", epoch + 1,
              rows, batches);
        if (epoch == 1)
            CHECK(!in_order, "the second epoch's order differs from the first's");
    }
    ml_feed_free(f);
}

static void test_random_uniform(const ml_dataset *str)
{
    ml_feed_opts o = {.iter = {.mode = ML_ITER_RANDOM_UNIFORM, .batch_size = 32, .n_batches = 40, .seed = 3},
                      .window_rows = 300};
    ml_feed *f = NULL;
    CHECK_OK(ml_feed_new(str, &o, &f), "random_uniform streamed");
    if (!f)
        return;
    ml_feed_begin_epoch(f);
    int batches = 0, bad = 0;
    for (;;) {
        ml_tensor *x, *y;
        int more;
        if (ml_feed_next(f, &x, &y, &more) != ML_OK || !more)
            break;
        for (int64_t i = 0; i < x->shape[0]; i++)
            bad += row_of(x, y, i, 0) < 0;
        bad += x->shape[0] != 32;
        batches++;
    }
    CHECK(batches == 40 && !bad, "random_uniform: 40 full batches of rows with their labels (%d)", batches);
    ml_feed_free(f);
}

/* Leaving an epoch after two batches: the next epoch starts at its beginning. */
static void test_epoch_left_early(const ml_dataset *str)
{
    ml_feed_opts o = {.iter = {.mode = ML_ITER_SEQUENTIAL, .batch_size = 100}, .depth = 2};
    ml_feed *f = NULL;
    CHECK_OK(ml_feed_new(str, &o, &f), "sequential streamed");
    if (!f)
        return;
    ml_tensor *x, *y;
    int more, ok = 1;
    for (int epoch = 0; epoch < 3; epoch++) {
        ml_feed_begin_epoch(f);
        for (int b = 0; b < 2; b++) {
            ml_feed_next(f, &x, &y, &more);
            ok &= more && row_of(x, y, 0, 0) == b * 100;
        }
    }
    CHECK(ok, "an epoch left after two batches: the next one starts at row 0");
    ml_feed_free(f);
}

static void test_nan_and_ranges(ml_dataset *mem)
{
    /* A view of rows [100, 600) streamed: rows numbered from the file. */
    ml_dataset_load_opts lo = {.storage = ML_STORAGE_STREAM, .start = 100, .stop = 600};
    ml_dataset *part = NULL;
    CHECK_OK(ml_dataset_load(tmp("feed.h5"), &lo, &part), "rows [100, 600) streamed");
    if (part) {
        CHECK(part->X == NULL && ml_dataset_n_examples(part) == 500 && ml_dataset_n_features(part) == D,
              "a streamed dataset has no X in memory, 500 rows of %d", D);
        ml_feed_opts o = {.iter = {.mode = ML_ITER_SEQUENTIAL, .batch_size = 128}};
        ml_feed *f = NULL;
        CHECK_OK(ml_feed_new(part, &o, &f), "feed of the part");
        ml_tensor *x, *y;
        int more = 0;
        ml_feed_begin_epoch(f);
        ml_feed_next(f, &x, &y, &more);
        CHECK(more && row_of(x, y, 0, 0) == 100, "its first batch starts at row 100 of the file");
        ml_feed_free(f);
        CHECK(ml_dataset_require_memory(part, "PCA") == ML_EINVAL && strstr(ml_last_error(), "streamed"),
              "what needs X in memory says the data is streamed: %s", ml_last_error());
        ml_dataset_free(part);
    }

    ml_tensor_f32(mem->X)[700 * D + 3] = NAN;
    CHECK_OK(ml_dataset_save(mem, tmp("nan.h5"), NULL), "a file with a NaN at row 700");
    ml_dataset_load_opts so = {.storage = ML_STORAGE_STREAM, .allow_nonfinite = 0};
    ml_dataset *bad = NULL;
    ml_status st = ml_dataset_load(tmp("nan.h5"), &so, &bad);
    CHECK(st == ML_OK, "streamed load does not read X (NaN found later)");
    if (bad) {
        ml_feed_opts o = {.iter = {.mode = ML_ITER_SEQUENTIAL, .batch_size = 100}};
        ml_feed *f = NULL;
        ml_feed_new(bad, &o, &f);
        ml_feed_begin_epoch(f);
        ml_tensor *x, *y;
        int more = 1, batches = 0;
        while ((st = ml_feed_next(f, &x, &y, &more)) == ML_OK && more)
            batches++;
        CHECK(st == ML_ENUMERIC && strstr(ml_last_error(), "row 700 column 3 is NaN") &&
                  strstr(ml_last_error(), "nan.h5:/X"),
              "the NaN stops the feed with file, row and column after %d good batches: %s", batches, ml_last_error());
        ml_feed_free(f);
        ml_dataset_free(bad);
    }
    ml_tensor_f32(mem->X)[700 * D + 3] = 7003;

    ml_dataset_load_opts pipe = {.storage = ML_STORAGE_STREAM};
    ml_dataset *none = NULL;
    ml_h5_file *h = NULL;
    ml_h5_open(tmp("feed.h5"), &h);
    st = ml_dataset_read(h, &pipe, &none);
    CHECK(st == ML_EINVAL && strstr(ml_last_error(), "cannot be streamed"), "an open file (as from a pipe) cannot be streamed: %s",
          ml_last_error());
    ml_h5_close(h);

    setenv("ML_MEMORY_AVAILABLE", "40000", 1); /* X is 28 KB: more than half of it */
    ml_dataset_load_opts aut = {.storage = ML_STORAGE_AUTO};
    ml_dataset *a = NULL;
    CHECK_OK(ml_dataset_load(tmp("feed.h5"), &aut, &a), "auto with little memory");
    CHECK(a && a->X == NULL && a->stream, "auto streams a file larger than half the memory available");
    ml_dataset_free(a);
    setenv("ML_MEMORY_AVAILABLE", "1000000", 1);
    CHECK_OK(ml_dataset_load(tmp("feed.h5"), &aut, &a), "auto with enough memory");
    CHECK(a && a->X != NULL, "auto reads a small file into memory");
    ml_dataset_free(a);
    unsetenv("ML_MEMORY_AVAILABLE");
    CHECK(ml_memory_available() > 0, "memory available: %lld MiB", (long long)(ml_memory_available() >> 20));
}

/* A feed resumed at the position another had reached (mid-epoch and between
 * epochs) delivers the batches the other goes on to deliver. */
static void test_resume(const ml_dataset *d, ml_iteration_mode mode, int64_t window)
{
    const char *how = d->X ? "in memory" : "streamed";
    ml_feed_opts o = {.iter = {.mode = mode, .batch_size = 60, .seed = 11}, .window_rows = window, .depth = 2};
    for (int stop_at = 0; stop_at < 2; stop_at++) {
        ml_feed *a = NULL, *b = NULL;
        ml_feed_new(d, &o, &a);
        ml_tensor *x, *y, *xb, *yb;
        int more = 1, mb;
        /* one epoch and 5 batches, or two whole epochs */
        for (int e = 0; e < 2; e++) {
            ml_feed_begin_epoch(a);
            for (int k = 0; more && (stop_at || e == 0 || k < 5); k++)
                ml_feed_next(a, &x, &y, &more);
            more = 1;
        }
        if (stop_at) { /* the end mark of the second epoch */
            ml_feed_next(a, &x, &y, &more);
        }
        ml_feed_position pos;
        ml_feed_position_get(a, &pos);
        ml_feed_opts ro = o;
        ro.resume = &pos;
        ml_feed_new(d, &ro, &b);
        int equal = 1, n = 0;
        for (int e = 0; e < 2; e++) {
            if (e > 0 || stop_at)
                ml_feed_begin_epoch(a);
            ml_feed_begin_epoch(b);
            for (;;) {
                ml_feed_next(a, &x, &y, &more);
                ml_feed_next(b, &xb, &yb, &mb);
                if (more != mb) {
                    equal = 0;
                    break;
                }
                if (!more)
                    break;
                equal &= same_batch(x, xb, y, yb);
                n++;
            }
        }
        CHECK(equal && n > 20, "%s %s: resumed %s, the same %d batches follow", how, ml_iteration_mode_name(mode),
              stop_at ? "between epochs" : "in the middle of an epoch", n);
        ml_feed_free(a);
        ml_feed_free(b);
    }
}

static void test_no_allocation_per_batch(const ml_dataset *str)
{
    ml_feed_opts o = {.iter = {.mode = ML_ITER_SHUFFLED_SEQUENTIAL, .batch_size = 64, .seed = 1}, .window_rows = 256};
    ml_feed *f = NULL;
    CHECK_OK(ml_feed_new(str, &o, &f), "feed for the allocation count");
    if (!f)
        return;
    ml_feed_begin_epoch(f); /* the first epoch warms HDF5's caches */
    ml_tensor *x, *y;
    int more = 1;
    while (ml_feed_next(f, &x, &y, &more) == ML_OK && more)
        ;
    ml_alloc_stats before = ml_alloc_stats_get();
    ml_feed_begin_epoch(f);
    int batches = 0;
    while (ml_feed_next(f, &x, &y, &more) == ML_OK && more)
        batches++;
    ml_alloc_stats after = ml_alloc_stats_get();
    CHECK(after.allocations == before.allocations, "%d streamed batches: %lld library allocations", batches,
          (long long)(after.allocations - before.allocations));
    ml_feed_free(f);
}

/* The uploader's contract on a device without a copy queue (the CPU): a send
 * copies at once, page-locked tensors fall back to plain memory, and bad
 * arguments are refused with a message. */
static void test_uploader_without_copy_queue(void)
{
    ml_tensor *host = ml_tensor_new_pinned(ML_F32, 2, (int64_t[]){3, 4}, ML_CPU);
    ml_tensor *dev = ml_tensor_new(ML_F32, 2, (int64_t[]){3, 4}, ML_CPU);
    ml_tensor *small = ml_tensor_new(ML_F32, 1, (int64_t[]){5}, ML_CPU);
    ml_uploader *u = NULL;
    CHECK(host && host->device == ML_CPU && ml_tensor_f32(host)[11] == 0.0f,
          "a page-locked tensor for the CPU is a zero-filled host tensor");
    CHECK_OK(ml_uploader_new(ML_CPU, &u), "an uploader for the CPU");
    if (!host || !dev || !small || !u)
        goto done;
    for (int i = 0; i < 12; i++)
        ml_tensor_f32(host)[i] = (float)i + 0.5f;
    ml_tensor *to[1] = {dev};
    const ml_tensor *from[1] = {host};
    CHECK_OK(ml_uploader_send(u, 1, 1, to, from), "a send into buffer 1");
    CHECK(memcmp(ml_tensor_data(dev), ml_tensor_data(host), 48) == 0, "the send copied at once");
    CHECK_OK(ml_uploader_wait_host(u, 1), "waiting for the host buffer returns at once");
    CHECK(ml_uploader_send(u, 2, 1, to, from) == ML_EINVAL && strstr(ml_last_error(), "into 0 or 1"),
          "buffer 2 is refused: %s", ml_last_error());
    to[0] = small;
    CHECK(ml_uploader_send(u, 0, 1, to, from) == ML_EINVAL && strstr(ml_last_error(), "the size of its destination"),
          "a destination of another size is refused: %s", ml_last_error());
done:
    ml_uploader_free(u);
    ml_tensor_free(host);
    ml_tensor_free(dev);
    ml_tensor_free(small);
}

int main(void)
{
    scratch_begin("test_feed");
    uint64_t live = ml_alloc_stats_get().bytes_live;
    ml_dataset *mem = make_dataset();
    ml_dataset_save_opts so = {.chunk_rows = 37, .deflate = 1}; /* chunks across batches, compressed */
    CHECK_OK(ml_dataset_save(mem, tmp("feed.h5"), &so), "dataset file written");
    ml_dataset_load_opts lo = {.storage = ML_STORAGE_STREAM};
    ml_dataset *str = NULL;
    CHECK_OK(ml_dataset_load(tmp("feed.h5"), &lo, &str), "dataset opened for streaming");
    if (str) {
        test_contiguous_modes_match(mem, str);
        test_shuffled_windows(str, 128);
        test_shuffled_windows(str, 5000);
        test_random_uniform(str);
        test_epoch_left_early(str);
        test_no_allocation_per_batch(str);
        for (int m = 0; m < 5; m++) {
            test_resume(mem, (ml_iteration_mode)m, 0);
            test_resume(str, (ml_iteration_mode)m, 200);
        }
    }
    test_nan_and_ranges(mem);
    test_uploader_without_copy_queue();
    ml_dataset_free(str);
    ml_dataset_free(mem);
    CHECK(ml_alloc_stats_get().bytes_live == live, "no memory left allocated (%lld bytes)",
          (long long)(ml_alloc_stats_get().bytes_live - live));
    scratch_end();
    return harness_done();
}
