"""Virtual digital subtraction angiography (DSA): contrast transit, blush and washout as arrays.

Contrast is injected at the catheter tip for ``Injection.duration_s`` at
``Injection.rate_m3s`` and followed through the arterial tree, the tissue
compartments and out to the hepatic veins. Everything is computed from one flow
state of the liver (:class:`~sim.flow.model.LiverFlow`): the pre-procedure state
(:func:`baseline_flow`) or the state left by a run (:func:`final_flow`). This
module returns arrays; drawing them is :mod:`sim.figures`' job.

Model
-----
Two flow fields of the same network are solved: *injecting* (the catheter adds
the contrast injection as a flow source at the tip, so the bolus is pushed in,
and may reflux into the vessel behind the tip and its siblings when the bed
downstream cannot take it) and *native* (injection off: what washes the bolus
out).

* **Concentration.** Blood and contrast mix completely at every node of the
  injecting field: a node's contrast concentration is its inflow-weighted mean,
  c_v sum(q_in) = sum(q_in c_u) + injection, with concentration 1 for the
  injected contrast and 0 for blood entering from anywhere else (arterial roots:
  the aorta dilutes any reflux to nothing). At the tip this is injection rate /
  (injection + native inflow): the dilution of the contrast by the vessel's flow.
  Flow runs down the pressure, so the flow-directed graph is acyclic and the
  balance is solved node by node in topological order (:mod:`sim.kernels.contrast`).
* **Transit.** Plug flow: a vessel of lumen volume V = pi r^2 L carrying flow q
  fills in V / |q| (length / mean velocity, velocity = q / (pi r^2)). The front
  reaches each node at the shortest cumulative transit time from the tip through
  the injecting field (the values of Dijkstra's algorithm, found in one pass in
  topological order of the flow-directed graph); the tail (the first
  clean blood after the injection stops) follows at ``duration_s`` plus the
  shortest transit through the native field, and where the native field carries
  no flow the contrast stands.
* **Blush.** Each tissue compartment is a well-mixed blood pool of volume
  ``BLOOD_VOLUME_FRACTION`` x its viable volume. Its inflow concentration is the
  arterial concentration diluted by the portal (and extrahepatic) inflow,
  c_art q_art / (q_art + q_por + q_extra); it fills from the front's arrival at
  its feeding node with the mean transit time V_blood / inflow of the injecting
  field, and empties after the tail's arrival with that of the native field (the
  venous phase). A compartment whose arterial inflow is gone gets no contrast;
  one whose outflow stopped keeps it (staining).
* **Image.** Anteroposterior projection onto (x, z), the patient's right on the
  image's left (radiological convention). A pixel's value is the projected
  thickness of undiluted contrast along the ray, m: the iodine seen by the
  detector. A vessel adds its filled lumen volume x concentration along its
  projected course (its depth is its diameter), blurred across its width; the
  parenchyma adds blood volume x concentration of the compartment each tissue
  point belongs to, blurred by half the points' spacing (at least the detector's
  blur) so that the finite sample of points does not show as noise.
  :func:`opacity` maps thickness to a display grey level.

Injection
---------
The contrast run is injected through the scenario's catheter (``catheter.kind``,
``catheter.outer_diameter_fr``), never faster than its lumen delivers at its rated
pressure (:func:`catheter_limit_m3s`, :mod:`sim.catheters`). Unless
``catheter.angiogram_rate_ml_s`` sets the rate, the operator matches the baseline run
to the vessel's native flow (``RATE_TO_FLOW``) and injects a later run (end of
embolisation) no faster than that, nor than the bed downstream of the tip takes
(:func:`bed_acceptance_m3s`).

* **Bed acceptance.** Model assumption: the pressure available to push contrast into
  the bed is the arterial pressure behind the tip; the bed takes the injection for as
  long as the flow in the catheterised vessel behind the tip is still antegrade. The
  network is linear (conductances are fixed during a run), so that flow falls linearly
  with the injection rate, q_prox(r) = q_prox(0) - k r, and the bed takes
  r* = q_prox(0) / k, found from two solves.
* **Reflux.** Above r* the injection reverses the flow behind the tip: blood and
  contrast at the tip's concentration leave backwards at -q_prox(r) (the excess
  refluxes into the vessel behind the tip, its siblings and, through the root, the
  aorta). :attr:`ContrastTransit.reflux_ml` is that contrast volume over the injection;
  the same injecting field draws the contrast in the image, so the number and the
  picture agree.

Not modelled: pulsatility and laminar dispersion of the bolus (the front is
sharp), contrast viscosity, hepatic veins as drawn vessels (the venous phase is
the parenchymal washout), and peribiliary plexus compartments in the image (no
tissue points).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .catheters import Lumen, lumen_for, max_rate_m3s
from .coils import apply_coils
from .fluoroscopy import DISPLAY_THICKNESS_M, opacity, phase_at  # display rules, re-exported here
from .keep import LOCK, kept_for
from .kernels import contrast, twoport
from .lipiodol import reapply_oil
from .network import CompiledLiver
from .procedure import apply_load_record
from .units import ML_M3

__all__ = [
    "BLOOD_VOLUME_FRACTION",
    "DETECTOR_BLUR_M",
    "DISPLAY_THICKNESS_M",
    "INJECTION_DURATION_S",
    "MIN_DIAMETER_UM",
    "PIXEL_M",
    "RATE_TO_FLOW",
    "Angiogram",
    "ArterialNetwork",
    "ContrastTransit",
    "Injection",
    "View",
    "arterial_network",
    "baseline_flow",
    "bed_acceptance_m3s",
    "catheter_limit_m3s",
    "catheter_lumen",
    "compare_angiograms",
    "contrast_readouts",
    "contrast_transit",
    "default_injection",
    "final_flow",
    "injection_reflux_m3s",
    "native_tip_flow",
    "opacity",
    "phase_at",
    "phase_times",
    "proximal_flow",
    "run_angiograms",
    "run_injections",
    "run_liver",
    "solved_state",
    "virtual_angiogram",
]

#: Blood volume per viable tissue volume of every compartment (dimensionless). Model assumption:
#: hepatic blood volume of about 0.15-0.25 mL/mL measured by CT perfusion (unverified); with the
#: model's perfusion it gives parenchymal mean transit times of the order of 10-20 s.
BLOOD_VOLUME_FRACTION = 0.2
#: Contrast injection time, s. Model assumption: a selective hepatic DSA run injects for 2-4 s.
INJECTION_DURATION_S = 3.0
#: Contrast injection rate of the baseline run relative to the native flow of the catheterised
#: vessel (dimensionless). Model assumption: the operator matches the injection to the vessel's
#: flow (a PHA takes about 4-5 mL/s, a segmental artery under 1 mL/s; hepatic runs of 1.0-2.5 mL/s
#: [Meram2020HepaticDSA]), within the catheter's limit; later runs no faster (see the module notes).
RATE_TO_FLOW = 1.0
#: Slowest injection of a run, m^3/s. Model assumption: a gentle hand puff (about 0.05 mL/s, a
#: 1 mL syringe over 20 s) is the least an operator injects to see the vessel; a bed that takes
#: less (no antegrade flow left) refluxes it.
MIN_RATE_M3S = 0.05 * ML_M3
#: Pixel size of the virtual detector, m.
PIXEL_M = 0.5e-3
#: Gaussian blur (standard deviation) of the detector, m.
DETECTOR_BLUR_M = 0.4e-3
#: Vessels narrower than this are not drawn as lines in the image, um (their territory still
#: blushes through the parenchyma; their own lumen holds a negligible share of the contrast).
MIN_DIAMETER_UM = 100.0
#: Upper bounds of the blur classes of vessels, in pixels of Gaussian standard deviation.
_BLUR_CLASSES_PX = (1.0, 2.0, 4.0, np.inf)
#: Time after the end of the injection searched for the venous phase, and its time step, s.
_PHASE_WINDOW_S, _PHASE_STEP_S = 60.0, 0.25
#: Stretch of that window summed at a time (:func:`sim.kernels.contrast.blush_phases`), s: the venous phase of the
#: default scenario's runs comes at 21-25 s, within the first.
_PHASE_CHUNK_S = 30.0
#: Share of the opacified arterial lumen volume the front has crossed at the arterial phase (dimensionless).
_ARTERIAL_SHARE = 0.9
#: Bins of the front's crossing times searched for the arterial phase (:func:`sim.kernels.contrast.volume_quantile`).
_QUANTILE_BINS = 4096
#: Share of the drawn vessels above which one whose ends moved has all points placed again, not only its own.
_MOST_MOVED = 0.1
#: Margin of the field of view around the liver and its arteries, m.
_MARGIN_M = 5.0e-3


@dataclass(frozen=True)
class Injection:
    """A contrast injection at the catheter tip.

    Attributes
    ----------
    rate_m3s : float
        Injection rate, m^3/s (> 0).
    duration_s : float
        Injection time, s (> 0).

    Examples
    --------
    >>> Injection(rate_m3s=1e-6).volume_ml  # 1 mL/s for the default 3 s
    3.0
    """

    rate_m3s: float
    duration_s: float = INJECTION_DURATION_S

    def __post_init__(self) -> None:
        if not (self.rate_m3s > 0 and self.duration_s > 0):
            raise ValueError(f"injection rate {self.rate_m3s:g} m^3/s and duration {self.duration_s:g} s; "
                             "allowed: both > 0")

    @property
    def volume_ml(self) -> float:
        """Injected contrast volume, mL."""
        return self.rate_m3s * self.duration_s / ML_M3


# ---------------------------------------------------------------------------
# flow states


def baseline_flow(liver, scenario=None):
    """The pre-procedure flow model of a liver with the scenario's catheter in place.

    Parameters
    ----------
    liver : Liver
        As built by :func:`sim.build_liver`.
    scenario : Scenario, optional
        Places the catheter and sets the contrast run (a run's scenario on a shared
        liver); default the liver's own.

    Returns
    -------
    LiverFlow
        Calibrated, with thrombosis and buffer response, catheter placed, the scenario's coils
        (``procedure.coils``) placed as :func:`sim.run` places them before the first particle
        (:func:`sim.coils.apply_coils`); solved.
    """
    from .flow.model import LiverFlow

    scenario = liver.scenario if scenario is None else scenario
    flow = LiverFlow(liver.compiled, scenario, catheter=True)
    apply_coils(flow, scenario)
    return flow


def run_liver(result):
    """The liver of a run: ``result.liver``, rebuilt from ``result.scenario`` when the result does not carry it."""
    if result.liver is not None:
        return result.liver
    from .anatomy import build_liver

    return build_liver(result.scenario)


def start_flow(result, liver=None):
    """The flow model of a run's liver before its first particle: :func:`baseline_flow` with the embolic load
    the earlier sessions left (a later session, ``sim.run(..., prior=...)``; ``result.state["prior_load"]``);
    :func:`baseline_flow` itself for a first session. Its native compartment flows equal
    ``result.state["compartment_flow_baseline_m3s"]``: what the session's first angiogram shows. ``liver``: the
    run's (:func:`run_liver`) when already at hand."""
    return with_load(baseline_flow(run_liver(result) if liver is None else liver, result.scenario),
                     result.state.get("prior_load"))


