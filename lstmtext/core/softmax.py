"""The output layer of a model with a big vocabulary: an adaptive softmax (Grave et al. 2017, "Efficient softmax
approximation for GPUs"), torch's `nn.AdaptiveLogSoftmaxWithLoss`, over the tokens ranked by how often the
training text uses them.

The most frequent tokens (the head's shortlist) get a full-width output row each; rarer ones sit in clusters
reached through the head, each scored from a narrower projection of the hidden state. Training pays only for the
clusters its targets fall in, so a 10k-word vocabulary costs little more than the LSTM. The distribution is still
exact: every token's log-probability is the head's log-probability of its cluster plus its own within the cluster,
and they sum to one (`AdaptiveDecoder.forward`), which is what decoding, scoring and export use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_DIV_VALUE = 4.0  # each cluster's projection is 4× narrower than the one before (torch's default)


class AdaptiveDecoder(nn.Module):
    """Hidden states to next-token log-probabilities through an adaptive softmax. Token ids are mapped to their
    frequency rank (`rank`, saved with the weights) so that the shortlist holds the most frequent ones."""

    def __init__(self, hidden_size: int, vocab_size: int, cutoffs: tuple[int, ...]) -> None:
        super().__init__()
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, list(cutoffs), div_value=_DIV_VALUE,
                                                     head_bias=True)
        self.register_buffer("rank", torch.arange(vocab_size))  # token id -> its class in the softmax

    def rank_by_frequency(self, counts: torch.Tensor) -> None:
        """Put the most frequent tokens (`counts`, per token id) first; ties keep the id order."""
        order = torch.sort(-counts.double(), stable=True).indices  # class -> token id
        self.rank.copy_(torch.argsort(order))

    def target_log_probs(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The log-probability of each target (N,) after each hidden state (N, H), computing only the clusters
        the targets are in."""
        # in fp32: under bf16/fp16 autocast torch's module mixes dtypes in its index_copy_ and fails
        with torch.autocast(hidden.device.type, enabled=False):
            return self.softmax(hidden.float(), self.rank[targets]).output

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of every token (..., V), in token-id order, after hidden states (..., H)."""
        head = F.log_softmax(self.softmax.head(hidden), dim=-1)
        shortlist = self.softmax.shortlist_size
        parts = [head[..., :shortlist]] + [F.log_softmax(tail(hidden), dim=-1) + head[..., shortlist + cluster, None]
                                           for cluster, tail in enumerate(self.softmax.tail)]
        return torch.cat(parts, dim=-1).index_select(-1, self.rank)
