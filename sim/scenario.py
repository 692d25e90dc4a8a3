"""Scenario files: validated, immutable configuration of one simulated procedure.

A scenario is a TOML file whose sections map to the frozen pydantic models below
(``extra="forbid"``: an unknown key is an error). Keys carry their clinical unit
in the name (``diameter_um``, ``pressure_mmHg``, ``rate_ml_min``); the anatomy,
flow and procedure modules convert to SI at their edge (:mod:`sim.units`).

Every field has a default, a unit and a source, declared once here with
:func:`param`; ``docs/scenario-reference.md`` is generated from these models
(``python -m sim.scenario_doc``) so it cannot drift.

Examples
--------
>>> from sim.scenario import Scenario
>>> s = Scenario()
>>> s.catheter.vessel, s.agent.size_bin
('A5', '100-300')
>>> s.with_updates({"catheter.rate_ml_min": 2.0}).catheter.rate_ml_min
2.0
"""

from __future__ import annotations

import json
import math
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

__all__ = [
    "Scenario",
    "ScenarioError",
    "check_catheter_vessel",
    "agent_kind_updates",
    "check_agent_keys",
    "check_particles_per_ml",
    "inapplicable_agent_keys",
    "key_unit",
    "scenario_fields",
    "load_scenario",
    "require_scenario",
    "parse_scenario",
    "SEGMENTS",
    "NAMED_ARTERIES",
    "NAMED_PORTAL_VEINS",
    "NAMED_VESSELS",
    "SIZE_BINS_UM",
    "Y90_KINDS",
]

#: Couinaud segments, in the order used by every per-segment array.
SEGMENTS: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")

#: Named arteries a scenario may address (ISSUE 3; Michels variants add the
#: ``replaced_*``/``accessory_*`` names, present only in those anatomies).
NAMED_ARTERIES: tuple[str, ...] = (
    "coeliac", "SMA", "LGA", "CHA", "GDA", "PHA", "RGA", "RHA", "LHA", "cystic",
    "right_anterior", "right_posterior", "falciform",
    "A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8",
    "replaced_RHA", "accessory_RHA", "replaced_LHA", "accessory_LHA",
)
#: Named portal veins.
NAMED_PORTAL_VEINS: tuple[str, ...] = (
    "MPV", "RPV", "LPV", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8",
)
NAMED_VESSELS: tuple[str, ...] = NAMED_ARTERIES + NAMED_PORTAL_VEINS

#: Calibrated microsphere size bins (um), [MeritEmbosphereIFU].
SIZE_BINS_UM: dict[str, tuple[float, float]] = {
    "40-120": (40.0, 120.0),
    "100-300": (100.0, 300.0),
    "300-500": (300.0, 500.0),
    "500-700": (500.0, 700.0),
    "700-900": (700.0, 900.0),
    "900-1200": (900.0, 1200.0),
}

#: Agent kinds of Y-90 microspheres (radioembolisation), sim.agents.Y90_PRODUCTS.
Y90_KINDS: tuple[str, ...] = ("y90_resin", "y90_glass")

