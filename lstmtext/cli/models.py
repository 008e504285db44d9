"""The commands about the stored models: models, info."""

from __future__ import annotations

import json

import typer

from .. import ModelStore
from .common import app, err_console, friendly_errors, model_names, model_option, out_console


@app.command()
@friendly_errors
def models(
    default: str | None = typer.Option(None, "--default", help="Make this stored model the default.",
                                       autocompletion=model_names),
) -> None:
    """List the models in the store (* marks the default)."""
    from . import ui

    store = ModelStore()
    if default is not None:
        if not store.path_for(default).is_file():
            store.resolve(default)  # says which models there are
        store.set_default(default)
        err_console().print(f"default model: {default}", style="dim")
    found = store.list()
    if not found:
        err_console().print(f"no models in {store.models_dir} yet — train one with `lstmtext train corpus.txt`")
        return
    out_console().print(ui.models_table(found))


@app.command()
@friendly_errors
def info(
    model: str | None = model_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the model's whole header as JSON."),
) -> None:
    """Show a model's configuration, training run and metrics."""
    path = ModelStore().resolve(model)
    from .. import load_header
    from . import ui

    header = load_header(path)
    if as_json:
        typer.echo(json.dumps({"path": str(path), **header.to_dict()}, indent=2))
    else:
        out_console().print(ui.info_table(header, str(path)))
        if header.card:
            out_console().print(header.card)
