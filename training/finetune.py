"""Adapt the bundled model to a lab's own micrographs: continue its training on a few dozen
labelled images and write an ONNX model with its metadata, which `analysis.model` (antemad) and
`--model` (antemactl) take.

    .venv/bin/python training/finetune.py --images DIR --labels DIR --out models/my-lab [--steps 600]

DIR of images: PNG or TIFF (grey or RGB, 8 or 16 bit). DIR of labels: one file per image, same
stem, either a binary mask (non-zero = particle) or an instance mask (0 = background, 1..N = one
particle each; touching particles must carry different values for the network to learn where
they part). One image in six (by name, at least one) is held out to pick the checkpoint; its
figures are printed and written into the metadata. Tiles of 256 x 256 are cut at random scales
(0.5-1.6), flips and rotations, with the same export artefacts as the bundled model's training
(training/artifacts.py). The model starts from the bundled one (`--init`), so a few hundred
steps suffice; on 2 cores a step of 8 tiles takes about 0.5 s with `--fast` (bfloat16) and
1.5 s without.

Worked example (training/README.md): 40 images of the EMPS training split as a lab's own,
before/after on the EMPS validation part through `antemactl evaluate`.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import artifacts  # noqa: E402
import emps  # noqa: E402
from instances import robust_normalize  # noqa: E402
from models import UNet  # noqa: E402
import train  # noqa: E402
from train_instance import export, init_from_onnx, loss_fn, score_pairs as score  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED = os.path.join(ROOT, "Sources", "DefaultModel", "Resources", "antema-unet.onnx")


def load_pair(image_path, label_path):
    img = np.asarray(Image.open(image_path).convert("F"), dtype=np.float32)
    lab = np.asarray(Image.open(label_path))
    if lab.ndim == 3:
        lab = lab[..., 0]
    lab = lab.astype(np.int64)
    if lab.shape != img.shape:
        raise SystemExit(f"{label_path}: {lab.shape[1]} x {lab.shape[0]}, not the image's {img.shape[1]} x {img.shape[0]}")
    values = np.unique(lab[lab > 0])
    if len(values) <= 1:  # a binary mask: its connected components are the particles
        lab, _ = ndimage.label(lab > 0, structure=np.ones((3, 3)))
    return img, lab.astype(np.int32)


def pairs(images, labels):
    out = []
    for name in sorted(os.listdir(images)):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in (".png", ".tif", ".tiff"):
            continue
        for e in (".png", ".tif", ".tiff", ".PNG", ".TIF", ".TIFF"):
            lp = os.path.join(labels, stem + e)
            if os.path.exists(lp):
                out.append((stem, os.path.join(images, name), lp))
                break
        else:
            print(f"skipped {name}: no label {stem}.png or .tif in {labels}", file=sys.stderr)
    return out


def freeze_batchnorm(model):
    """BatchNorm layers in eval mode: the exported model's BatchNorms are folded into its
    convolutions (train_instance.init_from_onnx restores them as identities), and re-estimating
    their statistics from a few small batches changes what every layer sees: without this the
    first 100 steps took the held-out IoU from 0.84 to 0.33."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--out", required=True, help="writes OUT.onnx, OUT.json (metadata), OUT.pt and OUT.log")
    ap.add_argument("--init", default=BUNDLED, help="the model to continue (default: the bundled one)")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--validate-every", type=int, default=100)
    ap.add_argument("--fast", action="store_true", help="bfloat16 autocast (about 3x faster on CPUs with AVX512-BF16)")
    ap.add_argument("--name", default="antema-unet-finetuned")
    a = ap.parse_args()
    train.require_native_bfloat16(a.fast)
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    found = pairs(a.images, a.labels)
    if len(found) < 2:
        raise SystemExit(f"need at least 2 labelled images, found {len(found)} in {a.images}")
    held = [p for k, p in enumerate(found) if k % 6 == 5] or [found[-1]]
    train = [p for p in found if p not in held]
    train_data = [load_pair(i, l) for _, i, l in train]
    held_data = [load_pair(i, l) for _, i, l in held]
    with open(os.path.splitext(a.init)[0] + ".json") as f:
        meta = json.load(f)
    model = UNet(tuple(meta.get("training", {}).get("channels", [16, 32, 64, 128, 256])), cout=2)
    if a.init.endswith(".onnx"):
        init_from_onnx(model, a.init)
    else:
        model.load_state_dict(torch.load(a.init)["model"])
    layout = torch.channels_last if a.fast else torch.contiguous_format
    model = model.to(memory_format=layout)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    log = open(a.out + ".log", "a")

    def say(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True); log.write(line + "\n"); log.flush()

    freeze_batchnorm(model)
    before = score(model, held_data, layout)
    freeze_batchnorm(model)
    say(f"{len(train)} training images, {len(held)} held out; before: IoU {before[0]:.3f} F1 {before[1]:.3f}")
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps, pct_start=0.1)
    best, t0 = (before[0] + before[1]) / 2, time.time()
    meta = dict(meta, name=a.name, version=time.strftime("%Y-%m-%d"),
                licence=meta.get("licence", "") + "; fine-tuned on the lab's own images (training/finetune.py)")
    meta["training"] = {"recipe": "training/finetune.py", "init": os.path.basename(a.init), "images": len(train), "heldOut": len(held),
                        "steps": a.steps, "lr": a.lr, "seed": a.seed, "heldOutBefore": {"iou": round(before[0], 4), "f1": round(before[1], 4)}}
    export(model, a.out, meta)
    for step in range(1, a.steps + 1):
        xs, ys, vs = [], [], []
        for _ in range(a.batch):
            img, inst = train_data[int(rng.integers(len(train_data)))]
            crop, ci, valid = emps.random_crop(img, inst, rng, 256)
            crop, ann = artifacts.degrade(crop, rng, invert_p=0.1, eight_bit_p=0.1, jpeg_p=0.05, annotate_p=0.2)
            ci = np.where(ann, 0, ci)
            xs.append(robust_normalize(crop, exclude=ann | ~valid)[None])
            ys.append(np.stack([(ci > 0).astype(np.float32), emps.normalized_distance(ci.astype(np.int32))]))
            vs.append(valid.astype(np.float32)[None])
        x, y, v = (torch.from_numpy(np.stack(t)) for t in (xs, ys, vs))
        freeze_batchnorm(model)  # scoring and exporting put the model back in train mode
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.fast):
            out = model(x.contiguous(memory_format=layout))
        loss = loss_fn(out.float(), y, v)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        if step % a.validate_every == 0 or step == a.steps:
            iou, f1 = score(model, held_data, layout)
            freeze_batchnorm(model)
            say(f"step {step} loss {loss.item():.4f} held out: IoU {iou:.3f} F1 {f1:.3f} ({(time.time() - t0) / 60:.1f} min)")
            if (iou + f1) / 2 > best:
                best = (iou + f1) / 2
                meta["training"].update({"stepsDone": step, "heldOutAfter": {"iou": round(iou, 4), "f1": round(f1, 4)},
                                         "minutes": round((time.time() - t0) / 60, 1)})
                torch.save({"model": model.state_dict()}, a.out + ".pt")
                export(model, a.out, meta)
                say("saved (best so far)")
    say(f"done: {a.out}.onnx with {a.out}.json; use it with antemactl analyze --model {a.out}.onnx, or analysis.model in antemad's configuration")


if __name__ == "__main__":
    main()
