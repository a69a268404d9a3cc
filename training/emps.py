"""The EMPS training split (real SEM/TEM micrographs with manual instance masks) and the
instance targets the network learns.

The data stay in ../shared/data/emps-train (MIT licence; Yildirim and Cole, J. Chem. Inf. Model.
61 (2021) 1136, doi:10.1021/acs.jcim.0c01455); nothing is copied into the project.

Fixed validation part: every image whose source paper (DOI in sources.csv) hashes into the first
fifth (SHA-1 of the DOI, first byte < 52, about 20 % of the papers). Images of one paper share
microscope, preparation and figure style, so splitting by paper keeps the validation part a fair
stand-in for a lab the network has never seen. No training run reads a validation image.
"""
import csv
import hashlib
import math
import os

import numpy as np
from PIL import Image
from scipy import ndimage

DEFAULT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "emps-train")


def is_validation(doi):
    return hashlib.sha1(doi.strip().lower().encode()).digest()[0] < 52


def split(root=DEFAULT_DIR):
    """(training ids, validation ids), sorted."""
    with open(os.path.join(root, "sources.csv")) as f:
        rows = list(csv.DictReader(f))
    train = sorted(r["id"] for r in rows if not is_validation(r["doi"]))
    val = sorted(r["id"] for r in rows if is_validation(r["doi"]))
    return train, val


def load(root, ident):
    """(image float32 HxW grey, instances int32 HxW)."""
    img = Image.open(os.path.join(root, "images", ident + ".png")).convert("L")
    seg = np.asarray(Image.open(os.path.join(root, "segmaps", ident + ".png"))).astype(np.int32)
    if seg.ndim == 3:
        seg = seg[..., 0]
    return np.asarray(img, dtype=np.float32), seg


def normalized_distance(instances):
    """Per particle, the Euclidean distance of each pixel to the particle's edge (to background or
    another particle) divided by the particle's largest such distance: 1 at each particle's
    centre, falling to 0 at its edge and where particles touch; 0 in the background."""
    out = np.zeros(instances.shape, np.float32)
    for k, sl in enumerate(ndimage.find_objects(instances), 1):
        if sl is None:
            continue
        y0, y1 = max(0, sl[0].start - 1), min(instances.shape[0], sl[0].stop + 1)
        x0, x1 = max(0, sl[1].start - 1), min(instances.shape[1], sl[1].stop + 1)
        inside = instances[y0:y1, x0:x1] == k
        padded = np.pad(inside, 1)
        d = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
        m = d.max()
        if m > 0:
            out[y0:y1, x0:x1][inside] = (d[inside] / m).astype(np.float32)
    return out


def random_crop(img, inst, rng, size, scale_range=(0.5, 1.6)):
    """A size x size crop at a random scale (log-uniform), flipped and rotated at random."""
    s = math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
    h, w = img.shape
    nh, nw = max(8, int(round(h * s))), max(8, int(round(w * s)))
    img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BILINEAR if s > 1 else Image.BOX), dtype=np.float32)
    yi = np.minimum(((np.arange(nh) + 0.5) / s).astype(int), h - 1)
    xi = np.minimum(((np.arange(nw) + 0.5) / s).astype(int), w - 1)
    inst = inst[np.ix_(yi, xi)]
    if nh < size or nw < size:
        py, px = max(0, size - nh), max(0, size - nw)
        img = np.pad(img, ((0, py), (0, px)), mode="reflect")
        inst = np.pad(inst, ((0, py), (0, px)), mode="constant")
        valid = np.pad(np.ones((nh, nw), bool), ((0, py), (0, px)))
    else:
        valid = np.ones((nh, nw), bool)
    y = int(rng.integers(0, img.shape[0] - size + 1)); x = int(rng.integers(0, img.shape[1] - size + 1))
    img, inst, valid = img[y:y + size, x:x + size], inst[y:y + size, x:x + size], valid[y:y + size, x:x + size]
    k = int(rng.integers(4))
    img, inst, valid = np.rot90(img, k), np.rot90(inst, k), np.rot90(valid, k)
    if rng.random() < 0.5:
        img, inst, valid = img[:, ::-1], inst[:, ::-1], valid[:, ::-1]
    return np.ascontiguousarray(img), np.ascontiguousarray(inst), np.ascontiguousarray(valid)
