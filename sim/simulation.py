"""``sim.run``: one simulated embolisation from a scenario to a :class:`~sim.results.RunResult`.

Steps: build the liver (anatomy), calibrate the healthy circulation, apply any
portal vein thrombosis and the hepatic arterial buffer response, place the
catheter, coil any named arteries (``procedure.coils``, :mod:`sim.coils`),
inject particles until the endpoint (:mod:`sim.procedure`), then turn
flows and particle fates into the summary (``docs/outputs.md``) and a report.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from .coils import apply_coils
from .deposition import deposition_table, load_readouts
from .endpoints import endpoint_summary
from .interval import carried_load, stack_session
from .kernels import transport as tk
from .kernels.embolic_load import conductance_fractions
from .lipiodol import lipiodol_summary, session_agents, session_permanent
from .outcomes import (
    Deliveries,
    arterial_fraction_normal,
    compartment_necrosis,
    deliveries,
    lodging_generations,
    tissue_outcomes,
    trunk_tumour_share,
    tumour_share_of_lodgings,
    tumour_to_normal_ratio,
)
from .pharmacokinetics import session_drug
from .procedure import ProcedureRun, load_record, run_procedure
from .report import render_report
from .results import RunResult
from .scenario import Scenario, require_scenario
from .selection import assess_patient
from .units import ML_M3

__all__ = ["run", "summarise", "healthy_compartment_flows", "check_rng", "ANATOMY_SECTIONS"]


def check_rng(rng) -> None:
    """A ValueError naming ``rng`` for anything but None, a seed (an integer >= 0), a numpy SeedSequence or a
    Generator (review 16: numpy's own errors came from eleven frames down)."""
    if isinstance(rng, bool) or not (rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence,
                                                                       np.random.Generator))):
        raise ValueError(f"rng: None, a seed (an integer >= 0), a numpy SeedSequence or Generator; got {rng!r}")
    if isinstance(rng, (int, np.integer)) and rng < 0:
        raise ValueError(f"rng: a seed is an integer >= 0; got {rng}")


def _generator(scenario: Scenario, rng) -> tuple[np.random.Generator, Scenario]:
    """The run's generator, and the scenario with the seed actually used recorded in it (:func:`check_rng`)."""
    check_rng(rng)
    if rng is None:
        return np.random.default_rng(scenario.procedure.seed), scenario
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng)), scenario.with_updates({"procedure.seed": int(rng)})
    if isinstance(rng, np.random.SeedSequence) and isinstance(rng.entropy, (int, np.integer)) and not rng.spawn_key \
            and rng.n_children_spawned == 0:  # the same draws as its integer: record it (scenario.json repeats the run)
        return np.random.default_rng(rng), scenario.with_updates({"procedure.seed": int(rng.entropy)})
    return np.random.default_rng(rng), scenario


def healthy_compartment_flows(flow) -> np.ndarray:
    """Compartment flows (C, 4) of the calibrated healthy liver (no thrombosis, catheter or HABR) of a ``LiverFlow``.

    Solved once per liver and ``[flow]`` section (:attr:`sim.flow.calibrated.Calibration.healthy_compartment_flows`).
    """
    return flow.calibration.healthy_compartment_flows.copy()


#: Scenario sections that define the liver (a shared liver must agree on them).
ANATOMY_SECTIONS = ("liver", "anatomy", "tumours", "flow")


def _check_same_anatomy(built: Scenario, wanted: Scenario, *, what: str = "the liver given was built for",
                        fix: str = "build it from this scenario (sim.build_liver) or drop liver=") -> None:
    for section in ANATOMY_SECTIONS:
        if getattr(built, section) != getattr(wanted, section):
            raise ValueError(f"{what} a different [{section}] section than the scenario's; {fix}")


def _tumour_particles(fate: np.ndarray, where: np.ndarray, node_share, comp_share, trunk_share) -> float:
    """Particles (of ``fate`` and ``where``) lodged in tumour, each counted by the tumour share of where it lodged."""
    return float(node_share[where[fate == tk.FATE_VESSEL]].sum() + comp_share[where[fate == tk.FATE_COMPARTMENT]].sum()
                 + trunk_share[where[fate == tk.FATE_TRUNK]].sum())


