"""Inside an LSTM on a piece of text: at every token, each layer's input, forget and output gates, its candidate,
cell state and hidden state, computed from the very weights `nn.LSTM` runs (a test checks that they reproduce its
hidden states), and which units are worth looking at. Draws nothing (heatmap.py does) and knows no files.

PyTorch stores an LSTM layer's four gates one above the other in `weight_ih`/`weight_hh`, in the order
input, forget, candidate (g), output; per step:
    i = σ(·), f = σ(·), g = tanh(·), o = σ(·),   c' = f * c + i * g,   h' = o * tanh(c')
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.model import RecurrentLM
from ..core.tokenizer import Tokenizer
from ..options import SHOWN
from ..options.checks import require, require_option

GATES = ("input", "forget", "output")  # squashed into (0, 1)
_SIGNED = ("candidate", "hidden")  # squashed into (-1, 1); the cell state is not squashed at all


@torch.no_grad()
@torch.no_grad()  # the server's /v1/inspect and the CLI read values only: no graph of every step
def trace_lstm(lstm: nn.LSTM, inputs: torch.Tensor) -> list[dict[str, np.ndarray]]:
    """For one stream of `inputs` (T, E) read from a zero state: per layer, each of SHOWN as a (T, H) array."""
    layers = []
    x = inputs.float()
    for layer in range(lstm.num_layers):
        w_ih, w_hh = getattr(lstm, f"weight_ih_l{layer}").float(), getattr(lstm, f"weight_hh_l{layer}").float()
        bias = getattr(lstm, f"bias_ih_l{layer}").float() + getattr(lstm, f"bias_hh_l{layer}").float()
        from_inputs = x @ w_ih.T + bias  # (T, 4H): everything that does not depend on the previous step
        hidden_size = w_hh.shape[1]
        h, c = x.new_zeros(hidden_size), x.new_zeros(hidden_size)
        steps: dict[str, list[torch.Tensor]] = {name: [] for name in SHOWN}
        for t in range(x.shape[0]):
            i, f, g, o = (from_inputs[t] + w_hh @ h).chunk(4)  # (H,) each
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            for name, value in zip(SHOWN, (f, i, o, g, c, h)):
                steps[name].append(value)
        layers.append({name: torch.stack(values).cpu().numpy() for name, values in steps.items()})
        x = torch.stack(steps["hidden"])  # (T, H): the next layer's input
    return layers


def value_range(shown: str, values: np.ndarray) -> tuple[float, float]:
    """The range a colour scale should span: fixed for squashed values, symmetric around 0 for the cell."""
    if shown in GATES:
        return 0.0, 1.0
    if shown in _SIGNED:
        return -1.0, 1.0
    largest = float(np.abs(values).max()) if values.size else 1.0
    return -max(largest, 1e-6), max(largest, 1e-6)


def _inside_quotes(pieces: list[str]) -> np.ndarray:
    inside, flags = False, []
    for piece in pieces:
        for char in piece:
            if char in '"“”':
                inside = not inside if char == '"' else char == "“"
        flags.append(inside)
    return np.array(flags, dtype=np.float64)


def _position_in_line(pieces: list[str]) -> np.ndarray:
    column, columns = 0, []
    for piece in pieces:
        for char in piece:
            column = 0 if char == "\n" else column + 1
        columns.append(column)
    return np.array(columns, dtype=np.float64)


def _inside_word(pieces: list[str]) -> np.ndarray:
    return np.array([bool(piece) and piece[-1].isalnum() for piece in pieces], dtype=np.float64)


FEATURES: dict[str, Callable[[list[str]], np.ndarray]] = {
    "inside quotes": _inside_quotes,
    "position in line": _position_in_line,
    "inside a word": _inside_word,
}


@dataclass(frozen=True)
class Unit:
    index: int
    why: str


def _correlations(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson's r of each unit (column of `values`, (T, H)) with `feature` (T,); 0 where either is constant."""
    centred_values = values - values.mean(axis=0)
    centred_feature = feature - feature.mean()
    scale = np.sqrt((centred_values ** 2).sum(axis=0) * (centred_feature ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (centred_values * centred_feature[:, None]).sum(axis=0) / scale
    return np.nan_to_num(r)


def pick_units(values: np.ndarray, pieces: list[str], count: int) -> list[Unit]:
    """Up to `count` units of `values` (T, H) worth showing: for each simple feature of the text that varies,
    the unit that follows it most closely (if clearly); then the units whose values vary most."""
    chosen: list[Unit] = []
    # Over a short text some unit follows any feature by chance: ask for a correlation chance rarely reaches.
    least_r = max(0.3, 2.5 / np.sqrt(max(len(values), 1)))
    for name, feature in FEATURES.items():
        if len(chosen) == count:
            break
        column = feature(pieces)
        if len(column) < 3 or column.std() == 0:
            continue
        r = _correlations(values, column)
        taken = {unit.index for unit in chosen}
        order = [u for u in np.argsort(-np.abs(r)) if u not in taken]
        if order and abs(r[order[0]]) >= least_r:
            chosen.append(Unit(int(order[0]), f"follows {name} (r = {r[order[0]]:+.2f})"))
    spread = values.std(axis=0) if len(values) else np.zeros(values.shape[1])
    for unit in np.argsort(-spread):
        if len(chosen) == count:
            break
        if all(int(unit) != c.index for c in chosen):
            chosen.append(Unit(int(unit), f"varies most (sd {spread[unit]:.2f})"))
    return chosen


@dataclass(frozen=True)
class Inspection:
    """What `show` did at each token of a text in one layer (numbered from 1), for the chosen units."""
    tokens: list[str]  # the text, cut where the tokenizer cuts it
    values: list[list[float]]  # per token, one value per unit in `units`
    show: str
    layer: int
    units: list[Unit]
    value_range: tuple[float, float]

    def to_dict(self) -> dict:
        return {"tokens": self.tokens, "values": self.values, "show": self.show, "layer": self.layer,
                "units": [unit.index for unit in self.units], "why": [unit.why for unit in self.units],
                "range": list(self.value_range)}


def token_texts(tokenizer: Tokenizer, ids: list[int]) -> list[str]:
    """Each token's share of the text; a character split over byte tokens belongs to the token that ends it."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return [decoder.decode(tokenizer.token_bytes(token_id)) for token_id in ids]


def inspect_text(model: RecurrentLM, tokenizer: Tokenizer, context: list[int], text: str, *, show: str,
                 layer: int | None, units: list[int] | None, count: int) -> Inspection:
    """Run `model` over `context` (read, not shown) then `text`; `layer` None is the top one, `units` None picks
    `count` of them (see `pick_units`)."""
    config = model.config
    require_option(config.cell == "lstm", "cell", "inspect shows an LSTM's gates and this is a {value} model",
                   "pick an LSTM model (trained with {example}, the default)", value=config.cell, example="lstm")
    layer = config.layers if layer is None else layer
    require_option(1 <= layer <= config.layers, "layer", "{name} {value} is not a layer of this {layers}-layer "
                   "model", "use 1 to {layers}", value=layer, layers=config.layers)
    for unit in units or []:
        require_option(0 <= unit < config.hidden_size, "units", "{name} {value} is not a unit of this model's "
                       "{width}-wide layers", "use 0 to {last}", value=unit, width=config.hidden_size,
                       last=config.hidden_size - 1)
    ids = tokenizer.encode(text)
    require(bool(ids), "there is no text to inspect", 'pass some, e.g. "When there is fire, there is smoke."')
    device = next(model.parameters()).device
    with torch.no_grad():
        embedded = model.embedding(torch.tensor(context + ids, device=device))  # (T, E)
    values = trace_lstm(model.rnn, embedded)[layer - 1][show][len(context):].astype(np.float64)  # (T, H)
    pieces = token_texts(tokenizer, ids)
    chosen = [Unit(u, "chosen with --unit") for u in units] if units else pick_units(values, pieces, count)
    shown = values[:, [unit.index for unit in chosen]]
    return Inspection(pieces, [[round(float(v), 6) for v in row] for row in shown], show, layer, chosen,
                      value_range(show, shown))
