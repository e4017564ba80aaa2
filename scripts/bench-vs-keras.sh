#!/usr/bin/env bash
# bench-vs-keras.sh — time Keras 3 (TensorFlow CPU) and convscope on the same models, one
# after the other in this session, and print the ratios (convscope / TF graph mode).
#
#   scripts/bench-vs-keras.sh [--runs N] [--threads T] [--bench-dir DIR] [--venv DIR]
#
# DIR defaults to ../shared/bench (StridedNet, a VGG block, one Conv2D on 512×512, each
# with model.keras, input.npy and bench_keras.py). The venv (default .venv-keras, kept out
# of git) is created on first use with `pip install tensorflow-cpu keras`; KERAS_VENV or
# --venv reuses an existing one. convscope is built with `cargo build --release`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
runs=30
threads="$(nproc)"
bench_dir="$here/../shared/bench"
venv="${KERAS_VENV:-$here/.venv-keras}"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --bench-dir) bench_dir="$2"; shift 2 ;;
    --venv) venv="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -f "$bench_dir/bench_keras.py" ] || { echo "no $bench_dir/bench_keras.py" >&2; exit 2; }
# shellcheck source=keras-venv.sh
. "$here/scripts/keras-venv.sh"
ensure_keras_venv "$venv"
(cd "$here" && cargo build --release -q)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "Keras (TensorFlow) — $runs runs, $threads threads" >&2
"$venv/bin/python" "$bench_dir/bench_keras.py" --runs "$runs" --threads "$threads" --json "$out/keras.json" >&2
for m in stridednet vgg_block conv512; do
  echo "convscope — $m" >&2
  "$here/target/release/convscope" bench "$bench_dir/$m/model.keras" --input "$bench_dir/$m/input.npy" \
    --runs "$runs" --threads "$threads" --json > "$out/$m.json"
done
"$venv/bin/python" - "$out" <<'PY'
import json, os, platform, sys
out = sys.argv[1]
k = json.load(open(os.path.join(out, "keras.json")))
cpu = "?"
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except Exception:
    pass
print(f"machine: {cpu}, {os.cpu_count()} CPUs; keras {k['keras']}, tensorflow {k['tensorflow']}, {k['threads']} threads")
print("| model | MACs | convscope ms | TF eager ms | TF graph ms | convscope / TF graph |")
print("| --- | --- | --- | --- | --- | --- |")
for m, r in k["models"].items():
    c = json.load(open(os.path.join(out, f"{m}.json")))
    print(f"| {m} | {r['macs']/1e6:.1f} M | {c['median_ms']:.2f} | {r['eager_median_ms']:.2f} | "
          f"{r['graph_median_ms']:.2f} | {c['median_ms']/r['graph_median_ms']:.2f}× |")
PY
