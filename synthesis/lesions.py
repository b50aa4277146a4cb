"""Lesion insertion: a modelled lesion blended into a curated CT slice or radiograph.

The lesion is an ellipsoid (semi-axes a, b in plane, c cranio-caudal, rotated in plane) whose
surface can be lobulated (a few smooth bumps of the radius) and spiculated (thin tapering spikes),
as in Pezeshk et al.'s insertion of lesion models into other scans with varied shape and size.

- **CT**: the lesion's occupancy is integrated over the slice's thickness (partial volume through
  z) and over sub-pixels, blurred with the in-plane point-spread function, and blended so the
  lesion replaces the smoothed local background while the slice's own noise is kept:
  ``HU' = HU + f (lesion_HU - smooth(HU))``. It goes where a simple threshold segmentation says
  lung, wholly inside it.
- **Radiographs**: the lesion's line integral of extra attenuation, ``dp = (mu_lesion - mu_lung)
  x chord``, is blurred by the detector's PSF and added in the log domain (the stored value is
  taken as proportional to ``-log(I / I0)``), so the result obeys Beer-Lambert.

Only numpy and scipy.ndimage: runs wherever the curated Parquet does.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from scipy import ndimage

from .lowdose import MU_WATER_PER_MM
from radcurate.settings import dataclass_from

GENERATOR_CT = "radcurate.lesion-ct/1"
GENERATOR_RADIOGRAPH = "radcurate.lesion-radiograph/1"
# the synthetic export's radiographs store 4095/8 units per unit of line integral (projection.py)
RADIOGRAPH_LOG_SCALE = 4095.0 / 8.0


@dataclass(frozen=True)
class LesionConfig:
    """Ranges the inserted lesions are drawn from, and the imaging chain they are matched to.

    ``diameter_mm``: range of the long axis; ``elongation``: short/long axis ratio range;
    ``hu``: lesion attenuation range (solid nodules); ``lobulation``/``spiculation``: probability
    that a lesion has them; ``inplane_fwhm_mm``: PSF of the image (None: 1.5 pixels);
    ``radiograph_log_scale``: stored radiograph units per unit of line integral.
    """

    diameter_mm: tuple[float, float] = (6.0, 30.0)
    elongation: tuple[float, float] = (0.7, 1.0)
    hu: tuple[float, float] = (0.0, 60.0)
    lobulation: float = 0.3
    spiculation: float = 0.3
    inplane_fwhm_mm: float | None = None
    radiograph_log_scale: float = RADIOGRAPH_LOG_SCALE
    lung_hu_threshold: float = -400.0
    margin_mm: float = 3.0
    seed: int = 0
    max_parents: int | None = 64  # training images that receive a lesion (None: all)

    def __post_init__(self):
        if not (0 < self.diameter_mm[0] <= self.diameter_mm[1]):
            raise ValueError("diameter_mm must be an increasing range of positive sizes")
        if not (0 < self.elongation[0] <= self.elongation[1] <= 1):
            raise ValueError("elongation must be a range within (0, 1]")

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> "LesionConfig":
        return dataclass_from(cls, section, "lesion")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LesionModel:
    """One lesion: axes (mm, full lengths), in-plane angle, attenuation, shape modifiers."""

    long_mm: float
    short_mm: float
    depth_mm: float
    angle: float
    hu: float
    lobes: tuple[tuple[float, float, float, float], ...] = ()  # (unit dir x, y, z, amplitude)
    spikes: tuple[tuple[float, float, float, float], ...] = ()  # (unit dir x, y, z, length / radius)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def extent_mm(self) -> float:
        """Half-size of a box that holds the whole lesion, spikes included."""
        grow = 1.0 + max([a for *_, a in self.lobes] + [0.0]) + max([s for *_, s in self.spikes] + [0.0])
        return max(self.long_mm, self.depth_mm) / 2 * grow

    def occupancy(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        """1 inside the lesion, 0 outside, at points (mm) relative to its centre (u along x, v along
        y, w along z, before the in-plane rotation)."""
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        p = u * ca + v * sa
        q = -u * sa + v * ca
        a, b, c = self.long_mm / 2, self.short_mm / 2, self.depth_mm / 2
        rho = np.sqrt((p / a) ** 2 + (q / b) ** 2 + (w / c) ** 2) + 1e-12
        dx, dy, dz = p / a / rho, q / b / rho, w / c / rho  # direction in the normalised sphere
        bound = np.ones_like(rho)
        for lx, ly, lz, amp in self.lobes:  # smooth bumps of the radius
            cosang = dx * lx + dy * ly + dz * lz
            bound = bound + amp * np.exp(-(1.0 - cosang) / 0.08)
        inside = rho <= bound
        for sx, sy, sz, length in self.spikes:  # thin cones tapering to a point at 1 + length
            cosang = np.clip(dx * sx + dy * sy + dz * sz, -1, 1)
            width = 0.12 * np.clip(1.0 - (rho - 1.0) / length, 0.0, 1.0)
            inside |= (cosang > 0) & (rho <= 1.0 + length) & (np.arccos(cosang) <= width)
        return inside.astype(np.float32)


def draw_lesion(rng: np.random.Generator, config: LesionConfig) -> LesionModel:
    """A random lesion within the configured ranges."""
    long_mm = float(rng.uniform(*config.diameter_mm))
    short_mm = long_mm * float(rng.uniform(*config.elongation))
    depth_mm = long_mm * float(rng.uniform(*config.elongation))
    lobes, spikes = (), ()
    if rng.random() < config.lobulation:
        lobes = tuple((*_unit(rng), float(rng.uniform(0.15, 0.35))) for _ in range(int(rng.integers(3, 7))))
    if rng.random() < config.spiculation:
        spikes = tuple((*_unit(rng), float(rng.uniform(0.4, 1.0))) for _ in range(int(rng.integers(6, 14))))
    return LesionModel(long_mm, short_mm, depth_mm, float(rng.uniform(0, math.pi)),
                       float(rng.uniform(*config.hu)), lobes, spikes)


def _unit(rng: np.random.Generator) -> tuple[float, float, float]:
    v = rng.normal(size=3)
    v /= np.linalg.norm(v)
    return float(v[0]), float(v[1]), float(v[2])


def slice_occupancy(lesion: LesionModel, pixel_mm: tuple[float, float], thickness_mm: float,
                    z_offset_mm: float = 0.0, sub: int = 4, z_step_mm: float = 0.25) -> np.ndarray:
    """Partial-volume occupancy (0..1) of the lesion on a slice, on a pixel grid centred on it.

    Averaged over ``sub``² sub-pixels and heights every ``z_step_mm`` across the slice thickness
    (a rectangular slice profile), the lesion centre ``z_offset_mm`` from the slice's centre.
    """
    half, nr, nc, ys, xs = _subpixel_grid(lesion, pixel_mm, sub)
    z_samples = max(3, int(math.ceil(thickness_mm / z_step_mm)))
    zs = (np.arange(z_samples) + 0.5) / z_samples * thickness_mm - thickness_mm / 2 - z_offset_mm
    acc = np.zeros((len(ys), len(xs)), np.float32)
    for z in zs:
        acc += lesion.occupancy(xs[None, :], ys[:, None], np.float64(z))
    acc /= len(zs)
    return acc.reshape(2 * nr + 1, sub, 2 * nc + 1, sub).mean(axis=(1, 3))


def _subpixel_grid(lesion: "LesionModel", pixel_mm: tuple[float, float], sub: int):
    """The pixel grid around the lesion centre (half-width ``half`` mm, ``2*nr+1`` x ``2*nc+1``
    pixels) sampled at ``sub`` x ``sub`` sub-pixel positions: (half, nr, nc, ys, xs) in mm."""
    dr, dc = pixel_mm
    half = lesion.extent_mm + 2 * max(dr, dc)
    nr, nc = int(math.ceil(half / dr)), int(math.ceil(half / dc))
    offs = (np.arange(sub) + 0.5) / sub - 0.5
    ys = ((np.arange(-nr, nr + 1)[:, None] + offs[None, :]) * dr).ravel()
    xs = ((np.arange(-nc, nc + 1)[:, None] + offs[None, :]) * dc).ravel()
    return half, nr, nc, ys, xs


def lesion_chord(lesion: LesionModel, pixel_mm: tuple[float, float], sub: int = 3,
                 step_mm: float = 0.5) -> np.ndarray:
    """Path length (mm) through the lesion along the beam (the lesion's depth axis) per pixel."""
    half, nr, nc, ys, xs = _subpixel_grid(lesion, pixel_mm, sub)
    acc = np.zeros((len(ys), len(xs)), np.float32)
    for w in np.arange(-half, half + step_mm / 2, step_mm):
        acc += lesion.occupancy(xs[None, :], ys[:, None], np.float64(w)) * step_mm
    return acc.reshape(2 * nr + 1, sub, 2 * nc + 1, sub).mean(axis=(1, 3))


def lung_mask_ct(hu: np.ndarray, threshold: float = -400.0) -> np.ndarray:
    """Lungs on an axial slice: below ``threshold`` HU, inside the body (air connected to the image
    border is outside), without the trachea-sized specks (components under 1 % of the body)."""
    low = hu < threshold
    outside, _ = ndimage.label(low)
    border = np.unique(np.concatenate([outside[0], outside[-1], outside[:, 0], outside[:, -1]]))
    lungs = low & ~np.isin(outside, border[border > 0])
    body_area = max(1, int((~np.isin(outside, border[border > 0]) & ~low).sum() + lungs.sum()))
    lab, n = ndimage.label(lungs)
    if n == 0:
        return lungs
    sizes = ndimage.sum(lungs, lab, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= 0.01 * body_area) + 1
    return np.isin(lab, keep)


def lung_mask_radiograph(img: np.ndarray, band: float = 0.1) -> np.ndarray:
    """Lung fields on a frontal radiograph stored bright-is-attenuating: pixels darker than the Otsu
    threshold of the central region (outer ``band`` of the width and height left out, where thin
    chest wall and air are as dark as lung), opened to cut thin links, the two largest kept."""
    x = ndimage.gaussian_filter(img.astype(np.float32), 2.0)
    h, w = x.shape
    box = np.zeros_like(x, dtype=bool)
    box[int(band * h):int((1 - band) * h), int(band * w):int((1 - band) * w)] = True
    t = _otsu(x[box])
    dark = ndimage.binary_opening((x < t) & box, structure=np.ones((5, 5)))
    lab, n = ndimage.label(dark)
    if n == 0:
        return dark
    sizes = ndimage.sum(dark, lab, index=np.arange(1, n + 1))
    keep = np.argsort(sizes)[::-1][:2] + 1
    keep = [k for k in keep if sizes[k - 1] >= 0.01 * box.sum()]
    return np.isin(lab, keep)


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins)
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * mids) / np.maximum(w0, 1)
    m1 = (np.sum(hist * mids) - np.cumsum(hist * mids)) / np.maximum(w1, 1)
    return float(mids[np.argmax(w0 * w1 * (m0 - m1) ** 2)])


