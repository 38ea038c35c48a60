# SPDX-License-Identifier: MIT
"""libc's qsort calling back into Python through ctypes (a libffi
closure), and the callback calling C again: `sort` calls qsort, whose
comparisons are `compare`, a Python function made a C function pointer by
ctypes.CFUNCTYPE, and each comparison runs zlib.compress.

usage: python native_qsort.py SECONDS
Runs for SECONDS, and until it has used SECONDS / 2 of CPU (so that a
loaded machine still gives a profiler enough samples of it).
Expect, merged: <module>, main, sort, then ctypes and libffi's call, libc's
qsort (and its internal merge sort), libffi's closure and ctypes's
callback, then compare, then zlib.compress's C function and libz above
it. Works on Python 2.7 and 3.6+.
"""
import ctypes
import ctypes.util
import os
import random
import sys
import time
import zlib

# Random bytes: each comparison lasts milliseconds.
DATA = os.urandom(1 << 16)
LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                           ctypes.POINTER(ctypes.c_int))
LIBC.qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, COMPARE]
LIBC.qsort.restype = None


def more(end, cpu):
    """Whether to go on: before end (wall) or cpu (this process's CPU)."""
    times = os.times()
    return time.time() < end or times[0] + times[1] < cpu


def compare(a, b):
    zlib.compress(DATA, 6)
    return (a[0] > b[0]) - (a[0] < b[0])


CALLBACK = COMPARE(compare)


def sort(values):
    array = (ctypes.c_int * len(values))(*values)
    LIBC.qsort(array, len(array), ctypes.sizeof(ctypes.c_int), CALLBACK)
    return list(array)


def main():
    seconds = float(sys.argv[1])
    until = (time.time() + seconds, sum(os.times()[:2]) + seconds / 2)
    rng = random.Random(8)
    while more(*until):
        values = [rng.randint(0, 1000) for _ in range(16)]
        assert sort(values) == sorted(values)


if __name__ == "__main__":
    main()
