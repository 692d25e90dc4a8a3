"""Exact O(N) solve of the dual-supply liver network by 2-port elimination.

The network (``sim/network.py``): a small trunk graph of any shape, and a forest
of pedicle subtrees whose arterial and portal vessels share one topology. Each
pedicle node ``i`` has an arterial node A_i and a portal node P_i; compartments
(star nodes) join A_i, P_i, the hepatic-vein ground and an extrahepatic
reservoir. Every pressure here is relative to the hepatic veins (ground = 0).

Elimination
-----------
Everything below a pedicle node, seen from (A_i, P_i), is a linear resistive
network with ground, so it reduces exactly to a pi network and a Norton source::

    q_A = (yA + yAP) p_A - yAP p_P - sA        (flow into the subtree at A_i)
    q_P = -yAP p_A + (yP + yAP) p_P - sP

with yA (A to ground), yP (P to ground), yAP (A to P) >= 0 and sA, sP the
current the subtree's sources (catheter injection, extrahepatic reservoirs)
push out through the ports when both are held at ground. In this form every
combination is a sum of non-negative terms (no cancellation), and an exact
zero conductance gives exact zeros above it.

* ``node_pi[i]`` = the compartments at ``i`` (star-mesh) + the injection at A_i
  + ``edge_pi[j]`` of every child ``j``.
* ``edge_pi[j]`` = ``node_pi[j]`` seen through the pedicle edge (diagonal
  conductances ga, gp) from the parent's nodes: with
  D = (ga + yA)(gp + yP) + yAP (ga + yA + gp + yP),
  yAP' = ga gp yAP / D, yA' = ga [yA (gp + yP) + yAP (yA + yP)] / D,
  yP' = gp [yP (ga + yA) + yAP (yA + yP)] / D,
  sA' = ga [(gp + yP + yAP) sA + yAP sP] / D, sP' = gp [yAP sA + (ga + yA + yAP) sP] / D,
  i.e. Y' = G_e (G_e + Y)^-1 Y and s' = G_e (G_e + Y)^-1 s.

Connectivity is tracked with exact booleans beside the numbers (``*_conn``
bit masks over the three terminals A, P, ground), never from float tolerances:
a part cut off from every pressure boundary gets pressure NaN and zero flow.
NaN is set only by those structural decisions, so downstream code may use
``not isnan(p)`` as "connected to a boundary".

Back substitution: the subtree roots are the trunk node pairs; the trunk (any
graph, tens of nodes) is solved densely with the root 2-ports stamped in; then
the pressures of each child follow from its parent's,
x = (G_e + Y)^-1 (G_e u + s), top-down.

Incremental update (for embolisation): after changing one conductance, only the
2-ports on the path to its subtree root change (:func:`refresh_path`, O(depth)),
then :func:`solve_trunk`; pressures along a path (:func:`node_pressures`) and
flows into the children and compartments of a node (:func:`child_pressures`,
:func:`edge_flows`, :func:`compartment_flows`) follow on demand. The full solve
(:func:`solve`) calls the very same per-node functions in the same order, so an
incremental update gives bit-for-bit the full solve's 2-ports.

References
----------
.. [1] Kron G. (1939) Tensor Analysis of Networks (star-mesh / Schur-complement
   elimination of internal nodes); Rosen A. (1924) J. IEE 62:916 (star-mesh transform).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ._config import NJIT_OPTS

__all__ = ["FlowState", "CONN_AG", "CONN_PG", "CONN_AP", "CONN_LOST", "STATUS_OK", "STATUS_LOST_SOURCE",
           "solve", "solve_without_substitution", "eliminate", "solve_trunk", "solve_trunk_without", "solve_trunk_of",
           "trunk_arrays",
           "substitute", "substitute_range", "substitute_nodes", "refresh_path", "update_two_ports", "update_two_ports_body",
           "path_arrays", "solve_trunk_late", "trunk_pressure_of", "trunk_edge_flow", "write_trunk_outputs",
           "set_pedicle_conductance",
           "set_compartment_conductance", "set_trunk_conductance", "node_pressures", "child_pressures",
           "edge_flows", "compartment_flows", "pressures_below", "flows_below", "compartment_state",
           "COMP_ART", "COMP_POR", "COMP_HV", "COMP_EXTRA", "PI_YA", "PI_YP", "PI_YAP", "PI_SA", "PI_SP"]

#: Connectivity bits of a reduced 2-port: A joined to ground, P to ground, A to P,
#: and a source somewhere below cut off from every boundary (its flow is lost).
CONN_AG, CONN_PG, CONN_AP, CONN_LOST = np.uint8(1), np.uint8(2), np.uint8(4), np.uint8(8)
#: ``solve``/``solve_trunk`` return codes.
STATUS_OK, STATUS_LOST_SOURCE = 0, 1
#: Columns of ``g_comp`` and ``comp_q``: arterial terminal, portal terminal, hepatic-vein outflow, extrahepatic feeder.
COMP_ART, COMP_POR, COMP_HV, COMP_EXTRA = 0, 1, 2, 3

#: Columns of ``node_pi`` (a node's 2-port): yA, yP, yAP (conductances), sA, sP (sources).
PI_YA, PI_YP, PI_YAP, PI_SA, PI_SP = 0, 1, 2, 3, 4


class FlowState(NamedTuple):
    """Topology, conductances, sources, 2-ports and solution of one liver network.

    Built by :func:`sim.flow.state.build_state`; every array is C-contiguous.
    Shapes: M pedicle nodes, S subtrees, C compartments, Nt trunk nodes, Et trunk
    edges. Pressures are relative to the hepatic veins, Pa; flows m^3/s;
    conductances m^3/(s Pa).

    Attributes
    ----------
    parent : int64 (M,)
        Parent pedicle node, -1 at subtree roots; ``parent[i] < i``.
    child_ptr : int64 (M+1,)
    child_idx : int64 (M-S,)
        Children of ``i``: ``child_idx[child_ptr[i]:child_ptr[i+1]]``.
    comp_ptr : int64 (M+1,)
    comp_idx : int64 (C,)
        Compartments at ``i``: ``comp_idx[comp_ptr[i]:comp_ptr[i+1]]``.
    comp_node : int64 (C,)
        Pedicle node of each compartment.
    comp_extra_node : int64 (C,)
        Trunk node of the extrahepatic reservoir (a pressure boundary), -1 if none.
    comp_extra_p : float64 (C,)
        Pressure of that reservoir (relative), 0 if none.
    root_nodes, root_art, root_por : int64 (S,)
        Root pedicle node of each subtree and the trunk nodes it coincides with.
    root_slot : int64 (M,)
        Subtree index of a root node, -1 elsewhere.
    trunk_conns : int64 (Et, 2)
    trunk_fixed_p : float64 (Nt,)
        Pressure of boundary trunk nodes (relative), NaN for free nodes.
    g_art, g_por : float64 (M,)
        Conductance of the incoming arterial / portal pedicle vessel (unused at roots).
    g_comp : float64 (C, 4)
        Compartment conductances, columns ``COMP_ART, COMP_POR, COMP_HV, COMP_EXTRA``.
    g_trunk : float64 (Et,)
    q_art_in : float64 (M,)
        Flow injected into the arterial node of each pedicle node (catheter), m^3/s.
    q_trunk_in : float64 (Nt,)
        Flow injected into each free trunk node (catheter tip), m^3/s.
    node_pi, edge_pi : float64 (M, 5)
        2-port (yA, yP, yAP, sA, sP) of everything below node i, and of that seen
        through its incoming edge from the parent.
    node_conn, edge_conn : uint8 (M,)
        Connectivity bits (``CONN_*``) of those 2-ports.
    trunk_p : float64 (Nt,)
    trunk_q : float64 (Et,)
        Trunk pressures and edge flows (along ``trunk_conns``).
    art_p, por_p : float64 (M,)
        Pressure of A_i and P_i (NaN where cut off from every boundary).
    art_q, por_q : float64 (M,)
        Flow in the incoming pedicle vessel, parent -> i (NaN at roots: no vessel).
    comp_p : float64 (C,)
        Compartment (sinusoid / plexus) pressure.
    comp_q : float64 (C, 4)
        Flow into the compartment from A_i, from P_i, out to the hepatic veins,
        and in from the extrahepatic reservoir.
    status : int64 (1,)
        ``STATUS_OK`` or ``STATUS_LOST_SOURCE`` after the last trunk solve.
    work_key : uint8 (Nt+Et+S+1,)
    work_uf : int64 (Nt+1,)
    work_on : uint8 (Nt,)
    work_index : int64 (Nt+2,)
    work_ptr : int64 (Nt+1,)
    work_cols : int64 (Nt*Nt,)
        Workspace of the trunk solve, sized once (:func:`_build_trunk_pattern`): the
        connectivity inputs last seen (last entry 0 = none yet), union-find, nodes
        joined to a boundary, free-node rows (count at ``[Nt]``, first row of the late
        subtrees at ``[Nt+1]``) and the elimination pattern. A cache of the inputs, never
        read as a result.
    work_mat : float64 (Nt, Nt)
    work_rhs : float64 (2, Nt)
    work_saved : float64 (Nt+Et,)
        Scratch of the trunk system and of :func:`sim.kernels.transport.native_tip_flow`.
    work_inputs : float64 (Et+3S+1,)
        The trunk conductances and the roots' yA, yP, yAP that ``work_mat``'s elimination
        was made from (last entry 1 if it holds one).
    work_schur : float64 (Nt, Nt)
        The trailing block of that elimination before the late subtrees' stamps (their Schur complement).
    work_late : uint8 (S,)
        Subtrees whose rows the trunk elimination takes last (marked as they change alone, :func:`solve_trunk_of`).
    work_affine : float64 (Nt, Nt)
    work_base : float64 (2, Nt)
        ``W`` (rows of the trunk and the unmarked subtrees, columns of the late rows) and, per right-hand side,
        ``y`` on the first rows and ``c`` on the late rows: the other pressures are ``y - W x_late``.
    work_recorded : float64 (2 Nt + 2 S + 2,)
        The right-hand side's inputs ``work_base`` was made from (fixed pressures, injections, the
        unmarked subtrees' sources, the left-out injection's node; last entry 1 if any).
    """

    parent: np.ndarray
    child_ptr: np.ndarray
    child_idx: np.ndarray
    comp_ptr: np.ndarray
    comp_idx: np.ndarray
    comp_node: np.ndarray
    comp_extra_node: np.ndarray
    comp_extra_p: np.ndarray
    root_nodes: np.ndarray
    root_art: np.ndarray
    root_por: np.ndarray
    root_slot: np.ndarray
    trunk_conns: np.ndarray
    trunk_fixed_p: np.ndarray
    g_art: np.ndarray
    g_por: np.ndarray
    g_comp: np.ndarray
    g_trunk: np.ndarray
    q_art_in: np.ndarray
    q_trunk_in: np.ndarray
    node_pi: np.ndarray
    node_conn: np.ndarray
    edge_pi: np.ndarray
    edge_conn: np.ndarray
    trunk_p: np.ndarray
    trunk_q: np.ndarray
    art_p: np.ndarray
    por_p: np.ndarray
    art_q: np.ndarray
    por_q: np.ndarray
    comp_p: np.ndarray
    comp_q: np.ndarray
    status: np.ndarray
    work_key: np.ndarray
    work_uf: np.ndarray
    work_on: np.ndarray
    work_index: np.ndarray
    work_ptr: np.ndarray
    work_cols: np.ndarray
    work_mat: np.ndarray
    work_rhs: np.ndarray
    work_saved: np.ndarray
    work_inputs: np.ndarray
    work_schur: np.ndarray
    work_late: np.ndarray
    work_affine: np.ndarray
    work_base: np.ndarray
    work_recorded: np.ndarray


# ---------------------------------------------------------------------------
# bottom-up elimination


@njit(inline="always", **NJIT_OPTS)
def _closure(m):
    """Close the A/P/ground connectivity bits: two links among three terminals imply the third."""
    links = m & 7
    if links == 3 or links == 5 or links == 6:
        return m | 7
    return m


@njit(inline="always", **NJIT_OPTS)
def _through_vessel(g, y, s):
    """One side (A or P) of a node decoupled from the other, seen through its vessel of conductance ``g``: the
    node's conductance ``y`` to ground and source ``s`` in series with the vessel, and whether a source is lost
    (nothing conducts: the side is cut off with a source in it). Numbers in, numbers out (no reference counts)."""
    d = g + y
    if d > 0.0:
        return g * y / d, g * s / d, False
    return 0.0, 0.0, s != 0.0


@njit(**NJIT_OPTS)
def update_two_ports(parent, q_art_in, comp_ptr, comp_idx, g_comp, comp_extra_p, child_ptr, child_idx, g_art, g_por,
                     node_pi, node_conn, edge_pi, edge_conn, order, start):
    """Recompute 2-ports bottom-up (:func:`update_two_ports_body`, called)."""
    return update_two_ports_body(parent, q_art_in, comp_ptr, comp_idx, g_comp, comp_extra_p, child_ptr, child_idx, g_art,
                                 g_por, node_pi, node_conn, edge_pi, edge_conn, order, start)


@njit(inline="always", **NJIT_OPTS)
def update_two_ports_body(parent, q_art_in, comp_ptr, comp_idx, g_comp, comp_extra_p, child_ptr, child_idx, g_art, g_por,
                          node_pi, node_conn, edge_pi, edge_conn, order, start):
    """Recompute 2-ports bottom-up: of the nodes in ``order`` from its last to its first (ascending nodes, so
    children before parents), or, with ``start >= 0``, of ``start`` and every ancestor up to its subtree root.

    Inline, for the transport loop that calls it after every lodging with its arrays one by one (a call passing
    these 16 arrays costs about as much as the refresh of a path); other callers use :func:`update_two_ports`.

    For each node i: ``node_pi[i]``/``node_conn[i]`` from i's compartments, injection and children's edges,
    then (below a root) ``edge_pi[i]``/``edge_conn[i]``, i's 2-port seen through its incoming pedicle vessels.
    The arguments are the state's arrays of the same names (:func:`path_arrays`). The rules are written once,
    inline in this loop: a helper taking the arrays would pay an atomic reference count per array per node.

    Returns
    -------
    int
        With ``start >= 0``, the subtree's root; else -1.
    """
    left = order.shape[0]
    i = start
    while True:
        if start < 0:
            left -= 1
            if left < 0:
                return -1
            i = order[left]
        # ---- node_pi[i], node_conn[i]
        ya = 0.0
        yp = 0.0
        yap = 0.0
        sa = q_art_in[i]
        sp = 0.0
        m = np.uint8(0)
        for k in range(comp_ptr[i], comp_ptr[i + 1]):
            c = comp_idx[k]
            ga = g_comp[c, COMP_ART]
            gp = g_comp[c, COMP_POR]
            gout = g_comp[c, COMP_HV] + g_comp[c, COMP_EXTRA]
            tot = ga + gp + gout
            if tot > 0.0:
                inv = 1.0 / tot
                ya += ga * gout * inv
                yp += gp * gout * inv
                yap += ga * gp * inv
                push = g_comp[c, COMP_EXTRA] * comp_extra_p[c] * inv
                sa += ga * push
                sp += gp * push
                if ga > 0.0 and gp > 0.0:
                    m |= CONN_AP
                if gout > 0.0:
                    if ga > 0.0:
                        m |= CONN_AG
                    if gp > 0.0:
                        m |= CONN_PG
        for k in range(child_ptr[i], child_ptr[i + 1]):
            j = child_idx[k]
            ya += edge_pi[j, PI_YA]
            yp += edge_pi[j, PI_YP]
            yap += edge_pi[j, PI_YAP]
            sa += edge_pi[j, PI_SA]
            sp += edge_pi[j, PI_SP]
            m |= edge_conn[j]
        node_pi[i, PI_YA] = ya
        node_pi[i, PI_YP] = yp
        node_pi[i, PI_YAP] = yap
        node_pi[i, PI_SA] = sa
        node_pi[i, PI_SP] = sp
        node_conn[i] = _closure(m)
        p = parent[i]
        if p < 0:
            if start >= 0:
                return i
            continue
        # ---- edge_pi[i], edge_conn[i]
        ga = g_art[i]
        gp = g_por[i]
        ya = node_pi[i, PI_YA]
        yp = node_pi[i, PI_YP]
        yap = node_pi[i, PI_YAP]
        sa = node_pi[i, PI_SA]
        sp = node_pi[i, PI_SP]
        m = node_conn[i]
        lost = m & CONN_LOST
        if m & CONN_AP:
            d = (ga + ya) * (gp + yp) + yap * (ga + ya + gp + yp)
            if d > 0.0:
                inv = 1.0 / d
                edge_pi[i, PI_YA] = ga * (ya * (gp + yp) + yap * (ya + yp)) * inv
                edge_pi[i, PI_YP] = gp * (yp * (ga + ya) + yap * (ya + yp)) * inv
                edge_pi[i, PI_YAP] = ga * gp * yap * inv
                edge_pi[i, PI_SA] = ga * ((gp + yp + yap) * sa + yap * sp) * inv
                edge_pi[i, PI_SP] = gp * (yap * sa + (ga + ya + yap) * sp) * inv
            else:  # A_i and P_i joined to each other only: cut off from everything
                edge_pi[i, :] = 0.0
                if sa != 0.0 or sp != 0.0:
                    lost = CONN_LOST
        else:  # A and P sides decoupled below i: each side through its own vessel
            edge_pi[i, PI_YAP] = 0.0
            edge_pi[i, PI_YA], edge_pi[i, PI_SA], cut_a = _through_vessel(ga, ya, sa)
            edge_pi[i, PI_YP], edge_pi[i, PI_SP], cut_p = _through_vessel(gp, yp, sp)
            if cut_a or cut_p:
                lost = CONN_LOST
        ag = (m & CONN_AG) != 0
        pg = (m & CONN_PG) != 0
        ap = (m & CONN_AP) != 0
        e = np.uint8(lost)
        if ga > 0.0 and (ag or (ap and pg)):
            e |= CONN_AG
        if gp > 0.0 and (pg or (ap and ag)):
            e |= CONN_PG
        if ga > 0.0 and gp > 0.0 and ap:
            e |= CONN_AP
        edge_conn[i] = _closure(e)
        if start >= 0:
            i = p


@njit(**NJIT_OPTS)
def path_arrays(st):
    """The state's arrays the 2-port refresh reads and writes, in the order :func:`update_two_ports` takes them.

    Bind them once outside a loop and call :func:`update_two_ports` on them: a function that takes the whole
    state pays an atomic reference count per field (43) on every call (docs/flow.md).
    """
    return (st.parent, st.q_art_in, st.comp_ptr, st.comp_idx, st.g_comp, st.comp_extra_p, st.child_ptr, st.child_idx,
            st.g_art, st.g_por, st.node_pi, st.node_conn, st.edge_pi, st.edge_conn)


@njit(**NJIT_OPTS)
def eliminate(st):
    """Bottom-up elimination of every pedicle subtree into its root's 2-port, O(M + C)."""
    update_two_ports(*path_arrays(st), np.arange(st.parent.shape[0]), -1)


