"""Train the instance-aware model (particle logit + distance logit) on real and simulated tiles.

    .venv/bin/python training/train_instance.py --out models/antema-unet-3 --init-onnx Sources/DefaultModel/Resources/antema-unet.onnx

Each batch mixes crops of the EMPS training split (real SEM/TEM micrographs with manual instance
masks, ../shared/data/emps-train, split by paper in emps.py) with simulator v5 tiles; both get
export artefacts (artifacts.py: 8-bit, JPEG, inverted contrast, burned-in annotations, which
are background in the labels). The network's second output learns each particle's normalised
distance to its edge (emps.normalized_distance), from which the pipeline seeds the separation of
touching particles (instances.py). Inputs are normalised by robust percentiles
(instances.robust_normalize, metadata "robust").

The checkpoint kept is the one with the best mean of pixel IoU and instance F1 on the fixed EMPS
validation part (whole images), computed every --validate-every steps; the simulated validation
IoU (simulator v4 tiles) is logged beside it. Deterministic from --seed as train.py.

--boundary-output adds a third output, where particles touch or overlap (touching_band), trained
with the whole network (boundary_loss; metadata boundaryClass 2). --refit-bn continues an
exported model with BatchNorms that have its own statistics (refit_batchnorm) rather than frozen
as the identity (--freeze-bn). Both tried in stage T (training/README.md), not bundled.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
from PIL import Image
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import artifacts  # noqa: E402
import emps  # noqa: E402
import simulate  # noqa: E402
from instances import match_counts, robust_normalize, separate, separate_summits  # noqa: E402
from models import UNet  # noqa: E402
import train  # noqa: E402


def sim_tile(rng, size, version, clustered=False, diameter_px=None, amodal=False):
    """(image, instance map, valid, pixel size, whole-shape distance target or None): the target
    (simulate.py amodal) only with `amodal`."""
    img, lab, info = simulate.simulate(rng, size, version=version, clustered=clustered, diameter_px=diameter_px, amodal=amodal)
    inst = info.get("instances")
    if inst is None:
        inst = lab.astype(np.int32)
    return img, inst, np.ones(img.shape, bool), info["pixel_size_nm"], info.get("amodal_distance")


def scale_planes(x, pixel_size_nm):
    """The network's input with the pixel size (metadata "pixelSizePlanes"): the normalised image,
    a plane of 1 where the pixel size at which the network sees the image is known (0: an image
    without a calibration) and a plane of its natural logarithm in nm (0 where unknown). A blob 3
    px across is a particle at 0.5 nm/px and the carbon film's grain at 0.1 nm/px; without the
    pixel size the network cannot tell them apart."""
    known = pixel_size_nm is not None
    ln_p = math.log(pixel_size_nm) if known else 0.0
    return np.stack([x, np.full_like(x, 1.0 if known else 0.0), np.full_like(x, ln_p)]).astype(np.float32)


def network_input(model, x, pixel_size_nm=None):
    """x (H x W, normalised) as the model takes it: 1 x 1 x H x W, or 1 x 3 x H x W with the scale planes."""
    if model.down[0][0].in_channels == 3:
        return torch.from_numpy(scale_planes(x, pixel_size_nm))[None]
    return torch.from_numpy(x)[None, None]


class Tiles(torch.utils.data.IterableDataset):
    def __init__(self, seed, size, real_fraction, root, ids, sim_artifacts=(0.25, 0.5, 0.3, 0.4), contrast_jitter=0.0,
                 real_scale_range=(0.5, 1.6), sim_clustered=0.0, boundary_weight=0.0, sim_overview=0.0, pixel_size_planes=False,
                 uncalibrated_sim=0.0, sim_small_pairs=0.0, amodal_distance=False, amodal_weight=0.0, sim_hrtem=0.0):
        self.seed, self.size, self.real_fraction, self.root, self.ids = seed, size, real_fraction, root, ids
        self.real_scale_range = real_scale_range  # the EMPS crops' resampling factors (log-uniform)
        self.sim_artifacts = sim_artifacts  # probabilities: inverted contrast, 8-bit, JPEG, annotations
        self.contrast_jitter = contrast_jitter  # the normalised tile times exp(U(-j, j)), plus U(-j/2, j/2)
        self.sim_clustered = sim_clustered  # share of simulated tiles drawn as agglomerates (simulate.py clustered)
        self.sim_overview = sim_overview  # share of simulated tiles that are clean overview monolayers (simulate.overview_monolayer)
        self.boundary_weight = boundary_weight  # extra weight of the distance loss where particles touch (touching_band)
        self.pixel_size_planes = pixel_size_planes  # the input carries the pixel size (scale_planes)
        self.uncalibrated_sim = uncalibrated_sim  # share of simulated tiles shown as uncalibrated (scale planes 0)
        self.sim_small_pairs = sim_small_pairs  # share of simulated tiles that are agglomerates of 5-20 px particles
        self.amodal_distance = amodal_distance  # simulated tiles: the distance target of whole shapes (--amodal-distance)
        self.sim_hrtem = sim_hrtem  # share of simulated tiles that are fine HRTEM micrographs of 1-5 nm particles (simulate.py hrtem)
        self.amodal_weight = amodal_weight  # extra weight of the distance loss where that target differs from the visible one

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        cache = {}
        while True:
            amodal = None
            if self.ids and rng.random() < self.real_fraction:
                ident = self.ids[int(rng.integers(len(self.ids)))]
                if ident not in cache:
                    cache[ident] = emps.load(self.root, ident)
                img, inst, valid = emps.random_crop(*cache[ident], rng, self.size, self.real_scale_range)
                img, ann = artifacts.degrade(img, rng, invert_p=0.2, eight_bit_p=0.15, jpeg_p=0.1, annotate_p=0.3)
                pixel_size = None  # figure crops have no calibration
            else:
                # (the extra draws only where overview or clustered tiles are asked for: earlier recipes stay reproducible)
                if self.sim_overview and rng.random() < self.sim_overview:
                    img, _, info = simulate.overview_monolayer(rng, self.size)
                    inst, valid = info["instances"], np.ones(img.shape, bool)
                    pixel_size = None
                    if self.pixel_size_planes:  # low magnification: 0.3-1.5 nm/px, particles at least 1 nm across
                        lo = max(0.3, 1.0 / info["mean_diameter_px"])
                        pixel_size = math.exp(rng.uniform(math.log(lo), math.log(1.5)))
                elif self.sim_hrtem and rng.random() < self.sim_hrtem:
                    clustered = bool(self.sim_clustered) and rng.random() < self.sim_clustered
                    img, lab, info = simulate.simulate(rng, self.size, version=5, clustered=clustered, amodal=self.amodal_distance, hrtem=True)
                    inst, valid, pixel_size, amodal = info["instances"], np.ones(img.shape, bool), info["pixel_size_nm"], info.get("amodal_distance")
                elif self.sim_small_pairs and rng.random() < self.sim_small_pairs:
                    # small overlapping particles, where the bundled map barely dips at the neck
                    img, inst, valid, pixel_size, amodal = sim_tile(rng, self.size, 5, True, diameter_px=(5, 20), amodal=self.amodal_distance)
                else:
                    clustered = bool(self.sim_clustered) and rng.random() < self.sim_clustered
                    img, inst, valid, pixel_size, amodal = sim_tile(rng, self.size, 5, clustered, amodal=self.amodal_distance)
                if self.pixel_size_planes and rng.random() < self.uncalibrated_sim:
                    pixel_size = None
                k = int(rng.integers(4))
                img, inst = np.rot90(img, k), np.rot90(inst, k)
                if amodal is not None:
                    amodal = np.rot90(amodal, k)
                inv, eight, jp, ann_p = self.sim_artifacts
                img, ann = artifacts.degrade(np.ascontiguousarray(img), rng, invert_p=inv, eight_bit_p=eight, jpeg_p=jp, annotate_p=ann_p)
            inst = np.where(ann, 0, inst)
            fg = (inst > 0).astype(np.float32)
            visible = emps.normalized_distance(np.ascontiguousarray(inst).astype(np.int32)) \
                if amodal is None or self.amodal_weight else None
            # hidden halves keep their centre's summit; annotations cover both
            dist = visible if amodal is None else np.where(inst > 0, amodal, 0).astype(np.float32)
            x = robust_normalize(img, exclude=ann | ~valid)
            if self.contrast_jitter:
                # the robust percentiles of a tile depend on what it shows (a black scale-bar box, a
                # field of particles, an empty support): the same specimen reaches the network
                # stretched by different factors, and the network should not care
                j = self.contrast_jitter
                x = np.clip(x * math.exp(rng.uniform(-j, j)) + rng.uniform(-j / 2, j / 2), -6, 6).astype(np.float32)
            if self.pixel_size_planes:
                x = scale_planes(x, pixel_size)
            else:
                x = x[None]
            planes = [fg, dist]
            if self.boundary_weight:
                planes.append(1 + self.boundary_weight * touching_band(inst).astype(np.float32))
            elif self.amodal_weight:
                planes.append((1 + self.amodal_weight * (np.abs(dist - visible) > 0.1)).astype(np.float32))
            yield (torch.from_numpy(x), torch.from_numpy(np.stack(planes)),
                   torch.from_numpy(valid.astype(np.float32))[None])


def touching_band(inst, width=2):
    """The particle pixels within `width` px (Chebyshev) of another particle: where two particles
    touch or overlap, the only place the distance target dips between them. A pixel is in the band
    when its (2 width + 1)^2 neighbourhood holds a particle label other than its own."""
    from scipy import ndimage
    size = 2 * width + 1
    big = np.iinfo(np.int32).max
    inst = inst.astype(np.int32)
    hi = ndimage.maximum_filter(inst, size, mode="nearest")
    lo = ndimage.minimum_filter(np.where(inst > 0, inst, big), size, mode="nearest")
    return (inst > 0) & ((hi != inst) | (lo != inst))


def init_from_onnx(model, path):
    """Start from an exported U-Net (whose BatchNorms the export folded into the convolutions):
    each Conv gets the folded weights, each BatchNorm becomes the identity plus the folded bias
    (exact in eval mode). A head with more outputs than the file's: a second output copies the
    first; a third (the boundary of a 2-output file) starts at zero weights and bias -4."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    nodes = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    order = []  # (conv, bn or None) in execution order
    for block in model.down:
        order += [(block[0], block[1]), (block[3], block[4])]
    for up, merge in zip(model.up, model.merge):
        order += [(up, None), (merge[0], merge[1]), (merge[3], merge[4])]
    order.append((model.head, None))
    assert len(order) == len(nodes), (len(order), len(nodes))
    with torch.no_grad():
        for (conv, bn), node in zip(order, nodes):
            w = torch.from_numpy(init[node.input[1]].copy())
            b = torch.from_numpy(init[node.input[2]].copy()) if len(node.input) > 2 else torch.zeros(w.shape[0])
            if conv is model.down[0][0] and conv.weight.shape[1] > w.shape[1]:
                # a model with the scale planes from one without: they start with zero weights (the same function)
                w = torch.cat([w, torch.zeros(w.shape[0], conv.weight.shape[1] - w.shape[1], *w.shape[2:])], 1)
            if conv is model.head and conv.weight.shape[0] != w.shape[0]:
                n = w.shape[0]
                conv.weight[:n] = w; conv.bias[:n] = b
                if n == 1:  # a distance head from a particle head: a copy of it
                    conv.weight[n:] = w; conv.bias[n:] = b
                else:  # a boundary head on a 2-output model: silent at first (probability 0.02 everywhere)
                    conv.weight[n:] = 0; conv.bias[n:] = -4.0
                continue
            conv.weight.copy_(w)
            if bn is None:
                conv.bias.copy_(b)
            else:
                bn.running_mean.zero_(); bn.running_var.fill_(1.0)
                bn.weight.fill_(float(np.sqrt(1.0 + bn.eps))); bn.bias.copy_(b)


