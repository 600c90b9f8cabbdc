"""trellis.torch.Module: backward gives the chosen algorithm's gradient of
any torch loss (SPEC 6.4's cotangent path), into the parameters' and the
inputs' .grad; torch.optim trains a graph with e-prop."""
import numpy as np
import pytest

import trellis
from conftest import CASES, SMOOTH, fixture, rel

torch = pytest.importorskip("torch")
import trellis.torch as tt  # noqa: E402


def torch_loss(g, y, d):
    """The graph's own loss (SPEC section 5), written in torch."""
    t = torch.from_numpy(d["target"])
    mask = torch.from_numpy(d["mask"]) if "mask" in d else torch.ones(t.shape[:2],
                                                                      dtype=t.dtype)
    if g.loss["type"] == "mse":
        per_step = 0.5 * ((y - t) ** 2).sum(-1)
    else:
        per_step = -(t * torch.log_softmax(y, -1)).sum(-1)
    return (mask * per_step).sum() / y.shape[0]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("algo,engine", [("bptt", None), ("rtrl", None), ("eprop", "online"),
                                         ("eprop", "reverse")])
def test_backward_of_the_graphs_loss_is_grad(case, algo, engine):
    g = trellis.Graph.load(fixture(case, "graph.json"), "float64")
    p = trellis.load_safetensors(fixture(case, "params.safetensors"))
    d = trellis.load_safetensors(fixture(case, "data.safetensors"))
    m = tt.Module(g, params=p, algo=algo, engine=engine)
    x = {k: torch.from_numpy(d[k]) for k in g.inputs}
    y = m(x)
    loss = torch_loss(g, y[g.loss["node"]], d)
    loss.backward()
    ref = g.grad(p, d, algo=algo, engine=engine)
    assert loss.item() == pytest.approx(ref["loss"], rel=1e-12)
    for info in g.param_infos:
        grad = m.param(info["name"]).grad
        if info["trainable"]:
            assert grad.dtype == torch.float64
            assert rel(grad.numpy(), ref[info["name"]]) <= 1e-10, info["name"]
        else:
            assert grad is None and not m.param(info["name"]).requires_grad


def test_bptt_through_torch_matches_finite_differences():
    """A nonlinear torch loss of the outputs, on a smooth graph: the bridge's
    bptt gradient for parameters and inputs is the derivative of the loss."""
    g = trellis.Graph.from_dict(SMOOTH, "float64")
    m = tt.Module(g, params=g.init(seed=4), algo="bptt")
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 15, 3)))
    x.requires_grad_(True)

    def loss_of(x):
        y = m({"in": x})["out"]
        return (torch.sin(3 * y) * torch.linspace(0, 1, 15, dtype=y.dtype)[:, None]).sum() + \
            (y[:, -1] ** 2).mean()
    loss = loss_of(x)
    loss.backward()
    h = 1e-6
    with torch.no_grad():
        for name in ("h.w.in", "h.w.h.d1", "d.b", "out.w.h"):
            w = m.param(name)
            k = (1, 2) if w.dim() == 2 else (1,)
            w[k] += h
            up = loss_of(x).item()
            w[k] -= 2 * h
            dn = loss_of(x).item()
            w[k] += h
            assert w.grad[k].item() == pytest.approx((up - dn) / (2 * h), rel=1e-6, abs=1e-8)
        for k in ((0, 0, 0), (1, 7, 2), (0, 14, 1)):
            up, dn = x.detach().clone(), x.detach().clone()
            up[k] += h
            dn[k] -= h
            fd = (loss_of(up).item() - loss_of(dn).item()) / (2 * h)
            assert x.grad[k].item() == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_an_output_the_loss_does_not_use():
    g = trellis.Graph.from_dict(dict(SMOOTH, outputs=["h", "out"]), "float64")
    p = g.init(seed=1)
    m = tt.Module(g, params=p, algo="eprop")
    x = np.random.default_rng(2).standard_normal((2, 9, 3))
    y = m({"in": torch.from_numpy(x)})
    assert sorted(y) == ["h", "out"]
    y["out"].sum().backward()
    ref = g.grad(p, {"in": x}, algo="eprop", cotangent={"out": np.ones((2, 9, 2))})
    for k in g.trainable:
        assert rel(m.param(k).grad.numpy(), ref[k]) <= 1e-12, k


