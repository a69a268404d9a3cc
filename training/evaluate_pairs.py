"""How often overlapping pairs are split: `antemactl evaluate` on the pair test set.

    .venv/bin/python training/make_testset.py --out /tmp/antema-pairs --pairs -n 150 --size 320 --seed 2027
    .venv/bin/python training/evaluate_pairs.py --pairs /tmp/antema-pairs [--model models/x.onnx]

Each micrograph of the set shows one overlapping pair (simulate.py pair=True) and its label is
the instance map, so `antemactl evaluate` matches predicted particles to the two true ones one to
one at IoU >= 0.5. A pair counts as split when both are matched; merged when neither is (one
object covers both); the rest (one matched, the other missed or broken) are counted apart. Runs
each segmenter with the default separation (the network's distance map where the segmenter has
one, else UECS) and with --overlap separate (UECS, ANTEMA's) and watershed, and prints the
split fraction by segmenter, mode and the pair's particle diameter in pixels as the network sees
it (the engine shrinks frames finer than 0.1 nm/px first).
"""
import argparse
import csv
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default="/tmp/antema-pairs")
    ap.add_argument("--model", help="an ONNX model (metadata beside it) scored as the 'model' segmenter")
    ap.add_argument("--segmenters", default="model,instance,classical")
    ap.add_argument("--modes", default="network,separate,watershed")
    ap.add_argument("--antemactl", default=os.path.join(ROOT, ".build/release/antemactl"))
    ap.add_argument("--extra", default="", help="further antemactl evaluate options, e.g. \"--network-scale 2\"")
    a = ap.parse_args()
    manifest = {r["image"]: r for r in csv.DictReader(open(os.path.join(a.pairs, "manifest.csv")))}

    def network_px(stem):
        m = manifest[stem]
        return float(m["mean_diameter_px"]) * min(1.0, float(m["pixel_size_nm"]) / 0.1)

    bins = [("< 15 px", 0, 15), ("15-30 px", 15, 30), (">= 30 px", 30, 1e9)]
    print(f"{'segmenter':40} {'overlap':10} {'pairs':>6} {'split':>7} {'merged':>7} {'other':>7}  " +
          "  ".join(f"{b[0]:>9}" for b in bins))
    for mode in a.modes.split(","):
        out = os.path.join(a.pairs, "evaluation-" + mode)
        cmd = [a.antemactl, "evaluate", "--images", os.path.join(a.pairs, "images"), "--labels", os.path.join(a.pairs, "labels"),
               "--out", out, "--quiet", "--overlap", mode]
        if a.model:
            cmd += ["--model", a.model]
        cmd += a.extra.split()
        for seg in a.segmenters.split(","):
            if a.model and seg == "instance":
                continue
            cmd += ["--segmenter", seg]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        scores = json.load(open(os.path.join(out, "evaluation.json")))["images"]
        for seg in sorted({s["segmenter"] for s in scores}):
            mine = [s for s in scores if s["segmenter"] == seg]
            matched = {os.path.splitext(os.path.basename(s["image"]))[0]: s["instances"]["matched"] for s in mine}
            n = len(matched)
            split = sum(1 for v in matched.values() if v == 2)
            merged = sum(1 for v in matched.values() if v == 0)
            by_bin = []
            for _, lo, hi in bins:
                group = [k for k in matched if lo <= network_px(k) < hi]
                by_bin.append(f"{sum(1 for k in group if matched[k] == 2) / max(len(group), 1):5.2f} ({len(group):3d})" if group else f"{'-':>9}")
            print(f"{seg:40} {mode:10} {n:6d} {split / n:7.3f} {merged / n:7.3f} {(n - split - merged) / n:7.3f}  " + "  ".join(by_bin))


if __name__ == "__main__":
    main()
