"""Case mode: shipped teaching cases with a hidden element, played to a scored debrief.

A case is a TOML file in ``sim/explore/cases/`` (installed as package data) or in a folder of an
educator's own (``embosim explore --cases DIR``, :func:`load_cases`); adding one needs no code. Its keys
(:class:`Case`):

* ``title``, ``summary`` (what the trainee is told), ``hidden`` (the element the case
  hides, revealed in the debrief), ``scenario`` (a shipped scenario name or a file
  relative to the case), ``diagnostic_vessel`` (where the catheter sits for the
  baseline angiogram);
* ``[expert]``: ``selection`` (``treat`` or ``decline``), and for a case the expert
  treats the ``vessel``, ``kind``, ``size_bin`` and ``endpoint`` chosen; ``why`` (the
  reasoning, citing ``[Key]`` of ``sim/references.bib``);
* ``decline_defensible`` (optional, false): the expert treats, but the patient has a relative
  contraindication the MDT weighs, so declining is a defensible judgement
  (:data:`DEFENSIBLE_SELECTION_POINTS`);
* ``target_tumour`` (optional): the name of the tumour the treatment is for (of several, the
  symptomatic one): the tumour necrosis row scores that tumour's necrosis, and the debrief shows its
  blush (:func:`target_readouts`), instead of all tumour's.

The trainee chooses: treat or decline, catheter vessel, agent kind and size, endpoint.
Their choices and the expert's are run on the same liver and seed, and
:func:`score` turns the two runs into points (:data:`POINTS`; docs/explorer.md); where the patient's
selection rules advise segmental treatments, a treatment that feeds more than one segment scores no
selection points (:func:`segmental_breach`).
"""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..catalogue import resolve_scenario
from ..lipiodol import session_permanent
from ..outcomes import TumourBlush, arterial_inflow, compartment_necrosis, tissue_volumes
from ..references import citations_in, load_bibliography
from ..scenario import Scenario, ScenarioError, check_catheter_vessel, load_scenario
from ..selection import Verdict, assess_patient
from ..strategies import segments_fed

if TYPE_CHECKING:
    from ..anatomy import Liver
    from ..results import RunResult

__all__ = ["CHOICE_KEYS", "Case", "Choice", "DEFENSIBLE_SELECTION_POINTS", "GUT_BRANCHES", "HARM_FLOOR", "HARM_MARGIN",
           "MAJOR_BILIARY_FRACTION", "MAJOR_GUT_PARTICLE_SHARE", "POINTS", "case_files", "load_case", "load_cases",
           "Debrief", "check_vessels_on", "debrief", "deliverable_sizes", "major_complication", "score", "scored_summary",
           "ScoreRow", "segmental_breach", "target_readouts", "tumour_efficacy"]

Endpoint = Literal["sluggish", "near_stasis", "stasis"]

#: Points of each part of the debrief (model assumption: a teaching weighting; selection first, then
#: what the procedure did to the tumour, the normal liver, the bile ducts and beyond the liver).
POINTS = {"selection": 30, "tumour_necrosis_fraction": 25, "normal_necrosis_fraction": 15,
          "biliary_ischaemic_fraction": 10, "nontarget_particle_fraction": 10, "suspension_volume_ml": 10}
#: Harms (less is better): the trainee matches the expert up to this factor of the expert's value plus
#: :data:`HARM_FLOOR` (model assumption: a 10% margin, and 0.2% of the tissue as the noise of one run).
HARM_MARGIN = 1.1
#: Absolute margin on a harm fraction (see :data:`HARM_MARGIN`).
HARM_FLOOR = 0.002
#: Selection points for declining a patient the expert treats when the case marks the decline defensible (a
#: relative contraindication [SeedDeckUHS]; model assumption, a teaching choice: more than a major complication,
#: which scores nothing, less than the expert's judgement).
DEFENSIBLE_SELECTION_POINTS = 20
#: Non-target beds of the arteries that feed the gut: the SMA (small bowel), the GDA (duodenum, pancreatic head),
#: the left and right gastric arteries (stomach) [TextbookAnatomy].
GUT_BRANCHES = ("SMA", "GDA", "LGA", "RGA")
#: A major complication: this share of the injected particles or more lodged in the gut's beds
#: (:data:`GUT_BRANCHES`; model assumption, a teaching choice: particles in the gut's arterioles infarct
#: mucosa, the gastroduodenal ulcer of non-target embolisation; a few stray particles are below it).
MAJOR_GUT_PARTICLE_SHARE = 0.02
#: A major complication in a patient with a biliary-enteric anastomosis: this fraction of the liver's bile
#: ducts ischaemic or more (model assumption, a teaching choice: more than about one Couinaud segment's
#: ducts; colonised ischaemic ducts become abscesses, and most abscesses after embolisation are in such
#: patients [Lv2016LiverAbscess]). Without an anastomosis biliary ischaemia is scored as a harm only.
MAJOR_BILIARY_FRACTION = 0.15


