"""A GSM modem simulator (3GPP TS 27.005 / 27.007 AT commands, TS 23.040 PDUs) on a
pseudo-terminal and on TCP, with fault injection. Written from the specs; imports nothing of
`adapters`.

    async with GsmModem(pty_link="/tmp/ttySIM0", tcp_port=0) as modem:
        ...  # modem.device (pty), modem.port (TCP), modem.received, modem.deliver(...)
"""

from simulators.gsm_modem.cli import add_arguments, main
from simulators.gsm_modem.device import Faults, GsmModem, Part, Received, ReportPlan

__all__ = ["Faults", "GsmModem", "Part", "Received", "ReportPlan", "add_arguments", "main"]
