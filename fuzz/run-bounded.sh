#!/usr/bin/env bash
# Run the request-parser fuzz target for a bounded time: fuzz/run-bounded.sh [SECONDS] (default 60).
# Installs cargo-fuzz if it is missing. Exits non-zero if libFuzzer finds a crash (a panic, or a
# difference between chunked and whole-buffer parsing); the input is left in fuzz/artifacts/.
set -euo pipefail

secs="${1:-60}"
cd "$(dirname "$0")"

# libFuzzer instrumentation wants a nightly toolchain (the machine image ships one). Without it,
# fall back to the stable toolchain with RUSTC_BOOTSTRAP, which accepts the same flags.
toolchain=nightly
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    if ! rustup toolchain install "$toolchain" --profile minimal >/dev/null 2>&1; then
        toolchain=stable
        export RUSTC_BOOTSTRAP=1
    fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Separate from the main crate's target dir: instrumented builds would invalidate its cache.
export CARGO_TARGET_DIR="$PWD/target"
mkdir -p corpus/parse_request

# The parser has no unsafe code, so AddressSanitizer adds cost without finding more; panics and
# assertion failures are what we look for. Inputs stay small so many split patterns are tried.
exec cargo "+$toolchain" fuzz run --sanitizer none parse_request \
    corpus/parse_request seeds \
    -- -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1
