#!/usr/bin/env python3
"""Python to Python between two processes, in one run, the same counts for every transport:
  64-byte messages through a shmring message ring, multiprocessing.Queue, multiprocessing.Pipe, and a ring of
  64-byte slots in a multiprocessing.shared_memory buffer guarded by a multiprocessing.Lock;
  u64 values through a shmring typed ring, popped with pop_n into numpy arrays.
Every receiver checks every item (the index carried in each message, every u64 value by a vectorised compare).
Goals (issue 16): shmring >= 20x multiprocessing.Queue at 64 bytes, >= 100 M u64/s with pop_n.

Usage: python_bench.py [--messages N] [--u64 N] [--repeat R]    (run with the interpreter the module was built
for; PYTHONPATH must reach the module, e.g. build/dev/bindings/python/module)
"""
import argparse
import multiprocessing as mp
import os
import platform
import struct
import sys
import time
from multiprocessing import shared_memory

import numpy as np

import shmring

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from report import cpu_model  # noqa: E402  (bench/report.py: the CPU named as in the other reports)

MSG = 64
U64_CHUNK = 65536


def payload(i):
    return i.to_bytes(8, "little") * (MSG // 8)


def check(i, data):
    if int.from_bytes(data[:8], "little") != i or len(data) != MSG:
        raise SystemExit(f"bench: item {i} arrived wrong")


# ---------------------------------------------------------------------------------------------- receivers
# Each runs in a child process: it opens its end, says "ready" on `ready`, receives n items, checking each, and
# says "done" on `done`. The parent times from just before its first send to "done".

def shmring_receiver(name, n, ready, done):
    c = shmring.MessageConsumer.open_or_create(name, 1 << 20)
    ready.send("ready")
    for i in range(n):
        m = c.receive()
        if m.sequence != i:
            raise SystemExit(f"bench: sequence {m.sequence}, expected {i}")
        check(i, m.payload)
    done.send("done")
    c.close()


def queue_receiver(q, n, ready, done):
    ready.send("ready")
    for i in range(n):
        check(i, q.get())
    done.send("done")


def pipe_receiver(conn, n, ready, done):
    ready.send("ready")
    for i in range(n):
        check(i, conn.recv_bytes())
    done.send("done")


SLOTS = 1024
HEADER = 16  # head, tail (u64 each), guarded by the lock


def shm_receiver(shm_name, lock, n, ready, done):
    shm = shared_memory.SharedMemory(name=shm_name)
    buf = shm.buf
    ready.send("ready")
    i = 0
    while i < n:
        with lock:
            head, tail = struct.unpack_from("<QQ", buf, 0)
            if head == tail:
                continue
            at = HEADER + (tail % SLOTS) * MSG
            data = bytes(buf[at:at + MSG])
            struct.pack_into("<Q", buf, 8, tail + 1)
        check(i, data)
        i += 1
    done.send("done")
    del buf
    shm.close()


def u64_expected(start, stop):
    return np.arange(start, stop, dtype=np.uint64) * np.uint64(3)


def u64_receiver(name, n, ready, done):
    c = shmring.Consumer.open_or_create(name, 1 << 20, np.uint64)
    ready.send("ready")
    got = 0
    while got < n:
        a = c.pop_n(U64_CHUNK)
        if not np.array_equal(a, u64_expected(got, got + len(a))):
            raise SystemExit(f"bench: u64 values wrong near {got}")
        got += len(a)
    done.send("done")
    c.close()


# ---------------------------------------------------------------------------------------------- senders
def timed(target, args, send):
    """Starts the receiver, waits for it to be ready, runs send(), waits for "done": seconds from send to done."""
    ready_r, ready_w = mp.Pipe(duplex=False)
    done_r, done_w = mp.Pipe(duplex=False)
    child = mp.Process(target=target, args=args + (ready_w, done_w))
    child.start()
    if ready_r.recv() != "ready":
        raise SystemExit("bench: the receiver did not start")
    t0 = time.perf_counter()
    send()
    if done_r.recv() != "done":
        raise SystemExit("bench: the receiver failed")
    t1 = time.perf_counter()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"bench: the receiver exited {child.exitcode}")
    return t1 - t0


