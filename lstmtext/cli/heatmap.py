"""Rich rendering of `inspect`: the text with each token's background coloured by a unit's activation, one block
per unit, and a legend; tab-separated lines for pipes. The core never imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text

from .ui import tab_field

if TYPE_CHECKING:
    from .. import Inspection

NAMES = {"forget": "forget gate", "input": "input gate", "output": "output gate", "candidate": "candidate",
         "cell": "cell state", "hidden": "hidden state"}
# A diverging scale (blue, white, red), so that the middle of the range reads as "nothing much".
_LOW, _MIDDLE, _HIGH = (33, 102, 172), (247, 247, 247), (178, 24, 43)
_LEGEND_STEPS = 24


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def colour_of(value: float, low: float, high: float) -> str:
    """A Rich style: background for `value` on the scale from `low` (blue) to `high` (red), text readable on it."""
    t = min(1.0, max(0.0, (value - low) / (high - low))) if high > low else 0.5
    rgb = _mix(_LOW, _MIDDLE, t * 2) if t < 0.5 else _mix(_MIDDLE, _HIGH, t * 2 - 1)
    ink = "white" if abs(t - 0.5) > 0.32 else "black"
    return f"{ink} on rgb({rgb[0]},{rgb[1]},{rgb[2]})"


def _visible(piece: str) -> str:
    return piece.replace("\n", "⏎\n").replace("\t", "→\t")


def coloured_text(pieces: list[str], values: list[float], low: float, high: float) -> Text:
    text = Text()
    for piece, value in zip(pieces, values):
        text.append(_visible(piece), style=colour_of(value, low, high))
    return text


def legend(low: float, high: float) -> Text:
    text = Text(f"{low:.2f} ")
    for step in range(_LEGEND_STEPS):
        value = low + (high - low) * step / (_LEGEND_STEPS - 1)
        text.append(" ", style=colour_of(value, low, high))
    text.append(f" {high:.2f}")
    return text


def inspection_view(inspection: Inspection) -> Group:
    """One block per unit: a title saying what is shown and why this unit, then the coloured text."""
    low, high = inspection.value_range
    blocks: list = []
    for column, unit in enumerate(inspection.units):
        title = f"layer {inspection.layer}, unit {unit.index}: {NAMES[inspection.show]}"
        blocks.append(Text.assemble((title, "bold"), (f" — {unit.why}", "dim")))
        blocks.append(coloured_text(inspection.tokens, [row[column] for row in inspection.values], low, high))
        blocks.append(Text())
    blocks.append(legend(low, high))
    return Group(*blocks)


def inspection_lines(inspection: Inspection) -> str:
    """For pipes: a header, then one line per token: the token (newlines and tabs escaped) and its values."""
    header = "\t".join(["token"] + [f"unit {unit.index}" for unit in inspection.units])
    rows = ["\t".join([tab_field(piece)] + [f"{value:.4f}" for value in values])
            for piece, values in zip(inspection.tokens, inspection.values)]
    return "\n".join([header, *rows])
