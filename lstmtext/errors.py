"""Errors a user can cause. Each message says what went wrong and how to fix it.

The CLI prints them as one line, `error: <what> — <how to fix>`, and exits with `exit_code`.
Imports nothing from the rest of the package.
"""

from __future__ import annotations


class LstmtextError(Exception):
    """Base class: a problem the user can fix. `exit_code` 2 means bad input, 1 a failure."""

    exit_code = 1

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} — {fix}" if fix else problem)


class BadInput(LstmtextError):
    """The user gave something we cannot use: a missing file, a bad option value."""

    exit_code = 2


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
        super().__init__(f"interrupted {saved} {checkpoint}".replace(" ;", ";"),
                         "add --resume to the same command to go on")
