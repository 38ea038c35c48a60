# SPDX-License-Identifier: MIT
"""spyglass report against profiles recorded from ground-truth workloads.

The workloads time their own functions (tests/workloads/groundtruth.py); the
report's shares must agree with those clocks within the intervals it prints.
A 95% interval misses its truth one time in twenty by design, so each
check allows the printed interval widened to 99.9% (x1.68: 3.29 / 1.96
standard errors), which keeps a test of a handful of figures from failing
by chance more than about one run in a hundred.

The intervals cover sampling noise, not the sampler's bias under load: on
this 2-core machine shared by several jobs (load average 8), ticks are
missed just when the target is descheduled too, and one run in about ten
put a share 5.4 points off its clock (caller_b: 15.3% for 20.7% of the
wall time). So each check also allows LOAD_BIAS points beyond the
interval: still far from what a wrong attribution gives (caller_a is 50%
of the work, caller_b 17%, own_work 33%; burn's callers 75 : 25).
"""
import json
import os
import re

import pytest

from conftest import INTERPRETERS, SPYGLASS, WORKLOADS, record_pprof, run, tolerance

WIDEN = 3.29 / 1.96
LOAD_BIAS = 7.0


def report(*args):
    """report's JSON output, parsed."""
    status, out, err = run([SPYGLASS, "report", "-f", "json"] + [str(a) for a in args])
    assert status == 0, err
    return json.loads(out)


def report_text(*args):
    status, out, err = run([SPYGLASS, "report"] + [str(a) for a in args])
    assert status == 0, err
    return out


def row(doc, pattern):
    found = [r for r in doc["rows"] if re.match(pattern, r["key"])]
    assert len(found) == 1, (pattern, [r["key"] for r in doc["rows"]])
    return found[0]


def assert_within(figure, name, truth_pct):
    """truth_pct is inside the printed interval of figure[name], widened."""
    pct, (lo, hi) = figure[name + "_pct"], figure[name + "_ci"]
    assert lo <= pct <= hi
    lo_w, hi_w = pct - WIDEN * (pct - lo) - LOAD_BIAS, pct + WIDEN * (hi - pct) + LOAD_BIAS
    assert lo_w <= truth_pct <= hi_w, (name, truth_pct, pct, lo, hi)


def nodes(tree):
    yield tree
    for c in tree["children"]:
        for n in nodes(c):
            yield n


def test_shares_tree_and_callers_match_truth(python, tmp_path):
    """Self and total shares, the callers of a shared function and the
    tree, against the workload's own clocks: caller_a and caller_b call
    burn 3 : 1, own_work burns in its own body.

    Wall mode against the wall clock: a tick samples the thread whatever it
    is doing, so each function's expected share is exactly its share of the
    time. (cpu mode against the CPU clock is not, on a busy machine: a thread
    waiting for a CPU is runnable and counted, so shares follow wall time:
    own_work 40.9% in cpu mode against 34.4% of the CPU and 40.5% of the
    wall clock, Python 3.11, 2026-12-01.)"""
    pb, truth = record_pprof(tmp_path, python, "shared_callee.py", 3, "--mode", "wall")
    clock = truth["wall"]
    work = clock["caller_a"] + clock["caller_b"] + clock["own_work"]
    # Only the timed work: startup and imports are not in the truth.
    focus = ["--focus", "^(caller_a|caller_b|own_work)$"]
    doc = report(pb, "--limit", 0, *focus)
    assert doc["view"] == "flat" and doc["header"]["mode"] == "wall"
    assert doc["header"]["python_version"] == truth["python"]
    assert doc["kept"] >= 300, doc["kept"]  # 3 s at 250 Hz, minus startup
    assert_within(row(doc, r"burn \("), "self", 100 * (clock["caller_a"] + clock["caller_b"]) / work)
    assert_within(row(doc, r"own_work \("), "self", 100 * clock["own_work"] / work)
    assert_within(row(doc, r"caller_a \("), "total", 100 * clock["caller_a"] / work)
    assert_within(row(doc, r"caller_b \("), "total", 100 * clock["caller_b"] / work)
    assert row(doc, r"main \(")["total"] == doc["kept"]
    # Files are named as the other writers name them, or whole on request.
    whole = os.path.join(WORKLOADS, "shared_callee.py")
    assert row(doc, r"burn \(")["key"] == "burn (shared_callee.py)"
    full = report(pb, "--full-filenames", *focus)
    assert row(full, r"burn \(")["key"] == "burn (%s)" % whole

    # burn's callers split as the callers' clocks do.
    doc = report(pb, "--callers", "^burn$", *focus)
    edges = {e["key"].split(" ")[0]: e for e in doc["callers"]["edges"]}
    assert set(edges) == {"caller_a", "caller_b"}, edges
    burn_time = clock["caller_a"] + clock["caller_b"]
    assert_within(edges["caller_a"], "samples", 100 * clock["caller_a"] / burn_time)
    assert_within(edges["caller_b"], "samples", 100 * clock["caller_b"] / burn_time)
    assert sum(e["samples"] for e in edges.values()) == doc["callers"]["through"]
    # and its callees: none, it is the leaf
    doc = report(pb, "--callees", "^burn$", *focus)
    assert [e["key"] for e in doc["callees"]["edges"]] == [None]

    # The whole tree (no pruning) adds up: total = self + children's totals.
    doc = report(pb, "--tree", "--min-percent", 0)
    assert doc["tree"]["total"] == doc["kept"] == doc["header"]["samples"]
    for n in nodes(doc["tree"]):
        assert n["total"] == n["self"] + sum(c["total"] for c in n["children"]), n["key"]
    # Inverted: burn is a root, its callers below it in the truth's ratio.
    doc = report(pb, "--inverted", "--min-percent", 0, *focus)
    burn = [n for n in doc["tree"]["children"] if n["key"].startswith("burn ")]
    assert len(burn) == 1
    below = {c["key"].split(" ")[0]: c["total"] for c in burn[0]["children"]}
    assert set(below) == {"caller_a", "caller_b"} and sum(below.values()) == burn[0]["total"]


