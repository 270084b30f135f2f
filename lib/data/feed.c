#include "data/feed.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "core/alloc.h"
#include "core/rng.h"
#include "io/h5.h"

#define DEFAULT_DEPTH 4
#define DEFAULT_WINDOW_BYTES ((int64_t)64 << 20)

typedef struct {
    ml_tensor *x, *y; /* host buffers of batch_size rows */
    int64_t count;    /* rows of the batch; 0 marks the end of an epoch */
    /* The random state at the start of the batch's epoch; for the end mark, of the next epoch. */
    uint32_t rng[ML_RNG_STATE_WORDS];
} slot;

struct ml_feed {
    const ml_dataset *d;
    ml_feed_opts o;
    int64_t n, features;
    size_t x_row, y_row; /* bytes */
    ml_iter *iter;       /* the order of batches (the thread's when streamed) */
    /* In memory, [0] holds gathered rows.  Streamed to a device, the batches
     * go there through two buffers in turn (ml_uploader), so the next batch is
     * copied while the current one computes. */
    ml_tensor *bx[2], *by[2];
    ml_uploader *uploader;
    int64_t sent; /* batches sent through the uploader */
    /* In memory, gathering modes: the whole epoch's row indices, drawn at its
     * start and sent to the data's device at once, so a batch is one gather
     * kernel there and nothing crosses per batch. */
    ml_tensor *epoch_index, *epoch_index_host;
    int64_t epoch_rows; /* indices drawn: batch k is [k*bs, k*bs + bs) of them, the last maybe fewer */
    ml_tensor vx, vy;    /* what ml_feed_next hands out */
    int in_epoch;
    ml_feed_position pos; /* of the next batch */
    int64_t skip;         /* batches to pass over at the first epoch (a resumed position) */

    /* streaming */
    int streamed;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    slot *slots;
    int n_slots;
    int64_t produced, released, taken; /* batches (and end marks) through the ring */
    int holding;                       /* the consumer holds slot taken-1 */
    int quit;
    ml_status failure;
    char message[1024];
    /* gathering modes, streamed */
    int64_t window_rows;
    ml_tensor *window[2]; /* the window being served, the next one being read */
    int32_t *order;   /* the rows of a window, shuffled */
    int32_t *windows; /* the windows of an epoch, shuffled */
    ml_rng rng;
};

int64_t ml_feed_n_batches(const ml_feed *f) { return ml_iter_n_batches(f->iter); }
void ml_feed_position_get(const ml_feed *f, ml_feed_position *p) { *p = f->pos; }

/* The stream the order is drawn from: the iterator's, or, for windows, the feed's. */
static ml_rng *order_rng(ml_feed *f)
{
    return f->streamed && ml_iteration_mode_gathers(f->o.iter.mode) ? &f->rng : ml_iter_rng(f->iter);
}
int ml_feed_is_streamed(const ml_feed *f) { return f->streamed; }

/* ---- the reading thread ---- */

typedef struct {
    ml_feed *f;
    ml_h5_file *file;
    int64_t window_start[2], window_count[2];
    int64_t read_done; /* rows of window[1] read so far */
} reader;

/* Rows [start, start+count) of the dataset into rows [at, at+count) of buf (host). */
static ml_status read_rows(reader *r, int64_t start, int64_t count, const ml_tensor *buf, int64_t at)
{
    if (count == 0)
        return ML_OK;
    ml_feed *f = r->f;
    ml_tensor into;
    ml_tensor_point_rows(&into, buf, at, count);
    ML_TRY(ml_h5_read_rows(r->file, f->d->stream->x_path, f->d->first_row + start, count, &into));
    if (f->o.allow_nonfinite)
        return ML_OK;
    return ml_check_finite_rows(ml_tensor_f32(&into), count, f->features, f->d->first_row + start,
                                f->d->stream->path, f->d->stream->x_path);
}

