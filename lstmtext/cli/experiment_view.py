"""Showing the long-range experiment: a Rich table, tab-separated lines for pipes, and a PNG plot when
matplotlib is installed. The core never imports this module.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from .. import LongRangeResult

NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn": "plain RNN"}


def _percent(share: float) -> str:
    return f"{share:.0%}"


def setting(result: LongRangeResult) -> str:
    """How the models were trained, in a few words."""
    config = result.config
    gaps = "gaps from 1 up, short ones often" if config.curriculum else f"every gap {max(config.gaps)}"
    return f"{config.hidden_size} units, {config.steps:,} steps, {gaps}"


def long_range_table(result: LongRangeResult) -> Table:
    config = result.config
    table = Table(title=f"accuracy at the word that depends on the subject; trained: {setting(result)}",
                  title_justify="left",
                  caption=f"chance {_percent(result.chance)}; seed {config.seed}", caption_justify="left")
    table.add_column("gap G", justify="right")
    for cell in result.accuracy:
        table.add_column(f"{NAMES[cell]}\n{result.parameters[cell]:,} weights, {result.seconds[cell]:.0f} s",
                         justify="right")
    for gap in config.gaps:
        row = [f"{gap:,}"]
        for by_gap in result.accuracy.values():
            share = by_gap[gap]
            style = "green" if share >= 0.9 else "red" if share < result.chance + 0.1 else ""
            row.append(f"[{style}]{_percent(share)}[/]" if style else _percent(share))
        table.add_row(*row)
    return table


def long_range_lines(result: LongRangeResult) -> str:
    header = "\t".join(["gap"] + list(result.accuracy))
    rows = ["\t".join([str(gap)] + [f"{by_gap[gap]:.4f}" for by_gap in result.accuracy.values()])
            for gap in result.config.gaps]
    return "\n".join([header, *rows])


def plot_png(result: LongRangeResult) -> bytes | None:
    """Accuracy against the gap, one line per cell, as PNG bytes; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return None
    figure, axes = pyplot.subplots(figsize=(6, 4), dpi=120)
    for cell, by_gap in result.accuracy.items():
        axes.plot(list(by_gap), list(by_gap.values()), marker="o", label=NAMES[cell])
    axes.axhline(result.chance, color="grey", linestyle="--", label="chance")
    axes.set(xlabel="gap G (filler words between the subject and the word it decides)", ylabel="accuracy",
             ylim=(0, 1.05), title=f"Remembering across a gap\n(trained: {setting(result)})")
    axes.legend()
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png")
    pyplot.close(figure)
    return image.getvalue()
