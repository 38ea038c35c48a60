# SPDX-License-Identifier: MIT
"""spyglass heap: a census of a live process's objects, read from outside,
against the counts the workload takes of its own types with gc.get_objects(),
and --diff naming what grows. Every CPython here (missing ones are skipped)."""
import json
import os
import subprocess
import tempfile
import time

from conftest import SPYGLASS, TIMEOUT, WORKLOADS, start, stop

BASE_SESSIONS = 20000  # tests/workloads/heap.py
BASE_HANDLERS = 15000


def heap(*args):
    proc = subprocess.run([SPYGLASS, "heap"] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=TIMEOUT)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    return proc.returncode, proc.stdout.decode("utf-8"), stderr


def assert_one_line_error(status, stderr, *words):
    assert status > 0, (status, stderr)
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("spyglass: "), stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def start_heap(python, mode, seconds=60):
    """Start tests/workloads/heap.py and wait until it has built its heap."""
    fd, truth = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    os.unlink(truth)
    proc = start(python, "heap.py", mode, seconds, truth=truth, settle=0)
    deadline = time.time() + TIMEOUT
    while not os.path.exists(truth) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.2)  # the file is written whole before it is seen: let it close
    with open(truth) as f:
        doc = json.load(f)
    os.unlink(truth)
    if mode == "idle":
        wait_idle(proc.pid)
    return proc, doc


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_idle(pid):
    """Until the workload has used no CPU for 0.3 s: it is asleep between its
    0.1 s naps, done with what it did to write its truth (on a loaded machine
    that can take a while after the file appears)."""
    deadline = time.time() + TIMEOUT
    last, still = cpu_ticks(pid), 0
    while still < 3 and time.time() < deadline:
        time.sleep(0.1)
        now = cpu_ticks(pid)
        still = still + 1 if now == last else 0
        last = now


def by_type(doc):
    return {t["type"]: t for t in doc["types"]}


def test_census_counts_own_types(python):
    proc, truth = start_heap(python, "idle")
    try:
        status, out, err = heap("--pid", proc.pid, "--json")
        assert status == 0, err
        doc = json.loads(out)
        types = by_type(doc)
        # The target sleeps while it is read: nothing is allocated or freed,
        # so the census must find exactly what gc.get_objects() listed.
        for name, count in truth["counts"].items():
            assert types[name]["count"] == count, (name, types.get(name), count)
            assert types[name]["python"] is True
        assert truth["counts"]["heap_app.Session"] == BASE_SESSIONS
        # Sessions own a str and a list and are found only through the
        # collector; their str and int attributes only through references.
        assert types["str"]["count"] >= BASE_SESSIONS and types["int"]["count"] >= BASE_SESSIONS
        assert types["list"]["count"] >= BASE_SESSIONS
        # An instance is a few words: between a header's 16 bytes and 200.
        s = types["heap_app.Session"]
        assert 16 * s["count"] <= s["bytes"] <= 200 * s["count"], s
        assert doc["lists_whole"] == doc["lists"] >= 3 and doc["skipped"] == 0
        assert doc["tracked"] + doc["untracked"] == doc["objects"]
        assert doc["bytes"] == sum(t["bytes"] for t in doc["types"])
        assert proc.poll() is None
    finally:
        stop(proc)


def test_census_text(python):
    proc, truth = start_heap(python, "idle")
    try:
        status, out, err = heap("--pid", proc.pid, "--top", 5)
        assert status == 0, err
        lines = out.splitlines()
        assert lines[0].startswith("Heap of process %d (Python " % proc.pid), lines[0]
        assert "lists read whole" in lines[1] and "found through references" in lines[1]
        rows = [l for l in lines[3:] if not l.strip().startswith("(")]
        assert len(rows) == 6 and rows[0].split() == ["objects", "bytes", "type"], out
        sizes = [int(r.split()[1].replace(",", "")) for r in rows[1:]]
        assert sizes == sorted(sizes, reverse=True), out
        assert "more types: --top 0 shows all" in lines[-1]
    finally:
        stop(proc)


def test_diff_names_the_leak_first(python):
    proc, truth = start_heap(python, "leak")
    try:
        status, out, err = heap("--pid", proc.pid, "--diff", 2, "--json")
        assert status == 0, err
        doc = json.loads(out)
        grew = doc["grew"]
        # 2,000 Sessions a second are leaked; on a loaded machine the
        # workload may run at a tenth of its pace, still hundreds.
        assert grew and grew[0]["type"] == "heap_app.Session", grew[:3]
        assert grew[0]["count"] >= 100 and grew[0]["count_per_min"] > 0
        assert all(g["type"] != "heap_app.Handler" for g in grew), grew
    finally:
        stop(proc)


