"""m-order e-prop, random and adaptive feedback (SPEC 6.2, 6.3), run states
and the SHD reader through the Python package: against bptt, symmetric
feedback, the reference fixtures, bin/trellis-f64's files and the C run."""
import os
import subprocess

import numpy as np
import pytest

import trellis
from conftest import CASES, ROOT, cli, fixture, rel

ORDERED = [c for c in CASES if os.path.exists(fixture(c, "grad_eprop_order2.safetensors"))]


def load(case):
    g = trellis.Graph.load(fixture(case, "graph.json"), "float64")
    return g, trellis.load_safetensors(fixture(case, "params.safetensors")), \
        trellis.load_safetensors(fixture(case, "data.safetensors"))


def test_the_fixtures_have_orders_and_feedback():
    assert len(ORDERED) >= 3


@pytest.mark.parametrize("case", ORDERED)
def test_orders_and_random_feedback_meet_the_fixtures(case):
    g, p, d = load(case)
    pf = trellis.load_safetensors(fixture(case, "params_feedback.safetensors"))
    assert any(".fb." in k for k in pf)
    for engine in ("online", "reverse"):
        for order in (2, 3):
            gr = g.grad(p, d, algo="eprop", engine=engine, order=order)
            ref = trellis.load_safetensors(fixture(case, "grad_eprop_order%d.safetensors"
                                                   % order))
            for k in g.trainable:
                assert rel(gr[k], ref[k]) <= 1e-6, (engine, order, k)
        gr = g.grad(pf, d, algo="eprop", engine=engine, feedback="random")
        ref = trellis.load_safetensors(fixture(case, "grad_eprop_feedback.safetensors"))
        assert all(rel(gr[k], ref[k]) <= 1e-6 for k in g.trainable), engine
    gr = g.grad(pf, d, algo="bptt", feedback="random")
    ref = trellis.load_safetensors(fixture(case, "grad_exact_feedback.safetensors"))
    assert all(rel(gr[k], ref[k]) <= 1e-6 for k in g.trainable)


@pytest.mark.parametrize("engine", ["online", "reverse"])
def test_order_of_at_least_T_is_bptt(engine):
    g, p, d = load("alif_adaptation")
    T = d["target"].shape[1]
    exact = g.grad(p, d, algo="bptt")
    deep = g.grad(p, d, algo="eprop", engine=engine, order=1)
    for order in (T, T + 5):
        gr = g.grad(p, d, algo="eprop", engine=engine, order=order)
        assert gr["loss"] == pytest.approx(exact["loss"], rel=1e-12)
        for k in g.trainable:
            assert rel(gr[k], exact[k]) <= 1e-9, (order, k)
    assert max(rel(deep[k], exact[k]) for k in g.trainable) > 1e-3  # order matters here


def test_random_feedback_equal_to_the_weights_is_symmetric():
    g, p, d = load("alif_adaptation")
    fb = dict(p)
    for f in g.feedback_infos:
        fb[f["name"]] = p[f["param"]]  # fb = W for every edge
    assert len(fb) > len(p)
    for algo, engine in (("bptt", None), ("eprop", "online"), ("eprop", "reverse")):
        for order in ((1, 2) if algo == "eprop" else (1,)):
            sym = g.grad(p, d, algo=algo, engine=engine, order=order)
            rnd = g.grad(fb, d, algo=algo, engine=engine, order=order, feedback="random")
            for k in g.trainable:
                assert rel(rnd[k], sym[k]) <= 1e-12, (algo, engine, order, k)
    drawn = g.init(seed=3, feedback="random")
    drawn.update((k, v) for k, v in p.items())
    assert max(rel(g.grad(drawn, d, feedback="random")[k], g.grad(p, d)[k])
               for k in g.trainable) > 1e-3


