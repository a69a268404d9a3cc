"""A bright-field TEM / HRTEM micrograph simulator for metallic nanoparticles on amorphous carbon.

Every micrograph is built in physical units and imaged the way a microscope does it:

1. Specimen. A pixel size p (nm/px) and a particle population (diameters 1-100 nm, so that
   particles span about 4-90 px) are drawn; particles are spheres, cubes, rods, octahedra,
   triangular and hexagonal plates, randomly rotated, some touching or overlapping. Their
   projected thickness t(x, y) (nm) is rendered analytically; the label is t > 0.
   A crystal lattice (spacing 0.20-0.24 nm, the {111}/{200} planes of Au, Ag, Pt, Pd) modulates
   the projected potential of each particle when the pixel size resolves it (spacing >= 2.2 px).
2. Exit wave. psi = exp(-mu t + i (sigma t + carbon)), where `carbon` is the phase of the
   amorphous support (band-limited random phase) and mu, sigma set amplitude and phase contrast.
   mu is drawn so contrast goes from clearly visible to barely visible.
3. Imaging. The wave is propagated with a defocus transfer function exp(-i pi lambda df k^2)
   (Fresnel edge fringes, phase-contrast speckle of the carbon), damped by a spatial-coherence
   envelope, and the intensity |psi|^2 is taken.
4. Detector. Illumination gradient, dose-dependent Poisson noise (electrons per pixel), the
   detector's blur (MTF) and Gaussian read noise, gain and offset.

Returned images are float32, dark particles on a bright background; labels are uint8 (1 = particle).
"""
import math

import numpy as np
from scipy import ndimage

LAMBDA_NM = 2.508e-3  # electron wavelength at 200 kV


