#!/usr/bin/env python3
"""Every keras.applications model against convscope, as a user would open it.

For each model (weights=None, BatchNormalization moving statistics randomised so that
they matter), saves `.keras`, legacy `.h5` and config JSON in WORK/<model>/, runs
Keras on one seeded input and keeps every operation's output, then for each format:

  * `convscope summary --json` must give Keras's names, classes, output shapes and
    parameter counts (and totals);
  * `convscope run` (the `.keras` and `.h5` files, with their weights) must give every
    layer's output within 1e-4 × max(1, max|expected|).

With tf_keras installed (`pip install "tf_keras==2.21.*"`), each model is also built by
Keras 2 and saved as Keras 2 writes `.h5` (WORK/<model>/keras2.h5): convscope must run
it with tf_keras's numbers, and `convscope export keras2.h5 --format keras` must give
a `.keras` that real Keras 3 loads and that computes the same numbers (migration).

A model convscope refuses is reported with convscope's message (a refusal is not a
pass, but it is not a silent wrong result either).

When a layer misses that tolerance, every layer is checked on its own: Keras runs it on
convscope's outputs of the layers that feed it, and convscope's output of that layer must
be within the tolerance of Keras's. If every layer is, the format counts as "float32
drift" (not a pass, not a fail): each layer computes what Keras computes, and the
full-run difference is rounding that the layers after it amplify. The line also gives how
far Keras on the JAX backend (another float32 engine, summing in another order) is from
TF on the same file. This is EfficientNetV2's `*_se_expand` layers: a sigmoid of sums of
large terms that cancel, deep in a network whose randomised weights amplify rounding (the
same models rebuilt in float64 differ from TF's own float32 answer there by 1.6x to 10^4x
the tolerance).

Usage (in the Keras venv; see scripts/check-applications.sh):
    python scripts/check_applications.py target/release/convscope WORK [MODEL ...]
Prints one line per model and format and a closing count per format.
"""

import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # jax_outputs sets "jax"

import numpy as np  # noqa: E402
import keras  # noqa: E402

MODELS = [
    "VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2",
    "ResNet152V2", "InceptionV3", "InceptionResNetV2", "Xception", "MobileNet",
    "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "DenseNet121", "DenseNet169",
    "DenseNet201", "NASNetMobile", "NASNetLarge", "EfficientNetB0", "EfficientNetB1",
    "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5",
    "EfficientNetB6", "EfficientNetB7", "EfficientNetV2B0", "EfficientNetV2B1",
    "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S", "EfficientNetV2M",
    "EfficientNetV2L", "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge",
    "ConvNeXtXLarge",
]


def call_output(op):
    """The tensor an operation's call in the model produced (a nested model's `.output`
    is its own graph's, not the call's)."""
    return op._inbound_nodes[0].output_tensors[0]



def randomise_batchnorm(model, rng):
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            ws = layer.get_weights()
            c = ws[-1].shape
            ws[-2] = rng.normal(0, 0.1, c).astype("float32")  # moving mean
            ws[-1] = rng.uniform(0.5, 1.5, c).astype("float32")  # moving variance
            if layer.scale:
                ws[0] = rng.uniform(0.8, 1.2, c).astype("float32")
            layer.set_weights(ws)


def keras_summary(model):
    out = []
    for op in model.operations:
        params = op.count_params() if hasattr(op, "count_params") else 0
        out.append(
            {
                "name": op.name,
                "class_name": op.__class__.__name__,
                "output_shape": list(call_output(op).shape),
                "params": params,
            }
        )
    return out


