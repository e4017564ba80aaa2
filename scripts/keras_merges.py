#!/usr/bin/env python3
"""Keras reference cases for the merge layers on several inputs (Add, Subtract,
Multiply, Average, Maximum, Minimum, Concatenate, Dot), and a model with two inputs
listed in the reverse of their layer order.

Usage (inside the venv of scripts/keras-venv.sh):

    python scripts/keras_merges.py tests/fixtures/merges

Writes OUT/cases.json: one record per case with `id`, `class_name`, `input_shapes`,
`layer` (the config entry a file holds) and either `stage` ("construct", "build" or
"call") with Keras's exact `message`, or `output_shape` (the symbolic one), `inputs`
(seeded values, one nested list per input, batch 2) and `output` (what the layer
computes on them, float32, as nested lists).

Staging: construct = `cls(**kwargs)` raises; build = the symbolic call on
`keras.Input(batch_shape=...)` tensors raises; call = only the eager call raises.

With `--pytorch` (torch installed in the venv, convscope built): every accepted case
and the two-input model, saved by Keras as `.keras`, are exported with `convscope export
--format pytorch`, run by PyTorch and compared with Keras's output (1e-5 relative).

And OUT/two_inputs.keras with OUT/x0.npy, OUT/x1.npy (its inputs, in `model.inputs`
order) and OUT/expected.npz (every layer's output, keyed by layer name).
"""

import json
import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402

CASES = [
    # Element-wise merges: broadcasting of size-1 axes, the incompatible shapes.
    ("add_same", "Add", [[None, 4, 4, 3], [None, 4, 4, 3]], {}),
    ("add_broadcast", "Add", [[None, 4, 4, 3], [None, 1, 1, 3]], {}),
    ("add_three", "Add", [[None, 3, 3, 2]] * 3, {}),
    ("add_stride_mismatch", "Add", [[None, 56, 56, 64], [None, 28, 28, 64]], {}),
    ("add_rank_mismatch", "Add", [[None, 4, 4, 3], [None, 4, 3]], {}),
    ("add_one_input", "Add", [[None, 4]], {}),
    ("subtract_pair", "Subtract", [[None, 4, 4, 2], [None, 4, 4, 2]], {}),
    ("subtract_three", "Subtract", [[None, 4]] * 3, {}),
    ("multiply_broadcast", "Multiply", [[None, 4, 4, 3], [None, 1, 1, 3]], {}),
    ("multiply_mismatch", "Multiply", [[None, 4, 4, 3], [None, 4, 4, 5]], {}),
    ("average_three", "Average", [[None, 2, 2, 3]] * 3, {}),
    ("maximum_pair", "Maximum", [[None, 5], [None, 5]], {}),
    ("minimum_broadcast", "Minimum", [[None, 3, 3, 2], [None, 3, 1, 2]], {}),
    # Concatenate.
    ("concat_channels", "Concatenate", [[None, 4, 4, 2], [None, 4, 4, 3]], {}),
    ("concat_axis1", "Concatenate", [[None, 2, 4, 2], [None, 3, 4, 2]], {"axis": 1}),
    ("concat_mismatch", "Concatenate", [[None, 4, 4, 2], [None, 2, 4, 2]], {}),
    ("concat_rank", "Concatenate", [[None, 4, 4, 2], [None, 4, 2]], {}),
    ("concat_unknown", "Concatenate", [[None, None, 4, 2], [None, 3, 4, 2]], {"axis": 2}),
    ("concat_unknown_axis", "Concatenate", [[None, 3, 4, None], [None, 3, 4, 2]], {}),
    ("concat_one_input", "Concatenate", [[None, 3, 4, 2]], {}),
    ("concat_axis_out_of_range", "Concatenate", [[None, 3, 2], [None, 3, 2]], {"axis": 3}),
    ("concat_axis_negative", "Concatenate", [[None, 3, 2], [None, 4, 2]], {"axis": -2}),
    # Dot: int and pair axes, negative axes, normalize, rank 2 to 4, mixed ranks.
    ("dot_vectors", "Dot", [[None, 6], [None, 6]], {"axes": 1}),
    ("dot_vectors_cosine", "Dot", [[None, 6], [None, 6]], {"axes": -1, "normalize": True}),
    ("dot_pair", "Dot", [[None, 5, 2], [None, 2, 5]], {"axes": [1, 2]}),
    ("dot_pair_negative", "Dot", [[None, 5, 2], [None, 2, 5]], {"axes": [-2, -1]}),
    ("dot_last", "Dot", [[None, 3, 4], [None, 5, 4]], {"axes": -1}),
    ("dot_mixed_rank", "Dot", [[None, 3, 4], [None, 4]], {"axes": [2, 1]}),
    ("dot_mixed_rank_2", "Dot", [[None, 4], [None, 4, 3]], {"axes": [1, 1]}),
    ("dot_images", "Dot", [[None, 3, 3, 2], [None, 3, 3, 2]], {"axes": 3}),
    ("dot_images_cosine", "Dot", [[None, 2, 3, 4], [None, 3, 4]], {"axes": [3, 2], "normalize": True}),
    ("dot_mismatch", "Dot", [[None, 3, 4], [None, 5, 6]], {"axes": -1}),
    ("dot_pair_mismatch", "Dot", [[None, 3, 4], [None, 5, 6]], {"axes": [1, 2]}),
    ("dot_none_dim", "Dot", [[None, None, 4], [None, 3, 4]], {"axes": 1}),
    ("dot_three_inputs", "Dot", [[None, 4]] * 3, {"axes": 1}),
    ("dot_one_input", "Dot", [[None, 4]], {"axes": 1}),
    ("dot_three_axes", "Dot", [[None, 4], [None, 4]], {"axes": [1, 1, 1]}),
    ("dot_out_of_range", "Dot", [[None, 4], [None, 4]], {"axes": 3}),
]


