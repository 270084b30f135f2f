#include "backend/plan.h"

int ml_bcast_plan_make(const ml_tensor *o, const ml_tensor *x, const ml_tensor *y, ml_bcast_plan *p)
{
    int nd = o->ndim;
    if (x->ndim > nd || y->ndim > nd)
        return -1;
    int64_t n[ML_MAX_DIMS], ax[ML_MAX_DIMS], ay[ML_MAX_DIMS];
    int64_t stride_x = 1, stride_y = 1;
    int k = 0;
    for (int i = nd - 1; i >= 0; i--) {
        int64_t d = o->shape[i];
        int ix = i - (nd - x->ndim), iy = i - (nd - y->ndim);
        int64_t dx = ix >= 0 ? x->shape[ix] : 1, dy = iy >= 0 ? y->shape[iy] : 1;
        if ((dx != d && dx != 1) || (dy != d && dy != 1))
            return -1;
        int64_t tx = dx == 1 ? 0 : stride_x, ty = dy == 1 ? 0 : stride_y;
        stride_x *= dx;
        stride_y *= dy;
        if (d == 1)
            continue;
        if (k > 0 && tx == ax[k - 1] * n[k - 1] && ty == ay[k - 1] * n[k - 1]) {
            n[k - 1] *= d;
            continue;
        }
        n[k] = d;
        ax[k] = tx;
        ay[k] = ty;
        k++;
    }
    p->nd = k;
    for (int i = 0; i < k; i++) {
        p->n[i] = n[k - 1 - i];
        p->sx[i] = ax[k - 1 - i];
        p->sy[i] = ay[k - 1 - i];
    }
    return 0;
}

int ml_plan_shape_minus_axis(const ml_tensor *full, int axis, const ml_tensor *less)
{
    if (less->ndim != full->ndim - 1)
        return 0;
    for (int i = 0, j = 0; i < full->ndim; i++) {
        if (i == axis)
            continue;
        if (full->shape[i] != less->shape[j++])
            return 0;
    }
    return 1;
}