@njit(**NJIT_OPTS)
def refresh_path(st, i):
    """Recompute the 2-ports of node ``i`` and of every node on its path to the subtree root, O(depth).

    Call after changing anything that enters ``node_pi[i]`` (a compartment of
    ``i``, the injection at ``i``) or ``edge_pi[i]`` (the conductances of the
    vessel into ``i``). The trunk must be re-solved afterwards (:func:`solve_trunk`).
    """
    update_two_ports(*path_arrays(st), st.parent[:0], i)


@njit(**NJIT_OPTS)
def refresh_paths(st, nodes, mark):
    """:func:`refresh_path` of every node in ``nodes`` at once: each node on their paths to the roots once, O(union).

    For many conductance changes between two trunk solves (batched delivery): the union of the
    paths is refreshed bottom-up (children have larger indices than their parents, as in
    :func:`eliminate`), giving the 2-ports one refresh per change would give.

    Parameters
    ----------
    nodes : int64 (K,)
        Pedicle nodes whose ``node_pi`` or incoming ``edge_pi`` inputs changed (repeats allowed).
    mark : uint8 (M,)
        Work array, all 0 on entry and on return.
    """
    parent = st.parent
    todo = np.empty(parent.shape[0], np.int64)
    n = 0
    for i in nodes:
        while i >= 0 and mark[i] == 0:
            mark[i] = 1
            todo[n] = i
            n += 1
            i = parent[i]
    order = np.sort(todo[:n])
    for i in order:
        mark[i] = 0
    update_two_ports(*path_arrays(st), order, -1)


