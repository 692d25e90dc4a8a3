"""Synthetic pedicle subtrees: recursive bisection of each segment's tissue points.

Each Couinaud segment's points are split in two across their principal axis, at
the weighted quantile that gives one child a share of the arterial demand drawn
uniformly from :data:`SPLIT_SHARE_RANGE`, and so on recursively
(:func:`sim.kernels.bisection.bisect_points`, O(N log N)). A node becomes a leaf (a
terminal territory) when a split would give a child an arterial design flow below
that of a vessel of ``liver.terminal_diameter_um``, so hypervascular tumour regions
are subdivided more finely and their feeders are larger. Arterial and portal
vessels share this topology (Glissonian pedicles); each segment's root is the
distal end of its named segmental vessels A_k / P_k.

A node sits at the arterial-demand-weighted centroid of its points (the centre of
the blood it delivers; the plain centroid where there is no demand). A vessel runs
from its parent's node to its own; its length is that distance, at least
:data:`MIN_LENGTH_DIAMETERS` times its diameter.

Radii follow Murray's law from the design flow (:mod:`sim.anatomy.murray`); an
internal node's design flow is the sum of its children's, so Murray's law holds
exactly at every synthetic bifurcation. A leaf's arterial design flow is its
arterial demand, floored at :data:`DESIGN_FLOW_FLOOR` of a terminal vessel's flow so
that no artery has zero radius (a territory without demand still has its vessel). A
leaf's portal design flow is the larger of its portal demand and the portal demand
of normal liver of the same volume. Model assumption: the portal tree was built for
the parenchyma the tumour grew into (tumours recruit arteries, and most metastases
keep portal supply at their periphery, [MetastasisCorrosionCast]); the tumour's low portal
inflow is then set by its compartment's calibrated terminal resistance, not by narrow
veins. The peribiliary plexus is not counted in the design flow (it is about 1% of
the arterial flow and branches off along the vessels).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..kernels.bisection import bisect_points
from ..kernels.treewalk import subtree_sums
from ..scenario import SEGMENTS, ScenarioError
from .murray import MurraySizing

__all__ = ["SubtreeTopology", "grow_subtrees", "design_flows", "vessel_geometry", "SPLIT_SHARE_RANGE",
           "DESIGN_FLOW_FLOOR", "MIN_LENGTH_DIAMETERS"]

#: Range of the share of a node's arterial demand sent to one child (uniform draw per
#: bifurcation). Model assumption: bifurcations of hepatic trees are asymmetric (CCO
#: trees and casts, [Jessen2022]; [Debbaut2014]); flow ratios up to 70:30 keep the
#: bisection space filling (sibling radii within a factor 1.4 at g = 2.7).
SPLIT_SHARE_RANGE = (0.3, 0.7)
#: Smallest design flow of a terminal vessel, relative to the flow of a vessel of the
#: terminal diameter. Model assumption: gives vessels without demand a radius of
#: 0.01^(1/g) (about 0.18 at g = 2.7) of the terminal radius instead of zero.
DESIGN_FLOW_FLOOR = 0.01
#: Shortest vessel, in its own diameters. Model assumption: a vessel segment is at
#: least as long as it is wide (centroids of small territories can nearly coincide).
MIN_LENGTH_DIAMETERS = 1.0


class SubtreeTopology(NamedTuple):
    """The pedicle forest's topology and the tissue points reordered by territory.

    Attributes
    ----------
    parent : ndarray of int64, shape (M,)
        Parent pedicle node, -1 at the 8 segment roots; preorder.
    start, stop : ndarray of int64, shape (M,)
        Each node's range in the reordered points.
    depth : ndarray of int64, shape (M,)
        Depth below the segment's root.
    xyz : ndarray of float64, shape (M, 3), m
        Node positions.
    segment : ndarray of int8, shape (M,)
    root_nodes : ndarray of int64, shape (8,)
        Root of each segment's subtree (segments I-VIII in order).
    order : ndarray of int64, shape (Np,)
        Original index of each reordered point.
    points_xyz : ndarray of float64, shape (Np, 3), m
        The points in the new order (segment by segment, territory by territory).
    """

    parent: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    depth: np.ndarray
    xyz: np.ndarray
    segment: np.ndarray
    root_nodes: np.ndarray
    order: np.ndarray
    points_xyz: np.ndarray

    @property
    def is_leaf(self) -> np.ndarray:
        """Whether each node is a leaf (terminal territory), shape (M,)."""
        leaf = np.ones(self.parent.shape[0], bool)
        leaf[self.parent[self.parent >= 0]] = False
        return leaf


def grow_subtrees(xyz: np.ndarray, segment: np.ndarray, weight: np.ndarray, stop_weight: float,
                  rng: np.random.Generator) -> SubtreeTopology:
    """Grow one subtree per segment by recursive bisection of its points.

    Parameters
    ----------
    xyz : ndarray of float64, shape (Np, 3), m
        Tissue points.
    segment : ndarray of int8, shape (Np,)
        Couinaud segment of each point.
    weight : ndarray of float64, shape (Np,), m^3/s
        Arterial demand of each point.
    stop_weight : float, m^3/s
        Design flow of a vessel of the terminal diameter: no child gets less.
    rng : numpy.random.Generator
        Draws the split shares.

    Returns
    -------
    SubtreeTopology

    Raises
    ------
    ScenarioError
        If a segment holds no tissue point (``liver.segment_fractions`` too small).
    """
    parts = []
    offset_nodes = 0
    offset_points = 0
    for s in range(len(SEGMENTS)):
        idx = np.flatnonzero(segment == s)
        if idx.size == 0:
            raise ScenarioError(f"segment {SEGMENTS[s]} is too small to hold any tissue point",
                                path="liver.segment_fractions")
        w = weight[idx]
        cap = int(max(1, min(2 * int(w.sum() / stop_weight) + 1, 2 * idx.size - 1)))
        share = rng.uniform(*SPLIT_SHARE_RANGE, size=cap)
        pts = np.ascontiguousarray(xyz[idx])
        parent, start, stop, depth, centre, _ = bisect_points(pts, w, idx, stop_weight, share)
        parent = np.where(parent >= 0, parent + offset_nodes, -1)
        parts.append((parent, start + offset_points, stop + offset_points, depth, centre,
                      np.full(parent.shape[0], s, np.int8), idx, pts))
        offset_nodes += parent.shape[0]
        offset_points += idx.size
    cat = [np.concatenate(arrays) for arrays in zip(*parts)]
    root_nodes = np.flatnonzero(cat[0] < 0).astype(np.int64)
    return SubtreeTopology(cat[0], cat[1], cat[2], cat[3], cat[4], cat[5], root_nodes, cat[6], cat[7])


def design_flows(topology: SubtreeTopology, leaf_demand: np.ndarray, floor: float) -> np.ndarray:
    """Design flow of every pedicle node's incoming vessel.

    Parameters
    ----------
    topology : SubtreeTopology
    leaf_demand : ndarray of float64, shape (M,), m^3/s
        Demand of each leaf (ignored at internal nodes).
    floor : float or ndarray of float64, shape (M,), m^3/s
        Smallest design flow of each leaf.

    Returns
    -------
    ndarray of float64, shape (M,), m^3/s
        Leaf: ``max(demand, floor)``; internal node: the sum over its children.
    """
    own = np.where(topology.is_leaf, np.maximum(leaf_demand, floor), 0.0)
    out = np.empty_like(own)
    subtree_sums(topology.parent, own, out)
    return out


def vessel_geometry(topology: SubtreeTopology, q: np.ndarray, sizing: MurraySizing) -> tuple[np.ndarray, np.ndarray]:
    """Radius and length of every pedicle node's incoming vessel (NaN at roots).

    Parameters
    ----------
    topology : SubtreeTopology
    q : ndarray of float64, shape (M,), m^3/s
        Design flows.
    sizing : MurraySizing

    Returns
    -------
    radius, length : ndarray of float64, shape (M,), m
    """
    has_parent = topology.parent >= 0
    radius = np.where(has_parent, sizing.radius(q), np.nan)
    distance = np.linalg.norm(topology.xyz - topology.xyz[np.where(has_parent, topology.parent, 0)], axis=1)
    length = np.where(has_parent, np.maximum(distance, MIN_LENGTH_DIAMETERS * 2.0 * radius), np.nan)
    return radius, length
