# SPDX-License-Identifier: MIT
"""Holders with known truth, for spyglass heap --referrers and the census's bytes.

usage: heap_holders.py [SECONDS]
- Entry: 700 of them, held only by the list Registry.items, a class
  attribute of a class that is never instantiated.
- Token: 400 of them, each held by the module-level list TOKENS, by each of
  the three tuples in the module-level list VIEWS (three holders of the same
  kind), and twice by the tuple PAIRS (one holder, two references each).
- Row (a list), Table (a dict) and Text (a str), subclasses with
  __slots__ = () so that no __dict__ comes with them: 300 of each, of known
  lengths, whose sys.getsizeof() sums are the truth for the census's bytes.
Writes the truth (gc.get_objects() counts, getsizeof sums) to $SPYGLASS_TRUTH,
then sleeps. Python 2.7 and 3.6+.
"""
import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import groundtruth  # noqa: E402

ENTRIES = 700
TOKENS_N = 400
VIEWS_N = 3
SIZED = 300


class Entry(object):
    def __init__(self, n):
        self.n = n


class Token(object):
    def __init__(self, n):
        self.n = n


class Registry(object):
    """Never instantiated: only its class attribute holds the Entries."""
    items = [Entry(i) for i in range(ENTRIES)]


class Row(list):
    __slots__ = ()


class Table(dict):
    __slots__ = ()


class Text(str):
    __slots__ = ()


TOKENS = [Token(i) for i in range(TOKENS_N)]
VIEWS = [tuple(TOKENS) for _ in range(VIEWS_N)]
PAIRS = tuple(TOKENS) * 2

ROWS = [Row(range(i % 40)) for i in range(SIZED)]
TABLES = [Table((k, k) for k in range(i % 20)) for i in range(SIZED)]
TEXTS = [Text("t" * (i % 60 + 1)) for i in range(SIZED)]


def main():
    seconds = groundtruth.seconds_arg(60.0)
    ledger = groundtruth.Ledger("heap-holders")
    gc.collect()
    objs = gc.get_objects()
    counts = {}
    for cls in (Entry, Token):
        counts["__main__." + cls.__name__] = sum(1 for o in objs if type(o) is cls)
    del objs
    ledger.extra["counts"] = counts
    ledger.extra["entries"] = ENTRIES
    ledger.extra["tokens"] = TOKENS_N
    ledger.extra["views"] = VIEWS_N
    ledger.extra["sizeof"] = {
        "__main__.Row": [len(ROWS), sum(sys.getsizeof(o) for o in ROWS)],
        "__main__.Table": [len(TABLES), sum(sys.getsizeof(o) for o in TABLES)],
        "__main__.Text": [len(TEXTS), sum(sys.getsizeof(o) for o in TEXTS)],
    }
    ledger.write()
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.1)


if __name__ == "__main__":
    main()