def test_float32_and_errors():
    g = trellis.Graph.load("models/lsnn.json")  # float32
    m = tt.Module(g, params=g.init(seed=1))
    assert all(t.dtype == torch.float32 for t in m.parameters())
    x = torch.zeros(2, 30, 40)
    y = m({"in": x})["out"]
    assert y.shape == (2, 30, 2) and y.dtype == torch.float32
    (y * 0).sum().backward()
    assert all(float(t.grad.abs().max()) == 0 for t in m.parameters())
    with pytest.raises(trellis.Error, match="lif.w.inn: not a parameter .*'lif.w.in'"):
        m.param("lif.w.inn")
    with pytest.raises(trellis.Error, match="the engine can be chosen for eprop only"):
        tt.Module(g, algo="bptt", engine="online")


def test_adam_trains_an_lsnn_with_eprop():
    g = trellis.Graph.load("models/evidence.json")
    m = tt.Module(g, params=g.init(seed=1), algo="eprop")
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    losses = []
    for it in range(16):
        d = g.task_data("evidence", seed=1, iteration=it, batch=16)
        loss = torch_loss(g, m({"in": torch.from_numpy(d["in"])})["out"], d)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:3]), losses


def test_float32_backward_is_grad():
    """In float32 torch's dL/dy differs from the library's by rounding only:
    the gradient is linear in it."""
    g = trellis.Graph.load(fixture("ce_masked", "graph.json"))
    p = g.load_params(fixture("ce_masked", "params.safetensors"))
    d = g.load_data(fixture("ce_masked", "data.safetensors"))
    m = tt.Module(g, params=p, algo="eprop")
    loss = torch_loss(g, m({k: torch.from_numpy(d[k]) for k in g.inputs})[g.loss["node"]], d)
    loss.backward()
    ref = g.grad(p, d, algo="eprop")
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(ref["loss"], rel=1e-5)
    for k in g.trainable:
        assert rel(m.param(k).grad.numpy(), ref[k]) <= 1e-5, k


@pytest.mark.parametrize("engine", ["online", "reverse"])
@pytest.mark.parametrize("order,feedback", [(2, "symmetric"), (1, "random"), (3, "random")])
def test_backward_with_order_and_feedback_is_grad(order, feedback, engine):
    case = "alif_adaptation"
    g = trellis.Graph.load(fixture(case, "graph.json"), "float64")
    p = trellis.load_safetensors(fixture(case, "params_feedback.safetensors"))
    d = trellis.load_safetensors(fixture(case, "data.safetensors"))
    m = tt.Module(g, params=p, algo="eprop", engine=engine, order=order, feedback=feedback)
    assert sorted(m.params()) == sorted(p)  # the feedback matrices travel with the module
    w = torch.linspace(-1, 1, g.node("out")["size"], dtype=torch.float64)

    def any_loss(y):
        return (torch.tanh(y) * w).sum() + torch_loss(g, y, d)

    x = {k: torch.from_numpy(d[k]).requires_grad_() for k in g.inputs}
    y = m(x)["out"]
    any_loss(y).backward()
    y0 = y.detach().requires_grad_()
    cot = torch.autograd.grad(any_loss(y0), y0)[0].numpy()  # dL/dy, by torch
    ref = g.grad(p, d, algo="eprop", engine=engine, order=order, feedback=feedback,
                 cotangent={"out": cot}, input_grads=True)
    for k in g.trainable:
        assert rel(m.param(k).grad.numpy(), ref[k]) <= 1e-10, k
    assert rel(x["in"].grad.numpy(), ref["in"]) <= 1e-10
    deep = g.grad(p, d, algo="eprop", engine=engine, cotangent={"out": cot})
    assert max(rel(ref[k], deep[k]) for k in g.trainable) > 1e-6  # the options mattered


def test_random_feedback_module_draws_or_needs_matrices():
    g = trellis.Graph.load("models/lsnn.json", "float64")
    m = tt.Module(g, feedback="random", seed=4)
    assert any(".fb." in k for k in m.params())
    ref = g.init(seed=4, feedback="random")
    assert all(np.array_equal(m.params()[k], ref[k]) for k in ref)
    with pytest.raises(trellis.Error, match="feedback matrices"):
        tt.Module(g, params=g.init(seed=4), feedback="random")
