"""Sans-I/O readers of a GSM modem's answers (3GPP TS 27.007, TS 27.005): the information lines
the channel reads (+CMGS, +CPIN, +CREG, +CSQ, +CMGR, +CMGL, +CMTI, +CDS) and the classification
of `+CMS ERROR` codes (27.005 §3.2.5). The AT dialogue that yields them is in `codec.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.sms_modem.codec import AtError, name_and_args

__all__ = [
    "CREG_STAT",
    "REGISTERED",
    "CmsVerdict",
    "classify_cms",
    "parse_cmgl",
    "parse_cmgr",
    "parse_cmgs",
    "parse_cmt",
    "parse_cmti",
    "parse_cpin",
    "parse_creg",
    "parse_csq",
    "rssi_dbm",
]


# ---- answers (27.007 / 27.005) --------------------------------------------------------------------
def _args(info: tuple[str, ...] | list[str], prefix: str) -> list[str]:
    for line in info:
        name, args = name_and_args(line)
        if name.upper() == prefix:
            return [a.strip().strip('"') for a in _split_args(args)]
    raise AtError(f"no {prefix} line in {list(info)!r}")


def _split_args(args: str) -> list[str]:
    """Comma-separated parameters; commas inside quotes do not split (V.250 §5.4.2.2)."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in args:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _int(value: str, what: str) -> int:
    digits = value.strip()
    # ASCII digits only: str.isdigit also accepts superscripts that int() refuses (V.250 §5.7).
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise AtError(f"{what} is not a number: {value!r}")
    return int(digits)


def parse_cmgs(info: tuple[str, ...]) -> int:
    """`+CMGS: <mr>[,<scts>]` (27.005 §3.5.1) -> TP-MR."""
    mr = _int(_args(info, "+CMGS")[0], "+CMGS <mr>")
    if mr > 255:
        raise AtError(f"+CMGS <mr> {mr} is not 0-255")
    return mr


def parse_cpin(info: tuple[str, ...]) -> str:
    """`+CPIN: <code>` (27.007 §8.3): READY, SIM PIN, SIM PUK, ..."""
    return _args(info, "+CPIN")[0].upper()


def parse_creg(info: tuple[str, ...], prefix: str = "+CREG") -> int:
    """`+CREG: <n>,<stat>[,<lac>,<ci>...]` (27.007 §7.2) -> <stat>."""
    args = _args(info, prefix)
    if len(args) < 2:
        raise AtError(f"{prefix} answer without <stat>: {info!r}")
    return _int(args[1], f"{prefix} <stat>")


REGISTERED = {1: "home network", 5: "roaming"}
CREG_STAT = {0: "not registered, not searching", 2: "not registered, searching", 3: "registration denied"}
CREG_STAT |= {4: "registration state unknown"} | REGISTERED


def parse_csq(info: tuple[str, ...]) -> tuple[int, int]:
    """`+CSQ: <rssi>,<ber>` (27.007 §8.5)."""
    args = _args(info, "+CSQ")
    if len(args) != 2:
        raise AtError(f"bad +CSQ answer: {info!r}")
    return _int(args[0], "<rssi>"), _int(args[1], "<ber>")


def rssi_dbm(rssi: int) -> int | None:
    """27.007 §8.5: 0 is -113 dBm or less, 31 is -51 dBm or more, 99 unknown."""
    return None if not 0 <= rssi <= 31 else -113 + 2 * rssi


def parse_cmti(args: str) -> tuple[str, int]:
    """`+CMTI: <mem>,<index>` (27.005 §3.4.1), also +CDSI."""
    parts = [a.strip().strip('"') for a in _split_args(args)]
    if len(parts) != 2:
        raise AtError(f"bad +CMTI: {args!r}")
    return parts[0], _int(parts[1], "<index>")


def parse_cmgr(info: tuple[str, ...]) -> tuple[int, int, str]:
    """PDU mode `+CMGR: <stat>,[<alpha>],<length>` then the PDU line (27.005 §3.4.3)."""
    for i, line in enumerate(info):
        name, args = name_and_args(line)
        if name.upper() == "+CMGR":
            parts = _split_args(args)
            if len(parts) < 2 or i + 1 >= len(info):
                raise AtError(f"bad +CMGR answer: {info!r}")
            return _int(parts[0], "<stat>"), _int(parts[-1], "<length>"), info[i + 1]
    raise AtError(f"no +CMGR line in {list(info)!r}")


