"""Score segmenters on the simulated test set with `antemactl evaluate`, overall and by visibility thirds.

    .venv/bin/python training/evaluate_testset.py --testset /tmp/antema-testset [--model models/x.onnx]

Runs `antemactl evaluate` (both the model and the classical segmenter), then pools the pixel
counts of the images in each third of the test set by visibility (the lowest third is the
low-contrast third) and prints particle IoU, Dice and instance F1 per segmenter and third.
"""
import argparse
import csv
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pooled(scores):
    tp = sum(s["confusion"]["truePositive"] for s in scores)
    fp = sum(s["confusion"]["falsePositive"] for s in scores)
    fn = sum(s["confusion"]["falseNegative"] for s in scores)
    m = sum(s["instances"]["matched"] for s in scores)
    nt = sum(s["instances"]["truthCount"] for s in scores)
    npred = sum(s["instances"]["predictedCount"] for s in scores)
    return {"iou": tp / max(tp + fp + fn, 1), "dice": 2 * tp / max(2 * tp + fp + fn, 1), "f1": 2 * m / max(nt + npred, 1)}


def stem_of(score):
    return os.path.splitext(os.path.basename(score["image"]))[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testset", default="/tmp/antema-testset")
    ap.add_argument("--model")
    ap.add_argument("--antemactl", default=os.path.join(ROOT, ".build/release/antemactl"))
    a = ap.parse_args()
    out = os.path.join(a.testset, "evaluation")
    cmd = [a.antemactl, "evaluate", "--images", os.path.join(a.testset, "images"), "--labels", os.path.join(a.testset, "labels"),
           "--out", out, "--quiet"]
    if a.model:
        cmd += ["--model", a.model, "--segmenter", "model", "--segmenter", "classical"]
    subprocess.run(cmd, check=True)
    scores = json.load(open(os.path.join(out, "evaluation.json")))["images"]
    manifest = {r["image"]: r for r in csv.DictReader(open(os.path.join(a.testset, "manifest.csv")))}
    stems = sorted(manifest, key=lambda s: float(manifest[s]["visibility"]))
    n = len(stems)
    thirds = {"low contrast": stems[: n // 3], "middle": stems[n // 3: 2 * n // 3], "high contrast": stems[2 * n // 3:]}
    segmenters = sorted({s["segmenter"] for s in scores})
    print(f"\n{'segmenter':28} {'images':14} {'IoU':>7} {'Dice':>7} {'F1':>7}")
    for seg in segmenters:
        mine = [s for s in scores if s["segmenter"] == seg]
        p = pooled(mine)
        print(f"{seg:28} {'all':14} {p['iou']:7.4f} {p['dice']:7.4f} {p['f1']:7.4f}")
        for name, group in thirds.items():
            p = pooled([s for s in mine if stem_of(s) in group])
            print(f"{seg:28} {name:14} {p['iou']:7.4f} {p['dice']:7.4f} {p['f1']:7.4f}")
    # where the error lies: pooled IoU by each image's visibility and mean particle diameter (px)
    print(f"\nparticle IoU by visibility and mean particle diameter (images in brackets)")
    bins = [("< 15 px", 0, 15), ("15-30 px", 15, 30), (">= 30 px", 30, 1e9)]
    for seg in segmenters:
        mine = [s for s in scores if s["segmenter"] == seg]
        for vname, vlo, vhi in [("visibility >= 1.1", 1.1, 1e9), ("visibility < 1.1", -1e9, 1.1)]:
            cells = []
            for _, dlo, dhi in bins:
                group = [s for s in mine if vlo <= float(manifest[stem_of(s)]["visibility"]) < vhi
                         and dlo <= float(manifest[stem_of(s)]["mean_diameter_px"]) < dhi]
                cells.append(f"{pooled(group)['iou']:.3f} ({len(group)})" if group else "-")
            print(f"{seg:28} {vname:18} " + "  ".join(f"{b[0]}: {c:12}" for b, c in zip(bins, cells)))


if __name__ == "__main__":
    main()
