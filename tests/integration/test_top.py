# SPDX-License-Identifier: MIT
"""spyglass top: the live view driven in a real terminal (tmux, 80x24, keys
sent with send-keys, the screen read with capture-pane), and its one-shot
text output (--once, or standard output not a terminal) for scripts.

Every wait polls the screen or the process with a generous timeout: on a
loaded 2-core machine a refresh may come seconds late, so no fixed sleep is
an assertion."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import DEBIAN, INTERPRETERS, SPYGLASS, TIMEOUT, WORKLOADS, start, stop, tolerance

# A table row: %Self %Total Self Total, then the function (or a thread).
ROW = re.compile(r"^ +(\d+\.\d) +(\d+\.\d)? +(\d+) +(\d+)? +(\S.*)$")
WAIT = 60  # seconds any one screen may take to come, on a loaded machine

needs_tmux = pytest.mark.skipif(not shutil.which("tmux"), reason="tmux not installed")


def needs_debian():
    if not DEBIAN:
        pytest.skip("Debian's /usr/bin/python3 not found")
    return DEBIAN


def rows(text):
    """The table's rows: [(self%, total%, self, total, key)], in screen order."""
    out = []
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            out.append((float(m.group(1)), float(m.group(2) or 0), int(m.group(3)),
                        int(m.group(4) or 0), m.group(5)))
    return out


def fn_name(key):
    return key.rsplit(" (", 1)[0]


def top(*args, timeout=TIMEOUT, env=None):
    proc = subprocess.run([SPYGLASS, "top"] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=env)
    err = proc.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), err


class Terminal(object):
    """A tmux server of our own (its own socket), one 80x24 window running
    a plain shell whose prompt is '$ '."""

    def __init__(self, tmp_path, width=80, height=24):
        self.sock = str(tmp_path / "tmux.sock")
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
                  "env", "PS1=$ ", "bash", "--norc", "--noprofile")
        self.wait(lambda s: s.rstrip().endswith("$"), "the shell's prompt")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT, check=True).stdout.decode(
                                  "utf-8", "replace")

    def screen(self):
        return self.tmux("capture-pane", "-p")

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def run(self, command):
        self.keys(command, "Enter")

    def wait(self, ready, what, timeout=WAIT):
        """Poll the screen until ready(screen) holds; return that screen."""
        deadline = time.time() + timeout
        while True:
            text = self.screen()
            if ready(text):
                return text
            if time.time() > deadline:
                raise AssertionError("no %s within %d s; the screen:\n%s" % (what, timeout, text))
            time.sleep(0.1)

    def flag(self, name):
        return self.tmux("display-message", "-p", "#{%s}" % name).strip()

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], stderr=subprocess.DEVNULL)


@pytest.fixture
def term(tmp_path):
    t = Terminal(tmp_path)
    yield t
    t.close()


def table(text):
    return rows(text.split("Function (file)", 1)[-1].split("Thread / function (file)", 1)[-1])


def launch_top(term, tmp_path, workload, *wargs, top_args=()):
    """Start top on a workload in the terminal; its pid file and status file."""
    pidfile, status = str(tmp_path / "top.pid"), str(tmp_path / "status")
    cmd = " ".join(["sh", "-c", "'echo $$ > %s; exec \"$@\"'" % pidfile, "sh", SPYGLASS, "top"] +
                   list(top_args) + ["--", DEBIAN, os.path.join(WORKLOADS, workload)] +
                   [str(a) for a in wargs])
    term.run("%s 2>%s/stderr; echo \"EXIT=$?\" > %s; echo done" % (cmd, tmp_path, status))
    return pidfile, status


def wait_file(path, timeout=WAIT):
    deadline = time.time() + timeout
    while not (os.path.exists(path) and open(path).read().endswith("\n")):
        assert time.time() < deadline, "no %s within %d s" % (path, timeout)
        time.sleep(0.1)
    return open(path).read()


def assert_terminal_sane(term, tmp_path):
    """Out of the alternate screen, cursor shown, the shell's prompt back,
    and the line discipline as a shell wants it: echo and canonical input."""
    term.wait(lambda s: s.rstrip().endswith("$"), "the prompt after top")
    assert term.flag("alternate_on") == "0"
    assert term.flag("cursor_flag") == "1"
    out = str(tmp_path / "stty")
    term.run("stty -a > %s; echo ok" % out)
    settings = wait_file(out).split()
    assert "echo" in settings and "icanon" in settings and "isig" in settings, settings
    # What was typed shows: echo is on.
    term.keys("echo typed-text-shows")
    term.wait(lambda s: "typed-text-shows" in s, "typed text echoed")
    term.keys("Enter")


