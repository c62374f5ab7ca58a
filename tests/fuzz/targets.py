"""One fuzz target per decoder, seeded with the valid samples of its unit tests (which come from
the specifications: SMPP 3.4 §4 tables, 3GPP TS 23.040 PDUs, TAP 1.8 examples, AMI and SIP
captures, APRS 1.0.1 packets). A decoder that takes text gets the bytes decoded as UTF-8 with
replacement, as the channel would; a stream decoder gets the input in one piece and again split
at a point chosen from the input, so partial reads are exercised too."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from adapters.ami import codec as ami
from adapters.errors import ProtocolError
from adapters.pager_snpp import codec as snpp
from adapters.pager_tap import blocks as tap
from adapters.pager_tap.session import TapSession
from adapters.radio_kiss import aprs, aprs_position, framing
from adapters.radio_kiss.framing import Address, UIFrame
from adapters.radio_kiss.messaging import Messenger
from adapters.radio_mqtt import codec as mqtt
from adapters.sip import codec as sip
from adapters.smpp import codec as smpp
from adapters.smpp import content as smpp_content
from adapters.smpp.session import SmppSession
from adapters.sms_http import codec as sms_http
from adapters.sms_http.options import Options as SmsHttpOptions
from adapters.sms_modem import answers, pdu
from adapters.sms_modem.codec import AtSession
from adapters.webhook import codec as webhook
from gateway import replies
from tests.fuzz.mutate import Target
from tests.unit import (
    test_ami_codec,
    test_pager_tap_codec,
    test_radio_kiss_codec,
    test_radio_mqtt_codec,
    test_replies,
    test_sip_codec,
    test_smpp_codec,
    test_sms_modem_codec,
    test_sms_pdu,
)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _split(data: bytes) -> tuple[bytes, bytes]:
    cut = data[0] % (len(data) + 1) if data else 0
    return data[:cut], data[cut:]


def _stream(feed: Callable[[bytes], object]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        head, tail = _split(data)
        feed(head)
        feed(tail)

    return run


# ---- AMI (Asterisk Manager Interface) ---------------------------------------------------------
def _ami(data: bytes) -> None:
    ami.Parser().feed(data)
    _stream(ami.Parser().feed)(data)


AMI_SEEDS = [test_ami_codec.STREAM, *(raw for raw, _ in test_ami_codec.SAMPLES)]


# ---- SNPP (RFC 1861) --------------------------------------------------------------------------
def _snpp(data: bytes) -> None:
    snpp.ReplyParser().feed(data)
    _stream(snpp.ReplyParser().feed)(data)


SNPP_SEEDS = [
    b"220 SNPP (V3) Gateway Ready\r\n",
    b"250 Pager ID Accepted\r\n250 Message OK\r\n",
    b"214-PAGE <pager id>\r\n214-MESS <message>\r\n214 End of Help\r\n",
    b"354 Begin Input; End with <CRLF>'.'<CRLF>\r\n",
    b"550 Error, Invalid Pager ID\r\n421 Too Many Errors, Goodbye\r\n",
]


# ---- TAP 1.8 ------------------------------------------------------------------------------------
def _tap_block(data: bytes) -> None:
    block = tap.decode_block(data)
    tap.decode_transaction([block])


def _tap_scanner(data: bytes) -> None:
    _stream(tap.Scanner().feed)(data)
    s = tap.Scanner()
    s.expect_id = True
    s.feed(data)


def _tap_session(data: bytes) -> None:
    """The entry device's session fed a central's answers: logon, then one page in flight."""
    session = TapSession(hangup_lines=("NO CARRIER",))
    session.start(0.0)
    session.receive_data(test_pager_tap_codec.LOGON_OK, 1.0)
    session.events()
    if session.state.value == "ready":
        session.submit(["1234", "TEST PAGE"], 2.0)
    head, tail = _split(data)
    session.receive_data(head, 3.0)
    session.receive_data(tail, 4.0)
    session.tick(100.0)


TAP_BLOCKS = [b"".join(tap.encode_transaction(["1234", "HELLO WORLD"]))]
TAP_BLOCKS += tap.encode_transaction(["5551212", "x" * 300, "\x01\x1b control"])
TAP_REPLIES = [
    test_pager_tap_codec.LOGON_OK,
    b"211 Page(s) Sent Successfully\r\x06\r",
    b"213 Message Rejected\r\x15\r",
    b"\x1e\r",
    b"\x1b\x04\r",
    b"115 Goodbye\r\x1b\x04\rNO CARRIER\r\n",
]


# ---- KISS / AX.25 / APRS ----------------------------------------------------------------------
def _kiss(data: bytes) -> None:
    framing.KissDecoder().feed(data)
    _stream(framing.KissDecoder().feed)(data)


def _kiss_frame(data: bytes) -> None:
    frame = framing.decode_kiss(data)
    ui = UIFrame.decode(frame.data)
    ui.tnc2()
    aprs.parse_info(ui.info)


_ME = Address.parse("N0GW-10")


def _aprs_messenger(data: bytes) -> None:
    m = Messenger(station=_ME, destination=Address.parse("APZCLO"))
    m.submit("N0CALL-7", ["page one", "page two"], now=0.0)
    frame = UIFrame(destination=Address.parse("APZCLO"), source=Address.parse("N0CALL-7"), info=data)
    m.receive(frame, now=1.0)
    m.receive(frame, now=2.0, wall=1_764_648_000.0)  # a position's timestamp dated too


def _aprs_position(data: bytes) -> None:
    fix = aprs_position.parse_position(data)
    if fix is not None:
        assert -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180, fix
        aprs_position.observed_at(fix.timestamp, 1_764_648_000.0)


KISS_SEEDS = [*test_radio_kiss_codec.FRAMES, test_radio_kiss_codec.STREAM]
APRS_SEEDS = [
    b":N0GW-10  :ACK{5",
    b":N0GW-10  :ack1",
    b":N0GW-10  :rej1",
    b":N0GW-10  :ON SCENE{AB}1",
    b":N0GW-10  :ACK{AB}42",
    b"!4903.50N/07201.75W-",
]
POSITION_SEEDS = [
    b"!4903.50N/07201.75W-Test 001234",
    b"=/5L!!<*e7>7P[",
    b"@092345z4903.50S\\07201.75E>",
    b"/092345z4903.50N907201.75W#",
    b"@234517h4903.  N/07201.  W-",
    b"!49  .  N/072  .  W-",
    b"=a5L!!<*e7>{?!",
]


# ---- MQTT radio payloads and topics ------------------------------------------------------------
_TOPICS = mqtt.Topics("site1/callout")


def _mqtt_topic(data: bytes) -> None:
    _TOPICS.parse(_text(data))


def _mqtt_address(data: bytes) -> None:
    mqtt.parse_address(_text(data))


MQTT_UPLINKS = [raw for raw, _ in test_radio_mqtt_codec.UPLINKS]
MQTT_PRESENCE = [b"online", b"offline", b"", b'{"status":"online","gateway":"gw1"}', b'{"status":"offline"}']
MQTT_TOPICS = [
    b"site1/callout/radio/R1/up",
    b"site1/callout/radio/R1/status",
    b"site1/callout/gateway/gw-1/status",
]


# ---- SIP --------------------------------------------------------------------------------------
def _sip(data: bytes) -> None:
    raw = _text(data)
    sip.caller_identity(raw)
    start, headers = sip.split_message(raw)
    sip.request_uri(start)
    for _, value in headers:
        addr = sip.parse_name_addr(value)
        if addr is not None:
            sip.uri_number(addr.uri)


SIP_SEEDS = [sample[0].encode() for sample in test_sip_codec.SAMPLES]


# ---- SMPP 3.4 ---------------------------------------------------------------------------------
def _smpp_pdu(data: bytes) -> None:
    decoded = smpp.decode(data)
    if isinstance(decoded, smpp.DeliverSm):
        smpp_content.interpret_deliver(decoded)


def _smpp_stream(data: bytes) -> None:
    _stream(smpp.PduSplitter().feed)(data)


def _smpp_session(data: bytes) -> None:
    """A bound transceiver fed an SMSC's bytes (submit responses, receipts, garbage)."""
    session = SmppSession()
    session.connected(0.0)
    session.bind(system_id="callout", password="secret", now=0.0)
    session.receive_data(
        smpp.encode(smpp.BindResp(sequence=1, system_id="smsc", mode=smpp.BindMode.TRANSCEIVER)), 0.1
    )
    head, tail = _split(data)
    session.receive_data(head, 1.0)
    session.receive_data(tail, 2.0)
    session.events_received()
    session.tick(100.0)


