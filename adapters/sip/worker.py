"""One desk worker process (`python -m adapters.sip.worker`): a pjsua2 desk of four lines.

The pooled SIP source (adapters/sip/pool.py) starts K of these behind its SIP front
(adapters/sip/front.py), because the pjsua2-python wheel holds four calls per process
(PJSUA_MAX_CALLS) and one Endpoint per process. Each worker runs the same desk thread as the
in-process source (adapters/sip/desk.py) and speaks one JSON object per line: the first stdin
line is its config, later lines are `answer` commands; stdout carries `ready`, `event` (a CTI
event), `health` and `result` lines (adapters/sip/wire.py encodes the events).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from adapters.sip import wire
from adapters.sip.desk import DeskConfig, DeskThread
from adapters.voice.codec import decode_line, encode


class _Out:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, message: dict[str, Any]) -> None:
        os.write(self.fd, encode(message))


async def serve(config: dict[str, Any], out: _Out) -> int:
    loop = asyncio.get_running_loop()
    desk_config = DeskConfig(**config)
    thread = DeskThread(
        desk_config,
        loop=loop,
        on_event=lambda e: out({"ev": "event", "event": wire.event_to_dict(e)}),
        on_health=lambda s, r: out({"ev": "health", "state": s.value, "reason": r}),
    )
    thread.launch()
    try:
        port = await asyncio.wrap_future(thread.started)
    except Exception as exc:
        out({"ev": "failed", "reason": str(exc)})
        return 2
    out({"ev": "ready", "port": port, "pid": os.getpid()})
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            cmd = decode_line(line)
        except ValueError:
            continue
        if cmd.get("op") == "answer":
            call_id = str(cmd.get("call_id"))
            try:
                await asyncio.wrap_future(thread.submit(lambda c=call_id: thread.answer_call(c)))  # type: ignore[misc]
                out({"ev": "result", "seq": cmd.get("seq"), "ok": True})
            except Exception as exc:
                out(
                    {
                        "ev": "result",
                        "seq": cmd.get("seq"),
                        "ok": False,
                        "error": type(exc).__name__,
                        "text": str(exc),
                    }
                )
        elif cmd.get("op") == "quit":
            break
    thread.stop()
    await asyncio.shield(asyncio.wrap_future(thread.finished))
    return 0


def main() -> int:
    config = json.loads(sys.stdin.buffer.readline() or b"{}")
    config.pop("op", None)
    out = _Out(os.dup(1))
    os.dup2(2, 1)  # pjlib prints to fd 1 from C: the protocol keeps its own copy of stdout
    return asyncio.run(serve(config, out))


if __name__ == "__main__":
    sys.exit(main())
