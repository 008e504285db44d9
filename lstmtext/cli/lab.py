"""The commands that look inside a model or take it elsewhere: inspect, experiment, export."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
from rich.console import Console

from .. import ModelStore, atomic_write, check_output_file
from ..errors import BadInput
from ..options import (
    CURRICULUM_LONG_RANGE,
    EXPORT_FORMATS,
    EXPORT_SUFFIXES,
    SHOWN,
    InspectOptions,
    LongRangeConfig,
    check_export_format,
    quick_long_range,
)
from .common import (
    app,
    err_console,
    friendly_errors,
    model_option,
    out_console,
    read_text_argument,
    torch_on_free_cores,
)


@app.command()
@friendly_errors
def inspect(
    text: str = typer.Argument(..., help="The text to run the model over; - reads it from stdin."),
    show: str = typer.Option(InspectOptions.show, help=f"What colours the text: {', '.join(SHOWN)} (gates run from "
                                                       "0 to 1, candidate and hidden from -1 to 1)."),
    layer: int | None = typer.Option(None, help="Which layer, 1 at the bottom (default: the top one)."),
    unit: list[int] | None = typer.Option(None, "--unit", "-u", help="A unit to show, from 0; repeat for "
                                                                     "more (default: the most telling ones)."),
    units: int = typer.Option(InspectOptions.count, "--units", help="How many units to pick when no --unit is given."),
    html: Path | None = typer.Option(None, readable=False, help="Also save the view as an HTML page."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: tokens, values (per token, one "
                                                       "per unit), layer and units."),
    model: str | None = model_option(),
) -> None:
    """Colour TEXT by what the LSTM does at each character or token: a gate, the candidate, the cell state or
    the hidden state of a few units, picked by what they follow (quotes, position in the line, words) or by
    how much they vary, and said why. Tab-separated values in a pipe."""
    options = InspectOptions(show, layer, tuple(unit or ()), units)
    if html is not None:
        check_output_file(html, "html")
    path = ModelStore().resolve(model)
    text = read_text_argument(text, "the text")
    from . import heatmap

    torch_on_free_cores()
    from .. import load

    inspection = load(path).inspect(text, options)
    view = heatmap.inspection_view(inspection)
    if html is not None:
        recorder = Console(record=True, file=io.StringIO(), width=100, color_system="truecolor")
        recorder.print(view)
        atomic_write(html, recorder.export_html(inline_styles=True).encode())
    console = out_console()
    if as_json:
        typer.echo(json.dumps(inspection.to_dict(), ensure_ascii=False))
    elif console.is_terminal:
        console.print(view)
    else:
        typer.echo(heatmap.inspection_lines(inspection))
        for unit in inspection.units:  # why these units: on stderr, so the values stay clean for a script
            err_console().print(f"layer {inspection.layer}, unit {unit.index}: {unit.why}", style="dim")


experiments = typer.Typer(no_args_is_help=True, help="Experiments that show what an LSTM can do, on this machine.")
app.add_typer(experiments, name="experiment")


def _numbers(option: str, text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BadInput(f"{option} '{text}' is not a list of whole numbers", f"e.g. {option} 10,50,200") from None


def _listed(values: tuple) -> str:
    return ",".join(str(value) for value in values)


@experiments.command("long-range")
@friendly_errors
def long_range(
    curriculum: bool = typer.Option(False, "--curriculum", help="Draw training gaps from 1 to the longest, short "
                                                                "ones often (default gaps "
                                                                f"{_listed(CURRICULUM_LONG_RANGE.gaps)}, "
                                                                f"{CURRICULUM_LONG_RANGE.steps:,} steps), instead of "
                                                                "the longest gap every time."),
    quick: bool = typer.Option(False, "--quick", help="A shorter run of the same setting (about two minutes on 2 "
                                                      "CPU cores)."),
    gaps: str | None = typer.Option(None, help="Gaps to score, comma-separated (default "
                                               f"{_listed(LongRangeConfig.gaps)}); the longest is also the "
                                               "longest trained on."),
    cells: str = typer.Option(_listed(LongRangeConfig.cells), help="Which networks to compare."),
    hidden: int | None = typer.Option(None, help="Units in each network's one layer (default "
                                                 f"{LongRangeConfig.hidden_size})."),
    steps: int | None = typer.Option(None, help=f"Training steps for each network (default "
                                                f"{LongRangeConfig.steps:,})."),
    lr: float | None = typer.Option(None, help=f"AdamW learning rate, the same for all (default "
                                               f"{LongRangeConfig.lr:g})."),
    seed: int = typer.Option(LongRangeConfig.seed, help="The same seed gives the same sequences, weights and table."),
    plot: Path = typer.Option(Path("long-range.png"), readable=False,
                              help="Where to save a PNG plot (needs matplotlib)."),
    no_plot: bool = typer.Option(False, "--no-plot", help="Do not save a plot."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: accuracy per cell and gap."),
) -> None:
    """Train same-size LSTM, GRU and plain RNN models to remember a subject across G filler words (the word
    after the cue depends on it: fire … smoke, panda … China) and show their accuracy at that word against G.
    By default every training sequence has the longest gap, so the gradient must cross all of it from the start
    (the gated cells' gates start open, chrono initialization); --curriculum teaches short gaps first."""
    from dataclasses import replace

    base = CURRICULUM_LONG_RANGE if curriculum else LongRangeConfig()
    base = quick_long_range(base) if quick else base
    changes = {"gaps": _numbers("--gaps", gaps) if gaps else None, "cells": tuple(cells.split(",")),
               "hidden_size": hidden, "steps": steps, "lr": lr, "seed": seed}
    config = replace(base, **{key: value for key, value in changes.items() if value is not None})
    if not no_plot:
        check_output_file(plot, "plot")
    from .. import run_long_range
    from . import experiment_view

    with _experiment_progress(config) as progress:
        result = run_long_range(config, progress)
    console = out_console()
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    elif console.is_terminal:
        console.print(experiment_view.long_range_table(result))
    else:
        typer.echo(experiment_view.long_range_lines(result))
    if not no_plot:
        image = experiment_view.plot_png(result)
        if image is None:
            err_console().print("no plot: matplotlib is not installed (pip install matplotlib)", style="dim")
        else:
            atomic_write(plot, image)
            err_console().print(f"plot saved to {plot}", style="dim")


@contextlib.contextmanager
def _experiment_progress(config: LongRangeConfig) -> Iterator[Callable[[str, int], None]]:
    """A progress callback: a Rich bar per network on a terminal (cleared at the end, also on Ctrl-C), one line
    per trained network elsewhere."""
    console = err_console()
    if not console.is_terminal:
        def report(cell: str, step: int) -> None:
            if step == config.steps:
                console.print(f"{cell}: trained {step:,} steps")
        yield report
        return
    from rich.progress import Progress

    tasks: dict[str, int] = {}
    with Progress(console=console, transient=True) as progress:
        def show(cell: str, step: int) -> None:
            if cell not in tasks:
                tasks[cell] = progress.add_task(f"training {cell}", total=config.steps)
            progress.update(tasks[cell], completed=step)
        yield show


@app.command()
@friendly_errors
def export(
    fmt: str = typer.Option(..., "--format", "-f", help=f"{' or '.join(EXPORT_FORMATS)}."),
    out: Path | None = typer.Option(None, readable=False,
                                    help="The file to write (default: the model's name with .onnx or "
                                         ".pt, in this folder)."),
    model: str | None = model_option(),
) -> None:
    """Write a model as ONNX or TorchScript for deployment: token ids and the recurrent state in, next-token
    log-probabilities and the new state out, with the tokenizer and header inside the file. The file is run once
    and its probabilities compared with lstmtext's."""
    check_export_format(fmt)  # before the model is loaded
    path = ModelStore().resolve(model)
    out = out or Path(path.stem + EXPORT_SUFFIXES[fmt])
    check_output_file(out, "out")
    torch_on_free_cores()
    from .. import load

    report = load(path).export(out, fmt)
    names = {"onnx": "ONNX", "torchscript": "TorchScript"}
    inputs, outputs = ", ".join(report.spec.inputs), ", ".join(report.spec.outputs)
    out_console().print(f"exported {path.stem} to {report.path} ({names[fmt]}, {report.size / 1e6:.1f} MB): "
                        f"inputs {inputs}; outputs {outputs}")
    if report.max_difference is None:
        err_console().print("not checked: install onnxruntime to run the file once and compare", style="dim")
    else:
        gap = f"within {report.max_difference:.1e} of" if report.max_difference else "identical to"
        err_console().print(f"checked: its next-token probabilities are {gap} lstmtext's", style="dim")
