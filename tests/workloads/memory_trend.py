# SPDX-License-Identifier: MIT
"""Memory that grows, comes and goes, or stays: record --memory's workload.

    memory_trend.py SECONDS staircase|sawtooth|flat

Every cycle (CYCLE_S of wall time) one function allocates in 1 MiB chunks,
touched so that each is resident at once, with a little bytecode of its
own between chunks (inline, so that the function is the leaf of the
samples that see its growth) so that the allocation spans several samples,
then compute() burns CPU without allocating for the rest of the cycle:

- staircase: build_batch() makes 16 MiB a cycle and keeps 8 MiB of it in
  the module-level dict _LEAK: a leak, with teeth of the garbage on top.
- sawtooth: fill_cache() adds 8 MiB a cycle to the module-level cache
  _CACHE, which every SAW_CYCLES-th cycle clears: memory that comes back.
- flat: churn() allocates 8 MiB a cycle, each MiB gone before the next.

RSS moves by these chunks only when freed chunks go back to the kernel:
run it with MALLOC_MMAP_THRESHOLD_=131072, so that glibc maps each chunk on
its own (its dynamic threshold would otherwise keep freed chunks in the
heap, and a cleared cache might not shrink the RSS). The truth, besides
the ledger's times: "trend", "bytes" (what each function allocated, kept
or not), "kept" (what it left allocated) and "rss" ([seconds since start,
bytes] read from /proc/self/statm at the end of each cycle, after the
cycle's garbage is gone). Python 2.7 and 3.6+.
"""
import os
import sys
import time

from groundtruth import Ledger, seconds_arg, wall_clock

MIB = 1 << 20
CYCLE_S = 0.5
SAW_CYCLES = 4
# Bytecode between chunks: a few milliseconds, so an allocation is seen by
# several samples instead of falling between two.
SPREAD = 20000

_LEAK = {}
_CACHE = {}
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


# Each chunk is bytearray(ONE) * MIB: written, so resident at once (calloc's
# untouched zero pages would not be).
ONE = b"\x01"


def build_batch(cycle):
    batch = []
    for _ in range(16):
        batch.append(bytearray(ONE) * MIB)
        x = 0
        for i in range(SPREAD):
            x += i * i
    # Half of it leaks; the rest is garbage once this returns.
    for k in range(8):
        _LEAK[(cycle, k)] = batch[2 * k]
    return 16 * MIB


def fill_cache(cycle):
    # Cleared for a whole cycle, so that the trough lasts long enough to
    # be read as it is, not partly filled again.
    if cycle % SAW_CYCLES == SAW_CYCLES - 1:
        _CACHE.clear()
        return 0
    for k in range(8):
        _CACHE[(cycle, k)] = bytearray(ONE) * MIB
        x = 0
        for i in range(SPREAD):
            x += i * i
    return 8 * MIB


def churn(cycle):
    for _ in range(8):
        # Gone before the next: the RSS moves by 1 MiB, and back.
        buf = bytearray(ONE) * MIB
        x = 0
        for i in range(SPREAD):
            x += i * i
        del buf
    return 8 * MIB


def compute(deadline):
    x = 0
    while wall_clock() < deadline:
        for i in range(300):
            x += i * i
    return x


ALLOCATORS = {"staircase": build_batch, "sawtooth": fill_cache, "flat": churn}


def main():
    seconds = seconds_arg(6.0)
    trend = sys.argv[2] if len(sys.argv) > 2 else "staircase"
    alloc = ALLOCATORS[trend]
    name = alloc.__name__
    ledger = Ledger("memory_trend")
    start = wall_clock()
    allocated = 0
    points = []
    cycle = 0
    while wall_clock() - start < seconds:
        allocated += ledger.timed(name, alloc, cycle)
        ledger.timed("compute", compute, start + (cycle + 1) * CYCLE_S)
        points.append([wall_clock() - start, rss()])
        cycle += 1
    kept = sum(len(v) for v in _LEAK.values()) + sum(len(v) for v in _CACHE.values())
    ledger.extra.update(trend=trend, bytes={name: allocated}, kept=kept, rss=points,
                        cycles=cycle, cycle_s=CYCLE_S)
    ledger.write()


if __name__ == "__main__":
    main()
