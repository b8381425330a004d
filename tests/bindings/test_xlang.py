# The cross-language driver (/work/xlang-spec.md's protocol): for every ordered pair of the peers available
# (Python always; C++ with SHMRING_XPEER_CPP, the path of shmring_xpeer; C# with SHMRING_XPEER_CS, the path of
# xpeer.exe, run with mono or SHMRING_MONO), a receiver and a sender in separate processes pass messages, u64 values
# and records through one ring, every item checked by the receiver. Each run has its own ring name, removed
# afterwards even on failure. SHMRING_XLANG_MESSAGES lowers the message count for a quick local run.
import itertools
import os
import subprocess
import sys
import time
import uuid

import pytest

import shmring

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_TIMEOUT = 600  # seconds a peer may take before the run is called hung (ASan/TSan builds are slow)


def peers():
    found = {"python": [sys.executable, os.path.join(HERE, "python", "xpeer.py")]}
    if os.environ.get("SHMRING_XPEER_CPP"):
        found["cpp"] = [os.environ["SHMRING_XPEER_CPP"]]
    if os.environ.get("SHMRING_XPEER_CS"):
        found["cs"] = [os.environ.get("SHMRING_MONO", "mono"), os.environ["SHMRING_XPEER_CS"]]
    return found


PEERS = peers()
COUNTS = {"messages": int(os.environ.get("SHMRING_XLANG_MESSAGES", "100000")), "u64": 1000000, "struct": 100000}
CASES = [(s, r, k) for (s, r), k in itertools.product(itertools.product(PEERS, PEERS), COUNTS)]


def run_pair(sender, receiver, kind, count, send_seed, recv_seed):
    """Starts the receiver, then the sender; returns both (returncode, stdout, stderr). A peer that is still
    running when the other failed, or after PEER_TIMEOUT, is killed (returncode -9)."""
    name = f"xl-{os.getpid()}-{sender}-{receiver}-{kind}-{uuid.uuid4().hex[:8]}"
    procs = []
    try:
        for who, role, seed in ((receiver, "recv", recv_seed), (sender, "send", send_seed)):
            cmd = PEERS[who] + ["--role", role, "--kind", kind, "--name", name, "--count", str(count),
                                "--seed", str(seed)]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        # Until both are done, or one failed (its peer might wait for it for ever: then it is killed).
        deadline = time.monotonic() + PEER_TIMEOUT
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            if any(p.returncode not in (None, 0) for p in procs):
                break
            try:
                next(p for p in procs if p.poll() is None).wait(timeout=0.2)
            except (subprocess.TimeoutExpired, StopIteration):
                pass
        for p in procs:
            if p.poll() is None:
                p.kill()
        return [(p.returncode,) + p.communicate() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shmring.remove(name)


@pytest.mark.parametrize("sender,receiver,kind", CASES, ids=[f"{s}->{r}-{k}" for s, r, k in CASES])
def test_pair(sender, receiver, kind):
    count = COUNTS[kind]
    seed = 0x5EED0000 + CASES.index((sender, receiver, kind))
    (rrc, rout, rerr), (src, sout, serr) = run_pair(sender, receiver, kind, count, seed, seed)
    assert rrc == 0, f"receiver ({receiver}) exited {rrc}: {rerr}"
    assert src == 0, f"sender ({sender}) exited {src}: {serr}"
    assert rout.strip().splitlines()[-1] == f"ok {count} {kind}"
    assert sout.strip().splitlines()[-1] == f"ok {count} {kind}"


@pytest.mark.parametrize("receiver", list(PEERS))
def test_receiver_reports_a_mismatch(receiver):
    # A receiver that expects another seed must find the first value wrong: the peers really compare.
    (rrc, _, rerr), _ = run_pair("python", receiver, "u64", 10, 1, 2)
    assert rrc == 1 and rerr.startswith("mismatch at 0:"), rerr
