"""Text to speech with espeak-ng (Debian package `espeak-ng`), rendered to WAV at send time and
cached per text, voice and speed, so a message repeated to twenty responders is rendered once."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

from adapters.errors import ChannelError, ChannelUnavailable

INSTALL_HINT = "espeak-ng is not installed: apt-get install espeak-ng"


def espeak_binary() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise ChannelUnavailable("voice", INSTALL_HINT)
    return path


class Speech:
    """Renders text to WAV files under `cache_dir`; one render per distinct text at a time."""

    def __init__(self, *, cache_dir: Path, voice: str, speed: int, channel: str) -> None:
        self.cache_dir = cache_dir
        self.voice = voice
        self.speed = speed
        self.channel = channel
        self.binary = espeak_binary()
        self._renders: dict[Path, asyncio.Future[Path]] = {}
        self.rendered = 0  # how many texts espeak-ng rendered (the rest came from the cache)

    def path_for(self, text: str) -> Path:
        key = hashlib.sha256(f"{self.voice}\0{self.speed}\0{text}".encode()).hexdigest()[:24]
        return self.cache_dir / f"{key}.wav"

    async def render(self, text: str) -> Path:
        path = self.path_for(text)
        if path.exists():
            return path
        pending = self._renders.get(path)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._renders[path] = fut
        try:
            await self._espeak(text, path)
            fut.set_result(path)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: a failure with no other waiter is not "never retrieved"
            raise
        finally:
            del self._renders[path]
        return path

    async def _espeak(self, text: str, path: Path) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.wav")
        proc = await asyncio.create_subprocess_exec(
            self.binary,
            "-v",
            self.voice,
            "-s",
            str(self.speed),
            "-w",
            str(tmp),
            "--",
            text,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0 or not tmp.exists():
            raise ChannelError(
                f"espeak-ng failed ({proc.returncode}): {err.decode(errors='replace').strip()[:200]}",
                channel=self.channel,
                temporary=False,
            )
        tmp.replace(path)
        self.rendered += 1
