"""The commands for text: tokenize, train, complete, generate, eval, repl."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from .. import ModelStore, check_output_file, check_path, default_model_name
from ..errors import BadInput, TrainingInterrupted
from ..options import (BASE_AUTO, CELLS, DEFAULT_LAYERS, DEFAULT_LEVEL, LEVELS, MAX_CONTEXT_CHARS, CompletionOptions,
                       completion_options,
                       GenerationOptions,
                       ModelShape, Regularization, Sampling, TokenizerConfig, TrainConfig)
from .common import (FlagSpelling, app, err_console, friendly_errors, load_api, model_option, out_console,
                     read_text_argument, read_text_file, sigterm_ends_quietly)

@app.command()
@friendly_errors
def tokenize(
    corpus: Path = typer.Argument(..., readable=False, help="A UTF-8 text file, or a folder of them."),
    level: str = typer.Option(DEFAULT_LEVEL, help=f"Tokenizer level: {', '.join(LEVELS)}."),
    vocab_size: Optional[int] = typer.Option(None, help="Most pieces in the vocabulary (default: by level)."),
    out: Optional[Path] = typer.Option(None, readable=False, help="Where to write the SentencePiece model (default: "
                                       "CORPUS-STEM.LEVEL.model in this folder)."),
) -> None:
    """Learn a SentencePiece tokenizer from CORPUS, write it, and show its stats."""
    config = TokenizerConfig(level=level, vocab_size=vocab_size)
    check_path(corpus, folders=True)
    out = out or Path(f"{default_model_name(corpus)}.{level}.model")
    check_output_file(out, "out")
    from . import ui

    api = load_api()
    tokenizer, stats = api.train_tokenizer(corpus, config)
    written = api.save_tokenizer(tokenizer, out)
    out_console().print(ui.tokenizer_table(stats, [str(path) for path in written]))


@app.command()
@friendly_errors
def train(
    corpus: Path = typer.Argument(..., readable=False, help="A UTF-8 text file to learn from, or a folder: every "
                                                            "text file in it, in the order of their paths."),
    name: Optional[str] = typer.Option(None, help="Save under this name in the model store "
                                                  "(default: the corpus file's name)."),
    out: Optional[Path] = typer.Option(None, readable=False, help="Save to this file instead of the store."),
    level: Optional[str] = typer.Option(None, help=f"Tokenizer level: {', '.join(LEVELS)} (default: the base "
                                                   f"model's when fine-tuning, else {DEFAULT_LEVEL}; a level unlike "
                                                   "the base model's trains from scratch)."),
    vocab_size: Optional[int] = typer.Option(None, help="Most pieces in the vocabulary (default: by level)."),
    cell: str = typer.Option(ModelShape.cell, help=f"Recurrent cell: {', '.join(CELLS)}."),
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
    layer_lr_decay: Optional[float] = typer.Option(None, help="Each recurrent layer learns this many times slower "
                                                              "than the one above (ULMFiT's discriminative rates; "
                                                              "default: chosen when fine-tuning, else 1)."),
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
    base: str = typer.Option(BASE_AUTO, help="Where to start: auto (the built-in model, where it reads this corpus's "
                                        "held-out end better than a compressor that has read the rest, else from "
                                        "scratch; the log says which, with the figures), none (from scratch) or "
                                        "a model (name or path) to fine-tune, its tokenizer and shape kept."),
    init_from: Optional[str] = typer.Option(None, help="Another name for --base MODEL."),
    checkpoint_every: Optional[int] = typer.Option(None, help="Also write a checkpoint every N steps."),
    checkpoint_minutes: float = typer.Option(TrainConfig.checkpoint_minutes,
                                             help="Write a checkpoint every M minutes of training."),
    chrono_init: bool = typer.Option(False, "--chrono-init", help="Start the LSTM's forget gates (a GRU's update "
                                                                  "gates) open, keeping memory for up to --seq-len "
                                                                  "steps (chrono initialization): a short run "
                                                                  "learns long dependencies sooner."),
    learn_held_out: bool = typer.Option(TrainConfig.learn_held_out, "--learn-held-out/--no-learn-held-out",
                                        help="After validating on the corpus's held-out end, learn it too (as "
                                             "`eval --adapt` learns a text): the saved model knows the most "
                                             "recent text."),
) -> None:
    """Tokenize CORPUS and train a language model on it, with a live display of progress. Ctrl-C stops after
    the current step and saves a checkpoint to resume from (a second Ctrl-C stops at once)."""
    tokenizer_config = TokenizerConfig(level=level, vocab_size=vocab_size)
    shape = ModelShape(cell=cell, layers=layers, hidden_size=hidden, embed_size=embed)
    regularization = Regularization(dropout, input_dropout, embed_dropout, weight_drop, ar, tar)
    training = TrainConfig(seq_len=seq_len, batch_size=batch_size, lr=lr, layer_lr_decay=layer_lr_decay, clip=clip,
                           epochs=epochs, max_steps=max_steps, max_time=max_time, seed=seed, precision=precision,
                           device=device,
                           checkpoint_every=checkpoint_every, checkpoint_minutes=checkpoint_minutes,
                           chrono_init=chrono_init, learn_held_out=learn_held_out)
    check_path(corpus, folders=True)
    from . import ui

    api = load_api()
    try:
        with ui.TrainDisplay(err_console()) as display:
            result = api.train(corpus, shape, tokenizer=tokenizer_config, training=training,
                               regularization=regularization, resume=resume, base=base, init_from=init_from,
                               name=name, out=out, observer=display)
    except TrainingInterrupted as stop:
        arguments = sys.argv[1:] if "--resume" in sys.argv else [*sys.argv[1:], "--resume"]
        typer.echo(f"error: {stop.spelled(FlagSpelling())}", err=True)
        typer.echo(f"resume with: {shlex.join(['lstmtext', *arguments])}", err=True)
        raise typer.Exit(stop.exit_code) from None
    if result is None:
        return  # another process of a torchrun launch: rank 0 reports
    saved = f"model '{result.name}' (now the default)" if result.name else "model"
    learning = (f" (learning it as it read; {result.validated_bits_per_char:.3f} as validated)"
                if result.bits_per_char != result.validated_bits_per_char else "")
    out_console().print(f"saved {saved} to {result.path}: {result.bits_per_char:.3f} bits/char on held-out text"
                        f"{learning} after {result.steps:,} steps in {result.elapsed:.0f} s")
    model_flag = "" if result.name else f" --model {result.path}"
    err_console().print(f'next: lstmtext complete "Some words"{model_flag}', style="dim")


_LONG_CONTEXT_CHARS = 20_000  # about 3 s for a char-level model on 2 cores: say what is taking the time


@app.command()
@friendly_errors
def complete(
    prefix: str = typer.Argument(..., help="The text to continue; - reads it from stdin (one final newline "
                                           "dropped). It may end inside a word."),
    count: int = typer.Option(CompletionOptions.n, "-n", "--count", help="How many completions, most likely "
                                                                         "first."),
    model: Optional[str] = model_option(),
    until: str = typer.Option(CompletionOptions.until, help="Stop at the end of the sentence, line or word (or "
                                                            "none)."),
    max_tokens: int = typer.Option(CompletionOptions.max_tokens, help="Most tokens to add."),
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
    context: Optional[Path] = typer.Option(None, readable=False,
                                           help="A file (- reads stdin) of the text written so far: the "
                                                "model learns from it first, as eval --adapt does."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: completions with probabilities "
                                                       "and per-token log-probs, settings and timing."),
) -> None:
    """The most likely continuations of PREFIX with their probabilities (beam search), up to the end of the
    sentence. A table on a terminal; one `text<TAB>probability` line each in a pipe."""
    started = time.perf_counter()
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed}
    options = completion_options(n=count, until=until, max_tokens=max_tokens, beam_width=beam, normalize=normalize,
                                 sample=sample, **{field: value for field, value in sampling.items() if value is not None})
    path = ModelStore().resolve(model)
    if prefix == "-" and str(context) == "-":
        raise BadInput("the prompt and --context both read stdin", "pass one of them as a file or as text")
    prefix = read_text_argument(prefix, "the prompt")
    written = read_text_file(context) if context is not None else None
    from . import ui

    api = load_api()
    language_model = api.load(path)
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
    model: Optional[str] = model_option(),
    length: int = typer.Option(GenerationOptions.length, help="How many tokens to generate."),
    temperature: float = typer.Option(Sampling.temperature, help="Below 1 safer, above 1 wilder."),
    top_k: Optional[int] = typer.Option(None, help="Sample only from the K most likely tokens."),
    top_p: Optional[float] = typer.Option(None, help="Sample only from the most likely tokens covering P."),
    seed: Optional[int] = typer.Option(None, help="The same seed gives the same text."),
) -> None:
    """Sample text from a model, streamed as it is produced."""
    from rich.text import Text

    options = GenerationOptions(length, Sampling(temperature, top_k, top_p, seed))
    path = ModelStore().resolve(model)
    prompt = read_text_argument(prompt, "the prompt")
    api = load_api()

    chunks = api.load(path).generate(prompt, options)
    console = out_console()
    console.print(Text(prompt, style="dim"), end="")
    for chunk in chunks:  # straight to the stream: Rich's rendering would cost more than the model per token
        console.file.write(chunk)
        console.file.flush()
    console.print()


@app.command()
@friendly_errors
def repl(model: Optional[str] = model_option()) -> None:
    """Type text and see the model's continuation as you type; Enter for ranked completions. :help for more."""
    path = ModelStore().resolve(model)
    api = load_api()
    from .repl import Repl
    from .terminal import line_reader

    with sigterm_ends_quietly():
        repl = Repl(api.load(path).session(), out_console(), load_model=lambda name: api.load(name).session())
        try:
            code = repl.run(line_reader(repl.suggest, ModelStore().root / "repl-history"))
        finally:
            repl.close()
    raise typer.Exit(code)