@njit(**NJIT_OPTS)
def set_pedicle_conductance(st, k, g_art, g_por):
    """Set the arterial and portal conductances of pedicle vessel ``k`` (into node k) and refresh its path.

    Parameters
    ----------
    st : FlowState
    k : int
        Non-root pedicle node.
    g_art, g_por : float
        New conductances, m^3/(s Pa), >= 0 (0 = occluded).
    """
    st.g_art[k] = g_art
    st.g_por[k] = g_por
    refresh_path(st, k)


@njit(**NJIT_OPTS)
def set_compartment_conductance(st, c, which, g):
    """Set one terminal conductance of compartment ``c`` (``which`` = ``COMP_*``) and refresh its path."""
    st.g_comp[c, which] = g
    refresh_path(st, st.comp_node[c])


@njit(**NJIT_OPTS)
def set_trunk_conductance(st, e, g):
    """Set the conductance of trunk vessel ``e``; only the trunk needs re-solving (:func:`solve_trunk`)."""
    st.g_trunk[e] = g


# ---------------------------------------------------------------------------
# trunk


@njit(inline="always", **NJIT_OPTS)
def _find(uf, a):
    while uf[a] != a:
        uf[a] = uf[uf[a]]
        a = uf[a]
    return a


@njit(inline="always", **NJIT_OPTS)
def _union(uf, a, b):
    ra = _find(uf, a)
    rb = _find(uf, b)
    if ra != rb:
        uf[ra] = rb


@njit(inline="always", **NJIT_OPTS)
def _pattern_inputs_changed(key, fixed, g_trunk, node_conn, root_nodes, first, last):
    """Whether the inputs of the trunk's pattern changed since ``key`` recorded them (it records the new ones), O(Nt + Et + S).

    The inputs are which trunk nodes are boundaries, which trunk conductances are
    positive and the roots' A/P/ground connectivity bits (last entry of ``key`` 0: none recorded yet).
    Only subtrees ``first .. last - 1`` are compared, and the trunk's inputs only when they are all
    the subtrees (see ``only_subtree`` in :func:`solve_trunk_of`).
    """
    nt = fixed.shape[0]
    ne = g_trunk.shape[0]
    ns = root_nodes.shape[0]
    changed = key[nt + ne + ns] == 0
    for n in range(nt if last - first == ns else 0):
        b = np.uint8(1) if math.isnan(fixed[n]) else np.uint8(0)
        if key[n] != b:
            key[n] = b
            changed = True
    for e in range(ne if last - first == ns else 0):
        b = np.uint8(1) if g_trunk[e] > 0.0 else np.uint8(0)
        if key[nt + e] != b:
            key[nt + e] = b
            changed = True
    for s in range(first, last):
        b = node_conn[root_nodes[s]] & np.uint8(7)
        if key[nt + ne + s] != b:
            key[nt + ne + s] = b
            changed = True
    key[nt + ne + ns] = 1
    return changed


