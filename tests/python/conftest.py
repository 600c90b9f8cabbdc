"""Shared by the Python package's tests (make python-test): the repository,
the command-line tools to compare with, and small graphs."""
import os
import subprocess

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
CASES = sorted(d for d in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, d)))
PRECISIONS = ("float32", "float64")
BIN = {"float32": os.path.join(ROOT, "bin", "trellis"),
       "float64": os.path.join(ROOT, "bin", "trellis-f64")}

# a smooth graph (no spikes): finite differences hold it to its gradient
SMOOTH = {
    "trellis": 1, "name": "smooth",
    "nodes": [
        {"id": "in", "op": "input", "size": 3},
        {"id": "h", "op": "leaky", "size": 5, "params": {"tau_m": 4},
         "inputs": ["in", {"from": "h", "delay": 1}]},
        {"id": "d", "op": "dense", "size": 4, "params": {"activation": "tanh"},
         "inputs": ["h", {"from": "d", "delay": 2}]},
        {"id": "out", "op": "readout", "size": 2, "params": {"tau": 3}, "inputs": ["d", "h"]},
    ],
    "outputs": ["out"],
    "loss": {"node": "out", "type": "mse"},
}


def fixture(case, name):
    return os.path.join(FIXTURES, case, name)


def cli(precision, *args):
    """Runs bin/trellis (or trellis-f64) from the repository root; its stdout."""
    r = subprocess.run([BIN[precision]] + [str(a) for a in args], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, "trellis %s failed:\n%s" % (" ".join(map(str, args)), r.stderr)
    return r.stdout


def rel(a, b):
    import numpy as np
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)
