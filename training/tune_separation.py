"""The sweep that chose the instance model's post-processing, on every third image of the EMPS
validation part (the rest of it was only used to report).

    .venv/bin/python training/tune_separation.py --checkpoint models/stage3b.pt

Prints instance F1 (matched / predicted / true) for the distance map raw or smoothed (sigma px)
at several core levels, then for minimum confidences (mean particle probability) on the chosen
separation. models/stage3b.pt comes from training/reproduce_instance.sh. Figures of
2026-11-29 with it (the bundled checkpoint, training/README.md): raw at 0.5 F1 0.186, smoothed
2 px at 0.5 0.451, at 0.4 0.492, at 0.3 0.453, smoothed 3 px at 0.4 0.533; minimum confidence
none 0.424, 0.6 0.556, 0.7 0.611, 0.8 0.642. The smoothing and level were chosen earlier with
stage B's step-600 checkpoint (0.147 / 0.349 / 0.425), which a later validation overwrote.
"""
import argparse
import os
import sys

import numpy as np
import torch
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emps  # noqa: E402
from instances import match_counts, robust_normalize, separate  # noqa: E402
from models import UNet  # noqa: E402
from train_instance import pad_to  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--emps", default=emps.DEFAULT_DIR)
    ap.add_argument("--separations", default="0:0.5,2:0.5,2:0.4,2:0.3,3:0.4",
                    help="smoothing sigma (px):core level pairs to compare, comma-separated")
    ap.add_argument("--confidence-separation", default="2:0.4", help="sigma:level of the separation the minimum confidences are swept on")
    a = ap.parse_args()
    torch.set_num_threads(2)
    model = UNet((16, 32, 64, 128, 256), cout=2)
    model.load_state_dict(torch.load(a.checkpoint)["model"])
    model.eval()
    _, val = emps.split(a.emps)
    separations = [(float(x.split(":")[0]), float(x.split(":")[1])) for x in a.separations.split(",")]
    conf_sigma, conf_level = (float(v) for v in a.confidence_separation.split(":"))
    confidences = [0, 0.6, 0.7, 0.8]
    counts = {k: [0, 0, 0] for k in separations + [("conf", c) for c in confidences]}
    for ident in val[::3]:
        img, inst = emps.load(a.emps, ident)
        h, w = img.shape
        with torch.no_grad():
            out = model(torch.from_numpy(pad_to(robust_normalize(img), 16))[None, None])[0, :, :h, :w]
        pf, pd = torch.sigmoid(out[0]).numpy(), torch.sigmoid(out[1]).numpy()
        for sigma, level in separations:
            m, p, t = match_counts(separate(pf, pd, marker=level, sigma=sigma), inst)
            c = counts[(sigma, level)]; c[0] += m; c[1] += p; c[2] += t
        labels = separate(pf, pd, marker=conf_level, sigma=conf_sigma, min_px=1)
        n = labels.max()
        conf = ndimage.mean(pf, labels, np.arange(1, n + 1)) if n else np.array([])
        for level in confidences:
            keep = np.zeros(n + 1, bool)
            keep[1:] = conf >= level
            m, p, t = match_counts(np.where(keep[labels], labels, 0), inst)
            c = counts[("conf", level)]; c[0] += m; c[1] += p; c[2] += t
    for k, (m, p, t) in counts.items():
        what = f"minimum confidence {k[1]}" if k[0] == "conf" else (f"distance smoothed {k[0]} px, cores above {k[1]}" if k[0] else f"distance raw, cores above {k[1]}")
        print(f"{what:<45} F1 {2 * m / max(p + t, 1):.3f}  ({m} matched, {p} predicted, {t} true)")


if __name__ == "__main__":
    main()
