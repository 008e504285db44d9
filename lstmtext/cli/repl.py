"""The interactive loop: type a prefix and press Enter for its ranked completions, a streamed sample, or
guided writing one piece at a time; `:` commands change settings live.

Reading a line is a function passed in, so the loop runs the same under prompt_toolkit in a terminal (with
ghost text, see `terminal`), from a pipe, or in a test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from rich.console import Console
from rich.text import Text

from ..errors import LstmtextError, Spelling
from ..options import CompletionOptions, GenerationOptions
from .ui import choices_table, completions_table

MODES = ("complete", "generate", "choose")
PROMPTS = {"complete": "> ", "generate": "generate> ", "choose": "choose> "}

HELP = """\
Type some text and press Enter. While you type, the most likely continuation shows dimmed after the cursor:
Tab or Right accepts it, Alt-Right accepts one word. Ctrl-C clears the line, Ctrl-D leaves.
  :mode complete   Enter shows the most likely completions (the default)
  :mode generate   Enter streams a sample that starts with your text
  :mode choose     guided writing: pick the next piece by its number, type text to add it, empty line to finish
  :n N             how many completions or choices     :until sentence|line|word|none   where completions end
  :max-tokens N    longest completion                  :length N   tokens to generate in :mode generate
  :temperature T   sampling temperature                :top-k K / :top-p P   sampling filters (0: off)
  :sample on|off   sampled completions instead of the most likely ones
  :adapt on|off    learn from every line you enter (on by default)   :forget   back to the trained model
  :model NAME      switch to another model             :settings   show the settings    :quit   leave"""

ReadLine = Callable[[str], str]  # raises EOFError at the end of input, KeyboardInterrupt on Ctrl-C


@dataclass(frozen=True)
class Settings:
    """The mode, and the library's options Enter hands to the model (their defaults are the library's). The
    sampling options (in `generation`) serve generate mode and, with `sample` on, completions too."""

    mode: str = "complete"
    sample: bool = False
    adapt: bool = True
    completion: CompletionOptions = CompletionOptions()
    generation: GenerationOptions = GenerationOptions()

    @property
    def completion_options(self) -> CompletionOptions:
        return replace(self.completion, sampling=self.generation.sampling if self.sample else None)

    def shown(self) -> str:
        """`:settings`: each setting as its `:` command names it."""
        sampling = self.generation.sampling
        values = {"mode": self.mode, "n": self.completion.n, "until": self.completion.until,
                  "max-tokens": self.completion.max_tokens, "length": self.generation.length,
                  "sample": "on" if self.sample else "off", "adapt": "on" if self.adapt else "off",
                  "temperature": sampling.temperature,
                  "top-k": sampling.top_k or 0, "top-p": sampling.top_p or 0}
        return ", ".join(f"{name}={value}" for name, value in values.items())


class ReplSpelling(Spelling):
    """Options as the REPL names them: `:max-tokens`, and a setting as `:max-tokens 40`."""

    def name(self, field: str) -> str:
        return ":" + field.replace("_", "-")

    def setting(self, field: str, value: object) -> str:
        return f"{self.name(field)} {value}"


_CHOICES = {"mode": MODES, "sample": ("on", "off"), "adapt": ("on", "off")}
_SWITCHES = ("sample", "adapt")
# Where each other setting lives and what it reads; 0 turns top-k and top-p off.
_FIELDS = {"n": ("completion", int), "until": ("completion", str), "max_tokens": ("completion", int),
           "length": ("generation", int), "temperature": ("sampling", float), "top_k": ("sampling", int),
           "top_p": ("sampling", float)}


def parse_setting(settings: Settings, name: str, value: str) -> Settings:
    """`settings` with `:name value` applied; ValueError with a message for the user if it does not fit."""
    field = name.replace("-", "_")
    if field in _CHOICES:
        if value not in _CHOICES[field]:
            raise ValueError(f":{name} takes one of {', '.join(_CHOICES[field])}")
        return replace(settings, **{field: value == "on" if field in _SWITCHES else value})
    if field not in _FIELDS:
        raise ValueError(f"unknown command :{name} (try :help)")
    where, kind = _FIELDS[field]
    try:
        parsed = kind(value)
    except ValueError:
        raise ValueError(f":{name} needs a {kind.__name__}, e.g. :{name} {_current(settings, where, field)}") from None
    if where == "sampling" and field != "temperature" and parsed == 0:
        parsed = None
    try:  # the library's own checks
        if where == "completion":
            return replace(settings, completion=replace(settings.completion, **{field: parsed}))
        if where == "generation":
            return replace(settings, generation=replace(settings.generation, **{field: parsed}))
        sampling = replace(settings.generation.sampling, **{field: parsed})
        return replace(settings, generation=replace(settings.generation, sampling=sampling))
    except LstmtextError as error:
        raise ValueError(error.spelled(ReplSpelling())) from None


def _current(settings: Settings, where: str, field: str) -> object:
    options = {"completion": settings.completion, "generation": settings.generation,
               "sampling": settings.generation.sampling}[where]
    return getattr(options, field) or 0


class Repl:
    """The loop and its state: the model, the settings, and the draft being written in choose mode. The model
    is anything that completes (a `lstmtext.Session` or a `LanguageModel`); one that can `read` learns from the
    lines entered while `:adapt` is on."""

    def __init__(self, model, console: Console, load_model: Callable[[str], object] | None = None) -> None:
        self.model = model
        self.console = console
        self.load_model = load_model
        self.settings = Settings(adapt=hasattr(model, "read"))  # a model that cannot learn shows adapt=off
        self.draft = ""
        self.choices: list = []

    @property
    def prompt(self) -> str:
        return PROMPTS[self.settings.mode]

    def suggest(self, text: str) -> str:
        """Ghost text for a line being typed ("" in choose mode, where numbers pick pieces)."""
        if self.settings.mode == "choose" or text.startswith(":") or not text.strip():
            return ""
        try:
            return self.model.suggest(text)
        except LstmtextError:  # e.g. text that is not UTF-8: no ghost text; Enter says why
            return ""

    def run(self, read_line: ReadLine) -> int:
        """Loop until :quit or end of input; returns the exit code."""
        self.console.print(Text("lstmtext repl — type some text and press Enter; :help for commands",
                                style="dim"))
        while True:
            try:
                line = read_line(self.prompt)
            except EOFError:
                return 0
            except KeyboardInterrupt:
                continue
            if not self.handle(line):
                return 0

    def close(self) -> None:
        """Stop the model's learning thread, if it has one (a session's)."""
        getattr(self.model, "close", lambda: None)()

    def learn(self, text: str) -> None:
        """Learn from a line entered (in the background: the next keystroke does not wait)."""
        read = getattr(self.model, "read", None)
        if self.settings.adapt and read is not None and text.strip():
            read(text)

    def handle(self, line: str) -> bool:
        """Act on one line; False means leave."""
        if line.startswith(":"):
            return self.command(line[1:].split())
        try:
            if self.settings.mode == "choose":
                self.choose(line)
            elif self.settings.mode == "generate" and line:
                self.learn(line)
                self.show_sample(line)
            elif line:
                self.learn(line)
                self.show_completions(line)
        except LstmtextError as error:
            self.say_error(f"error: {error}")
        except KeyboardInterrupt:  # Ctrl-C stops what is being written, not the REPL
            self.console.print()
            self.console.print(Text("(stopped)", style="dim"))
        return True

    def say_error(self, message: str) -> None:
        """A red line, printed as it is (a `[...]` in a path or message is not Rich markup)."""
        self.console.print(Text(message, style="red"))

    def command(self, words: list[str]) -> bool:
        """Run a `:` command; False means leave."""
        name, args = (words[0], words[1:]) if words else ("help", [])
        if name in ("quit", "q", "exit"):
            return False
        if name == "help":
            self.console.print(HELP, markup=False)
        elif name == "settings":
            self.console.print(self.settings.shown())
        elif name == "forget":
            self.forget()
        elif len(args) != 1:
            self.say_error(f"usage: :{name} VALUE (try :help)")
        elif name == "model":
            self.switch_model(args[0])
        else:
            try:
                self.settings = parse_setting(self.settings, name, args[0])
                self.console.print(Text(f"{name} = {args[0]}", style="dim"))
            except ValueError as error:
                self.say_error(str(error))
                return True
            if name == "mode":
                self.draft, self.choices = "", []
        return True

    def forget(self) -> None:
        forget = getattr(self.model, "forget", None)
        if forget is None:
            self.say_error("this model does not learn here, so there is nothing to forget")
            return
        forget()
        self.console.print(Text("forgotten: back to the trained model", style="dim"))

    def switch_model(self, name: str) -> None:
        if self.load_model is None:
            self.say_error("switching models is not available here")
            return
        try:
            model = self.load_model(name)
        except LstmtextError as error:
            self.say_error(f"error: {error}")
            return
        self.close()
        self.model = model
        self.console.print(Text(f"model: {self.model.path}", style="dim"))

    def show_completions(self, prefix: str) -> None:
        completions = self.model.complete(prefix, self.settings.completion_options)
        self.console.print(completions_table(prefix, completions))

    def show_sample(self, prompt: str) -> None:
        chunks = self.model.generate(prompt, self.settings.generation)
        self.console.print(Text(prompt, style="dim"), end="")
        for chunk in chunks:
            self.console.print(Text(chunk, style="bold cyan"), end="")
            self.console.file.flush()
        self.console.print()

    def choose(self, line: str) -> None:
        """Choose mode: a number appends that piece, other text is appended as typed, an empty line finishes
        the draft. Then the next choices are shown."""
        if line.strip().isdigit() and self.choices:
            pick = int(line)
            if not 1 <= pick <= len(self.choices):
                self.say_error(f"pick a number from 1 to {len(self.choices)}")
                return
            self.draft += self.choices[pick - 1].text
        elif line:
            self.draft += line
        else:
            if self.draft:
                self.console.print(Text(self.draft, style="bold"))
                self.learn(self.draft)
            self.draft, self.choices = "", []
            return
        self.choices = self.model.next_tokens(self.draft, n=self.settings.completion.n)
        self.console.print(choices_table(self.draft, self.choices))
