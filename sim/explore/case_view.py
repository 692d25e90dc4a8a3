"""Case mode on the page: pick a case, read the patient, see the baseline DSA, choose, get the debrief.

The case opens on the baseline angiogram; further diagnostic angiograms can be taken from the
arteries of a work-up (:data:`DIAGNOSTIC_VESSELS`). The angiogram on show is clickable: a click picks
the nearest artery it opacifies as the catheter position; the vessel name can be typed instead.
Either way only an artery some angiogram of the case has shown can be chosen: a hidden variant (a
replaced hepatic artery) has to be looked for, as in the angiography suite.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import panel as pn
from bokeh.events import Tap
from pydantic import ValidationError

from ..endpoints import stop_reason_words
from ..scenario import Scenario, ScenarioError, check_catheter_vessel
from . import compute
from .cases import CHOICE_KEYS, POINTS, Case, Choice, check_vessels_on, debrief, deliverable_sizes, load_cases, tumour_efficacy
from .controls import CONTROLS
from .figures import DEFAULT_PHASE, DSA_PHASES, DsaFigure

__all__ = ["CaseView", "DIAGNOSTIC_VESSELS", "patient_table", "debrief_markdown", "points_text", "shown_points",
           "shown_total", "stop_text"]

_CONTROL = {c.key: c for c in CONTROLS}
#: Where the trainee can take a diagnostic angiogram from: the coeliac trunk and the SMA of a mesenteric work-up,
#: and selectively the common hepatic and left gastric arteries (every Michels type has them; a replaced or
#: accessory hepatic artery shows only from the SMA or the LGA it leaves [Michels1966]).
DIAGNOSTIC_VESSELS = ("coeliac", "CHA", "SMA", "LGA")


def patient_table(scenario: Scenario) -> pd.DataFrame:
    """What the referral tells: the ``[patient]`` section with units."""
    p = scenario.patient
    rows = [("tumour grade", p.tumour_grade, "-"), ("Ki-67", f"{p.ki67_percent:g}", "%"),
            ("bilirubin", f"{p.bilirubin_umol_l:g}", "umol/L"), ("albumin", f"{p.albumin_g_l:g}", "g/L"),
            ("ascites", "yes" if p.ascites else "no", "-"), ("ECOG", str(p.ecog), "-"),
            ("extrahepatic supply excluded on imaging", "yes" if p.extrahepatic_supply_excluded else "no", "-"),
            ("biliary-enteric anastomosis", "yes" if p.biliary_enteric_anastomosis else "no", "-"),
            ("arterial dissection", "yes" if p.arterial_dissection else "no", "-")]
    return pd.DataFrame(rows, columns=["", "value", "unit"])


def shown_points(points: float) -> float:
    """Points as the debrief shows them: rounded down to a tenth, so that only full marks read as full marks (99.96
    is 99.9, not 100)."""
    return math.floor(points * 10.0 + 1e-9) / 10.0 if math.isfinite(points) else points  # (24.999999999999996: 25)


def shown_total(points) -> float:
    """The total the debrief shows: the sum of its rows as shown (:func:`shown_points`), so that the rows add up to it
    (review 54: five rows rounded down summed to 0.4 under a total of the unrounded points)."""
    return round(sum(shown_points(p) for p in points), 1)


def points_text(points: float) -> str:
    """:func:`shown_points` as text: whole numbers without a decimal ("25"); "n/a" for a score that is not a
    number."""
    if not math.isfinite(points):
        return "n/a"
    tenths = shown_points(points)
    return f"{tenths:.0f}" if tenths == round(tenths) else f"{tenths:.1f}"


def stop_text(summary: dict) -> str:
    """How a run's injection ended, in the debrief's words (``endpoint_reached``, ``stop_reason``, volume); "" for a
    summary without them (the scored keys alone, as docs/data/case_scores.json stores them)."""
    if not {"endpoint", "endpoint_reached", "stop_reason"} <= summary.keys():
        return ""
    volume = f"{summary['suspension_volume_ml']:.3g} mL of suspension"
    if summary["endpoint_reached"]:
        return f"reached its endpoint ({summary['endpoint'].replace('_', ' ')}) after {volume}"
    why = {"max_volume": "the maximum volume (procedure.max_volume_ml) was given",
           "packed_to_tip": "the particles packed back to the catheter tip",
           "reflux": "the injection refluxed"}.get(summary["stop_reason"], stop_reason_words(summary["stop_reason"]))
    return f"stopped before its endpoint ({summary['endpoint'].replace('_', ' ')}): {why}, after {volume}"


def _nontarget_text(summary: dict) -> str:
    """A run's non-target particles by branch, as shares of the particles injected ("cystic 7.9%"); "none"."""
    injected = summary.get("particles_injected", 0)
    by_branch = sorted(summary["nontarget_particles_by_branch"].items(), key=lambda item: -item[1])
    return ", ".join(f"{branch} {count / injected:.1%}" for branch, count in by_branch if count) if injected and \
        any(count for _, count in by_branch) else "none"


