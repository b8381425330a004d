#!/usr/bin/env python3
"""Run shmring's benchmark suite and write the report. Run it through bench/report, which installs what it needs.

Builds the Release preset `bench` (unless --binary is given), runs every entry with producer and consumer pinned to
two cores, repetitions interleaved at random so a change in machine load hits every entry alike, and writes:
  bench/results/<date>-<shortcommit>.json   the raw Google Benchmark JSON, with the CPU, compiler, commit and kernel
  bench/results/latest.md                   Markdown tables: throughput, ratios to each peer, round trips, the
                                            wake-up calls of a busy stream, locks, and the issue's targets, met or
                                            missed
  bench/results/*.png                       charts (gnuplot): throughput by message size, round-trip percentiles,
                                            8-byte element throughput
bench/report first installs the Debian packages this needs (cmake/deps.sh bench: compiler, CMake, Boost, Google
Benchmark, atomic_queue, gnuplot, python3; apt-get as root, sudo otherwise) unless --no-install is given; a tool
still missing then is named with the package that provides it.

Usage: bench/report [--quick] [--no-install] [--binary PATH] [--filter REGEX] [--out DIR] [--from-json FILE]
       bench/report --history FILE...   (the targets across several runs, into history.md)
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEEDS = {  # tool needed to build the suite -> Debian package. Optional: git (the commit is then "unknown") and
    "cmake": "cmake",  # gnuplot (no charts, said on stderr).
    "c++": "g++",
}


def die(msg):
    print(f"bench/report: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def out(cmd, default=""):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return default


def check_tools(need_build):
    missing = [f"{t} (apt install {p})" for t, p in NEEDS.items() if need_build and shutil.which(t) is None]
    if missing:
        die("missing tools: " + ", ".join(missing) + ". Also needed to build: libbenchmark-dev libboost-dev "
            "(and optionally libatomic-queue-dev). (cmake/deps.sh bench installs them all.)")


def build():
    # Examples and tools are not needed; only the suite binary and durable_bench are built, with -j2 (the preset's jobs).
    try:
        run(["cmake", "--preset", "bench", "-DSHMRING_BUILD_EXAMPLES=OFF", "-DSHMRING_BUILD_TOOLS=OFF"], cwd=ROOT)
    except subprocess.CalledProcessError:
        die("configuring the `bench` preset failed. Google Benchmark and Boost are needed: "
            "apt install libbenchmark-dev libboost-dev (optional peer: libatomic-queue-dev)")
    run(["cmake", "--build", "--preset", "bench", "--target", "shmring_bench", "durable_bench"], cwd=ROOT)
    return os.path.join(ROOT, "build", "bench", "bench", "shmring_bench")


def compiler_of(binary):
    cache = os.path.join(os.path.dirname(os.path.dirname(binary)), "CMakeCache.txt")
    cxx = "c++"
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_CXX_COMPILER:"):
                    cxx = line.split("=", 1)[1].strip()
    except OSError:
        pass
    return out([cxx, "--version"]).splitlines()[0] if out([cxx, "--version"]) else cxx


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_suite(binary, json_path, quick, filt):
    commit = out(["git", "rev-parse", "HEAD"], "unknown")
    dirty = "-dirty" if out(["git", "status", "--porcelain", "--untracked-files=no"]) else ""
    context = {
        "commit": commit + dirty,
        "compiler": compiler_of(binary),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    args = [binary, f"--benchmark_out={json_path}", "--benchmark_out_format=json",
            "--benchmark_enable_random_interleaving=true",
            "--benchmark_context=" + ",".join(f"{k}={v.replace(',', ';')}" for k, v in context.items())]
    # min_time 0.25 s x 8 repetitions: about 5 minutes on the 2-core reference machine. Many short repetitions,
    # interleaved, sample the machine at many moments: on a shared machine some of them are undisturbed.
    # --quick: a smoke run.
    args += ["--benchmark_min_time=0.01", "--benchmark_repetitions=1"] if quick else \
            ["--benchmark_min_time=0.25", "--benchmark_repetitions=8"]
    if filt:
        args.append(f"--benchmark_filter={filt}")
    t0 = time.time()
    run(args)
    print(f"bench/report: the suite ran in {time.time() - t0:.0f} s", flush=True)
    with open(json_path) as f:
        data = json.load(f)
    if not filt:
        data["durable"] = run_durable(binary, quick)
    data["context"]["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with open(json_path, "w") as f:
        json.dump(data, f, indent=1)
    return data


def run_durable(binary, quick):
    """Where rings can live (issue 18): durable_bench, built next to shmring_bench, over a file on the disk file
    system of $TMPDIR (or /tmp) and on /dev/shm (tmpfs) under each sync policy, next to the /dev/shm segment, in
    the same minutes as the suite. Its table (and the file systems) as text, or None when it is not built."""
    durable = os.path.join(os.path.dirname(binary), "durable_bench")
    if not os.access(durable, os.X_OK):
        print("bench/report: no durable_bench next to the suite: no table of where rings can live", file=sys.stderr)
        return None
    disk = os.environ.get("TMPDIR", "/tmp")
    fs = {d: out(["df", "--output=fstype", d], "?").split()[-1] for d in (disk, "/dev/shm")}
    args = [durable, "--disk", disk, "--tmpfs", "/dev/shm"]
    args += ["--seconds", "0.02", "--repeat", "1"] if quick else ["--seconds", "0.5", "--repeat", "5"]
    t0 = time.time()
    text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    print(f"bench/report: durable_bench ran in {time.time() - t0:.0f} s", flush=True)
    return {"command": " ".join(os.path.basename(args[0]) if i == 0 else a for i, a in enumerate(args)),
            "filesystems": fs, "output": text}


# ------------------------------------------------------------------------------------------------ reading results

class Results:
    """One statistic over the repetitions of every value of every entry, keyed by the entry's name without
    /real_time: the median, or the best repetition (highest rate, lowest time or latency), which on a busy machine
    is the one least disturbed."""

    def __init__(self, data, stat="median"):
        runs = {}
        for b in data["benchmarks"]:
            if b.get("run_type") == "aggregate" or b.get("error_occurred"):
                continue
            name = b["run_name"].replace("/real_time", "")
            runs.setdefault(name, []).append(b)
        self.stat = stat
        self.raw = runs  # every repetition of every entry, by name
        self.errors = sorted({b["run_name"] for b in data["benchmarks"] if b.get("error_occurred")})
        self.reps = {k: len(v) for k, v in runs.items()}
        self.med = {}
        for name, rs in runs.items():
            unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[rs[0]["time_unit"]]
            keys = set().union(*(r.keys() for r in rs))
            m = {}
            for k in keys:
                vals = [r[k] for r in rs if isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)]
                if not vals:
                    continue
                if stat == "best":
                    m[k] = max(vals) if k.endswith("_per_second") else min(vals)
                else:
                    m[k] = statistics.median(vals)
            m["time_ns"] = m.get("real_time", 0) * unit
            self.med[name] = m
        self.context = data["context"]
        self.durable = data.get("durable")  # run_durable's table, when the run had one

    def get(self, name, key):
        return self.med.get(name, {}).get(key)

    def items(self, name):
        return self.get(name, "items_per_second")

    def bytes(self, name):
        return self.get(name, "bytes_per_second")

    def names(self, prefix):
        return [n for n in self.med if n.startswith(prefix)]


def ratio(a, b):
    return a / b if a and b else None


def fmt_ratio(r, digits=1):
    return "n/a" if r is None else f"{r:.{digits}f}x"


def fmt_rate(v, unit=""):
    if v is None:
        return "n/a"
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if float(f"{v:.3g}") >= div:  # round first: 999,970 is "1 M", not "1e+03 k"
            return f"{v / div:.3g} {suf}{unit}"
    return f"{v:.3g} {unit}"


def fmt_bytes(v):
    return "n/a" if v is None else f"{v / 1e9:.3g} GB/s" if v >= 1e8 else f"{v / 1e6:.3g} MB/s"


def fmt_ns(v):
    return "n/a" if v is None else f"{v / 1000:.3g} µs" if v >= 10000 else f"{v:.0f} ns"


SIZES = [("64B", 64), ("1KiB", 1024), ("64KiB", 65536), ("1MiB", 1 << 20)]
MSG_ORDER = ["shmring_copy", "shmring_copy_no_ts", "shmring_zero_copy", "shmring_zero_copy_no_ts", "memcpy", "pipe", "unix_socket", "posix_mq", "bip_message_queue"]


def msg_peers(r):
    names = {n.split("/")[1] for n in r.med if n.startswith("msg/")}
    return sorted(names, key=lambda p: (MSG_ORDER.index(p) if p in MSG_ORDER else 99, p))

ELEMENT_ROWS = [  # (entry, description)
    ("typed/process/{s}/wait", "shmring typed, 2 processes, push/pop (default: spin, then sleep)"),
    ("typed/process/{s}/try", "shmring typed, 2 processes, try_push/try_pop loop"),
    ("typed/process/{s}/batch", "shmring typed, 2 processes, push_n/pop_n of 64"),
    ("typed/process/{s}/wait_packed", "shmring typed, ring created with slots::packed, 2 processes, push/pop"),
    ("typed/process/{s}/batch_packed", "shmring typed, ring created with slots::packed, 2 processes, push_n/pop_n of 64"),
    ("typed/thread/{s}/wait", "shmring typed, 2 threads, push/pop"),
    ("typed/thread/{s}/try", "shmring typed, 2 threads, try_push/try_pop loop"),
    ("typed/thread/{s}/batch", "shmring typed, 2 threads, push_n/pop_n of 64"),
    ("ring_core/thread/{s}/try", "shmring ring.hpp alone (no segment, no wake-up check), 2 threads"),
    ("boost_spsc/process/{s}", "boost::lockfree::spsc_queue in shared memory, 2 processes"),
    ("boost_spsc/thread/{s}", "boost::lockfree::spsc_queue, 2 threads"),
    ("boost_spsc/thread/{s}/batch", "boost::lockfree::spsc_queue, 2 threads, push/pop of 64"),
    ("atomic_queue/thread/{s}", "atomic_queue (SPSC, maximize throughput), 2 threads"),
    ("iceoryx/process/{s}", "Eclipse iceoryx 2.0 publish/subscribe (loan, publish, polling take; lossless), 2 processes"),
    ("msg/shmring_copy/process/{s}", "shmring message ring, send/receive (copying), 2 processes"),
    ("msg/shmring_copy_no_ts/process/{s}", "shmring message ring, copying, producer with options::timestamps = false"),
    ("msg/shmring_zero_copy/process/{s}", "shmring message ring, zero-copy, 2 processes"),
    ("msg/shmring_zero_copy_no_ts/process/{s}", "shmring message ring, zero-copy, producer with options::timestamps = false"),
    ("msg/pipe/process/{s}", "pipe, 2 processes, one write/read per message"),
    ("msg/unix_socket/process/{s}", "Unix socket pair (stream), 2 processes"),
    ("msg/posix_mq/process/{s}", "POSIX message queue, 2 processes"),
    ("msg/bip_message_queue/process/{s}", "Boost.Interprocess message_queue, 2 processes"),
]

RTT_ROWS = [
    ("rtt/cache_line/process", "one cache line bounced between the cores, plain load loops"),
    ("rtt/cache_line_pause/process", "one cache line bounced between the cores, loops with a CPU pause"),
    ("rtt/two_lines/process", "ping on one line, pong on another (the floor of two rings), plain load loops"),
    ("rtt/two_lines_pause/process", "ping on one line, pong on another (the floor of two rings), loops with a pause"),
    ("rtt/typed/process/wait", "shmring typed, 2 processes, push/pop (default wait)"),
    ("rtt/typed/process/try", "shmring typed, 2 processes, try loops"),
    ("rtt/typed/thread/wait", "shmring typed, 2 threads, push/pop"),
    ("rtt/msg/process", "shmring message ring, 2 processes, send/receive"),
    ("rtt/boost_spsc/thread", "boost::lockfree::spsc_queue, 2 threads"),
    ("rtt/boost_spsc/process", "boost::lockfree::spsc_queue in shared memory, 2 processes"),
    ("rtt/atomic_queue/thread", "atomic_queue, 2 threads"),
    ("rtt/iceoryx/process", "Eclipse iceoryx 2.0, two services, polling take, lossless (iox-roudi started by the run)"),
    ("rtt/pipe/process", "two pipes, 2 processes"),
    ("rtt/unix_socket/process", "Unix socket pair, 2 processes"),
    ("rtt/posix_mq/process", "two POSIX message queues, 2 processes"),
    ("rtt/bip_message_queue/process", "two Boost message_queues, 2 processes"),
]


def element_table(r, size):
    head = f"typed/process/{size}/wait"
    base = {"boost::lockfree shm": f"boost_spsc/process/{size}", "boost::lockfree threads": f"boost_spsc/thread/{size}",
            "atomic_queue threads": f"atomic_queue/thread/{size}"}
    lines = [f"| {size} elements | items/s | bytes/s | `{head}` ÷ this |",
             "|---|---:|---:|---|"]
    for pat, desc in ELEMENT_ROWS:
        n = pat.format(s=size)
        if n not in r.med:
            continue
        rel = ratio(r.items(head), r.items(n))
        lines.append(f"| `{n}` — {desc} | {fmt_rate(r.items(n))} | {fmt_bytes(r.bytes(n))} | "
                     f"{'—' if n == head else fmt_ratio(rel)} |")
    peers = ", ".join(f"{fmt_ratio(ratio(r.items(head), r.items(v)))} {k}" for k, v in base.items() if v in r.med)
    return "\n".join(lines), peers


def message_table(r):
    names = [n for n in r.med if n.startswith("msg/")]
    if not names:
        return None
    peers = msg_peers(r)
    lines = ["| peer | " + " | ".join(s for s, _ in SIZES) + " |", "|---|" + "---:|" * len(SIZES)]
    for p in peers:
        cells = []
        for s, _ in SIZES:
            n = next((x for x in names if x.split("/")[1] == p and x.endswith("/" + s)), None)
            v = r.bytes(n) if n else None
            mc = r.bytes(f"msg/memcpy/{s}")
            cells.append("—" if v is None else f"{fmt_bytes(v)} ({fmt_ratio(ratio(v, mc), 2)} memcpy)"
                         if p != "memcpy" else fmt_bytes(v))
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def floor_of(r, key="p50_ns"):
    """The round-trip floor: the faster of the two cache-line bounces (which one wins depends on the CPU)."""
    vals = [r.get(n, key) for n in ("rtt/cache_line/process", "rtt/cache_line_pause/process") if r.get(n, key)]
    return min(vals) if vals else None


def two_line_floor_of(r, key="p50_ns"):
    """The floor of any round trip over two rings (ping and pong on lines of their own): the faster of the two."""
    vals = [r.get(n, key) for n in ("rtt/two_lines/process", "rtt/two_lines_pause/process") if r.get(n, key)]
    return min(vals) if vals else None


def rtt_table(r):
    floor = floor_of(r)
    boost = r.get("rtt/boost_spsc/thread", "p50_ns")
    lines = ["| round trip | mean | p50 | p90 | p99 | p99.9 | p50 ÷ floor | p50 ÷ boost threads |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n, desc in RTT_ROWS:
        if n not in r.med:
            continue
        g = lambda k: r.get(n, k)  # noqa: E731
        lines.append(f"| `{n}` — {desc} | {fmt_ns(g('time_ns'))} | {fmt_ns(g('p50_ns'))} | {fmt_ns(g('p90_ns'))} | "
                     f"{fmt_ns(g('p99_ns'))} | {fmt_ns(g('p999_ns'))} | {fmt_ratio(ratio(g('p50_ns'), floor), 2)} | "
                     f"{fmt_ratio(ratio(g('p50_ns'), boost), 2)} |")
    return "\n".join(lines)


def lock_table(r):
    rows = {}
    for n, m in r.med.items():
        mm = re.match(r"BM_(lock|lock_shared|fetch_add)(_stats)?(?:<(.+)>)?/threads:(\d)", n)
        if mm:
            kind, stats, lock, threads = mm.groups()
            label = f"{lock or 'std::atomic<uint64_t>'} {'shared' if kind == 'lock_shared' else ''}".strip()
            rows.setdefault((label, threads), {})["stats" if stats else "plain"] = m["time_ns"]
    if not rows:
        return None, []
    lines = ["| lock | threads | plain ns/op | with statistics ns/op | wrapper cost |", "|---|---:|---:|---:|---:|"]
    costs = []
    for (label, threads), v in sorted(rows.items()):
        p, s = v.get("plain"), v.get("stats")
        cost = (s / p - 1) if p and s else None
        if threads == "1" and cost is not None:
            costs.append((label, cost))
        lines.append(f"| {label} | {threads} | {p and f'{p:.1f}'} | {s and f'{s:.1f}'} | "
                     f"{'n/a' if cost is None else f'{cost * 100:+.1f}%'} |")
    return "\n".join(lines), costs


def targets(r, lock_costs):
    """[(target, measured, verdict, numbers)] under r's statistic."""
    t = []

    def add(what, value, ok, detail):
        t.append((what, value, "met" if ok else ("missed" if ok is not None else "not measured"), detail))

    w8, b8 = r.items("typed/process/8B/wait"), r.items("typed/process/8B/batch")
    for peer in ("boost_spsc/thread/8B", "atomic_queue/thread/8B"):
        q = ratio(w8, r.items(peer))
        add(f"typed 8 B, processes, push/pop ≥ 2x `{peer}`", fmt_ratio(q, 2), None if q is None else q >= 2,
            f"{fmt_rate(w8)} vs {fmt_rate(r.items(peer))} items/s")
        qb = ratio(b8, r.items(peer))
        add(f"typed 8 B, processes, batch above that (vs `{peer}`)", fmt_ratio(qb, 2),
            None if qb is None or q is None else qb > q and qb >= 2, f"{fmt_rate(b8)} items/s")
    for s in ("8B", "64B"):
        for where in ("process", "thread"):
            w, y = r.items(f"typed/{where}/{s}/wait"), r.items(f"typed/{where}/{s}/try")
            q = ratio(w, y)
            add(f"issue 4: push/pop within 10% of a try loop ({where}es, {s})".replace("threades", "threads"),
                fmt_ratio(q, 2), None if q is None else q >= 0.9, f"{fmt_rate(w)} vs {fmt_rate(y)} items/s")
    for key, what in (("p50_ns", "p50"), ("time_ns", "mean")):
        rt = r.get("rtt/typed/process/wait", key)
        bt = r.get("rtt/boost_spsc/thread", key)
        cl = floor_of(r, key)
        add(f"round trip, processes ≤ boost::lockfree threads ({what})", fmt_ratio(ratio(rt, bt), 2),
            None if not rt or not bt else rt <= bt, f"{fmt_ns(rt)} vs {fmt_ns(bt)}")
        add(f"round trip, processes ≤ 1.2x the faster cache-line bounce ({what})", fmt_ratio(ratio(rt, cl), 2),
            None if not rt or not cl else rt <= 1.2 * cl, f"{fmt_ns(rt)} vs {fmt_ns(cl)}")
    for mine in ("typed/process/64B/wait", "msg/shmring_copy/process/64B", "msg/shmring_copy_no_ts/process/64B"):
        if mine not in r.med:
            continue
        for peer in ("msg/pipe/process/64B", "msg/unix_socket/process/64B", "msg/posix_mq/process/64B",
                     "msg/bip_message_queue/process/64B"):
            q = ratio(r.items(mine), r.items(peer))
            add(f"64 B: `{mine}` ≥ 20x `{peer}`", fmt_ratio(q), None if q is None else q >= 20,
                f"{fmt_rate(r.items(mine))} vs {fmt_rate(r.items(peer))} msgs/s")
    # Issue 14's single-element goals (every repetition of the layout A/B must meet them too: bench/layout_ab.sh).
    for mode_ in ("wait", "try"):
        mine = r.items(f"typed/process/8B/{mode_}")
        for peer, bar in (("atomic_queue/thread/8B", 1.2), ("boost_spsc/thread/8B", 3.0)):
            q = ratio(mine, r.items(peer))
            add(f"issue 14: typed 8 B `{mode_}`, processes ≥ {bar:g}x `{peer}`", fmt_ratio(q, 2),
                None if q is None else q >= bar, f"{fmt_rate(mine)} vs {fmt_rate(r.items(peer))} items/s")
    for mode_ in ("wait", "try"):
        rt, cl = r.get(f"rtt/typed/process/{mode_}", "p50_ns"), floor_of(r)
        add(f"issue 14: typed round trip (`{mode_}`), processes ≤ 1.2x the cache-line bounce (p50)",
            fmt_ratio(ratio(rt, cl), 2), None if not rt or not cl else rt <= 1.2 * cl, f"{fmt_ns(rt)} vs {fmt_ns(cl)}")
    # What the hardware allows a design of two rings (one per direction, shmring's): a reader that only reads a
    # line leaves its writer without ownership, so each direction costs a miss and an ownership request, where the
    # one-line bounce moves one line per direction with ownership. The typed round trip against that floor.
    for mode_ in ("wait", "try"):
        rt, tl, cl = r.get(f"rtt/typed/process/{mode_}", "p50_ns"), two_line_floor_of(r), floor_of(r)
        add(f"issue 14 (what the hardware allows): typed round trip (`{mode_}`) ≤ 1.2x the two-line floor (p50)",
            fmt_ratio(ratio(rt, tl), 2), None if not rt or not tl else rt <= 1.2 * tl,
            f"{fmt_ns(rt)} vs {fmt_ns(tl)}; the two-line floor is {fmt_ratio(ratio(tl, cl), 2)} the bounce")
    typed64 = r.items("typed/process/64B/wait")
    for mine, bar in (("msg/shmring_copy/process/64B", 0.5), ("msg/shmring_copy_no_ts/process/64B", 0.7)):
        q = ratio(r.items(mine), typed64)
        add(f"issue 14: 64 B `{mine}` ≥ {bar:.0%} of `typed/process/64B/wait`", "n/a" if q is None else f"{q:.0%}",
            None if q is None else q >= bar, f"{fmt_rate(r.items(mine))} vs {fmt_rate(typed64)} msgs/s")
    for key, what in (("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9")):
        rt, ic = r.get("rtt/typed/process/wait", key), r.get("rtt/iceoryx/process", key)
        add(f"issue 14: round trip, processes ≤ iceoryx 2.0 ({what})", fmt_ratio(ratio(rt, ic), 2),
            None if not rt or not ic else rt <= ic, f"{fmt_ns(rt)} vs {fmt_ns(ic)}")
    mc = r.bytes("msg/memcpy/64KiB")
    for mine, bar in (("msg/shmring_copy/process/64KiB", 0.7), ("msg/shmring_zero_copy/process/64KiB", 0.9)):
        q = ratio(r.bytes(mine), mc)
        add(f"64 KiB: `{mine}` ≥ {bar:.0%} of memcpy", "n/a" if q is None else f"{q:.0%}",
            None if q is None else q >= bar, f"{fmt_bytes(r.bytes(mine))} vs {fmt_bytes(mc)}")
    for label, cost in lock_costs:
        add(f"statistics wrapper < 5% uncontended: {label}", f"{cost * 100:+.1f}%", cost < 0.05, "1 thread")
    return t


