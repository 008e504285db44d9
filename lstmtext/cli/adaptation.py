"""The commands that score text and learn from it: eval (with --adapt, dynamic evaluation) and adapt."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import typer

from .. import ModelStore, check_output_file, check_path
from ..errors import BadInput, OptionError
from ..options import AdaptOptions
from .common import (
    FlagSpelling,
    app,
    err_console,
    friendly_errors,
    model_option,
    out_console,
    read_text_file,
    torch_on_free_cores,
)

MAX_ADAPT_BYTES = 50_000_000  # read whole into memory; a corpus this large is for `train --init-from`
ADAPT_LR_HELP = "With --adapt: the learning rate (default: the one stored in the model, chosen for its level)."


class AdaptFlags(FlagSpelling):
    """The adaptation options as these commands name them: `lr` is --adapt-lr here (--lr is training's)."""

    def name(self, field: str) -> str:
        return "--adapt-lr" if field == "lr" else super().name(field)


def checked_adapt_lr(adapt_lr: float | None) -> float | None:
    """--adapt-lr checked by the library's own rule, before any model is loaded."""
    try:
        if adapt_lr is not None:
            AdaptOptions(lr=adapt_lr)
    except OptionError as error:
        raise BadInput(error.spelled(AdaptFlags())) from None
    return adapt_lr


def with_lr(adaptation: AdaptOptions, adapt_lr: float | None) -> AdaptOptions:
    return adaptation if adapt_lr is None else replace(adaptation, lr=adapt_lr)


@contextlib.contextmanager
def reading_progress(what: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback for a long read: a Rich bar on a terminal (cleared at the end), nothing in a pipe."""
    console = err_console()
    if not console.is_terminal:
        yield None
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(what, total=None)

        def show(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)
        yield show


@app.command("eval")
@friendly_errors
def evaluate(
    file: Path = typer.Argument(..., readable=False, help="A UTF-8 text file to score."),
    model: str | None = model_option(),
    adapt: bool = typer.Option(False, "--adapt", help="Also score it while the model learns from it as it reads "
                                                      "(dynamic evaluation), beside the plain score."),
    adapt_lr: float | None = typer.Option(None, "--adapt-lr", help=ADAPT_LR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (with --adapt: "
                                                       '{"static": {...}, "adapted": {...}}).'),
) -> None:
    """Perplexity and bits/nats per character of FILE under a model. With --adapt, also as the model learns from
    FILE while reading it, each token scored by weights that have seen only the text before it."""
    check_path(file)
    if adapt_lr is not None and not adapt:
        raise BadInput("--adapt-lr applies only with --adapt", "add --adapt, or leave --adapt-lr out")
    adapt_lr = checked_adapt_lr(adapt_lr)
    path = ModelStore().resolve(model)
    from . import ui

    torch_on_free_cores()
    from .. import load

    language_model = load(path)
    evaluations = {"static": language_model.evaluate(file)}
    if adapt:
        with reading_progress("adapting") as progress:
            evaluations["adapted"] = language_model.evaluate(
                file, adapt=True, adaptation=with_lr(language_model.adaptation, adapt_lr), progress=progress)
    if as_json:
        shown = {name: evaluation.to_dict() for name, evaluation in evaluations.items()}
        typer.echo(json.dumps(shown if adapt else shown["static"]))
    else:
        out_console().print(ui.evaluation_table(evaluations, str(file)))


@app.command()
@friendly_errors
def adapt(
    model: str = typer.Argument(..., help="The model to start from: a name in the store or a .lstm file."),
    files: list[Path] = typer.Argument(..., readable=False,
                                       help="UTF-8 text files to learn from, in order (- reads stdin)."),
    name: str | None = typer.Option(None, help="Save the adapted model under this name in the store "
                                               "(default: MODEL's name with -adapted)."),
    out: Path | None = typer.Option(None, readable=False, help="Save it to this file instead of the store."),
    adapt_lr: float | None = typer.Option(None, "--adapt-lr", help="The learning rate (default: the one "
                                                                   "stored in the model)."),
) -> None:
    """Write a new model: MODEL after reading FILES once and learning from them by the rule eval --adapt uses
    (no new tokenizer), so that it completes in their style. MODEL itself is not changed."""
    store = ModelStore()
    base = store.resolve(model)
    destination = _destination(store, base, name, out)
    for file in files:
        if str(file) != "-" and check_path(file).stat().st_size > MAX_ADAPT_BYTES:
            raise BadInput(f"{file} is over {MAX_ADAPT_BYTES // 1_000_000} MB: more than a quick adaptation pass "
                           "is for", f"train on it instead: lstmtext train {file} --init-from {model}")
    texts = {str(file): read_text_file(file) for file in files}
    adapt_lr = checked_adapt_lr(adapt_lr)
    torch_on_free_cores()
    from .. import load

    language_model = load(base)
    with reading_progress("adapting") as progress:
        adapted = language_model.adapted(texts, with_lr(language_model.adaptation, adapt_lr), progress=progress)
    adapted.save(destination)
    learned = adapted.header.adapted[-1]
    if out is None:
        store.set_default(destination.stem)
    saved = f"model '{destination.stem}' (now the default)" if out is None else "the model"
    chars = sum(text["chars"] for text in learned.texts)
    out_console().print(f"saved {saved} to {destination}: {base.name} after {chars:,} characters of "
                        f"{len(files)} file(s), {learned.steps:,} steps")


def _destination(store: ModelStore, base: Path, name: str | None, out: Path | None) -> Path:
    """Where the adapted model goes: never over the model it starts from."""
    if name is not None and out is not None:
        raise BadInput("--name and --out both given", "pass one: --name saves into the store, --out to a file")
    destination = out if out is not None else store.destination_for(name or f"{base.stem}-adapted")
    store.check_writable(destination)
    check_output_file(destination, "out" if out is not None else None)
    if destination.resolve() == base.resolve():
        raise BadInput(f"{destination} is the model being adapted", "pass a new --name (or --out) to keep both")
    return destination

