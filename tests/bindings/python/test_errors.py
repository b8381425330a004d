# Refusals through the binding and the error classes: every errc has a shmring.Error subclass whose `code` is
# its name.
import numpy as np
import pytest

import shmring

CODES = ["invalid_name", "invalid_argument", "not_found", "already_exists", "permission_denied", "not_ready",
         "bad_magic", "version_mismatch", "kind_mismatch", "element_mismatch", "capacity_mismatch",
         "layout_mismatch", "truncated", "already_attached", "peer_dead", "corrupted", "message_too_large",
         "type_mismatch", "system_error", "no_space", "not_a_segment", "closed", "inherited"]


def class_for(code):
    if code == "system_error":
        return shmring.SystemCallError
    return getattr(shmring, "".join(w.capitalize() for w in code.split("_")) + "Error")


def test_every_code_has_a_class():
    seen = set()
    for code in CODES:
        cls = class_for(code)
        assert issubclass(cls, shmring.Error) and cls.code == code
        seen.add(cls)
    assert len(seen) == len(CODES)
    assert shmring.Error.code is None and issubclass(shmring.Error, Exception)


def test_missing_name(name):
    for opener in (lambda: shmring.MessageConsumer.open(name), lambda: shmring.MessageProducer.open(name),
                   lambda: shmring.Consumer.open(name, np.uint64), lambda: shmring.Producer.open(name, np.uint64)):
        with pytest.raises(shmring.NotFoundError) as e:
            opener()
        assert e.value.code == "not_found" and name in str(e.value)


def test_second_producer_and_second_consumer(name):
    with shmring.MessageProducer.create(name, 4096), shmring.MessageConsumer.open(name):
        with pytest.raises(shmring.AlreadyAttachedError) as e:
            shmring.MessageProducer.open(name)
        assert e.value.code == "already_attached"
        with pytest.raises(shmring.AlreadyAttachedError):
            shmring.MessageConsumer.open(name)
        with pytest.raises(shmring.AlreadyExistsError):
            shmring.MessageProducer.create(name, 4096)


def test_second_typed_producer(name):
    with shmring.Producer.create(name, 64, np.uint64):
        with pytest.raises(shmring.AlreadyAttachedError):
            shmring.Producer.open(name, np.uint64)


def test_wrong_kind_and_bad_arguments(name):
    with shmring.MessageProducer.create(name, 4096):
        with pytest.raises(shmring.KindMismatchError):
            shmring.Consumer.open(name, np.uint64)
    with pytest.raises(shmring.InvalidNameError):
        shmring.MessageProducer.create("no/slashes", 4096)
    with pytest.raises(shmring.InvalidArgumentError):
        shmring.MessageProducer.create(name + "x", 1000)
    with pytest.raises(ValueError):
        shmring.MessageProducer.create(name + "x", 4096, wait="never")
    shmring.remove(name + "x")
