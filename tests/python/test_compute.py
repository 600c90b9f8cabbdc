"""Graph.load / validate / init / run / grad / evaluate / compare against
the command-line tool (the same bytes) and the reference fixtures (1e-6 in
float64), in both precisions."""
import json

import numpy as np
import pytest

import trellis
from conftest import CASES, PRECISIONS, SMOOTH, cli, fixture, rel

GRADS = [("bptt", None, "grad_exact"), ("rtrl", None, "grad_exact"),
         ("eprop", "online", "grad_eprop"), ("eprop", "reverse", "grad_eprop")]


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


@pytest.mark.parametrize("precision", PRECISIONS)
def test_validate_is_the_clis(precision):
    g = trellis.Graph.load("models/lsnn.json", precision=precision)
    assert g.validate() == json.loads(cli(precision, "validate", "models/lsnn.json", "--json"))
    assert g.report() == cli(precision, "validate", "models/lsnn.json")
    assert g.precision == precision and g.dtype == np.dtype(precision)
    assert g.inputs == ["in"] and g.outputs == ["out"] and g.loss["type"] == "cross_entropy"
    assert [n["id"] for n in g.nodes] == ["in", "lif", "alif", "out"]
    assert g.node("alif")["params"]["tau_a"] == 2000 and g.node("lif")["state"] == ["v"]
    assert len(g.edges()) == 8 and g.edges()[1] == {
        "from": "lif", "to": "lif", "delay": 1, "no_self": True, "trainable": True, "gain": 1.0,
        "param": "lif.w.lif.d1"}


def test_from_dict_and_from_json_are_load():
    with open("models/lsnn.json") as f:
        text = f.read()
    a = trellis.Graph.load("models/lsnn.json").validate()
    assert a.pop("file") == "models/lsnn.json"
    for g, name in ((trellis.Graph.from_json(text), "<json>"),
                    (trellis.Graph.from_dict(json.loads(text), name="lsnn"), "lsnn")):
        v = g.validate()
        assert v.pop("file") == name and g.file == name
        assert v == a


@pytest.mark.parametrize("precision", PRECISIONS)
def test_init_writes_the_clis_bytes(precision, tmp_path):
    cli(precision, "init", "models/lsnn.json", "--seed", 7, "-o", tmp_path / "cli.st")
    g = trellis.Graph.load("models/lsnn.json", precision)
    p = g.init(seed=7)
    assert all(a.dtype == np.dtype(precision) for a in p.values())
    trellis.save_safetensors(tmp_path / "py.st", p)
    g.save_params(p, tmp_path / "lib.st")
    assert same_bytes(tmp_path / "cli.st", tmp_path / "py.st")
    assert same_bytes(tmp_path / "cli.st", tmp_path / "lib.st")
    back = g.load_params(tmp_path / "cli.st")
    assert all(np.array_equal(back[k], p[k]) for k in p)
    assert not np.array_equal(g.init(seed=8)["lif.w.in"], p["lif.w.in"])


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("case", CASES)
def test_run_and_grad_are_the_clis(case, precision, tmp_path):
    """Through the shared library, the same bytes as bin/trellis writes."""
    graph, params, data = (fixture(case, f) for f in
                           ("graph.json", "params.safetensors", "data.safetensors"))
    g = trellis.Graph.load(graph, precision)
    p, d = trellis.load_safetensors(params), trellis.load_safetensors(data)
    cli(precision, "run", graph, "--params", params, "--data", data, "-o", tmp_path / "r.st")
    trellis.save_safetensors(tmp_path / "r.py.st", g.run(p, d))
    assert same_bytes(tmp_path / "r.st", tmp_path / "r.py.st")
    for algo, engine, _ in GRADS:
        args = ["--engine", engine] if engine else []
        cli(precision, "grad", graph, "--params", params, "--data", data, "--algo", algo,
            *args, "-o", tmp_path / "g.st")
        trellis.save_safetensors(tmp_path / "g.py.st", g.grad(p, d, algo=algo, engine=engine))
        assert same_bytes(tmp_path / "g.st", tmp_path / "g.py.st"), (algo, engine)


