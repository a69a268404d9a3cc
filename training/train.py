"""Train antema's default segmentation model on simulated micrographs (CPU), then export it.

    .venv/bin/python training/train.py --out models/antema-unet     # the bundled model, seed 1

Deterministic from --seed: the simulator draws tiles in one worker from a seeded generator, the
network's initial weights come from torch.manual_seed. Progress goes to <out>.log; the best
checkpoint (by validation IoU on a fixed simulated set) to <out>.pt; the export to <out>.onnx and
<out>.json at the end (or with --export-only).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import UNet  # noqa: E402
import simulate  # noqa: E402


def standardize(img):
    return (img - img.mean()) / (img.std() + 1e-6)


class Tiles(torch.utils.data.IterableDataset):
    def __init__(self, seed, size, version):
        self.seed, self.size, self.version = seed, size, version

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        while True:
            img, lab, _ = simulate.simulate(rng, self.size, version=self.version)
            k = int(rng.integers(4))
            img, lab = np.rot90(img, k), np.rot90(lab, k)
            if rng.random() < 0.5:
                img, lab = img[:, ::-1], lab[:, ::-1]
            yield (torch.from_numpy(standardize(np.ascontiguousarray(img, dtype=np.float32)))[None],
                   torch.from_numpy(np.ascontiguousarray(lab, dtype=np.float32))[None])


def validation_set(seed, n, size, version):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        img, lab, _ = simulate.simulate(rng, size, version=version)
        xs.append(standardize(img)[None]); ys.append(lab[None].astype(np.float32))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def iou(model, xs, ys, layout=torch.contiguous_format):
    model.eval()
    inter = union = 0.0
    with torch.no_grad():
        for i in range(0, len(xs), 16):
            pred = model(xs[i:i + 16].contiguous(memory_format=layout)) > 0
            truth = ys[i:i + 16] > 0.5
            inter += (pred & truth).sum().item(); union += (pred | truth).sum().item()
    model.train()
    return inter / max(union, 1)


def loss_fn(logits, target):
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
    return bce + dice


def lovasz_hinge(logits, target):
    """Lovasz hinge over all pixels of the batch: a convex surrogate of 1 - IoU of the particle
    class, pooled like the test set's IoU (Berman, Rannen Triki, Blaschko, CVPR 2018)."""
    logits, labels = logits.reshape(-1), target.reshape(-1)
    errors = 1 - logits * (2 * labels - 1)
    errors_sorted, perm = torch.sort(errors, descending=True)
    gt = labels[perm]
    total = gt.sum()
    jaccard = 1 - (total - gt.cumsum(0)) / (total + (1 - gt).cumsum(0))
    jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return torch.dot(F.relu(errors_sorted), jaccard)


def loss_lovasz(logits, target):
    return F.binary_cross_entropy_with_logits(logits, target) + lovasz_hinge(logits, target)


def bfloat16_is_native():
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX). Without it torch
    emulates bfloat16 and --fast is not faster but about 20 times slower (2026-11-30, an AVX2-only
    AMD EPYC, a build running beside it: 51-55 s per step of 8 tiles in bfloat16, 2.3-2.7 s in float32)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return True  # cannot tell: let the user's choice stand
    return "avx512_bf16" in flags or "amx_bf16" in flags


def require_native_bfloat16(fast):
    """Stops with a clear message where --fast was asked for on a CPU without bfloat16 hardware."""
    if fast and not bfloat16_is_native():
        sys.exit("--fast: this CPU has neither AVX512-BF16 nor AMX, so bfloat16 would be emulated, about 20 times "
                 "slower than float32; run without --fast")


