"""The README's section "Python and PyTorch": its examples run as written
(from a folder of their own that sees models/), and make install installs a
package that imports from anywhere and loads the installed library."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


def examples():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("\n## Python and PyTorch\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```python\n(.*?)^```$", section, re.S | re.M)


def run_python(code, cwd, env=None):
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=env)


def test_the_readme_has_both_examples():
    ex = examples()
    assert len(ex) == 2 and "g.grad(" in ex[0] and "torch.optim.Adam" in ex[1]


@pytest.mark.parametrize("k", [0, 1])
def test_readme_example_runs(k, tmp_path):
    os.symlink(os.path.join(ROOT, "models"), tmp_path / "models")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    r = run_python(examples()[k], tmp_path, env)
    assert r.returncode == 0, r.stderr
    if k == 0:
        assert "dL/dx (8, 825, 40)" in r.stdout and "/nodes/0/size" in r.stdout
        assert "random feedback: loss" in r.stdout and "alif.a (8, 825, 50)" in r.stdout
        assert (tmp_path / "grads.safetensors").exists()
    else:
        acc = float(re.search(r"validation accuracy (\S+)", r.stdout).group(1))
        assert acc > 0.7, r.stdout


def test_make_install_installs_the_package(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["make", "--no-print-directory", "-s", "install", "PREFIX=%s" % prefix],
                   cwd=ROOT, check=True, capture_output=True)
    site = prefix / "lib" / "python3" / "dist-packages"
    env = {k: v for k, v in os.environ.items() if k != "TRELLIS_LIB"}
    env["PYTHONPATH"] = str(site)
    r = run_python("import trellis, trellis.torch\n"
                   "print(trellis.__file__)\n"
                   "print(trellis.library_path('float32'), trellis.library_path('float64'))\n"
                   "g = trellis.Graph.load('%s/models/lsnn.json', 'float64')\n"
                   "print(len(g.init(seed=1)))" % ROOT, tmp_path, env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].startswith(str(site))
    assert lines[1] == "%s/lib/libtrellis.so.0 %s/lib/libtrellis-f64.so.0" % (prefix, prefix)
    assert lines[2] == "9"


def test_trellis_lib_names_the_library(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"),
               TRELLIS_LIB=os.path.join(ROOT, "lib"))
    r = run_python("import trellis; print(trellis.library_path('float64'))", tmp_path, env)
    assert r.stdout.strip() == os.path.join(ROOT, "lib", "libtrellis-f64.so.0"), r.stderr
    env["TRELLIS_LIB"] = str(tmp_path / "nowhere.so")
    r = run_python("import trellis; trellis.version()", tmp_path, env)
    assert r.returncode != 0 and "cannot find libtrellis.so.0" in r.stderr
