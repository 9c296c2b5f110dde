#!/usr/bin/env bash
# Memory by tracing span (issue 14): allocscope's SpanLayer against tracking-allocator, built
# as users build (release, no LTO, line tables, none of the repository's rustflags: cargo is
# started outside the repository). Prints, for each binary and workload:
#   - instructions per operation by callgrind (exact, load-independent): the difference of
#     two runs (N and 2N operations) divided by N, with a fixed sampling seed so both runs
#     sample alike;
#   - wall-time ns per operation, each binary run in turn `runs` times (medians are noisy on
#     a loaded machine).
# Workloads (src/workload.rs): `polls` (two long-lived component spans entered alternately,
# 10 allocations per poll), `enter-exit` (enter + exit, nothing else), `churn` (alloc + free,
# no span / layer installed / span entered).
# Usage: benches/spans-user/run.sh [runs (default 5)]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runs="${1:-5}"
target="$here/target"
outside="$(mktemp -d)"
trap 'rm -rf "$outside"' EXIT
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_TARGET_DIR
(cd "$outside" && nice -n 10 cargo build --release --quiet \
    --manifest-path "$here/Cargo.toml" --target-dir "$target")
bin="$target/release"
cd "$outside"
export ALLOCSCOPE_SEED=7

ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
    awk '/refs/ {gsub(",", "", $4); print $4}'; }
per_op() { # binary mode n
    local a b
    a=$(ir "$bin/$1" "$2" "$3"); b=$(ir "$bin/$1" "$2" $(( $3 * 2 )))
    echo "scale=1; ($b - $a) / $3" | bc
}

if command -v valgrind >/dev/null; then
    echo "## instructions per operation (callgrind)"
    for m in "spans_bare polls 20000" "spans_allocscope polls-nolayer 20000" \
             "spans_allocscope polls 20000" "spans_tracking polls 20000" \
             "spans_bare enter-exit 200000" "spans_allocscope enter-exit-nolayer 200000" \
             "spans_allocscope enter-exit 200000" "spans_tracking enter-exit 200000" \
             "spans_allocscope churn 200000" "spans_allocscope churn-layer 200000" \
             "spans_allocscope churn-span 200000" "spans_tracking churn 200000" \
             "spans_tracking churn-span 200000"; do
        set -- $m
        printf '%-40s %s\n' "$1 $2" "$(per_op "$1" "$2" "$3")"
    done
fi

echo "## wall time, ns per operation, $runs runs each (in turn)"
for _ in $(seq "$runs"); do
    for m in "spans_bare polls" "spans_allocscope polls-nolayer" "spans_allocscope polls" \
             "spans_tracking polls"; do
        printf '%-40s %s\n' "$m" "$("$bin/${m% *}" "${m#* }" 1000000 2>/dev/null)"
    done
    for m in "spans_bare enter-exit" "spans_allocscope enter-exit" "spans_tracking enter-exit"; do
        printf '%-40s %s\n' "$m" "$("$bin/${m% *}" "${m#* }" 5000000)"
    done
done
