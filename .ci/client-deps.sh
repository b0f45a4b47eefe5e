#!/usr/bin/env bash
# The client-only build: prints the crates it links and fails on one outside the allow-list
# (.ci/client-crates.txt); builds it with warnings as errors, natively and for a no_std target.
set -euo pipefail
cd "$(dirname "$0")/.."

linked=$(cargo tree -e normal,no-proc-macro --no-default-features --features client \
    --prefix none --format '{p}' | sed 's/ .*//' | sort -u)
echo "client-only linked crates ($(echo "$linked" | wc -l)):"
echo "$linked" | tr '\n' ' '
echo
allowed=$(grep -v '^#' .ci/client-crates.txt | sed '/^$/d' | sort -u)
extra=$(comm -23 <(echo "$linked") <(echo "$allowed"))
if [ -n "$extra" ]; then
    echo "crates outside .ci/client-crates.txt in the client-only build:" >&2
    echo "$extra" >&2
    exit 1
fi

RUSTFLAGS="-D warnings" cargo build --lib --no-default-features --features client

# no_std + alloc: the client core on a Cortex-M4F target without an operating system.
rustup target add thumbv7em-none-eabihf
RUSTFLAGS="-D warnings" cargo build --lib --no-default-features --features client \
    --target thumbv7em-none-eabihf
