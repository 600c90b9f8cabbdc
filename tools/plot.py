#!/usr/bin/env python3
"""plot.py - figures for trellis experiments (python3 + matplotlib only).

  plot.py sweep RESULTS.csv -o PREFIX
      The CSV of `trellis sweep`: cosine similarity and relative error of each
      algorithm's gradient against the exact one (bptt), per layer, against
      the layer's position below the readout (1 = the top layer; without
      --skip this is the layer's depth). One line per stack depth: the mean
      over seeds, with a band from the smallest to the largest seed. One row
      of panels per algorithm.

  plot.py curves LOG [LOG ...] [--labels a,b] -o PREFIX
      Training logs of `trellis train --log` (CSV, or JSON lines): loss and,
      when logged, accuracy against iterations and against wall time (the
      `seconds` column); one line per log, validation points marked.

Both write PREFIX.png (200 dpi) and PREFIX.svg. Exit status: 0 success,
1 unreadable or unsuitable input, 2 usage error.
"""
import argparse
import csv
import json
import math
import os
import sys
from collections import defaultdict


def fail(msg):
    print(f"plot.py: {msg}", file=sys.stderr)
    sys.exit(1)


def load_pyplot():
    try:
        import matplotlib
    except ImportError:
        fail(f"matplotlib is not installed for {sys.executable} (Debian: apt-get install "
             "python3-matplotlib; or run this script with /usr/bin/python3)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({
        "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
        "grid.alpha": 0.25, "grid.linewidth": 0.6, "lines.linewidth": 1.6,
        "savefig.bbox": "tight", "svg.fonttype": "none",
    })
    return plt


def number(text):
    """A CSV cell as a float; empty, NaN or unparsable -> nan."""
    if text is None:
        return math.nan
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def save(fig, prefix):
    folder = os.path.dirname(prefix)
    if folder and not os.path.isdir(folder):
        fail(f"{prefix}: folder {folder} does not exist")
    for ext in ("png", "svg"):
        # written to a temporary name in the same folder, then renamed: a
        # failure leaves the old figure (or none), never a partial one
        path = f"{prefix}.{ext}"
        tmp = f"{path}.tmp.{os.getpid()}"
        try:
            fig.savefig(tmp, dpi=200 if ext == "png" else None, format=ext)
            os.replace(tmp, path)
        except OSError as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            fail(f"{path}: cannot write: {e.strerror}")
    print(f"wrote {prefix}.png and {prefix}.svg", file=sys.stderr)


# ---- sweep ----

SWEEP_COLUMNS = ("kind", "skip", "stack_depth", "width", "seed", "algo", "scope", "layer",
                 "cosine", "rel_err")


def read_sweep(path):
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in SWEEP_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                fail(f"{path}: not a `trellis sweep` CSV (no column {', '.join(missing)})")
            rows = [r for r in reader if r["scope"] == "layer"]
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    if not rows:
        fail(f"{path}: no layer rows to plot")
    return rows


def sweep_series(rows):
    """{algo: {(kind, skip, width, D): {position: [(cosine, rel_err) per seed]}}}"""
    out = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in rows:
        D, layer = int(r["stack_depth"]), int(r["layer"])
        key = (r["kind"], r["skip"] == "1", int(r["width"]), D)
        out[r["algo"]][key][D - layer + 1].append((number(r["cosine"]), number(r["rel_err"])))
    return out


def finite(values):
    return [v for v in values if not math.isnan(v)]


def band(points, k):
    """x, mean, min, max of metric k over seeds at each position."""
    xs, mean, lo, hi = [], [], [], []
    for x in sorted(points):
        v = finite([p[k] for p in points[x]])
        if not v:
            continue
        xs.append(x)
        mean.append(sum(v) / len(v))
        lo.append(min(v))
        hi.append(max(v))
    return xs, mean, lo, hi


def series_label(key, keys):
    kind, skip, width, D = key
    parts = []
    if len({k[0] for k in keys}) > 1:
        parts.append(kind)
    if len({k[1] for k in keys}) > 1:
        parts.append("skip" if skip else "no skip")
    if len({k[2] for k in keys}) > 1:
        parts.append(f"W={width}")
    parts.append(f"D={D}")
    return " ".join(parts)


def sweep_title(rows, keys):
    kinds = ", ".join(sorted({k[0] for k in keys}))
    widths = ", ".join(str(w) for w in sorted({k[2] for k in keys}))
    seeds = len({r["seed"] for r in rows})
    skips = {k[1] for k in keys}
    skip = " with skip edges" if skips == {True} else "" if skips == {False} else ""
    return (f"Gradient alignment with BPTT across depth: {kinds} stacks{skip}, "
            f"width {widths}, {seeds} seed{'s' if seeds > 1 else ''}")


