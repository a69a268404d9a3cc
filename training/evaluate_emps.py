"""Score segmenters on the fixed EMPS validation part (real SEM/TEM micrographs, manual instance
masks) with `antemactl evaluate`, as a user runs them (default settings).

    .venv/bin/python training/evaluate_emps.py [--model models/x.onnx] [--antemactl .build/release/antemactl]

The validation images (training/emps.py: the papers whose DOI hashes into the first fifth) are
linked, not copied, into a temporary folder; their instance masks are the labels, so a
predicted particle matches a true one when their IoU is at least 0.5, one to one. EMPS images
carry no pixel size, so they are analysed as a user's uncalibrated images are: measured in
pixels, and seen by a network at the scale it estimates per image (NetworkScale). `--native`
gives them `--pixel-size 1` instead (1 nm/px lies inside the model's pixel-size range: the
network sees them at their own pixels, the figures of model 3.3 and earlier). Prints pooled pixel
IoU, Dice and instance F1 per segmenter, and writes evaluation.csv/json beside the links.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emps  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="an ONNX model (metadata beside it) instead of the bundled one")
    ap.add_argument("--antemactl", default=os.path.join(ROOT, ".build/release/antemactl"))
    ap.add_argument("--emps", default=emps.DEFAULT_DIR)
    ap.add_argument("--split", choices=["validation", "training"], default="validation")
    ap.add_argument("--out", help="folder for the links and the evaluation (default: a temporary one)")
    part = ap.add_mutually_exclusive_group()
    part.add_argument("--untuned", action="store_true",
                      help="only the two thirds of the validation part that tune_separation.py never sees (it uses every third image)")
    part.add_argument("--tuning", action="store_true", help="only the third of the validation part that tune_separation.py sees (every third image)")
    ap.add_argument("--native", action="store_true", help="--pixel-size 1: the network at the images' own pixels (no scale estimate)")
    ap.add_argument("--extra", default="", help="more antemactl evaluate arguments, space-separated")
    a = ap.parse_args()
    train, val = emps.split(a.emps)
    ids = val if a.split == "validation" else train
    if a.untuned:
        ids = [i for k, i in enumerate(ids) if k % 3 != 0]
    elif a.tuning:
        ids = ids[::3]
    out = a.out or tempfile.mkdtemp(prefix="antema-emps-")
    for sub in ("images", "labels"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    root = os.path.abspath(a.emps)
    for i in ids:
        for sub, src in (("images", "images"), ("labels", "segmaps")):
            link = os.path.join(out, sub, i + ".png")
            if not os.path.lexists(link):
                os.symlink(os.path.join(root, src, i + ".png"), link)
    cmd = [a.antemactl, "evaluate", "--images", os.path.join(out, "images"), "--labels", os.path.join(out, "labels"),
           "--out", os.path.join(out, "evaluation"), "--quiet"] + (["--pixel-size", "1"] if a.native else [])
    if a.model:
        cmd += ["--model", a.model, "--segmenter", "model", "--segmenter", "classical"]
    cmd += [x for x in a.extra.split(" ") if x]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 2):
        sys.exit(r.stderr)
    with open(os.path.join(out, "evaluation", "evaluation.json")) as f:
        report = json.load(f)
    print(f"EMPS {a.split} part: {len(ids)} images ({out})")
    for p in report["pooled"]:
        c, i = p["confusion"], p["instances"]
        tp, fp, fn = c["truePositive"], c["falsePositive"], c["falseNegative"]
        iou = tp / max(tp + fp + fn, 1)
        dice = 2 * tp / max(2 * tp + fp + fn, 1)
        f1 = 2 * i["matched"] / max(i["truthCount"] + i["predictedCount"], 1)
        print(f"  {p['segmenter']:<28} pixel IoU {iou:.3f}  Dice {dice:.3f}  instance F1 {f1:.3f}  "
              f"({i['matched']} of {i['truthCount']} particles matched, {i['predictedCount']} predicted)")


if __name__ == "__main__":
    main()
