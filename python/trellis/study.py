"""Graph.compare: each algorithm's gradient against bptt (trl_compare;
README, Studying credit assignment)."""
from ._cdefs import COMPARE_MAX
from ._handles import Handle, data_of, new_handle, params_of
from ._lib import Error

GROUPS = ("tensor", "node", "depth", "total")
METRICS = ("cosine", "rel_err", "norm_ratio", "sign_agree", "norm", "norm_exact")


def compare(graph, params, data, algos):
    lib = graph.lib
    if isinstance(algos, (str, dict)):
        algos = [algos]
    if not 1 <= len(algos) <= COMPARE_MAX:
        raise Error("compare takes 1 to %d algorithms besides bptt (got %d)"
                    % (COMPARE_MAX, len(algos)))
    opts = lib.ffi.new("trl_grad_opts[]", len(algos))
    for k, a in enumerate(algos):
        o = graph.grad_opts(**({"algo": a} if isinstance(a, str) else a))
        opts[k] = o[0]
    labels = [lib.string(lib.grad_label(opts + k)) for k in range(len(algos))]
    with params_of(graph, params) as p, data_of(graph, data, 1) as d:
        c = Handle(lib, new_handle(lib, "trl_compare *", "compare_new", graph.get(), p.get(),
                                   d.get(), opts, len(algos)), lib.compare_free, (graph,))
    with c:
        out = {"algos": labels, "cost": {}}
        for k, label in [(-1, "bptt")] + list(enumerate(labels)):
            cost = lib.compare_cost_of(c.ptr, k)
            out["cost"][label] = {"seconds": cost.seconds, "trace_bytes": cost.trace_bytes,
                                  "history_bytes": cost.history_bytes, "loss": cost.loss}
        for g, group in enumerate(GROUPS):
            items = []
            for i in range(lib.compare_count(c.ptr, g)):
                it = lib.compare_item_at(c.ptr, g, i)
                item = {"name": lib.string(it.name),
                        "node": graph.nodes[it.node]["id"] if it.node >= 0 else None,
                        "depth": it.depth, "delayed_only": bool(it.delayed_only),
                        "n_tensors": it.n_tensors, "count": it.count}
                for k, label in enumerate(labels):
                    item[label] = {m: getattr(it.m[k], m) for m in METRICS}
                items.append(item)
            out[group] = items[0] if group == "total" else items
        out["mean_z"] = {n["id"]: lib.compare_mean_z(c.ptr, i)
                         for i, n in enumerate(graph.nodes)}
    return out
