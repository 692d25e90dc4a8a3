"""Make the figure gallery: ``docs/gallery.md`` and its images in ``docs/figures/`` from shipped scenarios.

Run ``python scripts/make_gallery.py`` (a few minutes on one core;
``--only sirt`` redraws the SIRT figures alone and replaces their sections in the
existing page). Every run
figure is drawn as ``embosim plot RUN_DIR`` draws it: the scenario is run and
written to a run folder (``RunResult.write``), which is loaded back with
:func:`sim.figures.load_run`. Every figure comes from a shipped scenario at its
own resolution, except the strategy
comparisons, which run many procedures and use a coarser liver
(:data:`COMPARISON_TERMINAL_UM`). PNGs are written at :data:`DPI` and reduced to
an adaptive palette (:data:`COLOURS`) so that each stays small.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import warnings
from pathlib import Path

import sim
from sim import figures
from sim.catalogue import resolve_scenario
from sim.limits import SizeWarning

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
GALLERY = ROOT / "docs" / "gallery.md"
#: Resolution of the gallery PNGs, dots per inch.
DPI = 80
#: Palette size of the gallery PNGs (dithered).
COLOURS = 128
#: Terminal diameter of the livers of the strategy comparisons, um (many runs).
COMPARISON_TERMINAL_UM = 150.0
#: Replicates and arterial fractions of the strategy comparisons.
REPLICATES = 3
ARTERIAL_FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
ARTERIALISATION_STRATEGIES = ("superselective", "selective", "lobar", "whole_liver")
#: The particle-size comparison: every calibrated microsphere bin, selective, on the default (50 um) liver.
SIZE_BINS = ("40-120", "100-300", "300-500", "500-700")
SIZE_METRICS = ("tumour_particle_fraction", "lodging_generation_median", "particle_volume_ml",
                "tumour_necrosis_fraction")

HEADER = """# Gallery

Every figure embosim draws, from shipped scenarios. Regenerate all of them (from a source checkout; the images are
not in a wheel) with

    python scripts/make_gallery.py

(this page and `docs/figures/gallery_*`). Each figure is also one command,
`embosim plot RUN_DIR_OR_SCENARIO --kind KIND [--out FILE]` (PNG, SVG or PDF by
the extension; `--animate` for the DSA movie, MP4 or GIF), and `embosim run` writes the
curve, before-after, deposition and angiogram figures next to `summary.json` (and for a Y-90
run the dose map, DVH and MAA comparison).

