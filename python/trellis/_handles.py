"""Owned library handles, and conversions between numpy arrays and the
library's parameters, data and results (SPEC sections 3 and 4).

Arrays go in without a copy when they already have the precision's dtype
and C order (trl_data_wrap borrows them: the Data object keeps them alive
until it frees the handle); other real arrays are converted once. Result
arrays are views of the library's memory, which stays allocated as long as
any of them is alive.
"""
import numpy as np

from ._lib import Error

SCALAR = ()


class Handle:
    """A library handle freed exactly once: by close(), at the end of a with
    block, or when the object is collected."""

    _free = None

    def __init__(self, lib, ptr, free, keep=()):
        self.lib, self.ptr, self._free, self._keep = lib, ptr, free, keep

    def close(self):
        if self._free is not None and self.ptr is not None:
            free, ptr = self._free, self.ptr
            self.ptr, self._free = None, None
            free(ptr)
            self._keep = ()  # what the handle needed (its graph, borrowed arrays) may go now

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def get(self):
        if self.ptr is None:
            raise Error("this %s was closed" % type(self).__name__)
        return self.ptr


def new_handle(lib, ctype, fname, *args):
    """Calls trl_<fname>(*args, &out, err) and returns out (raises Error)."""
    out = lib.ffi.new(ctype + " *")
    lib.call(fname, *args, out)
    return out[0]


def as_real(lib, name, value, shape=None, ndim=None):
    """value as a C-ordered array of the precision's dtype (the same object
    when it is one already), checked against shape (a tuple) or ndim."""
    a = value.detach().cpu().numpy() if hasattr(value, "detach") else value
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise Error("%s: expected real numbers (%s), got an array of %s"
                    % (name, lib.dtype, a.dtype))
    a = np.ascontiguousarray(a, dtype=lib.dtype)
    if shape is not None and a.shape != tuple(shape):
        raise Error("%s: expected shape %s, got %s" % (name, fmt_shape(shape),
                                                      fmt_shape(a.shape)))
    if ndim is not None and a.ndim not in ndim:
        raise Error("%s: expected %s dimensions, got shape %s"
                    % (name, " or ".join(str(n) for n in ndim), fmt_shape(a.shape)))
    return a


