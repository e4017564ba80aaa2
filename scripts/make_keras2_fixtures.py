#!/usr/bin/env python3
"""Keras 2 files as their users have them, made by tf_keras (Keras 2.21 on TF 2.21).

Usage (the Keras venv plus `pip install "tf_keras==2.21.*"`):

    python scripts/make_keras2_fixtures.py tests/fixtures/keras2

Each case: model.h5 (tf.keras 2's legacy save, keras_version 2.x), input.npy and
expected/<layer>.npy (tf_keras's own outputs). Seeded: a rerun writes the same numbers.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import layers  # noqa: E402


def mobilenet_block(inp):
    """A MobileNetV2 block as tf.keras 2 writes it (DepthwiseConv2D carries `groups: 1`),
    then the Keras 2 forms of Xception's and InceptionResNetV2's layers."""
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    y = layers.BatchNormalization(name="dw_bn")(y)
    y = layers.ReLU(6.0, name="dw_relu")(y)
    y = layers.Conv2D(8, 1, use_bias=False, name="project")(y)
    x = layers.Add(name="residual")([x, y])
    # Xception's separable convolution (tf.keras 2 writes groups and kernel_* for it)
    # and InceptionResNetV2's scaled residual (written as `Custom>CustomScaleLayer`).
    from tf_keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    s = layers.SeparableConv2D(8, 3, padding="same", name="sep")(x)
    x = CustomScaleLayer(0.2, name="scaled")([x, s])
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return layers.Dense(3, activation="softmax", name="head")(x)


def op_layers(inp):
    """MobileNetV3's hard-swish and squeeze-excite as tf.keras 2 records them: `x + 3.0`,
    `* (1 / 6)` and tensor-by-tensor arithmetic become TFOpLambda layers."""
    x = layers.Conv2D(8, 3, padding="same", name="conv")(inp)
    hs = layers.ReLU(6.0, name="relu6")(x + 3.0) * (1.0 / 6.0)
    x = layers.Multiply(name="hard_swish")([x, hs])
    g = layers.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    y = x * g
    z = y - 0.5
    w = z / 2.0
    v = w + x
    f = layers.Flatten(name="flatten")(v)
    return layers.Dense(3, name="head")(f)


CASES = [("mobilenet_block", (12, 12, 3), mobilenet_block), ("op_layers", (6, 6, 3), op_layers)]


def write(root, name, shape, make):
    keras.backend.clear_session()
    keras.utils.set_random_seed(7)
    inp = keras.Input(shape, name="image")
    model = keras.Model(inp, make(inp), name=f"keras2_{name}")
    rng = np.random.default_rng(3)
    for l in model.layers:
        if isinstance(l, layers.BatchNormalization):
            w = l.get_weights()
            c = w[-1].shape
            w[-2] = rng.normal(0, 0.1, c).astype("float32")
            w[-1] = rng.uniform(0.5, 1.5, c).astype("float32")
            l.set_weights(w)
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "expected"), exist_ok=True)
    model.save(os.path.join(d, "model.h5"))
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(json.dumps(json.loads(model.to_json()), indent=2))
    x = np.random.default_rng(11).uniform(-1, 1, size=(2, *shape)).astype("float32")
    np.save(os.path.join(d, "input.npy"), x)
    probe = keras.Model(model.inputs, [l.output for l in model.layers[1:]])
    for l, y in zip(model.layers[1:], probe.predict(x, verbose=0)):
        np.save(os.path.join(d, "expected", f"{l.name}.npy"), y.astype("float32"))
    print("wrote", d)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/keras2"
    only = set(sys.argv[2:])  # optional case names: write just those
    for name, shape, make in CASES:
        if not only or name in only:
            write(root, name, shape, make)


if __name__ == "__main__":
    main()
