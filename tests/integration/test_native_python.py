# SPDX-License-Identifier: MIT
"""record --native on Python targets: each CPU-clock sample's native stack
(the kernel's copy of the user stack, unwound by DWARF) with the Python
frames in place of the eval loop's calls that run them, on every CPython
found. Known answers: zlib's deflate runs under the C function that
zlib.compress is, called by `squeeze`; the regex engine's C functions run
under `backtrack`. A sample whose two stacks do not match is kept with one
[unmatched] frame, and the summary counts them."""
import os
import re
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import (INTERPRETERS, ROOT, SUPPORTED, WORKLOADS, record, run, SPYGLASS, start,
                      stop, tolerance)

SHARED = os.path.join(os.path.dirname(ROOT), "shared", "workloads")
# Enough samples of the function under test for its shares to mean
# something (a 3 s run at 100 Hz on a machine whose two cores are shared).
MIN_SAMPLES = 30
# An interpreter's function without a symbol: BINARY+0xOFFSET.
UNNAMED = re.compile(r"^(lib)?python[\d.]*[a-z]?(\.so[\d.]*)?\+0x")
# The interpreter's calling machinery, folded unless --native-all.
HELPERS = re.compile(r"^(_?PyObject_(Call|Vectorcall|FastCall)|_PyFunction_Vectorcall|"
                     r"cfunction_vectorcall|method_vectorcall|call_function |_PyEval_Vector|"
                     r"function_code_fastcall|_PyEval_EvalFrameDefault|fast_function)")


def is_python(frame):
    """Python frames name a .py file, a frozen module or compiled source
    ("<exec>"); native ones a C file or a binary."""
    m = re.search(r" \((.*?)(:\d+)?\)$", frame)
    return bool(m) and (m.group(1).endswith(".py") or m.group(1).startswith("<"))


def python_functions(frames):
    """The function names of the Python frames among frames, in order."""
    return [f.split(" (")[0] for f in frames if is_python(f)]


def summary_counts(stderr):
    m = re.search(r"native: (\d+) stacks merged with their Python frames, (\d+) unmatched "
                  r"\(\d+ deeper than the 64 KiB copied;", stderr)
    assert m, stderr
    return int(m.group(1)), int(m.group(2))


def record_native(python, workload, wargs=(3,), extra=()):
    r = record(["-r", "100", "--native"] + list(extra), workload, list(wargs), python)
    assert r.status == 0, r.stderr
    merged, unmatched = summary_counts(r.stderr)
    # Every sample is one or the other, and each unmatched one is marked.
    assert merged + unmatched == r.total, (merged, unmatched, r.total, r.stderr)
    assert unmatched == sum(n for s, n in r.stacks.items() if "[unmatched]" in s), r.stderr
    return r, merged, unmatched


def max_unmatched(python):
    """Share of samples allowed to be unmatched: the Python stack is walked a
    moment after the kernel's copy, and a thread that called or returned
    in between does not match. 2.7 calls more C between eval calls."""
    return 0.35 if "2.7" in python else 0.2


def under(stacks, caller, workload):
    """(stack, count, index of caller) for matched samples with caller."""
    for stack, n in stacks.items():
        if "[unmatched]" in stack:
            continue
        for i, frame in enumerate(stack):
            if frame.startswith(caller + " (") and workload in frame:
                yield stack, n, i
                break


def samples_under(python, workload, caller, wargs=(3,)):
    """A run of workload, as found_under()."""
    r, merged, unmatched = record_native(python, workload, wargs)
    return found_under(r, python, merged, unmatched, caller, os.path.basename(workload))


def found_under(r, python, merged, unmatched, caller, workload):
    """A run checked for unmatched samples, and its matched samples with
    caller (as under()), enough of them: (run, found, total)."""
    assert unmatched <= max_unmatched(python) * (merged + unmatched), r.stderr
    found = list(under(r.stacks, caller, workload))
    total = sum(n for _, n, _ in found)
    assert total >= MIN_SAMPLES, r.stderr
    return r, found, total


@pytest.fixture
def native_zlib():
    path = os.path.join(SHARED, "native_zlib.py")
    if not os.path.exists(path):
        pytest.skip("../shared/workloads/native_zlib.py not present")
    return path