/* A batch's buffers: x [batch_size, features] and y (NULL without targets) on
 * `device`; on the CPU, page-locked for `uploads_to` when that is a device. */
static ml_status new_batch_buffers(const ml_feed *f, ml_device device, ml_device uploads_to, ml_tensor **x,
                                   ml_tensor **y)
{
    const ml_tensor *dy = f->d->y;
    int64_t bs = f->o.iter.batch_size;
    int64_t x_shape[2] = {bs, f->features}, y_shape[2] = {bs, dy && dy->ndim > 1 ? dy->shape[1] : 0};
    int pinned = device == ML_CPU && uploads_to != ML_CPU;
    *x = pinned ? ml_tensor_new_pinned(ML_F32, 2, x_shape, uploads_to) : ml_tensor_new(ML_F32, 2, x_shape, device);
    if (!*x)
        return ML_ENOMEM;
    if (!dy)
        return ML_OK;
    *y = pinned ? ml_tensor_new_pinned(dy->dtype, dy->ndim, y_shape, uploads_to)
                : ml_tensor_new(dy->dtype, dy->ndim, y_shape, device);
    return *y ? ML_OK : ML_ENOMEM;
}

/* Waits for a free slot; NULL when asked to quit. */
static slot *acquire(ml_feed *f)
{
    pthread_mutex_lock(&f->mu);
    while (!f->quit && f->produced - f->released >= f->n_slots)
        pthread_cond_wait(&f->changed, &f->mu);
    slot *s = f->quit ? NULL : &f->slots[f->produced % f->n_slots];
    pthread_mutex_unlock(&f->mu);
    return s;
}

/* Hands slot s to the consumer: count rows (0: the end of an epoch) and the
 * random state rng of their epoch (for the end mark, of the next). */
static void publish(ml_feed *f, slot *s, int64_t count, const uint32_t *rng)
{
    s->count = count;
    memcpy(s->rng, rng, sizeof s->rng);
    pthread_mutex_lock(&f->mu);
    f->produced++;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
}

/* Row k of the window being served (row w0 + k of the dataset) into row `at` of the slot. */
static void copy_window_row(const ml_feed *f, slot *s, int64_t at, int64_t k, int64_t w0)
{
    memcpy(ml_tensor_f32(s->x) + at * f->features, ml_tensor_f32(f->window[0]) + k * f->features, f->x_row);
    if (f->d->y)
        memcpy((char *)ml_tensor_data(s->y) + (size_t)at * f->y_row,
               (const char *)ml_tensor_data(f->d->y) + (size_t)(w0 + k) * f->y_row, f->y_row);
}

/* One epoch of the contiguous modes: each batch one read of the file. */
static ml_status stream_contiguous_epoch(reader *r, const uint32_t *epoch_rng)
{
    ml_feed *f = r->f;
    ml_iter_begin_epoch(f->iter);
    ml_batch b;
    while (ml_iter_next(f->iter, &b)) {
        slot *s = acquire(f);
        if (!s)
            return ML_OK;
        ML_TRY(read_rows(r, b.start, b.count, s->x, 0));
        if (f->d->y)
            memcpy(ml_tensor_data(s->y), (const char *)ml_tensor_data(f->d->y) + (size_t)b.start * f->y_row,
                   (size_t)b.count * f->y_row);
        publish(f, s, b.count, epoch_rng);
    }
    return ML_OK;
}

/* Reads up to `rows` more rows of the next window (window[1]). */
static ml_status read_ahead(reader *r, int64_t rows)
{
    int64_t left = r->window_count[1] - r->read_done;
    int64_t k = rows < left ? rows : left;
    if (k <= 0)
        return ML_OK;
    ML_TRY(read_rows(r, r->window_start[1] + r->read_done, k, r->f->window[1], r->read_done));
    r->read_done += k;
    return ML_OK;
}

static void window_of(const ml_feed *f, int32_t w, int64_t *start, int64_t *count)
{
    *start = (int64_t)w * f->window_rows;
    *count = f->n - *start < f->window_rows ? f->n - *start : f->window_rows;
}

