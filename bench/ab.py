#!/usr/bin/env python3
"""A/B two builds of shmring_bench on the same machine, in the same minutes.

Runs binary A and binary B alternately, ROUNDS times each (A, B, A, B, ...), each run with --benchmark_filter FILTER
and REPS repetitions interleaved at random, and prints, per entry, the median of all of A's repetitions and of all
of B's, and B / A. Alternating binaries spreads a change in the machine's load over both sides, as bench/report's
random interleaving does over entries. Rates are items/s (bytes/s where an entry has no items); round trips p50 ns.

Usage: bench/ab.py [--rounds N] [--reps N] [--filter REGEX] A B
Build the two binaries from two commits with the `bench` preset (cmake --build --preset bench --target
shmring_bench, then copy build/bench/bench/shmring_bench away before building the other).
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile


def run(binary, flt, reps):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([binary, f"--benchmark_filter={flt}", f"--benchmark_repetitions={reps}",
                        "--benchmark_enable_random_interleaving=true", f"--benchmark_out={out.name}",
                        "--benchmark_out_format=json"], check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            data = json.load(f)
    got = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = b["run_name"].removesuffix("/real_time")
        if "p50_ns" in b:
            got.setdefault(name, []).append(("p50 ns", b["p50_ns"]))
        elif "items_per_second" in b:
            got.setdefault(name, []).append(("items/s", b["items_per_second"]))
        elif "bytes_per_second" in b:
            got.setdefault(name, []).append(("bytes/s", b["bytes_per_second"]))
    return got


def fmt(v):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.3g} {unit}"
    return f"{v:.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--filter", default=".")
    ap.add_argument("a")
    ap.add_argument("b")
    args = ap.parse_args()
    samples = {"A": {}, "B": {}}
    for i in range(args.rounds):
        for side, binary in (("A", args.a), ("B", args.b)):
            print(f"round {i + 1}/{args.rounds}: {side}", file=sys.stderr)
            for name, vals in run(binary, args.filter, args.reps).items():
                samples[side].setdefault(name, []).extend(vals)
    print(f"A = {args.a}\nB = {args.b}\n{args.rounds} rounds x {args.reps} repetitions each, alternating"
          " (B / A above 1: B faster for items/s and bytes/s, B slower for p50 ns)\n")
    print("| entry | unit | A (median) | B (median) | B / A |")
    print("|---|---|---:|---:|---:|")
    for name in sorted(set(samples["A"]) | set(samples["B"])):
        a, b = samples["A"].get(name, []), samples["B"].get(name, [])
        if not a or not b:
            print(f"| `{name}` | | {'n/a' if not a else fmt(statistics.median(v for _, v in a))} | "
                  f"{'n/a' if not b else fmt(statistics.median(v for _, v in b))} | |")
            continue
        ma, mb = statistics.median(v for _, v in a), statistics.median(v for _, v in b)
        print(f"| `{name}` | {a[0][0]} | {fmt(ma)} | {fmt(mb)} | {mb / ma:.2f}x |")


if __name__ == "__main__":
    main()
