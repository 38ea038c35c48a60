# SPDX-License-Identifier: MIT
"""A heap with known contents, for spyglass heap.

usage: heap.py MODE [SECONDS]
  idle:   20,000 leaked Sessions and 15,000 Handlers, then sleep: the heap
          holds still, so a census can be compared with gc.get_objects().
  leak:   the same, then 2,000 more Sessions a second into heap_app._SESSIONS,
          with temporaries (lists, dicts) made and dropped all along.
  steady: the same, then only the temporaries: nothing grows.
  callbacks: the same, then 2,000 more Handlers a second registered: the
          list in register's closure grows.
Writes the truth (gc.get_objects() counts of its own types, taken when it is
ready, and "ready": true) to $SPYGLASS_TRUTH as soon as the base is built,
and again at the end. Python 2.7 and 3.6+.
"""
import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import groundtruth  # noqa: E402
import heap_app  # noqa: E402

BASE_SESSIONS = 20000
BASE_HANDLERS = 15000
LEAK_PER_SECOND = 2000


def own_counts():
    counts = {}
    for o in gc.get_objects():
        t = type(o)
        if t in (heap_app.Session, heap_app.Handler):
            name = "heap_app." + t.__name__
            counts[name] = counts.get(name, 0) + 1
    return counts


def churn():
    """Temporaries made and dropped: a steady program's allocations."""
    tmp = [dict(a=i, b=[i]) for i in range(50)]
    return len(tmp)


def main():
    mode = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    ledger = groundtruth.Ledger("heap-" + mode)
    heap_app.leak(0, BASE_SESSIONS)
    for i in range(BASE_HANDLERS):
        heap_app.register(i)
    ledger.extra["counts"] = own_counts()
    ledger.extra["ready"] = True
    ledger.write()
    end = time.time() + seconds
    leaked = BASE_SESSIONS
    registered = BASE_HANDLERS
    start = time.time()
    while time.time() < end:
        if mode == "idle":
            time.sleep(0.1)
            continue
        churn()
        if mode == "leak":
            due = BASE_SESSIONS + int((time.time() - start) * LEAK_PER_SECOND)
            if due > leaked:
                heap_app.leak(leaked, due - leaked)
                leaked = due
        if mode == "callbacks":
            due = BASE_HANDLERS + int((time.time() - start) * LEAK_PER_SECOND)
            while registered < due:
                registered = heap_app.register(registered)
        time.sleep(0.005)
    ledger.extra["counts"] = own_counts()
    ledger.extra["leaked"] = leaked
    ledger.extra["registered"] = registered
    ledger.write()


if __name__ == "__main__":
    main()
