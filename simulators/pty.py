"""A pseudo-terminal for a device simulator: the host opens the slave as if it were a serial port.

The slave stays open here, in raw mode from the start, so nothing the host writes before it opens
the port is echoed or translated by the line discipline, and the host may close and reopen the
port at will (a master whose slave has no opener reads EIO). The master is non-blocking, for the
simulator's event loop. Optionally a symlink at a stable path points at the slave.
"""

from __future__ import annotations

import contextlib
import os
import tty
from pathlib import Path


class RawPty:
    def __init__(self, link: Path | None = None) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.link = link
        if link is not None:
            link.unlink(missing_ok=True)
            link.symlink_to(self.path)

    @property
    def device(self) -> str:
        """What a host opens: the link when there is one, else the pseudo-terminal itself."""
        return str(self.link) if self.link is not None else self.path

    def close(self) -> None:
        """Close both ends and remove the link if it still points at this pseudo-terminal."""
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.master = self._slave = -1
        if self.link is not None and self.link.is_symlink() and str(self.link.readlink()) == self.path:
            self.link.unlink()
