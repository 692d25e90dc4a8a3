"""Tissue compartments: terminal territories at the leaves and the peribiliary plexus.

A **tissue compartment** is a leaf's territory: its tissue points times the point
volume, split into normal liver, viable tumour and necrotic core, with the demands
of :mod:`sim.anatomy.perfusion` summed over its points.

A **peribiliary compartment** (bile duct capillary plexus, kind 1) sits at an internal
pedicle node whose incoming artery is at least :data:`PERIBILIARY_MIN_DIAMETER_M`
wide (a segment's root counts with its named segmental artery). It has arterial
inflow only and drains into the same node's portal vein (bile ducts are supplied by
arteries only; [Kan2008Microcirculation], the cTACE oil route through the plexus). Model
assumption for its size and demand: the plexus is a sleeve one duct radius thick
around a bile duct as wide as the companion artery, volume ``3 pi r_a^2 L_a``,
perfused like normal liver's arterial supply per volume; this gives about 1-3% of
the hepatic arterial inflow. Its volume is extra to the tissue points' volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import Compartments
from .perfusion import Perfusion

__all__ = ["TissueDemand", "tissue_demand", "peribiliary_nodes", "assemble_compartments",
           "PERIBILIARY_MIN_DIAMETER_M", "PERIBILIARY_SLEEVE_FACTOR", "TISSUE", "PERIBILIARY"]

#: ``Compartments.kind`` codes.
TISSUE, PERIBILIARY = 0, 1
#: Smallest artery (diameter, m) along which a peribiliary compartment is modelled.
#: Model assumption: the plexus is multi-layered around septal and larger ducts
#: (about 100 um and up) and thins to a single capillary layer below.
PERIBILIARY_MIN_DIAMETER_M = 100e-6
#: Plexus volume per arterial volume ``pi r_a^2 L_a``: a sleeve one duct radius thick
#: around a duct of the artery's radius, (2^2 - 1) = 3. Model assumption.
PERIBILIARY_SLEEVE_FACTOR = 3.0


@dataclass(frozen=True)
class TissueDemand:
    """Region content and demands of every terminal territory.

    Attributes
    ----------
    counts : ndarray of int64, shape (L, R)
        Tissue points of each region in each territory.
    art, por, extra : ndarray of float64, shape (L,), m^3/s
        Baseline demand from the hepatic artery, the portal vein, an extrahepatic feeder.
    extra_tumour : ndarray of int64, shape (L,)
        Tumour whose feeder supplies the territory (largest extrahepatic demand), -1 none.
    """

    counts: np.ndarray
    art: np.ndarray
    por: np.ndarray
    extra: np.ndarray
    extra_tumour: np.ndarray


def tissue_demand(point_leaf: np.ndarray, region: np.ndarray, n_leaves: int, n_regions: int,
                  perfusion: Perfusion, point_volume_m3: float) -> TissueDemand:
    """Count each territory's points per region and sum their demands.

    Parameters
    ----------
    point_leaf : ndarray of int64, shape (Np,)
        Territory (leaf number 0..L-1) of each point.
    region : ndarray of int64, shape (Np,)
        Region of each point (:meth:`sim.anatomy.perfusion.Tumours.region`).
    n_leaves, n_regions : int
    perfusion : Perfusion
    point_volume_m3 : float, m^3

    Returns
    -------
    TissueDemand
    """
    counts = np.bincount(point_leaf * n_regions + region, minlength=n_leaves * n_regions).reshape(n_leaves, n_regions)
    volume = counts * point_volume_m3
    extra = volume @ perfusion.extra
    best = np.argmax(volume * perfusion.extra, axis=1)
    return TissueDemand(counts=counts, art=volume @ perfusion.art, por=volume @ perfusion.por, extra=extra,
                        extra_tumour=np.where(extra > 0.0, perfusion.feeder[best], -1))


def peribiliary_nodes(is_internal: np.ndarray, art_radius_m: np.ndarray, art_length_m: np.ndarray):
    """Pedicle nodes carrying a peribiliary compartment, with its volume.

    Parameters
    ----------
    is_internal : ndarray of bool, shape (M,)
        Internal pedicle nodes (roots included).
    art_radius_m, art_length_m : ndarray of float64, shape (M,), m
        Incoming artery of each node (the named segmental artery at a root).

    Returns
    -------
    nodes : ndarray of int64, shape (B,)
    volume_m3 : ndarray of float64, shape (B,), m^3
    """
    nodes = np.flatnonzero(is_internal & (2.0 * art_radius_m >= PERIBILIARY_MIN_DIAMETER_M))
    volume = PERIBILIARY_SLEEVE_FACTOR * np.pi * art_radius_m[nodes] ** 2 * art_length_m[nodes]
    return nodes.astype(np.int64), volume


def assemble_compartments(leaves: np.ndarray, demand: TissueDemand, point_volume_m3: float,
                          feeder_node: np.ndarray, peribiliary_node: np.ndarray, peribiliary_volume_m3: np.ndarray,
                          normal_arterial_perfusion: float) -> Compartments:
    """Tissue compartments (one per leaf, in leaf order) followed by the peribiliary ones.

    Parameters
    ----------
    leaves : ndarray of int64, shape (L,)
        Pedicle node of each territory.
    demand : TissueDemand
    point_volume_m3 : float, m^3
    feeder_node : ndarray of int64, shape (T,)
        Trunk reservoir of each tumour's extrahepatic feeder, -1 for none.
    peribiliary_node : ndarray of int64, shape (B,)
    peribiliary_volume_m3 : ndarray of float64, shape (B,), m^3
    normal_arterial_perfusion : float, 1/s
        Arterial perfusion per volume of normal liver (the plexus's).

    Returns
    -------
    Compartments
    """
    counts = demand.counts
    n_leaves, n_bile = leaves.shape[0], peribiliary_node.shape[0]
    viable = counts[:, 1::2]
    necrotic = counts[:, 2::2]
    # column 0 = "no tumour", so argmax - 1 is the tumour with most points, or -1
    per_tumour = np.column_stack([np.full(n_leaves, 0.5), viable + necrotic])
    tumour_id = np.argmax(per_tumour, axis=1) - 1
    feeder_of_leaf = np.append(feeder_node, -1)[demand.extra_tumour]  # extra_tumour -1 -> the appended -1
    zeros = np.zeros(n_bile)
    return Compartments(
        node=np.concatenate([leaves, peribiliary_node]).astype(np.int64),
        kind=np.concatenate([np.full(n_leaves, TISSUE), np.full(n_bile, PERIBILIARY)]).astype(np.int8),
        volume_m3=np.concatenate([counts.sum(axis=1) * point_volume_m3, peribiliary_volume_m3]),
        tumour_volume_m3=np.concatenate([viable.sum(axis=1) * point_volume_m3, zeros]),
        necrotic_volume_m3=np.concatenate([necrotic.sum(axis=1) * point_volume_m3, zeros]),
        tumour_id=np.concatenate([tumour_id, np.full(n_bile, -1)]).astype(np.int64),
        demand_art_m3s=np.concatenate([demand.art, normal_arterial_perfusion * peribiliary_volume_m3]),
        demand_por_m3s=np.concatenate([demand.por, zeros]),
        demand_extra_m3s=np.concatenate([demand.extra, zeros]),
        extra_trunk_node=np.concatenate([feeder_of_leaf, np.full(n_bile, -1)]).astype(np.int64))
