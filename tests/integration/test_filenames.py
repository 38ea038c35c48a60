# SPDX-License-Identifier: MIT
"""How file names are shown: relative to the folder the target imported them
from (its standard library, its program's folder) by default, whole with
--full-filenames, and always whole in pprof, whose path roots let convert
shorten them the same way."""
import os
import re
import subprocess

import pytest

from conftest import SPYGLASS, TIMEOUT, WORKLOADS, parse_folded
from test_pprof import GO, go_env, pprof  # noqa: F401  (go_env is a fixture)

HELPER = os.path.join(WORKLOADS, "filenames_helper.py")
SCRIPT = os.path.join(WORKLOADS, "filenames.py")
FRAME = re.compile(r"^(.*) \((.*?)(?::(\d+))?\)$")


def run(cmd, want_stderr=False):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    assert proc.returncode == 0, stderr
    return stderr if want_stderr else proc.stdout.decode("utf-8", "replace")


def summary_files(stderr):
    """The files of the summary's hottest-functions table."""
    table = stderr.split("hottest functions", 1)[1].splitlines()[1:]
    return {m.group(2) for m in (FRAME.match(line.split("  ")[-1].strip()) for line in table) if m}


def files(path):
    """Every (function, file) of the frames of a folded file."""
    with open(str(path), encoding="utf-8") as f:
        stacks = parse_folded(f.read())
    return {(m.group(1).rsplit(".", 1)[-1], m.group(2))
            for stack in stacks for m in map(FRAME.match, stack) if m}


def stdlib_of(python):
    return run([python, "-c", "import json, os; print(os.path.dirname(os.path.dirname("
                "os.path.realpath(json.__file__))))"]).strip()


def check_short(seen):
    # The script is given whole on the command line; it shows as relative
    # to its folder too.
    assert {("decode_all", "filenames_helper.py"), ("main", "filenames.py"),
            ("raw_decode", "json/decoder.py")} <= seen, seen
    assert not [f for _, f in seen if f.startswith("/")], seen


def check_full(seen, stdlib):
    assert {("decode_all", HELPER), ("main", SCRIPT),
            ("raw_decode", os.path.join(stdlib, "json", "decoder.py"))} <= seen, seen
    assert not [f for _, f in seen if f.endswith(".py") and not f.startswith("/")], seen


def test_short_and_full_filenames(python, tmp_path):
    """record shows paths relative to the stdlib and the program's folder;
    --full-filenames shows them whole."""
    short, full = tmp_path / "short.folded", tmp_path / "full.folded"
    said = run([SPYGLASS, "record", "-r", "200", "-o", str(short), "--", python, SCRIPT, "1"],
               want_stderr=True)
    said_full = run([SPYGLASS, "record", "-r", "200", "--full-filenames", "-o", str(full), "--",
                     python, SCRIPT, "1"], want_stderr=True)
    check_short(files(short))
    check_full(files(full), stdlib_of(python))
    # The summary names files as the profile does.
    assert summary_files(said) and summary_files(said) <= {f for _, f in files(short)}, said
    assert summary_files(said_full) <= {f for _, f in files(full)}, said_full


def test_pprof_keeps_whole_paths(python, tmp_path, go_env):  # noqa: F811
    """pprof holds whole paths and the roots; convert shortens as record does,
    or not with --full-filenames."""
    pb = tmp_path / "run.pb.gz"
    run([SPYGLASS, "record", "-r", "200", "-o", str(pb), "--", python, SCRIPT, "1"])
    if GO:
        raw = pprof(go_env, "-raw", str(pb))
        assert HELPER + ":" in raw and " filenames_helper.py:" not in raw
        assert "spyglass.path_root=%s/" % WORKLOADS in raw
    run([SPYGLASS, "convert", str(pb), "-o", str(tmp_path / "short.folded")])
    run([SPYGLASS, "convert", "--full-filenames", str(pb), "-o", str(tmp_path / "full.folded")])
    check_short(files(tmp_path / "short.folded"))
    check_full(files(tmp_path / "full.folded"), stdlib_of(python))


@pytest.mark.parametrize("fmt", ["flamegraph", "speedscope", "chrometrace"])
def test_other_writers_shorten(tmp_path, fmt):
    """Every text writer names frames the same way: convert a recorded pprof
    to each and look for the short and the whole names."""
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else None
    if not python:
        pytest.skip("no /usr/bin/python3")
    pb = tmp_path / "run.pb.gz"
    run([SPYGLASS, "record", "-r", "200", "-o", str(pb), "--", python, SCRIPT, "1"])
    short, full = tmp_path / "short.out", tmp_path / "full.out"
    run([SPYGLASS, "convert", "-f", fmt, str(pb), "-o", str(short)])
    run([SPYGLASS, "convert", "-f", fmt, "--full-filenames", str(pb), "-o", str(full)])
    short_text = short.read_text(encoding="utf-8")
    full_text = full.read_text(encoding="utf-8")
    # (Chrome trace slices are functions: no line. The "file" members of
    # speedscope and Chrome traces keep whole paths.)
    assert "decode_all (filenames_helper.py" in short_text
    assert "decode_all (%s" % HELPER in full_text
    assert "decode_all (%s" % HELPER not in short_text


def test_site_packages_relative(python, tmp_path):
    """A module under a site-packages folder (here one the program adds to
    sys.path, outside the standard library and the program's folder) is
    shown relative to it: mypkg/work.py."""
    site = tmp_path / "env" / "lib" / "python3" / "site-packages" / "mypkg"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("")
    (site / "work.py").write_text(
        "import time\n"
        "def burn(seconds):\n"
        "    end = time.time() + seconds\n"
        "    while time.time() < end:\n"
        "        sum(i * i for i in range(100))\n")
    app = tmp_path / "app"
    app.mkdir()
    script = app / "main.py"
    script.write_text("import sys\nsys.path.insert(0, %r)\nfrom mypkg import work\n"
                      "work.burn(1.5)\n" % str(site.parent))
    out = tmp_path / "site.folded"
    run([SPYGLASS, "record", "-r", "200", "-o", str(out), "--", python, str(script)])
    seen = files(out)
    assert ("burn", "mypkg/work.py") in seen and ("<module>", "main.py") in seen, seen
    assert not [f for _, f in seen if f.startswith("/")], seen
