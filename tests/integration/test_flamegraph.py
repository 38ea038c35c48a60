# SPDX-License-Identifier: MIT
"""The flamegraph format (an interactive SVG), checked against the collapsed
output of the same run and driven in headless Chromium by
tests/consumers/flamegraph.mjs (hover, zoom, reset, search, screenshot)."""
import os
import re
import subprocess

import pytest

from conftest import (DEBIAN, ROOT, SPYGLASS, SVG, TIMEOUT, fill, need_browser, record,
                      run_browser, svg_frames)

MIN_SHARE = 1000  # flamegraph.c omits frames under 1/MIN_SHARE of the samples


def need_python():
    if not DEBIAN:
        pytest.skip("Debian's /usr/bin/python3 not found")


def spyglass(*args):
    proc = subprocess.run([SPYGLASS] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=TIMEOUT)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, stderr
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    return stderr


class Node(object):
    def __init__(self, name, depth):
        self.name, self.depth = name, depth
        self.count = self.self_count = 0
        self.children = {}


def expected_frames(stacks):
    """The boxes a flame graph of these stacks has, as (x, w, depth, name):
    a root "all", children sorted by name (bytewise) after their parent's
    own samples, boxes under 1/MIN_SHARE of the total left out."""
    root = Node("all", 0)
    for stack, n in stacks.items():
        node = root
        node.count += n
        for name in stack:
            node = node.children.setdefault(name, Node(name, node.depth + 1))
            node.count += n
        node.self_count += n
    frames = []

    def lay(node, x):
        if node.count * MIN_SHARE >= root.count:
            frames.append((x, node.count, node.depth, node.name))
        x += node.self_count
        for name in sorted(node.children, key=lambda s: s.encode("utf-8")):
            lay(node.children[name], x)
            x += node.children[name].count

    lay(root, 0)
    return sorted(frames), root.count


def expected_search(stacks, regex, total):
    """Frames a search highlights (drawn ones, "all" excepted) and the share
    of samples with at least one of them on their stack."""
    counts = {}
    for stack, n in stacks.items():
        for i in range(1, len(stack) + 1):
            counts[stack[:i]] = counts.get(stack[:i], 0) + n
    hits = set(p for p, n in counts.items() if n * MIN_SHARE >= total and re.search(regex, p[-1]))
    matched = sum(n for stack, n in stacks.items()
                  if any(stack[:i] in hits for i in range(1, len(stack) + 1)))
    return hits, 100.0 * matched / total


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory):
    """cpu_split recorded once, as collapsed stacks and the same samples as SVG."""
    need_python()
    run = record(["-r", "250"], "cpu_split.py", [2], DEBIAN)
    assert run.status == 0, run.stderr
    folded = str(tmp_path_factory.mktemp("flamegraph") / "cpu.folded")
    with open(folded, "w", encoding="utf-8") as f:
        for stack, n in sorted(run.stacks.items()):
            f.write("%s %d\n" % (";".join(stack), n))
    return run, folded


def test_svg_matches_collapsed(cpu_run):
    run, folded = cpu_run
    svg = folded[:-len(".folded")] + ".svg"
    spyglass("convert", folded, "-o", svg)
    frames, doc, _ = svg_frames(svg)
    want, total = expected_frames(run.stacks)
    assert frames == want
    assert int(doc.get("data-total")) == total
    assert "%d samples" % total in doc.find(SVG + "text[@id='subtitle']").text


def test_reverse_icicle(cpu_run):
    run, folded = cpu_run
    svg = folded[:-len(".folded")] + "-reverse.svg"
    spyglass("convert", folded, "-o", svg, "--reverse", "--icicle")
    frames, doc, rects = svg_frames(svg)
    want, _ = expected_frames({tuple(reversed(s)): n for s, n in run.stacks.items()})
    assert frames == want
    assert "reversed" in doc.find(SVG + "text[@id='subtitle']").text
    # Top-down: each level below the one before.
    ys = {d: float(rects[(x, d)].get("y")) for x, _, d, _ in frames}
    assert all(ys[d] > ys[d - 1] for d in ys if d > 0), ys


