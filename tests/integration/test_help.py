# SPDX-License-Identifier: MIT
"""Each command's --help and the README's option table list the same options."""
import os
import re
import subprocess

import pytest

from conftest import DEBIAN, ROOT, SPYGLASS, TIMEOUT

OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b")


def help_options(command):
    """The options --help describes: those at the start of its option lines."""
    out = subprocess.run([SPYGLASS, command, "--help"], stdout=subprocess.PIPE,
                         timeout=TIMEOUT, check=True).stdout.decode()
    found = set()
    for line in out.splitlines():
        # "  -o, --output FILE   ..." or "      --threads   ...": the option
        # column ends at the first run of two spaces after the names.
        if re.match(r"^ {2,6}-", line):
            found.update(OPTION.findall(line.strip().split("  ")[0]))
    return out, found


def readme_options(command):
    """The options in the first cell of the README's table for command."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme.split("## `spyglass %s`" % command, 1)[1].split("\n## ", 1)[0]
    found = set()
    for line in section.splitlines():
        if line.startswith("| `-"):
            found.update(OPTION.findall(line.split(" | ")[0]))
    return section, found


@pytest.mark.parametrize("command", ["record", "convert", "report", "diff", "dump", "agent",
                                     "query", "store", "top", "heap"])
def test_help_and_readme_list_the_same_options(command):
    """11.20: record --help had --reverse/--icicle the README's table had not."""
    _, in_help = help_options(command)
    _, in_readme = readme_options(command)
    assert in_help, "no options parsed from %s --help" % command
    assert in_help - in_readme == set(), "in --help only: %s" % sorted(in_help - in_readme)
    assert in_readme - in_help == set(), "in README only: %s" % sorted(in_readme - in_help)


def test_convert_usage_line_has_options():
    """11.20: convert's usage line left out that it takes options."""
    out, _ = help_options("convert")
    assert out.startswith("usage: spyglass convert [OPTIONS] INPUT -o OUTPUT\n"), out
    section, _ = readme_options("convert")
    assert "spyglass convert [OPTIONS] INPUT -o OUTPUT" in section


def test_default_output_name_follows_format(tmp_path):
    """11.20: the help said the default was spyglass-PID.folded, but -f
    changes its extension; help and README now say so, and it is so."""
    out, _ = help_options("record")
    assert "spyglass-PID.EXT" in out and "spyglass-PID.folded" not in out, out
    section, _ = readme_options("record")
    assert "spyglass-PID.EXT" in section
    # And it is so: -f pprof without -o writes spyglass-PID.pb.gz.
    if not DEBIAN:
        pytest.skip("Debian's /usr/bin/python3 not found")
    subprocess.run([SPYGLASS, "record", "-f", "pprof", "--", DEBIAN, "-c", "pass"],
                   cwd=str(tmp_path), stderr=subprocess.PIPE, timeout=TIMEOUT)
    made = os.listdir(str(tmp_path))
    assert len(made) == 1 and re.match(r"^spyglass-\d+\.pb\.gz$", made[0]), made
