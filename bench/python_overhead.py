#!/usr/bin/env python3
"""What the Python package adds to a gradient (issue 15): Graph.grad and the
torch bridge's forward + backward against `trellis bench`'s in-process
median of the same computation (same graph, parameters, data, threads).

    PYTHONPATH=python /usr/bin/python3 bench/python_overhead.py [--graph models/lsnn.json]
        [--algo eprop] [--repeat 7]

Rows: trellis bench's median of one grad call; Graph.grad with numpy dicts
(parameters copied into the library and data wrapped on every call, as a
script does); Graph.grad with handles bound once (g.params, g.data); and
trellis.torch.Module forward + loss + backward (a run, then a grad with the
cotangent: about two calls' work). Ratios are to trellis bench's median."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import trellis  # noqa: E402


def median_time(f, repeat, warmup=1):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--graph", default="models/lsnn.json")
    ap.add_argument("--task", default="evidence", help="the data: this task's batch 0")
    ap.add_argument("--algo", default="eprop")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.chdir(ROOT)
    g = trellis.Graph.load(a.graph)
    p = g.init(seed=1)
    d = g.task_data(a.task, seed=1, batch=a.batch)
    with tempfile.TemporaryDirectory() as tmp:
        pf, df = os.path.join(tmp, "p.st"), os.path.join(tmp, "d.st")
        trellis.save_safetensors(pf, p)
        trellis.save_safetensors(df, d)
        out = subprocess.run([os.path.join(ROOT, "bin", "trellis"), "bench", a.graph, "--params",
                              pf, "--data", df, "--algo", a.algo, "--repeat", str(a.repeat),
                              "--json"], check=True, capture_output=True, text=True).stdout
    c = json.loads(out)["median_s"]
    rows = [("trellis bench (in process)", c)]
    rows.append(("Graph.grad, numpy dicts", median_time(lambda: g.grad(p, d, algo=a.algo),
                                                        a.repeat)))
    with g.params(p) as ph, g.data(d) as dh:
        rows.append(("Graph.grad, bound handles",
                     median_time(lambda: g.grad(ph, dh, algo=a.algo), a.repeat)))
    if not a.no_torch:
        import torch
        import trellis.torch as tt
        m = tt.Module(g, params=p, algo=a.algo)
        x = torch.from_numpy(d["in"])
        mask, target = torch.from_numpy(d["mask"]), torch.from_numpy(d["target"])

        def step():
            y = m({"in": x})["out"]
            loss = -(mask[..., None] * target * torch.log_softmax(y, -1)).sum() / len(y)
            m.zero_grad()
            loss.backward()
        rows.append(("torch Module forward + backward", median_time(step, a.repeat)))
    if a.json:
        print(json.dumps({"graph": a.graph, "algo": a.algo, "B": a.batch, "repeat": a.repeat,
                          "threads": trellis.threads(),
                          "rows": [{"what": w, "median_s": t, "ratio": t / c} for w, t in rows]}))
        return
    print("%s, %s, B %d, %d threads, median of %d calls" % (a.graph, a.algo, a.batch,
                                                            trellis.threads(), a.repeat))
    for what, t in rows:
        print("  %-34s %8.4f s  %5.2fx" % (what, t, t / c))


if __name__ == "__main__":
    main()
