"""The compiled liver: flat arrays in a fixed order, the kernels' only input.

A liver is two parts:

* the **trunk**: the named vessels (coeliac, CHA, PHA, RHA, ..., A1-A8, MPV, RPV,
  P1-P8), the non-target branches and their lumped beds, and the boundary nodes
  (arterial roots, portal inlet, systemic drains, extrahepatic roots). It is a
  small general graph (tens of nodes) of any shape: Michels variants, collaterals.
* the **pedicle forest**: one synthetic subtree per segmental pedicle (A_k, P_k),
  whose arterial and portal vessels share one topology (Glissonian pedicles). Each
  pedicle node ``i`` has an arterial node and a portal node; the pedicle edge from
  ``parent[i]`` to ``i`` is one arterial and one portal vessel. Leaves feed a tissue
  compartment (arterial terminal -> sinusoid <- portal terminal; sinusoid -> hepatic
  veins); internal nodes may carry a peribiliary (bile duct) compartment fed by
  the arterial node and draining into the portal node.

The root pedicle node of subtree ``s`` *is* the trunk node pair
``(root_trunk_art[s], root_trunk_por[s])`` (the distal ends of A_k and P_k): it
has no incoming pedicle edge (its edge fields are NaN).

Node order is a preorder: ``parent[i] < i`` for every non-root node, so a reverse
sweep over ``range(M)`` visits children before parents (bottom-up elimination) and
a forward sweep visits parents first (back substitution, particle transport).

All arrays are SI: m, m^3, m^3/s, Pa.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["Trunk", "PedicleForest", "Compartments", "TissuePoints", "CompiledLiver", "Conductances",
           "TRUNK_NODE_ARTERY", "TRUNK_NODE_PORTAL", "TRUNK_NODE_RESERVOIR",
           "EDGE_ARTERY", "EDGE_PORTAL", "EDGE_LUMPED"]

#: ``Trunk.node_kind`` codes.
TRUNK_NODE_ARTERY, TRUNK_NODE_PORTAL, TRUNK_NODE_RESERVOIR = 0, 1, 2
#: ``Trunk.edge_kind`` codes: a Poiseuille artery, a Poiseuille portal vein, a lumped
#: resistance (non-target vascular bed, extrahepatic feeder) with no radius.
EDGE_ARTERY, EDGE_PORTAL, EDGE_LUMPED = 0, 1, 2


def _check_lengths(obj, n: int, names: tuple[str, ...]) -> None:
    for name in names:
        arr = getattr(obj, name)
        if arr.shape[0] != n:
            raise ValueError(f"{type(obj).__name__}.{name} has length {arr.shape[0]}, expected {n}")


@dataclass(frozen=True)
class Trunk:
    """Named vessels and boundary nodes (a small general graph).

    Attributes
    ----------
    node_names : tuple of str, shape (Nt,)
        Unique node names (``"PHA_end"``, ``"coeliac_origin"``, ``"MPV_inlet"``...).
    node_xyz : ndarray of float64, shape (Nt, 3), m
        Positions in liver coordinates (x to the patient's left, y posterior, z cranial).
    node_kind : ndarray of int8, shape (Nt,)
        ``TRUNK_NODE_ARTERY``, ``TRUNK_NODE_PORTAL`` or ``TRUNK_NODE_RESERVOIR``.
    node_pressure_pa : ndarray of float64, shape (Nt,), Pa
        Dirichlet pressure of boundary nodes (absolute); NaN for free nodes.
    edge_conns : ndarray of int64, shape (Et, 2)
        (upstream, downstream) node indices in the baseline flow direction.
    edge_names : tuple of str, shape (Et,)
        Vessel name (``"PHA"``, ``"GDA"``, ``"A5"``, ``"MPV"``); lumped beds are
        named ``"<vessel>_bed"``.
    edge_kind : ndarray of int8, shape (Et,)
        ``EDGE_ARTERY``, ``EDGE_PORTAL`` or ``EDGE_LUMPED``.
    edge_radius_m, edge_length_m : ndarray of float64, shape (Et,), m
        Vessel geometry; NaN for lumped edges.
    edge_generation : ndarray of int16, shape (Et,)
        Branching generation counted from the proper hepatic artery (PHA = 0) or
        the main portal vein (MPV = 0); -1 for vessels outside the liver.
    edge_demand_m3s : ndarray of float64, shape (Et,), m^3/s
        Baseline target flow of lumped edges (used to calibrate them); NaN otherwise.
    """

    node_names: tuple[str, ...]
    node_xyz: np.ndarray
    node_kind: np.ndarray
    node_pressure_pa: np.ndarray
    edge_conns: np.ndarray
    edge_names: tuple[str, ...]
    edge_kind: np.ndarray
    edge_radius_m: np.ndarray
    edge_length_m: np.ndarray
    edge_generation: np.ndarray
    edge_demand_m3s: np.ndarray

    def __post_init__(self) -> None:
        _check_lengths(self, len(self.node_names), ("node_xyz", "node_kind", "node_pressure_pa"))
        _check_lengths(self, len(self.edge_names),
                       ("edge_conns", "edge_kind", "edge_radius_m", "edge_length_m", "edge_generation",
                        "edge_demand_m3s"))

    @property
    def n_nodes(self) -> int:
        return len(self.node_names)

    @property
    def n_edges(self) -> int:
        return len(self.edge_names)

    def node_index(self, name: str) -> int:
        """Index of the node called ``name`` (KeyError naming the allowed ones otherwise)."""
        try:
            return self.node_names.index(name)
        except ValueError:
            raise KeyError(f"no trunk node {name!r}") from None

    def edge_index(self, name: str) -> int:
        """Index of the vessel called ``name``."""
        try:
            return self.edge_names.index(name)
        except ValueError:
            raise KeyError(f"no vessel {name!r} in this anatomy; present: {', '.join(n for n in self.edge_names)}") from None


@dataclass(frozen=True)
class PedicleForest:
    """Synthetic subtrees below the segmental pedicles (arterial and portal share topology).

    Attributes
    ----------
    parent : ndarray of int64, shape (M,)
        Parent pedicle node; -1 for subtree roots. ``parent[i] < i``.
    root_nodes : ndarray of int64, shape (S,)
        Pedicle index of each subtree root.
    root_trunk_art, root_trunk_por : ndarray of int64, shape (S,)
        Trunk nodes the root coincides with (distal ends of A_k and P_k).
    xyz : ndarray of float64, shape (M, 3), m
        Pedicle node positions.
    segment : ndarray of int8, shape (M,)
        Couinaud segment index 0-7 (I-VIII).
    generation : ndarray of int16, shape (M,)
        Generation of the incoming vessel, from PHA = 0 (continues the trunk's count).
    art_radius_m, art_length_m, por_radius_m, por_length_m : ndarray of float64, shape (M,), m
        Incoming arterial and portal vessel geometry; NaN at roots.
    """

    parent: np.ndarray
    root_nodes: np.ndarray
    root_trunk_art: np.ndarray
    root_trunk_por: np.ndarray
    xyz: np.ndarray
    segment: np.ndarray
    generation: np.ndarray
    art_radius_m: np.ndarray
    art_length_m: np.ndarray
    por_radius_m: np.ndarray
    por_length_m: np.ndarray

    def __post_init__(self) -> None:
        m = self.parent.shape[0]
        _check_lengths(self, m, ("xyz", "segment", "generation", "art_radius_m", "art_length_m",
                                 "por_radius_m", "por_length_m"))
        _check_lengths(self, self.root_nodes.shape[0], ("root_trunk_art", "root_trunk_por"))

    @property
    def n_nodes(self) -> int:
        return self.parent.shape[0]


@dataclass(frozen=True)
class Compartments:
    """Tissue compartments: terminal territories (at leaves) and peribiliary plexus.

    Attributes
    ----------
    node : ndarray of int64, shape (C,)
        Pedicle node feeding the compartment (a leaf for tissue, an internal node
        for a peribiliary compartment).
    kind : ndarray of int8, shape (C,)
        0 tissue territory (arterial + portal inflow, outflow to hepatic veins);
        1 peribiliary plexus (arterial inflow only, drains into the node's portal vein).
    volume_m3 : ndarray of float64, shape (C,), m^3
    tumour_volume_m3 : ndarray of float64, shape (C,), m^3
        Viable (perfused) tumour volume inside the territory.
    necrotic_volume_m3 : ndarray of float64, shape (C,), m^3
    tumour_id : ndarray of int64, shape (C,)
        Index into ``scenario.tumours`` of the tumour with most volume here; -1 none.
    demand_art_m3s, demand_por_m3s : ndarray of float64, shape (C,), m^3/s
        Baseline target inflows from the hepatic artery and the portal vein
        (the calibration targets; extrahepatic supply excluded).
    demand_extra_m3s : ndarray of float64, shape (C,), m^3/s
        Baseline target inflow from an extrahepatic feeder (0 for most).
    extra_trunk_node : ndarray of int64, shape (C,)
        Trunk reservoir node of that feeder, -1 if none.
    """

    node: np.ndarray
    kind: np.ndarray
    volume_m3: np.ndarray
    tumour_volume_m3: np.ndarray
    necrotic_volume_m3: np.ndarray
    tumour_id: np.ndarray
    demand_art_m3s: np.ndarray
    demand_por_m3s: np.ndarray
    demand_extra_m3s: np.ndarray
    extra_trunk_node: np.ndarray

    def __post_init__(self) -> None:
        _check_lengths(self, self.node.shape[0], tuple(f.name for f in fields(self))[1:])

    @property
    def n(self) -> int:
        return self.node.shape[0]

    @property
    def perfused_volume_m3(self) -> np.ndarray:
        """Volume without the necrotic core (which has no vessels: it takes no blood, oil or particles), m^3 (C,)."""
        return self.volume_m3 - self.necrotic_volume_m3

    @property
    def normal_volume_m3(self) -> np.ndarray:
        """Perfused volume that is not tumour, m^3 (C,)."""
        return self.volume_m3 - self.tumour_volume_m3 - self.necrotic_volume_m3


@dataclass(frozen=True)
class TissuePoints:
    """The parenchyma sampled by points (equal volume each).

    Attributes
    ----------
    xyz : ndarray of float64, shape (Np, 3), m
    segment : ndarray of int8, shape (Np,)
        Couinaud segment 0-7.
    compartment : ndarray of int64, shape (Np,)
        Tissue compartment (terminal territory) the point belongs to.
    tumour_id : ndarray of int64, shape (Np,)
        Tumour containing the point (its viable part or its necrotic core), -1 for normal liver.
    volume_m3 : float
        Volume each point stands for.
    necrotic : ndarray of bool, shape (Np,), optional
        The point lies in a tumour's necrotic core (no flow, no particle, no activity reaches it); None: no
        necrotic core anywhere.
    """

    xyz: np.ndarray
    segment: np.ndarray
    compartment: np.ndarray
    tumour_id: np.ndarray
    volume_m3: float = field(default=0.0)
    necrotic: np.ndarray | None = None


@dataclass(frozen=True)
class CompiledLiver:
    """Everything the kernels need, as arrays. Built by :func:`sim.anatomy.build_liver`."""

    trunk: Trunk
    forest: PedicleForest
    compartments: Compartments
    points: TissuePoints
    hepatic_vein_pressure_pa: float


@dataclass
class Conductances:
    """Hydraulic conductances of every element of a compiled liver, m^3/(s Pa).

    Mutable: the flow model calibrates them and embolisation occludes vessels by
    setting an arterial conductance to 0. Zero means closed (no flow), never
    "missing"; the solver reports parts cut off from every boundary.

    Each compartment ``c`` is a node (sinusoid for a tissue territory, plexus for a
    peribiliary compartment) joined to four places: the arterial node of pedicle
    node ``Compartments.node[c]`` (``comp_art``), its portal node (``comp_por``), the
    hepatic veins (``comp_hv``) and the extrahepatic reservoir
    ``Compartments.extra_trunk_node[c]`` (``comp_extra``). A tissue territory has
    ``comp_art, comp_por, comp_hv > 0``; a peribiliary compartment has
    ``comp_art, comp_por > 0`` (it drains into the portal node) and ``comp_hv = 0``.

    Attributes
    ----------
    trunk : ndarray of float64, shape (Et,)
    art, por : ndarray of float64, shape (M,)
        Incoming arterial / portal pedicle vessel of each pedicle node (NaN at roots).
    comp_art, comp_por, comp_hv, comp_extra : ndarray of float64, shape (C,)
    """

    trunk: np.ndarray
    art: np.ndarray
    por: np.ndarray
    comp_art: np.ndarray
    comp_por: np.ndarray
    comp_hv: np.ndarray
    comp_extra: np.ndarray

    def copy(self) -> "Conductances":
        """Deep copy (arrays copied)."""
        return Conductances(**{f.name: getattr(self, f.name).copy() for f in fields(self)})