#: Scenario key set by each field of a :class:`Choice`.
CHOICE_KEYS = {"vessel": "catheter.vessel", "kind": "agent.kind", "size_bin": "agent.size_bin",
               "endpoint": "procedure.endpoint"}


class Choice(BaseModel):
    """A treatment choice: treat or decline, and if treating where and with what."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    selection: Literal["treat", "decline"]
    vessel: str = "A5"
    kind: Literal["microspheres", "pva"] = "microspheres"
    size_bin: Literal["40-120", "100-300", "300-500", "500-700", "700-900", "900-1200"] = "100-300"
    endpoint: Endpoint = "stasis"
    why: str = ""

    def updates(self) -> dict[str, Any]:
        """Scenario updates of this choice."""
        return {key: getattr(self, name) for name, key in CHOICE_KEYS.items()}

    @classmethod
    def options(cls, name: str) -> tuple[str, ...]:
        """The values a field takes (a ``Literal`` field: ``kind``, ``size_bin``, ``endpoint``, ``selection``)."""
        return typing.get_args(cls.model_fields[name].annotation)


class Case(BaseModel):
    """One case file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    hidden: str = Field(min_length=1)
    scenario: str
    diagnostic_vessel: str = "CHA"
    expert: Choice
    decline_defensible: bool = False
    target_tumour: str = ""
    name: str = ""
    source: str = ""

    @field_validator("title", "hidden", "summary", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:  # before the length check: blank text is no text
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _defensible_needs_a_treating_expert(self) -> Case:
        if self.decline_defensible and self.expert.selection != "treat":
            raise ValueError("decline_defensible = true needs [expert] selection = 'treat' (declining is the expert's)")
        return self

    def base_scenario(self, overrides: dict[str, Any] | None = None) -> Scenario:
        """The case's scenario (``overrides``: scenario updates applied first, e.g. a coarser liver)."""
        path = Path(self.source).parent / self.scenario if self.scenario.endswith(".toml") else self.scenario
        scenario = load_scenario(resolve_scenario(path))
        return scenario.with_updates(overrides) if overrides else scenario

    def scenario_for(self, choice: Choice, overrides: dict[str, Any] | None = None) -> Scenario:
        """The case's scenario with ``choice`` applied."""
        return self.base_scenario(overrides).with_updates(choice.updates())

    def diagnostic_scenario(self, overrides: dict[str, Any] | None = None) -> Scenario:
        """The case's scenario with the catheter where the baseline angiogram is taken."""
        return self.base_scenario(overrides).with_updates({"catheter.vessel": self.diagnostic_vessel})


#: Keys only a case file has: a TOML file of an educator's folder with none of them is a scenario (a case's
#: ``scenario`` beside it), not a case.
_CASE_ONLY_KEYS = ("summary", "hidden", "expert", "diagnostic_vessel", "decline_defensible", "target_tumour")


def _is_case_file(path: Path) -> bool:
    """Whether a ``.toml`` file of an educator's folder is a case: not hidden or an editor's file (``.x.toml``,
    ``#x.toml``), and not a scenario (none of :data:`_CASE_ONLY_KEYS`; a file that does not parse counts as a case,
    so that loading it names the error)."""
    if path.name.startswith((".", "#")):
        return False
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True
    return any(key in data for key in _CASE_ONLY_KEYS)


def case_files(folders: str | Path | Sequence[str | Path] = ()) -> list[Path]:
    """The shipped case files, by name, then those of ``folders`` (an educator's own: each folder's ``*.toml`` that
    is a case, :func:`_is_case_file`; a scenario file beside the cases is left to them).

    Raises
    ------
    ScenarioError
        A folder that does not exist or holds no case file (naming it).
    """
    shipped = resources.files("sim.explore") / "cases"
    files = sorted(Path(str(p)) for p in shipped.iterdir() if p.name.endswith(".toml"))
    folders = [folders] if isinstance(folders, (str, Path)) else folders
    for folder in dict.fromkeys(Path(f).resolve() for f in folders):  # a folder given twice is read once
        if not folder.is_dir():
            raise ScenarioError("no such folder (give a folder of case files, *.toml)", source=str(folder))
        own = sorted(p for p in folder.glob("*.toml") if _is_case_file(p))
        if not own:
            raise ScenarioError("no case file (*.toml with a summary, a hidden element and an [expert]) in this folder",
                                source=str(folder))
        files += own
    return files


def load_case(path: str | Path) -> Case:
    """Read and check a case file: its scenario loads, its vessels exist, its citations are in the bibliography.

    Raises
    ------
    ScenarioError
        Naming the file and the key.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        stray = [key for key in ("name", "source") if key in data]  # set from the file's name and place
        if stray:
            raise ScenarioError("not a key of a case file (the case is named after its file)", path=stray[0],
                                source=str(path))
        case = Case.model_validate({**data, "name": path.stem, "source": str(path)})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"cannot read the case ({exc})", source=str(path)) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ScenarioError(err["msg"].removeprefix("Value error, "), path=".".join(str(p) for p in err["loc"]),
                            source=str(path)) from None
    if not case.expert.why.strip():  # the debrief's "what an expert would have done and why"
        raise ScenarioError("empty: say what the expert chose and why (the debrief shows it)", path="expert.why",
                            source=str(path))
    known = load_bibliography()
    for key_path, text in (("summary", case.summary), ("hidden", case.hidden), ("expert.why", case.expert.why)):
        for key in citations_in(text):
            if key not in known:
                raise ScenarioError(f"cites [{key}], which is not in sim/references.bib", path=key_path,
                                    source=str(path))
    try:
        scenario = case.base_scenario()
    except ScenarioError as exc:  # the case's own key, then the scenario's file and message
        detail = f"{exc.path}: " if exc.path else ""
        raise ScenarioError(f"{exc.source or case.scenario}: {detail}{exc.message}", path="scenario",
                            source=str(path)) from None
    names = [t.name for t in scenario.tumours]
    if case.target_tumour and case.target_tumour not in names:
        raise ScenarioError(f"no tumour {case.target_tumour!r} in the scenario; its tumours: {', '.join(names)}",
                            path="target_tumour", source=str(path))
    _check_choice(case, scenario, {"catheter.vessel": case.diagnostic_vessel}, {"catheter.vessel": "diagnostic_vessel"})
    if case.expert.selection == "treat":
        _check_choice(case, scenario, case.expert.updates(), {key: f"expert.{name}" for name, key in CHOICE_KEYS.items()})
    return case


def _check_choice(case: Case, scenario: Scenario, updates: dict[str, Any], keys: dict[str, str]) -> None:
    """``scenario`` with ``updates`` (the diagnostic vessel, or the expert's choice) is valid and its named catheter
    vessel is in the case's Michels type; else a ScenarioError on the case's key (``keys``: scenario key to case key)."""
    try:
        check_catheter_vessel(scenario.with_updates(updates))
    except ScenarioError as exc:
        raise ScenarioError(exc.message, path=keys.get(exc.path, exc.path), source=case.source) from None


def deliverable_sizes(case: Case, kind: str, overrides: dict[str, Any] | None = None) -> list[str]:
    """The size bins (``Choice.options("size_bin")``) of agent ``kind`` that pass the case's catheter (the scenario's
    catheter-passage check): the sizes case mode offers, since the trainee cannot change the catheter."""
    base = case.base_scenario(overrides)
    sizes = []
    for size in Choice.options("size_bin"):
        try:
            base.with_updates({"agent.kind": kind, "agent.size_bin": size})
        except ScenarioError:
            continue
        sizes.append(size)
    return sizes


def check_vessels_on(case: Case, liver: Liver) -> None:
    """The case's diagnostic and expert vessels exist on its built liver (a synthetic ``#<n>`` is known only there;
    named ones are checked by :func:`load_case`).

    Raises
    ------
    ScenarioError
        Naming the case file and ``diagnostic_vessel`` or ``expert.vessel``.
    """
    vessels = {"diagnostic_vessel": case.diagnostic_vessel}
    if case.expert.selection == "treat":
        vessels["expert.vessel"] = case.expert.vessel
    for key, vessel in vessels.items():
        try:
            liver.vessel(vessel)
        except KeyError as exc:
            raise ScenarioError(str(exc.args[0]), path=key, source=case.source) from None


def load_cases(folders: str | Path | Sequence[str | Path] = ()) -> dict[str, Case]:
    """Every shipped case and those of ``folders`` (:func:`case_files`), by file stem.

    Raises
    ------
    ScenarioError
        A bad case file (:func:`load_case`), or two files of one name or one title (the page lists cases by title).
    """
    cases: dict[str, Case] = {}
    titles: dict[str, Case] = {}
    for path in case_files(folders):
        case = load_case(path)
        other = cases.get(case.name) or titles.get(case.title)
        if other is not None:
            same = "name" if other.name == case.name else "title"
            raise ScenarioError(f"the same {same} as {other.source}: a case is listed by its title and named after its "
                                "file, so rename the file or change the title", path="title" if same == "title" else "",
                                source=str(path))
        cases[case.name] = titles[case.title] = case
    return cases


@dataclass(frozen=True)
class ScoreRow:
    """One line of the debrief: what was measured, the trainee's and the expert's value, the points."""

    item: str
    trainee: str
    expert: str
    points: float
    out_of: int


#: Debrief labels of the scored outcomes.
_LABELS = {"tumour_necrosis_fraction": "tumour necrosis (fraction)",
           "normal_necrosis_fraction": "normal liver necrosis (fraction)",
           "biliary_ischaemic_fraction": "biliary ischaemia (fraction)",
           "nontarget_particle_fraction": "non-target embolisation (fraction of particles)",
           "suspension_volume_ml": "suspension volume used (mL)"}


def _harm_share(trainee: float, expert: float) -> float:
    """Share of a harm's points: all up to its allowance (``HARM_MARGIN`` x the expert's + ``HARM_FLOOR``), then
    the allowance over the trainee's value."""
    allowed = HARM_MARGIN * expert + HARM_FLOOR
    return 1.0 if trainee <= allowed else allowed / trainee