def test_intervals_cover_the_truth_about_95_percent(tmp_path):
    """Over many recorded runs, report's 95% intervals hold the workload's
    own truth about 95% of the time. work_split.py does 5 : 3 : 2 units of
    one loop in short calls (a call is about one sample at 250 Hz), so its
    samples are nearly independent draws; 20 runs of 1.5 s give 60
    intervals. Measured 57 of 60 (95%) on this machine. At a true 95%,
    fewer than 48 happens with probability under 1e-4; a run-to-run drift
    that the interval does not know of (the machine's load moving the
    split) shows as lower coverage, which is what this measures."""
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else newest_python()
    covered, intervals, misses = 0, 0, []
    for i in range(20):
        pb, truth = record_pprof(tmp_path, python, "work_split.py", 1.5, name="run%d" % i)
        rows = {r["key"].split()[0]: r for r in report("--focus", "alpha|beta|gamma", pb)["rows"]}
        work = truth["work"]
        for f in ("alpha", "beta", "gamma"):
            share = 100.0 * work[f] / sum(work.values())
            lo, hi = rows[f]["self_ci"]
            intervals += 1
            covered += lo <= share <= hi
            if not lo <= share <= hi:
                misses.append((f, share, lo, hi))
    assert covered >= 48, (covered, intervals, misses)


def test_threads_by_thread_and_module(python, tmp_path):
    """--by thread and --by module, and --thread, on named threads that
    burn in burn_one and burn_two for as long as each other. Wall mode
    against the wall clock, as above: in cpu mode on a busy machine a
    burner waiting for a CPU is counted, so its share is not its CPU's."""
    pb, truth = record_pprof(tmp_path, python, "threads.py", 2, "--mode", "wall")
    clock = truth["wall"]
    focus = ["--focus", "^(burn_one|burn_two)$"]
    doc = report(pb, "--by", "thread", *focus)
    by_name = {r["key"].split(": ", 1)[1]: r for r in doc["rows"]}
    assert set(by_name) == {"burner-1", "burner-2"}, doc["rows"]
    both = clock["burn_one"] + clock["burn_two"]
    assert_within(by_name["burner-1"], "total", 100 * clock["burn_one"] / both)
    assert_within(by_name["burner-2"], "total", 100 * clock["burn_two"] / both)
    for r in doc["rows"]:
        assert r["self"] == r["total"]
        if truth.get("tids"):
            name = r["key"].split(": ", 1)[1]
            assert r["key"] == "thread %d: %s" % (truth["tids"][name], name)

    # Modules: the script, groundtruth (spin), the standard library's threading.
    doc = report(pb, "--by", "module", "--limit", 0, *focus)
    mods = {r["key"]: r for r in doc["rows"]}
    assert {"threads", "groundtruth", "threading"} <= set(mods), sorted(mods)
    assert mods["threads"]["total"] == doc["kept"]
    assert mods["groundtruth"]["self"] >= 0.9 * doc["kept"]  # the time is spent in spin
    assert mods["threading"]["total"] == doc["kept"]  # every thread runs from threading

    # One process, named by its command.
    procs = report(pb, "--by", "process")["rows"]
    assert len(procs) == 1 and procs[0]["key"].startswith("process %d: " % truth["pid"])
    assert "threads.py" in procs[0]["key"]

    # --thread NAME keeps that thread's samples only, and TID the same ones.
    one = report(pb, "--by", "thread", "--thread", "burner-1")
    assert [r["key"].split(": ", 1)[1] for r in one["rows"]] == ["burner-1"]
    assert one["kept"] == by_name["burner-1"]["total"] + \
        report(pb, "--thread", "burner-1", "--ignore", "^(burn_one|burn_two)$")["kept"]
    tid = one["rows"][0]["key"].split(":")[0].split()[1]
    assert report(pb, "--thread", tid, "--by", "thread")["kept"] >= one["kept"]


