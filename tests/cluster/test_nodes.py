"""Node identity and hosting: [node] settings, check-config on SQLite, heartbeats and
GET /api/v1/cluster with two real daemons on one private PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

from simulators.field_app import FieldApp
from tests.cli.test_check_config import GOOD, callout, write
from tests.support import cluster
from tests.support.pg import private_database
from tests.support.waiting import until

UNITS = 40
NODE = "[node]\nlease_seconds = 2\n[delivery]\nconcurrency = 4\n"

PG_NODE = '\n[store]\nurl = "postgresql+asyncpg://db.invalid/callout"\n[node]\nname = "north"\n'


def test_check_config_refuses_a_node_on_sqlite(tmp_path: Path):
    r = callout("check-config", str(write(tmp_path, GOOD)), env={"CALLOUT_NODE__NAME": "north"})
    assert r.returncode == 2
    assert "several nodes share one PostgreSQL database" in r.stderr
    assert "site.toml" in r.stderr


def test_check_config_refuses_hosting_an_unknown_channel(tmp_path: Path):
    text = GOOD + PG_NODE + 'hosts = ["gsm"]\n'
    r = callout("check-config", str(write(tmp_path, text)))
    assert r.returncode == 2
    assert "node.hosts.0: unknown channel 'gsm'" in r.stderr


def test_check_config_accepts_a_node_on_postgresql(tmp_path: Path):
    text = GOOD + PG_NODE + 'hosts = ["app"]\n'
    r = callout("check-config", str(write(tmp_path, text)))
    assert r.returncode == 0, r.stderr


async def test_a_channel_hosted_nowhere_else_moves_to_the_next_endpoint(tmp_path: Path):
    """North hosts the `gsm` channel alone (a modem is local hardware), both host `app`. North is
    killed while sending: its gsm work fails over to `app`, the next endpoint of each plan."""
    units = {f"U{i:03d}": [("gsm", f"G{i:03d}"), ("app", f"A{i:03d}")] for i in range(1, UNITS + 1)}
    async with private_database() as db, FieldApp(default="silent", respond_delay=0.2) as field:
        cfg = tmp_path / "site.toml"
        urls = {"app": f"{field.url}/app/{{address}}", "gsm": f"{field.url}/gsm/{{address}}"}
        cfg.write_text(cluster.site(db, urls, units, extra=NODE))
        with cluster.nodes(cfg, ["north", "south"], hosts={"south": ["app"]}) as (north, south):
            view = await cluster.acall(south, "GET", "/api/v1/cluster")
            assert view["clustered"] is True and view["self"] == "south"
            by_name = {n["name"]: n for n in view["nodes"]}
            assert by_name["north"]["hosts"] == ["app", "gsm"] and by_name["south"]["hosts"] == ["app"]
            assert by_name["north"]["alive"] and by_name["south"]["alive"]
            assert view["timers"] in {"north", "south"}
            ready = await cluster.acall(south, "GET", "/readyz")
            assert ready["node"] == "south" and ready["channels"] == {"app": "up"}
            p2 = {**cluster.FIRE, "impact": 2}  # P2: a ladder, one endpoint at a time
            inc = await cluster.acall(south, "POST", "/api/v1/incidents", p2)
            await cluster.acall(
                south, "POST", f"/api/v1/incidents/{inc['reference']}/callout", {"resources": sorted(units)}
            )

            async def north_sending() -> bool:
                rows = await cluster.fetch(
                    db, "SELECT id FROM attempts WHERE state = 'sending' AND lease_node = 'north'"
                )
                return len(field.received) >= 5 and bool(rows)

            await until(north_sending, "north sending on gsm", timeout=20)
            north.kill()

            async def settled() -> bool:
                rows = await cluster.fetch(
                    db, "SELECT count(*) AS n FROM attempts WHERE state IN ('pending', 'sending')"
                )
                return rows[0]["n"] == 0

            await until(settled, "every delivery settled", timeout=30)
            attempts = await cluster.fetch(
                db, "SELECT delivery_id, channel, state, closed_reason FROM attempts"
            )
            sent = {r["delivery_id"] for r in attempts if r["state"] == "sent"}
            assert len(sent) == UNITS  # 0 lost
            moved = [r for r in attempts if r["channel"] == "gsm" and r["state"] != "sent"]
            assert moved and {r["closed_reason"] for r in moved} == {"channel_down"}
            assert {r["delivery_id"] for r in attempts if r["channel"] == "app"} == {
                r["delivery_id"] for r in moved
            }
            assert {r.channel for r in field.received} == {"gsm", "app"}
            alive = {
                n["name"]: n["alive"] for n in (await cluster.acall(south, "GET", "/api/v1/cluster"))["nodes"]
            }
            assert alive == {"north": False, "south": True}