def loaded_beads(scenario: Scenario, proc: ProcedureRun, agents, liver) -> dict | None:
    """The drug-eluting beads of a session that gives them: their settled volume (``volume_ml``) and the shares of them
    that lodged in tumour (``tumour_fraction``) and left the liver (``nontarget_fraction``); None without beads.

    The loading (``agent.bead_doxorubicin_mg_per_ml``) is the microspheres': the session's agent and any
    ``procedure.agent_sequence`` step of microspheres carry it, a step of PVA or gelatin sponge does not (review 37:
    DEB then PVA counted the PVA as loaded).
    """
    cfg = scenario.agent
    if cfg.kind != "microspheres" or cfg.bead_doxorubicin_mg_per_ml <= 0 or proc.agent_of is None:
        return None
    kinds = (cfg.kind, *(step.kind for step in scenario.procedure.agent_sequence))
    loaded_agent = np.array([kind == "microspheres" for kind in kinds])
    n = proc.n_injected
    loaded = loaded_agent[proc.agent_of[:n]]
    per_particle_m3 = 1.0 / np.array([agent.particles_per_m3 for agent, _ in agents])[proc.agent_of[:n]]
    count = int(loaded.sum())
    if count == 0:
        return {"volume_ml": 0.0, "tumour_fraction": 0.0, "nontarget_fraction": 0.0}
    fate, where = proc.state.fate[:n][loaded], proc.state.where[:n][loaded]
    node_share, comp_share = tumour_share_of_lodgings(liver.compartments, np.asarray(liver.forest.parent, np.int64))
    tumour = _tumour_particles(fate, where, node_share, comp_share, trunk_tumour_share(liver))
    return {"volume_ml": float(per_particle_m3[loaded].sum() / ML_M3), "tumour_fraction": tumour / count,
            "nontarget_fraction": float((fate == tk.FATE_NONTARGET).sum() / count)}


def summarise(scenario: Scenario, proc: ProcedureRun, flow, q_healthy: np.ndarray, *,
              necrosis: tuple[np.ndarray, np.ndarray] | None = None, delivered: Deliveries | None = None) -> dict[str, Any]:
    """The flat summary of a run (keys and units in ``docs/outputs.md``); ``necrosis`` and ``delivered``: the run's
    :func:`sim.outcomes.compartment_necrosis` and :func:`sim.outcomes.deliveries` when already computed."""
    import sim

    liver = flow.liver
    comps = liver.compartments
    ps = proc.state
    n = proc.n_injected
    fate = ps.fate[:n]
    where = ps.where[:n]
    last = proc.rows[-1]
    node_share, comp_share = tumour_share_of_lodgings(comps, np.asarray(liver.forest.parent, np.int64))
    trunk_share = trunk_tumour_share(liver)
    tumour_particles = _tumour_particles(fate, where, node_share, comp_share, trunk_share)
    lodged_in_liver = int(np.isin(fate, (tk.FATE_VESSEL, tk.FATE_COMPARTMENT, tk.FATE_TRUNK)).sum())
    normal_particles = lodged_in_liver - tumour_particles

    tissue = comps.kind == 0
    tn_ratio = tumour_to_normal_ratio(comps, proc.in_territory, tumour_particles, normal_particles)

    by_branch = {name: int(ps.nontarget[k]) for k, name in enumerate(proc.sink_names) if ps.nontarget[k] > 0}
    wedged = ~ps.stacked[:n]  # the occlusion front: particles that stopped where they no longer fit
    lodged_gen = lodging_generations(fate[wedged], where[wedged], proc.diameters_m[wedged], liver.forest.generation,
                                     comps.node, proc.net.comp_feed_diam, proc.net.murray_exponent,
                                     proc.net.deformability)
    outcomes = tissue_outcomes(comps, q_healthy, proc.q_base, proc.q_final, scenario.outcomes,
                               permanent=session_permanent(scenario), necrosis=necrosis, delivered=delivered,
                               q_blush_reference=proc.q_reference)
    verdict = assess_patient(scenario)
    summary = {
        **endpoint_summary(proc.rows, scenario.procedure, scenario.catheter.vessel),
        "endpoint": scenario.procedure.endpoint,
        "endpoint_reached": proc.stop_reason == "endpoint",
        "stop_reason": proc.stop_reason,
        "particles_injected": n,
        "particle_volume_ml": float(last["particle_volume_ml"]),
        "suspension_volume_ml": float(last["suspension_volume_ml"]),
        "particles_lodged_in_liver": lodged_in_liver,
        "particles_in_suspension": int((fate == tk.FATE_SUSPENDED).sum()),
        "tumour_particle_fraction": tumour_particles / n if n else 0.0,
        "tumour_to_normal_deposition_ratio": float(tn_ratio),
        **outcomes,
        "nontarget_particle_fraction": float((fate == tk.FATE_NONTARGET).sum() / n) if n else 0.0,
        "nontarget_particles_by_branch": by_branch,
        "reflux_volume_ml": float(proc.particle_volume_m3[ps.refluxed[:n]].sum() / ML_M3),
        **load_readouts(ps.lodged_ped, ps.lodged_trunk, node_share, trunk_share),
        "injection_time_min": float(last["suspension_volume_ml"]) / scenario.catheter.rate_ml_min,
        "vials": float(last["particle_volume_ml"]) * ML_M3 / proc.agent_vial_m3,
        "particles_per_cluster_mean": n / proc.n_units if proc.n_units else float("nan"),
        "lodging_generation_median": float(np.median(lodged_gen)) if lodged_gen.size else float("nan"),
        "arterial_fraction_baseline": arterial_fraction_normal(comps, q_healthy),
        "arterial_fraction_pre_procedure": arterial_fraction_normal(comps, proc.q_base),
        "antegrade_flow_baseline_ml_min": proc.tip_flow_baseline_m3s / ML_M3 * 60.0,
        "antegrade_flow_reference_ml_min": proc.tip_flow_reference_m3s / ML_M3 * 60.0,
        "lodgings": int(ps.counters[1]),
        "incremental_updates": int(ps.counters[2]),
        "trunk_solves": int(ps.counters[3]),
        "full_solves": 2 * len(proc.rows) + 2,
        "catheter_vessel": scenario.catheter.vessel,
        "agent": " then ".join(proc.agent_names),
        "patient_eligible": verdict.eligible,
        "patient_findings": [f.rule for f in verdict.findings],
        "seed": scenario.procedure.seed,
        "embosim_version": sim.__version__,
    }
    if not comps.tumour_volume_m3[tissue].sum() > 0:  # no viable tumour: its devascularisation is undefined (n/a)
        summary["tumour_devascularised_fraction"] = float("nan")
        summary["tumour_necrosis_fraction"] = float("nan")
    return summary


