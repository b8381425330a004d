#!/usr/bin/env python3
"""Checks that `pip install --no-build-isolation bindings/python` really installs a working module: builds a copy of
the checkout's bindings/python and include/ (so the checkout stays clean) into a --target directory with this
interpreter's pip, setuptools and pybind11 (Debian: python3-pip python3-setuptools python3-pybind11), then imports
it from there in a fresh interpreter and passes a message and a typed value through it.

Usage: pip_install.py <checkout>"""
import os
import shutil
import subprocess
import sys
import tempfile

CHECK = r"""
import os, sys, numpy as np, shmring
assert os.path.dirname(shmring.__file__) == sys.argv[1], shmring.__file__
name = f"pip-install-{os.getpid()}"
shmring.remove(name)
try:
    with shmring.MessageProducer.create(name, 4096) as p, shmring.MessageConsumer.open(name) as c:
        p.send_string("installed")
        assert c.receive_string(timeout=10) == "installed"
finally:
    shmring.remove(name)
try:
    with shmring.Producer.create(name, 8, np.uint64) as p, shmring.Consumer.open(name, np.uint64) as c:
        p.push(42)
        assert c.pop(timeout=10) == 42
finally:
    shmring.remove(name)
print("imported and used from", shmring.__file__)
"""


def main():
    checkout = os.path.abspath(sys.argv[1])
    print(f"interpreter {sys.executable} (Python {sys.version.split()[0]})", flush=True)
    with tempfile.TemporaryDirectory(prefix="shmring-pip-") as tmp:
        src = os.path.join(tmp, "src")
        shutil.copytree(os.path.join(checkout, "include"), os.path.join(src, "include"))
        shutil.copytree(os.path.join(checkout, "bindings", "python"), os.path.join(src, "bindings", "python"),
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        target = os.path.join(tmp, "site")
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                        "--target", target, os.path.join(src, "bindings", "python")], check=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = target
        subprocess.run([sys.executable, "-c", CHECK, target], check=True, env=env, cwd=tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