def newest_python():
    if not INTERPRETERS:
        pytest.skip("no pyenv CPython found")
    return INTERPRETERS[max(INTERPRETERS, key=lambda v: tuple(map(int, v.split("."))))]


def test_time_window_partitions(tmp_path):
    """--from/--to on a profile with a timeline: [0, T) and [T, end) share
    the samples out, to within one sample per thread that straddles T."""
    pb, _ = record_pprof(tmp_path, newest_python(), "threads.py", 2, "--mode", "wall")
    whole = report(pb)["kept"]
    before = report(pb, "--to", 1.0)["kept"]
    after = report(pb, "--from", 1.0)["kept"]
    assert 0 < before < whole and 0 < after < whole
    assert abs(before + after - whole) <= 5, (before, after, whole)
    inside = report(pb, "--from", 0.5, "--to", 1.0)["kept"]
    assert 0 < inside < before


def test_text_layout(tmp_path):
    """The text: the run's header first, lines within 100 columns, idle
    apart in wall mode, and the same figures as the JSON."""
    pb, truth = record_pprof(tmp_path, newest_python(), "threads.py", 2, "--mode", "wall")
    text = report_text(pb, "--limit", 0)
    lines = text.splitlines()
    assert lines[0].startswith("command: ") and "threads.py" in lines[0]
    assert lines[1].startswith("mode: wall; Python %s; rate asked 250.0 Hz" % truth["python"])
    assert re.match(r"samples: \d+ over [\d.]+ s; dropped \d+", lines[2])
    assert any(l.startswith("idle (off CPU, waiting): ") for l in lines[:6])
    assert all(len(l) <= 100 for l in lines), max(lines, key=len)
    header = next(l for l in lines if l.split()[:2] == ["self", "self%"])
    assert "idle%" in header
    doc = report(pb, "--limit", 0)
    table = lines[lines.index(header) + 1:]
    assert len(table) == len(doc["rows"])
    for line, r in zip(table, doc["rows"]):
        f = line.split()
        # The JSON has 4 decimals, the text 2: equal to within the rounding.
        assert int(f[0]) == r["self"] and abs(float(f[1]) - r["self_pct"]) <= 0.0051
        assert int(f[3]) == r["total"] and abs(float(f[6]) - r["self_idle_pct"]) <= 0.0051
    for t in (report_text(pb, "--tree"), report_text(pb, "--callers", "wait")):
        assert all(len(l) <= 100 for l in t.splitlines())
        assert " idle%  " in t  # wall mode: idle apart in every view
    # The waiter thread's wait is idle: its idle share is its whole self share.
    wait = [r for r in doc["rows"] if r["key"].startswith("wait_here ")]
    assert not wait or wait[0]["self"] == wait[0]["self_idle"]


