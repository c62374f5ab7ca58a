"""The media I/O queue bookkeeping of the SIP desk with real RTP (pure: no pjsua2, no sipp)."""

from __future__ import annotations

import pytest

from adapters.sip.media_keys import KEY_QUARANTINE, MediaKeys


def test_media_socket_bookkeeping_counts_every_invite_until_its_keys_are_free_again() -> None:
    keys = MediaKeys(calls=2)
    keys.hold("a")
    assert keys.wait(0.0) == 0.0  # room for one more
    keys.hold("a")  # a peer reusing a Call-ID still opens two more sockets
    keys.release("a", 1.0)  # both ended at t=1: their keys come back at 1 + KEY_QUARANTINE
    assert keys.wait(1.1) == pytest.approx(KEY_QUARANTINE - 0.1)
    assert keys.wait(1.0 + KEY_QUARANTINE) == 0.0 and len(keys) == 0
    keys.hold("b")
    keys.hold("no-call")  # pjsua answered it with an error: it never became a call
    keys.settle(live={"b"}, now=5.0)
    assert keys.wait(5.0) == pytest.approx(KEY_QUARANTINE)  # "b" is live, "no-call" cools down
    assert keys.wait(5.0 + KEY_QUARANTINE) == 0.0 and len(keys) == 1
