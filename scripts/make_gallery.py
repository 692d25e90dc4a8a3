"""Make the figure gallery: ``docs/gallery.md`` and its images in ``docs/figures/`` from shipped scenarios.

Run ``python scripts/make_gallery.py`` (a few minutes on one core). Every figure
comes from a shipped scenario at its own resolution, except the strategy
comparisons, which run many procedures and use a coarser liver
(:data:`COMPARISON_TERMINAL_UM`). PNGs are written at :data:`DPI` and reduced to
an adaptive palette (:data:`COLOURS`) so that each stays small.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import sim
from sim import plot
from sim.catalogue import resolve_scenario

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
GALLERY = ROOT / "docs" / "gallery.md"
#: Resolution of the gallery PNGs, dots per inch.
DPI = 80
#: Palette sizes of the gallery PNGs (dithered) and of the animation's frames (not dithered: smaller GIF).
COLOURS, GIF_COLOURS = 128, 32
#: Terminal diameter of the livers of the strategy comparisons, um (many runs).
COMPARISON_TERMINAL_UM = 150.0
#: Replicates and arterial fractions of the strategy comparisons.
REPLICATES = 3
ARTERIAL_FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
ARTERIALISATION_STRATEGIES = ("superselective", "selective", "lobar", "whole_liver")

HEADER = """# Gallery

Every figure embosim draws, from shipped scenarios. Regenerate all of them with

    python scripts/make_gallery.py

(this page and `docs/figures/gallery_*`). Each figure is also one command,
`embosim plot RUN_DIR_OR_SCENARIO --kind KIND [--out FILE]` (PNG, SVG or PDF by
the extension; `--animate` for the angiogram GIF), and `embosim run` writes the
curve, before-after, deposition and angiogram figures next to `summary.json`.

Conventions: anteroposterior (AP) projection as on a frontal angiogram, x and z
in mm, the patient's right on the image's left (R and L marked); Okabe-Ito
colours for categories, viridis/cividis for quantities. Tree figures draw one
`LineCollection` of the vessels at least 300 um wide (`min_diameter_um`): about
2e3 of the ~3e5 arterial vessels of a default liver, roughly what an angiogram
resolves; flow reduction and particle counts of a drawn vessel include its whole
subtree, and lodging sites are dots wherever they are.

`embosim plot RUN_DIR` re-creates the run of a folder written by `embosim run`
from its `scenario.json` (scenario and seed; the run is deterministic) and
checks it against `summary.json`, rather than storing the run's arrays: a folder
stays small, and a folder from another model version is refused, not drawn
wrongly. Plotting a scenario runs it (or, for `tree`, only builds its liver).
"""

VIRTUAL_DSA = """## The virtual angiogram

`sim.angiography` (arrays; `sim.plot` draws them): contrast injected at the
catheter tip for 3 s at the baseline native flow of the catheterised vessel
(the same injection before and after embolisation) is followed through two
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
    """Re-save a PNG or GIF with a small adaptive palette (same picture to the eye, a fraction of the bytes)."""
    from PIL import Image, ImageSequence

    gif = path.suffix == ".gif"
    with Image.open(path) as image:
        frames = [frame.convert("RGB").quantize(colors=GIF_COLOURS if gif else COLOURS,
                                                method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE if gif else Image.Dither.FLOYDSTEINBERG)
                  for frame in ImageSequence.Iterator(image)]
        info = {key: image.info[key] for key in ("duration", "loop") if key in image.info}
    frames[0].save(path, optimize=True, save_all=len(frames) > 1, append_images=frames[1:], **info)


class Gallery:
    """Collects the figures and their captions, and writes them."""

    def __init__(self) -> None:
        self.sections: list[str] = []

    def add(self, fig, name: str, title: str, caption: str, command: str) -> None:
        path = plot.save_figure(fig, FIGURES / f"gallery_{name}.png", dpi=DPI)
        _shrink(path)
        self.sections.append(f"## {title}\n\n![{title}](figures/{path.name})\n\n{caption}\n\n    {command}\n")
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} kB")

    def animation(self, scene, name: str, title: str, caption: str, command: str) -> None:
        path = plot.animate_angiogram(scene, FIGURES / f"gallery_{name}.gif", fps=4, dpi=48, step_s=0.5)
        _shrink(path)
        self.sections.append(f"## {title}\n\n![{title}](figures/{path.name})\n\n{caption}\n\n    {command}\n")
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} kB")

    def write(self) -> None:
        GALLERY.write_text("\n".join([HEADER, *self.sections, VIRTUAL_DSA]), encoding="utf-8")


def _run(name: str):
    result = sim.run(sim.load_scenario(resolve_scenario(name)), progress=False)
    return result, plot.Scene(result)


