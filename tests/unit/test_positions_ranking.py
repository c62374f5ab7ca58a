"""Positions in the recommendation: great-circle distance, fresh and stale fixes, the gazetteer,
and the resource directory ranking exactly like `gateway.triage.recommend` with a scene."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.directory import ResourceDirectory
from gateway.domain.models import Endpoint, Position, Resource
from gateway.domain.states import Priority, UnitStatus
from gateway.errors import ConfigError
from gateway.policies.geo import describe_age, describe_distance, distance_m, find_place
from gateway.settings import load_settings
from gateway.settings_positions import Place
from gateway.triage import Scene, recommend

NOW = 1_764_648_000.0
SCENE = Scene(51.5, -0.12, NOW, max_age=300)


def unit(rid: str, at: tuple[float, float, float] | None, **kw: object) -> Resource:
    fix = Position(at[0], at[1], at[2], "radio") if at else None
    return Resource(
        id=rid,
        name=rid,
        capabilities=list(kw.get("caps", ["fire"])),  # type: ignore[call-overload]
        contact_plan=[Endpoint("radio", rid)],
        status=kw.get("status", UnitStatus.AVAILABLE),  # type: ignore[arg-type]
        position=fix,
    )


def test_haversine_against_known_distances():
    # London to Paris (51.5074 N 0.1278 W to 48.8566 N 2.3522 E): 343.5 km on the mean sphere
    assert distance_m(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343_560, rel=1e-3)
    assert distance_m(0, 0, 0, 180) == pytest.approx(20_015_115, rel=1e-6)  # half the equator
    assert distance_m(10, 20, 10, 20) == 0.0
    assert distance_m(0, 179.9, 0, -179.9) == pytest.approx(22_239, rel=1e-3)  # across the antimeridian


def test_distances_and_ages_read_as_the_desk_says_them():
    assert [describe_distance(m) for m in (0, 844, 1449, 9_960, 23_400)] == [
        "0 m",
        "840 m",
        "1.4 km",
        "10.0 km",
        "23 km",
    ]
    assert [describe_age(s) for s in (-3, 40, 119, 720, 10_800)] == ["0 s", "40 s", "119 s", "12 min", "3 h"]


def test_nearest_fresh_first_then_stale_by_distance_then_unlocated():
    units = [
        unit("FAR", (51.6, -0.12, NOW - 10)),
        unit("NEAR", (51.51, -0.12, NOW - 40)),
        unit("STALE-NEAR", (51.501, -0.12, NOW - 900)),
        unit("STALE-FAR", (51.55, -0.12, NOW - 900)),
        unit("NOWHERE", None),
        unit("BUSY-NEAR", (51.5, -0.12, NOW), status=UnitStatus.ON_SCENE),  # status still comes first
    ]
    recs = recommend(units, capabilities=["fire"], priority=Priority.P1, count=6, scene=SCENE)
    assert [r.resource_id for r in recs] == ["NEAR", "FAR", "STALE-NEAR", "STALE-FAR", "NOWHERE", "BUSY-NEAR"]
    assert (
        recs[0].rationale == "NEAR: available, has fire; 1.1 km, position 40 s old; 1 endpoint on 1 channel"
    )
    assert recs[2].rationale.startswith("STALE-NEAR: available, has fire; 110 m, position 15 min old, stale;")
    assert recs[4].rationale == "NOWHERE: available, has fire; no position; 1 endpoint on 1 channel"
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    # Without the incident's coordinates, positions change nothing (rank by status, channels, id).
    plain = recommend(units, capabilities=["fire"], priority=Priority.P1, count=6)
    assert [r.resource_id for r in plain] == [
        "FAR",
        "NEAR",
        "NOWHERE",
        "STALE-FAR",
        "STALE-NEAR",
        "BUSY-NEAR",
    ]
    assert "position" not in plain[0].rationale


def test_the_directory_keeps_the_newest_fix():
    d = ResourceDirectory([unit("ENG-1", (51.5, -0.1, NOW - 60))])
    assert d.set_position("ENG-1", Position(51.6, -0.1, NOW, "aprs"))
    assert not d.set_position("ENG-1", Position(51.7, -0.1, NOW - 30, "radio"))  # older: a late copy
    assert not d.set_position("NOBODY", Position(0, 0, NOW, "radio"))
    # A status change committed with the fix its transaction read does not put the old one back.
    stale_copy = unit("ENG-1", (51.5, -0.1, NOW - 60), status=UnitStatus.EN_ROUTE)
    d.put(stale_copy)
    got = d.get("ENG-1")
    assert got is not None and got.status is UnitStatus.EN_ROUTE
    assert got.position == Position(51.6, -0.1, NOW, "aprs")


fixes = st.one_of(
    st.none(),
    st.tuples(st.floats(51.3, 51.7), st.floats(-0.4, 0.2), st.floats(NOW - 1000, NOW + 10)),
)
units_strategy = st.lists(
    st.tuples(
        fixes,
        st.sampled_from(list(UnitStatus)),
        st.lists(st.sampled_from(["fire", "rescue", "hazmat"]), max_size=3),
    ),
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(
    units_strategy,
    st.lists(st.sampled_from(["fire", "rescue", "hazmat"]), max_size=2),
    st.integers(0, 6),
    st.booleans(),
)
def test_the_directory_ranks_exactly_like_recommend_with_a_scene(specs, wanted, count, located):
    units = [unit(f"U{i:02d}", fix, status=status, caps=caps) for i, (fix, status, caps) in enumerate(specs)]
    scene = SCENE if located else None
    d = ResourceDirectory(units)
    expected = recommend(units, capabilities=wanted, priority=Priority.P1, count=count, scene=scene)
    assert d.recommend(capabilities=wanted, priority=Priority.P1, count=count, scene=scene) == expected


def test_the_gazetteer_matches_names_and_aliases_longest_first():
    places = [
        Place(name="Riverside", lat=1, lon=1),
        Place(name="Riverside Hotel", aliases=["The Riverside"], lat=2, lon=2),
        Place(name="Central Station", aliases=["Central Stn"], lat=3, lon=3),
    ]
    assert find_place("Riverside Hotel, 12 Quay St", places) is places[1]
    assert find_place("car park behind riverside", places) is places[0]
    assert find_place("CENTRAL STN, platform 2", places) is places[2]
    assert find_place("Centralstation", places) is None
    assert find_place(None, places) is None


@pytest.mark.parametrize(
    ("toml", "key", "reason"),
    [
        (
            '[[gazetteer.places]]\nname = "Depot"\nlat = 91\nlon = 0\n',
            "gazetteer.places.0.lat",
            "less than or equal to 90",
        ),
        ('[[gazetteer.places]]\nname = "Depot"\nlat = 0\n', "gazetteer.places.0.lon", "Field required"),
        (
            '[[gazetteer.places]]\nname = "--"\nlat = 0\nlon = 0\n',
            "gazetteer.places.0.name",
            "letter or digit",
        ),
        (
            '[[gazetteer.places]]\nname = "Depot"\nlat = 0\nlon = 0\n'
            '[[gazetteer.places]]\nname = "Old Depot"\naliases = ["depot"]\nlat = 1\nlon = 1\n',
            "gazetteer",
            "names both 'Depot' and 'Old Depot'",
        ),
        (
            '[[gazetteer.places]]\nname = "Depot"\nlat = 0\nlon = 0\nzoom = 3\n',
            "gazetteer.places.0.zoom",
            "unknown key",
        ),
        ("[positions]\nmax_age = 0\n", "positions.max_age", "greater than 0"),
        ("[positions]\naudit_every = -1\n", "positions.audit_every", "greater than or equal to 0"),
    ],
)
def test_bad_gazetteer_and_positions_config_names_file_key_and_reason(tmp_path, toml, key, reason):
    path = tmp_path / "site.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_settings(path, env=False)
    assert err.value.file == str(path)
    assert any(k == key and reason in why for k, why in err.value.problems), err.value.problems


def test_a_good_gazetteer_loads(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(
        '[positions]\nmax_age = 120\n'
        '[[gazetteer.places]]\nname = "Depot"\naliases = ["Yard"]\nlat = 51.6\nlon = -0.2\n'
    )
    s = load_settings(path, env=False)
    assert s.positions.max_age == 120 and s.positions.audit_every == 600
    assert [(p.name, p.aliases, p.lat, p.lon) for p in s.gazetteer.places] == [
        ("Depot", ["Yard"], 51.6, -0.2)
    ]
