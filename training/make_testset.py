"""Write a held-out simulated test set: DM3 micrographs (by antemactl's own DM3 writer) and label masks.

    .venv/bin/python training/make_testset.py --out /tmp/antema-testset          # 60 images, seed 2026, simulator v4
    .venv/bin/python training/make_testset.py --out /tmp/antema-testset-v2 --sim-version 2   # the earlier set
    .venv/bin/python training/make_testset.py --out /tmp/antema-pairs --pairs -n 150 --size 320 --seed 2027

With --pairs each micrograph shows one overlapping pair of particles at its centre (simulate.py
pair=True), and its label is the instance map (1 and 2 = the two particles): the pair is split
when both are matched one to one at IoU >= 0.5 (training/evaluate_pairs.py).

    .venv/bin/python training/make_testset.py --out /tmp/antema-monolayers --monolayers -n 40 --size 512 --seed 2028

With --monolayers each micrograph is a low-magnification overview of a dense monolayer
(simulator v5, monolayer=True, particles 3-8 px across) exported as an 8-bit image with 16 grey
levels (the held-out kind of issue 16 where the classical segmenter beat the network), and its
label is the instance map (16-bit PNG).

    .venv/bin/python training/make_testset.py --out /tmp/antema-overviews --overviews -n 40 --size 512 --seed 2029 [--png]

With --overviews each micrograph is a clean low-magnification overview of a monolayer
(simulate.overview_monolayer: distinct dark particles 3-10 px across, hexagonal packing with
gaps, patches of bare support, 16 grey levels), the kind on which classical thresholding does
well; the pixel size is drawn in 0.3-1.5 nm. Its label is the instance map (16-bit PNG).

Simulator v4 (physical dose, see simulate.py) is the test set since 2026-11-26; the v2 set, on
which the figures of models 1.0 and 2.0 were first measured, drew the electrons per pixel
regardless of pixel size: 40 of its 60 images had a fluence below 20 e/A^2 (15 below 1 e/A^2),
doses inorganic specimens are never imaged with. Both are still reported (training/README.md).

Layout: <out>/images/simNNN.dm3, <out>/labels/simNNN.png (255 = particle), <out>/manifest.csv
(pixel size, mean diameter, contrast, electrons per pixel, fluence in e/A^2, visibility =
(background mean - particle mean) / background sd).
The seed differs from every training seed, so no test image was seen in training.
"""
import argparse
import csv
import os
import subprocess
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simulate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/antema-testset")
    ap.add_argument("-n", type=int, default=60)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--sim-version", type=int, default=4, help="simulator version (2: the earlier test set)")
    ap.add_argument("--pairs", action="store_true", help="one overlapping pair per micrograph, instance labels")
    ap.add_argument("--monolayers", action="store_true", help="dense monolayers of 3-8 px particles, 16 grey levels, instance labels")
    ap.add_argument("--overviews", action="store_true", help="clean low-magnification monolayers (simulate.overview_monolayer), instance labels")
    ap.add_argument("--instance-labels", action="store_true",
                    help="the default set with instance maps (16-bit PNG; the last particle drawn where two overlap) instead of "
                         "binary masks: the same images (same seed), scored against the true particles rather than UECS's split of the mask")
    ap.add_argument("--png", action="store_true",
                    help="write 8-bit PNGs without a calibration (figure exports) instead of DM3 files; the pixel size stays in the manifest")
    ap.add_argument("--antemactl", default=os.path.join(ROOT, ".build/release/antemactl"))
    a = ap.parse_args()
    for d in ("images", "labels"):
        os.makedirs(os.path.join(a.out, d), exist_ok=True)
    rng = np.random.default_rng(a.seed)
    rows = []
    for i in range(a.n):
        if a.overviews:
            img, lab, info = simulate.overview_monolayer(rng, a.size, levels=16)
            info["pixel_size_nm"] = float(np.exp(rng.uniform(np.log(0.3), np.log(1.5))))
            info["mean_diameter_nm"] = info["mean_diameter_px"] * info["pixel_size_nm"]
        elif a.monolayers:
            img, lab, info = simulate.simulate(rng, a.size, version=5, network_view=False, monolayer=True, diameter_px=(3, 8))
            lo, hi = np.percentile(img, [0.5, 99.5])
            img = (np.round(np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1) * 15) * 17).astype(np.float32)  # 16 grey levels of 0..255
        else:
            img, lab, info = simulate.simulate(rng, a.size, version=a.sim_version, network_view=False, pair=a.pairs,
                                              with_instances=a.instance_labels)
        stem = f"sim{i:03d}"
        if a.png:
            lo, hi = float(img.min()), float(img.max())
            img8 = img if (lo >= 0 and hi <= 255) else (img - lo) / max(hi - lo, 1e-6) * 255
            Image.fromarray(np.round(img8).astype(np.uint8)).save(os.path.join(a.out, "images", stem + ".png"))
        else:
            raw = os.path.join(a.out, stem + ".f32")
            img.astype("<f4").tofile(raw)
            subprocess.run([a.antemactl, "write-dm3", "--raw", raw, "--width", str(a.size), "--height", str(a.size),
                            "--pixel-size", repr(info["pixel_size_nm"]), os.path.join(a.out, "images", stem + ".dm3")], check=True)
            os.remove(raw)
        inst = info.pop("instances", None)
        label = inst.astype(np.uint8) if a.pairs else inst.astype(np.uint16) if (a.monolayers or a.overviews or a.instance_labels) else lab * 255
        Image.fromarray(label).save(os.path.join(a.out, "labels", stem + ".png"))
        rows.append({"image": stem, **{k: round(v, 5) if isinstance(v, float) else v for k, v in info.items()}})
    with open(os.path.join(a.out, "manifest.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader(); w.writerows(rows)
    print(f"wrote {a.n} images to {a.out}")


if __name__ == "__main__":
    main()
