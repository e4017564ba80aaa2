"""Gradients made by real Keras, as ../shared/golden's grads/ were made.

For each case folder given (with model.keras and input.npy), writes grads/:
cotangent.npy (seeded N(0, 1) of the output's shape; one already there is kept), input.npy (d sum(output *
cotangent) / d input, inference mode) and <layer>/<i>.npy for every trainable weight, i
its index in the layer's get_weights(). Keras 3 on the JAX backend: jax.grad of
model.stateless_call(training=False), as the golden README says.

    KERAS_BACKEND=jax python scripts/keras_grads.py tests/fixtures/golden/stack_layer_norm ...
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402


def weight_names(model):
    """id(variable) -> (layer name, index in that layer's get_weights())."""
    names = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.Model):
            continue
        for i, v in enumerate(layer.weights):
            names.setdefault(id(v), (layer.name, i))
    return names


def case_grads(case, seed=0):
    model = keras.saving.load_model(os.path.join(case, "model.keras"), compile=False)
    x = np.load(os.path.join(case, "input.npy"))
    y = np.asarray(model(x, training=False))
    given = os.path.join(case, "grads", "cotangent.npy")
    if os.path.exists(given):
        cot = np.load(given)  # made before: the same scalar again
    else:
        cot = np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]

    def scalar(tv, x):
        out, _ = model.stateless_call(tv, ntv, x, training=False)
        return jnp.sum(out * cot)

    g_tv, g_x = jax.grad(scalar, argnums=(0, 1))(tv, jnp.asarray(x))
    out = os.path.join(case, "grads")
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "cotangent.npy"), cot)
    np.save(os.path.join(out, "input.npy"), np.asarray(g_x, dtype=np.float32))
    names = weight_names(model)
    for v, g in zip(model.trainable_variables, g_tv):
        layer, i = names[id(v)]
        d = os.path.join(out, layer)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, f"{i}.npy"), np.asarray(g, dtype=np.float32))
    print(f"{case}: {len(g_tv)} weight gradients")


if __name__ == "__main__":
    for c in sys.argv[1:]:
        case_grads(c)
