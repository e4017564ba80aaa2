#!/usr/bin/env python3
"""Checks convscope's exports against real Keras.

For every case folder under GOLDEN (default ../shared/golden), runs
`convscope export <case>/model.keras --format keras-json|python` and checks that
`keras.models.model_from_json` on the JSON, and the model the Python code builds,
both give Keras's own summary (output shapes and parameter counts) for the case.

Usage (in a venv with keras and tensorflow-cpu):
    python scripts/check_exports_with_keras.py target/release/convscope [GOLDEN]
Prints one line per failure and a closing 'N passed, N failed' line.
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "jax" if False else "tensorflow")
import keras  # noqa: E402


def summary_of(model):
    layers = []
    # Keras's summary lists a Functional model's operations (x + 3.0) with its layers.
    ops = model.layers if isinstance(model, keras.Sequential) else model.operations
    for layer in ops:
        layers.append(
            {
                "name": layer.name,
                "class_name": layer.__class__.__name__,
                "output_shape": list(layer.output.shape),
                "params": layer.count_params() if hasattr(layer, "count_params") else 0,
            }
        )
    return layers


def expected_of(case):
    with open(os.path.join(case, "summary.json")) as f:
        s = json.load(f)
    return [
        {k: layer[k] for k in ("name", "class_name", "output_shape", "params")}
        for layer in s["layers"]
    ]


def main():
    exe = sys.argv[1]
    golden = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "golden"
    )
    passed = failed = 0
    tmp = tempfile.mkdtemp()
    for name in sorted(os.listdir(golden)):
        case = os.path.join(golden, name)
        if not os.path.isfile(os.path.join(case, "summary.json")):
            continue
        expected = expected_of(case)
        for fmt in ("keras-json", "python"):
            out = os.path.join(tmp, f"{name}.{fmt}")
            r = subprocess.run(
                [exe, "export", os.path.join(case, "model.keras"), "--format", fmt, "--out", out],
                capture_output=True,
                text=True,
            )
            try:
                if r.returncode != 0:
                    raise RuntimeError(f"export failed: {r.stderr.strip()}")
                if fmt == "keras-json":
                    with open(out) as f:
                        model = keras.models.model_from_json(f.read())
                else:
                    scope = {"__name__": "convscope_export"}
                    with open(out) as f:
                        exec(compile(f.read(), out, "exec"), scope)
                    model = scope["model"]
                got = summary_of(model)
                if got != expected:
                    raise RuntimeError(f"summary differs:\n got {got}\n want {expected}")
                passed += 1
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"FAIL {name} ({fmt}): {e}")
            keras.backend.clear_session()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
