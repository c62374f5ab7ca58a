"""What the demo's sample callers say; the demo desk types it in once the call is answered."""

from __future__ import annotations

from typing import Any

SAMPLES: list[dict[str, Any]] = [
    {
        "caller_name": "Hotel reception",
        "nature": "smoke from kitchen extract",
        "location": "Riverside Hotel, 12 Quay St",
        "category": "fire",
        "impact": 1,
        "urgency": 2,
    },
    {
        "caller_name": "Library staff",
        "nature": "man not breathing, CPR in progress",
        "location": "Central Library lobby",
        "category": "medical",
        "impact": 1,
        "urgency": 1,
    },
    {
        "caller_name": "Block C caretaker",
        "nature": "lift stuck between floors, nobody inside",
        "location": "Block C",
        "category": "repair",
        "impact": 3,
        "urgency": 2,
    },
    {
        "caller_name": "Leisure centre",
        "nature": "fall on stairs, conscious, hip pain",
        "location": "Leisure centre, Mill Lane",
        "category": "medical",
        "impact": 2,
        "urgency": 1,
    },
    {
        "caller_name": "IT operations",
        "nature": "power lost to server room",
        "location": "HQ basement",
        "category": "power",
        "impact": 2,
        "urgency": 1,
    },
]
FORM = ("nature", "location", "category", "impact", "urgency")


def caller_number(n: int) -> str:
    """Sample caller n's number, from the range set aside for drama (+44 7700 900xxx)."""
    return f"+447700900{500 + n % 500:03d}"