def test_in_browser(cpu_run, tmp_path):
    need_browser()
    run, folded = cpu_run
    svg = str(tmp_path / "cpu.svg")
    spyglass("convert", folded, "-o", svg)
    frames, total = expected_frames(run.stacks)
    alpha = max((f for f in frames if f[3].startswith("alpha ")), key=lambda f: f[1])
    searches = []
    # Nested matches (spin under alpha) count once; the second search
    # goes through Ctrl-F.
    for regex, via in (("^(alpha|spin) ", "button"), ("^(beta|gamma) ", "ctrl-f")):
        hits, percent = expected_search(run.stacks, regex, total)
        assert hits, regex
        searches.append({"regex": regex, "frames": len(hits), "percent": percent, "via": via})
    spec = {"svg": svg, "screenshot": str(tmp_path / "cpu.png"), "total": total,
            "hover": {"x": alpha[0], "d": alpha[2], "name": alpha[3], "count": alpha[1]},
            "searches": searches}
    report = run_browser(spec, tmp_path)
    assert [s["frames"] for s in report["searches"]] == [s["frames"] for s in searches]
    with open(spec["screenshot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def wall_svg(tmp_path_factory):
    """wall_split recorded straight to SVG, in wall mode with thread roots."""
    need_python()
    svg = str(tmp_path_factory.mktemp("flamegraph") / "wall.svg")
    workload = os.path.join(ROOT, "tests", "workloads", "wall_split.py")
    spyglass("record", "-r", "250", "--mode", "wall", "--threads", "-o", svg, "--",
             DEBIAN, workload, "1")
    return svg


def test_record_wall_threads(wall_svg):
    """The title tells the run; thread roots are grey, idle leaves blue, Python warm."""
    frames, doc, rects = svg_frames(wall_svg)
    title = doc.find(SVG + "text[@id='title']")
    assert "wall_split.py 1" in "".join(title.itertext())
    subtitle = doc.find(SVG + "text[@id='subtitle']").text
    # A walk torn even after its retries (rare, mostly at start-up) is
    # dropped, and the title then says how many.
    assert re.match(r"wall mode, Python [0-9.]+, 250 Hz asked, [0-9.]+ Hz achieved, \d+ samples"
                    r"( \(\d+ dropped\))?, [0-9.]+ s$", subtitle), subtitle
    names = {f[3] for f in frames}
    roots = [f for f in frames if re.match(r"thread \d+: ", f[3])]
    assert roots and all(f[2] == 1 for f in roots), names
    for x, _, d, _ in roots:
        r, g, b = fill(rects[(x, d)])
        assert max(r, g, b) - min(r, g, b) <= 25, (r, g, b)
    idle = [f for f in frames if f[3] == "[idle]"]
    assert idle, names
    for x, _, d, _ in idle:
        r, g, b = fill(rects[(x, d)])
        assert b > r + 80 and b > g + 40, (r, g, b)
    for x, _, d, name in frames:
        if name.startswith(("sleeper ", "burner ")):
            r, g, b = fill(rects[(x, d)])
            assert r > b + 100, (name, r, g, b)


def test_record_wall_in_browser(wall_svg, tmp_path):
    need_browser()
    frames, doc, _ = svg_frames(wall_svg)
    sleeper = max((f for f in frames if f[3].startswith("sleeper ")), key=lambda f: f[1])
    run_browser({"svg": wall_svg, "screenshot": str(tmp_path / "wall.png"),
                 "total": int(doc.get("data-total")),
                 "hover": {"x": sleeper[0], "d": sleeper[2], "name": sleeper[3],
                           "count": sleeper[1]}}, tmp_path)
