"""What the explorer shows, computed from a scenario: plain arrays and tables, no drawing.

Four steps, each cheap to repeat when the liver is cached (:mod:`sim.explore.cache`):

* :func:`liver_scene`: the liver view of a liver and a catheter position before any
  particle (AP projection in mm: Couinaud outlines, tumours, the drawn arteries with
  their native flow and the id that places the catheter in each, named-vessel labels,
  the catheter tip).
* :func:`simulate`: :func:`sim.run` on the cached liver, the patient-selection verdict.
* :func:`run_scene`: after a run, the final native flow of each drawn artery and where
  each particle stopped, in injection order (the replay).
* :func:`angiograms`: the virtual DSA before and after the run with one injection, view
  and clock (:mod:`sim.angiography`).

Projection as in :mod:`sim.angiography`: x to the patient's left, z cranial; shown with
the patient's right on the left of the image.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import angiography as ag
from ..kernels.transport import FATE_COMPARTMENT, FATE_TRUNK, FATE_VESSEL
from ..network import EDGE_ARTERY
from ..procedure import VesselWatch
from ..scenario import NAMED_ARTERIES, SEGMENTS, Scenario
from ..selection import Verdict, assess_patient
from ..units import FRENCH_M, ML_MIN_M3S

__all__ = ["DRAW_MIN_DIAMETER_UM", "LiverScene", "RunScene", "Simulation", "Angiograms", "liver_scene", "simulate",
           "run_scene", "angiograms", "nearest_vessel", "clicked_vessel", "opacified", "catheter_id", "scene_key",
           "warm_up_kernels", "drawn_watch"]

#: Narrowest artery drawn (and clickable) in the liver view, um. Model assumption: a few thousand
#: segments keep the page light; 300 um arteries are still well within the segments.
DRAW_MIN_DIAMETER_UM = 300.0
#: Most lodged particles sent to the page (an even sample in injection order).
MAX_PARTICLES_SHOWN = 4000
#: Tissue points per segment used for its outline (convex hull).
_HULL_POINTS = 4000
#: Couinaud outlines of each liver in use (:func:`_outlines`), dropped with the liver.
_OUTLINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: Suffix of the distal part of a trunk vessel split by the catheter tip (sim.flow.catheter).
_DISTAL = "_distal"


def _mm(xyz: np.ndarray) -> np.ndarray:
    """AP projection (x, z) in mm of positions in m."""
    return np.asarray(xyz)[..., [0, 2]] * 1e3


def catheter_id(name: str) -> str:
    """The ``catheter.vessel`` value of a drawn vessel's name (the distal part of a split vessel is the vessel)."""
    return name.removesuffix(_DISTAL)


@dataclass(frozen=True)
class LiverScene:
    """The liver view before the run (all lengths mm, flows mL/min).

    Attributes
    ----------
    extent : tuple of float
        (left, right, bottom, top) of the field of view (the DSA's), mm.
    outlines : list of (str, ndarray, ndarray)
        Couinaud segment name, hull x and z.
    tumours : pandas.DataFrame
        name, x, z, radius.
    vessels : pandas.DataFrame
        One row per drawn artery: x0, z0, x1, z1, diameter_um, flow (native, pre-procedure,
        absolute), vessel (its catheter id: a named artery or ``#<n>``), index (into the
        arterial network's vessels).
    labels : pandas.DataFrame
        Named arteries in view, widest first: name, x, z (the preferred anchor), diameter_um and ``along``
        (the anchors inside the view along the artery, in order of preference, a tuple of (x, z); the
        liver view places each label at the first that keeps it clear of the others).
    tip : tuple of float
        Catheter tip (x, z).
    vessel : str
        ``catheter.vessel``.
    flow : LiverFlow
        The baseline flow model with the catheter placed (:func:`sim.angiography.baseline_flow`).
    native : FlowState
        Its native solution (:func:`sim.angiography.solved_state` at rate 0), shared with the DSA before.
    network : ArterialNetwork
    liver : Liver
        The liver ``flow`` was built on.
    """

    extent: tuple[float, float, float, float]
    outlines: list
    tumours: pd.DataFrame
    vessels: pd.DataFrame
    labels: pd.DataFrame
    tip: tuple[float, float]
    vessel: str
    flow: object = field(repr=False)
    native: object = field(repr=False)
    network: object = field(repr=False)
    liver: object = field(repr=False)


