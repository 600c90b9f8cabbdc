"""The package's C declarations (python/trellis/_cdefs.py) are the header's:
include/trellis.h, preprocessed for each precision, parsed by cffi, gives
the same functions with the same types, the same structs with the same
sizes and field offsets, the same enums, #define constants and defaults."""
import os
import re
import shutil
import subprocess

import cffi
import pytest

from conftest import ROOT, PRECISIONS
from trellis import _cdefs, _lib, train

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")


def header_ffi(precision, tmp_path):
    inc = tmp_path / "inc"  # cffi knows size_t, the fixed-width integers and FILE itself
    inc.mkdir(exist_ok=True)
    for h in ("stddef.h", "stdint.h", "stdio.h"):
        (inc / h).write_text("")
    flags = ["-DTRL_F64"] if precision == "float64" else []
    text = subprocess.run(["cc", "-E", "-P", "-nostdinc", "-I", str(inc)] + flags +
                          [os.path.join(ROOT, "include", "trellis.h")], check=True,
                          capture_output=True, text=True).stdout
    ffi = cffi.FFI()
    ffi.cdef(text)
    return ffi


def ours(precision):
    ctype, suffix, _ = _lib.PRECISIONS[precision]
    ffi = cffi.FFI()
    ffi.cdef(_cdefs.CDEFS.replace("REAL", ctype).replace("SFX", suffix))
    return ffi


@pytest.mark.parametrize("precision", PRECISIONS)
def test_declarations_match_the_header(precision, tmp_path):
    h, p = header_ffi(precision, tmp_path), ours(precision)
    hd, pd = h._parser._declarations, p._parser._declarations
    assert sorted(hd) == sorted(pd), "declared here or in trellis.h only: %s" % sorted(
        set(hd) ^ set(pd))
    for key, (tp, _) in hd.items():
        kind, name = key.split(" ", 1)
        if kind == "function":
            assert pd[key][0].get_c_name() == tp.get_c_name(), name
        elif kind == "struct" and h.typeof("struct " + name).fields is not None:
            ht, pt = h.typeof("struct " + name), p.typeof("struct " + name)
            assert h.sizeof(ht) == p.sizeof(pt), name
            assert [(f, h.offsetof(ht, f), t.type.cname) for f, t in ht.fields] == \
                [(f, p.offsetof(pt, f), t.type.cname) for f, t in pt.fields], name
        elif kind == "enum":
            assert h.typeof("enum " + name).elements == p.typeof("enum " + name).elements


def macros():
    text = subprocess.run(["cc", "-dM", "-E", os.path.join(ROOT, "include", "trellis.h")],
                          check=True, capture_output=True, text=True).stdout
    return dict(re.findall(r"^#define (TRL_\w+) (.*)$", text, re.M))


def test_constants_match_the_header():
    m = macros()
    assert int(m["TRL_DATA_TARGET"].rstrip("u")) == _cdefs.DATA_TARGET
    assert int(m["TRL_DATA_STREAM"].split()[0].rstrip("u")) == _cdefs.DATA_STREAM
    assert int(m["TRL_COMPARE_MAX"]) == _cdefs.COMPARE_MAX
    assert int(m["TRL_SHD_CHANNELS"]) == _cdefs.SHD_CHANNELS
    lib = _lib.load()
    kinds = [getattr(lib.lib, "TRL_MEMORY_" + k.upper()) for k in _cdefs.MEMORY_KINDS]
    assert kinds == list(range(lib.lib.TRL_MEMORY_KINDS))


def test_trainer_defaults_are_the_headers(tmp_path):
    """Trainer's defaults are TRL_TRAIN_CONFIG_INIT's (except the algorithm:
    eprop, as Graph.grad's)."""
    src = tmp_path / "d.c"
    src.write_text('#include <stdio.h>\n#include "trellis.h"\nint main(void) {\n'
                   "  trl_train_config c = TRL_TRAIN_CONFIG_INIT;\n"
                   '  printf("%d %d %d %d %d %.17g %.17g %.17g %ld %d %llu %.17g %.17g %ld %ld '
                   '%d %.17g %d\\n", c.grad.engine, c.grad.order, c.grad.feedback, c.grad.threads, '
                   "c.online, c.lr, c.momentum, c.clip, c.iters, c.batch, "
                   "(unsigned long long)c.seed, c.rate_target_hz, c.rate_weight, c.eval_every, "
                   "c.checkpoint_every, c.checkpoint_path == NULL, c.feedback_decay, "
                   "c.n_shards <= 1 && c.shard == 0 && c.reduce == NULL);\n  return 0;\n}\n")
    exe = tmp_path / "d"
    subprocess.run(["cc", "-I", os.path.join(ROOT, "include"), str(src), "-o", str(exe)],
                   check=True)
    v = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    d = train.DEFAULTS
    assert v[0] == "0" and d["engine"] is None
    assert int(v[1]) <= 1 and d["order"] == 1
    assert v[2] == "0" and d["feedback"] == "symmetric"
    assert int(v[3]) == d["threads"] and int(v[4]) == int(d["online"])
    assert [float(x) for x in v[5:8]] == [d["lr"], d["momentum"], d["clip"]]
    assert [int(x) for x in v[8:11]] == [d["iters"], d["batch"], d["seed"]]
    assert [float(x) for x in v[11:13]] == [d["rate_target_hz"], d["rate_weight"]]
    assert [int(x) for x in v[13:15]] == [d["eval_every"], d["checkpoint_every"]]
    assert v[15] == "1" and d["checkpoint"] is None
    assert float(v[16]) == d["feedback_decay"]
    assert v[17] == "1"  # one process: the trainer leaves the data-parallel hooks unset