def choose_center(region: np.ndarray, radius_px: tuple[float, float], rng: np.random.Generator) -> tuple[int, int] | None:
    """A random pixel of ``region`` at least ``radius_px`` (rows, cols) from its edge, or None."""
    ry, rx = max(1, int(math.ceil(radius_px[0]))), max(1, int(math.ceil(radius_px[1])))
    yy, xx = np.mgrid[-ry:ry + 1, -rx:rx + 1]
    disk = (yy / ry) ** 2 + (xx / rx) ** 2 <= 1.0
    fits = ndimage.binary_erosion(region, structure=disk, border_value=0)
    idx = np.flatnonzero(fits)
    if len(idx) == 0:
        return None
    k = int(idx[rng.integers(len(idx))])
    return divmod(k, region.shape[1])


def _paste(shape: tuple[int, int], patch: np.ndarray, center: tuple[int, int]):
    """Slices of the image and of the patch for a patch centred at ``center`` (clipped)."""
    h, w = patch.shape
    y0, x0 = center[0] - h // 2, center[1] - w // 2
    iy0, ix0 = max(0, y0), max(0, x0)
    iy1, ix1 = min(shape[0], y0 + h), min(shape[1], x0 + w)
    return (slice(iy0, iy1), slice(ix0, ix1)), (slice(iy0 - y0, iy1 - y0), slice(ix0 - x0, ix1 - x0))


