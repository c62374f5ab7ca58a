"""Leases and takeover: two and three `callout run` nodes on one private PostgreSQL database
send 500 deliveries to a field app (webhook channel); one node is killed with SIGKILL mid-stream.
Nothing is lost or left stuck, the dead node's attempts are taken over within the lease + 2 s and
sent again under the same attempt id, and no attempt is sent twice by live nodes."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from simulators.field_app import FieldApp
from tests.support import cluster
from tests.support.pg import private_database
from tests.support.waiting import until

LEASE = 2.0
UNITS = 500
NODE = f"""
[node]
lease_seconds = {LEASE}
[delivery]
concurrency = 16
[escalation]
check_interval = 0.2
[[escalation.levels.P1]]
after = 1
action = "notify"
target = "duty"
[[stakeholders]]
id = "DUTY-1"
groups = ["duty"]
contact_plan = [{{ channel = "app", address = "DUTY" }}]
"""


async def _run(tmp_path: Path, names: list[str]) -> None:
    async with private_database() as db, FieldApp(default="silent", respond_delay=0.1) as app:
        cfg = tmp_path / "site.toml"
        units = {f"U{i:03d}": [("app", f"A{i:03d}")] for i in range(1, UNITS + 1)}
        cfg.write_text(cluster.site(db, {"app": f"{app.url}/app/{{address}}"}, units, extra=NODE))
        with cluster.nodes(cfg, names, env={"CALLOUT_API__WS_QUEUE": "100000"}) as started:
            # On a node that survives; idle nodes write no audit rows, so nothing is missed before.
            watcher = await cluster.Watch(started[-1]).__aenter__()
            start = (await cluster.fetch(db, "SELECT coalesce(max(id), 0) AS n FROM audit"))[0]["n"]
            ids = sorted(units)
            half = len(ids) // len(started)
            for k, node in enumerate(started):  # dispatched through each node's API
                chunk = ids[k * half : None if k == len(started) - 1 else (k + 1) * half]
                inc = await cluster.acall(node, "POST", "/api/v1/incidents", cluster.FIRE)
                paged = await cluster.acall(
                    node, "POST", f"/api/v1/incidents/{inc['reference']}/callout", {"resources": chunk}
                )
                assert paged["paged"] == len(chunk)
            victim = started[0]
            held: list[object] = []

            async def victim_is_sending() -> bool:
                held[:] = await cluster.fetch(
                    db, "SELECT id FROM attempts WHERE state = 'sending' AND lease_node = $1", victim.name
                )
                return len(app.received) >= UNITS // 4 and bool(held)

            await until(victim_is_sending, f"node {victim.name} sending mid-stream", timeout=20)
            victim.kill()
            killed_at = time.time()
            # What it held when it died (it may have claimed more since the poll above); its leases
            # lapse only after LEASE seconds, so nobody has taken these over yet.
            held[:] = await cluster.fetch(
                db, "SELECT id FROM attempts WHERE state = 'sending' AND lease_node = $1", victim.name
            )

            async def settled() -> bool:
                rows = await cluster.fetch(
                    db, "SELECT count(*) AS n FROM attempts WHERE state IN ('pending', 'sending')"
                )
                return rows[0]["n"] == 0

            await until(settled, "every attempt sent", timeout=30)
            attempts = await cluster.fetch(db, "SELECT id, state FROM attempts")
            assert len(attempts) == UNITS + len(started)  # one per delivery (and the duty notices)
            assert {r["state"] for r in attempts} == {"sent"}
            counts = Counter(int(r.body["message_id"]) for r in app.received)
            assert set(counts) == {r["id"] for r in attempts}  # 0 lost
            taken = await cluster.fetch(
                db, "SELECT attempt_id, at, data FROM audit WHERE kind = 'attempt.taken_over'"
            )
            taken_ids = {r["attempt_id"] for r in taken}
            assert taken_ids and taken_ids <= {r["id"] for r in held}
            twice = {mid for mid, n in counts.items() if n > 1}
            assert twice <= taken_ids  # only what was in flight on the dead node went twice
            assert all(counts[mid] <= 2 for mid in counts)
            assert {json.loads(r["data"])["from_node"] for r in taken} == {victim.name}
            first = min(r["at"] for r in taken)
            assert first - killed_at <= LEASE + 2.0, first - killed_at  # the takeover bound
            escalated = await cluster.fetch(
                db,
                "SELECT incident_id, count(*) AS n FROM audit WHERE kind = 'incident.escalated' GROUP BY 1",
            )
            assert len(escalated) == len(started) and {r["n"] for r in escalated} == {1}  # exactly once
            audit = {r["id"] for r in await cluster.fetch(db, "SELECT id FROM audit WHERE id > $1", start)}
            await until(
                lambda: watcher.ids() >= audit, "the survivor's WebSocket saw every event", timeout=10
            )
            await watcher.__aexit__()
            async with cluster.Watch(started[-1], since=start) as replay:
                await until(lambda: replay.ids() >= audit, "?since= replays every node's events", timeout=10)
            survivors = [n for n in started if n is not victim]
            view = await cluster.acall(survivors[0], "GET", "/api/v1/cluster")
            alive = {n["name"]: n["alive"] for n in view["nodes"]}
            assert alive == {n: n != victim.name for n in names}
            assert view["timers"] in {n.name for n in survivors}


async def test_two_nodes_one_killed_mid_stream(tmp_path: Path):
    await _run(tmp_path, ["north", "south"])


async def test_three_nodes_one_killed_mid_stream(tmp_path: Path):
    await _run(tmp_path, ["north", "south", "east"])
