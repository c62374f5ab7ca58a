"""The unit-status table (gateway/domain/states.py): every move the gateway makes itself."""

from __future__ import annotations

import pytest

from gateway.domain.states import NOT_DISPATCHABLE, UNIT_TRANSITIONS, UnitStatus, check_unit_transition
from gateway.errors import IllegalTransition
from gateway.replies import ReplyKind
from gateway.services.acks import REPLY_STATUS

U = UnitStatus


def test_every_status_has_a_row() -> None:
    assert set(UNIT_TRANSITIONS) == set(UnitStatus)


@pytest.mark.parametrize("current", list(UnitStatus))
def test_a_reply_or_a_decline_applies_whatever_the_unit_was_doing(current: UnitStatus) -> None:
    for kind in (ReplyKind.EN_ROUTE, ReplyKind.ON_SCENE, ReplyKind.CLEAR):
        check_unit_transition("U1", current, REPLY_STATUS[kind])
    check_unit_transition("U1", current, U.AVAILABLE)  # DECLINE


def test_only_an_out_of_service_or_unavailable_unit_cannot_be_dispatched() -> None:
    assert frozenset({U.OUT_OF_SERVICE, U.UNAVAILABLE}) == NOT_DISPATCHABLE
    for current in set(UnitStatus) - NOT_DISPATCHABLE:
        check_unit_transition("U1", current, U.DISPATCHED)


def test_the_gateway_never_infers_returning_or_out_of_service() -> None:
    with pytest.raises(IllegalTransition):
        check_unit_transition("U1", U.ON_SCENE, U.RETURNING)
    with pytest.raises(IllegalTransition):
        check_unit_transition("U1", U.AVAILABLE, U.OUT_OF_SERVICE)
    check_unit_transition("U1", U.RETURNING, U.RETURNING)  # staying put is no transition
