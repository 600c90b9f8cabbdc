"""trellis.Trainer: the library's trainer (trl_trainer) with a Python
callback after every iteration, checkpoints and resume (README, Training)."""
import math
import os
import sys
import time

from ._handles import Handle, new_handle, params_of
from ._lib import Error
from .graph import _choice, need_feedback

OPTIMIZERS = ("adam", "sgd")
# TRL_TRAIN_CONFIG_INIT's values (trellis.h), with grad's algorithm default
DEFAULTS = dict(algo="eprop", engine=None, order=1, feedback="symmetric", feedback_decay=0.0,
                threads=0,
                online=False, optimizer="adam", lr=3e-3, momentum=0.9, clip=0.0, iters=200,
                batch=32, seed=0, rate_target_hz=10.0, rate_weight=0.0, eval_every=25,
                checkpoint_every=0, checkpoint=None)


class Trainer(Handle):
    """Trains a copy of params in place of the library (Adam or SGD).

    Batches come from a built-in task (task="evidence", val_batch=N) or
    from data held in memory (data={...} or a data file, val=... optional);
    the batches are a function of (seed, iteration), so a run resumed from
    a checkpoint (resume=PATH, or resume(PATH)) continues exactly.
    Options (trl_train_config): algo, engine, order (m-order e-prop),
    feedback ("symmetric", "random" or "adaptive", SPEC 6.3: the last two
    use the feedback matrices of params, from g.init(feedback="random"),
    and adaptive moves them with the weights: fb <- fb + dW -
    feedback_decay * fb), feedback_decay, threads, online (update after
    every step), optimizer ("adam", "sgd"), lr, momentum, clip, iters,
    batch, seed, rate_target_hz, rate_weight, eval_every, checkpoint_every
    and checkpoint (the path). params() holds the feedback matrices too."""

    def __init__(self, graph, params, task=None, val_batch=0, data=None, val=None,
                 resume=None, **config):
        unknown = sorted(set(config) - set(DEFAULTS))
        if unknown:
            raise Error("unknown trainer options %s; the options are %s"
                        % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
        c = dict(DEFAULTS, **config)
        lib = graph.lib
        self.graph = graph
        self.config = c
        with params_of(graph, params) as p:  # a copy of its own: the trainer changes it
            self._params = params_of(graph, p.to_dict())
        cfg = lib.ffi.new("trl_train_config *")
        o = graph.grad_opts(c["algo"], c["engine"], c["order"], c["feedback"], c["threads"],
                            check=False)  # trl_trainer_new checks them, adaptive included
        cfg.grad = o[0]
        cfg.online = 1 if c["online"] else 0
        cfg.optimizer = _choice("optimizer", c["optimizer"], OPTIMIZERS)
        cfg.lr, cfg.momentum, cfg.clip = c["lr"], c["momentum"], c["clip"]
        cfg.iters, cfg.batch, cfg.seed = int(c["iters"]), int(c["batch"]), int(c["seed"])
        cfg.rate_target_hz, cfg.rate_weight = c["rate_target_hz"], c["rate_weight"]
        cfg.eval_every, cfg.checkpoint_every = int(c["eval_every"]), int(c["checkpoint_every"])
        cfg.feedback_decay = c["feedback_decay"]  # one process: shard, n_shards, reduce unset
        path = lib.ffi.new("char[]", os.fsencode(c["checkpoint"])) if c["checkpoint"] \
            else lib.ffi.NULL
        cfg.checkpoint_path = path
        ptr = new_handle(lib, "trl_trainer *", "trainer_new", graph.get(), self._params.get(),
                         cfg)
        super().__init__(lib, ptr, lib.trainer_free)
        self._keep = [graph, self._params]
        if task is not None:
            lib.call("trainer_set_task", ptr, task.encode(), int(val_batch))
        elif data is not None:
            self.set_data(data, val)
        if resume is not None:
            self.resume(resume)

    def set_data(self, data, val=None):
        """Batches drawn from data (a dict of arrays or a data file with a
        target), evaluated on val every eval_every iterations."""
        d = self.graph.data(data, target=True)
        v = self.graph.data(val, target=True) if val is not None else None
        self.lib.call("trainer_set_data", self.get(), d.get(), v.get() if v else self.lib.ffi.NULL)
        self._keep += [d, v]

    def resume(self, checkpoint):
        """Restores parameters, optimiser state and the next iteration."""
        self.lib.call("trainer_resume", self.get(), os.fsencode(checkpoint))

    def checkpoint(self, path):
        """Writes a checkpoint now (atomically)."""
        self.lib.call("trainer_checkpoint", self.get(), os.fsencode(path))

    @property
    def iteration(self):
        """The next iteration to run."""
        return self.lib.trainer_iteration(self.get())

    def params(self):
        """The parameters now: {name: array} (copies), feedback matrices included."""
        return self._params.to_dict()

    def run(self, callback=None, progress=None):
        """Trains to iters. callback(metrics) runs after every iteration with
        a dict (iter, iters, loss, reg_loss, accuracy, nmse, grad_norm,
        tensor_norm {name: norm}, rate_hz {node: Hz}, seconds, evaluated,
        val_loss, val_accuracy, val_nmse, checkpointed); returning False
        stops the run (the trainer writes its checkpoint when it has a path).
        An exception in the callback stops it and is raised here.
        progress: True, False, or None (shown in a terminal or a notebook).
        Returns "done" or "stopped"."""
        lib, graph = self.lib, self.graph
        need_feedback(graph, self._params, self.config["feedback"])
        show = Progress() if (progress or (progress is None and Progress.wanted())) else None
        raised = []
        names = [p["name"] for p in graph.param_infos]
        ids = [n["id"] for n in graph.nodes]

        def on_iteration(ctx, m):
            try:
                d = {k: getattr(m, k) for k in ("iter", "iters", "loss", "reg_loss", "accuracy",
                                                "nmse", "grad_norm", "seconds", "val_loss",
                                                "val_accuracy", "val_nmse")}
                d["evaluated"], d["checkpointed"] = bool(m.evaluated), bool(m.checkpointed)
                d["tensor_norm"] = {n: m.tensor_norm[i] for i, n in enumerate(names)}
                d["rate_hz"] = {n: m.rate_hz[i] for i, n in enumerate(ids)}
                if show:
                    show.update(d)
                return 1 if callback is not None and callback(d) is False else 0
            except BaseException as e:  # stop, and raise it once the library returned
                raised.append(e)
                return 1

        cb = lib.ffi.callback("int(void *, const trl_train_metrics *)", on_iteration)
        err = lib.error_new()
        try:
            status = lib.trainer_run(self.get(), cb, lib.ffi.NULL, err)
            if show:
                show.close()
            if raised:
                raise raised[0]
            if status not in (lib.lib.TRL_OK, lib.lib.TRL_STOPPED):
                raise lib.error(err)
            return "stopped" if status == lib.lib.TRL_STOPPED else "done"
        finally:
            lib.error_free(err)


class Progress:
    """One line of progress: rewritten in place in a terminal (stderr), a
    display updated in a notebook."""

    @staticmethod
    def in_notebook():
        ip = sys.modules.get("IPython")
        shell = ip.get_ipython() if ip and hasattr(ip, "get_ipython") else None
        return shell is not None and "IPKernelApp" in getattr(shell, "config", {})

    @classmethod
    def wanted(cls):
        return cls.in_notebook() or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())

    def __init__(self):
        self.handle = None
        if self.in_notebook():
            from IPython.display import display
            self.handle = display("", display_id=True)
        self.last = 0.0
        self.text = ""

    @staticmethod
    def line(m):
        parts = ["iter %d/%d" % (m["iter"] + 1, m["iters"]), "loss %.4g" % m["loss"]]
        for key, label in (("accuracy", "acc %.3f"), ("nmse", "nmse %.3g")):
            if not math.isnan(m[key]):
                parts.append(label % m[key])
        if m["evaluated"]:
            parts.append("val loss %.4g" % m["val_loss"])
            if not math.isnan(m["val_accuracy"]):
                parts.append("val acc %.3f" % m["val_accuracy"])
        parts.append("%.1f s" % m["seconds"])
        return "  ".join(parts)

    def update(self, m):
        self.text = self.line(m)
        now = time.monotonic()
        if now - self.last < 0.1 and m["iter"] + 1 < m["iters"]:
            return
        self.last = now
        if self.handle is not None:
            self.handle.update(self.text)
        else:
            sys.stderr.write("\r\x1b[K" + self.text)
            sys.stderr.flush()

    def close(self):
        if self.handle is not None:
            self.handle.update(self.text)
        elif self.text:
            sys.stderr.write("\r\x1b[K" + self.text + "\n")
            sys.stderr.flush()