def with_load(flow, record: dict | None):
    """``flow`` with the embolic load ``record`` (:func:`sim.procedure.load_record`) applied and solved, in a copy
    (its conductances and solution copied, ``flow`` unchanged); ``flow`` itself without a record."""
    if record is None:
        return flow
    loaded = copy.copy(flow)
    loaded.state = _scratch(flow.state, _CONDUCTANCES + _SOLVE_WRITES)
    apply_load_record(loaded.state, loaded.liver.trunk, record)
    return loaded


def final_flow(result, *, baseline=None):
    """The flow model of a run's liver at the end of the run (its occlusions applied).

    Parameters
    ----------
    result : RunResult
    baseline : LiverFlow, optional
        :func:`baseline_flow` of the run's liver and scenario, already built (e.g. the
        explorer's liver view): copied (its conductances and solution; not changed) instead of
        built again, with the same values.

    Returns
    -------
    LiverFlow
        :func:`baseline_flow` of the run's liver (its coils included) with what the run put in:
        the oil of a cTACE session (:func:`sim.lipiodol.reapply_oil`, from the saved fill) and
        the embolic load (:func:`sim.procedure.apply_load_record`, non-target beds included);
        its native compartment flows equal ``result.state["compartment_flow_final_m3s"]``.

    Notes
    -----
    The load record is cumulative: a later session of a staged treatment
    (``sim.run(..., prior=...)``) carries the earlier sessions' loads too.
    """
    if baseline is None:
        flow = baseline_flow(run_liver(result), result.scenario)
    else:
        flow = copy.copy(baseline)
        flow.state = _scratch(baseline.state, _CONDUCTANCES + _SOLVE_WRITES)
    reapply_oil(flow.state.g_comp, result.state, flow.liver.compartments)  # before the load, as the session's order
    apply_load_record(flow.state, flow.liver.trunk, result.state["load"])
    return flow


#: The arrays of a ``FlowState`` that the bottom-up elimination writes (the 2-ports).
_ELIMINATION_WRITES = ("node_pi", "node_conn", "edge_pi", "edge_conn")
#: The arrays that a trunk solve and an elimination write (the injection included, the trunk solve's ``work_*`` scratch).
_TRUNK_WRITES = ("q_art_in", "q_trunk_in", *_ELIMINATION_WRITES, "trunk_p", "trunk_q", "art_p", "por_p", "status",
                 *(name for name in twoport.FlowState._fields if name.startswith("work_")))
#: ... and those a full solve writes: the substitution's pressures and flows too.
_SOLVE_WRITES = (*_TRUNK_WRITES, "art_q", "por_q", "comp_p", "comp_q")
#: The conductance arrays of a ``FlowState`` (what an occlusion changes).
_CONDUCTANCES = ("g_art", "g_por", "g_comp", "g_trunk")


def _scratch(state: twoport.FlowState, written: tuple[str, ...]) -> twoport.FlowState:
    """``state`` with copies of the arrays ``written`` and the others (topology, conductances) shared."""
    return state._replace(**{name: getattr(state, name).copy() for name in written})


def _eliminated(flow, rate_m3s: float, written: tuple[str, ...], like: twoport.FlowState | None) -> twoport.FlowState:
    """A copy of ``flow.state`` (the arrays ``written`` copied) injecting ``rate_m3s`` at the tip, its 2-ports eliminated.

    ``like``: a :func:`solved_state` of ``flow`` at another rate (or ``flow.state`` just solved). A trunk
    tip's injection enters the trunk solve only, so its 2-ports are then shared rather than eliminated
    again (the same values).
    """
    tip = flow.catheter
    shared = like is not None and tip.tip_trunk_node >= 0
    if shared:
        state = _scratch(flow.state, tuple(name for name in written if name not in _ELIMINATION_WRITES))
        state = state._replace(**{name: getattr(like, name) for name in _ELIMINATION_WRITES})
    else:
        state = _scratch(flow.state, written)
    if tip.tip_trunk_node >= 0:
        state.q_trunk_in[tip.tip_trunk_node] = rate_m3s
    else:
        state.q_art_in[tip.tip_pedicle_node] = rate_m3s
    if not shared:
        twoport.eliminate(state)
    return state


