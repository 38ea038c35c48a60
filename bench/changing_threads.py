# SPDX-License-Identifier: MIT
"""4 threads whose stacks keep changing: each calls one of 200 functions
(made once, at start) at a random depth of 5 to 40, over and over, for
SECONDS: changing_threads.py SECONDS. For bench.py's long-run memory figure."""
import random
import sys
import threading
import time

FUNCS = []
for i in range(200):
    exec("def work_%d(n, f):\n    return f(n - 1, f) if n else sum(range(50))\n" % i)
    FUNCS.append(globals()["work_%d" % i])


def descend(n, leaf):
    return descend(n - 1, leaf) if n else leaf(random.randint(0, 3), FUNCS[random.randrange(200)])


def worker(end, seed):
    rng = random.Random(seed)
    while time.time() < end:
        descend(rng.randint(5, 40), FUNCS[rng.randrange(200)])


def main():
    end = time.time() + float(sys.argv[1])
    threads = [threading.Thread(target=worker, args=(end, i), name="worker-%d" % i)
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
