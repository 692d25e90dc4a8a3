"""Patient selection: the seed's contraindications, the ENETS grade rule and its principles.

:func:`assess_patient` checks a scenario's ``[patient]`` section, its portal vein
thrombosis and its tumours against the rules of the seed deck ([SeedDeckUHS],
the clinical rules it quotes) and returns a :class:`Verdict`: a list of :class:`Finding` of
three severities.

* ``absolute``: a contraindication to liver-directed therapy (poor liver function,
  poor performance status, portal vein thrombosis) or the ENETS grade rule (G3
  goes to systemic treatment). Any one makes the patient not eligible.
* ``relative``: a contraindication the multidisciplinary team weighs (arterial
  dissection or extrahepatic supply not excluded, disease burden above 50%,
  biliary-enteric anastomosis).
* ``advice``: the deck's principles of treatment (segmental treatments above 50%
  burden, staged lobar treatments for bilobar disease, oil-based Lipiodol with
  portal vein thrombosis or a biliary-enteric anastomosis).

The verdict is information for teaching: the simulation runs whatever it says.
``docs/patient-selection.md`` lists the rules with their sources.

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

__all__ = ["Finding", "Rule", "Verdict", "RULES", "assess_patient", "disease_burden_percent", "tumour_lobes",
           "LEFT_LOBE", "RIGHT_LOBE"]

Severity = Literal["absolute", "relative", "advice"]
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


@dataclass(frozen=True)
class Finding:
    """One rule that applies to the patient.

    Attributes
    ----------
    rule : str
        Rule id (``"bilirubin"``, ``"pvt"``, ...; see :data:`RULES`).
    severity : {"absolute", "relative", "advice"}
        How the finding weighs on eligibility.
    message : str
        What was found, with the patient's value and the threshold.
    source : str
        Citation key(s) from ``sim/references.bib``, and any model assumption.
    """

    rule: str
    severity: Severity
    message: str
    source: str


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
        ``check(scenario) -> str | None``: the finding's message when the rule
        applies, ``None`` otherwise.
    """

    id: str
    severity: Severity
    criterion: str
    source: str
    check: Callable[[Scenario], str | None]

    def apply(self, scenario: Scenario) -> Finding | None:
        """The finding of this rule for ``scenario``, or ``None`` when it does not apply."""
        message = self.check(scenario)
        return None if message is None else Finding(self.id, self.severity, message, self.source)


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
            return f"Not eligible for liver-directed therapy ({_count(absolute, 'absolute contraindication')})"
        if relative:
            return f"Eligible, with {_count(relative, 'relative contraindication')} for the MDT to weigh"
        return "Eligible (no contraindication found)"

    def to_dict(self) -> dict:
        """Plain data for JSON reports: ``eligible``, ``disease_burden_percent``, ``findings``."""
        return {
            "eligible": self.eligible,
            "disease_burden_percent": self.disease_burden_percent,
            "burden_computed": self.burden_computed,
            "findings": [vars(f) for f in self.findings],
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
                lines.append(f"### {_HEADINGS[severity]}" if markdown else f"{_HEADINGS[severity]}:")
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


def _pvt(s: Scenario) -> str | None:
    site = _pvt_site(s)
    if site is None:
        return None
    return (f"Portal vein thrombosis ({site}): the liver it drains depends on the hepatic artery, "
            "so arterial embolisation risks infarcting normal liver.")


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


def _segmental(s: Scenario) -> str | None:
    if disease_burden_percent(s) > BURDEN_MAX_PERCENT:
        return f"Disease burden above {BURDEN_MAX_PERCENT:g}%: segmental treatments rather than lobar."
    return None


def _staged(s: Scenario) -> str | None:
    lobes = tumour_lobes(s)
    if not (lobes["right"] and lobes["left"]):
        return None
    return (f"Bilobar disease (right lobe: {', '.join(lobes['right'])}; left lobe: {', '.join(lobes['left'])}): "
            "lobar treatments 4-6 weeks apart (staged bilobar).")


def _lipiodol(s: Scenario) -> str | None:
    reasons = [r for r, present in (("portal vein thrombosis", _pvt_site(s) is not None),
                                    ("biliary-enteric anastomosis", s.patient.biliary_enteric_anastomosis))
               if present]
    if not reasons:
        return None
    return f"{' and '.join(reasons).capitalize()}: consider oil-based treatment (Lipiodol)."


#: The rules, in reporting order within each severity.
RULES: tuple[Rule, ...] = (
    Rule("bilirubin", "absolute", f"bilirubin > {BILIRUBIN_MAX_UMOL_L:g} umol/L", "[SeedDeckUHS]", _bilirubin),
    Rule("albumin", "absolute", f"albumin < {ALBUMIN_MIN_G_L:g} g/L",
         f"[SeedDeckUHS] ('low albumin'); model assumption: threshold {ALBUMIN_MIN_G_L:g} g/L", _albumin),
    Rule("ascites", "absolute", "ascites", "[SeedDeckUHS]", _ascites),
    Rule("ecog", "absolute", f"ECOG > {ECOG_MAX}", "[SeedDeckUHS]", _ecog),
    Rule("pvt", "absolute", "portal vein thrombosis, main or branch (portal.thrombosis != 'none')",
         "[SeedDeckUHS]", _pvt),
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
    Rule("staged_bilobar", "advice", "tumours in both lobes: lobar treatments 4-6 weeks apart",
         "[SeedDeckUHS]", _staged),
    Rule("lipiodol", "advice", "PVT or biliary-enteric anastomosis: consider oil-based (Lipiodol)",
         "[SeedDeckUHS]", _lipiodol),
)


def assess_patient(scenario: Scenario) -> Verdict:
    """Check a scenario's patient against the selection rules.

    Parameters
    ----------
    scenario : Scenario
        Uses ``patient``, ``portal.thrombosis``, ``tumours`` and ``liver.mass_kg``.

    Returns
    -------
    Verdict
        Findings ordered by severity, the disease burden used, and eligibility.

    See Also
    --------
    RULES : the rules, each with its criterion and source.
    """
    applied = (rule.apply(scenario) for rule in RULES)
    findings = sorted((f for f in applied if f is not None), key=lambda f: SEVERITIES.index(f.severity))
    return Verdict(findings=tuple(findings), disease_burden_percent=disease_burden_percent(scenario),
                   burden_computed=scenario.patient.disease_burden_percent is None)
