"""A Python function run in a thread that C started (a pthread taking the
GIL through PyGILState_Ensure), while the main thread waits in C. Needs
callback_ext (callback_ext.c) built into DIR.

usage: python native_cthread.py SECONDS DIR
Expect, with native frames merged, in that thread: the thread's start and
c_thread_main (callback_ext.c), then the Python frames work, spin; no
<module> or threading frames below them. Works on Python 2.7 and 3.6+.
"""
import sys
import time

sys.path.insert(0, sys.argv[2])
import callback_ext  # noqa: E402


def spin(end):
    n = 0
    while time.time() < end:
        n += 1
    return n


def work(seconds):
    return spin(time.time() + seconds)


if __name__ == "__main__":
    callback_ext.in_c_thread(work, float(sys.argv[1]))
