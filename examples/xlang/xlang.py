#!/usr/bin/env python3
"""BitRPC's cross-language program in Python: a producer and a consumer of one message ring, either of which may
be this program or its C++ or C# twin (same command line, same messages).

    xlang.py --mode producer --name NAME [--count N]
    xlang.py --mode consumer --name NAME

The producer sends, N times (default 3), a string "Hello from Python #k" and then a record
struct { int32_t id; double value; } = {k, k * 1.5}, then closes its side. The consumer prints each string and
record as it arrives, until the producer has closed. Both use BitRPC's spellings (create_producer,
create_consumer, send_string, receive_string, send_typed, receive_typed); either side may start first.
Run it with the interpreter the shmring module was built for (e.g. PYTHONPATH=build/dev/bindings/python/module
/usr/bin/python3 examples/xlang/xlang.py ...).
"""
import argparse
import sys

import numpy as np

import shmring

RING_BYTES = 1024 * 1024
RECORD = np.dtype([("id", "<i4"), ("value", "<f8")], align=True)  # the C struct's layout: 16 bytes, alignment 8


def produce(name, count):
    producer = shmring.create_producer(name, RING_BYTES)
    for k in range(1, count + 1):
        producer.send_string(f"Hello from Python #{k}")
        producer.send_typed((k, k * 1.5), dtype=RECORD)
        print(f"sent: \"Hello from Python #{k}\" and {{id={k}, value={k * 1.5:g}}}")
    producer.dispose()


def consume(name):
    consumer = shmring.create_consumer(name, RING_BYTES)
    try:
        while True:
            text = consumer.receive_string()
            print(f"string: {text}")
            record = consumer.receive_typed(RECORD)
            print(f"struct: id={int(record['id'])} value={float(record['value']):g}")
    except shmring.ClosedError:
        print("the producer closed the stream")
    finally:
        consumer.dispose()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["producer", "consumer"], required=True)
    ap.add_argument("--name", required=True, help="the ring's name (the segment /dev/shm/shmring-NAME)")
    ap.add_argument("--count", type=int, default=3, help="producer: how many string + record pairs")
    a = ap.parse_args()
    try:
        if a.mode == "producer":
            produce(a.name, a.count)
        else:
            consume(a.name)
    except shmring.Error as e:
        print(e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
