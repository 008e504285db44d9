"""The interactive loop: type a prefix, get its completion; `:` commands change settings live.

Reading a line is a function passed in, so the loop runs the same under prompt_toolkit in a terminal,
from a pipe, or in a test.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

from rich.console import Console
from rich.text import Text

from .errors import LstmtextError
from .generate import UNTIL
from .ui import completion_text

HELP = """\
Type some text and press Enter to see how the model continues it.
  :temperature T   sampling temperature (with :sample on)     :top-k K / :top-p P   sampling filters (0: off)
  :sample on|off   sample completions instead of the most likely one
  :max-tokens N    longest completion     :until sentence|line|word|none   where a completion stops
  :settings        show the settings      :help   this text      :quit   leave (Ctrl-D too)"""

ReadLine = Callable[[str], str]  # raises EOFError at the end of input


@dataclass(frozen=True)
class Settings:
    max_tokens: int = 80
    until: str = "sentence"
    sample: bool = False
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 0.0


def _parse_setting(settings: Settings, name: str, value: str) -> Settings:
    field = name.replace("-", "_")
    if field not in {f.name for f in fields(Settings)}:
        raise ValueError(f"unknown command :{name} (try :help)")
    if field == "until":
        if value not in UNTIL:
            raise ValueError(f":until takes one of {', '.join(UNTIL)}")
        return replace(settings, until=value)
    if field == "sample":
        if value not in ("on", "off"):
            raise ValueError(":sample takes on or off")
        return replace(settings, sample=value == "on")
    kind = type(getattr(settings, field))
    try:
        parsed = kind(value)
    except ValueError:
        raise ValueError(f":{name} needs a {kind.__name__}, e.g. :{name} {getattr(settings, field)}") from None
    if parsed < 0 or (field in ("max_tokens", "temperature") and parsed == 0):
        raise ValueError(f":{name} must be positive")
    return replace(settings, **{field: parsed})


class Repl:
    def __init__(self, model, console: Console) -> None:
        self.model = model
        self.console = console
        self.settings = Settings()

    def run(self, read_line: ReadLine) -> int:
        """Loop until :quit or end of input; returns the exit code."""
        self.console.print(Text("lstmtext repl — type a prefix and press Enter; :help for commands", style="dim"))
        while True:
            try:
                line = read_line("> ")
            except EOFError:
                return 0
            except KeyboardInterrupt:
                continue
            if line.startswith(":"):
                if not self.command(line[1:].split()):
                    return 0
            elif line:
                self.show_completion(line)

    def command(self, words: list[str]) -> bool:
        """Run a `:` command; False means leave."""
        name, args = (words[0], words[1:]) if words else ("help", [])
        if name in ("quit", "q", "exit"):
            return False
        if name == "help":
            self.console.print(HELP, markup=False)
        elif name == "settings":
            self.console.print(", ".join(f"{k.replace('_', '-')}={v}" for k, v in vars(self.settings).items()))
        elif len(args) != 1:
            self.console.print(f"usage: :{name} VALUE (try :help)", style="red")
        else:
            try:
                self.settings = _parse_setting(self.settings, name, args[0])
                self.console.print(f"{name} = {args[0]}", style="dim")
            except ValueError as error:
                self.console.print(str(error), style="red")
        return True

    def show_completion(self, prefix: str) -> None:
        s = self.settings
        try:
            completion = self.model.complete(prefix, max_tokens=s.max_tokens, until=s.until, sample=s.sample,
                                             temperature=s.temperature, top_k=s.top_k or None,
                                             top_p=s.top_p or None)
        except LstmtextError as error:
            self.console.print(f"error: {error}", style="red")
            return
        line = completion_text(prefix, completion.text)
        line.append(f"   p={completion.probability:.2g}", style="dim")
        self.console.print(line, soft_wrap=True)


def terminal_line_reader(history_file: Path) -> ReadLine:
    """prompt_toolkit line editing with history on a terminal; plain lines from a pipe."""
    if not sys.stdin.isatty():
        def read_plain(prompt: str) -> str:
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            return line.rstrip("\n")
        return read_plain
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history_file.parent.mkdir(parents=True, exist_ok=True)
    session = PromptSession(history=FileHistory(str(history_file)))
    return session.prompt
