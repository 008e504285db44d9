"""Rich rendering: highlighted completions and the tables of models, a model's header and evaluations (training's
display: training_view.py). The core never imports this module.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .common import FlagSpelling

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .. import Completion, Evaluation, ModelConfig, ModelHeader, StoredModel

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text a model wrote, safe for a terminal or a log: control characters other than newline and tab (NUL,
    escape sequences, carriage returns) shown as \\xNN."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def completion_text(prompt: str, completion: str) -> Text:
    text = Text(prompt, style="dim")
    text.append(completion, style="bold cyan")
    return text


def probability_text(probability: float) -> str:
    return f"{probability:.1%}" if probability >= 0.001 else f"{probability:.1e}"


def _prompt_end(prompt: str, width: int = 30) -> str:
    end = prompt if len(prompt) <= width else "…" + prompt[-(width - 1):]
    return end.replace("\n", "⏎ ")


def completions_table(prompt: str, completions: list[Completion], caption: str = "") -> Table:
    """Ranked completions: the end of the prompt dimmed, then what each completion adds."""
    table = Table(caption=caption or None, caption_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right", style="dim")
    table.add_column("probability", justify="right")
    table.add_column("completion", overflow="fold")
    for rank, completion in enumerate(completions, 1):
        table.add_row(str(rank), probability_text(completion.probability),
                      completion_text(_prompt_end(prompt), completion.text.replace("\n", "⏎\n")))
    return table


def tab_field(text: str) -> str:
    """Text as one field of a tab-separated line: backslashes, newlines and tabs written as \\\\, \\n, \\t."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def completion_lines(prompt: str, completions: list[Completion]) -> str:
    """Plain output for pipes: one completion per line, the whole text then a tab and its probability
    (newlines and tabs inside the text written as \\n and \\t)."""
    return "\n".join(f"{tab_field(prompt + c.text)}\t{c.probability:.4g}" for c in completions)


def _visible_piece(text: str) -> str:
    """A short piece of text with its whitespace made visible."""
    return repr(text)[1:-1].replace(" ", "␣") or "∅"


def choices_table(draft: str, choices: list[Completion]) -> Group:
    """Guided writing: the text so far, then the numbered next pieces to pick from."""
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(justify="right", style="bold")
    table.add_column(style="cyan")
    table.add_column(justify="right")
    for rank, choice in enumerate(choices, 1):
        table.add_row(str(rank), _visible_piece(choice.text), probability_text(choice.probability))
    return Group(Text(draft, style="dim"), table)


def models_table(models: list[StoredModel]) -> Table:
    table = Table(title="models", title_justify="left")
    for column in ("name", "default", "size", "modified"):
        table.add_column(column, no_wrap=True)
    table.add_column("path", overflow="fold")
    for model in models:
        name = f"{model.name} (built in)" if model.is_builtin else model.name
        table.add_row(name, "*" if model.is_default else "", f"{model.size / 1e6:.1f} MB",
                      datetime.fromtimestamp(model.modified).strftime("%Y-%m-%d %H:%M"), str(model.path))
    return table


def info_table(header: ModelHeader, path: str) -> Table:
    """A model's header as a table; rows for what the header does not say are left out."""
    table = Table(title=path, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    model, metrics, corpus, run = header.model, header.metrics, header.corpus, header.run
    parameters = f", {run.parameters:,} parameters" if run and run.parameters is not None else ""
    table.add_row("model", f"{model.layers}-layer {model.cell.upper()}, hidden {model.hidden_size}, embedding "
                           f"{model.embed_size}{parameters}")
    table.add_row("regularization", _regularization(model))
    table.add_row("tokenizer", f"{header.level} level, {header.vocab_size:,} pieces")
    if corpus:
        table.add_row("corpus", f"{corpus.name or 'unnamed'}: {corpus.chars or 0:,} characters, "
                                f"{corpus.tokens or 0:,} tokens")
    if metrics and None not in (metrics.val_bits_per_char, metrics.val_perplexity, metrics.best_step):
        table.add_row("validation", f"{metrics.val_bits_per_char:.3f} bits/char, perplexity "
                                    f"{metrics.val_perplexity:.2f} (best at step {metrics.best_step:,})"
                                    f"{_held_out(header.held_out or {})}")
    if header.base and header.base.name:
        table.add_row("started from", header.base.reason or header.base.name)
    if run:
        table.add_row("training", f"{run.steps or 0:,} steps, {run.tokens_seen or 0:,} tokens in "
                                  f"{duration(run.train_seconds or 0)} on {run.device} ({run.precision})")
    for adapted in header.adapted:
        names = ", ".join(str(text.get("name")) for text in adapted.texts)
        chars = sum(text.get("chars", 0) for text in adapted.texts)
        table.add_row("adapted", f"from {adapted.source} on {names} ({chars:,} characters, {adapted.steps or 0:,} "
                                 "steps)")
    if header.adaptation:
        settings = header.adaptation.to_dict().items()
        table.add_row("adaptation", ", ".join(f"{key} {_setting(value)}" for key, value in settings))
    version = header.lstmtext_version
    made = " ".join(str(part) for part in (header.created, version and f"by lstmtext {version}") if part)
    if made:
        table.add_row("created", made)
    return table


def _held_out(held_out: Mapping) -> str:
    """What the validation was on, and how the saved model read it as it learned it, where it did."""
    learned = held_out.get("learned") or {}
    learned = (f"; then learned, reading it at {learned['bits_per_char']:.3f} bits/char as it did"
               if isinstance(learned.get("bits_per_char"), (int, float)) else "")
    return f" on the held-out end ({held_out['tokens']:,} tokens){learned}" if held_out.get("tokens") else ""


def _setting(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _regularization(model: ModelConfig) -> str:
    """The regularizers a model trained with, as the flags that set them (`--dropout 0.1, --ar 1`)."""
    flags = FlagSpelling()
    used = [flags.setting(name, f"{value:g}") for name, value in asdict(model.regularization).items() if value]
    return ", ".join(used) or "none"


def evaluation_table(evaluations: dict[str, Evaluation], path: str) -> Table:
    """One column per way of scoring (static, adapted), and how much adapting changed the bits per character."""
    table = Table(title=f"evaluation of {path}", show_header=len(evaluations) > 1, title_justify="left")
    table.add_column(style="bold")
    for name in evaluations:
        table.add_column(name if len(evaluations) > 1 else "", justify="right")
    rows = {"bits per char": lambda e: f"{e.bits_per_char:.4f}", "nats per char": lambda e: f"{e.nats_per_char:.4f}",
            "perplexity (per token)": lambda e: f"{e.perplexity:.3f}", "tokens": lambda e: f"{e.tokens:,}",
            "characters": lambda e: f"{e.chars:,}", "tokens per second": lambda e: f"{e.tokens_per_second:,.0f}"}
    for label, shown in rows.items():
        table.add_row(label, *(shown(evaluation) for evaluation in evaluations.values()))
    if "adapted" in evaluations:
        static, adapted = evaluations["static"], evaluations["adapted"]
        change = 1 - adapted.bits_per_char / static.bits_per_char
        speed = adapted.tokens_per_second / max(static.tokens_per_second, 1)
        settings = adapted.adaptation
        table.caption = (f"adapting: {change:.1%} fewer bits per char at {speed:.2f}× the speed (lr {settings.lr:g}, "
                         f"decay {settings.decay:g}, {settings.batch} windows of {settings.window} tokens a step)")
    return table
