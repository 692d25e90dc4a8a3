"""Named vessels, Michels variants, boundary nodes and anatomy-level input errors."""

from __future__ import annotations

import numpy as np
import pytest

from sim.anatomy import build_liver
from sim.anatomy.trunk import VESSELS, arterial_parents
from sim.network import EDGE_LUMPED, TRUNK_NODE_RESERVOIR
from sim.scenario import AnatomyConfig, Scenario, ScenarioError
from sim.units import mmhg_to_pa

COARSE = {"liver.terminal_diameter_um": 400.0}
COMMON = {"coeliac", "CHA", "GDA", "PHA", "RGA", "cystic", "right_anterior", "right_posterior", "SMA", "LGA",
          *(f"A{k}" for k in range(1, 9)), "MPV", "RPV", "LPV", *(f"P{k}" for k in range(1, 9))}
#: Michels type -> (named arteries that must exist, names that must not).
MICHELS = {
    "I": ({"RHA", "LHA"}, {"replaced_RHA", "replaced_LHA", "accessory_RHA", "accessory_LHA"}),
    "II": ({"RHA", "replaced_LHA"}, {"LHA", "replaced_RHA"}),
    "III": ({"replaced_RHA", "LHA"}, {"RHA", "replaced_LHA"}),
    "IV": ({"replaced_RHA", "replaced_LHA"}, {"RHA", "LHA"}),
    "V": ({"RHA", "LHA", "accessory_LHA"}, {"replaced_LHA", "replaced_RHA"}),
    "VI": ({"RHA", "LHA", "accessory_RHA"}, {"replaced_LHA", "replaced_RHA"}),
}


def _parent_vessel(trunk, name: str) -> str:
    up = trunk.edge_conns[trunk.edge_index(name), 0]
    return trunk.edge_names[int(np.flatnonzero(trunk.edge_conns[:, 1] == up)[0])]


@pytest.fixture(scope="module")
def livers():
    out = {}
    for michels in MICHELS:
        catheter = {"II": "replaced_LHA", "III": "replaced_RHA", "IV": "replaced_RHA"}.get(michels, "A5")
        out[michels] = build_liver(Scenario().with_updates(
            {**COARSE, "anatomy.michels_type": michels, "catheter.vessel": catheter}))
    return out


@pytest.mark.parametrize("michels", sorted(MICHELS))
def test_named_vessels_of_every_michels_type(livers, michels):
    names = set(livers[michels].vessels)
    present, absent = MICHELS[michels]
    assert COMMON | present <= names
    assert not names & absent


def test_michels_transforms_reroute_the_territories(livers):
    t = {m: livers[m].compiled.trunk for m in livers}
    assert _parent_vessel(t["II"], "replaced_LHA") == "LGA" and _parent_vessel(t["II"], "A2") == "replaced_LHA"
    assert _parent_vessel(t["III"], "replaced_RHA") == "SMA" and _parent_vessel(t["III"], "A5") == "right_anterior"
    assert _parent_vessel(t["III"], "right_anterior") == "replaced_RHA"
    assert _parent_vessel(t["V"], "A2") == "accessory_LHA" and _parent_vessel(t["V"], "A3") == "LHA"
    assert _parent_vessel(t["V"], "accessory_LHA") == "LGA"
    assert _parent_vessel(t["VI"], "right_posterior") == "accessory_RHA"
    assert _parent_vessel(t["VI"], "accessory_RHA") == "SMA" and _parent_vessel(t["VI"], "right_anterior") == "RHA"


def test_segment4_origin_and_falciform():
    parents = arterial_parents(AnatomyConfig(segment4_artery_origin="RHA", falciform_artery=True))
    assert parents["A4"] == "RHA" and parents["falciform"] == "A4"
    assert "falciform" not in arterial_parents(AnatomyConfig())
    assert arterial_parents(AnatomyConfig(michels_type="III", segment4_artery_origin="RHA"))["A4"] == "replaced_RHA"


def test_generations_count_from_the_pha_and_match_between_trees(livers):
    for liver in livers.values():
        trunk = liver.compiled.trunk
        gen = dict(zip(trunk.edge_names, trunk.edge_generation.tolist()))
        for k in range(1, 9):
            assert gen[f"A{k}"] == gen[f"P{k}"] == (3 if k >= 5 else 2)
        assert gen["MPV"] == 0 and gen["GDA"] == -1 and gen["coeliac"] == -1
    assert dict(zip(livers["I"].compiled.trunk.edge_names, livers["I"].compiled.trunk.edge_generation))["PHA"] == 0