/* One epoch of shuffled_sequential or random_uniform over windows: the next
 * window is read a batch's worth at a time while the current one is served. */
static ml_status stream_window_epoch(reader *r, const uint32_t *epoch_rng)
{
    ml_feed *f = r->f;
    int64_t bs = f->o.iter.batch_size, total = ml_iter_n_batches(f->iter);
    int64_t n_windows = (f->n + f->window_rows - 1) / f->window_rows;
    int uniform = f->o.iter.mode == ML_ITER_RANDOM_UNIFORM;
    ml_rng_permutation(&f->rng, f->windows, n_windows);
    window_of(f, f->windows[0], &r->window_start[1], &r->window_count[1]);
    r->read_done = 0;
    ML_TRY(read_ahead(r, r->window_count[1]));
    int64_t emitted = 0, rows_before = 0; /* rows of the windows already served */
    slot *s = NULL;
    int64_t fill = 0;
    for (int64_t w = 0; w < n_windows && emitted < total; w++) {
        ML_TRY(read_ahead(r, r->window_count[1])); /* what serving the last window left unread */
        ml_tensor *swap = f->window[0];
        f->window[0] = f->window[1];
        f->window[1] = swap;
        r->window_start[0] = r->window_start[1];
        r->window_count[0] = r->window_count[1];
        int64_t wn = r->window_count[0], w0 = r->window_start[0];
        if (w + 1 < n_windows) {
            window_of(f, f->windows[w + 1], &r->window_start[1], &r->window_count[1]);
            r->read_done = 0;
        } else {
            r->window_count[1] = 0;
            r->read_done = 0;
        }
        int64_t step = bs; /* rows of the next window read per batch served */
        if (uniform) {
            /* This window's share of the epoch's batches. */
            int64_t until = (rows_before + wn) * total / f->n;
            for (; emitted < until; emitted++) {
                if (!(s = acquire(f)))
                    return ML_OK;
                for (int64_t i = 0; i < bs; i++) {
                    copy_window_row(f, s, i, ml_rng_below(&f->rng, (uint32_t)wn), w0);
                }
                publish(f, s, bs, epoch_rng);
                ML_TRY(read_ahead(r, step));
            }
        } else {
            ml_rng_permutation(&f->rng, f->order, wn);
            for (int64_t i = 0; i < wn && emitted < total; i++) {
                if (!s && !(s = acquire(f)))
                    return ML_OK;
                copy_window_row(f, s, fill, f->order[i], w0);
                if (++fill == bs) {
                    publish(f, s, fill, epoch_rng);
                    s = NULL;
                    fill = 0;
                    emitted++;
                    ML_TRY(read_ahead(r, step));
                }
            }
        }
        rows_before += wn;
    }
    if (s && fill > 0 && emitted < total) { /* the last, partial batch */
        publish(f, s, fill, epoch_rng);
    }
    return ML_OK;
}

static void *reader_main(void *arg)
{
    ml_feed *f = arg;
    reader r = {.f = f};
    ml_status st = ml_h5_open(f->d->stream->path, &r.file);
    int gathers = ml_iteration_mode_gathers(f->o.iter.mode);
    uint32_t epoch_rng[ML_RNG_STATE_WORDS];
    ml_rng_get_state(order_rng(f), epoch_rng);
    while (st == ML_OK) {
        st = gathers ? stream_window_epoch(&r, epoch_rng) : stream_contiguous_epoch(&r, epoch_rng);
        slot *end = st == ML_OK ? acquire(f) : NULL;
        if (!end)
            break;
        ml_rng_get_state(order_rng(f), epoch_rng); /* the next epoch's */
        publish(f, end, 0, epoch_rng);
    }
    pthread_mutex_lock(&f->mu);
    if (st != ML_OK) {
        f->failure = st;
        snprintf(f->message, sizeof f->message, "%s", ml_last_error());
    }
    f->quit = 1;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
    ml_h5_close(r.file);
    return NULL;
}