@pytest.mark.parametrize("case", CASES)
def test_float64_meets_the_fixtures(case):
    g = trellis.Graph.load(fixture(case, "graph.json"), "float64")
    p = trellis.load_safetensors(fixture(case, "params.safetensors"))
    d = trellis.load_safetensors(fixture(case, "data.safetensors"))
    out, ref = g.run(p, d), trellis.load_safetensors(fixture(case, "out.safetensors"))
    assert sorted(out) == sorted(ref)
    for k in g.outputs:
        assert out[k].dtype == np.float64 and rel(out[k], ref[k]) <= 1e-6, k
    assert abs(out["loss"] - float(ref["loss"])) <= 1e-9 * abs(float(ref["loss"]))
    for algo, engine, name in GRADS:
        gr = g.grad(p, d, algo=algo, engine=engine)
        ref = trellis.load_safetensors(fixture(case, name + ".safetensors"))
        assert sorted(gr) == sorted(ref) == sorted(g.trainable + ["loss"])
        assert isinstance(gr["loss"], float)
        for k in g.trainable:
            assert rel(gr[k], ref[k]) <= 1e-6, (algo, engine, k)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_params_and_data_from_files_or_dicts_agree(precision):
    case = "ce_masked"
    g = trellis.Graph.load(fixture(case, "graph.json"), precision)
    pf, df = fixture(case, "params.safetensors"), fixture(case, "data.safetensors")
    a = g.grad(pf, df, algo="eprop")
    b = g.grad(trellis.load_safetensors(pf), g.load_data(df), algo="eprop")
    assert all(np.array_equal(a[k], b[k]) for k in g.trainable) and a["loss"] == b["loss"]
    ev = g.evaluate(pf, df)
    assert ev["loss"] == pytest.approx(a["loss"], rel=1e-6) and 0 <= ev["accuracy"] <= 1
    assert np.isnan(ev["nmse"])


def test_compare_against_bptt():
    g = trellis.Graph.load(fixture("dag_skip", "graph.json"), "float64")
    p, d = fixture("dag_skip", "params.safetensors"), fixture("dag_skip", "data.safetensors")
    c = g.compare(p, d, ["rtrl", {"algo": "eprop", "engine": "reverse"}])
    assert c["algos"] == ["rtrl", "eprop reverse"]
    assert c["total"]["rtrl"]["rel_err"] < 1e-9 and c["total"]["rtrl"]["cosine"] > 1 - 1e-9
    exact, eprop = (trellis.load_safetensors(fixture("dag_skip", f + ".safetensors"))
                    for f in ("grad_exact", "grad_eprop"))
    for item in c["tensor"]:
        assert item["eprop reverse"]["rel_err"] == pytest.approx(
            rel(eprop[item["name"]], exact[item["name"]]), rel=1e-6, abs=1e-12)
    assert sum(i["count"] for i in c["tensor"]) == c["total"]["count"]
    assert set(c["cost"]) == {"bptt", "rtrl", "eprop reverse"}


@pytest.mark.parametrize("precision", PRECISIONS)
def test_task_and_random_data_are_the_clis(precision, tmp_path):
    g = trellis.Graph.load("models/evidence.json", precision)
    cli(precision, "data", "evidence", "--seed", 3, "--batch", 4, "--iter", 2, "-o",
        tmp_path / "t.st")
    trellis.save_safetensors(tmp_path / "t.py.st",
                             g.task_data("evidence", seed=3, iteration=2, batch=4))
    assert same_bytes(tmp_path / "t.st", tmp_path / "t.py.st")
    assert "evidence" in trellis.tasks() and trellis.task_info("evidence")["loss"] == \
        "cross_entropy"
    r = g.random_data(batch=2, steps=30, seed=1, spiking=["in"])
    assert r["in"].shape == (2, 30, g.node("in")["size"]) and set(np.unique(r["in"])) <= {0, 1}


def test_input_grads_and_cotangent_match_finite_differences():
    """SPEC 6.4 through Graph.grad: the gradient of sum(c * y), parameters and
    inputs, on a smooth graph in float64."""
    g = trellis.Graph.from_dict(SMOOTH, "float64")
    rng = np.random.default_rng(0)
    p = g.init(seed=2)
    x = rng.standard_normal((2, 12, 3))
    c = rng.standard_normal((2, 12, 2))
    gr = g.grad(p, {"in": x}, algo="bptt", cotangent={"out": c}, input_grads=True)

    def f(p, x):
        return float((g.run(p, {"in": x})["out"] * c).sum())
    assert gr["loss"] == pytest.approx(f(p, x), rel=1e-12)
    h = 1e-6
    for name in ("h.w.in", "d.w.d.d2", "out.b"):
        k = np.unravel_index(1, p[name].shape)
        up, dn = ({**p, name: p[name].copy()} for _ in range(2))
        up[name][k] += h
        dn[name][k] -= h
        assert gr[name][k] == pytest.approx((f(up, x) - f(dn, x)) / (2 * h), rel=1e-6, abs=1e-9)
    for k in ((0, 3, 1), (1, 11, 2)):
        up, dn = x.copy(), x.copy()
        up[k] += h
        dn[k] -= h
        assert gr["in"][k] == pytest.approx((f(p, up) - f(p, dn)) / (2 * h), rel=1e-6, abs=1e-9)
