# SPDX-License-Identifier: MIT
"""Named threads: burner-1 in burn_one, burner-2 in burn_two, waiter-1 idle in wait_here."""
import threading

from groundtruth import Ledger, seconds_arg, spin, wall_clock

try:
    native_id = threading.get_native_id  # 3.8+
except AttributeError:
    native_id = None


def burn_one(end):
    while wall_clock() < end:
        spin(0.005)


def burn_two(end):
    while wall_clock() < end:
        spin(0.005)


def wait_here(event, seconds):
    event.wait(seconds)


def main():
    seconds = seconds_arg()
    ledger = Ledger("threads")
    tids = {}
    end = wall_clock() + seconds
    stop = threading.Event()

    def run(name, fn, *args):
        if native_id:
            tids[name] = native_id()
        ledger.timed(fn.__name__, fn, *args)

    threads = [
        threading.Thread(target=run, name="burner-1", args=("burner-1", burn_one, end)),
        threading.Thread(target=run, name="burner-2", args=("burner-2", burn_two, end)),
        threading.Thread(target=run, name="waiter-1", args=("waiter-1", wait_here, stop, seconds)),
    ]
    for t in threads:
        t.start()
    threads[0].join()
    threads[1].join()
    stop.set()
    threads[2].join()
    if native_id:
        tids["MainThread"] = native_id()
    ledger.extra["tids"] = tids
    ledger.write()


if __name__ == "__main__":
    main()