def solved_state(flow, rate_m3s: float, *, like: twoport.FlowState | None = None) -> twoport.FlowState:
    """A solved copy of ``flow.state`` with the catheter injecting ``rate_m3s`` (0: native flow).

    Its topology and conductance arrays are those of ``flow.state`` (shared, not copied):
    read the copy, do not change its conductances.

    Parameters
    ----------
    flow : LiverFlow
        Catheter placed.
    rate_m3s : float
        Injection rate at the tip, m^3/s.
    like : FlowState, optional
        A state this function gave for ``flow`` at another rate, or ``flow.state`` itself when
        nothing changed it since its full solve: with a trunk tip, the copy shares its 2-ports (the
        injection does not enter them), so only the trunk solve and the substitution are done
        again; do not re-solve either state then.
    """
    state = _eliminated(flow, rate_m3s, _SOLVE_WRITES, like)
    twoport.solve_trunk(state)
    twoport.substitute(state)
    return state


def proximal_flow(state: twoport.FlowState, placement) -> float:
    """Flow in the catheterised vessel just behind the tip, towards the tip, m^3/s (< 0: reflux).

    Parameters
    ----------
    state : FlowState
        Solved.
    placement : CatheterPlacement
    """
    if placement.tip_trunk_node >= 0:
        return float(state.trunk_q[placement.proximal_edge])
    return float(state.art_q[placement.tip_pedicle_node])


def native_tip_flow(flow) -> float:
    """Native (injection-free) antegrade flow in the catheterised vessel at the tip, m^3/s."""
    return _proximal_flow_at(flow, 0.0)


def catheter_lumen(flow) -> Lumen:
    """The catalogue lumen of the scenario's catheter (``catheter.kind``, ``catheter.outer_diameter_fr``)."""
    catheter = flow.scenario.catheter
    return lumen_for(catheter.kind, catheter.outer_diameter_fr)


def catheter_limit_m3s(flow) -> float:
    """Fastest contrast injection the scenario's catheter delivers, m^3/s (:func:`sim.catheters.max_rate_m3s`)."""
    return max_rate_m3s(catheter_lumen(flow))


def _proximal_flow_at(flow, rate_m3s: float, like: twoport.FlowState | None = None) -> float:
    """:func:`proximal_flow` of :func:`solved_state` ``(flow, rate_m3s)``, without the whole solve.

    The injection changes only the trunk solution (trunk tip) or the 2-ports on the tip's
    path (pedicle tip), so this takes an elimination and a trunk solve on a copy of the
    arrays these write, and reads the flow along the tip's path: the operations of the
    full solve, hence its value, without substituting the whole liver or copying its
    topology and conductances. ``like``: as for :func:`solved_state` (a trunk tip then needs no elimination).
    """
    return _proximal_flow_solved(flow, rate_m3s, like)[0]


def _proximal_flow_solved(flow, rate_m3s: float, like: twoport.FlowState | None = None
                          ) -> tuple[float, twoport.FlowState]:
    """:func:`_proximal_flow_at`, and the state it solved (its 2-ports eliminated, its trunk solved: a ``like``)."""
    tip = flow.catheter
    work = _eliminated(flow, rate_m3s, _TRUNK_WRITES, like)
    twoport.solve_trunk(work)
    if tip.tip_trunk_node >= 0:
        return float(work.trunk_q[tip.proximal_edge]), work
    n = tip.tip_pedicle_node
    pa, pp = twoport.node_pressures(work, work.parent[n])
    return float(twoport.edge_flows(work, n, pa, pp)[0]), work


def tip_response(flow, *, native: twoport.FlowState | None = None,
                 like: twoport.FlowState | None = None) -> tuple[float, float]:
    """The flow behind the tip as an affine function of the injection rate r: q(r) = q0 - k r.

    Fixed conductances make the network linear, so two solves give it (r = 0 and one probe);
    ``native``: :func:`solved_state` ``(flow, 0.0)`` when already solved (the r = 0 solve, same value);
    else ``like``: ``flow.state`` when nothing changed it since its full solve (as for :func:`solved_state`;
    a trunk tip's 2-ports are then not eliminated again).

    Returns
    -------
    q0 : float, m^3/s
        Native (injection-free) antegrade flow behind the tip.
    k : float, dimensionless
        Fall of that flow per unit injection rate.
    """
    if native is None:  # the r = 0 solve's 2-ports serve the probe too (a trunk tip's injection is not in them)
        q0, native = _proximal_flow_solved(flow, 0.0, like)
    else:
        q0 = proximal_flow(native, flow.catheter)
    probe = max(q0, MIN_RATE_M3S)
    return q0, (q0 - _proximal_flow_at(flow, probe, native)) / probe


def bed_acceptance_m3s(flow, *, response: tuple[float, float] | None = None) -> float:
    """Fastest injection the bed downstream of the tip takes without reflux, m^3/s (0: none).

    The bed takes r* = q0 / k, the rate at which the flow behind the tip stops
    (:func:`tip_response`; model assumption: the pressure available is the arterial
    pressure behind the tip; see the module notes). ``response``: a :func:`tip_response`
    already computed for ``flow``.
    """
    q0, slope = tip_response(flow) if response is None else response
    if q0 <= 0.0:
        return 0.0
    return q0 / slope if slope > 0 else np.inf


def default_injection(flow, *, reference_tip_flow_m3s: float | None = None,
                      response: tuple[float, float] | None = None) -> Injection:
    """The contrast run of ``flow``: ``catheter.angiogram_rate_ml_s``, or the operator's rate.

    The operator's rate is ``RATE_TO_FLOW`` x the native tip flow of the reference state
    (``reference_tip_flow_m3s``, default this flow's: the baseline run), at most what the
    catheter delivers (:func:`catheter_limit_m3s`) and what this flow's bed takes
    (:func:`bed_acceptance_m3s`), and at least ``MIN_RATE_M3S``; for
    ``INJECTION_DURATION_S``.

    Parameters
    ----------
    flow : LiverFlow
        Catheter placed (baseline or embolised).
    reference_tip_flow_m3s : float, optional
        Native tip flow the operator matched the baseline run to, m^3/s.
    response : (float, float), optional
        :func:`tip_response` of ``flow`` when already computed.
    """
    chosen = flow.scenario.catheter.angiogram_rate_ml_s
    if chosen is not None:
        return Injection(chosen * ML_M3)
    response = tip_response(flow) if response is None else response
    reference = response[0] if reference_tip_flow_m3s is None else reference_tip_flow_m3s
    rate = min(RATE_TO_FLOW * reference, catheter_limit_m3s(flow), bed_acceptance_m3s(flow, response=response))
    return Injection(max(rate, MIN_RATE_M3S))


def _reflux(backward_m3s: float, rate_m3s: float) -> float:
    """Backward flow behind the tip while injecting, m^3/s; rounding-level values (below 1e-9 of the
    injection, e.g. an injection at exactly the bed's acceptance) are 0."""
    return backward_m3s if backward_m3s > 1e-9 * rate_m3s else 0.0


def injection_reflux_m3s(flow, rate_m3s: float, *, response: tuple[float, float] | None = None) -> float:
    """Flow refluxing past the tip (backwards behind it) while injecting ``rate_m3s``, m^3/s (>= 0).

    Refluxing blood leaving the tip is undiluted contrast (nothing else enters the tip). From the
    affine :func:`tip_response`: k r - q0 when positive.
    """
    q0, slope = tip_response(flow) if response is None else response
    return _reflux(slope * rate_m3s - q0, rate_m3s)