def clean(e):
    return str(e).replace("\x1b[1m", "").replace("\x1b[0m", "")


def run_case(cid, cls_name, shapes, kwargs, rng):
    cls = getattr(keras.layers, cls_name)
    rec = {"id": cid, "class_name": cls_name, "input_shapes": shapes}
    config = {"name": "merge", "trainable": True, **kwargs}
    rec["layer"] = {"module": "keras.layers", "class_name": cls_name, "config": config}
    keras.backend.clear_session()
    try:
        layer = cls(name="merge", **kwargs)
    except Exception as e:  # noqa: BLE001
        rec.update(stage="construct", exception_type=type(e).__name__, message=clean(e))
        return rec
    rec["layer"] = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    inputs = [keras.Input(batch_shape=tuple(s)) for s in shapes]
    try:
        out = layer(inputs)
    except Exception as e:  # noqa: BLE001
        rec.update(stage="build", exception_type=type(e).__name__, message=clean(e))
        return rec
    rec["output_shape"] = list(out.shape)
    arrays = [
        rng.standard_normal([2] + [d if d is not None else 3 for d in s[1:]]).astype("float32")
        for s in shapes
    ]
    try:
        y = np.asarray(layer(arrays))
    except Exception as e:  # noqa: BLE001
        rec.update(stage="call", exception_type=type(e).__name__, message=clean(e))
        return rec
    rec["inputs"] = [a.tolist() for a in arrays]
    rec["output"] = y.astype("float32").tolist()
    return rec


