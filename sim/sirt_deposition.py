"""Where a SIRT agent's particles end up, per compartment: one rule for the MAA work-up and the Y-90 run (SI).

- :func:`compartment_amounts`: what lodged in each tissue compartment's own bed, and that plus its
  share of what lodged in the vessels and peribiliary beds above it (spread by volume: the betas'
  2.5-4 mm mean range, [EANM2021], spans several terminal territories);
- :func:`split_deposition`: each compartment's amount split between its viable tumour and normal
  liver by volume, each tumour's shunt fraction of the tumour part of its beds sent to the lungs
  (only what reached a bed meets the arteriovenous shunts);
- :class:`Distribution` and :func:`tn_ratio`: the split as the work-up and the run read it (the
  tumour-to-normal concentration ratio, the lung shunt fraction).

Masses at 1.0 kg/L ([ICRP89]). :mod:`sim.sirt_workup` (the MAA), :mod:`sim.sirt_run` (the Y-90
spheres) and :mod:`sim.sirt_compare` (the two side by side) all read it; it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dosimetry import TISSUE_DENSITY_KG_M3

__all__ = ["Distribution", "compartment_amounts", "compartment_shunt_fractions", "split_deposition", "tissue_masses",
           "tn_ratio"]


def compartment_amounts(liver, lodged_ped: np.ndarray, lodged_comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What lodged per compartment (spheres or particles, float): in its own bed, and in all.

    A sphere in a tissue compartment's bed stays there; one lodged in a resolved vessel, or in a peribiliary
    bed, irradiates the tissue that vessel (the node the bed hangs from) feeds and is spread over its tissue
    compartments by volume (the betas' 2.5-4 mm mean range, [EANM2021], spans several terminal territories).
    Only tissue compartments (kind 0) hold amounts, and the total is conserved (a node with no tissue below it
    keeps its spheres out of the total: none in a built liver).

    Returns
    -------
    in_beds, total : ndarray of float64, (C,)
        What lodged in each tissue compartment's own bed (the only spheres that reach a tumour's arteriovenous
        shunts, :func:`split_deposition`), and that plus its share of the spread ones.
    """
    from .kernels.treewalk import subtree_sums

    comps, forest = liver.compartments, liver.forest
    parent = np.asarray(forest.parent, np.int64)
    tissue = comps.kind == 0
    node_volume = np.bincount(comps.node[tissue], weights=comps.volume_m3[tissue], minlength=forest.n_nodes)
    below = np.empty_like(node_volume)
    subtree_sums(parent, node_volume, below)
    spread = lodged_ped.astype(np.float64) + np.bincount(comps.node[~tissue], weights=lodged_comp[~tissue],
                                                          minlength=forest.n_nodes)
    density = np.zeros_like(below)  # spheres per m^3 of tissue below, from the vessel (or bed) at each node
    np.divide(spread, below, out=density, where=below > 0)
    cum = density.copy()  # spheres per m^3 from every vessel on the path from the root, level by level
    depth = np.asarray(forest.generation, np.int64)
    for level in range(1, int(depth.max()) + 1 if depth.size else 0):
        nodes = np.flatnonzero((depth == level) & (parent >= 0))
        cum[nodes] += cum[parent[nodes]]
    in_beds = np.where(tissue, lodged_comp.astype(np.float64), 0.0)
    total = in_beds.copy()
    total[tissue] += cum[comps.node[tissue]] * comps.volume_m3[tissue]
    return in_beds, total


def tissue_masses(comps) -> tuple[np.ndarray, np.ndarray]:
    """Mass of each compartment's viable tumour and normal liver (kg, 0 for peribiliary compartments), (C,) each."""
    from .outcomes import tissue_volumes

    viable, normal = tissue_volumes(comps)
    return viable * TISSUE_DENSITY_KG_M3, normal * TISSUE_DENSITY_KG_M3


def compartment_shunt_fractions(comps, shunts: np.ndarray) -> np.ndarray:
    """Shunt fraction of the tumour in each compartment (its ``tumour_id``), 0 where there is none, (C,)."""
    return np.where(comps.tumour_id >= 0, shunts[np.maximum(comps.tumour_id, 0)], 0.0)


def split_deposition(comps, in_beds: np.ndarray, total: np.ndarray, shunts: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split what lodged in each compartment (spheres, particles or Bq) between its viable tumour and normal liver by
    volume, and send each tumour's shunt fraction of the tumour part of its beds to the lungs.

    Only what reached a compartment's bed meets the tumour's arteriovenous shunts: what wedged in a resolved vessel
    above stopped upstream of them (one rule for the MAA work-up and the Y-90 delivery).

    Parameters
    ----------
    comps : Compartments
    in_beds, total : ndarray of float64, (C,)
        Amount per compartment in its own bed and in all (:func:`compartment_amounts`).
    shunts : ndarray of float64, (tumours,)
        Each tumour's shunt fraction (:func:`sim.sirt_workup.tumour_shunt_fractions`).

    Returns
    -------
    tumour, normal : ndarray of float64, (C,)
        Amount in each tissue compartment's viable tumour (after shunting) and normal liver.
    lung : ndarray of float64, (C,)
        Amount each compartment shunted to the lungs.
    """
    tissue = comps.kind == 0
    viable, normal_mass = tissue_masses(comps)
    share_t = np.zeros_like(viable)
    np.divide(viable, viable + normal_mass, out=share_t, where=(viable + normal_mass) > 0)
    lung = in_beds * share_t * compartment_shunt_fractions(comps, shunts)
    tumour = np.where(tissue, total * share_t - lung, 0.0)
    normal = np.where(tissue, total * (1.0 - share_t), 0.0)
    return tumour, normal, lung


@dataclass(frozen=True)
class Distribution:
    """Where one agent went, per compartment (particles or Bq: only shares and concentrations are compared).

    Attributes
    ----------
    tumour, normal : ndarray of float64, (C,)
        Amount in each compartment's viable tumour (after shunting) and normal liver.
    lung : float
        Amount shunted to the lungs.
    """

    tumour: np.ndarray
    normal: np.ndarray
    lung: float

    @property
    def liver(self) -> np.ndarray:
        """Amount in each compartment's tissue, (C,)."""
        return self.tumour + self.normal

    @property
    def lung_shunt_fraction(self) -> float:
        """lung / (lung + liver tissue)."""
        total = self.lung + float(self.liver.sum())
        return self.lung / total if total > 0 else 0.0


def tn_ratio(dist: Distribution, tumour_mass_kg: np.ndarray, normal_mass_kg: np.ndarray, perfused: np.ndarray
             ) -> float:
    """Concentration in the perfused viable tumour over that in the perfused normal liver (NaN without both).

    Parameters
    ----------
    dist : Distribution
    tumour_mass_kg, normal_mass_kg : ndarray of float64, (C,), kg
    perfused : ndarray of bool, (C,)
        Compartments in the catheter's territory.
    """
    m_t, m_n = tumour_mass_kg[perfused].sum(), normal_mass_kg[perfused].sum()
    normal = dist.normal[perfused].sum()
    if m_t > 0 and m_n > 0 and normal > 0:
        return float((dist.tumour[perfused].sum() / m_t) / (normal / m_n))
    return float("nan")

