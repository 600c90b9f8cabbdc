"""Every failure raises trellis.Error (a ValueError) whose str() is the
library's message, with the file and the JSON path or tensor name."""
import json

import numpy as np
import pytest

import trellis


def lsnn(name="lsnn.json"):
    with open("models/lsnn.json") as f:
        return json.load(f)


def test_graph_errors_name_the_file_and_the_json_path():
    doc = lsnn()
    doc["nodes"][1]["inputs"][0] = "inn"
    doc["nodes"][2]["params"]["tau_a"] = -1
    with pytest.raises(trellis.Error) as e:
        trellis.Graph.from_dict(doc, name="bad.json")
    assert isinstance(e.value, ValueError)
    text = str(e.value)
    assert 'bad.json: /nodes/1/inputs/0: no node has id "inn"; did you mean "in"?' in text
    assert "bad.json: /nodes/2/params/tau_a: " in text
    assert e.value.file == "bad.json" and e.value.status == "invalid input" and e.value.code == 1
    assert [p["path"] for p in e.value.problems] == ["/nodes/1/inputs/0", "/nodes/2/params/tau_a"]


def test_syntax_errors_give_line_and_column(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"trellis": 1,\n "nodes": [}')
    with pytest.raises(trellis.Error) as e:
        trellis.Graph.load(path)
    assert str(e.value).startswith("%s:2:12: invalid JSON" % path)
    assert (e.value.problems[0]["line"], e.value.problems[0]["column"]) == (2, 12)
    with pytest.raises(trellis.Error, match="cannot read"):
        trellis.Graph.load(tmp_path / "none.json")


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_array_errors_name_the_tensor_and_the_expected_shape(precision):
    g = trellis.Graph.load("models/lsnn.json", precision)
    p = g.init(seed=1)
    x = np.zeros((2, 10, 40))
    with pytest.raises(trellis.Error, match=r"^data: in: expected shape \[B, T, 40\]"):
        g.run(p, {"in": np.zeros((2, 10, 41))})
    with pytest.raises(trellis.Error, match=r"^in: expected 3 dimensions, got shape \[2, 10\]"):
        g.run(p, {"in": np.zeros((2, 10))})
    with pytest.raises(trellis.Error, match=r"^in: expected real numbers .*complex128"):
        g.run(p, {"in": x.astype(complex)})
    with pytest.raises(trellis.Error, match=r"missing: every input node needs an array"):
        g.run(p, {})
    with pytest.raises(trellis.Error, match=r'^data: inn: not an input node .*did you mean "in"'):
        g.run(p, {"in": x, "inn": x})
    with pytest.raises(trellis.Error, match=r"^lif.w.in: expected shape \[50, 40\], got \[50, 3\]"):
        g.run({**p, "lif.w.in": p["lif.w.in"][:, :3]}, {"in": x})
    q = dict(p)
    q["lif.w.inn"] = q.pop("lif.w.in")
    with pytest.raises(trellis.Error, match=r"lif.w.in: missing, expected shape \[50, 40\]; "
                                            r"lif.w.inn: not a parameter .*'lif.w.in'"):
        g.run(q, {"in": x})
    p["lif.w.lif.d1"][0, 0] = 1
    with pytest.raises(trellis.Error, match=r"^lif.w.lif.d1: entry \[0, 0\] is on the diagonal"):
        g.run(p, {"in": x})
    p["lif.w.lif.d1"][0, 0] = 0
    p["out.b"][0] = np.nan
    with pytest.raises(trellis.Error, match="out.b"):
        g.run(p, {"in": x})


def test_option_errors():
    g = trellis.Graph.load("models/lsnn.json")
    p, x = g.init(seed=1), {"in": np.zeros((1, 5, 40), np.float32)}
    with pytest.raises(trellis.Error, match="^models/lsnn.json: target: .*needs one, \\[B, T, 2\\], or the "
                                            "cotangent"):
        g.grad(p, x, algo="bptt")
    with pytest.raises(trellis.Error, match="algo must be one of 'bptt', 'rtrl', 'eprop'"):
        g.grad(p, x, algo="bpt")
    with pytest.raises(trellis.Error, match="^the engine can be chosen for eprop only"):
        g.grad(p, x, algo="bptt", engine="online")
    with pytest.raises(trellis.Error, match='^cotangent: lif: node "lif" is not an output'):
        g.grad(p, x, cotangent={"lif": np.zeros((1, 5, 50))})
    with pytest.raises(trellis.Error, match="precision must be"):
        trellis.Graph.load("models/lsnn.json", precision="float16")
    with pytest.raises(trellis.Error, match="unknown task 'nope'; the tasks are sine, evidence"):
        g.task_data("nope")
    with pytest.raises(trellis.Error, match="unknown trainer options lrate"):
        g.trainer(p, task="evidence", lrate=1)


def test_safetensors_errors(tmp_path):
    bad = tmp_path / "bad.st"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(trellis.Error, match="the header is not JSON"):
        trellis.load_safetensors(bad)
    with pytest.raises(trellis.Error, match="cannot store complex128"):
        trellis.save_safetensors(tmp_path / "c.st", {"a": np.zeros(2, complex)})
    assert not list(tmp_path.glob("c.st*"))  # nothing left behind
