#!/usr/bin/env bash
# Flower's SecAgg+ and this crate on the same configurations, in one invocation, on one machine:
# prints both sides' CPU times and their ratios (the only ratios this repository reports).
#
#   scripts/compare_flower.sh            # L = 100 000, 10% dropout: n = 100 and 500 SecAgg+,
#                                        # n = 100 complete graph (Flower takes a few minutes)
#   REPS=3 scripts/compare_flower.sh     # bench repetitions (medians)
#
# Creates target/flower-venv with flwr pinned (FLWR_VERSION, default 1.42.0) on first use.
# Flower runs through scripts/flower_secaggplus.py (its own workflow and client mod, in-process
# transport); this crate through examples/bench.rs. Both report CPU time.
set -euo pipefail
cd "$(dirname "$0")/.."
FLWR_VERSION=${FLWR_VERSION:-1.42.0}
VENV=${VENV:-target/flower-venv}
REPS=${REPS:-1}
OUT=target/compare_flower
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q "flwr==$FLWR_VERSION"
cargo build --release --example bench
echo "machine: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# name  n  L  dropout  Flower num_shares (counts the client itself; 1.0 = complete)  Flower t
CONFIGS=(
    "h100-d0.1 100 100000 0.1 15 8"
    "h500-d0.1 500 100000 0.1 15 8"
    "c100-d0.1 100 100000 0.1 1.0 51"
)
names=()
for c in "${CONFIGS[@]}"; do
    read -r name n len d k t <<<"$c"
    names+=("$name")
    echo "flower $name ..." >&2
    "$VENV/bin/python" scripts/flower_secaggplus.py --n "$n" --len "$len" --dropout "$d" \
        --num-shares "$k" --threshold "$t" >"$OUT/flower-$name.json"
done
only=$(IFS=,; echo "${names[*]}")
target/release/examples/bench --only "$only" --reps "$REPS" --json "$OUT/secagg.json"

"$VENV/bin/python" - "$OUT" "${names[@]}" <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
ours = {r["name"]: r for r in json.load(open(f"{out}/secagg.json"))}
print("\n== Flower SecAgg+ vs secagg, CPU time, same invocation")
print(f"{'config':<11} {'n':>4} {'L':>7} {'d':>4} {'Flower k,t':>11} {'ours k,t':>9} {'suite':>10} "
      f"{'Flower cl ms':>12} {'ours cl ms':>10} {'ratio':>7} {'Flower srv s':>12} {'ours srv s':>10} {'ratio':>7}"
      f" {'ours calls s':>12} {'ratio':>7}")
for name in names:
    f = json.load(open(f"{out}/flower-{name}.json"))
    o = ours[name]
    fk = "complete" if f["num_shares"] == 1.0 else f"{int(f['num_shares']) - 1},{f['threshold']}"
    print(f"{name:<11} {o['n']:>4} {o['len']:>7} {o['dropout']:>4} {fk:>11} "
          f"{str(o['degree']) + ',' + str(o['threshold']):>9} {o['mask_prg']:>10} "
          f"{f['client_cpu_s'] * 1e3:>12.1f} {o['client_cpu_s'] * 1e3:>10.2f} "
          f"{f['client_cpu_s'] / o['client_cpu_s']:>6.1f}x "
          f"{f['server_cpu_s']:>12.2f} {o['server_cpu_s']:>10.3f} "
          f"{f['server_cpu_s'] / o['server_cpu_s']:>6.1f}x "
          f"{o['server_calls_cpu_s']:>12.3f} {f['server_cpu_s'] / o['server_calls_cpu_s']:>6.1f}x")
print("Flower k = neighbours (num_shares - 1); client = mean CPU per survivor; server = the whole")
print("round's server CPU. Both sides drop 10% of clients after share-keys, before masking.")
print("ours srv s = the coordinator process's whole CPU (the figure compared); ours calls s = its")
print("part inside Server calls plus the worker threads, i.e. without the bench's pipe transport.")
PY