def targets_table(med, best, lock_costs_med, lock_costs_best):
    a, b = targets(med, lock_costs_med), targets(best, lock_costs_best)
    lines = ["| target | median | verdict | numbers (median) | best repetition | verdict |", "|---|---:|---|---|---:|---|"]
    for (what, v, ok, detail), (_, vb, okb, _) in zip(a, b):
        lines.append(f"| {what} | {v} | **{ok}** | {detail} | {vb} | {okb} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ charts

def gnuplot(script, workdir, png, outdir):
    if shutil.which("gnuplot") is None:
        print("bench/report: gnuplot is missing (apt install gnuplot-nox): no charts", file=sys.stderr)
        return False
    script = script.replace("OUTPUT", json.dumps(os.path.join(outdir, png)))
    subprocess.run(["gnuplot"], input=script, text=True, check=True, cwd=workdir)
    return True


def charts(r, outdir):
    with tempfile.TemporaryDirectory() as work:
        return _charts(r, outdir, work)


def _charts(r, outdir, work):
    made = []
    term = 'set terminal pngcairo size 960,540 noenhanced font "sans,10"' if "pngcairo" in out(
        ["gnuplot", "-e", "set terminal"]) else "set terminal png size 960,540 noenhanced"
    # 1. Throughput by message size.
    peers = msg_peers(r)
    if peers:
        with open(os.path.join(work, "throughput_by_size.dat"), "w") as f:
            f.write("size " + " ".join(peers) + "\n")
            for s, b in SIZES:
                vals = []
                for p in peers:
                    n = next((x for x in r.med if x.startswith(f"msg/{p}/") and x.endswith("/" + s)), None)
                    v = r.bytes(n) if n else None
                    vals.append(f"{v / 1e9:.4f}" if v else "NaN")
                f.write(f"{b} " + " ".join(vals) + "\n")
        plots = ", ".join(f"'throughput_by_size.dat' using 1:{i + 2} with linespoints lw 2 title '{p}'"
                          for i, p in enumerate(peers))
        if gnuplot(f"""{term}
set output OUTPUT
set title 'Throughput by message size, producer and consumer on two cores (higher is better)'
set logscale xy
set format y '%g'
set xlabel 'message size (bytes)'
set ylabel 'GB/s'
set xtics ('64 B' 64, '1 KiB' 1024, '64 KiB' 65536, '1 MiB' 1048576)
set xrange [40:1700000]
set key outside right
set grid
plot {plots}
""", work, "throughput_by_size.png", outdir):
            made.append("throughput_by_size.png")
    # 2. Round-trip percentiles.
    rows = [(n, d) for n, d in RTT_ROWS if r.get(n, "p50_ns")]
    if rows:
        with open(os.path.join(work, "latency_percentiles.dat"), "w") as f:
            f.write("entry p50 p90 p99 p999\n")
            for n, _ in rows:
                f.write(n.replace("rtt/", "").replace("/", "_") + " " + " ".join(
                    f"{r.get(n, k) or float('nan'):.1f}" for k in ("p50_ns", "p90_ns", "p99_ns", "p999_ns")) + "\n")
        if gnuplot(f"""{term}
set output OUTPUT
set title 'Round trip (ping-pong) percentiles, pinned to two cores (lower is better)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set format y '%g'
set ylabel 'ns'
set xtics rotate by -40
set xrange [-0.6:{len(rows) - 0.4}]
set rmargin 16
set key top left
set grid ytics
set bmargin 8
plot 'latency_percentiles.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p90', '' using 4 title 'p99', \\
     '' using 5 title 'p99.9'
""", work, "latency_percentiles.png", outdir):
            made.append("latency_percentiles.png")
    # 3. 8-byte element throughput.
    rows = [(pat.format(s="8B"), d) for pat, d in ELEMENT_ROWS if r.items(pat.format(s="8B"))]
    if rows:
        with open(os.path.join(work, "throughput_8B.dat"), "w") as f:
            for n, _ in rows:
                f.write(f"{n.replace('/', '_')} {r.items(n) / 1e6:.2f}\n")
        if gnuplot(f"""{term}
set output OUTPUT
set title '8-byte elements, capacity 4096, producer and consumer on two cores (higher is better)'
set style data histograms
set style fill solid 0.8 border -1
set ylabel 'million items/s'
set xtics rotate by -40
set xrange [-0.6:{len(rows) - 0.4}]
set rmargin 16
set grid ytics
set bmargin 9
unset key
plot 'throughput_8B.dat' using 2:xtic(1)
""", work, "throughput_8B.png", outdir):
            made.append("throughput_8B.png")
    return made


def copy_table(r):
    """glibc memcpy against copy_from_peer for each size; empty when the run has no copy_out entries."""
    def size_of(label):
        n = int(re.match(r"\d+", label).group())
        return n << 20 if label.endswith("MiB") else n << 10 if label.endswith("KiB") else n

    rows = []
    for label in sorted({k.rsplit("/", 1)[1] for k in r.med if k.startswith("copy_out/")}, key=size_of):
        cells = []
        for how in ("glibc_memcpy", "copy_from_peer"):
            name = f"copy_out/thread/{how}/{label}"
            vals = [b["bytes_per_second"] for b in r.raw.get(name, [])]
            cells.append("n/a" if not vals else
                         f"{fmt_bytes(r.bytes(name))} ({fmt_bytes(min(vals))} - {fmt_bytes(max(vals))})")
        rows.append(f"| {label} | {cells[0]} | {cells[1]} |")
    if not rows:
        return ""
    return "\n".join(["| message | glibc memcpy | copy_from_peer |", "|---|---:|---:|"] + rows)


WAKEUPS = "wakeups/typed/process/8B"


def wakeup_table(r):
    """The busy stream's futex wake calls and sleeps per message, each side; empty when the run has no such entry."""
    if WAKEUPS not in r.med:
        return ""
    g = lambda k: r.get(WAKEUPS, k)  # noqa: E731
    per_msg = lambda v: "n/a" if v is None else f"{v:.3g}"  # noqa: E731
    lines = ["| side | wake calls / message | sleeps / message |", "|---|---:|---:|"]
    for side in ("producer", "consumer"):
        lines.append(f"| {side} | {per_msg(g(side + '_wake_calls_per_msg'))} | {per_msg(g(side + '_sleeps_per_msg'))} |")
    total = g("wake_calls_per_msg")
    head = (f"`{WAKEUPS}`: the stream of `typed/process/8B/wait` (two processes, push/pop, default sleep policy), "
            f"{fmt_rate(g('messages'))} messages per repetition. Both sides together: "
            f"{'n/a' if total is None else f'{total * 1e4:.3g}'} wake calls per 10,000 messages (tests/ used to assert "
            "at most 1; it depends on the scheduler, so it is measured here instead). A side calls the kernel only "
            "after the stream stopped for tens of microseconds: the start, and the moments a side is taken off its "
            "core.")
    return head + "\n\n" + "\n".join(lines)


def write_markdown(r, best, outdir, json_name, pngs):
    c = r.context
    load = c.get("load_before", "?")
    try:
        busy = float(load.split()[0]) > 0.5
    except (ValueError, IndexError):
        busy = False
    md = [f"# shmring benchmark results",
          "",
          f"- CPU: {c.get('cpu', c.get('cpu_model', '?'))}, {c.get('num_cpus')} cores "
          f"(producer on core {c.get('producer_cpu')}, consumer on core {c.get('consumer_cpu')})",
          f"- compiler: {c.get('compiler', c.get('suite_compiler', '?'))}; kernel {c.get('kernel', '?')}",
          f"- commit: {c.get('commit', '?')}; date: {c.get('date', '?')}",
          f"- parameters: capacity {c.get('capacity')} slots, {c.get('round_items')} items per iteration, "
          f"batches of {c.get('batch')}; real time; median of {max(r.reps.values(), default=0)} repetitions "
          f"(interleaved at random)",
          f"- load average before / after: {load} / {c.get('load_after', '?')}",
          f"- raw data: [{json_name}]({json_name})",
          ""]
    if busy:
        md += ["> **The machine was busy while this ran** (load average above 0.5 at the start): other processes "
               "shared the two cores, so absolute numbers are low and noisy, and the spinning entries suffer most. "
               "Re-run on a quiet machine before quoting them.", ""]
    if r.errors:
        md += ["Entries that failed: " + ", ".join(f"`{e}`" for e in r.errors), ""]
    lock_md, lock_costs = lock_table(r)
    _, lock_costs_best = lock_table(best)
    md += ["## Targets (issues 5 and 14)", "",
           "The verdict is on the median of the repetitions; the best repetition (highest rate, lowest latency) is "
           "shown next to it: noise only ever slows an entry down, so on a busy machine the best repetition is the "
           "closer estimate of what the code can do.", "",
           targets_table(r, best, lock_costs, lock_costs_best), ""]
    for size in ("8B", "64B"):
        table, peers = element_table(r, size)
        md += [f"## Elements of {size[:-1]} bytes", "",
               f"shmring typed ring between two processes with the default push/pop is {peers}.", "", table, ""]
    mt = message_table(r)
    if mt:
        md += ["## Messages by size (bytes/s, and the fraction of memcpy)", "", mt, ""]
    md += ["## Round trip", "", rtt_table(r), ""]
    wt = wakeup_table(r)
    if wt:
        md += ["## Wake-up system calls of a busy stream", "", wt, ""]
    if lock_md:
        md += ["## Locks (one iteration: lock, increment, unlock)", "", lock_md, ""]
    ct = copy_table(r)
    if ct:
        md += ["## Copying a message out of the ring (why copy_from_peer)", "",
               "A consumer thread copies each message, just written by the producer on the other core, into its own "
               "buffer: with glibc's memcpy, or with shmring's `detail::copy_from_peer` (bench/copy_bench.cpp). "
               "Median and the slowest and fastest repetition.", "", ct, ""]
    dur = r.durable
    if dur:
        fs = ", ".join(f"`{d}` {t}" for d, t in dur["filesystems"].items())
        md += ["## Where rings can live: file-backed rings and their sync policies (issue 18)", "",
               f"`{dur['command']}` ({fs}); one thread sends a block and receives it (bench/durable_bench.cpp, "
               "docs/durability.md). A sync's cost is the storage's flush latency: the disk rows move most between "
               "runs.", "", "```", dur["output"].rstrip(), "```", ""]
    md += ["## Charts", ""] + [f"![{p}]({p})" for p in pngs] + [""]
    with open(os.path.join(outdir, "latest.md"), "w") as f:
        f.write("\n".join(md))


def write_history(paths, outdir):
    """One table of the targets' medians across several runs (JSON files), oldest first: how far the machine moves
    them. Written to history.md in outdir."""
    runs = []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        r = Results(data, "median")
        runs.append((data["context"].get("commit", "?")[:7], data["context"].get("date", "?"), path,
                     targets(r, lock_table(r)[1])))
    runs.sort(key=lambda x: x[1])
    head = "| target | " + " | ".join(f"`{c}`" for c, _, _, _ in runs) + " |"
    lines = ["# shmring benchmark history", "",
             "The targets of issue 5, median of each run, one column per run (oldest first). Every column is a full "
             "`bench/report` run on the same machine; the commit differs, and so does the host's placement of the "
             "two vCPUs. ✓ met, ✗ missed. Written by `bench/report --history FILE...`.", "",
             "| run | date | raw data |", "|---|---|---|"]
    lines += [f"| `{c}` | {d} | [{os.path.basename(p)}]({os.path.relpath(p, outdir)}) |" for c, d, p, _ in runs]
    lines += ["", head, "|---|" + "---:|" * len(runs)]
    names = [t[0] for t in runs[-1][3]]
    for name in names:
        cells = []
        for _, _, _, ts in runs:
            hit = next((t for t in ts if t[0] == name), None)
            mark = {"met": " ✓", "missed": " ✗"}.get(hit[2], "") if hit else ""
            cells.append("n/a" if hit is None or hit[2] == "not measured" else f"{hit[1]}{mark}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    with open(os.path.join(outdir, "history.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"bench/report: wrote {os.path.join(outdir, 'history.md')} from {len(runs)} runs")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smoke run: tiny min_time, 1 repetition")
    ap.add_argument("--binary", help="use this shmring_bench instead of building the `bench` preset")
    ap.add_argument("--filter", help="--benchmark_filter regex")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"), help="output directory")
    ap.add_argument("--from-json", help="skip running: write the report from this JSON")
    ap.add_argument("--no-install", action="store_true", help="install nothing; fail if a tool is missing")
    ap.add_argument("--history", nargs="+", metavar="JSON",
                    help="run nothing: write history.md, the targets across these runs' JSON files")
    a = ap.parse_args()
    a.out = os.path.abspath(a.out)  # gnuplot runs in a scratch directory: a relative --out would point there
    if a.history:
        os.makedirs(a.out, exist_ok=True)
        write_history(a.history, a.out)
        return
    # bench/report (the shell wrapper) has run cmake/deps.sh bench already unless --no-install was given.
    check_tools(need_build=not (a.binary or a.from_json))
    os.makedirs(a.out, exist_ok=True)
    if a.from_json:
        with open(a.from_json) as f:
            data = json.load(f)
        json_path = a.from_json
    else:
        binary = os.path.abspath(a.binary) if a.binary else build()
        if not os.access(binary, os.X_OK):
            die(f"{binary} is not an executable")
        short = out(["git", "rev-parse", "--short", "HEAD"], "nogit")
        stamp = datetime.datetime.now().strftime("%Y-%m-%d")
        json_path = os.path.join(a.out, f"{stamp}-{short}.json")
        data = run_suite(binary, json_path, a.quick, a.filter)
    r = Results(data, "median")
    pngs = charts(r, a.out)
    write_markdown(r, Results(data, "best"), a.out, os.path.relpath(json_path, a.out), pngs)
    print(f"bench/report: wrote {os.path.join(a.out, 'latest.md')}, {json_path} and {', '.join(pngs) or 'no charts'}")
    if r.errors:  # a benchmark that reports an error failed its own checks (a wrong sequence number, a dead peer)
        die("entries that failed: " + ", ".join(r.errors))


if __name__ == "__main__":
    main()
