"""A diagnostic: how close models' distance maps come to the whole-shape target (simulate.py
amodal, train_instance.py --amodal-distance) against the visible one, on simulated agglomerates.

    .venv/bin/python training/whole_shape_fit.py MODEL.onnx [MODEL.onnx ...]

Draws simulator v5 agglomerates (clustered, 256 px, seed 777), keeps those where the two
targets differ by more than 0.15 on at least 50 pixels, and prints for each model the mean
absolute difference of its distance probability from each target over those pixels.
"""
import argparse
import os

import numpy as np
import onnxruntime as ort

import emps
import instances
import simulate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("-n", type=int, default=24, help="agglomerates drawn")
    a = ap.parse_args()
    sessions = {m: ort.InferenceSession(m) for m in a.models}
    totals = {m: [0.0, 0.0] for m in a.models}
    pixels = 0
    rng = np.random.default_rng(777)
    for _ in range(a.n):
        img, _, info = simulate.simulate(rng, 256, version=5, clustered=True, amodal=True)
        inst = info["instances"]
        whole = np.where(inst > 0, info["amodal_distance"], 0)
        visible = emps.normalized_distance(inst)
        differ = np.abs(whole - visible) > 0.15
        if differ.sum() < 50:
            continue
        pixels += int(differ.sum())
        x = instances.robust_normalize(img)[None, None]
        for m, s in sessions.items():
            prob = 1 / (1 + np.exp(-s.run(None, {s.get_inputs()[0].name: x})[0][0, 1]))
            totals[m][0] += float(np.abs(prob - whole)[differ].sum())
            totals[m][1] += float(np.abs(prob - visible)[differ].sum())
    print(f"{pixels} pixels where the targets differ by more than 0.15")
    for m, (w, v) in totals.items():
        print(f"  {os.path.basename(m)}: mean |p - whole shape| {w / pixels:.3f}, mean |p - visible| {v / pixels:.3f}")


if __name__ == "__main__":
    main()