@njit(**NJIT_OPTS)
def _build_trunk_pattern(fixed, conns, g_trunk, node_conn, root_nodes, root_art, root_por, uf, on, index, ptr, cols, mat,
                         inputs, late):
    """Connectivity, free-node index and elimination pattern of the trunk (after :func:`_pattern_inputs_changed`).

    Union-find over positive conductances and the roots' bits (``on[n]`` = 1 if node n
    shares a component with a boundary), ``index`` (free node -> row, -1 if fixed or
    cut off; the row count at ``index[Nt]``), and the structure of the Gaussian
    elimination of :func:`_eliminate_pattern` including its fill-in (``ptr``/``cols``:
    columns > k of row k, ascending; the pattern is symmetric, so they are also the
    rows > k of column k). The arguments are the state's ``trunk_*``, root and ``work_*``
    arrays.

    Rows are in trunk node order, except that the nodes of the subtrees marked in ``late``
    come last (their count subtracted from the row count at ``index[Nt + 1]``): a change
    in those subtrees' 2-ports then changes only the trailing block of the elimination
    (:func:`solve_trunk_of`).
    """
    nt = fixed.shape[0]
    ne = conns.shape[0]
    ns = root_nodes.shape[0]
    ground = nt
    for n in range(nt + 1):
        uf[n] = n
    for n in range(nt):
        if not math.isnan(fixed[n]):
            _union(uf, n, ground)
    for e in range(ne):
        if g_trunk[e] > 0.0:
            _union(uf, conns[e, 0], conns[e, 1])
    for s in range(ns):
        m = node_conn[root_nodes[s]]
        if m & CONN_AG:
            _union(uf, root_art[s], ground)
        if m & CONN_PG:
            _union(uf, root_por[s], ground)
        if m & CONN_AP:
            _union(uf, root_art[s], root_por[s])
    groot = _find(uf, ground)
    for n in range(nt):
        on[n] = 1 if _find(uf, n) == groot else 0
        index[n] = -1
    for s in range(ns):  # the late subtrees' nodes, marked -2 until numbered after the others
        if late[s]:
            for n in (root_art[s], root_por[s]):
                if math.isnan(fixed[n]) and on[n]:
                    index[n] = -2
    nfree = 0
    for rank in range(2):
        if rank == 1:
            index[nt + 1] = nfree  # the first late row
        for n in range(nt):
            if math.isnan(fixed[n]) and on[n] and (index[n] == -2) == (rank == 1):
                index[n] = nfree
                nfree += 1
    index[nt] = nfree
    # the structure: every entry a stamp may touch (a superset is harmless), then the fill-in of the elimination in order
    pat = np.zeros((nfree, nfree), np.bool_)
    for e in range(ne):
        a = index[conns[e, 0]]
        b = index[conns[e, 1]]
        if g_trunk[e] > 0.0 and a >= 0 and b >= 0:
            pat[a, b] = True
            pat[b, a] = True
    for s in range(ns):
        a = index[root_art[s]]
        b = index[root_por[s]]
        if a >= 0 and b >= 0 and a != b:
            pat[a, b] = True
            pat[b, a] = True
    ptr[0] = 0
    for k in range(nfree):
        c = ptr[k]
        for j in range(k + 1, nfree):
            if pat[k, j]:
                cols[c] = j
                c += 1
        ptr[k + 1] = c
        for p in range(ptr[k], c):  # eliminating k joins every pair of its later neighbours
            for q in range(ptr[k], c):
                if p != q:
                    pat[cols[p], cols[q]] = True
    mat[:, :] = 0.0  # entries outside the pattern stay 0 from here on
    inputs[ne + 3 * ns] = 0.0  # and mat holds no factorisation


#: What changed in the trunk matrix's inputs since its last factorisation (:func:`_matrix_change`).
_MATRIX_SAME, _MATRIX_LATE_ONLY, _MATRIX_OTHER = 0, 1, 2


@njit(inline="always", **NJIT_OPTS)
def _matrix_change(g_trunk, root_nodes, node_pi, inputs, late, first, last):
    """Compare the matrix inputs (trunk conductances, the roots' yA, yP, yAP) with those the factorisation in
    ``work_mat`` was made from (``inputs``: the state's ``work_inputs``) and record the new ones; only those of
    subtrees ``first .. last - 1``, and the trunk's only when they are all the subtrees (:func:`solve_trunk_of`).

    Returns
    -------
    (int, int)
        ``_MATRIX_SAME`` (only sources changed), ``_MATRIX_LATE_ONLY`` (only subtrees marked in
        ``late`` changed) or ``_MATRIX_OTHER``; and the one unmarked subtree that changed when it
        changed alone (no trunk vessel, no other unmarked subtree), else -1.
    """
    ne = g_trunk.shape[0]
    ns = root_nodes.shape[0]
    valid = inputs[ne + 3 * ns] == 1.0
    trunk_changed = False
    for e in range(ne if last - first == ns else 0):
        if inputs[e] != g_trunk[e]:
            inputs[e] = g_trunk[e]
            trunk_changed = True
    n_other = 0
    lone = -1
    any_late = False
    for s in range(first, last):
        r = root_nodes[s]
        changed = False
        for c in range(3):  # PI_YA, PI_YP, PI_YAP
            if inputs[ne + 3 * s + c] != node_pi[r, c]:
                inputs[ne + 3 * s + c] = node_pi[r, c]
                changed = True
        if changed:
            if late[s]:
                any_late = True
            else:
                n_other += 1
                lone = s
    if not valid or trunk_changed or n_other > 0:
        return _MATRIX_OTHER, (lone if valid and not trunk_changed and n_other == 1 else -1)
    return (_MATRIX_LATE_ONLY if any_late else _MATRIX_SAME), -1


@njit(inline="always", **NJIT_OPTS)
def _eliminate_pattern(mat, rhs, rhs2, first, last, factor, forward, two, ptr, cols):
    """Gaussian elimination without pivoting of pivots ``first .. last - 1``, in place, visiting only the entries of
    the pattern (``ptr``, ``cols``, see :func:`_build_trunk_pattern`): of the matrix if ``factor``, of ``rhs`` (and
    ``rhs2`` if ``two``) if ``forward``.

    For the trunk's grounded Laplacian, a symmetric weakly diagonally dominant
    M-matrix, non-singular when every component holds a boundary: elimination
    without pivoting is stable there [GolubVanLoan2013] (section 4.1.1) and the small system needs no LAPACK call.
    The operations on every entry are those of the dense elimination in the same
    order (pivots ascending, each update ``a -= f * b``); the dense one's other
    updates subtract an exact zero and change nothing, so the result is the dense
    elimination's bit for bit (tests/test_twoport_trunk.py). Every entry below the
    diagonal keeps its value from the step that used it, so a later forward elimination
    of right-hand sides alone recomputes the very same multipliers.
    """
    for k in range(first, last):
        inv = 1.0 / mat[k, k]
        for p in range(ptr[k], ptr[k + 1]):
            i = cols[p]
            f = mat[i, k] * inv
            if f != 0.0:
                if factor:
                    for q in range(ptr[k], ptr[k + 1]):
                        j = cols[q]
                        mat[i, j] -= f * mat[k, j]
                if forward:
                    rhs[i] -= f * rhs[k]
                    if two:
                        rhs2[i] -= f * rhs2[k]


@njit(inline="always", **NJIT_OPTS)
def _backward(mat, rhs, rhs2, first, last, two, ptr, cols):
    """Back substitution in place over rows ``last-1 .. first``; columns at or past ``last`` count as zero (their
    share is added by the caller, :func:`solve_trunk_of`)."""
    for k in range(last - 1, first - 1, -1):
        acc = rhs[k]
        acc2 = rhs2[k] if two else 0.0
        for p in range(ptr[k], ptr[k + 1]):
            j = cols[p]
            if j >= last:  # columns ascending
                break
            acc -= mat[k, j] * rhs[j]
            if two:
                acc2 -= mat[k, j] * rhs2[j]
        rhs[k] = acc / mat[k, k]
        if two:
            rhs2[k] = acc2 / mat[k, k]


@njit(inline="always", **NJIT_OPTS)
def _base_change(fixed, q_trunk_in, root_nodes, node_pi, late, recorded, off_node, first, last):
    """Whether the right-hand side's inputs outside the late subtrees (boundary pressures, injections, the other
    subtrees' sources, the node whose injection the second right-hand side leaves out) differ from ``recorded``
    (the state's ``work_recorded``, last entry 0: none); records the new ones. Only subtrees ``first .. last - 1``
    are compared, and the trunk's inputs only when they are all the subtrees (:func:`solve_trunk_of`)."""
    nt = fixed.shape[0]
    ns = root_nodes.shape[0]
    changed = recorded[2 * nt + 2 * ns + 1] == 0.0
    for n in range(nt if last - first == ns else 0):
        if not (recorded[n] == fixed[n] or (math.isnan(recorded[n]) and math.isnan(fixed[n]))):
            recorded[n] = fixed[n]
            changed = True
        if recorded[nt + n] != q_trunk_in[n]:
            recorded[nt + n] = q_trunk_in[n]
            changed = True
    for s in range(first, last):
        if not late[s]:
            r = root_nodes[s]
            for c in range(2):
                if recorded[2 * nt + 2 * s + c] != node_pi[r, PI_SA + c]:
                    recorded[2 * nt + 2 * s + c] = node_pi[r, PI_SA + c]
                    changed = True
    if recorded[2 * nt + 2 * ns] != off_node:
        recorded[2 * nt + 2 * ns] = off_node
        changed = True
    recorded[2 * nt + 2 * ns + 1] = 1.0
    return changed


