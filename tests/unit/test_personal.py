"""Personal data is masked in logs and exports; references and times are left alone."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import logs
from gateway.domain.personal import mask_name, mask_number, redact_fields, redact_text


def test_numbers_keep_only_their_ends():
    assert mask_number("+447700900121") == "+447*******21"
    assert mask_number("999") == "***"
    assert mask_number(None) is None


def test_names_keep_only_initials():
    assert mask_name("Ada Lovelace") == "A** L*******"


def test_free_text_masks_phone_numbers_but_not_references_or_times():
    text = "INC-2026-000042 caller +447700900121 at 2026-11-22T11:50:49.123Z, call back 07700 900121"
    out = redact_text(text)
    assert "INC-2026-000042" in out and "2026-11-22T11:50:49.123Z" in out
    assert "+447700900121" not in out and "07700 900121" not in out


def test_fields_are_masked_in_copies_only():
    data = {"caller_number": "+447700900121", "caller_name": "Ada Lovelace", "nature": "fire"}
    out = redact_fields(data)
    assert out == {"caller_number": "+447*******21", "caller_name": "A** L*******", "nature": "fire"}
    assert data["caller_number"] == "+447700900121"


@given(st.text(alphabet="0123456789", min_size=8, max_size=15))
def test_no_whole_number_survives_redaction(digits):
    assert digits not in redact_text(f"caller {digits} rang")


@pytest.fixture
def restore_logging():
    """logs.configure changes process-wide logging: put it back for the tests that follow."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("aiohttp.access", "alembic", "sqlalchemy")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in quiet.items():
        logging.getLogger(name).setLevel(lvl)


def test_log_lines_are_masked_in_plain_and_json_formats(monkeypatch, restore_logging):
    for json_format in (False, True):
        stream = io.StringIO()
        monkeypatch.setattr("sys.stderr", stream)
        logs.configure("INFO", json_format=json_format)
        logging.getLogger("test").info("call from %s", "+447700900121")
        line = stream.getvalue().strip().splitlines()[-1]
        assert "+447700900121" not in line and "+447*******21" in line
        if json_format:
            assert json.loads(line)["msg"] == "call from +447*******21"
