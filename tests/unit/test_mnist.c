/* The MNIST dataset component: pixels scaled to [0, 1], start/stop, center
 * (the mean image of the rows kept subtracted), binarize, shuffle (a fixed
 * permutation of the whole set before start/stop), on IDX files written here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "ml.h"

enum { N = 12, H = 2, W = 3, D = H * W };

static unsigned char pixel(int i, int p)
{
    return (unsigned char)((37 * i + 11 * p) % 256);
}

static void be32(FILE *f, unsigned v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static void write_files(const char *dir, const char *prefix)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *f = fopen(path, "wb");
    be32(f, 0x803), be32(f, N), be32(f, H), be32(f, W);
    for (int i = 0; i < N; i++)
        for (int p = 0; p < D; p++)
            fputc(pixel(i, p), f);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
    f = fopen(path, "wb");
    be32(f, 0x801), be32(f, N);
    for (int i = 0; i < N; i++)
        fputc(i % 10, f);
    fclose(f);
}

static ml_cfg_node *roots[8];
static int n_roots;

static ml_dataset *load(const char *yaml, ml_cfg_ctx **ctx)
{
    ml_cfg_node *root = NULL;
    *ctx = NULL;
    void *obj = NULL;
    if (ml_cfg_parse_string(yaml, "test", &root) != ML_OK || ml_cfg_ctx_new(ctx) != ML_OK ||
        ml_cfg_instantiate(*ctx, root, "dataset", &obj) != ML_OK) {
        printf("# %s\n", ml_last_error());
        obj = NULL;
    }
    if (root && n_roots < 8)
        roots[n_roots++] = root;
    return obj;
}

int main(void)
{
    char dir[] = "/tmp/test_mnist.XXXXXX", sub[600], env[600];
    if (!mkdtemp(dir))
        return 1;
    snprintf(sub, sizeof sub, "%s/mnist", dir);
    mkdir(sub, 0700);
    write_files(sub, "train");
    write_files(sub, "t10k");
    snprintf(env, sizeof env, "%s", dir);
    setenv("PYLEARN2_DATA_PATH", env, 1);
    CHECK_OK(ml_components_register(), "components registered");

    ml_cfg_ctx *ctx = NULL;
    ml_dataset *d = load("!obj:MNIST { which_set: 'train', start: 2, stop: 7 }", &ctx);
    int ok = d && ml_dataset_n_examples(d) == 5 && ml_dataset_n_features(d) == D;
    for (int i = 0; ok && i < 5; i++) {
        ok = ml_tensor_i32(d->y)[i] == (i + 2) % 10;
        for (int p = 0; ok && p < D; p++)
            ok = ml_tensor_f32(d->X)[i * D + p] == (float)pixel(i + 2, p) / 255.0f;
    }
    CHECK(ok, "rows 2..6, pixels / 255, their labels");
    ml_cfg_ctx_free(ctx);

    d = load("!obj:MNIST { which_set: 'test', start: 2, stop: 7, center: true }", &ctx);
    ok = d && ml_dataset_n_examples(d) == 5;
    for (int p = 0; ok && p < D; p++) {
        double mean = 0;
        for (int i = 2; i < 7; i++)
            mean += pixel(i, p) / 255.0;
        mean /= 5;
        for (int i = 0; ok && i < 5; i++)
            ok = fabs(ml_tensor_f32(d->X)[i * D + p] - (pixel(i + 2, p) / 255.0 - mean)) < 1e-6;
    }
    CHECK(ok, "center subtracts the mean image of the rows kept");
    ml_cfg_ctx_free(ctx);

    d = load("!obj:MNIST { which_set: 'train', binarize: true }", &ctx);
    ok = d && ml_dataset_n_examples(d) == N;
    for (int i = 0; ok && i < N; i++)
        for (int p = 0; ok && p < D; p++)
            ok = ml_tensor_f32(d->X)[i * D + p] == (pixel(i, p) / 255.0f > 0.5f ? 1.0f : 0.0f);
    CHECK(ok, "binarize: 1 above 0.5, else 0");
    ml_cfg_ctx_free(ctx);

    /* shuffle: a permutation of the whole set (labels follow their images), the same each time. */
    ml_cfg_ctx *ctx2 = NULL;
    d = load("!obj:MNIST { which_set: 'train', shuffle: true }", &ctx);
    ml_dataset *d2 = load("!obj:MNIST { which_set: 'train', shuffle: true, start: 4, stop: 8 }", &ctx2);
    int seen[N] = {0}, moved = 0;
    ok = d && d2 && ml_dataset_n_examples(d) == N;
    for (int i = 0; ok && i < N; i++) {
        int src = -1;
        for (int j = 0; j < N; j++)
            if (ml_tensor_f32(d->X)[i * D + 1] == (float)pixel(j, 1) / 255.0f &&
                ml_tensor_f32(d->X)[i * D] == (float)pixel(j, 0) / 255.0f)
                src = j;
        ok = src >= 0 && !seen[src]++ && ml_tensor_i32(d->y)[i] == src % 10;
        moved += src != i;
    }
    CHECK(ok && moved > 0, "shuffle permutes the examples, labels with them");
    ok = d && d2;
    for (int i = 0; ok && i < 4 * D; i++)
        ok = ml_tensor_f32(d2->X)[i] == ml_tensor_f32(d->X)[4 * D + i];
    CHECK(ok, "shuffle then start/stop: rows 4..7 of the same permutation");
    ml_cfg_ctx_free(ctx);
    ml_cfg_ctx_free(ctx2);

    d = load("!obj:MNIST { which_set: 'train', stop: 13 }", &ctx);
    CHECK(!d && strstr(ml_last_error(), "do not lie in the 12 examples"), "stop past the end is refused");
    ml_cfg_ctx_free(ctx);

    for (int i = 0; i < n_roots; i++)
        ml_cfg_node_free(roots[i]);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return harness_done();
}
