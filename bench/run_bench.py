#!/usr/bin/env python3
"""run_bench.py - trellis side by side with the PyTorch peer (`make bench`).

For each workload (lsnn, deep, dag, wide) and algorithm (run, bptt, eprop
online, eprop reverse, rtrl where it fits) it runs `bin/trellis bench ... --json`
in a process of its own (so the peak resident memory is the row's), and, when
../shared/bench and the system torch are there, the PyTorch peer (peer.sh) on
the very same files. It prints one table and writes the same rows, with the
machine, the BLAS and its sgemm rate, to build/bench/results.json (untracked;
--save: bench/results.json).

Workloads: with ../shared/bench and torch, make_workloads.py writes them (so
both sides read the same bytes); otherwise bench/workloads/*.json go through
`trellis init` and `trellis data random`. Either way they are cached in
--cache (default /tmp/trellis-bench).

Other modes:
  --memory  lsnn at T = 500 and T = 5000 (random data, same graph and
            parameters): memory of eprop online (constant in T?) and bptt
            (growth per step); rtrl when it fits. Then the peak resident
            memory of the real command, `trellis grad`, for eprop online
            (B = 32) and rtrl (B = --rtrl-batch, 1: about 5 minutes at
            T = 5000), each a process of its own (ru_maxrss, by GNU time).
  --scale   an LSNN of 1000 LIF + 1000 ALIF, 80 inputs, B = 16, T = 1000:
            eprop online, time and peak memory.

Python 3 standard library only. See bench/README.md for the columns and the
formulas.

example:
  bench/run_bench.py --repeat 5 --only lsnn,deep
  bench/run_bench.py --memory --scale
"""
import argparse
import datetime
import functools
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# The PyTorch peer's folder (peer.sh, torch_peer.py, make_workloads.py):
# --peer DIR, else $TRELLIS_PEER, else ../shared/bench next to the checkout.
DEFAULT_SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")
SHARED = os.environ.get("TRELLIS_PEER") or DEFAULT_SHARED
# Results of a run go here unless --save (or --out) says otherwise: the
# tracked bench/results*.json change only when asked to.
RUN_DIR = os.path.join(ROOT, "build", "bench")
SYS_PYTHON = "/usr/bin/python3"

# name: (B, T, input nodes that get spikes at 50 Hz = p 0.05 per step)
WORKLOADS = {
    "lsnn": (32, 500, "in"),
    "deep": (32, 200, None),
    "dag": (16, 300, "spikes"),
    "wide": (16, 100, None),
}
SPIKE_HZ = 50.0
LOSS_TOL = 1e-3   # relative loss difference to the peer flagged in the table
# (trellis --algo, --engine, the peer's --algo or None)
ALGOS = [
    ("run", None, "run"),
    ("bptt", None, "bptt"),
    ("eprop", "online", "eprop"),
    ("eprop", "reverse", "eprop"),
    ("rtrl", None, None),
]


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------

def run(cmd, env=None, check=True):
    """Runs cmd; returns (exit status, stdout, stderr)."""
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if check and p.returncode != 0:
        sys.exit("run_bench: %s failed (exit %d):\n%s" % (" ".join(cmd), p.returncode,
                                                          p.stderr.strip()))
    return p.returncode, p.stdout, p.stderr


