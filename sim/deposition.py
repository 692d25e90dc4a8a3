"""Where the embolic load sits: the per-vessel load table and its summary read-outs.

The load (:mod:`sim.kernels.embolic_load`) is cumulative over the sessions on a
liver; the per-procedure read-outs count this procedure's particles.

* ``occluded_vessels``: resolved vessels (named trunk arteries and synthetic
  pedicle vessels) holding at least one particle of this procedure. Particles in
  sub-resolution beds (compartments, non-target beds) are not vessels of the
  model and are not counted here (they are rows of the load table).
* ``particles_per_occluded_vessel_mean`` / ``_median``: this procedure's particles
  per such vessel (a wedge and the column above it).
* ``largest_column_particles``: most particles of this procedure in one vessel.
* ``tumour_occluded_vessel_fraction``: tumour share of the occluded vessels, each
  vessel counted with the tumour share of the tissue it feeds (named trunk
  vessels feed mixed territories and count as 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .kernels import embolic_load as el
from .network import CompiledLiver
from .units import UM_M

__all__ = ["deposition_table", "load_readouts", "DEPOSITION_COLUMNS"]

#: Columns of ``deposition.parquet`` (docs/outputs.md).
DEPOSITION_COLUMNS = ("element", "vessel", "generation", "diameter_um", "tumour_share", "particles",
                      "column_length_mm", "blocked", "residual_conductance_fraction")


def load_readouts(lodged_pedicle: np.ndarray, lodged_trunk: np.ndarray, node_share: np.ndarray,
                  trunk_share: np.ndarray) -> dict:
    """The per-procedure occlusion read-outs (module docstring) from particles per pedicle vessel and trunk edge, and
    the tumour share of the tissue each feeds (:func:`sim.outcomes.tumour_share_of_lodgings`,
    :func:`sim.outcomes.trunk_tumour_share`)."""
    counts = np.concatenate([lodged_pedicle, lodged_trunk])
    share = np.concatenate([node_share, trunk_share])
    held = counts > 0
    n = int(held.sum())
    return {
        "occluded_vessels": n,
        "particles_per_occluded_vessel_mean": float(counts[held].mean()) if n else float("nan"),
        "particles_per_occluded_vessel_median": float(np.median(counts[held])) if n else float("nan"),
        "largest_column_particles": int(counts.max(initial=0)),
        "tumour_occluded_vessel_fraction": float(share[held].mean()) if n else float("nan"),
    }


def deposition_table(liver: CompiledLiver, geo: el.LoadGeometry, load: el.Load, node_share: np.ndarray,
                     comp_share: np.ndarray, trunk_share: np.ndarray,
                     kept: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per loaded element (cumulative load): the columns of ``DEPOSITION_COLUMNS``.

    ``element`` is ``pedicle`` (synthetic vessel ``#n``), ``trunk`` (named artery),
    ``compartment`` (the sub-resolution bed of tissue or peribiliary compartment
    ``c<k>``) or ``bed`` (a non-target bed, by branch name). Beds have no column
    length (NaN): their packing is by generation. ``kept``: :func:`sim.kernels.embolic_load.conductance_fractions`
    of ``geo`` and ``load``, if the caller has it.
    """
    trunk, forest = liver.trunk, liver.forest
    m, c = geo.n_pedicle, geo.n_compartment
    vessel_kept, bed_kept = el.conductance_fractions(geo, load) if kept is None else kept
    v = np.flatnonzero(load.vessel_count)
    ped, edge = v[v < m], v[v >= m] - m
    b = np.flatnonzero(load.bed_count)
    comp, bed = b[b < c], b[b >= c] - c
    comps = liver.compartments
    parts = [
        pd.DataFrame({"element": "pedicle", "vessel": [f"#{i}" for i in ped.tolist()],
                      "generation": forest.generation[ped].astype(np.int64), "diameter_um": geo.vessel_diam[ped] / UM_M,
                      "tumour_share": node_share[ped], "particles": load.vessel_count[ped],
                      "column_length_mm": load.vessel_column[ped] * 1e3, "blocked": load.vessel_blocked[ped] > 0,
                      "residual_conductance_fraction": vessel_kept[ped]}),
        pd.DataFrame({"element": "trunk", "vessel": [trunk.edge_names[e] for e in edge],
                      "generation": np.asarray(trunk.edge_generation)[edge].astype(np.int64),
                      "diameter_um": geo.vessel_diam[m + edge] / UM_M, "tumour_share": trunk_share[edge],
                      "particles": load.vessel_count[m + edge], "column_length_mm": load.vessel_column[m + edge] * 1e3,
                      "blocked": load.vessel_blocked[m + edge] > 0,
                      "residual_conductance_fraction": vessel_kept[m + edge]}),
        pd.DataFrame({"element": "compartment", "vessel": [f"c{k}" for k in comp.tolist()],
                      "generation": forest.generation[comps.node[comp]].astype(np.int64) + 1,
                      "diameter_um": geo.bed_feed_diam[comp] / UM_M, "tumour_share": comp_share[comp],
                      "particles": load.bed_count[comp], "column_length_mm": np.nan,
                      "blocked": load.bed_blocked[comp] > 0, "residual_conductance_fraction": bed_kept[comp]}),
        pd.DataFrame({"element": "bed", "vessel": [trunk.edge_names[e].removesuffix("_bed") for e in bed],
                      "generation": -1, "diameter_um": geo.bed_feed_diam[c + bed] / UM_M, "tumour_share": 0.0,
                      "particles": load.bed_count[c + bed], "column_length_mm": np.nan,
                      "blocked": load.bed_blocked[c + bed] > 0, "residual_conductance_fraction": bed_kept[c + bed]}),
    ]
    table = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else \
        pd.DataFrame(columns=list(DEPOSITION_COLUMNS))
    return table[list(DEPOSITION_COLUMNS)]
