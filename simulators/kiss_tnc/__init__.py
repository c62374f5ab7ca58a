"""KISS TNC simulator: simulated APRS stations behind a KISS TNC on a pseudo-terminal and TCP.

Written from the KISS, AX.25 and APRS specs; it imports nothing from `adapters`."""

from simulators.kiss_tnc.cli import add_arguments, main
from simulators.kiss_tnc.tnc import Faults, Heard, KissTnc, Station

__all__ = ["Faults", "Heard", "KissTnc", "Station", "add_arguments", "main"]