def last_json(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    return None


def first_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else "no output"


class Trellis:
    """The binary under test, with the environment it runs in."""

    def __init__(self, path, env):
        self.path = path
        self.env = env

    def __call__(self, *args, check=True):
        return run([self.path] + [str(a) for a in args], self.env, check)

    def bench(self, graph, params, data, algo, engine, repeat, budget, warmup=1):
        args = ["bench", graph, "--params", params, "--data", data, "--algo", algo,
                "--repeat", repeat, "--warmup", warmup, "--budget", budget, "--json"]
        if engine:
            args += ["--engine", engine]
        rc, out, err = self(*args, check=False)
        res = last_json(out) if rc == 0 else None
        return res, None if res else "trellis failed: " + first_line(err)

    def validate(self, graph):
        return json.loads(self("validate", graph, "--json")[1])

    def gemm(self, threads=None):
        args = ["bench", "--gemm", "--json"] + (["--blas-threads", threads] if threads else [])
        return json.loads(self(*args)[1])


def peer_status(no_peer):
    """(available, reason)."""
    if no_peer:
        return False, "--no-peer"
    if not os.path.isfile(os.path.join(SHARED, "peer.sh")):
        return False, ("no %s/peer.sh; to compare with PyTorch, point PEER at the peer's "
                       "folder: make bench PEER=DIR (or run_bench.py --peer DIR)" % SHARED)
    if not os.access(SYS_PYTHON, os.X_OK):
        return False, "no %s" % SYS_PYTHON
    rc, _, _ = run([SYS_PYTHON, "-c", "import torch"], check=False)
    return (True, "") if rc == 0 else (False, "no torch for %s" % SYS_PYTHON)


def run_peer(w, algo, repeat):
    rc, out, err = run([os.path.join(SHARED, "peer.sh"), w["graph"], w["params"], w["data"],
                        algo, "float32", str(repeat)], check=False)
    res = last_json(out) if rc == 0 else None
    return res, None if res else "peer failed: " + first_line(err)


# --------------------------------------------------------------------------
# machine
# --------------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f" in f.read()
    except OSError:
        return False


def mem_available_bytes():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8e9


def trellis_env(coretype):
    """The environment of the trellis processes: OpenBLAS's kernel choice as
    peer.sh makes it for the peer (SkylakeX where the CPU has AVX-512)."""
    env = dict(os.environ)
    if coretype == "auto":
        if has_avx512():
            env["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif coretype != "keep":
        env["OPENBLAS_CORETYPE"] = coretype
    return env


# --------------------------------------------------------------------------
# workloads
# --------------------------------------------------------------------------

def files_of(folder):
    return {"graph": os.path.join(folder, "graph.json"),
            "params": os.path.join(folder, "params.safetensors"),
            "data": os.path.join(folder, "data.safetensors")}


def sha256_of(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def shared_workloads(cache, names, seed, fresh):
    """make_workloads.py's files, regenerated when the script or seed change."""
    out = os.path.join(cache, "shared")
    stamp_path = os.path.join(out, "stamp.json")
    stamp = {"seed": seed, "sha256": sha256_of([os.path.join(SHARED, "make_workloads.py"),
                                                os.path.join(SHARED, "torch_peer.py")])}
    old = None
    if os.path.exists(stamp_path) and not fresh:
        with open(stamp_path) as f:
            old = json.load(f)
    todo = [n for n in names if old != stamp
            or not all(os.path.exists(p) for p in files_of(os.path.join(out, n)).values())]
    if todo:
        print("run_bench: make_workloads.py %s (seed %d) ..." % (",".join(todo), seed),
              file=sys.stderr, flush=True)
        run([SYS_PYTHON, os.path.join(SHARED, "make_workloads.py"), out, "--seed", str(seed),
             "--only", ",".join(todo)])
        if old != stamp:   # the others are stale too: rebuild them on their next use
            for n in set(WORKLOADS) - set(todo):
                shutil.rmtree(os.path.join(out, n), ignore_errors=True)
        with open(stamp_path, "w") as f:
            json.dump(stamp, f)
    return {n: files_of(os.path.join(out, n)) for n in names}


def own_workload(trellis, folder, graph_src, B, T, spiking, seed):
    """A workload from a graph file: trellis init and trellis data random."""
    os.makedirs(folder, exist_ok=True)
    w = files_of(folder)
    shutil.copyfile(graph_src, w["graph"])
    trellis("init", w["graph"], "--seed", seed, "-o", w["params"])
    random_data(trellis, w["graph"], B, T, spiking, seed, w["data"])
    return w


def random_data(trellis, graph, B, T, spiking, seed, out):
    args = ["data", "random", "--graph", graph, "--batch", B, "--steps", T, "--seed", seed,
            "--rate", SPIKE_HZ, "-o", out]
    if spiking:
        args += ["--spiking", spiking]
    trellis(*args)


def own_workloads(trellis, cache, names, seed):
    return {n: own_workload(trellis, os.path.join(cache, "own", n),
                            os.path.join(HERE, "workloads", n + ".json"), WORKLOADS[n][0],
                            WORKLOADS[n][1], WORKLOADS[n][2], seed) for n in names}


def prepare_workloads(a, trellis, names, peer_ok):
    if peer_ok and not a.standalone:
        return "make_workloads.py (../shared/bench)", shared_workloads(a.cache, names, a.seed,
                                                                       a.fresh)
    return "bench/workloads + trellis init/data random", own_workloads(trellis, a.cache,
                                                                      names, a.seed)


# --------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------

def human(v, unit=""):
    for p in ("", "k", "M", "G", "T", "P"):
        if abs(v) < 1000:
            return ("%.3g%s%s" % (v, p, unit)) if p else ("%.0f%s" % (v, unit))
        v /= 1000.0
    return "%.3g E%s" % (v, unit)


def rtrl_fit(summary, B, T, sgemm_gflops, a):
    """None if rtrl fits, else why not: its traces in memory and its
    multiply-adds at the sgemm peak in a few seconds."""
    cost = summary["memory_per_sample"].get("rtrl")
    if not cost:
        return "rtrl: too many traces to plan"
    need = cost["bytes"] * B
    limit = min(a.rtrl_memory_gb * 1e9, mem_available_bytes() / 2)
    seconds = 2.0 * cost["macs_per_step"] * B * T / (sgemm_gflops * 1e9)
    why = []
    if need > limit:
        why.append("%sB of traces > %sB" % (human(need), human(limit)))
    if seconds > a.rtrl_seconds:
        why.append(">= %s s per call at the sgemm peak" % human(seconds))
    return "rtrl skipped: " + ", ".join(why) if why else None


def sgemm_for(res, sgemm):
    """The machine's rate for the threads a row used: one thread, or all."""
    return sgemm[0] if res.get("threads", 1) * res.get("blas_threads", 1) <= 1 else sgemm[1]


def make_row(name, algo, engine, res, err, peer, peer_err, sgemm):
    row = {"workload": name, "algo": algo, "engine": engine, "trellis": res,
           "peer": peer, "error": err, "peer_error": peer_err}
    if res:
        rate = sgemm_for(res, sgemm)
        row["gflops"] = res["gflops"]
        row["sgemm_gflops"] = rate
        row["sgemm_fraction"] = res["gflops"] / rate if rate else None
        row["macs_per_call"] = res["macs_per_call"]
        if peer:
            row["ratio_peer_over_trellis"] = peer["median_s"] / res["median_s"]
            if res.get("loss") is not None and peer.get("loss") is not None:
                row["loss_rel_diff"] = abs(res["loss"] - peer["loss"]) / max(abs(peer["loss"]),
                                                                            1e-30)
    return row


def bench_workload(name, w, a, trellis, peer_ok, sgemm, peer_cache):
    B, T = WORKLOADS[name][:2]
    summary = trellis.validate(w["graph"])
    rows = []
    for algo, engine, peer_algo in ALGOS:
        label = algo + (" " + engine if engine else "")
        print("run_bench: %s %s ..." % (name, label), file=sys.stderr, flush=True)
        if algo == "rtrl":
            why = rtrl_fit(summary, B, T, max(sgemm), a)
            if why:
                rows.append({"workload": name, "algo": algo, "engine": None, "skipped": why})
                continue
        res, err = trellis.bench(w["graph"], w["params"], w["data"], algo, engine, a.repeat,
                                 a.budget)
        peer, peer_err = None, None
        if peer_ok and peer_algo:
            if (name, peer_algo) not in peer_cache:
                peer_cache[(name, peer_algo)] = run_peer(w, peer_algo, a.repeat)
            peer, peer_err = peer_cache[(name, peer_algo)]
        rows.append(make_row(name, algo, engine, res, err, peer, peer_err, sgemm))
    return rows


# --------------------------------------------------------------------------
# table
# --------------------------------------------------------------------------

COLUMNS = [("workload", 8), ("algo", 13), ("min ms", 9), ("med ms", 9), ("peak MB", 8),
           ("peer ms", 9), ("peer MB", 8), ("peer/trl", 8), ("MACs", 7), ("GFLOP/s", 7),
           ("%sgemm", 6)]


def fmt_ms(s):
    return "%.1f" % (1e3 * s) if s < 10 else "%.0f" % (1e3 * s)


def row_cells(r):
    algo = r["algo"] + (" " + r["engine"] if r.get("engine") else "")
    if r.get("skipped") or not r.get("trellis"):
        return [r["workload"], algo], r.get("skipped") or r.get("error")
    t, p = r["trellis"], r.get("peer")
    cells = [r["workload"], algo, fmt_ms(t["min_s"]), fmt_ms(t["median_s"]),
             "%.1f" % t["peak_rss_mb"],
             fmt_ms(p["median_s"]) if p else "-", "%.1f" % p["peak_rss_mb"] if p else "-",
             "%.3g" % r["ratio_peer_over_trellis"] if p else "-",
             human(t["macs_per_call"]), "%.1f" % t["gflops"],
             "%.0f%%" % (100 * r["sgemm_fraction"]) if r.get("sgemm_fraction") else "-"]
    notes = []
    if t.get("warmup_counted") or t["repeat"] < t.get("repeat_requested", t["repeat"]):
        notes.append("%d call%s (--budget)" % (t["repeat"], "" if t["repeat"] == 1 else "s"))
    if r.get("peer_error"):
        notes.append(r["peer_error"])
    if r.get("loss_rel_diff", 0) > LOSS_TOL:
        notes.append("loss differs from the peer's by %.1e" % r["loss_rel_diff"])
    return cells, "; ".join(notes)


def print_table(rows):
    head = "  ".join(("%-*s" if i < 2 else "%*s") % (w, n) for i, (n, w) in enumerate(COLUMNS))
    print(head)
    print("-" * len(head))
    for r in rows:
        cells, note = row_cells(r)
        line = "  ".join(("%-*s" if i < 2 else "%*s") % (COLUMNS[i][1], c)
                         for i, c in enumerate(cells))
        print(line + ("  " + note if note else ""))


def print_header(info):
    m, g = info["machine"], info["sgemm"]
    print("trellis bench, %s" % info["date"])
    print("machine: %s, %d cores; %s" % (m["cpu"], m["cores"], g["blas"]))
    ga = info["sgemm_all_cores"]
    print("OPENBLAS_CORETYPE=%s; sgemm peak %.1f GFLOP/s on %d thread%s, %.1f on %d "
          "(%%sgemm: against the rate for the threads the row used)" % (
              info["coretype"] or "(library default)", g["peak_gflops"], g["threads"],
              "" if g["threads"] == 1 else "s", ga["peak_gflops"], ga["threads"]))
    th = info.get("trellis_threads")
    if th:
        print("trellis: %d thread%s over the batch x %d BLAS thread%s" % (
            th[0], "" if th[0] == 1 else "s", th[1], "" if th[1] == 1 else "s"))
    print("workloads: %s; repeat %d (min and median of the timed calls)" %
          (info["workloads"], info["repeat"]))
    pe = info["peer"]
    print("peer: %s" % ("torch_peer.py via peer.sh (float32, 1 torch + 2 BLAS threads; "
                        "its eprop is reverse mode)" if pe["available"]
                        else "not run (%s)" % pe["reason"]))
    print()


# --------------------------------------------------------------------------
# modes
# --------------------------------------------------------------------------

def machine_info(a, trellis, env):
    print("run_bench: measuring sgemm ...", file=sys.stderr, flush=True)
    g1 = trellis.gemm()
    cores = os.cpu_count() or 1
    gall = trellis.gemm(cores) if cores > 1 else g1
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": {"cpu": cpu_model(), "cores": cores, "platform": platform.platform()},
            "coretype": env.get("OPENBLAS_CORETYPE"), "blas": g1["blas"],
            "sgemm": g1, "sgemm_all_cores": gall, "repeat": a.repeat}


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    print("\nwrote %s" % path)


def table_mode(a, trellis, env, names):
    peer_ok, reason = peer_status(a.no_peer)
    if a.standalone:
        peer_ok, reason = False, "--standalone"
    info = machine_info(a, trellis, env)
    info["workloads"], wl = prepare_workloads(a, trellis, names, peer_ok)
    info["peer"] = {"available": peer_ok, "reason": reason}
    sgemm = (info["sgemm"]["peak_gflops"], info["sgemm_all_cores"]["peak_gflops"])
    rows, peer_cache = [], {}
    for n in names:
        rows += bench_workload(n, wl[n], a, trellis, peer_ok, sgemm, peer_cache)
    used = [(r["trellis"]["threads"], r["trellis"]["blas_threads"]) for r in rows
            if r.get("trellis")]
    info["trellis_threads"] = max(used) if used else None
    blas = [r["peer"]["blas"] for r in rows if r.get("peer")]
    info["peer"]["blas"] = blas[0] if blas else None
    print_header(info)
    print_table(rows)
    info["rows"] = rows
    write_json(a.out or os.path.join(a.results_dir, "results.json"), info)


def memory_rows(a, trellis, w, data, summary, sgemm):
    rows = []
    for algo, engine in (("eprop", "online"), ("bptt", None), ("rtrl", None)):
        for T, d in data:
            why = rtrl_fit(summary, 32, T, sgemm, a) if algo == "rtrl" else None
            if why:
                rows.append({"algo": algo, "T": T, "skipped": why})
                continue
            print("run_bench: memory %s T=%d ..." % (algo, T), file=sys.stderr, flush=True)
            res, err = trellis.bench(w["graph"], w["params"], d, algo, engine, 1, 0, warmup=0)
            rows.append({"algo": algo + (" " + engine if engine else ""), "T": T,
                         "trellis": res, "error": err})
    return rows


def working_mb(t):
    """The runtime's own peak bytes of parameters, state, history and traces."""
    pk = t["mem_peak_bytes"]
    return (pk["params"] + pk["state"] + pk["history"] + pk["trace"]) / 1e6


def beyond_data_mb(t):
    """Peak resident memory during the calls minus the loaded data."""
    peak = t["call_peak_rss_mb"] if t["call_peak_rss_mb"] is not None else t["peak_rss_mb"]
    return peak - t["data_mb"]


def print_memory(rows, summary, B):
    print("%-13s %5s %7s %8s %8s %10s %8s %10s %11s %11s" % (
        "algo", "T", "time s", "peak MB", "data MB", "peak-data", "added", "traces MB",
        "history MB", "runtime MB"))
    for r in rows:
        t = r.get("trellis")
        if not t:
            print("%-13s %5d  %s" % (r["algo"], r["T"], r.get("skipped") or r.get("error")))
            continue
        pk = t["mem_peak_bytes"]
        print("%-13s %5d %7.2f %8.1f %8.1f %10.1f %8.1f %10.3f %11.3f %11.3f" % (
            r["algo"], r["T"], t["median_s"], t["peak_rss_mb"], t["data_mb"], beyond_data_mb(t),
            t["call_added_mb"] or 0, pk["trace"] / 1e6, pk["history"] / 1e6, working_mb(t)))
    verdicts = memory_verdicts(rows, summary, B)
    print()
    for v in verdicts:
        print(v)
    return verdicts


def within(a, b, tol=0.05):
    return abs(b - a) <= tol * max(abs(a), 1e-12)


def memory_verdicts(rows, summary, B):
    by = {(r["algo"], r["T"]): r.get("trellis") for r in rows}
    out = []
    on = [by.get(("eprop online", T)) for T in (500, 5000)]
    if all(on):
        w0, w1 = working_mb(on[0]), working_mb(on[1])
        p0, p1 = beyond_data_mb(on[0]), beyond_data_mb(on[1])
        t0, t1 = on[0]["mem_peak_bytes"]["trace"], on[1]["mem_peak_bytes"]["trace"]
        c0, c1 = on[0]["call_added_mb"], on[1]["call_added_mb"]
        out.append("eprop online, T=500 -> 5000: runtime memory %.2f -> %.2f MB (%s 5%%), "
                   "traces %d -> %d bytes (%s)" % (
                       w0, w1, "within" if within(w0, w1) else "NOT within", t0, t1,
                       "equal" if t0 == t1 else "DIFFERENT"))
        out.append("  process: peak minus data %.1f -> %.1f MB (%s 5%%); added by the call "
                   "%.1f -> %.1f MB (the C library's reuse of freed memory can move these by "
                   "a few MB)" % (p0, p1, "within" if within(p0, p1) else "NOT within",
                                  c0 or 0, c1 or 0))
    bp = [by.get(("bptt", T)) for T in (500, 5000)]
    if all(bp):
        h = (bp[1]["mem_peak_bytes"]["history"] - bp[0]["mem_peak_bytes"]["history"]) / 4500.0
        rss = (beyond_data_mb(bp[1]) - beyond_data_mb(bp[0])) * 1048576 / 4500.0
        pred = summary["memory_per_sample"]["bptt"]["bytes_per_step"] * B
        out.append("bptt: stored history grows %.0f bytes per step (%.0f per sample; validate "
                   "predicts %.0f per step, %.0f per sample); process peak minus data grows "
                   "%.0f bytes per step" % (h, h / B, pred, pred / B, rss))
    return out


GNU_TIME = "/usr/bin/time"


@functools.lru_cache(maxsize=None)
def has_gnu_time():
    if not os.access(GNU_TIME, os.X_OK):
        return False
    with tempfile.NamedTemporaryFile("r") as out:
        rc, _, _ = run([GNU_TIME, "-f", "%M", "-o", out.name, "true"], check=False)
        return rc == 0 and out.read().strip().isdigit()


def child_peak_rss(cmd, env):
    """Runs cmd; (exit status, seconds, peak RSS in MB, stderr, how measured).
    A process forked by Python starts with Python's pages and ru_maxrss
    counts them, so GNU time (a small process) runs cmd and reports its own
    peak; without it, wait4's ru_maxrss, which is then at least Python's."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as out:
        gnu = has_gnu_time()
        full = [GNU_TIME, "-f", "%M", "-o", out.name] + cmd if gnu else cmd
        p = subprocess.Popen(full, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        err.seek(0)
        text = err.read().decode(errors="replace")
        kb = int(out.read().strip() or 0) if gnu else usage.ru_maxrss
    how = "GNU time" if gnu else "wait4 (includes Python's %.1f MB)" % (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    return p.returncode, seconds, kb / 1024.0, text, how


def grad_rss(trellis, w, data, algo):
    """`trellis grad` in a child process of its own: its time and peak RSS."""
    cmd = [trellis.path, "grad", w["graph"], "--params", w["params"], "--data", data,
           "--algo", algo, "-o", data + ".grad"]
    rc, seconds, mb, text, how = child_peak_rss(cmd, trellis.env)
    if rc != 0:
        return {"error": "trellis grad failed (exit %d): %s" % (rc, first_line(text))}
    return {"seconds": seconds, "peak_rss_mb": mb, "measured_by": how,
            "data_mb": os.path.getsize(data) / 1e6}


def grad_rss_rows(a, trellis, w, folder, spiking):
    """eprop online at lsnn's B and rtrl at --rtrl-batch, T = 500 and 5000."""
    rows = []
    runs = [("eprop", WORKLOADS["lsnn"][0])] + ([("rtrl", a.rtrl_batch)] if a.rtrl_batch else [])
    for algo, B in runs:
        for T in (500, 5000):
            d = os.path.join(folder, "lsnn-B%d-T%d.safetensors" % (B, T))
            random_data(trellis, w["graph"], B, T, spiking, a.seed, d)
            print("run_bench: trellis grad --algo %s B=%d T=%d ..." % (algo, B, T),
                  file=sys.stderr, flush=True)
            row = {"algo": algo + (" online" if algo == "eprop" else ""), "B": B, "T": T}
            row.update(grad_rss(trellis, w, d, algo))
            rows.append(row)
    return rows


def print_grad_rss(rows):
    how = next((r["measured_by"] for r in rows if "measured_by" in r), "-")
    print("\ntrellis grad, the real command (a process per row; peak RSS = its ru_maxrss, "
          "by %s); the online engines stream the data file:" % how)
    print("%-13s %4s %5s %8s %12s %12s" % ("algo", "B", "T", "time s", "peak RSS MB",
                                           "data file MB"))
    for r in rows:
        if "error" in r:
            print("%-13s %4d %5d  %s" % (r["algo"], r["B"], r["T"], r["error"]))
            continue
        print("%-13s %4d %5d %8.2f %12.1f %12.1f" % (r["algo"], r["B"], r["T"], r["seconds"],
                                                   r["peak_rss_mb"], r["data_mb"]))
    verdicts = []
    for algo in ("eprop online", "rtrl"):
        by = {r["T"]: r for r in rows if r["algo"] == algo and "error" not in r}
        if 500 not in by or 5000 not in by:
            continue
        m0, m1 = by[500]["peak_rss_mb"], by[5000]["peak_rss_mb"]
        verdicts.append("trellis grad %s (B %d): peak RSS %.1f MB at T=500, %.1f MB at T=5000 "
                        "(%+.1f%%): %s 5%%" % (algo, by[500]["B"], m0, m1, 100 * (m1 - m0) / m0,
                                               "within" if within(m0, m1) else "NOT within"))
    print()
    for v in verdicts:
        print(v)
    return verdicts


def memory_mode(a, trellis, env):
    peer_ok = peer_status(a.no_peer)[0] and not a.standalone
    _, wl = prepare_workloads(a, trellis, ["lsnn"], peer_ok)
    w = wl["lsnn"]
    B, _, spiking = WORKLOADS["lsnn"]
    folder = os.path.join(a.cache, "memory")
    os.makedirs(folder, exist_ok=True)
    data = []
    for T in (500, 5000):
        d = os.path.join(folder, "lsnn-T%d.safetensors" % T)
        random_data(trellis, w["graph"], B, T, spiking, a.seed, d)
        data.append((T, d))
    summary = trellis.validate(w["graph"])
    sgemm = trellis.gemm(os.cpu_count() or 1)["peak_gflops"]
    rows = memory_rows(a, trellis, w, data, summary, sgemm)
    grad_rows = grad_rss_rows(a, trellis, w, folder, spiking)
    print("\nmemory: lsnn (B %d) at T = 500 and 5000, random data; one call each" % B)
    verdicts = print_memory(rows, summary, B)
    verdicts += print_grad_rss(grad_rows)
    return {"memory": {"workload": w["graph"], "B": B, "rows": rows, "grad_rss": grad_rows,
                       "verdicts": verdicts}}


def scale_graph(folder):
    with open(os.path.join(HERE, "workloads", "lsnn.json")) as f:
        doc = json.load(f)
    doc["name"] = "lsnn-scale: 80 inputs, 1000 LIF + 1000 ALIF, readout 20 (B 16, T 1000)"
    for n in doc["nodes"]:
        if n["op"] in ("lif", "alif"):
            n["size"] = 1000
    path = os.path.join(folder, "scale.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    return path


def scale_mode(a, trellis, env):
    folder = os.path.join(a.cache, "scale")
    os.makedirs(folder, exist_ok=True)
    w = own_workload(trellis, folder, scale_graph(folder), 16, 1000, "in", a.seed)
    summary = trellis.validate(w["graph"])
    ep = summary["memory_per_sample"]["eprop"]
    print("run_bench: scale eprop online ...", file=sys.stderr, flush=True)
    res, err = trellis.bench(w["graph"], w["params"], w["data"], "eprop", "online", 1, 0,
                             warmup=0)
    print("\nscale: LSNN 80 -> 1000 LIF + 1000 ALIF -> 20, B 16, T 1000, eprop online")
    held = (res or {}).get("mem_predicted_bytes", {}).get("samples_held", 16)
    print("  predicted (validate): traces %.1f MB (%.2f MB per sample x %d samples in memory at "
          "once), %s MACs per call" % (ep["bytes"] * held / 1e6, ep["bytes"] / 1e6, held,
                                       human(ep["macs_per_step"] * 16 * 1000)))
    if res:
        print("  measured: %.2f s per call, %.1f GFLOP/s, peak RSS %.1f MB, traces %.1f MB, "
              "loss %.6g" % (res["median_s"], res["gflops"], res["peak_rss_mb"],
                             res["mem_peak_bytes"]["trace"] / 1e6, res["loss"] or 0))
    else:
        print("  " + err)
    return {"scale": {"graph": w["graph"], "B": 16, "T": 1000, "predicted": ep,
                      "trellis": res, "error": err}}


# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="trellis benchmarks side by side with the PyTorch peer "
                    "(see bench/README.md).",
        epilog="example: bench/run_bench.py --repeat 5 --only lsnn,deep; "
               "bench/run_bench.py --memory --scale",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per row")
    ap.add_argument("--only", default=",".join(WORKLOADS), help="workloads, comma-separated")
    ap.add_argument("--no-peer", action="store_true", help="do not run the PyTorch peer")
    ap.add_argument("--standalone", action="store_true",
                    help="use bench/workloads even when ../shared/bench is there (no peer)")
    ap.add_argument("--out", help="JSON results (default build/bench/results.json; "
                    "results-memory.json, results-scale.json for those modes)")
    ap.add_argument("--save", action="store_true",
                    help="write the results to the tracked bench/results*.json instead")
    ap.add_argument("--peer", help="the PyTorch peer's folder, holding peer.sh (default "
                    "$TRELLIS_PEER, else ../shared/bench)")
    ap.add_argument("--memory", action="store_true", help="the memory check instead of the table")
    ap.add_argument("--scale", action="store_true", help="the scale run instead of the table")
    ap.add_argument("--cache", default="/tmp/trellis-bench", help="workload folder")
    ap.add_argument("--fresh", action="store_true", help="regenerate cached workloads")
    ap.add_argument("--bin", default=os.path.join(ROOT, "bin", "trellis"), help="trellis binary")
    ap.add_argument("--seed", type=int, default=1, help="workload seed")
    ap.add_argument("--budget", type=float, default=20.0,
                    help="seconds of timed calls per trellis row: fewer calls past it, and a "
                         "warm-up longer than it is the one measurement")
    ap.add_argument("--rtrl-seconds", type=float, default=10.0,
                    help="run rtrl only if 2 MACs / sgemm peak is below this")
    ap.add_argument("--rtrl-batch", type=int, default=1,
                    help="--memory: batch of the trellis grad --algo rtrl rows (lsnn costs about "
                         "60 ms per sample and step: 0 skips them)")
    ap.add_argument("--rtrl-memory-gb", type=float, default=4.0,
                    help="run rtrl only if its traces fit in this (and half the free memory)")
    ap.add_argument("--coretype", default="auto",
                    help="OPENBLAS_CORETYPE for trellis: auto (SkylakeX with AVX-512, as "
                         "peer.sh does for the peer), keep (the environment's), or a name")
    a = ap.parse_args(argv)
    if a.repeat < 1:
        ap.error("--repeat must be at least 1")
    if a.rtrl_batch < 0:
        ap.error("--rtrl-batch must be 0 (skip) or more")
    names = a.only.split(",")
    bad = [n for n in names if n not in WORKLOADS]
    if bad:
        ap.error("unknown workload %s; expected some of: %s" % (", ".join(bad),
                                                                ",".join(WORKLOADS)))
    if not os.access(a.bin, os.X_OK):
        ap.error("%s is not there: run make first" % a.bin)
    if a.peer:
        global SHARED
        SHARED = os.path.abspath(a.peer)
        if not os.path.isfile(os.path.join(SHARED, "peer.sh")):
            ap.error("--peer %s holds no peer.sh" % a.peer)
    a.results_dir = HERE if a.save else RUN_DIR
    return a, names


def main(argv=None):
    a, names = parse_args(argv)
    env = trellis_env(a.coretype)
    trellis = Trellis(a.bin, env)
    if not (a.memory or a.scale):
        table_mode(a, trellis, env, names)
        return 0
    results = {}
    for flag, mode, default in ((a.memory, memory_mode, "results-memory.json"),
                                (a.scale, scale_mode, "results-scale.json")):
        if not flag:
            continue
        res = mode(a, trellis, env)
        res["date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        res["machine"] = {"cpu": cpu_model(), "cores": os.cpu_count()}
        res["coretype"] = env.get("OPENBLAS_CORETYPE")
        if a.out:
            results.update(res)
        else:
            write_json(os.path.join(a.results_dir, default), res)
    if a.out:
        write_json(a.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