def target_readouts(result, tumour: str) -> dict[str, float]:
    """The summary's ``tumour_necrosis_fraction`` and ``tumour_blush_fraction`` of the tumour named ``tumour`` alone,
    after the run ``result`` (a ``RunResult``), 0-1.

    Volume-weighted over the compartments that tumour dominates (``Compartments.tumour_id``; a compartment
    shared with a touching tumour counts for the larger part), from the run's baseline, final and healthy
    compartment flows, as the summary's (:func:`sim.outcomes.compartment_necrosis`,
    :class:`sim.outcomes.TumourBlush`).
    """
    scenario, liver, state = result.scenario, result.liver, result.state
    comps = liver.compiled.compartments
    index = list(liver.tumours.names).index(tumour)
    base, final = state["compartment_flow_baseline_m3s"], state["compartment_flow_final_m3s"]
    necrosis, _ = compartment_necrosis(state["compartment_flow_healthy_m3s"], base, final, scenario.outcomes,
                                       permanent=session_permanent(scenario))
    volume = np.where(comps.tumour_id == index, tissue_volumes(comps)[0], 0.0)
    return {"tumour_necrosis_fraction": float((necrosis * volume).sum() / volume.sum()),
            "tumour_blush_fraction": TumourBlush(volume, arterial_inflow(base))(arterial_inflow(final))}