def _smpp_udh(data: bytes) -> None:
    smpp_content.parse_udh(data)
    for dc in (0, 3, 8, data[0] if data else 4):
        smpp_content.decode_text(data, dc)


def _smpp_receipt(data: bytes) -> None:
    smpp_content.parse_receipt_text(_text(data))


SMPP_PDUS = [bytes.fromhex(h.replace(" ", "")) for _, h, _ in test_smpp_codec.TABLE]
SMPP_UDH = [
    bytes.fromhex("050003CC0201") + b"hello",
    bytes.fromhex("0608040001020100") + b"x",
    "Привет".encode("utf-16-be"),
]
SMPP_RECEIPTS = [
    test_smpp_codec.DLR_TEXT,
    b"id:abc sub:001 dlvrd:000 submit date:2601011200 done date:2601011201 stat:UNDELIV err:001 text:",
]


# ---- GSM modem: AT (3GPP TS 27.007 / 27.005) and SMS PDUs (3GPP TS 23.040) ---------------------
def _at_session(data: bytes) -> None:
    """A command in flight, then the modem's bytes: every line is an event, nothing raises."""
    for command in ("AT+CMGS=41", "AT+CPIN?"):
        session = AtSession()
        session.command(
            command, payload="0011000B916407281553F80000AA0AE8329BFD4697D9EC37" if "CMGS" in command else None
        )
        head, tail = _split(data)
        session.receive_data(head)
        session.receive_data(tail)
        session.events_received()


