"""trellis.torch: a trellis graph as a torch.nn.Module (SPEC section 9).

    m = trellis.torch.Module(g, params=p, algo="eprop")
    y = m({"in": x})                       # {output id: tensor [B, T, size]}
    loss = torch_loss(y["out"]); loss.backward()

forward runs the graph in the library (trl_run); backward hands dL/dy, the
gradient torch computed for each output, to trl_grad as a cotangent (SPEC
6.4) and gets back the chosen algorithm's gradient of that loss for every
trainable tensor, and dL/dx for the inputs that require grad. Nothing of
the forward pass is kept for backward but the inputs and the parameters
(the algorithm recomputes what it needs: bptt its history, e-prop and rtrl
their traces, online). Tensors live on the CPU, in the graph's dtype.
"""
import numpy as np
import torch

from ._handles import data_of, params_of
from ._lib import Error

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _numpy(t, dtype, name):
    if t.device.type != "cpu":
        raise Error("%s: trellis computes on the CPU; move the tensor there (got %s)"
                    % (name, t.device))
    return np.ascontiguousarray(t.detach().to(dtype).numpy())


class _Graph(torch.autograd.Function):
    """y = graph(x; theta); backward by the module's algorithm."""

    @staticmethod
    def forward(ctx, module, input_ids, *tensors):
        g, dtype = module.graph, module.dtype
        xs, ps = tensors[:len(input_ids)], tensors[len(input_ids):]
        arrays = {k: _numpy(x, dtype, k) for k, x in zip(input_ids, xs)}
        values = {n: _numpy(p, dtype, n) for n, p in zip(module.names, ps)}
        params = params_of(g, dict(values, **module.feedback_matrices))
        data = data_of(g, arrays)
        out = g.run(params, data)
        ctx.state = (module, params, data, input_ids, [x.dtype for x in xs])
        ctx.set_materialize_grads(False)  # an output the loss does not use gets no cotangent
        return tuple(torch.from_numpy(out[k]) for k in g.outputs)

    @staticmethod
    def backward(ctx, *grad_y):
        module, params, data, input_ids, x_dtypes = ctx.state
        g = module.graph
        want_x = any(ctx.needs_input_grad[2:2 + len(input_ids)])
        cot = {k: _numpy(gy, module.dtype, k) for k, gy in zip(g.outputs, grad_y)
               if gy is not None}
        if not cot:
            return (None,) * (2 + len(input_ids) + len(module.names))
        gr = g.grad(params, data, algo=module.algo, engine=module.engine, order=module.order,
                    feedback=module.feedback, cotangent=cot, input_grads=want_x,
                    threads=module.threads)
        ctx.state = None
        grads = [None, None]
        grads += [torch.from_numpy(gr[k]).to(dt) if want_x and k in gr else None
                  for k, dt in zip(input_ids, x_dtypes)]
        grads += [torch.from_numpy(gr[n]) if n in gr else None for n in module.names]
        return tuple(grads)


class Module(torch.nn.Module):
    """The graph g as a module whose parameters are the graph's tensors.

    params: {name: array} (default g.init(seed), with feedback matrices
    when feedback is "random"); algo, engine, order (m-order e-prop),
    feedback ("symmetric" or "random": the feedback matrices n.fb.s of
    params, kept fixed in m.feedback_matrices): the gradient backward
    computes (Graph.grad's options); threads: per call (0: the process
    default). m.param(name) is the Parameter of a SPEC name ("lif.w.in");
    frozen edges' tensors are Parameters that do not require grad.
    m.parameters() is what an optimiser takes; m.params() gives
    {name: array} back (feedback matrices included) for g.run, g.grad or
    save_safetensors."""

    def __init__(self, g, params=None, algo="eprop", engine=None, order=1,
                 feedback="symmetric", threads=0, seed=0):
        super().__init__()
        g.grad_opts(algo, engine, order, feedback, threads)  # checks them now
        self.graph, self.algo, self.engine, self.order = g, algo, engine, order
        self.feedback, self.threads = feedback, threads
        self.dtype = _DTYPES[g.precision]
        if params is None:
            params = g.init(seed=seed, feedback="random" if feedback == "random" else None)
        with params_of(g, params) as p:  # checked by the library: names, shapes, values
            if feedback == "random" and not p.feedback_count():
                raise Error('feedback="random" needs feedback matrices (n.fb.s) in params: '
                            'draw them with g.init(seed, feedback="random")')
            values = p.to_dict()
        self.names = [i["name"] for i in g.param_infos]
        self.feedback_matrices = {k: v for k, v in values.items() if k in g.feedback_index}
        self._index = {n: k for k, n in enumerate(self.names)}
        self.tensors = torch.nn.ParameterList(
            torch.nn.Parameter(torch.from_numpy(values[i["name"]]),
                               requires_grad=i["trainable"]) for i in g.param_infos)

    def param(self, name):
        """The torch.nn.Parameter of the tensor of that SPEC name."""
        if name not in self._index:
            raise Error("%s: not a parameter of the graph%s"
                        % (name, self.graph.suggest_param(name)))
        return self.tensors[self._index[name]]

    def params(self):
        """{name: array}: copies of the parameters now, and the feedback matrices."""
        out = {n: t.detach().numpy().copy() for n, t in zip(self.names, self.tensors)}
        out.update((k, v.copy()) for k, v in self.feedback_matrices.items())
        return out

    def forward(self, inputs):
        """inputs {input id: tensor [B, T, size]} -> {output id: tensor}."""
        if not isinstance(inputs, dict):
            raise Error("the module takes a dict {input id: tensor [B, T, size]} (ids: %s)"
                        % ", ".join(self.graph.inputs))
        ids = tuple(inputs)
        ys = _Graph.apply(self, ids, *[inputs[k] for k in ids], *self.tensors)
        return dict(zip(self.graph.outputs, ys))

    def extra_repr(self):
        return "%r, algo=%r, engine=%r, order=%d, feedback=%r" % (
            self.graph.name or self.graph.file, self.algo, self.engine, self.order,
            self.feedback)
