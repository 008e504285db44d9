"""The commands that write with a model: complete, generate, repl."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from .. import ModelStore
from ..errors import BadInput
from ..options import (
    MAX_CONTEXT_CHARS,
    CompletionOptions,
    GenerationOptions,
    Sampling,
    completion_options,
)
from .common import (
    app,
    err_console,
    friendly_errors,
    model_option,
    out_console,
    read_text_argument,
    read_text_file,
    sigterm_ends_quietly,
    torch_on_free_cores,
)

_LONG_CONTEXT_CHARS = 20_000  # about 3 s for a char-level model on 2 cores: say what is taking the time


@app.command()
@friendly_errors
def complete(
    prefix: str = typer.Argument(..., help="The text to continue; - reads it from stdin (one final newline "
                                           "dropped). It may end inside a word."),
    count: int = typer.Option(CompletionOptions.n, "-n", "--count", help="How many completions, most likely "
                                                                         "first."),
    model: str | None = model_option(),
    until: str = typer.Option(CompletionOptions.until, help="Stop at the end of the sentence, line or word (or "
                                                            "none)."),
    max_tokens: int = typer.Option(CompletionOptions.max_tokens, help="Most tokens to add."),
    beam: int | None = typer.Option(None, help="Beam width, at least -n (default: twice -n, at least 4)."),
    normalize: bool = typer.Option(False, "--normalize", help="Rank by probability per token, which favours "
                                                              "longer completions."),
    sample: bool = typer.Option(False, "--sample", help="Sample completions instead of searching for the "
                                                        "most likely ones."),
    temperature: float | None = typer.Option(None, help="With --sample: below 1 safer, above 1 wilder "
                                                        f"(default: {Sampling.temperature:g})."),
    top_k: int | None = typer.Option(None, help="With --sample: only the K most likely tokens."),
    top_p: float | None = typer.Option(None, help="With --sample: only the most likely tokens covering P."),
    seed: int | None = typer.Option(None, help="With --sample: the same seed gives the same completions."),
    context: Path | None = typer.Option(None, readable=False,
                                        help="A file (- reads stdin) of the text written so far: the "
                                             "model learns from it first, as eval --adapt does."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: completions with probabilities "
                                                       "and per-token log-probs, settings and timing."),
) -> None:
    """The most likely continuations of PREFIX with their probabilities (beam search), up to the end of the
    sentence. A table on a terminal; one `text<TAB>probability` line each in a pipe."""
    started = time.perf_counter()
    sampling = {field: value for field, value in {"temperature": temperature, "top_k": top_k, "top_p": top_p,
                                                   "seed": seed}.items() if value is not None}
    options = completion_options(n=count, until=until, max_tokens=max_tokens, beam_width=beam, normalize=normalize,
                                 sample=sample, **sampling)
    path = ModelStore().resolve(model)
    if prefix == "-" and str(context) == "-":
        raise BadInput("the prompt and --context both read stdin", "pass one of them as a file or as text")
    prefix = read_text_argument(prefix, "the prompt")
    written = read_text_file(context) if context is not None else None
    from . import ui

    torch_on_free_cores()
    from .. import load

    language_model = load(path)
    loaded = time.perf_counter()
    if written is not None:
        if len(written) > _LONG_CONTEXT_CHARS:
            err_console().print(f"learning from the last {min(len(written), MAX_CONTEXT_CHARS):,} characters of "
                                "the context …", style="dim")
        language_model = language_model.session()
        language_model.read(written, wait=True)
    adapted = time.perf_counter()
    completions = language_model.complete(prefix, options)
    finished = time.perf_counter()
    if as_json:
        timing = {"load": _ms(loaded - started), **({"adapt": _ms(adapted - loaded)} if written is not None else {}),
                  "complete": _ms(finished - adapted), "total": _ms(finished - started)}
        typer.echo(_completions_json(prefix, completions, _settings(path, options), timing))
        return
    console = out_console()
    if not completions:
        err_console().print("no completion found — try a larger --max-tokens or --beam")
    elif console.is_terminal:
        how = "sampled" if sample else f"beam width {options.beam}"
        console.print(ui.completions_table(prefix, completions, f"{how}, {_ms(finished - adapted):.0f} ms"))
    else:
        typer.echo(ui.completion_lines(prefix, completions))


def _settings(model: Path, options: CompletionOptions) -> dict:
    """The settings a completion ran with, for --json."""
    sampling = options.sampling
    search = ({"sample": True, "temperature": sampling.temperature, "top_k": sampling.top_k,
               "top_p": sampling.top_p, "seed": sampling.seed} if sampling is not None
              else {"sample": False, "beam_width": options.beam, "normalize": options.normalize})
    return {"model": str(model), "n": options.n, "until": options.until, "max_tokens": options.max_tokens, **search}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _completions_json(prefix: str, completions: list, settings: dict, timing_ms: dict) -> str:
    return json.dumps({
        "prompt": prefix,
        "completions": [completion.to_dict() for completion in completions],
        "retyped": completions[0].retyped if completions else "",
        "settings": settings,
        "timing_ms": timing_ms,
    }, ensure_ascii=False)


@app.command()
@friendly_errors
def generate(
    prompt: str = typer.Option("", help="Text to start from (- reads stdin); empty starts at a new line."),
    model: str | None = model_option(),
    length: int = typer.Option(GenerationOptions.length, help="How many tokens to generate."),
    temperature: float = typer.Option(Sampling.temperature, help="Below 1 safer, above 1 wilder."),
    top_k: int | None = typer.Option(None, help="Sample only from the K most likely tokens."),
    top_p: float | None = typer.Option(None, help="Sample only from the most likely tokens covering P."),
    seed: int | None = typer.Option(None, help="The same seed gives the same text."),
) -> None:
    """Sample text from a model, streamed as it is produced."""
    from rich.text import Text

    options = GenerationOptions(length, Sampling(temperature, top_k, top_p, seed))
    path = ModelStore().resolve(model)
    prompt = read_text_argument(prompt, "the prompt")
    torch_on_free_cores()
    from .. import load

    chunks = load(path).generate(prompt, options)
    console = out_console()
    console.print(Text(prompt, style="dim"), end="")
    for chunk in chunks:  # straight to the stream: Rich's rendering would cost more than the model per token
        console.file.write(chunk)
        console.file.flush()
    console.print()


@app.command()
@friendly_errors
def repl(model: str | None = model_option()) -> None:
    """Type text and see the model's continuation as you type; Enter for ranked completions. :help for more."""
    path = ModelStore().resolve(model)
    torch_on_free_cores()
    from .. import load
    from .repl import Repl
    from .terminal import line_reader

    with sigterm_ends_quietly():
        repl = Repl(load(path).session(), out_console(), load_model=lambda name: load(name).session())
        try:
            code = repl.run(line_reader(repl.suggest, ModelStore().root / "repl-history"))
        finally:
            repl.close()
    raise typer.Exit(code)