def _outlines(liver) -> list:
    """Couinaud outlines of a liver: computed once per liver (they depend on its tissue points only)."""
    outlines = _OUTLINES.get(liver)
    if outlines is None:
        outlines = _OUTLINES[liver] = _segment_hulls(liver)
    return outlines


def _segment_hulls(liver) -> list:
    from scipy.spatial import ConvexHull

    points = liver.compiled.points
    out = []
    for s, name in enumerate(SEGMENTS):
        xz = _mm(points.xyz[points.segment == s])
        if xz.shape[0] < 3:
            continue
        xz = xz[:: max(1, xz.shape[0] // _HULL_POINTS)]
        hull = xz[ConvexHull(xz).vertices]
        out.append((name, np.append(hull[:, 0], hull[0, 0]), np.append(hull[:, 1], hull[0, 1])))
    return out


def _named_and_drawn(liver) -> tuple[np.ndarray, np.ndarray]:
    """Of the catheter-placed ``liver``'s arterial network (:func:`sim.angiography.arterial_network`): which
    vessels are named arteries (bool per vessel), and the vessels drawn, narrowest first (indices)."""
    net = ag.arterial_network(liver)
    nt = net.trunk_vessels.size
    named = np.zeros(net.vessel_diameter_m.size, bool)
    named[:nt] = [catheter_id(liver.trunk.edge_names[e]) in NAMED_ARTERIES for e in net.trunk_vessels]
    drawn = np.flatnonzero(named | ((net.vessel_diameter_m >= DRAW_MIN_DIAMETER_UM * 1e-6)
                                    & (np.arange(named.size) >= nt)))
    return named, drawn[np.argsort(net.vessel_diameter_m[drawn], kind="stable")]


def drawn_watch(liver) -> VesselWatch:
    """The arteries the liver view draws, as the run's :class:`sim.procedure.VesselWatch` (its trunk vessels,
    then its pedicle vessels, each in drawing order): ``sim.run(..., watch=drawn_watch)`` records their native
    flow at every time-series row, which the replay colours them by (:func:`run_scene`)."""
    net = ag.arterial_network(liver)
    nt = net.trunk_vessels.size
    drawn = _named_and_drawn(liver)[1]
    return VesselWatch(trunk_edges=net.trunk_vessels[drawn[drawn < nt]],
                       pedicle_nodes=net.pedicle_vessels[drawn[drawn >= nt] - nt])


#: Where along a named artery its label goes, in order of preference (fractions of its length from its start).
_LABEL_AT = (0.6, 0.5, 0.4, 0.7, 0.3, 0.2, 0.8, 0.1, 0.9)


def liver_scene(liver, scenario: Scenario) -> LiverScene:
    """The liver view of ``liver`` with the catheter of ``scenario`` in place, before the run.

    Parameters
    ----------
    liver : Liver
        Built for ``scenario``'s anatomy.
    scenario : Scenario
        Its catheter, portal vein thrombosis and flow sections set the flow shown.
    """
    from dataclasses import replace

    flow = ag.baseline_flow(replace(liver, scenario=scenario))
    net = ag.arterial_network(flow.liver)
    trunk, forest = flow.liver.trunk, flow.liver.forest
    native = ag.solved_state(flow, 0.0, like=flow.state)  # flow.state: as its full solve left it
    q = net.vessel_flows(native)
    view = ag.View.around(flow.liver)
    left, right, bottom, top = (1e3 * v for v in view.extent)
    nt = net.trunk_vessels.size
    names = [trunk.edge_names[e] for e in net.trunk_vessels]  # trunk arteries; a pedicle vessel k is '#<node>'
    named, drawn = _named_and_drawn(flow.liver)
    start, end = _mm(net.xyz[net.vessel_up[drawn]]), _mm(net.xyz[net.vessel_down[drawn]])
    vessels = pd.DataFrame({"x0": start[:, 0], "z0": start[:, 1], "x1": end[:, 0], "z1": end[:, 1],
                            "diameter_um": net.vessel_diameter_m[drawn] * 1e6, "flow": np.abs(q[drawn]) / ML_MIN_M3S,
                            "vessel": [catheter_id(names[k]) if k < nt else f"#{net.pedicle_vessels[k - nt]}"
                                       for k in drawn], "index": drawn})
    labels = []
    for e in np.flatnonzero(named):
        name = names[e]
        if name.endswith(_DISTAL) or trunk.edge_kind[net.trunk_vessels[e]] != EDGE_ARTERY:
            continue
        a, b = _mm(net.xyz[net.vessel_up[e]]), _mm(net.xyz[net.vessel_down[e]])
        # 60% along the vessel first, then other points of it inside the view (the SMA leaves the view's bottom: its
        # stub in the view had lost its label, review 36)
        along = tuple((float(p[0]), float(p[1])) for p in (a + t * (b - a) for t in _LABEL_AT)
                      if left <= p[0] <= right and bottom <= p[1] <= top)
        if along:
            labels.append((name, along[0][0], along[0][1], float(net.vessel_diameter_m[e] * 1e6), along))
    labels.sort(key=lambda label: -label[3])
    placement = flow.catheter
    tip = trunk.node_xyz[placement.tip_trunk_node] if placement.tip_trunk_node >= 0 else \
        forest.xyz[placement.tip_pedicle_node]
    tumours = liver.tumours
    centre = _mm(tumours.centre_m).reshape(-1, 2)
    return LiverScene(
        extent=(left, right, bottom, top), outlines=_outlines(liver),
        tumours=pd.DataFrame({"name": list(tumours.names), "x": centre[:, 0], "z": centre[:, 1],
                              "radius": tumours.radius_m * 1e3}),
        vessels=vessels, labels=pd.DataFrame(labels, columns=["name", "x", "z", "diameter_um", "along"]),
        tip=tuple(float(v) for v in _mm(tip)), vessel=scenario.catheter.vessel, flow=flow, native=native, network=net,
        liver=liver)


def nearest_vessel(scene: LiverScene, x: float, z: float, *, tolerance_mm: float = 4.0,
                   wider_than_um: float = 0.0, among: frozenset[str] | None = None) -> str | None:
    """The catheter id of the drawn artery nearest to (x, z) mm in projection, None if none within ``tolerance_mm``.

    Only arteries wider than ``wider_than_um`` count, and only those in ``among`` (catheter ids) when
    given. Among arteries at nearly the same distance (within 0.5 mm) the widest wins, so that a click
    on a named artery does not catch a small branch drawn over it.
    """
    v = scene.vessels[scene.vessels["diameter_um"] > wider_than_um]
    if among is not None:
        v = v[v["vessel"].isin(among)]
    a = v[["x0", "z0"]].to_numpy()
    d = v[["x1", "z1"]].to_numpy() - a
    p = np.array([x, z])
    length2 = np.maximum((d**2).sum(axis=1), 1e-12)
    t = np.clip(((p - a) * d).sum(axis=1) / length2, 0.0, 1.0)
    dist = np.hypot(*(a + t[:, None] * d - p).T)
    if dist.size == 0 or dist.min() > tolerance_mm:
        return None
    close = np.flatnonzero(dist <= dist.min() + 0.5)
    return str(v["vessel"].iloc[close[np.argmax(v["diameter_um"].to_numpy()[close])]])


def clicked_vessel(scene: LiverScene, x: float, z: float, outer_diameter_fr: float,
                   among: frozenset[str] | None = None) -> tuple[str | None, str]:
    """Where a click at (x, z) mm places a catheter of ``outer_diameter_fr``, and a line that says so.

    The nearest drawn artery wider than the catheter (:func:`nearest_vessel`; only those in ``among``
    when given, e.g. the arteries an angiogram shows): in one no wider the catheter wedges and nothing
    flows past its tip (:mod:`sim.flow.catheter`), so a run from there would be refused. None (and
    why) when there is no such artery within reach of the click.
    """
    width_um = outer_diameter_fr * FRENCH_M * 1e6
    vessel = nearest_vessel(scene, x, z, wider_than_um=width_um, among=among)
    if vessel is not None:
        return vessel, f"Catheter placed in **{vessel}**{vessel_words(scene, vessel)}"
    narrow = nearest_vessel(scene, x, z, among=among)
    if narrow is None:
        return None, "No artery there: click on a drawn artery."
    diameter = float(scene.vessels.loc[scene.vessels["vessel"] == narrow, "diameter_um"].max())
    return None, (f"**{narrow}** ({diameter:.0f} um) is no wider than the {outer_diameter_fr:g} Fr catheter "
                  f"({width_um:.0f} um): the catheter would wedge there; click a wider artery.")


def vessel_words(scene: LiverScene, vessel: str) -> str:
    """What a synthetic vessel '#<n>' is, for the line that places the catheter in it: its diameter and segment
    (review 51: "#161149" alone told the trainee nothing); "" for a named artery."""
    if not vessel.startswith("#"):
        return ""
    diameter = float(scene.vessels.loc[scene.vessels["vessel"] == vessel, "diameter_um"].max())
    segment = SEGMENTS[int(scene.flow.liver.forest.segment[int(vessel[1:])])]
    return f" (a {diameter:.0f} um branch in segment {segment})"


@dataclass(frozen=True)
class Simulation:
    """A run and its patient-selection verdict."""

    scenario: Scenario
    result: object
    verdict: Verdict
    liver_cached: bool


def simulate(scenario: Scenario, cache, *, stage=None) -> Simulation:
    """Run ``scenario`` on its cached liver (built and cached the first time).

    Parameters
    ----------
    scenario : Scenario
    cache : LiverCache
    stage : callable, optional
        ``stage(text)`` is called before each step (progress on the page).
    """
    from ..simulation import run

    stage = stage or (lambda text: None)
    cached = cache.cached(scenario)
    stage("loading the liver" if cached else "building the liver (first time for this anatomy)")
    liver = cache.get(scenario)
    stage("running the procedure")
    result = run(scenario, liver=liver, progress=False, watch=drawn_watch)
    return Simulation(scenario=scenario, result=result, verdict=assess_patient(scenario), liver_cached=cached)


#: Whether :func:`warm_up_kernels` ran in this process.
_KERNELS_WARM = False


def warm_up_kernels() -> bool:
    """Compile the procedure's Numba kernels, or load them from Numba's on-disk cache, with a run on a small
    synthetic liver (300 terminals), once per process; True if it ran now.

    The page queues it behind its first liver (:meth:`sim.explore.app.Explorer.load`): after an
    installation the first run would otherwise wait about 25 s for the compilation (27 s on a
    fresh clone, issue 18's review), while the trainee is still placing the catheter. With the
    kernels cached it costs about 1 s of the worker's time, once.
    """
    global _KERNELS_WARM
    if _KERNELS_WARM:
        return False
    from ..simulation import run
    from ..testing import random_liver

    small = random_liver(300, rng=1)
    run(small.scenario, liver=small, progress=False)
    _KERNELS_WARM = True
    return True


@dataclass(frozen=True)
class RunScene:
    """The liver view after a run.

    Attributes
    ----------
    flow_after : ndarray of float64
        Native flow of each drawn artery of the scene at the end, mL/min.
    flow_rows : ndarray of float64 or None
        The same at each time-series row (rows x drawn arteries, mL/min), recorded by the run
        (:func:`drawn_watch`); None when the run has none (the batched Y-90 delivery).
    particles : pandas.DataFrame
        Lodged particles in injection order (an even sample): x, z (mm), particle (its number, from 1),
        volume_ml (suspension injected when it left the catheter, mL; interpolated in the time series).
    final : LiverFlow
    native : FlowState
        Its native solution, shared with the DSA after.
    """

    flow_after: np.ndarray
    flow_rows: np.ndarray | None
    particles: pd.DataFrame
    final: object = field(repr=False)
    native: object = field(default=None, repr=False)


def run_scene(scene: LiverScene, sim: Simulation) -> RunScene:
    """Final flows of the drawn arteries and the lodged particles of ``sim`` on the view ``scene``.

    When the run is of the scene's liver and :func:`scene_key` (as on the page), its final flow starts from a copy
    of the scene's baseline flow (the same values as building it again).
    """
    result = sim.result
    same = result.liver is scene.liver and scene_key(result.scenario) == scene_key(scene.flow.scenario)
    final = ag.final_flow(result, baseline=scene.flow if same else None)
    native = ag.solved_state(final, 0.0, like=final.state)  # final.state: as its full solve left it
    q = scene.network.vessel_flows(native)
    number, xyz = _shown_particles(scene.flow.liver, result.state["particle_fate"], result.state["particle_where"])
    ts = result.timeseries
    volume = np.interp(number + 1, ts["particles"], ts["suspension_volume_ml"]) if len(ts) else np.zeros(number.size)
    xz = _mm(xyz).reshape(-1, 2)
    particles = pd.DataFrame({"x": xz[:, 0], "z": xz[:, 1], "particle": number + 1, "volume_ml": volume})
    drawn = scene.vessels["index"].to_numpy()
    watched = result.state.get("watched_flow_m3s")
    rows = None
    if same and watched is not None and watched.shape == (len(ts), drawn.size):
        nt = scene.network.trunk_vessels.size
        recorded = np.concatenate([drawn[drawn < nt], drawn[drawn >= nt]])  # drawn_watch's column order
        order = np.argsort(recorded)
        rows = np.abs(watched[:, order[np.searchsorted(recorded[order], drawn)]]) / ML_MIN_M3S
    return RunScene(flow_after=np.abs(q[drawn]) / ML_MIN_M3S, flow_rows=rows, particles=particles, final=final,
                    native=native)


def _shown_particles(liver, fate: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The particles the replay shows and where they stopped in ``liver`` (of the run's ``particle_fate`` and
    ``particle_where``): of those placed at a finite point (:func:`_lodged_xyz`), an even sample in injection order,
    at most ``MAX_PARTICLES_SHOWN``; their numbers (from 0) and places, m. Only the sample is placed when every node
    of the liver is at a finite point (then so is every particle that lodged)."""
    number = np.flatnonzero((fate == FATE_VESSEL) | (fate == FATE_COMPARTMENT) | (fate == FATE_TRUNK))
    if not (np.isfinite(liver.forest.xyz).all() and np.isfinite(liver.trunk.node_xyz).all()):
        number = number[np.isfinite(_lodged_xyz(liver, fate[number], where[number])[:, 0])]
    if number.size:
        number = number[np.unique(np.linspace(0, number.size - 1, min(number.size, MAX_PARTICLES_SHOWN)).astype(int))]
    return number, _lodged_xyz(liver, fate[number], where[number])


def _lodged_xyz(liver, fate: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Where particles stopped in ``liver`` (of their ``particle_fate`` and ``particle_where``), m, shape (n, 3): the
    pedicle node of a vessel or compartment, the middle of a trunk edge; NaN for a particle that did not lodge."""
    trunk, forest, comps = liver.trunk, liver.forest, liver.compartments
    xyz = np.full((fate.size, 3), np.nan)
    lodged = fate == FATE_VESSEL
    xyz[lodged] = forest.xyz[where[lodged]]
    lodged = fate == FATE_COMPARTMENT
    xyz[lodged] = forest.xyz[comps.node[where[lodged]]]
    lodged = fate == FATE_TRUNK
    conns = np.asarray(trunk.edge_conns)[where[lodged]]
    xyz[lodged] = 0.5 * (trunk.node_xyz[conns[:, 0]] + trunk.node_xyz[conns[:, 1]])
    return xyz


@dataclass(frozen=True)
class Angiograms:
    """Virtual DSA before and after a run with one injection, view and clock."""

    before: ag.Angiogram
    after: ag.Angiogram | None
    phases: dict[str, float]
    #: The DSA before's frames made so far (phase -> opacity), shared with the angiograms that reuse ``before``.
    before_frames: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def frames(self, phase: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Opacity (0-1, float32, rows along z) before and after at the named phase (arterial, capillary, venous).

        The DSA before's frame of a phase is made once (the page shows it after a click, then after the run).
        """
        t = self.phases[phase]
        if phase not in self.before_frames:
            frame = ag.opacity(self.before.frame(t)).astype(np.float32)
            frame.setflags(write=False)  # shared by every figure that shows it
            self.before_frames[phase] = frame
        after = None if self.after is None else ag.opacity(self.after.frame(t)).astype(np.float32)
        return self.before_frames[phase], after


def opacified(scene: LiverScene, dsa: Angiograms) -> frozenset[str]:
    """Catheter ids of the drawn arteries the contrast of ``dsa``'s angiogram before reaches (a finite arrival of
    its front): what an angiogram from the scene's catheter shows."""
    front = dsa.before.transit.front_in_s[scene.vessels["index"].to_numpy()]
    return frozenset(scene.vessels["vessel"][np.isfinite(front)])


def scene_key(scenario: Scenario) -> str:
    """What a :class:`LiverScene` and its DSA before depend on: the anatomy, flow, PVT and catheter sections and the
    coils placed before the injection (JSON)."""
    import json

    sections = {"liver", "anatomy", "tumours", "flow", "portal", "catheter"}
    coils = {"procedure": {"coils", "coil_residual_flow_fraction"}}
    return json.dumps(scenario.model_dump(mode="json", include={**{k: True for k in sections}, **coils}), sort_keys=True)


def angiograms(scene: LiverScene, after: RunScene | None = None, *, previous: Angiograms | None = None) -> Angiograms:
    """The DSA of the scene's catheter position before, and after a run (``after``: its :func:`run_scene`).

    Each is injected as ``embosim run`` injects its angiograms (:func:`sim.angiography.default_injection`): the
    run after, matched to the baseline's native tip flow, no faster than the embolised bed takes, so its
    rate and reflux are the summary's ``angiogram_rate_final_ml_s`` and ``angiogram_reflux_ml``. The view and
    the clock (arterial, capillary and venous phase times) are the baseline's (:func:`sim.angiography.phase_times`).
    ``previous``: angiograms of the same scene (:func:`scene_key`), whose DSA before and clock are reused.
    """
    if previous is None:
        injection = ag.default_injection(scene.flow, response=ag.tip_response(scene.flow, native=scene.native))
        before = ag.virtual_angiogram(scene.flow, injection, native=scene.native)
        previous = Angiograms(before=before, after=None, phases=ag.phase_times(before))
    if after is None:
        return previous
    injection = ag.default_injection(after.final, reference_tip_flow_m3s=ag.proximal_flow(scene.native, scene.flow.catheter),
                                     response=ag.tip_response(after.final, native=after.native))
    dsa = ag.virtual_angiogram(after.final, injection, view=previous.before.view, native=after.native)
    return Angiograms(before=previous.before, after=dsa, phases=previous.phases, before_frames=previous.before_frames)
