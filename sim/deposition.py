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


def load_readouts(lodged_pedicle: np.ndarray, lodged_trunk: np.ndarray, node_share: np.ndarray) -> dict:
    """The per-procedure occlusion read-outs (module docstring) from particles per pedicle vessel and trunk edge."""
    counts = np.concatenate([lodged_pedicle, lodged_trunk])
    share = np.concatenate([node_share, np.zeros(lodged_trunk.shape[0])])
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
                     comp_share: np.ndarray) -> pd.DataFrame:
    """One row per loaded element (cumulative load): the columns of ``DEPOSITION_COLUMNS``.

    ``element`` is ``pedicle`` (synthetic vessel ``#n``), ``trunk`` (named artery),
    ``compartment`` (the sub-resolution bed of tissue or peribiliary compartment
    ``c<k>``) or ``bed`` (a non-target bed, by branch name). Beds have no column
    length (NaN): their packing is by generation.
    """
    trunk, forest = liver.trunk, liver.forest
    m, c = geo.n_pedicle, geo.n_compartment
    rows = []
    for v in np.flatnonzero(load.vessel_count):
        pedicle = v < m
        rows.append((
            "pedicle" if pedicle else "trunk",
            f"#{v}" if pedicle else trunk.edge_names[v - m],
            int(forest.generation[v]) if pedicle else int(trunk.edge_generation[v - m]),
            geo.vessel_diam[v] / UM_M,
            float(node_share[v]) if pedicle else 0.0,
            int(load.vessel_count[v]),
            load.vessel_column[v] * 1e3,
            bool(load.vessel_blocked[v]),
            el.vessel_conductance(geo, load, v) / geo.vessel_g0[v],
        ))
    comps = liver.compartments
    for b in np.flatnonzero(load.bed_count):
        compartment = b < c
        rows.append((
            "compartment" if compartment else "bed",
            f"c{b}" if compartment else trunk.edge_names[b - c].removesuffix("_bed"),
            int(forest.generation[comps.node[b]]) + 1 if compartment else -1,
            geo.bed_feed_diam[b] / UM_M,
            float(comp_share[b]) if compartment else 0.0,
            int(load.bed_count[b]),
            float("nan"),
            bool(load.bed_blocked[b]),
            el.bed_conductance(geo, load, b) / geo.bed_g0[b],
        ))
    return pd.DataFrame.from_records(rows, columns=list(DEPOSITION_COLUMNS))
