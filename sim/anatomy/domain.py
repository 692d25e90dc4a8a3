"""The liver-shaped domain, its tissue points and the Couinaud segments.

Coordinates
-----------
Liver coordinates in metres: x to the patient's left, y posterior, z cranial. The
origin is the centre of the right lobe's widest cross-section: the plane x = 0
joins the right half-domain (x < 0) to the left half-domain (x > 0), and y = z = 0
is the middle of that section.

Shape
-----
A "tapered half-ellipsoid pair": for x < 0 an ellipsoid quadrant of semi-axes
(a_r, a_y, a_z) (the thick right lobe), for x > 0 one of semi-axes (a_l, a_y,
a_z t(x)) whose cranio-caudal thickness tapers linearly to ``t_tip`` at the tip of
the left lobe, t(x) = 1 - (1 - t_tip) x / a_l. A point is inside when

    (y / a_y)^2 + (z / (a_z t(x)))^2 <= 1 - (x / a(x))^2.

Its volume is pi a_y a_z [2 a_r / 3 + a_l (2/3 - (1 - t_tip) / 4)], and every axis is
scaled so that it equals ``mass_kg / 1.0 kg/L`` ([ICRP89]). It is a schematic
silhouette, not a segmentation of an imaged liver.

Couinaud segments
-----------------
Labels follow the classical planes in their radiological form ([Bismuth1982]):
segment I is the tissue closest to a vertical axis in front of the inferior vena cava (the caudate lobe);
the middle hepatic vein plane (Cantlie's line) separates the right liver (V-VIII)
from the left (II-IV); the right hepatic vein plane separates the right posterior
sector (VI, VII) from the right anterior (V, VIII); the left hepatic vein /
umbilical plane separates segment IV from the left lateral section (II, III); the
portal plane separates the superior segments (II, VII, VIII) from the inferior
(III, VI, V), with one offset per section because the portal branches are not
coplanar. The plane orientations are fixed (model assumption: textbook drawings);
each offset is placed at the quantile of the tissue along the plane's normal that
gives the scenario's ``segment_fractions``, computed on a regular grid so that the
labels are a deterministic function of position (independent of the seed).

Anatomically a segment is the territory of its portal pedicle, and plane-based
segment volumes are off by up to 24% ([Fischer2002]): the model inherits that error
by construction, and the synthetic pedicle trees then fill the plane-defined
segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario import SEGMENTS

__all__ = ["LiverDomain", "SegmentPlanes", "Grid", "liver_domain", "fit_segment_planes", "regular_grid",
           "sample_points", "quasi_random_points", "LIVER_DENSITY_KG_M3", "SHAPES"]

#: Liver tissue density, kg/m^3 ([ICRP89]: about 1.0 kg/L).
LIVER_DENSITY_KG_M3 = 1000.0

#: Dimensionless silhouettes (a_r, a_l, a_y, a_z, t_tip), scaled to the liver volume.
#: Model assumption: proportions of a typical adult liver (about 19 cm transverse, 12 cm
#: antero-posterior, 15 cm cranio-caudal for 1.5 L); the left lobe's extent and
#: tip thickness set the three shapes.
SHAPES: dict[str, tuple[float, float, float, float, float]] = {
    "typical": (1.0, 1.0, 0.65, 0.8, 0.3),
    "large_left_lobe": (1.0, 1.3, 0.65, 0.8, 0.45),
    "small_left_lobe": (1.0, 0.6, 0.65, 0.8, 0.25),
}

#: Unit normals of the Couinaud planes (x left, y posterior, z cranial); each points
#: towards the side named. Model assumption: orientations of textbook drawings.
#: middle hepatic vein (Cantlie) plane -> left liver; nearly sagittal, running from the
#: gallbladder fossa (anterior, right) to the IVC (posterior).
_N_MIDDLE = np.array([1.0, -0.15, 0.0]) / np.hypot(1.0, 0.15)
#: right hepatic vein plane -> right posterior sector (right and posterior).
_N_RIGHT = np.array([-1.0, 1.0, 0.0]) / np.sqrt(2.0)
#: left hepatic vein / umbilical plane -> left lateral section.
_N_LEFT = np.array([1.0, -0.3, 0.0]) / np.hypot(1.0, 0.3)
#: portal plane -> superior segments, tilted so that II and VII lie posterior-superior.
_N_PORTAL = np.array([0.0, 0.25, 1.0]) / np.hypot(0.25, 1.0)
#: Axis of segment I (vertical, just in front of the IVC), as fractions of (a_r, a_y).
#: Model assumption: the caudate lobe lies left-anterior of the retro-hepatic IVC.
_CAUDATE_AXIS_FRACTION = (0.05, 0.6)
#: Porta hepatis on the middle hepatic vein plane, as a fraction of a_y (y) on the
#: right anterior section's portal plane. Model assumption: about mid-depth.
_HILUM_Y_FRACTION = 0.1
#: Grid cells over the liver volume used to place the tumours (and estimate their volume).
#: Model assumption: about 2 mm cells for a 1.5 L liver.
GRID_CELLS = 200_000
#: Halton points (in the bounding box) on which the plane offsets are fitted; a
#: deterministic, unbiased sample, so segment volumes match the fractions to about 0.05%.
FIT_POINTS = 1 << 19
#: Candidate points drawn per rejection-sampling batch (memory bound, not physics).
_SAMPLE_BATCH = 1 << 20


@dataclass(frozen=True)
class LiverDomain:
    """The liver-shaped region (see module docstring for the shape).

    Attributes
    ----------
    right_m, left_m : float, m
        Extent to the patient's right (-x) and left (+x) of the origin.
    ap_m, cc_m : float, m
        Antero-posterior (y) and cranio-caudal (z) semi-axes of the right lobe.
    tip_thickness : float
        Cranio-caudal thickness at the left tip relative to the right lobe.
    """

    right_m: float
    left_m: float
    ap_m: float
    cc_m: float
    tip_thickness: float

    @property
    def volume_m3(self) -> float:
        """Exact volume of the domain, m^3."""
        left = self.left_m * (2.0 / 3.0 - (1.0 - self.tip_thickness) / 4.0)
        return float(np.pi * self.ap_m * self.cc_m * (2.0 * self.right_m / 3.0 + left))

    @property
    def bounds_m(self) -> np.ndarray:
        """Bounding box, shape (2, 3): lower and upper corner, m."""
        return np.array([[-self.right_m, -self.ap_m, -self.cc_m], [self.left_m, self.ap_m, self.cc_m]])

    def contains(self, xyz: np.ndarray) -> np.ndarray:
        """Whether each point lies inside the liver.

        Parameters
        ----------
        xyz : ndarray of float64, shape (n, 3), m

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        xyz = np.atleast_2d(xyz)
        x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
        u = np.where(x < 0.0, x / self.right_m, x / self.left_m)
        thickness = np.where(x < 0.0, 1.0, 1.0 - (1.0 - self.tip_thickness) * np.clip(u, 0.0, 1.0))
        lhs = (y / self.ap_m) ** 2 + (z / (self.cc_m * thickness)) ** 2
        return (np.abs(u) <= 1.0) & (lhs <= 1.0 - u * u)