def test_random_feedback_needs_matrices():
    g, p, d = load("alif_adaptation")
    with pytest.raises(trellis.Error, match=r'random feedback needs .*feedback="random"'):
        g.grad(p, d, feedback="random")
    with pytest.raises(trellis.Error, match="feedback must be one of"):
        g.init(seed=1, feedback="adaptive")
    with pytest.raises(trellis.Error, match="not a parameter or feedback matrix"):
        g.grad(dict(p, **{"lif.fb.nowhere": np.zeros((2, 2))}), d)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_init_feedback_writes_the_clis_bytes(precision, tmp_path):
    cli(precision, "init", "models/lsnn.json", "--seed", 5, "--feedback", "random", "-o",
        tmp_path / "cli.st")
    g = trellis.Graph.load("models/lsnn.json", precision)
    p = g.init(seed=5, feedback="random")
    names = [f["name"] for f in g.feedback_infos if f["name"] in p]
    assert names == ["lif.fb.lif.d1", "lif.fb.alif.d1", "alif.fb.lif.d1", "alif.fb.alif.d1",
                     "out.fb.lif", "out.fb.alif"]  # every edge from a non-input node
    assert np.all(np.diag(p["lif.fb.lif.d1"]) == 0)  # no_self, as its weights
    assert not np.array_equal(p["out.fb.lif"], p["out.w.lif"])
    g.save_params(p, tmp_path / "lib.st")
    with open(tmp_path / "cli.st", "rb") as a, open(tmp_path / "lib.st", "rb") as b:
        assert a.read() == b.read()
    back = g.load_params(tmp_path / "cli.st")
    assert sorted(back) == sorted(p) and all(np.array_equal(back[k], p[k]) for k in p)
    assert sorted(g.init(seed=5)) == sorted(i["name"] for i in g.param_infos)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_run_states_are_the_clis(precision, tmp_path):
    case = "alif_adaptation"
    graph, params, data = (fixture(case, f) for f in
                           ("graph.json", "params.safetensors", "data.safetensors"))
    g = trellis.Graph.load(graph, precision)
    p, d = trellis.load_safetensors(params), trellis.load_safetensors(data)
    out = g.run(p, d, states=True)
    B, T = d["target"].shape[:2]
    names = ["%s.%s" % (n["id"], s) for n in g.nodes for s in n["state"]]
    assert names == ["lif.v", "alif.v", "alif.a", "out.y"]
    assert list(out) == g.outputs + names + ["loss"]
    for n in g.nodes:
        for s in n["state"]:
            assert out["%s.%s" % (n["id"], s)].shape == (B, T, n["size"])
    cli(precision, "run", graph, "--params", params, "--data", data, "--states", "-o",
        tmp_path / "r.st")
    ref = trellis.load_safetensors(tmp_path / "r.st")
    v = out["alif.a"][B - 1, T // 2, 0]
    assert ref["alif.a"][B - 1, T // 2, 0] == v and v != 0  # one value, bit for bit
    assert all(np.array_equal(ref[k], out[k]) for k in names)
    plain = g.run(p, d)
    assert list(plain) == g.outputs + ["loss"] and np.array_equal(plain[g.outputs[0]],
                                                                   out[g.outputs[0]])


def test_adaptive_feedback_trains_and_moves_the_matrices():
    g = trellis.Graph.load("models/lsnn.json", "float64")
    p = g.init(seed=2, feedback="random")
    d = g.task_data("evidence", batch=4)
    common = dict(data=d, iters=3, batch=4, lr=1e-2, eval_every=0, progress=False)
    for fb, decay in (("adaptive", 0.1), ("random", 0.0)):
        losses = []
        q = g.train(p, callback=lambda m: losses.append(m["loss"]), algo="eprop",
                    feedback=fb, feedback_decay=decay, **common)
        assert len(losses) == 3 and all(np.isfinite(losses))
        fbs = [f["name"] for f in g.feedback_infos if f["name"] in p]
        assert sorted(q) == sorted(p)
        moved = [k for k in fbs if not np.array_equal(q[k], p[k])]
        assert moved == (fbs if fb == "adaptive" else []), fb
        assert not np.array_equal(q["lif.w.in"], p["lif.w.in"])
    with pytest.raises(trellis.Error, match=r'adaptive feedback needs .*feedback="random"'):
        g.train(g.init(seed=2), algo="eprop", feedback="adaptive", **common)
    with pytest.raises(trellis.Error, match="adaptive"):
        g.train(p, algo="eprop", feedback="random", feedback_decay=0.5, **common)


def test_shd_reader_is_the_clis(tmp_path):
    h5 = tmp_path / "s.h5"
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "shd_synth.py"), str(h5),
                    "--samples", "5", "--classes", "20"], check=True, capture_output=True)
    info = trellis.shd_convert(h5, tmp_path / "py.st", dt_ms=10, steps=80, classes=20,
                               loss_steps=10, limit=4)
    assert info["B"] == 4 and info["T"] == 80 and info["file_samples"] == 5
    assert info["spikes"] > 0 and info["classes"] == 20
    cli("float32", "data", "shd", h5, "--dt", 10, "--steps", 80, "--classes", 20,
        "--loss-steps", 10, "--limit", 4, "-o", tmp_path / "cli.st")
    with open(tmp_path / "py.st", "rb") as a, open(tmp_path / "cli.st", "rb") as b:
        assert a.read() == b.read()
    g = trellis.Graph.load("models/shd.json")
    d, info2 = g.shd_data(h5, dt_ms=10, steps=80, classes=20, loss_steps=10, limit=4)
    ref = trellis.load_safetensors(tmp_path / "cli.st")
    assert info2 == info and sorted(d) == sorted(ref)
    assert all(np.array_equal(d[k], ref[k]) for k in d)
    assert d["mask"][:, -10:].all() and not d["mask"][:, :-10].any()
    with pytest.raises(trellis.Error, match="dt"):
        trellis.shd_convert(h5, tmp_path / "x.st", dt_ms=0, steps=80)
    assert not os.path.exists(tmp_path / "x.st")
