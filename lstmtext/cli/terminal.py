"""Line editing for the REPL with prompt_toolkit: history, and ghost text — the model's best continuation shown
dimmed after the cursor as you type, as the fish shell does.

The continuation is computed in a worker thread, so typing never waits for the model. prompt_toolkit runs
one suggestion at a time and, when the line changed meanwhile, drops the stale result and asks again for the
current line. When you type the very characters the ghost text shows, the rest of it is kept at once.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.application.current import get_app
from prompt_toolkit.auto_suggest import AutoSuggest, Suggestion
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.eventloop import run_in_executor_with_context
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from .repl import ReadLine

_FIRST_WORD = re.compile(r"\W*\w+")


class GhostText(AutoSuggest):
    """Suggests `continuation(line)` for the line being typed."""

    def __init__(self, continuation: Callable[[str], str]) -> None:
        self.continuation = continuation
        self._last: tuple[str, str] = ("", "")  # the last line computed, with its continuation

    def get_suggestion(self, buffer: Buffer, document: Document) -> Suggestion | None:
        text = document.text
        suggestion = self.continuation(text)
        self._last = (text, suggestion)
        return Suggestion(suggestion) if suggestion else None

    async def get_suggestion_async(self, buffer: Buffer, document: Document) -> Suggestion | None:
        kept = self._still_matching(document.text)
        if kept:
            return Suggestion(kept)
        return await run_in_executor_with_context(self.get_suggestion, buffer, document)

    def _still_matching(self, text: str) -> str:
        """What is left of the last ghost text if the line grew by exactly its first characters."""
        last_text, last_suggestion = self._last
        whole = last_text + last_suggestion
        if last_text and text.startswith(last_text) and whole.startswith(text):
            return whole[len(text):]
        return ""


def ghost_text_bindings() -> KeyBindings:
    """Tab accepts the whole ghost text and Alt-Right one word of it (Right, Ctrl-E and Ctrl-F accept it
    all and Alt-F one word: prompt_toolkit's own bindings)."""
    bindings = KeyBindings()

    @Condition
    def ghost_text_shown() -> bool:
        buffer = get_app().current_buffer
        return bool(buffer.suggestion and buffer.suggestion.text) and buffer.document.is_cursor_at_the_end

    @bindings.add("tab", filter=ghost_text_shown)
    def _accept(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text(event.current_buffer.suggestion.text)

    @bindings.add("escape", "right", filter=ghost_text_shown)
    def _accept_word(event: KeyPressEvent) -> None:
        text = event.current_buffer.suggestion.text
        word = _FIRST_WORD.match(text)
        event.current_buffer.insert_text(word.group(0) if word else text)

    return bindings


class TerminalReader:
    """Reads lines with prompt_toolkit; `input` and `output` can be swapped for a pipe in tests."""

    def __init__(self, continuation: Callable[[str], str], history_file: Path, *, input=None, output=None) -> None:
        history_file.parent.mkdir(parents=True, exist_ok=True)
        self.session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history_file)), auto_suggest=GhostText(continuation),
            key_bindings=ghost_text_bindings(), input=input, output=output)

    def __call__(self, prompt: str) -> str:
        return self.session.prompt(prompt)


def line_reader(continuation: Callable[[str], str], history_file: Path) -> ReadLine:
    """prompt_toolkit with ghost text and history on a terminal; plain lines from a pipe."""
    if sys.stdin.isatty():
        return TerminalReader(continuation, history_file)

    def read_plain(prompt: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    return read_plain
