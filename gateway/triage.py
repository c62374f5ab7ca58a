"""Triage: classify an incident by category and recommend resources, with a rationale.

Pure functions over settings and resource records; the caller stores the result on the incident.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from gateway.domain.models import Incident, Resource
from gateway.domain.states import Classification, Priority, UnitStatus
from gateway.policies.geo import describe_age, describe_distance, distance_m
from gateway.policies.hazards import words
from gateway.settings import ClassificationRule
from gateway.settings_sections import CategoryPractice

# Never recommended: the unit cannot be reached or cannot respond.
_EXCLUDED_STATUSES = frozenset({UnitStatus.UNAVAILABLE, UnitStatus.OUT_OF_SERVICE})
# Lower is better: free units first, then units on their way back, then busy ones.
_STATUS_TIER: dict[UnitStatus, int] = {UnitStatus.AVAILABLE: 0, UnitStatus.RETURNING: 1}
_BUSY_TIER = 2
# Channel counts beyond this add nothing more to the score (the ranking still uses the full count).
_SCORE_CHANNELS = 4


def classify(
    category: str | None, rules: Sequence[ClassificationRule], default: Classification
) -> tuple[Classification, list[str]]:
    """The classification of the first rule whose category matches (ignoring case and padding),
    and the capabilities that rule requires; `(default, [])` when no rule matches."""
    if category is None:
        return default, []
    wanted = category.strip().casefold()
    for rule in rules:
        if rule.category.strip().casefold() == wanted:
            return rule.classification, list(rule.capabilities)
    return default, []


def practice_for(category: str | None, practices: Sequence[CategoryPractice]) -> CategoryPractice | None:
    """The `[[triage.categories]]` entry for a category (ignoring case and padding), if any."""
    if not category:
        return None
    wanted = category.strip().casefold()
    return next((p for p in practices if p.category.strip().casefold() == wanted), None)


def missing_answers(practice: CategoryPractice | None, answers: dict[str, str]) -> list[str]:
    """The required questions not answered yet (blank answers count as none)."""
    if practice is None:
        return []
    return [q for q in practice.required if not answers.get(q, "").strip()]


@dataclass(frozen=True)
class Duplicate:
    reference: str
    reason: str


def possible_duplicates(inc: Incident, others: Sequence[Incident], window: float) -> list[Duplicate]:
    """Open incidents that may report the same event as `inc`: the same category (ignoring case),
    created within `window` seconds of it, at a location whose words (gateway/policies/hazards.py
    `words`) one contains all of the other's, or share at least half. Closest in time first."""
    if not inc.category or not inc.location:
        return []
    mine, cat = set(words(inc.location)), inc.category.strip().casefold()
    found: list[tuple[float, Duplicate]] = []
    for o in others:
        if o.reference == inc.reference or not o.category or not o.location:
            continue
        gap = abs(o.created_at - inc.created_at)
        if o.category.strip().casefold() != cat or gap > window:
            continue
        theirs = set(words(o.location))
        shared = mine & theirs
        if not shared or not (mine <= theirs or theirs <= mine or len(shared) * 2 >= len(mine | theirs)):
            continue
        when = "earlier" if o.created_at <= inc.created_at else "later"
        reason = f"same category {o.category.strip()}, at {o.location}, {round(gap / 60)} min {when}"
        found.append((gap, Duplicate(o.reference, reason)))
    return [d for _, d in sorted(found, key=lambda x: x[0])]


@dataclass(frozen=True)
class Raised:
    impact: int
    urgency: int
    reasons: tuple[str, ...]