def test_diff_steady_names_nothing(python):
    proc, truth = start_heap(python, "steady")
    try:
        status, out, err = heap("--pid", proc.pid, "--diff", 2)
        assert status == 0, err
        assert "No type grew" in out, out
    finally:
        stop(proc)


def test_not_python():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        status, out, err = heap("--pid", sleeper.pid)
        assert_one_line_error(status, err, "not running CPython")
        assert out == "" and sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_no_such_pid():
    status, out, err = heap("--pid", 4194300)
    assert_one_line_error(status, err, "no process")
    assert out == ""


def test_target_exits_mid_census(python):
    # The target ends while the second census of a diff waits or reads.
    proc, truth = start_heap(python, "leak", seconds=1)
    try:
        status, out, err = heap("--pid", proc.pid, "--diff", 3)
        assert_one_line_error(status, err, "exited during the census")
        assert out == ""
    finally:
        stop(proc)


def test_bad_usage():
    for args, words in (([], "give --pid"), (["--pid", "x"], "--pid"),
                        (["--pid", "1", "--diff", "0"], "--diff"), (["--bogus"], "unknown"),
                        (["--pid", "1", "--diff", "1", "--referrers", "x"], "do not go together")):
        status, out, err = heap(*args)
        assert status == 2 and out == "", (args, status, out)
        assert_one_line_error(status, err, words)


def test_referrers_name_the_holders(python):
    proc, truth = start_heap(python, "idle")
    try:
        status, out, err = heap("--pid", proc.pid, "--referrers", "heap_app.Session", "--json")
        assert status == 0, err
        doc = json.loads(out)
        assert doc["held"] == truth["counts"]["heap_app.Session"]
        # Every Session is in heap_app._SESSIONS, and nothing else holds one.
        assert doc["holders"][0] == {"what": "the dict _SESSIONS in module heap_app",
                                     "count": BASE_SESSIONS, "holders": 1}, doc["holders"][:3]
        status, out, err = heap("--pid", proc.pid, "--referrers", "heap_app.Handler")
        assert status == 0, err
        lines = out.splitlines()
        assert lines[0].startswith("What holds the 15,000 objects of process %d" % proc.pid)
        # register's closure: make_registry.<locals>.register on 3.x, register on 2.7.
        held = lines[3].split(None, 2)
        assert held[:2] == ["15,000", "heap_app.Handler"], out
        assert held[2].startswith("objects held by the list in a closure of heap_app."), out
        assert held[2].endswith("register"), out
        # Each Session's list is its own attribute: one line for all of them.
        status, out, err = heap("--pid", proc.pid, "--referrers", "list", "--json")
        holders = {h["what"]: h for h in json.loads(out)["holders"]}
        payload = holders["attribute payload of heap_app.Session objects"]
        assert payload["count"] == payload["holders"] == BASE_SESSIONS, payload
        status, out, err = heap("--pid", proc.pid, "--referrers", "NoSuchType")
        assert_one_line_error(status, err, "no objects of type NoSuchType")
    finally:
        stop(proc)


def start_ready(python, workload):
    """Start tests/workloads/WORKLOAD and wait until it has written its
    truth (heap_frames.py: once its threads hold their Items) and sleeps."""
    fd, truth = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    os.unlink(truth)
    proc = start(python, workload, 60, truth=truth, settle=0)
    deadline = time.time() + TIMEOUT
    while not os.path.exists(truth) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.2)
    with open(truth) as f:
        doc = json.load(f)
    os.unlink(truth)
    wait_idle(proc.pid)
    return proc, doc


def test_referrers_frame_locals(python):
    # Items that only frames' locals hold: a list in a sleeping thread's
    # local, one Item in another local, and a list in a dict in the main
    # thread's local. Both threads sleep: every Item is placed, exactly.
    proc, truth = start_ready(python, "heap_frames.py")
    try:
        status, out, err = heap("--pid", proc.pid, "--referrers", "__main__.Item", "--json")
        assert status == 0, err
        doc = json.loads(out)
        assert doc["held"] == truth["items"] == truth["in_thread"] + truth["in_main"], doc
        holders = {h["what"]: (h["count"], h["holders"]) for h in doc["holders"]}
        assert holders == {
            "the list in local kept of hold (heap_frames.py) in thread 'holder'":
                (truth["in_thread"] - 1, 1),
            "local one of hold (heap_frames.py) in thread 'holder'": (1, 1),
            "a list under key items of the dict in local by_key of main (heap_frames.py) "
            "in thread 'MainThread'": (truth["in_main"], 1),
        }, doc["holders"]
        assert proc.poll() is None
    finally:
        stop(proc)


