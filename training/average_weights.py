"""Weight averaging of two ONNX models of the same network (as WiSE-FT does): every initializer
of `--tuned` becomes alpha * tuned + (1 - alpha) * base. Where the output layer of the tuned
model has more rows than the base's (a boundary output added to 3.6), the shared rows are
averaged and the new ones kept as tuned. Writes OUT.onnx, and OUT.json from the tuned model's
metadata (TUNED.json beside it) with the averaging recorded under "training".

    .venv/bin/python training/average_weights.py --base Sources/DefaultModel/Resources/antema-unet-instance.onnx \\
        --tuned models/stage3w-step1000.onnx --alpha 0.5 --out models/soup-w1000-50
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import numpy_helper as nh


def average(base, tuned, alpha):
    a = {i.name: nh.to_array(i) for i in base.graph.initializer}
    if len(a) != len(tuned.graph.initializer):
        raise SystemExit(f"the models differ: {len(a)} against {len(tuned.graph.initializer)} initializers")
    out = []
    for i in tuned.graph.initializer:
        w = nh.to_array(i)
        v = a.get(i.name)
        if v is None:
            raise SystemExit(f"{i.name}: not in the base model")
        mixed = w.astype(np.float64)
        if v.shape == w.shape:
            mixed = alpha * mixed + (1 - alpha) * v
        elif v.shape[1:] == w.shape[1:] and v.shape[0] < w.shape[0]:
            mixed[:v.shape[0]] = alpha * mixed[:v.shape[0]] + (1 - alpha) * v
        else:
            raise SystemExit(f"{i.name}: shapes {v.shape} and {w.shape} do not match")
        out.append(nh.from_array(mixed.astype(w.dtype), i.name))
    del tuned.graph.initializer[:]
    tuned.graph.initializer.extend(out)
    return tuned


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--tuned", required=True)
    ap.add_argument("--alpha", type=float, default=0.5, help="the tuned model's share (0: the base, 1: the tuned model)")
    ap.add_argument("--out", required=True, help="OUT (writes OUT.onnx and OUT.json)")
    a = ap.parse_args()
    if not 0 <= a.alpha <= 1:
        ap.error("--alpha is a share from 0 to 1")
    model = average(onnx.load(a.base), onnx.load(a.tuned), a.alpha)
    onnx.save(model, a.out + ".onnx")
    meta_path = os.path.splitext(a.tuned)[0] + ".json"
    if os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        meta.setdefault("training", {})["weightAverage"] = {"base": a.base, "tuned": a.tuned, "alpha": a.alpha}
        json.dump(meta, open(a.out + ".json", "w"), indent=2)
    print(f"wrote {a.out}.onnx" + (" and .json" if os.path.exists(meta_path) else ""))


if __name__ == "__main__":
    main()
