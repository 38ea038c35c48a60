# SPDX-License-Identifier: MIT
"""Objects that only threads' frame locals hold, for spyglass heap --referrers.

usage: heap_frames.py [SECONDS]
A thread named 'holder' runs hold(), whose local `kept` is a list of 3,000
Items and whose local `one` is one more Item, then sleeps in it. The main
thread's main() keeps 2,000 more in a list under key 'items' of its local
dict `by_key`, and sleeps. No module global, class or instance refers to an
Item or to those containers. Writes the truth (gc.get_objects() count of
Items, the names to expect) to $SPYGLASS_TRUTH once both hold them.
Python 2.7 and 3.6+.
"""
import gc
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import groundtruth  # noqa: E402

IN_THREAD = 3000
IN_MAIN = 2000


class Item(object):
    def __init__(self, n):
        self.n = n


def hold(ready, seconds):
    kept = [Item(i) for i in range(IN_THREAD)]
    one = Item(-1)
    ready.set()
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.1)
    return len(kept) + one.n


def main():
    seconds = groundtruth.seconds_arg(60.0)
    ledger = groundtruth.Ledger("heap-frames")
    ready = threading.Event()
    holder = threading.Thread(target=hold, args=(ready, seconds), name="holder")
    holder.daemon = True
    holder.start()
    by_key = {"items": [Item(i) for i in range(IN_MAIN)]}
    ready.wait()
    gc.collect()
    ledger.extra["items"] = sum(1 for o in gc.get_objects() if type(o) is Item)
    ledger.extra["in_thread"] = IN_THREAD + 1
    ledger.extra["in_main"] = IN_MAIN
    ledger.write()
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.1)
    return len(by_key)


if __name__ == "__main__":
    main()
