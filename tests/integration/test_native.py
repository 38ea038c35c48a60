# SPDX-License-Identifier: MIT
"""Native targets through perf_events: C (with and without frame pointers),
C++, Rust, a library loaded after attach, and what an unprivileged user
gets. The programs are built here from tests/native/ and measure their own
per-function CPU (the ground truth)."""
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import (INTERPRETERS, ROOT, SPYGLASS, SUPPORTED, WORKLOADS, parse_folded, record,
                      tolerance)

NATIVE = os.path.join(ROOT, "tests", "native")
UNWOUND = re.compile(r"(\d+) stacks unwound by DWARF, (\d+) by frame pointers")


def _rustc():
    return shutil.which("rustc") or next(
        (p for p in [os.path.expanduser("~/.cargo/bin/rustc")] if os.path.exists(p)), None)


@pytest.fixture(scope="module")
def bins():
    """Every test program, built once into a directory anyone may read (the
    permission tests run them as nobody)."""
    out = tempfile.mkdtemp(prefix="spyglass-native-")
    os.chmod(out, 0o755)
    src = lambda name: os.path.join(NATIVE, name)  # noqa: E731
    built = {}

    def cc(name, args):
        subprocess.check_call(args + ["-o", os.path.join(out, name)])
        built[name] = os.path.join(out, name)

    cc("hot_fp", ["gcc", "-O2", "-g", "-fno-omit-frame-pointer", "-pthread", src("hot.c")])
    cc("hot_nofp", ["gcc", "-O2", "-g", "-fomit-frame-pointer", "-pthread", src("hot.c")])
    cc("hot_cpp", ["g++", "-O2", "-g", src("hot.cpp")])
    cc("libhot.so", ["gcc", "-O2", "-g", "-shared", "-fPIC", src("lib.c")])
    cc("dl", ["gcc", "-O2", "-g", src("dl.c"), "-ldl"])
    cc("brief", ["gcc", "-O2", "-g", src("brief.c")])
    cc("main_exits", ["gcc", "-O2", "-g", "-pthread", src("main_exits.c")])
    if platform.machine() == "x86_64":
        cc("jit", ["gcc", "-O2", "-g", src("jit.c")])
    rustc = _rustc()
    if rustc:
        cc("hot_rs", [rustc, "-O", "-g", src("hot.rs")])
    yield built
    shutil.rmtree(out, ignore_errors=True)


def names(stack):
    """Function names of a folded stack: 'spin_a (hot.c:40)' -> 'spin_a'."""
    return [f.rsplit(" (", 1)[0] if f.endswith(")") else f for f in stack]


def has_chain(stacks, chain):
    """Whether some stack has the frames of chain one after another."""
    k = len(chain)
    return any(tuple(ns[i:i + k]) == tuple(chain)
               for ns in (names(s) for s in stacks) for i in range(len(ns) - k + 1))


def samples_with(stacks, pred):
    return sum(n for s, n in stacks.items() if any(pred(f) for f in names(s)))


def unwound(stderr):
    m = UNWOUND.search(stderr)
    assert m, stderr
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("build", ["hot_fp", "hot_nofp"])
def test_hot_functions_share_and_stacks(bins, build):
    run = record(["-r", "500", "--", bins[build], "3"])
    assert run.status == 0, run.stderr
    assert "native, cpu mode" in run.stderr, run.stderr
    a, b = run.truth["spin_a"], run.truth["inlined_work"]
    truth = a / float(a + b)
    got = run.share("spin_a", ("spin_a", "inlined_work"))
    n = samples_with(run.stacks, lambda f: f in ("spin_a", "inlined_work"))
    # Samples are CPU-time weighted by the kernel, so however loaded the
    # machine is the share is a binomial estimate: four standard errors.
    assert n > 100, run.stderr
    assert abs(got - truth) <= tolerance(truth, n), (got, truth, n)
    # The inlined function is a frame of its own, under its caller.
    assert has_chain(run.stacks, ["main", "spin_b", "inlined_work"]), run.stacks
    assert has_chain(run.stacks, ["main", "spin_a"]), run.stacks
    dwarf, fp = unwound(run.stderr)
    # Per binary: hot_fp's functions set up frame pointers, hot_nofp's none.
    if build == "hot_fp":
        assert fp > 0.8 * (dwarf + fp), run.stderr
    else:
        assert dwarf > 0.8 * (dwarf + fp), run.stderr
    assert not any(f.startswith("??") for s in run.stacks for f in s)


