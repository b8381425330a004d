#!/usr/bin/env python3
"""The shmring tool against live rings, parsing its --json output.

usage: tool_test.py <shmring tool> <tool_fixture>

Proves:
  - stat/list report what the rings hold: kind, element size, capacity, elements and bytes in the ring, usage,
    each side's state, liveness, pid and counters (typed rings, and message rings when the fixture has them);
  - list, stat and watch only read: the segment's bytes are identical before and after, nobody's attach count moves;
  - watch's samples follow the ring: each rate equals the counter delta over the time between samples, and the
    counters end exactly where the fixture says it moved them;
  - a killed ring shows its sides dead and looks stale; `gc --dry-run` lists it, `gc NAME` removes it, a live ring
    is left alone; `remove` refuses a ring with a live side (naming it and its pid) unless --force, and removes
    a ring without one; `gc NAME` of a name that does not exist fails; errors are JSON on stdout with exit status 1;
  - watch labels its units (elements/s or msgs/s, MB/s), ends with exit 0 and no message when its ring ends
    normally (drained, both sides detached, removed), and with exit 1 and a message when it is removed otherwise;
  - list and stat show each ring's owner (this user's name), age (from created_ns) and segment size (the file's);
  - an unready segment is listed as unreadable (not_ready); usage errors exit 2; --help exits 0;
  - dump replays a message ring without consuming it: --from tail gives what the consumer has not received,
    --from oldest everything still intact, --from INDEX (an earlier dump's index field) starts exactly there and
    an index inside a record is refused (exit 1, invalid_argument); --max stops early; every message's sequence,
    flags and payload are checked; the segment's bytes are identical before and after; a typed ring is refused;
    dump --follow prints messages as they are sent and ends (exit 0) once the producer has detached;
  - a FIFO under a ring's name is listed (KIND fifo, not_a_segment) without blocking, and stat, remove --force
    and gc refuse it and leave it.
Synchronisation is by events only: the fixture's "ready"/"moved" lines and the tool's streamed samples.
"""
import json
import os
import pwd
import signal
import stat
import subprocess
import sys
import time

TOOL, FIXTURE = sys.argv[1], sys.argv[2]
TAG = f"tooltest-{os.getpid()}"
made = []        # segment names to remove at the end, pass or fail
processes = []   # fixtures to kill at the end
failures = []


def shm(name):
    return "/dev/shm/shmring-" + name


def name(what):
    n = f"{TAG}-{what}"
    made.append(n)
    return n


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAILED:", what, file=sys.stderr)


def tool(*args, rc=0):
    p = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=60)
    check(p.returncode == rc, f"shmring {' '.join(args)}: exit {p.returncode}, expected {rc}; stderr: {p.stderr}")
    return p


def tool_json(*args, rc=0):
    p = tool(*args, "--json", rc=rc)
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError as e:
        check(False, f"shmring {' '.join(args)} --json: not JSON ({e}): {p.stdout!r}")
        return {}


