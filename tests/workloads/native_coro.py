# SPDX-License-Identifier: MIT
"""zlib's deflate called by an asyncio coroutine: the event loop resumes
`serve`, which awaits a new coroutine `squeeze` each time round, which
calls zlib.compress and then yields to the loop (await asyncio.sleep(0)),
so every compression runs in a fresh resumption of both.

usage: python native_coro.py SECONDS
Runs for SECONDS, and until it has used SECONDS / 2 of CPU (so that a
loaded machine still gives a profiler enough samples of it).
Expect, merged: <module>, main, then asyncio's event loop (its Python
frames, and its C Task step where _asyncio has one), then serve, squeeze,
then zlib.compress's C function and libz above it. Python 3.6+ only:
2.7 has neither asyncio nor async def (this file does not compile there).
"""
import asyncio
import os
import sys
import time
import zlib

# Random bytes: each compression lasts tens of milliseconds, so that few
# samples fall in the event loop's switches between them.
DATA = os.urandom(1 << 16) * 4


def more(end, cpu):
    """Whether to go on: before end (wall) or cpu (this process's CPU)."""
    times = os.times()
    return time.time() < end or times[0] + times[1] < cpu


async def squeeze():
    zlib.compress(DATA, 9)
    await asyncio.sleep(0)


async def serve(until):
    while more(*until):
        await squeeze()


def main():
    seconds = float(sys.argv[1])
    until = (time.time() + seconds, sum(os.times()[:2]) + seconds / 2)
    # new_event_loop, not asyncio.run (3.7+) nor get_event_loop
    # (deprecated without a running loop from 3.12).
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(serve(until))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
