"""check_readme.py - the README's commands run, and print what it quotes (issue 19.4).

Run from the top folder after `make` (`make check` runs it):
    /usr/bin/python3 tests/check_readme.py [README.md]
Prints what it runs and compares; exits 1 when a check fails.

What is a command block: an indented (4 spaces) block, or a ```sh, ```console,
```shell or ```bash fence, whose first line starts with `$ ` or names a
program (bin/..., make, or a program on PATH). Other blocks (JSON, Python, C,
formulas, quoted error messages) are not commands.

  - In a block of `$ ` lines, each `$ ` line is a command and the lines below
    it, up to the next `$ `, are the output the README quotes for it (none:
    the output is not compared). In other blocks every line is a command
    (a line ending in `\\` continues on the next) and nothing is quoted.
  - A block with a placeholder in any command (a token such as GRAPH, P,
    FILE.h5, [--json], bptt|rtrl, ...) is a usage template: it is not run.
    In the section "Commands" every usage line of `trellis CMD --help`, for
    every command `trellis --help` lists, must be a line of such a block,
    with `bin/trellis` for `trellis`, and every template line there that
    starts with `bin/trellis CMD` must be one of CMD's usage lines (a usage
    line ending in "(trellis X --help)" stands for X's usage lines).
  - Every command runs with sh in one scratch folder (tests/out/readme/work,
    holding copies of models/, tools/ and python/ and links to bin/ and lib/),
    in README order, with bin/ first on PATH and TRELLIS_THREADS=2 (the
    README's outputs were made with two threads; with a fixed count the bits
    do not depend on the machine's processors). A command must exit with status
    0, unless the README puts `<!-- check_readme: exit N -->` on the line
    before the block's blank line (each `$ ` command of that block must then
    exit with N).
  - Quoted output is compared with the command's stdout followed by its
    stderr, line by line, exactly (trailing blanks aside). A quoted line `...`
    stands for any number of lines (an excerpt). Numbers that depend on the
    machine are masked on both sides before comparing: a number followed by
    a unit of time or rate (s, ms, us, ns, min, it/s, GFLOP/s, MB/s, GB/s,
    with or without a space).
  - The quoted outputs were made on one machine (x86-64 with AVX-512,
    OpenBLAS); float results depend on the vector kernels' and the BLAS's
    rounding, so that another x86-64 machine prints other last digits. So
    the other numbers compare with a tolerance: integers exactly, numbers
    with a fraction or an exponent within 5% of each other, and any two
    numbers below 1e-4 in size (rounding-level differences) as equal.
  - `trellis train` in a block without quoted output runs with `--iters 10`
    when it asks for more (or gives none: 200): the README quotes no output
    for those runs and its numbers for them come from the full runs. `$ `
    transcripts run exactly as written.

Skipped, each for the reason given (SKIP below): package installs, builds
(`make check` has built everything before it runs this), downloads (and the
rest of their block, which needs the files), MPI (tests/check_mpi.sh), and
the C example (tests/check_library.sh builds it against an installed prefix).
"""
import difflib
import os
import re
import shutil
import subprocess
import sys
import time

# (pattern on the command, reason, skip the rest of the block too)
SKIP = [
    (r"\bapt-get\b", "installs system packages (root, network)", False),
    (r"^make\b", "builds: make check has built everything before this runs", False),
    (r"^wget\b", "downloads (network); the rest of its block needs the files", True),
    (r"^mpirun\b", "needs Open MPI; tests/check_mpi.sh runs MPI training", False),
    (r"^cc example\.c\b", "tests/check_library.sh builds and runs the C example", False),
    (r"^build/fuzz/", "a fuzzer runs until stopped; make check's fuzz-check runs each briefly", False),
]
SHELL_FENCES = ("sh", "console", "shell", "bash")
SHORT_ITERS = 10
TIMEOUT = 600
OUT = "tests/out/readme"

MACHINE_NUMBER = re.compile(
    r"\d+(?:\.\d+)?(?:e[-+]?\d+)?(?: ?)(?:ms|us|ns|min|it/s|GFLOP/s|[MG]B/s|s)(?![A-Za-z])")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(?:\.[a-z0-9]+)?$")