def two_inputs(out):
    """A model whose `model.inputs` order is the reverse of its layer order."""
    keras.utils.set_random_seed(3)
    a = keras.Input((6, 6, 3), name="image")
    b = keras.Input((6, 6, 2), name="mask")
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(a)
    y = keras.layers.Conv2D(4, 1, name="conv_b")(b)
    s = keras.layers.Add(name="add")([x, y])
    d = keras.layers.Subtract(name="sub")([x, y])
    m = keras.layers.Multiply(name="mul")([s, d])
    c = keras.layers.Concatenate(name="cat")([m, b])
    g = keras.layers.GlobalAveragePooling2D(name="gap")(c)
    h = keras.layers.Dense(5, name="dense")(g)
    v = keras.layers.Dot(axes=1, normalize=True, name="cos")([h, h])
    model = keras.Model([b, a], [h, v], name="two_inputs")
    model.save(os.path.join(out, "two_inputs.keras"))
    rng = np.random.default_rng(11)
    x0 = rng.standard_normal((1, 6, 6, 2)).astype("float32")
    x1 = rng.standard_normal((1, 6, 6, 3)).astype("float32")
    np.save(os.path.join(out, "x0.npy"), x0)
    np.save(os.path.join(out, "x1.npy"), x1)
    expected = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        sub = keras.Model(model.inputs, layer.output)
        expected[layer.name] = np.asarray(sub([x0, x1])).astype("float32")
    np.savez(os.path.join(out, "expected.npz"), **expected)


def check_pytorch(out, records):
    """Exports each accepted case's model with convscope and runs it with PyTorch."""
    import importlib.util
    import subprocess
    import tempfile

    import torch

    binary = os.path.join(os.path.dirname(__file__), "..", "target", "release", "convscope")
    tmp = tempfile.mkdtemp()
    worst, n = 0.0, 0
    jobs = []
    for r in records:
        if "output" not in r:
            continue
        keras.backend.clear_session()
        ins = [keras.Input(batch_shape=tuple(s)) for s in r["input_shapes"]]
        layer = keras.layers.deserialize(r["layer"])
        model = keras.Model(ins, layer(ins))
        path = os.path.join(tmp, r["id"] + ".keras")
        model.save(path)
        xs = [np.asarray(a, dtype="float32") for a in r["inputs"]]
        jobs.append((r["id"], path, xs, [np.asarray(r["output"], dtype="float32")]))
    d = out
    e = np.load(os.path.join(d, "expected.npz"))
    x = [np.load(os.path.join(d, "x0.npy")), np.load(os.path.join(d, "x1.npy"))]
    jobs.append(("two_inputs", os.path.join(d, "two_inputs.keras"), x, [e["dense"], e["cos"]]))
    for cid, path, xs, want in jobs:
        py = os.path.join(tmp, cid + ".py")
        done = subprocess.run([binary, "export", path, "--format", "pytorch", "--out", py],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{cid}: not exported: {done.stderr.strip()}")
            continue
        try:
            spec = importlib.util.spec_from_file_location(cid, py)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            cls = [v for v in vars(mod).values() if isinstance(v, type)
                   and issubclass(v, torch.nn.Module) and v is not torch.nn.Module][0]
            m = mod.load_keras_weights(cls().eval(), py[:-3] + ".npz")
            with torch.no_grad():
                got = m(*[torch.from_numpy(a) for a in xs])
        except Exception as ex:  # noqa: BLE001
            print(f"{cid}: FAILED in PyTorch: {ex}")
            worst = float("inf")
            continue
        got = got if isinstance(got, tuple) else (got,)
        for g, w in zip(got, want):
            err = float(np.abs(g.numpy() - w).max()) / max(1.0, float(np.abs(w).max()))
            worst = max(worst, err)
            n += 1
            print(f"{cid}: {'ok' if err <= 1e-5 else 'DIFFERS'} (rel {err:.2e})")
    print(f"pytorch: {n} outputs, worst relative error {worst:.2e}")
    return worst <= 1e-5


def main(argv):
    args = [a for a in argv[1:] if a != "--pytorch"]
    out = args[0] if args else "tests/fixtures/merges"
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    records = [run_case(*c, rng) for c in CASES]
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(records, f, indent=1)
        f.write("\n")
    two_inputs(out)
    for r in records:
        print(r["id"], r.get("stage", "ok"), r.get("message", r.get("output_shape")))
    if "--pytorch" in argv and not check_pytorch(out, records):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv)