def _at_answers(data: bytes) -> None:
    """The parsers of information lines, fed one line as the modem would answer it."""
    line = data.decode("latin-1")
    info = tuple(line.splitlines()) or ("",)
    for parse in (
        answers.parse_cmgs,
        answers.parse_cpin,
        answers.parse_creg,
        answers.parse_csq,
        answers.parse_cmgr,
        answers.parse_cmgl,
    ):
        with contextlib.suppress(ProtocolError):
            parse(info)  # type: ignore[operator]
    for parse_args in (answers.parse_cmti, answers.parse_cmt):
        with contextlib.suppress(ProtocolError):
            parse_args(line)


def _sms_pdu(data: bytes) -> None:
    for decode in (pdu.decode_submit, pdu.decode_deliver, pdu.decode_status_report, pdu.decode_any):
        with contextlib.suppress(ProtocolError):
            decode(data)


AT_SEEDS = [
    b"\r\nOK\r\n",
    b"AT+CMGS=41\r\r\n> ",
    b"\r\n> \r\n+CMGS: 17\r\n\r\nOK\r\n",
    b"\r\n+CMS ERROR: 38\r\n",
    b"\r\n+CME ERROR: 10\r\n",
    b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n",
    b'\r\n+CMTI: "SM",3\r\n',
    ("\r\n+CDS: 27\r\n" + test_sms_modem_codec.CDS_PDU + "\r\n").encode(),
    ("\r\n+CMT: ,40\r\n" + test_sms_modem_codec.HELLO + "\r\n").encode(),
    b"\r\nRING\r\n\r\nNO CARRIER\r\n",
]
AT_ANSWERS = [
    b"+CMGS: 17",
    b"+CPIN: READY",
    b"+CREG: 0,1",
    b"+CSQ: 21,99",
    b'"SM",3',
    b"+CMGR: 0,,40\r\n" + test_sms_modem_codec.HELLO.encode(),
    b"+CMGL: 1,0,,40\r\n" + test_sms_modem_codec.HELLO.encode(),
]
PDU_SEEDS = [*test_sms_pdu.SAMPLES, bytes.fromhex(test_sms_modem_codec.CDS_PDU)[8:]]


# ---- HTTP channels: provider answers and callbacks, webhook answers ---------------------------
_SMS_HTTP = SmsHttpOptions(url="http://provider/messages", signature_secret="s3cret")


def _sms_http_answer(data: bytes) -> None:
    for status in (200, 202, 400, 429, 503):
        sms_http.interpret(_SMS_HTTP, status, data, retry_after=_text(data[:8]))