@njit(**NJIT_OPTS)
def solve_trunk(st):
    """Solve the trunk with every subtree's 2-port stamped at its root nodes.

    Sets ``trunk_p``, ``trunk_q``, the pressures of the root pedicle nodes and
    ``status``. Trunk nodes cut off from every boundary (exact connectivity over
    positive conductances and the roots' connectivity bits) get NaN.

    Returns
    -------
    int
        ``STATUS_OK``, or ``STATUS_LOST_SOURCE`` if an injection sits in a part
        cut off from every boundary (its flow is dropped).
    """
    return solve_trunk_of(*trunk_arrays(st), -1, -1, -1)[0]


@njit(**NJIT_OPTS)
def solve_trunk_without(st, node, edge):
    """:func:`solve_trunk`, and the flow in trunk ``edge`` had the injection into trunk ``node`` been off, m^3/s.

    One elimination with two right-hand sides: the state gets the solution with
    every injection (exactly what :func:`solve_trunk` gives); the second is read on
    ``edge`` only (the native antegrade flow of a catheter at ``node``).

    Returns
    -------
    (int, float)
        The status, and the flow along ``edge`` without the injection at ``node``.
    """
    return solve_trunk_of(*trunk_arrays(st), node, edge, -1)


@njit(**NJIT_OPTS)
def trunk_arrays(st):
    """The state's arrays the trunk solve reads and writes, in the order :func:`solve_trunk_of` takes them
    (bind them once outside a loop, as :func:`path_arrays`)."""
    return (st.trunk_fixed_p, st.trunk_conns, st.g_trunk, st.q_trunk_in, st.root_nodes, st.root_art, st.root_por,
            st.node_conn, st.node_pi, st.trunk_p, st.trunk_q, st.art_p, st.por_p, st.status, st.work_key, st.work_uf,
            st.work_on, st.work_index, st.work_ptr, st.work_cols, st.work_mat, st.work_rhs, st.work_inputs,
            st.work_schur, st.work_late, st.work_affine, st.work_base, st.work_recorded)


@njit(inline="always", **NJIT_OPTS)
def _stamps(stage, t_first, t_last, fixed, conns, g_trunk, root_nodes, root_art, root_por, node_pi, on, index, late, mat,
            rhs, rhs2):
    """The trunk system's stamps, one rule in one place, of entries ``t_first .. t_last - 1``: the trunk vessels
    (t < Et), then per root s its yA to ground with the source sA (t = Et + 3 s), its yP to ground with sP (+1) and
    its yAP between A and P (+2). A conductance g between nodes a and b (b = -1: ground, pressure 0) puts g on both
    diagonals and -g between two free nodes, g p_b on a's right-hand side for a fixed b (and the other way round).
    Stage 0: the matrix of the trunk and the unmarked subtrees; 1: the matrix of the late ones; 2: the right-hand
    side of the trunk and the unmarked subtrees; 3: that of the late ones, on both right-hand sides."""
    ne = conns.shape[0]
    for t in range(t_first, t_last):
        source = 0.0
        c = -1
        if t < ne:
            g = g_trunk[t]
            a = conns[t, 0]
            b = conns[t, 1]
            if not (g > 0.0 and on[a]):
                continue
        else:
            s, c = divmod(t - ne, 3)
            if (late[s] != 0) != (stage % 2 == 1):
                continue
            r = root_nodes[s]
            a = root_por[s] if c == 1 else root_art[s]
            b = root_por[s] if c == 2 else -1
            g = node_pi[r, c]  # PI_YA, PI_YP, PI_YAP
            if c < 2:
                source = node_pi[r, PI_SA + c]  # PI_SA, PI_SP
            if not on[a] or (c == 2 and not g > 0.0):
                continue
        ia = index[a]
        ib = index[b] if b >= 0 else -1
        if stage < 2:
            if ia >= 0:
                mat[ia, ia] += g
                if ib >= 0:
                    mat[ia, ib] -= g
            if ib >= 0:
                mat[ib, ib] += g
                if ia >= 0:
                    mat[ib, ia] -= g
        else:  # stage 3 adds to both right-hand sides (stage 2 copies the first into the second)
            if ia >= 0 and ib < 0:
                rhs[ia] += g * (0.0 if b < 0 else fixed[b])
                if stage == 3:
                    rhs2[ia] += g * (0.0 if b < 0 else fixed[b])
            if ib >= 0 and ia < 0:
                rhs[ib] += g * fixed[a]
                if stage == 3:
                    rhs2[ib] += g * fixed[a]
            if ia >= 0 and 0 <= c < 2:
                rhs[ia] += source
                if stage == 3:
                    rhs2[ia] += source


@njit(inline="always", **NJIT_OPTS)
def _restore_schur(mat, schur, first_late, nfree, ptr, cols):
    """The trailing block of ``mat`` as the other rows' elimination left it (kept in ``schur``)."""
    for k in range(first_late, nfree):
        mat[k, k] = schur[k, k]
        for p in range(ptr[k], ptr[k + 1]):
            j = cols[p]
            mat[k, j] = schur[k, j]
            mat[j, k] = schur[j, k]


@njit(inline="always", **NJIT_OPTS)
def _late_rhs_from_base(rhs, rhs2, base, first_late, nfree):
    """The late rows' right-hand sides from the kept eliminated ones (c, for both right-hand sides)."""
    for k in range(first_late, nfree):
        rhs[k] = base[0, k]
        rhs2[k] = base[1, k]


@njit(inline="always", **NJIT_OPTS)
def _trunk_status(fixed, q_trunk_in, root_nodes, root_art, root_por, node_conn, node_pi, on, index):
    """``STATUS_LOST_SOURCE`` if a source or an injection sits in a part cut off from every boundary, else OK."""
    status = STATUS_OK
    for s in range(root_nodes.shape[0]):
        r = root_nodes[s]
        if node_conn[r] & CONN_LOST or (not on[root_art[s]] and node_pi[r, PI_SA] != 0.0) or \
                (not on[root_por[s]] and node_pi[r, PI_SP] != 0.0):
            status = STATUS_LOST_SOURCE
    for n in range(fixed.shape[0]):
        if index[n] < 0 and q_trunk_in[n] != 0.0 and math.isnan(fixed[n]):
            status = STATUS_LOST_SOURCE
    return status


@njit(inline="always", **NJIT_OPTS)
def _flow_without(off, off_node, off_edge, conns, g_trunk, fixed, index, trunk_q, work_rhs, affine, base):
    """After a solve: the flow along ``off_edge`` without the injection at ``off_node`` (the second right-hand
    side; NaN with ``off_node < 0``), m^3/s. ``off``: ``off_node`` is a free row (else its injection changes no
    flow and ``trunk_q``, which must then be written, gives it)."""
    if off_node < 0:
        return np.nan
    if not off:  # the injection node is cut off: its injection changes no flow
        return trunk_q[off_edge]
    nt = fixed.shape[0]
    first_late = index[nt + 1]
    rhs2 = work_rhs[1]
    pa = pb = 0.0
    for end in range(2):  # the ends' pressures without the injection
        n = conns[off_edge, end]
        k = index[n]
        if k < 0:
            value = fixed[n]  # what trunk_p holds there (NaN if cut off)
        elif k >= first_late:
            value = rhs2[k]
        else:
            value = base[1, k]
            for col in range(first_late, index[nt]):
                value -= affine[k, col] * rhs2[col]
        if end == 0:
            pa = value
        else:
            pb = value
    g = g_trunk[off_edge]
    return g * (pa - pb) if g > 0.0 and not math.isnan(pa) and not math.isnan(pb) else 0.0


