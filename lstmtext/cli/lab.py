"""The commands that look inside a model or take it elsewhere: inspect, experiment, export."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..config import SHOWN, check_inspect_options
from ..files import check_output_file
from ..store import ModelStore
from .common import MODEL_HELP, app, friendly_errors, out_console, read_prompt


@app.command()
@friendly_errors
def inspect(
    text: str = typer.Argument(..., help="The text to run the model over; - reads it from stdin."),
    show: str = typer.Option("forget", help=f"What colours the text: {', '.join(SHOWN)} (gates run from 0 to "
                                            "1, candidate and hidden from -1 to 1)."),
    layer: Optional[int] = typer.Option(None, help="Which layer, 1 at the bottom (default: the top one)."),
    unit: Optional[list[int]] = typer.Option(None, "--unit", "-u", help="A unit to show, from 0; repeat for "
                                                                        "more (default: the most telling ones)."),
    units: int = typer.Option(3, "--units", help="How many units to pick when no --unit is given."),
    html: Optional[Path] = typer.Option(None, help="Also save the view as an HTML page."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: tokens, values (per token, one "
                                                       "per unit), layer and units."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help=MODEL_HELP),
) -> None:
    """Colour TEXT by what the LSTM does at each character or token: a gate, the candidate, the cell state or
    the hidden state of a few units, picked by what they follow (quotes, position in the line, words) or by
    how much they vary, and said why. Tab-separated values in a pipe."""
    check_inspect_options(show, layer, unit or [], units)
    if html is not None:
        check_output_file(html, "--html")
    path = ModelStore().resolve(model)
    text = read_prompt(text)
    from .. import api, heatmap
    from ..files import atomic_write

    inspection = api.load(path).inspect(text, show=show, layer=layer, units=unit or None, count=units)
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
