# SPDX-License-Identifier: MIT
"""An independent check: the ground-truth workloads in ../shared/workloads, when present."""
import os

import pytest

from conftest import ROOT, record, tolerance

SHARED = os.path.join(os.path.dirname(ROOT), "shared", "workloads")


@pytest.fixture
def shared():
    if not os.path.isdir(SHARED):
        pytest.skip("../shared/workloads not present")
    return SHARED


def test_shared_cpu_split(python, shared):
    run = record(["-r", "250"], os.path.join(shared, "cpu_split.py"), [2], python)
    assert run.status == 0, run.stderr
    names = ("alpha", "beta", "gamma")
    cpu = run.truth["cpu"]
    n = sum(c for stack, c in run.stacks.items() if any(f.split(" (")[0] in names for f in stack))
    for name in names:
        want = cpu[name] / sum(cpu[k] for k in names)
        got = run.share(name, names)
        assert abs(got - want) <= tolerance(want, n), (name, got, want, n)


def test_shared_wall_split(python, shared):
    run = record(["-r", "250", "--mode", "wall"], os.path.join(shared, "wall_split.py"), [2], python)
    assert run.status == 0, run.stderr
    wall = run.truth["wall"]
    names = tuple(wall)
    n = sum(c for stack, c in run.stacks.items() if any(f.split(" (")[0] in names for f in stack))
    for name in names:
        want = wall[name] / sum(wall.values())
        assert abs(run.share(name, names) - want) <= tolerance(want, n), (name, want)
