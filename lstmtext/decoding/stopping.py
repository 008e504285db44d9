"""Where a completion stops: at the end of a word, line or sentence (`cut_point`, `StopRule` for searches, which
also ends a path after `max_tokens` new tokens, or after its first new token for NEXT_TOKEN), or before the first
of a continuation's stop strings (`StopWatch`)."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Protocol

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?]")


class PathSoFar(Protocol):
    """What a stop rule reads of a search's path: what it has still to re-type, and what it has added."""

    tail: bytes
    out: bytes
    new_tokens: int


NEXT_TOKEN = "token"  # a StopRule's until beside UNTIL's: stop as soon as anything new has been added


def cut_point(text: str, until: str) -> int | None:
    """Where a completion `text` should end under the `until` rule, or None to keep going."""
    content = len(text) - len(text.lstrip())
    if content == len(text) or until == "none":
        return None
    if until == "word":
        match = _WORD.search(text)
        return match.end() if match and match.end() < len(text) else None
    newline = text.find("\n", content)
    if newline != -1:
        return newline
    if until == "sentence":
        match = _SENTENCE_END.search(text, content)
        return match.end() if match else None
    return None


@dataclass(frozen=True)
class StopRule:
    until: str
    max_tokens: int

    def finished_text(self, path: PathSoFar) -> str | None:
        """The completion's text if `path` is finished, else None."""
        if path.tail:
            return None
        text = codecs.getincrementaldecoder("utf-8")("replace").decode(path.out, final=False)
        if self.until == NEXT_TOKEN:
            return text or None
        cut = cut_point(text, self.until)
        if cut is not None:
            return text[:cut]
        return text if path.new_tokens >= self.max_tokens else None


class StopWatch:
    """Where an OpenAI-style continuation must end (before the first stop string it writes), and how much of it is
    safe to show before it does."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops

    def cut(self, text: str) -> int | None:
        found = [at for at in (text.find(stop) for stop in self.stops) if at != -1]
        return min(found) if found else None

    def safe(self, text: str) -> int:
        """The length of `text` that cannot be the start of a stop string."""
        held = max((size for stop in self.stops for size in range(1, min(len(stop), len(text) + 1))
                    if text.endswith(stop[:size])), default=0)
        return len(text) - held
