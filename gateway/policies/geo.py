"""Geography for the recommendation: great-circle distance, and the gazetteer that gives an
incident's location text its coordinates (`[[gazetteer.places]]`). Pure functions.

Distance: the haversine formula on a sphere of the mean Earth radius (IUGG, 6371.0088 km); on
the distances a dispatcher compares it is within 0.5 % of the WGS 84 ellipsoid's geodesic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.policies.hazards import words
from gateway.settings_positions import Place

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS 84 points in degrees (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def find_place(location: str | None, places: Sequence[Place]) -> Place | None:
    """The gazetteer place named in `location`: a place matches when every word of its name or
    of one alias occurs, in order, among the location's words (ignoring case and punctuation, as
    hazards do). The longest matching name wins ("Riverside Hotel" over "Riverside"); between
    equals, the first in the file."""
    if not location:
        return None
    where = words(location)
    best: tuple[int, Place] | None = None
    for place in places:
        for name in (place.name, *place.aliases):
            needle = words(name)
            if _contains(where, needle) and (best is None or len(needle) > best[0]):
                best = (len(needle), place)
    return best[1] if best else None


def describe_distance(metres: float) -> str:
    """ "850 m", "1.4 km", "23 km": what the rationale shows."""
    if metres < 1000:
        return f"{round(metres / 10) * 10:.0f} m"
    if metres < 10_000:
        return f"{metres / 1000:.1f} km"
    return f"{metres / 1000:.0f} km"


def describe_age(seconds: float) -> str:
    """ "40 s", "12 min", "3 h": the age of a fix in the rationale."""
    s = max(0.0, seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.0f} h"
