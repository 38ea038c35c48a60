# SPDX-License-Identifier: MIT
"""What spyglass convert costs at scale: time and peak RSS (GNU time's %M)
of converting, into every format,
  - a 1M-sample pprof shaped like a recording (4 threads at 10 kHz for 25 s,
    stacks 30 deep changing every 1-3 samples: 670k runs; bench/genprofile.py);
  - a collapsed file of 1.6 GB (2M distinct lines of 30 frames, each with a
    leaf of its own: 2M frames), which it writes into the temporary
    directory and deletes (it needs 1.7 GB free: check with df -h /tmp).

Usage: python3 bench/bench_convert.py [--spyglass build/spyglass] [--small]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genprofile  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTENSIONS = [("collapsed", ".folded"), ("pprof", ".pb.gz"), ("speedscope", ".speedscope.json"),
              ("chrometrace", ".trace.json"), ("flamegraph", ".svg")]


def convert(spyglass, src, dst):
    """(seconds, peak RSS in MiB) of one conversion."""
    with tempfile.NamedTemporaryFile(mode="r") as rss:
        start = time.perf_counter()
        subprocess.check_call(["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name, spyglass,
                               "convert", src, "-o", dst])
        elapsed = time.perf_counter() - start
        return elapsed, int(rss.read().split()[-1]) / 1024.0


def row(name, src, dst, spyglass):
    seconds, mib = convert(spyglass, src, dst)
    print("  %-14s %8.2f s %9.1f MiB %10.1f MB" % (name, seconds, mib,
                                                  os.path.getsize(dst) / 1e6))
    os.unlink(dst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spyglass", default=os.path.join(ROOT, "build", "spyglass"))
    ap.add_argument("--small", action="store_true", help="a tenth of the sizes")
    opts = ap.parse_args()
    scale = 10 if opts.small else 1
    work = tempfile.mkdtemp(prefix="spyglass-bench-")
    try:
        pb = os.path.join(work, "long.pb.gz")
        samples, _, _ = genprofile.write_pprof(pb, threads=4, rate=10000, seconds=25 // scale or 1,
                                            depth=30)
        print("pprof of %d samples (%.1f MB): convert to" % (samples, os.path.getsize(pb) / 1e6))
        print("  %-14s %10s %13s %13s" % ("format", "time", "peak RSS", "output"))
        for name, ext in EXTENSIONS:
            row(name, pb, os.path.join(work, "out" + ext), opts.spyglass)
        os.unlink(pb)

        folded = os.path.join(work, "big.folded")
        genprofile.write_collapsed(folded, lines=2000000 // scale, depth=30, name_len=20)
        print("collapsed file of %d lines (%.2f GB): convert to" % (
            2000000 // scale, os.path.getsize(folded) / 1e9))
        print("  %-14s %10s %13s %13s" % ("format", "time", "peak RSS", "output"))
        for name, ext in EXTENSIONS[:2]:
            row(name, folded, os.path.join(work, "out" + ext), opts.spyglass)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
