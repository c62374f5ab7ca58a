"""The desk console: one page, its stylesheet and its JavaScript modules, shipped in this package.

No build step and nothing fetched at run time: the files next to this module are read once, when
the routes are built, and served from memory at `/` (the page) and `/console/<file>`. Every
response carries a content-hash ETag with `Cache-Control: no-cache`, so a browser revalidates with
a cheap 304 and always runs the copy the daemon ships. The page talks only to the public API.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
INDEX = "index.html"
# The page loads only its own files and talks only to its own origin (the API and its WebSocket).
PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# Route names, for the authentication middleware: these serve static files and need no token.
ROUTE_NAMES = frozenset({"console", "console-asset"})


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """Every servable file in the package folder, by file name."""
    found: dict[str, Asset] = {}
    for entry in resources.files(__name__).iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if not entry.is_file() or suffix not in CONTENT_TYPES:
            continue
        body = entry.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:20]
        found[entry.name] = Asset(body, CONTENT_TYPES[suffix], f'"{digest}"')
    return found


def _respond(request: web.Request, asset: Asset) -> web.Response:
    headers = {
        "ETag": asset.etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if asset.content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = PAGE_POLICY
    if asset.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = asset.content_type
    return web.Response(body=asset.body, headers=headers)


def routes() -> list[web.RouteDef]:
    assets = load_assets()

    async def page(request: web.Request) -> web.Response:
        return _respond(request, assets[INDEX])

    async def asset(request: web.Request) -> web.Response:
        found = assets.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound(reason="Not Found")
        return _respond(request, found)

    return [
        web.get("/", page, name="console"),
        web.get("/console/{name}", asset, name="console-asset"),
    ]
