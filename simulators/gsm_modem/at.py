"""One AT command session of the simulated modem (one per pty or TCP connection).

Command lines (ITU-T V.250 §5.1-5.4): `AT` prefix, basic commands (E, V, Q, Z, I, &F, S<n>) and
extended ones (`+NAME`, `^NAME`) chained with `;`, ending with CR; each answer is framed by CR LF.
SMS commands follow 3GPP TS 27.005 §3 (PDU and text mode), the rest TS 27.007.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simulators.gsm_modem import sms

if TYPE_CHECKING:
    from simulators.gsm_modem.device import GsmModem

log = logging.getLogger(__name__)
CTRL_Z, ESC = 0x1A, 0x1B
# 27.007 §9.2 (+CME) and 27.005 §3.2.5 (+CMS) texts, for AT+CMEE=2.
CME_TEXT = {3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted"}
CME_TEXT |= {11: "SIM PIN required", 12: "SIM PUK required", 16: "incorrect password"}
CMS_TEXT = {302: "operation not allowed", 304: "invalid PDU mode parameter", 310: "SIM not inserted"}
CMS_TEXT |= {305: "invalid text mode parameter", 311: "SIM PIN required", 316: "SIM PUK required"}
CMS_TEXT |= {321: "invalid memory index", 331: "no network service", 500: "unknown error"}
CMS_TEXT |= {340: "no +CNMA acknowledgement expected"}
PDU_STAT = {0: "REC UNREAD", 1: "REC READ", 2: "STO UNSENT", 3: "STO SENT", 4: "ALL"}


class CmeError(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class CmsError(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class Error(Exception):
    """Plain ERROR (V.250 §5.7.1): unknown command or bad syntax."""


@dataclass
class Settings:
    """What ATZ / AT&F restore (V.250 §6.1.1, §6.1.2)."""

    echo: bool = True
    verbose: bool = True
    quiet: bool = False
    cmee: int = 0
    cmgf: int = 0
    cnmi: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])
    creg: int = 0
    cgreg: int = 0
    cscs: str = "GSM"
    csmp: list[int] = field(default_factory=lambda: [17, 167, 0, 0])
    csdh: int = 0
    csms: int = 0


class Session:
    def __init__(self, modem: GsmModem, write: Callable[[bytes], None], name: str) -> None:
        self.modem = modem
        self.name = name
        self._write = write
        self.s = Settings(echo=modem.echo)
        self._input: asyncio.Queue[bytes] = asyncio.Queue()
        self._line = bytearray()
        # Data entry after `> ` (27.005 §3.5.1): the handler that takes the text at Ctrl-Z.
        self._entry: Callable[[str], Awaitable[None]] | None = None
        self._entry_buf = bytearray()
        self.current = ""  # the extended command being executed

    # ---- bytes -------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self.modem.silent:
            return  # a modem that is resetting (or hung) hears nothing
        self._input.put_nowait(data)

    def write(self, data: bytes) -> None:
        if not self.modem.silent:
            self._write(data)

    def line(self, text: str) -> None:
        self.write(b"\r\n" + text.encode("latin-1", errors="replace") + b"\r\n")

    def urc(self, text: str) -> None:
        self.line(text)

    def final(self, text: str) -> None:
        if self.s.quiet:
            return
        if not self.s.verbose:  # V.250 §6.2.6: numeric result codes
            self.write({"OK": b"0\r", "ERROR": b"4\r"}.get(text, b"4\r"))
            return
        self.line(text)

    async def run(self) -> None:
        while True:
            data = await self._input.get()
            if self.modem.silent:
                continue
            if self.s.echo:
                self.write(data)  # V.250 §6.2.4: characters are echoed as they come
            for byte in data:
                await self._byte(byte)

    async def _byte(self, byte: int) -> None:
        if self._entry is not None:
            await self._entry_byte(byte)
            return
        if byte == 0x0D:  # S3, the command line terminator
            raw = self._line.decode("latin-1")
            self._line.clear()
            start = raw.upper().find("AT")
            if start >= 0:
                await self._command_line(raw[start:].strip())
        elif byte == 0x08:  # S5 backspace
            del self._line[-1:]
        elif byte not in (0x0A, ESC, CTRL_Z) and len(self._line) < 1024:
            self._line.append(byte)

    async def _entry_byte(self, byte: int) -> None:
        assert self._entry is not None
        if byte == ESC:  # 27.005 §3.5.1: ESC cancels the send
            self._entry, self._entry_buf = None, bytearray()
            self.final("OK")
        elif byte == CTRL_Z:
            entry, text = self._entry, self._entry_buf.decode("latin-1")
            self._entry, self._entry_buf = None, bytearray()
            await entry(text)
        elif byte == 0x0D and self.s.cmgf == 1:
            self._entry_buf += b"\n"
            self.write(b"\r\n> ")  # text mode: each CR gives a new prompt
        elif byte not in (0x0A, 0x0D) and len(self._entry_buf) < 4096:
            self._entry_buf.append(byte)

    # ---- command lines -----------------------------------------------------------------------
    async def _command_line(self, line: str) -> None:
        self.modem.commands.append(line)
        log.debug("[%s] %s <- %s", self.modem.name, self.name, line)
        try:
            items = split_command_line(line[2:])
        except Error:
            self.final("ERROR")
            return
        for item in items:
            try:
                lines = await self._execute(item)
            except Error:
                self.final("ERROR")
                return
            except CmeError as exc:
                self.final(self._error("+CME ERROR", exc.code, CME_TEXT))
                return
            except CmsError as exc:
                self.final(self._error("+CMS ERROR", exc.code, CMS_TEXT))
                return
            if lines is None:
                return  # data entry or a reset: the final result comes later (or never)
            for text in lines:
                self.line(text)
        self.final("OK")

    def _error(self, prefix: str, code: int, texts: dict[int, str]) -> str:
        if self.s.cmee == 0:
            return "ERROR"
        if self.s.cmee == 2:
            return f"{prefix}: {texts.get(code, 'unknown error')}"
        return f"{prefix}: {code}"

    async def _execute(self, item: str) -> list[str] | None:
        m = re.fullmatch(r"([+^$%*][A-Za-z0-9]+)(.*)", item)
        if m is None:
            return self._basic(item)
        name, rest = m.group(1).upper(), m.group(2)
        handler = EXTENDED.get(name)
        if handler is None:
            raise Error
        self.current = name
        args: list[str] = []
        if rest == "?":
            op = "read"
        elif rest == "=?":
            op = "test"
        elif rest.startswith("="):
            op, args = "set", split_args(rest[1:])
        elif rest == "":
            op = "exec"
        else:
            raise Error
        return await handler(self, op, args)

    def _basic(self, item: str) -> list[str] | None:
        """V.250 basic commands: E echo, V verbose, Q quiet, Z reset, I identify, &F defaults."""
        letter, value = item[:-1].upper() if item[-1:].isdigit() else item.upper(), item[-1:]
        number = int(value) if value.isdigit() else 0
        if letter == "E":
            self.s.echo = number == 1
        elif letter == "V":
            self.s.verbose = number == 1
        elif letter == "Q":
            self.s.quiet = number == 1
        elif letter in ("&F", "&W", "X", "&C", "&D", "H", "L", "M"):
            if letter == "&F":
                self.s = Settings(echo=self.modem.echo)
        elif letter == "Z":
            self.final("OK")
            self.s = Settings(echo=self.modem.echo)
            self.modem.reset()
            return None
        elif letter == "I":
            return [self.modem.manufacturer, self.modem.model, f"Revision: {self.modem.revision}"]
        elif re.fullmatch(r"S\d+(=\d+|\?)", item.upper()):
            return ["000"] if item.endswith("?") else []
        else:
            raise Error
        return []

    # ---- data entry --------------------------------------------------------------------------
    def start_entry(self, handler: Callable[[str], Awaitable[None]]) -> None:
        self._entry, self._entry_buf = handler, bytearray()
        self.write(b"\r\n> ")  # no line end after the prompt (27.005 §3.5.1)
        self.modem.at_prompt(self)


def split_command_line(body: str) -> list[str]:
    """Commands of one line: basic ones run together (`E0V1`), extended ones end at `;`."""
    items: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c in "; ":
            i += 1
        elif c in "+^$%*":
            j, quoted = i + 1, False
            while j < len(body) and (quoted or body[j] != ";"):
                quoted ^= body[j] == '"'
                j += 1
            items.append(body[i:j].strip())
            i = j
        else:
            m = re.match(r"S\d+(=\d*|\?)|&?[A-Za-z]\d*", body[i:])
            if m is None:
                raise Error
            items.append(m.group(0))
            i += len(m.group(0))
    return items


def split_args(text: str) -> list[str]:
    out, cur, quoted = [], "", False
    for c in text:
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            out.append(cur.strip())
            cur = ""
            continue
        cur += c
    out.append(cur.strip())
    return out


def unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def as_int(text: str, low: int = 0, high: int = 255) -> int:
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise Error
    return int(text)


# ---- extended commands ----------------------------------------------------------------------------
Handler = Callable[[Session, str, list[str]], Awaitable[list[str] | None]]
EXTENDED: dict[str, Handler] = {}


def command(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for n in names:
            EXTENDED[n] = fn
        return fn

    return register


def need_sim(sess: Session, *, sms_command: bool) -> None:
    """27.005 commands answer +CMS ERROR 310/311/316, 27.007 ones +CME ERROR 10/11/12."""
    state = sess.modem.sim
    if state == "READY":
        return
    cms = {"NOT INSERTED": 310, "SIM PIN": 311, "SIM PUK": 316}.get(state, 310)
    cme = {"NOT INSERTED": 10, "SIM PIN": 11, "SIM PUK": 12}.get(state, 10)
    raise CmsError(cms) if sms_command else CmeError(cme)


@command("+CGMI", "+GMI")
async def _cgmi(sess: Session, op: str, args: list[str]) -> list[str]:
    return [] if op == "test" else [sess.modem.manufacturer]


@command("+CGMM", "+GMM")
async def _cgmm(sess: Session, op: str, args: list[str]) -> list[str]:
    return [] if op == "test" else [sess.modem.model]


@command("+CGMR", "+GMR")
async def _cgmr(sess: Session, op: str, args: list[str]) -> list[str]:
    return [] if op == "test" else [sess.modem.revision]


@command("+CGSN", "+GSN")
async def _cgsn(sess: Session, op: str, args: list[str]) -> list[str]:
    return [] if op == "test" else [sess.modem.imei]


@command("+CIMI")
async def _cimi(sess: Session, op: str, args: list[str]) -> list[str]:
    need_sim(sess, sms_command=False)
    return [] if op == "test" else [sess.modem.imsi]


@command("+CHUP", "+CNUM")
async def _noop(sess: Session, op: str, args: list[str]) -> list[str]:
    return []


@command("+CMEE")
async def _cmee(sess: Session, op: str, args: list[str]) -> list[str]:
    if op == "read":
        return [f"+CMEE: {sess.s.cmee}"]
    if op == "test":
        return ["+CMEE: (0-2)"]
    if op == "set":
        sess.s.cmee = as_int(args[0] or "0", 0, 2)
    return []


@command("+CPIN")
async def _cpin(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.007 §8.3."""
    modem = sess.modem
    if op == "test":
        return []
    if modem.sim == "NOT INSERTED":
        raise CmeError(10)
    if op == "read":
        return [f"+CPIN: {modem.sim}"]
    if op != "set" or modem.sim == "READY":
        raise CmeError(3)
    if modem.sim == "SIM PUK" or unquote(args[0]) != modem.pin:
        modem.pin_attempts += 1
        if modem.pin_attempts >= 3:
            modem.sim = "SIM PUK"
        raise CmeError(16)
    modem.sim, modem.pin_attempts = "READY", 0
    return []


