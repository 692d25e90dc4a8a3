"""Build the two-port kernel's :class:`~sim.kernels.twoport.FlowState` from a compiled liver.

The state holds the topology (children and compartments of every pedicle node
as CSR arrays), the conductances and sources (mutable: embolisation changes
them), the 2-ports and the solution. Building it is O(M + C) numpy; solving it
again after conductances change rebuilds nothing.
"""

from __future__ import annotations

import numpy as np

from ..keep import LOCK, kept_for
from ..kernels.twoport import FlowState
from ..network import CompiledLiver, Conductances
from .errors import FlowInputError

__all__ = ["build_state", "state_conductances", "trunk_workspace"]


def _csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Group the indices of ``keys`` by key value 0..n-1 (stable): (ptr (n+1,), idx)."""
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return ptr, order.astype(np.int64)


def _topology(forest, comps, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Children and compartments of every pedicle node as CSR arrays (child_ptr (M+2,), child_idx, comp_ptr (M+1,),
    comp_idx); kept with ``forest`` (:mod:`sim.keep`) for ``comps``: every state of a liver shares them (no
    kernel writes the topology)."""
    with LOCK:
        kept = kept_for(forest).get("csr")
    if kept is not None and kept[0] is comps:
        return kept[1]
    m = parent.shape[0]
    child_ptr, child_idx = _csr(np.where(parent >= 0, parent, m), m + 1)
    topology = (child_ptr, child_idx, *_csr(np.asarray(comps.node, dtype=np.int64), m))
    with LOCK:
        kept_for(forest)["csr"] = (comps, topology)
    return topology


def _check_conductance(name: str, g: np.ndarray) -> None:
    bad = np.flatnonzero(~(np.isfinite(g) & (g >= 0)))
    if bad.size:
        raise FlowInputError(f"{name}[{bad[0]}] = {g[bad[0]]:g}; allowed: a finite conductance >= 0 m^3/(s Pa)")


def build_state(liver: CompiledLiver, conductances: Conductances, *, q_art_in: np.ndarray | None = None,
                q_trunk_in: np.ndarray | None = None) -> FlowState:
    """Arrays of the two-port solver for one liver and one set of conductances.

    Parameters
    ----------
    liver : CompiledLiver
        Pressures are taken relative to ``liver.hepatic_vein_pressure_pa``.
    conductances : Conductances
        Every element set (calibrated), m^3/(s Pa); pedicle root entries are ignored.
    q_art_in : ndarray of float64, shape (M,), m^3/s, optional
        Injection into the arterial node of each pedicle node (catheter).
    q_trunk_in : ndarray of float64, shape (Nt,), m^3/s, optional
        Injection into each trunk node (catheter tip).

    Returns
    -------
    FlowState
        Unsolved; call :func:`sim.kernels.twoport.solve`.

    Raises
    ------
    FlowInputError
        A negative or non-finite conductance, or an extrahepatic feeder whose
        reservoir is not a pressure boundary.
    """
    trunk, forest, comps = liver.trunk, liver.forest, liver.compartments
    m, c, nt = forest.n_nodes, comps.n, trunk.n_nodes
    parent = _own(forest.parent, np.int64)
    nonroot = parent >= 0
    g_art = np.where(nonroot, conductances.art, 0.0)
    g_por = np.where(nonroot, conductances.por, 0.0)
    g_comp = np.ascontiguousarray(np.column_stack([conductances.comp_art, conductances.comp_por,
                                                   conductances.comp_hv, conductances.comp_extra]), dtype=np.float64)
    for name, g in (("trunk", conductances.trunk), ("art", g_art), ("por", g_por), ("comp_art", g_comp[:, 0]),
                    ("comp_por", g_comp[:, 1]), ("comp_hv", g_comp[:, 2]), ("comp_extra", g_comp[:, 3])):
        _check_conductance(f"conductances.{name}", np.asarray(g, dtype=np.float64))
    fixed = np.asarray(trunk.node_pressure_pa, dtype=np.float64) - liver.hepatic_vein_pressure_pa
    extra = np.asarray(comps.extra_trunk_node, dtype=np.int64)
    fed = np.flatnonzero(g_comp[:, 3] > 0)
    bad = fed[(extra[fed] < 0) | ~np.isfinite(fixed[np.maximum(extra[fed], 0)])]
    if bad.size:
        node = extra[bad[0]]
        where = f"trunk node {trunk.node_names[node]!r}, which has no pressure" if node >= 0 else "no trunk node"
        raise FlowInputError(f"compartment {bad[0]} has an extrahepatic feeder (comp_extra > 0) from {where}; "
                             "the feeder's reservoir must be a pressure boundary")
    child_ptr, child_idx, comp_ptr, comp_idx = _topology(forest, comps, parent)
    root_nodes = _own(forest.root_nodes, np.int64)
    root_slot = np.full(m, -1, np.int64)
    root_slot[root_nodes] = np.arange(root_nodes.size)
    zeros_m = np.zeros(m)
    return FlowState(
        parent=parent, child_ptr=child_ptr[:m + 1], child_idx=child_idx[:int(nonroot.sum())],
        comp_ptr=comp_ptr, comp_idx=comp_idx, comp_node=_own(comps.node, np.int64),
        comp_extra_node=extra.copy(), comp_extra_p=np.where(extra >= 0, fixed[np.maximum(extra, 0)], 0.0),
        root_nodes=root_nodes,
        root_art=_own(forest.root_trunk_art, np.int64),
        root_por=_own(forest.root_trunk_por, np.int64), root_slot=root_slot,
        trunk_conns=_own(trunk.edge_conns, np.int64), trunk_fixed_p=fixed,
        g_art=g_art, g_por=g_por, g_comp=g_comp, g_trunk=np.array(conductances.trunk, dtype=np.float64),
        q_art_in=zeros_m.copy() if q_art_in is None else np.array(q_art_in, dtype=np.float64),
        q_trunk_in=np.zeros(nt) if q_trunk_in is None else np.array(q_trunk_in, dtype=np.float64),
        node_pi=np.zeros((m, 5)), node_conn=np.zeros(m, np.uint8), edge_pi=np.zeros((m, 5)),
        edge_conn=np.zeros(m, np.uint8), trunk_p=np.full(nt, np.nan), trunk_q=np.zeros(trunk.n_edges),
        art_p=np.full(m, np.nan), por_p=np.full(m, np.nan), art_q=zeros_m.copy(), por_q=zeros_m.copy(),
        comp_p=np.full(c, np.nan), comp_q=np.zeros((c, 4)), status=np.zeros(1, np.int64),
        **trunk_workspace(nt, trunk.n_edges, root_nodes.size))


