"""Checks a model's tileMarginPx against its receptive field with onnxruntime: a simulated image
is run whole and as two tiles that keep their centres (as the engine's segmentation runner does);
with a margin past the receptive radius the probabilities are identical.

    .venv/bin/python training/check_tile_margin.py [--model Sources/DefaultModel/Resources/antema-unet.onnx]

Prints the largest probability difference at the model's margin and at a quarter of it.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simulate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "Sources/DefaultModel/Resources/antema-unet.onnx"))
    a = ap.parse_args()
    meta = json.load(open(os.path.splitext(a.model)[0] + ".json"))
    m, margin = meta["sizeMultiple"], meta["tileMarginPx"]
    img, _, _ = simulate.simulate(np.random.default_rng(11), 768, pixel_size_nm=0.3, version=2)
    x = ((img - img.mean()) / img.std()).astype(np.float32)[None, None]
    session = ort.InferenceSession(a.model)
    prob = lambda v: 1 / (1 + np.exp(-session.run(None, {"image": v})[0][0, 0]))  # noqa: E731
    whole = prob(x)
    seam = 384  # two tiles along x meet here; each keeps what lies at least `margin` from its cut edge
    for k in (margin, max(m, margin // 4 // m * m)):
        left, right = prob(x[..., :seam + k]), prob(x[..., seam - k:])
        tiled = np.concatenate([left[:, :seam], right[:, k:]], axis=1)
        print(f"margin {k} px: largest probability difference between whole and tiled {np.abs(whole - tiled).max():.3g}")


if __name__ == "__main__":
    main()
