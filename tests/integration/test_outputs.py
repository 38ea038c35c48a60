# SPDX-License-Identifier: MIT
"""How outputs are written: a failed or killed run never damages or removes
what the output path names; devices, FIFOs and pipes are written as they
are; write errors (a full disk, a closed pipe) get one line saying which.

Output handling does not depend on the CPython version, so these tests use
one interpreter (the first found), and short runs of tests/workloads."""
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from conftest import DEBIAN, INTERPRETERS, ROOT, SPYGLASS, TIMEOUT, WORKLOADS, parse_folded

PYTHON = DEBIAN or (sorted(INTERPRETERS.values()) or [None])[0]
BUSY = [os.path.join(WORKLOADS, "cpu_split.py"), "30"]
OLD = b"old content\n"

pytestmark = pytest.mark.skipif(not PYTHON, reason="no CPython found")


def run(args, cwd=None, stdout=subprocess.PIPE):
    proc = subprocess.run([SPYGLASS] + args, stdout=stdout, stderr=subprocess.PIPE,
                          timeout=TIMEOUT, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


def record_busy(out, seconds="0.5", extra=()):
    """A short successful run of a busy workload written to out."""
    return run(["record", "-d", seconds, "-o", out] + list(extra) + ["--", PYTHON] + BUSY)


def error_line(status, stderr):
    assert status == 1, (status, stderr)  # an exit status, not a signal
    lines = stderr.strip("\n").split("\n")
    assert lines[-1].startswith("spyglass: "), stderr
    return lines[-1]


@pytest.fixture
def sleeper(tmp_path_factory):
    """A process that looks like a CPython of a version we have no layout
    for (3.99): attaching to it fails after the output path was checked.
    (Any other program would now be recorded through perf_events.)"""
    where = tmp_path_factory.mktemp("fakepy")
    src = where / "fakepy.c"
    src.write_text("#include <unistd.h>\n"
                   "char _PyRuntime[65536] = {1};\n"
                   "const unsigned long Py_Version = 0x036300f0;\n"
                   "int PyCode_Type = 1;\n"
                   "int main(void) { sleep(60); return _PyRuntime[0] + PyCode_Type; }\n")
    exe = where / "fakepy"
    subprocess.check_call(["cc", "-rdynamic", "-o", str(exe), str(src)])
    proc = subprocess.Popen([str(exe)])
    time.sleep(0.2)
    yield proc.pid
    proc.kill()
    proc.wait()


def test_failed_run_keeps_device_node(tmp_path, sleeper):
    """12.1: a failed run removed a device node given as output (as root,
    -o /dev/null would have removed the real one). c 1 3 is /dev/null."""
    node = str(tmp_path / "n")
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    status, _, err = run(["record", "-o", node, "--pid", str(sleeper)])
    assert "not supported" in error_line(status, err)
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_failed_run_keeps_old_file_and_link(tmp_path, sleeper):
    """12.1: a failed run emptied a symlink's target and removed the link; a
    regular file was truncated and removed."""
    target, link = tmp_path / "target.folded", tmp_path / "link.folded"
    target.write_bytes(OLD)
    os.chmod(str(target), 0o640)
    link.symlink_to("target.folded")
    for out in (target, link):
        status, _, err = run(["record", "-o", str(out), "--pid", str(sleeper)])
        error_line(status, err)
        assert os.path.islink(str(link)) and target.read_bytes() == OLD
    assert sorted(os.listdir(str(tmp_path))) == ["link.folded", "target.folded"]  # no temp left


def test_symlink_output_replaces_target_keeps_link(tmp_path):
    """12.1: through a symlink, the target gets the profile, the link stays,
    and the replaced file keeps its mode."""
    target, link = tmp_path / "target.folded", tmp_path / "link.folded"
    target.write_bytes(OLD)
    os.chmod(str(target), 0o640)
    link.symlink_to("target.folded")
    status, _, err = record_busy(str(link))
    assert status == 0, err
    assert os.path.islink(str(link))
    assert sum(parse_folded(target.read_text()).values()) > 0
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o640
    assert sorted(os.listdir(str(tmp_path))) == ["link.folded", "target.folded"]


def test_full_device_is_reported_and_kept(tmp_path):
    """12.1 and 12.4: a copy of /dev/full was removed after "input/output
    error"; now it stays and the line says the disk is full."""
    node = str(tmp_path / "full")
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    status, _, err = record_busy(node)
    line = error_line(status, err)
    assert node in line and "no space left on device" in line, line
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_full_disk_names_the_folder_and_keeps_old_file(tmp_path):
    """12.4: a full file system: "no space left on device", in which folder,
    and the previous file is left whole."""
    if os.getuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)]) != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        out = mnt / "out.svg"
        out.write_bytes(OLD)
        # Leave 8 KB, less than this run's flame graph (about 12 KB, its
        # script and styles alone 6 KB): fill until the disk refuses, then
        # free two pages.
        with open(str(mnt / "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"x" * 4096)
            except OSError:
                pass
        os.truncate(str(mnt / "filler"), os.path.getsize(str(mnt / "filler")) - 8192)
        status, _, err = record_busy(str(out))
        line = error_line(status, err)
        assert "no space left on device" in line and str(mnt) in line, line
        assert "input/output error" not in line
        assert out.read_bytes() == OLD
        assert sorted(os.listdir(str(mnt))) == ["filler", "out.svg"]  # temp removed
    finally:
        subprocess.call(["umount", str(mnt)])


def test_kill9_leaves_old_file_whole(tmp_path):
    """12.1: the output was opened (truncated) before sampling, so kill -9
    left an empty file. Now nothing is touched until the profile is whole."""
    out, new = tmp_path / "old.folded", tmp_path / "new.folded"
    out.write_bytes(OLD)
    for path in (out, new):
        proc = subprocess.Popen([SPYGLASS, "record", "-o", str(path), "--", PYTHON] + BUSY,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # sampling, however loaded the machine: the run is 30 s
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
            children = [int(c) for c in f.read().split()]
        proc.kill()
        proc.wait(timeout=TIMEOUT)
        for child in children:  # the workload, orphaned by kill -9
            os.kill(child, signal.SIGKILL)
    assert out.read_bytes() == OLD
    assert not new.exists()


def test_kill9_mid_write_leaves_old_file_whole(tmp_path):
    """12.1, the write itself: spyglass stopped (SIGSTOP) while its
    temporary file beside the output is being filled, then killed -9: the
    output is still the old file, byte for byte. A write in place would
    have truncated it. (Tries again when the write ended before the stop
    reached it; the profile is big enough for a write of a second or so.)"""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import genprofile
    src = tmp_path / "big.pb.gz"
    genprofile.write_pprof(str(src), threads=4, rate=10000, seconds=30, depth=60)
    out = tmp_path / "out.json"
    caught = False
    for attempt in range(10):
        out.write_bytes(OLD)
        proc = subprocess.Popen([SPYGLASS, "convert", str(src), "-o", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stopped = False
        while proc.poll() is None and not stopped:
            for entry in os.scandir(str(tmp_path)):
                if entry.name.startswith(".out.json.") and entry.stat().st_size > 0:
                    os.kill(proc.pid, signal.SIGSTOP)
                    stopped = True
                    break
        if stopped:
            temps = [e.name for e in os.scandir(str(tmp_path)) if e.name.startswith(".out.json.")]
            caught = bool(temps) and out.read_bytes() == OLD
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
        if caught:
            assert out.read_bytes() == OLD
            break
        # Missed: the run ended first, and wrote its output whole.
        assert json.loads(out.read_text())["$schema"].startswith("https://www.speedscope.app")
    assert caught, "never stopped mid-write in 10 tries"


class Stderr(object):
    """Collects a process's stderr lines in a thread, to wait for one."""

    def __init__(self, proc):
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc.stderr,))
        self.thread.start()

    def _read(self, pipe):
        for line in pipe:
            with self.cond:
                self.lines.append(line.decode("utf-8", "replace"))
                self.cond.notify_all()

    def wait_for(self, word, timeout=TIMEOUT):
        deadline = time.time() + timeout
        with self.cond:
            while not any(word in l for l in self.lines):
                left = deadline - time.time()
                assert left > 0, "no %r in %r" % (word, self.lines)
                self.cond.wait(left)

    def text(self):
        self.thread.join(TIMEOUT)
        return "".join(self.lines)


def test_fifo_without_reader_does_not_block_the_run(tmp_path):
    """12.2: a FIFO with no reader blocked spyglass in open() before
    sampling, ignoring -d, while the launched program ran unprofiled. Now
    the run samples for -d, then says it waits for a reader; one comes."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    proc = subprocess.Popen([SPYGLASS, "record", "-d", "1", "-o", fifo, "--", PYTHON] + BUSY,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = Stderr(proc)
    try:
        err.wait_for("waiting up to")
        with open(fifo) as f:
            stacks = parse_folded(f.read())
        assert proc.wait(timeout=TIMEOUT) == 0, err.text()
    finally:
        if proc.poll() is None:
            proc.kill()
    # About 100 samples in 1 s at 100 Hz; a loaded machine may miss ticks.
    assert sum(stacks.values()) >= 10, stacks
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_fifo_wait_ends_on_signal(tmp_path, sig):
    """12.2: Ctrl-C or SIGTERM while waiting for a FIFO's reader gives up
    in one line."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    proc = subprocess.Popen([SPYGLASS, "record", "-d", "0.3", "-o", fifo, "--", PYTHON] + BUSY,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = Stderr(proc)
    try:
        err.wait_for("waiting up to")
        proc.send_signal(sig)
        status = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    line = error_line(status, err.text())
    assert fifo in line and "gave up" in line, line
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("out", ["-", "/dev/stdout"])
def test_closed_pipe_is_reported(out):
    """12.3: a closed pipe killed spyglass with SIGPIPE (status 141), silently."""
    proc = subprocess.Popen([SPYGLASS, "record", "-d", "0.5", "-o", out, "--", PYTHON] + BUSY,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written
    _, err = proc.communicate(timeout=TIMEOUT)
    line = error_line(proc.returncode, err.decode())
    assert "broken pipe" in line, line


def test_pipe_closed_by_head():
    """12.3, as a shell user sees it: `-o /dev/stdout | head -c 10`, with a
    trace far bigger than the pipe's 64 KB buffer (about 400 B a sample, as
    the stacks change every few samples: 2000 samples make 800 KB, and even
    a loaded machine missing 80% of the ticks makes 160 KB), so writing
    meets the closed end."""
    proc = subprocess.run("%s record -d 2 -r 1000 -f chrometrace -o /dev/stdout -- %s %s"
                          " | head -c 10"
                          " >/dev/null; echo \"rc=${PIPESTATUS[0]}\" >&2"
                          % (SPYGLASS, PYTHON, " ".join(BUSY)),
                          shell=True, executable="/bin/bash", stderr=subprocess.PIPE,
                          timeout=TIMEOUT)
    err = proc.stderr.decode()
    assert "rc=1" in err, err
    assert "broken pipe" in err, err


def test_dash_writes_stdout(tmp_path):
    """11.17: -o - created a file named '-'; now it is standard output, for
    record and convert."""
    status, out, err = run(["record", "-d", "0.5", "-o", "-", "--", PYTHON] + BUSY,
                           cwd=str(tmp_path))
    assert status == 0, err
    stacks = parse_folded(out.decode())
    assert sum(stacks.values()) > 0
    assert "wrote standard output" in err
    assert os.listdir(str(tmp_path)) == []
    saved = tmp_path / "run.folded"
    saved.write_bytes(out)
    status, out, err = run(["convert", str(saved), "-o", "-"], cwd=str(tmp_path))
    assert status == 0, err
    assert parse_folded(out.decode()) == stacks
    status, out, err = run(["convert", str(saved), "-f", "speedscope", "-o", "-"])
    assert status == 0 and out.startswith(b"{"), err
    assert os.listdir(str(tmp_path)) == ["run.folded"]


def test_unwritable_folder_fails_before_sampling(tmp_path):
    """Checked early: a read-only folder fails at once, naming the output."""
    if os.getuid() == 0:
        pytest.skip("root may write any folder")
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(str(ro), 0o555)
    status, _, err = run(["record", "-o", str(ro / "x.folded"), "--", PYTHON] + BUSY)
    assert str(ro / "x.folded") in error_line(status, err)


def test_directory_output_is_refused(tmp_path):
    status, _, err = run(["record", "-o", str(tmp_path), "--", PYTHON] + BUSY)
    assert "is a directory" in error_line(status, err)
    assert tmp_path.is_dir()


def test_empty_path_is_refused():
    status, _, err = run(["record", "-o", "", "--", PYTHON] + BUSY)
    assert "path is empty" in error_line(status, err)