def _own(values, dtype) -> np.ndarray:
    """A writable C-contiguous copy of ``values``: a state never shares (or is made read-only with) the liver's arrays.

    Numba compiles each kernel once per argument type, and a read-only array is another type: one read-only
    topology array (the liver's, frozen by a view that shares it) would compile every kernel taking a
    :class:`~sim.kernels.twoport.FlowState` again, about 100 s.
    """
    return np.array(values, dtype=dtype, order="C")


def trunk_workspace(nt: int, ne: int, ns: int) -> dict[str, np.ndarray]:
    """The ``work_*`` arrays of a :class:`FlowState` (trunk-solve scratch) for Nt trunk nodes, Et edges, S subtrees."""
    return dict(work_key=np.zeros(nt + ne + ns + 1, np.uint8), work_uf=np.zeros(nt + 1, np.int64),
                work_on=np.zeros(nt, np.uint8), work_index=np.zeros(nt + 2, np.int64), work_ptr=np.zeros(nt + 1, np.int64),
                work_cols=np.zeros(nt * nt, np.int64), work_mat=np.zeros((nt, nt)), work_rhs=np.zeros((2, nt)),
                work_saved=np.zeros(nt + ne), work_inputs=np.zeros(ne + 3 * ns + 1), work_schur=np.zeros((nt, nt)),
                work_late=np.zeros(ns, np.uint8), work_affine=np.zeros((nt, nt)), work_base=np.zeros((2, nt)),
                work_recorded=np.zeros(2 * nt + 2 * ns + 2))


def state_conductances(state: FlowState) -> Conductances:
    """The state's current conductances as a :class:`~sim.network.Conductances` (copies; NaN at pedicle roots)."""
    root = state.parent < 0
    return Conductances(trunk=state.g_trunk.copy(), art=np.where(root, np.nan, state.g_art),
                        por=np.where(root, np.nan, state.g_por), comp_art=state.g_comp[:, 0].copy(),
                        comp_por=state.g_comp[:, 1].copy(), comp_hv=state.g_comp[:, 2].copy(),
                        comp_extra=state.g_comp[:, 3].copy())