def raise_by_answers(
    impact: int, urgency: int, practice: CategoryPractice | None, answers: dict[str, str]
) -> Raised:
    """Apply the category's answer rules: each matching rule may only raise (lower the number of)
    impact or urgency, never lower them; the reasons of the rules that changed something are
    returned for the rationale, in rule order. Answers match ignoring case and padding."""
    reasons: list[str] = []
    if practice is not None:
        for rule in practice.rules:
            given = answers.get(rule.question, "").strip().casefold()
            if not given or given not in {a.strip().casefold() for a in rule.answers}:
                continue
            new_impact = min(impact, rule.impact) if rule.impact is not None else impact
            new_urgency = min(urgency, rule.urgency) if rule.urgency is not None else urgency
            if (new_impact, new_urgency) != (impact, urgency):
                what = []
                if new_impact != impact:
                    what.append(f"impact {impact}→{new_impact}")
                if new_urgency != urgency:
                    what.append(f"urgency {urgency}→{new_urgency}")
                reasons.append(
                    f"{rule.reason} ({rule.question} = {answers[rule.question].strip()}: {', '.join(what)})"
                )
                impact, urgency = new_impact, new_urgency
    return Raised(impact, urgency, tuple(reasons))


@dataclass(frozen=True)
class Recommendation:
    resource_id: str
    score: float
    rationale: str


@dataclass(frozen=True, slots=True)
class Scene:
    """Where the incident is and when it is asked: a recommendation for it weighs each unit's
    distance (great circle) and the age of its position. `max_age`: seconds a fix is fresh."""

    lat: float
    lon: float
    now: float
    max_age: float


# Where a unit stands for a scene, best first: a fresh fix, a stale one, none.
_FRESH, _STALE, _UNLOCATED = 0, 1, 2
_HALF_SCORE_DISTANCE = 5000.0  # metres at which distance gives half its score points


@dataclass(frozen=True)
class _Candidate:
    resource: Resource
    has: tuple[str, ...]
    missing: tuple[str, ...]
    tier: int
    channels: int
    place: int = _FRESH  # _FRESH for every unit when there is no scene: the ranking is unchanged
    distance: float = 0.0  # metres from the scene
    age: float = 0.0  # seconds since the fix

    def rank(self) -> tuple[int, int, int, float, int, str]:
        return len(self.missing), self.tier, self.place, self.distance, -self.channels, self.resource.id


