"""Node identity and hosting: [node] settings, check-config on SQLite, heartbeats and
GET /api/v1/cluster with two real daemons on one private PostgreSQL database."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli.test_check_config import GOOD, callout, write
from tests.support import cluster
from tests.support.pg import private_database

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


async def test_two_nodes_see_each_other_with_their_channels(tmp_path: Path):
    async with private_database() as db:
        cfg = tmp_path / "site.toml"
        dead = "http://127.0.0.1:9/{address}"
        cfg.write_text(
            cluster.site(
                db,
                {"app": dead, "gsm": dead},
                {"ENG-1": [("app", "E1")]},
                extra="[node]\nlease_seconds = 2\n",
            )
        )
        with cluster.nodes(cfg, ["north", "south"], hosts={"south": ["app"]}) as (north, south):
            deadline = time.monotonic() + 10
            while True:
                view = south.call("GET", "/api/v1/cluster")
                names = [n["name"] for n in view["nodes"] if n["alive"] and n["api_url"]]
                if names == ["north", "south"] or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert view["clustered"] is True
            assert view["self"] == "south"
            assert names == ["north", "south"]
            by_name = {n["name"]: n for n in view["nodes"]}
            assert by_name["north"]["hosts"] == ["app", "gsm"]
            assert by_name["south"]["hosts"] == ["app"]
            assert by_name["south"]["api_url"] == south.url
            assert north.call("GET", "/api/v1/cluster")["self"] == "north"
            north.kill()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                alive = {n["name"]: n["alive"] for n in south.call("GET", "/api/v1/cluster")["nodes"]}
                if not alive["north"]:
                    break
                time.sleep(0.1)
            assert alive == {"north": False, "south": True}
