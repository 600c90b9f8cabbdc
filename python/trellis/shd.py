"""The Spiking Heidelberg Digits (and SSC) files of Cramer et al. (2020) as
trellis data (SPEC section 11): trellis.shd_convert writes a data file,
Graph.shd_data reads the samples into memory (the library's reader: the same
steps, counts, one-hot target and mask as `trellis data shd`)."""
import os

from . import _lib
from ._handles import Data

CHANNELS = _lib._cdefs.SHD_CHANNELS


def _opts(lib, dt_ms, steps, input, classes, loss_steps, offset, limit):
    o = lib.ffi.new("trl_shd_opts *")
    o.dt_ms, o.steps, o.classes, o.loss_steps = float(dt_ms), int(steps), int(classes), \
        int(loss_steps)
    o.offset, o.limit = int(offset), int(limit)
    name = lib.ffi.new("char[]", input.encode()) if input else lib.ffi.NULL
    o.input = name
    return o, name  # the name's memory lives as long as the caller holds it


def _info(i):
    return {"file_samples": i.file_samples, "B": i.B, "T": i.T, "classes": i.classes,
            "spikes": i.spikes, "dropped": i.dropped, "max_count": i.max_count}


def shd_convert(h5_path, out_path, dt_ms, steps, input=None, classes=0, loss_steps=0,
                offset=0, limit=0, precision="float32"):
    """Converts an SHD/SSC HDF5 file into a data file (input [B, T, 700],
    "target" [B, T, classes], "mask" [B, T]), one sample in memory at a
    time. dt_ms: a step's width; steps: T; input: the input's name ("in");
    classes: 0 for the file's largest label + 1; loss_steps: 0 for a mask
    of 1 everywhere, K for the last K steps only; offset, limit: the
    samples (limit 0: to the end). Returns {file_samples, B, T, classes,
    spikes, dropped, max_count}."""
    lib = _lib.load(precision)
    o, _name = _opts(lib, dt_ms, steps, input, classes, loss_steps, offset, limit)
    info = lib.ffi.new("trl_shd_info *")
    lib.call("shd_convert", os.fsencode(h5_path), o, os.fsencode(out_path), info)
    return _info(info)


def shd_data(graph, h5_path, dt_ms, steps, classes=0, loss_steps=0, offset=0, limit=0):
    """Graph.shd_data: ({input id, "target", "mask": array}, info)."""
    lib = graph.lib
    o, _name = _opts(lib, dt_ms, steps, None, classes, loss_steps, offset, limit)
    info = lib.ffi.new("trl_shd_info *")
    out = lib.ffi.new("trl_data **")
    lib.call("data_shd", graph.get(), os.fsencode(h5_path), o, out, info)
    with Data(graph, ptr=out[0]) as d:
        return d.arrays(graph.inputs + ["target", "mask"]), _info(info)
