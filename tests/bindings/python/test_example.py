# examples/xlang/xlang.py (BitRPC's cross-language program) run as two processes: the consumer prints every
# string and record the producer sent, in order, then the end of the stream.
import os
import subprocess
import sys

import shmring

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples", "xlang", "xlang.py")


def test_producer_and_consumer_processes(name):
    consumer = subprocess.Popen([sys.executable, EXAMPLE, "--mode", "consumer", "--name", name],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        producer = subprocess.run([sys.executable, EXAMPLE, "--mode", "producer", "--name", name, "--count", "4"],
                                  capture_output=True, text=True, timeout=120)
        out, err = consumer.communicate(timeout=120)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()
        shmring.remove(name)
    assert producer.returncode == 0, producer.stderr
    assert consumer.returncode == 0, err
    expected = []
    for k in range(1, 5):
        expected += [f"string: Hello from Python #{k}", f"struct: id={k} value={k * 1.5:g}"]
    assert out.splitlines() == expected + ["the producer closed the stream"]