def gone(pid, timeout=WAIT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.1)
    return False


def program_pid(top_pid):
    """The workload top launched: its child."""
    deadline = time.time() + WAIT
    while time.time() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (top_pid, top_pid)) as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    raise AssertionError("top started no program")


@needs_tmux
def test_top_screen_sort_threads_pause_quit(term, tmp_path):
    """Issue 6: the hot function of shared_callee (burn, two thirds of the
    work) heads the table by self; key 2 sorts by total (main, on every
    stack, above burn); t shows each thread; p pauses; q quits, ends the
    launched program and gives the terminal back as it was."""
    needs_debian()
    pidfile, status = launch_top(term, tmp_path, "shared_callee.py", 300,
                                 top_args=["--interval", "0.5"])
    screen = term.wait(lambda s: len(table(s)) >= 3 and table(s)[0][0] > 0, "a table")
    top_pid = int(wait_file(pidfile))
    child = program_pid(top_pid)
    # Every line fits the 80 columns, the keys are on the last line.
    lines = screen.rstrip("\n").split("\n")
    assert len(lines) == 24 and lines[-1].startswith("keys: "), screen
    assert "sorted by %Self" in screen and ">%Self" in screen
    # burn's share of the work is ~67% (6+2 of 12 ms a round), own_work's
    # ~33%: after a few refreshes burn leads by self. Its %Self is of one
    # interval (0.5 s, ~50 samples), so only the order is asserted.
    screen = term.wait(lambda s: table(s) and fn_name(table(s)[0][4]) == "burn" and
                       fn_name(table(s)[1][4]) == "own_work", "burn, then own_work, by self")
    t = table(screen)
    assert all(a[0] >= b[0] for a, b in zip(t, t[1:])), t  # by %Self, descending

    term.keys("2")
    screen = term.wait(lambda s: "sorted by %Total" in s and ">%Total" in s, "sort by total")
    t = table(screen)
    assert all(a[1] >= b[1] for a, b in zip(t, t[1:])), t
    names = [fn_name(r[4]) for r in t]
    assert names.index("main") < names.index("burn"), names

    term.keys("4")
    screen = term.wait(lambda s: "sorted by Total" in s, "sort by total since the start")
    t = table(screen)
    assert all(a[3] >= b[3] for a, b in zip(t, t[1:])), t

    term.keys("1", "t")
    # One thread, named by the kernel (the program never imports threading).
    screen = term.wait(lambda s: "thread %d python3 (" % child in s, "per thread")
    assert "Thread / function (file)" in screen
    t = table(screen)
    assert t[0][4].startswith("thread %d python3 (" % child), t
    # The thread's functions follow it, indented.
    assert fn_name(t[1][4].strip()) == "burn" or fn_name(t[2][4].strip()) == "burn", t
    term.keys("t")
    term.wait(lambda s: "Function (file)" in s and "Thread / function" not in s, "functions")

    term.keys("p")
    paused = term.wait(lambda s: "PAUSED" in s, "paused")
    frozen = paused.split("\n")[1]  # the line with the elapsed time and samples
    # Over several refresh intervals the screen does not change.
    deadline = time.time() + 2
    while time.time() < deadline:
        assert term.screen().split("\n")[1] == frozen
        time.sleep(0.2)
    term.keys("p")
    term.wait(lambda s: "PAUSED" not in s and s.split("\n")[1] != frozen, "running again")

    term.keys("q")
    assert wait_file(status) == "EXIT=0\n"
    assert gone(child), "the launched program outlived top"
    assert_terminal_sane(term, tmp_path)
    with open(str(tmp_path / "stderr")) as f:
        err = f.read()
    assert "stopped on request" in err and "Sanitizer" not in err, err


@needs_tmux
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "exit"])
def test_top_gives_the_terminal_back(term, tmp_path, how):
    """Issue 6: Ctrl-C, SIGTERM and the program's own exit each end top with
    the terminal restored; the exit status is the program's (as record's)."""
    needs_debian()
    seconds = 10 if how == "exit" else 300
    pidfile, status = launch_top(term, tmp_path, "cpu_split.py", seconds,
                                 top_args=["--interval", "0.5"])
    top_pid = int(wait_file(pidfile))
    child = program_pid(top_pid)
    term.wait(lambda s: any(fn_name(r[4]) == "spin" for r in table(s)), "the table")
    if how == "ctrl-c":
        term.keys("C-c")
        want = {"EXIT=130\n"}  # the program died of the SIGINT the terminal sent it
    elif how == "sigterm":
        os.kill(top_pid, signal.SIGTERM)
        want = {"EXIT=143\n"}  # we end it, as asked to end
    else:
        want = {"EXIT=0\n"}
    assert wait_file(status) in want
    assert gone(child)
    assert_terminal_sane(term, tmp_path)