def fixture(*args):
    p = subprocess.Popen([FIXTURE, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    processes.append(p)
    line = p.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"fixture {args} did not start: {line!r}, exit {p.wait()}")
    return p


def finish(p):
    """Closes the fixture's stdin: it detaches cleanly and exits 0."""
    p.stdin.close()
    check(p.wait(timeout=60) == 0, f"fixture {p.args} exited {p.returncode}")


def segment_bytes(n):
    with open(shm(n), "rb") as f:
        return f.read()


def ring_in_list(listing, n):
    found = [r for r in listing.get("rings", []) if r["name"] == n]
    check(len(found) == 1, f"list shows {n} once")
    return found[0] if found else {}


def test_usage():
    p = tool("--help")
    for word in ("list", "stat", "watch", "dump", "--from", "--max", "oldest", "remove", "gc", "--json", "--interval", "--count", "--dry-run", "--force",
                 "owner", "age", "bytes", "elements/s", "msgs/s", "MB/s", "/dev/shm/shmring-", "ipcs"):
        check(word in p.stdout, f"--help mentions {word}")
    tool("frobnicate", rc=2)
    tool("stat", rc=2)
    tool("watch", "x", "--interval", "soon", rc=2)
    tool("--no-such-option", rc=2)
    check("shmring" in tool("--version").stdout, "--version")


def test_typed_ring():
    n = name("typed")
    prod = fixture("producer", n, "64", "10")
    s = tool_json("stat", n)
    check(s.get("kind") == "typed", "kind typed")
    check(s.get("capacity") == 64 and s.get("element_size") == 8 and s.get("element_align") == 8, "geometry")
    check(s.get("messages_in_ring") == 10 and s.get("bytes_used") == 80, "10 elements, 80 bytes in the ring")
    check(abs(s.get("usage_percent", -1) - 15.625) < 0.01, "usage 15.6%")
    check(s.get("consistent") is True and s.get("head") - s.get("tail") == 10, "indices")
    pr, co = s.get("producer", {}), s.get("consumer", {})
    check(pr.get("state") == "attached" and pr.get("alive") is True and pr.get("dead") is False, "producer alive")
    check(pr.get("pid") == prod.pid and pr.get("attach_count") == 1 and pr.get("messages") == 10, "producer details")
    check(co.get("state") == "never" and co.get("alive") is False, "no consumer yet")
    check(s.get("looks_stale") is False, "not stale")

    cons = fixture("consumer", n, "4")
    s = tool_json("stat", n)
    check(s.get("messages_in_ring") == 6, "6 left after 4 popped")
    check(s["consumer"]["alive"] is True and s["consumer"]["pid"] == cons.pid and s["consumer"]["messages"] == 4,
          "consumer alive with 4 received")
    human = tool("stat", n).stdout
    check(n in human and "typed ring" in human and "alive" in human, "human stat output")

    # Read-only: the sides are idle (blocked on their stdin); list, stat and watch change no byte of the segment.
    before = segment_bytes(n)
    listing = tool_json("list")
    r = ring_in_list(listing, n)
    check(r.get("messages_in_ring") == 6 and r.get("producer", {}).get("alive") is True, "list agrees with stat")
    check(n in tool("list").stdout, "human list shows the ring")
    tool("stat", n)
    tool("watch", n, "--interval", "10", "--count", "3")
    tool("watch", n, "--interval", "10", "--count", "2", "--json")
    check(segment_bytes(n) == before, "list/stat/watch did not change a byte of the segment")

    finish(cons)
    finish(prod)
    # The producer detached last with 6 elements still in the ring: the segment stays for a future consumer.
    check(os.path.exists(shm(n)), "a ring with data stays after both sides detached")
    s = tool_json("stat", n)
    check(s["producer"]["state"] == "detached" and s["consumer"]["state"] == "detached", "both detached")
    check(s.get("looks_stale") is False, "cleanly detached is not stale")
    out = tool_json("remove", n)
    check(out == {"name": n, "removed": True}, "remove says removed")
    check(not os.path.exists(shm(n)), "remove removed the name")
    err = tool_json("remove", n, rc=1)
    check(err.get("error") == "not_found" and err.get("name") == n, "remove again: not_found as JSON")
    err = tool_json("stat", n, rc=1)
    check(err.get("error") == "not_found", "stat of a removed ring: not_found as JSON")


def test_watch_follows_the_ring():
    n = name("watch")
    mover = fixture("mover", n, "1024")
    moved = 50000
    w = subprocess.Popen([TOOL, "watch", n, "--interval", "50", "--json"], stdout=subprocess.PIPE, text=True)
    processes.append(w)
    samples = [json.loads(w.stdout.readline())]
    mover.stdin.write(f"move {moved}\n")
    mover.stdin.flush()
    check(mover.stdout.readline().strip() == "moved", "the fixture moved its values")
    # Read samples until one shows everything the fixture moved (a hang guard bounds the loop).
    for _ in range(2000):
        samples.append(json.loads(w.stdout.readline()))
        if samples[-1]["status"]["consumer"]["messages"] == moved:
            break
    w.kill()
    w.wait()
    check(samples[0]["sample"] == 1 and samples[0]["rates"] is None, "the first sample has no rates")
    check([s["sample"] for s in samples] == list(range(1, len(samples) + 1)), "samples are numbered")
    last = samples[-1]["status"]
    check(last["producer"]["messages"] == moved and last["consumer"]["messages"] == moved, "the counters end at N")
    check(last["producer"]["bytes"] == 8 * moved, "bytes sent")
    check(samples[0]["status"]["producer"]["messages"] == 0, "the first sample came before the move")
    for a, b in zip(samples, samples[1:]):
        dt = b["t"] - a["t"]  # both rounded to 0.01 s: allow that
        for rate, side in (("sent_per_s", "producer"), ("received_per_s", "consumer")):
            delta = b["status"][side]["messages"] - a["status"][side]["messages"]
            got = b["rates"][rate]
            check(delta >= 0, "counters only grow")
            if dt > 0:
                check(abs(got * dt - delta) <= 0.05 * max(delta, got * dt) + 0.011 * got + 1,
                      f"sample {b['sample']}: {rate} {got} matches {delta} over {dt:.2f} s")
    check(sum(1 for s in samples[1:] if s["rates"]["sent_per_s"] > 0) >= 1, "some sample saw the values move")
    finish(mover)
    check(not os.path.exists(shm(n)), "a drained ring whose sides detached is removed")


def start_watch(n, *args):
    """Starts `shmring watch n` and returns it with the lines up to its first sample: it has seen the ring."""
    w = subprocess.Popen([TOOL, "watch", n, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    processes.append(w)
    lines = [w.stdout.readline() for _ in range(1 if "--json" in args else 3)]  # (heading, columns,) sample 1
    return w, lines


def wait_exit(p, what):
    """Waits for p to exit (the timeout is a hang guard, not a timing check); returns (exit status, stdout, stderr)."""
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        check(False, f"{what}: still running after 60 s")
    return p.returncode, out, err


def test_watch_ends_quietly_after_a_normal_end():
    n = name("watch-end")
    mover = fixture("mover", n, "1024")
    w, first = start_watch(n, "--interval", "20")
    check(f"alive({mover.pid})" in first[2], f"watch's first sample shows the live ring: {first!r}")
    mover.stdin.write("move 1000\n")
    mover.stdin.flush()
    check(mover.stdout.readline().strip() == "moved", "the fixture moved its values")
    finish(mover)  # both sides detach cleanly; the drained ring is removed by the last one
    check(not os.path.exists(shm(n)), "the drained ring was removed")
    rc, out, err = wait_exit(w, "watch of a ring that ended normally")
    check(rc == 0, f"watch exits 0 after a normal end, got {rc}")
    check(err == "", f"watch ends quietly after a normal end, stderr: {err!r}")
    # The same with --json: no error object after the samples.
    mover = fixture("mover", n, "1024")
    w, first = start_watch(n, "--interval", "20", "--json")
    check(json.loads(first[0])["status"]["producer"]["pid"] == mover.pid, "the JSON watch saw the ring")
    finish(mover)
    rc, out, err = wait_exit(w, "watch --json of a ring that ended normally")
    check(rc == 0 and err == "", f"watch --json exits 0 quietly after a normal end: {rc}, {err!r}")
    check(all("error" not in json.loads(line) for line in out.splitlines()), "no error object in the JSON stream")


def test_watch_fails_when_a_ring_disappears_otherwise():
    tool("watch", name("never-made"), "--count", "1", rc=1)  # a ring never seen: not_found, as before
    # Removed under a live producer.
    n = name("watch-gone")
    prod = fixture("producer", n, "64", "3")
    w, first = start_watch(n, "--interval", "20")
    tool("remove", n, "--force")
    rc, out, err = wait_exit(w, "watch of a ring removed under a live producer")
    check(rc == 1, f"watch exits 1 when the ring is removed under a live side, got {rc}")
    check("not_found" in err and "producer" in err and f"pid {prod.pid}" in err and "still attached" in err,
          f"watch says which side was still attached: {err!r}")
    finish(prod)
    # Removed with data in it after both sides detached (the ring was not drained): also not a normal end.
    prod = fixture("producer", n, "64", "3")
    finish(prod)
    check(os.path.exists(shm(n)), "a ring with data stays after its producer detached")
    w, first = start_watch(n, "--interval", "20", "--json")
    os.unlink(shm(n))
    rc, out, err = wait_exit(w, "watch of a ring removed with data in it")
    check(rc == 1 and "3 elements" in err and "still in it" in err, f"watch says data was left: {rc}, {err!r}")
    errors = [json.loads(line) for line in out.splitlines() if "error" in json.loads(line)]
    check(len(errors) == 1 and errors[0]["error"] == "not_found" and errors[0]["name"] == n,
          f"watch --json ends with an error object: {out!r}")


def test_watch_units():
    n = name("watch-units")
    prod = fixture("producer", n, "64", "3")
    out = tool("watch", n, "--interval", "10", "--count", "2").stdout
    lines = out.splitlines()
    check(len(lines) == 4, f"a heading, the column names and 2 samples: {out!r}")
    check("typed ring of 8-byte elements" in lines[0] and "elements/s" in lines[0] and "MB/s" in lines[0]
          and "10^6 bytes" in lines[0], f"the heading states the units: {lines[0]!r}")
    for col in ("SENT elements/s", "RECV elements/s", "SENT MB/s", "RECV MB/s", "FULL/s", "EMPTY/s"):
        check(col in lines[1], f"column {col} in {lines[1]!r}")
    check("msgs/s" not in out, "a typed ring is not measured in messages")
    out = tool("watch", n, "--interval", "10", "--count", "2", "--json").stdout
    samples = [json.loads(line) for line in out.splitlines()]
    check([s.get("unit") for s in samples] == ["elements", "elements"], "JSON samples say their unit")
    finish(prod)


def test_remove_refuses_a_live_side():
    n = name("remove-live")
    prod = fixture("producer", n, "64", "3")
    p = tool("remove", n, rc=1)
    check("already_attached" in p.stderr and "producer" in p.stderr and f"pid {prod.pid}" in p.stderr
          and "--force" in p.stderr, f"remove says which live side refused it: {p.stderr!r}")
    check(os.path.exists(shm(n)), "a refused remove removed nothing")
    err = tool_json("remove", n, rc=1)
    check(err.get("error") == "already_attached" and err.get("name") == n and str(prod.pid) in err.get("message", ""),
          f"remove --json refuses with an error object: {err}")
    # Only the consumer alive: the producer detached, leaving data, so the ring stays.
    cons = fixture("consumer", n, "1")
    finish(prod)
    p = tool("remove", n, rc=1)
    check("consumer" in p.stderr and f"pid {cons.pid}" in p.stderr and "producer" not in p.stderr,
          f"remove names the live consumer only: {p.stderr!r}")
    check(os.path.exists(shm(n)), "still there")
    p = tool("remove", n, "--force")
    check(not os.path.exists(shm(n)), "remove --force removed the name of a ring with a live side")
    check(f"pid {cons.pid}" in p.stdout, f"remove --force says who was still attached: {p.stdout!r}")
    finish(cons)  # the consumer still had its mapping and detaches cleanly
    tool("list", "--force", rc=2)  # --force is remove's only


def test_dead_ring_and_gc():
    n = name("dead")
    live = name("live")
    prod = fixture("producer", n, "16", "3")
    cons = fixture("consumer", n, "1")
    keep = fixture("producer", live, "16", "1")
    for p in (prod, cons):
        p.send_signal(signal.SIGKILL)
        p.wait()
    s = tool_json("stat", n)
    check(s["producer"]["dead"] is True and s["consumer"]["dead"] is True, "both sides dead")
    check(s["producer"]["alive"] is False and s.get("looks_stale") is True, "looks stale")
    check(s.get("messages_in_ring") == 2, "2 elements left in the dead ring")
    check("DEAD" in tool("stat", n).stdout, "human stat says DEAD")
    check("(stale)" in tool("list").stdout, "human list marks it stale")
    dry = tool_json("gc", "--dry-run")
    check(n in dry.get("stale", []) and live not in dry.get("stale", []), "gc --dry-run lists only the dead ring")
    check(os.path.exists(shm(n)), "--dry-run removed nothing")
    out = tool_json("gc", live)
    check(out == {"removed": [], "errors": []}, "gc leaves a live ring alone")
    out = tool_json("gc", n)
    check(out == {"removed": [n], "errors": []}, "gc removes the dead ring")
    check(not os.path.exists(shm(n)), "the dead ring's name is gone")
    check(os.path.exists(shm(live)), "the live ring is still there")
    finish(keep)


def test_gc_of_a_missing_name():
    n = name("never-there")
    p = tool("gc", n, rc=1)
    check(n in p.stderr and "not_found" in p.stderr and "no segment of that name" in p.stderr,
          f"gc of a missing name says so: {p.stderr!r}")
    check("no stale rings" not in p.stdout, f"gc of a missing name does not say nothing was stale: {p.stdout!r}")
    out = tool_json("gc", n, rc=1)
    check(out.get("removed") == [] and [e.get("error") for e in out.get("errors", [])] == ["not_found"]
          and out["errors"][0].get("name") == n, f"gc --json of a missing name: {out}")
    tool("gc", "--dry-run", n, rc=1)
    # One missing name among existing ones still fails, and the others are still judged.
    live = name("gc-live")
    keep = fixture("producer", live, "16", "1")
    out = tool_json("gc", live, n, rc=1)
    check(out.get("removed") == [] and [e.get("name") for e in out.get("errors", [])] == [n],
          f"gc of a live and a missing name: {out}")
    check(os.path.exists(shm(live)), "gc left the live ring alone")
    finish(keep)
    # Without a name gc judges every ring and names none as an error. (--dry-run only: a real sweep would remove
    # the stale rings other tests on this machine make on purpose.)
    check(tool_json("gc", "--dry-run").get("errors") == [], "gc --dry-run without a name: no errors")


def my_user_name():
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def human_bytes(b):
    """As the tool writes segment sizes: "576 B", "8.6 KiB", "1.0 MiB"."""
    if b < 1024:
        return f"{b} B"
    v, units = b / 1024, ["KiB", "MiB", "GiB", "TiB", "PiB"]
    u = 0
    while v >= 1024 and u + 1 < len(units):
        v, u = v / 1024, u + 1
    return f"{v:.1f} {units[u]}"


def human_age(s):
    return f"{s}s" if s < 60 else f"{s // 60}m" if s < 3600 else f"{s // 3600}h" if s < 86400 else f"{s // 86400}d"


def test_list_owner_age_bytes():
    n = name("list-columns")
    prod = fixture("producer", n, "1024", "7")
    st = tool_json("stat", n)
    size = os.stat(shm(n)).st_size
    created = st.get("created_ns", 0)
    check(st.get("segment_size") == size, f"status's segment size {st.get('segment_size')} is the file's {size}")
    # The age is whole seconds since created_ns, read between these two clock readings (no timing assumed).
    before = time.time_ns()
    r = ring_in_list(tool_json("list"), n)
    after = time.time_ns()
    ages = range((before - created) // 10**9, (after - created) // 10**9 + 1)
    check(r.get("owner") == my_user_name() and r.get("creator_uid") == os.getuid() == os.stat(shm(n)).st_uid,
          f"list --json owner {r.get('owner')!r} is this user {my_user_name()!r}")
    check(r.get("age_s") in ages and r.get("age") == human_age(r.get("age_s", -1)),
          f"list --json age {r.get('age_s')} s / {r.get('age')!r}, expected one of {list(ages)}")
    check(r.get("segment_size") == size and r.get("segment_size_human") == human_bytes(size),
          f"list --json bytes {r.get('segment_size')} / {r.get('segment_size_human')!r}, expected {size}")
    check(st.get("owner") == my_user_name() and st.get("segment_size_human") == human_bytes(size) and "age_s" in st,
          "stat --json has the same fields")
    before = time.time_ns()
    out = tool("list").stdout
    after = time.time_ns()
    ages = range((before - created) // 10**9, (after - created) // 10**9 + 1)
    lines = out.splitlines()
    heading = lines[0].split() if lines else []
    check(heading[:7] == ["NAME", "OWNER", "AGE", "KIND", "ELEM", "CAPACITY", "BYTES"], f"list columns: {heading}")
    mine = [line.split() for line in lines[1:] if line.split()[:1] == [n]]
    check(len(mine) == 1, f"human list shows {n} once")
    f = mine[0] if mine else [""] * 12
    check(f[1] == my_user_name(), f"human list owner {f[1]!r}")
    check(f[2] in [human_age(a) for a in ages], f"human list age {f[2]!r}, expected one of {list(ages)} s")
    check(f[3:6] == ["typed", "8", "1024"] and " ".join(f[6:8]) == human_bytes(size),
          f"human list kind, geometry and bytes {f[3:8]}, expected {human_bytes(size)!r}")
    human = tool("stat", n).stdout
    check(f"owner {my_user_name()} (uid {os.getuid()})" in human and human_bytes(size) in human, "human stat owner")
    finish(prod)


def test_unreadable_and_message_rings():
    n = name("unready")
    fd = os.open(shm(n), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)  # a creator that died before sizing it
    os.close(fd)
    listing = tool_json("list")
    bad = [u for u in listing.get("unreadable", []) if u["name"] == n]
    check(len(bad) == 1 and bad[0]["error"] == "not_ready", "an unready segment is listed as not_ready")
    check(bad[:1] and bad[0].get("owner") == my_user_name() and bad[0].get("file_size") == 0,
          f"an unready segment's owner and size come from its file: {bad}")
    err = tool_json("stat", n, rc=1)
    check(err.get("error") == "not_ready", "stat of an unready segment: not_ready")

    m = name("message")
    try:
        prod = fixture("message", m, "4096", "5")
    except RuntimeError as e:
        print("SKIPPED (message rings):", e, file=sys.stderr)
        return
    s = tool_json("stat", m)
    check(s.get("kind") == "message" and s.get("capacity") == 4096 and s.get("element_size") == 1, "message ring")
    check(s.get("messages_in_ring") == 5 and s["producer"]["messages"] == 5, "5 messages in the ring")
    check(s["producer"]["bytes"] == sum(len(f"hello {i}") for i in range(5)), "payload bytes sent")
    check(s.get("bytes_used", 0) > s["producer"]["bytes"], "framing included in bytes used")
    check(ring_in_list(tool_json("list"), m).get("kind") == "message", "list shows the message ring")
    out = tool("watch", m, "--interval", "10", "--count", "2").stdout
    check("message ring" in out and "SENT msgs/s" in out and "RECV msgs/s" in out and "MB/s" in out
          and "elements/s" not in out, f"watch of a message ring counts msgs/s: {out!r}")
    check(json.loads(tool("watch", m, "--count", "1", "--json").stdout).get("unit") == "messages", "JSON unit")
    finish(prod)


def dump_json(*args, rc=0):
    p = tool("dump", *args, "--json", rc=rc)
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return lines[:-1], (lines[-1] if lines else {})


def test_dump():
    m = name("dump")
    try:
        prod = fixture("replayable", m, "65536", "10", "4")
    except RuntimeError as e:
        print("SKIPPED (dump):", e, file=sys.stderr)
        return
    before = segment_bytes(m)
    msgs, end = dump_json(m)
    check([x["sequence"] for x in msgs] == list(range(4, 10)), f"--from tail: messages 4..9: {msgs}")
    check(end.get("end") == "end" and end.get("messages") == 6, f"--from tail ends at the head: {end}")
    for x in msgs:
        i = x["sequence"]
        check(bytes.fromhex(x["payload_hex"]) == f"hello {i}".encode() and x["length"] == len(f"hello {i}"),
              f"message {i}'s payload")
        check(x["flags"] == ("urgent" if i % 2 == 0 else ""), f"message {i}'s flags: {x['flags']!r}")
        check(x["type"] == 1 and x["records"] == 1 and x["timestamp_ns"] > 0, f"message {i}'s fields")
    old, end = dump_json(m, "--from", "oldest")
    check([x["sequence"] for x in old] == list(range(10)), f"--from oldest: all 10 (nothing overwritten): {old}")
    at3 = old[3]["index"]
    part, _ = dump_json(m, "--from", str(at3))
    check([x["sequence"] for x in part] == list(range(3, 10)), "--from INDEX starts exactly there")
    check(all(old[k]["next"] == old[k + 1]["index"] for k in range(9)), "each message's next is the next index")
    few, end = dump_json(m, "--from", "oldest", "--max", "2")
    check([x["sequence"] for x in few] == [0, 1] and end.get("end") == "max", f"--max 2: {few} {end}")
    err = tool_json("dump", m, "--from", str(at3 + 8), rc=1)
    check(err.get("error") == "invalid_argument" and "record boundary" in err.get("message", ""),
          f"an index inside a record is refused: {err}")
    human = tool("dump", m, "--from", "oldest").stdout
    check("#0 at " in human and "urgent" in human and '"hello 9"' in human and "10 messages" in human,
          f"human dump: {human!r}")
    tool("dump", m, "--from", "soon", rc=2)
    tool("stat", m, "--from", "tail", rc=2)
    check(segment_bytes(m) == before, "dump changed no byte of the segment (tail, counters, attach slots)")
    s = tool_json("stat", m)
    check(s["consumer"]["messages"] == 4 and s.get("messages_in_ring") == 6, "the consumer still received 4")
    finish(prod)
    t = name("dump-typed")
    prod = fixture("producer", t, "16", "3")
    check(tool_json("dump", t, rc=1).get("error") == "kind_mismatch", "dump of a typed ring: kind_mismatch")
    finish(prod)


def test_dump_follow():
    m = name("follow")
    try:
        prod = fixture("sender", m, "65536")
    except RuntimeError as e:
        print("SKIPPED (dump --follow):", e, file=sys.stderr)
        return
    d = subprocess.Popen([TOOL, "dump", m, "--follow", "--interval", "5", "--json"], stdout=subprocess.PIPE, text=True)
    processes.append(d)
    seen = 0
    for batch in (3, 2, 4):
        prod.stdin.write(f"send {batch}\n")
        prod.stdin.flush()
        check(prod.stdout.readline().strip() == "sent", "the fixture sent its batch")
        for _ in range(batch):  # each message is printed as it arrives: the dump is still running
            x = json.loads(d.stdout.readline())
            check(x.get("sequence") == seen and bytes.fromhex(x["payload_hex"]) == f"hello {seen}".encode(),
                  f"--follow: message {seen}: {x}")
            seen += 1
    check(d.poll() is None, "--follow keeps running while the producer is alive")
    finish(prod)  # detaches: the dump reads what is left and ends
    rc, rest, _ = wait_exit(d, "dump --follow")
    check(rc == 0, "--follow ends with exit 0 once the producer has gone")
    end = json.loads(rest.splitlines()[-1]) if rest and rest.strip() else {}
    check(end.get("end") == "end" and end.get("messages") == 9, f"--follow's summary: {end}")


def test_not_a_segment():
    n = name("fifo")
    os.mkfifo(shm(n), 0o600)  # anyone may plant one under a ring's name; list used to block on it forever
    listing = tool_json("list")
    bad = [u for u in listing.get("unreadable", []) if u["name"] == n]
    check(len(bad) == 1 and bad[0]["error"] == "not_a_segment" and bad[0].get("file_type") == "fifo",
          f"a FIFO is listed as not_a_segment, file type fifo: {bad}")
    rows = [line.split() for line in tool("list").stdout.splitlines() if line.startswith(n + " ")]
    check(len(rows) == 1 and rows[0][3] == "fifo" and "not_a_segment:" in rows[0],
          f"human list shows KIND fifo and the error: {rows}")
    check(tool_json("stat", n, rc=1).get("error") == "not_a_segment", "stat of a FIFO: not_a_segment")
    tool("remove", n, "--force", rc=1)
    tool("gc", n, rc=1)
    check(stat.S_ISFIFO(os.lstat(shm(n)).st_mode), "the FIFO is left where it was")


def main():
    try:
        test_usage()
        test_typed_ring()
        test_watch_follows_the_ring()
        test_watch_ends_quietly_after_a_normal_end()
        test_watch_fails_when_a_ring_disappears_otherwise()
        test_watch_units()
        test_remove_refuses_a_live_side()
        test_gc_of_a_missing_name()
        test_list_owner_age_bytes()
        test_dead_ring_and_gc()
        test_unreadable_and_message_rings()
        test_dump()
        test_dump_follow()
        test_not_a_segment()
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        for n in made:
            try:
                os.unlink(shm(n))
            except FileNotFoundError:
                pass
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("tool test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
