#!/usr/bin/env python3
"""A small reader of pprof's profile.proto (uncompressed or gzip), for gort's tests.

    python3 tests/pprof_read.py PROFILE [BINARY]

prints the sample types, the period, and one line per sample: its four values and its
stack, innermost first, each frame an address or, when BINARY (a non-PIE executable)
is given, the name of BINARY's function that holds it (from `nm`). As a module:
read(path) -> dict with sample_types, period, samples [(values, [addresses])],
mappings [(start, limit, offset, file)], and symbolizer(binary) -> function(addr).
"""
import bisect
import gzip
import subprocess
import sys


def _varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def _fields(b):
    """(field, wire type, value) for each field of message b; value is an int or bytes."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = _varint(b, i)
        elif w == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]
            if len(v) != n:
                raise ValueError("truncated field %d" % f)
            i += n
        elif w == 1:
            v, i = int.from_bytes(b[i:i + 8], "little"), i + 8
        elif w == 5:
            v, i = int.from_bytes(b[i:i + 4], "little"), i + 4
        else:
            raise ValueError("bad wire type %d (field %d)" % (w, f))
        yield f, w, v


def _packed(w, v):
    if w == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(x)
    return out


def _signed(x):
    return x - (1 << 64) if x >= 1 << 63 else x


def read(path):
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    strings, types, samples, locs, maps = [], [], [], {}, []
    period = 0
    for f, w, v in _fields(data):
        if f == 1:
            d = {ff: vv for ff, _, vv in _fields(v)}
            types.append((d.get(1, 0), d.get(2, 0)))
        elif f == 2:
            ids, vals = [], []
            for ff, ww, vv in _fields(v):
                if ff == 1:
                    ids += _packed(ww, vv)
                elif ff == 2:
                    vals += [_signed(x) for x in _packed(ww, vv)]
            samples.append((vals, ids))
        elif f == 3:
            d = {ff: vv for ff, _, vv in _fields(v)}
            maps.append((d.get(2, 0), d.get(3, 0), d.get(4, 0), d.get(5, 0)))
        elif f == 4:
            d = {ff: vv for ff, _, vv in _fields(v)}
            locs[d.get(1, 0)] = d.get(3, 0)
        elif f == 6:
            strings.append(v.decode())
        elif f == 12:
            period = v
    if not strings or strings[0] != "":
        raise ValueError("string table must start with the empty string")
    for vals, ids in samples:
        if len(vals) != len(types):
            raise ValueError("a sample has %d values for %d types" % (len(vals), len(types)))
        for i in ids:
            if i not in locs:
                raise ValueError("sample refers to missing location %d" % i)
    return {
        "sample_types": [(strings[t], strings[u]) for t, u in types],
        "period": period,
        "samples": [(vals, [locs[i] for i in ids]) for vals, ids in samples],
        "mappings": [(s, l, o, strings[fi]) for s, l, o, fi in maps],
    }


def symbolizer(binary):
    """addr -> name of the function of non-PIE `binary` that holds addr, or None."""
    out = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    syms.sort()
    starts = [s[0] for s in syms]

    def name(addr):
        k = bisect.bisect_right(starts, addr) - 1
        if k >= 0 and addr < syms[k][0] + syms[k][1]:
            return syms[k][2]
        return None
    return name


def main():
    p = read(sys.argv[1])
    sym = symbolizer(sys.argv[2]) if len(sys.argv) > 2 else None
    print("types", p["sample_types"], "period", p["period"])
    for vals, stk in p["samples"]:
        frames = [(sym(a) if sym else None) or hex(a) for a in stk]
        print(vals, " <- ".join(frames))


if __name__ == "__main__":
    main()