@dataclass
class Inserted:
    """An image with one inserted lesion, its mask (box region) and measurements."""

    image: np.ndarray
    mask: np.ndarray  # uint8 0/1 over the box
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (end-exclusive)
    center: tuple[int, int]  # row, col
    long_axis_mm: float
    short_axis_mm: float
    contrast: float  # HU over the local background (CT) or peak line integral added (radiograph)
    lesion: LesionModel
    parameters: dict[str, Any]


def _sigma_px(fwhm_mm: float | None, pixel_mm: tuple[float, float]) -> tuple[float, float]:
    if fwhm_mm is None:
        return (1.5 / 2.3548, 1.5 / 2.3548)  # 1.5 pixels FWHM
    return (fwhm_mm / 2.3548 / pixel_mm[0], fwhm_mm / 2.3548 / pixel_mm[1])


def _mask_box(occ: np.ndarray, sl: tuple[slice, slice], psl: tuple[slice, slice]):
    """Mask (occupancy >= 0.5) of the pasted patch, cropped to its bounding box, in image pixels."""
    m = occ[psl] >= 0.5
    if not m.any():
        return None
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    box = (sl[1].start + x0, sl[0].start + y0, sl[1].start + x1, sl[0].start + y1)
    return m[y0:y1, x0:x1].astype(np.uint8), box


