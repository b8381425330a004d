# Blocking calls release the GIL and stay interruptible: Ctrl-C (SIGINT) during a blocking receive raises
# KeyboardInterrupt in a real child process; another thread runs while one waits; a second thread is refused.
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import shmring

CHILD = textwrap.dedent("""
    import os, signal, sys
    import shmring
    signal.signal(signal.SIGINT, signal.default_int_handler)
    c = shmring.MessageConsumer.open_or_create(sys.argv[1], 4096)
    try:
        os.write(1, b"blocking\\n")
        c.receive()
        print("received")
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    c.close()
""")


def wchan(pid):
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read()
    except OSError:
        return ""


def test_ctrl_c_during_receive_raises_keyboard_interrupt(name):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen([sys.executable, "-c", CHILD, name], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout.readline() == b"blocking\n"
        # Blocked: the consumer sleeps on its futex (it sleeps in bounded slices, so look until it is seen there;
        # a child that never sleeps hangs this loop into the CTest timeout, a child that exits fails it).
        while "futex" not in wchan(child.pid):
            if child.poll() is not None:
                pytest.fail(f"the child exited ({child.returncode}) before it slept in the kernel")
            select.select([child.stdout], [], [], 0.005)  # a polling interval, not a deadline
        assert shmring.status(name)["consumer"]["sleeps"] > 0  # it waited in receive, not elsewhere
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=60)
        assert out == b"KeyboardInterrupt\n" and child.returncode == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        shmring.remove(name)


def test_other_threads_run_while_one_waits(name):
    p = shmring.MessageProducer.create(name, 4096)
    c = shmring.MessageConsumer.open(name)
    got = []
    waiter = threading.Thread(target=lambda: got.append(c.receive(timeout=60)))
    waiter.start()
    # This thread needs the GIL to read the consumer's sleep count; it rises only while the waiter sleeps in
    # receive(), so seeing it rise proves the waiter released the GIL there.
    while shmring.status(name)["consumer"]["sleeps"] == 0:
        pass
    assert waiter.is_alive() and not got  # this thread ran while the other was inside receive()
    with pytest.raises(shmring.InvalidArgumentError):
        c.try_receive()  # one thread at a time per endpoint
    p.send(b"wake up")
    waiter.join()
    assert got[0].payload == b"wake up" and got[0].sequence == 0
    c.close()
    p.close()
