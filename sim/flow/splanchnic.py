"""The portal inlet as the splanchnic circulation it is: portal inflow set by the gut, portal pressure emerging.

Portal blood is the venous outflow of the gut, spleen and pancreas: the liver does
not control it ([Lautt1985]: the reason for the buffer response). With
``flow.portal_inlet = "splanchnic"`` (default) the portal inlet is therefore not a
fixed pressure but a source of flow: the splanchnic circulation seen from the portal
vein, as a Thevenin source (a reservoir at ``flow.portal_occlusion_pressure_mmHg``
behind a conductance G), calibrated so that the healthy liver receives exactly its
portal demand at ``flow.portal_pressure_mmHg``:

    Q_in = G (P_occ - P_inlet),   G = Q_0 / (P_occ - P_0),

Q_0 the healthy total portal inflow (the compartments' portal demands, from
``flow.total_flow_ml_min_kg`` x ``flow.body_mass_kg`` and the arterial shares,
[Carlisle1992]), P_0 = ``flow.portal_pressure_mmHg``. A rise dP of the portal
pressure lowers the inflow by the share dP / (P_occ - P_0): the splanchnic inflow
that can no longer enter the liver goes to portosystemic collaterals or is not
admitted by the gut. P_occ is the portal pressure with the main trunk completely
blocked (the whole inflow diverted), about that of established portal hypertension
([Moreno1975]: 28.5 +/- 4 mmHg, pressures measured on both sides of a clamp on the
portal vein). An ideal flow source (P_occ -> infinity) would push the whole splanchnic
flow through any main-trunk thrombus at whatever pressure it takes; the finite P_occ
keeps main portal vein thrombosis sensible (portal pressure rises towards P_occ, the
collaterals take what the thrombus does not let through).

This is a lumped trunk edge ``splanchnic_bed`` from a reservoir node
``splanchnic_source`` into the portal inlet, whose fixed pressure is removed: the
two-port solver needs nothing new (a Thevenin source is a conductance to a fixed
pressure). ``flow.portal_inlet = "pressure"`` keeps the fixed-pressure inlet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..kernels import twoport
from ..network import EDGE_LUMPED, TRUNK_NODE_PORTAL, TRUNK_NODE_RESERVOIR, CompiledLiver, Conductances
from ..scenario import FlowConfig
from ..units import mmhg_to_pa
from .errors import FlowInputError
from .state import build_state

__all__ = ["SPLANCHNIC_SOURCE", "SPLANCHNIC_BED", "PortalInlet", "portal_inlet_node", "splanchnic_inlet"]

#: Name of the reservoir node standing for the splanchnic circulation.
SPLANCHNIC_SOURCE = "splanchnic_source"
#: Name of the lumped edge from that reservoir into the portal inlet.
SPLANCHNIC_BED = "splanchnic_bed"
#: Schematic offset of the reservoir from the portal inlet, m (plots only).
_SOURCE_OFFSET_M = np.array([0.0, 0.0, -0.03])


@dataclass(frozen=True)
class PortalInlet:
    """How portal blood enters the liver.

    Attributes
    ----------
    mode : {"splanchnic", "pressure"}
    inlet_node : int
        Trunk node of the portal inlet (``MPV_inlet``).
    baseline_inflow_m3s : float
        Total portal inflow of the healthy liver, m^3/s.
    baseline_pressure_pa : float
        Inlet pressure of the healthy liver (absolute), Pa.
    source_pressure_pa : float
        Pressure of the splanchnic reservoir (absolute), Pa; NaN in pressure mode.
    conductance : float
        Splanchnic conductance G, m^3/(s Pa); NaN in pressure mode.
    edge : int
        Trunk edge ``splanchnic_bed``, -1 in pressure mode.
    """

    mode: str
    inlet_node: int
    baseline_inflow_m3s: float
    baseline_pressure_pa: float
    source_pressure_pa: float
    conductance: float
    edge: int

    def inflow_share_lost(self, inlet_pressure_pa: float) -> float:
        """Share of the healthy splanchnic inflow not admitted at this inlet pressure: dP / (P_occ - P_0)."""
        if self.mode != "splanchnic":
            return float("nan")
        return (inlet_pressure_pa - self.baseline_pressure_pa) / (self.source_pressure_pa - self.baseline_pressure_pa)


def portal_inlet_node(liver: CompiledLiver) -> int:
    """The trunk's portal inlet: its one portal node with a fixed pressure.

    Raises
    ------
    FlowInputError
        None or several.
    """
    trunk = liver.trunk
    nodes = np.flatnonzero((trunk.node_kind == TRUNK_NODE_PORTAL) & np.isfinite(trunk.node_pressure_pa))
    if nodes.size != 1:
        raise FlowInputError(f"the trunk has {nodes.size} portal nodes with a fixed pressure; the portal inlet "
                             "must be exactly one")
    return int(nodes[0])


def splanchnic_inlet(liver: CompiledLiver, healthy: Conductances, flow: FlowConfig
                     ) -> tuple[CompiledLiver, Conductances, PortalInlet]:
    """The liver with its portal inlet fed by the splanchnic circulation (module docstring).

    Parameters
    ----------
    liver : CompiledLiver
        With the fixed-pressure portal inlet the anatomy writes.
    healthy : Conductances
        Calibrated (healthy) conductances of ``liver``.
    flow : FlowConfig
        ``portal_inlet``, ``portal_occlusion_pressure_mmHg``.

    Returns
    -------
    (CompiledLiver, Conductances, PortalInlet)
        In splanchnic mode the trunk gains the reservoir node and the ``splanchnic_bed``
        edge and the inlet's pressure becomes free; the healthy solution is unchanged
        (the same flows and pressures everywhere). In pressure mode ``liver`` and
        ``healthy`` are returned as given.
    """
    inlet = portal_inlet_node(liver)
    trunk = liver.trunk
    state = build_state(liver, healthy)
    twoport.solve(state)
    conns = trunk.edge_conns
    q0 = float(state.trunk_q[conns[:, 0] == inlet].sum())
    p0 = float(trunk.node_pressure_pa[inlet])
    if flow.portal_inlet == "pressure":
        return liver, healthy, PortalInlet("pressure", inlet, q0, p0, float("nan"), float("nan"), -1)
    p_occ = mmhg_to_pa(flow.portal_occlusion_pressure_mmHg)
    g = q0 / (p_occ - p0)
    source = trunk.n_nodes
    pressure = trunk.node_pressure_pa.copy()
    pressure[inlet] = np.nan
    new = replace(
        trunk, node_names=trunk.node_names + (SPLANCHNIC_SOURCE,),
        node_xyz=np.vstack([trunk.node_xyz, trunk.node_xyz[inlet] + _SOURCE_OFFSET_M]),
        node_kind=np.append(trunk.node_kind, np.int8(TRUNK_NODE_RESERVOIR)),
        node_pressure_pa=np.append(pressure, p_occ), edge_conns=np.vstack([conns, [[source, inlet]]]),
        edge_names=trunk.edge_names + (SPLANCHNIC_BED,), edge_kind=np.append(trunk.edge_kind, np.int8(EDGE_LUMPED)),
        edge_radius_m=np.append(trunk.edge_radius_m, np.nan), edge_length_m=np.append(trunk.edge_length_m, np.nan),
        edge_generation=np.append(trunk.edge_generation, np.int16(-1)),
        edge_demand_m3s=np.append(trunk.edge_demand_m3s, q0))
    g_new = healthy.copy()
    g_new.trunk = np.append(healthy.trunk, g)
    return (replace(liver, trunk=new), g_new,
            PortalInlet("splanchnic", inlet, q0, p0, p_occ, g, new.n_edges - 1))
