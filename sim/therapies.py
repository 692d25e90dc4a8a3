"""Therapies on one catheter position: bland TAE, cTACE and DEB-TACE (``embosim compare --therapies``).

A therapy replaces the agent (every agent key at its default but the therapy's own:
nothing of the scenario's agent carries over, so a cTACE scenario's temporary particles
or Lipiodol volume, or a Y-90 scenario's activity, do not leak into the bland or bead
rows); the liver, the tumour, the catheter and the endpoint stay the scenario's, so the
rows compare what the agent does from the same place (docs/tace.md). Each therapy runs ``replicates`` times with common
random numbers (replicate r has the same seed in every therapy) and the rows have
the columns of :func:`sim.strategies.run_strategies`, so the strategies' summary,
table and files serve them unchanged (``strategy`` holds the therapy's name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .scenario import AgentConfig, Scenario, ScenarioError

__all__ = ["THERAPIES", "CAPACITY", "therapy_scenario", "run_therapies", "lipiodol_note"]

#: Column of the cTACE rows: the Lipiodol the catheter's territory holds, mL (:func:`sim.lipiodol.territory_capacity_ml`).
CAPACITY = "lipiodol_territory_capacity_ml"

#: Scenario updates of each therapy (docs/tace.md): bland 100-300 um spheres; Lipiodol to stagnation (the volume the
#: catheter's territory holds, :func:`sim.lipiodol.territory_capacity_ml`, set by :func:`run_therapies`) with 50 mg
#: doxorubicin, then temporary 300-500 um particles (gelatin-sponge-like); 100-300 um beads loaded with 25 mg/mL
#: [DCBeadLoading].
THERAPIES: dict[str, dict[str, Any]] = {
    "tae": {"agent.kind": "microspheres", "agent.size_bin": "100-300", "agent.bead_doxorubicin_mg_per_ml": 0.0,
            "procedure.agent_sequence": []},
    "ctace": {"agent.kind": "lipiodol", "agent.emulsion_doxorubicin_mg": 50.0, "agent.permanent": False,
              "procedure.agent_sequence": [{"kind": "microspheres", "size_bin": "300-500"}]},
    "deb_tace": {"agent.kind": "microspheres", "agent.size_bin": "100-300", "agent.bead_doxorubicin_mg_per_ml": 25.0,
                 "procedure.agent_sequence": []},
}


def therapy_scenario(scenario: Scenario, therapy: str) -> Scenario:
    """``scenario`` with the agent of ``therapy`` (a key of :data:`THERAPIES`): the default agent with the therapy's
    keys, whatever the scenario's agent was.

    Raises
    ------
    ScenarioError
        An unknown therapy (path ``therapies``).
    """
    if therapy not in THERAPIES:
        raise ScenarioError(f"unknown therapy {therapy!r}; allowed: {', '.join(THERAPIES)}", path="therapies")
    agent = AgentConfig().model_dump()
    agent.update({key.removeprefix("agent."): value for key, value in THERAPIES[therapy].items()
                  if key.startswith("agent.")})
    return scenario.with_updates({"agent": agent, **{key: value for key, value in THERAPIES[therapy].items()
                                                     if not key.startswith("agent.")}})


def _to_stagnation(config: Scenario, liver) -> tuple[Scenario, float]:
    """The cTACE therapy's Lipiodol: what its catheter's territory holds (review 37: a fixed 5 mL sent 44% of a
    segmental injection, and its drug, on to the lungs), at most the 30 mL a scenario allows: the scenario and the
    territory's capacity, mL."""
    from .lipiodol import territory_capacity_ml

    limit = type(config.agent).model_fields["lipiodol_volume_ml"].metadata  # (gt, le) of the scenario's key
    most = min(m.le for m in limit if getattr(m, "le", None) is not None)
    capacity = territory_capacity_ml(liver.compiled, config)
    volume = min(most, round(capacity, 2))
    if not volume > 0:
        raise ScenarioError(f"the catheter's territory ({config.catheter.vessel!r}) holds no liver tissue: no cTACE "
                            "from there (choose a hepatic artery)", path="catheter.vessel")
    return config.with_updates({"agent.lipiodol_volume_ml": volume}), capacity


def lipiodol_note(table) -> str:
    """One sentence on the cTACE row's Lipiodol volume against what the territory holds (``table``: the rows of
    :func:`run_therapies` or their summary), or "" without a cTACE: a volume capped at the scenario's most is said
    not to reach stagnation (review 39: the cap had been silent)."""
    rows = table[table["strategy"] == "ctace"]
    if rows.empty:
        return ""
    given, holds = float(rows["lipiodol_volume_ml"].iloc[0]), float(rows[CAPACITY].iloc[0])
    if given < round(holds, 2):
        return (f"cTACE: {given:.1f} mL of Lipiodol, the most a scenario allows (agent.lipiodol_volume_ml); the catheter's "
                f"territory holds {holds:.1f} mL, so this is short of stagnation.")
    return f"cTACE: {given:.1f} mL of Lipiodol, what the catheter's territory holds (to stagnation)."


def run_therapies(scenario: Scenario, therapies: Sequence[str] = tuple(THERAPIES), replicates: int = 5, *,
                  rng=None, progress: bool = False, liver=None):
    """Run each therapy from the scenario's catheter position on one liver: one row per run.

    Returns
    -------
    pandas.DataFrame
        The label columns of :func:`sim.strategies.run_strategies` (``strategy`` = the
        therapy), ``replicate``, ``seed`` and every numeric outcome (docs/outputs.md).
    """
    import pandas as pd

    from .anatomy import build_liver
    from .simulation import run
    from .strategies import METRICS_EXCLUDED, TOTAL

    if replicates < 1:
        raise ScenarioError(f"replicates must be at least 1 (got {replicates})", path="replicates")
    if not therapies or len(set(therapies)) != len(therapies):
        raise ScenarioError("give each therapy once, at least one", path="therapies")
    chosen = [therapy_scenario(scenario, t) for t in therapies]  # every therapy valid before anything runs
    root = np.random.SeedSequence(scenario.procedure.seed if rng is None else int(rng))
    seeds = [int(child.generate_state(1, np.uint32)[0]) for child in root.spawn(replicates)]
    liver = liver or build_liver(scenario, progress=progress)
    capacities = {}
    for k, name in enumerate(therapies):
        if name == "ctace":
            chosen[k], capacities[name] = _to_stagnation(chosen[k], liver)
    tumour = scenario.tumours[0] if scenario.tumours else None
    rows = []
    for name, config in zip(therapies, chosen):
        for r, seed in enumerate(seeds):
            summary = run(config, rng=seed, liver=liver, progress=False).summary
            outcomes = {k: float(v) for k, v in summary.items()
                        if isinstance(v, (bool, int, float, np.number)) and k not in METRICS_EXCLUDED}
            rows.append({"strategy": name, "session": TOTAL, "catheter": config.catheter.vessel,
                         "endpoint": config.procedure.endpoint, "tumour": tumour.name if tumour else "",
                         "segment": tumour.segment if tumour else "", "replicate": r, "seed": seed, **outcomes,
                         **({CAPACITY: capacities[name]} if name in capacities else {})})
    table = pd.DataFrame(rows)
    first = ["strategy", "session", "catheter", "endpoint", "tumour", "segment", "replicate", "seed"]
    return table[first + [c for c in table.columns if c not in first]]
