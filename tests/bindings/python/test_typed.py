# Typed rings over numpy dtypes: scalars, structured dtypes mirroring a C struct, batches into numpy arrays, and
# the element checks against the segment.
import numpy as np
import pytest

import shmring

RECORD = np.dtype([("id", "<i4"), ("value", "<f8")], align=True)  # struct { int32_t id; double value; }


def test_u64_push_pop_and_batches(name):
    with shmring.Producer.create(name, 1024, np.uint64) as p, shmring.Consumer.open(name, np.uint64) as c:
        assert p.capacity == 1024 and c.dtype == np.dtype(np.uint64)
        p.push(2**64 - 1)
        assert p.try_push(np.uint64(7))
        p.push_n(np.arange(100, dtype=np.uint64))
        p.push_n([1, 2, 3])  # converted to the dtype
        assert c.pop(timeout=10) == 2**64 - 1
        assert c.try_pop() == 7
        got = c.pop_n(1000, timeout=10)
        assert got.dtype == np.uint64 and list(got) == list(range(100)) + [1, 2, 3]
        assert c.try_pop() is None
        assert len(c.try_pop_n(10)) == 0
        assert len(c.pop_n(10, timeout=0.01)) == 0
        with pytest.raises(TimeoutError):
            c.pop(timeout=0.01)
        assert p.pushed == 105 and c.popped == 105


def test_fill_then_drain_into(name):
    with shmring.Producer.create(name, 64, np.uint32) as p, shmring.Consumer.open(name, np.uint32) as c:
        assert p.try_push_n(np.arange(100, dtype=np.uint32)) == 64
        assert not p.try_push(1)
        out = np.zeros(50, dtype=np.uint32)
        assert c.pop_into(out, timeout=10) == 50
        assert list(out) == list(range(50))
        assert c.pop_into(out, timeout=10) == 14
        assert list(out[:14]) == list(range(50, 64))
        with pytest.raises(TypeError):
            c.pop_into(np.zeros(4, dtype=np.uint64))


@pytest.mark.parametrize("creator", ["producer", "consumer"])
def test_packed_slots_created_by_either_side(names, creator):
    # A ring created with slots="packed" (elements back to back) is opened by the other side with the defaults:
    # openers accept either format. The status shows the packed size: 8-byte slots, not 16.
    name = names()
    if creator == "producer":
        p = shmring.Producer.create(name, 64, np.uint64, slots="packed")
        c = shmring.Consumer.open(name, np.uint64)
    else:
        c = shmring.Consumer.create(name, 64, np.uint64, slots="packed")
        p = shmring.Producer.open(name, np.uint64)
    with p, c:
        assert p.try_push_n(np.arange(1000, 1100, dtype=np.uint64)) == 64
        assert not p.try_push(1)
        assert list(c.pop_n(64, timeout=10)) == list(range(1000, 1064))
        p.push_n(np.arange(7, dtype=np.uint64))
        assert [c.pop(timeout=10) for _ in range(7)] == list(range(7))
        turn = shmring.Producer.create(names("turn"), 64, np.uint64)
        with turn:
            assert p.status()["segment_size"] + 64 * 8 == turn.status()["segment_size"]


def test_slots_must_be_turn_or_packed(name):
    with pytest.raises(ValueError, match="turn"):
        shmring.Producer.create(name, 64, np.uint64, slots="dense")


def test_structured_record(name):
    with shmring.Producer.create(name, 256, RECORD, type_name="xlang.record/v1") as p, \
            shmring.Consumer.open(name, RECORD, type_name="xlang.record/v1") as c:
        assert c.type_name == "xlang.record/v1" and p.status()["element_size"] == 16
        assert p.status()["element_align"] == 8
        p.push((1, 0.5))
        p.push(np.array((2, 1.0), dtype=RECORD)[()])
        batch = np.zeros(10, dtype=RECORD)
        batch["id"] = np.arange(3, 13)
        batch["value"] = np.arange(3, 13) * 0.5
        p.push_n(batch)
        r = c.pop(timeout=10)
        assert (int(r["id"]), float(r["value"])) == (1, 0.5)
        r = c.try_pop()
        assert (int(r["id"]), float(r["value"])) == (2, 1.0)
        got = c.pop_n(100, timeout=10)
        assert got.dtype == RECORD and list(got["id"]) == list(range(3, 13))
        assert list(got["value"]) == [k * 0.5 for k in range(3, 13)]


def test_element_checks_refuse_other_dtypes(name):
    with shmring.Producer.create(name, 64, RECORD, type_name="xlang.record/v1"):
        packed = np.dtype([("id", "<i4"), ("value", "<f8")])  # no align=True: 12 bytes, alignment 1
        with pytest.raises(shmring.ElementMismatchError) as e:
            shmring.Consumer.open(name, packed)
        assert e.value.code == "element_mismatch" and "size is 16 in the segment, 12" in str(e.value)
        with pytest.raises(shmring.ElementMismatchError) as e:
            shmring.Consumer.open(name, RECORD, type_name="xlang.record/v2")
        assert '"xlang.record/v1" in the segment' in str(e.value)
    with shmring.Producer.create(name + "b", 64, np.uint64) as p:
        with pytest.raises(shmring.ElementMismatchError):
            shmring.Consumer.open(name + "b", np.uint32)
        with shmring.Consumer.open(name + "b", np.uint64, type_name="any/v1"):
            pass  # a name on one side only: size and alignment decide, as in C++
        p.close()
    shmring.remove(name + "b")


def test_dtypes_that_cannot_be_shared(name):
    with pytest.raises(TypeError):
        shmring.Producer.create(name, 64, object)
    with pytest.raises(TypeError):
        shmring.Producer.create(name, 64, np.dtype(">u8"))  # not this machine's byte order
    with pytest.raises(shmring.InvalidArgumentError):
        shmring.Producer.create(name, 100, np.uint64)  # not a power of two


def test_closed_stream_ends_with_closed_error(name):
    p = shmring.Producer.create(name, 64, np.int16)
    c = shmring.Consumer.open(name, np.int16)
    p.push_n(np.array([-1, -2], dtype=np.int16))
    p.close()
    assert list(c.pop_n(10, timeout=10)) == [-1, -2]
    with pytest.raises(shmring.ClosedError):
        c.pop()
    c.close()
