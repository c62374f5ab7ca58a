"""Radio fleet simulator for callout's MQTT radio channel (topic scheme: `adapters.radio_mqtt`,
read as documentation only; nothing here imports `adapters`).

    async with PrivateBroker() as broker, RadioFleet(broker=broker.url, count=1000) as fleet:
        ...

`python -m simulators.radio_fleet --help` (and `callout simulate radio-fleet`) runs it standalone.
Names are imported lazily, so `simulators.radio_fleet.cli.add_arguments` works without aiomqtt.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulators.radio_fleet.broker import BrokerError, PrivateBroker, Tls
    from simulators.radio_fleet.cli import add_arguments, main, run
    from simulators.radio_fleet.fleet import Faults, FleetStats, Radio, RadioFleet, Received

_WHERE = {
    "BrokerError": "broker",
    "PrivateBroker": "broker",
    "Tls": "broker",
    "add_arguments": "cli",
    "main": "cli",
    "run": "cli",
    "Faults": "fleet",
    "FleetStats": "fleet",
    "Radio": "fleet",
    "RadioFleet": "fleet",
    "Received": "fleet",
}
__all__ = [
    "BrokerError",
    "Faults",
    "FleetStats",
    "PrivateBroker",
    "Radio",
    "RadioFleet",
    "Received",
    "Tls",
    "add_arguments",
    "main",
    "run",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
