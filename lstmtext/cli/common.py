"""What every command shares: the Typer app, the consoles, one-line errors, reading a prompt from stdin."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

import typer
from rich.console import Console

from .. import __version__
from ..errors import LstmtextError

app = typer.Typer(
    name="lstmtext", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Train an LSTM language model on your own text, then complete and generate text in its style.",
)

MODEL_HELP = "Model name in the store, or a path to a .lstm file (default: $LSTMTEXT_MODEL, else the default model)."


def _console(stderr: bool = False) -> Console:
    """A console that never hard-wraps, and writes no colour or style codes when NO_COLOR is set."""
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(stderr=stderr, highlight=False, soft_wrap=True, color_system=None if plain else "auto")


def out_console() -> Console:
    return _console()


def err_console() -> Console:
    return _console(stderr=True)


def friendly_errors(command: Callable) -> Callable:
    """Turn the errors a user can cause into one stderr line and an exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except LstmtextError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("error: interrupted — nothing new was saved and earlier models are untouched", err=True)
            raise typer.Exit(130) from None
        except OSError as error:
            where = f" ({error.filename})" if error.filename else ""
            typer.echo(f"error: {error.strerror or error}{where} — check the path, permissions and free space",
                       err=True)
            raise typer.Exit(1) from None

    return wrapper


def read_prompt(text: str) -> str:
    """The prompt itself, or stdin for "-" without the final newline `echo` adds."""
    if text != "-":
        return text
    data = sys.stdin.read()
    return data[:-2] if data.endswith("\r\n") else data[:-1] if data.endswith("\n") else data


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lstmtext {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Train an LSTM language model on your own text, then complete and generate text in its style."""
