# MessageConsumer.read(): the payload is a read-only memoryview of the ring, valid until release() (or the end of
# the with block) and unusable after; nothing made from it may outlive the message.
import numpy as np
import pytest

import shmring


@pytest.fixture
def ring(name):
    p = shmring.MessageProducer.create(name, 1 << 16)
    c = shmring.MessageConsumer.open(name)
    yield p, c
    c.close()
    p.close()


def test_view_is_valid_until_release_and_raises_after(ring):
    p, c = ring
    p.send(b"in place", type=5, flags=2)
    v = c.read(timeout=10)
    mv = v.payload
    assert mv.readonly and bytes(mv) == b"in place" and len(v) == 8
    assert (v.type, v.flags, v.sequence) == (5, 2, 0)
    with pytest.raises(TypeError):
        mv[0] = 1  # read-only
    with pytest.raises(shmring.InvalidArgumentError):
        c.try_receive()  # the held message comes first
    v.release()
    assert v.released
    with pytest.raises(ValueError):
        bytes(mv)
    with pytest.raises(ValueError):
        v.payload
    assert v.sequence == 0  # the header fields stay
    v.release()  # twice is harmless
    assert c.try_receive() is None


def test_with_block_releases(ring):
    p, c = ring
    p.send(b"first")
    p.send(b"second")
    with c.read(timeout=10) as v:
        mv = v.payload
        assert bytes(mv[1:3]) == b"ir"
    with pytest.raises(ValueError):
        mv.tobytes()
    assert c.try_read().payload.tobytes() == b"second"  # dropped unreleased: freed with its last buffer
    assert c.try_read() is None


def test_buffers_made_from_the_payload_keep_the_message(ring):
    p, c = ring
    p.send(np.arange(8, dtype=np.uint64))
    p.send(b"sliced")
    p.send(b"next")
    v = c.read(timeout=10)
    arr = np.frombuffer(v.payload, dtype=np.uint64)
    with pytest.raises(BufferError):
        v.release()  # the array still reads the ring: the message stays
    assert not v.released and list(arr) == list(range(8))
    del arr
    v.release()
    assert v.released
    v = c.read(timeout=10)
    s = v.payload[1:3]
    with pytest.raises(BufferError):
        v.release()  # a slice of the payload still reads the ring
    assert bytes(s) == b"li"
    del s
    v.release()
    assert c.receive(timeout=10).payload == b"next"


def test_close_releases_a_held_message(ring):
    p, c = ring
    p.send(b"held")
    v = c.read(timeout=10)
    mv = v.payload
    c.close()
    assert v.released
    with pytest.raises(ValueError):
        bytes(mv)


def test_try_read_empty(ring):
    _, c = ring
    assert c.try_read() is None
    with pytest.raises(TimeoutError):
        c.read(timeout=0.01)
