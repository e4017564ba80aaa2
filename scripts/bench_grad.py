"""Gradient speed: convscope against TensorFlow's GradientTape (graph mode), one after
the other in this session on this machine.

    python scripts/bench_grad.py [--convscope target/release/convscope] [--runs 20]
        [--threads 2] MODEL_DIR...

Each MODEL_DIR holds model.keras and input.npy (../shared/bench/stridednet and
vgg_block; target/bench-apps/ResNet50 as scripts/bench-apps.sh makes it). Times, as
medians in milliseconds: Keras's forward pass in a tf.function, the gradients of
sum(output) with respect to the input and every trainable weight (GradientTape inside
a tf.function, training=False: inference mode, as `convscope grad`), and `convscope
bench` without and with --grad. Prints a Markdown table with the ratios.
"""
import argparse
import json
import os
import statistics
import subprocess
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--convscope", default="target/release/convscope")
ap.add_argument("--runs", type=int, default=20)
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("models", nargs="+")
args = ap.parse_args()

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(args.threads)
import keras  # noqa: E402


def timeit(fn, x, warmup=3):
    for _ in range(warmup):
        tf.nest.map_structure(np.asarray, fn(x))
    ts = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        tf.nest.map_structure(np.asarray, fn(x))
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def convscope(path, x, grad):
    cmd = [args.convscope, "bench", path, "--input", x, "--runs", str(args.runs),
           "--threads", str(args.threads), "--json"] + (["--grad"] if grad else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)["median_ms"]


rows = []
for d in args.models:
    name = os.path.basename(d.rstrip("/"))
    keras.backend.clear_session()
    model = keras.saving.load_model(os.path.join(d, "model.keras"), compile=False)
    x = tf.constant(np.load(os.path.join(d, "input.npy")))
    forward = tf.function(lambda z: model(z, training=False))

    @tf.function
    def gradients(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            s = tf.reduce_sum(model(z, training=False))
        return tape.gradient(s, [z] + model.trainable_variables)

    tf_fwd, tf_grad = timeit(forward, x), timeit(gradients, x)
    path, xin = os.path.join(d, "model.keras"), os.path.join(d, "input.npy")
    cs_fwd, cs_grad = convscope(path, xin, False), convscope(path, xin, True)
    rows.append((name, tf_fwd, tf_grad, cs_fwd, cs_grad))
    print(f"{name}: TF {tf_fwd:.2f}/{tf_grad:.2f} ms, convscope {cs_fwd:.2f}/{cs_grad:.2f} ms", flush=True)

print()
print("| model | TF forward ms | TF gradients ms | convscope forward ms | convscope gradients ms | gradients ratio (convscope/TF) | convscope gradients / forward |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, tf_fwd, tf_grad, cs_fwd, cs_grad in rows:
    print(f"| {name} | {tf_fwd:.2f} | {tf_grad:.2f} | {cs_fwd:.2f} | {cs_grad:.2f} | {cs_grad / tf_grad:.2f} | {cs_grad / cs_fwd:.1f} |")