def _grid(h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy, xx


def _rotated(yy, xx, cy, cx, angle):
    c, s = math.cos(angle), math.sin(angle)
    dy, dx = yy - cy, xx - cx
    return c * dx + s * dy, -s * dx + c * dy  # u along the particle's axis, v across


def _thickness(shape, yy, xx, cy, cx, r, angle, aspect, rng):
    """Projected thickness (in units of r, px) of one particle, and its support."""
    u, v = _rotated(yy, xx, cy, cx, angle)
    if shape == "sphere":
        e = 1 + 0.15 * rng.random()  # slightly elliptical
        q = (u / (r * e)) ** 2 + (v / r) ** 2
        return np.where(q < 1, 2 * r * np.sqrt(np.clip(1 - q, 0, 1)), 0)
    if shape == "cube":
        inside = (np.abs(u) < r) & (np.abs(v) < r)
        return np.where(inside, 2 * r, 0)
    if shape == "rod":
        half = r * (aspect - 1)
        du = np.clip(np.abs(u) - half, 0, None)
        q = (du / r) ** 2 + (v / r) ** 2
        return np.where(q < 1, 2 * r * np.sqrt(np.clip(1 - q, 0, 1)), 0)
    if shape == "octahedron":  # projected along [001]: a square pyramid pair -> thickness peaks at the centre
        d = np.maximum(np.abs(u), np.abs(v)) if rng.random() < 0.5 else (np.abs(u) + np.abs(v)) / math.sqrt(2) * 1.2
        return np.where(d < r, 2 * (r - d), 0)
    # plates: thin, uniform
    n = 3 if shape == "triangle" else 6
    ang = np.arctan2(v, u)
    rad = np.hypot(u, v)
    sector = (2 * math.pi / n)
    a = np.mod(ang, sector) - sector / 2
    apothem = r * math.cos(math.pi / n)
    inside = rad * np.cos(a) < apothem
    return np.where(inside, 0.6 * r, 0)


SHAPES = ["sphere", "sphere", "sphere", "sphere", "cube", "rod", "octahedron", "triangle", "hexagon"]


def _band_noise(h, w, rng, scale_px):
    """Random field with correlation length about scale_px (Gaussian-filtered white noise, unit sd)."""
    f = rng.standard_normal((h, w)).astype(np.float32)
    if scale_px > 0.3:
        f = ndimage.gaussian_filter(f, scale_px, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-8)


def area_resample_matrix(n, m):
    """(m x n) matrix that resamples n pixels to m by exact area overlap (a box filter when m < n).

    Output pixel j covers input [j n/m, (j+1) n/m); each input pixel contributes the fraction of
    it inside. The engine resamples images the same way (Sources/Inference/SegmentationRunner.swift,
    `Resampling.area`) before the network when it shrinks them.
    """
    w = np.zeros((m, n), np.float64)
    step = n / m
    for j in range(m):
        a, b = j * step, (j + 1) * step
        for i in range(int(math.floor(a)), min(n, int(math.ceil(b)))):
            w[j, i] = (min(b, i + 1) - max(a, i)) / step
    return w


def simulate(rng, size=256, pixel_size_nm=None, contrast=None, version=2, network_view=None, pair=False, monolayer=None,
             diameter_px=None, clustered=False, amodal=False, with_instances=False, hrtem=False):
    """One micrograph: (image float32 HxW, label uint8 HxW, info dict).

    pair: the specimen is one overlapping pair at the centre of the frame (the second particle's
    centre at 0.7-0.95 times the sum of both radii from the first's, so the two overlap), for
    the pair-splitting test set (make_testset.py --pairs); the instance map is returned.
    monolayer (True/False) and diameter_px ((low, high), drawn log-uniformly) fix what is
    otherwise drawn, for the low-magnification monolayer test set (make_testset.py --monolayers).
    clustered: three particles in four (instead of one in four) are placed against one already
    drawn, overlapping it as much as the pair test set's pairs do (centres 0.65-1.0 times the sum
    of the radii apart instead of 0.75-1.05): agglomerates to learn the separation from
    (train_instance.py --sim-clustered). It draws the same random numbers as without it.
    with_instances: info["instances"] is returned whatever the version (make_testset.py
    --instance-labels); it draws no random numbers.
    hrtem (with network_view): the tile is always a fine micrograph (0.04-0.1 nm/px, simulated at
    its own size and area-averaged to 0.1 nm/px) of particles 1-5 nm across, the kind of the
    reference HRTEM micrograph (1.75 nm particles at 0.064 nm/px on a carbon film whose
    phase-contrast speckle is resolved): train_instance.py --sim-hrtem. It skips the draw that
    otherwise picks one tile in eight as fine.
    amodal: info["amodal_distance"] is each particle's distance to the edge of its whole shape
    (hidden parts included) divided by its largest, the maximum where particles overlap: 1 at
    every particle's centre, even one half hidden behind another (train_instance.py
    --amodal-distance). It draws no random numbers.

    version 5: as version 4, and what real micrographs show that version 4 lacked: particles
    down to 3 px across, one image in four a dense monolayer (hexagonal packing, touching on all
    sides); the instance map is returned in info["instances"] (0 = background, 1..N = particle,
    the last drawn where particles overlap). Export artefacts (8-bit, JPEG, inverted contrast,
    burned-in annotations) are added by artifacts.py, to simulated and real tiles alike.

    version 4: as version 2, with the dose in physical units. Versions 1-3 drew the electrons per
    pixel (8-2000) whatever the pixel size, so a 0.6 nm/px micrograph could get 10 e/px, a
    fluence of 0.03 e/A^2: a thousand times below what inorganic specimens are imaged with
    (cryo-EM's low-dose limit is about 20 e/A^2; gold and other inorganic specimens are imaged
    with 10-100 times more). Version 4 draws the fluence at the specimen (20-5000 e/A^2) and the
    detector's quantum efficiency (0.2-0.8); the electrons counted per pixel are their product
    with the pixel's area, (10 p)^2 A^2. Fine pixels stay noisy (0.02 nm/px: 0.16-160 e/px),
    coarse ones are not; barely visible particles come from weak contrast against the carbon.

    network_view (default: from version 3 on) draws the pixel size the way the engine presents
    micrographs to the network (training tiles), as described for version 3; without it the pixel
    size is drawn in [0.02, 2] nm as micrographs come off the microscope (the test set passes
    network_view=False).

    version 3 (training of the second bundled model): as version 2, but drawn the way the network
    sees micrographs. The engine shrinks images finer than 0.1 nm/px to 0.1 nm/px (area
    averaging) before the network, so the network never sees finer pixels: version 3 draws the
    pixel size in [0.1, 2] nm, except that one tile in eight is a finer micrograph (0.04-0.1 nm/px,
    simulated at its own size) area-averaged to 0.1 nm/px, its label the pixels more than half
    covered.

    version 1: the simulator of the first training stage. version 2 (default) widens the
    carbon grain (0.5-2.5 px instead of 0.5-1.5 px) and the detector blur (0.3-2.5 px instead of
    0.3-1.2 px): the reference HRTEM micrograph's background is smoother-grained (autocorrelation
    0.5 at 4 px) than anything version 1 produced at its pixel size.
    """
    if network_view is None:
        network_view = version >= 3
    if network_view and pixel_size_nm is None:
        if hrtem or rng.random() < 0.125:
            fine_p = math.exp(rng.uniform(math.log(0.04), math.log(0.1)))
            big = int(round(size * 0.1 / fine_p))
            fine_d = (1.0 / fine_p, 5.0 / fine_p) if hrtem else None  # (earlier recipes: neither size nor agglomerates passed on)
            img, lab, info = simulate(rng, big, pixel_size_nm=0.1 * size / big, contrast=contrast, version=2 if version == 3 else version,
                                      network_view=False, amodal=amodal, diameter_px=fine_d, clustered=clustered and hrtem)
            r = area_resample_matrix(big, size)
            img = (r @ img.astype(np.float64) @ r.T).astype(np.float32)
            lab = ((r @ lab.astype(np.float64) @ r.T) > 0.5).astype(np.uint8)
            idx = np.minimum((np.arange(size) + 0.5) * big / size, big - 1).astype(int)  # nearest source pixel
            for key in ("instances", "amodal_distance"):
                if key in info:
                    info[key] = info[key][np.ix_(idx, idx)] * lab
            info = dict(info, pixel_size_nm=0.1, simulated_pixel_size_nm=info["pixel_size_nm"], mean_diameter_px=info["mean_diameter_px"] * size / big)
            return img, lab, info
    wide = version >= 2
    h = w = size
    # --- specimen -----------------------------------------------------------------
    for _ in range(100):
        # v5: down to 3 px (low-magnification overviews of small particles)
        lo_px, hi_px = diameter_px or (3 if version >= 5 else 5, 80)
        d_px = math.exp(rng.uniform(math.log(lo_px), math.log(hi_px)))          # mean diameter in px
        p = pixel_size_nm if pixel_size_nm else math.exp(rng.uniform(math.log(0.1 if network_view else 0.02), math.log(2.0)))
        d_nm = d_px * p
        if 1.0 <= d_nm <= 100:
            break
    spread = rng.uniform(0.05, 0.3)
    coverage = rng.uniform(0.03, 0.35)
    # v5: one image in four a dense monolayer or superlattice (hexagonal packing, particles
    # touching on all sides, coverage up to about 60 %), over the whole frame or a patch of it
    drawn_monolayer = version >= 5 and rng.random() < 0.25 and not pair
    monolayer = drawn_monolayer if monolayer is None else monolayer
    shape_mix = [rng.choice(SHAPES)] if rng.random() < 0.35 else SHAPES
    n_target = int(coverage * h * w / (math.pi / 4 * d_px ** 2)) + 1
    n_target = min(n_target, 400) if not pair else 2
    yy, xx = _grid(h, w)
    t = np.zeros((h, w), np.float32)        # projected thickness in px units (nm = px * p)
    lattice = np.zeros((h, w), np.float32)  # lattice modulation of the projected potential
    label = np.zeros((h, w), bool)
    instances = np.zeros((h, w), np.int32)  # v5: which particle each pixel shows (the last drawn where they overlap)
    amodal_distance = np.zeros((h, w), np.float32) if amodal else None
    margin = d_px
    placed = []
    resolves = p <= 0.24 / 2.2
    centres = []
    if monolayer:
        if rng.random() < 0.7:
            shape_mix = ["sphere"]
        spread = min(spread, 0.12)
        a_hex = d_px * rng.uniform(0.97, 1.25)          # lattice spacing: touching to small gaps
        theta = rng.uniform(0, math.pi)
        pcy, pcx, prad = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.3, 1.2) * max(h, w)
        jitter = rng.uniform(0, 0.12) * a_hex
        n_side = int(2 * max(h, w) / a_hex) + 4
        for i in range(-n_side, n_side):
            for j in range(-n_side, n_side):
                u, v = a_hex * (i + 0.5 * j), a_hex * (math.sqrt(3) / 2) * j
                cy = h / 2 + u * math.sin(theta) + v * math.cos(theta) + rng.normal(0, jitter)
                cx = w / 2 + u * math.cos(theta) - v * math.sin(theta) + rng.normal(0, jitter)
                if -d_px <= cy <= h + d_px and -d_px <= cx <= w + d_px and math.hypot(cy - pcy, cx - pcx) < prad \
                        and rng.random() > 0.04:           # a few vacancies
                    centres.append((cy, cx))
        n_target = len(centres)
    for i in range(n_target):
        r = max(1.6 if version < 5 else 1.2, 0.5 * d_px * math.exp(rng.normal(0, spread)))
        shape = rng.choice(shape_mix)
        if pair:
            if not placed:
                cy, cx = h / 2 + rng.uniform(-0.1, 0.1) * h, w / 2 + rng.uniform(-0.1, 0.1) * w
            else:
                py, px, pr = placed[0]
                ang = rng.uniform(0, 2 * math.pi)
                dist = (pr + r) * rng.uniform(0.7, 0.95)
                cy, cx = py + dist * math.sin(ang), px + dist * math.cos(ang)
        elif centres:
            cy, cx = centres[i]
        elif placed and rng.random() < (0.75 if clustered else 0.25):   # touching / overlapping neighbour
            py, px, pr = placed[rng.integers(len(placed))]
            ang = rng.uniform(0, 2 * math.pi)
            dist = (pr + r) * (rng.uniform(0.65, 1.0) if clustered else rng.uniform(0.75, 1.05))
            cy, cx = py + dist * math.sin(ang), px + dist * math.cos(ang)
        else:
            cy, cx = rng.uniform(-margin * 0.5, h + margin * 0.5), rng.uniform(-margin * 0.5, w + margin * 0.5)
        ext = r * 4.2
        y0, y1 = int(max(0, cy - ext)), int(min(h, cy + ext + 1))
        x0, x1 = int(max(0, cx - ext)), int(min(w, cx + ext + 1))
        if y1 <= y0 or x1 <= x0:
            continue
        sy, sx = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
        ti = _thickness(shape, sy, sx, cy, cx, r, rng.uniform(0, math.pi), rng.uniform(2, 4), rng).astype(np.float32)
        support = ti > 0
        if not support.any():
            continue
        t[y0:y1, x0:x1] += ti
        label[y0:y1, x0:x1] |= support
        instances[y0:y1, x0:x1][support] = len(placed) + 1
        if amodal:
            d = ndimage.distance_transform_edt(np.pad(support, 1))[1:-1, 1:-1]
            np.maximum(amodal_distance[y0:y1, x0:x1], (d / d.max()).astype(np.float32), out=amodal_distance[y0:y1, x0:x1])
        placed.append((cy, cx, r))
        if resolves and rng.random() < 0.85:
            spacing_px = rng.uniform(0.20, 0.24) / p
            a = rng.uniform(0, math.pi)
            ph = rng.uniform(0, 2 * math.pi)
            wave = np.cos(2 * math.pi * (math.cos(a) * sx + math.sin(a) * sy) / spacing_px + ph)
            lattice[y0:y1, x0:x1] += np.where(support, wave, 0).astype(np.float32)
    t_nm = t * p

    # --- exit wave ----------------------------------------------------------------
    # contrast in 0..1 (0 = barely visible, 1 = clearly visible): amplitude contrast of a particle
    # of the mean diameter, exp(-mu d) from 0.97 down to 0.45
    c = rng.random() if contrast is None else contrast
    target = 0.97 - c * 0.52
    mu = -math.log(target) / max(d_nm, 1e-3)
    sigma = mu * rng.uniform(0.5, 3.0)
    # amorphous carbon: a random phase correlated over about one atom spacing (0.5-1.5 px at
    # HRTEM pixel sizes, so the defocus turns it into speckle), strong where pixels are fine,
    # plus slow thickness variations of the film
    fine = p < 0.25
    carbon = _band_noise(h, w, rng, rng.uniform(0.5, 2.5 if wide else 1.5)) * (rng.uniform(0.05, 0.5) if fine else rng.uniform(0.0, 0.25))
    carbon += _band_noise(h, w, rng, rng.uniform(8, 40)) * rng.uniform(0, 0.3)
    lat_amp = rng.uniform(0.1, 0.6) * sigma * d_nm
    phase = sigma * t_nm + carbon + lat_amp * lattice * (t_nm > 0) / max(1.0, lattice.std() * 3 + 1e-6)
    amp = np.exp(-mu * t_nm)
    psi = amp * np.exp(1j * phase)

    # --- imaging: defocus propagation ---------------------------------------------
    fresnel_px = rng.uniform(0.3, 3.5)          # sqrt(lambda df) in px: width of the Fresnel fringe
    df = (fresnel_px * p) ** 2 / LAMBDA_NM * (1 if rng.random() < 0.8 else -1)
    ky = np.fft.fftfreq(h, d=p)[:, None]
    kx = np.fft.fftfreq(w, d=p)[None, :]
    k2 = (kx ** 2 + ky ** 2).astype(np.float32)
    chi = math.pi * LAMBDA_NM * df * k2
    knyq = 0.5 / p
    env = np.exp(-k2 / (rng.uniform(0.35, 1.0) * knyq) ** 2)
    psi = np.fft.ifft2(np.fft.fft2(psi) * np.exp(-1j * chi) * env)
    inten = (np.abs(psi) ** 2).astype(np.float32)

    # --- detector -----------------------------------------------------------------
    gy, gx = rng.normal(0, 0.25, 2)
    illum = 1 + gy * (yy / h - 0.5) + gx * (xx / w - 0.5)
    if rng.random() < 0.5:  # a broad beam profile
        cy, cx, s = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1.0, 3.0) * h
        illum *= np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    illum = np.clip(illum, 0.2, None)
    if version >= 4:  # fluence (e/A^2) x detector quantum efficiency x pixel area (A^2)
        fluence = math.exp(rng.uniform(math.log(20), math.log(5000)))
        dose = fluence * rng.uniform(0.2, 0.8) * (10 * p) ** 2
    else:
        dose = math.exp(rng.uniform(math.log(8), math.log(2000)))    # electrons per pixel
        fluence = dose / (10 * p) ** 2  # what a perfect detector would need: a lower bound
    counts = rng.poisson(np.clip(inten * illum * dose, 0, None)).astype(np.float32)
    counts = ndimage.gaussian_filter(counts, rng.uniform(0.3, 2.5 if wide else 1.2))
    img = counts * rng.uniform(0.5, 20) + rng.normal(0, rng.uniform(0, 2), (h, w)) + rng.uniform(0, 1000)
    img = img.astype(np.float32)

    bg = img[~label]
    visibility = float((bg.mean() - img[label].mean()) / (bg.std() + 1e-6)) if label.any() and (~label).any() else 0.0
    info = {"visibility": visibility, "pixel_size_nm": p, "mean_diameter_nm": d_nm, "mean_diameter_px": d_px, "contrast": c,
            "dose": dose, "fluence_e_per_a2": fluence, "particles": len(placed), "monolayer": monolayer}
    if version >= 5 or pair or monolayer or with_instances:
        info["instances"] = instances
    if amodal:
        info["amodal_distance"] = amodal_distance
    return img, label.astype(np.uint8), info


