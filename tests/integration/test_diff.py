# SPDX-License-Identifier: MIT
"""spyglass diff against profiles of a ground-truth workload and a variant.

work_split.py runs alpha, beta and gamma in interleaved calls of 5, 3 and 2
units of the same loop (50 / 30 / 20 of the work); the variant,
"work_split.py S 2 3 5", swaps alpha's and gamma's units (20 / 30 / 50), so
exactly alpha and gamma change, 30 points each, and beta does not.

Profiles are short (4 s, about 400 samples at 100 Hz): enough that a
30-point change is six standard errors or more, while two runs of the same
split must differ by no more than the marks allow for noise: Holm's
correction over each diff's figures at --alpha 0.001, i.e. a family-wise 0.01
over the 10 pairs (Bonferroni). At diff's default 0.01 per pair, 10 pairs
would falsely mark a figure in up to 1 test run in 10 from sampling noise
alone: once in CI, alpha had 43% of a run's 393 samples for its 50%, 2.8
standard errors low, which is as rare as that. On this loaded
2-core machine whole runs move by more than sampling noise: with the
sanitizer build's sampler competing with the target for the cores, alpha
(50% of the work) had 48-58% of a run's samples at 250 Hz with design
effects of about 2.5, i.e. steady within the run; at 1000 Hz same-split
pairs were marked in 2 of 3 test runs, at 250 Hz in 1 of 3. A diff cannot
tell such a run from a changed program (README, spyglass diff); at 100 Hz
the samples are few enough that a bias of that size stays within noise,
while the variant's 30 points do not. The sampler sometimes gets a
fraction of its rate (251 samples in 1.5 s at 1000 Hz once, load average
9): a profile with under MIN_SAMPLES is recorded again, at most twice.

The figures compared are those of the timed work (--focus on the three), as
in test_report: the start-up before it is not the same from run to run by
more than sampling noise (imports read files: FileLoader.get_data's share
moved 6 standard errors between two runs of one split on this loaded
machine), and a diff rightly marks what did change.
"""
import itertools
import json
import os
import re

import pytest

from conftest import (DEBIAN, SPYGLASS, fill, need_browser, record_pprof, run, run_browser,
                      svg_frames)
from pbwire import read_profile

