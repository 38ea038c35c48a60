# SPDX-License-Identifier: MIT
"""idle_switch.py SECONDS: idle threads that wake and sleep somewhere else.

Four threads each sleep 45 ms in nap_long, wake, sleep 15 ms in nap_short,
and so on: in wall mode nap_long has 3/4 of their samples (truth: "wall").
A profiler that reuses a sleeping thread's last stack must notice the
thread ran in between; on 3.11+ both naps even use the same frame address.
"""
import threading
import time

from groundtruth import Ledger, seconds_arg, wall_clock


def nap_long():
    time.sleep(0.045)


def nap_short():
    time.sleep(0.015)


def main():
    end = wall_clock() + seconds_arg()
    ledgers = [Ledger("idle_switch") for _ in range(4)]

    def run(ledger):
        while wall_clock() < end:
            ledger.timed("nap_long", nap_long)
            ledger.timed("nap_short", nap_short)

    threads = [threading.Thread(target=run, args=(l,), name="napper-%d" % i)
               for i, l in enumerate(ledgers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = ledgers[0]
    for l in ledgers[1:]:
        for k, v in l.wall.items():
            total.wall[k] += v
        for k, v in l.cpu.items():
            total.cpu[k] += v
    total.write()


if __name__ == "__main__":
    main()
