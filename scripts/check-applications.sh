#!/usr/bin/env bash
# check-applications.sh — every keras.applications model, opened by convscope as a user
# would, against real Keras (scripts/check_applications.py has the details).
#
#   scripts/check-applications.sh [--work DIR] [--venv DIR] [MODEL ...]
#
# Builds target/release/convscope, makes the venv on first use (KERAS_VENV or --venv
# reuses one; default .venv-keras, kept out of git), and keeps the Keras-made files in
# DIR (default target/applications) so a rerun only runs convscope. Disk: every model's
# files and all its layers' outputs stay there (EfficientNetB7 alone 17 GB; all models
# about 80 GB): name the models you need, or clear DIR as you go.
# (scripts/bench-apps.sh runs scripts/bench_apps.py through this script.)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${KERAS_VENV:-$here/.venv-keras}"
work="${APPS_WORK:-$here/target/applications}"
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
KERAS_BACKEND=tensorflow "$venv/bin/python" "$here/scripts/${APPS_SCRIPT:-check_applications.py}" \
  "$here/target/release/convscope" "$work" "$@"
