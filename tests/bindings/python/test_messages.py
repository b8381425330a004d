# Message rings through the Python module, in one process: what goes in comes out (payload, type, flags,
# sequence), from any buffer; try_ calls; strings and typed values; status(); close().
import array
import zlib

import numpy as np
import pytest

import shmring


def pattern(i, size):
    return bytes((j * 7 + i * 131) & 0xFF for j in range(size))


def test_round_trip_every_field(name):
    with shmring.MessageProducer.create(name, 1 << 16) as p, shmring.MessageConsumer.open(name) as c:
        sizes = [0, 1, 7, 8, 9, 100, 1000, 20000]
        for i, size in enumerate(sizes):
            p.send(pattern(i, size), type=1000 + i, flags=i & 7)
        for i, size in enumerate(sizes):
            m = c.receive(timeout=10)
            assert m.sequence == i
            assert m.type == 1000 + i
            assert m.flags == i & 7
            assert len(m) == size
            assert zlib.crc32(m.payload) == zlib.crc32(pattern(i, size))
            assert m.timestamp_ns > 0
        assert c.try_receive() is None
        assert p.sent == len(sizes) and c.received == len(sizes)


def test_send_takes_any_buffer(name):
    with shmring.MessageProducer.create(name, 1 << 16) as p, shmring.MessageConsumer.open(name) as c:
        inputs = [b"bytes", bytearray(b"bytearray"), memoryview(b"xmemoryviewx")[1:-1],
                  np.arange(4, dtype=np.uint16), array.array("i", [1, 2, 3])]
        for x in inputs:
            p.send(x)
        for x in inputs:
            assert c.receive(timeout=10).payload == bytes(memoryview(x))
        with pytest.raises(TypeError):
            p.send("a str is not bytes")
        with pytest.raises((BufferError, ValueError)):  # numpy raises ValueError, memoryview BufferError
            p.send(np.arange(8, dtype=np.uint8)[::2])  # not contiguous
        with pytest.raises((BufferError, ValueError)):
            p.send(memoryview(b"abcdef")[::2])
        with pytest.raises(ValueError):
            p.send(b"x", flags=256)


def test_try_send_until_full_then_drain(name):
    with shmring.MessageProducer.create(name, 4096) as p, shmring.MessageConsumer.open(name) as c:
        sent = 0
        while p.try_send(sent.to_bytes(8, "little") * 8):
            sent += 1
        assert 0 < sent < 4096 // 64
        for i in range(sent):
            m = c.try_receive()
            assert m.sequence == i and m.payload == i.to_bytes(8, "little") * 8
        assert c.try_receive() is None
        assert p.try_send(b"again")
        with pytest.raises(shmring.MessageTooLargeError) as e:
            p.try_send(bytes(p.max_try_send + 1))
        assert e.value.code == "message_too_large"


def test_fragmented_message_larger_than_the_ring(name):
    # send() streams a message larger than the ring while another thread receives it.
    import threading
    big = bytes(range(256)) * 4096  # 1 MiB through a 64 KiB ring
    with shmring.MessageProducer.create(name, 1 << 16) as p, shmring.MessageConsumer.open(name) as c:
        got = []
        t = threading.Thread(target=lambda: got.append(c.receive(timeout=60)))
        t.start()
        p.send(big, type=9)
        t.join()
        assert got[0].type == 9 and zlib.crc32(got[0].payload) == zlib.crc32(big) and len(got[0]) == len(big)


def test_strings_and_typed_values(name):
    rec = np.dtype([("id", "<i4"), ("value", "<f8")], align=True)
    with shmring.create_producer(name, 1 << 16) as p, shmring.create_consumer(name, 1 << 16) as c:
        p.send_string("héllo, wörld")
        p.send_typed(np.uint64(2**64 - 1))
        p.send_typed(np.array((7, 2.5), dtype=rec)[()])
        p.send_typed((8, 3.5), dtype=rec)
        p.send(b"\xff\xfe")
        p.send(b"12345")
        assert c.receive_string(timeout=10) == "héllo, wörld"
        assert c.receive_typed(np.uint64) == 2**64 - 1
        r = c.receive_typed(rec)
        assert (int(r["id"]), float(r["value"])) == (7, 2.5)
        r = c.receive_typed(rec)
        assert (int(r["id"]), float(r["value"])) == (8, 3.5)
        with pytest.raises(UnicodeDecodeError):
            c.receive_string(timeout=10)
        assert c.receive().payload == b"\xff\xfe"  # it stayed in the ring
        with pytest.raises(shmring.TypeMismatchError):
            c.receive_typed(np.uint64, timeout=10)
        assert c.receive().payload == b"12345"
        p.dispose()
        c.dispose()


def test_receive_timeout_and_close(name):
    p = shmring.MessageProducer.create(name, 4096)
    c = shmring.MessageConsumer.open(name)
    with pytest.raises(TimeoutError):
        c.receive(timeout=0)
    with pytest.raises(TimeoutError):
        c.receive(timeout=0.01)
    with pytest.raises(ValueError):
        c.receive(timeout=-1)
    p.send(b"last")
    assert c.producer_state == "alive"
    p.close()
    assert p.closed
    with pytest.raises(shmring.ClosedError):
        p.send(b"after close")
    assert c.receive(timeout=10).payload == b"last"
    with pytest.raises(shmring.ClosedError) as e:
        c.receive()
    assert e.value.code == "closed"
    c.close()
    with pytest.raises(shmring.ClosedError):
        c.try_receive()


def test_status_and_remove(name):
    with shmring.MessageProducer.create(name, 4096) as p, shmring.MessageConsumer.open(name) as c:
        p.send(b"x" * 10)
        s = p.status()
        assert s["kind"] == "message" and s["capacity"] == 4096 and s["name"] == name
        assert s["producer"]["alive"] and s["consumer"]["alive"]
        assert s["producer"]["messages"] == 1 and s["producer"]["bytes"] == 10
        assert shmring.status(name)["messages_in_ring"] == 1
        assert c.status()["next_sequence"] == 1
    assert shmring.remove(name) in (True, False)  # removed when both left and it was empty, or now
    assert not shmring.remove(name)
    with pytest.raises(shmring.NotFoundError):
        shmring.status(name)
