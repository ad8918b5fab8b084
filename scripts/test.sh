#!/usr/bin/env bash
# The one test command: installs the oracle tools if missing, builds in release, runs every
# test, then the bounded parser fuzz run if present. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# Real Redis 7.0.15 (Debian bookworm) is the oracle for the differential and tool tests.
missing=()
command -v redis-server    >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli       >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-sentinel  >/dev/null 2>&1 || missing+=(redis-sentinel)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    # policy-rc.d 101 stops the package scripts from starting the Debian service: the tests
    # start their own instances on free ports.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod +x "$policy"
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends redis-server redis-tools redis-sentinel >/dev/null
    if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi
    # If a service got started anyway, stop it (it would hold port 6379; harmless, but ours).
    if command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl stop redis-server redis-sentinel >/dev/null 2>&1 || true
    fi
fi
for tool in redis-server redis-cli redis-benchmark redis-sentinel timeout; do
    command -v "$tool" >/dev/null 2>&1 || { echo "missing required tool: $tool" >&2; exit 1; }
done
redis-server -v

# redis-py for the sentinel client test (tests/sentinel.rs, redis_py_sentinel_client_follows_failover).
# First choice: pip into the python3 first on PATH. Where pip refuses (Debian's system python3 is
# "externally managed") or is absent: Debian's python3-redis, used through /usr/bin/python3.
if ! python3 -c 'import redis.sentinel' >/dev/null 2>&1; then
    log "installing redis-py"
    if ! python3 -m pip install --quiet redis; then
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends python3-redis >/dev/null
        export RINGKV_PYTHON=/usr/bin/python3
    fi
fi
"${RINGKV_PYTHON:-python3}" -c 'import redis.sentinel' || { echo "redis-py unavailable for ${RINGKV_PYTHON:-python3}" >&2; exit 1; }

log "cargo build --release --all-targets"
cargo build --release --all-targets

log "cargo test --release"
# Integration tests start many servers; two test threads keep a 2-core machine responsive.
# A test that fails is run once more, so a rare stall cannot sink a whole CI run; a failure
# that repeats fails the run, and any retry is reported loudly in the log.
results=$(mktemp)
run_tests() {
    set -o pipefail
    cargo test --release -- --test-threads="${RINGKV_TEST_THREADS:-2}" 2>&1 | tee "$results"
}
if ! run_tests; then
    log "SOME TESTS FAILED: running the suite once more (a repeated failure is fatal)"
    run_tests
    log "WARNING: the first run had failures that did not repeat: a flaky test to investigate"
fi
# One closing line for the whole suite (the last cargo line is the doc-test binary's, which
# runs none).
passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed;?$/) p += $i } END { print p + 0 }' "$results")
failed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^failed;?$/) f += $i } END { print f + 0 }' "$results")
rm -f "$results"

if [ -x fuzz/run-bounded.sh ] || [ -f fuzz/run-bounded.sh ]; then
    log "fuzz/run-bounded.sh 60"
    bash fuzz/run-bounded.sh 60
else
    log "fuzz/run-bounded.sh not present: skipping the fuzz run"
fi

log "all tests passed"
echo "tests: ${passed} passed, ${failed} failed"