@njit(inline="always", **NJIT_OPTS)
def solve_trunk_late(trunk, off_node, off_edge, only_subtree):
    """:func:`solve_trunk_of`'s own steps for its most frequent case, inline for the transport loop, which then
    pays no call (a call passing the 28 arrays of ``trunk``, :func:`trunk_arrays`, costs about 0.25 us there:
    each array is seven arguments) and no compile time for the general solve.

    The case: the promise ``only_subtree`` (only that subtree's 2-port changed since the previous solve, with the
    same ``off_node``), that subtree late, the pattern's inputs and the right-hand side's kept inputs as
    recorded, and the injection node a free row (or none). Then the solve refactorises the late block if the
    subtree's conductances changed, stamps the late subtrees (the subtree's three entries when it is the only
    late one) and solves the late rows: the very steps and numbers of :func:`solve_trunk_of`. ``trunk_p``,
    ``trunk_q`` and the roots' pressures are left unwritten: :func:`trunk_pressure_of` gives any of them,
    :func:`write_trunk_outputs` writes them all (the caller must, before anything else reads them).

    Returns
    -------
    (bool, int, float)
        Whether it applied (if not, nothing was changed: call :func:`solve_trunk_of`), the status, and the flow
        along ``off_edge`` without the injection at ``off_node``.
    """
    (fixed, conns, g_trunk, q_trunk_in, root_nodes, root_art, root_por, node_conn, node_pi, trunk_p, trunk_q, art_p, por_p,
     status_out, key, uf, on, index, ptr, cols, mat, work_rhs, inputs, schur, late, affine, base, recorded) = trunk
    nt = fixed.shape[0]
    ns = root_nodes.shape[0]
    ne = conns.shape[0]
    s = only_subtree
    off = off_node >= 0 and index[off_node] >= 0
    # what solve_trunk_of's checks would find, read without recording anything
    if s < 0 or ns < 2 or late[s] == 0 or (off_node >= 0 and not off) or key[nt + ne + ns] == 0 or \
            key[nt + ne + s] != (node_conn[root_nodes[s]] & np.uint8(7)) or inputs[ne + 3 * ns] != 1.0 or \
            recorded[2 * nt + 2 * ns + 1] == 0.0 or recorded[2 * nt + 2 * ns] != (off_node if off else -1):
        return False, STATUS_OK, np.nan
    t_first, t_last = ne + 3 * s, ne + 3 * s + 3  # its stamps alone when it is the only late subtree
    for t in range(ns):
        if t != s and late[t] != 0:
            t_first, t_last = ne, ne + 3 * ns
    change, _ = _matrix_change(g_trunk, root_nodes, node_pi, inputs, late, s, s + 1)  # SAME or LATE_ONLY here
    nfree = index[nt]
    first_late = index[nt + 1]
    rhs = work_rhs[0]
    rhs2 = work_rhs[1]
    status = _trunk_status(fixed, q_trunk_in, root_nodes, root_art, root_por, node_conn, node_pi, on, index)
    if change == _MATRIX_LATE_ONLY:
        _restore_schur(mat, schur, first_late, nfree, ptr, cols)
        _stamps(1, t_first, t_last, fixed, conns, g_trunk, root_nodes, root_art, root_por, node_pi, on, index, late, mat,
                rhs, rhs2)
        _eliminate_pattern(mat, rhs, rhs2, first_late, nfree, True, False, False, ptr, cols)
        inputs[ne + 3 * ns] = 1.0
    _late_rhs_from_base(rhs, rhs2, base, first_late, nfree)
    _stamps(3, t_first, t_last, fixed, conns, g_trunk, root_nodes, root_art, root_por, node_pi, on, index, late, mat, rhs,
            rhs2)
    _eliminate_pattern(mat, rhs, rhs2, first_late, nfree, False, True, off, ptr, cols)
    _backward(mat, rhs, rhs2, first_late, nfree, off, ptr, cols)
    status_out[0] = status
    return True, status, _flow_without(off, off_node, off_edge, conns, g_trunk, fixed, index, trunk_q, work_rhs, affine,
                                       base)


@njit(**NJIT_OPTS)
def solve_trunk_of(fixed, conns, g_trunk, q_trunk_in, root_nodes, root_art, root_por, node_conn, node_pi, trunk_p,
                   trunk_q, art_p, por_p, status_out, key, uf, on, index, ptr, cols, mat, work_rhs, inputs, schur, late,
                   affine, base, recorded, off_node, off_edge, only_subtree):
    """The trunk solve on the arrays :func:`trunk_arrays` returns (for kernel loops); with ``off_node >= 0`` also the
    flow along ``off_edge`` without the injection at ``off_node`` (-1, -1: :func:`solve_trunk`).

    ``only_subtree >= 0`` is the caller's promise that since the previous solve on these arrays
    (with the same ``off_node``) nothing changed but the 2-port of that subtree (its root's
    ``node_pi`` and ``node_conn``): the checks below then compare that subtree's inputs alone,
    O(1) instead of O(Nt + Et + S), with the very same outcome. -1: no promise, everything
    is compared.

    Allocates nothing: the system is assembled in the ``work_*`` arrays, over the pattern
    :func:`_build_trunk_pattern` keeps (rebuilt only when its inputs changed). Subtrees
    whose 2-port changes alone (a particle lodged in one) are marked late, while the late
    rows stay at most half the rows: their rows come last and their stamps are kept out of
    everything that is kept from one solve to the next. With the rows ``I`` of the trunk
    and the other subtrees first and the late rows ``L`` last, the elimination of ``I``
    leaves the Schur complement ``S`` in the trailing block (kept in ``work_schur``), the
    pressures ``x_I = y - W x_L`` with ``y`` the back substitution of ``I`` alone and
    ``W`` that of the columns of ``L`` (``work_base``, ``work_affine``), and the
    eliminated right-hand side ``c`` of ``L``. A solve then needs only ``(S + D) x_L =
    c + d`` with the late stamps ``D`` and sources ``d``, and ``x_I`` from it:

    * only the late subtrees changed (an embolisation: the catheter's subtrees): the
      trailing block is refactorised and solved, a few rows;
    * the other sources or injections changed: ``y`` and ``c`` again (substitutions);
    * anything else: everything. With no late subtree this is the plain elimination.

    The partial paths give the full path's numbers bit for bit (they skip recomputing kept
    values only), so a result does not depend on which one ran; the elimination order
    (which subtrees are late) moves results in the last bits only (tests/test_twoport_trunk.py).
    The state's arrays come in as arguments: a function that takes the whole state pays an
    atomic reference count per field on every call, as does every state field read inside a
    loop (docs/flow.md).
    """
    nt = fixed.shape[0]
    ns = root_nodes.shape[0]
    ne = conns.shape[0]
    first_s, last_s = (only_subtree, only_subtree + 1) if only_subtree >= 0 else (0, ns)
    if _pattern_inputs_changed(key, fixed, g_trunk, node_conn, root_nodes, first_s, last_s):
        _build_trunk_pattern(fixed, conns, g_trunk, node_conn, root_nodes, root_art, root_por, uf, on, index, ptr, cols,
                             mat, inputs, late)
    change, lone = _matrix_change(g_trunk, root_nodes, node_pi, inputs, late, first_s, last_s)
    if lone >= 0 and 2 * (index[nt] - index[nt + 1] + 2) <= index[nt]:  # a subtree changed alone: mark it late
        late[lone] = 1
        _build_trunk_pattern(fixed, conns, g_trunk, node_conn, root_nodes, root_art, root_por, uf, on, index, ptr, cols,
                             mat, inputs, late)
    nfree = index[nt]
    first_late = index[nt + 1]
    off = off_node >= 0 and index[off_node] >= 0
    base_changed = _base_change(fixed, q_trunk_in, root_nodes, node_pi, late, recorded, off_node if off else -1, first_s,
                                last_s)
    rhs = work_rhs[0]
    rhs2 = work_rhs[1]
    status = _trunk_status(fixed, q_trunk_in, root_nodes, root_art, root_por, node_conn, node_pi, on, index)
    for stage in range(4):  # the stamps (:func:`_stamps`) of the trunk and the unmarked subtrees, then of the late ones
        if stage == 0:
            if change != _MATRIX_OTHER:
                continue
            for k in range(nfree):
                mat[k, k] = 0.0
                for p in range(ptr[k], ptr[k + 1]):
                    j = cols[p]
                    mat[k, j] = 0.0
                    mat[j, k] = 0.0
        elif stage == 1:
            if change == _MATRIX_SAME:
                continue
            if change == _MATRIX_LATE_ONLY:  # the trailing block as the other rows' elimination left it
                _restore_schur(mat, schur, first_late, nfree, ptr, cols)
        elif stage == 2:
            if not (base_changed or change == _MATRIX_OTHER):
                continue
            for k in range(nfree):
                rhs[k] = 0.0
        else:  # stage 3 starts from the kept eliminated right-hand side of the late rows
            _late_rhs_from_base(rhs, rhs2, base, first_late, nfree)
        _stamps(stage, ne if stage % 2 == 1 else 0, ne + 3 * ns, fixed, conns, g_trunk, root_nodes, root_art, root_por,
                node_pi, on, index, late, mat, rhs, rhs2)
        if stage == 0:
            _eliminate_pattern(mat, rhs, rhs2, 0, first_late, True, False, False, ptr, cols)
            for k in range(first_late, nfree):  # keep the trailing block (the Schur complement S)
                schur[k, k] = mat[k, k]
                for p in range(ptr[k], ptr[k + 1]):
                    j = cols[p]
                    schur[k, j] = mat[k, j]
                    schur[j, k] = mat[j, k]
            for col in range(first_late, nfree):  # W: the back substitution of the late columns over the rows I
                for k in range(first_late - 1, -1, -1):
                    acc = mat[k, col]
                    for p in range(ptr[k], ptr[k + 1]):
                        j = cols[p]
                        if j >= first_late:
                            break
                        acc -= mat[k, j] * affine[j, col]
                    affine[k, col] = acc / mat[k, k]
        elif stage == 1:
            _eliminate_pattern(mat, rhs, rhs2, first_late, nfree, True, False, False, ptr, cols)
            inputs[ne + 3 * ns] = 1.0  # mat holds the factorisation of the recorded inputs
        elif stage == 2:  # injections last (the second right-hand side leaves out the one at off_node), then y and c
            if off:
                rhs2[:nfree] = rhs[:nfree]
            for n in range(nt):
                if index[n] >= 0:
                    rhs[index[n]] += q_trunk_in[n]
                    if off and n != off_node:
                        rhs2[index[n]] += q_trunk_in[n]
            _eliminate_pattern(mat, rhs, rhs2, 0, first_late, False, True, off, ptr, cols)
            _backward(mat, rhs, rhs2, 0, first_late, off, ptr, cols)
            for k in range(nfree):  # y on the rows I, c on the rows L (for both right-hand sides)
                base[0, k] = rhs[k]
                base[1, k] = rhs2[k] if off else 0.0
    # ---- the late rows' pressures; the others' follow from them (trunk_pressure_of)
    _eliminate_pattern(mat, rhs, rhs2, first_late, nfree, False, True, off, ptr, cols)
    _backward(mat, rhs, rhs2, first_late, nfree, off, ptr, cols)
    write_trunk_outputs(fixed, conns, g_trunk, root_nodes, root_art, root_por, trunk_p, trunk_q, art_p, por_p, index,
                        work_rhs, affine, base)
    status_out[0] = status
    return status, _flow_without(off, off_node, off_edge, conns, g_trunk, fixed, index, trunk_q, work_rhs, affine, base)