def parse_cmgl(info: tuple[str, ...]) -> list[tuple[int, int, int, str]]:
    """PDU mode `+CMGL: <index>,<stat>,[<alpha>],<length>` + PDU line, repeated (27.005 §3.4.2)."""
    out = []
    lines = list(info)
    while lines:
        name, args = name_and_args(lines.pop(0))
        if name.upper() != "+CMGL":
            continue
        parts = _split_args(args)
        if len(parts) < 3 or not lines:
            raise AtError(f"bad +CMGL entry: {args!r}")
        index, stat = _int(parts[0], "<index>"), _int(parts[1], "<stat>")
        out.append((index, stat, _int(parts[-1], "<length>"), lines.pop(0)))
    return out


def parse_cmt(args: str) -> int:
    """PDU mode `+CMT: [<alpha>],<length>` / `+CDS: <length>` header -> <length>."""
    return _int(_split_args(args)[-1], "<length>")


# ---- +CMS ERROR (27.005 §3.2.5; causes of TS 24.011 §E.2 and TS 23.040 §9.2.3.22) ---------------
@dataclass(frozen=True, slots=True)
class CmsVerdict:
    code: int | None
    reason: str
    temporary: bool  # try again later (network or congestion)
    modem_fault: bool  # the modem or its SIM cannot send now: use another modem


_CMS_TEXT = {
    1: "unassigned number",
    8: "operator determined barring",
    10: "call barred",
    21: "short message transfer rejected",
    27: "destination out of service",
    28: "unidentified subscriber",
    29: "facility rejected",
    30: "unknown subscriber",
    38: "network out of order",
    41: "temporary failure",
    42: "congestion",
    47: "resources unavailable",
    50: "requested facility not subscribed",
    69: "requested facility not implemented",
    81: "invalid short message transfer reference value",
    96: "invalid mandatory information",
    127: "interworking unspecified",
    176: "TPDU not supported",
    192: "SC busy",
    193: "no SC subscription",
    194: "SC system failure",
    195: "invalid SME address",
    196: "destination SME barred",
    197: "SM rejected, duplicate SM",
    208: "SIM SMS storage full",
    210: "error in MS",
    211: "memory capacity exceeded",
    255: "unspecified error cause",
    300: "ME failure",
    301: "SMS service of ME reserved",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    305: "invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    312: "PH-SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    315: "SIM wrong",
    316: "SIM PUK required",
    317: "SIM PIN2 required",
    318: "SIM PUK2 required",
    320: "memory failure",
    321: "invalid memory index",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    340: "no +CNMA acknowledgement expected",
    500: "unknown error",
    512: "MM establishment failure",
    513: "lower layer failure",
    514: "network congestion",
    515: "modem busy or initialising",
}
# Worth retrying: network out of order, temporary failure, congestion, resources unavailable,
# SC busy/failure, SIM busy, no network service, network timeout, unknown, vendor 512-515.
_TEMPORARY = {38, 41, 42, 47, 192, 194, 255, 314, 331, 332, 500, 512, 513, 514, 515}
# The modem (or its SIM, or its storage, or its registration) is at fault, not the message.
_MODEM = {208, 210, 211, 300, 301, 302, 320, 322, 330, 331, 513, 515} | set(range(310, 319))


def classify_cms(code: int | None, text: str = "") -> CmsVerdict:
    """Temporary (retry) or permanent (invalid or barred destination, rejected message, a PDU we
    built wrong, a SIM that needs an operator). Codes not listed here are permanent when they are
    TP/RP causes (1-255) and temporary otherwise."""
    if code is None:
        return CmsVerdict(None, text or "+CMS ERROR without a number", temporary=True, modem_fault=False)
    reason = f"+CMS ERROR {code}: {_CMS_TEXT.get(code, 'unlisted cause')}"
    if code in _TEMPORARY:
        return CmsVerdict(code, reason, temporary=True, modem_fault=code in _MODEM)
    if code in _MODEM:
        # SIM missing, locked or broken: operator action; other modems may still send.
        return CmsVerdict(code, reason, temporary=False, modem_fault=True)
    if code <= 255 or 303 <= code <= 305 or code == 321:
        return CmsVerdict(code, reason, temporary=False, modem_fault=False)
    return CmsVerdict(code, reason, temporary=True, modem_fault=False)
