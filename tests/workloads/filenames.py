# SPDX-License-Identifier: MIT
"""Time in the standard library (json's decoder) called from a module in the
program's own folder, for how file names are shown."""
import filenames_helper
from groundtruth import seconds_arg, wall_clock


def main():
    end = wall_clock() + seconds_arg()
    while wall_clock() < end:
        filenames_helper.decode_all(5)


if __name__ == "__main__":
    main()