def _by_thread(stacks):
    """{thread root: Counter of its stacks (thread root left off)}."""
    out = {}
    for stack, n in stacks.items():
        out.setdefault(stack[0], {})
        out[stack[0]][stack[1:]] = out[stack[0]].get(stack[1:], 0) + n
    return out


def test_wall_mode_off_cpu_time(bins):
    """--mode wall: the time threads spend off their CPU, under the stack
    they blocked in, so that per thread on-CPU + off-CPU is wall time."""
    rate = 200
    run = record(["--mode", "wall", "--threads", "-r", str(rate), "--", bins["hot_nofp"], "3"])
    assert run.status == 0, run.stderr
    assert "native, wall mode" in run.stderr, run.stderr
    m = re.search(r"off-CPU: ([\d.]+) s in (\d+) stretches, each under the stack", run.stderr)
    assert m, run.stderr
    threads = _by_thread(run.stacks)
    assert len(threads) == 3, list(threads)
    wall = run.truth["wall_s"]
    role = {}
    for root, stacks in threads.items():
        fs = set(f for s in stacks for f in names(s))
        role["reader" if "reader" in fs else "sleeper" if "sleeper" in fs else "main"] = stacks
    assert set(role) == {"reader", "sleeper", "main"}, list(threads)
    for name, stacks in role.items():
        total = sum(stacks.values()) / float(rate)
        # Each on-CPU sample is one period of CPU, counted by the kernel
        # (exact to a period), and each off-CPU stretch is timed by its
        # switch records: the sum misses only the program's start and exit,
        # outside its own clock (wall_s), and under a period per thread
        # carried. 5% + 0.15 s leaves room for a slow exit under load.
        assert abs(total - wall) <= 0.05 * wall + 0.15, (name, total, wall, run.stderr)
    # The blocked threads: nearly all their time idle, under the call they
    # wait in (read(2) on the pipe, nanosleep), named from the stack of the
    # switch-out sample. The program's events count from its exec, so no
    # thread was off its CPU since before the start. A switch-out sample
    # the kernel could not write (buffers full while symbols load at the
    # start, under ASan) leaves its stretch without a stack: 10% allowed
    # (0 to 14% in runs here under ASan, at a load average of 8).
    for name, call in [("reader", lambda f: f in ("read", "__GI___libc_read", "__libc_read")),
                       ("sleeper", lambda f: "nanosleep" in f)]:
        stacks = role[name]
        under = sum(n for s, n in stacks.items() if s[-1] == "[idle]" and any(call(f) for f in names(s)))
        assert under >= 0.9 * sum(stacks.values()), (name, stacks, run.stderr)
    assert not any("[off-CPU, stack unknown]" in s for s in run.stacks), run.stacks
    # The spinning thread is on its CPU (or waiting for one, not idle).
    main = role["main"]
    idle = sum(n for s, n in main.items() if s[-1] == "[idle]")
    assert idle <= 0.05 * sum(main.values()), main


def test_launched_program_sampled_from_its_exec(bins):
    """A program that lives 20 ms: its events count from its exec, not from
    when it was found not to be CPython (~30 ms of probes)."""
    run = record(["-r", "1000", "--", bins["brief"], "20"])
    assert run.status == 0, run.stderr
    assert "native, cpu mode" in run.stderr, run.stderr
    truth = run.truth["brief_work"] / 1e6  # ms of CPU, one sample each at 1 kHz
    got = samples_with(run.stacks, lambda f: f == "brief_work")
    # cpu-clock counts the CPU exactly: all but the last partial period.
    # Sampled from the probes' end on, it had 9-12 of 20 on this machine.
    assert got >= 0.8 * truth, (got, truth, run.stderr)