MARKER = re.compile(r"^<!-- check_readme: exit (\d+) -->$")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def blocks(lines):
    """(line number, section, subsection, lines, expected exit) of every code block that
    may hold commands: indented blocks and shell fences."""
    out, i, section, sub = [], 0, "", ""
    prev_blank = True
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section, sub = line[3:].strip(), ""
        elif line.startswith("### "):
            sub = line[4:].strip()
        fence = re.match(r"^```(\S*)", line)
        if fence:
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            if fence.group(1) in SHELL_FENCES:
                out.append((i + 2, section, sub, lines[i + 1:j], marker(lines, i)))
            i, prev_blank = j + 1, False
            continue
        if prev_blank and line.startswith("    ") and line.strip():
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                j += 1
            body = [x[4:] for x in lines[i:j]]
            while body and not body[-1].strip():
                body.pop()
            out.append((i + 1, section, sub, body, marker(lines, i)))
            i, prev_blank = j, True
            continue
        prev_blank = not line.strip()
        i += 1
    return out


def marker(lines, i):
    """the exit status named by a marker before the blank line above line i"""
    k = i - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    m = MARKER.match(lines[k].strip()) if k >= 0 else None
    return int(m.group(1)) if m else None


def is_command(line):
    words = line.split()
    if line.startswith("$ "):
        return True
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words = words[1:]
    if not words:
        return False
    w = words[0]
    return w.startswith("bin/") or w == "make" or (
        "/" not in w and ":" not in w and shutil.which(w) is not None) or (
        w.startswith("/usr/bin/") and os.path.exists(w))


def is_template(cmd):
    for tok in cmd.split():
        bare = tok.strip("()[],")
        if "=" in tok and not tok.startswith("-"):
            continue
        if "[" in tok or "]" in tok or tok == "..." or (
                "|" in tok and tok != "|" and tok != "||") or PLACEHOLDER.match(bare):
            return True
    return False


def commands(body):
    """[(command, quoted output lines or None)]"""
    if body[0].startswith("$ "):
        out = []
        for line in body:
            if line.startswith("$ "):
                out.append([line[2:], []])
            else:
                out[-1][1].append(line)
        return [(c, q if q else None) for c, q in out]
    out, cur = [], ""
    for line in body:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cur += line
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        out.append((cur.strip(), None))
        cur = ""
    return out


def shorten(cmd):
    if not re.search(r"\btrellis(-f64)? train\b", cmd):
        return cmd
    m = re.search(r"--iters (\d+)", cmd)
    if m:
        return cmd if int(m.group(1)) <= SHORT_ITERS else cmd.replace(
            m.group(0), "--iters %d" % SHORT_ITERS)
    return re.sub(r"( train \S+)", r"\1 --iters %d" % SHORT_ITERS, cmd, count=1)


def mask(text):
    return [MACHINE_NUMBER.sub("<t>", x).rstrip() for x in text]


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def same_line(q, a):
    """q and a alike but for machine-dependent digits (module docstring)"""
    if q == a:
        return True
    qn, an = NUMBER.findall(q), NUMBER.findall(a)
    if len(qn) != len(an) or NUMBER.sub("#", q) != NUMBER.sub("#", a):
        return False
    for x, y in zip(qn, an):
        if x == y:
            continue
        if not any(c in x + y for c in ".e"):
            return False  # integers: counts, sizes, iterations
        fx, fy = float(x), float(y)
        if abs(fx) < 1e-4 and abs(fy) < 1e-4:
            continue
        if abs(fx - fy) > 0.05 * max(abs(fx), abs(fy)):
            return False
    return True


def matches(quoted, actual):
    """quoted lines, where "..." is any run of lines, against actual lines"""
    memo = {}

    def m(i, j):
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(quoted):
            r = j == len(actual)
        elif quoted[i].strip() == "...":
            r = any(m(i + 1, k) for k in range(j, len(actual) + 1))
        else:
            r = j < len(actual) and same_line(quoted[i], actual[j]) and m(i + 1, j + 1)
        memo[(i, j)] = r
        return r
    return m(0, 0)


def usage_lines(cmd):
    p = subprocess.run(["bin/trellis"] + cmd.split() + ["--help"], capture_output=True, text=True)
    out = []
    for line in p.stdout.splitlines():
        if not line.strip():
            break
        m = re.match(r"^(?:usage:|   or:) (.*)$", line)
        if not m:
            continue
        ref = re.search(r"\(trellis (.*) --help\)$", m.group(1))
        out += usage_lines(ref.group(1)) if ref else ["bin/" + m.group(1)]
    return out


