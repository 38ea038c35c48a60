# SPDX-License-Identifier: MIT
"""convert at the scale record writes: a long high-rate recording (made up
by bench/genprofile.py in the shape record writes it: 4 threads, 10 kHz,
55 s, 180 frames deep, changing every 1 to 3 samples) goes to every format and
back with its totals intact, within memory that follows the profile, not
the file; and so does a collapsed file of very long lines. Small gzip bombs
are refused before they cost much.

These files are past every fixed cap the readers had: the pprof inflates to
more than 256 MiB and unpacks to more than 1 GiB of messages, its timeline
has more runs than the profile keeps (so it is coarsened), and the
collapsed lines are over 1 MiB.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT, SPYGLASS, parse_folded
from pbwire import fields

sys.path.insert(0, os.path.join(ROOT, "bench"))
import genprofile  # noqa: E402

TIME = "/usr/bin/time"
TIMEOUT = 900  # each conversion reads hundreds of MB under the sanitizers
MAX_RUNS = 1 << 20  # SG_PROFILE_MAX_RUNS


def convert(*args):
    """Run convert; (status, stderr, its peak RSS in MiB). Through GNU time:
    a child's peak RSS counts the memory of whoever forked it, which for
    this test process can be hundreds of MB."""
    # AddressSanitizer keeps up to 256 MiB of freed memory in quarantine
    # (a use-after-free check): a little is enough here, and the peak is
    # then the program's.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
               ":quarantine_size_mb=16")
    with tempfile.NamedTemporaryFile(mode="r") as rss:
        proc = subprocess.run([TIME, "-q", "-f", "%M", "-o", rss.name, SPYGLASS, "convert"] +
                              [str(a) for a in args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=TIMEOUT, env=env)
        peak_kib = int(rss.read().split()[-1])
    err = proc.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err
    return proc.returncode, err, peak_kib / 1024.0


def convert_ok(*args):
    status, err, _ = convert(*args)
    assert status == 0, err


pytestmark = pytest.mark.skipif(not os.access(TIME, os.X_OK),
                                reason="GNU time (/usr/bin/time) measures peak memory")


def inflated_size(path):
    n = 0
    with gzip.open(str(path), "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return n
            n += len(chunk)


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.pb.gz"
    total, total_ns, runs = genprofile.write_pprof(path, threads=4, rate=10000, seconds=55,
                                                   depth=180)
    # Past the caps the reader had, or this test would prove nothing.
    assert inflated_size(path) > 256 << 20
    assert runs > MAX_RUNS
    return path, total, total_ns


def count_samples(path):
    """Samples in a pprof file, from its top-level fields alone."""
    with gzip.open(str(path), "rb") as f:
        return sum(1 for num, _, _ in fields(f.read()) if num == 2)


def folded_total(path):
    with open(str(path), encoding="utf-8") as f:
        return sum(parse_folded(f.read()).values())


def test_long_recording_to_every_format_and_back(long_run, tmp_path):
    src, total, total_ns = long_run
    folded = tmp_path / "long.folded"
    convert_ok(src, "-o", folded)
    assert folded_total(folded) == total

    # pprof to pprof: every sample and nanosecond, the timeline within its
    # budget (so coarsened: the file has more runs than that).
    copy = tmp_path / "copy.pb.gz"
    convert_ok(src, "-o", copy)
    assert count_samples(copy) <= MAX_RUNS
    # ... and the copy converts as the original does.
    again = tmp_path / "again.folded"
    convert_ok(copy, "-o", again)
    assert again.read_bytes() == folded.read_bytes()
    speedscope = tmp_path / "copy.speedscope.json"
    convert_ok(copy, "-o", speedscope)
    with open(str(speedscope)) as f:
        doc = json.load(f)
    assert sum(sum(p["weights"]) for p in doc["profiles"]) == total_ns
    assert len(doc["profiles"]) == 4
    del doc

    # collapsed to pprof and back: the same text.
    from_folded = tmp_path / "from-folded.pb.gz"
    convert_ok(folded, "-o", from_folded)
    back = tmp_path / "back.folded"
    convert_ok(from_folded, "-o", back)
    assert back.read_bytes() == folded.read_bytes()

    # The other display formats (speedscope was above): the same totals.
    trace = tmp_path / "long.trace.json"
    convert_ok(src, "-o", trace)
    with open(str(trace)) as f:
        doc = json.load(f)
    phases = [e["ph"] for e in doc["traceEvents"]]
    assert phases.count("B") == phases.count("E") > 0
    assert doc["otherData"]["samples"] == total and doc["otherData"]["mode"] == "wall"
    del doc, phases
    svg = tmp_path / "long.svg"
    convert_ok(src, "-o", svg)
    assert int(ET.parse(str(svg)).getroot().get("data-total")) == total


def test_long_recording_memory(long_run, tmp_path):
    """Reading costs what the profile holds, not what the file unpacks to
    (> 1 GiB of messages): the peak stays a fraction of the inflated size,
    sanitizers' own overhead included."""
    src, total, _ = long_run
    status, err, peak_mib = convert(src, "-o", tmp_path / "m.folded")
    assert status == 0, err
    inflated_mib = inflated_size(src) / float(1 << 20)
    assert peak_mib < 0.75 * inflated_mib, (peak_mib, inflated_mib)