def test_zlib_under_squeeze(python, native_zlib):
    r, found, total = samples_under(python, native_zlib, "squeeze")
    libz = 0
    for stack, n, i in found:
        # Below squeeze: the Python callers in order, and native code (the
        # interpreter's start-up) under the first of them.
        python_frames = python_functions(stack[:i + 1])
        assert python_frames == ["<module>", "main", "squeeze"], stack
        assert not is_python(stack[0]), stack
        above = stack[i + 1:]
        assert not any(is_python(f) for f in above), stack
        assert not any(HELPERS.match(f) for f in stack), stack
        # Directly above squeeze: zlib.compress's C function, then libz.
        if len(above) >= 2 and not above[0].startswith("libz") and \
                any("libz.so" in f for f in above[1:]):
            libz += n
    assert libz >= 0.6 * total, (libz, total, r.stderr)


def test_regex_engine_under_backtrack(python):
    r, found, total = samples_under(python, "native_re.py", "backtrack")
    sre = 0
    for stack, n, i in found:
        above = stack[i + 1:]
        assert not any(is_python(f) for f in above), stack
        # sre's functions, or, in an interpreter without symbols for its
        # static functions (Debian's), addresses in its binary.
        if above and re.match(r"(\w*sre\w*|pattern_match|python[\d.]*\+0x)", above[0]):
            sre += n
    assert sre >= 0.7 * total, (sre, total, r.stderr)


def test_native_all_keeps_the_calling_machinery():
    version = next((v for v in reversed(SUPPORTED) if v in INTERPRETERS), None)
    if not version:
        pytest.skip("no pyenv CPython found (its symbols name the helpers)")
    r, _, _ = record_native(INTERPRETERS[version], "native_re.py", [2], ["--native-all"])
    helpers = sum(n for s, n in r.stacks.items() if any(HELPERS.match(f) for f in s))
    assert helpers >= 0.5 * r.total, r.stderr


@pytest.mark.parametrize("extra", [["--mode", "wall"], ["--clock", "timer"], ["--gil"]])
def test_native_needs_the_cpu_clock(extra):
    status, _, stderr = run([SPYGLASS, "record", "--native"] + extra + ["--pid", "1"])
    assert status == 2, stderr
    assert "--native needs cpu mode on the CPU clock" in stderr, stderr


def build_extension(python, tmp_path):
    """callback_ext built against python's own headers into tmp_path."""
    status, include, _ = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"])
    include = include.strip()
    if status or not os.path.exists(os.path.join(include, "Python.h")):
        pytest.skip("no Python.h for %s" % python)
    status, _, stderr = run(["cc", "-shared", "-fPIC", "-O0", "-g", "-I" + include, "-o",
                             str(tmp_path / "callback_ext.so"),
                             os.path.join(WORKLOADS, "callback_ext.c")])
    assert status == 0, stderr
    return str(tmp_path)


def test_c_calling_back_into_python(python, tmp_path):
    """A C function calling a Python function that calls C again: the stack
    alternates, in order, each Python frame in its own eval call."""
    ext = build_extension(python, tmp_path)
    r, found, total = samples_under(python, "native_callback.py", "alternate", [3, ext])
    want = ["alternate", "call_back"] * 3 + ["alternate", "burn"]
    alternating = 0
    for stack, n, i in found:
        # A stripped interpreter's static functions (Debian's) have no
        # names to be folded by: passed over.
        names = [f.split(" (")[0] for f in stack[i:] if not UNNAMED.match(f)]
        python_frames = python_functions(stack[:i])
        assert python_frames == ["<module>", "main"], stack
        alternating += n * (names[:len(want)] == want)
    assert alternating >= 0.8 * total, (alternating, total, r.stderr)


def test_thread_started_from_c(python, tmp_path):
    """A thread that C started and that took the GIL with PyGILState_Ensure:
    its Python frames sit on its own C start (c_thread_main), with nothing
    of threading or <module> under them."""
    ext = build_extension(python, tmp_path)
    r, found, total = samples_under(python, "native_cthread.py", "work", [3, ext])
    for stack, n, i in found:
        python_frames = python_functions(stack)
        assert python_frames[:2] == ["work", "spin"] or python_frames == ["work"], stack
        assert not any(f.startswith("<module>") for f in stack), stack
        assert any(f.startswith("c_thread_main (") for f in stack[:i]), stack
    # Nearly all of the run is in that thread's spin.
    assert total >= 0.8 * r.total, (total, r.total, r.stderr)


