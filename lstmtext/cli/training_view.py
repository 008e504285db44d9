"""Rich rendering of training: the live display (plain log lines when not on a terminal) and the tokenizer's
table."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .ui import duration, printable

if TYPE_CHECKING:
    from .. import EvalReport, StepReport, TokenizerStats, TrainPlan

_LOG_EVERY_SECONDS = 10.0


def _eta(report: StepReport) -> float:
    return report.elapsed * (1 - report.fraction_done) / max(report.fraction_done, 1e-9)


def _one_line(text: str, width: int = 70) -> str:
    flat = printable(text).replace("\n", " ⏎ ")
    return flat if len(flat) <= width else flat[: width - 1] + "…"



class TrainDisplay:
    """A training observer that draws a live panel on a terminal and prints log lines elsewhere."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Live | None = None
        self.plan: TrainPlan | None = None
        self.step: StepReport | None = None
        self.eval: EvalReport | None = None
        self.best: EvalReport | None = None
        self.last_log = 0.0

    def __enter__(self) -> TrainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._render(), refresh=True)
            self.live.stop()
            self.live = None

    def on_note(self, message: str) -> None:
        self.console.print(Text(message, style="dim") if self.console.is_terminal else message)

    def on_start(self, plan: TrainPlan) -> None:
        self.plan = plan
        steps = f"{plan.total_steps:,} steps" if plan.total_steps else "no step limit"
        budget = f", at most {duration(plan.max_time)}" if plan.max_time else ""
        self.console.print(f"training {plan.parameters:,} parameters on {plan.device} ({plan.precision}): "
                           f"{steps}{budget}, {plan.steps_per_epoch:,} steps per epoch")
        if self.console.is_terminal:
            self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
            self.live.start()

    def on_step(self, report: StepReport) -> None:
        self.step = report
        if self.live is not None:
            self.live.update(self._render())
        elif time.monotonic() - self.last_log >= _LOG_EVERY_SECONDS:
            self.last_log = time.monotonic()
            self.console.print(self._step_line(report), highlight=False)

    def on_eval(self, report: EvalReport) -> None:
        self.eval = report
        if report.is_best:
            self.best = report
        if self.live is not None:
            self.live.update(self._render())
            return
        best = " (best)" if report.is_best else ""
        self.console.print(f"eval step {report.step}: val loss {report.val_loss:.3f}, perplexity "
                           f"{report.perplexity:.2f}, {report.bits_per_char:.3f} bits/char{best}", highlight=False)
        self.console.print(f"sample: {_one_line(report.sample, 100)}", highlight=False, markup=False)

    def _step_line(self, report: StepReport) -> str:
        total = f"/{report.total_steps:,}" if report.total_steps else ""
        return (f"step {report.step:,}{total} ({report.fraction_done:.0%}) epoch {report.epoch}: loss "
                f"{report.loss:.3f}, lr {report.lr:.2e}, {report.tokens_per_second:,.0f} tokens/s, "
                f"elapsed {duration(report.elapsed)}, eta {duration(_eta(report))}")

    def _render(self) -> Group:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        step = self.step
        if step is not None:
            total = f" / {step.total_steps:,}" if step.total_steps else ""
            table.add_row("step", f"{step.step:,}{total}   epoch {step.epoch}")
            table.add_row("loss", f"{step.loss:.3f}   lr {step.lr:.2e}")
            table.add_row("speed", f"{step.tokens_per_second:,.0f} tokens/s")
            table.add_row("time", f"{duration(step.elapsed)} elapsed, {duration(_eta(step))} left")
        if self.eval is not None:
            table.add_row("val", f"loss {self.eval.val_loss:.3f}   perplexity {self.eval.perplexity:.2f}   "
                                 f"{self.eval.bits_per_char:.3f} bits/char   (step {self.eval.step})")
        if self.best is not None:
            table.add_row("best", f"{self.best.bits_per_char:.3f} bits/char at step {self.best.step}")
        fraction = step.fraction_done if step else 0.0
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=1.0, completed=fraction, width=50), Text(f"{fraction:.0%}"))
        parts: list = [bar, table]
        if self.eval is not None:
            parts.append(Panel(Text(printable(self.eval.sample)), title="sample", title_align="left",
                               border_style="dim"))
        return Group(*parts)


def _show_piece(piece: str) -> str:
    return repr(piece.replace("\u2581", " "))


def tokenizer_table(stats: TokenizerStats, written: list[str]) -> Table:
    table = Table(title=f"{stats.level} tokenizer", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("vocab size", f"{stats.vocab_size:,}")
    table.add_row("tokens", f"{stats.tokens:,}")
    table.add_row("characters", f"{stats.chars:,}")
    table.add_row("chars per token", f"{stats.chars_per_token:.2f}")
    table.add_row("coverage", f"{stats.coverage:.4%} of characters in the vocabulary "
                              f"({stats.fallback_tokens:,} fallback tokens)")
    pieces = ", ".join(f"{_show_piece(piece)} {count:,}" for piece, count in stats.top_pieces)
    table.add_row("most frequent", pieces)
    table.add_row("written", "\n".join(written))
    return table