def prepare(name, work):
    d = os.path.join(work, name)
    done = os.path.join(d, "expected.npz")
    if os.path.isfile(done):
        return d
    os.makedirs(d, exist_ok=True)
    keras.backend.clear_session()
    keras.utils.set_random_seed(7)
    model = getattr(keras.applications, name)(weights=None)
    randomise_batchnorm(model, np.random.default_rng(3))
    # MobileNet leaves H and W open (None): run it at the size its weights are for.
    shape = [1] + [224 if s is None else int(s) for s in model.inputs[0].shape[1:]]
    x = np.random.default_rng(11).uniform(0, 255, size=shape).astype("float32")
    np.save(os.path.join(d, "input.npy"), x)
    model.save(os.path.join(d, "model.keras"))
    model.save(os.path.join(d, "model.h5"))
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(model.to_json())
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(keras_summary(model), f)
    ops = [o for o in model.operations[1:]]
    probe = keras.Model(model.inputs, [call_output(o) for o in ops])
    ys = probe(x)
    np.savez(done, **{o.name: np.asarray(y, dtype="float32") for o, y in zip(ops, ys)})
    return d


def prepare_keras2(name, d):
    """tf_keras's model, its .h5 and its every layer's output; False without tf_keras."""
    done = os.path.join(d, "expected_keras2.npz")
    if os.path.isfile(done):
        return True
    try:
        import tf_keras
    except ImportError:
        return False
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(7)
    model = getattr(tf_keras.applications, name)(weights=None)
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            ws = layer.get_weights()
            c = ws[-1].shape
            ws[-2] = rng.normal(0, 0.1, c).astype("float32")
            ws[-1] = rng.uniform(0.5, 1.5, c).astype("float32")
            layer.set_weights(ws)
    model.save(os.path.join(d, "keras2.h5"))
    x = np.load(os.path.join(d, "input.npy"))
    if tuple(x.shape[1:]) != tuple(model.input_shape[1:]):
        x = np.random.default_rng(11).uniform(0, 255, size=(1, *[
            224 if s is None else s for s in model.input_shape[1:]])).astype("float32")
    np.save(os.path.join(d, "input_keras2.npy"), x)
    probe = tf_keras.Model(model.inputs, [l.output for l in model.layers[1:]])
    ys = probe.predict(x, verbose=0)
    np.savez(done, **{l.name: y for l, y in zip(model.layers[1:], ys)})
    return True


def check_keras2(exe, d):
    """Runs keras2.h5 against tf_keras, then migrates it and runs it in Keras 3."""
    out = os.path.join(d, "convscope-keras2.npz")
    r = convscope(exe, "run", os.path.join(d, "keras2.h5"), "--input",
                  os.path.join(d, "input_keras2.npy"), "--out", out)
    if r.returncode != 0:
        return "refused: " + (r.stderr.strip().splitlines() or ["?"])[-1], 0, None
    got, want = np.load(out), np.load(os.path.join(d, "expected_keras2.npz"))
    problem = compare(got, want)
    rounding = None
    migrated = os.path.join(d, "migrated.keras")
    r = convscope(exe, "export", os.path.join(d, "keras2.h5"), "--format", "keras",
                  "--out", migrated)
    if r.returncode != 0:
        return "export refused: " + (r.stderr.strip().splitlines() or ["?"])[-1], 0, None
    if problem:
        x = os.path.join(d, "input_keras2.npy")
        jax = jax_outputs(migrated, x, os.path.join(d, "jax-keras2.npz"))
        local = layerwise(migrated, np.load(x), got)
        rounding = drift_note(problem, local, worst_spread(want, jax), "tf_keras")
        if not local[0]:
            return rounding, 0, None
    try:
        m = keras.saving.load_model(migrated)
    except Exception as e:  # say why, go on with the next model
        msg = str(e).strip().splitlines()[-1][:200]
        return f"{len(want.files)} layers match tf_keras; Keras 3 cannot load the migrated .keras: {msg}", 0, None
    ops = m.operations[1:]
    probe = keras.Model(m.inputs, [call_output(o) for o in ops])
    x = np.load(os.path.join(d, "input_keras2.npy"))
    ys = {o.name: np.asarray(y) for o, y in zip(ops, probe(x))}
    problem = compare(ys, want)
    if problem:
        # Keras 3 and tf_keras (both on TF) drift apart too: then each migrated layer,
        # run by Keras 3 on tf_keras's outputs of the layers feeding it, must give
        # tf_keras's output of that layer.
        local = layerwise(migrated, x, want)
        if local[0]:
            rounding = (rounding or "") + (
                f"; migrated .keras in Keras 3: {problem}, layer by layer on tf_keras's "
                f"inputs the worst is {local[1]} at {local[2]:.3g}x the tolerance")
            problem = None
    os.remove(out)
    return (f"migrated .keras in Keras 3: {problem}" if problem else None), len(want.files), \
        rounding


