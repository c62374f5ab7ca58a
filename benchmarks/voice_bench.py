"""Voice benchmark: callouts per minute and concurrent callouts through the pjsua2 worker pool.

    python -m benchmarks.voice_bench [--callouts 40] [--workers 5] [--concurrency 20]

The voice channel phones simulated phones (simulators/sip_phone.py) on loopback; each answers
after 0.2 s and presses 1 one second after answering. Reports callouts completed per minute
(send to acknowledgement), the most calls up at once, p50/p99 of send -> answer (with a line
to wait for once `--concurrency` calls are up: a call keeps its line while its confirmation
plays) and send -> key 1, and the talk time from each call's record. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from adapters.base import AttemptEvidence, OutboundMessage, RadioAck
from adapters.errors import ChannelError
from adapters.voice.channel import VoiceChannel, build
from simulators.sip_phone import Behaviour, SipPhone


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


async def run(callouts: int, workers: int, concurrency: int) -> None:
    phones = {str(1000 + i): Behaviour(answer_after=0.2, press="1", press_after=1.0) for i in range(callouts)}
    with tempfile.TemporaryDirectory() as d:
        async with SipPhone(phones=phones) as phone:
            ch = build(
                "voice",
                {
                    "bind_address": "127.0.0.1",
                    "uri_template": f"sip:{{address}}@127.0.0.1:{phone.port}",
                    "workers": workers,
                    "repeat": 1,
                    "speed": 300,
                    "intro": "",
                    "prompt": "Press 1.",
                    "ring_timeout": 15,
                    "digit_timeout": 5,
                    "cache_dir": str(Path(d) / "speech"),
                },
            )
            assert isinstance(ch, VoiceChannel)
            async with ch:
                await asyncio.wait_for(ch.wait_ready(), 60)
                sent_at: dict[str, float] = {}
                answered: list[float] = []
                acked: dict[str, float] = {}
                most = 0
                failed: list[str] = []
                talk: list[float] = []  # from each call's record once it ended
                recorded = asyncio.Event()
                heard = {u: asyncio.Event() for u in phones}
                gate = asyncio.Semaphore(concurrency)

                async def one(n: int, user: str) -> None:
                    nonlocal most
                    async with gate:
                        sent_at[user] = time.monotonic()
                        try:
                            await ch.send(
                                OutboundMessage(
                                    str(n), user, ("Fire at the depot.",), "INC-2026-000001", "P2", True
                                )
                            )
                        except ChannelError as exc:
                            failed.append(str(exc))
                            return
                        answered.append(time.monotonic() - sent_at[user])
                        most = max(most, ch.lines_in_use())
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(heard[user].wait(), 20)

                async def acks() -> None:
                    async for event in ch.events():
                        if isinstance(event, RadioAck):
                            acked[event.address] = time.monotonic()
                            heard[event.address].set()
                        elif isinstance(event, AttemptEvidence):
                            talk.append(float(event.evidence["talk_seconds"]))
                            if len(talk) >= callouts - len(failed):
                                recorded.set()

                started = time.monotonic()
                listener = asyncio.create_task(acks())
                await asyncio.gather(*(one(n, u) for n, u in enumerate(phones)))
                elapsed = time.monotonic() - started
                if len(talk) >= len(answered):
                    recorded.set()
                with contextlib.suppress(TimeoutError):  # the last calls' records, once they end
                    await asyncio.wait_for(recorded.wait(), 15)
                listener.cancel()
    to_ack = [acked[u] - sent_at[u] for u in acked]
    print(
        f"{callouts} callouts, {workers} workers x 4 lines, up to {concurrency} at once: "
        f"{len(acked)} acknowledged, {len(failed)} failed, in {elapsed:.1f} s = "
        f"{len(acked) / elapsed * 60:.0f} callouts/min; most calls up at once {most}; "
        f"send -> answer p50 {pct(answered, 50) * 1000:.0f} ms p99 {pct(answered, 99) * 1000:.0f} ms; "
        f"send -> key 1 p50 {pct(to_ack, 50):.2f} s p99 {pct(to_ack, 99):.2f} s; "
        f"talk time p50 {pct(talk, 50):.2f} s ({len(talk)} call records)"
    )
    for reason in sorted(set(failed)):
        print(f"  failed: {failed.count(reason)} x {reason}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--callouts", type=int, default=40)
    ap.add_argument("--workers", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=20)
    a = ap.parse_args()
    asyncio.run(run(a.callouts, a.workers, a.concurrency))


if __name__ == "__main__":
    main()
