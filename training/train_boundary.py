"""Teach the bundled instance model a third output, the boundary between touching particles,
with everything it already computes frozen.

    .venv/bin/python training/train_boundary.py --out models/boundary-b --steps 1600 --branch --foreground-loss --lr 1e-3

The bundled model's distance map barely dips at the neck of small overlapping particles (0.05
below its summits where the target falls from 1 to under 0.2; training/README.md, "Stage S"),
and every way of continuing the whole network (stages L-S) cost the simulated set or the
reference. Here the network stays as it is: its particle and distance outputs are unchanged. A
small head (two 3 x 3 convolutions and a 1 x 1, `BoundaryHead`) learns where two particles touch
or overlap, the touching band of the instance map (train_instance.touching_band, 2 px), on the
last decoder level's 16 features and the two logits; with --branch, on a trainable copy of that
level (`BoundaryBranch`). The tiles are the instance model's mixture of EMPS crops and simulated
tiles, half of the simulated ones agglomerates. Only the new weights move, so a step costs the
backbone's forward pass and the new part's backward pass.

The pipeline separates on the distance map times (1 - boundary probability) (or, with the
metadata's `boundaryThreshold`, the map set to 0 where the boundary reaches it): where the
boundary is seen, the map dips to 0 and the summits split. The validation logs the split share
of simulated pairs with and without the boundary (summit markers as MarkerSeparation.swift) and
the EMPS tuning third's F1 at half scale, both ways. The export is one ONNX model with three
output channels (particle logit, distance logit, boundary logit); metadata "boundaryClass": 2.
Tried 2026-12-01 and not bundled (training/README.md, "A boundary output on the frozen 3.6").
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emps  # noqa: E402
import train  # noqa: E402
from instances import match_counts, robust_normalize, separate_summits  # noqa: E402
from models import UNet  # noqa: E402
from train_instance import Tiles, boundary_loss, init_from_onnx, pad_to, pair_validation, rescale_pair  # noqa: E402


class BoundaryHead(nn.Module):
    """3 x 3 conv (features + logits -> width), ReLU, 3 x 3 conv (width -> width), ReLU, 1 x 1 conv -> 1 logit."""

    def __init__(self, cin, width=8):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv2d(width, 1, 1))

    def forward(self, x):
        return self.net(x)


class BoundaryBranch(nn.Module):
    """A trainable copy of the U-Net's last decoder level (its upsampling and merge block,
    starting from the frozen level's weights) fed by the level below and the first skip, then
    the boundary head on its features and the frozen logits."""

    def __init__(self, unet, width=8):
        super().__init__()
        import copy
        self.up = copy.deepcopy(unet.up[-1])
        self.merge = copy.deepcopy(unet.merge[-1])
        for prm in list(self.up.parameters()) + list(self.merge.parameters()):
            prm.requires_grad_(True)
        self.head = BoundaryHead(unet.head.in_channels + unet.head.out_channels, width)

    def forward(self, below, skip, logits):
        y = self.merge(torch.cat([self.up(below), skip], dim=1))
        return self.head(torch.cat([y, logits], dim=1))


class WithBoundary(nn.Module):
    """The frozen U-Net and the boundary head (or branch): 3 output channels."""

    def __init__(self, unet, width=8, branch=False):
        super().__init__()
        self.unet = unet
        self.branch = branch
        self.boundary = BoundaryBranch(unet, width) if branch else BoundaryHead(unet.head.in_channels + unet.head.out_channels, width)

    def forward(self, x):
        x, below, skip = self.unet.features(x)
        logits = self.unet.head(x)
        b = self.boundary(below, skip, logits) if self.branch else self.boundary(torch.cat([x, logits], dim=1))
        return torch.cat([logits, b], dim=1)


def outputs(model, img, multiple=16):
    """Particle, distance and boundary probabilities of an image without a calibration."""
    h, w = img.shape
    x = torch.from_numpy(pad_to(robust_normalize(img), multiple))[None, None]
    with torch.no_grad():
        out = torch.sigmoid(model(x))[0, :, :h, :w].numpy()
    return out[0], out[1], out[2]


def score(model, items):
    """Matched / predicted / true particles and split pairs, without and with the boundary."""
    tot = {False: [0, 0, 0, 0], True: [0, 0, 0, 0]}
    for img, inst in items:
        fg, dist, b = outputs(model, img)
        for use in (False, True):
            labels = separate_summits(fg, dist * (1 - b) if use else dist)
            m, p, t = match_counts(labels, inst)
            r = tot[use]
            r[0] += m; r[1] += p; r[2] += t; r[3] += (m == 2 and t == 2)
    return tot


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/boundary")
    ap.add_argument("--init-onnx", default="Sources/DefaultModel/Resources/antema-unet-instance.onnx")
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--pos-weight", type=float, default=5.0, help="BCE weight of the boundary pixels")
    ap.add_argument("--real-fraction", type=float, default=0.35)
    ap.add_argument("--sim-clustered", type=float, default=0.5)
    ap.add_argument("--sim-small-pairs", type=float, default=0.0)
    ap.add_argument("--validate-every", type=int, default=500)
    ap.add_argument("--pair-val", type=int, default=96)
    ap.add_argument("--branch", action="store_true", help="the boundary from a trainable copy of the last decoder level (BoundaryBranch)")
    ap.add_argument("--foreground-loss", action="store_true",
                    help="the boundary loss only inside the particles grown by 2 px (elsewhere the distance map is 0 whatever it says)")
    ap.add_argument("--emps", default=emps.DEFAULT_DIR)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    base_meta = json.load(open(os.path.splitext(a.init_onnx)[0] + ".json"))
    unet = UNet((16, 32, 64, 128, 256), cin=1, cout=2)
    init_from_onnx(unet, a.init_onnx)
    unet.eval()
    for prm in unet.parameters():
        prm.requires_grad_(False)
    model = WithBoundary(unet, a.width, a.branch)
    train_ids, val_ids = emps.split(a.emps)
    log = open(a.out + ".log", "a")

    def say(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True); log.write(line + "\n"); log.flush()

    pairs = [(img, inst) for img, inst, _ in pair_validation(7331, a.pair_val, a.tile)]
    emps_val = [rescale_pair(*emps.load(a.emps, i), 0.5) for i in val_ids[::3]]

    def validate(step):
        pr, em = score(model, pairs), score(model, emps_val)
        f1 = {u: 2 * em[u][0] / max(em[u][1] + em[u][2], 1) for u in (False, True)}
        split = {u: pr[u][3] / max(len(pairs), 1) for u in (False, True)}
        say(f"step {step} pairs split {split[False]:.3f} -> {split[True]:.3f}, EMPS third F1 {f1[False]:.4f} -> {f1[True]:.4f} "
            f"({em[True][1]} predicted, {em[True][2]} true)")
        return split[True], f1[True]

    # boundary_weight 1: the tiles' third plane is 1 + the touching band, the target below
    loader = torch.utils.data.DataLoader(
        Tiles(a.seed, a.tile, a.real_fraction, a.emps, train_ids, sim_artifacts=(0.15, 0.3, 0.2, 0.25), real_scale_range=(0.3, 1.1),
              sim_clustered=a.sim_clustered, boundary_weight=1.0, sim_small_pairs=a.sim_small_pairs),
        batch_size=a.batch, num_workers=1, persistent_workers=True, worker_init_fn=lambda _: torch.set_num_threads(1))
    opt = torch.optim.AdamW(model.boundary.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps, pct_start=0.05)
    say(f"boundary head (width {a.width}) on frozen {a.init_onnx}, {a.steps} steps of {a.batch} x {a.tile}^2, seed {a.seed}, "
        f"{'branch' if a.branch else 'head'}, {'foreground' if a.foreground_loss else 'whole-tile'} loss, pos weight {a.pos_weight}, real fraction {a.real_fraction}, clustered {a.sim_clustered}, small pairs {a.sim_small_pairs}")
    model.eval()  # for good: no layer of the head trains differently; the branch's BatchNorms keep the frozen statistics
    validate(0)
    t0, running = time.time(), 0.0
    for step, (x, y, v) in enumerate(loader, 1):
        band = (y[:, 2:3] > 1.5).float()
        loss = boundary_loss(model(x)[:, 2:3], band, v, y[:, :1], a.pos_weight, a.foreground_loss)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 50 == 0:
            say(f"step {step} loss {running:.4f} lr {sched.get_last_lr()[0]:.2e} {step * a.batch / (time.time() - t0):.1f} tiles/s")
        if step % a.validate_every == 0 or step >= a.steps:
            split, f1 = validate(step)
            metrics = {"stepsDone": step, "pairValidationSplit": round(split, 3), "empsTuningThirdF1": round(f1, 4)}
            torch.save({"boundary": model.boundary.state_dict(), "metrics": metrics}, f"{a.out}-step{step}.pt")
            meta = dict(base_meta, boundaryClass=2)
            meta["training"] = dict(base_meta["training"], boundaryHead={
                "recipe": "training/train_boundary.py", "seed": a.seed, "steps": a.steps, "lr": a.lr, "width": a.width,
                "posWeight": a.pos_weight, "branch": a.branch, "foregroundLoss": a.foreground_loss, "realFraction": a.real_fraction, "simClustered": a.sim_clustered,
                "simSmallPairs": a.sim_small_pairs, **metrics})
            train.export(model, f"{a.out}-step{step}", meta)
        if step >= a.steps:
            break
    say(f"done in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