def refit_batchnorm(model, batches):
    """Give the BatchNorms of a model started from an export (init_from_onnx: each BatchNorm the
    identity plus the folded bias) the statistics of what reaches them, without changing what the
    model computes: with mean m and variance v of a BatchNorm's input over `batches`, running
    mean m, running variance v, weight sqrt(v + eps) and bias (folded bias + m) give the same
    output in eval mode, and in training mode (batch statistics close to m and v) about the
    same. Without this a continued model trains with no normalisation at all (--freeze-bn), which
    is not how it was trained (training/README.md, "Stage T")."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    sums = {bn: [0.0, 0.0, 0] for bn in bns}

    def hook(bn, inputs, _):
        z = inputs[0].detach().double()
        acc = sums[bn]
        acc[0] = acc[0] + z.sum((0, 2, 3)); acc[1] = acc[1] + (z * z).sum((0, 2, 3)); acc[2] += z.numel() // z.shape[1]

    handles = [bn.register_forward_hook(hook) for bn in bns]
    model.eval()
    with torch.no_grad():
        for x in batches:
            model(x)
    for h in handles:
        h.remove()
    with torch.no_grad():
        for bn in bns:
            s1, s2, n = sums[bn]
            mean = s1 / n
            var = (s2 / n - mean * mean).clamp(min=0)
            folded = bn.bias.double() - bn.running_mean.double() * bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
            bn.running_mean.copy_(mean.float()); bn.running_var.copy_(var.float())
            bn.weight.copy_(torch.sqrt(var + bn.eps).float()); bn.bias.copy_((folded + mean).float())
    model.train()


def pad_to(x, multiple):
    h, w = x.shape
    ph, pw = (-h) % multiple, (-w) % multiple
    return np.pad(x, ((0, ph), (0, pw)), mode="reflect") if ph or pw else x


def rescale_pair(img, inst, s):
    """An image resampled by s (box filter down, bilinear up) and its instance map by nearest
    neighbour, as emps.random_crop resamples its crops."""
    if s == 1:
        return img, inst
    h, w = img.shape
    nh, nw = max(16, int(round(h * s))), max(16, int(round(w * s)))
    img = np.asarray(Image.fromarray(img.astype(np.float32)).resize((nw, nh), Image.BILINEAR if s > 1 else Image.BOX), dtype=np.float32)
    yi = np.minimum(((np.arange(nh) + 0.5) / s).astype(int), h - 1)
    xi = np.minimum(((np.arange(nw) + 0.5) / s).astype(int), w - 1)
    return img, inst[np.ix_(yi, xi)]


def instance_labels(out):
    """The instance map of one image's logits (C x H x W): the level markers (`separate`, which
    chose every checkpoint up to 3.6) for a 2-output model; for a model with a boundary output the
    pipeline's separation (`separate_summits`) on the distance times (1 - boundary probability)."""
    p = torch.sigmoid(out).numpy()
    if p.shape[0] > 2:
        return separate_summits(p[0], p[1] * (1 - p[2]))
    return separate(p[0], p[1])


