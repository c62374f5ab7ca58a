"""Several `callout run` daemons as real processes on one private PostgreSQL database (tests of
docs/deployment.md). Each node is started with its own [node] name through the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.daemon import wait_for_url

TOKEN = "desk-token-000000001"


def site(
    db_url: str, channels: dict[str, str], resources: dict[str, list[tuple[str, str]]], extra: str = ""
) -> str:
    """A site file: webhook channels (name -> URL pattern) and resources (id -> plan)."""
    out = [
        f'[store]\nurl = "{db_url}"\n',
        f'[api]\ntokens = [{{ name = "desk", role = "supervisor", token = "{TOKEN}" }}]\n',
    ]
    for name, url in channels.items():
        out.append(f'[[channels]]\nname = "{name}"\nkind = "webhook"\noptions = {{ url = "{url}" }}\n')
    for rid, plan in resources.items():
        eps = ", ".join(f'{{ channel = "{c}", address = "{a}" }}' for c, a in plan)
        out.append(f'[[resources]]\nid = "{rid}"\ncapabilities = ["fire"]\ncontact_plan = [{eps}]\n')
    out.append(extra)
    return "\n".join(out)


class Node:
    def __init__(self, name: str, proc: subprocess.Popen[str], url: str) -> None:
        self.name, self.proc, self.url = name, proc, url
        self.log: list[str] = []
        # The log pipe must keep draining, or a chatty node would block on a full pipe.
        assert proc.stderr is not None
        threading.Thread(target=self.log.extend, args=(proc.stderr,), daemon=True).start()

    def call(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        req = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def start(cfg: Path, name: str, *, hosts: list[str] | None = None, env: dict[str, str] | None = None) -> Node:
    extra = {"CALLOUT_API__PORT": "0", "CALLOUT_NODE__NAME": name, "CALLOUT_LOGGING__LEVEL": "INFO"}
    if hosts is not None:
        extra["CALLOUT_NODE__HOSTS"] = json.dumps(hosts)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)],
        env={**os.environ, **extra, **(env or {})},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = wait_for_url(proc, timeout=30)
    except BaseException:
        proc.kill()
        raise
    return Node(name, proc, url)


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