def _sms_http_callback(data: bytes) -> None:
    """Signed as the provider would, so the fuzz reaches the JSON mapping behind the check."""
    signature = sms_http.sign("s3cret", data, _SMS_HTTP.signature_encoding)
    headers = {_SMS_HTTP.signature_header: _SMS_HTTP.signature_prefix + signature}
    sms_http.parse_callback(_SMS_HTTP, headers, data, 1_790_000_000.0)


def _webhook_answer(data: bytes) -> None:
    for status in (200, 204, 400, 500):
        webhook.interpret(status, data)


SMS_HTTP_ANSWERS = [b'{"id":"sms-1","status":"queued"}', b'{"error":{"message":"bad number"}}', b""]
SMS_HTTP_CALLBACKS = [
    json.dumps({"type": "receipt", "id": "sms-1", "status": "delivered"}).encode(),
    json.dumps(
        [{"id": "sms-2", "status": "failed", "reason": "absent"}, {"from": "+15551234567", "text": "ACK"}]
    ).encode(),
]
WEBHOOK_ANSWERS = [b'{"ok":true}', b"", b"<html>busy</html>"]


# ---- the reply grammar ------------------------------------------------------------------------
def _replies(data: bytes) -> None:
    replies.parse_reply(_text(data))
    replies.reply_for_dtmf(_text(data[:2]))


REPLY_SEEDS = [text.encode() for text, _ in test_replies.ACCEPTED] + [b"1", b"#", b"ETA 5 MIN"]

TARGETS: list[Target] = [
    Target("ami.Parser", AMI_SEEDS, _ami),
    Target("pager_snpp.ReplyParser", SNPP_SEEDS, _snpp),
    Target("pager_tap.decode_block", TAP_BLOCKS, _tap_block),
    Target("pager_tap.parse_response", TAP_REPLIES, tap.parse_response),
    Target("pager_tap.Scanner", TAP_REPLIES, _tap_scanner),
    Target("pager_tap.unescape_field", [b"HELLO", b"\x1aA\x1a[", b"123"], tap.unescape_field),
    Target("pager_tap.TapSession", TAP_REPLIES, _tap_session),
    Target("radio_kiss.KissDecoder", KISS_SEEDS, _kiss),
    Target("radio_kiss.decode_kiss+UIFrame+aprs", KISS_SEEDS, _kiss_frame),
    Target("radio_kiss.aprs.parse_info", APRS_SEEDS, aprs.parse_info),
    Target("radio_kiss.Messenger", [*APRS_SEEDS, *POSITION_SEEDS], _aprs_messenger),
    Target("radio_kiss.aprs_position.parse_position", POSITION_SEEDS, _aprs_position),
    Target("radio_mqtt.decode_uplink", MQTT_UPLINKS, mqtt.decode_uplink),
    Target("radio_mqtt.decode_presence", MQTT_PRESENCE, mqtt.decode_presence),
    Target(
        "radio_mqtt.decode_downlink",
        [mqtt.encode_downlink(test_radio_mqtt_codec.MSG, ts=1.5)],
        mqtt.decode_downlink,
    ),
    Target("radio_mqtt.Topics.parse", MQTT_TOPICS, _mqtt_topic),
    Target("radio_mqtt.parse_address", [b"R123", b"tg:ALPHA"], _mqtt_address),
    Target("sip.codec", SIP_SEEDS, _sip),
    Target("smpp.decode", SMPP_PDUS, _smpp_pdu),
    Target("smpp.PduSplitter", SMPP_PDUS, _smpp_stream),
    Target("smpp.SmppSession", SMPP_PDUS, _smpp_session),
    Target("smpp.content.udh+text", SMPP_UDH, _smpp_udh),
    Target("smpp.content.parse_receipt_text", SMPP_RECEIPTS, _smpp_receipt),
    Target("sms_modem.AtSession", AT_SEEDS, _at_session),
    Target("sms_modem.answers", AT_ANSWERS, _at_answers),
    Target("sms_modem.pdu", PDU_SEEDS, _sms_pdu),
    Target("sms_http.interpret", SMS_HTTP_ANSWERS, _sms_http_answer),
    Target("sms_http.parse_callback", SMS_HTTP_CALLBACKS, _sms_http_callback),
    Target("webhook.interpret", WEBHOOK_ANSWERS, _webhook_answer),
    Target("gateway.replies", REPLY_SEEDS, _replies),
]
