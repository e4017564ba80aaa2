#!/usr/bin/env python3
"""keras.applications models timed in Keras 3 (TensorFlow graph mode) and convscope.

For each model (weights=None, default input size, batch 1): builds it, saves
WORK/<model>/model.keras and a seeded input.npy (uniform 0–255, the raw pixels the
models with their own preprocessing take), times `tf.function(model(x, training=False))`
as bench_keras.py does (warm-up, then the median of --runs), then runs
`convscope bench` on the same file and input with the same thread count, in --rounds
alternating rounds (TF, convscope, convscope --all-layers; each column the median over
the rounds, each ratio the median of the rounds' ratios): as TF graph mode runs (outputs alone, element-wise layers in
place) and with `--all-layers` (every layer's output kept, as the window runs). Prints a
Markdown table with the ratios convscope / TF graph.

Usage (in the Keras venv; see scripts/bench-apps.sh):
    python scripts/bench_apps.py target/release/convscope WORK [--runs N] [--threads T] [MODEL ...]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

DEFAULT = [
    "VGG16", "ResNet50", "ResNet50V2", "InceptionV3", "Xception", "MobileNet",
    "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "DenseNet121", "NASNetMobile",
    "EfficientNetB0", "EfficientNetV2B0",
]

ap = argparse.ArgumentParser()
ap.add_argument("exe")
ap.add_argument("work")
ap.add_argument("models", nargs="*")
ap.add_argument("--runs", type=int, default=20)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--threads", type=int, default=os.cpu_count())
args = ap.parse_intermixed_args()

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(args.threads)
import keras  # noqa: E402


def median_ms(fn, x):
    for _ in range(args.warmup):
        np.asarray(fn(x))
    ts = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        np.asarray(fn(x))
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"machine: {cpu}, {os.cpu_count()} CPUs; keras {keras.__version__}, tensorflow {tf.__version__}, "
      f"{args.threads} threads, batch 1, median of {args.runs} runs, {args.rounds} alternating rounds "
      f"(times: median over rounds; ratios: median of the rounds' ratios)")
print("| model | input | convscope ms | all layers kept ms | TF graph ms "
      "| convscope / TF graph | all layers kept / TF graph | peak RSS − before opening, MiB (× weights + live outputs) "
      "| a pass's data peak, MiB (×) | code paged in, MiB |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
for name in args.models or DEFAULT:
    d = os.path.join(args.work, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.keras")
    keras.backend.clear_session()
    model = getattr(keras.applications, name)(weights=None)
    model.save(path)
    # MobileNetV3 is built for any size: time it at 224×224 as keras.applications' weights.
    shape = (1,) + tuple(d or 224 for d in model.input_shape[1:])
    x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
    np.save(os.path.join(d, "input.npy"), x)
    fn = tf.function(lambda z: model(z, training=False))
    xt = tf.constant(x)
    # One untimed convscope process first: on this VM the first process after Keras's
    # timing ran a quarter to a half slower than the next ones (InceptionV3 90.6 ms,
    # then 62.2 and 63.5, nothing else running), so the outputs-alone column often came
    # out slower than the all-layers one measured after it.
    subprocess.run([args.exe, "bench", path, "--input", os.path.join(d, "input.npy"),
                    "--runs", "5", "--threads", str(args.threads)], capture_output=True)
    # Rounds of TF, convscope, convscope --all-layers, one after the other: a neighbour's
    # burst on the VM lands in one round, not on one side of the comparison. Each
    # column is the median over the rounds; each ratio the median of the rounds' ratios.
    rounds = []
    memory = None
    for _ in range(args.rounds):
        graph = median_ms(fn, xt)
        times = []
        for extra in ([], ["--all-layers"]):
            r = subprocess.run([args.exe, "bench", path, "--input", os.path.join(d, "input.npy"),
                                "--runs", str(args.runs), "--threads", str(args.threads), "--json",
                                *extra], capture_output=True, text=True)
            if r.returncode != 0:
                times.append((r.stderr.strip().splitlines() or ["failed"])[-1])
                continue
            report = json.loads(r.stdout)
            times.append(report["median_ms"])
            if memory is None and not extra and report.get("peak_rss_bytes"):
                # The outputs-only run (a fresh process): its peak less the program's
                # own resident memory before the model was opened, against the weights
                # plus the most layer outputs alive at once.
                need = report["weight_bytes"] + report["activation_bytes"]
                took = report["peak_rss_bytes"] - (report.get("start_rss_bytes") or 0)
                memory = (f"{report['peak_rss_bytes'] / 2**20:.0f} − {(report.get('start_rss_bytes') or 0) / 2**20:.0f}"
                          f" ({took / need:.2f}×)")
                # The timed passes' anonymous memory (weights, outputs, buffers) less
                # the program's before opening; and the program code paged in, which
                # the peak RSS counts (the same 3.6–3.9 MiB for every model).
                if report.get("pass_peak_anon_bytes") is not None:
                    data = report["pass_peak_anon_bytes"] - (report.get("start_anon_bytes") or 0)
                    memory += f" | {data / 2**20:.1f} ({data / need:.2f}×)"
                    memory += f" | {(report.get('code_paged_in_bytes') or 0) / 2**20:.1f}"
                else:
                    memory += " | – | –"
        rounds.append((graph, times))
        if any(isinstance(t, str) for t in times):
            break
    del model
    times = rounds[-1][1]
    if any(isinstance(t, str) for t in times):
        msg = next(t for t in times if isinstance(t, str))
        print(f"| {name} | {shape[1]}×{shape[2]} | refused: {msg} | | {graph:.1f} | – | – | – | – | – |",
              flush=True)
        continue
    med = statistics.median
    graph = med(g for g, _ in rounds)
    ours = med(t[0] for _, t in rounds)
    kept = med(t[1] for _, t in rounds)
    r_ours = med(t[0] / g for g, t in rounds)
    r_kept = med(t[1] / g for g, t in rounds)
    print(f"| {name} | {shape[1]}×{shape[2]} | {ours:.1f} | {kept:.1f} | {graph:.1f} "
          f"| {r_ours:.2f}× | {r_kept:.2f}× | {memory or '– | – | –'} |", flush=True)
