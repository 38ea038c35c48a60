# SPDX-License-Identifier: MIT
"""Code objects past the sizes a reader might assume: big_code.py SECONDS.

A function whose name is 1 MiB long, and one whose hot loop is on lines
600004-600005 of its file, after 600,000 lines it skips, so its line table
is over 1 MiB. Both are generated, written to a real file and compiled
(which takes seconds), then alternate.
"""
import atexit
import os
import shutil
import tempfile

from groundtruth import Ledger, seconds_arg, spin, wall_clock

LONG = "long_" + "n" * (1 << 20)
LINES = 600000
HOT_LINES = [LINES + 4, LINES + 5]
# Where each call starts (the def line on 3.11+), before the loop, and
# where it returns, after: briefly.
ENTRY_LINES = [1, 2, 3]
EXIT_LINES = [LINES + 6]

SOURCE = ("def many_lines(end):\n    x = 0\n    if end < 0:\n" + "        x = 1\n" * LINES +
          "    while wall_clock() < end:\n        x += 1\n    return x\n\n\n"
          "def %s(s):\n    return spin(s)\n" % LONG)


def main():
    where = tempfile.mkdtemp(prefix="spyglass-big-code-")
    atexit.register(shutil.rmtree, where, True)
    path = os.path.join(where, "many_lines.py")
    with open(path, "w") as f:
        f.write(SOURCE)
    names = {"wall_clock": wall_clock, "spin": spin}
    exec(compile(SOURCE, path, "exec"), names)
    ledger = Ledger("big_code")
    ledger.extra.update(path=path, hot_lines=HOT_LINES, entry_lines=ENTRY_LINES,
                        exit_lines=EXIT_LINES)
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        ledger.timed("many_lines", names["many_lines"], wall_clock() + 0.005)
        ledger.timed("long", names[LONG], 0.005)
    ledger.write()


if __name__ == "__main__":
    main()
