#!/usr/bin/env python3
"""The Python peer of the cross-language tests (the protocol is /work/xlang-spec.md, shared with the C++ peer
tests/bindings/xpeer.cpp and the C# peer tests/bindings/csharp/XPeer.cs):

    xpeer.py --role send|recv --kind messages|u64|struct --name NAME --count N --seed S

Run it with the interpreter the shmring module was built for. Exit 0 with a last line `ok <count> <kind>`;
1 after `mismatch at <index>: <what>` on stderr; 2 after a shmring error's message on stderr.
"""
import argparse
import sys
import zlib

import numpy as np

import shmring

MASK = (1 << 64) - 1
MESSAGE_RING = 1 << 20       # bytes
TYPED_RING = 65536           # elements
BIG = 8388608                # the one fragmented message, in the middle
RECORD = np.dtype([("id", "<i4"), ("value", "<f8")], align=True)  # struct { int32_t id; double value; }
RECORD_NAME = "xlang.record/v1"
U64_STEP = 0x9E3779B97F4A7C15
CHUNK = 65536


class Mismatch(Exception):
    pass


def splitmix64(seed):
    x = seed & MASK
    while True:
        x = (x + 0x9E3779B97F4A7C15) & MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def message_plan(count, seed):
    """(index, size, type, flags) of each message, in order."""
    rng = splitmix64(seed)
    for i in range(count):
        a = next(rng)
        size = BIG if i == count // 2 else a % 65537
        b = next(rng)
        yield i, size, 1 + (b % 100000), (b >> 32) & 7


class Payloads:
    """Payload i is byte j = (j * 7 + i * 131 + S) & 0xff: the j * 7 part repeats every 256 bytes, so each payload
    is a prefix of one of 256 patterns (one per value of (i * 131 + S) & 0xff)."""

    def __init__(self, seed):
        self.seed = seed
        self.base = bytes((j * 7) & 0xFF for j in range(256))
        self.cache = {}

    def expected(self, i, size):
        c = (i * 131 + self.seed) & 0xFF
        if size > 65536:
            return self._make(c, size)
        if c not in self.cache:
            self.cache[c] = self._make(c, 65536)
        return memoryview(self.cache[c])[:size]

    def _make(self, c, size):
        table = bytes((k + c) & 0xFF for k in range(256))
        return (self.base * (size // 256 + 1))[:size].translate(table)


def send_messages(name, count, seed):
    payloads = Payloads(seed)
    p = shmring.MessageProducer.open_or_create(name, MESSAGE_RING)
    for i, size, mtype, flags in message_plan(count, seed):
        p.send(payloads.expected(i, size), type=mtype, flags=flags)
    p.close()


def recv_messages(name, count, seed):
    payloads = Payloads(seed)
    c = shmring.MessageConsumer.open_or_create(name, MESSAGE_RING)
    for i, size, mtype, flags in message_plan(count, seed):
        with c.read() as m:
            if m.sequence != i:
                raise Mismatch(f"mismatch at {i}: sequence {m.sequence}, expected {i}")
            if m.type != mtype:
                raise Mismatch(f"mismatch at {i}: type {m.type}, expected {mtype}")
            if m.flags != flags:
                raise Mismatch(f"mismatch at {i}: flags {m.flags}, expected {flags}")
            if len(m) != size:
                raise Mismatch(f"mismatch at {i}: length {len(m)}, expected {size}")
            got, want = zlib.crc32(m.payload), zlib.crc32(payloads.expected(i, size))
            if got != want:
                raise Mismatch(f"mismatch at {i}: crc32 {got:08x}, expected {want:08x}")
    c.close()


def expected_elements(kind, seed, start, stop):
    k = np.arange(start, stop, dtype=np.uint64)
    if kind == "u64":
        return (k * np.uint64(U64_STEP)) ^ np.uint64(seed & MASK)
    out = np.empty(stop - start, dtype=RECORD)
    out["id"] = (k & np.uint64(0x7FFFFFFF)).astype(np.int32)
    out["value"] = k.astype(np.float64) * 0.5
    return out


def ring_args(kind):
    return (np.uint64, {}) if kind == "u64" else (RECORD, {"type_name": RECORD_NAME})


def send_elements(kind, name, count, seed):
    dtype, kw = ring_args(kind)
    p = shmring.Producer.open_or_create(name, TYPED_RING, dtype, **kw)
    for start in range(0, count, CHUNK):
        p.push_n(expected_elements(kind, seed, start, min(count, start + CHUNK)))
    p.close()


def recv_elements(kind, name, count, seed):
    dtype, kw = ring_args(kind)
    c = shmring.Consumer.open_or_create(name, TYPED_RING, dtype, **kw)
    done = 0
    while done < count:
        got = c.pop_n(min(CHUNK, count - done))
        want = expected_elements(kind, seed, done, done + len(got))
        if kind == "u64":
            bad = np.nonzero(got != want)[0]
        else:
            bad = np.nonzero((got["id"] != want["id"]) | (got["value"] != want["value"]))[0]
        if len(bad):
            j = int(bad[0])
            raise Mismatch(f"mismatch at {done + j}: {got[j]}, expected {want[j]}")
        done += len(got)
    c.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=["send", "recv"], required=True)
    ap.add_argument("--kind", choices=["messages", "u64", "struct"], required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args(argv)
    try:
        if a.kind == "messages":
            (send_messages if a.role == "send" else recv_messages)(a.name, a.count, a.seed)
        elif a.role == "send":
            send_elements(a.kind, a.name, a.count, a.seed)
        else:
            recv_elements(a.kind, a.name, a.count, a.seed)
    except Mismatch as e:
        print(e, file=sys.stderr)
        return 1
    except shmring.Error as e:
        print(e, file=sys.stderr)
        return 2
    print(f"ok {a.count} {a.kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
