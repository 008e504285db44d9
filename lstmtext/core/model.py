"""The language model: embedding → multi-layer LSTM (or GRU / plain RNN) → linear decoder (an adaptive softmax
for a big vocabulary, core/softmax.py), with the AWD-LSTM regularizers for training (Merity et al., 2017,
"Regularizing and Optimizing LSTM Language Models").

An LSTM cell keeps a cell state c and, at each step, computes a forget gate f, an input gate i, a
candidate g and an output gate o from the input and the previous hidden state:
    c' = f * c + i * g,    h' = o * tanh(c')
Because c' is reached from c by a multiplication and an addition (no squashing), gradients flow back
through many steps where a plain RNN's vanish; where they explode instead, training clips them.

Regularizers, all off at evaluation:
- weight drop (DropConnect): one dropout mask on each hidden-to-hidden matrix per window, so the same
  connections are missing at every time step; the fused `nn.LSTM` kernel still runs, on the dropped matrix;
- locked (variational) dropout: one mask per stream and window, shared across time, on the embeddings, between
  layers and on the last layer's output;
- embedding dropout: whole tokens' embedding rows dropped, so a token is sometimes unknown everywhere at once;
- activation (AR) and temporal activation (TAR) regularization: penalties on the size and on the step-to-step
  change of the last layer's output, added to the loss by the trainer (`forward(..., with_outputs=True)`).
Knows nothing about files or the CLI.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .config import ModelConfig
from .linear_loss import linear_nll
from .softmax import AdaptiveDecoder

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
_LAYER_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class RecurrentLM(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size)
        # One multi-layer module holds the weights (and runs evaluation and inference); training runs it a layer
        # at a time through weightless one-layer shells, to put locked dropout and dropped weights in between.
        self.rnn = _CELLS[config.cell](config.embed_size, config.hidden_size, config.layers, batch_first=True)
        with torch.device("meta"):
            self._shells = [_CELLS[config.cell](config.embed_size if layer == 0 else config.hidden_size,
                                                config.hidden_size, 1, batch_first=True)
                            for layer in range(config.layers)]
        self.decoder: nn.Module = (AdaptiveDecoder(config.hidden_size, config.vocab_size, config.softmax_cutoffs)
                                   if config.softmax_cutoffs else nn.Linear(config.hidden_size, config.vocab_size))
        self._init_weights()
        if config.ties_weights:
            self.decoder.weight = self.embedding.weight

    def _init_weights(self) -> None:
        # Unit-variance embeddings (nn.Embedding's own default) give the first layer an input it can hear at
        # once: the old ±0.1 uniform start, with a forget-gate bias of 1, cost a 2-minute char model 0.4 nats.
        nn.init.normal_(self.embedding.weight)
        if isinstance(self.decoder, nn.Linear):
            nn.init.zeros_(self.decoder.bias)

    def forward(self, tokens: torch.Tensor, state: State = None, with_outputs: bool = False,
                targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, State] | tuple[torch.Tensor, State, tuple[torch.Tensor, torch.Tensor]]:
        """Logits (B, T, V) (log-probabilities from an adaptive softmax) and the new state; with `targets` (B, T),
        each target's negative log-likelihood (B, T) instead, which an adaptive softmax computes without the whole
        distribution. `with_outputs` adds the last layer's output before and after its dropout (what AR and TAR
        penalize)."""
        if self.training and self.config.regularized:
            output, state, outputs = self._regularized_forward(tokens, state)
        else:
            output, state = self.rnn(self.embedding(tokens), state)  # (B, T, H)
            outputs = (output, output)
        result = self.decoder(output) if targets is None else self.target_nll(output, targets)
        return (result, state, outputs) if with_outputs else (result, state)

    def read(self, tokens: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """The logits (B, V) after the last of `tokens` (B, T), and the new state: reading a prompt needs no
        others (in evaluation mode)."""
        output, state = self.rnn(self.embedding(tokens), state)
        return self.decoder(output[:, -1:])[:, 0], state

    def target_nll(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Each target's negative log-likelihood (B, T), in fp32, after the last layer's output (B, T, H)."""
        if isinstance(self.decoder, AdaptiveDecoder):
            return -self.decoder.target_log_probs(output.flatten(0, 1), targets.flatten()).float().view_as(targets)
        return linear_nll(output.flatten(0, 1), self.decoder.weight, self.decoder.bias,
                          targets.flatten()).view_as(targets)

    def _regularized_forward(self, tokens: torch.Tensor, state: State
                             ) -> tuple[torch.Tensor, State, tuple[torch.Tensor, torch.Tensor]]:
        """The last layer's dropped-out output (what the decoder reads), the state, and that output before and
        after its dropout."""
        taken = self.config.regularization
        weight = self.embedding.weight
        if taken.embed_dropout:
            weight = weight * keep_mask(weight[:, :1], taken.embed_dropout)
        inputs = locked_dropout(F.embedding(tokens, weight), taken.input_dropout)  # (B, T, E)
        layer_states = []
        for layer, shell in enumerate(self._shells):
            weights = {f"{name}_l0": getattr(self.rnn, f"{name}_l{layer}") for name in _LAYER_WEIGHTS}
            if taken.weight_drop:
                recurrent = weights["weight_hh_l0"]
                weights["weight_hh_l0"] = recurrent * keep_mask(recurrent, taken.weight_drop)
            output, layer_state = functional_call(shell, weights, (inputs, _layer_state(state, layer)))
            layer_states.append(layer_state)
            inputs = locked_dropout(output, taken.dropout)  # between layers, and before the decoder
        return inputs, _stack_layer_states(layer_states), (output, inputs)

    def weights_for_saving(self) -> dict[str, torch.Tensor]:
        """The state dict without the tied decoder weight (safetensors refuses shared memory)."""
        weights = self.state_dict()
        if self.config.ties_weights:
            weights.pop("decoder.weight")
        return {name: tensor.detach().cpu().contiguous() for name, tensor in weights.items()}

    def load_saved_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Load weights saved by `weights_for_saving`; ValueError (one line) where names or shapes differ."""
        if self.config.ties_weights and "embedding.weight" in weights:
            weights = {**weights, "decoder.weight": weights["embedding.weight"]}
        expected = self.state_dict()
        missing, unexpected = sorted(expected.keys() - weights.keys()), sorted(weights.keys() - expected.keys())
        if missing or unexpected:
            raise ValueError(f"weights missing: {', '.join(missing) or 'none'}; unexpected: "
                             f"{', '.join(unexpected) or 'none'}")
        for name, tensor in weights.items():
            if tensor.shape != expected[name].shape:
                raise ValueError(f"{name} is {_shape(tensor)} where the model's settings need {_shape(expected[name])}")
        self.load_state_dict(weights, strict=True)
        self.rnn.flatten_parameters()

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def sizes_problem(config: ModelConfig, weights: dict[str, torch.Tensor]) -> str | None:
    """Whether `config`'s sizes are those of the saved `weights` (checked before a network is built, so that no
    setting can make one larger than the file holds); None if they are, else what differs."""
    embedding, recurrent = weights.get("embedding.weight"), weights.get("rnn.weight_hh_l0")
    if embedding is None or recurrent is None or embedding.dim() != 2 or recurrent.dim() != 2:
        return "weights missing: embedding.weight or rnn.weight_hh_l0"
    layers = sum(1 for name in weights if name.startswith("rnn.weight_hh_l"))
    found = {"vocab_size": embedding.shape[0], "embed_size": embedding.shape[1], "hidden_size": recurrent.shape[1],
             "layers": layers}
    return next((f"{name} is {getattr(config, name)} where the weights have {size}" for name, size in found.items()
                 if getattr(config, name) != size), None)


def _shape(tensor: torch.Tensor) -> str:
    return "×".join(map(str, tensor.shape)) or "a scalar"


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


def locked_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Dropout on (B, T, D) with one mask per stream, the same at every time step."""
    if not p:
        return x
    return x * keep_mask(x[:, :1], p)