SECONDS = 4
RATE = 100
MIN_SAMPLES = 250
SAME = 5  # runs of the default split: 10 pairs that must flag nothing
SAME_ALPHA = 0.01 / (SAME * (SAME - 1) // 2)  # per pair, for 0.01 over all
VARIANT = (2, 3, 5)  # units of work of alpha, beta, gamma per round
CHANGED = {"alpha (work_split.py)", "gamma (work_split.py)"}
FOCUS = ["--focus", "^(alpha|beta|gamma)$"]
# As in test_report: a 95% interval widened to 99.9% (x1.68), plus the
# sampler's bias under load (points) on each side.
WIDEN = 3.29 / 1.96
LOAD_BIAS = 7.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """SAME profiles of the default split and one of the variant, with truths."""
    if not DEBIAN:
        pytest.skip("Debian's /usr/bin/python3 not found")
    tmp = tmp_path_factory.mktemp("diff")

    def enough(name, wargs=()):
        # The CPU clock samples the CPU the workload got: on a loaded
        # machine a run is made longer by what the last one lacked.
        seconds = SECONDS
        for _ in range(3):
            path, truth = record_pprof(tmp, DEBIAN, "work_split.py", seconds, rate=RATE,
                                       name=name, wargs=wargs)
            doc = json.loads(diff("-f", "json", path, path))
            got = doc["base"]["samples"]
            if got >= MIN_SAMPLES:
                return path, truth
            seconds = min(4 * SECONDS, seconds * 1.3 * MIN_SAMPLES / max(got, 1))
        pytest.fail("%s: %d samples in %.1f s at %d Hz, three times: the machine is too busy"
                    % (name, got, seconds, RATE))

    same = [enough("same%d" % i) for i in range(SAME)]
    return same, enough("variant", VARIANT)


def diff(*args):
    status, out, err = run([SPYGLASS, "diff"] + [str(a) for a in args])
    assert status == 0, err
    return out


def diff_json(*args):
    return json.loads(diff("-f", "json", *args))


def flagged(doc):
    return {r["key"] for r in doc["rows"] if r["self"]["significant"] or r["total"]["significant"]}


def row(doc, key):
    found = [r for r in doc["rows"] if r["key"] == key]
    assert len(found) == 1, (key, [r["key"] for r in doc["rows"]])
    return found[0]


def truth_share(truth, name):
    work = truth["work"]
    return 100.0 * work[name] / (work["alpha"] + work["beta"] + work["gamma"])


def test_changed_split_flags_exactly_the_changed(runs):
    same, (variant, vtruth) = runs
    base, btruth = same[0]
    # The whole profiles: the largest moves come first, and are marked.
    doc = diff_json(base, variant, "--limit", 0)
    assert {r["key"] for r in doc["rows"][:2]} == CHANGED
    assert CHANGED <= flagged(doc)
    assert row(doc, "alpha (work_split.py)")["total"]["change"] < -15
    assert row(doc, "gamma (work_split.py)")["self"]["change"] > 15

    # The timed work: exactly alpha and gamma, each change as the work done.
    doc = diff_json(base, variant, *FOCUS)
    assert flagged(doc) == CHANGED, [(r["key"], r["total"]) for r in doc["rows"]]
    for name in ("alpha", "beta", "gamma"):
        t = row(doc, "%s (work_split.py)" % name)["total"]
        truth = truth_share(vtruth, name) - truth_share(btruth, name)
        lo = t["change"] - WIDEN * (t["change"] - t["change_ci"][0]) - 2 * LOAD_BIAS
        hi = t["change"] + WIDEN * (t["change_ci"][1] - t["change"]) + 2 * LOAD_BIAS
        assert lo <= truth <= hi, (name, truth, t)


def test_same_split_flags_nothing(runs):
    """Every pair of runs of the same program: no figure of the work marked."""
    same, _ = runs
    uncorrected = 0
    for (a, _), (b, _) in itertools.combinations(same, 2):
        doc = diff_json(a, b, "--limit", 0, "--alpha", SAME_ALPHA, *FOCUS)
        assert flagged(doc) == set(), [(r["key"], r["total"], r["self"]) for r in doc["rows"][:3]]
        uncorrected += sum(1 for r in doc["rows"] for f in ("self", "total")
                           if r[f]["tested"] and r[f]["p"] < 0.05)
    print("figures with p < 0.05 before correction, over %d pairs: %d"
          % (SAME * (SAME - 1) // 2, uncorrected))


def test_json_carries_every_figure_and_text_agrees(runs):
    same, (variant, _) = runs
    base = same[0][0]
    doc = diff_json(base, variant)
    assert doc["base"]["file"] == base and doc["new"]["file"] == variant
    assert doc["base"]["command"].endswith("work_split.py %s" % SECONDS)
    assert doc["new"]["command"].endswith("work_split.py %s 2 3 5" % SECONDS)
    assert doc["base"]["mode"] == "cpu" and doc["base"]["rate_asked_hz"] == RATE
    assert doc["test"]["alpha"] == 0.01 and doc["test"]["correction"] == "holm"
    n = {s: doc[s]["kept"] for s in ("base", "new")}
    assert n["base"] == doc["base"]["samples"] >= MIN_SAMPLES
    full = diff_json(base, variant, "--limit", 0)
    # How many functions start-up adds depends on what the samples hit.
    assert len(doc["rows"]) == min(20, len(full["rows"]))
    assert doc["rows_left_out"] == len(full["rows"]) - len(doc["rows"])
    tested = 0
    for r in doc["rows"]:
        for f in ("self", "total"):
            c = r[f]
            for s in ("base", "new"):
                assert abs(c[s + "_pct"] - 100.0 * c[s] / n[s]) < 1e-3
                assert c[s + "_ci"][0] <= c[s + "_pct"] <= c[s + "_ci"][1]
            assert abs(c["change"] - (c["new_pct"] - c["base_pct"])) < 1e-3
            assert c["change_ci"][0] <= c["change"] <= c["change_ci"][1]
            assert c["p"] <= c["p_holm"] <= 1
            assert c["significant"] == (c["p_holm"] < 0.01)
            assert c["tested"] or (c["p"] == 1 and not c["significant"])
            tested += c["tested"]
    assert doc["test"]["figures"] >= tested
    assert doc["test"]["figures"] == sum(r[f]["tested"] for r in full["rows"]
                                         for f in ("self", "total"))

    # The text table shows the same figures, rounded, and marks the same.
    text = diff(base, variant)
    assert "Holm over %d figures" % doc["test"]["figures"] in text
    lines, printed_rows = {}, 0
    for line in text.splitlines():
        m = re.match(r"^(( *[0-9.]+){2} +[-+][0-9.]+ +[-+][0-9.]+,[-+][0-9.]+ [* ]){2} +(.*)$",
                     line)
        if m:
            lines[m.group(3)] = line
            printed_rows += 1
    # One line per row (fewer than 20 when start-up hit few functions).
    assert printed_rows == len(doc["rows"]), text
    checked = set()
    for r in doc["rows"]:
        if r["key"] not in lines:
            continue  # cut to fit: JSON has it whole
        printed = re.findall(r"[-+]?[0-9]+\.[0-9]+|\*", lines[r["key"]])
        want = []
        for f in ("self", "total"):
            c = r[f]
            want += [c["base_pct"], c["new_pct"], c["change"]] + c["change_ci"]
            want += ["*"] if c["significant"] else []
        assert len(printed) == len(want), (lines[r["key"]], r)
        for p, w in zip(printed, want):
            if p == "*" or w == "*":
                assert p == w, (lines[r["key"]], r)
            else:  # as printed, to JSON's 4 decimals
                assert abs(float(p) - w) <= 0.5 * 10 ** -len(p.split(".")[1]) + 1e-4, (p, w, r)
        checked.add(r["key"])
    assert CHANGED <= checked and len(checked) >= 5, text
    assert re.search(r"\* +alpha \(work_split.py\)$", text, re.M), text
    if doc["rows_left_out"]:
        assert "(%d more rows under --limit 20)" % doc["rows_left_out"] in text
    else:
        assert "more rows under --limit" not in text, text


def svg_boxes(path):
    frames, doc, rects = svg_frames(path)
    info = {}
    for g in doc.iter("{http://www.w3.org/2000/svg}g"):
        if g.get("data-x") is not None:
            info[(int(g.get("data-x")), int(g.get("data-d")))] = g.get("data-info")
    return frames, doc, rects, info


def one(frames, name):
    found = [f for f in frames if f[3] == name]
    assert len(found) == 1, (name, found)
    return found[0]


INFO = re.compile(r"^base ([0-9.]+)% \((\d+)\), new ([0-9.]+)% \((\d+)\), change ([-+][0-9.]+) "
                  r"points \(95% interval ([-+][0-9.]+) to ([-+][0-9.]+)\), (significant|not "
                  r"significant)$")


def assert_info(info, c):
    """A box's hover text shows these figures (JSON's, to its rounding)."""
    m = INFO.match(info)
    assert m, info
    got = [float(v) for v in m.groups()[:7]]
    want = [c["base_pct"], c["base"], c["new_pct"], c["new"], c["change"]] + c["change_ci"]
    assert all(abs(g - w) <= 0.0051 for g, w in zip(got, want)), (info, c)
    assert m.group(8) == ("significant" if c["significant"] else "not significant"), (info, c)


def test_svg_colours_hover_search(runs, tmp_path):
    same, (variant, _) = runs
    base = same[0][0]
    doc = diff_json(base, variant, "--limit", 0, *FOCUS)
    svg = str(tmp_path / "diff.svg")
    assert diff(base, variant, "-o", svg, *FOCUS) == ""
    frames, root, rects, info = svg_boxes(svg)
    assert int(root.get("data-total")) == doc["new"]["kept"]
    assert "on NEW: red grew, blue shrank" in "".join(root.itertext())
    colours = {}
    for name in ("alpha", "beta", "gamma"):
        key = "%s (work_split.py)" % name
        x, w, d, _ = one(frames, key)
        total = row(doc, key)["total"]
        # Each function has one path here: its box is its total.
        assert w == total["new"]
        assert_info(info[(x, d)], total)
        colours[name] = fill(rects[(x, d)])
    r, g, b = colours["alpha"]
    assert b == 255 and r == g and r <= 120, colours  # shrank 30 points: deep blue
    r, g, b = colours["gamma"]
    assert r == 255 and g == b and g <= 120, colours  # grew: deep red
    assert colours["beta"] == (255, 255, 255), colours  # unchanged: white
    assert fill(rects[(0, 0)]) == (255, 255, 255)  # all: 100% on both sides

    # Laid out on BASE: boxes as wide as BASE's samples, colours the same.
    rsvg = str(tmp_path / "diff-reverse.svg")
    diff(base, variant, "-o", rsvg, "--reverse", *FOCUS)
    rframes, rroot, rrects, _ = svg_boxes(rsvg)
    assert int(rroot.get("data-total")) == doc["base"]["kept"]
    x, w, d, _ = one(rframes, "alpha (work_split.py)")
    assert w == row(doc, "alpha (work_split.py)")["total"]["base"]
    assert fill(rrects[(x, d)]) == colours["alpha"]

    need_browser()
    alpha = one(frames, "alpha (work_split.py)")
    searches = []
    for regex, via in (("^(alpha|gamma) ", "button"), ("^beta ", "ctrl-f")):
        hits = [f for f in frames if f[2] > 0 and re.search(regex, f[3])]
        covered, end = 0, 0
        for x, w, _, _ in sorted(hits, key=lambda f: (f[0], -f[1])):
            if x + w > end:
                covered += x + w - max(x, end)
                end = x + w
        searches.append({"regex": regex, "frames": len(hits), "via": via,
                         "percent": 100.0 * covered / doc["new"]["kept"]})
    fills = [{"x": f[0], "d": f[2], "fill": "rgb(%d, %d, %d)" % colours[n]}
             for n, f in ((n, one(frames, "%s (work_split.py)" % n)) for n in colours)]
    spec = {"svg": svg, "screenshot": str(tmp_path / "diff.png"), "total": doc["new"]["kept"],
            "hover": {"x": alpha[0], "d": alpha[2], "name": alpha[3], "count": alpha[1],
                      "details": "Function: %s, %s" % (alpha[3], info[(alpha[0], alpha[2])])},
            "fills": fills, "searches": searches}
    report = run_browser(spec, tmp_path)
    assert [s["frames"] for s in report["searches"]] == [s["frames"] for s in searches]
    with open(spec["screenshot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def assert_one_line_error(args, status, *words):
    code, out, err = run([SPYGLASS, "diff"] + [str(a) for a in args])
    lines = err.strip("\n").split("\n")
    assert code == status, (args, code, err)
    assert len(lines) == 1 and lines[0].startswith("spyglass: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert out == ""


def test_bad_input(tmp_path):
    good = tmp_path / "good.folded"
    good.write_text("main;work 3\nmain 1\n")
    bad = tmp_path / "bad.folded"
    bad.write_text("this is not a profile\n")
    missing = tmp_path / "missing.pb.gz"
    assert_one_line_error([good, missing], 1, "cannot read", str(missing))
    assert_one_line_error([bad, good], 1, str(bad), "not a valid")
    assert_one_line_error([good, good, "--focus", "(unclosed"], 2, "--focus",
                          "bad regular expression")
    assert_one_line_error([good, good, "--ignore", "a**["], 2, "--ignore")
    assert_one_line_error([good], 2, "two profiles")
    assert_one_line_error([good, good, good], 2, "two profiles only")
    assert_one_line_error([good, good, "--reverse"], 2, "-o")
    assert_one_line_error([good, good, "--by", "thread"], 2, "--by", "known: function")
    assert_one_line_error([good, good, "--alpha", "2"], 2, "--alpha")
    assert_one_line_error([good, good, "--from", "1"], 2, "has no times")
    assert_one_line_error([good, good, "-o", str(tmp_path / "x.svg"), "-f", "json"], 2,
                          "choose one")
    assert_one_line_error([good, good, "-o", str(tmp_path / "no" / "such" / "x.svg")], 1)
    assert not os.path.exists(str(tmp_path / "x.svg"))


def keys_of(doc):
    return {r["key"] for r in doc["rows"]}


def test_by_line_file_module(runs):
    """Issue 6: diff --by line, --by file and --by module from the command
    line, on the default split against the variant. By line, each of
    alpha's, beta's and gamma's lines is a row, and a function's lines'
    changes add up to its own change (exactly: the same samples, counted
    apart); alpha's and gamma's lines are marked as they moved, beta's not.
    By file and by module the keys are files and dotted modules, and each
    side's self samples add up to its kept samples."""
    same, (variant, _) = runs
    base = same[0][0]
    by_fn = diff_json(base, variant, "--limit", 0, *FOCUS)
    by_line = diff_json(base, variant, "--by", "line", "--limit", 0, *FOCUS)
    assert by_line["by"] == "line"
    lines = {}
    for r in by_line["rows"]:
        m = re.match(r"^(alpha|beta|gamma|main|<module>) \(work_split\.py:(\d+)\)$", r["key"])
        assert m, r["key"]
        lines.setdefault(m.group(1), []).append(r)
    for name in ("alpha", "beta", "gamma"):
        fn = row(by_fn, "%s (work_split.py)" % name)
        assert lines[name], name
        for f in ("self", "total"):
            for s in ("base", "new"):
                assert sum(r[f][s] for r in lines[name]) == fn[f][s], (name, f, s)
            # one function's lines are on no stack together (the leaf's line)
            change = sum(r[f]["change"] for r in lines[name])
            assert abs(change - fn[f]["change"]) < 1e-3 * len(lines[name]), (name, f)
    # Marked as they moved: a 30-point change shows on the function's hot line.
    assert any(r["total"]["significant"] and r["total"]["change"] < 0 for r in lines["alpha"])
    assert any(r["total"]["significant"] and r["total"]["change"] > 0 for r in lines["gamma"])
    assert not any(flagged({"rows": [r]}) for r in lines["beta"]), lines["beta"]

    # Files and modules: the whole profiles (start-up's standard library too).
    for by, script in (("file", "work_split.py"), ("module", "work_split")):
        doc = diff_json(base, variant, "--by", by, "--limit", 0)
        assert doc["by"] == by
        keys = keys_of(doc)
        assert script in keys, sorted(keys)
        assert not any(re.search(r" \(.*\)$", k) for k in keys), sorted(keys)  # no functions
        if by == "module":
            assert not any(k.endswith(".py") or "/" in k for k in keys), sorted(keys)
        for s in ("base", "new"):
            assert sum(r["self"][s] for r in doc["rows"]) == doc[s]["kept"], (by, s)
        # The work is there (start-up before the script's own imports was
        # 22% of a run once, under load: README).
        mine = row(doc, script)["total"]
        assert mine["base_pct"] >= 50 and mine["new_pct"] >= 50, mine
        # In the timed work, all of it is the script: no change to mark.
        focused = diff_json(base, variant, "--by", by, *FOCUS)
        assert [(r["key"], r["self"]["base_pct"], r["self"]["new_pct"], r["self"]["significant"])
                for r in focused["rows"]] == [(script, 100.0, 100.0, False)], focused["rows"]
    text = diff(base, variant, "--by", "module", "--limit", 0)
    assert re.search(r"  work_split$", text, re.M), text


def test_ignore_renormalises(runs):
    """--ignore leaves a function out of both sides: with alpha ignored in
    the timed work, alpha has no row, each side keeps the samples report
    --ignore keeps, and beta's and gamma's shares are of the two alone:
    beta 3 : 2 of them in the default split, 3 : 5 in the variant (60% to
    37.5%), within the interval widened as above plus the load bias."""
    same, (variant, vtruth) = runs
    base, btruth = same[0]
    ignore = ["--ignore", "^alpha$"] + FOCUS
    doc = diff_json(base, variant, "--limit", 0, *ignore)
    assert not any(k.startswith("alpha ") for k in keys_of(doc)), keys_of(doc)
    for side, path in (("base", base), ("new", variant)):
        status, out, err = run([SPYGLASS, "report", "-f", "json", path] + ignore)
        assert status == 0, err
        assert doc[side]["kept"] == json.loads(out)["kept"] > 0
    unfiltered = diff_json(base, variant, *FOCUS)
    assert doc["base"]["kept"] < unfiltered["base"]["kept"]
    for name in ("beta", "gamma"):
        t = row(doc, "%s (work_split.py)" % name)["total"]
        for truth, side in ((btruth, "base"), (vtruth, "new")):
            work = truth["work"]
            want = 100.0 * work[name] / (work["beta"] + work["gamma"])
            pct, (lo, hi) = t[side + "_pct"], t[side + "_ci"]
            lo_w, hi_w = pct - WIDEN * (pct - lo) - LOAD_BIAS, pct + WIDEN * (hi - pct) + LOAD_BIAS
            assert lo_w <= want <= hi_w, (name, side, want, t)
    # Exactly: the same samples of beta, of fewer in all (alpha's left out).
    for side in ("base", "new"):
        alpha = row(unfiltered, "alpha (work_split.py)")["total"][side]
        assert doc[side]["kept"] == unfiltered[side]["kept"] - alpha
        for name in ("beta", "gamma"):
            key = "%s (work_split.py)" % name
            k = row(doc, key)["total"][side]
            assert k == row(unfiltered, key)["total"][side]
            assert abs(row(doc, key)["total"][side + "_pct"] - 100.0 * k / doc[side]["kept"]) < 1e-3


@pytest.fixture(scope="module")
def timed_runs(tmp_path_factory):
    """Two wall-mode runs of threads.py and two cpu-mode runs of phases.py
    (before for its first half, after for its second)."""
    if not DEBIAN:
        pytest.skip("Debian's /usr/bin/python3 not found")
    tmp = tmp_path_factory.mktemp("timed")
    threads = [record_pprof(tmp, DEBIAN, "threads.py", 2, "--mode", "wall", name="threads%d" % i)
               for i in range(2)]
    phases = [record_pprof(tmp, DEBIAN, "phases.py", PHASES, rate=RATE, name="phases%d" % i)
              for i in range(2)]
    return threads, phases


PHASES = 6  # seconds: the switch comes 3 s after the program's start-up


def test_thread_filter(timed_runs):
    """--thread NAME keeps that thread's samples on both sides (a name is the
    same in two runs): burner-2's and waiter-1's functions have no row,
    each side keeps what report --thread keeps, and burn_one, a quarter of
    all the threads' samples in wall mode, is then nearly all of them."""
    (a, _), (b, _) = timed_runs[0]
    whole = diff_json(a, b, "--limit", 0)
    assert {"burn_two (threads.py)", "wait_here (threads.py)"} <= keys_of(whole)
    assert row(whole, "burn_one (threads.py)")["total"]["base_pct"] < 50
    doc = diff_json(a, b, "--limit", 0, "--thread", "burner-1")
    keys = keys_of(doc)
    assert "burn_two (threads.py)" not in keys and "wait_here (threads.py)" not in keys, keys
    for side, path in (("base", a), ("new", b)):
        status, out, err = run([SPYGLASS, "report", "-f", "json", path, "--thread", "burner-1"])
        assert status == 0, err
        assert doc[side]["kept"] == json.loads(out)["kept"] > 0
    t = row(doc, "burn_one (threads.py)")["total"]
    # The thread's start before burn_one is a few samples of its 2 s.
    assert t["base_pct"] >= 90 and t["new_pct"] >= 90, t


def test_time_window_filter(timed_runs):
    """--from/--to keep each run's samples of that stretch, timed from each
    run's own start: phases.py is in before until its switch (in its truth,
    3 s after its start-up), then in after. Up to half a second before the
    earlier run's switch only before is there (after has no row), from
    half a second after the later's only after, while the whole runs have
    both, about half each; within the program's two functions the window
    makes each one 100% of both sides."""
    (a, atruth), (b, btruth) = timed_runs[1]
    switch = [t["switch_unix"] - read_profile(p)["time_nanos"] / 1e9
              for p, t in ((a, atruth), (b, btruth))]
    assert all(2.9 < s < PHASES + 2 for s in switch), switch  # start-up + 3 s
    to, frm = min(switch) - 0.5, max(switch) + 0.5
    focus = ["--focus", "^(before|after)$"]
    whole = diff_json(a, b, "--limit", 0, *focus)
    for name in ("before", "after"):
        t = row(whole, "%s (phases.py)" % name)["total"]
        assert 25 <= t["base_pct"] <= 75 and 25 <= t["new_pct"] <= 75, (name, t)
    kept = {}
    for window, present, absent in ((["--to", to], "before", "after"),
                                    (["--from", frm], "after", "before")):
        doc = diff_json(a, b, "--limit", 0, *window)
        assert not any(k.startswith(absent + " ") for k in keys_of(doc)), (window, keys_of(doc))
        doc = diff_json(a, b, "--limit", 0, *(window + focus))
        t = row(doc, "%s (phases.py)" % present)["total"]
        assert (t["base_pct"], t["new_pct"], t["significant"]) == (100.0, 100.0, False), t
        for side in ("base", "new"):
            assert 0 < doc[side]["kept"] < whole[side]["kept"], (window, side)
        kept[present] = doc
    # The two windows' samples are apart: together no more than the whole.
    for side in ("base", "new"):
        assert kept["before"][side]["kept"] + kept["after"][side]["kept"] <= whole[side]["kept"]


def expected_fill(change, significant):
    """diff_colour's scale (src/formats/flamegraph.c): white when not
    significant; else red (grew) or blue (shrank), the other two channels
    from 208 at no change to 80 at 10 points or more, linearly."""
    if not significant:
        return (255, 255, 255)
    pale = int(round(80 + 160 * (1 - (0.2 + 0.8 * min(1.0, abs(change) / 10.0)))))
    return (255, pale, pale) if change > 0 else (pale, pale, 255)


def test_svg_reverse_shows_what_vanished_and_scales_colour(tmp_path):
    """Issue 6: -o with --reverse lays the graph out on BASE, so a function
    only BASE has (gone, 15% of it) gets a box, deep blue, as wide as its
    base samples; laid out on NEW it has none, and a function only NEW has
    (fresh) the other way round. Colours by the size of the change: two
    collapsed profiles of 20000 samples each with exact shares (no
    timeline: independent samples) make hot +5 points, warm -2.5, work
    +2.5, so each is significant and half or a quarter of the way from
    pale to full; steady is unchanged and white."""
    base, new = tmp_path / "base.folded", tmp_path / "new.folded"
    base.write_text("main;work;hot 8000\nmain;work;warm 6000\nmain;gone 3000\n"
                    "main;steady 3000\n")
    new.write_text("main;work;hot 9000\nmain;work;warm 5500\nmain;steady 3000\n"
                   "main;fresh 2500\n")
    want = {"hot": (5.0, 8000, 9000), "warm": (-2.5, 6000, 5500), "work": (2.5, 14000, 14500),
            "gone": (-15.0, 3000, 0), "fresh": (12.5, 0, 2500), "steady": (0.0, 3000, 3000)}
    graphs = {}
    for reverse in (False, True):
        svg = str(tmp_path / ("reverse.svg" if reverse else "diff.svg"))
        assert diff(base, new, "-o", svg, *(["--reverse"] if reverse else [])) == ""
        frames, root, rects, info = svg_boxes(svg)
        assert int(root.get("data-total")) == 20000
        assert ("on BASE" if reverse else "on NEW") in "".join(root.itertext())
        boxes = {}
        for x, w, d, name in frames:
            assert name not in boxes, name  # one path each
            m = INFO.match(info[(x, d)])
            assert m, info[(x, d)]
            boxes[name] = (w, float(m.group(5)), m.group(8) == "significant",
                           fill(rects[(x, d)]), int(m.group(2)), int(m.group(4)))
        graphs[reverse] = boxes
    assert "gone" in graphs[True] and "gone" not in graphs[False], sorted(graphs[False])
    assert "fresh" in graphs[False] and "fresh" not in graphs[True], sorted(graphs[True])
    for reverse, boxes in graphs.items():
        for name, (w, change, significant, colour, k_base, k_new) in boxes.items():
            if name in ("all", "main"):
                assert colour == (255, 255, 255) and not significant, (name, colour)
                continue
            points, n_base, n_new = want[name]
            assert abs(change - points) < 0.005 and (k_base, k_new) == (n_base, n_new), name
            assert w == (n_base if reverse else n_new), (name, reverse, w)
            assert significant == (points != 0), (name, significant)
            assert colour == expected_fill(change, significant), (name, reverse, colour)
    # The scale's points, as the README states them: full at 10 or more,
    # and in between by the size of the change.
    assert graphs[True]["gone"][3] == (80, 80, 255)
    assert graphs[False]["fresh"][3] == (255, 80, 80)
    assert graphs[False]["hot"][3] == (255, 144, 144)  # 5 points: half way
    assert graphs[False]["warm"][3] == (176, 176, 255)  # 2.5 points: a quarter
    assert graphs[False]["steady"][3] == (255, 255, 255)
