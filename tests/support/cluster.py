"""Several `callout run` daemons as real processes on one private PostgreSQL database (tests of
docs/deployment.md). Each node is started with its own [node] name through the environment."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.daemon import TOKEN, Daemon, start

Node = Daemon  # one node of several
__all__ = ["TOKEN", "Node", "start"]


def site(
    db_url: str,
    channels: dict[str, str],
    resources: dict[str, list[tuple[str, str]]],
    extra: str = "",
    data_dir: Path | None = None,
) -> str:
    """A site file: webhook channels (name -> URL pattern) and resources (id -> plan); `db_url`
    empty: SQLite in `data_dir`."""
    folder = f'data_dir = "{data_dir}"\n' if data_dir is not None else ""
    out = [
        f'[store]\nurl = "{db_url}"\n{folder}',
        f'[api]\ntokens = [{{ name = "desk", role = "supervisor", token = "{TOKEN}" }}]\n',
    ]
    for name, url in channels.items():
        out.append(f'[[channels]]\nname = "{name}"\nkind = "webhook"\noptions = {{ url = "{url}" }}\n')
    for rid, plan in resources.items():
        eps = ", ".join(f'{{ channel = "{c}", address = "{a}" }}' for c, a in plan)
        out.append(f'[[resources]]\nid = "{rid}"\ncapabilities = ["fire"]\ncontact_plan = [{eps}]\n')
    out.append(extra)
    return "\n".join(out)


@contextmanager
def nodes(
    cfg: Path,
    names: list[str],
    hosts: dict[str, list[str]] | None = None,
    env: dict[str, str] | None = None,
    configs: dict[str, Path] | None = None,
) -> Iterator[list[Node]]:
    """Start the nodes in order; `configs`: a site file of its own for some node (by name)."""
    started: list[Node] = []
    try:
        for n in names:
            started.append(start((configs or {}).get(n, cfg), n, hosts=(hosts or {}).get(n), env=env))
        yield started
    finally:
        for node in started:
            if node.proc.poll() is None:
                node.proc.terminate()
        for node in started:
            try:
                node.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                node.proc.kill()


async def acall(node: Node, method: str, path: str, body: Any = None) -> Any:
    """The same call from an async test, so simulators on the test's loop keep running."""
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            f"{node.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as resp,
    ):
        assert resp.status < 300, (resp.status, await resp.text())
        return await resp.json()


async def probe(node: Node, path: str) -> tuple[int, Any]:
    """A call that may fail: the HTTP status and the JSON body (e.g. /readyz answering 503)."""
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{node.url}{path}", timeout=aiohttp.ClientTimeout(total=30)) as resp,
    ):
        return resp.status, await resp.json()


async def fetch(db_url: str, sql: str, *args: Any) -> list[Any]:
    """Rows straight from the shared database (what every node sees)."""
    import asyncpg

    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


FIRE = {"nature": "Fire alarm", "location": "Depot", "category": "fire", "impact": 1, "urgency": 1}


class Watch:
    """A WebSocket on one node's /api/v1/events, collecting every event it sends."""

    def __init__(self, node: Node, since: int | None = None) -> None:
        self.node, self.since = node, since
        self.events: list[dict[str, Any]] = []

    async def __aenter__(self) -> Watch:
        import asyncio

        import aiohttp

        self._session = aiohttp.ClientSession()
        query = "" if self.since is None else f"?since={self.since}"
        self._ws = await self._session.ws_connect(
            f"{self.node.url}/api/v1/events{query}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        self._task = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        async for msg in self._ws:
            self.events.append(msg.json())

    def ids(self) -> set[int]:
        return {e["id"] for e in self.events if e.get("id") is not None}

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        await self._ws.close()
        await self._session.close()
