"""import trellis does not load libhdf5: the library loads its HDF5 module,
lib/libtrellis-hdf5.so.0, found beside itself, on its first SHD call."""
import subprocess

from cffi import FFI

from conftest import ROOT
from trellis import _lib

SHD = """
typedef enum { TRL_OK = 0 } trl_status;
typedef struct trl_error trl_error;
trl_error *trl_error_new_f32(void);
void trl_error_free_f32(trl_error *err);
const char *trl_error_message_f32(const trl_error *err);
typedef struct trl_shd_opts {
    double dt_ms; int steps; const char *input; int classes; int loss_steps;
    int64_t offset; int64_t limit;
} trl_shd_opts;
trl_status trl_shd_convert_f32(const char *h5_path, const trl_shd_opts *opts,
                               const char *out_path, void *info, trl_error *err);
"""


def mapped(name):
    with open("/proc/self/maps") as f:
        return any(name in line for line in f)


def test_hdf5_is_loaded_on_the_first_shd_call_only(tmp_path, monkeypatch):
    monkeypatch.delenv("TRELLIS_HDF5_MODULE", raising=False)
    lib = _lib.load("float32")
    assert not mapped("libhdf5") and not mapped("libtrellis-hdf5")
    h5 = str(tmp_path / "shd.h5")  # written by another process: h5py loads libhdf5
    subprocess.run(["/usr/bin/python3", "tools/shd_synth.py", h5, "--samples", "3"], cwd=ROOT,
                   check=True, capture_output=True)
    ffi = FFI()
    ffi.cdef(SHD)
    c = ffi.dlopen(lib.path)
    err = c.trl_error_new_f32()
    opts = ffi.new("trl_shd_opts *", {"dt_ms": 10, "steps": 20})
    out = str(tmp_path / "shd.safetensors").encode()
    status = c.trl_shd_convert_f32(h5.encode(), opts, out, ffi.NULL, err)
    message = ffi.string(c.trl_error_message_f32(err)).decode()
    c.trl_error_free_f32(err)
    assert status == 0, message
    assert mapped(ROOT + "/lib/libtrellis-hdf5.so.0") and mapped("libhdf5")
