# SPDX-License-Identifier: MIT
"""main_thread_exits.py SECONDS: start a thread that burns SECONDS in burn_in_thread, then end
the main thread alone (pthread_exit): the process lives on in the other thread, while its
leader shows as a zombie in /proc."""
import ctypes
import threading

from groundtruth import seconds_arg, spin, wall_clock


def burn_in_thread(end):
    while wall_clock() < end:
        spin(0.005)


def main():
    thread = threading.Thread(target=burn_in_thread, args=(wall_clock() + seconds_arg(),))
    thread.start()
    # ctypes releases the GIL around the call: the thread keeps running.
    ctypes.CDLL(None).pthread_exit(None)


if __name__ == "__main__":
    main()