MICHELS_TYPES = Literal["I", "II", "III", "IV", "V", "VI"]
PORTAL_THROMBOSIS_SITES = Literal["none", "main", "RPV", "LPV", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"]


class ScenarioError(ValueError):
    """Invalid scenario input: one message naming the file, the key path and what is allowed.

    Parameters
    ----------
    message : str
        What is wrong and what is allowed.
    path : str, optional
        Dotted key path in the scenario (``catheter.rate_ml_min``).
    source : str, optional
        File the scenario came from.
    """

    def __init__(self, message: str, *, path: str = "", source: str = ""):
        self.message = message
        self.path = path
        self.source = source
        where = ": ".join(p for p in (source, path) if p)
        super().__init__(f"{where}: {message}" if where else message)

    def with_source(self, source: str) -> ScenarioError:
        """The same error (same class) naming ``source`` as its file, unless it already names one or is about a
        command-line option (``--out``: not a key of the file)."""
        if self.source or not source or str(self.path or "").startswith("-"):
            return self
        err = type(self)(self.message, path=self.path, source=source)
        return err.with_traceback(self.__traceback__)


def param(default: Any, unit: str, source: str, description: str, **constraints: Any) -> Any:
    """Declare a scenario field with its default, unit and source in one place.

    Parameters
    ----------
    default : Any
        Default value (in the clinical unit named by the key).
    unit : str
        Unit of the value, ``"1"`` for dimensionless, ``"-"`` for names and flags.
    source : str
        Citation ``[Key]`` of ``sim/references.bib`` (docs/references.md) or ``"model assumption: <reason>"``.
    description : str
        One sentence on what the field means.
    **constraints
        pydantic bounds (``gt``, ``ge``, ``lt``, ``le``).
    """
    return Field(default, description=description, json_schema_extra={"unit": unit, "source": source}, **constraints)


def _bare(annotation: Any) -> Any:
    """A field's type without ``Annotated`` and an optional ``None``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _bare(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _bare(args[0]) if len(args) == 1 else annotation
    return annotation


def _loose_value(value: Any, annotation: Any) -> str | None:
    """What is wrong with ``value`` for ``annotation`` that pydantic would convert silently: true/false or quoted text
    for a number, anything but true/false for a flag (1, "yes"), in the value or in any element of an array or table
    of numbers; None when nothing."""
    kind = _bare(annotation)
    if kind is bool:
        return None if isinstance(value, bool) else "Input should be true or false"
    if kind in (float, int):
        if isinstance(value, bool | str):
            return "Input should be a valid number, " + ("not true or false" if isinstance(value, bool) else "unquoted")
        return None
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is tuple and isinstance(value, list | tuple):
        elements = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        pairs = zip(value, elements)
    elif origin is dict and isinstance(value, dict) and len(args) == 2:
        pairs = ((v, args[1]) for v in value.values())
    else:
        return None
    for index, (element, element_kind) in enumerate(pairs):
        wrong = _loose_value(element, element_kind)
        if wrong:
            if "every element" in wrong:  # an inner array's element, already named
                return wrong
            where = list(value)[index] if isinstance(value, dict) else index
            return f"{wrong} (every element: element {where!r} is {_shown(element)})"
    return None


#: Longest value an error message quotes, characters (review 27: a 10,001-element array made a 70 kB line).
SHOWN_VALUE_CHARS = 80


def _shown(value: Any) -> str:
    """``repr(value)`` for an error message, cut to ``SHOWN_VALUE_CHARS`` (with the array's length when cut)."""
    text = repr(value)
    if len(text) <= SHOWN_VALUE_CHARS:
        return text
    size = f", {len(value)} elements" if isinstance(value, list | tuple | dict) else ""
    return f"{text[:SHOWN_VALUE_CHARS - 20]}... ({len(text)} characters{size})"


class _Section(BaseModel):
    # allow_inf_nan=False: NaN and infinity are rejected in every number, containers included
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # a number takes a number, not true/false nor quoted text such as "300", and a flag true or false, not 1 or
        # "yes" (which pydantic converts silently), in arrays and tables too; one rule for every section
        # (docs/scenario-reference.md says it once, in its introduction)
        wrong = _loose_value(value, cls.model_fields[info.field_name].annotation)
        if wrong:
            raise ValueError(wrong)
        return value


#: Smallest particle a custom agent may list, um: the smallest allowed liver.terminal_diameter_um
#: (smaller particles pass every vessel the model resolves).
MIN_PARTICLE_DIAMETER_UM = 5.0
#: Largest particle, um: below the outer diameter of the largest allowed catheter (7 Fr = 2.33 mm),
#: through whose lumen it must pass; the largest calibrated microspheres are 900-1200 um ([MeritEmbosphereIFU]).
MAX_PARTICLE_DIAMETER_UM = 2000.0
#: Most particles per mL of settled agent: 1 mL filled completely with the smallest allowed spheres.
MAX_PARTICLES_PER_ML = 1.5e10  # 1 / (pi / 6 x (5e-4 cm)^3) = 1.53e10
#: Longest ischaemia tolerance, h: tolerances are minutes (hepatocytes) to hours (tumour cells); ten days is far
#: beyond any (model assumption: a bound against typing errors, such as 1e80).
MAX_TOLERANCE_H = 240.0
#: Shortest and longest deficit, h: 36 s (one contrast run) to ten years (model assumption: bounds against typing
#: errors; beyond them the necrosis no longer changes).
MIN_DURATION_H, MAX_DURATION_H = 0.01, 87600.0
#: Smallest Couinaud segment, share of the liver (model assumption: 0.1%, a tenth of the smallest reported caudate
#: share; a segment far smaller holds too few tissue points to calibrate, which failed only after the liver build).
MIN_SEGMENT_FRACTION = 0.001
#: Largest |coordinate| of a tumour centre, mm: beyond the 5 kg (largest allowed) liver's extent (about 170 mm).
MAX_CENTRE_MM = 300.0


class LiverConfig(_Section):
    """Liver size, shape and the synthetic vascular trees' resolution."""

    mass_kg: float = param(1.5, "kg", "[ICRP89] (1.8 kg male, 1.4 kg female; density 1.0 kg/L); model assumption: "
                           "a round adult value between the two references",
                           "Liver mass; the volume follows at 1.0 kg/L.", gt=0.3, le=5.0)
    shape: Literal["typical", "large_left_lobe", "small_left_lobe"] = param(
        "typical", "-", "model assumption: three textbook silhouettes of the same segment volumes",
        "Liver silhouette (aspect of the left lobe); segment volume fractions are set separately.")
    segment_fractions: dict[str, float] = param(
        {"I": 0.035, "II": 0.065, "III": 0.085, "IV": 0.145, "V": 0.125, "VI": 0.080, "VII": 0.205, "VIII": 0.260},
        "1", "[HPB2014Segments] (VIII 26.1%, order VIII>VII>IV>V>III>VI>II>I); others model assumption within that order",
        "Volume fraction of each Couinaud segment I-VIII (sums to 1).")
    terminal_diameter_um: float = param(
        50.0, "um", "model assumption: 100-300 um particles lodge at generations 12-17 above it ([LodgingDepthDerived])",
        "Arterial diameter at which the synthetic subtrees stop branching (below about 30 um the tree can be too "
        "resistive for the default pressures to calibrate; the error says so).", ge=5.0, le=2000.0)
    murray_exponent: float = param(
        2.7, "1", "[NakamuraAwa2014] (2.7 for 0.1-1 mm arteries); [Jessen2023] (2.0-3.0)",
        "Branching exponent g in r_parent^g = sum r_child^g.", ge=2.0, le=3.5)
    peribiliary_arteriole_diameter_um: float = param(
        40.0, "um", "model assumption: peribiliary plexus fed by arterioles of tens of um ([Debbaut2014] resolves 160 um)",
        "Diameter of the arterioles feeding each peribiliary (bile duct) compartment.", gt=5.0, le=500.0)
    seed: int = param(0, "-", "model assumption: fixed anatomy unless asked",
                      "Seed of the anatomy's random generator (tissue points, tree).", ge=0)

    @field_validator("segment_fractions")
    @classmethod
    def _check_segments(cls, value: dict[str, float]) -> dict[str, float]:
        """`segment_fractions` has exactly the keys I-VIII, each > 0, summing to 1."""
        keys = set(value)
        if keys != set(SEGMENTS):
            missing = sorted(set(SEGMENTS) - keys)
            extra = sorted(keys - set(SEGMENTS))
            raise ValueError(f"needs exactly the segments {', '.join(SEGMENTS)} (missing {missing}, unknown {extra})")
        if any(v < MIN_SEGMENT_FRACTION for v in value.values()):  # (a smaller one failed after the liver build)
            raise ValueError(f"every segment fraction must be at least {MIN_SEGMENT_FRACTION:g}")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment fractions must sum to 1 (they sum to {total:.6f})")
        return {k: float(value[k]) for k in SEGMENTS}


class AnatomyConfig(_Section):
    """Arterial variant anatomy (Michels) and the segment IV artery's origin."""

    michels_type: MICHELS_TYPES = param(
        "I", "-", "[Michels1966]; [Loschner2015] [Imam2022] (I 61-72%, II 9-11%, III 6.4%, V 8.8%)",
        "I conventional; II replaced LHA from LGA; III replaced RHA from SMA; IV both replaced; "
        "V accessory LHA from LGA; VI accessory RHA from SMA.")
    segment4_artery_origin: Literal["LHA", "RHA"] = param(
        "LHA", "-", "[Garg2019] (from LHA 57%, from RHA 32%)", "Parent of the segment IV (middle hepatic) artery A4.")
    falciform_artery: bool = param(
        False, "-", "[TextbookAnatomy] (present in 2-25% of patients, unverified)",
        "Whether a hepatic falciform artery (non-target, skin) leaves A4.")


class ExtrahepaticSupply(_Section):
    """A parasitised extrahepatic artery feeding a tumour from a separate systemic root."""

    artery: Literal["inferior_phrenic", "omental", "intercostal", "internal_mammary"] = param(
        "inferior_phrenic", "-", "[TextbookAnatomy] (extrahepatic supply)", "Name of the parasitised artery.")
    arterial_fraction: float = param(
        0.2, "1", "model assumption: sweep it; no published distribution",
        "Share of the tumour's baseline arterial inflow coming through this artery.", gt=0.0, lt=1.0)


class TumourConfig(_Section):
    """One spherical tumour, placed in a segment or at a centre."""

    name: str = param("tumour", "-", "-", "Label used in reports.", min_length=1)
    segment: Literal["I", "II", "III", "IV", "V", "VI", "VII", "VIII"] | None = param(
        "V", "-", "[SeedDeckUHS] (bulky segment 5 NET)", "Segment holding the tumour centre (ignored if centre_mm is given).")
    centre_mm: tuple[Annotated[float, Field(ge=-MAX_CENTRE_MM, le=MAX_CENTRE_MM)],
                     Annotated[float, Field(ge=-MAX_CENTRE_MM, le=MAX_CENTRE_MM)],
                     Annotated[float, Field(ge=-MAX_CENTRE_MM, le=MAX_CENTRE_MM)]] | None = param(
        None, "mm", "model assumption: each coordinate within +/-300 mm, beyond the largest (5 kg) liver; "
        "the centre must lie inside this liver",
        "Tumour centre in liver coordinates (x to patient's left, y posterior, z cranial).")
    diameter_mm: float = param(40.0, "mm", "[SeedDeckUHS] (bulky lesion; model assumption for the size); at most "
                               "the liver's antero-posterior thickness (checked against liver.mass_kg and shape)",
                               "Tumour diameter.", gt=1.0, le=200.0)
    arterial_fraction: float = param(
        0.9, "1", "[NETArterialFraction] (NET metastases 0.7-0.95, unverified: sweep 0.5-1.0); metastases' portal "
        "perfusion about a fifth of normal liver's ([PubMed15624511]: 19 vs 90 mL/min/100 g; the default tumour's, "
        "0.1 x vascularity 0.7 of p_n against the normal liver's 0.8, is about a tenth)",
        "Fraction of the tumour's baseline inflow from the hepatic artery.", ge=0.0, le=1.0)
    vascularity: float = param(
        0.7, "1", "[Meijerink2009] (HA > 50, PV < 10 mL/min/100 g) vs [Miles2000CTPerfusion] (normal 122-147 mL/min/100 mL)",
        "Total perfusion per volume relative to normal liver.", gt=0.0, le=20.0)
    necrotic_core_fraction: float = param(
        0.0, "1", "model assumption: no necrosis unless stated", "Volume fraction of a central unperfused core.",
        ge=0.0, le=0.9)
    extrahepatic: ExtrahepaticSupply | None = param(
        None, "-", "[TextbookAnatomy]", "Optional extrahepatic (parasitised) arterial supply.")
    shunt_fraction: float | None = param(
        None, "1", "model assumption anchored on [Bulman2021LSF] (median lung shunt 5%, IQR 3-9%) and [Kallini2017LSF] "
        "(portal invasion predicts a lung shunt above 20%); empty: 0.10 x vascularity / 0.7, doubled with portal vein "
        "thrombosis, at most 0.9 (sim.sirt_workup)",
        "SIRT: share of the MAA particles or Y-90 spheres reaching this tumour's tissue that pass its arteriovenous "
        "shunts to the lungs.", ge=0.0, le=1.0)


class PortalConfig(_Section):
    """Portal vein thrombosis."""

    thrombosis: PORTAL_THROMBOSIS_SITES = param(
        "none", "-", "[SeedDeckUHS] (PVT main v segmental: absolute contraindication)",
        "Thrombosed portal branch: none, main (MPV), RPV, LPV or a segmental branch P1-P8.")
    thrombosis_occlusion: float = param(
        0.9998, "1", "model assumption: near-complete; hepatopetal collaterals keep a trickle (about 5% of the "
        "portal inflow for main PVT on the default liver, the portal pressure rising to about 29 mmHg with the "
        "splanchnic inlet; 0.99 would leave 74%, the main portal vein being wide)",
        "Fraction of the thrombosed branch's conductance lost.", ge=0.0, le=1.0)


class HabrConfig(_Section):
    """Hepatic arterial buffer response."""

    enabled: bool = param(True, "-", "[Lautt1985]", "Whether arterial terminals dilate when portal inflow falls.")
    buffer_efficiency: float = param(
        0.25, "1", "[Lautt1985] (adenosine, 25.5 +/- 2.7%); [Lautt1990] (up to 0.44 active + passive)",
        "Fraction of a compartment's portal flow loss made up by arterial flow.", ge=0.0, le=1.0)
    max_arterial_ratio: float = param(
        2.0, "1", "[TextbookPhysiology] (hepatic arterial flow at most about doubles; unverified)",
        "Cap on arterial flow relative to baseline.", ge=1.0, le=5.0)


class FlowConfig(_Section):
    """Boundary conditions, rheology and the calibration targets of the baseline."""

    arterial_pressure_mmHg: float = param(90.0, "mmHg", "[TextbookPhysiology] (80-95 mmHg at the coeliac origin)",
                                          "Mean pressure at the arterial roots (coeliac, SMA, extrahepatic).", gt=20, le=200)
    portal_pressure_mmHg: float = param(10.0, "mmHg", "[TextbookPhysiology] (5-10 mmHg)",
                                        "Pressure at the main portal vein inlet.", gt=0, le=60)
    hepatic_vein_pressure_mmHg: float = param(4.0, "mmHg",
                                              "[Berzigotti2013] (HVPG 1-5 mmHg above it); model assumption: 3-5 mmHg",
                                              "Pressure at the hepatic veins / IVC outflow.", ge=0, le=40)
    sinusoid_gradient_mmHg: float = param(3.0, "mmHg", "[Berzigotti2013] (normal HVPG 1-5 mmHg)",
                                          "Baseline sinusoid pressure above hepatic venous pressure.", gt=0, le=20)
    systemic_venous_pressure_mmHg: float = param(5.0, "mmHg", "model assumption: central venous pressure 2-8 mmHg",
                                                 "Pressure that non-target branches (GDA, RGA, cystic) drain to.", ge=0, le=30)
    portal_inlet: Literal["splanchnic", "pressure"] = param(
        "splanchnic", "-", "[Lautt1985] (the liver does not control its portal inflow: the gut does)",
        "Portal inlet: 'splanchnic' = the splanchnic circulation sets the portal inflow (the healthy portal demand) "
        "and the portal pressure emerges; 'pressure' = a fixed portal_pressure_mmHg at the inlet.")
    portal_occlusion_pressure_mmHg: float = param(
        30.0, "mmHg", "[Moreno1975] (portal pressure 28.5 +/- 4 mmHg in portal hypertension, clamp on the portal vein); "
        "model assumption: the splanchnic side of a completely blocked portal vein reaches that level",
        "Portal inlet pressure if the main portal vein were completely blocked (splanchnic inlet): the splanchnic "
        "inflow falls by (portal pressure rise) / (this - portal_pressure_mmHg), diverted to portosystemic "
        "collaterals.", gt=0, le=100)
    total_flow_ml_min_kg: float = param(17.0, "mL/min/kg", "[Carlisle1992] (17.0 mL/min/kg; HA 20.6%)",
                                        "Baseline total hepatic blood flow per kg body mass.", gt=1, le=60)
    body_mass_kg: float = param(70.0, "kg", "[ICRP23] (Reference Man, 70 kg; model assumption: kept with ICRP 89's "
                                "height, 1.76 m, so the default patient mixes the two references)",
                                "Body mass that scales the hepatic flow.",
                                gt=20, le=250)
    normal_arterial_fraction: float = param(0.20, "1", "[SeedDeckUHS] (20% HA / 80% PV); [Carlisle1992] (20.6%)",
                                            "Baseline hepatic arterial share of normal liver inflow.", gt=0.01, lt=0.99)
    haematocrit: float = param(0.45, "1", "[Pries1994] (reference discharge haematocrit)",
                               "Discharge haematocrit for the Pries in vivo viscosity law.", ge=0.0, le=0.7)
    plasma_viscosity_mPa_s: float = param(1.2, "mPa s", "[Pries1994] (1.2-1.3 mPa s)", "Plasma viscosity.", gt=0.5, le=3.0)
    habr: HabrConfig = Field(default_factory=HabrConfig, description="Hepatic arterial buffer response.")

    @model_validator(mode="after")
    def _occlusion_above_portal(self) -> "FlowConfig":
        """The splanchnic source's pressure (portal_occlusion_pressure_mmHg) is above the healthy portal pressure."""
        if self.portal_pressure_mmHg >= self.arterial_pressure_mmHg:  # (failed after the build, naming the artery)
            raise ScenarioError("must be below arterial_pressure_mmHg (arterial blood flows into the sinusoids the "
                                "portal vein also feeds; a margin too small for the trees' resistance is found when "
                                "the liver is built)", path="portal_pressure_mmHg")
        if self.portal_occlusion_pressure_mmHg <= self.portal_pressure_mmHg:
            raise ScenarioError("must be above portal_pressure_mmHg (the splanchnic source pushes blood into the "
                                "portal vein)", path="portal_occlusion_pressure_mmHg")
        return self


class PatientConfig(_Section):
    """Clinical fields of the seed's patient-selection rules."""

    tumour_grade: Literal["G1", "G2", "G3"] = param("G2", "-", "[ENETSConsensus]", "WHO/ENETS grade of the primary.")
    ki67_percent: float = param(5.0, "%", "[ENETSConsensus] (G1 < 3%, G2 3-20%, G3 > 20%)", "Ki-67 proliferation index.",
                                ge=0, le=100)
    bilirubin_umol_l: float = param(10.0, "umol/L", "[SeedDeckUHS] (bilirubin > 20 umol/L contraindicates)",
                                    "Serum bilirubin.", ge=0, le=1000)
    albumin_g_l: float = param(40.0, "g/L", "[SeedDeckUHS] (low albumin contraindicates; model assumption: low < 30 g/L)",
                               "Serum albumin.", ge=0, le=80)
    ascites: bool = param(False, "-", "[SeedDeckUHS]", "Clinically evident ascites.")
    ecog: int = param(0, "-", "[SeedDeckUHS] (ECOG > 2 contraindicates)", "ECOG performance status 0-5.", ge=0, le=5)
    extrahepatic_supply_excluded: bool = param(True, "-", "[SeedDeckUHS] (relative contraindication if not)",
                                               "Whether extrahepatic tumour supply has been excluded on imaging.")
    disease_burden_percent: float | None = param(
        None, "%", "[SeedDeckUHS] (> 50% relative contraindication)",
        "Liver tumour burden; computed from the tumours when omitted.", ge=0, le=100)
    biliary_enteric_anastomosis: bool = param(False, "-", "[SeedDeckUHS]", "Prior biliary-enteric anastomosis (Whipple).")
    arterial_dissection: bool = param(False, "-", "[SeedDeckUHS]", "Hepatic arterial dissection.")
    functional_tumour: bool = param(
        False, "-", "[SeedDeckUHS] (pathway: octreotide infusion from pre-admission, continued after the procedure; "
        "foregut and midgut NETs are functional, hindgut non-functional); model assumption: non-functional unless stated",
        "Hormonally functional NET (e.g. carcinoid syndrome): octreotide cover around the embolisation.")
    height_m: float = param(
        1.76, "m", "[ICRP89] (reference adult male height 176 cm)",
        "Body height: with flow.body_mass_kg the body surface area of the resin BSA plan (embosim plan).", gt=0.5, le=2.5)
    prior_lung_dose_gy: float = param(
        0.0, "Gy", "model assumption: no earlier radioembolisation; [VanRoekel2021Thesis] (50 Gy cumulative limit)",
        "Lung dose of earlier radioembolisations, counted against the cumulative lung limit (embosim plan).",
        ge=0, le=1000)


class AgentConfig(_Section):
    """The embolic agent."""

    kind: Literal["microspheres", "pva", "custom", "y90_resin", "y90_glass", "lipiodol"] = param(
        "microspheres", "-", "[MeritEmbosphereIFU]; [Y90Microspheres] (Y-90 resin and glass microspheres); "
        "lipiodol: [Kan1997Emulsion] (docs/tace.md)",
        "Calibrated microspheres, irregular PVA, a custom distribution, Y-90 resin (SIR-Spheres) or glass "
        "(TheraSphere) microspheres, whose size, activity and count come from the product (sim.agents; size_bin "
        "does not apply), or a Lipiodol-drug emulsion (cTACE, a liquid: lipiodol_* keys; particles may follow it, "
        "procedure.agent_sequence).")
    size_bin: Literal["40-120", "100-300", "300-500", "500-700", "700-900", "900-1200"] = param(
        "100-300", "um", "[SeedDeckUHS] (100-300 um for a bulky segment 5 NET); [MeritEmbosphereIFU] bins",
        "Nominal size range of the agent.")
    diameters_um: tuple[Annotated[float, Field(ge=MIN_PARTICLE_DIAMETER_UM, le=MAX_PARTICLE_DIAMETER_UM)], ...
                        ] | None = param(
        None, "um", "model assumption: 5-2000 um; smaller particles pass every vessel the model resolves "
        "(liver.terminal_diameter_um >= 5 um), larger ones do not pass the largest allowed catheter (7 Fr = 2.33 mm)",
        "Custom agent: the diameters to draw from (uniformly); required when kind = 'custom'.", max_length=10_000)
    deformability: float = param(
        0.2, "1", "[MeritEmbosphereIFU] (spheres compress 20-30%)",
        "A particle enters a vessel down to (1 - deformability) times its diameter.", ge=0.0, lt=0.6)
    particles_per_ml: float | None = param(
        None, "1/mL", "[ParticlesPerMLDerived] (derived at random close packing 0.64); at most 1 mL / volume of the agent's "
        "smallest particle (1.5e10 for the smallest allowed, 5 um)",
        "Particles per mL of settled agent; derived from the size bin when omitted.", gt=0, le=MAX_PARTICLES_PER_ML)
    contrast_dilution: float = param(
        10.0, "mL/mL", "[SIRAbstract305] (bead:contrast 1:4 to 1:14)",
        "mL of contrast per mL of settled agent in the injected suspension.", ge=0.0, le=50.0)
    permanent: bool = param(True, "-", "[MeritEmbosphereIFU] (permanent); [McWilliams2011] (gelfoam temporary)",
                            "Whether occlusions persist (into a staged second session).")
    seal_porosity: float = param(
        0.3, "1", "calibration: lobar (RHA) volume of spheres to near stasis against the clinical dose of about one "
        "2 mL vial injected until near stasis [Nouri2019] (practice 1-4 mL: vials of 1 or 2 mL [MeritEmbosphereIFU], "
        "two for larger disease [Nouri2019]): inside the practice range at the start of the model's plateau, which "
        "stays below the anchor (docs/validation.md, embolic load)",
        "Porosity of a sphere compressed into a lumen narrower than itself: how well a wedged particle seals "
        "(Kozeny-Carman plug); the one calibrated parameter of the embolic load.", ge=0.02, le=0.5)
    aggregation: bool = param(
        True, "-", "[DCBeadAggregation2015] (no aggregation above 10x dilution); model assumption for the growth "
        "below it", "Spheres travel in clusters when the suspension is concentrated: mean extra particles per "
        "cluster (10 - dilution) / (1 + dilution) below a 1:10 dilution, none above (sim.agents).")
    vial_ml: float = param(
        2.0, "mL", "[MeritEmbosphereIFU]; [BTGDCBeadIFU] (1 or 2 mL of spheres per vial or syringe)",
        "Settled spheres per vial of the product (for the `vials` read-out; Y-90 kinds: the spheres of the "
        "product's 3 GBq vial instead).", gt=0.0, le=20.0)
    activity_gbq: float | None = param(
        None, "GBq", "model assumption: at most 20 GBq, the largest glass vial ([WJH2015Y90]); set by the plan",
        "Y-90 kinds: prescribed activity at treatment time (required for them, not allowed for other kinds).",
        gt=0.0, le=20.0)
    treatment_delay_h: float = param(
        0.0, "h", "model assumption: treatment at the calibration time; at most 336 h (two weeks, 5.2 half-lives "
        "[Y90Microspheres]: 3% of the calibration activity left)",
        "Y-90 kinds: time from the product's calibration to the treatment; each sphere carries less activity, so "
        "more spheres deliver the same activity (sim.agents).", ge=0.0, le=336.0)

    aliquot_fraction: float = param(
        0.1, "1", "model assumption: resin is given in small aliquots with a contrast check between them and stopped "
        "at slow flow (product practice, [SirtexSIRSpheres]); ten aliquots of equal activity chosen, unverified",
        "y90_resin: share of the prescribed activity per aliquot; the flow is checked with contrast after each and "
        "delivery stops at the procedure endpoint (glass is one flush, checked at the end only; sim.sirt_delivery).",
        gt=0.0, le=1.0)

    # --- TACE (issue 17): the Lipiodol-drug emulsion of cTACE (kind = "lipiodol"; sim/lipiodol.py) ---
    lipiodol_volume_ml: float = param(
        5.0, "mL", "model assumption: a selective injection needs less than the lobar and whole-liver ones of "
        "[Nakamura1988PortalOil] (17 mL on average; a third of the patients 10 mL or less)",
        "Volume of Lipiodol (the oil phase) injected.", gt=0.0, le=30.0)
    lipiodol_to_aqueous_ratio: float = param(
        2.0, "mL/mL", "[Masada2017] (Lipiodol:drug solution 2:1 gives 70% water-in-oil, 1:1 only 16%)",
        "Volume of Lipiodol per volume of aqueous drug solution in the emulsion (sets water-in-oil vs oil-in-water).",
        ge=0.5, le=4.0)
    emulsion_droplet_um: float = param(
        40.0, "um", "[Masada2017] (median droplet 33.7 um at 1 s per push, 52.0 um at 2 s)",
        "Median droplet diameter of the dispersed phase (report; droplets deform and pass the terminal arterioles).",
        gt=1.0, le=500.0)
    lipiodol_sinusoid_capacity_ml_per_ml: float = param(
        0.01, "mL/mL", "model assumption: the oil front reaches the portal venules once it fills about a tenth of "
        "the sinusoidal space (sinusoids about 10% of the liver volume, unverified); a 150 mL segment then stagnates "
        "after a few mL, lobes after 10-20 mL as in [Nakamura1988PortalOil]",
        "Oil held in the sinusoids per mL of tissue before it overflows into the portal venules.", gt=0.0, le=0.2)
    lipiodol_portal_capacity_ml_per_ml: float = param(
        0.005, "mL/mL", "model assumption: terminal portal venules hold about half as much as the sinusoids reached",
        "Oil the portal venules of a territory hold per mL of tissue before the rest passes to the hepatic veins.",
        gt=0.0, le=0.2)
    lipiodol_normal_half_life_d: float = param(
        3.0, "d", "model assumption: oil is cleared from normal parenchyma within about one to two weeks "
        "(Kupffer cells; commonly quoted, unverified)", "Half-life of Lipiodol in normal liver.", gt=0.0, le=365.0)
    lipiodol_tumour_half_life_d: float = param(
        60.0, "d", "[Takayasu1993] (dense tumour retention 3-4 weeks after cTACE in massive necrosis); model "
        "assumption for the value (retained for months)", "Half-life of Lipiodol in tumour.", gt=0.0, le=3650.0)
    emulsion_doxorubicin_mg: float = param(
        50.0, "mg", "model assumption: a common single-session dose (DEB doses of [Varela2007]: 47-150 mg)",
        "Doxorubicin in the emulsion's aqueous phase (kind = 'lipiodol').", ge=0.0, le=300.0)
    bead_doxorubicin_mg_per_ml: float = param(
        0.0, "mg/mL", "[DCBeadLoading] (25 mg per mL of beads, 50 mg in a 2 mL vial; at most 37.5 mg/mL); 0: bland",
        "Doxorubicin loaded per mL of settled beads (DEB-TACE with kind = 'microspheres'; particles that follow "
        "Lipiodol are bland).", ge=0.0, le=37.5)
    bead_elution_half_life_d: float = param(
        10.0, "d", "[Namur2011] derived (tissue doxorubicin around beads 5 uM at 8 h, 0.65 uM at 1 month)",
        "Half-life of doxorubicin elution from lodged beads (first order).", gt=0.0, le=365.0)
    # --- end TACE block ---

    @model_validator(mode="after")
    def _custom_needs_diameters(self) -> "AgentConfig":
        """`kind = "custom"` needs `diameters_um`; `particles_per_ml` fits in 1 mL of the smallest particles."""
        if self.kind == "custom" and not self.diameters_um:
            raise ScenarioError("kind = 'custom' needs diameters_um (a list of particle diameters in um)",
                                path="diameters_um")
        y90 = self.kind in Y90_KINDS
        if y90 and self.activity_gbq is None:
            raise ScenarioError(f"kind = {self.kind!r} needs activity_gbq (the prescribed Y-90 activity at treatment "
                                "time, 0-20 GBq)", path="activity_gbq")
        if not y90 and self.activity_gbq is not None:
            raise ScenarioError(f"activity_gbq applies to the Y-90 kinds ({', '.join(Y90_KINDS)}) only, not to "
                                f"kind = {self.kind!r}", path="activity_gbq")
        if y90 and not self.permanent:  # (a second rule had read the flag: necrosis temporary, load not carried)
            raise ScenarioError(f"kind = {self.kind!r}: Y-90 glass and resin spheres are permanent (not resorbed); "
                                "remove permanent = false", path="permanent")
        if y90 and (self.diameters_um or self.particles_per_ml is not None):
            raise ScenarioError(f"kind = {self.kind!r} takes its size distribution and count from the product: "
                                "remove diameters_um and particles_per_ml",
                                path="particles_per_ml" if self.particles_per_ml is not None else "diameters_um")
        if self.diameters_um is not None and self.kind != "custom":  # (was drawn from size_bin, the list ignored)
            raise ScenarioError(f"diameters_um applies to kind = 'custom' only, not to kind = {self.kind!r} (its sizes "
                                "come from size_bin)", path="diameters_um")
        if self.bead_doxorubicin_mg_per_ml > 0.0 and self.kind != "microspheres":  # (was run bland, the drug ignored)
            raise ScenarioError(f"bead_doxorubicin_mg_per_ml applies to drug-eluting microspheres (kind = "
                                f"'microspheres') only, not to kind = {self.kind!r}", path="bead_doxorubicin_mg_per_ml")
        if self.particles_per_ml is not None and self.kind != "lipiodol":  # (a cTACE's: its particles', Scenario)
            smallest = min(self.diameters_um) if self.kind == "custom" else SIZE_BINS_UM[self.size_bin][0]
            check_particles_per_ml(self.particles_per_ml, smallest, "particles_per_ml")
        return self


def check_particles_per_ml(particles_per_ml: float, smallest_um: float, path: str) -> None:
    """``agent.particles_per_ml`` fits in 1 mL of the smallest particles (``smallest_um``); else a ScenarioError."""
    most = 1.0 / (math.pi / 6.0 * (smallest_um * 1e-4) ** 3)
    if particles_per_ml > most:
        raise ScenarioError(f"{particles_per_ml:.3g} particles per mL do not fit in 1 mL: at most {most:.3g} "
                            f"(1 mL / volume of the smallest particle, {smallest_um:g} um)", path=path)


class CatheterConfig(_Section):
    """Microcatheter tip and injection."""

    vessel: str = param("A5", "-", "[SeedDeckUHS] (selective segment 5)",
                        "Named vessel (A5, RHA, PHA, ...) or synthetic vessel id '#<n>' holding the tip.")
    tip_distance_mm: float | None = param(
        None, "mm", "model assumption: mid-vessel when omitted; at most 300 mm, beyond the longest vessel (the "
        "vessel's own length is checked on the built liver)",
        "Distance of the tip from the named vessel's origin (a synthetic vessel '#<n>' holds it half-way).",
        gt=0, le=300.0)
    outer_diameter_fr: float = param(2.7, "Fr", "model assumption: common 2.4-2.8 Fr microcatheters",
                                     "Outer diameter of the catheter (narrows the lumen): the catalogue's sizes (sim.catheters) "
                                     "from 2.0 Fr (microcatheter) and 4.0 Fr (base catheter).", ge=2.0, le=7.0)
    rate_ml_min: float = param(1.0, "mL/min", "[SIRAbstract305] (particle slurries about 1 mL/min)",
                               "Injection rate of the suspension.", gt=0.0, le=60.0)
    mode: Literal["continuous", "pulsed"] = param(
        "continuous", "-", "[SIR2023Abstract] (pulsed or continuous)",
        "Injection pattern; pulsed = hand pulses at 3x the mean rate for a third of the time (model assumption), "
        "so reflux sets in earlier.")
    kind: Literal["microcatheter", "base"] = param(
        "microcatheter", "-", "[HepaticCoaxialPractice] (a coaxial 2.7 Fr microcatheter through a 4 Fr base catheter)",
        "Catheter the contrast runs are injected through: a microcatheter (below 4 Fr) or a base catheter "
        "(4 Fr or more), of size outer_diameter_fr; its lumen sets the fastest injection ([CatheterSpecs]).")
    angiogram_rate_ml_s: float | None = param(
        None, "mL/s", "model assumption: omitted, the operator matches the baseline run to the vessel's flow and "
        "injects the end-of-procedure run no faster than the embolised bed takes (no reflux); set it to see reflux",
        "Contrast injection rate of the virtual angiograms, at most the catheter's maximum rate "
        "(sim.catheters: rated pressure, lumen, contrast viscosity).", gt=0.0, le=30.0)

    @field_validator("kind")
    @classmethod
    def _kind_fits_size(cls, value: str, info: ValidationInfo) -> str:
        """A microcatheter is below 4 Fr, a base catheter 4 Fr or more (sim.catheters.lumen_for)."""
        from .catheters import lumen_for

        if "outer_diameter_fr" in info.data:
            lumen_for(value, info.data["outer_diameter_fr"])
        return value

    @field_validator("angiogram_rate_ml_s")
    @classmethod
    def _within_catheter_limit(cls, value: float | None, info: ValidationInfo) -> float | None:
        """The angiogram rate is one the catheter can deliver (sim.catheters.max_rate_ml_s)."""
        from .catheters import lumen_for, max_rate_ml_s

        if value is not None and {"kind", "outer_diameter_fr"} <= info.data.keys():
            lumen = lumen_for(info.data["kind"], info.data["outer_diameter_fr"])
            if value > max_rate_ml_s(lumen):
                raise ValueError(f"{value:g} mL/s is faster than a {lumen.label} can deliver; allowed: at most "
                                 f"{max_rate_ml_s(lumen):.2f} mL/s")
        return value

    @field_validator("vessel")
    @classmethod
    def _known_vessel(cls, value: str) -> str:
        """`vessel` is a named artery or a synthetic vessel id `#<n>` (the catheter is trans-arterial)."""
        if value in NAMED_ARTERIES:
            return value
        if value.startswith("#") and value[1:].isdigit():
            return value
        raise ValueError(f"unknown vessel {value!r}; allowed: a named artery of the scenario's Michels type (of all "
                         f"types: {', '.join(NAMED_ARTERIES)}) or a synthetic id '#<n>'")


class AgentStep(_Section):
    """A later agent in a sequence: switch to it when the antegrade flow has fallen enough."""

    kind: Literal["microspheres", "pva"] = param("microspheres", "-", "[MeritEmbosphereIFU]",
                                                 "Calibrated microspheres or irregular PVA.")
    size_bin: Literal["40-120", "100-300", "300-500", "500-700", "700-900", "900-1200"] = param(
        "300-500", "um", "model assumption: upsize as flow slows ([BeadBlockGuide])", "Nominal size range.")
    switch_at_flow_fraction: float = param(
        0.5, "1", "model assumption: upsize once antegrade flow has halved",
        "Switch to this agent when the antegrade flow fraction falls to this value.", gt=0, lt=1)


def _check_increasing(section: _Section, keys: tuple[str, ...]) -> None:
    """Refuse values of ``keys`` (of one section) that do not increase strictly, naming the first out of order."""
    values = [getattr(section, key) for key in keys]
    for i in range(1, len(keys)):
        if not values[i - 1] < values[i]:
            raise ScenarioError(f"must be above {keys[i - 1]} ({values[i - 1]:g}); allowed: "
                                f"{' < '.join(keys)} (got {values[i]:g})", path=keys[i])


class ProcedureConfig(_Section):
    """Endpoint and stopping rules of the embolisation."""

    endpoint: Literal["sluggish", "near_stasis", "stasis"] = param(
        "stasis", "-", "[SeedDeckUHS] (endpoint sluggish antegrade flow v stasis); [Lewandowski2007SACE]",
        "Angiographic endpoint at which injection stops.")
    slowed_flow_reduction: float = param(0.3, "1", "model assumption: SACE II 'slowed but present' needs a visible change",
                                         "Antegrade flow reduction read as slowed flow (SACE II).", gt=0, lt=1)
    sluggish_flow_reduction: float = param(0.6, "1", "[EndpointThresholds] (sluggish at 55-60% flow reduction)",
                                           "Antegrade flow reduction read as sluggish (SACE III).", gt=0, lt=1)
    near_stasis_flow_reduction: float = param(0.75, "1", "[EndpointThresholds] (near stasis about 75%)",
                                              "Antegrade flow reduction read as near stasis.", gt=0, lt=1)
    stasis_flow_reduction: float = param(0.92, "1", "[EndpointThresholds] (stasis 90-95% or more)",
                                         "Antegrade flow reduction read as stasis (SACE IV).", gt=0, lt=1)
    near_stasis_clearance_cycles: float = param(
        3.0, "cardiac cycles", "[TIMIGrades] (contrast not cleared within 3-5 cardiac cycles: the lower end); model assumption: "
        "the near-stasis sign (from a TIMI 3 baseline of about one cycle, 3 cycles is a 67% flow reduction)",
        "Contrast clearance time the near-stasis endpoint needs (with near_stasis_flow_reduction).", gt=0, le=100)
    stasis_clearance_cycles: float = param(
        5.0, "cardiac cycles", "[TIMIGrades] (contrast not cleared within 3-5 cardiac cycles: the upper end, so that "
        "every author's version holds)", "Contrast clearance time SACE IV (stasis) needs.", gt=0, le=100)
    reduced_blush_fraction: float = param(
        0.7, "1", "model assumption: a 30% loss is a visible change, as slowed_flow_reduction",
        "Tumour blush seen from the catheter (territory_blush_fraction) at or below which it reads as reduced "
        "(SACE II).", gt=0, lt=1)
    minimal_blush_fraction: float = param(
        0.5, "1", "model assumption anchored on [Wang2010] (tumour perfusion at the operators' subjective TACE endpoint "
        "39% of baseline, 95% CI 26-52%)", "Tumour blush seen from the catheter at or below which it reads as "
        "minimal (SACE III).", gt=0, lt=1)
    absent_blush_fraction: float = param(
        0.2, "1", "model assumption: blush not distinguished from background below about 20% of baseline arterial "
        "inflow, as outcomes.devascularised_fraction", "Tumour blush seen from the catheter at or below which it "
        "reads as absent (SACE IV).", gt=0, lt=1)
    cardiac_cycle_s: float = param(0.8, "s", "model assumption: heart rate 75/min",
                                   "Cardiac cycle length for clearance times in cycles.", gt=0.2, le=2.0)
    max_volume_ml: float = param(50.0, "mL", "model assumption: two 2 mL vials of spheres at 1:10 dilution (44 mL) "
                                 "and a margin; a second vial for large disease [Nouri2019]",
                                 "Maximum suspension volume before stopping.", gt=0, le=500)
    stop_on_reflux: bool = param(False, "-", "model assumption: operators usually stop on reflux; off to study it",
                                 "Stop as soon as particles reflux out of the catheterised vessel.")
    size_bias_onset: float = param(
        0.4, "1", "[LargeParticleBias] (above 0.3-0.5 of the branch, favour the wider child); [Bushi2005]",
        "Particle/branch diameter ratio above which a branch is weighted down (0 = pure flow split).", ge=0, lt=1)
    release: Literal["mixed", "central"] = param(
        "mixed", "-", "[Bomberna2022] (well-mixed particles follow the flow split); [Taebi2021] (near the tip the release "
        "position matters: up to 53% at 5 mm)",
        "Particles well mixed across the lumen, or released on the axis (first bifurcation weighted by flow^2, "
        "model assumption).")
    agent_sequence: tuple[AgentStep, ...] = param(
        (), "-", "model assumption: start small, e.g. 40-120 um, and upsize as flow slows ([BeadBlockGuide])",
        "Later agents, in order, each used from its switch flow fraction on ([agent] is the first); they share "
        "[agent]'s deformability and contrast dilution.", max_length=10)
    seed: int = param(0, "-", "model assumption", "Seed of the procedure's random generator (particle draws).", ge=0)
    coils: tuple[str, ...] = param(
        (), "-", "[Borggreve2016] (prophylactic coiling of hepaticoenteric arteries: GDA, right gastric, cystic, "
        "falciform; advised for those leaving close to or distal to the injection site)",
        "Named arteries coil-embolised before the injection (e.g. [\"GDA\", \"RGA\"]; any named artery of this "
        "anatomy except the coeliac trunk and SMA, Michels variants included, not one the catheter passes through); "
        "docs/sirt.md.", max_length=10)
    coil_residual_flow_fraction: float = param(
        0.02, "1", "model assumption: a freshly placed fibred coil pack still passes some flow until thrombus fills it "
        "(minutes); 2% of the vessel's pre-coil flow at the injection. Coils placed at the mapping angiogram 1-2 weeks "
        "earlier are thrombosed (0); [McWilliams2011] (9% of coiled arteries recanalised at 1 month)",
        "Share of its pre-coil flow a coiled vessel keeps during the injection.", ge=0, lt=1)

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> "ProcedureConfig":
        """Flow-reduction thresholds satisfy slowed < sluggish < near_stasis < stasis."""
        _check_increasing(self, ("slowed_flow_reduction", "sluggish_flow_reduction", "near_stasis_flow_reduction",
                                 "stasis_flow_reduction"))
        _check_increasing(self, ("absent_blush_fraction", "minimal_blush_fraction", "reduced_blush_fraction"))
        if self.near_stasis_clearance_cycles > self.stasis_clearance_cycles:
            raise ScenarioError("must not exceed stasis_clearance_cycles", path="near_stasis_clearance_cycles")
        switches = [step.switch_at_flow_fraction for step in self.agent_sequence]
        if any(b >= a for a, b in zip(switches, switches[1:])):
            second = next(i + 1 for i, (a, b) in enumerate(zip(switches, switches[1:])) if b >= a)
            raise ScenarioError("must decrease from one agent of agent_sequence to the next",
                                path=f"agent_sequence.{second}.switch_at_flow_fraction")
        return self


class OutcomesConfig(_Section):
    """Thresholds and dose-response parameters that turn flows into clinical outcomes.

    The threshold read-outs (``devascularised_fraction``, ``ischaemia_oxygen_fraction``)
    are kept for continuity; the teaching read-out is the graded necrosis model
    (``*_necrosis_*``, ``*_tolerance_*``, ``ischaemia_duration_h``; docs/outputs.md).
    """

    devascularised_fraction: float = param(
        0.2, "1", "model assumption: tumour blush absent below about 20% of baseline arterial inflow (SACE IV)",
        "A region is devascularised when its inflow falls below this share of baseline (tumour: total inflow, "
        "artery + portal vein; normal liver: arterial inflow).", gt=0, lt=1)
    ischaemia_oxygen_fraction: float = param(
        0.35, "1", "model assumption: critical O2 delivery = baseline extraction (about 0.35) / maximal extraction (about 1)",
        "Parenchyma is ischaemic when its O2 delivery (artery + portal vein) falls below this share of baseline.",
        gt=0, lt=1)
    portal_oxygen_content_ratio: float = param(
        0.75, "1", "model assumption: portal O2 saturation about 70-75% vs arterial 97% (textbook)",
        "O2 content of portal blood relative to arterial blood.", gt=0, le=1)
    tumour_necrosis_o2_ratio: float = param(
        0.4, "1",
        "model assumption anchored on [Wang2010] (tumour perfusion 39% of baseline at the TACE endpoint) and "
        "[Riaz2010RadPath] (37% of lesions completely necrotic): half of the tumour dies at about that ratio",
        "O2 delivery ratio (artery + portal_oxygen_content_ratio x portal, against the pre-procedure state) at "
        "which half of the viable tumour becomes necrotic when the deficit is permanent.", gt=0, lt=1)
    normal_necrosis_o2_ratio: float = param(
        0.35, "1",
        "model assumption: critical O2 delivery = baseline hepatic O2 extraction (about 0.35) / maximal extraction "
        "(about 1), as ischaemia_oxygen_fraction",
        "O2 delivery ratio (against the healthy liver) at which half of the normal parenchyma becomes necrotic "
        "when the deficit is permanent.", gt=0, lt=1)
    necrosis_steepness: float = param(
        2.0, "1",
        "model assumption: spread of local O2 delivery within a compartment, relative dispersion about 0.6 "
        "([Bassingthwaighte1989]: 0.3 in 1 g pieces, rising as mass^(1-D), D about 1.2, in smaller ones)",
        "Hill exponent of necrosis against the deficit-to-residual ratio (1 - r) / r of O2 delivery: larger is "
        "steeper (a threshold in the limit).", ge=0.5, le=20)
    normal_ischaemia_tolerance_h: float = param(
        1.5, "h",
        "[Frederiks1982] (rat: 40 min of total ischaemia mostly reversible, 90 min mostly irreversible); "
        "[VanRiel2016] (human continuous inflow occlusion tolerated up to about 60-120 min)",
        "Duration of a complete deficit after which half of the normal parenchyma it reaches is necrotic (at most 240 h: "
        "tolerances are minutes to hours).", gt=0, le=MAX_TOLERANCE_H)
    tumour_ischaemia_tolerance_h: float = param(
        3.0, "h", "model assumption: hypoxia-adapted, glycolytic tumour cells tolerate twice the hepatocytes' ischaemia",
        "Duration of a complete deficit after which half of the tumour it reaches is necrotic (at most 240 h).", gt=0,
        le=MAX_TOLERANCE_H)
    tolerance_steepness: float = param(
        4.0, "1", "[Frederiks1982] (necrosis rises steeply between 40 and 90 min of ischaemia)",
        "Hill exponent of necrosis against the deficit's duration / tolerance.", ge=0.5, le=20)
    ischaemia_duration_h: float | None = param(
        None, "h",
        "model assumption: bland embolisation with a permanent agent is permanent ([MeritEmbosphereIFU])",
        "How long the deficit lasts (36 s to ten years); empty: permanent for a permanent agent, temporary_occlusion_h "
        "for a temporary one (agent.permanent).", ge=MIN_DURATION_H, le=MAX_DURATION_H)
    temporary_occlusion_h: float = param(
        168.0, "h", "[McWilliams2011] (gelfoam: 40% recanalised at 1 month); model assumption: about a week",
        "Duration of the deficit after a temporary agent, and the mean life of its plugs before a later session "
        "(share resorbed 1 - exp(-interval / this)); ischaemia_duration_h, when set, replaces it for both "
        "(36 s to ten years).",
        ge=MIN_DURATION_H, le=MAX_DURATION_H)


#: Longest interval between two sessions, weeks: two years, beyond the recanalisation and regeneration data.
MAX_INTERVAL_WEEKS = 104.0


class SirtConfig(_Section):
    """Y-90 dosimetry options (docs/sirt.md): the dose model and the microscopic heterogeneity within compartments."""

    dose_model: Literal["local", "kernel"] = param(
        "local", "-", "[EANM2021] (local deposition: mean beta range 2.5-4 mm); [Loevinger1956] (kernel)",
        "Absorbed dose per compartment by local deposition, or with a Y-90 dose point kernel on the tissue points "
        "(cross-fire between neighbouring compartments).")
    lobule_volume_mm3: float = param(
        1.25, "mm^3", "[LobuleCountDerived] (1-1.5 mm^3 per lobule)",
        "Tissue volume over which the microscopic dose is averaged (a hepatic lobule).", gt=0.01, le=100)
    sphere_cluster_dispersion: float = param(
        53.0, "1", "derived from [Hogberg2015] (resin, normal liver: 3888 spheres in 16 biopsies, the largest "
        "cluster 453 spheres, so sum(M^2) / sum(M) >= 453^2 / 3888 = 53 from that cluster alone); taken for glass "
        "too (model assumption)", "Spheres lodge in clusters: E[M^2] / E[M] of the cluster size M (1: independent "
        "spheres, Poisson).", ge=1, le=10000)


class IntervalConfig(_Section):
    """Time since the previous session (staged treatment) and what it does to occlusions and the liver (sim/interval.py)."""

    weeks: float | None = param(
        None, "weeks", "[SeedDeckUHS] (bilobar disease: lobar treatments 4-6 weeks apart)",
        "Time since the previous session (sim.run(prior=...)); empty: 0 in sim.run (another injection of the same "
        "session) and 6 between the sessions of the staged strategy (embosim compare --interval-weeks).",
        ge=0.0, le=MAX_INTERVAL_WEEKS)
    microsphere_recanalised_max: float = param(
        0.6, "1", "[Laurent2009] (60.6% of vessels recanalised 26 months after trisacryl gelatin microspheres)",
        "Share of the microsphere-loaded vessels and beds recanalised in the long run (also custom agents: model "
        "assumption).", ge=0.0, le=1.0)
    pva_recanalised_max: float = param(
        0.65, "1", "[Laurent2009] (65.2% of vessels recanalised 26 months after PVA)",
        "Share of the PVA-loaded vessels and beds recanalised in the long run.", ge=0.0, le=1.0)
    recanalisation_time_weeks: float = param(
        5.6, "weeks", "derived: [SheepUAE2018] (18% of the ewes recanalised 2 weeks after trisacryl gelatin "
        "microspheres; each had one embolised uterine artery, seen by angiography) with the [Laurent2009] plateau "
        "(a share of vessels in histology): 0.6 (1 - exp(-2 / 5.6)) = 0.18; model assumption: the share of arteries "
        "seen recanalised is taken for the share of loaded vessels, two different counts",
        "Time constant of recanalisation: share recanalised = max x (1 - exp(-weeks / this)).", gt=0.0, le=520.0)
    regenerated_max: float = param(
        0.49, "1", "derived from [Aoki2011]: the fast phase of a two-phase fit to the share of a resected volume "
        "restored (0.16, 0.26, 0.38, 0.55, 0.60, 0.67, 0.79 at 1, 2, 4.3, 13, 26, 52, 208 weeks; the fit within 0.02 "
        "of each)",
        "Share of the necrotic normal liver's function that the fast phase of regeneration (hypertrophy of the rest) "
        "restores.", ge=0.0, le=1.0)
    regeneration_time_weeks: float = param(
        3.0, "weeks", "derived from [Aoki2011] (as regenerated_max)",
        "Time constant of the fast phase: share restored = max x (1 - exp(-weeks / this)) + the slow phase's.",
        gt=0.0, le=520.0)
    regenerated_slow_max: float = param(
        0.31, "1", "derived from [Aoki2011] (the slow phase of the fit of regenerated_max)",
        "Share that the slow phase of regeneration (remodelling over months to years) adds in the long run; with "
        "the fast phase, 0.8 of the lost function is restored at most.", ge=0.0, le=1.0)
    regeneration_slow_time_weeks: float = param(
        57.0, "weeks", "derived from [Aoki2011] (as regenerated_slow_max)",
        "Time constant of the slow phase of regeneration.", gt=0.0, le=5200.0)

    @model_validator(mode="after")
    def _regeneration_at_most_whole(self) -> "IntervalConfig":
        """The two phases of regeneration restore at most all the lost function."""
        if self.regenerated_max + self.regenerated_slow_max > 1.0:
            raise ScenarioError(f"regenerated_max + regenerated_slow_max must be at most 1 (all the lost function), "
                                f"got {self.regenerated_max:g} + {self.regenerated_slow_max:g}",
                                path="regenerated_slow_max")
        return self

    @property
    def elapsed_weeks(self) -> float:
        """``weeks``, 0 when empty (sim.run: the same session)."""
        return 0.0 if self.weeks is None else float(self.weeks)


class Scenario(_Section):
    """A complete simulation scenario (all sections optional; defaults are the seed's case)."""

    title: str = param("Bulky segment 5 NET, selective 100-300 um TAE", "-", "[SeedDeckUHS]", "Short title for reports.")
    description: str = param("", "-", "-", "Teaching point of the scenario.")
    reference: str = param("[SeedDeckUHS]", "-", "-", "Citation key or note the scenario is based on.")
    liver: LiverConfig = Field(default_factory=LiverConfig)
    anatomy: AnatomyConfig = Field(default_factory=AnatomyConfig)
    tumours: tuple[TumourConfig, ...] = Field(
        default_factory=lambda: (TumourConfig(),), max_length=100,
        description="Tumours (at most 100: each is two regions of the tissue point cloud; diffuse disease beyond "
                    "that is better described by patient.disease_burden_percent).")
    portal: PortalConfig = Field(default_factory=PortalConfig)
    flow: FlowConfig = Field(default_factory=FlowConfig)
    patient: PatientConfig = Field(default_factory=PatientConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    catheter: CatheterConfig = Field(default_factory=CatheterConfig)
    procedure: ProcedureConfig = Field(default_factory=ProcedureConfig)
    outcomes: OutcomesConfig = Field(default_factory=OutcomesConfig)
    interval: IntervalConfig = Field(default_factory=IntervalConfig)
    sirt: SirtConfig = Field(default_factory=SirtConfig)

    @model_validator(mode="after")
    def _tumour_placement(self) -> "Scenario":
        """Named tumours with a segment or centre that fit in the liver; portal > hepatic vein + sinusoid pressure.

        Tumour names are unique; each tumour's diameter is at most the liver's thickness, a given centre lies
        inside the liver and the tumours' total volume is below the liver's; portal pressure is above hepatic
        vein pressure + sinusoid gradient.
        """
        names = [t.name for t in self.tumours]
        if len(set(names)) != len(names):
            second = next(i for i, name in enumerate(names) if name in names[:i])
            raise ScenarioError(f"tumour name {names[second]!r} is used twice; give each [[tumours]] a distinct name",
                                path=f"tumours.{second}.name")
        for i, t in enumerate(self.tumours):
            if t.segment is None and t.centre_mm is None:
                raise ScenarioError(f"tumour {t.name!r} needs a segment or a centre_mm", path=f"tumours.{i}.segment")
        if self.flow.sinusoid_gradient_mmHg + self.flow.hepatic_vein_pressure_mmHg >= self.flow.portal_pressure_mmHg:
            raise ScenarioError("hepatic_vein_pressure_mmHg + sinusoid_gradient_mmHg must be below "
                                "portal_pressure_mmHg", path="flow.hepatic_vein_pressure_mmHg")
        if self.agent.kind in Y90_KINDS:
            if self.procedure.agent_sequence:  # (its particles had been counted as radioactive, review 27)
                raise ScenarioError(f"a Y-90 delivery ({self.agent.kind}) has one agent, the spheres of "
                                    "agent.activity_gbq: remove procedure.agent_sequence", path="procedure.agent_sequence")
            if not self.tumours:  # (its MAA work-up had raised an IndexError after the build, review 27)
                raise ScenarioError(f"a Y-90 delivery ({self.agent.kind}) needs at least one tumour: its MAA work-up "
                                    "and partition model read the tumour-to-normal ratio", path="tumours")
        self._check_against_liver()
        self._check_catheter_passage()
        from .coils import check_coils  # the anatomy's named arteries: arithmetic on [anatomy], no build

        check_coils(self)
        return self

    def _check_catheter_passage(self) -> None:
        """Each particle agent's smallest particle, compressed as far as it can be (``(1 - deformability) d``), passes
        the catheter's lumen (:func:`sim.catheters.lumen_for`): else none of them could be injected (review 23: 900-1200
        um spheres had been delivered through a 0.635 mm microcatheter)."""
        from .agents import particle_sequence
        from .catheters import lumen_for

        lumen = lumen_for(self.catheter.kind, self.catheter.outer_diameter_fr)
        ctace = self.agent.kind == "lipiodol"  # its particles are procedure.agent_sequence's, the first at once
        if ctace and not self.procedure.agent_sequence and self.agent.particles_per_ml is not None:
            raise ScenarioError("Lipiodol alone (no procedure.agent_sequence) gives no particles: remove "
                                "particles_per_ml (it would be ignored)", path="agent.particles_per_ml")
        for k, (agent, _) in enumerate(particle_sequence(self.agent, self.procedure.agent_sequence)):
            smallest = agent.diameters_m.min() if agent.diameters_m is not None else agent.diameter_range_m[0]
            if ctace and k == 0 and self.agent.particles_per_ml is not None:
                check_particles_per_ml(self.agent.particles_per_ml, smallest * 1e6, "agent.particles_per_ml")
            if (1.0 - agent.deformability) * smallest > lumen.inner_m:
                if ctace:  # the oil is [agent]; its particles are the steps, from the first
                    key = f"procedure.agent_sequence.{k}.size_bin"
                elif k == 0:
                    key = "agent.diameters_um" if self.agent.kind == "custom" else "agent.size_bin"
                else:
                    key = f"procedure.agent_sequence.{k - 1}.size_bin"
                raise ScenarioError(
                    f"{agent.name}: even compressed by {agent.deformability:.0%}, its smallest particles "
                    f"({smallest * 1e6:.0f} um) do not pass the {lumen.label}'s {lumen.inner_m * 1e6:.0f} um lumen; "
                    "choose smaller particles or a larger catheter (catheter.kind, catheter.outer_diameter_fr)", path=key)

    def _check_against_liver(self) -> None:
        """Load-time checks against the liver's size (arithmetic on the scenario, no build).

        Each tumour fits in the liver (diameter at most the liver's antero-posterior thickness,
        a given centre inside the liver) and the tumours' total volume is below the liver's.
        """
        from .anatomy.domain import liver_domain  # light: numpy only

        domain = liver_domain(self.liver.mass_kg, self.liver.shape)
        thickness_mm = 2e3 * min(domain.ap_m, domain.cc_m, domain.right_m)
        liver_ml = domain.volume_m3 * 1e6
        for i, t in enumerate(self.tumours):
            if t.diameter_mm > thickness_mm:
                raise ScenarioError(
                    f"tumour {t.name!r} of {t.diameter_mm:g} mm does not fit in a {self.liver.mass_kg:g} kg "
                    f"{self.liver.shape} liver: at most {thickness_mm:.0f} mm, its antero-posterior thickness "
                    f"(reduce diameter_mm or raise liver.mass_kg)", path=f"tumours.{i}.diameter_mm")
            if t.centre_mm is not None:
                import numpy as np

                if not domain.contains(np.asarray(t.centre_mm, float)[None] * 1e-3)[0]:
                    raise ScenarioError(
                        f"tumour {t.name!r} centre {tuple(t.centre_mm)} mm lies outside the liver's "
                        f"{self.liver.shape} shape, which fills only part of the box x (to the patient's left) "
                        f"from -{domain.right_m * 1e3:.0f} to {domain.left_m * 1e3:.0f} mm, y (posterior) within "
                        f"+/-{domain.ap_m * 1e3:.0f} mm, z (cranial) within +/-{domain.cc_m * 1e3:.0f} mm: move it "
                        "towards (0, 0, 0), or give a segment instead", path=f"tumours.{i}.centre_mm")
        placed = [(i, t) for i, t in enumerate(self.tumours) if t.centre_mm is not None]
        for (i, a), (j, b) in ((x, y) for k, x in enumerate(placed) for y in placed[k + 1:]):
            distance = math.dist(a.centre_mm, b.centre_mm)
            inner, outer = ((j, b), (i, a)) if b.diameter_mm <= a.diameter_mm else ((i, a), (j, b))
            if distance + inner[1].diameter_mm / 2.0 <= outer[1].diameter_mm / 2.0:  # (its points all taken)
                raise ScenarioError(
                    f"tumour {inner[1].name!r} lies inside tumour {outer[1].name!r} (centres {distance:.1f} mm "
                    f"apart, diameters {inner[1].diameter_mm:g} and {outer[1].diameter_mm:g} mm): move it or describe "
                    "one tumour", path=f"tumours.{inner[0]}.centre_mm")
        tumour_ml = sum(math.pi / 6.0 * (t.diameter_mm / 10.0) ** 3 for t in self.tumours)
        if tumour_ml >= liver_ml:
            raise ScenarioError(
                f"the tumours' total volume, {tumour_ml:.0f} mL, is not below the liver's, {liver_ml:.0f} mL "
                f"({self.liver.mass_kg:g} kg); reduce the diameters or raise liver.mass_kg", path="tumours")

    def expand_updates(self, updates: dict[str, Any]) -> dict[str, Any]:
        """``updates`` with each ``tumours.<field>`` (no index) expanded to every tumour's ``tumours.<i>.<field>``.

        Examples
        --------
        >>> Scenario().expand_updates({"tumours.arterial_fraction": 0.8, "catheter.vessel": "RHA"})
        {'tumours.0.arterial_fraction': 0.8, 'catheter.vessel': 'RHA'}
        """
        out: dict[str, Any] = {}
        owner: dict[str, str] = {}  # each expanded path: the update that sets it
        for given, value in updates.items():
            path = ".".join(str(int(part)) if part.isdigit() else part for part in given.split("."))  # 00 is 0
            head, _, rest = path.partition(".")
            if head == "tumours" and rest and not rest.split(".")[0].lstrip("-").isdigit():  # (an index: as given)
                expanded = {f"tumours.{i}.{rest}": value for i in range(len(self.tumours))}
            else:
                expanded = {path: value}
            for key in expanded:  # (review 27: "tumours.x" and "tumours.0.x" together: one was silently dropped)
                if key in owner:
                    raise ScenarioError(f"{given!r} and {owner[key]!r} both set {key}; set it once", path=given)
                owner[key] = given
            out.update(expanded)
        return out

    def with_updates(self, updates: dict[str, Any]) -> "Scenario":
        """Return a new validated scenario with dotted-path fields replaced.

        Parameters
        ----------
        updates : dict
            ``{"catheter.rate_ml_min": 2.0, "tumours.0.arterial_fraction": 0.8}``.

        Raises
        ------
        ScenarioError
            Unknown path or invalid value (the message names the path).
        """
        if not isinstance(updates, dict):
            raise TypeError(f"updates: a dict of dotted scenario paths to values, not {type(updates).__name__}")
        wrong = next((key for key in updates if not isinstance(key, str)), None)
        if wrong is not None:
            raise TypeError(f"updates: each key is a dotted scenario path (a str such as 'catheter.vessel'), not {wrong!r}")
        data = self.model_dump()
        for dotted, value in self.expand_updates(updates).items():  # tumours.<field>: every tumour's
            _set_path(data, dotted, value)
        return parse_scenario(data, source="<updates>", anatomy=False)


def scenario_fields(dotted: str) -> list[Any] | None:
    """The pydantic fields a dotted scenario path passes through, list indices skipped (``tumours.0.diameter_mm``:
    ``tumours``, ``diameter_mm``); None when a part names no field."""
    model: Any = Scenario
    fields = []
    for part in dotted.split("."):
        if part.isdigit():
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        fields.append(field)
        inner = _bare(field.annotation)
        args = typing.get_args(inner)
        model = args[0] if typing.get_origin(inner) in (list, tuple) and args else inner
    return fields


def key_unit(dotted: str) -> str:
    """The unit of a dotted scenario key, as its field declares it (``"1"`` dimensionless, ``"-"`` names and flags,
    ``""`` for a path that names no field); a list index (``tumours.0``) or none (``tumours.diameter_mm``) alike.

    Examples
    --------
    >>> key_unit("agent.size_bin"), key_unit("tumours.0.diameter_mm"), key_unit("tumours.arterial_fraction")
    ('um', 'mm', '1')
    """
    fields = scenario_fields(dotted)
    if not fields:
        return ""
    extra = fields[-1].json_schema_extra
    return extra.get("unit", "-") if isinstance(extra, dict) else "-"


def _set_path(data: dict, dotted: str, value: Any) -> None:
    node: Any = data
    keys = dotted.split(".")
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(node, (list, tuple)):
            if not key.isdigit() or int(key) >= len(node):
                allowed = f"0-{len(node) - 1}" if node else "the array is empty"
                raise ScenarioError(f"index {key!r} out of range ({allowed})", path=dotted)
            key = int(key)
            if isinstance(node, tuple):
                raise ScenarioError("cannot assign into a fixed tuple", path=dotted)
        elif not isinstance(node, dict) or key not in node:
            from .catalogue import did_you_mean

            guess = did_you_mean(str(key), node if isinstance(node, dict) else (), prefix="".join(
                f"{k}." for k in keys[:depth]), suffix="".join(f".{k}" for k in keys[depth + 1:]))  # (the whole path:
            # "cathter.vessel" suggested "catheter", review 52)
            raise ScenarioError(f"no such scenario parameter ({f'{guess} ' if guess else ''}the parameters: embosim "
                                "docs scenario-reference)", path=dotted)
        if last:
            node[key] = value
        else:
            if isinstance(node[key], tuple):
                node[key] = list(node[key])
            node = node[key]


#: pydantic's container type errors in TOML terms (a tuple is a TOML array, a model a table).
_TOML_TYPE_MESSAGES = {
    "tuple_type": "Input should be an array (for a section, repeat its [[header]] once per item)",
    "list_type": "Input should be an array",
    "dict_type": "Input should be a table",
    "model_type": "Input should be a table",
}


def _format_validation_error(exc: ValidationError) -> ScenarioError:
    """Turn pydantic's error list into one ScenarioError naming the first key path."""
    errors = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        raised = err.get("ctx", {}).get("error")
        if isinstance(raised, ScenarioError):  # a validator that names its own key (relative to its section)
            errors.append((".".join(p for p in (path, raised.path) if p), raised.message))
            continue
        if err["type"] == "extra_forbidden":
            msg = "unknown key (the allowed keys: embosim docs scenario-reference)"
        else:
            msg = _TOML_TYPE_MESSAGES.get(err["type"], err["msg"]).removeprefix("Value error, ")
            if "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], dict):
                msg += f" (got {_shown(err['input'])})"
        errors.append((path, msg))
    if len(errors) == 1:
        path, msg = errors[0]
        return ScenarioError(msg, path=path)
    shown = "; ".join(f"{path}: {msg}" if path else msg for path, msg in errors[:MAX_ERRORS_SHOWN])
    more = len(errors) - MAX_ERRORS_SHOWN
    return ScenarioError(shown + (f"; and {more} more" if more > 0 else ""))


#: Most errors one message lists (review 27: a summary.json read as a scenario listed 60 unknown keys, 5 kB).
MAX_ERRORS_SHOWN = 5


def check_catheter_vessel(scenario: Scenario, *, source: str = "") -> None:
    """A named ``catheter.vessel`` exists in the scenario's Michels type (a synthetic ``#<n>`` is checked on the
    built liver).

    Part of loading a file (:func:`parse_scenario`); :meth:`Scenario.with_updates` leaves it to the build, so
    that a sweep over Michels types and catheter positions records the impossible pairs as failed runs.

    Raises
    ------
    ScenarioError
        ``catheter.vessel``, listing the named arteries of this anatomy.
    """
    from .anatomy.trunk import arterial_parents  # light: numpy only

    vessel, anatomy = scenario.catheter.vessel, scenario.anatomy
    if vessel.startswith("#"):
        return
    present = arterial_parents(anatomy)
    if vessel not in present:
        raise ScenarioError(
            f"no vessel {vessel!r} in this anatomy (Michels type {anatomy.michels_type}, falciform artery "
            f"{'present' if anatomy.falciform_artery else 'absent'}); named arteries: "
            f"{', '.join(v for v in NAMED_ARTERIES if v in present)}", path="catheter.vessel", source=source)


def parse_scenario(data: dict[str, Any], *, source: str = "", anatomy: bool = True) -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML).

    Parameters
    ----------
    data : dict
    source : str
        File named in errors.
    anatomy : bool
        Also check that a named catheter vessel exists in the Michels type
        (:func:`check_catheter_vessel`).

    Raises
    ------
    ScenarioError
        With the source, the key path and what is allowed.
    """
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = _format_validation_error(exc)
        raise ScenarioError(err.message, path=err.path, source=source) from None
    if anatomy:
        check_catheter_vessel(scenario, source=source)
    return scenario


def require_scenario(value: Any, who: str) -> None:
    """A :class:`TypeError` unless ``value`` is a :class:`Scenario` (``who``: the function, e.g. ``"sim.run"``); a name
    or a path is told how to load it."""
    if isinstance(value, Scenario):
        return
    if isinstance(value, str | Path):
        raise TypeError(f"{who} takes a Scenario; load one first: sim.load_scenario({value!r}) (a shipped scenario's "
                        "name or a TOML file)")
    raise TypeError(f"{who} takes a Scenario (sim.load_scenario), not {type(value).__name__}")


def inapplicable_agent_keys(agent: dict[str, Any], kind: str) -> list[str]:
    """The keys of an ``[agent]`` table that ``kind`` does not use (they would be ignored: a file that writes one
    is refused by :func:`load_scenario`; ``diameters_um`` and the bead drug are refused whatever their source).

    >>> inapplicable_agent_keys({"size_bin": "40-120", "lipiodol_volume_ml": 8.0}, "y90_glass")
    ['size_bin', 'lipiodol_volume_ml']

    Also :func:`agent_kind_updates` (a kind change) and :func:`sim.sweep_spec.plan_sweep` (a sweep's keys).
    """
    y90, lipiodol = kind in Y90_KINDS, kind == "lipiodol"
    return [key for key in agent
            if (key == "size_bin" and (y90 or kind in ("custom", "lipiodol")))  # (a cTACE's: agent_sequence's)
            or (key == "vial_ml" and y90)  # (the product's vial)
            or (key == "diameters_um" and kind != "custom")
            or (key == "treatment_delay_h" and not y90)
            or (key == "aliquot_fraction" and kind != "y90_resin")  # (glass is one flush)
            or ((key.startswith("lipiodol_") or key.startswith("emulsion_")) and not lipiodol)
            or (key in ("bead_doxorubicin_mg_per_ml", "bead_elution_half_life_d") and kind != "microspheres")]


def check_agent_keys(paths, scenario: Scenario) -> None:
    """Refuse an ``agent.*`` path among ``paths`` (set on ``scenario``: a sweep's or a comparison's varied or fixed
    keys) that ``scenario``'s agent kind does not use: every run would be the same (review 20, review 29)."""
    unused = inapplicable_agent_keys([p.removeprefix("agent.") for p in paths if p.startswith("agent.")],
                                     scenario.agent.kind)
    if unused:
        raise ScenarioError(f"does not apply to agent.kind = {scenario.agent.kind!r} (it would be ignored)",
                            path=f"agent.{unused[0]}")


def agent_kind_updates(scenario: Scenario, kind: str) -> dict[str, Any]:
    """Updates that change ``scenario``'s agent to ``kind``: its keys the new kind does not use back to their
    defaults (the explorer's kind control; a DEB scenario's bead drug would stop any other kind)."""
    defaults = AgentConfig()
    unused = inapplicable_agent_keys(list(AgentConfig.model_fields), kind)
    if kind in Y90_KINDS:  # Y-90 spheres are permanent (a temporary agent's flag refused)
        unused.append("permanent")
    return {"agent.kind": kind, **{f"agent.{key}": getattr(defaults, key) for key in unused
                                   if getattr(scenario.agent, key) != getattr(defaults, key)}}


def _check_written_agent_keys(data: dict[str, Any], scenario: Scenario, source: str) -> None:
    agent = data.get("agent")
    unused = inapplicable_agent_keys(agent, scenario.agent.kind) if isinstance(agent, dict) else []
    if unused:
        raise ScenarioError(f"does not apply to kind = {scenario.agent.kind!r} (it would be ignored): remove it",
                            path=f"agent.{unused[0]}", source=source)


def _quoted_line(text: str, message: str) -> str:
    """``: `the line```, the line a TOML error names ("at line N"), to show which key it is; "" if none."""
    found = re.search(r"at line (\d+)", message)
    lines = text.splitlines()
    if not found or not 1 <= int(found.group(1)) <= len(lines):
        return ""
    line = lines[int(found.group(1)) - 1].strip()
    return f": `{line[:80]}`" if line else ""


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario: a TOML file, a shipped scenario's name, or a run's ``scenario.json``.

    Parameters
    ----------
    path : str or Path
        The TOML file; the name of a shipped scenario (``"main_pvt"``, as the command line takes it); or the
        ``scenario.json`` a run folder holds (the scenario with the seed used: it re-creates the run). ``None``
        loads the default scenario (:func:`sim.default_scenario_path`).

    Returns
    -------
    Scenario
        The validated, immutable configuration.

    Raises
    ------
    ScenarioError
        Unreadable file, invalid TOML, unknown key, wrong type or value out of range.
    TypeError
        ``path`` is not a str, Path or None.
    """
    from .catalogue import resolve_scenario

    path = resolve_scenario(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # (a byte-order mark, as some editors write, is no error)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioError(f"cannot read the scenario file ({reason})", source=str(path)) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"invalid JSON ({exc})", source=str(path)) from None
        if not isinstance(data, dict):
            raise ScenarioError("a scenario JSON file holds one object (a run's scenario.json)", source=str(path))
        return parse_scenario(data, source=str(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"invalid TOML ({exc}{_quoted_line(text, str(exc))})", source=str(path)) from None
    scenario = parse_scenario(data, source=str(path))
    _check_written_agent_keys(data, scenario, str(path))
    return scenario