def test_collapsed_long_lines_round_trip(tmp_path):
    """3000-deep stacks of 1000-character names: lines of 3 MB."""
    folded = tmp_path / "deep.folded"
    total = genprofile.write_collapsed(folded, lines=40, depth=3000, name_len=1000)
    assert max(len(line) for line in folded.read_bytes().split(b"\n")) > 3 << 20 >> 1
    pb = tmp_path / "deep.pb.gz"
    convert_ok(folded, "-o", pb)
    back = tmp_path / "back.folded"
    convert_ok(pb, "-o", back)
    assert folded_total(back) == total
    assert sorted(back.read_bytes().split(b"\n")) == sorted(folded.read_bytes().split(b"\n"))


def gzip_bytes(chunks):
    """gzip of the concatenated chunks, streamed (the input may be large)."""
    import zlib
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(z.compress(c) for c in chunks) + z.flush()


@pytest.mark.parametrize("kind", ["one_huge_string", "many_locations", "many_samples"])
def test_gzip_bombs_refused_cheaply(tmp_path, kind):
    """200-250 KB files that inflate to about 250 MB: refused in one line,
    before memory grows past a small multiple of what a real profile of
    their size costs."""
    from pbwire import field, varint
    zeros = b"\0" * (1 << 20)
    if kind == "one_huge_string":
        chunks = [varint(6 << 3 | 2) + varint(250 << 20)] + [zeros] * 250
    elif kind == "many_locations":
        # Empty Location messages: 2 bytes each on the wire, ~100 unpacked.
        chunks = [field(4, b"") * (1 << 19)] * 250
    else:
        one = field(2, b"\x0a\x01\x01\x12\x01\x01")  # location 1, value 1
        chunks = [field(6, b"")] + [one * (1 << 17)] * 160
    path = tmp_path / ("bomb-%s.pb.gz" % kind)
    path.write_bytes(gzip_bytes(chunks))
    assert os.path.getsize(str(path)) < 300 << 10
    status, err, peak_mib = convert(path, "-o", tmp_path / "out.folded")
    assert status == 1, err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("spyglass: "), err
    assert not (tmp_path / "out.folded").exists()
    # What these take without sanitizers: 2, 52 and 2 MiB; with them, up
    # to twice that and their own ~40 MiB. The old reader reached 514 MiB,
    # 1.3 GB and 821 MiB.
    assert peak_mib < 200, (kind, peak_mib, err)


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


@pytest.mark.parametrize("suffix", [".pb.gz", ".folded"])
def test_record_writing_adds_little_memory(tmp_path, suffix):
    """11.8: writing a long, changing recording does not multiply memory
    (it peaked at 998 MiB writing a 208 MiB profile to pprof): the run's
    peak RSS, writing included, stays within 20% + 8 MiB of the most
    its RSS reached while sampling. 10 kHz, wall mode, --threads, 4
    threads whose stacks keep changing (bench/changing_threads.py)."""
    python = sys.executable
    out = tmp_path / ("long" + suffix)
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
               ":quarantine_size_mb=16")
    with tempfile.NamedTemporaryFile(mode="r") as rss:
        proc = subprocess.Popen([TIME, "-q", "-f", "%M", "-o", rss.name, SPYGLASS, "record",
                                 "-r", "10000", "--mode", "wall", "--threads", "-d", "12", "-o",
                                 str(out), "--", python,
                                 os.path.join(ROOT, "bench", "changing_threads.py"), "60"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        time.sleep(1)
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
            spyglass = int(f.read().split()[0])
        sampling = 0
        # Sampling lasts 12 s from the launch; the write follows.
        deadline = time.time() + 10
        while time.time() < deadline:
            sampling = max(sampling, vm_rss_kib(spyglass))
            time.sleep(0.1)
        err = proc.communicate(timeout=TIMEOUT)[1].decode("utf-8", "replace")
        peak = int(rss.read().split()[-1])
    assert proc.returncode == 0 and "Sanitizer" not in err, err
    assert out.stat().st_size > 0
    assert peak <= sampling * 1.2 + 8192, (peak, sampling)