def test_subprocesses_short_children(bins):
    """--subprocesses on a native program: its children are covered by the
    kernel from their fork (inherit, FORK and COMM records), so ten that
    live 20 ms each, one after another, are all profiled."""
    run = record(["-r", "1000", "--subprocesses", "--", bins["brief"], "20", "10"])
    assert run.status == 0, run.stderr
    assert "native, cpu mode" in run.stderr, run.stderr
    kids = set(s[0] for s in run.stacks if any(f == "child_work" for f in names(s)))
    assert len(kids) == 10 and all(k.startswith("process ") for k in kids), (kids, run.stderr)
    # ms of CPU each function used, one sample per ms at 1 kHz, counted by
    # the kernel: all but a partial period per process at each end.
    child = run.truth["child_work"] / 1e6
    own = run.truth["brief_work"] / 1e6
    got_child = samples_with(run.stacks, lambda f: f == "child_work")
    got_own = samples_with(run.stacks, lambda f: f == "brief_work")
    assert 0.8 * child <= got_child <= 1.1 * child + 2, (got_child, child, run.stderr)
    truth = child / (child + own)
    n = got_child + got_own
    got = got_child / float(n)
    assert abs(got - truth) <= tolerance(truth, n), (got, truth, n)


def test_unwind_override(bins):
    run = record(["--unwind", "dwarf", "-r", "300", "--", bins["hot_fp"], "1"])
    assert run.status == 0, run.stderr
    dwarf, fp = unwound(run.stderr)
    assert dwarf > 0 and fp == 0, run.stderr
    assert has_chain(run.stacks, ["main", "spin_b", "inlined_work"])
    run = record(["--unwind", "fp", "-r", "300", "--", bins["hot_nofp"], "1"])
    assert run.status == 0, run.stderr
    dwarf, fp = unwound(run.stderr)
    assert fp > 0 and dwarf == 0, run.stderr


