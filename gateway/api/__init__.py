"""The HTTP API (aiohttp): incidents, dispatch, resources, channels, live events, probes.

`build_app(gw)` builds the application; `ApiServer(gw, host, port)` runs it on a TCP port for the
body of an `async with`. Routes live under /api/v1; see each module for its part.
"""

from gateway.api.app import build_app
from gateway.api.server import ApiServer

__all__ = ["ApiServer", "build_app"]
