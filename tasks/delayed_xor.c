/* delayed_xor.c - task "delayed_xor": the XOR of two bits shown at different
 * times, so a network must carry credit through time (the first bit is gone
 * when the second arrives) and through depth (XOR is not linearly separable:
 * a linear readout of the inputs cannot answer; a hidden layer must).
 *
 * Steps t = 0 .. T-1, T = 50; 2 input channels, analog +1/-1 coding:
 *     a, b ~ Bernoulli(1/2), independent
 *     x_0(t) = 2a - 1 for t in [5, 10), else 0
 *     x_1(t) = 2b - 1 for t in [25, 30), else 0
 *     answer period [40, 50): mask 1 there, 0 elsewhere
 * Target: one-hot of a XOR b at every step (class 1 when the bits differ;
 * each class has probability 1/2); loss cross_entropy.
 *
 * Parameters and defaults: T = 50, 2 channels, pulses of 5 steps at 5 and
 * 25, answer over the last 10 steps, K = 2. No noise: the four patterns are
 * the whole task, which isolates credit assignment through depth and time.
 * Motivation: Millidge 2025 ("Generalising E-prop to Deep Networks") leaves
 * testing deep e-prop on credit assignment through both depth and time as
 * an open question; this is the smallest task that needs both.
 * Model: models/delayed_xor.json (two stacked leaky tanh layers, readout).
 */
#include "tasks/task.h"

#define XOR_T        50
#define XOR_IN       2
#define XOR_A_T0     5
#define XOR_B_T0     25
#define XOR_PULSE    5
#define XOR_ANSWER_0 40

static void delayed_xor_sample(uint64_t seed, struct rng *r, trl_real *x, trl_real *target,
                               trl_real *mask)
{
    (void)seed;
    int a = (int)rng_below(r, 2), b = (int)rng_below(r, 2);
    for (int t = 0; t < XOR_T; t++) {
        x[t * XOR_IN + 0] = t >= XOR_A_T0 && t < XOR_A_T0 + XOR_PULSE ? 2 * a - 1 : 0;
        x[t * XOR_IN + 1] = t >= XOR_B_T0 && t < XOR_B_T0 + XOR_PULSE ? 2 * b - 1 : 0;
        mask[t] = t >= XOR_ANSWER_0;
    }
    task_one_hot(target, XOR_T, 2, a ^ b);
}

const struct task_kind task_delayed_xor = {
    .name = "delayed_xor",
    .doc = "XOR of two bits shown 20 steps apart: credit through depth and time",
    .model = "models/delayed_xor.json",
    .params = "  T: 50 steps\n"
              "  input: 2 channels, +1/-1 coded: bit a on channel 0 at steps 5-9,\n"
              "         bit b on channel 1 at steps 25-29, 0 elsewhere\n"
              "  loss: cross_entropy, 2 classes (a XOR b), mask 1 on steps 40-49\n",
    .T = XOR_T,
    .n_in = XOR_IN,
    .loss = LOSS_CROSS_ENTROPY,
    .K = 2,
    .batch = 32,
    .fixed = false,
    .sample = delayed_xor_sample,
};
