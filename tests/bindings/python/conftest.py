# Shared by the Python binding's tests: unique ring names whose segments are removed after each test, passed or
# failed. (../conftest.py names the interpreter in the header of every run.)
import itertools
import os

import pytest

import shmring

_serial = itertools.count()


@pytest.fixture
def names():
    """make_name(tag) -> a ring name no other test or run uses; every such segment is removed afterwards."""
    made = []

    def make_name(tag="ring"):
        name = f"pyt-{os.getpid()}-{next(_serial)}-{tag}"
        shmring.remove(name)
        made.append(name)
        return name

    yield make_name
    for name in made:
        shmring.remove(name)


@pytest.fixture
def name(names):
    return names()