def _contrast_runs(flow):
    """The baseline contrast run's read-outs now; a function giving the end-of-procedure run's later."""
    from .angiography import catheter_limit_m3s, contrast_readouts

    before = contrast_readouts(flow, like=flow.state)  # its state is as solved (LiverFlow, coils)
    reference = before["native_tip_flow_m3s"]

    def after(final_flow) -> dict[str, float]:
        """The end-of-procedure run's read-outs. For a trunk tip, whose injection is not in the 2-ports, they share
        ``final_flow``'s 2-ports: the run's incremental updates (``twoport.update_two_ports`` on every path whose
        conductances changed) leave exactly those a fresh elimination gives, the same rule on the same inputs."""
        like = final_flow.state if final_flow.catheter.tip_trunk_node >= 0 else None
        end = contrast_readouts(final_flow, reference, like=like)
        return {"catheter_max_rate_ml_s": catheter_limit_m3s(flow) / ML_M3,
                "angiogram_rate_baseline_ml_s": before["rate_ml_s"], "angiogram_reflux_baseline_ml": before["reflux_ml"],
                "angiogram_rate_final_ml_s": end["rate_ml_s"], "angiogram_reflux_ml": end["reflux_ml"],
                "angiogram_bed_acceptance_final_ml_s": end["bed_acceptance_ml_s"]}

    return after


def _course(prior: RunResult | None, scenario: Scenario, flow_liver, q_healthy: np.ndarray, q_base: np.ndarray,
            q_final: np.ndarray, necrosis: tuple[np.ndarray, np.ndarray]):
    """The course of sessions after this one (:class:`sim.interval.Course`): cumulative necrosis, function lost.

    ``necrosis``: :func:`sim.outcomes.compartment_necrosis` of the session against ``q_base`` (used when
    there is no earlier session: the course's reference is then ``q_base``).
    """
    from .interval import advance_course
    from .outcomes import compartment_necrosis, tissue_volumes

    before = None if prior is None else prior.state.get("course")
    if before is None:
        tumour, normal = necrosis
    else:
        tumour, normal = compartment_necrosis(q_healthy, before.reference_flow_m3s, q_final, scenario.outcomes,
                                              permanent=session_permanent(scenario))
    return advance_course(before, scenario.interval, tumour, normal, *tissue_volumes(flow_liver.compartments),
                          q_base)


def placed_flow(compiled, scenario: Scenario):
    """The flow model of ``compiled`` (a CompiledLiver) with ``scenario``'s catheter placed and its coils in
    (:func:`sim.coils.apply_coils`, before any injection): ``(LiverFlow, the coils' summary keys)``. Solved without
    its substitution unless coils read the flows (the procedure substitutes every node at once)."""
    from .flow.model import LiverFlow

    flow = LiverFlow(compiled, scenario, catheter=True, substitute=bool(scenario.procedure.coils))
    return flow, apply_coils(flow, scenario)


