# await consumer.receive_async() / pop_async(): the event loop waits on the endpoint's descriptor, so another
# coroutine runs meanwhile and its send wakes the waiter; the end of the stream raises ClosedError. One process
# sends from a child to prove the wake-up crosses processes.
import asyncio
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import shmring

SENDER = textwrap.dedent("""
    import sys, shmring
    p = shmring.MessageProducer.open_or_create(sys.argv[1], 1 << 16)
    for i in range(int(sys.argv[2])):
        p.send(i.to_bytes(8, "little"), type=3)
    p.close()
""")


def test_receive_async_wakes_on_send_and_ends_with_closed(name):
    p = shmring.MessageProducer.create(name, 4096)
    c = shmring.MessageConsumer.open(name)

    async def main():
        got = []
        for i in range(3):
            waiter = asyncio.ensure_future(c.receive_async())
            await asyncio.sleep(0)  # one loop turn: the waiter drains, arms and suspends on the descriptor
            assert not waiter.done()
            p.send(b"m%d" % i)
            got.append(await waiter)
        p.close()
        with pytest.raises(shmring.ClosedError):
            await c.receive_async()
        return got

    got = asyncio.run(main())
    assert [(m.sequence, m.payload) for m in got] == [(0, b"m0"), (1, b"m1"), (2, b"m2")]
    c.close()


def test_receive_async_from_another_process(name):
    c = shmring.MessageConsumer.open_or_create(name, 1 << 16)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    count = 2000
    sender = subprocess.Popen([sys.executable, "-c", SENDER, name, str(count)], env=env)
    try:
        async def main():
            for i in range(count):
                m = await c.receive_async()
                assert (m.sequence, m.type, m.payload) == (i, 3, i.to_bytes(8, "little"))
            with pytest.raises(shmring.ClosedError):
                await c.receive_async()

        asyncio.run(main())
        assert sender.wait(timeout=120) == 0
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
        c.close()


def test_pop_async(name):
    p = shmring.Producer.create(name, 64, np.uint64)
    c = shmring.Consumer.open(name, np.uint64)

    async def main():
        waiter = asyncio.ensure_future(c.pop_async())
        await asyncio.sleep(0)
        assert not waiter.done()
        p.push(99)
        assert await waiter == 99
        p.push_n(np.arange(5, dtype=np.uint64))
        assert [int(await c.pop_async()) for _ in range(5)] == list(range(5))
        p.close()
        with pytest.raises(shmring.ClosedError):
            await c.pop_async()

    asyncio.run(main())
    c.close()
