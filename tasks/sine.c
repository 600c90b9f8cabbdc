/* sine.c - task "sine": regression of a fixed sum of sines from a frozen
 * spike pattern (pattern generation, Bellec et al. 2020, Fig. 2 and Methods).
 *
 * Definition (steps t = 0 .. T-1 of dt = 1 ms):
 *     x_c(t) ~ Bernoulli(p), p = 50 Hz * 1 ms = 0.05, c = 0 .. 19     (frozen)
 *     y*(t) = sum_{k=1..5} A_k sin(2 pi f_k t / 1000 + phi_k)
 *     f = 0.5, 1, 2, 3, 4 Hz (periods 2000, 1000, 500, 333, 250 ms)
 *     A_k ~ U[0.5, 2),  phi_k ~ U[0, 2 pi)
 *     loss mse on the one output, mask 1 at every step.
 *
 * Parameters and defaults: T = 1000, 20 input channels at 50 Hz, K = 1, the
 * five frequencies above. Frequencies, amplitude and phase ranges are Bellec
 * et al.'s; the input there is also a frozen pattern of 20 channels, the
 * 50 Hz rate is ours.
 *
 * Frozen: the amplitudes, phases and spikes are drawn from one stream,
 * rng_seed_named(seed, "sine/pattern") (A_1, phi_1, ..., A_5, phi_5, then the
 * spikes step by step, channel by channel), so every sample of every batch
 * and of the validation set is the same pattern: it is a fitting task.
 * Model: models/sine.json: 100 lif units (recurrent gain 0.5: about 43 Hz at
 * seed 1, against about 280 Hz with gain 1) and a readout of 1 unit.
 */
#include <string.h>

#include "tasks/task.h"

#define SINE_T       1000
#define SINE_IN      20
#define SINE_RATE_HZ 50.0
#define SINE_N_FREQ  5

static const double sine_freq_hz[SINE_N_FREQ] = {0.5, 1, 2, 3, 4};

static void sine_sample(uint64_t seed, struct rng *r, trl_real *x, trl_real *target, trl_real *mask)
{
    (void)r; /* frozen: the pattern depends on the seed only */
    struct rng p;
    rng_seed_named(&p, seed, "sine/pattern");
    double amp[SINE_N_FREQ], phase[SINE_N_FREQ];
    for (int k = 0; k < SINE_N_FREQ; k++) {
        amp[k] = 0.5 + 1.5 * rng_uniform(&p);
        phase[k] = 6.28318530717958647692 * rng_uniform(&p);
    }
    memset(x, 0, (size_t)SINE_T * SINE_IN * sizeof *x);
    task_spikes(&p, x, SINE_IN, 0, SINE_T, 0, SINE_IN, task_rate_p(SINE_RATE_HZ));
    for (int t = 0; t < SINE_T; t++) {
        double y = 0;
        for (int k = 0; k < SINE_N_FREQ; k++)
            y += amp[k] * task_sin(6.28318530717958647692 * sine_freq_hz[k] * t * TASK_DT / 1000.0 +
                                   phase[k]);
        target[t] = (trl_real)y;
        mask[t] = 1;
    }
}

const struct task_kind task_sine = {
    .name = "sine",
    .doc = "regression of a sum of 5 sines from a frozen spike pattern (Bellec 2020 Fig. 2)",
    .model = "models/sine.json",
    .params = "  T: 1000 steps (1 ms)\n"
              "  input: 20 channels, frozen Poisson spikes at 50 Hz\n"
              "  target: sum of sines at 0.5, 1, 2, 3, 4 Hz, amplitudes U[0.5, 2),\n"
              "          phases U[0, 2 pi), drawn from the seed\n"
              "  loss: mse, 1 output, mask 1 everywhere\n"
              "  frozen: every sample, batch and the validation set are the same pattern\n",
    .T = SINE_T,
    .n_in = SINE_IN,
    .loss = LOSS_MSE,
    .K = 1,
    .batch = 1,
    .fixed = true,
    .sample = sine_sample,
};
