# SPDX-License-Identifier: MIT
"""Big profiles made up quickly, shaped like what spyglass record writes,
for the scale tests (tests/integration/test_convert_scale.py) and the
convert benchmark (bench/bench_convert.py).

pprof: a wall-mode recording of THREADS threads at RATE Hz for SECONDS s:
each thread's stack changes every 1 to 3 samples (a run per change, with
start and end labels as record writes them), its leaf one of LEAVES
functions over DEPTH frames of which the middle ones change slowly.
collapsed: LINES distinct lines of DEPTH frames with names of NAME_LEN
characters, counts 1 to 9.
Both are deterministic (a fixed linear congruential generator); each
returns what a reader must find: total samples, and for pprof also total
nanoseconds and the number of Samples (runs) written.
"""
import gzip
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from pbwire import field, packed, varint, vfield  # noqa: E402


class _Rand:
    def __init__(self, seed=12345):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.x >> 33) % n


def write_pprof(path, threads=4, rate=10000, seconds=60, depth=30, leaves=16, middles=64,
                pid=4242):
    period = int(1e9 / rate)
    strings = [""]
    index = {"": 0}

    def s(text):
        if text not in index:
            index[text] = len(strings)
            strings.append(text)
        return index[text]

    # Frames: a chain of `depth - 2` shared outer frames, a middle frame, a leaf.
    names = ["outer_%d" % i for i in range(depth - 2)]
    names += ["middle_%d" % i for i in range(middles)] + ["leaf_%d" % i for i in range(leaves)]
    funcs = b"".join(field(5, vfield(1, i + 1) + vfield(2, s(n)) + vfield(4, s("app/%s.py" % n)))
                     for i, n in enumerate(names))
    locs = b"".join(field(4, vfield(1, i + 1) + field(4, vfield(1, i + 1) + vfield(2, 10 + i)))
                    for i in range(len(names)))
    outer = [depth - 2 - i for i in range(depth - 2)]  # leaf first: innermost outer last
    stacks = {}

    def stack_field(m, leaf):
        key = (m, leaf)
        if key not in stacks:
            ids = [depth - 2 + middles + leaf + 1, depth - 2 + m + 1] + outer
            stacks[key] = packed(1, ids)
        return stacks[key]

    k_pid, k_tid, k_name, k_state, k_start, k_end = (s(w) for w in (
        "pid", "tid", "thread_name", "state", "start", "end"))
    v_running, ns = s("running"), s("nanoseconds")
    thread_labels = []
    for t in range(threads):
        name = s("worker-%d" % t)
        thread_labels.append(
            field(3, vfield(1, k_pid) + vfield(3, pid)) +
            field(3, vfield(1, k_tid) + vfield(3, pid + t)) +
            field(3, vfield(1, k_name) + vfield(2, name)) +
            field(3, vfield(1, k_state) + vfield(2, v_running)))
    header = (field(1, vfield(1, s("samples")) + vfield(2, s("count"))) +
              field(1, vfield(1, s("wall")) + vfield(2, ns)) +
              field(11, vfield(1, s("wall")) + vfield(2, ns)) + vfield(12, period) +
              vfield(9, 1700000000000000000) + vfield(10, seconds * 10 ** 9))
    for c in ("spyglass.mode=wall", "spyglass.rate_asked_hz=%d" % rate,
              "spyglass.by_thread=1", "spyglass.samples=%d" % (threads * rate * seconds)):
        header += vfield(13, s(c))
    rand = _Rand()
    total = total_ns = nruns = 0
    with gzip.open(str(path), "wb", compresslevel=1) as out:
        out.write(header)
        for text in strings:
            out.write(field(6, text.encode()))
        out.write(funcs)
        out.write(locs)
        ticks = rate * seconds
        for t in range(threads):
            tick, middle, chunk = 0, t, []
            while tick < ticks:
                n = min(1 + rand.next(3), ticks - tick)
                if rand.next(50) == 0:
                    middle = rand.next(middles)
                start = tick * period + rand.next(period // 2)
                end = (tick + n) * period + rand.next(period // 2)
                body = (stack_field(middle, rand.next(leaves)) +
                        packed(2, [n, n * period]) + thread_labels[t] +
                        field(3, vfield(1, k_start) + vfield(3, start) + vfield(4, ns)) +
                        field(3, vfield(1, k_end) + vfield(3, end) + vfield(4, ns)))
                chunk.append(field(2, body))
                total += n
                total_ns += n * period
                nruns += 1
                tick += n
                if len(chunk) >= 4096:
                    out.write(b"".join(chunk))
                    chunk = []
            out.write(b"".join(chunk))
    return total, total_ns, nruns


def write_collapsed(path, lines=2000, depth=3000, name_len=1000, roots=True):
    rand = _Rand(777)
    total = 0
    pad = "x" * max(0, name_len - 24)
    # A pool of frames lines draw from; each line is distinct by its last frames.
    pool = ["fn_%s_%06d (mod/%d.py:%d)" % (pad, i, i % 50, i % 900 + 1) for i in range(depth + 64)]
    with open(str(path), "w") as out:
        for i in range(lines):
            count = 1 + rand.next(9)
            prefix = "thread %d: worker-%d;" % (100 + i % 4, i % 4) if roots else ""
            frames = pool[:depth - 2] + [pool[depth + rand.next(64)], "leaf_%d (mod/leaf.py:%d)" % (i, i % 97 + 1)]
            out.write("%s%s %d\n" % (prefix, ";".join(frames), count))
            total += count
    return total


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=("pprof", "collapsed"))
    ap.add_argument("path")
    opts = ap.parse_args()
    print((write_pprof if opts.kind == "pprof" else write_collapsed)(opts.path))
