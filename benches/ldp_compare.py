#!/usr/bin/env python3
"""Runs the Rust LDP speed example and the NumPy reference in one invocation, on the same
machine and workloads, and prints one markdown table (issue 14, section 3).

    .venv/bin/python benches/ldp_compare.py [--n 100000] [--reps 3] [--rng chacha12] [--rust-bin PATH]
        [--base-bin PATH]

(needs numpy: `python3 -m venv .venv && .venv/bin/pip install numpy`). Times are CPU seconds of
one thread (Rust: CLOCK_THREAD_CPUTIME_ID; NumPy: time.thread_time()), the smallest of --reps
runs. Speed-up = NumPy time / Rust time (> 1: Rust is faster). 'per-report / batch' compares the
Rust per-report API (randomize / add or accumulate, one report at a time) with the batch API.
With --base-bin (an older commit's ldp_speed), the same run also times that binary and a second
table gives its figures next to the new ones (before -> after), all against the same NumPy run.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def lines(cmd, **kw):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rng", default="aes", help="aes (SamplingRng) | chacha12 | chacha8 | chacha20")
    ap.add_argument("--rust-bin", default="",
                    help="an already built ldp_speed binary (e.g. an older commit's, for a before/after "
                         "table in one run); default: build and run this tree's")
    ap.add_argument("--base-bin", default="",
                    help="an older ldp_speed binary to time in the same run (before/after table)")
    a = ap.parse_args()
    exe = a.rust_bin
    if not exe:
        subprocess.run(["cargo", "build", "--release", "-q", "--example", "ldp_speed"], check=True, cwd=ROOT)
        exe = os.path.join(ROOT, "target/release/examples/ldp_speed")
    load0 = os.getloadavg()
    rust = lines([exe, "--n", str(a.n),
                  "--reps", str(a.reps), "--rng", a.rng])
    base = lines([a.base_bin, "--n", str(a.n), "--reps", str(a.reps), "--rng", a.rng]) if a.base_bin else []
    numpy = lines([sys.executable, os.path.join(HERE, "ldp_numpy.py"), "--n", str(a.n),
                   "--reps", str(a.reps), "--check"])
    load1 = os.getloadavg()
    import numpy as np  # noqa: only for the version string

    gens = {r["generator"]: r["u64_per_s"] for r in rust if "generator" in r}
    print(f"machine: {os.cpu_count()} CPUs, load average {load0[0]:.1f} before / {load1[0]:.1f} after"
          f" (shared machine: other jobs ran concurrently); numpy {np.__version__}; "
          f"Rust sampling generator {a.rng}; generator throughput (u64/s): "
          + ", ".join(f"{k} {v:.2e}" for k, v in gens.items()))
    print(f"eps = 1 everywhere; n = {a.n} users (BLH/OLH: n/5, their servers are O(n k)); "
          f"Zipf(1.1) data; CPU seconds, one thread, best of {a.reps}\n")
    rt = {(r["oracle"], r["k"], r["side"], r["api"]): r for r in rust if "oracle" in r}
    print("| oracle | k | n | side | NumPy ms | Rust batch ms | Rust per-report ms | speed-up batch | speed-up per-report | per-report / batch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in numpy:
        key = (r["oracle"], r["k"], r["side"])
        b = rt.get(key + ("batch",))
        p = rt.get(key + ("per-report",))
        if not (b and p):
            continue
        nt, bt, pt = r["cpu_s"], b["cpu_s"], p["cpu_s"]
        print(f"| {r['oracle']} | {r['k']} | {r['n']} | {r['side']} | {nt * 1e3:.3f} | {bt * 1e3:.3f} | {pt * 1e3:.3f} "
              f"| {nt / bt:.1f}x | {nt / pt:.1f}x | {pt / bt:.2f} |")
    if not base:
        return
    bt_ = {(r["oracle"], r["k"], r["side"], r["api"]): r for r in base if "oracle" in r}
    print(f"\nbefore -> after (before: {a.base_bin}; after: {exe}); same NumPy run\n")
    print("| oracle | k | side | NumPy ms | batch ms | per-report ms | speed-up batch | speed-up per-report | per-report / batch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in numpy:
        key = (r["oracle"], r["k"], r["side"])
        b, p = rt.get(key + ("batch",)), rt.get(key + ("per-report",))
        b0, p0 = bt_.get(key + ("batch",)), bt_.get(key + ("per-report",))
        if not (b and p and b0 and p0):
            continue
        nt = r["cpu_s"]
        bt, pt, bt0, pt0 = b["cpu_s"], p["cpu_s"], b0["cpu_s"], p0["cpu_s"]
        print(f"| {r['oracle']} | {r['k']} | {r['side']} | {nt * 1e3:.3f} "
              f"| {bt0 * 1e3:.3f} -> {bt * 1e3:.3f} | {pt0 * 1e3:.3f} -> {pt * 1e3:.3f} "
              f"| {nt / bt0:.1f}x -> {nt / bt:.1f}x | {nt / pt0:.1f}x -> {nt / pt:.1f}x "
              f"| {pt0 / bt0:.2f} -> {pt / bt:.2f} |")


if __name__ == "__main__":
    main()
