# SPDX-License-Identifier: MIT
"""busy_workers.py SECONDS N: N worker processes, each busy in work for SECONDS.

With more workers than cores they wait for a CPU part of the time: a thread
that is runnable is not always running. Each worker measures the CPU time it
used (time.process_time) from the moment it was surely found by a profiler
watching for children to its end; the parent writes the sum as truth
"cpu_total" (seconds) with "workers" (their pids), and its own CPU time as
"parent_cpu"; per worker pid, "worker_cpu" is [CPU since START, CPU since the
process began].
"""
import sys
import time

# A worker idles first, while the profiler finds it: everything after,
# imports included, is for the profile to see.
if sys.argv[3:4] == ["worker"]:
    time.sleep(0.5)
process_time = getattr(time, "process_time", None) or time.clock  # 2.7: clock() is CPU time
START = process_time()

import subprocess  # noqa: E402

from groundtruth import Ledger, seconds_arg, spin, wall_clock  # noqa: E402


def work(end):
    while wall_clock() < end:
        spin(0.005)


def main():
    seconds = seconds_arg()
    if sys.argv[3:4] == ["worker"]:
        work(wall_clock() + seconds)
        sys.stdout.write("%r %r\n" % (process_time() - START, process_time()))
        return
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    ledger = Ledger("busy_workers")
    workers = [subprocess.Popen([sys.executable, __file__, str(seconds), "0", "worker"],
                                stdout=subprocess.PIPE) for _ in range(count)]
    used = [[float(x) for x in w.communicate()[0].split()] for w in workers]
    ledger.extra["workers"] = [w.pid for w in workers]
    ledger.extra["worker_cpu"] = dict((str(w.pid), u) for w, u in zip(workers, used))
    ledger.extra["cpu_total"] = sum(u[0] for u in used)
    ledger.extra["parent_cpu"] = process_time()
    ledger.write()


if __name__ == "__main__":
    main()
