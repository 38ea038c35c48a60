# SPDX-License-Identifier: MIT
"""The built-in layout rows (src/python/layouts.c) against the real headers.

tests/layouts/probe.c is compiled once per installed CPython, against that
version's include directory and with src/python/layouts.c, and checks the
version's row: offsets against offsetof(), the bytes spyglass reads against
each member's width, the members read out of a copy against the copy's size,
sizes against sizeof(). Versions whose headers are not installed are skipped
with the reason printed (pytest -rs). 3.13+ have no row: their offsets come
from _Py_DebugOffsets at run time.
"""
import glob
import os
import re
import subprocess

import pytest

from conftest import ROOT, TIMEOUT, _pyenv_root

ROWS = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12"]
PROBE = os.path.join(ROOT, "tests", "layouts", "probe.c")
LAYOUTS = os.path.join(ROOT, "src", "python", "layouts.c")
CC = os.environ.get("CC", "cc")


def _headers(pattern):
    """Include directories with a Python.h, by minor version ('python3.6m' -> '3.6')."""
    found = {}
    for inc in sorted(glob.glob(pattern)):
        m = re.match(r"python(\d+\.\d+)m?$", os.path.basename(inc))
        if m and os.path.exists(os.path.join(inc, "Python.h")):
            found.setdefault(m.group(1), []).append(inc)
    return found


PYENV_HEADERS = _headers(os.path.join(_pyenv_root(), "versions", "*", "include", "python*"))
DEBIAN_HEADERS = _headers("/usr/include/python3*")


def probe(inc, tmp_path):
    """Compile the probe against one include directory, run it: (status, output)."""
    exe = str(tmp_path / ("probe-" + os.path.basename(inc)))
    # -isystem: CPython's headers are not ours, so their warnings are not our errors.
    cc = subprocess.run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-isystem", inc,
                         "-I" + os.path.join(ROOT, "src"), "-o", exe, PROBE, LAYOUTS],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    assert cc.returncode == 0, "probe does not compile against %s:\n%s" % (inc, cc.stdout.decode())
    run = subprocess.run([exe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    return run.returncode, run.stdout.decode()


@pytest.mark.parametrize("version", ROWS + ["debian"])
def test_layout_row_matches_headers(version, tmp_path):
    if version == "debian":
        found = sorted(DEBIAN_HEADERS.items())
        if not found:
            pytest.skip("Debian's CPython headers (python3-dev, /usr/include/python3.*) not found")
        incs = [inc for v, dirs in found if v in ROWS for inc in dirs]
        if not incs:
            pytest.skip("Debian's headers are %s: no built-in row (3.13+ offsets come from "
                        "_Py_DebugOffsets at run time)" % ", ".join(v for v, _ in found))
    else:
        incs = PYENV_HEADERS.get(version)
        if not incs:
            pytest.skip("Python %s headers not found under %s" % (version, _pyenv_root()))
    failed = []
    for inc in incs:
        status, out = probe(inc, tmp_path)
        # The probe's last line is "X.Y.Z: N checks, M failed"; FAIL lines name each mismatch.
        summary = out.strip().splitlines()[-1] if out.strip() else ""
        assert re.match(r"\d+\.\d+\.\d+\S*: \d+ checks, \d+ failed$", summary), (inc, out)
        assert version == "debian" or summary.startswith(version + "."), (inc, summary)
        if status != 0:
            failed.append("%s:\n%s" % (inc, out))
    assert not failed, "layout rows disagree with the headers:\n" + "\n".join(failed)


def test_heap_fields_313_match_headers(tmp_path):
    """3.13's heap and tracemalloc fields are not in _Py_DebugOffsets:
    debug_offsets.c keeps what tools/gen-layouts/probe-heap.c prints from its
    headers."""
    incs = PYENV_HEADERS.get("3.13")
    if not incs:
        pytest.skip("Python 3.13 headers not found under %s" % _pyenv_root())
    exe = str(tmp_path / "probe-heap")
    cc = subprocess.run([CC, "-w", "-I" + incs[0], "-o", exe,
                         os.path.join(ROOT, "tools", "gen-layouts", "probe-heap.c")],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    assert cc.returncode == 0, cc.stdout.decode()
    out = subprocess.run([exe], stdout=subprocess.PIPE, timeout=TIMEOUT).stdout.decode()
    heap_out, tm_out = out.split(".tracemalloc = {", 1)
    with open(os.path.join(ROOT, "src", "python", "debug_offsets.c")) as f:
        src = f.read()
    # The heap group, and tracemalloc's (its kinds by name, the rest numbers).
    for printed, block in ((heap_out, src.split("} heap313 = {", 1)[1].split("};", 1)[0]),
                           (tm_out, src.split("tm313 = {", 1)[1].split("};", 1)[0])):
        want = dict(re.findall(r"\.(\w+) = (\w+),", printed))
        have = dict(re.findall(r"\.(\w+) = (\w+),", block))
        want.pop("gc_kind", None)  # debug_offsets.c sets it in code
        assert want and have == want, (have, want)