def overview_monolayer(rng, size=256, diameter_px=(3.0, 10.0), levels=None):
    """A low-magnification bright-field overview of a nanoparticle monolayer as labs export it:
    distinct dark particles 3-10 px across (log-uniform) in hexagonal packing, from touching
    (centres 1.03 times the diameter apart) to separated by half a diameter, with positional
    jitter, vacancies and spread sizes, over the whole frame or patches of it (the rest bare
    support); a projected sphere's or a flat particle's thickness profile, mild blur, noise and a
    gradient of illumination, and one image in two reduced to 12-40 grey levels.

    simulate()'s monolayers (v5) come out of the full image formation, so most are dim and noisy;
    the monolayers labs image at low magnification to measure size distributions are the clean
    kind this draws, on which issue 16's held-out set found the network below the classical
    segmenter. Returns (image float32 in 0..255, label uint8, info with "instances": each pixel
    the particle whose centre is nearest, where two touch).
    """
    from scipy.spatial import cKDTree
    d = math.exp(rng.uniform(math.log(diameter_px[0]), math.log(diameter_px[1])))
    spacing = d * rng.uniform(1.03, 1.5)
    theta = rng.uniform(0, math.pi)
    m = int(size / spacing * 1.3) + 3
    u, v = np.meshgrid(np.arange(-m, m + 1), np.arange(-m, m + 1))
    e1 = spacing * np.array([math.cos(theta), math.sin(theta)])
    e2 = spacing * np.array([math.cos(theta + math.pi / 3), math.sin(theta + math.pi / 3)])
    centres = size / 2 + u.reshape(-1, 1) * e1 + v.reshape(-1, 1) * e2
    centres += rng.normal(0, rng.uniform(0.02, 0.15) * spacing, centres.shape)
    centres = centres[(centres.min(1) > -d) & (centres.max(1) < size + d)]
    # patches of monolayer: a smooth random field above one of its quantiles (0: everywhere)
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), size * rng.uniform(0.05, 0.2), mode="wrap")
    q = rng.uniform(0, 60) if rng.random() < 0.8 else 0.0
    region = field >= np.percentile(field, q)
    ci = np.clip(centres.astype(int), 0, size - 1)
    keep = region[ci[:, 1], ci[:, 0]] & (rng.random(len(centres)) >= rng.uniform(0, 0.15))
    centres = centres[keep]
    yy, xx = np.mgrid[0:size, 0:size]
    pix = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], 1)
    instances = np.zeros((size, size), np.int32)
    t = np.zeros((size, size), np.float32)
    if len(centres):
        radii = d / 2 * np.exp(rng.normal(0, rng.uniform(0.03, 0.15), len(centres)))
        dist, idx = cKDTree(centres).query(pix)
        dist, idx = dist.reshape(size, size), idx.reshape(size, size)
        r = radii[idx]
        inside = dist <= r
        instances = np.where(inside, idx + 1, 0).astype(np.int32)
        sphere = np.sqrt(np.clip(1 - (dist / r) ** 2, 0, 1))
        w = rng.uniform(0, 1)
        t = np.where(inside, w * sphere + (1 - w), 0).astype(np.float32)
    img = 1 - rng.uniform(0.25, 0.7) * t
    img = ndimage.gaussian_filter(img, rng.uniform(0.4, 1.2))
    img += _band_noise(size, size, rng, rng.uniform(2, 10)) * rng.uniform(0, 0.05)
    img += ndimage.gaussian_filter(rng.standard_normal((size, size)), rng.uniform(0.3, 0.8)) * rng.uniform(0.01, 0.08)
    gy, gx = rng.normal(0, 0.1, 2)
    img *= 1 + gy * (yy / size - 0.5) + gx * (xx / size - 0.5)
    lo, hi = np.percentile(img, [0.5, 99.5])
    img = np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1)
    if levels is None and rng.random() < 0.5:
        levels = int(rng.integers(12, 41))
    if levels:
        img = np.round(img * (levels - 1)) / (levels - 1)
    img = (img * 255).astype(np.float32)
    # particles cut to nothing by the frame or a vacancy do not exist: consecutive labels
    _, inverse = np.unique(instances, return_inverse=True)
    instances = inverse.reshape(size, size).astype(np.int32)
    label = (instances > 0).astype(np.uint8)
    return img, label, {"mean_diameter_px": d, "spacing_px": spacing, "particles": int(instances.max()), "levels": levels or 0,
                        "instances": instances, "monolayer": True}


if __name__ == "__main__":
    import argparse
    from PIL import Image

    ap = argparse.ArgumentParser(description="Write a few simulated micrographs as PNG previews.")
    ap.add_argument("--out", default="/tmp/sim")
    ap.add_argument("-n", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    import os
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for i in range(a.n):
        img, lab, info = simulate(rng, a.size)
        lo, hi = np.percentile(img, [0.5, 99.5])
        v = np.clip((img - lo) / (hi - lo + 1e-6) * 255, 0, 255).astype(np.uint8)
        Image.fromarray(np.concatenate([v, lab * 255], axis=1)).save(f"{a.out}/{i:03d}.png")
        print(i, {k: round(v, 3) if isinstance(v, float) else v for k, v in info.items()})
