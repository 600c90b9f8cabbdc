"""Loading libtrellis (float32) or libtrellis-f64 (float64) with cffi.

cffi in ABI mode (ffi.dlopen): the declarations of _cdefs.py are parsed at
import time, no compiler is involved, and calls release the GIL. Where the
library is looked for, first found wins:
  1. $TRELLIS_LIB: the library file itself, or a folder holding it (a file
     names one precision: the other is looked for beside it);
  2. the repository: <root>/lib/ next to <root>/python/trellis/ (after make);
  3. the installed prefix: the folder make install wrote in _installed.py;
  4. the system loader's path (ldconfig, LD_LIBRARY_PATH).
"""
import os
import threading

from cffi import FFI

from . import _cdefs

PRECISIONS = {"float32": ("float", "_f32", "libtrellis.so.0"),
              "float64": ("double", "_f64", "libtrellis-f64.so.0")}
_HERE = os.path.dirname(os.path.abspath(__file__))
_lock = threading.Lock()
_loaded = {}


class Error(ValueError):
    """A failure reported by libtrellis.

    str() is the library's message: every problem on its own line, as
    "FILE: /json/path: message" (or FILE:LINE:COL for a JSON syntax error).
    Attributes: status (the trl_status name, e.g. "invalid input"), code
    (its number), file, and problems, a list of dicts with path, line,
    column and message.
    """

    def __init__(self, message, status="invalid argument", code=2, file="", problems=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.file = file
        self.problems = problems if problems is not None else []


Error.__module__ = "trellis"  # shown as trellis.Error in tracebacks


def _candidates(filename):
    env = os.environ.get("TRELLIS_LIB")
    if env:
        if os.path.isdir(env):
            yield os.path.join(env, filename)
        else:
            yield env if os.path.basename(env) == filename else \
                os.path.join(os.path.dirname(env), filename)
        return
    yield os.path.normpath(os.path.join(_HERE, "..", "..", "lib", filename))
    try:
        from . import _installed
        yield os.path.join(_installed.LIBDIR, filename)
    except ImportError:
        pass
    yield filename  # the system loader's search path


class Lib:
    """One precision's library: lib.graph_load(...) calls trl_graph_load_f32."""

    def __init__(self, precision):
        ctype, self.suffix, filename = PRECISIONS[precision]
        self.precision = precision
        self.ffi = FFI()
        self.ffi.cdef(_cdefs.CDEFS.replace("REAL", ctype).replace("SFX", self.suffix))
        tried = []
        for path in _candidates(filename):
            if os.sep in path and not os.path.exists(path):
                tried.append(path)
                continue
            try:
                self.lib = self.ffi.dlopen(path)
                self.path = path
                break
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
        else:
            raise ImportError("cannot find %s (the %s library); tried: %s. Run make in the "
                              "trellis repository, make install, or set TRELLIS_LIB to the "
                              "library file" % (filename, precision, "; ".join(tried)))
        import numpy
        self.dtype = numpy.dtype(numpy.float32 if ctype == "float" else numpy.float64)
        self.real = ctype

    def __getattr__(self, name):
        f = getattr(self.lib, "trl_" + name + self.suffix)
        setattr(self, name, f)
        return f

    def string(self, p):
        return self.ffi.string(p).decode() if p != self.ffi.NULL else None

    def error(self, err):
        """The Error a failed call left in err."""
        problems = []
        path, line, col = self.ffi.new("const char **"), self.ffi.new("int *"), \
            self.ffi.new("int *")
        for i in range(self.error_count(err)):
            msg = self.error_at(err, i, path, line, col)
            problems.append({"path": self.string(path[0]) or "", "line": line[0],
                             "column": col[0], "message": self.string(msg)})
        code = int(self.error_status(err))
        file = self.string(self.error_file(err)) or ""
        message = self.string(self.error_message(err)).rstrip("\n")
        if not file:  # the library writes ": message" when a problem is about no file
            message = "\n".join(m[2:] if m.startswith(": ") else m for m in message.split("\n"))
        return Error(message,
                     self.string(self.status_name(code)), code, file, problems)

    def call(self, fname, *args):
        """Calls trl_<fname>(*args, err) and raises Error unless it returns TRL_OK."""
        err = self.error_new()
        if err == self.ffi.NULL:
            raise MemoryError("trellis: out of memory for an error object")
        try:
            status = getattr(self, fname)(*args, err)
            if status != self.lib.TRL_OK:
                raise self.error(err)
        finally:
            self.error_free(err)


def keep_freed_memory():
    """Keeps freed memory in the process (glibc's mallopt), as bin/trellis
    does: a gradient allocates and frees the same large history and trace
    blocks at every call, and returning them to the system makes every call
    fault them in again (bptt on models/lsnn.json: about 1.5x the time).
    Process-wide; the package calls it when imported unless the environment
    sets TRELLIS_KEEP_MEMORY=0. Returns whether it took effect (False where
    the C library has no mallopt)."""
    ffi = FFI()
    ffi.cdef("int mallopt(int param, int value);")
    try:
        libc = ffi.dlopen(None)
        m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
        return bool(libc.mallopt(m_mmap_threshold, 32 << 20) and
                    libc.mallopt(m_trim_threshold, -1))
    except (OSError, AttributeError):
        return False


def load(precision="float32"):
    """The Lib of a precision ("float32" or "float64"), loaded once."""
    if precision not in PRECISIONS:
        raise Error('precision must be "float32" or "float64" (got %r)' % (precision,))
    with _lock:
        if precision not in _loaded:
            _loaded[precision] = Lib(precision)
        return _loaded[precision]
