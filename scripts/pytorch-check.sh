#!/usr/bin/env bash
# pytorch-check.sh — the PyTorch code convscope exports computes what Keras computes.
#
#   scripts/pytorch-check.sh [--golden DIR] [--venv DIR]
#
# For every case in DIR (default ../shared/golden, else tests/fixtures/golden) with a
# model.keras: `convscope export model.keras --format pytorch --out CASE.py` writes the
# module and CASE.npz (the file's weights); PyTorch imports the module, loads the
# weights, runs input.npy in eval mode, and the output must match Keras's output of the
# last layer, expected/<last>.npy (|got − expected| ≤ 1e-4 × max(1, max|expected|)).
# The venv (default .venv-torch, kept out of git) is made on first use with
# `pip install torch numpy`; TORCH_VENV or --venv reuses one.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
golden="$here/../shared/golden"
[ -d "$golden" ] || golden="$here/tests/fixtures/golden"
venv="${TORCH_VENV:-$here/.venv-torch}"
while [ $# -gt 0 ]; do
  case "$1" in
    --golden) golden="$2"; shift 2 ;;
    --venv) venv="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv (torch, numpy)…" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch numpy
fi
(cd "$here" && cargo build --release -q)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
n=0
for case in "$golden"/*/; do
  [ -f "$case/model.keras" ] || continue
  name="$(basename "$case")"
  if ! "$here/target/release/convscope" export "$case/model.keras" --format pytorch --out "$out/$name.py" > /dev/null 2> "$out/$name.err"; then
    echo "$name: not exported: $(cat "$out/$name.err")"
  fi
  n=$((n + 1))
done
echo "exported $n models; running them with PyTorch…" >&2
"$venv/bin/python" - "$golden" "$out" <<'PY'
import importlib.util, json, os, sys
import numpy as np
import torch

golden, out = sys.argv[1], sys.argv[2]
torch.set_grad_enabled(False)
ok = bad = missing = 0
for name in sorted(os.listdir(golden)):
    case = os.path.join(golden, name)
    src = os.path.join(out, name + ".py")
    if not os.path.isfile(os.path.join(case, "model.keras")):
        continue
    if not os.path.isfile(src):
        missing += 1
        continue
    spec = importlib.util.spec_from_file_location("m_" + name, src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cls = [v for k, v in vars(mod).items() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == mod.__name__][0]
    model = mod.load_keras_weights(cls(), os.path.join(out, name + ".npz")).eval()
    x = torch.from_numpy(np.load(os.path.join(case, "input.npy")).astype(np.float32))
    got = model(x).numpy()
    summary = json.load(open(os.path.join(case, "summary.json")))
    last = summary["layers"][-1]["name"]
    want = np.load(os.path.join(case, "expected", last + ".npy"))
    tol = 1e-4 * max(1.0, float(np.abs(want).max()))
    if got.shape == want.shape and np.abs(got - want).max() <= tol:
        ok += 1
    else:
        bad += 1
        diff = np.abs(got - want).max() if got.shape == want.shape else f"shape {got.shape} vs {want.shape}"
        print(f"{name}: DIFFERS ({diff}, tolerance {tol:.2g})")
print(f"pytorch export: {ok} match, {bad} differ, {missing} not exported")
sys.exit(1 if bad or missing else 0)
PY
