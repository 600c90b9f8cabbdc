"""Arrays in without a copy, results out as views that keep the library's
memory alive, handles freed deterministically, no leak over 1,000 calls,
threads."""
import gc

import numpy as np
import pytest

import trellis
from conftest import SMOOTH, fixture


def graph(precision="float64"):
    return trellis.Graph.from_dict(SMOOTH, precision)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_data_borrows_the_callers_arrays(precision):
    """A Data binds the arrays themselves: a change to them shows in the next
    run, without binding again; an array of another dtype is converted."""
    g = graph(precision)
    p = g.init(seed=1)
    x = np.zeros((2, 600, 3), dtype=precision)
    before = trellis.memory_stats(precision)["current"]["misc"]
    with g.data({"in": x}) as d:
        assert trellis.memory_stats(precision)["current"]["misc"] - before < x.nbytes
        zero = g.run(p, d)["out"].copy()
        x[:, 2:, :] = 1
        one = g.run(p, d)["out"]
        assert np.array_equal(one, g.run(p, {"in": x})["out"])
        assert not np.array_equal(zero, one)
        assert d.shape() == (2, 600)
    other = "float32" if precision == "float64" else "float64"
    assert np.array_equal(g.run(p, {"in": x.astype(other)})["out"], one)
    with pytest.raises(trellis.Error, match="Data was closed"):
        g.run(p, d)


def test_results_are_views_that_keep_their_memory():
    g = graph()
    p = g.init(seed=1)
    x = np.random.default_rng(0).standard_normal((3, 20, 3))
    out = g.run(p, {"in": x})["out"]
    ref = out.copy()
    assert not out.flags.owndata and out.flags.writeable
    g.close()  # the result outlives the graph and everything else
    del p, x
    gc.collect()
    held = trellis.memory_stats("float64")["current"]["misc"]
    assert np.array_equal(out, ref)
    del out
    gc.collect()  # the last view gone, the library frees the result
    assert trellis.memory_stats("float64")["current"]["misc"] < held


def test_no_leak_over_1000_calls():
    g = trellis.Graph.load(fixture("rnn_tanh", "graph.json"), "float64")
    p = trellis.load_safetensors(fixture("rnn_tanh", "params.safetensors"))
    d = trellis.load_safetensors(fixture("rnn_tanh", "data.safetensors"))

    def calls(n):
        for i in range(n):
            algo = ("bptt", "rtrl", "eprop")[i % 3]
            gr = g.grad(p, d, algo=algo)
            out = g.run(p, d)
            g.evaluate(p, d)
            with g.data(d) as dd:
                g.grad(p, dd, cotangent={"y": out["y"]}, input_grads=True)
            del gr, out
        gc.collect()
    calls(10)
    start = trellis.memory_stats("float64")
    calls(1000)
    end = trellis.memory_stats("float64")
    assert end["current"] == start["current"]
    assert end["allocations"] > start["allocations"]  # the calls did allocate


def test_threads_give_the_same_gradient():
    g = trellis.Graph.load(fixture("alif_adaptation", "graph.json"), "float64")
    p = fixture("alif_adaptation", "params.safetensors")
    d = trellis.load_safetensors(fixture("alif_adaptation", "data.safetensors"))
    default = trellis.threads("float64")
    assert default >= 1
    one = g.grad(p, d, algo="eprop", threads=1)
    two = g.grad(p, d, algo="eprop", threads=2)
    try:
        trellis.set_threads(2)
        assert trellis.threads("float64") == 2
        dflt = g.grad(p, d, algo="eprop")
    finally:
        trellis.set_threads(0)
    assert trellis.threads("float64") == default
    for k in g.trainable:
        assert np.allclose(one[k], two[k], rtol=1e-12, atol=1e-12)
        assert np.array_equal(two[k], dflt[k])
