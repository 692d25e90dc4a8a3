"""The transport rules, once: exit choice, what happens at the chosen exit, where a route ends.

Both the exact per-particle kernel (:mod:`.transport`, flows on demand, loads
updated after every particle) and the fixed-field router (:mod:`.routing`,
tabulated exits) call these functions, so a particle makes the same decision in
both wherever they see the same field and the same blocked exits.

Rules
-----
* At a node, a particle that is back at an arterial root (after its first step)
  refluxes to the aorta (``NODE_AORTA``); where no flow leaves, it stays in
  suspension (``NODE_SUSPEND``); otherwise it chooses an exit (``NODE_CHOOSE``).
* The exit is drawn with probability proportional to its flow (raised to the
  release exponent at the first bifurcation of a central release), weighted down
  for branches narrow relative to the particle (:func:`size_weight`, above the
  onset ratio; Bushi et al. 2005); if no exit takes the particle, by flow alone.
* At the chosen exit (:func:`exit_action`): a blocked exit (wedged or packed up to
  its mouth) stops the particle at the end of the column of the vessel it is in
  (``ACT_STOP``; at the catheter tip, the vessel ahead of the catheter, ``TransportNet.tip_room``;
  when that is full the particle stays in suspension and the exact kernel stops the injection:
  packed to the tip); a non-target
  bed takes it out of the liver (``ACT_BED``); a compartment takes it into its
  microvasculature (``ACT_COMPARTMENT``); a vessel narrower than it fits
  (``(1 - deformability) x`` diameter) takes it as a wedge (``ACT_WEDGE``); any
  other vessel carries it on (``ACT_MOVE``).
"""

from __future__ import annotations

from numba import njit

from ._config import NJIT_OPTS

__all__ = ["size_weight", "choose", "node_action", "exit_action", "NODE_CHOOSE", "NODE_AORTA", "NODE_SUSPEND",
           "ACT_MOVE", "ACT_WEDGE", "ACT_STOP", "ACT_BED", "ACT_COMPARTMENT",
           "EXIT_VESSEL", "EXIT_BED", "EXIT_COMPARTMENT"]

#: What a particle does at a node.
NODE_CHOOSE, NODE_AORTA, NODE_SUSPEND = 0, 1, 2
#: What a particle does at its chosen exit.
ACT_MOVE, ACT_WEDGE, ACT_STOP, ACT_BED, ACT_COMPARTMENT = 0, 1, 2, 3, 4
#: Kinds of exit (a trunk or pedicle vessel, a lumped non-target bed, a compartment).
EXIT_VESSEL, EXIT_BED, EXIT_COMPARTMENT = 0, 1, 2
#: Relative margin of :func:`size_weight`'s test without division (2^-50: eight units of rounding; numerical).
_MARGIN = 2.0 ** -50


@njit(inline="always", **NJIT_OPTS)
def size_weight(particle_d, vessel_d, deformability, onset):
    """Weight (0-1) of a branch of diameter ``vessel_d`` for a particle of diameter ``particle_d``.

    1 up to the onset ratio (particle/branch), falling linearly to 0 at the ratio
    the particle cannot pass (``1 / (1 - deformability)``); ``onset <= 0`` disables.
    """
    if onset <= 0.0:
        return 1.0
    # a particle well below the onset needs no division (speed only, the same result): with both roundings'
    # relative errors (2^-53 each) bounded by the margin, d <= (1 - 2^-50) fl(onset v) gives fl(d / v) < onset
    if particle_d <= (1.0 - _MARGIN) * (onset * vessel_d):
        return 1.0
    ratio = particle_d / vessel_d
    if ratio <= onset:
        return 1.0
    fit = 1.0 / (1.0 - deformability)
    if ratio >= fit:
        return 0.0
    return (fit - ratio) / (fit - onset)


@njit(inline="always", **NJIT_OPTS)
def choose(weights, count, u):
    """Index in [0, count) drawn with probability proportional to ``weights`` (u uniform in [0, 1))."""
    total = 0.0
    for k in range(count):
        total += weights[k]
    target = u * total
    acc = 0.0
    for k in range(count):
        acc += weights[k]
        if target < acc:
            return k
    return count - 1


@njit(inline="always", **NJIT_OPTS)
def node_action(is_arterial_root, step, n_exits):
    """``NODE_AORTA`` back at an arterial root after the first step, ``NODE_SUSPEND`` with no exit, else choose."""
    if is_arterial_root and step > 0:
        return NODE_AORTA
    if n_exits == 0:
        return NODE_SUSPEND
    return NODE_CHOOSE


@njit(inline="always", **NJIT_OPTS)
def exit_action(exit_kind, exit_diam, exit_blocked, fit_d):
    """What a particle that fits lumens down to ``fit_d`` (m) does at its chosen exit (``ACT_*``).

    ``exit_diam`` is NaN or +inf where the lumen sets no limit.
    """
    if exit_blocked:
        return ACT_STOP
    if exit_kind == EXIT_BED:
        return ACT_BED
    if exit_kind == EXIT_COMPARTMENT:
        return ACT_COMPARTMENT
    if exit_diam < fit_d:
        return ACT_WEDGE
    return ACT_MOVE
