"""A generator calling C: each resumption is a C-level call of the eval
loop before 3.12 (gen_iternext), inline in its consumer's from 3.12.

usage: python native_gen.py [SECONDS=5]
Expect, with native frames merged: consume, then gen, then zlib.compress's
C function and libz above it. Works on Python 2.7 and 3.6+.
"""
import os
import sys
import time
import zlib

DATA = os.urandom(1 << 14) * 16


def gen():
    while True:
        yield zlib.compress(DATA, 9)


def consume(end):
    for _ in gen():
        if time.time() > end:
            break


if __name__ == "__main__":
    consume(time.time() + (float(sys.argv[1]) if len(sys.argv) > 1 else 5.0))