def fmt_shape(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def fill_tensor(lib, t, name_c, a):
    """Points the trl_tensor t at the array a (kept alive by the caller)."""
    t.name = name_c
    t.ndim = a.ndim
    for k in range(a.ndim):
        t.shape[k] = a.shape[k]
    t.data = lib.ffi.cast(lib.real + " *", a.ctypes.data) if a.size else lib.ffi.NULL


class TensorList:
    """A C array of trl_tensor over numpy arrays {name: array}, keeping the
    arrays and the name strings alive as long as itself."""

    def __init__(self, lib, arrays):
        self.arrays = arrays
        self.names = [lib.ffi.new("char[]", k.encode()) for k in arrays]
        self.n = len(arrays)
        self.c = lib.ffi.new("trl_tensor[]", max(self.n, 1))
        for i, (k, a) in enumerate(arrays.items()):
            fill_tensor(lib, self.c[i], self.names[i], a)


class Data(Handle):
    """A trl_data over the caller's arrays (borrowed, not copied), or one
    the library made (a file, a task, random data)."""

    def __init__(self, graph, arrays=None, ptr=None):
        lib = graph.lib
        if ptr is None:
            arrays = {k: as_real(lib, k, v, ndim=(2,) if k == "mask" else (3,))
                      for k, v in arrays.items()}
            tensors = TensorList(lib, arrays)
            ptr = new_handle(lib, "trl_data *", "data_wrap", graph.get(), tensors.c, tensors.n)
            keep = (tensors, graph)
        else:
            keep = (graph,)
        super().__init__(lib, ptr, lib.data_free, keep)

    def shape(self):
        b, t = self.lib.ffi.new("int *"), self.lib.ffi.new("int *")
        self.lib.data_shape(self.get(), b, t)
        return b[0], t[0]

    def arrays(self, names):
        """{name: a copy of the array} for the names the data set holds."""
        out = {}
        t = self.lib.ffi.new("trl_tensor *")
        err = self.lib.error_new()
        try:
            for name in names:
                if self.lib.data_tensor(self.get(), name.encode(), t, err) == 0:
                    out[name] = tensor_array(self.lib, t, None).copy()
        finally:
            self.lib.error_free(err)
        return out


class Borrowed:
    """A handle of the caller's in a with block: not closed at its end."""

    def __init__(self, handle):
        self.handle = handle

    def __enter__(self):
        return self.handle

    def __exit__(self, *exc):
        pass


def data_of(graph, data, flags=0):
    """A Data for a dict of arrays, a data file's path, or a Data (the
    caller's, as Borrowed: a with block leaves it open)."""
    if isinstance(data, Data):
        return Borrowed(data)
    if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        import os
        path = os.fsencode(data)
        return Data(graph, ptr=new_handle(graph.lib, "trl_data *", "data_load", graph.get(),
                                          path, flags))
    if not isinstance(data, dict):
        raise Error("data must be a dict {input id: [B, T, size], \"target\"?, \"mask\"?}, a "
                    "data file's path or a trellis Data (got %s)" % type(data).__name__)
    return Data(graph, data)


class Params(Handle):
    """A trl_params filled from {name: array}, a parameter file, or init."""

    def __init__(self, graph):
        lib = graph.lib
        super().__init__(lib, new_handle(lib, "trl_params *", "params_new", graph.get()),
                         lib.params_free, (graph,))
        self.graph = graph

    def set(self, values):
        """Fills every parameter tensor from values, and the feedback
        matrices (n.fb.s, SPEC 6.3) that values holds."""
        g, lib = self.graph, self.lib
        infos = g.param_infos
        missing = [i for i in infos if i["name"] not in values]
        unknown = [k for k in values if k not in g.param_index and k not in g.feedback_index]
        if missing or unknown:
            raise Error("parameters: " + "; ".join(
                ["%s: missing, expected shape %s" % (i["name"], fmt_shape(i["shape"]))
                 for i in missing] +
                ["%s: not a parameter or feedback matrix of the graph%s"
                 % (k, g.suggest_param(k)) for k in unknown]))
        ptr = self.get()
        fbs = [g.feedback_infos[g.feedback_index[k]] for k in values if k in g.feedback_index]
        for info in infos + fbs:
            name = info["name"]
            a = as_real(lib, name, values[name], shape=info["shape"])
            lib.call("params_set", ptr, name.encode(),
                     lib.ffi.cast(lib.real + " *", a.ctypes.data), a.size)
        return self

    def feedback_count(self):
        """Feedback matrices held."""
        return self.lib.params_feedback_count(self.get())

    def to_dict(self):
        """{name: array}, copies in the precision's dtype: every parameter
        tensor, then the feedback matrices held."""
        lib = self.lib
        block = np.frombuffer(lib.ffi.buffer(lib.params_values(self.get()),
                                             lib.params_size(self.ptr) * lib.dtype.itemsize),
                              dtype=lib.dtype)
        out = {i["name"]: block[i["offset"]:i["offset"] + i["count"]].reshape(i["shape"]).copy()
               for i in self.graph.param_infos}
        if self.feedback_count():
            t = lib.ffi.new("trl_tensor *")
            err = lib.error_new()
            try:
                for info in self.graph.feedback_infos:  # the ones held
                    if lib.params_tensor(self.ptr, info["name"].encode(), t, err) == 0:
                        out[info["name"]] = tensor_array(lib, t, None).copy()
            finally:
                lib.error_free(err)
        return out


def params_of(graph, params):
    """A Params for a dict of arrays, a parameter file's path, or a Params
    (the caller's, as Borrowed)."""
    if isinstance(params, Params):
        return Borrowed(params)
    p = Params(graph)
    if isinstance(params, (str, bytes)) or hasattr(params, "__fspath__"):
        import os
        graph.lib.call("params_load", p.get(), os.fsencode(params))
        return p
    if not isinstance(params, dict):
        raise Error("params must be a dict {name: array} or a parameter file's path (got %s)"
                    % type(params).__name__)
    return p.set(params)


class _Keeper:
    """Frees a result when the last array viewing it goes."""

    def __init__(self, lib, ptr):
        self.lib, self.ptr = lib, ptr

    def __del__(self):
        self.lib.result_free(self.ptr)


def tensor_array(lib, t, keeper):
    """A numpy view of a trl_tensor's values; keeper stays alive with it."""
    shape = tuple(t.shape[k] for k in range(t.ndim))
    count = int(np.prod(shape, dtype=np.int64))
    if count == 0:
        return np.zeros(shape, dtype=lib.dtype)
    ptr = t.data
    if keeper is not None:  # the view's buffer holds ptr, ptr's destructor holds keeper
        ptr = lib.ffi.gc(lib.ffi.cast(lib.real + " *", ptr), lambda _, k=keeper: None)
    return np.frombuffer(lib.ffi.buffer(ptr, count * lib.dtype.itemsize),
                         dtype=lib.dtype).reshape(shape)


def result_dict(lib, ptr):
    """{name: array view} of a trl_result, and "loss" as a float when it has
    one. The result is freed when the dict's arrays are."""
    keeper = _Keeper(lib, ptr)
    out = {}
    t = lib.ffi.new("trl_tensor *")
    for i in range(lib.result_count(ptr)):
        lib.result_tensor(ptr, i, t)
        out[lib.string(t.name)] = tensor_array(lib, t, keeper)
    loss = lib.ffi.new("double *")
    if lib.result_loss(ptr, loss):
        out["loss"] = float(loss[0])
    return out
