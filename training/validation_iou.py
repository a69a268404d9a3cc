"""Particle IoU of ONNX models on one of train.py's fixed simulated validation sets (64 tiles,
pixel counts pooled), so that checkpoints of different runs are compared on the same tiles.

    .venv/bin/python training/validation_iou.py --models a.onnx,b.onnx --seed 1005 --tile 256 [--sim-version 4]

train.py draws its validation set with seed = its --seed + 1000 (stage 3 of model 2.1: 1005 at
256 x 256; the 512 x 512 comparison in training/README.md uses 1006).
"""
import argparse
import os
import sys

import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import validation_set  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True, help="comma-separated ONNX files")
    ap.add_argument("--seed", type=int, default=1005)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--sim-version", type=int, default=4)
    a = ap.parse_args()
    xs, ys = validation_set(a.seed, 64, a.tile, a.sim_version)
    options = ort.SessionOptions(); options.intra_op_num_threads = 2
    for path in a.models.split(","):
        session = ort.InferenceSession(path, options)
        inter = union = 0
        for k in range(len(xs)):
            pred = session.run(None, {"image": xs[k:k + 1].numpy()})[0] > 0
            truth = ys[k:k + 1].numpy() > 0.5
            inter += (pred & truth).sum(); union += (pred | truth).sum()
        print(f"{path}: validation IoU {inter / union:.4f} (seed {a.seed}, {a.tile} x {a.tile}, simulator v{a.sim_version})")


if __name__ == "__main__":
    main()
