#!/usr/bin/env bash
# keras-roundtrip.sh — real Keras loads the .keras files convscope writes.
#
#   scripts/keras-roundtrip.sh [--golden DIR] [--venv DIR]
#
# For every case in DIR (default ../shared/golden, else tests/fixtures/golden) with a
# model.keras: `convscope export model.keras --format keras` writes it back, then
# `keras.saving.load_model` loads the written file and runs input.npy; every layer's
# output must match expected/<layer>.npy (|got − expected| ≤ 1e-4 × max(1, max|expected|)).
# The venv (default .venv-keras, kept out of git) is made on first use with
# `pip install tensorflow-cpu keras`; KERAS_VENV or --venv reuses one.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
golden="$here/../shared/golden"
[ -d "$golden" ] || golden="$here/tests/fixtures/golden"
venv="${KERAS_VENV:-$here/.venv-keras}"
while [ $# -gt 0 ]; do
  case "$1" in
    --golden) golden="$2"; shift 2 ;;
    --venv) venv="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=keras-venv.sh
. "$here/scripts/keras-venv.sh"
ensure_keras_venv "$venv"
(cd "$here" && cargo build --release -q)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
n=0
for case in "$golden"/*/; do
  [ -f "$case/model.keras" ] || continue
  name="$(basename "$case")"
  "$here/target/release/convscope" export "$case/model.keras" --format keras --out "$out/$name.keras"
  n=$((n + 1))
done
echo "wrote $n .keras files; loading them with Keras…" >&2
KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/python" - "$golden" "$out" <<'PY'
import os, sys, numpy as np, keras
golden, out = sys.argv[1], sys.argv[2]
ok = bad = same = 0

def worst_error(path, case):
    model = keras.saving.load_model(path, compile=False)
    x = np.load(os.path.join(case, "input.npy"))
    layers = [l for l in model.layers if l.__class__.__name__ != "InputLayer"]
    probe = keras.Model(model.inputs, [l.output for l in layers])
    outs = probe(x, training=False)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    worst = 0.0
    for layer, got in zip(layers, outs):
        want = np.load(os.path.join(case, "expected", layer.name + ".npy"))
        tol = 1e-4 * max(1.0, float(np.abs(want).max()))
        worst = max(worst, float(np.abs(np.asarray(got) - want).max()) / tol)
    return worst

for f in sorted(os.listdir(out)):
    name = f[:-len(".keras")]
    case = os.path.join(golden, name)
    try:
        worst = worst_error(os.path.join(out, f), case)
        if worst <= 1.0:
            ok += 1
            continue
        # Keras's own file of the case, for comparison (LAYOUT.md: a TensorFlow bug
        # makes some channels_first cases differ under TF whatever wrote the file).
        own = worst_error(os.path.join(case, "model.keras"), case)
        if abs(own - worst) <= 1e-3 * max(1.0, own):
            same += 1
            print(f"SAME {name}: {worst:.2f}× the tolerance, exactly as Keras's own model.keras under this backend")
        else:
            bad += 1
            print(f"FAIL {name}: worst error {worst:.2f}× the tolerance (Keras's own file: {own:.2f}×)")
    except Exception as e:
        bad += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")
print(f"{ok} of {ok + bad + same} written .keras files load in Keras {keras.__version__} and match every layer; "
      f"{same} behave exactly like Keras's own file; {bad} fail")
sys.exit(1 if bad else 0)
PY
