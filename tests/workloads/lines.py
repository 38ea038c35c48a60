# SPDX-License-Identifier: MIT
"""Two lines of one function doing the same work 70 and 30 times per round."""
import inspect

from groundtruth import Ledger, seconds_arg, wall_clock


def two_lines(rounds):
    x = 0
    for _ in range(rounds):
        for i in range(700): x += i * i  # noqa: E701  (the 70% line)
        for j in range(300): x -= j * j  # noqa: E701  (the 30% line)
    return x


def main():
    ledger = Ledger("lines")
    source, first = inspect.getsourcelines(two_lines)
    hot = [first + k for k, text in enumerate(source) if "% line" in text]
    ledger.extra["lines"] = {"seventy": hot[0], "thirty": hot[1], "first": first}
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        ledger.timed("two_lines", two_lines, 20)
    ledger.write()


if __name__ == "__main__":
    main()