def segmental_breach(verdict: Verdict, liver: Liver, vessel: str) -> str:
    """The patient's advice for segmental treatments when a catheter in ``vessel`` feeds more than one segment, else "".

    The advice is a finding of the patient's selection whose plan sets ``("catheter", "segmental")`` (disease
    burden over 50% [SeedDeckUHS], :mod:`sim.selection`); the segments a vessel feeds are
    :func:`sim.strategies.segments_fed` (a lobar artery several, a segmental artery or a synthetic vessel one).
    """
    advice = next((f.message for f in verdict.findings if ("catheter", "segmental") in f.plan), "")
    return advice if advice and len(segments_fed(liver, vessel)) > 1 else ""


def major_complication(summary: dict, biliary_enteric_anastomosis: bool) -> str:
    """What makes a run a major complication, or "" (:data:`MAJOR_GUT_PARTICLE_SHARE`, :data:`MAJOR_BILIARY_FRACTION`).

    Parameters
    ----------
    summary : dict
        ``RunResult.summary`` (``particles_injected``, ``nontarget_particles_by_branch``,
        ``biliary_ischaemic_fraction``).
    biliary_enteric_anastomosis : bool
        The patient's (``patient.biliary_enteric_anastomosis``).
    """
    injected = summary["particles_injected"]
    by_branch = summary["nontarget_particles_by_branch"]
    gut = sum(by_branch.get(name, 0) for name in GUT_BRANCHES) / injected if injected else 0.0
    if gut >= MAJOR_GUT_PARTICLE_SHARE:
        names = ", ".join(name for name in GUT_BRANCHES if by_branch.get(name, 0))
        return f"gut embolised: {gut:.0%} of the particles in the {names} bed (ulceration, bowel ischaemia)"
    biliary = summary["biliary_ischaemic_fraction"]
    if biliary_enteric_anastomosis and biliary >= MAJOR_BILIARY_FRACTION:
        return (f"bile ducts ischaemic ({biliary:.2f} of the liver's) behind a biliary-enteric anastomosis "
                "(abscess, biloma)")
    return ""