@njit(inline="always", **NJIT_OPTS)
def trunk_pressure_of(n, fixed, index, work_rhs, affine, base):
    """Pressure of trunk node ``n`` after a solve (what :func:`write_trunk_outputs` writes to ``trunk_p[n]``), Pa:
    a late row's from the solve, another free row's ``y - W x_L`` (see :func:`solve_trunk_of`), the boundary's
    pressure, or NaN where cut off. The arguments are the state's arrays (:func:`trunk_arrays`)."""
    nt = fixed.shape[0]
    k = index[n]
    if k < 0:
        return fixed[n] if not math.isnan(fixed[n]) else np.nan
    first_late = index[nt + 1]
    rhs = work_rhs[0]
    if k >= first_late:
        return rhs[k]
    acc = base[0, k]
    for col in range(first_late, index[nt]):
        acc -= affine[k, col] * rhs[col]
    return acc


@njit(inline="always", **NJIT_OPTS)
def trunk_edge_flow(g, pa, pb):
    """Flow along a trunk vessel of conductance ``g`` from the pressures of its ends (as ``trunk_q``), m^3/s."""
    return g * (pa - pb) if g > 0.0 and not math.isnan(pa) else 0.0


@njit(inline="always", **NJIT_OPTS)
def write_trunk_outputs(fixed, conns, g_trunk, root_nodes, root_art, root_por, trunk_p, trunk_q, art_p, por_p, index,
                        work_rhs, affine, base):
    """Write a solve's ``trunk_p``, ``trunk_q`` and the roots' pressures (the state's arrays)."""
    for n in range(fixed.shape[0]):
        trunk_p[n] = trunk_pressure_of(n, fixed, index, work_rhs, affine, base)
    for e in range(conns.shape[0]):
        trunk_q[e] = trunk_edge_flow(g_trunk[e], trunk_p[conns[e, 0]], trunk_p[conns[e, 1]])
    _root_pressures(root_nodes, root_art, root_por, trunk_p, art_p, por_p)


@njit(inline="always", **NJIT_OPTS)
def _root_pressures(root_nodes, root_art, root_por, trunk_p, art_p, por_p):
    """Pressures of the subtree root nodes: those of the trunk nodes they coincide with."""
    for s in range(root_nodes.shape[0]):
        r = root_nodes[s]
        art_p[r] = trunk_p[root_art[s]]
        por_p[r] = trunk_p[root_por[s]]


@njit(**NJIT_OPTS)
def restore_trunk(st, trunk_p, trunk_q, status):
    """Put back a trunk solution saved from this state (:func:`solve_trunk`'s outputs).

    For a temporary change (e.g. the injection switched off to measure the native
    flow): once the inputs are as they were, their solution is the saved one, and
    restoring it costs O(Nt) instead of a solve.
    """
    st.trunk_p[:] = trunk_p
    st.trunk_q[:] = trunk_q
    _root_pressures(st.root_nodes, st.root_art, st.root_por, st.trunk_p, st.art_p, st.por_p)
    st.status[0] = status


# ---------------------------------------------------------------------------
# top-down substitution and on-demand queries


@njit(inline="always", **NJIT_OPTS)
def child_pressures(st, j, pa_parent, pp_parent):
    """Pressures of A_j and P_j from those of j's parent, O(1).

    Parameters
    ----------
    st : FlowState
        With current 2-ports (:func:`eliminate` or :func:`refresh_path`).
    j : int
        Non-root pedicle node.
    pa_parent, pp_parent : float
        Pressures of the parent's arterial and portal nodes (NaN if cut off).

    Returns
    -------
    (float, float)
        Pressures of A_j and P_j, Pa relative to the hepatic veins; NaN where
        cut off from every boundary.
    """
    pi = st.node_pi
    return pressures_below(st.g_art[j], st.g_por[j], st.node_conn[j], pi[j, PI_YA], pi[j, PI_YP], pi[j, PI_YAP], pi[j, PI_SA],
                           pi[j, PI_SP], pa_parent, pp_parent)


@njit(inline="always", **NJIT_OPTS)
def pressures_below(ga, gp, conn, ya, yp, yap, sa, sp, pa_parent, pp_parent):
    """:func:`child_pressures` from node j's own values: the conductances of its arterial and portal
    vessels ``ga``, ``gp``, its connectivity bits ``conn`` (``node_conn[j]``) and its 2-port ``ya, yp, yap,
    sa, sp`` (``node_pi[j]``).

    Kernel loops call this form with the elements: an inline helper that takes arrays costs an
    atomic reference count per array per call (docs/flow.md).
    """
    up_a = ga > 0.0 and not math.isnan(pa_parent)
    up_p = gp > 0.0 and not math.isnan(pp_parent)
    ag = (conn & CONN_AG) != 0
    pg = (conn & CONN_PG) != 0
    ap = (conn & CONN_AP) != 0
    ba = sa + (ga * pa_parent if up_a else 0.0)
    bp = sp + (gp * pp_parent if up_p else 0.0)
    if ap:
        if not (ag or pg or up_a or up_p):
            return np.nan, np.nan
        d = (ga + ya) * (gp + yp) + yap * (ga + ya + gp + yp)
        return ((gp + yp + yap) * ba + yap * bp) / d, (yap * ba + (ga + ya + yap) * bp) / d
    xa = ba / (ga + ya) if (ag or up_a) else np.nan
    xp = bp / (gp + yp) if (pg or up_p) else np.nan
    return xa, xp


