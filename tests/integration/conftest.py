# SPDX-License-Identifier: MIT
"""Shared fixtures for the end-to-end tests: real spyglass, real CPythons.

Every test that profiles Python is run once per supported version. Versions
that are not installed are skipped with the reason printed (pytest -rs).
"""
import collections
import glob
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKLOADS = os.path.join(ROOT, "tests", "workloads")
SPYGLASS = os.environ.get("SPYGLASS", os.path.join(ROOT, "build", "spyglass"))
CONSUMERS = os.path.join(ROOT, "tests", "consumers")
CHROMIUM = "/usr/bin/chromium"
SVG = "{http://www.w3.org/2000/svg}"
SUPPORTED = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
TIMEOUT = 60


def _pyenv_root():
    try:
        return subprocess.check_output(["pyenv", "root"], stderr=subprocess.DEVNULL).decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return os.path.expanduser("~/.pyenv")


def _version_of(exe):
    try:
        out = subprocess.check_output([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                      stderr=subprocess.DEVNULL, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.decode().strip()


def _find_interpreters():
    found = {}
    for exe in sorted(glob.glob(os.path.join(_pyenv_root(), "versions", "*", "bin", "python"))):
        version = _version_of(exe)
        if version:
            found.setdefault(version, exe)
    return found


INTERPRETERS = _find_interpreters()
DEBIAN = "/usr/bin/python3" if _version_of("/usr/bin/python3") else None
PY_IDS = SUPPORTED + ["debian"]


@pytest.fixture(params=PY_IDS)
def python(request):
    """Path of one CPython, or a skip saying which version is missing."""
    if request.param == "debian":
        if not DEBIAN:
            pytest.skip("Debian's /usr/bin/python3 not found")
        return DEBIAN
    exe = INTERPRETERS.get(request.param)
    if not exe:
        pytest.skip("Python %s not found" % request.param)
    return exe


class Run(object):
    """One spyglass run: exit status, stderr, parsed folded output, truth."""

    def __init__(self, status, stderr, stacks, truth):
        self.status = status
        self.stderr = stderr
        self.stacks = stacks
        self.truth = truth

    @property
    def total(self):
        return sum(self.stacks.values())

    def samples_with(self, name):
        return sum(n for stack, n in self.stacks.items() if any(frame_name(f) == name for f in stack))

    def share(self, name, among):
        """Share of name among the samples that contain any of `among`."""
        relevant = sum(n for stack, n in self.stacks.items()
                       if any(frame_name(f) in among for f in stack))
        return self.samples_with(name) / float(relevant) if relevant else 0.0


def frame_name(frame):
    """The function name of a rendered frame: 'Cls.meth (file:3)' -> 'meth'."""
    name = frame.rsplit(" (", 1)[0] if frame.endswith(")") else frame
    return name.rsplit(".", 1)[-1]


def parse_folded(text):
    stacks = collections.Counter()
    for line in text.splitlines():
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        assert stack, "malformed line: %r" % line
        stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def tolerance(p, n):
    """Four standard errors of a share p estimated from n samples, at least 3 points."""
    return max(4 * math.sqrt(max(p * (1 - p), 1e-4) / max(n, 1)), 0.03)


def record(args, workload=None, wargs=(), python=None, pid=None, timeout=TIMEOUT, env=None):
    """Run spyglass record and return a Run. With workload, launch it under
    python; with pid, attach. Truth JSON, when the workload wrote it, is read."""
    out = tempfile.NamedTemporaryFile(suffix=".folded", delete=False)
    out.close()
    truth_path = out.name + ".truth.json"
    env = dict(os.environ if env is None else env, SPYGLASS_TRUTH=truth_path)
    cmd = [SPYGLASS, "record", "-o", out.name] + list(args)
    if pid:
        cmd += ["--pid", str(pid)]
    elif workload:
        cmd += ["--", python, os.path.join(WORKLOADS, workload)] + [str(a) for a in wargs]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    with open(out.name, encoding="utf-8") as f:
        stacks = parse_folded(f.read())
    os.unlink(out.name)
    truth = None
    if os.path.exists(truth_path):
        with open(truth_path) as f:
            truth = json.load(f)
        os.unlink(truth_path)
    return Run(proc.returncode, stderr, stacks, truth)


def run(args, timeout=TIMEOUT, env=None):
    """Run a command: (status, stdout, stderr), with no sanitizer report."""
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=env)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), stderr


def record_pprof(tmp_path, python, workload, seconds, *args, **kw):
    """Record workload (its arguments: seconds, then kw["wargs"]) into a pprof
    file at kw["rate"] Hz (default 250), named kw["name"] (default the
    workload's) in tmp_path; (path, truth)."""
    out = str(tmp_path / (kw.get("name", workload) + ".pb.gz"))
    truth_path = out + ".truth.json"
    env = dict(os.environ, SPYGLASS_TRUTH=truth_path)
    wargs = [str(seconds)] + [str(a) for a in kw.get("wargs", ())]
    status, _, stderr = run([SPYGLASS, "record", "-r", str(kw.get("rate", 250)), "-o", out] +
                            list(args) + ["--", python, os.path.join(WORKLOADS, workload)] + wargs,
                            timeout=TIMEOUT + 30, env=env)
    assert status == 0, stderr
    with open(truth_path) as f:
        return out, json.load(f)


def start(python, workload, *wargs, **kw):
    """Start a workload directly (to attach to it); it writes its truth to kw['truth']."""
    env = dict(os.environ)
    if kw.get("truth"):
        env["SPYGLASS_TRUTH"] = kw["truth"]
    proc = subprocess.Popen([python, os.path.join(WORKLOADS, workload)] + [str(a) for a in wargs],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    time.sleep(kw.get("settle", 0.7))
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


# Flame graphs in headless Chromium (tests/consumers/flamegraph.mjs).

def need_browser():
    if not shutil.which("node"):
        pytest.skip("node not found (tools/install-deps.sh installs nodejs)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("%s not found (tools/install-deps.sh installs chromium)" % CHROMIUM)
    if not os.path.isdir(os.path.join(CONSUMERS, "node_modules", "playwright-core")):
        pytest.skip("playwright-core not installed in tests/consumers (run tools/install-deps.sh)")


def svg_frames(path):
    """(x, w, depth, name) of every box in the SVG, its root attributes and
    each box's rect, by (x, depth)."""
    doc = ET.parse(path).getroot()
    frames, rects = [], {}
    for g in doc.find(SVG + "g[@id='frames']"):
        key = (int(g.get("data-x")), int(g.get("data-w")), int(g.get("data-d")))
        frames.append(key + (g.find(SVG + "title").text.split("\n")[0],))
        rects[(key[0], key[2])] = g.find(SVG + "rect")
    return sorted(frames), doc, rects


def fill(rect):
    return tuple(int(c) for c in re.match(r"rgb\((\d+),(\d+),(\d+)\)$", rect.get("fill")).groups())


def run_browser(spec, tmp_path):
    path = str(tmp_path / "spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    proc = subprocess.run(["node", os.path.join(CONSUMERS, "flamegraph.mjs"), path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT,
                          cwd=CONSUMERS)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return json.loads(proc.stdout.decode().strip().split("\n")[-1])
