# SPDX-License-Identifier: MIT
"""Many short-lived named threads, a few alive at a time: A-nnn run fa, B-nnn run fb.

Thread idents (pthread_t) are reused by glibc as soon as a thread ends, and
thread states by the allocator, so a profiler that names threads by ident
gives a new thread the name of the one before it. Every thread spins a
little and sleeps a little (both show in wall mode). Truth: "tids" maps each
thread's name to its kernel tid (3.8+).

usage: named_threads.py THREADS [ALIVE] [SECONDS_EACH]
"""
import sys
import threading
import time

from groundtruth import Ledger, spin

try:
    native_id = threading.get_native_id  # 3.8+
except AttributeError:
    native_id = None


def fa(seconds):
    spin(seconds / 2)
    time.sleep(seconds / 2)


def fb(seconds):
    spin(seconds / 2)
    time.sleep(seconds / 2)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    alive = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    each = float(sys.argv[3]) if len(sys.argv) > 3 else 0.04
    ledger = Ledger("named_threads")
    tids = {}

    def run(name, fn):
        if native_id:
            tids[name] = native_id()
        fn(each)

    running = []
    for i in range(count):
        name, fn = ("A-%03d" % i, fa) if i % 2 == 0 else ("B-%03d" % i, fb)
        t = threading.Thread(target=run, name=name, args=(name, fn))
        t.start()
        running.append(t)
        if len(running) >= alive:
            running.pop(0).join()
    for t in running:
        t.join()
    ledger.extra["tids"] = tids
    ledger.write()


if __name__ == "__main__":
    main()
