"""A neural cache (Grave et al. 2017, "Improving Neural Language Models with a Continuous Cache"): the model's
top-layer outputs over the text read recently, each kept with the token that came next. At a new position each
stored output that is like the present one (cosine similarity s near 1) votes for the token that followed it
with exp(sharpness · (s - 1)), at most 1, and the votes join the model's probabilities, normalized together:

    p(w) = (p_model(w) + weight · votes(w)) / (1 + weight · all votes)

(the cache normalized with the model, which measured better than mixing two distributions: 2.200 → 2.035 bits
per char on tinyshakespeare's held-out tail against 2.059 at best, char-level, 2,000 positions). A name the
text used before comes back when its first letters do; a context unlike any stored leaves the model alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_BLOCK = 1024  # queries scored at once: a (1024, size + 1024) similarity matrix


class NeuralCache:
    """The last `size` (unit-length output, next token) pairs; `mix` and `mix_scores` use them."""

    def __init__(self, size: int, weight: float, sharpness: float, hidden_size: int) -> None:
        self.size, self.weight, self.sharpness = size, weight, sharpness
        self.keys = torch.zeros(0, hidden_size)
        self.values = torch.zeros(0, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.values)

    def add(self, outputs: torch.Tensor, next_tokens: torch.Tensor) -> None:
        """Remember outputs (T, H) in text order and the token (T,) that followed each; the oldest go first."""
        keys = torch.cat((self.keys, F.normalize(outputs.detach().float().cpu(), dim=-1)))
        values = torch.cat((self.values, next_tokens.detach().cpu().long()))
        self.keys, self.values = keys[-self.size:], values[-self.size:]

    def copy(self) -> NeuralCache:
        twin = NeuralCache(self.size, self.weight, self.sharpness, self.keys.shape[1])
        twin.keys, twin.values = self.keys, self.values  # replaced, never changed in place
        return twin

    def clear(self) -> None:
        self.keys, self.values = self.keys[:0], self.values[:0]

    def _votes(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Each stored output's vote (B, N) for the token that followed it, from unit-length queries."""
        return torch.exp(self.sharpness * (queries @ keys.T - 1.0))

    def mix(self, log_probs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
        """The model's next-token log-probabilities (B, V), after outputs (B, H), with the cache's votes."""
        if not len(self):
            return log_probs
        device = log_probs.device  # mixed where the probabilities are
        votes = self._votes(F.normalize(outputs.float().to(device), dim=-1), self.keys.to(device))
        values = self.values.to(device).expand(len(votes), -1)
        cached = torch.zeros_like(log_probs).scatter_add_(1, values, votes) * self.weight  # (B, V)
        return torch.logaddexp(log_probs, cached.log()) - torch.log1p(cached.sum(1, keepdim=True))

    def mix_scores(self, log_probs: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (T,) of `targets` (T,) at consecutive positions of a text, after outputs (T, H),
        each with the votes of what came before it only: the stored pairs and the earlier positions here."""
        queries = F.normalize(outputs.detach().float(), dim=-1)
        keys = torch.cat((self.keys.to(queries.device), queries))  # (N + T, H)
        values = torch.cat((self.values.to(targets.device), targets))
        mixed = [self._mix_block(log_probs[start:start + _BLOCK], queries[start:start + _BLOCK],
                                 targets[start:start + _BLOCK], keys, values, len(self) + start)
                 for start in range(0, len(targets), _BLOCK)]
        return torch.cat(mixed)

    def _mix_block(self, log_probs: torch.Tensor, queries: torch.Tensor, targets: torch.Tensor, keys: torch.Tensor,
                   values: torch.Tensor, first: int) -> torch.Tensor:
        """`mix_scores` for the queries at positions first, first + 1, ... of `keys`: each hears the votes of the
        keys before it, at most `size` of them."""
        lowest = max(0, first - self.size)
        positions = first + torch.arange(len(targets), device=queries.device)[:, None]
        key_positions = torch.arange(lowest, first + len(targets), device=queries.device)[None, :]
        earlier = (key_positions < positions) & (key_positions >= positions - self.size)
        votes = self._votes(queries, keys[lowest:first + len(targets)]) * earlier * self.weight
        for_target = (votes * (values[lowest:first + len(targets)][None, :] == targets[:, None])).sum(1)
        return torch.logaddexp(log_probs, for_target.log()) - torch.log1p(votes.sum(1))