def tumour_efficacy(trainee: dict, expert: dict) -> float:
    """The trainee's tumour necrosis as a share of the expert's, at most 1 (two runs' summaries): the tumour row's
    share of its points, and the factor of every harm and volume row (:func:`_shares`)."""
    t_nec, e_nec = float(trainee["tumour_necrosis_fraction"]), float(expert["tumour_necrosis_fraction"])
    return 1.0 if t_nec >= e_nec else t_nec / e_nec


def _shares(trainee: dict, expert: dict) -> dict[str, float]:
    """Share of each scored outcome's points for two runs' summaries (both treated, no major complication).

    * tumour necrosis: all if at least the expert's, else in proportion (the efficacy);
    * each harm (normal liver, bile ducts, non-target): :func:`_harm_share` times the efficacy, so
      that sparing tissue earns nothing when the tumour was not treated either;
    * volume: all up to ``HARM_MARGIN`` times the expert's (using less is never penalised), then that
      over the trainee's, times the efficacy.
    """
    efficacy = tumour_efficacy(trainee, expert)
    harms = ("normal_necrosis_fraction", "biliary_ischaemic_fraction", "nontarget_particle_fraction")
    harm = {key: _harm_share(trainee[key], expert[key]) for key in harms}
    allowed = HARM_MARGIN * expert["suspension_volume_ml"]
    t_vol = trainee["suspension_volume_ml"]
    volume = 1.0 if t_vol <= allowed else allowed / t_vol
    return {"tumour_necrosis_fraction": efficacy, **{k: efficacy * v for k, v in harm.items()},
            "suspension_volume_ml": efficacy * volume}


