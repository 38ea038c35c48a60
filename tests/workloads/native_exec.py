# SPDX-License-Identifier: MIT
"""zlib's deflate under Python code run by exec(): the exec'd module's
frame (file "<exec>") between main and squeeze, each in its own eval call.

usage: python native_exec.py SECONDS
Expect, merged: <module>, main, <module> (<exec>), squeeze, then zlib's C.
Works on Python 2.7 and 3.6+.
"""
import sys
import time
import zlib

SOURCE = """
def squeeze(data, end):
    while time.time() < end:
        zlib.compress(data, 9)

squeeze(DATA, END)
"""


def main():
    code = compile(SOURCE, "<exec>", "exec")
    end = time.time() + float(sys.argv[1])
    exec(code, {"time": time, "zlib": zlib, "DATA": bytes(bytearray(range(256))) * 2048,
                "END": end})


if __name__ == "__main__":
    main()
