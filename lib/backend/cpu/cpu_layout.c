/* Copies with a new layout: transpose, concatenation, slices, reshapes.
 * Elements are moved as 32-bit words, so float32 and int32 alike. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"

#define TILE 32 /* transposes go tile by tile, so both sides stay in cache */

typedef uint32_t word;

ml_status ml_cpu_transpose(const ml_kernel_args *a)
{
    ml_transpose_plan plan;
    const char *why = ml_transpose_plan_make(a, &plan);
    if (why)
        return ml_cpu_shape_error(a, why);
    word *o = ml_tensor_data(&a->out);
    const word *x = ml_tensor_data(&a->in[0]);
    int64_t total = ml_tensor_numel(&a->out);
    if (total == 0)
        return ML_OK;
    const int64_t *n = plan.n, *st = plan.st;
    int k = plan.k;
    if (k <= 1) {
        if (o != x)
            memmove(o, x, (size_t)total * sizeof *o);
        return ML_OK;
    }
    int64_t os[ML_MAX_DIMS];
    os[k - 1] = 1;
    for (int i = k - 2; i >= 0; i--)
        os[i] = os[i + 1] * n[i + 1];
    int last = k - 1, p = 0;
    for (int i = 0; i < k; i++)
        if (st[i] == 1)
            p = i;

    /* An odometer over every axis but p and last (last's rows are copied whole
     * when contiguous in the input, p = last). */
    int64_t idx[ML_MAX_DIMS] = {0}, oi = 0, oo = 0, blocks = total / n[last];
    if (p != last)
        blocks /= n[p];
    const int64_t P = n[p], L = n[last], os_p = os[p], st_l = st[last];
    for (int64_t b = 0; b < blocks; b++) {
        if (p == last) {
            memcpy(o + oo, x + oi, (size_t)L * sizeof *o);
        } else {
            for (int64_t i0 = 0; i0 < P; i0 += TILE) {
                int64_t i1 = i0 + TILE < P ? i0 + TILE : P;
                for (int64_t j0 = 0; j0 < L; j0 += TILE) {
                    int64_t j1 = j0 + TILE < L ? j0 + TILE : L;
                    for (int64_t i = i0; i < i1; i++) {
                        word *restrict orow = o + oo + i * os_p;
                        const word *restrict xcol = x + oi + i;
                        for (int64_t j = j0; j < j1; j++)
                            orow[j] = xcol[j * st_l];
                    }
                }
            }
        }
        for (int i = last - 1; i >= 0; i--) {
            if (i == p)
                continue;
            oi += st[i];
            oo += os[i];
            if (++idx[i] < n[i])
                break;
            oi -= st[i] * n[i];
            oo -= os[i] * n[i];
            idx[i] = 0;
        }
    }
    return ML_OK;
}


ml_status ml_cpu_concat(const ml_kernel_args *a)
{
    const ml_tensor *out = &a->out;
    int axis;
    const char *why = ml_concat_check(a, &axis);
    if (why)
        return ml_cpu_shape_error(a, why);
    int64_t outer, len, inner;
    ml_plan_split(out, axis, &outer, &len, &inner);
    word *o = ml_tensor_data(out);
    for (int64_t r = 0; r < outer; r++) {
        word *dst = o + r * len * inner;
        for (int i = 0; i < a->n_in; i++) {
            int64_t chunk = a->in[i].shape[axis] * inner;
            const word *src = (const word *)ml_tensor_data(&a->in[i]) + r * chunk;
            memcpy(dst, src, (size_t)chunk * sizeof *dst);
            dst += chunk;
        }
    }
    return ML_OK;
}

ml_status ml_cpu_slice(const ml_kernel_args *a)
{
    const ml_tensor *out = &a->out, *in = &a->in[0];
    int axis;
    const char *why = ml_slice_check(a, &axis);
    if (why)
        return ml_cpu_shape_error(a, why);
    int64_t start = a->p.ip[1], len_out = out->shape[axis], len_in = in->shape[axis];
    int64_t outer, len, inner;
    ml_plan_split(out, axis, &outer, &len, &inner);
    word *o = ml_tensor_data(out);
    const word *x = ml_tensor_data(in);
    for (int64_t r = 0; r < outer; r++)
        memcpy(o + r * len_out * inner, x + (r * len_in + start) * inner,
               (size_t)(len_out * inner) * sizeof *o);
    return ML_OK;
}

ml_status ml_cpu_gather_rows(const ml_kernel_args *a)
{
    int64_t rows, words;
    ML_TRY(ml_gather_plan_make(a, &rows, &words));
    const int32_t *index = ml_tensor_i32(&a->in[1]);
    const uint32_t *x = ml_tensor_data(&a->in[0]);
    uint32_t *o = ml_tensor_data(&a->out);
    for (int64_t i = 0; i < a->out.shape[0]; i++) {
        if (index[i] < 0 || index[i] >= rows)
            return ml_error(ML_EINVAL, "gather_rows: index %d at %lld is outside 0..%lld", index[i], (long long)i,
                            (long long)rows - 1);
        memcpy(o + i * words, x + (int64_t)index[i] * words, (size_t)words * sizeof *o);
    }
    return ML_OK;
}

ml_status ml_cpu_copy(const ml_kernel_args *a)
{
    if (a->n_in < 1 || ml_tensor_numel(&a->in[0]) != ml_tensor_numel(&a->out) ||
        a->in[0].dtype != a->out.dtype)
        return ml_cpu_shape_error(a, "input and output sizes differ");
    void *o = ml_tensor_data(&a->out);
    const void *x = ml_tensor_data(&a->in[0]);
    if (o != x)
        memmove(o, x, ml_tensor_nbytes(&a->out));
    return ML_OK;
}
