"""Training steps made by real Keras for optimizers, arguments and losses the golden
train/ cases do not cover: three train_on_batch steps on a golden case's model and input,
written as tests/fixtures/train_extra/<name>/ in the golden train/<opt>/ layout
(losses.json with the optimizer config, the loss spec as `convscope train --loss` takes
it and the case it runs on; target.npy; weights/<layer>/<i>.npy after the steps).

    KERAS_BACKEND=jax python scripts/keras_train.py [--golden tests/fixtures/golden]
"""
import argparse
import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--golden", default="tests/fixtures/golden")
ap.add_argument("--out", default="tests/fixtures/train_extra")
args = ap.parse_args()

O = keras.optimizers
CASES = [
    # name, golden case, optimizer, loss spec, keras loss, target kind
    ("nadam", "stack_conv_maxpool", lambda: O.Nadam(1e-3), "mse", "mse", "normal"),
    ("adagrad", "stack_conv_bn_act", lambda: O.Adagrad(0.05), "mse", "mse", "normal"),
    ("sgd_plain", "stack_conv_avgpool", lambda: O.SGD(0.05), "mse", "mse", "normal"),
    ("sgd_momentum", "stack_conv_avgpool", lambda: O.SGD(0.02, momentum=0.8), "mse", "mse", "normal"),
    ("rmsprop_centered_momentum", "stack_conv_maxpool",
     lambda: O.RMSprop(1e-3, rho=0.8, momentum=0.5, centered=True), "mse", "mse", "normal"),
    ("adam_amsgrad_clipnorm", "stack_separable",
     lambda: O.Adam(1e-2, amsgrad=True, clipnorm=0.1), "mse", "mse", "normal"),
    ("sgd_global_clipnorm", "stack_transpose",
     lambda: O.SGD(0.05, global_clipnorm=0.05), "mse", "mse", "normal"),
    ("adam_clipvalue", "stack_upsampling", lambda: O.Adam(1e-2, clipvalue=1e-3), "mse", "mse", "normal"),
    ("mae", "stack_conv_bn_act", lambda: O.SGD(0.05), "mae", "mae", "normal"),
    ("huber", "stack_conv_bn_act", lambda: O.SGD(0.05), "huber:delta=0.5",
     keras.losses.Huber(delta=0.5), "normal"),
    ("cce_smoothing", "img_chelsea_32", lambda: O.SGD(0.1),
     "categorical_crossentropy:label_smoothing=0.1",
     keras.losses.CategoricalCrossentropy(label_smoothing=0.1), "onehot"),
    ("sparse_cce", "img_coffee_48x64", lambda: O.Adam(1e-2),
     "sparse_categorical_crossentropy", "sparse_categorical_crossentropy", "labels"),
    ("bce", "act_sigmoid", lambda: O.SGD(0.1), "binary_crossentropy:label_smoothing=0.2",
     keras.losses.BinaryCrossentropy(label_smoothing=0.2), "unit"),
    ("bce_logits", "act_linear", lambda: O.SGD(0.1), "binary_crossentropy:from_logits=true",
     keras.losses.BinaryCrossentropy(from_logits=True), "unit"),
]

rng = np.random.default_rng(7)
for name, case, make_opt, spec, loss, kind in CASES:
    model = keras.saving.load_model(os.path.join(args.golden, case, "model.keras"))
    x = np.load(os.path.join(args.golden, case, "input.npy"))
    out_shape = tuple(np.asarray(model(x)).shape)
    if kind == "normal":
        y = rng.standard_normal(out_shape).astype("float32")
    elif kind == "unit":
        y = rng.uniform(size=out_shape).astype("float32")
    elif kind == "onehot":
        y = np.eye(out_shape[-1], dtype="float32")[rng.integers(0, out_shape[-1], out_shape[:-1])]
    else:
        y = rng.integers(0, out_shape[-1], out_shape[:-1]).astype("float32")
    opt = make_opt()
    model.compile(optimizer=opt, loss=loss)
    losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
    d = os.path.join(args.out, name)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "target.npy"), y)
    for layer in model.layers:
        for i, w in enumerate(layer.get_weights()):
            p = os.path.join(d, "weights", layer.name)
            os.makedirs(p, exist_ok=True)
            np.save(os.path.join(p, f"{i}.npy"), w.astype("float32"))
    cfg = {k: v for k, v in opt.get_config().items() if not callable(v)}
    with open(os.path.join(d, "losses.json"), "w") as f:
        json.dump({"case": case, "optimizer": cfg, "loss": spec, "steps": 3, "losses": losses},
                  f, indent=1, default=float)
    print(name, case, losses)

# Epochs of batches from an .npz, in order (what `convscope train --data FILE.npz
# --no-shuffle` does), as train_on_batch over each batch: the last batch is partial.
for name, case, make_opt, batch, epochs in [
    ("npz_sgd", "stack_conv_avgpool", lambda: O.SGD(0.05, momentum=0.9), 4, 2),
]:
    model = keras.saving.load_model(os.path.join(args.golden, case, "model.keras"))
    x0 = np.load(os.path.join(args.golden, case, "input.npy"))
    x = rng.standard_normal((10,) + x0.shape[1:]).astype("float32")
    y = rng.standard_normal((10,) + tuple(np.asarray(model(x0)).shape[1:])).astype("float32")
    opt = make_opt()
    model.compile(optimizer=opt, loss="mse")
    losses = []
    for _ in range(epochs):
        for s in range(0, len(x), batch):
            losses.append(float(model.train_on_batch(x[s:s + batch], y[s:s + batch])))
    d = os.path.join(args.out, name)
    os.makedirs(d, exist_ok=True)
    np.savez(os.path.join(d, "data.npz"), x_train=x, y_train=y)
    for layer in model.layers:
        for i, w in enumerate(layer.get_weights()):
            p = os.path.join(d, "weights", layer.name)
            os.makedirs(p, exist_ok=True)
            np.save(os.path.join(p, f"{i}.npy"), w.astype("float32"))
    cfg = {k: v for k, v in opt.get_config().items() if not callable(v)}
    with open(os.path.join(d, "losses.json"), "w") as f:
        json.dump({"case": case, "optimizer": cfg, "loss": "mse", "batch_size": batch,
                   "epochs": epochs, "losses": losses}, f, indent=1, default=float)
    print(name, case, losses)
