#!/usr/bin/python3
"""shd_synth.py OUT.h5 [--samples N] [--classes C] [--seed S] [--dtype D]

Writes a synthetic file in the layout of the Spiking Heidelberg Digits
(Cramer et al. 2020): spikes/times (seconds) and spikes/units, one
variable-length list per sample, and labels. It stands in for shd_train.h5 or
shd_test.h5 where they cannot be downloaded (tests, a first try of the README
commands): class c fires a band of 35 channels that sweeps upwards over
0.1-0.7 s, starting at channel 640 c / C, over Poisson background spikes.
Needs h5py and numpy (Debian: python3-h5py).
"""
import argparse
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:
    sys.exit(f"shd_synth.py: {e.name} is missing: install python3-h5py (apt-get install python3-h5py)")

CHANNELS = 700


def sample(rng, label, classes):
    dur = rng.uniform(0.6, 1.0)
    # background: 2 Hz per channel
    n_bg = rng.poisson(2.0 * dur * CHANNELS)
    t_bg = rng.uniform(0, dur, n_bg)
    u_bg = rng.integers(0, CHANNELS, n_bg)
    # the class's sweep: 60 steps of 10 ms, 35 channels wide, 3 spikes per step on average
    start = label * (CHANNELS - 60) // classes
    ts, us = [], []
    for k in range(60):
        n = rng.poisson(3.0 * 35 / 10)
        ts.append(0.1 + 0.01 * k + rng.uniform(0, 0.01, n))
        us.append((start + k // 4 + rng.integers(0, 35, n)) % CHANNELS)
    t = np.concatenate([t_bg] + ts)
    u = np.concatenate([u_bg] + us)
    order = np.argsort(t, kind="stable")
    return t[order], u[order]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["float16", "float32", "float64"], default="float16")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    labels = rng.integers(0, a.classes, a.samples)
    with h5py.File(a.out, "w") as f:
        times = f.create_dataset("spikes/times", (a.samples,), dtype=h5py.vlen_dtype(np.dtype(a.dtype)))
        units = f.create_dataset("spikes/units", (a.samples,), dtype=h5py.vlen_dtype(np.uint16))
        for i, label in enumerate(labels):
            t, u = sample(rng, int(label), a.classes)
            times[i] = t.astype(a.dtype)
            units[i] = u.astype(np.uint16)
        f.create_dataset("labels", data=labels.astype(np.uint16))
    print(f"{a.out}: {a.samples} synthetic samples, {a.classes} classes, times as {a.dtype}")


if __name__ == "__main__":
    main()
