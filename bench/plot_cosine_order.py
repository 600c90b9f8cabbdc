"""plot_cosine_order.py CSV OUT.png - the README's cosine-vs-order figure.

CSV holds graph,data,order,mean,sd lines, as bench/cosine_order.sh appends
them with CSV=FILE: one line per graph, cosine to bptt against the order
(log scale), with the seeds' sd as error bars. Writes OUT.png through a
temporary name.
"""
import collections
import os
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot_cosine_order.py needs matplotlib: apt-get install python3-matplotlib")


def main(csv, out):
    rows = collections.OrderedDict()
    for line in open(csv):
        graph, data, order, mean, sd = line.strip().split(",")
        rows.setdefault(os.path.basename(graph).replace(".json", ""), []).append(
            (int(order), float(mean), float(sd)))
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, pts in rows.items():
        pts.sort()
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts],
                    marker="o", capsize=3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("order M of m-order e-prop (1 = deep e-prop)")
    ax.set_ylabel("cosine to the exact gradient (bptt)")
    ax.set_ylim(-0.6, 1.05)
    ax.axhline(1, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    ax.set_title("m-order e-prop: seeds 1-5, float64, reverse engine")
    fig.tight_layout()
    tmp = out + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
