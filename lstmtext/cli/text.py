"""The commands for text: tokenize, train, complete, generate, eval, repl, models, info."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..core.config import (CELLS, DEFAULT_LAYERS, LEVELS, Regularization, Sampling, TokenizerConfig, TrainConfig,
                      check_completion_options, check_model_options, check_regularization, check_seed)
from ..errors import BadInput
from ..core.files import check_output_file
from ..core.store import ModelStore, check_name, default_model_name
from ..core.textfile import check_path
from .common import (app, err_console, friendly_errors, load_api, model_names, model_option, out_console,
                     read_text_argument)

@app.command()
@friendly_errors
def tokenize(
    corpus: Path = typer.Argument(..., help="A UTF-8 text file."),
    level: str = typer.Option(TokenizerConfig.level, help=f"Tokenizer level: {', '.join(LEVELS)}."),
    vocab_size: Optional[int] = typer.Option(None, help="Most pieces in the vocabulary (default: by level)."),
    out: Optional[Path] = typer.Option(None, help="Where to write the SentencePiece model "
                                                  "(default: CORPUS-STEM.LEVEL.model in this folder)."),
) -> None:
    """Learn a SentencePiece tokenizer from CORPUS, write it, and show its stats."""
    config = TokenizerConfig(level=level, vocab_size=vocab_size)
    check_path(corpus)
    out = out or Path(f"{default_model_name(corpus)}.{level}.model")
    check_output_file(out, "--out")
    from . import ui

    api = load_api()
    from ..core.files import atomic_write

    tokenizer, stats = api.train_tokenizer(corpus, config)
    written = []
    for part, blob in tokenizer.blobs().items():
        path = out if part == "main" else out.with_name(f"{out.stem}.{part}{out.suffix}")
        atomic_write(path, blob)
        written.append(str(path))
    out_console().print(ui.tokenizer_table(stats, written))


@app.command()
@friendly_errors
def train(
    corpus: Path = typer.Argument(..., help="A UTF-8 text file to learn from."),
    name: Optional[str] = typer.Option(None, help="Save under this name in the model store "
                                                  "(default: the corpus file's name)."),
    out: Optional[Path] = typer.Option(None, help="Save to this file instead of the store."),
    level: str = typer.Option(TokenizerConfig.level, help=f"Tokenizer level: {', '.join(LEVELS)}."),
    vocab_size: Optional[int] = typer.Option(None, help="Most pieces in the vocabulary (default: by level)."),
    cell: str = typer.Option("lstm", help=f"Recurrent cell: {', '.join(CELLS)}."),
    layers: Optional[int] = typer.Option(None, help=f"Recurrent layers (default: {DEFAULT_LAYERS})."),
    hidden: Optional[int] = typer.Option(None, help="Hidden size (default: chosen from corpus and budget)."),
    embed: Optional[int] = typer.Option(None, help="Embedding size (default: the hidden size, so the "
                                                   "decoder can share the embedding)."),
    dropout: Optional[float] = typer.Option(None, help="Locked dropout between layers and before the decoder "
                                                       "(default for this and the next five: from the passes "
                                                       "over the corpus the budget allows)."),
    input_dropout: Optional[float] = typer.Option(None, help="Locked dropout on the embeddings."),
    embed_dropout: Optional[float] = typer.Option(None, help="Drop whole tokens from the embedding matrix."),
    weight_drop: Optional[float] = typer.Option(None, help="DropConnect on the hidden-to-hidden weights."),
    ar: Optional[float] = typer.Option(None, "--ar", help="Activation regularization (penalty on the size of "
                                                          "the last layer's output)."),
    tar: Optional[float] = typer.Option(None, "--tar", help="Temporal activation regularization (penalty on its "
                                                            "change from step to step)."),
    seq_len: Optional[int] = typer.Option(None, help="Tokens per backprop-through-time window (default: by level)."),
    batch_size: Optional[int] = typer.Option(None, help="Parallel text streams per step (default: by corpus size)."),
    lr: Optional[float] = typer.Option(None, help="Peak learning rate (AdamW, warm-up then cosine; default: "
                                                  "0.006 up to hidden size 256, less for wider models)."),
    clip: float = typer.Option(TrainConfig.clip, help="Gradient norm clipping (0: off)."),
    epochs: Optional[int] = typer.Option(None, help="Passes over the corpus."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many steps."),
    max_time: Optional[float] = typer.Option(None, help="Stop after this many seconds, keeping the best model."),
    seed: int = typer.Option(TrainConfig.seed, help="Random seed; the same seed gives the same model on CPU."),
    precision: str = typer.Option(TrainConfig.precision, help="auto, fp32, bf16 or fp16. auto: on a CPU with bf16 "
                                                              "instructions, bf16 where it measures at least 1.2× "
                                                              "as fast as fp32 (LSTMTEXT_CPU_BF16=1 or 0 forces "
                                                              "it); bf16 on GPUs that have it, else fp16 with loss "
                                                              "scaling; else fp32."),
    device: str = typer.Option(TrainConfig.device, help="auto, cpu, cuda or mps."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run that saves to the same "
                                                        "model, from its checkpoint, with the settings it began with."),
    init_from: Optional[str] = typer.Option(None, help="Fine-tune this model (name or path) on CORPUS: its "
                                                       "tokenizer and shape are kept."),
    checkpoint_every: Optional[int] = typer.Option(None, help="Also write a checkpoint every N steps."),
    checkpoint_minutes: float = typer.Option(TrainConfig.checkpoint_minutes,
                                             help="Write a checkpoint every M minutes of training."),
) -> None:
    """Tokenize CORPUS and train a language model on it, with a live display of progress. Ctrl-C stops after
    the current step and saves a checkpoint to resume from (a second Ctrl-C stops at once)."""
    tokenizer_config = TokenizerConfig(level=level, vocab_size=vocab_size)
    training = TrainConfig(seq_len=seq_len, batch_size=batch_size, lr=lr, clip=clip, epochs=epochs,
                           max_steps=max_steps, max_time=max_time, seed=seed, precision=precision, device=device,
                           checkpoint_every=checkpoint_every, checkpoint_minutes=checkpoint_minutes)
    if name is not None and out is not None:
        raise BadInput("--name and --out both given", "use --name to save into the store, or --out for a file")
    if name is not None:
        check_name(name)
    if out is not None:
        check_output_file(out, "--out")
    regularization = Regularization(dropout, input_dropout, embed_dropout, weight_drop, ar, tar)
    check_model_options(cell, layers, hidden, embed)
    check_regularization(regularization)
    check_path(corpus)
    from . import ui

    api = load_api()
    from ..errors import TrainingInterrupted

    try:
        with ui.TrainDisplay(err_console()) as display:
            result = api.train(corpus, tokenizer=tokenizer_config, training=training, cell=cell, layers=layers,
                               hidden_size=hidden, embed_size=embed, regularization=regularization, resume=resume,
                               init_from=init_from, name=name, out=out, observer=display)
    except TrainingInterrupted as stop:
        arguments = sys.argv[1:] if "--resume" in sys.argv else [*sys.argv[1:], "--resume"]
        typer.echo(f"error: {stop}", err=True)
        typer.echo(f"resume with: {shlex.join(['lstmtext', *arguments])}", err=True)
        raise typer.Exit(stop.exit_code) from None
    if result is None:
        return  # another process of a torchrun launch: rank 0 reports
    saved = f"model '{result.name}' (now the default)" if result.name else "model"
    out_console().print(f"saved {saved} to {result.path}: {result.bits_per_char:.3f} bits/char on held-out text "
                    f"after {result.steps:,} steps in {result.elapsed:.0f} s")
    model_flag = "" if result.name else f" --model {result.path}"
    err_console().print(f'next: lstmtext complete "Some words"{model_flag}', style="dim")


@app.command()
@friendly_errors
def complete(
    prefix: str = typer.Argument(..., help="The text to continue; - reads it from stdin (one final newline "
                                           "dropped). It may end inside a word."),
    count: int = typer.Option(3, "-n", "--count", help="How many completions, most likely first."),
    model: Optional[str] = model_option(),
    until: str = typer.Option("sentence", help="Stop at the end of the sentence, line or word (or none)."),
    max_tokens: int = typer.Option(80, help="Most tokens to add."),
    beam: Optional[int] = typer.Option(None, help="Beam width, at least -n (default: twice -n, at least 4)."),
    normalize: bool = typer.Option(False, "--normalize", help="Rank by probability per token, which favours "
                                                              "longer completions."),
    sample: bool = typer.Option(False, "--sample", help="Sample completions instead of searching for the "
                                                        "most likely ones."),
    temperature: Optional[float] = typer.Option(None, help="With --sample: below 1 safer, above 1 wilder "
                                                           f"(default: {Sampling.temperature:g})."),
    top_k: Optional[int] = typer.Option(None, help="With --sample: only the K most likely tokens."),
    top_p: Optional[float] = typer.Option(None, help="With --sample: only the most likely tokens covering P."),
    seed: Optional[int] = typer.Option(None, help="With --sample: the same seed gives the same completions."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: completions with probabilities "
                                                       "and per-token log-probs, settings and timing."),
) -> None:
    """The most likely continuations of PREFIX with their probabilities (beam search), up to the end of the
    sentence. A table on a terminal; one `text<TAB>probability` line each in a pipe."""
    started = time.perf_counter()
    check_completion_options(count, until, max_tokens, beam)
    sampling_options = {"--temperature": temperature, "--top-k": top_k, "--top-p": top_p, "--seed": seed}
    given = [option for option, value in sampling_options.items() if value is not None]
    if given and not sample:
        raise BadInput(f"{given[0]} applies only to sampled completions", f"add --sample, or leave {given[0]} out")
    temperature = Sampling.temperature if temperature is None else temperature
    Sampling(temperature, top_k, top_p)
    check_seed("--seed", seed)
    path = ModelStore().resolve(model)
    prefix = read_text_argument(prefix, "the prompt")
    from . import ui

    api = load_api()
    from ..decoding.search import default_beam_width

    beam = beam or default_beam_width(count)
    language_model = api.load(path)
    loaded = time.perf_counter()
    completions = language_model.complete(prefix, n=count, until=until, max_tokens=max_tokens, beam_width=beam,
                                          normalize=normalize, sample=sample, temperature=temperature,
                                          top_k=top_k, top_p=top_p, seed=seed)
    finished = time.perf_counter()
    if as_json:
        search = ({"sample": True, "temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed}
                  if sample else {"sample": False, "beam_width": beam, "normalize": normalize})
        settings = {"model": str(language_model.path), "n": count, "until": until, "max_tokens": max_tokens,
                    **search}
        timing = {"load": _ms(loaded - started), "complete": _ms(finished - loaded), "total": _ms(finished - started)}
        typer.echo(_completions_json(prefix, completions, settings, timing))
        return
    console = out_console()
    if not completions:
        err_console().print("no completion found — try a larger --max-tokens or --beam")
    elif console.is_terminal:
        how = "sampled" if sample else f"beam width {beam}"
        console.print(ui.completions_table(prefix, completions, f"{how}, {_ms(finished - loaded):.0f} ms"))
    else:
        typer.echo(ui.completion_lines(prefix, completions))


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
    model: Optional[str] = model_option(),
    length: int = typer.Option(200, help="How many tokens to generate."),
    temperature: float = typer.Option(0.8, help="Below 1 safer, above 1 wilder."),
    top_k: Optional[int] = typer.Option(None, help="Sample only from the K most likely tokens."),
    top_p: Optional[float] = typer.Option(None, help="Sample only from the most likely tokens covering P."),
    seed: Optional[int] = typer.Option(None, help="The same seed gives the same text."),
) -> None:
    """Sample text from a model, streamed as it is produced."""
    from rich.text import Text

    Sampling(temperature, top_k, top_p)
    check_seed("--seed", seed)
    path = ModelStore().resolve(model)
    prompt = read_text_argument(prompt, "the prompt")
    api = load_api()

    chunks = api.load(path).generate(prompt, length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                                      seed=seed)
    console = out_console()
    console.print(Text(prompt, style="dim"), end="")
    for chunk in chunks:  # straight to the stream: Rich's rendering would cost more than the model per token
        console.file.write(chunk)
        console.file.flush()
    console.print()


@app.command("eval")
@friendly_errors
def evaluate(
    file: Path = typer.Argument(..., help="A UTF-8 text file to score."),
    model: Optional[str] = model_option(),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Perplexity and bits/nats per character of FILE under a model."""
    check_path(file)
    path = ModelStore().resolve(model)
    from . import ui

    api = load_api()

    evaluation = api.load(path).evaluate(file)
    if as_json:
        typer.echo(json.dumps(evaluation.to_dict()))
    else:
        out_console().print(ui.evaluation_table(evaluation, str(file)))


@app.command()
@friendly_errors
def repl(model: Optional[str] = model_option()) -> None:
    """Type text and see the model's continuation as you type; Enter for ranked completions. :help for more."""
    path = ModelStore().resolve(model)
    api = load_api()
    from .repl import Repl
    from .terminal import line_reader

    session = Repl(api.load(path), out_console(), load_model=api.load)
    reader = line_reader(session.suggest, ModelStore().root / "repl-history")
    raise typer.Exit(session.run(reader))


@app.command()
@friendly_errors
def models(
    default: Optional[str] = typer.Option(None, "--default", help="Make this stored model the default.",
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
    model: Optional[str] = model_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the model's whole header as JSON."),
) -> None:
    """Show a model's configuration, training run and metrics."""
    path = ModelStore().resolve(model)
    from . import ui
    from ..core.bundle import load_bundle

    header = load_bundle(path).header
    if as_json:
        typer.echo(json.dumps({"path": str(path), **header}, indent=2))
    else:
        out_console().print(ui.info_table(header, str(path)))
