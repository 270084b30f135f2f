/* Spaces (space/space.h): sizes and descriptions, index -> one-hot, image <->
 * flat vector, the three axis orders, and the graph conversions against the
 * CPU ones. */
#include <string.h>

#include "harness.h"
#include "ml.h"

enum { B = 3, C = 2, H = 3, W = 4, N = C * H * W };

/* Element (b, c, h, w) of a batch of images laid out as in data files. */
static float value(int64_t b, int64_t c, int64_t h, int64_t w)
{
    return (float)(1000 * b + 100 * c + 10 * h + w);
}

static int equal(const ml_tensor *a, const ml_tensor *b)
{
    if (a->ndim != b->ndim || memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof *a->shape) != 0)
        return 0;
    return memcmp(ml_tensor_data(a), ml_tensor_data(b), (size_t)ml_tensor_numel(a) * 4) == 0;
}

int main(void)
{
    char buf[256];
    ml_space v = ml_vector_space(N), img = ml_conv2d_space(C, H, W);
    ml_space b01c = ml_conv2d_space_axes(C, H, W, ML_AXES_B01C), c01b = ml_conv2d_space_axes(C, H, W, ML_AXES_C01B);
    ml_space idx = ml_index_space(2, 5), parts[2] = {v, idx};
    ml_space comp = ml_composite_space(2, parts);
    CHECK(ml_space_size(&v) == N && ml_space_size(&img) == N && ml_space_size(&c01b) == N, "sizes of dense spaces");
    CHECK(ml_space_size(&idx) == 2 && ml_space_vector_size(&idx) == 10, "IndexSpace: 2 indices, 10 one-hot values");
    CHECK(ml_space_size(&comp) == N + 2 && ml_space_vector_size(&comp) == N + 10, "CompositeSpace sizes add up");
    CHECK(strcmp(ml_space_describe(&img, buf, sizeof buf), "Conv2DSpace(shape=[3, 4], num_channels=2)") == 0,
          "describes %s", buf);
    CHECK(strcmp(ml_space_describe(&b01c, buf, sizeof buf),
                 "Conv2DSpace(shape=[3, 4], num_channels=2, axes=('b', 0, 1, 'c'))") == 0, "describes %s", buf);
    CHECK(strcmp(ml_space_describe(&comp, buf, sizeof buf),
                 "CompositeSpace(VectorSpace(24), IndexSpace(dim=2, max_labels=5))") == 0, "describes %s", buf);

    /* Conversion checks. */
    CHECK(ml_space_check_convert(&v, &c01b) == ML_OK, "vector -> image of the same size");
    CHECK(ml_space_check_convert(&idx, &(ml_space){.kind = ML_SPACE_VECTOR, .dim = 10}) == ML_OK,
          "index -> one-hot vector");
    CHECK(ml_space_check_convert(&v, &idx) == ML_ESHAPE, "vector -> index is refused");
    CHECK(ml_space_check_convert(&v, &(ml_space){.kind = ML_SPACE_VECTOR, .dim = 5}) == ML_ESHAPE,
          "vectors of other sizes are refused: %s", ml_last_error());

    /* index -> one-hot */
    {
        int32_t labels[3 * 2] = {0, 4, 2, 2, 1, 3};
        ml_tensor *x = ml_tensor_wrap(ML_I32, 2, (int64_t[]){3, 2}, labels), *o = NULL;
        ml_space onehot = ml_vector_space(10);
        CHECK_OK(ml_space_convert(&idx, x, &onehot, &o), "index -> one-hot");
        int ok = o && o->shape[0] == 3 && o->shape[1] == 10;
        for (int i = 0; ok && i < 3; i++)
            for (int j = 0; j < 10; j++)
                ok = ok && ml_tensor_f32(o)[i * 10 + j] == ((j / 5 == 0 && j % 5 == labels[2 * i]) ||
                                                             (j / 5 == 1 && j % 5 == labels[2 * i + 1]));
        CHECK(ok, "one-hot codes concatenated per index");
        ml_tensor_free(o);
        labels[3] = 5;
        CHECK(ml_space_convert(&idx, x, &onehot, &o) == ML_EINVAL, "an index outside 0..4 is refused: %s",
              ml_last_error());
        ml_tensor_free(x);
    }

    /* image <-> vector <-> the three axis orders */
    ml_tensor *rows = ml_tensor_new(ML_F32, 2, (int64_t[]){B, N}, ML_CPU);
    float *r = ml_tensor_f32(rows);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    r[b * N + (c * H + h) * W + w] = value(b, c, h, w);
    ml_tensor *t = NULL, *back = NULL, *t2 = NULL;
    CHECK_OK(ml_space_convert(&v, rows, &img, &t), "vector -> b,c,0,1");
    CHECK(t && t->ndim == 4 && t->shape[0] == B && t->shape[1] == C && t->shape[3] == W &&
              memcmp(ml_tensor_data(t), r, sizeof(float) * B * N) == 0,
          "b,c,0,1 images are the rows reshaped");
    ml_tensor_free(t);
    CHECK_OK(ml_space_convert(&v, rows, &b01c, &t), "vector -> b,0,1,c");
    int ok = t && t->shape[0] == B && t->shape[1] == H && t->shape[2] == W && t->shape[3] == C;
    for (int b = 0; ok && b < B; b++)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    ok = ok && ml_tensor_f32(t)[((b * H + h) * W + w) * C + c] == value(b, c, h, w);
    CHECK(ok, "b,0,1,c holds element (b, c, h, w) at [b, h, w, c]");
    CHECK_OK(ml_space_convert(&b01c, t, &c01b, &t2), "b,0,1,c -> c,0,1,b");
    ok = t2 && t2->shape[0] == C && t2->shape[3] == B;
    for (int b = 0; ok && b < B; b++)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    ok = ok && ml_tensor_f32(t2)[((c * H + h) * W + w) * B + b] == value(b, c, h, w);
    CHECK(ok, "c,0,1,b holds element (b, c, h, w) at [c, h, w, b]");
    ml_space bc01_flat = ml_vector_space(N);
    CHECK_OK(ml_space_convert(&img, (ml_tensor[]){*rows}, &bc01_flat, &back), "b,c,0,1 rows -> vector");
    ml_tensor_free(back);
    back = NULL;
    /* c,0,1,b -> b,c,0,1 -> vector gives the rows back. */
    ml_tensor *t3 = NULL;
    CHECK_OK(ml_space_convert(&c01b, t2, &img, &t3), "c,0,1,b -> b,c,0,1");
    CHECK_OK(ml_space_convert(&img, t3, &v, &back), "b,c,0,1 -> vector");
    CHECK(back && equal(back, rows), "the round trip gives the rows back");
    ml_tensor_free(back);
    back = NULL;
    /* b,0,1,c flattened gives the rows of data files (c,0,1 order). */
    CHECK_OK(ml_space_convert(&b01c, t, &v, &back), "b,0,1,c -> vector");
    CHECK(back && equal(back, rows), "a b,0,1,c batch flattens to the rows of data files");
    ml_tensor_free(back);
    CHECK(ml_space_convert(&c01b, rows, &v, &back) == ML_ESHAPE, "a batch of the wrong shape is refused");

    /* The graph conversions give the CPU ones. */
    const ml_space *targets[3] = {&img, &b01c, &c01b};
    for (int k = 0; k < 3; k++) {
        ml_graph *g = ml_graph_new();
        ml_node *x = ml_input(g, "X", ML_F32, 2, (int64_t[]){ML_BATCH, N});
        ml_space data_rows = ml_conv2d_space(C, H, W);
        ml_node *y = ml_space_convert_node(g, &data_rows, x, targets[k]);
        ml_node *z = y ? ml_space_convert_node(g, targets[k], y, &v) : NULL;
        ml_node *outs[2] = {y, z};
        ml_fn *fn = NULL;
        ml_fn_spec spec = {.n_inputs = 1, .inputs = &x, .n_outputs = 2, .outputs = outs, .max_batch = B,
                           .device = ML_CPU};
        ml_tensor *want = NULL;
        if (y && z)
            CHECK_OK(ml_fn_compile(g, &spec, &fn), "graph conversion to axes %s compiles",
                     ml_axes_name(targets[k]->axes));
        else
            CHECK(0, "graph conversion to axes %s: %s", ml_axes_name(targets[k]->axes), ml_last_error());
        if (fn) {
            CHECK_OK(ml_fn_call(fn, (ml_tensor *[]){rows}), "graph conversion runs");
            ml_space_convert(&v, rows, targets[k], &want);
            CHECK(want && equal(ml_fn_output(fn, 0), want), "graph rows -> %s equals the CPU conversion",
                  ml_axes_name(targets[k]->axes));
            ml_tensor_free(want);
            want = NULL;
            ml_space_convert(targets[k], ml_fn_output(fn, 0), &v, &want);
            CHECK(want && equal(ml_fn_output(fn, 1), want), "graph %s -> vector equals the CPU conversion",
                  ml_axes_name(targets[k]->axes));
            ml_tensor_free(want);
        }
        ml_fn_free(fn);
        ml_graph_free(g);
    }
    ml_tensor_free(t);
    ml_tensor_free(t2);
    ml_tensor_free(t3);
    ml_tensor_free(rows);
    return harness_done();
}
