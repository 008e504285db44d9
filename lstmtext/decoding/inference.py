"""Running a trained model forward for text generation: a prompt all at once (its states kept for the next
prompt that starts the same way), then one token at a time for a batch of streams (beams or samples). LSTMs step
through fused_step.py; GRU and plain RNN models through their `nn` module. Either way the recurrent state has
`nn.LSTM`'s layout, so a prompt run by the module can be continued by the fused step.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch

from ..core.cache import NeuralCache
from ..core.model import RecurrentLM, State, map_state
from .fused_step import FusedLSTMStep, SingleStream

_CACHED_PROMPTS = 16
# A long prompt is read in pieces of this many tokens, and the state at each piece's end kept (the last
# _CHECKPOINTS of them): an edit in the middle of a long document is read from the checkpoint before it.
_CHECKPOINT_TOKENS = 256
_CHECKPOINTS = 128


class ModuleStream:
    """The same interface over any stepper's batched `step` (used for GRU and plain RNN models)."""

    def __init__(self, stepper, state: State) -> None:
        self.stepper, self.state = stepper, state

    def step(self, token_id: int) -> torch.Tensor:
        logits, self.state = self.stepper.step(torch.tensor([token_id]), self.state)
        return logits[0]


class Stepper:
    """Runs a model over a prompt, then one token at a time for a batch of streams. The recurrent state is
    always passed in and returned, never kept, so beams can be reordered with `select_state`.

    Prompt states are cached (keyed by token ids, the longest cached start reused), so typing one more word
    only runs the model over the new tokens; a long prompt also leaves a checkpoint every `_CHECKPOINT_TOKENS`
    tokens, so an edit far back is read from the checkpoint before it. Safe to share between threads.

    With `int8` (the default), an LSTM on the CPU steps on int8 weights (FusedLSTMStep): for the built-in model
    on English, each token's log-probability moves by 0.026 on average (0.12 at most in 400 tokens of
    pride-and-prejudice); tests/test_inference.py bounds it on a small model. Reading a prompt stays exact.
    """

    def __init__(self, model: RecurrentLM, int8: bool = True) -> None:
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self._fused = FusedLSTMStep(model) if model.config.cell == "lstm" else None
        self.int8 = int8 and self.device.type == "cpu"
        self._prompts: OrderedDict[tuple[int, ...], tuple[State, torch.Tensor]] = OrderedDict()
        self._checkpoints: OrderedDict[tuple[int, ...], tuple[State, torch.Tensor]] = OrderedDict()
        self._lock = threading.Lock()

    @torch.inference_mode()
    def prime(self, ids: list[int]) -> tuple[State, torch.Tensor]:
        """The state after reading `ids` (at least one) and the next-token logits (V,)."""
        key = tuple(ids)
        start, (state, logits) = self._longest_cached_start(key)
        while start < len(key):
            stop = min(len(key), (start // _CHECKPOINT_TOKENS + 1) * _CHECKPOINT_TOKENS)
            logits, state = self.model.read(torch.tensor([key[start:stop]], device=self.device), state)
            logits = logits[0].float().cpu()  # decoding (masks, search, sampling) runs on the CPU
            start = stop
            if stop == len(key):
                self._keep(self._prompts, _CACHED_PROMPTS, key, (state, logits))
            else:
                self._keep(self._checkpoints, _CHECKPOINTS, key[:stop], (state, logits))
        return state, logits

    def _keep(self, kept: OrderedDict, most: int, key: tuple[int, ...], value: tuple[State, torch.Tensor]) -> None:
        with self._lock:
            kept[key] = value
            kept.move_to_end(key)
            while len(kept) > most:
                kept.popitem(last=False)

    def _longest_cached_start(self, key: tuple[int, ...]) -> tuple[int, tuple[State, torch.Tensor | None]]:
        with self._lock:
            best = max((k for k in self._prompts if len(k) <= len(key) and key[: len(k)] == k),
                       key=len, default=())
            kept = self._prompts
            for end in range(len(key) // _CHECKPOINT_TOKENS * _CHECKPOINT_TOKENS, len(best), -_CHECKPOINT_TOKENS):
                if end and key[:end] in self._checkpoints:
                    best, kept = key[:end], self._checkpoints
                    break
            if not best:
                return 0, (None, None)
            kept.move_to_end(best)
            return len(best), kept[best]

    def single_stream(self, state: State) -> SingleStream | ModuleStream:
        """One stream continuing from `state` (batch 1): the fast path for LSTMs on CPU, else the module."""
        if self._fused is not None and self.device.type == "cpu":
            return SingleStream(self._fused, state, self.int8)
        return ModuleStream(self, state)

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed one token per stream: `tokens` (B,) with a state for B streams; returns logits (B, V), on the
        CPU."""
        tokens = tokens.to(self.device)
        if self._fused is not None:
            logits, state = self._fused(tokens, state, self.int8)
            return logits.float().cpu(), state
        output, state = self.model(tokens[:, None], state)
        return output[:, -1].float().cpu(), state


def expand_state(state: State, copies: int) -> State:
    """A single-stream state repeated for `copies` streams."""
    return select_state(state, torch.zeros(copies, dtype=torch.long))


def select_state(state: State, index: torch.Tensor) -> State:
    """The states of the streams at `index` (in that order)."""
    return map_state(state, lambda part: part.index_select(1, index.to(part.device)))


class CachedStepper(Stepper):
    """A Stepper whose next-token distributions mix in a neural cache (core/cache.py) of text read before; the
    logits it returns are the mixed log-probabilities, so search and sampling use them as they are."""

    def __init__(self, model: RecurrentLM, cache: NeuralCache) -> None:
        super().__init__(model)
        self.cache = cache

    def prime(self, ids: list[int]) -> tuple[State, torch.Tensor]:
        state, logits = super().prime(ids)
        return state, self._mixed(logits[None], state)[0]

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        logits, state = super().step(tokens, state)
        return self._mixed(logits, state), state

    def single_stream(self, state: State) -> ModuleStream:
        return ModuleStream(self, state)

    @torch.inference_mode()
    def _mixed(self, logits: torch.Tensor, state: State) -> torch.Tensor:
        top = (state[0] if isinstance(state, tuple) else state)[-1]  # (B, H): the last layer's output
        return self.cache.mix(torch.log_softmax(logits, dim=-1), top)
