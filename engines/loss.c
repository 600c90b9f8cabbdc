/* loss.c - see loss.h. */
#include "engines/loss.h"

#include <math.h>

static double mse_row(int K, const trl_real *y, const trl_real *tg, double m, double scale,
                      trl_real *dy)
{
    double sum = 0;
    for (int k = 0; k < K; k++) {
        double diff = (double)y[k] - tg[k];
        sum += diff * diff;
        if (dy) dy[k] = (trl_real)(scale * m * diff);
    }
    return 0.5 * m * sum;
}

static double cross_entropy_row(int K, const trl_real *y, const trl_real *tg, double m,
                                double scale, trl_real *dy)
{
    double top = y[0], sum_t = 0, dot = 0;
    for (int k = 1; k < K; k++)
        if (y[k] > top) top = y[k];
    double sum_exp = exp(y[0] - top); /* K >= 1: sum_exp >= 1, the max term */
    for (int k = 1; k < K; k++) sum_exp += exp(y[k] - top);
    double lse = top + log(sum_exp);
    for (int k = 0; k < K; k++) {
        sum_t += tg[k];
        dot += tg[k] * ((double)y[k] - lse);
    }
    if (dy)
        for (int k = 0; k < K; k++)
            dy[k] = (trl_real)(scale * m * (exp(y[k] - lse) * sum_t - tg[k]));
    return -m * dot;
}

double loss_step(enum loss_type type, const struct data *d, int t, int K, const trl_real *y,
                 trl_real *dy)
{
    const double scale = 1.0 / d->loss_B;
    double total = 0;
    for (int b = 0; b < d->B; b++) {
        size_t bt = (size_t)b * d->span + (t - d->t0); /* the row of step t (data.h) */
        double m = d->mask ? d->mask[bt] : 1.0;
        const trl_real *tg = d->target + bt * K;
        trl_real *dyb = dy ? dy + (size_t)b * K : NULL;
        if (type == LOSS_CROSS_ENTROPY)
            total += cross_entropy_row(K, y + (size_t)b * K, tg, m, scale, dyb);
        else
            total += mse_row(K, y + (size_t)b * K, tg, m, scale, dyb);
    }
    return total * scale;
}