/* ---- the consumer side ---- */

/* A streamed feed's ring, windows and device buffers; start_reader starts the thread. */
static ml_status start_streaming(ml_feed *f)
{
    int64_t bs = f->o.iter.batch_size;
    f->n_slots = f->o.depth > 0 ? f->o.depth : DEFAULT_DEPTH;
    f->n_slots++; /* one more for the batch the consumer holds */
    if (!(f->slots = ml_calloc((size_t)f->n_slots, sizeof *f->slots)))
        return ML_ENOMEM;
    for (int i = 0; i < f->n_slots; i++)
        ML_TRY(new_batch_buffers(f, ML_CPU, f->o.device, &f->slots[i].x, &f->slots[i].y));
    if (ml_iteration_mode_gathers(f->o.iter.mode) && f->n > 0) {
        int64_t w = f->o.window_rows;
        if (w <= 0) {
            int64_t budget = ml_memory_available() / 8;
            int64_t bytes = budget < DEFAULT_WINDOW_BYTES ? budget : DEFAULT_WINDOW_BYTES;
            w = bytes / (int64_t)f->x_row;
        }
        w = w < bs ? bs : w;
        f->window_rows = w < f->n ? w : f->n;
        int64_t n_windows = (f->n + f->window_rows - 1) / f->window_rows;
        for (int i = 0; i < 2; i++)
            if (!(f->window[i] = ml_tensor_new(ML_F32, 2, (int64_t[]){f->window_rows, f->features}, ML_CPU)))
                return ML_ENOMEM;
        if (!(f->order = ml_malloc((size_t)f->window_rows * sizeof *f->order)) ||
            !(f->windows = ml_malloc((size_t)n_windows * sizeof *f->windows)))
            return ML_ENOMEM;
        ml_rng_seed(&f->rng, f->o.iter.seed);
    }
    if (f->o.device != ML_CPU) {
        for (int b = 0; b < 2; b++)
            ML_TRY(new_batch_buffers(f, f->o.device, f->o.device, &f->bx[b], &f->by[b]));
        ML_TRY(ml_uploader_new(f->o.device, &f->uploader));
    }
    return ML_OK;
}

/* The reading thread, once the order's random state is set. */
static ml_status start_reader(ml_feed *f)
{
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->changed, NULL);
    if (pthread_create(&f->thread, NULL, reader_main, f) != 0)
        return ml_error(ML_EIO, "%s: cannot start the thread reading it", f->d->stream->path);
    f->thread_started = 1;
    return ML_OK;
}

ml_status ml_feed_new(const ml_dataset *d, const ml_feed_opts *opts, ml_feed **out)
{
    *out = NULL;
    ml_feed *f = ml_calloc(1, sizeof *f);
    if (!f)
        return ML_ENOMEM;
    f->d = d;
    f->o = *opts;
    f->n = f->o.iter.n_examples = ml_dataset_n_examples(d);
    f->features = ml_dataset_n_features(d);
    f->x_row = (size_t)f->features * sizeof(float);
    f->y_row = d->y ? (size_t)(ml_tensor_numel(d->y) / (f->n ? f->n : 1)) * ml_dtype_size(d->y->dtype) : 0;
    f->streamed = d->X == NULL && d->stream != NULL;
    ml_status st = ml_iter_new(&f->o.iter, &f->iter);
    int64_t bs = f->o.iter.batch_size;
    if (st == ML_OK && f->streamed) {
        st = start_streaming(f);
    } else if (st == ML_OK && ml_iteration_mode_gathers(f->o.iter.mode)) {
        ml_device dev = d->X->device;
        int64_t nb = ml_iter_n_batches(f->iter), cap = nb * bs;
        st = new_batch_buffers(f, dev, dev, &f->bx[0], &f->by[0]);
        f->epoch_index = ml_tensor_new(ML_I32, 1, (int64_t[]){cap}, dev);
        /* on the CPU the indices are drawn in place: no host copy */
        f->epoch_index_host = dev == ML_CPU ? NULL : ml_tensor_new(ML_I32, 1, (int64_t[]){cap}, ML_CPU);
        if (st == ML_OK && (!f->epoch_index || (dev != ML_CPU && !f->epoch_index_host)))
            st = ML_ENOMEM;
    }
    if (st == ML_OK && f->o.resume && ml_rng_set_state(order_rng(f), f->o.resume->rng) != ML_OK)
        st = ml_error(ML_EFORMAT, "%s: the saved position of the batches is not a valid random state", d->name);
    if (st == ML_OK && f->streamed)
        st = start_reader(f);
    if (st != ML_OK) {
        ml_feed_free(f);
        return st;
    }
    if (f->o.resume) {
        f->pos = *f->o.resume;
        f->skip = f->o.resume->batch;
        f->pos.batch = 0;
    } else if (!f->streamed) {
        ml_rng_get_state(order_rng(f), f->pos.rng);
    }
    *out = f;
    return ML_OK;
}

