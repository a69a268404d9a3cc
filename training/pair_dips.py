"""A diagnostic: how deep a model's distance map dips between the two particles of each
overlapping pair, the quantity the pipeline's summit markers need (a summit seeds a particle
where it stands at least 0.2 above its pass, docs/inference.md).

    .venv/bin/python training/make_testset.py --out /tmp/antema-pairs-png --pairs -n 150 --size 320 --seed 2027 --png
    .venv/bin/python training/pair_dips.py --model X.onnx [--pairs /tmp/antema-pairs-png]

The PNG copy of the pair test set (the same micrographs as the DM3 set, 8-bit, the pixel size
in the manifest). Each frame is brought to the network as the engine does (frames finer than
0.1 nm/px area-averaged to it; robust normalisation), the distance probability smoothed by
1.5 px inside the foreground (> 0.5). Each true particle's summit is the map's highest point
inside it; the pass between the two is the highest level at which both summits are still
connected (8-connected, by bisection). The dip is the lower summit minus the pass. Prints, per
particle size at the network, the share of pairs whose map dips at least 0.2, 0.1 and 0.05, and
the median dip and summit. onnxruntime, one thread; about a minute.
"""
import argparse
import csv
import os

import numpy as np
import onnxruntime as ort
from PIL import Image
from scipy import ndimage

import instances
import simulate
from train_instance import pad_to

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORK_PIXEL_NM = 0.1


def dip(d, a, b, steps=20):
    """The lower of the summits at pixels a and b minus the highest level at which they are connected in d."""
    lo, hi = 0.0, float(min(d[a], d[b]))
    for _ in range(steps):
        t = (lo + hi) / 2
        comp, _ = ndimage.label(d >= t, structure=np.ones((3, 3)))
        if comp[a] > 0 and comp[a] == comp[b]:
            lo = t
        else:
            hi = t
    return float(min(d[a], d[b])) - lo


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "Sources/DefaultModel/Resources/antema-unet-instance.onnx"))
    ap.add_argument("--pairs", default="/tmp/antema-pairs-png")
    a = ap.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(a.model, options)
    rows = []
    for r in csv.DictReader(open(os.path.join(a.pairs, "manifest.csv"))):
        p = float(r["pixel_size_nm"])
        img = np.asarray(Image.open(os.path.join(a.pairs, "images", r["image"] + ".png"))).astype(np.float32)
        lab = np.asarray(Image.open(os.path.join(a.pairs, "labels", r["image"] + ".png"))).astype(np.int32)
        if p < NETWORK_PIXEL_NM:
            m = int(round(img.shape[0] * p / NETWORK_PIXEL_NM))
            resample = simulate.area_resample_matrix(img.shape[0], m)
            img = resample @ img @ resample.T
            lab = np.asarray(Image.fromarray(lab.astype(np.uint8)).resize((m, m), Image.NEAREST)).astype(np.int32)
        x = instances.robust_normalize(img)
        h, w = x.shape
        out = session.run(None, {session.get_inputs()[0].name: pad_to(x, 16)[None, None]})[0][0, :, :h, :w]
        prob = 1 / (1 + np.exp(-out))
        d = np.where(prob[0] > 0.5, ndimage.gaussian_filter(prob[1], 1.5), 0)
        summits = []
        for k in (1, 2):
            inside = lab == k
            if inside.any():
                summits.append(np.unravel_index(np.argmax(np.where(inside, d, -1)), d.shape))
        if len(summits) < 2:
            continue
        size = float(r["mean_diameter_px"]) * min(1.0, p / NETWORK_PIXEL_NM)
        rows.append((size, dip(d, *summits), float(min(d[summits[0]], d[summits[1]]))))
    rows = np.array(rows)
    print(f"{os.path.basename(a.model)}: {len(rows)} pairs")
    for name, lo, hi in (("< 15 px", 0, 15), ("15-30 px", 15, 30), (">= 30 px", 30, 1e9), ("all", 0, 1e9)):
        sel = rows[(rows[:, 0] >= lo) & (rows[:, 0] < hi)]
        print(f"  {name:9} n={len(sel):3}  dip >= 0.2: {np.mean(sel[:, 1] >= 0.2):.2f}  >= 0.1: {np.mean(sel[:, 1] >= 0.1):.2f}  "
              f">= 0.05: {np.mean(sel[:, 1] >= 0.05):.2f}  median dip {np.median(sel[:, 1]):.3f}  median summit {np.median(sel[:, 2]):.2f}")


if __name__ == "__main__":
    main()
