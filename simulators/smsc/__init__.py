"""An SMSC speaking SMPP 3.4 over TCP, for integration tests, benchmarks and
`callout simulate smsc`.

Written from docs/protocols/smpp.md and SMPP v3.4 Issue 1.2; it imports nothing of
`adapters`, so a codec bug in the channel cannot hide itself here.

What it does (the simulator checklist of paging-sms.md):
- bind states (§2.2): anything but a bind before binding gets ESME_RINVBNDSTS; a second bind
  ESME_RALYBND; unknown system_id / wrong password ESME_RINVSYSID / ESME_RINVPASWD;
  a receiver may not submit;
- a window of outstanding submit_sm per session (past it: ESME_RTHROTTLED or generic_nack) and
  a token-bucket rate (past it: ESME_RTHROTTLED); `submit_delay` holds responses back so that a
  window means something;
- generic_nack for unknown command ids and impossible lengths; enquire_link from both sides;
- delivery receipts as deliver_sm (esm_class 0x04) with TLVs and/or Appendix B text, the text id
  in decimal or hex, with delays, jitter (out of order) and duplicates; deliver_sm must be
  answered with deliver_sm_resp, otherwise (or on ESME_RX_T_APPN) it is sent again;
- mobile-originated messages injectable at any time (also as UDH-concatenated parts), queued
  for the account until a receiver or transceiver is bound; an automatic reply after delivery;
- faults per destination (`behaviours`), an abrupt close of every connection, a freeze (the
  socket stays open and nothing is answered).

Modules: `wire` (the simulator's own SMPP wire code), `gsm` (the GSM 03.38 alphabet), `records`
(submits, jobs, accounts, one connection), `server` (the `Smsc` itself), `cli` (`callout simulate
smsc`).
"""

from __future__ import annotations

from simulators.smsc.cli import add_arguments, main
from simulators.smsc.records import Submitted
from simulators.smsc.server import Smsc
from simulators.smsc.wire import (
    FAULTS,
    GENERIC_NACK,
    RALYBND,
    RBINDFAIL,
    RINVBNDSTS,
    RINVCMDID,
    RINVCMDLEN,
    RINVDSTADR,
    RINVPASWD,
    RINVSYSID,
    RMSGQFUL,
    ROK,
    RSUBMITFAIL,
    RSYSERR,
    RTHROTTLED,
    RX_T_APPN,
    STATES,
)

__all__ = [
    "FAULTS",
    "GENERIC_NACK",
    "RALYBND",
    "RBINDFAIL",
    "RINVBNDSTS",
    "RINVCMDID",
    "RINVCMDLEN",
    "RINVDSTADR",
    "RINVPASWD",
    "RINVSYSID",
    "RMSGQFUL",
    "ROK",
    "RSUBMITFAIL",
    "RSYSERR",
    "RTHROTTLED",
    "RX_T_APPN",
    "STATES",
    "Smsc",
    "Submitted",
    "add_arguments",
    "main",
]