def contrast_readouts(flow, reference_tip_flow_m3s: float | None = None, *,
                      like: twoport.FlowState | None = None) -> dict[str, float]:
    """The contrast run of ``flow`` as the summary reports it (keys in docs/outputs.md); two flow solves.

    Parameters
    ----------
    flow : LiverFlow
        Catheter placed, in the state of the run (e.g. the end of embolisation).
    reference_tip_flow_m3s : float, optional
        Native tip flow of the baseline (pre-procedure) state, m^3/s; default this flow's (the baseline run).
    like : FlowState, optional
        ``flow.state`` when nothing changed it since its full solve (:func:`tip_response`).

    Returns
    -------
    dict
        ``rate_ml_s`` (mL/s), ``reflux_ml`` (mL of contrast refluxed past the tip over
        the injection; the angiogram's :attr:`ContrastTransit.reflux_ml`),
        ``bed_acceptance_ml_s`` (mL/s), ``native_tip_flow_m3s`` (m^3/s).
    """
    response = tip_response(flow, like=like)
    injection = default_injection(flow, reference_tip_flow_m3s=reference_tip_flow_m3s, response=response)
    return {"rate_ml_s": injection.rate_m3s / ML_M3,
            "reflux_ml": injection_reflux_m3s(flow, injection.rate_m3s, response=response) * injection.duration_s
            / ML_M3,
            "bed_acceptance_ml_s": bed_acceptance_m3s(flow, response=response) / ML_M3,
            "native_tip_flow_m3s": response[0]}


def run_injections(flows) -> list[Injection]:
    """The contrast runs of successive states of one liver (baseline first): :func:`default_injection`.

    Every later run is matched to the baseline's native tip flow and limited by its own bed.
    """
    reference = native_tip_flow(flows[0])
    return [default_injection(f, reference_tip_flow_m3s=reference) for f in flows]


# ---------------------------------------------------------------------------
# contrast transit


