#!/usr/bin/env bash
# Runs every fuzz target for RUNS executions (default 1 000 000) with the limits
# FUZZING.md states: a hang is > 1 s for one input, an out-of-memory > 2 GiB.
# Needs the nightly toolchain and cargo-fuzz: `cargo install cargo-fuzz`.
# Usage: fuzz/run-all.sh [TARGET…]   (logs in fuzz/logs/TARGET.log)
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-1000000}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(config_json keras_zip hdf5_weights npy image)
[ -d seeds/keras_zip ] || ./seed.sh
mkdir -p logs
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "== $t"
  cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -runs="$RUNS" -timeout=1 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=262144 \
    -print_final_stats=1 2>&1 | tee "logs/$t.log" | grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY|ERROR)" || true
done
