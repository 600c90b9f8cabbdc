"""Trainer: the library's trainer with a Python callback that sees every
iteration and can stop it, checkpoints and resume, data from memory."""
import numpy as np
import pytest

import trellis
from conftest import cli


@pytest.fixture
def g():
    return trellis.Graph.load("models/evidence.json")


def test_callback_sees_every_iteration_and_stops(g, tmp_path):
    p = g.init(seed=1)
    seen = []

    def cb(m):
        seen.append(m)
        return m["iter"] < 3  # False after iteration 3: stop
    ckpt = tmp_path / "c.st"
    with g.trainer(p, task="evidence", iters=20, batch=4, checkpoint=str(ckpt)) as t:
        assert t.run(cb, progress=False) == "stopped"
        assert t.iteration == 4
    assert [m["iter"] for m in seen] == [0, 1, 2, 3]
    assert all(m["iters"] == 20 and np.isfinite(m["loss"]) for m in seen)
    assert set(seen[0]["tensor_norm"]) == {i["name"] for i in g.param_infos}
    assert seen[0]["rate_hz"]["in"] != seen[0]["rate_hz"]["in"]  # NaN: an input
    assert ckpt.exists()  # the trainer checkpoints when stopped
    assert np.array_equal(g.init(seed=1)["lif.w.in"], p["lif.w.in"])  # p itself unchanged


def test_an_exception_in_the_callback_stops_and_is_raised(g):
    def cb(m):
        raise KeyError("from the callback")
    with g.trainer(g.init(seed=1), task="evidence", iters=5, batch=2) as t:
        with pytest.raises(KeyError, match="from the callback"):
            t.run(cb, progress=False)
        assert t.iteration == 1


def test_resume_continues_exactly(g, tmp_path):
    p, cfg = g.init(seed=2), dict(task="evidence", iters=6, batch=4, seed=5, lr=0.01)
    straight = g.train(p, progress=False, **cfg)
    with g.trainer(p, **cfg) as t:
        t.run(lambda m: m["iter"] < 2, progress=False)
        t.checkpoint(tmp_path / "half.st")
    with g.trainer(p, resume=tmp_path / "half.st", **cfg) as t:
        assert t.iteration == 3
        assert t.run(progress=False) == "done"
        resumed = t.params()
    assert sorted(resumed) == sorted(straight)
    for k in straight:
        assert np.array_equal(resumed[k], straight[k]), k
    assert not np.array_equal(straight["lif.w.in"], p["lif.w.in"])


def test_training_from_arrays_matches_the_cli(tmp_path):
    """Batches drawn from data in memory, the same parameters as
    `trellis train --data` from the same file."""
    g = trellis.Graph.load("models/evidence.json")
    data = g.task_data("evidence", seed=1, batch=16)
    trellis.save_safetensors(tmp_path / "d.st", data)
    cli("float32", "train", "models/evidence.json", "--data", tmp_path / "d.st", "--algo",
        "eprop", "--iters", 4, "--batch", 8, "--seed", 3, "-o", tmp_path / "p.st")
    got = g.train(g.init(seed=3), data=data, algo="eprop", iters=4, batch=8, seed=3,
                  progress=False)
    ref = trellis.load_safetensors(tmp_path / "p.st")
    for k in ref:
        assert np.array_equal(got[k], ref[k]), k


def test_progress_line(g, capsys):
    g.train(g.init(seed=1), task="evidence", iters=2, batch=2, progress=True)
    err = capsys.readouterr().err
    assert "iter 2/2" in err and "loss" in err and err.endswith("\n")
