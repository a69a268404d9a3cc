"""From the instance-aware network's two outputs to particles, and the figures it is judged by.

The Swift pipeline does the same (Sources/Pipeline/MarkerSeparation.swift); this copy serves
training's validation and the Python evaluation scripts.

1. foreground: particle probability > 0.5, holes filled;
2. markers: connected components (8-connected) of the distance probability, smoothed by a
   Gaussian of `sigma` px, above `marker` inside the foreground: one core per particle, since the distance
   target is 1 at each particle's centre and 0 where particles touch (marker 0.4 was
   chosen on a third of the EMPS validation part with model 3.0's stage-B checkpoint at step
   600: instance F1 0.147 with the raw map at 0.5, 0.349 smoothed 2 px, 0.425 smoothed at 0.4;
   sigma 4 on the same third with model 3.1: 0.439 at 2 px, 0.485 at 4 px; a sigma following
   each object's size was tried and not kept, training/README.md);
3. every foreground pixel joins the marker it reaches first when the foreground is flooded from
   the markers in order of decreasing smoothed distance (a seeded watershed); a foreground
   component without a marker is one particle.

These level markers chose the checkpoints of the instance models up to 3.6, and are what
train_instance.py validates with. The pipeline has since taken as markers the summits of the map
smoothed by 1.5 px that stand at least 0.2 above the pass to a higher summit
(MarkerSeparation.swift, chosen with training/tune_markers.py through antemactl itself;
training/README.md "Markers from the summits"); `separate_summits` is that separation, which
train_boundary.py validates with.
"""
import numpy as np
from scipy import ndimage


def robust_normalize(img, exclude=None):
    """(x - median) / ((p99 - p1) / 4), clipped to [-6, 6]; statistics over the pixels not in
    `exclude` (burned-in annotations). The model metadata calls this "robust"."""
    vals = img[~exclude] if exclude is not None and (~exclude).sum() > 16 else img.reshape(-1)
    p1, med, p99 = np.percentile(vals, [1, 50, 99])
    scale = (p99 - p1) / 4
    if scale <= 1e-6:
        scale = vals.std()
    if scale <= 1e-6:
        scale = 1.0
    return np.clip((img - med) / scale, -6, 6).astype(np.float32)


def separate(p_fg, p_dist, marker=0.4, sigma=4.0, min_px=8):
    from skimage.segmentation import watershed
    fg = ndimage.binary_fill_holes(p_fg > 0.5)
    d = ndimage.gaussian_filter(p_dist, sigma) if sigma else p_dist
    markers, _ = ndimage.label((d > marker) & fg, structure=np.ones((3, 3)))
    labels = watershed(-d, markers, mask=fg)
    # foreground components without any marker
    rest, n = ndimage.label(fg & (labels == 0), structure=np.ones((3, 3)))
    if n:
        labels = np.where(rest > 0, rest + labels.max(), labels)
    if min_px:
        sizes = np.bincount(labels.reshape(-1))
        small = sizes < min_px
        small[0] = False
        labels[small[labels]] = 0
    return labels


def separate_summits(p_fg, p_dist, sigma=1.5, height=0.2, floor=0.3, min_px=8):
    """The pipeline's separation (MarkerSeparation.swift): foreground > 0.5 with holes filled; markers
    the summits of the map smoothed by `sigma` px standing at least `height` above their pass to a
    higher summit and above `floor`; a seeded watershed in order of decreasing smoothed map."""
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed
    fg = ndimage.binary_fill_holes(p_fg > 0.5)
    d = ndimage.gaussian_filter(p_dist, sigma) if sigma else p_dist
    d = np.where(fg, d, 0).astype(np.float64)
    peaks = h_maxima(d, height).astype(bool) & (d > floor) & fg
    markers, _ = ndimage.label(peaks, structure=np.ones((3, 3)))
    labels = watershed(-d, markers, mask=fg)
    rest, n = ndimage.label(fg & (labels == 0), structure=np.ones((3, 3)))
    if n:
        labels = np.where(rest > 0, rest + labels.max(), labels)
    sizes = np.bincount(labels.reshape(-1))
    small = sizes < min_px
    small[0] = False
    labels[small[labels]] = 0
    return labels


def match_counts(pred, truth, threshold=0.5):
    """(matched, predicted, true) particle counts; a match is IoU >= threshold (one-to-one,
    since two particles cannot both have IoU > 0.5 with the same one)."""
    p, t = pred.reshape(-1).astype(np.int64), truth.reshape(-1).astype(np.int64)
    np_, nt = int(p.max()) + 1, int(t.max()) + 1
    area_p = np.bincount(p, minlength=np_)
    area_t = np.bincount(t, minlength=nt)
    both = (p > 0) & (t > 0)
    pairs, inter = np.unique(p[both] * nt + t[both], return_counts=True)
    pi, ti = pairs // nt, pairs % nt
    iou = inter / (area_p[pi] + area_t[ti] - inter)
    matched = int((iou >= threshold).sum()) if threshold >= 0.5 else None
    n_pred = int((area_p[1:] > 0).sum())
    n_true = int((area_t[1:] > 0).sum())
    return matched, n_pred, n_true
