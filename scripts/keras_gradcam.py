"""Grad-CAM by real Keras against `convscope explain --method gradcam --npy`.

Keras's own Grad-CAM example (keras.io/examples/vision/grad_cam), TensorFlow backend:
the last layer's softmax removed, GradientTape of the class score with respect to the
chosen layer's output, alpha = mean of the gradient over rows
and columns, map = ReLU(A @ alpha). The score is sample 0's class (summed over the
other axes of a spatial output); the layer is the last one with a rank-4 output that
the output depends on, as convscope chooses it. Tolerance 1e-4 * max(1, max|expected|).

    python scripts/keras_gradcam.py [--convscope target/release/convscope] CASE_DIR... [--apps]
        [--save DIR]

--save writes Keras's maps as DIR/<case>.npy and DIR/index.json (layer and class per
case): tests/fixtures/gradcam, which tests/explain.rs compares convscope with.

A CASE_DIR holds model.keras and input.npy (the golden cases); --apps adds
keras.applications models built with weights=None (seeded) on a random image.
channels_first models are skipped (TensorFlow's CPU kernels cannot run them).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def without_softmax(model):
    """The model's output layer and whether its final softmax was dropped."""
    last = model.layers[-1]
    if isinstance(last, (keras.layers.Softmax,)) or (
        isinstance(last, keras.layers.Activation) and last.activation.__name__ == "softmax"
    ):
        return keras.models.Model(model.inputs, last.input)
    if getattr(last, "activation", None) is not None and last.activation.__name__ == "softmax":
        last.activation = keras.activations.linear
    return model


def cam_layer(model, out_tensor):
    """The last of model.layers (which holds no keras.ops operations) with a rank-4
    output that the output depends on."""
    needed = set()
    stack = [out_tensor]
    while stack:
        t = stack.pop()
        layer, _, _ = t._keras_history
        if layer.name in needed:
            continue
        needed.add(layer.name)
        node = layer._inbound_nodes[0]
        stack.extend(node.input_tensors)
    for layer in reversed(model.layers):
        if layer.name in needed and not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4:
            return layer.name
    return None


def keras_gradcam(model, x, cls=None):
    m = without_softmax(model)
    name = cam_layer(m, m.outputs[0])
    layer = m.get_layer(name)
    # d score / d A through a zero added to the layer's output (a functional model
    # returning A beside the predictions gives TensorFlow no path between them).
    shape = (x.shape[0],) + tuple(layer.output.shape[1:])
    delta = tf.Variable(tf.zeros(shape))
    captured = {}
    original = layer.call

    def call(*a, **kw):
        out = original(*a, **kw)
        captured["a"] = out
        return out + delta

    layer.call = call
    try:
        with tf.GradientTape() as tape:
            preds = m(x, training=False)
            p0 = tf.reshape(preds[0], (-1, preds.shape[-1]))
            if cls is None:
                cls = int(tf.argmax(tf.reduce_sum(p0, axis=0)))
            score = tf.reduce_sum(p0[:, cls])
        g = tape.gradient(score, delta)
    finally:
        layer.call = original
    a = captured["a"]
    alpha = tf.reduce_mean(g[0], axis=(0, 1))
    heat = tf.nn.relu(tf.reduce_sum(a[0] * alpha, axis=-1))
    return name, cls, np.asarray(heat)


def check(convscope, model_path, x_path, model, x, save=None):
    name, cls, want = keras_gradcam(model, x)
    if save is not None:
        save.append((name, cls, want))
    with tempfile.TemporaryDirectory() as d:
        npy, png = os.path.join(d, "m.npy"), os.path.join(d, "m.png")
        r = subprocess.run(
            [convscope, "explain", model_path, "--input", x_path, "--method", "gradcam",
             "--class", str(cls), "--out", png, "--npy", npy],
            capture_output=True, text=True)
        if r.returncode != 0:
            return False, f"convscope failed: {r.stderr.strip()}"
        got = np.load(npy)
        if f"at '{name}'" not in r.stdout:
            return False, f"layer: Keras {name}, convscope {r.stdout.strip()}"
    if got.shape != want.shape:
        return False, f"shape {got.shape} vs {want.shape}"
    tol = 1e-4 * max(1.0, float(np.abs(want).max()))
    diff = float(np.abs(got - want).max())
    return diff <= tol, f"layer {name} {want.shape}, class {cls}, max|diff| {diff:.2e} (tol {tol:.2e})"


def apps(root):
    keras.utils.set_random_seed(0)
    made = []
    for cls, size in [("ResNet50", 64), ("MobileNetV2", 96), ("VGG16", 64), ("DenseNet121", 64), ("EfficientNetB0", 64)]:
        model = getattr(keras.applications, cls)(weights=None, input_shape=(size, size, 3))
        path = os.path.join(root, f"{cls}.keras")
        model.save(path)
        x = np.random.default_rng(1).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        xp = os.path.join(root, f"{cls}.npy")
        np.save(xp, x)
        made.append((cls, path, xp, model, x))
    return made


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convscope", default="target/release/convscope")
    ap.add_argument("--apps", action="store_true")
    ap.add_argument("--save")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    results = []
    index = {}
    for case in args.cases:
        if not os.path.isfile(os.path.join(case, "model.keras")):
            continue
        cfg = json.load(open(os.path.join(case, "config.json")))
        if "channels_first" in json.dumps(cfg):
            print(f"{case}: skipped (channels_first)")
            continue
        model = keras.saving.load_model(os.path.join(case, "model.keras"), compile=False)
        x = np.load(os.path.join(case, "input.npy"))
        made = []
        ok, msg = check(args.convscope, os.path.join(case, "model.keras"), os.path.join(case, "input.npy"), model, x, made)
        results.append(ok)
        name = os.path.basename(case.rstrip("/"))
        print(f"{name}: {'ok' if ok else 'FAIL'} {msg}")
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            layer, cls, want = made[0]
            np.save(os.path.join(args.save, f"{name}.npy"), want.astype(np.float32))
            index[name] = {"layer": layer, "class": cls}
    if args.apps:
        with tempfile.TemporaryDirectory() as root:
            for cls, path, xp, model, x in apps(root):
                ok, msg = check(args.convscope, path, xp, model, x)
                results.append(ok)
                print(f"{cls}: {'ok' if ok else 'FAIL'} {msg}")
    if args.save:
        with open(os.path.join(args.save, "index.json"), "w") as f:
            json.dump(index, f, indent=1, sort_keys=True)
    print(f"{sum(results)}/{len(results)} match")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