Conventions (`sim/figures/style.py`): anteroposterior (AP) projection as on a
frontal angiogram, x and z in mm, the patient's right on the image's left (R and
L marked); one colour per meaning in every figure (Okabe-Ito: tumour purple,
normal liver blue, non-target vermilion; each strategy its own colour in the
comparison and the arterialisation figures); viridis/cividis for quantities;
SACE bands light to dark (ColorBrewer YlOrBr, pairwise CIEDE2000 > 10); clinical
names (no underscores), placed so that no two labels overlap. `--style slide`
(default, 14 pt text) or `--style paper` (9 pt text at print size: the canvas 0.4 of the
slide's, 5.2-7.2 in wide, e.g. the before-after figure 7.2 x 3.6 in instead of 19 x 9.5 in;
lines at half their slide width, markers in proportion; panels in rows of two; titles and
axis labels wrapped to their panel; legends in fewer columns or below the plot). Placed at
its own width in a paper, a paper figure prints its text at 8-9 pt (the labels on a map 3 pt smaller,
those that find no free place left out: the catheterised artery's first, after the tumours). Tree figures draw one
`LineCollection` of the vessels at least 300 um wide (`min_diameter_um`, down to
the 150 um the run folder saves): about 2e3 of the ~3e5 arterial vessels of a
default liver, roughly what an angiogram resolves; flow reduction and particle
counts of a drawn vessel include its whole subtree. They also draw the aorta
(schematic: the model starts at the coeliac and SMA origins), the non-target beds
with the particles that reached them, the portal vein and any thrombus, and after
a run the lodged particles (a density when there are more than 300 lodging
sites), the infarcted parenchyma (expected necrosis of at least 20%) and the
ischaemic bile ducts (peribiliary plexus).

`embosim plot RUN_DIR` draws from the folder's `run_state.npz` (docs/outputs.md):
no simulation, 1-2 s of CPU per figure. A folder written before that format is
refused with one line unless `--rerun` (re-run its `scenario.json` and check it
against `summary.json`). Plotting a scenario runs it (or, for `tree`, only builds
its liver).
"""

VIRTUAL_DSA = """## The virtual angiogram

`sim.angiography` (arrays; saved as frames in `run_state.npz`: 2 frames/s to 2 s
after the capillary peak, then one every 2 s, plus the three phase times;
`sim.figures` draws them): contrast injected at the
catheter tip for 3 s at the baseline native flow of the catheterised vessel
(after embolisation no faster than the embolised bed takes:
[angiography](angiography.md#injection-and-reflux)) is followed through two
solved flow fields of the liver: with the injection on (the bolus is pushed in,
and refluxes behind the tip when the bed cannot take it) and off (what washes
it out). Concentration is the flow-weighted mix at every node (dilution of the
injection by the vessel's own flow); the front reaches each vessel after the
cumulative transit time lumen volume / flow (length / mean velocity) along the
path from the tip; a vessel's opacity is its filled lumen x concentration
projected (depth = its diameter). Each tissue compartment is a well-mixed blood
pool (0.2 mL/mL) that fills from its arrival time with its mean transit time
(blood volume / inflow) at the arterial concentration diluted by its portal
inflow, and empties with the native field's mean transit time: the parenchymal
(capillary) blush and its venous-phase washout. Phase times are the baseline's:
arterial (the front has crossed 90% of the opacified lumen), capillary (peak
parenchymal contrast) and venous (a third of the peak). After embolisation the
same clock shows slower filling, contrast standing where flow stopped, reflux,
and the tumour blush gone.
"""


def _shrink(path: Path) -> None:
    """Re-save a PNG with a small adaptive palette (same picture to the eye, a fraction of the bytes)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.FLOYDSTEINBERG)
    small.save(path, optimize=True)


class Gallery:
    """Collects the figures and their captions, and writes them."""

    def __init__(self) -> None:
        self.sections: list[str] = []

    def _section(self, path: Path, title: str, caption: str, command: str) -> None:
        _shrink(path)
        self.sections.append(f"## {title}\n\n![{title}](figures/{path.name})\n\n{caption}\n\n    {command}\n")
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} kB")

    def add(self, fig, name: str, title: str, caption: str, command: str) -> None:
        self._section(figures.save_figure(fig, FIGURES / f"gallery_{name}.png", dpi=DPI), title, caption, command)

    def dsa_still(self, data, name: str, title: str, caption: str, command: str) -> None:
        """One frame of the DSA movie (the movie itself, 1600 px of quantum noise, is tens of MB: not committed)."""
        from sim.figures.dsa import panels_of_saved, write_still

        t = float(data.meta["angiogram"]["phases_s"]["capillary"])
        path = write_still(panels_of_saved(data), FIGURES / f"gallery_{name}.jpg", t, seed=0)
        self.sections.append(f"## {title}\n\n![{title}](figures/{path.name})\n\n{caption}\n\n    {command}\n")
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} kB")

    def write(self) -> None:
        GALLERY.write_text("\n".join([HEADER, *self.sections, VIRTUAL_DSA]), encoding="utf-8")

    def replace_sirt(self) -> None:
        """Put these (SIRT) sections in place of the page's SIRT sections, before the strategy comparisons."""
        parts = re.split(r"(?m)^(?=## )", GALLERY.read_text(encoding="utf-8"))
        kept = [part for part in parts if not part.startswith(f"## {SIRT_TITLE}")]
        kept[0] = HEADER + "\n"
        at = next(k for k, part in enumerate(kept) if part.startswith(("## Strategies compared",
                                                                         "## The virtual angiogram")))
        GALLERY.write_text("".join(kept[:at] + [section + "\n" for section in self.sections] + kept[at:]),
                           encoding="utf-8")


def _run(name: str, folder: Path):
    """Run a shipped scenario, write its run folder and load it back as ``embosim plot`` does."""
    result = sim.run(sim.load_scenario(resolve_scenario(name)), progress=False)
    result.write(folder / name, figures=False)
    size = (folder / name / "run_state.npz").stat().st_size
    print(f"{name}: run_state.npz {size / 1e6:.1f} MB")
    return figures.load_run(folder / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sirt"], help="redraw only these figures and replace their sections")
    only = parser.parse_args().only
    warnings.simplefilter("error")  # a gallery figure must draw cleanly
    FIGURES.mkdir(parents=True, exist_ok=True)
    gallery = Gallery()
    with tempfile.TemporaryDirectory() as tmp:
        if only == "sirt":
            _sirt_figures(gallery, Path(tmp))
            gallery.replace_sirt()
            print(f"replaced the SIRT sections of {GALLERY.relative_to(ROOT)}")
            return
        _run_figures(gallery, Path(tmp))
        _sirt_figures(gallery, Path(tmp))
    _comparison_figures(gallery)
    _size_figure(gallery)
    gallery.write()
    print(f"wrote {GALLERY.relative_to(ROOT)}")


#: Title prefix of the SIRT sections (``--only sirt`` replaces the sections that start with it).
SIRT_TITLE = "SIRT:"


def _sirt_figures(gallery: Gallery, folder: Path) -> None:
    glass = _run("sirt_glass_segment5", folder)
    s = glass.summary
    gallery.add(figures.dose_map(glass), "sirt_dose", f"{SIRT_TITLE} absorbed dose map",
                f"1 GBq of glass microspheres from A5 (docs/sirt.md): each sampled point of the parenchyma "
                f"coloured by its compartment's absorbed dose (local deposition, log scale; the tumour's points by "
                f"the tumour's dose, the rest by the normal liver's). Tumour {s['sirt_tumour_dose_mean_gy']:.0f} Gy "
                f"mean, perfused normal liver {s['sirt_normal_liver_dose_mean_gy']:.0f} Gy (a segmentectomy dose, ablative "
                f"by intent: the run notes that the 70 Gy lobar and whole-liver limit does not apply), the rest of the "
                f"liver unirradiated. "
                f"Right, the spheres' embolic effect: antegrade flow {float(s['antegrade_flow_fraction']):.0%} of "
                f"baseline after {s['sirt_spheres_delivered']:,} spheres.",
                "embosim run sirt_glass_segment5 --out glass && embosim plot glass --kind dose")
    gallery.add(figures.dose_volume(glass), "sirt_dvh", f"{SIRT_TITLE} dose-volume histogram",
                f"Cumulative DVH of the viable tumour and of the perfused normal liver over compartments: D70 "
                f"{s['sirt_tumour_d70_gy']:.0f} Gy and V100 {s['sirt_tumour_v100']:.0%} marked as the summary "
                "reports them; the 70 Gy normal-liver limit (mean dose) and, for contrast, the 35-40 Gy the liver "
                "tolerates from external-beam radiotherapy.",
                "embosim plot glass --kind dvh")
    gallery.add(figures.maa_comparison(glass), "sirt_maa", f"{SIRT_TITLE} MAA work-up versus Y-90",
                f"The work-up's {s['sirt_maa_particles']:,} MAA particles and the delivered spheres from the same "
                f"catheter: per segment, per compartment (concentration relative to the treated liver's mean; the "
                f"MAA's spread is mostly its counting noise) and tumour / normal liver / lung / non-target. T/N "
                f"{s['sirt_maa_tn']:.2f} (MAA) vs {s['sirt_y90_tn']:.2f} (Y-90), lung shunt "
                f"{s['sirt_maa_lung_shunt_fraction']:.1%} vs {s['sirt_lung_shunt_fraction']:.1%}: the catheter, the "
                "flow and the shunts are the same, so the two agree closely where the particles lodge, but the MAA's "
                "larger aggregates wedge above the tumour's shunts more often and the model's MAA under-predicts the "
                "lung shunt (docs/sirt.md); the spheres' "
                f"embolic effect moves little (tumour share {s['sirt_y90_tumour_share_first_tenth']:.1%} of the "
                f"first tenth of the spheres, {s['sirt_y90_tumour_share_last_tenth']:.1%} of the last).",
                "embosim plot glass --kind maa")


def _run_figures(gallery: Gallery, folder: Path) -> None:
    default = _run("bulky_segment5_net", folder)
    s = default.summary
    gallery.add(figures.tree(figures.load_source("bulky_segment5_net", "tree")), "tree",
                "Arterial tree (bulky segment 5 NET)",
                "The liver before treatment: baseline arterial flow (log scale), Couinaud segments I-VIII, the "
                "tumour, the catheter (course and tip in A5), the named arteries, the aorta with the coeliac "
                "trunk and SMA, the portal vein, and the non-target beds a reflux would reach (duodenum via the "
                "GDA, gallbladder via the cystic artery, stomach, bowel).",
                "embosim plot bulky_segment5_net --kind tree")
    gallery.add(figures.tree(default, colour_by="pressure", state="baseline"), "tree_pressure",
                "Arterial pressure",
                "Mean pressure of each drawn artery (the colour scale spans them): most of the fall from about "
                "90 mmHg at the coeliac axis to portal level happens in arterioles narrower than those drawn.",
                "sim.figures.tree(sim.figures.load_run(\"embosim-out\"), colour_by=\"pressure\", state=\"baseline\")")
    gallery.add(figures.before_after(default), "before_after",
                "Before and after embolisation",
                f"Left, baseline flow; right, the share of each vessel's baseline flow lost at the end (SACE "
                f"{s['sace_level']}, antegrade flow {float(s['antegrade_flow_fraction']):.0%} of baseline after "
                f"{s['particles_injected']} particles): the A5 territory is orange to vermilion, the rest of the "
                "liver blue (unchanged). Grey hexagons are the lodged particles' density, brown squares the "
                "parenchyma expected to infarct, green crosses ischaemic bile ducts.",
                "embosim run --force && embosim plot embosim-out --kind before-after")
    gallery.add(figures.endpoint_curve(default), "curve",
                "Endpoint curve",
                "Antegrade flow and tumour blush against injected suspension, the SACE bands labelled, the stop "
                "marked (reflux, when any, as a dotted line).",
                "embosim plot embosim-out --kind curve")
    gallery.add(figures.deposition(default), "deposition",
                "Particle deposition",
                "Lodging generation (PHA = 0) and particle diameter split into tumour and normal liver, where "
                "every particle went, and the density of the lodged particles over the segments and the tumour.",
                "embosim plot embosim-out --kind deposition")
    gallery.add(figures.angiogram(default), "angiogram",
                "Virtual DSA before and after",
                "Arterial, capillary and venous phases before the first particle and at stasis (the run at stasis "
                "injected no faster than the embolised bed takes, [angiography](angiography.md#injection-and-reflux)): "
                "the tumour blush is gone and contrast stands in A5.",
                "embosim plot embosim-out --kind angiogram")
    gallery.dsa_still(default, "dsa", "Virtual DSA as the monitor shows it",
                      "One frame (capillary phase) of the DSA movie that `--animate` writes from the run folder: "
                      "contrast dark on grey, the faint spine, the catheter up the aorta to its tip in A5, quantum "
                      "noise, a scale bar; baseline (left) and at stasis (right), each injection at the rate the "
                      "catheter and the bed take (caption). The movie plays the acquisition at 3 frames/s through "
                      "the three phases; `--compare selective,lobar` puts strategies side by side "
                      "(docs/angiography.md).",
                      "embosim plot embosim-out --kind angiogram --animate --out angiogram.mp4")
    small = _run("small_particles_40_120", folder)
    gallery.add(figures.before_after(small), "before_after_small_particles",
                "Small particles (40-120 um): where they go",
                f"{small.summary['particles_injected']} particles drawn as a density rather than dots: they pass "
                "the arteries that stop 100-300 um spheres and lodge deeper, and the parenchyma they starve is "
                "marked.",
                "embosim run small_particles_40_120 --out small && embosim plot small --kind before-after")
    michels = _run("replaced_rha_michels3", folder)
    gallery.add(figures.before_after(michels), "before_after_michels3",
                "Michels III: replaced RHA from the SMA",
                "The catheter reaches the right lobe through the SMA; lobar embolisation to sluggish flow.",
                "embosim plot replaced_rha_michels3 --kind before-after")
    gallery.add(figures.angiogram(michels), "angiogram_michels3",
                "Michels III: virtual DSA",
                "At sluggish flow the same injection fills only the main branches in the arterial phase and "
                "leaves them opacified in the capillary phase.",
                "embosim plot replaced_rha_michels3 --kind angiogram")
    pvt = _run("main_pvt", folder)
    gallery.add(figures.before_after(pvt), "before_after_main_pvt",
                "Main portal vein thrombosis",
                "The thrombosed main portal vein is drawn dark and dashed. Without portal supply the normal "
                "liver lives on its artery alone, so the parenchyma the embolisation starves infarcts (brown) "
                "and the bile ducts, fed by the artery only, become ischaemic (green).",
                "embosim run main_pvt --out pvt && embosim plot pvt --kind before-after")
    ctace = _run("ctace_bulky_segment5_net", folder)
    gallery.add(figures.before_after(ctace), "before_after_ctace",
                "cTACE: where the Lipiodol goes",
                f"{ctace.summary['lipiodol_volume_ml']:g} mL of Lipiodol emulsion from A5 (docs/tace.md): yellow dots "
                "are parenchyma whose sinusoids hold oil (dot size: filled share), purple diamonds where it reached "
                f"the portal venules (portal opacification {ctace.summary['portal_opacification_fraction']:.0%} of "
                "the treated territory); the oil embolises the tumour's arterial and portal supply.",
                "embosim run ctace_bulky_segment5_net --out ctace && embosim plot ctace --kind before-after")
    deb = _run("deb_tace_lobar", folder)
    gallery.add(figures.drug({"cTACE (A5)": ctace, "DEB-TACE (right lobe)": deb}), "drug",
                "TACE: doxorubicin in plasma and liver",
                f"The cTACE above ({ctace.summary['drug_delivered_mg']:.0f} mg in the emulsion) against a lobar DEB-TACE "
                f"({deb.summary['drug_delivered_mg']:.0f} mg loaded on the beads; docs/tace.md): the emulsion releases "
                f"its drug with a half-life of {ctace.summary['drug_release_half_life_h']:.2g} h, the beads theirs with "
                f"{deb.summary['drug_release_half_life_h'] / 24:.2g} days, so the plasma peaks at "
                f"{ctace.summary['plasma_doxorubicin_peak_ng_ml']:.3g} against "
                f"{deb.summary['plasma_doxorubicin_peak_ng_ml']:.2g} ng/mL (the beads' peak is far below the "
                "published one: the model has no early release from the beads; docs/tace.md, docs/validation.md). A "
                "run that gave doxorubicin writes this figure as drug.png.",
                "embosim run deb_tace_lobar --out deb && embosim plot deb --kind drug")


def _comparison_figures(gallery: Gallery) -> None:
    """The two comparisons as their commands run them: the shipped scenario with the coarse liver given by --vary
    (one value), the replicates' seeds from procedure.seed, each into its own folder."""
    base = sim.load_scenario(resolve_scenario("bulky_segment5_net"))
    coarse = {"liver.terminal_diameter_um": [COMPARISON_TERMINAL_UM]}
    coarse_flag = f"--vary liver.terminal_diameter_um={COMPARISON_TERMINAL_UM:g}:{COMPARISON_TERMINAL_UM:g}:1"
    table = sim.compare(base, replicates=REPLICATES, vary=coarse)
    gallery.add(figures.comparison(table), "comparison",
                "Strategies compared",
                f"Every strategy on the same liver (coarsened to {COMPARISON_TERMINAL_UM:g} um terminals for speed by "
                f"the command's --vary), {REPLICATES} replicates each: mean and 95% interval; a panel whose "
                "strategies differ by less than 0.1 percentage point says \"no difference\" rather than drawing "
                "noise as bars.",
                f"embosim compare --replicates {REPLICATES} {coarse_flag} --out gallery-compare && "
                "embosim plot gallery-compare --kind comparison")
    varied = sim.compare(base, strategies=ARTERIALISATION_STRATEGIES, replicates=REPLICATES,
                         vary={"tumours.0.arterial_fraction": list(ARTERIAL_FRACTIONS), **coarse})
    fractions = f"{ARTERIAL_FRACTIONS[0]:g}:{ARTERIAL_FRACTIONS[-1]:g}:{len(ARTERIAL_FRACTIONS)}"
    gallery.add(figures.arterialisation(varied), "arterialisation",
                "Outcomes against tumour arterialisation",
                "The core question: how each strategy fares as the tumour's arterial share of inflow changes "
                "(the same strategy colours as above). Tumour necrosis (graded O2-deficit model, "
                "docs/outputs.md) rises smoothly with arterialisation; superselective embolisation kills the "
                "tumour its feeder supplies at the least normal-liver necrosis.",
                f"embosim compare --strategies {','.join(ARTERIALISATION_STRATEGIES)} --replicates {REPLICATES} "
                f"--vary tumours.0.arterial_fraction={fractions} {coarse_flag} --out gallery-arterialisation && "
                "embosim plot gallery-arterialisation --kind arterialisation")


def _size_figure(gallery: Gallery) -> None:
    """Particle sizes compared: the shipped scenario's selective injection with each size bin (the caption's numbers
    from the same table)."""
    base = sim.load_scenario(resolve_scenario("bulky_segment5_net"))
    with warnings.catch_warnings():  # 40-120 um: the limit's upper estimate (the command prints it as a warning)
        warnings.simplefilter("ignore", SizeWarning)
        table = sim.compare(base, strategies=["selective"], replicates=REPLICATES,
                            vary={"agent.size_bin": list(SIZE_BINS)})
    row = {size: table[table["agent.size_bin"] == size].iloc[0] for size in SIZE_BINS}
    small, large = row[SIZE_BINS[0]], row[SIZE_BINS[-1]]
    missed = {size: round((1.0 - float(row[size]["endpoint_reached"])) * REPLICATES) for size in SIZE_BINS}  # (a mean)
    short = [f"{size} um in {n} of {REPLICATES} replicates" for size, n in missed.items() if n > 0]
    stopped = ("" if not short else f" Short of it ({'; '.join(short)}) the columns packed back to the catheter tip "
               "first (`stop_reason` packed_to_tip; docs/embolic-load.md): the volume is the volume to that point.")
    gallery.add(figures.comparison(table, SIZE_METRICS), "sizes",
                "Particle sizes compared",
                f"The same selective injection (catheter {small['catheter']}, to {small['endpoint']}) with each "
                f"calibrated microsphere size, {REPLICATES} replicates each. The smallest spheres lodge deeper (median "
                f"generation {small['lodging_generation_median']:.0f} against {large['lodging_generation_median']:.0f} "
                f"for {SIZE_BINS[-1]} um) and more of them reach the tumour ({small['tumour_particle_fraction']:.0%} "
                f"against {large['tumour_particle_fraction']:.0%}); the largest stop in larger arteries, closer to "
                f"the catheter, and leave more of the tumour alive (expected necrosis "
                f"{small['tumour_necrosis_fraction']:.0%} against {large['tumour_necrosis_fraction']:.0%}). The "
                "settled volume to stasis is the embolic load's (docs/embolic-load.md)." + stopped,
                f"embosim compare --strategies selective --replicates {REPLICATES} "
                f"--vary agent.size_bin={','.join(SIZE_BINS)} --out gallery-sizes && "
                f"embosim plot gallery-sizes --kind comparison --metrics {','.join(SIZE_METRICS)}")


if __name__ == "__main__":
    main()
