"""Dynamic evaluation (Krause et al. 2018, "Dynamic Evaluation of Neural Sequence Models"): a model that goes on
learning from the text it reads, so that each token is predicted by weights that have seen the text before it.

The text is read in windows of `window` tokens, `batch` consecutive windows at a time:

    text:    | w1 | w2 | w3 | w4 | w5 | w6 | w7 | w8 | w9 | ...      batch 4
    scored:  [ w1   w2   w3   w4 ] step [ w5   w6   w7   w8 ] step ...

All windows of a batch are scored by the same weights, which have learned from every batch before it and
nothing after; then one gradient step is taken on the batch's loss. The first window of a batch starts from the
state the previous batch ended in; each other window first reads the 16 tokens before it from a blank state, a
warm-up that is not scored (without adapting, a 32-token warm-up scored tinyshakespeare's tail as well as the
state carried through the whole text; adapting, 16 tokens cost 0.01 bits/char against 32 and are 15% faster).
Scoring `batch` windows together is what keeps adaptation within a few times the speed of plain scoring on a
CPU: one stream at a time, a step after every window, learned a little more (10.2% fewer bits per char on
tinyshakespeare's tail against 8.8%) at a tenth of the speed.

The step is RMSprop's with bias correction (Adam with no momentum): each weight moves by `lr` over the root mean
square of its own recent gradients, then `decay` of the way back to the trained weights. Scores mix in a neural
cache of the positions read before (core/cache.py); the step learns from the model's own loss.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..core.cache import NeuralCache
from ..core.model import RecurrentLM, State, detach_state, map_state
from ..errors import CorpusError
from ..options.adaptation import AdaptOptions

_MEAN_SQUARE_DECAY = 0.99
WARM_UP_TOKENS = 16
_LAYER_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
_EPSILON = 1e-8


@dataclass(frozen=True)
class Reading:
    nats: np.ndarray  # the negative log-likelihood of each token after the first, as it was predicted
    state: State  # where the text left the model, to go on reading from


class Adapter:
    """A model that learns as it reads (its weights change in place): the trained weights kept to decay towards
    and to forget back to, and each weight's running mean square gradient."""

    def __init__(self, model: RecurrentLM, options: AdaptOptions) -> None:
        self.model = model.eval()  # no dropout: the model is read as it predicts
        model.rnn.train()  # cuDNN's LSTM backward wants its module in training mode; it has no dropout of its own
        self.options = options
        self.parameters = learned_parameters(model, options.all_layers)
        self.trained = [parameter.detach().clone() for parameter in self.parameters]
        self.mean_squares = [torch.zeros_like(parameter) for parameter in self.parameters]
        self.steps = 0
        self.cache = (NeuralCache(options.cache_size, options.cache_weight, options.cache_sharpness,
                                  model.config.hidden_size) if options.caches else None)

    def read_all(self, texts: list[list[int]], progress: Callable[[int, int], None] | None = None) -> None:
        """Read (and learn from) each of `texts` (token ids) in turn; `progress(tokens_read, tokens)` over all."""
        total, done = sum(len(ids) - 1 for ids in texts), 0
        if total < 1:
            raise CorpusError("there is no text to learn from", "pass files with some text in them")
        for ids in texts:
            self.read(ids, progress=progress and (lambda read, _, start=done: progress(start + read, total)))
            done += len(ids) - 1

    def read(self, ids: np.ndarray, state: State = None, *, learn: bool = True,
             progress: Callable[[int, int], None] | None = None, stop: threading.Event | None = None) -> Reading:
        """Score `ids[1:]` given what comes before each (the model reads `ids[0]` first), learning batch by batch
        unless `learn` is False; `progress(tokens_scored, tokens)` after each batch. Once `stop` is set, the
        reading ends before the next batch (what was scored so far is returned)."""
        tokens = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=self.parameters[0].device)
        nats = []
        for group in window_groups(len(tokens) - 1, self.options.window, self.options.batch):
            if stop is not None and stop.is_set():
                break
            with torch.set_grad_enabled(learn):
                losses, scores, state = self._score(tokens, group, state)
                if learn:
                    # each token weighs the same: a text's short last group taking a whole step (its noisier
                    # gradient over the root mean square of full ones) cost tinyshakespeare's tail 0.16 bits/char
                    self._step(losses.sum() / (self.options.window * self.options.batch))
            nats.append(scores.double().cpu().numpy())
            if progress is not None:
                progress(group[-1][0] + group[-1][1], len(tokens) - 1)
        return Reading(np.concatenate(nats) if nats else np.zeros(0), state)

    def _score(self, tokens: torch.Tensor, group: list[tuple[int, int]], state: State
               ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """The model's loss at each token of a group of equally long windows (in text order, to learn from),
        each token's score with the cache mixed in (to report), and the state after the last window."""
        length = group[0][1]
        inputs = torch.stack([tokens[start:start + length] for start, _ in group])
        targets = torch.stack([tokens[start + 1:start + length + 1] for start, _ in group]).flatten()
        nll, after, (outputs, _) = self.model(inputs, self._starting_states(tokens, group, state),
                                              with_outputs=True, targets=targets.view(len(group), length))
        losses = nll.flatten()  # in text order
        scores = losses.detach()
        if self.cache is not None:
            outputs = outputs.flatten(0, 1)
            scores = -self.cache.mix_scores(-scores, outputs, targets)
            self.cache.add(outputs, targets)
        return losses, scores, map_state(after, lambda part: part[:, -1:].detach().contiguous())

    def _starting_states(self, tokens: torch.Tensor, group: list[tuple[int, int]], state: State) -> State:
        """The carried state for the first window; for the others, the state after warming up on the
        `WARM_UP_TOKENS` before each from a blank state (without gradients: text already learned from)."""
        if len(group) == 1:
            return state
        length = min(self.options.window, WARM_UP_TOKENS)
        with torch.no_grad():
            warm_up = torch.stack([tokens[start - length:start] for start, _ in group[1:]])
            _, warmed = self.model(warm_up)
        first = state if state is not None else map_state(warmed, lambda part: torch.zeros_like(part[:, :1]))
        if isinstance(warmed, tuple):
            return tuple(torch.cat(parts, dim=1) for parts in zip(detach_state(first), warmed))
        return torch.cat((detach_state(first), warmed), dim=1)

    def _step(self, loss: torch.Tensor) -> None:
        """RMSprop with bias correction, written out: torch.optim's first step imports its compiler (seconds)."""
        # An adaptive softmax's cluster that no target fell in has no gradient: a zero one.
        gradients = [torch.zeros_like(parameter) if gradient is None else gradient for parameter, gradient in
                     zip(self.parameters, torch.autograd.grad(loss, self.parameters, allow_unused=True))]
        self.steps += 1
        correction = 1 - _MEAN_SQUARE_DECAY ** self.steps
        lr, decay = self.options.lr, self.options.decay
        with torch.no_grad():
            for parameter, gradient, mean_square, trained in zip(self.parameters, gradients, self.mean_squares,
                                                                 self.trained):
                mean_square.mul_(_MEAN_SQUARE_DECAY).addcmul_(gradient, gradient, value=1 - _MEAN_SQUARE_DECAY)
                parameter.addcdiv_(gradient, (mean_square / correction).sqrt_().add_(_EPSILON), value=-lr)
                if decay:
                    parameter.lerp_(trained, decay)

    def forget(self) -> None:
        """Back to the trained weights, with no gradient statistics."""
        with torch.no_grad():
            for parameter, trained in zip(self.parameters, self.trained):
                parameter.copy_(trained)
            for mean_square in self.mean_squares:
                mean_square.zero_()
        self.steps = 0
        if self.cache is not None:
            self.cache.clear()


def learned_parameters(model: RecurrentLM, all_layers: bool) -> list[torch.nn.Parameter]:
    """What adaptation changes: every weight, or (unless `all_layers`, in a model of two layers or more) all but
    the embedding (with a decoder tied to it) and the first recurrent layer, which are frozen here, so that the
    backward pass stops above them (a quarter faster, and as good on the measured tails)."""
    if all_layers or model.config.layers < 2:
        return list(model.parameters())
    kept = {id(model.embedding.weight)} | {id(getattr(model.rnn, f"{name}_l0")) for name in _LAYER_WEIGHTS
                                           if hasattr(model.rnn, f"{name}_l0")}
    for parameter in model.parameters():
        if id(parameter) in kept:
            parameter.requires_grad_(False)
    return [parameter for parameter in model.parameters() if parameter.requires_grad]


def window_groups(count: int, window: int, batch: int) -> Iterator[list[tuple[int, int]]]:
    """(start, length) of the windows scored together, covering positions 0..count-1: `batch` consecutive
    windows of `window` tokens; at the end, the whole windows left together and the short last one alone."""
    stride = window * batch
    for start in range(0, count, stride):
        group = [(at, min(window, count - at)) for at in range(start, min(start + stride, count), window)]
        whole = [item for item in group if item[1] == window]
        if whole:
            yield whole
        if len(whole) < len(group):
            yield group[len(whole):]
