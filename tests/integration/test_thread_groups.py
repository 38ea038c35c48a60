# SPDX-License-Identifier: MIT
"""--threads=group: a thread-per-request program's threads under one root per
group of threads named alike ("threads Thread-*"), in record, convert and the
formats, while pprof keeps each thread's own name; and the summary's hint
when a run saw many short-lived threads."""
import collections
import json
import os
import re
import subprocess

from conftest import DEBIAN, SPYGLASS, TIMEOUT, WORKLOADS, parse_folded, record
from test_speedscope_chrometrace import need_browser, need_node, need_python, speedscope_check

SECONDS = 3
HINT = re.compile(r"threads: (\d+) seen, (\d+) short-lived: try --threads=group")


def group(name):
    """The folding rule, restated: the number ending the name (before a
    3.10+ " (target)") becomes '*'."""
    m = re.match(r"^(.*?)(\d+)( \(.*\))?$", name)
    return m.group(1) + "*" + (m.group(3) or "") if m else name


def request_group(truth):
    groups = {group(n) for n in truth["names"] if n.startswith("Thread-")}
    assert len(groups) == 1, truth["names"]
    return "threads " + groups.pop()


def check_grouped(stacks, truth):
    total = float(sum(stacks.values()))
    roots = collections.Counter()
    for stack, n in stacks.items():
        roots[stack[0]] += n
    assert all(r.startswith("threads ") for r in roots), roots
    # Until its Python name is read, a new thread's samples carry the
    # kernel's name for it (the executable's): a few samples of each.
    # Threads that end before any reading of threading._active lists them
    # keep the kernel's name: none in runs at load 3 on 2.7, 3.8 and 3.12
    # since a tick's new threads are looked up after its visit (13% on 2.7,
    # 12% on 3.12 before); a tenth is left for readings put off under load.
    allowed = {"threads " + group(n) for n in truth["names"]} | {"threads MainThread"}
    assert sum(n for r, n in roots.items() if r not in allowed) <= 0.1 * total, roots
    # Most CPU is the requests' (2 x 15 ms a batch, against the pool's 5 ms
    # and the main thread's starting of threads): their one root is the
    # largest, where --threads spreads it over a root per request. Under
    # load the main thread's share grows (48.5% for the requests, against
    # 31% for the pool and 19% for main at load 10), so no fixed majority.
    requests = roots[request_group(truth)]
    assert requests == max(roots.values()) and requests >= 0.35 * total, roots
    # The pool's two workers (3.x) are one root too, their number folded
    # after the pool's: "ThreadPoolExecutor-0_*".
    pool = {group(n) for n in truth["names"] if n.startswith("ThreadPoolExecutor-")}
    if pool:
        assert {g.split(" (")[0] for g in pool} == {"ThreadPoolExecutor-0_*"}, pool
        assert sum(n for r, n in roots.items() if r.startswith("threads ThreadPoolExecutor-0_*")) \
            > 0, roots
        assert not any(re.match(r"threads ThreadPoolExecutor-\d+_\d+", r) for r in roots), roots


def test_record_groups(python):
    """record --threads=group: a root per group, on every CPython; plain
    --threads has a root per thread and says to try groups."""
    grouped = record(["--threads=group"], "per_request.py", [SECONDS], python=python)
    assert grouped.status == 0, grouped.stderr
    assert grouped.truth["requests"] >= 20, grouped.truth
    check_grouped(grouped.stacks, grouped.truth)
    assert not HINT.search(grouped.stderr), grouped.stderr
    plain = record(["--threads"], "per_request.py", [SECONDS], python=python)
    assert plain.status == 0, plain.stderr
    roots = {stack[0] for stack in plain.stacks}
    assert all(re.match(r"^thread \d+: ", r) for r in roots), roots
    # cpu mode sees the threads that ran while sampled: most of them.
    m = HINT.search(plain.stderr)
    assert m, plain.stderr
    seen, short = int(m.group(1)), int(m.group(2))
    tids = {r.split(":", 1)[0] for r in roots}
    assert len(tids) == seen and 10 <= short <= seen <= plain.truth["requests"] + 3, (
        seen, short, plain.truth["requests"])


def run(args):
    proc = subprocess.run([SPYGLASS] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=TIMEOUT)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr
    return proc.returncode, stderr


def test_convert_and_formats(tmp_path):
    """pprof keeps the real names and the choice; convert groups as recorded,
    --threads undoes it; speedscope has a profile per group, which speedscope
    imports; the flame graph has the group roots."""
    need_python()
    pb, truth_path = tmp_path / "run.pb.gz", str(tmp_path / "truth.json")
    env = dict(os.environ, SPYGLASS_TRUTH=truth_path)
    proc = subprocess.run([SPYGLASS, "record", "--threads=group", "-o", str(pb), "--", DEBIAN,
                           os.path.join(WORKLOADS, "per_request.py"), str(SECONDS)],
                          stderr=subprocess.PIPE, timeout=TIMEOUT, env=env)
    assert proc.returncode == 0, proc.stderr
    with open(truth_path) as f:
        truth = json.load(f)

    def folded(*args):
        out = tmp_path / "out.folded"
        status, stderr = run(["convert", str(pb), "-o", str(out)] + list(args))
        assert status == 0, stderr
        with open(str(out), encoding="utf-8") as f:
            return parse_folded(f.read())

    check_grouped(folded(), truth)
    per_thread = {tuple(stack[0].split(": ", 1)) for stack in folded("--threads")}
    names = {name for _, name in per_thread}
    # Besides the kernel's name standing in (see check_grouped).
    assert len(names - set(truth["names"]) - {"MainThread"}) <= 1, names
    requests = {tid for tid, name in per_thread if name.startswith("Thread-")}
    assert len(requests) >= 10, per_thread
    check_grouped(folded("--threads=group"), truth)

    svg = tmp_path / "out.svg"
    status, stderr = run(["convert", str(pb), "-o", str(svg)])
    assert status == 0, stderr
    text = svg.read_text(encoding="utf-8")
    assert "<title>%s\n" % request_group(truth) in text
    assert not re.search(r"<title>thread \d+: ", text)

    ss = tmp_path / "out.speedscope.json"
    status, stderr = run(["convert", str(pb), "-o", str(ss)])
    assert status == 0, stderr
    with open(str(ss), encoding="utf-8") as f:
        doc = json.load(f)
    titles = [p["name"] for p in doc["profiles"]]
    want = request_group(truth)[len("threads "):]
    group_titles = [t for t in titles if t.startswith(want + " (")]
    assert len(group_titles) == 1 and len(titles) <= 4, titles
    count = int(re.search(r"\((\d+) threads\)$", group_titles[0]).group(1))
    # A thread's profile goes by its latest name, the Python one when read.
    assert len(requests) - 2 <= count <= len(requests), (count, len(requests))
    assert doc["profiles"][doc["activeProfileIndex"]]["name"] == group_titles[0]
    need_node()
    need_browser()
    assert speedscope_check(ss)["imported"] is True


def test_bad_threads_value():
    for cmd in (["record", "--threads=each", "--", "true"], ["convert", "--threads=x", "a", "-o", "b"]):
        status, stderr = run(cmd)
        assert status == 2 and stderr.startswith("spyglass: --threads: expected nothing or "
                                                 "'=group'") and stderr.count("\n") == 1, stderr
