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

static ml_tensor *f32(int ndim, const int64_t *shape, const float *v)
{
    ml_tensor *t = ml_tensor_new(ML_F32, ndim, shape, ML_CPU);
    memcpy(ml_tensor_data(t), v, (size_t)ml_tensor_numel(t) * sizeof *v);
    return t;
}

static int values_are(const ml_tensor *t, int64_t rows, int64_t cols, const float *want)
{
    return t && t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols &&
           memcmp(ml_tensor_data(t), want, (size_t)(rows * cols) * sizeof *want) == 0;
}

/* CompositeSpace conversions against values worked out by hand. */
static void composite_tests(void)
{
    char buf[256];
    /* (VectorSpace(2), IndexSpace(dim=1, max_labels=3), Conv2DSpace 1x1x2 b,0,1,c) */
    ml_space parts[3] = {ml_vector_space(2), ml_index_space(1, 3), ml_conv2d_space_axes(2, 1, 1, ML_AXES_B01C)};
    ml_space comp = ml_composite_space(3, parts), flat = ml_vector_space(2 + 3 + 2);
    CHECK_OK(ml_space_check_convert(&comp, &flat), "composite -> VectorSpace(7) (2 + one-hot 3 + 2)");
    ml_space v6 = ml_vector_space(6);
    CHECK(ml_space_check_convert(&comp, &v6) == ML_ESHAPE && strstr(ml_last_error(), "make 7 values"),
          "composite -> VectorSpace(6) says the components make 7: %s", ml_last_error());
    ml_space img = ml_conv2d_space(7, 1, 1);
    CHECK(ml_space_check_convert(&comp, &img) == ML_ESHAPE && strstr(ml_last_error(), "converts only to"),
          "composite -> Conv2DSpace is refused with the reason: %s", ml_last_error());
    CHECK(ml_space_check_convert(&flat, &comp) == ML_ESHAPE, "VectorSpace -> composite is refused");
    ml_space other[3] = {ml_conv2d_space(2, 1, 1), ml_vector_space(4), ml_vector_space(2)};
    ml_space comp2 = ml_composite_space(3, other);
    CHECK(ml_space_check_convert(&comp, &comp2) == ML_ESHAPE && strstr(ml_last_error(), "component 1: IndexSpace"),
          "IndexSpace(dim=1, max_labels=3) -> VectorSpace(4) inside a composite is refused, naming the component: %s",
          ml_last_error());
    ml_space other2[3] = {ml_conv2d_space(2, 1, 1), ml_index_space(1, 3), ml_vector_space(2)};
    ml_space comp3 = ml_composite_space(3, other2);
    CHECK_OK(ml_space_check_convert(&comp, &comp3), "composite -> composite component by component");
    ml_space two[2] = {ml_vector_space(2), ml_index_space(1, 3)};
    ml_space comp_two = ml_composite_space(2, two);
    CHECK(ml_space_check_convert(&comp, &comp_two) == ML_ESHAPE && strstr(ml_last_error(), "3 components, not 2"),
          "a composite of another number of components is refused: %s", ml_last_error());
    CHECK(strcmp(ml_space_describe(&comp3, buf, sizeof buf),
                 "CompositeSpace(Conv2DSpace(shape=[1, 1], num_channels=2), IndexSpace(dim=1, max_labels=3), "
                 "VectorSpace(2))") == 0, "describes %s", buf);

    /* A batch of two examples. */
    ml_tensor *a = f32(2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4});
    ml_tensor *idx = ml_tensor_new(ML_I32, 1, (int64_t[]){2}, ML_CPU);
    ml_tensor_i32(idx)[0] = 2;
    ml_tensor_i32(idx)[1] = 0;
    ml_tensor *im = f32(4, (int64_t[]){2, 1, 1, 2}, (float[]){5, 6, 7, 8}); /* b,0,1,c: channels last */
    const ml_tensor *xs[3] = {a, idx, im};
    ml_tensor *out[3] = {0};
    CHECK_OK(ml_space_convert_tuple(&comp, xs, &flat, out), "composite batch -> vector");
    CHECK(values_are(out[0], 2, 7, (float[]){1, 2, 0, 0, 1, 5, 6, 3, 4, 1, 0, 0, 7, 8}),
          "rows are [a, one-hot(index), image in c,0,1 order]");
    ml_tensor_free(out[0]);
    out[0] = NULL;
    CHECK(ml_space_convert(&comp, a, &flat, &out[0]) == ML_EINVAL, "ml_space_convert refuses a composite batch");

    CHECK_OK(ml_space_convert_tuple(&comp, xs, &comp3, out), "composite batch -> composite");
    CHECK(out[0] && out[0]->ndim == 4 && out[0]->shape[1] == 2 &&
              memcmp(ml_tensor_data(out[0]), (float[]){1, 2, 3, 4}, 4 * sizeof(float)) == 0,
          "component 0: vector -> b,c,0,1 image");
    CHECK(out[1] && out[1]->dtype == ML_I32 && ml_tensor_i32(out[1])[0] == 2 && ml_tensor_i32(out[1])[1] == 0,
          "component 1: the indices are kept");
    CHECK(values_are(out[2], 2, 2, (float[]){5, 6, 7, 8}), "component 2: b,0,1,c 1x1 image -> vector");
    for (int i = 0; i < 3; i++)
        ml_tensor_free(out[i]);

    /* Nested: (VectorSpace(2), (IndexSpace(dim=2, max_labels=2))) -> VectorSpace(6). */
    ml_space inner_parts[1] = {ml_index_space(2, 2)};
    ml_space nested_parts[2] = {ml_vector_space(2), ml_composite_space(1, inner_parts)};
    ml_space nested = ml_composite_space(2, nested_parts);
    ml_space v6b = ml_vector_space(6);
    ml_tensor *idx2 = ml_tensor_new(ML_I32, 2, (int64_t[]){2, 2}, ML_CPU);
    memcpy(ml_tensor_data(idx2), (int32_t[]){1, 0, 0, 1}, sizeof(int32_t[4]));
    const ml_tensor *nxs[2] = {a, idx2};
    ml_tensor *nout = NULL;
    CHECK_OK(ml_space_convert_tuple(&nested, nxs, &v6b, &nout), "nested composite -> vector");
    CHECK(values_are(nout, 2, 6, (float[]){1, 2, 0, 1, 1, 0, 3, 4, 1, 0, 0, 1}),
          "nested index components are one-hot in place");
    ml_tensor_free(nout);

    /* In a graph: (VectorSpace(2), Conv2DSpace b,0,1,c) -> VectorSpace(4) is a concatenation. */
    ml_space dense_parts[2] = {ml_vector_space(2), ml_conv2d_space_axes(2, 1, 1, ML_AXES_B01C)};
    ml_space dense = ml_composite_space(2, dense_parts), v4 = ml_vector_space(4);
    ml_graph *g = ml_graph_new();
    ml_node *in[2] = {ml_input(g, "a", ML_F32, 2, (int64_t[]){ML_BATCH, 2}),
                      ml_input(g, "im", ML_F32, 4, (int64_t[]){ML_BATCH, 1, 1, 2})};
    ml_node *y = NULL;
    CHECK_OK(ml_space_convert_nodes(g, &dense, in, &v4, &y), "graph composite -> vector");
    ml_node *with_index[2] = {in[0], ml_input(g, "i", ML_I32, 1, (int64_t[]){ML_BATCH})};
    ml_node *bad = NULL;
    CHECK(ml_space_convert_nodes(g, &comp_two, with_index, &(ml_space){ML_SPACE_VECTOR, .dim = 5}, &bad) != ML_OK,
          "index components cannot be one-hot in graphs");
    CHECK(ml_space_convert_node(g, &dense, in[0], &v4) == NULL, "ml_space_convert_node refuses a composite");
    ml_fn *fn = NULL;
    ml_fn_spec spec = {.n_inputs = 2, .inputs = in, .n_outputs = 1, .outputs = &y, .max_batch = 2, .device = ML_CPU};
    if (y)
        CHECK_OK(ml_fn_compile(g, &spec, &fn), "the conversion compiles");
    if (fn) {
        CHECK_OK(ml_fn_call(fn, (ml_tensor *[]){a, im}), "and runs");
        CHECK(values_are(ml_fn_output(fn, 0), 2, 4, (float[]){1, 2, 5, 6, 3, 4, 7, 8}),
              "graph rows are [a, image as a vector]");
    }
    ml_fn_free(fn);
    ml_graph_free(g);
    ml_tensor_free(a);
    ml_tensor_free(idx);
    ml_tensor_free(idx2);
    ml_tensor_free(im);
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
    composite_tests();
    return harness_done();
}
