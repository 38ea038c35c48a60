# SPDX-License-Identifier: MIT
"""A thread whose stack no walk can read, for `spyglass dump`: broken-1, in
stuck_here, points the link from its own frame to its caller's back at
that frame itself (PyFrameObject.f_back before 3.11, the interpreter
frame's `previous` from 3.11), so every walk of its stack meets the same
frame again, a loop, and never reaches the thread's start. It then sleeps
and never returns (returning would follow the link). The main thread
sleeps in main, readable. When the link is set it prints one JSON line:
its pid, the offset written ("offset": null when the link was not found
where expected, and nothing was written), and each thread's native id
(3.8+). It runs until killed or SECONDS (argv[1], default 60) pass.

The collector is disabled first: it would otherwise follow a frame's
f_back (before 3.11) and count the loop as a reference. Python 2.7 and
3.6+.
"""
from __future__ import print_function

import ctypes
import gc
import json
import os
import sys
import threading
import time

try:
    native_id = threading.get_native_id  # 3.8+
except AttributeError:
    native_id = None

# A PyFrameObject starts with ob_refcnt, ob_type, then (before 3.11, a
# variable-size object) ob_size and f_back; from 3.11 f_back and f_frame,
# its interpreter frame, whose `previous` is at 48 in 3.11 (after f_func,
# f_globals, f_builtins, f_locals, f_code, frame_obj) and at 8 in 3.12+.
OLD = sys.version_info < (3, 11)
LINK_OFFSETS = (24,) if OLD else (8, 48)

tids = {}
done = threading.Event()
result = {}


def frame_address(frame):
    """Where the walker meets this frame: the frame object before 3.11,
    its interpreter frame (f_frame, at 24) from 3.11."""
    if OLD:
        return id(frame)
    return ctypes.c_void_p.from_address(id(frame) + 24).value


def loop_back(frame, caller):
    """Point frame's link to caller at frame itself; the offset written, or
    None when no candidate slot held the caller's address."""
    me, target = frame_address(frame), frame_address(caller)
    for offset in LINK_OFFSETS:
        slot = ctypes.c_void_p.from_address(me + offset)
        if slot.value == target:
            slot.value = me
            return offset
    return None


def stuck_here(seconds):
    result["offset"] = loop_back(sys._getframe(), sys._getframe(1))
    if native_id:
        tids["broken-1"] = native_id()
    done.set()
    end = time.time() + seconds
    while True:  # never returns: the interpreter would follow the link
        time.sleep(max(0.0, min(1.0, end - time.time())) or 1.0)


def broken(seconds):
    stuck_here(seconds)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    gc.disable()
    t = threading.Thread(target=broken, args=(seconds,), name="broken-1")
    t.daemon = True
    t.start()
    done.wait()
    if native_id:
        tids["MainThread"] = native_id()
    print(json.dumps({"pid": os.getpid(), "offset": result["offset"], "tids": tids}))
    sys.stdout.flush()
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.2)
    # The daemon thread never returns; the process ends without joining
    # it (os._exit: interpreter shutdown would visit every frame).
    os._exit(0)


if __name__ == "__main__":
    main()
