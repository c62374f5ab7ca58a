"""The SIP CTI source (pjsua2 desk endpoint) without a caller: one desk per process, a busy port,
media socket bookkeeping. The calls themselves, placed by sipp, are in
tests/peers/test_sip_source_sipp.py. pjsua2 is the `pjsua2-python` wheel; it is not skipped: when
missing, the test fails with the command that installs it.
"""

from __future__ import annotations

import importlib.util
import socket

import pytest

from gateway.errors import ChannelError
from tests.support.sip import desk


@pytest.fixture(autouse=True)
def _tools() -> None:
    if importlib.util.find_spec("pjsua2") is None:
        pytest.fail("pjsua2 is not installed: pip install pjsua2-python")


async def test_the_endpoint_is_per_process_one_desk_at_a_time_and_restartable() -> None:
    for _ in range(2):  # pjsua2's Endpoint is process-global: each desk destroys its own
        async with desk(workers=0) as first:  # the in-process desk: one Endpoint per process
            assert first.health.state == "up"
            with pytest.raises(ChannelError, match="process-wide singleton"):
                async with desk(workers=0):
                    pass
            assert first.health.state == "up"
        assert first.health.state == "down"


async def test_a_port_in_use_is_a_clear_error_and_the_endpoint_is_released() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        failed = desk(port=busy.getsockname()[1])
        with pytest.raises(ChannelError, match="could not start") as err:
            async with failed:
                pass
    assert err.value.temporary is False
    assert failed.health.state == "down" and "could not start" in failed.health.reason
    async with desk() as source:
        assert source.health.state == "up"
