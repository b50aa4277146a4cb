"""A 3-D digital chest phantom: analytic anatomy plus findings of known size and position.

Coordinates are DICOM patient coordinates (LPS, millimetres): +x towards the patient's left,
+y posterior, +z superior; the carina sits at z = 0. Anatomy is a set of labelled analytic
shapes (ellipsoids, elliptic cylinders); a lookup table turns labels into Hounsfield units.
Lesions (nodules, masses, lymph nodes) are drawn with sub-pixel occupancy so that their size can be
measured back from the pixels to a fraction of a millimetre, which is what lets tests check a
report's stated size against the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

# Labels of the anatomy (index into the HU lookup table).
AIR, BODY, FAT, LUNG, MEDIAST, TRACHEA, AORTA, HEART, SPINE, RIB, STERNUM = range(11)
EFFUSION, CONSOLIDATION, PNEUMOTHORAX, ATELECTASIS, BULLA, TUBE = range(11, 17)
FIBROSIS, PLEURAL_THICKENING, HERNIA_AIR, HERNIA_FLUID = range(17, 21)
N_LABELS = 21
BASE_HU = np.array(
    [-1000, 40, -100, -850, -100, -1000, 180, 40, 400, 700, 500,  # anatomy
     10, -20, -1000, 0, -1000, 1200,  # findings and devices
     -300, 45, -1000, 15],
    dtype=np.float32,
)

BODY_AXES = (165.0, 115.0)
LUNG_CENTER_Z = -50.0
LUNG_AXES = (62.0, 85.0, 140.0)
LUNG_X = 85.0  # right lung at -LUNG_X, left lung at +LUNG_X
MEDIAST_C, MEDIAST_AXES, MEDIAST_Z = (0.0, -5.0), (38.0, 62.0), (-45.0, 95.0)
TRACHEA_C, TRACHEA_R, TRACHEA_Z = (0.0, 10.0), 9.0, (0.0, 160.0)  # carina at z = 0
AORTA_ASC, AORTA_DESC, AORTA_R = (10.0, -30.0), (22.0, 50.0), 12.0
HEART_C, HEART_AXES = (12.0, -25.0, -115.0), (58.0, 52.0, 62.0)
SPINE_C, SPINE_R = (0.0, 88.0), 17.0
RIB_PITCH, RIB_WIDTH = 25.0, 8.0
HERNIA_C, HERNIA_R = (-15.0, 40.0, -188.0), 20.0
LUNG_TOP_Z = LUNG_CENTER_Z + LUNG_AXES[2]
LUNG_BOTTOM_Z = LUNG_CENTER_Z - LUNG_AXES[2]

LESION_HU = 35.0
NODE_HU = 55.0


@dataclass(frozen=True)
class Lesion:
    """One lesion as it is at one study: an ellipsoid with its long axis rotated in the axial plane."""

    lesion_id: str
    kind: str  # "lesion" or "lymph_node"
    location: str  # e.g. "right upper lobe", "subcarinal"
    center: tuple[float, float, float]
    long_mm: float  # in-plane long axis (full length)
    short_mm: float  # in-plane short axis, perpendicular to the long axis
    depth_mm: float  # cranio-caudal extent
    angle: float  # radians, direction of the long axis from +x
    hu: float = LESION_HU

    @property
    def finding(self) -> str:
        if self.kind == "lymph_node":
            return "lymph node"
        return "mass" if self.long_mm >= 30.0 else "nodule"

    @property
    def visible(self) -> bool:
        return self.long_mm > 0.0

    def scaled(self, long_mm: float, short_mm: float) -> "Lesion":
        ratio = long_mm / self.long_mm if self.long_mm else 0.0
        return replace(self, long_mm=long_mm, short_mm=short_mm, depth_mm=self.depth_mm * ratio)


@dataclass(frozen=True)
class Phantom:
    """The chest of one patient at one point in time."""

    seed: int
    body_axes: tuple[float, float] = BODY_AXES
    heart_scale: float = 1.0  # 1.4-1.5 is cardiomegaly (cardiothoracic ratio > 0.5), ~1 normal (~0.4)
    effusion: tuple[str, ...] = ()  # sides with a pleural effusion: "right", "left"
    effusion_depth_mm: float = 35.0
    consolidation: tuple[float, float, float, float] | None = None  # x, y, z, radius
    pneumothorax: str | None = None  # side
    atelectasis: tuple[str, float] | None = None  # side, z of the plate
    emphysema: bool = False
    edema: bool = False
    ett_tip_z: float | None = None  # endotracheal tube tip (z, mm); carina is at 0
    fibrosis: bool = False  # basal subpleural reticulation
    pleural_thickening: str | None = None  # side of apical pleural thickening
    hernia: bool = False  # hiatal hernia: retrocardiac air-fluid sac below the heart
    lesions: tuple[Lesion, ...] = field(default=())

    def hu_table(self) -> np.ndarray:
        lut = BASE_HU.copy()
        if self.emphysema:
            lut[LUNG] = -920
        if self.edema:
            lut[LUNG] = -650
        return lut

    def bullae(self) -> list[tuple[float, float, float, float]]:
        """Emphysematous bullae (x, y, z, r), upper-lobe predominant, fixed by the seed."""
        if not self.emphysema:
            return []
        rng = np.random.default_rng([self.seed, 77])
        out = []
        for i in range(10):
            side = -1 if i % 2 == 0 else 1
            out.append((side * (LUNG_X + rng.uniform(-25, 25)), rng.uniform(-45, 45),
                        rng.uniform(20, 110), rng.uniform(5, 11)))
        return out


def _in_ellipse(x, y, c, axes):
    return ((x - c[0]) / axes[0]) ** 2 + ((y - c[1]) / axes[1]) ** 2 <= 1.0


def lung_mask(x, y, z, side: str, shrink: float = 1.0):
    """Inside the right or left lung ellipsoid (optionally shrunk about its centre)."""
    cx = -LUNG_X if side == "right" else LUNG_X
    ax, ay, az = (a * shrink for a in LUNG_AXES)
    return ((x - cx) / ax) ** 2 + (y / ay) ** 2 + ((z - LUNG_CENTER_Z) / az) ** 2 <= 1.0


def labels_at(ph: Phantom, x, y, z) -> np.ndarray:
    """Anatomy label at each point (broadcast arrays of x, y, z in mm)."""
    x, y, z = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float), np.asarray(z, float))
    lab = np.zeros(x.shape, np.uint8)
    bx, by = ph.body_axes
    r = np.sqrt((x / bx) ** 2 + (y / by) ** 2)
    lab[r <= 1.0] = FAT
    lab[r <= 0.93] = BODY
    for side in ("right", "left"):
        m = lung_mask(x, y, z, side)
        if side == ph.pneumothorax:
            lab[m] = PNEUMOTHORAX
            cx = -LUNG_X if side == "right" else LUNG_X
            m = lung_mask(x - 0.18 * (-cx), y, z + 12.0, side, shrink=0.8)  # collapsed lung
        lab[m] = LUNG
        if side in ph.effusion:
            lab[m & (y > LUNG_AXES[1] - ph.effusion_depth_mm) & (z < LUNG_CENTER_Z)] = EFFUSION
    lungs = (lab == LUNG)
    if ph.fibrosis:
        rim = lungs & ~lung_mask(x, y, z, "right", 0.86) & ~lung_mask(x, y, z, "left", 0.86)
        lab[rim & (z < LUNG_CENTER_Z - 50) & (np.mod(x + 0.7 * y + 0.5 * z, 9.0) < 3.0)] = FIBROSIS
    if ph.pleural_thickening is not None:
        side = ph.pleural_thickening
        lab[lungs & ~lung_mask(x, y, z, side, 0.9) & (z > LUNG_CENTER_Z + 70) & ((x < 0) == (side == "right"))] = PLEURAL_THICKENING
    lungs = (lab == LUNG)
    if ph.consolidation is not None:
        cx, cy, cz, cr = ph.consolidation
        lab[lungs & (((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) <= cr * cr)] = CONSOLIDATION
    if ph.atelectasis is not None:
        side, za = ph.atelectasis
        lab[lungs & (np.abs(z - za) <= 3.0) & (y > -20) & ((x < 0) == (side == "right"))] = ATELECTASIS
    for bxc, byc, bzc, br in ph.bullae():
        lab[lungs & (((x - bxc) ** 2 + (y - byc) ** 2 + (z - bzc) ** 2) <= br * br)] = BULLA
    med = _in_ellipse(x, y, MEDIAST_C, MEDIAST_AXES) & (z >= MEDIAST_Z[0]) & (z <= MEDIAST_Z[1])
    lab[med] = MEDIAST
    lab[_in_ellipse(x, y, TRACHEA_C, (TRACHEA_R, TRACHEA_R)) & (z >= TRACHEA_Z[0]) & (r <= 0.93)] = TRACHEA
    lab[_in_ellipse(x, y, AORTA_ASC, (AORTA_R + 2, AORTA_R + 2)) & (z >= -55) & (z <= 30)] = AORTA
    lab[_in_ellipse(x, y, AORTA_DESC, (AORTA_R, AORTA_R)) & (z <= 30)] = AORTA
    hs = ph.heart_scale  # an enlarged heart grows mostly sideways (cardiothoracic ratio > 0.5)
    hax = (HEART_AXES[0] * hs, HEART_AXES[1] * (1 + (hs - 1) * 0.5), HEART_AXES[2] * (1 + (hs - 1) * 0.4))
    heart = (((x - HEART_C[0]) / hax[0]) ** 2 + ((y - HEART_C[1]) / hax[1]) ** 2
             + ((z - HEART_C[2]) / hax[2]) ** 2) <= 1.0
    lab[heart & (r <= 0.93)] = HEART
    lab[_in_ellipse(x, y, SPINE_C, (SPINE_R, SPINE_R))] = SPINE
    rib = (r >= 0.86) & (r <= 0.93) & (np.mod(z + 0.35 * np.abs(x), RIB_PITCH) < RIB_WIDTH) & (y > -80) & (z > LUNG_BOTTOM_Z)
    lab[rib] = RIB
    lab[(np.abs(x) <= 14) & (y >= -by * 0.93) & (y <= -by * 0.93 + 12) & (z > -170)] = STERNUM
    if ph.hernia:
        sac = ((x - HERNIA_C[0]) ** 2 + (y - HERNIA_C[1]) ** 2 + (z - HERNIA_C[2]) ** 2) <= HERNIA_R ** 2
        lab[sac & (y < HERNIA_C[1] + 4)] = HERNIA_AIR  # air rises anteriorly in a supine patient
        lab[sac & (y >= HERNIA_C[1] + 4)] = HERNIA_FLUID
    if ph.ett_tip_z is not None:
        tube = _in_ellipse(x, y, TRACHEA_C, (3.0, 3.0)) & (z >= ph.ett_tip_z)
        lab[tube] = TUBE
    return lab


def lesion_occupancy(les: Lesion, x, y, z, sub: int = 8, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """Fraction of each pixel (centre x, y; size dx, dy) inside the lesion at height z.

    Sub-pixel sampling (``sub`` x ``sub``) gives partial-volume edges, so the lesion's area and
    second moments, hence its axes, can be recovered from the pixel values.
    """
    if not les.visible:
        return np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y)), np.float32)
    a, b, c = les.long_mm / 2, les.short_mm / 2, les.depth_mm / 2
    tz = ((z - les.center[2]) / c) ** 2
    if tz >= 1.0:
        return np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y)), np.float32)
    ca, sa = np.cos(les.angle), np.sin(les.angle)
    offs = (np.arange(sub) + 0.5) / sub - 0.5
    acc = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y)), np.float32)
    for ox in offs:
        for oy in offs:
            px = x + ox * dx - les.center[0]
            py = y + oy * dy - les.center[1]
            u = px * ca + py * sa
            v = -px * sa + py * ca
            acc += ((u / a) ** 2 + (v / b) ** 2 + tz) <= 1.0
    return acc / (sub * sub)


def render(ph: Phantom, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray, supersample: int = 2) -> np.ndarray:
    """HU volume (len(zs), len(ys), len(xs)) sampled on a regular in-plane grid at heights ``zs``.

    Anatomy is averaged over ``supersample``² sub-pixels; lesions are blended with their exact
    sub-pixel occupancy.
    """
    dx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    dy = float(ys[1] - ys[0]) if len(ys) > 1 else 1.0
    lut = ph.hu_table()
    offs = (np.arange(supersample) + 0.5) / supersample - 0.5
    sx = (xs[:, None] + offs[None, :] * dx).ravel()
    sy = (ys[:, None] + offs[None, :] * dy).ravel()
    out = np.empty((len(zs), len(ys), len(xs)), np.float32)
    for k, z in enumerate(zs):
        lab = labels_at(ph, sx[None, :], sy[:, None], z)
        hu = lut[lab].reshape(len(ys), supersample, len(xs), supersample).mean(axis=(1, 3))
        for les in ph.lesions:
            occ_box = _lesion_box(les, xs, ys, z)
            if occ_box is None:
                continue
            (i0, i1), (j0, j1) = occ_box
            f = lesion_occupancy(les, xs[None, j0:j1], ys[i0:i1, None], z, dx=dx, dy=dy)
            hu[i0:i1, j0:j1] = hu[i0:i1, j0:j1] * (1 - f) + les.hu * f
        out[k] = hu
    return out


def _lesion_box(les: Lesion, xs, ys, z):
    if not les.visible or abs(z - les.center[2]) >= les.depth_mm / 2:
        return None
    r = les.long_mm / 2 + 2 * max(abs(xs[1] - xs[0]), abs(ys[1] - ys[0]))
    j0, j1 = np.searchsorted(xs, les.center[0] - r), np.searchsorted(xs, les.center[0] + r)
    i0, i1 = np.searchsorted(ys, les.center[1] - r), np.searchsorted(ys, les.center[1] + r)
    if j1 <= j0 or i1 <= i0:
        return None
    return (i0, i1), (j0, j1)


def lesion_fits(ph: Phantom, les: Lesion, allowed: tuple[int, ...], margin_mm: float = 6.0) -> bool:
    """True if the lesion, grown by ``margin_mm``, lies wholly inside tissue with labels ``allowed``."""
    rng = np.random.default_rng(0)
    v = rng.normal(size=(600, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    pts = []
    for scale in (1.0, 0.6, 0.0):
        a, b, c = (les.long_mm / 2 + margin_mm, les.short_mm / 2 + margin_mm, les.depth_mm / 2 + margin_mm)
        u, w, h = v[:, 0] * a * scale, v[:, 1] * b * scale, v[:, 2] * c * scale
        ca, sa = np.cos(les.angle), np.sin(les.angle)
        pts.append(np.stack([les.center[0] + u * ca - w * sa, les.center[1] + u * sa + w * ca,
                             les.center[2] + h], axis=1))
    p = np.concatenate(pts)
    lab = labels_at(ph, p[:, 0], p[:, 1], p[:, 2])
    return bool(np.isin(lab, allowed).all())


def lung_location(x: float, z: float) -> str:
    """Lobe name of a point in a lung (by height; the right lung has a middle lobe)."""
    side = "right" if x < 0 else "left"
    frac = (z - LUNG_BOTTOM_Z) / (LUNG_TOP_Z - LUNG_BOTTOM_Z)
    if side == "right":
        lobe = "upper" if frac > 0.62 else ("middle" if frac > 0.4 else "lower")
    else:
        lobe = "upper" if frac > 0.5 else "lower"
    return f"{side} {lobe} lobe"


NODE_SITES = {
    "subcarinal": (0.0, 24.0, -22.0),
    "right paratracheal": (-22.0, 0.0, 35.0),
    "prevascular": (0.0, -45.0, 55.0),
}