def score(choice: Choice, expert: Choice, trainee_summary: dict | None, expert_summary: dict | None, *,
          decline_defensible: bool = False, biliary_enteric_anastomosis: bool = False,
          target_tumour: str = "", segmental_breach: str = "") -> list[ScoreRow]:
    """The debrief's rows: selection, then each scored outcome of the two runs.

    Parameters
    ----------
    choice, expert : Choice
    trainee_summary, expert_summary : dict or None
        ``RunResult.summary`` of each choice's run (None when that choice declined).
    decline_defensible : bool
        The case's :attr:`Case.decline_defensible`.
    biliary_enteric_anastomosis : bool
        The patient's (``patient.biliary_enteric_anastomosis``): biliary ischaemia can be a major complication.
    target_tumour : str
        The case's :attr:`Case.target_tumour`: the summaries' ``tumour_necrosis_fraction`` are that tumour's
        (:func:`target_readouts`), and the row says so.
    segmental_breach : str
        :func:`segmental_breach` of the trainee's catheter: when set, the treatment scores no selection points
        (its plan breaks the principle the patient's selection rests on), and the row says so (the debrief
        lists the advice).

    Notes
    -----
    Treating a patient the expert declines, or declining one the expert treats, scores no outcome
    points: the procedure should (not) have happened; a defensible decline scores
    :data:`DEFENSIBLE_SELECTION_POINTS` for the selection. Declining with the expert scores everything.
    Both treating, each outcome scores its share (:func:`_shares`): efficacy first, harms only as far
    as the tumour was treated. A major complication (:func:`major_complication`) scores nothing at all,
    and a last row names it.
    """
    same = choice.selection == expert.selection
    selection = POINTS["selection"] if same else (
        DEFENSIBLE_SELECTION_POINTS if decline_defensible and choice.selection == "decline" else 0)
    yours, experts = choice.selection, expert.selection
    if segmental_breach and choice.selection == "treat":
        selection = 0
        yours = f"treat from {choice.vessel}: more than one segment, against the advice (below)"
        experts = f"treat segmentally ({expert.vessel})" if expert.selection == "treat" else experts
    major = major_complication(trainee_summary, biliary_enteric_anastomosis) if trainee_summary is not None else ""
    rows = [ScoreRow("patient selection", yours, experts, 0 if major else selection, POINTS["selection"])]
    both = trainee_summary is not None and expert_summary is not None
    shares = _shares({k: float(trainee_summary[k]) for k in _LABELS}, {k: float(expert_summary[k]) for k in _LABELS}) \
        if both else {}
    for key, label in _LABELS.items():
        if key == "tumour_necrosis_fraction" and target_tumour:
            label = f"necrosis of the target tumour, {target_tumour} (fraction)"
        out_of = POINTS[key]
        t = None if trainee_summary is None else float(trainee_summary[key])
        e = None if expert_summary is None else float(expert_summary[key])
        if major:
            points = 0.0
        elif both:
            points = out_of * shares[key]
        else:
            points = out_of if (same and choice.selection == "decline") else 0.0
        rows.append(ScoreRow(label, "-" if t is None else f"{t:.3g}", "-" if e is None else f"{e:.3g}", points, out_of))
    if major:
        rows.append(ScoreRow("major complication: nothing scores", major, "-", 0.0, 0))
    return rows


def scored_summary(result: RunResult, target_tumour: str = "") -> dict:
    """A run's summary as the debrief scores and shows it: with a target tumour, that tumour's necrosis and blush
    (:func:`target_readouts`) in place of all tumours'."""
    if not target_tumour:
        return result.summary
    return {**result.summary, **target_readouts(result, target_tumour)}


@dataclass(frozen=True)
class Debrief:
    """A played case: the score rows and what they were computed from.

    Attributes
    ----------
    rows : list of ScoreRow
    trainee_summary, expert_summary : dict or None
        :func:`scored_summary` of each run (None when that choice declined).
    verdict : sim.selection.Verdict
        The selection rules on the case's patient.
    segmental_breach : str
        :func:`segmental_breach` of the trainee's catheter ("" when none, or declined).
    """

    rows: list[ScoreRow]
    trainee_summary: dict | None
    expert_summary: dict | None
    verdict: Verdict
    segmental_breach: str

    @property
    def total(self) -> float:
        """Points scored (of ``sum(POINTS.values())``)."""
        return sum(row.points for row in self.rows)


def debrief(case: Case, choice: Choice, trainee: RunResult | None, expert: RunResult | None,
            overrides: dict[str, Any] | None = None) -> Debrief:
    """Score a played case: the trainee's and the expert's runs (None for a decline), on the case's patient.

    ``overrides`` are the scenario updates the runs were made with (:meth:`Case.base_scenario`).
    """
    patient = case.base_scenario(overrides)
    verdict = assess_patient(patient)
    trainee_summary = None if trainee is None else scored_summary(trainee, case.target_tumour)
    expert_summary = None if expert is None else scored_summary(expert, case.target_tumour)
    breach = "" if trainee is None else segmental_breach(verdict, trainee.liver, choice.vessel)
    rows = score(choice, case.expert, trainee_summary, expert_summary, decline_defensible=case.decline_defensible,
                 biliary_enteric_anastomosis=patient.patient.biliary_enteric_anastomosis,
                 target_tumour=case.target_tumour, segmental_breach=breach)
    return Debrief(rows, trainee_summary, expert_summary, verdict, breach)