def test_diff_names_a_growing_closure_list(python):
    # Handlers registered into the list in register's closure, 2,000 a
    # second: --diff names them first, --referrers the closure's list.
    proc, truth = start_heap(python, "callbacks")
    try:
        status, out, err = heap("--pid", proc.pid, "--diff", 2, "--json")
        assert status == 0, err
        grew = json.loads(out)["grew"]
        assert grew and grew[0]["type"] == "heap_app.Handler", grew[:3]
        assert grew[0]["count"] >= 100 and grew[0]["count_per_min"] > 0
        assert all(g["type"] != "heap_app.Session" for g in grew), grew
        status, out, err = heap("--pid", proc.pid, "--referrers", "heap_app.Handler", "--json")
        assert status == 0, err
        doc = json.loads(out)
        top = doc["holders"][0]
        assert top["what"].startswith("the list in a closure of heap_app."), doc["holders"][:3]
        assert top["what"].endswith("register") and top["holders"] == 1, top
        # All but the few registered between the census's reads of the
        # list and of its items (2,000 a second, a census of under 1 s).
        assert top["count"] >= BASE_HANDLERS and top["count"] >= doc["held"] - 2000, (top, doc)
    finally:
        stop(proc)


def test_referrers_class_attribute_without_instances(python):
    # Registry is never instantiated: its class attribute items, a list,
    # is the only holder of every Entry, and is named as one.
    proc, truth = start_ready(python, "heap_holders.py")
    try:
        status, out, err = heap("--pid", proc.pid, "--referrers", "__main__.Entry", "--json")
        assert status == 0, err
        doc = json.loads(out)
        assert doc["held"] == truth["counts"]["__main__.Entry"] == truth["entries"], doc
        assert doc["holders"] == [{"what": "the list __main__.Registry.items (a class attribute)",
                                   "count": truth["entries"], "holders": 1}], doc["holders"]
        # The list itself, held directly by the class's dict, is named by
        # its attribute too (and a module global's list by its global).
        status, out, err = heap("--pid", proc.pid, "--referrers", "list", "--top", 0, "--json")
        assert status == 0, err
        holders = {h["what"]: (h["count"], h["holders"]) for h in json.loads(out)["holders"]}
        assert holders.get("the list __main__.Registry.items (a class attribute)") == (1, 1), holders
        assert holders.get("the list TOKENS in module __main__") == (1, 1), holders
        assert proc.poll() is None
    finally:
        stop(proc)


def test_referrers_count_objects_not_references(python):
    # Each of the 400 Tokens is in the list TOKENS, in each of the three
    # tuples in the list VIEWS, and twice in the tuple PAIRS: a line counts
    # the Tokens it holds, each once, however many of its holders refer to
    # it and however often.
    proc, truth = start_ready(python, "heap_holders.py")
    try:
        status, out, err = heap("--pid", proc.pid, "--referrers", "__main__.Token", "--json")
        assert status == 0, err
        doc = json.loads(out)
        n = truth["tokens"]
        assert doc["held"] == truth["counts"]["__main__.Token"] == n, doc
        holders = {h["what"]: (h["count"], h["holders"]) for h in doc["holders"]}
        assert holders == {
            "the list TOKENS in module __main__": (n, 1),
            "a tuple in the list VIEWS in module __main__": (n, truth["views"]),
            "the tuple PAIRS in module __main__": (n, 1),
        }, doc["holders"]
        # No line holds more objects of a type than the census counted.
        status, out, err = heap("--pid", proc.pid, "--referrers", "type", "--top", 0, "--json")
        assert status == 0, err
        doc = json.loads(out)
        assert doc["holders"] and all(h["count"] <= doc["held"] for h in doc["holders"]), \
            (doc["held"], doc["holders"][:3])
    finally:
        stop(proc)


def test_census_bytes_match_getsizeof(python):
    # Row (a list), Table (a dict) and Text (a str), with no __dict__: the
    # census counts what sys.getsizeof counts for them (the object with its
    # GC header, a list's item array, a dict's tables, a str's characters),
    # so each type's bytes are the workload's own sum of getsizeof within
    # 1% (the target sleeps while it is read; measured: equal).
    proc, truth = start_ready(python, "heap_holders.py")
    try:
        status, out, err = heap("--pid", proc.pid, "--top", 0, "--json")
        assert status == 0, err
        types = by_type(json.loads(out))
        for name, (count, size) in sorted(truth["sizeof"].items()):
            assert types[name]["count"] == count, (name, types.get(name), count)
            assert abs(types[name]["bytes"] - size) <= size * 0.01, (name, types[name], size)
    finally:
        stop(proc)
