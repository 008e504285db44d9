"""Errors a user can cause. Each message says what went wrong and how to fix it.

The CLI prints them as one line, `error: <what> — <how to fix>`, and exits with `exit_code`.
Imports nothing from the rest of the package.
"""

from __future__ import annotations


class LstmtextError(Exception):
    """Base class: a problem the user can fix. `exit_code` 2 means bad input, 1 a failure.

    One that is about an option (`field`) has a message made of two templates filled with `values`: `{name}` is
    the option's name, `{example}` a good setting of it (`values["example"]`) and `{names[other]}` another
    option's name, each spelled by the interface that shows the message (see `Spelling`); `str(error)` speaks
    the API's field names."""

    exit_code = 1

    def __init__(self, problem: str, fix: str = "", *, field: str | None = None, **values: object) -> None:
        self.field, self._templates, self._values = field, (problem, fix), values
        self.problem, self.fix = self._fill(Spelling())
        super().__init__(f"{self.problem} — {self.fix}" if self.fix else self.problem)

    def spelled(self, spelling: Spelling) -> str:
        """The message with options named the way an interface names them."""
        problem, fix = self._fill(spelling)
        return f"{problem} — {fix}" if fix else problem

    def _fill(self, spelling: Spelling) -> tuple[str, str]:
        if self.field is None and not self._values:
            return self._templates
        name = spelling.name(self.field) if self.field else ""
        example = self._values.get("example", "")
        if self.field and "example" in self._values:
            example = spelling.setting(self.field, example)
        filled = {**self._values, "example": example}
        problem, fix = (template.format(name=name, names=_Names(spelling), **filled) for template in self._templates)
        return problem, fix


class BadInput(LstmtextError):
    """The user gave something we cannot use: a missing file, a bad option value."""

    exit_code = 2


class Spelling:
    """How an interface writes an option's name and a setting of it. This one is the API's: the field name, and
    `length=200`; the CLI writes `--length` and `--length 200`, the REPL `:length 200`."""

    def name(self, field: str) -> str:
        return field

    def setting(self, field: str, value: object) -> str:
        return f"{self.name(field)}={value!r}"


class OptionError(BadInput):
    """A bad value for one option (`field`); the message's templates as in `LstmtextError`."""

    def __init__(self, field: str | None, problem: str, fix: str, **values: object) -> None:
        super().__init__(problem, fix, field=field, **values)


class _Names:
    """`{names[field]}` in a template: that field's name in the interface's spelling."""

    def __init__(self, spelling: Spelling) -> None:
        self._spelling = spelling

    def __getitem__(self, field: str) -> str:
        return self._spelling.name(field)


class CorpusError(BadInput):
    """The training or evaluation text is missing, empty, binary, not UTF-8 or too short."""


class ModelNotFound(BadInput):
    """No model under that name or path."""


class BadModelFile(BadInput):
    """A file that is not an lstmtext model (or a corrupt one, or a pickle we refuse to load)."""


class TrainingFailed(LstmtextError):
    """Training could not produce a model (e.g. the loss diverged)."""


class TrainingInterrupted(LstmtextError):
    """Ctrl-C or SIGTERM stopped training after a step; the run is saved in a checkpoint to resume from."""

    exit_code = 130

    def __init__(self, step: int | None, checkpoint: str) -> None:
        self.step, self.checkpoint = step, checkpoint
        saved = f"after step {step:,}; the run is saved in" if step is not None else "; the last checkpoint is"
        super().__init__(f"interrupted {saved} {{checkpoint}}".replace(" ;", ";"),
                         "add {example} to the same command to go on", field="resume", checkpoint=checkpoint,
                         example=True)
