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
        for _ in range(3):
            path, truth = record_pprof(tmp, DEBIAN, "work_split.py", SECONDS, rate=RATE,
                                       name=name, wargs=wargs)
            doc = json.loads(diff("-f", "json", path, path))
            if doc["base"]["samples"] >= MIN_SAMPLES:
                return path, truth
        pytest.fail("%s: %d samples in %s s at %d Hz, three times: the machine is too busy"
                    % (name, doc["base"]["samples"], SECONDS, RATE))

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
