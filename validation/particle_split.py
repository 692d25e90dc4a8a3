"""Particle split against flow split at the hepatic arterial outlets ([Bomberna2022]).

Bomberna et al., Front Bioeng Biotechnol 2022: well-mixed particles far from the
catheter split in proportion to the flow, with a median difference of 0.40% (max
0.62%) between particle and flow distribution per outlet. embosim's transport
kernel routes every particle through each node with probability proportional to
the flow leaving by each branch (:mod:`sim.kernels.transport`, citing that study),
so this case checks that the implementation realises the rule, with the
published differences as the tolerance.

Setup: the default liver, catheter in the proper hepatic artery, 32 um resin
microspheres (SIR-Spheres mean, [Y90Microspheres]), routed one by one on the fixed
baseline flow field (``sim.procedure.route_fixed_field``: no embolisation, so
the split is the field's). Outlets: the segmental arteries A1-A8 (particles counted by
the segment where they end) and the non-target branches leaving downstream of the
tip (right gastric, cystic). Differences are in percentage points of all particles.
With n particles an outlet of flow share q differs by binomial noise of standard
deviation sqrt(q (1 - q) / n); the expected median |difference| from noise alone
(0.674 x the median standard deviation, the median of a half-normal) is reported
as the noise floor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats

from sim.agents import agent_from_config
from sim.flow import LiverFlow
from sim.kernels import transport as tk
from sim.network import EDGE_LUMPED, EDGE_PORTAL
from sim.procedure import route_fixed_field, transport_net
from sim.scenario import SEGMENTS

from . import CaseResult, default_liver, module_main, new_figure, publish

__all__ = ["split", "run", "PARTICLE_DIAMETER_M", "PARTICLES"]

#: Particle diameter, m (SIR-Spheres 32 +/- 10 um, [Y90Microspheres]).
PARTICLE_DIAMETER_M = 32e-6
#: Particles routed, fast and full run.
PARTICLES = {True: 100_000, False: 1_000_000}
#: [Bomberna2022]: median and maximum per-outlet difference, percentage points.
BOMBERNA_MEDIAN_PP, BOMBERNA_MAX_PP = 0.40, 0.62
#: Median of |N(0, 1)|: expected median |difference| per unit standard deviation.
HALF_NORMAL_MEDIAN = 0.6745


def _outlet_edges(flow: LiverFlow, net: tk.TransportNet) -> list[int]:
    """Trunk edges downstream of the tip where particles leave the trunk: beds and edges into pedicle roots."""
    trunk, st = flow.liver.trunk, flow.state
    out, stack = [], [net.tip_index]
    while stack:
        node = stack.pop()
        for e in np.flatnonzero((st.trunk_conns[:, 0] == node) & (st.trunk_q > 0) & (trunk.edge_kind != EDGE_PORTAL)):
            end = int(st.trunk_conns[e, 1])
            if trunk.edge_kind[e] == EDGE_LUMPED or net.trunk_root[end] >= 0:
                out.append(int(e))
            else:
                stack.append(end)
    return out


def split(liver, n_particles: int, *, rng=0) -> dict[str, np.ndarray]:
    """Route ``n_particles`` from a PHA catheter on the fixed baseline field; per-outlet shares.

    Parameters
    ----------
    liver : Liver
        Any liver of a Michels type with a PHA (``sim.build_liver``).
    n_particles : int
    rng : None, int or numpy.random.Generator

    Returns
    -------
    dict
        ``outlet`` (names), ``flow_share`` and ``particle_share`` (fractions, sum 1
        over the outlets), ``particles`` (counts), ``unassigned`` (particles that
        ended outside every outlet: 0 when the routing is conservative).
    """
    rng = np.random.default_rng(rng)
    scenario = liver.scenario.with_updates({"catheter.vessel": "PHA"})
    flow = LiverFlow(liver.compiled, scenario, catheter=True)
    net, sinks = transport_net(flow.liver, flow.state, flow.catheter, scenario, agent_from_config(scenario.agent))
    ps = route_fixed_field(flow.liver, flow.state, net, len(sinks), np.full(n_particles, PARTICLE_DIAMETER_M), rng)
    trunk, forest, comps = flow.liver.trunk, flow.liver.forest, flow.liver.compartments
    names = {e: trunk.edge_names[e].removesuffix("_bed") if trunk.edge_kind[e] == EDGE_LUMPED
             else SEGMENTS[forest.segment[net.trunk_root[flow.state.trunk_conns[e, 1]]]]
             for e in _outlet_edges(flow, net)}
    edges = sorted(names, key=lambda e: (names[e] not in SEGMENTS, SEGMENTS.index(names[e]) if names[e] in SEGMENTS
                                         else 0, names[e]))
    names = [names[e] for e in edges]
    segment_of = {tk.FATE_VESSEL: forest.segment, tk.FATE_COMPARTMENT: forest.segment[comps.node]}
    labels = np.full(n_particles, "", dtype=object)
    for fate, seg in segment_of.items():
        mine = ps.fate == fate
        labels[mine] = np.asarray(SEGMENTS, dtype=object)[seg[ps.where[mine]]]
    gone = ps.fate == tk.FATE_NONTARGET
    labels[gone] = np.asarray(sinks, dtype=object)[ps.where[gone]]
    counts = np.array([(labels == name).sum() for name in names])
    q = flow.state.trunk_q[edges]
    return {"outlet": np.array(names), "flow_share": q / q.sum(), "particle_share": counts / n_particles,
            "particles": counts, "unassigned": int(n_particles - counts.sum())}


def run(out_dir: str | Path, *, fast: bool = False, liver=None) -> list[CaseResult]:
    """Route :data:`PARTICLES` particles and compare per-outlet shares with flow shares.

    The case interface of :mod:`validation`.
    """
    liver = liver or default_liver(fast=fast)
    n = PARTICLES[fast]
    res = split(liver, n)
    q, p = res["flow_share"], res["particle_share"]
    diff_pp = 100.0 * np.abs(p - q)
    sd_pp = 100.0 * np.sqrt(q * (1.0 - q) / n)
    floor = HALF_NORMAL_MEDIAN * float(np.median(sd_pp))
    context = (f"{n:,} particles, {q.size} outlets; binomial noise floor (expected median |difference| from "
               f"sampling alone) {floor:.3f} pp; particles outside every outlet: {res['unassigned']}")
    rule = "flow-proportional routing is the kernel's rule, taken from this study; "
    chi = stats.chisquare(res["particles"], n * q)
    sampling = bool(chi.pvalue > 1e-3 and res["unassigned"] == 0)
    results = [
        CaseResult("median per-outlet |particle share - flow share|, percentage points", float(np.median(diff_pp)),
                   f"{BOMBERNA_MEDIAN_PP:g} ([Bomberna2022])", f"<= {BOMBERNA_MEDIAN_PP:g}",
                   float(np.median(diff_pp)) <= BOMBERNA_MEDIAN_PP, rule + context, role="calibration"),
        CaseResult("max per-outlet |particle share - flow share|, percentage points", float(diff_pp.max()),
                   f"{BOMBERNA_MAX_PP:g} ([Bomberna2022])", f"<= {BOMBERNA_MAX_PP:g}",
                   float(diff_pp.max()) <= BOMBERNA_MAX_PP, rule + context, role="calibration"),
        CaseResult("chi-square p of particle counts against flow shares", float(chi.pvalue),
                   "binomial sampling of the flow split", "p > 0.001", sampling,
                   "differences are sampling noise only" if sampling else "differences exceed sampling noise",
                   role="check"),
    ]
    fig, ax = new_figure(1, 2, size=(11, 4))
    x = np.arange(q.size)
    ax[0, 0].bar(x - 0.2, 100 * q, 0.4, label="flow share")
    ax[0, 0].bar(x + 0.2, 100 * p, 0.4, label="particle share")
    ax[0, 0].set_xticks(x, res["outlet"], rotation=45, fontsize=8)
    ax[0, 0].set_ylabel("% of the PHA catheter's delivery")
    ax[0, 0].legend(fontsize=8)
    ax[0, 1].bar(x, 100 * (p - q), color="tab:grey", label="particle - flow")
    ax[0, 1].errorbar(x, np.zeros(q.size), yerr=1.96 * sd_pp, fmt="none", ecolor="k", capsize=3,
                      label="95% binomial noise")
    for sign in (-1, 1):
        ax[0, 1].axhline(sign * BOMBERNA_MAX_PP, color="tab:red", ls=":",
                         label="[Bomberna2022] max 0.62 pp" if sign > 0 else None)
    ax[0, 1].set_xticks(x, res["outlet"], rotation=45, fontsize=8)
    ax[0, 1].set_ylabel("difference, percentage points")
    ax[0, 1].legend(fontsize=8)
    return publish(fig, results, out_dir, "particle_split",
                   f"Particle vs flow split, {PARTICLE_DIAMETER_M * 1e6:g} um spheres from the PHA ({n:,} particles)")


if __name__ == "__main__":
    raise SystemExit(module_main(run, __doc__.splitlines()[0], "particle_split"))
