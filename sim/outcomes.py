"""Clinical outcomes from compartment flows and particle fates.

All functions take arrays (SI) and return plain numbers, so they can be tested
on hand-made inputs. Definitions (thresholds from the scenario's ``[outcomes]``
section) are documented in ``docs/outputs.md``.

* Tumour devascularisation: share of viable tumour volume whose total inflow
  (hepatic artery, any extrahepatic feeder and portal vein) fell below
  ``devascularised_fraction`` of its pre-procedure value: a tumour that keeps a
  portal supply is not devascularised by arterial embolisation.
* Normal liver devascularisation: share of normal liver whose arterial inflow fell
  below ``devascularised_fraction`` of the healthy liver's (it survives on its
  portal supply, but lost its artery: the injury that separates lobar from
  selective treatment while the portal vein is open).
* Tumour blush: tumour-volume-weighted mean arterial inflow relative to baseline.
* Normal-parenchyma ischaemia: share of normal (non-tumour) liver volume whose
  O2 delivery, arterial flow + ``portal_oxygen_content_ratio`` x portal flow,
  fell below ``ischaemia_oxygen_fraction`` of baseline. Portal supply protects
  normal liver; portal vein thrombosis removes that protection.
* Biliary ischaemia: share of peribiliary compartment volume (arterial supply
  only) whose arterial inflow fell below the same O2 threshold.
* Tumour and normal-liver necrosis (the teaching read-out; the threshold shares
  above are kept for continuity): the expected necrotic share of each
  compartment, a smooth monotone function of its O2 delivery ratio r (artery +
  ``portal_oxygen_content_ratio`` x portal, against the pre-procedure state for
  tumour and the healthy liver for normal tissue) and of how long the deficit
  lasts, volume-weighted (:func:`necrosis_fraction`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .keep import LOCK, kept_for
from .kernels.twoport import COMP_ART, COMP_EXTRA, COMP_POR
from .network import Compartments
from .scenario import OutcomesConfig

__all__ = ["tissue_outcomes", "tumour_blush_fraction", "TumourBlush", "arterial_inflow", "portal_inflow", "tumour_rows",
           "lodging_generations", "arterial_fraction_normal", "tumour_share_of_lodgings", "trunk_tumour_share",
           "necrosis_fraction", "viable_tumour_share", "tumour_inflow_ratios",
           "deficit_duration_h", "compartment_necrosis", "tissue_volumes", "Deliveries", "deliveries"]

_TISSUE, _PERIBILIARY = 0, 1


def _ratio(now: np.ndarray, base: np.ndarray) -> np.ndarray:
    """now / base where base > 0; 1 where there was nothing to lose."""
    out = np.ones_like(base)
    np.divide(now, base, out=out, where=base > 0)
    return out


def _weighted_share(mask: np.ndarray, weight: np.ndarray) -> float:
    total = weight.sum()
    return float(weight[mask].sum() / total) if total > 0 else 0.0


def _weighted_mean(value: np.ndarray, weight: np.ndarray) -> float:
    total = weight.sum()
    return float((weight * value).sum() / total) if total > 0 else 0.0


def arterial_inflow(q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Arterial inflow of each compartment (hepatic artery + extrahepatic feeder), m^3/s; of ``rows`` only if given."""
    if rows is None:
        return np.maximum(q[:, COMP_ART], 0.0) + np.maximum(q[:, COMP_EXTRA], 0.0)
    return np.maximum(q[rows, COMP_ART], 0.0) + np.maximum(q[rows, COMP_EXTRA], 0.0)


