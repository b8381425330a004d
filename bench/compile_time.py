#!/usr/bin/env python3
"""What including shmring costs a translation unit at compile time, next to Boost.Interprocess's message_queue.

Compiles, for g++ and clang++ (those present; or --compiler), at -O0 and -O2 (or --opt), with -std=c++20:
  (a) a translation unit that includes only <shmring/shmring.hpp> (with -I <repo>/include),
  (b) one that includes only <boost/interprocess/ipc/message_queue.hpp>,
  (c) one that includes only <vector> and <string>: the floor every C++ translation unit pays,
  plus one more per --header H (any header, found with -I <repo>/include, e.g. shmring/typed.hpp).
Each is a real compilation to an object (-c -o /dev/null: parsing, instantiation, code generation; -fsyntax-only
would skip the last two). Every measured compilation is one of N rounds (default 7) that run every compiler, level
and unit once, interleaved (a, b, c, a, b, c, ...), so a change in the machine's load hits every unit alike; one
unmeasured warm-up compilation of each unit per compiler first fills the page cache. Prints Markdown tables of the
medians, wall-clock and CPU (user + system of the compiler process), with the ratio a / b and the ratio above the
floor, (a - c) / (b - c); --json FILE writes every single time too.

The CPU time is the steadier of the two on a shared machine (waiting for a core is not counted), but both grow when
other work competes for caches and memory bandwidth: compare numbers from one run, not across runs.

Usage: bench/compile_time.py [-n RUNS] [--header H]... [--compiler CXX]... [--opt=FLAG]... [--json FILE]
Works from any directory: the repository is found from this file's path.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = os.path.join(ROOT, "include")


def die(msg):
    print(f"bench/compile_time.py: {msg}", file=sys.stderr)
    sys.exit(1)


def version(cxx):
    try:
        return subprocess.run([cxx, "--version"], check=True, capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return None


def units(extra_headers):
    """[(key, label, source)]: the translation units, in the order they are interleaved."""
    us = [("shmring", "`<shmring/shmring.hpp>`", "#include <shmring/shmring.hpp>\n"),
          ("boost_mq", "`<boost/interprocess/ipc/message_queue.hpp>`",
           "#include <boost/interprocess/ipc/message_queue.hpp>\n"),
          ("floor", "`<vector>` + `<string>`", "#include <vector>\n#include <string>\n")]
    for h in extra_headers:
        h = h.strip().lstrip("<").rstrip(">")
        us.append((h, f"`<{h}>`", f"#include <{h}>\n"))
    return us


def compile_once(cxx, opt, path):
    """(wall seconds, CPU seconds) of one compilation of path to an object."""
    cmd = [cxx, "-std=c++20", opt, "-I", INCLUDE, "-c", path, "-o", os.devnull]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        die(f"{' '.join(cmd)} failed:\n{r.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def fmt_s(v):
    return "n/a" if v is None else f"{v:.2f} s"


def fmt_x(a, b):
    return "n/a" if a is None or b is None or b <= 0 else f"{a / b:.2f}"


def table(us, compilers, opts, med, what):
    extra = [u for u in us if u[0] not in ("shmring", "boost_mq", "floor")]
    head = ["compiler", "flags"] + [label for _, label, _ in us] + ["a ÷ b", "(a − c) ÷ (b − c)"]
    head += [f"{label} ÷ b" for _, label, _ in extra]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for cxx in compilers:
        for opt in opts:
            m = {k: med[(cxx, opt, k)][what] for k, _, _ in us}
            a, b, c = m["shmring"], m["boost_mq"], m["floor"]
            row = [cxx, opt] + [fmt_s(m[k]) for k, _, _ in us] + [fmt_x(a, b), fmt_x(a - c, b - c)]
            row += [fmt_x(m[k], b) for k, _, _ in extra]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=7, help="measured compilations of each unit (default 7)")
    ap.add_argument("--header", action="append", default=[], metavar="H",
                    help="also measure a unit that includes only <H> (repeatable), e.g. shmring/typed.hpp")
    ap.add_argument("--compiler", action="append", metavar="CXX",
                    help="compiler to measure (repeatable; default: g++ and clang++, those present)")
    ap.add_argument("--opt", action="append", metavar="FLAG",
                    help="optimisation flag, written --opt=-O3 (repeatable; default -O0 and -O2)")
    ap.add_argument("--json", metavar="FILE", help="write every time (and the medians) to FILE")
    a = ap.parse_args()
    if a.runs < 1:
        die("--runs must be at least 1")
    compilers = a.compiler or [c for c in ("g++", "clang++") if shutil.which(c)]
    if not compilers:
        die("no compiler found (g++ or clang++; or name one with --compiler)")
    versions = {}
    for cxx in compilers:
        versions[cxx] = version(cxx)
        if versions[cxx] is None:
            die(f"{cxx} does not run")
    opts = a.opt or ["-O0", "-O2"]
    us = units(a.header)
    times = []
    with tempfile.TemporaryDirectory(prefix="shmring-compile-time-") as work:
        paths = {}
        for i, (key, _, src) in enumerate(us):
            paths[key] = os.path.join(work, f"unit{i}.cpp")
            with open(paths[key], "w") as f:
                f.write(src)
        total = a.runs * len(compilers) * len(opts) * len(us)
        print(f"bench/compile_time.py: {len(us)} units x {len(compilers)} compilers x {len(opts)} levels x "
              f"{a.runs} rounds = {total} compilations (+ warm-up)", file=sys.stderr, flush=True)
        for cxx in compilers:  # warm-up: headers into the page cache, the compiler's binaries too
            for key, _, _ in us:
                compile_once(cxx, opts[0], paths[key])
        t0 = time.time()
        for rnd in range(a.runs):
            for cxx in compilers:
                for opt in opts:
                    for key, _, _ in us:
                        wall, cpu = compile_once(cxx, opt, paths[key])
                        times.append({"round": rnd, "compiler": cxx, "opt": opt, "unit": key,
                                      "wall_s": wall, "cpu_s": cpu})
            print(f"  round {rnd + 1}/{a.runs} done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    med = {}
    for cxx in compilers:
        for opt in opts:
            for key, _, _ in us:
                ts = [t for t in times if (t["compiler"], t["opt"], t["unit"]) == (cxx, opt, key)]
                med[(cxx, opt, key)] = {"wall_s": statistics.median(t["wall_s"] for t in ts),
                                        "cpu_s": statistics.median(t["cpu_s"] for t in ts)}
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Compile time of one translation unit (`-std=c++20 -c -o /dev/null`, `-I include`), median of {a.runs} "
          f"interleaved runs; load average at the end {load}.\n")
    print("Compilers: " + "; ".join(f"`{c}`: {v}" for c, v in versions.items()) + "\n")
    print("a = " + us[0][1] + ", b = " + us[1][1] + ", c = " + us[2][1] + " (the floor).\n")
    print("Wall-clock:\n")
    print(table(us, compilers, opts, med, "wall_s") + "\n")
    print("CPU (user + system of the compiler):\n")
    print(table(us, compilers, opts, med, "cpu_s"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"root": ROOT, "runs": a.runs, "host": platform.node(), "load_after": load,
                       "compilers": versions, "opts": opts,
                       "units": [{"key": k, "label": lab, "source": src} for k, lab, src in us],
                       "times": times,
                       "medians": [{"compiler": c, "opt": o, "unit": k, **v} for (c, o, k), v in med.items()]},
                      f, indent=1)
        print(f"\nbench/compile_time.py: wrote {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
