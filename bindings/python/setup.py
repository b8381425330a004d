# Builds the module `shmring` for `pip install` with pybind11's setup helpers, from the same sources as CMake
# (sources.cmake) and the headers of this checkout (../../include).
import os
import re

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = os.path.normpath(os.path.join(HERE, "..", "..", "include"))


def sources():
    with open(os.path.join(HERE, "sources.cmake")) as f:
        text = f.read()
    block = re.search(r"set\(SHMRING_PYTHON_SOURCES(.*?)\)", text, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


if not os.path.isfile(os.path.join(INCLUDE, "shmring", "shmring.hpp")):
    raise SystemExit(f"shmring: the C++ headers are not at {INCLUDE}: install from a shmring checkout")

setup(
    ext_modules=[Pybind11Extension("shmring", sources(), include_dirs=[INCLUDE], cxx_std=20,
                                   libraries=["rt"], extra_compile_args=["-O2"])],
    cmdclass={"build_ext": build_ext},
)
