#!/usr/bin/env bash
# keras-venv.sh DIR — makes DIR a venv with tensorflow-cpu and keras unless it already
# has a python; used by bench-vs-keras.sh and keras-roundtrip.sh (source it).
ensure_keras_venv() {
  local venv="$1"
  if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv (tensorflow-cpu, keras)…" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q tensorflow-cpu keras
  fi
}
