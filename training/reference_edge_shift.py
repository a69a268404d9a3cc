"""A diagnostic, never a tuning: how much of the disagreement with the reference network's mask
is where the edges are drawn. Segments the reference micrograph with `antemactl analyze` (bundled
model unless --model), then prints the particle IoU against network-mask.png (scale-bar box
excluded) with the predicted mask as it is, grown and shrunk by 1-3 pixels.

    .venv/bin/python training/reference_edge_shift.py [--model X.onnx]
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image
from scipy import ndimage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(os.environ.get("ANTEMA_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data")), "antema-reference")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--antemactl", default=os.path.join(ROOT, ".build/release/antemactl"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [a.antemactl, "analyze", os.path.join(REFERENCE, "image.png"), "--pixel-size", "0.06398699", "--out", tmp, "--no-pictures"]
        subprocess.run(cmd + (["--model", a.model] if a.model else []), check=True, stdout=subprocess.DEVNULL)
        predicted = np.array(Image.open(os.path.join(tmp, "images", "image_mask.png"))) > 0
    truth = np.array(Image.open(os.path.join(REFERENCE, "network-mask.png")))
    truth = (truth[..., 0] if truth.ndim == 3 else truth) > 0
    keep = np.ones_like(truth)
    keep[911:911 + 113, 822:822 + 202] = False  # the scale-bar box, x 822, y 911, 202 x 113

    def iou(p):
        p, t = p & keep, truth & keep
        return (p & t).sum() / (p | t).sum()

    cross = ndimage.generate_binary_structure(2, 1)
    print(f"as predicted: particle IoU {iou(predicted):.4f}")
    for k in (1, 2, 3):
        print(f"grown by {k} px: {iou(ndimage.binary_dilation(predicted, cross, k)):.4f}   "
              f"shrunk by {k} px: {iou(ndimage.binary_erosion(predicted, cross, k)):.4f}")


if __name__ == "__main__":
    main()
