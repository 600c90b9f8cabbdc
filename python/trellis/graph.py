"""trellis.Graph: a validated graph and the computations on it (SPEC 9)."""
import difflib
import json
import os

from . import _lib
from ._handles import Data, Handle, Params, TensorList, as_real, data_of, new_handle, \
    params_of, result_dict
from ._lib import Error

ALGOS = ("bptt", "rtrl", "eprop")
ENGINES = (None, "default", "online", "reverse")
FEEDBACK = ("symmetric", "random", "adaptive")
SPLITS = ("train", "val")


def _choice(what, value, allowed):
    if value not in allowed:
        raise Error("%s must be one of %s (got %r)"
                    % (what, ", ".join(repr(a) for a in allowed if a is not None), value))
    return allowed.index(value)


class Graph(Handle):
    """A graph file loaded and validated by libtrellis, in one precision.

    Graph.load(path), Graph.from_dict(doc) and Graph.from_json(text) make
    one; precision="float32" (the default) or "float64" picks the library.
    Free it with close() or a with block (or let it be collected); the
    arrays it returned stay valid after."""

    def __init__(self, lib, ptr):
        super().__init__(lib, ptr, lib.graph_free)
        ffi = lib.ffi
        info = ffi.new("trl_graph_info *")
        lib.graph_get_info(ptr, info)
        self.file = lib.string(info.file)
        self.name = lib.string(info.name)
        self.dt = info.dt
        self.loss = None if info.loss_node < 0 else {
            "node": self._node_id(info.loss_node), "type": lib.string(info.loss_type)}
        self.max_delay = info.max_delay
        self.n_trainable_values = info.n_trainable_values
        self.nodes = [self._node(i) for i in range(info.n_nodes)]
        self.schedule = [self.nodes[lib.graph_schedule(ptr, k)]["id"]
                         for k in range(info.n_nodes)]
        self.outputs = [self.nodes[lib.graph_output(ptr, k)]["id"]
                        for k in range(info.n_outputs)]
        self.inputs = [n["id"] for n in self.nodes if n["is_input"]]
        self.param_infos = [self._param(i) for i in range(info.n_params)]
        self.param_index = {p["name"]: i for i, p in enumerate(self.param_infos)}
        self.trainable = [p["name"] for p in self.param_infos if p["trainable"]]
        self.feedback_infos = [self._feedback(e) for e in self.edges()]
        self.feedback_index = {f["name"]: i for i, f in enumerate(self.feedback_infos)}

    # ---- making one ----

    @classmethod
    def load(cls, path, precision="float32"):
        """Reads and validates a graph file (SPEC section 1)."""
        lib = _lib.load(precision)
        return cls(lib, new_handle(lib, "trl_graph *", "graph_load", os.fsencode(path)))

    @classmethod
    def from_json(cls, text, precision="float32", name="<json>"):
        """A graph from JSON text; name stands for the file in errors."""
        lib = _lib.load(precision)
        raw = text.encode() if isinstance(text, str) else bytes(text)
        return cls(lib, new_handle(lib, "trl_graph *", "graph_parse", raw, len(raw),
                                   name.encode()))

    @classmethod
    def from_dict(cls, doc, precision="float32", name="<dict>"):
        """A graph from the JSON document as Python objects."""
        return cls.from_json(json.dumps(doc), precision, name)

    # ---- what it holds ----

    @property
    def precision(self):
        return self.lib.precision

    @property
    def dtype(self):
        """numpy's dtype of this precision (float32 or float64)."""
        return self.lib.dtype

    def _node_id(self, i):
        info = self.lib.ffi.new("trl_node_info *")
        self.lib.graph_node(self.ptr, i, info)
        return self.lib.string(info.id)

    def _node(self, i):
        lib = self.lib
        n = lib.ffi.new("trl_node_info *")
        lib.graph_node(self.ptr, i, n)
        params = {}
        k_param = lib.ffi.new("trl_node_param *")
        for k in range(lib.graph_node_param_count(self.ptr, i)):
            lib.graph_node_param(self.ptr, i, k, k_param)
            t = lib.string(k_param.type)
            v = k_param.value
            params[lib.string(k_param.name)] = (lib.string(k_param.text) if t == "activation"
                                                else bool(v) if t == "bool" else v)
        return {"id": lib.string(n.id), "op": lib.string(n.op), "size": n.size,
                "state": [s for s in lib.string(n.state_names).split(",") if s],
                "is_input": bool(n.is_input), "spiking": bool(n.spiking),
                "is_output": bool(n.is_output), "n_inputs": n.n_inputs, "params": params}

    def _param(self, i):
        lib = self.lib
        p = lib.ffi.new("trl_param_info *")
        lib.graph_param(self.ptr, i, p)
        return {"name": lib.string(p.name), "node": self._node_id(p.node), "edge": p.edge,
                "shape": (p.rows, p.cols) if p.ndim == 2 else (p.rows,),
                "offset": p.offset, "count": p.count, "trainable": bool(p.trainable)}

    def _feedback(self, e):
        """The feedback matrix an edge may have (SPEC 6.3): {name, shape, edge}."""
        name = "%s.fb.%s" % (e["to"], e["from"]) + (".d%d" % e["delay"] if e["delay"] else "")
        return {"name": name, "shape": self.param_infos[self.param_index[e["param"]]]["shape"],
                "param": e["param"]}

    def node(self, id):
        """The node of that id: {id, op, size, state, params, ...}."""
        for n in self.nodes:
            if n["id"] == id:
                return n
        raise Error("%s: no node %r%s" % (self.file, id, _suggest(id, [n["id"] for n in
                                                                        self.nodes])))

    def edges(self):
        """Every edge: {from, to, delay, no_self, trainable, gain, param}."""
        lib, out = self.lib, []
        e = lib.ffi.new("trl_edge_info *")
        i = 0
        while lib.graph_edge(self.get(), i, e) == 0:
            out.append({"from": self.nodes[e.src]["id"], "to": self.nodes[e.dst]["id"],
                        "delay": e.delay, "no_self": bool(e.no_self),
                        "trainable": bool(e.trainable), "gain": e.gain,
                        "param": self.param_infos[e.param]["name"]})
            i += 1
        return out

    def suggest_param(self, name):
        return _suggest(name, list(self.param_index) + list(self.feedback_index))

    # ---- validate, init ----

    def validate(self):
        """validate's report as a dict (the JSON of `trellis validate --json`):
        the schedule, the parameter count, and the memory and multiply-adds
        per sample of every algorithm."""
        return json.loads(self.report(json=True))

    def report(self, json=False):
        """validate's report as text (or its JSON text)."""
        lib = self.lib
        text = lib.ffi.new("char **")
        lib.call("graph_report", self.get(), 1 if json else 0, text)
        try:
            return lib.string(text[0])
        finally:
            lib.string_free(text[0])

    def init(self, seed=0, feedback=None):
        """{name: array} for every parameter tensor (SPEC sections 1, 3):
        weights ~ Normal(0, gain^2 / from.size), no_self diagonals 0, biases
        0; the same values as `trellis init --seed SEED`. feedback="random"
        (SPEC 6.3) also draws a feedback matrix "n.fb.s[.dD]" for every edge
        whose source is not an input, as `trellis init --feedback random`
        does: pass the dict to grad(feedback="random") or to training with
        feedback "random" or "adaptive"."""
        _choice("feedback", feedback, (None, "symmetric", "random"))
        with Params(self) as p:
            self.lib.call("params_init", p.get(), int(seed))
            if feedback == "random":
                self.lib.call("params_init_feedback", p.get(), int(seed))
            return p.to_dict()

    def params(self, params):
        """A Params (the library's handle) for {name: array} or a parameter
        file, checked once: pass it to run, grad, evaluate and compare many
        times without converting again."""
        if isinstance(params, Params):
            return params
        return params_of(self, params)

    def load_params(self, path):
        """A parameter file, checked against the graph: {name: array}."""
        with params_of(self, path) as p:
            return p.to_dict()

    def save_params(self, params, path):
        """Writes every parameter tensor as the library does, atomically."""
        with params_of(self, params) as p:
            self.lib.call("params_save", p.get(), os.fsencode(path))

    # ---- data ----

    def data(self, data, target=False):
        """A Data (the library's handle) for a dict of arrays (borrowed, not
        copied: keep them unchanged while it is used) or a data file; pass it
        to run, grad, evaluate and compare many times without re-checking.
        target=True: a file must hold a target."""
        if isinstance(data, Data):
            return data
        return data_of(self, data, _lib._cdefs.DATA_TARGET if target else 0)

    def load_data(self, path, target=False):
        """A data file checked against the graph (SPEC section 4): {name: array}."""
        with self.data(path, target) as d:
            return d.arrays(self.inputs + ["target", "mask"])

    def task_data(self, task, seed=0, split="train", iteration=0, batch=None):
        """A built-in task's batch for this graph (`trellis data TASK`):
        {input id, "target", "mask": array}; training batch `iteration`, or
        the validation set with split="val"."""
        lib = self.lib
        if batch is None:
            batch = task_info(task, lib)["batch"]
        ptr = new_handle(lib, "trl_data *", "data_task", self.get(), task.encode(), int(seed),
                         _choice("split", split, SPLITS), int(iteration), int(batch))
        with Data(self, ptr=ptr) as d:
            return d.arrays(self.inputs + ["target", "mask"])

    def random_data(self, batch, steps, seed=0, spiking=None, rate_hz=20.0):
        """Random data of the right shapes (`trellis data random`): inputs in
        spiking (a list of ids) get Bernoulli spikes at rate_hz, the others
        Normal(0, 1); a target when the graph has a loss."""
        lib = self.lib
        opts = lib.ffi.new("trl_random_data *")
        opts.B, opts.T, opts.seed, opts.rate_hz = int(batch), int(steps), int(seed), rate_hz
        ids = lib.ffi.new("char[]", ",".join(spiking).encode()) if spiking else lib.ffi.NULL
        opts.spiking = ids
        with Data(self, ptr=new_handle(lib, "trl_data *", "data_random", self.get(),
                                       opts)) as d:
            return d.arrays(self.inputs + ["target", "mask"])

    def shd_data(self, h5_path, dt_ms, steps, classes=0, loss_steps=0, offset=0, limit=0):
        """Samples of a Spiking Heidelberg Digits (or SSC) HDF5 file as data
        of this graph (one input node of size 700): ({input id, "target",
        "mask": array}, info), info as trellis.shd_convert's; the options
        as trellis.shd_convert's."""
        from .shd import shd_data
        return shd_data(self, h5_path, dt_ms, steps, classes, loss_steps, offset, limit)

    # ---- run, grad, evaluate ----

    def run(self, params, data, states=False, threads=0):
        """A forward pass: {output id: z [B, T, size]} and "loss" (a float)
        when the graph has a loss and the data a target. states=True adds
        every node's state variables after each step, "ID.NAME" [B, T, size]
        ("lif.v", "alif.a"; the names are in node(id)["state"])."""
        lib = self.lib
        o = lib.ffi.new("trl_run_opts *")
        o.states, o.threads = 1 if states else 0, int(threads)
        with params_of(self, params) as p, data_of(self, data) as d:
            return result_dict(lib, new_handle(lib, "trl_result *", "run_with", self.get(),
                                               p.get(), d.get(), o))

    def grad_opts(self, algo="eprop", engine=None, order=1, feedback="symmetric", threads=0,
                  check=True):
        """A trl_grad_opts (cffi struct) of these options, checked by the
        library (check=False: left to the trainer, which also takes
        feedback="adaptive")."""
        lib = self.lib
        o = lib.ffi.new("trl_grad_opts *")
        o.algo = _choice("algo", algo, ALGOS)
        o.engine = max(0, _choice("engine", engine, ENGINES) - 1)
        o.order = int(order)
        o.feedback = _choice("feedback", feedback, FEEDBACK)
        o.threads = int(threads)
        if check:
            lib.call("grad_check", o)
        return o

    def grad(self, params, data, algo="eprop", engine=None, order=1, feedback="symmetric",
             cotangent=None, input_grads=False, threads=0):
        """dL/dtheta by algo ("bptt", "rtrl" or "eprop"; engine "online" or
        "reverse" for eprop; order: m-order e-prop, SPEC 6.2, 1 for deep
        e-prop; feedback: SPEC 6.3, "symmetric" or "random", which uses the
        feedback matrices of params, from init(feedback="random")):
        {trainable name: array} and "loss" (a float).

        cotangent={output id: dL/dy [B, T, size]} gives the gradient of a loss
        computed outside (SPEC 6.4): then the graph needs no loss and the data
        no target, and "loss" is the sum of cotangent * y. input_grads=True
        adds dL/dx for every input id."""
        lib = self.lib
        o = self.grad_opts(algo, engine, order, feedback, threads)
        cot = None
        if cotangent is not None:
            cot = TensorList(lib, {k: as_real(lib, k, v, ndim=(3,))
                                   for k, v in cotangent.items()})
            o.cotangent, o.n_cotangent = cot.c, cot.n
        o.input_grads = 1 if input_grads else 0
        with params_of(self, params) as p, data_of(self, data) as d:
            need_feedback(self, p, feedback)
            out = result_dict(lib, new_handle(lib, "trl_result *", "grad", self.get(), p.get(),
                                              d.get(), o))
        return out

    def evaluate(self, params, data):
        """{"loss", "accuracy" (cross_entropy, else NaN), "nmse" (mse, else
        NaN)} of the parameters on data with a target."""
        lib = self.lib
        ev = lib.ffi.new("trl_eval *")
        with params_of(self, params) as p, data_of(self, data) as d:
            lib.call("evaluate", self.get(), p.get(), d.get(), ev)
        return {"loss": ev.loss, "accuracy": ev.accuracy, "nmse": ev.nmse}

    def compare(self, params, data, algos=("eprop",)):
        """Each algorithm against bptt (`trellis compare`). algos: names, or
        dicts of grad's options ({"algo": "eprop", "engine": "reverse"}).
        Returns {"algos": [label...], "cost": {label: {...}}, "tensor",
        "node", "depth": [items], "total": item}, where an item holds name,
        node, depth, count and, per algorithm label, cosine, rel_err,
        norm_ratio, sign_agree, norm, norm_exact."""
        from .study import compare
        return compare(self, params, data, algos)

    # ---- training ----

    def trainer(self, params, **config):
        """A Trainer for a copy of params (see trellis.Trainer)."""
        from .train import Trainer
        return Trainer(self, params, **config)

    def train(self, params, callback=None, progress=None, **config):
        """Trains a copy of params and returns it ({name: array}); config as
        trellis.Trainer's, callback(metrics) after every iteration (return
        False to stop), progress: a progress line (None: in a terminal or a
        notebook)."""
        with self.trainer(params, **config) as t:
            t.run(callback, progress=progress)
            return t.params()

    def __repr__(self):
        return "<trellis.Graph %r (%s): %d nodes, %d parameter tensors, %s>" % (
            self.name or self.file, self.file, len(self.nodes), len(self.param_infos),
            self.precision)