def liver_domain(mass_kg: float, shape: str) -> LiverDomain:
    """The domain of a liver of ``mass_kg`` with silhouette ``shape`` (a key of :data:`SHAPES`)."""
    a_r, a_l, a_y, a_z, t_tip = SHAPES[shape]
    unit = LiverDomain(a_r, a_l, a_y, a_z, t_tip)
    scale = (mass_kg / LIVER_DENSITY_KG_M3 / unit.volume_m3) ** (1.0 / 3.0)
    return LiverDomain(a_r * scale, a_l * scale, a_y * scale, a_z * scale, t_tip)


@dataclass(frozen=True)
class Grid:
    """Regular grid of cell centres over the domain's bounding box.

    Attributes
    ----------
    origin_m : ndarray of float64, shape (3,), m
        Centre of cell (0, 0, 0).
    spacing_m : float, m
    shape : tuple of int
        Cells along x, y, z.
    inside : ndarray of bool, shape ``shape``
        Cells whose centre lies in the liver.
    """

    origin_m: np.ndarray
    spacing_m: float
    shape: tuple[int, int, int]
    inside: np.ndarray

    def centres(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Cell centres (of the cells in ``mask``, default inside the liver), shape (n, 3), m."""
        idx = np.argwhere(self.inside if mask is None else mask)
        return self.origin_m + idx * self.spacing_m


def regular_grid(domain: LiverDomain, cells: int = GRID_CELLS) -> Grid:
    """A grid of about ``cells`` cells inside ``domain`` (cell volume = liver volume / cells)."""
    h = (domain.volume_m3 / cells) ** (1.0 / 3.0)
    lo, hi = domain.bounds_m
    shape = tuple(int(np.ceil((hi[d] - lo[d]) / h)) for d in range(3))
    origin = lo + 0.5 * h
    axes = [origin[d] + h * np.arange(shape[d]) for d in range(3)]
    xx, yy, zz = np.meshgrid(*axes, indexing="ij")
    inside = domain.contains(np.column_stack([xx.ravel(), yy.ravel(), zz.ravel()])).reshape(shape)
    return Grid(origin, h, shape, inside)


def sample_points(domain: LiverDomain, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniformly distributed in the liver (rejection sampling).

    Parameters
    ----------
    domain : LiverDomain
    n : int
        Number of points.
    rng : numpy.random.Generator
        Source of randomness (the anatomy's seeded generator).

    Returns
    -------
    ndarray of float64, shape (n, 3), m
    """
    lo, hi = domain.bounds_m
    acceptance = domain.volume_m3 / float(np.prod(hi - lo))
    out = np.empty((n, 3))
    filled = 0
    while filled < n:
        batch = min(_SAMPLE_BATCH, int((n - filled) / acceptance * 1.05) + 64)
        cand = lo + (hi - lo) * rng.random((batch, 3))
        cand = cand[domain.contains(cand)][: n - filled]
        out[filled:filled + cand.shape[0]] = cand
        filled += cand.shape[0]
    return out


@dataclass(frozen=True)
class SegmentPlanes:
    """Couinaud plane offsets fitted to the segment volume fractions.

    Attributes
    ----------
    caudate_axis_m : ndarray of float64, shape (2,), m
        (x, y) of the vertical axis of segment I.
    caudate_radius_m : float, m
        Tissue closer than this to the axis is segment I.
    middle_m, right_m, left_m : float, m
        Offsets of the middle, right and left hepatic vein planes along their normals.
    portal_m : ndarray of float64, shape (3,), m
        Portal plane offsets in the right posterior, right anterior and left lateral sections.
    """

    caudate_axis_m: np.ndarray
    caudate_radius_m: float
    middle_m: float
    right_m: float
    left_m: float
    portal_m: np.ndarray

    def label(self, xyz: np.ndarray) -> np.ndarray:
        """Couinaud segment index 0-7 (I-VIII) of each point.

        Parameters
        ----------
        xyz : ndarray of float64, shape (n, 3), m

        Returns
        -------
        ndarray of int8, shape (n,)
        """
        xyz = np.atleast_2d(xyz)
        caudate = np.hypot(xyz[:, 0] - self.caudate_axis_m[0], xyz[:, 1] - self.caudate_axis_m[1]) \
            < self.caudate_radius_m
        left = xyz @ _N_MIDDLE > self.middle_m
        posterior = xyz @ _N_RIGHT > self.right_m
        lateral = xyz @ _N_LEFT > self.left_m
        height = xyz @ _N_PORTAL
        superior = np.where(left, height > self.portal_m[2],
                            np.where(posterior, height > self.portal_m[0], height > self.portal_m[1]))
        # segment index = SEGMENTS.index(...): I 0, II 1, III 2, IV 3, V 4, VI 5, VII 6, VIII 7
        right_label = np.where(posterior, np.where(superior, 6, 5), np.where(superior, 7, 4))
        left_label = np.where(lateral, np.where(superior, 1, 2), 3)
        label = np.where(caudate, 0, np.where(left, left_label, right_label))
        return label.astype(np.int8)

    def hilum_m(self, domain: LiverDomain) -> np.ndarray:
        """The porta hepatis: on the middle hepatic vein plane and the right anterior portal plane.

        Returns
        -------
        ndarray of float64, shape (3,), m
        """
        y = _HILUM_Y_FRACTION * domain.ap_m
        # solve n_M . p = middle_m and n_P . p = portal_m[1] for x, z at this y (n_M has no z part)
        x = (self.middle_m - _N_MIDDLE[1] * y) / _N_MIDDLE[0]
        z = (self.portal_m[1] - _N_PORTAL[1] * y) / _N_PORTAL[2]
        return np.array([x, y, z])


def quasi_random_points(domain: LiverDomain, n: int = FIT_POINTS) -> np.ndarray:
    """The points of the first ``n`` of a Halton sequence over the bounding box that lie in the liver.

    Deterministic and evenly spread (scipy.stats.qmc, unscrambled), so that anything
    fitted on them does not depend on the anatomy's seed.

    Returns
    -------
    ndarray of float64, shape (k, 3), m
        About ``n x volume / box volume`` points.
    """
    from scipy.stats import qmc

    lo, hi = domain.bounds_m
    cand = lo + (hi - lo) * qmc.Halton(d=3, scramble=False).random(n)
    return cand[domain.contains(cand)]


def _offset_with_share_above(values: np.ndarray, share: float) -> float:
    """Offset such that a fraction ``share`` of ``values`` lies above it."""
    return float(np.quantile(values, 1.0 - share))


def fit_segment_planes(domain: LiverDomain, fractions: dict[str, float]) -> SegmentPlanes:
    """Place the Couinaud planes so that segment volumes match ``fractions``.

    Each offset is the quantile along the plane's normal of the part of the liver
    it divides (segment I first, then left/right, then the sections, then the portal
    plane in each section), on the deterministic points of :func:`quasi_random_points`.

    Parameters
    ----------
    domain : LiverDomain
    fractions : dict of str to float
        Volume fraction of each segment I-VIII (sums to 1).

    Returns
    -------
    SegmentPlanes
    """
    f = np.array([fractions[s] for s in SEGMENTS])
    cells = quasi_random_points(domain)
    axis = np.array([_CAUDATE_AXIS_FRACTION[0] * domain.right_m, _CAUDATE_AXIS_FRACTION[1] * domain.ap_m])
    dist = np.hypot(cells[:, 0] - axis[0], cells[:, 1] - axis[1])
    caudate_radius = float(np.quantile(dist, f[0]))
    rest = cells[dist >= caudate_radius]
    middle = _offset_with_share_above(rest @ _N_MIDDLE, f[1:4].sum() / f[1:].sum())
    right_cells = rest[rest @ _N_MIDDLE <= middle]
    left_cells = rest[rest @ _N_MIDDLE > middle]
    right = _offset_with_share_above(right_cells @ _N_RIGHT, (f[5] + f[6]) / f[4:].sum())
    left = _offset_with_share_above(left_cells @ _N_LEFT, (f[1] + f[2]) / f[1:4].sum())
    posterior = right_cells[right_cells @ _N_RIGHT > right]
    anterior = right_cells[right_cells @ _N_RIGHT <= right]
    lateral = left_cells[left_cells @ _N_LEFT > left]
    portal = np.array([
        _offset_with_share_above(posterior @ _N_PORTAL, f[6] / (f[5] + f[6])),
        _offset_with_share_above(anterior @ _N_PORTAL, f[7] / (f[4] + f[7])),
        _offset_with_share_above(lateral @ _N_PORTAL, f[1] / (f[1] + f[2])),
    ])
    return SegmentPlanes(axis, caudate_radius, middle, right, left, portal)
