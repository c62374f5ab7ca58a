"""The hazards register (`[[hazards]]`): which recorded hazards apply to an incident's location.

Pure: a location string in, the matching hazards out. A hazard names one or more `places` (an
address or an area such as a street or an estate); it matches when every word of one place
appears, in order, among the words of the location, ignoring case and punctuation, so
"Mill Lane" matches "4 Mill Lane, flat 2" but not "Millbrook Lane".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.settings_sections import Hazard

_WORD = re.compile(r"[0-9a-z]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def match_hazards(location: str | None, hazards: Sequence[Hazard]) -> list[Hazard]:
    """The hazards whose places occur in `location`, in register order."""
    if not location:
        return []
    where = words(location)
    return [h for h in hazards if any(_contains(where, words(place)) for place in h.places)]


def warning_text(found: Sequence[Hazard]) -> str:
    """The words put at the front of a dispatch, so a channel that must cut a message keeps them:
    "HAZARD asbestos, dangerous dog."""
    if not found:
        return ""
    kinds = list(dict.fromkeys(h.kind for h in found))
    return f"HAZARD {', '.join(kinds)}."


def hazard_warning(location: str | None, hazards: Sequence[Hazard]) -> str:
    return warning_text(match_hazards(location, hazards))