def portal_inflow(q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Portal inflow of each compartment, m^3/s; of ``rows`` only if given. Portal venules draining backwards (under a
    thrombosis) supply nothing: 0, not a negative supply."""
    return np.maximum(q[:, COMP_POR] if rows is None else q[rows, COMP_POR], 0.0)


def tumour_blush_fraction(comps: Compartments, q_base: np.ndarray, q_now: np.ndarray,
                          rows: np.ndarray | None = None) -> float:
    """Tumour-volume-weighted mean arterial inflow relative to ``q_base`` (1 = full blush).

    With ``rows`` (compartment indices including every tumour compartment, e.g.
    :func:`tumour_rows`), ``q_base`` and ``q_now`` hold those rows only: the
    per-step read-out of a procedure then costs O(tumour), not O(C).
    """
    return TumourBlush.of(comps, q_base, rows)(arterial_inflow(q_now))


class TumourBlush:
    """:func:`tumour_blush_fraction` against one baseline: what depends on it alone computed once (a procedure
    reads the blush after every chunk), then called with the arterial inflows now (:func:`arterial_inflow`).

    Parameters
    ----------
    tumour_volume_m3 : ndarray of float64, shape (K,), m^3
        Viable tumour volume of each compartment (0 for peribiliary ones).
    base_inflow_m3s : ndarray of float64, shape (K,), m^3/s
        Their arterial inflows at baseline (:func:`arterial_inflow` of ``q_base``).
    """

    def __init__(self, tumour_volume_m3: np.ndarray, base_inflow_m3s: np.ndarray):
        self.volume = tumour_volume_m3
        self.total = tumour_volume_m3.sum()
        self.base = base_inflow_m3s

    @classmethod
    def of(cls, comps: Compartments, q_base: np.ndarray, rows: np.ndarray | None = None) -> TumourBlush:
        """Against the flows ``q_base`` (C, 4), or (K, 4) of compartments ``rows``, as :func:`tumour_blush_fraction`."""
        kind, volume = (comps.kind, comps.tumour_volume_m3) if rows is None else (comps.kind[rows],
                                                                                 comps.tumour_volume_m3[rows])
        return cls(np.where(kind == _TISSUE, volume, 0.0), arterial_inflow(q_base))

    def __call__(self, inflow_now: np.ndarray) -> float:
        """The blush fraction for arterial inflows ``inflow_now`` (m^3/s, the rows of the baseline); NaN without
        viable tumour (as the other tumour read-outs)."""
        if self.total <= 0:
            return math.nan
        return float((self.volume * _ratio(inflow_now, self.base)).sum() / self.total)


def tumour_rows(comps: Compartments) -> np.ndarray:
    """Indices of the tissue compartments holding tumour."""
    return np.flatnonzero((comps.kind == _TISSUE) & (comps.tumour_volume_m3 > 0))


def necrosis_fraction(o2_ratio, ratio_50: float, steepness: float, duration_h: float, tolerance_h: float,
                      tolerance_steepness: float, pre_ratio=1.0) -> np.ndarray:
    """Expected necrotic share of tissue whose O2 delivery fell to ``o2_ratio`` of its reference for ``duration_h``.

    Two independent factors, both Hill functions (smooth, monotone, 0 at no dose):

    * severity: with the deficit-to-residual ratio x = (1 - r) / r of O2 delivery,
      S = x^h / (x^h + x50^h), x50 = (1 - ratio_50) / ratio_50, h = ``steepness``:
      0 at r >= 1 (no deficit), 1/2 at r = ``ratio_50``, 1 at r = 0 (complete loss).
      It is the share of the tissue whose local delivery, spread around the
      compartment's mean, falls below its critical level (model assumption).
    * duration: D = t^k / (t^k + t50^k), t = ``duration_h``, t50 = ``tolerance_h``,
      k = ``tolerance_steepness``; 1 for a permanent deficit (``duration_h`` = inf).
      Model assumption: tissue with a partial deficit tolerates it as long as a
      complete one (pessimistic for short deficits; irrelevant for permanent ones).

    Tissue whose reference is not its pre-procedure state (normal liver, against
    the healthy liver) may start below 1 (``pre_ratio``, e.g. portal vein
    thrombosis). Only tissue alive before the procedure counts: N = D x
    (S(r) - S(r_pre))^+ / (1 - S(r_pre)), the share of the pre-procedure survivors
    that the added deficit kills (model assumption: the patient lives with the
    chronic state; what it would kill is already lost or adapted). With
    ``pre_ratio`` = 1 this is D x S(r).

    Parameters
    ----------
    o2_ratio : array_like of float
        O2 delivery now / reference (dimensionless, >= 0; values above 1 count as 1).
    ratio_50, steepness, duration_h, tolerance_h, tolerance_steepness : float
        ``OutcomesConfig`` parameters (duration and tolerance in hours).
    pre_ratio : array_like of float
        O2 delivery before the procedure / reference (1 when the reference is the
        pre-procedure state).

    Returns
    -------
    ndarray of float64
        Necrotic share 0-1, one per ratio.

    Examples
    --------
    >>> float(necrosis_fraction(1.0, 0.4, 2.0, float("inf"), 3.0, 4.0)[()])
    0.0
    >>> round(float(necrosis_fraction(0.4, 0.4, 2.0, float("inf"), 3.0, 4.0)[()]), 3)
    0.5
    """
    severity = _severity(o2_ratio, ratio_50, steepness)
    if np.any(np.asarray(pre_ratio) < 1.0):
        before = _severity(pre_ratio, ratio_50, steepness)
        survivors = 1.0 - before
        added = np.maximum(severity - before, 0.0)
        severity = np.divide(added, survivors, out=np.zeros_like(added), where=survivors > 0)
    if np.isinf(duration_h):
        return severity
    if duration_h <= 0:
        return np.zeros_like(severity)
    return severity / (1.0 + (tolerance_h / duration_h) ** tolerance_steepness)


def _severity(o2_ratio, ratio_50: float, steepness: float) -> np.ndarray:
    """Hill function of the deficit-to-residual ratio: 0 at r >= 1, 1/2 at ``ratio_50``, 1 at r = 0."""
    r = np.clip(np.asarray(o2_ratio, dtype=np.float64), 0.0, 1.0)
    odds_50 = ratio_50 / (1.0 - ratio_50)
    with np.errstate(divide="ignore", over="ignore"):
        relative_odds = (r / (1.0 - r)) / odds_50  # inf at r = 1, 0 at r = 0
        return 1.0 / (1.0 + relative_odds ** steepness)


def viable_tumour_share(comps: Compartments) -> np.ndarray:
    """Viable tumour's share of each compartment's perfused volume (without a necrotic core), 0-1 (C,)."""
    perfused = comps.perfused_volume_m3
    share = np.zeros_like(perfused)
    np.divide(comps.tumour_volume_m3, perfused, out=share, where=perfused > 0)
    return np.clip(share, 0.0, 1.0)


def tumour_inflow_ratios(comps: Compartments, q_base: np.ndarray, q_now: np.ndarray) -> tuple[float, float]:
    """The tumour's arterial and portal inflow now over before (flows (C, 4), m^3/s): the inflow into every compartment
    weighted by its :func:`viable_tumour_share` (a compartment's inflow feeds its tumour and normal parts alike),
    positive portal inflow only (reversed drainage is not supply)."""
    share = viable_tumour_share(comps)
    portal = [float((share * portal_inflow(q)).sum()) for q in (q_base, q_now)]
    art = [float((share * arterial_inflow(q)).sum()) for q in (q_base, q_now)]
    return art[1] / art[0], portal[1] / portal[0]


def deficit_duration_h(cfg: OutcomesConfig, permanent: bool) -> float:
    """How long the embolisation's O2 deficit lasts, h: ``ischaemia_duration_h`` or from the agent's permanence."""
    if cfg.ischaemia_duration_h is not None:
        return float(cfg.ischaemia_duration_h)
    return float("inf") if permanent else float(cfg.temporary_occlusion_h)


class Deliveries(NamedTuple):
    """Arterial inflow (:func:`arterial_inflow`) and O2 delivery (arterial + ``portal_oxygen_content_ratio`` x portal
    inflow) of each compartment (C,), m^3/s, in the three flow tables of :func:`tissue_outcomes` (healthy, before the
    procedure, now): :func:`deliveries` computes them once for it and :func:`compartment_necrosis`."""

    art_healthy: np.ndarray
    art_base: np.ndarray
    art_now: np.ndarray
    o2_healthy: np.ndarray
    o2_base: np.ndarray
    o2_now: np.ndarray


def deliveries(q_healthy: np.ndarray, q_base: np.ndarray, q_now: np.ndarray, cfg: OutcomesConfig) -> Deliveries:
    """The :class:`Deliveries` of three flow tables (C, 4), m^3/s (arguments as for :func:`tissue_outcomes`)."""
    art = tuple(arterial_inflow(q) for q in (q_healthy, q_base, q_now))
    return Deliveries(*art, *(_o2_of(a, q, cfg) for a, q in zip(art, (q_healthy, q_base, q_now))))


def tissue_outcomes(comps: Compartments, q_healthy: np.ndarray, q_base: np.ndarray, q_now: np.ndarray,
                    cfg: OutcomesConfig, *, permanent: bool = True,
                    necrosis: tuple[np.ndarray, np.ndarray] | None = None,
                    delivered: Deliveries | None = None, q_blush_reference: np.ndarray | None = None) -> dict:
    """Devascularisation, blush and ischaemia from reference and current compartment flows.

    Parameters
    ----------
    comps : Compartments
    q_healthy : ndarray of float64, shape (C, 4), m^3/s
        Compartment flows (columns ``COMP_ART, COMP_POR, COMP_HV, COMP_EXTRA``) of
        the calibrated healthy liver: the reference of O2 delivery (ischaemia).
    q_base : ndarray of float64, shape (C, 4), m^3/s
        Flows before the procedure (with any thrombosis and the buffer response):
        the reference of tumour arterial inflow (devascularisation, blush).
    q_now : ndarray of float64, shape (C, 4), m^3/s
        Current flows; all three without the catheter injection.
    cfg : OutcomesConfig
    permanent : bool
        Whether the agent occludes permanently (the deficit's duration when
        ``cfg.ischaemia_duration_h`` is not set; :func:`deficit_duration_h`).
    necrosis : (ndarray, ndarray), optional
        :func:`compartment_necrosis` of these flows, ``cfg`` and ``permanent`` when already computed.
    delivered : Deliveries, optional
        :func:`deliveries` of these flows and ``cfg`` when already computed.
    q_blush_reference : ndarray of float64, shape (C, 4), m^3/s, optional
        The blush's reference instead of ``q_base``: a later session's flows without any session's embolic load
        (the blush is an angiographic read-out, judged against the unembolised vessels as the endpoint is).

    Returns
    -------
    dict
        ``tumour_devascularised_fraction``, ``tumour_blush_fraction``,
        ``normal_devascularised_fraction``, ``normal_ischaemic_fraction``,
        ``biliary_ischaemic_fraction``, ``tumour_necrosis_fraction``,
        ``normal_necrosis_fraction`` (all 0-1).
    """
    art_healthy, art_base, art_now, o2_healthy, o2_base, o2_now = (deliveries(q_healthy, q_base, q_now, cfg)
                                                                   if delivered is None else delivered)
    total_ratio = _ratio(art_now + portal_inflow(q_now), art_base + portal_inflow(q_base))
    o2_ratio = _ratio(o2_now, o2_healthy)
    art_ratio = _ratio(art_now, art_healthy)
    tumour_necrosis, normal_necrosis = (_necrosis(o2_healthy, o2_base, o2_now, cfg, permanent) if necrosis is None
                                        else necrosis)

    tumour_vol, normal_vol = tissue_volumes(comps)
    biliary_vol = np.where(comps.kind == _PERIBILIARY, comps.volume_m3, 0.0)
    return {
        "tumour_devascularised_fraction": _weighted_share(total_ratio < cfg.devascularised_fraction, tumour_vol),
        "normal_devascularised_fraction": _weighted_share(art_ratio < cfg.devascularised_fraction, normal_vol),
        "tumour_blush_fraction": TumourBlush(tumour_vol, art_base if q_blush_reference is None
                                             else arterial_inflow(q_blush_reference))(art_now),
        "normal_ischaemic_fraction": _weighted_share(o2_ratio < cfg.ischaemia_oxygen_fraction, normal_vol),
        "biliary_ischaemic_fraction": _weighted_share(art_ratio < cfg.ischaemia_oxygen_fraction, biliary_vol),
        "tumour_necrosis_fraction": _weighted_mean(tumour_necrosis, tumour_vol),
        "normal_necrosis_fraction": _weighted_mean(normal_necrosis, normal_vol),
    }


def _o2_of(inflow: np.ndarray, q: np.ndarray, cfg: OutcomesConfig) -> np.ndarray:
    """O2 delivery of each compartment of the flow table ``q`` whose arterial inflow (:func:`arterial_inflow`) is
    ``inflow``: arterial inflow + kappa x portal inflow, m^3/s."""
    return inflow + cfg.portal_oxygen_content_ratio * portal_inflow(q)


def tissue_volumes(comps: Compartments) -> tuple[np.ndarray, np.ndarray]:
    """Viable tumour and normal (non-tumour, non-necrotic) tissue volume of each compartment (C,), m^3."""
    tissue = comps.kind == _TISSUE
    return (np.where(tissue, comps.tumour_volume_m3, 0.0),
            np.where(tissue, comps.normal_volume_m3, 0.0))


def tumour_to_normal_ratio(comps: Compartments, in_territory: np.ndarray, tumour_particles: float,
                           normal_particles: float) -> float:
    """Particle concentration in viable tumour over normal liver of the catheter's territory (T/N; NaN without both).

    Parameters
    ----------
    comps : Compartments
    in_territory : ndarray of bool, shape (pedicle nodes,)
        Nodes downstream of the catheter tip; their tissue compartments give the volumes.
    tumour_particles, normal_particles : float
        Particles (or activity) attributed to viable tumour and to normal liver.
    """
    tumour, normal = tissue_volumes(comps)
    inside = in_territory[comps.node]
    tumour_vol, normal_vol = tumour[inside].sum(), normal[inside].sum()
    if tumour_vol > 0 and normal_vol > 0 and normal_particles > 0:
        return float((tumour_particles / tumour_vol) / (normal_particles / normal_vol))
    return float("nan")


def compartment_necrosis(q_healthy: np.ndarray, q_base: np.ndarray, q_now: np.ndarray, cfg: OutcomesConfig, *,
                         permanent: bool = True, delivered: Deliveries | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Expected necrotic share of each compartment's tumour and of its normal tissue (0-1), each shape (C,).

    Tumour against its pre-procedure O2 delivery, normal tissue against the healthy
    liver's (counting only tissue alive before the procedure); arguments as for
    :func:`tissue_outcomes`, whose volume-weighted means these are.
    """
    d = deliveries(q_healthy, q_base, q_now, cfg) if delivered is None else delivered
    return _necrosis(d.o2_healthy, d.o2_base, d.o2_now, cfg, permanent)


def _necrosis(o2_healthy: np.ndarray, o2_base: np.ndarray, o2_now: np.ndarray, cfg: OutcomesConfig,
              permanent: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`compartment_necrosis` from the O2 deliveries (:func:`_o2_of`) of its three flow tables."""
    duration = deficit_duration_h(cfg, permanent)
    tumour = necrosis_fraction(_ratio(o2_now, o2_base), cfg.tumour_necrosis_o2_ratio, cfg.necrosis_steepness,
                               duration, cfg.tumour_ischaemia_tolerance_h, cfg.tolerance_steepness)
    normal = necrosis_fraction(_ratio(o2_now, o2_healthy), cfg.normal_necrosis_o2_ratio, cfg.necrosis_steepness,
                               duration, cfg.normal_ischaemia_tolerance_h, cfg.tolerance_steepness,
                               pre_ratio=_ratio(o2_base, o2_healthy))
    return tumour, normal


def arterial_fraction_normal(comps: Compartments, q: np.ndarray) -> float:
    """Hepatic arterial share of the inflow of tumour-free tissue compartments (dimensionless; inflows only, as
    :attr:`sim.flow.model.LiverFlowResult.arterial_fraction`)."""
    normal = (comps.kind == _TISSUE) & (comps.tumour_volume_m3 <= 0) & (comps.necrotic_volume_m3 <= 0)
    art = np.maximum(q[normal, COMP_ART], 0.0).sum()
    por = portal_inflow(q, normal).sum()
    return float(art / (art + por)) if art + por > 0 else float("nan")


def tumour_share_of_lodgings(comps: Compartments, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tumour volume share of the tissue downstream of every pedicle node and of every compartment.

    A particle lodged in pedicle vessel j is attributed to tumour with the share
    of viable tumour volume in the perfused tissue j feeds; one lodged in compartment c
    with the share in c (:func:`viable_tumour_share`). A necrotic core, with no vessels,
    counts in neither part (review 39: it had counted as normal liver).

    Returns
    -------
    (ndarray, ndarray)
        Shares per pedicle node (M,) and per compartment (C,), 0-1; read-only, kept with
        ``comps`` (:mod:`sim.keep`) for this ``parent``: a run and its read-outs reuse them.
    """
    with LOCK:
        kept = kept_for(comps).get("tumour_share_of_lodgings")
    if kept is not None and (kept[0] is parent or np.array_equal(kept[0], parent)):
        return kept[1]
    shares = _tumour_shares(comps, parent)
    for share in shares:
        share.flags.writeable = False
    with LOCK:
        kept_for(comps)["tumour_share_of_lodgings"] = (parent, shares)
    return shares


def _volumes_below(comps: Compartments, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Perfused tissue (without necrotic cores: they take no particles) and viable tumour volume (m^3) of the
    compartments at and below every pedicle node, (M,) each."""
    from .kernels.treewalk import subtree_sums

    tissue = comps.kind == _TISSUE
    m = parent.shape[0]
    vol = np.bincount(comps.node[tissue], comps.perfused_volume_m3[tissue], minlength=m)
    tum = np.bincount(comps.node[tissue], comps.tumour_volume_m3[tissue], minlength=m)
    vol_down = np.empty(m)
    tum_down = np.empty(m)
    subtree_sums(parent, vol, vol_down)
    subtree_sums(parent, tum, tum_down)
    return vol_down, tum_down


def trunk_tumour_share(liver) -> np.ndarray:
    """Tumour volume share of the tissue each arterial trunk vessel feeds, (Et,), 0-1.

    The tissue of the pedicle subtrees downstream of the edge (along the trunk's arteries, origin to end): a
    particle lodged in a named artery is attributed to tumour with it, as one in a pedicle vessel with
    :func:`tumour_share_of_lodgings`. 0 for portal veins, lumped beds and an artery with no tissue downstream.

    Parameters
    ----------
    liver : CompiledLiver
        The liver whose trunk edges the particles' ``where`` index (the catheter-placed one, its vessel split at the tip).

    Returns
    -------
    ndarray
        Read-only, kept with ``liver`` (:mod:`sim.keep`): the summary, the deposition table and the figures' state
        of a run reuse it.
    """
    with LOCK:
        kept = kept_for(liver).get("trunk_tumour_share")
    if kept is None:
        kept = _trunk_shares(liver)
        kept.flags.writeable = False
        with LOCK:
            kept_for(liver)["trunk_tumour_share"] = kept
    return kept


def _trunk_shares(liver) -> np.ndarray:
    """:func:`trunk_tumour_share`, computed."""
    comps, forest, trunk = liver.compartments, liver.forest, liver.trunk
    vol_down, tum_down = _volumes_below(comps, np.asarray(forest.parent, np.int64))
    roots, at = np.asarray(forest.root_nodes, np.int64), np.asarray(forest.root_trunk_art, np.int64)
    node_vol = np.bincount(at, weights=vol_down[roots], minlength=trunk.n_nodes)
    node_tum = np.bincount(at, weights=tum_down[roots], minlength=trunk.n_nodes)
    conns = np.asarray(trunk.edge_conns, np.int64)
    arteries = np.flatnonzero(np.asarray(trunk.edge_kind) == 0)
    ends: dict[int, list[int]] = {}
    for e in arteries:
        ends.setdefault(int(conns[e, 0]), []).append(int(conns[e, 1]))
    share = np.zeros(trunk.n_edges)
    for e in arteries:  # a few tens of edges: the nodes downstream of each, depth first
        seen, todo = set(), [int(conns[e, 1])]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(ends.get(n, ()))
        below = list(seen)
        vol = node_vol[below].sum()
        share[e] = node_tum[below].sum() / vol if vol > 0 else 0.0
    return share


def _tumour_shares(comps: Compartments, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tumour_share_of_lodgings`, computed."""
    tissue = comps.kind == _TISSUE
    vol_down, tum_down = _volumes_below(comps, parent)
    node_share = _ratio(tum_down, vol_down)
    node_share[vol_down <= 0] = 0.0
    comp_share = np.where(tissue, viable_tumour_share(comps), 0.0)  # a necrotic core is neither (review 39)
    return node_share, comp_share


def lodging_generations(fate: np.ndarray, where: np.ndarray, diameters_m: np.ndarray, generation: np.ndarray,
                        comp_node: np.ndarray, comp_feed_diam_m: np.ndarray, murray_exponent: float,
                        deformability: float) -> np.ndarray:
    """Branching generation (PHA = 0) at which each particle lodged in the liver.

    A particle lodged in a pedicle vessel has that vessel's generation. One
    lodged inside a compartment continues the bisecting tree below the feeder of
    diameter D down to vessels of its own effective diameter d = (1 - deformability)
    x diameter: N = (D/d)^g vessels, log2(N) more generations (Murray's law).

    Returns
    -------
    ndarray of float64
        One generation per particle lodged in a vessel or compartment (other fates skipped).
    """
    from .kernels.transport import FATE_COMPARTMENT, FATE_VESSEL

    in_vessel = fate == FATE_VESSEL
    in_comp = fate == FATE_COMPARTMENT
    c = where[in_comp]
    d_fit = (1.0 - deformability) * diameters_m[in_comp]
    extra = murray_exponent * np.log2(np.maximum(comp_feed_diam_m[c] / d_fit, 1.0))
    return np.concatenate([generation[where[in_vessel]].astype(np.float64),
                           generation[comp_node[c]] + 1.0 + extra])