def keep_mask(like: torch.Tensor, p: float) -> torch.Tensor:
    """Dropout's mask, shaped as `like`: 0 with probability p, else 1 / (1 - p). Drawn as uniforms compared with p,
    which on the CPU is twice as fast as `bernoulli_` (a 2,048 × 512 mask: 6.5 against 13.4 ms)."""
    return (torch.rand(like.shape, device=like.device) >= p).to(like.dtype) / (1 - p)


def _layer_state(state: State, layer: int) -> State:
    return map_state(state, lambda part: part[layer: layer + 1])


def _stack_layer_states(states: list) -> State:
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*states))
    return torch.cat(states)


def open_gates(model: RecurrentLM, longest: int, generator: torch.Generator) -> None:
    """Chrono initialization (Tallec & Ollivier 2018): gate biases log(u), u uniform in [1, longest], so that unit j
    starts out keeping about u_j steps of memory: an LSTM's forget gate open (and its input gate as much closed), a
    GRU's update gate leaning to the old state. A plain RNN is left as it is. Every layer alike."""
    cell, hidden = model.config.cell, model.config.hidden_size
    if cell == "rnn":
        return
    keep = torch.log(torch.empty(hidden).uniform_(1, max(longest, 2), generator=generator))
    with torch.no_grad():
        for name, bias in model.rnn.named_parameters():
            if not name.startswith("bias_"):
                continue
            if cell == "lstm":  # gates i, f, g, o
                bias[:2 * hidden] = torch.cat([-keep, keep]) if name.startswith("bias_ih") else 0.0
            else:  # gru: gates r, z, n
                bias[hidden:2 * hidden] = keep if name.startswith("bias_ih") else 0.0
