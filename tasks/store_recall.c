/* store_recall.c - task "store_recall": store a bit on command and report it
 * on a later command, ignoring the bits in between (the LSNN store-recall
 * task: Bellec et al. 2018, "Long short-term memory and learning-to-learn in
 * networks of spiking neurons"; with e-prop in Bellec et al. 2020).
 *
 * 50 input channels in 5 groups of 10: value 0 (0-9), value 1 (10-19), store
 * (20-29), recall (30-39), noise (40-49). The T = 600 steps of 1 ms are 10
 * slots of 60 steps; slot j covers [60 j, 60 j + 60).
 *     store slot s ~ uniform {0 .. 7}; recall slot r ~ uniform {s + 2 .. 9}
 *     every slot j != r shows a bit v_j ~ Bernoulli(1/2): its value group
 *       fires at 40 Hz for the whole slot (the other value group is silent)
 *     slot s: the store group fires at 40 Hz as well
 *     slot r: the recall group fires at 40 Hz, no value is shown
 *     noise group: 10 Hz at every step
 * Target: one-hot of the stored bit v_s (class 0 or 1, each with
 * probability 1/2) at every step; mask 1 during the recall slot only
 * (cross_entropy over the answer period). At least one slot of distracting
 * bits lies between store and recall, and bits keep coming after the recall.
 *
 * Parameters and defaults: T = 600, 50 channels, 10 slots of 60 ms, rates
 * 40 Hz (value, store, recall) and 10 Hz (noise), K = 2. The slotted design
 * and the separate store and recall channels follow Bellec et al. 2018; the
 * numbers are ours, chosen for quick training.
 * Model: models/store_recall.json, the LSNN of models/evidence.json with 50
 * inputs and tau_a = 600 ms (T); about 32 Hz lif, 3 Hz alif at seed 1.
 */
#include <string.h>

#include "tasks/task.h"

#define SR_T         600
#define SR_IN        50
#define SR_GROUP     10
#define SR_SLOTS     10
#define SR_SLOT_LEN  60
#define SR_MAX_STORE 7 /* the store slot leaves room for a gap and a recall */
#define SR_HZ        40.0
#define SR_NOISE_HZ  10.0

enum { SR_VALUE0 = 0, SR_VALUE1 = 1, SR_STORE = 2, SR_RECALL = 3, SR_NOISE = 4 };

/* Fires group g at probability p during slot j. */
static void sr_group(struct rng *r, trl_real *x, int j, int g, double p)
{
    task_spikes(r, x, SR_IN, j * SR_SLOT_LEN, (j + 1) * SR_SLOT_LEN, g * SR_GROUP,
                (g + 1) * SR_GROUP, p);
}

static void store_recall_sample(uint64_t seed, struct rng *r, trl_real *x, trl_real *target,
                                trl_real *mask)
{
    (void)seed;
    double p = task_rate_p(SR_HZ);
    int s = (int)rng_below(r, SR_MAX_STORE + 1);
    int rc = s + 2 + (int)rng_below(r, (uint64_t)(SR_SLOTS - s - 2));
    int stored = 0;
    memset(x, 0, (size_t)SR_T * SR_IN * sizeof *x);
    for (int j = 0; j < SR_SLOTS; j++) {
        if (j == rc) {
            sr_group(r, x, j, SR_RECALL, p);
            continue;
        }
        int v = (int)rng_below(r, 2);
        sr_group(r, x, j, SR_VALUE0 + v, p);
        if (j == s) {
            sr_group(r, x, j, SR_STORE, p);
            stored = v;
        }
    }
    task_spikes(r, x, SR_IN, 0, SR_T, SR_NOISE * SR_GROUP, SR_IN, task_rate_p(SR_NOISE_HZ));
    task_one_hot(target, SR_T, 2, stored);
    for (int t = 0; t < SR_T; t++) mask[t] = t / SR_SLOT_LEN == rc;
}

const struct task_kind task_store_recall = {
    .name = "store_recall",
    .doc = "store a bit on command, report it on a later command (LSNN, Bellec 2018/2020)",
    .model = "models/store_recall.json",
    .params = "  T: 600 steps (1 ms), 10 slots of 60 steps\n"
              "  input: 50 channels, 5 groups of 10: value 0, value 1, store, recall, noise\n"
              "  every slot but the recall slot shows a random bit on its value group\n"
              "  store slot s uniform in 0 to 7, recall slot uniform in s+2 to 9\n"
              "  rates: 40 Hz (value, store, recall), 10 Hz (noise, every step)\n"
              "  loss: cross_entropy, 2 classes (the stored bit), mask 1 on the recall slot\n",
    .T = SR_T,
    .n_in = SR_IN,
    .loss = LOSS_CROSS_ENTROPY,
    .K = 2,
    .batch = 32,
    .fixed = false,
    .sample = store_recall_sample,
};
