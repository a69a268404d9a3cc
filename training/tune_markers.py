"""Choose the network separation's markers on the EMPS tuning third with the real pipeline.

    .venv/bin/python training/tune_markers.py [--antemactl .build/release/antemactl]

Runs `antemactl evaluate --segmenter instance` on every third image of the EMPS validation part
(the part tune_separation.py sees; evaluate_emps.py --tuning) for each smoothing (px) and
summit height of the grid, and prints pixel IoU and instance F1. The pipeline's defaults
(MarkerSeparation.swift: 1.5 px, 0.2) were chosen with it for instance model 3.5; the other
two thirds (evaluate_emps.py --untuned) were not looked at to choose. `--model X.onnx` sweeps a
candidate instead of the bundled model.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--antemactl", default=os.path.join(ROOT, ".build/release/antemactl"))
    ap.add_argument("--smoothing", default="0,1,1.5,2,3,4")
    ap.add_argument("--heights", default="0.1,0.15,0.2,0.25,0.3")
    ap.add_argument("--out", default="/tmp/antema-tune-markers")
    ap.add_argument("--model", help="a candidate ONNX model (metadata beside it) instead of the bundled instance model")
    a = ap.parse_args()
    print(f"{'smoothing px':>12} {'height':>7}  result on the tuning third")
    for s in a.smoothing.split(","):
        for h in a.heights.split(","):
            markers = f"--marker-smoothing {s} --marker-height {h}"
            r = subprocess.run([sys.executable, os.path.join(ROOT, "training/evaluate_emps.py"), "--antemactl", a.antemactl, "--tuning",
                                "--out", os.path.join(a.out, f"s{s}-h{h}")]
                               + (["--model", a.model, "--extra", markers] if a.model else ["--extra", "--segmenter instance " + markers]),
                               capture_output=True, text=True, check=True)
            line = next(x for x in r.stdout.splitlines() if "pixel IoU" in x)
            print(f"{s:>12} {h:>7}  {line[line.index('pixel IoU'):]}", flush=True)


if __name__ == "__main__":
    main()
