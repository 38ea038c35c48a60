# SPDX-License-Identifier: MIT
"""One call that lasts the whole run, alternating between two lines."""
import inspect

from groundtruth import Ledger, seconds_arg, wall_clock


def alternate(seconds):
    end = wall_clock() + seconds
    x = 0
    while wall_clock() < end:
        for i in range(3000): x += i * i  # noqa: E701  (hot line one)
        for j in range(3000): x -= j * j  # noqa: E701  (hot line two)
    return x


def main():
    ledger = Ledger("alternate")
    source, first = inspect.getsourcelines(alternate)
    ledger.extra["hot"] = [first + k for k, text in enumerate(source) if "(hot line" in text]
    ledger.timed("alternate", alternate, seconds_arg())
    ledger.write()


if __name__ == "__main__":
    main()