def score_pairs(model, pairs, layout, multiple=16, scale=1.0):
    """Pooled pixel IoU and instance F1 over whole images: (image, instance map) pairs, each
    resampled by `scale` first (0.5: about where antemactl shows an uncalibrated EMPS image)."""
    model.eval()
    inter = union = matched = n_pred = n_true = 0
    with torch.no_grad():
        for img, inst in pairs:
            img, inst = rescale_pair(img, inst, scale)
            h, w = img.shape
            x = network_input(model, pad_to(robust_normalize(img), multiple))  # EMPS: no calibration
            out = model(x.contiguous(memory_format=layout)).float()[0, :, :h, :w]
            fg, truth = out[0].numpy() > 0, inst > 0
            inter += int((fg & truth).sum()); union += int((fg | truth).sum())
            m, a, b = match_counts(instance_labels(out), inst)
            matched += m; n_pred += a; n_true += b
    model.train()
    return inter / max(union, 1), 2 * matched / max(n_pred + n_true, 1)


def evaluate_real(model, root, ids, layout, scale=1.0):
    """score_pairs over the EMPS images `ids` (loaded one at a time)."""
    return score_pairs(model, (emps.load(root, i) for i in ids), layout, scale=scale)


def sim_validation(seed, n, size, pixel_size_planes=False):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        img, lab, info = simulate.simulate(rng, size, version=4)
        x = robust_normalize(img)
        xs.append(scale_planes(x, info["pixel_size_nm"]) if pixel_size_planes else x[None]); ys.append(lab[None].astype(np.float32))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def pair_validation(seed, n, size):
    """n simulated overlapping pairs (simulate.py pair=True, as the pair test set but drawn at the
    pixel sizes the network sees, 0.1-2 nm) with their instance maps; a fixed seed apart from the
    test set's."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        img, _, info = simulate.simulate(rng, size, version=4, network_view=False, pair=True,
                                         pixel_size_nm=math.exp(rng.uniform(math.log(0.1), math.log(2.0))))
        if info["particles"] == 2 and len(np.unique(info["instances"])) == 3:
            out.append((img, info["instances"], info["pixel_size_nm"]))
    return out


def pair_split(model, pairs, layout):
    """The share of pairs whose two particles are both matched (IoU >= 0.5) after instance_labels."""
    model.eval()
    split = 0
    with torch.no_grad():
        for img, inst, pixel_size in pairs:
            x = network_input(model, robust_normalize(img), pixel_size)
            out = model(x.contiguous(memory_format=layout)).float()[0]
            m, _, _ = match_counts(instance_labels(out), inst)
            split += m == 2
    model.train()
    return split / max(len(pairs), 1)


def sim_iou(model, xs, ys, layout):
    model.eval()
    inter = union = 0
    with torch.no_grad():
        for i in range(0, len(xs), 8):
            pred = model(xs[i:i + 8].contiguous(memory_format=layout)).float()[:, :1] > 0
            truth = ys[i:i + 8] > 0.5
            inter += (pred & truth).sum().item(); union += (pred | truth).sum().item()
    model.train()
    return inter / max(union, 1)


def boundary_loss(logit, band, valid, particles, pos_weight=5.0, foreground=True):
    """The boundary output's loss (here and in train_boundary.py): BCE with the touching band
    weighted `pos_weight`, plus soft Dice; with `foreground`, both only inside the particles grown
    by 2 px (outside them the distance map the boundary multiplies is 0 whatever it says)."""
    w = valid * (1 + (pos_weight - 1) * band)
    if foreground:
        w = w * F.max_pool2d(particles, 5, stride=1, padding=2)
    bce = (F.binary_cross_entropy_with_logits(logit, band, reduction="none") * w).sum() / (valid.sum() + 1)
    p = torch.sigmoid(logit) * (w > 0)
    return bce + 1 - (2 * (p * band).sum() + 1) / (p.sum() + band.sum() + 1)


def loss_fn(out, target, valid, per_tile=False, boundary_output=0.0):
    """BCE + soft Dice on the particle output, BCE on the distance output (weighted by the target's
    third plane where there is one: 1 + --boundary-weight in the touching band). With per_tile the Dice
    is computed for each tile and averaged, so a tile of a few faint 2 nm particles weighs as
    much as an EMPS crop full of large ones (pooled over the batch, the crop dominates). With a
    third output (--boundary-output), boundary_loss on the touching band (the target's third
    plane, 1 + the band), times `boundary_output`."""
    fg_logit, dist_logit = out[:, :1], out[:, 1:2]
    fg, dist = target[:, :1], target[:, 1:2]
    n = valid.sum() + 1
    bce = (F.binary_cross_entropy_with_logits(fg_logit, fg, reduction="none") * valid).sum() / n
    p = torch.sigmoid(fg_logit) * valid
    if per_tile:
        dims = (1, 2, 3)
        dice = (1 - (2 * (p * fg).sum(dims) + 1) / (p.sum(dims) + (fg * valid).sum(dims) + 1)).mean()
    else:
        dice = 1 - (2 * (p * fg).sum() + 1) / (p.sum() + (fg * valid).sum() + 1)
    # the touching band's weight (Tiles with a boundary weight), the U-Net paper's border weights
    if boundary_output:
        band = (target[:, 2:3] > 1.5).float()
        w = valid
        extra = boundary_output * boundary_loss(out[:, 2:3], band, valid, fg)
    else:
        w = valid * target[:, 2:3] if target.shape[1] > 2 else valid
        extra = 0.0
    dist_bce = (F.binary_cross_entropy_with_logits(dist_logit, dist, reduction="none") * w).sum() / n
    return bce + dice + dist_bce + extra


def distill_loss(student_logits, teacher, x, valid):
    """BCE of the student's logits (particle, then distance: as many as given) towards the
    teacher's probabilities (--distill), over the valid pixels: the teacher's answer kept where
    the labels say nothing against it. Its minimum is the teacher's own entropy, not 0."""
    with torch.no_grad():
        target = torch.sigmoid(teacher(x).float()[:, :student_logits.shape[1]])
    per_pixel = F.binary_cross_entropy_with_logits(student_logits, target, reduction="none") * valid
    return per_pixel.sum() / (valid.sum() * student_logits.shape[1] + 1)


