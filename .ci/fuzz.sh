#!/usr/bin/env bash
# Fuzz smoke step of CI: builds every cargo-fuzz target in fuzz/ (no sanitizer, so plain stable
# works) and runs each for a fixed short time on the committed corpus and regression inputs.
# A crash, a panic or an out-of-memory fails CI. About 8 x FUZZ_SECONDS of fuzzing plus the
# build (about 3.5 minutes from scratch, plus 3 to install cargo-fuzz the first time); the whole
# step stays under 10 minutes on 2 cores.
#
#   FUZZ_SECONDS=15 .ci/fuzz.sh        # default shown
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-15}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== fuzz: build every target (-s none: no sanitizer, debug assertions on)"
cargo fuzz build -s none

targets=$(cargo fuzz list)
# New inputs found during the run go to a scratch directory; the committed corpus is read-only.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in $targets; do
    echo "== fuzz: $t for ${FUZZ_SECONDS}s"
    mkdir -p "$scratch/$t"
    seeds=("fuzz/corpus/$t")
    if [ -d "fuzz/regressions/$t" ]; then
        seeds+=("fuzz/regressions/$t")
    fi
    log="$scratch/$t.log"
    if ! cargo fuzz run -s none "$t" "$scratch/$t" "${seeds[@]}" -- \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -max_len=8192 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $t failed; the crashing input is under fuzz/artifacts/$t/"
        exit 1
    fi
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
done
echo "== fuzz OK"
