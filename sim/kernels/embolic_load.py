"""Embolic load: how lodged particles pack in a vessel, and the conductance a loaded vessel keeps.

Every vessel the transport reaches carries a load (particles, packed length,
excess resistance), O(1) numbers per vessel:

* **Resolved vessels** (pedicle and named trunk arteries; unified index ``v``:
  pedicle node ``v < M``, trunk edge ``v - M``). A particle that does not fit a
  vessel (lumen below ``(1 - deformability)`` x its diameter) *wedges* in its
  mouth: a deformed sphere, a short porous plug whose porosity is the seal
  porosity (the one calibrated parameter, ``agent.seal_porosity``), and the
  vessel's mouth is blocked for later particles. A particle that arrives at a
  node whose chosen exit is blocked stops at the end of the column in the
  vessel it came through: columns grow from a vessel's distal end upstream, and
  when a column reaches the vessel's mouth that vessel is blocked in turn, so
  the next particle stops in its parent (retrograde filling towards the
  catheter). A particle occupies a column length of its volume over the solid
  share of the lumen area, with the wall-effect porosity of Dixon (1988), continuous
  from random packing in a wide lumen down to single file (one diameter per particle)
  in a lumen of the particle's size, and the seal porosity for a sphere compressed
  into a lumen narrower than itself.
* **Leaky plugs.** A packed length is a porous medium with the Kozeny-Carman
  permeability ``k = d^2 e^3 / (180 (1 - e)^2)`` (Carman 1937), so its Darcy
  resistance is ``F = 180 D^2 (1 - e)^2 / (32 d^2 e^3)`` times the Poiseuille
  resistance of the same open length (at the same blood viscosity, model
  assumption). A vessel of length L with packed segments l_i keeps the
  conductance ``g0 / (1 + sum (F_i - 1) l_i / L)``: flow falls gradually as a
  column grows, and a full vessel still carries a little flow. In a lumen wide
  enough for random packing a column grows in layers one particle thick; the top
  layer, covering the share f of the cross-section, is a partial obstruction in
  parallel with the open rest, ``d (1 / (1 - f + f / F) - 1)`` of added
  open-lumen length (model assumption: flow passes the gaps of an incomplete
  layer as through open lumen), so the first particles at a wide vessel's
  bottom barely obstruct it.
* **Sub-resolution beds** (tissue and peribiliary compartments below a terminal
  arteriole, non-target beds such as the GDA's; unified index ``b``: compartment
  ``b < C``, trunk bed edge ``b - C``) are symmetric Murray trees from the feeder
  diameter ``D0`` down to sinusoid size, ``n`` generations, vessel length
  ``aspect x D``; generation k holds ``2^k`` vessels and carries the share
  ``a^k / sum a^j`` (``a = 2^(3/g - 1)``) of the bed's resistance (Poiseuille on a
  Murray tree). The same rules act generation-wise: particles wedge in the
  first generation narrower than they fit (one vessel of ``2^K`` per particle,
  each a plug of the wedge length), then, once that generation is wedged, fill
  the generations above it as columns, up to the feeder; a full bed is blocked
  and the next particle stops in the feeding vessel.

Everything is geometry and cited physics except the seal porosity. All lengths
m, conductances m^3/(s Pa).

References
----------
.. [1] Carman P.C. (1937) Trans Inst Chem Eng 15:150 (Kozeny-Carman permeability).
.. [2] Dixon A.G. (1988) Can J Chem Eng 66:705 (bulk voidage of spheres in tubes, wall effect).
.. [3] Guo Z. et al. (2019) Powder Technol 354:842 (porosity for 1.2 < D/d < 7.1: layered, fluctuating).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ._config import NJIT_OPTS
from .twoport import COMP_ART

__all__ = ["LoadGeometry", "Load", "new_load", "column_porosity", "segment_length", "plug_resistance_factor",
           "load_vessel", "load_bed", "vessel_load_step", "bed_load_step", "bed_generations", "vessel_conductance",
           "bed_conductance",
           "write_vessel_conductance", "write_vessel_conductance_of", "write_bed_conductance",
           "write_bed_conductance_of", "apply_load", "conductance_fractions",
           "SINGLE_FILE_RATIO", "KOZENY_CONSTANT"]

#: Lumen/particle diameter ratio below which every particle of a column is a complete plug across the lumen
#: (geometry: two spheres side by side need a lumen of two diameters); above it a column grows in layers one
#: particle thick (:func:`vessel_load_step`). The porosity is continuous across it (:func:`column_porosity`).
SINGLE_FILE_RATIO = 2.0
#: Kozeny-Carman constant (Carman 1937; 180 for beds of spheres).
KOZENY_CONSTANT = 180.0


class LoadGeometry(NamedTuple):
    """What the load rules need to know about every vessel and bed (built by :mod:`sim.procedure`).

    Attributes
    ----------
    vessel_diam, vessel_length, vessel_g0 : float64 (M + Et,)
        Lumen diameter (m; NaN where particles never go: portal trunk veins, roots),
        length (m) and open arterial conductance (m^3/(s Pa)) of each resolved
        vessel: pedicle vessels into node v, then trunk edges.
    bed_feed_diam, bed_g0, bed_n_gen : float64 (C + Et,)
        Feeder diameter (m), open conductance and number of generations (feeder to
        sinusoid size) of each bed: compartments, then trunk edges (only the lumped
        non-target beds are used).
    bed_arteriole_share : float64 (C + Et,)
        Share of each bed's open resistance in its arterioles (Poiseuille, feeder to sinusoid
        size; at most 1): particles can plug this share; the rest (the sinusoids, and what the
        flow calibration puts in the microcirculation) they cannot. The resolved tree's vessels
        carry their Poiseuille resistance, so a bed's generations must too: spread over the
        whole calibrated resistance they took 2.4 times too much of it, and particles smaller
        than the terminals slowed the flow with less than half the volume they take once the same
        vessels are resolved (review 38; docs/embolic-load.md).
    n_pedicle, n_compartment : int
        M and C (offsets of the trunk parts).
    murray_exponent : float
        Branching exponent of the sub-resolution beds.
    bed_aspect : float
        Length / diameter of sub-resolution vessels.
    seal_porosity : float
        Porosity of a sphere compressed into a lumen narrower than itself (the seal).
    """

    vessel_diam: np.ndarray
    vessel_length: np.ndarray
    vessel_g0: np.ndarray
    bed_feed_diam: np.ndarray
    bed_g0: np.ndarray
    bed_n_gen: np.ndarray
    bed_arteriole_share: np.ndarray
    n_pedicle: int
    n_compartment: int
    murray_exponent: float
    bed_aspect: float
    seal_porosity: float


class Load(NamedTuple):
    """The embolic load of every vessel and bed (updated in place; O(1) per element).

    Attributes
    ----------
    vessel_count : int64 (M + Et,)
        Particles held by each resolved vessel (wedge and column).
    vessel_column : float64 (M + Et,)
        Packed length, m.
    vessel_excess : float64 (M + Et,)
        Sum of (F - 1) x packed length over its complete plugs and layers, m (open-lumen equivalent added).
    vessel_layer : float64 (M + Et,)
        Filled share of the top layer of a randomly packed column (0-1).
    vessel_layer_excess : float64 (M + Et,)
        Open-lumen length that partial top layer adds, m.
    vessel_blocked : uint8 (M + Et,)
        1 when the mouth is closed (a wedge, or the column reached it).
    bed_count : int64 (C + Et,)
    bed_gen : int64 (C + Et,)
        Generation of the wedge layer (-1 before the first particle).
    bed_wedged : float64 (C + Et,)
        Share of the wedge layer's vessels wedged (0-1).
    bed_layer : float64 (C + Et,)
        Conductance share the wedge layer keeps (1 = open).
    bed_front : float64 (C + Et,)
        Column front in generations: the generations ``[front, gen)`` are full.
    bed_excess : float64 (C + Et,)
        Resistance added by columns, as a share of the open bed's resistance.
    bed_blocked : uint8 (C + Et,)
        1 when the bed is packed up to its feeder.
    """

    vessel_count: np.ndarray
    vessel_column: np.ndarray
    vessel_excess: np.ndarray
    vessel_layer: np.ndarray
    vessel_layer_excess: np.ndarray
    vessel_blocked: np.ndarray
    bed_count: np.ndarray
    bed_gen: np.ndarray
    bed_wedged: np.ndarray
    bed_layer: np.ndarray
    bed_front: np.ndarray
    bed_excess: np.ndarray
    bed_blocked: np.ndarray


def new_load(n_vessels: int, n_beds: int) -> Load:
    """An empty load for ``n_vessels`` resolved vessels and ``n_beds`` beds."""
    return Load(vessel_count=np.zeros(n_vessels, np.int64), vessel_column=np.zeros(n_vessels),
                vessel_excess=np.zeros(n_vessels), vessel_layer=np.zeros(n_vessels),
                vessel_layer_excess=np.zeros(n_vessels), vessel_blocked=np.zeros(n_vessels, np.uint8),
                bed_count=np.zeros(n_beds, np.int64), bed_gen=np.full(n_beds, -1, np.int64),
                bed_wedged=np.zeros(n_beds), bed_layer=np.ones(n_beds), bed_front=np.zeros(n_beds),
                bed_excess=np.zeros(n_beds), bed_blocked=np.zeros(n_beds, np.uint8))


@njit(inline="always", **NJIT_OPTS)
def column_porosity(vessel_d, particle_d, seal_porosity):
    """Porosity of a column of spheres of diameter ``particle_d`` in a lumen ``vessel_d``.

    Lumen below the particle (a sphere compressed into a narrower lumen): the seal
    porosity. Otherwise the wall-effect correlation of Dixon (1988), continuous in
    x = d/D: ``0.4 + 0.05 x + 0.412 x^2`` for x <= 0.5 (random packing),
    ``0.528 + 2.464 (x - 0.5)`` for 0.5 < x <= 0.536, and
    ``1 - 0.667 x^3 / sqrt(2 x - 1)`` above (zigzag and single-file chains; 1/3 at
    x = 1, one sphere per diameter of a lumen of its size).
    """
    ratio = vessel_d / particle_d
    if ratio <= 1.0:
        return seal_porosity
    x = 1.0 / ratio
    if x <= 0.5:
        return 0.4 + 0.05 * x + 0.412 * x * x
    if x <= 0.536:
        return 0.528 + 2.464 * (x - 0.5)
    return 1.0 - 0.667 * x * x * x / math.sqrt(2.0 * x - 1.0)


@njit(inline="always", **NJIT_OPTS)
def segment_length(vessel_d, particle_d, porosity):
    """Length of lumen (m) one particle fills in a column: its volume over the solid share of the lumen area."""
    return (2.0 / 3.0) * particle_d ** 3 / ((1.0 - porosity) * vessel_d * vessel_d)


@njit(inline="always", **NJIT_OPTS)
def plug_resistance_factor(vessel_d, particle_d, porosity):
    """Darcy resistance of a packed length over the Poiseuille resistance of the same open length (>= 1).

    Kozeny-Carman permeability ``k = d^2 e^3 / (180 (1 - e)^2)`` against the open
    lumen's ``D^2 / 32``.
    """
    e = porosity
    f = KOZENY_CONSTANT * vessel_d * vessel_d * (1.0 - e) * (1.0 - e) / (32.0 * particle_d * particle_d * e * e * e)
    return f if f > 1.0 else 1.0


@njit(**NJIT_OPTS)
def vessel_conductance(geo, load, v):
    """Arterial conductance resolved vessel ``v`` keeps with its load, m^3/(s Pa)."""
    return _loaded_vessel_conductance(geo.vessel_g0[v], geo.vessel_length[v], load.vessel_excess[v],
                                      load.vessel_layer_excess[v])


@njit(inline="always", **NJIT_OPTS)
def _loaded_vessel_conductance(g0, length, excess, layer_excess):
    return g0 / (1.0 + (excess + layer_excess) / length)


@njit(**NJIT_OPTS)
def load_vessel(geo, load, v, particle_d, wedge):
    """One particle joins vessel ``v``: a wedge in its mouth (``wedge``) or the top of its column.

    Updates ``load`` and returns the vessel's new conductance (m^3/(s Pa)); the caller puts it
    in the flow state. The rule is :func:`vessel_load_step` (which kernel loops call directly).
    """
    column, excess, layer, layer_excess, blocked, g = vessel_load_step(
        geo.vessel_diam[v], geo.vessel_length[v], geo.vessel_g0[v], geo.seal_porosity, load.vessel_column[v],
        load.vessel_excess[v], load.vessel_layer[v], load.vessel_layer_excess[v], particle_d, wedge)
    load.vessel_column[v] = column
    load.vessel_excess[v] = excess
    load.vessel_layer[v] = layer
    load.vessel_layer_excess[v] = layer_excess
    load.vessel_count[v] += 1
    if blocked:
        load.vessel_blocked[v] = 1
    return g


@njit(inline="always", **NJIT_OPTS)
def vessel_load_step(vessel_d, length, g0, seal_porosity, column, excess, layer, layer_excess, particle_d, wedge):
    """:func:`load_vessel` on one vessel's numbers: its lumen diameter, length (m) and open conductance, the
    seal porosity, and its load (packed length m, excess m, top layer's filled share, its excess m).

    Kernel loops call this form with the elements (an inline helper taking arrays pays an atomic
    reference count per array per call; docs/flow.md).

    Returns
    -------
    (float, float, float, float, bool, float)
        The new column, excess, layer and layer excess; whether the mouth is now closed (a
        wedge, or the column reached it); the new conductance, m^3/(s Pa).
    """
    e = column_porosity(vessel_d, particle_d, seal_porosity)
    dl = segment_length(vessel_d, particle_d, e)
    room = length - column
    if dl > room:
        dl = room if room > 0.0 else 0.0
    column += dl
    factor = plug_resistance_factor(vessel_d, particle_d, e)
    if vessel_d < SINGLE_FILE_RATIO * particle_d:  # a wedge or single file: every particle a complete plug
        excess += (factor - 1.0) * dl
    else:  # random packing in layers one particle thick
        f = layer + dl / particle_d
        while f >= 1.0:
            excess += (factor - 1.0) * particle_d
            f -= 1.0
        layer = f
        layer_excess = particle_d * (1.0 / (1.0 - f + f / factor) - 1.0)
    blocked = wedge or column >= length * (1.0 - 1e-12)
    return column, excess, layer, layer_excess, blocked, _loaded_vessel_conductance(g0, length, excess, layer_excess)


@njit(inline="always", **NJIT_OPTS)
def _generation_diameter(feed_d, k, g):
    return feed_d * 2.0 ** (-k / g)


@njit(inline="always", **NJIT_OPTS)
def _resistance_share(k, n_gen, g):
    """Share of a Murray bed's resistance in generation k (of ``ceil(n_gen)``)."""
    a = 2.0 ** (3.0 / g - 1.0)
    n = math.ceil(n_gen)
    total = float(n) if abs(a - 1.0) < 1e-12 else (a ** n - 1.0) / (a - 1.0)
    return a ** k / total


def bed_generations(feed_d, end_d, g):
    """Generations of Murray beds from feeders of diameter ``feed_d`` (m, array or scalar) to vessels of ``end_d``.

    ``g log2(feed / end)``, at least 1 (a feeder at or below the end size is one generation).
    """
    feed = np.asarray(feed_d, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = g * np.log2(np.where(feed > end_d, feed, end_d) / end_d)
    return np.maximum(n, 1.0)


@njit(**NJIT_OPTS)
def bed_conductance(geo, load, b):
    """Arterial conductance bed ``b`` keeps with its load, m^3/(s Pa)."""
    gen = load.bed_gen[b]
    if gen < 0:
        return geo.bed_g0[b]
    return _loaded_bed_conductance(geo.bed_g0[b], gen, geo.bed_n_gen[b], geo.murray_exponent,
                                   geo.bed_arteriole_share[b], load.bed_layer[b], load.bed_excess[b])


@njit(inline="always", **NJIT_OPTS)
def _loaded_bed_conductance(g0, gen, n_gen, murray_exponent, arteriole, layer, excess):
    share = arteriole * _resistance_share(gen, n_gen, murray_exponent)
    wedge_part = share * (1.0 / layer - 1.0) if layer > 0.0 else math.inf
    return g0 / (1.0 + wedge_part + excess)


@njit(**NJIT_OPTS)
def load_bed(geo, load, b, particle_d, fit_d):
    """One particle (diameter ``particle_d``, fits lumens down to ``fit_d``) lodges in bed ``b``.

    It wedges in one vessel of the first generation narrower than ``fit_d`` while
    that generation has open vessels, then packs the generations above it, the
    deepest first. Updates ``load`` and returns the bed's new conductance (m^3/(s Pa)).
    The rule is :func:`bed_load_step` (which kernel loops call directly).
    """
    gen, wedged, layer, front, excess, blocked, g = bed_load_step(
        geo.bed_feed_diam[b], geo.bed_n_gen[b], geo.bed_g0[b], geo.bed_arteriole_share[b], geo.murray_exponent,
        geo.bed_aspect, geo.seal_porosity, load.bed_gen[b], load.bed_wedged[b], load.bed_layer[b], load.bed_front[b],
        load.bed_excess[b], particle_d, fit_d)
    load.bed_gen[b] = gen
    load.bed_wedged[b] = wedged
    load.bed_layer[b] = layer
    load.bed_front[b] = front
    load.bed_excess[b] = excess
    load.bed_count[b] += 1
    if blocked:
        load.bed_blocked[b] = 1
    return g


@njit(inline="always", **NJIT_OPTS)
def bed_load_step(feed_d, n_gen, g0, arteriole, murray_exponent, aspect, seal_porosity, gen, wedged, layer, front,
                  excess, particle_d, fit_d):
    """:func:`load_bed` on one bed's numbers: its feeder diameter (m), generations, open conductance, the share of
    its resistance in its arterioles (``LoadGeometry.bed_arteriole_share``), the Murray exponent, vessel aspect and
    seal porosity, and its load (wedge generation, -1 before the first particle;
    wedged share; conductance share the wedge layer keeps; column front in generations; column excess).

    Kernel loops call this form with the elements (as :func:`vessel_load_step`).

    Returns
    -------
    (int, float, float, float, float, bool, float)
        The new wedge generation, wedged share, layer share, front and excess; whether the bed is
        now packed up to its feeder; the new conductance, m^3/(s Pa).
    """
    g = murray_exponent
    last = math.ceil(n_gen) - 1
    if gen < 0:
        gen = int(math.floor(g * math.log2(feed_d / fit_d))) + 1 if fit_d < feed_d else 0
        gen = min(max(gen, 0), last)
        front = float(gen)
    volume = math.pi / 6.0 * particle_d ** 3
    blocked = False
    if wedged < 1.0:
        vessel_d = _generation_diameter(feed_d, gen, g)
        length = aspect * vessel_d
        e = column_porosity(vessel_d, particle_d, seal_porosity)
        plug = min(segment_length(vessel_d, particle_d, e), length)
        factor = 1.0 + (plug_resistance_factor(vessel_d, particle_d, e) - 1.0) * plug / length
        share = min(2.0 ** (-gen), 1.0 - wedged)
        wedged += share
        layer -= share * (1.0 - 1.0 / factor)
        if layer < 0.0:
            layer = 0.0
        if wedged >= 1.0 - 1e-12:
            wedged = 1.0
            if gen == 0:
                blocked = True
        return gen, wedged, layer, front, excess, blocked, _loaded_bed_conductance(g0, gen, n_gen, g, arteriole, layer,
                                                                                   excess)
    # column phase: fill generation ceil(front) - 1 (the deepest not yet full), spilling upwards
    while volume > 0.0 and front > 0.0:
        k = math.ceil(front) - 1
        vessel_d = _generation_diameter(feed_d, k, g)
        e = column_porosity(vessel_d, particle_d, seal_porosity)
        capacity = (1.0 - e) * math.pi / 4.0 * vessel_d ** 3 * aspect * 2.0 ** k  # solid volume, m^3
        open_share = front - k  # share of generation k not yet packed
        take = min(volume, open_share * capacity)
        front -= take / capacity
        excess += arteriole * _resistance_share(k, n_gen, g) * (plug_resistance_factor(vessel_d, particle_d, e) - 1.0) \
            * take / capacity
        volume -= take
        if front <= k + 1e-12:
            front = float(k)
    if front <= 0.0:
        blocked = True
    return gen, wedged, layer, front, excess, blocked, _loaded_bed_conductance(g0, gen, n_gen, g, arteriole, layer, excess)


@njit(**NJIT_OPTS)
def apply_load(st, geo, load):
    """Set every loaded element's conductance in ``st`` (no refresh: re-eliminate with :func:`.twoport.solve`)."""
    m = geo.n_pedicle
    c = geo.n_compartment
    for v in range(load.vessel_count.shape[0]):
        if load.vessel_count[v] > 0:
            g = vessel_conductance(geo, load, v)
            if v < m:
                st.g_art[v] = g
            else:
                st.g_trunk[v - m] = g
    for b in range(load.bed_count.shape[0]):
        if load.bed_count[b] > 0:
            g = bed_conductance(geo, load, b)
            if b < c:
                st.g_comp[b, COMP_ART] = g
            else:
                st.g_trunk[b - c] = g


@njit(**NJIT_OPTS)
def conductance_fractions(geo, load):
    """Share of its open conductance every resolved vessel and every bed keeps (1 where unloaded).

    Returns
    -------
    (float64 (M + Et,), float64 (C + Et,))
    """
    vessel = np.ones(load.vessel_count.shape[0])
    for v in range(vessel.shape[0]):
        if load.vessel_count[v] > 0:
            vessel[v] = vessel_conductance(geo, load, v) / geo.vessel_g0[v]
    bed = np.ones(load.bed_count.shape[0])
    for b in range(bed.shape[0]):
        if load.bed_count[b] > 0:
            bed[b] = bed_conductance(geo, load, b) / geo.bed_g0[b]
    return vessel, bed


@njit(**NJIT_OPTS)
def write_vessel_conductance(st, geo, v, g):
    """Write resolved vessel ``v``'s arterial conductance into the flow state without refreshing the 2-ports.

    Returns the pedicle node whose path needs :func:`.twoport.refresh_path` (-1: a trunk vessel, which only
    needs the trunk re-solved).
    """
    return write_vessel_conductance_of(st.g_art, st.g_trunk, geo.n_pedicle, v, g)


@njit(**NJIT_OPTS)
def write_vessel_conductance_of(g_art, g_trunk, n_pedicle, v, g):
    """:func:`write_vessel_conductance` on the state's ``g_art`` and ``g_trunk`` (for kernel loops)."""
    if v < n_pedicle:
        g_art[v] = g
        return v
    g_trunk[v - n_pedicle] = g
    return -1


@njit(**NJIT_OPTS)
def write_bed_conductance(st, geo, b, g):
    """Write bed ``b``'s arterial conductance into the flow state without refreshing the 2-ports.

    Returns the pedicle node whose path needs :func:`.twoport.refresh_path` (-1: a trunk bed).
    """
    return write_bed_conductance_of(st.g_comp, st.g_trunk, st.comp_node, geo.n_compartment, b, g)


@njit(**NJIT_OPTS)
def write_bed_conductance_of(g_comp, g_trunk, comp_node, n_compartment, b, g):
    """:func:`write_bed_conductance` on the state's ``g_comp``, ``g_trunk`` and ``comp_node`` (for kernel loops)."""
    if b < n_compartment:
        g_comp[b, COMP_ART] = g
        return comp_node[b]
    g_trunk[b - n_compartment] = g
    return -1