def export(model, out, meta):
    train.export(model, out, meta)
    model.train()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/antema-unet-3")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--stop-after", type=int)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--real-fraction", type=float, default=0.5, help="share of tiles cut from the EMPS training split")
    ap.add_argument("--emps", default=emps.DEFAULT_DIR)
    ap.add_argument("--channels", default="16,32,64,128,256")
    ap.add_argument("--init-onnx", help="start from this exported model (the bundled 2.1)")
    ap.add_argument("--init", help="start from this checkpoint (.pt) of a 2-output model (a later stage)")
    ap.add_argument("--sim-artifacts", default="0.25,0.5,0.3,0.4",
                    help="probabilities for simulated tiles: inverted contrast, 8-bit export, JPEG (given 8-bit), burned-in annotations")
    ap.add_argument("--validate-every", type=int, default=500)
    ap.add_argument("--model-version", default="dev")
    ap.add_argument("--fast", action="store_true", help="bfloat16 autocast and channels-last (train.py)")
    ap.add_argument("--refit-bn", type=int, default=0,
                    help="with --init-onnx: give the BatchNorms the statistics of this many training batches first (refit_batchnorm) "
                         "and train them as usual, instead of --freeze-bn (0: off)")
    ap.add_argument("--freeze-bn", action="store_true",
                    help="keep BatchNorm layers in eval mode (needed when starting from an exported model, whose BatchNorms are folded)")
    ap.add_argument("--select", choices=["emps", "joint"], default="emps",
                    help="checkpoint kept: best (EMPS IoU + F1) / 2, or best (EMPS IoU + F1 + simulated IoU) / 3")
    ap.add_argument("--per-tile-dice", action="store_true", help="Dice per tile, averaged (see loss_fn)")
    ap.add_argument("--ema", type=float, default=0.0, help="validate and export an exponential moving average of the weights with this decay (0: off)")
    ap.add_argument("--sim-val-seed", type=int, help="seed of the simulated validation tiles (default: --seed + 1000); fixed, runs compare on the same tiles")
    ap.add_argument("--contrast-jitter", type=float, default=0.0,
                    help="multiply each normalised training tile by exp(U(-j, j)) and add U(-j/2, j/2) (0: off)")
    ap.add_argument("--real-scale-range", default="0.5,1.6",
                    help="the EMPS crops' resampling factors, low,high (log-uniform); antemactl shows an uncalibrated image at 0.35-0.71")
    ap.add_argument("--val-scale", type=float, default=1.0, help="the EMPS validation images resampled by this factor (1: native)")
    ap.add_argument("--sim-clustered", type=float, default=0.0,
                    help="share of simulated tiles drawn as agglomerates, most particles overlapping a neighbour (0: off)")
    ap.add_argument("--sim-overview", type=float, default=0.0,
                    help="share of simulated tiles that are clean low-magnification monolayers (simulate.overview_monolayer; 0: off)")
    ap.add_argument("--boundary-weight", type=float, default=0.0,
                    help="the distance loss weighs 1 + this in the band (2 px) where particles touch or overlap (0: off)")
    ap.add_argument("--sim-small-pairs", type=float, default=0.0,
                    help="share of simulated tiles drawn as agglomerates of particles 5-20 px across (0: off)")
    ap.add_argument("--sim-hrtem", type=float, default=0.0,
                    help="share of simulated tiles that are fine HRTEM micrographs (0.04-0.1 nm/px area-averaged to 0.1) of 1-5 nm particles (0: off)")
    ap.add_argument("--pair-val", type=int, default=0, help="also log the split share of this many simulated overlapping pairs (0: off)")
    ap.add_argument("--pixel-size-planes", action="store_true",
                    help="give the network the pixel size it sees the image at as two more input planes (scale_planes; metadata pixelSizePlanes)")
    ap.add_argument("--uncalibrated-sim", type=float, default=0.2,
                    help="with --pixel-size-planes, the share of simulated tiles shown as uncalibrated (the EMPS crops always are)")
    ap.add_argument("--plane-lr-scale", type=float, default=1.0,
                    help="with --pixel-size-planes, the first convolution's weights on the two scale planes move this many times as far per step (they start at zero)")
    ap.add_argument("--keep-all", action="store_true", help="also export every validated step as OUT-stepN.{pt,onnx,json}")
    ap.add_argument("--boundary-output", type=float, default=0.0,
                    help="a third output, where particles touch or overlap (touching_band), trained with the whole network; "
                         "its loss (boundary_loss) weighs this much; metadata boundaryClass 2 (0: off)")
    ap.add_argument("--distill", type=float, default=0.0,
                    help="with --init-onnx: keep the particle and distance outputs near the initial model's (a frozen copy "
                         "in inference mode, the teacher): BCE towards its probabilities, this much beside the labels' loss (0: off)")
    ap.add_argument("--amodal-distance", action="store_true",
                    help="simulated tiles: the distance target of each particle's whole shape, hidden parts included (the maximum "
                         "where particles overlap), so that a particle half behind another keeps its own summit")
    ap.add_argument("--amodal-weight", type=float, default=0.0,
                    help="with --amodal-distance: the distance loss weighs 1 + this where the whole-shape target differs from the "
                         "visible one by more than 0.1 (the hidden halves of overlapping particles; 0: off)")
    ap.add_argument("--distill-outputs", choices=("particle,distance", "particle"), default="particle,distance",
                    help="which of the teacher's outputs --distill holds: both (stages W, X) or the particle output only, "
                         "the distance left free to learn where touching particles part")
    a = ap.parse_args()
    train.require_native_bfloat16(a.fast)
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    channels = tuple(int(c) for c in a.channels.split(","))
    if a.amodal_weight and (a.boundary_weight or a.boundary_output or not a.amodal_distance):
        ap.error("--amodal-weight needs --amodal-distance and uses the target's third plane: leave --boundary-weight and --boundary-output off")
    if a.boundary_output and a.boundary_weight:
        ap.error("--boundary-output uses the target's third plane for the band; leave --boundary-weight off")
    model = UNet(channels, cin=3 if a.pixel_size_planes else 1, cout=3 if a.boundary_output else 2)
    if a.init_onnx:
        init_from_onnx(model, a.init_onnx)
    if a.init:
        model.load_state_dict(torch.load(a.init)["model"])
    teacher = None
    if a.distill:
        if not a.init_onnx or a.pixel_size_planes:
            ap.error("--distill needs --init-onnx (the teacher) and no --pixel-size-planes")
        teacher = UNet(channels, cin=1, cout=2)
        init_from_onnx(teacher, a.init_onnx)
        teacher.eval().requires_grad_(False)
    sim_artifacts = tuple(float(v) for v in a.sim_artifacts.split(","))
    real_scale = tuple(float(v) for v in a.real_scale_range.split(","))
    train_ids, val_ids = emps.split(a.emps)
    meta = {
        "name": "antema-unet", "version": a.model_version,
        "trainingPixelSizeNm": 0.2, "pixelSizeRangeNm": [0.1, 2.0],
        "normalization": "robust", "output": "logit", "particleClass": 0, "distanceClass": 1, "brightParticles": False,
        "licence": ("the antema project's licence; trained on simulated micrographs and on the EMPS dataset "
                    "(Yildirim and Cole, J. Chem. Inf. Model. 61 (2021) 1136, doi:10.1021/acs.jcim.0c01455; "
                    "MIT licence, Copyright (c) 2020 Batuhan Yildirim)"),
        "sizeMultiple": 2 ** (len(channels) - 1), "tileSizePx": 1024, "tileMarginPx": 128,
        "training": {"recipe": "training/train_instance.py", "seed": a.seed, "steps": a.steps, "batch": a.batch, "tilePx": a.tile,
                     "lr": a.lr, "realFraction": a.real_fraction, "simulator": "training/simulate.py v5",
                     "realData": "EMPS training split by paper (training/emps.py): %d training, %d validation images" % (len(train_ids), len(val_ids)),
                     "channels": list(channels), "bfloat16": a.fast, "init": a.init or a.init_onnx,
                     "simArtifacts": a.sim_artifacts, "frozenBatchNorm": a.freeze_bn,
                     "perTileDice": a.per_tile_dice, "ema": a.ema, "contrastJitter": a.contrast_jitter,
                     "realScaleRange": list(real_scale), "empsValidationScale": a.val_scale, "simClustered": a.sim_clustered, "simSmallPairs": a.sim_small_pairs, "simHrtem": a.sim_hrtem,
                     "boundaryWeight": a.boundary_weight, "simOverview": a.sim_overview, "planeLrScale": a.plane_lr_scale,
                     "boundaryOutput": a.boundary_output, "refitBatchNorm": a.refit_bn, "distill": a.distill, "distillOutputs": a.distill_outputs, "amodalDistance": a.amodal_distance, "amodalWeight": a.amodal_weight},
    }
    if a.boundary_output:
        meta["boundaryClass"] = 2
    if a.pixel_size_planes:
        meta["pixelSizePlanes"] = True
        meta["training"]["uncalibratedSim"] = a.uncalibrated_sim
    log = open(a.out + ".log", "a")

    def say(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True); log.write(line + "\n"); log.flush()

    vx, vy = sim_validation(a.sim_val_seed if a.sim_val_seed is not None else a.seed + 1000, 32, a.tile, a.pixel_size_planes)
    pv = pair_validation(7331, a.pair_val, a.tile) if a.pair_val else []
    loader = torch.utils.data.DataLoader(Tiles(a.seed, a.tile, a.real_fraction, a.emps, train_ids, sim_artifacts, a.contrast_jitter, real_scale,
                                               a.sim_clustered, 1.0 if a.boundary_output else a.boundary_weight, a.sim_overview, a.pixel_size_planes,
                                               a.uncalibrated_sim, a.sim_small_pairs, a.amodal_distance, a.amodal_weight, a.sim_hrtem), batch_size=a.batch,
                                         num_workers=1, persistent_workers=True, worker_init_fn=lambda _: torch.set_num_threads(1))
    if a.refit_bn:
        if not a.init_onnx or a.freeze_bn:
            ap.error("--refit-bn needs --init-onnx and no --freeze-bn")
        batches = iter(loader)
        refit_batchnorm(model, [next(batches)[0] for _ in range(a.refit_bn)])
    layout = torch.channels_last if a.fast else torch.contiguous_format
    model = model.to(memory_format=layout)
    ema = None
    if a.ema > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(a.ema), use_buffers=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps, pct_start=a.warmup)
    say(f"U-Net {channels} {3 if a.boundary_output else 2} outputs, {a.steps} steps of {a.batch} x {a.tile}^2, real fraction {a.real_fraction}, seed {a.seed}, "
        f"{len(train_ids)} training / {len(val_ids)} validation EMPS images" + (f", from {a.init_onnx}" if a.init_onnx else ""))
    if a.init_onnx or a.init:
        r_iou, r_f1 = evaluate_real(model, a.emps, val_ids, layout, a.val_scale)
        say(f"step 0 EMPS validation IoU {r_iou:.4f} F1 {r_f1:.4f} sim IoU {sim_iou(model, vx, vy, layout):.4f}"
            + (f" pairs split {pair_split(model, pv, layout):.3f}" if pv else ""))
    best, t0, running = -1.0, time.time(), 0.0
    for step, (x, y, v) in enumerate(loader, 1):
        if a.freeze_bn:
            for mod in model.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.eval()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.fast):
            out = model(x.contiguous(memory_format=layout))
        loss = loss_fn(out.float(), y, v, per_tile=a.per_tile_dice, boundary_output=a.boundary_output)
        if teacher is not None:
            held = 1 if a.distill_outputs == "particle" else 2
            loss = loss + a.distill * distill_loss(out.float()[:, :held], teacher, x, v)
        opt.zero_grad(); loss.backward()
        first = model.down[0][0].weight
        before = first.detach()[:, 1:].clone() if a.plane_lr_scale != 1 and first.shape[1] == 3 else None
        opt.step(); sched.step()
        if before is not None:  # the scale planes' weights: the step taken, times --plane-lr-scale
            with torch.no_grad():
                first[:, 1:] += (a.plane_lr_scale - 1) * (first[:, 1:] - before)
        if ema is not None:
            ema.update_parameters(model)
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 50 == 0:
            say(f"step {step} loss {running:.4f} lr {sched.get_last_lr()[0]:.2e} {step * a.batch / (time.time() - t0):.1f} tiles/s")
        last = step >= a.steps or (a.stop_after and step >= a.stop_after)
        if step % a.validate_every == 0 or last:
            kept = ema.module if ema is not None else model
            r_iou, r_f1 = evaluate_real(kept, a.emps, val_ids, layout, a.val_scale)
            s_iou = sim_iou(kept, vx, vy, layout)
            score = (r_iou + r_f1) / 2 if a.select == "emps" else (r_iou + r_f1 + s_iou) / 3
            split = pair_split(kept, pv, layout) if pv else None
            say(f"step {step} EMPS validation IoU {r_iou:.4f} F1 {r_f1:.4f} sim IoU {s_iou:.4f}" + (f" pairs split {split:.3f}" if pv else ""))
            metrics = {"empsValidationIoU": round(r_iou, 4), "empsValidationF1": round(r_f1, 4), "simValidationIoU": round(s_iou, 4),
                       "stepsDone": step, "minutes": round((time.time() - t0) / 60, 1)}
            if pv:
                metrics["simPairsSplit"] = round(split, 3)
            if a.keep_all:
                torch.save({"model": kept.state_dict(), "metrics": metrics}, f"{a.out}-step{step}.pt")
                export(kept, f"{a.out}-step{step}", dict(meta, training=dict(meta["training"], **metrics)))
            if score > best:
                best = score
                torch.save({"model": kept.state_dict(), "metrics": metrics}, a.out + ".pt")
                meta["training"].update(metrics)
                export(kept, a.out, meta)
                say("saved and exported (best so far)")
        if last:
            break
    say(f"done: best {a.select} score {best:.4f} in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