def test_csv_and_sort_limit_min(tmp_path):
    pb, _ = record_pprof(tmp_path, newest_python(), "cpu_split.py", 1)
    lines = report_text(pb, "-f", "csv", "--limit", 0).splitlines()
    assert lines[0].startswith("key,self,self_pct,self_lo,self_hi,")
    doc = report(pb, "--limit", 0)
    assert len(lines) == 1 + len(doc["rows"])
    selfs = [r["self"] for r in doc["rows"]]
    assert selfs == sorted(selfs, reverse=True)
    totals = [r["total"] for r in report(pb, "--sort", "total", "--limit", 0)["rows"]]
    assert totals == sorted(totals, reverse=True)
    names = [r["key"] for r in report(pb, "--sort", "name", "--limit", 0)["rows"]]
    assert names == sorted(names)
    assert len(report(pb, "--limit", 3)["rows"]) == 3
    some = report(pb, "--min-percent", 5)
    assert some["rows"] and all(r["self_pct"] >= 5 for r in some["rows"])
    assert some["rows_left_out"] == len(doc["rows"]) - len(some["rows"])
    tree = report(pb, "--tree", "--min-percent", 10)
    assert all(n["total_pct"] >= 10 for n in nodes(tree["tree"]))
    # The tree and the edges in CSV: the same rows as the JSON's.
    csv_tree = report_text(pb, "-f", "csv", "--tree", "--min-percent", 10).splitlines()
    assert csv_tree[0].startswith("depth,key,total,")
    assert len(csv_tree) - 1 == len(list(nodes(tree["tree"]))) - 1  # the root is not a row
    edges = report(pb, "--callers", "^spin$")["callers"]["edges"]
    csv_edges = report_text(pb, "-f", "csv", "--callers", "^spin$").splitlines()
    assert len(csv_edges) - 1 == len(edges) > 0
    assert all(l.startswith("callers,^spin$,") for l in csv_edges[1:])


def test_reads_collapsed(tmp_path):
    """A collapsed file (another tool's): no header figures, no timeline."""
    path = tmp_path / "x.folded"
    path.write_text("main;work;burn 30\nmain;work 10\nmain;idle 60\n")
    doc = report(path)
    assert doc["header"]["mode"] == "unknown" and doc["kept"] == 100
    assert [(r["key"], r["self"], r["total"]) for r in doc["rows"]] == [
        ("idle", 60, 60), ("burn", 30, 30), ("work", 10, 40), ("main", 0, 100)]
    status, _, err = run([SPYGLASS, "report", "--from", "1", str(path)])
    assert status == 2 and err.startswith("spyglass: --from/--to: ") and err.count("\n") == 1


def assert_one_line_error(args, status=None):
    code, out, err = run([SPYGLASS, "report"] + [str(a) for a in args])
    assert code != 0 and (status is None or code == status), (code, err)
    assert err.startswith("spyglass: ") and err.count("\n") == 1, err
    assert out == ""
    return err


@pytest.mark.parametrize("content", [b"", b"\x1f\x8b" + bytes(range(256)) * 4,
                                     b"main;f notanumber\n", b"\x00\x01binary\n"])
def test_bad_files(tmp_path, content):
    path = tmp_path / "bad.pb.gz"
    path.write_bytes(content)
    assert_one_line_error([path], 1)


@pytest.mark.parametrize("option", ["--focus", "--ignore", "--callers", "--callees"])
def test_bad_regex(tmp_path, option):
    path = tmp_path / "x.folded"
    path.write_text("main;f 1\n")
    err = assert_one_line_error([option, "f(", path], 2)
    assert "bad regular expression 'f('" in err


@pytest.mark.parametrize("args", [
    ["--by", "class"], ["--sort", "cpu"], ["-f", "xml"], ["--limit", "-1"],
    ["--min-percent", "101"], ["--tree", "--callers", "f"], ["--by", "thread", "--tree"],
    ["--from", "2", "--to", "1"], ["--bogus"], [],
])
def test_bad_usage(tmp_path, args):
    path = tmp_path / "x.folded"
    path.write_text("main;f 1\n")
    assert_one_line_error(args + ([path] if args else []), 2)


def test_missing_file(tmp_path):
    assert_one_line_error([tmp_path / "nope.pb.gz"], 1)


GO_PROFILE = os.path.join(os.path.dirname(WORKLOADS), "fuzz", "corpus", "pprof", "go_cpu.pb.gz")


