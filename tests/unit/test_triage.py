"""Triage: classification by category and resource recommendation with a rationale."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.models import Endpoint, Resource
from gateway.domain.states import Classification, Priority, UnitStatus
from gateway.settings import ClassificationRule
from gateway.triage import Recommendation, classify, recommend

RULES = [
    ClassificationRule(
        category="Structure Fire", classification=Classification.INCIDENT, capabilities=["fire", "rescue"]
    ),
    ClassificationRule(category="hydrant check", classification=Classification.SERVICE_REQUEST),
    ClassificationRule(category="info", classification=Classification.ENQUIRY),
]


def _plan(*channels: str) -> list[Endpoint]:
    return [Endpoint(channel=c, address=f"{c}-{i}") for i, c in enumerate(channels)]


def _res(
    rid: str,
    caps: list[str],
    *,
    status: UnitStatus = UnitStatus.AVAILABLE,
    channels: tuple[str, ...] = ("radio",),
    priorities: list[Priority] | None = None,
) -> Resource:
    return Resource(
        id=rid,
        name=rid,
        capabilities=caps,
        contact_plan=_plan(*channels),
        status=status,
        priorities=list(Priority) if priorities is None else priorities,
    )


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("Structure Fire", (Classification.INCIDENT, ["fire", "rescue"])),
        ("  structure FIRE ", (Classification.INCIDENT, ["fire", "rescue"])),
        ("HYDRANT CHECK", (Classification.SERVICE_REQUEST, [])),
        ("info", (Classification.ENQUIRY, [])),
        ("flood", (Classification.ENQUIRY, [])),
        (None, (Classification.ENQUIRY, [])),
        ("", (Classification.ENQUIRY, [])),
    ],
)
def test_classify(category: str | None, expected: tuple[Classification, list[str]]) -> None:
    assert classify(category, RULES, Classification.ENQUIRY) == expected


def test_classify_returns_a_copy_of_the_capabilities() -> None:
    _, caps = classify("structure fire", RULES, Classification.INCIDENT)
    caps.append("hazmat")
    assert RULES[0].capabilities == ["fire", "rescue"]


def test_rationale_reads_as_a_sentence() -> None:
    eng = _res("ENG-1", ["fire", "rescue", "water"], channels=("radio", "sms", "radio"))
    (rec,) = recommend([eng], capabilities=["fire", "rescue"], priority=Priority.P1, count=1)
    assert rec.rationale == "ENG-1: available, has fire, rescue; 3 endpoints on 2 channels"
    assert rec.resource_id == "ENG-1"
    assert 0.5 < rec.score < 1.0
    (best,) = recommend(
        [_res("ENG-2", ["fire", "rescue"], channels=("radio", "sms", "pager", "voice"))],
        capabilities=["fire", "rescue"],
        priority=Priority.P1,
        count=1,
    )
    assert best.score == 1.0


def test_no_required_capability_is_said_so() -> None:
    (rec,) = recommend([_res("VAN-1", [])], capabilities=[], priority=Priority.P3, count=1)
    assert rec.rationale == "VAN-1: available, no capability required; 1 endpoint on 1 channel"


def test_unusable_resources_are_never_recommended() -> None:
    resources = [
        _res("OUT", ["fire"], status=UnitStatus.OUT_OF_SERVICE),
        _res("OFF", ["fire"], status=UnitStatus.UNAVAILABLE),
        _res("LOW", ["fire"], priorities=[Priority.P3, Priority.P4]),
        _res("EXCL", ["fire"]),
        _res("OK", ["fire"]),
    ]
    recs = recommend(resources, capabilities=["fire"], priority=Priority.P1, count=10, exclude={"EXCL"})
    assert [r.resource_id for r in recs] == ["OK"]


def test_ranking_capabilities_then_status_then_channels_then_id() -> None:
    resources = [
        _res("Z-BUSY", ["fire"], status=UnitStatus.EN_ROUTE, channels=("radio", "sms", "pager")),
        _res("Y-RET", ["fire"], status=UnitStatus.RETURNING),
        _res("X-AV1", ["fire"]),
        _res("W-AV3", ["fire"], channels=("radio", "sms", "pager")),
        _res("V-AV1", ["fire"]),
        _res("A-PART", [], channels=("radio", "sms", "pager", "voice")),
    ]
    recs = recommend(resources, capabilities=["fire"], priority=Priority.P2, count=10)
    assert [r.resource_id for r in recs] == ["W-AV3", "V-AV1", "X-AV1", "Y-RET", "Z-BUSY", "A-PART"]
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_busy_units_come_last_and_say_they_are_busy() -> None:
    resources = [
        _res("A", ["fire"], status=UnitStatus.ON_SCENE),
        _res("B", ["fire"], status=UnitStatus.DISPATCHED),
        _res("C", ["fire"], status=UnitStatus.RETURNING),
    ]
    recs = recommend(resources, capabilities=["fire"], priority=Priority.P1, count=3)
    assert [r.resource_id for r in recs] == ["C", "A", "B"]
    assert recs[0].rationale.startswith("C: returning, ")
    assert recs[1].rationale.startswith("A: busy (on scene), ")
    assert recs[2].rationale.startswith("B: busy (dispatched), ")


def test_partial_matches_only_when_full_matches_run_out() -> None:
    resources = [
        _res("ENG-1", ["fire", "rescue"]),
        _res("ENG-2", ["fire"]),
        _res("HAZ-1", ["hazmat", "fire", "rescue"], status=UnitStatus.RETURNING),
    ]
    one = recommend(resources, capabilities=["fire", "rescue"], priority=Priority.P1, count=2)
    assert [r.resource_id for r in one] == ["ENG-1", "HAZ-1"]
    three = recommend(resources, capabilities=["fire", "rescue"], priority=Priority.P1, count=3)
    assert three[-1].resource_id == "ENG-2"
    assert (
        three[-1].rationale
        == "ENG-2: available, has fire, missing capability rescue; 1 endpoint on 1 channel"
    )


def test_missing_capabilities_are_all_named() -> None:
    (rec,) = recommend(
        [_res("ENG-9", ["water"])], capabilities=["hazmat", "Rope"], priority=Priority.P1, count=1
    )
    assert rec.rationale == "ENG-9: available, missing capabilities hazmat, Rope; 1 endpoint on 1 channel"


def test_capabilities_match_ignoring_case_and_duplicates() -> None:
    (rec,) = recommend(
        [_res("ENG-1", ["Fire"])], capabilities=["fire", "FIRE"], priority=Priority.P1, count=1
    )
    assert rec.rationale == "ENG-1: available, has fire; 1 endpoint on 1 channel"


def test_count_limits_the_answer() -> None:
    resources = [_res(f"U{i}", ["fire"]) for i in range(5)]
    assert [
        r.resource_id for r in recommend(resources, capabilities=["fire"], priority=Priority.P1, count=2)
    ] == ["U0", "U1"]
    assert recommend(resources, capabilities=["fire"], priority=Priority.P1, count=0) == []
    with pytest.raises(ValueError, match="count"):
        recommend(resources, capabilities=["fire"], priority=Priority.P1, count=-1)


statuses = st.sampled_from(list(UnitStatus))
resource_strategy = st.builds(
    _res,
    rid=st.text(alphabet="ABCDEFGH-0123", min_size=1, max_size=5),
    caps=st.lists(st.sampled_from(["fire", "rescue", "hazmat", "water"]), max_size=4),
    status=statuses,
    channels=st.lists(st.sampled_from(["radio", "sms", "pager", "voice"]), min_size=1, max_size=5).map(tuple),
    priorities=st.lists(st.sampled_from(list(Priority)), min_size=1, max_size=4),
)


@given(
    resources=st.lists(resource_strategy, max_size=12, unique_by=lambda r: r.id),
    caps=st.lists(st.sampled_from(["fire", "rescue", "hazmat"]), max_size=3),
    priority=st.sampled_from(list(Priority)),
    count=st.integers(min_value=0, max_value=15),
)
def test_recommendation_properties(
    resources: list[Resource], caps: list[str], priority: Priority, count: int
) -> None:
    recs = recommend(resources, capabilities=caps, priority=priority, count=count, exclude={"A"})
    by_id = {r.id: r for r in resources}
    eligible = [
        r
        for r in resources
        if r.id != "A"
        and priority in r.priorities
        and r.status not in (UnitStatus.UNAVAILABLE, UnitStatus.OUT_OF_SERVICE)
    ]
    assert len(recs) == min(count, len(eligible))
    assert len({r.resource_id for r in recs}) == len(recs)
    assert all(isinstance(r, Recommendation) for r in recs)
    for rec in recs:
        res = by_id[rec.resource_id]
        assert res in eligible
        assert rec.rationale.startswith(f"{res.id}: ")
        busy = res.status not in (UnitStatus.AVAILABLE, UnitStatus.RETURNING)
        assert ("busy" in rec.rationale) == busy
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)
    # A partial match never precedes a full one.
    full = [not any(c not in by_id[r.resource_id].capabilities for c in caps) for r in recs]
    assert full == sorted(full, reverse=True)
    # A full match is left out only if the answer is already full of full matches.
    if not all(full) or len(recs) < count:
        full_eligible = {r.id for r in eligible if all(c in r.capabilities for c in caps)}
        assert full_eligible <= {r.resource_id for r in recs}