def debrief_markdown(case: Case, choice: Choice, rows, trainee_verdict, trainee_summary: dict | None = None,
                     expert_summary: dict | None = None) -> str:
    """The debrief: score table, the residual tumour blush of each run, the hidden element, what the expert did and
    why, the verdict's findings (``*_summary``: each run's ``RunResult.summary``, None when declined)."""
    total = shown_total(r.points for r in rows)
    out_of = sum(POINTS.values())
    lines = [f"## Debrief: {points_text(total)} / {out_of} points", "",
             "| | you | expert | points |", "|---|---|---|---|"]
    lines += [f"| {r.item} | {r.trainee} | {r.expert} | {points_text(r.points)} / {r.out_of} |" for r in rows]
    major = any(r.out_of == 0 for r in rows)  # (the major complication's row: nothing scores)
    if trainee_summary is not None and expert_summary is not None and not major:
        # (review 51: a trainee below the expert on every harm, scoring 3 of 10 on each, could not tell why)
        efficacy = tumour_efficacy(trainee_summary, expert_summary)
        lines += ["", f"The harm and volume rows score what you spared **times your tumour necrosis as a share of the "
                      f"expert's ({efficacy:.0%})**" + (": sparing the liver by leaving the tumour alive earns nothing."
                                                        if efficacy < 1.0 else ".")]
    lines += ["", "*Points are rounded down to a tenth; the total is the sum of the rows as shown.*"]
    expert = case.expert
    did = "declined the procedure" if expert.selection == "decline" else (
        f"treated from **{expert.vessel}** with {expert.size_bin} um {expert.kind} to **{expert.endpoint}**")
    yours = "declined" if choice.selection == "decline" else (
        f"treated from **{choice.vessel}** with {choice.size_bin} um {choice.kind} to **{choice.endpoint}**")
    blush = [f"{who} {s['tumour_blush_fraction']:.0%} of its baseline" for who, s in
             (("yours", trainee_summary), ("the expert's", expert_summary)) if s is not None]
    if blush:  # the angiogram after: what a residual supply (a parasitised feeder) leaves
        whose = f"target tumour ({case.target_tumour})" if case.target_tumour else "tumour"
        lines += ["", f"**Blush of the {whose} at the end of the procedure:** {'; '.join(blush)}."]
    gone = [f"{who}: {_nontarget_text(summ)}" for who, summ in (("yours", trainee_summary), ("the expert's", expert_summary))
            if summ is not None and "nontarget_particles_by_branch" in summ]
    if any(not text.endswith(": none") for text in gone):  # (review 51: a non-target share without its branch)
        lines += ["", f"**Where the non-target particles went** (share of the particles injected): {'; '.join(gone)}."]
    stops = [f"{who} {stop_text(summ)}" for who, summ in (("yours", trainee_summary), ("the expert's", expert_summary))
             if summ is not None and stop_text(summ)]
    if stops:  # a run that stopped short of its endpoint is not the procedure it was meant to be
        lines += ["", f"**The injection:** {'; '.join(stops)}."]
    lines += ["", f"**The hidden element.** {case.hidden}", "", f"**You** {yours}; **the expert** {did}.", "",
              f"**Why.** {' '.join(expert.why.split())}", "",
              "**Patient selection rules on this patient** (`embosim check-patient`):", "",
              trainee_verdict.to_markdown(), "", "Sources: the [Key] entries of `embosim docs references`."]
    return "\n".join(lines)


#: The case's angiogram width, pixels (the patient column, it and the choices fit a 1280 px window).
CASE_DSA_WIDTH_PX = 460

#: The debrief's score table: columns with room between them, the points right-aligned (review 36: narrow columns).
_DEBRIEF_CSS = "table { border-collapse: collapse; } th, td { padding: 5px 16px; } td:last-child { text-align: right; }"


