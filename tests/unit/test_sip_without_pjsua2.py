"""Without the pjsua2 wheel, the SIP package imports and its options validate; building or
entering a source raises ChannelUnavailable with the install hint (docs/style.md practice 2)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from pydantic import ValidationError

from adapters.sip.options import Options

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["pjsua2"] = None  # any `import pjsua2` now raises ImportError
    import adapters.sip, adapters.sip.channel, adapters.sip.codec, adapters.sip.options
    from adapters.sip.channel import SipSource, build
    from adapters.sip.options import Options
    from gateway.errors import ChannelUnavailable
    for make in (lambda: build("desk", {"port": 0}), lambda: SipSource(name="d", options=Options())):
        try:
            make()
        except ChannelUnavailable as exc:
            print(exc.kind, "|", exc.hint)
        else:
            raise SystemExit("no ChannelUnavailable")
    """
)


def test_missing_pjsua2_is_channel_unavailable_with_the_install_hint() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=False, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["sip | install the sip extra: pip install 'callout[sip]'"] * 2


def test_options_defaults_and_validation() -> None:
    o = Options()
    assert (o.bind_address, o.port, o.auto_answer, o.answer_delay_ms, o.max_calls) == (
        "0.0.0.0",
        5060,
        True,
        0,
        4,
    )
    assert Options(registrar="sip:pbx.example.net", username="desk1", password="s").password is not None
    for bad in (
        {"bind_address": "pbx.example.net"},  # an IP literal, not a name
        {"port": 70000},
        {"desk": "has space"},
        {"answer_delay_ms": -1},
        {"registrar": "http://pbx"},
        {"registrar": "sip:pbx.example.net"},  # no username
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            Options(**bad)
