"""The `lstmtext` command line: a thin Typer layer over `lstmtext.api`.

Results go to stdout, progress and diagnostics to stderr. Errors a user can cause become one line,
`error: <what> — <how to fix>`, and exit code 2 (bad input) or 1 (failure). torch is imported only by the
commands that need a model, so --help and input errors stay fast. One module per group of commands, all on
the one `app` from common.py.
"""

from . import text, adaptation, models, lab, serving  # noqa: F401, I001  (they register their commands, in this order)
from .common import app

__all__ = ["app", "main"]


def main() -> None:
    app()
