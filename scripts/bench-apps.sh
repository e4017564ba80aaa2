#!/usr/bin/env bash
# bench-apps.sh — keras.applications models timed by Keras 3 (TensorFlow graph mode) and
# by convscope, one after the other in this session (scripts/bench_apps.py has the details).
#
#   scripts/bench-apps.sh [--work DIR] [--venv DIR] [--runs N] [--threads T] [MODEL ...]
#
# Builds target/release/convscope, makes the venv on first use (KERAS_VENV or --venv
# reuses one; default .venv-keras, kept out of git) and keeps the Keras-made files in
# DIR (default target/bench-apps). Prints a Markdown table (the one in BENCHMARKS.md).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${KERAS_VENV:-$here/.venv-keras}"
work="$here/target/bench-apps"
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --venv) venv="$2"; shift 2 ;;
    *) break ;;
  esac
done
# shellcheck source=keras-venv.sh
source "$here/scripts/keras-venv.sh"
ensure_keras_venv "$venv"
(cd "$here" && cargo build --release --quiet)
mkdir -p "$work"
KERAS_BACKEND=tensorflow "$venv/bin/python" "$here/scripts/bench_apps.py" \
  "$here/target/release/convscope" "$work" "$@"