def plot_sweep(args):
    rows = read_sweep(args.results)
    series = sweep_series(rows)
    plt = load_pyplot()
    algos = sorted(series)
    keys = sorted({k for a in algos for k in series[a]})
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(len(algos), 2, figsize=(10, 3.8 * len(algos)), squeeze=False)
    for row, algo in enumerate(algos):
        for col, (k, name) in enumerate(((0, "cosine similarity"), (1, "relative error"))):
            ax = axes[row][col]
            for i, key in enumerate(keys):
                if key not in series[algo]:
                    continue
                xs, mean, lo, hi = band(series[algo][key], k)
                color = cmap(i / max(1, len(keys) - 1) * 0.9)
                ax.plot(xs, mean, marker="o", markersize=3.5, color=color,
                        label=series_label(key, keys))
                ax.fill_between(xs, lo, hi, color=color, alpha=0.12, linewidth=0)
            if k == 0:
                ax.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
            ax.set_xlabel("layer position below the readout (1 = top layer)")
            ax.set_ylabel(f"{name}, {algo} vs bptt")
            ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0][1].legend(title="stack depth", frameon=False, loc="upper left",
                      bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(sweep_title(rows, keys) + "\nmean over seeds, band: min to max")
    fig.tight_layout()
    save(fig, args.output)


# ---- curves ----

CURVE_KEYS = ("iter", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


def read_log(path):
    """{key: [float per record]} from a CSV or JSON-lines training log."""
    data = {k: [] for k in CURVE_KEYS}
    try:
        with open(path, newline="") as f:
            first = f.readline()
            f.seek(0)
            if first.lstrip().startswith("{"):
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as e:
                        fail(f"{path}:{n}: not JSON: {e.msg}")
                    for k in CURVE_KEYS:
                        data[k].append(number(rec.get(k)))
            else:
                reader = csv.DictReader(f)
                if not reader.fieldnames or "iter" not in reader.fieldnames:
                    fail(f"{path}: not a training log (no \"iter\" column)")
                for rec in reader:
                    for k in CURVE_KEYS:
                        data[k].append(number(rec.get(k)))
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    if not data["iter"]:
        fail(f"{path}: no records")
    return data


def draw_curve(ax, xs, ys, vxs, vys, color, label):
    pts = [(x, y) for x, y in zip(xs, ys) if not (math.isnan(x) or math.isnan(y))]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, label=label)
    val = [(x, y) for x, y in zip(vxs, vys) if not (math.isnan(x) or math.isnan(y))]
    if val:
        ax.plot([p[0] for p in val], [p[1] for p in val], linestyle="none", marker="o",
                markersize=5, markerfacecolor="white", markeredgecolor=color,
                markeredgewidth=1.3, label=f"{label} (validation)")


def plot_curves(args):
    logs = [read_log(p) for p in args.logs]
    labels = args.labels.split(",") if args.labels else [
        os.path.splitext(os.path.basename(p))[0] for p in args.logs]
    if len(labels) != len(logs):
        print(f"plot.py curves: --labels has {len(labels)} names for {len(logs)} logs",
              file=sys.stderr)
        sys.exit(2)
    plt = load_pyplot()
    has_acc = any(finite(l["accuracy"] + l["val_accuracy"]) for l in logs)
    metrics = [("loss", "val_loss", "loss")] + (
        [("accuracy", "val_accuracy", "accuracy")] if has_acc else [])
    fig, axes = plt.subplots(len(metrics), 2, figsize=(10, 3.6 * len(metrics)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, (key, vkey, name) in enumerate(metrics):
        for col, (xkey, xname) in enumerate((("iter", "iteration"), ("seconds", "wall time (s)"))):
            ax = axes[row][col]
            for i, (log, label) in enumerate(zip(logs, labels)):
                draw_curve(ax, log[xkey], log[key], log[xkey], log[vkey],
                           colors[i % len(colors)], label)
            ax.set_xlabel(xname)
            ax.set_ylabel(name)
            values = finite([v for l in logs for v in l[key] + l[vkey]])
            if key == "loss" and values and min(values) > 0 and max(values) > 20 * min(values):
                ax.set_yscale("log")
    axes[0][1].legend(frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("Training curves")
    fig.tight_layout()
    save(fig, args.output)


def main():
    p = argparse.ArgumentParser(
        description="Figures for trellis experiments: the depth sweep and training curves. "
                    "Writes PREFIX.png and PREFIX.svg.",
        epilog="examples:\n"
               "  trellis sweep --kind lif -o lif.csv && tools/plot.py sweep lif.csv -o lif\n"
               "  tools/plot.py curves bptt.csv eprop.csv --labels BPTT,e-prop -o curves",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sweep", help="cosine and relative error against layer depth")
    s.add_argument("results", help="CSV written by `trellis sweep`")
    s.add_argument("-o", "--output", required=True, metavar="PREFIX",
                   help="write PREFIX.png and PREFIX.svg")
    c = sub.add_parser("curves", help="loss and accuracy against iterations and wall time")
    c.add_argument("logs", nargs="+", metavar="LOG",
                   help="training log of `trellis train --log` (CSV or JSON lines)")
    c.add_argument("--labels", help="comma-separated legend names, one per log "
                                    "(default: the file names)")
    c.add_argument("-o", "--output", required=True, metavar="PREFIX",
                   help="write PREFIX.png and PREFIX.svg")
    args = p.parse_args()
    if args.command == "sweep":
        plot_sweep(args)
    else:
        plot_curves(args)


if __name__ == "__main__":
    main()
