# SPDX-License-Identifier: MIT
"""Bad input gets one clear line, a non-zero exit, and leaves the target alone."""
import os
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, SPYGLASS, TIMEOUT


def spyglass(*args):
    proc = subprocess.run([SPYGLASS] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=TIMEOUT)
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def assert_one_line_error(status, stderr, *words):
    assert status > 0, (status, stderr)  # an exit status, not a signal
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("spyglass: "), stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture
def out_path():
    fd, path = tempfile.mkstemp(suffix=".folded")
    os.close(fd)
    os.unlink(path)
    yield path
    if os.path.exists(path):
        os.unlink(path)


def test_no_such_pid(out_path):
    assert_one_line_error(*spyglass("record", "-o", out_path, "--pid", "4194300"), "no process")
    assert not os.path.exists(out_path)


def test_pid_not_python(out_path):
    """Not CPython: sampled natively (test_native.py), and never disturbed."""
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        status, err = spyglass("record", "-d", "0.5", "-o", out_path, "--pid", str(sleeper.pid))
        assert status == 0, err
        assert "(native, cpu mode" in err, err
        assert sleeper.poll() is None  # untouched, still running
    finally:
        sleeper.kill()
        sleeper.wait()


def test_unsupported_version(out_path, tmp_path):
    # A process that looks like a CPython 3.99 to anyone reading its ELF file.
    src = tmp_path / "fakepy.c"
    src.write_text("#include <unistd.h>\n"
                   "char _PyRuntime[65536] = {1};\n"
                   "const unsigned long Py_Version = 0x036300f0;\n"
                   "int PyCode_Type = 1;\n"
                   "int main(void) { sleep(30); return _PyRuntime[0] + PyCode_Type; }\n")
    exe = tmp_path / "fakepy"
    subprocess.check_call(["cc", "-rdynamic", "-o", str(exe), str(src)])
    fake = subprocess.Popen([str(exe)])
    try:
        time.sleep(0.2)
        assert_one_line_error(*spyglass("record", "-o", out_path, "--pid", str(fake.pid)),
                              "3.99", "not supported")
        assert fake.poll() is None
    finally:
        fake.kill()
        fake.wait()


def test_unwritable_output():
    assert_one_line_error(*spyglass("record", "-o", "/nonexistent-dir/x.folded", "--", "true"),
                          "/nonexistent-dir/x.folded")


def test_command_cannot_start(out_path):
    assert_one_line_error(*spyglass("record", "-o", out_path, "--", "/no/such/program"),
                          "cannot start", "/no/such/program")


def test_launched_program_is_not_python(out_path):
    status, err = spyglass("record", "-o", out_path, "--", "sleep", "0.3")
    assert status == 0, err
    assert "(native, cpu mode" in err, err


@pytest.mark.parametrize("args, words", [
    (["-r", "0"], ["-r"]),
    (["-r", "abc"], ["-r", "abc"]),
    (["-r", "-5"], ["-r"]),
    (["-d", "-1"], ["-d"]),
    (["-d", "soon"], ["-d"]),
    (["--mode", "foo"], ["--mode", "foo"]),
    (["--pid", "12x"], ["--pid"]),
    (["-f", "nosuchformat"], ["nosuchformat"]),
    (["--bogus"], ["--bogus"]),
    ([], ["nothing to profile"]),
    (["--pid", "1", "--", "true"], ["not both"]),
])
def test_bad_options(args, words, out_path):
    status, err = spyglass("record", "-o", out_path, *args)
    assert_one_line_error(status, err, *words)
    assert status == 2


def test_unknown_command():
    assert_one_line_error(*spyglass("frobnicate"), "frobnicate")


def test_help_and_version():
    status, _ = spyglass("record", "--help")
    assert status == 0
    out = subprocess.run([SPYGLASS, "--version"], stdout=subprocess.PIPE, timeout=TIMEOUT)
    assert out.returncode == 0 and out.stdout.startswith(b"spyglass ")


def test_no_permission(out_path):
    """An unprivileged user may not read another user's process: say what is missing."""
    if os.getuid() != 0 or not os.path.exists("/usr/bin/setpriv"):
        pytest.skip("needs root and setpriv to run as another user")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        proc = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               SPYGLASS, "record", "-o", "/tmp/spyglass-perm-test.folded",
                               "--pid", str(sleeper.pid)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
        assert_one_line_error(proc.returncode, proc.stderr.decode(), "not allowed", "CAP_SYS_PTRACE")
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
