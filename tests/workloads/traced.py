# SPDX-License-Identifier: MIT
"""Allocations at known lines, for spyglass heap --traces. Run it with
PYTHONTRACEMALLOC=N in its environment (nothing here starts tracemalloc).

usage: traced.py MODE [SECONDS]
  idle: about 4 MB, 3 MB and 1.7 MB kept by three lines of allocate(), then
        sleep: the traces hold still.
  grow: the same, then 10 blocks of 20 KB a tick (about 2 MB a second) kept
        by the line in grow(), with temporaries made and dropped all along.
Once the base is built it writes to $SPYGLASS_TRUTH what tracemalloc itself
says: the top statistics('lineno') and statistics('traceback') of a
take_snapshot(), as {"file", "line", "size", "count"} and {"frames": [[file,
line], ...most recent first], "size", "count"}, and "ready": true. Python
3.6+ (2.7 has no tracemalloc).
"""
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import groundtruth  # noqa: E402

KEPT = []


def allocate():
    blobs = [bytearray(250000) for _ in range(16)]
    texts = ["x" * 1000 + str(i) for i in range(3000)]
    lists = [list(range(100)) for _ in range(2000)]
    return blobs, texts, lists


def grow():
    for _ in range(10):
        KEPT.append(bytearray(20000))


def churn():
    """Temporaries made and dropped: allocations that do not stay."""
    return len([dict(a=i, b=[i]) for i in range(50)])


def frames_of(traceback):
    frames = [[f.filename, f.lineno] for f in traceback]
    # From 3.7 a Traceback iterates oldest first; 3.6's most recent first.
    if sys.version_info >= (3, 7):
        frames.reverse()
    return frames


def own_statistics(top=8):
    snapshot = tracemalloc.take_snapshot()
    lines = [{"file": s.traceback[0].filename, "line": s.traceback[0].lineno, "size": s.size,
              "count": s.count} for s in snapshot.statistics("lineno")[:top]]
    tracebacks = [{"frames": frames_of(s.traceback), "size": s.size, "count": s.count}
                  for s in snapshot.statistics("traceback")[:top]]
    return lines, tracebacks


def main():
    mode = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    if not tracemalloc.is_tracing():
        sys.exit("traced.py: start it with PYTHONTRACEMALLOC=N")
    ledger = groundtruth.Ledger("traced-" + mode)
    KEPT.append(allocate())
    ledger.extra["lineno"], ledger.extra["traceback"] = own_statistics()
    ledger.extra["nframe"] = tracemalloc.get_traceback_limit()
    ledger.extra["ready"] = True
    ledger.write()
    end = time.time() + seconds
    while time.time() < end:
        if mode == "grow":
            churn()
            grow()
        time.sleep(0.1)


if __name__ == "__main__":
    main()
