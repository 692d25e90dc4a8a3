"""Build a liver from a scenario: domain, tissue points, trees, compartments -> CompiledLiver.

See ``docs/anatomy.md`` for the model and its sources. The steps:

1. the liver-shaped domain and its Couinaud planes (:mod:`~sim.anatomy.domain`);
2. tumours and the perfusion demand per region (:mod:`~sim.anatomy.perfusion`);
3. tissue points, uniformly sampled with the scenario's seed, enough that the
   territories of the most densely perfused tissue hold about
   :data:`POINTS_PER_TERMINAL` points each;
4. the pedicle subtrees by recursive bisection (:mod:`~sim.anatomy.subtrees`),
   their design flows and Murray radii;
5. the named trunk with its Michels variant (:mod:`~sim.anatomy.trunk`);
6. the compartments (:mod:`~sim.anatomy.compartments`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..limits import SizeEstimate, check_size, count
from ..network import CompiledLiver, PedicleForest, TissuePoints
from ..scenario import Scenario, ScenarioError, check_catheter_vessel, require_scenario
from ..units import MM_M, UM_M, ml_min_to_m3s, mmhg_to_pa
from .compartments import assemble_compartments, peribiliary_nodes, tissue_demand
from .domain import LIVER_DENSITY_KG_M3, LiverDomain, SegmentPlanes, fit_segment_planes, liver_domain, regular_grid, sample_points
from .murray import PORTAL_MURRAY_EXPONENT, MurraySizing, arterial_anchor_flow
from .perfusion import Perfusion, Tumours, perfusion_table, place_tumours
from .subtrees import DESIGN_FLOW_FLOOR, MIN_LENGTH_DIAMETERS, design_flows, grow_subtrees, vessel_geometry
from .trunk import VESSELS, build_trunk

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Liver", "VesselRef", "build_liver", "check_catheter_on", "estimate_build", "POINTS_PER_TERMINAL", "MAX_TISSUE_POINTS"]

#: Tissue points per terminal territory in the most densely perfused tissue.
#: Model assumption: enough that a split can still balance demand at the last level;
#: normal-liver territories then hold proportionally more.
POINTS_PER_TERMINAL = 4
#: Fewest tissue points in a tumour's viable part and in a segment. Model assumption:
#: resolves a tumour's volume to about 3%.
MIN_POINTS_PER_REGION = 32
#: Cap on the number of tissue points (memory: about 70 bytes each while building).
#: Beyond it the hottest territories hold fewer points than POINTS_PER_TERMINAL.
MAX_TISSUE_POINTS = 30_000_000


#: Size estimate of a build (:func:`estimate_build`), calibrated on benchmarks/results/anatomy.json
#: (default scenario, one thread): terminals per (PHA radius / terminal radius)^g (leaves carry 1-2
#: terminal design flows, about 1 / 1.37 of the bound; as in benchmarks/bench_anatomy.py).
_TERMINALS_PER_BOUND = 1.0 / 1.37
#: Peak memory: the process before the build (imports, numba), bytes per tissue point while building,
#: bytes per terminal (two pedicle nodes, their compartments and kernel state). Fitted to the 1e5- and
#: 1e6-terminal builds (peak RSS 523 MB and 2345 MB, 16 points per terminal) with 70 bytes per point.
_BASE_MEMORY_BYTES = 3.2e8
_BYTES_PER_POINT = 70.0
_BYTES_PER_TERMINAL = 1000.0
#: Build time: 2.11 s at 1e5 terminals and 26.6 s at 1e6 (the same default scenario); a power law in the
#: work w = terminals + points / 16, w = 2.02e5 and 2.02e6 there.
_BUILD_S_REF, _BUILD_W_REF, _BUILD_POWER = 2.11, 2.02e5, math.log(26.6 / 2.11) / math.log(10.0)


#: Distance of an extrahepatic feeder's reservoir outside its tumour's surface, m
#: (schematic position, used only by plots).
_FEEDER_GAP_M = 0.02


class VesselRef(NamedTuple):
    """Where a vessel lives in the compiled arrays.

    Attributes
    ----------
    kind : str
        ``"trunk"`` (index into ``Trunk`` edges) or ``"pedicle"`` (index of the pedicle
        node whose incoming arterial vessel it is).
    index : int
    """

    kind: str
    index: int


@dataclass(frozen=True, eq=False)
class Liver:
    """A built liver: the scenario, its compiled arrays and the lookups users need.

    Attributes
    ----------
    scenario : Scenario
    compiled : CompiledLiver
        The arrays the kernels use (the simulation path needs nothing else).
    domain : LiverDomain
        The liver-shaped region.
    planes : SegmentPlanes
        The Couinaud planes (``planes.label(xyz)`` gives segments).
    tumours : Tumours
        Tumour spheres (centre, radius, necrotic core), m.
    perfusion : Perfusion
        Baseline perfusion per volume of normal liver and each tumour region, 1/s.
    art_sizing, por_sizing : MurraySizing
        Murray scaling of the arterial and portal trees.
    vessels : dict of str to int
        Named vessel -> trunk edge index.
    """

    scenario: Scenario
    compiled: CompiledLiver
    domain: LiverDomain
    planes: SegmentPlanes
    tumours: Tumours
    perfusion: Perfusion
    art_sizing: MurraySizing
    por_sizing: MurraySizing
    vessels: dict[str, int]

    def vessel(self, name: str) -> VesselRef:
        """Locate a named vessel (``"A5"``) or a synthetic one (``"#<n>"``: pedicle node n's vessel).

        Raises
        ------
        KeyError
            If the vessel does not exist in this anatomy.
        """
        if name.startswith("#") and name[1:].isdigit():
            n = int(name[1:])
            forest = self.compiled.forest
            if n >= forest.n_nodes or forest.parent[n] < 0:
                raise KeyError(f"no synthetic vessel {name!r}: allowed '#1'..'#{forest.n_nodes - 1}', "
                               "a pedicle node that is not a subtree root")
            return VesselRef("pedicle", n)
        if name not in self.vessels:
            raise KeyError(f"no vessel {name!r} in this anatomy (Michels type {self.scenario.anatomy.michels_type}); "
                           f"named vessels: {', '.join(self.vessels)}")
        return VesselRef("trunk", self.vessels[name])

    @cached_property
    def graph(self) -> "nx.DiGraph":
        """The liver as a networkx DiGraph (built on first access; see :func:`sim.anatomy.graph.to_graph`)."""
        from .graph import to_graph

        return to_graph(self.compiled)

    def to_graphml(self, path: str | Path) -> None:
        """Write :attr:`graph` to a GraphML file (see :func:`sim.anatomy.graph.write_graphml`)."""
        from .graph import write_graphml

        write_graphml(self.graph, path)


def _region_volumes(tumours: Tumours, grid) -> np.ndarray:
    """Estimated volume of every region from the grid, m^3 (used only to size the point cloud)."""
    region = tumours.region(grid.centres())
    return np.bincount(region, minlength=tumours.n_regions) * grid.spacing_m ** 3


def _point_count(volume: float, region_volume: np.ndarray, perfusion: Perfusion, stop_flow: float,
                 min_fraction: float) -> int:
    """Tissue points: POINTS_PER_TERMINAL per terminal of the hottest tissue, enough for every region and segment."""
    perfused = region_volume > 0.0
    hottest = float(perfusion.art[perfused].max()) if perfused.any() else float(perfusion.art[0])
    n = POINTS_PER_TERMINAL * volume * hottest / stop_flow
    viable = region_volume[1::2][region_volume[1::2] > 0.0]
    smallest = min([min_fraction * volume, *viable.tolist()])
    n = max(n, MIN_POINTS_PER_REGION * volume / smallest)
    return int(min(math.ceil(n), MAX_TISSUE_POINTS))


def _analytic_point_count(scenario: Scenario) -> tuple[int, float, str]:
    """Tissue points, terminal bound and the key driving the size, from the scenario alone (no grid).

    The same rule as :func:`_point_count`, with each tumour's volume taken as its whole
    sphere (no overlap, no clipping at the liver surface).
    """
    cfg, flow = scenario.liver, scenario.flow
    g = cfg.murray_exponent
    bound = (VESSELS["PHA"].diameter_mm * 1e3 / cfg.terminal_diameter_um) ** g
    volume = cfg.mass_kg / LIVER_DENSITY_KG_M3
    viable = [math.pi / 6.0 * (t.diameter_mm * MM_M) ** 3 * (1.0 - t.necrotic_core_fraction) for t in scenario.tumours]
    normal = max(volume - sum(math.pi / 6.0 * (t.diameter_mm * MM_M) ** 3 for t in scenario.tumours), 0.0)
    weighted = normal + sum(t.vascularity * v for t, v in zip(scenario.tumours, viable))
    if weighted <= 0.0:
        return 0, 0.0, "tumours"
    art = [flow.normal_arterial_fraction * (normal > 0.0)]
    for t, v in zip(scenario.tumours, viable):
        extra = t.extrahepatic.arterial_fraction if t.extrahepatic is not None else 0.0
        art.append(t.vascularity * t.arterial_fraction * (1.0 - extra) * (v > 0.0))
    total_art = flow.normal_arterial_fraction * normal + sum(a * v for a, v in zip(art[1:], viable))
    if total_art <= 0.0:
        return 0, bound, "liver.terminal_diameter_um"
    # an arterial demand above the anchor's cap enlarges the tree: more terminals (sim.anatomy.murray)
    q_total = ml_min_to_m3s(flow.total_flow_ml_min_kg * flow.body_mass_kg) * total_art / weighted
    bound *= q_total / arterial_anchor_flow(q_total, _healthy_arterial_flow(scenario), g, VESSELS["PHA"].diameter_mm)
    n_flow = POINTS_PER_TERMINAL * volume * max(art) / total_art * bound
    smallest = [min(cfg.segment_fractions.values()) * volume, *[v for v in viable if v > 0.0]]
    k = int(np.argmin(smallest))
    n_region = MIN_POINTS_PER_REGION * volume / smallest[k]
    key = "liver.terminal_diameter_um" if n_flow >= n_region else (
        "liver.segment_fractions" if k == 0 else f"tumours.{[i for i, v in enumerate(viable) if v > 0.0][k - 1]}"
                                                  ".diameter_mm")
    return int(min(math.ceil(max(n_flow, n_region)), MAX_TISSUE_POINTS)), bound, key


def estimate_build(scenario: Scenario) -> tuple[SizeEstimate, str]:
    """Estimated peak memory and time of :func:`build_liver`, from the scenario alone (microseconds).

    Terminals: about ``(PHA diameter / terminal diameter)^murray_exponent / 1.37``
    (times the arterial demand over the anchor's cap when it is above it,
    :func:`sim.anatomy.murray.arterial_anchor_flow`), at most one per tissue point;
    tissue points: the rule of the build (4 per terminal territory of the hottest tissue,
    at least 32 in every segment and tumour, at most
    :data:`MAX_TISSUE_POINTS`). Calibrated on ``benchmarks/results/anatomy.json``
    (1e5 terminals: 2.1 s and 523 MB peak; 1e6: 26.6 s and 2.35 GB).

    Returns
    -------
    SizeEstimate
    str
        The key that drives the size (``liver.terminal_diameter_um``, or a tiny
        tumour's ``tumours.<i>.diameter_mm``).

    Examples
    --------
    >>> from sim.scenario import Scenario
    >>> est, key = estimate_build(Scenario())
    >>> 1e5 < float(est.detail.split()[1]) < 2e5, key
    (True, 'liver.terminal_diameter_um')
    """
    points, bound, key = _analytic_point_count(scenario)
    terminals = min(_TERMINALS_PER_BOUND * bound, float(points))
    memory = _BASE_MEMORY_BYTES + _BYTES_PER_POINT * points + _BYTES_PER_TERMINAL * terminals
    work = terminals + points / 16.0
    seconds = _BUILD_S_REF * (work / _BUILD_W_REF) ** _BUILD_POWER
    return SizeEstimate("liver build", f"about {count(terminals)} terminals and {count(points)} tissue points",
                        memory, seconds), key


def check_build_size(scenario: Scenario, *, allow_large: bool | None = None, source: str = "") -> SizeEstimate:
    """Refuse (or warn about) a liver too large to build (see :mod:`sim.limits`).

    Raises
    ------
    SizeError
        Naming ``liver.terminal_diameter_um`` (or the tiny tumour that drives the size).
    """
    estimate, key = estimate_build(scenario)
    fix = "raise liver.terminal_diameter_um" if key == "liver.terminal_diameter_um" else f"change {key}"
    return check_size(estimate, path=key, fix=fix, source=source, allow_large=allow_large)


def check_catheter_on(scenario: Scenario, liver: Liver) -> None:
    """The catheter's vessel must exist in this anatomy (ScenarioError ``catheter.vessel``): a named one by the
    rule a scenario file is loaded with (its message lists the named arteries), a synthetic one on the built liver
    (``liver``, built for the scenario's anatomy; :func:`sim.run` checks the liver it is given)."""
    check_catheter_vessel(scenario)
    try:
        liver.vessel(scenario.catheter.vessel)
    except KeyError as exc:
        raise ScenarioError(exc.args[0], path="catheter.vessel") from None


def _feeders(scenario: Scenario, tumours: Tumours) -> list[tuple[str, np.ndarray] | None]:
    """Reservoir (name, schematic position outside the tumour's surface) of each extrahepatic feeder."""
    out: list[tuple[str, np.ndarray] | None] = []
    for t, tumour in enumerate(scenario.tumours):
        if tumour.extrahepatic is None:
            out.append(None)
            continue
        centre = tumours.centre_m[t]
        outward = centre / max(float(np.linalg.norm(centre)), 1e-9)
        out.append((f"extrahepatic_{tumour.name}", centre + outward * (tumours.radius_m[t] + _FEEDER_GAP_M)))
    return out


def _healthy_arterial_flow(scenario: Scenario) -> float:
    """Hepatic arterial demand of the same liver without tumours, m^3/s (the arterial Murray anchor's reference)."""
    flow = scenario.flow
    return ml_min_to_m3s(flow.total_flow_ml_min_kg * flow.body_mass_kg) * flow.normal_arterial_fraction


class _Tissue(NamedTuple):
    """The sampled parenchyma and what follows from it: demands and the arterial Murray anchor."""

    xyz: np.ndarray
    region: np.ndarray
    point_volume_m3: float
    perfusion: Perfusion
    art_sizing: MurraySizing
    stop_flow_m3s: float


def _sample_tissue(scenario: Scenario, domain: LiverDomain, tumours: Tumours, grid, rng) -> _Tissue:
    """Tissue points, their regions, the perfusion table and the arterial Murray anchor.

    Raises
    ------
    ScenarioError
        ``tumours.<i>.diameter_mm`` if a tumour holds no tissue point.
    """
    cfg = scenario.liver
    g = cfg.murray_exponent
    r_terminal = 0.5 * cfg.terminal_diameter_um * UM_M
    r_pha = 0.5 * VESSELS["PHA"].diameter_mm * MM_M
    grid_volume = _region_volumes(tumours, grid)
    estimate = perfusion_table(scenario, grid_volume)
    q_est = float(estimate.art @ grid_volume)
    q_anchor = arterial_anchor_flow(q_est, _healthy_arterial_flow(scenario), g, VESSELS["PHA"].diameter_mm)
    n_points = _point_count(domain.volume_m3, grid_volume, estimate, q_anchor * (r_terminal / r_pha) ** g,
                            min(cfg.segment_fractions.values()))
    xyz = sample_points(domain, n_points, rng)
    point_volume = domain.volume_m3 / n_points
    region = tumours.region(xyz)
    region_volume = np.bincount(region, minlength=tumours.n_regions) * point_volume
    for t, tumour in enumerate(scenario.tumours):
        if region_volume[1 + 2 * t] + region_volume[2 + 2 * t] == 0.0:
            raise ScenarioError(f"tumour {tumour.name!r} holds no tissue point: too small for this liver's "
                                "resolution, outside the liver, or covered by an earlier tumour",
                                path=f"tumours.{t}.diameter_mm")
    perfusion = perfusion_table(scenario, region_volume)
    art_sizing = MurraySizing(g, r_pha, arterial_anchor_flow(float(perfusion.art @ region_volume),
                                                             _healthy_arterial_flow(scenario), g,
                                                             VESSELS["PHA"].diameter_mm))
    return _Tissue(xyz, region, point_volume, perfusion, art_sizing, float(art_sizing.flow(r_terminal)))


def _design(topo, tissue: _Tissue, leaves: np.ndarray, demand) -> tuple[np.ndarray, np.ndarray]:
    """Arterial and portal design flows of every pedicle node (see :mod:`sim.anatomy.subtrees`)."""
    m = topo.parent.shape[0]
    art, por, por_floor = np.zeros(m), np.zeros(m), np.zeros(m)
    art[leaves], por[leaves] = demand.art, demand.por
    por_floor[leaves] = tissue.perfusion.por[0] * demand.counts.sum(axis=1) * tissue.point_volume_m3
    return (design_flows(topo, art, DESIGN_FLOW_FLOOR * tissue.stop_flow_m3s),
            design_flows(topo, por, por_floor))


def _forest(topo, layout, q_art: np.ndarray, q_por: np.ndarray, art_sizing: MurraySizing,
            por_sizing: MurraySizing) -> PedicleForest:
    """The pedicle forest's arrays (Murray radii from the design flows, generations from the trunk)."""
    art_radius, art_length = vessel_geometry(topo, q_art, art_sizing)
    por_radius, por_length = vessel_geometry(topo, q_por, por_sizing)
    trunk = layout.trunk
    root_gen = trunk.edge_generation[layout.segmental_edge_art]
    if not np.array_equal(root_gen, trunk.edge_generation[layout.segmental_edge_por]):
        raise AssertionError("arterial and portal segmental vessels must sit at the same generation")
    return PedicleForest(parent=topo.parent, root_nodes=topo.root_nodes, root_trunk_art=layout.root_art,
                         root_trunk_por=layout.root_por, xyz=topo.xyz, segment=topo.segment,
                         generation=(root_gen[topo.segment] + topo.depth).astype(np.int16),
                         art_radius_m=art_radius, art_length_m=art_length, por_radius_m=por_radius,
                         por_length_m=por_length)


def build_liver(scenario: Scenario, *, progress: bool = False, allow_large: bool | None = None,
                check_catheter: bool = True) -> Liver:
    """Build the liver of a scenario: anatomy, synthetic trees and compartments as arrays.

    Parameters
    ----------
    scenario : Scenario
        Uses ``liver``, ``anatomy``, ``tumours`` and ``flow``; checks that
        ``catheter.vessel`` exists in this anatomy.
    progress : bool, optional
        Show a progress bar over the build steps.
    allow_large : bool, optional
        Build even above the size limits (:mod:`sim.limits`; default: the
        :func:`sim.limits.allow_large` context, else False).
    check_catheter : bool, optional
        False for a liver shared by runs with other catheter positions (a sweep's or a comparison's anatomy
        group): the liver does not depend on the catheter, and each run checks its own
        (:func:`check_catheter_on`).

    Returns
    -------
    Liver

    Raises
    ------
    ScenarioError
        Anatomy-level bad input, naming the key path: a tumour centre outside the
        liver or outside its segment, a catheter vessel absent in this anatomy.
    SizeError
        The estimated memory or time (:func:`estimate_build`) is above the limits,
        before anything is allocated.

    Examples
    --------
    >>> from sim.scenario import Scenario
    >>> liver = build_liver(Scenario().with_updates({"liver.terminal_diameter_um": 400.0}))
    >>> liver.vessels["A5"] == liver.compiled.trunk.edge_index("A5")
    True
    """
    from ..progress import progress_bar

    require_scenario(scenario, "sim.build_liver")
    check_build_size(scenario, allow_large=allow_large)
    cfg = scenario.liver
    bar = progress_bar(total=5, desc="building liver", disable=not progress)
    rng = np.random.default_rng(cfg.seed)
    domain = liver_domain(cfg.mass_kg, cfg.shape)
    planes = fit_segment_planes(domain, cfg.segment_fractions)
    grid = regular_grid(domain)
    tumours = place_tumours(scenario, domain, planes, grid)
    tissue = _sample_tissue(scenario, domain, tumours, grid, rng)
    bar.update()

    topo = grow_subtrees(tissue.xyz, planes.label(tissue.xyz), tissue.perfusion.art[tissue.region]
                         * tissue.point_volume_m3, tissue.stop_flow_m3s, rng)
    region = tissue.region[topo.order]
    leaves = np.flatnonzero(topo.is_leaf).astype(np.int64)
    point_leaf = np.repeat(np.arange(leaves.shape[0]), topo.stop[leaves] - topo.start[leaves])
    demand = tissue_demand(point_leaf, region, leaves.shape[0], tumours.n_regions, tissue.perfusion,
                           tissue.point_volume_m3)
    bar.update()

    q_art, q_por = _design(topo, tissue, leaves, demand)
    roots = topo.root_nodes
    por_sizing = MurraySizing(PORTAL_MURRAY_EXPONENT, 0.5 * VESSELS["MPV"].diameter_mm * MM_M,
                              float(q_por[roots].sum()))
    layout = build_trunk(scenario.anatomy, scenario.flow, hilum=planes.hilum_m(domain),
                         root_centroid=topo.xyz[roots], root_q_art=q_art[roots], root_q_por=q_por[roots],
                         art_sizing=tissue.art_sizing, por_sizing=por_sizing,
                         feeders=_feeders(scenario, tumours), min_length_diameters=MIN_LENGTH_DIAMETERS)
    trunk = layout.trunk
    forest = _forest(topo, layout, q_art, q_por, tissue.art_sizing, por_sizing)
    bar.update()

    # peribiliary compartments: a root counts with its named segmental artery
    bile_radius, bile_length = forest.art_radius_m.copy(), forest.art_length_m.copy()
    bile_radius[roots] = trunk.edge_radius_m[layout.segmental_edge_art]
    bile_length[roots] = trunk.edge_length_m[layout.segmental_edge_art]
    bile_nodes, bile_volume = peribiliary_nodes(~topo.is_leaf, bile_radius, bile_length)
    compartments = assemble_compartments(leaves, demand, tissue.point_volume_m3, layout.feeder_node, bile_nodes,
                                         bile_volume, float(tissue.perfusion.art[0]))
    points = TissuePoints(xyz=topo.points_xyz, segment=topo.segment[leaves][point_leaf],
                          compartment=point_leaf.astype(np.int64),
                          tumour_id=np.where(region > 0, (region - 1) // 2, -1).astype(np.int64),
                          volume_m3=tissue.point_volume_m3,
                          necrotic=(region > 0) & (region % 2 == 0))  # regions: 0 normal, 2t+1 viable, 2t+2 core
    compiled = CompiledLiver(trunk=trunk, forest=forest, compartments=compartments, points=points,
                             hepatic_vein_pressure_pa=mmhg_to_pa(scenario.flow.hepatic_vein_pressure_mmHg))
    bar.update()

    vessels = {name: i for i, name in enumerate(trunk.edge_names) if name in VESSELS}
    liver = Liver(scenario=scenario, compiled=compiled, domain=domain, planes=planes, tumours=tumours,
                  perfusion=tissue.perfusion, art_sizing=tissue.art_sizing, por_sizing=por_sizing,
                  vessels=vessels)
    if check_catheter:
        check_catheter_on(scenario, liver)
    bar.update()
    bar.close()
    return liver
