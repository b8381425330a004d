# Shared by the Python binding's tests: which interpreter runs them (in the header of every run), and unique ring
# names whose segments are removed after each test, passed or failed.
import itertools
import os
import sys

import pytest

import shmring

_serial = itertools.count()


def pytest_report_header(config):
    return (f"shmring Python tests: interpreter {sys.executable} (Python {sys.version.split()[0]}), "
            f"module {shmring.__file__}")


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
