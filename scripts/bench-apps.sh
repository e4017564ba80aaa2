#!/usr/bin/env bash
# bench-apps.sh — keras.applications models timed by Keras 3 (TensorFlow graph mode) and
# by convscope, one after the other in this session (scripts/bench_apps.py has the details).
#
#   scripts/bench-apps.sh [--work DIR] [--venv DIR] [MODEL ...] [--runs N] [--threads T]
#
# The venv, build and work folder are check-applications.sh's (DIR defaults to
# target/bench-apps). Prints a Markdown table (the one in BENCHMARKS.md).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
APPS_SCRIPT=bench_apps.py APPS_WORK="$here/target/bench-apps" \
  exec "$here/scripts/check-applications.sh" "$@"
