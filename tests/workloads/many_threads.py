# SPDX-License-Identifier: MIT
"""many_threads.py SECONDS N [busy]: N idle threads named T-0000..., alive together for SECONDS.

The main thread starts them all, then waits in wait_all (or, with busy,
spins in busy_main) while they wait in idle_wait. Truth: "threads", how
many.
"""
import sys
import threading

from groundtruth import Ledger, seconds_arg, spin, wall_clock


def idle_wait(event):
    event.wait()


def wait_all(event, seconds):
    event.wait(seconds)


def busy_main(seconds):
    end = wall_clock() + seconds
    while wall_clock() < end:
        spin(0.005)


def main():
    seconds = seconds_arg()
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1100
    ledger = Ledger("many_threads")
    threading.stack_size(256 * 1024)
    go = threading.Event()
    names = ["T-%04d" % i for i in range(count)]
    threads = [threading.Thread(target=idle_wait, args=(go,), name=n) for n in names]
    for t in threads:
        t.start()
    if sys.argv[3:4] == ["busy"]:
        busy_main(seconds)
    else:
        wait_all(threading.Event(), seconds)
    go.set()
    for t in threads:
        t.join()
    ledger.extra["threads"] = count
    ledger.write()


if __name__ == "__main__":
    main()