def _unique(words: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for word in words:
        key = word.strip().casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(word.strip())
    return out


def whereabouts(resource: Resource, scene: Scene | None) -> tuple[int, float, float]:
    """(fresh, stale or unlocated; metres from the scene; age of the fix in seconds): the part
    of the ranking a scene adds. Without a scene every unit counts as fresh and at the scene."""
    fix = resource.position
    if scene is None:
        return _FRESH, 0.0, 0.0
    if fix is None:
        return _UNLOCATED, 0.0, 0.0
    age = max(0.0, scene.now - fix.observed_at)  # a fix "from the future": a clock ahead
    place = _FRESH if age <= scene.max_age else _STALE
    return place, distance_m(scene.lat, scene.lon, fix.lat, fix.lon), age


def _candidate(resource: Resource, required: list[str], scene: Scene | None = None) -> _Candidate:
    own = {c.strip().casefold() for c in resource.capabilities}
    place, distance, age = whereabouts(resource, scene)
    return _Candidate(
        resource=resource,
        has=tuple(c for c in required if c.casefold() in own),
        missing=tuple(c for c in required if c.casefold() not in own),
        tier=_STATUS_TIER.get(resource.status, _BUSY_TIER),
        channels=len({endpoint.channel for endpoint in resource.contact_plan}),
        place=place,
        distance=distance,
        age=age,
    )


def _reach_points(candidate: _Candidate, scene: Scene | None) -> float:
    """0..4 (_SCORE_CHANNELS) within a status tier. Without a scene: channel diversity. With one:
    a fresh fix 3..4 and a stale one 1..2, nearer higher; no fix 0..1 by channel diversity."""
    channel_points = min(candidate.channels, _SCORE_CHANNELS)
    if scene is None:
        return channel_points
    if candidate.place == _UNLOCATED:
        return 0.99 * channel_points / _SCORE_CHANNELS
    nearness = _HALF_SCORE_DISTANCE / (_HALF_SCORE_DISTANCE + candidate.distance)  # 1 at the scene
    return (3.0 if candidate.place == _FRESH else 1.0) + 0.99 * nearness


def _score(candidate: _Candidate, required: int, scene: Scene | None = None) -> float:
    """0..1, ordered like the ranking: capabilities, then status, then (for a scene) a fresh fix,
    a stale one, none, nearer first, else channel diversity."""
    status_points = _BUSY_TIER - candidate.tier
    channel_points = _reach_points(candidate, scene)
    per_capability = (_BUSY_TIER + 1) * (_SCORE_CHANNELS + 1)
    points: float = (required - len(candidate.missing)) * per_capability
    points += status_points * (_SCORE_CHANNELS + 1) + channel_points
    best = required * per_capability + _BUSY_TIER * (_SCORE_CHANNELS + 1) + _SCORE_CHANNELS
    return round(points / best, 3)


def unique_capabilities(words: Sequence[str]) -> list[str]:
    """The required capabilities as `recommend` reads them: stripped, first spelling of each."""
    return _unique(words)


def status_tier(status: UnitStatus) -> int | None:
    """The ranking tier of a unit status (lower first), or None for a unit never recommended."""
    if status in _EXCLUDED_STATUSES:
        return None
    return _STATUS_TIER.get(status, _BUSY_TIER)


def channel_count(resource: Resource) -> int:
    return len({endpoint.channel for endpoint in resource.contact_plan})


def recommendation_for(resource: Resource, required: list[str], scene: Scene | None = None) -> Recommendation:
    """What `recommend` says of one candidate (its score and rationale), for callers that
    choose candidates by an index rather than a scan (gateway/directory.py)."""
    return _recommendation(_candidate(resource, required, scene), len(required), scene)


def _recommendation(c: _Candidate, required: int, scene: Scene | None) -> Recommendation:
    return Recommendation(
        resource_id=c.resource.id, score=_score(c, required, scene), rationale=_rationale(c, scene)
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _whereabouts(candidate: _Candidate) -> str:
    """ "1.4 km, position 40 s old", "stale", or "no position"."""
    if candidate.place == _UNLOCATED:
        return "no position"
    fix = candidate.resource.position
    assert fix is not None
    stale = ", stale" if candidate.place == _STALE else ""
    return f"{describe_distance(candidate.distance)}, position {describe_age(candidate.age)} old{stale}"


def _rationale(candidate: _Candidate, scene: Scene | None = None) -> str:
    resource = candidate.resource
    if candidate.tier == _BUSY_TIER:
        status = f"busy ({resource.status.value.replace('_', ' ')})"
    else:
        status = resource.status.value.replace("_", " ")
    phrases = [status]
    if candidate.has:
        phrases.append("has " + ", ".join(candidate.has))
    if candidate.missing:
        label = "capability" if len(candidate.missing) == 1 else "capabilities"
        phrases.append(f"missing {label} " + ", ".join(candidate.missing))
    if not candidate.has and not candidate.missing:
        phrases.append("no capability required")
    reach = f"{_plural(len(resource.contact_plan), 'endpoint')} on {_plural(candidate.channels, 'channel')}"
    where = f"; {_whereabouts(candidate)}" if scene is not None else ""
    return f"{resource.id}: {', '.join(phrases)}{where}; {reach}"


def recommend(
    resources: Sequence[Resource],
    *,
    capabilities: Sequence[str],
    priority: Priority,
    count: int,
    exclude: Collection[str] = (),
    scene: Scene | None = None,
) -> list[Recommendation]:
    """At most `count` resources for an incident, best first, each with a score and a rationale.

    Candidates: not in `exclude`, able to take `priority`, and neither unavailable nor out of
    service. Ranking: fewest missing capabilities (full matches first, so a partial match is only
    offered when full ones run out), then available, returning, busy (dispatched, en route, on
    scene); then, when the incident's coordinates are known (`scene`), units with a fresh
    position, then a stale one, each nearest first, then units without one; then more distinct
    channels in the contact plan, then id.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    required = _unique(capabilities)
    candidates = sorted(
        (
            _candidate(resource, required, scene)
            for resource in resources
            if resource.id not in exclude
            and priority in resource.priorities
            and resource.status not in _EXCLUDED_STATUSES
        ),
        key=_Candidate.rank,
    )
    return [_recommendation(c, len(required), scene) for c in candidates[:count]]