def export(model, out, meta):
    model.eval()
    dummy = torch.zeros(1, model.down[0][0].in_channels if hasattr(model, "down") else 1, 256, 256)
    torch.onnx.export(model, dummy, out + ".onnx", input_names=["image"], output_names=["logit"], opset_version=17,
                      dynamic_axes={"image": {2: "height", 3: "width"}, "logit": {2: "height", 3: "width"}}, dynamo=False)
    with open(out + ".json", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/antema-unet")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=2400)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--validate-every", type=int, default=200)
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--model-version", default="dev", help="version written into the metadata (the bundled model's is set by reproduce.sh)")
    ap.add_argument("--sim-version", type=int, default=2, help="simulator version (1: first stage of model 1.0; 3: model 2.0; 4: physical dose, model 2.1); from 3 on, tiles are drawn as the engine presents micrographs to the network")
    ap.add_argument("--init", help="start from this checkpoint (.pt) instead of random weights (fine-tuning)")
    ap.add_argument("--stop-after", type=int, help="stop after this many steps (the schedule still spans --steps)")
    ap.add_argument("--warmup", type=float, default=0.05, help="fraction of the steps spent raising the learning rate")
    ap.add_argument("--channels", default="16,32,64,128", help="channels per U-Net level, comma-separated (one level per entry)")
    ap.add_argument("--loss", choices=["bce-dice", "bce-lovasz"], default="bce-dice",
                    help="bce-dice: BCE + soft Dice (stages 1-3); bce-lovasz: BCE + Lovasz hinge, which targets IoU directly (fine-tuning)")
    ap.add_argument("--fast", action="store_true",
                    help="bfloat16 autocast and channels-last tensors: about 3x faster on CPUs with AVX512-BF16 (training/bench_training.py) (the weights stay float32)")
    a = ap.parse_args()
    require_native_bfloat16(a.fast)
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    channels = tuple(int(c) for c in a.channels.split(","))
    model = UNet(channels)
    levels = len(channels)
    meta = {
        "name": "antema-unet", "version": a.model_version,
        "trainingPixelSizeNm": 0.2, "pixelSizeRangeNm": [0.1, 2.0],  # finer images are downsampled to 0.1 nm/px (see training/README.md)
        "normalization": "standardize", "output": "logit", "particleClass": 0, "brightParticles": False,
        "licence": "the antema project's licence; trained only on simulated micrographs (no third-party images)", "sizeMultiple": 2 ** (levels - 1), "tileSizePx": 1024, "tileMarginPx": 64 if levels <= 4 else 128,
        "training": {"recipe": "training/train.py", "seed": a.seed, "steps": a.steps, "batch": a.batch, "tilePx": a.tile,
                     "simulator": "training/simulate.py", "lr": a.lr,
                     "channels": list(channels), "bfloat16": a.fast, "loss": a.loss},
    }
    if a.export_only:
        ck = torch.load(a.out + ".pt")
        model.load_state_dict(ck["model"]); meta["training"].update(ck.get("metrics", {}))
        export(model, a.out, meta)
        return
    log = open(a.out + ".log", "a")

    def say(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True); log.write(line + "\n"); log.flush()

    if a.init:
        model.load_state_dict(torch.load(a.init)["model"])
        meta["training"]["init"] = a.init
    meta["training"]["simVersion"] = a.sim_version
    vx, vy = validation_set(a.seed + 1000, 64, a.tile, a.sim_version)
    loader = torch.utils.data.DataLoader(Tiles(a.seed, a.tile, a.sim_version), batch_size=a.batch, num_workers=1, persistent_workers=True,
                                         worker_init_fn=lambda _: torch.set_num_threads(1))
    layout = torch.channels_last if a.fast else torch.contiguous_format
    model = model.to(memory_format=layout)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps, pct_start=a.warmup)
    params = sum(p.numel() for p in model.parameters())
    say(f"U-Net {channels} {params} parameters{', bfloat16 autocast' if a.fast else ''}, {a.steps} steps of {a.batch} tiles {a.tile}x{a.tile}, seed {a.seed}, simulator v{a.sim_version}"
        + (f", from {a.init}" if a.init else ""))
    criterion = loss_lovasz if a.loss == "bce-lovasz" else loss_fn
    best, t0, running = -1.0, time.time(), 0.0
    for step, (x, y) in enumerate(loader, 1):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.fast):
            logits = model(x.contiguous(memory_format=layout))
        loss = criterion(logits.float(), y)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 50 == 0:
            el = time.time() - t0
            say(f"step {step} loss {running:.4f} lr {sched.get_last_lr()[0]:.2e} {step * a.batch / el:.1f} tiles/s")
        if step % a.validate_every == 0 or step == a.steps:
            v = iou(model, vx, vy, layout)
            say(f"step {step} validation IoU {v:.4f}")
            metrics = {"validationIoU": round(v, 4), "stepsDone": step, "minutes": round((time.time() - t0) / 60, 1)}
            if v > best:
                best = v
                torch.save({"model": model.state_dict(), "metrics": metrics}, a.out + ".pt")
                meta["training"].update(metrics)
                export(model, a.out, meta)
                say(f"saved and exported (best so far)")
        if step >= a.steps or (a.stop_after and step >= a.stop_after):
            break
    say(f"done: best validation IoU {best:.4f} in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