@dataclass(frozen=True)
class ContrastTransit:
    """Contrast dynamics of one flow state (see the module docstring for the model).

    Shapes: V arterial vessels (named arteries and pedicle arteries), C compartments.
    Each vessel is oriented along its flow in the injecting field (``start`` upstream).

    Attributes
    ----------
    vessel_start_m, vessel_end_m : ndarray of float64, shape (V, 3), m
    vessel_diameter_m : ndarray of float64, shape (V,), m
    vessel_volume_m3 : ndarray of float64, shape (V,), m^3
        Lumen volume.
    vessel_concentration : ndarray of float64, shape (V,)
        Contrast concentration in the vessel while the bolus fills it, 0-1.
    front_in_s, front_span_s : ndarray of float64, shape (V,), s
        Time the front enters the vessel and the time it takes to cross it (inf: never).
    tail_in_s, tail_span_s : ndarray of float64, shape (V,), s
        The same for the tail (washout); inf span: the contrast stands.
    comp_concentration : ndarray of float64, shape (C,)
        Inflow concentration of each compartment while the bolus passes, 0-1.
    comp_arrival_s, comp_tail_s : ndarray of float64, shape (C,), s
        Arrival of the front and of the tail at the compartment's feeding node (inf: never).
    comp_fill_mtt_s, comp_wash_mtt_s : ndarray of float64, shape (C,), s
        Mean transit time of the compartment's blood pool while filling (injecting field)
        and washing out (native field); inf without flow.
    injection : Injection
    tip_concentration : float
        Concentration of the blood leaving the tip, 0-1.
    reflux_m3s : float
        Flow leaving the tip backwards, into the catheterised vessel behind it, while
        injecting, m^3/s (0: the bed takes the whole injection).
    """

    vessel_start_m: np.ndarray
    vessel_end_m: np.ndarray
    vessel_diameter_m: np.ndarray
    vessel_volume_m3: np.ndarray
    vessel_concentration: np.ndarray
    front_in_s: np.ndarray
    front_span_s: np.ndarray
    tail_in_s: np.ndarray
    tail_span_s: np.ndarray
    comp_concentration: np.ndarray
    comp_arrival_s: np.ndarray
    comp_tail_s: np.ndarray
    comp_fill_mtt_s: np.ndarray
    comp_wash_mtt_s: np.ndarray
    injection: Injection
    tip_concentration: float
    reflux_m3s: float = 0.0

    @property
    def reflux_ml(self) -> float:
        """Contrast (undiluted equivalent) refluxed past the tip over the injection, mL."""
        return self.tip_concentration * self.reflux_m3s * self.injection.duration_s / ML_M3

    def vessel_progress(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the front and the tail along each vessel at time ``t`` (0 start, 1 end).

        Parameters
        ----------
        t : float
            Time since the injection started, s.

        Returns
        -------
        (ndarray, ndarray) of float64, shape (V,)
            The contrast fills the part of a vessel between the tail and the front.
        """
        return _progress(t, self.front_in_s, self.front_span_s), _progress(t, self.tail_in_s, self.tail_span_s)

    def vessel_contrast(self, t: float) -> np.ndarray:
        """Contrast volume (undiluted equivalent) in each vessel at time ``t``, m^3, shape (V,)."""
        front, tail = self.vessel_progress(t)
        return self.vessel_concentration * self.vessel_volume_m3 * np.maximum(front - tail, 0.0)

    def compartment_concentration(self, t) -> np.ndarray:
        """Contrast concentration in each compartment's blood at time ``t`` (0-1), shape (C,).

        ``t`` may be an array broadcasting against (C,), e.g. times of shape (T, 1)
        give shape (T, C).

        One well-mixed pool: it approaches the inflow concentration with the filling
        mean transit time from the front's arrival, and decays with the washout mean
        transit time from the tail's arrival.
        """
        with np.errstate(invalid="ignore"):
            filling = np.clip(np.minimum(t, self.comp_tail_s) - self.comp_arrival_s, 0.0, None)
            level = self.comp_concentration * -np.expm1(-_ratio(filling, self.comp_fill_mtt_s))
            washing = np.clip(t - self.comp_tail_s, 0.0, None)
            out = level * np.exp(-_ratio(washing, self.comp_wash_mtt_s))
        return np.where(np.isfinite(self.comp_arrival_s), out, 0.0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where num is 0 or den is inf (no progress), inf where den is 0 and num > 0."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=(num > 0) & np.isfinite(den))
    out[(num > 0) & (den == 0)] = np.inf
    return out


def _progress(t: float, start: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Share of a vessel crossed at time t by something entering at ``start`` and crossing in ``span``."""
    with np.errstate(invalid="ignore"):
        elapsed = np.where(np.isfinite(start), t - start, -np.inf)
    return np.clip(_ratio(np.maximum(elapsed, 0.0), span), 0.0, 1.0)


class ArterialNetwork:
    """The arterial network of a compiled liver as one node set, with its vessels.

    Nodes are the trunk nodes (``0..Nt-1``) and the pedicle arterial nodes
    (``Nt + i``); a pedicle subtree root is its trunk node. Vessels are the trunk
    arteries (first block, trunk edges :attr:`trunk_vessels`) then the pedicle
    arteries (pedicle nodes :attr:`pedicle_vessels`), each from ``vessel_up`` to
    ``vessel_down`` in the baseline direction. The arrays it holds as attributes are read-only (a network is shared:
    :func:`arterial_network`).

    Parameters
    ----------
    liver : CompiledLiver

    Attributes
    ----------
    n : int
        Number of nodes.
    pedicle_node : ndarray of int64, shape (M,)
        Node of each pedicle node.
    xyz : ndarray of float64, shape (n, 3), m
    boundary : ndarray of bool, shape (n,)
        Pressure boundaries (arterial roots, reservoirs).
    trunk_vessels : ndarray of int64
        Trunk edges that are arteries.
    pedicle_vessels : ndarray of int64
        Non-root pedicle nodes (their incoming artery).
    vessel_up, vessel_down : ndarray of int64, shape (V,)
    vessel_diameter_m, vessel_volume_m3 : ndarray of float64, shape (V,)
        Lumen diameter (m) and volume (m^3).
    comp_node : ndarray of int64, shape (C,)
        Node feeding each compartment.
    """

    def __init__(self, liver: CompiledLiver):
        from .network import EDGE_ARTERY

        trunk, forest = liver.trunk, liver.forest
        nt = trunk.n_nodes
        self.n = nt + forest.n_nodes
        node = nt + np.arange(forest.n_nodes)
        node[forest.root_nodes] = forest.root_trunk_art
        self.pedicle_node = node
        self.xyz = np.vstack([trunk.node_xyz, forest.xyz])
        self.boundary = np.zeros(self.n, bool)
        self.boundary[:nt] = np.isfinite(trunk.node_pressure_pa)
        self._trunk_conns = np.array(trunk.edge_conns, np.int64)  # a copy: the network freezes its arrays below
        self.trunk_vessels = np.flatnonzero(trunk.edge_kind == EDGE_ARTERY)
        self.pedicle_vessels = np.flatnonzero(forest.parent >= 0)
        self.vessel_up = np.concatenate([self._trunk_conns[self.trunk_vessels, 0],
                                         node[forest.parent[self.pedicle_vessels]]])
        self.vessel_down = np.concatenate([self._trunk_conns[self.trunk_vessels, 1], node[self.pedicle_vessels]])
        radius = np.concatenate([trunk.edge_radius_m[self.trunk_vessels], forest.art_radius_m[self.pedicle_vessels]])
        length = np.concatenate([trunk.edge_length_m[self.trunk_vessels], forest.art_length_m[self.pedicle_vessels]])
        self.vessel_diameter_m = 2.0 * radius
        self.vessel_volume_m3 = np.pi * radius**2 * length
        self.comp_node = node[liver.compartments.node]
        for value in vars(self).values():  # shared by every view of the liver (arterial_network)
            if isinstance(value, np.ndarray):
                _freeze(value)

    def vessel_flows(self, state: twoport.FlowState) -> np.ndarray:
        """Flow in every vessel from ``vessel_up`` to ``vessel_down``, m^3/s, shape (V,)."""
        return np.concatenate([state.trunk_q[self.trunk_vessels], state.art_q[self.pedicle_vessels]])

    def node_pressures(self, state: twoport.FlowState) -> np.ndarray:
        """Pressure of every node relative to the hepatic veins, Pa, shape (n,) (NaN: cut off)."""
        return np.concatenate([state.trunk_p, state.art_p])

    def arrival(self, state: twoport.FlowState, source: int) -> np.ndarray:
        """Shortest transit time (lumen volume / flow) from ``source`` along the flow, s, shape (n,); inf: unreached.

        The vessels oriented along their flow form an acyclic graph (one pressure field), so the
        times are found in topological order (:func:`sim.kernels.contrast.arrival_times`): Dijkstra's values
        (of parallel vessels between two nodes, if any, the faster one is taken).
        """
        return self._arrival(self.vessel_flows(state), source)

    def _arrival(self, q: np.ndarray, source: int) -> np.ndarray:
        """:meth:`arrival` from the :meth:`vessel_flows` ``q``."""
        time = np.empty(self.n)
        # the aorta washes out whatever reaches an arterial root: no flow leaves a pressure boundary
        _check_acyclic(contrast.arrival_times(*self._vessel_incidence, q, self.vessel_volume_m3, self.boundary, source,
                                               time, *self._forest))
        return time

    def concentration(self, state: twoport.FlowState, source: int, rate_m3s: float,
                      reached: np.ndarray) -> np.ndarray:
        """Mixed contrast concentration at every node with ``rate_m3s`` of contrast entering ``source`` (0-1), shape (n,).

        Every trunk edge (arteries, portal veins, lumped beds) and pedicle artery
        enters the balance, and so does blood flowing back from a compartment into
        its arterial node; pressure boundaries hold concentration 0. Only the
        ``reached`` nodes (finite :meth:`arrival`) can hold contrast, so the balance
        is solved on them alone, in topological order of the flow (:func:`sim.kernels.contrast.mixing`).
        """
        out = np.empty(self.n)
        _check_acyclic(contrast.mixing(*self._mixing_incidence, state.trunk_q, state.art_q, self.pedicle_vessels,
                                        *self._node_compartments, state.comp_q, self.boundary, reached, source, rate_m3s,
                                        out, *self._forest))
        return out

    @cached_property
    def _vessel_incidence(self) -> tuple[np.ndarray, ...]:
        return contrast.incidence(self.n, self.vessel_up, self.vessel_down)

    @cached_property
    def _mixing_incidence(self) -> tuple[np.ndarray, ...]:
        """Incidence of the mixing balance's edges: every trunk edge, then the pedicle arteries."""
        a = np.concatenate([self._trunk_conns[:, 0], self.vessel_up[self.trunk_vessels.size:]])
        b = np.concatenate([self._trunk_conns[:, 1], self.vessel_down[self.trunk_vessels.size:]])
        return contrast.incidence(self.n, _freeze(a), _freeze(b))

    @cached_property
    def _forest(self) -> tuple[int, np.ndarray, np.ndarray]:
        """The pedicle arteries as the forest of :func:`sim.kernels.contrast.arrival_times` and ``mixing``: the trunk
        node count, each pedicle artery's ends (the last edges of both incidences); none (``n``, empty arrays) unless
        every parent precedes its children."""
        nt, first = self.n - self.pedicle_node.size, self.trunk_vessels.size
        up, down = self.vessel_up[first:], self.vessel_down[first:]
        if np.all(up < down) and np.all(down[1:] > down[:-1]) and (down.size == 0 or down[0] >= nt):
            return nt, up, down
        return self.n, _freeze(np.empty(0, np.int64)), _freeze(np.empty(0, np.int64))

    @cached_property
    def _node_compartments(self) -> tuple[np.ndarray, np.ndarray]:
        """The compartments fed by each node (:func:`sim.kernels.contrast.group`)."""
        return contrast.group(self.n, self.comp_node)


def _check_acyclic(acyclic: bool) -> None:
    if not acyclic:
        raise RuntimeError("the flow-directed arterial graph holds a cycle: its flows are not those of one pressure field")


def arterial_network(liver: CompiledLiver) -> ArterialNetwork:
    """The :class:`ArterialNetwork` of ``liver``, built once and kept with it (:mod:`sim.keep`; read it, do not change it).

    It depends on the compiled liver only, so the liver view and the DSA before and after a run
    (whose final flow shares the catheter-placed liver of the view's) share it.
    """
    with LOCK:
        kept = kept_for(liver)
        found = kept.get("angiography.network")
        if found is None:
            found = kept["angiography.network"] = ArterialNetwork(liver)
        return found


def _freeze(array: np.ndarray) -> np.ndarray:
    """``array``, made read-only (shared data; the kernels it goes to are then compiled for read-only arrays only:
    a writable one is another Numba type, and would compile them again)."""
    array.setflags(write=False)
    return array


def _tip_node(graph: ArterialNetwork, placement) -> int:
    if placement.tip_trunk_node >= 0:
        return int(placement.tip_trunk_node)
    return int(graph.pedicle_node[placement.tip_pedicle_node])


def contrast_transit(flow, injection: Injection, *, native: twoport.FlowState | None = None) -> ContrastTransit:
    """Concentrations and arrival times of a contrast injection at the catheter tip of ``flow``.

    Parameters
    ----------
    flow : LiverFlow
        Catheter placed; its conductances are used as they are (baseline or embolised).
    injection : Injection
    native : FlowState, optional
        :func:`solved_state` ``(flow, 0.0)`` when already solved (e.g. for the liver view).

    Returns
    -------
    ContrastTransit
    """
    liver = flow.liver
    graph = arterial_network(liver)
    tip = _tip_node(graph, flow.catheter)
    native = solved_state(flow, 0.0) if native is None else native
    injecting = solved_state(flow, injection.rate_m3s, like=native)
    q_inj, q_native = graph.vessel_flows(injecting), graph.vessel_flows(native)
    front = graph._arrival(q_inj, tip)
    conc = graph.concentration(injecting, tip, injection.rate_m3s, np.isfinite(front))
    washed = graph._arrival(q_native, tip)  # unreached: clean blood from elsewhere as soon as the injection stops
    tail = injection.duration_s + np.where(np.isfinite(washed), washed, 0.0)

    nv, comps = graph.vessel_up.size, liver.compartments
    start, end = np.empty((nv, 3)), np.empty((nv, 3))
    vessel_conc, front_in, front_span, tail_in, tail_span = (np.empty(nv) for _ in range(5))
    contrast.vessel_transit(graph.vessel_up, graph.vessel_down, q_inj, q_native, graph.xyz, graph.vessel_volume_m3, conc,
                            front, tail, start, end, vessel_conc, front_in, front_span, tail_in, tail_span)
    node = graph.comp_node
    blood = BLOOD_VOLUME_FRACTION * comps.perfused_volume_m3
    comp_conc, arrival, comp_tail, fill_mtt, wash_mtt = (np.empty(comps.n) for _ in range(5))
    contrast.compartment_transit(injecting.comp_q, native.comp_q, blood, conc[node], front[node], tail[node], comp_conc,
                                 arrival, comp_tail, fill_mtt, wash_mtt)
    return ContrastTransit(
        vessel_start_m=start, vessel_end_m=end, vessel_diameter_m=graph.vessel_diameter_m,
        vessel_volume_m3=graph.vessel_volume_m3, vessel_concentration=vessel_conc,
        front_in_s=front_in, front_span_s=front_span, tail_in_s=tail_in, tail_span_s=tail_span,
        comp_concentration=comp_conc, comp_arrival_s=arrival, comp_tail_s=comp_tail,
        comp_fill_mtt_s=fill_mtt, comp_wash_mtt_s=wash_mtt,
        injection=injection, tip_concentration=float(conc[tip]),
        reflux_m3s=_reflux(-proximal_flow(injecting, flow.catheter), injection.rate_m3s))


# ---------------------------------------------------------------------------
# projection


@dataclass(frozen=True)
class View:
    """The virtual detector: an anteroposterior projection onto (x, z) on a pixel grid.

    Row ``i``, column ``j`` of an image is the pixel centred at
    x = ``x0_m`` + (j + 0.5) ``pixel_m``, z = ``z0_m`` + (i + 0.5) ``pixel_m``: draw it
    with ``origin="lower"`` and :attr:`extent`; x grows to the patient's left, so the
    patient's right is on the image's left (radiological convention).

    Attributes
    ----------
    x0_m, z0_m : float, m
        Lower-left corner.
    pixel_m : float, m
    shape : tuple of int
        (rows along z, columns along x).
    """

    x0_m: float
    z0_m: float
    pixel_m: float
    shape: tuple[int, int]

    @classmethod
    def around(cls, liver: CompiledLiver, *, pixel_m: float = PIXEL_M) -> View:
        """The smallest grid holding the liver's tissue and its arteries, with a margin (kept with the liver).

        The arteries are the hepatic ones (generation >= 0) and the named arteries
        joining them (CHA, GDA, RGA, cystic, the SMA of a replaced artery...).
        """
        with LOCK:
            kept = kept_for(liver).setdefault("angiography.view", {})
            found = kept.get(pixel_m)
            if found is None:
                found = kept[pixel_m] = cls._around(liver, pixel_m)
            return found

    @classmethod
    def _around(cls, liver: CompiledLiver, pixel_m: float) -> View:
        from .network import EDGE_ARTERY

        trunk = liver.trunk
        artery = trunk.edge_kind == EDGE_ARTERY
        hepatic = np.unique(trunk.edge_conns[artery & (trunk.edge_generation >= 0)])
        joining = artery & np.isin(trunk.edge_conns, hepatic).any(axis=1)
        lo, hi = _tissue_bounds(liver.points)  # min and max are exact: the bounds of the tissue and arteries together
        arteries = trunk.node_xyz[np.unique(trunk.edge_conns[joining])][:, [0, 2]]
        if arteries.size:
            lo, hi = np.minimum(lo, arteries.min(axis=0)), np.maximum(hi, arteries.max(axis=0))
        lo = lo - _MARGIN_M
        hi = hi + _MARGIN_M
        cols, rows = np.ceil((hi - lo) / pixel_m).astype(int)
        return cls(float(lo[0]), float(lo[1]), float(pixel_m), (int(rows), int(cols)))

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) in m, for ``imshow``."""
        rows, cols = self.shape
        return (self.x0_m, self.x0_m + cols * self.pixel_m, self.z0_m, self.z0_m + rows * self.pixel_m)

    def pixel_index(self, xyz: np.ndarray) -> np.ndarray:
        """Flat pixel index of each point (-1 outside the grid), shape (n,)."""
        rows, cols = self.shape
        j = np.floor((xyz[:, 0] - self.x0_m) / self.pixel_m).astype(np.int64)
        i = np.floor((xyz[:, 2] - self.z0_m) / self.pixel_m).astype(np.int64)
        inside = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
        return np.where(inside, i * cols + j, -1)


def _tissue_bounds(points) -> tuple[np.ndarray, np.ndarray]:
    """Least and greatest (x, z) of the tissue points, m, kept with them (shared by every catheter placement)."""
    with LOCK:
        kept = kept_for(points)
        found = kept.get("angiography.bounds")
        if found is None:
            xz = points.xyz[:, [0, 2]]
            found = kept["angiography.bounds"] = (xz.min(axis=0), xz.max(axis=0))
        return found


def _blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(image, sigma_px, mode="constant")


@dataclass(frozen=True)
class Angiogram:
    """Frames of a virtual DSA: a contrast transit projected on a view.

    Build with :func:`virtual_angiogram`. Frames are arrays of shape ``view.shape``
    holding the projected thickness of undiluted contrast, m.

    Attributes
    ----------
    transit : ContrastTransit
    view : View
    compartment_volume_m3 : ndarray of float64, shape (C,), m^3
        Blood volume of each compartment (the pool that blushes).
    """

    transit: ContrastTransit
    view: View
    compartment_volume_m3: np.ndarray
    _tissue: _TissueProjection
    _sample_pixel: np.ndarray
    _sample_vessel: np.ndarray
    _sample_position: np.ndarray
    _sample_contrast_m3: np.ndarray
    _sample_class: np.ndarray
    _class_sigma_px: np.ndarray
    _parenchyma_sigma_px: float

    @cached_property
    def _classes(self) -> np.ndarray:
        """The blur classes that hold vessel samples, ascending."""
        return np.flatnonzero(np.bincount(self._sample_class, minlength=self._class_sigma_px.size))

    @cached_property
    def _reached(self) -> np.ndarray:
        """The compartments the contrast reaches (finite arrival), ascending."""
        return np.flatnonzero(np.isfinite(self.transit.comp_arrival_s))

    def frame(self, t: float, *, vessels: bool = True, parenchyma: bool = True) -> np.ndarray:
        """The image at time ``t`` after the injection started.

        Parameters
        ----------
        t : float
            Time, s.
        vessels, parenchyma : bool
            Include the contrast in the drawn vessels and in the tissue.

        Returns
        -------
        ndarray of float64, shape ``view.shape``, m
            Projected thickness of undiluted contrast (blurred by the detector).
        """
        rows, cols = self.view.shape
        area = self.view.pixel_m**2
        image = np.zeros((rows, cols))
        transit = self.transit
        if parenchyma:  # the compartments the contrast reaches: the others hold none (their products are 0)
            reached = self._reached
            tissue = np.zeros(rows * cols)
            contrast.column_products(*self._tissue.parenchyma_columns, reached,
                                     _compartment_subset(transit, reached).compartment_concentration(t),
                                     tissue)
            image += _blur(tissue.reshape(rows, cols), self._parenchyma_sigma_px)
        if vessels:
            layers = np.zeros((self._class_sigma_px.size, rows * cols))
            contrast.vessel_layers(float(t), self._sample_pixel, self._sample_vessel, self._sample_position,
                                   self._sample_contrast_m3, self._sample_class, transit.front_in_s,
                                   transit.front_span_s, transit.tail_in_s, transit.tail_span_s, layers)
            for k in self._classes:
                image += _blur(layers[k].reshape(rows, cols), self._class_sigma_px[k])
        return image / area

    def frames(self, times_s) -> np.ndarray:
        """Frames at each time, shape (T, rows, cols), m."""
        return np.stack([self.frame(t) for t in np.atleast_1d(times_s)])

    def region_mask(self, points: np.ndarray) -> np.ndarray:
        """Pixels onto which the selected tissue points project.

        Parameters
        ----------
        points : ndarray of bool, shape (Np,)
            Selection over the liver's tissue points (e.g. ``points.tumour_id >= 0``).

        Returns
        -------
        ndarray of bool, shape ``view.shape``
        """
        mask = np.zeros(self.view.shape[0] * self.view.shape[1], bool)
        pixels = self._tissue.pixel[points]
        mask[pixels[pixels >= 0]] = True
        return mask.reshape(self.view.shape)


class _TissueProjection:
    """What a view sees of a liver's tissue; depends on the tissue points, the compartments and the view only.

    Attributes
    ----------
    pixel : ndarray of int64, shape (Np,)
        Flat pixel of each tissue point (-1 outside the view).
    blood_m3 : ndarray of float64, shape (Np,)
        Blood volume of each point (``BLOOD_VOLUME_FRACTION`` of its viable tissue), m^3.
    compartment_blood_m3 : ndarray of float64, shape (C,)
        Blood volume of each compartment, m^3.
    """

    def __init__(self, liver: CompiledLiver, view: View):
        comps, points = liver.compartments, liver.points
        viable = np.ones(comps.n)
        np.divide(comps.perfused_volume_m3, comps.volume_m3, out=viable, where=comps.volume_m3 > 0)
        self.blood_m3 = BLOOD_VOLUME_FRACTION * points.volume_m3 * viable[points.compartment]
        self.compartment_blood_m3 = np.bincount(points.compartment, self.blood_m3, minlength=comps.n)
        self.pixel = view.pixel_index(points.xyz)
        self._compartment = points.compartment
        self.compartments = comps
        self._shape = (view.shape[0] * view.shape[1], comps.n)
        for a in (self.blood_m3, self.compartment_blood_m3, self.pixel):
            a.setflags(write=False)

    @cached_property
    def parenchyma(self):
        """Sparse (pixels x compartments) matrix of blood volume, m^3 (built on first use)."""
        from scipy.sparse import csr_matrix

        inside = self.pixel >= 0
        return csr_matrix((self.blood_m3[inside], (self.pixel[inside], self._compartment[inside])), shape=self._shape)

    @cached_property
    def parenchyma_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:attr:`parenchyma` by compartment (CSC ``indptr``, ``indices``, ``data``; built on first use)."""
        csc = self.parenchyma.tocsc()
        return csc.indptr.astype(np.int64), csc.indices.astype(np.int64), csc.data


