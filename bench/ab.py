#!/usr/bin/env python3
"""A/B (or A/B/C...) several builds of shmring_bench on the same machine, in the same minutes.

Runs the binaries alternately (A, B, C, A, B, C, ...), ROUNDS times each, each run with --benchmark_filter FILTER
and REPS repetitions interleaved at random, and prints, per entry, the median of all of each binary's repetitions
and each one's ratio to A, and the spread (slowest / fastest build). Alternating binaries spreads a change in the
machine's load over every side, as bench/report's random interleaving does over entries. Rates are items/s
(bytes/s where an entry has no items); round trips p50 ns (with p99 and p99.9 where the entry reports them).

--ratio NAME=ENTRY,PEER:GOAL (repeatable) also checks, in every single repetition of every build, that ENTRY is at
least GOAL times PEER (rates: ENTRY / PEER; round trips: PEER / ENTRY, so "at most 1.2x the bounce" is GOAL 0.8333).
ENTRY and PEER of one repetition come from the same run of the same binary, repetition i of each (random
interleaving puts them minutes apart at most).

Usage: bench/ab.py [--rounds N] [--reps N] [--filter REGEX] [--ratio ...] A B [C ...]
Build the binaries from two commits with the `bench` preset (cmake --build --preset bench --target shmring_bench,
then copy build/bench/bench/shmring_bench away before building the other), or with bench/layout_ab.sh (the same
commit laid out differently by the compiler).
"""
import argparse
import json
import statistics
import string
import subprocess
import sys
import tempfile


def run(binary, flt, reps):
    """One run: {entry: [(unit, value, extra)]} in repetition order."""
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
            got.setdefault(name, []).append(("p50 ns", b["p50_ns"], {k: b[k] for k in ("p99_ns", "p999_ns") if k in b}))
        elif "items_per_second" in b:
            got.setdefault(name, []).append(("items/s", b["items_per_second"], {}))
        elif "bytes_per_second" in b:
            got.setdefault(name, []).append(("bytes/s", b["bytes_per_second"], {}))
    return got


def fmt(v):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.3g} {unit}"
    return f"{v:.3g}"


def parse_ratio(text):
    name, rest = text.rsplit("=", 1)  # the name may say ">=" itself; the entries never hold "="
    pair, goal = rest.rsplit(":", 1)
    entry, peer = pair.split(",", 1)
    return name, entry, peer, float(goal)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--filter", default=".")
    ap.add_argument("--ratio", action="append", default=[],
                    help="NAME=ENTRY,PEER:GOAL checked in every repetition (see above)")
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    if len(args.binaries) < 2:
        ap.error("give at least two binaries")
    labels = list(string.ascii_uppercase[:len(args.binaries)])
    samples = {l: {} for l in labels}
    runs = {l: [] for l in labels}  # every run's per-entry lists, for the per-repetition ratios
    for i in range(args.rounds):
        for label, binary in zip(labels, args.binaries):
            print(f"round {i + 1}/{args.rounds}: {label}", file=sys.stderr)
            got = run(binary, args.filter, args.reps)
            runs[label].append(got)
            for name, vals in got.items():
                samples[label].setdefault(name, []).extend(vals)
    for label, binary in zip(labels, args.binaries):
        print(f"{label} = {binary}")
    print(f"\n{args.rounds} rounds x {args.reps} repetitions each, alternating (X / A above 1: X faster for items/s and"
          " bytes/s, X slower for p50 ns)\n")
    head = " | ".join(f"{l} (median)" for l in labels)
    ratios = " | ".join(f"{l} / A" for l in labels[1:])
    print(f"| entry | unit | {head} | {ratios} | spread (max / min) |")
    print("|---|---|" + "---:|" * (2 * len(labels)) + "")
    for name in sorted(set().union(*(samples[l].keys() for l in labels))):
        meds = {}
        for l in labels:
            vals = samples[l].get(name, [])
            if vals:
                meds[l] = statistics.median(v for _, v, _ in vals)
        unit = next(samples[l][name][0][0] for l in labels if name in samples[l])
        cells = " | ".join(fmt(meds[l]) if l in meds else "n/a" for l in labels)
        rel = " | ".join(f"{meds[l] / meds['A']:.2f}x" if l in meds and "A" in meds else "" for l in labels[1:])
        spread = f"{max(meds.values()) / min(meds.values()):.2f}x" if len(meds) == len(labels) else ""
        print(f"| `{name}` | {unit} | {cells} | {rel} | {spread} |")
        tails = [(l, samples[l][name]) for l in labels if name in samples[l] and samples[l][name][0][2]]
        for l, vals in tails:
            p99 = statistics.median(e.get("p99_ns", 0) for _, _, e in vals)
            p999 = statistics.median(e.get("p999_ns", 0) for _, _, e in vals)
            print(f"|   ↳ {l}: p99 / p99.9 | ns | {fmt(p99)} / {fmt(p999)} |" + " |" * (2 * len(labels) - 1))
    if not args.ratio:
        return
    print("\nPer repetition (every repetition of every build must meet the goal):\n")
    print("| check | goal | build | repetitions | min | median | max | met in |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for text in args.ratio:
        name, entry, peer, goal = parse_ratio(text)
        for l in labels:
            vals = []
            for got in runs[l]:
                for (u, e, _), (_, p, _) in zip(got.get(entry, []), got.get(peer, [])):
                    vals.append(p / e if u == "p50 ns" else e / p)
            if not vals:
                print(f"| {name} | {goal:.2f}x | {l} | 0 | | | | n/a |")
                continue
            met = sum(v >= goal for v in vals)
            print(f"| {name} | {goal:.2f}x | {l} | {len(vals)} | {min(vals):.2f}x | {statistics.median(vals):.2f}x | "
                  f"{max(vals):.2f}x | {met}/{len(vals)} |")


if __name__ == "__main__":
    main()
