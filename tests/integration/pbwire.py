# SPDX-License-Identifier: MIT
"""Just enough protobuf to read and write pprof files in tests, without
protobuf itself: varints and length-delimited fields of profile.proto."""
import gzip


def varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):
    """A length-delimited field."""
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def vfield(num, value):
    """A varint field (0 is left out, as proto3 does)."""
    return varint(num << 3) + varint(value) if value else b""


def packed(num, values):
    return field(num, b"".join(varint(v) for v in values)) if values else b""


def fields(data):
    """(field number, wire type, value) of each field of one message."""
    i = 0
    while i < len(data):
        tag, i = _read_varint(data, i)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            n, i = _read_varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        yield num, wire, value


def _read_varint(data, i):
    v = shift = 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _ints(wire, value):
    """A repeated integer field's values, packed or not."""
    if wire == 0:
        return [_signed(value)]
    out, i = [], 0
    while i < len(value):
        v, i = _read_varint(value, i)
        out.append(_signed(v))
    return out


def read_profile(path):
    """The parts of a pprof file tests look at, strings resolved: sample_type
    [(type, unit)], period, time_nanos, duration_nanos, comments, samples [(values, {label: str or num},
    location ids)]."""
    with open(str(path), "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    strings, types, comments, raw_samples, period, period_type = [], [], [], [], 0, None
    times = {}
    for num, wire, value in fields(data):
        if num == 6:
            strings.append(value.decode("utf-8"))
        elif num == 1:
            vt = {n: v for n, _, v in fields(value)}
            types.append((vt.get(1, 0), vt.get(2, 0)))
        elif num == 11:
            vt = {n: v for n, _, v in fields(value)}
            period_type = (vt.get(1, 0), vt.get(2, 0))
        elif num == 12:
            period = value
        elif num in (9, 10):
            times[num] = value
        elif num == 13:
            comments += _ints(wire, value)
        elif num == 2:
            raw_samples.append(value)
    samples = []
    for raw in raw_samples:
        locs, values, labels = [], [], {}
        for num, wire, value in fields(raw):
            if num == 1:
                locs += _ints(wire, value)
            elif num == 2:
                values += _ints(wire, value)
            elif num == 3:
                lab = {n: v for n, _, v in fields(value)}
                key = strings[lab.get(1, 0)]
                labels[key] = strings[lab[2]] if lab.get(2) else _signed(lab.get(3, 0))
        samples.append((values, labels, locs))
    return {
        "sample_type": [(strings[t], strings[u]) for t, u in types],
        "period_type": period_type and (strings[period_type[0]], strings[period_type[1]]),
        "period": period,
        "time_nanos": times.get(9, 0),
        "duration_nanos": times.get(10, 0),
        "comments": dict(strings[c].split("=", 1) for c in comments if "=" in strings[c]),
        "samples": samples,
    }