class CaseView:
    """The case-mode tab.

    Parameters
    ----------
    cache : LiverCache
    worker : Worker
        Shared with the explorer (one status line and error box).
    overrides : dict, optional
        Scenario updates applied to every case (a coarser liver for tests).
    case_folders : sequence of str or Path
        Folders of an educator's own case files, listed after the shipped ones (:func:`.cases.load_cases`).
    """

    def __init__(self, cache, worker, *, overrides: dict[str, Any] | None = None, case_folders=()):
        self.cache, self.worker, self.overrides = cache, worker, overrides
        self.cases = load_cases(case_folders)
        self.case: Case | None = None
        self.scene: compute.LiverScene | None = None
        self.choose = pn.widgets.Select(label="Case", options={c.title: name for name, c in self.cases.items()},
                                        width=420, css_classes=["embosim-case-select"])
        self.start = pn.widgets.Button(label="Start the case", color="primary", width=200,
                                       css_classes=["embosim-case-start"])
        self.start.on_click(self._on_start)
        self.choose.param.watch(self._on_choose, "value")
        self.summary = pn.pane.Markdown("Choose a case and press **Start the case**.", width=400,
                                        css_classes=["embosim-case-summary"])
        self.patient = pn.pane.DataFrame(pd.DataFrame(), index=False, width=400)
        # one angiogram, wider than the explorer's pair (review 51: at 310 px a 45 mm metastasis did not show), in
        # the phase chosen: the capillary phase shows the tumour blush, the arterial one the arteries to click
        self.angiogram = DsaFigure("case-dsa", "Diagnostic angiogram (click an artery)", width_px=CASE_DSA_WIDTH_PX)
        self.angiogram.figure.on_event(Tap, self._on_tap)
        self.phase = pn.widgets.RadioButtonGroup(options=list(DSA_PHASES), value=DEFAULT_PHASE,
                                                 css_classes=["embosim-case-phase"])
        self.phase.param.watch(lambda event: self._show_angiogram(), "value")
        self.dsa: compute.Angiograms | None = None  # the diagnostic run on show
        # diagnostic runs, as in a work-up: a hidden variant shows only from the artery it leaves
        self.run_from = pn.widgets.Select(label="Diagnostic angiogram from", options=list(DIAGNOSTIC_VESSELS), width=200,
                                          css_classes=["embosim-case-run-from"])
        self.take = pn.widgets.Button(label="Take the angiogram", width=200, disabled=True,
                                      css_classes=["embosim-case-take"])
        self.take.on_click(self._on_take)
        self.shown: frozenset[str] = frozenset()  # the arteries the angiogram on show opacifies (clickable)
        self.seen: set[str] = set()  # every artery an angiogram of this case has shown (choosable)
        self.selection = pn.widgets.RadioButtonGroup(label="Patient selection", options=["treat", "decline"],
                                                     value="treat", color="default")
        self.vessel = pn.widgets.TextInput(label=_CONTROL["catheter.vessel"].title, value="", width=300,
                                           placeholder="click an artery on the angiogram, or type its name")
        # the choices a case takes (Choice): no option the debrief would refuse (the sizes: those of the kind that
        # pass the case's catheter, set when a case starts and when the kind changes)
        self.kind = pn.widgets.Select(label=_CONTROL["agent.kind"].title, options=list(Choice.options("kind")),
                                      width=300)
        self.size = pn.widgets.Select(label=_CONTROL["agent.size_bin"].title,
                                      options=list(Choice.options("size_bin")), value="100-300", width=300)
        self.kind.param.watch(lambda event: self._offer_sizes(), "value")
        self.endpoint = pn.widgets.Select(label=_CONTROL["procedure.endpoint"].title,
                                          options=list(Choice.options("endpoint")), value="stasis", width=300)
        # every case opens on this form (review 51: the last case's decline and endpoint carried over and were scored)
        self._blank_form = {self.selection: self.selection.value, self.vessel: "", self.kind: self.kind.value,
                            self.size: self.size.value, self.endpoint: self.endpoint.value, self.phase: DEFAULT_PHASE}
        self.debriefed = False  # a case's debrief is final: Submit waits for Start (review 54: a copied answer scored 100)
        self.selection.param.watch(lambda event: self._show_treatment_choices(), "value")
        self.submit = pn.widgets.Button(label="Submit and debrief", color="primary", width=300, disabled=True,
                                        css_classes=["embosim-case-submit"])
        self.submit.on_click(self._on_submit)
        self._buttons = (self.start, self.take, self.submit)  # disabled while any of their work runs
        self.debrief = pn.pane.Markdown("", width=900, css_classes=["embosim-debrief"], stylesheets=[_DEBRIEF_CSS])
        self.trainee_summary: dict | None = None
        self.expert_summary: dict | None = None
        self.panel = pn.Column(
            pn.Row(self.choose, self.start),
            pn.Row(pn.Column(self.summary, self.patient),
                   pn.Column(pn.pane.Bokeh(self.angiogram.figure), self.phase, pn.Row(self.run_from, self.take)),
                   pn.Column(pn.pane.Markdown("**Patient selection**"), self.selection, self.vessel, self.kind,
                             self.size, self.endpoint, self.submit)),
            self.debrief)

    async def _on_start(self, event=None) -> None:
        # one piece of work at a time (a Take or Submit still running would write into the new case)
        if self.worker.refused_while_busy("Start the case"):
            return
        self.worker.clear_error()
        self.case = self.cases[self.choose.value]
        self.debrief.object = ""
        self.debriefed = False
        self.seen, self.shown, self.scene, self.dsa = set(), frozenset(), None, None
        self.summary.object = f"### {self.case.title}\n\n{' '.join(self.case.summary.split())}"
        for widget, value in self._blank_form.items():
            widget.value = value
        ready = False
        async with self.worker.task(*self._buttons):
            scenario = self.case.diagnostic_scenario(self.overrides)
            self.patient.object = patient_table(scenario)
            liver = await self.worker.run("building the case's liver (first time; cached afterwards)", self.cache.get,
                                          scenario)
            check_vessels_on(self.case, liver)  # a synthetic #<n> of the case file exists (named ones: at load)
            self._offer_sizes()
            self.run_from.options = list(dict.fromkeys((self.case.diagnostic_vessel, *DIAGNOSTIC_VESSELS)))
            self.run_from.value = self.case.diagnostic_vessel
            await self._angiogram_from(self.case.diagnostic_vessel)
            self.worker.done(f"Case ready: the baseline angiogram is from the **{self.case.diagnostic_vessel}**. Choose "
                             "the treatment (click an artery for the catheter), then **Submit**.")
            ready = True
        self.submit.disabled = self.take.disabled = not ready

    def _show_treatment_choices(self) -> None:
        """The catheter, agent, size and endpoint are greyed out while the selection is to decline (they are not
        used)."""
        for widget in (self.vessel, self.kind, self.size, self.endpoint):
            widget.disabled = self.selection.value == "decline"

    def _offer_sizes(self) -> None:
        """The size list: the bins of the chosen kind that pass the case's catheter (the value kept if it still does,
        else the one nearest the list's middle)."""
        if self.case is None:
            return
        sizes = deliverable_sizes(self.case, self.kind.value, self.overrides) or list(Choice.options("size_bin"))
        # (none passes: every size stays, and Submit shows the catheter's message)
        value = self.size.value if self.size.value in sizes else (
            "100-300" if "100-300" in sizes else sizes[len(sizes) // 2])
        self.size.options = sizes
        self.size.value = value

    def _listed(self) -> bool:
        """Whether the case in the list is the one started (a debrief or angiogram is of the case on show only)."""
        return self.case is not None and self.cases[self.choose.value].title == self.case.title

    def _on_choose(self, event) -> None:
        """Another case picked in the list: Take and Submit wait for Start (review 12: Submit scored the case started
        before while the list showed another)."""
        if self.worker.busy:  # the work under way re-enables them; Submit and Take check the list again
            return
        self.take.disabled = not self._listed()
        self.submit.disabled = not self._listed() or self.debriefed
        if not self._listed():
            self.worker.status.object = f"Press **Start the case** to open *{self.cases[event.new].title}*."

    def _refused_unstarted(self, action: str) -> bool:
        """Whether the list shows a case other than the one started; if so the status line says to start it."""
        if self._listed():
            return False
        self.worker.status.object = (f"**{action}**: the list shows *{self.cases[self.choose.value].title}*; press "
                                     "**Start the case** first.")
        return True

    async def _angiogram_from(self, vessel: str) -> None:
        """Show the case's angiogram with the catheter in ``vessel``; what it opacifies becomes clickable and seen."""
        scenario = self.case.base_scenario(self.overrides).with_updates({"catheter.vessel": vessel})
        liver = await self.worker.run("angiogram", self.cache.get, scenario)
        scene = await self.worker.run("angiogram", compute.liver_scene, liver, scenario)
        dsa = await self.worker.run("angiogram", compute.angiograms, scene)
        self.scene, self.dsa, self.shown = scene, dsa, compute.opacified(scene, dsa)
        self.seen |= self.shown
        self._show_angiogram()
        with pn.io.unlocked():
            self.angiogram.figure.title.text = f"Angiogram from the {vessel} (click an artery)"

    def _show_angiogram(self) -> None:
        """The diagnostic run on show, in the phase chosen, over the liver's segment outlines (no tumour circles: the
        trainee looks for the blush)."""
        if self.dsa is None:
            return
        with pn.io.unlocked():
            self.angiogram.show(self.dsa.frames(self.phase.value)[0], self.scene.extent, outlines=self.scene.outlines)

    async def _on_take(self, event=None) -> None:
        if self.worker.refused_while_busy("Take the angiogram") or self._refused_unstarted("Take the angiogram"):
            return
        self.worker.clear_error()
        vessel = self.run_from.value
        async with self.worker.task(*self._buttons):
            await self._angiogram_from(vessel)
            self.worker.done(f"Angiogram from the **{vessel}**: click an artery it shows to choose it.")

    def _on_tap(self, event) -> None:
        if self.scene is None:
            return
        vessel, line = compute.clicked_vessel(self.scene, event.x, event.y,
                                             self.scene.flow.scenario.catheter.outer_diameter_fr, among=self.shown)
        if vessel is not None:
            self.vessel.value = vessel
        self.worker.status.object = line if vessel is None else f"{line}: **Submit and debrief** when your plan is ready."

    def choice(self) -> Choice:
        """The trainee's choice from the widgets (ScenarioError on a bad value)."""
        try:
            return Choice(selection=self.selection.value, vessel=self.vessel.value.strip(), kind=self.kind.value,
                          size_bin=self.size.value, endpoint=self.endpoint.value)
        except ValidationError as exc:  # the field's scenario key and what is allowed (not pydantic's help link)
            err = exc.errors()[0]
            name = str(err["loc"][0]) if err["loc"] else ""
            raise ScenarioError(f"{err['msg']} (got {err['input']!r})", path=CHOICE_KEYS.get(name, name)) from None

    async def _on_submit(self, event=None) -> None:
        if self.worker.refused_while_busy("Submit and debrief") or self._refused_unstarted("Submit and debrief"):
            return
        if self.debriefed:
            self.worker.status.object = "This case is debriefed: press **Start the case** to play it again."
            return
        self.worker.clear_error()
        case = self.case
        try:
            if self.selection.value == "treat" and not self.vessel.value.strip():
                raise ScenarioError("empty: click an artery on the angiogram for the catheter, or type its name",
                                    path="catheter.vessel")
            choice = self.choice()
            trainee = case.scenario_for(choice, self.overrides) if choice.selection == "treat" else None
            if trainee is not None:
                # only what an angiogram of this patient has shown (a hidden variant must be looked for), and in
                # words that do not give the anatomy away (the scenario's message names the variant's arteries)
                if choice.vessel not in self.seen:
                    raise ScenarioError(f"{choice.vessel!r} is not an artery this patient's angiograms have shown: "
                                        "take a diagnostic angiogram that shows it ('Diagnostic angiogram from'), then click "
                                        "or type it again",
                                        path="catheter.vessel")
                check_catheter_vessel(trainee)
        except ScenarioError as exc:
            self.worker.show_error(exc)
            self.worker.status.object = "**Not submitted**: fix the choice in the red box."
            return
        async with self.worker.task(*self._buttons):
            self.trainee_summary = self.expert_summary = None
            ran = None
            if trainee is not None:
                ran = (await self.worker.run("running your procedure", compute.simulate, trainee, self.cache)).result
            expert = None
            if case.expert.selection == "treat":
                scenario = case.scenario_for(case.expert, self.overrides)
                expert = (await self.worker.run("running the expert's procedure", compute.simulate, scenario,
                                                self.cache)).result
            played = debrief(case, choice, ran, expert, self.overrides)
            self.trainee_summary, self.expert_summary = played.trainee_summary, played.expert_summary
            self.debrief.object = debrief_markdown(case, choice, played.rows, played.verdict, self.trainee_summary,
                                                   self.expert_summary)
            self.debriefed = True
            self.worker.done("Debrief below. To play the case again, press **Start the case**.")
        self.submit.disabled = self.debriefed  # (the task re-enabled it)
