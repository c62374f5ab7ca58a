"""Self-fencing (gateway/cluster/fence.py): two `callout run` nodes on one private PostgreSQL
database; north reaches it through a TCP proxy that the test pauses (a network partition) while
north is sending. North stops its sends before its leases lapse and says it is not ready; south
takes the work over and sends it again; the field app never holds one message from two senders
at once. When the partition ends, north's heartbeat is recorded again and, south gone, it sends
the rest.

The field app answers each message after 4 s, well over the 2 s lease, so a node that went on
sending after being cut off would still be mid-send when south resends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy.engine import make_url

from simulators.field_app import FieldApp
from tests.support import cluster
from tests.support.pg import private_database
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import until

UNITS = 12
FIRST = 8  # called out before the partition; the rest after it
# Room to spare: a node takes lapsed leases over only when it has a free send slot.
NODE = "[node]\nlease_seconds = 2\n[delivery]\nconcurrency = 16\n"


async def test_a_node_cut_off_from_the_database_stops_sending_before_its_leases_lapse(tmp_path: Path):
    async with (
        private_database() as db,
        FieldApp(default="silent", respond_delay=4.0) as app,
    ):
        url = make_url(db)
        assert url.host is not None and url.port is not None
        async with TcpProxy(url.host, url.port) as proxy:
            through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            units = {f"U{i:02d}": [("app", f"A{i:02d}")] for i in range(1, UNITS + 1)}
            configs = {}
            for name, store in (("south", db), ("north", through_proxy)):
                configs[name] = tmp_path / f"{name}.toml"  # each node's sends land on a path of its own
                urls = {"app": f"{app.url}/{name}/{{address}}"}
                configs[name].write_text(cluster.site(store, urls, units, extra=NODE))
            # Started from a thread: the proxy runs on this loop, and north talks through it.
            running = cluster.nodes(configs["south"], ["south", "north"], configs=configs)
            south, north = await asyncio.to_thread(running.__enter__)
            try:
                await _cut_off_and_back(db, app, proxy, south, north, sorted(units))
            finally:
                await asyncio.to_thread(running.__exit__, None, None, None)


async def _cut_off_and_back(
    db: str, app: FieldApp, proxy: TcpProxy, south: cluster.Node, north: cluster.Node, ids: list[str]
) -> None:
    """North is sending when the partition begins; see the module's docstring."""

    def sent_by(node: str) -> list[int]:
        return [int(r.body["message_id"]) for r in app.received if r.channel == node]

    # Through north's API: north hears of the work first and claims it.
    inc = await cluster.acall(north, "POST", "/api/v1/incidents", cluster.FIRE)
    ref = inc["reference"]
    await cluster.acall(north, "POST", f"/api/v1/incidents/{ref}/callout", {"resources": ids[:FIRST]})
    await until(lambda: bool(sent_by("north")), "north sending", timeout=20)
    proxy.pause()
    cut = set(sent_by("north"))  # under way at the field app (each takes 4 s)

    async def north_fenced() -> bool:
        status, body = await cluster.probe(north, "/readyz")
        return status == 503 and body["reason"].startswith("fenced")

    await until(north_fenced, "north fenced: /readyz 503", timeout=10)

    async def taken_over() -> set[int]:
        rows = await cluster.fetch(db, "SELECT attempt_id, data FROM audit WHERE kind = 'attempt.taken_over'")
        return {r["attempt_id"] for r in rows if json.loads(r["data"])["node"] == "south"}

    async def south_took_over() -> bool:
        return cut <= await taken_over()

    await until(south_took_over, "south taking over north's sends", timeout=20)
    proxy.resume()

    async def north_ready() -> bool:
        return (await cluster.probe(north, "/readyz"))[0] == 200

    await until(north_ready, "north ready once its heartbeat is recorded again", timeout=20)

    async def settled() -> bool:
        rows = await cluster.fetch(
            db, "SELECT count(*) AS n FROM attempts WHERE state IN ('pending', 'sending')"
        )
        return rows[0]["n"] == 0

    await until(settled, "the first callout sent", timeout=30)
    # North works again: with south gone, it alone sends the rest.
    south.kill()
    await cluster.acall(north, "POST", f"/api/v1/incidents/{ref}/callout", {"resources": ids[FIRST:]})
    await until(settled, "the second callout sent", timeout=30)
    attempts = await cluster.fetch(db, "SELECT id, state FROM attempts ORDER BY id")
    assert len(attempts) == len(ids) and {r["state"] for r in attempts} == {"sent"}
    assert app.overlapping == []  # never two senders of one message at once
    assert set(sent_by("north")) | set(sent_by("south")) == {r["id"] for r in attempts}  # 0 lost
    assert {r["id"] for r in attempts[FIRST:]} <= set(sent_by("north"))
