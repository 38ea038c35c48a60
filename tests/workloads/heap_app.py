# SPDX-License-Identifier: MIT
"""The application side of heap.py: a module-level cache of sessions that is
never evicted, and a registry of callbacks kept in a closure, the two leaks
the heap census should find and name (heap_app.Session held by the dict
_SESSIONS in module heap_app; heap_app.Handler objects in a closure's list).
Python 2.7 and 3.6+."""

_SESSIONS = {}


class Session(object):
    def __init__(self, n):
        self.n = n
        self.user = "user-%d" % n
        self.payload = [n, n + 1]


class Handler(object):
    def __init__(self, n):
        self.n = n


def make_registry():
    handlers = []

    def register(n):
        handlers.append(Handler(n))
        return len(handlers)

    return register


register = make_registry()


def leak(n0, n):
    for i in range(n0, n0 + n):
        _SESSIONS[i] = Session(i)