@needs_tmux
def test_top_idle_key(term, tmp_path):
    """In wall mode idle samples show at first: wall_split's sleeper (60% of
    the wall time, asleep) is listed; i leaves them out, and its share with
    them (a sample caught as it enters or leaves the sleep may run)."""
    needs_debian()
    pidfile, status = launch_top(term, tmp_path, "wall_split.py", 300,
                                 top_args=["--interval", "0.5", "--mode", "wall"])
    top_pid = int(wait_file(pidfile))

    def share(screen, name):
        return sum(r[0] for r in table(screen) if fn_name(r[4]) == name)

    # 60% +- a lot: one interval's ~50 samples; 30 is far below.
    term.wait(lambda s: "idle shown" in s and share(s, "sleeper") >= 30, "sleeper by self")
    term.keys("i")
    screen = term.wait(lambda s: "idle left out" in s and "samples on a CPU" in s, "idle out")
    assert share(screen, "sleeper") < 10, screen
    # burner's samples (on a CPU) are then nearly all of them.
    term.wait(lambda s: "idle left out" in s and share(s, "spin") + share(s, "thread_cpu") >= 60,
              "burner's loop as most of the on-CPU samples")
    term.keys("q")
    assert wait_file(status) == "EXIT=0\n"
    assert gone(top_pid)
    assert_terminal_sane(term, tmp_path)


def test_top_once_subprocesses():
    """--subprocesses: the children's functions count too, and their threads."""
    python = needs_debian()
    status, out, err = top("--once", "--subprocesses", "--interval", 3, "--", python,
                           os.path.join(WORKLOADS, "children.py"), 30, 2)
    assert status == 0, err
    names = {fn_name(r[4]): r for r in table(out)}
    assert "parent_work" in names and "child_work" in names, out
    # Two children burn as the parent does (on a loaded machine each gets
    # what it gets): they are sampled at all.
    assert names["child_work"][3] > 0 and names["parent_work"][3] > 0, out
    threads = int(re.search(r"threads (\d+)", out).group(1))
    assert threads >= 3, out  # a main thread in each of the 3 processes


def test_top_once_matches_truth(tmp_path):
    """Issue 6: top's text (here the program ends before the first refresh,
    so it covers the whole run) gives burn and own_work the shares of the
    work the workload measured itself: Self counts, among the two."""
    python = needs_debian()
    truth_path = str(tmp_path / "truth.json")
    env = dict(os.environ, SPYGLASS_TRUTH=truth_path)
    status, out, err = top("--once", "--interval", 600, "--rate", 200, "--", python,
                           os.path.join(WORKLOADS, "shared_callee.py"), 3, env=env)
    assert status == 0, err
    with open(truth_path) as f:
        truth = json.load(f)
    assert out.startswith("spyglass top: pid %d, " % truth["pid"]), out
    assert "Python %s, cpu mode, 200 Hz" % truth["python"] in out, out
    assert "keys:" not in out
    t = {fn_name(r[4]): r for r in table(out)}
    cpu = truth["cpu"]
    burn, own = t["burn"][2], t["own_work"][2]
    want = (cpu["caller_a"] + cpu["caller_b"]) / (cpu["caller_a"] + cpu["caller_b"] + cpu["own_work"])
    n = burn + own
    assert n >= 300, out  # 3 s at 200 Hz, startup apart
    # Four standard errors of a share from n samples, at least 3 points.
    assert abs(burn / float(n) - want) <= tolerance(want, n), (burn, own, want, out)
    # Over one span (the whole run) shares and counts agree: %Self is of
    # the interval's samples, as the header counts them (0.05: rounding).
    samples = int(re.search(r"^last [\d.]+ s: (\d+) samples on a CPU;", out, re.M).group(1))
    assert abs(t["burn"][0] - 100.0 * burn / samples) <= 0.05, out
    assert t["main"][3] <= samples


