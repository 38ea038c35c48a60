"""Most CPU in the regex engine (sre, C code of the interpreter) under a
Python caller: a pattern that backtracks exponentially.

usage: python native_re.py [SECONDS=5]
Expect: with native frames merged, sre's C functions sit above `backtrack`.
Works on Python 2.7 and 3.6+.
"""
import re
import sys
import time

# (a|aa)+ can split a run of a's in Fibonacci-many ways, and the missing b
# makes the engine try every one.
PATTERN = re.compile(r"(a|aa)+b")
TEXT = "a" * 22


def backtrack():
    return PATTERN.match(TEXT)


def main():
    end = time.time() + (float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
    while time.time() < end:
        backtrack()


if __name__ == "__main__":
    main()
