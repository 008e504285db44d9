"""The `lstmtext` command line: a thin Typer layer over `lstmtext.api`.

Results go to stdout, progress and diagnostics to stderr. Errors a user can cause become one line,
`error: <what> — <how to fix>`, and exit code 2 (bad input) or 1 (failure). torch is imported only by the
commands that need a model, so --help and input errors stay fast. One module per group of commands, all on
the one `app` from common.py.
"""

# Each module registers its commands on `app`, in the order --help lists them.
from . import training, writing, adaptation, models, lab, serving  # noqa: F401, I001
from .common import app

__all__ = ["app", "main"]


def main() -> None:
    app()
