/* evidence.c - task "evidence": evidence accumulation (Bellec et al. 2020,
 * Fig. 3, after the mouse task of Morcos and Harvey 2016).
 *
 * 40 input channels in 4 groups of 10: left cue (0-9), right cue (10-19),
 * recall cue (20-29), background noise (30-39). Steps t = 0 .. T-1 of 1 ms:
 *     cue k = 0 .. 6:  steps [75k, 75k + 50); its side s_k, left or right
 *                      with probability 1/2 each, fires its group at 40 Hz
 *                      (the other cue group is silent)
 *     delay:           steps [525, 675): no cue (the last cue ends at 500)
 *     recall cue:      steps [675, 825): recall group at 40 Hz
 *     noise group:     10 Hz at every step
 * Every other channel and step is 0. The answer is the side with more cues
 * (7 cues: never a tie), class 0 = left, 1 = right; by symmetry each class
 * has probability 1/2. Target: one-hot of the answer at every step; mask 1
 * during the recall cue [675, 825) only, so the loss is cross_entropy over
 * the decision period.
 *
 * Parameters and defaults: T = 825, 40 channels, 7 cues of 50 ms with 25 ms
 * gaps, 150 ms delay, 150 ms recall, cue and recall rate 40 Hz, noise
 * 10 Hz, K = 2. Bellec et al. use 7 cues of 100 ms with 50 ms gaps and a
 * longer delay (T about 2 s); the cues and delay are halved here so a
 * training step stays quick, with the same number of cues, rates and recall.
 * Model: models/evidence.json, the LSNN of SPEC section 1 with tau_a = 800 ms
 * (about T) and edge gains chosen for realistic initial activity (input 2,
 * recurrent 0.5, readout 0.5: about 28 Hz lif, 2 Hz alif at seed 1; with
 * gain 1 everywhere the lif units run away to about 230 Hz).
 */
#include <string.h>

#include "tasks/task.h"

#define EV_T          825
#define EV_IN         40
#define EV_GROUP      10 /* channels per group: left, right, recall, noise */
#define EV_N_CUES     7
#define EV_CUE_LEN    50
#define EV_CUE_PERIOD 75 /* cue plus gap */
#define EV_RECALL_T0  675
#define EV_CUE_HZ     40.0
#define EV_NOISE_HZ   10.0

enum { EV_LEFT = 0, EV_RIGHT = 1, EV_RECALL = 2, EV_NOISE = 3 };

static void evidence_sample(uint64_t seed, struct rng *r, trl_real *x, trl_real *target,
                            trl_real *mask)
{
    (void)seed;
    double p_cue = task_rate_p(EV_CUE_HZ);
    memset(x, 0, (size_t)EV_T * EV_IN * sizeof *x);
    int n_right = 0;
    for (int k = 0; k < EV_N_CUES; k++) {
        int side = (int)rng_below(r, 2); /* EV_LEFT or EV_RIGHT */
        int t0 = k * EV_CUE_PERIOD;
        n_right += side;
        task_spikes(r, x, EV_IN, t0, t0 + EV_CUE_LEN, side * EV_GROUP, (side + 1) * EV_GROUP,
                    p_cue);
    }
    task_spikes(r, x, EV_IN, EV_RECALL_T0, EV_T, EV_RECALL * EV_GROUP, (EV_RECALL + 1) * EV_GROUP,
                p_cue);
    task_spikes(r, x, EV_IN, 0, EV_T, EV_NOISE * EV_GROUP, EV_IN, task_rate_p(EV_NOISE_HZ));
    task_one_hot(target, EV_T, 2, 2 * n_right > EV_N_CUES ? EV_RIGHT : EV_LEFT);
    for (int t = 0; t < EV_T; t++) mask[t] = t >= EV_RECALL_T0;
}

const struct task_kind task_evidence = {
    .name = "evidence",
    .doc = "evidence accumulation: which side had more of 7 cues? (Bellec 2020 Fig. 3)",
    .model = "models/evidence.json",
    .params = "  T: 825 steps (1 ms)\n"
              "  input: 40 channels, 4 groups of 10: left cue, right cue, recall, noise\n"
              "  cues: 7, each 50 ms at 40 Hz on the left or right group (p = 1/2),\n"
              "        starting every 75 ms from step 0 (25 ms gaps)\n"
              "  delay: steps 525-674; recall cue: steps 675-824 at 40 Hz\n"
              "  noise: 10 Hz on the noise group at every step\n"
              "  loss: cross_entropy, 2 classes (0 left, 1 right: the majority side),\n"
              "        mask 1 during the recall cue only\n",
    .T = EV_T,
    .n_in = EV_IN,
    .loss = LOSS_CROSS_ENTROPY,
    .K = 2,
    .batch = 32,
    .fixed = false,
    .sample = evidence_sample,
};