def axes_mm(mask: np.ndarray, pixel_mm: tuple[float, float]) -> tuple[float, float]:
    """Long and short axes (mm) of a mask from its second moments (exact for a filled ellipse)."""
    yy, xx = np.nonzero(mask)
    if len(yy) < 2:
        return (float(len(yy) > 0) * pixel_mm[1], float(len(yy) > 0) * pixel_mm[0])
    y, x = yy * pixel_mm[0], xx * pixel_mm[1]
    cov = np.cov(np.stack([x, y])) + np.eye(2) * (pixel_mm[0] * pixel_mm[1] / 12.0)
    ev = np.sort(np.linalg.eigvalsh(cov))[::-1]
    return float(4 * math.sqrt(max(ev[0], 0))), float(4 * math.sqrt(max(ev[1], 0)))


def insert_ct(hu: np.ndarray, pixel_mm: tuple[float, float], thickness_mm: float,
              rng: np.random.Generator, config: LesionConfig) -> Inserted | None:
    """Insert one lesion into an axial CT slice (HU) inside the lung; None if no lung fits it."""
    lesion = draw_lesion(rng, config)
    z_off = float(rng.uniform(-0.25, 0.25)) * min(thickness_mm, lesion.depth_mm)
    occ = slice_occupancy(lesion, pixel_mm, thickness_mm, z_off)
    sig = _sigma_px(config.inplane_fwhm_mm, pixel_mm)
    f = ndimage.gaussian_filter(occ, sig)
    lungs = lung_mask_ct(hu, config.lung_hu_threshold)
    reach = lesion.extent_mm + config.margin_mm
    center = choose_center(lungs, (reach / pixel_mm[0], reach / pixel_mm[1]), rng)
    if center is None:
        return None
    out = hu.astype(np.float32).copy()
    sl, psl = _paste(hu.shape, f, center)
    background = ndimage.gaussian_filter(out, 3.0)[sl]
    out[sl] += f[psl] * (lesion.hu - background)
    found = _mask_box(f, sl, psl)
    if found is None:
        return None
    mask, box = found
    long_mm, short_mm = axes_mm(mask, pixel_mm)
    contrast = float(lesion.hu - np.median(background[f[psl] >= 0.5]))
    params = {"model": lesion.to_dict(), "z_offset_mm": z_off, "slice_thickness_mm": thickness_mm,
              "pixel_mm": list(pixel_mm), "psf_sigma_px": list(sig), "region": "lung (threshold)",
              "blend": "HU + f (lesion_HU - smooth(HU))"}
    return Inserted(np.clip(np.rint(out), -32768, 32767).astype(hu.dtype), mask, box, center, long_mm,
                    short_mm, contrast, lesion, params)