def test_boundary_nodes_and_beds(livers):
    liver = livers["I"]
    trunk, flow = liver.compiled.trunk, liver.scenario.flow
    p = dict(zip(trunk.node_names, trunk.node_pressure_pa))
    assert p["coeliac_origin"] == p["SMA_origin"] == mmhg_to_pa(flow.arterial_pressure_mmHg)
    assert p["MPV_inlet"] == mmhg_to_pa(flow.portal_pressure_mmHg)
    assert p["systemic_veins"] == mmhg_to_pa(flow.systemic_venous_pressure_mmHg)
    assert liver.compiled.hepatic_vein_pressure_pa == mmhg_to_pa(flow.hepatic_vein_pressure_mmHg)
    beds = {trunk.edge_names[e] for e in np.flatnonzero(trunk.edge_kind == EDGE_LUMPED)}
    assert beds == {"GDA_bed", "RGA_bed", "cystic_bed", "LGA_bed", "SMA_bed", "splenic_bed"}
    for bed in beds:  # Murray demand of the literature diameter: the vessel keeps that diameter
        vessel = bed.removesuffix("_bed")
        q = trunk.edge_demand_m3s[trunk.edge_index(bed)]
        assert q > 0
        assert liver.art_sizing.radius(q) == pytest.approx(0.5e-3 * VESSELS[vessel].diameter_mm, rel=1e-12)
        assert trunk.edge_radius_m[trunk.edge_index(vessel)] == pytest.approx(0.5e-3 * VESSELS[vessel].diameter_mm)
    assert np.isnan(trunk.edge_radius_m[trunk.edge_kind == EDGE_LUMPED]).all()
    ok = trunk.edge_kind != EDGE_LUMPED
    assert (trunk.edge_length_m[ok] >= 2 * trunk.edge_radius_m[ok]).all()


def test_anchors(livers):
    liver = livers["I"]
    trunk = liver.compiled.trunk
    # [TextbookAnatomy]: PHA 4.5 mm for the total hepatic arterial demand
    assert liver.art_sizing.r_ref_m == pytest.approx(2.25e-3)
    assert 4.0e-3 < 2 * trunk.edge_radius_m[liver.vessels["PHA"]] < 5.0e-3
    assert 2 * trunk.edge_radius_m[liver.vessels["MPV"]] == pytest.approx(11e-3, rel=1e-6)


def test_extrahepatic_feeder_is_a_reservoir_at_arterial_pressure():
    s = Scenario().with_updates({**COARSE, "tumours.0.extrahepatic": {"artery": "inferior_phrenic",
                                                                       "arterial_fraction": 0.3}})
    liver = build_liver(s)
    trunk, comp = liver.compiled.trunk, liver.compiled.compartments
    node = trunk.node_index("extrahepatic_tumour")
    assert trunk.node_kind[node] == TRUNK_NODE_RESERVOIR
    assert trunk.node_pressure_pa[node] == mmhg_to_pa(s.flow.arterial_pressure_mmHg)
    fed = comp.demand_extra_m3s > 0
    assert fed.any() and (comp.extra_trunk_node[fed] == node).all() and (comp.extra_trunk_node[~fed] == -1).all()
    perf = liver.perfusion  # region 1: the tumour's viable part
    share = perf.extra[1] / (perf.extra[1] + perf.art[1])
    assert share == pytest.approx(s.tumours[0].extrahepatic.arterial_fraction)
    assert comp.demand_extra_m3s.sum() == pytest.approx(perf.extra[1] * comp.tumour_volume_m3.sum(), rel=1e-12)


def test_catheter_on_a_vessel_absent_in_this_anatomy():
    with pytest.raises(ScenarioError) as err:
        build_liver(Scenario().with_updates({**COARSE, "catheter.vessel": "replaced_RHA"}))
    assert err.value.path == "catheter.vessel" and "replaced_RHA" in str(err.value)
    with pytest.raises(ScenarioError, match="#999999"):
        build_liver(Scenario().with_updates({**COARSE, "catheter.vessel": "#999999"}))


def test_synthetic_vessel_ids(livers):
    liver = livers["I"]
    forest = liver.compiled.forest
    n = int(np.flatnonzero(forest.parent >= 0)[5])
    assert liver.vessel(f"#{n}") == ("pedicle", n)
    assert liver.vessel("A5") == ("trunk", liver.compiled.trunk.edge_index("A5"))
    with pytest.raises(KeyError):
        liver.vessel(f"#{int(forest.root_nodes[0])}")  # a root has no incoming vessel


def test_tumour_centre_outside_the_liver():
    with pytest.raises(ScenarioError) as err:  # at load time, before any build
        Scenario().with_updates({**COARSE, "tumours.0.centre_mm": (200.0, 0.0, 0.0)})
    assert err.value.path == "tumours.0.centre_mm" and "outside the liver" in str(err.value)


def test_tumour_centre_outside_its_segment():
    liver = build_liver(Scenario().with_updates(COARSE))
    centre_mm = tuple(1e3 * liver.tumours.centre_m[0])  # placed in segment V
    with pytest.raises(ScenarioError) as err:  # with_updates marks every field as given, segment V included
        build_liver(Scenario().with_updates({**COARSE, "tumours.0.centre_mm": centre_mm, "tumours.0.segment": "VII"}))
    assert err.value.path == "tumours.0.segment" and "segment V" in str(err.value)
    moved = build_liver(Scenario().with_updates({**COARSE, "tumours.0.centre_mm": centre_mm}))
    np.testing.assert_allclose(moved.tumours.centre_m[0], liver.tumours.centre_m[0])
