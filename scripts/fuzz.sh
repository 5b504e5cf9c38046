#!/usr/bin/env bash
# Fuzzes Berth's parsers with cargo-fuzz (libFuzzer, nightly toolchain): every target in
# fuzz/fuzz_targets for FUZZ_SECONDS each (default 60), starting from the seeds checked in
# under fuzz/seeds/<target>/ plus whatever fuzz/corpus/<target>/ gathered in earlier runs.
# Installs cargo-fuzz when missing. Fails when any target crashes; the crashing input is in
# fuzz/artifacts/<target>/, to be turned into a regression test of the crate it breaks.
#
#   scripts/fuzz.sh                 # every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh jwt range
#
# FUZZ_SANITIZER (default `none`): the fuzzed crates forbid `unsafe`, so AddressSanitizer
# adds build and run time without finding more; `address` brings it back. Not part of
# scripts/test.sh: CI runs the ordinary suite, where property tests cover the same parsers.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-none}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    echo "installing the $toolchain toolchain"
    rustup toolchain install "$toolchain" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo "+$toolchain" fuzz list)
fi

# One build of every target (release, with debug assertions, so overflows panic).
cargo "+$toolchain" fuzz build --sanitizer "$sanitizer"

failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    echo "== fuzzing $target for ${seconds}s"
    log="fuzz/artifacts/$target.log"
    mkdir -p fuzz/artifacts
    # New inputs go to the first directory (git-ignored); the seeds are only read.
    set +e
    cargo "+$toolchain" fuzz run --sanitizer "$sanitizer" "$target" \
        "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|thread .* panicked|SUMMARY)' "$log" || true
    if [ "$status" -ne 0 ]; then
        echo "!! $target crashed: see $log and fuzz/artifacts/$target/"
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "crashes in: ${failed[*]}"
    exit 1
fi
echo "no crashes in: ${targets[*]}"
