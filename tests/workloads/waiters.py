# SPDX-License-Identifier: MIT
"""Threads that each wait in a known way, for `spyglass dump`: locked-1 in
wait_for_lock (a lock acquire), sleeper-1 in sleep_here (time.sleep),
reader-1 in read_pipe (a read from a pipe nobody writes), spinner-1 in
spin_here (on a CPU). Each keeps known locals. When all have started it
prints one JSON line: its pid, each thread's native id (3.8+) and the
repr() of the locals' values. It runs until killed or SECONDS (argv[1],
default 60) pass."""
from __future__ import print_function

import json
import os
import sys
import threading
import time

try:
    native_id = threading.get_native_id  # 3.8+
except AttributeError:
    native_id = None

tids = {}
started = threading.Semaphore(0)

# The locals' values, and what repr() makes of them in this Python.
ANSWER, LABEL, RATIO, BIG, NEG, DATA = 42, "lock-wait", 2.5, 2 ** 100, -7, b"ab\x00c"
REPRS = dict((k, repr(v)) for k, v in [("answer", ANSWER), ("label", LABEL), ("ratio", RATIO),
                                        ("big", BIG), ("neg", NEG), ("data", DATA),
                                        ("flag", True), ("nothing", None)])


def note(name):
    if native_id:
        tids[name] = native_id()
    started.release()


def wait_for_lock(lock, seconds):
    answer = ANSWER
    label = LABEL
    note("locked-1")
    lock.acquire()
    return answer, label


def sleep_here(seconds):
    ratio = RATIO
    items = [1, 2, 3]
    keep = lambda: ratio  # ratio is a cell variable
    note("sleeper-1")
    time.sleep(seconds)
    return keep, items


def read_pipe(fd):
    big = BIG
    neg = NEG
    data = DATA
    flag = True
    nothing = None
    pair = (1, 2)
    members = set([1, 2, 3])
    note("reader-1")
    return os.read(fd, 1), big, neg, data, flag, nothing, pair, members


def spin_here(end):
    count = 0
    mapping = {"a": 1, "b": 2}
    note("spinner-1")
    while time.time() < end:
        count += 1
    return count, mapping


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    lock = threading.Lock()
    lock.acquire()
    rfd, wfd = os.pipe()
    threads = [
        threading.Thread(target=wait_for_lock, name="locked-1", args=(lock, seconds)),
        threading.Thread(target=sleep_here, name="sleeper-1", args=(seconds,)),
        threading.Thread(target=read_pipe, name="reader-1", args=(rfd,)),
        threading.Thread(target=spin_here, name="spinner-1", args=(time.time() + seconds,)),
    ]
    for t in threads:
        t.daemon = True
        t.start()
    for _ in threads:
        started.acquire()
    if native_id:
        tids["MainThread"] = native_id()
    print(json.dumps({"pid": os.getpid(), "tids": tids, "reprs": REPRS,
                      "seconds": repr(seconds), "fd": repr(rfd)}))
    sys.stdout.flush()
    time.sleep(seconds)


if __name__ == "__main__":
    main()
