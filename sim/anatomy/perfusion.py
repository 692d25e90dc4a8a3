"""Tumours and the baseline perfusion demand of every piece of liver.

The liver is divided into regions: normal liver (region 0), the viable part of
tumour ``t`` (region ``1 + 2t``) and its necrotic core (region ``2 + 2t``). Each
region has a perfusion per volume (m^3/s of blood per m^3 of tissue) from the
hepatic artery, the portal vein and, for a tumour with ``[tumours.extrahepatic]``,
an extrahepatic feeder:

* normal liver: total ``p_n``, of which ``flow.normal_arterial_fraction`` arterial
  ([SeedDeckUHS], [Carlisle1992]) and the rest portal;
* viable tumour: total ``vascularity x p_n``; ``arterial_fraction`` of it is
  arterial, of which ``extrahepatic.arterial_fraction`` comes from the extrahepatic
  feeder; the rest is portal;
* necrotic core (a central sphere of ``necrotic_core_fraction`` of the tumour's
  volume): no demand.

``p_n`` is chosen so that the total inflow to the liver (hepatic artery + portal
vein + extrahepatic feeders) equals ``flow.total_flow_ml_min_kg x
flow.body_mass_kg`` ([Carlisle1992]). A point in two tumours belongs to the first in
scenario order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario import SEGMENTS, Scenario, ScenarioError
from ..units import MM_M, ml_min_to_m3s
from .domain import Grid, LiverDomain, SegmentPlanes

__all__ = ["Tumours", "Perfusion", "place_tumours", "perfusion_table", "NORMAL_REGION"]

#: Region index of normal liver (tumour ``t`` is ``1 + 2t`` viable, ``2 + 2t`` necrotic).
NORMAL_REGION = 0


@dataclass(frozen=True)
class Tumours:
    """Tumour spheres in liver coordinates.

    Attributes
    ----------
    names : tuple of str, shape (T,)
    centre_m : ndarray of float64, shape (T, 3), m
    radius_m : ndarray of float64, shape (T,), m
    core_radius_m : ndarray of float64, shape (T,), m
        Radius of the necrotic core (0 without one).
    """

    names: tuple[str, ...]
    centre_m: np.ndarray
    radius_m: np.ndarray
    core_radius_m: np.ndarray

    @property
    def n(self) -> int:
        """Number of tumours."""
        return len(self.names)

    @property
    def n_regions(self) -> int:
        """Number of regions: normal liver, then viable and necrotic part of each tumour."""
        return 1 + 2 * self.n

    def region(self, xyz: np.ndarray) -> np.ndarray:
        """Region index of each point (0 normal, ``1 + 2t`` viable, ``2 + 2t`` necrotic).

        Parameters
        ----------
        xyz : ndarray of float64, shape (n, 3), m

        Returns
        -------
        ndarray of int64, shape (n,)
        """
        region = np.zeros(xyz.shape[0], np.int64)
        for t in range(self.n - 1, -1, -1):  # reversed: the first tumour wins overlaps
            d2 = ((xyz - self.centre_m[t]) ** 2).sum(axis=1)
            region[d2 < self.radius_m[t] ** 2] = 1 + 2 * t
            region[d2 < self.core_radius_m[t] ** 2] = 2 + 2 * t
        return region


def _deepest_cell(grid: Grid, mask: np.ndarray) -> np.ndarray:
    """Centre of the cell of ``mask`` farthest from every cell outside it, m."""
    from scipy.ndimage import distance_transform_edt

    depth = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1, 1:-1]
    cell = np.unravel_index(int(np.argmax(depth)), grid.shape)
    return grid.origin_m + np.array(cell) * grid.spacing_m


def place_tumours(scenario: Scenario, domain: LiverDomain, planes: SegmentPlanes, grid: Grid) -> Tumours:
    """Centre and size of every tumour of the scenario.

    A tumour given by ``segment`` is centred at the point of that segment deepest
    inside it (farthest from its planes and the liver surface), leaving out the
    tumours placed before it: deterministic, and independent of the seed. A tumour
    given by ``centre_mm`` is taken as is.

    Raises
    ------
    ScenarioError
        ``tumours.<i>.centre_mm`` outside the liver, or lying in another segment
        than an explicitly given ``tumours.<i>.segment``.
    """
    labels = np.full(grid.shape, -1, np.int8)
    labels[grid.inside] = planes.label(grid.centres())
    taken = np.zeros(grid.shape, bool)
    cells = grid.origin_m + np.indices(grid.shape).reshape(3, -1).T * grid.spacing_m
    centres, radii, cores = [], [], []
    for i, t in enumerate(scenario.tumours):
        radius = 0.5 * t.diameter_mm * MM_M
        if t.centre_mm is not None:
            centre = np.asarray(t.centre_mm, float) * MM_M
            if not domain.contains(centre[None])[0]:
                raise ScenarioError(
                    f"tumour {t.name!r} centre {tuple(t.centre_mm)} mm lies outside the liver (x to the patient's "
                    f"left from -{domain.right_m / MM_M:.0f} to {domain.left_m / MM_M:.0f} mm, y posterior within "
                    f"+/-{domain.ap_m / MM_M:.0f} mm, z cranial within +/-{domain.cc_m / MM_M:.0f} mm)",
                    path=f"tumours.{i}.centre_mm")
            found = SEGMENTS[int(planes.label(centre[None])[0])]
            if "segment" in t.model_fields_set and t.segment is not None and t.segment != found:
                raise ScenarioError(
                    f"tumour {t.name!r}: centre_mm lies in segment {found}, not in segment {t.segment}; "
                    f"set segment = {found!r} or leave segment out", path=f"tumours.{i}.segment")
        else:
            seg = labels == SEGMENTS.index(t.segment)
            free = seg & ~taken
            centre = _deepest_cell(grid, free if free.any() else seg)
        taken |= (((cells - centre) ** 2).sum(axis=1) < radius ** 2).reshape(grid.shape)
        centres.append(centre)
        radii.append(radius)
        cores.append(radius * t.necrotic_core_fraction ** (1.0 / 3.0))
    return Tumours(tuple(t.name for t in scenario.tumours), np.array(centres, float).reshape(-1, 3),
                   np.array(radii, float), np.array(cores, float))


@dataclass(frozen=True)
class Perfusion:
    """Baseline perfusion per volume of each region, 1/s (m^3/s per m^3).

    Attributes
    ----------
    art, por, extra : ndarray of float64, shape (R,), 1/s
        From the hepatic artery, the portal vein and an extrahepatic feeder.
    feeder : ndarray of int64, shape (R,)
        Tumour whose extrahepatic feeder supplies the region, -1 for none.
    normal_total : float, 1/s
        Total perfusion of normal liver ``p_n``.
    """

    art: np.ndarray
    por: np.ndarray
    extra: np.ndarray
    feeder: np.ndarray
    normal_total: float

    @property
    def total(self) -> np.ndarray:
        """Total perfusion per volume of each region, 1/s."""
        return self.art + self.por + self.extra


def perfusion_table(scenario: Scenario, region_volume_m3: np.ndarray) -> Perfusion:
    """Perfusion per volume of each region so that the total liver inflow meets the target.

    Parameters
    ----------
    scenario : Scenario
    region_volume_m3 : ndarray of float64, shape (R,), m^3
        Volume of each region (normal, then viable and necrotic per tumour).

    Returns
    -------
    Perfusion

    Raises
    ------
    ScenarioError
        If no perfused tissue is left (every region necrotic).
    """
    flow = scenario.flow
    n_regions = region_volume_m3.shape[0]
    relative = np.zeros(n_regions)
    art_share = np.zeros(n_regions)
    extra_share = np.zeros(n_regions)
    feeder = np.full(n_regions, -1, np.int64)
    relative[NORMAL_REGION] = 1.0
    art_share[NORMAL_REGION] = flow.normal_arterial_fraction
    for t, tumour in enumerate(scenario.tumours):
        viable = 1 + 2 * t
        relative[viable] = tumour.vascularity
        art_share[viable] = tumour.arterial_fraction
        if tumour.extrahepatic is not None and tumour.arterial_fraction > 0.0:
            extra_share[viable] = tumour.arterial_fraction * tumour.extrahepatic.arterial_fraction
            feeder[viable] = t
    weighted = float(relative @ region_volume_m3)
    if weighted <= 0.0:
        raise ScenarioError("no perfused liver tissue is left (tumours and necrotic cores fill the liver)",
                            path="tumours")
    target = ml_min_to_m3s(flow.total_flow_ml_min_kg * flow.body_mass_kg)
    p_n = target / weighted
    total = relative * p_n
    return Perfusion(art=total * (art_share - extra_share), por=total * (1.0 - art_share),
                     extra=total * extra_share, feeder=feeder, normal_total=p_n)
