"""What every command shares: the Typer app, the consoles, one-line errors with options spelled as flags,
reading a prompt from stdin."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
from rich.console import Console

from .. import ModelStore, __version__, check_path, check_text, decode_utf8, use_free_cores
from ..errors import LstmtextError, Spelling
from ..options import MAX_PROMPT_CHARS

# Plain help (no Rich boxes): it rewraps the docstrings to the terminal and shows no type after a flag.
app = typer.Typer(
    name="lstmtext", no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Train an LSTM language model on your own text, then complete and generate text in its style.",
)

# The flags whose names are not the option's field name with dashes (see FlagSpelling).
_FLAGS = {"n": "-n", "hidden_size": "--hidden", "embed_size": "--embed", "beam_width": "--beam",
          "activation_reg": "--ar", "temporal_reg": "--tar", "units": "--unit", "count": "--units"}


class FlagSpelling(Spelling):
    """Options as the CLI names them: `--max-tokens`, and a setting as `--max-tokens 40` (a switch alone)."""

    def name(self, field: str) -> str:
        return _FLAGS.get(field, "--" + field.replace("_", "-"))

    def setting(self, field: str, value: object) -> str:
        return self.name(field) if value is True else f"{self.name(field)} {value}"


MODEL_HELP = "Model name in the store, or a path to a .lstm file (default: $LSTMTEXT_MODEL, else the default model)."


def model_names(incomplete: str) -> list[str]:
    """Shell completion for --model: the stored models whose names start with what is typed."""
    try:
        return [model.name for model in ModelStore().list() if model.name.startswith(incomplete)]
    except (LstmtextError, OSError):
        return []


def model_option() -> typer.models.OptionInfo:
    """The --model / -m option every command that uses a model takes."""
    return typer.Option(None, "--model", "-m", help=MODEL_HELP, autocompletion=model_names)


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
            typer.echo(f"error: {error.spelled(FlagSpelling())}", err=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("error: interrupted — nothing new was saved and earlier models are untouched", err=True)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # The reader went away (`lstmtext generate | head`): stop quietly, as tools killed by SIGPIPE do, and
            # keep Python from complaining when it flushes stdout on the way out.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(128 + signal.SIGPIPE) from None
        except OSError as error:
            where = f" ({error.filename})" if error.filename else ""
            typer.echo(f"error: {error.strerror or error}{where} — check the path, permissions and free space",
                       err=True)
            raise typer.Exit(1) from None

    return wrapper


@contextlib.contextmanager
def sigterm_ends_quietly() -> Iterator[None]:
    """Within: SIGTERM ends the command like the end of its input (SystemExit(0), unwinding every `finally`, so
    worker threads are stopped before the interpreter exits), and a second one is ignored while it unwinds."""
    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def torch_on_free_cores() -> None:
    """Before a command imports the part of the API that imports torch: keep torch to the cores other programs
    leave free (the choice is made when torch starts its thread pools)."""
    use_free_cores()


def read_text_argument(text: str, what: str) -> str:
    """The text itself, or stdin for "-" without the final newline `echo` adds; checked to be UTF-8, and a
    note on stderr when it is longer than a model reads."""
    if text == "-":
        data = decode_utf8(sys.stdin.buffer.read(), f"{what} on stdin")
        text = data[:-2] if data.endswith("\r\n") else data[:-1] if data.endswith("\n") else data
    check_text(text, what)
    if len(text) > MAX_PROMPT_CHARS:
        err_console().print(f"{what} is {len(text):,} characters long: the model reads from a line or word break "
                            f"within its last {MAX_PROMPT_CHARS:,}", style="dim")
    return text


def read_text_file(path: Path) -> str:
    """The whole of a UTF-8 text file, or of stdin for "-"."""
    if str(path) == "-":
        return decode_utf8(sys.stdin.buffer.read(), "the text on stdin")
    check_path(path)
    return decode_utf8(path.read_bytes(), str(path))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lstmtext {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Train an LSTM language model on your own text, then complete and generate text in its style."""
