"""Proof of speech in a recording: how much of it is louder than silence (RMS by hand)."""

from __future__ import annotations

import math
import wave
from pathlib import Path

FRAME = 160  # 20 ms at 8 kHz


def voiced_seconds(path: Path, threshold: float = 300.0) -> tuple[float, float]:
    """(seconds recorded, seconds in 20 ms frames whose RMS is above `threshold`)."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    samples = memoryview(raw).cast("h")
    voiced = 0
    for start in range(0, len(samples) - FRAME + 1, FRAME):
        frame = samples[start : start + FRAME]
        if math.sqrt(sum(s * s for s in frame) / FRAME) > threshold:
            voiced += 1
    return len(samples) / rate, voiced * FRAME / rate