@njit(inline="always", **NJIT_OPTS)
def flows_below(ga, gp, conn, ya, yp, yap, sa, sp, pa_parent, pp_parent):
    """:func:`edge_flows` from node j's own values (as :func:`pressures_below`)."""
    xa, xp = pressures_below(ga, gp, conn, ya, yp, yap, sa, sp, pa_parent, pp_parent)
    qa = ga * (pa_parent - xa) if (ga > 0.0 and not math.isnan(xa)) else 0.0
    qp = gp * (pp_parent - xp) if (gp > 0.0 and not math.isnan(xp)) else 0.0
    return qa, qp, xa, xp


@njit(inline="always", **NJIT_OPTS)
def edge_flows(st, j, pa_parent, pp_parent):
    """Flows in the arterial and portal vessels into node ``j`` (parent -> j), m^3/s, O(1).

    Returns
    -------
    (float, float, float, float)
        Arterial flow, portal flow, and the pressures of A_j and P_j (as
        :func:`child_pressures`). A vessel with zero conductance or cut off
        from every boundary carries 0.
    """
    pi = st.node_pi
    return flows_below(st.g_art[j], st.g_por[j], st.node_conn[j], pi[j, PI_YA], pi[j, PI_YP], pi[j, PI_YAP], pi[j, PI_SA],
                       pi[j, PI_SP], pa_parent, pp_parent)


@njit(inline="always", **NJIT_OPTS)
def compartment_flows(st, c, pa, pp):
    """Pressure and flows of compartment ``c`` from the pressures of its pedicle node, O(1).

    Parameters
    ----------
    st : FlowState
    c : int
    pa, pp : float
        Pressures of A_i and P_i of the compartment's pedicle node i.

    Returns
    -------
    (float, float, float, float, float)
        Compartment pressure (NaN if cut off), inflow from A_i, inflow from
        P_i, outflow to the hepatic veins, inflow from the extrahepatic reservoir.
    """
    g = st.g_comp
    return compartment_state(g[c, COMP_ART], g[c, COMP_POR], g[c, COMP_HV], g[c, COMP_EXTRA], st.comp_extra_p[c], pa, pp)


@njit(inline="always", **NJIT_OPTS)
def compartment_state(ga, gp, gh, ge, px, pa, pp):
    """:func:`compartment_flows` from the compartment's own values: its conductances to A_i, P_i, the hepatic
    veins and the extrahepatic reservoir (``g_comp[c]``) and the reservoir's pressure ``px`` (kernel loops call
    this form, as :func:`pressures_below`)."""
    up_a = ga > 0.0 and not math.isnan(pa)
    up_p = gp > 0.0 and not math.isnan(pp)
    if not (up_a or up_p or gh > 0.0 or ge > 0.0):
        return np.nan, 0.0, 0.0, 0.0, 0.0
    num = (ga * pa if up_a else 0.0) + (gp * pp if up_p else 0.0) + ge * px
    ps = num / (ga + gp + gh + ge)
    return (ps, ga * (pa - ps) if up_a else 0.0, gp * (pp - ps) if up_p else 0.0, gh * ps,
            ge * (px - ps) if ge > 0.0 else 0.0)


@njit(**NJIT_OPTS)
def node_pressures(st, i):
    """Pressures of A_i and P_i, top-down from the trunk solution along the root -> i path, O(depth).

    Needs current 2-ports and trunk solution (:func:`solve_trunk`), not the full
    substitution.
    """
    depth = 0
    k = i
    while st.parent[k] >= 0:
        depth += 1
        k = st.parent[k]
    path = np.empty(depth, np.int64)
    k = i
    for d in range(depth - 1, -1, -1):
        path[d] = k
        k = st.parent[k]
    s = st.root_slot[k]
    pa = st.trunk_p[st.root_art[s]]
    pp = st.trunk_p[st.root_por[s]]
    g_art, g_por, node_conn, node_pi = st.g_art, st.g_por, st.node_conn, st.node_pi
    for d in range(depth):
        j = path[d]
        pa, pp = pressures_below(g_art[j], g_por[j], node_conn[j], node_pi[j, PI_YA], node_pi[j, PI_YP], node_pi[j, PI_YAP],
                                 node_pi[j, PI_SA], node_pi[j, PI_SP], pa, pp)
    return pa, pp


@njit(**NJIT_OPTS)
def substitute_range(st, first, last):
    """Top-down substitution of pedicle nodes ``first .. last - 1`` and their compartments.

    The range must be whole subtrees (a subtree is a contiguous preorder range from
    its root to the next root), so every parent is substituted before its children.
    Used to refresh only the subtrees an observer needs (e.g. those holding tumour).
    """
    substitute_nodes(st, np.arange(first, last), st.comp_idx[st.comp_ptr[first]:st.comp_ptr[last]])
    for r in st.root_nodes:  # a subtree root has no pedicle vessel
        if first <= r < last:
            st.art_q[r] = np.nan
            st.por_q[r] = np.nan


@njit(**NJIT_OPTS)
def substitute_nodes(st, nodes, comps):
    """Top-down substitution of the pedicle nodes ``nodes`` and then of the compartments ``comps``.

    ``nodes`` must be ascending (preorder: parents first) and hold the ancestors of
    every node in it and of every compartment's node, so each parent is substituted
    before its children. :func:`substitute_range` (and so the full substitution) is this
    on whole subtrees, so the values are those of the full substitution. Used to read a few
    compartments (e.g. the tumour's) in O(their paths) instead of O(their subtrees).
    """
    # the state's arrays bound once: a state field read inside a loop costs Numba a reference count each time
    parent, g_art, g_por, node_conn, node_pi = st.parent, st.g_art, st.g_por, st.node_conn, st.node_pi
    art_p, por_p, art_q, por_q = st.art_p, st.por_p, st.art_q, st.por_q
    g_comp, comp_extra_p, comp_node, comp_p, comp_q = st.g_comp, st.comp_extra_p, st.comp_node, st.comp_p, st.comp_q
    for i in nodes:
        p = parent[i]
        if p >= 0:
            qa, qp, xa, xp = flows_below(g_art[i], g_por[i], node_conn[i], node_pi[i, PI_YA], node_pi[i, PI_YP],
                                         node_pi[i, PI_YAP], node_pi[i, PI_SA], node_pi[i, PI_SP], art_p[p], por_p[p])
            art_q[i] = qa
            por_q[i] = qp
            art_p[i] = xa
            por_p[i] = xp
    for c in comps:
        i = comp_node[c]
        ps, qa, qp, qh, qe = compartment_state(g_comp[c, COMP_ART], g_comp[c, COMP_POR], g_comp[c, COMP_HV],
                                               g_comp[c, COMP_EXTRA], comp_extra_p[c], art_p[i], por_p[i])
        comp_p[c] = ps
        comp_q[c, COMP_ART] = qa
        comp_q[c, COMP_POR] = qp
        comp_q[c, COMP_HV] = qh
        comp_q[c, COMP_EXTRA] = qe


@njit(**NJIT_OPTS)
def substitute(st):
    """Top-down: pressures and flows of every pedicle node and compartment from the trunk solution, O(M + C)."""
    substitute_range(st, 0, st.parent.shape[0])


@njit(**NJIT_OPTS)
def solve_without_substitution(st):
    """:func:`eliminate` and :func:`solve_trunk` (the 2-ports and the trunk solution current; the pedicle nodes and
    compartments left for a caller that substitutes them itself). Returns the trunk status."""
    eliminate(st)
    return solve_trunk(st)


@njit(**NJIT_OPTS)
def solve(st):
    """Full solve: :func:`solve_without_substitution`, then :func:`substitute`. Returns the trunk status."""
    status = solve_without_substitution(st)
    substitute(st)
    return status
