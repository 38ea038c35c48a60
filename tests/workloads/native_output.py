# SPDX-License-Identifier: MIT
"""A fixed amount of work in zlib and the regex engine, under Python
callers, printing what it computed: the same lines, profiled or not.

usage: python native_output.py [ROUNDS=600]
Works on Python 2.7 and 3.6+.
"""
import re
import sys
import zlib

PATTERN = re.compile(r"(a|aa)+b")


def data(seed, size=1 << 16):
    # A linear congruential stream: compressible, and the same everywhere.
    out = bytearray(size)
    x = seed
    for i in range(0, size, 64):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i:i + 64] = bytes(bytearray([x & 0x0F]) * 64)
    return bytes(out)


def squeeze(buf):
    return zlib.crc32(zlib.compress(buf, 9)) & 0xFFFFFFFF


def backtrack(n):
    return PATTERN.match("a" * n) is None


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    total = 0
    for r in range(rounds):
        total = (total * 31 + squeeze(data(r)) + backtrack(14)) & 0xFFFFFFFF
        if r % 100 == 99:
            print("round %d: %08x" % (r + 1, total))
    print("done: %08x" % total)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
