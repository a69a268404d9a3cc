"""A diagnostic, never a tuning: how much of the reference micrograph's gap (particle IoU 0.80
asked, 0.718 through antemactl) test-time augmentation or the input's contrast would close.
Runs an ONNX model (the bundled instance model by default) with onnxruntime on the reference
image brought to the network as the engine does (area-averaged to 0.1 nm/px, robust
normalisation with the scale-bar box left out), bilinear back to the image's pixels, threshold
0.5, no clean-up; prints the particle IoU against network-mask.png with the box excluded from the
score, for: the plain pass; the mean of four flips and rotations; passes at coarser network pixel
sizes alone and averaged with the plain one; the normalisation with the box included; and the
normalised input scaled by 0.5-1.2 (the network's response to contrast); and the network's input
reflect-padded by 32 and 64 px (whether the frame's edges cost it particles there); eight views
(the four flips at 0.1 and at 0.14 nm/px) averaged; and a threshold per particle, the last two
also scored over the whole frame (the box included, as the issue's bar asks).

    .venv/bin/python training/reference_tta.py [--model X.onnx]
"""
import argparse
import os

import numpy as np
import onnxruntime as ort
from PIL import Image
from scipy import ndimage

import instances
import simulate
from train_instance import pad_to

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(os.environ.get("ANTEMA_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data")), "antema-reference")
PIXEL_NM = 0.06398699
BOX = (911, 822)  # the scale-bar box: rows 911-1023, columns 822-1023


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "Sources/DefaultModel/Resources/antema-unet-instance.onnx"))
    a = ap.parse_args()
    img = np.asarray(Image.open(os.path.join(REFERENCE, "image.png")).convert("L")).astype(np.float64)
    truth = np.asarray(Image.open(os.path.join(REFERENCE, "network-mask.png")))
    truth = (truth[..., 0] if truth.ndim == 3 else truth) > 0
    keep = np.ones_like(truth)
    keep[BOX[0]:, BOX[1]:] = False
    session = ort.InferenceSession(a.model)
    n = img.shape[0]

    def iou(mask, whole=False):
        # the scale-bar box left out of the score, or (whole) the whole frame scored, as the bar asks
        p, t = (mask, truth) if whole else (mask & keep, truth & keep)
        return (p & t).sum() / (p | t).sum()

    def run(network_nm=0.1, flips=False, box_in_normalisation=False, gain=1.0, reflect=0):
        m = int(round(n * PIXEL_NM / network_nm))
        r = simulate.area_resample_matrix(n, m)
        small = r @ img @ r.T
        exclude = None
        if not box_in_normalisation:
            exclude = np.zeros_like(small, bool)
            exclude[int(BOX[0] * m / n):, int(BOX[1] * m / n):] = True
        x = np.clip(instances.robust_normalize(small, exclude=exclude) * gain, -6, 6).astype(np.float32)
        total, count = 0.0, 0
        for flip, rot in ([(False, 0)] if not flips else [(False, 0), (True, 0), (False, 1), (True, 1)]):
            xi = x[:, ::-1] if flip else x
            xi = np.ascontiguousarray(np.rot90(xi, rot))
            h, w = xi.shape
            xp = np.pad(xi, reflect, mode="reflect") if reflect else xi
            o = session.run(None, {session.get_inputs()[0].name: pad_to(xp, 16)[None, None]})[0][0, 0, reflect:reflect + h, reflect:reflect + w]
            o = np.rot90(o, -rot)
            o = o[:, ::-1] if flip else o
            total, count = total + 1 / (1 + np.exp(-o)), count + 1
        z = ndimage.zoom(total / count, n / m, order=1)
        z = z[:n, :n] if z.shape[0] >= n else np.pad(z, ((0, n - z.shape[0]), (0, n - z.shape[1])), mode="edge")
        return z

    plain = run()
    print(f"plain pass (network at 0.1 nm/px): {iou(plain > 0.5):.4f}")
    flipped = run(flips=True)
    print(f"four flips and rotations averaged: {iou(flipped > 0.5):.4f}")
    for nm in (0.115, 0.125, 0.14):
        z = run(nm)
        print(f"network at {nm} nm/px: {iou(z > 0.5):.4f}; averaged with the plain pass: {iou((z + plain) / 2 > 0.5):.4f}")
    print(f"scale-bar box inside the normalisation's statistics: {iou(run(box_in_normalisation=True) > 0.5):.4f}")
    for gain in (0.5, 0.6, 0.7, 0.8, 0.9, 1.2):
        z = run(gain=gain) > 0.5
        print(f"normalised input x {gain}: {iou(z):.4f} (foreground {z.mean():.3f}, the reference's {truth.mean():.3f})")
    for pad in (32, 64):
        print(f"input reflect-padded by {pad} px: {iou(run(reflect=pad) > 0.5):.4f}")

    eight = (flipped + run(0.14, flips=True)) / 2
    print(f"eight views (four flips at 0.1 and at 0.14 nm/px) averaged: {iou(eight > 0.5):.4f}, "
          f"whole frame {iou(eight > 0.5, whole=True):.4f} (plain pass {iou(plain > 0.5, whole=True):.4f})")
    # a threshold per particle: each component of the probability above `low` kept where it
    # reaches `share` of its own peak, components whose peak is under `floor` dropped
    for low in (0.25, 0.35, 0.45):
        labels, n = ndimage.label(plain > low)
        peaks = np.concatenate([[0.0], ndimage.maximum(plain, labels, index=np.arange(1, n + 1))])[labels]
        for share in (0.5, 0.6, 0.7, 0.8):
            for floor in (0.5, 0.6):
                m = (plain > low) & (plain >= share * peaks) & (peaks > floor)
                print(f"per particle: above {low}, {share} of its peak, peak over {floor}: whole frame {iou(m, whole=True):.4f}")


if __name__ == "__main__":
    main()
