"""import trellis does not load libhdf5: the library loads its HDF5 module,
lib/libtrellis-hdf5.so.0, found beside itself, on its first SHD call. In a
fresh interpreter: Debian's torch, which other tests import, maps libhdf5."""
import os
import subprocess
import sys

from conftest import ROOT

SCRIPT = r'''
import sys
from cffi import FFI
from trellis import _lib

def mapped(name):
    with open("/proc/self/maps") as f:
        return any(name in line for line in f)

lib = _lib.load("float32")
assert not mapped("libhdf5") and not mapped("libtrellis-hdf5"), "libhdf5 loaded with trellis"
ffi = FFI()
ffi.cdef("""
typedef struct trl_error trl_error;
trl_error *trl_error_new_f32(void);
void trl_error_free_f32(trl_error *err);
const char *trl_error_message_f32(const trl_error *err);
typedef struct trl_shd_opts {
    double dt_ms; int steps; const char *input; int classes; int loss_steps;
    int64_t offset; int64_t limit;
} trl_shd_opts;
int trl_shd_convert_f32(const char *h5_path, const trl_shd_opts *opts, const char *out_path,
                        void *info, trl_error *err);
""")
c = ffi.dlopen(lib.path)
err = c.trl_error_new_f32()
opts = ffi.new("trl_shd_opts *", {"dt_ms": 10, "steps": 20})
status = c.trl_shd_convert_f32(sys.argv[1].encode(), opts, sys.argv[2].encode(), ffi.NULL, err)
assert status == 0, ffi.string(c.trl_error_message_f32(err)).decode()
c.trl_error_free_f32(err)
assert mapped(sys.argv[3]) and mapped("libhdf5"), "the module was not loaded from lib/"
'''


def test_hdf5_is_loaded_on_the_first_shd_call_only(tmp_path):
    h5, out = str(tmp_path / "shd.h5"), str(tmp_path / "shd.safetensors")
    subprocess.run([sys.executable, "tools/shd_synth.py", h5, "--samples", "3"], cwd=ROOT,
                   check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k != "TRELLIS_HDF5_MODULE"}
    r = subprocess.run([sys.executable, "-c", SCRIPT, h5, out,
                        os.path.join(ROOT, "lib", "libtrellis-hdf5.so.0")],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(out)
