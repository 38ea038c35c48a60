# SPDX-License-Identifier: MIT
"""A thread per request, as threading servers run: many short-lived threads
named as Python names them ("Thread-N", "Thread-N (handle)" on 3.10+), each
using a little CPU, beside a pool's long-lived workers
("ThreadPoolExecutor-0_N", 3.2+)."""
import os
import threading

from groundtruth import Ledger, seconds_arg, spin, wall_clock

try:
    from concurrent import futures
except ImportError:  # 2.7
    futures = None


def handle(seconds, names):
    names.add(threading.current_thread().name)
    spin(seconds)


def main():
    ledger = Ledger("per_request")
    names = set()
    requests = 0
    pool = futures.ThreadPoolExecutor(max_workers=2) if futures else None
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        batch = [threading.Thread(target=handle, args=(0.015, names)) for _ in range(2)]
        for t in batch:
            t.start()
        if pool:
            pool.submit(handle, 0.005, names)
        for t in batch:
            t.join()
        requests += len(batch)
    if pool:
        pool.shutdown()
    ledger.extra["requests"] = requests
    # Every thread's CPU, the ended ones' included (all of the run's bar
    # the interpreter's start).
    ledger.extra["process_cpu"] = sum(os.times()[:2])
    ledger.extra["names"] = sorted(names)
    ledger.write()


if __name__ == "__main__":
    main()
