"""What exported micrographs carry beyond the microscope's image, added to training tiles.

Real micrographs reach antema as the microscope's software or a paper's figure left them:
8-bit exports with few grey levels and clipped ends, JPEG compression, bright particles on a dark
background (HAADF-STEM, SEM), and burned-in scale bars, labels and panel letters. `degrade`
applies a random selection of these to a float image (dark particles on a bright background, as
simulate.py draws them) and returns the image and the mask of burned-in annotations, which
occlude whatever lies beneath them (their pixels are background in the labels).
"""
import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_FONTS = {}


def _font(size):
    if size not in _FONTS:
        try:
            _FONTS[size] = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1: one bitmap size
            _FONTS[size] = ImageFont.load_default()
    return _FONTS[size]


def to_8bit(img, rng, levels=None):
    """Clip at random low/high percentiles and quantise to `levels` grey levels (16-256)."""
    lo, hi = np.percentile(img, [rng.uniform(0, 3), rng.uniform(97, 100)])
    v = np.clip((img - lo) / (hi - lo + 1e-6), 0, 1)
    if levels is None:
        levels = int(round(math.exp(rng.uniform(math.log(12), math.log(256)))))
    v = np.round(v * (levels - 1)) / (levels - 1)
    return (v * 255).astype(np.float32)


def jpeg(img8, rng):
    q = int(rng.integers(25, 92))
    buf = io.BytesIO()
    Image.fromarray(np.clip(img8, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32)


def annotate(img, rng):
    """Burn in a scale bar with its label, a panel letter, or a line of text; returns the image and
    the annotation mask (True where an annotation covers the image)."""
    h, w = img.shape
    lo, hi = np.percentile(img, [1, 99])
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    n = int(rng.integers(1, 4))
    for _ in range(n):
        kind = rng.choice(["bar", "letter", "text"])
        size = int(rng.integers(max(8, h // 30), max(10, h // 7)))
        x, y = int(rng.integers(0, max(1, w - 4 * size))), int(rng.integers(0, max(1, h - size - 4)))
        if kind == "bar":
            length = int(rng.integers(w // 10, w // 3 + 1))
            thick = int(rng.integers(2, max(3, size // 3)))
            draw.rectangle([x, y, x + length, y + thick], fill=255)
            if rng.random() < 0.8:
                label = f"{int(rng.choice([1, 2, 5, 10, 20, 50, 100, 200, 500]))} {rng.choice(['nm', 'nm', 'µm', 'μm'])}"
                draw.text((x, max(0, y - size - 2)), label, fill=255, font=_font(size))
        elif kind == "letter":
            letter = rng.choice(list("abcdefghABCDEFGH"))
            label = f"({letter})" if rng.random() < 0.5 else letter
            draw.text((x, y), label, fill=255, font=_font(size))
        else:
            label = rng.choice(["200 °C", "Au NPs", "HAADF", "x 50k", "10 min", "t = 2 h", "Ag", "Pt/C", "SE", "20 kV"])
            draw.text((x, y), label, fill=255, font=_font(size))
    mask = np.asarray(canvas) > 127
    if rng.random() < 0.3:  # a box behind the annotation (many exports put one)
        ys, xs = np.nonzero(mask)
        if len(ys):
            mask[max(0, ys.min() - 3):ys.max() + 4, max(0, xs.min() - 3):xs.max() + 4] = True
    value = hi + 0.2 * (hi - lo) if rng.random() < 0.6 else lo - 0.2 * (hi - lo)
    out = img.copy()
    out[mask] = value
    return out, mask


def degrade(img, rng, invert_p=0.25, eight_bit_p=0.5, jpeg_p=0.3, annotate_p=0.4):
    """A random selection of export artefacts; returns (image float32, annotation mask)."""
    img = img.astype(np.float32)
    if rng.random() < invert_p:        # bright particles on a dark background
        img = img.max() + img.min() - img
    mask = np.zeros(img.shape, bool)
    if rng.random() < annotate_p:
        img, mask = annotate(img, rng)
    if rng.random() < eight_bit_p:
        img = to_8bit(img, rng)
        if rng.random() < jpeg_p / eight_bit_p:
            img = jpeg(img, rng)
    return img, mask
