#!/usr/bin/env bash
# allocscope's overhead as a user sees it. Builds this crate twice — as users build theirs
# (release, no LTO, line tables, NO frame pointers) and with frame pointers (what exact mode
# documents) — then runs every variant alternately and prints the tables.
#
# allocscope's repository forces frame pointers in its .cargo/config.toml. Cargo reads that
# file from the directory it is started in and upwards, not from the manifest's directory, so
# this script starts cargo from a temporary directory outside the repository and clears
# RUSTFLAGS / CARGO_ENCODED_RUSTFLAGS / CARGO_BUILD_RUSTFLAGS. allocscope's build script prints
# which it saw: `Settings::unwinder` is `dwarf` in the first build, `frame-pointers` in the
# second (checked below).
#
# Usage: benches/user-side/run.sh [runs (default 5)] [scale (default 1)]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runs="${1:-5}"
scale="${2:-1}"
target="${CARGO_TARGET_DIR_USER_BENCH:-$here/target}"
outside="$(mktemp -d)"
trap 'rm -rf "$outside"' EXIT
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_TARGET_DIR

build() { # $1 = target subdir, rest = extra env
    local dir="$1"; shift
    (cd "$outside" && env "$@" nice -n 10 cargo build --release --quiet \
        --manifest-path "$here/Cargo.toml" --target-dir "$target/$dir")
}
build nofp
build fp RUSTFLAGS="-C force-frame-pointers=yes"

check_unwinder() { # $1 = dir, $2 = expected
    local got
    got="$(cd "$outside" && ALLOCSCOPE_SAMPLE_BYTES=1 "$target/$1/release/allocscope_jemalloc" unwinder)"
    [[ "$got" == "unwinder $2" ]] || { echo "build $1: expected unwinder $2, got: $got" >&2; exit 1; }
}
check_unwinder nofp dwarf
check_unwinder fp frame-pointers

cd "$outside"
"$target/nofp/release/compare" "$target/nofp/release" "$target/fp/release" "$runs" "$scale"
