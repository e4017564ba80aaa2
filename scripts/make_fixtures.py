#!/usr/bin/env python3
"""Keras-made fixtures for layer kinds and arguments the shared golden set lacks.

Usage (a venv with keras==3.15.1 and tensorflow-cpu==2.21.*; see keras-venv.sh):

    python scripts/make_fixtures.py tests/fixtures/golden [CASE ...]

Each case is written in the golden layout (`../shared/golden/README.md`):
config.json, model.keras, model.h5, input.npy, expected/<layer>.npy, summary.json.
Weights and inputs are seeded, so a rerun writes the same files.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402


def call_output(op):
    """The tensor an operation's call in the model produced (a nested model's `.output`
    is its own graph's, not the call's)."""
    return op._inbound_nodes[0].output_tensors[0]



def cases():
    """(name, input shape, layers — or a function from the input to the output, for a
    Functional model) for every case."""
    return [
        (
            "stack_reshape",
            (6, 6, 3),
            lambda: [
                layers.Conv2D(8, 3, activation="relu"),
                layers.Reshape((-1, 8)),
                layers.Dense(5),
                layers.Reshape((4, 2, 10)),
                layers.Conv2D(4, 1),
                layers.Reshape((32,)),
                layers.Dense(3, activation="softmax"),
            ],
        ),
        (
            "stack_layer_norm",
            (5, 4, 6),
            lambda: [
                layers.Conv2D(6, 2),
                layers.LayerNormalization(
                    gamma_initializer="random_normal", beta_initializer="random_uniform"
                ),
                layers.LayerNormalization(axis=[1, 2, 3], center=False, epsilon=1e-6,
                                          gamma_initializer="random_normal"),
                layers.LayerNormalization(axis=[-1, 1], gamma_initializer="random_normal",
                                          beta_initializer="random_uniform"),
                layers.LayerNormalization(scale=False, beta_initializer="random_uniform"),
                layers.LayerNormalization(rms_scaling=True, gamma_initializer="random_normal"),
                layers.Dense(3),
                layers.LayerNormalization(axis=1, gamma_initializer="random_normal"),
            ],
        ),
        (
            "stack_softmax_axes",
            (5, 4, 3),
            lambda: [
                layers.Conv2D(6, 2),
                layers.Softmax(axis=[1, 2]),
                layers.Softmax(axis=(1, 3)),
                layers.Softmax(axis=2),
            ],
        ),
        (
            "stack_permute",
            (4, 5, 3),
            lambda: [
                layers.Conv2D(6, 2),
                layers.Permute((2, 1, 3)),
                layers.Conv2D(4, 2, activation="relu"),
                layers.Permute((3, 1, 2)),
                layers.Reshape((-1, 6)),
                layers.Permute((2, 1)),
                layers.Dense(2),
            ],
        ),
        ("graph_ops", (6, 6, 3), graph_ops),
        ("graph_nested", (8, 8, 3), graph_nested),
        ("graph_normalization", (6, 5, 3), graph_normalization),
        ("graph_custom_scale", (5, 5, 2), graph_custom_scale),
    ]


def graph_ops(inp):
    """keras.ops arithmetic as MobileNetV3 and ConvNeXt use it: numbers on either side,
    two tensors, broadcasting (a per-channel gate)."""
    from keras import ops

    c = layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    hs = layers.ReLU(6.0, name="relu6")(c + 3.0) * 0.16666666  # hard-swish gate
    res = ops.add(c, hs)
    gate = layers.GlobalAveragePooling2D(keepdims=True, name="gap")(res)
    scaled = ops.multiply(res, gate)
    left = 1.0 - scaled
    halved = ops.divide(left, 2)
    quart = halved / 4.0
    diff = ops.subtract(quart, c)
    flat = layers.Flatten(name="flatten")(diff)
    return layers.Dense(3, name="dense")(flat)


def graph_normalization(inp):
    """Normalization as applications use it: statistics given (ConvNeXt) or adapted and
    saved as weights (EfficientNet), over channels, the whole tensor, pixels, or two
    axes with a nested-list mean; and inverted."""
    rng = np.random.default_rng(5)
    data = rng.normal(0.4, 1.5, size=(16, *inp.shape[1:])).astype("float32")

    def adapted(**kw):
        # Built on the model's input (as a saved model's layer is), then given the
        # statistics adapt() would compute: keeps build_config's batch axis None.
        n = layers.Normalization(**kw)
        n.build((None, *inp.shape[1:]))
        keep = [a % 4 for a in n.axis]
        reduce = tuple(a for a in range(4) if a not in keep)
        n.set_weights([data.mean(axis=reduce), data.var(axis=reduce), np.array(len(data))])
        n.finalize_state()
        return n

    h, c = inp.shape[1], inp.shape[3]
    branches = [
        layers.Normalization(mean=[0.5, 0.2, -0.1], variance=[0.25, 1.0, 4.0], name="given")(inp),
        adapted(name="adapted")(inp),
        adapted(axis=None, name="whole")(inp),
        adapted(axis=(1, 2), name="pixels")(inp),
        layers.Normalization(mean=0.3, variance=2.0, invert=True, name="inverted")(inp),
        layers.Normalization(
            axis=[1, 3],
            mean=rng.normal(size=(h, c)).round(3).tolist(),
            variance=rng.uniform(0.5, 2, size=(h, c)).round(3).tolist(),
            name="rows_channels",
        )(inp),
    ]
    joined = layers.Concatenate(name="joined")(branches)
    return layers.Conv2D(4, 1, name="mix")(joined)


def graph_custom_scale(inp):
    """InceptionResNetV2's residual: shortcut + 0.17 · branch, by its own layer class."""
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    short = layers.Conv2D(4, 1, name="shortcut")(inp)
    branch = layers.Conv2D(4, 3, padding="same", name="branch")(inp)
    mixed = CustomScaleLayer(scale=0.17, name="scaled_sum")([short, branch])
    return layers.Activation("relu", name="out")(mixed)