def test_reads_another_tools_pprof():
    """Issue 6: report reads another tool's pprof (Go's runtime/pprof, the
    file test_pprof converts): 30 samples of cpu/nanoseconds at a 10 ms
    period over 0.40 s, all in main.spin (9 at main.go:12, 21 at :13)
    under main.inlined (inlined into main.main) under runtime.main, as
    `go tool pprof -raw` lists it. Every figure is checked, in each view:
    what is not in the file (command, Python, achieved rate) says unknown."""
    doc = report(GO_PROFILE, "--limit", 0)
    h = doc["header"]
    assert (h["mode"], h["samples"], h["rate_asked_hz"]) == ("cpu", 30, 100.0), h
    assert abs(h["duration_s"] - 0.401) < 0.001 and h["command"] == "", h
    assert doc["kept"] == 30 and doc["rows_left_out"] == 0
    assert [(r["key"], r["self"], r["total"]) for r in doc["rows"]] == [
        ("main.spin (./main.go)", 30, 30), ("main.inlined (./main.go)", 0, 30),
        ("main.main (./main.go)", 0, 30), ("runtime.main (runtime/proc.go)", 0, 30)]
    spin = doc["rows"][0]
    assert spin["self_pct"] == 100.0 and spin["self_ci"][1] == 100.0
    assert 85 < spin["self_ci"][0] < 95, spin  # Wilson's at 30 of 30: 88.6
    lines = report(GO_PROFILE, "--by", "line")["rows"]
    assert [(r["key"], r["self"]) for r in lines[:2]] == [
        ("main.spin (./main.go:13)", 21), ("main.spin (./main.go:12)", 9)], lines
    assert {r["key"] for r in lines[2:]} == {"main.inlined (./main.go:18)",
                                             "main.main (./main.go:26)",
                                             "runtime.main (runtime/proc.go:250)"}, lines
    files = report(GO_PROFILE, "--by", "file")["rows"]
    assert [(r["key"], r["self"], r["total"]) for r in files] == [
        ("./main.go", 30, 30), ("runtime/proc.go", 0, 30)], files
    # The tree: the inlined call is a frame of its own, between its caller and spin.
    chain, node = [], report(GO_PROFILE, "--tree", "--min-percent", 0)["tree"]
    while node["children"]:
        (node,) = node["children"]
        chain.append((node["key"].split(" ")[0], node["total"], node["self"]))
    assert chain == [("runtime.main", 30, 0), ("main.main", 30, 0), ("main.inlined", 30, 0),
                     ("main.spin", 30, 30)], chain
    edges = report(GO_PROFILE, "--callers", "^main.spin$")["callers"]["edges"]
    assert [(e["key"], e["samples"]) for e in edges] == [("main.inlined (./main.go)", 30)]

    text = report_text(GO_PROFILE)
    lines = text.splitlines()
    assert lines[0] == "command: (not recorded)", text
    assert lines[1] == "mode: cpu; Python unknown; rate asked 100.0 Hz, achieved unknown", text
    assert lines[2].startswith("samples: 30 over 0.40 s; dropped 0"), text
    assert re.search(r"^ +30 100\.00 +88\.6-100\.0 +30 100\.00 +88\.6-100\.0  main\.spin "
                     r"\(\./main\.go\)$", text, re.M), text


def line_rows(doc, function, file):
    """{line: row} of the function's rows in a --by line report."""
    prefix = "%s (%s:" % (function, file)
    return {int(r["key"][len(prefix):-1]): r for r in doc["rows"] if r["key"].startswith(prefix)}


