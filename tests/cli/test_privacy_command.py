"""`callout privacy purge --dry-run | export | erase` as real processes on a settings file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from gateway.bus import Bus
from gateway.clock import SystemClock
from gateway.domain.models import Incident
from gateway.domain.states import Classification, IncidentState
from gateway.settings import load_settings
from gateway.store import Store
from tests.cli.test_check_config import GOOD, callout

NUMBER = "+447700900444"


async def _seed(path: Path) -> None:
    settings = load_settings(path, env=False)
    async with Store(settings.store.resolved_url(), bus=Bus(), clock=SystemClock()) as store:
        old = store.clock.now() - 200 * 86400
        for n, state in ((1, IncidentState.CLOSED), (2, IncidentState.RESOLVED)):
            inc = Incident(
                id=0,
                reference=f"INC-2026-00000{n}",
                source="call",
                state=state,
                created_at=old,
                updated_at=old,
                caller_number=NUMBER,
                caller_name="Alan Turing",
                classification=Classification.ENQUIRY,
                closed_at=old if state is IncidentState.CLOSED else None,
            )
            async with store.write() as tx:
                await tx.insert_incident(inc)


def test_purge_dry_run_export_and_erase(tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text(f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "c.db"}"\n' + GOOD)
    asyncio.run(_seed(cfg))
    r = callout("privacy", "purge", "--dry-run", "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    assert [p["reference"] for p in json.loads(r.stdout)["personal"]] == ["INC-2026-000001"]
    r = callout("privacy", "export", "--number", "+44 7700 900444", "-c", str(cfg), "--by", "dpo")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["incidents"]) == 2
    r = callout("privacy", "erase", "--number", NUMBER, "--reason", "DSR-9", "-c", str(cfg), "--by", "dpo")
    assert r.returncode == 1 and "still open: INC-2026-000002" in r.stdout
    r = callout("privacy", "export", "--number", "not a number", "-c", str(cfg))
    assert r.returncode == 2 and "--number" in r.stderr
