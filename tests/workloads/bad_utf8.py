# SPDX-License-Identifier: MIT
"""A function whose name is not valid UTF-8: bad_utf8.py SECONDS.

On 2.7 its code object's co_name is the bytes 'bad\\xffname' (a str, as
types.CodeType takes it); on 3.8+ the str 'bad\\udcffname', a lone
surrogate, which UTF-8 cannot encode either. A profiler writes U+FFFD.
"""
import sys
import types

from groundtruth import Ledger, seconds_arg, spin, wall_clock


def work(s):
    return spin(s)


def renamed():
    c = work.__code__
    if sys.version_info >= (3, 11):
        return types.FunctionType(c.replace(co_name="bad\udcffname", co_qualname="bad\udcffname"),
                                  globals())
    if sys.version_info[0] >= 3:
        return types.FunctionType(c.replace(co_name="bad\udcffname"), globals())
    code = types.CodeType(c.co_argcount, c.co_nlocals, c.co_stacksize, c.co_flags, c.co_code,
                          c.co_consts, c.co_names, c.co_varnames, c.co_filename, "bad\xffname",
                          c.co_firstlineno, c.co_lnotab, c.co_freevars, c.co_cellvars)
    return types.FunctionType(code, globals())


def main():
    bad = renamed()
    ledger = Ledger("bad_utf8")
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        ledger.timed("bad", bad, 0.005)
    ledger.write()


if __name__ == "__main__":
    main()
