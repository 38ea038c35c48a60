# SPDX-License-Identifier: MIT
"""interrupted.py SAVED [ignore]: burn in work() until Ctrl-C, then, in the KeyboardInterrupt
handler, spend 0.6 s of CPU in save_work() and write SAVED, as a program saving its state
would. With "ignore", SIGINT is ignored and work() runs for a minute. SAVED.ready is written
once work() runs, so the test interrupts a program inside its try."""
import signal
import sys

from groundtruth import Ledger, spin, wall_clock


def work(end, ready):
    spin(0.005)
    # Only now, inside the try that catches the interrupt: the test may send it.
    with open(ready, "w") as f:
        f.write("ready\n")
    while wall_clock() < end:
        spin(0.005)


def save_work(path):
    spin(0.6)
    with open(path, "w") as f:
        f.write("saved\n")


def main():
    saved = sys.argv[1]
    ledger = Ledger("interrupted")
    if sys.argv[2:] == ["ignore"]:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        work(wall_clock() + 60, saved + ".ready")
    except KeyboardInterrupt:
        ledger.timed("save_work", save_work, saved)
    ledger.write()


if __name__ == "__main__":
    main()
