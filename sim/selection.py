"""Patient selection: the seed's contraindications, the ENETS grade rule and its principles.

:func:`assess_patient` checks a scenario's ``[patient]`` section, its portal vein
thrombosis and its tumours against the rules of the seed deck ([SeedDeckUHS],
the clinical rules it quotes) and returns a :class:`Verdict`: a list of :class:`Finding` of
three severities.

* ``absolute``: a contraindication to liver-directed therapy (poor liver function,
  poor performance status, main or branch portal vein thrombosis) or the ENETS grade
  rule (G3 goes to systemic treatment). Any one makes the patient not eligible.
* ``relative``: a contraindication the multidisciplinary team weighs (arterial
  dissection or extrahepatic supply not excluded, disease burden above 50%,
  biliary-enteric anastomosis).
* ``advice``: the deck's principles of treatment and protocol items (segmental
  treatments above 50% burden, staged lobar sessions for bilobar disease, octreotide
  cover for functional tumours, extrahepatic supply embolised or excluded,
  oil-based Lipiodol with portal vein thrombosis or a biliary-enteric anastomosis).
  Advice findings carry a :attr:`Finding.plan` (what to inject where, how many
  sessions), and the plans of one verdict never conflict (:attr:`Verdict.plan`).

The severities are the seed's; :func:`assess_patient` takes other severities for
named rules (``ALTERNATIVE_SEVERITIES`` lists the documented alternatives, e.g.
segmental portal vein thrombosis as relative). The verdict is information for
teaching: the simulation runs whatever it says. ``docs/patient-selection.md``
lists the rules with their sources.

Examples
--------
>>> from sim.scenario import Scenario
>>> verdict = assess_patient(Scenario().with_updates({"patient.ecog": 3}))
>>> verdict.eligible, [f.rule for f in verdict.findings]
(False, ['ecog'])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .scenario import SEGMENTS, Scenario

__all__ = ["Finding", "Rule", "Verdict", "RULES", "ALTERNATIVE_SEVERITIES", "OIL_BASED_PAIRS", "assess_patient",
           "disease_burden_percent", "tumour_lobes", "thrombosed_segments", "LEFT_LOBE", "RIGHT_LOBE"]

Severity = Literal["absolute", "relative", "advice"]
#: Absolute contraindications to particle embolisation that leave other intra-arterial options (Y-90 for a main
#: portal vein thrombosis, Lipiodol for a branch one: their findings and advice say so): with only these the verdict
#: excludes particle embolisation, not every liver-directed therapy.
EMBOLISATION_ONLY_RULES = frozenset({"pvt_main", "pvt_lobar", "pvt_segmental"})
#: Severities in reporting order.
SEVERITIES: tuple[Severity, ...] = ("absolute", "relative", "advice")
_HEADINGS = {"absolute": "Absolute contraindications", "relative": "Relative contraindications",
             "advice": "Advice (principles of treatment)"}

#: Bilirubin above which liver function is poor, umol/L ([SeedDeckUHS]: "Bili > 20").
BILIRUBIN_MAX_UMOL_L = 20.0
#: Albumin below which it is "low", g/L. Model assumption: the deck says "low albumin"
#: without a number (as does the ``patient.albumin_g_l`` field's source).
ALBUMIN_MIN_G_L = 30.0
#: Highest ECOG performance status still eligible ([SeedDeckUHS]: "ECOG > 2").
ECOG_MAX = 2
#: Disease burden above which the relative contraindication and segmental advice apply, % ([SeedDeckUHS]).
BURDEN_MAX_PERCENT = 50.0
#: Ki-67 index above which a tumour is grade G3, % (ENETS: G1 < 3%, G2 3-20%, G3 > 20%).
KI67_G3_PERCENT = 20.0
#: Liver density used to turn mass into volume, kg/L (as in ``liver.mass_kg``; [ICRP89]).
LIVER_DENSITY_KG_L = 1.0

#: Couinaud segments of the left lobe (LHA territory; segment IV from the LHA in 57%, [Garg2019]).
LEFT_LOBE: frozenset[str] = frozenset({"II", "III", "IV"})
#: Couinaud segments of the right lobe (RHA territory).
RIGHT_LOBE: frozenset[str] = frozenset({"V", "VI", "VII", "VIII"})
#: Segments drained by each lobar portal vein (sim.anatomy.trunk: P5-P8 from the right, P1-P4 from the left).
_PORTAL_LOBES = {"RPV": ("V", "VI", "VII", "VIII"), "LPV": ("I", "II", "III", "IV")}
#: Shipped scenario pairs that show why the deck prefers oil-based (Lipiodol, cTACE) treatment, by
#: reason: (the cTACE scenario, its bland-particle twin); the one place the Lipiodol advice reads
#: (docs/tace.md explains each pair's result).
OIL_BASED_PAIRS: dict[str, tuple[str, str]] = {
    "portal vein thrombosis": ("ctace_segmental_pvt", "segmental_pvt"),
    "biliary-enteric anastomosis": ("ctace_biliary_enteric_anastomosis", "biliary_enteric_anastomosis"),
}

#: Documented alternatives to the seed's severities: rule id -> (severity, source).
ALTERNATIVE_SEVERITIES: dict[str, tuple[Severity, str]] = {
    "pvt_segmental": ("relative", "[Prajapati2017] (TACE with segmental or subsegmental portal vein thrombosis: median "
                                  "survival 20 months, against 22.8 without and 6.4 with main or lobar)"),
}
#: Rule ids no longer in use: id -> what replaced it (named when a user gives one).
RETIRED_RULES: dict[str, str] = {
    "pvt_branch": "split on 2026-12-07 into pvt_lobar (RPV, LPV) and pvt_segmental (P1-P8); the documented "
                  "alternative (relative) is pvt_segmental's: [Prajapati2017] puts lobar thrombosis with main",
}


@dataclass(frozen=True)
class Finding:
    """One rule that applies to the patient.

    Attributes
    ----------
    rule : str
        Rule id (``"bilirubin"``, ``"pvt_main"``, ...; see :data:`RULES`).
    severity : {"absolute", "relative", "advice"}
        How the finding weighs on eligibility.
    message : str
        What was found, with the patient's value and the threshold.
    source : str
        Citation key(s) from ``sim/references.bib``, and any model assumption.
    plan : tuple of (str, str)
        What the advice sets, as (aspect, choice) pairs: ``catheter`` (segmental or lobar
        injections), ``sessions``, ``agent``, ``cover``. Empty for contraindications.
    """

    rule: str
    severity: Severity
    message: str
    source: str
    plan: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rule:
    """A selection rule: an id, its severity and source, and a check of a scenario.

    Attributes
    ----------
    id : str
        Stable identifier, used in reports and tests.
    severity : {"absolute", "relative", "advice"}
        Severity of the finding it produces.
    criterion : str
        The rule in words (for documentation).
    source : str
        Citation key(s) from ``sim/references.bib``, and any model assumption.
    check : callable
        ``check(scenario) -> str | tuple | None``: the finding's message (or the
        message and its plan, :attr:`Finding.plan`) when the rule applies, ``None``
        otherwise.
    """

    id: str
    severity: Severity
    criterion: str
    source: str
    check: Callable[[Scenario], str | tuple[str, tuple[tuple[str, str], ...]] | None]

    def apply(self, scenario: Scenario, severity: Severity | None = None) -> Finding | None:
        """The finding of this rule for ``scenario`` (at ``severity`` instead of the rule's), or ``None``."""
        found = self.check(scenario)
        if found is None:
            return None
        message, plan = (found, ()) if isinstance(found, str) else found
        if severity is None or severity == self.severity:
            return Finding(self.id, self.severity, message, self.source, plan)
        alternative = ALTERNATIVE_SEVERITIES.get(self.id)
        source = alternative[1] if alternative and alternative[0] == severity else "set by the user"
        return Finding(self.id, severity, message, f"{self.source}; {severity} as an alternative: {source}", plan)


@dataclass(frozen=True)
class Verdict:
    """Outcome of patient selection.

    Attributes
    ----------
    findings : tuple of Finding
        Findings ordered by severity (absolute, relative, advice), then rule order.
    disease_burden_percent : float
        Liver tumour burden used by the rules, %.
    burden_computed : bool
        True when the burden was computed from the tumours (``patient.disease_burden_percent``
        omitted), False when given.
    """

    findings: tuple[Finding, ...]
    disease_burden_percent: float
    burden_computed: bool

    @property
    def eligible(self) -> bool:
        """True when no absolute contraindication applies (relative ones are for the MDT to weigh)."""
        return not self.of_severity("absolute")

    def of_severity(self, severity: Severity) -> tuple[Finding, ...]:
        """The findings of one severity."""
        return tuple(f for f in self.findings if f.severity == severity)

    @property
    def headline(self) -> str:
        """One line: eligible or not, and how many contraindications."""
        absolute, relative = len(self.of_severity("absolute")), len(self.of_severity("relative"))
        if absolute:
            embolisation_only = all(f.rule in EMBOLISATION_ONLY_RULES for f in self.of_severity("absolute"))
            what = "particle embolisation (TAE, DEB-TACE; the advice names what is left)" if embolisation_only \
                else "liver-directed therapy"
            return f"Not eligible for {what} ({_count(absolute, 'absolute contraindication')})"
        if relative:
            return f"Eligible, with {_count(relative, 'relative contraindication')} for the MDT to weigh"
        return "Eligible (no contraindication found)"

    @property
    def plan(self) -> dict[str, str]:
        """The advice's plan: aspect -> choice, merged over the advice findings.

        Raises
        ------
        ValueError
            When two findings choose differently for one aspect (the advice would contradict itself).
        """
        merged: dict[str, tuple[str, str]] = {}
        for finding in self.findings:
            for aspect, choice in finding.plan:
                if aspect in merged and merged[aspect][1] != choice:
                    raise ValueError(f"advice contradicts itself on {aspect}: {merged[aspect][0]} says "
                                     f"{merged[aspect][1]!r}, {finding.rule} says {choice!r}")
                merged[aspect] = (finding.rule, choice)
        return {aspect: choice for aspect, (_, choice) in merged.items()}

    def to_dict(self) -> dict:
        """Plain data for JSON reports: ``eligible``, ``disease_burden_percent``, ``findings``."""
        return {
            "eligible": self.eligible,
            "disease_burden_percent": self.disease_burden_percent,
            "burden_computed": self.burden_computed,
            "findings": [{**vars(f), "plan": dict(f.plan)} for f in self.findings],
            "plan": self.plan,
        }

    def to_markdown(self) -> str:
        """The verdict as a Markdown section (for ``report.md``)."""
        return self._render(markdown=True)

    def to_text(self) -> str:
        """The verdict as plain text (for the terminal)."""
        return self._render(markdown=False)

    def _render(self, *, markdown: bool) -> str:
        title = "## Patient selection" if markdown else "Patient selection"
        headline = f"**{self.headline}.**" if markdown else f"Verdict: {self.headline}."
        how = "computed from the tumours: sum of sphere volumes / liver volume" if self.burden_computed else "given"
        lines = [title, "", headline, "", f"Disease burden: {self.disease_burden_percent:.1f}% ({how}).", ""]
        for severity in SEVERITIES:
            found = self.of_severity(severity)
            if found:
                heading = _HEADINGS[severity]
                if severity == "advice" and not self.eligible:
                    only_particles = all(f.rule in EMBOLISATION_ONLY_RULES for f in self.of_severity("absolute"))
                    heading += (", for the intra-arterial treatment that remains" if only_particles else
                                ", should the MDT treat despite the absolute contraindication")
                lines.append(f"### {heading}" if markdown else f"{heading}:")
                lines.extend(f"- {f.message} ({f.rule}; {f.source})" for f in found)
                lines.append("")
        lines.append("Information for teaching, not a clinical decision.")
        return "\n".join(lines) + "\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def disease_burden_percent(scenario: Scenario) -> float:
    """Liver tumour burden, % of liver volume.

    ``patient.disease_burden_percent`` when given; otherwise the sum of the tumour
    sphere volumes (pi d^3 / 6, necrotic cores included) over the liver volume
    (``liver.mass_kg`` at 1.0 kg/L).

    Parameters
    ----------
    scenario : Scenario
        The scenario.

    Returns
    -------
    float
        Burden, %.

    Notes
    -----
    Overlapping tumours are not corrected for: their volumes add, so a computed
    burden overstates overlapping disease and can exceed 100% for tumours larger
    than the liver.

    Examples
    --------
    >>> from sim.scenario import Scenario
    >>> s = Scenario.model_validate({"liver": {"mass_kg": 1.0}, "tumours": [{"diameter_mm": 100.0}]})
    >>> round(disease_burden_percent(s), 2)   # 523.6 mL in 1000 mL
    52.36
    """
    given = scenario.patient.disease_burden_percent
    if given is not None:
        return given
    tumour_ml = sum(math.pi / 6.0 * (t.diameter_mm / 10.0) ** 3 for t in scenario.tumours)  # cm^3 = mL
    liver_ml = scenario.liver.mass_kg / LIVER_DENSITY_KG_L * 1000.0
    return 100.0 * tumour_ml / liver_ml


def tumour_lobes(scenario: Scenario) -> dict[str, tuple[str, ...]]:
    """Segments holding tumours, by lobe.

    Returns
    -------
    dict
        ``{"right": (...), "left": (...)}``, the tumour segments of each lobe in
        Couinaud order.

    Notes
    -----
    Segment I (caudate) belongs to neither lobe: it is fed by branches from both
    the RHA and the LHA ([Garg2019]), so a caudate tumour does not make the
    disease bilobar. Tumours placed by ``centre_mm`` are not counted: their
    segment is known only once the liver is built.
    """
    segments = {t.segment for t in scenario.tumours if t.centre_mm is None}
    return {lobe: tuple(s for s in SEGMENTS if s in segments and s in members)
            for lobe, members in (("right", RIGHT_LOBE), ("left", LEFT_LOBE))}


def thrombosed_segments(scenario: Scenario) -> tuple[str, ...]:
    """Couinaud segments whose portal vein is thrombosed (all eight for main PVT, none without).

    Examples
    --------
    >>> from sim.scenario import Scenario
    >>> thrombosed_segments(Scenario().with_updates({"portal.thrombosis": "RPV"}))
    ('V', 'VI', 'VII', 'VIII')
    >>> thrombosed_segments(Scenario().with_updates({"portal.thrombosis": "P5"}))
    ('V',)
    """
    site = scenario.portal.thrombosis
    if site == "none":
        return ()
    if site == "main":
        return SEGMENTS
    if site in _PORTAL_LOBES:
        return _PORTAL_LOBES[site]
    return (SEGMENTS[int(site[1:]) - 1],)


def _pvt_site(scenario: Scenario) -> str | None:
    site = scenario.portal.thrombosis
    if site == "none":
        return None
    if site == "main":
        return "main portal vein"
    return {"RPV": "right portal vein", "LPV": "left portal vein"}.get(site, f"segmental branch {site}")


# --- absolute contraindications -------------------------------------------------------


def _bilirubin(s: Scenario) -> str | None:
    b = s.patient.bilirubin_umol_l
    if b > BILIRUBIN_MAX_UMOL_L:
        return f"Bilirubin {b:g} umol/L is above {BILIRUBIN_MAX_UMOL_L:g} umol/L: poor liver function."
    return None


def _albumin(s: Scenario) -> str | None:
    a = s.patient.albumin_g_l
    if a < ALBUMIN_MIN_G_L:
        return f"Albumin {a:g} g/L is below {ALBUMIN_MIN_G_L:g} g/L (low albumin): poor liver function."
    return None


def _ascites(s: Scenario) -> str | None:
    return "Ascites: poor liver function." if s.patient.ascites else None


def _ecog(s: Scenario) -> str | None:
    e = s.patient.ecog
    return f"ECOG performance status {e} is above {ECOG_MAX}: poor performance status." if e > ECOG_MAX else None


def _pvt_main(s: Scenario) -> str | None:
    if s.portal.thrombosis != "main":
        return None
    return ("Main portal vein thrombosis: the whole liver depends on the hepatic artery, so arterial embolisation "
            "risks infarcting normal liver wherever it is injected. The intra-arterial options that remain are Y-90 "
            "radioembolisation, minimally embolic ([Joo2018Y90Imaging]: run sirt_main_pvt against main_pvt, "
            "embosim docs sirt), and oil-based treatment (the deck's principle for PVT: advice below), with caution: "
            "with a thrombosed main vein survival after chemoembolisation was a third of that with a segmental one "
            "([Prajapati2017], HCC), and no shipped oil scenario has main PVT.")


def _pvt_lobar(s: Scenario) -> str | None:
    return _pvt_branch(s) if s.portal.thrombosis in _PORTAL_LOBES else None


def _pvt_segmental(s: Scenario) -> str | None:
    return _pvt_branch(s) if s.portal.thrombosis not in ("none", "main", *_PORTAL_LOBES) else None


def _pvt_branch(s: Scenario) -> str:
    """The finding of a lobar or segmental thrombosis: the segments that depend on their artery, and the tumours."""
    segments = thrombosed_segments(s)
    inside = [t.name for t in s.tumours if t.centre_mm is None and t.segment in segments]
    placed = [t.name for t in s.tumours if t.centre_mm is not None]  # their segment is known only once the liver is built
    if inside:
        where = (f"tumour {', '.join(repr(n) for n in inside)} lies in it, so embolising its artery takes the "
                 "parenchyma's only supply")
    elif placed:  # review 15: a tumour placed by coordinates was taken to lie outside, and the text said it was spared
        where = (f"whether tumour {', '.join(repr(n) for n in placed)} (placed by centre_mm) lies in it cannot be told "
                 "from the scenario: if it does, embolising its artery takes the parenchyma's only supply")
    else:
        where = "no tumour lies in it, so an injection selective to the tumour's own segments spares it"
    return (f"Portal vein thrombosis of the {_pvt_site(s)} (segment{'s' if len(segments) > 1 else ''} "
            f"{', '.join(segments)}): that territory depends on its artery while the rest of the liver keeps its portal "
            f"flow; {where}.")


def _grade(s: Scenario) -> str | None:
    grade, ki67 = s.patient.tumour_grade, s.patient.ki67_percent
    if grade != "G3" and ki67 <= KI67_G3_PERCENT:
        return None
    why = f"grade {grade}" if grade == "G3" else f"Ki-67 {ki67:g}% > {KI67_G3_PERCENT:g}% (grade G3; recorded {grade})"
    return f"Tumour {why}: candidate for systemic treatment, not liver-directed therapy."


# --- relative contraindications -------------------------------------------------------


def _dissection(s: Scenario) -> str | None:
    return "Hepatic arterial dissection." if s.patient.arterial_dissection else None


def _extrahepatic(s: Scenario) -> str | None:
    fed = [f"tumour {t.name!r} is also fed by the {t.extrahepatic.artery.replace('_', ' ')} artery "
           f"({t.extrahepatic.arterial_fraction:.0%} of its arterial inflow)"
           for t in s.tumours if t.extrahepatic is not None]
    if not s.patient.extrahepatic_supply_excluded:
        fed.insert(0, "extrahepatic tumour supply not excluded on imaging")
    if not fed:
        return None
    text = "; ".join(fed)
    return f"{text[0].upper()}{text[1:]}: hepatic arterial embolisation alone leaves that supply open."


def _burden(s: Scenario) -> str | None:
    burden = disease_burden_percent(s)
    if burden > BURDEN_MAX_PERCENT:
        return f"Disease burden {burden:.1f}% is above {BURDEN_MAX_PERCENT:g}% of the liver."
    return None


def _biliary(s: Scenario) -> str | None:
    if s.patient.biliary_enteric_anastomosis:
        return ("Biliary-enteric anastomosis: gut flora reach the bile ducts, so biliary ischaemia "
                "risks a liver abscess.")
    return None


# --- advice: the seed's principles of treatment ---------------------------------------


def _bilobar(s: Scenario) -> str | None:
    lobes = tumour_lobes(s)
    if not (lobes["right"] and lobes["left"]):
        return None
    return f"right lobe: {', '.join(lobes['right'])}; left lobe: {', '.join(lobes['left'])}"


def _segmental(s: Scenario):
    burden = disease_burden_percent(s)
    if burden <= BURDEN_MAX_PERCENT:
        return None
    staged = " and one lobe per session (staged_bilobar)" if _bilobar(s) else ""
    return (f"Disease burden {burden:.1f}% above {BURDEN_MAX_PERCENT:g}%: segmental treatments rather than whole-lobe "
            f"injections{staged}.", (("catheter", "segmental"),))


def _staged(s: Scenario):
    lobes = _bilobar(s)
    if lobes is None:
        return None
    sessions = ("sessions", "one lobe per session, 4-6 weeks apart")
    if disease_burden_percent(s) > BURDEN_MAX_PERCENT:
        return (f"Bilobar disease ({lobes}): one lobe per session, 4-6 weeks apart; with the burden above "
                f"{BURDEN_MAX_PERCENT:g}%, each session's treatments segmental (segmental_treatment).",
                (sessions, ("catheter", "segmental")))
    return (f"Bilobar disease ({lobes}): lobar treatments 4-6 weeks apart, one lobe per session.",
            (sessions, ("catheter", "lobar")))


def _octreotide(s: Scenario):
    if not s.patient.functional_tumour:
        return None
    return ("Functional NET: octreotide infusion from pre-admission, through the embolisation and after it, as per "
            "protocol (cover against the hormone release of the embolised tumour).",
            (("cover", "octreotide infusion as per protocol"),))


def _extrahepatic_advice(s: Scenario) -> str | None:
    fed = [t for t in s.tumours if t.extrahepatic is not None]
    if fed:
        feeders = "; ".join(f"tumour {t.name!r}: {t.extrahepatic.artery.replace('_', ' ')} artery" for t in fed)
        return (f"Extrahepatic feeders ({feeders}): embolise them or show they do not feed the tumour before relying on "
                "a hepatic injection. embosim cannot catheterise a feeder: the blush it keeps is tumour_blush_fraction "
                "beyond territory_blush_fraction, and a run without [tumours.extrahepatic] shows the tumour with the "
                "feeder occluded.")
    if not s.patient.extrahepatic_supply_excluded:
        return ("Extrahepatic supply not excluded: exclude it before treatment (rotational CT, angiography of the "
                "inferior phrenic and other candidate feeders) or embolise what is found.")
    return None


def _lipiodol(s: Scenario):
    pvt, anastomosis = _pvt_site(s) is not None, s.patient.biliary_enteric_anastomosis
    reasons = [r for r, present in (("portal vein thrombosis", pvt), ("biliary-enteric anastomosis", anastomosis))
               if present]
    if not reasons:
        return None
    advice = f"{' and '.join(reasons).capitalize()}: consider oil-based treatment (Lipiodol)."
    shows = " embosim shows why: " + "; ".join(
        f"run {OIL_BASED_PAIRS[r][0]} against {OIL_BASED_PAIRS[r][1]}" for r in reasons) + " (embosim docs tace)."
    if s.portal.thrombosis == "main":  # review 15: the shipped pair is a segmental thrombosis
        shows += (" That pair is a segmental thrombosis (P5): the oil embolises the tumour's portal side, which "
                  "particles cannot reach; with the main portal vein thrombosed no shipped oil scenario exists.")
    if anastomosis:
        shows += (" It simulates the bile-duct (peribiliary) ischaemia, not the anastomosis itself or the infection "
                  "risk of gut flora in ischaemic ducts (a clinical fact).")
    return advice + shows, (("agent", "oil-based (Lipiodol)"),)


#: The rules, in reporting order within each severity.
RULES: tuple[Rule, ...] = (
    Rule("bilirubin", "absolute", f"bilirubin > {BILIRUBIN_MAX_UMOL_L:g} umol/L", "[SeedDeckUHS]", _bilirubin),
    Rule("albumin", "absolute", f"albumin < {ALBUMIN_MIN_G_L:g} g/L",
         f"[SeedDeckUHS] ('low albumin'); model assumption: threshold {ALBUMIN_MIN_G_L:g} g/L", _albumin),
    Rule("ascites", "absolute", "ascites", "[SeedDeckUHS]", _ascites),
    Rule("ecog", "absolute", f"ECOG > {ECOG_MAX}", "[SeedDeckUHS]", _ecog),
    Rule("pvt_main", "absolute", "main portal vein thrombosis (portal.thrombosis = 'main')",
         "[SeedDeckUHS] ('PVT (main v segmental)')", _pvt_main),
    Rule("pvt_lobar", "absolute", "lobar portal vein thrombosis (RPV, LPV)",
         "[SeedDeckUHS] ('PVT (main v segmental)', listed as absolute); [Prajapati2017] (median survival after TACE "
         "6.4 months in its large-vein group: main or lobar portal, hepatic vein or IVC thrombosis)", _pvt_lobar),
    Rule("pvt_segmental", "absolute", "segmental portal vein thrombosis (P1-P8)",
         "[SeedDeckUHS] ('PVT (main v segmental)', listed as absolute)", _pvt_segmental),
    Rule("grade_g3", "absolute", f"grade G3 or Ki-67 > {KI67_G3_PERCENT:g}%: systemic treatment",
         "[ENETSConsensus] (as quoted in [SeedDeckUHS]; Ki-67 > 20% is G3); model assumption: the higher of the recorded "
         "and the Ki-67 grade applies", _grade),
    Rule("arterial_dissection", "relative", "hepatic arterial dissection", "[SeedDeckUHS]", _dissection),
    Rule("extrahepatic_supply", "relative",
         "extrahepatic supply not excluded, or a tumour with an extrahepatic feeder", "[SeedDeckUHS]", _extrahepatic),
    Rule("disease_burden", "relative", f"disease burden > {BURDEN_MAX_PERCENT:g}%", "[SeedDeckUHS]", _burden),
    Rule("biliary_enteric_anastomosis", "relative", "biliary-enteric anastomosis", "[SeedDeckUHS]", _biliary),
    Rule("segmental_treatment", "advice", f"disease burden > {BURDEN_MAX_PERCENT:g}%: segmental treatments",
         "[SeedDeckUHS]", _segmental),
    Rule("staged_bilobar", "advice", "tumours in both lobes: lobar treatments 4-6 weeks apart (segmental within each "
         f"session above {BURDEN_MAX_PERCENT:g}% burden)", "[SeedDeckUHS]", _staged),
    Rule("octreotide", "advice", "functional tumour (patient.functional_tumour): octreotide cover as per protocol",
         "[SeedDeckUHS] (pre-admission octreotide infusion, continued after)", _octreotide),
    Rule("extrahepatic_feeder", "advice",
         "a tumour with an extrahepatic feeder, or supply not excluded: embolise it or exclude it",
         "[SeedDeckUHS] (extrahepatic supply; rotational CT)", _extrahepatic_advice),
    Rule("lipiodol", "advice", "PVT or biliary-enteric anastomosis: consider oil-based (Lipiodol)",
         "[SeedDeckUHS]", _lipiodol),
)


def assess_patient(scenario: Scenario, *, severities: dict[str, Severity] | None = None) -> Verdict:
    """Check a scenario's patient against the selection rules.

    Parameters
    ----------
    scenario : Scenario
        Uses ``patient``, ``portal.thrombosis``, ``tumours`` and ``liver.mass_kg``.
    severities : dict, optional
        Rule id -> severity replacing the seed's (e.g. ``{"pvt_segmental": "relative"}``,
        :data:`ALTERNATIVE_SEVERITIES`); the finding's source says so.

    Returns
    -------
    Verdict
        Findings ordered by severity, the disease burden used, and eligibility.

    See Also
    --------
    RULES : the rules, each with its criterion and source.
    """
    severities = severities or {}
    retired = sorted(set(severities) & set(RETIRED_RULES))
    if retired:
        raise ValueError(f"severities: rule {retired[0]!r} was {RETIRED_RULES[retired[0]]}")
    unknown = set(severities) - {rule.id for rule in RULES}
    if unknown or not set(severities.values()) <= set(SEVERITIES):
        wrong = ", ".join(f"{rule}={severity}" for rule, severity in severities.items()
                          if rule in unknown or severity not in SEVERITIES)
        raise ValueError(f"severities: rule ids must be among {', '.join(r.id for r in RULES)} and severities among "
                         f"{', '.join(SEVERITIES)}; got {wrong}")
    applied = (rule.apply(scenario, severities.get(rule.id)) for rule in RULES)
    findings = sorted((f for f in applied if f is not None), key=lambda f: SEVERITIES.index(f.severity))
    return Verdict(findings=tuple(findings), disease_burden_percent=disease_burden_percent(scenario),
                   burden_computed=scenario.patient.disease_burden_percent is None)