void ml_feed_free(ml_feed *f)
{
    if (!f)
        return;
    if (f->thread_started) {
        pthread_mutex_lock(&f->mu);
        f->quit = 1;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->thread, NULL);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->changed);
    }
    ml_uploader_free(f->uploader); /* its copies read the slots */
    for (int i = 0; f->slots && i < f->n_slots; i++) {
        ml_tensor_free(f->slots[i].x);
        ml_tensor_free(f->slots[i].y);
    }
    ml_free(f->slots);
    ml_tensor_free(f->window[0]);
    ml_tensor_free(f->window[1]);
    ml_free(f->order);
    ml_free(f->windows);
    for (int b = 0; b < 2; b++) {
        ml_tensor_free(f->bx[b]);
        ml_tensor_free(f->by[b]);
    }
    ml_tensor_free(f->epoch_index);
    ml_tensor_free(f->epoch_index_host);
    ml_iter_free(f->iter);
    ml_free(f);
}

/* Streamed: the next slot of the ring (the held one released first). */
static ml_status take_slot(ml_feed *f, slot **out)
{
    /* The held slot may still be being copied to the device (the latest send). */
    if (f->holding && f->sent > 0)
        ML_TRY(ml_uploader_wait_host(f->uploader, (int)((f->sent - 1) % 2)));
    pthread_mutex_lock(&f->mu);
    if (f->holding) {
        f->released++;
        f->holding = 0;
        pthread_cond_broadcast(&f->changed);
    }
    while (f->taken >= f->produced && !f->quit)
        pthread_cond_wait(&f->changed, &f->mu);
    ml_status st = ML_OK;
    if (f->taken < f->produced) {
        *out = &f->slots[f->taken % f->n_slots];
        f->taken++;
        f->holding = 1;
    } else {
        st = f->failure != ML_OK ? ml_error(f->failure, "%s", f->message)
                                 : ml_error(ML_EIO, "%s: the reading thread stopped", f->d->stream->path);
    }
    pthread_mutex_unlock(&f->mu);
    return st;
}

/* The gathering modes in memory: every batch's indices of the epoch, sent to the
 * data's device in one copy. */
static ml_status draw_epoch_index(ml_feed *f)
{
    ml_tensor *host = f->epoch_index_host ? f->epoch_index_host : f->epoch_index;
    int32_t *all = ml_tensor_i32(host);
    int64_t total = 0;
    ml_batch b;
    while (ml_iter_next(f->iter, &b)) {
        memcpy(all + total, b.index, (size_t)b.count * sizeof *all);
        total += b.count;
    }
    f->epoch_rows = total;
    if (host != f->epoch_index && total > 0) {
        ml_tensor src, dst;
        ml_tensor_point_rows(&src, host, 0, total);
        ml_tensor_point_rows(&dst, f->epoch_index, 0, total);
        ML_TRY(ml_tensor_copy(&dst, &src));
    }
    return ML_OK;
}

