"""The one policy that fits a message to a channel's length limit.

Whitespace runs become single spaces and the text is stripped. A text that fits is sent as one
part. Otherwise, when the channel allows several parts, the text is split on word boundaries
(a word longer than a part is cut) into parts that each fit, prefix included ("1/3 " when
numbered). If even `max_parts` parts are not enough, or only one part is allowed, the (last)
part is cut and ends with "..." — plain ASCII, so 7-bit pager channels can carry it.
"""

from __future__ import annotations

from dataclasses import dataclass

ELLIPSIS = "..."
MIN_LENGTH = 8
# Room a part needs besides its prefix: at least one character of text and the ellipsis.
_MIN_BODY = len(ELLIPSIS) + 1


@dataclass(frozen=True)
class FitResult:
    parts: tuple[str, ...]
    truncated: bool
    split: bool


def _prefix_len(parts: int, numbered: bool) -> int:
    """Length of the widest "k/n " prefix for `parts` parts (k never has more digits than n)."""
    return 2 * len(str(parts)) + 2 if numbered else 0


def _next_chunk(text: str, pos: int, budget: int) -> tuple[str, int]:
    """The chunk of at most `budget` characters starting at `pos`, and where the next one starts."""
    if len(text) - pos <= budget:
        return text[pos:], len(text)
    window = text[pos : pos + budget + 1]
    cut = window.rfind(" ")
    if cut > 0:
        return text[pos : pos + cut], pos + cut + 1
    # A word longer than a part: cut it hard.
    end = pos + budget
    return text[pos:end], end + 1 if end < len(text) and text[end] == " " else end


def _chunks(text: str, budget: int, limit: int) -> tuple[list[str], int]:
    """Greedy word-boundary chunks; stops after `limit` chunks. Returns them and the end offset."""
    out: list[str] = []
    pos = 0
    while pos < len(text) and len(out) < limit:
        chunk, pos = _next_chunk(text, pos, budget)
        out.append(chunk)
    return out, pos


def _truncate(text: str, limit: int) -> str:
    """Cut `text` (longer than `limit`) to at most `limit` characters ending with the ellipsis."""
    room = limit - len(ELLIPSIS)
    head = text[:room]
    if text[room] != " ":
        # Prefer ending on a word boundary if that does not throw away most of the text.
        space = head.rfind(" ")
        if space >= room // 2 and space > 0:
            head = head[:space]
    return head.rstrip() + ELLIPSIS


def _number(chunks: list[str], numbered: bool) -> tuple[str, ...]:
    if not numbered:
        return tuple(chunks)
    total = len(chunks)
    return tuple(f"{k}/{total} {chunk}" for k, chunk in enumerate(chunks, start=1))


def fit_message(text: str, *, max_length: int, max_parts: int = 1, numbered: bool = True) -> FitResult:
    """Fit `text` into at most `max_parts` parts of at most `max_length` characters each."""
    if max_length < MIN_LENGTH:
        raise ValueError(f"max_length must be at least {MIN_LENGTH}, got {max_length}")
    if max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, got {max_parts}")
    text = " ".join(text.split())
    if len(text) <= max_length:
        return FitResult(parts=(text,), truncated=False, split=False)
    if max_parts == 1:
        return FitResult(parts=(_truncate(text, max_length),), truncated=True, split=False)

    # Never plan more parts than leave room for some text and an ellipsis after the prefix.
    usable = max_parts
    while usable > 2 and max_length - _prefix_len(usable, numbered) < _MIN_BODY:
        usable = min(usable - 1, 10 ** (len(str(usable)) - 1) - 1)

    # The prefix only widens when the part count gains a digit, so try one budget per width.
    width = 1
    while True:
        most = min(usable, 10**width - 1)
        budget = max_length - _prefix_len(most, numbered)
        chunks, end = _chunks(text, budget, most)
        if end >= len(text):
            return FitResult(parts=_number(chunks, numbered), truncated=False, split=True)
        if most == usable:
            break
        width += 1

    # Not enough parts: keep `usable` of them and cut the last one short.
    kept, end = _chunks(text, budget, usable - 1)
    kept.append(_truncate(text[end:], budget))
    return FitResult(parts=_number(kept, numbered), truncated=True, split=True)