def test_native_share_matches_truth(python, tmp_path):
    """native_split.py measures the CPU it spends in C (burn) and in Python
    bytecode (spin): the samples under burn (callback_ext.c, C) and under
    spin (Python), each as a share of the two, are within four standard
    errors (at least 3 points) of what it measured. Unmatched samples count
    too (their Python frames, then the C that ran): leaving them out would
    favour C, as a thread that calls and returns in Python is the one that
    fails to match more often."""
    ext = build_extension(python, tmp_path)
    r, merged, unmatched = record_native(python, "native_split.py", [3, ext])
    in_c = in_py = 0
    for stack, n in r.stacks.items():
        if any(f.startswith("burn (") and "callback_ext.c" in f for f in stack):
            in_c += n
        elif any(f.startswith("spin (") and is_python(f) for f in stack):
            in_py += n
    n = in_c + in_py
    assert n >= 100, r.stderr
    cpu = r.truth["cpu"]
    want = cpu["in_c"] / (cpu["in_c"] + cpu["in_python"])
    assert abs(in_c / float(n) - want) <= tolerance(want, n), (in_c, in_py, want, r.stderr)


def test_generator_in_its_consumer(python):
    """A generator's frame comes between its consumer and the C it calls,
    whether it was resumed by a C call (before 3.12) or inline."""
    r, found, total = samples_under(python, "native_gen.py", "gen")
    in_order = 0
    for stack, n, i in found:
        python_frames = python_functions(stack[:i + 1])
        assert python_frames == ["<module>", "consume", "gen"], stack
        above = stack[i + 1:]
        assert not any(is_python(f) for f in above), stack
        in_order += n * any("libz.so" in f for f in above)
    assert in_order >= 0.6 * total, (in_order, total, r.stderr)


def test_attached(python):
    """Attached to a running program (its mappings read from /proc, not
    seen being made): the regex engine above backtrack as when launched."""
    proc = start(python, "native_re.py", 6)
    try:
        r = record(["-r", "100", "--native", "-d", "3"], pid=proc.pid)
    finally:
        stop(proc)
    assert r.status == 0, r.stderr
    merged, unmatched = summary_counts(r.stderr)
    r, found, total = found_under(r, python, merged, unmatched, "backtrack", "native_re.py")
    native = sum(n for stack, n, i in found if stack[i + 1:] and not is_python(stack[i + 1]))
    assert native >= 0.7 * total, (native, total, r.stderr)


def test_embedded_libpython():
    """A C program hosting libpython (tests/embed, Debian's shared
    libpython3.11): the host's own main is below the Python frames, the
    regex engine above backtrack, as in the python binary."""
    embed = os.environ.get("SPYGLASS_EMBED", "")
    if not os.path.exists(embed):
        pytest.skip("embedding program not built (make build/tests/embed)")
    r, found, total = samples_under(embed, "native_re.py", "backtrack")
    sre = 0
    for stack, n, i in found:
        first = next(k for k, f in enumerate(stack) if is_python(f))
        assert python_functions(stack[first:i + 1]) == \
            ["<module>", "main", "backtrack"], stack
        assert any(f.startswith("main (") and "embed.c" in f for f in stack[:first]), stack
        above = stack[i + 1:]
        assert not any(is_python(f) for f in above), stack
        if above and re.match(r"(\w*sre\w*|pattern_match|(lib)?python[\d.]*(\.so[\d.]*)?\+0x)",
                              above[0]):
            sre += n
    assert sre >= 0.7 * total, (sre, total, r.stderr)


def test_exec_between_its_caller_and_c(python):
    """Code run by exec(): its module frame, in an eval call of its own,
    between the caller and the function it defines, with zlib's C above."""
    r, merged, unmatched = record_native(python, "native_exec.py")
    r, found, total = found_under(r, python, merged, unmatched, "squeeze", "<exec>")
    in_libz = 0
    for stack, n, i in found:
        python_frames = python_functions(stack[:i + 1])
        assert python_frames == ["<module>", "main", "<module>", "squeeze"], stack
        in_libz += n * any("libz.so" in f for f in stack[i + 1:])
    assert in_libz >= 0.6 * total, (in_libz, total, r.stderr)


