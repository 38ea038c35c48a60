"""Python calling C calling Python, three times over, then C spinning: the
stack alternates. Needs callback_ext (callback_ext.c) built into DIR.

usage: python native_callback.py SECONDS DIR
Expect, with native frames merged: alternate, call_back, alternate,
call_back, alternate, call_back, alternate, burn, in that order.
Works on Python 2.7 and 3.6+.
"""
import sys
import time

sys.path.insert(0, sys.argv[2])
import callback_ext  # noqa: E402


def alternate(n):
    if n == 0:
        return callback_ext.burn(0.02)
    return callback_ext.call_back(alternate, n - 1)


def main():
    end = time.time() + float(sys.argv[1])
    while time.time() < end:
        alternate(3)


if __name__ == "__main__":
    main()
