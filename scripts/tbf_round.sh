#!/usr/bin/env bash
# A QUIC round through a rate-limited link: the demo (coordinator and clients in one process over
# loopback) runs inside a network namespace of its own whose loopback is shaped by a token-bucket
# filter (`tc qdisc ... tbf`), once per rate. This kernel has no `netem` qdisc, so loss and delay
# are injected in-process instead (tests/quic_faults.rs); `tbf` adds what that cannot: a real
# bandwidth limit with the kernel's queueing.
#
#   scripts/tbf_round.sh [--rates "unlimited 1gbit 200mbit 100mbit"] [demo flags...]
#
# Needs root (or CAP_NET_ADMIN) for `ip netns`; prints "skipped" and exits 0 without it, so it
# can run anywhere. Default demo flags: --clients 100 --dim 100000 --dropout 0.
set -euo pipefail
cd "$(dirname "$0")/.."

rates="unlimited 1gbit 200mbit 100mbit"
if [[ "${1:-}" == "--rates" ]]; then
    rates="$2"
    shift 2
fi
demo_flags=("$@")
if [[ ${#demo_flags[@]} -eq 0 ]]; then
    demo_flags=(--clients 100 --dim 100000 --dropout 0)
fi

ns="secagg-tbf-$$"
if ! ip netns add "$ns" 2>/dev/null; then
    echo "tbf round: skipped (cannot create a network namespace: needs root or CAP_NET_ADMIN)"
    exit 0
fi
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip netns exec "$ns" ip link set lo up

cargo build --release --example demo >/dev/null 2>&1 || cargo build --release --example demo
demo=target/release/examples/demo

printf '%-10s %-8s %s\n' rate wall_ms "demo's result line"
for rate in $rates; do
    ip netns exec "$ns" tc qdisc del dev lo root 2>/dev/null || true
    if [[ "$rate" != unlimited ]]; then
        # Burst of 64 KiB and a 100 ms queue: enough for QUIC's pacing, small enough that the
        # limit is felt within a round.
        if ! ip netns exec "$ns" tc qdisc add dev lo root tbf rate "$rate" burst 64kb latency 100ms; then
            echo "tbf round: skipped at rate $rate (this kernel has no tbf qdisc)"
            continue
        fi
    fi
    log=$(mktemp)
    start=$(date +%s%N)
    if ! ip netns exec "$ns" "$demo" "${demo_flags[@]}" >"$log" 2>&1; then
        echo "tbf round: demo failed at rate $rate:"
        cat "$log"
        rm -f "$log"
        exit 1
    fi
    end=$(date +%s%N)
    wall_ms=$(((end - start) / 1000000))
    # The demo's check against the plaintext sum; the script fails if it is missing.
    check=$(grep -m1 "^result:" "$log" || true)
    if [[ "$check" != *MATCH* ]]; then
        echo "tbf round: no exact-sum line at rate $rate:"
        cat "$log"
        rm -f "$log"
        exit 1
    fi
    printf '%-10s %-8s %s\n' "$rate" "$wall_ms" "$check"
    grep -E "closed at|^clients:|^traffic:" "$log" | sed 's/^ */    /'
    rm -f "$log"
done
