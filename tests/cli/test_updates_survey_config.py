"""`[updates]` and `[survey]` are validated like every other section: a broken file names the file,
the key and the reason, and `callout check-config` exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.settings import load_settings
from gateway.settings_updates import Stage
from tests.cli.test_check_config import callout, write

BASE = """
[[channels]]
name = "sms"
kind = "smpp"
options = { host = "127.0.0.1", port = 2775, system_id = "callout", password = "secret" }

[[channels]]
name = "app"
kind = "webhook"
options = { url = "http://127.0.0.1:9/{address}" }

[[resources]]
id = "ENG-1"
contact_plan = [{ channel = "app", address = "E1" }]

[[stakeholders]]
id = "DM-1"
groups = ["duty-managers"]
contact_plan = [{ channel = "sms", address = "+447700900099" }]
"""
GOOD = (
    BASE
    + """
[updates]
templates = { closed = "{ref} closed ({summary})" }

[[updates.groups]]
group = "duty-managers"
stages = ["dispatched", "resolved"]
priorities = ["P1", "P2"]
every = { P1 = 1800 }
templates = { resolved = "{ref} {priority} resolved at {location}" }

[survey]
channel = "sms"
delay = 300
window = 86400
"""
)


def problems(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(p, env=False)
    assert err.value.file == str(p)
    return list(err.value.problems)


def test_a_good_file_loads_with_its_templates_and_timer(tmp_path):
    s = load_settings(write(tmp_path, GOOD), env=False)
    (group,) = s.updates.groups
    assert group.every == {"P1": 1800}
    assert group.template(Stage.RESOLVED, s.updates.templates) == "{ref} {priority} resolved at {location}"
    assert group.template(Stage.CLOSED, s.updates.templates) == "{ref} closed ({summary})"
    assert group.template(Stage.DISPATCHED, s.updates.templates).startswith("{ref} {priority}")
    assert s.survey.enabled and s.survey.delay == 300
    r = callout("check-config", str(write(tmp_path, GOOD)))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    ("change", "to", "key", "reason"),
    [
        (
            'group = "duty-managers"',
            'group = "bosses"',
            "updates.groups.0.group",
            "no stakeholder is in group",
        ),
        ("at {location}", "at {where}", "updates.groups.0.templates.resolved", "unknown placeholder {where}"),
        ("P1 = 1800", "P1 = 30", "updates.groups.0.every", "at least 60 seconds"),
        ('"resolved"]', '"escalated"]', "updates.groups.0.stages.1", "Input should be"),
        ('"resolved"]', '"timer"]', "updates.groups.0", "'timer' is not a stage to list; set `every`"),
        ("P1 = 1800", "P3 = 1800", "updates.groups.0", "P3 is not among this group's priorities"),
        ('[survey]\nchannel = "sms"', '[survey]\nchannel = "x"', "survey.channel", "unknown channel 'x'"),
        (
            'channel = "sms"',
            'channel = "app"',
            "survey.channel",
            "'app' is a webhook channel; the survey needs SMS",
        ),
        ("window = 86400", "window = 0", "survey.window", "greater than 0"),
        ("delay = 300", 'template = "Hi {name}, reply 1-5"', "survey.template", "unknown placeholder {name}"),
        ("delay = 300", 'clarify = "Reply 1-5 about {ref"', "survey.clarify", "not a valid template"),
        ("delay = 300", 'colour = "blue"', "survey.colour", "unknown key"),
    ],
)
def test_a_broken_section_names_its_key_and_reason(tmp_path, change, to, key, reason):
    assert change in GOOD
    # A reference across sections is checked on the whole file: the reason starts with its key.
    found = [
        (why.split(": ", 1)[0], why.split(": ", 1)[1]) if k == "(top level)" else (k, why)
        for k, why in problems(tmp_path, GOOD.replace(change, to))
    ]
    assert any(k == key and reason in why for k, why in found), found


def test_check_config_exits_2_naming_file_key_and_reason(tmp_path):
    p = write(tmp_path, GOOD.replace("resolved at {location}", "resolved at {where}"))
    r = callout("check-config", str(p))
    assert r.returncode == 2
    assert f"{p}: updates.groups.0.templates.resolved: unknown placeholder {{where}}" in r.stderr
