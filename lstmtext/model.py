"""The language model: embedding → multi-layer LSTM (or GRU / plain RNN) → dropout → linear decoder.

An LSTM cell keeps a cell state c and, at each step, computes a forget gate f, an input gate i, a
candidate g and an output gate o from the input and the previous hidden state:
    c' = f * c + i * g,    h' = o * tanh(c')
Because c' is reached from c by a multiplication and an addition (no squashing), gradients flow back
through many steps where a plain RNN's vanish; where they explode instead, training clips them.
Knows nothing about files or the CLI.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .config import ModelConfig

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RecurrentLM(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size)
        self.rnn = _CELLS[config.cell](
            config.embed_size, config.hidden_size, config.layers, batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self._init_weights()
        if config.ties_weights:
            self.decoder.weight = self.embedding.weight

    def _init_weights(self) -> None:
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if self.config.cell == "lstm":
            # A forget-gate bias of 1 makes the cell remember by default early in training.
            hidden = self.config.hidden_size
            for name, param in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    with torch.no_grad():
                        param[hidden: 2 * hidden].fill_(1.0)

    def forward(self, tokens: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        embedded = self.dropout(self.embedding(tokens))  # (B, T, E)
        output, state = self.rnn(embedded, state)  # (B, T, H)
        logits = self.decoder(self.dropout(output))  # (B, T, V)
        return logits, state

    def weights_for_saving(self) -> dict[str, torch.Tensor]:
        """The state dict without the tied decoder weight (safetensors refuses shared memory)."""
        weights = self.state_dict()
        if self.config.ties_weights:
            weights.pop("decoder.weight")
        return {name: tensor.detach().cpu().contiguous() for name, tensor in weights.items()}

    def load_saved_weights(self, weights: dict[str, torch.Tensor]) -> None:
        if self.config.ties_weights:
            weights = {**weights, "decoder.weight": weights["embedding.weight"]}
        self.load_state_dict(weights, strict=True)
        self.rnn.flatten_parameters()

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def map_state(state: State, function: Callable[[torch.Tensor], torch.Tensor]) -> State:
    """`function` applied to each tensor of a recurrent state ((h, c) for an LSTM, h otherwise); None stays None."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(function(part) for part in state)
    return function(state)


def detach_state(state: State) -> State:
    """Keep the hidden state's values but cut the graph, so backprop stops at the batch boundary."""
    return map_state(state, torch.Tensor.detach)