def run(scenario: Scenario, *, rng=None, progress: bool = True, liver=None, prior: RunResult | None = None,
        watch=None) -> RunResult:
    """Simulate one embolisation of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        ``None`` seeds from ``procedure.seed``; an int replaces it (and is
        recorded), as does a fresh ``SeedSequence(int)`` (the same draws); a Generator
        or any other SeedSequence is used as given (the seed recorded is then the
        scenario's, which did not produce the draws).
    progress : bool
        Show progress bars (tqdm).
    liver : Liver, optional
        A liver already built from a scenario with the same ``[liver]``,
        ``[anatomy]``, ``[[tumours]]`` and ``[flow]`` (shared by strategies and
        sweeps); built from ``scenario`` when omitted.
    prior : RunResult, optional
        The previous session on the same liver (staged treatment): the embolic load
        of every earlier session it carried, plus its own if its agent is permanent,
        is in place from the start (chains of any length keep every session's load),
        less what recanalises in ``scenario.interval.weeks`` (none at 0 weeks;
        :mod:`sim.interval`). The course's cumulative necrosis and normal-liver
        function lost carry on (``state["course"]``). The endpoint, the SACE level and
        the blushes are read against the vessels before any load, as the first
        session's: a vessel left at its endpoint takes no particle (docs/endpoints.md).
    watch : callable, optional
        ``watch(compiled_liver) -> sim.procedure.VesselWatch``, given the catheter-placed liver: the
        arteries whose native flow is recorded at every time-series row, in ``state["watched_flow_m3s"]``
        (rows x vessels, m^3/s; the explorer's replay). Not for the batched SIRT delivery (no key
        then). Changes no other output.

    Returns
    -------
    RunResult
        Summary, time series, final state and a Markdown report.

    Raises
    ------
    ScenarioError
        Bad input detected while building the liver or placing the catheter.

    Examples
    --------
    >>> from sim.scenario import Scenario
    >>> small = Scenario().with_updates({"liver.terminal_diameter_um": 300.0})
    >>> result = run(small, progress=False)          # doctest: +SKIP
    >>> result.summary["sace_level"]                  # doctest: +SKIP
    4
    """
    from .anatomy import build_liver
    from .angiography import with_load

    started = time.perf_counter()
    require_scenario(scenario, "sim.run")
    if liver is not None and not hasattr(liver, "compiled"):
        raise TypeError(f"liver: a Liver of this scenario's anatomy (sim.build_liver), not {type(liver).__name__}")
    if prior is not None:  # a later session continues on the same liver (review 16: a numpy broadcast error)
        if not isinstance(prior, RunResult):
            raise TypeError(f"prior: the RunResult of the earlier session (sim.run's return), not {type(prior).__name__}")
        _check_same_anatomy(prior.scenario, scenario, what="prior: the earlier session ran on a liver built for",
                            fix="a later session continues on the same liver: keep those sections equal")
    generator, scenario = _generator(scenario, rng)
    if liver is None:
        liver = build_liver(scenario, progress=progress)
    else:
        from .anatomy.liver import check_catheter_on

        _check_same_anatomy(liver.scenario, scenario)
        if hasattr(liver, "vessel"):  # a built Liver (a compiled one alone, sim.testing's, names no vessels)
            check_catheter_on(scenario, liver)  # (a shared liver is built without its first user's catheter, review 52)
    flow, coils = placed_flow(liver.compiled, scenario)
    q_healthy = healthy_compartment_flows(flow)
    liquid, agents, with_particles = session_agents(scenario)
    prior_load = carried_load(prior, scenario)
    contrast_runs = _contrast_runs(with_load(flow, prior_load))  # the first angiogram's: a later session's loaded
    batched = liquid is None and len(agents) == 1 and agents[0][0].y90 is not None and prior_load is None
    if batched:  # SIRT: tens of millions of spheres, batched, with the product's injection practice (docs/sirt.md)
        from .sirt_delivery import deliver_sirt

        proc, delivery_keys = deliver_sirt(flow.liver, flow.state, flow.catheter, scenario, agents[0][0],
                                           rng=generator)
    else:
        proc = run_procedure(flow.liver, flow.state, flow.catheter, scenario, agents, rng=generator,
                             progress=progress, prior=prior_load, liquid=liquid, particles=with_particles,
                             solved=True,  # flow.state's 2-ports as LiverFlow and the coils eliminated them
                             watch=watch(flow.liver) if watch is not None else None)
    delivered = deliveries(q_healthy, proc.q_base, proc.q_final, scenario.outcomes)  # the necrosis' and the summary's
    necrosis = compartment_necrosis(q_healthy, proc.q_base, proc.q_final, scenario.outcomes,
                                    permanent=session_permanent(scenario), delivered=delivered)  # the summary's and the course's
    summary = summarise(scenario, proc, flow, q_healthy, necrosis=necrosis, delivered=delivered)
    summary.update(contrast_runs(flow))
    summary.update(coils)
    course = _course(prior, scenario, flow.liver, q_healthy, proc.q_base, proc.q_final, necrosis)
    summary["normal_function_loss_fraction"] = course.function_loss
    summary["normal_function_loss_peak_fraction"] = course.function_loss_peak
    dvh = sirt_arrays = None
    if liquid is None and agents[0][0].y90 is not None:  # SIRT: activity, doses, DVH (sim/sirt_run.py, docs/sirt.md)
        from .sirt_run import sirt_readouts

        sirt_summary, dvh, dosing = sirt_readouts(scenario, flow.liver, proc.state, proc.n_injected, agents[0][0],
                                                  proc.in_territory, proc.sink_names)
        summary.update(sirt_summary)
        from .sirt_compare import sirt_comparison  # MAA vs Y-90 from the same position, and the figures' arrays

        compared, sirt_arrays = sirt_comparison(scenario, liver, flow.liver, proc.state, agents[0][0],
                                                proc.in_territory, proc.state.fate[:proc.n_injected],
                                                proc.state.where[:proc.n_injected], dosing)
        summary.update(compared)
        if batched:
            summary.update(delivery_keys)
    if liquid is not None:  # cTACE: the Lipiodol read-outs (sim/lipiodol.py)
        summary.update(lipiodol_summary(flow.liver.compartments, liquid, proc.agent_names if with_particles else ()))
    summary.update(session_drug(scenario, flow.liver.compartments, proc.in_territory, liquid,
                                loaded_beads(scenario, proc, agents, flow.liver)))  # TACE drug
    summary["run_time_s"] = time.perf_counter() - started
    timeseries = pd.DataFrame(proc.rows)
    ps = proc.state
    kept = conductance_fractions(proc.geometry, ps.load)  # the share of its conductance each element keeps
    record = stack_session(prior_load, load_record(flow.liver.trunk, proc.geometry, ps.load, kept), scenario)
    state = {"load": record, "prior_load": prior_load, "course": course,
             "lodged_pedicle": ps.lodged_ped, "lodged_trunk": ps.lodged_trunk,
             "lodged_compartment": ps.lodged_comp, "compartment_flow_baseline_m3s": proc.q_base,
             "compartment_flow_final_m3s": proc.q_final, "compartment_flow_healthy_m3s": q_healthy,
             "particle_diameter_m": proc.diameters_m, "particle_fate": ps.fate[:proc.n_injected],
             "particle_where": ps.where[:proc.n_injected], "particle_stacked": ps.stacked[:proc.n_injected],
             "nontarget_branches": proc.sink_names}  # every non-target exit of this liver (the summary's: those reached)
    if sirt_arrays is not None:  # SIRT: per-compartment doses and the MAA deposition (figures)
        state["sirt"] = sirt_arrays
    if proc.watched_flows is not None:
        state["watched_flow_m3s"] = proc.watched_flows
    if liquid is not None:  # where the oil went (figures): filled share of each compartment's sinusoids and venules
        filled = liquid.filled
        state["lipiodol_sinusoid_fill"] = np.divide(filled.sinusoid_m3, filled.sinusoid_capacity_m3,
                                                    out=np.zeros_like(filled.sinusoid_m3),
                                                    where=filled.sinusoid_capacity_m3 > 0)
        state["lipiodol_portal_fill"] = np.divide(filled.portal_m3, filled.portal_capacity_m3,
                                                  out=np.zeros_like(filled.portal_m3), where=filled.portal_capacity_m3 > 0)
    node_share, comp_share = tumour_share_of_lodgings(flow.liver.compartments,
                                                      np.asarray(flow.liver.forest.parent, np.int64))
    deposition = deposition_table(flow.liver, proc.geometry, ps.load, node_share, comp_share,
                                  trunk_tumour_share(flow.liver), kept)
    result = RunResult(scenario=scenario, summary=summary, timeseries=timeseries, state=state, liver=liver,
                       deposition=deposition, dvh=dvh)
    result.report = render_report(result)
    return result