def summary(model):
    out = []
    ops = model.layers if isinstance(model, keras.Sequential) else model.operations
    for l in ops:
        t = sum(int(np.prod(w.shape)) for w in getattr(l, "trainable_weights", []))
        n = sum(int(np.prod(w.shape)) for w in getattr(l, "non_trainable_weights", []))
        out.append(
            {
                "name": l.name,
                "class_name": l.__class__.__name__,
                "output_shape": list(call_output(l).shape),
                "params": t + n,
                "trainable_params": t,
                "non_trainable_params": n,
            }
        )
    total = sum(x["params"] for x in out)
    trainable = sum(x["trainable_params"] for x in out)
    return {
        "layers": out,
        "total_params": total,
        "trainable_params": trainable,
        "non_trainable_params": total - trainable,
    }


def nested_outputs(m, x):
    """(layer name, output) of every layer of a model used as a layer, on input `x`."""
    if isinstance(m, keras.Sequential):
        out, y = [], x
        for l in m.layers:
            y = l(y)
            out.append((l.name, y))
        return out
    ops = m.operations[1:]
    probe = keras.Model(m.inputs, [call_output(o) for o in ops])
    return list(zip([o.name for o in ops], probe(x)))


def graph_nested(inp):
    """ConvNeXt's structure: a nested Sequential stem (Conv2D + LayerNormalization), a
    nested Functional block, and a block with Dense on 4-D, gelu, LayerScale and the
    residual add as an operation."""
    from keras.src.applications.convnext import LayerScale

    stem = keras.Sequential(
        [layers.Conv2D(8, 2, strides=2, name="stem_conv"),
         layers.LayerNormalization(epsilon=1e-6, name="stem_ln")],
        name="stem",
    )
    x = stem(inp)
    i2 = keras.Input((None, None, 8), name="block_in")
    y = layers.Conv2D(8, 3, padding="same", groups=8, name="block_dw")(i2)
    y = layers.Dense(16, name="block_pw1")(y)
    y = layers.Activation("gelu", name="block_gelu")(y)
    y = layers.Dense(8, name="block_pw2")(y)
    y = LayerScale(0.5, 8, name="block_scale")(y)
    block = keras.Model(i2, y, name="block")
    x = x + block(x)
    return layers.Conv2D(3, 1, name="head")(x)


def write(root, name, shape, make):
    keras.backend.clear_session()
    keras.utils.set_random_seed(7)
    if make.__code__.co_argcount == 1:
        inp = keras.Input(shape=shape, name="input")
        model = keras.Model(inp, make(inp), name=name)
    else:
        model = keras.Sequential([keras.Input(shape=shape), *make()], name=name)
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "expected"), exist_ok=True)
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, size=(2, *shape)).astype("float32")
    np.save(os.path.join(d, "input.npy"), x)
    model.save(os.path.join(d, "model.keras"))
    model.save(os.path.join(d, "model.h5"))
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(json.dumps(json.loads(model.to_json()), indent=2))
    if isinstance(model, keras.Sequential):
        y = x
        for l in model.layers:
            y = l(y)
            np.save(os.path.join(d, "expected", f"{l.name}.npy"), np.asarray(y, dtype="float32"))
    else:
        ops = model.operations[1:]
        probe = keras.Model(model.inputs, [call_output(o) for o in ops])
        values = dict(zip([o.name for o in ops], probe(x)))
        for o in ops:
            np.save(os.path.join(d, "expected", f"{o.name}.npy"), np.asarray(values[o.name], dtype="float32"))
        for o in ops:
            if isinstance(o, keras.Model):
                # A nested model's own layers, on what it was called with.
                src = o._inbound_nodes[0].input_tensors[0]
                inner_in = x if src is model.inputs[0] else values[src._keras_history[0].name]
                for l, y in nested_outputs(o, inner_in):
                    np.save(os.path.join(d, "expected", f"{l}.npy"), np.asarray(y, dtype="float32"))
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(summary(model), f, indent=2)
    print("wrote", d)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/golden"
    only = set(sys.argv[2:])  # optional case names: write just those
    for name, shape, make in cases():
        if not only or name in only:
            write(root, name, shape, make)


if __name__ == "__main__":
    main()
