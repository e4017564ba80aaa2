#!/usr/bin/env bash
# keras-venv.sh DIR — makes DIR a venv with the oracle's pinned Keras 3.15.1 unless it already
# has a python; used by bench-vs-keras.sh and keras-roundtrip.sh (source it).
ensure_keras_venv() {
  local venv="$1"
  if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv (keras 3.15.1, tensorflow-cpu 2.21, jax 0.10.2)…" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "keras==3.15.1" "tensorflow-cpu==2.21.*" "jax[cpu]==0.10.2" \
      h5py pillow
  fi
}