def check_usage(templates):
    p = subprocess.run(["bin/trellis", "--help"], capture_output=True, text=True)
    names = re.findall(r"^  (\w+)  ", p.stdout, re.M)
    if not names:
        fail("bin/trellis --help lists no commands")
    known = {}
    for name in names:
        known[name] = usage_lines(name)
        for u in known[name]:
            if u not in templates:
                fail("README, Commands: no usage line of `%s` as `trellis %s --help` prints "
                     "it:\n    %s" % (name, name, u))
    for t, where in templates.items():
        words = t.split()
        if len(words) > 1 and words[0] == "bin/trellis" and words[1] in known:
            if t not in known[words[1]]:
                close = difflib.get_close_matches(t, known[words[1]], 1, 0)
                fail("README line %d: usage line differs from `trellis %s --help`:\n"
                     "    README: %s\n    --help: %s" % (where, words[1], t,
                                                        close[0] if close else "(none)"))


def scratch():
    work = os.path.join(OUT, "work")
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(work)
    for d in ("models", "tools", "python"):
        shutil.copytree(d, os.path.join(work, d),
                        ignore=shutil.ignore_patterns("__pycache__"))
    for d in ("bin", "lib"):
        os.symlink(os.path.abspath(d), os.path.join(work, d))
    return work


def run(cmd, work, env):
    p = subprocess.run(["sh", "-c", cmd], cwd=work, env=env, capture_output=True, text=True,
                       timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    return p.returncode, (p.stdout + p.stderr).splitlines()


def main():
    readme = sys.argv[1] if len(sys.argv) > 1 else "README.md"
    lines = open(readme, encoding="utf-8").read().split("\n")
    work = scratch()
    env = dict(os.environ, PATH=os.path.abspath("bin") + os.pathsep + os.environ["PATH"],
               TRELLIS_THREADS="2",
               PYTHONDONTWRITEBYTECODE="1")
    templates = {}
    ran = compared = 0
    skipped = []
    for at, section, sub, body, want_exit in blocks(lines):
        if not body or not is_command(body[0]):
            continue
        cmds = commands(body)
        if any(is_template(c) for c, _ in cmds):
            if section == "Commands":
                for k, line in enumerate(body):
                    if line.startswith("bin/trellis "):
                        templates.setdefault(line.strip(), at + k)
            continue
        if want_exit is not None and not body[0].startswith("$ "):
            fail("README line %d: an exit marker needs a `$ ` block" % at)
        for n, (cmd, quoted) in enumerate(cmds):
            why = next(((r, rest) for pat, r, rest in SKIP if re.search(pat, cmd)), None)
            if why:
                more = len(cmds) - n - 1 if why[1] else 0
                skipped.append("line %d: %s (%s)%s" % (
                    at, cmd[:60], why[0], " and the %d commands after it" % more if more else ""))
                if why[1]:
                    break
                continue
            if not body[0].startswith("$ "):
                cmd = shorten(cmd)
            print("[%s] %s" % (sub or section, cmd), end="", flush=True)
            start = time.monotonic()
            try:
                rc, out = run(cmd, work, env)
            except subprocess.TimeoutExpired:
                print()
                fail("README line %d: `%s` ran longer than %d s" % (at, cmd, TIMEOUT))
                continue
            print("  (%.1f s)" % (time.monotonic() - start))
            ran += 1
            expect = want_exit or 0
            if rc != expect:
                fail("README line %d: `%s` exited with status %d, not %d:\n%s" %
                     (at, cmd, rc, expect, "\n".join("    " + x for x in out[-15:])))
                continue
            if quoted is None:
                continue
            compared += 1
            q, a = mask(quoted), mask(out)
            if not matches(q, a):
                diff = difflib.unified_diff(q, a, "README (line %d)" % at, "output", lineterm="")
                fail("README line %d: `%s` prints other than the README quotes:\n%s" %
                     (at, cmd, "\n".join(diff)))
    check_usage(templates)
    print("check_readme: %d commands run, %d outputs compared, %d usage lines checked, "
          "%d skipped:" % (ran, compared, len(templates), len(skipped)))
    for s in skipped:
        print("  skipped " + s)
    if failures:
        print("check_readme: %d failure(s)" % len(failures))
        return 1
    print("check_readme: README commands and quotes agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
