/* Iterators (data/iterator.h): every example once per epoch where the mode
 * promises it, determinism per seed, the last partial batch kept or dropped,
 * and random_uniform's statistics. */
#include <string.h>

#include "harness.h"
#include "ml.h"

/* Runs one epoch, counting visits per row; returns the number of batches, and
 * the sizes of the first and last batches. */
static int64_t epoch(ml_iter *it, int64_t n, int64_t *visits, int64_t *first, int64_t *last)
{
    memset(visits, 0, (size_t)n * sizeof *visits);
    ml_iter_begin_epoch(it);
    ml_batch b;
    int64_t k = 0;
    while (ml_iter_next(it, &b)) {
        if (k == 0)
            *first = b.count;
        *last = b.count;
        for (int64_t i = 0; i < b.count; i++) {
            int64_t r = b.index ? b.index[i] : b.start + i;
            if (r >= 0 && r < n)
                visits[r]++;
            else
                visits[0] += 1000000; /* out of range: fail the checks */
        }
        k++;
    }
    return k;
}

static int all_once(const int64_t *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (v[i] != 1)
            return 0;
    return 1;
}

static void sequence(ml_iteration_mode mode, uint64_t seed, int64_t n, int64_t bs, int64_t *out, int64_t max)
{
    ml_iter *it;
    ml_iter_opts o = {.mode = mode, .n_examples = n, .batch_size = bs, .seed = seed};
    if (ml_iter_new(&o, &it) != ML_OK)
        return;
    int64_t k = 0;
    for (int e = 0; e < 2; e++) {
        ml_iter_begin_epoch(it);
        ml_batch b;
        while (ml_iter_next(it, &b))
            for (int64_t i = 0; i < b.count && k < max; i++)
                out[k++] = b.index ? b.index[i] : b.start + i;
    }
    ml_iter_free(it);
}

