"""Running a trained model forward for text generation: a prompt all at once, then one token at a time for a
batch of streams (beams or samples).

Stepping `nn.LSTM` one token at a time spends most of its time in per-call overhead (about 1.3 ms per token
for a 2×256 model on 2 CPU cores). For LSTMs the single step is written here over the same weights instead:
input and hidden weights joined into one matrix, so each layer is one `addmm` followed by in-place gate
activations. GRU and plain RNN models step through their `nn` module. Either way the recurrent state has
`nn.LSTM`'s layout, so a prompt run by the module can be continued by the fused step.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch
import torch.nn.functional as F

from .model import RecurrentLM, State

_CACHED_PROMPTS = 16


class FusedLSTMStep:
    """One LSTM time step for all layers, from a model's `nn.LSTM` weights (gate rows reordered to
    input, forget, output, candidate so that the three sigmoid gates are one contiguous slice)."""

    def __init__(self, model: RecurrentLM) -> None:
        rnn, hidden = model.rnn, model.config.hidden_size
        order = torch.cat([torch.arange(0, 2 * hidden), torch.arange(3 * hidden, 4 * hidden),
                           torch.arange(2 * hidden, 3 * hidden)])  # i f g o -> i f o g
        self.hidden = hidden
        self.layers = []
        with torch.no_grad():
            for layer in range(rnn.num_layers):
                w_ih, w_hh = getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}")
                bias = getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
                joined = torch.cat([w_ih, w_hh], dim=1)[order]  # (4H, in + H)
                self.layers.append((joined.t().contiguous(), bias[order].contiguous()))
            self.embedding = model.embedding.weight.detach()
            self.decoder_weight = model.decoder.weight.detach().t().contiguous()  # (H, V)
            self.decoder_bias = model.decoder.bias.detach()

    def __call__(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                 ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        hidden = self.hidden
        x = F.embedding(tokens, self.embedding)  # (B, E)
        h_all, c_all = state  # (L, B, H) each
        new_h, new_c = [], []
        for layer, (weight, bias) in enumerate(self.layers):
            gates = torch.addmm(bias, torch.cat((x, h_all[layer]), dim=1), weight)  # (B, 4H)
            gates[:, : 3 * hidden].sigmoid_()
            gates[:, 3 * hidden:].tanh_()
            input_gate, forget_gate, output_gate, candidate = gates.split(hidden, dim=1)
            cell = torch.addcmul(forget_gate * c_all[layer], input_gate, candidate)  # c' = f*c + i*g
            x = output_gate * torch.tanh(cell)  # h' = o * tanh(c')
            new_h.append(x)
            new_c.append(cell)
        logits = torch.addmm(self.decoder_bias, x, self.decoder_weight)
        return logits, (torch.stack(new_h), torch.stack(new_c))


class Stepper:
    """Runs a model over a prompt, then one token at a time for a batch of streams. The recurrent state is
    always passed in and returned, never kept, so beams can be reordered with `select_state`.

    Prompt states are cached (keyed by token ids, the longest cached start reused), so typing one more word
    only runs the model over the new tokens. Safe to share between threads.
    """

    def __init__(self, model: RecurrentLM) -> None:
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self._fused = FusedLSTMStep(model) if model.config.cell == "lstm" else None
        self._prompts: OrderedDict[tuple[int, ...], tuple[State, torch.Tensor]] = OrderedDict()
        self._lock = threading.Lock()

    @torch.inference_mode()
    def prime(self, ids: list[int]) -> tuple[State, torch.Tensor]:
        """The state after reading `ids` (at least one) and the next-token logits (V,)."""
        key = tuple(ids)
        start, (state, logits) = self._longest_cached_start(key)
        if start < len(key):
            tokens = torch.tensor([key[start:]], dtype=torch.long, device=self.device)
            output, state = self.model(tokens, state)
            logits = output[0, -1].float()
            with self._lock:
                self._prompts[key] = (state, logits)
                while len(self._prompts) > _CACHED_PROMPTS:
                    self._prompts.popitem(last=False)
        return state, logits

    def _longest_cached_start(self, key: tuple[int, ...]) -> tuple[int, tuple[State, torch.Tensor | None]]:
        with self._lock:
            best = max((k for k in self._prompts if len(k) <= len(key) and key[: len(k)] == k),
                       key=len, default=None)
            if best is None:
                return 0, (None, None)
            self._prompts.move_to_end(best)
            return len(best), self._prompts[best]

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed one token per stream: `tokens` (B,) with a state for B streams; returns logits (B, V)."""
        tokens = tokens.to(self.device)
        if self._fused is not None:
            logits, state = self._fused(tokens, state)
            return logits.float(), state
        output, state = self.model(tokens[:, None], state)
        return output[:, -1].float(), state


def expand_state(state: State, copies: int) -> State:
    """A single-stream state repeated for `copies` streams."""
    return select_state(state, torch.zeros(copies, dtype=torch.long))


def select_state(state: State, index: torch.Tensor) -> State:
    """The states of the streams at `index` (in that order)."""
    if isinstance(state, tuple):
        return tuple(part.index_select(1, index.to(part.device)) for part in state)
    return state.index_select(1, index.to(state.device))
