# SPDX-License-Identifier: MIT
"""A module beside filenames.py: its frames are shown as filenames_helper.py."""
import json

TEXT = json.dumps([{"key": i, "values": list(range(30))} for i in range(300)])


def decode_all(rounds):
    n = 0
    for _ in range(rounds):
        n += len(json.loads(TEXT))
    return n