def _tissue_projection(liver: CompiledLiver, view: View) -> _TissueProjection:
    """The :class:`_TissueProjection` of ``liver`` on ``view``, kept with the liver's tissue points (:mod:`sim.keep`).

    The points and compartments are shared by every catheter placement of a liver (the catheter changes its trunk
    only), so the DSA before and after a run, and of every later run, project the tissue once.
    """
    with LOCK:
        kept = kept_for(liver.points).setdefault("angiography.tissue", {})
        found = kept.get(view)
        if found is None or found.compartments is not liver.compartments:
            found = kept[view] = _TissueProjection(liver, view)
        return found


def virtual_angiogram(flow, injection: Injection, *, view: View | None = None,
                      min_diameter_um: float = MIN_DIAMETER_UM, native: twoport.FlowState | None = None) -> Angiogram:
    """The virtual DSA of an injection at the catheter tip of ``flow``.

    Parameters
    ----------
    flow : LiverFlow
        Catheter placed (:func:`baseline_flow`, :func:`final_flow`).
    injection : Injection
        The contrast run (:func:`default_injection`, :func:`run_injections`).
    view : View, optional
        Default :meth:`View.around` the liver.
    min_diameter_um : float, optional
        Vessels narrower than this (um) are not drawn (their lumen's contrast is left
        out; the tissue they feed still blushes).
    native : FlowState, optional
        :func:`solved_state` ``(flow, 0.0)`` when already solved.

    Returns
    -------
    Angiogram
    """
    liver = flow.liver
    view = View.around(liver) if view is None else view
    transit = contrast_transit(flow, injection, native=native)
    points = liver.points
    tissue = _tissue_projection(liver, view)

    pixel, vessel, position, per_vessel = _vessel_samples(transit, view, min_diameter_um)
    share = (transit.vessel_concentration * transit.vessel_volume_m3)[vessel] / per_vessel  # each point's contrast, m^3
    vessel_class, class_sigma = _blur_classes(transit.vessel_diameter_m, view.pixel_m)
    return Angiogram(transit=transit, view=view, compartment_volume_m3=tissue.compartment_blood_m3, _tissue=tissue,
                     _sample_pixel=pixel, _sample_vessel=vessel, _sample_position=position, _sample_contrast_m3=share,
                     _sample_class=vessel_class[vessel], _class_sigma_px=class_sigma,
                     _parenchyma_sigma_px=max(DETECTOR_BLUR_M, 0.5 * points.volume_m3 ** (1 / 3)) / view.pixel_m)


