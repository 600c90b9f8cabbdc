"""trellis: recurrent (spiking) networks as JSON graphs, trained with BPTT,
RTRL or deep e-prop, from Python (docs/SPEC.md section 9).

    import trellis
    g = trellis.Graph.load("models/lsnn.json", precision="float64")
    p = g.init(seed=1)
    gr = g.grad(p, g.task_data("evidence", batch=8), algo="eprop")

numpy arrays in and out, [B, T, size] row-major, in the graph's precision
(float32 or float64). trellis.torch (imported when used) is the PyTorch
bridge. Errors raise trellis.Error, a ValueError whose str() is the
library's message with the file and the JSON path.
"""
import os

from . import _lib
from ._handles import Data, Params
from ._lib import Error
from ._safetensors import load_safetensors, save_safetensors
from .graph import Graph, task_info, tasks
from .shd import shd_convert
from .train import Trainer

if os.environ.get("TRELLIS_KEEP_MEMORY", "1") != "0":
    _lib.keep_freed_memory()

__all__ = ["Graph", "Error", "Data", "Params", "Trainer", "load_safetensors",
           "save_safetensors", "shd_convert", "tasks", "task_info", "threads", "set_threads", "version",
           "memory_stats", "library_path", "keep_freed_memory"]
keep_freed_memory = _lib.keep_freed_memory


def version(precision="float32"):
    """The library's version and precision, e.g. "0.2.0 float32"."""
    lib = _lib.load(precision)
    return lib.string(lib.version())


def library_path(precision="float32"):
    """The file of the library that was loaded for a precision."""
    return _lib.load(precision).path


def threads(precision="float32"):
    """The default threads per call (TRELLIS_THREADS, else the processors)."""
    return _lib.load(precision).threads()


def set_threads(n, precision=None):
    """Sets the default threads per call (n <= 0: back to the default), in
    one precision's library or (precision=None) in both that are loaded
    (float32 is loaded if none is)."""
    libs = [_lib.load(precision)] if precision else list(_lib._loaded.values()) or \
        [_lib.load()]
    for lib in libs:
        lib.set_threads(int(n))


def memory_stats(precision="float32", reset_peak=False):
    """Bytes the library holds now and at their peak, per purpose:
    {"current": {kind: bytes}, "peak": {...}, "allocations": n}."""
    lib = _lib.load(precision)
    m = lib.ffi.new("trl_memory *")
    lib.memory_stats(m)
    kinds = _lib._cdefs.MEMORY_KINDS
    out = {"current": {k: m.current[i] for i, k in enumerate(kinds)},
           "peak": {k: m.peak[i] for i, k in enumerate(kinds)},
           "allocations": m.allocations}
    if reset_peak:
        lib.memory_reset_peak()
    return out