def need_feedback(graph, p, feedback):
    """Random and adaptive feedback read the feedback matrices of p: an
    Error saying how to draw them when p holds none."""
    if feedback in ("random", "adaptive") and not p.feedback_count():
        raise Error('%s: %s feedback needs feedback matrices (n.fb.s, n.fb.s.dD) in the '
                    'parameters and they hold none; draw them with g.init(seed, '
                    'feedback="random") or load a file of `trellis init --feedback random`'
                    % (graph.file, feedback))


def _suggest(name, known):
    close = difflib.get_close_matches(name, known, 1)
    return "; did you mean %r?" % close[0] if close else ""


def task_info(name, lib=None):
    """A built-in task: {name, doc, model, params, T, n_in, K, loss, batch}."""
    lib = lib or _lib.load()
    i = lib.task_find(name.encode())
    if i < 0:
        raise Error("unknown task %r; the tasks are %s" % (name, ", ".join(tasks(lib))))
    t = lib.ffi.new("trl_task_info *")
    lib.task_get(i, t)
    return {"name": lib.string(t.name), "doc": lib.string(t.doc), "model": lib.string(t.model),
            "params": lib.string(t.params), "T": t.T, "n_in": t.n_in, "K": t.K,
            "loss": lib.string(t.loss), "batch": t.batch}


def tasks(lib=None):
    """The names of the built-in tasks."""
    lib = lib or _lib.load()
    t = lib.ffi.new("trl_task_info *")
    out = []
    for i in range(lib.task_count()):
        lib.task_get(i, t)
        out.append(lib.string(t.name))
    return out