def _reg_lines(sess: Session, prefix: str, n: int) -> list[str]:
    stat = sess.modem.registered_stat(packet=prefix != "+CREG")
    if n == 2:
        return [f'{prefix}: {n},{stat},"00A1","1B2C"']
    return [f"{prefix}: {n},{stat}"]


@command("+CREG", "+CGREG", "+CEREG")
async def _creg(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.007 §7.2 (+CREG), §10.1.20 (+CGREG)."""
    name = sess.current
    attr = "creg" if name == "+CREG" else "cgreg"
    if op == "read":
        return _reg_lines(sess, name, getattr(sess.s, attr))
    if op == "test":
        return [f"{name}: (0-2)"]
    if op == "set":
        setattr(sess.s, attr, as_int(args[0] or "0", 0, 2))
    return []


@command("+CSQ")
async def _csq(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.007 §8.5."""
    if op == "test":
        return ["+CSQ: (0-31,99),(0-7,99)"]
    rssi, ber = sess.modem.signal
    return [f"+CSQ: {rssi},{ber}"]


@command("+CFUN")
async def _cfun(sess: Session, op: str, args: list[str]) -> list[str] | None:
    """27.007 §8.2; `AT+CFUN=1,1` resets the modem."""
    if op == "read":
        return [f"+CFUN: {sess.modem.fun}"]
    if op == "test":
        return ["+CFUN: (0,1,4),(0,1)"]
    if op == "set":
        sess.modem.fun = as_int(args[0], 0, 4)
        if len(args) > 1 and args[1] == "1":
            sess.final("OK")
            sess.s = Settings(echo=sess.modem.echo)
            sess.modem.reset()
            return None
    return []


@command("+CSCS")
async def _cscs(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.007 §5.5. gammu needs real answers to the read and test forms."""
    if op == "read":
        return [f'+CSCS: "{sess.s.cscs}"']
    if op == "test":
        return ['+CSCS: ("IRA","GSM","UCS2")']
    if op == "set":
        value = unquote(args[0]).upper()
        if value not in ("IRA", "GSM", "UCS2"):
            raise CmeError(4)
        sess.s.cscs = value
    return []


@command("+CSCA")
async def _csca(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.3.1."""
    if op == "read":
        toa = 145 if sess.modem.smsc.startswith("+") else 129
        return [f'+CSCA: "{sess.modem.smsc}",{toa}']
    if op == "set":
        sess.modem.smsc = unquote(args[0])
    return []


@command("+CSMS")
async def _csms(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.2.1."""
    if op == "read":
        return [f"+CSMS: {sess.s.csms},1,1,1"]
    if op == "test":
        return ["+CSMS: (0,1)"]
    if op == "set":
        sess.s.csms = as_int(args[0], 0, 1)
        return ["+CSMS: 1,1,1"]
    return []


@command("+CPMS")
async def _cpms(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.2.2: one memory, "SM"."""
    if op == "test":
        return ['+CPMS: ("SM"),("SM"),("SM")']
    need_sim(sess, sms_command=True)
    used, total = len(sess.modem.storage), sess.modem.storage_size
    if op == "read":
        return [f'+CPMS: "SM",{used},{total},"SM",{used},{total},"SM",{used},{total}']
    if op == "set":
        if any(unquote(a).upper() != "SM" for a in args if a):
            raise CmsError(302)
        return [f"+CPMS: {used},{total},{used},{total},{used},{total}"]
    raise Error


@command("+CMGF")
async def _cmgf(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.2.3: 0 PDU mode, 1 text mode."""
    if op == "read":
        return [f"+CMGF: {sess.s.cmgf}"]
    if op == "test":
        return ["+CMGF: (0,1)"]
    if op == "set":
        sess.s.cmgf = as_int(args[0] or "0", 0, 1)
    return []


@command("+CNMI")
async def _cnmi(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.4.1: <mode>,<mt>,<bm>,<ds>,<bfr>."""
    if op == "read":
        return ["+CNMI: " + ",".join(str(v) for v in sess.s.cnmi)]
    if op == "test":
        return ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"]
    if op == "set":
        if len(args) > 5:
            raise CmsError(302)
        limits = (2, 3, 3, 2, 1)
        values = [as_int(a, 0, limits[k]) if a else sess.s.cnmi[k] for k, a in enumerate(args)]
        sess.s.cnmi = values + sess.s.cnmi[len(values) :]
    return []


@command("+CSMP")
async def _csmp(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.3.2 text mode parameters: <fo>,<vp>,<pid>,<dcs>."""
    if op == "read":
        return ["+CSMP: " + ",".join(str(v) for v in sess.s.csmp)]
    if op == "set":
        for k, a in enumerate(args[:4]):
            if a:
                sess.s.csmp[k] = as_int(a)
    return []


@command("+CSDH")
async def _csdh(sess: Session, op: str, args: list[str]) -> list[str]:
    if op == "read":
        return [f"+CSDH: {sess.s.csdh}"]
    if op == "set":
        sess.s.csdh = as_int(args[0] or "0", 0, 1)
    return []


@command("+CNMA")
async def _cnma(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.4.4: only with AT+CSMS=1."""
    if sess.s.csms != 1:
        raise CmsError(340)
    return []


@command("+CMGS")
async def _cmgs(sess: Session, op: str, args: list[str]) -> list[str] | None:
    """27.005 §3.5.1: `> ` prompt, then PDU (hex) or text, then Ctrl-Z."""
    if op == "test":
        return []
    if op != "set":
        raise Error
    need_sim(sess, sms_command=True)
    if sess.s.cmgf == 0:
        length = as_int(args[0], 1, 164)

        async def take_pdu(text: str) -> None:
            await _finish_send(sess, _pdu_submit(text, length))

        sess.start_entry(take_pdu)
        return None
    destination = unquote(args[0])
    if not destination:
        raise CmsError(305)

    async def take_text(text: str) -> None:
        wants = bool(sess.s.csmp[0] & 0x20)
        if sess.s.cscs == "UCS2":
            try:
                text = bytes.fromhex(text).decode("utf-16-be")
            except ValueError:
                sess.final(sess._error("+CMS ERROR", 305, CMS_TEXT))
                return
        await _finish_send(sess, sms.Submitted(destination, text, 0, wants, None, sess.s.csmp[3]))

    sess.start_entry(take_text)
    return None


def _pdu_submit(text: str, length: int) -> sms.Submitted | None:
    try:
        data = bytes.fromhex("".join(text.split()))
        _smsc, tpdu = sms.read_smsc(data)
        if len(tpdu) != length:
            return None  # <length> must count the TPDU only (27.005 §3.5.1)
        return sms.read_submit(tpdu)
    except (ValueError, IndexError):
        return None


async def _finish_send(sess: Session, sub: sms.Submitted | None) -> None:
    if sub is None:
        sess.final(sess._error("+CMS ERROR", 304, CMS_TEXT))
        return
    outcome = await sess.modem.submit(sess, sub)
    if outcome is None:
        return  # swallowed: no answer at all
    if isinstance(outcome, CmsError):
        sess.final(sess._error("+CMS ERROR", outcome.code, CMS_TEXT))
        return
    sess.line(f"+CMGS: {outcome}")
    sess.final("OK")


@command("+CMGR")
async def _cmgr(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.4.3."""
    if op == "test":
        return []
    if op != "set":
        raise Error
    need_sim(sess, sms_command=True)
    entry = sess.modem.storage.get(as_int(args[0], 0, 10_000))
    if entry is None:
        raise CmsError(321)
    lines = entry.render(sess, listing=False)
    entry.stat = 1 if entry.stat == 0 else entry.stat
    return lines


@command("+CMGL")
async def _cmgl(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.4.2: <stat> 0-4 in PDU mode, "REC UNREAD".."ALL" in text mode."""
    if op == "test":
        return ["+CMGL: (0-4)"] if sess.s.cmgf == 0 else ['+CMGL: ("REC UNREAD","REC READ","ALL")']
    need_sim(sess, sms_command=True)
    raw = args[0] if op == "set" and args[0] else ("0" if sess.s.cmgf == 0 else '"REC UNREAD"')
    if sess.s.cmgf == 0:
        wanted = as_int(raw, 0, 4)
    else:
        names = {v: k for k, v in PDU_STAT.items()}
        if unquote(raw).upper() not in names:
            raise CmsError(302)
        wanted = names[unquote(raw).upper()]
    lines: list[str] = []
    for index in sorted(sess.modem.storage):
        entry = sess.modem.storage[index]
        if wanted in (4, entry.stat):
            lines += entry.render(sess, listing=True)
            entry.stat = 1 if entry.stat == 0 else entry.stat
    return lines


@command("+CMGD")
async def _cmgd(sess: Session, op: str, args: list[str]) -> list[str]:
    """27.005 §3.5.4: <index>[,<delflag>]."""
    if op == "test":
        return [f"+CMGD: (1-{sess.modem.storage_size}),(0-4)"]
    if op != "set":
        raise Error
    need_sim(sess, sms_command=True)
    store = sess.modem.storage
    flag = as_int(args[1], 0, 4) if len(args) > 1 and args[1] else 0
    if flag == 0:
        store.pop(as_int(args[0], 0, 10_000), None)
    else:
        keep = {0: (), 1: (1,), 2: (1, 3), 3: (1, 2, 3), 4: (0, 1, 2, 3)}[flag]
        for index in [i for i, e in store.items() if e.stat in keep]:
            del store[index]
    return []
