"""Slow, obviously correct versions of the flow physics, for tests to compare against.

Nothing here is vectorised or clever: one Python statement per formula, one
loop iteration per edge.
"""

from __future__ import annotations

import math

import numpy as np


def pries_relative_viscosity(d_um: float, h: float) -> float:
    """Pries et al. 1994 in vivo law, term by term as printed in [Pries1994]."""
    eta45 = 6 * math.exp(-0.085 * d_um) + 3.2 - 2.44 * math.exp(-0.06 * d_um ** 0.645)
    c = (0.8 + math.exp(-0.075 * d_um)) * (-1 + 1 / (1 + 1e-11 * d_um ** 12)) + 1 / (1 + 1e-11 * d_um ** 12)
    ratio = ((1 - h) ** c - 1) / ((1 - 0.45) ** c - 1)
    return (1 + (eta45 - 1) * ratio * (d_um / (d_um - 1.1)) ** 2) * (d_um / (d_um - 1.1)) ** 2


def dense_solve(n_nodes: int, edges, conductance, fixed_pressure, inflow=None):
    """Kirchhoff's law with a dense matrix, one loop iteration per edge; every node must be solvable.

    Returns (pressure (N,), flow (E,)).
    """
    inflow = np.zeros(n_nodes) if inflow is None else inflow
    a = np.zeros((n_nodes, n_nodes))
    b = np.zeros(n_nodes)
    for (u, v), g in zip(edges, conductance):
        a[u, u] += g
        a[v, v] += g
        a[u, v] -= g
        a[v, u] -= g
    for n in range(n_nodes):
        if math.isfinite(fixed_pressure[n]):
            a[n, :] = 0.0
            a[n, n] = 1.0
            b[n] = fixed_pressure[n]
        else:
            b[n] = inflow[n]
    p = np.linalg.solve(a, b)
    flow = np.array([g * (p[u] - p[v]) for (u, v), g in zip(edges, conductance)])
    return p, flow


def kcl_residual(n_nodes: int, edges, flow: np.ndarray, inflow: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Mass balance error at every free node, relative to the flow through it.

    |inflow + sum in - sum out| / max(sum of |flows| at the node, 1e-6 max |flow|): the
    floor keeps dead ends, whose only flow is rounding noise, from dividing by ~0.
    """
    net = inflow.astype(float).copy()
    through = np.abs(inflow).astype(float)
    for (u, v), q in zip(edges, flow):
        net[u] -= q
        net[v] += q
        through[u] += abs(q)
        through[v] += abs(q)
    free = ~np.isfinite(fixed)
    floor = 1e-6 * np.abs(flow).max()
    return np.where(free, np.abs(net) / np.maximum(through, floor), 0.0)
