"""The commands that make a model: tokenize, train."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from .. import ModelStore, check_output_file, check_path, default_model_name
from ..errors import TrainingInterrupted
from ..options import (
    BASE_AUTO,
    CELLS,
    DEFAULT_LAYERS,
    DEFAULT_LEVEL,
    LEVELS,
    ModelShape,
    Regularization,
    TokenizerConfig,
    TrainConfig,
)
from .common import (
    FlagSpelling,
    app,
    err_console,
    friendly_errors,
    out_console,
    torch_on_free_cores,
)


@app.command()
@friendly_errors
def tokenize(
    corpus: Path = typer.Argument(..., readable=False, help="A UTF-8 text file, or a folder of them."),
    level: str = typer.Option(DEFAULT_LEVEL, help=f"Tokenizer level: {', '.join(LEVELS)}."),
    vocab_size: int | None = typer.Option(None, help="Most pieces in the vocabulary (default: by level)."),
    out: Path | None = typer.Option(None, readable=False, help="Where to write the SentencePiece model (default: "
                                                               "CORPUS-STEM.LEVEL.model in this folder)."),
) -> None:
    """Learn a SentencePiece tokenizer from CORPUS, write it, and show its stats."""
    config = TokenizerConfig(level=level, vocab_size=vocab_size)
    check_path(corpus, folders=True)
    out = out or Path(f"{default_model_name(corpus)}.{level}.model")
    check_output_file(out, "out")
    from . import training_view as ui

    torch_on_free_cores()
    from .. import save_tokenizer, train_tokenizer

    tokenizer, stats = train_tokenizer(corpus, config)
    written = save_tokenizer(tokenizer, out)
    out_console().print(ui.tokenizer_table(stats, [str(path) for path in written]))


@app.command()
@friendly_errors
def train(
    corpus: Path = typer.Argument(..., readable=False, help="A UTF-8 text file to learn from, or a folder: every "
                                                            "text file in it, in the order of their paths."),
    name: str | None = typer.Option(None, help="Save under this name in the model store "
                                               "(default: the corpus file's name)."),
    out: Path | None = typer.Option(None, readable=False, help="Save to this file instead of the store."),
    level: str | None = typer.Option(None, help=f"Tokenizer level: {', '.join(LEVELS)} (default: the base "
                                                f"model's when fine-tuning, else {DEFAULT_LEVEL}; a level unlike "
                                                "the base model's trains from scratch)."),
    vocab_size: int | None = typer.Option(None, help="Most pieces in the vocabulary (default: by level)."),
    cell: str = typer.Option(ModelShape.cell, help=f"Recurrent cell: {', '.join(CELLS)}."),
    layers: int | None = typer.Option(None, help=f"Recurrent layers (default: {DEFAULT_LAYERS})."),
    hidden: int | None = typer.Option(None, help="Hidden size (default: chosen from corpus and budget)."),
    embed: int | None = typer.Option(None, help="Embedding size (default: the hidden size, so the "
                                                "decoder can share the embedding)."),
    dropout: float | None = typer.Option(None, help="Locked dropout between layers and before the decoder "
                                                    "(default for this and the next five: from the passes "
                                                    "over the corpus the budget allows)."),
    input_dropout: float | None = typer.Option(None, help="Locked dropout on the embeddings."),
    embed_dropout: float | None = typer.Option(None, help="Drop whole tokens from the embedding matrix."),
    weight_drop: float | None = typer.Option(None, help="DropConnect on the hidden-to-hidden weights."),
    ar: float | None = typer.Option(None, "--ar", help="Activation regularization (penalty on the size of "
                                                       "the last layer's output)."),
    tar: float | None = typer.Option(None, "--tar", help="Temporal activation regularization (penalty on its "
                                                         "change from step to step)."),
    seq_len: int | None = typer.Option(None, help="Tokens per backprop-through-time window (default: by level)."),
    batch_size: int | None = typer.Option(None, help="Parallel text streams per step (default: by corpus size)."),
    lr: float | None = typer.Option(None, help="Peak learning rate (AdamW, warm-up then cosine; default: "
                                               "0.006 up to hidden size 256, less for wider models)."),
    layer_lr_decay: float | None = typer.Option(None, help="Each recurrent layer learns this many times slower "
                                                           "than the one above (ULMFiT's discriminative rates; "
                                                           "default: chosen when fine-tuning, else 1)."),
    clip: float = typer.Option(TrainConfig.clip, help="Gradient norm clipping (0: off)."),
    epochs: int | None = typer.Option(None, help="Passes over the corpus."),
    max_steps: int | None = typer.Option(None, help="Stop after this many steps."),
    max_time: float | None = typer.Option(None, help="Stop after this many seconds, keeping the best model."),
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
    init_from: str | None = typer.Option(None, help="Another name for --base MODEL."),
    checkpoint_every: int | None = typer.Option(None, help="Also write a checkpoint every N steps."),
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
                           device=device, checkpoint_every=checkpoint_every, checkpoint_minutes=checkpoint_minutes,
                           chrono_init=chrono_init, learn_held_out=learn_held_out)
    check_path(corpus, folders=True)
    ModelStore().training_destination(corpus, name, out)  # before torch: a bad name fails at once
    from . import training_view as ui

    torch_on_free_cores()
    from .. import train as train_model

    try:
        with ui.TrainDisplay(err_console()) as display:
            result = train_model(corpus, shape, tokenizer=tokenizer_config, training=training,
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