@pytest.mark.parametrize("version", ["2.7", "3.8", "3.12", "3.13"])
def test_top_once_attached(version):
    """--once attached prints one refresh with the hot function, then leaves
    the target running."""
    python = INTERPRETERS.get(version)
    if not python:
        pytest.skip("Python %s not found" % version)
    proc = start(python, "cpu_split.py", 60)
    try:
        status, out, err = top("--once", "--interval", 1, "--pid", proc.pid)
        assert status == 0, err
        t = table(out)
        # The leaf of the hot loop leads by self: spin, or the clock it
        # calls (a Python function, slow where the VM traps clock reads).
        assert t and fn_name(t[0][4]) in ("spin", "thread_cpu"), out
        names = [fn_name(r[4]) for r in t]
        # One second of a loaded machine is too few samples to order the
        # three by their 50/30/20 split (test_top_once_matches_truth checks
        # shares over a whole run): each is there.
        assert {"alpha", "beta", "gamma"} <= set(names), out
        assert "CPU " in out and "GIL " in out and "threads 1: " in out, out
        assert proc.poll() is None
    finally:
        stop(proc)


@pytest.mark.parametrize("version", ["3.8", "3.12", "3.13", "debian"])
def test_top_once_native(version):
    """--native: the regex engine's C functions lead by self under
    backtrack, the Python function, in one stack: a row for each world."""
    python = DEBIAN if version == "debian" else INTERPRETERS.get(version)
    if not python:
        pytest.skip("Python %s not found" % version)
    status, out, err = top("--once", "--native", "--interval", 600, "--", python,
                           os.path.join(WORKLOADS, "native_re.py"), 2)
    assert status == 0, err
    t = table(out)
    samples = int(re.search(r"^last [\d.]+ s: (\d+) samples on a CPU;", out, re.M).group(1))
    assert samples >= 50, out
    by_name = {fn_name(r[4]): r for r in t}
    assert "backtrack" in by_name and by_name["backtrack"][3] >= 0.8 * samples, out
    assert by_name["backtrack"][2] <= 0.1 * samples, out  # its time is in C
    # sre's functions, or addresses in an interpreter without symbols for
    # its static functions (Debian's).
    sre = sum(r[2] for r in t if re.match(r"(\w*sre\w*|pattern_match|python[\d.]*\+0x)", r[4]))
    assert sre >= 0.5 * samples, out


def test_top_not_a_terminal_prints_once(tmp_path):
    """With standard output not a terminal, top prints one refresh, as --once."""
    python = needs_debian()
    proc = start(python, "cpu_split.py", 60)
    try:
        status, out, err = top("--interval", 0.5, "--pid", proc.pid)
        assert status == 0, err
        assert out.count("spyglass top: pid %d" % proc.pid) == 1 and table(out), out
    finally:
        stop(proc)


def assert_one_line_error(status, stderr, *words):
    assert status > 0, (status, stderr)
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("spyglass: "), stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_top_no_such_pid():
    status, out, err = top("--pid", 4194300)
    assert status == 1 and out == ""
    assert_one_line_error(status, err, "no process")


def test_top_not_python():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        status, out, err = top("--once", "--pid", sleeper.pid)
        assert status == 1 and out == ""
        assert_one_line_error(status, err, "not running CPython")
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("args, words", [
    ([], "give --pid"),
    (["--pid", "abc"], "--pid"),
    (["--interval", "0"], "--interval"),
    (["--mode", "idle", "--pid", "1"], "--mode"),
    (["--bogus"], "unknown"),
    (["--native", "--mode", "wall", "--pid", "1"], "--native needs cpu mode"),
    (["--gil", "--native", "--pid", "1"], "--native needs cpu mode"),
])
def test_top_bad_usage(args, words):
    status, out, err = top(*args)
    assert status == 2 and out == "", (status, out)
    assert_one_line_error(status, err, words)


def header_figures(out):
    """(CPU %, GIL %, the interval's seconds, its samples) of a --once refresh;
    CPU None where top could not read it (a launched program that ended
    before the refresh: its /proc entry is gone)."""
    m = re.search(r"^CPU (?:([\d.]+)%|\?), GIL ([\d.]+)%, threads \d+", out, re.M)
    assert m, out
    last = re.search(r"^last ([\d.]+) s: (\d+) samples", out, re.M)
    assert last, out
    cpu = float(m.group(1)) if m.group(1) is not None else None
    return cpu, float(m.group(2)), float(last.group(1)), int(last.group(2))