def main() -> None:
    warnings.simplefilter("error")  # a gallery figure must draw cleanly
    FIGURES.mkdir(parents=True, exist_ok=True)
    gallery = Gallery()
    default, scene = _run("bulky_segment5_net")
    _, michels_scene = _run("replaced_rha_michels3")
    s = default.summary

    gallery.add(plot.tree(default.liver), "tree",
                "Arterial tree (bulky segment 5 NET)",
                "The liver before treatment: baseline arterial flow (log scale), Couinaud segments I-VIII, the "
                "tumour, the catheter's course (dotted) and tip in A5, the named arteries.",
                "embosim plot bulky_segment5_net --kind tree")
    gallery.add(plot.tree(scene, colour_by="pressure", state="baseline"), "tree_pressure",
                "Arterial pressure",
                "Mean pressure of each drawn artery (the colour scale spans them): most of the fall from about "
                "90 mmHg at the coeliac axis to portal level happens in arterioles narrower than those drawn.",
                "sim.plot.tree(result, colour_by=\"pressure\", state=\"baseline\")")
    gallery.add(plot.before_after(scene), "before_after",
                "Before and after embolisation",
                f"Same colour scale: the A5 territory's flow collapses (SACE {s['sace_level']}, antegrade flow "
                f"{s['antegrade_flow_fraction']:.0%} of baseline after {s['particles_injected']} particles); dots "
                "are lodging sites.",
                "embosim run && embosim plot embosim-out --kind before-after")
    gallery.add(plot.tree(scene, colour_by="occlusion"), "tree_occlusion",
                "Flow reduction",
                "Share of each vessel's baseline flow lost at the end of the run (its whole subtree counted).",
                "sim.plot.tree(result, colour_by=\"occlusion\")")
    gallery.add(plot.endpoint_curve(default), "curve",
                "Endpoint curve",
                "Antegrade flow and tumour blush against injected suspension, SACE bands shaded, the stop marked "
                "(reflux, when any, as a dotted line).",
                "embosim plot embosim-out --kind curve")
    gallery.add(plot.deposition(scene), "deposition",
                "Particle deposition",
                "Lodging generation (PHA = 0) and particle diameter split into tumour and normal liver, and where "
                "every particle went.",
                "embosim plot embosim-out --kind deposition")
    gallery.add(plot.angiogram(scene), "angiogram",
                "Virtual DSA before and after",
                "Arterial, capillary and venous phases of the same injection before the first particle and at "
                "stasis: the tumour blush is gone, contrast refluxes into segment VIII and stands in A5.",
                "embosim plot embosim-out --kind angiogram")
    gallery.animation(scene, "angiogram", "Virtual DSA, animated",
                      "The same injection through all three phases, baseline (left) and at stasis (right).",
                      "embosim plot embosim-out --kind angiogram --animate --out angiogram.gif")
    gallery.add(plot.before_after(michels_scene), "before_after_michels3",
                "Michels III: replaced RHA from the SMA",
                "The catheter reaches the right lobe through the SMA; lobar embolisation to sluggish flow.",
                "embosim plot replaced_rha_michels3 --kind before-after")
    gallery.add(plot.angiogram(michels_scene), "angiogram_michels3",
                "Michels III: virtual DSA",
                "At sluggish flow the same injection fills only the main branches in the arterial phase, refluxes "
                "towards the SMA and leaves the branches opacified in the capillary phase.",
                "embosim plot replaced_rha_michels3 --kind angiogram")

    coarse = sim.load_scenario(resolve_scenario("bulky_segment5_net")).with_updates(
        {"liver.terminal_diameter_um": COMPARISON_TERMINAL_UM})
    table = sim.compare(coarse, replicates=REPLICATES, rng=0)
    gallery.add(plot.comparison(table), "comparison",
                "Strategies compared",
                f"Every strategy on the same liver ({COMPARISON_TERMINAL_UM:g} um terminals), {REPLICATES} "
                "replicates each: mean and 95% interval.",
                f"embosim compare --replicates {REPLICATES} && embosim plot embosim-compare --kind comparison")
    varied = sim.compare(coarse, strategies=ARTERIALISATION_STRATEGIES, replicates=REPLICATES, rng=0,
                         vary={"tumours.0.arterial_fraction": list(ARTERIAL_FRACTIONS)})
    gallery.add(plot.arterialisation(varied), "arterialisation",
                "Outcomes against tumour arterialisation",
                "The core question: how each strategy fares as the tumour's arterial share of inflow changes. "
                "Tumour necrosis (graded O2-deficit model, docs/outputs.md) rises smoothly with arterialisation; "
                "superselective embolisation kills the tumour its feeder supplies at the least normal-liver "
                "necrosis.",
                "embosim compare --strategies superselective,selective,lobar,whole_liver "
                "--vary tumours.0.arterial_fraction=0.5:1.0:6 && embosim plot embosim-compare --kind arterialisation")
    gallery.write()
    print(f"wrote {GALLERY.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
