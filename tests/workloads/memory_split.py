# SPDX-License-Identifier: MIT
"""Who grows memory and who frees it, for record --memory's attribution.

    memory_split.py SECONDS free|threads

- free: each cycle grow() allocates 4 chunks of 1 MiB, compute() burns CPU,
  then release() frees the chunks one by one, then compute() again. Each
  chunk (allocated or freed) is followed by a few milliseconds of the
  function's own bytecode, so that the sample that sees the RSS move finds
  that function holding the GIL. Run with MALLOC_MMAP_THRESHOLD_=131072:
  each chunk is its own mapping, and freeing it shrinks the RSS at once.
- threads: the thread 'allocator' runs allocate(), which adds 64 KiB at a
  time to a list (48 MiB at most) with a little bytecode between, while the
  thread 'spinner' runs spin(), pure bytecode that allocates nothing. The
  switch interval is 50 ms (3.x; on 2.7 a check interval of 10^6
  bytecodes), so the GIL changes hands seldom compared with the samples.
The truth: "bytes" (what each function allocated or freed) and, in
threads mode, spin()'s seconds by its thread's own clock: "cpu" on a CPU
and "queued" runnable but waiting for one (the timer counts a thread at
each tick it is runnable). 2.7's old GIL on a multicore machine may
starve the spinner all run long. Python 2.7 and 3.6+.
"""
import sys
import threading
import time

from groundtruth import Ledger, seconds_arg

try:
    range = xrange  # 2.7: no list of the loop's numbers, allocated and freed
except NameError:
    pass

MIB = 1 << 20
ONE = b"\x01"
# Bytecode after each chunk: several sample periods (5 ms at 200 Hz) on
# every version, so the sample that sees the chunk is the function's.
SPREAD = 200000
PIECE = 64 << 10
CAP = 48 * MIB


def busy(n):
    x = 0
    for i in range(n):
        x += i
    return x


def grow(chunks, done):
    for _ in range(4):
        chunks.append(bytearray(ONE) * MIB)
        done["grow"] += MIB
        x = 0
        for i in range(SPREAD):
            x += i


def release(chunks, done):
    while chunks:
        chunks.pop()
        done["release"] += MIB
        x = 0
        for i in range(SPREAD):
            x += i


def compute():
    return busy(2 * SPREAD)


def run_free(seconds, done):
    chunks = []
    end = time.time() + seconds
    while time.time() < end:
        grow(chunks, done)
        compute()
        release(chunks, done)
        compute()


def schedstat():
    """This thread's seconds on a CPU and queued for one (runnable, not
    running), from /proc/thread-self/schedstat (Linux 3.17+): 2.7 has no
    per-thread clock. None where the file is not."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            on_cpu, queued = f.read().split()[:2]
        return int(on_cpu) / 1e9, int(queued) / 1e9
    except (IOError, OSError, ValueError):
        return None


def timed(name, ledger, fn, *args):
    """fn(*args), as Ledger.timed but from schedstat: ledger.cpu[name] and
    ledger.extra["queued"][name]. Only the call's: a starved thread may
    spend its time before it, waiting for the GIL in threading's frames."""
    before = schedstat()
    result = fn(*args)
    after = schedstat()
    cpu = queued = None
    if before and after:
        cpu, queued = after[0] - before[0], after[1] - before[1]
    ledger.cpu[name], ledger.extra["queued"][name] = cpu, queued
    return result


def allocate(end, done):
    kept = []
    while time.time() < end:
        if done["allocate"] < CAP:
            kept.append(bytearray(ONE) * PIECE)
            done["allocate"] += PIECE
        x = 0
        for i in range(SPREAD // 200):
            x += i
    return len(kept)


def spin(end):
    x = 0
    while time.time() < end:
        for i in range(1000):
            x += i
    return x


def run_threads(seconds, done, ledger):
    if hasattr(sys, "setswitchinterval"):
        sys.setswitchinterval(0.05)
    else:
        sys.setcheckinterval(1000000)  # 2.7: bytecodes between switches, some 50 ms
    end = time.time() + seconds
    # Not the allocator's: the read before releases the GIL (file I/O),
    # and on 2.7 the spinner may then keep it all run, nothing allocated.
    threads = [threading.Thread(target=allocate, args=(end, done), name="allocator"),
               threading.Thread(target=timed, args=("spin", ledger, spin, end), name="spinner")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main():
    seconds = seconds_arg(4.0)
    mode = sys.argv[2] if len(sys.argv) > 2 else "free"
    ledger = Ledger("memory-split-" + mode)
    done = {"grow": 0, "release": 0, "allocate": 0}
    if mode == "free":
        run_free(seconds, done)
    else:
        ledger.extra["queued"] = {}
        run_threads(seconds, done, ledger)
    ledger.extra["bytes"] = done
    ledger.write()


if __name__ == "__main__":
    main()