int main(void)
{
    enum { N = 103, BS = 10 };
    int64_t visits[N], first = 0, last = 0;
    const char *names[] = {"sequential", "shuffled_sequential", "random_slice", "random_uniform",
                           "batchwise_shuffled_sequential"};
    for (int m = 0; m < 5; m++) {
        CHECK(ml_iteration_mode_parse(names[m]) == m, "mode name %s", names[m]);
        CHECK(strcmp(ml_iteration_mode_name((ml_iteration_mode)m), names[m]) == 0, "name of mode %d", m);
    }
    CHECK(ml_iteration_mode_parse("shuffled") == -1, "an unknown mode name is refused");

    ml_iteration_mode once[] = {ML_ITER_SEQUENTIAL, ML_ITER_SHUFFLED_SEQUENTIAL, ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL};
    for (int m = 0; m < 3; m++) {
        ml_iter *it;
        ml_iter_opts o = {.mode = once[m], .n_examples = N, .batch_size = BS, .seed = 7};
        CHECK_OK(ml_iter_new(&o, &it), "%s iterator", names[once[m]]);
        for (int e = 0; e < 3; e++) {
            int64_t k = epoch(it, N, visits, &first, &last);
            CHECK(k == 11 && all_once(visits, N), "%s epoch %d: 11 batches, every example once", names[once[m]], e);
        }
        ml_iter_free(it);
        o.drop_last = 1;
        CHECK_OK(ml_iter_new(&o, &it), "%s iterator dropping the partial batch", names[once[m]]);
        int64_t k = epoch(it, N, visits, &first, &last);
        int64_t seen = 0, partial_batch_ok = 1;
        for (int64_t i = 0; i < N; i++) {
            seen += visits[i];
            if (visits[i] > 1)
                partial_batch_ok = 0;
        }
        CHECK(k == 10 && seen == 100 && partial_batch_ok, "%s drop_last: 10 full batches, 100 distinct examples",
              names[once[m]]);
        ml_iter_free(it);
    }
    /* sequential: in order, the last batch partial. */
    {
        ml_iter *it;
        ml_iter_opts o = {.mode = ML_ITER_SEQUENTIAL, .n_examples = N, .batch_size = BS};
        CHECK_OK(ml_iter_new(&o, &it), "sequential iterator");
        ml_iter_begin_epoch(it);
        ml_batch b;
        int ordered = 1;
        for (int64_t k = 0; ml_iter_next(it, &b); k++)
            if (b.index || b.start != k * BS || b.count != (k == 10 ? 3 : BS))
                ordered = 0;
        CHECK(ordered, "sequential: rows in order, last batch of 3 kept");
        ml_iter_free(it);
        o.n_batches = 4;
        CHECK_OK(ml_iter_new(&o, &it), "sequential iterator capped at 4 batches");
        CHECK(epoch(it, N, visits, &first, &last) == 4, "n_batches caps the epoch");
        ml_iter_free(it);
    }
    /* batchwise: contiguous batches in a shuffled order, the partial one among them. */
    {
        ml_iter *it;
        ml_iter_opts o = {.mode = ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL, .n_examples = N, .batch_size = BS, .seed = 3};
        CHECK_OK(ml_iter_new(&o, &it), "batchwise iterator");
        ml_iter_begin_epoch(it);
        ml_batch b;
        int contiguous = 1, in_order = 1;
        for (int64_t k = 0; ml_iter_next(it, &b); k++) {
            if (b.index || b.start % BS)
                contiguous = 0;
            if (b.start != k * BS)
                in_order = 0;
        }
        CHECK(contiguous && !in_order, "batchwise: aligned contiguous batches, not in sequential order");
        ml_iter_free(it);
    }
    /* Determinism per seed; different seeds differ. */
    for (int m = 1; m < 5; m++) {
        int64_t a[400], b[400], c[400];
        memset(a, 0, sizeof a);
        memset(b, 0, sizeof b);
        memset(c, 0, sizeof c);
        sequence((ml_iteration_mode)m, 42, N, BS, a, 200);
        sequence((ml_iteration_mode)m, 42, N, BS, b, 200);
        sequence((ml_iteration_mode)m, 43, N, BS, c, 200);
        CHECK(memcmp(a, b, sizeof a) == 0, "%s: the same seed gives the same batches", names[m]);
        CHECK(memcmp(a, c, sizeof a) != 0, "%s: another seed gives other batches", names[m]);
        /* The second epoch differs from the first. */
        CHECK(memcmp(a, a + N, 50 * sizeof *a) != 0, "%s: a new order each epoch", names[m]);
    }
    /* random_slice: full contiguous slices inside the data. */
    {
        ml_iter *it;
        ml_iter_opts o = {.mode = ML_ITER_RANDOM_SLICE, .n_examples = N, .batch_size = BS, .seed = 5};
        CHECK_OK(ml_iter_new(&o, &it), "random_slice iterator");
        ml_iter_begin_epoch(it);
        ml_batch b;
        int ok = 1, k = 0;
        while (ml_iter_next(it, &b)) {
            k++;
            if (b.index || b.count != BS || b.start < 0 || b.start + BS > N)
                ok = 0;
        }
        CHECK(ok && k == 11, "random_slice: 11 slices of 10 rows within 0..102");
        ml_iter_free(it);
    }
    /* random_uniform: with replacement, each row with probability 1/n. */
    {
        enum { M = 20, DRAWS = 200000 };
        int64_t count[M] = {0};
        ml_iter *it;
        ml_iter_opts o = {.mode = ML_ITER_RANDOM_UNIFORM, .n_examples = M, .batch_size = 50,
                          .n_batches = DRAWS / 50, .seed = 9};
        CHECK_OK(ml_iter_new(&o, &it), "random_uniform iterator");
        ml_iter_begin_epoch(it);
        ml_batch b;
        int repeats = 0, k = 0;
        while (ml_iter_next(it, &b)) {
            k++;
            int seen[M] = {0};
            for (int64_t i = 0; i < b.count; i++) {
                count[b.index[i]]++;
                if (seen[b.index[i]]++)
                    repeats = 1;
            }
        }
        CHECK(k == DRAWS / 50, "random_uniform: n_batches batches");
        CHECK(repeats, "random_uniform: examples repeat within a batch (with replacement)");
        double expect = DRAWS / (double)M, chi2 = 0;
        for (int i = 0; i < M; i++)
            chi2 += (count[i] - expect) * (count[i] - expect) / expect;
        CHECK(chi2 < 43.8, "random_uniform: chi-square %.1f over 20 rows below 43.8 (p = 0.001)", chi2);
        ml_iter_free(it);
    }
    {
        ml_iter *it;
        ml_iter_opts o = {.mode = ML_ITER_SEQUENTIAL, .n_examples = N, .batch_size = 0};
        CHECK(ml_iter_new(&o, &it) == ML_EINVAL, "batch size 0 is refused");
    }
    return harness_done();
}