def test_by_line_and_by_file(python, tmp_path):
    """Issue 6: --by line keeps a function's lines apart, --by file adds a
    file's functions up, from the command line. lines.py's two_lines runs
    the same statement 70 and 30 times a round on two lines (their numbers
    in its truth): those two lines hold its self time, split 70 : 30 (four
    standard errors plus 5 points for the bytecode the two loops differ
    in, as test_record's test_lines); the lines add up to the function,
    exactly, and the functions to their files."""
    pb, truth = record_pprof(tmp_path, python, "lines.py", 3)
    hot = truth["lines"]
    by_fn = report(pb, "--by", "function", "--limit", 0)
    by_line = report(pb, "--by", "line", "--limit", 0)
    by_file = report(pb, "--by", "file", "--limit", 0)
    assert by_line["by"] == "line" and by_file["by"] == "file"
    kept = by_fn["kept"]
    # 3 s at 250 Hz; under load the sampler may get a third of that: the
    # tolerance below is of the samples there are.
    assert kept == by_line["kept"] == by_file["kept"] >= 200
    for doc in (by_fn, by_line, by_file):  # each sample has one leaf
        assert sum(r["self"] for r in doc["rows"]) == kept

    two = line_rows(by_line, "two_lines", "lines.py")
    seventy, thirty = two[hot["seventy"]]["self"], two[hot["thirty"]]["self"]
    n = seventy + thirty
    assert n >= 150, two
    share = seventy / float(n)
    assert abs(share - 0.7) <= tolerance(0.7, n) + 0.05, (share, seventy, thirty)
    fn = row(by_fn, r"two_lines \(lines\.py\)$")
    # Lines add up to their function (self; the two hot lines nearly all of it).
    assert sum(r["self"] for r in two.values()) == fn["self"]
    assert n >= 0.9 * fn["self"], two
    for line in (hot["seventy"], hot["thirty"]):
        assert two[line]["self"] == two[line]["total"]  # leaves: nothing called there
        assert hot["first"] <= line

    files = {r["key"]: r for r in by_file["rows"]}
    assert "lines.py" in files and "groundtruth.py" in files, sorted(files)
    # A file's self is its functions' self, exactly (a function is name and file).
    for name in ("lines.py", "groundtruth.py"):
        mine = [r for r in by_fn["rows"] if r["key"].endswith(" (%s)" % name)]
        assert files[name]["self"] == sum(r["self"] for r in mine), name
        # and its total at least each of its functions' (counted once per sample)
        assert files[name]["total"] >= max(r["total"] for r in mine), name
    # The work is in two_lines: its file leads (start-up is spread over many).
    assert by_file["rows"][0]["key"] == "lines.py", by_file["rows"][:3]
    # Ledger.timed (groundtruth.py) calls two_lines: on every stack that has it.
    assert files["groundtruth.py"]["total"] >= fn["total"]

    # The text says the same keys.
    text = report_text(pb, "--by", "line", "--limit", 3)
    assert "view: flat, by line" in text and "  line\n" in text, text
    assert re.search(r"  two_lines \(lines\.py:%d\)$" % hot["seventy"], text, re.M), text
    text = report_text(pb, "--by", "file", "--limit", 3)
    assert re.search(r"^ +%d +[\d.]+ .*  lines\.py$" % files["lines.py"]["self"], text,
                     re.M), text


def test_tree_collapse_recursion(python, tmp_path):
    """Issue 6: --tree --collapse-recursion from the command line on deep.py
    (descend() recursing DEPTH times, then leaf() burning): without it the
    tree has a chain of exactly DEPTH descend nodes; with it one descend
    node, leaf directly below, the same totals, and no node anywhere whose
    child is the same function."""
    depth = 30
    pb, truth = record_pprof(tmp_path, python, "deep.py", 2, wargs=[depth])
    assert truth["depth"] == depth

    def is_descend(n):
        return n["key"] is not None and n["key"].startswith("descend (deep.py")

    def longest_chain(n, run=0):
        run = run + 1 if is_descend(n) else 0
        return max([run] + [longest_chain(c, run) for c in n["children"]])

    def outermost(n):
        if is_descend(n):
            return n
        for c in n["children"]:
            found = outermost(c)
            if found:
                return found
        return None

    plain = report(pb, "--tree", "--min-percent", 0)
    assert plain["collapse_recursion"] is False
    assert longest_chain(plain["tree"]) == depth
    flat = report(pb, "--tree", "--min-percent", 0, "--collapse-recursion")
    assert flat["collapse_recursion"] is True
    assert flat["tree"]["total"] == plain["tree"]["total"] == flat["kept"]
    descends = [n for n in nodes(flat["tree"]) if is_descend(n)]
    assert len(descends) == 1, [n["key"] for n in descends]
    for n in nodes(flat["tree"]):
        assert n["key"] is None or all(c["key"] != n["key"] for c in n["children"]), n["key"]
        assert n["total"] == n["self"] + sum(c["total"] for c in n["children"]), n["key"]
    (d,) = descends
    top = outermost(plain["tree"])
    assert d["total"] == top["total"] >= 100, (d["total"], top["total"])  # 2 s at 250 Hz
    leaf = [c for c in d["children"] if c["key"].startswith("leaf ")]
    assert len(leaf) == 1 and leaf[0]["total"] >= 0.9 * d["total"], d["children"]
    plain_leaf = sum(n["total"] for n in nodes(plain["tree"])
                     if n["key"] and n["key"].startswith("leaf "))
    assert leaf[0]["total"] == plain_leaf

    # The text: the header says so, and descend is one line instead of DEPTH.
    def descend_lines(text):
        return [l for l in text.splitlines() if re.search(r"\bdescend \(deep\.py\)$", l)]

    text = report_text(pb, "--tree", "--collapse-recursion")
    assert "recursion collapsed" in text, text
    assert len(descend_lines(text)) == 1, text
    assert len(descend_lines(report_text(pb, "--tree"))) == depth
