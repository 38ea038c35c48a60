# SPDX-License-Identifier: MIT
"""busy's line table made longer than spyglass reads (64 MiB): 65 MiB of
entries that describe nothing past its code's end, so the interpreter runs
it unchanged and only a reader of the whole table sees the size.

usage: python huge_linetable.py SECONDS
Needs code.replace: Python 3.8+.
"""
import sys
import time


def busy(seconds):
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        n += sum([i * i for i in range(200)])
    return n


def main():
    code = busy.__code__
    if sys.version_info >= (3, 11):
        # 0xf8: one code unit with no location (code 15).
        field, pad = "co_linetable", b"\xf8"
    elif sys.version_info >= (3, 10):
        # (0, 0): no bytes, no lines.
        field, pad = "co_linetable", b"\x00"
    else:
        field, pad = "co_lnotab", b"\x00"
    busy.__code__ = code.replace(**{field: getattr(code, field) + pad * (65 << 20)})
    busy(float(sys.argv[1]))


if __name__ == "__main__":
    main()
