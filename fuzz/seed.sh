#!/usr/bin/env bash
# Seed corpora from the Keras golden cases (../shared/golden): every config.json, every
# model.keras, model.h5 and the model.weights.h5 inside each .keras (StridedNet's 10 MB
# files left out), the small input.npy files. The image seeds (the golden photos in every
# format and colour type the decoder takes) and the .npz seeds are committed.
set -euo pipefail
cd "$(dirname "$0")"
G=${GOLDEN:-../../shared/golden}
mkdir -p seeds/{config_json,keras_zip,hdf5_weights,npy,image}
cp ../tests/fixtures/dialects/*.json ../assets/stridednet.json seeds/config_json/
tmp=$(mktemp -d)
for d in "$G"/*/; do
  n=$(basename "$d")
  [ -f "$d/config.json" ] && cp "$d/config.json" "seeds/config_json/$n.json"
  [ "$n" = stridednet ] && continue
  if [ -f "$d/model.keras" ]; then
    cp "$d/model.keras" "seeds/keras_zip/$n.keras"
    unzip -o -q "$d/model.keras" model.weights.h5 -d "$tmp" && cp "$tmp/model.weights.h5" "seeds/hdf5_weights/$n.weights.h5"
  fi
  [ -f "$d/model.h5" ] && cp "$d/model.h5" "seeds/hdf5_weights/$n.h5"
  if [ -f "$d/input.npy" ] && [ "$(stat -c %s "$d/input.npy")" -lt 70000 ]; then
    cp "$d/input.npy" "seeds/npy/$n.npy"
  fi
done
rm -rf "$tmp"
