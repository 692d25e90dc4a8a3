"""What a run folder holds for figures and the explorer: ``run_state.npz`` (docs/outputs.md#run-state).

:func:`extract` reads a :class:`~sim.results.RunResult` (or a bare liver) once, with
the simulation modules, and returns flat arrays: the geometry of the drawn tree
(named and synthetic arteries at least ``SAVED_MIN_DIAMETER_UM`` wide, the named
veins and beds, segment outlines, tumours, the catheter), the per-vessel native
flows and pressures before and after, the particles lodged in or below each vessel,
where particles lodged, per-particle deposition read-outs, a sample of the
parenchyma with its expected necrosis, the peribiliary (bile duct) compartments
with their ischaemia, and the virtual angiogram as frames. :func:`save` writes them
compressed and versioned; :func:`read` loads them with numpy alone (no simulation
module, no matplotlib) and refuses a format version it cannot read. A Y-90 run adds its
per-compartment doses, masses and MAA deposition (``sirt/``) and each sampled point's dose.

Positions are in mm (x to the patient's left, y posterior, z cranial), flows in
mL/min, pressures in mmHg, diameters in um (vessels) or mm (named vessels).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .io import atomic_write
from .scenario import ScenarioError

__all__ = ["ANGIOGRAM_FRAME_RATE_HZ", "FILE", "FORMAT_VERSION", "PARENCHYMA_POINTS", "READABLE_VERSIONS", "RERUN_HINT",
           "SAVED_MIN_DIAMETER_UM", "TIMESERIES_COLUMNS",
           "RunStateError", "extract", "read", "save"]

#: Version of the layout of ``run_state.npz`` written; 2 added the ``sirt/`` arrays and ``parenchyma/dose_gy`` of
#: Y-90 runs (docs/outputs.md#run-state).
FORMAT_VERSION = 2
#: Versions :func:`read` loads (a version 1 folder has everything but the SIRT arrays); another is refused
#: (``embosim plot --rerun``).
READABLE_VERSIONS = (1, 2)
#: What a refused run folder's message says to do, for the command line and for Python alike.
RERUN_HINT = "run the scenario again, or pass --rerun (rerun=True in Python) to re-run its scenario.json"
#: File name in the run folder.
FILE = "run_state.npz"
#: Columns of a run folder's ``timeseries.csv``: one row per recorded point of the procedure (docs/outputs.md).
TIMESERIES_COLUMNS = ("particles", "agent", "suspension_volume_ml", "particle_volume_ml", "antegrade_flow_fraction",
                      "sace_level", "clearance_time_cycles", "tumour_blush_fraction", "territory_blush_fraction",
                      "reflux_fraction", "particles_lodged", "particles_nontarget")
#: What a damaged or truncated npz raises while it is read (numpy passes the zip and zlib errors through).
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)
#: Narrowest synthetic artery saved, um (the tree figures draw from 300 um by default; a
#: lower ``min_diameter_um`` down to this works from the folder). About 1.5e4 vessels on the default liver.
SAVED_MIN_DIAMETER_UM = 150.0
#: Frames of the virtual angiogram saved per second up to ``ANGIOGRAM_FAST_AFTER_S`` after the
#: capillary peak, Hz: the 2-4 frames/s of a hepatic DSA run; then one frame every
#: ``ANGIOGRAM_SLOW_STEP_S`` through the slow venous washout (model assumption: variable frame rate,
#: as DSA protocols lower it in late phases); the phase times are saved as frames too.
ANGIOGRAM_FRAME_RATE_HZ = 2.0
ANGIOGRAM_FAST_AFTER_S = 2.0
ANGIOGRAM_SLOW_STEP_S = 2.0
#: Angiogram frames run to this long after the venous phase, s.
ANGIOGRAM_TAIL_S = 3.0
#: Tissue points sampled for parenchyma maps (a deterministic, evenly strided subsample).
PARENCHYMA_POINTS = 30_000
#: Tissue points used for each segment's outline (convex hull in AP projection).
_HULL_POINTS = 20_000
_MM = 1e3


class RunStateError(ScenarioError):
    """A run folder without a readable ``run_state.npz`` of this format version (exit status 2)."""


# ---------------------------------------------------------------------------
# extraction (imports the simulation modules)


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _f16(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float16)


def _strings(values) -> np.ndarray:
    return np.asarray([str(v) for v in values], dtype=np.str_)


def extract(source) -> dict[str, np.ndarray]:
    """The arrays of ``run_state.npz`` for a run or a bare liver.

    Parameters
    ----------
    source : RunResult or Liver
        A liver gives the geometry and the baseline only (``meta["has_run"]`` false).

    Returns
    -------
    dict of str to ndarray
        Keys and units in docs/outputs.md#run-state; ``"meta"`` is a JSON string.
    """
    from .angiography import arterial_network, baseline_flow, final_flow, run_liver, solved_state, start_flow

    result = source if hasattr(source, "summary") else None
    liver = run_liver(result) if result is not None else source
    flow = baseline_flow(liver) if result is None else start_flow(result, liver)  # a later session: the earlier load in
    final = final_flow(result) if result is not None else None
    net = arterial_network(flow.liver)
    native = {"baseline": solved_state(flow, 0.0)}
    if final is not None:
        native["final"] = solved_state(final, 0.0)
    scenario = liver.scenario if result is None else result.scenario
    saved = np.flatnonzero(net.vessel_diameter_m >= SAVED_MIN_DIAMETER_UM * 1e-6)
    out: dict[str, np.ndarray] = {}
    out |= _vessels(flow, net, native, saved, result)
    out |= _trunk(flow, native)
    out |= _outlines(liver, flow)
    out |= _parenchyma(liver, flow, result)
    meta = {
        "format_version": FORMAT_VERSION, "has_run": result is not None, "title": scenario.title,
        "catheter_vessel": flow.catheter.vessel, "catheter_outer_diameter_fr": scenario.catheter.outer_diameter_fr,
        "portal_thrombosis": scenario.portal.thrombosis,
        "saved_min_diameter_um": SAVED_MIN_DIAMETER_UM,
        "sace_bounds": [1.0, 1 - scenario.procedure.slowed_flow_reduction,
                        1 - scenario.procedure.sluggish_flow_reduction, 1 - scenario.procedure.stasis_flow_reduction,
                        0.0],
    }
    if result is not None:
        out |= _lodging(flow, result, net, saved)
    angio, meta["angiogram"] = _angiogram(flow, final)
    out |= angio
    import sim

    meta["embosim_version"] = sim.__version__
    meta["arrays"] = sorted(out)  # what a complete file holds (read() refuses one that lacks any)
    out["meta"] = np.asarray(json.dumps(meta))
    return out


def _vessels(flow, net, native, saved, result) -> dict[str, np.ndarray]:
    """Arteries at least ``SAVED_MIN_DIAMETER_UM`` wide: ends, diameter, flows, pressures, particles below."""
    from .units import ML_MIN_M3S, MMHG_PA

    out = {"vessel/up_mm": _f32(net.xyz[net.vessel_up[saved]] * _MM),
           "vessel/down_mm": _f32(net.xyz[net.vessel_down[saved]] * _MM),
           "vessel/diameter_um": _f32(net.vessel_diameter_m[saved] * 1e6),
           "vessel/trunk_edge": np.concatenate([net.trunk_vessels, np.full(net.pedicle_vessels.size, -1)]
                                               )[saved].astype(np.int16)}
    for key, state in native.items():
        out[f"vessel/flow_{key}_ml_min"] = _f32(net.vessel_flows(state)[saved] / ML_MIN_M3S)
        p = net.node_pressures(state) + flow.liver.hepatic_vein_pressure_pa
        out[f"vessel/pressure_{key}_mmhg"] = _f32(0.5 * (p[net.vessel_up] + p[net.vessel_down])[saved] / MMHG_PA)
    if result is not None:
        out["vessel/particles_below"] = _particles_below(flow, net, result.state)[saved].astype(np.int32)
    return out


def _particles_below(flow, net, st) -> np.ndarray:
    """Particles lodged in each arterial vessel or anywhere downstream of it (count), shape (V,)."""
    from .kernels.treewalk import subtree_sums

    forest, trunk = flow.liver.forest, flow.liver.trunk
    own = st["lodged_pedicle"].astype(np.float64)
    np.add.at(own, flow.liver.compartments.node, st["lodged_compartment"])
    below = np.empty_like(own)
    subtree_sums(np.asarray(forest.parent, np.int64), own, below)
    at_node = np.zeros(trunk.n_nodes)
    at_node[forest.root_trunk_art] = below[forest.root_nodes]
    edges = net.trunk_vessels
    conns = trunk.edge_conns
    count: dict[int, float] = {}

    def downstream(e: int) -> float:  # the arterial trunk is a small DAG in the baseline direction
        if e not in count:
            end = conns[e, 1]
            count[e] = st["lodged_trunk"][e] + at_node[end] + sum(downstream(f) for f in edges if conns[f, 0] == end)
        return count[e]

    return np.concatenate([[downstream(e) for e in edges], below[net.pedicle_vessels]])


def _trunk(flow, native) -> dict[str, np.ndarray]:
    """The named vessels (arteries, portal veins, lumped beds) and their nodes."""
    from .units import ML_MIN_M3S

    trunk = flow.liver.trunk
    conns = np.asarray(trunk.edge_conns)
    out = {"trunk/edge_name": _strings(trunk.edge_names), "trunk/edge_kind": trunk.edge_kind.astype(np.int8),
           "trunk/edge_up_mm": _f32(trunk.node_xyz[conns[:, 0]] * _MM),
           "trunk/edge_down_mm": _f32(trunk.node_xyz[conns[:, 1]] * _MM),
           "trunk/edge_diameter_mm": _f32(2 * trunk.edge_radius_m * _MM),
           "trunk/node_name": _strings(trunk.node_names), "trunk/node_mm": _f32(trunk.node_xyz * _MM)}
    for key, state in native.items():
        out[f"trunk/edge_flow_{key}_ml_min"] = _f32(state.trunk_q / ML_MIN_M3S)
    return out


def _outlines(liver, flow) -> dict[str, np.ndarray]:
    """Couinaud segment outlines (AP convex hulls), tumours, the catheter's course, path and tip."""
    from scipy.spatial import ConvexHull

    from .fluoroscopy import catheter_path

    points = liver.compiled.points
    hulls, starts = [], [0]
    for s in range(8):
        xz = points.xyz[points.segment == s][:, [0, 2]] * _MM
        if xz.shape[0] >= 3:
            xz = xz[:: max(1, xz.shape[0] // _HULL_POINTS)]
            hulls.append(xz[ConvexHull(xz).vertices])
        else:
            hulls.append(np.zeros((0, 2)))
        starts.append(starts[-1] + hulls[-1].shape[0])
    tumours = liver.tumours
    placement = flow.catheter
    trunk, forest = flow.liver.trunk, flow.liver.forest
    course = [trunk.node_xyz[trunk.edge_conns[e]] for e in placement.narrowed_trunk]
    course += [forest.xyz[[forest.parent[n], n]] for n in placement.narrowed_pedicle]
    tip = trunk.node_xyz[placement.tip_trunk_node] if placement.tip_trunk_node >= 0 else \
        forest.xyz[placement.tip_pedicle_node]
    return {"segment/outline_mm": _f32(np.vstack(hulls)), "segment/outline_start": np.asarray(starts, np.int64),
            "tumour/name": _strings(tumours.names), "tumour/centre_mm": _f32(np.reshape(tumours.centre_m, (-1, 3)) * _MM),
            "tumour/radius_mm": _f32(np.asarray(tumours.radius_m) * _MM),
            "catheter/course_mm": _f32(np.reshape(course, (-1, 2, 3)) * _MM), "catheter/tip_mm": _f32(tip * _MM),
            "catheter/path_mm": _f32(catheter_path(flow) * _MM)}


def _parenchyma(liver, flow, result) -> dict[str, np.ndarray]:
    """A strided sample of tissue points (segment, tumour) and, after a run, the expected necrosis there;
    the peribiliary compartments on saved vessels and whether they are ischaemic."""
    from .lipiodol import session_permanent
    from .outcomes import compartment_necrosis

    points = liver.compiled.points
    comps = flow.liver.compartments
    forest = flow.liver.forest
    pick = np.arange(0, points.xyz.shape[0], max(1, points.xyz.shape[0] // PARENCHYMA_POINTS))
    out = {"parenchyma/xyz_mm": _f32(points.xyz[pick] * _MM), "parenchyma/segment": points.segment[pick].astype(np.int8),
           "parenchyma/tumour": (points.tumour_id[pick] >= 0)}
    biliary = np.flatnonzero((comps.kind == 1) & (2 * forest.art_radius_m[comps.node] >= SAVED_MIN_DIAMETER_UM * 1e-6))
    out["biliary/xyz_mm"] = _f32(forest.xyz[comps.node[biliary]] * _MM)
    if result is None:
        return out
    st, cfg = result.state, result.scenario.outcomes
    tumour, normal = compartment_necrosis(st["compartment_flow_healthy_m3s"], st["compartment_flow_baseline_m3s"],
                                          st["compartment_flow_final_m3s"], cfg,
                                          permanent=session_permanent(result.scenario))
    comp = points.compartment[pick]
    out["parenchyma/necrosis"] = _f32(np.where(out["parenchyma/tumour"], tumour[comp], normal[comp]))
    if "lipiodol_sinusoid_fill" in st:  # cTACE: the oil in each point's sinusoids and portal venules
        out["parenchyma/lipiodol_sinusoid"] = _f16(st["lipiodol_sinusoid_fill"][comp])
        out["parenchyma/lipiodol_portal"] = _f16(st["lipiodol_portal_fill"][comp])
    if "sirt" in st:  # Y-90: dose of each sampled point, and the per-compartment doses and MAA deposition
        out |= _sirt(st["sirt"], comp, out["parenchyma/tumour"])
    art = st["compartment_flow_final_m3s"][:, 0]
    healthy = st["compartment_flow_healthy_m3s"][:, 0]
    ratio = np.divide(art, healthy, out=np.ones_like(art), where=healthy > 0)[biliary]
    out["biliary/ischaemic"] = ratio < cfg.ischaemia_oxygen_fraction
    return out


def _sirt(sirt: dict, comp: np.ndarray, in_tumour: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of a Y-90 run (:func:`sim.sirt_compare.sirt_comparison`): per compartment, and per sampled point."""
    out = {"sirt/tumour_dose_gy": _f32(sirt["tumour_dose_gy"]), "sirt/normal_dose_gy": _f32(sirt["normal_dose_gy"]),
           "sirt/tumour_mass_g": _f32(sirt["tumour_mass_kg"] * 1e3),
           "sirt/normal_mass_g": _f32(sirt["normal_mass_kg"] * 1e3), "sirt/perfused": np.asarray(sirt["perfused"], bool),
           "sirt/segment": np.asarray(sirt["segment"], np.int8), "sirt/maa_tumour": _f32(sirt["maa_tumour"]),
           "sirt/maa_normal": _f32(sirt["maa_normal"]), "sirt/maa_lung": np.asarray(float(sirt["maa_lung"]))}
    out["parenchyma/dose_gy"] = _f32(np.where(in_tumour, sirt["tumour_dose_gy"][comp], sirt["normal_dose_gy"][comp]))
    return out


def _lodging(flow, result, net, saved) -> dict[str, np.ndarray]:
    """Where particles lodged (positions with counts), per-particle deposition read-outs, the load per vessel."""
    from .agents import agent_from_config
    from .kernels import transport as tk
    from .outcomes import lodging_generations, trunk_tumour_share, tumour_share_of_lodgings
    from .procedure import transport_net

    st = result.state
    liver = flow.liver
    forest = liver.forest
    per_node = st["lodged_pedicle"].astype(np.int64).copy()
    np.add.at(per_node, liver.compartments.node, st["lodged_compartment"])
    sites = np.flatnonzero(per_node > 0)
    fate, where, diameter = st["particle_fate"], st["particle_where"], st["particle_diameter_m"]
    tnet, sink_names = transport_net(liver, flow.state, flow.catheter, result.scenario,
                                     agent_from_config(result.scenario.agent))
    generation = lodging_generations(fate, where, diameter, forest.generation, liver.compartments.node,
                                     tnet.comp_feed_diam, tnet.murray_exponent, tnet.deformability)
    node_share, comp_share = tumour_share_of_lodgings(liver.compartments, np.asarray(forest.parent, np.int64))
    in_vessel, in_comp, in_trunk = (fate == tk.FATE_VESSEL), (fate == tk.FATE_COMPARTMENT), (fate == tk.FATE_TRUNK)
    kept = np.concatenate([np.ones(net.trunk_vessels.size), st["load"]["pedicle_conductance_fraction"][
        net.pedicle_vessels]])
    for name, fraction in st["load"]["trunk_conductance_fraction"].items():
        e = liver.trunk.edge_names.index(name)
        kept[np.flatnonzero(net.trunk_vessels == e)] = fraction
    return {
        "lodged/xyz_mm": _f32(forest.xyz[sites] * _MM), "lodged/count": per_node[sites].astype(np.int32),
        # per particle (there may be 1e6 of small ones): half precision, 0.1% (diameter: 0.1 um at 100 um)
        # named (trunk) vessels with the tumour share of the tissue they feed, as in the summary's tumour particle fraction
        "deposition/generation": _f16(np.concatenate([generation, liver.trunk.edge_generation[where[in_trunk]]])),
        "deposition/tumour_share": _f16(np.concatenate([node_share[where[in_vessel]], comp_share[where[in_comp]],
                                                        trunk_tumour_share(liver)[where[in_trunk]]])),
        "deposition/diameter_um": _f16(np.concatenate([diameter[in_vessel], diameter[in_comp], diameter[in_trunk]])
                                       * 1e6),
        "deposition/nontarget_diameter_um": _f16(diameter[fate == tk.FATE_NONTARGET] * 1e6),
        "deposition/nontarget_branch": _strings(sink_names[k] for k in where[fate == tk.FATE_NONTARGET]),
        "deposition/suspended_diameter_um": _f16(diameter[fate == tk.FATE_SUSPENDED] * 1e6),
        "vessel/conductance_kept": _f32(kept[saved]),
    }


def _angiogram(flow, final) -> tuple[dict[str, np.ndarray], dict]:
    """Frames (display opacity 0-255, uint8) of the virtual DSA before and after, on one clock; and its metadata."""
    from .angiography import compare_angiograms, opacity, phase_times

    flows = [flow] if final is None else [flow, final]
    angios = compare_angiograms(flows)
    phases = phase_times(angios[0])
    slow = phases["capillary"] + ANGIOGRAM_FAST_AFTER_S
    times = np.unique(np.concatenate([np.arange(0.0, slow, 1.0 / ANGIOGRAM_FRAME_RATE_HZ),
                                      np.arange(slow, phases["venous"] + ANGIOGRAM_TAIL_S, ANGIOGRAM_SLOW_STEP_S),
                                      list(phases.values())]))
    out = {"angiogram/times_s": times}
    for key, angio in zip(("before", "after"), angios):
        out[f"angiogram/{key}"] = np.round(255 * opacity(angio.frames(times))).astype(np.uint8)
    view, injection = angios[0].view, angios[0].transit.injection
    left, right, bottom, top = view.extent
    meta = {"phases_s": phases, "extent_mm": [left * _MM, right * _MM, bottom * _MM, top * _MM],
            "pixel_mm": view.pixel_m * _MM, "rate_ml_s": injection.rate_m3s * 1e6,
            "rates_ml_s": {key: a.transit.injection.rate_m3s * 1e6 for key, a in zip(("before", "after"), angios)},
            "duration_s": injection.duration_s, "frame_rate_hz": ANGIOGRAM_FRAME_RATE_HZ,
            "slow_step_s": ANGIOGRAM_SLOW_STEP_S}
    return out, meta


# ---------------------------------------------------------------------------
# the file


def save(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` (compressed npz), atomically."""
    path = Path(path)
    with atomic_write(path) as tmp, open(tmp, "wb") as handle:  # a handle: numpy would append .npz to the name
        np.savez_compressed(handle, **arrays)
    return path


def read(run_dir: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and metadata of ``run_dir/run_state.npz`` (numpy only).

    Raises
    ------
    RunStateError
        No readable file (missing, damaged or truncated, an array the file lists missing), or another
        ``FORMAT_VERSION``.
    """
    path = Path(run_dir) / FILE
    try:
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as data:  # the file closed on a damaged zip
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except _UNREADABLE as exc:
        raise RunStateError(f"no readable {FILE} ({exc.__class__.__name__}): damaged or truncated, written by an "
                            f"embosim before format {FORMAT_VERSION}, or not a run folder; {RERUN_HINT}",
                            source=str(run_dir)) from None
    version = meta.get("format_version")
    if version not in READABLE_VERSIONS:
        raise RunStateError(f"{FILE} has format version {version}; this embosim reads versions "
                            f"{', '.join(map(str, READABLE_VERSIONS))}: {RERUN_HINT}", source=str(run_dir))
    missing = sorted(set(meta.get("arrays", ())) - set(arrays))
    if missing:
        raise RunStateError(f"{FILE} is damaged: {len(missing)} of its arrays missing ({', '.join(missing[:3])}"
                            f"{', ...' if len(missing) > 3 else ''}); {RERUN_HINT}", source=str(run_dir))
    return arrays, meta