def _vessel_samples(transit: ContrastTransit, view: View, min_diameter_um: float) -> tuple[np.ndarray, ...]:
    """:func:`sim.kernels.contrast.vessel_samples` of the vessels of ``transit`` drawn on ``view``, kept with their
    diameters (a network's) with the latest transit's vessel ends they were placed along (read them, do not change
    them; nor a transit's arrays).

    A vessel's points depend on its own ends only, and come in drawing order: the DSA after a run, whose vessels run
    as before it but for a few (a reflux), places the points of those few again and keeps the others'.
    """

    def place(vessels):
        return contrast.vessel_samples(vessels, transit.vessel_start_m, transit.vessel_end_m, view.x0_m, view.z0_m,
                                       view.pixel_m, *view.shape)

    with LOCK:
        kept = kept_for(transit.vessel_diameter_m).setdefault("angiography.samples", {})
        found = kept.get((view, min_diameter_um))
        if found is None:
            drawn = np.flatnonzero(transit.vessel_diameter_m >= min_diameter_um * 1e-6)
            samples = place(drawn)
        else:
            drawn = found[0]
            moved = contrast.moved_vessels(drawn, transit.vessel_start_m, transit.vessel_end_m, *found[1:3])
            if moved.size == 0:
                return found[3:]
            samples = place(drawn) if moved.size > _MOST_MOVED * drawn.size else \
                _replaced(found[3:], drawn[moved], place(drawn[moved]))
        for a in samples:
            a.setflags(write=False)
        kept[(view, min_diameter_um)] = (drawn, transit.vessel_start_m, transit.vessel_end_m, *samples)  # ends by reference
        return samples