def test_attach_only_running_threads_sampled(bins):
    truth = tempfile.mktemp(suffix=".json")
    proc = subprocess.Popen([bins["hot_nofp"], "6"], env=dict(os.environ, SPYGLASS_TRUTH=truth))
    try:
        time.sleep(0.5)
        run = record(["--threads", "-r", "300", "-d", "2"], pid=proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert run.status == 0, run.stderr
    assert "stopped after" in run.stderr, run.stderr
    by_thread = {}
    for stack, n in run.stacks.items():
        by_thread[stack[0]] = by_thread.get(stack[0], 0) + n
    main = "thread %d: hot_nofp" % proc.pid
    # The sleeping thread and the one blocked in read(2) use no CPU: in cpu
    # mode they have (next to) no samples, the spinning main thread all.
    assert by_thread.get(main, 0) >= 0.95 * run.total, by_thread
    assert run.samples_with("spin_a") > 0


def test_attach_after_main_thread_exited(bins):
    """Issue 12: a C program whose main thread called pthread_exit is
    alive in its worker; its maps and root are read through that thread
    (the zombie leader shows none), so its frames are named and unwound."""
    proc = subprocess.Popen([bins["main_exits"], "8"])
    try:
        time.sleep(0.5)
        run = record(["-r", "200", "-d", "2"], pid=proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert run.status == 0, run.stderr
    dwarf, _ = unwound(run.stderr)
    assert dwarf >= 0.9 * run.total > 0, run.stderr
    assert samples_with(run.stacks, lambda f: f == "keep_working") >= 0.9 * run.total, run.stacks
    assert has_chain(run.stacks, ["worker", "keep_working"]), run.stacks
    assert not samples_with(run.stacks, lambda f: f.startswith("[unknown]")), run.stacks


def test_cpp_names_demangled(bins):
    run = record(["-r", "300", "--", bins["hot_cpp"], "2"])
    assert run.status == 0, run.stderr
    total = run.total
    for name in ["shapes::Grinder::grind(unsigned long)",
                 "unsigned long accumulate<unsigned long>(unsigned long)",
                 "main::{lambda(unsigned long)#1}::operator()(unsigned long) const"]:
        # Each is hot a third of the time; 10% leaves room for noise.
        assert samples_with(run.stacks, lambda f: f.startswith(name)) > 0.1 * total, (name, run.stacks)
    assert not any(f.startswith("_Z") for s in run.stacks for f in names(s))


def test_rust_names_demangled(bins):
    if "hot_rs" not in bins:
        pytest.skip("rustc not found: the Rust program cannot be built")
    run = record(["-r", "300", "--", bins["hot_rs"], "2"])
    assert run.status == 0, run.stderr
    for name in ["hot::engine::churn", "hot::engine::stir"]:
        assert samples_with(run.stacks, lambda f: f == name) > 0.1 * run.total, (name, run.stacks)
    # Legacy mangling's hash suffix is not part of the name.
    assert not any(re.search(r"::h[0-9a-f]{16}$", f) for s in run.stacks for f in names(s))


def test_library_loaded_after_attach_is_named(bins):
    go = tempfile.mktemp()
    proc = subprocess.Popen([bins["dl"], go, bins["libhot.so"], "1.5"])
    out = tempfile.mktemp(suffix=".folded")
    try:
        time.sleep(0.3)
        sg = subprocess.Popen([SPYGLASS, "record", "-r", "300", "-o", out, "--pid", str(proc.pid)],
                              stderr=subprocess.PIPE)
        time.sleep(0.7)
        open(go, "w").close()
        _, err = sg.communicate(timeout=30)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.unlink(go)
    assert sg.returncode == 0, err
    with open(out) as f:
        stacks = parse_folded(f.read())
    os.unlink(out)
    total = sum(stacks.values())
    # 1.5 s spent in the library: most samples after the load are there.
    assert has_chain(stacks, ["main", "lib_spin", "lib_inner.constprop.0"]) or has_chain(
        stacks, ["main", "lib_spin", "lib_inner"]), (err, stacks)
    assert samples_with(stacks, lambda f: f.startswith("lib_inner")) > 0.5 * total, stacks


def _as_nobody():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run spyglass as nobody")
    return ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]


def test_permission_error_is_one_line(bins):
    drop = _as_nobody()
    proc = subprocess.Popen([bins["hot_nofp"], "10"])  # root's
    try:
        time.sleep(0.3)
        res = subprocess.run(drop + [SPYGLASS, "record", "-o", "/dev/null", "--pid", str(proc.pid)],
                             stderr=subprocess.PIPE, timeout=30, cwd="/")
    finally:
        proc.kill()
        proc.wait()
    err = res.stderr.decode()
    assert res.returncode == 1, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    for word in ["perf_event_paranoid", "CAP_PERFMON", "CAP_SYS_ADMIN", "Python programs"]:
        assert word in lines[0], err


def test_unprivileged_own_program(bins):
    drop = _as_nobody()
    with open("/proc/sys/kernel/perf_event_paranoid") as f:
        paranoid = int(f.read())
    if paranoid > 2:
        pytest.skip("perf_event_paranoid is %d: no perf_events for unprivileged users" % paranoid)
    out = tempfile.mkdtemp()
    os.chmod(out, 0o777)
    try:
        res = subprocess.run(drop + [SPYGLASS, "record", "-r", "300", "-o", out + "/p.folded", "--",
                                     bins["hot_nofp"], "1.5"],
                             stderr=subprocess.PIPE, timeout=60, cwd="/")
        err = res.stderr.decode()
        assert res.returncode == 0, err
        with open(out + "/p.folded") as f:
            stacks = parse_folded(f.read())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    # At 2, one's own processes, user stacks only (no kernel frames).
    expect = "user stacks only" if paranoid >= 2 else "user and kernel stacks"
    assert expect in err, err
    assert has_chain(stacks, ["main", "spin_a"]), stacks
    if paranoid >= 2:
        assert not any("[kernel]" in f for s in stacks for f in s)


def test_unprivileged_wall_mode_times_off_cpu_without_stacks(bins):
    """At perf_event_paranoid 2 switch-out samples (kernel samples) are not
    allowed: one line says so, and off-CPU time is still timed from the
    SWITCH records, without the stack."""
    drop = _as_nobody()
    with open("/proc/sys/kernel/perf_event_paranoid") as f:
        paranoid = int(f.read())
    if paranoid != 2:
        pytest.skip("perf_event_paranoid is %d, not 2" % paranoid)
    out = tempfile.mkdtemp()
    os.chmod(out, 0o777)
    truth = os.path.join(out, "truth.json")
    try:
        res = subprocess.run(drop + [SPYGLASS, "record", "--mode", "wall", "--threads", "-r", "200",
                                     "-o", out + "/p.folded", "--", bins["hot_nofp"], "2"],
                             stderr=subprocess.PIPE, timeout=60, cwd="/",
                             env=dict(os.environ, SPYGLASS_TRUTH=truth))
        err = res.stderr.decode()
        assert res.returncode == 0, err
        with open(out + "/p.folded") as f:
            stacks = parse_folded(f.read())
        with open(truth) as f:
            wall = json.load(f)["wall_s"]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert "switch-out samples are kernel samples, not allowed here" in err, err
    threads = _by_thread(stacks)
    assert len(threads) == 3, list(threads)
    blocked = 0
    for root, ts in threads.items():
        total = sum(ts.values()) / 200.0
        # As in test_wall_mode_off_cpu_time: the stretches are timed alike.
        assert abs(total - wall) <= 0.05 * wall + 0.15, (root, total, wall, err)
        unknown = sum(n for s, n in ts.items() if s == ("[off-CPU, stack unknown]", "[idle]"))
        blocked += unknown >= 0.95 * sum(ts.values())
    # The reader and the sleeper.
    assert blocked == 2, threads


def _jit_share(stacks, name):
    """Share of samples with a frame named from a perf map ('... ([jit])')
    whose name holds name."""
    total = sum(stacks.values())
    hit = sum(n for s, n in stacks.items() if any(name in f and f.endswith("([jit])") for f in s))
    return hit / float(total) if total else 0.0, total


def test_own_jit_named_from_its_perf_map(bins):
    """Code in anonymous memory named from /tmp/perf-PID.map, whose first
    line is longer than any line buffer (passed over, not read as the end),
    up to the samples read after the program exited."""
    if "jit" not in bins:
        pytest.skip("the JIT test program is x86-64 machine code; this is %s"
                    % platform.machine())
    run = record(["-r", "500", "--", bins["jit"], "1"])
    try:
        assert run.status == 0, run.stderr
        share, total = _jit_share(run.stacks, "jit_spin")
        # The program does nothing else: all but start-up and exit samples.
        assert total >= 100 and share > 0.9, (share, run.stacks.most_common(5))
    finally:
        for p in glob.glob("/tmp/perf-*.map"):
            if os.stat(p).st_mtime > time.time() - 60 and "jit_spin" in open(p).read():
                os.unlink(p)


def _perf_map_summary(name):
    """What V8 wrote of name in the newest perf maps, for a failure's message."""
    maps = sorted(glob.glob("/tmp/perf-*.map"), key=os.path.getmtime)[-2:]
    return {p: [line.strip() for line in open(p) if name in line][:4] for p in maps}


def test_node_jit_frames_named():
    node = shutil.which("node")
    if not node:
        pytest.skip("node not found")
    # V8 logs to the working directory unless told otherwise.
    run = record(["-r", "300", "--", node, "--perf-basic-prof", "--logfile=/dev/null",
                  "--no-logfile-per-isolate", os.path.join(NATIVE, "hot.js"), "2"])
    try:
        assert run.status == 0, run.stderr
        share, total = _jit_share(run.stacks, "hotLoop")
        # hotLoop is about 3/4 of the work; half leaves room for start-up.
        assert total >= 20 and share > 0.5, (share, run.stderr, run.stacks.most_common(8),
                                              _perf_map_summary("hotLoop"))
    finally:
        for p in glob.glob("/tmp/perf-*.map"):
            if os.stat(p).st_mtime > time.time() - 60 and "hotLoop" in open(p).read():
                os.unlink(p)


def test_java_jit_frames_named_after_perfmap():
    java, javac, jcmd = shutil.which("java"), shutil.which("javac"), shutil.which("jcmd")
    if not (java and javac and jcmd):
        pytest.skip("java, javac or jcmd not found")
    out = tempfile.mkdtemp()
    subprocess.check_call([javac, "-d", out, os.path.join(NATIVE, "Hot.java")])
    proc = subprocess.Popen([java, "-cp", out, "Hot", "12"], stdout=subprocess.DEVNULL)
    perfmap = "/tmp/perf-%d.map" % proc.pid
    try:
        # Until churn is compiled (it is hot from the first second), then
        # the JVM writes its perf map (JDK 17) when asked.
        time.sleep(2)
        subprocess.check_call([jcmd, str(proc.pid), "Compiler.perfmap"], stdout=subprocess.DEVNULL)
        run = record(["-r", "300", "-d", "3"], pid=proc.pid)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(out, ignore_errors=True)
        if os.path.exists(perfmap):
            os.unlink(perfmap)
    assert run.status == 0, run.stderr
    share, total = _jit_share(run.stacks, "Hot.churn")
    assert total >= 20 and share > 0.5, (share, run.stacks)


def _perf_trampoline_pythons():
    """Every CPython with perf trampolines (3.12+) that conftest looks for, newest last."""
    key = lambda v: tuple(map(int, v.split(".")))  # noqa: E731
    return sorted(set(v for v in SUPPORTED + list(INTERPRETERS) if key(v) >= (3, 12)), key=key)


@pytest.mark.parametrize("version", _perf_trampoline_pythons())
def test_python_perf_trampolines_named_natively(version):
    """CPython 3.12+ under -X perf runs each Python function through a trampoline of its own,
    named in /tmp/perf-PID.map as py::NAME:FILE: --native-only samples it as perf does, and
    the hot functions are JIT frames with the right shares."""
    exe = INTERPRETERS.get(version)
    if not exe:
        pytest.skip("Python %s not found" % version)
    active = subprocess.run([exe, "-X", "perf", "-c",
                             "import sys; print(sys.is_stack_trampoline_active())"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    if active.strip() != "True":
        pytest.skip("Python %s has no perf trampolines (built without them, or not on x86-64 "
                    "or aarch64 Linux)" % version)
    run = record(["--native-only", "-r", "500", "--", exe, "-X", "perf",
                  os.path.join(WORKLOADS, "work_split.py"), "3"])
    try:
        assert run.status == 0, run.stderr
        assert "native, cpu mode" in run.stderr, run.stderr
        work = run.truth["work"]
        # Each function's loop is in its own body: its trampoline's frame is the innermost
        # JIT frame of its samples (the unwinding stops there: the trampolines' anonymous
        # code has no CFI, as for perf --call-graph dwarf).
        jit = {name: sum(n for s, n in run.stacks.items()
                         if any(f.startswith("py::%s:" % name) and f.endswith("([jit])")
                                for f in s))
               for name in work}
        n = sum(jit.values())
        assert n > 150, (jit, run.stderr, run.stacks.most_common(5))
        for name, units in work.items():
            truth = units / float(sum(work.values()))
            assert abs(jit[name] / float(n) - truth) <= tolerance(truth, n), (name, jit, work)
    finally:
        for p in glob.glob("/tmp/perf-*.map"):
            if os.stat(p).st_mtime > time.time() - 60 and "py::alpha:" in open(p).read():
                os.unlink(p)