ml_status ml_feed_begin_epoch(ml_feed *f)
{
    if (!f->streamed) {
        ml_rng_get_state(order_rng(f), f->pos.rng);
        ml_iter_begin_epoch(f->iter);
        if (f->epoch_index)
            ML_TRY(draw_epoch_index(f));
    } else {
        /* An epoch left before its end: skip the rest of its batches. */
        while (f->in_epoch) {
            slot *s;
            ML_TRY(take_slot(f, &s));
            f->in_epoch = s->count > 0;
        }
    }
    f->in_epoch = 1;
    f->pos.batch = 0;
    /* A resumed position: the batches its epoch had delivered are passed over. */
    for (; f->skip > 0; f->skip--) {
        ml_tensor *x, *y;
        int more;
        ML_TRY(ml_feed_next(f, &x, &y, &more));
        if (!more)
            return ml_error(ML_EFORMAT, "%s: the saved position is past the end of an epoch", f->d->name);
    }
    return ML_OK;
}

static void point_batch(ml_feed *f, const ml_tensor *x, const ml_tensor *y, int64_t start, int64_t count,
                        ml_tensor **ox, ml_tensor **oy)
{
    ml_tensor_point_rows(&f->vx, x, start, count);
    *ox = &f->vx;
    *oy = NULL;
    if (y) {
        ml_tensor_point_rows(&f->vy, y, start, count);
        *oy = &f->vy;
    }
}

ml_status ml_feed_next(ml_feed *f, ml_tensor **x, ml_tensor **y, int *more)
{
    *more = 0;
    if (!f->in_epoch)
        return ML_OK;
    if (f->streamed) {
        slot *s;
        ML_TRY(take_slot(f, &s));
        memcpy(f->pos.rng, s->rng, sizeof f->pos.rng);
        if (s->count == 0) {
            f->in_epoch = 0;
            f->pos.batch = 0;
            return ML_OK;
        }
        f->pos.batch++;
        if (f->o.device == ML_CPU) {
            point_batch(f, s->x, s->y, 0, s->count, x, y);
        } else {
            int b = (int)(f->sent++ % 2);
            ml_tensor hx, hy;
            ml_tensor_point_rows(&hx, s->x, 0, s->count);
            if (s->y)
                ml_tensor_point_rows(&hy, s->y, 0, s->count);
            point_batch(f, f->bx[b], f->by[b], 0, s->count, x, y);
            ml_tensor *to[2] = {*x, *y};
            const ml_tensor *from[2] = {&hx, &hy};
            ML_TRY(ml_uploader_send(f->uploader, b, s->y ? 2 : 1, to, from));
        }
        *more = 1;
        return ML_OK;
    }
    const ml_dataset *d = f->d;
    ml_batch b = {0};
    int has = f->epoch_index ? f->pos.batch < ml_iter_n_batches(f->iter) : ml_iter_next(f->iter, &b);
    if (!has) {
        f->in_epoch = 0;
        ml_rng_get_state(order_rng(f), f->pos.rng);
        f->pos.batch = 0;
        return ML_OK;
    }
    int64_t k = f->pos.batch++;
    if (f->epoch_index) {
        int64_t bs = f->o.iter.batch_size, start = k * bs;
        int64_t count = f->epoch_rows - start < bs ? f->epoch_rows - start : bs;
        ml_tensor index;
        ml_tensor_point_rows(&index, f->epoch_index, start, count);
        point_batch(f, f->bx[0], f->by[0], 0, count, x, y);
        ML_TRY(ml_gather_rows(*x, d->X, &index));
        if (*y)
            ML_TRY(ml_gather_rows(*y, d->y, &index));
    } else {
        point_batch(f, d->X, d->y, b.start, b.count, x, y);
    }
    *more = 1;
    return ML_OK;
}