def _replaced(samples: tuple[np.ndarray, ...], vessels: np.ndarray, placed: tuple[np.ndarray, ...]
              ) -> tuple[np.ndarray, ...]:
    """``samples`` (arrays in vessel order, their second the vessel) with the points of ``vessels`` (ascending)
    those of ``placed`` (the same arrays for these vessels alone)."""
    old = np.searchsorted(samples[1], vessels, "left"), np.searchsorted(samples[1], vessels, "right")
    new = np.searchsorted(placed[1], vessels, "left"), np.searchsorted(placed[1], vessels, "right")
    cuts = np.concatenate([[0], np.column_stack(old).ravel(), [samples[1].size]])
    out = []
    for a, b in zip(samples, placed):
        pieces = [a[cuts[0]:cuts[1]]]
        for k in range(vessels.size):
            pieces += [b[new[0][k]:new[1][k]], a[cuts[2 * k + 2]:cuts[2 * k + 3]]]
        out.append(np.concatenate(pieces))
    return tuple(out)


def _blur_classes(diameter_m: np.ndarray, pixel_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Blur class of each vessel and the mean blur (px) of each class, kept with the diameters (a network's).

    A vessel is blurred by the detector and across its width: sigma = hypot(diameter / 4, ``DETECTOR_BLUR_M``).
    """
    with LOCK:
        kept = kept_for(diameter_m).setdefault("angiography.blur", {})
        found = kept.get(pixel_m)
        if found is None:
            sigma = np.hypot(0.5 * diameter_m / 2.0, DETECTOR_BLUR_M) / pixel_m
            vessel_class = np.searchsorted(np.asarray(_BLUR_CLASSES_PX), sigma)
            class_sigma = np.array([sigma[vessel_class == k].mean() if (vessel_class == k).any() else 0.0
                                    for k in range(len(_BLUR_CLASSES_PX))])
            found = kept[pixel_m] = (vessel_class, class_sigma)
        return found


def compare_angiograms(flows, *, injection: Injection | None = None, view: View | None = None,
                       min_diameter_um: float = MIN_DIAMETER_UM) -> list[Angiogram]:
    """Virtual DSA of several flow states of one liver on one view.

    Parameters
    ----------
    flows : sequence of LiverFlow
        Catheter placed, same liver, baseline first (e.g. :func:`baseline_flow` and :func:`final_flow`).
    injection : Injection, optional
        One injection for every state; default each state's own run (:func:`run_injections`:
        the baseline matched to the vessel's flow, later runs no faster than their bed takes).
    view : View, optional
        Default :meth:`View.around` the liver.
    min_diameter_um : float, optional

    Returns
    -------
    list of Angiogram
    """
    injections = run_injections(flows) if injection is None else [injection] * len(flows)
    view = View.around(flows[0].liver) if view is None else view
    return [virtual_angiogram(f, i, view=view, min_diameter_um=min_diameter_um) for f, i in zip(flows, injections)]


def run_angiograms(result, **options) -> tuple[Angiogram, Angiogram]:
    """Virtual DSA before the first particle and at the end of a run (:func:`compare_angiograms` options).

    Examples
    --------
    >>> import sim
    >>> result = sim.run(sim.Scenario().with_updates({"liver.terminal_diameter_um": 300.0}),
    ...                  progress=False)                                        # doctest: +SKIP
    >>> before, after = run_angiograms(result)                                   # doctest: +SKIP
    >>> times = phase_times(before)                                              # doctest: +SKIP
    >>> before.frame(times["capillary"]).shape == before.view.shape              # doctest: +SKIP
    True
    """
    before, after = compare_angiograms([start_flow(result), final_flow(result)], **options)
    return before, after


def phase_times(angiogram: Angiogram) -> dict[str, float]:
    """Times of the arterial, capillary (parenchymal) and venous phases of an angiogram, s.

    * arterial: the front has crossed 90% of the opacified arterial lumen volume
      (at the latest, the end of the injection);
    * capillary: the parenchymal contrast peaks;
    * venous: the parenchymal contrast has fallen to a third of its peak after it
      (the parenchymal washout; at most 60 s after the injection), on a 0.25 s grid.

    Use the baseline's times for the embolised angiogram too (one clock).
    """
    transit = angiogram.transit
    status, arterial = contrast.volume_quantile(transit.front_in_s, transit.front_span_s, transit.vessel_concentration,
                                                transit.vessel_volume_m3, _ARTERIAL_SHARE, _QUANTILE_BINS)
    if status == contrast.QUANTILE_UNSURE:
        arterial = _arterial_sorted(transit)
    elif status == contrast.QUANTILE_NONE:
        arterial = transit.injection.duration_s
    arterial = min(float(arterial), transit.injection.duration_s)
    times = np.arange(0.0, transit.injection.duration_s + _PHASE_WINDOW_S, _PHASE_STEP_S)
    total = np.zeros(times.size)  # the parenchymal contrast: sum of compartment_concentration x blood volume
    known = contrast.blush_phases(times, transit.comp_concentration, transit.comp_arrival_s, transit.comp_tail_s,
                                  transit.comp_fill_mtt_s, transit.comp_wash_mtt_s, angiogram.compartment_volume_m3, total,
                                  round(_PHASE_CHUNK_S / _PHASE_STEP_S))  # as far as it tells the peak and the washout
    peak = int(np.argmax(total[:known]))
    after = np.flatnonzero((times[:known] > times[peak]) & (total[:known] <= total[peak] / 3.0))
    venous = float(times[after[0]]) if after.size else float(times[-1])
    return {"arterial": arterial, "capillary": float(times[peak]), "venous": venous}


def _arterial_sorted(transit: ContrastTransit) -> float:
    """When the front has crossed ``_ARTERIAL_SHARE`` of the opacified lumen volume, s, from every vessel sorted
    (what :func:`sim.kernels.contrast.volume_quantile` gives without sorting them all, when it is sure)."""
    reached = np.isfinite(transit.front_in_s) & (transit.vessel_concentration > 0)
    done = transit.front_in_s[reached] + transit.front_span_s[reached]
    weight = transit.vessel_volume_m3[reached]
    order = np.argsort(done)
    cumulative = np.cumsum(weight[order]) / weight.sum()
    return float(done[order][np.searchsorted(cumulative, _ARTERIAL_SHARE)])


def _compartment_subset(transit: ContrastTransit, index: np.ndarray) -> ContrastTransit:
    """The transit with its compartment arrays restricted to ``index`` (vessel arrays kept)."""
    from dataclasses import replace

    return replace(transit, **{name: getattr(transit, name)[index] for name in (
        "comp_concentration", "comp_arrival_s", "comp_tail_s", "comp_fill_mtt_s", "comp_wash_mtt_s")})