def compare(got, want):
    names = got.files if hasattr(got, "files") else list(got)
    for k in want.files:
        # `run --out x.npz` keys a Keras 2 name like `conv1/conv` as `conv1_conv`.
        key = k if k in names else k.replace("/", "_")
        if key not in names:
            return f"{k}: no output"
        e, g = want[k], got[key]
        if e.shape != g.shape:
            return f"{k}: shape {g.shape} != {e.shape}"
        tol = 1e-4 * max(1.0, float(np.abs(e).max()))
        err = float(np.abs(e - g).max())
        if not err <= tol:
            return f"{k}: max |diff| {err:.3g} > {tol:.3g}"
    return None


def jax_outputs(model, x, out):
    """Every layer's output of `model` on input file `x` from Keras on the JAX backend
    (a subprocess: the backend is chosen at import), saved to `out`."""
    env = dict(os.environ, KERAS_BACKEND="jax")
    r = subprocess.run([sys.executable, __file__, "--jax", model, x, out], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError((r.stderr.strip().splitlines() or ["?"])[-1])
    return np.load(out)


def worst_spread(want, other):
    """The worst layer's |other - want| as a multiple of the tolerance."""
    worst = 0.0
    for k in want.files:
        key = k if k in other.files else k.replace("/", "_")
        if key in other.files:
            e = want[k]
            tol = 1e-4 * max(1.0, float(np.abs(e).max()))
            worst = max(worst, float(np.abs(other[key] - e).max()) / tol)
    return worst


def layerwise(model_path, x, got):
    """Each layer of the Keras 3 model at `model_path` run by Keras on convscope's own
    outputs of the layers feeding it (`got`; the model input `x`), against convscope's
    output of that layer: (every layer within the tolerance, worst layer, its multiple
    of the tolerance). This tells a layer computed otherwise than Keras computes it from
    rounding that the layers after it amplify."""
    m = keras.saving.load_model(model_path)
    # Keras 2 names a layer `conv1/conv` where Keras 3 and `run --out` say `conv1_conv`.
    keys = {k.replace("/", "_"): k for k in got.files}
    worst, worst_name = 0.0, None
    for op in m.operations[1:]:
        node = op._inbound_nodes[0]
        key = keys[op.name.replace("/", "_")]
        values = []
        for t in node.input_tensors:
            src = t._keras_history[0]
            if isinstance(src, keras.layers.InputLayer):
                values.append(x)
            else:
                values.append(got[keys[src.name.replace("/", "_")]])
        y = np.asarray(keras.Model(node.input_tensors, node.output_tensors[0])(values))
        tol = 1e-4 * max(1.0, float(np.abs(y).max()))
        r = float(np.abs(got[key] - y).max()) / tol
        if r > worst:
            worst, worst_name = r, op.name
    return worst <= 1.0, worst_name, worst


def drift_note(problem, local, jax, peer="TF"):
    ok, name, worst = local
    return (f"{problem}; layer by layer on convscope's own inputs the worst is {name} at "
            f"{worst:.3g}x the tolerance; Keras on JAX differs from {peer} by up to "
            f"{jax:.3g}x")


def convscope(exe, *args):
    return subprocess.run([exe, *args], capture_output=True, text=True)


def check_summary(exe, d, fmt):
    r = convscope(exe, "summary", "--json", os.path.join(d, fmt))
    if r.returncode != 0:
        return "refused: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    got = json.loads(r.stdout)["layers"]
    want = json.load(open(os.path.join(d, "summary.json")))
    if len(got) != len(want):
        return f"{len(got)} layers, Keras has {len(want)}"
    for g, w in zip(got, want):
        for k in ("name", "class_name", "output_shape", "params"):
            if g.get(k) != w[k]:
                return f"{w['name']}: {k} {g.get(k)} != Keras {w[k]}"
    return None


def check_outputs(exe, name, d, fmt):
    """(problem or None, layers that match, float32-rounding verdict or None)."""
    out = os.path.join(d, f"convscope-{fmt}.npz")
    r = convscope(exe, "run", os.path.join(d, fmt), "--input", os.path.join(d, "input.npy"),
                  "--out", out)
    if r.returncode != 0:
        return "refused: " + (r.stderr.strip().splitlines() or ["?"])[-1], 0, None
    got = np.load(out)
    want = np.load(os.path.join(d, "expected.npz"))
    problem = compare(got, want)
    n = len(want.files)
    verdict = None
    if problem:
        x = os.path.join(d, "input.npy")
        jax = jax_outputs(os.path.join(d, "model.keras"), x, os.path.join(d, "jax.npz"))
        local = layerwise(os.path.join(d, "model.keras"), np.load(x), got)
        verdict = drift_note(problem, local, worst_spread(want, jax))
        if not local[0]:
            return verdict, 0, None
        problem = None
    os.remove(out)
    return problem, n, verdict


def main(argv):
    if len(argv) == 5 and argv[1] == "--jax":  # a subprocess of jax_outputs
        m = keras.saving.load_model(argv[2])
        ops = m.operations[1:]
        probe = keras.Model(m.inputs, [call_output(o) for o in ops])
        ys = probe(np.load(argv[3]))
        np.savez(argv[4], **{o.name: np.asarray(y, dtype="float32") for o, y in zip(ops, ys)})
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    exe, work = argv[1], argv[2]
    names = argv[3:] or MODELS
    counts = {}
    for name in names:
        try:
            d = prepare(name, work)
        except Exception as e:  # a model this Keras cannot build: say so, go on
            print(f"{name}: Keras could not build it: {e}")
            continue
        for fmt in ("model.keras", "model.h5", "config.json"):
            problem = check_summary(exe, d, fmt)
            layers, rounding = 0, None
            if problem is None and fmt != "config.json":
                problem, layers, rounding = check_outputs(exe, name, d, fmt)
            ok = problem is None
            c = counts.setdefault(fmt, [0, 0, 0])
            c[2 if rounding else 0 if ok else 1] += 1
            detail = f"{layers} layers match" if ok and layers else (problem or "summary matches")
            verdict = "float32 drift" if rounding else "ok" if ok else "FAIL"
            print(f"{name} {fmt}: {verdict} ({rounding or detail})", flush=True)
        try:
            has_keras2 = prepare_keras2(name, d)
        except Exception as e:  # tf_keras lacks this architecture
            print(f"{name} keras2.h5: tf_keras could not build it: {e}")
            has_keras2 = False
        if has_keras2:
            problem, layers, rounding = check_keras2(exe, d)
            c = counts.setdefault("keras2.h5", [0, 0, 0])
            c[1 if problem else 2 if rounding else 0] += 1
            detail = f"{layers} layers match tf_keras, migrated .keras matches in Keras 3"
            verdict = "FAIL" if problem else "float32 drift" if rounding else "ok"
            print(f"{name} keras2.h5: {verdict} ({problem or rounding or detail})", flush=True)
    for fmt, (ok, bad, rounding) in counts.items():
        print(f"{fmt}: {ok} pass, {bad} fail, {rounding} float32 drift (every layer matches on its own)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
