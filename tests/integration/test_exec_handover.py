# SPDX-License-Identifier: MIT
"""A launched program handed between the two samplers as it execs out of CPython and into it:
Python stacks while it runs CPython, native ones while it runs anything else, one profile.
(test_lifecycle.py has an attached target that execs, launchers followed to CPython, and a
CPython that execs a shell.)"""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT, WORKLOADS, frame_name, record

RATE = 250


@pytest.fixture(scope="module")
def exec_after():
    out = tempfile.mkdtemp(prefix="spyglass-exec-")
    exe = os.path.join(out, "exec_after")
    subprocess.check_call(["gcc", "-O2", "-g", os.path.join(ROOT, "tests", "native", "exec_after.c"),
                           "-o", exe])
    yield exe
    shutil.rmtree(out, ignore_errors=True)


def test_python_execs_native_execs_python(python, exec_after):
    """CPython spins 1.5 s in before_exec, execs a native program that uses a second of its
    CPU in burn, which execs CPython again to spin 1.5 s in after_exec."""
    script = os.path.join(WORKLOADS, "exec_other.py")
    run = record(["-r", str(RATE)], "exec_other.py",
                 [1.5, exec_after, 1, python, script, 1.5, "again"], python)
    assert run.status == 0, run.stderr
    assert re.search(r"exec'd \S*/exec_after after [\d.]+ s: it is not CPython; sampled "
                     r"natively from then on", run.stderr), run.stderr
    assert re.search(r"exec'd CPython \(\S+\) after [\d.]+ s; sampled as Python from then on",
                     run.stderr), run.stderr
    # The Python parts spin for 1.5 s of wall time each: 375 samples of their CPU, a tenth
    # of that if a loaded machine gives them a tenth of a core. burn for a second of its CPU:
    # RATE samples by the kernel's CPU clock, less what the hand-over takes (tens of ms), so
    # half is the floor, however loaded the machine.
    assert run.samples_with("before_exec") > 30, run.stderr
    assert run.samples_with("after_exec") > 30, run.stderr
    assert run.samples_with("burn") > RATE / 2, run.stderr
    # Each part by its sampler: burn under the native program's main, the Python functions
    # under <module> with no C frame of the interpreter's.
    burns = [s for s in run.stacks if any(frame_name(f) == "burn" for f in s)]
    assert all("main" in map(frame_name, s) for s in burns), burns
    pythons = [s for s in run.stacks if any(frame_name(f) in ("before_exec", "after_exec")
                                            for f in s)]
    assert all(frame_name(s[0]) == "<module>" for s in pythons), pythons