def watch_states(parent, seen, done):
    """Scheduler states of parent's child's threads, read until done is set
    (the child found through /proc/PARENT/task/*/children), into seen."""
    child = None
    while not done.is_set():
        try:
            if child is None:
                for tid in os.listdir("/proc/%d/task" % parent):
                    with open("/proc/%d/task/%s/children" % (parent, tid)) as f:
                        kids = f.read().split()
                    child = int(kids[0]) if kids else child
                continue
            for tid in os.listdir("/proc/%d/task" % child):
                with open("/proc/%d/task/%s/stat" % (child, tid)) as f:
                    seen.append(f.read().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.001)


def test_target_never_stopped_and_its_output_unchanged(python):
    """The target runs as it would unprofiled: it prints what it prints
    alone, and its threads, read every millisecond, are never stopped
    ('t' traced or 'T' stopped) while record --native samples them."""
    workload = [python, os.path.join(WORKLOADS, "native_output.py"), "2000"]
    alone = subprocess.run(workload, stdout=subprocess.PIPE, timeout=120)
    assert alone.returncode == 0
    out = tempfile.NamedTemporaryFile(suffix=".folded", delete=False)
    out.close()
    try:
        proc = subprocess.Popen([SPYGLASS, "record", "-r", "1000", "--native", "-o", out.name,
                                 "--"] + workload, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen, done = [], threading.Event()
        watcher = threading.Thread(target=watch_states, args=(proc.pid, seen, done))
        watcher.start()
        stdout, stderr = proc.communicate(timeout=120)
        done.set()
        watcher.join()
    finally:
        os.unlink(out.name)
    stderr = stderr.decode("utf-8", "replace")
    assert proc.returncode == 0 and "Sanitizer" not in stderr, stderr
    assert stdout == alone.stdout, (stdout, alone.stdout)
    merged, unmatched = summary_counts(stderr)
    assert merged >= MIN_SAMPLES, stderr
    # Enough looks to have seen a stop: one per millisecond of a run of
    # about 2 s, fewer on a loaded machine.
    assert len(seen) >= 200, len(seen)
    assert not [s for s in seen if s in "tT"], sorted(set(seen))


def same_gnu_hash(name):
    """name with its last two bytes changed so that its GNU hash (h * 33 +
    c, byte by byte) is the same: the dynamic linker still finds the
    symbol, under a name spyglass does not know."""
    new = bytearray(name)
    new[-2] += 1
    new[-1] -= 33
    return bytes(new)


def without_eval_symbol(python, tmp_path):
    """A copy of python's interpreter file (its libpython, else the
    executable) without DWARF, its eval loop's name changed in its symbol
    tables (.symtab stays: before 3.7 the interpreter's list head is found
    there): (command, environment, the copy, the name)."""
    libs = [line.split()[2] for line in subprocess.check_output(["ldd", python]).decode().splitlines()
            if "libpython" in line and "=>" in line]
    original = libs[0] if libs else python
    copy = str(tmp_path / os.path.basename(original))
    subprocess.check_call(["strip", "--strip-debug", "-o", copy, original])
    os.chmod(copy, 0o755)
    with open(copy, "rb") as f:
        image = f.read()
    major = subprocess.check_output([python, "-c", "import sys; print(sys.version_info[0])"])
    name = b"PyEval_EvalFrameEx" if major.strip() == b"2" else b"_PyEval_EvalFrameDefault"
    assert image.count(b"\0" + name + b"\0") >= 1
    image = image.replace(b"\0" + name + b"\0", b"\0" + same_gnu_hash(name) + b"\0")
    with open(copy, "wb") as f:
        f.write(image)
    env = dict(os.environ)
    if libs:
        env["LD_LIBRARY_PATH"] = str(tmp_path)
        return python, env, copy, name.decode()
    return copy, env, copy, name.decode()


def test_interpreter_without_eval_symbol(python, tmp_path):
    """An interpreter whose symbol tables lack the eval loop: every sample
    is kept as unmatched, and one line says what is missing."""
    exe, env, binary, name = without_eval_symbol(python, tmp_path)
    r = record(["-r", "100", "--native"], "native_re.py", [2], exe, env=env)
    assert r.status == 0, r.stderr
    merged, unmatched = summary_counts(r.stderr)
    assert merged == 0 and unmatched == r.total >= MIN_SAMPLES, r.stderr
    lines = [l for l in r.stderr.splitlines() if "has no symbol for" in l]
    assert lines == ["  native: %s has no symbol for %s, the eval loop, so no sample of it can "
                     "be matched: use a build of it that keeps its symbol tables" % (binary, name)], \
        r.stderr
    # With the interpreter as built, no such line.
    r = record(["-r", "100", "--native"], "native_re.py", [1], python)
    assert "has no symbol" not in r.stderr, r.stderr


def python_major(python):
    status, out, _ = run([python, "-c", "import sys; print(sys.version_info[0])"])
    assert status == 0
    return int(out.strip())


def test_coroutine_between_its_callers_and_c(python):
    """An asyncio coroutine calling zlib: the event loop's frames above
    main, then the C that resumes the coroutine (_asyncio's Task step),
    then serve and the coroutine it awaits, squeeze, then zlib's C and
    libz, in that order, whether a resumption and an await are C calls of
    the eval loop (before 3.11, 3.11) or inline (3.12+)."""
    if python_major(python) < 3:
        pytest.skip("asyncio and async def are 3.4+/3.5+: Python 2.7 has neither")
    r, found, total = samples_under(python, "native_coro.py", "squeeze")
    in_libz = 0
    for stack, n, i in found:
        at = [k for k, f in enumerate(stack[:i + 1]) if is_python(f)]
        names = [stack[k].split(" (")[0] for k in at]
        assert names[:2] == ["<module>", "main"] and names[-2:] == ["serve", "squeeze"], stack
        loop = [stack[k] for k in at[2:-2]]
        # Only the event loop between main and serve, from its entry to
        # the handle that steps the task.
        assert loop and all("asyncio/" in f for f in loop), stack
        assert names[2].rsplit(".", 1)[-1] == "run_until_complete", stack
        assert names[-3].rsplit(".", 1)[-1] == "_run", stack
        # The task is stepped by C: native frames between the loop's last
        # Python frame and the coroutine's.
        assert at[-2] - at[-3] > 1, stack
        above = stack[i + 1:]
        assert not any(is_python(f) for f in above), stack
        in_libz += n * any("libz.so" in f for f in above)
    assert in_libz >= 0.6 * total, (in_libz, total, r.stderr)


QSORT = re.compile(r"^(__)?qsort(_r)?\b")


def test_ctypes_callback_from_libc(python):
    """libc's qsort calling a Python comparison function through a ctypes
    callback (a libffi closure), which calls zlib: sort, then libffi's
    call, qsort, libffi's closure, then compare, then zlib's C, in order,
    nothing of Python between sort and compare."""
    r, found, total = samples_under(python, "native_qsort.py", "compare")
    in_libz = 0
    for stack, n, i in found:
        at = [k for k, f in enumerate(stack[:i + 1]) if is_python(f)]
        names = [stack[k].split(" (")[0] for k in at]
        assert names == ["<module>", "main", "sort", "compare"], stack
        between = stack[at[2] + 1:i]
        q = [k for k, f in enumerate(between) if QSORT.match(f)]
        assert q, stack
        # libffi calls qsort, and qsort calls libffi's closure.
        assert any("libffi.so" in f or f.startswith("ffi_call") for f in between[:q[0]]), stack
        assert any("libffi.so" in f or f.startswith("ffi_closure") for f in between[q[-1] + 1:]), \
            stack
        above = stack[i + 1:]
        assert not any(is_python(f) for f in above), stack
        in_libz += n * any("libz.so" in f for f in above)
    assert in_libz >= 0.6 * total, (in_libz, total, r.stderr)


def test_eval_between_its_caller_and_c(python):
    """Code run by eval(): the evaluated expression's frame, in an eval
    call of its own, between its caller and zlib.compress's C function,
    then libz."""
    r, merged, unmatched = record_native(python, "native_eval.py")
    r, found, total = found_under(r, python, merged, unmatched, "<module>", "<eval>")
    in_libz = 0
    for stack, n, i in found:
        python_frames = python_functions(stack[:i + 1])
        assert python_frames == ["<module>", "main", "squeeze", "<module>"], stack
        assert "native_eval.py" in [f for f in stack if f.startswith("squeeze (")][0], stack
        above = stack[i + 1:]
        assert not any(is_python(f) for f in above), stack
        # Directly above the expression: zlib.compress's C function, then libz.
        if len(above) >= 2 and "libz.so" not in above[0] and \
                any("libz.so" in f for f in above[1:]):
            in_libz += n
    assert in_libz >= 0.6 * total, (in_libz, total, r.stderr)
