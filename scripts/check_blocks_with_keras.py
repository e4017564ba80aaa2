#!/usr/bin/env python3
"""Checks the graph designer's block templates against real Keras.

For every case below, `convscope block KIND --input H,W,C [--arg K=V ...]` writes the
block as config JSON; convscope exports it as Keras Python (`export --format python`)
and as a .keras archive with seeded weights (`export --format keras`). Then:

  * `keras.models.model_from_json` on the JSON, the model the Python code builds and
    `keras.saving.load_model` on the .keras all give convscope's summary (every layer's
    name, class, output shape and parameter count, from `convscope summary --json`);
  * the .keras model run by Keras on a random input gives every layer's output that
    `convscope run` gives on the same file and input
    (|got - want| <= 1e-4 * max(1, max|want|));
  * with torch installed, the PyTorch export (`export --format pytorch`) of the .keras
    gives Keras's output of the block.

Usage (in a venv with keras and tensorflow-cpu; scripts/keras-venv.sh makes one):
    python scripts/check_blocks_with_keras.py target/release/convscope
Prints one line per failure and a closing 'N passed, N failed' line.
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import keras  # noqa: E402

# (kind, input shape, block arguments): every template, and the branches of its rules
# (projection or identity shortcut, stride-2 padding on even and odd sizes).
CASES = [
    ("basic", (32, 32, 64), {}),
    ("basic", (32, 32, 32), {"filters": 64, "stride": 2}),
    ("bottleneck", (16, 16, 256), {}),
    ("bottleneck", (16, 16, 64), {"filters": 32, "stride": 2}),
    ("preact", (16, 16, 64), {}),
    ("preact", (16, 16, 256), {"stride": 2}),
    ("inverted-residual", (16, 16, 24), {}),
    ("inverted-residual", (16, 16, 16), {"stride": 2}),
    ("inverted-residual", (15, 15, 16), {"stride": 2, "expansion": 4}),
    ("se", (8, 8, 32), {}),
    ("inception", (35, 35, 192), {}),
    ("dense-block", (16, 16, 64), {"blocks": 3}),
    ("transition", (16, 16, 128), {}),
    ("unet", (32, 32, 3), {"depth": 2, "filters": 8}),
]


def summary_of(model):
    return [
        {
            "name": op.name,
            "class_name": op.__class__.__name__,
            "output_shape": list(op.output.shape),
            "params": op.count_params() if hasattr(op, "count_params") else 0,
        }
        for op in model.operations
    ]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    return r.stdout


def check_pytorch(exe, base, x, want):
    """The PyTorch export of the .keras, run on `x`, against Keras's last output
    `want`: the relative error, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    import importlib.util
    import re

    py = base + "_torch.py"
    run([exe, "export", base + ".keras", "--format", "pytorch", "--out", py])
    spec = importlib.util.spec_from_file_location(os.path.basename(base) + "_torch", py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with open(py) as f:
        cls = re.search(r"^class (\w+)\(nn\.Module\)", f.read(), re.M).group(1)
    model = mod.load_keras_weights(getattr(mod, cls)(), base + "_torch.npz").eval()
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    if got.shape != want.shape:
        raise RuntimeError(f"PyTorch export: shape {got.shape} vs Keras {want.shape}")
    err = float(np.max(np.abs(got - want))) / max(1.0, float(np.max(np.abs(want))))
    if err > 1e-4:
        raise RuntimeError(f"PyTorch export: relative error {err:.2e}")
    return err


def main():
    exe = sys.argv[1]
    tmp = tempfile.mkdtemp()
    passed = failed = 0
    rng = np.random.default_rng(7)
    for k, (kind, shape, args) in enumerate(CASES):
        label = f"{kind} {shape} {args}"
        base = os.path.join(tmp, f"case{k}")
        try:
            cmd = [exe, "block", kind, "--input", ",".join(map(str, shape)), "--out", base + ".json"]
            for key, v in args.items():
                cmd += ["--arg", f"{key}={v}"]
            run(cmd)
            run([exe, "export", base + ".json", "--format", "python", "--out", base + ".py"])
            run([exe, "export", base + ".json", "--format", "keras", "--seed", "3", "--out", base + ".keras"])
            want = [
                {key: layer[key] for key in ("name", "class_name", "output_shape", "params")}
                for layer in json.loads(run([exe, "summary", "--json", base + ".json"]))["layers"]
            ]
            with open(base + ".json") as f:
                from_json = keras.models.model_from_json(f.read())
            scope = {"__name__": "convscope_export"}
            with open(base + ".py") as f:
                exec(compile(f.read(), base + ".py", "exec"), scope)
            loaded = keras.saving.load_model(base + ".keras")
            for how, model in (("json", from_json), ("python", scope["model"]), ("keras", loaded)):
                got = summary_of(model)
                if got != want:
                    raise RuntimeError(f"{how} summary differs:\n got {got}\n want {want}")
            x = rng.standard_normal((1, *shape)).astype("float32")
            np.save(base + "_in.npy", x)
            run([exe, "run", base + ".keras", "--input", base + "_in.npy", "--out", base + "_out"])
            layers = [l for l in loaded.layers if not isinstance(l, keras.layers.InputLayer)]
            probe = keras.Model(loaded.inputs, [l.output for l in layers])
            outs = probe(x)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            worst = 0.0
            for layer, got in zip(layers, outs):
                mine = np.load(os.path.join(base + "_out", f"{layer.name}.npy"))
                got = np.asarray(got)
                if mine.shape != got.shape:
                    raise RuntimeError(f"{layer.name}: shape {mine.shape} vs Keras {got.shape}")
                err = float(np.max(np.abs(mine - got))) / max(1.0, float(np.max(np.abs(got))))
                worst = max(worst, err)
                if err > 1e-4:
                    raise RuntimeError(f"{layer.name}: relative error {err:.2e}")
            torch_err = check_pytorch(exe, base, x, np.asarray(outs[-1]))
            print(
                f"ok {label}: {len(want)} layers, worst relative error {worst:.1e}"
                + ("" if torch_err is None else f", PyTorch export {torch_err:.1e}")
            )
            passed += 1
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL {label}: {e}")
        keras.backend.clear_session()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