def insert_radiograph(img: np.ndarray, pixel_mm: tuple[float, float], rng: np.random.Generator,
                      config: LesionConfig, background_hu: float = -850.0, inverted: bool = False) -> Inserted | None:
    """Insert one lesion into a radiograph in the log domain (Beer-Lambert) inside a lung field.

    ``inverted``: MONOCHROME1 storage (white = 0, attenuation lowers the value)."""
    if inverted:
        info = np.iinfo(img.dtype) if np.issubdtype(img.dtype, np.integer) else None
        top = float(img.max()) if info is None else float(info.max)
        flipped = (top - img.astype(np.float64)).astype(img.dtype)
        ins = insert_radiograph(flipped, pixel_mm, rng, config, background_hu)
        if ins is not None:
            ins.image = (top - ins.image.astype(np.float64)).astype(img.dtype)
            ins.parameters["photometric"] = "MONOCHROME1"
        return ins
    lesion = draw_lesion(rng, config)
    chord = lesion_chord(lesion, pixel_mm)
    dmu = MU_WATER_PER_MM * (lesion.hu - background_hu) / 1000.0  # lesion replaces lung
    sig = _sigma_px(config.inplane_fwhm_mm, pixel_mm)
    dp = ndimage.gaussian_filter(chord * dmu, sig)
    lungs = lung_mask_radiograph(img)
    reach = lesion.extent_mm + config.margin_mm
    center = choose_center(lungs, (reach / pixel_mm[0], reach / pixel_mm[1]), rng)
    if center is None:
        return None
    out = img.astype(np.float64).copy()
    sl, psl = _paste(img.shape, dp, center)
    out[sl] += config.radiograph_log_scale * dp[psl]
    footprint = ndimage.gaussian_filter((chord > 0).astype(np.float32), sig)
    found = _mask_box(footprint, sl, psl)
    if found is None:
        return None
    mask, box = found
    long_mm, short_mm = axes_mm(mask, pixel_mm)
    info = np.iinfo(img.dtype) if np.issubdtype(img.dtype, np.integer) else None
    if info is not None:
        out = np.clip(np.rint(out), info.min, info.max)
    params = {"model": lesion.to_dict(), "pixel_mm": list(pixel_mm), "psf_sigma_px": list(sig),
              "background_hu": background_hu, "delta_mu_per_mm": dmu,
              "log_scale": config.radiograph_log_scale, "region": "lung field (Otsu)",
              "blend": "stored += log_scale * line integral (Beer-Lambert)"}
    return Inserted(out.astype(img.dtype), mask, box, center, long_mm, short_mm, float(dp.max()), lesion,
                    params)


def parameters_json(ins: Inserted) -> str:
    return json.dumps(ins.parameters, sort_keys=True)
