# -*- coding: utf-8 -*-
# SPDX-License-Identifier: MIT
"""Functions with non-ASCII names: naïve_ß and 计算.

Python 3 defines them under those names. Python 2's identifiers are ASCII,
so there two functions get those names in their code objects (as UTF-8
bytes), which is all a profiler reading the code object sees.
"""
import sys
import types

from groundtruth import Ledger, seconds_arg, spin, wall_clock

NAMES = (u"naïve_ß", u"计算")


def renamed(name):
    def work(s):
        return spin(s)

    c = work.__code__
    utf8 = name.encode("utf-8")
    code = types.CodeType(c.co_argcount, c.co_nlocals, c.co_stacksize, c.co_flags, c.co_code,
                          c.co_consts, c.co_names, c.co_varnames, c.co_filename, utf8,
                          c.co_firstlineno, c.co_lnotab, c.co_freevars, c.co_cellvars)
    return types.FunctionType(code, work.__globals__, utf8)


if sys.version_info[0] >= 3:
    exec(u"def naïve_ß(s):\n    return spin(s)\n\n\ndef 计算(s):\n    return spin(s)\n")
    WORKERS = [globals()[name] for name in NAMES]
else:
    WORKERS = [renamed(name) for name in NAMES]


def main():
    ledger = Ledger("unicode_names")
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        for name, work in zip(NAMES, WORKERS):
            ledger.timed(name, work, 0.005)
    ledger.write()


if __name__ == "__main__":
    main()