def cpu_seconds(pid):
    """The process's user + system time, from /proc/PID/stat as top reads it."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


@pytest.mark.parametrize("version", ["2.7", "3.8", "3.12", "debian"])
def test_top_gil_only_the_holder(version):
    """Issue 6: --gil samples only the thread holding the GIL. threads.py in
    wall mode: its waiter (in wait_here) and its main thread (joining)
    never hold it while they wait, so with --gil their functions have no
    samples (at most 2: a tick can catch a thread in the microseconds it
    holds the GIL on its way into or out of its wait), while without
    --gil each is a quarter of them; the burners' spin is then nearly all."""
    python = DEBIAN if version == "debian" else INTERPRETERS.get(version)
    if not python:
        pytest.skip("Python %s not found" % version)
    # Where the two wait: wait_here, and Thread.join ("join" before 3.10's
    # qualified names).
    waits = {"wait_here": ("wait_here (threads.py)",),
             "join": ("Thread.join (threading.py)", "join (threading.py)")}
    outs = {}
    for gil in (False, True):
        args = ["--once", "--interval", 600, "--mode", "wall"] + (["--gil"] if gil else [])
        status, out, err = top(*(args + ["--", python, os.path.join(WORKLOADS, "threads.py"), 2]))
        assert status == 0, err
        _, gil_pct, _, samples = header_figures(out)
        assert samples >= 20, out  # 2 s at 100 Hz: far fewer on a loaded machine
        outs[gil] = ({r[4]: r for r in table(out)}, samples, gil_pct, out)

    def total(t, keys):
        return sum(t[k][3] for k in keys if k in t)

    t, samples, _, out = outs[False]
    for name, keys in waits.items():
        assert total(t, keys) >= 0.1 * samples, (name, out)  # ~25% each
    t, samples, gil_pct, out = outs[True]
    for name, keys in waits.items():
        assert total(t, keys) <= 2, (name, out)
    assert total(t, ["spin (groundtruth.py)"]) >= 0.5 * samples, out  # start-up the rest
    # Every sample kept is of a holder: the GIL share is of the ticks with one.
    assert 0 < gil_pct <= 100.0, out


def test_top_cpu_and_gil_figures():
    """Issue 6: the header's CPU and GIL figures for known workloads,
    attached, in wall mode. CPU: cpu_split.py is one busy thread, so at
    most one core (100%, plus 2 points for the kernel's 10 ms ticks over
    the 2 s interval); and top's figure times its interval must fit the
    CPU time the process used while top ran, measured here from
    /proc/PID/stat before and after: no more than it, and no less than it
    less what one core could have used outside the interval (top's start
    and exit). On this shared machine the thread gets what it gets
    (10-100% of a core), so the figure is checked against what it got.
    GIL: the only thread of cpu_split.py holds it all the time (at least
    95% of the ticks); wall_split.py's sleeps 60% of the wall time in
    time.sleep, without the GIL, so there the GIL share is 100 less the
    share of samples in sleeper (3 points: a tick in the microseconds the
    thread enters or leaves its sleep)."""
    python = needs_debian()
    proc = start(python, "cpu_split.py", 60)
    try:
        c0, w0 = cpu_seconds(proc.pid), time.time()
        status, out, err = top("--once", "--interval", 2, "--mode", "wall", "--pid", proc.pid)
        c1, w1 = cpu_seconds(proc.pid), time.time()
        assert status == 0, err
        cpu, gil, span, samples = header_figures(out)
        assert samples >= 20 and 1.9 <= span <= 3, out
        assert 0 < cpu <= 102, out
        used = c1 - c0
        # The printed interval is rounded to 0.1 s, the CPU to 0.1%.
        assert cpu / 100 * (span - 0.05) <= used + 0.01, (cpu, span, used, out)
        assert cpu / 100 * (span + 0.05) >= used - (w1 - w0 - (span - 0.05)) - 0.01, \
            (cpu, span, used, w1 - w0, out)
        assert gil >= 95, out
    finally:
        stop(proc)

    proc = start(python, "wall_split.py", 60)
    try:
        status, out, err = top("--once", "--interval", 3, "--mode", "wall", "--pid", proc.pid)
        assert status == 0, err
        _, gil, _, samples = header_figures(out)
        assert samples >= 30, out
        # 60% of the wall time when the burner gets its CPU at once; under
        # load its 20 ms of CPU take longer, and the sleep's share falls.
        sleeper = sum(r[0] for r in table(out) if fn_name(r[4]) == "sleeper")
        assert sleeper >= 5, out
        assert abs(gil - (100 - sleeper)) <= 3, (gil, sleeper, out)
    finally:
        stop(proc)