def send_each(n, put):
    """A sender that calls put(message) for each of the n messages (made before the clock starts)."""
    msgs = [payload(i) for i in range(n)]

    def send():
        for m in msgs:
            put(m)

    return send


def run_shmring(n):
    name = f"bench-py-{os.getpid()}"
    shmring.remove(name)
    try:
        p = shmring.MessageProducer.open_or_create(name, 1 << 20)
        s = timed(shmring_receiver, (name, n), send_each(n, p.send))
        p.close()
        return s
    finally:
        shmring.remove(name)


def run_queue(n):
    q = mp.Queue()
    return timed(queue_receiver, (q, n), send_each(n, q.put))


def run_pipe(n):
    r, w = mp.Pipe(duplex=False)
    return timed(pipe_receiver, (r, n), send_each(n, w.send_bytes))


def run_shared_memory(n):
    shm = shared_memory.SharedMemory(create=True, size=HEADER + SLOTS * MSG)
    lock = mp.Lock()
    buf = shm.buf
    struct.pack_into("<QQ", buf, 0, 0, 0)
    msgs = [payload(i) for i in range(n)]

    def send():
        i = 0
        while i < n:
            with lock:
                head, tail = struct.unpack_from("<QQ", buf, 0)
                if head - tail == SLOTS:
                    continue
                at = HEADER + (head % SLOTS) * MSG
                buf[at:at + MSG] = msgs[i]
                struct.pack_into("<Q", buf, 0, head + 1)
            i += 1

    try:
        return timed(shm_receiver, (shm.name, lock, n), send)
    finally:
        del buf
        shm.close()
        shm.unlink()


def run_u64(n):
    name = f"bench-py-u64-{os.getpid()}"
    shmring.remove(name)
    try:
        p = shmring.Producer.open_or_create(name, 1 << 20, np.uint64)
        chunks = [u64_expected(s, min(n, s + U64_CHUNK)) for s in range(0, n, U64_CHUNK)]

        def send():
            for c in chunks:
                p.push_n(c)

        s = timed(u64_receiver, (name, n), send)
        p.close()
        return s
    finally:
        shmring.remove(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=200000, help="64-byte messages per transport")
    ap.add_argument("--u64", type=int, default=20000000, help="u64 values through the typed ring")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, the best is reported (all are printed)")
    a = ap.parse_args()
    mp.set_start_method("fork")
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"interpreter: {sys.executable} (Python {platform.python_version()}), numpy {np.__version__}, "
          f"module {shmring.__file__}")
    print(f"command: {' '.join([os.path.basename(sys.argv[0])] + sys.argv[1:])}")
    print(f"{a.messages} messages of {MSG} bytes per transport, {a.u64} u64 values; best of {a.repeat} runs\n")
    runs = [("shmring MessageProducer/Consumer", run_shmring, a.messages),
            ("multiprocessing.Queue", run_queue, a.messages),
            ("multiprocessing.Pipe", run_pipe, a.messages),
            ("shared_memory + Lock (1024 slots)", run_shared_memory, a.messages)]
    rates = {}
    print(f"{'64-byte messages':36} {'best msg/s':>12} {'vs Queue':>9}   all runs (msg/s)")
    results = []
    for label, fn, n in runs:
        all_rates = [n / fn(n) for _ in range(a.repeat)]
        rates[label] = max(all_rates)
        results.append((label, all_rates))
    q = rates["multiprocessing.Queue"]
    for label, all_rates in results:
        print(f"{label:36} {max(all_rates):12,.0f} {max(all_rates) / q:8.1f}x   "
              + " ".join(f"{r:,.0f}" for r in all_rates))
    u64_rates = [a.u64 / run_u64(a.u64) for _ in range(a.repeat)]
    print(f"\n{'typed u64, push_n / pop_n (65536)':36} {max(u64_rates) / 1e6:10.1f} M/s   "
          + " ".join(f"{r / 1e6:.1f}M" for r in u64_rates))
    ratio = rates["shmring MessageProducer/Consumer"] / q
    print(f"\ngoal shmring >= 20x Queue at 64 bytes: {ratio:.1f}x: {'met' if ratio >= 20 else 'NOT met'}")
    print(f"goal >= 100 M u64/s with pop_n: {max(u64_rates) / 1e6:.1f} M/s: "
          f"{'met' if max(u64_rates) >= 100e6 else 'NOT met'}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
